"""10,000 practice questions drawn and keyed (target: under 5 s), 2,000 at each level; the time per
topic, where the differences are; and what showing them costs (the problem built, the worked solution
and hint computed: done for a question when it is shown, graded or exported).

On a shared machine the wall-clock figure alone says little: the run prints the machine's load, times a
fixed arithmetic loop before and after (compare it between runs), and judges the target on the process's
CPU time, which is what the wall clock shows on an idle machine (one thread: no time waiting for a core).

Run: python benchmarks/bench_practice.py [--count N]
"""

from __future__ import annotations

import os
import sys
import time

from cnncalc.exercises.practice import LEVELS, TEMPLATES, generate

TARGET = 5.0


def fixed_loop() -> str:
    start, cpu = time.perf_counter(), time.process_time()
    total = 0
    for i in range(5_000_000):
        total += i * i % 7
    return f"{time.perf_counter() - start:.2f} s wall, {time.process_time() - cpu:.2f} s CPU"


def main() -> None:
    count = int(sys.argv[sys.argv.index("--count") + 1]) if "--count" in sys.argv else 10_000
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} on {os.cpu_count()} cores; fixed loop (5M iterations): {fixed_loop()}")
    generate(count=8, level=5, seed=0)  # imports out of the timing
    start, cpu = time.perf_counter(), time.process_time()
    made = [q for level in LEVELS for q in generate(count=count // len(LEVELS), level=level, seed=1)]
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    per_10k = cpu * 10_000 / len(made)
    print(f"{len(made):,} questions in {elapsed:.2f} s wall, {cpu:.2f} s CPU ({cpu / len(made) * 1000:.3f} ms CPU "
          f"each; target under {TARGET} s for 10,000): {'PASS' if per_10k < TARGET else 'FAIL'}")
    for topic in TEMPLATES:
        cpu = time.process_time()
        generate(count=200, level=5, topic=[topic], seed=2)
        print(f"  {topic:10} {(time.process_time() - cpu) / 200 * 1000:.3f} ms CPU each (level 5)")
    shown = made[:: max(1, len(made) // 200)]
    cpu = time.process_time()
    for q in shown:
        q.solution, q.hint  # noqa: B018  # what showing a question computes
    print(f"showing a question (problem, worked solution, hint): {(time.process_time() - cpu) / len(shown) * 1000:.2f}"
          " ms CPU each")
    print(f"fixed loop again: {fixed_loop()}")


if __name__ == "__main__":
    main()
