# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""`src.main` registers at least the template's handlers' functions and triggers (each handler's
own test checks exactly what it registers, and functions you add need no change here), and the
worker process connects, registers, exits 0 on SIGTERM and SIGINT, and 2 on a bad setting."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from src import main
from src.lib import runtime
from tests.engine_double import EngineDouble

PROJECT_ROOT = Path(__file__).resolve().parents[1]
W = "orders-worker"
EXPECTED_FUNCTIONS = {
    "orders-worker::items::create",
    "orders-worker::items::get",
    "orders-worker::admin::require-api-key",
    "orders-worker::admin::status",
    "orders-worker::heartbeat",
    "orders-worker::jobs::publish",
    "orders-worker::jobs::process",
    "orders-worker::broadcasts::publish",
    "orders-worker::broadcasts::on-message",
    "orders-worker::state-changes",
    "orders-worker::stream-changes",
    "orders-worker::stream-presence::join",
    "orders-worker::stream-presence::leave",
    "orders-worker::stream-auth",
    "orders-worker::health",
}
EXPECTED_TRIGGERS: list[tuple[str, str, dict[str, Any]]] = [
    ("http", "orders-worker::items::create", {"api_path": "/items", "http_method": "POST"}),
    ("http", "orders-worker::items::get", {"api_path": "/items/:id", "http_method": "GET"}),
    (
        "http",
        "orders-worker::admin::status",
        {
            "api_path": "/admin/status",
            "http_method": "GET",
            "middleware_function_ids": [
                "orders-worker::admin::require-api-key",
            ],
        },
    ),
    ("cron", "orders-worker::heartbeat", {"expression": "0 */5 * * * *"}),
    (
        "durable:subscriber",
        "orders-worker::jobs::process",
        {
            "topic": "orders-worker.jobs",
            "queue_config": {
                "maxRetries": 3,
            },
        },
    ),
    ("subscribe", "orders-worker::broadcasts::on-message", {"topic": "orders-worker.events"}),
    ("state", "orders-worker::state-changes", {"scope": "orders-worker"}),
    ("stream", "orders-worker::stream-changes", {"stream_name": "events"}),
    ("stream:join", "orders-worker::stream-presence::join", {}),
    ("stream:leave", "orders-worker::stream-presence::leave", {}),
    ("http", "orders-worker::health", {"api_path": "/healthz", "http_method": "GET"}),
]


def registered_triggers(engine: EngineDouble) -> list[str]:
    return sorted(
        json.dumps([t["trigger_type"], t["function_id"], t["config"]], sort_keys=True)
        for t in engine.triggers.values()
    )


def expected_triggers() -> list[str]:
    return sorted(json.dumps(list(t), sort_keys=True) for t in EXPECTED_TRIGGERS)


def fully_registered(engine: EngineDouble) -> bool:
    return (
        bool(engine.workers)
        and set(engine.functions) >= EXPECTED_FUNCTIONS
        and len(engine.triggers) >= len(EXPECTED_TRIGGERS)
    )


def test_registers_at_least_the_template_handlers_functions_and_triggers(
    engine: EngineDouble,
) -> None:
    runtime.import_handlers(main.HANDLER_MODULES)

    engine.wait_until(lambda: fully_registered(engine))

    assert set(engine.functions) >= EXPECTED_FUNCTIONS
    assert set(expected_triggers()) <= set(registered_triggers(engine))
    assert engine.workers[-1]["name"] == W


def start_worker(
    engine: EngineDouble, *, keep_errors: bool = False, **env: str
) -> "subprocess.Popen[bytes]":
    return subprocess.Popen(
        [sys.executable, "-m", "src.main"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "III_URL": engine.url, "OTEL_ENABLED": "false", **env},
        stderr=subprocess.PIPE if keep_errors else subprocess.DEVNULL,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_worker_process_registers_and_exits_0_on_signal(stop_signal: signal.Signals) -> None:
    engine = EngineDouble.for_project(PROJECT_ROOT).start()
    worker = start_worker(engine)
    try:
        engine.wait_until(lambda: fully_registered(engine), timeout=30)
        assert set(expected_triggers()) <= set(registered_triggers(engine))

        worker.send_signal(stop_signal)

        assert worker.wait(timeout=10) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        engine.stop()


def test_worker_process_exits_2_and_says_why_on_a_bad_log_level() -> None:
    engine = EngineDouble.for_project(PROJECT_ROOT).start()
    worker = start_worker(engine, keep_errors=True, LOG_LEVEL="loud")
    try:
        _, errors = worker.communicate(timeout=10)

        assert worker.returncode == 2
        assert b"LOG_LEVEL='loud' is not a level" in errors
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        engine.stop()


@pytest.mark.parametrize(
    "value",
    [
        "change-me",
        " ",
        "x" * 64,
        "your-api-key-goes-here-0123456789abcdef",
        "example-0123456789-abcdefghijklmnopqrstuvwxyz",
        "a-long-enough-random-looking-value-0123456789\n",
    ],
)
def test_a_guessable_secret_is_refused(value: str) -> None:
    assert runtime.secret_problem(value)


def test_a_made_secret_is_accepted() -> None:
    assert runtime.secret_problem("3q2-7wEHoZcT8m9aUfN1bKx0pYlVjrD4sGiQ6hCzW5E") == ""


def test_worker_process_exits_2_and_names_a_guessable_secret() -> None:
    engine = EngineDouble.for_project(PROJECT_ROOT).start()
    worker = start_worker(engine, keep_errors=True, API_KEY="change-me")
    try:
        _, errors = worker.communicate(timeout=10)

        assert worker.returncode == 2
        assert errors.count(b"\n") == 1 and b"API_KEY is shorter than 32 bytes" in errors
        assert engine.functions == {}
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        engine.stop()
