"""The engine's own functions and what workers add to the engine: the function catalogue, trigger
types a worker provides, a worker's own stream implementation, HTTP-invoked functions, and the
caller's id in what one worker sends another.

Docstrings name the engine source each test follows (`R@tag:` is iii-hq/iii at that tag);
docs/engine-double.md lists them.
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from engine_double import InvocationFailed
from iii import InvocationError
from iii.iii import III
from iii.stream import IStream
from iii.trigger import TriggerConfig, TriggerHandler
from iii_helpers.stream import StreamDeleteResult, StreamSetResult

from tests.double.kit import Connect, Start, echo, recorder, register

pytestmark = pytest.mark.slow


def listed(client: III, **query: Any) -> list[dict[str, Any]]:
    result = client.trigger({"function_id": "engine::functions::list", "payload": query})
    functions: list[dict[str, Any]] = result["functions"]
    return functions


# engine::functions::list


def test_the_function_list_names_each_functions_worker_and_hides_the_engines(
    doubles: Start, clients: Connect
) -> None:
    """R@iii/v0.22.1:engine/src/workers/engine_fn/mod.rs:1194-1286 (`functions_list`: engine::*
    hidden but engine::queue::*, `metadata.internal` hidden, prefix, worker, ranked search,
    sorted by id) and :629-660 (a function's worker by its connection's name, else the id's first
    segment)."""
    engine = doubles(line="0.22")
    client = clients(engine, "lister")
    client.register_function("lister::b", echo, description="second")
    client.register_function("lister::a", echo, description="mentions state")
    client.register_function("lister::hook", echo, metadata={"internal": True})
    engine.wait_for_functions("lister::a", "lister::b", "lister::hook")

    everything = listed(client)
    mine = [f for f in everything if f["worker_name"] == "lister"]

    assert mine == [
        {"function_id": "lister::a", "worker_name": "lister", "description": "mentions state",
         "metadata": None},
        {"function_id": "lister::b", "worker_name": "lister", "description": "second",
         "metadata": None},
    ]  # fmt: skip
    assert {"state::set", "stream::get"} <= {f["function_id"] for f in everything}
    assert not [f for f in everything if f["function_id"].startswith("engine::")]
    internal = {f["function_id"] for f in listed(client, include_internal=True)}
    assert {"engine::functions::list", "engine::channels::create", "lister::hook"} <= internal
    assert [f["function_id"] for f in listed(client, prefix="lister::")] == [
        "lister::a",
        "lister::b",
    ]
    assert {f["worker_name"] for f in listed(client, worker="state")} == {"state"}
    searched = [f["function_id"] for f in listed(client, search="state")]
    assert searched[-1] == "lister::a" and "state::set" in searched  # id hits rank first


def test_on_0_11_the_function_list_carries_formats_and_takes_no_filters(
    doubles: Start, clients: Connect
) -> None:
    """R@iii/v0.11.6:engine/src/workers/engine_fn/mod.rs:64-70 (`FunctionInfo`), :194-209, :520-547
    (only `include_internal`)."""
    engine = doubles(line="0.11")
    client = clients(engine)
    client.register_function("w::echo", echo, description="echoes")
    engine.wait_for_functions("w::echo")

    functions = listed(client, prefix="nothing-matches")

    assert {"function_id": "w::echo", "description": "echoes", "request_format": None,
            "response_format": None, "metadata": None} in functions  # fmt: skip
    assert "worker_name" not in functions[0]


# Trigger types that workers provide.


class Bindings(TriggerHandler[Any]):
    """A provider's side: the triggers the engine hands it."""

    def __init__(self) -> None:
        self.bound: dict[str, TriggerConfig[Any]] = {}
        self.gone: list[str] = []

    async def register_trigger(self, config: TriggerConfig[Any]) -> None:
        self.bound[config.id] = config

    async def unregister_trigger(self, config: TriggerConfig[Any]) -> None:
        self.bound.pop(config.id, None)
        self.gone.append(config.id)


def provide(client: III, bindings: Bindings) -> None:
    # 0.25 deprecates trigger types for observers; every line's engine still serves them.
    with pytest.warns(DeprecationWarning, match="register_trigger_type is deprecated"):
        client.register_trigger_type({"id": "ticket", "description": "tickets"}, bindings)


def test_a_trigger_of_a_workers_type_goes_to_that_worker_and_waits_for_its_return(
    doubles: Start, clients: Connect
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:689-779 (`RegisterTriggerType`), .../trigger.rs:263-367
    (`unregister_worker`: the provider's triggers parked for its return), :369-433 (a new
    provider gets each trigger of its type), worker_connections/traits.rs:30-140."""
    engine = doubles(line="0.22")
    first, consumer = Bindings(), clients(engine, "consumer")
    provider = clients(engine, "provider")
    provide(provider, first)
    register(consumer, "consumer::on-ticket", echo, type="ticket", config={"queue": "a"})
    engine.wait_until(lambda: len(first.bound) == 1)

    (bound,) = first.bound.values()
    assert (bound.function_id, bound.config) == ("consumer::on-ticket", {"queue": "a"})
    assert consumer.trigger({"function_id": "consumer::on-ticket", "payload": 7}) == 7

    provider.shutdown()
    engine.wait_until(lambda: [t["function_id"] for t in engine.parked] == ["consumer::on-ticket"])
    second = Bindings()
    provide(clients(engine, "provider"), second)
    engine.wait_until(lambda: bound.id in second.bound)

    assert engine.parked == [] and engine.triggers_of("ticket")[0]["id"] == bound.id


def test_a_consumer_that_leaves_takes_its_triggers_from_the_provider(
    doubles: Start, clients: Connect
) -> None:
    """R@iii/v0.22.1:engine/src/trigger.rs:263-310 (a departing worker's triggers are unregistered
    with their type's provider: `unregistertrigger {id, trigger_type}`)."""
    engine = doubles(line="0.25")
    bindings, provider = Bindings(), clients(engine, "provider")
    provide(provider, bindings)
    consumer = clients(engine, "consumer")
    register(consumer, "consumer::on-ticket", echo, type="ticket", config={})
    engine.wait_until(lambda: len(bindings.bound) == 1)
    (trigger_id,) = bindings.bound

    consumer.shutdown()

    engine.wait_until(lambda: bindings.gone == [trigger_id])
    assert bindings.bound == {}


def test_a_parked_trigger_its_worker_unregisters_is_not_handed_to_a_later_provider(
    doubles: Start, clients: Connect
) -> None:
    """R@iii/v0.22.1:engine/src/trigger.rs:570-600 (`unregister_trigger` drops a parked intent)."""
    engine = doubles(line="0.22")
    consumer = clients(engine, "consumer")
    consumer.register_function("consumer::on-ticket", echo)
    with pytest.warns(DeprecationWarning, match="register_trigger is deprecated"):
        trigger = consumer.register_trigger(
            {"type": "ticket", "function_id": "consumer::on-ticket", "config": {}}
        )
    engine.wait_until(lambda: bool(engine.parked))

    trigger.unregister()
    engine.wait_until(lambda: engine.parked == [])
    bindings = Bindings()
    provide(clients(engine, "provider"), bindings)
    register(consumer, "consumer::later", echo, type="ticket", config={})

    engine.wait_until(lambda: len(bindings.bound) == 1)
    assert [b.function_id for b in bindings.bound.values()] == ["consumer::later"]


def test_a_provider_that_refuses_a_trigger_parks_it_and_tells_its_worker(
    doubles: Start, clients: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:598-687 (a `triggerregistrationresult` error from the
    type's provider re-parks the trigger and is forwarded to the worker that registered it)."""

    class Refusing(Bindings):
        async def register_trigger(self, config: TriggerConfig[Any]) -> None:
            raise ValueError("no such queue")

    engine = doubles(line="0.22")
    provide(clients(engine, "provider"), Refusing())
    register(clients(engine, "consumer"), "consumer::on-ticket", echo, type="ticket", config={})

    # The consumer's SDK logs what the engine forwarded to it.
    engine.wait_until(lambda: bool(engine.parked) and "registration failed" in caplog.text)

    assert "Trigger registration failed" in caplog.text
    assert engine.triggers_of("ticket") == []


# A worker's own stream implementation.


# 0.25 deprecates IStream (iii-stream's custom streams); the engine still serves them.
with pytest.warns(FutureWarning, match="IStream is deprecated"):

    class Notebook(IStream[Any]):
        """A stream kept by the worker: what `create_stream` registers as `stream::get(<name>)` etc."""

        def __init__(self) -> None:
            self.items: dict[tuple[str, str], Any] = {}

        async def get(self, input: Any) -> Any:
            return self.items.get((input.group_id, input.item_id))

        async def set(self, input: Any) -> Any:
            old = self.items.get((input.group_id, input.item_id))
            self.items[(input.group_id, input.item_id)] = input.data
            return StreamSetResult(old_value=old, new_value=input.data)

        async def delete(self, input: Any) -> Any:
            return StreamDeleteResult(
                old_value=self.items.pop((input.group_id, input.item_id), None)
            )

        async def list_groups(self, input: Any) -> list[str]:
            return sorted({g for g, _ in self.items})

        async def update(self, input: Any) -> Any:
            raise NotImplementedError

        # Last: within the class body its name would shadow the builtin `list`.
        async def list(self, input: Any) -> Any:
            return [v for (g, _), v in self.items.items() if g == input.group_id]


def test_a_stream_a_worker_implements_is_served_by_that_worker(
    doubles: Start, clients: Connect
) -> None:
    """R@iii/v0.22.1:engine/src/workers/stream/stream.rs:983-1260 (`stream::set` and the rest call
    `stream::<op>(<name>)` when a worker registered it, with the operation's own fields, then fire
    the stream triggers as for the engine's store)."""
    from iii.helpers import create_stream

    engine = doubles(line="0.22")
    client = clients(engine)
    notebook = Notebook()
    with pytest.warns(FutureWarning, match="create_stream is deprecated"):
        create_stream(client, "notes", notebook)
    events, record = recorder()
    register(client, "w::on-note", record, type="stream", config={"stream_name": "notes"})
    engine.wait_for_functions("stream::set(notes)", "stream::list_groups(notes)")
    engine.wait_for_triggers("w::on-note")
    item = {"stream_name": "notes", "group_id": "g", "item_id": "i"}

    set_result = client.trigger({"function_id": "stream::set", "payload": {**item, "data": 1}})
    client.trigger({"function_id": "stream::set", "payload": {**item, "data": 2}})

    assert set_result == {"old_value": None, "new_value": 1}
    assert notebook.items == {("g", "i"): 2} and engine.streams == {}
    assert client.trigger({"function_id": "stream::get", "payload": item}) == 2
    assert client.trigger({"function_id": "stream::list", "payload": {**item}}) == [2]
    assert client.trigger({"function_id": "stream::list_groups", "payload": item}) == ["g"]
    client.trigger({"function_id": "stream::delete", "payload": item})
    assert client.trigger({"function_id": "stream::get", "payload": item}) is None
    engine.wait_until(lambda: len(events) == 3)
    assert [e["event"]["type"] for e in events] == ["create", "update", "delete"]


# HTTP-invoked functions (iii-http-functions).


class Endpoint:
    """An HTTP endpoint that records each request and answers with `status` and `body`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status, self.body = 200, b'{"ok": true}'
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", 0))
                endpoint.requests.append(
                    {"path": self.path, "method": self.command, "headers": dict(self.headers),
                     "body": json.loads(self.rfile.read(size))}
                )  # fmt: skip
                self.send_response(endpoint.status)
                self.end_headers()
                self.wfile.write(endpoint.body)

            do_PUT = do_POST

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_an_http_function_is_the_engines_and_calling_it_is_a_request(
    doubles: Start, clients: Connect, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:1350-1400 (a `registerfunction` with `invocation` is
    iii-http-functions's), engine/src/invocation/http_invoker.rs (JSON body, `x-iii-*` headers, the
    function's headers and auth; a 2xx body is the result, `{error: {code, message}}` or
    `HTTP <status>` otherwise), invocation/auth.rs:70-100 (secrets read from the environment)."""
    from iii_helpers.http import HttpAuthBearer, HttpInvocationConfig

    monkeypatch.setenv("HOOK_TOKEN", "s3cret")
    engine = doubles(line="0.22")
    client = clients(engine, "caller")
    config = HttpInvocationConfig(
        url=endpoint.url, method="PUT", headers={"X-Team": "blue"},
        auth=HttpAuthBearer(token_key="HOOK_TOKEN"),
    )  # fmt: skip
    hook = client.register_function("caller::hook", config)
    engine.wait_for_functions("caller::hook")

    assert engine.invoke("caller::hook", {"n": 1}) == {"ok": True}
    (request,) = endpoint.requests
    assert request["method"] == "PUT" and request["body"] == {"n": 1}
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["x-team"] == "blue" and headers["authorization"] == "Bearer s3cret"
    assert headers["x-iii-function-path"] == "caller::hook"

    endpoint.status, endpoint.body = 502, b'{"error": {"code": "UPSTREAM", "message": "down"}}'
    with pytest.raises(InvocationFailed) as failed:
        engine.invoke("caller::hook", {})
    assert failed.value.error == {"code": "UPSTREAM", "message": "down"}
    endpoint.body = b"not json"
    with pytest.raises(InvocationFailed) as failed:
        engine.invoke("caller::hook", {})
    assert failed.value.error == {"code": "http_error", "message": "HTTP 502 Bad Gateway"}

    hook.unregister()
    engine.wait_until(lambda: "caller::hook" not in engine.functions)
    with pytest.raises(InvocationFailed, match="not found"):
        engine.invoke("caller::hook", {})


def test_an_http_function_goes_with_the_worker_that_registered_it(
    doubles: Start, clients: Connect, endpoint: Endpoint
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:1793-1866 (`cleanup_worker` unregisters the
    worker's external functions)."""
    from iii_helpers.http import HttpInvocationConfig

    engine = doubles(line="0.25")
    client = clients(engine)
    client.register_function("w::hook", HttpInvocationConfig(url=endpoint.url))
    engine.wait_for_functions("w::hook")

    client.shutdown()

    engine.wait_until(lambda: engine.functions == {})
    with pytest.raises(InvocationFailed, match="not found"):
        engine.invoke("w::hook", {})


def test_without_iii_http_functions_an_http_function_is_not_registered(
    doubles: Start, clients: Connect, endpoint: Endpoint
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:1359-1371 ("HTTP functions module not loaded": logged,
    and the function does not exist)."""
    from iii_helpers.http import HttpInvocationConfig

    engine = doubles(line="0.22", providers={"http"})
    client = clients(engine)
    client.register_function("w::hook", HttpInvocationConfig(url=endpoint.url))
    client.register_function("w::after", echo)
    engine.wait_for_functions("w::after")

    assert "w::hook" not in engine.functions
    with pytest.raises(InvocationFailed, match="not found"):
        engine.invoke("w::hook", {})


# The caller's id.


def test_an_object_one_worker_sends_another_carries_the_callers_worker_id(
    doubles: Start, clients: Connect
) -> None:
    """R@iii/v0.22.1:engine/src/engine/mod.rs:490-499 (`spawn_invoke_function` adds
    `_caller_worker_id` to an object payload; other payloads, enqueued ones and the engine's own
    calls go as sent)."""
    engine = doubles(line="0.22")
    seen, record = recorder()
    callee, caller = clients(engine, "callee"), clients(engine, "caller")
    register(callee, "callee::see", lambda data: record(data))
    engine.wait_for_functions("callee::see")

    caller.trigger({"function_id": "callee::see", "payload": {"n": 1}})
    caller.trigger({"function_id": "callee::see", "payload": [1]})
    engine.invoke("callee::see", {"n": 2})

    state = {"scope": "s", "key": "k", "value": 1}
    caller.trigger({"function_id": "state::set", "payload": state})

    caller_id = next(w.worker_id for w in engine._workers if w.name == "caller")
    assert seen == [{"n": 1, "_caller_worker_id": caller_id}, [1], {"n": 2}]
    # The engine's own functions drop the field; `calls` shows what the worker sent.
    assert engine.calls == [("state::set", state)]


def test_the_function_list_refuses_a_payload_that_is_not_an_object(
    doubles: Start, clients: Connect
) -> None:
    """R@iii/v0.22.1:engine/src/workers/engine_fn/mod.rs:79-100 (`FunctionsListInput`, a struct:
    serde refuses a string)."""
    client = clients(doubles(line="0.22"))
    with pytest.raises(InvocationError) as failed:
        client.trigger({"function_id": "engine::functions::list", "payload": "all"})
    assert failed.value.code == "deserialization_error"


@pytest.mark.parametrize("level", ["info", "warn", "error", "debug", "trace"])
def test_a_worker_logs_through_the_engines_log_functions(
    doubles: Start, clients: Connect, level: str
) -> None:
    """R@iii/v0.22.1:engine/src/workers/observability/mod.rs:1587-1630 (`engine::log::<level>`
    takes `OtelLogInput`, a required string `message`, and answers nothing); iii-observability
    is one of the workers every engine runs (docs/engine-double.md D4)."""
    engine = doubles(line="0.22")
    client = clients(engine)
    record = {"message": "hello", "data": {"n": 1}}

    assert client.trigger({"function_id": f"engine::log::{level}", "payload": record}) is None
    with pytest.raises(InvocationError) as failed:
        client.trigger({"function_id": f"engine::log::{level}", "payload": {"message": 1}})

    assert failed.value.code == "deserialization_error"
    assert engine.calls[0] == (f"engine::log::{level}", record)
