"""Vectorised NumPy building blocks for the layer kernels: padding, sliding windows, activations.

Arrays are batched and channels-last: ``[N, *spatial, C]`` with 1 to 3 spatial axes. No Python loops over pixels: windows are
strided views (``sliding_window_view``) reduced with einsum/tensordot or max/sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: bytes of one block of the window matrix (im2col): about a core's L2 cache, where the block is written and
#: then read by the matrix product; but at least BLOCK_PIXELS output pixels a block (see _blocked_im2col)
BLOCK_BYTES = 1 << 20
BLOCK_PIXELS = 1024


#: np.pad's name of each padding mode (PyTorch's names; layers/base.py PADDING_MODES)
NUMPY_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad_spatial(x: np.ndarray, pads: Any, value: float = 0.0, mode: str = "zeros") -> np.ndarray:
    """Pad the spatial axes of ``[N, *spatial, C]`` by one (before, after) pair per axis; negative
    amounts crop. ``mode`` other than zeros fills the border from the input (pads checked by the layer)."""
    pads = [tuple(pair) for pair in pads]
    if any(min(pair) < 0 for pair in pads):
        crop = tuple(slice(max(-before, 0), n - max(-after, 0)) for (before, after), n in zip(pads, x.shape[1:-1]))
        x = x[(slice(None), *crop, slice(None))]
        pads = [(max(before, 0), max(after, 0)) for before, after in pads]
    if all(before == after == 0 for before, after in pads):
        return x
    if mode != "zeros":
        padded: np.ndarray = np.pad(x, ((0, 0), *pads, (0, 0)), mode=NUMPY_PAD_MODES[mode])  # type: ignore[call-overload]
        return padded
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
    if groups == 1:
        return _blocked_im2col(x, weight, stride, dilation, out_shape)
    win = windows(x, kernel, stride, dilation, out_shape)  # [N, *out, C, *kernel]
    letters = "xyz"[:rank]
    taps_letters = "ijk"[:rank]
    win = win.reshape(n, *out_shape, groups, per_group, *kernel)
    w = weight.reshape(*kernel, per_group, groups, filters // groups)
    out: np.ndarray = np.einsum(f"n{letters}gc{taps_letters},{taps_letters}cgf->n{letters}gf", win, w, optimize=True)
    return out.reshape(n, *out_shape, filters)


def _blocked_im2col(x: np.ndarray, weight: np.ndarray, stride: Sequence[int], dilation: Sequence[int],
                    out_shape: Sequence[int]) -> np.ndarray:
    """One matrix product per block of output pixels: the block's windows are copied, tap by tap, into a
    reused ``[pixels, taps·C]`` matrix small enough to stay in cache, and multiplied by the weights seen as
    ``[taps·C, F]`` straight into the output. Copying every window at once (im2col) would write and read
    back a matrix ``taps`` times the size of the input; one product per tap would read and write the output
    ``taps`` times. A 1×1 kernel with stride 1 is a single product on the input itself."""
    rank = weight.ndim - 2
    kernel = weight.shape[:rank]
    channels, filters = weight.shape[rank:]
    taps = math.prod(kernel)
    depth = taps * channels
    dtype = np.result_type(x, weight)
    matrix = weight.reshape(depth, filters)  # rows in (tap, channel) order: kernel axes first, as stored
    n = x.shape[0]
    if taps == 1 and all(s == 1 for s in stride) and tuple(x.shape[1:-1]) == tuple(out_shape):
        product: np.ndarray = np.matmul(x.reshape(-1, channels), matrix)  # (as one product, not one per row)
        return product.reshape(n, *out_shape, filters)
    out = np.empty((n, *out_shape, filters), dtype=dtype)
    row = math.prod(out_shape[1:])  # output pixels in one row of the first spatial axis
    # pixels per block: BLOCK_BYTES of windows, but at least BLOCK_PIXELS, so that each product is tall
    # enough to repay the packing of a large weight matrix, which the matrix product redoes every call
    pixels = max(BLOCK_BYTES // (depth * dtype.itemsize), BLOCK_PIXELS)
    rows = max(1, min(out_shape[0], pixels // row))
    images = max(1, pixels // (row * out_shape[0])) if rows == out_shape[0] else 1
    block = np.empty((min(images, n), rows, *out_shape[1:], taps, channels), dtype=dtype)
    offsets = [tuple(t * d for t, d in zip(tap, dilation)) for tap in np.ndindex(*kernel)]
    inner = [tuple(slice(o, o + (size - 1) * s + 1, s) for o, size, s in zip(offset[1:], out_shape[1:], stride[1:]))
             for offset in offsets]
    for first in range(0, n, images):
        last = min(n, first + images)
        for top in range(0, out_shape[0], rows):
            bottom = min(out_shape[0], top + rows)
            part = block[: last - first, : bottom - top]
            for tap, (offset, rest) in enumerate(zip(offsets, inner)):
                along = slice(top * stride[0] + offset[0], (bottom - 1) * stride[0] + offset[0] + 1, stride[0])
                part[..., tap, :] = x[(slice(first, last), along, *rest, slice(None))]
            np.matmul(part.reshape(-1, depth), matrix, out=out[first:last, top:bottom].reshape(-1, filters))
    return out


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


ERF_BLOCK = 1 << 15  # values per block: each step of Horner's rule works on data in cache (L2)


def _erf_block(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """erf of a float64 block (into ``out``, else a new array): ``x·A(x²)`` below 1 in size,
    ``±(1 − exp(−x²)·B_i(|x| − c_i))`` from 1 to 6 (each value's interval picked by index), ±1 beyond
    (erfc(6) is below half an ulp of 1)."""
    from .erf_coefficients import CENTRES, SMALL, TAIL

    u = z * z
    np.minimum(u, 1.0, out=u)  # (values of 1 and more are replaced below)
    value: np.ndarray = np.multiply(u, SMALL[-1], out=out)  # Horner's rule, its first step fused
    value += SMALL[-2]
    for c in SMALL[-3::-1]:
        value *= u
        value += c
    value *= z
    far: np.ndarray = np.flatnonzero(np.abs(z) >= 1.0)  # (positions, take and put: cheaper than masks thrice)
    if far.size:
        zf = z.take(far)
        a = np.abs(zf)
        np.minimum(a, 6.0, out=a)
        which = np.minimum(((a - 1.0) * 2.0).astype(np.intp), len(CENTRES) - 1)
        if not _ERF_TABLE:
            _ERF_TABLE.extend([np.array(column) for column in zip(*TAIL)] + [np.array(CENTRES)])
        table = _ERF_TABLE
        t = a - table[-1].take(which)
        poly = table[-2].take(which)
        for column in table[-3::-1]:
            poly *= t
            poly += column.take(which)
        a *= a
        np.negative(a, out=a)
        np.exp(a, out=a)
        poly *= a
        np.subtract(1.0, poly, out=poly)
        value.put(far, np.copysign(poly, zf, out=poly))
    return value


_ERF_TABLE: list[np.ndarray] = []  # the tail's coefficients by power, then the centres (made on first use)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function of every value, in float64, within 2 ulp of ``math.erf`` (87% of values equal;
    measured in tests/test_rules_executor.py): polynomials fitted once (docs/make_erf_coefficients.py),
    evaluated by Horner's rule on blocks of values instead of one Python call per value.

    >>> values = [0.0, 0.5, -1.5, 3.0, 7.0, -math.inf]
    >>> erf(np.array(values)).tolist() == [math.erf(v) for v in values]
    True
    """
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    out = np.empty_like(flat)
    for start in range(0, flat.size, ERF_BLOCK):
        _erf_block(flat[start:start + ERF_BLOCK], out[start:start + ERF_BLOCK])
    return out.reshape(np.shape(x))


GELU_BLOCK = 1 << 15  # values per block: the block and its two temporaries (768 KB) stay in L2


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, ``x·Φ(x)`` with Φ the normal distribution, ``0.5·x·(1 + erf(x/√2))`` (PyTorch's default,
    Keras approximate=False), in float64 within 2.5e-16·|x| of the exact value (tests/test_rules_executor.py).

    NumPy cannot fuse operations, so each one is a pass over the block: the fewest passes win. Two pieces
    (docs/make_erf_coefficients.py): ``x·(½ + x·P(x² − 1))`` for every value (degree 11: 22 passes), then
    where |x| ≥ √2 (16% of N(0, 1) values, picked by position) ``x·Φ(x)`` from ``Φ(−|x|) = exp(−x²/2)·R``,
    one polynomial in 1/(|x| + 4) instead of erf's table of intervals (a gather per coefficient).
    Other dtypes go through erf as before.

    >>> values = [-3.0, -1.0, -0.0, 0.5, 2.0, 50.0]
    >>> [abs(g - 0.5 * v * (1 + math.erf(v / math.sqrt(2)))) / abs(v or 1) < 3e-16 for g, v in
    ...  zip(gelu(np.array(values)).tolist(), values)]
    [True, True, True, True, True, True]
    """
    if x.dtype != np.float64:
        return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)).astype(x.dtype))
    from .erf_coefficients import (
        GELU_CENTRE,
        GELU_FAR,
        GELU_K,
        GELU_NEAR,
        GELU_NEAR_BOUND,
        GELU_SCALE,
        GELU_SHIFT,
        GELU_TAIL,
    )

    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    work = np.empty(min(GELU_BLOCK, flat.size))
    far_from = GELU_NEAR_BOUND ** 2 - GELU_CENTRE
    # the polynomial runs on every value, huge ones too (its result there is replaced): inf and nan quietly
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, flat.size, GELU_BLOCK):
            block = flat[start:start + GELU_BLOCK]
            w = np.multiply(block, block, out=work[:block.size])
            w -= GELU_CENTRE
            value = np.multiply(w, GELU_NEAR[-1], out=out[start:start + GELU_BLOCK])  # Horner, first step fused
            value += GELU_NEAR[-2]
            for c in GELU_NEAR[-3::-1]:
                value *= w
                value += c
            value *= block  # x·P: Φ(x) − ½
            value += 0.5
            value *= block
            far = np.flatnonzero(w >= far_from)  # (nan compares false: it stays nan from the polynomial)
            if far.size:
                value.put(far, _gelu_tail(block.take(far), GELU_FAR, GELU_K, GELU_SCALE, GELU_SHIFT, GELU_TAIL))
    return out.reshape(x.shape)


def _gelu_tail(x: np.ndarray, far: float, k: float, scale: float, shift: float,
               tail: Sequence[float]) -> np.ndarray:
    """x·Φ(x) for |x| ≥ √2: ``x·q`` below 0 and ``x·(1 − q)`` above, ``q = Φ(−|x|) = exp(−x²/2)·R(s)``.
    |x| is clamped at ``far``, where exp(−x²/2) is 0: −inf gives nan as the formula (−inf·0), +inf gives inf."""
    a = np.abs(x)
    np.minimum(a, far, out=a)
    s = a + k
    np.divide(scale, s, out=s)
    s += shift
    q: np.ndarray = s * tail[-1]
    q += tail[-2]
    for c in tail[-3::-1]:
        q *= s
        q += c
    a *= a
    a *= -0.5
    np.exp(a, out=a)
    q *= a
    np.subtract(1.0, q, out=q, where=x > 0)
    q *= x
    return q


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
