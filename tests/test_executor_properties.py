"""The vectorised kernels against literal loops written here and against scipy, on random cases;
and the executor's shapes against the calculator's for random networks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncalc import CnnCalcError, analyse, build_network
from cnncalc.run.executor import run

signal = pytest.importorskip("scipy.signal")

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def literal_pads(n, k, s, d, padding):
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        return total // 2, total - total // 2
    return padding


def naive_conv(x, w, b, stride, pads, dilation, groups, flip=False):
    """Six nested loops: for each output pixel and filter, sum input·weight over the window."""
    (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = stride, pads, dilation
    if flip:
        w = w[::-1, ::-1]
    h, wd, c = x.shape
    kh, kw, cg, f = w.shape
    xp = np.zeros((h + pt + pb, wd + pl + pr, c))
    xp[pt:pt + h, pl:pl + wd] = x
    ho = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((ho, wo, f))
    per_out = f // groups
    for i in range(ho):
        for j in range(wo):
            for o in range(f):
                g = o // per_out
                total = b[o]
                for a in range(kh):
                    for e in range(kw):
                        for ci in range(cg):
                            total += xp[i * sh + a * dh, j * sw + e * dw, g * cg + ci] * w[a, e, ci, o]
                out[i, j, o] = total
    return out


def scipy_conv(x, w, b, stride, pads, dilation, groups):
    """scipy.signal.correlate per channel on the padded input, with a zero-dilated kernel, then strided."""
    (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = stride, pads, dilation
    xp = np.pad(x, ((pt, pb), (pl, pr), (0, 0)))
    kh, kw, cg, f = w.shape
    dilated = np.zeros((dh * (kh - 1) + 1, dw * (kw - 1) + 1, cg, f))
    dilated[::dh, ::dw] = w
    per_out = f // groups
    maps = []
    for o in range(f):
        g = o // per_out
        acc = sum(signal.correlate(xp[:, :, g * cg + ci], dilated[:, :, ci, o], mode="valid") for ci in range(cg))
        maps.append(acc[::sh, ::sw] + b[o])
    return np.stack(maps, axis=-1)


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c = groups * draw(st.integers(1, 2))
    f = groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h, wd = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    padding = draw(st.sampled_from(["same", "explicit"]))
    if padding == "explicit":
        padding = [[draw(st.integers(0, 2)), draw(st.integers(0, 2))], [draw(st.integers(0, 2)), draw(st.integers(0, 2))]]
    return {"h": h, "w": wd, "c": c, "f": f, "kernel": [kh, kw], "stride": list(stride), "dilation": list(dilation),
                "groups": groups, "padding": padding, "seed": draw(st.integers(0, 10**6)), "flip": draw(st.booleans())}


@SETTINGS
@given(conv_cases())
def test_conv_equals_naive_loops_and_scipy(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.integers(-5, 6, size=(case["h"], case["w"], case["c"])).astype(float)
    kh, kw = case["kernel"]
    w = rng.integers(-3, 4, size=(kh, kw, case["c"] // case["groups"], case["f"])).astype(float)
    b = rng.integers(-3, 4, size=case["f"]).astype(float)
    layer = {"type": "conv", "name": "c", "filters": case["f"], "kernel": case["kernel"], "stride": case["stride"],
             "dilation": case["dilation"], "groups": case["groups"], "padding": case["padding"], "flip": case["flip"]}
    try:
        net = build_network({"input": [case["h"], case["w"], case["c"]], "layers": [layer]})
        analyse(net)
    except CnnCalcError as error:
        assert "larger than the padded input" in str(error)
        return
    got = run(net, x, {"c.weight": w, "c.bias": b}).output
    pads = tuple(literal_pads(n, k, s, d, case["padding"] if case["padding"] == "same" else tuple(p))
                 for n, k, s, d, p in zip((case["h"], case["w"]), case["kernel"], case["stride"], case["dilation"],
                                          case["padding"] if case["padding"] != "same" else ["same", "same"]))
    expected = naive_conv(x, w, b, case["stride"], pads, case["dilation"], case["groups"], case["flip"])
    np.testing.assert_array_equal(got, expected)  # small integers: exact
    if not case["flip"]:
        np.testing.assert_allclose(got, scipy_conv(x, w, b, case["stride"], pads, case["dilation"], case["groups"]),
                                   atol=1e-9)


def naive_pool(x, k, s, pads, mode, out_hw):
    (kh, kw), (sh, sw), ((pt, _), (pl, _)) = k, s, pads
    h, wd, c = x.shape
    out = np.zeros((*out_hw, c))
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            for ch in range(c):
                cells = [x[r, q, ch] for r in range(i * sh - pt, i * sh - pt + kh)
                         for q in range(j * sw - pl, j * sw - pl + kw) if 0 <= r < h and 0 <= q < wd]
                out[i, j, ch] = max(cells) if mode == "maxpool" else sum(cells) / len(cells)
    return out


@SETTINGS
@given(h=st.integers(1, 10), w=st.integers(1, 10), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.sampled_from([0, 1, "same"]), ceil=st.booleans(), mode=st.sampled_from(["maxpool", "avgpool"]),
       seed=st.integers(0, 1000))
def test_pool_equals_naive_loops(h, w, k, s, p, ceil, mode, seed):
    if p == "same" and ceil:
        ceil = False
    x = np.random.default_rng(seed).integers(-9, 10, size=(h, w, 2)).astype(float)
    layer = {"type": mode, "kernel": k, "stride": s, "padding": p, "ceil_mode": ceil}
    try:
        net = build_network({"input": [h, w, 2], "layers": [layer]})
        record = analyse(net).records[0]
    except CnnCalcError:
        return
    pads = [literal_pads(n, k, s, 1, "same") if p == "same" else (p, p) for n in (h, w)]
    got = run(net, x).output
    np.testing.assert_allclose(got, naive_pool(x, (k, k), (s, s), pads, mode, record.output_shape[:2]))


@SETTINGS
@given(n=st.integers(1, 6), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), op=st.integers(0, 2),
       d=st.integers(1, 2), seed=st.integers(0, 1000))
def test_conv_transpose_equals_naive_scatter(n, k, s, p, op, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-4, 5, size=(n, n, 2)).astype(float)
    w = rng.integers(-3, 4, size=(k, k, 2, 3)).astype(float)
    layer = {"type": "conv_transpose", "name": "t", "filters": 3, "kernel": k, "stride": s, "padding": p,
             "output_padding": op, "dilation": d, "bias": False}
    try:
        net = build_network({"input": [n, n, 2], "layers": [layer]})
        out_n = analyse(net).records[0].output_shape[0]
    except CnnCalcError:
        return
    # scatter: input pixel (i, j) adds x·w into output (i·s + a·d − p, j·s + e·d − p)
    full = np.zeros(((n - 1) * s + d * (k - 1) + 1 + op, (n - 1) * s + d * (k - 1) + 1 + op, 3))
    for i in range(n):
        for j in range(n):
            for a in range(k):
                for e in range(k):
                    full[i * s + a * d, j * s + e * d] += x[i, j] @ w[a, e]
    expected = full[p: p + out_n, p: p + out_n]
    np.testing.assert_array_equal(run(net, x, {"t.weight": w}).output, expected)


@SETTINGS
@given(n=st.integers(3, 8), k=st.integers(1, 3), s=st.integers(1, 2), m=st.integers(1, 2), seed=st.integers(0, 999))
def test_depthwise_and_separable_equal_grouped_conv(n, k, s, m, seed):
    rng = np.random.default_rng(seed)
    c = 3
    x = rng.normal(size=(n, n, c))
    dw = rng.normal(size=(k, k, c, m))
    pw = rng.normal(size=(c * m, 4))
    net = build_network({"input": [n, n, c], "layers": [
        {"type": "depthwise_conv", "name": "d", "kernel": k, "stride": s, "multiplier": m, "bias": False},
        {"type": "separable_conv", "name": "s", "inputs": "input", "filters": 4, "kernel": k, "stride": s,
         "multiplier": m, "bias": False}]})
    result = run(net, x, {"d.weight": dw, "s.weight": dw, "s.pointwise_weight": pw})
    # a depthwise conv is a grouped conv with groups = C: output channel c·m + j uses filter dw[..., c, j]
    grouped = dw.reshape(k, k, 1, c * m)
    expected = naive_conv(x, grouped, np.zeros(c * m), (s, s), ((0, 0), (0, 0)), (1, 1), c)
    np.testing.assert_allclose(result.layer_output("d"), expected, atol=1e-9)
    np.testing.assert_allclose(result.layer_output("s"), expected @ pw, atol=1e-9)


LAYER_CHOICES = [
    {"type": "conv", "filters": 4, "kernel": 3, "padding": "same"},
    {"type": "conv", "filters": 2, "kernel": 2, "stride": 2},
    {"type": "conv", "filters": 4, "kernel": 3, "dilation": 2, "padding": "full", "groups": 2},
    {"type": "depthwise_conv", "kernel": 3, "padding": 1},
    {"type": "separable_conv", "filters": 3, "kernel": 3, "padding": "same"},
    {"type": "conv_transpose", "filters": 2, "kernel": 3, "stride": 2, "padding": "same"},
    {"type": "maxpool", "kernel": 2, "ceil_mode": True},
    {"type": "avgpool", "kernel": 3, "stride": 2, "padding": "same"},
    {"type": "zero_pad", "padding": [[1, 0], [0, 1]]},
    {"type": "batchnorm"}, {"type": "relu"}, {"type": "gelu"}, {"type": "normalize"},
    {"type": "dense", "units": 3},
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(LAYER_CHOICES), min_size=1, max_size=5), st.integers(4, 12),
       st.sampled_from([None, "flatten", "global_avgpool"]), st.integers(1, 3))
def test_executor_shapes_equal_calculator(layers, size, head, batch):
    spec_layers = [dict(layer) for layer in layers]
    if head:
        spec_layers += [{"type": head}, {"type": "dense", "units": 5}, {"type": "softmax"}]
    try:
        net = build_network({"input": [size, size + 1, 4], "layers": spec_layers})
        summary = analyse(net)
    except CnnCalcError:
        return
    x = np.random.default_rng(size).normal(size=(batch, size, size + 1, 4))
    result = run(net, x, seed=1)
    for record in summary.records:
        assert result.outputs[record.name].shape == (batch, *record.output_shape)
    if head:
        np.testing.assert_allclose(result.output.sum(axis=-1), np.ones(batch))


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_conv_in_one_row_blocks_equals_naive_loops(case):
    """The blocked im2col path with the smallest blocks (one output row each) forced on small cases."""
    from cnncalc.maths import kernels

    case = {**case, "groups": 1, "flip": False, "c": max(case["c"], 3)}
    case["f"] = max(case["f"], 1)
    rng = np.random.default_rng(case["seed"])
    x = rng.integers(-5, 6, size=(case["h"], case["w"], case["c"])).astype(float)
    kh, kw = case["kernel"]
    w = rng.integers(-3, 4, size=(kh, kw, case["c"], case["f"])).astype(float)
    b = np.zeros(case["f"])
    layer = {"type": "conv", "name": "c", "filters": case["f"], "kernel": case["kernel"], "stride": case["stride"],
             "dilation": case["dilation"], "padding": case["padding"], "bias": False}
    try:
        net = build_network({"input": [case["h"], case["w"], case["c"]], "layers": [layer]})
        analyse(net)
    except CnnCalcError:
        return
    saved = kernels.BLOCK_BYTES, kernels.BLOCK_PIXELS
    kernels.BLOCK_BYTES = kernels.BLOCK_PIXELS = 1
    try:
        got = run(net, x, {"c.weight": w}).output
    finally:
        kernels.BLOCK_BYTES, kernels.BLOCK_PIXELS = saved
    pads = tuple(literal_pads(n, k, s, d, "same") if case["padding"] == "same" else tuple(p)
                 for n, k, s, d, p in zip((case["h"], case["w"]), case["kernel"], case["stride"], case["dilation"],
                                          case["padding"] if case["padding"] != "same" else [None, None]))
    np.testing.assert_array_equal(got, naive_conv(x, w, b, case["stride"], pads, case["dilation"], 1))
