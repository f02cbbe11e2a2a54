"""Rendering the template and building what it renders, for the tests and the benchmarks."""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import copier
import yaml

TEMPLATE = Path(__file__).resolve().parents[1]  # the template repository
# The engine double ships to generated projects as a plain Python package (copier.yml's
# `_exclude` leaves out the modules of engine workers a project does not run); the template's
# tests import it from here.
ENGINE_DOUBLE_DIR = TEMPLATE / "template" / "tests"
RENDERS: dict[str, dict[str, Any]] = yaml.safe_load(
    (TEMPLATE / "tests" / "renders.yml").read_text()
)
# The plain (non-Jinja) defaults of copier.yml's questions.
DEFAULTS = {
    name: question["default"]
    for name, question in yaml.safe_load((TEMPLATE / "copier.yml").read_text()).items()
    if isinstance(question, dict)
    and isinstance(question.get("default"), str)
    and "{{" not in question["default"]
}


def answers_of(name: str) -> dict[str, Any]:
    """A render's answers, with the template's defaults for what it leaves out."""
    answers = {**DEFAULTS, **RENDERS[name]}
    answers.setdefault("queue_topic", f"{answers['worker_name']}.jobs")
    return answers


def render(destination: Path, answers: dict[str, Any], source: Path = TEMPLATE) -> Path:
    """`copier copy --defaults` with `answers` of the working tree (uncommitted changes included),
    or of `source`: a plain folder (see `snapshot`) renders without a git clone, twice as fast."""
    copier.run_copy(
        str(source),
        destination,
        data=answers,
        defaults=True,
        vcs_ref="HEAD",
        quiet=True,
    )
    return destination


def working_tree_files(folder: str = ".") -> list[str]:
    """The files under `folder` of the template that git sees in the working tree (tracked, or new
    and not ignored), as paths relative to the template."""
    return subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", folder],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()


def snapshot(destination: Path) -> Path:
    """The template's files as git sees them in the working tree (tracked, or new and not ignored),
    copied into a plain folder."""
    for name in working_tree_files():
        if (TEMPLATE / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / name, destination / name)
    return destination


@cache
def python_for(version: str) -> str | None:
    """An interpreter of that minor version on this machine, or None."""
    candidates = [shutil.which(f"python{version}")]
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        candidates.insert(0, sys.executable)
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


@dataclass
class Project:
    """A rendered project with its own virtual environment in `.venv`."""

    path: Path
    answers: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    name: str = ""  # its name in renders.yml

    def run(self, *command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run a command in the project, with its environment first on PATH."""
        return subprocess.run(
            command,
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def tool(self, name: str) -> str:
        return str(self.path / ".venv" / "bin" / name)

    def start_worker(
        self,
        engine_url: str,
        *,
        command: list[str] | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        keep_output: bool = False,
    ) -> "subprocess.Popen[bytes]":
        """Start the worker (`python -m src.main` unless told otherwise) against the engine at
        `engine_url`, with telemetry off and its output dropped (or piped, with `keep_output`)."""
        output = subprocess.PIPE if keep_output else subprocess.DEVNULL
        return subprocess.Popen(
            command or [self.tool("python"), "-m", "src.main"],
            cwd=cwd or self.path,
            env={**self.env, "III_URL": engine_url, "OTEL_ENABLED": "false", **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT if keep_output else subprocess.DEVNULL,
        )


def kill_if_running(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


class PythonMissing(LookupError):
    """The Python a render asks for is not installed here (callers skip with this reason)."""


def project_at(path: Path, answers: dict[str, Any], name: str = "") -> Project:
    """A rendered project at `path`, with the environment its commands run in."""
    version = str(answers.get("python_version", DEFAULTS["python_version"]))
    python = python_for(version)
    if python is None:
        raise PythonMissing(f"Python {version} is not installed here (PYENV_VERSION reaches it)")
    env = {
        **os.environ,
        "UV_PYTHON": python,
        "UV_PYTHON_DOWNLOADS": "never",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{path / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return Project(path, answers, env, name)


def build(
    path: Path, answers: dict[str, Any], name: str = "", *, with_pip: bool = False
) -> Project:
    """Install a rendered project with its chosen package manager. A pip project installs the way
    its README says (pip itself) only `with_pip`: the suite proves that path on one render, and
    installs the other pip projects' same `pyproject.toml` with `uv pip`, ten times faster."""
    project = project_at(path, answers, name)
    python = project.env["UV_PYTHON"]
    uv = shutil.which("uv") or "uv"
    if answers.get("package_manager", "uv") == "uv":
        steps: list[tuple[str, ...]] = [(uv, "sync", "--quiet")]
    elif not with_pip:
        steps = [
            (uv, "venv", "--quiet", "--seed", "--python", python, ".venv"),
            (uv, "pip", "install", "--quiet", "--python", ".venv", "-e", ".", "--group", "dev"),
        ]
    else:
        pip = (project.tool("python"), "-m", "pip", "install", "--quiet")
        steps = [
            (python, "-m", "venv", ".venv"),
            (*pip, "--upgrade", "pip"),  # dependency groups need pip 25.1
            (*pip, "-e", ".", "--group", "dev"),
        ]
    for step in steps:
        result = project.run(*step)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(step)} failed:\n{result.stdout}\n{result.stderr}")
    return project
