"""Working out values from source without running it: step configs, and the directories a
module puts on `sys.path`.

Only what a config or a path is usually built from is understood (literals, constants, f-strings,
`+`, calls kept as `Call` values; `__file__`, `os.path.*`, `pathlib`). Anything else becomes an
`Opaque` holding its source, so the reader can report it instead of guessing.
"""

import ast
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from motia_import.model import Opaque

MISSING = object()


class _Segments:
    """`ast.get_source_segment` without re-splitting the source on every call."""

    def __init__(self) -> None:
        self.source = ""
        self.starts: list[int] = []

    def of(self, source: str, node: ast.AST) -> str:
        if source is not self.source:
            self.source = source
            self.starts = [0]
            for index, char in enumerate(source):
                if char == "\n":
                    self.starts.append(index + 1)
        lineno = getattr(node, "lineno", None)
        end = getattr(node, "end_lineno", None)
        col, end_col = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
        if lineno is None or end is None or col is None or end_col is None:
            return ast.unparse(node)
        encoded_start = self.source[self.starts[lineno - 1] :].encode("utf-8")[:col]
        start = self.starts[lineno - 1] + len(encoded_start.decode("utf-8", "replace"))
        line_end = self.source[self.starts[end - 1] :].encode("utf-8")[:end_col]
        stop = self.starts[end - 1] + len(line_end.decode("utf-8", "replace"))
        return self.source[start:stop]


_SEGMENTS = _Segments()


def segment(source: str, node: ast.AST) -> str:
    return _SEGMENTS.of(source, node)


Lookup = Callable[[str], Any]  # a name not defined in the module: its value, or MISSING


@dataclass(frozen=True)
class Call:
    """A call in a config, such as `http("GET", "/x")` or `queue("t", config=QueueConfig(...))`."""

    func: str  # the dotted name called ("http", "motia.http", "QueueConfig")
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(hash=False)
    source: str

    @property
    def name(self) -> str:
        return self.func.rsplit(".", 1)[-1]


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def module_constants(tree: ast.Module, source: str, lookup: Lookup | None = None) -> dict[str, Any]:
    """Module-level names bound to values this evaluator understands, in order."""
    env: dict[str, Any] = {}
    for statement in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        for target in targets:
            if isinstance(target, ast.Name) and value is not None:
                env[target.id] = evaluate(value, source, env, lookup)
    return env


def evaluate(node: ast.expr, source: str, env: dict[str, Any], lookup: Lookup | None = None) -> Any:
    def opaque() -> Opaque:
        return Opaque(segment(source, node))

    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        found = lookup(node.id) if lookup else MISSING
        return opaque() if found is MISSING else found
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items: list[Any] = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                spread = evaluate(element.value, source, env, lookup)
                if not isinstance(spread, list):
                    return opaque()
                items.extend(spread)
            else:
                items.append(evaluate(element, source, env, lookup))
        return items
    if isinstance(node, ast.Dict):
        result: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                spread = evaluate(value, source, env, lookup)
                if not isinstance(spread, dict):
                    return opaque()
                result.update(spread)
                continue
            evaluated_key = evaluate(key, source, env, lookup)
            if isinstance(evaluated_key, Opaque):
                return opaque()
            result[evaluated_key] = evaluate(value, source, env, lookup)
        return result
    if isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
            elif isinstance(part, ast.FormattedValue) and part.format_spec is None:
                value = evaluate(part.value, source, env, lookup)
                if not isinstance(value, (str, int, float)):
                    return opaque()
                parts.append(str(value))
            else:
                return opaque()
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = evaluate(node.left, source, env, lookup)
        right = evaluate(node.right, source, env, lookup)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(left, list) and isinstance(right, list):
            return left + right
        return opaque()
    if isinstance(node, ast.Call):
        func = dotted(node.func)
        if func is None or any(isinstance(a, ast.Starred) for a in node.args):
            return opaque()
        kwargs = {k.arg: evaluate(k.value, source, env, lookup) for k in node.keywords if k.arg}
        if any(k.arg is None for k in node.keywords):
            return opaque()
        args = tuple(evaluate(a, source, env, lookup) for a in node.args)
        return Call(func, args, kwargs, segment(source, node))
    return opaque()


# Paths ---------------------------------------------------------------------------------------


def evaluate_path(node: ast.expr, env: dict[str, str], file: str, cwd: str) -> str | None:
    """The absolute POSIX path an expression builds from `__file__`, literals and names in
    `env`, or None when it is built from anything else. Relative results are taken from `cwd`
    (Motia ran steps from the project root)."""
    value = _path(node, env, file, cwd)
    if value is None:
        return None
    return posixpath.normpath(posixpath.join(cwd, value))


def _path(node: ast.expr, env: dict[str, str], file: str, cwd: str) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        if node.id == "__file__":
            return file
        return env.get(node.id)
    if isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                inner = _path(part.value, env, file, cwd)
                if inner is None:
                    return None
                parts.append(inner)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Add)):
        left = _path(node.left, env, file, cwd)
        right = _path(node.right, env, file, cwd)
        if left is None or right is None:
            return None
        return posixpath.join(left, right) if isinstance(node.op, ast.Div) else left + right
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = _path(node.value, env, file, cwd)
        return posixpath.dirname(_absolute(inner, cwd)) if inner is not None else None
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "parents"
        and isinstance(node.slice, ast.Constant)
    ):
        inner = _path(node.value.value, env, file, cwd)
        if inner is None or not isinstance(node.slice.value, int):
            return None
        result = _absolute(inner, cwd)
        for _ in range(node.slice.value + 1):
            result = posixpath.dirname(result)
        return result
    if isinstance(node, ast.Call):
        return _path_call(node, env, file, cwd)
    return None


def _absolute(path: str, cwd: str) -> str:
    return posixpath.normpath(posixpath.join(cwd, path))


def _path_call(node: ast.Call, env: dict[str, str], file: str, cwd: str) -> str | None:
    func = dotted(node.func) or ""
    args = [_path(a, env, file, cwd) for a in node.args]
    if any(a is None for a in args) or node.keywords:
        return None
    values = [a for a in args if a is not None]
    name = func.rsplit(".", 1)[-1]
    if func in ("os.getcwd", "Path.cwd", "pathlib.Path.cwd"):
        return cwd
    if name == "join" and values:
        return posixpath.join(*values)
    if name == "dirname" and len(values) == 1:
        return posixpath.dirname(_absolute(values[0], cwd))
    if name in ("abspath", "realpath", "normpath") and len(values) == 1:
        return _absolute(values[0], cwd)
    if name in ("Path", "PurePath", "PosixPath", "str", "fspath") and values:
        return posixpath.join(*values)
    if isinstance(node.func, ast.Attribute) and node.func.attr in ("resolve", "absolute"):
        inner = _path(node.func.value, env, file, cwd)
        return _absolute(inner, cwd) if inner is not None else None
    if isinstance(node.func, ast.Attribute) and node.func.attr == "joinpath":
        inner = _path(node.func.value, env, file, cwd)
        return posixpath.join(inner, *values) if inner is not None else None
    return None
