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
"""

import argparse
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


def bench_throughput(project: Project, rounds: int, calls: int) -> dict[str, float]:
    """Median invocations per second for each function, measured in interleaved rounds."""
    prefix = project.answers["worker_name"] + "::"
    request = {
        "method": "POST",
        "path": "/items",
        "path_params": {},
        "query_params": {},
        "headers": {},
    }
    functions: dict[str, Callable[[int], Any]] = {
        "bench::noop": lambda i: request,
        "bench::noop-sync": lambda i: request,
        prefix + "admin::status": lambda i: request,
        "bench::status-sync": lambda i: request,
        prefix + "items::create": lambda i: {**request, "body": {"name": f"item {i}"}},
        "bench::create-sync": lambda i: {**request, "body": {"name": f"item {i}"}},
    }
    engine = EngineDouble().start()
    process = project.start_worker(
        engine.url,
        command=[project.tool("python"), str(HERE / "throughput_worker.py")],
        env={"PYTHONPATH": str(project.path)},
    )
    rates: dict[str, list[float]] = {name: [] for name in functions}
    try:
        engine.wait_for_functions(*functions, timeout=60)
        for name, payload in functions.items():  # warm up
            engine.invoke_many([(name, payload(i)) for i in range(50)])
        for _ in range(rounds):
            for name, payload in functions.items():
                batch = [(name, payload(i)) for i in range(calls)]
                seconds = timed(partial(engine.invoke_many, batch, timeout=300))
                rates[name].append(calls / seconds)
                engine.reset()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        engine.stop()
    return {name: statistics.median(values) for name, values in rates.items()}


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
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="iii-worker-bench-"))

    copy_all, copy_none, copy_ratio = bench_copy(workdir, args.rounds)
    green, project = zero_to_green(workdir)
    generated, hello, start_ratio = bench_cold_start(project, args.rounds)
    rate = bench_throughput(project, args.rounds, args.calls)
    prefix = project.answers["worker_name"] + "::"

    print(f"\ncopier-iii-worker benchmarks ({args.rounds} interleaved rounds; medians)\n")
    rows = [
        ("cold start, all-triggers worker vs bare SDK worker", start_ratio, "<= 1.2", f"{generated:.2f} s vs {hello:.2f} s"),
        ("invocations/s, generated async status handler vs no-op", rate[prefix + "admin::status"] / rate["bench::noop"], ">= 0.9",
         f"{rate[prefix + 'admin::status']:.0f}/s vs {rate['bench::noop']:.0f}/s"),
        ("invocations/s, generated async create (+ state::set) vs no-op", rate[prefix + "items::create"] / rate["bench::noop"], "",
         f"{rate[prefix + 'items::create']:.0f}/s vs {rate['bench::noop']:.0f}/s"),
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


if __name__ == "__main__":
    main()
