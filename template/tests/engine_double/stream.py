# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The iii-stream worker: `stream::*` functions over the double's `streams`, and `stream` triggers
fired with the engine's `StreamWrapperMessage` (connections are in stream_auth)."""

from datetime import datetime, timezone
from typing import Any

from .protocol import Builtin, EngineWorker, InvocationFailed, Message
from .update_ops import apply_update_ops


class Provider(EngineWorker):
    """iii-stream, engine-owned on every line."""

    def functions(self) -> dict[str, Builtin]:
        return {
            "stream::set": self._stream_set,
            "stream::get": self._stream_get,
            "stream::delete": self._stream_delete,
            "stream::list": self._stream_list,
            "stream::list_groups": self._stream_list_groups,
            "stream::list_all": self._stream_list_all,
            "stream::update": self._stream_update,
            "stream::send": self._stream_send,
        }

    def refusal(self, trigger: Message) -> str | None:
        config = trigger.get("config")
        if trigger.get("trigger_type") == "stream" and not (
            isinstance(config, dict) and isinstance(config.get("stream_name"), str)
        ):
            # The engine itself fails harder here (its stream worker unwraps the name).
            return "stream_name is required for stream triggers"
        return None

    async def _stream_changed(
        self, stream_name: str, group_id: str, item_id: str | None, event: Message
    ) -> None:
        """The engine fires the stream triggers, then emits the change to the clients of its
        stream port."""
        message = wrapped(stream_name, group_id, item_id, event)
        for trigger in self.engine.triggers_of("stream"):
            config = trigger["config"]
            if (
                config["stream_name"] == stream_name
                and config.get("group_id") in (None, "", group_id)
                and config.get("item_id") in (None, "", item_id or "")
            ):
                self.engine._spawn(
                    self.engine._fire(trigger, message, self.engine._sidecar(trigger))
                )
        clients = self.engine._ports.get("stream")
        if clients is not None:
            clients.publish(message)

    @staticmethod
    def _item(data: Message) -> tuple[str, str, str]:
        return data["stream_name"], data["group_id"], data["item_id"]

    def _custom(self, operation: str, data: Message) -> str | None:
        """The function of a worker that implements this stream itself (`create_stream`
        registers `stream::get(<name>)` and the rest), which the engine calls instead of its
        store, with the operation's own fields."""
        function_id = f"stream::{operation}({data['stream_name']})"
        return function_id if function_id in self.engine.functions else None

    async def _call_custom(self, function_id: str, data: Message, *fields: str) -> Any:
        keys = ("stream_name", "group_id", "item_id", *fields)
        return await self.engine._call(function_id, {k: data[k] for k in keys if k in data})

    async def _stream_set(self, data: Message) -> Any:
        key, value = self._item(data), data["data"]
        custom = self._custom("set", data)
        if custom is not None:
            result = await self._call_custom(custom, data, "data")
            if not isinstance(result, dict):
                message = "Failed to set value: Function returned no result"
                raise InvocationFailed({"code": "STREAM_SET_ERROR", "message": message})
            old, value = result.get("old_value"), result.get("new_value")
        else:
            old = self.engine.streams.get(key)
            self.engine._groups.add(("stream", *key[:2]))
            self.engine._record(lambda: self.engine.streams.__setitem__(key, value))
        change = "create" if old is None else "update"
        await self._stream_changed(*key, {"type": change, "data": value})
        return {"old_value": old, "new_value": value}

    async def _stream_get(self, data: Message) -> Any:
        custom = self._custom("get", data)
        if custom is not None:
            return await self._call_custom(custom, data)
        return self.engine.streams.get(self._item(data))

    async def _stream_delete(self, data: Message) -> Any:
        key = self._item(data)
        custom = self._custom("delete", data)
        if custom is not None:
            result = await self._call_custom(custom, data)
            old = result.get("old_value") if isinstance(result, dict) else None
        else:
            old = self.engine.streams.get(key)
            self.engine._record(lambda: self.engine.streams.pop(key, None))
        if old is not None:
            await self._stream_changed(*key, {"type": "delete", "data": old})
        return {"old_value": old}

    async def _stream_update(self, data: Message) -> Any:
        key = self._item(data)
        present, old = key in self.engine.streams, self.engine.streams.get(key)
        result = apply_update_ops(old, present, data["ops"])
        self.engine._groups.add(("stream", *key[:2]))
        self.engine._record(lambda: self.engine.streams.__setitem__(key, result["new_value"]))
        change = "update" if present else "create"
        await self._stream_changed(*key, {"type": change, "data": result["new_value"]})
        return result

    async def _stream_list(self, data: Message) -> Any:
        custom = self._custom("list", data)
        if custom is not None:
            return await self._call_custom(custom, data)
        wanted = (data["stream_name"], data["group_id"])
        return [v for (s, g, _), v in self.engine.streams.items() if (s, g) == wanted]

    def _stream_groups(self) -> set[tuple[str, str]]:
        kept = {(group[1], group[2]) for group in self.engine._groups if group[0] == "stream"}
        return kept | {(s, g) for s, g, _ in self.engine.streams}

    async def _stream_list_groups(self, data: Message) -> Any:
        custom = self._custom("list_groups", data)
        if custom is not None:
            return await self._call_custom(custom, data)
        # The engine lists them in hash-map order; sorted here, so tests can compare lists.
        return sorted({g for s, g in self._stream_groups() if s == data["stream_name"]})

    async def _stream_list_all(self, data: Message) -> Any:
        groups: dict[str, set[str]] = {}
        for stream_name, group_id in self._stream_groups():
            groups.setdefault(stream_name, set()).add(group_id)
        streams = [{"id": name, "groups": sorted(groups[name])} for name in sorted(groups)]
        return {"stream": streams, "count": len(streams)}

    async def _stream_send(self, data: Message) -> Any:
        event = {"type": "event", "event": {"type": data["type"], "data": data["data"]}}
        await self._stream_changed(data["stream_name"], data["group_id"], data.get("id"), event)
        return None


def wrapped(stream_name: str, group_id: str, item_id: str | None, event: Message) -> Message:
    """The engine's `StreamWrapperMessage`, what stream triggers and stream clients receive."""
    return {
        "type": "stream",
        "timestamp": int(datetime.now(timezone.utc).timestamp() * 1000),
        "streamName": stream_name,
        "groupId": group_id,
        "id": item_id,
        "event": event,
    }
