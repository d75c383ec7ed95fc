"""Grading rules, each pinned at its boundary: tolerances, points shared in a part, overrides, the scores
users see in JSON. Every test names the rule it guards, so a failure says what broke."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from cnncalc import CnnCalcError
from cnncalc.exercises import compute_key, load_problem
from cnncalc.exercises.grading import grade_answers, read_answers
from cnncalc.exercises.overrides import apply_overrides, read_overrides
from cnncalc.exercises.problem import build_problem

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"


def value_problem(value: float, **tolerance: float) -> dict:
    """A problem whose one `cell` question has the key `value` (a 1×1 conv of the number with weight 1)."""
    question = {"id": "q", "compute": {"cell": "net", "input": "x", "layer": "c", "at": [0, 0, 0]}, **tolerance}
    return {"id": "tolerance", "data": {"x": {"matrix": [[value]]}},
            "networks": {"net": {"input": [1, 1, 1], "layers": [
                {"type": "conv", "name": "c", "filters": 1, "kernel": 1, "weight": [[[[1.0]]]], "bias": [0.0]}]}},
            "parts": [{"id": "p", "points": 1, "questions": [question]}]}


def grade_value(value: float, answer: float, **tolerance: float):
    problem = build_problem(value_problem(value, **tolerance), "tolerance.yaml")
    key = compute_key(problem)
    assert key["q"].value == value, "the test problem's key is the given number"
    return grade_answers(problem, key, "s", {"q": answer}).questions[0]


# ---------------------------------------------------------------- tolerances


@pytest.mark.parametrize(("answer", "status"), [
    (3.75, "correct"),             # |3.75 − 2.5| = 1.25 = rtol·|expected|: on the boundary is inside
    (3.7500001, "incorrect"),      # just outside
    (1.25, "correct"),             # the boundary below the key
    (1.2499999, "incorrect"),
    (4.0, "incorrect"),            # inside rtol·|answer| = 2.0 but outside rtol·|expected| = 1.25
])
def test_rtol_is_relative_to_the_expected_value_and_inclusive(answer, status):
    result = grade_value(2.5, answer, rtol=0.5)
    assert result.status == status, (
        f"rtol 0.5 around the key 2.5 accepts [1.25, 3.75] (boundary included, scaled by the EXPECTED value); "
        f"answer {answer} was graded {result.status}")


@pytest.mark.parametrize(("answer", "status"), [
    (10.5, "correct"), (9.5, "correct"),              # |Δ| = atol (+ the default rtol·10 = 1e-5): inside
    (10.50002, "incorrect"), (9.49998, "incorrect"),
])
def test_atol_applies_when_the_key_is_a_whole_number(answer, status):
    result = grade_value(10.0, answer, atol=0.5)
    assert result.status == status, (
        f"a question with atol 0.5 and the whole-number key 10 accepts [9.49999, 10.50001] (atol + default rtol); "
        f"answer {answer} was graded {result.status} (is atol ignored for whole keys?)")


@pytest.mark.parametrize(("answer", "status"), [(10.5, "correct"), (10.5000001, "incorrect")])
def test_atol_alone_is_inclusive(answer, status):
    result = grade_value(10.0, answer, atol=0.5, rtol=0)
    assert result.status == status, f"atol 0.5, rtol 0 around 10: {answer} should be {status}, got {result.status}"


def test_atol_and_rtol_add_up():
    # tolerance = atol + rtol·|expected| = 0.25 + 0.5·2.5 = 1.5
    assert grade_value(2.5, 4.0, atol=0.25, rtol=0.5).status == "correct", "atol + rtol·|expected| = 1.5 accepts 4.0"
    assert grade_value(2.5, 4.0000001, atol=0.25, rtol=0.5).status == "incorrect", "just outside atol + rtol·|e|"


def test_whole_number_keys_are_exact_without_a_tolerance():
    assert grade_value(10.0, 10.0).status == "correct"
    assert grade_value(10.0, 10.000001).status == "incorrect", "a whole-number key with no tolerance is exact"


def test_default_relative_tolerance_is_one_in_a_million():
    assert grade_value(2.5, 2.5 * (1 + 0.9e-6)).status == "correct", "default rtol 1e-6 accepts 0.9e-6 relative"
    assert grade_value(2.5, 2.5 * (1 + 1.1e-6)).status == "incorrect", "default rtol 1e-6 refuses 1.1e-6 relative"
    assert grade_value(-2.5, -2.5 * (1 + 0.9e-6)).status == "correct", "negative keys: |expected| scales rtol"
    assert grade_value(-2.5, -2.5 * (1 - 1.1e-6)).status == "incorrect"


def test_matrix_cells_use_the_same_tolerance():
    data = {"x": {"matrix": [[1.5, -2.0], [0.0, 4.0]]}}
    raw = {"id": "m", "data": data, "networks": {"net": {"input": [2, 2, 1], "layers": [{"type": "relu", "name": "r"}]}},
           "parts": [{"id": "p", "points": 1, "questions": [
               {"id": "q", "compute": {"map": "net", "input": "x", "layer": "r"}, "atol": 0.25}]}]}
    problem = build_problem(raw, "m.yaml")
    key = compute_key(problem)
    np.testing.assert_array_equal(key["q"].value, [[1.5, 0.0], [0.0, 4.0]])
    right = grade_answers(problem, key, "s", {"q": [[1.75, 0.25], [-0.25, 3.75]]}).questions[0]
    assert (right.status, right.score) == ("correct", 1.0), "every cell within atol 0.25 (boundaries included)"
    three = grade_answers(problem, key, "s", {"q": [[1.75, 0.2500001], [0.0, 4.0]]}).questions[0]
    assert (three.status, three.score) == ("partial", 0.75), "3 of 4 cells inside the tolerance → 3/4 of the points"
    assert "3 of 4 cells correct" in three.feedback and "row 1, column 2" in three.feedback


# ---------------------------------------------------------------- points


def test_a_parts_points_are_shared_after_the_explicit_ones():
    raw = {"id": "share", "networks": {"n": {"input": [4, 4, 1], "layers": [{"type": "relu", "name": "r"}]}},
           "parts": [{"id": "p", "points": 1.0, "questions": [
               {"id": "a", "points": 0.4, "compute": {"shape": "n"}},
               {"id": "b", "compute": {"shape": "n"}},
               {"id": "c", "compute": {"shape": "n"}}]}]}
    problem = build_problem(raw, "share.yaml")
    points = {q.id: q.points for q in problem.questions}
    assert points == pytest.approx({"a": 0.4, "b": 0.3, "c": 0.3}), (
        f"a part of 1 point with one question of 0.4 shares the other 0.6 between the two others; got {points}")
    assert problem.max_points == pytest.approx(1.0), "the part's questions add up to the part's points"


def test_worksheet_points_per_question():
    problem = load_problem(WORKSHEET)
    points = {q.id: q.points for q in problem.questions}
    assert points["a.shape"] == points["a.col4_row4"] == 0.125, "part a: 0.5 shared by 4 questions"
    assert points["b.plot"] == 0 and points["b.relu"] == points["b.pool"] == 0.25, (
        "part b: the manual plot has 0 points, the other two share 0.5")
    assert points["c.total_params"] == 0.5 and points["d.padding"] == points["d.params"] == 0.25


# ---------------------------------------------------------------- overrides


@pytest.fixture(scope="module")
def worksheet():
    problem = load_problem(WORKSHEET)
    return problem, compute_key(problem)


def overrides_file(tmp_path: Path, items: list[dict]) -> Path:
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps({"overrides": items}))
    return path


def override(worksheet, tmp_path, question: str, score: float, **extra):
    problem, key = worksheet
    result = grade_answers(problem, key, "ann", {})
    items = read_overrides(overrides_file(tmp_path, [{"student": "ann", "question": question, "score": score,
                                                      **extra}]), problem)
    apply_overrides([result], items)
    return next(q for q in result.questions if q.id == question)


def test_override_at_exactly_the_maximum_is_correct(worksheet, tmp_path):
    q = override(worksheet, tmp_path, "d.params", 0.25)
    assert (q.score, q.max, q.status) == (0.25, 0.25, "correct"), (
        f"an override equal to the question's maximum is 'correct', got {q.status}")
    assert q.feedback.startswith("instructor: ")


def test_override_below_the_maximum_is_partial_and_zero_is_incorrect(worksheet, tmp_path):
    assert override(worksheet, tmp_path, "d.params", 0.1).status == "partial", "0 < score < max → partial"
    assert override(worksheet, tmp_path, "d.params", 0).status == "incorrect", "an override of 0 → incorrect"


def test_override_with_its_own_maximum(worksheet, tmp_path):
    q = override(worksheet, tmp_path, "b.plot", 1, max=1, comment="nice plot")
    assert (q.score, q.max, q.status, q.feedback) == (1.0, 1.0, "correct", "instructor: nice plot")


@pytest.mark.parametrize(("score", "message"), [
    (0.2502, "score out of range (got 0.2502, expected a number from 0 to 0.25)"),  # past the 1e-4 of a rounded figure
    (0.3, "score out of range (got 0.3, expected a number from 0 to 0.25)"),
    (1, "score out of range (got 1, expected a number from 0 to 0.25)"),
    (-0.01, "score is negative (got -0.01, expected 0 or more)"),
    (True, "score must be a number (got True, expected a finite number)"),
    ("0.1x", ("score must be a number or a fraction such as 2/3 (got '0.1x', expected a number from 0 to the "
              "question's points, or N/D)")),
    ("1/0", ("score must be a number or a fraction such as 2/3 (got '1/0', expected a number from 0 to the "
             "question's points, or N/D)")),
    ("2/7", "score out of range (got '2/7', expected a number from 0 to 0.25)"),
])
def test_override_outside_zero_to_the_maximum_is_refused(worksheet, tmp_path, score, message):
    problem, _ = worksheet
    path = overrides_file(tmp_path, [{"student": "ann", "question": "d.params", "score": score}])
    with pytest.raises(CnnCalcError) as caught:
        read_overrides(path, problem)
    assert str(caught.value) == f"{path}:1: override 1: {message}", (
        f"override score {score!r} for a 0.25-point question must be refused")


@pytest.mark.parametrize("typed, score", [(0.25000001, 0.25), (0.2501, 0.25), (0.0833, 0.25 / 3), ("1/12", 1 / 12),
                                          ("0.1", 0.1), (0.1, 0.1), (0.0835, 0.0835)])
def test_an_override_as_the_report_prints_it_is_the_score_it_stands_for(worksheet, tmp_path, typed, score):
    """Within 1e-4 of the points or of a simple fraction of them (k/q, q ≤ 12) is that value; text may be
    a number or a fraction."""
    problem, _ = worksheet
    path = overrides_file(tmp_path, [{"student": "ann", "question": "d.params", "score": typed}])
    assert read_overrides(path, problem).items[0]["score"] == score


def test_override_at_the_boundaries_is_accepted(worksheet, tmp_path):
    problem, _ = worksheet
    for score in (0, 0.25):
        items = read_overrides(overrides_file(tmp_path, [{"student": "ann", "question": "d.params", "score": score}]),
                               problem)
        assert items.items[0]["score"] == score, f"override {score} (inside [0, 0.25]) must be accepted"


def test_override_of_an_unknown_question_is_refused(worksheet, tmp_path):
    problem, _ = worksheet
    with pytest.raises(CnnCalcError, match="unknown question"):
        read_overrides(overrides_file(tmp_path, [{"student": "ann", "question": "d.param", "score": 0}]), problem)


def test_override_only_touches_its_student_and_question(worksheet, tmp_path):
    problem, key = worksheet
    ann, bob = grade_answers(problem, key, "ann", {}), grade_answers(problem, key, "bob", {})
    items = read_overrides(overrides_file(tmp_path, [{"student": "ann", "question": "d.params", "score": 0.2}]),
                           problem)
    apply_overrides([ann, bob], items)
    assert [q.score for q in ann.questions if q.id != "d.params"] == [0.0] * (len(ann.questions) - 1)
    assert all(q.score == 0 for q in bob.questions), "another student's scores are unchanged"
    assert ann.score == pytest.approx(0.2)


def test_overrides_through_the_cli(cli, tmp_path):
    answers = tmp_path / "ann.yaml"
    answers.write_text("student: ann\nanswers: {}\n")
    path = overrides_file(tmp_path, [{"student": "ann", "question": "b.plot", "score": 0}])
    code, out, _ = cli("grade", str(WORKSHEET), str(answers), "--overrides", str(path), "--format", "json")
    assert code == 0
    plot = next(q for q in json.loads(out)["results"][0]["questions"] if q["id"] == "b.plot")
    assert plot["status"] == "incorrect" and plot["feedback"].startswith("instructor:")
    bad = overrides_file(tmp_path, [{"student": "ann", "question": "b.plot", "score": 0.5}])
    code, _, err = cli("grade", str(WORKSHEET), str(answers), "--overrides", str(bad))
    assert code == 2 and "override 1: score out of range (got 0.5, expected a number from 0 to 0)" in err, (
        "an override above the question's maximum (0) is refused, exit 2")


# ---------------------------------------------------------------- scores users see


def test_json_scores_keep_every_digit_that_matters(cli, tmp_path, worksheet):
    _problem, key = worksheet
    relu = key["b.relu"].value.tolist()
    relu[0][0] += 1  # one wrong cell of 16: 15/16 of 0.25 = 0.234375
    answers = tmp_path / "bob.yaml"
    answers.write_text(json.dumps({"student": "bob", "answers": {"a.shape": [4, 4], "b.relu": relu}}))
    code, out, _ = cli("grade", str(WORKSHEET), str(answers), "--format", "json")
    assert code == 0
    result = json.loads(out)["results"][0]
    scores = {q["id"]: q["score"] for q in result["questions"]}
    assert scores["a.shape"] == 0.125, f"0.125 points must not be rounded in JSON (got {scores['a.shape']})"
    assert scores["b.relu"] == pytest.approx(0.234375, abs=1e-9), (
        f"15/16 of 0.25 = 0.234375 must reach JSON unrounded (got {scores['b.relu']})")
    assert result["score"] == pytest.approx(0.359375, abs=1e-9) and result["max"] == 2
    statuses = {q["id"]: q["status"] for q in result["questions"]}
    assert statuses["b.relu"] == "partial" and statuses["a.shape"] == "correct" and statuses["d.params"] == "missing"


def test_bad_answer_values_are_invalid_not_wrong(worksheet):
    problem, key = worksheet
    result = grade_answers(problem, key, "s", {"a.col4_row4": True, "a.col3_row2": "−3", "a.col2_row4": float("nan"),
                                               "a.shape": [4.5, 4]})
    status = {q.id: q.status for q in result.questions}
    assert status["a.col4_row4"] == "invalid", "a boolean is not a number"
    assert status["a.col3_row2"] == "correct", "a number written as text with a Unicode minus is read"
    assert status["a.col2_row4"] == "invalid", "NaN is not a finite number"
    assert status["a.shape"] == "invalid", "a shape holds integers (4.5 is not one)"
    integral = grade_answers(problem, key, "s", {"a.shape": [4.0, 4]})
    assert {q.id: q.status for q in integral.questions}["a.shape"] == "correct", "4.0 is the integer 4"


def test_answer_file_limits(tmp_path):
    from cnncalc.exercises.grading import MAX_ANSWER_BYTES, MAX_ANSWER_DEPTH

    assert MAX_ANSWER_BYTES == 256 * 1024 and MAX_ANSWER_DEPTH == 8, "README: over 256 KB, nested deeper than 8"
    path = tmp_path / "a.json"
    body = '{"student": "s", "answers": {"x": "%s"}}'
    filler = MAX_ANSWER_BYTES - len(body % "")
    path.write_text(body % ("y" * filler))
    assert read_answers(path)[0] == "s", "an answer file of exactly 256 KiB is read"
    path.write_text(body % ("y" * (filler + 1)))
    with pytest.raises(CnnCalcError, match="too large"):
        read_answers(path)

    def nested(depth: int):
        value: object = 1
        for _ in range(depth):
            value = [value]
        return value

    # depth counts from the document: {answers: {q: [...]}} puts the list at depth 2
    path.write_text(json.dumps({"student": "s", "answers": {"q": nested(MAX_ANSWER_DEPTH - 2)}}))
    assert read_answers(path)[0] == "s", "nesting of exactly 8 levels is read"
    path.write_text(json.dumps({"student": "s", "answers": {"q": nested(MAX_ANSWER_DEPTH - 1)}}))
    with pytest.raises(CnnCalcError, match="deeper than 8"):
        read_answers(path)


# ---------------------------------------------------------------- keys and feedback: worked solutions add up


def _arithmetic(text: str) -> float | None:
    """The value of a worked line's left side (digits, + − · / ⌊⌋ and parentheses), or None if it is prose."""
    import ast
    import math
    import re

    text = text.replace("·", "*").replace("−", "-").replace("⌊", "floor(").replace("⌋", ")")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            a, b = value(node.left), value(node.right)
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}.get(type(node.op), a / b if b else math.nan)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "floor":
            return float(math.floor(value(node.args[0])))
        raise ValueError(ast.dump(node))

    try:
        return value(tree)
    except ValueError:
        return None


def check_worked_lines(lines: list[str], where: str) -> int:
    """Every line `label: arithmetic = result` must add up; returns how many lines were checked."""
    import re

    checked = 0
    for line in lines:
        if " = " not in line or "⇒" in line:
            continue
        # `label: a = b = c` or `out = a = c`: every two neighbouring parts that are arithmetic must agree
        parts = [re.sub(r"^\s*[A-Za-z][\w.]*:\s", "", part) for part in line.split(" = ")]
        values = [_arithmetic(part) for part in parts]
        pairs = [(a, b) for a, b in itertools.pairwise(values) if a is not None and b is not None]
        if not pairs:
            continue
        for total, result in pairs:
            assert total == pytest.approx(result, abs=1e-9), f"{where}: the worked line does not add up: {line!r}"
        checked += 1
    return checked


@pytest.mark.parametrize("path", sorted((ROOT / "problems").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_worked_solution_line_adds_up(path):
    problem = load_problem(path)
    key = compute_key(problem)
    checked = sum(check_worked_lines(key[q.id].solution, f"{path.name} {q.id}") for q in problem.questions)
    least = 12 if path.stem == "cnn-layers-worksheet" else 1
    assert checked >= least, f"{path.name}: only {checked} worked lines were checked (the checker reads none?)"


STRIDED = {
    "id": "strided", "data": {
        "x": {"array": (np.arange(7 * 9 * 2).reshape(7, 9, 2) % 11 - 4).tolist()},
        "w": {"array": (np.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2) % 5 - 2).tolist()}},
    "networks": {"net": {"input": [7, 9, 2], "layers": [
        {"type": "conv", "name": "c", "filters": 2, "kernel": [2, 3], "stride": [2, 3], "padding": [[1, 0], [0, 2]],
         "weight": "$w", "bias": [3, 5]}]}},
    "parts": [{"id": "p", "points": 1, "questions": [
        {"id": "f0", "compute": {"cell": "net", "input": "x", "layer": "c", "at": [2, 1, 0]}},
        {"id": "f1", "compute": {"cell": "net", "input": "x", "layer": "c", "at": [1, 2, 1]}},
        {"id": "f1b", "compute": {"cell": "net", "input": "x", "layer": "c", "at": [3, 0, 1]}}]}]}


def literal_cell(at: tuple[int, int, int]) -> float:
    x = np.arange(7 * 9 * 2).reshape(7, 9, 2) % 11 - 4.0
    w = np.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2) % 5 - 2.0
    xp = np.zeros((8, 11, 2))
    xp[1:, :9] = x  # padding: 1 row on top, 2 columns on the right
    r, c, f = at
    return float((xp[2 * r:2 * r + 2, 3 * c:3 * c + 3] * w[..., f]).sum() + [3, 5][f])


def test_worked_cells_with_non_square_strides_add_up_and_show_the_right_window():
    problem = build_problem(STRIDED, "strided.yaml")
    key = compute_key(problem)
    for qid, at in (("f0", (2, 1, 0)), ("f1", (1, 2, 1)), ("f1b", (3, 0, 1))):
        value = key[qid].value
        assert value == literal_cell(at), f"{qid}: key {value}, literal loop {literal_cell(at)}"
        lines = key[qid].solution
        assert check_worked_lines(lines, qid) >= 2, f"{qid}: its worked lines were not checked: {lines}"
        r0, c0 = at[0] * 2 - 1, at[1] * 3  # window start in the unpadded input (1-based below)
        assert lines[0].startswith(f"channel 1: window rows {r0 + 1}–{r0 + 2}, columns {c0 + 1}–{c0 + 3}"), (
            f"{qid} at {at}, stride [2, 3]: the window starts at row {r0 + 1}, column {c0 + 1}; got {lines[0]!r}")
        assert lines[-1].endswith(f"+ {[3, 5][at[2]]} = {value:g}".replace("-", "−")), (
            f"{qid}: the sum ends with filter {at[2]}'s bias: {lines[-1]!r}")


def test_bias_left_out_hint_names_the_asked_filters_bias():
    problem = build_problem(STRIDED, "strided.yaml")
    key = compute_key(problem)
    value = key["f1"].value
    result = grade_answers(problem, key, "s", {"f1": value - 5, "f0": key["f0"].value - 3})
    feedback = {q.id: q.feedback for q in result.questions}
    assert "the bias (5) was left out" in feedback["f1"], (
        f"filter 1's bias is 5: the answer {value - 5} is the cell without it; feedback was {feedback['f1']!r}")
    assert "the bias (3) was left out" in feedback["f0"], feedback["f0"]
    wrong = grade_answers(problem, key, "s", {"f1": value - 3}).questions[1]
    assert "bias" not in wrong.feedback, "value − (filter 0's bias) is not the 'bias left out' mistake for filter 1"


def test_rows_and_columns_swapped_hint():
    problem = build_problem(STRIDED, "strided.yaml")
    key = compute_key(problem)
    swapped = literal_cell((2, 1, 1))
    assert swapped != key["f1"].value
    result = grade_answers(problem, key, "s", {"f1": swapped})
    assert "that is the value at row 3, column 2: rows and columns swapped?" in result.questions[1].feedback


# ---------------------------------------------------------------- expressions and solve questions


EXPRESSION = {"id": "e", "parts": [{"id": "p", "points": 1, "questions": [
    {"id": "pad", "compute": {"expression": {"f": "f", "same": True}, "for": "p"}},
    {"id": "num", "compute": {"solve": {"f": 5, "same": True}, "for": "p"}}]}]}


@pytest.mark.parametrize(("answer", "status"), [
    ("(f - 1)/2", "correct"), ("f/2 - 1/2", "correct"), ("(f − 1)/2", "correct"), ("0.5·f - 0.5", "correct"),
    ("(f + 1)/2", "incorrect"), ("(g - 1)/2", "incorrect"), ("f/2", "incorrect"),
])
def test_expression_answers_are_compared_by_equivalence(answer, status):
    problem = build_problem(EXPRESSION, "e.yaml")
    key = compute_key(problem)
    assert key["pad"].value == "(f - 1)/2" and key["pad"].solution, "the key is the solver's expression with steps"
    q = grade_answers(problem, key, "s", {"pad": answer}).questions[0]
    assert (q.status, q.score) == (status, 0.5 if status == "correct" else 0.0), f"{answer!r}: {q.status}"
    if status == "correct":
        assert q.feedback == "correct (equivalent to (f - 1)/2)"
    else:
        note = " — p = f/2: the + 1 of n + 2p − f + 1 = n is dropped [dropped_plus_one]" if answer == "f/2" else ""
        assert q.feedback == f"expected (f - 1)/2 (or an equivalent form), got {answer}{note}"


@pytest.mark.parametrize("answer", [True, [1], {"f": 1}, None, "f +", "__import__('os')"])
def test_unreadable_expressions_are_invalid(answer):
    problem = build_problem(EXPRESSION, "e.yaml")
    q = grade_answers(problem, compute_key(problem), "s", {"pad": answer}).questions[0]
    assert (q.status, q.score) == ("invalid", 0.0), f"{answer!r} is not an expression: {q.status}"
    assert q.feedback.startswith(("expected an expression such as 2*a + 1", "not a readable expression: "))
    assert "(f - 1)/2" not in q.feedback, "the example is never the key"


def test_solve_questions_and_the_half_pixel_hint():
    problem = build_problem(EXPRESSION, "e.yaml")
    key = compute_key(problem)
    assert key["num"].value == 2
    q = grade_answers(problem, key, "s", {"num": 2.5}).questions[1]
    assert q.status == "incorrect" and q.feedback == (
        "2.5 is not a whole number; expected 2 — p = f/2 is off by one half: from n + 2p − f + 1 = n, p = (f − 1)/2 "
        "[dropped_plus_one]")
    q = grade_answers(problem, key, "s", {"num": 3}).questions[1]
    assert q.feedback == "expected 2, got 3"
    assert grade_answers(problem, key, "s", {"num": "2"}).questions[1].status == "correct", "numbers as text are read"


def test_missing_manual_and_unknown_answers():
    problem = load_problem(WORKSHEET)
    key = compute_key(problem)
    result = grade_answers(problem, key, "s", {"b.plot": "drawn", "a.shap": [4, 4]})
    by_id = {q.id: q for q in result.questions}
    assert (by_id["b.plot"].status, by_id["b.plot"].feedback, by_id["b.plot"].got) == (
        "manual", "graded by the instructor", "drawn")
    assert by_id["b.plot"].solution[0].startswith("ReLU: y = max(0, x)"), "a manual item carries its model answer"
    assert (by_id["a.shape"].status, by_id["a.shape"].feedback, by_id["a.shape"].max) == ("missing", "no answer given",
                                                                                         0.125)
    assert by_id["a.shap"].status == "invalid" and "did you mean 'a.shape'" in by_id["a.shap"].feedback
    assert by_id["a.shap"].max == 0 and result.max == 2, "an unknown id adds nothing to the maximum"
    assert result.warnings == ["unknown question id 'a.shap' (did you mean 'a.shape'?)"]


def test_shape_answers():
    problem = load_problem(WORKSHEET)
    key = compute_key(problem)

    def graded(answer):
        return grade_answers(problem, key, "s", {"a.shape": answer}).questions[0]

    assert graded([4, 4, 1]).status == "correct" and graded([4, 4, 1]).feedback == (
        "correct ([4, 4, 1] is the full shape of [4, 4])")
    assert graded([4, 3]).feedback == "expected [4, 4], got [4, 3]"
    assert graded([4, 4, 2]).status == "incorrect"
    assert graded([True, 4]).status == "invalid" and graded("4x4").status == "correct"


def test_shape_hint_for_swapped_axes():
    raw = {"id": "s", "networks": {"n": {"input": [6, 8, 1], "layers": [{"type": "conv", "name": "c", "filters": 1,
                                                                          "kernel": 3}]}},
           "parts": [{"id": "p", "questions": [{"id": "q", "compute": {"shape": "n", "layer": "c", "axes": [0, 1]}}]}]}
    problem = build_problem(raw, "s.yaml")
    q = grade_answers(problem, compute_key(problem), "s", {"q": [6, 4]}).questions[0]
    assert q.feedback == "expected [4, 6], got [6, 4] — rows and columns swapped? [rows_columns_swapped]"


def test_overrides_file_forms_and_default_comment(worksheet, tmp_path):
    problem, key = worksheet
    path = tmp_path / "o.yaml"
    path.write_text("- {student: 7, question: b.plot, score: 0}\n")  # a numeric student id: leading zeros lost
    with pytest.raises(CnnCalcError, match=r"override 1: the student id must be text, written in quotes"):
        read_overrides(path, problem)
    path.write_text('- {student: "7", question: b.plot, score: 0}\n')  # a bare list
    items = read_overrides(path, problem)
    assert [{k: item[k] for k in ("student", "question", "score")} for item in items.items] == [
        {"student": "7", "question": "b.plot", "score": 0}]
    result = grade_answers(problem, key, "7", {})
    apply_overrides([result], items)
    plot = next(q for q in result.questions if q.id == "b.plot")
    assert plot.feedback == "instructor: score set by the instructor"
    for text, message in (("overrides: 3\n", "an overrides file is {overrides: [{student, question, score}, ...]}"),
                          ("overrides: [{student: a, score: 1}]\n", "override 1 needs student, question and score"),
                          ("overrides: [{student: a, question: b.plot, score: 0}, 5]\n",
                           "override 2 needs student, question and score")):
        path.write_text(text)
        with pytest.raises(CnnCalcError) as caught:
            read_overrides(path, problem)
        assert message in str(caught.value), str(caught.value)


def test_size_and_value_questions_name_their_layer():
    raw = {"id": "sv", "data": {"x": {"matrix": [[1.5, -2.0], [3.0, 4.0]]}},
           "networks": {"n": {"input": [2, 2, 1], "layers": [
               {"type": "conv", "name": "c", "filters": 3, "kernel": 1, "weight": [[[[1.0, 2.0, 3.0]]]],
                "bias": [0.0, 0.5, 0.0]},
               {"type": "maxpool", "name": "p", "kernel": 2}]}},
           "parts": [{"id": "p", "questions": [
               {"id": "size_c", "compute": {"size": "n", "layer": "c"}},
               {"id": "size_last", "compute": {"size": "n"}},
               {"id": "val", "compute": {"value": "n", "input": "x", "layer": "c", "at": [1, 0, 1]}}]}]}
    problem = build_problem(raw, "sv.yaml")
    key = compute_key(problem)
    assert key["size_c"].value == 12 and key["size_c"].solution == ["size: 2·2·3 = 12"]
    assert key["size_last"].value == 3, "without 'layer', the last layer's size"
    assert key["val"].value == 6.5 and problem.question("val").kind == "value", "value: a cell, 3·2 + 0.5"
    with pytest.raises(CnnCalcError, match="sv.yaml: no question 'nope'"):
        problem.question("nope")


def test_error_lines_of_exercise_files(worksheet, tmp_path):
    from cnncalc.exercises.variants import read_secret

    problem, _ = worksheet
    path = tmp_path / "o.yaml"
    path.write_text("overrides: [{student: a, question: b.plots, score: 0}]\n")
    with pytest.raises(CnnCalcError) as caught:
        read_overrides(path, problem)
    assert str(caught.value) == (f"{path}:1: override 1: unknown question (got 'b.plots', expected a question id of "
                                 "cnn-layers-worksheet); did you mean 'b.plot'?")
    raw = {**_BASE, "data": {"a": 0}, "vary": {"values": {"a": {"integers": [5, 4]}}}}
    with pytest.raises(CnnCalcError) as caught:
        build_problem(raw, "v.yaml")
    assert str(caught.value) == ("v.yaml: vary: 'a': bad value for 'integers' (got [5, 4], expected [low, high]: two "
                                 "integers with low ≤ high, each within ±1,000,000,000)")
    secret = tmp_path / "k"
    secret.write_bytes(b"short")
    secret.chmod(0o600)
    with pytest.raises(CnnCalcError) as caught:
        read_secret(secret)
    assert str(caught.value) == f"{secret}: the secret in the secret file is too short (5 bytes, at least 16)"


def test_params_questions_worked_lines_and_mistakes(worksheet):
    from cnncalc.exercises.slips import candidates

    problem, key = worksheet
    assert key["d.params"].solution == ["conv: 7·7·3·8 + 8 = 1,184"], "one layer: no sum line"
    found = {(c.rule, c.value): c.message for c in candidates(key, problem.question("d.params"))}
    assert found[("forgot_bias", 1176)] == "the biases are not counted (one per filter or unit)"
    raw = {"id": "nb", "networks": {"n": {"input": [4], "layers": [
        {"type": "dense", "name": "a", "units": 3, "bias": False}, {"type": "dense", "name": "b", "units": 2}]}},
        "parts": [{"id": "p", "questions": [{"id": "q", "compute": {"params": "n"}}]}]}
    nb = build_problem(raw, "nb.yaml")
    nb_key = compute_key(nb)
    assert nb_key["q"].value == 12 + 8
    assert nb_key["q"].solution[-1] == "12 + 8 = 20"
    found = {(c.rule, c.value, c.message) for c in candidates(nb_key, nb.question("q"))
             if c.rule in ("forgot_bias", "one_layer_only")}
    assert found == {("forgot_bias", 18, "the biases are not counted (one per filter or unit)"),
                     ("one_layer_only", 12, "only a is counted"), ("one_layer_only", 8, "only b is counted")}, (
        "a layer without bias has no 'biases not counted' mistake of its own")


def test_map_questions_on_another_channel():
    raw = {"id": "mc", "data": {"x": {"matrix": [[1.0, -2.0], [3.0, -4.0]]}},
           "networks": {"n": {"input": [2, 2, 1], "layers": [
               {"type": "conv", "name": "c", "filters": 2, "kernel": 1, "weight": [[[[1.0, -1.0]]]], "bias": [0, 0]},
               {"type": "relu", "name": "r"}]}},
           "parts": [{"id": "p", "questions": [{"id": "q", "compute": {"map": "n", "input": "x", "layer": "r",
                                                                          "channel": 1}}]}]}
    problem = build_problem(raw, "mc.yaml")
    expected = compute_key(problem)["q"]
    np.testing.assert_array_equal(expected.value, [[0, 2], [0, 4]])
    assert expected.solution[0] == "r (relu) output, channel 2:"
    assert expected.solution[1:] == ["  0  2", "  0  4", "row 1, column 1: max(0, −1) = 0"]


# ---------------------------------------------------------------- problem files: whole error lines

_BASE = {"id": "x", "parts": [{"id": "p", "questions": [{"id": "q", "kind": "manual"}]}]}


def _with_question(**question) -> dict:
    return {**_BASE, "parts": [{"id": "p", "questions": [{"id": "q", **question}]}]}


@pytest.mark.parametrize(("raw", "message"), [
    ({**_BASE, "titel": 1}, "p.yaml:1: top level: unknown key 'titel'; did you mean 'title'?"),
    ({**_BASE, "data": {"d": {"rows": [1]}}},
     ("p.yaml: data 'd': unknown layout 'rows'; expected one of channels, filters_per_channel, filters, matrix, "
     "array")),
    ({**_BASE, "data": {"d": [[1], [2, 3]]}},
     "p.yaml: data 'd' is not a rectangular array of numbers (got [[1], [2, 3]])"),
    ({**_BASE, "data": {"d": True}}, ("p.yaml: bad data 'd' (got True, expected a number, nested lists, or "
                                      "{layout: lists} with layout channels, filters_per_channel, filters, matrix, "
                                      "array)")),
    ({**_BASE, "parts": [{"id": "p", "questions": [{"kind": "manual"}]}]},
     "p.yaml: part 'p', question 1: missing 'id' (unique in the file; the key in answer files)"),
    (_with_question(kind="manual", solution=5),
     "p.yaml: question 'q': bad value for 'solution' (got 5, expected text, or a list of lines)"),
    ({**_BASE, "parts": [{"id": "p", "points": -1, "questions": [{"id": "q", "kind": "manual"}]}]},
     "p.yaml: part 'p': bad value for 'points' (got -1, expected a non-negative number)"),
    (_with_question(kind="manual", points=True),
     "p.yaml: question 'q': bad value for 'points' (got True, expected a non-negative number)"),
    (_with_question(kind="manual", points="x"),
     "p.yaml: question 'q': bad value for 'points' (got 'x', expected a non-negative number)"),
    (_with_question(compute={"sises": "n"}), "p.yaml: question 'q': unknown compute 'sises'; did you mean 'sizes'?"),
    (_with_question(), "p.yaml: question 'q' needs 'compute' (how its answer is computed) or kind: manual"),
    ({**_BASE, "parts": [{"questions": []}]}, "p.yaml: part 1: missing 'id' (the part's label (a, b, ...))"),
    ({"id": "x"}, "p.yaml:1: top level: missing 'parts' (the parts, each with its questions)"),
    ({**_BASE, "networks": [1]}, "p.yaml:1: top level: bad value for 'networks' (got [1], expected a mapping)"),
    ([1], ("p.yaml: a problem file must be a mapping (got [1], expected id, parts, and optionally data, networks, "
           "vary ...)")),
])
def test_problem_file_error_lines(raw, message):
    with pytest.raises(CnnCalcError) as caught:
        build_problem(raw, "p.yaml")
    assert str(caught.value) == message


def test_duplicate_question_id_names_the_id():
    raw = {**_BASE, "parts": [{"id": "p", "questions": [{"id": "q7", "kind": "manual"}, {"id": "q7", "kind": "manual"}]}]}
    with pytest.raises(CnnCalcError) as caught:
        build_problem(raw, "p.yaml")
    assert str(caught.value) == "p.yaml: duplicate question id 'q7'", "no line to name: no '(first on line None)'"
    path = Path("p.yaml")
    text = "id: x\nparts:\n  - id: p\n    questions:\n      - {id: q7, kind: manual}\n      - {id: q7, kind: manual}\n"
    from cnncalc.spec import safeload
    with pytest.raises(CnnCalcError) as caught:
        build_problem(safeload.loads(text, str(path)), str(path))
    assert str(caught.value) == "p.yaml:6: duplicate question id 'q7' (first on line 5)"


def test_problem_defaults():
    problem = build_problem({"id": 5, "parts": [{"id": 1, "questions": [{"id": "q", "kind": "manual"}]}]}, "p.yaml")
    assert (problem.id, problem.version, problem.title) == ("5", 1, "5"), "title defaults to the id, version to 1"
    part = problem.parts[0]
    assert (part.id, part.points, part.prompt) == ("1", 1.0, ""), "a part is worth 1 point by default"
    q = problem.questions[0]
    assert (q.part, q.points, q.prompt, q.solution, q.rtol, q.atol) == ("1", 1.0, "", None, None, None)
    with_text = build_problem(_with_question(kind="manual", solution="line 1\nline 2\n"), "p.yaml")
    assert with_text.questions[0].solution == ["line 1", "line 2"]


def test_an_override_score_beyond_a_floats_range_is_refused(worksheet, tmp_path):
    problem, _ = worksheet
    path = overrides_file(tmp_path, [{"student": "ann", "question": "d.params", "score": 10**400}])
    with pytest.raises(CnnCalcError) as caught:
        read_overrides(path, problem)
    message = str(caught.value)
    assert message.startswith(f"{path}:1: override 1: score must be a number (got 1000") and message.endswith(
        "000, expected a finite number)"), message
    assert "..." in message and len(message) < len(str(path)) + 300  # the 401 digits shown cut, not in full
