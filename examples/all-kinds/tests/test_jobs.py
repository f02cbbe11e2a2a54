"""Publishing goes through iii::durable::publish (invoked through the engine double, as another
worker would); the subscriber processes good jobs and drops bad ones."""

import asyncio
import logging
from typing import Any

import pytest

from src.handlers import jobs as queue
from tests.engine_double import EngineDouble, InvocationFailed


def test_registers_its_functions_and_triggers(engine: EngineDouble) -> None:
    engine.check_registered(
        {
            "orders-worker::jobs::publish": [],
            "orders-worker::jobs::process": [
                (
                    "durable:subscriber",
                    {
                        "topic": "orders-worker.jobs",
                        "queue_config": {
                            "maxRetries": 3,
                        },
                    },
                ),
            ],
        }
    )


JOB: queue.Job = {"kind": "resize-image", "payload": {"image_id": "img-1"}}


def test_publish_reaches_the_subscriber(engine: EngineDouble) -> None:
    engine.wait_for_triggers(queue.PROCESS_ID)

    result = engine.invoke(queue.PUBLISH_ID, JOB)

    assert result == {"topic": queue.TOPIC, "published": True}
    assert ("iii::durable::publish", {"topic": queue.TOPIC, "data": JOB}) in engine.calls
    engine.wait_until(lambda: (queue.PROCESS_ID, JOB) in engine.fired)


@pytest.mark.parametrize(
    "bad", [None, [], {"payload": {}}, {"kind": ""}, {"kind": "x", "payload": 3}]
)
def test_publish_refuses_a_malformed_job(engine: EngineDouble, bad: Any) -> None:
    engine.wait_for_functions(queue.PUBLISH_ID)

    with pytest.raises(InvocationFailed, match="must be"):
        engine.invoke(queue.PUBLISH_ID, bad)

    assert engine.calls == []


def test_subscriber_processes_a_job(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        asyncio.run(queue.process_job(JOB))

    assert any(getattr(r, "data", {}).get("kind") == "resize-image" for r in caplog.records)


def test_subscriber_drops_a_malformed_job_without_raising(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        asyncio.run(queue.process_job({"kind": 7}))  # type: ignore[typeddict-item]

    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert getattr(caplog.records[0], "data", {})["job"] == '{"kind": 7}'


def test_a_dropped_job_is_logged_cut_to_a_bounded_length(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        asyncio.run(queue.process_job({"kind": "", "payload": {"blob": "x" * 100_000}}))

    logged = getattr(caplog.records[0], "data", {})["job"]
    assert logged.startswith('{"kind": "", "payload": {"blob": "xxx')
    assert len(logged) < queue.MAX_LOGGED_JOB + 100
