# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""Stream connections: iii-stream's `auth_function` (query values as lists, failing open), then
`stream:join` (any `{"unauthorized": true}` refuses) and `stream:leave` handlers. stream_port
serves them to real WebSocket clients; the methods here ask them in-process."""

import uuid
from typing import Any

from .protocol import EngineWorker, InvocationFailed, Message


class Provider(EngineWorker):
    """The connection side of iii-stream."""

    def authenticate(
        self, query_params: dict[str, list[str]], headers: dict[str, str] | None = None
    ) -> Any:
        """The context a stream connection gets: the auth function's, or None (it fails open)."""
        request = {
            "headers": headers or {},
            "path": "/",
            "query_params": query_params,
            "addr": "127.0.0.1:50000",
        }
        return self.engine._run(self.context(request), None)

    async def context(self, request: Message) -> Any:
        """What the auth function answers for a connection's upgrade `request`: its `context`, or
        None when there is no auth function or it fails."""
        if self.engine.auth_function is None:
            return None
        try:
            result = await self.engine._call(self.engine.auth_function, request)
        except (InvocationFailed, TimeoutError):
            return None
        return result.get("context") if isinstance(result, dict) else None

    def join(
        self, stream_name: str, group_id: str, context: Any = None, item_id: str | None = None
    ) -> bool:
        """Whether a stream subscription is let in: every join handler is asked, and it is refused
        when any answers `{"unauthorized": true}` (one that fails counts as a yes)."""
        event = subscription(None, stream_name, group_id, item_id, context)
        let_in: bool = self.engine._run(self.ask("stream:join", event), None)
        return let_in

    def leave(self, stream_name: str, group_id: str, context: Any = None) -> None:
        """Tell the leave handlers a subscription ended (the engine ignores their errors)."""
        event = subscription(None, stream_name, group_id, None, context)
        self.engine._run(self.ask("stream:leave", event), None)

    async def ask(self, trigger_type: str, event: Message) -> bool:
        """Call the handler of every `trigger_type` trigger in turn, with its metadata (0.22+);
        False when a join handler answered `{"unauthorized": true}`. Failures count as a yes."""
        refused = False
        for trigger in self.engine.triggers_of(trigger_type):
            try:
                function_id, metadata = trigger["function_id"], self.engine._sidecar(trigger)
                result = await self.engine._call(function_id, event, metadata)
            except (InvocationFailed, TimeoutError):
                continue
            if trigger_type == "stream:join" and isinstance(result, dict):
                refused = refused or result.get("unauthorized") is True
        return not refused


def subscription(
    subscription_id: str | None, stream_name: str, group_id: str, item_id: str | None, context: Any
) -> Message:
    """What join and leave handlers get (`StreamJoinLeaveEvent`)."""
    return {
        "subscription_id": subscription_id or f"sub-{uuid.uuid4().hex[:8]}",
        "stream_name": stream_name,
        "group_id": group_id,
        "id": item_id,
        "context": context,
    }
