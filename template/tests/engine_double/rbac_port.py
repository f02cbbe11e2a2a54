# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The worker manager's RBAC listener: a second worker WebSocket, configured like an
`iii-worker-manager` entry of the engine's config (`port`, `middleware_function_id` and the
`rbac` block). Each connection asks `rbac.auth_function_id` first (refused with an `error` frame
when it fails); its answer gives the session what it may call besides `expose_functions`, what
it may register, a function-id prefix and the context that the middleware and the registration
hooks get. Past those checks a session is a worker connection like any other (core). The
template's docs/engine-double.md names the engine source."""

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from .protocol import Connection, InvocationFailed, Message, frame
from .stream_port import query_lists

# Callable from any session, whatever its grants (unless the auth function forbids them).
INFRASTRUCTURE_FUNCTIONS = frozenset(
    {"engine::channels::create", "engine::workers::register"}
    | {f"engine::log::{level}" for level in ("info", "warn", "error", "debug", "trace")}
    | {f"engine::baggage::{name}" for name in ("get", "set", "get_all")}
)


def wildcard(pattern: str, value: str) -> bool:
    """`WildcardPattern::matches`: `*` matches any run of characters."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == value
    position = 0
    for i, part in enumerate(parts):
        if not part:
            continue
        found = value.find(part, position)
        if found < 0 or (i == 0 and found != 0):
            return False
        position = found + len(part)
    return not parts[-1] or value.endswith(parts[-1])


def _match_pattern(text: str) -> str | None:
    """The pattern of a `match("...")` (or `match('...')`) string."""
    text = text.strip()
    quoted = text[6:7] in ("'", '"') and text.endswith(text[6:7] + ")")
    return text[7:-2] if text.startswith("match(") and quoted and len(text) >= 9 else None


@dataclass(frozen=True)
class FunctionFilter:
    """One `expose_functions` entry: `match("pattern")` on the id, or `{metadata: {...}}`, each
    key of which the function's metadata must have (a `match(...)` string value is a pattern)."""

    pattern: str | None = None
    metadata: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def parse(cls, entry: Any) -> "FunctionFilter":
        pattern = _match_pattern(entry) if isinstance(entry, str) else None
        if pattern is not None:
            return cls(pattern=pattern)
        wanted = entry.get("metadata") if isinstance(entry, dict) else None
        if not isinstance(wanted, dict) or not wanted:
            raise ValueError(
                f'an expose_functions entry is match("pattern") or metadata: {entry!r}'
            )
        return cls(metadata=tuple(wanted.items()))

    def matches(self, function_id: str, metadata: Any) -> bool:
        if self.pattern is not None:
            return wildcard(self.pattern, function_id)
        if not isinstance(metadata, dict):
            return False
        return all(
            key in metadata and _value_matches(want, metadata[key]) for key, want in self.metadata
        )


def _value_matches(wanted: Any, value: Any) -> bool:
    pattern = _match_pattern(wanted) if isinstance(wanted, str) else None
    if pattern is None:  # serde_json's Value equality: 1 is not 1.0 nor true
        return json.dumps(wanted, sort_keys=True) == json.dumps(value, sort_keys=True)
    return isinstance(value, str) and wildcard(pattern, value)


def _auth_result(value: Any) -> Message:
    """The auth function's answer as serde reads `AuthResult` (ValueError when it cannot)."""
    if not isinstance(value, dict):
        raise ValueError(f"invalid type: {type(value).__name__}, expected struct AuthResult")
    kinds: dict[str, tuple[Any, ...]] = {
        "allowed_functions": (list, []), "forbidden_functions": (list, []),
        "allowed_trigger_types": (list, None), "allow_trigger_type_registration": (bool, False),
        "allow_function_registration": (bool, True), "function_registration_prefix": (str, None),
    }  # fmt: skip
    result: Message = {"context": value.get("context", {})}
    for name, (kind, default) in kinds.items():
        got = value.get(name, default)
        if got is None and default is None:
            result[name] = None
        elif not isinstance(got, kind) or (
            kind is list and not all(isinstance(s, str) for s in got)
        ):
            raise ValueError(f"invalid type for {name}: {got!r}")
        else:
            result[name] = got
    return result


class Session:
    """What one RBAC connection may do, from the auth function's answer."""

    def __init__(self, port: "Port", auth: Message) -> None:
        self.port, self.engine = port, port.engine
        self.allowed: list[str] = auth["allowed_functions"]
        self.forbidden: list[str] = auth["forbidden_functions"]
        self.trigger_types: list[str] | None = auth["allowed_trigger_types"]
        self.may_register_trigger_types: bool = auth["allow_trigger_type_registration"]
        self.may_register_functions: bool = auth["allow_function_registration"]
        self.prefix: str | None = auth["function_registration_prefix"]
        self.context: Any = auth["context"]

    def allows(self, function_id: str) -> bool:
        """`is_function_allowed`: forbidden, then allowed, infrastructure, `expose_functions`."""
        if function_id in self.forbidden:
            return False
        if function_id in self.allowed or function_id in INFRASTRUCTURE_FUNCTIONS:
            return True
        if self.port.rbac is None:
            return True
        metadata = self.engine.functions.get(function_id, {}).get("metadata")
        return any(f.matches(function_id, metadata) for f in self.port.filters)

    def resolve(self, function_id: str) -> str:
        """The id a function of this session is registered (and unregistered) under."""
        return f"{self.prefix}::{function_id}" if self.prefix else function_id

    def local_id(self, function_id: str) -> str:
        """The id the worker knows its function by: the engine strips the session's prefix when
        it invokes it."""
        return function_id.removeprefix(f"{self.prefix}::") if self.prefix else function_id

    async def receive(self, worker: Connection, message: Message) -> None:
        """A frame from the session: invocations are checked, registrations go through their
        hooks (a denied one is dropped, as the engine only logs it), then core takes it."""
        kind = message.get("type")
        if kind == "invokefunction":
            await self._invoke(worker, message)
            return
        checked: Message | None = message
        if kind == "registerfunction":
            checked = await self._function(message)
        elif kind == "registertriggertype":
            checked = await self._trigger_type(message)
        elif kind == "registertrigger":
            checked = await self._trigger(message)
        elif kind == "unregisterfunction":
            checked = {**message, "id": self.resolve(str(message.get("id")))}
        if checked is not None:
            await self.engine._receive(worker, checked)

    async def _hook(self, name: str, data: Message) -> Message | None:
        """The registration hook's answer: None (denied) when it fails or answers no object."""
        function_id = (self.port.rbac or {}).get(name)
        if not function_id:
            return {}
        try:
            result = await self.engine._call(
                function_id, {**data, "context": self.context}, None, None
            )
        except InvocationFailed:
            return None
        return result if isinstance(result, dict) else None

    async def _function(self, message: Message) -> Message | None:
        if not self.may_register_functions:
            return None
        function_id, description = message["id"], message.get("description")
        fields = {"function_id": function_id, "description": description}
        mapped = await self._hook(
            "on_function_registration_function_id", {**fields, "metadata": message.get("metadata")}
        )
        if mapped is None:
            return None
        function_id = _text(mapped, "function_id", function_id)
        description = _text(mapped, "description", description)
        changed = {"metadata": mapped["metadata"]} if "metadata" in mapped else {}
        return {**message, **changed, "id": self.resolve(function_id), "description": description}

    async def _trigger_type(self, message: Message) -> Message | None:
        if not self.may_register_trigger_types:
            return None
        trigger_type, description = message.get("id"), message.get("description")
        fields = {"trigger_type_id": trigger_type, "description": description}
        mapped = await self._hook("on_trigger_type_registration_function_id", fields)
        if mapped is None:
            return None
        trigger_type = _text(mapped, "trigger_type_id", trigger_type)
        return {
            **message,
            "id": trigger_type,
            "description": _text(mapped, "description", description),
        }

    async def _trigger(self, message: Message) -> Message | None:
        trigger_type = message.get("trigger_type")
        if self.trigger_types is not None and trigger_type not in self.trigger_types:
            return None
        fields = {
            "trigger_id": message.get("id"), "trigger_type": trigger_type,
            "function_id": message.get("function_id"), "config": message.get("config"),
            "metadata": message.get("metadata"),
        }  # fmt: skip
        mapped = await self._hook("on_trigger_registration_function_id", fields)
        if mapped is None:
            return None
        return {
            **message,
            "id": _text(mapped, "trigger_id", fields["trigger_id"]),
            "trigger_type": _text(mapped, "trigger_type", trigger_type),
            "function_id": self.resolve(_text(mapped, "function_id", fields["function_id"])),
            "config": mapped["config"] if "config" in mapped else fields["config"],
        }

    async def _invoke(self, worker: Connection, message: Message) -> None:
        """A call: FORBIDDEN unless allowed; else through the middleware (not for `engine::*`),
        or to core, with `engine::functions::list` cut to what the session may call."""
        function_id = str(message.get("function_id", ""))
        middleware = self.port.config.get("middleware_function_id")
        if not self.allows(function_id):
            remediation = (
                "remove from rbac.forbidden_functions"
                if function_id in self.forbidden
                else "add to rbac.expose_functions"
            )
            problem = f"function '{function_id}' not allowed ({remediation})"
            await self._answer(
                worker, message, {"error": {"code": "FORBIDDEN", "message": problem}}
            )
        elif middleware and not function_id.startswith("engine::"):
            data = {
                "function_id": function_id, "payload": message.get("data"),
                "action": message.get("action"), "context": self.context,
            }  # fmt: skip
            self.engine._spawn(self._call(worker, message, middleware, data))
        elif function_id == "engine::functions::list":
            self.engine._spawn(self._call(worker, message, function_id, message.get("data")))
        else:
            await self.engine._receive(worker, message)

    async def _call(
        self, worker: Connection, message: Message, function_id: str, data: Any
    ) -> None:
        try:
            result = await self.engine._call(function_id, data, message.get("metadata"), None)
        except InvocationFailed as failed:
            await self._answer(worker, message, {"error": failed.error})
            return
        if function_id == "engine::functions::list" and isinstance(result, dict):
            listed = result.get("functions")
            if isinstance(listed, list):
                visible = [
                    f
                    for f in listed
                    if not isinstance(f, dict) or self.allows(str(f.get("function_id")))
                ]
                result = {**result, "functions": visible}
        await self._answer(worker, message, {"result": result})

    async def _answer(self, worker: Connection, message: Message, reply: Message) -> None:
        """An `invocationresult` for the call, sent even for a void one (as the engine does)."""
        answer = {
            "type": "invocationresult",
            "invocation_id": message.get("invocation_id") or str(uuid.uuid4()),
            "function_id": message.get("function_id"),
        }
        await self.engine._send(worker, {**answer, **reply})


def _text(mapped: Message, key: str, default: Any) -> Any:
    value = mapped.get(key)
    return value if isinstance(value, str) else default


class Port:
    """The RBAC worker port on 127.0.0.1:`port` (0: any free one): `/` for workers, `/otel` for
    telemetry (both behind the auth function) and channel sockets, as on the main port."""

    def __init__(self, engine: Any) -> None:  # an EngineDouble
        self.engine = engine
        self.config: Message = dict(engine.rbac or {})
        self.rbac: Message | None = self.config.get("rbac")
        self.filters = [
            FunctionFilter.parse(f) for f in (self.rbac or {}).get("expose_functions") or []
        ]
        self.port = 0
        self._server: Server | None = None

    async def listen(self, port: int) -> None:
        self._server = await serve(
            self._serve, "127.0.0.1", port, open_timeout=2, max_size=64 * 2**20,
            process_request=self.engine._refuse_unknown_paths,
        )  # fmt: skip
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, connection: ServerConnection) -> None:
        url = urlsplit(connection.request.path if connection.request else "/")
        if url.path.startswith("/ws/channels/"):
            await self.engine._serve(connection)
            return
        session = await self.authenticate(connection, url.query)
        if session is None:
            return
        if url.path == "/otel":
            await self.engine._drain_telemetry(connection)
        else:
            await self.engine._serve_worker(connection, session)

    async def authenticate(self, connection: ServerConnection, query: str) -> Session | None:
        """`Session::authenticate` after the upgrade: the auth function's answer, or an `error`
        frame (`AUTH_ERROR`) and the connection closed."""
        function_id = (self.rbac or {}).get("auth_function_id")
        if not function_id:
            return Session(self, _auth_result({"allow_trigger_type_registration": True}))
        request = connection.request
        headers = {
            name.lower(): value
            for name, value in (request.headers.raw_items() if request else [])
            if all(c == "\t" or " " <= c <= "~" for c in value)  # HeaderValue::to_str
        }
        data = {
            "headers": headers,
            "query_params": query_lists(query),
            "ip_address": str(connection.remote_address[0]),
        }
        try:
            answer = await self.engine._call(function_id, data, None, None)
            if answer is None:
                raise ValueError("auth function returned no result")
            return Session(self, _auth_result(answer))
        except InvocationFailed as failed:
            problem = str(failed.error.get("message"))
        except ValueError as wrong:
            problem = str(wrong)
        error = {"type": "error", "error": {"code": "AUTH_ERROR", "message": problem}}
        try:
            await connection.send(frame(error))
            await connection.close()
        except ConnectionClosed:
            pass
        return None
