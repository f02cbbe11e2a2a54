"""Authenticates stream connections: the engine's `iii-stream` worker calls this function once
per WebSocket upgrade on the stream port, because the run config names it as `auth_function`
(there is no trigger to register).

Input: `{"headers", "path", "query_params", "addr"}`; unlike the http trigger, each query
value here is a *list* of strings. The returned `{"context": ...}` reaches `stream:join` and
`stream:leave` handlers. This function cannot refuse a connection (an error only means no
context): refusing is the join handler's job, based on the context given here.

Tokens are `<user_id>.<expires_at>.<signature>`: signed with STREAM_AUTH_SECRET and valid until
`expires_at` (Unix seconds; see `issue_token`), which may be at most 24 hours away: a stolen token
must not outlive a day. Clients send an `Authorization: Bearer ...` header (or `?token=...`, which
proxies may log). While you rotate the secret, tokens signed with STREAM_AUTH_SECRET_PREVIOUS
are accepted too.
"""

import hashlib
import hmac
import os
import time
from typing import Any, TypedDict

from src.lib.iii_client import iii

FUNCTION_ID = "orders-worker::stream-auth"
TOKEN_LIFETIME_SECONDS = 3600
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600
SECRET_VARIABLES = ("STREAM_AUTH_SECRET", "STREAM_AUTH_SECRET_PREVIOUS")


class StreamAuthInput(TypedDict, total=False):
    headers: dict[str, str]
    path: str
    query_params: dict[str, list[str]]
    addr: str


class StreamAuthResult(TypedDict):
    context: dict[str, Any] | None


def _signature(claims: str, secret: str) -> bytes:
    # Bytes, never str: a token is whatever a client sent, and `hmac.compare_digest` raises on
    # non-ASCII text ("surrogatepass" keeps even a lone surrogate from the JSON encodable).
    key, message = secret.encode(), claims.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest().encode()


def issue_token(
    user_id: str,
    secret: str,
    lifetime_seconds: int = TOKEN_LIFETIME_SECONDS,
    now: float | None = None,
) -> str:
    """A token for `user_id`, valid for `lifetime_seconds` (at most a day), for your login flow to
    hand to a stream client."""
    if lifetime_seconds > MAX_TOKEN_LIFETIME_SECONDS:
        raise ValueError(f"a token may live at most {MAX_TOKEN_LIFETIME_SECONDS} seconds")
    expires_at = int(time.time() if now is None else now) + lifetime_seconds
    claims = f"{user_id}.{expires_at}"
    return f"{claims}.{_signature(claims, secret).decode()}"


def verify_token(token: str, secrets: list[str] | str, now: float | None = None) -> str | None:
    """The user id a token was issued for, or None when it is forged, malformed, expired or
    valid for longer than a token may be. Any of `secrets` may have signed it."""
    claims, _, signature = token.rpartition(".")
    user_id, _, expires_at = claims.rpartition(".")
    if not user_id or not (expires_at.isascii() and expires_at.isdigit()):
        return None
    given = signature.encode("utf-8", "surrogatepass")
    keys = [secrets] if isinstance(secrets, str) else secrets
    # Every secret is tried, so the time taken does not tell which one matched.
    matches = [hmac.compare_digest(given, _signature(claims, k)) for k in keys if k.strip()]
    if not any(matches):
        return None
    left = int(expires_at) - (time.time() if now is None else now)
    if not 0 < left <= MAX_TOKEN_LIFETIME_SECONDS:
        return None
    return user_id


def token_from(request: StreamAuthInput) -> str:
    tokens = request.get("query_params", {}).get("token") or []
    if tokens:
        return tokens[0]
    scheme, _, credentials = request.get("headers", {}).get("authorization", "").partition(" ")
    return credentials if scheme.lower() == "bearer" else ""


async def authenticate_stream(request: StreamAuthInput) -> StreamAuthResult:
    # Without a secret nobody is authenticated, so join handlers refuse every subscription.
    accepted = [os.environ.get(name, "") for name in SECRET_VARIABLES]
    user_id = verify_token(token_from(request), accepted)
    return {"context": {"user_id": user_id} if user_id else None}


iii.register_function(
    FUNCTION_ID, authenticate_stream, description="Authenticate stream connections"
)
