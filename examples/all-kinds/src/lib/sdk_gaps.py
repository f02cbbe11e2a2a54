# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The two places where the worker needs something the iii SDK offers no public way to do, kept
here and nowhere else. `tests/test_sdk_gaps.py` fails, naming the missing piece, on an SDK that
changes them; the README asks the SDK for public hooks ("Requests to the iii SDK").
"""

import asyncio
import logging
from typing import Any

from iii.iii import III
from iii_helpers.observability import Logger

# The SDK runs each invocation as a task of one of these coroutines on the client's event loop
# (`III._loop`), from iii-sdk 0.11 to 0.25; it has no public count of running handlers.
INVOCATION_COROUTINES = {"_handle_invoke", "_invoke_with_otel_context"}


def invocations_in_flight(client: III) -> int:
    """How many handler invocations are running right now."""

    async def count() -> int:
        tasks = asyncio.all_tasks()
        return sum(getattr(t.get_coro(), "__name__", "") in INVOCATION_COROUTINES for t in tasks)

    try:
        return asyncio.run_coroutine_threadsafe(count(), client._loop).result(timeout=1)
    except Exception:  # the client's loop is stopped or closed: nothing runs any more
        return 0


_SEVERITY = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING}
_local_log = logging.getLogger("iii.logger")


class WorkerLogger(Logger):
    """The SDK's structured `Logger`, which also writes to this process's own log.

    While telemetry is on (the default) the SDK's Logger sends each record to the engine as an
    OpenTelemetry log carrying the current trace, and prints nothing: a worker whose engine is
    away would be silent. Otherwise it falls back to Python logging by itself. The SDK's step
    that decides, `Logger._emit_otel` (iii-sdk 0.11 to 0.25), is private.
    """

    def __init__(self, worker_name: str) -> None:
        super().__init__(service_name=worker_name)
        self.worker_name = worker_name

    def _emit_otel(self, level: str, message: str, data: Any = None) -> bool:
        sent = bool(super()._emit_otel(level, message, data))  # True: it went to OpenTelemetry
        if sent:  # the same logger and shape as the SDK's fallback
            severity = _SEVERITY.get(level, logging.ERROR)
            _local_log.log(severity, "[%s] %s", self.worker_name, message, extra={"data": data})
        return sent
