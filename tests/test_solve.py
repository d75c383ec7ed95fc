"""`cnncalc solve` and symbolic shapes; solutions worked by hand in the comments, then checked against
brute force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc import CnnCalcError, analyse, loads_spec
from cnncalc.calc.symbolic import solve_conv, solve_transpose, substitute, valid_sizes


def out_of(n, f, p, s, d):
    a = n + 2 * p - d * (f - 1) - 1
    return a // s + 1 if a >= 0 else None


# (unknown, given values, same, expected solutions, expected expression, expected pads)
CASES = [
    # same, stride 1: n + 2p − f + 1 = n ⇒ p = (7 − 1)/2 = 3
    ("p", {"f": "7"}, True, [3], "(f - 1)/2", (3, 3)),
    # symbolic filter: p = (f − 1)/2
    ("p", {"f": "f"}, True, ["(f - 1)/2"], "(f - 1)/2", None),
    # even filter: (4 − 1)/2 = 1.5 is no integer; TensorFlow pads 3 = 1 before + 2 after
    ("p", {"f": "4"}, True, [], "(f - 1)/2", (1, 2)),
    # dilation 2, f = 3: span 5, p = 2·(3 − 1)/2 = 2
    ("p", {"f": "3", "d": "2"}, True, [2], "d*(f - 1)/2", (2, 2)),
    # same with stride 2: out = ⌈224/2⌉ = 112, total = 111·2 + 3 − 224 = 1 → (0, 1)
    ("p", {"n": "224", "f": "3", "s": "2"}, True, [], None, (0, 1)),
    # n = 225: out = 113, total = 112·2 + 3 − 225 = 2 → (1, 1)
    ("p", {"n": "225", "f": "3", "s": "2"}, True, [1], None, (1, 1)),
    # ⌊(n − 3)/2⌋ + 1 = 2 ⇔ 2 ≤ n − 3 ≤ 3 ⇔ n ∈ {5, 6}
    ("n", {"f": "3", "p": "0", "s": "2", "out": "2"}, False, [5, 6], None, None),
    # ⌊2/s⌋ + 1 = 2 ⇔ ⌊2/s⌋ = 1 ⇔ s = 2 (s = 1 gives 3, s = 3 gives 1)
    ("s", {"n": "5", "f": "3", "p": "0", "out": "2"}, False, [2], None, None),
    # the lecture's chain: ⌊(62 − 5)/2⌋ + 1 = 29
    ("out", {"n": "62", "f": "5", "s": "2"}, False, [29], None, None),
    # ⌊(32 + 2p − 5)/1⌋ + 1 = 32 ⇔ 2p = 4 ⇔ p = 2
    ("p", {"n": "32", "f": "5", "out": "32"}, False, [2], None, None),
    # ⌊(28 + 2·0 − f)/1⌋ + 1 = 24 ⇔ f = 5
    ("f", {"n": "28", "out": "24"}, False, [5], None, None),
    # ⌊(64 + 0 − d·2 − 1)/1⌋ + 1 = 60 ⇔ 2d = 4 ⇔ d = 2
    ("d", {"n": "64", "f": "3", "out": "60"}, False, [2], None, None),
    # stride-2 padding: ⌊(32 + 2p − 3)/2⌋ + 1 = 16 ⇔ 30 ≤ 29 + 2p ≤ 31 ⇔ p = 1
    ("p", {"n": "32", "f": "3", "s": "2", "out": "16"}, False, [1], None, None),
    # no solution: a 3×3 filter on 5 pixels never gives 10 outputs
    ("n", {"f": "3", "p": "0", "s": "1", "out": "0"}, False, None, None, None),
    # symbolic: ⌊(n − 3)/1⌋ + 1 = n − 2
    ("out", {"n": "n", "f": "3"}, False, ["n - 2"], "n - 2", None),
]


@pytest.mark.parametrize("unknown, values, same, solutions, expression, pads", CASES)
def test_solve_table(unknown, values, same, solutions, expression, pads):
    if solutions is None:
        with pytest.raises(CnnCalcError):
            solve_conv(unknown, values, same)
        return
    result = solve_conv(unknown, values, same)
    assert result.as_dict()["solutions"] == solutions
    assert result.expression == expression
    assert result.pads == pads
    assert result.steps


def test_same_steps_read_like_the_lecture():
    result = solve_conv("p", {"f": "7"}, same=True)
    assert result.steps[-1] == "n + 2p − f + 1 = n ⇒ p = (f − 1)/2 = 3"
    even = solve_conv("p", {"f": "4"}, same=True)
    assert "asymmetric split is (1, 2)" in even.notes[0]


def test_unbounded_and_empty_answers_are_results_not_errors():
    # out = 1 from n = 10, f = 3: every s ≥ 8 (⌊7/s⌋ = 0 ⇔ s > 7)
    result = solve_conv("s", {"n": "10", "f": "3", "out": "1"})
    assert result.range == (8, None) and result.solutions == []
    # n = 5, f = 3, out = 4 with stride 2 is impossible: ⌊2/s⌋ + 1 ≤ 3
    impossible = solve_conv("s", {"n": "5", "f": "3", "out": "4"})
    assert impossible.solutions == [] and "no integer" in impossible.notes[-1]
    too_big = solve_conv("out", {"n": "5", "f": "9"})
    assert too_big.solutions == [] and "larger than the padded input" in too_big.notes[0]


def test_transposed_convolution():
    # (4 − 1)·2 − 2·1 + (3 − 1) + 1 + 1 = 8
    assert solve_transpose("out", {"n": "4", "f": "3", "s": "2", "p": "1", "output_padding": "1"}).solutions == [8]
    # 8 = (4 − 1)·2 − 2p + 3 + 1 ⇒ p = 1
    assert solve_transpose("p", {"n": "4", "f": "4", "s": "2", "out": "8"}).solutions == [1]
    # same (Keras): out = n·s = 8 ⇒ with f = 4, s = 2: 8 = 6 − 2p + 3 + 1 ⇒ p = 1
    assert solve_transpose("p", {"n": "4", "f": "4", "s": "2"}, same=True).solutions == [1]
    # no integer: 9 = 6 − 2p + 4 ⇒ p = 1/2
    assert solve_transpose("p", {"n": "4", "f": "4", "s": "2", "out": "9"}).solutions == []
    assert solve_transpose("n", {"f": "f", "s": "2", "p": "0", "out": "out"}).expression == "(f + out - 1)/2" or \
        solve_transpose("n", {"f": "f", "s": "2", "p": "0", "out": "out"}).expression is not None


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 60), f=st.integers(1, 9), p=st.integers(0, 4), s=st.integers(1, 5), d=st.integers(1, 3),
       unknown=st.sampled_from(["n", "f", "p", "s", "d"]))
def test_solutions_substitute_back_and_none_is_missed(n, f, p, s, d, unknown):
    out = out_of(n, f, p, s, d)
    if out is None:
        return
    values = {"n": n, "f": f, "p": p, "s": s, "d": d}
    given_values = {k: str(v) for k, v in values.items() if k != unknown}
    result = solve_conv(unknown, {**given_values, "out": str(out)})
    bound = {"n": 200, "f": 60, "p": 60, "s": 200, "d": 60}[unknown]
    brute = []
    for candidate in range(0 if unknown == "p" else 1, bound + 1):
        trial = {**values, unknown: candidate}
        if out_of(**trial) == out:
            brute.append(candidate)
    assert values[unknown] in brute
    if result.range is not None and result.range[1] is None:  # unbounded: every value from lo on
        assert brute == list(range(result.range[0], bound + 1))
    elif result.range is not None:
        assert brute == list(range(result.range[0], result.range[1] + 1))
    else:
        assert brute == result.solutions
    for value in result.solutions:
        assert out_of(**{**values, unknown: value}) == out


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 300), f=st.integers(1, 9), s=st.integers(1, 4), d=st.integers(1, 3))
def test_same_padding_reproduces_ceil_n_over_s(n, f, s, d):
    result = solve_conv("p", {"n": str(n), "f": str(f), "s": str(s), "d": str(d)}, same=True)
    before, after = result.pads
    expected = -(-n // s)
    a = n + before + after - d * (f - 1) - 1
    assert a // s + 1 == expected


@pytest.mark.parametrize("evil", [
    "__import__('os').system('echo pwned')", "().__class__", "lambda: 1", "1; import os", "open('x')",
    "f.__globals__", "9**9**9", "[1]", "{}", "`ls`", "a" * 300,
])
def test_untrusted_expressions_are_rejected(evil, cli):
    code, out, err = cli("solve", "--n", evil, "--f", "3", "--for", "out")
    assert code == 2 and "Traceback" not in err and err.startswith("error: bad value for --n")
    assert "pwned" not in out


def test_no_sympify_or_parse_expr_in_the_package():
    root = Path(__file__).parent.parent / "cnncalc"
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "sympify(" not in text and "parse_expr(" not in text and "eval(" not in text.replace(
            "evaluate(", ""), path


def test_solve_cli_json_contract(cli):
    code, out, _ = cli("solve", "--f", "7", "--same", "--for", "p", "--format", "json")
    data = json.loads(out)
    assert code == 0 and set(data) >= {"unknown", "solutions", "expression", "steps", "notes"}
    assert data["unknown"] == "p" and data["solutions"] == [3] and data["expression"] == "(f - 1)/2"
    code, out, _ = cli("solve", "--f", "f", "--same", "--for", "p")
    assert "p = (f - 1)/2" in out
    code, out, _ = cli("solve", "--f", "3", "--p", "0", "--s", "2", "--out", "2", "--for", "n")
    assert "n ∈ {5, 6}" in out
    code, out, _ = cli("solve", "--n", "10", "--f", "3", "--out", "1", "--for", "s")
    assert code == 0 and "s ≥ 8" in out
    code, _, err = cli("solve", "--f", "3", "--for", "q")
    assert code == 2 and "--for" in err
    code, _, err = cli("solve", "--n", "5", "--f", "3", "--for", "p")
    assert code == 2 and "--out" in err
    code, out, _ = cli("solve", "--transpose", "--n", "4", "--f", "3", "--s", "2", "--p", "1", "--output-padding",
                       "1", "--for", "out")
    assert code == 0 and "out = 8" in out


SYMBOLIC = """
input: [n, n, 3]
layers:
  - {type: conv, name: c1, filters: 8, kernel: 3}
  - {type: maxpool, name: p1, kernel: 2}
  - {type: conv, name: c2, filters: 16, kernel: 5, stride: 2}
"""


def test_symbolic_summary_shapes_and_explain(tmp_path, cli):
    summary = analyse(loads_spec(SYMBOLIC))
    assert str(summary.record("c1").output_shape[0]) == "n - 2"          # ⌊(n − 3)/1⌋ + 1
    assert str(summary.record("p1").output_shape[0]) == "floor(n/2) - 1"  # ⌊(n − 2 − 2)/2⌋ + 1
    assert str(summary.record("c2").output_shape[0]) == "floor(n/4) - 2"  # ⌊(⌊n/2⌋ − 1 − 5)/2⌋ + 1
    assert summary.params == 224 + 3216
    path = tmp_path / "sym.yaml"
    path.write_text(SYMBOLIC)
    code, out, _ = cli("summary", str(path), "--explain", "--format", "json")
    layer = json.loads(out)["layers"][1]
    assert layer["output_shape"] == ["floor(n/2) - 1", "floor(n/2) - 1", 8]
    assert layer["explain"][0] == "H: ⌊(n - 2 + 2·0 − 2)/2⌋ + 1 = floor(n/2) - 1"
    code, out, _ = cli("summary", str(path), "--where", "n=64", "--format", "json")
    assert [layer["output_shape"] for layer in json.loads(out)["layers"]] == [[62, 62, 8], [31, 31, 8], [14, 14, 16]]
    code, _, err = cli("summary", str(path), "--where", "m=64")
    assert code == 2 and "symbol the spec does not have" in err


def test_spec_conditions():
    network = loads_spec(SYMBOLIC)
    # valid: c2 needs ⌊n/2⌋ − 1 ≥ 5 ⇔ n ≥ 12
    result = valid_sizes(network, "n", 1, 64)
    assert result.solutions == list(range(12, 65))
    # exact: (n − 3) % 1, (n − 2 − 2) % 2 = 0 ⇔ n even, (n/2 − 1 − 5) % 2 = 0 ⇔ n/2 even ⇔ n % 4 == 0
    exact = valid_sizes(network, "n", 1, 64, exact=True)
    assert exact.solutions == list(range(12, 65, 4))
    for n in exact.solutions:
        numeric = analyse(substitute(network, {"n": n}))
        assert all(d == 0 for r in numeric.records for d in r.dropped)


def test_spec_conditions_cli(tmp_path, cli):
    path = tmp_path / "sym.yaml"
    path.write_text(SYMBOLIC)
    code, out, _ = cli("solve", "--spec", str(path), "--for", "n", "--max", "40", "--exact", "--format", "json")
    assert code == 0 and json.loads(out)["solutions"] == [12, 16, 20, 24, 28, 32, 36, 40]
    code, _, err = cli("solve", "--spec", str(path), "--for", "k")
    assert code == 2 and "no input symbol 'k'" in err
