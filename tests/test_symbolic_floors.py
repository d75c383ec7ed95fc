"""Symbolic input sizes (`input: [n, n, 3]`): shapes built from canonical floors must equal, for every
integer n tried, the numeric analysis of the same spec with n put in, and stay fast on long chains."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc import CnnCalcError, analyse, loads_spec
from cnncalc.calc.symbolic import substitute
from cnncalc.maths import arith

DATA = Path(__file__).parent / "data"
ZOO = Path(__file__).parent.parent / "cnncalc" / "zoo"
N = sympy.Symbol("n", integer=True, positive=True)
# small sizes (where floors and ceilings bite hardest) and sizes around the usual 224
SIZES = [*range(1, 70), 223, 224, 225, 226, 227, 229, 231, 255, 256, 257]


def symbolic_text(path: Path) -> str:
    lines = path.read_text().splitlines()
    return "\n".join("input: [n, n, 3]" if line.startswith("input:") else line for line in lines)


def numeric_value(value, n: int):
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value
    return value.xreplace({N: n})


def assert_matches_numeric(text: str, sizes=SIZES) -> int:
    """Every layer's shape and receptive field, n substituted, equals the numeric analysis; returns how
    many sizes were valid (a test that checks nothing must not pass quietly)."""
    network = loads_spec(text)
    symbolic = analyse(network)
    checked = 0
    for n in sizes:
        try:
            numeric = analyse(substitute(network, {"n": n}))
        except CnnCalcError:
            continue
        checked += 1
        for sym, num in zip(symbolic.records, numeric.records):
            got = tuple(int(numeric_value(d, n)) for d in sym.output_shape)
            assert got == tuple(num.output_shape), (n, sym.name, sym.output_shape)
            if num.receptive_field is not None:
                # After a transposed conv, an upsampling or an adaptive pool a numeric analysis composes each
                # output pixel's exact field; a symbolic one keeps the (size, jump) recurrence, which can be
                # larger (edge pixels read fewer) or smaller (neighbours read different amounts). Shapes and
                # MACs are still compared; fields only up to the first such layer.
                exact = any(r.type.startswith(("conv_transpose", "upsample", "adaptive"))
                            for r in symbolic.records[:sym.index])
                for (s_size, s_jump, s_start), (size, jump, start) in zip(sym.receptive_field, num.receptive_field):
                    if exact:
                        continue
                    assert (numeric_value(s_size, n), numeric_value(s_jump, n)) == (size, jump), (n, sym.name)
                    assert float(numeric_value(s_start, n)) == pytest.approx(float(start)), (n, sym.name)
            assert numeric_value(sym.macs, n) == num.macs, (n, sym.name)
        assert numeric_value(symbolic.macs, n) == numeric.macs
    return checked


def test_squeezenet_1_1_parameters_match_torchvision():
    summary = analyse(loads_spec((DATA / "squeezenet1_1.yaml").read_text()))
    assert summary.params == 1_235_496  # torchvision.models.squeezenet1_1()
    # 224 → conv 3/2: 111 → ceil pool 3/2: ⌈108/2⌉ + 1 = 55 → ceil pool: 27 → ceil pool: 13
    assert summary.record("pool1").output_shape == (55, 55, 64)
    assert summary.record("pool5").output_shape == (13, 13, 256)


@pytest.mark.parametrize("path", [DATA / "squeezenet1_1.yaml", ZOO / "resnet50.yaml"], ids=["squeezenet1_1",
                                                                                          "resnet50"])
def test_symbolic_chain_equals_numeric_and_is_fast(path):
    text = symbolic_text(path)
    start = time.perf_counter()
    summary = analyse(loads_spec(text))
    elapsed = time.perf_counter() - start
    # a hang guard: 0.1 s quiet; the speed target (2 s with the table) is benchmarks/bench_symbolic.py's
    assert elapsed < 10, f"symbolic analysis took {elapsed:.1f} s"
    assert not any(isinstance(atom, (sympy.Max, sympy.Min, sympy.Piecewise))
                   for record in summary.records for dim in record.output_shape
                   for atom in getattr(dim, "atoms", lambda *a: ())(sympy.Max, sympy.Min, sympy.Piecewise))
    assert assert_matches_numeric(text) > 60


def test_squeezenet_shapes_read_as_one_floor():
    summary = analyse(loads_spec(symbolic_text(DATA / "squeezenet1_1.yaml")))
    # conv 3/2: ⌊(n − 3)/2⌋ + 1 = ⌊(n + 1)/2⌋ − 1; ceil pool 3/2 on it: ⌈(⌊(n + 1)/2⌋ − 4)/2⌉ + 1
    # = ⌊(⌊(n + 1)/2⌋ − 3)/2⌋ + 1 = ⌊(n + 3)/4⌋ − 1
    assert str(summary.record("conv1").output_shape[0]) == "floor((n + 1)/2) - 1"
    assert str(summary.record("pool1").output_shape[0]) == "floor((n + 3)/4) - 1"
    assert str(summary.record("pool5").output_shape[0]) == "floor((n + 15)/16) - 1"


THREE_SAME = """
input: [n, n, 3]
layers:
  - {type: conv, filters: 4, kernel: 3, stride: 2, padding: same}
  - {type: conv, filters: 4, kernel: 3, stride: 2, padding: same}
  - {type: conv, filters: 4, kernel: 3, stride: 2, padding: same}
"""


def test_stride_2_same_chain_is_ceil_of_n_over_8():
    start = time.perf_counter()
    summary = analyse(loads_spec(THREE_SAME))
    assert time.perf_counter() - start < 5  # a hang guard: 0.05 s quiet
    # ⌈⌈⌈n/2⌉/2⌉/2⌉ = ⌈n/8⌉ = ⌊(n + 7)/8⌋
    assert str(summary.records[-1].output_shape[0]) == "floor((n + 7)/8)"
    assert assert_matches_numeric(THREE_SAME) == len(SIZES)


def test_canonical_floor_identities():
    # ⌊(⌊(n − 1)/2⌋ − 2)/2⌋ = ⌊(n − 5)/4⌋ = ⌊(n + 3)/4⌋ − 2
    assert arith.floor_div(arith.floor_div(N - 1, 2) - 2, 2) == arith.floor_div(N + 3, 4) - 2
    # ⌈n/2⌉ − ⌊n/2⌋ is 0 or 1; max/min are decided by it
    assert arith.difference_range(arith.ceil_div(N, 2), arith.floor_div(N, 2)) == (0, 1)
    assert arith.maximum(arith.ceil_div(N, 2), arith.floor_div(N, 2)) == arith.ceil_div(N, 2)
    assert arith.minimum(arith.ceil_div(N, 2), arith.floor_div(N, 2)) == arith.floor_div(N, 2)
    # symbols that do not cancel leave the max undecided (kept as Max, still correct)
    assert isinstance(arith.maximum(N, 5), sympy.Max)
    # n/2 − ⌊n/2⌋ + 1/2 is 1/2 or 1: bounded, but not an integer, so not collapsed to one
    half = N / 2 - arith.floor_div(N, 2) + sympy.Rational(1, 2)
    assert arith.difference_range(half, 0) == (sympy.Rational(1, 2), 1)
    assert arith.simplify(half) == half and arith.maximum(half, 0) == half
    # a floor subtracted inside a floor folds too: ⌊(n − ⌊n/2⌋)/2⌋ = ⌊⌈n/2⌉/2⌋ = ⌊(n + 1)/4⌋
    assert arith.floor_div(N - arith.floor_div(N, 2), 2) == arith.floor_div(N + 1, 4)
    assert str(arith.floor_div(3 - arith.floor_div(N, 2), 2)) == "floor((3 - n)/4) + 1"
    # bounds through a floor that cannot fold (coefficient 2) and enters with a minus sign: exact, and tight
    unfolded = arith.floor_div(2 * arith.floor_div(N, 3) + 1, 5)
    assert str(unfolded) == "floor((2*floor(n/3) + 1)/5)"
    values = [sympy.Rational(2 * n, 15) - (2 * (n // 3) + 1) // 5 for n in range(1, 300)]
    assert arith.difference_range(2 * N / 15 - unfolded, 0) == (min(values), max(values)) == (
        sympy.Rational(-1, 5), sympy.Rational(13, 15))
    # −⌊n/3⌋ = ⌊(−n + 2)/3⌋
    for n in range(1, 30):
        assert arith.floor_div(-arith.floor_div(N, 3) + 7, 2).xreplace({N: n}) == (-(n // 3) + 7) // 2


LAYER = st.one_of(
    st.fixed_dictionaries({"type": st.just("conv"), "filters": st.just(2), "kernel": st.integers(1, 5),
                           "stride": st.integers(1, 4), "dilation": st.integers(1, 3),
                           "padding": st.one_of(st.integers(0, 3), st.sampled_from(["same", "valid", "full"]))}),
    st.integers(1, 5).flatmap(lambda k: st.fixed_dictionaries({
        "type": st.sampled_from(["maxpool", "avgpool"]), "kernel": st.just(k), "stride": st.integers(1, 4),
        "padding": st.integers(0, k // 2), "ceil_mode": st.booleans()})),
    st.fixed_dictionaries({"type": st.just("maxpool"), "kernel": st.integers(1, 4), "stride": st.integers(1, 4),
                           "padding": st.just("same")}),
    st.fixed_dictionaries({"type": st.just("conv_transpose"), "filters": st.just(2), "kernel": st.integers(1, 4),
                           "stride": st.integers(1, 3), "padding": st.integers(0, 1)}),
    st.fixed_dictionaries({"type": st.just("zero_pad"), "padding": st.integers(0, 2)}),
)


@settings(max_examples=40, deadline=None)
@given(layers=st.lists(LAYER, min_size=1, max_size=6))
def test_random_chains_equal_numeric_analysis(layers):
    import json

    text = json.dumps({"input": ["n", "n", 2], "layers": layers})
    try:
        network = loads_spec(text)
    except CnnCalcError:
        return  # a field combination the layer type does not accept
    start = time.perf_counter()
    try:
        analyse(network)
    except CnnCalcError:
        # refused symbolically: then no size may pass numerically either
        for n in range(1, 40):
            with pytest.raises(CnnCalcError):
                analyse(substitute(network, {"n": n}))
        return
    assert time.perf_counter() - start < 5  # a hang guard: at most 0.13 s an example quiet
    assert_matches_numeric(text, sizes=range(1, 40))


def test_solve_symbolic_output_is_the_summary_floor():
    from cnncalc.calc.symbolic import solve_conv

    # ⌊(n − 3)/2⌋ + 1 = ⌊(n − 1)/2⌋ = ⌊(n + 1)/2⌋ − 1, the form summaries print
    result = solve_conv("out", {"n": "n", "f": "3", "s": "2"})
    assert result.expression == "floor((n + 1)/2) - 1"


@pytest.mark.parametrize("f, s", [(3, 2), (2, 3), (1, 2), (5, 2), (4, 3), (7, 4)])
def test_solve_same_with_symbolic_n_equals_numeric_pads(f, s):
    from cnncalc.calc.symbolic import solve_conv

    result = solve_conv("p", {"n": "n", "f": str(f), "s": str(s)}, same=True)
    before, after = result.pads
    for n in range(1, 40):
        numeric = solve_conv("p", {"n": str(n), "f": str(f), "s": str(s)}, same=True)
        assert (int(numeric_value(before, n)), int(numeric_value(after, n))) == numeric.pads, n
