"""`GET /healthz`: a readiness check that answers through the engine's HTTP port.

The engine answers 404 on this path until this worker has connected and registered, and routes it
here from then on, so a load balancer or a Kubernetes readiness probe that calls it learns whether
this engine and this worker can serve together. It needs no key and tells nothing but the
worker's name and its connection state.
"""

from src.lib.http import HttpRequest, HttpResponse, hide_unexpected_errors
from src.lib.iii_client import WORKER_NAME, iii

HEALTH_PATH = "/healthz"
FUNCTION_ID = "my-worker::health"


@hide_unexpected_errors
async def check_health(_request: HttpRequest) -> HttpResponse:
    return {
        "status_code": 200,
        "body": {"status": "ready", "worker": WORKER_NAME, "engine": iii.get_connection_state()},
    }


iii.register_function(FUNCTION_ID, check_health, description=f"Readiness (GET {HEALTH_PATH})")
iii.register_trigger(
    {
        "type": "http",
        "function_id": FUNCTION_ID,
        "config": {"api_path": HEALTH_PATH, "http_method": "GET"},
    }
)
