"""The readiness check answers 200 through the engine's HTTP port once the worker is registered."""

from src.handlers import health as health
from tests.engine_double import EngineDouble


def test_registers_its_functions_and_triggers(engine: EngineDouble) -> None:
    engine.check_registered(
        {
            "my-worker::health": [("http", {"api_path": "/healthz", "http_method": "GET"})],
        }
    )


def test_answers_200_with_the_worker_name_through_the_engine(engine: EngineDouble) -> None:
    engine.wait_for_triggers(health.FUNCTION_ID)

    response = engine.http("GET", health.HEALTH_PATH)

    assert response.status_code == 200
    assert response.body == {
        "status": "ready",
        "worker": "my-worker",
        "engine": "connected",
    }
