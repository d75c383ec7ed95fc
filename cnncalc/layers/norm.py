"""Normalisation over a sample's own values: layernorm (chosen axes) and groupnorm (channel groups).
Unlike batchnorm they use no moving statistics: each sample is normalised by its own mean and variance
(population variance, as PyTorch and Keras)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ShapeError
from ..maths import arith
from .axes import int_or_int_list, sample_axis
from .base import (
    Field,
    FieldValueError,
    Inference,
    Layer,
    Saved,
    Shape,
    boolean,
    count,
    fmt,
    number,
    positive_int,
)

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


def positive_number(value: Any) -> float:
    result = number(value)
    if not result > 0 or result == float("inf"):
        raise FieldValueError("a positive number")
    return result


class LayerNorm(Layer):
    """``gamma·(x − mean)/√(var + ε) + beta`` with mean and variance over ``axis`` (the channels by default)."""

    type_name = "layernorm"
    fields = {
        "axis": Field(int_or_int_list, (-1,)),
        "center": Field(boolean, True),
        "scale": Field(boolean, True),
        "epsilon": Field(positive_number, 1e-5),
    }
    axis: tuple[int, ...]
    center: bool
    scale: bool
    epsilon: float

    def normalised_axes(self, shape: Shape) -> tuple[int, ...]:
        axes = tuple(sorted(sample_axis(a, len(shape)) for a in self.axis))
        if len(set(axes)) != len(axes):
            raise ShapeError("the same axis is named twice", field="axis", got=list(self.axis),
                             expected="distinct axes")
        return axes

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        shape = inputs[0]
        axes = self.normalised_axes(shape)
        dims = [self.numeric_channels(shape[a]) for a in axes]
        size = arith.product(dims)
        learned = int(self.center) + int(self.scale)
        params = learned * size
        which = "axis" if len(axes) == 1 else "axes"
        lines = [f"mean and variance over {which} {', '.join(str(a) for a in axes)}: {fmt(size)} values each",
                 (f"params: ({int(self.center)} + {int(self.scale)})·{'·'.join(str(d) for d in dims)} "
                 f"(gamma, beta) = {fmt(params)}")]
        local = axes == (len(shape) - 1,)
        return Inference(tuple(shape), params, explain=lines, rf="keep" if local else None)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        shape = inputs[0]
        dims = tuple(shape[a] for a in self.normalised_axes(shape))
        shapes: dict[str, tuple[int, ...]] = {}
        if self.scale:
            shapes["gamma"] = dims
        if self.center:
            shapes["beta"] = dims
        return shapes

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        axes = self.normalised_axes(inputs[0])
        rows = count(tuple(d for axis, d in enumerate(inputs[0]) if axis not in axes))
        return [Saved("input", "layer_norm keeps its input (input)"),
                Saved("own", "layer_norm keeps the mean of each normalised group (result1)", elements=rows),
                Saved("own", "layer_norm keeps 1/std of each normalised group (result2)", elements=rows)]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        x = inputs[0]
        axes = self.normalised_axes(out_shape)
        reduce = tuple(a + 1 for a in axes)
        mean = x.mean(axis=reduce, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=reduce, keepdims=True)
        y = centred / np.sqrt(var + self.epsilon)
        # gamma and beta are shaped as the normalised axes: put them back in place among the others
        view = tuple(out_shape[a] if a in axes else 1 for a in range(len(out_shape)))
        if "gamma" in weights:
            y = y * weights["gamma"].reshape(view)
        if "beta" in weights:
            y = y + weights["beta"].reshape(view)
        return y


class GroupNorm(Layer):
    """Channels in ``groups`` contiguous groups; each normalised over its channels and every position.
    ``groups: C`` is instance norm, ``groups: 1`` a layernorm over everything with per-channel gamma/beta."""

    type_name = "groupnorm"
    fields = {
        "groups": Field(positive_int, doc="the number of channel groups, a divisor of the channel count"),
        "center": Field(boolean, True),
        "scale": Field(boolean, True),
        "epsilon": Field(positive_number, 1e-5),
    }
    groups: int
    center: bool
    scale: bool
    epsilon: float

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        shape = inputs[0]
        channels = self.numeric_channels(shape[-1])
        if channels % self.groups:
            raise ShapeError(f"groups must divide the {channels} channels", field="groups", got=self.groups,
                             expected=f"a divisor of {channels}")
        learned = int(self.center) + int(self.scale)
        params = learned * channels
        per_group = arith.simplify(arith.product(shape[:-1]) * (channels // self.groups))
        lines = [f"{self.groups} groups of {channels // self.groups} channels, {fmt(per_group)} values each",
                 f"params: ({int(self.center)} + {int(self.scale)})·{channels} (gamma, beta) = {fmt(params)}"]
        return Inference(tuple(shape), params, explain=lines, rf="keep" if len(shape) == 1 else None)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        channels = inputs[0][-1]
        shapes: dict[str, tuple[int, ...]] = {}
        if self.scale:
            shapes["gamma"] = (channels,)
        if self.center:
            shapes["beta"] = (channels,)
        return shapes

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        return [Saved("input", "group_norm keeps its input (input)"),
                Saved("own", "group_norm keeps the mean of each group (result1)", elements=self.groups),
                Saved("own", "group_norm keeps 1/std of each group (result2)", elements=self.groups)]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        x = inputs[0]
        n, channels = x.shape[0], x.shape[-1]
        grouped = x.reshape(n, -1, self.groups, channels // self.groups)
        mean = grouped.mean(axis=(1, 3), keepdims=True)
        centred = grouped - mean
        var = np.mean(centred * centred, axis=(1, 3), keepdims=True)
        y = (centred / np.sqrt(var + self.epsilon)).reshape(x.shape)
        if "gamma" in weights:
            y = y * weights["gamma"]
        if "beta" in weights:
            y = y + weights["beta"]
        return y
