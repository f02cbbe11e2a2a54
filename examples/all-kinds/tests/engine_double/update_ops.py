# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""`state::update` and `stream::update` ops, as engine/src/update_ops.rs applies them: in order,
each failing op reported and skipped."""

import copy
from typing import Any

Message = dict[str, Any]

_PROTO_KEYS = ("__proto__", "constructor", "prototype")


_OPS_DOC = "https://iii.dev/docs/workers/iii-state#error-codes"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _json_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_json_depth(v) for v in value), default=0)
    return 0


def _path_problem(segments: list[str]) -> tuple[str, str] | None:
    if len(segments) > 32:
        return "too_deep", f"Path depth {len(segments)} exceeds maximum of 32"
    for segment in segments:
        size = len(segment.encode())
        if not segment:
            return "empty_segment", "Path contains an empty segment"
        if size > 256:
            return "segment_too_long", f"Path segment of {size} bytes exceeds maximum of 256"
        if segment in _PROTO_KEYS:
            return (
                "proto_polluted",
                f"Path segment '{segment}' is not allowed (prototype pollution).",
            )
    return None


def _merge_problem(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return "not_an_object", "Merge value must be a JSON object"
    if len(value) > 1024:
        return (
            "too_many_keys",
            f"Merge value has {len(value)} top-level keys, exceeds maximum of 1024",
        )
    polluted = next((key for key in value if key in _PROTO_KEYS), None)
    if polluted is not None:
        return (
            "proto_polluted",
            f'Merge value top-level key "{polluted}" is a prototype-pollution sink',
        )
    if _json_depth(value) > 16:
        return (
            "too_deep",
            f"Merge value JSON nesting depth {_json_depth(value)} exceeds maximum of 16",
        )
    return None


class _Ops:
    """Applies one update's ops to a working copy of the stored value."""

    def __init__(self, old: Any, present: bool) -> None:
        self.current: Any = copy.deepcopy(old) if present else {}
        self.using_default = not present  # an absent key starts from `{}` (or the op's own value)
        self.errors: list[Message] = []

    def error(self, index: int, code: str, message: str) -> None:
        self.errors.append(
            {"op_index": index, "code": code, "message": message, "doc_url": _OPS_DOC}
        )

    def path_ok(self, op: str, index: int, segments: list[str]) -> bool:
        problem = _path_problem(segments)
        if problem is not None:
            self.error(index, f"{op}.path.{problem[0]}", problem[1])
        return problem is None

    def walk(self, segments: list[str]) -> dict[str, Any]:
        """The object at `segments`, creating (or replacing non-objects with) empty objects."""
        if not isinstance(self.current, dict):
            self.current = {}
        node: dict[str, Any] = self.current
        for segment in segments:
            if not isinstance(node.get(segment), dict):
                node[segment] = {}
            node = node[segment]
        return node

    def append_to(self, index: int, target: Any, value: Any, label: str) -> tuple[bool, Any]:
        if isinstance(target, list):
            return True, [*target, value]
        if isinstance(target, str):
            if isinstance(value, str):
                return True, target + value
            self.error(
                index,
                "append.type_mismatch",
                f"Expected string append value at path '{label}', got {_json_type(value)}.",
            )
            return False, target
        if target is None:
            return True, value if isinstance(value, str) else [value]
        self.error(
            index,
            "append.type_mismatch",
            f"Cannot append at path '{label}': target is {_json_type(target)}, expected "
            "array, string, null, or missing field.",
        )
        return False, target

    def apply(self, index: int, op: Message) -> None:
        kind = op["type"]
        if kind in ("set", "increment", "decrement", "remove"):
            self.field_op(index, kind, op)
        elif kind == "merge":
            self.merge(index, op)
        elif kind == "append":
            self.append(index, op)
        else:
            raise KeyError(f"unknown variant `{kind}`")

    def field_op(self, index: int, kind: str, op: Message) -> None:
        path = op["path"]
        if not isinstance(path, str):
            raise KeyError("path")
        if not self.path_ok(kind, index, [path] if path else []):
            return
        by = op["by"] if kind in ("increment", "decrement") else 0
        if not isinstance(by, int) or isinstance(by, bool):
            raise KeyError("by")
        if path and not isinstance(self.current, dict):
            self.error(
                index,
                f"{kind}.target_not_object",
                f"Cannot {kind} at path '{path}': target is {_json_type(self.current)}, "
                "expected object.",
            )
            return
        # The root is the value under "" of a holder of its own (empty while it is missing).
        holder = self.current if path else {} if self.using_default else {"": self.current}
        if kind == "set":
            holder[path] = op.get("value")
        elif kind == "remove":
            holder.pop(path, None)
        elif path not in holder:
            holder[path] = -by if kind == "decrement" else by
        elif isinstance(holder[path], (int, float)) and not isinstance(holder[path], bool):
            holder[path] += -by if kind == "decrement" else by
        else:
            label, found = path or "root", _json_type(holder[path])
            self.error(
                index, f"{kind}.not_number", f"Expected number at path '{label}', got {found}."
            )
            return
        if not path:
            self.current = holder.get(path)
        self.using_default = False

    @staticmethod
    def segments(path: Any) -> list[str]:
        if path is None or path == "":
            return []
        return [path] if isinstance(path, str) else [str(segment) for segment in path]

    def merge(self, index: int, op: Message) -> None:
        segments, value = self.segments(op.get("path")), op["value"]
        if not self.path_ok("merge", index, segments):
            return
        problem = _merge_problem(value)
        if problem is not None:
            self.error(index, f"merge.value.{problem[0]}", problem[1])
            return
        if segments:
            self.walk(segments).update(value)
        elif isinstance(self.current, dict):
            self.current.update(value)
        else:
            return  # the engine logs a warning and leaves a non-object root alone
        self.using_default = False

    def append(self, index: int, op: Message) -> None:
        segments, value = self.segments(op.get("path")), op["value"]
        if not self.path_ok("append", index, segments):
            return
        if not segments:
            ok, self.current = self.append_to(
                index, None if self.using_default else self.current, value, "root"
            )
            self.using_default = self.using_default and not ok
            return
        if not isinstance(self.current, dict):
            self.error(
                index,
                "append.target_not_object",
                f"Cannot append at path '[{', '.join(segments)}]': target is "
                f"{_json_type(self.current)}, expected object.",
            )
            return
        *parents, leaf = segments
        parent = self.walk(parents) if parents else self.current
        if leaf in parent:
            _, parent[leaf] = self.append_to(index, parent[leaf], value, leaf)
        else:  # a new nested leaf always starts an array; a top-level one keeps a string whole
            parent[leaf] = value if isinstance(value, str) and not parents else [value]
        self.using_default = False


def apply_update_ops(old: Any, present: bool, ops: Any) -> Message:
    """The `{old_value, new_value, errors?}` answer of `state::update` and `stream::update`."""
    if not isinstance(ops, list):
        raise KeyError("ops")
    work = _Ops(old, present)
    for index, op in enumerate(ops):
        work.apply(index, op)
    result: Message = {"old_value": old if present else None, "new_value": work.current}
    if work.errors:
        result["errors"] = work.errors
    return result
