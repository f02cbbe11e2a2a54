"""Types: Motia's request, response and trigger-input types become the engine's plain shapes.

`ApiRequest` / `ApiResponse` / `*TriggerInput` -> `dict[str, Any]`, any other Motia type (the
context, say) -> `Any`, inside `X | None` too; a string annotation naming a Motia type -> `"Any"`.
"""

import re

import libcst as cst

from motia_import.roles import MOTIA_TYPES, string_value
from motia_import.rules import Rule, Walk


class Annotations(Rule):
    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def leave_Annotation(
        self, original_node: cst.Annotation, updated_node: cst.Annotation
    ) -> cst.Annotation:
        replaced = self.plain(updated_node.annotation)
        if replaced is None:
            return updated_node
        return updated_node.with_changes(annotation=replaced)

    def plain(self, node: cst.BaseExpression) -> cst.BaseExpression | None:
        if isinstance(node, cst.SimpleString):
            names = set(re.findall(r"[A-Za-z_]\w*", string_value(node) or ""))
            if names & self.walk.module_motia_names:
                self.walk.need(any_type=True)
                return cst.SimpleString('"Any"')
            return None
        motia = self.walk.motia_name(node.value if isinstance(node, cst.Subscript) else node)
        if motia is not None:
            self.walk.need(any_type=True)
            return cst.parse_expression(MOTIA_TYPES.get(motia, "Any"))
        if isinstance(node, cst.BinaryOperation):  # X | None
            left, right = self.plain(node.left), self.plain(node.right)
            if left is None and right is None:
                return None
            return node.with_changes(left=left or node.left, right=right or node.right)
        return None
