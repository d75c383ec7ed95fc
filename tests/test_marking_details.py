"""Details of marking that the larger tests pass over: the message a dropped "+ 1" is named with, that
follow-through stays off unless declared, that a refusal never shows the key as its example, and that a
negative exponent is read as a whole number."""

from __future__ import annotations

import pytest
from test_followthrough import PLUS_ONE, QUIZ, by_id, graded, quiz

from cnncalc.exercises import compute_key
from cnncalc.exercises.answers import Invalid, check_complexity, integers
from cnncalc.exercises.grading import grade_answers
from cnncalc.exercises.key import key_answers
from cnncalc.exercises.problem import build_problem
from cnncalc.maths import expr


def test_a_dropped_plus_one_is_named_in_words_with_the_number():
    q = by_id(graded(QUIZ, True, PLUS_ONE))
    assert q["conv1.shape"].diagnosis.rule == "dropped_plus_one"
    assert q["conv1.shape"].diagnosis.message == "the + 1 is dropped at conv1: ⌊(32 + 2·0 − 3)/1⌋ = 29"


def test_a_dropped_plus_one_when_solving_for_the_input_is_named():
    """n from out = n − f + 1 with out = 30, f = 3: n = 32; with the + 1 dropped, out + 1 = n − f: n = 33."""
    raw = {"id": "solve-n", "credit": {"dropped_plus_one": 0.5}, "parts": [{"id": "a", "points": 1, "questions": [
        {"id": "n", "compute": {"solve": {"f": 3, "p": 0, "s": 1, "out": 30}, "for": "n"}}]}]}
    problem = build_problem(raw, "solve-n.yaml")
    key = compute_key(problem)
    assert key_answers(problem, key)["n"] == 32
    [q] = grade_answers(problem, key, "s", {"n": 33}).questions
    assert (q.score, q.diagnosis.rule, q.diagnosis.message) == (0.5, "dropped_plus_one",
                                                                 "the + 1 of the size formula is dropped")


def test_follow_through_is_off_unless_declared():
    result = by_id(graded(QUIZ, False, PLUS_ONE))
    assert all(q.follow_through is False or q.follow_through is None for q in result.values())
    assert all("follows correctly" not in q.feedback for q in result.values())
    assert result["flatten.size"].score == 0.0
    problem, key = quiz({**QUIZ, "follow_through": 0}, False)
    zero = by_id(grade_answers(problem, key, "s", {**key_answers(problem, key), **PLUS_ONE}))
    assert zero["flatten.size"].score == 0.0 and not zero["flatten.size"].follow_through


@pytest.mark.parametrize("key", [[0, 3], [2, 5], [1, 1]])
def test_a_padding_refusal_shows_an_example_that_is_not_the_key(key):
    with pytest.raises(Invalid) as caught:
        integers("one and two", key=key, kind="pair")
    message = str(caught.value)
    assert message.startswith("expected [before, after] as whole numbers, e.g. [")
    shown = message.split("e.g. ")[1]
    assert f"[{key[0]}, {key[1]}]" not in shown


@pytest.mark.parametrize(("text", "degree"), [("f**2", 2), ("f**-2", 2), ("(f + 1)**3", 3), ("f**-3 + f", 3)])
def test_a_whole_exponent_of_either_sign_is_read(text, degree):
    assert check_complexity(expr.parse(text))[0] == degree


def test_a_fractional_exponent_is_refused():
    with pytest.raises(Invalid, match="an exponent must be a whole number"):
        check_complexity(expr.parse("f**(1/2)"))
