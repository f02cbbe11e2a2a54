"""The rest of Motia's context: what fired the handler, and what has no iii equivalent.

- `ctx.trigger` -> the trigger info the registration passes the handler (its `type`, and the
  rest with `.get`); `ctx.is_api()` ... -> a comparison of its type; `ctx.match(...)` and
  `ctx.get_data()` -> motia_compat's `match_trigger` / `trigger_data` on it;
- `ctx.flows` -> the step's flows, as a list;
- any other member of the context stays, under a TODO.
`ctx.logger`, `ctx.trace_id`, `ctx.state`, `ctx.streams` and `ctx.emit`/`ctx.enqueue` are
other rules' (logger.py, trace_id.py, engine_calls.py).
"""

import libcst as cst

from motia_import.model import Status
from motia_import.payloads import expression
from motia_import.roles import code
from motia_import.rules import LeaveAlone, Rule, Walk, awaited

TRIGGER_CHECKS = {
    "is_api": "http",
    "is_queue": "queue",
    "is_cron": "cron",
    "is_state": "state",
    "is_stream": "stream",
}
# Members other rules rewrite (or that are rewritten where they are called).
OTHER_RULES = {"logger", "trace_id", "traceId", "state", "streams", "emit", "enqueue"}


class Context(Rule):
    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def _is_ctx(self, node: cst.BaseExpression) -> bool:
        if not isinstance(node, cst.Name):  # only names (parameters) hold the context
            return False
        role = self.walk.role(node)
        return role is not None and role.kind == "ctx"

    def _is_trigger(self, node: cst.BaseExpression) -> bool:
        """`ctx.trigger`."""
        if not (isinstance(node, cst.Attribute) and node.attr.value == "trigger"):
            return False
        return self.walk.role(node) is None and self._is_ctx(node.value)

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        attribute = original_node.attr.value
        inner = original_node.value
        if self._is_trigger(inner):
            if attribute == "type":
                return expression(f'{code(updated_node.value)}["type"]')
            return expression(f'{code(updated_node.value)}.get("{attribute}")')
        if not self._is_ctx(inner):
            return updated_node
        if attribute == "trigger":
            trigger = self.walk.frame.trigger
            if trigger is None:
                self.walk.todo(
                    original_node,
                    "ctx.trigger",
                    "the trigger that fired is only known in the handler",
                )
                return updated_node
            return cst.Name(trigger)
        if attribute == "flows":
            return expression(repr(self.walk.flows(self.walk.outermost)))
        if attribute in OTHER_RULES or attribute in ("match", "get_data", *TRIGGER_CHECKS):
            return updated_node
        self.walk.todo(
            original_node,
            f"ctx.{attribute}",
            f"Motia's context has no iii equivalent for {attribute}",
        )
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = original_node.func
        if not isinstance(func, cst.Attribute) or not self._is_ctx(func.value):
            return updated_node
        role = self.walk.role(func)
        if role is not None and role.kind == "enqueue":
            return updated_node  # engine_calls.py
        op = func.attr.value
        if op not in TRIGGER_CHECKS and op not in ("match", "get_data"):
            raise LeaveAlone(f"ctx.{op}() has no iii equivalent")
        trigger = self.walk.frame.trigger
        if trigger is None:
            raise LeaveAlone(
                f"ctx.{op}() outside the step's handler: the trigger that fired is not known here"
            )
        if op in TRIGGER_CHECKS:
            return expression(f'{trigger}["type"] == "{TRIGGER_CHECKS[op]}"')
        entry = self.walk.entry(self.walk.outermost)
        data = entry.input_param if entry is not None and entry.input_param else "None"
        if op == "get_data":
            self.walk.need(compat="trigger_data")
            return expression(f"trigger_data({trigger}, {data})")
        self.walk.need(compat="match_trigger")
        if len(updated_node.args) != 1:
            raise LeaveAlone("ctx.match with other than one dict")
        self.walk.note(
            original_node,
            "ctx.match",
            Status.CONVERTED,
            "match_trigger(trigger, ...) on the registered trigger's identity",
        )
        call = expression(f"match_trigger({trigger}, {data}, {code(updated_node.args[0].value)})")
        if awaited(self.walk, original_node) or not self.walk.frame.is_async:
            return call
        return cst.Await(expression=call)
