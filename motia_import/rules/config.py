"""Config helpers outside a removed config: `http("GET", "/x")`, `queue("orders")`,
`QueueConfig(...)` and the like become the plain dicts they stood for, so a module that reads
its config (and keeps it) still imports without Motia.
"""

import libcst as cst

from motia_import.payloads import dict_node, string
from motia_import.rules import Rule, Walk

TRIGGER_HELPERS = {"http", "api", "queue", "cron", "state", "stream"}
# Each helper and its positional parameters.
CONFIG_HELPERS: dict[str, tuple[str, ...]] = {
    "http": ("method", "path"),
    "api": ("method", "path"),
    "queue": ("topic",),
    "cron": ("expression",),
    "state": (),
    "stream": ("stream_name",),
    "QueueConfig": (),
    "StepConfig": (),
    "StreamConfig": (),
    "Enqueue": (),
    "QueryParam": (),
}


class ConfigHelpers(Rule):
    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        helper = self.walk.motia_name(original_node.func)
        if helper not in CONFIG_HELPERS:
            return updated_node
        positional = CONFIG_HELPERS[helper]
        fields: dict[str, cst.BaseExpression] = {}
        if helper in TRIGGER_HELPERS:
            fields["type"] = string("http" if helper == "api" else helper)
        for index, arg in enumerate(updated_node.args):
            if arg.star:
                return updated_node
            if arg.keyword is not None:
                fields[arg.keyword.value] = arg.value
            elif index < len(positional):
                fields[positional[index]] = arg.value
            else:
                return updated_node
        return dict_node(fields)
