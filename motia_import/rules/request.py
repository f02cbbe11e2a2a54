"""The handler's input in the engine's dict shape.

- http: `request.body` / `.path_params` / `.query_params` / `.headers` / `.method` / `.path` ->
  the engine's keys (`.get`, with `{}` for the maps), Motia 0.x's `pathParams` / `queryParams` /
  `params` / `query` keys -> `path_params` / `query_params`; a body validated into a pydantic
  model (`body_model`) is that model; `MotiaHttpArgs.request` is the request itself;
- state: `input.group_id` / `.item_id` / `.old_value` / `.new_value` -> `scope` / `key` /
  `old_value` / `new_value`;
- stream: `input.stream_name` / `.group_id` ... -> the engine's camelCase keys, and
  `input.event.type` / `.data` -> the event's.
An assignment to an input attribute stays as written.
"""

import libcst as cst

from motia_import.payloads import expression
from motia_import.roles import Role, code, string_value, subscript_key
from motia_import.rules import Rule, Walk, assigned

HTTP_ATTRIBUTES = {
    "body": '{0}.get("body")',
    "path_params": '({0}.get("path_params") or {{}})',
    "query_params": '({0}.get("query_params") or {{}})',
    "headers": '({0}.get("headers") or {{}})',
    "method": '{0}.get("method")',
    "path": '{0}.get("path")',
}
HTTP_KEYS = {
    "pathParams": "path_params",
    "queryParams": "query_params",
    "params": "path_params",
    "query": "query_params",
}
STATE_KEYS = {
    "groupId": "scope",
    "group_id": "scope",
    "itemId": "key",
    "item_id": "key",
    "oldValue": "old_value",
    "newValue": "new_value",
}
STATE_ATTRIBUTES = {**STATE_KEYS, **{k: k for k in ("old_value", "new_value", "scope", "key")}}
STREAM_ATTRIBUTES = {
    "stream_name": "streamName",
    "group_id": "groupId",
    "id": "id",
    "event": "event",
    "timestamp": "timestamp",
    "type": "type",
}


class Request(Rule):
    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def _input(self, node: cst.BaseExpression) -> Role | None:
        if not isinstance(node, cst.Name):  # only names (parameters) hold the input
            return None
        role = self.walk.role(node)
        return role if role is not None and role.kind == "input" else None

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        base = self._input(original_node.value)
        if base is None:
            return self._stream_event_field(original_node, updated_node)
        if assigned(self.walk, original_node):
            return updated_node
        attribute = original_node.attr.value
        receiver = code(updated_node.value)
        kind = base.detail
        if kind in ("http", "any"):
            entry = self.walk.frame.entry
            if attribute == "body" and entry is not None and entry.body_model:
                return cst.Name("body_model")
            if attribute == "request":
                return updated_node.value  # MotiaHttpArgs.request: the request itself
            if attribute in ("response", "request_body"):
                self.walk.todo(
                    original_node,
                    f"request.{attribute}",
                    "streaming request/response channels are not converted; write to "
                    "data['response'] with iii's StreamResponse (see iii-sdk)",
                )
                return updated_node
            if attribute in HTTP_ATTRIBUTES:
                return expression(HTTP_ATTRIBUTES[attribute].format(receiver))
        if kind == "state" and attribute in STATE_ATTRIBUTES | {"type": "type"}:
            return expression(f'{receiver}.get("{STATE_ATTRIBUTES.get(attribute, attribute)}")')
        if kind == "stream" and attribute in STREAM_ATTRIBUTES:
            return expression(f'{receiver}.get("{STREAM_ATTRIBUTES[attribute]}")')
        return updated_node

    def _stream_event_field(
        self, original: cst.Attribute, updated: cst.Attribute
    ) -> cst.BaseExpression:
        """`input.event.type` / `input.event.data` on a stream trigger's input."""
        inner = original.value
        if not (isinstance(inner, cst.Attribute) and inner.attr.value == "event"):
            return updated
        base = self._input(inner.value)
        if base is None or base.detail != "stream":
            return updated
        return expression(
            f'({code(inner.value)}.get("event") or {{}}).get("{original.attr.value}")'
        )

    def leave_Subscript(
        self, original_node: cst.Subscript, updated_node: cst.Subscript
    ) -> cst.BaseExpression:
        base = self._input(original_node.value)
        key = subscript_key(updated_node)
        renamed = _renamed(string_value(key), base) if base and key else None
        if renamed is None:
            return updated_node
        return expression(f'{code(updated_node.value)}["{renamed}"]')

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        func = original_node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "get"):
            return updated_node
        base = self._input(func.value)
        if base is None or not updated_node.args:
            return updated_node
        renamed = _renamed(string_value(updated_node.args[0].value), base)
        if renamed is None:
            return updated_node
        new_arg = updated_node.args[0].with_changes(value=cst.SimpleString(f'"{renamed}"'))
        return updated_node.with_changes(args=[new_arg, *updated_node.args[1:]])


def _renamed(key: str | None, base: Role) -> str | None:
    """The engine's name of a key of the input, where it differs from Motia's."""
    if key is None:
        return None
    if base.detail in ("http", "any"):
        return HTTP_KEYS.get(key)
    if base.detail == "state":
        return STATE_KEYS.get(key)
    return None
