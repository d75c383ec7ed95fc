"""Convolution family: conv, depthwise_conv, separable_conv, conv_transpose."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import ShapeError, SpecError
from ..maths import arith
from .base import (
    AXIS_NAMES,
    PADDING_MODES,
    Field,
    Inference,
    InlineArray,
    Layer,
    Padding,
    Saved,
    Shape,
    Sizes,
    Uniform,
    activation_name,
    activation_saved,
    bias_field,
    boolean,
    check_padding_mode,
    choice,
    count,
    explicit_pairs,
    fmt,
    nonneg_int,
    numeric_array,
    padding,
    padding_pairs,
    positive_int,
    same_text,
    saved_window_input,
    sizes,
    sizes_of,
    window_output,
)

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


def has_bias(layer: _Windowed) -> int:
    return 0 if layer.bias is False else 1


def _ranked(base: str) -> dict[str, int]:
    return {f"{base}{rank}d": rank for rank in (1, 2, 3)}


def product_text(values: Sequence[Any]) -> str:
    return "·".join(arith.factor_text(v) for v in values)


class _Windowed(Layer):
    """Shared fields and sliding-window geometry of the convolutions (not a layer type itself)."""

    fields = {
        "kernel": Field(sizes, doc="the kernel size, an int or a list with one per spatial axis"),
        "stride": Field(sizes, Uniform(1)),
        "padding": Field(padding, ("each", 0)),
        "dilation": Field(sizes, Uniform(1)),
        "bias": Field(bias_field, True),
        "activation": Field(activation_name, "none"),
        "weight": Field(numeric_array, None),
    }
    kernel: Sizes
    stride: Sizes
    padding: Padding
    dilation: Sizes
    bias: bool | InlineArray
    activation: str
    weight: InlineArray | None

    def geometry(self, rank: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        return self.axes("kernel", rank), self.axes("stride", rank), self.axes("dilation", rank)

    def spatial(self, shape: Shape) -> tuple[tuple[Any, ...], Any, list[Any], list[str], list[tuple[Any, Any]],
                                             list[Any]]:
        dims, channels = self.spatial_input(shape)
        rank = len(dims)
        kernel, stride, dilation = self.geometry(rank)
        pads, _ = padding_pairs(self.padding, dims, kernel, stride, dilation)
        outs, lines = [], []
        dropped_pixels = []
        for axis, n, k, s, pad, d in zip(AXIS_NAMES[rank], dims, kernel, stride, pads, dilation):
            out, text, dropped = window_output(self, axis, n, k, s, pad, d)
            outs.append(out)
            lines.append(text)
            dropped_pixels.append(dropped)
        if self.padding[0] == "same":
            lines.append("padding 'same' (TensorFlow rule): out = ⌈n/s⌉, pads " + same_text(pads, AXIS_NAMES[rank]))
        return dims, channels, outs, lines, pads, dropped_pixels

    def pads_for(self, x: Any) -> list[tuple[int, int]]:
        rank = x.ndim - 2
        kernel, stride, dilation = self.geometry(rank)
        pads, _ = padding_pairs(self.padding, x.shape[1:-1], kernel, stride, dilation)
        return pads

    def scratch_size(self, inputs: Sequence[Shape], out_shape: Shape) -> int:
        # the im2col copy of every window (large maps go tap by tap and need less)
        kernel = self.axes("kernel", len(out_shape) - 1)
        return int(arith.product(int(d) for d in out_shape[:-1])) * int(inputs[0][-1]) * int(arith.product(kernel))

    def bias_count(self, out_shape: Shape) -> int:
        return int(out_shape[-1]) * has_bias(self)

    def saved_input(self, shape: Shape) -> Saved:
        # PyTorch's conv pads inside its kernel only by the same amount on both sides
        return saved_window_input(self, shape, lambda pads, kernel: all(b == a for b, a in pads))

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        return [self.saved_input(inputs[0]), *activation_saved(self.activation, output, fused=True)]

    def rf_step(self, pads: list[tuple[Any, Any]]) -> list[tuple[int, int, Any, int]]:
        kernel, stride, dilation = self.geometry(len(pads))
        return [(arith.effective_kernel(k, d), s, pad[0], d) for k, d, s, pad in zip(kernel, dilation, stride, pads)]


class Conv(_Windowed):
    type_name = "conv"
    type_names = ("conv", *_ranked("conv"))
    rank_of_type = _ranked("conv")
    fields = {
        "filters": Field(positive_int, doc="the number of filters, a positive integer"),
        **_Windowed.fields,
        "groups": Field(positive_int, 1),
        "flip": Field(boolean, False),
        "padding_mode": Field(choice(*PADDING_MODES), "zeros", doc="how the border is filled (PyTorch's)"),
    }
    filters: int
    groups: int
    flip: bool
    padding_mode: str

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        if options["filters"] % options["groups"]:
            raise SpecError("filters must be divisible by groups", field="groups", got=options["groups"],
                            expected=f"a divisor of filters={options['filters']}")

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        dims, channels, outs, lines, pads, dropped = self.spatial(inputs[0])
        lines += check_padding_mode(self.padding_mode, pads, dims)
        channels = self.numeric_channels(channels)
        groups, filters = self.groups, self.filters
        if channels % groups:
            raise ShapeError("input channels must be divisible by groups", field="groups", got=groups,
                             expected=f"a divisor of the {channels} input channels")
        kernel = self.axes("kernel", len(outs))
        per_group = channels // groups
        bias = has_bias(self)
        params = arith.product(kernel) * per_group * filters + filters * bias
        c_text = f"({channels}/{groups})" if groups > 1 else f"{channels}"
        lines.append(f"params: {product_text(kernel)}·{c_text}·{filters}" + (f" + {filters}" if bias else "")
                     + f" = {fmt(params)}")
        macs = arith.simplify(arith.product(outs) * filters * per_group * arith.product(kernel))
        lines.append(f"MACs: {product_text(outs)}·{filters}·{per_group}·{product_text(kernel)} = {fmt(macs)}")
        return Inference((*outs, filters), params, 0, macs, lines, self.rf_step(pads), dropped)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        kernel = self.axes("kernel", len(inputs[0]) - 1)
        shapes = {"weight": (*kernel, inputs[0][-1] // self.groups, self.filters)}
        if has_bias(self):
            shapes["bias"] = (self.filters,)
        return shapes

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        x = kernels.pad_spatial(inputs[0], self.pads_for(inputs[0]), mode=self.padding_mode)
        rank = x.ndim - 2
        weight = weights["weight"]
        if self.flip:  # true convolution
            weight = weight[(slice(None, None, -1),) * rank]
        _, stride, dilation = self.geometry(rank)
        y = kernels.correlate(x, weight, stride, dilation, out_shape[:-1], self.groups)
        if "bias" in weights:
            y = y + weights["bias"]
        return kernels.activate(self.activation, y)


class DepthwiseConv(_Windowed):
    type_name = "depthwise_conv"
    fields = {**_Windowed.fields, "multiplier": Field(positive_int, 1)}
    multiplier: int

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        _, channels, outs, lines, pads, dropped = self.spatial(inputs[0])
        channels = self.numeric_channels(channels)
        kernel = self.axes("kernel", len(outs))
        m = self.multiplier
        bias = has_bias(self)
        params = arith.product(kernel) * channels * m + channels * m * bias
        lines.append(f"params: {product_text(kernel)}·{channels}·{m}" + (f" + {channels}·{m}" if bias else "")
                     + f" = {fmt(params)}")
        macs = arith.simplify(arith.product(outs) * channels * m * arith.product(kernel))
        lines.append(f"MACs: {product_text(outs)}·{channels}·{m}·{product_text(kernel)} = {fmt(macs)}")
        return Inference((*outs, channels * m), params, 0, macs, lines, self.rf_step(pads), dropped)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        kernel = self.axes("kernel", len(inputs[0]) - 1)
        channels = inputs[0][-1]
        shapes = {"weight": (*kernel, channels, self.multiplier)}
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
    from ..maths import kernels

    rank = x.ndim - 2
    channels, multiplier = weight.shape[-2:]
    # a grouped convolution with one group per channel: weight [k..., 1, C·m], filter c·m + j
    grouped = weight.reshape(*weight.shape[:-2], 1, channels * multiplier)
    _, stride, dilation = layer.geometry(rank)
    return kernels.correlate(kernels.pad_spatial(x, layer.pads_for(x)), grouped, stride, dilation,
                             out_shape[:-1], groups=channels)


class SeparableConv(_Windowed):
    type_name = "separable_conv"
    fields = {
        "filters": Field(positive_int, doc="the number of filters, a positive integer"),
        **_Windowed.fields,
        "multiplier": Field(positive_int, 1),
        "pointwise_weight": Field(numeric_array, None),
    }
    filters: int
    multiplier: int
    pointwise_weight: InlineArray | None

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        middle = (*output[:-1], inputs[0][-1] * self.multiplier)
        return [self.saved_input(inputs[0]),
                Saved("own", "its pointwise conv keeps the depthwise output (input)", elements=count(middle)),
                *activation_saved(self.activation, output, fused=True)]

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        _, channels, outs, lines, pads, dropped = self.spatial(inputs[0])
        channels = self.numeric_channels(channels)
        kernel = self.axes("kernel", len(outs))
        m, filters = self.multiplier, self.filters
        bias = has_bias(self)
        params = arith.product(kernel) * channels * m + channels * m * filters + filters * bias
        lines.append(f"params: {product_text(kernel)}·{channels}·{m} + {channels}·{m}·{filters}"
                     + (f" + {filters}" if bias else "") + f" = {fmt(params)}")
        macs = arith.simplify(arith.product(outs) * channels * m * (arith.product(kernel) + filters))
        lines.append(f"MACs: {product_text(outs)}·{channels}·{m}·({product_text(kernel)} + {filters}) = {fmt(macs)}")
        return Inference((*outs, filters), params, 0, macs, lines, self.rf_step(pads), dropped)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        kernel = self.axes("kernel", len(inputs[0]) - 1)
        channels = inputs[0][-1]
        shapes = {"weight": (*kernel, channels, self.multiplier),
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


def transpose_reach(k: int, s: int, d: int) -> int:
    """Pixels of the layer below one output pixel of a transposed convolution reads, at most.

    Output ``o`` takes input ``i`` through tap ``t`` when ``i·s = o + p − t·d``: the taps that land on
    whole input pixels form a progression of step ``s/g`` (``g = gcd(s, d)``), at most ``⌈k·g/s⌉`` of
    them, ``d/g`` input pixels apart. Without dilation this is ``⌈k/s⌉`` (= ``⌈k_eff/s⌉``).

    >>> transpose_reach(2, 2, 1), transpose_reach(3, 2, 1), transpose_reach(4, 1, 1), transpose_reach(3, 2, 2)
    (1, 2, 4, 3)
    """
    g = math.gcd(s, d)
    taps = -(-k * g // s)
    return (taps - 1) * (d // g) + 1


class ConvTranspose(_Windowed):
    type_name = "conv_transpose"
    type_names = ("conv_transpose", *_ranked("conv_transpose"))
    rank_of_type = _ranked("conv_transpose")
    fields = {
        "filters": Field(positive_int, doc="the number of filters, a positive integer"),
        **_Windowed.fields,
        "output_padding": Field(sizes_of(nonneg_int, "a non-negative integer"), Uniform(0)),
        "groups": Field(positive_int, 1),
    }
    filters: int
    output_padding: Sizes
    groups: int

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        if options["padding"][0] == "full":
            raise SpecError("'full' padding is not defined for conv_transpose", field="padding",
                            got="full", expected="an int, a list, 'valid' or 'same'")
        if options["filters"] % options["groups"]:
            raise SpecError("filters must be divisible by groups", field="groups", got=options["groups"],
                            expected=f"a divisor of filters={options['filters']}")

    def transpose_pads(self, rank: int) -> list[tuple[int, int]]:
        kernel, stride, dilation = self.geometry(rank)
        if self.padding[0] != "same":
            return explicit_pairs(self.padding, rank)
        pads = []  # 'same' (Keras): out = n·s, so the crop totals span − s
        for k, d, s in zip(kernel, dilation, stride):
            total = arith.effective_kernel(k, d) - s
            if total < 0:
                raise ShapeError("'same' needs a kernel span of at least the stride", field="padding",
                                 got=arith.effective_kernel(k, d), expected=f"at least {s}")
            pads.append((total // 2, total - total // 2))
        return pads

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        # (its padding crops the output: the input is read as it is)
        return [Saved("input", "conv_transpose keeps its input (input)"),
                *activation_saved(self.activation, output, fused=True)]

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        dims, channels = self.spatial_input(inputs[0])
        channels = self.numeric_channels(channels)
        rank = len(dims)
        kernel, stride, dilation = self.geometry(rank)
        output_padding = self.axes("output_padding", rank)
        for op, s, d in zip(output_padding, stride, dilation):
            if op >= max(s, d):
                raise ShapeError("output_padding must be smaller than the stride or the dilation",
                                 field="output_padding", got=list(output_padding),
                                 expected=f"less than max(stride, dilation) = {max(s, d)}")
        groups = self.groups
        if channels % groups:
            raise ShapeError("input channels must be divisible by groups", field="groups", got=groups,
                             expected=f"a divisor of the {channels} input channels")
        pads = self.transpose_pads(rank)
        outs, lines = [], []
        for axis, n, k, s, (pb, pa), op, d in zip(AXIS_NAMES[rank], dims, kernel, stride, pads, output_padding,
                                                  dilation):
            out = arith.simplify(arith.transpose_output(n, k, s, pb, pa, op, d))
            if arith.known_positive(out) is False:
                raise ShapeError(f"output size along {axis} is not positive", got=out, expected="at least 1")
            kernel_text = f"{k}−1" if d == 1 else f"{d}·({k}−1)"
            lines.append(f"{axis}: ({n}−1)·{s} − {arith.factor_text(pb)} − {arith.factor_text(pa)} + {kernel_text} + "
                         f"{op} + 1 = {out}")
            outs.append(out)
        filters = self.filters
        per_group = filters // groups
        bias = has_bias(self)
        params = arith.product(kernel) * channels * per_group + filters * bias
        f_text = f"({filters}/{groups})" if groups > 1 else f"{filters}"
        lines.append(f"params: {product_text(kernel)}·{channels}·{f_text}" + (f" + {filters}" if bias else "")
                     + f" = {fmt(params)}")
        # every input pixel is scattered through the whole kernel
        macs = arith.simplify(arith.product(dims) * channels * arith.product(kernel) * per_group)
        lines.append(f"MACs: {product_text(dims)}·{channels}·{product_text(kernel)}·{per_group} = {fmt(macs)} "
                     "(input-side count)")
        rf = [("transpose", transpose_reach(k, s, d), arith.effective_kernel(k, d), s, pad[0], k, d)
              for k, d, s, pad in zip(kernel, dilation, stride, pads)]
        return Inference((*outs, filters), params, 0, macs, lines, rf)

    def scratch_size(self, inputs: Sequence[Shape], out_shape: Shape) -> int:
        # the uncut output, and one tap's products
        rank = len(out_shape) - 1
        kernel, stride, dilation = self.geometry(rank)
        full = arith.product((int(n) - 1) * s + arith.effective_kernel(k, d) + op for n, k, s, d, op in
                             zip(inputs[0][:-1], kernel, stride, dilation, self.axes("output_padding", rank)))
        return int(full) * self.filters + int(arith.product(int(n) for n in inputs[0][:-1])) * self.filters

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        kernel = self.axes("kernel", len(inputs[0]) - 1)
        shapes = {"weight": (*kernel, inputs[0][-1], self.filters // self.groups)}
        if has_bias(self):
            shapes["bias"] = (self.filters,)
        return shapes

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        from ..maths import kernels

        rank = inputs[0].ndim - 2
        _, stride, dilation = self.geometry(rank)
        y = kernels.conv_transpose(inputs[0], weights["weight"], stride, dilation, self.transpose_pads(rank),
                                   self.axes("output_padding", rank), self.groups)
        if "bias" in weights:
            y = y + weights["bias"]
        return kernels.activate(self.activation, y)
