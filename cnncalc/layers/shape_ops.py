"""Layers that select or reorder values: slice, channel_shuffle, permute, pixel_shuffle, pixel_unshuffle. No
weights, no MACs."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ShapeError
from ..maths import arith
from .axes import batch_axis, sample_axis
from .base import AXIS_NAMES, Field, FieldValueError, Inference, Layer, Shape, any_int, choice, fmt, positive_int

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


def optional_int(value: Any) -> int | None:
    if value is None:
        return None
    return any_int(value)


def axes_list(value: Any) -> tuple[int, ...]:
    if (not isinstance(value, list) or not value
            or any(isinstance(v, bool) or not isinstance(v, int) for v in value)):
        raise FieldValueError("a list of axes, e.g. [1, 0]")
    return tuple(value)


class Slice(Layer):
    """``x[start:stop:step]`` along one axis of the sample (Python's rules for negative indices)."""

    type_name = "slice"
    fields = {
        "axis": Field(any_int, -1),
        "start": Field(any_int, 0),
        "stop": Field(optional_int, None),
        "step": Field(positive_int, 1),
    }
    axis: int
    start: int
    stop: int | None
    step: int

    def bounds(self, n: Any) -> tuple[Any, Any, Any]:
        """(first index, end index, length) along an axis of size ``n``; out of range raises."""
        start, stop, step = self.start, self.stop, self.step
        if arith.is_int(n):
            if not -n <= start < n:
                raise ShapeError(f"slice start out of range for an axis of size {n}", field="start", got=start,
                                 expected=f"an index in [-{n}, {n - 1}]")
            first = start + n if start < 0 else start
            if stop is None:
                end = n
            else:
                if not -n <= stop <= n:
                    raise ShapeError(f"slice stop out of range for an axis of size {n}", field="stop", got=stop,
                                     expected=f"an index in [-{n}, {n}], or null for the end")
                end = stop + n if stop < 0 else stop
            if end <= first:
                raise ShapeError(f"the slice is empty: stop {stop} is not after start {start} on an axis of size {n}",
                                 field="stop", got=stop, expected=f"an end index after {first}")
            return first, end, (end - first + step - 1) // step
        first = start + n if start < 0 else start
        end = n if stop is None else (stop + n if stop < 0 else stop)
        return first, end, arith.simplify(arith.ceil_div(end - first, step))

    def shares_input(self) -> bool:
        return True  # basic indexing: a view of the input

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        shape = inputs[0]
        axis = sample_axis(self.axis, len(shape))
        first, end, length = self.bounds(shape[axis])
        out = list(shape)
        out[axis] = length
        def term(value: Any) -> str:
            return str(value) if arith.is_int(value) or getattr(value, "is_Symbol", False) else f"({value})"

        span = f"{term(end)} − {term(first)}"
        text = (f"axis {self.axis}: [{first}:{end}" + (f":{self.step}" if self.step > 1 else "") + "] keeps "
                + (f"⌈({span})/{self.step}⌉" if self.step > 1 else span) + f" = {fmt(length)}")
        rf: Any = "keep"
        spatial = len(shape) - 1
        if axis < spatial:
            # output i reads input first + i·step: a 1-wide window with stride `step`, offset `first`
            rf = [(1, self.step, -first) if a == axis else (1, 1, 0) for a in range(spatial)]
        elif len(shape) == 1:
            rf = None
        return Inference(tuple(out), explain=[text], rf=rf)

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        x = inputs[0]
        axis = sample_axis(self.axis, x.ndim - 1)
        first, end, _ = self.bounds(x.shape[axis + 1])
        index = [slice(None)] * x.ndim
        index[batch_axis(axis)] = slice(first, end, self.step)
        return x[tuple(index)]


class ChannelShuffle(Layer):
    """Channels viewed as ``[groups, C/groups]``, transposed, flattened (PyTorch ``channel_shuffle``)."""

    type_name = "channel_shuffle"
    fields = {"groups": Field(positive_int, doc="the number of groups, a divisor of the channel count")}
    groups: int

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        channels = self.numeric_channels(inputs[0][-1])
        if channels % self.groups:
            raise ShapeError(f"groups must divide the {channels} channels", field="groups", got=self.groups,
                             expected=f"a divisor of {channels}")
        per = channels // self.groups
        return Inference(tuple(inputs[0]), explain=[
            (f"channels as [{self.groups}, {per}] → transposed to [{per}, {self.groups}]: "
            f"output channel j reads input channel (j mod {self.groups})·{per} + ⌊j/{self.groups}⌋")])

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        x = inputs[0]
        channels = x.shape[-1]
        grouped = x.reshape(*x.shape[:-1], self.groups, channels // self.groups)
        return grouped.swapaxes(-1, -2).reshape(x.shape)


class Permute(Layer):
    """Reorders the sample's axes: output axis i is input axis ``axes[i]`` (0-based, no batch axis)."""

    type_name = "permute"
    fields = {"axes": Field(axes_list, doc="a permutation of the sample's axes, e.g. [1, 0]")}
    # the spec's name: on a permute layer this field hides the Layer.axes method, which reads sized fields
    # (kernel, stride) that permute does not have
    axes: tuple[int, ...]  # type: ignore[assignment]

    def order(self, rank: int) -> tuple[int, ...]:
        if len(self.axes) != rank:
            raise ShapeError(f"axes must list each of the input's {rank} axes once", field="axes",
                             got=list(self.axes), expected=f"a permutation of {list(range(rank))}")
        order = tuple(a + rank if a < 0 else a for a in self.axes)
        if sorted(order) != list(range(rank)):
            what = "an axis is out of range" if any(not 0 <= a < rank for a in order) else "an axis is repeated"
            raise ShapeError(f"axes is not a permutation ({what})", field="axes", got=list(self.axes),
                             expected=f"a permutation of {list(range(rank))}")
        return order

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        shape = inputs[0]
        order = self.order(len(shape))
        out = tuple(shape[a] for a in order)
        text = f"[{', '.join(str(d) for d in shape)}] → axes {list(order)} → [{', '.join(str(d) for d in out)}]"
        identity = order == tuple(range(len(shape)))
        return Inference(out, explain=[text], rf="keep" if identity else None)

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        order = self.order(inputs[0].ndim - 1)
        return inputs[0].transpose((0, *(batch_axis(a) for a in order)))


#: the channel orders of a pixel shuffle (ONNX DepthToSpace's modes): ``crd``, channel then row and column
#: offset (PyTorch's PixelShuffle, ONNX mode CRD); ``dcr``, row and column offset then channel (TensorFlow's
#: depth_to_space, ONNX's default DCR)
SHUFFLE_MODES = ("crd", "dcr")


def _block_text(mode: str, factor: int, channels: Any) -> str:
    if mode == "crd":
        return f"channel c·{factor}² + i·{factor} + j of the deep map is channel c at offset (i, j)"
    return f"channel (i·{factor} + j)·{channels} + c of the deep map is channel c at offset (i, j)"


class PixelShuffle(Layer):
    """``[H, W, C·r²] → [rH, rW, C]``: each pixel's channels spread over an ``r × r`` block (sub-pixel
    convolution's upsampling; PyTorch ``PixelShuffle``, ONNX ``DepthToSpace``)."""

    type_name = "pixel_shuffle"
    fields = {
        "factor": Field(positive_int, doc="the upscale factor r, a positive integer"),
        "mode": Field(choice(*SHUFFLE_MODES), "crd", doc="channel order: crd (PyTorch) or dcr (TensorFlow)"),
    }
    factor: int
    mode: str

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        shape = inputs[0]
        if len(shape) != 3:
            raise ShapeError("pixel_shuffle needs an input of shape [H, W, C]", got=[str(d) for d in shape],
                             expected="3 axes")
        r = self.factor
        channels = self.numeric_channels(shape[-1])
        if channels % (r * r):
            raise ShapeError(f"the {channels} channels are not a multiple of factor² = {r * r}", field="factor",
                             got=r, expected=f"a factor whose square divides {channels}")
        outs = [arith.simplify(n * r) for n in shape[:-1]]
        lines = [f"{axis}: {arith.factor_text(n)}·{r} = {out}" for axis, n, out in zip(AXIS_NAMES[2], shape, outs)]
        lines.append(f"channels: {channels}/{r}² = {channels // (r * r)}; "
                     + _block_text(self.mode, r, channels // (r * r)))
        # output pixel i reads input pixel ⌊i/r⌋, as nearest upsampling by r does
        rf = [("upsample", 1, n, out, 0.0, "nearest") for n, out in zip(shape[:-1], outs)]
        return Inference((*outs, channels // (r * r)), explain=lines, rf=rf)

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        x = inputs[0]
        n, h, w, depth = x.shape
        r = self.factor
        c = depth // (r * r)
        if self.mode == "crd":
            blocks = x.reshape(n, h, w, c, r, r).transpose(0, 1, 4, 2, 5, 3)
        else:
            blocks = x.reshape(n, h, w, r, r, c).transpose(0, 1, 3, 2, 4, 5)
        return blocks.reshape(n, h * r, w * r, c)


class PixelUnshuffle(Layer):
    """``[rH, rW, C] → [H, W, C·r²]``: each ``r × r`` block folded into the channels (PyTorch
    ``PixelUnshuffle``; ONNX ``SpaceToDepth`` and TensorFlow's ``space_to_depth`` are mode ``dcr``)."""

    type_name = "pixel_unshuffle"
    fields = {
        "factor": Field(positive_int, doc="the downscale factor r, a positive integer"),
        "mode": Field(choice(*SHUFFLE_MODES), "crd", doc="channel order: crd (PyTorch) or dcr (TensorFlow, ONNX)"),
    }
    factor: int
    mode: str

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        shape = inputs[0]
        if len(shape) != 3:
            raise ShapeError("pixel_unshuffle needs an input of shape [H, W, C]", got=[str(d) for d in shape],
                             expected="3 axes")
        r = self.factor
        channels = self.numeric_channels(shape[-1])
        outs, lines = [], []
        for axis, n in zip(AXIS_NAMES[2], shape):
            if arith.is_int(n) and n % r:
                raise ShapeError(f"the input's {axis} = {n} is not a multiple of factor {r}", field="factor", got=r,
                                 expected=f"a factor dividing {n}")
            out = arith.floor_div(n, r)
            outs.append(out)
            lines.append(f"{axis}: {arith.factor_text(n)}/{r} = {out}")
        lines.append(f"channels: {channels}·{r}² = {channels * r * r}; " + _block_text(self.mode, r, channels))
        # output pixel i reads the r × r block starting at r·i: a window of r with stride r
        return Inference((*outs, channels * r * r), explain=lines, rf=[(r, r, 0), (r, r, 0)])

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        x = inputs[0]
        n, rh, rw, c = x.shape
        r = self.factor
        h, w = rh // r, rw // r
        blocks = x.reshape(n, h, r, w, r, c)
        order = (0, 1, 3, 5, 2, 4) if self.mode == "crd" else (0, 1, 3, 2, 4, 5)
        return blocks.transpose(order).reshape(n, h, w, c * r * r)
