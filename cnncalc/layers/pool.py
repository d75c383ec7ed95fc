"""Pooling family: maxpool, avgpool, global_maxpool, global_avgpool."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import SpecError
from .base import Field, Inference, Layer, Shape, boolean, padding, padding_pairs, size2, window_output


def _optional_size2(value: Any) -> Any:
    return None if value is None else size2(value)


class Pool(Layer):
    type_names = ("maxpool", "avgpool")
    fields = {
        "kernel": Field(size2, doc="the window size, an int or [kh, kw]"),
        "stride": Field(_optional_size2, None),
        "padding": Field(padding, ("explicit", (0, 0), (0, 0))),
        "ceil_mode": Field(boolean, False),
    }

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        if options["stride"] is None:
            options["stride"] = options["kernel"]
        pad = options["padding"]
        if pad[0] == "full":
            raise SpecError("'full' padding is not defined for pooling", field="padding", got="full",
                            expected="an int, a pair, 'valid' or 'same'")
        if pad[0] == "explicit":
            for (before, after), k in zip(pad[1:], options["kernel"]):
                if max(before, after) > k // 2:
                    raise SpecError("pooling padding must be at most half the window", field="padding",
                                    got=max(before, after), expected=f"at most {k // 2} for a window of {k}")
        if options["ceil_mode"] and pad[0] == "same":
            raise SpecError("ceil_mode cannot be combined with 'same' padding", field="ceil_mode", got=True,
                            expected="false with padding 'same'")

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        height, width, channels = self.require_spatial(inputs[0])
        dilation = (1, 1)
        pads, _ = padding_pairs(self.padding, (height, width), self.kernel, self.stride, dilation)
        outs, lines, dropped = [], [], []
        for axis, n, k, s, pad in zip("HW", (height, width), self.kernel, self.stride, pads):
            out, text, lost = window_output(self, axis, n, k, s, pad, 1, ceil_mode=self.ceil_mode)
            outs.append(out)
            lines.append(text)
            dropped.append(lost)
        if self.padding[0] == "same":
            lines.append(f"padding 'same' (TensorFlow rule): pads (top, bottom) = {pads[0]}, "
                         f"(left, right) = {pads[1]}")
        lines.append("params: 0 (pooling has no weights)")
        rf = [(k, s, pad[0]) for k, s, pad in zip(self.kernel, self.stride, pads)]
        return Inference((outs[0], outs[1], channels), 0, 0, 0, lines, rf, dropped)

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        """Max pads with −∞; average divides by the cells inside the input only (as Keras does)."""
        import numpy as np

        from ..maths import kernels

        x = inputs[0]
        pads, _ = padding_pairs(self.padding, x.shape[1:3], self.kernel, self.stride, (1, 1))
        extended = []  # ceil_mode windows may run past the right padding: pad those cells too
        for n, k, s, (before, after), out in zip(x.shape[1:3], self.kernel, self.stride, pads, out_shape[:2]):
            extended.append((before, max(after, (out - 1) * s + k - n - before)))
        args = (self.kernel, self.stride, (1, 1), out_shape[:2])
        if self.type == "maxpool":
            return kernels.windows(kernels.pad_spatial(x, extended, -np.inf), *args).max(axis=(4, 5))
        sums = kernels.windows(kernels.pad_spatial(x, extended), *args).sum(axis=(4, 5))
        inside = kernels.pad_spatial(np.ones((1,) + x.shape[1:3] + (1,), dtype=x.dtype), extended)
        return sums / kernels.windows(inside, *args).sum(axis=(4, 5))


class GlobalPool(Layer):
    type_names = ("global_maxpool", "global_avgpool")
    fields = {"keepdims": Field(boolean, False)}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        height, width, channels = self.require_spatial(inputs[0])
        shape = (1, 1, channels) if self.keepdims else (channels,)
        reduce = "max" if self.type == "global_maxpool" else "mean"
        return Inference(shape, explain=[f"{reduce} over all {height}·{width} positions of each channel"],
                         rf=None)

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        x = inputs[0]
        reduce = x.max if self.type == "global_maxpool" else x.mean
        return reduce(axis=(1, 2), keepdims=self.keepdims)
