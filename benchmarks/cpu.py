"""A running process's CPU time, read from the operating system from outside the process (Linux).

`cpu_seconds` reads the kernel's CPU clock of the process (`clock_getcpuclockid(3)`): the user
plus system time of all its threads, those that have ended included, in nanoseconds. The same
total is in `/proc/<pid>/stat` (utime + stime), but only to the clock tick (10 ms), too coarse
for one batch of calls.
"""

import time

_CPUCLOCK_SCHED = 2  # the kind of process clock that counts every thread's time on a CPU


def _process_clock(pid: int) -> int:
    # What glibc's clock_getcpuclockid(pid) returns (Linux's MAKE_PROCESS_CPUCLOCK).
    return ((~pid) << 3) | _CPUCLOCK_SCHED


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds that process `pid` has used so far, all its threads."""
    return time.clock_gettime_ns(_process_clock(pid)) / 1e9
