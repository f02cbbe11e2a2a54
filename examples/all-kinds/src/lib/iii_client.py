# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The worker's one connection to the iii engine, shared by every handler module.

Handlers import `iii` and register their functions and triggers at import time. Building the
client does not block: it connects in the background and replays every registration each time it
(re)connects, so importing a handler (in a test, say) never waits for an engine.

The client's event-loop thread is not a daemon: a process that never shuts the client down never
exits. `src/lib/runtime.py` shuts it down when the worker stops, and a crash hook below does when
a program using the client dies of an uncaught error, so it exits with its traceback instead of
retrying the engine forever.
"""

import os
import sys
import threading
from importlib.metadata import PackageNotFoundError, metadata
from types import TracebackType

from iii import InitOptions
from iii.iii import III

from src.lib.sdk_gaps import WorkerLogger

WORKER_NAME = "orders-worker"
try:  # pyproject.toml's description, which the engine lists with the worker
    WORKER_DESCRIPTION = metadata(WORKER_NAME)["Summary"]
except (PackageNotFoundError, KeyError):  # run from a copy that was never installed
    WORKER_DESCRIPTION = ""
DEFAULT_ENGINE_URL = "ws://127.0.0.1:49134"
# `iii compose` sets III_URL for the worker; the default is for running it by hand.
ENGINE_URL = os.environ.get("III_URL") or DEFAULT_ENGINE_URL
iii = III(
    ENGINE_URL,
    InitOptions(worker_name=WORKER_NAME, worker_description=WORKER_DESCRIPTION),
)

_stopping = threading.Lock()


def stop_client(timeout: float = 5.0) -> bool:
    """Shut the client down (once), waiting at most `timeout` seconds; whether it stopped."""
    if not _stopping.acquire(blocking=False):
        return True
    stopper = threading.Thread(target=iii.shutdown, name="iii-shutdown", daemon=True)
    stopper.start()
    stopper.join(timeout)
    return not stopper.is_alive()


def _stop_client_on_crash(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    _print_traceback(kind, error, trace)
    if not stop_client():
        os._exit(1)  # the client would not stop: leave anyway, as a crashed process must


_print_traceback = sys.excepthook
sys.excepthook = _stop_client_on_crash

logger = WorkerLogger(WORKER_NAME)
