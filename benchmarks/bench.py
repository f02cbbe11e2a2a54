"""Benchmarks of the template and the workers it generates.

    python -m benchmarks.bench [--rounds N] [--calls N]

Every figure is a ratio of two things measured side by side, interleaved, in the same run: these
machines are shared and noisy, so compare ratios from one run, never seconds across runs.

1. Cold start: `python -m src.main` of the all-triggers project until the engine double has every
   function, trigger and the worker's metadata, against the smallest SDK worker (goal: <= 1.2x).
2. Invocations per second over the wire (engine double -> worker -> answer), through generated
   async HTTP handlers, against a no-op async handler, the ceiling (goal: >= 0.9x); and the
   rendered async style against the same handlers written sync.
3. `copier copy` of the all-triggers project against the no-trigger one, and zero to green
   (copy + install + the project's own tests) in seconds.
4. Invocations per second of the same worker on uvloop against the default asyncio loop, on each
   iii line (the renders all, line-0.22 and line-0.11); `--event-loop` runs only this one. The
   template adopts uvloop only if it gains at least 1.15x.
"""

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

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


def interleaved_rates(
    engine: EngineDouble, functions: dict[str, Callable[[int], Any]], rounds: int, calls: int
) -> dict[str, float]:
    """Median invocations per second of each function, the functions taking turns batch by
    batch, in reverse order every other round (so none always follows the same one)."""
    rates: dict[str, list[float]] = {name: [] for name in functions}
    for round_number in range(rounds):
        order = list(functions.items())
        for name, payload in order if round_number % 2 == 0 else reversed(order):
            batch = [(name, payload(i)) for i in range(calls)]
            seconds = timed(partial(engine.invoke_many, batch, timeout=300))
            rates[name].append(calls / seconds)
            engine.reset()
    return {name: statistics.median(values) for name, values in rates.items()}


def bench_throughput(
    project: Project, rounds: int, calls: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Invocations per second: the generated async handlers against a no-op, on their own (a
    batch of sync calls leaves threads behind that would slow whatever runs next); then the
    same handlers written sync against async."""
    prefix = project.answers["worker_name"] + "::"
    request = {
        "method": "POST",
        "path": "/items",
        "path_params": {},
        "query_params": {},
        "headers": {},
    }

    def create(i: int) -> dict[str, Any]:
        return {**request, "body": {"name": f"item {i}"}}

    generated: dict[str, Callable[[int], Any]] = {
        "bench::noop": lambda i: request,
        prefix + "admin::status": lambda i: request,
        prefix + "items::create": create,
    }
    sync_twins: dict[str, Callable[[int], Any]] = {
        **generated,
        "bench::noop-sync": lambda i: request,
        "bench::status-sync": lambda i: request,
        "bench::create-sync": create,
    }
    engine = EngineDouble().start()
    process = project.start_worker(
        engine.url,
        command=[project.tool("python"), str(HERE / "throughput_worker.py")],
        env={"PYTHONPATH": str(project.path)},
    )
    try:
        engine.wait_for_functions(*sync_twins, timeout=60)
        for name, payload in sync_twins.items():  # warm up
            engine.invoke_many([(name, payload(i)) for i in range(50)])
        async_rates = interleaved_rates(engine, generated, rounds, calls)
        all_rates = interleaved_rates(engine, sync_twins, rounds, calls)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        engine.stop()
    return async_rates, all_rates


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
) -> dict[str, tuple[float, float]]:
    """uvloop against the default loop: two copies of the same worker, each on its own engine
    double of the project's line, measured in alternating batches. Returns the median
    invocations/s on uvloop and on asyncio, per function."""
    prefix = project.answers["worker_name"] + "::"
    request = {"method": "POST", "path": "/items", "path_params": {}, "query_params": {}}
    functions: dict[str, Callable[[int], Any]] = {
        "bench::noop": lambda i: {**request, "headers": {}},
        prefix + "items::create": lambda i: {**request, "headers": {}, "body": {"name": f"i{i}"}},
    }
    loops = {"asyncio": {}, "uvloop": {"BENCH_EVENT_LOOP": "uvloop"}}
    engines = {name: EngineDouble(line=line).start() for name in loops}
    processes = {
        name: project.start_worker(
            engines[name].url,
            command=[project.tool("python"), str(HERE / "throughput_worker.py")],
            env={"PYTHONPATH": str(project.path), **extra},
        )
        for name, extra in loops.items()
    }
    rates: dict[tuple[str, str], list[float]] = {(n, f): [] for n in loops for f in functions}
    try:
        for name, engine in engines.items():
            engine.wait_for_functions(*functions, "bench::event-loop", timeout=60)
            [running] = engine.invoke_many([("bench::event-loop", {})])
            expected = "uvloop" if name == "uvloop" else "asyncio"
            if not str(running).startswith(expected):
                raise RuntimeError(f"the {name} worker runs on {running}, not {expected}")
            for function, payload in functions.items():  # warm up
                engine.invoke_many([(function, payload(i)) for i in range(50)])
        for _ in range(rounds):
            for function, payload in functions.items():
                for name, engine in engines.items():
                    batch = [(function, payload(i)) for i in range(calls)]
                    seconds = timed(partial(engine.invoke_many, batch, timeout=300))
                    rates[name, function].append(calls / seconds)
                    engine.reset()
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=10)
            finally:
                kill_if_running(process)
        for engine in engines.values():
            engine.stop()
    return {
        function: (
            statistics.median(rates["uvloop", function]),
            statistics.median(rates["asyncio", function]),
        )
        for function in functions
    }


def event_loop_report(workdir: Path, rounds: int, calls: int) -> None:
    load = os.getloadavg()[0]
    print(f"\nuvloop vs asyncio, invocations/s ({rounds} alternating rounds; load {load:.2f})\n")
    for line, name in EVENT_LOOP_RENDERS.items():
        answers = answers_of(name)
        path = workdir / "event-loop" / name / answers["worker_name"]
        project = build(render(path, answers), answers, name)
        install_uvloop(project)
        for function, (uvloop, default) in bench_event_loops(project, line, rounds, calls).items():
            ratio = uvloop / default
            verdict = "adopt" if ratio >= UVLOOP_ADOPTION_RATIO else "keep asyncio"
            label = f"iii {line} ({name})"
            detail = f"{uvloop:.0f}/s vs {default:.0f}/s"
            print(f"  {label:<22} {function:<36} {ratio:5.2f}x  {verdict:<12}  {detail}")
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds per comparison (default 5)"
    )
    parser.add_argument(
        "--calls", type=int, default=400, help="invocations per throughput round (default 400)"
    )
    parser.add_argument(
        "--event-loop", action="store_true", help="run only the uvloop against asyncio comparison"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="iii-worker-bench-"))
    if args.event_loop:
        event_loop_report(workdir, args.rounds, args.calls)
        return

    copy_all, copy_none, copy_ratio = bench_copy(workdir, args.rounds)
    green, project = zero_to_green(workdir)
    generated, hello, start_ratio = bench_cold_start(project, args.rounds)
    async_rate, rate = bench_throughput(project, args.rounds, args.calls)
    prefix = project.answers["worker_name"] + "::"

    print(f"\ncopier-iii-worker benchmarks ({args.rounds} interleaved rounds; medians)\n")
    rows = [
        ("cold start, all-triggers worker vs bare SDK worker", start_ratio, "<= 1.2", f"{generated:.2f} s vs {hello:.2f} s"),
        ("invocations/s, generated async status handler vs no-op", async_rate[prefix + "admin::status"] / async_rate["bench::noop"], ">= 0.9",
         f"{async_rate[prefix + 'admin::status']:.0f}/s vs {async_rate['bench::noop']:.0f}/s"),
        ("invocations/s, generated async create (+ state::set) vs no-op", async_rate[prefix + "items::create"] / async_rate["bench::noop"], "",
         f"{async_rate[prefix + 'items::create']:.0f}/s vs {async_rate['bench::noop']:.0f}/s"),
        ("invocations/s, async vs sync: no-op", rate["bench::noop"] / rate["bench::noop-sync"], "",
         f"{rate['bench::noop']:.0f}/s vs {rate['bench::noop-sync']:.0f}/s"),
        ("invocations/s, async vs sync: status handler", rate[prefix + "admin::status"] / rate["bench::status-sync"], "",
         f"{rate[prefix + 'admin::status']:.0f}/s vs {rate['bench::status-sync']:.0f}/s"),
        ("invocations/s, async vs sync: create (+ state::set)", rate[prefix + "items::create"] / rate["bench::create-sync"], "",
         f"{rate[prefix + 'items::create']:.0f}/s vs {rate['bench::create-sync']:.0f}/s"),
        ("copier copy, all triggers vs none", copy_ratio, "", f"{copy_all:.2f} s vs {copy_none:.2f} s"),
    ]  # fmt: skip
    width = max(len(row[0]) for row in rows)
    for label, ratio, goal, detail in rows:
        print(f"{label:<{width}}  {ratio:5.2f}x  {('goal ' + goal) if goal else '':<10}  {detail}")
    print(f"{'zero to green (copy + install + tests), all triggers':<{width}}  {green:5.1f} s")
    event_loop_report(workdir, args.rounds, args.calls)


if __name__ == "__main__":
    main()
