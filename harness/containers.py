"""Docker for the image tests (and the image benchmark): whether an engine is usable, builds,
containers. Every call is bounded. Nothing here needs Docker Hub: the `python:X.Y-slim` bases must
already be in the engine (`.ci/container-engine` makes stand-ins for them)."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Debian's client where it is installed: a newer client found earlier on PATH may lack the buildx
# plugin and refuse BuildKit, which the Dockerfile's cache mounts need.
DOCKER = "/usr/bin/docker" if os.access("/usr/bin/docker", os.X_OK) else shutil.which("docker")
SETUP = ".ci/container-engine starts one, as .ci/run does"


def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    if DOCKER is None:
        raise LookupError("no docker client")
    return subprocess.run(
        [DOCKER, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )


@cache
def engine_problem() -> str | None:
    """Why no container engine is usable here, or None when one is."""
    if DOCKER is None:
        return f"no docker client ({SETUP})"
    try:
        server = docker("version", "--format", "{{.Server.Version}}", timeout=20)
    except subprocess.TimeoutExpired:
        where = os.environ.get("DOCKER_HOST", "the default socket")
        return f"the container engine at {where} did not answer within 20 s"
    if server.returncode != 0:
        reason = (server.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"no container engine: {reason} ({SETUP})"
    return None


def base_problem(python: str) -> str | None:
    """Why an image for this Python cannot be built here, or None when it can."""
    if problem := engine_problem():
        return problem
    if docker("image", "inspect", f"python:{python}-slim", timeout=30).returncode != 0:
        return f"no python:{python}-slim base image here (.ci/container-engine makes stand-ins)"
    return None


@dataclass
class Build:
    ok: bool
    seconds: float
    log: str  # BuildKit's plain progress output


def build(context: Path, tag: str, *, cache: bool = True, timeout: float = 600) -> Build:
    """`docker build` of the Dockerfile in `context`; with `cache=False`, every step runs again
    (cache mounts, such as uv's download cache, stay). On the host's network: the engine that
    `.ci/container-engine` starts has no bridge."""
    options = ["--progress", "plain", "--network", "host", "--tag", tag]
    if not cache:
        options.append("--no-cache")
    started = time.monotonic()
    result = docker("build", *options, str(context), timeout=timeout)
    return Build(result.returncode == 0, time.monotonic() - started, result.stdout + result.stderr)


def image_bytes(tag: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", tag).stdout)


def remove_image(tag: str) -> None:
    docker("image", "rm", "--force", tag)


@contextmanager
def running(tag: str, env: dict[str, str]) -> Iterator[str]:
    """A detached container of `tag` on the host's network (where the engine double listens on
    the loopback), removed afterwards. Yields its id."""
    options = [f"--env={name}={value}" for name, value in env.items()]
    started = docker("run", "--detach", "--network", "host", *options, tag)
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        yield container
    finally:
        docker("rm", "--force", container)


def stop(container: str, grace: int = 10) -> tuple[float, int]:
    """`docker stop` (SIGTERM, then SIGKILL after `grace` seconds): how long it took and the exit
    code the container ended with."""
    started = time.monotonic()
    stopped = docker("stop", "--time", str(grace), container, timeout=grace + 30)
    seconds = time.monotonic() - started
    assert stopped.returncode == 0, stopped.stderr
    return seconds, int(docker("inspect", "--format", "{{.State.ExitCode}}", container).stdout)
