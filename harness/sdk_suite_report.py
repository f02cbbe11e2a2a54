"""A pytest plugin the SDK suite runs with (`python -m harness.sdk_suite` copies it next to the
suite and loads it with `-p`): one JSON line per test and per collection error, to the file
named by SDK_SUITE_REPORT. It needs nothing but pytest, since it runs in the suite's own venv."""

import json
import os
import sys
from typing import Any

import pytest


def _message(report: Any) -> str:
    """A failure's crash message or a skip's reason, first line, short enough for a table."""
    longrepr = getattr(report, "longrepr", None)
    crash = getattr(longrepr, "reprcrash", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        text = str(longrepr[2]).removeprefix("Skipped: ")
    elif crash is not None:
        text = crash.message
    else:
        text = str(longrepr or "")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[0] if lines else "")[:300]


# Opened once, before any test runs: some tests monkeypatch `open` itself, and a report is
# written while their patch is still in place.
_out = open(os.environ["SDK_SUITE_REPORT"], "a", encoding="utf-8")  # noqa: SIM115


def _write(record: dict[str, Any]) -> None:
    _out.write(json.dumps(record) + "\n")
    _out.flush()


def pytest_runtest_logreport(report: Any) -> None:
    """Setup, call and teardown each report; the runner folds them into one outcome a test."""
    outcome = report.outcome
    if hasattr(report, "wasxfail"):
        outcome = "skipped" if report.skipped else "passed"
    _write(
        {
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": outcome,
            "duration": round(report.duration, 3),
            "message": _message(report) if report.failed or report.skipped else "",
        }
    )


def pytest_deselected(items: list[Any]) -> None:
    """Known failures the runner keeps from running (`--deselect`), so they count by name."""
    for item in items:
        _write(
            {
                "nodeid": item.nodeid,
                "when": "deselect",
                "outcome": "deselected",
                "duration": 0.0,
                "message": "",
            }
        )


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _write(
            {
                "nodeid": report.nodeid,
                "when": "collect",
                "outcome": "failed",
                "duration": 0.0,
                "message": _message(report),
            }
        )


_status = {"exit": 0}


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    _status["exit"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: Any) -> None:
    """Leave as soon as pytest is done: SDK clients some tests never shut down keep non-daemon
    threads reconnecting, and would hold the process open after the last report."""
    _out.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_status["exit"])
