"""Layers with two or more inputs: concat and the element-wise merges (add, multiply, subtract, maximum,
minimum, average), which broadcast as NumPy does."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ShapeError
from ..maths import arith
from .axes import batch_axis, sample_axis
from .base import Field, Inference, Layer, Saved, Shape, any_int, count

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


def same_dim(a: Any, b: Any) -> bool:
    if arith.is_int(a) and arith.is_int(b):
        return a == b
    difference = arith.simplify(a - b)
    return bool(difference == 0)


def _is_one(dim: Any) -> bool:
    return arith.is_int(dim) and dim == 1


def broadcast_shapes(layer: Layer, inputs: Sequence[Shape]) -> Shape:
    """NumPy's rule: shapes aligned from the last axis; along each axis the sizes are equal or 1."""
    rank = max(len(shape) for shape in inputs)
    result: list[Any] = [1] * rank
    owner = [0] * rank  # which input set each output axis, for the message
    for position, shape in enumerate(inputs):
        offset = rank - len(shape)
        for i, dim in enumerate(shape):
            axis = offset + i
            if _is_one(dim):
                continue
            if _is_one(result[axis]):
                result[axis], owner[axis] = dim, position
            elif not same_dim(result[axis], dim):
                def show(s: Shape) -> list[str]:
                    return [str(d) for d in s]
                raise ShapeError(
                    f"inputs of {layer.type} need equal shapes or broadcasting ones: input {position + 1} ('{layer.inputs[position]}') "
                    f"has {dim} where input {owner[axis] + 1} ('{layer.inputs[owner[axis]]}') has "
                    f"{result[axis]} (axis {axis - rank} from the end)",
                    field="inputs", got=show(shape),
                    expected=f"a shape that broadcasts with {show(inputs[owner[axis]])} (each axis equal or 1, "
                             "aligned from the last axis)")
    return tuple(result)


class Merge(Layer):
    """Element-wise merge of two or more inputs, broadcasting ([H, W, C] × [1, 1, C] is squeeze-and-excitation)."""

    type_names = ("add", "multiply", "subtract", "maximum", "minimum", "average")
    arity = None
    fields = {}
    _WORDS = {"add": "sum", "multiply": "product", "subtract": "difference", "maximum": "maximum",
              "minimum": "minimum", "average": "mean"}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        if self.type == "subtract" and len(inputs) != 2:
            raise ShapeError("subtract takes exactly two inputs (the first minus the second)", field="inputs",
                             got=list(self.inputs), expected="two layer names")
        shape = broadcast_shapes(self, inputs)
        text = f"element-wise {self._WORDS[self.type]} of {len(inputs)} inputs"
        if any(len(s) != len(shape) or not all(same_dim(a, b) for a, b in zip(s, shape)) for s in inputs):
            text += " (broadcast: " + " × ".join("[" + ", ".join(str(d) for d in s) + "]" for s in inputs) + \
                    " → [" + ", ".join(str(d) for d in shape) + "])"
        return Inference(shape, explain=[text])

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        if self.type not in ("multiply", "maximum", "minimum"):
            return []  # a sum, difference or mean: the gradients need only sizes
        # a · b · c is (a · b) · c: each step keeps both operands, the partial results included
        saved = [Saved("input", f"{self.type} keeps each operand (self, other)", index)
                 for index in range(len(inputs))]
        return saved + [Saved("own", f"{self.type} keeps the partial result it goes on with", elements=count(output))
                        for _ in range(len(inputs) - 2)]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        # inputs are batched [N, ...]: align the sample axes from the end, keeping the batch axis first
        rank = len(out_shape)
        xs = [x.reshape(x.shape[:1] + (1,) * (rank + 1 - x.ndim) + x.shape[1:]) for x in inputs]
        if self.type == "subtract":
            return xs[0] - xs[1]
        if self.type == "maximum":
            return np.maximum.reduce(np.broadcast_arrays(*xs)) if len(xs) > 2 else np.maximum(xs[0], xs[1])
        if self.type == "minimum":
            return np.minimum.reduce(np.broadcast_arrays(*xs)) if len(xs) > 2 else np.minimum(xs[0], xs[1])
        total = xs[0]
        for x in xs[1:]:
            total = total * x if self.type == "multiply" else total + x
        if self.type == "average":
            total = total / len(xs)
        return np.broadcast_to(total, (inputs[0].shape[0], *out_shape))


Add = Merge  # the v1 name


class Concat(Layer):
    type_name = "concat"
    arity = None
    fields = {"axis": Field(any_int, -1)}
    axis: int

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        rank = len(inputs[0])
        axis = sample_axis(self.axis, rank)
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
        out = list(inputs[0])
        out[axis] = arith.simplify(total)
        parts = " + ".join(str(s[axis]) for s in inputs)
        return Inference(tuple(out), explain=[f"axis {self.axis}: {parts} = {out[axis]}"])

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        return np.concatenate(inputs, axis=batch_axis(sample_axis(self.axis, len(out_shape))))
