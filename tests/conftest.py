"""Fixtures shared by the template's tests."""

import json
import shutil
import sys
from collections.abc import Callable, Generator
from pathlib import Path

import pytest
from filelock import FileLock

from harness.projects import (
    ENGINE_DOUBLE_DIR,
    RENDERS,
    Project,
    PythonMissing,
    build,
    project_at,
    render,
    snapshot,
)
from tests.releases import make_releases

sys.path.insert(0, str(ENGINE_DOUBLE_DIR))  # `import engine_double`, as generated projects do
# Motia projects the importer's tests convert: source to read, not tests to collect.
collect_ignore = ["importer/motia_projects"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A test that builds a render whose Python is not installed here is skipped with the reason."""
    try:
        return (yield)
    except PythonMissing as missing:
        pytest.skip(str(missing))


# The renders installed with pip itself, the way a pip project's README says (the other pip
# renders install the same pyproject.toml with uv, faster).
README_PIP = {"all-pip"}


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
            path = shared / name / answers.get("worker_name", "my-worker")
            try:
                with FileLock(shared / f"{name}.lock"):
                    if (path / ".venv").is_dir():
                        projects[name] = project_at(path, answers, name)
                    else:
                        projects[name] = build(
                            render(path, answers), answers, name, with_pip=name in README_PIP
                        )
            except PythonMissing as missing:
                pytest.skip(str(missing))
        return projects[name]

    return get


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of this template with releases 1.0.0 and 2.0.0 (see tests/releases.py)."""
    return make_releases(tmp_path_factory)


@pytest.fixture(scope="session")
def template_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template's working tree in a plain folder, which renders without a git clone."""
    return snapshot(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def shared_render(
    tmp_path_factory: pytest.TempPathFactory, template_copy: Path
) -> Callable[..., Path]:
    """Render with the given answers once per xdist worker, for tests that only read the render:
    a render is a function of the template and the answers, and many tests read the same one."""
    seen: dict[str, Path] = {}

    def get(**answers: object) -> Path:
        key = json.dumps(answers, sort_keys=True)
        if key not in seen:
            destination = tmp_path_factory.mktemp("render") / "my-worker"
            seen[key] = render(destination, answers, template_copy)
        return seen[key]

    return get


@pytest.fixture
def rendered(
    tmp_path: Path, template_copy: Path, shared_render: Callable[..., Path]
) -> Callable[..., Path]:
    """Render with the given answers (defaults for the rest) into a fresh directory that the test
    may change: a copy of the one shared render of those answers."""

    def make(**answers: object) -> Path:
        destination = tmp_path / "project"
        if destination.exists():  # a second render in one test: copier's own behaviour
            return render(destination, answers, template_copy)
        return Path(shutil.copytree(shared_render(**answers), destination, symlinks=True))

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per image that tests/generated/test_images.py built: Python, package manager, build time,
    size, whether its smoke test then passed and how long `docker stop` took (CI's record)."""
    rows = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            properties = dict(getattr(report, "user_properties", []))
            image = properties.get("image")
            if isinstance(image, dict) and getattr(report, "when", "") == "call":
                rows.append((image["python"], image["package_manager"], image, properties, outcome))
    if not rows:
        return
    terminalreporter.write_sep("-", "images built (sizes include the base image)")
    for python, package_manager, image, properties, outcome in sorted(rows, key=lambda r: r[:2]):
        stopped = properties.get("stopped_in_s")
        terminalreporter.write_line(
            f"Python {python:<5} {package_manager:<4} build {image['build_s']:5.1f} s"
            f"  {image['mb']:4d} MB (base {image['base_mb']} MB)  smoke {outcome}"
            + (f", docker stop {stopped} s" if stopped is not None else "")
        )
