# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""How the worker runs: settings, logging, stop signals, the grace period and exit codes.

`run(HANDLER_MODULES)` (called by `src/main.py`) takes over SIGINT and SIGTERM first, checks the
settings, imports the handler modules (each registers on the shared client in
`src/lib/iii_client.py`), then serves until a stop. On SIGINT or SIGTERM it lets running
invocations finish, for up to STOP_GRACE_SECONDS (default 8), then shuts the client down; a second
signal skips the wait, and a signal while it starts stops it there.

Exit codes: 0 stopped on request; 1 crashed, with a traceback (a handler module that does not
import, say); 2 a bad setting (the line printed names it and says what is allowed); 3 the engine
turned the worker away (another live worker has its name) or the connection failed for good.
"""

import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from types import FrameType, ModuleType

from src.lib.iii_client import ENGINE_URL, WORKER_NAME, iii, logger, stop_client
from src.lib.sdk_gaps import invocations_in_flight

DEFAULT_STOP_GRACE_SECONDS = 8.0
LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
EXIT_STOPPED, EXIT_CRASHED, EXIT_BAD_SETTINGS, EXIT_TURNED_AWAY = 0, 1, 2, 3


class BadSetting(ValueError):
    """An environment variable holds a value the worker cannot use; the message says what is allowed."""


def log_level(environ: dict[str, str]) -> int:
    name = environ.get("LOG_LEVEL", "info")
    if name.strip().lower() not in LOG_LEVELS:
        raise BadSetting(f"LOG_LEVEL={name!r} is not a level; use one of {', '.join(LOG_LEVELS)}")
    return LOG_LEVELS[name.strip().lower()]


def stop_grace_seconds(environ: dict[str, str]) -> float:
    text = environ.get("STOP_GRACE_SECONDS", str(DEFAULT_STOP_GRACE_SECONDS))
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise BadSetting(f"STOP_GRACE_SECONDS={text!r} is not allowed; use seconds from 0 to 3600")
    return seconds


class RecordFormatter(logging.Formatter):
    """One line per record, ending with the record's structured data (the Logger's second
    argument) as JSON, so `Item created` says which item."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        data = getattr(record, "data", None)
        if data is None:
            return line
        return f"{line} {json.dumps(data, default=str, ensure_ascii=False)}"


class RefusedFunctionsAreErrors(logging.Filter):
    """The SDK logs a function the engine refused (FUNCTION_NAMESPACE_CONFLICT: another live worker
    owns that id) as a warning and serves the rest; a function that never gets called is an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Function registration rejected"):
            record.levelno, record.levelname = logging.ERROR, "ERROR"
        return True


class HandlerErrorsInOneLine(logging.Filter):
    """The SDK logs a handler that raised with the whole chained traceback, about 27 lines of
    mostly its own frames, per failed invocation. Below LOG_LEVEL=debug, one line says what
    failed and where; at debug the full traceback stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None or not record.getMessage().startswith("Error in handler"):
            return True
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        while error.__cause__ is not None:  # the SDK wraps the handler's own exception
            error = error.__cause__
        frames = traceback.extract_tb(error.__traceback__)
        where = f" ({os.path.relpath(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
        record.msg = f"{record.getMessage()}: {type(error).__name__}: {error}{where}"
        record.args, record.exc_info, record.exc_text = (), None, None
        return True


def configure_logging(level: int) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RecordFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RefusedFunctionsAreErrors())
    handler.addFilter(HandlerErrorsInOneLine())
    logging.basicConfig(level=level, handlers=[handler], force=True)


class StoppedWhileStarting(BaseException):
    """A stop signal arrived before the worker was serving. A BaseException, like
    KeyboardInterrupt, so that no `except Exception` in a module being imported swallows it."""


class StopSignals:
    """SIGINT and SIGTERM: while the worker starts, either stops it there; once it serves, the
    first asks for a graceful stop and the second for an immediate one."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.urgent = threading.Event()
        self.starting = True
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, self._on_signal)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        if self.starting:
            self.starting = False
            self.requested.set()  # the stop holds even if the exception below is swallowed
            raise StoppedWhileStarting  # out of whatever the start was doing, a hung import too
        (self.urgent if self.requested.is_set() else self.requested).set()


def import_handlers(modules: Sequence[str]) -> list[ModuleType]:
    return [importlib.import_module(name) for name in modules]


def serve(stop: StopSignals) -> int:
    """Serve until a stop is requested, or until the engine turns the worker away."""
    state = "disconnected"  # what the client starts as
    while not stop.requested.wait(0.1):
        now = iii.get_connection_state()
        if now != state:
            logger.info("Engine connection", {"state": now, "url": ENGINE_URL})
            state = now
        if now == "failed":
            # The SDK logged why just before: a name another live worker holds, or retries spent.
            logger.error("The engine turned this worker away; exiting", {"url": ENGINE_URL})
            return EXIT_TURNED_AWAY
    return EXIT_STOPPED


def finish_running_invocations(stop: StopSignals, grace_seconds: float) -> None:
    deadline = time.monotonic() + grace_seconds
    running = invocations_in_flight(iii)
    logger.info("Stopping", {"worker": WORKER_NAME, "running": running, "grace_s": grace_seconds})
    while running and time.monotonic() < deadline and not stop.urgent.wait(0.05):
        running = invocations_in_flight(iii)
    if running:
        logger.warn("Stopped with invocations still running", {"running": running})


def run(handler_modules: Sequence[str]) -> int:
    """Serve the functions and triggers `handler_modules` register until a stop; the exit code."""
    stop = StopSignals()
    try:
        level, grace_seconds = log_level(dict(os.environ)), stop_grace_seconds(dict(os.environ))
        configure_logging(level)
        modules = import_handlers(handler_modules)
    except BadSetting as bad:
        print(f"{WORKER_NAME}: {bad}", file=sys.stderr)
        return leave(EXIT_BAD_SETTINGS)
    except StoppedWhileStarting:
        return leave(EXIT_STOPPED)
    except Exception:
        logging.getLogger(__name__).exception("The worker could not start")
        return leave(EXIT_CRASHED)
    stop.starting = False
    handlers = [module.__name__ for module in modules]
    logger.info("Worker started", {"worker": WORKER_NAME, "url": ENGINE_URL, "handlers": handlers})
    code = serve(stop)
    if code == EXIT_STOPPED:
        finish_running_invocations(stop, grace_seconds)
    return leave(code)


def leave(code: int) -> int:
    """Stop the client, and `code`; a client that will not stop would hold the exit with its
    threads, so then the process leaves at once (nothing hangs)."""
    if not stop_client():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
