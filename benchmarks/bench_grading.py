"""Grading throughput: 10,000 generated answer files for the worksheet, read from disk and graded; and a
batch of 1,000 files of which 100 are hostile (huge numbers, dates, binary, deep nesting, syntax errors,
files near the size cap, FIFOs), which must finish in under 30 s on one process.

Run: python benchmarks/bench_grading.py [--files N]   (target: 10,000 files under 10 s on 2 cores)
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
from cnncalc.exercises.key import key_answers

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
    assert len(results) == count and all(r.error is None for r in results)
    print(f"{'measurement':45} {'seconds':>9} {'files/s':>9} {'target':>8} {'ratio':>7}")
    target = 10.0 * count / 10_000
    print(f"{f'grade {count:,} answer files (one process)':45} {seconds:9.3f} {count / seconds:9.0f} "
          f"{target:8.2f} {seconds / target:7.2f}")
    print(f"{'baseline: yaml.load of the same files':45} {baseline:9.3f} {count / baseline:9.0f}")
    print(f"grading costs {seconds / baseline:.1f}× the bare YAML reading")
    with tempfile.TemporaryDirectory() as folder:
        paths = hostile_batch(Path(folder), key_answers(problem, key))
        start, cpu = time.perf_counter(), time.process_time()
        results, _ = grade_batch(problem, paths, key)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    invalid = sum(r.error is not None for r in results)
    assert len(results) == 1000 and all(r.score == 0 for r in results if r.error)
    print(f"{'grade 1,000 files, 100 hostile (one process)':45} {seconds:9.3f} {1000 / seconds:9.0f} "
          f"{30.0:8.2f} {seconds / 30:7.2f}   ({invalid} files invalid, {cpu:.2f} s CPU)")


if __name__ == "__main__":
    main()
