"""Element-wise layers: activations, softmax, min-max normalise, dropout. No weights, shape kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ShapeError
from .base import Field, Inference, Layer, Shape, any_int, number, probability


class Activation(Layer):
    type_names = ("relu", "relu6", "elu", "gelu", "silu", "sigmoid", "tanh", "normalize")
    fields: dict[str, Field] = {}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        return Inference(tuple(inputs[0]))

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        if self.type == "normalize":
            return kernels.normalize(inputs[0])
        return kernels.activate(self.type, inputs[0], getattr(self, "alpha", None))


class LeakyReLU(Activation):
    type_name = "leaky_relu"
    type_names = ("leaky_relu",)
    fields = {"alpha": Field(number, 0.01)}


class Softmax(Activation):
    type_name = "softmax"
    type_names = ("softmax",)
    fields = {"axis": Field(any_int, -1)}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        rank = len(inputs[0])
        if not -rank <= self.axis < rank:
            raise ShapeError("softmax axis out of range for its input", field="axis", got=self.axis,
                             expected=f"an axis of the {rank}-axis input {list(inputs[0])}: "
                                      f"{-rank} to {rank - 1}")
        return Inference(tuple(inputs[0]))

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        return kernels.softmax(inputs[0], self.axis if self.axis < 0 else self.axis + 1)  # + batch axis


class Dropout(Activation):
    type_name = "dropout"
    type_names = ("dropout",)
    fields = {"rate": Field(probability, 0.5)}

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        return inputs[0]  # inference: dropout is the identity
