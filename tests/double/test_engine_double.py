"""The engine double behaves toward a real iii-sdk client the way the engine of its line does.

Each test's docstring names the engine source it follows: `R@tag:` is iii-hq/iii at that tag,
`WK:` the iii-hq/workers registry workers (http, cron, queue, state, pubsub) that 0.25 runs,
`SDK 0.25:` the iii-sdk 0.25.0 wheel, `DOCS:` the iii.dev docs. docs/engine-double.md lists them.
"""

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from engine_double import LINES, EngineDouble, InvocationFailed, installed_line
from iii import InvocationError, TriggerAction
from iii.iii import III
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from harness.projects import ENGINE_DOUBLE_DIR
from tests.double.kit import Connect, Handler, Start, echo, recorder, register

pytestmark = pytest.mark.slow


@pytest.fixture
def engine(doubles: Start) -> EngineDouble:
    return doubles(auth_function="w::auth")


@pytest.fixture
def client(engine: EngineDouble, clients: Connect) -> III:
    return clients(engine)


def subscribe(client: III, function_id: str, handler: Handler, topic: str) -> Any:
    """A pubsub subscriber; its trigger, to unregister."""
    client.register_function(function_id, handler)
    with pytest.warns(DeprecationWarning, match="register_trigger is deprecated"):
        return client.register_trigger(
            {"type": "subscribe", "function_id": function_id, "config": {"topic": topic}}
        )


@contextmanager
def raw_worker(engine: EngineDouble) -> Iterator[tuple[ClientConnection, dict[str, Any]]]:
    """A bare WebSocket client, to see the frames themselves."""
    with connect(engine.url, open_timeout=5) as socket:
        yield socket, json.loads(socket.recv(timeout=5))


def frame(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(socket.recv(timeout=5))
    return message


# Registrations.


def test_records_the_worker_its_functions_and_triggers(engine: EngineDouble, client: III) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs RegisterFunction/RegisterTrigger arms."""
    register(client, "w::echo", echo, type="cron", config={"expression": "0 * * * * *"})

    engine.wait_for_triggers("w::echo")

    assert set(engine.functions) == {"w::echo"}
    assert engine.workers[0]["name"] == "w"
    assert engine.rejected == [] and engine.parked == []


def test_check_registered_holds_each_named_function_to_exactly_its_triggers(
    engine: EngineDouble, client: III
) -> None:
    register(client, "w::echo", echo, type="cron", config={"expression": "0 * * * * *"})
    register(client, "w::other", echo, type="cron", config={"expression": "0 0 * * * *"})
    client.register_function("w::plain", echo)

    engine.check_registered({"w::echo": [("cron", {"expression": "0 * * * * *"})], "w::plain": []})
    with pytest.raises(AssertionError):
        engine.check_registered({"w::echo": [], "w::plain": []})
    with pytest.raises(AssertionError):
        engine.check_registered({"w::plain": [("cron", {"expression": "0 * * * * *"})]}, 0.5)


@pytest.mark.parametrize(
    ("trigger_type", "config", "message"),
    [
        ("http", {"http_method": "GET"}, "invalid http trigger config: missing field `api_path`"),
        ("cron", {"expression": "*/5 * * * *"}, "invalid cron expression '*/5 * * * *'"),
        ("cron", {}, "Cron expression is required"),
        ("stream", {}, "stream_name is required"),
        ("state", None, "Failed to parse trigger config"),
        ("durable:subscriber", {}, "invalid durable:subscriber config: missing field `queue`"),
        ("durable:subscriber", {"queue": " "}, "queue is required for durable:subscriber trigger"),
    ],
)
def test_answers_a_bad_config_with_a_registration_error(
    engine: EngineDouble, client: III, trigger_type: str, config: Any, message: str
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:880-893 (trigger_registration_failed with the
    provider's error); WK:http/src/types.rs HttpTriggerConfig, WK:cron/src/scheduler.rs
    `register`, WK:queue/src/trigger.rs `register_subscriber` (0.25's texts)."""
    register(client, "w::echo", echo, type=trigger_type, config=config)

    engine.wait_until(lambda: bool(engine.rejected))

    (reply,) = engine.rejected
    assert reply["error"]["code"] == "trigger_registration_failed"
    assert reply["error"]["message"].startswith(message)
    assert engine.triggers == {}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0.11", "api_path is required for http triggers"),
        ("0.22", "api_path is required for http triggers"),
    ],
)
def test_in_engine_http_words_a_missing_api_path_its_own_way(
    doubles: Start, clients: Connect, line: str, message: str
) -> None:
    """R@iii/v0.22.1:engine/src/workers/rest_api/api_core.rs:937 (`ok_or_else`), same at
    R@iii/v0.11.6:…/rest_api/api_core.rs:399."""
    engine = doubles(line=line)
    register(clients(engine), "w::echo", echo, type="http", config={})

    engine.wait_until(lambda: bool(engine.rejected))

    assert engine.rejected[0]["error"]["message"] == message


def test_parks_a_trigger_type_nobody_provides(engine: EngineDouble, client: III) -> None:
    """R:engine/src/trigger.rs:792-820 (no provider: parked, no ack)."""
    register(client, "w::echo", echo, type="queue", config={"topic": "t"})

    engine.wait_until(lambda: bool(engine.parked))

    assert engine.parked[0]["trigger_type"] == "queue" and engine.rejected == []


# Lines and providers.


def test_the_line_defaults_to_the_installed_sdk() -> None:
    """Engine and SDK share the minor line (DOCS: iii-reference §1); iii-sdk 0.25.0 here."""
    assert installed_line() == "0.25"
    assert EngineDouble().line == "0.25"
    with pytest.raises(ValueError, match=r"line must be one of 0\.11, 0\.22, 0\.25"):
        EngineDouble(line="0.24")


def write(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text)


def test_for_project_reads_worker_compose(tmp_path: Path) -> None:
    """DOCS: iii.dev/docs/0-25-0/using-iii/workers.md (registry packages under `containers`,
    engine-owned `iii-stream` under `engine.workers`)."""
    write(tmp_path, ".copier-answers.yml", "iii_line: '0.25'\n")
    write(tmp_path, "worker-compose.yaml", """
engine:
  workers:
    configuration: {}
    iii-stream: {port: 3112, auth_function: "w::auth"}
containers:
  http: {worker: "package://api.workers.iii.dev/http", version: "0.22.7"}
  state: {worker: "package://api.workers.iii.dev/state", version: "0.22.20"}
  w: {worker: "path://."}
""")  # fmt: skip

    engine = EngineDouble.for_project(tmp_path)

    assert (engine.line, engine.auth_function) == ("0.25", "w::auth")
    assert engine.providers == {"http", "state", "stream"}


@pytest.mark.parametrize("prefix", ["iii-", ""])
def test_for_project_reads_config_yaml_with_either_worker_name(tmp_path: Path, prefix: str) -> None:
    """R@iii/v0.22.1:engine/src/workers/config.rs:24-30 (`iii-http` and `http` name one worker)."""
    write(tmp_path, ".copier-answers.yml", "iii_line: '0.22'\n")
    write(tmp_path, "config.yaml", f"""
workers:
  - name: {prefix}http
  - name: {prefix}queue
    config:
      queue_configs: {{payments: {{max_retries: 5}}}}
  - name: iii-stream
    config: {{port: 3112, auth_function: "w::auth"}}
  - name: iii-exec
""")  # fmt: skip

    engine = EngineDouble.for_project(tmp_path)

    assert (engine.line, engine.auth_function) == ("0.22", "w::auth")
    assert engine.providers == {"http", "queue", "stream"}
    assert engine.queues == {"payments": {"max_retries": 5}}


def test_without_a_run_config_every_provider_runs(tmp_path: Path) -> None:
    engine = EngineDouble.for_project(tmp_path)

    # Every one this package has a module for: here iii-http-functions too, which projects lack.
    assert engine.providers == {
        "http",
        "cron",
        "queue",
        "state",
        "stream",
        "pubsub",
        "http_functions",
    }
    assert engine.line == installed_line()


def test_a_package_without_a_workers_module_runs_without_that_worker(tmp_path: Path) -> None:
    """What a project gets (copier.yml `_exclude`): only the modules of the engine workers its run
    config starts. The rest are never imported, and asking for one names what is missing."""
    import engine_double

    package = tmp_path / "engine_double"
    shutil.copytree(Path(engine_double.__file__).parent, package,
                    ignore=shutil.ignore_patterns("cron.py", "__pycache__"))  # fmt: skip
    probe = """
import sys
from engine_double import EngineDouble
engine = EngineDouble(line="0.25")
print(sorted(engine.providers), "engine_double.cron" in sys.modules)
try:
    engine.cron_tick("w::job")
except RuntimeError as error:
    print(error)
try:
    EngineDouble(providers={"cron"})
except RuntimeError as error:
    print(error)
"""
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.splitlines()

    assert shown[0] == "['http', 'http_functions', 'pubsub', 'queue', 'state', 'stream'] False"
    assert shown[1].startswith("this engine double does not run the cron worker")
    assert shown[2].startswith("tests/engine_double has no cron module")


def test_the_functions_of_a_worker_that_does_not_run_are_not_found(
    doubles: Start, clients: Connect
) -> None:
    """R:engine/src/engine/mod.rs:648-674 `resolve_function` (0.23+ wording)."""
    engine = doubles(providers={"http"})
    client = clients(engine)

    with pytest.raises(InvocationError) as failed:
        client.trigger(
            {"function_id": "state::set", "payload": {"scope": "s", "key": "k", "value": 1}}
        )

    assert failed.value.code == "function_not_found"
    assert failed.value.message == "Function state::set not found in namespace default."
    assert engine.state == {}


def test_a_subscribe_trigger_without_a_pubsub_worker_is_parked(
    doubles: Start, clients: Connect
) -> None:
    """R:engine/src/trigger.rs:792-820; pubsub is its own worker (R@iii/v0.22.1:…/pubsub.rs:580)."""
    engine = doubles(providers={"http", "queue"})
    client = clients(engine)
    register(client, "w::sub", echo, type="subscribe", config={"topic": "t"})
    register(client, "w::job", echo, type="durable:subscriber", config={"topic": "t"})

    engine.wait_until(lambda: bool(engine.parked) and bool(engine.triggers))

    assert [t["trigger_type"] for t in engine.parked] == ["subscribe"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0.11", "Function nothing::here not found"),
        ("0.22", "Function nothing::here not found"),
        ("0.25", "Function nothing::here not found in namespace default."),
    ],
)
def test_function_not_found_is_worded_as_the_line_words_it(
    doubles: Start, line: str, message: str
) -> None:
    """R@iii/v0.11.6 and R@iii/v0.22.1:engine/src/engine/mod.rs `remember_invocation`;
    R:engine/src/engine/mod.rs:669 (0.23+)."""
    engine = doubles(line=line)

    with pytest.raises(InvocationFailed) as failed:
        engine.call("nothing::here", {})

    assert failed.value.error == {"code": "function_not_found", "message": message}


# Calls between functions (D1).


def test_a_worker_calls_another_workers_function(doubles: Start, clients: Connect) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:1158-1170 and :467 `spawn_invoke_function`
    (routed to the owner, the result sent back as `invocationresult`)."""
    engine = doubles()
    asker, helper = clients(engine, "asker"), clients(engine, "helper")

    def broken(_: Any) -> Any:
        raise RuntimeError("boom")

    register(helper, "helper::double", lambda n: n * 2)
    register(helper, "helper::broken", broken)

    def ask(function_id: str) -> Any:
        try:
            return asker.trigger({"function_id": function_id, "payload": 21})
        except InvocationError as error:
            return {"code": error.code, "message": error.message}

    register(asker, "asker::ask", ask)
    engine.wait_for_functions("helper::double", "helper::broken", "asker::ask")

    assert engine.invoke("asker::ask", "helper::double") == 42
    assert engine.invoke("asker::ask", "helper::broken") == {
        "code": "invocation_failed",
        "message": "boom",
    }


@pytest.mark.parametrize("line", ["0.11", "0.22"])
def test_a_call_to_the_workers_own_function_goes_through_the_engine(
    doubles: Start, clients: Connect, line: str
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:1158-1170 (before 0.25 every call is routed)."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::inner", lambda n: n + 1)
    register(
        client, "w::outer", lambda n: client.trigger({"function_id": "w::inner", "payload": n})
    )
    engine.wait_for_functions("w::inner", "w::outer")

    assert engine.invoke("w::outer", 1) == 2


def test_a_void_call_gets_no_answer(engine: EngineDouble) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:1143-1156 (`Void`: invoked, no result sent)."""
    with raw_worker(engine) as (socket, _):
        socket.send(json.dumps({
            "type": "invokefunction", "invocation_id": "a", "function_id": "state::set",
            "data": {"scope": "s", "key": "k", "value": 1}, "action": {"type": "void"},
        }))  # fmt: skip
        socket.send(json.dumps({
            "type": "invokefunction", "invocation_id": "b", "function_id": "state::get",
            "data": {"scope": "s", "key": "k"},
        }))  # fmt: skip

        answer = frame(socket)

    assert (answer["invocation_id"], answer["result"]) == ("b", 1)


def test_enqueue_answers_a_receipt_and_the_queue_runs_the_function(
    engine: EngineDouble, client: III
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:1022-1095 (`{"messageReceiptId"}` once the queue
    took the call); WK:queue/src/functions.rs `engine::queue::enqueue`."""
    seen, record = recorder()
    register(client, "w::job", record)
    engine.wait_for_functions("w::job")

    receipt = client.trigger(
        {
            "function_id": "w::job",
            "payload": {"n": 1},
            "action": TriggerAction.Enqueue(queue="jobs"),
        }
    )
    engine.wait_until(lambda: ("w::job", {"n": 1}) in engine.fired)

    assert set(receipt) == {"messageReceiptId"} and seen == [{"n": 1}]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"line": "0.22"}, "No queue provider is installed."),
        ({"line": "0.25", "providers": {"http"}}, "No queue provider is installed."),
        ({"line": "0.11", "queues": {}}, "Queue 'jobs' not found"),
        ({"line": "0.11", "providers": {"http"}}, "QueueModule not loaded"),
    ],
)
def test_enqueue_fails_as_the_line_fails_it(
    doubles: Start, clients: Connect, options: dict[str, Any], message: str
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:1096-1135 (0.22 sends Enqueue to the standalone
    worker's `engine::queue::enqueue`, which its builtin iii-queue does not register);
    R@iii/v0.11.6:engine/src/engine/mod.rs:890-960 and …/queue/queue.rs:86-102."""
    engine = doubles(**options)
    client = clients(engine)
    register(client, "w::job", echo)
    engine.wait_for_functions("w::job")

    with pytest.raises(InvocationError) as failed:
        client.trigger(
            {"function_id": "w::job", "payload": {}, "action": TriggerAction.Enqueue(queue="jobs")}
        )

    assert failed.value.code == "enqueue_error"
    assert failed.value.message.startswith(message)


def test_a_call_in_flight_to_a_worker_that_goes_away_is_stopped(engine: EngineDouble) -> None:
    """R@iii/v0.22.1:engine/src/invocation/mod.rs:63-72 (`invocation_stopped`)."""
    with raw_worker(engine) as (socket, _), ThreadPoolExecutor(1) as pool:
        socket.send(json.dumps({"type": "registerfunction", "id": "raw::slow"}))
        engine.wait_for_functions("raw::slow")
        call = pool.submit(engine.invoke, "raw::slow", {})
        while frame(socket)["type"] != "invokefunction":
            pass  # the 0.25 ack of the registration comes first
        socket.close()

        with pytest.raises(InvocationFailed) as failed:
            call.result(timeout=10)

    assert failed.value.error == {"code": "invocation_stopped", "message": "Invocation stopped"}


def test_frames_carry_text_as_utf8_not_escapes(engine: EngineDouble) -> None:
    """serde_json::to_string writes non-ASCII as UTF-8 (R@iii/v0.22.1:engine/src/engine/mod.rs
    sends `serde_json::to_string(&msg)`), so a payload keeps its size on the wire; the SDK's
    suite sends 30 MiB of emoji against a 64 MiB frame limit."""
    with raw_worker(engine) as (socket, _), ThreadPoolExecutor(1) as pool:
        socket.send(json.dumps({"type": "registerfunction", "id": "raw::echo"}))
        engine.wait_for_functions("raw::echo")
        pool.submit(engine.invoke, "raw::echo", {"text": "é😀"}, 2)
        while '"invokefunction"' not in (text := str(socket.recv(timeout=5))):
            pass

    assert "é😀" in text and "\\u" not in text


# Conditions (D3).


def fire(engine: EngineDouble, client: III, kind: str) -> tuple[str, Any]:
    """Fire the `w::handler` trigger of this kind once; the (function id, data) it fires with."""
    if kind == "cron":
        engine.cron_tick("w::handler")
        return engine.fired[-1] if engine.fired else engine.skipped[-1]
    if kind == "state":
        engine.call("state::set", {"scope": "s", "key": "k", "value": 1})
    elif kind == "stream":
        engine.call("stream::set", {"stream_name": "s", "group_id": "g", "item_id": "i", "data": 1})
    else:
        engine.call("iii::durable::publish", {"topic": "t", "data": {"n": 1}})
    engine.wait_until(lambda: bool(engine.fired or engine.skipped))
    return (engine.fired or engine.skipped)[-1]


CONFIGS = {
    "cron": {"expression": "0 0 * * * *"},
    "state": {"scope": "s"},
    "stream": {"stream_name": "s"},
    "durable:subscriber": {"topic": "t"},
}


@pytest.mark.parametrize("kind", ["cron", "state", "stream", "durable:subscriber"])
@pytest.mark.parametrize(("verdict", "runs"), [(False, False), (None, True), (0, True)])
def test_a_condition_skips_a_firing_only_when_it_answers_json_false(
    engine: EngineDouble, client: III, kind: str, verdict: Any, runs: bool
) -> None:
    """R@iii/v0.22.1:engine/src/condition.rs:23 (`as_bool() != Some(false)`), checked before every
    cron (…/cron/structs.rs:181), state (…/state/state.rs:504), stream (…/stream/stream.rs:912)
    and queue firing (…/queue/adapters/builtin/adapter.rs:91-116: a skip acks)."""
    seen, record = recorder()
    register(client, "w::condition", lambda _: verdict)
    register(client, "w::handler", record, type=kind,
             config={**CONFIGS[kind], "condition_function_id": "w::condition"})  # fmt: skip
    engine.wait_for_triggers("w::handler")

    fired = fire(engine, client, kind if kind != "durable:subscriber" else "queue")

    assert (fired in engine.fired, len(seen)) == (runs, int(runs))
    assert engine.dead_letters == []


def test_a_queue_condition_that_fails_is_retried_like_a_failing_handler(
    engine: EngineDouble, client: III
) -> None:
    """R@iii/v0.22.1:engine/src/workers/queue/adapters/builtin/adapter.rs:107-115 (an error is a
    nack)."""
    asked, ask = recorder()

    def broken(data: Any) -> Any:
        ask(data)
        raise RuntimeError("no")

    register(client, "w::condition", broken)
    register(client, "w::handler", echo, type="durable:subscriber",
             config={"topic": "t", "condition_function_id": "w::condition"})  # fmt: skip
    engine.wait_for_triggers("w::handler")

    engine.call("iii::durable::publish", {"topic": "t", "data": 1})
    engine.wait_until(lambda: bool(engine.dead_letters))

    assert len(asked) == 3 and engine.fired == []


# Durable queue (D2, D16).


@pytest.mark.parametrize(
    ("line", "queue_config", "deliveries"),
    [
        ("0.11", {"maxRetries": 2}, 3),
        ("0.22", {"maxRetries": 2}, 3),
        ("0.25", {"maxRetries": 2}, 2),
        ("0.11", None, 3),
        ("0.22", None, 3),
        ("0.25", None, 3),
        ("0.22", {"maxRetries": True}, 3),
        ("0.22", {"maxRetries": -1}, 3),
        ("0.22", {"max_retries": 1}, 3),
        ("0.25", {"max_retries": 1}, 1),
        ("0.25", {"maxRetries": 0}, 1),
    ],
)
def test_a_failing_subscriber_gets_the_lines_deliveries_then_is_dead_lettered(
    doubles: Start, clients: Connect, line: str, queue_config: Any, deliveries: int
) -> None:
    """R@iii/v0.11.6:engine/src/builtins/queue.rs:99-105,343-362,905-925 (jobs carry the queue's
    own max_attempts = 3; the subscriber's config is unused); R@iii/v0.22.1:engine/src/workers/
    queue/adapters/builtin/adapter.rs:196-200 (maxRetries + 1 attempts); WK:queue/src/store.rs
    `nack` (registry queue 0.21.26: maxRetries deliveries). Spellings and edge values:
    R@iii/v0.22.1:engine/src/workers/queue/subscriber_config.rs `from_value` (only camelCase
    `maxRetries`, read with `as_u64`, else the default); WK:queue/src/subscriber_config.rs
    (`max_retries` with the alias `maxRetries`)."""
    engine = doubles(line=line)
    client = clients(engine)
    attempts: list[Any] = []

    def failing(job: Any) -> None:
        attempts.append(job)
        raise ValueError("no")

    config: dict[str, Any] = {"topic": "t"}
    if queue_config is not None:
        config["queue_config"] = queue_config
    register(client, "w::sub", failing, type="durable:subscriber", config=config)
    engine.wait_for_triggers("w::sub")

    client.trigger({"function_id": "iii::durable::publish", "payload": {"topic": "t", "data": 1}})
    engine.wait_until(lambda: bool(engine.dead_letters))

    assert len(attempts) == deliveries
    assert engine.dead_letters[0]["job"] == 1


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"queue": "t", "topic": "t"}, "duplicate field `queue`"),
        ({"topic": 5}, "invalid type: integer `5`, expected a string"),
        ({"topic": "t", "maxRetries": -1}, "invalid value: integer `-1`, expected u32"),
        ({"topic": "t", "max_retries": 1.5}, "invalid type: floating point `1.5`, expected u32"),
        ({"topic": "t", "max_retries": 1, "maxRetries": 2}, "duplicate field `max_retries`"),
        ({"topic": "t", "queue_config": "fast"}, 'invalid type: string "fast", expected struct'),
        ({"topic": "t", "queue_config": {"maxRetries": "3"}}, 'invalid type: string "3"'),
        ({"topic": "t", "queue_config": {"concurrency": 2**32}}, "invalid value: integer"),
    ],
)
def test_the_registry_queue_refuses_a_subscriber_config_serde_cannot_read(
    doubles: Start, clients: Connect, config: dict[str, Any], problem: str
) -> None:
    """WK:queue/src/trigger.rs `SubscriberSpec` (serde: `queue` alias `topic`, `max_retries` alias
    `maxRetries` as u32, `queue_config`) and `register_trigger` ("invalid durable:subscriber
    config: ..."); WK:queue/src/subscriber_config.rs `SubscriberQueueConfig`."""
    engine = doubles(line="0.25")
    client = clients(engine)
    register(client, "w::sub", echo, type="durable:subscriber", config=config)

    engine.wait_until(lambda: bool(engine.rejected))

    message = engine.rejected[0]["error"]["message"]
    assert message.startswith(f"invalid durable:subscriber config: {problem}")
    assert engine.triggers == {}


@pytest.mark.parametrize("line", ["0.11", "0.22"])
def test_the_in_engine_queue_takes_any_subscriber_config(
    doubles: Start, clients: Connect, line: str
) -> None:
    """R@iii/v0.22.1:engine/src/workers/queue/queue.rs:600-650 and R@iii/v0.11.6:…/queue/queue.rs
    (`topic` read with `as_str`; a missing or odd one only logs "Topic is not set")."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::sub", echo, type="durable:subscriber",
             config={"topic": 5, "queue_config": "fast"})  # fmt: skip

    engine.wait_for_triggers("w::sub")

    assert engine.rejected == []


def test_publish_reaches_durable_subscribers_unwrapped(engine: EngineDouble, client: III) -> None:
    """R@iii/v0.22.1:engine/src/workers/queue/queue.rs:257-290 (the subscriber gets `data`)."""
    jobs, record = recorder()
    register(client, "w::sub", record, type="durable:subscriber", config={"topic": "t"})
    engine.wait_for_triggers("w::sub")

    client.trigger(
        {"function_id": "iii::durable::publish", "payload": {"topic": "t", "data": {"n": 1}}}
    )
    engine.wait_until(lambda: bool(jobs))

    assert jobs == [{"n": 1}]


@pytest.mark.parametrize(("line", "accepted"), [("0.25", True), ("0.22", False)])
def test_publish_takes_queue_for_topic_only_on_the_registry_queue(
    doubles: Start, line: str, accepted: bool
) -> None:
    """WK:queue/src/functions.rs PublishInput (`#[serde(alias = "queue")]`); the builtin's
    QueueInput has only `topic` (R@iii/v0.22.1:engine/src/workers/queue/queue.rs)."""
    engine = doubles(line=line)

    if accepted:
        assert engine.call("iii::durable::publish", {"queue": "t", "data": 1}) is None
    else:
        with pytest.raises(InvocationFailed, match="deserialization_error"):
            engine.call("iii::durable::publish", {"queue": "t", "data": 1})
    with pytest.raises(InvocationFailed, match="topic_not_set: Topic is not set"):
        engine.call("iii::durable::publish", {"topic": "", "data": 1})


def test_two_triggers_on_one_function_share_one_subscription(
    engine: EngineDouble, client: III
) -> None:
    """WK:queue/src/trigger.rs `subscription_key` (keyed by function id);
    R@iii/v0.22.1:…/queue/adapters/builtin/adapter.rs:244 (one internal queue per function)."""
    jobs: list[Any] = []

    async def record(job: Any) -> None:
        jobs.append(job)

    register(client, "w::sub", record, type="durable:subscriber", config={"topic": "t"})
    with pytest.warns(DeprecationWarning):
        client.register_trigger({"type": "durable:subscriber", "function_id": "w::sub",
                                 "config": {"topic": "t"}})  # fmt: skip
    register(client, "w::ping", echo)
    engine.wait_until(lambda: len(engine.triggers_of("durable:subscriber")) == 2)
    engine.wait_for_functions("w::ping")

    engine.call("iii::durable::publish", {"topic": "t", "data": 1})
    engine.wait_until(lambda: bool(jobs))
    engine.invoke("w::ping", {})  # anything a second delivery sent has arrived by now

    assert jobs == [1]


# HTTP (D5, D8, D10, D11, D12).


def test_http_applies_status_code_and_ignores_status_code_in_camel_case(
    engine: EngineDouble, client: III
) -> None:
    """WK:http/src/types.rs `from_function_return` (same in R@iii/v0.22.1 …/rest_api/types.rs)."""
    register(client, "w::created", lambda _: {"status_code": 201, "body": {"ok": True}},
             type="http", config={"api_path": "/a", "http_method": "POST"})  # fmt: skip
    register(client, "w::camel", lambda _: {"statusCode": 404, "body": "x"},
             type="http", config={"api_path": "/b"})  # fmt: skip
    register(client, "w::bare", lambda _: {"ok": True}, type="http", config={"api_path": "/c"})
    engine.wait_for_triggers("w::created", "w::camel", "w::bare")

    assert engine.http("POST", "/a", body={}).status_code == 201
    assert engine.http("GET", "/b").status_code == 200
    assert engine.http("GET", "/c").body == {}


def test_http_url_serves_the_routes_on_a_real_port_to_any_http_client(
    engine: EngineDouble, client: III
) -> None:
    """The engine's http worker listens on a port of its own (WK:http/src/lib.rs binds `port`,
    3111 by default); what arrives there is what `EngineDouble.http` answers: routes, status
    codes, headers, the line's error envelope, keep-alive, chunked bodies."""
    register(client, "w::echo", lambda request: {"status_code": 201, "body": request["body"],
             "headers": {"x-seen": request["headers"].get("x-test", "")}},
             type="http", config={"api_path": "/echo", "http_method": "POST"})  # fmt: skip
    engine.wait_for_triggers("w::echo")
    host, port = engine.http_url.removeprefix("http://").split(":")

    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("POST", "/echo", body=b'{"a": 1}', headers={"X-Test": "yes"})
    created = connection.getresponse()
    created_body = json.loads(created.read())
    connection.request("GET", "/nowhere")  # the same connection: keep-alive
    missing = connection.getresponse()
    missing_body = missing.read()
    connection.request("POST", "/echo", body=iter([b'{"b"', b": 2}"]),
                       headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)  # fmt: skip
    chunked = json.loads(connection.getresponse().read())
    connection.close()

    assert (created.status, created_body, created.getheader("x-seen")) == (201, {"a": 1}, "yes")
    expected = engine.http("GET", "/nowhere")
    assert (missing.status, missing_body) == (expected.status_code, expected.content)
    assert chunked == {"b": 2}


def test_http_url_is_empty_without_the_http_worker_and_survives_a_restart(
    doubles: Start,
) -> None:
    """A project that runs no http worker has no HTTP port; an engine that comes back listens on
    the same ports."""
    assert doubles(providers={"state"}).http_url == ""
    engine = doubles(providers={"http"})
    before = engine.http_url

    engine.restart()

    assert engine.http_url == before
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(before + "/nowhere", timeout=10)
    missing.value.close()
    assert missing.value.code == 404


def test_the_development_command_plays_the_engine_on_its_ports_and_refuses_a_taken_one(
    tmp_path: Path,
) -> None:
    """`python -m tests.engine_double` (here `engine_double`, from the template's copy): labelled
    for development only, the engine's ports, the routes a worker registers; a taken port is a
    bad setting (exit 2, one line), not a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = subprocess.run(
            [sys.executable, "-m", "engine_double", "--port", str(port)],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ENGINE_DOUBLE_DIR)},
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    command = subprocess.Popen(
        [sys.executable, "-m", "engine_double", "--port", "0", "--http-port", "0",
         "--stream-port", "0"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ENGINE_DOUBLE_DIR)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        banner = [command.stdout.readline() for _ in range(6)] if command.stdout else []
    finally:
        command.send_signal(signal.SIGINT)
        command.communicate(timeout=10)

    assert refused.returncode == 2 and "--port" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "FOR DEVELOPMENT ONLY" in banner[0] and "III_URL=ws://127.0.0.1:" in banner[2]
    assert banner[3].startswith("  http:    http://127.0.0.1:")
    assert banner[4].startswith("  stream:  ws://127.0.0.1:")
    assert command.returncode == 0


def test_http_passes_path_params_and_the_registered_pattern(
    engine: EngineDouble, client: III
) -> None:
    """WK:http/src/handler.rs `dynamic_handler` (HttpRequest.path is the route's pattern)."""
    register(client, "w::echo", lambda request: {"body": {k: request[k] for k in ("path", "path_params", "body")}},
             type="http", config={"api_path": "/items/:id", "http_method": "PUT"})  # fmt: skip
    engine.wait_for_triggers("w::echo")

    response = engine.http("PUT", "/items/42", body={"a": 1})

    assert response.body == {"path": "/items/:id", "path_params": {"id": "42"}, "body": {"a": 1}}


def test_http_runs_middleware_in_order_before_the_handler(
    engine: EngineDouble, client: III
) -> None:
    """WK:http/src/middleware.rs `execute_middleware`; WK:http/src/handler.rs (condition, route
    middleware, handler)."""
    seen: list[str] = []

    def middleware(name: str, verdict: dict[str, Any]) -> Handler:
        def run(data: Any) -> Any:
            assert data["phase"] == "preHandler" and "body" not in data["request"]
            seen.append(name)
            return verdict

        return run

    register(client, "w::first", middleware("first", {"action": "continue"}))
    register(
        client,
        "w::deny",
        middleware("deny", {"action": "respond", "response": {"status_code": 401}}),
    )
    register(client, "w::handler", echo, type="http",
             config={"api_path": "/x", "middleware_function_ids": ["w::first", "w::deny"]})  # fmt: skip
    engine.wait_for_triggers("w::handler")

    response = engine.http("GET", "/x")

    assert (response.status_code, seen) == (401, ["first", "deny"])
    assert (response.body, response.content) == (None, b"null")  # respond's body defaults to null


def broken(_: Any) -> Any:
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("line", "handler_error", "middleware_error"),
    [
        ("0.11", {"error": "boom"}, {"error": "Function w::missing not found"}),
        (
            "0.22",
            {"error": {"code": "invocation_failed", "message": "boom"}},
            {"error": {"code": "function_not_found", "message": "Function w::missing not found"}},
        ),
        (
            "0.25",
            {"error": {"code": "INTERNAL_ERROR",
                       "message": "remote error (invocation_failed): boom"}},
            {"error": {"code": "INTERNAL_ERROR",
                       "message": "remote error (function_not_found): Function w::missing not "
                                  "found in namespace default."}},
        ),
    ],
)  # fmt: skip
def test_http_answers_500_with_the_lines_error_envelope(
    doubles: Start,
    clients: Connect,
    line: str,
    handler_error: dict[str, Any],
    middleware_error: dict[str, Any],
) -> None:
    """R@iii/v0.11.6:engine/src/workers/rest_api/views.rs:227,596 (flat `{error, error_id}`);
    R@iii/v0.22.1:…/rest_api/views.rs:42-48,657,796 (`{error: {code, message, error_id}}` with the
    function's own code); WK:http/src/handler.rs and middleware.rs (`INTERNAL_ERROR`, the SDK
    error's text, R:sdk/packages/rust/iii/src/error.rs:14)."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::broken", broken, type="http", config={"api_path": "/x"})
    register(client, "w::guarded", echo, type="http",
             config={"api_path": "/y", "middleware_function_ids": ["w::missing"]})  # fmt: skip
    engine.wait_for_triggers("w::broken", "w::guarded")

    for path, expected in (("/x", handler_error), ("/y", middleware_error)):
        response = engine.http("GET", path)
        error_id = (response.body if line == "0.11" else response.body["error"]).pop("error_id")
        assert (response.status_code, response.body) == (500, expected)
        assert error_id


@pytest.mark.parametrize(
    ("line", "body"),
    [
        ("0.11", {"error": "Request condition not met", "skipped": True}),
        ("0.22", {"error": {"code": "CONDITION_NOT_MET", "message": "Request condition not met"},
                  "skipped": True}),
    ],
)  # fmt: skip
def test_http_answers_422_when_the_condition_is_false(
    doubles: Start, clients: Connect, line: str, body: dict[str, Any]
) -> None:
    """R@iii/v0.11.6:…/rest_api/views.rs:470; R@iii/v0.22.1:…/rest_api/views.rs:524-533."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::never", lambda _: False)
    register(client, "w::handler", echo, type="http",
             config={"api_path": "/x", "condition_function_id": "w::never"})  # fmt: skip
    engine.wait_for_triggers("w::handler")

    response = engine.http("GET", "/x")

    assert (response.status_code, response.body) == (422, body)


@pytest.mark.parametrize(
    ("line", "body"),
    [("0.11", None), ("0.22", {"error": {"code": "NOT_FOUND", "message": "Not Found"}}),
     ("0.25", {"error": {"code": "NOT_FOUND", "message": "Not Found"}})],
)  # fmt: skip
def test_http_answers_404_as_the_line_does(doubles: Start, line: str, body: Any) -> None:
    """R@iii/v0.11.6:…/rest_api/api_core.rs:171-197 (no fallback: axum's empty 404);
    R@iii/v0.22.1:…/rest_api/views.rs:846-852; WK:http/src/handler.rs `NOT_FOUND`."""
    engine = doubles(line=line)

    response = engine.http("GET", "/nowhere")

    assert (response.status_code, response.body) == (404, body)


@pytest.mark.parametrize("line", ["0.22", "0.25"])
def test_a_literal_route_beats_a_parameter_route(
    doubles: Start, clients: Connect, line: str
) -> None:
    """axum 0.8's matcher (R@iii/v0.22.1:…/rest_api/api_core.rs:682-710); WK:http/src/trigger.rs
    `match_route` (fewest parameters win)."""
    engine = doubles(line=line)
    client = clients(engine)
    register(
        client,
        "w::by-id",
        lambda _: {"body": "by-id"},
        type="http",
        config={"api_path": "/items/:id"},
    )
    register(
        client,
        "w::copy",
        lambda _: {"body": "copy"},
        type="http",
        config={"api_path": "/items/copy"},
    )
    engine.wait_for_triggers("w::by-id", "w::copy")

    assert engine.http("GET", "/items/copy").body == "copy"
    assert engine.http("GET", "/items/7").body == "by-id"


@pytest.mark.parametrize(
    ("line", "path", "params"),
    [("0.25", "/tasks/:tid", {"tid": "7"}), ("0.22", "/tasks/{tid}", {})],
)
def test_brace_parameters_route_as_the_line_routes_them(
    doubles: Start, clients: Connect, line: str, path: str, params: dict[str, str]
) -> None:
    """WK:http/src/types.rs `normalize_api_path` (`{tid}` becomes `:tid`); R@iii/v0.22.1:
    …/rest_api/api_core.rs `build_router_for_axum` routes `{tid}`, but views.rs
    `extract_path_params` only reads `:name` segments."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::task", lambda r: {"body": [r["path"], r["path_params"]]},
             type="http", config={"api_path": "/tasks/{tid}"})  # fmt: skip
    engine.wait_for_triggers("w::task")

    assert engine.http("GET", "/tasks/7").body == [path, params]


@pytest.mark.parametrize(("line", "allow"), [("0.22", "GET,HEAD"), ("0.25", "GET")])
def test_the_wrong_method_gets_405_with_allow(
    doubles: Start, clients: Connect, line: str, allow: str
) -> None:
    """axum 0.8 MethodRouter (405 with `Allow`) under R@iii/v0.22.1:…/rest_api/api_core.rs;
    WK:http/src/trigger.rs `allowed_methods`."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::get", echo, type="http", config={"api_path": "/items"})
    engine.wait_for_triggers("w::get")

    response = engine.http("DELETE", "/items")

    assert (response.status_code, response.headers["allow"]) == (405, allow)


@pytest.mark.parametrize("line", LINES)
def test_a_route_with_the_shape_of_another_is_refused(
    doubles: Start, clients: Connect, line: str
) -> None:
    """R@iii/v0.22.1:…/rest_api/api_core.rs:844-880 `register_router`; WK:http/src/trigger.rs
    `RouteTable::insert` (0.11 has no check: its router panics on the conflict)."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::a", echo, type="http", config={"api_path": "/a/:x"})
    register(client, "w::b", echo, type="http", config={"api_path": "/a/:y"})

    engine.wait_until(lambda: bool(engine.rejected))

    assert engine.rejected[0]["error"]["message"].startswith(
        "Route 'GET /a/:y' conflicts with already-registered route 'GET /a/:x'"
    )


@pytest.mark.parametrize(("line", "parsed"), [("0.25", {"a": 1}), ("0.22", None), ("0.11", None)])
def test_a_json_body_is_parsed_whatever_the_content_type_from_0_25(
    doubles: Start, clients: Connect, line: str, parsed: Any
) -> None:
    """WK:http/src/handler.rs (`serde_json::from_slice` of any body); R@iii/v0.22.1:…/rest_api/
    views.rs:441 (only a JSON Content-Type is parsed)."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::echo", lambda r: {"body": {"got": r["body"]}}, type="http",
             config={"api_path": "/x", "http_method": "POST"})  # fmt: skip
    engine.wait_for_triggers("w::echo")

    response = engine.http("POST", "/x", data='{"a": 1}', headers={"content-type": "text/plain"})

    assert response.body == {"got": parsed}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("line", ["0.22", "0.25"])
@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("[" * 126 + "1" + "]" * 126 + "", nested(126)),
        ("[" * 127 + "]" * 127, json.loads("[" * 127 + "]" * 127)),  # 127 levels parse
        ("[" * 128 + "]" * 128, None),  # ... 128 do not
        ("[" * 5000 + "]" * 5000, None),
        ('{"a": "\\ud800"}', None),  # a lone surrogate escape
        ('{"a": "\\udc00x"}', None),
        ('{"a": "\\ud83d\\ude00"}', {"a": "\U0001f600"}),  # a pair is one character
        ('{"a": NaN}', None),
        ('{"a": 1e400}', None),
        ("\ufeff{}", None),  # serde_json takes no byte-order mark
        ("18446744073709551616", 18446744073709551616.0),  # wider than u64: an f64
        ('"[{"', "[{"),  # brackets inside strings do not count
    ],
)
def test_a_json_body_parses_as_serde_json_parses_it(
    doubles: Start, clients: Connect, line: str, raw: str, parsed: Any
) -> None:
    """WK:http/src/handler.rs (`serde_json::from_slice(&body_bytes).unwrap_or(Value::Null)`);
    R@iii/v0.22.1:engine/src/workers/rest_api/views.rs:441-465 (the same, for a JSON
    Content-Type); serde_json's recursion limit of 128 (de.rs `remaining_depth`), its refusal of
    lone surrogates, NaN, out-of-range floats and a leading BOM."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::echo", lambda r: {"body": {"got": r["body"]}}, type="http",
             config={"api_path": "/x", "http_method": "POST"})  # fmt: skip
    engine.wait_for_triggers("w::echo")

    response = engine.http("POST", "/x", data=raw, headers={"content-type": "application/json"})

    assert (response.status_code, response.body) == (200, {"got": parsed})


def test_a_body_too_deep_to_encode_in_python_still_reaches_the_engine(
    doubles: Start, clients: Connect
) -> None:
    """What a client sends for `body=` nested 5,000 deep, a lone surrogate or a raw `data` string
    holding one: the bytes reach the engine, which answers as serde_json parses them (null)."""
    engine = doubles(line="0.25")
    client = clients(engine)
    register(client, "w::echo", lambda r: {"body": {"got": r["body"]}}, type="http",
             config={"api_path": "/x", "http_method": "POST"})  # fmt: skip
    engine.wait_for_triggers("w::echo")

    assert engine.http("POST", "/x", body=nested(5000)).body == {"got": None}
    assert engine.http("POST", "/x", body={"a": "\ud800"}).body == {"got": None}
    assert engine.http("POST", "/x", data='{"a": "\ud800"}').body == {"got": None}
    assert engine.http("POST", "/x", body={"deep": nested(100)}).body == {
        "got": {"deep": nested(100)}
    }


@pytest.mark.parametrize("line", ["0.22", "0.25"])
def test_query_params_are_one_string_per_key_with_blanks_kept(
    doubles: Start, clients: Connect, line: str
) -> None:
    """WK:http/src/handler.rs and R@iii/v0.22.1:engine/src/workers/rest_api/views.rs:277
    (`Query<HashMap<String, String>>`: serde_urlencoded keeps `a=` as "" and the last value of a
    repeated key); the middleware gets the same map (WK:http/src/middleware.rs
    `build_middleware_input`)."""
    engine = doubles(line=line)
    client = clients(engine)
    seen: list[Any] = []

    def middleware(data: Any) -> Any:
        seen.append(data["request"]["query_params"])
        return {"action": "continue"}

    register(client, "w::mw", middleware)
    register(client, "w::echo", lambda r: {"body": r["query_params"]}, type="http",
             config={"api_path": "/q", "middleware_function_ids": ["w::mw"]})  # fmt: skip
    engine.wait_for_triggers("w::echo")

    response = engine.http("GET", "/q?a=&b=1&b=2&c", query={"d": ["x", "y"], "e": "z"})

    expected = {"a": "", "b": "2", "c": "", "d": "y", "e": "z"}
    assert response.body == expected and seen == [expected]


@pytest.mark.parametrize(("line", "trigger_path"), [("0.25", "/items/7"), ("0.22", "/items/:id")])
def test_trigger_path_is_what_the_line_sends(
    doubles: Start, clients: Connect, line: str, trigger_path: str
) -> None:
    """WK:http/src/handler.rs (TriggerMetadata.path = the URL path); R@iii/v0.22.1:…/rest_api/
    views.rs:486-497 (the registered pattern)."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::echo", lambda r: {"body": r["trigger"]}, type="http",
             config={"api_path": "/items/:id"})  # fmt: skip
    engine.wait_for_triggers("w::echo")

    assert engine.http("GET", "/items/7").body == {
        "type": "http",
        "path": trigger_path,
        "method": "GET",
    }


def test_response_headers_may_be_name_value_lines(engine: EngineDouble, client: III) -> None:
    """WK:http/src/types.rs `from_function_return` and `parse_header_line`; a string body with a
    Content-Type of the handler's own goes out raw (`into_axum_response`)."""
    register(client, "w::xml", lambda _: {"headers": ["Content-Type: text/xml", "X-A: 1"], "body": "<a/>"},
             type="http", config={"api_path": "/x"})  # fmt: skip
    engine.wait_for_triggers("w::xml")

    response = engine.http("GET", "/x")

    assert response.headers == {"content-type": "text/xml", "x-a": "1"}
    assert (response.body, response.content) == ("<a/>", b"<a/>")


@pytest.mark.parametrize(("line", "status"), [("0.11", 504), ("0.22", 504), ("0.25", 200)])
def test_a_handler_that_returns_nothing_gets_the_lines_timeout_answer(
    doubles: Start, clients: Connect, line: str, status: int
) -> None:
    """R@iii/v0.22.1:…/rest_api/views.rs:688-700 (waits on the response channel) under api_core.rs:668
    TimeoutLayer (504 after default_timeout); WK:http/src/handler.rs `Race::Streamed` (an idle
    timeout, then the status set so far and no body)."""
    engine = doubles(line=line, http_timeout=0.3)
    client = clients(engine)
    register(client, "w::silent", lambda _: None, type="http", config={"api_path": "/x"})
    engine.wait_for_triggers("w::silent")

    response = engine.http("GET", "/x")

    assert (response.status_code, response.content) == (status, b"")


async def stream_back(request: Any) -> None:
    """A streaming handler: status and headers as control frames, then the body in two chunks."""
    writer = request["response"]
    await writer.send_message_async(json.dumps({"type": "set_status", "status_code": 201}))
    await writer.send_message_async(
        json.dumps({"type": "set_headers", "headers": {"Content-Type": "text/plain"}})
    )
    await writer.write(b"hello ")
    await writer.write(b"world")
    await writer.close_async()


@pytest.mark.parametrize("line", LINES)
def test_a_handler_streams_its_response_over_the_channel(
    doubles: Start, clients: Connect, line: str
) -> None:
    """R@iii/v0.22.1:…/rest_api/views.rs:62-96,600-760 (set_status/set_headers text frames, binary
    body frames) and …/worker/mod.rs:153 (`/ws/channels/{id}`); WK:http/src/handler.rs."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::stream", stream_back, type="http", config={"api_path": "/x"})
    engine.wait_for_triggers("w::stream")

    response = engine.http("GET", "/x")

    assert (response.status_code, response.headers) == (201, {"content-type": "text/plain"})
    assert (response.content, response.body) == (b"hello world", "hello world")
    assert (engine.connections_seen, len(engine.workers)) == (1, 1)  # channels are not workers


async def read_raw(request: Any) -> Any:
    return {"body": {"raw": (await request["request_body"].read_all()).decode()}}


@pytest.mark.parametrize(
    ("line", "content_type", "raw"),
    [
        ("0.11", "application/x-www-form-urlencoded", "a=1&b=2"),
        ("0.11", "application/json", ""),
        ("0.22", "application/json", '{"a": 1}'),
        ("0.25", "text/csv", "a,b"),
    ],
)
def test_the_raw_request_body_arrives_over_the_channel(
    doubles: Start, clients: Connect, line: str, content_type: str, raw: str
) -> None:
    """R@iii/v0.11.6:…/rest_api/views.rs:384-420 (a JSON body goes to `body` only);
    R@iii/v0.22.1:…/rest_api/views.rs:441-470; WK:http/src/handler.rs (every body is streamed)."""
    engine = doubles(line=line)
    client = clients(engine)
    register(
        client, "w::raw", read_raw, type="http", config={"api_path": "/x", "http_method": "POST"}
    )
    engine.wait_for_triggers("w::raw")

    sent = raw or '{"a": 1}'
    response = engine.http("POST", "/x", data=sent, headers={"content-type": content_type})

    assert response.body == {"raw": raw}


async def count_raw(request: Any) -> Any:
    return {"body": {"size": len(await request["request_body"].read_all())}}


def test_a_body_past_the_sdks_frame_limit_arrives_a_chunk_per_frame(
    engine: EngineDouble, client: III
) -> None:
    """R@iii/v0.22.1:…/rest_api/views.rs:466-476 (each frame hyper reads goes to the channel as
    it comes): a 3 MiB upload reaches a handler whose channel socket takes frames of 1 MiB at most
    (websockets' default, which the SDK's channels keep)."""
    register(client, "w::size", count_raw, type="http",
             config={"api_path": "/upload", "http_method": "POST"})  # fmt: skip
    engine.wait_for_triggers("w::size")
    upload = bytes(range(256)) * (3 * 4096)

    response = engine.http(
        "POST", "/upload", data=upload, headers={"content-type": "application/octet-stream"}
    )

    assert response.body == {"size": len(upload)}


def test_channels_created_by_a_worker_connect_its_writer_and_reader(
    engine: EngineDouble, client: III
) -> None:
    """R@iii/v0.22.1:engine/src/workers/engine_fn/mod.rs:1176-1191 (`engine::channels::create`);
    …/worker/channels.rs (one channel, a writer and a reader end)."""
    from iii import helpers  # the SDK's helper module for channels

    async def pipe() -> bytes:
        channel = await helpers.create_channel_async(client)
        await channel.writer.write(b"through the engine")
        await channel.writer.close_async()
        return await channel.reader.read_all()

    assert asyncio.run(pipe()) == b"through the engine"
    assert engine.connections_seen == 1


# State and stream built-ins (D7).


def test_state_set_fires_state_triggers_with_the_engine_event(
    engine: EngineDouble, client: III
) -> None:
    """WK:state/src/functions.rs `state::set` and events.rs `event_json`."""
    events, record = recorder()
    register(client, "w::on-state", record, type="state", config={"scope": "s"})
    register(client, "w::write", lambda _: client.trigger(
        {"function_id": "state::set", "payload": {"scope": "s", "key": "k", "value": 1}}))  # fmt: skip
    engine.wait_for_triggers("w::on-state")
    engine.wait_for_functions("w::write")

    engine.invoke("w::write", {})
    engine.wait_until(lambda: bool(events))

    assert events == [{"type": "state", "event_type": "state:created", "scope": "s", "key": "k",
                       "old_value": None, "new_value": 1}]  # fmt: skip


def test_state_update_applies_its_ops_and_fires_the_state_event(
    engine: EngineDouble, client: III
) -> None:
    """R@iii/v0.22.1:engine/src/workers/state/state.rs:686-724 and engine/src/update_ops.rs
    `apply_update_ops` (WK:state/src/functions.rs keeps the same surface)."""
    events, record = recorder()
    register(client, "w::on-state", record, type="state", config={"scope": "s"})
    engine.wait_for_triggers("w::on-state")
    engine.call("state::set", {"scope": "s", "key": "k", "value": {"n": 1, "tags": ["a"], "x": 0}})
    ops = [
        {"type": "increment", "path": "n", "by": 2},
        {"type": "decrement", "path": "m", "by": 1},
        {"type": "merge", "value": {"name": "Ada"}},
        {"type": "append", "path": "tags", "value": "b"},
        {"type": "remove", "path": "x"},
        {"type": "set", "path": "done", "value": True},
        {"type": "increment", "path": "name", "by": 1},
    ]

    result = client.trigger(
        {"function_id": "state::update", "payload": {"scope": "s", "key": "k", "ops": ops}}
    )
    engine.wait_until(lambda: len(events) == 2)

    new = {"n": 3, "tags": ["a", "b"], "m": -1, "name": "Ada", "done": True}
    assert (result["old_value"], result["new_value"]) == ({"n": 1, "tags": ["a"], "x": 0}, new)
    assert [(e["op_index"], e["code"]) for e in result["errors"]] == [(6, "increment.not_number")]
    assert events[1]["event_type"] == "state:updated" and events[1]["new_value"] == new


def test_state_update_of_a_missing_key_creates_it(engine: EngineDouble) -> None:
    """R@iii/v0.22.1:engine/src/update_ops.rs `apply_update_ops` (a missing value starts from `{}`,
    a root increment from the amount)."""
    created = engine.call(
        "state::update",
        {"scope": "s", "key": "c", "ops": [{"type": "increment", "path": "", "by": 5}]},
    )
    appended = engine.call(
        "state::update", {"scope": "s", "key": "t", "ops": [{"type": "append", "value": "hi"}]}
    )

    assert created == {"old_value": None, "new_value": 5}
    assert appended == {"old_value": None, "new_value": "hi"}


@pytest.mark.parametrize("line", ["0.22", "0.25"])
def test_state_lists_groups_and_on_0_25_keys(doubles: Start, line: str) -> None:
    """R@iii/v0.22.1:engine/src/workers/state/state.rs:741-765 (`{groups}` sorted);
    WK:state/src/functions.rs `state::list_keys` (`{keys}`, the registry worker's addition)."""
    engine = doubles(line=line)
    for scope, key in (("b", "k1"), ("a", "k2"), ("b", "k3")):
        engine.call("state::set", {"scope": scope, "key": key, "value": 1})

    assert engine.call("state::list_groups", {}) == {"groups": ["a", "b"]}
    if line == "0.25":
        assert engine.call("state::list_keys", {"scope": "b"}) == {"keys": ["k1", "k3"]}
    else:
        with pytest.raises(InvocationFailed, match="function_not_found"):
            engine.call("state::list_keys", {"scope": "b"})


@pytest.mark.parametrize("line", ["0.22", "0.25"])
def test_groups_stay_listed_after_their_last_entry_is_deleted(doubles: Start, line: str) -> None:
    """R@iii/v0.22.1:engine/src/builtins/kv.rs:414-440 (`delete` shift_removes the key and
    leaves the emptied index map in the store), :567-577 (`list`, `list_groups`: the store's
    keys); WK:state/src/store.rs `remove_shared`, `list_groups` (the same); R@iii/v0.22.1:engine/
    src/workers/stream/adapters/kv_store.rs:105-170 (stream groups are indices of that store)."""
    engine = doubles(line=line)
    engine.call("state::set", {"scope": "a", "key": "k", "value": 1})
    engine.call("state::delete", {"scope": "a", "key": "k"})
    engine.call("state::delete", {"scope": "never", "key": "k"})
    engine.call("state::get", {"scope": "unread", "key": "k"})
    item = {"stream_name": "chat", "group_id": "g", "item_id": "i"}
    engine.call("stream::set", {**item, "data": 1})
    engine.call("stream::delete", item)

    assert engine.call("state::list_groups", {}) == {"groups": ["a"]}
    assert engine.call("state::list", {"scope": "a"}) == []
    assert engine.call("stream::list_groups", {"stream_name": "chat"}) == ["g"]
    assert engine.call("stream::list_all", {}) == {
        "stream": [{"id": "chat", "groups": ["g"]}],
        "count": 1,
    }
    engine.reset()  # a restart of the in-memory store forgets them
    assert engine.call("state::list_groups", {}) == {"groups": []}


def test_state_lists_keep_insertion_order_across_overwrites(doubles: Start) -> None:
    """WK:state/src/store.rs `set` (IndexMap insert keeps an existing key's place), `list_keys`,
    `list`; R@iii/v0.22.1:engine/src/builtins/kv.rs:567 (`list` in index order)."""
    engine = doubles(line="0.25")
    for key, value in (("b", 1), ("a", 2), ("b", 3)):
        engine.call("state::set", {"scope": "s", "key": key, "value": value})

    assert engine.call("state::list_keys", {"scope": "s"}) == {"keys": ["b", "a"]}
    assert engine.call("state::list", {"scope": "s"}) == [3, 2]


def test_stream_set_fires_stream_triggers(engine: EngineDouble, client: III) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/stream.rs:983-1060 (StreamWrapperMessage)."""
    events, record = recorder()
    register(client, "w::on-chat", record, type="stream", config={"stream_name": "chat"})
    engine.wait_for_triggers("w::on-chat")
    payload = {"stream_name": "chat", "group_id": "g", "item_id": "i", "data": {"t": 1}}

    client.trigger({"function_id": "stream::set", "payload": payload})
    engine.wait_until(lambda: bool(events))

    assert events[0]["streamName"] == "chat" and events[0]["event"] == {
        "type": "create",
        "data": {"t": 1},
    }


def test_stream_update_send_and_listings(engine: EngineDouble, client: III) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/stream.rs:1240-1440 (`stream::update`,
    `stream::send` with an `event` event, `stream::list_groups`, `stream::list_all`)."""
    events, record = recorder()
    register(client, "w::on-chat", record, type="stream", config={"stream_name": "chat"})
    engine.wait_for_triggers("w::on-chat")

    updated = engine.call("stream::update", {"stream_name": "chat", "group_id": "g", "item_id": "i",
                                             "ops": [{"type": "set", "path": "t", "value": 1}]})  # fmt: skip
    sent = engine.call("stream::send", {"stream_name": "chat", "group_id": "h", "id": None,
                                        "type": "typing", "data": {"who": "ada"}})  # fmt: skip
    engine.call("stream::set", {"stream_name": "other", "group_id": "x", "item_id": "j", "data": 2})
    engine.wait_until(lambda: len(events) == 2)

    assert updated == {"old_value": None, "new_value": {"t": 1}} and sent is None
    assert sorted(e["event"]["type"] for e in events) == ["create", "event"]
    typing = next(e for e in events if e["event"]["type"] == "event")
    assert (typing["groupId"], typing["event"]["event"]) == (
        "h",
        {"type": "typing", "data": {"who": "ada"}},
    )
    assert engine.call("stream::list_groups", {"stream_name": "chat"}) == ["g"]
    assert engine.call("stream::list_all", {}) == {
        "stream": [{"id": "chat", "groups": ["g"]}, {"id": "other", "groups": ["x"]}],
        "count": 2,
    }


def test_stream_triggers_honour_item_id(engine: EngineDouble, client: III) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/stream.rs:830-845 (group_id and item_id filters)."""
    events, record = recorder()
    register(
        client, "w::on-one", record, type="stream", config={"stream_name": "s", "item_id": "one"}
    )
    engine.wait_for_triggers("w::on-one")

    for item in ("two", "one"):
        engine.call(
            "stream::set", {"stream_name": "s", "group_id": "g", "item_id": item, "data": item}
        )
    engine.wait_until(lambda: bool(events))

    assert [e["id"] for e in events] == ["one"]


# Stream connections (D15).


@pytest.mark.parametrize(
    ("answer", "let_in"),
    [
        ({"unauthorized": True}, False),
        ({"unauthorized": False}, True),
        ({"unauthorized": "yes"}, True),
        (None, True),
    ],
)
def test_join_is_refused_only_on_unauthorized_true(
    engine: EngineDouble, client: III, answer: Any, let_in: bool
) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/connection.rs:138-157."""
    register(client, "w::join", lambda _: answer, type="stream:join", config={})
    engine.wait_for_triggers("w::join")

    assert engine.join("chat", "g") is let_in


def test_every_join_handler_is_asked_and_any_refusal_refuses(
    engine: EngineDouble, client: III
) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/connection.rs:122-166 (every trigger called in turn,
    a failing one logged; leave errors ignored)."""
    asked: list[str] = []

    def judge(name: str, answer: Any) -> Handler:
        def run(_: Any) -> Any:
            asked.append(name)
            if answer == "raise":
                raise RuntimeError("boom")
            return answer

        return run

    register(
        client, "w::refuse", judge("refuse", {"unauthorized": True}), type="stream:join", config={}
    )
    register(client, "w::fail", judge("fail", "raise"), type="stream:join", config={})
    register(
        client, "w::accept", judge("accept", {"unauthorized": False}), type="stream:join", config={}
    )
    register(client, "w::leave", broken, type="stream:leave", config={})
    engine.wait_for_triggers("w::refuse", "w::fail", "w::accept", "w::leave")

    assert engine.join("chat", "g") is False
    assert sorted(asked) == ["accept", "fail", "refuse"]
    engine.leave("chat", "g")  # the failing leave handler does not raise here


def test_stream_auth_gets_query_lists_and_fails_open(engine: EngineDouble, client: III) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/stream.rs:103-158 (StreamAuthInput; an error means
    no context)."""
    register(
        client, "w::auth", lambda request: {"context": {"token": request["query_params"]["t"]}}
    )
    engine.wait_for_functions("w::auth")

    assert engine.authenticate({"t": ["a", "b"]}) == {"token": ["a", "b"]}
    assert engine.authenticate({}) is None  # the auth function raised (KeyError): no context


# iii-stream's client port.


@contextmanager
def stream_client(
    engine: EngineDouble, path: str = "/", **options: Any
) -> Iterator[ClientConnection]:
    """A browser-like client of the stream port."""
    with connect(engine.stream_url + path, open_timeout=15, **options) as socket:
        yield socket


def join(socket: ClientConnection, sub: str, group: str, item: str | None = None, *,
         kind: str = "join", stream: str = "chat") -> None:  # fmt: skip
    data = {"subscriptionId": sub, "streamName": stream, "groupId": group}
    socket.send(json.dumps({"type": kind, "data": {**data, **({"id": item} if item else {})}}))


def test_stream_url_is_the_stream_workers_client_port_and_survives_a_restart(
    doubles: Start,
) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/config.rs:27-33,58-60 (its own `port`, 3112 by
    default) and stream.rs:585-587 (only `/` is routed: anything else is axum's empty 404)."""
    assert doubles(providers={"state"}).stream_url == ""
    engine = doubles(providers={"stream"})
    before = engine.stream_url

    engine.restart()

    assert engine.stream_url == before and before.startswith("ws://127.0.0.1:")
    with stream_client(engine) as socket:
        join(socket, "s1", "g")
        assert frame(socket)["event"] == {"type": "sync", "data": []}
    with pytest.raises(InvalidStatus) as missing, stream_client(engine, "/ws"):
        pass
    assert missing.value.response.status_code == 404 and missing.value.response.body == b""


def test_the_auth_function_sees_the_upgrade_and_its_context_reaches_join_handlers(
    engine: EngineDouble, client: III
) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/stream.rs:103-158 (`StreamAuthInput` from the
    upgrade: headers, path, query, the client's address; a failure opens without a context),
    utils.rs:11-59 (lower-case header names; query values as lists, not percent-decoded),
    connection.rs:100-109 (the context in every join and leave event)."""
    upgrades: list[Any] = []
    joins: list[Any] = []

    def auth(request: Any) -> Any:
        upgrades.append(request)
        return {"context": {"user": request["query_params"]["user"][0]}}

    register(client, "w::auth", auth)
    register(client, "w::join", lambda event: joins.append(event), type="stream:join", config={})
    engine.wait_for_triggers("w::join")

    with stream_client(engine, "/?user=ada&tag=a%20b&tag=&flag",
                       additional_headers={"X-Token": "t1"}) as socket:  # fmt: skip
        join(socket, "s1", "g", "i")
        frame(socket)
        with stream_client(engine, "/?nobody") as anonymous:  # the auth function raises
            join(anonymous, "s2", "g")
            frame(anonymous)

    (upgrade, _) = upgrades
    assert upgrade["path"] == "/" and upgrade["headers"]["x-token"] == "t1"
    assert upgrade["query_params"] == {"user": ["ada"], "tag": ["a%20b", ""], "flag": [""]}
    assert upgrade["addr"].startswith("127.0.0.1:") and upgrade["addr"] != "127.0.0.1:50000"
    assert [(e["subscription_id"], e["id"], e["context"]) for e in joins] == [
        ("s1", "i", {"user": "ada"}),
        ("s2", None, None),
    ]


def test_a_join_gets_a_sync_of_the_group_or_the_item(engine: EngineDouble) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/connection.rs:198-281 (`sync`: the group's items,
    or the item, null when there is none), structs.rs:59-70 (`StreamWrapperMessage`)."""
    for name in ("a", "b"):
        engine.call("stream::set", {"stream_name": "chat", "group_id": "g", "item_id": name,
                                    "data": {"text": name}})  # fmt: skip

    with stream_client(engine) as socket:
        join(socket, "group", "g")
        group = frame(socket)
        join(socket, "item", "g", "b")
        item = frame(socket)
        join(socket, "missing", "g", "zzz")
        missing = frame(socket)

    assert set(group) == {"type", "timestamp", "streamName", "groupId", "id", "event"}
    assert (group["type"], group["streamName"], group["groupId"], group["id"]) == (
        "stream", "chat", "g", None,
    )  # fmt: skip
    assert group["event"] == {"type": "sync", "data": [{"text": "a"}, {"text": "b"}]}
    assert (item["id"], item["event"]) == ("b", {"type": "sync", "data": {"text": "b"}})
    assert missing["event"] == {"type": "sync", "data": None}


def test_a_refused_join_gets_unauthorized_and_no_subscription(
    engine: EngineDouble, client: III
) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/connection.rs:179-196 (an `unauthorized` message,
    nothing subscribed), structs.rs:48-57."""
    register(client, "w::join", lambda event: {"unauthorized": event["group_id"] == "secret"},
             type="stream:join", config={})  # fmt: skip
    engine.wait_for_triggers("w::join")

    with stream_client(engine) as socket:
        join(socket, "s1", "secret", "i")
        refused = frame(socket)
        join(socket, "s2", "open")
        frame(socket)
        engine.call("stream::set", {"stream_name": "chat", "group_id": "secret", "item_id": "i",
                                    "data": 1})  # fmt: skip
        engine.call("stream::set", {"stream_name": "chat", "group_id": "open", "item_id": "i",
                                    "data": 2})  # fmt: skip
        after = frame(socket)

    assert (refused["groupId"], refused["id"], refused["event"]) == (
        "secret", "i", {"type": "unauthorized"},
    )  # fmt: skip
    assert (after["groupId"], after["event"]) == ("open", {"type": "create", "data": 2})


def test_changes_reach_each_matching_subscription_wrapped_as_the_engine_wraps_them(
    engine: EngineDouble,
) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/stream.rs:1035-1060 (set: create or update),
    1171-1185 (delete, only of an item that was there), 1325-1345 (send: an `event`),
    1413-1436 (update); connection.rs:325-347 (a group subscription gets every item's change, an
    item one only its own, and a message goes once per matching subscription)."""
    item = {"stream_name": "chat", "group_id": "g", "item_id": "i"}
    with stream_client(engine) as socket, stream_client(engine) as item_only:
        join(socket, "whole", "g")
        join(socket, "again", "g")
        join(item_only, "one", "g", "i")
        frame(socket), frame(socket), frame(item_only)

        engine.call("stream::set", {**item, "data": {"n": 1}})
        engine.call("stream::update", {**item, "ops": [{"type": "set", "path": "n", "value": 2}]})
        engine.call("stream::delete", {**item, "item_id": "nothing-there"})
        engine.call("stream::delete", item)
        engine.call("stream::set", {**item, "item_id": "other", "data": 0})
        engine.call("stream::send", {**item, "id": None, "type": "typing", "data": {"who": "ada"}})
        engine.call("stream::set", {**item, "group_id": "elsewhere", "data": 0})
        seen = [frame(socket) for _ in range(10)]
        only = [frame(item_only) for _ in range(3)]
        with pytest.raises(TimeoutError):
            socket.recv(timeout=0.3)

    events = [(m["id"], m["event"]) for m in seen[::2]]
    assert [(m["id"], m["event"]) for m in seen[1::2]] == events  # twice: two subscriptions
    assert events == [
        ("i", {"type": "create", "data": {"n": 1}}),
        ("i", {"type": "update", "data": {"n": 2}}),
        ("i", {"type": "delete", "data": {"n": 2}}),
        ("other", {"type": "create", "data": 0}),
        (None, {"type": "event", "event": {"type": "typing", "data": {"who": "ada"}}}),
    ]
    assert [m["event"]["type"] for m in only] == ["create", "update", "delete"]
    assert all(m["type"] == "stream" and isinstance(m["timestamp"], int) for m in seen)


def test_leave_tells_the_leave_handlers_and_ends_the_subscription(
    engine: EngineDouble, client: III
) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/connection.rs:283-287 (leave handlers hear the
    message's subscription, even one the client never joined; then it is removed)."""
    leaves, record = recorder()
    register(client, "w::leave", record, type="stream:leave", config={})
    engine.wait_for_triggers("w::leave")

    with stream_client(engine) as socket:
        join(socket, "s1", "g")
        frame(socket)
        join(socket, "s1", "g", kind="leave")
        join(socket, "never", "h", "x", kind="leave")
        engine.wait_until(lambda: len(leaves) == 2)
        engine.call("stream::set", {"stream_name": "chat", "group_id": "g", "item_id": "i",
                                    "data": 1})  # fmt: skip
        with pytest.raises(TimeoutError):
            socket.recv(timeout=0.3)

    assert [(e["subscription_id"], e["group_id"], e["id"]) for e in leaves] == [
        ("s1", "g", None),
        ("never", "h", "x"),
    ]


def test_a_client_that_goes_away_leaves_each_subscription_it_held(
    engine: EngineDouble, client: III
) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/socket.rs:136-140 and connection.rs:294-323 (on
    disconnect, `cleanup` calls the leave handlers for every subscription still held)."""
    leaves, record = recorder()
    register(client, "w::auth", lambda _: {"context": {"user": "ada"}})
    register(client, "w::leave", record, type="stream:leave", config={})
    engine.wait_for_triggers("w::leave")

    with stream_client(engine) as socket:
        join(socket, "s1", "g")
        join(socket, "s2", "h", "i")
        join(socket, "s3", "k")
        join(socket, "s3", "k", kind="leave")
        frame(socket), frame(socket), frame(socket)
        engine.wait_until(lambda: len(leaves) == 1)

    engine.wait_until(lambda: len(leaves) == 3)
    assert sorted((e["subscription_id"], e["id"], e["context"]["user"]) for e in leaves[1:]) == [
        ("s1", None, "ada"),
        ("s2", "i", "ada"),
    ]


def test_what_the_engine_cannot_read_is_ignored_and_the_connection_stays(
    engine: EngineDouble,
) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/socket.rs:100-118 (blank text skipped; text or
    binary serde cannot read as `StreamIncomingMessage` logged and ignored; pings answered),
    structs.rs:23-39 (`type` join or leave, `data` with string ids, `id` optional)."""
    malformed = [
        "", "   ", "not json", "[]", '{"type": "join"}', '{"type": "subscribe", "data": {}}',
        '{"type": "join", "data": {"subscriptionId": "s", "streamName": "chat"}}',
        '{"type": "join", "data": {"subscriptionId": 1, "streamName": "chat", "groupId": "g"}}',
        '{"type": "join", "data": {"subscriptionId": "s", "streamName": "chat", "groupId": "bad", '
        '"id": 5}}',
        '{"type": "join", "data": {"subscriptionId": "s", "streamName": "chat", "groupId": "bad"}, '
        '"x": NaN}',
    ]  # fmt: skip
    with stream_client(engine) as socket:
        for message in malformed:
            socket.send(message)
        socket.send(b"\xff\xfe")
        socket.ping().wait(5)
        socket.send(json.dumps({"type": "join", "extra": 1, "data": {
            "subscriptionId": "s", "streamName": "chat", "groupId": "g", "id": None}}).encode())  # fmt: skip
        answer = frame(socket)

    assert (answer["groupId"], answer["event"]) == ("g", {"type": "sync", "data": []})


@pytest.mark.parametrize(("line", "metadata"), [("0.11", None), ("0.22", {"room": "lobby"})])
def test_join_handlers_get_their_triggers_metadata_from_0_22(
    doubles: Start, clients: Connect, line: str, metadata: Any
) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/connection.rs:126-133 (`call_with_metadata`);
    R@iii/v0.11.6:engine/src/workers/stream/connection.rs:126 (`call`, without it)."""
    engine = doubles(line=line, providers={"stream"})
    client = clients(engine)
    seen: list[Any] = []

    def handler(data: Any, metadata: Any) -> None:
        seen.append(metadata)

    client.register_function("w::join", handler)  # type: ignore[arg-type]  # metadata opt-in
    with pytest.warns(DeprecationWarning):
        client.register_trigger({"type": "stream:join", "function_id": "w::join", "config": {},
                                 "metadata": {"room": "lobby"}})  # fmt: skip
    engine.wait_for_triggers("w::join")

    with stream_client(engine) as socket:
        join(socket, "s1", "g")
        frame(socket)

    assert seen == [metadata]


# Cron (D13).


@pytest.mark.parametrize(
    ("line", "expression", "message"),
    [
        ("0.25", "61 * * * * *",
         "invalid cron expression '61 * * * * *': Seconds must be less than 59. ('61' specified.)"),
        ("0.22", "0 0 25 * * *",
         "Invalid cron expression '0 0 25 * * *': Hours must be less than 23. ('25' specified.)"),
        ("0.11", "0 */0 * * * *", "Invalid cron expression '0 */0 * * * *': range step cannot be zero"),
        ("0.25", "0 0 0 * * FUNDAY", "invalid cron expression '0 0 0 * * FUNDAY': 'FUNDAY' is not a "
         "valid day of the week."),
        ("0.25", "0 5-1 * * * *", "invalid cron expression '0 5-1 * * * *': Invalid range for Minutes: 5-1"),
        ("0.25", "0 0 12 * * MON-FRI", None),
        ("0.25", "0 0 0 ? * 2-6 2030", None),
        ("0.25", "@daily", None),
    ],
)  # fmt: skip
def test_cron_expressions_are_checked_as_the_scheduler_parses_them(
    doubles: Start, clients: Connect, line: str, expression: str, message: str | None
) -> None:
    """The cron crate 0.15 every line parses with (zslayton/cron@v0.15.0 src/parsing.rs,
    src/time_unit/mod.rs:240-320); R@iii/v0.22.1:engine/src/workers/cron/structs.rs:86-90 and
    WK:cron/src/scheduler.rs `register` (the message around it)."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::job", echo, type="cron", config={"expression": expression})

    engine.wait_until(lambda: bool(engine.rejected or engine.triggers))

    assert [r["error"]["message"] for r in engine.rejected] == ([message] if message else [])


def test_cron_tick_runs_the_job_with_the_scheduler_payload(
    engine: EngineDouble, client: III
) -> None:
    """WK:cron/src/scheduler.rs `spawn_job` (trigger, job_id, scheduled_time, actual_time)."""
    ticks, record = recorder()
    register(client, "w::job", record, type="cron", config={"expression": "0 * * * * *"})
    engine.wait_for_triggers("w::job")

    engine.cron_tick("w::job")

    (tick,) = ticks
    assert tick["trigger"] == "cron" and tick["job_id"] == engine.triggers_of("cron")[0]["id"]


# Metadata (D9).


@pytest.mark.parametrize("kind", ["cron", "state", "stream", "durable:subscriber"])
def test_trigger_metadata_reaches_the_handler(engine: EngineDouble, client: III, kind: str) -> None:
    """WK:cron/src/scheduler.rs `spawn_job`, WK:state/src/events.rs `fan_out`, WK:queue/src/
    trigger.rs `call_delivery`, R:engine/src/workers/stream/stream.rs (call_with_metadata); the
    SDK hands it to a handler with a `metadata` parameter (0.21.3+)."""
    seen: list[Any] = []

    def handler(data: Any, metadata: Any) -> None:
        seen.append(metadata)

    client.register_function("w::handler", handler)  # type: ignore[arg-type]  # metadata opt-in
    with pytest.warns(DeprecationWarning):
        client.register_trigger({"type": kind, "function_id": "w::handler", "config": CONFIGS[kind],
                                 "metadata": {"binding": kind}})  # fmt: skip
    engine.wait_for_triggers("w::handler")

    fire(engine, client, kind if kind != "durable:subscriber" else "queue")

    assert seen == [{"binding": kind}]


# Identity (D17) and the 0.25 greeting (D18).


def test_a_duplicate_function_id_is_refused_from_0_25(doubles: Start, clients: Connect) -> None:
    """R:engine/src/protocol.rs:41-45 FUNCTION_NAMESPACE_CONFLICT (only that registration fails);
    SDK 0.25: iii.py `_handle_registration_rejected`."""
    engine = doubles(line="0.25")
    first, second = clients(engine, "first"), clients(engine, "second")
    register(first, "shared::who", lambda _: "first")
    engine.wait_for_functions("shared::who")
    register(second, "shared::who", lambda _: "second")
    register(second, "second::own", lambda _: "own")

    engine.wait_until(lambda: bool(engine.registration_rejections))
    engine.wait_for_functions("second::own")

    (rejection,) = engine.registration_rejections
    assert (rejection["code"], rejection["function_id"]) == (
        "FUNCTION_NAMESPACE_CONFLICT",
        "shared::who",
    )
    assert engine.invoke("shared::who", {}) == "first"
    assert second.get_connection_state() == "connected"


def test_up_to_0_22_the_newest_registration_of_an_id_serves_it(
    doubles: Start, clients: Connect
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:1892-1905 `claim_function` (a new registration
    takes the id over: "Function ownership transferred")."""
    engine = doubles(line="0.22")
    first, second = clients(engine, "first"), clients(engine, "second")
    register(first, "shared::who", lambda _: "first")
    engine.wait_for_functions("shared::who")
    register(second, "shared::who", lambda _: "second")
    register(second, "second::after", echo)  # registered after it, so seen after it

    engine.wait_for_functions("second::after")

    assert engine.invoke("shared::who", {}) == "second"
    assert engine.registration_rejections == []


def test_a_second_live_worker_with_the_same_name_is_refused_for_good(
    doubles: Start, clients: Connect
) -> None:
    """R:engine/src/protocol.rs:32-40 WORKER_NAMESPACE_CONFLICT (the engine closes the connection);
    SDK 0.25: iii.py `_handle_registration_rejected` (state `failed`, no reconnect)."""
    engine = doubles(line="0.25")
    clients(engine, "twin")
    late = clients(engine, "twin", wait=False)

    engine.wait_until(lambda: late.get_connection_state() == "failed")

    (rejection,) = engine.registration_rejections
    assert (rejection["code"], rejection["worker_name"]) == ("WORKER_NAMESPACE_CONFLICT", "twin")
    assert [w["name"] for w in engine.workers] == ["twin"]


@pytest.mark.parametrize("line", LINES)
def test_the_greeting_and_function_acks_are_the_lines(doubles: Start, line: str) -> None:
    """R@iii/v0.11.6:engine/src/protocol.rs:123 (`{worker_id}`); R@iii/v0.22.1:…/protocol.rs:144-151
    (+ reattach_token); SDK 0.25: iii_types.py WorkerRegisteredMessage `features` and
    FunctionRegisteredMessage (the ack that enables local dispatch)."""
    engine = doubles(line=line)
    with raw_worker(engine) as (socket, greeting):
        socket.send(json.dumps({"type": "registerfunction", "id": "raw::f"}))
        socket.send(json.dumps({"type": "ping"}))
        first = frame(socket)

    assert ("reattach_token" in greeting, "features" in greeting) == (
        line != "0.11",
        line == "0.25",
    )
    if line == "0.25":
        assert greeting["features"] == ["observe.v1", "local-dispatch.v1"]
        assert first == {"type": "functionregistered", "id": "raw::f", "namespace": "default",
                         "revision": 1, "local_dispatch": True, "observers": []}  # fmt: skip
    else:
        assert first == {"type": "pong"}


def test_a_reattach_retires_the_workers_previous_connection(doubles: Start) -> None:
    """R@iii/v0.22.1:engine/src/protocol.rs:128-142 (the previous connection is torn down as on a
    disconnect, when the token matches)."""
    engine = doubles(line="0.22")
    with raw_worker(engine) as (old, greeting), raw_worker(engine) as (new, _):
        old.send(json.dumps({"type": "registerfunction", "id": "old::f"}))
        engine.wait_for_functions("old::f")
        wrong = {"type": "reattach", "previous_worker_id": greeting["worker_id"]}
        new.send(json.dumps({**wrong, "reattach_token": "not-the-token"}))
        new.send(json.dumps({"type": "ping"}))
        assert frame(new) == {"type": "pong"} and "old::f" in engine.functions

        new.send(json.dumps({**wrong, "reattach_token": greeting["reattach_token"]}))

        engine.wait_until(lambda: "old::f" not in engine.functions)
        with pytest.raises(ConnectionClosed):
            old.recv(timeout=5)


@pytest.mark.parametrize("line", LINES)
def test_no_pubsub_checks_subscribe_conditions(doubles: Start, clients: Connect, line: str) -> None:
    """WK:pubsub/src/trigger.rs `SubscribeTriggerSpec` (`condition_function_id` "accepted for
    schema parity with the builtin trigger; never evaluated"); the in-engine pubsub reads only
    `topic` (R@iii/v0.22.1:engine/src/workers/pubsub/pubsub.rs:110-160,
    adapters/local_adapter.rs:49-65)."""
    engine = doubles(line=line)
    client = clients(engine)
    register(client, "w::never", lambda _: False)
    register(client, "w::sub", echo, type="subscribe",
             config={"topic": "t", "condition_function_id": "w::never"})  # fmt: skip
    engine.wait_for_triggers("w::sub")

    engine.call("publish", {"topic": "t", "data": 1})
    engine.wait_until(lambda: bool(engine.fired or engine.skipped))

    assert (engine.skipped, engine.fired) == ([], [("w::sub", 1)])
    assert ("w::never", 1) not in engine.calls


@pytest.mark.parametrize(
    ("line", "survivor_hears"), [("0.11", False), ("0.22", False), ("0.25", True)]
)
def test_a_subscribe_trigger_that_goes_takes_its_topic_with_it_up_to_0_22(
    doubles: Start, clients: Connect, line: str, survivor_hears: bool
) -> None:
    """R@iii/v0.22.1:engine/src/workers/pubsub/adapters/local_adapter.rs:82-96 and
    R@iii/v0.11.6:engine/src/workers/pubsub/adapters/local_adapter.rs:82-96 (`unsubscribe`
    removes the topic's whole map and never puts the rest back; a worker that disconnects is
    unregistered the same way, R@iii/v0.22.1:engine/src/trigger.rs:263 `unregister_worker`);
    WK:pubsub/src/adapters/local.rs ("one deliberate fix vs the builtin": only that id goes)."""
    engine = doubles(line=line)
    client = clients(engine)
    heard, record = recorder()
    register(client, "w::stays", record, type="subscribe", config={"topic": "t"})
    leaving = subscribe(client, "w::goes", echo, "t")
    engine.wait_for_triggers("w::stays", "w::goes")

    leaving.unregister()
    engine.wait_until(lambda: len(engine.triggers_of("subscribe")) == 1)
    engine.call("publish", {"topic": "t", "data": 1})
    engine.call("publish", {"topic": "other", "data": 2})
    with contextlib.suppress(TimeoutError):
        engine.wait_until(lambda: bool(heard), timeout=1)

    assert heard == ([1] if survivor_hears else [])


def test_a_subscribe_trigger_registered_again_hears_its_topic_again(
    doubles: Start, clients: Connect
) -> None:
    """R@iii/v0.22.1:engine/src/workers/pubsub/adapters/local_adapter.rs:71-80 (a registration
    subscribes its own trigger id, whatever happened to the topic before)."""
    engine = doubles(line="0.22")
    client = clients(engine)
    heard, record = recorder()
    register(client, "w::a", record, type="subscribe", config={"topic": "t"})
    b_trigger = subscribe(client, "w::b", echo, "t")
    engine.wait_for_triggers("w::a", "w::b")
    b_trigger.unregister()
    engine.wait_until(lambda: len(engine.triggers_of("subscribe")) == 1)

    register(client, "w::a2", record, type="subscribe", config={"topic": "t"})
    engine.wait_for_triggers("w::a2")
    engine.call("publish", {"topic": "t", "data": 1})
    engine.wait_until(lambda: bool(heard))
    with contextlib.suppress(TimeoutError):
        engine.wait_until(lambda: len(heard) > 1, timeout=0.5)

    assert heard == [1]  # w::a was cut off with the topic; w::a2 subscribed afresh


# Telemetry.


def test_a_worker_with_telemetry_on_connects_its_otel_socket_cleanly(engine: EngineDouble) -> None:
    """R@iii/v0.22.1:engine/src/workers/worker/mod.rs:152 (`/otel`, kept off the worker
    registry); SDK 0.25: iii_helpers/observability/telemetry.py `_append_otel_path`."""
    script = """
import os, sys, threading
from iii import InitOptions
from iii.iii import III
client = III(os.environ["III_URL"], InitOptions(worker_name="otel"))
client.register_function("otel::hello", lambda data: {"hi": data})
connected = threading.Event()
client.add_connection_state_listener(lambda state: state == "connected" and connected.set())
connected.wait(10)
print(client.trigger({"function_id": "state::get", "payload": {"scope": "s", "key": "k"}}))
sys.stdin.read()  # until the test is done
client.shutdown()
"""
    env = {
        **os.environ,
        "III_URL": engine.url,
        "OTEL_ENABLED": "true",
        "HOME": os.environ.get("TMPDIR", "/tmp"),
    }
    with subprocess.Popen([sys.executable, "-c", script], env=env, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as worker:  # fmt: skip
        try:
            engine.wait_until(
                lambda: bool(engine.telemetry_connections and engine.workers), timeout=20
            )
            assert engine.invoke("otel::hello", 1) == {"hi": 1}
        finally:
            out, err = worker.communicate("", timeout=20)

    assert engine.connections_seen == 1 and out.strip() == "None"
    assert "Traceback" not in err, err


# Reconnects and concurrency.


def test_a_restarted_double_sees_the_worker_reconnect_and_register_again(
    engine: EngineDouble, client: III
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs `cleanup_worker` (registrations die with the
    connection; the SDK replays them)."""
    register(client, "w::echo", echo, type="cron", config={"expression": "0 * * * * *"})
    engine.wait_for_triggers("w::echo")

    engine.restart()
    engine.wait_until(lambda: engine.connections_seen == 2 and bool(engine.triggers), timeout=15)

    assert set(engine.functions) == {"w::echo"}


def test_invocations_run_concurrently(engine: EngineDouble, client: III) -> None:
    both_started = threading.Barrier(2, timeout=5)

    def meet(data: Any) -> Any:
        both_started.wait()
        return data

    register(client, "w::meet", meet)
    engine.wait_for_functions("w::meet")

    assert engine.invoke_many([("w::meet", 1), ("w::meet", 2)]) == [1, 2]


def test_invoking_an_unknown_function_fails_like_the_engine(
    engine: EngineDouble, client: III
) -> None:
    """R:engine/src/engine/mod.rs:648-674 `resolve_function`."""
    with pytest.raises(InvocationFailed) as failed:
        engine.invoke("w::nothing", {})

    assert failed.value.error["code"] == "function_not_found"
