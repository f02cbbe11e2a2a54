"""Stream handles built inside a function: `board = Stream("board")` -> `board = "board"`, and
a function that only returns one (`def scores(): return Stream("scores")`) returns the name.

In iii a stream is its name: the handle's method calls become `stream::*` calls that take it
(transform.py), so the handle itself only has to hold the name, as module-level handles do
(finish.py); `scores().set(...)` is followed through the function (analysis.stream_factory). A
handle the walk cannot follow stays, and the `Stream` name it uses is bound under a TODO
(rules/names.py, finish.py).
"""

import libcst as cst

from motia_import.model import Status
from motia_import.rules import Rule, Walk


class StreamHandles(Rule):
    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        value = original_node.value
        if not self.walk.in_function or not isinstance(value, cst.Call):
            return updated_node
        if self.walk.motia_name(value.func) != "Stream":
            return updated_node
        stream = self.walk.role(value)
        if stream is None or stream.kind != "stream" or not stream.detail:
            return updated_node
        for target in original_node.targets:
            held = self.walk.role(target.target)
            if not isinstance(target.target, cst.Name) or held != stream:
                return updated_node
        self.walk.note(
            original_node.value,
            "Stream(...)",
            Status.CONVERTED,
            "the handle holds the stream's name (iii's stream::* calls take it)",
        )
        return updated_node.with_changes(value=cst.parse_expression(stream.detail))

    def leave_Return(self, original_node: cst.Return, updated_node: cst.Return) -> cst.Return:
        stream = self.walk.stream_factory
        value = original_node.value
        if stream is None or not isinstance(value, cst.Call):
            return updated_node
        role = self.walk.role(value)
        if role is None or role.kind != "stream" or role.detail != stream:
            return updated_node
        self.walk.note(
            value,
            "Stream(...)",
            Status.CONVERTED,
            "the function returns the stream's name (iii's stream::* calls take it)",
        )
        return updated_node.with_changes(value=cst.parse_expression(stream))
