"""Copy detection at scale: classes of 8,000 and 20,000 students whose wrong answers fall into 16 groups per
question (the case that took 28 s and 1.6 GB for 8,000 students, and over 150 s for 20,000, when every
pair within a group was judged), with one key for the class and with a variant per student; ten planted
pairs share six wrong answers nobody else gave, and exactly those must be flagged.

Target: 20,000 students in under 10 s (2 cores). The peak memory is that of a second, traced run
(tracemalloc counts NumPy's arrays too). At DENSE_LIMIT (1,000 students, the size tests/test_copies.py
checks with a hang guard only), judging every pair is timed against the rare-value search on the same
class in the same run: the ratio says whether the limit still sits where every pair is the quicker way.

Run: python benchmarks/bench_copies.py [--students N] [--baseline]
`--baseline` also times judging every pair (the way below DENSE_LIMIT) for the 8,000-student class.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from cnncalc.exercises import copies
from cnncalc.exercises.copies import find_copies

sys.path.insert(0, str(Path(__file__).parent))
from timing import best_of

QUESTIONS = ["a.shape", "a.col4_row4", "a.col3_row2", "a.col2_row4", "b.relu", "b.pool", "c.total_params",
             "d.padding", "d.params"]  # the worksheet's automatically graded questions


def sixteen_groups(n: int, variants: bool, seed: int = 0) -> tuple[list[list[int]], list[list[int]], set]:
    """Each student wrong on about half the questions, each wrong answer one of 16; ten planted pairs."""
    rng = np.random.default_rng(seed)
    nq = len(QUESTIONS)
    keys = rng.integers(1000, 10**6, size=(n, nq)) if variants else np.tile(np.arange(nq) + 100, (n, 1))
    answers = np.where(rng.random((n, nq)) < 0.5, rng.integers(0, 16, size=(n, nq)), keys).tolist()
    planted = set()
    for k in range(10):
        copier, source = 2 * k, 2 * k + 1
        for q in range(6):
            answers[copier][q] = answers[source][q] = 10**7 + 100 * k + q
        planted.add(frozenset((f"s{copier:05d}", f"s{source:05d}")))
    return answers, keys.tolist(), planted


def measure(n: int, variants: bool) -> tuple[float, float]:
    """(seconds, peak MB) of the copy check of one class; the flagged pairs are checked."""
    answers, keys, planted = sixteen_groups(n, variants)
    names = [f"s{i:05d}" for i in range(n)]
    start = time.perf_counter()
    pairs = find_copies(names, QUESTIONS, answers, keys)
    seconds = time.perf_counter() - start
    assert {frozenset((p.student, p.other)) for p in pairs} == planted, len(pairs)
    tracemalloc.start()
    find_copies(names, QUESTIONS, answers, keys)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return seconds, peak


def at_limit() -> None:
    """At DENSE_LIMIT students: every pair judged (what find_copies does there) against the rare-value
    search (what it does one student later), best of 5 each, the same flagged pairs."""
    n = copies.DENSE_LIMIT
    names = [f"s{i:05d}" for i in range(n)]
    for variants in (False, True):
        answers, keys, planted = sixteen_groups(n, variants)

        def run(answers: list = answers, keys: list = keys, planted: set = planted) -> None:
            found = find_copies(names, QUESTIONS, answers, keys)
            assert {frozenset((p.student, p.other)) for p in found} == planted

        dense = best_of(run)
        copies.DENSE_LIMIT = n - 1
        try:
            search = best_of(run)
        finally:
            copies.DENSE_LIMIT = n
        kind = "a variant each" if variants else "one key"
        print(f"{f'{n:,} students, {kind}: every pair judged':52} {dense:9.3f} {n / dense:11.0f}")
        print(f"{f'{n:,} students, {kind}: rare-value search':52} {search:9.3f} {n / search:11.0f}"
              f"   every pair / search: {dense / search:.2f} (under 1: the limit is where it should be)")


def main() -> None:
    largest = int(sys.argv[sys.argv.index("--students") + 1]) if "--students" in sys.argv else 20_000
    target = 10.0 * largest / 20_000
    print(f"{'measurement (16 wrong answers per question)':52} {'seconds':>9} {'students/s':>11} {'peak MB':>8} {'target':>8} {'ratio':>7}")
    for n in sorted({8_000, largest}):
        for variants in (False, True):
            seconds, peak = measure(n, variants)
            label = f"copy check, {n:,} students, {'a variant each' if variants else 'one key'}"
            goal = 10.0 * n / 20_000 if n != largest else target
            print(f"{label:52} {seconds:9.3f} {n / seconds:11.0f} {peak:8.1f} {goal:8.2f} {seconds / goal:7.2f}")
    at_limit()
    if "--baseline" in sys.argv:
        answers, keys, planted = sixteen_groups(8_000, False)
        copies.DENSE_LIMIT, limit = 10**9, copies.DENSE_LIMIT
        try:
            start = time.perf_counter()
            pairs = find_copies([f"s{i:05d}" for i in range(8_000)], QUESTIONS, answers, keys)
            seconds = time.perf_counter() - start
        finally:
            copies.DENSE_LIMIT = limit
        assert {frozenset((p.student, p.other)) for p in pairs} == planted
        print(f"{'baseline: every pair judged, 8,000, one key':52} {seconds:9.3f} {8_000 / seconds:11.0f}")


if __name__ == "__main__":
    main()
