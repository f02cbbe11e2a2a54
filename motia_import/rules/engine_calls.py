"""Motia calls that become engine calls (`iii.trigger` / `iii.trigger_async`):

- `ctx.emit(...)` / `ctx.enqueue(...)` / `enqueue(...)` -> `iii::durable::publish`;
- state (`ctx.state`, `stateManager`) -> `state::*`; `state.clear(group)` has no engine
  function: its statement becomes a loop that lists the group and deletes each item;
- stream handles' methods -> `stream::*`, which take the stream's name.

How the call ends up depends on where it sits: awaited where Motia's was, or where Motia's
returned a value (1.0.4's module-level API) or was a statement nobody awaited (it never ran to
completion); left a coroutine where Motia's was one too (`gather`, `create_task`); the blocking
`iii.trigger` in a sync function. At module level there is no invocation to run it in.
"""

from dataclasses import dataclass

import libcst as cst

from motia_import.model import Status
from motia_import.payloads import expression, state_payload, stream_payload, trigger_call
from motia_import.roles import STATE_OPS, STREAM_OPS, code, string_value
from motia_import.rules import (
    ImportTime,
    LeaveAlone,
    Rule,
    Walk,
    awaited,
    receiver,
    statement_value,
)


@dataclass(frozen=True)
class EngineCall:
    """A Motia call and the engine function it becomes."""

    function_id: str
    payload: cst.BaseExpression
    sync_api: bool  # the Motia call returned a value (1.0.4's module-level API)


def engine_call(walk: Walk, original: cst.Call, call: EngineCall) -> cst.BaseExpression:
    """The engine call, awaited or not the way its place needs."""
    if not walk.in_function:
        raise ImportTime()
    walk.need(client="iii")
    if awaited(walk, original):
        return trigger_call(call.function_id, call.payload, sync=False)
    if not walk.frame.is_async:
        return trigger_call(call.function_id, call.payload, sync=True)
    async_call = trigger_call(call.function_id, call.payload, sync=False)
    if not (call.sync_api or statement_value(walk, original)):
        return async_call  # a coroutine where Motia's call gave one too (gather, create_task)
    if not call.sync_api:
        walk.note(
            original,
            "un-awaited Motia call",
            Status.CONVERTED,
            "it never ran to completion in Motia (a coroutine nobody awaited); it is awaited now",
        )
    return awaited_call(walk, original, async_call)


def awaited_call(walk: Walk, original: cst.Call, call: cst.Call) -> cst.Await:
    """`await call`, in parentheses where an attribute or subscript is taken of it."""
    parens = receiver(walk, original)
    return cst.Await(
        expression=call,
        lpar=[cst.LeftParen()] if parens else [],
        rpar=[cst.RightParen()] if parens else [],
    )


def sync_module_api(walk: Walk, func: cst.Attribute) -> bool:
    """Whether the Motia object the call is on returned values (1.0.4's module-level API)
    rather than coroutines (the context's API, and earlier releases)."""
    root = func.value
    while isinstance(root, (cst.Attribute, cst.Subscript, cst.Call)):
        root = root.func if isinstance(root, cst.Call) else root.value
    if isinstance(root, cst.Name):
        role = walk.frame.scope.lookup(root.value)
        if role is not None and role.kind == "ctx":
            return False
    return walk.sync_module_api


def state_or_stream(walk: Walk, original: cst.Call, updated: cst.Call) -> EngineCall | None:
    """The engine call a state or stream method call becomes, if it is one; raises LeaveAlone
    for a method the importer does not know. `state.clear` gives `state::list`'s payload."""
    func = original.func
    if not isinstance(func, cst.Attribute):
        return None
    base = walk.role(func.value)
    op = func.attr.value
    if base is not None and base.kind == "state":
        payload = state_payload(op, list(updated.args))
        if op not in STATE_OPS or payload is None:
            raise LeaveAlone(f"state.{op}(...) has no iii equivalent the importer knows")
        return EngineCall(STATE_OPS[op], payload, sync_module_api(walk, func))
    if base is not None and base.kind == "stream":
        payload = stream_payload(op, base.detail, list(updated.args))
        if op not in STREAM_OPS or payload is None:
            raise LeaveAlone(f"stream.{op}(...) could not be matched to stream::*")
        return EngineCall(STREAM_OPS[op], payload, sync_module_api(walk, func))
    return None


class Publish(Rule):
    """`emit` / `enqueue` -> `iii::durable::publish` (its payload is the same {topic, data})."""

    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        role = self.walk.role(original_node.func)
        if role is None or role.kind != "enqueue":
            return updated_node
        args = updated_node.args
        if len(args) != 1 or args[0].keyword or args[0].star:
            raise LeaveAlone("enqueue/emit with arguments other than one {topic, data} dict")
        event = args[0].value
        topic = ""
        if isinstance(event, cst.Dict):
            for element in event.elements:
                if isinstance(element, cst.DictElement) and string_value(element.key) == "topic":
                    topic = code(element.value)
        sync_api = self.walk.motia_name(original_node.func) == "enqueue" and (
            self.walk.sync_module_api
        )
        literal = string_value(expression(topic)) if topic else None
        self.walk.need(worker="queue")
        if literal is not None:
            self.walk.publishes(literal)
        self.walk.note(
            original_node,
            "enqueue/emit",
            Status.CONVERTED if literal is not None else Status.NOTE,
            f"iii::durable::publish to {literal!r}"
            if literal is not None
            else f"iii::durable::publish to a dynamic topic ({topic or 'not a literal dict'}): "
            "check that a subscriber exists",
        )
        call = EngineCall("iii::durable::publish", event, sync_api)
        return engine_call(self.walk, original_node, call)


class StateAndStreams(Rule):
    """State and stream methods -> `state::*` / `stream::*`."""

    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        call = state_or_stream(self.walk, original_node, updated_node)
        if call is None:
            return updated_node
        assert isinstance(original_node.func, cst.Attribute)
        family, op = call.function_id.split("::")[0], original_node.func.attr.value
        self.walk.need(worker=family)
        if family == "state" and op == "clear":  # its statement becomes a loop (below)
            self.walk.note(
                original_node,
                "state.clear",
                Status.CONVERTED,
                "iii has no state::clear: it lists the group and deletes each item",
            )
            return updated_node
        ops = STATE_OPS if family == "state" else STREAM_OPS
        self.walk.note(original_node, f"{family}.{op}", Status.CONVERTED, ops[op])
        return engine_call(self.walk, original_node, call)

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement:
        scope = self._cleared(original_node, updated_node)
        if scope is None:
            return updated_node
        await_ = "await " if self.walk.frame.is_async else ""
        call = "iii.trigger_async" if self.walk.frame.is_async else "iii.trigger"
        self.walk.need(client="iii")
        loop = cst.parse_statement(
            f'for item in {await_}{call}({{"function_id": "state::list", "payload": '
            f'{{"scope": {scope}}}}}) or []:\n'
            f'    if isinstance(item, dict) and "id" in item:\n'
            f'        {await_}{call}({{"function_id": "state::delete", "payload": '
            f'{{"scope": {scope}, "key": item["id"]}}}})\n'
        )
        return loop.with_changes(leading_lines=updated_node.leading_lines)

    def _cleared(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> str | None:
        """The scope a statement that is only `state.clear(scope)` (awaited or not) clears."""
        if len(original.body) != 1 or len(updated.body) != 1:
            return None
        before, after = original.body[0], updated.body[0]
        if not (isinstance(before, cst.Expr) and isinstance(after, cst.Expr)):
            return None
        call, new = before.value, after.value
        call = call.expression if isinstance(call, cst.Await) else call
        new = new.expression if isinstance(new, cst.Await) else new
        if not (isinstance(call, cst.Call) and isinstance(new, cst.Call)):
            return None
        if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "clear"):
            return None
        base = self.walk.role(call.func.value)
        payload = state_payload("clear", list(new.args)) if base and base.kind == "state" else None
        if payload is None:
            return None
        elements = payload.elements
        if len(elements) == 1 and isinstance(elements[0], cst.DictElement):
            return code(elements[0].value) if string_value(elements[0].key) == "scope" else "None"
        return "None"
