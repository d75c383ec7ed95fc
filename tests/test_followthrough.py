"""Follow-through (error carried forward): an answer wrong against the key but exactly right given the
student's own earlier answers earns its share — recomputed by the calculator and executor that make the
key, from dependencies found in the networks, never typed in. Also the three unfair cases of issue 22,
reproduced with their old scores and marked again fairly."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc.exercises import compute_key
from cnncalc.exercises.followthrough import anchors
from cnncalc.exercises.grading import grade_answers
from cnncalc.exercises.key import key_answers
from cnncalc.exercises.problem import build_problem

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"

# ---------------------------------------------------------------- the three examples

# A shape quiz of ten 1-point questions: 32×32×3 → conv1 (3×3, 16) → conv2 (3×3, 32, stride 2, padding 1)
# → flatten → fc (10 units).
QUIZ = {"id": "shape-quiz", "networks": {"net": {"input": [32, 32, 3], "layers": [
    {"type": "conv", "name": "conv1", "filters": 16, "kernel": 3},
    {"type": "conv", "name": "conv2", "filters": 32, "kernel": 3, "stride": 2, "padding": 1},
    {"type": "flatten", "name": "flatten"}, {"type": "dense", "name": "fc", "units": 10}]}},
    "parts": [{"id": "a", "points": 10, "questions": [
        {"id": "conv1.shape", "compute": {"shape": "net", "layer": "conv1"}},
        {"id": "conv1.size", "compute": {"size": "net", "layer": "conv1"}},
        {"id": "conv1.params", "compute": {"params": "net", "layer": "conv1"}},
        {"id": "conv2.shape", "compute": {"shape": "net", "layer": "conv2"}},
        {"id": "conv2.params", "compute": {"params": "net", "layer": "conv2"}},
        {"id": "flatten.size", "compute": {"size": "net", "layer": "flatten"}},
        {"id": "fc.params", "compute": {"params": "net", "layer": "fc"}},
        {"id": "total.params", "compute": {"params": "net"}},
        {"id": "conv2.rf", "compute": {"receptive_field": "net", "layer": "conv2"}},
        {"id": "same.p", "compute": {"solve": {"f": 3, "same": True}, "for": "p"}}]}]}

FAIR = {"follow_through": 0.5, "credit": {"forgot_padding": 0.5, "dropped_plus_one": 0.5, "forgot_bias": 0.5}}


def quiz(raw: dict, fair: bool):
    raw = copy.deepcopy(raw)
    if fair:
        raw.update(copy.deepcopy(FAIR))
    problem = build_problem(raw, f"{raw['id']}.yaml")
    return problem, compute_key(problem)


def graded(raw: dict, fair: bool, changes: dict):
    problem, key = quiz(raw, fair)
    answers = {**key_answers(problem, key), **changes}
    return grade_answers(problem, key, "s", answers)


def by_id(result):
    return {q.id: q for q in result.questions}


# the padding of conv2 forgotten: ⌊(30 − 3)/2⌋ + 1 = 14 for ⌊(30 + 2 − 3)/2⌋ + 1 = 15, and every answer after it
# computed correctly from [14, 14, 32]
PADDING = {"conv2.shape": [14, 14, 32], "flatten.size": 14 * 14 * 32, "fc.params": 14 * 14 * 32 * 10 + 10,
           "total.params": (3 * 3 * 3 * 16 + 16) + (3 * 3 * 16 * 32 + 32) + 14 * 14 * 32 * 10 + 10}
# the "+ 1" dropped at every layer: conv1 ⌊(32 − 3)/1⌋ = 29, conv2 ⌊(29 + 2 − 3)/2⌋ = 14
PLUS_ONE = {"conv1.shape": [29, 29, 16], "conv1.size": 29 * 29 * 16, "conv2.shape": [14, 14, 32],
            "flatten.size": 14 * 14 * 32, "fc.params": 14 * 14 * 32 * 10 + 10,
            "total.params": 448 + 4640 + 14 * 14 * 32 * 10 + 10}


def test_the_quiz_keys_are_the_course_numbers():
    problem, key = quiz(QUIZ, False)
    answers = key_answers(problem, key)
    assert answers["conv1.shape"] == [30, 30, 16] and answers["conv2.shape"] == [15, 15, 32]
    assert answers["flatten.size"] == 7200 and answers["fc.params"] == 7200 * 10 + 10
    assert answers["total.params"] == 448 + 4640 + 72010 and answers["same.p"] == 1


def test_padding_forgotten_in_a_shape_quiz_was_6_of_10_and_is_now_8():
    old = graded(QUIZ, False, PADDING)
    assert old.score == 6.0 and old.max == 10.0, "issue 22: one slip cascades to 6/10"
    assert graded(QUIZ, False, PADDING).score == grade_answers(*quiz(QUIZ, False), "s", {
        **key_answers(*quiz(QUIZ, False)), **PADDING}, marking=False).score, "no credit declared: the old score"
    new = graded(QUIZ, True, PADDING)
    assert new.score == 8.0
    q = by_id(new)
    assert (q["conv2.shape"].score, q["conv2.shape"].diagnosis.rule, q["conv2.shape"].follow_through) == (
        0.5, "forgot_padding", False)
    assert q["conv2.shape"].feedback == ("expected [15, 15, 32], got [14, 14, 32] — the padding of conv2 (p = 1) is "
                                         "left out: ⌊(30 − 3)/2⌋ + 1 = 14 [forgot_padding]: 0.5 of 1 point")
    for qid in ("flatten.size", "fc.params", "total.params"):
        assert (q[qid].score, q[qid].status, q[qid].follow_through) == (0.5, "partial", True), qid
    assert q["flatten.size"].feedback == ("expected 7,200, got 6,272 — follows correctly from your conv2 output "
                                          "(14, 14, 32), which was wrong [forgot_padding]: 0.5 of 1 point")
    assert "follows correctly from your flatten size (6,272), which was wrong" in q["fc.params"].feedback


def test_dropped_plus_one_was_4_of_10_and_is_now_7():
    assert graded(QUIZ, False, PLUS_ONE).score == 4.0, "issue 22: dropping the + 1 gave 4/10"
    new = graded(QUIZ, True, PLUS_ONE)
    assert new.score == 7.0
    q = by_id(new)
    assert all(q[qid].diagnosis.rule == "dropped_plus_one" for qid in PLUS_ONE)
    # conv2 repeats the slip (⌊(29 + 2 − 3)/2⌋ = 14): the rule's credit, not a follow-through (15 would follow)
    assert not q["conv2.shape"].follow_through and q["conv2.shape"].score == 0.5
    assert q["conv1.size"].follow_through and q["flatten.size"].follow_through and q["fc.params"].follow_through


# A conv map off by its bias (b = 2) everywhere, and the ReLU and max-pooling maps computed correctly from it.
X = [[0, 5, 0, 3, 5, 0], [2, 3, 4, 2, 0, 1], [4, 3, 0, 1, 5, 1], [4, 3, 0, 2, 2, 1], [0, 0, 1, 5, 5, 5],
     [1, 3, 5, 3, 2, 5]]
W = [[2, 0, 0], [0, 0, 0], [-1, 0, -1]]
MAPS = {"id": "bias-quiz", "data": {"x": {"matrix": X}, "w": {"filters_per_channel": [W]}, "b": 2},
        "networks": {"net": {"input": [6, 6, 1], "layers": [
            {"type": "conv", "name": "conv", "filters": 1, "kernel": 3, "weight": "$w", "bias": ["$b"]},
            {"type": "relu", "name": "relu"}, {"type": "maxpool", "name": "pool", "kernel": 2, "stride": 1}]}},
        "parts": [
            {"id": "shapes", "points": 3, "questions": [
                {"id": "conv.shape", "compute": {"shape": "net", "layer": "conv"}},
                {"id": "pool.shape", "compute": {"shape": "net", "layer": "pool"}},
                {"id": "conv.params", "compute": {"params": "net", "layer": "conv"}}]},
            {"id": "maps", "points": 2.25, "questions": [
                {"id": "conv.map", "compute": {"map": "net", "input": "x", "layer": "conv"}},
                {"id": "relu.map", "compute": {"map": "net", "input": "x", "layer": "relu"}},
                {"id": "pool.map", "compute": {"map": "net", "input": "x", "layer": "pool"}}]},
            {"id": "cells", "points": 4.75, "questions": [
                {"id": "conv.r1c2", "points": 1.25, "compute": {"cell": "net", "input": "x", "layer": "conv",
                                                                "at": [0, 1, 0]}},
                {"id": "conv.r2c3", "points": 1.25, "compute": {"cell": "net", "input": "x", "layer": "conv",
                                                                "at": [1, 2, 0]}},
                {"id": "conv.r3c1", "points": 1.25, "compute": {"cell": "net", "input": "x", "layer": "conv",
                                                                "at": [2, 0, 0]}},
                {"id": "pool.r1c2", "points": 1.0, "compute": {"cell": "net", "input": "x", "layer": "pool",
                                                               "at": [0, 1, 0]}}]}]}


def literal_maps(bias: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The conv (cross-correlation), ReLU and 2×2 stride-1 max-pool maps, by loops."""
    x, w = np.array(X, dtype=float), np.array(W, dtype=float)
    conv = np.array([[(x[i:i + 3, j:j + 3] * w).sum() + bias for j in range(4)] for i in range(4)])
    relu = np.maximum(conv, 0)
    pool = np.array([[relu[i:i + 2, j:j + 2].max() for j in range(3)] for i in range(3)])
    return conv, relu, pool


def bias_slip() -> dict:
    conv, relu, pool = literal_maps(0.0)  # the student's maps: no bias, then ReLU and pooling done right
    return {"conv.map": conv.tolist(), "relu.map": relu.tolist(), "pool.map": pool.tolist(),
            "conv.r1c2": conv[0, 1], "conv.r2c3": conv[1, 2], "conv.r3c1": conv[2, 0], "pool.r1c2": pool[0, 1]}


def test_a_conv_map_off_by_the_bias_was_3_36_of_10_and_is_now_6_5():
    _problem, key = quiz(MAPS, False)
    conv, _relu, pool = literal_maps(2.0)
    np.testing.assert_array_equal(key["conv.map"].value, conv)
    np.testing.assert_array_equal(key["pool.map"].value, pool)
    old = graded(MAPS, False, bias_slip())
    q = by_id(old)
    assert q["conv.map"].score == 0 and q["conv.map"].feedback.startswith("0 of 16 cells correct — the bias (2) is "
                                                                          "left out of every cell [forgot_bias]")
    assert q["relu.map"].feedback.startswith("6 of 16 cells correct") and q["pool.map"].feedback.startswith(
        "1 of 9 cells correct")
    assert round(old.score, 2) == 3.36 and old.score == pytest.approx(3 + 0.75 * (6 / 16 + 1 / 9))
    new = graded(MAPS, True, bias_slip())
    assert new.score == pytest.approx(6.5)
    q = by_id(new)
    assert q["conv.map"].score == 0.375 and q["conv.map"].diagnosis.rule == "forgot_bias"
    assert [q[i].score for i in ("conv.r1c2", "conv.r2c3", "conv.r3c1")] == [0.625] * 3
    assert q["relu.map"].follow_through and q["relu.map"].score == 0.375
    assert q["relu.map"].feedback.startswith("6 of 16 cells correct — follows correctly from your conv map, which was "
                                             "wrong [forgot_bias]: 0.375 of 0.75 points; wrong:")
    assert q["pool.map"].follow_through and q["pool.map"].score == 0.375
    assert q["pool.r1c2"].follow_through and q["pool.r1c2"].score == 0.5
    assert "follows correctly from your relu map" in q["pool.r1c2"].feedback


# ---------------------------------------------------------------- which answers follow from which


def test_anchors_come_from_the_networks_and_the_computes():
    _, key = quiz(QUIZ, True)
    found = {qid: [a.question for a in items] for qid, items in anchors(key).items()}
    assert found == {
        "conv1.size": ["conv1.shape"],                      # a size from its own layer's shape
        "conv2.shape": ["conv1.shape"], "conv2.params": ["conv1.shape"],
        "flatten.size": ["conv1.shape", "conv2.shape"],
        "fc.params": ["conv1.shape", "conv2.shape", "flatten.size"],  # the flatten size is a vector's shape
        "total.params": ["conv1.shape", "conv2.shape", "flatten.size"],
    }, "receptive fields, solves and earlier questions of other kinds are no anchors"
    _problem, key = quiz(MAPS, True)
    found = {qid: [a.question for a in items] for qid, items in anchors(key).items() if qid.startswith(("relu",
                                                                                                      "pool.r"))}
    assert found == {"relu.map": ["conv.map"], "pool.r1c2": ["conv.map", "relu.map"]}


def test_a_right_answer_in_between_masks_a_wrong_one_above():
    # conv1 wrong, conv2 right, flatten from conv1's wrong shape: not a follow-through (it follows from nothing
    # the student wrote: their conv2 was right)
    problem, key = quiz(QUIZ, True)
    answers = {**key_answers(problem, key), "conv1.shape": [29, 29, 16], "flatten.size": 14 * 14 * 32}
    q = by_id(grade_answers(problem, key, "s", answers))
    assert q["conv2.shape"].status == "correct"
    assert not q["flatten.size"].follow_through
    # what it is, is a slip: the + 1 dropped at conv2 (⌊(30 + 2 − 3)/2⌋ = 14), whose credit it gets
    assert q["flatten.size"].diagnosis.rule == "dropped_plus_one" and q["flatten.size"].score == 0.5


def test_a_missing_anchor_is_recomputed_from_the_one_above():
    problem, key = quiz(QUIZ, True)
    answers = {**key_answers(problem, key), **PADDING}
    del answers["conv2.shape"], answers["flatten.size"]
    answers["conv1.shape"] = [31, 31, 16]  # conv2 from it: ⌊(31 + 2 − 3)/2⌋ + 1 = 16; flatten 16·16·32
    answers["fc.params"] = 16 * 16 * 32 * 10 + 10
    q = by_id(grade_answers(problem, key, "s", answers))
    assert q["fc.params"].follow_through and q["fc.params"].score == 0.5
    assert "your conv1 output (31, 31, 16)" in q["fc.params"].feedback


def test_no_share_no_follow_through_and_a_question_may_set_its_own():
    raw = copy.deepcopy(QUIZ)
    raw["parts"][0]["questions"][5]["follow_through"] = 0.25  # flatten.size
    problem, key = quiz(raw, False)
    q = by_id(grade_answers(problem, key, "s", {**key_answers(problem, key), **PADDING}))
    assert q["flatten.size"].follow_through and q["flatten.size"].score == 0.25
    assert not q["fc.params"].follow_through and q["fc.params"].score == 0


def test_an_anchor_that_cannot_stand_for_its_layer_gives_no_credit():
    problem, key = quiz(QUIZ, True)
    for bad in ([14, 14], [0, 14, 32], "fourteen", [14.5, 14, 32]):
        answers = {**key_answers(problem, key), **PADDING, "conv2.shape": bad}
        q = by_id(grade_answers(problem, key, "s", answers))
        assert not q["flatten.size"].follow_through, bad


def test_follow_through_is_in_the_json_result():
    result = graded(QUIZ, True, PADDING)
    document = json.loads(json.dumps(result.as_dict()))
    item = next(q for q in document["questions"] if q["id"] == "flatten.size")
    assert item["follow_through"] is True and item["score"] == 0.5
    assert item["diagnosis"]["rule"] == "forgot_padding"
    right = next(q for q in document["questions"] if q["id"] == "conv1.shape")
    assert right["follow_through"] is False and right["diagnosis"] is None


# ---------------------------------------------------------------- variants and the gradebook


SECRET = b"a course secret of more than sixteen bytes"


def _worksheet_with_follow_through(tmp_path: Path) -> Path:
    raw = yaml.safe_load(WORKSHEET.read_text(encoding="utf-8"))
    raw["follow_through"] = 0.5
    path = tmp_path / "worksheet.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _pooled(relu: np.ndarray) -> list[list[float]]:
    return [[float(relu[i:i + 2, j:j + 2].max()) for j in range(3)] for i in range(3)]


def test_follow_through_against_each_students_own_variant(tmp_path):
    from cnncalc.exercises.variants import grade_variants, student_variant
    from cnncalc.spec import safeload

    source = _worksheet_with_follow_through(tmp_path)
    raw = safeload.load_file(source)
    folder = tmp_path / "answers"
    folder.mkdir()
    paths = []
    for name in ("ann", "ben"):
        variant = student_variant(raw, str(source), SECRET, name)
        answers = key_answers(variant.problem, variant.key)
        relu = np.array(answers["b.relu"], dtype=float)
        relu += 100  # the ReLU map wrong in every cell; the pooled map computed right from it
        answers["b.relu"] = relu.tolist()
        answers["b.pool"] = _pooled(relu)
        path = folder / f"{name}.json"
        path.write_text(json.dumps({"student": name, "variant": variant.fingerprint, "answers": answers}))
        paths.append(path)
    results, _, _ = grade_variants(raw, str(source), paths, SECRET)
    for result in results:
        pool = by_id(result)["b.pool"]
        assert result.error is None and pool.follow_through and pool.score == pytest.approx(0.125), pool.feedback
        assert "follows correctly from your relu map, which was wrong" in pool.feedback


def test_follow_through_is_recorded_in_the_course_gradebook(tmp_path):
    from cnncalc import course as C
    from cnncalc.exercises import grade_batch, load_problem

    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\nann,Ann\n", encoding="utf-8")
    C.init_course(tmp_path / "course", roster)
    problem = load_problem(_worksheet_with_follow_through(tmp_path))
    key = compute_key(problem)
    answers = key_answers(problem, key)
    relu = np.array(answers["b.relu"], dtype=float) + 100
    answers.update({"b.relu": relu.tolist(), "b.pool": _pooled(relu)})
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"student": "ann", "answers": answers}))
    results, _ = grade_batch(problem, [path], key)
    with C.open_course(tmp_path / "course") as course:
        C.record_grades(course, problem, results, [path])
        score, diagnosis = course.db.execute("SELECT score, diagnosis FROM question_results WHERE question = 'b.pool'"
                                             ).fetchone()
        assert score == pytest.approx(0.125)
        assert json.loads(diagnosis) == {"rule": None, "message": None, "follow_through": True}
        (total,) = course.db.execute("SELECT score FROM submissions WHERE student_id = 'ann'").fetchone()
        assert total == pytest.approx(results[0].score) and total == pytest.approx(2 - 0.5 + 0.125)


# ---------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(st.integers(8, 40), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2), st.floats(0.05, 1.0))
def test_a_right_answer_always_has_full_marks_and_a_follow_through_never_exceeds_its_share(n, k, p, s, share):
    k = 2 * k + 1
    raw = {"id": "prop", "follow_through": share, "networks": {"net": {"input": [n, n, 2], "layers": [
        {"type": "conv", "name": "c1", "filters": 3, "kernel": k, "padding": p, "stride": s},
        {"type": "conv", "name": "c2", "filters": 4, "kernel": 3, "padding": 1},
        {"type": "flatten", "name": "flat"}, {"type": "dense", "name": "fc", "units": 5}]}},
        "parts": [{"id": "a", "points": 4, "questions": [
            {"id": "c1", "compute": {"shape": "net", "layer": "c1"}},
            {"id": "c2", "compute": {"shape": "net", "layer": "c2"}},
            {"id": "flat", "compute": {"size": "net", "layer": "flat"}},
            {"id": "fc", "compute": {"params": "net", "layer": "fc"}}]}]}
    if (n + 2 * p - k) < 0:
        return
    problem = build_problem(raw, "prop.yaml")
    key = compute_key(problem)
    right = key_answers(problem, key)
    result = grade_answers(problem, key, "s", right)
    assert result.score == result.max == 4
    h = right["c1"][0] + 1  # a wrong c1, and everything after it computed right from it
    c2 = [h, h, 4]
    wrong = {"c1": [h, h, 3], "c2": c2, "flat": h * h * 4, "fc": h * h * 4 * 5 + 5}
    result = by_id(grade_answers(problem, key, "s", wrong))
    assert result["c1"].score == 0
    for qid in ("c2", "flat", "fc"):
        assert result[qid].follow_through and result[qid].score == pytest.approx(share), qid
        assert result[qid].score <= share * result[qid].max + 1e-12


def test_the_recomputations_are_remembered_per_key():
    problem, key = quiz(QUIZ, True)
    answers = {**key_answers(problem, key), **PADDING}
    grade_answers(problem, key, "s1", answers)
    remembered = {k for k in key.memo if k[0] == "follow"}
    grade_answers(problem, key, "s2", answers)
    assert {k for k in key.memo if k[0] == "follow"} == remembered, "a second student with the same slip: no new work"


def test_an_anchor_in_any_form_its_kind_reads():
    problem, key = quiz(QUIZ, True)
    answers = {**key_answers(problem, key), **PADDING, "conv2.shape": "14x14x32", "flatten.size": "6,272"}
    q = by_id(grade_answers(problem, key, "s", answers))
    assert q["flatten.size"].follow_through and "your conv2 output (14, 14, 32)" in q["flatten.size"].feedback
    assert q["fc.params"].follow_through and "your flatten size (6,272)" in q["fc.params"].feedback
