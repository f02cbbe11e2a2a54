"""`GET /admin/status` behind an API-key middleware that the engine runs before the handler.

The engine calls the middleware with `{"phase", "request": {path_params, query_params, headers,
method}, "context"}` (no body) and reads back either `{"action": "continue"}` or
`{"action": "respond", "response": {...}}`. Anything else only logs a warning and lets the request
through, so the middleware denies explicitly and never by accident of a bad return value.

Set the key in the worker's environment as API_KEY; callers send it in the `x-api-key` header.
`src/main.py` refuses to start with a key an attacker could guess (short, blank or a placeholder).
"""

import hmac
import os
import time
from typing import Any, Literal, TypedDict

from src.lib.http import HttpRequest, HttpResponse, hide_unexpected_errors
from src.lib.iii_client import WORKER_NAME, iii, logger

API_PATH = "/admin/status"
MIDDLEWARE_ID = "orders-worker::admin::require-api-key"
STATUS_ID = "orders-worker::admin::status"
API_KEY_HEADER = "x-api-key"
STARTED_AT = time.monotonic()


class MiddlewareRequest(TypedDict, total=False):
    path_params: dict[str, str]
    query_params: dict[str, str]
    headers: dict[str, str]
    method: str


class MiddlewareInput(TypedDict, total=False):
    phase: str
    request: MiddlewareRequest
    context: dict[str, Any]


class MiddlewareResult(TypedDict, total=False):
    action: Literal["continue", "respond"]
    response: HttpResponse


# One answer for every refusal: a caller learns nothing about the key, nor whether there is one.
DENIED = f"missing or wrong {API_KEY_HEADER} header"


def _deny() -> MiddlewareResult:
    return {
        "action": "respond",
        "response": {
            "status_code": 401,
            "body": {"error": DENIED},
            "headers": {"www-authenticate": f'ApiKey header="{API_KEY_HEADER}"'},
        },
    }


async def require_api_key(data: MiddlewareInput) -> MiddlewareResult:
    try:
        expected = os.environ.get("API_KEY", "")
        # Fail closed: a server deployed without a key must not serve the route to anyone.
        if not expected.strip():
            logger.warn("Refused a request: the worker has no API_KEY", {"route": API_PATH})
            return _deny()
        given = data.get("request", {}).get("headers", {}).get(API_KEY_HEADER, "")
        # Constant-time comparison, so response timing does not reveal how much of a key was right.
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            return _deny()
        return {"action": "continue"}
    except Exception as error:
        # A middleware that raises makes the engine answer 500 with the error's text: deny.
        logger.error("The API-key check failed; denied", {"error": repr(error)})
        return _deny()


@hide_unexpected_errors
async def get_status(_request: HttpRequest) -> HttpResponse:
    return {
        "status_code": 200,
        "body": {"worker": WORKER_NAME, "uptime_seconds": round(time.monotonic() - STARTED_AT, 1)},
    }


iii.register_function(MIDDLEWARE_ID, require_api_key, description="Allow requests with the API key")
iii.register_function(STATUS_ID, get_status, description=f"Worker status (GET {API_PATH})")
iii.register_trigger(
    {
        "type": "http",
        "function_id": STATUS_ID,
        "config": {
            "api_path": API_PATH,
            "http_method": "GET",
            "middleware_function_ids": [MIDDLEWARE_ID],
        },
    }
)
