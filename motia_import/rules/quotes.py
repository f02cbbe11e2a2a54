"""Every string literal inside an f-string's braces uses a quote its enclosing f-strings do not.

The rewrite writes keys as `"id"`; inside `f"{input.id}"` that gives `f"{input.get("id")}"`,
which only Python 3.12 reads (PEP 701). Converted code targets 3.10 and later, so a literal takes
the first quote no enclosing f-string opened with, and one that cannot (both quotes taken, or a
backslash the older grammar forbids there) is refused with `QuoteError`.
"""

from typing import cast

import libcst as cst

from motia_import.rules import Rule, apply_rules

QUOTES = ('"', "'", '"""', "'''")
# A nested f-string that must change quote takes a triple one first: it leaves its own literals
# the single quotes.
NESTED_QUOTES = ("'''", '"""', "'", '"')


class QuoteError(ValueError):
    """No quote is valid for a literal in this place under Python 3.10's grammar."""


def fits(text: str, enclosing: list[str]) -> bool:
    """Before 3.12 an f-string ends at its closing quote wherever it appears (a single quote
    character, or the triple quote), and its braces hold no backslash."""
    return not enclosing or ("\\" not in text and all(outer not in text for outer in enclosing))


def requoted(node: cst.SimpleString, enclosing: list[str]) -> cst.SimpleString:
    if fits(node.value, enclosing):
        return node
    for quote in QUOTES:
        value = f"{node.prefix}{quote}{node.raw_value}{quote}"
        if quote[0] not in node.raw_value and fits(value, enclosing):
            return node.with_changes(value=value)
    raise QuoteError(
        f"the literal {node.value} cannot be written inside f-strings quoted "
        f"{' and '.join(enclosing)} for Python 3.10"
    )


class FStringQuotes(cst.CSTTransformer):
    """Re-quote literals (and nested f-strings) that clash with an enclosing f-string. A nested
    f-string's quote is chosen on the way down, so what it encloses is checked against it."""

    def __init__(self) -> None:
        super().__init__()
        self.enclosing: list[str] = []  # quotes of the f-strings around the current node

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        self.enclosing.append(self._quote_for(node))

    def _quote_for(self, node: cst.FormattedString) -> str:
        text = "".join(
            part.value for part in node.parts if isinstance(part, cst.FormattedStringText)
        )
        if fits(node.quote + text, self.enclosing):
            return node.quote
        for quote in NESTED_QUOTES:
            if quote not in text and fits(quote + text, self.enclosing):
                return quote
        raise QuoteError("a nested f-string has no quote left that Python 3.10 accepts there")

    def leave_FormattedString(
        self, original_node: cst.FormattedString, updated_node: cst.FormattedString
    ) -> cst.FormattedString:
        quote = self.enclosing.pop()
        if quote == updated_node.quote:
            return updated_node
        return updated_node.with_changes(start=updated_node.prefix + quote, end=quote)

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.SimpleString:
        return requoted(updated_node, self.enclosing)


class Quotes(Rule):
    """Under the module's walk: each outermost f-string, once its contents are rewritten, gets
    its literals re-quoted (only f-strings are walked again, not the module)."""

    def __init__(self) -> None:
        self.depth = 0

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        self.depth += 1

    def leave_FormattedString(
        self, original_node: cst.FormattedString, updated_node: cst.FormattedString
    ) -> cst.FormattedString:
        self.depth -= 1
        if self.depth:
            return updated_node
        return cast(cst.FormattedString, updated_node.visit(FStringQuotes()))


def fix_quotes(module: cst.Module) -> cst.Module:
    return apply_rules(module, [Quotes()])
