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
        # Linear: block by block of output rows (one sample at a time), so that the blends of every axis
        # work on a slice small enough to stay in cache; each output value is the same blend of the same
        # values, in the same axis order, as on the whole array at once.
        taps = [linear_taps(n, out) for n, out in zip(x.shape[1:-1], out_shape[:-1])]
        y = np.empty((x.shape[0], *(int(d) for d in out_shape)), dtype=x.dtype)
        row_bytes = int(arith.product(int(d) for d in out_shape[1:])) * x.dtype.itemsize
        rows = max(1, LINEAR_BLOCK_BYTES // row_bytes)
        last = len(taps)
        for sample in range(x.shape[0]):
            for top in range(0, y.shape[1], rows):
                part = slice(top, top + rows)
                target = y[sample:sample + 1, part]
                low, high, frac = taps[0]
                block = _blend(x[sample:sample + 1], 1, low[part], high[part], frac[part], target if last == 1 else None)
                for axis, (low, high, frac) in enumerate(taps[1:], start=2):
                    block = _blend(block, axis, low, high, frac, target if axis == last else None)
        return y


LINEAR_BLOCK_BYTES = 1 << 21  # output bytes per block of linear upsampling (its temporaries stay in L2)


def _blend(x: Any, axis: int, low: Any, high: Any, frac: Any, out: Any = None) -> Any:
    """``lower + (upper − lower)·frac`` along ``axis``, the rows ``low`` and ``high`` gathered; into ``out``
    when given (the last axis writes straight into the layer's output)."""
    import numpy as np

    frac = frac.astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - axis - 1))
    lower = np.take(x, low, axis=axis)
    upper = np.take(x, high, axis=axis)
    if out is None:
        out = upper
    np.subtract(upper, lower, out=out)  # then in place: no more temporaries
    out *= frac
    out += lower
    return out


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
