"""The rewrite's rules one by one (motia_import/rules/): exact text before and after."""

import ast
from textwrap import dedent

import libcst as cst
import pytest

from motia_import.model import Status
from motia_import.roles import Role, RoleKind, code
from motia_import.rules import Rule, RuleWalk
from motia_import.rules.annotations import Annotations
from motia_import.rules.config import ConfigHelpers
from motia_import.rules.logger import Logger
from motia_import.rules.names import define_names
from motia_import.rules.quotes import QuoteError, fix_quotes
from motia_import.rules.responses import Responses
from motia_import.rules.streams import StreamHandles


def quoted(source: str) -> str:
    return fix_quotes(cst.parse_module(dedent(source))).code


class FakeWalk(RuleWalk):
    """A walk that knows which names are Motia's and which have roles, and records what the
    rules report: enough to run one rule on its own."""

    def __init__(
        self, motia: dict[str, str] | None = None, roles: dict[str, RoleKind | Role] | None = None
    ) -> None:
        super().__init__([])
        self.motia = motia or {}
        self.roles = roles or {}
        self.notes: list[tuple[str, str]] = []
        self.todos: list[tuple[str, str]] = []
        self.needed: set[str] = set()

    @property
    def logger_name(self) -> str:
        return "logger"

    def role(self, node: cst.BaseExpression) -> Role | None:
        role = self.roles.get(code(node))
        return Role(role) if isinstance(role, str) else role

    def motia_name(self, node: cst.BaseExpression) -> str | None:
        return self.motia.get(code(node))

    @property
    def module_motia_names(self) -> set[str]:
        return {name for name in self.motia if "." not in name}

    in_function = True
    stream_factory: str | None = None

    def note(self, node: cst.CSTNode, what: str, status: Status, detail: str = "") -> None:
        self.notes.append((what, detail))

    def need(self, *, client: str = "", any_type: bool = False) -> None:
        self.needed |= {client} if client else set()
        self.needed |= {"Any"} if any_type else set()

    def leave_alone(self, node: cst.CSTNode, why: str) -> None:
        self.todos.append((code(node), why))

    def run(self, rule: Rule, source: str) -> str:
        self.rules = [rule]
        return cst.parse_module(dedent(source)).visit(self).code


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


# Names --------------------------------------------------------------------------------------------


def test_a_library_name_the_conversion_lost_is_imported_again_at_the_top() -> None:
    original = ast.parse("def f():\n    import json\n    from os import path as p\n")
    text, report = define_names("def f():\n    return json.dumps(p.sep)\n", original)
    assert (
        text == "import json\nfrom os import path as p\n\ndef f():\n    return json.dumps(p.sep)\n"
    )
    assert [(m.name, m.how) for m in report] == [
        ("json", "imported from json again"),
        ("p", "imported from os again"),
    ]


def test_a_motia_name_used_inside_a_function_is_bound_under_a_todo() -> None:
    original = ast.parse("import motia\ndef f():\n    from motia import Stream\n")
    text, report = define_names(
        '"""Doc."""\nimport os\n\ndef f():\n    return Stream(motia.x, os.sep)\n', original
    )
    assert text == (
        '"""Doc."""\nimport os\nfrom typing import Any\n'
        "Stream: Any = None  # TODO(motia-import): Motia's Stream has no iii equivalent here\n"
        "motia: Any = None  # TODO(motia-import): the motia module has no iii equivalent here\n"
        "\ndef f():\n    return Stream(motia.x, os.sep)\n"
    )
    assert [m.name for m in report] == ["Stream", "motia"]


def test_names_bound_in_any_scope_or_builtin_are_defined_and_source_typos_stay() -> None:
    source = (
        "class K:\n    def m(self):\n        return K, len([i for i in range(3)])\n"
        "def g():\n    global G\n    G = 1\n    return lambda q: (q, G, typo)\n"
    )
    text, report = define_names(source, ast.parse(source))
    assert text == source
    assert [(m.name, m.how) for m in report] == [
        ("typo", "left as it is: the source never defines it either")
    ]


# Responses ----------------------------------------------------------------------------------------


def test_a_response_dict_gets_status_code_and_data_dicts_stay() -> None:
    walk = FakeWalk()
    after = walk.run(
        Responses(walk),
        """\
        ok = {"status": 200, "body": {"status": "ok", "body": 1}}
        old = {"statusCode": 404, "headers": {}}
        data = {"status": "done", "body": "x"}
        other = {"status": 200}
        """,
    )
    assert after == dedent(
        """\
        ok = {"status_code": 200, "body": {"status": "ok", "body": 1}}
        old = {"status_code": 404, "headers": {}}
        data = {"status": "done", "body": "x"}
        other = {"status": 200}
        """
    )
    assert walk.notes == [("response status", "status_code (the engine reads only that)")] * 2


def test_api_response_becomes_the_dict_it_stood_for() -> None:
    walk = FakeWalk(motia={"ApiResponse": "ApiResponse", "R": "ApiResponse"})
    after = walk.run(
        Responses(walk),
        "a = ApiResponse(status=201, body={'id': 1})\nb = R(200, {})\nc = Other(status=1)\n",
    )
    assert after == (
        'a = {"status_code": 201, "body": {\'id\': 1}}\nb = R(200, {})\nc = Other(status=1)\n'
    )
    assert walk.todos == [("R(200, {})", "ApiResponse with positional arguments")]


# Types --------------------------------------------------------------------------------------------


def test_motia_types_become_plain_dicts_or_any_wherever_they_annotate() -> None:
    walk = FakeWalk(
        motia={
            "ApiRequest": "ApiRequest",
            "FlowContext": "FlowContext",
            "m.StreamEvent": "StreamEvent",
        }
    )
    after = walk.run(
        Annotations(walk),
        """\
        async def handler(request: ApiRequest, ctx: FlowContext | None, n: int) -> "ApiRequest":
            event: m.StreamEvent = {}
            other: list[ApiRequest] = []
        """,
    )
    assert after == dedent(
        """\
        async def handler(request: dict[str, Any], ctx: Any | None, n: int) -> "Any":
            event: dict[str, Any] = {}
            other: list[ApiRequest] = []
        """
    )
    assert walk.needed == {"Any"}


# Logger -------------------------------------------------------------------------------------------


def test_motias_logger_is_the_clients_with_its_method_names() -> None:
    walk = FakeWalk(
        motia={"motia.logger": "logger"},
        roles={"ctx": "ctx", "ctx.logger": "logger", "motia.logger": "logger", "log": "logger"},
    )
    after = walk.run(
        Logger(walk),
        """\
        ctx.logger.warning("slow", extra={"id": 1})
        motia.logger.info("ok")
        log.exception("failed")
        other.logger.warning("not Motia's")
        """,
    )
    assert after == dedent(
        """\
        logger.warn("slow", extra={"id": 1})
        logger.info("ok")
        log.error("failed")
        other.logger.warning("not Motia's")
        """
    )
    assert walk.notes == [
        ("logger.warning", "iii's Logger has no warning(); it is warn() now"),
        ("logger.exception", "iii's Logger has no exception(); it is error() now"),
    ]
    assert walk.needed == {"logger"}


# Streams ------------------------------------------------------------------------------------------


def test_a_stream_handle_built_in_a_function_holds_the_streams_name() -> None:
    board = Role("stream", '"board"')
    walk = FakeWalk(
        motia={"Stream": "Stream"},
        roles={
            'Stream("board")': board,
            "board": board,
            'Stream("other")': Role("stream", '"other"'),
        },
    )
    after = walk.run(
        StreamHandles(walk),
        """\
        board = Stream("board")
        kept = Stream("other")
        mine = Mine("board")
        """,
    )
    assert after == dedent(
        """\
        board = "board"
        kept = Stream("other")
        mine = Mine("board")
        """
    )
    assert walk.notes == [
        ("Stream(...)", "the handle holds the stream's name (iii's stream::* calls take it)")
    ]


def test_a_function_that_only_returns_a_stream_handle_returns_its_name() -> None:
    scores = Role("stream", '"scores"')
    walk = FakeWalk(motia={"Stream": "Stream"}, roles={'Stream("scores")': scores})
    walk.stream_factory = '"scores"'
    after = walk.run(StreamHandles(walk), 'def scores():\n    return Stream("scores")\n')
    assert after == 'def scores():\n    return "scores"\n'
    walk.stream_factory = None
    source = 'def other():\n    return Stream("scores")\n'
    assert walk.run(StreamHandles(walk), source) == source


# Config helpers -----------------------------------------------------------------------------------


def test_config_helpers_become_the_dicts_they_stood_for() -> None:
    walk = FakeWalk(
        motia={"http": "http", "api": "api", "queue": "queue", "QueueConfig": "QueueConfig"}
    )
    after = walk.run(
        ConfigHelpers(walk),
        """\
        a = http("GET", "/x", middleware=[m])
        b = api("POST", "/y")
        c = queue("orders", config=QueueConfig(max_retries=3))
        d = http(*route)
        e = queue("a", "b")
        f = cron("* * * * *")
        """,
    )
    assert after == dedent(
        """\
        a = {"type": "http", "method": "GET", "path": "/x", "middleware": [m]}
        b = {"type": "http", "method": "POST", "path": "/y"}
        c = {"type": "queue", "topic": "orders", "config": {"max_retries": 3}}
        d = http(*route)
        e = queue("a", "b")
        f = cron("* * * * *")
        """
    )
