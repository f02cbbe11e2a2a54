# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""What every part of the double shares: messages, the errors and responses tests see, a worker's
connection, channels, the base of the engine-worker modules, and reading a project's run config."""

import asyncio
import contextlib
import importlib
import importlib.util
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from .lines import PROVIDER_MODULES, REGISTRY, RULES, WORKER_NAMES

if TYPE_CHECKING:
    from .core import EngineDouble

Message = dict[str, Any]
T = TypeVar("T")
Builtin = Callable[[Message], Awaitable[Any]]


class InvocationFailed(Exception):
    """A function answered an invocation with an error (`.error` is the engine's error body)."""

    def __init__(self, error: Message) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = error


@dataclass
class HttpResponse:
    """What an HTTP client of the engine would receive: `body` is the decoded JSON (or the text of
    a non-JSON body, None when empty), `content` the bytes on the wire."""

    status_code: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""


def frame(message: Any) -> str:
    """A message as serde_json writes it: text as UTF-8 (not `\\u` escapes), so it keeps its size."""
    try:
        return json.dumps(message, ensure_ascii=False).encode().decode()
    except UnicodeEncodeError:  # a lone surrogate, which UTF-8 cannot carry, stays escaped
        return json.dumps(message)


def stopped() -> Message:
    """What the engine answers for a call whose worker went away mid-flight."""
    return {"code": "invocation_stopped", "message": "Invocation stopped"}


async def bounded(awaitable: Awaitable[Any], seconds: float | None) -> Any:
    """Await with a time limit, raising the builtin TimeoutError on every Python version."""
    future = asyncio.ensure_future(awaitable)
    if seconds is None:
        return await future
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        future.cancel()

    timer = asyncio.get_running_loop().call_later(seconds, expire)
    try:
        return await future
    except asyncio.CancelledError:
        if expired:
            raise TimeoutError(f"no answer within {seconds} s") from None
        raise
    finally:
        timer.cancel()


@dataclass(eq=False)
class Connection:
    """A worker's connection and what it registered over it."""

    connection: ServerConnection
    worker_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    reattach_token: str = field(default_factory=lambda: str(uuid.uuid4()))
    name: str | None = None
    namespace: str = "default"
    functions: dict[str, Message] = field(default_factory=dict)
    triggers: dict[str, Message] = field(default_factory=dict)
    session: Any = None  # on the RBAC listener's connections: their rbac_port.Session


class Channel:
    """An engine channel: frames written at one end come out at the other; None closes it."""

    def __init__(self) -> None:
        self.id = str(uuid.uuid4())
        self.key = str(uuid.uuid4())
        self.frames: asyncio.Queue[str | bytes | None] = asyncio.Queue()

    def ref(self, direction: str) -> Message:
        return {"channel_id": self.id, "access_key": self.key, "direction": direction}

    async def serve(self, connection: ServerConnection, reader: bool) -> None:
        """A channel socket: a reader gets the channel's frames until it closes; a writer's frames
        go into the channel, and its close ends it."""
        if reader:
            with contextlib.suppress(ConnectionClosed):
                while (frame := await self.frames.get()) is not None:
                    await connection.send(frame)
                await connection.close()
            return
        try:
            async for frame in connection:
                self.frames.put_nowait(frame)
        except ConnectionClosed:
            pass
        finally:
            self.frames.put_nowait(None)


class EngineWorker:
    """One engine worker the double plays (http, cron, ...): its functions, the trigger configs it
    refuses, and what it does when a trigger of its types comes and goes."""

    def __init__(self, engine: "EngineDouble") -> None:
        self.engine = engine
        self.rules = RULES[engine.line]

    def functions(self) -> dict[str, Builtin]:
        return {}

    def refusal(self, trigger: Message) -> str | None:
        """The worker's registration error for this trigger, or None when it takes it."""
        return None

    def registered(self, trigger: Message) -> None:
        pass

    def unregistered(self, trigger: Message) -> None:
        pass

    def left(self, worker: Connection) -> None:
        """A worker's connection closed (after its functions and triggers went)."""


def available_providers() -> frozenset[str]:
    """The engine workers this package has every module for."""
    package = __package__ or "engine_double"
    return frozenset(
        name
        for name, modules in PROVIDER_MODULES.items()
        if all(importlib.util.find_spec(f"{package}.{module}") for module in modules)
    )


def load_provider(module: str) -> Callable[["EngineDouble"], EngineWorker]:
    try:
        imported = importlib.import_module(f"{__package__}.{module}")
    except ModuleNotFoundError as missing:
        raise RuntimeError(
            f"tests/engine_double has no {module} module: the template renders the modules of "
            "the engine workers the run config starts; run `copier update` after adding one"
        ) from missing
    provider: Callable[[EngineDouble], EngineWorker] = imported.Provider
    return provider


# ---------------------------------------------------------------------------------------------
# Run configs.


def read_yaml(path: Path) -> Message:
    data = yaml.safe_load(path.read_text()) if path.is_file() else None
    return data if isinstance(data, dict) else {}


def run_config(root: Path) -> tuple[set[str] | None, str | None, dict[str, Message] | None]:
    """Providers, stream auth function and named queues from the project's run config."""
    compose = read_yaml(root / "worker-compose.yaml")
    if compose:
        providers = set()
        for container in (compose.get("containers") or {}).values():
            worker = str(container.get("worker", "")) if isinstance(container, dict) else ""
            name = (
                worker.removeprefix(REGISTRY).split("@")[0] if worker.startswith(REGISTRY) else ""
            )
            if name in WORKER_NAMES:
                providers.add(WORKER_NAMES[name])
        engine_workers = (compose.get("engine") or {}).get("workers") or {}
        auth = None
        if "iii-stream" in engine_workers:
            providers.add("stream")
            auth = (engine_workers.get("iii-stream") or {}).get("auth_function")
        return providers, auth, None
    config = read_yaml(root / "config.yaml")
    if not config:
        return None, None, None
    providers, auth, queues = set(), None, None
    for entry in [*(config.get("workers") or []), *(config.get("modules") or [])]:
        if not isinstance(entry, dict) or entry.get("name") not in WORKER_NAMES:
            continue
        provider, settings = WORKER_NAMES[entry["name"]], entry.get("config") or {}
        providers.add(provider)
        if provider == "stream":
            auth = settings.get("auth_function")
        if provider == "queue":
            queues = dict(settings.get("queue_configs") or {})
    return providers, auth, queues


def answered_line(root: Path) -> str | None:
    line = read_yaml(root / ".copier-answers.yml").get("iii_line")
    return str(line) if line else None


def check_registered(
    engine: "EngineDouble", expected: dict[str, list[tuple[str, Any]]], timeout: float
) -> None:
    """`EngineDouble.check_registered`: a trigger that never came shows in the comparison."""
    engine.wait_for_functions(*expected, timeout=timeout)
    with contextlib.suppress(TimeoutError):
        engine.wait_for_triggers(*(f for f, t in expected.items() if t), timeout=timeout)
    key = partial(json.dumps, sort_keys=True, default=str)
    got = {
        f: sorted(
            [
                (t["trigger_type"], t["config"])
                for t in engine.triggers.values()
                if t["function_id"] == f
            ],
            key=key,
        )
        for f in expected
    }
    assert got == {f: sorted(t, key=key) for f, t in expected.items()}, got


def observers(engine: Any) -> Any:
    """The line's observers (observe.py, which only a 0.25 project has), or None."""
    if not engine.rules.observers:
        return None
    return importlib.import_module(f"{__package__}.observe").Observers(engine)
