"""`copier update` carries projects to newer template releases, and to other iii lines, without
losing the user's code (the template releases come from the `releases` fixture)."""

import filecmp
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.releases import commit_all, copy, leftovers, update
from tests.template import TEMPLATE, build


def passes_its_tests(project: Path, answers: dict[str, Any]) -> bool:
    installed = build(project, answers)
    result = installed.run(installed.tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    return True


ON_022 = {"triggers": ["http", "cron"], "iii_line": "0.22"}


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
    main.write_text(main.read_text().replace("    items,\n", "    items,\n    reports,\n"))
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
    assert "    reports,\n" in main.read_text()
    assert "## Our runbook" in readme.read_text()
    assert leftovers(project) == []
    assert passes_its_tests(project, ON_022)


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

    update(project, "2.0.0", iii_line="0.25")

    assert not (project / "config.yaml").exists()
    compose = yaml.safe_load((project / "worker-compose.yaml").read_text())
    assert compose["engine"]["workers"]["iii-stream"]["auth_function"] == "my-worker::stream-auth"
    assert '"iii-sdk==0.25.0"' in (project / "pyproject.toml").read_text()
    code = legacy.read_text()
    assert (
        "from iii_helpers.observability import Logger" in code
        and "from iii import Logger" not in code
    )
    assert '"status_code": 404' in code
    assert leftovers(project) == []
    assert passes_its_tests(project, {**answers, "iii_line": "0.25"})


def test_the_line_migration_changes_nothing_when_run_again(
    tmp_path: Path, run_migration: Callable[..., str]
) -> None:
    (tmp_path / "src").mkdir()
    mine = tmp_path / "src" / "mine.py"
    mine.write_text('from iii import InitOptions, Logger\n\nR = {"statusCode": 201, "body": {}}\n')

    first = run_migration("--line", "0.25", str(tmp_path))
    after_first = mine.read_text()
    second = run_migration("--line", "0.25", str(tmp_path))

    assert "changed:" in first and "changed:" not in second
    assert mine.read_text() == after_first
    assert after_first == (
        "from iii import InitOptions\nfrom iii_helpers.observability import Logger\n\n"
        'R = {"status_code": 201, "body": {}}\n'
    )


@pytest.fixture
def run_migration() -> Callable[..., str]:
    def run(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(TEMPLATE / "hooks" / "migrate_line.py"), *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    return run
