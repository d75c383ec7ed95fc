"""Where PyTorch is installed, the executor and the calculator against torch.nn.functional on random
cases (an independent implementation of the same conventions). Skipped without torch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc import CnnCalcError, analyse, build_network
from cnncalc.run.executor import run

torch = pytest.importorskip("torch")
F = torch.nn.functional


def ours(input_shape, layer, x, weights=None):
    net = build_network({"input": list(input_shape), "layers": [{"name": "l", **layer}]})
    analyse(net)
    return run(net, x, {f"l.{k}": v for k, v in (weights or {}).items()}).output


@settings(max_examples=80, deadline=None)
@given(n=st.integers(3, 12), c=st.sampled_from([1, 2, 4]), f=st.sampled_from([1, 2, 4]), k=st.integers(1, 4),
       s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 2), groups=st.sampled_from([1, 2]),
       seed=st.integers(0, 99))
def test_conv2d(n, c, f, k, s, p, d, groups, seed):
    if c % groups or f % groups:
        return
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n, c))
    w = rng.normal(size=(k, k, c // groups, f))
    b = rng.normal(size=f)
    layer = {"type": "conv", "filters": f, "kernel": k, "stride": s, "padding": p, "dilation": d, "groups": groups}
    try:
        got = ours((n, n, c), layer, x, {"weight": w, "bias": b})
    except CnnCalcError:
        with pytest.raises(RuntimeError):
            F.conv2d(torch.zeros(1, c, n, n), torch.zeros(f, c // groups, k, k), stride=s, padding=p, dilation=d,
                     groups=groups)
        return
    want = F.conv2d(torch.from_numpy(x.transpose(2, 0, 1)[None]), torch.from_numpy(w.transpose(3, 2, 0, 1)),
                    torch.from_numpy(b), stride=s, padding=p, dilation=d, groups=groups)[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(got, want, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 8), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), op=st.integers(0, 2),
       d=st.integers(1, 2), seed=st.integers(0, 99))
def test_conv_transpose2d(n, k, s, p, op, d, seed):
    if op >= max(s, d):
        return
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n, 2))
    w = rng.normal(size=(k, k, 2, 3))
    layer = {"type": "conv_transpose", "filters": 3, "kernel": k, "stride": s, "padding": p, "output_padding": op,
             "dilation": d, "bias": False}
    try:
        got = ours((n, n, 2), layer, x, {"weight": w})
    except CnnCalcError:
        return
    want = F.conv_transpose2d(torch.from_numpy(x.transpose(2, 0, 1)[None]), torch.from_numpy(w.transpose(2, 3, 0, 1)),
                              stride=s, padding=p, output_padding=op, dilation=d)[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(got, want, atol=1e-9)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 10), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), ceil=st.booleans(),
       seed=st.integers(0, 99))
def test_pools_and_ceil_mode(n, k, s, p, ceil, seed):
    if p > k // 2:
        return
    x = np.random.default_rng(seed).normal(size=(n, n, 2))
    t = torch.from_numpy(x.transpose(2, 0, 1)[None])
    for kind, fn in (("maxpool", lambda: F.max_pool2d(t, k, s, p, ceil_mode=ceil)),
                     ("avgpool", lambda: F.avg_pool2d(t, k, s, p, ceil_mode=ceil, count_include_pad=False))):
        try:
            got = ours((n, n, 2), {"type": kind, "kernel": k, "stride": s, "padding": p, "ceil_mode": ceil}, x)
        except CnnCalcError:
            with pytest.raises(RuntimeError):
                fn()
            continue
        np.testing.assert_allclose(got, fn()[0].numpy().transpose(1, 2, 0), atol=1e-12)


# ---------------------------------------------------------------- spec v2: any rank, new spatial layers


def to_torch(x):
    """Channels last without batch → torch's [1, C, *spatial]."""
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 0)[None]))


def from_torch(t):
    return np.moveaxis(t[0].numpy(), 0, -1)


RANK_FN = {1: "1d", 2: "2d", 3: "3d"}


@settings(max_examples=60, deadline=None)
@given(rank=st.sampled_from([1, 3]), dims=st.lists(st.integers(3, 7), min_size=3, max_size=3),
       k=st.lists(st.integers(1, 3), min_size=3, max_size=3), s=st.lists(st.integers(1, 2), min_size=3, max_size=3),
       p=st.lists(st.integers(0, 1), min_size=3, max_size=3), d=st.integers(1, 2), groups=st.sampled_from([1, 2]),
       seed=st.integers(0, 99))
def test_conv1d_conv3d(rank, dims, k, s, p, d, groups, seed):
    dims, k, s, p = dims[:rank], k[:rank], s[:rank], p[:rank]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(*dims, 4))
    w = rng.normal(size=(*k, 4 // groups, 2))
    b = rng.normal(size=2)
    layer = {"type": f"conv{rank}d", "filters": 2, "kernel": k, "stride": s, "padding": p, "dilation": d,
             "groups": groups}
    fn = getattr(F, f"conv{RANK_FN[rank]}")
    try:
        got = ours((*dims, 4), layer, x, {"weight": w, "bias": b})
    except CnnCalcError:
        with pytest.raises(RuntimeError):
            fn(torch.zeros(1, 4, *dims), torch.zeros(2, 4 // groups, *k), stride=s, padding=p, dilation=d,
               groups=groups)
        return
    weight = torch.from_numpy(np.ascontiguousarray(w.transpose(rank + 1, rank, *range(rank))))
    want = fn(to_torch(x), weight, torch.from_numpy(b), stride=s, padding=p, dilation=d, groups=groups)
    np.testing.assert_allclose(got, from_torch(want), atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(rank=st.sampled_from([1, 2, 3]), dims=st.lists(st.integers(1, 4), min_size=3, max_size=3),
       k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 1), op=st.integers(0, 1), d=st.integers(1, 2),
       groups=st.sampled_from([1, 2]), seed=st.integers(0, 99))
def test_conv_transpose_any_rank_with_groups(rank, dims, k, s, p, op, d, groups, seed):
    dims = dims[:rank]
    if op >= max(s, d):
        return
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(*dims, 2))
    w = rng.normal(size=(*(k,) * rank, 2, 4 // groups))
    layer = {"type": f"conv_transpose{rank}d", "filters": 4, "kernel": k, "stride": s, "padding": p,
             "output_padding": op, "dilation": d, "groups": groups, "bias": False}
    try:
        got = ours((*dims, 2), layer, x, {"weight": w})
    except CnnCalcError:
        return
    weight = torch.from_numpy(np.ascontiguousarray(w.transpose(rank, rank + 1, *range(rank))))
    want = getattr(F, f"conv_transpose{RANK_FN[rank]}")(to_torch(x), weight, stride=s, padding=p,
                                                          output_padding=op, dilation=d, groups=groups)
    np.testing.assert_allclose(got, from_torch(want), atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(rank=st.sampled_from([1, 2, 3]), dims=st.lists(st.integers(1, 6), min_size=3, max_size=3),
       scale=st.integers(1, 3), size=st.one_of(st.none(), st.lists(st.integers(1, 9), min_size=3, max_size=3)),
       mode=st.sampled_from(["nearest", "linear"]), seed=st.integers(0, 99))
def test_upsample_against_interpolate(rank, dims, scale, size, mode, seed):
    dims = dims[:rank]
    x = np.random.default_rng(seed).normal(size=(*dims, 3))
    layer = {"type": "upsample", "mode": mode, **({"size": size[:rank]} if size else {"scale": scale})}
    torch_mode = mode if mode == "nearest" else {1: "linear", 2: "bilinear", 3: "trilinear"}[rank]
    kwargs = {"size": size[:rank]} if size else {"scale_factor": scale}
    if mode == "linear":
        kwargs["align_corners"] = False
    want = F.interpolate(to_torch(x), mode=torch_mode, **kwargs)
    np.testing.assert_allclose(ours((*dims, 3), layer, x), from_torch(want), atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(rank=st.sampled_from([1, 2, 3]), dims=st.lists(st.integers(1, 9), min_size=3, max_size=3),
       size=st.lists(st.integers(1, 5), min_size=3, max_size=3), seed=st.integers(0, 99))
def test_adaptive_pools(rank, dims, size, seed):
    dims, size = dims[:rank], size[:rank]
    x = np.random.default_rng(seed).normal(size=(*dims, 3))
    for kind, fn in (("adaptive_avgpool", f"adaptive_avg_pool{RANK_FN[rank]}"),
                     ("adaptive_maxpool", f"adaptive_max_pool{RANK_FN[rank]}")):
        want = getattr(F, fn)(to_torch(x), size)
        np.testing.assert_allclose(ours((*dims, 3), {"type": kind, "size": size}, x), from_torch(want), atol=1e-12)


@settings(max_examples=80, deadline=None)
@given(rank=st.sampled_from([1, 2, 3]), n=st.integers(2, 9), k=st.integers(1, 3), s=st.integers(1, 3),
       p=st.integers(0, 2), d=st.integers(1, 3), ceil=st.booleans(), include=st.booleans(), seed=st.integers(0, 99))
def test_pools_with_dilation_and_count_include_pad(rank, n, k, s, p, d, ceil, include, seed):
    x = np.random.default_rng(seed).normal(size=((n,) * rank + (2,)))
    t = to_torch(x)
    cases = [("maxpool", {"dilation": d},
              lambda: getattr(F, f"max_pool{RANK_FN[rank]}")(t, k, s, p, dilation=d, ceil_mode=ceil))]
    if p <= k // 2:  # avg pooling has no dilation in torch
        cases.append(("avgpool", {"count_include_pad": include},
                      lambda: getattr(F, f"avg_pool{RANK_FN[rank]}")(t, k, s, p, ceil_mode=ceil,
                                                                     count_include_pad=include)))
    for kind, extra, fn in cases:
        layer = {"type": f"{kind}{rank}d", "kernel": k, "stride": s, "padding": p, "ceil_mode": ceil, **extra}
        try:
            got = ours((n,) * rank + (2,), layer, x)
        except CnnCalcError as error:
            if "reads only padding" in str(error):  # torch gives -inf there
                assert np.isinf(fn().numpy()).any()
                continue
            with pytest.raises(RuntimeError):
                fn()
            continue
        try:
            want = fn()
        except RuntimeError as error:  # avg_pool3d compares the unpadded input with the kernel
            assert kind == "avgpool" and rank == 3 and "smaller than kernel size" in str(error)
            continue
        np.testing.assert_allclose(got, from_torch(want), atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(rank=st.sampled_from([0, 1, 2]), channels=st.integers(1, 8), size=st.integers(1, 6),
       alpha=st.floats(1e-4, 1.0), beta=st.floats(0.5, 1.0), k=st.floats(0.5, 2.0), seed=st.integers(0, 99))
def test_local_response_norm(rank, channels, size, alpha, beta, k, seed):
    shape = (4,) * rank + (channels,)
    x = np.random.default_rng(seed).normal(size=shape)
    layer = {"type": "lrn", "size": size, "alpha": alpha, "beta": beta, "k": k}
    t = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 0)[None])) if rank else torch.from_numpy(x[None])
    want = F.local_response_norm(t if rank else t[..., None], size, alpha, beta, k)
    want = from_torch(want) if rank else want[0, :, 0].numpy()
    np.testing.assert_allclose(ours(shape, layer, x), want, rtol=1e-12)


def test_m5_zoo_spec_against_torch_functional():
    # the torchaudio tutorial's M5 forward pass, written with torch.nn.functional on the same weights
    from cnncalc import load_spec

    net = load_spec("m5")
    summary = analyse(net)
    rng = np.random.default_rng(5)
    shapes = {"input": net.input_shape}
    weights = {}
    for layer, record in zip(net.layers, summary.records):
        for key, shape in layer.weight_shapes([shapes[s] for s in layer.inputs]).items():
            weights[f"{layer.name}.{key}"] = rng.uniform(0.5, 1.5, size=shape) if key == "var" else rng.normal(
                size=shape) * (0.3 if key == "weight" else 1.0)
        shapes[layer.name] = record.output_shape
    x = rng.normal(size=(8000, 1))
    got = run(net, x, weights).output
    t = torch.from_numpy(x.T[None])
    for i in (1, 2, 3, 4):
        w = torch.from_numpy(np.ascontiguousarray(weights[f"conv{i}.weight"].transpose(2, 1, 0)))
        t = F.conv1d(t, w, torch.from_numpy(weights[f"conv{i}.bias"]), stride=16 if i == 1 else 1)
        t = F.batch_norm(t, *(torch.from_numpy(weights[f"bn{i}.{k}"]) for k in ("mean", "var", "gamma", "beta")),
                         eps=1e-5)
        t = F.max_pool1d(F.relu(t), 4)
    t = F.avg_pool1d(t, t.shape[-1]).permute(0, 2, 1)
    want = F.linear(t, torch.from_numpy(weights["fc1.weight"].T), torch.from_numpy(weights["fc1.bias"]))[0, 0]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-10)
