"""Rewrite a worker's own Python code for another iii line, after `copier update` moved it there.

    python hooks/migrate_line.py --line 0.25 [PROJECT]

Copier re-renders the files the template owns; this fixes what the move breaks in the user's own
code under src/ and tests/, and prints what it changed and what it could not change:

- `Logger` is imported from the line's module (`iii` up to 0.18, `iii_helpers.observability` after);
- HTTP responses use `status_code`: the engine ignores `statusCode`, so every such answer was a 200;
- reported, not rewritten: `register_worker(...)` calls (they block at import without an engine),
  `worker_description=` and `add_connection_state_listener` on 0.11, and 0.11 names
  (`ApiRequest`, `ApiResponse`, `IIIInvocationError`) on newer lines.

Running it again changes nothing (copier may run migrations more than once). It never touches
files outside the project, and it needs libcst (`pip install libcst` beside copier).
"""

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

try:
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider
except ImportError:  # copier runs this with its own Python, which may lack libcst
    sys.exit(
        "migrate_line: libcst is not installed beside copier, so your own code was not rewritten "
        "for the new iii line.\nInstall it (`pipx inject copier libcst` or `uv tool install copier "
        f"--with libcst`), then run: {sys.executable} {' '.join(sys.argv)}"
    )

# Where each line's SDK keeps `Logger`, from the template's own line data.
LINES = yaml.safe_load((Path(__file__).resolve().parents[1] / "lines.yml").read_text())
LOGGER_MODULE: dict[str, str] = {line: data["logger_module"] for line, data in LINES.items()}
OLD_NAMES = {"ApiRequest", "ApiResponse", "IIIInvocationError"}  # iii-sdk 0.11 names, gone by 0.20


@dataclass
class Report:
    changed: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)


def dotted(node: cst.BaseExpression | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{dotted(node.value)}.{node.attr.value}"
    return ""


class LineRewriter(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, line: str, where: str, report: Report) -> None:
        self.line = line
        self.logger_module = LOGGER_MODULE[line]
        self.where = where
        self.report = report

    def at(self, node: cst.CSTNode) -> str:
        return f"{self.where}:{self.get_metadata(PositionProvider, node).start.line}"

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        statement = updated.body[0]
        if len(updated.body) != 1 or not isinstance(statement, cst.ImportFrom):
            return updated
        module = dotted(statement.module)
        if module not in LOGGER_MODULE.values() or isinstance(statement.names, cst.ImportStar):
            return updated
        names = list(statement.names)
        if module == "iii" and self.line != "0.11":
            for alias in names:
                if alias.name.value in OLD_NAMES:
                    self.report.manual.append(
                        f"{self.at(original)}: `{alias.name.value}` is an iii-sdk 0.11 name; see the SDK's "
                        "upgrade notes (iii_helpers.http.HttpRequest/HttpResponse, iii.InvocationError)"
                    )
        kept = [
            alias for alias in names if alias.name.value != "Logger" or alias.asname is not None
        ]
        if module == self.logger_module or len(kept) == len(names):
            return updated
        self.report.changed.append(f"{self.at(original)}: import Logger from {self.logger_module}")
        # In place of the old import, so the import block keeps its order.
        logger_import = cst.parse_statement(f"from {self.logger_module} import Logger\n")
        if not kept:
            return logger_import.with_changes(leading_lines=updated.leading_lines)
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        rest = updated.with_changes(body=[statement.with_changes(names=kept)])
        return cst.FlattenSentinel([rest, logger_import])

    def leave_Dict(self, original: cst.Dict, updated: cst.Dict) -> cst.Dict:
        # Only response-shaped dicts (with a body or headers): a payload may have its own statusCode.
        keys = [
            e.key.evaluated_value
            for e in updated.elements
            if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)
        ]
        if "statusCode" not in keys or not {"body", "headers"} & set(keys):
            return updated
        self.report.changed.append(f"{self.at(original)}: statusCode -> status_code")
        return updated.with_changes(elements=[_renamed(e) for e in updated.elements])

    def visit_Call(self, node: cst.Call) -> None:
        name = dotted(node.func).rsplit(".", 1)[-1]
        if name == "register_worker":
            self.report.manual.append(
                f"{self.at(node)}: register_worker() blocks up to 30 s without an engine and keeps the "
                "process alive; use the shared client in src/lib/iii_client.py"
            )
        elif self.line == "0.11" and name == "add_connection_state_listener":
            self.report.manual.append(
                f"{self.at(node)}: add_connection_state_listener does not exist on 0.11"
            )
        elif self.line == "0.11" and any(
            arg.keyword and arg.keyword.value == "worker_description" for arg in node.args
        ):
            self.report.manual.append(
                f"{self.at(node)}: InitOptions has no worker_description on 0.11"
            )


def _renamed(element: cst.BaseDictElement) -> cst.BaseDictElement:
    key = element.key if isinstance(element, cst.DictElement) else None
    if isinstance(key, cst.SimpleString) and key.evaluated_value == "statusCode":
        quote = key.value[0]
        return element.with_changes(key=cst.SimpleString(f"{quote}status_code{quote}"))
    return element


def migrate_file(path: Path, line: str, where: str, report: Report) -> None:
    source = path.read_text()
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        report.manual.append(f"{where}: not rewritten, it does not parse ({error.message})")
        return
    rewritten = MetadataWrapper(module).visit(LineRewriter(line, where, report)).code
    if rewritten != source:
        path.write_text(rewritten)


def migrate(project: Path, line: str) -> Report:
    report = Report()
    for folder in ("src", "tests"):
        for path in sorted((project / folder).rglob("*.py")):
            if ".venv" not in path.parts:
                migrate_file(path, line, str(path.relative_to(project)), report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--line", required=True, choices=sorted(LOGGER_MODULE), help="the iii line to move to"
    )
    parser.add_argument(
        "project", nargs="?", default=".", type=Path, help="the worker project (default: .)"
    )
    args = parser.parse_args(argv)
    report = migrate(args.project, args.line)
    for change in report.changed:
        print(f"changed: {change}")
    for problem in report.manual:
        print(f"left for you: {problem}")
    if not report.changed and not report.manual:
        print(f"nothing to rewrite for iii {args.line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
