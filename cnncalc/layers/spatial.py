"""Spatial resampling and local normalisation: upsample, crop, lrn."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ShapeError, SpecError
from ..maths import arith
from .base import (
    AXIS_NAMES,
    Field,
    FieldValueError,
    Inference,
    Layer,
    Padding,
    Saved,
    Shape,
    Sizes,
    choice,
    count,
    explicit_pairs,
    number,
    padding,
    positive_int,
    sizes,
)

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


def _optional_sizes(value: Any) -> Any:
    return None if value is None else sizes(value)


def nearest_index(n_in: int, n_out: int) -> Any:
    """PyTorch ``nearest``: output ``i`` reads source ``⌊i·in/out⌋`` (exact integer arithmetic).

    >>> nearest_index(3, 7).tolist()
    [0, 0, 0, 1, 1, 2, 2]
    """
    import numpy as np

    return np.arange(n_out) * n_in // n_out


def linear_taps(n_in: int, n_out: int) -> tuple[Any, Any, Any]:
    """Half-pixel linear interpolation (PyTorch ``align_corners=False``, Keras): output ``i`` reads source
    ``x = (i + ½)·in/out − ½`` clamped at 0, between ``⌊x⌋`` and ``⌊x⌋ + 1`` (the last pixel repeats).
    Returns (low index, high index, weight of high).

    >>> low, high, frac = linear_taps(2, 4)
    >>> low.tolist(), high.tolist(), frac.tolist()
    ([0, 0, 0, 1], [1, 1, 1, 1], [0.0, 0.25, 0.75, 0.25])
    """
    import numpy as np

    source = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
    low = np.floor(source).astype(int)
    return low, np.minimum(low + 1, n_in - 1), source - low


class Upsample(Layer):
    type_name = "upsample"
    fields = {
        "scale": Field(_optional_sizes, None),
        "size": Field(_optional_sizes, None),
        "mode": Field(choice("nearest", "linear"), "nearest"),
    }
    scale: Sizes | None  # 2 when neither is given (check_fields)
    size: Sizes | None
    mode: str

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        if options["scale"] is not None and options["size"] is not None:
            raise SpecError("give either scale or size, not both", field="size", got=list(options["size"]),
                            expected="no size when scale is given")
        if options["scale"] is None and options["size"] is None:
            options["scale"] = sizes(2)

    def out_dims(self, dims: tuple[Any, ...]) -> list[Any]:
        rank = len(dims)
        if self.size is not None:
            return list(self.axes("size", rank))
        return [arith.simplify(n * s) for n, s in zip(dims, self.axes("scale", rank))]

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        dims, channels = self.spatial_input(inputs[0])
        outs = self.out_dims(dims)
        lines, rf = [], []
        scales = self.axes("scale", len(dims)) if self.size is None else (None,) * len(dims)
        for axis, n, out, scale in zip(AXIS_NAMES[len(dims)], dims, outs, scales):
            lines.append(f"{axis}: {n} → {out} (size)" if scale is None
                         else f"{axis}: {arith.factor_text(n)}·{scale} = {out}")
            if self.mode == "nearest":  # output i reads source ⌊i·in/out⌋: one pixel, output 0 on pixel 0
                rf.append(("upsample", 1, n, out, 0.0, "nearest"))
            else:  # two neighbours (one where the ratio is 1); output 0's half-pixel source coordinate
                same = scale == 1 or (arith.is_int(n) and arith.is_int(out) and n == out)
                if scale is not None:
                    offset = 0.5 / scale - 0.5
                else:
                    offset = 0.5 * n / out - 0.5 if arith.is_int(n) else 0.0
                rf.append(("upsample", 1 if same else 2, n, out, offset, "linear"))
        lines.append(f"{self.mode} interpolation" + (", half-pixel centres" if self.mode == "linear" else
                                                     ": source index ⌊i·in/out⌋"))
        return Inference((*outs, channels), explain=lines, rf=rf)

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        """Axis by axis (both modes are separable): an index gather, or two gathers and a blend."""
        import numpy as np

        x = inputs[0]
        if self.mode == "nearest":
            for axis, (n, out) in enumerate(zip(x.shape[1:-1], out_shape[:-1]), start=1):
                x = np.take(x, nearest_index(n, out), axis=axis)
            return x
        # Linear: block by block of output rows (one sample at a time), so that the passes of every axis
        # work on data small enough to stay in cache. The inner axes first, the one next to the channels
        # first of all, while the block still has its input size along the outer ones (PyTorch's order).
        # An integer ratio takes its phases (output s·j + r from rows j and j ± 1, fixed weights): as
        # slices of whole rows along the first axis and the middle one, as gathers along the last spatial
        # axis of a 2-D or 3-D input (its rows are one pixel's channels, a few values: NumPy's loops over
        # strided slices would run that short; a gather copies them fast). Any other ratio gathers the rows
        # and blends them.
        dims = x.shape[1:-1]
        outs = [int(d) for d in out_shape[:-1]]
        last = len(dims)
        ratios = [out // n if out % n == 0 else 0 for n, out in zip(dims, outs)]
        taps = [linear_taps(n, out) for n, out in zip(dims, outs)]
        # the last spatial axis by an integer ratio: gathers of weighted copies (see _gathered_phases)
        gathered = _phase_indices(dims[-1], ratios[-1]) if ratios[-1] and last > 1 else None
        # frac along each axis, broadcast over the axes after it; along the last spatial axis a full (out, C)
        # array: with a (out, 1) column NumPy would again loop over C values at a time
        fracs = [frac.astype(x.dtype).reshape((-1,) + (1,) * (last + 1 - axis)) for axis, (_, _, frac) in enumerate(taps, 1)]
        fracs[-1] = np.ascontiguousarray(np.broadcast_to(fracs[-1], (outs[-1], x.shape[-1])))
        y = np.empty((x.shape[0], *outs, x.shape[-1]), dtype=x.dtype)
        row_bytes = int(arith.product(outs[1:])) * x.shape[-1] * x.dtype.itemsize
        scale = ratios[0] or 1
        rows = max(scale, LINEAR_BLOCK_BYTES // row_bytes // scale * scale)  # (whole phases of an integer ratio)
        low = taps[0][0]
        for sample in range(x.shape[0]):
            for top in range(0, outs[0], rows):
                bottom = min(top + rows, outs[0])
                if ratios[0]:  # the source rows of this block and one on each side
                    first, stop = top // scale, bottom // scale
                    lo, hi = max(first - 1, 0), min(stop + 1, dims[0])
                else:
                    lo, hi = int(low[top]), min(int(low[bottom - 1]) + 2, dims[0])
                block = x[sample:sample + 1, lo:hi]
                for axis in range(last, 1, -1):
                    size = list(block.shape)
                    size[axis] = outs[axis - 1]
                    if axis == last and gathered is not None:
                        block = _gathered_phases(block, axis, ratios[-1], gathered)
                    elif ratios[axis - 1]:
                        block = _phases(block, axis, ratios[axis - 1], np.empty(size, dtype=x.dtype), 0, 0)
                    else:
                        block = _blend(block, _steps(block, axis), axis, taps[axis - 1][0], fracs[axis - 1])
                target = y[sample:sample + 1, top:bottom]
                if ratios[0]:
                    _phases(block, 1, scale, target, first, lo)
                else:
                    _blend(block, _steps(block, 1), 1, low[top:bottom] - lo, fracs[0][top:bottom], target)
        return y


LINEAR_BLOCK_BYTES = 1 << 21  # output bytes per block of linear upsampling (its temporaries stay in L2)


def _phases(x: Any, axis: int, scale: int, out: Any, first: int, lo: int) -> Any:
    """Linear upsampling by an integer ``scale`` along ``axis``, row by row: output row ``s·j + r`` reads
    the half-pixel source ``j + f_r``, ``f_r = (r + ½)/s − ½``, that is ``(1 − |f_r|)·x[j] + |f_r|·x[j ± 1]``
    (PyTorch's two products), the first and last rows repeated past the edges. ``out`` takes source rows ``first, first + 1, …`` (as many as it has room for); ``x``
    holds the source rows from ``lo`` on, with the rows either side of those when the input has them.

    The weighted copies of ``x`` are made once per weight (for a scale of 2 both phases share 0.75 and
    0.25), then each phase is one sum of two slices of whole rows: no gathers."""
    import numpy as np

    def rows(start: int | None, stop: int | None, step: int | None = None) -> tuple[slice, ...]:
        return (*(slice(None),) * axis, slice(start, stop, step))

    held = x.shape[axis]
    a, b = first - lo, first - lo + out.shape[axis] // scale  # the output's source rows, as rows of x
    weighted: dict[float, Any] = {}

    def times(w: float) -> Any:
        if w not in weighted:
            weighted[w] = np.multiply(x, w)
        return weighted[w]

    for r in range(scale):
        f = (r + 0.5) / scale - 0.5
        phase = out[rows(r, None, scale)]
        if f == 0 or held == 1:  # (the middle phase of an odd scale; or a single row)
            np.copyto(phase, x[rows(a, b)])
            continue
        near, far = times(1 - abs(f)), times(abs(f))
        if f < 0:  # between rows j − 1 and j; row 0 has none before it and repeats
            start = max(a, 1)
            if start > a:
                np.copyto(phase[rows(0, 1)], x[rows(a, a + 1)])
            np.add(far[rows(start - 1, b - 1)], near[rows(start, b)], out=phase[rows(start - a, None)])
        else:  # between rows j and j + 1; the last row has none after it and repeats
            stop = min(b, held - 1)
            np.add(near[rows(a, stop)], far[rows(a + 1, stop + 1)], out=phase[rows(0, stop - a)])
            if stop < b:
                np.copyto(phase[rows(stop - a, None)], x[rows(stop, b)])
    return out


def _phase_indices(n: int, scale: int) -> tuple[list[float], Any, Any, Any, Any]:
    """For _gathered_phases: the phases' distinct weights |f_r|; each output's row in the stacked near and
    far copies (one block of n rows per weight); the outputs whose neighbour is past the edge, and their
    source rows."""
    import numpy as np

    shifts = [(r + 0.5) / scale - 0.5 for r in range(scale)]
    weights = sorted({abs(f) for f in shifts})
    j = np.arange(n)
    near = np.empty(n * scale, dtype=np.intp)
    far = np.empty(n * scale, dtype=np.intp)
    for r, f in enumerate(shifts):
        block = weights.index(abs(f)) * n
        near[r::scale] = block + j
        far[r::scale] = block + np.clip(j + (f > 0) - (f < 0), 0, n - 1)
    edge = np.array([r for r, f in enumerate(shifts) if f < 0] + [(n - 1) * scale + r for r, f in enumerate(shifts) if f > 0],
                    dtype=np.intp)
    return weights, near, far, edge, edge // scale


def _gathered_phases(x: Any, axis: int, scale: int, indices: tuple[list[float], Any, Any, Any, Any]) -> Any:
    """Linear upsampling by an integer ``scale`` along ``axis``: ``(1 − |f_r|)·x[j] + |f_r|·x[j ± 1]``
    (see _phases) as one gather of the near copy, one of the far copy and a sum, the copies weighted once
    at the input's size; the edge outputs (their neighbour clamped) are the source pixel itself."""
    import numpy as np

    weights, near_rows, far_rows, edge, edge_source = indices
    near = np.concatenate([np.multiply(x, 1 - w) for w in weights], axis=axis) if len(weights) > 1 else x * (1 - weights[0])
    far = np.concatenate([np.multiply(x, w) for w in weights], axis=axis) if len(weights) > 1 else x * weights[0]
    out = np.take(near, near_rows, axis=axis, mode="clip")
    out += np.take(far, far_rows, axis=axis, mode="clip")
    head = (slice(None),) * axis
    out[(*head, edge)] = x[(*head, edge_source)]
    return out


def _steps(x: Any, axis: int) -> Any:
    """``x[i + 1] − x[i]`` along ``axis``, and 0 at the last pixel (where upper and lower are both the last)."""
    import numpy as np

    n = x.shape[axis]
    head = (slice(None),) * axis
    steps = np.empty_like(x)
    np.subtract(x[(*head, slice(1, None))], x[(*head, slice(None, n - 1))], out=steps[(*head, slice(None, n - 1))])
    steps[(*head, slice(n - 1, None))] = 0
    return steps


def _blend(x: Any, steps: Any, axis: int, low: Any, frac: Any, out: Any = None) -> Any:
    """``lower + (upper − lower)·frac`` along ``axis`` as ``x[low] + steps[low]·frac``: two gathers of whole
    rows (copies, cheaper than arithmetic on strided rows) and two passes; into ``out`` when given (the
    last axis writes straight into the layer's output)."""
    import numpy as np

    lower = np.take(x, low, axis=axis, out=out, mode="clip")  # (indices are in range: "clip" is not buffered)
    step = np.take(steps, low, axis=axis, mode="clip")
    step *= frac
    lower += step
    return lower


def _cropping(value: Any) -> Padding:
    try:
        parsed = padding(value)
    except FieldValueError:
        parsed = ("bad",)
    if parsed[0] not in ("each", "explicit"):
        raise FieldValueError("an int, a list with one int per spatial axis, or [[before, after], ...] per axis")
    return parsed


class Crop(Layer):
    type_name = "crop"
    fields = {
        "cropping": Field(_cropping, None),
        "size": Field(_optional_sizes, None),
    }
    cropping: Padding | None
    size: Sizes | None

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        if (options["cropping"] is None) == (options["size"] is None):
            raise SpecError("give either cropping or size", field="cropping" if options["cropping"] else "size",
                            got="both" if options["cropping"] else "neither",
                            expected="cropping (amounts per side, as Keras) or size (a centre crop)")

    def amounts(self, dims: tuple[Any, ...]) -> list[tuple[Any, Any]]:
        """(before, after) per spatial axis; a centre crop puts the odd pixel at the end."""
        rank = len(dims)
        if self.cropping is not None:
            return explicit_pairs(self.cropping, rank, "cropping")
        pairs = []
        for axis, n, size in zip(AXIS_NAMES[rank], dims, self.axes("size", rank)):
            if arith.is_int(n) and size > n:
                raise ShapeError(f"crop size along {axis} is larger than the input", field="size", got=size,
                                 expected=f"at most {n}")
            before = arith.floor_div(n - size, 2)
            pairs.append((before, arith.simplify(n - size - before)))
        return pairs

    def shares_input(self) -> bool:
        return True  # basic indexing: a view of the input

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        dims, channels = self.spatial_input(inputs[0])
        pairs = self.amounts(dims)
        outs, lines = [], []
        for axis, n, (before, after) in zip(AXIS_NAMES[len(dims)], dims, pairs):
            out = arith.simplify(n - before - after)
            if arith.known_positive(out) is False:
                raise ShapeError(f"cropping {before} + {after} along {axis} leaves nothing of {n}",
                                 field="cropping", got=[before, after], expected=f"a total below {n}")
            outs.append(out)
            lines.append(f"{axis}: {n} − {arith.factor_text(before)} − {arith.factor_text(after)} = {out}")
        return Inference((*outs, channels), explain=lines, rf=[(1, 1, -before) for before, _ in pairs])

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        x = inputs[0]
        pairs = self.amounts(x.shape[1:-1])
        return kernels.pad_spatial(x, [(-before, -after) for before, after in pairs])


class LocalResponseNorm(Layer):
    """Local response normalisation across channels (AlexNet, GoogLeNet), as PyTorch's LocalResponseNorm:
    ``b_c = a_c / (k + α/n · Σ a_{c'}²)^β`` over the ``n`` channels ``c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋``."""

    type_name = "lrn"
    fields = {
        "size": Field(positive_int, doc="the number of neighbouring channels n, a positive integer"),
        "alpha": Field(number, 1e-4),
        "beta": Field(number, 0.75),
        "k": Field(number, 1.0),
    }
    size: int
    alpha: float
    beta: float
    k: float

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        n = self.size
        text = (f"b_c = a_c / ({self.k:g} + {self.alpha:g}/{n} · Σ a²)^{self.beta:g} over channels "
                f"c − {n // 2} … c + {(n - 1) // 2}; params: 0")
        return Inference(tuple(inputs[0]), explain=[text])

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        # torch.nn.functional.local_response_norm: x², zero-padded across channels and averaged (avg_pool),
        # then x / (k + α·avg)^β: it keeps x, the padded squares, the denominator and its base
        padded = (*inputs[0][:-1], inputs[0][-1] + self.size - 1)
        return [Saved("input", "lrn keeps its input (self)"),
                Saved("own", "lrn keeps the squares padded across channels (avg_pool's self)", elements=count(padded)),
                Saved("own", "lrn keeps the power's base (self)", elements=count(inputs[0])),
                Saved("own", "lrn keeps the denominator (other)", elements=count(inputs[0]))]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np
        from numpy.lib.stride_tricks import sliding_window_view

        x = inputs[0]
        n = self.size
        squares = np.pad(x * x, [(0, 0)] * (x.ndim - 1) + [(n // 2, (n - 1) // 2)])
        sums = sliding_window_view(squares, n, axis=-1).sum(axis=-1)
        return x / (self.k + self.alpha / n * sums) ** self.beta
