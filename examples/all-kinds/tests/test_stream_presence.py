"""Subscriptions are refused unless the connection's context proves the caller."""

import asyncio
from typing import Any

import pytest

from src.handlers import stream_presence as presence
from tests.engine_double import EngineDouble


def test_registers_its_functions_and_triggers(engine: EngineDouble) -> None:
    engine.check_registered(
        {
            "orders-worker::stream-presence::join": [("stream:join", {})],
            "orders-worker::stream-presence::leave": [("stream:leave", {})],
        }
    )


def join(context: Any) -> presence.JoinDecision:
    subscription: presence.Subscription = {
        "subscription_id": "sub-1",
        "stream_name": "chat",
        "group_id": "room-1",
    }
    if context is not None:
        subscription["context"] = context
    return asyncio.run(presence.on_join(subscription))


def test_accepts_an_authenticated_subscription() -> None:
    assert join({"user_id": "ada"}) == {"unauthorized": False}


@pytest.mark.parametrize("context", [None, {}, {"user_id": ""}, {"user_id": 7}, ["ada"], "ada"])
def test_refuses_a_subscription_without_an_authenticated_context(context: Any) -> None:
    assert join(context) == {"unauthorized": True}


def test_refuses_a_subscription_the_group_check_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str, str]] = []

    def members_only(user_id: str, stream_name: str, group_id: str) -> bool:
        asked.append((user_id, stream_name, group_id))
        return False

    monkeypatch.setattr(presence, "may_join", members_only)

    assert join({"user_id": "ada"}) == {"unauthorized": True}
    assert asked == [("ada", "chat", "room-1")]


def test_refuses_when_the_group_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(user_id: str, stream_name: str, group_id: str) -> bool:
        raise ConnectionError("the membership service is down")

    monkeypatch.setattr(presence, "may_join", broken)

    assert join({"user_id": "ada"}) == {"unauthorized": True}


def test_leave_returns_nothing() -> None:
    ended: presence.Subscription = {
        "subscription_id": "sub-1",
        "stream_name": "chat",
        "group_id": "room-1",
    }
    assert asyncio.run(presence.on_leave(ended)) is None
