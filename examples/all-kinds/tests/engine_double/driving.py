# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""What a test does through the engine's workers rather than the protocol: an HTTP request to
the http worker, a cron tick, a stream client's authentication and subscriptions."""

from collections.abc import Mapping
from typing import Any

from .protocol import EngineWorker, HttpResponse


class Driving:
    """Mixed into EngineDouble: each method reaches the engine worker that would do it, and says
    so when the project does not run that worker."""

    providers: frozenset[str]
    _provided: dict[str, list[EngineWorker]]

    def http(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        query: Mapping[str, str | list[str]] | None = None,
        data: bytes | str | None = None,
    ) -> HttpResponse:
        """An HTTP request to the engine's http worker: `body` is sent as JSON, `data` as is.
        `query` adds to the path's query string; a list value repeats its key (the handler, as
        for real, gets one string per key: the last)."""
        http = self._worker("http", "http")
        response: HttpResponse = http.request(method, path, body, headers, query, data)
        return response

    def cron_tick(self, function_id: str) -> None:
        """Fire the cron trigger bound to `function_id` once, as the scheduler would (a false or
        failing condition skips it; a failing handler raises `InvocationFailed` here, where the
        scheduler would log it)."""
        self._worker("cron", "cron").tick(function_id)

    def authenticate(
        self, query_params: dict[str, list[str]], headers: dict[str, str] | None = None
    ) -> Any:
        """The context a stream connection gets: the auth function's, or None (it fails open)."""
        return self._worker("stream", "stream_auth").authenticate(query_params, headers)

    def join(
        self, stream_name: str, group_id: str, context: Any = None, item_id: str | None = None
    ) -> bool:
        """Whether a stream subscription is let in: every join handler is asked, and it is refused
        when any answers `{"unauthorized": true}` (one that fails counts as a yes)."""
        streams = self._worker("stream", "stream_auth")
        return bool(streams.join(stream_name, group_id, context, item_id))

    def leave(self, stream_name: str, group_id: str, context: Any = None) -> None:
        """Tell the leave handlers a subscription ended (the engine ignores their errors)."""
        self._worker("stream", "stream_auth").leave(stream_name, group_id, context)

    def _worker(self, provider: str, module: str) -> Any:
        """The object playing `provider`'s `module`; an error naming the provider if it is not run."""
        for worker in self._provided.get(provider, []):
            if type(worker).__module__.rpartition(".")[2] == module:
                return worker
        raise RuntimeError(
            f"this engine double does not run the {provider} worker (providers: "
            f"{sorted(self.providers)}); the project's run config starts the engine workers"
        )
