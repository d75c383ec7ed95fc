"""The course from the command line, as an instructor runs it: `course init` → `generate --course` →
`grade --course` → `gradebook override` → `gradebook export`, against a real SQLite file on disk, with
real processes where a crash or a second run matters."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = str(ROOT / "problems" / "filter-bank.yaml")  # per-student variants, 3 points
ROSTER = "id,name,email,section\nada,Ada Lovelace,ada@example.org,A\nbo,Bo Li,bo@example.org,B\ncy,Cy Young,cy@example.org,A\n"


@pytest.fixture()
def course(tmp_path, cli, monkeypatch):
    """A course with a secret file, its sheets and keys, and helpers for answer files."""
    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    (tmp_path / "roster.csv").write_text(ROSTER)
    secret = tmp_path / "course.key"
    secret.write_text("a course secret of more than sixteen bytes")
    os.chmod(secret, 0o600)
    folder = tmp_path / "course"
    code, out, err = cli("course", "init", str(folder), "--roster", str(tmp_path / "roster.csv"),
                         "--secret-file", str(secret))
    assert code == 0 and out == f"made course {folder} (3 students): course.yaml, gradebook.sqlite\n", err
    code, _, err = cli("generate", PROBLEM, "--course", str(folder), "--out", str(tmp_path / "week3"))
    assert code == 0, err
    answers = tmp_path / "answers"
    answers.mkdir()

    class Course:
        path = folder
        keys = {s: json.loads((tmp_path / "week3" / "keys" / f"{s}.json").read_text()) for s in ("ada", "bo", "cy")}

        @staticmethod
        def answer(student: str, wrong: tuple[str, ...] = (), name: str | None = None, of: str | None = None) -> Path:
            key = Course.keys[of or student]
            given = {q: (12345 if q in wrong else v) for q, v in key["answers"].items()}
            path = answers / (name or f"{student}.json")
            path.write_text(json.dumps({"student": student, "variant": key["variant"], "answers": given}))
            return path

        @staticmethod
        def grade(*args: str) -> tuple[int, str, str]:
            return cli("grade", PROBLEM, *args, "--course", str(folder))

        @staticmethod
        def book(*args: str) -> tuple[int, str, str]:
            return cli("gradebook", *args, "--course", str(folder))

        @staticmethod
        def current() -> dict[str, float | None]:
            code, out, err = Course.book("show", "--format", "json")
            assert code == 0, err
            table = json.loads(out)
            return {row["student"]: row["total"] for row in table["students"]}

    Course.answers = answers
    return Course


def test_the_instructor_workflow(course, tmp_path):
    course.answer("ada")
    course.answer("bo", wrong=("conv.params",))
    code, out, err = course.grade(str(course.answers), "--quiet")
    assert code == 0, err
    assert out.splitlines()[:2] == ["ada: 3 / 3  correct 6", "bo: 2.6 / 3  correct 5 incorrect 1"]
    assert "# course gradebook: recorded 2 file(s) for filter-bank@1 (run 1)" in out
    code, out, err = course.book("override", "bo", "conv.params", "0.4", "--reason", "weights counted right")
    assert code == 0 and out == "conv.params for bo: 0.4 of 0.4 (was 0) (filter-bank@1)\n", err
    assert course.current() == {"ada": 3, "bo": 3, "cy": 0}
    target = tmp_path / "canvas.csv"
    code, out, err = course.book("export", "--format", "canvas", "-o", str(target))
    assert code == 0 and out == f"wrote {target}\n", err
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[2:] == [["Ada Lovelace", "", "ada", "", "A", "3"], ["Bo Li", "", "bo", "", "B", "3"],
                        ["Cy Young", "", "cy", "", "A", ""]]  # no submission: an empty cell, not 0
    code, _, _ = course.book("export", "--format", "moodle", "-o", str(tmp_path / "m.csv"), "--missing-as-zero")
    assert code == 0
    assert (tmp_path / "m.csv").read_text().splitlines()[1:] == [
        "ada,Ada Lovelace,ada@example.org,3", "bo,Bo Li,bo@example.org,3", "cy,Cy Young,cy@example.org,0"]
    code, out, _ = course.book("missing")
    assert code == 0 and "cy  Cy Young" in out and "ada" not in out.split("submission", 1)[1]


def test_a_regrade_of_one_file_changes_that_student_only_and_overrides_survive(course):
    course.answer("ada", wrong=("conv.f1",))
    course.answer("bo")
    assert course.grade(str(course.answers), "--quiet")[0] == 0
    assert course.book("override", "ada", "conv.f1", "2/3", "--reason", "misread the sheet")[0] == 2  # > points
    points = course.keys["ada"]["answers"]  # the question is worth less than 2/3
    code, _, err = course.book("override", "ada", "conv.f1", "0.1", "--reason", "misread the sheet")
    assert code == 0, err
    before = course.current()
    # ada resubmits with another mistake; only ada's row may change, and her override stays on top
    time.sleep(0.01)
    course.answer("ada", wrong=("conv.f1", "conv.f2"))
    code, out, err = course.grade(str(course.answers / "ada.json"), "--quiet")
    assert code == 0 and "recorded 1 file(s)" in out, err
    after = course.current()
    assert after["bo"] == before["bo"] == 3 and after["cy"] == before["cy"] == 0
    assert after["ada"] < before["ada"]
    _, out, _ = course.book("history", "ada", "--format", "json")
    history = json.loads(out)
    assert len(history["submissions"]) == 2 and points  # both kept, the later one current
    assert [o["score"] for o in history["overrides"]] == [0.1]


def test_no_grade_without_the_right_key(course, tmp_path, cli):
    """In a course the secret comes from the course; outside it, variant answers without the secret are
    refused; a student not on the roster is refused unless --allow-unlisted."""
    course.answer("ada")
    (course.answers / "zed.json").write_text(json.dumps({"student": "zed", "answers": {"conv.params": 56}}))
    code, out, err = course.grade(str(course.answers), "--quiet")
    assert code == 1
    assert "ada: 3 / 3" in out and "not recorded: " in out and "student 'zed' is not on the course roster" in out
    code, out, err = course.grade(str(course.answers), "--quiet", "--allow-unlisted")
    assert code == 0 and "recorded 2 file(s)" in out, err
    code, _, err = cli("grade", PROBLEM, str(course.answers))
    assert code == 2 and "1 of 2 answer file(s) carry the fingerprint of a generated variant" in err
    wrong = tmp_path / "wrong.key"
    wrong.write_text("another secret of more than sixteen bytes")
    os.chmod(wrong, 0o600)
    code, out, err = cli("grade", PROBLEM, str(course.answers / "ada.json"), "--secret-file", str(wrong))
    assert code == 2 and "is not this student's variant under this secret" in out and "none of the 1" in err
    code, _, err = cli("grade", PROBLEM, str(course.answers), "--allow-unlisted")
    assert code == 2 and "--allow-unlisted goes with a course" in err


def test_inside_the_course_folder_no_option_is_needed(course, cli, monkeypatch):
    course.answer("ada")
    monkeypatch.chdir(course.path)
    code, out, err = cli("grade", PROBLEM, str(course.answers / "ada.json"), "--quiet")
    assert code == 0 and "recorded 1 file(s) for filter-bank@1" in out, err
    code, out, _ = cli("gradebook", "show")
    assert code == 0 and out.splitlines()[1].split()[:4] == ["ada", "Ada", "Lovelace", "A"]


def test_the_same_file_by_another_path_is_one_submission(course, cli, monkeypatch):
    course.answer("ada")
    assert course.grade(str(course.answers / "ada.json"))[0] == 0
    monkeypatch.chdir(course.answers)
    assert course.grade(f"../{course.answers.name}/ada.json")[0] == 0
    _, out, _ = course.book("history", "ada", "--format", "json")
    assert len(json.loads(out)["submissions"]) == 1


@pytest.mark.parametrize("args, message", [
    (["override", "ada", "conv.f1", "0.1"], "an override needs --reason TEXT"),
    (["override", "ada", "conv.f1"], "give a SCORE, or --clear"),
    (["override", "nobody", "conv.f1", "0.1", "--reason", "x"], "nobody"),
    (["flags", "--dismiss", "99"], "dismissing a copy flag needs a reason"),
    (["flags", "--dismiss", "99", "--reason", "x"], "99"),
])
def test_gradebook_refusals_are_one_line(course, args, message):
    course.answer("ada")
    assert course.grade(str(course.answers))[0] == 0
    code, _, err = course.book(*args)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_a_gradebook_that_is_not_a_course_is_one_error(tmp_path, cli):
    code, _, err = cli("gradebook", "show", "--course", str(tmp_path))
    assert code == 2 and "not a course folder" in err
    (tmp_path / "course.yaml").write_text("format: 1\nroster: r.csv\n")
    (tmp_path / "gradebook.sqlite").write_text("not sqlite at all")
    code, _, err = cli("gradebook", "show", "--course", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_backup_is_a_database_with_every_grade(course, tmp_path):
    course.answer("ada")
    assert course.grade(str(course.answers))[0] == 0
    code, out, err = course.book("backup", str(tmp_path / "b.sqlite"))
    assert code == 0 and "1 submissions" in out, err
    with sqlite3.connect(tmp_path / "b.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT student_id, score FROM submissions").fetchall() == [("ada", 3.0)]


def _grade_process(course, *args):
    return subprocess.Popen([sys.executable, "-m", "cnncalc", "grade", PROBLEM, *args, "--course", str(course.path),
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_grade_runs_on_one_course_both_land(course):
    for k in range(40):
        course.answer("ada", name=f"ada{k:02d}.json")
        course.answer("bo", name=f"bo{k:02d}.json")
    first = _grade_process(course, *[str(p) for p in sorted(course.answers.glob("ada*.json"))], "--latest")
    second = _grade_process(course, *[str(p) for p in sorted(course.answers.glob("bo*.json"))], "--latest")
    for process in (first, second):
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    with sqlite3.connect(course.path / "gradebook.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (2,)
        assert sorted(db.execute("SELECT DISTINCT student_id FROM submissions")) == [("ada",), ("bo",)]


@pytest.mark.parametrize("delay", [0.3, 0.9, 1.6])
def test_sigkill_during_grade_leaves_every_earlier_grade(course, tmp_path, delay):
    course.answer("ada")
    assert course.grade(str(course.answers / "ada.json"))[0] == 0
    bulk = tmp_path / "bulk"
    bulk.mkdir()
    key = course.keys["bo"]
    for k in range(600):
        (bulk / f"s{k:04d}.json").write_text(json.dumps({"student": "bo", "variant": key["variant"],
                                                         "answers": key["answers"]}))
    with sqlite3.connect(course.path / "gradebook.sqlite") as db:
        before = db.execute("SELECT * FROM submissions ORDER BY id").fetchall()
    process = _grade_process(course, str(bulk), "--latest")
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    with sqlite3.connect(course.path / "gradebook.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        after = db.execute("SELECT * FROM submissions ORDER BY id").fetchall()
        runs = db.execute("SELECT count(*) FROM runs").fetchone()[0]
    assert after[:len(before)] == before  # every earlier grade intact
    assert runs in (1, 2) and (len(after) == len(before)) == (runs == 1)  # the run landed whole, or not at all


def test_latest_lets_the_newest_file_of_a_student_count_in_the_gradebook(course):
    old = course.answer("ada", wrong=("conv.f1",), name="ada-draft.json")
    new = course.answer("ada", name="ada-final.json")
    os.utime(old, (1_700_000_000, 1_700_000_000))
    os.utime(new, (1_700_000_500, 1_700_000_500))
    code, out, err = course.grade(str(old), str(new), "--quiet")
    assert code == 2 and "recorded 0 file(s)" in out and "--latest grades the last" in out, err
    code, out, err = course.grade(str(old), str(new), "--quiet", "--latest")
    assert code == 0 and out.startswith("ada: 3 / 3") and "recorded 1 file(s)" in out, err
    assert course.current()["ada"] == 3


def test_export_of_chosen_assignments_only(course, tmp_path, cli):
    from cnncalc.exercises import compute_key, load_problem
    from cnncalc.exercises.key import key_answers

    course.answer("ada")
    assert course.grade(str(course.answers / "ada.json"), "--quiet")[0] == 0
    worksheet = ROOT / "problems" / "cnn-layers-worksheet.yaml"
    problem = load_problem(worksheet)
    right = key_answers(problem, compute_key(problem))
    sheet = tmp_path / "sheet-bo.json"
    sheet.write_text(json.dumps({"student": "bo", "answers": right}))
    code, _, err = cli("grade", str(worksheet), str(sheet), "--quiet", "--course", str(course.path))
    assert code == 0, err

    def header(*only: str) -> list[str]:
        target = tmp_path / f"export-{len(only)}.csv"
        options = [item for name in only for item in ("--assignment", name)]
        code, _, err = course.book("export", "--format", "csv", "-o", str(target), *options)
        assert code == 0, err
        return next(csv.reader(io.StringIO(target.read_text())))

    assert header()[4:6] == ["cnn-layers-worksheet@1", "filter-bank@1"] or \
        header()[4:6] == ["filter-bank@1", "cnn-layers-worksheet@1"]
    assert header("filter-bank")[4:] == ["filter-bank@1", "total", "max"]
    assert header("cnn-layers-worksheet")[4:] == ["cnn-layers-worksheet@1", "total", "max"]


def test_course_generate_never_writes_over_the_course_secret(tmp_path, cli, monkeypatch):
    # the secret kept where this run would write a key: refused, the secret unchanged
    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    (tmp_path / "roster.csv").write_text(ROSTER)
    keys = tmp_path / "week3" / "keys"
    keys.mkdir(parents=True)
    secret = keys / "ada.json"
    secret.write_text("a course secret of more than sixteen bytes")
    os.chmod(secret, 0o600)
    folder = tmp_path / "course"
    assert cli("course", "init", str(folder), "--roster", str(tmp_path / "roster.csv"),
               "--secret-file", str(secret))[0] == 0
    code, out, err = cli("generate", PROBLEM, "--course", str(folder), "--out", str(tmp_path / "week3"), "--force")
    assert code == 2 and "one of the command's inputs" in err, (out, err)
    assert secret.read_text() == "a course secret of more than sixteen bytes"
