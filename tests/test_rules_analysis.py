"""The calculator's rules (analysis): receptive fields through chains of convolutions and pools (a literal
recurrence and impulse responses of the executor), through merges, and totals per layer and per block."""

from __future__ import annotations

import numpy as np
import pytest

from cnncalc import CnnCalcError, analyse, loads_spec
from cnncalc.calc.analysis import block_records
from cnncalc.run.executor import run


def literal_rf(layers: list[tuple[int, int, int, int]]) -> tuple[float, float, float]:
    """(size, jump, start) along one axis through (kernel, stride, pad_before, dilation) layers, as the
    textbook recurrence: r += (k_eff − 1)·j; start += ((k_eff − 1)/2 − p)·j; j *= s."""
    size, jump, start = 1, 1, 0.0
    for k, s, p, d in layers:
        k_eff = d * (k - 1) + 1
        size += (k_eff - 1) * jump
        start += ((k_eff - 1) / 2 - p) * jump
        jump *= s
    return size, jump, start


def layer_yaml(kind: str, k: tuple[int, int], s: tuple[int, int], p: tuple[int, int], d: tuple[int, int]) -> str:
    if kind == "conv":
        return (f"{{type: conv, filters: 2, kernel: {list(k)}, stride: {list(s)}, padding: {list(p)}, "
                f"dilation: {list(d)}}}")
    return f"{{type: {kind}, kernel: {list(k)}, stride: {list(s)}, padding: {list(p)}}}"


CHAINS = [
    # (type, kernel (h, w), stride, padding, dilation) per layer: every axis different
    [("conv", (3, 5), (1, 2), (1, 2), (1, 1)), ("maxpool", (2, 3), (2, 3), (0, 1), (1, 1)),
     ("conv", (3, 1), (2, 1), (0, 0), (2, 1))],
    [("conv", (7, 7), (2, 2), (3, 3), (1, 1)), ("maxpool", (3, 3), (2, 2), (1, 1), (1, 1)),
     ("conv", (3, 3), (1, 1), (1, 1), (1, 1)), ("conv", (3, 3), (2, 2), (1, 1), (1, 1))],
    [("avgpool", (2, 4), (2, 4), (0, 0), (1, 1)), ("conv", (2, 3), (3, 2), (1, 0), (3, 2)),
     ("avgpool", (3, 2), (1, 2), (1, 0), (1, 1))],
]


@pytest.mark.parametrize("chain", CHAINS, ids=["asymmetric", "resnet-stem", "dilated"])
def test_receptive_field_of_conv_and_pool_chains(chain):
    spec = "input: [64, 64, 3]\nlayers:\n" + "".join(f"  - {layer_yaml(*layer)}\n" for layer in chain)
    records = analyse(loads_spec(spec)).records
    for depth, record in enumerate(records, start=1):
        for axis in (0, 1):
            want = literal_rf([(layer[1][axis], layer[2][axis], layer[3][axis], layer[4][axis])
                               for layer in chain[:depth]])
            got = tuple(float(v) for v in record.receptive_field[axis])
            assert got == pytest.approx(want), (
                f"layer {depth} ({record.type}) axis {'HW'[axis]}: receptive field (size, jump, start) {got}, "
                f"the recurrence gives {want}")


def impulse_span(spec: str, shape: tuple[int, int, int]) -> tuple[int, int]:
    """The largest number of input rows / columns one output pixel depends on, from the executor."""
    net = loads_spec(spec)
    base = run(net, np.zeros(shape), seed=0).output  # weights only matter through which inputs reach an output
    touched: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for i in range(shape[0]):
        for j in range(shape[1]):
            x = np.zeros(shape)
            x[i, j, :] = 1.0
            changed = np.any(run(net, x, seed=0).output != base, axis=-1)
            for r, q in zip(*np.nonzero(changed)):
                touched.setdefault((int(r), int(q)), []).append((i, j))
    rows = max(max(i for i, _ in v) - min(i for i, _ in v) + 1 for v in touched.values())
    cols = max(max(j for _, j in v) - min(j for _, j in v) + 1 for v in touched.values())
    return rows, cols


@pytest.mark.parametrize("layers", [
    ("[{type: conv, filters: 1, kernel: [3, 2], stride: [1, 2], weight: ONES32, bias: [0]}, "
    "{type: maxpool, kernel: [2, 3], stride: [2, 1]}]"),
    ("[{type: conv, filters: 1, kernel: [2, 3], dilation: [2, 1], weight: ONES23, bias: [0]}, "
    "{type: avgpool, kernel: 2, stride: [1, 2]}]"),
])
def test_receptive_field_size_matches_impulse_responses(layers):
    layers = layers.replace("ONES32", str(np.ones((3, 2, 1, 1)).tolist())).replace(
        "ONES23", str(np.ones((2, 3, 1, 1)).tolist()))
    spec = f"input: [11, 12, 1]\nlayers: {layers}"
    size = analyse(loads_spec(spec)).records[-1].receptive_field
    assert impulse_span(spec, (11, 12, 1)) == (int(size[0][0]), int(size[1][0])), (
        f"the calculator's receptive field {size} disagrees with the executor's impulse responses")


def test_merges_take_the_largest_receptive_field():
    spec = """
input: [32, 32, 3]
layers:
  - {type: conv, name: small, filters: 4, kernel: 1}
  - {type: conv, name: big, filters: 4, kernel: [5, 3], stride: [2, 1], padding: [2, 1], inputs: input}
  - {type: conv, name: big2, filters: 4, kernel: 3, stride: [1, 2], padding: 1}
  - {type: conv, name: small2, filters: 4, kernel: 1, stride: [2, 2], inputs: small}
  - {type: add, name: sum, inputs: [small2, big2]}
  - {type: concat, name: cat, inputs: [big2, small2]}
"""
    summary = analyse(loads_spec(spec))
    big2 = summary.record("big2").receptive_field
    assert [float(v) for v in big2[0]] == [9, 2, 0] and [float(v) for v in big2[1]] == [5, 2, 0]
    assert summary.record("sum").receptive_field == big2, "an add takes the larger field of its inputs per axis"
    assert summary.record("cat").receptive_field == big2, "so does a concat, whatever the order of its inputs"


def test_flatten_and_dense_have_no_receptive_field():
    summary = analyse(loads_spec("input: [8, 8, 1]\nlayers: [{type: conv, filters: 2, kernel: 3}, {type: flatten}, "
                                 "{type: dense, units: 3}]"))
    assert summary.records[0].receptive_field is not None
    assert summary.records[1].receptive_field is None and summary.records[2].receptive_field is None


# ---------------------------------------------------------------- transposed convolution (DESIGN.md rule)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


TRANSPOSED = [
    # (kernel, stride, dilation): the rule "a transposed conv reads ⌈k_eff/s⌉ pixels of the layer below"
    (3, 1, 1), (3, 2, 1), (5, 2, 1), (2, 2, 2), (7, 3, 1),
    (3, 3, 1), (4, 2, 1), (2, 2, 1),  # k_eff/s not whole, or s = k: the ceiling matters
]


@pytest.mark.parametrize(("k", "s", "d"), TRANSPOSED)
def test_transposed_conv_receptive_field_follows_the_design_rule(k, s, d):
    spec = (f"input: [9, 9, 1]\nlayers: [{{type: conv, filters: 1, kernel: 3, stride: 2}}, "
            f"{{type: conv_transpose, filters: 1, kernel: {k}, stride: {s}, dilation: {d}}}]")
    below_size, below_jump = 3, 2  # the 3×3 stride-2 conv
    k_eff = d * (k - 1) + 1
    record = analyse(loads_spec(spec)).records[-1]
    size, jump, _ = record.receptive_field[0]
    assert float(jump) == pytest.approx(below_jump / s), "a transposed conv divides the jump by its stride"
    want = below_size + (ceil_div(k_eff, s) - 1) * below_jump
    assert float(size) == pytest.approx(want), (
        f"conv_transpose k={k} s={s} d={d} after a 3×3/2 conv: size {float(size)}, DESIGN.md's rule gives {want}")


# ---------------------------------------------------------------- totals


def test_records_and_totals():
    spec = """
input: [10, 12, 3]
layers:
  - {type: conv, name: c, filters: 4, kernel: [3, 5], stride: [1, 2], groups: 1}
  - {type: batchnorm, name: bn}
  - {type: depthwise_conv, name: dw, kernel: 3, multiplier: 2, padding: 1, bias: false}
  - {type: flatten, name: f}
  - {type: dense, name: d, units: 7}
"""
    summary = analyse(loads_spec(spec))
    c, bn, dw, f, d = summary.records
    assert c.output_shape == (8, 4, 4) and c.size == 128
    assert (c.trainable, c.non_trainable, c.macs) == (3 * 5 * 3 * 4 + 4, 0, 8 * 4 * 4 * 3 * 3 * 5)
    assert (bn.trainable, bn.non_trainable, bn.macs) == (8, 8, 0)
    assert dw.output_shape == (8, 4, 8) and (dw.params, dw.macs) == (3 * 3 * 4 * 2, 8 * 4 * 8 * 9)
    assert f.output_shape == (256,) and d.params == 256 * 7 + 7 and d.macs == 256 * 7
    assert summary.trainable == c.params + 8 + dw.params + d.params and summary.non_trainable == 8
    assert summary.params == summary.trainable + summary.non_trainable
    assert summary.macs == c.macs + dw.macs + d.macs and summary.input_size == 360
    assert [r.name for r in summary.outputs] == ["d"]
    assert [r.index for r in summary.records] == [1, 2, 3, 4, 5]
    with pytest.raises(KeyError):
        summary.record("nope")


def test_block_records_sum_their_layers():
    spec = """
input: [16, 16, 3]
blocks:
  pair:
    params: {filters: null}
    layers:
      - {type: conv, name: a, filters: $filters, kernel: 3, padding: 1}
      - {type: conv, name: b, filters: $filters, kernel: 3, stride: 2, padding: 1}
layers:
  - {block: pair, name: p, repeat: 2, filters: 4}
  - {type: flatten}
"""
    summary = analyse(loads_spec(spec))
    blocks = {b.name: b for b in block_records(summary)}
    assert list(blocks) == ["p", "p.0", "p.1"], "outer instance first, then each copy"
    first, second, outer = blocks["p.0"], blocks["p.1"], blocks["p"]
    assert (first.depth, second.depth, outer.depth) == (2, 2, 1)
    assert first.input_shape == (16, 16, 3) and first.output_shape == (8, 8, 4)
    assert second.input_shape == (8, 8, 4) and second.output_shape == (4, 4, 4)
    assert first.params == (27 * 4 + 4) + (36 * 4 + 4) and second.params == 2 * (36 * 4 + 4)
    assert outer.params == first.params + second.params and outer.macs == first.macs + second.macs
    assert (first.first_index, first.last_index, second.first_index, second.last_index) == (1, 2, 3, 4)
    assert outer.receptive_field == summary.record("p.1.b").receptive_field


# ---------------------------------------------------------------- the size formulas (maths/arith)


def test_arith_integer_formulas_against_literal_ones():
    from cnncalc.maths import arith

    for n in range(1, 30):
        for k in range(1, 6):
            for s in range(1, 4):
                for d in (1, 2):
                    span = d * (k - 1) + 1
                    for pb, pa in ((0, 0), (1, 0), (0, 2), (2, 1)):
                        if n + pb + pa >= span:
                            assert arith.conv_output(n, k, s, pb, pa, d) == (n + pb + pa - span) // s + 1
                    out, before, after = arith.same_padding(n, k, s, d)
                    total = max((-(-n // s) - 1) * s + span - n, 0)
                    assert (out, before, after) == (-(-n // s), total // 2, total - total // 2), (n, k, s, d)
                    assert arith.transpose_output(n, k, s, 1, 0, 1, d) == (n - 1) * s - 1 + d * (k - 1) + 2
                    if n + 1 >= span:  # ceil mode with one pixel of padding on each side
                        out = -(-(n + 2 - span) // s) + 1
                        if (out - 1) * s >= n + 1:
                            out -= 1
                        assert arith.pool_output_ceil(n, k, s, 1, 1, d) == out, (n, k, s, d)
        assert arith.floor_div(n, 4) == n // 4 and arith.ceil_div(n, 4) == -(-n // 4)
        assert arith.floor_div(-n, 4) == -n // 4 and arith.ceil_div(-n, 4) == -(n // 4)
    assert arith.effective_kernel(3, 2) == 5 and arith.effective_kernel(1, 7) == 1
    assert arith.maximum(3, 5) == 5 and arith.maximum(5, 3) == 5
    assert arith.product([2, 3, 4]) == 24 and arith.product([]) == 1
    assert arith.is_int(3) and not arith.is_int(True) and not arith.is_int(3.0)
    assert arith.known_positive(1) is True and arith.known_positive(0) is False


def test_arith_symbolic_formulas():
    import sympy

    from cnncalc.maths import arith

    n = sympy.Symbol("n", positive=True, integer=True)
    out = arith.conv_output(n, 5, 2, 0, 0)
    assert [out.subs(n, v) for v in range(5, 30)] == [(v - 5) // 2 + 1 for v in range(5, 30)], "⌊(n − 5)/2⌋ + 1"
    nested = arith.floor_div(arith.floor_div(n, 2) - 2, 2)
    assert str(nested) == "floor(n/4) - 1", "⌊(⌊n/2⌋ − 2)/2⌋ = ⌊(n − 4)/4⌋, in its canonical form"
    assert [nested.subs(n, v) for v in range(4, 20)] == [(v // 2 - 2) // 2 for v in range(4, 20)]
    def at(value, v):
        return int(value.subs(n, v)) if hasattr(value, "subs") else value

    # symbolic floors and ceilings are kept in one canonical form (ceilings as floors): compare their values
    assert [at(arith.ceil_div(n, 3), v) for v in range(1, 13)] == [-(-v // 3) for v in range(1, 13)]
    assert arith.same_padding(n, 3, 1) == (n, 1, 1), "stride 1: total pad d·(k − 1), no Max()"
    out, before, after = arith.same_padding(n, 3, 2)
    for v in range(1, 13):
        total = max((-(-v // 2) - 1) * 2 + 3 - v, 0)
        assert (at(out, v), at(before, v), at(after, v)) == (-(-v // 2), total // 2, total - total // 2), v
    assert arith.maximum(n, 3) == sympy.Max(n, 3)
    assert arith.simplify(sympy.Integer(7)) == 7 and type(arith.simplify(sympy.Integer(7))) is int
    assert arith.simplify(2 * n - n) == n and arith.known_positive(n) is True
    assert arith.show(n + 1) == "n + 1" and arith.show(4) == "4"
    assert arith.factor_text(n + 1) == "(n + 1)" and arith.factor_text(n) == "n" and arith.factor_text(3) == "3"
    assert arith.factor_text(sympy.floor(n / 2)) == "floor(n/2)"
    piece = arith.pool_output_ceil(n, 2, 2, 0, 0)
    assert [piece.subs(n, v) for v in (4, 5, 6)] == [2, 3, 3], "ceil mode on ⌈(n − 2)/2⌉ + 1"


# ---------------------------------------------------------------- each layer rule on asymmetric inputs


def _value(text: str) -> float | None:
    """A worked line's side as a number: digits, + − · / ⌊⌋ ⌈⌉ and parentheses; None for prose."""
    import ast
    import math
    import re

    text = (text.replace("·", "*").replace("−", "-").replace("⌊", "floor(").replace("⌋", ")")
            .replace("⌈", "ceil(").replace("⌉", ")"))
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text).strip()
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            a, b = walk(node.left), walk(node.right)
            return a + b if isinstance(node.op, ast.Add) else a - b if isinstance(node.op, ast.Sub) else (
                a * b if isinstance(node.op, ast.Mult) else a / b)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("floor", "ceil"):
            return float(getattr(math, node.func.id)(walk(node.args[0])))
        raise ValueError

    try:
        return walk(tree)
    except (ValueError, ZeroDivisionError):
        return None


ASYMMETRIC = """
input: [13, 17, 6]
layers:
  - {type: conv, name: c, filters: 4, kernel: [3, 5], stride: [2, 3], padding: [[1, 0], [2, 1]], dilation: [1, 2], groups: 2}
  - {type: depthwise_conv, name: dw, kernel: [2, 3], stride: [1, 2], multiplier: 3, padding: same}
  - {type: separable_conv, name: sep, filters: 5, kernel: [3, 1], multiplier: 2, bias: false}
  - {type: conv_transpose, name: up, filters: 2, kernel: [3, 4], stride: [2, 3], padding: [1, 0], output_padding: [1, 2]}
  - {type: maxpool, name: mp, kernel: [3, 2], stride: [2, 1], padding: [1, 0]}
  - {type: avgpool, name: ap, kernel: 2, stride: [1, 2], ceil_mode: true}
  - {type: zero_pad, name: zp, padding: [[1, 2], [0, 3]]}
  - {type: batchnorm, name: bn, center: false, count_stats: false}
  - {type: global_avgpool, name: gap, keepdims: true}
  - {type: flatten, name: f}
  - {type: dense, name: d, units: 3, bias: false}
"""


def test_layer_rules_on_asymmetric_inputs():
    records = {r.name: r for r in analyse(loads_spec(ASYMMETRIC)).records}
    # conv: H ⌊(13 + 1 − 3)/2⌋ + 1 = 6, W ⌊(17 + 3 − 9)/3⌋ + 1 = 4 (dilated span 2·4 + 1)
    c = records["c"]
    assert c.output_shape == (6, 4, 4) and c.params == 3 * 5 * 3 * 4 + 4 and c.macs == 6 * 4 * 4 * 3 * 3 * 5
    # depthwise 'same': ⌈6/1⌉ = 6, ⌈4/2⌉ = 2; 4·3 channels
    dw = records["dw"]
    assert dw.output_shape == (6, 2, 12) and dw.params == 2 * 3 * 4 * 3 + 12 and dw.macs == 6 * 2 * 4 * 3 * 2 * 3
    sep = records["sep"]
    assert sep.output_shape == (4, 2, 5) and sep.params == 3 * 12 * 2 + 24 * 5
    assert sep.macs == 4 * 2 * 12 * 2 * (3 + 5)
    # transpose: (4 − 1)·2 − 2 + 3 + 1 = 8; (2 − 1)·3 − 0 + 4 + 2 = 9
    up = records["up"]
    assert up.output_shape == (8, 9, 2) and up.params == 3 * 4 * 5 * 2 + 2 and up.macs == 4 * 2 * 5 * 3 * 4 * 2
    assert records["mp"].output_shape == (4, 8, 2), "⌊(8 + 2 − 3)/2⌋ + 1 = 4, ⌊(9 − 2)/1⌋ + 1 = 8"
    assert records["ap"].output_shape == (3, 4, 2), "ceil mode: ⌈(4 − 2)/1⌉ + 1 = 3, ⌈(8 − 2)/2⌉ + 1 = 4"
    assert records["zp"].output_shape == (6, 7, 2)
    assert (records["bn"].trainable, records["bn"].non_trainable) == (2, 0), "scale only, statistics not counted"
    assert records["gap"].output_shape == (1, 1, 2) and records["f"].output_shape == (2,)
    assert records["d"].params == 6 and records["d"].macs == 6
    for record in records.values():
        assert record.params == record.trainable + record.non_trainable


def test_every_worked_line_of_the_calculator_adds_up():
    from cnncalc.spec.network import load_spec

    checked = 0
    for spec in [loads_spec(ASYMMETRIC), load_spec("lenet5"), load_spec("alexnet"), load_spec("resnet18")]:
        for record in analyse(spec).records:
            for line in record.explain:
                if " = " not in line:
                    continue
                left, right = line.rsplit(" = ", 1)
                total, result = _value(left.split(": ", 1)[-1]), _value(right)
                if total is None or result is None:
                    continue
                assert total == pytest.approx(result), f"{spec.name} {record.name}: {line!r} does not add up"
                checked += 1
    assert checked > 100, f"only {checked} worked lines were checked"


@pytest.mark.parametrize(("layer", "message"), [
    ("{type: conv, filters: 3, kernel: 3, groups: 2}", "filters must be divisible by groups"),
    ("{type: conv, filters: 4, kernel: 3, groups: 4}", "input channels must be divisible by groups"),
    ("{type: conv, filters: 4, kernel: 9}", "larger than the padded input"),
    ("{type: conv, filters: 0, kernel: 3}", "filters"),
    ("{type: conv_transpose, filters: 1, kernel: 3, padding: full}", "'full' padding is not defined for conv_transpose"),
    ("{type: conv_transpose, filters: 1, kernel: 3, stride: 2, output_padding: 2}", "output_padding must be smaller"),
    ("{type: dropout, rate: 1.0}", "a number in [0, 1)"),
])
def test_layer_field_errors(layer, message):
    with pytest.raises(CnnCalcError) as caught:
        analyse(loads_spec(f"input: [6, 7, 3]\nlayers: [{layer}]"))
    assert message in str(caught.value), str(caught.value)


def test_dropout_rate_edges():
    assert analyse(loads_spec("input: [4]\nlayers: [{type: dropout, rate: 0}]")).records[0].output_shape == (4,)
    assert analyse(loads_spec("input: [4]\nlayers: [{type: dropout, rate: 0.999}]")).records[0].params == 0


# ---------------------------------------------------------------- error lines, whole: file, line, layer, field, got, expected


@pytest.mark.parametrize(("layers", "message"), [
    ("[{type: conv_transpose, name: t, filters: 1, kernel: 1, padding: 2}]",
     "n.yaml:2: layer 1 't': output size along H is not positive (got 0, expected at least 1)"),
    (("[{type: relu, name: a}, {type: conv, name: b, filters: 3, kernel: 1, inputs: input}, {type: add, name: s, "
     "inputs: [a, b]}]"),
     ("n.yaml:2: layer 3 's': field 'inputs': inputs of add need equal shapes or broadcasting ones: input 2 ('b') has 3 "
     "where input 1 ('a') has 2 (axis -1 from the end) (got ['4', '4', '3'], expected a shape that broadcasts with "
     "['4', '4', '2'] (each axis equal or 1, aligned from the last axis))")),
    ("[{type: relu, name: a}, {type: flatten, name: b, inputs: input}, {type: concat, name: s, inputs: [a, b]}]",
     ("n.yaml:2: layer 3 's': field 'inputs': inputs of concat must have the same rank; input 2 ('b') has 1 axes "
     "(got ['32'], expected 3 axes)")),
    (("[{type: relu, name: a}, {type: maxpool, kernel: 2, name: b, inputs: input}, {type: concat, name: s, "
     "inputs: [a, b]}]"),
     ("n.yaml:2: layer 3 's': field 'inputs': inputs of concat must agree on every axis but -1; input 2 ('b') differs "
     "on axis 0 (got ['2', '2', '2'], expected ['4', '4', '2'])")),
    ("[{type: relu, name: a}, {type: relu, name: b, inputs: input}, {type: concat, name: s, axis: 3, inputs: [a, b]}]",
     ("n.yaml:2: layer 3 's': field 'axis': axis out of range: axis 3 does not exist in an input of 3 axes (got 3, "
     "expected an axis from -3 to 2 (the sample's axes, 0-based, no batch axis))")),
    ("[{type: reshape, name: r, shape: [5, -1]}]",
     ("n.yaml:2: layer 1 'r': field 'shape': cannot reshape 32 values into [5, -1] (got [5, -1], expected a shape "
     "whose known part divides 32)")),
    ("[{type: reshape, name: r, shape: [5, 6]}]",
     ("n.yaml:2: layer 1 'r': field 'shape': cannot reshape 32 values into [5, 6] (got [5, 6], expected a shape of 32 "
     "values)")),
])
def test_error_lines_name_everything_a_user_needs(layers, message):
    with pytest.raises(CnnCalcError) as caught:
        analyse(loads_spec(f"input: [4, 4, 2]\nlayers: {layers}", "n.yaml"))
    assert str(caught.value) == message


def test_concat_on_another_axis():
    summary = analyse(loads_spec("input: [4, 4, 2]\nlayers: [{type: relu, name: a}, {type: maxpool, name: b, kernel: "
                                 "[1, 2], inputs: input}, {type: concat, name: s, axis: 1, inputs: [a, b]}]"))
    s = summary.record("s")
    assert s.output_shape == (4, 6, 2) and s.explain == ["axis 1: 4 + 2 = 6", "RF: the union of the inputs' fields = 1×2"]


def test_layer_explain_lines_for_global_pools_and_batchnorm():
    def explain(layer: str) -> list[str]:
        return analyse(loads_spec(f"input: [2, 3, 4]\nlayers: [{layer}]")).records[0].explain

    gone = "RF: global (every output value depends on the whole input)"
    assert explain("{type: global_maxpool}") == ["max over all 2·3 positions of each channel", gone]
    assert explain("{type: global_avgpool}") == ["mean over all 2·3 positions of each channel", gone]
    assert explain("{type: batchnorm}") == ["trainable: 4·2 (gamma, beta) = 8",
                                            "non-trainable: 2·4 (moving mean, variance) = 8"]
    assert explain("{type: batchnorm, count_stats: false, center: false}") == [
        "trainable: 4·1 (gamma, beta) = 4", "moving mean and variance: buffers, not counted (count_stats: false)"]
    with pytest.raises(CnnCalcError) as caught:
        analyse(loads_spec("input: [n, n, c]\nlayers: [{type: batchnorm, name: bn}]", "s.yaml"))
    assert str(caught.value) == ("s.yaml:2: layer 1 'bn': the feature count must be a number, not a symbol "
                                 "(got 'c', expected an integer)")


def test_merge_prefers_the_larger_jump_when_sizes_tie():
    from cnncalc.calc.analysis import _rf_merge

    small_jump, big_jump = [(3, 1, 1.0), (3, 1, 1.0)], [(3, 3, 1.0), (3, 3, 1.0)]
    assert _rf_merge([small_jump, big_jump]) == big_jump and _rf_merge([big_jump, small_jump]) == big_jump, (
        "equal sizes: the path with the larger jump wins")


def test_errors_inside_blocks_name_the_line_of_the_bad_value():
    spec = 'input: [4]\nblocks: {b: {params: {w: 1}, layers: [{type: dense,\n   units: "${w +}"}]}}\nlayers: [{block: b}]'
    with pytest.raises(CnnCalcError) as caught:
        loads_spec(spec, "s.yaml")
    assert str(caught.value).startswith("s.yaml:3: in '${w +}'"), str(caught.value)


@pytest.mark.parametrize(("layer", "message"), [
    ("{type: maxpool, name: p, kernel: 2, padding: full}",
     ("s.yaml:2: layer 1 'p': field 'padding': 'full' padding is not defined for pooling (got 'full', expected an "
     "int, a list, 'valid' or 'same')")),
    ("{type: maxpool, name: p, kernel: [2, 5], padding: [1, 3]}",
     ("s.yaml:2: layer 1 'p': field 'padding': pooling padding must be at most half the window (got 3, expected at "
     "most 2 for a window of 5)")),
    ("{type: maxpool, name: p, kernel: 2, padding: same, ceil_mode: true}",
     ("s.yaml:2: layer 1 'p': field 'ceil_mode': ceil_mode cannot be combined with 'same' padding (got True, "
     "expected false with padding 'same')")),
])
def test_pool_field_error_lines(layer, message):
    with pytest.raises(CnnCalcError) as caught:
        analyse(loads_spec(f"input: [4, 4, 1]\nlayers: [{layer}]", "s.yaml"))
    assert str(caught.value) == message


def test_pool_padding_at_half_the_window_and_same_explain():
    ok = analyse(loads_spec("input: [4, 4, 1]\nlayers: [{type: maxpool, kernel: [2, 5], padding: [1, 2]}]")).records[0]
    assert ok.output_shape == (3, 1, 1), "padding k // 2 is allowed: ⌊(4 + 2 − 2)/2⌋ + 1 = 3, ⌊(4 + 4 − 5)/5⌋ + 1 = 1"
    same = analyse(loads_spec("input: [5, 7, 1]\nlayers: [{type: maxpool, kernel: [2, 3], stride: 2, padding: same}]"))
    assert same.records[0].explain == [
        "H: ⌊(5 + 0 + 1 − 2)/2⌋ + 1 = 3", "W: ⌊(7 + 2·1 − 3)/2⌋ + 1 = 4",
        "padding 'same' (TensorFlow rule): pads (top, bottom) = (0, 1), (left, right) = (1, 1)",
        "params: 0 (pooling has no weights)",
        "RF H: r = r_prev + (k − 1)·j_prev = 1 + (2 − 1)·1 = 2, j = j_prev·s = 1·2 = 2",
        "RF W: r = r_prev + (k − 1)·j_prev = 1 + (3 − 1)·1 = 3, j = j_prev·s = 1·2 = 2"]
    assert analyse(loads_spec("input: [6, 6, 1]\nlayers: [{type: avgpool, kernel: 3}]")).records[0].output_shape == (
        2, 2, 1), "stride defaults to the kernel"


def test_add_of_symbolic_shapes():
    summary = analyse(loads_spec("input: [n, n, 2]\nlayers: [{type: relu, name: a}, {type: zero_pad, name: z, padding: 0, "
                                 "inputs: input}, {type: add, name: s, inputs: [a, z]}]"))
    assert [str(d) for d in summary.record("s").output_shape] == ["n", "n", "2"], "n − n simplifies to 0: equal dims"
    with pytest.raises(CnnCalcError, match=r"inputs of add need equal shapes or broadcasting ones: input 2 \('z'\) has n \+ 2 where input 1 \('a'\) has n"):
        analyse(loads_spec("input: [n, n, 2]\nlayers: [{type: relu, name: a}, {type: zero_pad, name: z, padding: 1, "
                           "inputs: input}, {type: add, name: s, inputs: [a, z]}]"))
