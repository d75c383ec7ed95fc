"""Element-wise layers: activations, softmax, min-max normalise, dropout (no weights), and the learned
element-wise ones: prelu, layer_scale. Shape kept; they act on the last axis of any rank."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import SpecError
from .axes import batch_axis, sample_axis
from .base import (
    Field,
    Inference,
    Layer,
    Saved,
    Shape,
    activation_saved,
    any_int,
    choice,
    count,
    fmt,
    number,
    probability,
)

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any, ClassVar


class Activation(Layer):
    type_names: ClassVar[tuple[str, ...]] = ("relu", "relu6", "silu", "sigmoid", "tanh", "normalize", "hardswish",
                                             "mish", "softplus", "selu")
    fields = {}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        return Inference(tuple(inputs[0]))

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        return activation_saved(self.type, inputs[0], fused=False)

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        if self.type == "normalize":
            return kernels.normalize(inputs[0])
        return kernels.activate(self.type, inputs[0], getattr(self, "alpha", None))


class LeakyReLU(Activation):
    type_name = "leaky_relu"
    type_names = ("leaky_relu",)
    fields = {"alpha": Field(number, 0.01)}
    alpha: float


class ELU(Activation):
    """``x`` above 0, ``alpha·(eˣ − 1)`` below (PyTorch ``nn.ELU(alpha)``, ONNX ``Elu``)."""

    type_name = "elu"
    type_names = ("elu",)
    fields = {"alpha": Field(number, 1.0)}
    alpha: float

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        x = inputs[0]
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))


class GELU(Activation):
    """``x·Φ(x)``: exact (erf) by default; ``approximate: tanh`` is ``0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))``
    (PyTorch ``nn.GELU(approximate="tanh")``, ONNX ``Gelu`` with ``approximate="tanh"``)."""

    type_name = "gelu"
    type_names = ("gelu",)
    fields = {"approximate": Field(choice("none", "tanh"), "none")}
    approximate: str

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import math

        import numpy as np

        from ..maths import kernels

        x = inputs[0]
        if self.approximate == "none":
            return kernels.gelu(x)
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


class HardSigmoid(Activation):
    """``max(0, min(1, alpha·x + beta))``; the defaults (1/6, 0.5) are PyTorch's and Keras 3's ``relu6(x + 3)/6``,
    ONNX's own defaults (0.2, 0.5) are Keras 2's."""

    type_name = "hardsigmoid"
    type_names = ("hardsigmoid",)
    fields = {"alpha": Field(number, 1 / 6), "beta": Field(number, 0.5)}
    alpha: float
    beta: float

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        from ..maths import kernels

        if self.alpha == 1 / 6 and self.beta == 0.5:
            return kernels.hardsigmoid(inputs[0])  # the same function, rounded as PyTorch rounds it
        return np.clip(self.alpha * inputs[0] + self.beta, 0.0, 1.0)


class Clip(Activation):
    """Each value limited to ``[min, max]`` (PyTorch ``torch.clamp`` / ``nn.Hardtanh(min, max)``, ONNX ``Clip``);
    ``relu6`` is ``clip`` to [0, 6]."""

    type_name = "clip"
    type_names = ("clip",)
    fields = {"min": Field(number, doc="the lower bound, a number"),
              "max": Field(number, doc="the upper bound, a number at least min")}
    min: float
    max: float

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        if options["max"] < options["min"]:
            raise SpecError("max must be at least min", field="max", got=options["max"],
                            expected=f"a number ≥ min={options['min']}")

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        return np.clip(inputs[0], self.min, self.max)


class Softmax(Activation):
    type_name = "softmax"
    type_names = ("softmax",)
    fields = {"axis": Field(any_int, -1)}
    axis: int

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        axis = sample_axis(self.axis, len(inputs[0]))
        return Inference(tuple(inputs[0]), rf="keep" if axis == len(inputs[0]) - 1 else None)

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        return kernels.softmax(inputs[0], batch_axis(sample_axis(self.axis, len(out_shape))))


class Dropout(Activation):
    type_name = "dropout"
    type_names = ("dropout",)
    fields = {"rate": Field(probability, 0.5)}
    rate: float

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        if self.rate == 0:
            return []
        # ATen's dropout on the CPU is input·noise and keeps the noise (other) in the input's dtype; CUDA's
        # fused native_dropout keeps a one-byte bool mask instead
        return [Saved("own", "dropout keeps its scaled mask (other), the input's dtype", elements=count(inputs[0]))]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        return inputs[0]  # inference: dropout is the identity


class PReLU(Layer):
    """``max(0, x) + a·min(0, x)`` with a learned slope per channel (PyTorch ``num_parameters=C``) or one."""

    type_name = "prelu"
    fields = {"alpha": Field(choice("channel", "single"), "channel")}
    alpha: str

    def _count(self, shape: Shape) -> Any:
        return self.numeric_channels(shape[-1]) if self.alpha == "channel" else 1

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        count = self._count(inputs[0])
        line = (f"params: one slope per channel = {fmt(count)}" if self.alpha == "channel"
                else "params: one slope shared by every value = 1")
        return Inference(tuple(inputs[0]), count, explain=[line])

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        return {"weight": (self._count(inputs[0]),)}

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        return [Saved("input", "prelu keeps its input (self)")]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        x = inputs[0]
        return np.maximum(x, 0) + weights["weight"] * np.minimum(x, 0)


class LayerScale(Layer):
    """A learned factor per channel (ConvNeXt, CaiT); ``init`` is the training start value (1e-6)."""

    type_name = "layer_scale"
    fields = {"init": Field(number, 1e-6)}
    init: float

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        channels = self.numeric_channels(inputs[0][-1])
        return Inference(tuple(inputs[0]), channels, explain=[f"params: one factor per channel = {fmt(channels)}"])

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        return {"weight": (inputs[0][-1],)}

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        return [Saved("input", "x·gamma keeps x (self) for gamma's gradient")]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        return inputs[0] * weights["weight"]

