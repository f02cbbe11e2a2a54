# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""Observers (0.25's `observe.v1`), on the routed path: a worker observes a function, and each
call of it the engine routes activates the observer's target with the call's envelope.

No engine source for observers is public; this follows the iii-sdk 0.25 side (`iii/iii.py`
`observe`, `iii/iii_types.py`, its tests) and evaluates filters with the SDK's own `iii.filter`,
which implements the engine's filter language. Calls a worker dispatches in-process (and their
`invocationsobserved` reports) and owner delivery are not modelled."""

import asyncio
import contextlib
import contextvars
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .protocol import Connection, InvocationFailed, Message

if TYPE_CHECKING:
    from .core import EngineDouble

# What an engine-routed call carries besides its data: the caller (stamped with the calling
# connection), the observe depth and, for an activation, the observer.
calling: contextvars.ContextVar[Message | None] = contextvars.ContextVar("calling", default=None)
DEFAULT_CAPTURE = ("input", "output", "caller")
LOOP_GUARD = 8  # activations deeper than this are dropped (the SDK's e2e suite: eight hops)


@dataclass
class Observer:
    id: str
    owner: Connection
    source: Message
    target: str
    metadata: Any
    max_fires: int | None
    state: str = "pending"
    fires: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    matches: Any = None  # the compiled filter's `matches`


class Observers:
    """The observers workers hold, by id, and the calls that activate them."""

    def __init__(self, engine: "EngineDouble") -> None:
        self.engine = engine
        self.observers: dict[str, Observer] = {}
        self.handlers = {"observe": self._observe, "unobserve": self._unobserve}

    def functions(self) -> dict[str, Any]:
        return {"engine::observers::get": self._get}

    async def _get(self, data: Message) -> Any:
        found = self.observers.get(data["id"])
        if found is None:
            raise InvocationFailed({"code": "NOT_FOUND", "message": f"no observer {data['id']}"})
        keys = ("id", "target", "state", "fires", "dropped")
        return {"observer": {k: getattr(found, k) for k in keys}}

    async def _observe(self, worker: Connection, message: Message) -> None:
        """Create (or, on a reconnect's replay, take over) an observer; answer its state."""
        observer_id, source = message.get("id", ""), message.get("source") or {}
        known = self.observers.get(observer_id)
        if known is not None:
            known.owner = worker
            await self._tell(known, "observeresult")
            return
        target = (message.get("target") or {}).get("function_id", "")
        observer = Observer(
            observer_id, worker, source, target, message.get("metadata"), message.get("max_fires")
        )
        self.observers[observer_id] = observer
        problem = self._refusal(observer)
        if problem is not None:
            observer.state = "error"
            await self._tell(observer, "observeresult", {"code": problem[0], "message": problem[1]})
            return
        expires = message.get("expires_in_ms")
        if isinstance(expires, int) and expires > 0:
            when = expires / 1000
            asyncio.get_running_loop().call_later(when, self._expire, observer)
        observer.state = "active" if self._target_ready(observer) else "pending"
        await self._tell(observer, "observeresult")

    def _refusal(self, observer: Observer) -> tuple[str, str] | None:
        from iii.filter import FilterError, compile_filter  # the SDK of 0.25, which has observers

        source_id = observer.source.get("function_id")
        if source_id == observer.target:
            return "SELF_TARGET", "an observer cannot target the function it observes"
        try:
            observer.matches = compile_filter(observer.source.get("filters") or {}).matches
        except FilterError as bad:
            return "INVALID_FILTER", str(bad)
        registered = self.engine.functions.get(str(source_id)) or {}
        args_format = (registered.get("observe") or {}).get("args_format")
        if observer.source.get("args") and args_format is None:
            return "INVALID_ARGS", f"{source_id} takes no observer args"
        return None

    def _target_ready(self, observer: Observer) -> bool:
        return observer.target in self.engine.functions

    async def _unobserve(self, worker: Connection, message: Message) -> None:
        self.observers.pop(message.get("id", ""), None)

    def refresh(self) -> None:
        """A function came: pending observers whose target it is become active."""
        for observer in list(self.observers.values()):
            if observer.state == "pending" and self._target_ready(observer):
                observer.state = "active"
                self.engine._spawn(self._tell(observer, "observerstatechanged"))

    def _expire(self, observer: Observer) -> None:
        if self.observers.get(observer.id) is observer:
            self.engine._spawn(self._dispose(observer, "EXPIRED", "the observer's lease ran out"))

    async def _dispose(self, observer: Observer, code: str, message: str) -> None:
        self.observers.pop(observer.id, None)
        observer.state = "disposed"
        await self._tell(observer, "observerstatechanged", {"code": code, "message": message})

    async def _tell(self, observer: Observer, kind: str, error: Message | None = None) -> None:
        frame: Message = {"type": kind, "id": observer.id, "state": observer.state}
        if error is not None:
            frame["error" if kind == "observeresult" else "reason"] = error
        if kind == "observerstatechanged":
            frame["fires"] = observer.fires
        await self.engine._send(observer.owner, frame)

    # Calls.

    def stamp(self, worker: Connection, message: Message) -> None:
        """A worker's `invokefunction`: who calls (as it says, stamped with its connection), how
        deep in observe hops, and the input as sent (the envelope's, without the engine's
        `_caller_worker_id`), for the call the engine makes."""
        asserted = message.get("caller")
        caller = {**(asserted if isinstance(asserted, dict) else {})}
        caller.update(worker_id=worker.worker_id, worker_name=worker.name)
        depth = message.get("observe_depth")
        depth = depth if isinstance(depth, int) else 0
        calling.set({"caller": caller, "observe_depth": depth, "input": message.get("data")})

    @staticmethod
    def frame_fields() -> Message:
        """What the engine's `invokefunction` to the callee carries (depth left out when 0)."""
        context = calling.get() or {}
        return {k: context[k] for k in ("caller", "observe_depth", "activation") if context.get(k)}

    async def invoke(
        self, owner: Connection, function_id: str, data: Any, metadata: Any, within: float | None
    ) -> Any:
        """An engine-routed call of a worker's function, then its observers' activations."""
        context = calling.get() or {}
        invocation_id, started = str(uuid.uuid4()), time.time()
        outcome: Message = {"status": "success"}
        try:
            result = await self.engine._invoke(
                owner, function_id, data, metadata, within, invocation_id
            )
            outcome["output"] = result
            return result
        except InvocationFailed as failed:
            outcome = {"status": "error", "error": failed.error}
            raise
        finally:
            call = {
                "function_id": function_id,
                "namespace": owner.namespace,
                "invocation_id": invocation_id,
                "input": context.get("input", data),
                "caller": context.get("caller"),
                "metadata": metadata,
                "started_at_ms": int(started * 1000),
                "duration_ms": round((time.time() - started) * 1000, 3),
                **outcome,
            }
            for observer in list(self.observers.values()):
                if observer.source.get("function_id") == function_id:
                    self._activate(observer, call, context.get("observe_depth") or 0)

    def _activate(self, observer: Observer, call: Message, depth: int) -> None:
        on = observer.source.get("on") or "success"
        if observer.state != "active" or on not in ("complete", call["status"]):
            return
        document = {root: call.get(root) for root in ("input", "output", "error", "caller")}
        document["metadata"] = call.get("metadata")
        if observer.matches is not None and not observer.matches(document):
            return
        if depth + 1 > LOOP_GUARD:
            observer.dropped["LOOP_GUARD"] = observer.dropped.get("LOOP_GUARD", 0) + 1
            return
        observer.fires += 1
        activation_id = str(uuid.uuid4())
        captured = observer.source.get("capture") or DEFAULT_CAPTURE
        envelope = {
            "observer_id": observer.id,
            "activation_id": activation_id,
            **{k: call[k] for k in ("function_id", "namespace", "invocation_id", "status")},
            **{k: call[k] for k in ("started_at_ms", "duration_ms")},
            **{k: call[k] for k in captured if k in call and call.get(k) is not None},
        }
        if call["status"] == "success" and "output" in captured:
            envelope["output"] = call.get("output")
        data = call["input"] if observer.source.get("deliver") == "input" else envelope
        context = {
            "caller": {
                "function_id": call["function_id"],
                "invocation_id": call["invocation_id"],
                "worker_name": "iii-engine",
            },
            "observe_depth": depth + 1,
            "activation": {"observer_id": observer.id, "activation_id": activation_id},
        }
        self.engine._spawn(self._deliver(observer, data, context))
        if observer.max_fires is not None and observer.fires >= observer.max_fires:
            self.engine._spawn(self._dispose(observer, "MAX_FIRES", "max_fires reached"))

    async def _deliver(self, observer: Observer, data: Any, context: Message) -> None:
        calling.set(context)
        with contextlib.suppress(InvocationFailed):  # the engine logs it; the observer stays
            await self.engine._call(observer.target, data, observer.metadata)
