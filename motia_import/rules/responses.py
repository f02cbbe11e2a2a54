"""Responses: the engine reads an http handler's `status_code`.

- a response dict (`{"status": 200, "body": ...}`, `statusCode` in 0.x) gets `status_code`;
- `ApiResponse(status=..., body=...)` becomes that dict.
A dict whose status is a string (`{"status": "ok", "body": ...}`) is data, not a response.
"""

import libcst as cst

from motia_import.model import Status
from motia_import.payloads import response_dict
from motia_import.roles import string_value
from motia_import.rules import LeaveAlone, Rule, Walk

RESPONSE_KEYS = {"status", "statusCode", "status_code", "body", "headers"}


class Responses(Rule):
    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def leave_Dict(self, original_node: cst.Dict, updated_node: cst.Dict) -> cst.Dict:
        keys: dict[str, cst.DictElement] = {}
        for element in updated_node.elements:
            key = string_value(element.key) if isinstance(element, cst.DictElement) else None
            if key is None or not isinstance(element, cst.DictElement):
                return updated_node
            keys[key] = element
        if not set(keys) <= RESPONSE_KEYS or not {"status", "statusCode"} & set(keys):
            return updated_node
        if not {"body", "headers"} & set(keys):
            return updated_node
        status = keys.get("status") or keys["statusCode"]
        if string_value(status.value) is not None:
            return updated_node
        self.walk.note(
            original_node,
            "response status",
            Status.CONVERTED,
            "status_code (the engine reads only that)",
        )
        return updated_node.with_changes(
            elements=[
                e.with_changes(key=cst.SimpleString('"status_code"')) if e is status else e
                for e in updated_node.elements
            ]
        )

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if self.walk.motia_name(original_node.func) != "ApiResponse":
            return updated_node
        converted = response_dict(updated_node)
        if converted is None:
            raise LeaveAlone("ApiResponse with positional arguments")
        self.walk.note(
            original_node, "ApiResponse(...)", Status.CONVERTED, "a dict with status_code"
        )
        return converted
