"""A process that records grades in a course, for tests/test_course_concurrency.py (two writers at once,
and SIGKILL in the middle of a long record).

    python worker.py COURSE PROBLEM TEMPLATE OUT_FOLDER PREFIX COUNT [GO_FILE]

Grades the answer file TEMPLATE once (the real grader), writes COUNT copies of it under OUT_FOLDER as
the students PREFIX00000… (those not there yet: runs of the same copies share them), prints ``ready``, waits for GO_FILE to exist (when given), prints ``recording``, records the
COUNT results in one run (unlisted students allowed) and prints the run's summary as JSON. With
$CACHE_PAGES set, SQLite's page cache is that small, so that the run's pages reach the WAL file long
before it commits (as a run larger than the cache does).
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from pathlib import Path


def main(course_dir: str, problem_file: str, template: str, out: str, prefix: str, count: int,
         go: str | None) -> None:
    from cnncalc import course as C
    from cnncalc.exercises import compute_key, grade_batch, load_problem

    problem = load_problem(problem_file)
    data = json.loads(Path(template).read_text())
    (result,), _ = grade_batch(problem, [Path(template)], compute_key(problem))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths, results = [], []
    for i in range(count):
        student = f"{prefix}{i:05d}"
        path = folder / f"{student}.json"
        if not path.exists():  # made by an earlier run of the same copies (6,000 new files take seconds)
            path.write_text(json.dumps({**data, "student": student}))
        clone = copy.copy(result)
        clone.student, clone.file = student, str(path)
        paths.append(path)
        results.append(clone)
    with C.open_course(course_dir) as course:
        if os.environ.get("CACHE_PAGES"):  # a small page cache: the transaction spills into the WAL as it goes
            course.db.execute(f"PRAGMA cache_size = {int(os.environ['CACHE_PAGES'])}")
        print("ready", flush=True)
        while go and not Path(go).exists():
            time.sleep(0.005)
        print("recording", time.time(), flush=True)
        start = time.time()
        summary = C.record_grades(course, problem, results, paths, allow_unlisted=True)
        print(json.dumps({"start": start, "end": time.time(), "recorded": len(summary.recorded),
                          "refused": len(summary.refused), "run": summary.run_id}), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], args[1], args[2], args[3], args[4], int(args[5]), args[6] if len(args) > 6 else None)
