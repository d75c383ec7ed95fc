"""The catalogue of slips: each rule recomputes the key with the slip made; a matching answer is named in
feedback, the text report, JSON and the feedback files; an author may give a slip partial credit; the
rules never fire on a right answer or a random wrong one; docs/marking.md is generated from the catalogue."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc.errors import CnnCalcError
from cnncalc.exercises import compute_key, load_problem
from cnncalc.exercises.grading import diagnose, grade_answers, matches, plain_answer
from cnncalc.exercises.key import Expected, key_answers
from cnncalc.exercises.problem import build_problem
from cnncalc.exercises.report import feedback_markdown, text_report
from cnncalc.exercises.slips import CATALOGUE, EXAMPLES, SLIPS, candidates, example

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"


def test_the_marking_page_is_generated_from_the_catalogue():
    spec = importlib.util.spec_from_file_location("make_marking", ROOT / "docs" / "make_marking.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "marking.md").read_text(encoding="utf-8") == module.page(), (
        "docs/marking.md is out of date: run python docs/make_marking.py")


def test_every_rule_has_an_id_a_doc_and_an_example_it_computes():
    assert len(SLIPS) == len(CATALOGUE), "rule ids are unique"
    required = {"forgot_bias", "forgot_padding", "dropped_plus_one", "ceil_for_floor", "stride_ignored", "flip",
                "avg_for_max", "channels_first", "bias_per_weight", "no_input_channels", "same_odd_side",
                "transpose_forward", "rf_no_jumps"}
    assert required <= set(SLIPS), "the issue's catalogue"
    for slip in CATALOGUE:
        assert slip.id.isidentifier() and slip.doc.endswith(".") and slip.kinds, slip.id
        q, value, candidate = example(slip)
        assert candidate.rule == slip.id and not matches(q, Expected(value), plain_answer(candidate.value))


def test_the_rules_recompute_the_course_numbers():
    """A few rules worked by hand on the shipped problems' own numbers."""
    quiz = build_problem(copy.deepcopy(EXAMPLES["quiz"]), "quiz.yaml")
    key = compute_key(quiz)
    found = {(c.rule, json.dumps(plain_answer(c.value))) for q in quiz.questions for c in candidates(key, q)}
    # conv2: n = 30, f = 3, s = 2, p = 1
    assert ("forgot_padding", json.dumps([(30 - 3) // 2 + 1] * 2 + [32])) in found
    assert ("ceil_for_floor", json.dumps([-(-(30 + 2 - 3) // 2) + 1] * 2 + [32])) in found
    assert ("stride_ignored", json.dumps([30 + 2 - 3 + 1] * 2 + [32])) in found
    assert ("dropped_plus_one", json.dumps([32 - 3] * 2 + [16])) in found
    assert ("no_input_channels", json.dumps(3 * 3 * 32 + 32)) in found
    assert ("bias_per_weight", json.dumps(2 * 3 * 3 * 3 * 16)) in found
    assert ("flops_for_macs", json.dumps(2 * 30 * 30 * 16 * 27)) in found


def test_no_rule_is_computed_where_it_cannot_be_made():
    problem = load_problem(WORKSHEET)
    key = compute_key(problem)
    rules = {c.rule for c in candidates(key, problem.question("a.shape"))}
    assert "forgot_padding" not in rules and "stride_ignored" not in rules, "no padding, stride 1"
    assert {c.rule for c in candidates(key, problem.question("b.plot"))} == set(), "a manual question"
    assert all(c.rule != "forgot_bias" for c in candidates(key, problem.question("b.relu"))), (
        "part b's ReLU has no bias before it")


# ---------------------------------------------------------------- named everywhere


def test_a_slip_is_named_in_feedback_json_the_text_report_and_the_feedback_file():
    problem = load_problem(ROOT / "problems" / "filter-bank.yaml")
    key = compute_key(problem)
    maxed = next(c.value for c in candidates(key, problem.question("pool.map")) if c.rule == "max_for_avg")
    answers = {**key_answers(problem, key), "pool.map": plain_answer(maxed), "conv.params": 54}
    result = grade_answers(problem, key, "s", answers, "s.yaml")
    pool = next(q for q in result.questions if q.id == "pool.map")
    assert pool.as_dict()["diagnosis"] == {"rule": "max_for_avg",
                                          "message": "that is max pooling; this layer takes the mean of each window"}
    report = text_report(problem, [result], [])
    line = next(line for line in report.splitlines() if "pool.map" in line)
    assert "that is max pooling; this layer takes the mean of each window [max_for_avg]; wrong (row,col" in line, (
        "the text report keeps a map's diagnosis (it used to drop it)")
    assert "the biases are not counted (one per filter or unit) [forgot_bias]" in report
    markdown = feedback_markdown(problem, result)
    assert "\\[max\\_for\\_avg\\]" in markdown or "[max_for_avg]" in markdown


def test_a_random_wrong_answer_has_no_diagnosis_and_a_right_one_none_either():
    problem = load_problem(WORKSHEET)
    key = compute_key(problem)
    result = grade_answers(problem, key, "s", {**key_answers(problem, key), "a.col4_row4": 5, "d.params": 1000})
    assert all(q.diagnosis is None for q in result.questions)
    assert next(q for q in result.questions if q.id == "a.col4_row4").feedback == "expected 9, got 5"


# ---------------------------------------------------------------- partial credit per rule


def _worksheet_raw() -> dict:
    from cnncalc.spec import safeload

    return safeload.load_file(WORKSHEET)


def test_credit_per_rule_problem_wide_and_per_question():
    raw = _worksheet_raw()
    raw["credit"] = {"forgot_bias": 0.5}
    raw["parts"][0]["questions"][1]["credit"] = {"forgot_bias": 0.25, "flip": 1}  # a.col4_row4
    problem = build_problem(raw, str(WORKSHEET))
    key = compute_key(problem)
    answers = key_answers(problem, key)
    graded = {q.id: q for q in grade_answers(problem, key, "s", {**answers, "a.col4_row4": 2, "a.col2_row4": 15,
                                                                    "d.params": 1176}).questions}
    assert graded["a.col4_row4"].score == pytest.approx(0.25 * 0.125), "the question's own credit wins"
    assert graded["a.col2_row4"].score == pytest.approx(0.5 * 0.125), "the problem's credit"
    assert graded["d.params"].score == pytest.approx(0.5 * 0.25)
    assert graded["d.params"].status == "partial"
    assert graded["a.col4_row4"].feedback == ("expected 9, got 2 — it looks like the bias (7) was left out "
                                              "[forgot_bias]: 0.0312 of 0.125 points")
    flipped = {q.id: q for q in grade_answers(problem, key, "s", {**answers, "a.col4_row4": 12}).questions}
    assert flipped["a.col4_row4"].score == 0.125 and flipped["a.col4_row4"].status == "correct", "credit 1: full"


def test_credit_names_a_rule_of_the_catalogue():
    raw = _worksheet_raw()
    raw["credit"] = {"forgot_bais": 0.5}
    with pytest.raises(CnnCalcError, match="credit: unknown rule 'forgot_bais'.*did you mean 'forgot_bias'"):
        build_problem(raw, str(WORKSHEET))
    for bad in ({"forgot_bias": 1.5}, {"forgot_bias": -0.1}, [0.5], {"forgot_bias": "half"}):
        raw = _worksheet_raw()
        raw["credit"] = bad
        with pytest.raises(CnnCalcError, match="credit"):
            build_problem(raw, str(WORKSHEET))
    raw = _worksheet_raw()
    raw["follow_through"] = 2
    with pytest.raises(CnnCalcError, match="follow_through"):
        build_problem(raw, str(WORKSHEET))


# ---------------------------------------------------------------- properties


def _quiz(n: int, k: int, p: int, s: int, units: int) -> dict:
    return {"id": "prop", "follow_through": 1.0, "credit": dict.fromkeys(SLIPS, 1.0),
            "networks": {"net": {"input": [n, n, 3], "layers": [
                {"type": "conv", "name": "c1", "filters": 4, "kernel": k, "padding": p, "stride": s},
                {"type": "maxpool", "name": "pool", "kernel": 2},
                {"type": "flatten", "name": "flat"}, {"type": "dense", "name": "fc", "units": units}]}},
            "parts": [{"id": "a", "points": 5, "questions": [
                {"id": "c1", "compute": {"shape": "net", "layer": "c1"}},
                {"id": "pool", "compute": {"shape": "net", "layer": "pool"}},
                {"id": "flat", "compute": {"size": "net", "layer": "flat"}},
                {"id": "fc", "compute": {"params": "net", "layer": "fc"}},
                {"id": "total", "compute": {"params": "net"}}]}]}


QUIZZES = st.tuples(st.integers(9, 48), st.sampled_from([1, 3, 5]), st.integers(0, 2), st.integers(1, 3),
                    st.integers(1, 12))


@settings(max_examples=30, deadline=None)
@given(QUIZZES)
def test_a_right_answer_always_has_full_marks_and_no_rule_fires_on_it(params):
    problem = build_problem(_quiz(*params), "prop.yaml")
    key = compute_key(problem)
    result = grade_answers(problem, key, "s", key_answers(problem, key))
    assert result.score == result.max == 5 and all(q.diagnosis is None for q in result.questions)
    for q in problem.questions:
        for candidate in candidates(key, q):
            assert not matches(q, key[q.id], plain_answer(candidate.value)), (q.id, candidate)


@settings(max_examples=60, deadline=None)
@given(QUIZZES, st.integers(0, 4), st.integers(-40, 40), st.integers(1, 10**6))
def test_a_rule_fires_only_on_the_exact_answer_of_its_slip(params, which, delta, number):
    problem = build_problem(_quiz(*params), "prop.yaml")
    key = compute_key(problem)
    q = problem.questions[which]
    right = key_answers(problem, key)[q.id]
    wrong = [d + delta for d in right] if isinstance(right, list) else number
    if wrong == right:
        return
    found = diagnose(key, q, wrong)
    exact = [c for c in candidates(key, q) if plain_answer(c.value) == wrong]
    assert (found is None) == (not exact), (q.id, wrong, found)
    result = {r.id: r for r in grade_answers(problem, key, "s", {q.id: wrong}).questions}[q.id]
    if found is None:
        assert result.score == 0 and result.diagnosis is None
    else:
        assert result.score == q.points and result.diagnosis.rule == found.rule  # credit 1 for every rule here


def test_every_slip_answer_gets_its_credit_and_nothing_more():
    problem = build_problem(_quiz(32, 3, 1, 2, 10), "prop.yaml")
    key = compute_key(problem)
    for q in problem.questions:
        for candidate in candidates(key, q):
            result = {r.id: r for r in grade_answers(problem, key, "s", {q.id: plain_answer(candidate.value)}
                                                     ).questions}[q.id]
            assert result.diagnosis is not None and result.score == q.points, (q.id, candidate)
    assert len(candidates(key, problem.question("c1"))) >= 4, "channels first, padding, + 1, ceil, stride"


def test_a_one_dimensional_network_has_no_rows_and_columns():
    raw = {"id": "audio", "data": {"x": {"array": [[1.0], [2.0], [0.0], [3.0], [1.0], [2.0]]}},
           "networks": {"net": {"input": [6, 1], "layers": [
               {"type": "conv1d", "name": "c", "filters": 2, "kernel": 3, "weight": [[[1, 0]], [[0, 1]], [[1, 1]]],
                "bias": [1, 2]}]}},
           "parts": [{"id": "a", "questions": [
               {"id": "shape", "compute": {"shape": "net", "layer": "c"}},
               {"id": "cell", "compute": {"cell": "net", "input": "x", "layer": "c", "at": [2, 1]}}]}]}
    problem = build_problem(raw, "audio.yaml")
    key = compute_key(problem)
    assert key["shape"].value == [4, 2]
    shape = {c.rule: plain_answer(c.value) for c in candidates(key, problem.question("shape"))}
    assert shape["channels_first"] == [2, 4] and "rows_columns_swapped" not in shape
    cell = {c.rule: plain_answer(c.value) for c in candidates(key, problem.question("cell"))}
    assert "rows_columns_swapped" not in cell
    assert cell["forgot_bias"] == key["cell"].value - 2, "the bias of filter 2 (index 1)"
