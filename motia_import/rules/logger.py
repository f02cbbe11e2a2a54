"""The logger: Motia's (`ctx.logger`, or the one imported from motia) is the client's `logger`.

iii's Logger has `info`, `warn`, `error` and `debug`: Python logging's `warning`, `exception` and
`critical` are renamed to the nearest.
"""

import libcst as cst

from motia_import.model import Status
from motia_import.rules import Rule, Walk

LOGGER_METHODS = {"warning": "warn", "exception": "error", "critical": "error"}


class Logger(Rule):
    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        if self.walk.motia_name(original_node) == "logger" or (
            original_node.attr.value == "logger" and _kind(self.walk, original_node.value) == "ctx"
        ):
            self.walk.need(client="logger")
            return cst.Name(self.walk.logger_name)
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        func = original_node.func
        if not isinstance(func, cst.Attribute) or not isinstance(updated_node.func, cst.Attribute):
            return updated_node
        method = func.attr.value
        if method not in LOGGER_METHODS or _kind(self.walk, func.value) != "logger":
            return updated_node
        renamed = LOGGER_METHODS[method]
        self.walk.note(
            original_node,
            f"logger.{method}",
            Status.CONVERTED,
            f"iii's Logger has no {method}(); it is {renamed}() now",
        )
        return updated_node.with_changes(
            func=updated_node.func.with_changes(attr=cst.Name(renamed))
        )


def _kind(walk: Walk, node: cst.BaseExpression) -> str | None:
    role = walk.role(node)
    return role.kind if role is not None else None
