"""Authorizes stream subscriptions (`stream:join`) and sees them end (`stream:leave`).

Both triggers apply to every stream and send `{"subscription_id", "stream_name", "group_id",
"id"?, "context"?}`, where `context` is what the stream auth function returned for the
connection. A join handler refuses with `{"unauthorized": true}`.

The engine fails open here: a join handler that raises, returns nothing, or returns a
non-boolean `unauthorized` lets the subscription through. So the decision is made inside a
`try`, and only a context that proves the caller (a `user_id`) is let in, to the groups
`may_join` allows (every group, until you write your rule there).
"""

from typing import Any, TypedDict

from src.lib.iii_client import iii, logger

JOIN_ID = "orders-worker::stream-presence::join"
LEAVE_ID = "orders-worker::stream-presence::leave"


class Subscription(TypedDict, total=False):
    subscription_id: str
    stream_name: str
    group_id: str
    id: str
    context: Any


class JoinDecision(TypedDict):
    unauthorized: bool


def may_join(user_id: str, stream_name: str, group_id: str) -> bool:
    """Whether this user may see this group: an authenticated user may join any group until
    you check membership here (a chat room's members, an order's owner, ...)."""
    return True


def authenticated_user(context: Any) -> str | None:
    """The caller's user id, when the connection's context proves one."""
    if isinstance(context, dict):
        user_id = context.get("user_id")
        if isinstance(user_id, str) and user_id:
            return user_id
    return None


async def on_join(subscription: Subscription) -> JoinDecision:
    try:
        user_id = authenticated_user(subscription.get("context"))
        where = {"stream": subscription.get("stream_name"), "group": subscription.get("group_id")}
        if user_id is None:
            logger.warn("Refused an unauthenticated subscription", where)
            return {"unauthorized": True}
        if not may_join(user_id, str(where["stream"]), str(where["group"])):
            logger.warn("Refused a subscription to a group", {**where, "user_id": user_id})
            return {"unauthorized": True}
        logger.info("Subscription accepted", {**where, "user_id": user_id})
        return {"unauthorized": False}
    except Exception as error:
        # Never let an error become the engine's fail-open default.
        logger.error("The join check failed; refused", {"error": repr(error)})
        return {"unauthorized": True}


async def on_leave(subscription: Subscription) -> None:
    logger.info(
        "Subscription ended",
        {
            "stream": subscription.get("stream_name"),
            "subscription": subscription.get("subscription_id"),
        },
    )


iii.register_function(JOIN_ID, on_join, description="Authorize stream subscriptions")
iii.register_function(LEAVE_ID, on_leave, description="Observe ended stream subscriptions")
iii.register_trigger({"type": "stream:join", "function_id": JOIN_ID, "config": {}})
iii.register_trigger({"type": "stream:leave", "function_id": LEAVE_ID, "config": {}})
