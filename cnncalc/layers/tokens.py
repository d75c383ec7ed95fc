"""Token layers of transformers: class_token (a learned token prepended), position_embedding (a learned
table added), embedding (integer ids to learned vectors)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ExecutionError, ShapeError
from ..maths import arith
from .base import Field, Inference, Layer, Saved, Shape, count, fmt, positive_int

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


class ClassToken(Layer):
    """``[T, d] → [T+1, d]``: a learned token at index 0 (ViT's [class] token)."""

    type_name = "class_token"
    fields = {}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        shape = inputs[0]
        if len(shape) != 2:
            raise ShapeError("class_token needs an input of shape [T, d] (tokens, features)",
                             got=[str(d) for d in shape], expected="2 axes")
        d = self.numeric_channels(shape[1])
        tokens = arith.simplify(shape[0] + 1)
        return Inference((tokens, d), d, explain=[f"tokens: {shape[0]} + 1 = {tokens}", f"params: {fmt(d)}"],
                         rf=None)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        return {"weight": (inputs[0][-1],)}

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        x = inputs[0]
        token = np.broadcast_to(weights["weight"], (x.shape[0], 1, x.shape[2]))
        return np.concatenate([token, x], axis=1)


class PositionEmbedding(Layer):
    """Adds a learned table shaped as the input (``[T, d]``: ``T·d`` parameters)."""

    type_name = "position_embedding"
    fields = {}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        shape = inputs[0]
        for dim in shape:
            self.numeric_channels(dim)
        params = arith.product(shape)
        return Inference(tuple(shape), params,
                         explain=[f"params: {'·'.join(str(d) for d in shape)} = {fmt(params)}"])

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        return {"weight": tuple(inputs[0])}

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        return inputs[0] + weights["weight"]


class Embedding(Layer):
    """Integer ids ``[T]`` → learned vectors ``[T, dim]`` (a lookup in a ``[vocab, dim]`` table)."""

    type_name = "embedding"
    fields = {
        "vocab": Field(positive_int, doc="the vocabulary size, a positive integer"),
        "dim": Field(positive_int, doc="the vector size, a positive integer"),
    }
    vocab: int
    dim: int

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        params = self.vocab * self.dim
        return Inference(tuple(inputs[0]) + (self.dim,), params,
                         explain=[f"params: {self.vocab}·{self.dim} = {fmt(params)}",
                                  f"each id in [0, {self.vocab - 1}] selects a row of the table"], rf=None)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        return {"weight": (self.vocab, self.dim)}

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        return [Saved("own", "embedding keeps the ids as int64 (indices)", elements=count(inputs[0]), dtype="int64")]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        ids = inputs[0]
        whole = np.all(ids == np.round(ids))
        if not whole or ids.size and (ids.min() < 0 or ids.max() >= self.vocab):
            bad = ids[(ids != np.round(ids)) | (ids < 0) | (ids >= self.vocab)].flat[0]
            raise ExecutionError("embedding ids must be integers in the vocabulary", field="input",
                                 got=float(bad) if bad != int(bad) else int(bad),
                                 expected=f"an integer in [0, {self.vocab - 1}]")
        return weights["weight"][ids.astype(np.int64)]
