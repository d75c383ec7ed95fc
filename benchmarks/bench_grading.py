"""Grading throughput: 10,000 generated answer files for the worksheet, read from disk and graded; and a
batch of 1,000 files of which 100 are hostile (huge numbers, dates, binary, deep nesting, syntax errors,
files near the size cap, FIFOs), which must finish in under 30 s on one process.

Also: the same 10,000 files graded with the class statistics (`grade --stats`: histogram, item analysis)
and the copy check of the single-key batch, target 10 s; and the copy check over 1,000 students with
per-student variants (every pair compared), target 10 s.

Marking: the same worksheet with `follow_through: 0.5` and partial credit for every rule of the catalogue,
10,000 files whose mistakes are slips of the catalogue, answers that follow from a wrong one, and random
wrong numbers; graded with every rule and follow-through on, and without them (`marking=False`), in the
same run, each on a fresh key (the rules are computed once per key, inside the timing), in CPU seconds, the
best of two alternated runs each: target ≤ 2×.

Run: python benchmarks/bench_grading.py [--files N] [--students N]   (targets on 2 cores)
The baseline in the same run is reading the same files with PyYAML alone.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

import yaml

from cnncalc.exercises import compute_key, grade_batch, load_problem
from cnncalc.exercises.copies import copy_check, copy_check_results
from cnncalc.exercises.key import key_answers
from cnncalc.exercises.stats import class_stats, stats_text
from cnncalc.spec import safeload

ROOT = Path(__file__).parent.parent


def make_files(folder: Path, count: int, answers: dict) -> list[Path]:
    rng = random.Random(0)
    paths = []
    for i in range(count):
        mine = dict(answers)
        for qid in rng.sample(sorted(mine), rng.randint(0, 3)):  # a few mistakes each
            value = mine[qid]
            mine[qid] = value + 1 if isinstance(value, int) else value
        path = folder / f"s{i:05d}.{'yaml' if i % 2 else 'json'}"
        if i % 2:
            path.write_text(yaml.safe_dump({"student": f"s{i:05d}", "answers": mine}))
        else:
            path.write_text(json.dumps({"student": f"s{i:05d}", "answers": mine}))
        paths.append(path)
    return paths


HOSTILE = [
    lambda i: f"student: h{i}\nanswers: {{c.total_params: 1{'0' * 399}, d.padding: 0x{'f' * 2000}}}\n",
    lambda i: f"student: h{i}\nanswers: {{c.total_params: 2024-01-01, d.padding: !!binary aGVsbG8=}}\n",
    lambda i: f"student: h{i}\nanswers: {{a.shape: {'[' * 60}{']' * 60}}}\n",
    lambda i: "[" * 5000 + "]" * 5000,
    lambda i: f"student: [h{i}\nanswers: {{",
    lambda i: f"student: h{i}\nanswers: {{d.padding: '{'(a+b+c+d+e)**64'}', c.total_params: .nan}}\n",
    lambda i: f"student: h{i}\nanswers: {{x: '{'y' * 255_000}'}}\n",
    lambda i: f"student: h{i}\nanswers: {{x: '{'y' * 300_000}'}}\n",
    lambda i: f"student: h{i}\nanswers: {{b.relu: {[[float(j) for j in range(2000)]] * 10}}}\n",
    lambda i: None,  # a FIFO
]


def hostile_batch(folder: Path, answers: dict) -> list[Path]:
    """900 ordinary files and 100 hostile ones, interleaved."""
    import os

    paths = make_files(folder, 900, answers)
    for i in range(100):
        path = folder / f"h{i:03d}.yaml"
        text = HOSTILE[i % len(HOSTILE)](i)
        if text is None:
            os.mkfifo(path)
        else:
            path.write_bytes(text.encode())
        paths.insert(i * 9, path)
    return paths


def main() -> None:
    count = int(sys.argv[sys.argv.index("--files") + 1]) if "--files" in sys.argv else 10_000
    problem = load_problem(ROOT / "problems" / "cnn-layers-worksheet.yaml")
    key = compute_key(problem)
    with tempfile.TemporaryDirectory() as folder:
        paths = make_files(Path(folder), count, key_answers(problem, key))
        start = time.perf_counter()
        for path in paths:
            yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        results, _ = grade_batch(problem, paths, key)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        with_stats, _ = grade_batch(problem, paths, key)
        middle = time.perf_counter()
        copy_check_results(problem, with_stats)
        stats_text(class_stats(problem, with_stats))
        stats_seconds, extra = time.perf_counter() - start, time.perf_counter() - middle
    assert len(results) == count and all(r.error is None for r in results)
    print(f"{'measurement':45} {'seconds':>9} {'files/s':>9} {'target':>8} {'ratio':>7}")
    target = 10.0 * count / 10_000
    print(f"{f'grade {count:,} answer files (one process)':45} {seconds:9.3f} {count / seconds:9.0f} "
          f"{target:8.2f} {seconds / target:7.2f}")
    print(f"{'baseline: yaml.load of the same files':45} {baseline:9.3f} {count / baseline:9.0f}")
    print(f"grading costs {seconds / baseline:.1f}× the bare YAML reading")
    print(f"{f'grade {count:,} files, --stats and the copy check':45} {stats_seconds:9.3f} "
          f"{count / stats_seconds:9.0f} {target:8.2f} {stats_seconds / target:7.2f}   (of which {extra:.2f} s "
          "for the statistics and the copy check)")
    with tempfile.TemporaryDirectory() as folder:
        paths = hostile_batch(Path(folder), key_answers(problem, key))
        start, cpu = time.perf_counter(), time.process_time()
        results, _ = grade_batch(problem, paths, key)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    invalid = sum(r.error is not None for r in results)
    assert len(results) == 1000 and all(r.score == 0 for r in results if r.error)
    print(f"{'grade 1,000 files, 100 hostile (one process)':45} {seconds:9.3f} {1000 / seconds:9.0f} "
          f"{30.0:8.2f} {seconds / 30:7.2f}   ({invalid} files invalid, {cpu:.2f} s CPU)")
    marking_benchmark(count)
    copies_benchmark(int(sys.argv[sys.argv.index("--students") + 1]) if "--students" in sys.argv else 1000)


def marking_files(folder: Path, count: int, problem, key) -> list[Path]:
    """Answer files with 0 to 3 mistakes each: slips of the catalogue, a ReLU map off by 5 with the pooled
    map computed right from it (a follow-through), and random wrong numbers."""
    import numpy as np

    from cnncalc.exercises.grading import plain_answer
    from cnncalc.exercises.slips import candidates

    right = key_answers(problem, key)
    slips = {q.id: [plain_answer(c.value) for c in candidates(key, q)] for q in problem.questions}
    relu = np.array(right["b.relu"], dtype=float) + 5
    pooled = [[float(relu[i:i + 2, j:j + 2].max()) for j in range(3)] for i in range(3)]
    rng = random.Random(2)
    paths = []
    for i in range(count):
        mine = dict(right)
        for qid in rng.sample(sorted(mine), rng.randint(0, 3)):
            kind = rng.random()
            if kind < 0.4 and slips.get(qid):
                mine[qid] = rng.choice(slips[qid])
            elif kind < 0.6:
                mine["b.relu"], mine["b.pool"] = relu.tolist(), pooled
            elif isinstance(mine[qid], int):
                mine[qid] = mine[qid] + rng.randint(1, 50)
        path = folder / f"m{i:05d}.json"
        path.write_text(json.dumps({"student": f"m{i:05d}", "answers": mine}))
        paths.append(path)
    return paths


def marking_benchmark(count: int) -> None:
    """Grading with every rule and follow-through on against grading without them, in the same run."""
    raw = safeload.load_file(ROOT / "problems" / "cnn-layers-worksheet.yaml")
    from cnncalc.exercises.problem import build_problem
    from cnncalc.exercises.slips import SLIPS

    raw["follow_through"] = 0.5
    raw["credit"] = dict.fromkeys(SLIPS, 0.5)
    problem = build_problem(raw, "worksheet")
    def timed(marking: bool) -> tuple[float, list]:
        """CPU seconds (steadier than wall time on a shared machine) of one batch on a fresh key: the
        rules' candidates are computed inside the timing, once per key."""
        key = compute_key(problem)
        start = time.process_time()
        results, _ = grade_batch(problem, paths, key, marking=marking)
        return time.process_time() - start, results

    with tempfile.TemporaryDirectory() as folder:
        paths = marking_files(Path(folder), count, problem, compute_key(problem))
        runs = [timed(False), timed(True), timed(False), timed(True)]  # alternated: no order effect
    without, plain = min(runs[0::2], key=lambda run: run[0])
    with_marking, marked = min(runs[1::2], key=lambda run: run[0])
    named = sum(q.diagnosis is not None for r in marked for q in r.questions)
    follows = sum(q.follow_through for r in marked for q in r.questions)
    gained = sum(r.score for r in marked) - sum(r.score for r in plain)
    assert named and follows and gained > 0
    print(f"{f'grade {count:,} files, no slips or follow-through':45} {without:9.3f} {count / without:9.0f}"
          "   (CPU seconds, best of 2)")
    print(f"{f'grade {count:,} files, every rule and follow-through':45} {with_marking:9.3f} "
          f"{count / with_marking:9.0f} {2 * without:8.2f} {with_marking / (2 * without):7.2f}   "
          f"({with_marking / without:.2f}× without; {named:,} slips named, {follows:,} follow-throughs, "
          f"+{gained:,.1f} points)")


def copies_benchmark(students: int) -> None:
    """Every pair of a class with per-student variants: honest students with slips, ten whole copies."""
    from cnncalc.exercises.grading import grade_answers
    from cnncalc.exercises.variants import student_variant

    raw = safeload.load_file(ROOT / "problems" / "cnn-layers-worksheet.yaml")
    secret = b"a course secret of more than sixteen bytes"
    rng = random.Random(1)
    variants = [student_variant(raw, "worksheet", secret, f"s{i:04d}") for i in range(students)]
    results, answers_of, keys_of = [], {}, {}
    for i, variant in enumerate(variants):
        answers = key_answers(variant.problem, variant.key)
        for qid in rng.sample(sorted(answers), rng.randint(0, 3)):
            if isinstance(answers[qid], int):
                answers[qid] += rng.choice([-2, -1, 1, 2])
        if i >= students - 10:  # ten whole copies of the first ten students
            answers = dict(answers_of[i - (students - 10)])
        results.append(grade_answers(variant.problem, variant.key, variant.label, answers))
        answers_of[i] = answers
        keys_of[i] = {qid: expected.value for qid, expected in variant.key.items()}
    qids = [q.id for q in variants[0].problem.questions if q.kind != "manual"]
    start = time.perf_counter()
    pairs, _ = copy_check(results, qids, answers_of, keys_of)
    seconds = time.perf_counter() - start
    found = {frozenset((p.student, p.other)) for p in pairs}
    expected = {frozenset((f"s{i:04d}", f"s{students - 10 + i:04d}")) for i in range(10)}
    assert found == expected, (len(found), len(found & expected))
    target = 10.0
    label = f"copy check, {students:,} students ({students * (students - 1) // 2:,} pairs)"
    print(f"{label:45} {seconds:9.3f} {students / seconds:9.0f} {target:8.2f} {seconds / target:7.2f}   "
          f"({len(pairs)} pairs flagged, all ten copies)")


if __name__ == "__main__":
    main()
