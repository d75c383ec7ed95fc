"""What the course, the grader and their files show a user, pinned where a changed line would go unnoticed:
stored times in UTC whatever the machine's zone, the score an override replaces, every refusal with its file,
line, value and expectation, the `recorded` block of `grade --course --format json`, a canvas package that
never replaces its own problem file, practice hints and answers that lead to the key, and the worked
solution's closed code block in a feedback file."""

from __future__ import annotations

import datetime
import json
import re
import time
from pathlib import Path

import pytest
import yaml

from cnncalc import CnnCalcError
from cnncalc import course as C
from cnncalc.course.grading import grade_in_course
from cnncalc.course.ids import file_time, iso_time
from cnncalc.exercises import compute_key, grade_batch, load_problem
from cnncalc.exercises.answers import compare_expression, expression_text, matrix
from cnncalc.exercises.grading import grade_answers, read_answers
from cnncalc.exercises.key import key_answers
from cnncalc.exercises.overrides import read_overrides
from cnncalc.exercises.practice import generate
from cnncalc.exercises.practice.sheet import render
from cnncalc.exercises.report import feedback_markdown
from cnncalc.exercises.service import export_quiz, grade

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
PADDING = ROOT / "problems" / "padding-stride.yaml"


@pytest.fixture(scope="module")
def worksheet():
    problem = load_problem(WORKSHEET)
    key = compute_key(problem)
    return problem, key_answers(problem, key), key


@pytest.fixture()
def course(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email,section\nada,Ada Lovelace,ada@example.org,A\nbo,Bo Li,bo@example.org,B\n")
    C.init_course(tmp_path / "course", roster)
    opened = C.open_course(tmp_path / "course")
    yield opened
    opened.close()


def answer_file(folder: Path, name: str, student: str, answers: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps({"student": student, "answers": answers}), encoding="utf-8")
    return path


# ---------------------------------------------------------------- the course


@pytest.fixture()
def kolkata(monkeypatch):
    """The machine's clock in UTC+05:30 (a POSIX TZ rule: no zone database needed)."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_stored_times_are_utc_whatever_the_machines_zone(kolkata):
    assert time.strftime("%z", time.localtime(0)) == "+0530"  # the zone is in force
    utc = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert iso_time(utc) == "2026-01-02T03:04:05.000000Z"
    local = datetime.datetime(2026, 1, 2, 8, 34, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))
    assert iso_time(local) == "2026-01-02T03:04:05.000000Z"
    assert file_time(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456Z"


def test_an_override_reports_the_score_in_force_before_it(course, tmp_path, worksheet):
    problem, right, _ = worksheet
    folder = tmp_path / "answers"
    paths = [answer_file(folder, "ada.json", "ada", {**right, "d.padding": 3.5}),
             answer_file(folder, "bo.json", "bo", {**right, "d.padding": 3.5})]
    results, _ = grade_batch(problem, paths)
    C.record_grades(course, problem, results, paths)
    assert C.override(course, "ada", "d.padding", "0.0625", "first look").previous == 0.0  # the automatic score
    second = C.override(course, "ada", "d.padding", "0.125", "second look")
    assert second.previous == 0.0625 and second.as_dict()["previous"] == 0.0625  # the override it replaces
    assert C.override(course, None, "d.padding", "0.1", "p = f/2 earns most", answer=3.5).previous is None
    assert C.override(course, "bo", "d.padding", "0", "no working").previous == 0.1  # the group's score


def test_an_assignment_without_the_question_is_named(course, tmp_path, worksheet):
    problem, right, _ = worksheet
    paths = [answer_file(tmp_path / "answers", "bo.json", "bo", right)]
    C.record_grades(course, problem, grade_batch(problem, paths)[0], paths)
    with pytest.raises(CnnCalcError) as caught:
        C.override(course, "bo", "a.shap", "0", "r", assignment="cnn-layers-worksheet@1")
    assert str(caught.value) == "cnn-layers-worksheet@1 has no question 'a.shap'; did you mean 'a.shape'?"


@pytest.mark.parametrize(("content", "said"), [
    (b"", "the gradebook is not an SQLite database (the file is empty)"),
    (b"id,score\nada,3\n" * 20, "the gradebook is not an SQLite database"),
])
def test_a_gradebook_that_is_not_sqlite_says_what_was_expected(tmp_path, course, content, said):
    course.close()
    gradebook = course.gradebook
    gradebook.unlink()
    gradebook.write_bytes(content)
    with pytest.raises(CnnCalcError) as caught:
        C.open_course(gradebook.parent)
    assert str(caught.value) == f"{gradebook}: {said} (expected the gradebook.sqlite that cnncalc course init wrote)"


def test_listing_the_flags_changes_none(course):
    listed = C.flags(course)
    assert listed.flags == [] and listed.changed is None
    assert listed.as_dict() == {"flags": [], "changed": None} and listed.text() == "no copy flags\n"


def test_grade_in_a_course_puts_what_was_recorded_in_the_json(course, tmp_path, worksheet):
    _, right, _ = worksheet
    path = answer_file(tmp_path / "answers", "ada.json", "ada", right)
    run = grade_in_course(course.folder, str(WORKSHEET), [str(path)])
    assert run.document()["recorded"] == {
        "assignment": "cnn-layers-worksheet@1", "run": 1,
        "recorded": [{"file": str(path), "student": "ada", "submission": 1, "regraded": False}],
        "refused": [], "warnings": [], "unlisted": [], "flags": 0}


# ---------------------------------------------------------------- grading and its files


def test_two_files_of_one_student_are_refused_after_a_student_with_one(tmp_path, worksheet):
    _, right, _ = worksheet
    folder = tmp_path / "answers"
    answer_file(folder, "a-ada.json", "ada", right)
    first, second = answer_file(folder, "b-bo.json", "bo", right), answer_file(folder, "c-bo.json", "bo", right)
    run = grade(str(WORKSHEET), [str(folder)])
    assert [r.student for r in run.results] == ["ada", "bo", "bo"] and run.exit_code == 1
    assert run.results[0].error is None
    assert {r.error for r in run.results[1:]} == {
        f"2 files for student 'bo' (--latest grades the last): {first}, {second}"}


def test_a_student_id_with_a_control_character_is_shown_once_quoted(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text('student: "ada\\tlove"\nanswers: {}\n')
    with pytest.raises(CnnCalcError) as caught:
        read_answers(path)
    assert str(caught.value) == (f"{path}:1: the student id contains a control character or line break "
                                 "(got 'ada\\tlove', expected an id as the roster has it)")


def test_a_name_before_a_bracket_is_a_product():
    assert expression_text("n(n − 1)") == "n*(n-1)" and expression_text("max(n, 1)") == "max(n,1)"
    assert compare_expression("n*(n - 1)", "n(n − 1)")[:2] == (1.0, "correct")


def test_an_expression_question_with_a_numeric_answer_is_refused(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text("id: e\nparts:\n  - id: p\n    questions:\n"
                    "      - {id: q, compute: {expression: {n: 5, f: 3, p: 0, s: 2}, for: out}}\n")
    with pytest.raises(CnnCalcError) as caught:
        compute_key(load_problem(path))
    assert str(caught.value).endswith("question 'q': an 'expression' question needs a symbolic answer (got [2])")


@pytest.mark.parametrize(("entry", "said"), [
    ({"question": "shapes.conv", "answer": [14], "student": "ann", "score": 0},
     "override 1: an override scores a student or an answer group, not both (expected student or answer)"),
    ({"question": "shapes.conv", "answer": [14, 14, 32], "score": 3},
     "override 1: score out of range (got 3, expected a number from 0 to 1)"),
])
def test_an_answer_group_refusal_names_its_line(tmp_path, entry, said):
    quiz = tmp_path / "quiz.yaml"
    quiz.write_text(yaml.safe_dump({"id": "groups", "networks": {"net": {"input": [32, 32, 3], "layers": [
        {"type": "conv", "name": "conv", "filters": 32, "kernel": 3, "stride": 2, "padding": 1}]}},
        "parts": [{"id": "shapes", "questions": [{"id": "shapes.conv", "compute": {"shape": "net", "layer": "conv"}}]}]}))
    path = tmp_path / "overrides.yaml"
    path.write_text(f"# the class's regrades\noverrides:\n  - {json.dumps(entry)}\n")
    with pytest.raises(CnnCalcError) as caught:
        read_overrides(path, load_problem(quiz))
    assert str(caught.value) == f"{path}:3: {said}"


def test_the_worked_solution_is_a_closed_code_block(worksheet):
    problem, _, key = worksheet
    result = grade_answers(problem, key, "ann", {"a.shape": [4, 4]}, "ann.yaml")
    text = feedback_markdown(problem, result)
    shape = text.split("## a.shape — correct (0.125 / 0.125)\n", 1)[1].split("## ", 1)[0]
    assert shape.endswith("\n\nWorked solution:\n\n```\n" + "\n".join(key["a.shape"].solution) + "\n```\n\n")


def test_a_canvas_package_never_replaces_the_problem_file(tmp_path):
    problem = tmp_path / "padding-stride.yaml"
    problem.write_bytes(PADDING.read_bytes())
    with pytest.raises(CnnCalcError) as caught:
        export_quiz(str(problem), str(problem), "canvas", seed=1, count=1)
    assert str(caught.value) == (f"{problem}: refused: this is one of the command's inputs ({problem}); choose "
                                 "another output file")
    assert problem.read_bytes() == PADDING.read_bytes()


# ---------------------------------------------------------------- practice


def test_a_same_padding_hint_leads_to_the_key():
    """Each hint's total, worked out from its own numbers, is the key's before + after (d = 1 when the
    question gives no dilation)."""
    questions = generate(count=6, level=3, topic=["same"], seed=1)
    assert any("d" not in q.made["compute"]["pads"] for q in questions)
    for q in questions:
        one = re.fullmatch(r"total = (\d+)·\((\d+) − 1\); before = ⌊total/2⌋, after = total − before", q.hint)
        strided = re.fullmatch(r"out = ⌈(\d+)/(\d+)⌉; total = max\(\(out − 1\)·(\d+) \+ (\d+)·\((\d+) − 1\) \+ 1 − "
                               r"(\d+), 0\); before = ⌊total/2⌋, after = total − before", q.hint)
        if one:
            d, f = map(int, one.groups())
            total = d * (f - 1)
        else:
            n, s, s2, d, f, n2 = map(int, strided.groups())
            total = max((-(-n // s) - 1) * s2 + d * (f - 1) + 1 - n2, 0)
        assert d == q.made["compute"]["pads"].get("d", 1) and total == sum(q.key), q.hint


def test_a_practice_sheet_shows_a_matrix_answer_as_a_student_types_it():
    questions = generate(count=2, level=1, topic=["cells"], seed=3)
    assert [q.kind for q in questions] == ["matrix", "matrix"]
    md = render(questions, "markdown", 1, 3)
    shown = re.findall(r"^\*\*\d+\.\*\* `([^`]*)`  $", md.split("## Answers", 1)[1], re.MULTILINE)
    assert shown[0] == "1 -4 -7 7; -3 3 -1 -2; 3 5 0 -6; 5 3 -2 -2"
    assert [matrix(text).tolist() for text in shown] == [q.key for q in questions]
