"""The generated worker process fails loudly and stops gracefully, tried the way a user meets it:
a handler module that does not import, a project whose tests do not collect, a bad setting, and
a stop while an invocation is still running. Each case runs a copy of a built project, so the
shared build stays intact.
"""

import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from engine_double import EngineDouble, InvocationFailed

from harness.projects import Project, kill_if_running

pytestmark = pytest.mark.slow

RENDER = "http"  # the smallest render with state, which the slow handler below uses
WORKER = "my-worker"


@pytest.fixture
def engine() -> Iterator[EngineDouble]:
    double = EngineDouble().start()
    yield double
    double.stop()


@pytest.fixture
def project(built: Callable[[str], Project]) -> Project:
    return built(RENDER)


@pytest.fixture
def copy(project: Project, tmp_path: Path) -> Path:
    """The project's code, tests and settings in a scratch directory (its .venv stays shared)."""
    for name in ("src", "tests"):
        shutil.copytree(project.path / name, tmp_path / name)
    shutil.copy2(project.path / "pyproject.toml", tmp_path)
    return tmp_path


def run_worker(
    project: Project, engine: EngineDouble, cwd: Path, env: dict[str, str] | None = None
) -> tuple[int, str, float]:
    """Run `python -m src.main` to its end (10 s at most): exit code, output and seconds taken."""
    started = time.monotonic()
    process = project.start_worker(engine.url, cwd=cwd, env=env, keep_output=True)
    try:
        output, _ = process.communicate(timeout=10)
    finally:
        kill_if_running(process)
    return process.returncode, output.decode(), time.monotonic() - started


BROKEN_MODULES = {
    "import error": 'raise RuntimeError("the database is not configured")\n',
    "syntax error": "def half_written(:\n",
    "conflict markers": "<<<<<<< before updating\nA = 1\n=======\nA = 2\n>>>>>>> after updating\n",
}


@pytest.mark.parametrize("breakage", BROKEN_MODULES)
def test_a_handler_module_that_does_not_import_ends_the_worker_with_exit_1(
    project: Project, engine: EngineDouble, copy: Path, breakage: str
) -> None:
    with (copy / "src" / "handlers" / "items.py").open("a") as module:
        module.write(BROKEN_MODULES[breakage])

    code, output, seconds = run_worker(project, engine, copy)

    assert code == 1, output
    assert "Traceback" in output and "items.py" in output
    assert seconds < 10  # about 1 s on a quiet machine; the bound is that it never hangs


def test_pytest_on_a_project_that_does_not_import_reports_it_and_exits(
    project: Project, copy: Path
) -> None:
    with (copy / "src" / "handlers" / "items.py").open("a") as module:
        module.write(BROKEN_MODULES["import error"])

    result = subprocess.run(
        [project.tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=copy,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,  # before the fix it hung here until killed
        check=False,
    )

    assert result.returncode == 2, result.stdout
    assert "the database is not configured" in result.stdout


@pytest.mark.parametrize("level", ["debug", "Info", "WARNING"])
def test_log_level_is_accepted_in_any_case(
    project: Project, engine: EngineDouble, level: str
) -> None:
    worker = project.start_worker(engine.url, env={"LOG_LEVEL": level})
    try:
        engine.wait_until(lambda: bool(engine.workers), timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=5) == 0
    finally:
        kill_if_running(worker)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL='verbose' is not a level; use one of debug"),
        ({"STOP_GRACE_SECONDS": "soon"}, "STOP_GRACE_SECONDS='soon' is not allowed"),
        ({"STOP_GRACE_SECONDS": "-1"}, "use seconds from 0 to 3600"),
    ],
)
def test_a_bad_setting_ends_the_worker_with_exit_2_and_says_what_is_allowed(
    project: Project, engine: EngineDouble, setting: dict[str, str], message: str
) -> None:
    code, output, seconds = run_worker(project, engine, project.path, setting)

    assert code == 2, output
    assert message in output
    assert seconds < 10  # about 1 s on a quiet machine; the bound is that it never hangs


GUESSABLE_SECRETS = [
    ("API_KEY", "change-me", "is shorter than 32 bytes"),
    ("API_KEY", "   ", "is blank"),
    ("API_KEY", "x" * 48, "repeats too few characters"),
    ("API_KEY", "Zq8v3LkP0xW2mN7tR5yB1cH4jF6gD9sA0eU3iO8pQ\n", "starts or ends with whitespace"),
    ("STREAM_AUTH_SECRET", "change-me-change-me-change-me-change-me", "looks like a placeholder"),
    ("STREAM_AUTH_SECRET", "your-stream-secret-goes-here-0123456789", "looks like a placeholder"),
    (
        "STREAM_AUTH_SECRET_PREVIOUS",
        "example-0123456789-abcdefghijklmnopqrs",
        "looks like a placeholder",
    ),
]


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    GUESSABLE_SECRETS,
    ids=[f"{v}: {w}" for v, _, w in GUESSABLE_SECRETS],
)
def test_a_guessable_secret_ends_the_worker_with_exit_2_and_one_line_naming_it(
    built: Callable[[str], Project], engine: EngineDouble, variable: str, value: str, why: str
) -> None:
    project = built("all")  # the render with every secret a kind reads

    code, output, seconds = run_worker(project, engine, project.path, {variable: value})

    assert code == 2, output
    (line,) = [line for line in output.splitlines() if variable in line]
    assert line.startswith(f"orders-worker: {variable} {why}")
    assert "; use at least 32 random bytes" in line
    assert "python -c 'import secrets; print(secrets.token_urlsafe(32))'" in line
    assert not value.strip() or value.strip() not in output  # a secret never reaches a log
    assert engine.functions == {}  # refused before any handler registered
    assert seconds < 10


def test_made_secrets_are_accepted_and_unset_ones_allowed(
    built: Callable[[str], Project], engine: EngineDouble
) -> None:
    made = {
        "API_KEY": secrets.token_urlsafe(32),
        "STREAM_AUTH_SECRET": secrets.token_hex(32),
        "STREAM_AUTH_SECRET_PREVIOUS": "",  # empty, as `${VAR:-}` leaves it: the same as unset
    }
    worker = built("all").start_worker(engine.url, env=made)
    try:
        engine.wait_for_functions("orders-worker::admin::status", timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=5) == 0
    finally:
        kill_if_running(worker)


SLOW_MODULE = f'''"""A handler that takes its time, for the stop tests."""

import asyncio
from typing import Any

from src.lib.iii_client import iii


async def slow(data: dict[str, Any]) -> dict[str, Any]:
    await iii.trigger_async(
        {{"function_id": "state::set", "payload": {{"scope": "slow", "key": "started", "value": 1}}}}
    )
    await asyncio.sleep(data["seconds"])
    return {{"slept": data["seconds"]}}


iii.register_function("{WORKER}::slow", slow)
'''


@pytest.fixture
def slow_worker(copy: Path) -> Path:
    """The copy with a slow handler module, imported by src/main.py like the others."""
    (copy / "src" / "handlers" / "slow.py").write_text(SLOW_MODULE)
    main = copy / "src" / "main.py"
    main.write_text(
        main.read_text().replace(
            '    "src.handlers.items",\n', '    "src.handlers.items",\n    "src.handlers.slow",\n'
        )
    )
    return copy


def start_slow_call(engine: EngineDouble, seconds: float) -> "Future[Any]":
    calls = ThreadPoolExecutor(max_workers=1)
    call = calls.submit(engine.invoke, f"{WORKER}::slow", {"seconds": seconds}, 30)
    calls.shutdown(wait=False)
    engine.wait_until(lambda: ("slow", "started") in engine.state, timeout=10)
    return call


def test_sigterm_lets_a_running_invocation_finish_then_exits_0(
    project: Project, engine: EngineDouble, slow_worker: Path
) -> None:
    worker = project.start_worker(engine.url, cwd=slow_worker)
    try:
        engine.wait_for_functions(f"{WORKER}::slow", timeout=30)
        call = start_slow_call(engine, seconds=1.5)

        worker.send_signal(signal.SIGTERM)

        assert call.result(timeout=10) == {"slept": 1.5}
        assert worker.wait(timeout=5) == 0
    finally:
        kill_if_running(worker)


def test_the_grace_period_bounds_the_wait_for_running_invocations(
    project: Project, engine: EngineDouble, slow_worker: Path
) -> None:
    worker = project.start_worker(
        engine.url, cwd=slow_worker, env={"STOP_GRACE_SECONDS": "0.5"}, keep_output=True
    )
    try:
        engine.wait_for_functions(f"{WORKER}::slow", timeout=30)
        call = start_slow_call(engine, seconds=30)
        stopping = time.monotonic()

        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=10)

        assert worker.returncode == 0
        assert time.monotonic() - stopping < 5
        assert b"Stopped with invocations still running" in output
        with pytest.raises(InvocationFailed, match="invocation_stopped"):
            call.result(timeout=10)
    finally:
        kill_if_running(worker)


def test_a_second_signal_stops_without_waiting(
    project: Project, engine: EngineDouble, slow_worker: Path
) -> None:
    worker = project.start_worker(engine.url, cwd=slow_worker)
    try:
        engine.wait_for_functions(f"{WORKER}::slow", timeout=30)
        start_slow_call(engine, seconds=30)
        stopping = time.monotonic()

        worker.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # the first signal is being handled: the worker is waiting for the call
        worker.send_signal(signal.SIGINT)

        assert worker.wait(timeout=5) == 0
        assert time.monotonic() - stopping < 3
    finally:
        kill_if_running(worker)


def test_a_second_worker_with_the_same_name_is_turned_away_and_exits_3(
    project: Project, engine: EngineDouble
) -> None:
    """The 0.23+ engine keeps one live worker per name (WORKER_NAMESPACE_CONFLICT, fatal): the
    second one must end, not idle, so an orchestrator sees it."""
    first = project.start_worker(engine.url)
    try:
        engine.wait_until(lambda: len(engine.workers) == 1, timeout=30)

        code, output, seconds = run_worker(project, engine, project.path)

        assert code == 3, output
        assert "WORKER_NAMESPACE_CONFLICT" in output
        assert "The engine turned this worker away" in output
        assert seconds < 10
        assert first.poll() is None  # the first worker goes on serving
        assert (
            engine.invoke(f"{WORKER}::items::get", {"path_params": {"id": "x"}})["status_code"]
            == 404
        )
    finally:
        kill_if_running(first)


def test_a_function_another_worker_owns_is_logged_as_an_error_naming_it_and_its_owner(
    project: Project, engine: EngineDouble
) -> None:
    """FUNCTION_NAMESPACE_CONFLICT refuses one function; the SDK only warns and serves the rest."""
    first = project.start_worker(engine.url)
    second = None
    try:
        engine.wait_for_functions(f"{WORKER}::items::create", timeout=30)
        second = project.start_worker(engine.url, env={"III_WORKER_NAME": "copy"}, keep_output=True)
        engine.wait_until(lambda: len(engine.workers) == 2, timeout=30)
        engine.wait_until(lambda: len(engine.registration_rejections) >= 2, timeout=30)
        second.send_signal(signal.SIGTERM)
        output, _ = second.communicate(timeout=10)
    finally:
        kill_if_running(first)
        if second is not None:
            kill_if_running(second)

    refused = [
        line for line in output.decode().splitlines() if "FUNCTION_NAMESPACE_CONFLICT" in line
    ]
    assert refused and all(" ERROR " in line for line in refused), output.decode()
    assert any(f"{WORKER}::items::create" in line for line in refused)
    owner = engine.registration_rejections[0]["owner_worker_id"]
    assert all(owner in line for line in refused)


def test_with_telemetry_on_logs_still_reach_stderr_and_the_engine_sees_no_error(
    project: Project, engine: EngineDouble
) -> None:
    worker = project.start_worker(engine.url, env={"OTEL_ENABLED": "true"}, keep_output=True)
    try:
        engine.wait_until(lambda: bool(engine.workers), timeout=30)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=10)
    finally:
        kill_if_running(worker)

    assert worker.returncode == 0
    assert b"Worker started" in output and b"Stopping" in output
    assert b"Traceback" not in output


def test_a_stop_signal_while_a_handler_module_hangs_at_import_stops_the_worker(
    project: Project, engine: EngineDouble, copy: Path
) -> None:
    with (copy / "src" / "handlers" / "items.py").open("a") as module:
        module.write("import time\n\ntime.sleep(60)  # a connection that never answers, say\n")
    worker = project.start_worker(engine.url, cwd=copy)
    try:
        engine.wait_until(lambda: f"{WORKER}::items::get" in engine.functions, timeout=30)

        worker.send_signal(signal.SIGTERM)

        assert worker.wait(timeout=10) == 0
    finally:
        kill_if_running(worker)
