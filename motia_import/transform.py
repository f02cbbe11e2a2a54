"""The libcst rewrite of one module: Motia's objects become iii calls, everything else stays as
written (comments and formatting included).

One walk (`ModuleRewriter`) runs the rules of rules/, one module per Motia construct family:
entry points' signatures, the trace id, the rest of the context, the request, engine calls
(emit/enqueue, state, streams), config helpers, the logger, responses, annotations, stream
handles and quotes. The walk itself only keeps the current function's frame and answers the
rules' questions; calls of project functions whose parameters changed are a rule too. Whatever a rule cannot rewrite stays in place under
a `# TODO(motia-import): <why>` comment.
"""

import re
from dataclasses import dataclass, field, replace

import libcst as cst

from motia_import.analysis import (
    FunctionKey,
    ModuleUnit,
    ProjectFacts,
    all_parameters,
)
from motia_import.model import EntryPlan, Status
from motia_import.roles import FunctionScope, Role, code
from motia_import.rules import TODO, Callee, Frame, RuleWalk
from motia_import.rules.annotations import Annotations
from motia_import.rules.config import ConfigHelpers
from motia_import.rules.context import Context
from motia_import.rules.engine_calls import Publish, StateAndStreams
from motia_import.rules.entry_points import EntryPoints
from motia_import.rules.logger import Logger
from motia_import.rules.project_calls import ProjectCalls
from motia_import.rules.quotes import Quotes
from motia_import.rules.request import Request
from motia_import.rules.responses import Responses
from motia_import.rules.streams import StreamHandles
from motia_import.rules.trace_id import TraceId


@dataclass
class Note:
    """Something the rewrite did or could not do, for the report."""

    line: int
    what: str
    status: Status
    detail: str = ""
    anchor: str = ""  # the construct's source, to find its line in the original file


@dataclass
class ModuleOptions:
    sync_module_api: bool  # Motia >= 1.0.4: stateManager, Stream and enqueue were sync
    logger_name: str  # how the converted module refers to the client's logger
    flows: dict[str, list[str]] = field(default_factory=dict)  # handler qualname -> flows
    remove_config: bool = True


def fresh(preferred: str, taken: set[str]) -> str:
    name = preferred
    number = 2
    while name in taken:
        name = f"{preferred}_{number}"
        number += 1
    return name


def with_todo(
    line: cst.SimpleStatementLine | cst.BaseCompoundStatement, why: str
) -> cst.SimpleStatementLine | cst.BaseCompoundStatement:
    comment = cst.EmptyLine(comment=cst.Comment(TODO + why.replace("\n", " ")))
    if any(
        isinstance(e.comment, cst.Comment) and e.comment.value.startswith(TODO + why[:40])
        for e in line.leading_lines
    ):
        return line
    return line.with_changes(leading_lines=[*line.leading_lines, comment])


class ModuleRewriter(RuleWalk):
    """The module's single walk: it keeps the current function's frame (rules.Frame) and what
    the converted module needs, and answers the rules (rules.Walk)."""

    def __init__(
        self,
        facts: ProjectFacts,
        unit: ModuleUnit,
        options: ModuleOptions,
        entries: dict[str, EntryPlan],
        droppable: dict[FunctionKey, set[str]],
        with_positions: bool,
        blocking: set[FunctionKey] | None = None,
    ) -> None:
        super().__init__([])
        self.facts = facts
        self.unit = unit
        self.options = options
        self.entries = entries
        self.droppable = droppable
        self.blocking = blocking or set()
        self.with_positions = with_positions
        self.reader = unit.reader
        self.scopes = facts.scopes.get(unit.path, {})
        # Names of project functions whose calls change (dropped parameters, streams passed by
        # name, sync engine calls moved to a thread).
        self.adjusted = adjusted_callees(facts, unit, droppable, self.blocking)
        # Every identifier in the module: new names (trace_id, trigger, event) avoid them all.
        self.module_names = set(re.findall(r"(?<![.\w])[A-Za-z_]\w*", unit.text))
        self.frames: list[Frame] = [Frame("", FunctionScope(None), is_async=False)]
        self.qualnames: list[str] = []
        self.notes: list[Note] = []
        self.used_client: set[str] = set()
        self.used_compat: set[str] = set()
        self.uses_any = False
        self.import_time = False  # a Motia call runs at module level
        self.workers: set[str] = set()  # engine workers the rewritten calls use
        self.published: list[str] = []  # literal topics it publishes to, in order
        self.line_todos: list[str] = []
        # The construct families, in the order their hooks run on a node.
        self.rules = [
            ProjectCalls(self),
            EntryPoints(self),
            TraceId(self),
            Context(self),
            Request(self),
            Publish(self),
            StateAndStreams(self),
            ConfigHelpers(self),
            Logger(self),
            Responses(self),
            Annotations(self),
            StreamHandles(self),
            Quotes(),
        ]

    # What rules may ask and tell (rules.Walk) -------------------------------------------------

    @property
    def logger_name(self) -> str:
        return self.options.logger_name

    def motia_name(self, node: cst.BaseExpression) -> str | None:
        return self.reader.motia_name(node, self.frame.scope)

    def role(self, node: cst.BaseExpression) -> Role | None:
        return self.reader.role(node, self.frame.scope)

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    @property
    def in_function(self) -> bool:
        return len(self.frames) > 1

    @property
    def outermost(self) -> str:
        return self.qualnames[0] if self.qualnames else ""

    def entry(self, qualname: str) -> EntryPlan | None:
        return self.entries.get(qualname)

    @property
    def trace_seen(self) -> bool:
        return any(frame.trace_use.read for frame in self.frames)

    @property
    def sync_module_api(self) -> bool:
        return self.options.sync_module_api

    def flows(self, handler: str) -> list[str]:
        return self.options.flows.get(handler, [])

    def dropped(self, qualname: str) -> set[str]:
        return self.droppable.get((self.unit.path, qualname), set())

    def fresh(self, preferred: str) -> str:
        return fresh(preferred, self.module_names)

    def callee(self, func: cst.BaseExpression) -> Callee | None:
        found = self.facts.callee(self.unit, func)
        if found is None:
            return None
        key, function = found
        dropped = self.droppable.get(key, set())
        roles = self.facts.param_roles.get(key, {})
        return Callee(function, dropped, roles, blocking=key in self.blocking)

    @property
    def stream_factory(self) -> str | None:
        return self.unit.stream_factories.get(".".join(self.qualnames))

    @property
    def module_motia_names(self) -> set[str]:
        return set(self.reader.motia_names)

    def need(
        self, *, client: str = "", any_type: bool = False, compat: str = "", worker: str = ""
    ) -> None:
        if client:
            self.used_client.add(client)
        if compat:
            self.used_compat.add(compat)
        if worker:
            self.workers.add(worker)
        self.uses_any = self.uses_any or any_type

    def publishes(self, topic: str) -> None:
        self.published.append(topic)

    def leave_alone(self, node: cst.CSTNode, why: str) -> None:
        self.todo(node, code(node.func) if isinstance(node, cst.Call) else code(node), why)

    def at_import_time(self) -> None:
        self.import_time = True

    def note(self, node: cst.CSTNode, what: str, status: Status, detail: str = "") -> None:
        if isinstance(node, cst.Call):
            node = node.func  # short, and enough to find the line
        elif isinstance(node, cst.Dict) and node.elements:
            node = node.elements[0]
        anchor = code(node) if self.with_positions else ""
        self.notes.append(Note(0, what, status, detail, anchor))

    def todo(self, node: cst.CSTNode, what: str, why: str) -> None:
        self.note(node, what, Status.TODO, why)
        self.line_todos.append(why)

    # Frames -----------------------------------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.qualnames.append(node.name.value)
        qualname = ".".join(self.qualnames)
        parent = self.frame
        scope = self.scopes.get(qualname) or FunctionScope(node, parent=parent.scope)
        entry = self.entries.get(qualname)
        params = {p.name.value for p in all_parameters(node)}
        ctx_names = frozenset(n for n in params if scope.names.get(n) == Role("ctx"))
        needs_trigger = entry is not None and entry.needs_trigger
        self.frames.append(
            Frame(
                qualname,
                scope,
                is_async=node.asynchronous is not None or bool(entry and entry.make_async),
                entry=entry,
                ctx_names=ctx_names,
                trace=self.fresh("trace_id") if ctx_names else parent.trace,
                trigger=self.fresh("trigger") if needs_trigger else parent.trigger,
            )
        )
        # A function nothing of Motia's reaches is left as it is (and not walked: big projects
        # have many of them).
        return entry is not None or not self.unit.untouched(qualname, scope, self.adjusted)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.qualnames.append("<lambda>")
        parent = self.frame
        scope = FunctionScope(node, parent=parent.scope)
        # Its function's names and trace use (rules.Frame); nothing calls it as an entry point.
        qualname = ".".join(self.qualnames)
        self.frames.append(
            replace(parent, qualname=qualname, scope=scope, is_async=False, entry=None)
        )

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.qualnames.append(node.name.value)

    def on_leave(  # type: ignore[override]  # libcst's own signature is generic in the node type
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]:
        # After the rules' hooks: a rule leaving a function still sees its frame.
        result = super().on_leave(original_node, updated_node)
        if isinstance(original_node, (cst.FunctionDef, cst.Lambda)):
            self.frames.pop()
        if isinstance(original_node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            self.qualnames.pop()
        return result

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        # The step's config is removed (the registrations replace it): nothing in it to rewrite.
        return not (not self.in_function and self.options.remove_config and is_config(node))

    def leave_Await(self, original_node: cst.Await, updated_node: cst.Await) -> cst.BaseExpression:
        if isinstance(updated_node.expression, cst.Await):
            return updated_node.expression.with_changes(
                lpar=updated_node.lpar, rpar=updated_node.rpar
            )
        return updated_node

    # Statements -------------------------------------------------------------------------------

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        result: cst.SimpleStatementLine | cst.BaseCompoundStatement = updated_node
        todos, self.line_todos = self.line_todos, []
        for why in dict.fromkeys(todos):
            result = with_todo(result, why)
        return result


def adjusted_callees(
    facts: ProjectFacts,
    unit: ModuleUnit,
    droppable: dict[FunctionKey, set[str]],
    blocking: set[FunctionKey],
) -> set[str]:
    changed = set(droppable) | set(blocking)
    changed |= {
        k
        for k, roles in facts.param_roles.items()
        if any(r.kind == "stream" for r in roles.values())
    }
    names = {name for name in unit.functions if (unit.path, name) in changed}
    names |= {
        local
        for local, (path, name) in unit.imports.items()
        if (path, name) in changed or (name is None and any(k[0] == path for k in changed))
    }
    return names


def is_config(line: cst.SimpleStatementLine) -> bool:
    return len(line.body) == 1 and assigns_config(line.body[0])


def assigns_config(small: cst.BaseSmallStatement) -> bool:
    """Whether a statement assigns the step's `config` (plainly or annotated)."""
    target = None
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
    elif isinstance(small, cst.AnnAssign):
        target = small.target
    return isinstance(target, cst.Name) and target.value == "config"


def empty_block(block: cst.BaseSuite) -> bool:
    return isinstance(block, cst.IndentedBlock) and not block.body


def rewrite_module(
    facts: ProjectFacts,
    unit: ModuleUnit,
    options: ModuleOptions,
    entries: dict[str, EntryPlan],
    droppable: dict[FunctionKey, set[str]],
    *,
    with_positions: bool,
    blocking: set[FunctionKey] | None = None,
) -> tuple[cst.Module, ModuleRewriter]:
    rewriter = ModuleRewriter(
        facts, unit, options, entries, droppable, with_positions, blocking or set()
    )
    module = unit.tree.visit(rewriter)
    if with_positions:
        place_notes(unit.tree.code, rewriter.notes)
    return module, rewriter


def place_notes(source: str, notes: list[Note]) -> None:
    """Line numbers for notes, found by their source text (notes come in source order, so
    repeated texts are found one after the other). Cheaper than libcst's position metadata,
    which costs a second code generation of the whole module."""
    cursors: dict[str, int] = {}
    for note in notes:
        if not note.anchor:
            continue
        found = source.find(note.anchor, cursors.get(note.anchor, 0))
        if found < 0:
            found = source.find(note.anchor)
        if found >= 0:
            cursors[note.anchor] = found + 1
            note.line = source.count("\n", 0, found) + 1
