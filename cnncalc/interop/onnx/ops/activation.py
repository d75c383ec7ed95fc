"""Activations: each an activation layer, or folded into the layer before it as its ``activation`` when
cnncalc's exporter wrote it as ``<layer>/<kind>`` right after that layer's node. Some are written as several
nodes (x·sigmoid(x) is silu; x·0.5·(1 + erf(x/√2)) is gelu) or as one node with one setting (Clip to [0, 6]
is relu6): :func:`match_activation` knows them all. Softmax (over an axis) and PRelu (learned slopes) have
settings of their own."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..registry import handles, matches
from ..values import Tensor, _is_const
from .common import _axis, f32

if TYPE_CHECKING:
    from ..importer import _Importer

SIMPLE = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish", "Mish": "mish",
          "Softplus": "softplus"}


@matches(*SIMPLE, "LeakyRelu", "Elu", "HardSigmoid", "Gelu", "Clip", "Div", "Mul", absorbs=("Erf",),
         makes=(*SIMPLE.values(), "silu", "gelu", "leaky_relu", "elu", "hardsigmoid", "relu6"))
def _activation(im: _Importer, position: int, node: Any) -> bool:
    activation = match_activation(im, position, node)
    if activation is None:
        return False
    kind, alpha, nodes = activation
    im.done.update(nodes)
    last = im.graph.node[nodes[-1]]
    t = im.tensor(node.input[0])
    fields = {"alpha": alpha} if alpha is not None else {}
    layer = im.emit(kind, im.node_name(last), [t.layer], **fields)
    im.values[last.output[0]] = Tensor(layer, t.perm)
    return True


def match_activation(im: _Importer, position: int, node: Any,
                     fused: bool = False) -> tuple[str, float | None, list[int]] | None:
    """(kind, alpha, the positions of its nodes) of the activation starting at ``node``; a Softmax counts only
    as a ``fused`` one (else it is a softmax layer over its axis)."""
    op = node.op_type
    if op == "Sigmoid":  # x · sigmoid(x) is silu
        nxt = im.single_consumer(node.output[0])
        if nxt and nxt[1].op_type == "Mul" and set(nxt[1].input) == {node.input[0], node.output[0]}:
            return "silu", None, [position, nxt[0]]
    if op == "Div" or op == "Mul":
        gelu = _match_gelu(im, position, node)
        if gelu:
            return "gelu", None, gelu
    if op in SIMPLE:
        return SIMPLE[op], None, [position]
    if op == "Softmax" and fused:
        return "softmax", None, [position]
    attrs = im.attrs(node) if op in ("LeakyRelu", "Elu", "HardSigmoid", "Gelu", "Clip") else {}
    if op == "LeakyRelu":
        return "leaky_relu", f32(attrs.get("alpha", 0.01)), [position]
    if op == "Elu" and math.isclose(attrs.get("alpha", 1.0), 1.0):
        return "elu", None, [position]
    if op == "HardSigmoid" and math.isclose(attrs.get("alpha", 0.2), 1 / 6, rel_tol=1e-5) and \
            math.isclose(attrs.get("beta", 0.5), 0.5):
        return "hardsigmoid", None, [position]
    if op == "Gelu" and attrs.get("approximate", b"none") in (b"none", "none"):
        return "gelu", None, [position]
    if op == "Clip":
        low, high = _clip_bounds(im, node, attrs)
        if low == 0 and high == 6:
            return "relu6", None, [position]
        if low == 0 and high is None:
            return "relu", None, [position]
    return None


def _clip_bounds(im: _Importer, node: Any, attrs: dict[str, Any]) -> tuple[float | None, float | None]:
    def bound(index: int, key: str) -> float | None:
        if len(node.input) > index and node.input[index]:
            scalar = _scalar(im, node.input[index])
            return math.nan if scalar is None else scalar
        return attrs.get(key)

    return bound(1, "min"), bound(2, "max")


def _scalar(im: _Importer, name: str) -> float | None:
    value = im.values.get(name)
    if _is_const(value) and value.size == 1 and getattr(value, "readable", True):
        return float(im.value(name).reshape(-1)[0])
    return None


def _match_gelu(im: _Importer, position: int, node: Any) -> list[int] | None:
    """x·0.5·(1 + erf(x/√2)), as torch.onnx writes the exact gelu before opset 20."""
    if len(node.input) != 2 or not isinstance(im.values.get(node.input[0]), Tensor):
        return None
    c = _scalar(im, node.input[1])
    if c is None or not (node.op_type == "Div" and math.isclose(c, math.sqrt(2), rel_tol=1e-4)
                         or node.op_type == "Mul" and math.isclose(c, 1 / math.sqrt(2), rel_tol=1e-4)):
        return None
    x = node.input[0]
    chain = [position]
    step = im.single_consumer(node.output[0])
    if not step or step[1].op_type != "Erf":
        return None
    chain.append(step[0])
    step = im.single_consumer(step[1].output[0])
    if not step or step[1].op_type != "Add" or not any(_scalar(im, i) == 1.0 for i in step[1].input):
        return None
    chain.append(step[0])
    step = im.single_consumer(step[1].output[0])
    if not step or step[1].op_type != "Mul" or x not in step[1].input:
        return None
    chain.append(step[0])
    step = im.single_consumer(step[1].output[0])
    if not step or step[1].op_type != "Mul" or not any(_scalar(im, i) == 0.5 for i in step[1].input):
        return None
    chain.append(step[0])
    return chain


def fuse_activation(im: _Importer, node: Any) -> tuple[str, list[int]] | None:
    """The activation cnncalc's exporter wrote as ``<layer>/<kind>`` right after the layer's node."""
    users = im.consumers.get(node.output[0], [])
    if not users or node.output[0] in im.outputs:
        return None
    match = match_activation(im, min(users), im.graph.node[min(users)], fused=True)
    if match is None or match[1] is not None or not set(users) <= set(match[2]):
        return None
    kind, _, nodes = match
    last = im.graph.node[nodes[-1]]
    if last.op_type == "Softmax" and kind == "softmax" and \
            int(im.attrs(last).get("axis", -1)) not in (-1, len(im.tensor(node.output[0]).perm)):
        return None
    if last.name != f"{node.name}/{kind}":
        return None
    return kind, nodes


@handles("Softmax", makes=("softmax",))
def _softmax(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    axis = _axis(im, attrs, "axis", -1, rank + 1)
    if axis == 0:
        raise im.fail("softmax over the batch axis is not supported")
    cn_axis = t.perm[axis - 1]
    layer = im.emit("softmax", im.node_name(node), [t.layer], axis=-1 if cn_axis == rank - 1 else cn_axis)
    im.finish(node, layer, t.perm)


@handles("PRelu", makes=("prelu",))
def _prelu(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    slope = im.const(node.input[1], "slope")
    layer = im.emit("prelu", im.node_name(node), [t.layer], alpha="single" if slope.size == 1 else "channel")
    im.keep(f"{layer}.weight", lambda: im.loaded(slope).reshape(-1))
    im.finish(node, layer, t.perm)
