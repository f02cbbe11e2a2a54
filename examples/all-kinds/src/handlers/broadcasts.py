"""A pubsub topic: a publisher function and a subscriber fired by the engine's `subscribe` trigger.

Topic: `orders-worker.events`. `orders-worker::broadcasts::publish` sends a message through the engine's `publish`
function, which calls every function subscribed to the topic with the message, once and without
retries: pubsub suits news that may be lost (a cache to refresh, a dashboard to update). When a
message must not be lost, publish to a durable queue (`iii::durable::publish`) instead. The
engine's pubsub worker is deprecated upstream in favour of queues, and still served unchanged.
"""

from typing import Any, TypedDict

from src.lib.iii_client import iii, logger

TOPIC = "orders-worker.events"
PUBLISH_ID = "orders-worker::broadcasts::publish"
ON_MESSAGE_ID = "orders-worker::broadcasts::on-message"


class Published(TypedDict):
    topic: str
    published: bool


async def publish_message(message: dict[str, Any]) -> Published:
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    await iii.trigger_async(
        {"function_id": "publish", "payload": {"topic": TOPIC, "data": message}}
    )
    return {"topic": TOPIC, "published": True}


async def on_message(message: Any) -> None:
    logger.info("Message received", {"topic": TOPIC, "message": message})


iii.register_function(PUBLISH_ID, publish_message, description=f"Publish a message to {TOPIC}")
iii.register_function(ON_MESSAGE_ID, on_message, description=f"Receive messages on {TOPIC}")
iii.register_trigger(
    {"type": "subscribe", "function_id": ON_MESSAGE_ID, "config": {"topic": TOPIC}}
)
