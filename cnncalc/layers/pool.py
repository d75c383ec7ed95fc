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
        outs, lines = [], []
        for axis, n, k, s, pad in zip("HW", (height, width), self.kernel, self.stride, pads):
            out, text = window_output(self, axis, n, k, s, pad, 1, ceil_mode=self.ceil_mode)
            outs.append(out)
            lines.append(text)
        if self.padding[0] == "same":
            lines.append(f"padding 'same' (TensorFlow rule): pads (top, bottom) = {pads[0]}, "
                         f"(left, right) = {pads[1]}")
        lines.append("params: 0 (pooling has no weights)")
        rf = [(k, s, pad[0]) for k, s, pad in zip(self.kernel, self.stride, pads)]
        return Inference((outs[0], outs[1], channels), 0, 0, 0, lines, rf)


class GlobalPool(Layer):
    type_names = ("global_maxpool", "global_avgpool")
    fields = {"keepdims": Field(boolean, False)}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        height, width, channels = self.require_spatial(inputs[0])
        shape = (1, 1, channels) if self.keepdims else (channels,)
        reduce = "max" if self.type == "global_maxpool" else "mean"
        return Inference(shape, explain=[f"{reduce} over all {height}·{width} positions of each channel"],
                         rf=None)
