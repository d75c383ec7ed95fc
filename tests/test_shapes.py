"""Shape rules: every padding form, dilation, groups, ceil_mode, transposed conv, merges, symbols;
and random configurations against a literal implementation written here, independently."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc import CnnCalcError, analyse, build_network, loads_spec


def one_layer(input_shape, **layer):
    summary = analyse(build_network({"input": list(input_shape), "layers": [layer]}))
    return summary.records[0]


# ------------------------------------------------------------------ literal reference implementation

def literal_positions(n, k, s, before, after, d=1):
    """Count window starts by walking them: the window [start, start + d·(k−1)] must fit the padded input."""
    count, start = 0, 0
    while start + d * (k - 1) <= n + before + after - 1:
        count += 1
        start += s
    return count


def literal_same(n, k, s, d=1):
    out = math.ceil(n / s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return out, total // 2, total - total // 2


def literal_ceil_positions(n, k, s, before, after):
    """PyTorch ceil_mode: windows may run past the right edge, but must start inside input or left pad."""
    count, start = 0, 0
    while start + k - 1 <= n + before + after - 1 + (s - 1) and start < n + before:
        count += 1
        start += s
    return count


paddings = st.one_of(
    st.integers(0, 3).map(lambda p: (p, (p, p), (p, p))),
    st.tuples(st.integers(0, 3), st.integers(0, 3)).map(lambda t: (list(t), (t[0], t[0]), (t[1], t[1]))),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)).map(
        lambda t: ([[t[0], t[1]], [t[2], t[3]]], (t[0], t[1]), (t[2], t[3]))),
)


@settings(max_examples=400, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), c=st.integers(1, 4), k=st.integers(1, 7),
       kw=st.integers(1, 7), s=st.integers(1, 4), d=st.integers(1, 3), pad=paddings)
def test_conv_explicit_padding_matches_literal(h, w, c, k, kw, s, d, pad):
    spec_pad, (top, bottom), (left, right) = pad
    expected_h = literal_positions(h, k, s, top, bottom, d)
    expected_w = literal_positions(w, kw, s, left, right, d)
    layer = {"type": "conv", "filters": 2, "kernel": [k, kw], "stride": s, "dilation": d, "padding": spec_pad}
    if expected_h == 0 or expected_w == 0:
        with pytest.raises(CnnCalcError, match="larger than the padded input"):
            one_layer((h, w, c), **layer)
        return
    record = one_layer((h, w, c), **layer)
    assert record.output_shape == (expected_h, expected_w, 2)
    assert record.params == k * kw * c * 2 + 2
    assert record.macs == expected_h * expected_w * 2 * c * k * kw


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 300), k=st.integers(1, 9), s=st.integers(1, 5), d=st.integers(1, 3))
def test_same_padding_matches_tensorflow_rule(n, k, s, d):
    out, before, after = literal_same(n, k, s, d)
    record = one_layer((n, n, 1), type="conv", filters=1, kernel=k, stride=s, dilation=d, padding="same")
    assert record.output_shape == (out, out, 1)
    assert f"pads (top, bottom) = ({before}, {after})" in " ".join(record.explain)
    # and the floor formula with those pads gives the same size
    assert literal_positions(n, k, s, before, after, d) == out


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 2))
def test_pool_ceil_mode_matches_literal(n, k, s, p):
    if p > k // 2:
        return
    floor_out = literal_positions(n, k, s, p, p)
    ceil_out = literal_ceil_positions(n, k, s, p, p)
    for ceil_mode, expected in ((False, floor_out), (True, ceil_out)):
        # floor mode needs the window inside the padded input; ceil mode (PyTorch) lets it run past the
        # right edge as long as it starts inside
        if expected <= 0 or (not ceil_mode and n + 2 * p < k):
            with pytest.raises(CnnCalcError):
                one_layer((n, n, 2), type="maxpool", kernel=k, stride=s, padding=p, ceil_mode=ceil_mode)
            continue
        record = one_layer((n, n, 2), type="maxpool", kernel=k, stride=s, padding=p, ceil_mode=ceil_mode)
        assert record.output_shape == (expected, expected, 2)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 20), k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2),
       d=st.integers(1, 2), op=st.integers(0, 2))
def test_conv_transpose_inverts_conv_shape(n, k, s, p, d, op):
    if op >= max(s, d):
        return
    expected = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    layer = {"type": "conv_transpose", "filters": 3, "kernel": k, "stride": s, "padding": p, "dilation": d,
             "output_padding": op}
    if expected < 1:
        with pytest.raises(CnnCalcError, match="not positive"):
            one_layer((n, n, 2), **layer)
        return
    record = one_layer((n, n, 2), **layer)
    assert record.output_shape == (expected, expected, 3)
    # a conv with the same k, s, p, d maps the transposed output back to n (output_padding < s only
    # adds rows the floor drops again)
    if op < s:
        assert literal_positions(expected, k, s, p, p, d) == n


@pytest.mark.parametrize("n, out, pads", [(224, 112, (0, 1)), (225, 113, (1, 1)), (5, 3, (1, 1)), (6, 3, (0, 1))])
def test_same_stride_2_examples(n, out, pads):
    record = one_layer((n, n, 1), type="conv", filters=1, kernel=3, stride=2, padding="same")
    assert record.output_shape[:2] == (out, out)
    assert f"pads (top, bottom) = {pads}" in " ".join(record.explain)


def test_full_padding():
    # full: p = (k−1)·d on each side → n + k − 1 (d = 1)
    assert one_layer((8, 8, 1), type="conv", filters=1, kernel=3, padding="full").output_shape == (10, 10, 1)
    assert one_layer((8, 8, 1), type="conv", filters=1, kernel=3, dilation=2,
                     padding="full").output_shape == (12, 12, 1)


def test_even_kernel_same_padding_puts_odd_pixel_bottom_right():
    record = one_layer((10, 10, 1), type="conv", filters=1, kernel=4, padding="same")
    assert record.output_shape == (10, 10, 1)
    assert "pads (top, bottom) = (1, 2)" in " ".join(record.explain)


def test_pool_ceil_mode_drops_window_starting_in_padding():
    # PyTorch MaxPool2d(2, 2, padding=1, ceil_mode=True) on length 3: ceil((3+2−2)/2)+1 = 3, but the third
    # window would start at 4 ≥ 3 + 1, inside the right padding, so it is dropped → 2.
    assert one_layer((3, 3, 1), type="maxpool", kernel=2, stride=2, padding=1,
                     ceil_mode=True).output_shape == (2, 2, 1)
    # ResNet-style 3×3/2 pool on 112 with padding 1: 56 either way; on 7 with ceil_mode and no pad: 3 → 3
    assert one_layer((112, 112, 1), type="maxpool", kernel=3, stride=2, padding=1).output_shape == (56, 56, 1)
    assert one_layer((8, 8, 1), type="maxpool", kernel=3, stride=2, ceil_mode=True).output_shape == (4, 4, 1)


def test_groups_depthwise_separable_counts():
    grouped = one_layer((16, 16, 32), type="conv", filters=64, kernel=3, groups=4, padding=1)
    assert grouped.params == 3 * 3 * 8 * 64 + 64
    assert grouped.macs == 16 * 16 * 64 * 8 * 9
    depthwise = one_layer((16, 16, 32), type="depthwise_conv", kernel=3, padding="same", multiplier=2)
    assert depthwise.output_shape == (16, 16, 64)
    assert depthwise.params == 3 * 3 * 32 * 2 + 64
    separable = one_layer((16, 16, 32), type="separable_conv", filters=64, kernel=3, padding="same")
    assert separable.params == 3 * 3 * 32 + 32 * 64 + 64  # Keras SeparableConv2D(64, 3) on 32 channels: 2,400
    assert separable.params == 2400
    no_bias = one_layer((16, 16, 32), type="conv", filters=8, kernel=1, bias=False)
    assert no_bias.params == 256


def test_batchnorm_counts_like_keras():
    record = one_layer((8, 8, 64), type="batchnorm")
    assert (record.trainable, record.non_trainable, record.params) == (128, 128, 256)
    record = one_layer((8, 8, 64), type="batchnorm", scale=False)
    assert (record.trainable, record.non_trainable) == (64, 128)


def test_zero_pad_flatten_reshape_global_pool_dense_on_last_axis():
    assert one_layer((5, 5, 2), type="zero_pad", padding=[[1, 2], [0, 3]]).output_shape == (8, 8, 2)
    assert one_layer((5, 5, 2), type="flatten").output_shape == (50,)
    assert one_layer((5, 5, 2), type="reshape", shape=[-1, 10]).output_shape == (5, 10)
    assert one_layer((5, 5, 2), type="global_avgpool").output_shape == (2,)
    assert one_layer((5, 5, 2), type="global_maxpool", keepdims=True).output_shape == (1, 1, 2)
    dense = one_layer((5, 5, 2), type="dense", units=7)  # acts on the last axis, like a 1×1 conv
    assert dense.output_shape == (5, 5, 7) and dense.params == 21 and dense.macs == 25 * 14


def test_residual_add_and_concat_dag():
    s = analyse(loads_spec("""
input: [32, 32, 16]
layers:
  - {type: conv, name: a, filters: 16, kernel: 3, padding: same}
  - {type: relu, name: r}
  - {type: conv, name: b, filters: 16, kernel: 3, padding: same}
  - {type: add, name: sum, inputs: [b, input]}
  - {type: conv, name: branch, filters: 8, kernel: 1, inputs: input}
  - {type: concat, name: cat, inputs: [sum, branch]}
"""))
    assert s.record("sum").output_shape == (32, 32, 16)
    assert s.record("cat").output_shape == (32, 32, 24)
    # receptive field through the DAG takes the largest path: two 3×3 convs → 5
    assert [axis[0] for axis in s.record("cat").receptive_field] == [5, 5]
    assert s.outputs[0].name == "cat"


def test_receptive_field_of_lecture_table():
    s = analyse(loads_spec("input: [32, 32, 3]\nlayers:\n" + "".join(
        f"  - {layer}\n" for layer in ["{type: conv, filters: 8, kernel: 5}", "{type: maxpool, kernel: 2}",
                                       "{type: conv, filters: 16, kernel: 5}", "{type: maxpool, kernel: 2}"])))
    # r = 1 + Σ (k_l − 1)·Π_{i<l} s_i = 1 + 4 + 1 + 4·2 + 1·2 = 16, jump 4 (Araujo et al., Distill 2019)
    rf = s.records[-1].receptive_field
    assert [a[0] for a in rf] == [16, 16] and [a[1] for a in rf] == [4, 4]
    # start: centre of the first window, in input pixels: 2 + 0.5 + 2·2 + 2·0.5 = 7.5
    assert [a[2] for a in rf] == [7.5, 7.5]


def test_symbolic_input():
    s = analyse(loads_spec("""
input: [n, n, 3]
layers:
  - {type: conv, filters: 8, kernel: 3}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
"""))
    assert [str(d) for d in s.records[0].output_shape] == ["n - 2", "n - 2", "8"]
    assert str(s.records[1].output_shape[0]) == "floor(n/2) - 1"
    assert s.records[0].params == 224  # parameter counts stay numbers


def test_summary_does_not_import_sympy_for_numeric_spec():
    import subprocess
    import sys

    code = ("import sys; from cnncalc.cli import app\n"
            "from typer.testing import CliRunner\n"
            "r = CliRunner().invoke(app, ['summary', 'lenet5', '--format', 'json']); assert r.exit_code == 0\n"
            "r = CliRunner().invoke(app, ['summary', 'lenet5']); assert r.exit_code == 0\n"
            "print('sympy' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_summary_of_a_built_in_spec_imports_neither_numpy_nor_typer_nor_yaml():
    """`cnncalc summary resnet50` as a whole process (the fast path of cnncalc.launch): no NumPy, sympy,
    Typer, click or PyYAML, and of the layer classes only those the spec uses."""
    import subprocess
    import sys

    code = ("import atexit, sys, runpy\n"
            "atexit.register(lambda: sys.stderr.write(' '.join(sorted(sys.modules))))\n"
            "sys.argv = ['cnncalc', 'summary', 'resnet50', '--format', 'json']\n"
            "runpy.run_module('cnncalc', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert '"params": 25557032' in done.stdout
    modules = set(done.stderr.split())
    assert "cnncalc.launch" in modules and "cnncalc.calc.analysis" in modules
    assert not {m for m in modules if m.split(".")[0] in ("numpy", "sympy", "typer", "click", "yaml")}
    assert "cnncalc.cli" not in modules and "cnncalc.layers.attention" not in modules


def test_summary_of_a_built_in_spec_leaves_the_heavy_standard_modules_unloaded():
    """`cnncalc summary resnet50` (table) loads none of typing, dataclasses (with inspect, ast, dis,
    tokenize), pathlib (with urllib), threading, re, enum, fractions (with decimal and numbers) or zlib
    beyond what `python` itself starts with: in a fresh virtual environment each costs about as much as a
    tenth of the whole command. The spec comes made in advance (its module alone): no block is expanded,
    so the expression evaluator stays unloaded (a development environment's `python` may load re and enum
    itself)."""
    import subprocess
    import sys

    heavy = ["typing", "dataclasses", "inspect", "ast", "dis", "tokenize", "pathlib", "urllib.parse", "threading",
             "re", "enum", "fractions", "decimal", "numbers", "zlib", "cnncalc.maths.expr", "cnncalc.outputs"]
    report = f"sys.stderr.write(' '.join(m for m in {heavy!r} if m in sys.modules))"
    before = subprocess.run([sys.executable, "-c", f"import sys; {report}"], capture_output=True, text=True,
                            check=True).stderr.split()
    code = ("import atexit, sys, runpy\n"
            f"atexit.register(lambda: {report})\n"
            "sys.argv = ['cnncalc', 'summary', 'resnet50']\n"
            "runpy.run_module('cnncalc', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "25,557,032" in done.stdout
    assert sorted(set(done.stderr.split()) - set(before)) == []
    made = ("import atexit, sys, runpy\n"
            "atexit.register(lambda: sys.stderr.write(' '.join(m for m in sys.modules if 'zoo_made' in m)))\n"
            "sys.argv = ['cnncalc', 'summary', 'resnet50']\n"
            "runpy.run_module('cnncalc', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", made], capture_output=True, text=True, check=True)
    assert done.stderr.split() == ["cnncalc.spec.zoo_made", "cnncalc.spec.zoo_made.resnet50"]
