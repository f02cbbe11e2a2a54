"""The engine double's fixtures: doubles started and stopped per test, and real SDK clients."""

import os
from collections.abc import Iterator
from typing import Any

import pytest
from engine_double import EngineDouble
from iii import InitOptions
from iii.iii import III

from tests.double.kit import Connect, Start


@pytest.fixture
def doubles() -> Iterator[Start]:
    """Start engine doubles with the given options; all are stopped after the test."""
    started: list[EngineDouble] = []

    def start(**options: Any) -> EngineDouble:
        double = EngineDouble(**options).start()
        started.append(double)
        return double

    yield start
    for double in started:
        double.stop()


@pytest.fixture
def clients(doubles: Start, monkeypatch: pytest.MonkeyPatch) -> Iterator[Connect]:
    """Real SDK clients, connected and registered before the test goes on (telemetry off: it
    would open another socket)."""
    monkeypatch.setenv("OTEL_ENABLED", "false")
    monkeypatch.setenv("HOME", os.environ.get("TMPDIR", "/tmp"))
    made: list[III] = []

    def make(engine: EngineDouble, name: str = "w", *, wait: bool = True) -> III:
        sdk = III(engine.url, InitOptions(worker_name=name))
        made.append(sdk)
        if wait:  # connected: a shutdown mid-connect is noisy
            engine.wait_until(lambda: any(w.get("name") == name for w in engine.workers))
        return sdk

    yield make
    for sdk in made:
        if sdk._thread.is_alive():  # not shut down by the test itself
            sdk.shutdown()
        # shutdown() leaves the SDK's event loop open; many clients would collect unclosed loops.
        sdk._loop.close()
