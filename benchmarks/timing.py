"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any


def best_of(func: Callable[[], Any], repeat: int = 5, clock: Callable[[], float] = time.perf_counter) -> float:
    """Fastest of several in-process runs, in seconds (the least disturbed by a busy machine); with
    ``clock=time.process_time``, the least CPU time, which other work on the machine changes least."""
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        func()
        best = min(best, clock() - start)
    return best


def wall(command: list[str], repeat: int = 5) -> float:
    """Median wall time of a whole command, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cpu(command: list[str], repeat: int = 5) -> float:
    """Least CPU time (user + system) of a whole command, in seconds: steadier than wall time on a machine
    other work shares."""
    import resource

    best = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best


def report(rows: list[tuple[str, float, float, float]]) -> None:
    """One line per measurement: seconds, target, ratio to the target, and to the baseline of the same run."""
    print(f"{'measurement':45} {'seconds':>9} {'target':>8} {'/target':>8} {'baseline':>9} {'/baseline':>9}")
    for name, seconds, target, baseline in rows:
        print(f"{name:45} {seconds:9.4f} {target:8.3f} {seconds / target:8.2f} {baseline:9.4f} "
              f"{seconds / baseline:9.2f}")
