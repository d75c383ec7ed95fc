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
