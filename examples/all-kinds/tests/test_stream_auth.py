"""Stream auth turns a signed token (query value lists, or a bearer header) into a context."""

import asyncio
import time

import pytest

from src.handlers import stream_auth as auth
from tests.engine_double import EngineDouble


def test_registers_its_functions_and_triggers(engine: EngineDouble) -> None:
    engine.check_registered(
        {
            "orders-worker::stream-auth": [],
        }
    )


SECRET = "s" * 40
PREVIOUS = "p" * 40


def authenticate(
    query_params: dict[str, list[str]], headers: dict[str, str] | None = None
) -> auth.StreamAuthResult:
    request: auth.StreamAuthInput = {
        "headers": headers or {},
        "path": "/",
        "query_params": query_params,
        "addr": "127.0.0.1:50000",
    }
    return asyncio.run(auth.authenticate_stream(request))


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_AUTH_SECRET", SECRET)
    monkeypatch.delenv("STREAM_AUTH_SECRET_PREVIOUS", raising=False)


def test_a_token_in_the_query_gives_the_user_context() -> None:
    token = auth.issue_token("ada", SECRET)

    assert authenticate({"token": [token]}) == {"context": {"user_id": "ada"}}


def test_a_bearer_token_gives_the_user_context() -> None:
    token = auth.issue_token("grace", SECRET)

    result = authenticate({}, {"authorization": f"Bearer {token}"})

    assert result == {"context": {"user_id": "grace"}}


@pytest.mark.parametrize(
    "query_params",
    [
        {},
        {"token": []},
        {"token": [""]},
        {"token": ["ada"]},
        {"token": ["ada.0000"]},
        {"token": ["ada.9999999999.0000"]},
        {"token": ["ada.9999999999.\u00e9\u00e9"]},
        {"token": ["ada.9999999999.\udc80"]},
        {"token": ["\udc80.9999999999.00"]},
        {"token": ["ada.\u0663\u0663.00"]},
    ],
)
def test_no_valid_token_gives_no_context(query_params: dict[str, list[str]]) -> None:
    assert authenticate(query_params) == {"context": None}


def test_a_token_signed_with_another_secret_gives_no_context() -> None:
    token = auth.issue_token("ada", "another-secret")

    assert authenticate({"token": [token]}) == {"context": None}


def test_an_expired_token_gives_no_context() -> None:
    token = auth.issue_token("ada", SECRET, lifetime_seconds=60, now=time.time() - 61)

    assert authenticate({"token": [token]}) == {"context": None}


def test_a_token_whose_expiry_was_changed_gives_no_context() -> None:
    user_id, expires_at, signature = auth.issue_token("ada", SECRET).split(".")
    extended = f"{user_id}.{int(expires_at) + 86400}.{signature}"

    assert authenticate({"token": [extended]}) == {"context": None}


def test_tokens_last_an_hour_by_default() -> None:
    token = auth.issue_token("ada", SECRET, now=1_000_000)

    assert auth.verify_token(token, SECRET, now=1_000_000 + 3599) == "ada"
    assert auth.verify_token(token, SECRET, now=1_000_000 + 3600) is None


def test_a_token_valid_for_more_than_a_day_gives_no_context() -> None:
    claims = f"ada.{int(time.time()) + 3 * 365 * 86400}"
    forged_by_an_insider = f"{claims}.{auth._signature(claims, SECRET).decode()}"

    assert authenticate({"token": [forged_by_an_insider]}) == {"context": None}


def test_issue_token_refuses_a_lifetime_over_a_day() -> None:
    with pytest.raises(ValueError, match="at most"):
        auth.issue_token("ada", SECRET, lifetime_seconds=auth.MAX_TOKEN_LIFETIME_SECONDS + 1)


def test_a_token_of_the_previous_secret_is_accepted_while_it_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = auth.issue_token("ada", PREVIOUS)
    assert authenticate({"token": [token]}) == {"context": None}

    monkeypatch.setenv("STREAM_AUTH_SECRET_PREVIOUS", PREVIOUS)

    assert authenticate({"token": [token]}) == {"context": {"user_id": "ada"}}


def test_user_ids_may_contain_dots() -> None:
    token = auth.issue_token("ada.lovelace", SECRET)

    assert authenticate({"token": [token]}) == {"context": {"user_id": "ada.lovelace"}}


def test_without_a_secret_nobody_is_authenticated(monkeypatch: pytest.MonkeyPatch) -> None:
    token = auth.issue_token("ada", "")
    monkeypatch.delenv("STREAM_AUTH_SECRET")

    assert authenticate({"token": [token]}) == {"context": None}
