# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""Trigger types that workers provide (`registertriggertype`), and the triggers waiting for one.

The engine hands each trigger of such a type to its provider (`registertrigger`), tells it when
one goes (`unregistertrigger`), and parks the triggers of a type no one provides: those of a
provider that left wait for the next one, which gets every trigger of its type on arrival."""

from functools import partial
from typing import TYPE_CHECKING

from .protocol import Connection, EngineWorker, Message

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .core import EngineDouble


class Provided(EngineWorker):
    """A trigger type one connected worker provides: its triggers are forwarded to it."""

    def __init__(self, engine: "EngineDouble", provider: Connection) -> None:
        super().__init__(engine)
        self.provider = provider

    def registered(self, trigger: Message) -> None:
        fields = ("id", "trigger_type", "function_id", "config", "metadata")
        forwarded = {"type": "registertrigger", **{k: trigger.get(k) for k in fields}}
        self.engine._spawn(self.engine._send(self.provider, forwarded))

    def unregistered(self, trigger: Message) -> None:
        gone = {
            "type": "unregistertrigger",
            "id": trigger["id"],
            "trigger_type": trigger["trigger_type"],
        }
        self.engine._spawn(self.engine._send(self.provider, gone))


class TriggerTypes:
    """The trigger types workers registered, and every parked trigger with its worker."""

    def __init__(self, engine: "EngineDouble") -> None:
        self.engine = engine
        self.provided: dict[str, Provided] = {}
        self._parked: dict[str, Connection] = {}  # parked trigger id -> the worker that sent it
        self.handlers: dict[str, Callable[[Connection, Message], Awaitable[None]]] = {
            "registertriggertype": self._register,
            "unregistertriggertype": self._unregister,
            "triggerregistrationresult": self._result,
        }

    def park(self, worker: Connection, trigger: Message) -> None:
        """No one provides the type (yet): no ack, and it waits."""
        self.engine._record(lambda: self._hold(worker, trigger))

    def unpark(self, worker: Connection, trigger_id: str) -> None:
        """The worker unregistered a trigger that was waiting: it waits no more."""
        for trigger in list(self.engine.parked):
            if trigger.get("id") == trigger_id and self._parked.get(trigger_id) is worker:
                self._unpark(trigger)

    def forget(self, worker: Connection) -> None:
        """A connection closed (its own triggers are gone already): its parked triggers go, and
        the triggers of the types it provided are parked for the next provider."""
        for trigger in list(self.engine.parked):
            if self._parked.get(trigger["id"]) is worker:
                self._unpark(trigger)
        for type_id in [t for t, p in self.provided.items() if p.provider is worker]:
            self._orphan(type_id)

    async def _register(self, worker: Connection, message: Message) -> None:
        """A (new) provider: the live triggers of its type, then the parked ones, go to it."""
        type_id = message.get("id", "")
        provided = self.provided[type_id] = Provided(self.engine, worker)
        for trigger in self.engine.triggers_of(type_id):
            provided.registered(trigger)
        for trigger in [t for t in self.engine.parked if t.get("trigger_type") == type_id]:
            owner = self._unpark(trigger)
            self.engine._record(partial(owner.triggers.__setitem__, trigger["id"], trigger))
            provided.registered(trigger)

    async def _unregister(self, worker: Connection, message: Message) -> None:
        provided = self.provided.get(message.get("id", ""))
        if provided is not None and provided.provider is worker:
            self.engine._record(lambda: self._orphan(message["id"]))

    def _orphan(self, type_id: str) -> None:
        """The type's provider is gone: its triggers wait, parked, for the next one."""
        del self.provided[type_id]
        for owner in self.engine._workers:
            for trigger in [t for t in owner.triggers.values() if t["trigger_type"] == type_id]:
                self._repark(owner, trigger)

    async def _result(self, worker: Connection, message: Message) -> None:
        """The provider refused a trigger: it is parked again, and its worker told (only the
        type's provider may say so)."""
        found = [
            (owner, owner.triggers[message.get("id", "")])
            for owner in self.engine._workers
            if message.get("id") in owner.triggers
        ]
        if not found or not message.get("error"):
            return
        owner, trigger = found[0]
        provided = self.provided.get(trigger["trigger_type"])
        if provided is None or provided.provider is not worker:
            return

        self.engine._record(lambda: self._repark(owner, trigger))
        named = {"trigger_type": trigger["trigger_type"], "function_id": trigger.get("function_id")}
        await self.engine._send(owner, {**message, **named})

    def _repark(self, owner: Connection, trigger: Message) -> None:
        del owner.triggers[trigger["id"]]
        self._hold(owner, trigger)

    def _hold(self, owner: Connection, trigger: Message) -> None:
        self._parked[trigger["id"]] = owner
        self.engine.parked.append(trigger)

    def _unpark(self, trigger: Message) -> Connection:
        owner = self._parked.pop(trigger["id"])
        self.engine._record(lambda: self.engine.parked.remove(trigger))
        return owner
