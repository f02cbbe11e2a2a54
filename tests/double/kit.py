"""What the engine double's tests share: the fixtures' types, and registering functions the way
a worker does."""

from collections.abc import Callable
from typing import Any

import pytest
from engine_double import EngineDouble
from iii.iii import III

Handler = Callable[..., Any]
Start = Callable[..., EngineDouble]
Connect = Callable[..., III]


def register(client: III, function_id: str, handler: Handler, **trigger: Any) -> None:
    client.register_function(function_id, handler)
    if trigger:
        with pytest.warns(DeprecationWarning, match="register_trigger is deprecated"):
            client.register_trigger({"function_id": function_id, **trigger})


def echo(data: Any) -> Any:
    return data


def recorder() -> tuple[list[Any], Handler]:
    seen: list[Any] = []

    def record(data: Any) -> None:
        seen.append(data)

    return seen, record
