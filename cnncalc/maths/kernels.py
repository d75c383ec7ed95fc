"""Vectorised NumPy building blocks for the layer kernels: padding, sliding windows, activations.

Arrays are batched and channels-last: ``[N, H, W, C]``. No Python loops over pixels: windows are
strided views (``sliding_window_view``) reduced with einsum/tensordot or max/sum.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

TAPS_BYTES = 32 * 1024**2  # above this im2col size, convolve tap by tap


def pad_spatial(x: np.ndarray, pads: Any, value: float = 0.0) -> np.ndarray:
    """Pad H and W of ``[N, H, W, C]`` by ((top, bottom), (left, right)); negative amounts crop."""
    (top, bottom), (left, right) = pads
    if min(top, bottom, left, right) < 0:
        h, w = x.shape[1], x.shape[2]
        x = x[:, max(-top, 0): h - max(-bottom, 0), max(-left, 0): w - max(-right, 0), :]
        top, bottom, left, right = (max(v, 0) for v in (top, bottom, left, right))
    if top == bottom == left == right == 0:
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
            out_hw: tuple[int, int]) -> np.ndarray:
    """Strided read-only view ``[N, Ho, Wo, C, kh, kw]`` of the (already padded) input."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    view = sliding_window_view(x, (span_h, span_w), axis=(1, 2))
    ho, wo = out_hw
    return view[:, : (ho - 1) * sh + 1: sh, : (wo - 1) * sw + 1: sw, :, ::dh, ::dw]


def correlate(x: np.ndarray, weight: np.ndarray, stride: tuple[int, int], dilation: tuple[int, int],
              out_hw: tuple[int, int], groups: int = 1) -> np.ndarray:
    """Cross-correlation of padded ``[N, H, W, C]`` with ``weight [kh, kw, C/groups, F]``."""
    kh, kw, per_group, filters = weight.shape
    ho, wo = out_hw
    if groups == 1 and per_group >= 3 and x.shape[0] * ho * wo * per_group * kh * kw * x.itemsize > TAPS_BYTES:
        # Large maps: one matmul per kernel tap over a strided view, instead of copying every window
        # (im2col); same sums, far less memory traffic.
        (sh, sw), (dh, dw) = stride, dilation
        out = None
        for a in range(kh):
            for e in range(kw):
                view = x[:, a * dh: a * dh + (ho - 1) * sh + 1: sh, e * dw: e * dw + (wo - 1) * sw + 1: sw, :]
                term = view @ weight[a, e]
                out = term if out is None else out + term
        return out
    win = windows(x, (kh, kw), stride, dilation, out_hw)  # [N, Ho, Wo, C, kh, kw]
    if groups == 1:
        return np.tensordot(win, weight, axes=([3, 4, 5], [2, 0, 1]))
    n, ho, wo = win.shape[:3]
    win = win.reshape(n, ho, wo, groups, per_group, kh, kw)
    w = weight.reshape(kh, kw, per_group, groups, filters // groups)
    out = np.einsum("nhwgcij,ijcgf->nhwgf", win, w, optimize=True)
    return out.reshape(n, ho, wo, filters)


def dilate_input(x: np.ndarray, stride: tuple[int, int]) -> np.ndarray:
    """Insert ``s − 1`` zeros between pixels (the transposed convolution's fractional stride)."""
    sh, sw = stride
    if sh == sw == 1:
        return x
    n, h, w, c = x.shape
    out = np.zeros((n, (h - 1) * sh + 1, (w - 1) * sw + 1, c), dtype=x.dtype)
    out[:, ::sh, ::sw, :] = x
    return out


# ---------------------------------------------------------------- activations


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # stable for large |x|: exp only of non-positive numbers
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, ``x·Φ(x)`` with the error function (as PyTorch's default and Keras approximate=False)."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(x.dtype))


def hardsigmoid(x: np.ndarray) -> np.ndarray:
    """``relu6(x + 3)/6``, as PyTorch and Keras 3 (not Keras 2's ``0.2x + 0.5``)."""
    return np.clip(x + 3.0, 0.0, 6.0) / 6.0


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + eˣ)`` without overflow; above 20 it is ``x`` to float64 precision (PyTorch's threshold)."""
    return np.where(x > 20.0, x, np.log1p(np.exp(np.minimum(x, 20.0))))


def mish(x: np.ndarray) -> np.ndarray:
    return x * np.tanh(softplus(x))


def activate(name: str, x: np.ndarray, alpha: float | None = None) -> np.ndarray:
    if name in ("none", "linear"):
        return x
    if name == "relu":
        return np.maximum(x, 0)
    if name == "relu6":
        return np.clip(x, 0, 6)
    if name == "leaky_relu":
        slope = 0.01 if alpha is None else alpha
        return np.where(x >= 0, x, slope * x)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    if name == "gelu":
        return gelu(x)
    if name in ("silu", "swish"):
        return x * _sigmoid(x)
    if name == "sigmoid":
        return _sigmoid(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "softmax":
        return softmax(x, -1)
    if name == "hardsigmoid":
        return hardsigmoid(x)
    if name == "hardswish":
        return x * hardsigmoid(x)
    if name == "softplus":
        return softplus(x)
    if name == "mish":
        return mish(x)
    raise ValueError(name)


def normalize(x: np.ndarray) -> np.ndarray:
    """Min-max per sample and channel, as the notebook's ``batch_normalization``; a flat channel gives 0."""
    axes = tuple(range(1, x.ndim - 1)) or (1,)
    low = x.min(axis=axes, keepdims=True)
    high = x.max(axis=axes, keepdims=True)
    span = high - low
    return np.where(span > 0, (x - low) / np.where(span > 0, span, 1), 0.0)
