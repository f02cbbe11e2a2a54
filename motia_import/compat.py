"""`src/steps/motia_compat.py`: the few helpers converted steps share.

Written into every imported project as is. It holds only what a Motia step needed and plain
iii-sdk has no single call for: the invocation's trace id, `ctx.match`, `ctx.get_data`, and
Motia middleware run in-process around a handler.
"""

COMPAT_SOURCE = '''\
"""Helpers for the steps imported from Motia (written by motia_import; yours to change).

Motia handed every handler a context object; iii-sdk hands it the payload alone. What the
context did that plain iii-sdk has no single call for lives here, small enough to read:
- `current_trace_id()`: the invocation's trace id (Motia's `ctx.trace_id`). iii gives each
  invocation its own trace, so a Motia trace id that was shared along a flow is not: pass an
  id along in the message where the code relied on that.
- `match_trigger()` / `trigger_data()`: Motia's `ctx.match()` / `ctx.get_data()`, on the trigger
  info each registration passes (one iii function per trigger keeps their identity).
- `run_middleware()`: Motia middleware that could not become engine middleware, run in-process
  around the handler as Motia ran it.
"""

import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

try:
    from iii_helpers.observability.telemetry import current_trace_id as _otel_trace_id
except ImportError:  # the 0.11 line keeps telemetry in the SDK itself
    from iii.telemetry import current_trace_id as _otel_trace_id  # type: ignore[no-redef]

TriggerInfo = dict[str, Any]  # {"type", "index", and "method"/"path", "topic" or "expression"}


def current_trace_id() -> str:
    """The OpenTelemetry trace id of the running invocation; a fresh id when telemetry is off
    (Motia did the same)."""
    return _otel_trace_id() or uuid.uuid4().hex


async def settle(value: Any) -> Any:
    """The value, awaited first when it is awaitable (Motia accepted sync and async callables)."""
    if inspect.isawaitable(value):
        return await value
    return value


async def match_trigger(
    trigger: TriggerInfo, data: Any, handlers: dict[str, Callable[..., Any]]
) -> Any:
    """Motia's `ctx.match({...})`: call the handler for the trigger that fired (cron handlers
    take no argument), else "default"."""
    kind = trigger.get("type")
    keys = ["http", "api"] if kind == "http" else [str(kind)]
    handler = next((handlers[k] for k in keys if k in handlers), None)
    if handler is not None:
        return await settle(handler() if kind == "cron" else handler(data))
    if "default" in handlers:
        return await settle(handlers["default"](data))
    raise RuntimeError(f"No handler matched for trigger type: {kind}")


def trigger_data(trigger: TriggerInfo, data: Any) -> Any:
    """Motia's `ctx.get_data()`: the body of an http request, nothing for cron, else the input."""
    if trigger.get("type") == "cron":
        return None
    if trigger.get("type") == "http" and isinstance(data, dict):
        return data.get("body")
    return data


async def run_middleware(
    middlewares: list[Callable[..., Any]],
    request: Any,
    handler: Callable[[], Any],
) -> Any:
    """Motia's middleware chain: each `middleware(request, next)` may answer itself or return
    `await next()`; the innermost `next()` runs the handler."""

    def link(index: int) -> Callable[[], Awaitable[Any]]:
        async def next_() -> Any:
            if index == len(middlewares):
                return await settle(handler())
            return await settle(middlewares[index](request, link(index + 1)))

        return next_

    return await link(0)()
'''
