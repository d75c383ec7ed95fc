"""Executor rules against literal implementations written out in the test: asymmetric inputs (non-square
strides, several filters, positive axes, non-zero epsilon), so a swapped index or a misplaced term shows."""

from __future__ import annotations

import numpy as np
import pytest

from cnncalc import CnnCalcError, loads_spec
from cnncalc.calc.analysis import analyse
from cnncalc.run.executor import memory_parts, run


def position_input(h: int, w: int, c: int) -> np.ndarray:
    """Values that encode their position (100·i + 10·j + k), so a wrong index is visible at a glance."""
    i, j, k = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return (100 * i + 10 * j + k).astype(float)


def literal_conv(x, w, b, stride, pads):
    (sh, sw), ((pt, pb), (pl, pr)) = stride, pads
    xp = np.zeros((x.shape[0] + pt + pb, x.shape[1] + pl + pr, x.shape[2]))
    xp[pt:pt + x.shape[0], pl:pl + x.shape[1]] = x
    kh, kw, cin, f = w.shape
    ho, wo = (xp.shape[0] - kh) // sh + 1, (xp.shape[1] - kw) // sw + 1
    out = np.zeros((ho, wo, f))
    for r in range(ho):
        for q in range(wo):
            for o in range(f):
                total = b[o]
                for i in range(kh):
                    for j in range(kw):
                        for ch in range(cin):
                            total += xp[r * sh + i, q * sw + j, ch] * w[i, j, ch, o]
                out[r, q, o] = total
    return out


# ---------------------------------------------------------------- softmax


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_softmax_axis_counts_the_samples_axes(axis):
    x = position_input(2, 3, 4) / 50.0
    net = loads_spec(f"input: [2, 3, 4]\nlayers: [{{type: softmax, axis: {axis}}}]")
    out = run(net, x).output
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    np.testing.assert_allclose(out, e / e.sum(axis=axis, keepdims=True), rtol=1e-12,
                               err_msg=f"softmax axis {axis} normalises the sample's axis {axis} (no batch axis)")
    np.testing.assert_allclose(out.sum(axis=axis), 1.0, rtol=1e-12)


def test_softmax_on_a_batch_uses_the_same_axis():
    x = np.stack([position_input(2, 3, 2), -position_input(2, 3, 2)]) / 40.0
    out = run(loads_spec("input: [2, 3, 2]\nlayers: [{type: softmax, axis: 0}]"), x).output
    assert out.shape == (2, 2, 3, 2)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12, err_msg="axis 0 of each sample = axis 1 of the batch")


def test_dense_softmax_activation():
    x = np.array([1.0, 2.0, 0.5])
    net = loads_spec("input: [3]\nlayers: [{type: dense, units: 2, activation: softmax, "
                     "weight: [[1, 0], [0, 1], [1, 1]], bias: [0, 1]}]")
    z = np.array([1.5, 3.5])
    np.testing.assert_allclose(run(net, x).output, np.exp(z) / np.exp(z).sum(), rtol=1e-12)


# ---------------------------------------------------------------- batchnorm


def test_batchnorm_epsilon_is_added_to_the_variance_under_the_root():
    x = position_input(2, 2, 3) / 10.0
    gamma, beta, mean, var = [2.0, 0.5, -1.0], [0.1, -0.2, 0.3], [1.0, 2.0, 3.0], [0.25, 4.0, 0.01]
    eps = 0.5
    spec = (f"input: [2, 2, 3]\nlayers: [{{type: batchnorm, epsilon: {eps}, gamma: {gamma}, beta: {beta}, "
            f"mean: {mean}, var: {var}}}]")
    out = run(loads_spec(spec), x).output
    for c in range(3):
        expected = gamma[c] * (x[..., c] - mean[c]) / np.sqrt(var[c] + eps) + beta[c]
        np.testing.assert_allclose(out[..., c], expected, rtol=1e-12,
                                   err_msg=f"channel {c}: gamma·(x − mean)/√(var + ε) + beta with ε = {eps}")


def test_batchnorm_default_epsilon_is_keras():
    x = np.ones((1, 1, 1))
    out = run(loads_spec("input: [1, 1, 1]\nlayers: [{type: batchnorm, gamma: [1], beta: [0], mean: [0], var: [0]}]"),
              x).output
    assert out[0, 0, 0] == pytest.approx(1 / np.sqrt(1e-3), rel=1e-12), "default ε is Keras's 1e-3"


def test_batchnorm_without_scale_or_center():
    x = position_input(1, 2, 2)
    spec = "input: [1, 2, 2]\nlayers: [{type: batchnorm, scale: false, center: false, epsilon: 0, mean: [1, 2], var: [4, 16]}]"
    out = run(loads_spec(spec), x).output
    np.testing.assert_allclose(out[..., 0], (x[..., 0] - 1) / 2)
    np.testing.assert_allclose(out[..., 1], (x[..., 1] - 2) / 4)


# ---------------------------------------------------------------- convolution and pooling


@pytest.mark.parametrize(("stride", "padding", "pads"), [
    ([1, 2], 0, ((0, 0), (0, 0))),
    ([2, 1], 1, ((1, 1), (1, 1))),
    ([2, 3], [[0, 1], [2, 0]], ((0, 1), (2, 0))),
])
def test_conv_non_square_strides_several_filters(stride, padding, pads):
    rng = np.random.default_rng(3)
    x = position_input(7, 8, 2) / 100.0
    w = rng.integers(-3, 4, size=(3, 2, 2, 3)).astype(float)
    b = [1.0, -2.0, 0.5]
    spec = (f"input: [7, 8, 2]\nlayers: [{{type: conv, name: c, filters: 3, kernel: [3, 2], stride: {stride}, "
            f"padding: {padding}, weight: {w.tolist()}, bias: {b}}}]")
    out = run(loads_spec(spec), x).output
    expected = literal_conv(x, w, b, stride, pads)
    assert out.shape == expected.shape, f"stride {stride}: shape {out.shape} vs the literal loop's {expected.shape}"
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_conv_same_padding_puts_the_odd_pixel_at_the_bottom_right():
    x = position_input(5, 6, 1)
    w = np.zeros((2, 2, 1, 1))
    w[0, 0, 0, 0] = 1.0  # picks the window's top-left pixel
    spec = f"input: [5, 6, 1]\nlayers: [{{type: conv, filters: 1, kernel: 2, stride: 2, padding: same, weight: {w.tolist()}, bias: [0]}}]"
    out = run(loads_spec(spec), x).output[..., 0]
    # out = ⌈5/2⌉ × ⌈6/2⌉ = 3 × 3; total pad rows (3−1)·2 + 2 − 5 = 1 → all at the bottom; columns 0
    np.testing.assert_array_equal(out, x[0::2, 0::2, 0])


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
def test_pool_non_square(kind):
    x = position_input(5, 7, 2) * np.where(position_input(5, 7, 2) % 3 == 0, -1, 1)
    out = run(loads_spec(f"input: [5, 7, 2]\nlayers: [{{type: {kind}, kernel: [2, 3], stride: [1, 2]}}]"), x).output
    reduce = np.max if kind == "maxpool" else np.mean
    expected = np.array([[[reduce(x[r:r + 2, q * 2:q * 2 + 3, c]) for c in range(2)] for q in range(3)] for r in range(4)])
    np.testing.assert_allclose(out, expected, rtol=1e-12)


# ---------------------------------------------------------------- memory guard and weights


def test_memory_guard_boundary():
    net = loads_spec("input: [8, 8, 1]\nlayers: [{type: conv, filters: 4, kernel: 3, padding: 1}]")
    need = sum(size for size, _ in memory_parts(analyse(net), 1, 8))
    # input 64 + output 256 + weights 36 + bias 4 values, and the 3·3 window copy of the padded input
    assert need == (64 + 256 + 36 + 4) * 8 + max(size for size, what in memory_parts(analyse(net), 1, 8)
                                                if "working copy" in what)
    x = np.ones((8, 8, 1))
    assert run(net, x, seed=0, max_memory=need).output.shape == (8, 8, 4), "exactly the limit is allowed"
    with pytest.raises(CnnCalcError, match="would allocate"):
        run(net, x, seed=0, max_memory=need - 1)


def test_seeded_weights_are_per_layer_and_reproducible():
    one = loads_spec("input: [4, 4, 1]\nlayers: [{type: conv, name: a, filters: 2, kernel: 3}]")
    two = loads_spec("input: [4, 4, 1]\nlayers: [{type: relu, name: r}, {type: conv, name: a, filters: 2, kernel: 3, "
                     "inputs: input}]")
    x = position_input(4, 4, 1) / 10
    first = run(one, x, seed=5).layer_output("a")
    np.testing.assert_array_equal(first, run(one, x, seed=5).layer_output("a"))
    np.testing.assert_array_equal(first, run(two, x, seed=5).layer_output("a"),
                                  err_msg="adding a layer leaves another layer's seeded weights unchanged")
    assert not np.array_equal(first, run(one, x, seed=6).layer_output("a"))


def test_weights_that_do_not_fit_are_refused():
    net = loads_spec("input: [2, 2, 1]\nlayers: [{type: conv, name: c, filters: 1, kernel: 1}]")
    x = np.ones((2, 2, 1))
    with pytest.raises(CnnCalcError, match="wrong shape"):
        run(net, x, {"c.weight": np.ones((1, 1, 1, 2)), "c.bias": np.ones(1)})
    with pytest.raises(CnnCalcError, match="no layer uses"):
        run(net, x, {"c.weight": np.ones((1, 1, 1, 1)), "c.bias": np.ones(1), "c.wieght": np.ones(1)})
    with pytest.raises(CnnCalcError, match="NaN"):
        run(net, x, {"c.weight": np.full((1, 1, 1, 1), np.nan), "c.bias": np.ones(1)})
    with pytest.raises(CnnCalcError, match="no value for 'c.weight'"):
        run(net, x)
    out = run(net, x, {"c.weight": np.full((1, 1, 1, 1), 3.0), "c.bias": np.array([0.5])}).output
    np.testing.assert_array_equal(out, np.full((2, 2, 1), 3.5))


def test_negative_variance_is_refused():
    net = loads_spec("input: [1, 1, 1]\nlayers: [{type: batchnorm, gamma: [1], beta: [0], mean: [0], var: [-0.5]}]")
    with pytest.raises(CnnCalcError, match="negative variance"):
        run(net, np.ones((1, 1, 1)))
    assert run(loads_spec("input: [1, 1, 1]\nlayers: [{type: batchnorm, epsilon: 1, gamma: [1], beta: [0], mean: [0], "
                          "var: [0]}]"), np.ones((1, 1, 1))).output[0, 0, 0] == 1.0, "a variance of 0 is allowed"


def test_input_checks():
    net = loads_spec("input: [2, 3, 1]\nlayers: [{type: relu}]")
    with pytest.raises(CnnCalcError, match="does not match"):
        run(net, np.ones((3, 2, 1)))
    with pytest.raises(CnnCalcError, match="number of axes"):
        run(net, np.ones((2, 3)))
    with pytest.raises(CnnCalcError, match="NaN"):
        run(net, np.full((2, 3, 1), np.inf))
    batch = run(net, -position_input(2, 3, 1)[None].repeat(2, axis=0))
    assert batch.batched and batch.output.shape == (2, 2, 3, 1)


# ---------------------------------------------------------------- files and printing


def test_weights_file_is_an_npz_read_without_pickle(tmp_path):
    from cnncalc.run.executor import load_weights_file

    good = tmp_path / "w.npz"
    np.savez(good, **{"c.weight": np.full((1, 1, 1, 1), 2.0), "c.bias": np.array([1.0])})
    arrays = load_weights_file(good)
    assert sorted(arrays) == ["c.bias", "c.weight"] and arrays["c.weight"][0, 0, 0, 0] == 2.0
    pickled = tmp_path / "p.npz"
    np.savez(pickled, obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CnnCalcError, match="the weights array 'obj' must hold numbers"):
        load_weights_file(pickled)["obj"]
    with pytest.raises(CnnCalcError, match="cannot read the weights"):
        load_weights_file(tmp_path / "missing.npz")


def test_a_single_array_file_is_not_a_weights_file(tmp_path):
    from cnncalc.run.executor import load_weights_file

    single = tmp_path / "one.npy"
    np.save(single, np.ones(3))
    with pytest.raises(CnnCalcError) as caught:
        load_weights_file(single)
    assert str(caught.value) == (f"{single}: the weights file is not an .npz archive (got 'a single .npy array', "
                                 "expected a zip of .npy arrays, as numpy.savez writes)")


def test_run_with_a_single_array_as_weights_exits_2(cli, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [3]\nlayers: [{type: dense, name: d, units: 2}]\n")
    single = tmp_path / "one.npy"
    np.save(single, np.ones(3))
    data = tmp_path / "x.json"
    data.write_text("[1, 2, 3]")
    code, _, err = cli("run", str(spec), "--input", str(data), "--weights", str(single))
    assert code == 2 and "the weights file is not an .npz archive" in err and "internal error" not in err, err


def test_input_files(tmp_path):
    from cnncalc.run.executor import load_input_file

    npy = tmp_path / "x.npy"
    np.save(npy, np.arange(6.0).reshape(1, 2, 3))
    np.testing.assert_array_equal(load_input_file(npy), np.arange(6.0).reshape(1, 2, 3))
    pickled = tmp_path / "o.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CnnCalcError, match="the input array must hold numbers"):
        load_input_file(pickled)
    yaml = tmp_path / "x.yaml"
    yaml.write_text("input: [[[1], [2]], [[3], [4.5]]]\n")
    np.testing.assert_array_equal(load_input_file(yaml), [[[1], [2]], [[3], [4.5]]])
    for text, message in (("[[1, 2], [3]]", "not rectangular"), ("[[1, true]]", "nested lists of numbers"),
                          ("7", "nested lists of numbers"), ("[[1, 'a']]", "nested lists of numbers")):
        yaml.write_text(text)
        with pytest.raises(CnnCalcError, match=message):
            load_input_file(yaml)


def test_compact_printing():
    from cnncalc.run.executor import compact

    small = np.arange(8.0).reshape(2, 2, 2) - 4
    assert compact(small) == "[:, :, 0]\n[[-4. -2.]\n [ 0.  2.]]\n[:, :, 1]\n[[-3. -1.]\n [ 1.  3.]]"
    assert compact(np.zeros((1, 2))) == "[[0. 0.]]", "no −0 in a printed map"
    assert compact(np.arange(64.0)).startswith("[ 0.  1."), "64 values are printed in full"
    big = compact(np.arange(65.0))
    assert big == "shape [65], min 0, max 64, mean 32", "more than 64 values: shape and statistics"
    wide = compact(np.ones((8, 8, 3)))
    assert wide.count("[:, :,") == 3, "an 8×8 map per channel is printed in full, channel by channel"
    assert compact(np.ones((9, 8, 3))).startswith("shape [9, 8, 3]")


def test_input_shape_error_names_the_expected_shape():
    net = loads_spec("input: [2, 3, 1]\nlayers: [{type: relu}]")
    with pytest.raises(CnnCalcError) as caught:
        run(net, np.ones((3, 2, 1)))
    assert "[2, 3, 1]" in str(caught.value) and "[3, 2, 1]" in str(caught.value)


# ---------------------------------------------------------------- reshape and field choices


@pytest.mark.parametrize(("shape", "want"), [([2, -1], (2, 12)), ([-1, 4, 3], (2, 4, 3)), ([24], (24,)),
                                             ([1, 24, 1], (1, 24, 1))])
def test_reshape(shape, want):
    summary = analyse(loads_spec(f"input: [2, 3, 4]\nlayers: [{{type: reshape, shape: {shape}}}]"))
    record = summary.records[0]
    assert record.output_shape == want and record.receptive_field is None
    assert record.explain == [f"24 values as {list(want)}", "RF: global (every output value depends on the whole input)"]
    x = position_input(2, 3, 4)
    np.testing.assert_array_equal(run(summary.network, x).output, x.reshape(want), err_msg="row-major, as NumPy")


@pytest.mark.parametrize(("shape", "message"), [
    ("[5, -1]", "cannot reshape 24 values into [5, -1]"), ("[5, 5]", "cannot reshape 24 values into [5, 5]"),
    ("[-1, -1]", "at most one -1 entry"), ("[0, 24]", "a list of positive integers, one of which may be -1"),
    ("[]", "a list of positive integers"), ("[2.0, 12]", "a list of positive integers"),
    ("[true, 24]", "a list of positive integers"), ("[-2, -12]", "a list of positive integers"),
])
def test_reshape_errors(shape, message):
    with pytest.raises(CnnCalcError) as caught:
        analyse(loads_spec(f"input: [2, 3, 4]\nlayers: [{{type: reshape, name: r, shape: {shape}}}]"))
    assert message in str(caught.value) and "'r'" in str(caught.value), str(caught.value)


def test_reshape_of_a_symbolic_size_is_refused():
    with pytest.raises(CnnCalcError, match="reshape needs a numeric input size"):
        analyse(loads_spec("input: [n, 3, 4]\nlayers: [{type: reshape, shape: [-1]}]"))


def test_a_bad_choice_lists_the_options_and_a_suggestion():
    with pytest.raises(CnnCalcError) as caught:
        loads_spec("input: [4, 4, 1]\nlayers: [{type: conv, filters: 1, kernel: 3, activation: rleu}]")
    message = str(caught.value)
    assert "one of " in message and "relu, " in message and "did you mean 'relu'" in message, message
    with pytest.raises(CnnCalcError) as caught:
        loads_spec("input: [4, 4, 1]\nlayers: [{type: conv, filters: 1, kernel: 3, activation: 5}]")
    assert "did you mean" not in str(caught.value) and "one of " in str(caught.value)


def test_sigmoid_at_zero_and_both_tails():
    x = np.array([[[-800.0], [-1.0], [0.0], [1.0], [800.0]]])
    out = run(loads_spec("input: [1, 5, 1]\nlayers: [{type: sigmoid}]"), x).output[0, :, 0]
    np.testing.assert_allclose(out, [0.0, 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1)), 1.0], rtol=1e-12, atol=1e-300)


# ---------------------------------------------------------------- activations, each against its formula


X_ACT = np.array([-30.0, -6.5, -1.0, -0.25, 0.0, 0.25, 1.0, 5.5, 6.0, 7.25, 30.0])


@pytest.mark.parametrize(("layer", "formula"), [
    ("relu", lambda x: np.maximum(x, 0)),
    ("relu6", lambda x: np.minimum(np.maximum(x, 0), 6)),
    ("leaky_relu", lambda x: np.where(x >= 0, x, 0.01 * x)),
    ("{type: leaky_relu, alpha: 0.3}", lambda x: np.where(x >= 0, x, 0.3 * x)),
    ("elu", lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    ("gelu", lambda x: np.array([0.5 * v * (1 + __import__("math").erf(v / np.sqrt(2))) for v in x])),
    ("silu", lambda x: x / (1 + np.exp(-x))),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    ("tanh", np.tanh),
    ("dropout", lambda x: x),
    ("{type: dropout, rate: 0.9}", lambda x: x),
])
def test_activation_formulas(layer, formula):
    spec = layer if layer.startswith("{") else f"{{type: {layer}}}"
    out = run(loads_spec(f"input: [{X_ACT.size}]\nlayers: [{spec}]"), X_ACT).output
    np.testing.assert_allclose(out, formula(X_ACT), rtol=1e-12, atol=1e-15, err_msg=f"{layer} against its formula")


@pytest.mark.parametrize("name", ["relu", "relu6", "elu", "gelu", "silu", "sigmoid", "tanh", "softmax", "linear"])
def test_activation_field_of_conv_and_dense(name):
    x = position_input(3, 3, 2) / 40 - 0.5
    w = np.arange(2 * 3, dtype=float).reshape(1, 1, 2, 3) / 5 - 0.4
    plain = run(loads_spec(f"input: [3, 3, 2]\nlayers: [{{type: conv, filters: 3, kernel: 1, weight: {w.tolist()}, "
                           "bias: [0.1, -0.2, 0.3]}]"), x).output
    fused = run(loads_spec(f"input: [3, 3, 2]\nlayers: [{{type: conv, filters: 3, kernel: 1, weight: {w.tolist()}, "
                           f"bias: [0.1, -0.2, 0.3], activation: {name}}}]"), x).output
    separate = run(loads_spec(f"input: [3, 3, 3]\nlayers: [{{type: {'relu' if name == 'linear' else name}}}]"),
                   plain).output if name != "linear" else plain
    np.testing.assert_allclose(fused, separate, rtol=1e-12, err_msg=f"activation: {name} = the {name} layer after")


def test_normalize_is_min_max_per_channel():
    x = np.stack([position_input(2, 3, 1)[..., 0], np.full((2, 3), 7.0), -position_input(2, 3, 1)[..., 0]], axis=-1)
    out = run(loads_spec("input: [2, 3, 3]\nlayers: [{type: normalize}]"), x).output
    ch0 = x[..., 0]
    np.testing.assert_allclose(out[..., 0], (ch0 - ch0.min()) / (ch0.max() - ch0.min()))
    np.testing.assert_array_equal(out[..., 1], np.zeros((2, 3)), err_msg="a flat channel gives 0")
    np.testing.assert_allclose(out[..., 2], 1 - out[..., 0])


def test_dense_acts_on_the_last_axis():
    x = position_input(2, 3, 2) / 10
    w = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, -0.5]])
    out = run(loads_spec(f"input: [2, 3, 2]\nlayers: [{{type: dense, units: 3, weight: {w.tolist()}, bias: [1, 2, 3]}}]"),
              x).output
    np.testing.assert_allclose(out, x @ w + np.array([1, 2, 3]), rtol=1e-12)


def test_pool_padding_and_ceil_mode_values():
    x = position_input(4, 5, 1) - 50
    out = run(loads_spec("input: [4, 5, 1]\nlayers: [{type: maxpool, kernel: 2, stride: 2, ceil_mode: true}]"), x).output
    # windows: rows {0,1},{2,3}; columns {0,1},{2,3},{4}: the last is cut at the border
    expected = [[max(x[r, c, 0] for r in rows for c in cols) for cols in ([0, 1], [2, 3], [4])]
                for rows in ([0, 1], [2, 3])]
    np.testing.assert_array_equal(out[..., 0], expected)
    avg = run(loads_spec("input: [4, 5, 1]\nlayers: [{type: avgpool, kernel: 3, stride: 2, padding: 1}]"), x).output
    # padded cells are left out of the average (only real pixels count)
    r0 = np.mean([x[r, c, 0] for r in (0, 1) for c in (0, 1)])
    assert avg[0, 0, 0] == pytest.approx(r0)
    neg = run(loads_spec("input: [4, 5, 1]\nlayers: [{type: maxpool, kernel: 3, stride: 2, padding: 1}]"), x).output
    assert neg[0, 0, 0] == x[1, 1, 0], "max pooling pads with −∞, never 0"


def test_global_pools():
    x = position_input(2, 3, 2) - 100
    gmax = run(loads_spec("input: [2, 3, 2]\nlayers: [{type: global_maxpool}]"), x).output
    np.testing.assert_array_equal(gmax, x.max(axis=(0, 1)))
    gavg = run(loads_spec("input: [2, 3, 2]\nlayers: [{type: global_avgpool, keepdims: true}]"), x).output
    np.testing.assert_allclose(gavg, x.mean(axis=(0, 1), keepdims=True))


def test_softmax_is_stable_per_slice():
    x = np.array([[[0.0, 1.0], [-1000.0, -999.0]]])
    out = run(loads_spec("input: [1, 2, 2]\nlayers: [{type: softmax}]"), x).output
    want = np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum()
    np.testing.assert_allclose(out[0], [want, want], rtol=1e-12,
                               err_msg="each slice is shifted by its own maximum (a slice far below another is fine)")


def test_compact_prints_tiny_values_as_zero():
    from cnncalc.run.executor import compact

    assert compact(np.array([[1e-9, 1.5]])) == "[[0.  1.5]]", "no scientific notation for tiny values"


def literal_conv_transpose(x, w, stride, pad, output_padding):
    """Scatter every input pixel through the kernel, then cut `pad` before and after (+ output_padding)."""
    (sh, sw), (ph, pw), (oh, ow) = stride, pad, output_padding
    kh, kw, cin, f = w.shape
    full = np.zeros(((x.shape[0] - 1) * sh + kh + oh, (x.shape[1] - 1) * sw + kw + ow, f))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            for c in range(cin):
                full[i * sh:i * sh + kh, j * sw:j * sw + kw] += x[i, j, c] * w[:, :, c, :]
    return full[ph:full.shape[0] - ph, pw:full.shape[1] - pw]


@pytest.mark.parametrize(("kernel", "stride", "padding", "output_padding"), [
    ([2, 3], [2, 3], [2, 1], [1, 2]),   # padding beyond k − 1: the scatter is cropped
    ([3, 2], [1, 2], [0, 1], [0, 1]),
    ([3, 2], [2, 2], [1, 2], [0, 0]),   # both sides of W cropped
])
def test_conv_transpose_against_a_literal_scatter(kernel, stride, padding, output_padding):
    rng = np.random.default_rng(7)
    x = position_input(4, 3, 2) / 100
    w = rng.integers(-2, 3, size=(*kernel, 2, 3)).astype(float)
    spec = (f"input: [4, 3, 2]\nlayers: [{{type: conv_transpose, filters: 3, kernel: {kernel}, stride: {stride}, "
            f"padding: {padding}, output_padding: {output_padding}, weight: {w.tolist()}, bias: [0, 0, 0]}}]")
    out = run(loads_spec(spec), x).output
    expected = literal_conv_transpose(x, w, stride, padding, output_padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_input_size_cap_boundary(monkeypatch):
    from cnncalc.run import executor

    assert executor.MAX_INPUT_BYTES == 512 * 1024**2
    monkeypatch.setattr(executor, "MAX_INPUT_BYTES", 4 * 4 * 8)
    net = loads_spec("input: [4, 4, 1]\nlayers: [{type: relu}]")
    assert run(net, np.ones((4, 4, 1))).output.shape == (4, 4, 1), "exactly the cap is accepted"
    with pytest.raises(CnnCalcError, match=r"the input is too large \(256 bytes, at most 128\)"):
        run(net, np.ones((2, 4, 4, 1)))


def test_run_error_lines():
    net = loads_spec("input: [512, 512, 1]\nlayers: [{type: conv, filters: 8, kernel: 3, padding: 1}]")
    with pytest.raises(CnnCalcError) as caught:
        run(net, np.ones((512, 512, 1)), seed=0, max_memory=10 * 1024**2)
    assert str(caught.value) == ("the run would allocate about 36.0 MiB; the largest part is layer 1 'conv1' "
                                 "working copy: 18.0 MiB (got '36.0 MiB', expected at most --max-memory = "
                                 "10.0 MiB); use a smaller input or batch, --dtype float32, or raise --max-memory")
    with pytest.raises(CnnCalcError) as caught:
        run(loads_spec("input: [1, 1, 1]\nlayers: [{type: relu}]"), np.array([[["a"]]]))
    assert str(caught.value) == ("the input must hold numbers (got '<U1', expected an integer or float array (no booleans, "
                                 "strings or objects))")
    with pytest.raises(CnnCalcError) as caught:
        run(loads_spec("input: [1, 1, 1]\nlayers: [{type: conv, name: c, filters: 1, kernel: 1}]"), np.ones((1, 1, 1)),
            {"c.weight": np.ones((2, 1, 1, 1)), "c.bias": np.ones(1)})
    assert str(caught.value) == ("layer 1 'c': field 'weight': 'c.weight' from the weights file has the wrong shape "
                                 "(got [2, 1, 1, 1], expected [1, 1, 1, 1])")


def test_overflow_gives_inf_without_warnings():
    import warnings

    net = loads_spec("input: [1]\nlayers: [{type: dense, units: 1, weight: [[1.0e+308]], bias: [0]}]")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run(net, np.array([1.0e10])).output[0] == np.inf, "an overflow is inf, quietly, as in float arithmetic"


def test_progress_names_each_layer_in_order_and_a_bad_dtype_is_named():
    from cnncalc.run.executor import run as run_network

    network = loads_spec("input: [4, 4, 1]\nlayers:\n  - {type: conv, name: c, filters: 2, kernel: 3}\n"
                         "  - {type: relu, name: r}\n  - {type: flatten, name: f}\n")
    seen = []
    run_network(network, np.zeros((4, 4, 1)), seed=0, progress=lambda step, total, name: seen.append((step, total, name)))
    assert seen == [(1, 3, "c"), (2, 3, "r"), (3, 3, "f")]
    with pytest.raises(CnnCalcError) as caught:
        run_network(network, np.zeros((4, 4, 1)), seed=0, dtype=np.int64)
    assert str(caught.value) == "bad dtype (got 'int64', expected float32 or float64)"


def test_vectorised_erf_is_within_two_ulp_of_math_erf_on_a_million_points():
    """The executor's erf (polynomials from docs/make_erf_coefficients.py) against the C library's, value by
    value: uniform over the whole range, normal (where activations are), tiny and huge magnitudes, the edges
    of the pieces (1, 6 and each interval's ends) and the special values."""
    import math

    from cnncalc.maths import kernels

    rng = np.random.default_rng(20)
    edges = np.array([1.0 + 0.5 * k for k in range(11)])
    edges = np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges, 9)])
    x = np.concatenate([rng.uniform(-7, 7, 500_000), rng.standard_normal(400_000), rng.uniform(-1e-4, 1e-4, 50_000),
                        10.0 ** rng.uniform(-320, 3, 50_000), edges, -edges, [0.0, -0.0, 5e-324, math.inf, -math.inf]])
    rng.shuffle(x)
    got = kernels.erf(x)
    want = np.array([math.erf(v) for v in x])
    ulps = np.abs(got - want) / np.spacing(np.abs(want))
    assert ulps.max() <= 2, f"erf({x[ulps.argmax()]!r}) is {ulps.max()} ulp off"
    assert np.mean(ulps == 0) > 0.8
    assert np.array_equal(np.signbit(got), np.signbit(want))
    assert np.isnan(kernels.erf(np.array([math.nan])))[0]
    blocks = kernels.erf(x[:1_000_000].reshape(1000, 1000))  # the shape kept, the values as one by one
    assert blocks.shape == (1000, 1000) and np.array_equal(blocks.reshape(-1), got[:1_000_000])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gelu_is_the_erf_formula_value_by_value(dtype):
    import math

    x = np.random.default_rng(21).standard_normal(70_000).astype(dtype) * 3  # more than two blocks
    out = run(loads_spec("input: [70000]\nlayers: [{type: gelu}]"), x, dtype=dtype).output
    want = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(float)])
    assert out.dtype == dtype
    tolerance = 1e-6 if dtype == np.float32 else 4.5e-16  # in units of |x|: two ulp of erf, halved
    assert np.max(np.abs(out - want) / np.maximum(np.abs(x), 1e-300)) <= tolerance


def test_gelu_float64_on_a_dense_grid_and_the_edges_against_the_formula_and_the_exact_value():
    """float64 GELU, value by value: within 4.5e-16·|x| of the formula with math.erf (the tolerance above)
    on a dense grid, the pieces' edges (√2, 39) and the extremes; within 2.5e-16·|x| of x·Φ(x) worked out
    by mpmath (the formula itself is 2.2e-16·|x| off at worst); the special values as the formula (and torch)."""
    import math

    import mpmath

    from cnncalc.maths import kernels

    edges = np.array([math.sqrt(2), 39.0, 1.0, 6.0, 8.5])
    edges = np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges, 99)])
    tiny = [5e-324, 1e-310, 2.2250738585072014e-308, 1e-200, 1e-20, 1e-9]
    huge = [38.0, 40.0, 1e3, 1e20, 1e154, 1e155, 1e200, 1.7976931348623157e308]
    x = np.concatenate([np.linspace(-45, 45, 180_001), edges, -edges, tiny, np.negative(tiny), huge,
                        np.negative(huge), [0.0, -0.0]])
    got = kernels.gelu(x)
    want = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    scale = np.where(x == 0, 1.0, np.abs(x))
    error = np.abs(got - want) / scale
    assert error.max() <= 4.5e-16, f"gelu({x[error.argmax()]!r}) is {error.max():.3g}·|x| off the formula"
    assert np.array_equal(np.signbit(got), np.signbit(want))  # -0.0 where the formula gives it (x ≤ −39 too)
    subset = np.concatenate([x[::97], edges, -edges, tiny, huge[:3], np.negative(huge[:3])])
    with mpmath.workdps(40):
        exact = np.array([float(mpmath.mpf(v) * mpmath.ncdf(v)) for v in subset])
    assert np.max(np.abs(kernels.gelu(subset) - exact) / np.abs(subset)) <= 2.5e-16
    special = kernels.gelu(np.array([math.inf, -math.inf, math.nan, -0.0]))
    assert special[0] == math.inf and np.isnan(special[1:3]).all()  # −inf·(1 + erf(−inf)) is nan, as torch
    assert special[3] == 0 and np.signbit(special[3])
    shaped = kernels.gelu(x[:100_000].reshape(10, 100, 100))  # several blocks, the shape kept
    assert shaped.shape == (10, 100, 100) and np.array_equal(shaped.reshape(-1), got[:100_000])


@pytest.mark.parametrize(("block_bytes", "block_pixels"), [(1, 1), (1, 7), (10**9, 1)])
@pytest.mark.parametrize(("spatial", "kernel", "stride", "dilation"), [
    ((11,), (3,), (2,), (1,)),
    ((6, 7), (2, 3), (1, 2), (2, 1)),
    ((4, 5, 3), (2, 2, 1), (1, 2, 1), (1, 1, 2)),
    ((5, 5), (1, 1), (1, 1), (1, 1)),  # the single product on the input itself
])
def test_blocked_conv_equals_a_literal_loop(spatial, kernel, stride, dilation, block_bytes, block_pixels, monkeypatch):
    """Blocks of one row, of a few rows, of several whole samples: every output is the literal sum."""
    import itertools

    from cnncalc.maths import kernels

    monkeypatch.setattr(kernels, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(kernels, "BLOCK_PIXELS", block_pixels)
    rng = np.random.default_rng(22)
    x = rng.integers(-9, 10, size=(3, *spatial, 4)).astype(float)
    w = rng.integers(-9, 10, size=(*kernel, 4, 5)).astype(float)
    out_shape = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(spatial, kernel, stride, dilation))
    got = kernels.correlate(x, w, stride, dilation, out_shape)
    want = np.zeros((3, *out_shape, 5))
    for b, *pos in itertools.product(range(3), *(range(o) for o in out_shape)):
        for tap in itertools.product(*(range(k) for k in kernel)):
            source = tuple(p * s + t * d for p, s, t, d in zip(pos, stride, tap, dilation))
            want[(b, *pos)] += x[(b, *source)] @ w[tap]
    np.testing.assert_array_equal(got, want)
