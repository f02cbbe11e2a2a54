# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The engine's own functions (`engine::*`, its engine_fn worker): channels, and the function
catalogue `iii.list_functions()` and the iii console read."""

from typing import Any

from .protocol import Builtin, EngineWorker, Message


class EngineFunctions(EngineWorker):
    """`engine::channels::create` and `engine::functions::list`, as the engine_fn worker serves
    them, and iii-observability's `engine::log::*` (`engine::workers::register` is the core's: it
    names the calling connection)."""

    def functions(self) -> dict[str, Builtin]:
        # engine::log::* are iii-observability's, a worker every engine runs.
        logs = {f"engine::log::{level}": self._log for level in LOG_LEVELS}
        return {
            "engine::channels::create": self._channels_create,
            "engine::functions::list": self._functions_list,
            **logs,
        }

    async def _log(self, data: Message) -> None:
        """An OTEL log record (the double keeps it in `calls`): `message` must be a string."""
        if not isinstance(data["message"], str):
            raise TypeError("invalid type: message, expected a string")

    async def _channels_create(self, data: Message) -> Any:
        channel = self.engine._open_channel()
        return {"writer": channel.ref("write"), "reader": channel.ref("read")}

    async def _functions_list(self, data: Message) -> Any:
        """Every function a worker or the engine serves, `engine::*` hidden unless
        `include_internal`; from 0.22 each names its worker and takes `prefix`, `worker(s)` and
        `search` (ranked: the id anchored, then in the id, then only the description)."""
        catalogue = self._catalogue()
        internal = bool(data.get("include_internal"))
        # 0.11 lists `FunctionInfo` (formats, no worker); 0.22 `FunctionSummary` (a worker).
        dropped = _FORMATS if self.rules.function_summaries else ("worker_name",)
        for summary in catalogue:
            for field in dropped:
                del summary[field]
        if not self.rules.function_summaries:
            shown = [
                f for f in catalogue if internal or not f["function_id"].startswith("engine::")
            ]
            return {"functions": sorted(shown, key=lambda f: f["function_id"])}
        if not internal:
            catalogue = [f for f in catalogue if not _internal(f)]
        prefix, search = data.get("prefix"), (data.get("search") or "").lower()
        names = {data.get("worker"), *(data.get("workers") or [])} - {None}
        shown = [
            f
            for f in catalogue
            if (not prefix or f["function_id"].startswith(prefix))
            and (not names or f["worker_name"] in names)
            and (not search or search in f"{f['function_id']}\n{f['description'] or ''}".lower())
        ]
        shown.sort(
            key=lambda f: (_rank(f["function_id"], search) if search else 0, f["function_id"])
        )
        return {"functions": shown}

    def _catalogue(self) -> list[Message]:
        """Worker-registered functions, then the engine's and its workers' (named, as the engine
        names a function it cannot place, by the id's first `::` segment)."""
        with self.engine._changed:
            workers = [(w.name, f) for w in self.engine._workers for f in w.functions.values()]
        listed: dict[str, Message] = {}
        for name, function in workers:
            listed.setdefault(function["id"], _summary(function["id"], name, function))
        for function_id in self.engine._builtins.keys() - listed.keys():
            listed[function_id] = _summary(function_id, None, {})
        return list(listed.values())


_FORMATS = ("request_format", "response_format")
_FIELDS = ("description", *_FORMATS, "metadata")
LOG_LEVELS = ("info", "warn", "error", "debug", "trace")


def _summary(function_id: str, worker_name: str | None, registration: Message) -> Message:
    """A function as both lines list it (each drops what its shape lacks)."""
    summary = {"function_id": function_id, "worker_name": worker_name or function_id.split("::")[0]}
    return {**summary, **{field: registration.get(field) for field in _FIELDS}}


def _internal(summary: Message) -> bool:
    """Hidden by default from 0.22: `engine::*` but the public `engine::queue::*`, and any
    function whose metadata says `internal: true`."""
    function_id: str = summary["function_id"]
    metadata = summary["metadata"] if isinstance(summary["metadata"], dict) else {}
    engine_only = function_id.startswith("engine::") and not function_id.startswith(
        "engine::queue::"
    )
    return engine_only or metadata.get("internal") is True


def _rank(function_id: str, needle: str) -> int:
    lowered = function_id.lower()
    if lowered.startswith(needle) or needle in lowered.split("::"):
        return 0
    return 1 if needle in lowered else 2
