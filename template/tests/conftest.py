"""Shared test setup: every test runs against a engine double (see `engine_double.py`), never a real one.

The worker's client reads III_URL when `src.lib.iii_client` is first imported, so the engine double
starts here, before any test module imports a handler. Telemetry is off: it would open a second
connection to the engine.
"""

import os
import sys
from collections.abc import Iterator
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


@pytest.fixture(scope="session", autouse=True)
def _shut_down_client() -> Iterator[None]:
    yield
    # The SDK's event-loop thread is not a daemon: without shutdown() pytest would never exit.
    client = sys.modules.get("src.lib.iii_client")
    if client is not None:
        client.iii.shutdown()
    ENGINE.stop()
