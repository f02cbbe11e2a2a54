"""Rendering the template and building what it renders, for the tests (and the benchmarks)."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import copier
import yaml

TEMPLATE = Path(__file__).resolve().parents[1]
# The engine double ships to generated projects as plain Python; the template's tests use it too.
ENGINE_DOUBLE_DIR = TEMPLATE / "template" / "tests"
RENDERS: dict[str, dict[str, Any]] = yaml.safe_load(
    (TEMPLATE / "tests" / "renders.yml").read_text()
)


def render(destination: Path, answers: dict[str, Any]) -> Path:
    """`copier copy --defaults` of the working tree (uncommitted changes included) with `answers`."""
    copier.run_copy(
        str(TEMPLATE),
        destination,
        data=answers,
        defaults=True,
        vcs_ref="HEAD",
        quiet=True,
    )
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


def project_at(path: Path, answers: dict[str, Any], name: str = "") -> Project:
    """A rendered project at `path`, with the environment its commands run in."""
    python = python_for(answers.get("python_version", "3.12"))
    if python is None:
        raise LookupError(f"no Python {answers.get('python_version', '3.12')} on this machine")
    env = {
        **os.environ,
        "UV_PYTHON": python,
        "UV_PYTHON_DOWNLOADS": "never",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{path / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return Project(path, answers, env, name)


def build(path: Path, answers: dict[str, Any], name: str = "") -> Project:
    """Install a rendered project the way its README says, with its chosen package manager."""
    project = project_at(path, answers, name)
    python = project.env["UV_PYTHON"]
    if answers.get("package_manager", "uv") == "uv":
        steps: list[tuple[str, ...]] = [(shutil.which("uv") or "uv", "sync", "--quiet")]
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


# What each trigger kind's module registers: function-id suffixes and (type, suffix, config).
Registrations = tuple[set[str], list[tuple[str, str, dict[str, Any]]]]
REGISTRATIONS: dict[str, Callable[[dict[str, Any]], Registrations]] = {
    "http": lambda a: (
        {"items::create", "items::get"},
        [
            ("http", "items::create", {"api_path": a["http_path"], "http_method": "POST"}),
            ("http", "items::get", {"api_path": a["http_path"] + "/:id", "http_method": "GET"}),
        ],
    ),
    "http-middleware": lambda a: (
        {"admin::require-api-key", "admin::status"},
        [
            (
                "http",
                "admin::status",
                {
                    "api_path": "/admin/status",
                    "http_method": "GET",
                    "middleware_function_ids": [a["worker_name"] + "::admin::require-api-key"],
                },
            )
        ],
    ),
    "cron": lambda a: (
        {"heartbeat"},
        [("cron", "heartbeat", {"expression": a["cron_expression"]})],
    ),
    "queue": lambda a: (
        {"jobs::publish", "jobs::process"},
        [
            (
                "durable:subscriber",
                "jobs::process",
                {"topic": a["queue_topic"], "queue_config": {"maxRetries": 3}},
            )
        ],
    ),
    "state": lambda a: ({"state-changes"}, [("state", "state-changes", {})]),
    "stream": lambda a: (
        {"stream-changes"},
        [("stream", "stream-changes", {"stream_name": a["stream_name"]})],
    ),
    "stream-join-leave": lambda a: (
        {"stream-presence::join", "stream-presence::leave"},
        [
            ("stream:join", "stream-presence::join", {}),
            ("stream:leave", "stream-presence::leave", {}),
        ],
    ),
    "stream-auth": lambda a: ({"stream-auth"}, []),
}
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


def expected(name: str) -> tuple[set[str], list[str]]:
    answers = answers_of(name)
    prefix = answers["worker_name"] + "::"
    functions: set[str] = set() if answers["triggers"] else {"greet"}
    triggers: list[tuple[str, str, dict[str, Any]]] = []
    for kind in answers["triggers"]:
        kind_functions, kind_triggers = REGISTRATIONS[kind](answers)
        functions |= kind_functions
        triggers += kind_triggers
    return {prefix + f for f in functions}, sorted(repr((t, prefix + f, c)) for t, f, c in triggers)
