# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The pubsub worker: `publish` fans out to `subscribe` triggers, without conditions, and with the
in-engine builtin's habit of dropping a topic's subscriptions when one of them goes."""

from typing import TYPE_CHECKING, Any

from .protocol import Builtin, EngineWorker, InvocationFailed, Message

if TYPE_CHECKING:
    from .core import EngineDouble


class Provider(EngineWorker):
    """The pubsub worker of the line."""

    def __init__(self, engine: "EngineDouble") -> None:
        super().__init__(engine)
        # Subscribe triggers still registered whose subscription the in-engine pubsub dropped.
        self._unsubscribed: set[str] = set()

    def functions(self) -> dict[str, Builtin]:
        return {"publish": self._publish}

    def registered(self, trigger: Message) -> None:
        self._unsubscribed.discard(trigger["id"])

    def unregistered(self, trigger: Message) -> None:
        self._unsubscribe(trigger)

    async def _publish(self, data: Message) -> Any:
        topic, event = data["topic"], data["data"]
        if not topic:
            raise InvocationFailed({"code": "topic_not_set", "message": "Topic is not set"})
        for trigger in self.engine.triggers_of("subscribe"):
            if trigger["config"].get("topic") == topic and trigger["id"] not in self._unsubscribed:
                # No pubsub evaluates `condition_function_id` (the registry worker takes it for
                # schema parity only).
                self.engine._spawn(self.engine._fire(trigger, event, conditional=False))
        return None

    def _unsubscribe(self, trigger: Message) -> None:
        """A subscribe trigger goes. The in-engine pubsub (0.11, 0.22) drops its whole topic's
        subscriptions with it; the registry worker drops only that one."""
        if not self.rules.pubsub_drops_topic or trigger.get("trigger_type") != "subscribe":
            return
        topic = (trigger.get("config") or {}).get("topic")
        for other in self.engine.triggers_of("subscribe"):
            if other["id"] != trigger["id"] and other["config"].get("topic") == topic:
                self._unsubscribed.add(other["id"])
