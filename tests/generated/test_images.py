"""Generated Dockerfiles, built and run for real: a fresh copy of the all-triggers project (no
uv.lock, as `copier copy` leaves it) for each Python and package manager, its image run against the
engine double on the host. Where no container engine or base image is usable, skipped with why.

Each variant builds one image and runs one container through every check, in order: it registers
everything, answers HTTP, runs as a non-root user with the worker as PID 1, and `docker stop` ends
it with exit code 0 within 5 s. The same image then goes through the project's own
`scripts/smoke_image.py`, the step its CI workflow runs, so that step is proven here too.
"""

import re
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from engine_double import EngineDouble

from harness import containers
from harness.kinds import expected
from harness.projects import RENDERS, Project, answers_of, project_at, render

pytestmark = pytest.mark.slow

# The suite builds one image per package manager, on the default Python and on the one Debian
# itself ships; `python -m benchmarks.images` builds and times every Python 3.10-3.13 with both
# (its figures are in the closing notes and the README).
IMAGES = [("3.12", "uv"), ("3.11", "pip")]
API_KEY = "image-api-key-Zq8v3LkP0xW2mN7tR5yB1cH4jF6gD9sA"  # not guessable: see src/main.py
# What the uv Dockerfile prints when it locks itself, as a line of BuildKit's plain output
# ("#11 0.038 no uv.lock: ..."), not the echo command that BuildKit also shows.
NO_LOCK = re.compile(r"^#\d+ [\d.]+ no uv\.lock: locking now", re.MULTILINE)


def answers(python: str, package_manager: str) -> dict[str, Any]:
    return {
        **RENDERS["all"],
        "python_version": python,
        "package_manager": package_manager,
        "deploy": ["container"],
    }


def usable(python: str) -> None:
    if problem := containers.base_problem(python):
        pytest.skip(problem)


def built_image(project: Path, name: str) -> tuple[str, containers.Build]:
    tag = f"copier-iii-worker-test/{name}:{uuid.uuid4().hex[:12]}"
    # No layer cache: each run builds for real (and the build log shows every step's output).
    result = containers.build(project, tag, cache=False)
    assert result.ok, result.log[-4000:]
    return tag, result


def proc_1(container: str, file: str) -> str:
    read = containers.docker("exec", container, "cat", f"/proc/1/{file}")
    assert read.returncode == 0, read.stderr
    return read.stdout


@pytest.mark.parametrize(("python", "package_manager"), IMAGES)
def test_fresh_project_image_serves_as_a_non_root_pid_1_worker_and_stops_cleanly(
    python: str,
    package_manager: str,
    tmp_path: Path,
    template_copy: Path,
    built: Callable[[str], Project],
    record_property: Callable[[str, object], None],
) -> None:
    usable(python)
    project = render(tmp_path / "orders-worker", answers(python, package_manager), template_copy)
    assert not (project / "uv.lock").exists()
    tag, build = built_image(project, f"{package_manager}-{python}")
    try:
        assert bool(NO_LOCK.search(build.log)) == (package_manager == "uv")
        record_property(
            "image",
            {
                "python": python,
                "package_manager": package_manager,
                "build_s": round(build.seconds, 1),
                "mb": round(containers.image_bytes(tag) / 1e6),
                "base_mb": round(containers.image_bytes(f"python:{python}-slim") / 1e6),
            },
        )
        engine = EngineDouble().start()
        env = {"III_URL": engine.url, "OTEL_ENABLED": "false", "API_KEY": API_KEY}
        try:
            with containers.running(tag, env) as container:
                record_property("stopped_in_s", round(smoke(engine, container), 2))
        finally:
            engine.stop()
        assert_projects_smoke_script_passes(project, tag, built("all"))
    finally:
        containers.remove_image(tag)


def assert_projects_smoke_script_passes(project: Path, tag: str, installed: Project) -> None:
    """The project's `scripts/smoke_image.py` on this image, as its CI runs it, with the Python of
    the installed all-kinds render (the same handlers; installing this copy would cost a minute)."""
    result = subprocess.run(
        [installed.tool("python"), "scripts/smoke_image.py", tag],
        cwd=project,
        env={**installed.env, "DOCKER": containers.DOCKER or "docker"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    assert "registered everything and stopped with exit 0" in result.stdout


def smoke(engine: EngineDouble, container: str) -> float:
    """Every check, in order, ending with `docker stop`; how long the stop took."""
    functions, triggers = expected("all")
    try:
        engine.wait_until(
            lambda: set(engine.functions) >= functions and len(engine.triggers) >= len(triggers),
            timeout=60,
        )
    except TimeoutError:
        logs = containers.docker("logs", container)
        raise AssertionError(f"no registrations; the container said:\n{logs.stderr}") from None
    registered = [
        (t["trigger_type"], t["function_id"], t["config"]) for t in engine.triggers.values()
    ]
    assert set(engine.functions) == functions
    assert sorted(map(repr, registered)) == triggers
    assert engine.rejected == [] and engine.parked == []

    path = answers_of("all")["http_path"]
    created = engine.http("POST", path, body={"name": "Sencha"})
    assert created.status_code == 201
    assert engine.http("GET", f"{path}/{created.body['id']}").body == created.body
    assert engine.http("GET", "/admin/status", headers={"x-api-key": API_KEY}).status_code == 200
    assert engine.http("GET", "/healthz").status_code == 200  # what a readiness probe would ask

    assert proc_1(container, "cmdline").split("\0")[:-1] == ["python", "-m", "src.main"]
    # Real, effective, saved and filesystem uid of the worker itself.
    uids = next(
        line for line in proc_1(container, "status").splitlines() if line.startswith("Uid:")
    )
    assert "0" not in uids.split()[1:], f"PID 1 runs as root: {uids}"

    seconds, exit_code = containers.stop(container)
    assert exit_code == 0
    assert seconds < 5, f"docker stop took {seconds:.1f} s"
    logs = containers.docker("logs", container)
    assert "Traceback" not in logs.stdout + logs.stderr, logs.stderr
    return seconds


# uv's lock, on 3.11 (the base image every engine setup has).


def locked_project(tmp_path: Path, template: Path) -> Path:
    """A fresh uv project, locked on the host with websockets held at 13.1, below its newest
    release: an image that installs the lock has 13.1, one that locked itself would not."""
    uv_answers = answers("3.11", "uv")
    project = project_at(render(tmp_path / "orders-worker", uv_answers, template), uv_answers)
    uv = shutil.which("uv") or "uv"
    for step in (["lock"], ["lock", "--upgrade-package", "websockets==13.1"]):
        result = project.run(uv, *step)
        assert result.returncode == 0, result.stderr
    return project.path


def test_uv_image_installs_the_committed_lock(tmp_path: Path, template_copy: Path) -> None:
    usable("3.11")
    project = locked_project(tmp_path, template_copy)
    tag, build = built_image(project, "uv-lock")
    try:
        assert not NO_LOCK.search(build.log)
        version = containers.docker(
            "run", "--rm", "--network", "none", tag,
            "python", "-c", "import importlib.metadata as m; print(m.version('websockets'))",
        )  # fmt: skip
        assert version.stdout.strip() == "13.1", version.stderr
    finally:
        containers.remove_image(tag)


def test_uv_image_refuses_a_stale_lock(tmp_path: Path, template_copy: Path) -> None:
    usable("3.11")
    project = locked_project(tmp_path, template_copy)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"iii-sdk==', '"idna",\n    "iii-sdk=='))

    tag = f"copier-iii-worker-test/uv-stale:{uuid.uuid4().hex[:12]}"
    try:
        build = containers.build(project, tag, cache=False)
        assert not build.ok
        assert "needs to be updated" in build.log, build.log[-4000:]
    finally:
        containers.remove_image(tag)
