"""Convolutions: Conv (a depthwise or separable conv where its groups say so) and ConvTranspose."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..graph import _cf
from ..registry import handles
from ..values import _is_const, np
from .common import _pads, _sizes

if TYPE_CHECKING:
    from ..importer import _Importer


def _groups(im: _Importer, attrs: dict[str, Any], channels: Any, filters: int) -> int:
    """Attribute 'group', checked against the channels and filters it splits (group=0 imported as an
    ungrouped conv)."""
    groups = int(attrs.get("group", 1))
    known = isinstance(channels, int)
    if groups < 1 or known and (channels % groups or filters % groups):
        raise im.fail("attribute 'group' must divide the input channels and the filters", got=groups,
                      expected=f"a positive divisor of both {channels} and {filters}" if known
                      else "a positive integer")
    return groups


def _weight_channels(im: _Importer, weight: Any, axis: int, channels: Any) -> None:
    """The weight's input channels (axis 1 of a Conv's, per group; axis 0 of a ConvTranspose's) against the
    input's: a mismatch imported a layer whose weights cannot run."""
    if isinstance(channels, int) and int(weight.shape[axis]) != channels:
        raise im.fail(f"the weight {list(weight.shape)} does not fit the input's channels: axis {axis} holds "
                      f"{int(weight.shape[axis])}", got=int(weight.shape[axis]), expected=channels)


@handles("Conv", makes=("conv", "depthwise_conv", "separable_conv"))
def _conv(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x = im.cf_input(node.input[0])
    weight = im.const(node.input[1], "weight")
    if weight.ndim < 3:
        raise im.fail("conv weight must have a kernel", got=list(weight.shape))
    rank = weight.ndim - 2
    channels = im.shapes[x][-1]
    groups = _groups(im, attrs, channels, int(weight.shape[0]))
    _weight_channels(im, weight, 1, channels // groups if isinstance(channels, int) else channels)
    fields: dict[str, Any] = {"kernel": _sizes(weight.shape[2:]), "stride": _sizes(attrs.get("strides", [1] * rank)),
                              "padding": _pads(attrs, rank, im, im.shapes[x][:-1], weight.shape[2:]),
                              "dilation": _sizes(attrs.get("dilations", [1] * rank))}
    pending = im.pending_pads.pop(node.input[0], None)
    if pending is not None:  # a reflect, edge or wrap Pad before it (shape.py's _pad checked this conv takes it)
        fields["padding"], fields["padding_mode"] = pending
    # a bias of zeros the exporter made (not a parameter: torch's unoptimised export of bias=False) is none
    bias = im.const(node.input[2], "bias") if len(node.input) > 2 and node.input[2] and \
        not im.fixed(node.input[2], 0.0, made=True) else None
    filters = weight.shape[0]
    if groups > 1 and groups == channels and filters % channels == 0 and bias is None and \
            _separable(im, node, x, weight, fields, channels):
        return
    if groups > 1 and groups == channels and filters % channels == 0:
        m = filters // channels
        fields["multiplier"] = m
        layer = im.emit("depthwise_conv", im.node_name(node), [x], **fields, bias=bias is not None)
        im.keep(f"{layer}.weight", lambda: _moved(im.loaded(weight), rank).reshape(*weight.shape[2:], channels, m))
    else:
        if groups > 1:
            fields["groups"] = groups
        layer = im.emit("conv", im.node_name(node), [x], filters=int(filters), **fields, bias=bias is not None)
        im.keep(f"{layer}.weight", lambda: _moved(im.loaded(weight), rank))
    if bias is not None:
        im.keep(f"{layer}.bias", lambda: bias)
    im.finish(node, layer, _cf(rank + 1), fusable=True)


def _moved(weight: np.ndarray, rank: int) -> np.ndarray:
    """A Conv weight [F, C/g, k...] as cnncalc's [k..., C/g, F]."""
    return weight.transpose(*range(2, 2 + rank), 1, 0)


def _separable(im: _Importer, node: Any, x: str, weight: Any, fields: dict[str, Any], channels: int) -> bool:
    """cnncalc's exporter writes separable_conv as ``<layer>/depthwise`` then a 1×1 ``<layer>``."""
    if not node.name.endswith("/depthwise"):
        return False
    nxt = im.single_consumer(node.output[0])
    if not nxt or nxt[1].op_type != "Conv" or nxt[1].name != node.name[: -len("/depthwise")]:
        return False
    point = im.values.get(nxt[1].input[1])
    attrs = im.attrs(nxt[1])
    if not _is_const(point) or point.ndim != weight.ndim or any(k != 1 for k in point.shape[2:]) \
            or attrs.get("group", 1) != 1 or any(s != 1 for s in attrs.get("strides", [])) \
            or any(p for p in attrs.get("pads", [])):
        return False
    rank = weight.ndim - 2
    bias = im.values.get(nxt[1].input[2]) if len(nxt[1].input) > 2 and nxt[1].input[2] else None
    if bias is not None and not _is_const(bias):
        return False
    point = im.const(nxt[1].input[1], "weight")  # an import reads the values now
    bias = None if bias is None else im.const(nxt[1].input[2], "bias")
    m = weight.shape[0] // channels
    im.done.add(nxt[0])
    im.node = nxt[1]
    layer = im.emit("separable_conv", im.node_name(nxt[1]), [x], filters=int(point.shape[0]), **fields,
                    multiplier=m, bias=bias is not None)
    im.keep(f"{layer}.weight", lambda: _moved(im.loaded(weight), rank).reshape(*weight.shape[2:], channels, m))
    im.keep(f"{layer}.pointwise_weight", lambda: im.loaded(point).reshape(point.shape[0], point.shape[1]).T.copy())
    if bias is not None:
        im.keep(f"{layer}.bias", lambda: bias)
    im.finish(nxt[1], layer, _cf(rank + 1), fusable=True)
    return True


def _transpose_pads(im: _Importer, attrs: dict[str, Any], dims: Any, kernel: Any) -> Any:
    """The pads an ``output_shape`` stands for, as onnxruntime works them out: the total
    ``s·(n − 1) + output_padding + d·(k − 1) + 1 − out``, the odd pixel at the start (at the end with
    SAME_UPPER; checked against onnxruntime 1.32); an output larger than the unpadded one is refused (onnxruntime pads it with zeros)."""
    rank = len(kernel)
    shape = [int(v) for v in attrs["output_shape"]][-rank:]
    strides = [int(v) for v in attrs.get("strides", [1] * rank)]
    dilations = [int(v) for v in attrs.get("dilations", [1] * rank)]
    extra = [int(v) for v in attrs.get("output_padding", [0] * rank)]
    if len(shape) != rank or not all(isinstance(n, int) for n in dims):
        raise im.fail("attribute 'output_shape' needs one size per spatial axis and numeric input sizes",
                      got=list(attrs["output_shape"]))
    auto = attrs.get("auto_pad", b"NOTSET")
    upper = (auto.decode(errors="replace") if isinstance(auto, bytes) else auto) == "SAME_UPPER"
    pads_before, pads_after = [], []
    for n, k, s, d, e, out in zip(dims, kernel, strides, dilations, extra, shape):
        total = s * (n - 1) + e + d * (int(k) - 1) + 1 - out
        if total < 0:
            raise im.fail(f"attribute 'output_shape' = {list(attrs['output_shape'])} is larger than the transposed "
                          "conv's output without padding", got=out, expected=f"at most {out + total}")
        before = total // 2 if upper else total - total // 2
        pads_before.append(before)
        pads_after.append(total - before)
    return _pads({"pads": pads_before + pads_after}, rank, im)


@handles("ConvTranspose", makes=("conv_transpose",))
def _conv_transpose(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x = im.cf_input(node.input[0])
    weight = im.const(node.input[1], "weight")  # [C_in, F/g, k...]
    if weight.ndim < 3:
        raise im.fail("conv weight must have a kernel", got=list(weight.shape))
    rank = weight.ndim - 2
    channels = im.shapes[x][-1]
    groups = _groups(im, attrs, channels, int(weight.shape[1]) * max(int(attrs.get("group", 1)), 1))
    _weight_channels(im, weight, 0, channels)
    if "output_shape" in attrs:
        padding = _transpose_pads(im, attrs, im.shapes[x][:-1], weight.shape[2:])
    else:
        padding = _pads(attrs, rank, im)
    if padding == "same" or padding != 0 and "auto_pad" in attrs and "output_shape" not in attrs \
            and attrs["auto_pad"] not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise im.fail(f"attribute 'auto_pad' = {attrs['auto_pad']!r} on a ConvTranspose without output_shape is "
                      "not supported", expected="explicit pads (or output_shape)")
    fields: dict[str, Any] = {"filters": int(weight.shape[1] * groups), "kernel": _sizes(weight.shape[2:]),
                              "stride": _sizes(attrs.get("strides", [1] * rank)), "padding": padding,
                              "dilation": _sizes(attrs.get("dilations", [1] * rank)),
                              "output_padding": _sizes(attrs.get("output_padding", [0] * rank))}
    if groups > 1:
        fields["groups"] = groups
    bias = im.const(node.input[2], "bias") if len(node.input) > 2 and node.input[2] else None
    layer = im.emit("conv_transpose", im.node_name(node), [x], **fields, bias=bias is not None)
    im.keep(f"{layer}.weight", lambda: im.loaded(weight).transpose(*range(2, 2 + rank), 0, 1))
    if bias is not None:
        im.keep(f"{layer}.bias", lambda: bias)
    im.finish(node, layer, _cf(rank + 1), fusable=True)
