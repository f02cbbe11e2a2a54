"""Benchmarks of the template and the workers it generates (docs/benchmarks.md has the figures).

    python -m benchmarks.bench [--rounds N] [--cpu-rounds N] [--calls N]
                               [--cpu | --event-loop | --profile DIR]

Every figure is a ratio of two things measured side by side in the same run: these machines are
shared and noisy, so compare ratios from one run, never seconds across runs.

1. Cold start: `python -m src.main` of the all-triggers project until the engine double has every
   function, trigger and the worker's metadata, against the bare SDK worker (goal: <= 1.2x).
2. Invocations per second over a real WebSocket (engine double -> worker -> answer), through
   generated async HTTP handlers, against a no-op async handler, the ceiling (goal: >= 0.9x); and
   the rendered async style against the same handlers written sync.
3. The worker's CPU time per invocation, read from the OS (user + system, every thread, less its
   idle CPU over the same wall time) around each batch: the generated worker as it runs
   (`python -m src.main`) against the bare SDK worker, every worker on its own engine double and
   called at once (goal: <= 1.05x), with a second bare worker as the noise floor; and sync
   against async. `--cpu` runs only 2 and 3.
4. `copier copy` of the all-triggers project against the no-trigger one, and zero to green
   (copy + install + the project's own tests) in seconds.
5. uvloop against the default asyncio loop, CPU per call and rates, on each iii line (the renders
   all, line-0.22 and line-0.11); `--event-loop` runs only this one. The template adopts uvloop
   only if it cuts the CPU per call by at least 1.15x.

`--profile DIR` counts, instead, the Python function calls and the garbage collection per
invocation of the bare and the generated worker (exact, where CPU time is noisy), and lists the
calls one makes beyond the other's.
"""

import argparse
import json
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from harness.kinds import expected
from harness.projects import (
    ENGINE_DOUBLE_DIR,
    RENDERS,
    Project,
    answers_of,
    build,
    kill_if_running,
    render,
)

sys.path.insert(0, str(ENGINE_DOUBLE_DIR))
from engine_double import EngineDouble

from benchmarks.cpu import cpu_seconds

HERE = Path(__file__).resolve().parent


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median_ratio(numerator: list[float], denominator: list[float]) -> float:
    return statistics.median(numerator) / statistics.median(denominator)


def cold_start(
    project: Project, engine: EngineDouble, command: list[str], registered: Callable[[], bool]
) -> float:
    """Seconds from process start until the engine has the worker's metadata and `registered()`."""
    workers_before = len(engine.workers)
    begin = time.perf_counter()
    process = project.start_worker(engine.url, command=command)
    try:
        engine.wait_until(lambda: len(engine.workers) > workers_before and registered(), timeout=60)
        elapsed = time.perf_counter() - begin
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    finally:
        kill_if_running(process)
    engine.wait_until(lambda: not engine.functions, timeout=10)
    return elapsed


def bench_cold_start(project: Project, rounds: int) -> tuple[float, float, float]:
    functions, triggers = expected(project.name)
    python = project.tool("python")
    engine = EngineDouble().start()
    try:

        def generated_ready() -> bool:
            return set(engine.functions) >= functions and len(engine.triggers) >= len(triggers)

        def hello_ready() -> bool:
            return "hello::hello" in engine.functions

        hello: list[float] = []
        generated: list[float] = []
        for _ in range(rounds):
            hello.append(
                cold_start(project, engine, [python, str(HERE / "hello_worker.py")], hello_ready)
            )
            generated.append(
                cold_start(project, engine, [python, "-m", "src.main"], generated_ready)
            )
    finally:
        engine.stop()
    return statistics.median(generated), statistics.median(hello), median_ratio(generated, hello)


@dataclass
class Target:
    """One function of a running worker process, and the payload of its i-th call."""

    engine: EngineDouble
    pid: int
    function_id: str
    payload: Callable[[int], Any]


@dataclass
class Figures:
    """One target's figures, one value per round."""

    rates: list[float] = field(default_factory=list)  # invocations per second
    cpu: list[float] = field(default_factory=list)  # worker CPU s per call, less its idle CPU
    raw_cpu: list[float] = field(default_factory=list)  # worker CPU s per call, as measured
    idle: list[float] = field(default_factory=list)  # worker CPU s per second with no call

    def record(self, name: object, results: list[Any], calls: int, wall: float, cpu: float,
               idle: float, busy: float) -> None:  # fmt: skip
        """One round: `calls` answered in `wall` seconds, `cpu` worker seconds over `busy`."""
        failed = [result for result in results if isinstance(result, BaseException)]
        if failed:  # an error path would be measured instead of the handler
            raise RuntimeError(f"{len(failed)} calls of {name} failed: {failed[0]}")
        self.rates.append(calls / wall)
        self.raw_cpu.append(cpu / calls)
        self.cpu.append((cpu - idle * busy) / calls)
        self.idle.append(idle)

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def cpu_us(self) -> float:
        return statistics.median(self.cpu) * 1e6


# How long each round watches the workers do nothing, for the CPU they use idle.
IDLE_SECONDS = 0.3


def idle_cpu(pids: list[int], seconds: float) -> dict[int, float]:
    """CPU seconds per second that each process uses while nothing calls it."""
    before = {pid: cpu_seconds(pid) for pid in pids}
    start = time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - start
    return {pid: (cpu_seconds(pid) - before[pid]) / wall for pid in pids}


Key = TypeVar("Key", bound=Hashable)


# A worker is done with a batch once it has used under 2% of a CPU over two windows in a row.
QUIET_WINDOW_SECONDS, QUIET_SHARE = 0.03, 0.02


def settle(pid: int, timeout: float = 5.0) -> float:
    """Wait until the process is quiet; the seconds waited."""
    start = time.perf_counter()
    quiet = 0
    while quiet < 2 and time.perf_counter() - start < timeout:
        before = cpu_seconds(pid)
        time.sleep(QUIET_WINDOW_SECONDS)
        quiet = quiet + 1 if cpu_seconds(pid) - before < QUIET_WINDOW_SECONDS * QUIET_SHARE else 0
    return time.perf_counter() - start


def measure(targets: dict[Key, Target], rounds: int, calls: int) -> dict[Key, Figures]:
    """Invocations per second of each target, and its worker's CPU time per call (from the OS,
    around the batch, less what the worker uses idle over the same wall time). The targets take
    turns batch by batch, in reverse order every other round, so none always follows the same
    one; each round starts by measuring every worker idle."""
    figures = {name: Figures() for name in targets}
    pids = sorted({target.pid for target in targets.values()})
    for round_number in range(rounds):
        idle = idle_cpu(pids, IDLE_SECONDS)
        order = list(targets.items())
        for name, target in order if round_number % 2 == 0 else reversed(order):
            batch = [(target.function_id, target.payload(i)) for i in range(calls)]
            cpu = cpu_seconds(target.pid)
            start = time.perf_counter()
            results = target.engine.invoke_many(batch, timeout=300)
            wall = time.perf_counter() - start
            # What the calls set off after answering (a state trigger, say) is theirs too.
            busy = wall + settle(target.pid)
            cpu = cpu_seconds(target.pid) - cpu
            target.engine.reset()
            figures[name].record(name, results, calls, wall, cpu, idle[target.pid], busy)
    return figures


def measure_together(targets: dict[Key, Target], rounds: int, calls: int) -> dict[Key, Figures]:
    """As `measure`, but each round calls every target at once, each worker (one per target) on
    its own engine double: the workers then share whatever else loads the machine at that moment,
    which on a shared machine swings a worker's CPU per call far more than the difference under
    test. Their rates are not comparable with `measure`'s: the workers compete with each other."""
    if len({target.pid for target in targets.values()}) != len(targets):
        raise ValueError("measure_together needs one worker process per target")
    figures = {name: Figures() for name in targets}
    pids = [target.pid for target in targets.values()]

    def run(target: Target) -> tuple[float, list[Any]]:
        batch = [(target.function_id, target.payload(i)) for i in range(calls)]
        start = time.perf_counter()
        results = target.engine.invoke_many(batch, timeout=300)
        return time.perf_counter() - start, results

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        for round_number in range(rounds):
            idle = idle_cpu(pids, IDLE_SECONDS)
            before = {pid: cpu_seconds(pid) for pid in pids}
            # Each round another target starts first: the first batch out meets engine doubles
            # still idle, and a worker sent its calls faster reads more of them per wake-up.
            names = list(targets)
            names = names[round_number % len(names) :] + names[: round_number % len(names)]
            start = time.perf_counter()
            runs = dict(zip(names, pool.map(run, [targets[name] for name in names]), strict=True))
            for target in targets.values():
                settle(target.pid)
            busy = time.perf_counter() - start
            for name, target in targets.items():
                wall, results = runs[name]
                target.engine.reset()
                cpu = cpu_seconds(target.pid) - before[target.pid]
                figures[name].record(name, results, calls, wall, cpu, idle[target.pid], busy)
    return figures


def cpu_ratio(numerator: Figures, denominator: Figures) -> tuple[float, float, float]:
    """The median of the per-round ratios of CPU per call (each round's two batches ran one
    after the other), and their first and third quartiles: on a loaded machine a worker's CPU
    per call swings by 2x from one second to the next, so single rounds say little."""
    ratios = [a / b for a, b in zip(numerator.cpu, denominator.cpu, strict=True)]
    if len(ratios) < 2:
        return ratios[0], ratios[0], ratios[0]
    low, median, high = statistics.quantiles(ratios, n=4)
    return median, low, high


def start_on_own_engine(
    project: Project, command: list[str], function_ids: list[str], line: str | None = None
) -> tuple[EngineDouble, "subprocess.Popen[bytes]"]:
    """A worker process on an engine double of its own, once its functions are registered."""
    engine = EngineDouble(line=line).start()
    process = project.start_worker(
        engine.url, command=command, env={"PYTHONPATH": str(project.path)}
    )
    try:
        engine.wait_for_functions(*function_ids, timeout=60)
    except BaseException:
        kill_if_running(process)
        engine.stop()
        raise
    return engine, process


def stop_workers(workers: list[tuple[EngineDouble, "subprocess.Popen[bytes]"]]) -> None:
    for _, process in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for engine, process in workers:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill_if_running(process)
        engine.stop()


class Throughput(NamedTuple):
    generated: dict[str, Figures]  # the no-op and status handler, each worker at once
    created: dict[str, Figures]  # the create handler, each worker at once
    written: dict[str, Figures]  # async and sync, in turns, in the benchmark worker


def bench_throughput(project: Project, rounds: int, calls: int) -> Throughput:
    """The generated worker as it runs (`python -m src.main`) against the bare SDK worker
    (`hello_worker.py`, one no-op) and a second copy of it (what two identical workers differ by
    on this machine), and the benchmark worker's no-op on the project's client, every worker on
    its own engine double and called at once; then, in the benchmark worker alone and in turns,
    the same handlers written sync against async (a batch of sync calls leaves threads behind,
    so they run last)."""
    prefix = project.answers["worker_name"] + "::"
    request = {
        "method": "POST",
        "path": "/items",
        "path_params": {},
        "query_params": {},
        "headers": {},
    }

    def same(_i: int) -> dict[str, Any]:
        return request

    def create(i: int) -> dict[str, Any]:
        return {**request, "body": {"name": f"item {i}"}}

    python = project.tool("python")
    hello = [python, str(HERE / "hello_worker.py")]
    status, create_id = prefix + "admin::status", prefix + "items::create"
    sync_twins = ["bench::noop-sync", "bench::status-sync", "bench::create-sync"]
    workers = []
    try:
        workers.append(start_on_own_engine(project, hello, ["hello::hello"]))
        workers.append(start_on_own_engine(project, hello, ["hello::hello"]))
        workers.append(
            start_on_own_engine(project, [python, "-m", "src.main"], [status, create_id])
        )
        workers.append(start_on_own_engine(
            project, [python, str(HERE / "throughput_worker.py")], ["bench::noop", status, create_id, *sync_twins]
        ))  # fmt: skip
        bare, bare_again, main, bench = ((engine, process.pid) for engine, process in workers)
        generated = {
            "bare SDK no-op": Target(*bare, "hello::hello", same),
            "bare SDK no-op, again": Target(*bare_again, "hello::hello", same),
            "generated status": Target(*main, status, same),
            "client no-op": Target(*bench, "bench::noop", same),
        }
        created = {
            "bare SDK no-op": Target(*bare, "hello::hello", same),
            "generated create": Target(*main, create_id, create),
            "client create": Target(*bench, create_id, create),
        }
        written = {
            "async no-op": Target(*bench, "bench::noop", same),
            "async status": Target(*bench, status, same),
            "async create": Target(*bench, create_id, create),
            "sync no-op": Target(*bench, "bench::noop-sync", same),
            "sync status": Target(*bench, "bench::status-sync", same),
            "sync create": Target(*bench, "bench::create-sync", create),
        }
        for target in [*generated.values(), *created.values(), *written.values()]:  # warm up
            target.engine.invoke_many([(target.function_id, target.payload(i)) for i in range(50)])
            target.engine.reset()
        return Throughput(
            measure_together(generated, rounds, calls),
            measure_together(created, rounds, calls),
            measure(written, rounds, calls),
        )
    finally:
        stop_workers(workers)


# The renders that stand for each iii line, and the gain that would make uvloop the default.
EVENT_LOOP_RENDERS = {"0.25": "all", "0.22": "line-0.22", "0.11": "line-0.11"}
UVLOOP_ADOPTION_RATIO = 1.15


def install_uvloop(project: Project) -> None:
    """uvloop into the project's own environment (uv venvs have no pip of their own)."""
    if project.answers.get("package_manager", "uv") == "uv":
        command: tuple[str, ...] = (shutil.which("uv") or "uv", "pip", "install", "--quiet")
        command += ("--python", project.tool("python"), "uvloop")
    else:
        command = (project.tool("python"), "-m", "pip", "install", "--quiet", "uvloop")
    result = project.run(*command)
    if result.returncode != 0:
        raise RuntimeError(f"installing uvloop failed:\n{result.stdout}\n{result.stderr}")


def bench_event_loops(
    project: Project, line: str, rounds: int, calls: int
) -> dict[str, tuple[Figures, Figures]]:
    """uvloop against the default loop: two copies of the same worker, each on its own engine
    double of the project's line, called at once. Returns the figures on uvloop
    and on asyncio, per function."""
    prefix = project.answers["worker_name"] + "::"
    request = {"method": "POST", "path": "/items", "path_params": {}, "query_params": {}}
    functions: dict[str, Callable[[int], Any]] = {
        "bench::noop": lambda i: {**request, "headers": {}},
        prefix + "items::create": lambda i: {**request, "headers": {}, "body": {"name": f"i{i}"}},
    }
    command = [project.tool("python"), str(HERE / "throughput_worker.py")]
    workers = {}
    try:
        for name, extra in {"asyncio": {}, "uvloop": {"BENCH_EVENT_LOOP": "uvloop"}}.items():
            engine = EngineDouble(line=line).start()
            process = project.start_worker(
                engine.url, command=command, env={"PYTHONPATH": str(project.path), **extra}
            )
            workers[name] = (engine, process)
            engine.wait_for_functions(*functions, "bench::event-loop", timeout=60)
            [running] = engine.invoke_many([("bench::event-loop", {})])
            if not str(running).startswith(name):
                raise RuntimeError(f"the {name} worker runs on {running}, not {name}")
            for function, payload in functions.items():  # warm up
                engine.invoke_many([(function, payload(i)) for i in range(50)])
            engine.reset()
        figures = {}
        for function, payload in functions.items():
            targets = {
                name: Target(engine, process.pid, function, payload)
                for name, (engine, process) in workers.items()
            }
            figures[function] = measure_together(targets, rounds, calls)
    finally:
        stop_workers(list(workers.values()))
    return {function: (loops["uvloop"], loops["asyncio"]) for function, loops in figures.items()}


def event_loop_report(workdir: Path, rounds: int, calls: int) -> None:
    load = os.getloadavg()[0]
    print(
        f"\nuvloop vs asyncio ({rounds} rounds, both loops called at once; load {load:.2f}): the worker's CPU per"
        f" call on asyncio over that on uvloop (quartiles of the per-round ratios in brackets), then the rates\n"
    )
    for line, name in EVENT_LOOP_RENDERS.items():
        answers = answers_of(name)
        path = workdir / "event-loop" / name / answers["worker_name"]
        project = build(render(path, answers), answers, name)
        install_uvloop(project)
        for function, (uvloop, default) in bench_event_loops(project, line, rounds, calls).items():
            ratio, low, high = cpu_ratio(default, uvloop)
            verdict = "adopt" if ratio >= UVLOOP_ADOPTION_RATIO else "keep asyncio"
            label = f"iii {line} ({name})"
            cpu = f"{default.cpu_us:.0f} vs {uvloop.cpu_us:.0f} us/call [{low:.2f}-{high:.2f}]"
            rates = (
                f"{uvloop.rate / default.rate:.2f}x: {uvloop.rate:.0f}/s vs {default.rate:.0f}/s"
            )
            print(
                f"  {label:<22} {function:<30} CPU {ratio:5.2f}x {verdict:<12} {cpu:<34}"
                f" rate {rates}"
            )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


def bench_copy(workdir: Path, rounds: int) -> tuple[float, float, float]:
    everything: list[float] = []
    nothing: list[float] = []
    for i in range(rounds):
        everything.append(timed(partial(render, workdir / f"all-{i}", RENDERS["all"])))
        nothing.append(timed(partial(render, workdir / f"none-{i}", RENDERS["none"])))
    return (
        statistics.median(everything),
        statistics.median(nothing),
        median_ratio(everything, nothing),
    )


def zero_to_green(workdir: Path) -> tuple[float, Project]:
    start = time.perf_counter()
    path = render(workdir / "zero-to-green" / RENDERS["all"]["worker_name"], RENDERS["all"])
    project = build(path, RENDERS["all"], "all")
    result = project.run(project.tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider")
    if result.returncode != 0:
        raise RuntimeError(result.stdout)
    return time.perf_counter() - start, project


def rate_row(
    label: str, numerator: Figures, denominator: Figures, goal: str = ""
) -> tuple[str, float, str, str]:
    detail = f"{numerator.rate:.0f}/s vs {denominator.rate:.0f}/s"
    return label, numerator.rate / denominator.rate, goal, detail


def cpu_row(
    label: str, numerator: Figures, denominator: Figures, goal: str = ""
) -> tuple[str, float, str, str]:
    ratio, low, high = cpu_ratio(numerator, denominator)
    detail = f"{numerator.cpu_us:.0f} vs {denominator.cpu_us:.0f} us/call [{low:.2f}-{high:.2f}]"
    return label, ratio, goal, detail


def cpu_report(measured: Throughput) -> None:
    generated, created, written = measured
    print(
        "\nThe worker's CPU per call, from the OS (user + system, all threads, less the worker's"
        " idle CPU over the batch's wall time); ratio: median of the per-round ratios [quartiles]."
        "\nBare, generated and project-client workers are called at once, each on its own engine"
        " double; sync and async in turns.\n"
    )
    bare = generated["bare SDK no-op"]
    cpu_rows = [
        cpu_row("generated worker (src.main), status handler vs bare SDK no-op", generated["generated status"], bare, "<= 1.05"),
        cpu_row("bare SDK no-op, a second copy vs the first (the noise floor)", generated["bare SDK no-op, again"], bare),
        cpu_row("project client without src.main, no-op vs bare SDK no-op", generated["client no-op"], bare),
        cpu_row("generated worker, create (+ state::set, + its state trigger) vs bare no-op", created["generated create"], created["bare SDK no-op"]),
        cpu_row("project client, create (+ state::set) vs bare SDK no-op", created["client create"], created["bare SDK no-op"]),
        cpu_row("sync vs async: no-op", written["sync no-op"], written["async no-op"]),
        cpu_row("sync vs async: status handler", written["sync status"], written["async status"]),
        cpu_row("sync vs async: create (+ state::set)", written["sync create"], written["async create"]),
    ]  # fmt: skip
    width = max(len(row[0]) for row in cpu_rows)
    for label, ratio, goal, detail in cpu_rows:
        print(f"{label:<{width}}  {ratio:5.2f}x  {('goal ' + goal) if goal else '':<10}  {detail}")
    print("\nper target: CPU us/call net of idle (as measured), its worker's idle CPU, its rate")
    for group, figures in (("at once", generated), ("at once", created), ("in turns", written)):
        for name, figure in figures.items():
            print(f"  {group:<8}  {name:<22} {figure.cpu_us:6.0f} ({statistics.median(figure.raw_cpu) * 1e6:.0f})"
                  f"  idle {statistics.median(figure.idle) * 1e3:5.2f} ms/s  {figure.rate:5.0f}/s")  # fmt: skip


def profile_report(project: Project, directory: Path, calls: int) -> None:
    """Python function calls and garbage collection per invocation, exact where CPU time is
    noisy: the bare SDK worker's no-op, the generated worker's status handler and the benchmark
    worker's no-op, each run under `profile_worker.py` for `calls` invocations."""
    python = project.tool("python")
    prefix = project.answers["worker_name"] + "::"
    request = {"method": "POST", "path": "/items", "path_params": {}, "query_params": {}}
    workers = {
        "bare SDK no-op": ([str(HERE / "hello_worker.py")], "hello::hello"),
        "generated status": (["-m", "src.main"], prefix + "admin::status"),
        "client no-op": ([str(HERE / "throughput_worker.py")], "bench::noop"),
    }
    counts: dict[str, dict[str, int]] = {}
    directory.mkdir(parents=True, exist_ok=True)
    for name, (command, function_id) in workers.items():
        out = directory / (name.replace(" ", "-") + ".pstats")
        profiled = [python, str(HERE / "profile_worker.py"), str(out), *command]
        engine, process = start_on_own_engine(project, profiled, [function_id])
        try:
            batch = [(function_id, {**request, "headers": {}})] * calls
            engine.invoke_many(batch[:100], timeout=300)  # warm up
            settle(process.pid)
            process.send_signal(signal.SIGUSR1)
            time.sleep(0.3)
            engine.invoke_many(batch, timeout=300)
            settle(process.pid)
            process.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + 30
            while not Path(f"{out}.gc.json").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            stop_workers([(engine, process)])
        # typeshed leaves out the two attributes pstats documents for reading the numbers.
        stats: Any = pstats.Stats(str(out))
        collected = json.loads(Path(f"{out}.gc.json").read_text())
        gc_seconds = sum(seconds for _, seconds in collected["collections"].values())
        print(
            f"  {name:<18} {stats.total_calls / calls:7.1f} calls/invocation"
            f"  GC {gc_seconds / calls * 1e6:5.1f} us/invocation"
            f"  {collected['tracked_objects']} tracked objects"
        )
        counts[name] = {
            f"{Path(file).name}:{line}({function})": numbers[1]
            for (file, line, function), numbers in stats.stats.items()
        }
    bare = counts["bare SDK no-op"]
    for name in ("generated status", "client no-op"):
        other = counts[name]
        extra = {key: other.get(key, 0) - bare.get(key, 0) for key in {*bare, *other}}
        top = sorted(extra.items(), key=lambda item: -abs(item[1]))[:8]
        print(f"\n  {name}, calls beyond the bare worker's over {calls} invocations:")
        for key, difference in top:
            print(f"    {difference:+7d}  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds per comparison (default 5)"
    )
    parser.add_argument(
        "--calls", type=int, default=200, help="invocations per throughput batch (default 200)"
    )
    parser.add_argument(
        "--cpu-rounds",
        type=int,
        default=20,
        help="rounds of the rates and CPU per call comparisons, uvloop's too (default 20)",
    )
    parser.add_argument(
        "--event-loop", action="store_true", help="run only the uvloop against asyncio comparison"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="run only the rates and CPU per call (not uvloop)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="only profile the bare and the generated worker (calls per invocation), into DIR",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="iii-worker-bench-"))
    if args.event_loop:
        event_loop_report(workdir, args.cpu_rounds, args.calls)
        return
    if args.profile:
        path = workdir / "profile" / RENDERS["all"]["worker_name"]
        project = build(render(path, answers_of("all")), answers_of("all"), "all")
        print(
            f"\nPython function calls and garbage collection per invocation, {5 * args.calls} calls"
        )
        profile_report(project, args.profile.resolve(), 5 * args.calls)
        return
    if args.cpu:
        path = workdir / "cpu" / RENDERS["all"]["worker_name"]
        project = build(render(path, answers_of("all")), answers_of("all"), "all")
        measured = bench_throughput(project, args.cpu_rounds, args.calls)
        print(
            f"\nload average {os.getloadavg()[0]:.2f}; {args.cpu_rounds} rounds of {args.calls} calls"
        )
        cpu_report(measured)
        return

    copy_all, copy_none, copy_ratio = bench_copy(workdir, args.rounds)
    green, project = zero_to_green(workdir)
    generated, hello, start_ratio = bench_cold_start(project, args.rounds)
    measured = bench_throughput(project, args.cpu_rounds, args.calls)
    written = measured.written

    print(f"\ncopier-iii-worker benchmarks ({args.rounds} interleaved rounds; medians)\n")
    rows = [
        ("cold start, all-triggers worker vs bare SDK worker", start_ratio, "<= 1.2", f"{generated:.2f} s vs {hello:.2f} s"),
        rate_row("invocations/s, generated async status handler vs no-op", written["async status"], written["async no-op"], ">= 0.9"),
        rate_row("invocations/s, generated async create (+ state::set) vs no-op", written["async create"], written["async no-op"]),
        rate_row("invocations/s, async vs sync: no-op", written["async no-op"], written["sync no-op"]),
        rate_row("invocations/s, async vs sync: status handler", written["async status"], written["sync status"]),
        rate_row("invocations/s, async vs sync: create (+ state::set)", written["async create"], written["sync create"]),
        ("copier copy, all triggers vs none", copy_ratio, "", f"{copy_all:.2f} s vs {copy_none:.2f} s"),
    ]  # fmt: skip
    width = max(len(row[0]) for row in rows)
    for label, ratio, goal, detail in rows:
        print(f"{label:<{width}}  {ratio:5.2f}x  {('goal ' + goal) if goal else '':<10}  {detail}")
    print(f"{'zero to green (copy + install + tests), all triggers':<{width}}  {green:5.1f} s")

    cpu_report(measured)
    event_loop_report(workdir, args.cpu_rounds, args.calls)


if __name__ == "__main__":
    main()
