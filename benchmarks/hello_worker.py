"""The bare SDK worker, the baseline for cold start and for CPU per call: the smallest iii-sdk
worker (one no-op function, answering as an HTTP handler would), connected the same way a
generated worker connects. Run with the generated project's interpreter."""

import os
import signal
import threading
from typing import Any

from iii import InitOptions
from iii.iii import III

client = III(os.environ["III_URL"], InitOptions(worker_name="hello"))


async def hello(_data: Any) -> dict[str, Any]:
    return {"status_code": 200, "body": {}}


client.register_function("hello::hello", hello)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
client.shutdown()
