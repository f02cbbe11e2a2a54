"""The /items API. Its handlers call the engine (state::set, state::get), so the tests
invoke them through the engine double, over the wire, as the engine's http worker would."""

import logging
from typing import Any

import pytest

from src.handlers import items as api
from src.lib.http import HttpResponse
from tests.engine_double import EngineDouble


def test_registers_its_functions_and_triggers(engine: EngineDouble) -> None:
    engine.check_registered(
        {
            "my-worker::items::create": [("http", {"api_path": "/items", "http_method": "POST"})],
            "my-worker::items::get": [("http", {"api_path": "/items/:id", "http_method": "GET"})],
        }
    )


@pytest.fixture
def engine(engine: EngineDouble) -> EngineDouble:
    engine.wait_for_functions(api.CREATE_ID, api.GET_ID)
    return engine


def post(engine: EngineDouble, body: Any, key: str | None = None) -> HttpResponse:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["idempotency-key"] = key
    request = {
        "method": "POST",
        "path": api.API_PATH,
        "path_params": {},
        "query_params": {},
        "headers": headers,
        "body": body,
    }
    response: HttpResponse = engine.invoke(api.CREATE_ID, request)
    return response


def get(engine: EngineDouble, item_id: str) -> HttpResponse:
    request = {
        "method": "GET",
        "path": f"{api.API_PATH}/:id",
        "path_params": {"id": item_id},
        "query_params": {},
        "headers": {},
        "body": None,
    }
    response: HttpResponse = engine.invoke(api.GET_ID, request)
    return response


def test_create_answers_201_and_stores_the_item(engine: EngineDouble) -> None:
    response = post(engine, {"name": "  Green tea "})

    assert response["status_code"] == 201
    item = response["body"]
    assert item["name"] == "Green tea"
    assert response["headers"]["location"] == f"{api.API_PATH}/{item['id']}"
    assert engine.state[(api.STATE_SCOPE, item["id"])] == item


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "JSON object"),
        ("name=tea", "JSON object"),
        ([{"name": "tea"}], "JSON object"),
        ({}, "'name' must be a non-empty string"),
        ({"name": "   "}, "'name' must be a non-empty string"),
        ({"name": 42}, "'name' must be a non-empty string"),
        ({"name": "x" * (api.MAX_NAME_LENGTH + 1)}, "at most"),
        ({"name": "tea\x00"}, "U+0000"),
        ({"name": "green\r\ntea"}, "U+000D"),
        ({"name": "\u202eaet"}, "U+202E"),
        ({"name": "\u200b"}, "U+200B"),
        ({"name": "te\u2028a"}, "U+2028"),
    ],
)
def test_create_answers_400_with_a_reason_on_a_bad_body(
    engine: EngineDouble, body: Any, reason: str
) -> None:
    response = post(engine, body)

    assert response["status_code"] == 400
    assert reason in response["body"]["error"]
    assert engine.state == {}


def test_the_name_length_is_counted_after_stripping(engine: EngineDouble) -> None:
    name = "x" * api.MAX_NAME_LENGTH

    response = post(engine, {"name": f"  {name}  "})

    assert response["status_code"] == 201
    assert response["body"]["name"] == name


def test_emoji_joined_by_zero_width_joiners_are_a_name(engine: EngineDouble) -> None:
    assert post(engine, {"name": "\U0001f469\u200d\U0001f52c"})["status_code"] == 201


def items(engine: EngineDouble) -> list[Any]:
    return [value for (scope, _), value in engine.state.items() if scope == api.STATE_SCOPE]


def test_a_retry_with_the_same_idempotency_key_answers_the_same_and_stores_one_item(
    engine: EngineDouble,
) -> None:
    first = post(engine, {"name": "Matcha"}, key="order-7")
    retried = post(engine, {"name": "Matcha"}, key="order-7")
    other = post(engine, {"name": "Matcha"}, key="order-8")

    assert first["status_code"] == 201 and retried == first
    assert other["status_code"] == 201 and other["body"]["id"] != first["body"]["id"]
    assert len(items(engine)) == 2


def test_copies_sent_at_once_with_one_key_store_one_item(engine: EngineDouble) -> None:
    request = {"headers": {"idempotency-key": "at-once"}, "body": {"name": "Hojicha"}}

    answers = engine.invoke_many([(api.CREATE_ID, request)] * 20)

    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["status_code"] == 201
    assert items(engine) == [answers[0]["body"]]


def test_an_idempotency_key_reused_for_another_item_answers_422(engine: EngineDouble) -> None:
    post(engine, {"name": "Matcha"}, key="order-9")

    response = post(engine, {"name": "Kukicha"}, key="order-9")

    assert response["status_code"] == 422
    assert len(items(engine)) == 1


@pytest.mark.parametrize("key", ["", "k" * (api.MAX_KEY_LENGTH + 1), "caf\u00e9", "a\tb"])
def test_a_malformed_idempotency_key_answers_400(engine: EngineDouble, key: str) -> None:
    response = post(engine, {"name": "Matcha"}, key=key)

    assert response["status_code"] == 400
    assert "Idempotency-Key" in response["body"]["error"]
    assert engine.state == {}


def test_an_unexpected_error_answers_500_with_only_an_error_id(
    engine: EngineDouble, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(item: api.Item) -> None:
        raise ConnectionError("redis://:hunter2@cache:6379 is unreachable")

    monkeypatch.setattr(api, "store", broken)

    with caplog.at_level(logging.ERROR):
        response = post(engine, {"name": "Sencha"})

    assert response["status_code"] == 500
    assert set(response["body"]) == {"error", "error_id"}
    assert "hunter2" not in str(response)
    (logged,) = [getattr(r, "data", None) or {} for r in caplog.records]
    assert logged["error_id"] == response["body"]["error_id"]
    assert "hunter2" in logged["error"] and "Traceback" in logged["traceback"]


def test_get_answers_200_with_a_created_item(engine: EngineDouble) -> None:
    created = post(engine, {"name": "Oolong"})["body"]

    response = get(engine, created["id"])

    assert response == {"status_code": 200, "body": created}


def test_get_answers_404_for_an_unknown_id(engine: EngineDouble) -> None:
    response = get(engine, "no-such-id")

    assert response["status_code"] == 404
    assert "no-such-id" in response["body"]["error"]


def test_the_engine_routes_requests_to_the_handlers(engine: EngineDouble) -> None:
    engine.wait_for_triggers(api.CREATE_ID, api.GET_ID)

    created = engine.http("POST", api.API_PATH, body={"name": "Sencha"})
    read = engine.http("GET", f"{api.API_PATH}/{created.body['id']}")
    refused = engine.http("POST", api.API_PATH, body=["not", "an", "object"])

    assert (created.status_code, read.status_code, refused.status_code) == (201, 200, 400)
    assert read.body == created.body
