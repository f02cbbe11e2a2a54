# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The shapes the engine's `http` trigger sends to handlers and reads back from them, and the
one answer a handler gives when something unexpected goes wrong."""

import functools
import traceback
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypedDict

from src.lib.iii_client import logger


class HttpRequest(TypedDict, total=False):
    """What an `http`-triggered handler receives (a plain dict).

    `path` is the registered pattern (`/items/:id`), not the URL. `body` is the parsed JSON only
    when the request's Content-Type is JSON, else None. Header names are lower-case. The dict also
    carries `request_body` and `response` channels for streaming, so it is not JSON as a whole.
    """

    path_params: dict[str, str]
    query_params: dict[str, str]
    headers: dict[str, str]
    path: str
    method: str
    body: Any


class HttpResponse(TypedDict, total=False):
    """A buffered response. The engine reads `status_code` only (default 200): the `statusCode`
    key from the Motia migration guide is ignored and would turn every answer into a 200."""

    status_code: int
    body: Any
    headers: dict[str, str]


def error_response(status_code: int, reason: str) -> HttpResponse:
    return {"status_code": status_code, "body": {"error": reason}}


Handler = Callable[[HttpRequest], Coroutine[Any, Any, HttpResponse]]


def hide_unexpected_errors(handler: Handler) -> Handler:
    """An exception in `handler` becomes a 500 whose body carries only an error id; what went
    wrong, with its traceback, is logged under that id.

    Without this the engine answers with the exception's text, and that text can hold what a
    client must never see (a database URL with its password, say).
    """

    @functools.wraps(handler)
    async def answering(request: HttpRequest) -> HttpResponse:
        try:
            return await handler(request)
        except Exception as error:
            error_id = uuid.uuid4().hex
            logger.error(
                "Unexpected error; answered 500",
                {
                    "error_id": error_id,
                    "handler": handler.__qualname__,
                    "error": f"{type(error).__name__}: {error}",
                    "traceback": traceback.format_exc(),
                },
            )
            body = {"error": "internal error", "error_id": error_id}
            return {"status_code": 500, "body": body}

    return answering
