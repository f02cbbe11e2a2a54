"""Reacts to state changes, fired by the engine's `state` trigger.

The engine sends `{"type": "state", "event_type": "state:created" | "state:updated" |
"state:deleted", "scope", "key", "old_value", "new_value"}` after every `state::set`,
`state::update` or `state::delete` in the watched scope. (Motia's `StateTriggerInput` spelled
these `groupId`, `itemId`, `oldValue`, `newValue`: the engine never sends those names.)

The watched scope is the one named after this worker (WORKER_NAME) unless you change
WATCHED_SCOPE: every scope would include other workers' data.
"""

from typing import Any, TypedDict

from src.lib.iii_client import WORKER_NAME, iii, logger

FUNCTION_ID = "orders-worker::state-changes"
# The scope to watch. None watches every scope, other workers' data included.
WATCHED_SCOPE: str | None = WORKER_NAME


class StateEvent(TypedDict, total=False):
    type: str
    event_type: str
    scope: str
    key: str
    old_value: Any
    new_value: Any


def changed_fields(old: Any, new: Any) -> list[str]:
    """Top-level fields that differ between two object values (empty for non-objects)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


async def on_state_change(event: StateEvent) -> None:
    where = {"scope": event.get("scope"), "key": event.get("key")}
    match event.get("event_type"):
        case "state:created":
            logger.info("State created", where)
        case "state:updated":
            fields = changed_fields(event.get("old_value"), event.get("new_value"))
            logger.info("State updated", {**where, "changed": fields})
        case "state:deleted":
            logger.info("State deleted", where)
        case other:
            logger.warn("Unknown state event", {**where, "event_type": other})


iii.register_function(FUNCTION_ID, on_state_change, description="React to state changes")
iii.register_trigger(
    {
        "type": "state",
        "function_id": FUNCTION_ID,
        "config": {"scope": WATCHED_SCOPE} if WATCHED_SCOPE else {},
    }
)
