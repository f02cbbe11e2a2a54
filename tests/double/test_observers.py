"""Observers (0.25's `observe.v1`) on the routed path: `iii.observe` against the double.

No engine source for observers is public; the SDK 0.25 sdist is the spec (`SDK 0.25:` names its
files), and its own e2e suite runs against the double (`python -m harness.sdk_suite`).
"""

from typing import Any

import pytest
from iii import ObserveRejection

from tests.double.kit import Connect, Start, echo, recorder

pytestmark = pytest.mark.slow


def test_a_routed_call_activates_the_target_with_the_envelope_the_filters_match(
    doubles: Start, clients: Connect
) -> None:
    """SDK 0.25: tests/test_observe_e2e_routed.py (the envelope, the metadata sidecar, the
    activation and depth of the target's invocation); iii/iii_types.py `InvokeFunctionMessage`
    (`caller`, `observe_depth`, `activation` engine → worker); iii/filter (the filter language)."""
    engine = doubles(line="0.25")
    owner, watcher = clients(engine, "owner"), clients(engine, "watcher")
    seen: list[Any] = []

    def charge(data: Any) -> Any:
        return {"charged": data["amount"]}

    def on_charge(data: Any, metadata: Any = None) -> Any:
        seen.append((data, metadata, watcher.current_invocation()))

    owner.register_function("owner::charge", charge)

    watcher.register_function("watcher::on-charge", on_charge)
    handle = watcher.observe(
        {"function_id": "owner::charge", "filters": {"input.amount": {"$gte": 500}}},
        "watcher::on-charge",
        {"metadata": {"team": "payments"}},
    )
    handle.ready(timeout=10)

    watcher.trigger({"function_id": "owner::charge", "payload": {"amount": 10}})
    watcher.trigger({"function_id": "owner::charge", "payload": {"amount": 750}})
    engine.wait_until(lambda: len(seen) == 1)

    data, metadata, invocation = seen[0]
    assert data["observer_id"] == handle.id and data["status"] == "success"
    assert (data["input"], data["output"]) == ({"amount": 750}, {"charged": 750})
    assert data["caller"]["worker_name"] == "watcher" and "error" not in data
    assert metadata == {"team": "payments"}
    assert invocation.observe_depth == 1
    assert invocation.activation == {
        "observer_id": handle.id,
        "activation_id": data["activation_id"],
    }


@pytest.mark.parametrize(
    ("code", "source", "target"),
    [
        ("SELF_TARGET", {"function_id": "w::self"}, "w::self"),
        (
            "INVALID_FILTER",
            {"function_id": "w::self", "filters": {"input.op": "insert"}},
            "w::other",
        ),
        ("INVALID_ARGS", {"function_id": "w::self", "args": {"every": "5m"}}, "w::other"),
    ],
)
def test_an_observer_the_engine_refuses_is_in_error(
    doubles: Start, clients: Connect, code: str, source: Any, target: str
) -> None:
    """SDK 0.25: tests/test_observe_e2e_routed.py `test_errors_turn_the_observer_to_error...`
    (`observeresult {state: error, error: {code}}`)."""
    engine = doubles(line="0.25")
    client = clients(engine)
    client.register_function("w::self", echo)
    client.register_function("w::other", echo)
    engine.wait_for_functions("w::self", "w::other")

    handle = client.observe(source, target)

    with pytest.raises(ObserveRejection) as refused:
        handle.ready(timeout=10)
    assert refused.value.code == code and handle.state == "error"


def test_max_fires_disposes_the_observer_after_its_last_activation(
    doubles: Start, clients: Connect
) -> None:
    """SDK 0.25: tests/test_observe_e2e_routed.py `test_dispose_stops_the_activations...`
    (`observerstatechanged {state: disposed, reason: {code: MAX_FIRES}}`)."""
    engine = doubles(line="0.25")
    owner, watcher = clients(engine, "owner"), clients(engine, "watcher")
    owner.register_function("owner::ping", echo)
    seen, record = recorder()
    watcher.register_function("watcher::on-ping", record)
    handle = watcher.observe({"function_id": "owner::ping"}, "watcher::on-ping", {"max_fires": 1})
    handle.ready(timeout=10)

    for _ in range(2):
        watcher.trigger({"function_id": "owner::ping", "payload": {}})

    engine.wait_until(lambda: handle.state == "disposed")
    assert len(seen) == 1 and handle.reason is not None and handle.reason["code"] == "MAX_FIRES"
