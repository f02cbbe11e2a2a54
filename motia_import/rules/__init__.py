"""The rewrite's rules: one module per Motia construct family (or per property every converted
module must have), each small, each tested with exact before/after text.

A rule has hooks named like libcst's (`visit_Call(node)`, `leave_Call(original, updated)`), and
all rules run under the module's single libcst walk (`RuleWalk`): on the way down every rule's
visit hook sees the node, on the way up each leave hook gets the node as the rules before it
left it. Where a node sits (awaited, a statement's value, an attribute's receiver) is read from
the walk's own stack of the nodes it is inside (`Walk.parent`), so no rule keeps node ids.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import libcst as cst

from motia_import.model import EntryPlan, Status
from motia_import.roles import FunctionScope, Role

TODO = "# TODO(motia-import): "  # how a line left to a human is marked


@dataclass
class TraceUse:
    """How a function uses Motia's trace id: read at all, and the names computed from it."""

    read: bool = False
    derived: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Callee:
    """A function of the project a call reaches, and what changed about it."""

    function: cst.FunctionDef
    dropped: set[str]  # the parameters it lost
    roles: dict[str, Role]  # the Motia roles its parameters have (a stream handle, ...)
    blocking: bool  # sync, and it calls the engine synchronously


@dataclass(frozen=True)
class Frame:
    """What the walk knows of the function it is in (the module itself at the bottom).

    A lambda's frame shares its function's names and trace use: it has no parameters of
    Motia's and no body to put a prelude in."""

    qualname: str
    scope: FunctionScope
    is_async: bool
    entry: EntryPlan | None = None  # when the engine (or generated glue) calls the function
    ctx_names: frozenset[str] = frozenset()  # its parameters that are Motia's context
    trace: str | None = None  # the name the invocation's trace id is bound to
    trigger: str | None = None  # the parameter the trigger info arrives in
    trace_use: TraceUse = field(default_factory=TraceUse)


class Walk(Protocol):
    """What a rule may ask of the walk it runs under (the module's facts, the current function)
    and tell it (report lines, names the converted module needs)."""

    @property
    def logger_name(self) -> str:
        """How the converted module refers to the client's logger."""
        ...

    def role(self, node: cst.BaseExpression) -> Role | None:
        """The Motia role of an expression in the current function (ctx, logger, input, ...)."""
        ...

    def motia_name(self, node: cst.BaseExpression) -> str | None:
        """The Motia export a name or attribute refers to (`ApiResponse`, `logger`, ...)."""
        ...

    @property
    def in_function(self) -> bool:
        """Whether the walk is inside a function (or lambda) of the module."""
        ...

    @property
    def stream_factory(self) -> str | None:
        """The stream the current function only returns a handle of (analysis.stream_factory)."""
        ...

    @property
    def module_motia_names(self) -> set[str]:
        """The names the module imported from Motia."""
        ...

    @property
    def parent(self) -> cst.CSTNode | None:
        """The node the current one (the one a hook was called for) sits in, as in the source."""
        ...

    @property
    def frame(self) -> Frame:
        """The function the walk is in."""
        ...

    @property
    def outermost(self) -> str:
        """The name of the outermost definition the walk is in (the step's handler, when the
        walk is in one)."""
        ...

    def entry(self, qualname: str) -> EntryPlan | None:
        """How a function the engine (or generated glue) calls is rewritten."""
        ...

    @property
    def trace_seen(self) -> bool:
        """Whether the trace id was read so far in the functions the walk is in."""
        ...

    @property
    def sync_module_api(self) -> bool:
        """Motia >= 1.0.4: its module-level stateManager, Stream and enqueue returned values."""
        ...

    def flows(self, handler: str) -> list[str]:
        """The flows of the step whose handler this is."""
        ...

    def dropped(self, qualname: str) -> set[str]:
        """The parameters a function of the module loses (Motia's, nobody passes them now)."""
        ...

    def callee(self, func: cst.BaseExpression) -> Callee | None:
        """The project function a call of this expression reaches, if the walk knows it."""
        ...

    def fresh(self, preferred: str) -> str:
        """A name no identifier of the module uses."""
        ...

    def note(self, node: cst.CSTNode, what: str, status: Status, detail: str = "") -> None: ...

    def todo(self, node: cst.CSTNode, what: str, why: str) -> None:
        """Report a construct left as written, with a TODO on its line."""
        ...

    def need(
        self, *, client: str = "", any_type: bool = False, compat: str = "", worker: str = ""
    ) -> None:
        """The converted module imports this name of the client / `typing.Any` / this
        motia_compat helper; the worker needs this engine worker."""
        ...

    def publishes(self, topic: str) -> None:
        """The module publishes to this literal topic."""
        ...

    def leave_alone(self, node: cst.CSTNode, why: str) -> None:
        """Report a construct left as written, with a TODO on its line."""
        ...


class LeaveAlone(Exception):
    """Raised by a rule: the construct stays as written, under a TODO giving this reason."""


class ImportTime(Exception):
    """Raised by a rule: the construct is a Motia call at module level, which ran while Motia
    loaded the module; it stays as written (finish.py comments its statement out)."""


class Rule:
    """A rewrite rule. Subclasses define `visit_<Node>` / `leave_<Node>` hooks."""


Hook = Callable[..., Any]


class RuleWalk(cst.CSTTransformer):
    """A transformer that also runs its rules' hooks, so one walk applies them all.

    Setting `rules` installs, per node type some rule hooks, one visit/leave method that runs
    the walk's own method and then the rules' (libcst finds them by name); node types no rule
    hooks cost nothing extra."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        super().__init__()
        self._installed: list[str] = []
        self._path: list[cst.CSTNode] = []  # the nodes the walk is inside, the current one last
        self.rules = list(rules)

    def on_visit(self, node: cst.CSTNode) -> bool:
        self._path.append(node)
        return super().on_visit(node)

    def on_leave(  # type: ignore[override]  # libcst's own signature is generic in the node type
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]:
        try:
            return super().on_leave(original_node, updated_node)
        finally:
            self._path.pop()

    @property
    def parent(self) -> cst.CSTNode | None:
        return self._path[-2] if len(self._path) > 1 else None

    @property
    def rules(self) -> list[Rule]:
        return self._rules

    @rules.setter
    def rules(self, rules: list[Rule]) -> None:
        for name in self._installed:
            delattr(self, name)
        self._rules = rules
        self._installed = []
        names = {n for rule in rules for n in dir(rule) if n.startswith(("visit_", "leave_"))}
        for name in sorted(names):
            hooks = [getattr(rule, name) for rule in rules if hasattr(rule, name)]
            own = getattr(type(self), name, None)
            base = own.__get__(self) if own is not None else None
            kind = getattr(cst, name.split("_", 1)[1])
            method = (
                self._visit(base, hooks)
                if name.startswith("visit_")
                else self._leave(base, hooks, kind)
            )
            setattr(self, name, method)
            self._installed.append(name)

    @staticmethod
    def _visit(base: Hook | None, hooks: list[Hook]) -> Hook:
        def visit(node: cst.CSTNode) -> bool | None:
            # The walk's own hook first: it sets up what the rules ask (the current function).
            result = base(node) if base is not None else None
            for hook in hooks:
                hook(node)
            return result

        return visit

    def _leave(self, base: Hook | None, hooks: list[Hook], kind: type) -> Hook:
        def leave(original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
            result = base(original_node, updated_node) if base is not None else updated_node
            for hook in hooks:
                if type(result) is not kind:  # another node now: the rules' hooks do not fit
                    break
                try:
                    result = hook(original_node, result)
                except LeaveAlone as reason:
                    self.leave_alone(original_node, str(reason))
                except ImportTime:
                    self.at_import_time()
            return result

        return leave

    def leave_alone(self, node: cst.CSTNode, why: str) -> None:
        """What the walk does with a construct a rule leaves alone (the rewrite adds a TODO)."""

    def at_import_time(self) -> None:
        """What the walk does with a Motia call that ran at import time (the rewrite marks it)."""


def awaited(walk: Walk, node: cst.CSTNode) -> bool:
    """Whether the current node is awaited where it stands (`await node`)."""
    parent = walk.parent
    return isinstance(parent, cst.Await) and parent.expression is node


def statement_value(walk: Walk, node: cst.CSTNode) -> bool:
    """Whether the current node is a whole statement's value (`node`, `return node`, `x = node`)."""
    parent = walk.parent
    return isinstance(parent, (cst.Expr, cst.Return, cst.Assign)) and parent.value is node


def receiver(walk: Walk, node: cst.CSTNode) -> bool:
    """Whether the current node is what an attribute or subscript is taken of (`node.x`)."""
    parent = walk.parent
    return isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is node


def assigned(walk: Walk, node: cst.CSTNode) -> bool:
    """Whether the current node is an assignment's target (`node = ...`, `node += ...`)."""
    parent = walk.parent
    return (isinstance(parent, cst.AssignTarget) and parent.target is node) or (
        isinstance(parent, cst.AugAssign) and parent.target is node
    )


def apply_rules(module: cst.Module, rules: Sequence[Rule]) -> cst.Module:
    """The rules alone over a module (what each rule's tests use)."""
    return module.visit(RuleWalk(rules))
