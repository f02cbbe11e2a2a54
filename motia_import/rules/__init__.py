"""The rewrite's rules: one module per Motia construct family (or per property every converted
module must have), each small, each tested with exact before/after text.

A rule has hooks named like libcst's (`visit_Call(node)`, `leave_Call(original, updated)`), and
all rules run under the module's single libcst walk (`RuleWalk`): on the way down every rule's
visit hook sees the node, on the way up each leave hook gets the node as the rules before it
left it.
"""

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import libcst as cst

from motia_import.model import Status
from motia_import.roles import Role


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
    def module_motia_names(self) -> set[str]:
        """The names the module imported from Motia."""
        ...

    def note(self, node: cst.CSTNode, what: str, status: Status, detail: str = "") -> None: ...

    def need(self, *, client: str = "", any_type: bool = False) -> None:
        """The converted module imports this name of the client / `typing.Any`."""
        ...

    def leave_alone(self, node: cst.CSTNode, why: str) -> None:
        """Report a construct left as written, with a TODO on its line."""
        ...


class LeaveAlone(Exception):
    """Raised by a rule: the construct stays as written, under a TODO giving this reason."""


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
        kind = type(original_node)
        if (
            type(result) is not kind
        ):  # the walk made another node of it: the rules' hooks do not fit
            return result
        for hook in self._hooks(self._leaves, "leave", kind):
            try:
                result = hook(original_node, result)
            except LeaveAlone as reason:
                self.leave_alone(original_node, str(reason))
            if type(result) is not kind:  # another node now: the next rules' hooks do not fit
                break
        return result

    def leave_alone(self, node: cst.CSTNode, why: str) -> None:
        """What the walk does with a construct a rule leaves alone (the rewrite adds a TODO)."""


def apply_rules(module: cst.Module, rules: Sequence[Rule]) -> cst.Module:
    """The rules alone over a module (what each rule's tests use)."""
    return module.visit(RuleWalk(rules))
