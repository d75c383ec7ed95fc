"""Variants and keys for a 1,000-student roster, from the course secret (target: under 10 s), written
as sheets and keys like `cnncalc generate` does; the baseline is computing the original's key alone.

Run: python benchmarks/bench_generate.py [--students N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from cnncalc.exercises import compute_key, load_problem
from cnncalc.exercises.report import write_atomic
from cnncalc.exercises.sheets import key_json, render_sheet
from cnncalc.exercises.variants import student_variant
from cnncalc.spec import safeload

ROOT = Path(__file__).parent.parent
PROBLEM = ROOT / "problems" / "cnn-layers-worksheet.yaml"


def main() -> None:
    students = int(sys.argv[sys.argv.index("--students") + 1]) if "--students" in sys.argv else 1000
    raw = safeload.load_file(PROBLEM)
    secret = b"benchmark secret, not a real one"
    problem = load_problem(PROBLEM)
    compute_key(problem)  # imports (sympy, numpy) out of the timing
    start = time.perf_counter()
    for _ in range(20):
        compute_key(problem)
    one_key = (time.perf_counter() - start) / 20
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        for i in range(students):
            variant = student_variant(raw, str(PROBLEM), secret, f"student{i:04d}")
            write_atomic(Path(folder) / "sheets" / f"student{i:04d}.md", render_sheet(variant))
            write_atomic(Path(folder) / "keys" / f"student{i:04d}.json", key_json(variant))
        seconds = time.perf_counter() - start
    target = 10.0 * students / 1000
    print(f"{'measurement':50} {'seconds':>9} {'target':>8} {'ratio':>7}")
    print(f"{f'{students:,} variants: draw, check, key, sheet, key file':50} {seconds:9.3f} {target:8.2f} "
          f"{seconds / target:7.2f}")
    print(f"{'baseline: one key of the original':50} {one_key:9.4f}")
    print(f"per student: {seconds / students * 1000:.1f} ms = {seconds / students / one_key:.1f}× one key "
          "(draws that fail a constraint are retried)")


if __name__ == "__main__":
    main()
