"""The stream handler understands the engine's create/update/delete events."""

import asyncio
import logging

import pytest

from src.handlers import stream_changes as handler
from tests.engine_double import EngineDouble


def test_registers_its_functions_and_triggers(engine: EngineDouble) -> None:
    engine.check_registered(
        {
            "orders-worker::stream-changes": [("stream", {"stream_name": "events"})],
        }
    )


def change(event_type: str) -> handler.StreamEvent:
    return {
        "type": "stream",
        "timestamp": 1767225600000,
        "streamName": handler.STREAM_NAME,
        "groupId": "room-1",
        "id": "message-1",
        "event": {"type": event_type, "data": {"text": "hi"}},
    }


@pytest.mark.parametrize(
    ("event_type", "message"),
    [
        ("create", "Stream item created"),
        ("update", "Stream item updated"),
        ("delete", "Stream item deleted"),
    ],
)
def test_logs_each_change(caplog: pytest.LogCaptureFixture, event_type: str, message: str) -> None:
    with caplog.at_level(logging.INFO):
        asyncio.run(handler.on_stream_change(change(event_type)))

    (record,) = caplog.records
    assert record.getMessage().endswith(message)
    assert getattr(record, "data", None) == {
        "stream": handler.STREAM_NAME,
        "group": "room-1",
        "id": "message-1",
    }


def test_warns_about_an_unknown_change(caplog: pytest.LogCaptureFixture) -> None:
    asyncio.run(handler.on_stream_change(change("truncate")))

    assert [r.levelno for r in caplog.records] == [logging.WARNING]
