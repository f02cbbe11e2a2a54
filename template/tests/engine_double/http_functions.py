# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""iii-http-functions: a function a worker registers with an HTTP `invocation` is the engine's,
and calling it is an HTTP request to that endpoint."""

import asyncio
import http.client
import json
import os
import socket
import ssl
import time
import uuid
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .protocol import Connection, EngineWorker, InvocationFailed, Message

if TYPE_CHECKING:
    from .core import EngineDouble


class Provider(EngineWorker):
    """The external functions, each with the worker that registered it (its unregistration or
    its disconnect removes it)."""

    def __init__(self, engine: "EngineDouble") -> None:
        super().__init__(engine)
        self.owners: dict[str, Connection] = {}

    def register(self, worker: Connection, message: Message) -> None:
        """Take the function as the engine's; an auth secret missing from the environment
        refuses it (the engine logs that, and the function does not exist)."""
        function_id, invocation = message["id"], dict(message["invocation"])
        try:
            invocation["auth_headers"] = _auth_headers(invocation.get("auth"))
        except InvocationFailed:
            return

        async def invoke(data: Message) -> Any:
            return await asyncio.to_thread(_request, function_id, invocation, data)

        def take() -> None:
            self.owners[function_id] = worker
            self.engine._builtins[function_id] = invoke
            worker.functions[function_id] = message

        self.engine._record(take)

    def left(self, worker: Connection) -> None:
        for function_id in [f for f, owner in self.owners.items() if owner is worker]:
            self.unregister(worker, function_id)

    def unregister(self, worker: Connection, function_id: str) -> bool:
        """Remove it if this worker registered it; False when it is not an external function."""
        if function_id not in self.owners:
            return False
        if self.owners[function_id] is worker:
            del self.owners[function_id]
            self.engine._builtins.pop(function_id, None)
            worker.functions.pop(function_id, None)
        return True


def _auth_headers(auth: Any) -> dict[str, str]:
    """`bearer` and `api_key` name environment variables the engine reads when the function is
    registered (`hmac` signs the body; the double does not)."""
    if not isinstance(auth, dict):
        return {}
    key = auth.get("token_key") or auth.get("value_key") or ""
    value = os.environ.get(key)
    if auth.get("type") == "hmac":
        return {}
    if value is None:
        raise InvocationFailed({"code": "token_not_found", "message": f"Token not found: {key}"})
    if auth.get("type") == "bearer":
        return {"Authorization": f"Bearer {value}"}
    return {str(auth.get("header")): value}


def _request(function_id: str, invocation: Message, data: Any) -> Any:
    """The engine's request: JSON body, its x-iii headers, then the function's own; a 2xx body
    is the result, an error status the function's error."""
    url = urlsplit(invocation["url"])
    body = json.dumps(data).encode()
    headers = {
        "Host": url.netloc,
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Connection": "close",
        "x-iii-Function-Path": function_id,
        "x-iii-Invocation-ID": str(uuid.uuid4()),
        "x-iii-Timestamp": str(int(time.time())),
        **invocation.get("headers", {}),
        **invocation["auth_headers"],
    }
    method = str(invocation.get("method") or "POST").upper()
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    timeout = (invocation.get("timeout_ms") or 30_000) / 1000
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout) as raw:
            sock = raw
            if url.scheme == "https":
                sock = ssl.create_default_context().wrap_socket(raw, server_hostname=url.hostname)
            # Head and body in one write, as the engine's HTTP client sends a small request.
            sock.sendall(head.encode() + b"\r\n" + body)
            response = http.client.HTTPResponse(sock, method=method)
            response.begin()
            status, answer = response.status, response.read()
    except (OSError, http.client.HTTPException) as failed:
        raise InvocationFailed({"code": "http_request_failed", "message": str(failed)}) from None
    if status >= 400:
        raise InvocationFailed(_error(status, answer))
    try:
        return json.loads(answer) if answer else None
    except ValueError as bad:
        if status >= 300:
            return None
        raise InvocationFailed({"code": "invalid_response", "message": str(bad)}) from None


def _error(status: int, body: bytes) -> Message:
    """`{"error": {"code", "message"}}` from the endpoint, else `http_error` with the status."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), str) else "http_error"
        text = error.get("message")
        return {"code": code, "message": text if isinstance(text, str) else "HTTP request failed"}
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    return {"code": "http_error", "message": f"HTTP {status} {phrase}".rstrip()}
