"""What Motia objects a name stands for, inside each function of the converted code.

A handler's second parameter is Motia's context; `ctx.state`, `ctx.streams.orders`,
`ctx.logger`, `ctx.emit` are the objects the rewrite replaces with iii calls. The same objects
reach helpers as arguments (`save(ctx, ...)`, `notify(ctx.logger)`) and local names
(`state = ctx.state`). A `Role` records which object an expression is; `FunctionScope` holds
the roles of a function's names (parameters, locals, and its enclosing function's names).
"""

from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

RoleKind = Literal[
    "ctx",  # Motia's context object (FlowContext, 0.x Context)
    "state",  # ctx.state / stateManager
    "streams",  # ctx.streams (the container)
    "stream",  # one stream: ctx.streams.x, Stream("x"), a module-level handle
    "logger",  # ctx.logger / motia's logger
    "enqueue",  # ctx.emit / ctx.enqueue / motia's enqueue
    "input",  # the trigger input (an http request, a queue message, ...)
]
STATE_OPS = {
    "get": "state::get",
    "set": "state::set",
    "update": "state::update",
    "delete": "state::delete",
    "list": "state::list",
    "get_group": "state::list",
    "getGroup": "state::list",
    "list_groups": "state::list_groups",
    "clear": "state::clear",  # no such function: rewritten as list + delete
}
STREAM_OPS = {
    "get": "stream::get",
    "set": "stream::set",
    "delete": "stream::delete",
    "get_group": "stream::list",
    "getGroup": "stream::list",
    "list": "stream::list",
    "update": "stream::update",
    "list_groups": "stream::list_groups",
    "send": "stream::send",
}
CONTEXT_ATTRIBUTES = {
    "state": "state",
    "streams": "streams",
    "logger": "logger",
    "emit": "enqueue",
    "enqueue": "enqueue",
}
# Names `from motia import ...` brings in, by what they are.
MOTIA_OBJECTS: dict[str, RoleKind] = {
    "logger": "logger",
    "stateManager": "state",
    "enqueue": "enqueue",
}
MOTIA_TYPES = {
    "ApiRequest": "dict[str, Any]",
    "ApiResponse": "dict[str, Any]",
    "MotiaHttpArgs": "dict[str, Any]",
    "MotiaHttpRequest": "dict[str, Any]",
    "StateTriggerInput": "dict[str, Any]",
    "StreamTriggerInput": "dict[str, Any]",
    "StreamEvent": "dict[str, Any]",
}
# Motia names that only describe configs (removed together with the config).
MOTIA_CONFIG_NAMES = {
    "http",
    "api",
    "queue",
    "cron",
    "state",
    "stream",
    "QueueConfig",
    "ApiTrigger",
    "QueueTrigger",
    "CronTrigger",
    "StateTrigger",
    "StreamTrigger",
    "StepConfig",
    "step",
    "QueryParam",
    "StreamConfig",
    "Enqueue",
    "TriggerCondition",
    "ApiMiddleware",
}


@dataclass(frozen=True)
class Role:
    kind: RoleKind
    detail: str = ""  # stream: the stream name as Python source; input: the trigger kind


@dataclass
class FunctionScope:
    """The roles of the names a function sees."""

    node: cst.FunctionDef | cst.Lambda | None  # None: module level
    names: dict[str, Role] = field(default_factory=dict)
    parent: "FunctionScope | None" = None
    shadowed: set[str] = field(default_factory=set)  # names the function rebinds to other things

    def lookup(self, name: str) -> Role | None:
        scope: FunctionScope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            if name in scope.shadowed:
                return None
            scope = scope.parent
        return None


def string_value(node: cst.BaseExpression) -> str | None:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def subscript_key(node: cst.Subscript) -> cst.BaseExpression | None:
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        return node.slice[0].slice.value
    return None


def code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


class RoleReader:
    """Works out the role of an expression in a scope (motia imports and stream handles of
    the module included)."""

    def __init__(
        self,
        motia_names: dict[str, str],
        stream_handles: dict[str, str],
        motia_modules: set[str],
        stream_factories: dict[str, str] | None = None,
    ) -> None:
        self.motia_names = motia_names  # local name -> motia export
        self.stream_handles = stream_handles  # local name -> stream name (Python source)
        self.motia_modules = motia_modules  # local names bound to the motia module itself
        self.stream_factories = stream_factories or {}  # function -> the stream it returns

    def motia_name(self, node: cst.BaseExpression, scope: FunctionScope) -> str | None:
        """The motia export an expression names (`logger`, `motia.logger`), if any."""
        if isinstance(node, cst.Name):
            # The cheap question first: most names are not Motia's at all.
            if node.value not in self.motia_names or scope.lookup(node.value) is not None:
                return None
            if node.value in scope_shadowed(scope):
                return None
            return self.motia_names[node.value]
        if (
            isinstance(node, cst.Attribute)
            and isinstance(node.value, cst.Name)
            and node.value.value in self.motia_modules
        ):
            return node.attr.value
        return None

    def role(self, node: cst.BaseExpression, scope: FunctionScope) -> Role | None:
        if isinstance(node, cst.Name):
            found = scope.lookup(node.value)
            if found is not None:
                return found
            if node.value in scope_shadowed(scope):
                return None
            if node.value in self.stream_handles:
                return Role("stream", self.stream_handles[node.value])
        motia = self.motia_name(node, scope)
        if motia in MOTIA_OBJECTS:
            return Role(MOTIA_OBJECTS[motia])
        if isinstance(node, cst.Attribute):
            base = self.role(node.value, scope)
            attribute = node.attr.value
            if base is not None and base.kind == "ctx" and attribute in CONTEXT_ATTRIBUTES:
                return Role(CONTEXT_ATTRIBUTES[attribute])  # type: ignore[arg-type]
            if base is not None and base.kind == "streams":
                return Role("stream", f'"{attribute}"')
        if isinstance(node, cst.Subscript):
            base = self.role(node.value, scope)
            key = subscript_key(node)
            if base is not None and base.kind == "streams" and key is not None:
                return Role("stream", code(key))
        if isinstance(node, cst.Call):
            if (
                isinstance(node.func, cst.Name)
                and not node.args
                and node.func.value in self.stream_factories
                and scope.lookup(node.func.value) is None
                and node.func.value not in scope_shadowed(scope)
            ):
                return Role("stream", self.stream_factories[node.func.value])
            callee = self.motia_name(node.func, scope)
            if callee == "Stream" and node.args and not node.args[0].keyword:
                return Role("stream", code(node.args[0].value))
            if (
                isinstance(node.func, cst.Attribute)
                and node.func.attr.value == "get"
                and node.args
                and (base := self.role(node.func.value, scope)) is not None
                and base.kind == "streams"
            ):
                return Role("stream", code(node.args[0].value))
        return None


def scope_shadowed(scope: FunctionScope) -> set[str]:
    names: set[str] = set()
    current: FunctionScope | None = scope
    while current is not None:
        names |= current.shadowed
        current = current.parent
    return names
