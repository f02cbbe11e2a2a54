# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The state worker: `state::*` functions over the double's `state`, and `state` triggers fired with
the engine's event on every change."""

from typing import Any

from .protocol import Builtin, EngineWorker, Message
from .update_ops import apply_update_ops


class Provider(EngineWorker):
    """The state worker of the line."""

    def functions(self) -> dict[str, Builtin]:
        table: dict[str, Builtin] = {
            "state::set": self._state_set,
            "state::get": self._state_get,
            "state::delete": self._state_delete,
            "state::update": self._state_update,
            "state::list": self._state_list,
            "state::list_groups": self._state_list_groups,
        }
        if self.rules.state_list_keys:
            table["state::list_keys"] = self._state_list_keys
        return table

    def refusal(self, trigger: Message) -> str | None:
        if not isinstance(trigger.get("config"), dict):
            return "Failed to parse trigger config: expected struct StateTriggerConfig"
        return None

    async def _state_changed(
        self, event_type: str, scope: str, key: str, old: Any, new: Any
    ) -> None:
        event = {
            "type": "state",
            "event_type": event_type,
            "scope": scope,
            "key": key,
            "old_value": old,
            "new_value": new,
        }
        for trigger in self.engine.triggers_of("state"):
            config = trigger["config"]
            if config.get("scope") in (None, scope) and config.get("key") in (None, key):
                self.engine._spawn(self.engine._fire(trigger, event, self.engine._sidecar(trigger)))

    async def _state_set(self, data: Message) -> Any:
        scope, key, value = data["scope"], data["key"], data["value"]
        present, old = (scope, key) in self.engine.state, self.engine.state.get((scope, key))
        self.engine._groups.add(("state", scope))
        self.engine._record(lambda: self.engine.state.__setitem__((scope, key), value))
        await self._state_changed(
            "state:updated" if present else "state:created", scope, key, old, value
        )
        return {"old_value": old, "new_value": value}

    async def _state_get(self, data: Message) -> Any:
        return self.engine.state.get((data["scope"], data["key"]))

    async def _state_delete(self, data: Message) -> Any:
        scope, key = data["scope"], data["key"]
        old = self.engine.state.get((scope, key))
        self.engine._record(lambda: self.engine.state.pop((scope, key), None))
        await self._state_changed("state:deleted", scope, key, old, None)
        return old

    async def _state_update(self, data: Message) -> Any:
        scope, key = data["scope"], data["key"]
        present, old = (scope, key) in self.engine.state, self.engine.state.get((scope, key))
        result = apply_update_ops(old, present, data["ops"])
        self.engine._groups.add(("state", scope))
        self.engine._record(
            lambda: self.engine.state.__setitem__((scope, key), result["new_value"])
        )
        event_type = "state:updated" if present else "state:created"
        await self._state_changed(event_type, scope, key, result["old_value"], result["new_value"])
        return result

    async def _state_list(self, data: Message) -> Any:
        return [value for (scope, _), value in self.engine.state.items() if scope == data["scope"]]

    async def _state_list_keys(self, data: Message) -> Any:
        return {"keys": [key for scope, key in self.engine.state if scope == data["scope"]]}

    async def _state_list_groups(self, data: Message) -> Any:
        kept = {group[1] for group in self.engine._groups if group[0] == "state"}
        return {"groups": sorted(kept | {scope for scope, _ in self.engine.state})}
