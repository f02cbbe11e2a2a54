"""The module-level half of the rewrite: imports, `sys.path` changes, the step config, stream
handles, and the lines the converted code needs added (client, compat helpers, registrations).

Runs after transform.py on its output.
"""

import ast
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from motia_import.analysis import alias_name, dotted_name
from motia_import.model import Status
from motia_import.modules import PACKAGE, Target
from motia_import.roles import MOTIA_CONFIG_NAMES, code
from motia_import.rules import TODO
from motia_import.rules.names import define_names, notes_for, source_imports
from motia_import.transform import Note, assigns_config, empty_block

CONFIG_COMMENT = (
    "# (motia-import) The Motia config is now the iii registrations at the end of this module."
)
Resolve = Callable[[str, int], Target | None]  # (module, level) -> target, for this module
Submodule = Callable[[Target, str], Target | None]
ModuleName = Callable[[Target], str]


@dataclass
class FinishPlan:
    resolve: Resolve
    submodule: Submodule
    module_name: ModuleName
    sys_path_sources: set[str]  # sys.path calls to drop (their directory is in the layout now)
    remove_config: bool
    stream_handles: dict[str, str]
    client_names: set[str]
    logger_name: str
    compat_names: set[str]
    uses_any: bool
    registrations: str  # code appended at the end
    motia_names: dict[str, str]
    has_any: bool = False  # the module already imports typing.Any
    import_time: bool = False  # a Motia call runs at module level (see transform.py)
    has_asyncio: bool = False  # the module already imports asyncio


@dataclass
class Finished:
    code: str
    notes: list[Note] = field(default_factory=list)


@functools.lru_cache(maxsize=4096)
def parsed_lines(line: str) -> tuple[cst.BaseStatement, ...]:
    """Statements for one line of generated code (the same import lines recur in every module;
    libcst nodes are immutable, so sharing them is safe)."""
    return tuple(cst.parse_module(line + "\n").body)


def code_without_whitespace(text: str) -> str:
    return "".join(text.split())


class ModuleFinisher(cst.CSTTransformer):
    def __init__(self, plan: FinishPlan) -> None:
        super().__init__()
        self.plan = plan
        self.notes: list[Note] = []
        self.depth = 0  # function nesting
        self.replaced_motia_import = False
        self.sys_path = {code_without_whitespace(s) for s in plan.sys_path_sources}

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        return False  # everything it changes is a whole statement (leave_SimpleStatementLine)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.depth += 1

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self.depth -= 1
        return updated_node

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.depth += 1

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        self.depth -= 1
        return updated_node

    # Imports ----------------------------------------------------------------------------------

    def _client_lines(self) -> list[str]:
        lines: list[str] = []
        if "asyncio" in self.plan.client_names and not self.plan.has_asyncio:
            lines.append("import asyncio")
        if self.plan.uses_any and not self.plan.has_any:
            lines.append("from typing import Any")
        names = []
        if "iii" in self.plan.client_names:
            names.append("iii")
        if "logger" in self.plan.client_names:
            names.append(
                "logger"
                if self.plan.logger_name == "logger"
                else f"logger as {self.plan.logger_name}"
            )
        if names:
            lines.append(f"from src.lib.iii_client import {', '.join(names)}")
        if self.plan.compat_names:
            lines.append(
                f"from {PACKAGE}.motia_compat import {', '.join(sorted(self.plan.compat_names))}"
            )
        return lines

    def _rewrite_import(self, small: cst.BaseSmallStatement) -> list[str] | None:
        """New import statements for one import, [] to drop it, None to keep it as it is."""
        if isinstance(small, cst.ImportFrom):
            module = dotted_name(small.module) if small.module else ""
            level = len(small.relative)
            if level == 0 and (module == "motia" or module.startswith("motia.")):
                return []
            target = self.plan.resolve(module, level)
            if target is None:
                if level:
                    self.notes.append(
                        Note(
                            0,
                            f"import {'.' * level}{module}",
                            Status.TODO,
                            "a relative import that finds no file in the project",
                        )
                    )
                return None
            if isinstance(small.names, cst.ImportStar):
                return [f"from {self.plan.module_name(target)} import *"]
            aliases: list[str] = []
            for alias in small.names:
                name = dotted_name(alias.name)
                local = alias_name(alias) or name
                sub = self.plan.submodule(target, name)
                new_name = self.plan.module_name(sub).rsplit(".", 1)[-1] if sub else name
                aliases.append(new_name if new_name == local else f"{new_name} as {local}")
            return [f"from {self.plan.module_name(target)} import {', '.join(aliases)}"]
        if isinstance(small, cst.Import):
            lines: list[str] = []
            changed = False
            for alias in small.names:
                name = dotted_name(alias.name)
                if name == "motia" or name.startswith("motia."):
                    changed = True
                    continue
                target = self.plan.resolve(name, 0)
                if target is None:
                    lines.append(
                        f"import {code(alias.name)}"
                        + (f" as {alias_name(alias)}" if alias_name(alias) else "")
                    )
                    continue
                changed = True
                new = self.plan.module_name(target)
                asname = alias_name(alias)
                if asname:
                    lines.append(f"import {new} as {asname}")
                    continue
                first = name.split(".")[0]
                first_target = self.plan.resolve(first, 0)
                if first_target is None:
                    lines.append(f"import {new}")
                    continue
                first_new = self.plan.module_name(first_target)
                parent, _, last = first_new.rpartition(".")
                lines.append(
                    f"from {parent} import {last}" + ("" if last == first else f" as {first}")
                )
                if "." in name:
                    lines.append(f"import {new}")
            return lines if changed else None
        return None

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        new_lines: list[str] = []
        changed = False
        kept: list[cst.BaseSmallStatement] = []
        for small in updated_node.body:
            rewritten = self._rewrite_import(small)
            if rewritten is not None:
                changed = True
                is_motia = not rewritten and isinstance(small, (cst.ImportFrom, cst.Import))
                if is_motia and self.depth == 0 and not self.replaced_motia_import:
                    self.replaced_motia_import = True
                    new_lines.extend(self._client_lines())
                new_lines.extend(rewritten)
                continue
            if self.depth == 0:
                small = self._stream_handle(small)
            if self._is_sys_path_call(small):
                changed = True
                continue
            kept.append(small)
        if not changed:
            return (
                updated_node.with_changes(body=kept)
                if kept != list(updated_node.body)
                else updated_node
            )
        statements: list[cst.BaseStatement] = []
        if kept:
            statements.append(updated_node.with_changes(body=kept))
        for line in new_lines:
            parsed = parsed_lines(line)
            statements.extend(parsed)
        if not statements:
            return cst.RemovalSentinel.REMOVE
        statements[0] = statements[0].with_changes(leading_lines=updated_node.leading_lines)
        return cst.FlattenSentinel(statements)

    def _is_sys_path_call(self, small: cst.BaseSmallStatement) -> bool:
        return (
            isinstance(small, cst.Expr)
            and isinstance(small.value, cst.Call)
            and code_without_whitespace(code(small.value)) in self.sys_path
        )

    def _drop_module_statement(self, small: cst.BaseSmallStatement) -> bool:
        return self.plan.remove_config and assigns_config(small)

    def _stream_handle(self, small: cst.BaseSmallStatement) -> cst.BaseSmallStatement:
        if isinstance(small, (cst.Assign, cst.AnnAssign)):
            target = small.targets[0].target if isinstance(small, cst.Assign) else small.target
            if isinstance(target, cst.Name) and target.value in self.plan.stream_handles:
                value = cst.parse_expression(self.plan.stream_handles[target.value])
                if isinstance(small, cst.AnnAssign):
                    return cst.Assign(targets=[cst.AssignTarget(target)], value=value)
                return small.with_changes(value=value)
        return small

    def leave_If(
        self, original_node: cst.If, updated_node: cst.If
    ) -> cst.BaseStatement | cst.RemovalSentinel:
        if empty_block(updated_node.body) and updated_node.orelse is None:
            return cst.RemovalSentinel.REMOVE
        return updated_node

    def leave_For(
        self, original_node: cst.For, updated_node: cst.For
    ) -> cst.BaseStatement | cst.RemovalSentinel:
        if empty_block(updated_node.body) and updated_node.orelse is None:
            return cst.RemovalSentinel.REMOVE
        return updated_node

    def _without_config(self, body: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        """The step's config goes (the registrations at the end replace it); a comment takes
        its place."""
        result: list[cst.BaseStatement] = []
        carried: list[cst.EmptyLine] | None = None
        for statement in body:
            if (
                isinstance(statement, cst.SimpleStatementLine)
                and len(statement.body) == 1
                and self._drop_module_statement(statement.body[0])
            ):
                carried = [
                    *statement.leading_lines,
                    cst.EmptyLine(comment=cst.Comment(CONFIG_COMMENT)),
                ]
                continue
            if carried is not None and isinstance(
                statement, (cst.SimpleStatementLine, cst.BaseCompoundStatement)
            ):
                statement = statement.with_changes(
                    leading_lines=[*carried, *statement.leading_lines]
                )
                carried = None
            result.append(statement)
        return result

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body = self._without_config(list(updated_node.body))
        if not self.replaced_motia_import:
            lines = self._client_lines()
            if lines:
                position = first_import_block_end(body)
                added = [s for line in lines for s in parsed_lines(line)]
                if position == header_end(body) and position > 0:
                    added[0] = added[0].with_changes(leading_lines=[cst.EmptyLine()])
                body = body[:position] + added + body[position:]
        return updated_node.with_changes(body=body)


def is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def header_end(body: list[cst.BaseStatement]) -> int:
    """After the docstring and `from __future__` imports."""
    position = 0
    while position < len(body):
        statement = body[position]
        if position == 0 and is_docstring(statement):
            position += 1
            continue
        if (
            isinstance(statement, cst.SimpleStatementLine)
            and isinstance(statement.body[0], cst.ImportFrom)
            and statement.body[0].module is not None
            and dotted_name(statement.body[0].module) == "__future__"
        ):
            position += 1
            continue
        break
    return position


def first_import_block_end(body: list[cst.BaseStatement]) -> int:
    """After the last import that comes before the module's first definition."""
    position = header_end(body)
    for index, statement in enumerate(body):
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            break
        if isinstance(statement, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body
        ):
            position = index + 1
    return position


def residual_motia_names(tree: ast.Module, motia_names: dict[str, str]) -> dict[str, str]:
    """Motia names the rewritten module still uses (bound to None under a TODO so the module
    imports). The client's logger is imported, not stubbed."""
    candidates = {local: export for local, export in motia_names.items() if export != "logger"}
    if not candidates:
        return {}
    used: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in candidates:
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg) and node.arg in candidates:
            bound.add(node.arg)
        elif (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.name in candidates
        ):
            bound.add(node.name)
    return {local: candidates[local] for local in sorted(used - bound)}


def imports_of(tree: ast.Module) -> tuple[bool, bool]:
    """Whether a module imports `typing.Any` and `asyncio` at its top level."""
    has_any = has_asyncio = False
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "typing":
            has_any = has_any or any(a.name == "Any" and a.asname is None for a in node.names)
        elif isinstance(node, ast.Import):
            has_asyncio = has_asyncio or any(
                a.name == "asyncio" and a.asname is None for a in node.names
            )
    return has_any, has_asyncio


def uses_any_of(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def calls_a_method_of(node: ast.AST, handles: set[str]) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id in handles
        for n in ast.walk(node)
    )


def neutralize_import_time_uses(
    text: str, tree: ast.Module, names: set[str], handles: set[str], notes: list[Note]
) -> str:
    """Module-level code that still uses a Motia name would fail while the module imports (the
    name is bound to None): an assignment keeps its name, bound to None, and anything else is
    commented out, both under a TODO with the original code."""
    lines = text.splitlines(keepends=True)
    for node in reversed(tree.body):
        if isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
        ):
            continue
        if not (uses_any_of(node, names) or calls_a_method_of(node, handles)):
            continue
        start, end = node.lineno - 1, node.end_lineno or node.lineno
        original = "".join(lines[start:end])
        indent = original[: len(original) - len(original.lstrip())]
        commented = "".join(
            f"{indent}# {line[len(indent) :]}" if line.strip() else line
            for line in lines[start:end]
        )
        why = "ran at import time with Motia's objects, which are gone; move it into a function"
        replacement = f"{indent}{TODO}{why}:\n{commented}"
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        names_bound = [t.id for t in targets if isinstance(t, ast.Name)]
        if names_bound and len(names_bound) == len(targets):
            replacement += f"{indent}{' = '.join(names_bound)} = None\n"
        lines[start:end] = [replacement]
        notes.append(Note(node.lineno, "import-time code", Status.TODO, why))
    return "".join(lines)


def with_stubs(text: str, plan: FinishPlan, notes: list[Note]) -> str:
    """Bind the Motia names the module still uses to None, under a TODO, after its imports (and
    keep module-level code that uses them from running at import time)."""
    tree = ast.parse(text)
    stubs = residual_motia_names(tree, plan.motia_names)
    if stubs or plan.import_time:
        text = neutralize_import_time_uses(text, tree, set(stubs), set(plan.stream_handles), notes)
        tree = ast.parse(text)
        stubs = residual_motia_names(tree, plan.motia_names)
    if not stubs:
        return text
    lines = []
    for local, export in stubs.items():
        why = (
            "only Motia's config used it"
            if export in MOTIA_CONFIG_NAMES
            else f"Motia's {export} has no iii equivalent here"
        )
        lines.append(f"{local}: Any = None  {TODO}{why}")
        notes.append(Note(0, f"motia.{export}", Status.TODO, f"still referenced: {why}"))
    if not imports_of(tree)[0]:
        lines.insert(0, "from typing import Any")
    imports = [
        n.end_lineno or n.lineno for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
    ]
    docstring = (
        tree.body[0].end_lineno
        if tree.body
        and isinstance(tree.body[0], ast.Expr)
        and isinstance(tree.body[0].value, ast.Constant)
        else 0
    )
    after = max(imports, default=docstring or 0)
    source_lines = text.splitlines(keepends=True)
    return "".join(source_lines[:after]) + "\n".join(lines) + "\n" + "".join(source_lines[after:])


def finish_module(module: cst.Module, plan: FinishPlan, original: ast.Module) -> Finished:
    plan.uses_any = plan.uses_any or "Any" in plan.registrations
    plan.has_any, plan.has_asyncio = imports_of(original)
    # Motia names imported inside functions are stubbed like the module's own.
    plan.motia_names = {
        **{
            local: imported.name
            for local, imported in source_imports(original).items()
            if imported.motia and imported.name
        },
        **plan.motia_names,
    }
    finisher = ModuleFinisher(plan)
    result = module.visit(finisher)
    text = with_stubs(result.code, plan, finisher.notes)
    if plan.registrations:
        text = text.rstrip("\n") + "\n" + plan.registrations
    text, missing = define_names(text, original)
    if missing:
        finisher.notes.extend(
            Note(0, what, status, detail) for _, what, status, detail in notes_for(missing)
        )
    return Finished(text, finisher.notes)
