"""The trace id: `ctx.trace_id` -> a name bound once per invocation (`trace_id =
current_trace_id()` at the top of the function that reads it).

Motia passed one trace id along a whole flow, so code keyed state and streams on it (a later
step read what an earlier one wrote under the same id); iii gives each invocation its own trace.
A state or stream call whose scope, key or group is the trace id, or a name computed from it,
gets a TODO.
"""

import re

import libcst as cst

from motia_import.model import Status
from motia_import.roles import code
from motia_import.rules import LeaveAlone, Rule, Walk
from motia_import.rules.engine_calls import state_or_stream
from motia_import.rules.prelude import insert_prelude


class TraceId(Rule):
    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        if original_node.attr.value not in ("trace_id", "traceId"):
            return updated_node
        base = self.walk.role(original_node.value)
        if base is None or base.kind != "ctx":
            return updated_node
        frame = self.walk.frame
        if frame.trace is None:
            self.walk.todo(original_node, "ctx.trace_id", "ctx.trace_id outside a function")
            return updated_node
        self.walk.need(compat="current_trace_id")
        self.walk.note(
            original_node,
            "ctx.trace_id",
            Status.CONVERTED,
            "the invocation's trace id (current_trace_id())",
        )
        frame.trace_use.read = True
        return cst.Name(frame.trace)

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        frame = self.walk.frame
        if frame.trace is None or not self.walk.in_function or not self.walk.trace_seen:
            return updated_node
        if _mentions(code(updated_node.value), {frame.trace, *frame.trace_use.derived}):
            for target in updated_node.targets:
                if isinstance(target.target, cst.Name):
                    frame.trace_use.derived.add(target.target.value)
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        frame = self.walk.frame
        if frame.trace is None or not self.walk.trace_seen:
            return updated_node
        try:
            call = state_or_stream(self.walk, original_node, updated_node)
        except LeaveAlone:  # the call's own rule says why
            return updated_node
        if call is None:
            return updated_node
        keys = [
            a
            for a in updated_node.args
            if not (a.keyword and a.keyword.value in ("value", "data", "ops"))
        ]
        keys = keys[:2] if all(a.keyword is None for a in keys) else keys
        tainted = {frame.trace, *frame.trace_use.derived}
        if any(_mentions(code(a.value), tainted) for a in keys):
            self.walk.todo(
                original_node,
                "trace_id as a shared key",
                "keyed on the trace id: Motia shared one along a flow, iii gives every "
                "invocation its own, so a later step will not find this; pass the id in the "
                "message and key on that",
            )
        return updated_node

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        frame = self.walk.frame
        if not frame.trace_use.read or frame.trace is None:
            return updated_node
        return insert_prelude(updated_node, [f"{frame.trace} = current_trace_id()"])


def _mentions(source: str, names: set[str]) -> bool:
    return re.search(rf"\b({'|'.join(re.escape(n) for n in names)})\b", source) is not None
