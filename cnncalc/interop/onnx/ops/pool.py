"""Pooling: MaxPool, AveragePool and the global pools (with the Flatten cnncalc's exporter writes after one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..graph import _cf
from ..registry import handles
from ..values import Tensor
from .common import _pads, _sizes

if TYPE_CHECKING:
    from ..importer import _Importer


@handles("MaxPool", "AveragePool", makes=("maxpool", "avgpool"))
def _pool(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if len(node.output) > 1 and node.output[1]:
        raise im.fail("MaxPool's indices output is not supported")
    x = im.cf_input(node.input[0])
    kernel = attrs.get("kernel_shape")
    if not kernel:
        raise im.fail("pooling without kernel_shape")
    rank = len(kernel)
    fields: dict[str, Any] = {"kernel": _sizes(kernel), "stride": _sizes(attrs.get("strides", [1] * rank)),
                              "padding": _pads(attrs, rank, im, im.shapes[x][:-1], kernel)}
    if attrs.get("ceil_mode", 0):
        fields["ceil_mode"] = True
    if any(d != 1 for d in attrs.get("dilations", [1] * rank)):
        fields["dilation"] = _sizes(attrs["dilations"])
    if node.op_type == "AveragePool":
        fields["count_include_pad"] = bool(attrs.get("count_include_pad", 0))
        kind = "avgpool"
    else:
        kind = "maxpool"
    im.finish(node, im.emit(kind, im.node_name(node), [x], **fields), _cf(rank + 1))


@handles("GlobalAveragePool", "GlobalMaxPool", makes=("global_avgpool", "global_maxpool"))
def _global_pool(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x = im.cf_input(node.input[0])
    kind = "global_avgpool" if node.op_type == "GlobalAveragePool" else "global_maxpool"
    rank = len(im.shapes[x])
    nxt = im.single_consumer(node.output[0])
    if nxt and nxt[1].op_type == "Flatten" and im.attrs(nxt[1]).get("axis", 1) == 1:
        im.done.add(nxt[0])
        # cnncalc's exporter writes a global pool without keepdims as <layer>/pool, then Flatten <layer>
        base = nxt[1].name if node.name and node.name == f"{nxt[1].name}/pool" else im.node_name(node)
        layer = im.emit(kind, base, [x])
        im.values[nxt[1].output[0]] = Tensor(layer, (0,))
        return
    layer = im.emit(kind, im.node_name(node), [x], keepdims=True)
    im.finish(node, layer, _cf(rank))
