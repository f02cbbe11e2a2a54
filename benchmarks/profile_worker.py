"""Run a worker under cProfile, recording only between two signals, to see where its CPU per call
goes: SIGUSR1 starts recording (every thread, Python 3.12 and later), SIGUSR2 stops it and writes
the pstats file. Use the generated project's interpreter, from the project's directory:

    python benchmarks/profile_worker.py OUT.pstats -m src.main
    python benchmarks/profile_worker.py OUT.pstats benchmarks/hello_worker.py

Compare call counts per invocation, which are exact, rather than times, which the profiler
inflates: `python -m pstats OUT.pstats`, then `sort ncalls` and `stats 30`.
"""

import cProfile
import gc
import json
import runpy
import signal
import sys
import threading
import time
from typing import Any

profiler = cProfile.Profile()
OUT = sys.argv[1]
CONTROL = {signal.SIGUSR1, signal.SIGUSR2}


# Garbage collections while recording, per generation: how many, and their seconds (which
# cProfile does not show), written beside the profile as OUT.gc.json.
collections: dict[int, list[float]] = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
recording, started = False, 0.0


def on_collection(phase: str, info: dict[str, Any]) -> None:
    global started
    if not recording:
        return
    if phase == "start":
        started = time.perf_counter()
    else:
        collections[info["generation"]][0] += 1
        collections[info["generation"]][1] += time.perf_counter() - started


def control() -> None:
    global recording
    while True:
        if signal.sigwait(CONTROL) == signal.SIGUSR1:
            recording = True
            profiler.enable()
        else:
            profiler.disable()
            recording = False
            profiler.dump_stats(OUT)
            tracked = len(gc.get_objects())
            with open(OUT + ".gc.json", "w") as out:
                json.dump({"collections": collections, "tracked_objects": tracked}, out)


gc.callbacks.append(on_collection)


# Blocked in every thread, this one's and those started later, and taken by the control thread
# alone: a worker's main thread sits in a wait that a Python signal handler would not interrupt.
signal.pthread_sigmask(signal.SIG_BLOCK, CONTROL)
threading.Thread(target=control, daemon=True).start()
if sys.argv[2] == "-m":
    sys.argv = sys.argv[3:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
else:
    sys.argv = sys.argv[2:]
    runpy.run_path(sys.argv[0], run_name="__main__")
