"""Observers (`iii.observe`, 0.25's observe.v1): the engine double's observe.py, with the real SDK.

No engine source for observers is public; each docstring names the SDK 0.25 sdist file the test
follows (`S:` is iii_sdk-0.25.0); docs/engine-double.md lists them.
"""

import time
from collections.abc import Callable
from typing import Any

import pytest
from iii import ObserveRejection
from iii.iii import III

from tests.double.kit import Connect, Start, register

pytestmark = pytest.mark.slow


def wait_for(get: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not get():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
    return get()


def collect(client: III, function_id: str) -> list[tuple[Any, Any, Any]]:
    """A target that records each activation: (data, metadata, its invocation context)."""
    got: list[tuple[Any, Any, Any]] = []

    def target(data: Any, metadata: Any = None) -> None:
        got.append((data, metadata, client.current_invocation()))

    register(client, function_id, target)
    return got


def test_a_call_through_the_engine_activates_the_observers_whose_filters_match(
    doubles: Start, clients: Connect
) -> None:
    """S:tests/test_observe_e2e_routed.py (the envelope, the caller, the metadata sidecar);
    S:src/iii/observe_wire.py (`observe`), S:src/iii/iii_types.py (`observeresult`)."""
    engine = doubles(line="0.25")
    owner, watcher = clients(engine, "owner"), clients(engine, "watcher")
    register(owner, "shop::charge", lambda data: {"charged": data["amount"]})
    got = collect(watcher, "shop::on-big")
    handle = watcher.observe(
        {"function_id": "shop::charge", "filters": {"input.amount": {"$gte": 500}}},
        "shop::on-big",
        {"metadata": {"team": "payments"}},
    )
    handle.ready(timeout=5)

    watcher.trigger({"function_id": "shop::charge", "payload": {"amount": 10}})
    watcher.trigger({"function_id": "shop::charge", "payload": {"amount": 750}})

    wait_for(lambda: got)
    [(data, metadata, inv)] = got
    assert (data["observer_id"], data["status"]) == (handle.id, "success")
    assert (data["input"], data["output"]) == ({"amount": 750}, {"charged": 750})
    assert data["caller"]["worker_name"] == "watcher"
    assert metadata == {"team": "payments"}
    assert inv.observe_depth == 1 and inv.caller["worker_name"] == "iii-engine"
    shown = watcher.trigger({"function_id": "engine::observers::get", "payload": {"id": handle.id}})
    assert shown["observer"]["filters"] == {"$and": [{"input.amount": {"$gte": 500}}]}


@pytest.mark.parametrize(
    ("code", "source", "target"),
    [
        ("SELF_TARGET", {"function_id": "app::a"}, "app::a"),
        ("INVALID_ARGS", {"function_id": "app::a", "args": {"x": 1}}, "app::b"),
        ("INVALID_FILTER", {"function_id": "app::a", "filters": {"input.op": "insert"}}, "app::b"),
    ],
)
def test_an_observer_the_engine_refuses_is_an_error(
    doubles: Start, clients: Connect, code: str, source: dict[str, Any], target: str
) -> None:
    """S:tests/test_observe_e2e_routed.py (`test_errors_turn_the_observer_to_error_...`)."""
    engine = doubles(line="0.25")
    worker = clients(engine)
    register(worker, "app::a", lambda d: None)
    register(worker, "app::b", lambda d: None)

    with pytest.raises(ObserveRejection) as raised:
        worker.observe(source, target).ready(timeout=5)

    assert raised.value.code == code


def test_max_fires_disposes_the_observer_after_its_last_activation(
    doubles: Start, clients: Connect
) -> None:
    """S:tests/test_observe_e2e_routed.py (`max_fires`, reason MAX_FIRES)."""
    engine = doubles(line="0.25")
    owner, watcher = clients(engine, "owner"), clients(engine, "watcher")
    register(owner, "app::ping", lambda d: "pong")
    got = collect(watcher, "app::on-ping")
    handle = watcher.observe({"function_id": "app::ping"}, "app::on-ping", {"max_fires": 1})
    handle.ready(timeout=5)

    watcher.trigger({"function_id": "app::ping", "payload": {}})
    wait_for(lambda: handle.state == "disposed")
    watcher.trigger({"function_id": "app::ping", "payload": {}})

    assert handle.reason is not None and handle.reason["code"] == "MAX_FIRES"
    assert len(got) == 1


def test_the_owner_learns_its_observers_and_reports_its_local_calls(
    doubles: Start, clients: Connect
) -> None:
    """S:src/iii/observable.py (`observeradded`, the `observerack`, local calls reported in
    `invocationsobserved`); S:tests/test_observe_e2e_local.py."""
    engine = doubles(line="0.25")
    owner, watcher = clients(engine, "owner"), clients(engine, "watcher")
    register(owner, "app::inc", lambda n: n + 1)
    got = collect(watcher, "app::on-inc")
    handle = watcher.observe({"function_id": "app::inc", "capture": ["input"]}, "app::on-inc")
    handle.ready(timeout=5)
    wait_for(lambda: owner._functions["app::inc"].observe.is_observed())

    assert owner.trigger({"function_id": "app::inc", "payload": 41}) == 42  # in the owner's process

    wait_for(lambda: got)
    assert got[0][0]["input"] == 41 and got[0][0]["observer_id"] == handle.id


def test_lines_before_0_25_have_no_observers(doubles: Start) -> None:
    """The 0.25 line's `workerregistered` advertises observe.v1; 0.22's advertises nothing."""
    assert doubles(line="0.22")._observe is None
    assert doubles(line="0.25")._observe is not None
