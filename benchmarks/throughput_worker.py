"""The worker the throughput benchmark calls: the generated project's own handlers, plus a no-op
handler (the ceiling) and sync twins of both, all on the project's one client.

Run with the generated project's interpreter, from the project's directory. With
BENCH_EVENT_LOOP=uvloop the client runs on uvloop: the SDK builds its loop with
`asyncio.new_event_loop()` when the client is built (at the handlers' import), so a policy set
before that import takes effect.
"""

import asyncio
import os
import signal
import threading
from typing import Any

if os.environ.get("BENCH_EVENT_LOOP") == "uvloop":
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

# After the policy: importing the handlers builds the client and its loop.
from src.handlers import admin, items  # registers the generated functions
from src.lib.http import HttpRequest, HttpResponse, error_response
from src.lib.iii_client import WORKER_NAME, iii


async def noop(_request: HttpRequest) -> HttpResponse:
    return {"status_code": 200, "body": {}}


def noop_sync(_request: HttpRequest) -> HttpResponse:
    return {"status_code": 200, "body": {}}


def create_item_sync(request: HttpRequest) -> HttpResponse:
    """`items.create_item` written as a sync handler: a thread per call, blocking engine calls."""
    name, reason = items.parse_new_item(request.get("body"))
    if name is None:
        return error_response(400, reason)
    item: dict[str, Any] = {"id": "x", "name": name}
    iii.trigger(
        {
            "function_id": "state::set",
            "payload": {"scope": items.STATE_SCOPE, "key": name, "value": item},
        }
    )
    return {"status_code": 201, "body": item}


def status_sync(request: HttpRequest) -> HttpResponse:
    return {"status_code": 200, "body": {"worker": WORKER_NAME, "path": admin.API_PATH}}


async def event_loop(_request: Any) -> str:
    """Which loop the client runs on, so the benchmark can check it measured what it says."""
    return type(asyncio.get_running_loop()).__module__


iii.register_function("bench::noop", noop)
iii.register_function("bench::event-loop", event_loop)
iii.register_function("bench::noop-sync", noop_sync)
iii.register_function("bench::create-sync", create_item_sync)
iii.register_function("bench::status-sync", status_sync)

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
iii.shutdown()
