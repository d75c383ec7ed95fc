"""Pooling family: maxpool, avgpool, global and adaptive pools, for 1 to 3 spatial axes."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ShapeError, SpecError
from ..maths import arith
from .base import (
    AXIS_NAMES,
    Field,
    Inference,
    Layer,
    Padding,
    Saved,
    Shape,
    Sizes,
    Uniform,
    boolean,
    count,
    padding,
    padding_pairs,
    same_text,
    saved_window_input,
    sizes,
    window_output,
)

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


def _optional_sizes(value: Any) -> Any:
    return None if value is None else sizes(value)


def _ranked(*bases: str) -> dict[str, int]:
    return {f"{base}{rank}d": rank for base in bases for rank in (1, 2, 3)}


def _saved_pool_input(layer: _Pool, shape: Shape) -> Saved:
    # PyTorch's pools pad inside their kernel only the same amount on both sides, at most half the window
    return saved_window_input(layer, shape, lambda pads, kernel: all(
        b == a and b <= k // 2 for (b, a), k in zip(pads, kernel)))


class _Pool(Layer):
    """Sliding-window pooling (not a layer type itself): max or average."""

    fields = {
        "kernel": Field(sizes, doc="the window size, an int or a list with one per spatial axis"),
        "stride": Field(_optional_sizes, None),
        "padding": Field(padding, ("each", 0)),
        "dilation": Field(sizes, Uniform(1)),
        "ceil_mode": Field(boolean, False),
    }
    kernel: Sizes
    stride: Sizes  # the kernel when not given (check_fields)
    padding: Padding
    dilation: Sizes
    ceil_mode: bool

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        if options["stride"] is None:
            options["stride"] = options["kernel"]
        pad = options["padding"]
        if pad[0] == "full":
            raise SpecError("'full' padding is not defined for pooling", field="padding", got="full",
                            expected="an int, a list, 'valid' or 'same'")
        if options["ceil_mode"] and pad[0] == "same":
            raise SpecError("ceil_mode cannot be combined with 'same' padding", field="ceil_mode", got=True,
                            expected="false with padding 'same'")

    def geometry(self, rank: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        return self.axes("kernel", rank), self.axes("stride", rank), self.axes("dilation", rank)

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        dims, channels = self.spatial_input(inputs[0])
        rank = len(dims)
        kernel, stride, dilation = self.geometry(rank)
        pads, _ = padding_pairs(self.padding, dims, kernel, stride, dilation)
        if self.padding[0] != "same":
            for (before, after), k in zip(pads, kernel):
                if max(before, after) > k // 2:  # PyTorch's rule (on the kernel size, whatever the dilation)
                    raise ShapeError("pooling padding must be at most half the window", field="padding",
                                     got=max(before, after), expected=f"at most {k // 2} for a window of {k}")
        outs, lines, dropped = [], [], []
        for axis, n, k, s, pad, d in zip(AXIS_NAMES[rank], dims, kernel, stride, pads, dilation):
            out, text, lost = window_output(self, axis, n, k, s, pad, d, ceil_mode=self.ceil_mode)
            outs.append(out)
            lines.append(text)
            dropped.append(lost)
        for axis, n, k, s, d, (before, _), out in zip(AXIS_NAMES[rank], dims, kernel, stride, dilation, pads, outs):
            if d > 1 and arith.is_int(n) and arith.is_int(out) and arith.is_int(before):
                empty = _empty_window(n, k, s, d, before, out)
                if empty is not None:  # dilated taps can all fall in the padding: no value to pool
                    raise ShapeError(f"window {empty} along {axis} reads only padding (dilation {d})",
                                     field="padding", got=before, expected="a padding that leaves a pixel in every window")
        if self.padding[0] == "same":
            lines.append("padding 'same' (TensorFlow rule): pads " + same_text(pads, AXIS_NAMES[rank]))
        lines.append("params: 0 (pooling has no weights)")
        rf = [(arith.effective_kernel(k, d), s, pad[0], d) for k, d, s, pad in zip(kernel, dilation, stride, pads)]
        return Inference((*outs, channels), 0, 0, 0, lines, rf, dropped)

    def padded_windows(self, x: Any, out_shape: Shape, value: float) -> tuple[Any, list[tuple[int, int]],
                                                                                 list[tuple[int, int]]]:
        """Windows ``[N, *out, C, *kernel]`` over ``x`` padded with ``value``; also the spec's padding and
        the extended padding (ceil_mode windows may run past the right padding)."""
        from ..maths import kernels

        rank = x.ndim - 2
        kernel, stride, dilation = self.geometry(rank)
        pads, _ = padding_pairs(self.padding, x.shape[1:-1], kernel, stride, dilation)
        extended = []
        for n, k, s, d, (before, after), out in zip(x.shape[1:-1], kernel, stride, dilation, pads, out_shape):
            extended.append((before, max(after, (out - 1) * s + arith.effective_kernel(k, d) - n - before)))
        win = kernels.windows(kernels.pad_spatial(x, extended, value), kernel, stride, dilation, out_shape)
        return win, pads, extended


def _empty_window(n: int, k: int, s: int, d: int, before: int, out: int) -> int | None:
    """The first output position whose dilated taps all lie outside the input, if any."""
    import numpy as np

    taps = np.arange(out)[:, None] * s - before + np.arange(k)[None, :] * d
    empty = ~((taps >= 0) & (taps < n)).any(axis=1)
    return int(np.argmax(empty)) if empty.any() else None


class MaxPool(_Pool):
    type_names = ("maxpool", *_ranked("maxpool"))
    rank_of_type = _ranked("maxpool")

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        return [_saved_pool_input(self, inputs[0]),
                Saved("own", "maxpool keeps the int64 indices of its maxima (result1)", elements=count(output),
                      dtype="int64")]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        win, _, _ = self.padded_windows(inputs[0], out_shape[:-1], -np.inf)
        rank = inputs[0].ndim - 2
        return win.max(axis=tuple(range(-rank, 0)))


class AvgPool(_Pool):
    type_names = ("avgpool", *_ranked("avgpool"))
    rank_of_type = _ranked("avgpool")
    # false: divide by the cells inside the input (Keras, and this tool's v1); true: PyTorch's default
    fields = {**_Pool.fields, "count_include_pad": Field(boolean, False)}
    count_include_pad: bool

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        saved = [_saved_pool_input(self, inputs[0])]
        if saved[0].what == "own" and not self.count_include_pad:  # ÷ the same pool of ones: DivBackward0
            saved.append(Saved("own", "avgpool ÷ its window counts keeps the counts (other)",
                               elements=count(output[:-1])))
        return saved

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        from ..maths import kernels

        x = inputs[0]
        rank = x.ndim - 2
        spatial_out = out_shape[:-1]
        win, pads, extended = self.padded_windows(x, spatial_out, 0.0)
        taps = tuple(range(-rank, 0))
        sums = win.sum(axis=taps)
        kernel, stride, dilation = self.geometry(rank)
        ones = np.ones((1, *x.shape[1:-1], 1), dtype=x.dtype)
        if self.count_include_pad:  # the padding counts, the ceil-mode overhang past it does not
            ones = kernels.pad_spatial(ones, pads, 1.0)
            beyond = [(0, e_after - after) for (_, after), (_, e_after) in zip(pads, extended)]
            counted = kernels.pad_spatial(ones, beyond, 0.0)
        else:
            counted = kernels.pad_spatial(ones, extended, 0.0)
        return sums / kernels.windows(counted, kernel, stride, dilation, spatial_out).sum(axis=taps)


class GlobalPool(Layer):
    type_names = ("global_maxpool", "global_avgpool")
    fields = {"keepdims": Field(boolean, False)}
    keepdims: bool

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        dims, channels = self.spatial_input(inputs[0])
        shape = (*(1,) * len(dims), channels) if self.keepdims else (channels,)
        reduce = "max" if self.type == "global_maxpool" else "mean"
        positions = "·".join(arith.factor_text(d) for d in dims)  # (n - 2)·(n - 2): a product of sums
        return Inference(shape, explain=[f"{reduce} over all {positions} positions of each channel"], rf=None)

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        if self.type == "global_avgpool":
            return []  # the mean's gradient needs only sizes
        return [Saved("input", "amax keeps its input (self)"), Saved("output", "amax keeps its output (result)")]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        x = inputs[0]
        reduce = x.max if self.type == "global_maxpool" else x.mean
        return reduce(axis=tuple(range(1, x.ndim - 1)), keepdims=self.keepdims)


def adaptive_bounds(n: int, out: int) -> tuple[list[int], list[int]]:
    """PyTorch's adaptive windows along one axis: ``start = ⌊i·n/out⌋``, ``end = ⌈(i+1)·n/out⌉``.

    >>> adaptive_bounds(5, 3)
    ([0, 1, 3], [2, 4, 5])
    """
    starts = [i * n // out for i in range(out)]
    ends = [-(-(i + 1) * n // out) for i in range(out)]
    return starts, ends


class AdaptivePool(Layer):
    type_names = ("adaptive_avgpool", "adaptive_maxpool")
    fields = {"size": Field(sizes, doc="the output spatial size, an int or a list with one per spatial axis")}
    size: Sizes

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        dims, channels = self.spatial_input(inputs[0])
        rank = len(dims)
        size = self.axes("size", rank)
        lines, rf = [], []
        for axis, n, out in zip(AXIS_NAMES[rank], dims, size):
            if arith.is_int(n):
                starts, ends = adaptive_bounds(n, out)
                longest = max(e - s for s, e in zip(starts, ends))
                first = ends[0]
                lines.append(f"{axis}: {out} windows over {n} (start ⌊i·{n}/{out}⌋, end ⌈(i+1)·{n}/{out}⌉), "
                             f"longest {longest}")
            else:  # symbolic: the window a divisible size would give
                longest = first = arith.ceil_div(n, out)
                lines.append(f"{axis}: {out} windows over {n} (start ⌊i·{n}/{out}⌋, end ⌈(i+1)·{n}/{out}⌉)")
            # the jump is the mean stride n/out; the field grows by the longest window
            rf.append(("adaptive", longest, n, out, first))
        lines.append("params: 0 (pooling has no weights)")
        return Inference((*size, channels), 0, 0, 0, lines, rf)

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        saved = [Saved("input", f"{self.type} keeps its input (self)")]
        if self.type == "adaptive_maxpool":
            saved.append(Saved("own", "adaptive_maxpool keeps the int64 indices of its maxima (result1)",
                               elements=count(output), dtype="int64"))
        return saved

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        """Axis by axis (a box window is a product of intervals): averages as a matrix product, maxima
        over index windows padded by repeating their last index."""
        import numpy as np

        x = inputs[0]
        for axis, (n, out) in enumerate(zip(x.shape[1:-1], out_shape[:-1]), start=1):
            starts, ends = (np.array(v) for v in adaptive_bounds(n, out))
            if self.type == "adaptive_avgpool":
                cells = np.arange(n)
                inside = (cells >= starts[:, None]) & (cells < ends[:, None])
                matrix = inside / (ends - starts)[:, None]
                x = np.moveaxis(np.tensordot(x, matrix, axes=([axis], [1])), -1, axis)
            else:
                longest = int((ends - starts).max())
                index = np.minimum(starts[:, None] + np.arange(longest), ends[:, None] - 1)  # [out, longest]
                taken = np.take(x, index, axis=axis)  # [..., out, longest, ...]
                x = taken.max(axis=axis + 1)
        return x
