# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The engine's side of the WebSocket protocol, in memory: connections, registrations, calls
between functions, trigger firings, channels and telemetry sockets. Each engine worker the
project runs is a module of this package, imported only when a double runs it."""

import asyncio
import contextlib
import importlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .driving import Driving
from .engine_fn import EngineFunctions
from .lines import LINES, PROVIDER_MODULES, PROVIDERS, RULES, TRIGGER_PROVIDERS, installed_line
from .protocol import (
    Builtin,
    Channel,
    Connection,
    EngineWorker,
    InvocationFailed,
    Message,
    T,
    answered_line,
    available_providers,
    bounded,
    check_registered,
    frame,
    load_provider,
    observers,
    run_config,
    stopped,
)
from .trigger_types import TriggerTypes


class EngineDouble(Driving):
    """The engine's side of the WebSocket protocol, in memory. Start it, point III_URL at `url`."""

    def __init__(
        self,
        *,
        line: str | None = None,
        providers: set[str] | frozenset[str] | None = None,
        auth_function: str | None = None,
        queues: dict[str, Message] | None = None,
        retry_delay: float = 0.05,
        http_timeout: float = 5.0,
        port: int = 0,
        http_port: int = 0,
        stream_port: int = 0,
        rbac: Message | None = None,
    ) -> None:
        """`providers`: the engine workers that run (default: every one this package has a module
        for; a project's has those its run config starts). `queues`: the named
        queues `TriggerAction.Enqueue` may use, `{name: {"max_retries": n}}` (default: any).
        `retry_delay`: the first queue retry's delay (the engine's is 1 s). `http_timeout`: how
        long HTTP waits for a handler (the engine's `default_timeout` is 30 s). `port`: where the
        worker WebSocket listens; `http_port`, `stream_port`: where the http worker's HTTP and
        iii-stream's client WebSocket do, when those workers run (0: any free port). `rbac`: a
        second worker port with RBAC, shaped like the worker manager's config (rbac_port.py)."""
        self.line = line or installed_line()
        if self.line not in LINES:
            raise ValueError(f"line must be one of {', '.join(LINES)}, not {self.line!r}")
        self.rules = RULES[self.line]
        self.providers = frozenset(available_providers() if providers is None else providers)
        if not self.providers <= PROVIDERS:
            raise ValueError(f"unknown providers: {sorted(self.providers - PROVIDERS)}")
        # One object per module playing a running engine worker, imported only now.
        self._provided: dict[str, list[EngineWorker]] = {
            name: [load_provider(module)(self) for module in PROVIDER_MODULES[name]]
            for name in sorted(self.providers)
        }
        self.auth_function = auth_function
        self.queues = queues
        self.retry_delay = retry_delay
        self.http_timeout = http_timeout
        self.workers: list[Message] = []  # engine::workers::register metadata, in arrival order
        self.rejected: list[Message] = []  # triggerregistrationresult errors sent
        self.registration_rejections: list[Message] = []  # registrationrejected frames sent
        self.parked: list[Message] = []  # triggers of a type no running worker provides
        self.calls: list[tuple[str, Any]] = []  # calls to built-in functions
        self.state: dict[tuple[str, str], Any] = {}
        self.streams: dict[tuple[str, str, str], Any] = {}
        # Groups stay listed after their last key or item is deleted: the engine's in-memory
        # store keeps the emptied map until a restart.
        self._groups: set[tuple[str, ...]] = set()
        self.dead_letters: list[Message] = []
        # Trigger firings the worker handled, and those a condition skipped, as (function id, data).
        self.fired: list[tuple[str, Any]] = []
        self.skipped: list[tuple[str, Any]] = []
        self.connections_seen = 0  # worker connections (not channel or telemetry sockets)
        self.telemetry_connections = 0
        self._workers: list[Connection] = []
        self._owners: dict[str, Connection] = {}  # function id -> the worker that serves it
        self._channels: dict[str, Channel] = {}
        self._pending: dict[str, tuple[asyncio.Future[Message], Connection]] = {}
        self._types = TriggerTypes(self)  # trigger types that workers provide
        self._observe: Any = observers(self)  # 0.25's (observe.py), else None
        self._builtins = self._builtin_table()
        self._engine_functions = frozenset(self._builtins)  # not iii-http-functions' later ones
        self._changed = threading.Condition()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._loop: asyncio.AbstractEventLoop  # made by start(), so an unstarted double holds none
        self._thread: threading.Thread
        self._server: Server | None = None
        self._ports: dict[str, Any] = {}  # the http and stream workers' own, once listening
        self._port = port
        self._port_numbers = {"http": http_port, "stream": stream_port}
        self.rbac, self.rbac_url = rbac, ""  # the RBAC listener's config and ws://127.0.0.1:PORT
        self._port_numbers["rbac"] = int((rbac or {}).get("port", 0))
        self.url = ""
        self.http_url = ""  # the http worker's real port, as http://127.0.0.1:PORT
        self.stream_url = ""  # iii-stream's client port, as ws://127.0.0.1:PORT

    @classmethod
    def for_project(
        cls,
        project_root: str | Path,
        *,
        line: str | None = None,
        **options: Any,
    ) -> "EngineDouble":
        """The engine a project runs: its line (from .copier-answers.yml, else the installed SDK),
        the engine workers its worker-compose.yaml or config.yaml starts, and iii-stream's
        auth_function. Without a run config, every provider runs. `options`: the constructor's
        `retry_delay`, `http_timeout`, `port`, `http_port` and `stream_port`."""
        root = Path(project_root)
        providers, auth_function, queues = run_config(root)
        return cls(
            line=line or answered_line(root),
            providers=providers,
            auth_function=auth_function,
            queues=queues,
            **options,
        )

    def start(self) -> "EngineDouble":
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._run(self._listen())
        ports = {name: f"127.0.0.1:{port.port}" for name, port in self._ports.items()}
        self.url = f"ws://127.0.0.1:{self._port}"
        self.http_url = f"http://{ports['http']}" if "http" in ports else ""
        self.stream_url = f"ws://{ports['stream']}" if "stream" in ports else ""
        self.rbac_url = f"ws://{ports['rbac']}" if "rbac" in ports else ""
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
            self._groups.clear()
            self.dead_letters.clear()
            self.fired.clear()
            self.skipped.clear()

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
        self.wait_until(lambda: set(function_ids) <= self.functions.keys(), timeout)

    def wait_for_triggers(self, *function_ids: str, timeout: float = 10.0) -> None:
        """Block until a trigger bound to each of these functions is registered."""
        self.wait_until(
            lambda: set(function_ids) <= {t["function_id"] for t in self.triggers.values()}, timeout
        )

    @property
    def functions(self) -> dict[str, Message]:
        with self._changed:
            return {k: v for w in self._workers for k, v in w.functions.items()}

    @property
    def triggers(self) -> dict[str, Message]:
        with self._changed:
            return {k: v for w in self._workers for k, v in w.triggers.items()}

    def check_registered(
        self, expected: dict[str, list[tuple[str, Any]]], timeout: float = 10
    ) -> None:
        """Fail unless each function named has exactly these (type, config) triggers."""
        check_registered(self, expected, timeout)

    def triggers_of(self, trigger_type: str) -> list[Message]:
        return [t for t in self.triggers.values() if t["trigger_type"] == trigger_type]

    def invoke(self, function_id: str, data: Any, timeout: float = 10.0) -> Any:
        """Call a worker's function as a trigger would and return its result."""
        return self._run(self._call(function_id, data, within=timeout), timeout + 1)

    def invoke_many(self, calls: list[tuple[str, Any]], timeout: float = 30.0) -> list[Any]:
        """Call many functions at once; each result, or the `InvocationFailed` it raised."""

        async def everything() -> list[Any]:
            coroutines = [self._call(f, data, within=timeout) for f, data in calls]
            return await asyncio.gather(*coroutines, return_exceptions=True)

        return self._run(everything(), timeout)

    def call(self, function_id: str, data: Any) -> Any:
        """Call a function (`state::set`, `stream::set`, a worker's) as another worker would."""
        return self._run(self._call(function_id, data))

    def _provider_of(self, trigger_type: str) -> EngineWorker | None:
        provided = self._provided.get(TRIGGER_PROVIDERS.get(trigger_type, ""), [])
        return provided[0] if provided else self._types.provided.get(trigger_type)

    # The engine's side of the connection, on its own loop.

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _listen(self) -> None:
        for name in self._port_numbers.keys() & {*self._provided, "rbac" if self.rbac else ""}:
            # Shipped only to projects that run that worker, so imported by name.
            port = importlib.import_module(f".{name}_port", __package__).Port(self)
            await port.listen(self._port_numbers[name])
            self._port_numbers[name], self._ports[name] = port.port, port
        # A short open_timeout: a client that dies mid-handshake must not hold up stop().
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            self._port,
            open_timeout=2,
            process_request=self._refuse_unknown_paths,
            max_size=64 * 2**20,  # the engine accepts 64 MiB messages
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        for port in self._ports.values():
            await port.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        # What was in flight dies with the engine (and must not outlive the loop).
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run in the background, holding a reference so the task is not collected mid-flight."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _record(self, change: Callable[[], object]) -> None:
        with self._changed:
            change()
            self._changed.notify_all()

    def _refuse_unknown_paths(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """The engine serves workers on `/`, telemetry on `/otel` and channels on
        `/ws/channels/{id}?key=...`; anything else (or a wrong channel key) is a 404."""
        url = urlsplit(request.path)
        if url.path in ("/", "/otel"):
            return None
        channel = self._channels.get(url.path.removeprefix("/ws/channels/"))
        if channel is not None and dict(parse_qsl(url.query)).get("key") == channel.key:
            return None
        return connection.respond(404, "Not Found\n")

    async def _serve(self, connection: ServerConnection) -> None:
        url = urlsplit(connection.request.path if connection.request else "/")
        if url.path == "/otel":
            await self._drain_telemetry(connection)
        elif url.path.startswith("/ws/channels/"):
            channel = self._channels.get(url.path.removeprefix("/ws/channels/"))
            if channel is not None:
                await channel.serve(connection, dict(parse_qsl(url.query)).get("dir") == "read")
        else:
            await self._serve_worker(connection)

    async def _drain_telemetry(self, connection: ServerConnection) -> None:
        """The SDK's OTEL socket: the engine ingests its spans, logs and metrics; the double
        accepts and drops them."""

        def arrive() -> None:
            self.telemetry_connections += 1

        self._record(arrive)
        with contextlib.suppress(ConnectionClosed):
            async for _ in connection:
                pass

    async def _serve_worker(self, connection: ServerConnection, session: Any = None) -> None:
        worker = Connection(connection, session=session)

        def arrive() -> None:
            self._workers.append(worker)
            self.connections_seen += 1

        self._record(arrive)
        try:
            await connection.send(frame(self._greeting(worker)))
            async for received in connection:
                try:
                    message = json.loads(received)
                except ValueError:
                    continue  # binary frames carry telemetry
                if isinstance(message, dict):  # an RBAC session's checks come first
                    await (session.receive if session else self._receive)(worker, message)
        except ConnectionClosed:
            pass
        finally:
            self._forget(worker)

    def _greeting(self, worker: Connection) -> Message:
        greeting: Message = {"type": "workerregistered", "worker_id": worker.worker_id}
        if self.rules.reattach:
            greeting["reattach_token"] = worker.reattach_token
        if self.rules.features:
            greeting["features"] = list(self.rules.features)
        return greeting

    def _forget(self, worker: Connection) -> None:
        """A closed connection: its registrations go, and calls in flight to it are stopped."""

        def leave() -> None:
            if worker not in self._workers:
                return
            self._workers.remove(worker)
            for function_id in worker.functions:
                if self._owners.get(function_id) is worker:
                    del self._owners[function_id]
            for trigger in worker.triggers.values():
                self._unregistered(trigger)
            self._types.forget(worker)
            if self._observe:
                self._observe.forget(worker)
            for provided in self._provided.values():
                for engine_worker in provided:
                    engine_worker.left(worker)

        self._record(leave)
        for future, owner in list(self._pending.values()):
            if owner is worker and not future.done():
                future.set_result({"error": stopped()})

    async def _send(self, worker: Connection, message: Message) -> None:
        with contextlib.suppress(ConnectionClosed):
            await worker.connection.send(frame(message))

    async def _receive(self, worker: Connection, message: Message) -> None:
        kind = message.get("type")
        if kind == "invocationresult":
            pending = self._pending.pop(message.get("invocation_id", ""), None)
            if pending is not None and not pending[0].done():
                pending[0].set_result(message)
        elif kind == "invokefunction":
            self._spawn(self._invoked_by(worker, message))
        elif kind == "registerfunction":
            await self._register_function(worker, message)
        elif kind == "registertrigger":
            await self._register_trigger(worker, message)
        elif kind == "unregistertrigger":
            trigger = worker.triggers.get(message["id"])
            self._record(lambda: worker.triggers.pop(message["id"], None))
            if trigger is not None:
                self._unregistered(trigger)
            self._types.unpark(worker, message["id"])  # a parked one goes too
        elif kind == "unregisterfunction":
            self._unregister_function(worker, message["id"])
        elif self._observe and kind in self._observe.handlers:
            await self._observe.handlers[kind](worker, message)
        elif kind in self._types.handlers:
            await self._types.handlers[kind](worker, message)
        elif kind == "reattach" and self.rules.reattach:
            self._reattach(worker, message)
        elif kind == "ping":
            await self._send(worker, {"type": "pong"})

    def _reattach(self, worker: Connection, message: Message) -> None:
        """A reconnecting worker retires its previous connection before replaying registrations."""
        previous = next(
            (w for w in self._workers if w.worker_id == message.get("previous_worker_id")), None
        )
        if previous is None or previous is worker:
            return
        if message.get("reattach_token") == previous.reattach_token:
            self._forget(previous)
            self._spawn(previous.connection.close())

    async def _reject(self, worker: Connection, code: str, **fields: Any) -> None:
        rejection = {"type": "registrationrejected", "code": code, **fields}
        self._record(lambda: self.registration_rejections.append(rejection))
        await self._send(worker, rejection)

    async def _register_function(self, worker: Connection, message: Message) -> None:
        function_id = message["id"]
        if message.get("invocation"):  # HTTP-invoked: iii-http-functions's, or nothing
            for external in self._provided.get("http_functions", []):
                external.register(worker, message)  # type: ignore[attr-defined]
            return
        owner = self._owners.get(function_id)
        if self.rules.registry_identity and owner is not None and owner is not worker:
            # From 0.23 one live worker owns an id in a namespace; only this registration fails.
            await self._reject(
                worker,
                "FUNCTION_NAMESPACE_CONFLICT",
                namespace=worker.namespace,
                function_id=function_id,
                owner_worker_id=owner.worker_id,
            )
            return

        def register() -> None:
            if owner is not None and owner is not worker:  # up to 0.22 the newest one takes over
                owner.functions.pop(function_id, None)
            worker.functions[function_id] = message
            self._owners[function_id] = worker

        self._record(register)
        observed = self._observe.registered(function_id) if self._observe else {}
        if self.rules.registry_identity:
            ack = {"type": "functionregistered", "id": function_id, "namespace": worker.namespace}
            ack.update(revision=1, local_dispatch=True, observers=[])
            await self._send(worker, {**ack, **observed})

    def _unregister_function(self, worker: Connection, function_id: str) -> None:
        for external in self._provided.get("http_functions", []):
            if external.unregister(worker, function_id):  # type: ignore[attr-defined]
                return

        def unregister() -> None:
            worker.functions.pop(function_id, None)
            if self._owners.get(function_id) is worker:
                del self._owners[function_id]

        self._record(unregister)

    async def _register_worker(self, worker: Connection, metadata: Any) -> None:
        metadata = metadata if isinstance(metadata, dict) else {}
        name, namespace = metadata.get("name"), metadata.get("namespace") or "default"
        holder = next(
            (
                w
                for w in self._workers
                if w is not worker and (w.name, w.namespace) == (name, namespace)
            ),
            None,
        )
        if self.rules.registry_identity and name and holder is not None:
            # A second live worker with the same name: fatal, the engine closes the connection.
            await self._reject(
                worker,
                "WORKER_NAMESPACE_CONFLICT",
                namespace=namespace,
                worker_name=name,
                owner_worker_id=holder.worker_id,
            )
            self._forget(worker)
            await worker.connection.close()
            return
        worker.name, worker.namespace = name, namespace
        self._record(lambda: self.workers.append(metadata))

    async def _register_trigger(self, worker: Connection, message: Message) -> None:
        trigger_type = message.get("trigger_type", "")
        provider = self._provider_of(trigger_type)
        if provider is None:
            self._types.park(worker, message)
            return
        error = provider.refusal(message)
        if error is None:
            self._record(lambda: worker.triggers.__setitem__(message["id"], message))
            provider.registered(message)
            return
        reply = {
            "type": "triggerregistrationresult",
            "id": message["id"],
            "trigger_type": trigger_type,
            "function_id": message.get("function_id"),
            "error": {"code": "trigger_registration_failed", "message": error},
        }
        self._record(lambda: self.rejected.append(reply))
        await self._send(worker, reply)

    def _unregistered(self, trigger: Message) -> None:
        provider = self._provider_of(trigger.get("trigger_type", ""))
        if provider is not None:
            provider.unregistered(trigger)

    # Calls: a worker's function, a built-in, or nothing.

    async def _invoked_by(self, worker: Connection, message: Message) -> None:
        """A worker's `invokefunction`: routed as the engine routes it, answered unless void."""
        if self._observe:  # an owner's `obs.call` carries its observer's metadata
            message = self._observe.inbound(message)
        function_id, data = message.get("function_id", ""), message.get("data")
        action = message.get("action")
        if not isinstance(action, dict):
            action = {}
        if function_id == "engine::workers::register":
            await self._register_worker(worker, data)
            reply: Message = {"result": {"success": True}}
        elif action.get("type") == "enqueue":
            reply = self._enqueue(function_id, data, action.get("queue"))
        else:
            # The engine names the caller in an object payload. Its own workers' functions drop
            # the field (serde), so `calls` keeps what the worker sent them.
            if isinstance(data, dict) and function_id not in self._engine_functions:
                data = {**data, "_caller_worker_id": worker.worker_id}
            started = time.time()
            try:
                reply = {
                    "result": await self._call(function_id, data, message.get("metadata"), None)
                }
            except InvocationFailed as failed:
                reply = {"error": failed.error}
            if self._observe:
                self._observe.completed(worker, message, reply, started)
        invocation_id = message.get("invocation_id")
        if invocation_id and action.get("type") != "void":
            answer = {
                "type": "invocationresult",
                "invocation_id": invocation_id,
                "function_id": function_id,
            }
            await self._send(worker, {**answer, **reply})

    def _not_found(self, function_id: str) -> Message:
        where = self.rules.not_found_suffix
        return {"code": "function_not_found", "message": f"Function {function_id} not found{where}"}

    def _enqueue(self, function_id: str, data: Any, queue: Any) -> Message:
        """`TriggerAction.Enqueue`: through the queue worker where the line's queue serves it."""
        provided = self._provided.get("queue", [])
        if not provided or not self.rules.enqueue_served:
            underlying = self._not_found("engine::queue::enqueue")["message"]
            problem = self.rules.enqueue_without_queue.format(underlying=underlying)
            return {"error": {"code": "enqueue_error", "message": problem}}
        queue_worker: Any = provided[0]
        receipt: Message = queue_worker.enqueue(function_id, data, queue)
        return receipt

    async def _call(
        self, function_id: str, data: Any, metadata: Any = None, within: float | None = 10.0
    ) -> Any:
        """Invoke a function wherever it lives and wait (up to `within` seconds) for its result."""
        owner = self._owners.get(function_id)
        if owner is not None:
            return await self._invoke(owner, function_id, data, metadata, within)
        builtin = self._builtins.get(function_id)
        if builtin is None:
            raise InvocationFailed(self._not_found(function_id))
        self._record(lambda: self.calls.append((function_id, data)))
        if not isinstance(data, dict):
            raise InvocationFailed(self._undecodable(function_id, "expected an object"))
        try:
            return await builtin(data)
        except (KeyError, TypeError, AttributeError) as missing:
            raise InvocationFailed(self._undecodable(function_id, str(missing))) from None

    @staticmethod
    def _undecodable(function_id: str, why: str) -> Message:
        message = f"Failed to deserialize input for {function_id}: {why}"
        return {"code": "deserialization_error", "message": message}

    async def _invoke(
        self, owner: Connection, function_id: str, data: Any, metadata: Any, within: float | None
    ) -> Any:
        invocation_id = str(uuid.uuid4())
        future: asyncio.Future[Message] = self._loop.create_future()
        self._pending[invocation_id] = (future, owner)
        message = {
            "type": "invokefunction",
            "invocation_id": invocation_id,
            "function_id": owner.session.local_id(function_id) if owner.session else function_id,
            "data": data,
        }
        if metadata is not None:
            message["metadata"] = metadata
        try:
            await owner.connection.send(frame(message))
            reply = await bounded(future, within)
        except ConnectionClosed:
            reply = {"error": stopped()}
        finally:
            self._pending.pop(invocation_id, None)
        if reply.get("error"):
            raise InvocationFailed(reply["error"])
        return reply.get("result")

    def _builtin_table(self) -> dict[str, Builtin]:
        """The functions the engine and its running workers serve."""
        table = EngineFunctions(self).functions()
        for provided in self._provided.values():
            for worker in provided:
                table.update(worker.functions())
        return {**table, **(self._observe.functions() if self._observe else {})}

    # Trigger firings.

    def _sidecar(self, trigger: Message) -> Any:
        """The trigger's registration metadata, delivered with each firing (0.21.3 and later)."""
        return trigger.get("metadata") if self.rules.trigger_metadata else None

    async def _passes(self, trigger: Message, event: Any, within: float | None = 10.0) -> bool:
        """The trigger's condition: only a JSON `false` skips (a failing one raises)."""
        config = trigger.get("config")
        condition = config.get("condition_function_id") if isinstance(config, dict) else None
        return not condition or await self._call(condition, event, within=within) is not False

    async def _fire(
        self, trigger: Message, event: Any, metadata: Any = None, *, conditional: bool = True
    ) -> None:
        """One firing: the condition, then the handler. The engine logs a failure and goes on."""
        with contextlib.suppress(Exception):
            if conditional and not await self._passes(trigger, event):
                self._record(partial(self.skipped.append, (trigger["function_id"], event)))
                return
            await self._call(trigger["function_id"], event, metadata)
            self._record(partial(self.fired.append, (trigger["function_id"], event)))

    # Channels.

    def _open_channel(self) -> Channel:
        channel = Channel()
        self._channels[channel.id] = channel
        return channel
