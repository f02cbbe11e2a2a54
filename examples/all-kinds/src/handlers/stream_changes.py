"""Reacts to item changes in the `events` stream, fired by the engine's `stream` trigger.

The engine sends `{"type": "stream", "timestamp", "streamName", "groupId", "id", "event":
{"type": "create" | "update" | "delete", "data"}}` after every `stream::set`, `stream::update`
or `stream::delete` on the stream. Note the camelCase keys: this event is the one payload the
engine spells that way.
"""

from typing import Any, TypedDict

from src.lib.iii_client import iii, logger

STREAM_NAME = "events"
FUNCTION_ID = "orders-worker::stream-changes"


class StreamChange(TypedDict, total=False):
    type: str
    data: Any


class StreamEvent(TypedDict, total=False):
    type: str
    timestamp: int
    streamName: str
    groupId: str
    id: str
    event: StreamChange


async def on_stream_change(event: StreamEvent) -> None:
    change = event.get("event", {})
    where = {
        "stream": event.get("streamName"),
        "group": event.get("groupId"),
        "id": event.get("id"),
    }
    match change.get("type"):
        case "create" | "update":
            logger.info(f"Stream item {change['type']}d", where)
        case "delete":
            logger.info("Stream item deleted", where)
        case other:
            logger.warn("Unknown stream event", {**where, "event_type": other})


iii.register_function(FUNCTION_ID, on_stream_change, description=f"React to {STREAM_NAME} changes")
iii.register_trigger(
    {"type": "stream", "function_id": FUNCTION_ID, "config": {"stream_name": STREAM_NAME}}
)
