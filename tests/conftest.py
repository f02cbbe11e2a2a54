"""Fixtures shared by the template's tests."""

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from tests.releases import make_releases
from tests.template import (
    ENGINE_DOUBLE_DIR,
    RENDERS,
    Project,
    build,
    project_at,
    python_for,
    render,
)

sys.path.insert(0, str(ENGINE_DOUBLE_DIR))  # `import engine_double`, as generated projects do


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Callable[[str], Project]:
    """A named render from renders.yml, rendered and installed once per test run: xdist workers
    share one directory and take turns through a file lock, so whichever asks first builds it."""
    base = tmp_path_factory.getbasetemp()
    shared = (base if worker_id == "master" else base.parent) / "renders"
    shared.mkdir(exist_ok=True)
    projects: dict[str, Project] = {}

    def get(name: str) -> Project:
        if name not in projects:
            answers = RENDERS[name]
            version = answers.get("python_version", "3.12")
            if python_for(version) is None:
                pytest.skip(
                    f"Python {version} is not installed here (set PYENV_VERSION to reach it)"
                )
            path = shared / name / answers.get("worker_name", "my-worker")
            with FileLock(shared / f"{name}.lock"):
                if (path / ".venv").is_dir():
                    projects[name] = project_at(path, answers, name)
                else:
                    projects[name] = build(render(path, answers), answers, name)
        return projects[name]

    return get


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of this template with releases 1.0.0 and 2.0.0 (see tests/releases.py)."""
    return make_releases(tmp_path_factory)


@pytest.fixture
def rendered(tmp_path: Path) -> Callable[..., Path]:
    """Render with the given answers (defaults for the rest) into a fresh directory."""

    def make(**answers: object) -> Path:
        return render(tmp_path / "project", answers)

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per image that tests/test_images.py built: Python, package manager, build time,
    size, and whether its smoke test then passed (CI's record of both)."""
    rows = [
        (value, outcome)
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if isinstance(report, pytest.TestReport) and report.when == "call"
        for name, value in report.user_properties
        if name == "image" and isinstance(value, dict)
    ]
    if not rows:
        return
    terminalreporter.write_sep("-", "images built (sizes include the base image)")
    for image, outcome in sorted(
        rows, key=lambda row: (row[0]["python"], row[0]["package_manager"])
    ):
        terminalreporter.write_line(
            f"Python {image['python']:<5} {image['package_manager']:<4}"
            f" build {image['build_s']:5.1f} s  {image['mb']:4d} MB"
            f" (base {image['base_mb']} MB)  smoke {outcome}"
        )
