# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""A stand-in for the iii engine, so the worker can be tested without installing one.

It plays the engine of one iii line (`line`: "0.11", "0.22" or "0.25"; by default the installed
iii-sdk's) running the engine workers the project runs (`providers`; `for_project` reads them
from the project's worker-compose.yaml or config.yaml), and behaves toward a worker the way that
engine does: the WebSocket protocol and calls between functions (core), each engine worker in
its own module (http, cron, queue, pubsub, state, stream, stream_auth), and what differs between
lines in one place (lines). A project gets the modules of the engine workers its run config
starts. The template's docs/engine-double.md names the engine source each behaviour follows.
Do not edit it in a project (`copier update` would overwrite it); report what it gets wrong
upstream instead. The event loop runs on a daemon thread, so a test that forgets `stop()` still
exits.
"""

from .core import EngineDouble
from .lines import LINES, PROVIDERS, TRIGGER_PROVIDERS, installed_line
from .protocol import HttpResponse, InvocationFailed, Message, available_providers

__all__ = [
    "LINES",
    "PROVIDERS",
    "TRIGGER_PROVIDERS",
    "EngineDouble",
    "HttpResponse",
    "InvocationFailed",
    "Message",
    "available_providers",
    "installed_line",
]
