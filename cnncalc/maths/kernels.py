"""Vectorised NumPy building blocks for the layer kernels: padding, sliding windows, activations.

Arrays are batched and channels-last: ``[N, *spatial, C]`` with 1 to 3 spatial axes. No Python loops over pixels: windows are
strided views (``sliding_window_view``) reduced with einsum/tensordot or max/sum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

TAPS_BYTES = 32 * 1024**2  # above this im2col size, convolve tap by tap


def pad_spatial(x: np.ndarray, pads: Any, value: float = 0.0) -> np.ndarray:
    """Pad the spatial axes of ``[N, *spatial, C]`` by one (before, after) pair per axis; negative
    amounts crop."""
    pads = [tuple(pair) for pair in pads]
    if any(min(pair) < 0 for pair in pads):
        crop = tuple(slice(max(-before, 0), n - max(-after, 0)) for (before, after), n in zip(pads, x.shape[1:-1]))
        x = x[(slice(None), *crop, slice(None))]
        pads = [(max(before, 0), max(after, 0)) for before, after in pads]
    if all(before == after == 0 for before, after in pads):
        return x
    return np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=value)


def windows(x: np.ndarray, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int],
            out_shape: Sequence[int]) -> np.ndarray:
    """Strided read-only view ``[N, *out, C, *kernel]`` of the (already padded) input."""
    rank = len(kernel)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    view = sliding_window_view(x, spans, axis=tuple(range(1, rank + 1)))
    outer = tuple(slice(None, (o - 1) * s + 1, s) for o, s in zip(out_shape, stride))
    inner = tuple(slice(None, None, d) for d in dilation)
    return view[(slice(None), *outer, slice(None), *inner)]


def correlate(x: np.ndarray, weight: np.ndarray, stride: Sequence[int], dilation: Sequence[int],
              out_shape: Sequence[int], groups: int = 1) -> np.ndarray:
    """Cross-correlation of padded ``[N, *spatial, C]`` with ``weight [*kernel, C/groups, F]``."""
    rank = weight.ndim - 2
    kernel = weight.shape[:rank]
    per_group, filters = weight.shape[rank:]
    n = x.shape[0]
    taps = math.prod(kernel)
    if groups == 1 and per_group >= 3 and n * math.prod(out_shape) * per_group * taps * x.itemsize > TAPS_BYTES:
        # Large maps: one matmul per kernel tap over a strided view, instead of copying every window
        # (im2col); same sums, far less memory traffic.
        total: np.ndarray | None = None
        for tap in np.ndindex(*kernel):
            view = x[(slice(None), *(slice(t * d, t * d + (o - 1) * s + 1, s)
                                     for t, d, o, s in zip(tap, dilation, out_shape, stride)), slice(None))]
            term = view @ weight[tap]
            total = term if total is None else total + term
        assert total is not None  # every kernel has a tap
        return total
    win = windows(x, kernel, stride, dilation, out_shape)  # [N, *out, C, *kernel]
    if groups == 1:
        sums: np.ndarray = np.tensordot(win, weight, axes=(list(range(rank + 1, 2 * rank + 2)),
                                                           [rank, *range(rank)]))
        return sums
    letters = "xyz"[:rank]
    taps_letters = "ijk"[:rank]
    win = win.reshape(n, *out_shape, groups, per_group, *kernel)
    w = weight.reshape(*kernel, per_group, groups, filters // groups)
    out: np.ndarray = np.einsum(f"n{letters}gc{taps_letters},{taps_letters}cgf->n{letters}gf", win, w, optimize=True)
    return out.reshape(n, *out_shape, filters)


def conv_transpose(x: np.ndarray, weight: np.ndarray, stride: Sequence[int], dilation: Sequence[int],
                   pads: Sequence[tuple[int, int]], output_padding: Sequence[int], groups: int = 1) -> np.ndarray:
    """Transposed convolution of ``[N, *spatial, C_in]`` with ``weight [*kernel, C_in, F/groups]``.

    Tap by tap: every input pixel ``i`` adds ``x[i] @ w[t]`` at ``i·s + t·d`` (one strided slice per tap,
    no zeros inserted between pixels); then ``pads`` are cut and ``output_padding`` zeros kept at the end.
    """
    rank = weight.ndim - 2
    kernel = weight.shape[:rank]
    c_in, per_out = weight.shape[rank:]
    dims = x.shape[1:-1]
    full = [(n - 1) * s + d * (k - 1) + 1 + op for n, k, s, d, op in zip(dims, kernel, stride, dilation,
                                                                        output_padding)]
    y = np.zeros((x.shape[0], *full, per_out * groups), dtype=np.result_type(x, weight))
    if groups > 1:
        xg = x.reshape(*x.shape[:-1], groups, c_in // groups)
        wg = weight.reshape(*kernel, groups, c_in // groups, per_out)
    for tap in np.ndindex(*kernel):
        region = tuple(slice(t * d, t * d + (n - 1) * s + 1, s) for t, d, n, s in zip(tap, dilation, dims, stride))
        if groups == 1:
            y[(slice(None), *region)] += x @ weight[tap]
        else:
            term = np.einsum("...gc,gcf->...gf", xg, wg[tap])
            y[(slice(None), *region)] += term.reshape(*term.shape[:-2], -1)
    cut = tuple(slice(before, n - after) for (before, after), n in zip(pads, full))
    return y[(slice(None), *cut)]


# ---------------------------------------------------------------- activations
# (numpy types a ufunc's result on an array of a run-time dtype as Any: the annotated names say what it is)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # stable for large |x|: exp only of non-positive numbers
    z = np.exp(-np.abs(x))
    result: np.ndarray = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    return result


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    result: np.ndarray = e / np.sum(e, axis=axis, keepdims=True)
    return result


_erf: Callable[[np.ndarray], np.ndarray] = np.frompyfunc(math.erf, 1, 1)  # array in, array (of objects) out


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, ``x·Φ(x)`` with the error function (as PyTorch's default and Keras approximate=False)."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(x.dtype))


#: SELU's constants as PyTorch and ONNX's ``Selu`` defaults give them (Klambauer et al. 2017)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def hardsigmoid(x: np.ndarray) -> np.ndarray:
    """``relu6(x + 3)/6``, as PyTorch and Keras 3 (not Keras 2's ``0.2x + 0.5``)."""
    return np.clip(x + 3.0, 0.0, 6.0) / 6.0


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + eˣ)`` without overflow; above 20 it is ``x`` to float64 precision (PyTorch's threshold)."""
    result: np.ndarray = np.where(x > 20.0, x, np.log1p(np.exp(np.minimum(x, 20.0))))
    return result


def mish(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = x * np.tanh(softplus(x))
    return result


def activate(name: str, x: np.ndarray, alpha: float | None = None) -> np.ndarray:
    y: np.ndarray
    if name in ("none", "linear"):
        y = x
    elif name == "relu":
        y = np.maximum(x, 0)
    elif name == "relu6":
        y = np.clip(x, 0, 6)
    elif name == "leaky_relu":
        slope = 0.01 if alpha is None else alpha
        y = np.where(x >= 0, x, slope * x)
    elif name == "elu":
        y = np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    elif name == "gelu":
        y = gelu(x)
    elif name in ("silu", "swish"):
        y = x * _sigmoid(x)
    elif name == "sigmoid":
        y = _sigmoid(x)
    elif name == "tanh":
        y = np.tanh(x)
    elif name == "softmax":
        y = softmax(x, -1)
    elif name == "hardsigmoid":
        y = hardsigmoid(x)
    elif name == "hardswish":
        y = x * hardsigmoid(x)
    elif name == "softplus":
        y = softplus(x)
    elif name == "mish":
        y = mish(x)
    elif name == "selu":
        y = SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))
    else:
        raise ValueError(name)
    return y


def normalize(x: np.ndarray) -> np.ndarray:
    """Min-max per sample and channel, as the notebook's ``batch_normalization``; a flat channel gives 0."""
    axes = tuple(range(1, x.ndim - 1)) or (1,)
    low = x.min(axis=axes, keepdims=True)
    high = x.max(axis=axes, keepdims=True)
    span = high - low
    return np.where(span > 0, (x - low) / np.where(span > 0, span, 1), 0.0)
