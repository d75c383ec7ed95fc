"""Every answer kind in every form a person writes it: each accepted form of each kind of a shipped
problem's question scores full marks; near misses are incorrect, or invalid with a message that names
what is expected by an example that is never the key; equivalent rewritings of a correct expression
always score full marks, and a random wrong one never does (hypothesis).

TEXT_FORMS is also run through the HTML answer form's reader in a browser
(tests/test_answer_form_all.py): the form and the grader read every text alike."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnncalc.exercises import answers
from cnncalc.exercises.answers import Invalid
from cnncalc.exercises.grading import grade_answers
from cnncalc.exercises.key import compute_key, key_answers
from cnncalc.exercises.problem import ANSWER_KINDS, KINDS, load_problem

ROOT = Path(__file__).parent.parent
PROBLEMS = sorted((ROOT / "problems").glob("*.yaml"))


@cache
def shipped(name: str):
    problem = load_problem(ROOT / "problems" / f"{name}.yaml")
    return problem, compute_key(problem)


def graded(name: str, qid: str, answer):
    problem, key = shipped(name)
    return next(q for q in grade_answers(problem, key, "s", {qid: answer}).questions if q.id == qid)


# ---------------------------------------------------------------- accepted forms: full marks

# (problem, question, its key as the course writes it, answers that must all score full marks)
ACCEPTED = [
    ("padding-stride", "chain.conv1", [62, 62, 8],
     [[62, 62, 8], [62.0, 62, 8.0], ["62", "62", "8"], "62x62x8", "62×62×8", "62 x 62 x 8", "(62, 62, 8)",
      "[62, 62, 8]", "62, 62, 8", "62 62 8", "62;62;8", " [62,62,8] ", "６２×６２×８"]),
    ("cnn-layers-worksheet", "a.shape", [4, 4], ["4x4", "4 × 4", "(4, 4)", "4x4x1", [4, 4, 1]]),
    ("same-padding-transpose", "same.pads", [1, 2],
     [[1, 2], [1.0, 2], "[1, 2]", "1, 2", "(1, 2)", "1 2", {"before": 1, "after": 2}, ["1", "2"]]),
    ("same-padding-transpose", "sizes.exact", [12, 16, 20, 24, 28, 32, 36, 40],
     [[12, 16, 20, 24, 28, 32, 36, 40], [40, 36, 32, 28, 24, 20, 16, 12, 12], "12, 16, 20, 24, 28, 32, 36, 40",
      "12 16 20 24 28 32 36 40", "{12, 16, 20, 24, 28, 32, 36, 40}", "n ∈ {12, 16, 20, 24, 28, 32, 36, 40}",
      "[12; 16; 20; 24; 28; 32; 36; 40]", {12: None, 16: None, 20: None, 24: None, 28: None, 32: None, 36: None,
                                            40: None}]),
    ("same-padding-transpose", "sizes.valid", list(range(12, 41)),
     ["12–40", "12-40", "12 - 40", "12..40", "12...40", "12 to 40", "n ∈ {12–40}", "{min: 12, max: 40}",
      "min 12, max 40", {"min": 12, "max": 40}, {"min": "12", "max": 40.0}, ["12-20", "21–40"], "12–20, 21–40",
      "12-30, 25-40", list(range(12, 41))]),
    ("lenet-table", "total.params", 62958,
     [62958, 62958.0, "62958", "62,958", "62 958", "62\u202f958", "62\u00a0958", "62_958", "62'958", "62958.0",
      "+62958", "125916/2", " 62958 "]),
    ("padding-stride", "same.p5", 2, [2, "2", "2.0", "4/2", "２"]),
    ("filter-bank", "conv.f1", 4.75,
     [4.75, "4.75", "4,75", "19/4", "+4.75", "4.750", "4.75e0", "475e-2", " 4.75"]),
    ("cnn-layers-worksheet", "a.col3_row2", -3, [-3, "-3", "−3", "–3", "-3.0", "−6/2"]),
    ("pooling-flatten", "max.2x2", [[149, 82], [120, 133]],
     [[[149, 82], [120, 133]], [["149", "82"], ["120", "133"]], "149 82\n120 133", "149, 82; 120, 133",
      "149,82;120,133", "[[149, 82], [120, 133]]", "[149, 82]\n[120, 133]", "149\t82\r\n120\t133\n",
      "149.0 82\n120 133"]),
    ("pooling-flatten", "flatten.vector", list(range(1, 13)),
     [list(range(1, 13)), [list(range(1, 13))], [[v] for v in range(1, 13)], "1 2 3 4 5 6 7 8 9 10 11 12",
      "\n".join(str(v) for v in range(1, 13)), "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]"]),
    ("padding-stride", "same.formula", "(f - 1)/2",
     ["(f - 1)/2", "(f-1)//2", "f//2", "f/2 - 1/2", "0.5f - 0.5", "0.5·f − 0.5", "p = (f − 1)/2", "½(f − 1)",
      "(f−1)÷2", "⌊f/2⌋", "floor((f - 1)/2)", "floor(f/2)", "(f² - 1)/(2(f + 1))", "(f - 1) / 2 + 0*n",
      "ceil((f - 2)/2)", "(f - 1)*1/2", "f*(1/2) - 1/2"]),
]


def _id(width: int):
    """A test id of at most ``width`` characters in plain ASCII with no backslash: pytest escapes the others,
    and escapes them again when the same module is collected twice in one process (mutmut does that)."""
    def make(value: object) -> str:
        text = value if isinstance(value, str) and len(value) >= width else repr(value)
        return text[:width].encode("ascii", "backslashreplace").decode().replace("\\", "~")
    return make


@pytest.mark.parametrize(("name", "qid", "key", "answer"),
                         [(n, q, k, a) for n, q, k, forms in ACCEPTED for a in forms],
                         ids=_id(40))
def test_every_accepted_form_scores_full_marks(name, qid, key, answer):
    _, computed = shipped(name)
    want = computed[qid].value
    assert (want.tolist() if isinstance(want, np.ndarray) else want) == key, (
        f"{name} {qid}: the key is {key} as the course computes it")
    q = graded(name, qid, answer)
    assert (q.status, q.score) == ("correct", q.max), f"{answer!r} is {key}: {q.status}, {q.feedback}"


def test_an_answer_equal_only_where_the_key_is_whole_says_so():
    """(f - 1)//2 is (f − 1)/2 for odd f only — the only f 'same' padding with stride 1 can have."""
    q = graded("padding-stride", "same.formula", "(f-1)//2")
    assert q.feedback == ("correct (equal to (f - 1)/2 wherever that is a whole number, as the size it stands "
                          "for is)")
    assert graded("padding-stride", "same.formula", "f/2 - 1/2").feedback == "correct (equivalent to (f - 1)/2)"


SYMPY_KEYS = {"id": "e", "parts": [{"id": "a", "questions": [
    {"id": "pads", "compute": {"expression": {"f": "f", "s": 2, "n": "n", "same": True}, "for": "p"}},
    {"id": "out", "compute": {"expression": {"n": "n", "f": "f", "p": "p", "s": 2}, "for": "out"}}]}]}


def test_a_key_the_solver_writes_with_sympy_names_is_compared():
    """'Same' padding with stride 2 is Max(0, f - n + 2*ceiling(n/2) - 2) as sympy prints it."""
    from cnncalc.exercises.problem import build_problem

    problem = build_problem(SYMPY_KEYS, "e.yaml")
    key = compute_key(problem)
    assert key["pads"].value == "Max(0, f - n + 2*ceiling(n/2) - 2)"
    result = grade_answers(problem, key, "s", {"pads": "max(0, f - 2 + 2ceil(n/2) - n)",
                                               "out": "floor((n + 2p - f)/2) + 1"})
    assert [q.status for q in result.questions] == ["correct", "correct"], [q.feedback for q in result.questions]
    wrong = grade_answers(problem, key, "s", {"pads": "f - 1", "out": "(n + 2p - f)/2 + 1"}).questions
    assert [q.status for q in wrong] == ["incorrect", "incorrect"]


def test_a_key_the_evaluator_cannot_read_spoils_that_question_only():
    with pytest.raises(Invalid, match=r"the key Mod\(f, 2\) cannot be compared with answers"):
        answers.compare_expression("Mod(f, 2)", "f % 2")


# ---------------------------------------------------------------- near misses: incorrect, or invalid and why

# (problem, question, answer, status, a phrase of the feedback)
NEAR_MISSES = [
    ("padding-stride", "chain.conv1", "62x62", "incorrect", "expected [62, 62, 8], got [62, 62]"),
    ("padding-stride", "chain.conv1", "8x62x62", "incorrect", "channels first?"),
    ("padding-stride", "chain.conv1", "62x62x8.5", "invalid", "expected whole numbers, e.g. [7, 7, 5]"),
    ("padding-stride", "chain.conv1", "62 by 62 by 8", "invalid", "expected whole numbers"),
    ("padding-stride", "chain.conv1", "", "invalid", "expected whole numbers"),
    ("padding-stride", "chain.conv1", [True, 62, 8], "invalid", "expected whole numbers"),
    ("same-padding-transpose", "same.pads", "2, 1", "incorrect", "expected [1, 2], got [2, 1]"),
    ("same-padding-transpose", "same.pads", "1", "incorrect", "expected [1, 2], got [1, 1]"),
    ("same-padding-transpose", "same.pads", "1, 2, 3", "incorrect", "got [1, 2, 3]"),
    ("same-padding-transpose", "same.pads", "one, two", "invalid", "expected [before, after] as whole numbers"),
    ("same-padding-transpose", "same.pads", {"before": 1}, "invalid", "[before, after]"),
    ("same-padding-transpose", "sizes.valid", "12–39", "incorrect", "missing 40"),
    ("same-padding-transpose", "sizes.valid", "11–40", "incorrect", "not valid: 11"),
    ("same-padding-transpose", "sizes.valid", "40–12", "invalid", "from the smaller size to the larger"),
    ("same-padding-transpose", "sizes.valid", "12-", "invalid", "expected sizes as whole numbers"),
    ("same-padding-transpose", "sizes.valid", "-3, 12", "invalid", "expected sizes as whole numbers"),
    ("same-padding-transpose", "sizes.valid", {"min": 12}, "invalid", "expected sizes as whole numbers"),
    ("same-padding-transpose", "sizes.valid", "1–2000000", "invalid", "more than 1,000,000 sizes"),
    ("lenet-table", "total.params", "62,95", "incorrect", "62.95 is not a whole number"),
    ("lenet-table", "total.params", "6,29,58", "invalid", "expected a number"),
    ("lenet-table", "total.params", "62 9580", "invalid", "expected a number"),
    ("lenet-table", "total.params", "62,958 parameters", "invalid", "expected a number"),
    ("lenet-table", "total.params", "62.958", "incorrect", "not a whole number"),
    ("lenet-table", "total.params", "1/0", "invalid", "divides by zero"),
    ("lenet-table", "total.params", "NaN", "invalid", "expected a finite number"),
    ("lenet-table", "total.params", "9" * 400, "invalid", "expected a finite number"),
    ("filter-bank", "conv.f1", "4,750", "invalid", "'4,750' could be 4750 or 4.750: write it without the comma"),
    ("filter-bank", "conv.f1", "4.7", "incorrect", "expected 4.75, got 4.7"),
    ("filter-bank", "conv.f1", "4.75.0", "invalid", "expected a number"),
    ("pooling-flatten", "max.2x2", "149 82\n120", "invalid", "different lengths (row 1: 2 numbers, row 2: 1)"),
    ("pooling-flatten", "max.2x2", "149,,82\n120,133", "invalid", "an empty cell"),
    ("pooling-flatten", "max.2x2", "149 82 120 133", "incorrect", "should be 2×2, got 1×4"),
    ("pooling-flatten", "max.2x2", "149 120\n82 133", "partial", "2 of 4 cells correct"),
    ("pooling-flatten", "max.2x2", [], "invalid", "expected a matrix as nested lists, one per row, e.g. [[1, 2]"),
    ("padding-stride", "same.formula", "f/2", "incorrect", "expected (f - 1)/2 (or an equivalent form), got f/2"),
    ("padding-stride", "same.formula", "(f + 1)//2", "incorrect", "got (f + 1)//2"),
    ("padding-stride", "same.formula", "f//2 + 1", "incorrect", "got f//2 + 1"),
    ("padding-stride", "same.formula", "(k - 1)/2", "incorrect", "got (k - 1)/2"),
    ("padding-stride", "same.formula", "(f - 1)/2 + 1/(f - f)", "incorrect", "got"),
    ("padding-stride", "same.formula", "f = (f - 1)/2", "invalid", "not a readable expression"),
    ("padding-stride", "same.formula", "f f", "invalid", "not a readable expression"),
    ("padding-stride", "same.formula", "2 3", "invalid", "not a readable expression"),
    ("padding-stride", "same.formula", "__import__('os')", "invalid", "not a readable expression"),
    ("padding-stride", "same.formula", [1], "invalid", "expected an expression such as 2*a + 1"),
]


@pytest.mark.parametrize(("name", "qid", "answer", "status", "phrase"), NEAR_MISSES, ids=_id(30))
def test_near_misses_are_incorrect_or_invalid_with_a_clear_message(name, qid, answer, status, phrase):
    q = graded(name, qid, answer)
    assert q.status == status, f"{answer!r}: {q.status}, {q.feedback}"
    assert q.score < q.max
    assert phrase in q.feedback, q.feedback
    assert "\n" not in q.feedback or q.status == "partial"


# ---------------------------------------------------------------- messages never show the key


def _key_texts(kind: str, value) -> list[str]:
    """The ways an answer could be read off a message: the key as the course writes it."""
    if kind in ("shape", "pair"):
        return [", ".join(map(str, value)), "x".join(map(str, value)), "×".join(map(str, value))]
    if kind == "sizes":
        return [", ".join(map(str, value)), answers.size_text(list(value))]
    if kind == "matrix":
        return [str(np.atleast_2d(value).astype(int).tolist()) if np.all(np.mod(value, 1) == 0) else str(value)]
    if kind == "expression":
        return [value, value.replace(" ", "")]
    return []


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_no_refusal_shows_the_key_as_its_example(path):
    problem = load_problem(path)
    key = compute_key(problem)
    odd = {"shape": "?!", "pair": "?!", "sizes": "?!", "matrix": "?!", "expression": [0], "count": "?!",
           "number": "?!", "value": "?!"}
    result = grade_answers(problem, key, "s", {q.id: odd[q.kind] for q in problem.questions if q.kind != "manual"})
    for q in result.questions:
        if q.status == "manual":
            continue
        kind = problem.question(q.id).kind
        assert q.status == "invalid", (q.id, q.feedback)
        for text in _key_texts(kind, key[q.id].value):
            assert text not in q.feedback, f"{path.stem} {q.id}: the message {q.feedback!r} shows the key"
        shown = answers.neutral(kind, key[q.id].value)
        if kind not in ("count", "number", "value"):
            example = graded(path.stem, q.id, shown)
            assert example.status != "correct", f"{path.stem} {q.id}: the example {shown!r} is the answer"
        else:
            for text in str(shown).split(" or "):
                assert float(text) != float(key[q.id].value), f"{path.stem} {q.id}: the example {text} is the key"


@pytest.mark.parametrize(("kind", "key"), [
    ("shape", [7, 7, 5]), ("shape", [6, 6, 2]), ("pair", [0, 3]), ("pair", [2, 5]), ("sizes", [3, 5, 10, 11, 12]),
    ("matrix", [[1, 2], [3, 4]]), ("count", 12), ("count", 17), ("value", -0.5), ("value", 12),
    ("expression", "2*a + 1"), ("expression", "3*b - 2 + 2*a"),
])
def test_the_examples_step_aside_for_a_key_that_is_one_of_them(kind, key):
    shown = answers.neutral(kind, key)
    if kind == "expression":
        assert not (set(re.findall(r"[a-z]", shown)) & set(re.findall(r"[a-z]", key))), shown
    elif kind in ("count", "value"):
        assert all(float(text) != float(key) for text in shown.split(" or ")), shown
    else:
        assert shown != key and np.atleast_2d(shown).tolist() != np.atleast_2d(key).tolist(), shown
    assert str(key) not in answers.example(kind, key) or kind == "expression"


# ---------------------------------------------------------------- one table for the grader and the form

INVALID = "invalid"

# (kind, text, what it reads as): the answer form's reader must read each the same
TEXT_FORMS = [
    ("shape", "22x22x6", [22, 22, 6]), ("shape", "22×22×6", [22, 22, 6]), ("shape", "(22, 22, 6)", [22, 22, 6]),
    ("shape", "[22, 22, 6]", [22, 22, 6]), ("shape", "22, 22, 6", [22, 22, 6]), ("shape", "22 22 6", [22, 22, 6]),
    ("shape", "22 X 22 X 6", [22, 22, 6]), ("shape", "4.0x4", [4, 4]), ("shape", "７x７", [7, 7]),
    ("shape", "22x22x6.5", INVALID), ("shape", "22*22*6", INVALID), ("shape", "twenty", INVALID), ("shape", "[]", INVALID),
    ("pair", "1, 2", [1, 2]), ("pair", "[1, 2]", [1, 2]), ("pair", "(0,1)", [0, 1]), ("pair", "3", [3, 3]),
    ("pair", "1, two", INVALID),
    ("sizes", "12, 16, 20", [12, 16, 20]), ("sizes", "12–14, 20", [12, 13, 14, 20]), ("sizes", "12..14", [12, 13, 14]),
    ("sizes", "12 to 14", [12, 13, 14]), ("sizes", "{min: 3, max: 5}", [3, 4, 5]), ("sizes", "n ∈ {3–5}", [3, 4, 5]),
    ("sizes", "{3, 5}", [3, 5]), ("sizes", "7", [7]), ("sizes", "5-3", INVALID), ("sizes", "3, x", INVALID),
    ("sizes", "-3", INVALID),
    ("count", "1,234", 1234), ("count", "1 234", 1234), ("count", "1_234", 1234), ("count", "1'234", 1234),
    ("count", "1,234,567", 1234567), ("count", "2468/2", 1234), ("count", "12", 12), ("count", "1,5", 1.5),
    ("count", "12 parameters", INVALID), ("count", "1/0", INVALID), ("count", "inf", INVALID),
    ("number", "3", 3), ("number", "−3", -3), ("number", "3.", 3),
    ("value", "4.75", 4.75), ("value", "4,75", 4.75), ("value", "-4,75", -4.75), ("value", "19/4", 4.75),
    ("value", "1,234.5", 1234.5), ("value", ".5", 0.5), ("value", "1e3", 1000), ("value", "1,234", INVALID),
    ("value", "1.2.3", INVALID), ("value", "", INVALID),
    ("matrix", "1 2\n3 4", [[1, 2], [3, 4]]), ("matrix", "1, 2; 3, 4", [[1, 2], [3, 4]]),
    ("matrix", "[[1, 2], [3, 4]]", [[1, 2], [3, 4]]), ("matrix", "0,5 1\n2 3", [[0.5, 1], [2, 3]]),
    ("matrix", "1\t2\n3\t4\n", [[1, 2], [3, 4]]), ("matrix", "[1, 2],\n[3, 4]", [[1, 2], [3, 4]]),
    ("matrix", "1 2\n3", INVALID), ("matrix", "1,,2", INVALID), ("matrix", "1 x", INVALID),
]


@pytest.mark.parametrize(("kind", "text", "reads"), TEXT_FORMS, ids=_id(24))
def test_each_text_form_reads_as_its_value(kind, text, reads):
    if reads == INVALID:
        with pytest.raises(Invalid):
            answers.read(kind, text)
        return
    value = answers.read(kind, text)
    assert (value.tolist() if isinstance(value, np.ndarray) else value) == reads


NOT_FORMS = {"count", "…", "p = …", "⌊…⌋", "[before, after]", "2*p"}  # words of the table, not answers


def test_the_answer_kinds_table_documents_every_kind_with_forms_that_read():
    """docs/problem-format.md's table of answers (from ANSWER_KINDS): every form it shows is read."""
    import yaml

    assert set(ANSWER_KINDS) == set(KINDS), "one row per kind a question can have"
    for kind, (accepts, _) in ANSWER_KINDS.items():
        forms = [f for f in re.findall(r"`([^`]+)`", accepts) if f not in NOT_FORMS and len(f) > 1]
        if kind == "manual":
            continue
        assert len(forms) >= 2, f"{kind}: at least a list and a text form"
        for form in forms:
            text = yaml.safe_load(form) if form[0] in "[{" else form.strip('"')
            if kind == "value" and form == "1,234":
                with pytest.raises(Invalid, match="could be 1234 or 1.234"):
                    answers.read(kind, text)  # the table says so: refused as ambiguous
                continue
            try:
                answers.read(kind, text)
            except Invalid as error:
                raise AssertionError(f"ANSWER_KINDS says {kind} accepts {form!r}: {error}") from None


# ---------------------------------------------------------------- properties


@st.composite
def rewritings(draw):
    """Texts equal to (f - 1)/2 for every odd f: the key rewritten by steps that keep its value."""
    text = draw(st.sampled_from(["(f - 1)/2", "(f-1)//2", "f//2", "floor(f/2)", "f/2 - 1/2", "(f − 1)÷2"]))
    for _ in range(draw(st.integers(0, 3))):
        k = draw(st.integers(1, 9))
        e = draw(st.sampled_from(["f", "n", "f*n", "(f + 3)", "2f", "n**2"]))
        step = draw(st.sampled_from([
            "({t}) + ({e}) - ({e})", "({e}) - ({e}) + ({t})", "{k}*({t})/{k}", "({t})*1", "(({t}) - {k}) + {k}",
            "({t}) + 0*({e})", "{k}({t}) - ({k} - 1)({t})", "(({t})*{e})/({e})", "-(-({t}))",
        ]))
        if step == "(({t})*{e})/({e})" and e in ("n", "f*n", "n**2"):
            continue  # n = 0 is never a point, but keep the key's own names
        text = step.format(t=text, e=e, k=k)
    return text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rewritings())
def test_any_equivalent_rewriting_of_the_key_scores_full_marks(text):
    assume(len(text) <= 200)
    q = graded("padding-stride", "same.formula", text)
    assume(not q.feedback.startswith("not a readable expression: expression too"))
    assert q.status == "correct", f"{text!r} equals (f - 1)/2 for odd f: {q.feedback}"


def _terms():
    leaf = st.one_of(st.integers(0, 9).map(lambda k: (str(k), lambda f, k=k: Fraction(k))),
                     st.just(("f", lambda f: Fraction(f))))

    def combine(children):
        def make(op, a, b):
            (ta, fa), (tb, fb) = a, b
            if op == "//":
                return f"({ta})//({tb} + 1)" if tb else ta, lambda f: Fraction(math.floor(fa(f) / (fb(f) + 1))) \
                    if fb(f) + 1 else Fraction(0)
            return f"({ta}) {op} ({tb})", {"+": lambda f: fa(f) + fb(f), "-": lambda f: fa(f) - fb(f),
                                           "*": lambda f: fa(f) * fb(f)}[op]
        return st.builds(make, st.sampled_from(["+", "-", "*", "//"]), children, children)

    return st.recursive(leaf, combine, max_leaves=6)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_terms())
def test_a_random_wrong_expression_never_scores(term):
    text, value_at = term
    odd = range(1, 60, 2)
    try:
        differs = any(value_at(f) != Fraction(f - 1, 2) for f in odd)
    except ZeroDivisionError:
        differs = True
    assume(differs)
    q = graded("padding-stride", "same.formula", text)
    assert q.status != "correct" and q.score == 0, f"{text!r} differs from (f - 1)/2 for some odd f: {q.feedback}"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 4096), min_size=1, max_size=4), st.sampled_from([", ", "x", "×", " x ", " ", ";"]),
       st.sampled_from(["{}", "[{}]", "({})", " {} "]))
def test_a_shape_written_any_way_reads_as_itself(shape, separator, brackets):
    assert answers.integers(brackets.format(separator.join(map(str, shape)))) == shape


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**12), st.sampled_from([",", " ", "_", "'", "\u202f"]))
def test_a_count_with_its_thousands_grouped_reads_as_itself(count, separator):
    text = f"{count:,}".replace(",", separator)
    assert answers.number(text, whole=True) == count


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=30))
def test_sizes_written_as_the_feedback_writes_them_read_back(values):
    wanted = sorted(set(values))
    assert answers.sizes(answers.size_text(wanted)) == wanted
    assert answers.sizes("n ∈ {" + answers.size_text(wanted) + "}") == wanted


def test_every_key_reads_back_as_itself():
    """The key as an answer file holds it (key_answers) reads as the key: full marks for every question."""
    for path in PROBLEMS:
        problem = load_problem(path)
        key = compute_key(problem)
        result = grade_answers(problem, key, "s", key_answers(problem, key))
        assert result.score == result.max, [(q.id, q.feedback) for q in result.questions if q.score < q.max]
