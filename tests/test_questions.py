"""Bad answers are refused at the question, with a message that says what is allowed, and
nothing is written."""

from pathlib import Path
from typing import Any

import pytest
from pytest_copie.plugin import Copie

BAD_ANSWERS: list[tuple[dict[str, Any], str]] = [
    ({"worker_name": ""}, "lower-case letters and digits"),
    ({"worker_name": "Orders"}, "lower-case letters and digits"),
    ({"worker_name": "1orders"}, "starting with a letter"),
    ({"worker_name": "orders_worker"}, "joined by single hyphens"),
    ({"worker_name": "orders--worker"}, "joined by single hyphens"),
    ({"worker_name": "orders-"}, "joined by single hyphens"),
    ({"worker_name": "orders worker"}, "joined by single hyphens"),
    ({"worker_name": "o" * 41}, "1-40 characters"),
    ({"description": "   "}, "Write a few words"),
    ({"description": "x" * 301}, "under 300 characters"),
    ({"description": "bell\x07"}, "no other control characters"),
    ({"description": "del\x7f"}, "no other control characters"),
    ({"triggers": ["http"], "http_path": "items"}, "each after a '/'"),
    ({"triggers": ["http"], "http_path": "/items/"}, "no trailing '/'"),
    ({"triggers": ["http"], "http_path": "/items/:id"}, "no ':params'"),
    ({"triggers": ["http"], "http_path": "/Items"}, "lower-case letters"),
    ({"triggers": ["http"], "http_path": "/it ems"}, "lower-case letters"),
    ({"triggers": ["cron"], "cron_expression": "*/5 * * * *"}, "Did you mean: 0 */5 * * * *"),
    ({"triggers": ["cron"], "cron_expression": "0 0 * *"}, "Use 6 fields"),
    ({"triggers": ["cron"], "cron_expression": "0 0 0 * * * * *"}, "Use 6 fields"),
    ({"triggers": ["cron"], "cron_expression": "0 0 9 * * $"}, "this one may not: $"),
    ({"triggers": ["queue"], "queue_topic": ".jobs"}, "starting with a letter or digit"),
    ({"triggers": ["queue"], "queue_topic": "jobs created"}, "letters, digits"),
    ({"triggers": ["queue"], "queue_topic": "jobs/created"}, "letters, digits"),
    ({"triggers": ["stream"], "stream_name": "Chat"}, "lower-case letters"),
    ({"triggers": ["stream"], "stream_name": "chat room"}, "lower-case letters"),
    ({"deploy": []}, "at least one deploy style"),
    ({"engine_url": "http://127.0.0.1:49134"}, "ws:// or wss://"),
    ({"engine_url": "127.0.0.1:49134"}, "ws:// or wss://"),
    ({"engine_url": "ws://engine host:49134"}, "no spaces"),
    ({"python_version": "3.9"}, "3.10"),
    ({"package_manager": "poetry"}, "uv"),
    ({"iii_line": "0.9"}, "0.25"),
    ({"triggers": ["grpc"]}, "http"),
]


@pytest.mark.parametrize(
    ("answers", "message"),
    BAD_ANSWERS,
    ids=[f"{next(iter(a))}={a[next(reversed(a))]!r}"[:60] for a, _ in BAD_ANSWERS],
)
def test_bad_answer_is_refused_with_a_message_and_nothing_is_written(
    copie: Copie, answers: dict[str, Any], message: str
) -> None:
    result = copie.copy(extra_answers=answers)

    assert result.exit_code != 0
    assert message in str(result.exception)
    written = list(Path(copie.test_dir).rglob("*"))
    assert [p for p in written if p.is_file()] == []


def test_good_answers_are_accepted(copie: Copie) -> None:
    result = copie.copy(
        extra_answers={
            "worker_name": "orders-worker",
            "triggers": ["http", "cron", "queue", "stream"],
            "http_path": "/api/v1/orders",
            "cron_expression": "0 0 9 * * MON-FRI 2027",
            "queue_topic": "orders.created",
            "stream_name": "order_status",
            "engine_url": "wss://engine.example.com/iii",
        }
    )

    assert result.exit_code == 0, result.exception
    assert result.project_dir is not None
    assert (result.project_dir / "src" / "handlers" / "items.py").is_file()
