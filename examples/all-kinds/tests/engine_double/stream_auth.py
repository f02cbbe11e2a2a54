# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""Stream connections: iii-stream's `auth_function` (query values as lists, failing open), then
`stream:join` (any `{"unauthorized": true}` refuses) and `stream:leave` handlers."""

import contextlib
import uuid
from typing import Any

from .protocol import EngineWorker, InvocationFailed, Message


class Provider(EngineWorker):
    """The connection side of iii-stream."""

    def authenticate(
        self, query_params: dict[str, list[str]], headers: dict[str, str] | None = None
    ) -> Any:
        """The context a stream connection gets: the auth function's, or None (it fails open)."""
        if self.engine.auth_function is None:
            return None
        request = {
            "headers": headers or {},
            "path": "/",
            "query_params": query_params,
            "addr": "127.0.0.1:50000",
        }
        try:
            result = self.engine.invoke(self.engine.auth_function, request)
        except InvocationFailed:
            return None
        return result.get("context") if isinstance(result, dict) else None

    def join(
        self, stream_name: str, group_id: str, context: Any = None, item_id: str | None = None
    ) -> bool:
        """Whether a stream subscription is let in: every join handler is asked, and it is refused
        when any answers `{"unauthorized": true}` (one that fails counts as a yes)."""
        event = self._subscription(stream_name, group_id, context, item_id)
        refused = False
        for trigger in self.engine.triggers_of("stream:join"):
            try:
                result = self.engine.invoke(trigger["function_id"], event)
            except InvocationFailed:
                continue
            refused = refused or (isinstance(result, dict) and result.get("unauthorized") is True)
        return not refused

    def leave(self, stream_name: str, group_id: str, context: Any = None) -> None:
        """Tell the leave handlers a subscription ended (the engine ignores their errors)."""
        event = self._subscription(stream_name, group_id, context, None)
        for trigger in self.engine.triggers_of("stream:leave"):
            with contextlib.suppress(InvocationFailed):
                self.engine.invoke(trigger["function_id"], event)

    def _subscription(
        self, stream_name: str, group_id: str, context: Any, item_id: str | None
    ) -> Message:
        return {
            "subscription_id": f"sub-{uuid.uuid4().hex[:8]}",
            "stream_name": stream_name,
            "group_id": group_id,
            "id": item_id,
            "context": context,
        }
