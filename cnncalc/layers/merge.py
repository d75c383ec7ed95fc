"""Layers with two or more inputs: add, concat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ShapeError
from ..maths import arith
from .base import Field, Inference, Layer, Shape, any_int


def same_dim(a: Any, b: Any) -> bool:
    if arith.is_int(a) and arith.is_int(b):
        return a == b
    difference = arith.simplify(a - b)
    return difference == 0


class Add(Layer):
    type_name = "add"
    arity = None
    fields: dict[str, Field] = {}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        first = inputs[0]
        for position, shape in enumerate(inputs[1:], start=2):
            if len(shape) != len(first) or not all(same_dim(a, b) for a, b in zip(shape, first)):
                raise ShapeError(f"inputs of add must have equal shapes; input {position} "
                                 f"('{self.inputs[position - 1]}') differs from input 1 ('{self.inputs[0]}')",
                                 field="inputs", got=[str(d) for d in shape],
                                 expected=str([str(d) for d in first]))
        return Inference(tuple(first), explain=[f"element-wise sum of {len(inputs)} inputs"])

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        total = inputs[0]
        for x in inputs[1:]:
            total = total + x
        return total


class Concat(Layer):
    type_name = "concat"
    arity = None
    fields = {"axis": Field(any_int, -1)}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        rank = len(inputs[0])
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 0 <= axis < rank:
            raise ShapeError("concat axis out of range", field="axis", got=self.axis,
                             expected=f"an axis in [-{rank}, {rank - 1}]")
        total: Any = 0
        for position, shape in enumerate(inputs, start=1):
            if len(shape) != rank:
                raise ShapeError(f"inputs of concat must have the same rank; input {position} "
                                 f"('{self.inputs[position - 1]}') has {len(shape)} axes",
                                 field="inputs", got=[str(d) for d in shape], expected=f"{rank} axes")
            for i, (a, b) in enumerate(zip(shape, inputs[0])):
                if i != axis and not same_dim(a, b):
                    raise ShapeError(f"inputs of concat must agree on every axis but {self.axis}; input "
                                     f"{position} ('{self.inputs[position - 1]}') differs on axis {i}",
                                     field="inputs", got=[str(d) for d in shape],
                                     expected=str([str(d) for d in inputs[0]]))
            total = total + shape[axis]
        shape = list(inputs[0])
        shape[axis] = arith.simplify(total)
        parts = " + ".join(str(s[axis]) for s in inputs)
        return Inference(tuple(shape), explain=[f"axis {self.axis}: {parts} = {shape[axis]}"])

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        return np.concatenate(inputs, axis=self.axis if self.axis < 0 else self.axis + 1)  # + batch axis
