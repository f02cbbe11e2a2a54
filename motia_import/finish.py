"""The module-level half of the rewrite: imports, `sys.path` changes, the step config, stream
handles, and the lines the converted code needs added (client, compat helpers, registrations).

Runs after transform.py on its output.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import libcst as cst

from motia_import.analysis import alias_name, dotted_name
from motia_import.model import Status
from motia_import.modules import PACKAGE, Target
from motia_import.roles import MOTIA_CONFIG_NAMES, MOTIA_OBJECTS, MOTIA_TYPES, code
from motia_import.transform import TODO, Note, empty_block

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
    hoisted: list[str]  # code inserted where the config was (condition functions from lambdas)
    stream_handles: dict[str, str]
    client_names: set[str]
    logger_name: str
    compat_names: set[str]
    uses_any: bool
    registrations: str  # code appended at the end
    motia_names: dict[str, str]
    is_step: bool
    has_any: bool = False  # the module already imports typing.Any
    has_asyncio: bool = False  # the module already imports asyncio


@dataclass
class Finished:
    code: str
    notes: list[Note] = field(default_factory=list)


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

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.depth += 1

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self.depth -= 1
        return updated_node

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
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
                "logger" if self.plan.logger_name == "logger" else f"logger as {self.plan.logger_name}"
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
                    self.notes.append(Note(0, f"import {'.' * level}{module}", Status.TODO,
                                           "a relative import that finds no file in the project"))  # fmt: skip
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
                    lines.append(f"import {code(alias.name)}" + (f" as {alias_name(alias)}" if alias_name(alias) else ""))
                    continue
                changed = True
                new = self.plan.module_name(target)
                local = alias_name(alias)
                if local:
                    lines.append(f"import {new} as {local}")
                    continue
                first = name.split(".")[0]
                first_target = self.plan.resolve(first, 0)
                if first_target is None:
                    lines.append(f"import {new}")
                    continue
                first_new = self.plan.module_name(first_target)
                parent, _, last = first_new.rpartition(".")
                lines.append(f"from {parent} import {last}" + ("" if last == first else f" as {first}"))
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
            if self.depth == 0 and self._drop_module_statement(small):
                changed = True
                if isinstance(small, cst.Assign) and self.plan.hoisted:
                    new_lines.extend(self.plan.hoisted)
                continue
            if self.depth == 0:
                small = self._stream_handle(small)
            if self._is_sys_path_call(small):
                changed = True
                continue
            kept.append(small)
        if not changed:
            return updated_node.with_changes(body=kept) if kept != list(updated_node.body) else updated_node
        statements: list[cst.BaseStatement] = []
        if kept:
            statements.append(updated_node.with_changes(body=kept))
        for line in new_lines:
            parsed = cst.parse_module(line + "\n").body
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
        if not self.plan.remove_config:
            return False
        target = None
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
        elif isinstance(small, cst.AnnAssign):
            target = small.target
        return isinstance(target, cst.Name) and target.value == "config"

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

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        return updated_node

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body = list(updated_node.body)
        if not self.replaced_motia_import:
            lines = self._client_lines()
            if lines:
                position = first_import_block_end(body)
                added = [s for line in lines for s in cst.parse_module(line + "\n").body]
                if position == header_end(body) and position > 0:
                    added[0] = added[0].with_changes(leading_lines=[cst.EmptyLine()])
                body = body[:position] + added + body[position:]
        stubs = residual_motia_names(cst.Module(body=body), self.plan.motia_names)
        if stubs:
            position = last_import(body)
            lines = []
            for local, export in sorted(stubs.items()):
                why = (
                    "only Motia's config used it"
                    if export in MOTIA_CONFIG_NAMES
                    else f"Motia's {export} has no iii equivalent here"
                )
                lines.append(f"{local}: Any = None  {TODO}{why}")
                self.notes.append(Note(0, f"motia.{export}", Status.TODO, f"still referenced: {why}"))
            if not self.plan.has_any and "from typing import Any" not in self._client_lines():
                lines.insert(0, "from typing import Any")
            added = [s for line in lines for s in cst.parse_module(line + "\n").body]
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


def last_import(body: list[cst.BaseStatement]) -> int:
    position = header_end(body)
    for index, statement in enumerate(body):
        if isinstance(statement, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body
        ):
            position = max(position, index + 1)
    return position


class _AnyUse(cst.CSTVisitor):
    """Whether a module uses the name `Any`, and whether it imports it from typing."""

    def __init__(self) -> None:
        self.used = False
        self.imported = False
        self.asyncio = False

    def visit_Import(self, node: cst.Import) -> bool:
        self.asyncio = self.asyncio or any(dotted_name(a.name) == "asyncio" and a.asname is None for a in node.names)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if node.module is not None and dotted_name(node.module) == "typing" and not isinstance(node.names, cst.ImportStar):
            self.imported = self.imported or any(dotted_name(a.name) == "Any" and a.asname is None for a in node.names)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "Any":
            self.used = True


class _MotiaNames(cst.CSTVisitor):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.used: dict[str, str] = {}
        self.skip: set[int] = set()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.skip.add(id(node.attr))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.skip.add(id(node.keyword))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) not in self.skip and node.value in self.names:
            self.used[node.value] = self.names[node.value]


def residual_motia_names(module: cst.Module, motia_names: dict[str, str]) -> dict[str, str]:
    """Motia names the rewritten module still uses (bound to None under a TODO so the module
    imports). The client's logger is imported, not stubbed."""
    candidates = {
        local: export
        for local, export in motia_names.items()
        if export not in MOTIA_OBJECTS or export == "enqueue" or export == "stateManager"
    }
    candidates = {k: v for k, v in candidates.items() if not (v == "logger")}
    finder = _MotiaNames(candidates)
    module.visit(finder)
    return {k: v for k, v in finder.used.items() if v not in MOTIA_TYPES or True}


def finish_module(module: cst.Module, plan: FinishPlan) -> Finished:
    uses = _AnyUse()
    module.visit(uses)
    plan.uses_any = uses.used or "Any" in plan.registrations
    plan.has_any = uses.imported
    plan.has_asyncio = uses.asyncio
    finisher = ModuleFinisher(plan)
    result = module.visit(finisher)
    text = result.code
    if plan.registrations:
        text = text.rstrip("\n") + "\n" + plan.registrations
    return Finished(text, finisher.notes)


def unused(_: PurePosixPath) -> None:
    return None
