# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The durable queue: `iii::durable::publish`, `durable:subscriber` triggers read as the line's queue
reads them, at-least-once delivery with the line's retry count and a dead-letter list, and
`TriggerAction.Enqueue`."""

import asyncio
import json
import uuid
from functools import partial
from typing import Any

from .protocol import Builtin, EngineWorker, InvocationFailed, Message

_SPEC_FIELDS = {
    "queue": ("topic", "string"),
    "max_retries": ("maxRetries", "u32"),
    "backoff_ms": ("backoffDelayMs", "u64"),
    "condition_function_id": (None, "string?"),
    "queue_config": (None, "queue_config"),
}


_QUEUE_CONFIG_FIELDS = {
    "type": (None, "string?"),
    "max_retries": ("maxRetries", "u32"),
    "concurrency": (None, "u32"),
    "visibility_timeout": ("visibilityTimeout", "u64"),
    "delay_seconds": ("delaySeconds", "u64"),
    "backoff_type": ("backoffType", "string?"),
    "backoff_delay_ms": ("backoffDelayMs", "u64"),
    "max_priority": (None, "u8"),
}


_UNSIGNED = {"u8": 2**8, "u32": 2**32, "u64": 2**64}


def _is_u64(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64


def _spelled(settings: Any, name: str, alias: str | None, default: Any = "") -> Any:
    """A field under its own name or its serde alias."""
    if not isinstance(settings, dict):
        return default
    return settings.get(name, settings.get(alias, default) if alias else default)


def _serde_type(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f"string {json.dumps(value)}"
    return "null" if value is None else "sequence" if isinstance(value, list) else "map"


def _field_problem(value: Any, kind: str) -> str | None:
    if kind == "string?":
        kind = "string" if value is not None else "none"
    if kind == "none":
        return None
    if kind == "string":
        return (
            None
            if isinstance(value, str)
            else f"invalid type: {_serde_type(value)}, expected a string"
        )
    if kind == "queue_config":
        if value is None:
            return None
        if not isinstance(value, dict):
            return f"invalid type: {_serde_type(value)}, expected struct SubscriberQueueConfig"
        return _struct_problem(value, _QUEUE_CONFIG_FIELDS)
    if value is None:
        return None  # an Option field takes null
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < _UNSIGNED[kind]:
            return None
        return f"invalid value: integer `{value}`, expected {kind}"
    return f"invalid type: {_serde_type(value)}, expected {kind}"


def _struct_problem(settings: Message, fields: dict[str, tuple[str | None, str]]) -> str | None:
    for name, (alias, kind) in fields.items():
        if alias is not None and name in settings and alias in settings:
            return f"duplicate field `{name}`"
        if name in settings or (alias is not None and alias in settings):
            problem = _field_problem(_spelled(settings, name, alias, None), kind)
            if problem is not None:
                return problem
    return None


def subscriber_spec_problem(config: Any) -> str | None:
    """Why the registry queue refuses this durable:subscriber config, or None."""
    if not isinstance(config, dict):
        return f"invalid type: {_serde_type(config)}, expected struct SubscriberSpec"
    if "queue" not in config and "topic" not in config:
        return "missing field `queue`"
    return _struct_problem(config, _SPEC_FIELDS)


class Provider(EngineWorker):
    """The queue worker of the line."""

    def functions(self) -> dict[str, Builtin]:
        return {"iii::durable::publish": self._durable_publish}

    def refusal(self, trigger: Message) -> str | None:
        if not self.rules.queue_registry:
            return None  # the builtin takes any config and subscribes only a string topic
        config = trigger.get("config")
        problem = subscriber_spec_problem(config)
        if problem is not None:
            return f"invalid durable:subscriber config: {problem}"
        if not _spelled(config, "queue", "topic").strip():
            return "queue is required for durable:subscriber trigger"
        return None

    def _attempts(self, config: Message) -> int:
        """Deliveries before the dead-letter queue, as the line's queue counts them."""
        queue_config = config.get("queue_config")
        queue_config = queue_config if isinstance(queue_config, dict) else {}
        if (
            self.rules.queue_attempts == "fixed"
        ):  # jobs carry the queue's global max_attempts; maxRetries is unread
            return 3
        if self.rules.queue_attempts == "retries+1":
            # The builtin reads only camelCase `maxRetries` as a u64 (anything else: the default)
            # and turns it into maxRetries + 1 attempts.
            retries: Any = queue_config.get("maxRetries")
            return retries + 1 if _is_u64(retries) else 3
        # The registry queue: top-level `max_retries`/`maxRetries` wins over queue_config's.
        retries = _spelled(config, "max_retries", "maxRetries", None)
        if retries is None:
            retries = _spelled(queue_config, "max_retries", "maxRetries", None)
        return max(retries, 1) if _is_u64(retries) else 3

    async def _durable_publish(self, data: Message) -> Any:
        topic = data.get("topic", data.get("queue") if self.rules.queue_registry else None)
        if topic is None:
            raise KeyError("topic")
        job = data["data"]
        if not topic:
            raise InvocationFailed({"code": "topic_not_set", "message": "Topic is not set"})
        subscribed: set[str] = set()  # one subscription per function, however many triggers
        for trigger in self.engine.triggers_of("durable:subscriber"):
            config = trigger["config"]
            wanted = config.get("topic", config.get("queue") if self.rules.queue_registry else None)
            if wanted == topic and trigger["function_id"] not in subscribed:
                subscribed.add(trigger["function_id"])
                condition = config.get("condition_function_id")
                metadata = trigger.get("metadata") if self.rules.queue_registry else None
                self.engine._spawn(
                    self._deliver(
                        trigger["function_id"], job, self._attempts(config), condition, metadata
                    )
                )
        return None

    async def _deliver(
        self, function_id: str, job: Any, attempts: int, condition: Any, metadata: Any
    ) -> None:
        """At-least-once delivery: a failure is retried with doubling backoff, then dead-lettered;
        a condition that answers false acks the message unprocessed."""
        for attempt in range(1, attempts + 1):
            try:
                if condition and await self.engine._call(condition, job) is False:
                    self.engine._record(partial(self.engine.skipped.append, (function_id, job)))
                    return  # acked unprocessed
                await self.engine._call(function_id, job, metadata)
                self.engine._record(partial(self.engine.fired.append, (function_id, job)))
                return
            except Exception as error:  # any failure is a nack
                if attempt == attempts:
                    letter = {"function_id": function_id, "job": job, "error": str(error)}
                    self.engine._record(partial(self.engine.dead_letters.append, letter))
                    return
                await asyncio.sleep(self.engine.retry_delay * 2 ** (attempt - 1))

    def enqueue(self, function_id: str, data: Any, queue: Any) -> Message:
        """`TriggerAction.Enqueue` on a line whose queue serves it: the call goes through a named
        queue; the caller gets a receipt."""
        name = str(queue)
        problem: str | None = None
        if self.engine.queues is not None and name not in self.engine.queues:
            problem = f"Queue '{name}' not found"
        if problem is not None:
            return {"error": {"code": "enqueue_error", "message": problem}}
        retries = (self.engine.queues or {}).get(name, {}).get("max_retries", 3)
        self.engine._spawn(self._deliver(function_id, data, max(int(retries), 1), None, None))
        return {"result": {"messageReceiptId": str(uuid.uuid4())}}
