# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""Entry point: `python -m src.main` serves this worker's functions until SIGINT or SIGTERM.

Each module below registers its functions and triggers on the shared client
(`src/lib/iii_client.py`) when it is imported. `src/lib/runtime.py` does the rest: the settings,
logging, the stop signals, the grace period and the exit codes (0 stopped, 1 crashed, 2 a bad
setting, 3 turned away by the engine). Add a module with `scripts/add_handler.py`, or list your
own in the `own_modules` answer, so that updates keep it here.
"""

from src.lib.runtime import run

HANDLER_MODULES = (
    "src.handlers.admin",
    "src.handlers.broadcasts",
    "src.handlers.health",
    "src.handlers.heartbeat",
    "src.handlers.items",
    "src.handlers.jobs",
    "src.handlers.state_changes",
    "src.handlers.stream_auth",
    "src.handlers.stream_changes",
    "src.handlers.stream_presence",
)

if __name__ == "__main__":
    raise SystemExit(run(HANDLER_MODULES))
