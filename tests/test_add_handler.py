"""Handlers of any kind, with their own names, can be added to an existing project
(`scripts/add_handler.py`, shipped from hooks/add_handler.py), several of the same kind side by
side, and `copier update` keeps them."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from hooks import add_handler
from tests.releases import GIT_ENV, commit_all, copy, leftovers, update
from tests.template import build

Render = Callable[..., Path]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grpc", "orders"], "unknown kind 'grpc'"),
        (["http", "Orders", "--path", "/orders"], "is not a module name"),
        (["http", "class", "--path", "/orders"], "is not a module name"),
        (["http", "items", "--path", "/more-items"], "src/handlers/items.py already exists"),
        (["http", "orders"], "needs --path"),
        (["http", "orders", "--path", "orders"], "--path 'orders' is not allowed"),
        (["cron", "nightly", "--expression", "0 3 * * *"], "6 fields with seconds first"),
        (["queue", "emails", "--topic", "emails topic"], "is not allowed"),
        (["stream", "chat", "--stream", "Chat"], "is not allowed"),
        (["state", "audit", "--path", "/audit"], "takes no --path"),
        (["stream-auth", "auth2"], "one stream auth_function"),
    ],
)
def test_refuses_a_bad_handler_with_the_reason_and_changes_nothing(
    rendered: Render, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    project = rendered(triggers=["http", "stream-auth"])
    before = sorted(p.name for p in (project / "src" / "handlers").iterdir())

    assert add_handler.main([*args, "--project", str(project)]) == 2

    assert message in capsys.readouterr().err
    assert sorted(p.name for p in (project / "src" / "handlers").iterdir()) == before


def test_dry_run_prints_the_update_that_keeps_earlier_extras(
    rendered: Render, capsys: pytest.CaptureFixture[str]
) -> None:
    earlier = [{"kind": "http", "name": "orders", "path": "/orders"}]
    project = rendered(triggers=["http"], extra_handlers=earlier)

    code = add_handler.main(
        ["cron", "nightly", "--expression", "0 0 3 * * *", "--dry-run", "--project", str(project)]
    )

    assert code == 0
    printed = capsys.readouterr().out
    assert "copier update --trust --defaults --vcs-ref=:current:" in printed
    assert '"name": "orders"' in printed and '"name": "nightly"' in printed


def add(project: Path, *args: str) -> None:
    """Run the project's own copy of the script, as a user would, with copier on PATH."""
    env = {
        **os.environ,
        **GIT_ENV,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        [sys.executable, "scripts/add_handler.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    commit_all(project, f"add {args[1]}")


def test_added_handlers_coexist_and_survive_an_update(releases: Path, tmp_path: Path) -> None:
    answers = {"triggers": ["http", "queue"], "iii_line": "0.22"}
    project = copy(releases, tmp_path / "worker", "1.0.0", answers)

    add(project, "http", "orders", "--path", "/orders")
    add(project, "http", "reports", "--path", "/reports")
    add(project, "cron", "nightly", "--expression", "0 0 3 * * *")
    add(project, "queue", "emails", "--topic", "emails.send")
    update(project, "2.0.0")

    handlers = {p.stem for p in (project / "src" / "handlers").glob("*.py")}
    assert handlers == {"__init__", "items", "jobs", "orders", "reports", "nightly", "emails"}
    main = (project / "src" / "main.py").read_text()
    assert all(f"    {name},\n" in main for name in ("orders", "reports", "nightly", "emails"))
    config = yaml.safe_load((project / "config.yaml").read_text())
    assert [worker["name"] for worker in config["workers"]] == [
        "iii-http",
        "iii-cron",
        "iii-queue",
        "iii-state",
        "iii-exec",
    ]
    assert '"iii-sdk==0.22.1"' in (project / "pyproject.toml").read_text()
    kept = yaml.safe_load((project / ".copier-answers.yml").read_text())["extra_handlers"]
    assert [h["name"] for h in kept] == ["orders", "reports", "nightly", "emails"]
    assert leftovers(project) == []
    installed = build(project, answers)
    result = installed.run(installed.tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
