"""The API-key middleware fails closed; the route behind it reports the worker's status."""

import asyncio
import logging

import pytest

from src.handlers import admin as route
from tests.engine_double import EngineDouble


def test_registers_its_functions_and_triggers(engine: EngineDouble) -> None:
    engine.check_registered(
        {
            "orders-worker::admin::require-api-key": [],
            "orders-worker::admin::status": [
                (
                    "http",
                    {
                        "api_path": "/admin/status",
                        "http_method": "GET",
                        "middleware_function_ids": [
                            "orders-worker::admin::require-api-key",
                        ],
                    },
                ),
            ],
        }
    )


KEY = "k" * 40  # the worker refuses guessable keys at start; a test needs none of that


def check(headers: dict[str, str]) -> route.MiddlewareResult:
    return asyncio.run(
        route.require_api_key(
            {
                "phase": "preHandler",
                "request": {
                    "path_params": {},
                    "query_params": {},
                    "headers": headers,
                    "method": "GET",
                },
                "context": {},
            }
        )
    )


def test_lets_a_request_with_the_right_key_continue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", KEY)

    assert check({"x-api-key": KEY}) == {"action": "continue"}


@pytest.mark.parametrize(
    "headers", [{}, {"x-api-key": ""}, {"x-api-key": "wrong"}, {"authorization": KEY}]
)
def test_answers_401_without_the_right_key(
    monkeypatch: pytest.MonkeyPatch, headers: dict[str, str]
) -> None:
    monkeypatch.setenv("API_KEY", KEY)

    result = check(headers)

    assert result["action"] == "respond"
    assert result["response"]["status_code"] == 401


@pytest.mark.parametrize("configured", [None, "", "   "])
def test_answers_401_when_the_server_has_no_key_and_says_so_only_in_its_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, configured: str | None
) -> None:
    if configured is None:
        monkeypatch.delenv("API_KEY", raising=False)
    else:
        monkeypatch.setenv("API_KEY", configured)

    with caplog.at_level(logging.WARNING):
        result = check({"x-api-key": configured or ""})

    assert result["action"] == "respond"
    assert result["response"]["status_code"] == 401
    assert result["response"]["body"] == {"error": route.DENIED}
    assert "no API_KEY" in caplog.text


def test_a_caller_cannot_tell_a_missing_key_from_a_wrong_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("API_KEY", raising=False)
    unconfigured = check({"x-api-key": "guess"})
    monkeypatch.setenv("API_KEY", KEY)

    assert check({"x-api-key": "guess"}) == unconfigured


def test_status_answers_200_with_the_worker_name() -> None:
    response = asyncio.run(route.get_status({"method": "GET", "path": route.API_PATH}))

    assert response["status_code"] == 200
    assert response["body"]["worker"] == "orders-worker"


def test_the_engine_runs_the_middleware_before_the_route(
    engine: EngineDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_KEY", KEY)
    engine.wait_for_triggers(route.STATUS_ID)

    allowed = engine.http("GET", route.API_PATH, headers={"X-Api-Key": KEY})
    refused = engine.http("GET", route.API_PATH, headers={"X-Api-Key": "wrong"})

    assert (allowed.status_code, refused.status_code) == (200, 401)
    assert allowed.body["worker"] == "orders-worker"
