"""Every name a converted module uses is defined.

The rewrite drops Motia's imports and may move code; a name it leaves without a binding would
be a NameError at run time. Found with Python's symbol tables (inside functions too):
- a name the source imported (anywhere in the module) from a library is imported again at the
  top of the module, with libcst's `AddImportsVisitor`;
- any other name (Motia's, a relative import, or one that was never bound) is bound to None
  under a TODO that says why, so the module imports and a human sees it.
"""

import ast
import builtins
import symtable
from dataclasses import dataclass

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from motia_import.model import Status

TODO = "# TODO(motia-import): "
BUILTINS = set(dir(builtins)) | {"__file__", "__name__", "__doc__", "__spec__", "__path__"}


@dataclass(frozen=True)
class SourceImport:
    """How the source bound a name by import: `from module import name as local`, or
    `import module as local` (name None)."""

    module: str
    name: str | None
    level: int  # relative imports' dots

    @property
    def motia(self) -> bool:
        return self.level == 0 and (self.module == "motia" or self.module.startswith("motia."))


@dataclass(frozen=True)
class Missing:
    name: str
    line: int  # in the converted module
    how: str  # what became of it


def source_imports(original: ast.Module) -> dict[str, SourceImport]:
    """Names bound by an import anywhere in the source module (functions included)."""
    found: dict[str, SourceImport] = {}
    for node in ast.walk(original):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    found.setdefault(
                        alias.asname or alias.name,
                        SourceImport(node.module or "", alias.name, node.level),
                    )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                module = alias.name if alias.asname else alias.name.split(".")[0]
                found.setdefault(local, SourceImport(module, None, 0))
    return found


def bindings(original: ast.Module) -> set[str]:
    """Every name the source binds somewhere (any scope)."""
    bound: set[str] = set()
    for node in ast.walk(original):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
    return bound


def undefined(text: str) -> dict[str, int]:
    """Names read somewhere in the module that no scope binds (builtins count as bound), with the
    line of their first use. Python's own symbol tables answer this (libcst's ScopeProvider
    gives the same answer at several times the cost of the whole rewrite)."""
    table = symtable.symtable(text, "<converted>", "exec")
    module_names = {
        symbol.get_name()
        for symbol in table.get_symbols()
        if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace()
    }
    declared_global: set[str] = set()
    read: set[str] = set()
    tables = [table]
    while tables:
        current = tables.pop()
        tables.extend(current.get_children())
        for symbol in current.get_symbols():
            if current is not table and symbol.is_declared_global() and symbol.is_assigned():
                declared_global.add(symbol.get_name())
            if symbol.is_referenced() and (current is table or symbol.is_global()):
                read.add(symbol.get_name())
    missing = read - module_names - declared_global - BUILTINS
    if not missing:
        return {}
    lines: dict[str, int] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name) and node.id in missing:
            lines[node.id] = min(node.lineno, lines.get(node.id, node.lineno))
    return lines


def why(name: str, imported: SourceImport | None) -> str:
    if imported is None:
        return f"`{name}` is not defined after the conversion"
    if imported.motia:
        what = f"Motia's {imported.name}" if imported.name else f"the {imported.module} module"
        return f"{what} has no iii equivalent here"
    return f"`{name}` came from a relative import that the conversion could not keep"


def define_names(text: str, original: ast.Module) -> tuple[str, list[Missing]]:
    """The converted module's text with every name it reads defined, and what was done."""
    missing = undefined(text)
    if not missing:
        return text, []
    module = cst.parse_module(text)
    imports = source_imports(original)
    bound = bindings(original)
    context = CodemodContext()
    stubs: list[cst.BaseStatement] = []
    report: list[Missing] = []
    for name, line in sorted(missing.items()):
        imported = imports.get(name)
        if imported is not None and not imported.motia and imported.level == 0:
            if imported.name is None:
                AddImportsVisitor.add_needed_import(
                    context, imported.module, asname=_as(name, imported.module)
                )
            else:
                AddImportsVisitor.add_needed_import(
                    context, imported.module, imported.name, _as(name, imported.name)
                )
            report.append(Missing(name, line, f"imported from {imported.module} again"))
            continue
        if imported is None and name not in bound:
            report.append(Missing(name, line, "left as it is: the source never defines it either"))
            continue
        reason = why(name, imported)
        stubs.append(cst.parse_statement(f"{name}: Any = None  {TODO}{reason}\n"))
        report.append(Missing(name, line, f"bound to None under a TODO: {reason}"))
    if stubs:
        AddImportsVisitor.add_needed_import(context, "typing", "Any")
    module = AddImportsVisitor(context).transform_module(module)
    if stubs:
        at = _after_imports(module)
        module = module.with_changes(body=[*module.body[:at], *stubs, *module.body[at:]])
    return module.code, report


def _as(local: str, name: str) -> str | None:
    return None if local == name else local


def _after_imports(module: cst.Module) -> int:
    position = 0
    for index, statement in enumerate(module.body):
        if isinstance(statement, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom))
            or (index == 0 and isinstance(s, cst.Expr) and isinstance(s.value, cst.SimpleString))
            for s in statement.body
        ):
            position = index + 1
        elif index > position:
            break
    return position


def notes_for(report: list[Missing]) -> list[tuple[int, str, Status, str]]:
    """(line, what, status, detail) for the report: a re-import is converted, a stub a TODO."""
    return [
        (
            m.line,
            f"name {m.name}",
            Status.CONVERTED if m.how.startswith("imported") else Status.TODO,
            m.how,
        )
        for m in report
    ]
