"""Convolution family: conv, depthwise_conv, separable_conv, conv_transpose."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ShapeError, SpecError
from ..maths import arith
from .base import (
    Field,
    Inference,
    Layer,
    Shape,
    activation_name,
    bias_field,
    boolean,
    fmt,
    nonneg_int,
    numeric_array,
    padding,
    padding_pairs,
    pair_of,
    positive_int,
    size2,
    window_output,
)

_WINDOW_FIELDS = {
    "kernel": Field(size2, doc="the kernel size, an int or [kh, kw]"),
    "stride": Field(size2, (1, 1)),
    "padding": Field(padding, ("explicit", (0, 0), (0, 0))),
    "dilation": Field(size2, (1, 1)),
    "bias": Field(bias_field, True),
    "activation": Field(activation_name, "none"),
    "weight": Field(numeric_array, None),
}


def has_bias(layer: Layer) -> int:
    return 0 if layer.bias is False else 1


class _Windowed(Layer):
    """Shared sliding-window geometry of the convolutions (not a layer type itself)."""

    def spatial(self, shape: Shape) -> tuple[Any, Any, Any, list[Any], list[str], list[tuple[Any, Any]], list[Any]]:
        height, width, channels = self.require_spatial(shape)
        pads, _ = padding_pairs(self.padding, (height, width), self.kernel, self.stride, self.dilation)
        outs, lines = [], []
        dropped_pixels = []
        for axis, n, k, s, pad, d in zip("HW", (height, width), self.kernel, self.stride, pads, self.dilation):
            out, text, dropped = window_output(self, axis, n, k, s, pad, d)
            outs.append(out)
            lines.append(text)
            dropped_pixels.append(dropped)
        if self.padding[0] == "same":
            lines.append("padding 'same' (TensorFlow rule): out = ⌈n/s⌉, pads (top, bottom) = "
                         f"{pads[0]}, (left, right) = {pads[1]}")
        return height, width, channels, outs, lines, pads, dropped_pixels

    def pads_for(self, x: Any) -> list[tuple[int, int]]:
        pads, _ = padding_pairs(self.padding, x.shape[1:3], self.kernel, self.stride, self.dilation)
        return pads

    def scratch_size(self, inputs: Sequence[Shape], out_shape: Shape) -> int:
        # the im2col copy of every window (large maps go tap by tap and need less)
        kh, kw = self.kernel
        return int(out_shape[0]) * int(out_shape[1]) * int(inputs[0][-1]) * kh * kw

    def bias_count(self, out_shape: Shape) -> int:
        return int(out_shape[-1]) * has_bias(self)

    def rf_step(self, pads: list[tuple[Any, Any]]) -> list[tuple[int, int, Any]]:
        return [(arith.effective_kernel(k, d), s, pad[0])
                for k, d, s, pad in zip(self.kernel, self.dilation, self.stride, pads)]


class Conv(_Windowed):
    type_name = "conv"
    fields = {
        "filters": Field(positive_int, doc="the number of filters, a positive integer"),
        **_WINDOW_FIELDS,
        "groups": Field(positive_int, 1),
        "flip": Field(boolean, False),
    }

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        if options["filters"] % options["groups"]:
            raise SpecError("filters must be divisible by groups", field="groups", got=options["groups"],
                            expected=f"a divisor of filters={options['filters']}")

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        _, _, channels, (h_out, w_out), lines, pads, dropped = self.spatial(inputs[0])
        channels = self.numeric_channels(channels)
        groups, filters = self.groups, self.filters
        if channels % groups:
            raise ShapeError("input channels must be divisible by groups", field="groups", got=groups,
                             expected=f"a divisor of the {channels} input channels")
        kh, kw = self.kernel
        per_group = channels // groups
        bias = has_bias(self)
        params = kh * kw * per_group * filters + filters * bias
        c_text = f"({channels}/{groups})" if groups > 1 else f"{channels}"
        lines.append(f"params: {kh}·{kw}·{c_text}·{filters}" + (f" + {filters}" if bias else "")
                     + f" = {fmt(params)}")
        macs = arith.simplify(h_out * w_out * filters * per_group * kh * kw)
        lines.append(f"MACs: {arith.factor_text(h_out)}·{arith.factor_text(w_out)}·{filters}·{per_group}·{kh}·{kw} = {fmt(macs)}")
        return Inference((h_out, w_out, filters), params, 0, macs, lines, self.rf_step(pads), dropped)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        kh, kw = self.kernel
        shapes = {"weight": (kh, kw, inputs[0][2] // self.groups, self.filters)}
        if has_bias(self):
            shapes["bias"] = (self.filters,)
        return shapes

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        x = kernels.pad_spatial(inputs[0], self.pads_for(inputs[0]))
        weight = weights["weight"][::-1, ::-1] if self.flip else weights["weight"]  # flip: true convolution
        y = kernels.correlate(x, weight, self.stride, self.dilation, out_shape[:2], self.groups)
        if "bias" in weights:
            y = y + weights["bias"]
        return kernels.activate(self.activation, y)


class DepthwiseConv(_Windowed):
    type_name = "depthwise_conv"
    fields = {**_WINDOW_FIELDS, "multiplier": Field(positive_int, 1)}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        _, _, channels, (h_out, w_out), lines, pads, dropped = self.spatial(inputs[0])
        channels = self.numeric_channels(channels)
        kh, kw = self.kernel
        m = self.multiplier
        bias = has_bias(self)
        params = kh * kw * channels * m + channels * m * bias
        lines.append(f"params: {kh}·{kw}·{channels}·{m}" + (f" + {channels}·{m}" if bias else "")
                     + f" = {fmt(params)}")
        macs = arith.simplify(h_out * w_out * channels * m * kh * kw)
        lines.append(f"MACs: {arith.factor_text(h_out)}·{arith.factor_text(w_out)}·{channels}·{m}·{kh}·{kw} = {fmt(macs)}")
        return Inference((h_out, w_out, channels * m), params, 0, macs, lines, self.rf_step(pads), dropped)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        kh, kw = self.kernel
        channels = inputs[0][2]
        shapes = {"weight": (kh, kw, channels, self.multiplier)}
        if has_bias(self):
            shapes["bias"] = (channels * self.multiplier,)
        return shapes

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        y = depthwise(self, inputs[0], weights["weight"], out_shape)
        if "bias" in weights:
            y = y + weights["bias"]
        return kernels.activate(self.activation, y)


def depthwise(layer: _Windowed, x: Any, weight: Any, out_shape: Shape) -> Any:
    """Each input channel with its own ``multiplier`` filters; output channel ``c·m + j`` as in Keras."""
    import numpy as np

    from ..maths import kernels

    win = kernels.windows(kernels.pad_spatial(x, layer.pads_for(x)), layer.kernel, layer.stride, layer.dilation,
                          out_shape[:2])
    y = np.einsum("nhwcij,ijcm->nhwcm", win, weight, optimize=True)
    return y.reshape(y.shape[0], y.shape[1], y.shape[2], -1)


class SeparableConv(_Windowed):
    type_name = "separable_conv"
    fields = {
        "filters": Field(positive_int, doc="the number of filters, a positive integer"),
        **_WINDOW_FIELDS,
        "multiplier": Field(positive_int, 1),
        "pointwise_weight": Field(numeric_array, None),
    }

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        _, _, channels, (h_out, w_out), lines, pads, dropped = self.spatial(inputs[0])
        channels = self.numeric_channels(channels)
        kh, kw = self.kernel
        m, filters = self.multiplier, self.filters
        bias = has_bias(self)
        params = kh * kw * channels * m + channels * m * filters + filters * bias
        lines.append(f"params: {kh}·{kw}·{channels}·{m} + {channels}·{m}·{filters}"
                     + (f" + {filters}" if bias else "") + f" = {fmt(params)}")
        macs = arith.simplify(h_out * w_out * channels * m * (kh * kw + filters))
        lines.append(f"MACs: {arith.factor_text(h_out)}·{arith.factor_text(w_out)}·{channels}·{m}·({kh}·{kw} + {filters}) = {fmt(macs)}")
        return Inference((h_out, w_out, filters), params, 0, macs, lines, self.rf_step(pads), dropped)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        kh, kw = self.kernel
        channels = inputs[0][2]
        shapes = {"weight": (kh, kw, channels, self.multiplier),
                  "pointwise_weight": (channels * self.multiplier, self.filters)}
        if has_bias(self):
            shapes["bias"] = (self.filters,)
        return shapes

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        y = depthwise(self, inputs[0], weights["weight"], out_shape) @ weights["pointwise_weight"]
        if "bias" in weights:
            y = y + weights["bias"]
        return kernels.activate(self.activation, y)


class ConvTranspose(_Windowed):
    type_name = "conv_transpose"
    fields = {
        "filters": Field(positive_int, doc="the number of filters, a positive integer"),
        **_WINDOW_FIELDS,
        "output_padding": Field(pair_of(nonneg_int, "a non-negative integer"), (0, 0)),
    }

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        if options["padding"][0] == "full":
            raise SpecError("'full' padding is not defined for conv_transpose", field="padding",
                            got="full", expected="an int, a pair, 'valid' or 'same'")
        for op, s, d in zip(options["output_padding"], options["stride"], options["dilation"]):
            if op >= max(s, d):
                raise SpecError("output_padding must be smaller than the stride or the dilation",
                                field="output_padding", got=list(options["output_padding"]),
                                expected=f"less than max(stride, dilation) = {max(s, d)}")

    def transpose_pads(self) -> list[tuple[int, int]]:
        if self.padding[0] == "explicit":
            return [self.padding[1], self.padding[2]]
        pads = []  # 'same' (Keras): out = n·s, so the crop totals span − s
        for k, d, s in zip(self.kernel, self.dilation, self.stride):
            total = arith.effective_kernel(k, d) - s
            if total < 0:
                raise ShapeError("'same' needs a kernel span of at least the stride", field="padding",
                                 got=arith.effective_kernel(k, d), expected=f"at least {s}")
            pads.append((total // 2, total - total // 2))
        return pads

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        height, width, channels = self.require_spatial(inputs[0])
        channels = self.numeric_channels(channels)
        pads = self.transpose_pads()
        outs, lines = [], []
        for axis, n, k, s, (pb, pa), op, d in zip("HW", (height, width), self.kernel, self.stride, pads,
                                                  self.output_padding, self.dilation):
            out = arith.simplify(arith.transpose_output(n, k, s, pb, pa, op, d))
            if arith.known_positive(out) is False:
                raise ShapeError(f"output size along {axis} is not positive", got=out, expected="at least 1")
            kernel_text = f"{k}−1" if d == 1 else f"{d}·({k}−1)"
            lines.append(f"{axis}: ({n}−1)·{s} − {pb} − {pa} + {kernel_text} + {op} + 1 = {out}")
            outs.append(out)
        kh, kw = self.kernel
        filters = self.filters
        bias = has_bias(self)
        params = kh * kw * channels * filters + filters * bias
        lines.append(f"params: {kh}·{kw}·{channels}·{filters}" + (f" + {filters}" if bias else "")
                     + f" = {fmt(params)}")
        # every input pixel is scattered through the whole kernel
        macs = arith.simplify(height * width * channels * kh * kw * filters)
        lines.append(f"MACs: {arith.factor_text(height)}·{arith.factor_text(width)}·{channels}·{kh}·{kw}·{filters} = {fmt(macs)} (input-side count)")
        rf = [("transpose", arith.effective_kernel(k, d), s, pad[0])
              for k, d, s, pad in zip(self.kernel, self.dilation, self.stride, pads)]
        return Inference((outs[0], outs[1], filters), params, 0, macs, lines, rf)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        kh, kw = self.kernel
        shapes = {"weight": (kh, kw, inputs[0][2], self.filters)}
        if has_bias(self):
            shapes["bias"] = (self.filters,)
        return shapes

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        """Zeros between input pixels, pad by span − 1 − p, then correlate with the flipped kernel."""
        from ..maths import kernels

        x = kernels.dilate_input(inputs[0], self.stride)
        pads = []
        for k, d, (before, after), op in zip(self.kernel, self.dilation, self.transpose_pads(), self.output_padding):
            span = arith.effective_kernel(k, d)
            pads.append((span - 1 - before, span - 1 - after + op))
        x = kernels.pad_spatial(x, pads)
        y = kernels.correlate(x, weights["weight"][::-1, ::-1], (1, 1), self.dilation, out_shape[:2])
        if "bias" in weights:
            y = y + weights["bias"]
        return kernels.activate(self.activation, y)
