# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""Shared test setup: every test runs against an engine double (see `engine_double/`), never a
real one.

The worker's client reads III_URL when `src.lib.iii_client` is first imported, so the engine double
starts here, before any test module imports a handler. Telemetry is off: it would open a second
connection to the engine.
"""

import os
import sys
from pathlib import Path

import pytest

from tests.engine_double import EngineDouble

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ENGINE = EngineDouble.for_project(PROJECT_ROOT).start()
os.environ["III_URL"] = ENGINE.url
os.environ["OTEL_ENABLED"] = "false"


@pytest.fixture
def engine() -> EngineDouble:
    """The engine double the worker is connected to, with its calls and state cleared."""
    ENGINE.reset()
    return ENGINE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the worker's client however the session ends, collection errors included: the SDK's
    event-loop thread is not a daemon, so without this pytest would never exit."""
    client = sys.modules.get("src.lib.iii_client")
    if client is not None:
        client.stop_client()
    ENGINE.stop()
