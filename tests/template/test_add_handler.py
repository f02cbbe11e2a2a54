"""Handlers of any kind, with their own names, can be added to an existing project
(`scripts/add_handler.py`, shipped from hooks/add_handler.py), several of the same kind side by
side, and `copier update` keeps them. copier.yml is the only check of a new handler: the script
passes its refusal on, and nothing changes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.projects import build
from hooks import add_handler
from tests.releases import GIT_ENV, commit_all, copy, leftovers, update

ANSWERS = {"triggers": ["http", "queue", "stream-auth"], "iii_line": "0.22"}


@pytest.fixture
def project(releases: Path, tmp_path: Path) -> Path:
    """A committed project of template release 2.0.0."""
    return copy(releases, tmp_path / "worker", "2.0.0", ANSWERS)


def add(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the project's own copy of the script, as a user would, with copier installed."""
    env = {
        **os.environ,
        **GIT_ENV,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        [sys.executable, "scripts/add_handler.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def files_of(project: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(project)): p.read_bytes()
        for p in project.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }


# Each refusal is copier.yml's (tests/template/test_questions.py has them all, at the question);
# these show the script passes them on: a bad name, a rule across handlers, a kind that is not one.
# The first stays in the fast tier.
REFUSED = [
    (["http", "class", "--path", "/orders"], "class is taken by Python"),
    (["stream-auth", "auth2"], "at most 1 stream-auth handler"),
    (["grpc", "calls"], "Use a kind like http or cron (grpc is not one)"),
]


@pytest.mark.parametrize(
    ("args", "message"),
    [REFUSED[0], *(pytest.param(*case, marks=pytest.mark.slow) for case in REFUSED[1:])],
)
def test_copier_refuses_a_bad_handler_with_the_reason_and_nothing_changes(
    project: Path, args: list[str], message: str
) -> None:
    before = files_of(project)

    result = add(project, *args)

    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("add_handler: ") and "Traceback" not in result.stderr
    assert files_of(project) == before


def test_refuses_a_name_whose_module_you_wrote_by_hand(project: Path) -> None:
    (project / "src" / "handlers" / "reports.py").write_text('"""Ours."""\n')
    commit_all(project, "our module")

    result = add(project, "http", "reports", "--path", "/reports")

    assert result.returncode == 2
    assert "src/handlers/reports.py already exists" in result.stderr
    assert (project / "src" / "handlers" / "reports.py").read_text() == '"""Ours."""\n'


def test_refuses_to_run_on_uncommitted_work(project: Path) -> None:
    (project / "README.md").write_text("changed\n")

    result = add(project, "http", "orders", "--path", "/orders")

    assert result.returncode == 2
    assert "commit or stash your changes first" in result.stderr
    assert (project / "README.md").read_text() == "changed\n"


def test_refuses_outside_a_git_repository_and_says_how_to_start_one(
    project: Path, tmp_path: Path
) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / ".copier-answers.yml").write_text((project / ".copier-answers.yml").read_text())

    assert add_handler.main(["http", "orders", "--path", "/orders", "--project", str(loose)]) == 2


def test_refuses_outside_a_generated_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        add_handler.main(["http", "orders", "--path", "/orders", "--project", str(tmp_path)]) == 2
    )

    assert "run this in a worker made by copier-iii-worker" in capsys.readouterr().err


@pytest.mark.slow
def test_dry_run_prints_the_update_that_keeps_earlier_handlers(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add(project, "http", "orders", "--path=/orders").returncode == 0
    commit_all(project, "add orders")

    code = add_handler.main(
        ["cron", "nightly", "--expression", "0 0 3 * * *", "--dry-run", "--project", str(project)]
    )

    assert code == 0
    printed = capsys.readouterr().out
    assert "copier update --defaults --vcs-ref=:current:" in printed and "--trust" not in printed
    assert '"name": "orders"' in printed and '"name": "nightly"' in printed


@pytest.mark.slow
def test_added_handlers_coexist_and_survive_an_update(releases: Path, tmp_path: Path) -> None:
    project = copy(releases, tmp_path / "worker", "1.0.0", ANSWERS)

    # A second handler of a kind the project has (http), and two of kinds it has not, each
    # bringing its engine worker (cron, pubsub).
    for args in (
        ["http", "orders", "--path", "/orders"],
        ["cron", "nightly", "--expression", "0 0 3 * * *"],
        ["subscribe", "alerts", "--topic", "alerts.fired"],
    ):
        result = add(project, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        commit_all(project, f"add {args[1]}")
    update(project, "2.0.0")

    handlers = {p.stem for p in (project / "src" / "handlers").glob("*.py")}
    assert handlers == {
        "__init__", "items", "jobs", "stream_auth", "orders", "nightly", "alerts", "health",
    }  # fmt: skip
    main = (project / "src" / "main.py").read_text()
    assert all(f'"src.handlers.{name}",' in main for name in ("orders", "nightly", "alerts"))
    config = yaml.safe_load((project / "config.yaml").read_text())
    assert [worker["name"] for worker in config["workers"]] == [
        "iii-http", "iii-cron", "iii-queue", "iii-pubsub", "iii-state", "iii-stream", "iii-exec",
    ]  # fmt: skip
    assert '"iii-sdk==0.22.1"' in (project / "pyproject.toml").read_text()
    kept = yaml.safe_load((project / ".copier-answers.yml").read_text())["extra_handlers"]
    assert [h["name"] for h in kept] == ["orders", "nightly", "alerts"]
    assert leftovers(project) == []
    installed = build(project, ANSWERS)
    result = installed.run(installed.tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
