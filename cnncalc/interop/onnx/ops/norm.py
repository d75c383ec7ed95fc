"""Normalisation: BatchNormalization, LRN and LayerNormalization."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..graph import _cf, _identity
from ..registry import handles
from ..values import np
from .common import _axis, _broadcasts, f32

if TYPE_CHECKING:
    from ..importer import _Importer


@handles("BatchNormalization", makes=("batchnorm",))
def _batchnorm(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if len([o for o in node.output if o]) > 1:
        raise im.fail("BatchNormalization in training mode is not supported")
    x = im.cf_input(node.input[0])
    gamma, beta, mean, var = (im.const(n, what) for n, what in zip(node.input[1:5], ("scale", "bias", "mean", "var")))
    # PyTorch (where most ONNX files come from) keeps the moving statistics out of its parameter count;
    # cnncalc's exporter says in the node's doc_string which count the spec used
    counts = "count_stats: true" in node.doc_string
    layer = im.emit("batchnorm", im.node_name(node), [x], epsilon=f32(attrs.get("epsilon", 1e-5)),
                    count_stats=counts)
    for key, value in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var)):
        im.keep(f"{layer}.{key}", lambda value=value: value)
    im.finish(node, layer, _cf(len(im.shapes[x])))


@handles("LRN", makes=("lrn",))
def _lrn(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x = im.cf_input(node.input[0])
    layer = im.emit("lrn", im.node_name(node), [x], size=int(attrs["size"]), alpha=f32(attrs.get("alpha", 1e-4)),
                    beta=f32(attrs.get("beta", 0.75)), k=f32(attrs.get("bias", 1.0)))
    im.finish(node, layer, _cf(len(im.shapes[x])))


@handles("LayerNormalization", makes=("layernorm",))
def _layernorm(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    axis = _axis(im, attrs, "axis", -1, rank + 1)
    if axis == 0:
        raise im.fail("LayerNormalization over the batch axis is not supported")
    x = im.same_input(node.input[0])
    axes = list(range(axis - 1, rank))
    fields: dict[str, Any] = {"axis": -1 if axes == [rank - 1] else axes, "epsilon": f32(attrs.get("epsilon", 1e-5))}
    # a scale of ones or a bias of zeros that is not a parameter is no parameter (:meth:`_Importer.fixed`)
    has_gamma = not im.fixed(node.input[1], 1.0)
    has_beta = len(node.input) > 2 and bool(node.input[2]) and not im.fixed(node.input[2], 0.0)
    if not has_beta:
        fields["center"] = False
    if not has_gamma:
        fields["scale"] = False
    layer = im.emit("layernorm", im.node_name(node), [x], **fields)
    dims = tuple(int(d) for d in im.shapes[x][axis - 1:])
    for index, key, what in [(1, "gamma", "scale")] * has_gamma + [(2, "beta", "bias")] * has_beta:
        value = im.const(node.input[index], what)
        if not _broadcasts(tuple(value.shape), dims):
            raise im.fail(f"{what} has shape {list(value.shape)}", expected=f"{list(dims)} or a shape that broadcasts to it")
        im.keep(f"{layer}.{key}", lambda value=value: np.broadcast_to(value, dims).copy())
    im.finish(node, layer, _identity(rank))
