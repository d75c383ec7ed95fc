"""Spec v2, spatial half: every rank (1-D, 2-D, 3-D), per-axis fields, upsample, crop, adaptive pools,
lrn, pooling dilation and count_include_pad, grouped transposed convs.

Each rule is checked against a literal implementation written here (loops over positions, the formula
as the papers and PyTorch's docs give it), the kernels against naive loops and scipy, and every
spatial layer's receptive field against the executor's impulse response.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc import CnnCalcError, analyse, build_network, loads_spec
from cnncalc.run.executor import run


def net_of(input_shape, layers):
    return build_network({"input": list(input_shape), "layers": layers})


def run_one(input_shape, layer, x, weights=None, seed=0):
    net = net_of(input_shape, [{"name": "l", **layer}])
    analyse(net)
    return run(net, x, {f"l.{k}": v for k, v in (weights or {}).items()}, seed=seed).output


def per_axis(value, rank):
    return [value] * rank if isinstance(value, int) else list(value)


# ---------------------------------------------------------------- literal implementations


def naive_conv(x, w, stride, dilation, pads, groups=1):
    """Cross-correlation by loops: ``x [*spatial, C]``, ``w [*k, C/groups, F]``."""
    rank = x.ndim - 1
    xp = np.pad(x, [*pads, (0, 0)])
    kernel = w.shape[:rank]
    per_group, filters = w.shape[rank:]
    out_shape = [(n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(xp.shape[:-1], kernel, stride, dilation)]
    y = np.zeros((*out_shape, filters))
    per_out = filters // groups
    for o in np.ndindex(*out_shape):
        for f in range(filters):
            g = f // per_out
            for t in np.ndindex(*kernel):
                at = tuple(oo * s + tt * d for oo, tt, s, d in zip(o, t, stride, dilation))
                y[(*o, f)] += xp[at][g * per_group:(g + 1) * per_group] @ w[t][:, f]
    return y


def naive_conv_transpose(x, w, stride, dilation, pads, output_padding, groups=1):
    """Scatter every input pixel through the kernel, then cut (before, after) and add output_padding."""
    rank = x.ndim - 1
    kernel = w.shape[:rank]
    c_in, per_out = w.shape[rank:]
    per_in = c_in // groups
    full = [(n - 1) * s + d * (k - 1) + 1 + op for n, k, s, d, op in zip(x.shape[:-1], kernel, stride, dilation,
                                                                        output_padding)]
    y = np.zeros((*full, per_out * groups))
    for i in np.ndindex(*x.shape[:-1]):
        for t in np.ndindex(*kernel):
            at = tuple(ii * s + tt * d for ii, tt, s, d in zip(i, t, stride, dilation))
            for g in range(groups):
                y[at][g * per_out:(g + 1) * per_out] += x[i][g * per_in:(g + 1) * per_in] @ w[t][g * per_in:(g + 1) * per_in]
    cut = tuple(slice(b, n - a) for (b, a), n in zip(pads, full))
    return y[cut]


def naive_pool(x, kind, kernel, stride, dilation, pads, out_shape, include_pad=False):
    rank = x.ndim - 1
    y = np.zeros((*out_shape, x.shape[-1]))
    for o in np.ndindex(*out_shape):
        values, count = [], 0
        for t in np.ndindex(*kernel):
            at = tuple(oo * s - b + tt * d for oo, tt, s, d, (b, _) in zip(o, t, stride, dilation, pads))
            inside = all(0 <= a < n for a, n in zip(at, x.shape[:-1]))
            in_padding = all(-b <= a < n + after for a, n, (b, after) in zip(at, x.shape[:-1], pads))
            if inside:
                values.append(x[at])
            count += inside or (include_pad and in_padding)
        values = np.array(values)
        y[o] = values.max(axis=0) if kind == "maxpool" else values.sum(axis=0) / count
    assert rank == len(kernel)
    return y


def naive_adaptive(x, kind, size):
    y = np.zeros((*size, x.shape[-1]))
    for o in np.ndindex(*size):
        box = tuple(slice(i * n // m, -(-(i + 1) * n // m)) for i, n, m in zip(o, x.shape[:-1], size))
        cells = x[box].reshape(-1, x.shape[-1])
        y[o] = cells.max(axis=0) if kind == "adaptive_maxpool" else cells.mean(axis=0)
    return y


def naive_upsample(x, out_size, mode):
    y = np.zeros((*out_size, x.shape[-1]))
    dims = x.shape[:-1]
    for o in np.ndindex(*out_size):
        if mode == "nearest":
            y[o] = x[tuple(i * n // m for i, n, m in zip(o, dims, out_size))]
            continue
        corners = []
        for i, n, m in zip(o, dims, out_size):
            src = max((i + 0.5) * n / m - 0.5, 0.0)
            low = math.floor(src)
            corners.append(((low, 1 - (src - low)), (min(low + 1, n - 1), src - low)))
        for choice in np.ndindex(*(2,) * len(dims)):
            weight = math.prod(corners[a][c][1] for a, c in enumerate(choice))
            y[o] += weight * x[tuple(corners[a][c][0] for a, c in enumerate(choice))]
    return y


def naive_lrn(x, size, alpha, beta, k):
    channels = x.shape[-1]
    y = np.empty_like(x)
    for c in range(channels):
        lo, hi = max(c - size // 2, 0), min(c + (size - 1) // 2, channels - 1)
        y[..., c] = x[..., c] / (k + alpha / size * (x[..., lo:hi + 1] ** 2).sum(axis=-1)) ** beta
    return y


# ---------------------------------------------------------------- strategies

ranks = st.integers(1, 3)


@st.composite
def window_case(draw, max_kernel=3):
    rank = draw(ranks)
    uniform = draw(st.booleans())
    kernel = draw(st.integers(1, max_kernel)) if uniform else draw(st.lists(st.integers(1, max_kernel),
                                                                              min_size=rank, max_size=rank))
    stride = draw(st.one_of(st.integers(1, 2), st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    dilation = draw(st.one_of(st.integers(1, 2), st.lists(st.integers(1, 2), min_size=rank, max_size=rank)))
    pad_kind = draw(st.sampled_from(["int", "list", "pairs", "valid", "same"]))
    pad = {"int": draw(st.integers(0, 2)), "valid": "valid", "same": "same",
           "list": draw(st.lists(st.integers(0, 2), min_size=rank, max_size=rank)),
           "pairs": draw(st.lists(st.lists(st.integers(0, 2), min_size=2, max_size=2), min_size=rank,
                                  max_size=rank))}[pad_kind]
    dims = draw(st.lists(st.integers(3, 7 if rank < 3 else 5), min_size=rank, max_size=rank))
    return rank, dims, kernel, stride, dilation, pad


def literal_pads(pad, dims, kernel, stride, dilation):
    """The padding rules as DESIGN.md states them, one (before, after) per axis."""
    rank = len(dims)
    if pad == "valid":
        return [(0, 0)] * rank
    if isinstance(pad, int):
        return [(pad, pad)] * rank
    if pad == "same":
        pairs = []
        for n, k, s, d in zip(dims, kernel, stride, dilation):
            out = -(-n // s)
            total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
            pairs.append((total // 2, total - total // 2))
        return pairs
    return [tuple(p) if isinstance(p, list) else (p, p) for p in pad]


# ---------------------------------------------------------------- shapes, params, MACs


@settings(max_examples=60, deadline=None)
@given(case=window_case(), channels=st.sampled_from([1, 2, 4]), filters=st.sampled_from([1, 2, 4]),
       groups=st.sampled_from([1, 2]), seed=st.integers(0, 9))
def test_conv_any_rank_matches_literal_rule_and_naive_loop(case, channels, filters, groups, seed):
    rank, dims, kernel, stride, dilation, pad = case
    k, s, d = per_axis(kernel, rank), per_axis(stride, rank), per_axis(dilation, rank)
    pads = literal_pads(pad, dims, k, s, d)
    spans = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
    layer = {"type": f"conv{rank}d", "filters": filters, "kernel": kernel, "stride": stride, "dilation": dilation,
             "padding": pad, "groups": groups}
    if channels % groups or filters % groups or any(n + b + a < sp for n, (b, a), sp in zip(dims, pads, spans)):
        with pytest.raises(CnnCalcError):
            analyse(net_of((*dims, channels), [layer]))
        return
    record = analyse(net_of((*dims, channels), [layer])).records[0]
    out = [(n + b + a - sp) // ss + 1 for n, (b, a), sp, ss in zip(dims, pads, spans, s)]
    assert list(record.output_shape) == [*out, filters]
    assert record.params == math.prod(k) * channels // groups * filters + filters
    assert record.macs == math.prod(out) * filters * channels // groups * math.prod(k)
    assert [a[0] for a in record.receptive_field] == spans
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(*dims, channels))
    w = rng.normal(size=(*k, channels // groups, filters))
    b = rng.normal(size=filters)
    got = run_one((*dims, channels), layer, x, {"weight": w, "bias": b})
    np.testing.assert_allclose(got, naive_conv(x, w, s, d, pads, groups) + b, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(case=window_case(), channels=st.sampled_from([1, 3]), m=st.integers(1, 2), seed=st.integers(0, 9))
def test_depthwise_and_separable_any_rank(case, channels, m, seed):
    rank, dims, kernel, stride, dilation, pad = case
    k, s, d = per_axis(kernel, rank), per_axis(stride, rank), per_axis(dilation, rank)
    pads = literal_pads(pad, dims, k, s, d)
    if any(n + b + a < dd * (kk - 1) + 1 for n, (b, a), kk, dd in zip(dims, pads, k, d)):
        return
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(*dims, channels))
    w = rng.normal(size=(*k, channels, m))
    layer = {"type": "depthwise_conv", "kernel": kernel, "stride": stride, "dilation": dilation, "padding": pad,
             "multiplier": m, "bias": False}
    got = run_one((*dims, channels), layer, x, {"weight": w})
    # channel c·m + j is input channel c with its filter j (Keras's order): a grouped conv with C groups
    want = naive_conv(x, w.reshape(*k, 1, channels * m), s, d, pads, groups=channels)
    np.testing.assert_allclose(got, want, atol=1e-10)
    record = analyse(net_of((*dims, channels), [layer])).records[0]
    assert record.params == math.prod(k) * channels * m
    sep = {**layer, "type": "separable_conv", "filters": 2}
    assert analyse(net_of((*dims, channels), [sep])).records[0].params == (
        math.prod(k) * channels * m + channels * m * 2)


@settings(max_examples=50, deadline=None)
@given(rank=ranks, dims=st.lists(st.integers(1, 4), min_size=3, max_size=3), k=st.integers(1, 3),
       s=st.integers(1, 3), d=st.integers(1, 2), p=st.integers(0, 2), op=st.integers(0, 2),
       groups=st.sampled_from([1, 2]), seed=st.integers(0, 9))
def test_conv_transpose_any_rank_and_groups(rank, dims, k, s, d, p, op, groups, seed):
    dims = dims[:rank]
    layer = {"type": f"conv_transpose{rank}d", "filters": 4, "kernel": k, "stride": s, "dilation": d,
             "padding": p, "output_padding": op, "groups": groups, "bias": False}
    out = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n in dims]
    if op >= max(s, d) or min(out) < 1:
        with pytest.raises(CnnCalcError):
            analyse(net_of((*dims, 2), [layer]))
        return
    record = analyse(net_of((*dims, 2), [layer])).records[0]
    assert list(record.output_shape) == [*out, 4]
    assert record.params == k**rank * 2 * (4 // groups)
    assert record.macs == math.prod(dims) * 2 * k**rank * (4 // groups)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(*dims, 2))
    w = rng.normal(size=(*(k,) * rank, 2, 4 // groups))
    got = run_one((*dims, 2), layer, x, {"weight": w})
    np.testing.assert_allclose(got, naive_conv_transpose(x, w, [s] * rank, [d] * rank, [(p, p)] * rank,
                                                         [op] * rank, groups), atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(case=window_case(), kind=st.sampled_from(["maxpool", "avgpool"]), include=st.booleans(),
       ceil=st.booleans(), seed=st.integers(0, 9))
def test_pools_any_rank_with_dilation_and_count_include_pad(case, kind, include, ceil, seed):
    rank, dims, kernel, stride, dilation, pad = case
    if pad == "same":
        pad = 1
    k, s, d = per_axis(kernel, rank), per_axis(stride, rank), per_axis(dilation, rank)
    pads = literal_pads(pad, dims, k, s, d)
    layer = {"type": f"{kind}{rank}d", "kernel": kernel, "stride": stride, "dilation": dilation, "padding": pad,
             "ceil_mode": ceil}
    if kind == "avgpool":
        layer["count_include_pad"] = include
    spans = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
    out = []
    for n, (b, a), sp, ss in zip(dims, pads, spans, s):
        if ceil:  # PyTorch: ceil, then drop a last window that starts in the right padding
            o = -(-(n + b + a - sp) // ss) + 1
            o -= (o - 1) * ss >= n + b
        else:
            o = (n + b + a - sp) // ss + 1
        out.append(o)
    # a window may run past the edge in ceil mode only (as PyTorch); never lie wholly in the padding
    bad = any(max(pp) > kk // 2 for pp, kk in zip(pads, k)) or min(out) < 1 or (not ceil and any(
        n + b + a < sp for n, (b, a), sp in zip(dims, pads, spans)))
    # dilated taps that all land in the padding leave a window with nothing to pool: refused
    bad = bad or any(not any(0 <= o * ss - b + t * dd < n for t in range(kk)) for n, kk, ss, dd, (b, _), m in
                     zip(dims, k, s, d, pads, out) for o in range(max(m, 0)))
    if bad:
        with pytest.raises(CnnCalcError):
            analyse(net_of((*dims, 2), [layer]))
        return
    record = analyse(net_of((*dims, 2), [layer])).records[0]
    assert list(record.output_shape) == [*out, 2]
    x = np.random.default_rng(seed).normal(size=(*dims, 2))
    got = run_one((*dims, 2), layer, x)
    np.testing.assert_allclose(got, naive_pool(x, kind, k, s, d, pads, out, include), atol=1e-12)


def test_avgpool_count_include_pad_worked_example():
    # [1, 2, 3] padded by one each side, window 3: PyTorch's default divides by 3 at the edges,
    # Keras (and cnncalc's default) by the 2 cells inside
    x = np.array([[1.0], [2.0], [3.0]])
    layer = {"type": "avgpool1d", "kernel": 3, "stride": 1, "padding": 1}
    assert run_one((3, 1), layer, x)[:, 0].tolist() == [1.5, 2.0, 2.5]
    got = run_one((3, 1), {**layer, "count_include_pad": True}, x)[:, 0]
    np.testing.assert_allclose(got, [1.0, 2.0, 5 / 3])


def test_maxpool_dilation_worked_example():
    x = np.arange(10.0)[::-1].reshape(10, 1) * 10 + np.arange(10).reshape(10, 1) % 3
    got = run_one((10, 1), {"type": "maxpool", "kernel": 2, "stride": 3, "dilation": 4}, x)[:, 0]
    # windows {0, 4}, {3, 7}: the first of each pair is the larger
    assert got.tolist() == [x[0, 0], x[3, 0]]


@settings(max_examples=40, deadline=None)
@given(rank=ranks, dims=st.lists(st.integers(1, 9), min_size=3, max_size=3),
       size=st.lists(st.integers(1, 5), min_size=3, max_size=3),
       kind=st.sampled_from(["adaptive_avgpool", "adaptive_maxpool"]), seed=st.integers(0, 9))
def test_adaptive_pools_match_pytorch_window_rule(rank, dims, size, kind, seed):
    dims, size = dims[:rank], size[:rank]
    record = analyse(net_of((*dims, 3), [{"type": kind, "size": size}])).records[0]
    assert list(record.output_shape) == [*size, 3] and record.params == 0 and record.macs == 0
    x = np.random.default_rng(seed).normal(size=(*dims, 3))
    np.testing.assert_allclose(run_one((*dims, 3), {"type": kind, "size": size}, x), naive_adaptive(x, kind, size),
                               atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(rank=ranks, dims=st.lists(st.integers(1, 5), min_size=3, max_size=3),
       scale=st.lists(st.integers(1, 3), min_size=3, max_size=3),
       size=st.one_of(st.none(), st.lists(st.integers(1, 8), min_size=3, max_size=3)),
       mode=st.sampled_from(["nearest", "linear"]), seed=st.integers(0, 9))
def test_upsample_any_rank_matches_literal_interpolation(rank, dims, scale, size, mode, seed):
    dims, scale = dims[:rank], scale[:rank]
    layer = {"type": "upsample", "mode": mode, **({"size": size[:rank]} if size else {"scale": scale})}
    out = size[:rank] if size else [n * s for n, s in zip(dims, scale)]
    record = analyse(net_of((*dims, 2), [layer])).records[0]
    assert list(record.output_shape) == [*out, 2] and record.params == 0
    x = np.random.default_rng(seed).normal(size=(*dims, 2))
    np.testing.assert_allclose(run_one((*dims, 2), layer, x), naive_upsample(x, out, mode), atol=1e-12)


@pytest.mark.parametrize("block_bytes", [1, 1 << 21])
def test_linear_upsample_phases_gathers_and_block_seams_match_the_literal_loop(block_bytes, monkeypatch):
    """Every way the executor takes: integer ratios (phases of whole rows above the last spatial axis,
    gathers of weighted copies along it), other sizes (blended gathers), a mix per axis, one-pixel axes,
    1-D to 3-D, a batch of two; with 1-byte blocks every block is one phase group of output rows, so each
    seam reads the rows either side from the next block's source. Against the literal loop above."""
    from cnncalc.layers import spatial

    monkeypatch.setattr(spatial, "LINEAR_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(7)
    cases = [((9,), {"scale": 2}), ((9,), {"scale": 3}), ((1,), {"scale": 3}), ((7,), {"size": 12}),
             ((7, 5), {"scale": 2}), ((5, 6), {"scale": [3, 2]}), ((4, 1), {"scale": 2}), ((1, 4), {"scale": [2, 3]}),
             ((6, 5), {"size": [9, 10]}), ((5, 4), {"size": [10, 7]}), ((4, 5), {"size": [7, 15]}),
             ((6, 7), {"scale": 4}), ((3, 4, 5), {"scale": 2}), ((3, 2, 4), {"scale": [3, 2, 2]}),
             ((4, 3, 3), {"size": [6, 7, 9]}), ((2, 3, 2), {"scale": 1}), ((5, 3, 4), {"size": [10, 5, 8]})]
    for dims, field in cases:
        layer = net_of((*dims, 3), [{"type": "upsample", "mode": "linear", **field}]).layers[0]
        out = [int(d) for d in analyse(net_of((*dims, 3), [{"type": "upsample", "mode": "linear", **field}]))
               .records[0].output_shape[:-1]]
        x = rng.normal(size=(2, *dims, 3))
        got = layer.forward([x], {}, (*out, 3))
        for sample in range(2):
            np.testing.assert_allclose(got[sample], naive_upsample(x[sample], out, "linear"), rtol=0, atol=1e-14,
                                       err_msg=f"{dims} {field}")


def test_upsample_worked_examples_and_scipy():
    x = np.array([[0.0], [10.0]])
    assert run_one((2, 1), {"type": "upsample"}, x)[:, 0].tolist() == [0, 0, 10, 10]
    assert run_one((2, 1), {"type": "upsample", "mode": "linear"}, x)[:, 0].tolist() == [0, 2.5, 7.5, 10]
    # nearest with a size: source ⌊i·3/7⌋
    y = run_one((3, 1), {"type": "upsample", "size": 7}, np.array([[1.0], [2.0], [3.0]]))[:, 0]
    assert y.tolist() == [1, 1, 1, 2, 2, 3, 3]
    ndimage = pytest.importorskip("scipy.ndimage")
    # scipy's zoom with grid_mode=True uses the same half-pixel grid; edges repeat (mode 'nearest')
    image = np.random.default_rng(1).normal(size=(4, 5, 1))
    got = run_one((4, 5, 1), {"type": "upsample", "scale": [2, 3], "mode": "linear"}, image)[..., 0]
    want = ndimage.zoom(image[..., 0], (2, 3), order=1, grid_mode=True, mode="nearest")
    np.testing.assert_allclose(got, want, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(rank=ranks, dims=st.lists(st.integers(1, 9), min_size=3, max_size=3),
       crop=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=3, max_size=3),
       size=st.lists(st.integers(1, 9), min_size=3, max_size=3), use_size=st.booleans(), seed=st.integers(0, 9))
def test_crop_any_rank(rank, dims, crop, size, use_size, seed):
    dims, crop, size = dims[:rank], crop[:rank], size[:rank]
    if use_size:
        layer = {"type": "crop", "size": size}
        pairs = [((n - m) // 2, n - m - (n - m) // 2) for n, m in zip(dims, size)]  # odd pixel off the end
    else:
        layer = {"type": "crop", "cropping": [list(c) for c in crop]}
        pairs = crop
    out = [n - b - a for n, (b, a) in zip(dims, pairs)]
    if min(out) < 1 or (use_size and any(m > n for m, n in zip(size, dims))):
        with pytest.raises(CnnCalcError, match="crop"):
            analyse(net_of((*dims, 2), [layer]))
        return
    assert list(analyse(net_of((*dims, 2), [layer])).records[0].output_shape) == [*out, 2]
    x = np.random.default_rng(seed).normal(size=(*dims, 2))
    box = tuple(slice(b, n - a) for n, (b, a) in zip(dims, pairs))
    np.testing.assert_array_equal(run_one((*dims, 2), layer, x), x[box])


def test_crop_keras_forms_and_centre_crop():
    # Keras Cropping2D(((1, 2), (3, 4))) on 10×10 → 7×3; an int crops every side
    assert analyse(net_of((10, 10, 1), [{"type": "crop", "cropping": [[1, 2], [3, 4]]}])).records[0].output_shape \
        == (7, 3, 1)
    assert analyse(net_of((10, 10, 1), [{"type": "crop", "cropping": [1, 2]}])).records[0].output_shape == (8, 6, 1)
    assert analyse(net_of((10, 4), [{"type": "crop", "cropping": 2}])).records[0].output_shape == (6, 4)
    # U-Net: 64×64 → 56×56 takes rows 4..59; 7 → 4 takes 1..4 (the odd pixel off the end)
    x = np.arange(7.0).reshape(7, 1)
    assert run_one((7, 1), {"type": "crop", "size": 4}, x)[:, 0].tolist() == [1, 2, 3, 4]


def test_zero_pad_any_rank():
    x = np.ones((2, 3, 4, 1))
    layer = {"type": "zero_pad", "padding": [[1, 0], [0, 2], 1]}
    with pytest.raises(CnnCalcError):  # mixing pairs and ints is refused
        analyse(net_of((2, 3, 4, 1), [layer]))
    layer = {"type": "zero_pad", "padding": [[1, 0], [0, 2], [1, 1]]}
    y = run_one((2, 3, 4, 1), layer, x)
    assert y.shape == (3, 5, 6, 1) and y.sum() == 24 and y[1:, :3, 1:5].sum() == 24


@settings(max_examples=30, deadline=None)
@given(channels=st.integers(1, 7), size=st.integers(1, 6), alpha=st.floats(1e-4, 1.0), beta=st.floats(0.5, 1.0),
       k=st.floats(0.5, 2.0), rank=st.integers(0, 3), seed=st.integers(0, 9))
def test_lrn_matches_literal_formula(channels, size, alpha, beta, k, rank, seed):
    shape = (3,) * rank + (channels,)
    x = np.random.default_rng(seed).normal(size=shape)
    layer = {"type": "lrn", "size": size, "alpha": alpha, "beta": beta, "k": k}
    record = analyse(net_of(shape, [layer])).records[0]
    assert record.output_shape == shape and record.params == 0
    np.testing.assert_allclose(run_one(shape, layer, x), naive_lrn(x, size, alpha, beta, k), rtol=1e-12)


def test_global_pools_keepdims_per_rank():
    for shape, kept in (((9, 4), (1, 4)), ((5, 6, 4), (1, 1, 4)), ((2, 3, 5, 4), (1, 1, 1, 4))):
        for kind in ("global_avgpool", "global_maxpool"):
            assert analyse(net_of(shape, [{"type": kind, "keepdims": True}])).records[0].output_shape == kept
            assert analyse(net_of(shape, [{"type": kind}])).records[0].output_shape == (4,)
        x = np.random.default_rng(0).normal(size=shape)
        got = run_one(shape, {"type": "global_avgpool", "keepdims": True}, x)
        np.testing.assert_allclose(got.reshape(-1), x.reshape(-1, 4).mean(axis=0))


def test_conv1d_against_scipy_signal():
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(50, 1)), rng.normal(size=(7, 1, 1))
    got = run_one((50, 1), {"type": "conv1d", "filters": 1, "kernel": 7, "bias": False}, x, {"weight": w})
    np.testing.assert_allclose(got[:, 0], signal.correlate(x[:, 0], w[:, 0, 0], mode="valid"), atol=1e-12)
    x3, w3 = rng.normal(size=(6, 7, 8, 1)), rng.normal(size=(2, 3, 4, 1, 1))
    got = run_one((6, 7, 8, 1), {"type": "conv3d", "filters": 1, "kernel": [2, 3, 4], "bias": False}, x3,
                  {"weight": w3})
    np.testing.assert_allclose(got[..., 0], signal.correlate(x3[..., 0], w3[..., 0, 0], mode="valid"), atol=1e-12)


def test_maxpool_against_scipy_ndimage():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(3).normal(size=(6, 7, 8, 1))
    got = run_one((6, 7, 8, 1), {"type": "maxpool3d", "kernel": 3, "stride": 1}, x)[..., 0]
    want = ndimage.maximum_filter(x[..., 0], size=3, mode="constant", cval=-np.inf)[1:-1, 1:-1, 1:-1]
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- receptive fields against impulses


def measured_fields(input_shape, layers, seed=0, impulse=1000.0):
    """Per spatial axis, the largest extent of input pixels one output pixel depends on, and each
    output pixel's (first, last) dependent input coordinates: every input pixel is raised by 1000 in its
    own batch entry and the outputs that move are recorded. Weights are positive (0.5 to 1.5), so no
    dependence cancels or fades, and a raised pixel always wins the max of a pool it reaches."""
    net = net_of(input_shape, layers)
    summary = analyse(net)
    rng = np.random.default_rng(seed)
    shapes = {"input": tuple(input_shape)}
    weights = {}
    for layer, record in zip(net.layers, summary.records):
        for key, shape in layer.weight_shapes([shapes[s] for s in layer.inputs]).items():
            weights[f"{layer.name}.{key}"] = rng.uniform(0.5, 1.5, size=shape)
        shapes[layer.name] = record.output_shape
    spatial = input_shape[:-1]
    positions = np.array(list(np.ndindex(*spatial)))
    base = rng.uniform(-1, 1, size=input_shape)
    reference = run(net, base[None], weights).output
    moved_parts = []
    for chunk in np.array_split(np.arange(len(positions)), max(len(positions) // 32, 1)):
        batch = np.repeat(base[None], len(chunk), axis=0)
        batch[(np.arange(len(chunk)), *positions[chunk].T)] += impulse
        out = run(net, batch, weights).output
        moved_parts.append((np.abs(out - reference) > 1e-6).reshape(len(chunk), -1, out.shape[-1]).any(axis=-1))
    moved = np.concatenate(moved_parts)  # [input position, output position]
    reached = moved.any(axis=0)
    sizes, bounds = [], []
    for axis in range(len(spatial)):
        coord = positions[:, axis][:, None]
        first = np.where(moved, coord, 10**9).min(axis=0)
        last = np.where(moved, coord, -1).max(axis=0)
        sizes.append(int((last - first + 1)[reached].max()) if reached.any() else 0)  # 0: reads no pixel
        bounds.append((first, last, reached))
    return summary.records[-1], sizes, bounds


SINGLE_LAYERS = [
    {"type": "conv", "filters": 2, "kernel": 3},
    {"type": "conv", "filters": 2, "kernel": 2, "stride": 2, "dilation": 2, "padding": 1},
    {"type": "conv", "filters": 2, "kernel": 3, "padding": "same", "dilation": 2},
    {"type": "depthwise_conv", "kernel": 3, "stride": 2},
    {"type": "separable_conv", "filters": 2, "kernel": 2, "dilation": 3},
    {"type": "conv_transpose", "filters": 2, "kernel": 2, "stride": 2},
    {"type": "conv_transpose", "filters": 2, "kernel": 3, "stride": 2, "padding": 1},
    {"type": "conv_transpose", "filters": 2, "kernel": 4, "stride": 1},
    {"type": "conv_transpose", "filters": 2, "kernel": 3, "stride": 2, "dilation": 2},
    {"type": "conv_transpose", "filters": 2, "kernel": 2, "stride": 2, "dilation": 3},
    {"type": "conv_transpose", "filters": 2, "kernel": 5, "stride": 3},
    {"type": "maxpool", "kernel": 2},
    {"type": "maxpool", "kernel": 3, "stride": 2, "padding": 1},
    {"type": "maxpool", "kernel": 2, "stride": 1, "dilation": 2},
    {"type": "avgpool", "kernel": 3, "stride": 2, "ceil_mode": True},
    {"type": "zero_pad", "padding": 2},
    {"type": "crop", "cropping": 1},
    {"type": "upsample"},
    {"type": "upsample", "scale": 3, "mode": "linear"},
    {"type": "upsample", "mode": "linear"},
    {"type": "upsample", "size": 5, "mode": "linear"},
    {"type": "upsample", "size": 13},
    {"type": "adaptive_avgpool", "size": 3},
    {"type": "adaptive_maxpool", "size": 4},
]


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("layer", SINGLE_LAYERS, ids=lambda layer: "-".join(f"{v}" for v in layer.values()))
def test_receptive_field_of_each_spatial_layer_matches_its_impulse_response(layer, rank):
    n = {1: 12, 2: 8, 3: 5}[rank]
    record, sizes, _ = measured_fields((n,) * rank + (2,), [layer])
    assert [axis[0] for axis in record.receptive_field] == sizes


@pytest.mark.parametrize("layers", [
    [{"type": "pixel_shuffle", "factor": 2}],
    [{"type": "pixel_unshuffle", "factor": 2, "mode": "dcr"}],
    [{"type": "pixel_shuffle", "factor": 2}, {"type": "conv", "filters": 2, "kernel": 3}],
    [{"type": "conv", "filters": 4, "kernel": 2}, {"type": "pixel_unshuffle", "factor": 3},
     {"type": "conv", "filters": 2, "kernel": 2}, {"type": "pixel_shuffle", "factor": 1}],
    [{"type": "pixel_unshuffle", "factor": 2}, {"type": "conv", "filters": 8, "kernel": 2},
     {"type": "pixel_shuffle", "factor": 2, "mode": "dcr"}, {"type": "conv", "filters": 2, "kernel": 3}],
], ids=str)
def test_receptive_field_of_pixel_shuffles_matches_impulse_response(layers):
    n = 7 if layers[0]["type"] == "conv" else 6
    record, sizes, _ = measured_fields((n, n, 4), layers)
    assert [axis[0] for axis in record.receptive_field] == sizes


CHAINS = [
    [{"type": "conv", "filters": 2, "kernel": 3}, {"type": "maxpool", "kernel": 2},
     {"type": "conv", "filters": 2, "kernel": 3, "dilation": 2}],
    [{"type": "conv", "filters": 2, "kernel": 3, "stride": 2}, {"type": "conv_transpose", "filters": 2, "kernel": 2,
                                                                "stride": 2}],
    [{"type": "maxpool", "kernel": 2}, {"type": "conv_transpose", "filters": 2, "kernel": 2, "stride": 2},
     {"type": "conv", "filters": 2, "kernel": 3}],
    [{"type": "upsample"}, {"type": "conv", "filters": 2, "kernel": 3}],
    [{"type": "upsample"}, {"type": "conv", "filters": 2, "kernel": 2}],
    [{"type": "conv", "filters": 2, "kernel": 3}, {"type": "upsample", "mode": "linear"},
     {"type": "conv", "filters": 2, "kernel": 3}],
    [{"type": "upsample", "scale": 2}, {"type": "upsample", "scale": 2}, {"type": "conv", "filters": 2, "kernel": 3},
     {"type": "conv", "filters": 2, "kernel": 3}],
    [{"type": "zero_pad", "padding": 1}, {"type": "conv", "filters": 2, "kernel": 3}, {"type": "crop", "cropping": 2},
     {"type": "avgpool", "kernel": 2}],
    # a kernel shorter than the stride: outputs that read nothing, then windows over them
    [{"type": "conv_transpose", "filters": 2, "kernel": 1, "stride": 3}, {"type": "conv", "filters": 2, "kernel": 2},
     {"type": "maxpool", "kernel": 3, "stride": 2}, {"type": "upsample", "mode": "linear"},
     {"type": "adaptive_avgpool", "size": 7}],
    [{"type": "conv", "filters": 2, "kernel": 3, "stride": 2}, {"type": "upsample", "size": 21, "mode": "linear"},
     {"type": "conv", "filters": 2, "kernel": 3, "padding": 2}, {"type": "adaptive_maxpool", "size": 5}],
]


@pytest.mark.parametrize("layers", CHAINS, ids=[str(i) for i in range(len(CHAINS))])
def test_receptive_field_through_chains_matches_impulse_response(layers):
    record, sizes, _ = measured_fields((16, 2), layers)
    assert [axis[0] for axis in record.receptive_field] == sizes


def test_sliding_window_jump_and_start_match_impulse_response():
    # where every jump is whole the field of output o is centred exactly at start + o·jump
    layers = [{"type": "zero_pad", "padding": [[2, 0]]}, {"type": "conv", "filters": 2, "kernel": 3, "stride": 2},
              {"type": "maxpool", "kernel": 3, "stride": 2, "padding": 1}, {"type": "crop", "cropping": [[1, 0]]},
              {"type": "conv", "filters": 1, "kernel": 2, "dilation": 2}]
    record, _, bounds = measured_fields((40, 1), layers)
    (size, jump, start), = record.receptive_field
    first, last, _ = bounds[0]
    full = (last - first + 1) == size  # outputs whose field lies wholly inside the input
    centres = (first + last) / 2
    o = np.arange(len(first))
    assert full.sum() >= 2
    np.testing.assert_allclose(centres[full], start + o[full] * jump)


def test_transposed_conv_field_is_one_pixel_not_one_and_a_half():
    summary = analyse(net_of((8, 8, 4), [{"type": "conv_transpose", "filters": 2, "kernel": 2, "stride": 2}]))
    (size_h, jump_h, _), (size_w, _, _) = summary.records[0].receptive_field
    assert (size_h, size_w, jump_h) == (1, 1, 0.5)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("text, phrases", [
    ("input: [20, 3]\nlayers:\n  - {type: conv2d, filters: 4, kernel: 3}\n",
     ["bad.yaml:3", "layer 1", "conv2d", "[H, W, C]", "got [20, 3]", "expected 3 axes"]),
    ("input: [8, 8, 8, 3]\nlayers:\n  - {type: maxpool1d, kernel: 2}\n",
     ["bad.yaml:3", "maxpool1d", "[L, C]", "expected 2 axes"]),
    ("input: [20, 3]\nlayers:\n  - {type: conv, filters: 4, kernel: [3, 3]}\n",
     ["bad.yaml:3", "field 'kernel'", "(L)", "got [3, 3]", "a list of 1"]),
    ("input: [8, 8, 8, 3]\nlayers:\n  - {type: avgpool, kernel: 2, stride: [1, 2]}\n",
     ["bad.yaml:3", "field 'stride'", "(D, H, W)", "got [1, 2]", "a list of 3"]),
    ("input: [20, 3]\nlayers:\n  - {type: zero_pad, padding: [1, 2]}\n",
     ["bad.yaml:3", "field 'padding'", "got [1, 2]", "nested: [[1, 2]]"]),
    ("input: [20, 3]\nlayers:\n  - {type: conv, filters: 1, kernel: 3, padding: [1, 2]}\n",
     ["bad.yaml:3", "field 'padding'", "got [1, 2]", "[[1, 2]]"]),
    ("input: [10, 10, 3]\nlayers:\n  - {type: conv, filters: 1, kernel: 3}\n  - {type: crop, size: [9, 4]}\n",
     ["bad.yaml:4", "layer 2", "crop", "field 'size'", "got 9", "at most 8"]),
    ("input: [10, 10, 3]\nlayers:\n  - {type: crop, cropping: [[5, 5], [0, 0]]}\n",
     ["bad.yaml:3", "field 'cropping'", "got [5, 5]", "below 10"]),
    ("input: [10, 10, 3]\nlayers:\n  - {type: upsample, scale: 2, size: 20}\n",
     ["bad.yaml:3", "field 'size'", "either scale or size"]),
    ("input: [10, 10, 3]\nlayers:\n  - {type: upsample, mode: bilinear}\n",
     ["bad.yaml:3", "field 'mode'", "nearest, linear"]),
    ("input: [10, 10, 3]\nlayers:\n  - {type: maxpool, kernel: 2, count_include_pad: true}\n",
     ["bad.yaml:3", "unknown field", "count_include_pad"]),
    ("input: [10, 10, 3]\nlayers:\n  - {type: crop}\n", ["bad.yaml:3", "either cropping or size"]),
    ("input: [10, 10, 3]\nlayers:\n  - {type: avgpool, kernel: 2, dilatation: 2}\n",
     ["bad.yaml:3", "unknown field for an avgpool layer", "did you mean 'dilation'"]),
    ("input: [10, 10, 3]\nlayers:\n  - {type: upsample, inputs: [input, input]}\n",
     ["bad.yaml:3", "an upsample layer takes one input"]),
    ("input: [10]\nlayers:\n  - {type: adaptive_avgpool, size: 2}\n",
     ["bad.yaml:3", "an adaptive_avgpool layer needs an input of shape [H, W, C]", "got [10]"]),
    ("input: [2, 10, 3]\nlayers:\n  - {type: maxpool, kernel: 2, stride: 1, dilation: 3, padding: 1}\n",
     ["bad.yaml:3", "field 'padding'", "reads only padding"]),
    ("input: [10, 10, 3]\nlayers:\n  - {type: lrn}\n", ["bad.yaml:3", "field 'size'"]),
    ("input: [10, 10, 3]\nlayers:\n  - {type: conv_transpose, filters: 4, kernel: 2, groups: 2}\n",
     ["bad.yaml:3", "field 'groups'", "divisor of the 3 input channels"]),
    ("input: [10, 10, 3]\nlayers:\n  - {type: conv, filters: 4, kernel: [1, 2, 3, 4]}\n",
     ["bad.yaml:3", "field 'kernel'", "a list of 1 to 3"]),
])
def test_v2_errors_name_file_line_layer_field(cli, tmp_path, text, phrases):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, out, err = cli("summary", str(path))
    assert code == 2, out
    message = err.strip().splitlines()
    assert len(message) == 1 and "Traceback" not in err
    for phrase in phrases:
        assert phrase in err, err
    with pytest.raises(CnnCalcError):
        analyse(loads_spec(text, "bad.yaml"))


def test_v1_padding_forms_unchanged():
    # [ph, pw] on a 2-D input is per axis; [[top, bottom], [left, right]] nested
    net = net_of((10, 10, 1), [{"type": "conv", "filters": 1, "kernel": 3, "padding": [1, 2]},
                                {"type": "conv", "filters": 1, "kernel": 3, "padding": [[0, 1], [2, 3]]}])
    assert [r.output_shape for r in analyse(net).records] == [(10, 12, 1), (9, 15, 1)]


def test_explain_lines_per_axis():
    one = analyse(net_of((100, 1), [{"type": "conv", "filters": 1, "kernel": 5, "stride": 2}])).records[0]
    assert one.explain[0] == "L: ⌊(100 + 2·0 − 5)/2⌋ + 1 = 48"
    three = analyse(net_of((16, 32, 32, 3), [{"type": "conv3d", "filters": 8, "kernel": 3, "padding": 1}])).records[0]
    assert [line[:2] for line in three.explain[:3]] == ["D:", "H:", "W:"]
    assert three.explain[3] == "params: 3·3·3·3·8 + 8 = 656"
    two = analyse(net_of((32, 32, 3), [{"type": "conv2d", "filters": 8, "kernel": 5}])).records[0]
    assert two.explain[:2] == ["H: ⌊(32 + 2·0 − 5)/1⌋ + 1 = 28", "W: ⌊(32 + 2·0 − 5)/1⌋ + 1 = 28"]


def test_symbolic_1d_and_3d():
    spec = "input: [n, 3]\nlayers:\n  - {type: conv1d, filters: 4, kernel: 3, stride: 2}\n  - {type: upsample}\n"
    records = analyse(loads_spec(spec)).records

    n = next(iter(records[0].output_shape[0].free_symbols))
    for size in range(3, 40):  # symbolic sizes are kept in their own floor form: compare their values
        length = records[0].output_shape[0].subs(n, size)
        assert length == (size - 3) // 2 + 1
        assert records[1].output_shape[0].subs(n, size) == 2 * length
    assert records[1].output_shape[1] == 4 and records[1].explain[0].startswith("L: (floor(")


# ---------------------------------------------------------------- zoo


@pytest.mark.parametrize("name, params, output, macs", [
    ("unet", 31_030_658, [388, 388, 2], None),       # Ronneberger et al. 2015 (torch count, no batchnorm)
    ("r3d_18", 33_371_472, [400], 40_696_553_472),   # torchvision r3d_18: 40.70 GFLOPS (MACs) documented
    ("m5", 26_915, [35], None),                      # torchaudio tutorial M5: "Number of parameters: 26915"
])
def test_v2_zoo_published_counts(cli_json, name, params, output, macs):
    data = cli_json("summary", name)
    assert (data["totals"]["params"], data["totals"]["trainable_params"]) == (params, params)
    assert data["layers"][-1]["output_shape"] == output
    if macs is not None:
        assert data["totals"]["macs"] == macs


def test_unet_crops_and_shapes():
    from cnncalc import load_spec

    summary = analyse(load_spec("unet"))
    shapes = {r.name: list(r.output_shape) for r in summary.records}
    assert shapes["enc1.conv2"] == [568, 568, 64] and shapes["bottom.conv2"] == [28, 28, 1024]
    assert [shapes[f"skip{i}"][0] for i in (4, 3, 2, 1)] == [56, 104, 200, 392]
    assert shapes["cat1"] == [392, 392, 128]


def unet_1d_analogue():
    """The zoo's U-Net on one channel in 1-D: its valid convs, pools (averaged: a linear net, so every
    dependence shows), 2×2 up-convolutions and centre crops."""
    from cnncalc import load_spec

    layers = []
    for layer in load_spec("unet").layers:
        options = {key: value for key, value in layer.options.items() if value is not None and key != "weight"}
        plain = {"type": layer.type, "name": layer.name, "inputs": layer.inputs}
        if layer.type in ("conv", "conv_transpose"):
            plain.update(filters=1, kernel=options["kernel"][0], stride=options["stride"][0])
        elif layer.type == "maxpool":
            plain.update(type="avgpool", kernel=2)
        elif layer.type == "crop":
            plain.update(size=options["size"][0])
        layers.append(plain)
    return layers


def test_unet_receptive_field_matches_impulse_response_of_a_1d_analogue():
    # the simple (size, jump) recurrence would say 200 here; the exact fields of the transposed convs, 204
    record, sizes, _ = measured_fields((572, 1), unet_1d_analogue())
    assert record.output_shape == (388, 1)
    assert [axis[0] for axis in record.receptive_field] == sizes == [204]


def test_exact_fields_cap_per_axis(monkeypatch):
    from cnncalc.calc import analysis

    net = net_of((572, 1), unet_1d_analogue())
    # the layers from the first up-convolution on are at most 392 long (up1's output)
    monkeypatch.setattr(analysis, "EXACT_AXIS", 392)  # within the cap: exact
    assert analyse(net).records[-1].receptive_field[0][0] == 204
    monkeypatch.setattr(analysis, "EXACT_AXIS", 391)  # up1 beyond it: the recurrence from there on
    assert analyse(net).records[-1].receptive_field[0][0] == 200
    monkeypatch.setattr(analysis, "EXACT_AXIS", 1 << 20)
    # kept bounds: the lengths of up4 … out (the skips' crops need none) add up to 3,372
    monkeypatch.setattr(analysis, "EXACT_TOTAL", 3372)
    assert analyse(net).records[-1].receptive_field[0][0] == 204
    monkeypatch.setattr(analysis, "EXACT_TOTAL", 3371)  # the last layer beyond it
    assert analyse(net).records[-1].receptive_field[0][0] == 200
    monkeypatch.setattr(analysis, "EXACT_TOTAL", 1 << 23)
    # a transposed conv's (outputs × taps) table: up1 has 392 outputs and 2 taps
    monkeypatch.setattr(analysis, "EXACT_TAPS", 784)
    assert analyse(net).records[-1].receptive_field[0][0] == 204
    monkeypatch.setattr(analysis, "EXACT_TAPS", 783)
    assert analyse(net).records[-1].receptive_field[0][0] == 200


def test_torchvision_specs_use_torch_batchnorm_epsilon():
    from cnncalc import load_spec

    for name in ("resnet18", "resnet50", "mobilenetv2", "densenet121", "r3d_18", "m5"):
        eps = {layer.epsilon for layer in load_spec(name).layers if layer.type == "batchnorm"}
        assert eps == {1e-5}, name


@st.composite
def spatial_layer(draw):
    """A random unpadded spatial layer (padding pixels belong to fields by convention, but no impulse
    reaches them: the padded forms are checked on interior outputs above)."""
    kind = draw(st.sampled_from(["conv", "conv_transpose", "maxpool", "avgpool", "upsample", "crop",
                                 "adaptive_avgpool", "adaptive_maxpool"]))
    k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    if kind == "conv":
        return {"type": kind, "filters": 1, "kernel": k, "stride": s, "dilation": d}
    if kind == "conv_transpose":
        return {"type": kind, "filters": 1, "kernel": k, "stride": s, "dilation": d}
    if kind in ("maxpool", "avgpool"):
        return {"type": kind, "kernel": k, "stride": s}
    if kind == "upsample":
        return {"type": kind, "scale": draw(st.integers(1, 3)), "mode": draw(st.sampled_from(["nearest", "linear"]))}
    if kind == "crop":
        return {"type": kind, "cropping": [[draw(st.integers(0, 2)), draw(st.integers(0, 2))]]}
    return {"type": kind, "size": draw(st.integers(2, 9))}


@settings(max_examples=40, deadline=None)
@given(layers=st.lists(spatial_layer(), min_size=1, max_size=4), n=st.integers(12, 30))
def test_receptive_field_of_random_1d_chains_matches_impulse_response(layers, n):
    try:
        analyse(net_of((n, 1), layers))
    except CnnCalcError:
        return
    record, sizes, _ = measured_fields((n, 1), layers)
    # (a chain whose outputs read no pixel at all still shows 1: a field is never below 1)
    assert record.receptive_field[0][0] == max(sizes[0], 1)


def test_exact_fields_cap_applies_to_every_axis(monkeypatch):
    """The U-Net analogue along the last spatial axis of an image one row high: the per-axis cap is checked on
    that axis too, not only the first."""
    from cnncalc.calc import analysis

    layers = []
    for layer in unet_1d_analogue():
        wide = dict(layer)
        for key in ("kernel", "stride"):
            if key in wide:
                wide[key] = [1, wide[key]]
        if "size" in wide:
            wide["size"] = [1, wide["size"]]
        if wide["type"] == "avgpool":
            wide["kernel"] = [1, 2]
        layers.append(wide)
    net = net_of((1, 572, 1), layers)
    monkeypatch.setattr(analysis, "EXACT_AXIS", 392)
    assert [axis[0] for axis in analyse(net).records[-1].receptive_field] == [1, 204]
    monkeypatch.setattr(analysis, "EXACT_AXIS", 391)  # the wide axis beyond it: the recurrence there
    assert [axis[0] for axis in analyse(net).records[-1].receptive_field] == [1, 200]


def test_a_dilated_window_after_a_transposed_conv_reads_its_taps_only():
    """Found by the random-chain test: output pixels 3 … 9 of the transposed conv read inputs 0 … 3, but a
    kernel of 4 with dilation 2 reads only 3, 5, 7, 9 (inputs 1 and 3): its field is 3 pixels, not 4."""
    layers = [{"type": "conv_transpose", "name": "t", "filters": 1, "kernel": 3, "stride": 3, "dilation": 2},
              {"type": "conv", "name": "c", "filters": 1, "kernel": 4, "dilation": 2}]
    record, sizes, _ = measured_fields((12, 1), layers)
    assert [axis[0] for axis in record.receptive_field] == sizes == [3]


def test_a_chain_whose_outputs_read_no_pixel_has_a_field_of_one():
    # the transposed conv's odd pixels read nothing; the crop moves them to even places; the stride keeps those
    layers = [{"type": "conv", "filters": 1, "kernel": 2, "stride": 1, "dilation": 1},
              {"type": "conv_transpose", "filters": 1, "kernel": 1, "stride": 2, "dilation": 1},
              {"type": "crop", "cropping": [[1, 0]]},
              {"type": "conv", "filters": 1, "kernel": 1, "stride": 2, "dilation": 1}]
    record, sizes, _ = measured_fields((12, 1), layers)
    assert sizes == [0] and record.receptive_field[0][0] == 1
    assert [r.receptive_field[0][0] for r in analyse(net_of((12, 1), layers)).records] == [2, 2, 2, 1]


@pytest.mark.parametrize("layers", [
    [{"type": "window_attention", "heads": 1, "window": 3, "partition": "grid"}],
    [{"type": "conv", "filters": 2, "kernel": 2, "padding": "same"},
     {"type": "window_attention", "heads": 2, "window": 3, "partition": "grid", "scale": "channels"}],
], ids=str)
def test_receptive_field_of_grid_attention_matches_impulse_response(layers):
    """Each output of a grid attention reads the window pixels spaced n/window apart along each axis."""
    record, sizes, bounds = measured_fields((6, 9, 2), layers, impulse=1.0)
    assert [axis[0] for axis in record.receptive_field] == sizes
    if len(layers) == 1:  # rows: spacing 2, reach 5; columns: spacing 3, reach 7
        assert sizes == [5, 7]
        first, last, _ = bounds[1]
        assert first.reshape(6, 9)[0].tolist() == [0, 1, 2] * 3 and last.reshape(6, 9)[0].tolist() == [6, 7, 8] * 3


@pytest.mark.parametrize("layers", [
    [{"type": "window_attention", "heads": 1, "window": 3}],
    [{"type": "window_attention", "heads": 1, "window": 3, "shift": 1}],
    [{"type": "window_attention", "heads": 2, "window": 4, "shift": 2}],
    [{"type": "conv", "filters": 2, "kernel": 2}, {"type": "window_attention", "heads": 1, "window": 3, "shift": 1},
     {"type": "window_attention", "heads": 2, "window": 2}],
], ids=str)
def test_receptive_field_of_window_attention_matches_impulse_response(layers):
    """Each output reads its window (its region of it where shifted): the exact field, padding and wrap
    included, output pixel by output pixel."""
    from cnncalc.calc.analysis import window_bounds

    # an impulse of 1, not 1000: the mask adds −100 to the scores between regions, which a score raised by
    # 1000² would outweigh; at the scale of the values a network computes, e^−100 is below float64's resolution
    record, sizes, bounds = measured_fields((7, 6, 2), layers, impulse=1.0)
    assert [axis[0] for axis in record.receptive_field] == sizes
    if len(layers) == 1:
        layer = layers[0]
        for axis, n in enumerate((7, 6)):
            first, last, _ = bounds[axis]
            lo, hi = window_bounds(layer["window"], layer.get("shift", 0), n)
            grid = first.reshape(7, 6), last.reshape(7, 6)
            line = (grid[0][:, 0], grid[1][:, 0]) if axis == 0 else (grid[0][0], grid[1][0])
            assert line[0].tolist() == lo.tolist() and line[1].tolist() == hi.tolist()
