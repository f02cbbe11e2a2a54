"""A stand-in for the iii engine, so the worker can be tested without installing one.

It speaks the engine's WebSocket protocol (JSON text frames): it greets a worker with
`workerregistered`, records `registerfunction` and `registertrigger` (acking each trigger),
answers calls to the built-in `state::*`, `stream::*` and `iii::durable::publish` functions from
memory, fires `state` triggers and delivers published jobs to `durable:subscriber` functions the
way the engine does, and can invoke the worker's own functions (`invoke`).

It runs its event loop on a daemon thread, so a test that forgets `stop()` still exits.
"""

import asyncio
import itertools
import json
import threading
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

Message = dict[str, Any]


class InvocationFailed(Exception):
    """The worker answered an invocation with an error."""


class FakeEngine:
    def __init__(self) -> None:
        self.functions: dict[str, Message] = {}
        self.triggers: dict[str, Message] = {}
        self.calls: list[tuple[str, Any]] = []
        self.state: dict[tuple[str, str], Any] = {}
        self.streams: dict[tuple[str, str, str], Any] = {}
        self.workers: list[Message] = []
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._connection: ServerConnection | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Server | None = None
        self.url = ""

    def start(self) -> "FakeEngine":
        self._thread.start()
        self._server = self._run(self._listen())
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._run(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def reset(self) -> None:
        """Forget calls, state and streams (registrations stay, as they would on a live engine)."""
        with self._changed:
            self.calls.clear()
            self.state.clear()
            self.streams.clear()

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until `condition()` holds (it is checked under the engine's lock)."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout):
                raise TimeoutError("the fake engine did not see what the test waited for")

    def invoke(self, function_id: str, data: Any, timeout: float = 10.0) -> Any:
        """Call one of the worker's functions over the wire, as a trigger would, and return its result."""
        reply = self._run(self._invoke(function_id, data), timeout)
        if "error" in reply:
            raise InvocationFailed(reply["error"])
        return reply.get("result")

    # The engine's side of the connection, on its own loop.

    def _run(self, coroutine: Any, timeout: float | None = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _listen(self) -> Server:
        return await serve(self._serve, "127.0.0.1", 0)

    async def _invoke(self, function_id: str, data: Any) -> Message:
        invocation_id = f"inv-{next(self._ids)}"
        future: asyncio.Future[Message] = self._loop.create_future()
        self._pending[invocation_id] = future
        await self._send(
            {
                "type": "invokefunction",
                "invocation_id": invocation_id,
                "function_id": function_id,
                "data": data,
            }
        )
        return await future

    async def _send(self, message: Message) -> None:
        if self._connection is None:
            raise ConnectionError("no worker is connected to the fake engine")
        await self._connection.send(json.dumps(message))

    async def _serve(self, connection: ServerConnection) -> None:
        self._connection = connection
        await connection.send(
            json.dumps({"type": "workerregistered", "worker_id": f"worker-{next(self._ids)}"})
        )
        async for frame in connection:
            await self._receive(json.loads(frame))

    async def _receive(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "registerfunction":
            self._record(lambda: self.functions.__setitem__(message["id"], message))
        elif kind == "registertrigger":
            self._record(lambda: self.triggers.__setitem__(message["id"], message))
            await self._send(
                {
                    "type": "triggerregistrationresult",
                    "id": message["id"],
                    "trigger_type": message["trigger_type"],
                    "function_id": message["function_id"],
                }
            )
        elif kind == "invocationresult":
            future = self._pending.pop(message.get("invocation_id", ""), None)
            if future is not None and not future.done():
                future.set_result(message)
        elif kind == "invokefunction":
            await self._answer(message)
        elif kind == "ping":
            await self._send({"type": "pong"})

    def _record(self, change: Callable[[], None]) -> None:
        with self._changed:
            change()
            self._changed.notify_all()

    async def _answer(self, message: Message) -> None:
        function_id, data = message["function_id"], message.get("data")
        if function_id == "engine::workers::register":
            self._record(lambda: self.workers.append(data or {}))
            return
        self._record(lambda: self.calls.append((function_id, data)))
        try:
            reply: Message = {"result": await self._builtin(function_id, data)}
        except KeyError as missing:
            reply = {"error": {"code": "function_not_found", "message": str(missing)}}
        if message.get("invocation_id"):
            await self._send(
                {
                    "type": "invocationresult",
                    "invocation_id": message["invocation_id"],
                    "function_id": function_id,
                    **reply,
                }
            )

    async def _builtin(self, function_id: str, data: Any) -> Any:
        if function_id == "state::set":
            key = (data["scope"], data["key"])
            old = self.state.get(key)
            self.state[key] = data["value"]
            event = "state:created" if old is None else "state:updated"
            await self._fire_state(event, data["scope"], data["key"], old, data["value"])
            return {"old_value": old, "new_value": data["value"]}
        if function_id == "state::get":
            return self.state.get((data["scope"], data["key"]))
        if function_id == "state::delete":
            old = self.state.pop((data["scope"], data["key"]), None)
            if old is not None:
                await self._fire_state("state:deleted", data["scope"], data["key"], old, None)
            return old
        if function_id == "state::list":
            return [value for (scope, _), value in self.state.items() if scope == data["scope"]]
        if function_id == "stream::set":
            self.streams[(data["stream_name"], data["group_id"], data["item_id"])] = data["data"]
            return data["data"]
        if function_id == "stream::get":
            return self.streams.get((data["stream_name"], data["group_id"], data["item_id"]))
        if function_id == "iii::durable::publish":
            for trigger in self._triggers_of("durable:subscriber"):
                if trigger["config"].get("topic") == data["topic"]:
                    await self._send(
                        {
                            "type": "invokefunction",
                            "function_id": trigger["function_id"],
                            "data": data["data"],
                        }
                    )
            return None
        raise KeyError(f"function '{function_id}' not found")

    async def _fire_state(self, event_type: str, scope: str, key: str, old: Any, new: Any) -> None:
        event = {
            "type": "state",
            "event_type": event_type,
            "scope": scope,
            "key": key,
            "old_value": old,
            "new_value": new,
        }
        for trigger in self._triggers_of("state"):
            if trigger["config"].get("scope") in (None, scope):
                await self._send(
                    {"type": "invokefunction", "function_id": trigger["function_id"], "data": event}
                )

    def _triggers_of(self, trigger_type: str) -> list[Message]:
        with self._changed:
            return [t for t in self.triggers.values() if t["trigger_type"] == trigger_type]
