"""The course gradebook: recording a grading run, and exporting a term's grades.

1. 10,000 answer files of the worksheet are graded (the plain `grade` of the same files, the baseline of
   the same run), then recorded in a course of 10,000 students: target, grading + recording within
   1.5× grading alone. A second run records the same files again (every submission updated in place).
2. A course of 1,000 students × 20 assignments (20,000 submissions, 200,000 question rows, 300 student
   overrides and 20 answer-group overrides): `gradebook export` in each format and `gradebook show`,
   target under 1 s each.

Run: python benchmarks/bench_course.py [--files N]   (targets on 2 cores)
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_grading import make_files
from timing import best_of

from cnncalc import course as C
from cnncalc.exercises import compute_key, grade_batch, load_problem
from cnncalc.exercises.key import key_answers

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"


def roster(folder: Path, students: list[str]) -> Path:
    path = folder / "roster.csv"
    path.write_text("id,name,email,section\n" + "".join(f"{s},Student {s},{s}@example.org,S{i % 7}\n"
                                                        for i, s in enumerate(students)))
    return path


def record_benchmark(count: int) -> None:
    problem = load_problem(WORKSHEET)
    key = compute_key(problem)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "answers").mkdir()
        paths = make_files(folder / "answers", count, key_answers(problem, key))
        start, cpu = time.perf_counter(), time.process_time()
        results, _ = grade_batch(problem, paths, key)
        grading, grading_cpu = time.perf_counter() - start, time.process_time() - cpu
        C.init_course(folder / "course", roster(folder, [f"s{i:05d}" for i in range(count)]))
        with C.open_course(folder / "course") as course:
            start, cpu = time.perf_counter(), time.process_time()
            outcome = C.record_grades(course, problem, results, paths)
            recording, recording_cpu = time.perf_counter() - start, time.process_time() - cpu
            assert len(outcome.recorded) == count, outcome.refused[:3]
            start = time.perf_counter()
            again = C.record_grades(course, problem, results, paths)
            regrade = time.perf_counter() - start
            assert all(r.regraded for r in again.recorded)
        size = (folder / "course" / "gradebook.sqlite").stat().st_size
    total = grading + recording
    print(f"{'measurement':52} {'seconds':>9} {'target':>8} {'ratio':>7} {'CPU s':>7}")
    print(f"{f'grade {count:,} answer files (baseline)':52} {grading:9.3f} {'':8} {'':7} {grading_cpu:7.3f}")
    print(f"{'record them in a course (one transaction)':52} {recording:9.3f} {'':8} {'':7} {recording_cpu:7.3f}")
    print(f"{'grade + record, as a multiple of grading':52} {total / grading:9.3f} {1.5:8.2f} "
          f"{total / grading / 1.5:7.2f} {(grading_cpu + recording_cpu) / grading_cpu:7.3f}")
    print(f"{f'record the same {count:,} files again (regrade)':52} {regrade:9.3f}")
    print(f"gradebook: {size / 1e6:.1f} MB for {count:,} submissions")


def export_benchmark(students: int = 1000, assignments: int = 20) -> None:
    base = load_problem(WORKSHEET)
    key = compute_key(base)
    ids = [f"s{i:05d}" for i in range(students)]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "answers").mkdir()
        paths = make_files(folder / "answers", students, key_answers(base, key))
        results, _ = grade_batch(base, paths, key)
        C.init_course(folder / "course", roster(folder, ids))
        with C.open_course(folder / "course") as course:
            start = time.perf_counter()
            for version in range(1, assignments + 1):
                problem = copy.copy(base)
                problem.version = version
                problem.title = f"Worksheet {version}"
                C.record_grades(course, problem, results, paths)
                for i in range(0, students, 67):
                    C.override(course, ids[i], "a.col4_row4", "0.125", "regrade", assignment=f"{base.id}@{version}")
                C.override(course, None, "c.total_params", "0.25", "half credit", answer=349,
                           assignment=f"{base.id}@{version}")
            filling = time.perf_counter() - start
            timings = [(f"export --format {fmt}", best_of(lambda fmt=fmt: C.export(course, fmt), 3))
                       for fmt in C.FORMATS]
            timings.append(("show (the class table)", best_of(lambda: C.show(course), 3)))
            timings.append(("history of one student", best_of(lambda: C.history(course, ids[5]), 3)))
            text = C.export(course, "canvas")
            assert text.count("\n") == students + 2
    print(f"\n{students:,} students × {assignments} assignments (filled in {filling:.1f} s)")
    print(f"{'measurement':52} {'seconds':>9} {'target':>8} {'ratio':>7}")
    for label, seconds in timings:
        print(f"{label:52} {seconds:9.3f} {1.0:8.2f} {seconds:7.2f}")


def main() -> None:
    count = int(sys.argv[sys.argv.index("--files") + 1]) if "--files" in sys.argv else 10_000
    record_benchmark(count)
    export_benchmark()


if __name__ == "__main__":
    main()
