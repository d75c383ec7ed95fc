"""Several processes and one gradebook, on a real SQLite file: two processes recording at once both land
(one waits for the other), and a process killed with SIGKILL in the middle of a long record leaves
`PRAGMA integrity_check` = ok, every earlier grade intact and the interrupted run absent or whole."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnncalc import course as C
from cnncalc.exercises import compute_key, load_problem
from cnncalc.exercises.key import key_answers

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
WORKER = Path(__file__).parent / "data" / "course" / "worker.py"

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def new_course(tmp_path: Path) -> Path:
    """A course of two students under tmp_path, and an answer file for the workers to copy (its path)."""
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\nada,Ada\nbo,Bo\n")
    C.init_course(tmp_path / "course", roster)
    problem = load_problem(WORKSHEET)
    answers = key_answers(problem, compute_key(problem))
    template = tmp_path / "template.json"
    template.write_text(json.dumps({"student": "template", "answers": {**answers, "a.col4_row4": 2}}))
    return template


@pytest.fixture()
def setup(tmp_path):
    return tmp_path, new_course(tmp_path)


def start(tmp_path: Path, template: Path, prefix: str, count: int, go: Path | None = None, cache_pages: int = 0,
          files: Path | None = None) -> subprocess.Popen:
    command = [sys.executable, str(WORKER), str(tmp_path / "course"), str(WORKSHEET), str(template),
               str(files or tmp_path / f"files-{prefix}"), prefix, str(count)] + ([str(go)] if go else [])
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "CACHE_PAGES": str(cache_pages or "")})


def snapshot(gradebook: Path) -> tuple:
    db = sqlite3.connect(gradebook)
    try:
        return tuple(db.execute(f"SELECT * FROM {name} ORDER BY 1, 2").fetchall()
                     for name in ("students", "submissions", "question_results", "overrides", "runs"))
    finally:
        db.close()


def test_two_processes_recording_at_once_both_land(setup):
    tmp_path, template = setup
    go = tmp_path / "go"
    workers = [start(tmp_path, template, prefix, 1500, go) for prefix in ("a", "b")]
    for worker in workers:  # both have graded and wait at the gate, the course open
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    go.touch()
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["recorded"] for r in reports] == [1500, 1500]
    first, second = sorted(reports, key=lambda r: r["end"])
    assert second["start"] < first["end"]  # they did contend: the second waited for the first
    with C.open_course(tmp_path / "course") as course:
        db = course.db
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM submissions").fetchone()[0] == 3000
        assert db.execute("SELECT count(DISTINCT run_id) FROM submissions").fetchone()[0] == 2
        assert db.execute("SELECT count(*) FROM question_results").fetchone()[0] == 3000 * 10
        assert {round(g.score, 6) for r in C.show(course).rows for g in r.grades if g} == {1.875}


@pytest.fixture(scope="module")
def earlier_course(tmp_path_factory):
    """A course with an earlier run of 300 grades, made once: each test kills its long run in a copy; and
    the folder where the long runs' answer files are written, by the first."""
    tmp_path = tmp_path_factory.mktemp("earlier")
    template = new_course(tmp_path)
    earlier = start(tmp_path, template, "e", 300)
    _, err = earlier.communicate(timeout=300)
    assert earlier.returncode == 0, err
    return tmp_path / "course", template, snapshot(tmp_path / "course" / "gradebook.sqlite"), tmp_path / "files-k"


# The run takes about a second here: hashing and preparing first, then the transaction, whose pages spill
# into the WAL as it goes (a 50-page cache), then the commit. The delays fall in each phase; None kills the
# process once it has reported the run recorded (after the commit, before it exits).
@pytest.mark.parametrize("delay", [0.0, 0.3, 0.45, 0.6, 0.75, 1.0, None])
def test_sigkill_during_a_long_record_keeps_the_gradebook_whole(tmp_path, earlier_course, delay):
    course, template, before, files = earlier_course
    shutil.copytree(course, tmp_path / "course")  # closed by the earlier run: no WAL left to copy
    long = start(tmp_path, template, "k", 6000, cache_pages=50, files=files)  # the answer files written once
    assert long.stdout.readline().strip() == "ready", long.stderr.read()
    assert long.stdout.readline().startswith("recording")
    if delay is None:
        assert json.loads(long.stdout.readline())["recorded"] == 6000, long.stderr.read()
    else:
        time.sleep(delay)
    long.send_signal(signal.SIGKILL)
    long.wait(timeout=60)
    long.stdout.close()
    long.stderr.close()
    gradebook = tmp_path / "course" / "gradebook.sqlite"
    db = sqlite3.connect(gradebook)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    killed_run = db.execute("SELECT count(*) FROM submissions WHERE student_id LIKE 'k%'").fetchone()[0]
    db.close()
    assert killed_run in (0, 6000)  # the run landed whole or not at all
    after = snapshot(gradebook)
    if killed_run == 0:
        assert after == before  # every earlier grade intact, nothing half-written
    else:
        assert all(set(b) <= set(a) for b, a in zip(before, after))
    with C.open_course(tmp_path / "course") as course:  # the lock is free again: the course takes new grades
        assert course.db.execute("SELECT count(*) FROM submissions WHERE student_id LIKE 'e%'").fetchone()[0] == 300
