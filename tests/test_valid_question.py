"""`compute: valid` (answer kind `yesno`): whether the calculator accepts a network, in a problem file;
the key, its worked line, and the answers graded, read as yes or no in every word the table gives."""

from __future__ import annotations

import pytest

from cnncalc.errors import CnnCalcError
from cnncalc.exercises import answers
from cnncalc.exercises.answers import Invalid
from cnncalc.exercises.grading import grade_one
from cnncalc.exercises.key import compute_key
from cnncalc.exercises.problem import build_problem


def _problem(size: int, layers: list[dict]) -> dict:
    return {"id": "valid", "networks": {"net": {"input": [size, size, 1], "layers": layers}},
            "parts": [{"id": "a", "questions": [{"id": "a.ok", "compute": {"valid": "net"}}]}]}


STRIDED = [{"type": "conv", "name": "conv", "filters": 2, "kernel": 3, "stride": 2},
           {"type": "maxpool", "name": "pool", "kernel": 2}]


@pytest.mark.parametrize(("size", "expected"), [(5, "yes"), (4, "no"), (3, "no"), (7, "yes"), (2, "no")])
def test_the_key_is_yes_exactly_when_every_window_fits(size, expected):
    # conv: ⌊(n − 3)/2⌋ + 1 needs n ≥ 3; the pool then needs that output ≥ 2, so n ≥ 5
    problem = build_problem(_problem(size, STRIDED), "<test>")
    key = compute_key(problem)["a.ok"]
    assert problem.questions[0].kind == "yesno" and key.value == expected
    if expected == "no":
        failing = "'conv'" if size < 3 else "'pool'"
        assert failing in key.solution[0] and key.solution[0].endswith("⇒ no") and "<test>" not in key.solution[0]
    else:
        assert key.solution == ["every layer fits its input; pool gives 1×1×2 ⇒ yes"]  # conv 2 or 3 wide


def test_a_spec_that_is_wrong_is_the_files_error_not_a_no():
    problem = build_problem(_problem(8, [{"type": "conv", "name": "conv", "filter": 2, "kernel": 3}]), "<test>")
    with pytest.raises(CnnCalcError, match="filter"):
        compute_key(problem)


@pytest.mark.parametrize(("text", "read"), [("yes", "yes"), ("Yes.", "yes"), ("Y", "yes"), ("true", "yes"),
                                            ("valid", "yes"), ("no", "no"), ("N", "no"), ("INVALID", "no"),
                                            (True, "yes"), (False, "no")])
def test_yes_and_no_in_their_words(text, read):
    assert answers.read("yesno", text) == read


@pytest.mark.parametrize("text", ["maybe", "", "yes no", "1", 1, None, ["yes"]])
def test_what_is_not_yes_or_no_is_refused(text):
    with pytest.raises(Invalid, match="expected yes or no"):
        answers.read("yesno", text)


def test_graded_as_yes_or_no():
    problem = build_problem(_problem(4, STRIDED), "<test>")
    key = compute_key(problem)
    q = problem.questions[0]
    assert grade_one(q, key["a.ok"], {"a.ok": "No"}).status == "correct"
    wrong = grade_one(q, key["a.ok"], {"a.ok": "valid"})
    assert wrong.status == "incorrect" and wrong.feedback == "expected no, got yes"
    assert grade_one(q, key["a.ok"], {"a.ok": "perhaps"}).status == "invalid"
