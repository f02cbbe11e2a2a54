# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""Development without an iii engine: `python -m tests.engine_double` in the project plays the
engine of its line and run config on the engine's ports until Ctrl-C, so that
`python -m src.main` connects and `curl localhost:3111/...` reaches its routes. For development
only: it is the tests' in-memory double, not the engine (no persistence, no auth, one process)."""

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

from . import EngineDouble
from .protocol import read_yaml


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.engine_double", description=__doc__)
    # Where the worker will look: III_URL, else the project's engine_url answer.
    answered = read_yaml(Path(".copier-answers.yml")).get("engine_url")
    url = os.environ.get("III_URL") or str(answered or "ws://127.0.0.1:49134")
    default_port = urlsplit(url).port or 49134
    parser.add_argument("--port", type=int, default=default_port, help="the worker's WebSocket")
    parser.add_argument("--http-port", type=int, default=3111, help="the http worker's port")
    parser.add_argument("--stream-port", type=int, default=3112, help="iii-stream's client port")
    # Each option is the constructor's keyword of the same name.
    engine = EngineDouble.for_project(Path.cwd(), **vars(parser.parse_args(argv)))
    try:
        engine.start()
    except OSError as error:
        print(
            f"engine double: cannot listen ({error.strerror}): is an engine running? "
            "Choose other ports with --port, --http-port and --stream-port.",
            file=sys.stderr,
        )
        return 2
    # Handlers of our own, so that Ctrl-C stops it even where SIGINT was ignored (a background job).
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    seen: set[str] = set()
    print(
        f"engine double of iii {engine.line}, FOR DEVELOPMENT ONLY (in memory, no auth)\n"
        f"  engine workers: {', '.join(sorted(engine.providers)) or 'none'}\n"
        f"  worker:  III_URL={engine.url} python -m src.main\n"
        + (f"  http:    {engine.http_url}\n" if engine.http_url else "")
        + (f"  stream:  {engine.stream_url}\n" if engine.stream_url else "")
        + "Ctrl-C stops it.",
        flush=True,
    )
    while not stop.wait(0.2):
        for trigger_id, trigger in engine.triggers.items():
            if trigger_id not in seen:
                seen.add(trigger_id)
                config = trigger.get("config") or ""
                print(
                    f"registered: {trigger['trigger_type']} {config} -> {trigger['function_id']}",
                    flush=True,
                )
    engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
