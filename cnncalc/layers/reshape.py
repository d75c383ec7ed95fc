"""Layers that only move values around: flatten, reshape, zero_pad."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ShapeError, SpecError
from ..maths import arith
from .base import (
    AXIS_NAMES,
    PADDING_MODES,
    Field,
    FieldValueError,
    Inference,
    Layer,
    Padding,
    Shape,
    check_padding_mode,
    choice,
    explicit_pairs,
    fmt,
    padding,
)

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


class Flatten(Layer):
    type_name = "flatten"
    fields = {}

    def shares_input(self) -> bool:
        return True  # torch.flatten and reshape return a view wherever the layout allows

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        shape = inputs[0]
        size = arith.simplify(arith.product(shape))
        text = "·".join(arith.factor_text(d) for d in shape)
        return Inference((size,), explain=[f"size: {text} = {fmt(size)}"], rf=None)

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        return inputs[0].reshape(inputs[0].shape[0], -1)  # row-major: H, then W, then C


def _target_shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise FieldValueError("a list of positive integers, one of which may be -1")
    result = []
    for entry in value:
        if isinstance(entry, bool) or not isinstance(entry, int) or (entry < 1 and entry != -1):
            raise FieldValueError("a list of positive integers, one of which may be -1")
        result.append(entry)
    if result.count(-1) > 1:
        raise FieldValueError("at most one -1 entry")
    return tuple(result)


class Reshape(Layer):
    type_name = "reshape"
    fields = {"shape": Field(_target_shape, doc="the target shape, e.g. [7, 7, 64]")}
    shape: tuple[int, ...]

    def shares_input(self) -> bool:
        return True  # torch.flatten and reshape return a view wherever the layout allows

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        size = arith.product(inputs[0])
        if not arith.is_int(size):
            raise ShapeError("reshape needs a numeric input size", got=str(size), expected="an integer size")
        known = arith.product(d for d in self.shape if d != -1)
        if -1 in self.shape:
            if size % known:
                raise ShapeError(f"cannot reshape {size} values into {list(self.shape)}", field="shape",
                                 got=list(self.shape), expected=f"a shape whose known part divides {size}")
            shape = tuple(size // known if d == -1 else d for d in self.shape)
        else:
            if known != size:
                raise ShapeError(f"cannot reshape {size} values into {list(self.shape)}", field="shape",
                                 got=list(self.shape), expected=f"a shape of {size} values")
            shape = self.shape
        return Inference(shape, explain=[f"{fmt(size)} values as {list(shape)}"], rf=None)

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        return inputs[0].reshape((inputs[0].shape[0], *out_shape))


class ZeroPad(Layer):
    type_name = "zero_pad"
    fields = {"padding": Field(padding, doc="an int, one per spatial axis, or [[before, after], ...] per axis"),
              "padding_mode": Field(choice(*PADDING_MODES), "zeros", doc="how the border is filled (PyTorch's)")}
    padding: Padding
    padding_mode: str

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        if options["padding"][0] not in ("each", "explicit"):
            raise SpecError("zero_pad needs explicit amounts", field="padding", got=options["padding"][0],
                            expected="an int, one per spatial axis, or [[before, after], ...] per axis")

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        dims, channels = self.spatial_input(inputs[0])
        pairs = explicit_pairs(self.padding, len(dims))
        outs, lines = [], []
        for axis, n, (before, after) in zip(AXIS_NAMES[len(dims)], dims, pairs):
            outs.append(arith.simplify(n + before + after))
            lines.append(f"{axis}: {n} + {before} + {after} = {outs[-1]}")
        lines += check_padding_mode(self.padding_mode, pairs, dims)
        return Inference((*outs, channels), explain=lines, rf=[(1, 1, before) for before, _ in pairs])

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        return kernels.pad_spatial(inputs[0], explicit_pairs(self.padding, inputs[0].ndim - 2), mode=self.padding_mode)
