"""Publishing goes through the engine's `publish` (invoked through the engine double, as another
worker would) and reaches the subscriber."""

import asyncio
import logging
from typing import Any

import pytest

from src.handlers import broadcasts as topic
from tests.engine_double import EngineDouble, InvocationFailed


def test_registers_its_functions_and_triggers(engine: EngineDouble) -> None:
    engine.check_registered(
        {
            "orders-worker::broadcasts::publish": [],
            "orders-worker::broadcasts::on-message": [
                (
                    "subscribe",
                    {
                        "topic": "orders-worker.events",
                    },
                ),
            ],
        }
    )


MESSAGE = {"kind": "price-changed", "sku": "tea-1"}


def test_a_published_message_reaches_the_subscriber(engine: EngineDouble) -> None:
    engine.wait_for_triggers(topic.ON_MESSAGE_ID)

    result = engine.invoke(topic.PUBLISH_ID, MESSAGE)

    assert result == {"topic": topic.TOPIC, "published": True}
    assert ("publish", {"topic": topic.TOPIC, "data": MESSAGE}) in engine.calls
    engine.wait_until(lambda: (topic.ON_MESSAGE_ID, MESSAGE) in engine.fired)


@pytest.mark.parametrize("bad", [None, [], "text", 3])
def test_publish_refuses_a_message_that_is_not_an_object(engine: EngineDouble, bad: Any) -> None:
    engine.wait_for_functions(topic.PUBLISH_ID)

    with pytest.raises(InvocationFailed, match="JSON object"):
        engine.invoke(topic.PUBLISH_ID, bad)

    assert engine.calls == []


def test_the_subscriber_logs_each_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        asyncio.run(topic.on_message(MESSAGE))

    (record,) = caplog.records
    assert getattr(record, "data", None) == {"topic": topic.TOPIC, "message": MESSAGE}
