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
OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"})
OPERATORS |= {"$prefix"}


class Observer:
    """One observer, as the engine keeps it for the worker that made it."""

    def __init__(self, worker: Connection, message: Message) -> None:
        self.worker = worker
        self.message = message
        self.id: str = message["id"]
        source, target = message.get("source") or {}, message.get("target") or {}
        self.function_id: str = source.get("function_id", "")
        self.target: str = target.get("function_id", "")
        self.filters = normal_form(source.get("filters"))
        self.capture = source.get("capture") or list(DEFAULT_CAPTURE)
        self.on = source.get("on") or "success"
        self.deliver = source.get("deliver") or "envelope"
        self.state = "pending"
        self.fires = 0
        self.dropped: dict[str, int] = {}

    def info(self) -> Message:
        return {
            **{k: v for k, v in self.message.items() if k != "type"},
            "filters": self.filters,
            "state": self.state,
            "fires": self.fires,
            "dropped": dict(self.dropped),
        }


def normal_form(filters: Any) -> Message:
    """Filters as `{"$and": [{path: operators}, ...]}` (an empty object matches everything)."""
    if not filters:
        return {}
    if isinstance(filters, dict) and set(filters) == {"$and"}:
        return filters
    return {"$and": [{path: ops} for path, ops in filters.items()]}


def invalid_filter(filters: Any) -> str | None:
    if filters is None:
        return None
    if not isinstance(filters, dict):
        return "filters must be an object"
    for clause in normal_form(filters).get("$and", []):
        for path, ops in clause.items():
            if not isinstance(ops, dict) or not ops or not set(ops) <= OPERATORS:
                return f"{path}: expected an object of operators ({', '.join(sorted(OPERATORS))})"
    return None


def lookup(document: Any, path: str) -> tuple[bool, Any]:
    for part in path.split("."):
        if not isinstance(document, dict) or part not in document:
            return False, None
        document = document[part]
    return True, document


def holds(op: str, found: bool, value: Any, operand: Any) -> bool:
    if op == "$exists":
        return found == bool(operand)
    if op == "$ne":
        return not found or value != operand
    if op == "$nin":
        return not found or value not in operand
    if not found:
        return False
    if op == "$eq":
        return bool(value == operand)
    if op == "$in":
        return value in operand
    if op == "$prefix":
        return isinstance(value, str) and value.startswith(operand)
    try:
        compare = {"$gt": value > operand, "$gte": value >= operand}
        compare.update({"$lt": value < operand, "$lte": value <= operand})
    except TypeError:
        return False
    return compare[op]


def matches(filters: Message, document: Message) -> bool:
    for clause in filters.get("$and", []):
        for path, ops in clause.items():
            found, value = lookup(document, path)
            if not all(holds(op, found, value, operand) for op, operand in ops.items()):
                return False
    return True


class Observers:
    """Every observer, the frames that make and end them and the calls that activate them."""

    def __init__(self, engine: "EngineDouble") -> None:
        self.engine = engine
        self.observers: dict[str, Observer] = {}
        self.handlers: dict[str, Callable[[Connection, Message], Awaitable[None]]] = {
            "observe": self._observe,
            "unobserve": self._unobserve,
        }

    def functions(self) -> dict[str, Builtin]:
        return {"engine::observers::get": self._get}

    async def _get(self, data: Message) -> Any:
        observer = self.observers.get(data["id"])
        return {"observer": observer.info() if observer else None}

    def _refusal(self, worker: Connection, observer: Observer) -> tuple[str, str] | None:
        source = observer.message.get("source") or {}
        if observer.function_id == observer.target:
            return "SELF_TARGET", "an observer cannot target the function it observes"
        if source.get("args") is not None:
            owner = self.engine._owners.get(observer.function_id)
            registered = owner.functions.get(observer.function_id, {}) if owner else {}
            if (registered.get("observe") or {}).get("delivery") != "owner":
                return "INVALID_ARGS", f"{observer.function_id} takes no args"
        problem = invalid_filter(source.get("filters"))
        if problem:
            return "INVALID_FILTER", problem
        return None

    async def _observe(self, worker: Connection, message: Message) -> None:
        """`observe` (or its replay): `observeresult` with the observer's state."""
        observer = Observer(worker, message)
        reply: Message = {"type": "observeresult", "id": observer.id}
        refused = self._refusal(worker, observer)
        if refused:
            self.observers.pop(observer.id, None)
            code, why = refused
            await self.engine._send(worker, {**reply, "state": "error", "error": _error(code, why)})
            return
        previous = self.observers.get(observer.id)
        if previous is not None:
            observer.fires, observer.dropped = previous.fires, previous.dropped
        self.observers[observer.id] = observer
        if observer.target in self.engine._owners:
            observer.state = "active"
        expires = message.get("expires_in_ms")
        if isinstance(expires, int) and previous is None:
            self.engine._loop.call_later(expires / 1000, self._expire, observer.id)
        await self.engine._send(worker, {**reply, "state": observer.state})

    async def _unobserve(self, worker: Connection, message: Message) -> None:
        observer = self.observers.get(message.get("id", ""))
        if observer is not None and observer.worker is worker:
            del self.observers[observer.id]

    def _expire(self, observer_id: str) -> None:
        observer = self.observers.get(observer_id)
        if observer is not None:
            self._end(observer, "EXPIRED", "the observer's expires_in_ms ran out")

    def _end(self, observer: Observer, code: str, why: str) -> None:
        self.observers.pop(observer.id, None)
        observer.state = "disposed"
        changed = {"type": "observerstatechanged", "id": observer.id, "state": "disposed"}
        changed.update(reason=_error(code, why), fires=observer.fires)
        self.engine._spawn(self.engine._send(observer.worker, changed))

    def registered(self, function_id: str) -> None:
        """A function arrived: the observers waiting for it as their target become active."""
        for observer in list(self.observers.values()):
            if observer.target == function_id and observer.state == "pending":
                observer.state = "active"
                changed = {"type": "observerstatechanged", "id": observer.id, "state": "active"}
                self.engine._spawn(self.engine._send(observer.worker, changed))

    def forget(self, worker: Connection) -> None:
        """A worker's connection closed: its observers go (a reconnect replays them)."""
        for observer in list(self.observers.values()):
            if observer.worker is worker:
                del self.observers[observer.id]

    def completed(self, worker: Connection, call: Message, reply: Message, started: float) -> None:
        """A call through the engine to a worker's function finished: its observers see it."""
        function_id = call.get("function_id", "")
        if function_id not in self.engine._owners:
            return
        failed = bool(reply.get("error"))
        caller = {**(call.get("caller") or {}), "worker_name": worker.name or worker.worker_id}
        caller.pop("parent", None)
        invocation_id = call.get("invocation_id") or str(uuid.uuid4())
        seen: Message = {"input": call.get("data"), "caller": caller}
        if failed:
            seen["error"] = reply["error"]
        else:
            seen["output"] = reply.get("result")
        if call.get("metadata") is not None:
            seen["metadata"] = call["metadata"]
        base = {
            "function_id": function_id,
            "namespace": worker.namespace,
            "status": "error" if failed else "success",
            "invocation_id": invocation_id,
            "started_at_ms": int(started * 1000),
            "duration_ms": round((time.time() - started) * 1000, 3),
        }
        depth = call.get("observe_depth")
        depth = depth if isinstance(depth, int) and depth > 0 else 0
        for observer in list(self.observers.values()):
            if observer.function_id != function_id or observer.state != "active":
                continue
            if observer.on != "complete" and observer.on != base["status"]:
                continue
            if not matches(observer.filters, seen):
                continue
            if depth + 1 > MAX_DEPTH:
                observer.dropped["LOOP_GUARD"] = observer.dropped.get("LOOP_GUARD", 0) + 1
                continue
            self._activate(observer, base, seen, depth + 1)

    def _activate(self, observer: Observer, base: Message, seen: Message, depth: int) -> None:
        target = self.engine._owners.get(observer.target)
        if target is None:
            return
        activation_id = str(uuid.uuid4())
        envelope = {"observer_id": observer.id, "activation_id": activation_id, **base}
        envelope.update({k: seen[k] for k in observer.capture if k in seen})
        message: Message = {
            "type": "invokefunction",
            "invocation_id": str(uuid.uuid4()),
            "function_id": observer.target,
            "data": seen["input"] if observer.deliver == "input" else envelope,
            "caller": {
                "worker_name": "iii-engine",
                "function_id": base["function_id"],
                "invocation_id": base["invocation_id"],
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


def _error(code: str, message: str) -> Message:
    return {"code": code, "message": message}
