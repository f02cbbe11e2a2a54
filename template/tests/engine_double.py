"""Owned by the copier-iii-worker template: `copier update` replaces this file, so do not edit it
in a project (your changes would be overwritten); report what it gets wrong upstream instead.

A stand-in for the iii engine, so the worker can be tested without installing one. It plays the
engine of one iii line (`line`: "0.11", "0.22" or "0.25"; by default the installed iii-sdk's)
running the engine workers the project runs (`providers`; `for_project` reads them from the
project's worker-compose.yaml or config.yaml), and behaves toward a worker the way that engine
does:

- the WebSocket protocol: `workerregistered` (with `features` and `functionregistered` acks from
  0.25 on), registrations that live and die with their connection, identity conflicts from 0.23;
- calls: a worker's `trigger` reaches the worker that registered the function (or a built-in),
  enqueue and void actions, `function_not_found` and `invocation_stopped` worded as the line does;
- triggers: a type nobody provides is parked, a bad config is refused with the provider's error,
  conditions and metadata on every firing;
- the built-ins of the providers that run: `state::*`, `stream::*`, `iii::durable::publish` (with
  the line's retry count and a dead-letter list), `publish`, `engine::channels::create`;
- HTTP as the line's http worker serves it (routing, middleware, conditions, error envelopes,
  streamed bodies over channel sockets), cron ticks checked by the scheduler's parser, and stream
  connections (`auth_function`, `stream:join`, `stream:leave`).

The template's docs/engine-double.md names the engine source each behaviour follows. The event
loop runs on a daemon thread, so a test that forgets `stop()` still exits.
"""

import asyncio
import contextlib
import copy
import importlib.metadata
import json
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import yaml
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

Message = dict[str, Any]
T = TypeVar("T")

LINES = ("0.11", "0.22", "0.25")
PROVIDERS = frozenset({"http", "cron", "queue", "state", "stream", "pubsub"})

# Trigger types, by the engine worker that provides them.
TRIGGER_PROVIDERS = {
    "http": "http", "cron": "cron", "durable:subscriber": "queue", "state": "state",
    "stream": "stream", "stream:join": "stream", "stream:leave": "stream", "subscribe": "pubsub",
}  # fmt: skip

# What a run config may call each engine worker: the in-engine builtins' `iii-*` names (every line
# up to 0.22), 0.22's unprefixed names and 0.25's registry packages.
_WORKER_NAMES = {prefix + name: name for name in PROVIDERS for prefix in ("", "iii-")}
_REGISTRY = "package://api.workers.iii.dev/"

# What a 0.25 engine announces in `workerregistered` (`large-messages.v1` is the SDK's alone).
FEATURES_0_25 = ("observe.v1", "local-dispatch.v1")

_NO_QUEUE_PROVIDER = (
    "No queue provider is installed. `TriggerAction::Enqueue` routes through the "
    "`engine::queue::enqueue` provider, which the standalone queue worker registers. "
    "Add it with `iii worker add queue`. (underlying: {underlying})"
)


def installed_line() -> str:
    """The line of the installed iii-sdk (engine and SDK share the minor version)."""
    try:
        version = importlib.metadata.version("iii-sdk")
    except importlib.metadata.PackageNotFoundError:
        return LINES[-1]
    found = re.match(r"0\.(\d+)", version)
    minor = int(found.group(1)) if found else 99
    return "0.11" if minor < 12 else "0.22" if minor < 23 else "0.25"


class InvocationFailed(Exception):
    """A function answered an invocation with an error (`.error` is the engine's error body)."""

    def __init__(self, error: Message) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = error


@dataclass
class HttpResponse:
    """What an HTTP client of the engine would receive: `body` is the decoded JSON (or the text of
    a non-JSON body, None when empty), `content` the bytes on the wire."""

    status_code: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""


def _stopped() -> Message:
    """What the engine answers for a call whose worker went away mid-flight."""
    return {"code": "invocation_stopped", "message": "Invocation stopped"}


async def _bounded(awaitable: Awaitable[Any], seconds: float | None) -> Any:
    """Await with a time limit, raising the builtin TimeoutError on every Python version."""
    future = asyncio.ensure_future(awaitable)
    if seconds is None:
        return await future
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        future.cancel()

    timer = asyncio.get_running_loop().call_later(seconds, expire)
    try:
        return await future
    except asyncio.CancelledError:
        if expired:
            raise TimeoutError(f"no answer within {seconds} s") from None
        raise
    finally:
        timer.cancel()


# ---------------------------------------------------------------------------------------------
# Cron expressions, as the `cron` crate 0.15 (every line's scheduler) parses them.

_CRON_SHORTHANDS = {"@yearly", "@monthly", "@weekly", "@daily", "@hourly"}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_LONG_NAMES = {
    "january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
}  # fmt: skip
_LONG_DAYS = {
    "sunday": 1, "monday": 2, "tues": 3, "tuesday": 3, "wednesday": 4, "thurs": 5,
    "thursday": 5, "friday": 6, "saturday": 7,
}  # fmt: skip
# (name, inclusive min, inclusive max, accepts `?`), seconds first; years are optional.
_CRON_FIELDS = (
    ("Seconds", 0, 59, False),
    ("Minutes", 0, 59, False),
    ("Hours", 0, 23, False),
    ("Days of Month", 1, 31, True),
    ("Months", 1, 12, False),
    ("Days of Week", 1, 7, True),
    ("Years", 1970, 2100, False),
)
_CRON_TOKEN = re.compile(r"^(?:(\*|\?)|(\d+)-(\d+)|(\d+)|([A-Za-z]+)-([A-Za-z]+)|([A-Za-z]+))$")


class _CronError(ValueError):
    pass


def _cron_name(field_name: str, name: str) -> int:
    lower = name.lower()
    if field_name == "Months":
        if lower in _MONTHS:
            return _MONTHS.index(lower) + 1
        if lower in _LONG_NAMES:
            return _LONG_NAMES[lower]
        raise _CronError(f"'{name}' is not a valid month name.")
    if field_name == "Days of Week":
        if lower in _DAYS:
            return _DAYS.index(lower) + 1
        if lower in _LONG_DAYS:
            return _LONG_DAYS[lower]
        raise _CronError(f"'{name}' is not a valid day of the week.")
    raise _CronError(f"The '{field_name}' field does not support using names. '{name}' specified.")


def _cron_ordinal(field_name: str, low: int, high: int, value: int) -> int:
    if value < low:
        raise _CronError(
            f"{field_name} must be greater than or equal to {low}. ('{value}' specified.)"
        )
    if value > high:
        raise _CronError(f"{field_name} must be less than {high}. ('{value}' specified.)")
    return value


def _cron_item(spec: tuple[str, int, int, bool], item: str) -> None:
    """One comma-separated item of a field: a point, range, name, `*`/`?`, each with `/step`."""
    name, low, high, any_allowed = spec
    base, slash, step = item.partition("/")
    token = _CRON_TOKEN.match(base)
    if token is None or (slash and not step.isdigit()):
        raise _CronError("invalid cron expression syntax")
    star, start, end, point, name_start, name_end, named = token.groups()
    if star == "?" and not any_allowed:
        raise _CronError("invalid cron expression syntax")
    if slash:
        if named:  # a named point takes no step
            raise _CronError("invalid cron expression syntax")
        if int(step) == 0:
            raise _CronError("range step cannot be zero")
        if int(step) > high:
            raise _CronError(f"{name} must be between 1 and {high}. ('{step}' specified.)")
    if point:
        _cron_ordinal(name, low, high, int(point))
    elif start:
        first, last = int(start), int(end)
        if not (low <= first <= high and low <= last <= high and first <= last):
            raise _CronError(f"Invalid range for {name}: {first}-{last}")
    elif name_start:
        first, last = _cron_name(name, name_start), _cron_name(name, name_end)
        if first > last:
            raise _CronError(f"Invalid named range for {name}: {name_start}-{name_end}")
    elif named:
        _cron_name(name, named)


def cron_problem(expression: str) -> str | None:
    """Why the scheduler refuses a cron expression, or None when it accepts it."""
    if expression.strip() in _CRON_SHORTHANDS:
        return None
    fields = expression.split()
    if len(fields) not in (6, 7):
        return "invalid cron expression syntax (6 or 7 fields, seconds first)"
    try:
        for spec, value in zip(_CRON_FIELDS[: len(fields)], fields, strict=True):
            for item in value.split(","):
                _cron_item(spec, item)
    except _CronError as error:
        return str(error)
    return None


# ---------------------------------------------------------------------------------------------
# state::update and stream::update ops, as engine/src/update_ops.rs applies them: in order, each
# failing op reported and skipped.

_PROTO_KEYS = ("__proto__", "constructor", "prototype")
_OPS_DOC = "https://iii.dev/docs/workers/iii-state#error-codes"


# ---------------------------------------------------------------------------------------------
# The registry queue's durable:subscriber config, as serde reads its `SubscriberSpec`: `queue`
# (alias `topic`), `max_retries` (alias `maxRetries`, a u32), `backoff_ms` (alias
# `backoffDelayMs`, a u64), `condition_function_id` and `queue_config`, whose fields take
# their snake_case names or camelCase aliases.

_SPEC_FIELDS = {
    "queue": ("topic", "string"),
    "max_retries": ("maxRetries", "u32"),
    "backoff_ms": ("backoffDelayMs", "u64"),
    "condition_function_id": (None, "string?"),
    "queue_config": (None, "queue_config"),
}
_QUEUE_CONFIG_FIELDS = {
    "type": (None, "string?"),
    "max_retries": ("maxRetries", "u32"),
    "concurrency": (None, "u32"),
    "visibility_timeout": ("visibilityTimeout", "u64"),
    "delay_seconds": ("delaySeconds", "u64"),
    "backoff_type": ("backoffType", "string?"),
    "backoff_delay_ms": ("backoffDelayMs", "u64"),
    "max_priority": (None, "u8"),
}
_UNSIGNED = {"u8": 2**8, "u32": 2**32, "u64": 2**64}


def _is_u64(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64


def _spelled(settings: Any, name: str, alias: str | None, default: Any = "") -> Any:
    """A field under its own name or its serde alias."""
    if not isinstance(settings, dict):
        return default
    return settings.get(name, settings.get(alias, default) if alias else default)


def _serde_type(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f"string {json.dumps(value)}"
    return "null" if value is None else "sequence" if isinstance(value, list) else "map"


def _field_problem(value: Any, kind: str) -> str | None:
    if kind == "string?":
        kind = "string" if value is not None else "none"
    if kind == "none":
        return None
    if kind == "string":
        return (
            None
            if isinstance(value, str)
            else f"invalid type: {_serde_type(value)}, expected a string"
        )
    if kind == "queue_config":
        if value is None:
            return None
        if not isinstance(value, dict):
            return f"invalid type: {_serde_type(value)}, expected struct SubscriberQueueConfig"
        return _struct_problem(value, _QUEUE_CONFIG_FIELDS)
    if value is None:
        return None  # an Option field takes null
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < _UNSIGNED[kind]:
            return None
        return f"invalid value: integer `{value}`, expected {kind}"
    return f"invalid type: {_serde_type(value)}, expected {kind}"


def _struct_problem(settings: Message, fields: dict[str, tuple[str | None, str]]) -> str | None:
    for name, (alias, kind) in fields.items():
        if alias is not None and name in settings and alias in settings:
            return f"duplicate field `{name}`"
        if name in settings or (alias is not None and alias in settings):
            problem = _field_problem(_spelled(settings, name, alias, None), kind)
            if problem is not None:
                return problem
    return None


def subscriber_spec_problem(config: Any) -> str | None:
    """Why the registry queue refuses this durable:subscriber config, or None."""
    if not isinstance(config, dict):
        return f"invalid type: {_serde_type(config)}, expected struct SubscriberSpec"
    if "queue" not in config and "topic" not in config:
        return "missing field `queue`"
    return _struct_problem(config, _SPEC_FIELDS)


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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_json_depth(v) for v in value), default=0)
    return 0


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
        if len(segments) > 32:
            self.error(
                index, f"{op}.path.too_deep", f"Path depth {len(segments)} exceeds maximum of 32"
            )
            return False
        for segment in segments:
            if not segment:
                self.error(index, f"{op}.path.empty_segment", "Path contains an empty segment")
                return False
            if len(segment.encode()) > 256:
                self.error(
                    index,
                    f"{op}.path.segment_too_long",
                    f"Path segment of {len(segment.encode())} bytes exceeds maximum of 256",
                )
                return False
            if segment in _PROTO_KEYS:
                self.error(
                    index,
                    f"{op}.path.proto_polluted",
                    f"Path segment '{segment}' is not allowed (prototype pollution).",
                )
                return False
        return True

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
        sign = -1 if kind == "decrement" else 1
        if not path:
            if kind == "set":
                self.current = op.get("value")
            elif kind == "remove":
                self.current = None
            elif self.using_default:
                self.current = sign * by
            elif _is_number(self.current):
                self.current = self.current + sign * by
            else:
                self.error(
                    index,
                    f"{kind}.not_number",
                    f"Expected number at path 'root', got {_json_type(self.current)}.",
                )
                return
        elif isinstance(self.current, dict):
            if kind == "set":
                self.current[path] = op.get("value")
            elif kind == "remove":
                self.current.pop(path, None)
            elif path not in self.current:
                self.current[path] = sign * by
            elif _is_number(self.current[path]):
                self.current[path] += sign * by
            else:
                self.error(
                    index,
                    f"{kind}.not_number",
                    f"Expected number at path '{path}', got {_json_type(self.current[path])}.",
                )
                return
        else:
            self.error(
                index,
                f"{kind}.target_not_object",
                f"Cannot {kind} at path '{path}': target is {_json_type(self.current)}, "
                "expected object.",
            )
            return
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
        if not isinstance(value, dict):
            self.error(index, "merge.value.not_an_object", "Merge value must be a JSON object")
            return
        if len(value) > 1024:
            self.error(
                index,
                "merge.value.too_many_keys",
                f"Merge value has {len(value)} top-level keys, exceeds maximum of 1024",
            )
            return
        polluted = next((key for key in value if key in _PROTO_KEYS), None)
        if polluted is not None:
            self.error(
                index,
                "merge.value.proto_polluted",
                f'Merge value top-level key "{polluted}" is a prototype-pollution sink',
            )
            return
        if _json_depth(value) > 16:
            self.error(
                index,
                "merge.value.too_deep",
                f"Merge value JSON nesting depth {_json_depth(value)} exceeds maximum of 16",
            )
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


# ---------------------------------------------------------------------------------------------
# Connections, channels, routes.


@dataclass(eq=False)
class _Worker:
    connection: ServerConnection
    worker_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    reattach_token: str = field(default_factory=lambda: str(uuid.uuid4()))
    name: str | None = None
    namespace: str = "default"
    functions: dict[str, Message] = field(default_factory=dict)
    triggers: dict[str, Message] = field(default_factory=dict)


class _Channel:
    """An engine channel: frames written at one end come out at the other; None closes it."""

    def __init__(self) -> None:
        self.id = str(uuid.uuid4())
        self.key = str(uuid.uuid4())
        self.frames: asyncio.Queue[str | bytes | None] = asyncio.Queue()

    def ref(self, direction: str) -> Message:
        return {"channel_id": self.id, "access_key": self.key, "direction": direction}


@dataclass
class _Route:
    trigger: Message
    method: str
    path: str  # as the line's http worker keeps it (0.25 turns `{id}` into `:id`)

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


def _is_param(segment: str) -> bool:
    return segment.startswith(":") or (
        len(segment) > 2 and segment.startswith("{") and segment.endswith("}")
    )


def _route_params(route: _Route, path: str) -> dict[str, str] | None:
    """Path params if `path` matches the route (only `:name` segments are captured)."""
    wanted = [s for s in path.split("/") if s]
    if len(wanted) != len(route.segments):
        return None
    params: dict[str, str] = {}
    for pattern, actual in zip(route.segments, wanted, strict=True):
        if pattern.startswith(":"):
            params[pattern[1:]] = actual
        elif not _is_param(pattern) and pattern != actual:
            return None
    return params


def _shape(method: str, path: str) -> str:
    segments = ["{}" if _is_param(s) else s for s in path.split("/")]
    return f"{method}:{'/'.join(segments)}"


def _error_id() -> str:
    return format(time.time_ns() & 0xFFFFFFFFFFFF, "x")


# serde_json refuses input nested 128 deep (its recursion limit counts every `[` and `{`).
SERDE_DEPTH_LIMIT = 128


def _json_bytes(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":")).encode()
    except RecursionError:  # deeper than Python's encoder goes: encode without recursion
        return _deep_json(value).encode()


def _deep_json(value: Any) -> str:
    parts: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            parts.append(item.text)
        elif isinstance(item, dict):
            stack.append(_Raw("}"))
            for index, (key, inner) in reversed(list(enumerate(item.items()))):
                stack.extend([inner, _Raw(("," if index else "") + json.dumps(str(key)) + ":")])
            stack.append(_Raw("{"))
        elif isinstance(item, (list, tuple)):
            stack.append(_Raw("]"))
            for index, inner in reversed(list(enumerate(item))):
                stack.extend([inner, _Raw("," if index else "")])
            stack.append(_Raw("["))
        else:
            parts.append(json.dumps(item))
    return "".join(parts)


@dataclass(frozen=True)
class _Raw:
    text: str


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _serde_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return number


def _serde_int(text: str) -> int | float:
    number = int(text)  # serde_json keeps i64 and u64; anything wider becomes an f64
    return number if -(2**63) <= number < 2**64 else _serde_float(text)


def _nesting(text: str) -> int:
    """The deepest `[`/`{` nesting outside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _has_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= char <= "\udfff" for char in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def serde_json_loads(raw: bytes) -> Any:
    """Parse `raw` as serde_json::from_slice does, raising ValueError where it fails: strict
    UTF-8 (no BOM), no NaN or Infinity, at most 127 levels of nesting, no lone surrogate
    (`"\\ud800"`), integers wider than 64 bits read as floats."""
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if _nesting(text) >= SERDE_DEPTH_LIMIT:
        raise ValueError("recursion limit exceeded")
    value = json.loads(
        text, parse_constant=_refuse_constant, parse_float=_serde_float, parse_int=_serde_int
    )
    if _has_surrogate(value):
        raise ValueError("lone surrogate in hex escape")
    return value


def _decoded(content: bytes, headers: dict[str, str]) -> Any:
    if not content:
        return None
    text = content.decode("utf-8", "replace")
    if "json" in headers.get("content-type", ""):
        with contextlib.suppress(ValueError):
            return json.loads(text)
    return text


# ---------------------------------------------------------------------------------------------
# Run configs.


def _read_yaml(path: Path) -> Message:
    data = yaml.safe_load(path.read_text()) if path.is_file() else None
    return data if isinstance(data, dict) else {}


def _run_config(root: Path) -> tuple[set[str] | None, str | None, dict[str, Message] | None]:
    """Providers, stream auth function and named queues from the project's run config."""
    compose = _read_yaml(root / "worker-compose.yaml")
    if compose:
        providers = set()
        for container in (compose.get("containers") or {}).values():
            worker = str(container.get("worker", "")) if isinstance(container, dict) else ""
            name = (
                worker.removeprefix(_REGISTRY).split("@")[0] if worker.startswith(_REGISTRY) else ""
            )
            if name in _WORKER_NAMES:
                providers.add(_WORKER_NAMES[name])
        engine_workers = (compose.get("engine") or {}).get("workers") or {}
        auth = None
        if "iii-stream" in engine_workers:
            providers.add("stream")
            auth = (engine_workers.get("iii-stream") or {}).get("auth_function")
        return providers, auth, None
    config = _read_yaml(root / "config.yaml")
    if not config:
        return None, None, None
    providers, auth, queues = set(), None, None
    for entry in [*(config.get("workers") or []), *(config.get("modules") or [])]:
        if not isinstance(entry, dict) or entry.get("name") not in _WORKER_NAMES:
            continue
        provider, settings = _WORKER_NAMES[entry["name"]], entry.get("config") or {}
        providers.add(provider)
        if provider == "stream":
            auth = settings.get("auth_function")
        if provider == "queue":
            queues = dict(settings.get("queue_configs") or {})
    return providers, auth, queues


def _answered_line(root: Path) -> str | None:
    line = _read_yaml(root / ".copier-answers.yml").get("iii_line")
    return str(line) if line else None


# ---------------------------------------------------------------------------------------------


class EngineDouble:
    """The engine's side of the WebSocket protocol, in memory. Start it, point III_URL at `url`."""

    def __init__(
        self,
        *,
        line: str | None = None,
        providers: set[str] | frozenset[str] | None = None,
        auth_function: str | None = None,
        queues: dict[str, Message] | None = None,
        retry_delay: float = 0.05,
        http_timeout: float = 5.0,
    ) -> None:
        """`providers`: the engine workers that run (default: all of them). `queues`: the named
        queues `TriggerAction.Enqueue` may use, `{name: {"max_retries": n}}` (default: any).
        `retry_delay`: the first queue retry's delay (the engine's is 1 s). `http_timeout`: how
        long HTTP waits for a handler (the engine's `default_timeout` is 30 s)."""
        self.line = line or installed_line()
        if self.line not in LINES:
            raise ValueError(f"line must be one of {', '.join(LINES)}, not {self.line!r}")
        self.providers = frozenset(PROVIDERS if providers is None else providers)
        if not self.providers <= PROVIDERS:
            raise ValueError(f"unknown providers: {sorted(self.providers - PROVIDERS)}")
        self.auth_function = auth_function
        self.queues = queues
        self.retry_delay = retry_delay
        self.http_timeout = http_timeout
        self.workers: list[Message] = []  # engine::workers::register metadata, in arrival order
        self.rejected: list[Message] = []  # triggerregistrationresult errors sent
        self.registration_rejections: list[Message] = []  # registrationrejected frames sent
        self.parked: list[Message] = []  # triggers of a type no running worker provides
        # Subscribe triggers still registered whose subscription the in-engine pubsub dropped.
        self._unsubscribed: set[str] = set()
        self.calls: list[tuple[str, Any]] = []  # calls to built-in functions
        self.state: dict[tuple[str, str], Any] = {}
        self.streams: dict[tuple[str, str, str], Any] = {}
        # Groups stay listed after their last key or item is deleted: the engine's in-memory
        # store keeps the emptied map until a restart.
        self._groups: set[tuple[str, ...]] = set()
        self.dead_letters: list[Message] = []
        # Trigger firings the worker handled, and those a condition skipped, as (function id, data).
        self.fired: list[tuple[str, Any]] = []
        self.skipped: list[tuple[str, Any]] = []
        self.connections_seen = 0  # worker connections (not channel or telemetry sockets)
        self.telemetry_connections = 0
        self._workers: list[_Worker] = []
        self._owners: dict[str, _Worker] = {}  # function id -> the worker that serves it
        self._routes: dict[str, _Route] = {}
        self._channels: dict[str, _Channel] = {}
        self._pending: dict[str, tuple[asyncio.Future[Message], _Worker]] = {}
        self._builtins = self._builtin_table()
        self._changed = threading.Condition()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._loop: asyncio.AbstractEventLoop  # made by start(), so an unstarted double holds none
        self._thread: threading.Thread
        self._server: Server | None = None
        self._port = 0
        self.url = ""

    @classmethod
    def for_project(
        cls,
        project_root: str | Path,
        *,
        line: str | None = None,
        retry_delay: float = 0.05,
        http_timeout: float = 5.0,
    ) -> "EngineDouble":
        """The engine a project runs: its line (from .copier-answers.yml, else the installed SDK),
        the engine workers its worker-compose.yaml or config.yaml starts, and iii-stream's
        auth_function. Without a run config, every provider runs."""
        root = Path(project_root)
        providers, auth_function, queues = _run_config(root)
        return cls(
            line=line or _answered_line(root),
            providers=providers,
            auth_function=auth_function,
            queues=queues,
            retry_delay=retry_delay,
            http_timeout=http_timeout,
        )

    # Lifecycle (called from tests).

    def start(self) -> "EngineDouble":
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._run(self._listen())
        self.url = f"ws://127.0.0.1:{self._port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._run(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def restart(self) -> None:
        """Go away (closing every connection, as a crashed engine would) and come back on the same port."""
        self._run(self._close())
        self._run(self._listen())

    def reset(self) -> None:
        """Forget calls, state and streams (registrations stay, as they would on a live engine)."""
        with self._changed:
            self.calls.clear()
            self.state.clear()
            self.streams.clear()
            self._groups.clear()
            self.dead_letters.clear()
            self.fired.clear()
            self.skipped.clear()

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until `condition()` holds: checked after every change the engine sees, and every
        20 ms for conditions on the test's own data."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the engine double did not see what the test waited for")
                self._changed.wait(min(left, 0.02))

    def wait_for_functions(self, *function_ids: str, timeout: float = 10.0) -> None:
        """Block until each of these functions is registered."""
        wanted = set(function_ids)
        self.wait_until(lambda: wanted <= self.functions.keys(), timeout)

    def wait_for_triggers(self, *function_ids: str, timeout: float = 10.0) -> None:
        """Block until a trigger bound to each of these functions is registered."""
        wanted = set(function_ids)
        self.wait_until(
            lambda: wanted <= {t["function_id"] for t in self.triggers.values()}, timeout
        )

    # What the worker registered, across its live connections.

    @property
    def functions(self) -> dict[str, Message]:
        with self._changed:
            return {k: v for w in self._workers for k, v in w.functions.items()}

    @property
    def triggers(self) -> dict[str, Message]:
        with self._changed:
            return {k: v for w in self._workers for k, v in w.triggers.items()}

    def triggers_of(self, trigger_type: str) -> list[Message]:
        return [t for t in self.triggers.values() if t["trigger_type"] == trigger_type]

    # Acting as the engine's workers would (called from tests).

    def invoke(self, function_id: str, data: Any, timeout: float = 10.0) -> Any:
        """Call a worker's function as a trigger would and return its result."""
        return self._run(self._call(function_id, data, within=timeout), timeout + 1)

    def invoke_many(self, calls: list[tuple[str, Any]], timeout: float = 30.0) -> list[Any]:
        """Call many functions at once; each result, or the `InvocationFailed` it raised."""

        async def everything() -> list[Any]:
            coroutines = [self._call(f, data, within=timeout) for f, data in calls]
            return await asyncio.gather(*coroutines, return_exceptions=True)

        return self._run(everything(), timeout)

    def http(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        query: Mapping[str, str | list[str]] | None = None,
        data: bytes | str | None = None,
    ) -> HttpResponse:
        """An HTTP request to the engine's http worker: `body` is sent as JSON, `data` as is.
        `query` adds to the path's query string; a list value repeats its key (the handler, as
        for real, gets one string per key: the last)."""
        request_headers = {name.lower(): value for name, value in (headers or {}).items()}
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data or b""
        if body is not None:
            raw = _json_bytes(body)
            request_headers.setdefault("content-type", "application/json")
        request_headers.setdefault("host", "127.0.0.1:3111")
        if raw:
            request_headers.setdefault("content-length", str(len(raw)))
        route, _, query_string = path.partition("?")
        pairs = parse_qsl(query_string, keep_blank_values=True)  # `?a=` is `a: ""` for real
        for name, value in (query or {}).items():
            pairs.extend((name, item) for item in (value if isinstance(value, list) else [value]))
        params = dict(pairs)  # serde_urlencoded into a map: the last value of a key wins
        coroutine = self._http(method.upper(), route, raw, request_headers, params)
        return self._run(coroutine, self.http_timeout + 10)

    def call(self, function_id: str, data: Any) -> Any:
        """Call a function (`state::set`, `stream::set`, a worker's) as another worker would."""
        return self._run(self._call(function_id, data))

    def cron_tick(self, function_id: str) -> None:
        """Fire the cron trigger bound to `function_id` once, as the scheduler would (a false or
        failing condition skips it; a failing handler raises `InvocationFailed` here, where the
        scheduler would log it)."""
        (trigger,) = [t for t in self.triggers_of("cron") if t["function_id"] == function_id]
        now = datetime.now(timezone.utc).isoformat()
        payload = {
            "trigger": "cron",
            "job_id": trigger["id"],
            "scheduled_time": now,
            "actual_time": now,
        }
        self._run(self._tick(trigger, payload))

    def authenticate(
        self, query_params: dict[str, list[str]], headers: dict[str, str] | None = None
    ) -> Any:
        """The context a stream connection gets: the auth function's, or None (it fails open)."""
        if self.auth_function is None:
            return None
        request = {
            "headers": headers or {},
            "path": "/",
            "query_params": query_params,
            "addr": "127.0.0.1:50000",
        }
        try:
            result = self.invoke(self.auth_function, request)
        except InvocationFailed:
            return None
        return result.get("context") if isinstance(result, dict) else None

    def join(
        self, stream_name: str, group_id: str, context: Any = None, item_id: str | None = None
    ) -> bool:
        """Whether a stream subscription is let in: every join handler is asked, and it is refused
        when any answers `{"unauthorized": true}` (one that fails counts as a yes)."""
        event = self._subscription(stream_name, group_id, context, item_id)
        refused = False
        for trigger in self.triggers_of("stream:join"):
            try:
                result = self.invoke(trigger["function_id"], event)
            except InvocationFailed:
                continue
            refused = refused or (isinstance(result, dict) and result.get("unauthorized") is True)
        return not refused

    def leave(self, stream_name: str, group_id: str, context: Any = None) -> None:
        """Tell the leave handlers a subscription ended (the engine ignores their errors)."""
        event = self._subscription(stream_name, group_id, context, None)
        for trigger in self.triggers_of("stream:leave"):
            with contextlib.suppress(InvocationFailed):
                self.invoke(trigger["function_id"], event)

    # The engine's side of the connection, on its own loop.

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _listen(self) -> None:
        # A short open_timeout: a client that dies mid-handshake must not hold up stop().
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            self._port,
            open_timeout=2,
            process_request=self._refuse_unknown_paths,
            max_size=64 * 2**20,  # the engine accepts 64 MiB messages
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        # What was in flight dies with the engine (and must not outlive the loop).
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run in the background, holding a reference so the task is not collected mid-flight."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _record(self, change: Callable[[], object]) -> None:
        with self._changed:
            change()
            self._changed.notify_all()

    def _refuse_unknown_paths(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """The engine serves workers on `/`, telemetry on `/otel` and channels on
        `/ws/channels/{id}?key=...`; anything else (or a wrong channel key) is a 404."""
        url = urlsplit(request.path)
        if url.path in ("/", "/otel"):
            return None
        channel = self._channels.get(url.path.removeprefix("/ws/channels/"))
        if channel is not None and dict(parse_qsl(url.query)).get("key") == channel.key:
            return None
        return connection.respond(404, "Not Found\n")

    async def _serve(self, connection: ServerConnection) -> None:
        url = urlsplit(connection.request.path if connection.request else "/")
        if url.path == "/otel":
            await self._drain_telemetry(connection)
        elif url.path.startswith("/ws/channels/"):
            await self._serve_channel(connection, url.path.removeprefix("/ws/channels/"), url.query)
        else:
            await self._serve_worker(connection)

    async def _drain_telemetry(self, connection: ServerConnection) -> None:
        """The SDK's OTEL socket: the engine ingests its spans, logs and metrics; the double
        accepts and drops them."""

        def arrive() -> None:
            self.telemetry_connections += 1

        self._record(arrive)
        with contextlib.suppress(ConnectionClosed):
            async for _ in connection:
                pass

    async def _serve_worker(self, connection: ServerConnection) -> None:
        worker = _Worker(connection)

        def arrive() -> None:
            self._workers.append(worker)
            self.connections_seen += 1

        self._record(arrive)
        try:
            await connection.send(json.dumps(self._greeting(worker)))
            async for frame in connection:
                try:
                    message = json.loads(frame)
                except ValueError:
                    continue  # binary frames carry telemetry
                if isinstance(message, dict):
                    await self._receive(worker, message)
        except ConnectionClosed:
            pass
        finally:
            self._forget(worker)

    def _greeting(self, worker: _Worker) -> Message:
        greeting: Message = {"type": "workerregistered", "worker_id": worker.worker_id}
        if self.line != "0.11":  # reattach arrived in 0.22
            greeting["reattach_token"] = worker.reattach_token
        if self.line == "0.25":
            greeting["features"] = list(FEATURES_0_25)
        return greeting

    def _forget(self, worker: _Worker) -> None:
        """A closed connection: its registrations go, and calls in flight to it are stopped."""

        def leave() -> None:
            if worker not in self._workers:
                return
            self._workers.remove(worker)
            for function_id in worker.functions:
                if self._owners.get(function_id) is worker:
                    del self._owners[function_id]
            for trigger_id, trigger in worker.triggers.items():
                self._drop_route(trigger_id)
                self._unsubscribe(trigger)

        self._record(leave)
        for future, owner in list(self._pending.values()):
            if owner is worker and not future.done():
                future.set_result({"error": _stopped()})

    async def _send(self, worker: _Worker, message: Message) -> None:
        with contextlib.suppress(ConnectionClosed):
            await worker.connection.send(json.dumps(message))

    async def _receive(self, worker: _Worker, message: Message) -> None:
        kind = message.get("type")
        if kind == "invocationresult":
            pending = self._pending.pop(message.get("invocation_id", ""), None)
            if pending is not None and not pending[0].done():
                pending[0].set_result(message)
        elif kind == "invokefunction":
            self._spawn(self._invoked_by(worker, message))
        elif kind == "registerfunction":
            await self._register_function(worker, message)
        elif kind == "registertrigger":
            await self._register_trigger(worker, message)
        elif kind == "unregistertrigger":
            self._unsubscribe(worker.triggers.get(message["id"]))
            self._record(lambda: worker.triggers.pop(message["id"], None))
            self._drop_route(message["id"])
        elif kind == "unregisterfunction":
            self._unregister_function(worker, message["id"])
        elif kind == "reattach" and self.line != "0.11":
            self._reattach(worker, message)
        elif kind == "ping":
            await self._send(worker, {"type": "pong"})

    # Identity and registrations.

    def _reattach(self, worker: _Worker, message: Message) -> None:
        """A reconnecting worker retires its previous connection before replaying registrations."""
        previous = next(
            (w for w in self._workers if w.worker_id == message.get("previous_worker_id")), None
        )
        if previous is None or previous is worker:
            return
        if message.get("reattach_token") == previous.reattach_token:
            self._forget(previous)
            self._spawn(previous.connection.close())

    async def _reject(self, worker: _Worker, rejection: Message) -> None:
        self._record(lambda: self.registration_rejections.append(rejection))
        await self._send(worker, rejection)

    async def _register_function(self, worker: _Worker, message: Message) -> None:
        function_id = message["id"]
        owner = self._owners.get(function_id)
        if self.line == "0.25" and owner is not None and owner is not worker:
            # From 0.23 one live worker owns an id in a namespace; only this registration fails.
            await self._reject(
                worker,
                {
                    "type": "registrationrejected",
                    "code": "FUNCTION_NAMESPACE_CONFLICT",
                    "namespace": worker.namespace,
                    "function_id": function_id,
                    "owner_worker_id": owner.worker_id,
                },
            )
            return

        def register() -> None:
            if owner is not None and owner is not worker:  # up to 0.22 the newest one takes over
                owner.functions.pop(function_id, None)
            worker.functions[function_id] = message
            self._owners[function_id] = worker

        self._record(register)
        if self.line == "0.25":
            await self._send(
                worker,
                {
                    "type": "functionregistered",
                    "id": function_id,
                    "namespace": worker.namespace,
                    "revision": 1,
                    "local_dispatch": True,
                    "observers": [],
                },
            )

    def _unregister_function(self, worker: _Worker, function_id: str) -> None:
        def unregister() -> None:
            worker.functions.pop(function_id, None)
            if self._owners.get(function_id) is worker:
                del self._owners[function_id]

        self._record(unregister)

    async def _register_worker(self, worker: _Worker, metadata: Any) -> None:
        metadata = metadata if isinstance(metadata, dict) else {}
        name, namespace = metadata.get("name"), metadata.get("namespace") or "default"
        holder = next(
            (
                w
                for w in self._workers
                if w is not worker and (w.name, w.namespace) == (name, namespace)
            ),
            None,
        )
        if self.line == "0.25" and name and holder is not None:
            # A second live worker with the same name: fatal, the engine closes the connection.
            await self._reject(
                worker,
                {
                    "type": "registrationrejected",
                    "code": "WORKER_NAMESPACE_CONFLICT",
                    "namespace": namespace,
                    "worker_name": name,
                    "owner_worker_id": holder.worker_id,
                },
            )
            self._forget(worker)
            await worker.connection.close()
            return
        worker.name, worker.namespace = name, namespace
        self._record(lambda: self.workers.append(metadata))

    async def _register_trigger(self, worker: _Worker, message: Message) -> None:
        trigger_type = message.get("trigger_type", "")
        if TRIGGER_PROVIDERS.get(trigger_type) not in self.providers:
            self._record(lambda: self.parked.append(message))
            return
        route = self._route_of(message) if trigger_type == "http" else None
        error = self._config_error(trigger_type, message.get("config"))
        if error is None and route is not None:
            error = self._route_conflict(route)
        if error is None:
            self._unsubscribed.discard(message["id"])
            self._record(lambda: worker.triggers.__setitem__(message["id"], message))
            if route is not None:
                self._add_route(route)
            return
        reply = {
            "type": "triggerregistrationresult",
            "id": message["id"],
            "trigger_type": trigger_type,
            "function_id": message.get("function_id"),
            "error": {"code": "trigger_registration_failed", "message": error},
        }
        self._record(lambda: self.rejected.append(reply))
        await self._send(worker, reply)

    def _config_error(self, trigger_type: str, config: Any) -> str | None:
        """The provider's registration error for this config, or None when it accepts it."""
        settings = config if isinstance(config, dict) else {}
        if trigger_type == "http" and not isinstance(settings.get("api_path"), str):
            if self.line == "0.25":
                return "invalid http trigger config: missing field `api_path`"
            return "api_path is required for http triggers"
        if trigger_type == "cron":
            expression = settings.get("expression")
            expression = expression if isinstance(expression, str) else ""
            if not (expression.strip() if self.line == "0.25" else expression):
                return "Cron expression is required"
            problem = cron_problem(expression)
            if problem is not None:
                invalid = "invalid" if self.line == "0.25" else "Invalid"
                return f"{invalid} cron expression '{expression}': {problem}"
        if trigger_type == "state" and not isinstance(config, dict):
            return "Failed to parse trigger config: expected struct StateTriggerConfig"
        if trigger_type == "stream" and not isinstance(settings.get("stream_name"), str):
            # The engine itself fails harder here (its stream worker unwraps the name).
            return "stream_name is required for stream triggers"
        if trigger_type == "durable:subscriber" and self.line == "0.25":
            problem = subscriber_spec_problem(config)
            if problem is not None:
                return f"invalid durable:subscriber config: {problem}"
            if not _spelled(settings, "queue", "topic").strip():
                return "queue is required for durable:subscriber trigger"
        return None

    # Calls: a worker's function, a built-in, or nothing.

    async def _invoked_by(self, worker: _Worker, message: Message) -> None:
        """A worker's `invokefunction`: routed as the engine routes it, answered unless void."""
        function_id, data = message.get("function_id", ""), message.get("data")
        action = message.get("action")
        if not isinstance(action, dict):
            action = {}
        if function_id == "engine::workers::register":
            await self._register_worker(worker, data)
            reply: Message = {"result": {"success": True}}
        elif action.get("type") == "enqueue":
            reply = self._enqueue(function_id, data, action.get("queue"))
        else:
            try:
                reply = {
                    "result": await self._call(function_id, data, message.get("metadata"), None)
                }
            except InvocationFailed as failed:
                reply = {"error": failed.error}
        invocation_id = message.get("invocation_id")
        if invocation_id and action.get("type") != "void":
            answer = {
                "type": "invocationresult",
                "invocation_id": invocation_id,
                "function_id": function_id,
            }
            await self._send(worker, {**answer, **reply})

    def _not_found(self, function_id: str) -> Message:
        where = " in namespace default." if self.line == "0.25" else ""
        return {"code": "function_not_found", "message": f"Function {function_id} not found{where}"}

    async def _call(
        self, function_id: str, data: Any, metadata: Any = None, within: float | None = 10.0
    ) -> Any:
        """Invoke a function wherever it lives and wait (up to `within` seconds) for its result."""
        owner = self._owners.get(function_id)
        if owner is not None:
            return await self._invoke(owner, function_id, data, metadata, within)
        builtin = self._builtins.get(function_id)
        if builtin is None:
            raise InvocationFailed(self._not_found(function_id))
        self._record(lambda: self.calls.append((function_id, data)))
        if not isinstance(data, dict):
            raise InvocationFailed(self._undecodable(function_id, "expected an object"))
        try:
            return await builtin(data)
        except (KeyError, TypeError, AttributeError) as missing:
            raise InvocationFailed(self._undecodable(function_id, str(missing))) from None

    @staticmethod
    def _undecodable(function_id: str, why: str) -> Message:
        message = f"Failed to deserialize input for {function_id}: {why}"
        return {"code": "deserialization_error", "message": message}

    async def _invoke(
        self, owner: _Worker, function_id: str, data: Any, metadata: Any, within: float | None
    ) -> Any:
        invocation_id = str(uuid.uuid4())
        future: asyncio.Future[Message] = self._loop.create_future()
        self._pending[invocation_id] = (future, owner)
        message = {
            "type": "invokefunction",
            "invocation_id": invocation_id,
            "function_id": function_id,
            "data": data,
        }
        if metadata is not None:
            message["metadata"] = metadata
        try:
            await owner.connection.send(json.dumps(message))
            reply = await _bounded(future, within)
        except ConnectionClosed:
            reply = {"error": _stopped()}
        finally:
            self._pending.pop(invocation_id, None)
        if reply.get("error"):
            raise InvocationFailed(reply["error"])
        return reply.get("result")

    def _builtin_table(self) -> dict[str, Callable[[Message], Awaitable[Any]]]:
        """The functions the engine and its running workers serve."""
        table: dict[str, Callable[[Message], Awaitable[Any]]] = {
            "engine::channels::create": self._channels_create,
        }
        if "state" in self.providers:
            table.update(
                {
                    "state::set": self._state_set,
                    "state::get": self._state_get,
                    "state::delete": self._state_delete,
                    "state::update": self._state_update,
                    "state::list": self._state_list,
                    "state::list_groups": self._state_list_groups,
                }
            )
            if self.line == "0.25":  # the registry state worker added it
                table["state::list_keys"] = self._state_list_keys
        if "stream" in self.providers:
            table.update(
                {
                    "stream::set": self._stream_set,
                    "stream::get": self._stream_get,
                    "stream::delete": self._stream_delete,
                    "stream::list": self._stream_list,
                    "stream::list_groups": self._stream_list_groups,
                    "stream::list_all": self._stream_list_all,
                    "stream::update": self._stream_update,
                    "stream::send": self._stream_send,
                }
            )
        if "queue" in self.providers:
            table["iii::durable::publish"] = self._durable_publish
        if "pubsub" in self.providers:
            table["publish"] = self._publish
        return table

    # Trigger firings.

    def _sidecar(self, trigger: Message) -> Any:
        """The trigger's registration metadata, delivered with each firing (0.21.3 and later)."""
        return trigger.get("metadata") if self.line != "0.11" else None

    async def _passes(self, trigger: Message, event: Any, within: float | None = 10.0) -> bool:
        """The trigger's condition: only a JSON `false` skips (a failing one raises)."""
        config = trigger.get("config")
        condition = config.get("condition_function_id") if isinstance(config, dict) else None
        return not condition or await self._call(condition, event, within=within) is not False

    async def _fire(
        self, trigger: Message, event: Any, metadata: Any = None, *, conditional: bool = True
    ) -> None:
        """One firing: the condition, then the handler. The engine logs a failure and goes on."""
        with contextlib.suppress(Exception):
            if conditional and not await self._passes(trigger, event):
                self._record(partial(self.skipped.append, (trigger["function_id"], event)))
                return
            await self._call(trigger["function_id"], event, metadata)
            self._record(partial(self.fired.append, (trigger["function_id"], event)))

    async def _tick(self, trigger: Message, payload: Message) -> None:
        try:
            if not await self._passes(trigger, payload):
                self._record(partial(self.skipped.append, (trigger["function_id"], payload)))
                return
        except InvocationFailed:
            return  # the scheduler skips a tick whose condition fails
        await self._call(trigger["function_id"], payload, self._sidecar(trigger))
        self._record(partial(self.fired.append, (trigger["function_id"], payload)))

    # State.

    async def _state_changed(
        self, event_type: str, scope: str, key: str, old: Any, new: Any
    ) -> None:
        event = {
            "type": "state",
            "event_type": event_type,
            "scope": scope,
            "key": key,
            "old_value": old,
            "new_value": new,
        }
        for trigger in self.triggers_of("state"):
            config = trigger["config"]
            if config.get("scope") in (None, scope) and config.get("key") in (None, key):
                self._spawn(self._fire(trigger, event, self._sidecar(trigger)))

    async def _state_set(self, data: Message) -> Any:
        scope, key, value = data["scope"], data["key"], data["value"]
        present, old = (scope, key) in self.state, self.state.get((scope, key))
        self._groups.add(("state", scope))
        self._record(lambda: self.state.__setitem__((scope, key), value))
        await self._state_changed(
            "state:updated" if present else "state:created", scope, key, old, value
        )
        return {"old_value": old, "new_value": value}

    async def _state_get(self, data: Message) -> Any:
        return self.state.get((data["scope"], data["key"]))

    async def _state_delete(self, data: Message) -> Any:
        scope, key = data["scope"], data["key"]
        old = self.state.get((scope, key))
        self._record(lambda: self.state.pop((scope, key), None))
        await self._state_changed("state:deleted", scope, key, old, None)
        return old

    async def _state_update(self, data: Message) -> Any:
        scope, key = data["scope"], data["key"]
        present, old = (scope, key) in self.state, self.state.get((scope, key))
        result = apply_update_ops(old, present, data["ops"])
        self._groups.add(("state", scope))
        self._record(lambda: self.state.__setitem__((scope, key), result["new_value"]))
        event_type = "state:updated" if present else "state:created"
        await self._state_changed(event_type, scope, key, result["old_value"], result["new_value"])
        return result

    async def _state_list(self, data: Message) -> Any:
        return [value for (scope, _), value in self.state.items() if scope == data["scope"]]

    async def _state_list_keys(self, data: Message) -> Any:
        return {"keys": [key for scope, key in self.state if scope == data["scope"]]}

    async def _state_list_groups(self, data: Message) -> Any:
        kept = {group[1] for group in self._groups if group[0] == "state"}
        return {"groups": sorted(kept | {scope for scope, _ in self.state})}

    # Streams.

    async def _stream_changed(
        self, stream_name: str, group_id: str, item_id: str | None, event: Message
    ) -> None:
        message = {
            "type": "stream",
            "timestamp": int(datetime.now(timezone.utc).timestamp() * 1000),
            "streamName": stream_name,
            "groupId": group_id,
            "id": item_id,
            "event": event,
        }
        for trigger in self.triggers_of("stream"):
            config = trigger["config"]
            if (
                config["stream_name"] == stream_name
                and config.get("group_id") in (None, "", group_id)
                and config.get("item_id") in (None, "", item_id or "")
            ):
                self._spawn(self._fire(trigger, message, self._sidecar(trigger)))

    @staticmethod
    def _item(data: Message) -> tuple[str, str, str]:
        return data["stream_name"], data["group_id"], data["item_id"]

    async def _stream_set(self, data: Message) -> Any:
        key, value = self._item(data), data["data"]
        old = self.streams.get(key)
        self._groups.add(("stream", *key[:2]))
        self._record(lambda: self.streams.__setitem__(key, value))
        change = "create" if old is None else "update"
        await self._stream_changed(*key, {"type": change, "data": value})
        return {"old_value": old, "new_value": value}

    async def _stream_get(self, data: Message) -> Any:
        return self.streams.get(self._item(data))

    async def _stream_delete(self, data: Message) -> Any:
        key = self._item(data)
        old = self.streams.get(key)
        self._record(lambda: self.streams.pop(key, None))
        if old is not None:
            await self._stream_changed(*key, {"type": "delete", "data": old})
        return {"old_value": old}

    async def _stream_update(self, data: Message) -> Any:
        key = self._item(data)
        present, old = key in self.streams, self.streams.get(key)
        result = apply_update_ops(old, present, data["ops"])
        self._groups.add(("stream", *key[:2]))
        self._record(lambda: self.streams.__setitem__(key, result["new_value"]))
        change = "update" if present else "create"
        await self._stream_changed(*key, {"type": change, "data": result["new_value"]})
        return result

    async def _stream_list(self, data: Message) -> Any:
        wanted = (data["stream_name"], data["group_id"])
        return [v for (s, g, _), v in self.streams.items() if (s, g) == wanted]

    def _stream_groups(self) -> set[tuple[str, str]]:
        kept = {(group[1], group[2]) for group in self._groups if group[0] == "stream"}
        return kept | {(s, g) for s, g, _ in self.streams}

    async def _stream_list_groups(self, data: Message) -> Any:
        # The engine lists them in hash-map order; sorted here, so tests can compare lists.
        return sorted({g for s, g in self._stream_groups() if s == data["stream_name"]})

    async def _stream_list_all(self, data: Message) -> Any:
        groups: dict[str, set[str]] = {}
        for stream_name, group_id in self._stream_groups():
            groups.setdefault(stream_name, set()).add(group_id)
        streams = [{"id": name, "groups": sorted(groups[name])} for name in sorted(groups)]
        return {"stream": streams, "count": len(streams)}

    async def _stream_send(self, data: Message) -> Any:
        event = {"type": "event", "event": {"type": data["type"], "data": data["data"]}}
        await self._stream_changed(data["stream_name"], data["group_id"], data.get("id"), event)
        return None

    def _subscription(
        self, stream_name: str, group_id: str, context: Any, item_id: str | None
    ) -> Message:
        return {
            "subscription_id": f"sub-{uuid.uuid4().hex[:8]}",
            "stream_name": stream_name,
            "group_id": group_id,
            "id": item_id,
            "context": context,
        }

    # Durable queue and pub/sub.

    def _attempts(self, config: Message) -> int:
        """Deliveries before the dead-letter queue, as the line's queue counts them."""
        queue_config = config.get("queue_config")
        queue_config = queue_config if isinstance(queue_config, dict) else {}
        if self.line == "0.11":  # jobs carry the queue's global max_attempts; maxRetries is unread
            return 3
        if self.line == "0.22":
            # The builtin reads only camelCase `maxRetries` as a u64 (anything else: the default)
            # and turns it into maxRetries + 1 attempts.
            retries: Any = queue_config.get("maxRetries")
            return retries + 1 if _is_u64(retries) else 3
        # The registry queue: top-level `max_retries`/`maxRetries` wins over queue_config's.
        retries = _spelled(config, "max_retries", "maxRetries", None)
        if retries is None:
            retries = _spelled(queue_config, "max_retries", "maxRetries", None)
        return max(retries, 1) if _is_u64(retries) else 3

    async def _durable_publish(self, data: Message) -> Any:
        topic = data.get("topic", data.get("queue") if self.line == "0.25" else None)
        if topic is None:
            raise KeyError("topic")
        job = data["data"]
        if not topic:
            raise InvocationFailed({"code": "topic_not_set", "message": "Topic is not set"})
        subscribed: set[str] = set()  # one subscription per function, however many triggers
        for trigger in self.triggers_of("durable:subscriber"):
            config = trigger["config"]
            wanted = config.get("topic", config.get("queue") if self.line == "0.25" else None)
            if wanted == topic and trigger["function_id"] not in subscribed:
                subscribed.add(trigger["function_id"])
                condition = config.get("condition_function_id")
                metadata = trigger.get("metadata") if self.line == "0.25" else None
                self._spawn(
                    self._deliver(
                        trigger["function_id"], job, self._attempts(config), condition, metadata
                    )
                )
        return None

    async def _deliver(
        self, function_id: str, job: Any, attempts: int, condition: Any, metadata: Any
    ) -> None:
        """At-least-once delivery: a failure is retried with doubling backoff, then dead-lettered;
        a condition that answers false acks the message unprocessed."""
        for attempt in range(1, attempts + 1):
            try:
                if condition and await self._call(condition, job) is False:
                    self._record(partial(self.skipped.append, (function_id, job)))
                    return  # acked unprocessed
                await self._call(function_id, job, metadata)
                self._record(partial(self.fired.append, (function_id, job)))
                return
            except Exception as error:  # any failure is a nack
                if attempt == attempts:
                    letter = {"function_id": function_id, "job": job, "error": str(error)}
                    self._record(partial(self.dead_letters.append, letter))
                    return
                await asyncio.sleep(self.retry_delay * 2 ** (attempt - 1))

    def _enqueue(self, function_id: str, data: Any, queue: Any) -> Message:
        """`TriggerAction.Enqueue`: the call goes through a named queue; the caller gets a receipt."""
        name = str(queue)
        if self.line == "0.11" and "queue" not in self.providers:
            problem: str | None = "QueueModule not loaded"
        elif self.line == "0.22" or "queue" not in self.providers:
            # 0.22 routes it to the standalone worker's provider function, which its builtin lacks.
            underlying = self._not_found("engine::queue::enqueue")["message"]
            problem = _NO_QUEUE_PROVIDER.format(underlying=underlying)
        elif self.queues is not None and name not in self.queues:
            problem = f"Queue '{name}' not found"
        else:
            problem = None
        if problem is not None:
            return {"error": {"code": "enqueue_error", "message": problem}}
        retries = (self.queues or {}).get(name, {}).get("max_retries", 3)
        self._spawn(self._deliver(function_id, data, max(int(retries), 1), None, None))
        return {"result": {"messageReceiptId": str(uuid.uuid4())}}

    async def _publish(self, data: Message) -> Any:
        topic, event = data["topic"], data["data"]
        if not topic:
            raise InvocationFailed({"code": "topic_not_set", "message": "Topic is not set"})
        for trigger in self.triggers_of("subscribe"):
            if trigger["config"].get("topic") == topic and trigger["id"] not in self._unsubscribed:
                # No pubsub evaluates `condition_function_id` (the registry worker takes it for
                # schema parity only).
                self._spawn(self._fire(trigger, event, conditional=False))
        return None

    def _unsubscribe(self, trigger: Message | None) -> None:
        """A subscribe trigger goes. The in-engine pubsub (0.11, 0.22) drops its whole topic's
        subscriptions with it; the registry worker drops only that one."""
        if trigger is None or trigger.get("trigger_type") != "subscribe" or self.line == "0.25":
            return
        topic = (trigger.get("config") or {}).get("topic")
        for other in self.triggers_of("subscribe"):
            if other["id"] != trigger["id"] and other["config"].get("topic") == topic:
                self._unsubscribed.add(other["id"])

    # Channels.

    async def _channels_create(self, data: Message) -> Any:
        channel = self._open_channel()
        return {"writer": channel.ref("write"), "reader": channel.ref("read")}

    def _open_channel(self) -> _Channel:
        channel = _Channel()
        self._channels[channel.id] = channel
        return channel

    async def _serve_channel(
        self, connection: ServerConnection, channel_id: str, query: str
    ) -> None:
        """A channel socket: a reader gets the channel's frames until it closes; a writer's frames
        go into the channel, and its close ends it."""
        channel = self._channels.get(channel_id)
        if channel is None:
            return
        if dict(parse_qsl(query)).get("dir") == "read":
            with contextlib.suppress(ConnectionClosed):
                while (frame := await channel.frames.get()) is not None:
                    await connection.send(frame)
                await connection.close()
            return
        try:
            async for frame in connection:
                channel.frames.put_nowait(frame)
        except ConnectionClosed:
            pass
        finally:
            channel.frames.put_nowait(None)

    # HTTP, as the line's http worker serves it.

    def _route_of(self, trigger: Message) -> _Route | None:
        config = trigger.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("api_path"), str):
            return None
        path = config["api_path"]
        if self.line == "0.25":  # the registry worker normalizes `{id}` to `:id`
            path = "/".join(
                f":{s[1:-1]}" if _is_param(s) and s[0] == "{" else s for s in path.split("/")
            )
        method = str(config.get("http_method") or "GET").upper()
        return _Route(trigger, method, path)

    def _route_key(self, route: _Route) -> str:
        if self.line == "0.25":  # the registry worker keys routes by trigger
            return str(route.trigger["id"])
        return f"{route.method}:{route.path if route.path == '/' else route.path.lstrip('/')}"

    def _route_conflict(self, route: _Route) -> str | None:
        key, shape = self._route_key(route), _shape(route.method, route.path)
        for other_key, other in self._routes.items():
            if other_key != key and _shape(other.method, other.path) == shape:
                return (
                    f"Route '{route.method} {route.path}' conflicts with already-registered route "
                    f"'{other.method} {other.path}': routes with identical structure but different "
                    "path-parameter names are not supported"
                )
        return None

    def _add_route(self, route: _Route) -> None:
        self._routes[self._route_key(route)] = route

    def _drop_route(self, trigger_id: str) -> None:
        for key, route in list(self._routes.items()):
            if route.trigger["id"] == trigger_id:
                del self._routes[key]

    def _match_route(
        self, method: str, path: str
    ) -> tuple[_Route | None, dict[str, str], list[str]]:
        """The route, its path params, and (when no route has the method) the allowed methods."""
        candidates = [
            (r, p) for r in self._routes.values() if (p := _route_params(r, path)) is not None
        ]
        if self.line == "0.25":
            # The registry worker: routes of this method; the fewest parameters win.
            same = [(r, p) for r, p in candidates if r.method == method]
            if same:
                route, params = min(same, key=lambda c: sum(map(_is_param, c[0].segments)))
                return route, params, []
            return None, {}, sorted({r.method for r, _ in candidates})
        if not candidates:
            return None, {}, []
        # axum's matcher picks a path first (a literal segment beats a parameter), then a method.
        best = min(candidates, key=lambda c: [_is_param(s) for s in c[0].segments])[0].path
        at_path = [(r, p) for r, p in candidates if r.path == best]
        for route, params in at_path:
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, params, []
        methods = {r.method for r, _ in at_path}
        return None, {}, sorted(methods | ({"HEAD"} if "GET" in methods else set()))

    def _error(
        self, status: int, code: str, message: str, *, error_id: bool = True
    ) -> HttpResponse:
        """An engine-made error: flat on 0.11, the `{error: {code, message}}` envelope after."""
        envelope: Message
        if self.line == "0.11":
            envelope = {"error": message}
        else:
            envelope = {"error": {"code": code, "message": message}}
        if error_id:
            (envelope if self.line == "0.11" else envelope["error"])["error_id"] = _error_id()
        return self._json_response(status, envelope)

    @staticmethod
    def _json_response(
        status: int, body: Any, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        return HttpResponse(
            status, body, {"content-type": "application/json", **(headers or {})}, _json_bytes(body)
        )

    def _failure(self, failed: InvocationFailed) -> HttpResponse:
        """A 500 for a function that failed (handler, middleware or condition)."""
        code, message = failed.error.get("code", ""), failed.error.get("message", "")
        if self.line == "0.25":  # the registry worker reports the SDK error's text
            return self._error(500, "INTERNAL_ERROR", f"remote error ({code}): {message}")
        return self._error(500, code, message)

    async def _http(
        self, method: str, path: str, raw: bytes, headers: dict[str, str], query: dict[str, str]
    ) -> HttpResponse:
        route, path_params, allowed = self._match_route(method, path)
        if route is None and allowed:
            if self.line == "0.25":
                return self._json_response(
                    405,
                    {"error": {"code": "METHOD_NOT_ALLOWED", "message": "Method Not Allowed"}},
                    {"allow": ", ".join(allowed)},
                )
            return HttpResponse(405, None, {"allow": ",".join(allowed)})
        if route is None:
            if self.line == "0.11":
                return HttpResponse(404, None)  # axum's bare 404
            return self._error(404, "NOT_FOUND", "Not Found", error_id=False)
        request = {
            "path_params": path_params,
            "query_params": query,
            "headers": headers,
            "method": method,
        }
        exchange = self._exchange(route, request, path, raw)
        if self.line == "0.25":
            return await exchange  # the registry worker bounds each call itself
        try:  # the in-engine worker's tower-http TimeoutLayer
            response: HttpResponse = await _bounded(exchange, self.http_timeout)
        except TimeoutError:
            return HttpResponse(504, None)
        return response

    def _request_body(self, raw: bytes, headers: dict[str, str]) -> Any:
        json_typed = "application/json" in headers.get("content-type", "")
        if not raw or not (json_typed or self.line == "0.25"):
            return None  # up to 0.22 only a JSON Content-Type is parsed
        try:
            return serde_json_loads(raw)
        except ValueError:
            return None

    async def _exchange(
        self, route: _Route, request: Message, actual_path: str, raw: bytes
    ) -> HttpResponse:
        """Condition, route middleware, then the handler, with the request body and the response
        on channels the handler may read and write."""
        body = self._request_body(raw, request["headers"])
        json_typed = "application/json" in request["headers"].get("content-type", "")
        request_channel, response_channel = self._open_channel(), self._open_channel()
        try:
            if raw and not (self.line == "0.11" and json_typed):  # 0.11 keeps a JSON body off it
                request_channel.frames.put_nowait(raw)
            request_channel.frames.put_nowait(None)
            payload = {
                **request,
                "path": route.path,
                "body": body,
                "trigger": {
                    "type": "http",
                    "path": actual_path if self.line == "0.25" else route.path,
                    "method": request["method"],
                },
            }
            refused = await self._before_handler(route, request, payload)
            if refused is not None:
                return refused
            refs = {
                "request_body": request_channel.ref("read"),
                "response": response_channel.ref("write"),
            }
            metadata = self._sidecar(route.trigger) if self.line == "0.22" else None
            return await self._handled(route, {**payload, **refs}, metadata, response_channel)
        finally:
            for channel in (request_channel, response_channel):
                self._channels.pop(channel.id, None)

    async def _before_handler(
        self, route: _Route, request: Message, payload: Message
    ) -> HttpResponse | None:
        """The route's condition (422 when unmet), then its middleware in order (the first
        `respond` answers); None lets the request through to the handler."""
        within = self.http_timeout if self.line == "0.25" else None
        try:
            passes = await self._passes(route.trigger, payload, within)
        except InvocationFailed as failed:
            return self._failure(failed)
        except TimeoutError:
            return self._error(500, "INTERNAL_ERROR", "invocation timed out")
        if not passes:
            unmet = "Request condition not met"
            if self.line == "0.11":
                return self._json_response(422, {"error": unmet, "skipped": True})
            envelope = {"error": {"code": "CONDITION_NOT_MET", "message": unmet}}
            return self._json_response(422, {**envelope, "skipped": True})
        for middleware in route.trigger["config"].get("middleware_function_ids") or []:
            try:
                answer = await self._middleware(middleware, request, within)
            except InvocationFailed as failed:
                return self._failure(failed)
            except TimeoutError:
                return self._error(504, "MIDDLEWARE_TIMEOUT", "Middleware timeout", error_id=False)
            if answer is not None:
                return answer
        return None

    async def _middleware(
        self, function_id: str, request: Message, within: float | None
    ) -> HttpResponse | None:
        verdict = await self._call(
            function_id, {"phase": "preHandler", "request": request, "context": {}}, within=within
        )
        if not isinstance(verdict, dict) or verdict.get("action") != "respond":
            return None  # `continue`, or anything else (the engine warns and continues)
        response = verdict.get("response")
        if not isinstance(response, dict):
            response = {}
        status = response.get("status_code")
        headers = response.get("headers")
        if not (isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())):
            headers = {}  # only a map of strings is read
        status = status if isinstance(status, int) and 100 <= status < 1000 else 200
        return self._json_response(
            status, response.get("body"), {k.lower(): v for k, v in headers.items()}
        )

    async def _handled(
        self, route: _Route, payload: Message, metadata: Any, channel: _Channel
    ) -> HttpResponse:
        """The handler's answer: what it returns, or (when it returns nothing) what it streams."""
        controls: Message = {"status": 200, "headers": {}}
        within = self.http_timeout if self.line == "0.25" else None
        call = asyncio.ensure_future(
            self._call(route.trigger["function_id"], payload, metadata, within)
        )
        first = asyncio.ensure_future(self._first_chunk(channel, controls))
        try:
            await asyncio.wait({call, first}, return_when=asyncio.FIRST_COMPLETED)
            if not first.done():
                try:
                    result = call.result()
                except InvocationFailed as failed:
                    return self._failure(failed)
                except TimeoutError:
                    return self._error(500, "INTERNAL_ERROR", "invocation timed out")
                if result is not None:
                    return self._buffered(result)
                if self.line == "0.25":  # an idle timeout, then whatever status was set, no body
                    with contextlib.suppress(TimeoutError):
                        await _bounded(asyncio.shield(first), self.http_timeout)
                    if not first.done():
                        first.cancel()
                        return HttpResponse(controls["status"], None, dict(controls["headers"]))
            return await self._streamed(await first, channel, controls)
        finally:
            for task in (call, first):
                task.cancel()
                if task.done() and not task.cancelled():
                    task.exception()  # a handler that failed after the answer was sent: seen

    async def _first_chunk(self, channel: _Channel, controls: Message) -> bytes | None:
        """Text frames before the body set the status and headers; the first binary frame starts
        the body (None: the handler closed the channel without a body)."""
        while (frame := await channel.frames.get()) is not None:
            if isinstance(frame, bytes):
                return frame
            with contextlib.suppress(ValueError, AttributeError):
                control = json.loads(frame)
                if control.get("type") == "set_status":
                    status = control.get("status_code")
                    if isinstance(status, int) and 100 <= status <= 599:
                        controls["status"] = status
                elif control.get("type") == "set_headers":
                    for name, value in (control.get("headers") or {}).items():
                        if isinstance(value, str):
                            controls["headers"][name.lower()] = value
        return None

    async def _streamed(
        self, first: bytes | None, channel: _Channel, controls: Message
    ) -> HttpResponse:
        chunks = [first] if first is not None else []
        while first is not None:
            try:  # the body ends when the handler closes the channel (or goes idle too long)
                frame = await _bounded(channel.frames.get(), self.http_timeout)
            except TimeoutError:
                break
            if frame is None:
                break
            if isinstance(frame, bytes):
                chunks.append(frame)
        headers = dict(controls["headers"])
        content = b"".join(chunks)
        return HttpResponse(controls["status"], _decoded(content, headers), headers, content)

    @staticmethod
    def _buffered(result: Any) -> HttpResponse:
        """A returned response: only `status_code` counts (`statusCode` is ignored); headers are a
        map or `["Name: value"]` lines; a string body with a Content-Type of your own goes raw."""
        value = result if isinstance(result, dict) else {}
        status = value.get("status_code")
        status = (
            status
            if isinstance(status, int) and not isinstance(status, bool) and 100 <= status < 1000
            else 200
        )
        headers: dict[str, str] = {}
        listed = value.get("headers")
        if isinstance(listed, list):
            for line in listed:
                name, colon, header = line.partition(":") if isinstance(line, str) else ("", "", "")
                if colon and name.strip():
                    headers[name.strip().lower()] = header.strip()
        elif isinstance(listed, dict):
            headers = {str(k).lower(): v for k, v in listed.items() if isinstance(v, str)}
        body = value.get("body", {})
        content_type = headers.get("content-type")
        if content_type is not None and isinstance(body, str):
            return HttpResponse(status, body, headers, body.encode())
        if content_type is not None and body is None:
            return HttpResponse(status, None, headers, b"")
        if content_type is not None and "application/json" not in content_type.lower():
            return HttpResponse(status, json.dumps(body), headers, _json_bytes(body))
        headers.setdefault("content-type", "application/json")
        return HttpResponse(status, body, headers, _json_bytes(body))
