"""The engine double behaves toward a real iii-sdk client the way the engine does."""

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from engine_double import EngineDouble, InvocationFailed
from iii import InitOptions
from iii.iii import III

pytestmark = pytest.mark.slow

Handler = Callable[[Any], Any]


@pytest.fixture
def engine() -> Iterator[EngineDouble]:
    double = EngineDouble(auth_function="w::auth").start()
    yield double
    double.stop()


@pytest.fixture
def client(engine: EngineDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[III]:
    """A real SDK client connected to the double (telemetry off: it would open a second socket)."""
    monkeypatch.setenv("OTEL_ENABLED", "false")
    monkeypatch.setenv("HOME", os.environ.get("TMPDIR", "/tmp"))
    sdk = III(engine.url, InitOptions(worker_name="w"))
    engine.wait_until(lambda: bool(engine.workers))  # connected: shutdown mid-connect is noisy
    yield sdk
    sdk.shutdown()
    # shutdown() stops the SDK's event loop but leaves it open; a test process that makes many
    # clients would otherwise collect unclosed loops (a ResourceWarning).
    sdk._loop.close()


def register(client: III, function_id: str, handler: Handler, **trigger: Any) -> None:
    client.register_function(function_id, handler)
    if trigger:
        with pytest.warns(DeprecationWarning, match="register_trigger is deprecated"):
            client.register_trigger({"function_id": function_id, **trigger})


def echo(data: Any) -> Any:
    return data


def test_records_the_worker_its_functions_and_triggers(engine: EngineDouble, client: III) -> None:
    register(client, "w::echo", echo, type="cron", config={"expression": "0 * * * * *"})

    engine.wait_for_triggers("w::echo")

    assert set(engine.functions) == {"w::echo"}
    assert engine.workers[0]["name"] == "w"
    assert engine.rejected == [] and engine.parked == []


@pytest.mark.parametrize(
    ("trigger_type", "config", "message"),
    [
        ("http", {"http_method": "GET"}, "api_path is required for http triggers"),
        ("cron", {"expression": "*/5 * * * *"}, "Invalid cron expression '*/5 * * * *'"),
        ("cron", {}, "Cron expression is required"),
        ("stream", {}, "stream_name is required"),
        ("state", None, "Failed to parse trigger config"),
    ],
)
def test_answers_a_bad_config_with_a_registration_error(
    engine: EngineDouble, client: III, trigger_type: str, config: Any, message: str
) -> None:
    register(client, "w::echo", echo, type=trigger_type, config=config)

    engine.wait_until(lambda: bool(engine.rejected))

    (reply,) = engine.rejected
    assert reply["error"]["code"] == "trigger_registration_failed"
    assert reply["error"]["message"].startswith(message)
    assert engine.triggers == {}


def test_parks_a_trigger_type_nobody_provides(engine: EngineDouble, client: III) -> None:
    register(client, "w::echo", echo, type="queue", config={"topic": "t"})

    engine.wait_until(lambda: bool(engine.parked))

    assert engine.parked[0]["trigger_type"] == "queue" and engine.rejected == []


def test_http_applies_status_code_and_ignores_status_code_in_camel_case(
    engine: EngineDouble, client: III
) -> None:
    register(client, "w::created", lambda _: {"status_code": 201, "body": {"ok": True}},
             type="http", config={"api_path": "/a", "http_method": "POST"})  # fmt: skip
    register(client, "w::camel", lambda _: {"statusCode": 404, "body": "x"},
             type="http", config={"api_path": "/b"})  # fmt: skip
    register(client, "w::bare", lambda _: {"ok": True}, type="http", config={"api_path": "/c"})
    engine.wait_for_triggers("w::created", "w::camel", "w::bare")

    assert engine.http("POST", "/a", body={}).status_code == 201
    assert engine.http("GET", "/b").status_code == 200
    assert engine.http("GET", "/c").body == {}
    assert engine.http("GET", "/nowhere").status_code == 404


def test_http_passes_path_params_and_the_registered_pattern(
    engine: EngineDouble, client: III
) -> None:
    register(client, "w::echo", lambda request: {"body": {k: request[k] for k in ("path", "path_params", "body")}},
             type="http", config={"api_path": "/items/:id", "http_method": "PUT"})  # fmt: skip
    engine.wait_for_triggers("w::echo")

    response = engine.http("PUT", "/items/42", body={"a": 1})

    assert response.body == {"path": "/items/:id", "path_params": {"id": "42"}, "body": {"a": 1}}


def test_http_runs_middleware_in_order_before_the_handler(
    engine: EngineDouble, client: III
) -> None:
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


def test_http_answers_500_when_a_middleware_is_not_registered(
    engine: EngineDouble, client: III
) -> None:
    register(client, "w::handler", echo, type="http",
             config={"api_path": "/x", "middleware_function_ids": ["w::missing"]})  # fmt: skip
    engine.wait_for_triggers("w::handler")

    response = engine.http("GET", "/x")

    assert response.status_code == 500
    assert response.body["error"]["code"] == "function_not_found"


def test_http_answers_500_with_an_envelope_when_the_handler_raises(
    engine: EngineDouble, client: III
) -> None:
    def broken(_: Any) -> Any:
        raise RuntimeError("boom")

    register(client, "w::broken", broken, type="http", config={"api_path": "/x"})
    engine.wait_for_triggers("w::broken")

    response = engine.http("GET", "/x")

    assert response.status_code == 500
    assert response.body["error"]["message"] == "boom"


def test_http_answers_422_when_the_condition_is_false(engine: EngineDouble, client: III) -> None:
    register(client, "w::never", lambda _: False)
    register(client, "w::handler", echo, type="http",
             config={"api_path": "/x", "condition_function_id": "w::never"})  # fmt: skip
    engine.wait_for_triggers("w::handler")

    assert engine.http("GET", "/x").status_code == 422


def test_state_set_fires_state_triggers_with_the_engine_event(
    engine: EngineDouble, client: III
) -> None:
    events: list[Any] = []
    register(client, "w::on-state", events.append, type="state", config={"scope": "s"})
    register(client, "w::write", lambda _: client.trigger(
        {"function_id": "state::set", "payload": {"scope": "s", "key": "k", "value": 1}}))  # fmt: skip
    engine.wait_for_triggers("w::on-state")
    engine.wait_for_functions("w::write")

    engine.invoke("w::write", {})
    engine.wait_until(lambda: bool(events))

    assert events == [{"type": "state", "event_type": "state:created", "scope": "s", "key": "k",
                       "old_value": None, "new_value": 1}]  # fmt: skip


def test_stream_set_fires_stream_triggers(engine: EngineDouble, client: III) -> None:
    events: list[Any] = []
    register(client, "w::on-chat", events.append, type="stream", config={"stream_name": "chat"})
    engine.wait_for_triggers("w::on-chat")
    payload = {"stream_name": "chat", "group_id": "g", "item_id": "i", "data": {"t": 1}}

    client.trigger({"function_id": "stream::set", "payload": payload})
    engine.wait_until(lambda: bool(events))

    assert events[0]["streamName"] == "chat" and events[0]["event"] == {
        "type": "create",
        "data": {"t": 1},
    }


def test_publish_reaches_durable_subscribers_unwrapped(engine: EngineDouble, client: III) -> None:
    jobs: list[Any] = []
    register(client, "w::sub", jobs.append, type="durable:subscriber", config={"topic": "t"})
    engine.wait_for_triggers("w::sub")

    client.trigger(
        {"function_id": "iii::durable::publish", "payload": {"topic": "t", "data": {"n": 1}}}
    )
    engine.wait_until(lambda: bool(jobs))

    assert jobs == [{"n": 1}]


def test_a_failing_subscriber_is_retried_then_dead_lettered(
    engine: EngineDouble, client: III
) -> None:
    attempts: list[Any] = []

    def failing(job: Any) -> None:
        attempts.append(job)
        raise ValueError("no")

    register(client, "w::sub", failing, type="durable:subscriber",
             config={"topic": "t", "queue_config": {"maxRetries": 1}})  # fmt: skip
    engine.wait_for_triggers("w::sub")

    client.trigger({"function_id": "iii::durable::publish", "payload": {"topic": "t", "data": 1}})
    engine.wait_until(lambda: bool(engine.dead_letters))

    assert len(attempts) == 2


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
    register(client, "w::join", lambda _: answer, type="stream:join", config={})
    engine.wait_for_triggers("w::join")

    assert engine.join("chat", "g") is let_in


def test_a_join_handler_that_raises_lets_the_subscription_through(
    engine: EngineDouble, client: III
) -> None:
    def broken(_: Any) -> Any:
        raise RuntimeError("boom")

    register(client, "w::join", broken, type="stream:join", config={})
    engine.wait_for_triggers("w::join")

    assert engine.join("chat", "g") is True


def test_stream_auth_gets_query_lists_and_fails_open(engine: EngineDouble, client: III) -> None:
    register(
        client, "w::auth", lambda request: {"context": {"token": request["query_params"]["t"]}}
    )
    engine.wait_for_functions("w::auth")

    assert engine.authenticate({"t": ["a", "b"]}) == {"token": ["a", "b"]}
    assert engine.authenticate({}) is None  # the auth function raised (KeyError): no context


def test_invoking_an_unknown_function_fails_like_the_engine(
    engine: EngineDouble, client: III
) -> None:
    with pytest.raises(InvocationFailed) as failed:
        engine.invoke("w::nothing", {})

    assert failed.value.error["code"] == "function_not_found"


def test_a_restarted_double_sees_the_worker_reconnect_and_register_again(
    engine: EngineDouble, client: III
) -> None:
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
