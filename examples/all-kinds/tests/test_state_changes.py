"""The state handler understands the engine's created/updated/deleted events."""

import asyncio
import logging
from typing import Any

import pytest

from src.handlers import state_changes as handler
from src.lib.iii_client import WORKER_NAME
from tests.engine_double import EngineDouble


def test_registers_its_functions_and_triggers(engine: EngineDouble) -> None:
    engine.check_registered(
        {
            "orders-worker::state-changes": [("state", {"scope": "orders-worker"})],
        }
    )


def event(event_type: str, old: Any, new: Any) -> handler.StateEvent:
    return {
        "type": "state",
        "event_type": event_type,
        "scope": "orders",
        "key": "order-1",
        "old_value": old,
        "new_value": new,
    }


def logged(caplog: pytest.LogCaptureFixture, state_event: handler.StateEvent) -> list[Any]:
    caplog.clear()
    with caplog.at_level(logging.INFO):
        asyncio.run(handler.on_state_change(state_event))
    return [(r.getMessage().split("] ")[-1], getattr(r, "data", None)) for r in caplog.records]


def test_reports_which_fields_an_update_changed(caplog: pytest.LogCaptureFixture) -> None:
    old = {"status": "new", "total": 10}
    new = {"status": "paid", "total": 10, "paid_at": "2026-01-01"}

    assert logged(caplog, event("state:updated", old, new)) == [
        ("State updated", {"scope": "orders", "key": "order-1", "changed": ["paid_at", "status"]})
    ]


def test_reports_creation_and_deletion(caplog: pytest.LogCaptureFixture) -> None:
    where = {"scope": "orders", "key": "order-1"}
    created = event("state:created", None, {"status": "new"})
    deleted = event("state:deleted", {"status": "new"}, None)

    assert logged(caplog, created) == [("State created", where)]
    assert logged(caplog, deleted) == [("State deleted", where)]


def test_warns_about_an_unknown_event_type(caplog: pytest.LogCaptureFixture) -> None:
    assert logged(caplog, event("state:renamed", None, None))[0][0] == "Unknown state event"


def test_watches_the_scope_named_after_the_worker(engine: EngineDouble) -> None:
    engine.wait_for_triggers(handler.FUNCTION_ID)

    engine.call("state::set", {"scope": "another-workers-data", "key": "k", "value": 1})
    engine.call("state::set", {"scope": WORKER_NAME, "key": "k", "value": 1})

    engine.wait_until(lambda: any(f == handler.FUNCTION_ID for f, _ in engine.fired))
    assert [event["scope"] for _, event in engine.fired] == [WORKER_NAME]
    assert [t["config"] for t in engine.triggers_of("state")] == [{"scope": WORKER_NAME}]


def test_changed_fields_of_non_objects_is_empty() -> None:
    assert handler.changed_fields(1, 2) == []
