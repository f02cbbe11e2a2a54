# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""Run this worker's image against the engine double, as CI does after building it:

    docker build --tag orders-worker:smoke . && python scripts/smoke_image.py orders-worker:smoke

It passes (exit 0) when the container registers every function and trigger of the template's
handlers, answers `GET /healthz`, and ends with exit code 0 within 10 s of `docker stop`;
otherwise it says what failed and exits 1. The container shares the host's network, where the
double listens on the loopback. DOCKER names the docker client (default: `docker` on PATH).
"""

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))  # tests.engine_double, when run as a script

from tests.engine_double import EngineDouble  # noqa: E402

# What the template's handlers register (tests/test_main.py checks the same in-process).
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
STOP_SECONDS = 10


class SmokeFailed(Exception):
    """What the image did wrong, in one message."""


def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    client = os.environ.get("DOCKER") or shutil.which("docker") or "docker"
    return subprocess.run(
        [client, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def check(condition: bool, reason: str) -> None:
    if not condition:
        raise SmokeFailed(reason)


def container_logs(container: str) -> str:
    logs = docker("logs", container)
    return logs.stdout + logs.stderr


def as_json(trigger: tuple[str, str, dict[str, Any]] | list[Any]) -> str:
    return json.dumps(list(trigger), sort_keys=True)


def run_checks(engine: EngineDouble, container: str) -> float:
    """Every check, in order, ending with `docker stop`: how long the stop took."""
    try:
        engine.wait_until(
            lambda: (
                bool(engine.workers)
                and set(engine.functions) >= EXPECTED_FUNCTIONS
                and len(engine.triggers) >= len(EXPECTED_TRIGGERS)
            ),
            timeout=60,
        )
    except TimeoutError:
        missing = sorted(EXPECTED_FUNCTIONS - set(engine.functions))
        raise SmokeFailed(
            f"not registered within 60 s: {missing or 'triggers'}; the container said:\n"
            + container_logs(container)
        ) from None
    registered = {
        as_json([t["trigger_type"], t["function_id"], t["config"]])
        for t in engine.triggers.values()
    }
    missing_triggers = sorted({as_json(t) for t in EXPECTED_TRIGGERS} - registered)
    check(not missing_triggers, f"triggers not registered as expected: {missing_triggers}")
    health = engine.http("GET", "/healthz")
    check(health.status_code == 200, f"GET /healthz answered {health.status_code}")

    started = time.monotonic()
    stopped = docker("stop", "--time", str(STOP_SECONDS), container, timeout=STOP_SECONDS + 30)
    seconds = time.monotonic() - started
    check(stopped.returncode == 0, f"docker stop failed: {stopped.stderr.strip()}")
    check(seconds < STOP_SECONDS, f"docker stop took {seconds:.1f} s: SIGTERM did not end it")
    exit_code = docker("inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip()
    check(
        exit_code == "0", f"the worker exited {exit_code} on SIGTERM:\n{container_logs(container)}"
    )
    check("Traceback" not in container_logs(container), container_logs(container))
    return seconds


def smoke(image: str) -> float:
    engine = EngineDouble.for_project(PROJECT_ROOT).start()
    settings = {
        "III_URL": engine.url,
        "OTEL_ENABLED": "false",
        # Strong secrets, as production sets them: the worker refuses weak ones.
        "API_KEY": secrets.token_urlsafe(32),
        "STREAM_AUTH_SECRET": secrets.token_urlsafe(32),
    }
    options = [f"--env={name}={value}" for name, value in settings.items()]
    container = ""
    try:
        started = docker("run", "--detach", "--network", "host", *options, image)
        check(started.returncode == 0, f"docker run failed: {started.stderr.strip()}")
        container = started.stdout.strip()
        return run_checks(engine, container)
    finally:
        if container:
            docker("rm", "--force", container)
        engine.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run this worker's image against the engine double."
    )
    parser.add_argument("image", help="the image to run (the tag docker build gave it)")
    image = parser.parse_args(argv).image
    try:
        seconds = smoke(image)
    except SmokeFailed as failure:
        print(f"smoke_image: {image}: {failure}", file=sys.stderr)
        return 1
    print(f"smoke_image: {image} registered everything and stopped with exit 0 in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
