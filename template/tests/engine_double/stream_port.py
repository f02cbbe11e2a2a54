# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""iii-stream's client port (3112 by default): the WebSocket that browsers and other stream
clients open to join a stream's group or item, get a `sync` of what is there, then every change
made through `stream::set`, `update`, `delete` and `send`. As in the engine, the auth function
sees each upgrade, join handlers may refuse a subscription, and leave handlers hear each one end
(the template's docs/engine-double.md names the source)."""

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .protocol import Message
from .stream import wrapped
from .stream_auth import subscription

Where = tuple[str, str, str | None]  # stream name, group id, item id (None: the whole group)


@dataclass(eq=False)
class Client:
    """One client connection: its auth context, its subscriptions by id, and what is queued for
    it (the engine writes each connection's messages in order from one queue)."""

    connection: ServerConnection
    context: Any
    subscriptions: dict[str, Where] = field(default_factory=dict)
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    def send(self, message: Message) -> None:
        self.outbox.put_nowait(json.dumps(message, separators=(",", ":"), ensure_ascii=False))

    async def write(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.connection.send(await self.outbox.get())


class Port:
    """The stream clients' WebSocket on 127.0.0.1:`port` (0: any free one)."""

    def __init__(self, engine: Any) -> None:  # an EngineDouble
        self.engine = engine
        self.port = 0
        self._server: Server | None = None
        self._contexts: dict[ServerConnection, Any] = {}  # from the upgrade to the connection
        self._clients: list[Client] = []

    async def listen(self, port: int) -> None:
        # The engine's axum socket: no compression, no pings of its own, 64 MiB messages; the
        # open timeout leaves the auth function its 10 s.
        self._server = await serve(
            self._serve, "127.0.0.1", port, process_request=self._upgrade, compression=None,
            ping_interval=None, open_timeout=12, max_size=64 * 2**20,
        )  # fmt: skip
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and close every client connection (their leave handlers run)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def publish(self, message: Message) -> None:
        """A change (`StreamWrapperMessage`), sent to each client once for every subscription of
        its that matches: the group's, or the item's."""
        for client in self._clients:
            for stream_name, group_id, item_id in client.subscriptions.values():
                if (stream_name, group_id) == (message["streamName"], message["groupId"]) and (
                    item_id is None or item_id == message["id"]
                ):
                    client.send(message)

    async def _upgrade(self, connection: ServerConnection, request: Request) -> Response | None:
        """Only `/` is routed; a WebSocket upgrade there asks the auth function first, and
        whatever it answers, the connection opens (no context when it fails)."""
        url = urlsplit(request.path)
        if url.path != "/":
            return connection.respond(404, "")
        if request.headers.get("upgrade", "").lower() == "websocket":
            host, port = connection.remote_address[:2]
            headers = {
                name.lower(): value
                for name, value in request.headers.raw_items()
                if all(c == "\t" or " " <= c <= "~" for c in value)  # HeaderValue::to_str
            }
            upgrade = {
                "headers": headers,
                "path": url.path,
                "query_params": query_lists(url.query),
                "addr": f"{host}:{port}",
            }
            self._contexts[connection] = await self._streams.context(upgrade)
        return None

    @property
    def _streams(self) -> Any:
        return self.engine._worker("stream", "stream_auth")

    async def _serve(self, connection: ServerConnection) -> None:
        client = Client(connection, self._contexts.pop(connection, None))
        self._clients.append(client)
        writer = asyncio.ensure_future(client.write())
        try:
            async for frame in connection:
                message = incoming(frame)
                if message is not None:
                    await self._receive(client, *message)
        except ConnectionClosed:
            pass
        finally:
            self._clients.remove(client)
            writer.cancel()
            # The engine's cleanup: a leave for each subscription the client still held.
            for subscription_id, where in list(client.subscriptions.items()):
                event = subscription(subscription_id, *where, client.context)
                await self._streams.ask("stream:leave", event)

    async def _receive(self, client: Client, kind: str, data: Message) -> None:
        subscription_id = data["subscriptionId"]
        where: Where = (data["streamName"], data["groupId"], data.get("id"))
        event = subscription(subscription_id, *where, client.context)
        if kind == "leave":
            # Leave handlers hear it even for a subscription the client never had.
            await self._streams.ask("stream:leave", event)
            client.subscriptions.pop(subscription_id, None)
            return
        if not await self._streams.ask("stream:join", event):
            client.send(wrapped(*where, {"type": "unauthorized"}))
            return
        client.subscriptions[subscription_id] = where
        streams = self.engine._worker("stream", "stream")
        stream_name, group_id, item_id = where
        if item_id is None:
            synced = await streams._stream_list({"stream_name": stream_name, "group_id": group_id})
        else:
            item = {"stream_name": stream_name, "group_id": group_id, "item_id": item_id}
            synced = await streams._stream_get(item)
        client.send(wrapped(*where, {"type": "sync", "data": synced}))


def query_lists(query: str) -> dict[str, list[str]]:
    """`query_to_multi_map`: each key's values in order, as sent (not percent-decoded); a key
    without `=` gets `""`, an empty key is skipped."""
    lists: dict[str, list[str]] = {}
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key:
            lists.setdefault(key, []).append(value)
    return lists


def _refuse(constant: str) -> Any:
    raise ValueError(f"serde_json does not read {constant}")


def incoming(frame: str | bytes) -> tuple[str, Message] | None:
    """A text or binary frame as serde reads `StreamIncomingMessage`: `{"type": "join" | "leave",
    "data": {subscriptionId, streamName, groupId, id?}}`, or None for what it cannot read (the
    engine logs it and reads on)."""
    try:
        text = frame.decode() if isinstance(frame, bytes) else frame
        message = json.loads(text, parse_constant=_refuse) if text.strip() else None
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") not in ("join", "leave"):
        return None
    data, names = message.get("data"), ("subscriptionId", "streamName", "groupId")
    if not isinstance(data, dict) or not all(isinstance(data.get(n), str) for n in names):
        return None
    return (message["type"], data) if isinstance(data.get("id"), str | None) else None
