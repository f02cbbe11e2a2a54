"""The rewrite's rules one by one (motia_import/rules/): exact text before and after."""

from textwrap import dedent

import libcst as cst
import pytest

from motia_import.rules.quotes import QuoteError, fix_quotes


def quoted(source: str) -> str:
    return fix_quotes(cst.parse_module(dedent(source))).code


# Quotes -------------------------------------------------------------------------------------------


def test_a_literal_inside_an_f_string_takes_the_other_quote() -> None:
    before = (
        """logger.info(f"order {input.get("id")} of {(input.get("path_params") or {})['x']}")\n"""
    )
    after = (
        """logger.info(f"order {input.get('id')} of {(input.get('path_params') or {})['x']}")\n"""
    )
    assert quoted(before) == after


def test_literals_outside_f_strings_and_fitting_ones_are_left_as_written() -> None:
    source = """x = {"a": f'{d["b"]}', "c": f\"\"\"{d["e"]}\"\"\"}\nprint("f")\n"""
    assert quoted(source) == source


def test_a_nested_f_string_takes_a_quote_neither_encloser_uses() -> None:
    before = 'x = f"{f"{d["a"]}"}"\n'
    assert quoted(before) == "x = f\"{f'''{d['a']}'''}\"\n"


def test_a_literal_with_no_quote_left_is_refused() -> None:
    with pytest.raises(QuoteError):
        quoted("""x = f"{f'{d["a"]}'}"\n""")


def test_a_literal_holding_the_other_quote_is_refused() -> None:
    with pytest.raises(QuoteError):
        quoted("""x = f'{d["it's"]}'\n""")
