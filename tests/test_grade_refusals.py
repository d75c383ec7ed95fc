"""Grading that would put a wrong grade under a student's name is refused, not done quietly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRET = "readme example secret, not a real course's"
PROBLEM = str(ROOT / "problems/filter-bank.yaml")


def test_variant_answers_without_the_secret_are_refused_and_nothing_is_written(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    book = tmp_path / "grades.csv"
    book.write_text("student,total\nearlier,3\n")
    code, out, err = cli("grade", PROBLEM, str(ROOT / "examples/answers"), "--gradebook", str(book))
    assert code == 2 and out == ""
    assert "2 of 2 answer file(s) carry the fingerprint of a generated variant" in err
    assert "ada.json (0c98206537)" in err and "--secret-file" in err and err.count("\n") == 1
    assert book.read_text() == "student,total\nearlier,3\n"


def test_with_the_secret_the_same_files_get_their_grades(cli, monkeypatch):
    monkeypatch.setenv("CNNCALC_SECRET", SECRET)
    code, out, _ = cli("grade", PROBLEM, str(ROOT / "examples/answers"), "--variants", "--format", "json")
    assert code == 0
    scores = {r["student"]: r["score"] for r in json.loads(out)["results"]}
    assert scores == {"ada": 3, "bo": 2.6}


def test_answers_on_the_problems_own_data_still_grade_without_a_secret(cli, tmp_path, monkeypatch):
    """A file carrying the original data's fingerprint (a sheet made without variants) is fine; so is one
    with no fingerprint at all."""
    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    code, out, _ = cli("key", PROBLEM, "--format", "json")
    key = json.loads(out)
    answers, own = key["answers"], key["variant"]
    assert own == "3035e64328"
    (tmp_path / "a.json").write_text(json.dumps({"student": "a", "variant": own, "answers": answers}))
    (tmp_path / "b.json").write_text(json.dumps({"student": "b", "answers": answers}))
    code, out, err = cli("grade", PROBLEM, str(tmp_path), "--format", "json")
    assert code == 0, err
    assert {r["student"]: r["score"] for r in json.loads(out)["results"]} == {"a": 3, "b": 3}


def test_one_foreign_fingerprint_among_many_is_enough(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    shutil.copy(ROOT / "examples/answers/bo.json", tmp_path / "bo.json")
    (tmp_path / "c.json").write_text(json.dumps({"student": "c", "answers": {}}))
    code, _, err = cli("grade", PROBLEM, str(tmp_path))
    assert code == 2 and "1 of 2 answer file(s)" in err and "bo.json (d076aee54e)" in err


def test_a_file_in_the_folder_that_is_not_an_answer_file_is_listed_not_skipped(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    (tmp_path / "a.json").write_text(json.dumps({"student": "a", "answers": {"conv.params": 56}}))
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "notes").mkdir()  # a folder inside is not a file of the submission
    book = tmp_path / "out" / "grades.csv"
    code, out, err = cli("grade", PROBLEM, str(tmp_path), "--gradebook", str(book), "--quiet")
    assert code == 1, err
    assert "scan.pdf" in out and "not an answer file (answer files end in .yaml, .yml, .json)" in out
    assert "1 of 2 answer file(s) invalid" in err
    rows = book.read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("a,")  # the pdf is in no row


def test_an_override_typed_as_the_report_prints_it_is_accepted(cli, tmp_path, monkeypatch):
    """The report prints 4 decimals: 2/3 of a 0.4-point question prints as 0.2667, and that is accepted as
    2/3 of the points; a fraction may be typed as text."""
    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    (tmp_path / "a.json").write_text(json.dumps({"student": "a", "answers": {"conv.params": 56}}))
    from cnncalc.exercises.problem import load_problem

    points = {q.id: q.points for q in load_problem(PROBLEM).questions}
    third = points["conv.macs"] / 3
    for typed, expected in ((f"{2 * third:.4f}", 2 * third), ('"1/3"', 1 / 3), (f"{points['conv.macs']:.4f}", None)):
        overrides = tmp_path / "o.yaml"
        overrides.write_text(f"overrides:\n  - {{student: a, question: conv.macs, score: {typed}}}\n")
        code, out, err = cli("grade", PROBLEM, str(tmp_path / "a.json"), "--overrides", str(overrides),
                             "--format", "json")
        assert code == 0, err
        score = next(q["score"] for q in json.loads(out)["results"][0]["questions"] if q["id"] == "conv.macs")
        want = expected if expected is not None else points["conv.macs"]
        assert score == pytest.approx(want, abs=1e-6), (typed, score, want)
    overrides.write_text("overrides:\n  - {student: a, question: conv.macs, score: \"2/0\"}\n")
    code, _, err = cli("grade", PROBLEM, str(tmp_path / "a.json"), "--overrides", str(overrides))
    assert code == 2 and "a number or a fraction such as 2/3" in err


@pytest.mark.parametrize("layout", ["csv", "canvas", "moodle"])
def test_two_files_of_one_student_are_never_two_gradebook_rows(cli, tmp_path, monkeypatch, layout):
    """The reported case: `s2401,0.75` and `s2401,10` in CSV, Canvas and Moodle alike."""
    import os

    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    right = {"conv.params": 56, "conv.macs": 864}
    (tmp_path / "early.json").write_text(json.dumps({"student": "s2401", "answers": {"conv.params": 1}}))
    (tmp_path / "late.json").write_text(json.dumps({"student": "s2401", "answers": right}))
    (tmp_path / "other.json").write_text(json.dumps({"student": "s2402", "answers": right}))
    os.utime(tmp_path / "early.json", ns=(10**18, 10**18))  # submitted last, though its name sorts first...
    os.utime(tmp_path / "late.json", ns=(10**17, 10**17))   # ...and this one first
    book = tmp_path / "out" / "book.csv"
    base = ["grade", PROBLEM, str(tmp_path), "--gradebook", str(book), "--gradebook-format", layout, "--quiet"]
    code, out, err = cli(*base)
    assert code == 1 and "1 of 3 answer file(s) invalid" not in err and "2 of 3 answer file(s) invalid" in err
    assert out.count("s2401: INVALID  2 files for student 's2401' (--latest grades the last): ") == 2
    ids = [line.split(",") for line in book.read_text().splitlines()]
    assert sum("s2401" in row for row in ids) == 0 and sum("s2402" in row for row in ids) == 1
    code, out, err = cli(*base, "--latest")
    assert code == 0, err
    assert "s2401: 0 / 3  incorrect 1 missing 5\n" in out  # early.json's grade, no longer flagged DUPLICATE
    rows = [row for row in (line.split(",") for line in book.read_text().splitlines()) if "s2401" in row]
    assert len(rows) == 1  # one row: the file submitted last
    code, out, _ = cli("grade", PROBLEM, str(tmp_path), "--latest", "--format", "json")
    data = json.loads(out)
    graded = {Path(r["file"]).name: r["score"] for r in data["results"]}
    assert graded == {"early.json": 0, "other.json": 0.8}
    assert any(w.startswith("s2401: graded ") and "early.json (submitted last, --latest), not " in w
               and w.endswith("late.json") for w in data["warnings"])


def test_a_moodle_email_column_needs_ids_that_are_emails(cli, tmp_path, monkeypatch):
    """`--lms-id-column email` used to rename the header and write the student ids under it: Moodle matched
    no one. Ids that are emails are written; others are one clear error, nothing written."""
    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    book = tmp_path / "out" / "moodle.csv"
    (tmp_path / "a.json").write_text(json.dumps({"student": "s2401", "answers": {"conv.params": 56}}))
    base = ["grade", PROBLEM, str(tmp_path / "a.json"), "--gradebook", str(book), "--gradebook-format", "moodle",
            "--lms-id-column", "email"]
    code, _, err = cli(*base)
    assert code == 2 and "the student ids are not email addresses" in err and "s2401" in err and not book.exists()
    (tmp_path / "a.json").write_text(json.dumps({"student": "ada@example.org", "answers": {"conv.params": 56}}))
    code, _, err = cli(*base)
    assert code == 0, err
    header, row = book.read_text().splitlines()
    assert header.startswith("Email address,") and row.startswith("ada@example.org,")
