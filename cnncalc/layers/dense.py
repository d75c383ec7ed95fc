"""Dense (fully connected) and batch normalisation: the per-feature layers with weights."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ShapeError
from ..maths import arith
from .base import (
    Field,
    FieldValueError,
    Inference,
    InlineArray,
    Layer,
    Saved,
    Shape,
    activation_name,
    activation_saved,
    bias_field,
    boolean,
    fmt,
    number,
    numeric_array,
    positive_int,
)

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


def nonneg_number(value: Any) -> float:
    """A finite number ≥ 0 (batchnorm's epsilon: a negative one makes ``var + ε`` negative, all NaN).

    0 is allowed for the textbook formula; the executor then refuses a variance of exactly 0.
    """
    import math

    result = number(value)
    if not (result >= 0 and math.isfinite(result)):
        raise FieldValueError("a finite number ≥ 0 (such as 1e-3)")
    return result


class Dense(Layer):
    type_name = "dense"
    fields = {
        "units": Field(positive_int, doc="the number of units, a positive integer"),
        "bias": Field(bias_field, True),
        "activation": Field(activation_name, "none"),
        "weight": Field(numeric_array, None),
    }
    units: int
    bias: bool | InlineArray
    activation: str
    weight: InlineArray | None

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        shape = inputs[0]
        features = self.numeric_channels(shape[-1])
        units = self.units
        bias = 0 if self.bias is False else 1
        params = features * units + units * bias
        lines = [f"params: {features}·{units}" + (f" + {units}" if bias else "") + f" = {fmt(params)}"]
        positions = arith.product(shape[:-1])
        macs = arith.simplify(positions * features * units)
        lines.append(f"MACs: {features}·{units}" + (f" at each of {arith.factor_text(positions)} positions" if len(shape) > 1 else "")
                     + f" = {fmt(macs)}")
        return Inference(tuple(shape[:-1]) + (units,), params, 0, macs, lines, "keep" if len(shape) >= 2 else None)

    def bias_count(self, out_shape: Shape) -> int:
        return 0 if self.bias is False else self.units

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {"weight": (inputs[0][-1], self.units)}
        if self.bias is not False:
            shapes["bias"] = (self.units,)
        return shapes

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        return [Saved("input", "linear keeps its input (mat1) for the weight's gradient"),
                *activation_saved(self.activation, output, fused=True)]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        y = inputs[0] @ weights["weight"]
        if "bias" in weights:
            y = y + weights["bias"]
        return kernels.activate(self.activation, y)


class BatchNorm(Layer):
    type_name = "batchnorm"
    fields = {
        "center": Field(boolean, True),
        "scale": Field(boolean, True),
        "epsilon": Field(nonneg_number, 1e-3),
        # Keras counts the moving mean and variance as non-trainable parameters; PyTorch keeps them as
        # buffers, outside its parameter count. false gives PyTorch's count.
        "count_stats": Field(boolean, True),
        # Keras's Normalization layer also stores the number of samples its statistics came from: one
        # non-trainable scalar that the forward pass never reads. true counts it (Keras's count).
        "count_samples": Field(boolean, False),
        "gamma": Field(numeric_array, None),
        "beta": Field(numeric_array, None),
        "mean": Field(numeric_array, None),
        "var": Field(numeric_array, None),
    }
    center: bool
    scale: bool
    epsilon: float
    count_stats: bool
    count_samples: bool
    gamma: InlineArray | None
    beta: InlineArray | None
    mean: InlineArray | None
    var: InlineArray | None

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        shape = inputs[0]
        channels = shape[-1]
        if not arith.is_int(channels):
            raise ShapeError("the feature count must be a number, not a symbol", got=str(channels),
                             expected="an integer")
        learned = int(self.center) + int(self.scale)
        trainable = channels * learned
        stats = (2 * channels if self.count_stats else 0) + int(self.count_samples)
        sample = " + 1 (sample count)" if self.count_samples else ""
        lines = [f"trainable: {channels}·{learned} (gamma, beta) = {fmt(trainable)}",
                 f"non-trainable: 2·{channels} (moving mean, variance){sample} = {fmt(stats)}" if self.count_stats
                 else f"moving mean and variance: buffers, not counted (count_stats: false){sample}"
                 + (f"; non-trainable {fmt(stats)}" if self.count_samples else "")]
        return Inference(tuple(shape), trainable, stats, 0, lines)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        channels = inputs[0][-1]
        shapes: dict[str, Any] = {"mean": (channels,), "var": (channels,)}
        if self.scale:
            shapes["gamma"] = (channels,)
        if self.center:
            shapes["beta"] = (channels,)
        return shapes

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        # (training mode: the batch's own statistics, one per channel whatever the batch, in the input's dtype
        # on the CPU; cuDNN keeps them in float32 for half-precision inputs)
        channels = inputs[0][-1]
        return [Saved("input", "batch_norm keeps its input (input)"),
                Saved("own", "batch_norm keeps the batch mean (save_mean), one per channel", elements=channels,
                      batched=False),
                Saved("own", "batch_norm keeps 1/std (save_invstd), one per channel", elements=channels,
                      batched=False)]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        """Inference mode: ``gamma·(x − mean)/√(var + ε) + beta`` with the moving statistics."""
        import numpy as np

        denominator = weights["var"] + self.epsilon
        if np.any(denominator <= 0):
            from ..errors import ExecutionError

            channel = int(np.argmax(denominator <= 0))
            raise ExecutionError(f"var + epsilon is 0 for channel {channel}: division by zero", field="var",
                                 got=float(weights["var"][channel]), expected="a variance > 0 when epsilon is 0")
        y = (inputs[0] - weights["mean"]) / np.sqrt(denominator)
        if "gamma" in weights:
            y = y * weights["gamma"]
        if "beta" in weights:
            y = y + weights["beta"]
        return y
