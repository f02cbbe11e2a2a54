"""A stand-in for the iii engine, so the worker can be tested without installing one.

It speaks the engine's WebSocket protocol (JSON text frames, `type` = the message name) and behaves
the way the engine does toward a worker:

- it greets each connection with `workerregistered`, records `registerfunction` and
  `registertrigger`, and forgets a connection's registrations when it closes (a reconnecting
  worker must register everything again);
- it checks triggers as the engine's workers do: a config error is answered with a
  `triggerregistrationresult` error, a trigger type nobody provides is parked without an answer;
- it serves the built-in `state::*`, `stream::*`, `iii::durable::publish` and `publish` functions
  from memory, firing `state`, `stream`, `durable:subscriber` and `subscribe` triggers with the
  engine's event shapes;
- it plays the engine's side of HTTP (`http`: routes, middleware in order, conditions, the
  `status_code` mapping and error envelopes), cron ticks, and stream connections (`auth_function`,
  `stream:join`, `stream:leave`).

Its event loop runs on a daemon thread, so a test that forgets `stop()` still exits.
"""

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Message = dict[str, Any]
T = TypeVar("T")

# Trigger types the engine's own workers provide; anything else waits for a provider.
BUILT_IN_TRIGGER_TYPES = {
    "http", "cron", "durable:subscriber", "subscribe", "state", "stream", "stream:join",
    "stream:leave",
}  # fmt: skip


class InvocationFailed(Exception):
    """A function answered an invocation with an error (`.error` is the engine's error body)."""

    def __init__(self, error: Message) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = error


@dataclass
class HttpResponse:
    """What an HTTP client of the engine would receive."""

    status_code: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Worker:
    connection: ServerConnection
    functions: dict[str, Message] = field(default_factory=dict)
    triggers: dict[str, Message] = field(default_factory=dict)


def _cron_error(expression: Any) -> str | None:
    if not isinstance(expression, str) or not expression.strip():
        return "Cron expression is required"
    fields = expression.split()
    if expression.strip().startswith("@") and len(fields) == 1:
        return None
    if len(fields) not in (6, 7) or not all(re.fullmatch(r"[0-9A-Za-z*/,?#-]+", f) for f in fields):
        return f"Invalid cron expression '{expression}': expected 6 or 7 fields, seconds first"
    return None


def _config_error(trigger_type: str, config: Any) -> str | None:
    """The engine's registration error for this config, or None when it accepts it."""
    if trigger_type == "http":
        if not isinstance(config, dict) or not isinstance(config.get("api_path"), str):
            return "api_path is required for http triggers"
    elif trigger_type == "cron":
        return _cron_error(config.get("expression") if isinstance(config, dict) else None)
    elif trigger_type == "state":
        if not isinstance(config, dict):
            return "Failed to parse trigger config: expected struct StateTriggerConfig"
    elif trigger_type == "stream" and (
        not isinstance(config, dict) or not isinstance(config.get("stream_name"), str)
    ):
        # The engine itself fails harder here (its stream worker unwraps the name).
        return "stream_name is required for stream triggers"
    return None


def _route_key(method: str, path: str) -> tuple[str, tuple[str, ...]]:
    segments = tuple(s for s in path.strip("/").split("/") if s)
    return method.upper(), tuple(":" if s.startswith(":") else s for s in segments)


def _error_body(code: str, message: str) -> Message:
    return {"error": {"code": code, "message": message, "error_id": uuid.uuid4().hex[:12]}}


class EngineDouble:
    """The engine's side of the WebSocket protocol, in memory. Start it, point III_URL at `url`."""

    def __init__(self, *, auth_function: str | None = None, retry_delay: float = 0.05) -> None:
        self.auth_function = auth_function
        self.retry_delay = retry_delay
        self.workers: list[Message] = []  # engine::workers::register metadata, in arrival order
        self.rejected: list[Message] = []  # triggerregistrationresult errors sent
        self.parked: list[Message] = []  # triggers of a type no worker provides
        self.calls: list[tuple[str, Any]] = []  # calls to built-in functions
        self.state: dict[tuple[str, str], Any] = {}
        self.streams: dict[tuple[str, str, str], Any] = {}
        self.dead_letters: list[Message] = []
        # Trigger firings the worker handled, as (function id, data).
        self.fired: list[tuple[str, Any]] = []
        self.connections_seen = 0
        self._workers: list[_Worker] = []
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Server | None = None
        self._port = 0
        self.url = ""

    # Lifecycle (called from tests).

    def start(self) -> "EngineDouble":
        self._thread.start()
        self._run(self._listen())
        self.url = f"ws://127.0.0.1:{self._port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._run(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def restart(self) -> None:
        """Go away (closing every connection, as a crashed engine would) and come back on the same port."""
        self._run(self._close())
        self._run(self._listen())

    def reset(self) -> None:
        """Forget calls, state and streams (registrations stay, as they would on a live engine)."""
        with self._changed:
            self.calls.clear()
            self.state.clear()
            self.streams.clear()
            self.dead_letters.clear()
            self.fired.clear()

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until `condition()` holds: checked after every change the engine sees, and every
        20 ms for conditions on the test's own data."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the engine double did not see what the test waited for")
                self._changed.wait(min(left, 0.02))

    def wait_for_functions(self, *function_ids: str, timeout: float = 10.0) -> None:
        """Block until each of these functions is registered."""
        wanted = set(function_ids)
        self.wait_until(lambda: wanted <= self.functions.keys(), timeout)

    def wait_for_triggers(self, *function_ids: str, timeout: float = 10.0) -> None:
        """Block until a trigger bound to each of these functions is registered."""
        wanted = set(function_ids)
        self.wait_until(
            lambda: wanted <= {t["function_id"] for t in self.triggers.values()}, timeout
        )

    # What the worker registered, across its live connections.

    @property
    def functions(self) -> dict[str, Message]:
        with self._changed:
            return {k: v for w in self._workers for k, v in w.functions.items()}

    @property
    def triggers(self) -> dict[str, Message]:
        with self._changed:
            return {k: v for w in self._workers for k, v in w.triggers.items()}

    def triggers_of(self, trigger_type: str) -> list[Message]:
        return [t for t in self.triggers.values() if t["trigger_type"] == trigger_type]

    # Acting as the engine's workers would (called from tests).

    def invoke(self, function_id: str, data: Any, timeout: float = 10.0) -> Any:
        """Call a worker's function as a trigger would and return its result."""
        return self._run(self._call(function_id, data), timeout + 1)

    def invoke_many(self, calls: list[tuple[str, Any]], timeout: float = 30.0) -> list[Any]:
        """Call many functions at once; each result, or the `InvocationFailed` it raised."""

        async def everything() -> list[Any]:
            coroutines = [self._call(function_id, data) for function_id, data in calls]
            return await asyncio.gather(*coroutines, return_exceptions=True)

        return self._run(everything(), timeout)

    def http(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> HttpResponse:
        """An HTTP request to the engine's http worker (JSON body when `body` is not None)."""
        return self._run(self._http(method, path, body, headers or {}, query or {}))

    def call(self, function_id: str, data: Any) -> Any:
        """Call a built-in function (`state::set`, `stream::set`, ...) as another worker would."""
        return self._run(self._built_in(function_id, data))

    def cron_tick(self, function_id: str) -> None:
        """Fire the cron trigger bound to `function_id` once, as the scheduler would."""
        (trigger,) = [t for t in self.triggers_of("cron") if t["function_id"] == function_id]
        now = datetime.now(timezone.utc).isoformat()
        payload = {
            "trigger": "cron",
            "job_id": trigger["id"],
            "scheduled_time": now,
            "actual_time": now,
        }
        self.invoke(function_id, payload)

    def authenticate(
        self, query_params: dict[str, list[str]], headers: dict[str, str] | None = None
    ) -> Any:
        """The context a stream connection gets: the auth function's, or None (it fails open)."""
        if self.auth_function is None:
            return None
        request = {
            "headers": headers or {},
            "path": "/",
            "query_params": query_params,
            "addr": "127.0.0.1:50000",
        }
        try:
            result = self.invoke(self.auth_function, request)
        except InvocationFailed:
            return None
        return result.get("context") if isinstance(result, dict) else None

    def join(
        self, stream_name: str, group_id: str, context: Any = None, item_id: str | None = None
    ) -> bool:
        """Whether a stream subscription is let in: refused only on `{"unauthorized": true}`."""
        event = self._subscription(stream_name, group_id, context, item_id)
        for trigger in self.triggers_of("stream:join"):
            try:
                result = self.invoke(trigger["function_id"], event)
            except InvocationFailed:
                continue  # the engine logs a failing join handler and lets the join through
            if isinstance(result, dict) and result.get("unauthorized") is True:
                return False
        return True

    def leave(self, stream_name: str, group_id: str, context: Any = None) -> None:
        event = self._subscription(stream_name, group_id, context, None)
        for trigger in self.triggers_of("stream:leave"):
            self.invoke(trigger["function_id"], event)

    # The engine's side of the connection, on its own loop.

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _listen(self) -> None:
        # A short open_timeout: a client that dies mid-handshake must not hold up stop().
        self._server = await serve(self._serve, "127.0.0.1", self._port, open_timeout=2)
        self._port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _subscription(
        self, stream_name: str, group_id: str, context: Any, item_id: str | None
    ) -> Message:
        return {
            "subscription_id": f"sub-{next(self._ids)}",
            "stream_name": stream_name,
            "group_id": group_id,
            "id": item_id,
            "context": context,
        }

    async def _serve(self, connection: ServerConnection) -> None:
        worker = _Worker(connection)
        with self._changed:
            self._workers.append(worker)
            self.connections_seen += 1
            self._changed.notify_all()
        try:
            await connection.send(
                json.dumps({"type": "workerregistered", "worker_id": str(uuid.uuid4())})
            )
            async for frame in connection:
                await self._receive(worker, json.loads(frame))
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                self._workers.remove(worker)
                self._changed.notify_all()

    async def _receive(self, worker: _Worker, message: Message) -> None:
        kind = message.get("type")
        if kind == "registerfunction":
            self._record(lambda: worker.functions.__setitem__(message["id"], message))
        elif kind == "registertrigger":
            await self._register_trigger(worker, message)
        elif kind == "unregistertrigger":
            self._record(lambda: worker.triggers.pop(message["id"], None))
        elif kind == "unregisterfunction":
            self._record(lambda: worker.functions.pop(message["id"], None))
        elif kind == "invocationresult":
            future = self._pending.pop(message.get("invocation_id", ""), None)
            if future is not None and not future.done():
                future.set_result(message)
        elif kind == "invokefunction":
            self._spawn(self._answer(worker, message))
        elif kind == "ping":
            await worker.connection.send(json.dumps({"type": "pong"}))

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run in the background, holding a reference so the task is not collected mid-flight."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _record(self, change: Callable[[], object]) -> None:
        with self._changed:
            change()
            self._changed.notify_all()

    async def _register_trigger(self, worker: _Worker, message: Message) -> None:
        trigger_type = message.get("trigger_type", "")
        if trigger_type not in BUILT_IN_TRIGGER_TYPES:
            self._record(lambda: self.parked.append(message))
            return
        error = _config_error(trigger_type, message.get("config"))
        if error is None:
            self._record(lambda: worker.triggers.__setitem__(message["id"], message))
            return
        reply = {
            "type": "triggerregistrationresult",
            "id": message["id"],
            "trigger_type": trigger_type,
            "function_id": message.get("function_id"),
            "error": {"code": "trigger_registration_failed", "message": error},
        }
        self._record(lambda: self.rejected.append(reply))
        await worker.connection.send(json.dumps(reply))

    async def _answer(self, worker: _Worker, message: Message) -> None:
        function_id, data = message["function_id"], message.get("data")
        reply: Message
        if function_id == "engine::workers::register":
            self._record(lambda: self.workers.append(data or {}))
            reply = {"result": {"success": True}}
        else:
            try:
                reply = {"result": await self._built_in(function_id, data)}
            except InvocationFailed as failed:
                reply = {"error": failed.error}
        invocation_id = message.get("invocation_id")
        if invocation_id:
            result = {
                "type": "invocationresult",
                "invocation_id": invocation_id,
                "function_id": function_id,
            }
            await worker.connection.send(json.dumps({**result, **reply}))

    async def _call(self, function_id: str, data: Any, within: float = 10.0) -> Any:
        """Invoke a worker's function and wait for its result."""
        owner = next((w for w in list(self._workers) if function_id in w.functions), None)
        if owner is None:
            raise InvocationFailed(
                {
                    "code": "function_not_found",
                    "message": f"Function {function_id} not found in namespace default",
                }
            )
        invocation_id = str(uuid.uuid4())
        future: asyncio.Future[Message] = self._loop.create_future()
        self._pending[invocation_id] = future
        await owner.connection.send(
            json.dumps(
                {
                    "type": "invokefunction",
                    "invocation_id": invocation_id,
                    "function_id": function_id,
                    "data": data,
                }
            )
        )
        try:
            reply = await asyncio.wait_for(future, within)
        finally:
            self._pending.pop(invocation_id, None)
        if "error" in reply:
            raise InvocationFailed(reply["error"])
        return reply.get("result")

    async def _fire(self, function_id: str, data: Any) -> None:
        """A trigger firing: the engine logs a handler's error and goes on."""
        with contextlib.suppress(Exception):
            await self._call(function_id, data)
            self._record(lambda: self.fired.append((function_id, data)))

    # Built-in functions.

    async def _built_in(self, function_id: str, data: Any) -> Any:
        self._record(lambda: self.calls.append((function_id, data)))
        if not isinstance(data, dict):
            raise InvocationFailed(
                {
                    "code": "deserialization_error",
                    "message": f"Failed to deserialize input for {function_id}",
                }
            )
        try:
            return await self._built_in_with(function_id, data)
        except KeyError as missing:
            raise InvocationFailed(
                {
                    "code": "deserialization_error",
                    "message": f"Failed to deserialize input for {function_id}: missing field {missing}",
                }
            ) from None

    async def _built_in_with(self, function_id: str, data: Message) -> Any:
        if function_id == "state::set":
            scope, key, value = data["scope"], data["key"], data["value"]
            old = self.state.get((scope, key))
            self._record(lambda: self.state.__setitem__((scope, key), value))
            await self._fire_state(
                "state:created" if old is None else "state:updated", scope, key, old, value
            )
            return {"old_value": old, "new_value": value}
        if function_id == "state::get":
            return self.state.get((data["scope"], data["key"]))
        if function_id == "state::delete":
            scope, key = data["scope"], data["key"]
            old = self.state.pop((scope, key), None)
            await self._fire_state("state:deleted", scope, key, old, None)
            return old
        if function_id == "state::list":
            return [value for (scope, _), value in self.state.items() if scope == data["scope"]]
        if function_id == "stream::set":
            key = (data["stream_name"], data["group_id"], data["item_id"])
            old = self.streams.get(key)
            self._record(lambda: self.streams.__setitem__(key, data["data"]))
            await self._fire_stream(key, "create" if old is None else "update", data["data"])
            return {"old_value": old, "new_value": data["data"]}
        if function_id == "stream::get":
            return self.streams.get((data["stream_name"], data["group_id"], data["item_id"]))
        if function_id == "stream::delete":
            key = (data["stream_name"], data["group_id"], data["item_id"])
            old = self.streams.pop(key, None)
            if old is not None:
                await self._fire_stream(key, "delete", old)
            return {"old_value": old}
        if function_id == "stream::list":
            return [
                v
                for (s, g, _), v in self.streams.items()
                if (s, g) == (data["stream_name"], data["group_id"])
            ]
        if function_id == "iii::durable::publish":
            if not data["topic"]:
                raise InvocationFailed({"code": "topic_not_set", "message": "Topic is not set"})
            for trigger in self.triggers_of("durable:subscriber"):
                if trigger["config"].get("topic") == data["topic"]:
                    self._spawn(self._deliver(trigger, data["data"]))
            return None
        if function_id == "publish":
            for trigger in self.triggers_of("subscribe"):
                if trigger["config"].get("topic") == data["topic"]:
                    self._spawn(self._fire(trigger["function_id"], data["data"]))
            return None
        raise InvocationFailed(
            {
                "code": "function_not_found",
                "message": f"Function {function_id} not found in namespace default.",
            }
        )

    async def _deliver(self, trigger: Message, job: Any) -> None:
        """Durable delivery: retried with backoff, then dead-lettered, as the queue worker does."""
        attempts = int(trigger["config"].get("queue_config", {}).get("maxRetries", 2)) + 1
        for attempt in range(attempts):
            try:
                await self._call(trigger["function_id"], job)
                self._record(lambda: self.fired.append((trigger["function_id"], job)))
                return
            except Exception as error:  # any failure is retried, like a nack
                if attempt + 1 == attempts:
                    self._dead_letter(job, error)
                    return
                await asyncio.sleep(self.retry_delay * 2**attempt)

    def _dead_letter(self, job: Any, error: Exception) -> None:
        self._record(lambda: self.dead_letters.append({"job": job, "error": str(error)}))

    async def _fire_state(self, event_type: str, scope: str, key: str, old: Any, new: Any) -> None:
        event = {
            "type": "state",
            "event_type": event_type,
            "scope": scope,
            "key": key,
            "old_value": old,
            "new_value": new,
        }
        for trigger in self.triggers_of("state"):
            config = trigger["config"]
            if config.get("scope") in (None, scope) and config.get("key") in (None, key):
                self._spawn(self._fire(trigger["function_id"], event))

    async def _fire_stream(self, key: tuple[str, str, str], change: str, data: Any) -> None:
        stream_name, group_id, item_id = key
        event = {
            "type": "stream",
            "timestamp": int(datetime.now(timezone.utc).timestamp() * 1000),
            "streamName": stream_name,
            "groupId": group_id,
            "id": item_id,
            "event": {"type": change, "data": data},
        }
        for trigger in self.triggers_of("stream"):
            config = trigger["config"]
            if config["stream_name"] == stream_name and config.get("group_id") in (
                None,
                "",
                group_id,
            ):
                self._spawn(self._fire(trigger["function_id"], event))

    # HTTP, as the engine's http worker serves it.

    async def _http(
        self, method: str, path: str, body: Any, headers: dict[str, str], query: dict[str, str]
    ) -> HttpResponse:
        route, path_params = self._match_route(method, path)
        if route is None:
            return HttpResponse(404, {"error": {"code": "NOT_FOUND", "message": "Not Found"}})
        config = route["config"]
        headers = {name.lower(): value for name, value in headers.items()}
        if body is not None:
            headers.setdefault("content-type", "application/json")
        request = {
            "path_params": path_params,
            "query_params": query,
            "headers": headers,
            "method": method.upper(),
        }
        payload = {
            **request,
            "path": config["api_path"],
            "body": body if "application/json" in headers.get("content-type", "") else None,
            "trigger": {"type": "http", "path": config["api_path"], "method": method.upper()},
        }
        try:
            condition = config.get("condition_function_id")
            if condition and await self._call(condition, payload) is False:
                return HttpResponse(
                    422,
                    {
                        "error": {
                            "code": "CONDITION_NOT_MET",
                            "message": "Request condition not met",
                        },
                        "skipped": True,
                    },
                )
            for middleware in config.get("middleware_function_ids", []):
                verdict = await self._call(
                    middleware, {"phase": "preHandler", "request": request, "context": {}}
                )
                if isinstance(verdict, dict) and verdict.get("action") == "respond":
                    return self._http_response(verdict.get("response") or {})
            result = await self._call(route["function_id"], {**payload, **self._channel_refs()})
        except InvocationFailed as failed:
            return HttpResponse(
                500, _error_body(failed.error.get("code", ""), failed.error.get("message", ""))
            )
        if result is None:
            # The engine would wait for the response channel until its timeout.
            return HttpResponse(504, None)
        return self._http_response(result)

    @staticmethod
    def _http_response(result: Any) -> HttpResponse:
        # Only `status_code` counts; `statusCode` (the Motia guide's spelling) is ignored.
        result = result if isinstance(result, dict) else {}
        status = result.get("status_code", 200)
        headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        return HttpResponse(int(status), result.get("body", {}), headers)

    def _match_route(self, method: str, path: str) -> tuple[Message | None, dict[str, str]]:
        wanted_method, wanted = _route_key(method, path)
        for trigger in self.triggers_of("http"):
            config = trigger["config"]
            route_method, route = _route_key(config.get("http_method", "GET"), config["api_path"])
            if route_method != wanted_method or len(route) != len(wanted):
                continue
            names = [s for s in config["api_path"].strip("/").split("/") if s]
            if all(r == ":" or r == w for r, w in zip(route, wanted, strict=True)):
                return trigger, {
                    n[1:]: w for n, w in zip(names, wanted, strict=True) if n.startswith(":")
                }
        return None, {}

    @staticmethod
    def _channel_refs() -> Message:
        # Handlers get streaming channels too; the SDK connects them only when they are used.
        def ref(direction: str) -> Message:
            return {
                "channel_id": str(uuid.uuid4()),
                "access_key": str(uuid.uuid4()),
                "direction": direction,
            }

        return {"request_body": ref("read"), "response": ref("write")}
