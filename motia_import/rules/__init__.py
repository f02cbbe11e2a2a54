"""The rewrite's rules: one module per Motia construct family (or per property every converted
module must have), each small, each tested with exact before/after text.

A rule has hooks named like libcst's (`visit_Call(node)`, `leave_Call(original, updated)`), and
all rules run under the module's single libcst walk (`RuleWalk`): on the way down every rule's
visit hook sees the node, on the way up each leave hook gets the node as the rules before it
left it.
"""

from collections.abc import Callable, Sequence
from typing import Any

import libcst as cst


class Rule:
    """A rewrite rule. Subclasses define `visit_<Node>` / `leave_<Node>` hooks."""


Hook = Callable[..., Any]


class RuleWalk(cst.CSTTransformer):
    """A transformer that also runs its rules' hooks, so one walk applies them all."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        super().__init__()
        self.rules = list(rules)
        self._visits: dict[type, list[Hook]] = {}
        self._leaves: dict[type, list[Hook]] = {}

    def _hooks(self, table: dict[type, list[Hook]], kind: str, node_type: type) -> list[Hook]:
        hooks = table.get(node_type)
        if hooks is None:
            name = f"{kind}_{node_type.__name__}"
            hooks = table[node_type] = [
                getattr(rule, name) for rule in self.rules if hasattr(rule, name)
            ]
        return hooks

    def on_visit(self, node: cst.CSTNode) -> bool:
        for hook in self._hooks(self._visits, "visit", type(node)):
            hook(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        result = super().on_leave(original_node, updated_node)
        if isinstance(result, cst.CSTNode):
            for hook in self._hooks(self._leaves, "leave", type(result)):
                result = hook(original_node, result)
                if not isinstance(result, cst.CSTNode):
                    break
        return result


def apply_rules(module: cst.Module, rules: Sequence[Rule]) -> cst.Module:
    """The rules alone over a module (what each rule's tests use)."""
    return module.visit(RuleWalk(rules))
