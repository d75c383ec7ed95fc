"""Exercise files, computed keys and grading: the worksheet's key worked by hand, realistic student
files, malformed files, and every problem in problems/ graded to full marks from its own key."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from cnncalc import CnnCalcError
from cnncalc.exercises import compute_key, grade_batch, load_problem
from cnncalc.exercises.grading import grade_answers
from cnncalc.exercises.key import key_answers

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
CONTRACT_IDS = ["a.shape", "a.col4_row4", "a.col3_row2", "a.col2_row4", "b.relu", "b.pool", "c.total_params",
                "d.padding", "d.params"]


@pytest.fixture(scope="module")
def worksheet():
    problem = load_problem(WORKSHEET)
    return problem, compute_key(problem)


def test_worksheet_question_ids_and_points(worksheet):
    problem, _ = worksheet
    ids = [q.id for q in problem.questions]
    assert [i for i in ids if i != "b.plot"] == CONTRACT_IDS
    assert problem.question("b.plot").kind == "manual"
    assert [p.points for p in problem.parts] == [0.5, 0.5, 0.5, 0.5]
    assert problem.max_points == 2.0


def test_worksheet_key_worked_by_hand(worksheet):
    _, key = worksheet
    # a: 6 − 3 + 1 = 4 → [4, 4]
    assert key["a.shape"].value == [4, 4]
    # 4th column, 4th row: channel sums 12, −8, −2 (windows worked in test_executor) + 7 = 9
    assert key["a.col4_row4"].value == 9
    # 3rd column, 2nd row: 5 − 4 − 11 + 7 = −3;  2nd column, 4th row: 15 + 15 − 15 + 7 = 22
    assert key["a.col3_row2"].value == -3 and key["a.col2_row4"].value == 22
    # b uses the map the sheet *gives*: ReLU zeroes −1, −3, −2; the 2×2/1 max pool of that
    np.testing.assert_array_equal(key["b.relu"].value, [[35, 20, 20, 3], [1, 0, 21, 0], [21, 7, 15, 22],
                                                        [0, 22, 22, 29]])
    # pool: max(35,20,1,0) = 35, max(20,20,0,21) = 21, max(20,3,21,0) = 21; row 2: 21, 21, 22; row 3: 22, 22, 29
    np.testing.assert_array_equal(key["b.pool"].value, [[35, 21, 21], [21, 21, 22], [22, 22, 29]])
    # c: conv 3·3·3·1 + 1 = 28, pool 0, FC on 3·3 = 9 values: 9·32 + 32 = 320 → 348
    assert key["c.total_params"].value == 348
    # d: 'same' with f = 7: p = (7 − 1)/2 = 3; params 7·7·3·8 + 8 = 1,184
    assert key["d.padding"].value == 3 and key["d.params"].value == 1184


def test_feedback_shows_the_teachers_working(worksheet):
    _, key = worksheet
    cell = key["a.col4_row4"].solution
    assert cell[-1] == "12 + (−8) + (−2) + 7 = 9"
    assert cell[-2].startswith("(2·0 + 2·0 + 0·1 + 0·3 + 3·4") and cell[-2].endswith(" + 7 = 9")
    assert cell[-2].count(") + (") == 2
    assert key["a.shape"].solution[0] == "H: ⌊(6 + 2·0 − 3)/1⌋ + 1 = 4"
    assert "conv: 3·3·3·1 + 1 = 28" in key["c.total_params"].solution
    assert "fc: 9·32 + 32 = 320" in key["c.total_params"].solution
    assert key["d.padding"].solution[-1] == "n + 2p − f + 1 = n ⇒ p = (f − 1)/2 = 3"


def answers_file(tmp_path, name, student, answers, **extra):
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps({"student": student, "answers": answers, **extra}))
    return path


ALL_RIGHT = {"a.shape": [4, 4], "a.col4_row4": 9, "a.col3_row2": -3, "a.col2_row4": 22,
             "b.relu": [[35, 20, 20, 3], [1, 0, 21, 0], [21, 7, 15, 22], [0, 22, 22, 29]],
             "b.pool": [[35, 21, 21], [21, 21, 22], [22, 22, 29]], "c.total_params": 348, "d.padding": 3,
             "d.params": 1184}


def grade(tmp_path, worksheet, answers, student="s1"):
    problem, key = worksheet
    results, _ = grade_batch(problem, [answers_file(tmp_path, student, student, answers)], key)
    return {q.id: q for q in results[0].questions}, results[0]


def test_all_right(tmp_path, worksheet):
    questions, result = grade(tmp_path, worksheet, ALL_RIGHT)
    assert result.score == result.max == 2.0
    assert all(q.status == "correct" for q in questions.values() if q.id != "b.plot")
    assert questions["b.plot"].status == "manual"


@pytest.mark.parametrize("qid, answer, status, score, phrase", [
    # row and column swapped: row 3, column 2 of the map is 7 (asked: row 2, column 3 = −3)
    ("a.col3_row2", 7, "incorrect", 0, "rows and columns swapped"),
    # the bias forgotten: 12 − 8 − 2 = 2
    ("a.col4_row4", 2, "incorrect", 0, "bias (7) was left out"),
    # FC counted without its 32 biases: 28 + 9·32 = 316
    ("c.total_params", 316, "incorrect", 0, "the 32 biases of fc are not counted"),
    # only the FC layer counted: 320
    ("c.total_params", 320, "incorrect", 0, "only fc is counted"),
    # no biases anywhere: 27 + 288 = 315
    ("c.total_params", 315, "incorrect", 0, "the biases are not counted"),
    # 'same' padding as f/2 = 3.5
    ("d.padding", 3.5, "incorrect", 0, "(f − 1)/2"),
    # params without the 8 biases: 7·7·3·8 = 1,176
    ("d.params", 1176, "incorrect", 0, "biases are not counted"),
    # one ReLU cell left negative: 15 of 16 cells → 15/16 of 0.25
    ("b.relu", [[35, 20, 20, 3], [1, -1, 21, 0], [21, 7, 15, 22], [0, 22, 22, 29]], "partial", 0.25 * 15 / 16,
     "row 2, column 2: expected 0, got −1 = max(0, −1)"),
    # pooled map from part a's own feature map instead of the given one: wrong cells listed with windows
    ("b.pool", [[35, 20, 24], [22, 22, 22], [22, 22, 22]], "partial", 0.25 * 4 / 9, "= max(20, 20, 0, 21)"),
    # a 2×2 answer for a 3×3 map: shape wrong, no credit
    ("b.pool", [[35, 21], [21, 21]], "incorrect", 0, "should be 3×3"),
    ("a.shape", [4, 4, 1], "correct", 0.125, "the full shape"),      # one channel: [4, 4, 1] is [4, 4]
    ("a.shape", [4, 4, 3], "incorrect", 0, "expected [4, 4]"),
    ("a.shape", [3, 3], "incorrect", 0, "expected [4, 4], got [3, 3]"),
    ("a.shape", "4x4", "correct", 0.125, "correct"),             # a shape written as text
    ("a.shape", "4x4.5", "invalid", 0, "expected whole numbers"),
    ("c.total_params", True, "invalid", 0, "expected a number"),
    ("c.total_params", float("nan"), "invalid", 0, "finite"),
    ("a.col4_row4", "nine", "invalid", 0, "expected a number"),
    ("a.col4_row4", "9", "correct", 0.125, "correct"),
])
def test_typical_mistakes(tmp_path, worksheet, qid, answer, status, score, phrase):
    questions, _ = grade(tmp_path, worksheet, {**ALL_RIGHT, qid: answer})
    q = questions[qid]
    assert q.status == status
    assert q.score == pytest.approx(score)
    assert phrase in q.feedback


def test_missing_and_unknown_ids(tmp_path, worksheet):
    answers = {k: v for k, v in ALL_RIGHT.items() if k != "d.params"}
    answers["d.parms"] = 1184
    questions, result = grade(tmp_path, worksheet, answers)
    assert questions["d.params"].status == "missing" and questions["d.params"].score == 0
    assert questions["d.parms"].status == "invalid" and "did you mean 'd.params'" in questions["d.parms"].feedback
    assert result.score == pytest.approx(1.75)
    assert any("unknown question id" in w for w in result.warnings)


@pytest.mark.parametrize("content, phrase", [
    (b"student: s\nanswers: [1, 2\n", "YAML syntax error"),
    (b"\x00\xff\xfe", "not a UTF-8"),
    (b"just text", "mapping"),
    (b"answers: {a.shape: [4, 4]}\n", "student"),
    (b"student: s\nanswers: [1, 2]\n", "'answers' must map"),
    (b"student: s\nanswers: {a.shape: !!python/object/apply:os.system [ls]}\n", "tag not allowed"),
    (b"student: s\nanswers: {a.shape: " + b"[" * 20 + b"1" + b"]" * 20 + b"}\n", "nested deeper"),
    (b"student: s\nanswers: {x: '" + b"a" * 300_000 + b"'}\n", "too large"),
])
def test_malformed_files_are_invalid_and_the_batch_goes_on(tmp_path, worksheet, content, phrase):
    problem, key = worksheet
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    good = answers_file(tmp_path, "good", "good", ALL_RIGHT)
    results, _ = grade_batch(problem, [bad, good], key)
    assert results[0].error and phrase in results[0].error
    assert all(q.status == "invalid" for q in results[0].questions) and results[0].score == 0
    assert results[1].score == 2.0


def test_expression_questions_use_sympy_equivalence():
    problem = load_problem(ROOT / "problems" / "padding-stride.yaml")
    key = compute_key(problem)
    for answer, status in [("(f-1)/2", "correct"), ("f/2 - 1/2", "correct"), ("0.5*f - 0.5", "correct"),
                           ("(f − 1)/2", "correct"), ("f/2", "incorrect"), ("(f+1)/2", "incorrect"),
                           ("__import__('os').system('ls')", "invalid"), ([1], "invalid")]:
        result = grade_answers(problem, key, "s", {"same.formula": answer})
        assert {q.id: q for q in result.questions}["same.formula"].status == status, answer


def test_tolerances():
    problem = load_problem(ROOT / "problems" / "pooling-flatten.yaml")
    key = compute_key(problem)
    grade_of = lambda v: {q.id: q for q in grade_answers(problem, key, "s", {"avg.first": v}).questions}
    assert grade_of(45.25)["avg.first"].status == "correct"
    assert grade_of(45.26)["avg.first"].status == "correct"   # rtol 1e-3 set on this question
    assert grade_of(45.4)["avg.first"].status == "incorrect"


@pytest.mark.parametrize("path", sorted((ROOT / "problems").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_problem_key_grades_to_full_marks(path):
    problem = load_problem(path)
    key = compute_key(problem)
    result = grade_answers(problem, key, "key", key_answers(problem, key))
    auto = [q for q in result.questions if q.status != "manual"]
    assert auto and all(q.status == "correct" for q in auto)
    assert result.score == pytest.approx(result.max)


def test_cli_json_gradebook_feedback_and_overrides(tmp_path, cli):
    folder = tmp_path / "answers"
    folder.mkdir()
    answers_file(folder, "alice", "alice", ALL_RIGHT)
    answers_file(folder, "bob", "=HYPERLINK(\"x\")", {**ALL_RIGHT, "a.col4_row4": 2})
    answers_file(folder, "eve", "../../etc/passwd", {})
    answers_file(folder, "alice2", "alice", ALL_RIGHT)
    (folder / "notes.txt").write_text("listed as invalid: not an answer file")
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("overrides:\n  - {student: alice, question: b.plot, score: 0.1, max: 0.1, comment: nice plot}\n")
    book = tmp_path / "out" / "grades.csv"
    arguments = ["grade", str(WORKSHEET), str(folder), "--gradebook", str(book), "--feedback-dir",
                 str(tmp_path / "fb"), "--overrides", str(overrides), "--format", "json"]
    code, out, err = cli(*arguments)
    # two files of alice: both listed as invalid (never two gradebook rows), so her override has no one to go to
    assert code == 2 and "student 'alice' is not in this batch" in err and not book.exists()
    code, out, err = cli(*arguments, "--latest")
    assert code == 1, err  # notes.txt is listed as invalid, never skipped silently
    data = json.loads(out)
    students = [r["student"] for r in data["results"] if r.get("error") is None]
    assert students == ["alice", "=HYPERLINK(\"x\")", "../../etc/passwd"]
    assert data["results"][0]["file"].endswith(("alice.yaml", "alice2.yaml"))
    assert [r["error"] for r in data["results"] if r.get("error")] == [
        "not an answer file (answer files end in .yaml, .yml, .json)"]
    first = data["results"][0]
    assert first["score"] == pytest.approx(2.1) and first["max"] == pytest.approx(2.1)
    question = first["questions"][0]
    assert set(question) >= {"id", "score", "max", "status", "expected", "got", "feedback"}
    assert any(w.startswith("alice: graded ") and "(submitted last, --latest), not " in w for w in data["warnings"])
    rows = list(csv.reader(io.StringIO(book.read_text())))
    assert rows[0][:2] == ["student", "a.shape"] and rows[0][-4:] == ["total", "max", "file", "notes"]
    assert [row[0] for row in rows[1:]] == ["alice", "'=HYPERLINK(\"x\")", "../../etc/passwd"]  # a formula defused
    files = sorted(p.name for p in (tmp_path / "fb").iterdir())
    assert files == ["HYPERLINK_x.md", "alice.md", "etc_passwd.md"]
    assert not (tmp_path / "etc").exists()
    bob = (tmp_path / "fb" / "HYPERLINK_x.md").read_text()
    assert "bias (7) was left out" in bob and "12 + (−8) + (−2) + 7 = 9" in bob
    code, out, _ = cli("grade", str(WORKSHEET), str(folder / "alice.yaml"))
    assert code == 0 and "alice: 2 / 2" in out


def test_gradebook_is_written_whole_or_not_at_all(tmp_path, cli):
    answers = answers_file(tmp_path, "a", "a", ALL_RIGHT)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = cli("grade", str(WORKSHEET), str(answers), "--gradebook", str(blocker / "grades.csv"))
    assert code == 2 and "--gradebook cannot be written: this is a file, not a folder" in err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_problem_and_overrides(tmp_path, cli):
    bad = tmp_path / "p.yaml"
    bad.write_text("id: x\nparts:\n  - id: a\n    questions:\n      - {id: q, compute: {sovle: {f: 3}}}\n")
    code, _, err = cli("grade", str(bad), str(tmp_path))
    assert code == 2 and "did you mean 'solve'" in err
    with pytest.raises(CnnCalcError, match="needs 'compute'"):
        from cnncalc.exercises.problem import build_problem
        build_problem({"id": "x", "parts": [{"id": "a", "questions": [{"id": "q"}]}]}, "x.yaml")
    answers = answers_file(tmp_path, "a", "a", ALL_RIGHT)
    over = tmp_path / "o.yaml"
    over.write_text("overrides: [{student: a, question: b.plott, score: 1}]\n")
    code, _, err = cli("grade", str(WORKSHEET), str(answers), "--overrides", str(over))
    assert code == 2 and "did you mean 'b.plot'" in err
    code, _, err = cli("grade", str(WORKSHEET), str(tmp_path / "nothing-*.yaml"))
    assert code == 2 and "no answer files match" in err
