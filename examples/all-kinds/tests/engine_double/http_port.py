# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The http worker on a real port: any HTTP client (curl, a browser, the SDK's own tests) reaches
the worker's routes the way it would through the engine, with the engine's routing, middleware,
status codes and error bodies (`EngineDouble.http` answers them; this only carries the bytes)."""

import asyncio
import contextlib
from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from typing import Any

from .protocol import HttpResponse

Answer = Callable[..., HttpResponse]  # EngineDouble.http
MAX_BODY = 64 * 2**20  # what the engine's WebSocket accepts, and so the most a route can receive


class Port:
    """HTTP/1.1 on 127.0.0.1:`port` (0: any free one), each request answered by `engine.http` on
    a thread: it blocks until the worker's handler returns."""

    def __init__(self, engine: Any) -> None:  # an EngineDouble
        self._answer: Answer = engine.http
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop every connection, as an engine that goes away would."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            await _exchange(self._answer, reader, writer)
        finally:
            self._open.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _exchange(
    answer: Answer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
        while request := await _read_request(reader):
            method, target, headers, body = request
            call = partial(answer, method, target, headers=headers, data=body)
            response = await asyncio.get_running_loop().run_in_executor(None, call)
            keep_alive = headers.get("connection", "").lower() != "close"
            writer.write(_response_bytes(response, keep_alive))
            await writer.drain()
            if not keep_alive:
                break


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    """One request off the connection, or None at its end (ValueError when malformed)."""
    line = await reader.readline()
    if not line.strip():
        return None
    method, target, _version = line.decode("latin-1").split()
    headers: dict[str, str] = {}
    while (header := await reader.readline()).strip():
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readline()).split(b";")[0], 16):
            body += await reader.readexactly(size + 2)  # each chunk ends in CRLF
            body = body[:-2]
            if len(body) > MAX_BODY:
                raise ValueError("body too large")
        while (await reader.readline()).strip():  # trailers
            pass
    else:
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY:
            raise ValueError("body too large")
        body = await reader.readexactly(length)
    return method, target, headers, body


def _response_bytes(response: HttpResponse, keep_alive: bool) -> bytes:
    status = response.status_code
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    headers = {
        name.lower(): value
        for name, value in response.headers.items()
        if name.lower() not in {"content-length", "connection", "transfer-encoding"}
    }
    headers["content-length"] = str(len(response.content))
    headers["connection"] = "keep-alive" if keep_alive else "close"
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + response.content
