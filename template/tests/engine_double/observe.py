# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""Observers (`iii.observe`, the `observe.v1` feature of the 0.25 line), on the routed path: the
engine evaluates each observer of a function when a call to it through the engine finishes, and
activates the observer's target with the envelope.

No engine source for observers is public; the SDK 0.25 side (`observe_wire.py`, `iii.py`'s
`observe()` and the SDK's e2e tests against the engine) is the spec. Owner delivery and the
owner's own view (`observeradded`, `invocationsobserved` reports from local dispatch) are not
played here."""

import time
import uuid
from typing import TYPE_CHECKING, Any

from .protocol import Builtin, Connection, Message

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .core import EngineDouble

# An activation deeper than this many observe hops is dropped (`dropped.LOOP_GUARD`).
MAX_DEPTH = 8
DEFAULT_CAPTURE = ("input", "output", "caller")
GRACE_SECONDS = 30.0  # how long the observers of a worker that left wait for it to come back


class Observer:
    """One observer, as the engine keeps it for the worker that made it."""

    def __init__(self, worker: Connection, message: Message) -> None:
        self.worker: Connection | None = worker
        self.message = message
        self.id: str = message["id"]
        source, target = message.get("source") or {}, message.get("target") or {}
        self.function_id: str = source.get("function_id", "")
        self.target: str = target.get("function_id", "")
        self.filters: Any = source.get("filters") or {}
        self.matches: Any = None  # the compiled filters' test, once they are found valid
        self.capture = source.get("capture") or list(DEFAULT_CAPTURE)
        self.on = source.get("on") or "success"
        self.deliver = source.get("deliver") or "envelope"
        self.args = source.get("args") or {}
        self.state = "pending"
        self.acked = False  # the source's owner took it (`observerack`)
        self.fires = 0
        self.dropped: dict[str, int] = {}

    def wire(self) -> Message:
        """As the source's owner sees it (`observeradded.observer`)."""
        fields = {"id": self.id, "args": self.args, "filters": self.filters, "target": self.target}
        return {**fields, "capture": self.capture, "on": self.on}

    def info(self) -> Message:
        return {
            **{k: v for k, v in self.message.items() if k != "type"},
            "filters": self.filters,
            "state": self.state,
            "fires": self.fires,
            "dropped": dict(self.dropped),
        }


def args_problem(schema: Any, args: Message) -> str | None:
    """The few JSON Schema keywords an owner's `args_format` uses (required, properties'
    types, additionalProperties: false)."""
    if not isinstance(schema, dict):
        return None
    missing = [k for k in schema.get("required", []) if k not in args]
    if missing:
        return f"missing {', '.join(missing)}"
    properties = schema.get("properties") or {}
    if schema.get("additionalProperties") is False and set(args) - set(properties):
        return f"unexpected {', '.join(sorted(set(args) - set(properties)))}"
    types = {"string": str, "object": dict, "array": list, "boolean": bool, "integer": int}
    for key, value in args.items():
        wanted = types.get((properties.get(key) or {}).get("type", ""))
        if wanted and not isinstance(value, wanted):
            return f"{key}: expected {properties[key]['type']}"
    return None


def normal_form(filters: Message) -> Message:
    """Filters as owners are sent them: `{"$and": [{path: operators}, ...]}` (`{}` matches
    everything)."""
    if not filters or set(filters) == {"$and"}:
        return filters
    return {"$and": [{path: ops} for path, ops in filters.items()]}


class Observers:
    """Every observer: the frames that make and end them, the source owners' acks and reports,
    and the activations of their targets."""

    def __init__(self, engine: "EngineDouble") -> None:
        self.engine = engine
        self.observers: dict[str, Observer] = {}
        self.revisions: dict[str, int] = {}  # function id -> its observer set's revision
        self.handlers: dict[str, Callable[[Connection, Message], Awaitable[None]]] = {
            "observe": self._observe,
            "unobserve": self._unobserve,
            "observerack": self._ack,
            "invocationsobserved": self._reported,
        }

    def functions(self) -> dict[str, Builtin]:
        return {"engine::observers::get": self._get}

    async def _get(self, data: Message) -> Any:
        observer = self.observers.get(data["id"])
        return {"observer": observer.info() if observer else None}

    def _descriptor(self, function_id: str) -> Message:
        owner = self.engine._owners.get(function_id)
        registered = owner.functions.get(function_id, {}) if owner else {}
        return registered.get("observe") or {}

    def _refusal(self, observer: Observer) -> tuple[str, str] | None:
        source = observer.message.get("source") or {}
        if observer.function_id == observer.target:
            return "SELF_TARGET", "an observer cannot target the function it observes"
        descriptor = self._descriptor(observer.function_id)
        if descriptor.get("delivery") == "owner":
            problem = args_problem(descriptor.get("args_format"), observer.args)
            if problem:
                return "INVALID_ARGS", problem
        elif source.get("args") is not None:
            return "INVALID_ARGS", f"{observer.function_id} takes no args"
        # The SDK's iii.filter implements the engine's filter language (filters.md), shared
        # conformance fixtures and all.
        from iii.filter import FilterError, compile_filter

        try:
            compiled = compile_filter(observer.filters)
        except FilterError as bad:
            return "INVALID_FILTER", str(bad)
        observer.filters, observer.matches = normal_form(compiled.source), compiled.matches
        return None

    def _tell_owner(self, observer: Observer, kind: str) -> None:
        """`observeradded` / `observerremoved` to the source's owner, one revision on."""
        owner = self.engine._owners.get(observer.function_id)
        if owner is None:
            return
        revision = self.revisions.get(observer.function_id, 1) + 1
        self.revisions[observer.function_id] = revision
        message: Message = {"type": kind, "function_id": observer.function_id}
        message.update(namespace=owner.namespace, revision=revision)
        if kind == "observeradded":
            message["observer"] = observer.wire()
        else:
            message["id"] = observer.id
        self.engine._spawn(self.engine._send(owner, message))

    def _state(self, observer: Observer) -> str:
        ready = observer.acked and observer.target in self.engine._owners
        return "active" if ready else "pending"

    def _changed(self, observer: Observer, state: str, reason: Message | None = None) -> None:
        observer.state = state
        if observer.worker is None:
            return
        changed: Message = {"type": "observerstatechanged", "id": observer.id, "state": state}
        if reason is not None:
            changed.update(reason=reason, fires=observer.fires)
        self.engine._spawn(self.engine._send(observer.worker, changed))

    async def _observe(self, worker: Connection, message: Message) -> None:
        """`observe` (or its replay): `observeresult` with the observer's state."""
        observer = Observer(worker, message)
        reply: Message = {"type": "observeresult", "id": observer.id}
        refused = self._refusal(observer)
        if refused:
            self.observers.pop(observer.id, None)
            code, why = refused
            await self.engine._send(worker, {**reply, "state": "error", "error": _error(code, why)})
            return
        previous = self.observers.get(observer.id)
        self.observers[observer.id] = observer
        if previous is not None:  # a replay: the observer as it was, on the new connection
            observer.fires, observer.dropped, observer.acked = (
                previous.fires,
                previous.dropped,
                previous.acked,
            )
        else:
            self._tell_owner(observer, "observeradded")
            expires = message.get("expires_in_ms")
            if isinstance(expires, int):
                self.engine._loop.call_later(expires / 1000, self._expire, observer.id)
        observer.state = self._state(observer)
        await self.engine._send(worker, {**reply, "state": observer.state})

    async def _unobserve(self, worker: Connection, message: Message) -> None:
        observer = self.observers.get(message.get("id", ""))
        if observer is not None and observer.worker is worker:
            del self.observers[observer.id]
            self._tell_owner(observer, "observerremoved")

    async def _ack(self, worker: Connection, message: Message) -> None:
        """The source's owner took the observer (its hook returned) or refused it."""
        observer = self.observers.get(message.get("id", ""))
        if observer is None or observer.function_id != message.get("function_id"):
            return
        error = message.get("error")
        if isinstance(error, dict):
            del self.observers[observer.id]
            self._changed(
                observer, "error", _error(error.get("code", ""), error.get("message", ""))
            )
            return
        observer.acked = True
        if self._state(observer) != observer.state:
            self._changed(observer, self._state(observer))

    def _expire(self, observer_id: str) -> None:
        observer = self.observers.get(observer_id)
        if observer is not None:
            self._end(observer, "EXPIRED", "the observer's expires_in_ms ran out")

    def _end(self, observer: Observer, code: str, why: str) -> None:
        self.observers.pop(observer.id, None)
        self._tell_owner(observer, "observerremoved")
        self._changed(observer, "disposed", _error(code, why))

    def registered(self, function_id: str) -> Message:
        """A function arrived: the observers waiting for it as their target may become active;
        those of it as their source go to it with its `functionregistered`."""
        for observer in list(self.observers.values()):
            if observer.target == function_id and self._state(observer) != observer.state:
                self._changed(observer, self._state(observer))
        revision = self.revisions.setdefault(function_id, 1)
        mine = [o.wire() for o in self.observers.values() if o.function_id == function_id]
        return {"revision": revision, "observers": mine}

    def forget(self, worker: Connection) -> None:
        """A worker's connection closed: its observers wait the grace period for its replay."""
        for observer in list(self.observers.values()):
            if observer.worker is worker:
                observer.worker = None
                self.engine._loop.call_later(GRACE_SECONDS, self._orphaned, observer)

    def _orphaned(self, observer: Observer) -> None:
        if observer.worker is None and self.observers.get(observer.id) is observer:
            del self.observers[observer.id]
            self._tell_owner(observer, "observerremoved")

    def completed(self, worker: Connection, call: Message, reply: Message, started: float) -> None:
        """A call through the engine to a worker's function finished: its observers see it
        (an owner-delivered function's observers see only what its owner emits)."""
        function_id = call.get("function_id", "")
        if function_id not in self.engine._owners:
            return
        if self._descriptor(function_id).get("delivery") == "owner":
            return
        failed = bool(reply.get("error"))
        seen: Message = {"input": call.get("data"), "caller": _caller(call.get("caller"), worker)}
        if failed:
            seen["error"] = reply["error"]
        else:
            seen["output"] = reply.get("result")
        if call.get("metadata") is not None:
            seen["metadata"] = call["metadata"]
        invocation = {
            "function_id": function_id,
            "namespace": worker.namespace,
            "status": "error" if failed else "success",
            "invocation_id": call.get("invocation_id") or str(uuid.uuid4()),
            "started_at_ms": int(started * 1000),
            "duration_ms": round((time.time() - started) * 1000, 3),
        }
        for observer in list(self.observers.values()):
            if observer.function_id != function_id or observer.state != "active":
                continue
            if observer.on != "complete" and observer.on != invocation["status"]:
                continue
            if observer.matches is not None and observer.matches(seen):
                self._activate(observer, invocation, seen, call.get("observe_depth"))

    async def _reported(self, worker: Connection, message: Message) -> None:
        """`invocationsobserved`: the owner's local calls (and emits) its observers matched."""
        for item in message.get("items") or []:
            seen = {k: item[k] for k in ("input", "output", "error", "metadata") if k in item}
            seen["caller"] = _caller(item.get("caller"), worker)
            invocation = {
                "function_id": item.get("function_id"),
                "namespace": item.get("namespace") or worker.namespace,
                "status": item.get("status", "success"),
                "invocation_id": item.get("invocation_id"),
                "started_at_ms": int(item.get("started_at_ms") or 0),
                "duration_ms": item.get("duration_ms", 0.0),
            }
            for observer_id in item.get("matched") or []:
                observer = self.observers.get(observer_id)
                if observer is not None and observer.state == "active":
                    self._activate(observer, invocation, seen, item.get("observe_depth"))

    def _activate(self, observer: Observer, invocation: Message, seen: Message, depth: Any) -> None:
        depth = (depth if isinstance(depth, int) and depth > 0 else 0) + 1
        if depth > MAX_DEPTH:
            observer.dropped["LOOP_GUARD"] = observer.dropped.get("LOOP_GUARD", 0) + 1
            return
        target = self.engine._owners.get(observer.target)
        if target is None:
            return
        activation_id = str(uuid.uuid4())
        envelope = {"observer_id": observer.id, "activation_id": activation_id, **invocation}
        envelope.update({k: seen[k] for k in observer.capture if k in seen})
        message: Message = {
            "type": "invokefunction",
            "invocation_id": str(uuid.uuid4()),
            "function_id": observer.target,
            "data": seen.get("input") if observer.deliver == "input" else envelope,
            "caller": {
                "worker_name": "iii-engine",
                "function_id": invocation["function_id"],
                "invocation_id": invocation["invocation_id"],
            },
            "activation": {"observer_id": observer.id, "activation_id": activation_id},
            "observe_depth": depth,
        }
        if observer.message.get("metadata") is not None:
            message["metadata"] = observer.message["metadata"]
        observer.fires += 1
        self.engine._spawn(self.engine._send(target, message))
        if observer.fires == observer.message.get("max_fires"):
            self._end(observer, "MAX_FIRES", "the observer fired max_fires times")

    def inbound(self, call: Message) -> Message:
        """An owner's `obs.call` (an `invokefunction` with `activation`): the target gets the
        observer's metadata."""
        activation = call.get("activation")
        observer_id = activation.get("observer_id") if isinstance(activation, dict) else None
        observer = self.observers.get(observer_id or "")
        if observer is None or observer.message.get("metadata") is None:
            return call
        return {**call, "metadata": observer.message["metadata"]}


def _caller(caller: Any, worker: Connection) -> Message:
    """The caller a call asserted (without its parent), named by the worker it came from."""
    caller = {k: v for k, v in (caller or {}).items() if k != "parent"}
    return {**caller, "worker_id": worker.worker_id, "worker_name": worker.name or worker.worker_id}


def _error(code: str, message: str) -> Message:
    return {"code": code, "message": message}
