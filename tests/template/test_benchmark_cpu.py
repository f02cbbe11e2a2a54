"""The benchmark's CPU reading: another process's CPU time, every thread of it, ended ones too."""

import subprocess
import sys

import pytest

from benchmarks.cpu import cpu_seconds

# Spins in a second thread until that thread has used 0.2 s of CPU, lets it end, then reports
# its own CPU time and waits to be read.
CHILD = """
import sys, threading, time
def spin():
    while time.thread_time() < 0.2:
        pass
thread = threading.Thread(target=spin)
thread.start()
thread.join()
print(time.process_time(), flush=True)
sys.stdin.readline()
"""


@pytest.mark.slow  # runs a process
def test_cpu_seconds_counts_every_thread_of_another_process_ended_ones_too() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None and child.stdin is not None
        own_reading = float(child.stdout.readline())
        seen = cpu_seconds(child.pid)
        child.communicate("\n", timeout=10)
    assert own_reading >= 0.2
    # The child's main thread may have run a little between its reading and ours.
    assert own_reading <= seen <= own_reading + 0.05
