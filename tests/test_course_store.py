"""The course gradebook (cnncalc.course) against real SQLite files on disk: course init and its refusals,
opening safely, recording real grading runs, regrades that touch one student only, stored overrides,
the class views, exports for Canvas and Moodle, backups, hostile ids, and the committed version-1
fixture that every later cnncalc must open."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from cnncalc import CnnCalcError
from cnncalc import course as C
from cnncalc.course import store
from cnncalc.exercises import compute_key, grade_batch, load_problem
from cnncalc.exercises.key import key_answers
from cnncalc.exercises.variants import grade_variants, student_variant
from cnncalc.spec import safeload

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
FILTER_BANK = ROOT / "problems" / "filter-bank.yaml"
FIXTURE = Path(__file__).parent / "data" / "course"
HOSTILE = "q'\"; DROP TABLE students; --"
THIRDS = """\
id: thirds
version: 1
title: "Padding in thirds"
parts:
  - id: a
    points: 2
    questions:
      - {id: a.p3, prompt: "p for f = 3", compute: {solve: {f: 3, same: true}, for: p}}
      - {id: a.p5, prompt: "p for f = 5", compute: {solve: {f: 5, same: true}, for: p}}
      - {id: a.p7, prompt: "p for f = 7", compute: {solve: {f: 7, same: true}, for: p}}
  - id: m
    points: 0
    questions:
      - {id: m.plot, kind: manual, points: 0}
"""


# ---------------------------------------------------------------- helpers


def write_roster(folder: Path, rows: list[tuple[str, ...]], header: str = "id,name,email,section") -> Path:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header.split(","))
    writer.writerows(rows)
    path = folder / "roster.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


ROSTER = [("ada", "Ada Lovelace", "ada@example.org", "A"), ("bo", "Bo Li", "bo@example.org", "B"),
          (HOSTILE, "Robert Tables", "bobby@example.org", "A"), ("José", "José Peña", "jose@example.org", "B"),
          ("0012345", "=cmd|' /C calc'!A0", "zero@example.org", "A")]


@pytest.fixture()
def course(tmp_path):
    C.init_course(tmp_path / "course", write_roster(tmp_path, ROSTER))
    opened = C.open_course(tmp_path / "course")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def worksheet():
    problem = load_problem(WORKSHEET)
    return problem, key_answers(problem, compute_key(problem))


def answer_file(folder: Path, name: str, student: str, answers: dict, mtime: float | None = None,
                **extra) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps({"student": student, "answers": answers, **extra}, ensure_ascii=False),
                    encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def grade_and_record(course, problem, paths, **options):
    results, _ = grade_batch(problem, paths)
    return C.record_grades(course, problem, results, paths, **options)


def class_files(tmp_path: Path, right: dict) -> list[Path]:
    folder = tmp_path / "answers"
    return [answer_file(folder, "ada.json", "ada", right, 1_700_000_000),
            answer_file(folder, "bo.json", "bo", {**right, "a.col4_row4": 2}, 1_700_000_100),
            answer_file(folder, "hostile.json", HOSTILE, {**right, "d.padding": 3.5}, 1_700_000_200),
            answer_file(folder, "jose.json", "Jose\u0301", right, 1_700_000_300)]  # NFD of the roster's José


def table(db: sqlite3.Connection, name: str) -> list[tuple]:
    return sorted(db.execute(f"SELECT * FROM {name}").fetchall(), key=repr)


def score_of(course, student: str, assignment: str = "cnn-layers-worksheet@1") -> float | None:
    shown = C.show(course)
    for row in shown.rows:
        if row.student == student:
            grade = dict(zip((a.label for a in shown.assignments), row.grades)).get(assignment)
            return None if grade is None else grade.score
    raise AssertionError(f"{student!r} not in the class table")


def folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else "other"
            for p in folder.iterdir()}


# ---------------------------------------------------------------- course init


def test_init_writes_course_file_and_private_gradebook(tmp_path):
    secret = tmp_path / "course.key"
    secret.write_text("a course secret that is long enough\n")
    secret.chmod(0o600)
    made = C.init_course(tmp_path / "c", write_roster(tmp_path, ROSTER), secret)
    assert made.students == 5 and made.gradebook == tmp_path / "c" / "gradebook.sqlite"
    assert stat.S_IMODE(os.stat(made.gradebook).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "c").st_mode) == 0o700
    settings = safeload.load_file(made.course_file)
    assert settings["secret_file"] == str(secret) and settings["roster"] == str(tmp_path / "roster.csv")
    for path in (tmp_path / "c").iterdir():  # the secret itself is nowhere in the course
        assert b"a course secret" not in path.read_bytes()
    with C.open_course(tmp_path / "c") as course:
        assert [(s.id, s.name, s.email, s.section) for s in course.students()] == [
            (i, n, e, s) for i, n, e, s in ROSTER]
        assert course.secret() == b"a course secret that is long enough"
        db = course.db
        assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_init_refuses_an_existing_course_and_a_secret_others_can_read(tmp_path):
    roster = write_roster(tmp_path, ROSTER)
    C.init_course(tmp_path / "c", roster)
    before = folder_state(tmp_path / "c")
    with pytest.raises(CnnCalcError, match="a course already exists here"):
        C.init_course(tmp_path / "c", roster)
    assert folder_state(tmp_path / "c") == before
    secret = tmp_path / "open.key"
    secret.write_text("a course secret that is long enough")
    secret.chmod(0o640)
    with pytest.raises(CnnCalcError, match="readable by others; run: chmod 600"):
        C.init_course(tmp_path / "d", roster, secret)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(("rows", "header", "message"), [
    ([("ada", "A", "", "")], "student_name,name,email,section", "no 'id' column"),
    ([("ada", "A", "", ""), ("ada", "B", "", "")], "id,name,email,section", r"duplicate student id .*line 2"),
    ([("ada", "A", "", ""), ("\ufeffada", "B", "", "")], "id,name,email,section", "same id once invisible"),
    ([("a\u00a0da", "A", "", "")], "id,name,email,section", "U\\+00A0 NO-BREAK SPACE"),
    ([("ada", "A", "not-an-email", "")], "id,name,email,section", "not an email address"),
    ([("ada", "Ada\nLovelace", "", "")], "id,name,email,section", "name with a control character"),
    ([("a\nb", "", "", "")], "id,name,email,section", "control character or line break"),
    ([("", "nobody", "", "")], "id,name,email,section", "empty student id"),
    ([("x" * 10_000, "long", "", "")], "id,name,email,section", "student id too long"),
    ([("ada", "A", "", "A\nB")], "id,name,email,section",
     r"section with a control character or line break \(got 'A\\nB', expected text on one line\)"),
])
def test_init_refuses_a_bad_roster_and_writes_nothing(tmp_path, rows, header, message):
    roster = write_roster(tmp_path, rows, header)
    with pytest.raises(CnnCalcError, match=message) as error:
        C.init_course(tmp_path / "c", roster)
    assert "roster.csv" in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "c").exists()


def test_init_warns_about_lookalike_ids_and_shared_emails(tmp_path):
    roster = write_roster(tmp_path, [("ada", "", "x@example.org", ""), ("\u0430da", "", "x@example.org", ""),
                                     ("bo", "", "", "")], "id,name,email,section,notes")
    made = C.init_course(tmp_path / "c", roster)
    assert made.students == 3
    text = " ".join(made.warnings)
    assert "look alike" in text and "CYRILLIC" in text and "also on line 2" in text and "'notes'" in text


# ---------------------------------------------------------------- opening


def test_find_course_from_a_subfolder_and_refuse_outside(tmp_path, monkeypatch):
    C.init_course(tmp_path / "c", write_roster(tmp_path, ROSTER))
    (tmp_path / "c" / "answers" / "week1").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "c" / "answers" / "week1")
    assert C.find_course() == tmp_path / "c"
    with C.open_course() as course:
        assert len(course.students()) == 5
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CnnCalcError, match="not inside a course folder"):
        C.open_course()
    with pytest.raises(CnnCalcError, match="not a course folder"):
        C.open_course(tmp_path)


def _break_gradebook(kind: str, gradebook: Path, tmp_path: Path) -> None:
    if kind == "text":
        gradebook.unlink()
        gradebook.write_text("id,score\nada,3\n" * 20)
    elif kind == "empty":
        gradebook.unlink()
        gradebook.write_bytes(b"")
    elif kind == "symlink":
        target = tmp_path / "elsewhere.sqlite"
        shutil.copy(gradebook, target)
        gradebook.unlink()
        gradebook.symlink_to(target)
    elif kind == "fifo":
        gradebook.unlink()
        os.mkfifo(gradebook)
    elif kind == "folder":
        gradebook.unlink()
        gradebook.mkdir()
    elif kind == "read-only":
        gradebook.chmod(0o400)
    elif kind == "newer":
        db = sqlite3.connect(gradebook)
        db.execute("PRAGMA user_version = 99")
        db.close()
    elif kind == "foreign":
        gradebook.unlink()
        db = sqlite3.connect(gradebook)
        db.execute("CREATE TABLE grades (student TEXT, score REAL)")
        db.commit()
        db.close()
    elif kind == "missing":
        gradebook.unlink()
    elif kind == "damaged":  # SQLite's own header, then noise
        data = gradebook.read_bytes()
        gradebook.write_bytes(data[:100] + b"\xff" * (len(data) - 100))


@pytest.mark.parametrize(("kind", "message"), [
    ("damaged", r"damaged or not an SQLite database \(database disk image is malformed\)"),
    ("text", "not an SQLite database"), ("empty", r"not an SQLite database \(the file is empty\)"),
    ("symlink", "symbolic link"), ("fifo", "FIFO"), ("folder", "a folder, not a regular file"),
    ("read-only", "read-only"), ("newer", "newer cnncalc .*schema version 99"),
    ("foreign", "not a cnncalc gradebook"), ("missing", "gradebook.sqlite is missing"),
])
def test_open_refuses_a_bad_gradebook_and_writes_nothing(tmp_path, kind, message):
    C.init_course(tmp_path / "c", write_roster(tmp_path, ROSTER))
    gradebook = tmp_path / "c" / "gradebook.sqlite"
    _break_gradebook(kind, gradebook, tmp_path)
    before = folder_state(tmp_path / "c")
    with pytest.raises(CnnCalcError, match=message) as error:
        C.open_course(tmp_path / "c")
    assert "\n" not in str(error.value) and "Traceback" not in str(error.value)
    assert "gradebook.sqlite" in str(error.value)  # the message names the file
    assert folder_state(tmp_path / "c") == before  # nothing written, not even a journal


def test_a_read_only_course_folder_is_refused(tmp_path):
    C.init_course(tmp_path / "c", write_roster(tmp_path, ROSTER))
    (tmp_path / "c").chmod(0o500)
    try:
        with pytest.raises(CnnCalcError, match="course folder is read-only"):
            C.open_course(tmp_path / "c")
    finally:
        (tmp_path / "c").chmod(0o700)


def test_a_busy_gradebook_waits_then_says_so(tmp_path, monkeypatch, worksheet):
    problem, right = worksheet
    C.init_course(tmp_path / "c", write_roster(tmp_path, ROSTER))
    monkeypatch.setattr(store, "BUSY_TIMEOUT", 0.3)
    holder = C.open_course(tmp_path / "c")
    other = C.open_course(tmp_path / "c")
    holder.db.execute("BEGIN IMMEDIATE")
    paths = [answer_file(tmp_path / "a", "ada.json", "ada", right)]
    with pytest.raises(CnnCalcError, match="the gradebook is busy"):
        grade_and_record(other, problem, paths)
    holder.db.execute("ROLLBACK")
    assert len(grade_and_record(other, problem, paths).recorded) == 1
    holder.close()
    other.close()


# ---------------------------------------------------------------- recording


def test_record_one_submission_per_file_with_its_facts(course, tmp_path, worksheet):
    problem, right = worksheet
    paths = class_files(tmp_path, right)
    outcome = grade_and_record(course, problem, paths)
    assert not outcome.refused and len(outcome.recorded) == 4 and outcome.assignment == "cnn-layers-worksheet@1"
    rows = course.db.execute("SELECT student_id, file, file_name, sha256, submitted, cnncalc_version, score, max "
                             "FROM submissions ORDER BY submitted").fetchall()
    assert [r[0] for r in rows] == ["ada", "bo", HOSTILE, "José"]
    ada = rows[0]
    assert ada[1] == str(paths[0].absolute()) and ada[2] == "ada.json"
    assert ada[3] == hashlib.sha256(paths[0].read_bytes()).hexdigest()
    assert ada[4] == "2023-11-14T22:13:20.000000Z"  # the file's mtime
    assert ada[5] and ada[6] == 2.0 and ada[7] == 2.0
    questions = course.db.execute(
        "SELECT question, qr.score, points, status, answer, feedback FROM question_results qr JOIN submissions s "
        "ON s.id = qr.submission_id WHERE s.student_id = 'bo' ORDER BY position").fetchall()
    assert [q[0] for q in questions] == [q.id for q in problem.questions]
    wrong = {q[0]: q for q in questions}["a.col4_row4"]
    assert wrong[1:5] == (0.0, 0.125, "incorrect", "2.0") and "bias" in wrong[5]
    assert course.db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert course.db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_refused_files_are_listed_never_recorded(course, tmp_path, worksheet):
    problem, right = worksheet
    folder = tmp_path / "answers"
    paths = [answer_file(folder, "ada.json", "ada", right),
             answer_file(folder, "stranger.json", "s9999", right),
             answer_file(folder, "adda.json", "adaa", right)]
    broken = folder / "scan.yaml"
    broken.write_text("%PDF-1.4 not an answer file: [")
    paths.append(broken)
    outcome = grade_and_record(course, problem, paths)
    reasons = dict(outcome.refused)
    assert [r.student for r in outcome.recorded] == ["ada"]
    assert "not on the course roster" in reasons[str(folder / "stranger.json")]
    assert "did you mean 'ada'?" in reasons[str(folder / "adda.json")]
    assert "not recorded" in reasons[str(broken)]
    assert course.db.execute("SELECT count(*) FROM submissions").fetchone()[0] == 1
    outcome = grade_and_record(course, problem, paths[1:2], allow_unlisted=True)
    assert outcome.unlisted == ["s9999"]
    listed = course.db.execute("SELECT listed FROM students WHERE id = 's9999'").fetchone()
    assert listed == (0,)
    assert "s9999" not in [s.id for s in course.students()]


def test_two_files_of_one_student_are_refused_or_the_latest_counts(course, tmp_path, worksheet):
    problem, right = worksheet
    folder = tmp_path / "answers"
    old = answer_file(folder, "bo-draft.json", "bo", {**right, "a.shape": [3, 3]}, 1_700_000_000)
    new = answer_file(folder, "bo-final.json", "bo", right, 1_700_000_500)
    outcome = grade_and_record(course, problem, [new, old])
    assert not outcome.recorded and len(outcome.refused) == 2
    assert all("bo-draft.json" in r and "bo-final.json" in r and "--latest" in r for _, r in outcome.refused)
    outcome = grade_and_record(course, problem, [new, old], latest=True)
    assert len(outcome.recorded) == 2 and "bo-final.json" in outcome.warnings[0]
    assert score_of(course, "bo") == 2.0
    # the same submission time: the later file name wins
    tie = answer_file(folder, "bo-zz.json", "bo", {**right, "a.shape": [1, 1]}, 1_700_000_500)
    grade_and_record(course, problem, [tie])
    assert score_of(course, "bo") == 1.875


def test_regrading_one_file_changes_only_that_students_rows(course, tmp_path, worksheet):
    problem, right = worksheet
    paths = class_files(tmp_path, right)
    grade_and_record(course, problem, paths)
    C.override(course, "bo", "a.col4_row4", "0.125", "the bias was printed faintly")

    def others() -> tuple:
        db = course.db
        subs = db.execute("SELECT * FROM submissions WHERE student_id != 'bo' ORDER BY id").fetchall()
        qrs = db.execute("SELECT qr.* FROM question_results qr JOIN submissions s ON s.id = qr.submission_id "
                         "WHERE s.student_id != 'bo' ORDER BY 1, 2").fetchall()
        return subs, qrs, table(db, "overrides"), table(db, "students")

    before = others()
    first_id = course.db.execute("SELECT id FROM submissions WHERE student_id = 'bo'").fetchone()[0]
    again = grade_and_record(course, problem, [paths[1]])  # the same file: updated in place
    assert again.recorded[0].regraded and again.recorded[0].submission_id == first_id
    assert others()[:2] == before[:2]
    assert score_of(course, "bo") == 2.0  # the override survived the regrade
    # a changed file: a new submission; the old one stays in the history
    answer_file(tmp_path / "answers", "bo.json", "bo", {**right, "a.shape": [9, 9]}, 1_700_009_000)
    grade_and_record(course, problem, [paths[1]])
    assert others() == before
    history = C.history(course, "bo")
    assert [s.current for s in history.submissions] == [False, True]
    assert history.grades["cnn-layers-worksheet@1"].auto_score == 1.875  # a.shape wrong, a.col4_row4 right now
    C.override(course, "bo", "a.shape", "0.0625", "the working was right")
    assert score_of(course, "bo") == 1.9375  # overrides apply on top of the new submission


def test_copy_flags_recorded_kept_and_decided(course, tmp_path):
    source = str(FILTER_BANK)
    raw = safeload.load_file(source)
    secret = b"a course secret for the test class"
    students = ["ada", "bo", HOSTILE, "José", "0012345"]
    variants = {s: student_variant(raw, source, secret, s) for s in students}
    paths = []
    for n, student in enumerate(students):
        taken = variants["ada"] if student == HOSTILE else variants[student]
        paths.append(answer_file(tmp_path / "fb", f"f{n}.json", student, key_answers(taken.problem, taken.key),
                                 variant=variants[student].fingerprint))
    results, _, copies = grade_variants(raw, source, paths, secret, {})
    problem = load_problem(FILTER_BANK)
    assert C.record_grades(course, problem, results, paths, copies=copies).flags == 1
    listed = C.flags(course)
    (flag,) = listed.flags
    assert {flag.student, flag.other} == {"ada", HOSTILE} and flag.status == "open"
    assert "whole copy" in flag.message and flag.evidence["student"] == HOSTILE
    with pytest.raises(CnnCalcError, match="needs a reason"):
        C.flags(course, dismiss=flag.id)
    with pytest.raises(CnnCalcError, match="no copy flag with this id"):
        C.flags(course, confirm=999)
    done = C.flags(course, dismiss=flag.id, reason="they worked together; allowed\nby the syllabus")
    assert done.changed.status == "dismissed" and done.changed.reason == "they worked together; allowed\nby the syllabus"
    C.record_grades(course, problem, results, paths, copies=copies)  # flagged again: the decision stays
    assert C.flags(course).flags[0].status == "dismissed"
    assert C.flags(course, confirm=flag.id).changed.status == "confirmed"
    assert [f["id"] for f in C.history(course, "ada").flags] == [flag.id]


# ---------------------------------------------------------------- overrides


@pytest.fixture()
def thirds(tmp_path):
    path = tmp_path / "thirds.yaml"
    path.write_text(THIRDS)
    problem = load_problem(path)
    return problem, key_answers(problem, compute_key(problem))


@pytest.mark.parametrize(("typed", "stored"), [
    ("2/3", 2 / 3), ("0.6667", 2 / 3), ("0.66667", 2 / 3), (0.6667, 2 / 3), ("0.3333", 1 / 3), ("0.5", 0.5),
    ("1/3", 1 / 3), (0, 0.0), ("0.1", 0.1), (" 2 / 3 ", 2 / 3),
])
def test_override_scores_as_typed_or_as_printed(course, tmp_path, thirds, typed, stored):
    problem, right = thirds
    grade_and_record(course, problem, [answer_file(tmp_path / "t", "bo.json", "bo", {**right, "a.p5": 9})])
    result = C.override(course, "bo", "a.p5", typed, "partial credit")
    assert result.score == stored and result.points == 2 / 3 and result.previous == 0.0
    assert score_of(course, "bo", "thirds@1") == pytest.approx(4 / 3 + stored, abs=1e-15)


@pytest.mark.parametrize(("typed", "message"), [
    ("0.7", r"score out of range \(got '0.7', expected a score from 0 to 0.6667 \(2/3\)\)"),
    ("-0.1", "a number, a fraction"), ("abc", "a number, a fraction"), ("1/0", "divides by zero"),
    ("nan", "a number, a fraction"), (True, "must be a number"), ("1e309", "out of range"),
])
def test_override_refuses_a_score_outside_the_points(course, tmp_path, thirds, typed, message):
    problem, right = thirds
    grade_and_record(course, problem, [answer_file(tmp_path / "t", "bo.json", "bo", right)])
    with pytest.raises(CnnCalcError, match=message):
        C.override(course, "bo", "a.p5", typed, "why")
    assert course.db.execute("SELECT count(*) FROM overrides").fetchone()[0] == 0


def test_override_refusals_name_what_is_wrong(course, tmp_path, worksheet, thirds):
    problem, right = worksheet
    grade_and_record(course, problem, [answer_file(tmp_path / "a", "bo.json", "bo", right)])
    with pytest.raises(CnnCalcError, match="needs a reason"):
        C.override(course, "bo", "a.shape", "0", "  ")
    with pytest.raises(CnnCalcError, match="no such student .*did you mean 'bo'"):
        C.override(course, "boo", "a.shape", "0", "r")
    with pytest.raises(CnnCalcError, match="no recorded assignment has a question 'a.shap'.*did you mean 'a.shape'"):
        C.override(course, "bo", "a.shap", "0", "r")
    with pytest.raises(CnnCalcError, match="has no submission"):
        C.override(course, "ada", "a.shape", "0", "r")
    with pytest.raises(CnnCalcError, match="no override of 'a.shape'"):
        C.override(course, "bo", "a.shape", None, "", clear=True)
    with pytest.raises(CnnCalcError, match="max can be set for a manual question only"):
        C.override(course, "bo", "a.shape", "0", "r", max=1)
    # a question id two assignments share needs --assignment
    second = load_problem(WORKSHEET)
    second.version = 2
    grade_and_record(course, second, [answer_file(tmp_path / "b", "bo.json", "bo", right)])
    with pytest.raises(CnnCalcError, match="several assignments .*--assignment"):
        C.override(course, "bo", "a.shape", "0", "r")
    assert C.override(course, "bo", "a.shape", "0", "r", assignment="cnn-layers-worksheet@2").score == 0.0


def test_override_is_data_survives_regrades_and_clears(course, tmp_path, worksheet):
    problem, right = worksheet
    paths = class_files(tmp_path, right)
    grade_and_record(course, problem, paths)
    auto = course.db.execute("SELECT score FROM question_results WHERE question = 'a.col4_row4' AND submission_id = "
                             "(SELECT id FROM submissions WHERE student_id = 'bo')").fetchone()[0]
    reason = "regrade: the bias (7) was smudged on bo's sheet\nsecond line, 'quoted' \"twice\""
    made = C.override(course, "bo", "a.col4_row4", "0.125", reason)
    assert made.author and made.time.endswith("Z")
    for _ in range(2):
        grade_and_record(course, problem, paths)
    assert course.db.execute("SELECT score FROM question_results WHERE question = 'a.col4_row4' AND submission_id = "
                             "(SELECT id FROM submissions WHERE student_id = 'bo')").fetchone()[0] == auto
    assert score_of(course, "bo") == 2.0
    history = C.history(course, "bo")
    (_, stored), = history.overrides
    assert stored.reason == reason and stored.author == made.author and not stored.cleared
    current = next(s for s in history.submissions if s.current)
    cell = next(q for q in current.questions if q["id"] == "a.col4_row4")
    assert cell["score"] == 0.125 and cell["auto_score"] == 0.0 and cell["override"] == made.override_id
    cleared = C.override(course, "bo", "a.col4_row4", None, "", clear=True)
    assert cleared.cleared == 1 and score_of(course, "bo") == 1.875
    assert C.history(course, "bo").overrides[0][1].cleared  # kept, marked cleared


def test_group_override_scores_everyone_with_that_answer(course, tmp_path, worksheet):
    problem, right = worksheet
    folder = tmp_path / "answers"
    paths = [answer_file(folder, "ada.json", "ada", {**right, "d.padding": 3.5}),
             answer_file(folder, "bo.json", "bo", {**right, "d.padding": 3.5}),
             answer_file(folder, "jose.json", "José", {**right, "d.padding": 4})]
    grade_and_record(course, problem, paths)
    C.override(course, None, "d.padding", "0.125", "p = f/2 earns half", answer=3.5)
    assert [score_of(course, s) for s in ("ada", "bo", "José")] == [1.875, 1.875, 1.75]
    (_, group), = C.history(course, "ada").overrides  # the group's override shows in each member's history
    assert group.student is None and group.answer == "3.5" and "(override" in C.history(course, "ada").text()
    assert C.history(course, "José").overrides == []
    C.override(course, "bo", "d.padding", "0", "no working shown")  # a student's own override wins
    assert score_of(course, "bo") == 1.75
    # the group holds for later submissions with that answer too
    paths.append(answer_file(folder, "hostile.json", HOSTILE, {**right, "d.padding": 3.5}))
    grade_and_record(course, problem, paths[3:])
    assert score_of(course, HOSTILE) == 1.875


def test_answer_groups_hold_answers_not_graded_correct(course, tmp_path, thirds):
    problem, right = thirds
    folder = tmp_path / "t"
    grade_and_record(course, problem, [answer_file(folder, "ada.json", "ada", right),
                                       answer_file(folder, "bo.json", "bo", {**right, "a.p3": 2})])
    C.override(course, None, "a.p3", "0", "an answer group of the key changes nothing", answer=1)
    C.override(course, None, "a.p3", "1/3", "half credit for p = 2", answer=2.0)  # 2.0 and 2 are one answer
    assert score_of(course, "ada", "thirds@1") == 2.0
    assert score_of(course, "bo", "thirds@1") == pytest.approx(4 / 3 + 1 / 3, abs=1e-15)


def test_manual_question_points_and_overrides_file(course, tmp_path, thirds):
    problem, right = thirds
    folder = tmp_path / "t"
    paths = [answer_file(folder, "ada.json", "ada", right), answer_file(folder, "bo.json", "bo", right)]
    grade_and_record(course, problem, paths)
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text('overrides:\n  - {student: ada, question: m.plot, score: 1, max: 1, comment: "nice plot"}\n')
    assert len(C.record_override_file(course, problem, overrides)) == 1
    assert C.record_override_file(course, problem, overrides) == []  # the same file again adds nothing
    table_ = C.show(course).as_dict()["students"]
    ada = next(r for r in table_ if r["student"] == "ada")["grades"]["thirds@1"]
    bo = next(r for r in table_ if r["student"] == "bo")["grades"]["thirds@1"]
    assert (ada["score"], ada["max"]) == (3.0, 3.0) and (bo["score"], bo["max"]) == (2.0, 3.0)
    source = C.history(course, "ada").overrides[0][1].source
    assert source.startswith("file ") and source.endswith("overrides.yaml")


# ---------------------------------------------------------------- views and exports


def test_show_missing_and_history(course, tmp_path, worksheet):
    problem, right = worksheet
    grade_and_record(course, problem, class_files(tmp_path, right))
    shown = C.show(course)
    assert [r.student for r in shown.rows] == [s[0] for s in ROSTER]
    assert [None if g is None else g.score for r in shown.rows for g in r.grades] == [2.0, 1.875, 1.75, 2.0, None]
    text = shown.text()
    assert "cnn-layers-worksheet@1" in text and "—" in text and HOSTILE in text
    assert C.missing(course).missing == {"cnn-layers-worksheet@1": ["0012345"]}
    assert "0012345" in C.missing(course, "cnn-layers-worksheet").text()
    with pytest.raises(CnnCalcError, match="no such assignment"):
        C.missing(course, "cnn-layers")
    jose = C.history(course, "Jose\u0301")  # any spelling of the id finds the roster's
    assert jose.student == "José" and len(jose.submissions) == 1 and jose.submissions[0].current
    assert json.loads(json.dumps(jose.as_dict()))["grades"]["cnn-layers-worksheet@1"]["score"] == 2.0


def test_export_csv_canvas_moodle_from_the_database(course, tmp_path, worksheet):
    problem, right = worksheet
    grade_and_record(course, problem, class_files(tmp_path, right))
    C.override(course, "bo", "a.col4_row4", "0.125", "regrade")
    import csv
    import io

    def rows(text: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(text)))

    plain = rows(C.export(course, "csv"))
    assert plain[0] == ["student", "name", "email", "section", "cnn-layers-worksheet@1", "total", "max"]
    assert plain[2] == ["bo", "Bo Li", "bo@example.org", "B", "2", "2", "2"]
    assert plain[3][0] == HOSTILE  # the id round-trips exactly
    assert plain[5][1] == "'=cmd|' /C calc'!A0"  # a formula in a name is defused
    assert plain[5][4] == ""  # no submission: an empty cell, not 0
    assert rows(C.export(course, "csv", missing_as_zero=True))[5][4] == "0"
    canvas = rows(C.export(course, "canvas"))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", problem.title]
    assert canvas[1][0].strip() == "Points Possible" and canvas[1][5] == "2"
    assert canvas[2] == ["Ada Lovelace", "", "ada", "", "A", "2"]
    assert canvas[6][2] == "0012345" and canvas[6][5] == ""
    login = rows(C.export(course, "canvas", id_column="sis-login-id"))
    assert login[2][3] == "ada" and login[2][2] == ""
    moodle = rows(C.export(course, "moodle"))
    assert moodle[0] == ["ID number", "Full name", "Email address", problem.title]
    assert [r[2] for r in moodle[1:]] == [s[2] for s in ROSTER]  # the email column holds emails
    assert moodle[2][3] == "2"
    with pytest.raises(CnnCalcError, match="unknown export format"):
        C.export(course, "xlsx")
    with pytest.raises(CnnCalcError, match=r"^--lms-id-column: canvas has no such identifier column \(got 'nope'"):
        C.export(course, "canvas", id_column="nope")


def test_export_needs_something_graded(course):
    with pytest.raises(CnnCalcError, match="nothing to export"):
        C.export(course, "csv")


def test_backup_is_a_consistent_private_copy(course, tmp_path, worksheet):
    problem, right = worksheet
    grade_and_record(course, problem, class_files(tmp_path, right))
    done = C.backup(course, tmp_path / "backup.sqlite")
    assert done.submissions == 4 and done.students == 5
    assert stat.S_IMODE(os.stat(tmp_path / "backup.sqlite").st_mode) == 0o600
    copy = sqlite3.connect(tmp_path / "backup.sqlite")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert table(copy, "question_results") == table(course.db, "question_results")
    copy.close()
    (tmp_path / "link.sqlite").symlink_to(tmp_path / "backup.sqlite")
    with pytest.raises(CnnCalcError, match="not a regular file"):
        C.backup(course, tmp_path / "link.sqlite")
    with pytest.raises(CnnCalcError, match="the gradebook itself"):
        C.backup(course, course.gradebook)
    # a backup is itself a course's gradebook: put it in a folder with the course file and it opens
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(course.folder / "course.yaml", restored / "course.yaml")
    shutil.copy(tmp_path / "backup.sqlite", restored / "gradebook.sqlite")
    with C.open_course(restored) as again:
        assert C.export(again, "csv") == C.export(course, "csv")


# ---------------------------------------------------------------- hostile input


def test_hostile_ids_round_trip_and_no_sql_runs(tmp_path, worksheet):
    problem, right = worksheet
    ids = [HOSTILE, "'); DELETE FROM submissions; --", 'a"b', "O'Brien", "Robert'); DROP TABLE students;--",
           "x' OR '1'='1", "%_\\", "日本語", "🎓"]
    C.init_course(tmp_path / "c", write_roster(tmp_path, [(i, i, "", i) for i in ids]))
    with C.open_course(tmp_path / "c") as course:
        paths = [answer_file(tmp_path / "a", f"s{n}.json", student, right) for n, student in enumerate(ids)]
        assert len(grade_and_record(course, problem, paths).recorded) == len(ids)
        for student in ids:
            C.override(course, student, "a.shape", "0", f"reason for {student}\n{student}")
            history = C.history(course, student)
            assert history.student == student and history.name == student
            assert history.overrides[0][1].reason == f"reason for {student}\n{student}"
        assert [r.student for r in C.show(course).rows] == ids
        tables = {name for (name,) in course.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"students", "submissions", "question_results", "overrides", "copy_flags"} <= tables
        assert course.db.execute("SELECT count(*) FROM submissions").fetchone()[0] == len(ids)
        # a pattern character in an id is text, not a wildcard
        with pytest.raises(CnnCalcError, match="no such student"):
            C.history(course, "%")


def test_unicode_forms_of_one_id_are_one_student_and_invisible_ones_refused(course, tmp_path, worksheet):
    problem, right = worksheet
    folder = tmp_path / "a"
    nfd = answer_file(folder, "nfd.json", "Jose\u0301", right)
    bom = answer_file(folder, "bom.json", "\ufeffbo", right)
    nbsp = answer_file(folder, "nbsp.json", "a\u00a0da", right)
    newline = answer_file(folder, "newline.json", "ada\nbo", right)
    outcome = grade_and_record(course, problem, [nfd, bom, nbsp, newline])
    assert sorted(r.student for r in outcome.recorded) == ["José", "bo"]
    reasons = dict(outcome.refused)
    assert "NO-BREAK SPACE" in reasons[str(nbsp)] and "not recorded" in reasons[str(newline)]
    with pytest.raises(CnnCalcError, match="invisible or format character"):
        C.history(course, "b\u200eo")


# ---------------------------------------------------------------- the version-1 fixture


def _fixture_course(tmp_path: Path, version: int = 1) -> Path:
    folder = tmp_path / f"v{version}"
    shutil.copytree(FIXTURE / f"v{version}", folder)
    for path in folder.iterdir():
        path.chmod(0o600)
    return folder


@pytest.mark.parametrize("version", [1, 2])
def test_each_committed_course_version_opens_and_reads_as_made(tmp_path, version):
    folder = _fixture_course(tmp_path, version)
    expected = json.loads((FIXTURE / f"expected-v{version}.json").read_text(encoding="utf-8"))
    with C.open_course(folder) as course:
        assert course.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert course.db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert C.show(course).as_dict() == expected["show"]
        history = C.history(course, "bo").as_dict()
        for item in history["submissions"]:
            for key in ("file", "graded", "cnncalc_version"):
                item.pop(key)
        for item in history["overrides"]:
            for key in ("created", "author", "cleared_at", "cleared_by"):
                item.pop(key)
        assert json.loads(json.dumps(history)) == expected["history_bo"]
        (flag,) = C.flags(course).flags
        assert flag.status == "dismissed" and flag.reason == "worked together in the lab, allowed"
        assert C.missing(course).missing["cnn-layers-worksheet@1"] == ["0012345"]
        # and it takes new grades
        problem = load_problem(WORKSHEET)
        right = key_answers(problem, compute_key(problem))
        grade_and_record(course, problem, [answer_file(tmp_path / "a", "z.json", "0012345", right)])
        assert score_of(course, "0012345") == 2.0


def test_upgrade_steps_run_in_one_transaction_and_keep_a_copy(tmp_path, monkeypatch):
    folder = _fixture_course(tmp_path)
    gradebook = folder / "gradebook.sqlite"

    def to_v2(db):
        db.execute("ALTER TABLE students ADD COLUMN nickname TEXT NOT NULL DEFAULT ''")
        db.execute("UPDATE students SET nickname = upper(substr(id, 1, 2))")

    monkeypatch.setattr(store, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(store.UPGRADES, 1, to_v2)
    with C.open_course(folder) as course:
        assert course.db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert course.db.execute("SELECT nickname FROM students WHERE id = 'ada'").fetchone() == ("AD",)
        assert len(C.show(course).rows) == 6
    kept = folder / "gradebook-v1.sqlite.bak"
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    old = sqlite3.connect(kept)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    old.close()
    # a failing step leaves the file at its version, unchanged
    folder = _fixture_course(tmp_path / "again")
    gradebook = folder / "gradebook.sqlite"

    def broken(db):
        db.execute("ALTER TABLE students ADD COLUMN nickname TEXT")
        raise sqlite3.OperationalError("disk full (simulated)")

    monkeypatch.setitem(store.UPGRADES, 1, broken)
    with pytest.raises(CnnCalcError, match="simulated"):
        C.open_course(folder)
    db = sqlite3.connect(gradebook)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "nickname" not in [c[1] for c in db.execute("PRAGMA table_info(students)")]
    db.close()
