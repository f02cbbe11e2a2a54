"""Bad answers are refused at the question, with a message that says what is allowed, and
nothing is written."""

from pathlib import Path
from typing import Any

import pytest
from pytest_copie.plugin import Copie

BAD_ANSWERS: list[tuple[dict[str, Any], str]] = [
    ({"worker_name": ""}, "Use a slug like orders-worker"),
    ({"worker_name": "Orders"}, "lower-case letters and digits"),
    ({"worker_name": "1orders"}, "starting with a letter"),
    ({"worker_name": "orders_worker"}, "joined by single hyphens"),
    ({"worker_name": "orders--worker"}, "joined by single hyphens"),
    ({"worker_name": "orders-"}, "joined by single hyphens"),
    ({"worker_name": "orders worker"}, "joined by single hyphens"),
    ({"worker_name": "o" * 41}, "1-40 lower-case"),
    ({"description": "   "}, "Write a few words"),
    ({"description": "x" * 301}, "under 300 characters"),
    ({"description": "bell\x07"}, "no other control characters"),
    ({"description": "del\x7f"}, "no other control characters"),
    ({"triggers": ["http"], "http_path": "items"}, "each after a '/'"),
    ({"triggers": ["http"], "http_path": "/items/"}, "no trailing '/'"),
    ({"triggers": ["http"], "http_path": "/items/:id"}, "no ':params'"),
    ({"triggers": ["http"], "http_path": "/Items"}, "lower-case letters"),
    ({"triggers": ["http"], "http_path": "/it ems"}, "Use a path like /orders"),
    ({"triggers": ["cron"], "cron_expression": "*/5 * * * *"}, "Did you mean: 0 */5 * * * *"),
    ({"triggers": ["cron"], "cron_expression": "0 0 * *"}, "Use 6 fields, seconds first"),
    ({"triggers": ["cron"], "cron_expression": "0 0 0 * * * * *"}, "Use 6 fields"),
    ({"triggers": ["cron"], "cron_expression": "0 0 9 * * $"}, "Field $ is not allowed"),
    ({"triggers": ["queue"], "queue_topic": ".jobs"}, "starting with a letter or digit"),
    ({"triggers": ["queue"], "queue_topic": "jobs created"}, "Use a topic like orders.created"),
    ({"triggers": ["queue"], "queue_topic": "jobs/created"}, "letters, digits"),
    ({"triggers": ["stream"], "stream_name": "Chat"}, "lower-case letters"),
    ({"triggers": ["stream"], "stream_name": "chat room"}, "Use a stream name like"),
    ({"deploy": []}, "Choose container, virtualenv or both"),
    ({"engine_url": "http://127.0.0.1:49134"}, "ws:// or wss://"),
    ({"engine_url": "127.0.0.1:49134"}, "Use a WebSocket URL like"),
    ({"engine_url": "ws://engine host:49134"}, "no spaces"),
    ({"python_version": "3.9"}, "3.10"),
    ({"package_manager": "poetry"}, "uv"),
    ({"iii_line": "0.9"}, "0.25"),
    ({"triggers": ["grpc"]}, "http"),
]

# Handlers added later (the `extra_handlers` answer, which scripts/add_handler.py sets): copier.yml
# is their only check, so a hand-edited answers file meets it too.
BAD_HANDLERS: list[tuple[Any, str]] = [
    ([{"kind": "http", "name": "class", "path": "/x"}], "class is taken by Python"),
    ([{"kind": "http", "name": "list", "path": "/x"}], "list is taken by Python"),
    ([{"kind": "http", "name": "json", "path": "/x"}], "json is taken by Python or the worker"),
    ([{"kind": "http", "name": "items", "path": "/more"}], "items is another handler's name"),
    (
        [{"kind": "state", "name": "audit"}, {"kind": "state", "name": "audit"}],
        "audit is another handler's name",
    ),
    ([{"kind": "http", "name": "Orders", "path": "/x"}], "Orders is not a module name"),
    ([{"kind": "http", "name": "orders", "path": "/items"}], "/items is another handler's path"),
    (
        [
            {"kind": "http", "name": "orders", "path": "/orders"},
            {"kind": "http-middleware", "name": "ops", "path": "/orders"},
        ],
        "/orders is another handler's path",
    ),
    ([{"kind": "cron", "name": "nightly", "expression": "0 3 * * *"}], "Did you mean: 0 0 3 * * *"),
    ([{"kind": "stream-auth", "name": "auth2"}], "at most 1 stream-auth handler"),
    ([{"kind": "http", "name": "orders"}], "orders: Use a path like /orders"),
    ([{"kind": "queue", "name": "emails"}], "emails: Use a topic like"),
    ([{"kind": "state", "name": "audit", "path": "/audit"}], "audit takes no path"),
    ([{"kind": "grpc", "name": "calls"}], "Use a kind like http or cron (grpc is not one)"),
    ([{"name": "orders"}], "Each handler needs a kind and a name"),
    ("orders", "Use a list of handlers"),
]


def refusal(copie: Copie, template_copy: Path, answers: dict[str, Any]) -> str:
    """Copy with these answers; the refusal, after checking that it stopped the copy and that
    nothing was written."""
    result = copie.copy(extra_answers=answers, template_dir=template_copy)

    assert result.exit_code != 0
    assert [p for p in Path(copie.test_dir).rglob("*") if p.is_file()] == []
    return str(result.exception)


def first_line(message: str) -> str:
    """What an interactive prompt shows of a template check's refusal: its first line."""
    return message.removeprefix("Validation error for question ").split("\n")[0].split(": ", 1)[1]


def refused_by_copier(answers: dict[str, Any]) -> bool:
    """An answer outside a question's choices is refused by copier itself; the rest by the
    template's own checks, whose first line must say what to type."""
    choices = {"python_version", "package_manager", "iii_line"}
    return bool(choices & answers.keys()) or answers.get("triggers") == ["grpc"]


@pytest.mark.parametrize(
    ("answers", "message"),
    BAD_ANSWERS,
    ids=[f"{next(iter(a))}={a[next(reversed(a))]!r}"[:60] for a, _ in BAD_ANSWERS],
)
def test_bad_answer_is_refused_with_a_message_and_nothing_is_written(
    copie: Copie, template_copy: Path, answers: dict[str, Any], message: str
) -> None:
    refused = refusal(copie, template_copy, answers)

    assert message in refused
    if not refused_by_copier(answers):
        assert len(first_line(refused)) < 70, refused


def test_good_answers_are_accepted(copie: Copie, template_copy: Path) -> None:
    result = copie.copy(
        extra_answers={
            "worker_name": "orders-worker",
            "triggers": ["http", "cron", "queue", "stream"],
            "http_path": "/api/v1/orders",
            "cron_expression": "0 0 9 * * MON-FRI 2027",
            "queue_topic": "orders.created",
            "stream_name": "order_status",
            "engine_url": "wss://engine.example.com/iii",
        },
        template_dir=template_copy,
    )

    assert result.exit_code == 0, result.exception
    assert result.project_dir is not None
    assert (result.project_dir / "src" / "handlers" / "items.py").is_file()


@pytest.mark.parametrize(
    ("handlers", "message"),
    BAD_HANDLERS,
    ids=[str(handlers)[:60] for handlers, _ in BAD_HANDLERS],
)
def test_a_bad_added_handler_is_refused_with_a_message_and_nothing_is_written(
    copie: Copie, template_copy: Path, handlers: Any, message: str
) -> None:
    answers = {"triggers": ["http", "stream-auth"], "extra_handlers": handlers}

    refused = refusal(copie, template_copy, answers)

    assert message in refused
    assert len(first_line(refused)) < 70, refused


def test_good_added_handlers_are_accepted(copie: Copie, template_copy: Path) -> None:
    result = copie.copy(
        extra_answers={
            "triggers": ["http"],
            "extra_handlers": [
                {"kind": "http", "name": "orders", "path": "/orders"},
                {"kind": "cron", "name": "nightly", "expression": "0 0 3 * * *"},
                {"kind": "subscribe", "name": "alerts", "topic": "alerts.fired"},
                {"kind": "function", "name": "pricing"},
            ],
        },
        template_dir=template_copy,
    )

    assert result.exit_code == 0, result.exception
    assert result.project_dir is not None
    handlers = {p.stem for p in (result.project_dir / "src" / "handlers").glob("*.py")}
    assert handlers == {"__init__", "items", "orders", "nightly", "alerts", "pricing", "health"}
