"""The double's RBAC listener (engine_double/rbac_port.py) toward real iii-sdk clients, as the
worker manager's second port behaves (R@iii/v0.22.1 and R@iii/v0.11.6, identical there:
engine/src/workers/worker/rbac_config.rs, rbac_session.rs, engine/src/engine/mod.rs `handle_worker`
and the RegisterFunction/RegisterTrigger/RegisterTriggerType/UnregisterFunction/InvokeFunction
arms, engine/src/worker_connections/traits.rs `handle_function`)."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_double import EngineDouble
from engine_double.rbac_port import FunctionFilter, wildcard
from iii import InitOptions, InvocationError
from iii.iii import III
from websockets.sync.client import connect

pytestmark = pytest.mark.slow

CONFIG = {
    "middleware_function_id": "srv::middleware",
    "rbac": {
        "auth_function_id": "srv::auth",
        "on_function_registration_function_id": "srv::on-function",
        "on_trigger_registration_function_id": "srv::on-trigger",
        "on_trigger_type_registration_function_id": "srv::on-trigger-type",
        "expose_functions": [
            'match("srv::public::*")',
            'match("engine::functions::list")',
            {"metadata": {"public": True}},
        ],
    },
}
GRANTS: dict[str, dict[str, Any]] = {
    "admin": {"allowed_functions": ["srv::granted"], "allow_trigger_type_registration": True},
    "restricted": {"forbidden_functions": ["srv::public::echo"]},
    "prefixed": {"function_registration_prefix": "team"},
    "typed": {"allowed_trigger_types": ["http"]},
}


def wrapping(key: str) -> Callable[[Any], Any]:
    """A handler answering `{key: data}`."""

    def handler(data: Any) -> Any:
        return {key: data}

    return handler


class Server:
    """The worker on the main port that serves the auth function, the middleware, the hooks and
    the functions RBAC sessions call; it records what each of them was given."""

    def __init__(self, engine: EngineDouble) -> None:
        self.seen: dict[str, list[Any]] = {}
        self.sdk = III(engine.url, InitOptions(worker_name="srv"))

        def recorded(name: str, answer: Any) -> Any:
            def handler(data: Any) -> Any:
                self.seen.setdefault(name, []).append(data)
                return answer(data)

            return handler

        def auth(data: Any) -> Any:
            token = data["headers"].get("x-token")
            if token not in GRANTS:
                raise ValueError("invalid token")
            return {**GRANTS[token], "context": {"user": token}}

        def middleware(data: Any) -> Any:
            payload = {**data["payload"], "caller": data["context"]["user"]}
            return self.sdk.trigger({"function_id": data["function_id"], "payload": payload})

        def hook(data: Any) -> Any:
            if any(str(v).startswith("denied") for v in data.values() if isinstance(v, str)):
                raise ValueError("denied")
            return {"function_id": data["function_id"]} if "trigger_id" not in data else {}

        register = self.sdk.register_function
        register("srv::auth", recorded("auth", auth))
        register("srv::middleware", recorded("middleware", middleware))
        register("srv::on-function", recorded("on-function", hook))
        register("srv::on-trigger", recorded("on-trigger", hook))
        register("srv::on-trigger-type", recorded("on-trigger-type", lambda _: {}))
        register("srv::public::echo", wrapping("echoed"))
        register("srv::granted", wrapping("granted"))
        register("srv::private", wrapping("private"))
        register("srv::tagged", wrapping("tagged"), metadata={"public": True})
        functions = {"srv::auth", "srv::middleware", "srv::private", "srv::tagged"}
        engine.wait_for_functions(*functions)


@pytest.fixture
def engine() -> Iterator[EngineDouble]:
    double = EngineDouble(rbac=CONFIG).start()
    yield double
    double.stop()


@pytest.fixture
def server(engine: EngineDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("OTEL_ENABLED", "false")
    monkeypatch.setenv("HOME", os.environ.get("TMPDIR", "/tmp"))
    made = Server(engine)
    yield made
    made.sdk.shutdown()
    made.sdk._loop.close()  # shutdown() leaves the SDK's event loop open


@pytest.fixture
def session(engine: EngineDouble, server: Server) -> Iterator[Any]:
    """Connect an SDK client to the RBAC port with this `x-token` header."""
    made: list[III] = []

    def connect_with(token: str, name: str = "rbac-client") -> III:
        options = InitOptions(worker_name=name, headers={"x-token": token}, otel={"enabled": False})
        sdk = III(engine.rbac_url, options)
        made.append(sdk)
        engine.wait_until(lambda: any(w.get("name") == name for w in engine.workers))
        return sdk

    yield connect_with
    for sdk in made:
        sdk.shutdown()
        sdk._loop.close()


def test_the_auth_function_sees_the_upgrade_and_its_context_reaches_the_middleware(
    engine: EngineDouble, server: Server, session: Any
) -> None:
    """rbac_session.rs `authenticate` (headers, query_params, ip_address); mod.rs InvokeFunction:
    an allowed call goes through `middleware_function_id` with the session's context."""
    client = session("admin")

    assert client.trigger({"function_id": "srv::granted", "payload": {"n": 1}}) == {
        "granted": {"n": 1, "caller": "admin"}
    }
    (auth,) = server.seen["auth"]
    assert auth["headers"]["x-token"] == "admin"
    assert auth["query_params"] == {} and auth["ip_address"] == "127.0.0.1"
    (middleware,) = server.seen["middleware"]
    assert middleware == {
        "function_id": "srv::granted",
        "payload": {"n": 1},
        "action": None,
        "context": {"user": "admin"},
    }
    assert engine.rbac_url != engine.url


def test_a_failing_auth_function_refuses_the_connection_with_an_error_frame(
    engine: EngineDouble, server: Server
) -> None:
    """mod.rs `handle_worker`: the session's error as `{"type": "error"}`, then the close."""
    with connect(engine.rbac_url, additional_headers={"x-token": "bad"}, open_timeout=5) as socket:
        refusal = json.loads(socket.recv(timeout=5))
        assert refusal["type"] == "error"
        assert refusal["error"]["code"] == "AUTH_ERROR"
        assert "invalid token" in refusal["error"]["message"]
        with pytest.raises(Exception, match="received 1000"):
            socket.recv(timeout=5)


def test_what_a_session_may_call(engine: EngineDouble, server: Server, session: Any) -> None:
    """rbac_config.rs `is_function_allowed`: forbidden, allowed, infrastructure, then
    `expose_functions` (an id pattern or metadata); the FORBIDDEN error names the remedy."""
    admin, restricted = session("admin"), session("restricted", "rbac-restricted")

    assert admin.trigger({"function_id": "srv::public::echo", "payload": {}})["echoed"] == {
        "caller": "admin"
    }
    assert admin.trigger({"function_id": "srv::tagged", "payload": {}}) == {
        "tagged": {"caller": "admin"}
    }
    with pytest.raises(InvocationError) as private:
        admin.trigger({"function_id": "srv::private", "payload": {}})
    assert private.value.code == "FORBIDDEN"
    assert "function 'srv::private' not allowed (add to rbac.expose_functions)" in str(
        private.value
    )
    with pytest.raises(InvocationError) as forbidden:
        restricted.trigger({"function_id": "srv::public::echo", "payload": {}})
    assert "(remove from rbac.forbidden_functions)" in str(forbidden.value)
    # The infrastructure carve-out, and no middleware for engine::* calls.
    channel = restricted.trigger({"function_id": "engine::channels::create", "payload": {}})
    assert set(channel) == {"writer", "reader"}
    assert [m["function_id"] for m in server.seen["middleware"]] == [
        "srv::public::echo",
        "srv::tagged",
    ]


def test_function_registration_goes_through_the_hook_and_the_prefix(
    engine: EngineDouble, server: Server, session: Any
) -> None:
    """mod.rs RegisterFunction (the hook denies by failing; the prefix goes on after it) and
    UnregisterFunction (the prefixed id); traits.rs strips the prefix from the invocation."""
    client = session("prefixed")
    client.register_function("denied::fn", lambda data: data)
    handle = client.register_function("echo", wrapping("mine"))
    engine.wait_for_functions("team::echo")

    assert [s["function_id"] for s in server.seen["on-function"]] == ["denied::fn", "echo"]
    assert server.seen["on-function"][1]["context"] == {"user": "prefixed"}
    assert "denied::fn" not in engine.functions and "team::denied::fn" not in engine.functions
    answer = server.sdk.trigger({"function_id": "team::echo", "payload": {"n": 2}})
    assert answer["mine"]["n"] == 2
    handle.unregister()
    engine.wait_until(lambda: "team::echo" not in engine.functions)


def test_trigger_registrations_go_through_the_hooks(
    engine: EngineDouble, server: Server, session: Any
) -> None:
    """mod.rs RegisterTrigger: `allowed_trigger_types`, then the hook (with the session's
    context), then the prefix on the function id; RegisterTriggerType's hook."""
    admin, typed = session("admin"), session("typed", "rbac-typed")
    with pytest.warns(DeprecationWarning):
        admin.register_trigger({"type": "http", "function_id": "denied::fn", "config": {}})
        admin.register_trigger(
            {"type": "http", "function_id": "srv::public::echo", "config": {"api_path": "a"}}
        )
        typed.register_trigger({"type": "cron", "function_id": "srv::public::echo", "config": {}})
    engine.wait_for_triggers("srv::public::echo")

    hooked = server.seen["on-trigger"]
    assert [h["function_id"] for h in hooked] == ["denied::fn", "srv::public::echo"]
    assert hooked[1]["context"] == {"user": "admin"} and hooked[1]["trigger_type"] == "http"
    assert [t["function_id"] for t in engine.triggers.values()] == ["srv::public::echo"]
    # A hook answering `{}` keeps every field.
    (trigger,) = engine.triggers.values()
    assert trigger["config"] == {"api_path": "a"}

    with connect(engine.rbac_url, additional_headers={"x-token": "admin"}) as socket:
        socket.recv(timeout=5)
        socket.send(json.dumps({"type": "registertriggertype", "id": "t", "description": "d"}))
        engine.wait_until(lambda: "on-trigger-type" in server.seen)
    assert server.seen["on-trigger-type"] == [
        {"trigger_type_id": "t", "description": "d", "context": {"user": "admin"}}
    ]


def test_a_sessions_function_list_holds_only_what_it_may_call(
    engine: EngineDouble, server: Server, session: Any
) -> None:
    """R@iii/v0.22.1:engine/src/workers/engine_fn/mod.rs `functions_list` keeps, for a session,
    what `is_function_allowed` lets it call."""
    admin = session("admin")

    shown = admin.trigger({"function_id": "engine::functions::list", "payload": {}})
    assert [f["function_id"] for f in shown["functions"]] == [
        "srv::granted",
        "srv::public::echo",
        "srv::tagged",
    ]
    assert "middleware" not in server.seen


def test_the_logger_is_there_for_every_session(
    engine: EngineDouble, server: Server, session: Any
) -> None:
    """iii-observability, a mandatory worker (R@iii/v0.22.1 and R@iii/v0.11.6:
    engine/src/workers/observability/mod.rs `engine::log::*`, `OtelLogInput`), answers no result;
    rbac_config.rs's carve-out lets any session call it, past the middleware."""
    restricted = session("restricted")

    assert (
        restricted.trigger({"function_id": "engine::log::warn", "payload": {"message": "m"}})
        is None
    )
    assert (
        server.sdk.trigger({"function_id": "engine::log::info", "payload": {"message": "n"}})
        is None
    )
    assert ("engine::log::warn", {"message": "m"}) in engine.calls
    with pytest.raises(InvocationError, match="deserialization_error"):
        server.sdk.trigger({"function_id": "engine::log::error", "payload": {"message": 1}})
    assert "middleware" not in server.seen


def test_the_rbac_port_survives_a_restart(engine: EngineDouble, server: Server) -> None:
    """Like the http and stream ports, the RBAC listener comes back on its port."""
    before = engine.rbac_url
    engine.restart()

    assert engine.rbac_url == before
    with connect(before, additional_headers={"x-token": "admin"}, open_timeout=5) as socket:
        assert socket.recv(timeout=10)


def test_patterns_and_filters() -> None:
    """rbac_config.rs `wildcard_match` and `FunctionFilter`."""
    assert wildcard("engine::*", "engine::a::b") and not wildcard("engine::*", "x::engine::a")
    assert wildcard("*::public", "a::public") and not wildcard("*::public", "a::private")
    assert wildcard("a*c", "abc") and not wildcard("a", "ab")
    tagged = FunctionFilter.parse({"metadata": {"public": True, "team": 'match("a*")'}})
    assert tagged.matches("x", {"public": True, "team": "ab"})
    assert not tagged.matches("x", {"public": 1, "team": "ab"})
    assert not tagged.matches("x", None)
    assert FunctionFilter.parse("match('x::*')").matches("x::y", None)
    with pytest.raises(ValueError, match="expose_functions"):
        FunctionFilter.parse("x::*")


def test_the_double_runs_without_the_rbac_module(tmp_path: Path) -> None:
    """Projects do not get rbac_port.py (copier.yml `_exclude`): the double starts without it."""
    import engine_double

    package = tmp_path / "engine_double"
    shutil.copytree(Path(engine_double.__file__).parent, package,
                    ignore=shutil.ignore_patterns("rbac_port.py", "__pycache__"))  # fmt: skip
    probe = "from engine_double import EngineDouble\nd = EngineDouble().start()\nprint(repr(d.rbac_url))\nd.stop()"
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == "''"
