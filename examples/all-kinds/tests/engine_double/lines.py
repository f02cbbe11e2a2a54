# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""What differs between the iii lines the double plays, in one place: each line's engine workers
and the facts the other modules ask about (the template's docs/engine-double.md names the
source of each)."""

import importlib.metadata
import re
from dataclasses import dataclass

LINES = ("0.11", "0.22", "0.25")
PROVIDERS = frozenset({"http", "cron", "queue", "state", "stream", "pubsub", "http_functions"})

# Trigger types, by the engine worker that provides them.
TRIGGER_PROVIDERS = {
    "http": "http", "cron": "cron", "durable:subscriber": "queue", "state": "state",
    "stream": "stream", "stream:join": "stream", "stream:leave": "stream", "subscribe": "pubsub",
}  # fmt: skip

# The modules of this package that play each engine worker. A project gets those its run config
# starts (and update_ops with state or stream).
PROVIDER_MODULES = {
    "http": ("http",), "cron": ("cron",), "queue": ("queue",), "pubsub": ("pubsub",),
    "state": ("state",), "stream": ("stream", "stream_auth"), "http_functions": ("http_functions",),
}  # fmt: skip

# What a run config may call each engine worker: the in-engine builtins' `iii-*` names (every line
# up to 0.22), 0.22's unprefixed names and 0.25's registry packages.
WORKER_NAMES = {prefix + name: name for name in PROVIDERS for prefix in ("", "iii-")}
REGISTRY = "package://api.workers.iii.dev/"

NO_QUEUE_PROVIDER = (
    "No queue provider is installed. `TriggerAction::Enqueue` routes through the "
    "`engine::queue::enqueue` provider, which the standalone queue worker registers. "
    "Add it with `iii worker add queue`. (underlying: {underlying})"
)


@dataclass(frozen=True)
class LineRules:
    """The facts of one line. 0.11 and 0.22 run the engine's in-engine builtins; 0.25 runs the
    registry workers (http, cron, queue, state, pubsub) and the engine's own iii-stream."""

    # Protocol: `workerregistered` carries a reattach token (0.22+) and `features` (0.25), which
    # also acks each function (`functionregistered`) and enforces one owner per function id and
    # per worker name.
    reattach: bool
    features: tuple[str, ...]
    registry_identity: bool
    not_found_suffix: str
    # Trigger `metadata` reaches cron, state and stream handlers (0.21.3+).
    trigger_metadata: bool
    # The http worker: the registry one (0.25), the 0.22 builtin, or 0.11's with flat error
    # bodies, a bare 404 and JSON bodies kept off the request channel.
    http_registry: bool
    http_flat_errors: bool
    http_metadata: bool
    # The cron scheduler: the registry worker's message wording and blank check.
    cron_registry: bool
    # The queue: deliveries before the dead-letter list (`fixed` 3, `retries+1` or `retries`),
    # the registry worker's `queue` alias, strict subscriber config and delivery metadata.
    queue_attempts: str
    queue_registry: bool
    # `TriggerAction.Enqueue`: served by the queue on 0.11 and 0.25 (0.22's builtin lacks the
    # provider function); without one, 0.11 names its module, later lines the missing function.
    enqueue_served: bool
    enqueue_without_queue: str
    # The in-engine pubsub drops a topic's every subscription when one of them goes.
    pubsub_drops_topic: bool
    # `state::list_keys` (the registry state worker's addition).
    state_list_keys: bool
    # `engine::functions::list` names each function's worker and filters (0.22+).
    function_summaries: bool
    # Observers (`iii.observe`, observe.v1): the double's observe.py, rendered only for 0.25.
    observers: bool


# Each fact, for 0.11, 0.22 and 0.25.
_FACTS = {
    "reattach": (False, True, True),
    "features": ((), (), ("observe.v1", "local-dispatch.v1")),
    "registry_identity": (False, False, True),
    "not_found_suffix": ("", "", " in namespace default."),
    "trigger_metadata": (False, True, True),
    "http_registry": (False, False, True),
    "http_flat_errors": (True, False, False),
    "http_metadata": (False, True, False),
    "cron_registry": (False, False, True),
    "queue_attempts": ("fixed", "retries+1", "retries"),
    "queue_registry": (False, False, True),
    "enqueue_served": (True, False, True),
    "enqueue_without_queue": ("QueueModule not loaded", NO_QUEUE_PROVIDER, NO_QUEUE_PROVIDER),
    "pubsub_drops_topic": (True, True, False),
    "state_list_keys": (False, False, True),
    "function_summaries": (False, True, True),
    "observers": (False, False, True),
}
RULES = {
    line: LineRules(**{fact: values[i] for fact, values in _FACTS.items()})  # type: ignore[arg-type]
    for i, line in enumerate(LINES)
}


def installed_line() -> str:
    """The line of the installed iii-sdk (engine and SDK share the minor version)."""
    try:
        version = importlib.metadata.version("iii-sdk")
    except importlib.metadata.PackageNotFoundError:
        return LINES[-1]
    found = re.match(r"0\.(\d+)", version)
    minor = int(found.group(1)) if found else 99
    return "0.11" if minor < 12 else "0.22" if minor < 23 else "0.25"
