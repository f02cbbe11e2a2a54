"""`copier update` carries projects to newer template releases, and to other iii lines, without
losing the user's code (the template releases come from the `releases` fixture)."""

import filecmp
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

from harness.projects import TEMPLATE, build, snapshot
from hooks import move_line as move_line_script
from tests.releases import GIT_ENV, commit_all, copy, git, leftovers, update


def passes_its_tests(project: Path, answers: dict[str, Any]) -> bool:
    installed = build(project, answers)
    result = installed.run(installed.tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    return True


ON_022 = {"triggers": ["http", "cron"], "iii_line": "0.22"}


@pytest.mark.slow
def test_update_moves_the_pin_and_keeps_every_user_change(releases: Path, tmp_path: Path) -> None:
    project = copy(releases, tmp_path / "worker", "1.0.0", ON_022)
    assert '"iii-sdk==0.22.0"' in (project / "pyproject.toml").read_text()
    # The user's changes: a handler body, a module of their own, a dependency, the README.
    items = project / "src" / "handlers" / "items.py"
    items.write_text(
        items.read_text().replace("MAX_NAME_LENGTH = 200", "MAX_NAME_LENGTH = 120  # ours")
    )
    (project / "src" / "handlers" / "reports.py").write_text(
        '"""Our own module."""\n\n\ndef summarize(names: list[str]) -> str:\n    return ", ".join(sorted(names))\n'
    )
    main = project / "src" / "main.py"
    main.write_text(
        main.read_text().replace(
            '    "src.handlers.items",\n',
            '    "src.handlers.items",\n    "src.handlers.reports",\n',
        )
    )
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "\n]\n\n[dependency-groups]", '\n    "httpx>=0.27",\n]\n\n[dependency-groups]', 1
        )
    )
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Our runbook\n\nPage the on-call.\n")
    commit_all(project, "our changes")

    update(project, "2.0.0")

    assert '"iii-sdk==0.22.1"' in pyproject.read_text()
    assert '"httpx>=0.27"' in pyproject.read_text()
    assert "MAX_NAME_LENGTH = 120  # ours" in items.read_text()
    assert (project / "src" / "handlers" / "reports.py").is_file()
    assert '"src.handlers.reports",' in main.read_text()
    assert "## Our runbook" in readme.read_text()
    assert leftovers(project) == []
    assert passes_its_tests(project, ON_022)


@pytest.mark.slow
def test_an_untouched_project_updated_equals_a_fresh_copy(releases: Path, tmp_path: Path) -> None:
    updated = copy(releases, tmp_path / "updated", "1.0.0", ON_022)
    update(updated, "2.0.0")
    fresh = copy(releases, tmp_path / "fresh", "2.0.0", ON_022)

    assert differences(updated, fresh) == []


def differences(left: Path, right: Path) -> list[str]:
    found: list[str] = []

    def compare(comparison: filecmp.dircmp[str], where: str) -> None:
        found.extend(f"{where}{name}" for name in comparison.left_only + comparison.right_only)
        for name in comparison.diff_files:
            if name == ".copier-answers.yml" and same_answers(
                left / where / name, right / where / name
            ):
                continue
            found.append(f"{where}{name}")
        for name, sub in comparison.subdirs.items():
            compare(sub, f"{where}{name}/")

    compare(filecmp.dircmp(left, right, ignore=[".git"]), "")
    return found


def same_answers(left: Path, right: Path) -> bool:
    def answers(path: Path) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(path.read_text())
        return {k: v for k, v in loaded.items() if k not in ("_commit", "_src_path")}

    return answers(left) == answers(right)


def move_line(project: Path, *args: str) -> str:
    """The project's own scripts/move_line.py, run as a user would (copier and libcst installed)."""
    result = subprocess.run(
        [sys.executable, "scripts/move_line.py", *args],
        cwd=project,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_moving_from_0_11_to_0_25_converts_the_run_config_and_rewrites_user_code(
    releases: Path, tmp_path: Path
) -> None:
    answers = {"triggers": ["http", "stream-join-leave", "stream-auth"], "iii_line": "0.11"}
    project = copy(releases, tmp_path / "worker", "2.0.0", answers)
    legacy = project / "src" / "handlers" / "legacy.py"
    legacy.write_text(
        '"""Code written for 0.11, the way the migration guide shows."""\n\n'
        "from iii import Logger\n\nlogger = Logger()\n\n\n"
        "def not_found(reason: str) -> dict[str, object]:\n"
        '    return {"statusCode": 404, "body": {"error": reason}}\n'
    )
    commit_all(project, "our 0.11 code")

    printed = move_line(project, "0.25", "--vcs-ref", "2.0.0")

    assert not (project / "config.yaml").exists()
    compose = yaml.safe_load((project / "worker-compose.yaml").read_text())
    assert compose["engine"]["workers"]["iii-stream"]["auth_function"] == "my-worker::stream-auth"
    assert '"iii-sdk==0.25.0"' in (project / "pyproject.toml").read_text()
    code = legacy.read_text()
    assert "from iii_helpers.observability import Logger" in code
    assert "from iii import Logger" not in code
    assert '"status_code": 404' in code
    assert "changed: src/handlers/legacy.py:3: import Logger" in printed
    assert leftovers(project) == []
    assert passes_its_tests(project, {**answers, "iii_line": "0.25"})


def test_move_line_refuses_uncommitted_work_and_a_line_that_is_not_one(
    releases: Path, tmp_path: Path
) -> None:
    project = copy(releases, tmp_path / "worker", "2.0.0", ON_022)
    (project / "README.md").write_text("changed\n")

    dirty = subprocess.run(
        [sys.executable, "scripts/move_line.py", "0.25"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    not_a_line = subprocess.run(
        [sys.executable, "scripts/move_line.py", "latest"],
        cwd=project,
        capture_output=True,
        text=True,
    )

    assert dirty.returncode == 2 and "commit or stash your changes first" in dirty.stderr
    assert not_a_line.returncode == 2 and "'latest' is not an iii line" in not_a_line.stderr
    assert '"iii-sdk==0.22.1"' in (project / "pyproject.toml").read_text()


def test_the_rewrite_changes_nothing_when_run_again(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    mine = tmp_path / "src" / "mine.py"
    mine.write_text('from iii import InitOptions, Logger\n\nR = {"statusCode": 201, "body": {}}\n')

    first = rewrite("0.25", tmp_path)
    after_first = mine.read_text()
    second = rewrite("0.25", tmp_path)

    assert "changed:" in first and "changed:" not in second
    assert mine.read_text() == after_first
    assert after_first == (
        "from iii import InitOptions\nfrom iii_helpers.observability import Logger\n\n"
        'R = {"status_code": 201, "body": {}}\n'
    )


@pytest.mark.parametrize("line", ["0.11", "0.22", "0.25"])
def test_the_rewrite_knows_where_each_line_keeps_logger(line: str) -> None:
    lines = yaml.safe_load((TEMPLATE / "lines.yml").read_text())

    assert move_line_script.logger_module(line) == lines[line]["logger_module"]


def rewrite(line: str, project: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(TEMPLATE / "hooks" / "move_line.py"), line, "--rewrite-only",
         "--project", str(project)],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    return result.stdout


@pytest.mark.slow
def test_an_update_needs_no_trust_and_works_from_an_untagged_template(tmp_path: Path) -> None:
    """Copier reads versions from tags; a checkout without any still updates, to its newest
    commit."""
    template = snapshot(tmp_path / "template")
    git(template, "init", "-q", "-b", "main")
    commit_all(template, "untagged")
    project = copy(template, tmp_path / "worker", "HEAD", ON_022)
    lines = template / "lines.yml"
    lines.write_text(lines.read_text().replace('sdk: "0.22.1"', 'sdk: "0.22.2"'))
    commit_all(template, "a newer pin, still untagged")

    copier.run_update(project, defaults=True, overwrite=True, quiet=True)  # no unsafe=True

    assert '"iii-sdk==0.22.2"' in (project / "pyproject.toml").read_text()
