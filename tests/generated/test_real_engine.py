"""The end-to-end checks that a real engine can answer, against a real `iii` (0.25) on PATH.

The all-triggers project is started the way its README says, `iii compose --up --file
worker-compose.yaml` (engine, engine workers from the registry, and the worker), then driven over
the engine's real ports: HTTP on 3111, and a probe SDK client on 49134 that lists what is
registered and calls functions. Skipped, with the reason, where no `iii` is installed.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from iii import InitOptions
from iii.iii import III

from harness.kinds import expected
from harness.projects import Project, answers_of

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("iii") is None,
        reason="no `iii` engine on PATH: install iii 0.25 to run the end-to-end checks against it",
    ),
]

API_KEY = secrets.token_urlsafe(32)  # the worker refuses guessable keys at start
HTTP = "http://127.0.0.1:3111"


class RealEngine:
    """`iii compose` running a generated project, and a probe client connected to its engine."""

    def __init__(self, project: Project) -> None:
        env = {**project.env, "API_KEY": API_KEY, "OTEL_ENABLED": "false"}
        self.compose = subprocess.Popen(
            ["iii", "compose", "--up", "--file", "worker-compose.yaml"], cwd=project.path, env=env
        )
        self.probe = III("ws://127.0.0.1:49134", InitOptions(worker_name="e2e-probe"))

    def call(self, function_id: str, payload: Any) -> Any:
        return self.probe.trigger({"function_id": function_id, "payload": payload})

    def functions(self) -> set[str]:
        listed = self.call("engine::functions::list", {})
        return {f["function_id"] for f in listed["functions"]}

    def triggers(self) -> list[str]:
        listed = self.call("engine::registered-triggers::list", {})["registered_triggers"]
        return sorted(repr((t["trigger_type"], t["function_id"], t["config"])) for t in listed)

    def http(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            HTTP + path, data=data, method=method, headers=headers or {}
        )
        if data is not None:
            request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def wait_until(self, condition: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except Exception:  # not up yet
                pass
            time.sleep(0.5)
        raise TimeoutError("the engine did not get there in time")

    def stop(self) -> int:
        self.probe.shutdown()
        self.compose.send_signal(signal.SIGINT)
        return self.compose.wait(timeout=60)


@pytest.fixture(scope="module")
def engine(built: Callable[[str], Project]) -> Iterator[RealEngine]:
    if os.environ.get("III_URL"):
        pytest.skip("III_URL is set: these checks start their own engine on the default ports")
    real = RealEngine(built("all"))
    functions, _ = expected("all")
    try:
        real.wait_until(lambda: real.functions() >= functions)
        yield real
    finally:
        assert real.stop() == 0


def test_registers_every_function_and_trigger(engine: RealEngine) -> None:
    functions, triggers = expected("all")

    assert engine.functions() >= functions
    assert set(triggers) <= set(engine.triggers())


def test_http_api_answers_201_200_400_and_404(engine: RealEngine) -> None:
    path = answers_of("all")["http_path"]

    status, item = engine.http("POST", path, {"name": "Hojicha"})
    assert status == 201
    assert engine.http("GET", f"{path}/{item['id']}") == (200, item)
    assert engine.http("POST", path, {"name": ""})[0] == 400
    assert engine.http("GET", f"{path}/missing")[0] == 404


def test_middleware_answers_401_without_or_with_a_wrong_key(engine: RealEngine) -> None:
    assert engine.http("GET", "/admin/status")[0] == 401
    assert engine.http("GET", "/admin/status", headers={"x-api-key": "wrong"})[0] == 401
    assert engine.http("GET", "/admin/status", headers={"x-api-key": API_KEY})[0] == 200


def test_state_written_by_the_cron_job_is_readable(engine: RealEngine) -> None:
    prefix = answers_of("all")["worker_name"] + "::"
    engine.call(
        prefix + "heartbeat",
        {"trigger": "cron", "job_id": "e2e", "scheduled_time": "", "actual_time": ""},
    )

    last_run = engine.call("state::get", {"scope": prefix + "heartbeat", "key": "last-run"})

    assert last_run["job_id"] == "e2e"
