"""Activations: each an activation layer, or folded into the layer before it as its ``activation`` when
cnncalc's exporter wrote it as ``<layer>/<kind>`` right after that layer's node. Some are written as several
nodes (x·sigmoid(x) is silu; x·0.5·(1 + erf(x/√2)) is gelu) or as one node with one setting (Clip to [0, 6]
is relu6): :func:`match_activation` knows them all. Softmax (over an axis) and PRelu (learned slopes) have
settings of their own."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ....errors import CnnCalcError
from ..registry import handles, matches
from ..values import Tensor, _is_const
from .common import _axis, f32

if TYPE_CHECKING:
    from ..importer import _Importer

SIMPLE = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish", "Mish": "mish",
          "Softplus": "softplus"}


#: operator types an activation written as several nodes may be made of (the pattern is tried from each)
GROUPED = ("Div", "Mul", "Add", "Erf", "Tanh", "Pow", "Sigmoid", "Softplus", "HardSigmoid")
SINGLE = ("LeakyRelu", "Elu", "Selu", "HardSigmoid", "Gelu", "Clip")
#: SELU's constants as ONNX's Selu defaults spell them in float32
SELU_ALPHA, SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875


@matches(*dict.fromkeys((*SIMPLE, *SINGLE, *GROUPED)), absorbs=("Erf", "Pow"),
         makes=(*SIMPLE.values(), "silu", "gelu", "leaky_relu", "elu", "hardsigmoid", "relu6", "selu", "clip"))
def _activation(im: _Importer, position: int, node: Any) -> bool:
    try:
        activation = match_activation(im, position, node)
    except CnnCalcError as error:
        if not (im.lenient and getattr(error, "not_exact", False)):
            raise
        im.unknown(node)  # --lenient: a flagged pass-through layer
        return True
    if activation is None:
        return False
    kind, fields, nodes, x = activation
    im.done.update(nodes)
    last = im.graph.node[nodes[-1]]
    t = im.tensor(x)
    layer = im.emit(kind, im.node_name(last), [t.layer], **fields)
    im.values[last.output[0]] = Tensor(layer, t.perm)
    return True


def match_activation(im: _Importer, position: int, node: Any,
                     fused: bool = False) -> tuple[str, dict[str, Any], list[int], str] | None:
    """(kind, fields, the positions of its nodes, last one last, and the name of its input) of the activation
    ``node`` belongs to; a Softmax counts only as a ``fused`` one (else it is a softmax layer over its axis).
    An activation written as several nodes (x·sigmoid(x), the two GELUs, mish, hardswish) is found from any of
    its nodes by data flow, whatever their order in the file. A setting cnncalc does not compute exactly is
    refused naming the attribute and its value (``--lenient``: a flagged layer)."""
    op = node.op_type
    if op in GROUPED:
        group = _group(im, position)
        if group is not None:
            return group
    if op in SIMPLE:
        return SIMPLE[op], {}, [position], node.input[0]
    if op == "Softmax" and fused:
        return "softmax", {}, [position], node.input[0]
    if op not in SINGLE:
        return None
    attrs = im.attrs(node)
    fields = _single(im, node, attrs)
    return None if fields is None else (fields.pop("type"), fields, [position], node.input[0])


def _single(im: _Importer, node: Any, attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The layer of one activation node with its settings (``type`` and fields)."""
    op = node.op_type
    if op == "LeakyRelu":
        return {"type": "leaky_relu", "alpha": f32(attrs.get("alpha", 0.01))}
    if op == "Elu":
        alpha = f32(attrs.get("alpha", 1.0))
        return {"type": "elu", **({"alpha": alpha} if alpha != 1.0 else {})}
    if op == "Selu":
        for key, default in (("alpha", SELU_ALPHA), ("gamma", SELU_GAMMA)):
            if key in attrs and not _same_f32(attrs[key], default):
                raise _refuse(im, key, attrs[key], f"SELU's {default} (cnncalc's selu has fixed constants)")
        return {"type": "selu"}
    if op == "HardSigmoid":
        alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
        if _same_f32(alpha, 1 / 6) and _same_f32(beta, 0.5):
            return {"type": "hardsigmoid"}  # PyTorch's: relu6(x + 3)/6
        return {"type": "hardsigmoid", "alpha": f32(alpha), "beta": f32(beta)}
    if op == "Gelu":
        approximate = attrs.get("approximate", b"none")
        approximate = approximate.decode(errors="replace") if isinstance(approximate, bytes) else str(approximate)
        if approximate not in ("none", "tanh"):
            raise _refuse(im, "approximate", approximate, "none or tanh")
        return {"type": "gelu", **({"approximate": "tanh"} if approximate == "tanh" else {})}
    if op == "Clip":
        low, high = _clip_bounds(im, node, attrs)
        for key, bound in (("min", low), ("max", high)):
            if bound is not None and math.isnan(bound):
                raise _refuse(im, key, "a computed value", "a constant bound")
        if low == 0 and high == 6:
            return {"type": "relu6"}
        if low == 0 and high is None:
            return {"type": "relu"}
        if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
            key = "min" if low is None or not math.isfinite(low) else "max"
            raise _refuse(im, key, "none" if (low if key == "min" else high) is None else
                          (low if key == "min" else high), "finite bounds on both sides (cnncalc's clip)")
        return {"type": "clip", "min": f32(low), "max": f32(high)}
    return None


def _refuse(im: _Importer, attribute: str, value: Any, expected: str) -> Exception:
    """An attribute value no cnncalc layer computes exactly: refused (never approximated)."""
    error = im.fail(f"attribute '{attribute}' = {value} has no exact cnncalc equivalent", got=value,
                    expected=expected, hint="--lenient passes the node through as a flagged layer")
    error.not_exact = True  # type: ignore[attr-defined]  # what --lenient passes through
    return error


def _same_f32(value: Any, want: float) -> bool:
    """Whether ``value`` is ``want`` as float32 holds it (the precision ONNX attributes have)."""
    import numpy

    return bool(numpy.float32(value) == numpy.float32(want))


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


# ---------------------------------------------------------------- activations written as several nodes
# Each is matched from its anchor (the one node of a kind only it has: Erf, Tanh, Softplus, Sigmoid,
# HardSigmoid) by data flow; :func:`_group` finds the anchor near whichever of its nodes the walk meets first.

#: how far (in nodes) and how many nodes the search for an anchor looks
REACH, LOOKED_AT = 6, 96


def _group(im: _Importer, position: int) -> tuple[str, dict[str, Any], list[int], str] | None:
    seen = {position}
    frontier = [position]
    for _ in range(REACH + 1):
        following: list[int] = []
        for k in frontier:
            node = im.graph.node[k]
            match = ANCHORS[node.op_type](im, k) if node.op_type in ANCHORS else None
            if match is not None and position in match[2]:
                return match
            for name in node.input:
                producer = im.producers.get(name)
                if producer is not None:
                    following.append(producer)
            for name in node.output:
                users = im.consumers.get(name, [])
                if len(users) <= 8:  # a value read everywhere (the input of a block) leads nowhere useful
                    following.extend(users)
        frontier = [k for k in dict.fromkeys(following) if k not in seen and k not in im.done]
        seen.update(frontier)
        if not frontier or len(seen) > LOOKED_AT:
            return None
    return None


def _constant_is(im: _Importer, name: str, want: float) -> bool:
    scalar = _scalar(im, name)
    return scalar is not None and _same_f32(scalar, want)


def _producer(im: _Importer, name: str, op: str) -> tuple[int, Any] | None:
    k = im.producers.get(name)
    if k is None or k in im.done and k != im.position:  # the walk marks the node it is at done first
        return None
    node = im.graph.node[k]
    return (k, node) if node.op_type == op and node.domain in ("", "ai.onnx") else None


def _only_user(im: _Importer, name: str, op: str) -> tuple[int, Any] | None:
    step = im.single_consumer(name)
    if step is None or step[1].op_type != op or step[0] in im.done and step[0] != im.position:
        return None
    return step


def _other(node: Any, name: str) -> str | None:
    """The other input of a two-input node one of whose inputs is ``name``."""
    if len(node.input) != 2 or name not in node.input:
        return None
    first, second = node.input
    return second if first == name else first


def _times_x_half(im: _Importer, value: str, x: str) -> list[int] | None:
    """The nodes computing ``0.5·x·value`` from ``value`` on, in any grouping ((x·v)·½, x·(½·v), (½·x)·v);
    the node computing the result last."""
    first = _only_user(im, value, "Mul")
    if first is None:
        return None
    other = _other(first[1], value)
    if other == x or other is not None and _constant_is(im, other, 0.5):
        second = _only_user(im, first[1].output[0], "Mul")
        rest = None if second is None else _other(second[1], first[1].output[0])
        if second is None or rest is None or not (rest == x and other != x or other == x and _constant_is(im, rest, 0.5)):
            return None
        return [first[0], second[0]]
    half = None if other is None else _producer(im, other, "Mul")  # (½·x) computed apart
    if half is None or x not in half[1].input or not _constant_is(im, _other(half[1], x) or "", 0.5) \
            or im.single_consumer(other or "") is None:
        return None
    return [half[0], first[0]]


def _gelu_erf(im: _Importer, k: int) -> tuple[str, dict[str, Any], list[int], str] | None:
    """x·½·(1 + erf(x/√2)), as torch.onnx (both exporters) and tf2onnx write the exact GELU before opset 20."""
    erf = im.graph.node[k]
    scaled = _producer(im, erf.input[0], "Div") or _producer(im, erf.input[0], "Mul")
    if scaled is None or len(scaled[1].input) != 2:
        return None
    x, c = scaled[1].input
    if scaled[1].op_type == "Div":
        if not _constant_is(im, c, math.sqrt(2)):
            return None
    elif _constant_is(im, c, 1 / math.sqrt(2)):
        pass
    elif _constant_is(im, x, 1 / math.sqrt(2)):
        x = c
    else:
        return None
    if not isinstance(im.values.get(x), Tensor):
        return None
    add = _only_user(im, erf.output[0], "Add")
    if add is None or not _constant_is(im, _other(add[1], erf.output[0]) or "", 1.0):
        return None
    tail = _times_x_half(im, add[1].output[0], x)
    if tail is None:
        return None
    return "gelu", {}, [scaled[0], k, add[0], *tail], x


def _cube(im: _Importer, name: str, x: str) -> list[int] | None:
    """The nodes computing x³: Pow(x, 3) (dynamo) or x·x·x (the legacy exporter)."""
    power = _producer(im, name, "Pow")
    if power is not None:
        return [power[0]] if power[1].input[0] == x and _constant_is(im, power[1].input[1], 3.0) else None
    outer = _producer(im, name, "Mul")
    if outer is None:
        return None
    inner_name = _other(outer[1], x)
    inner = None if inner_name is None else _producer(im, inner_name, "Mul")
    if inner is None or list(inner[1].input) != [x, x] or im.single_consumer(inner_name or "") is None:
        return None
    return [inner[0], outer[0]]


def _gelu_tanh(im: _Importer, k: int) -> tuple[str, dict[str, Any], list[int], str] | None:
    """½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): PyTorch's GELU(approximate="tanh") before opset 20."""
    tanh = im.graph.node[k]
    scaled = _producer(im, tanh.input[0], "Mul")
    if scaled is None or len(scaled[1].input) != 2:
        return None
    inner_name = next((n for n in scaled[1].input if _producer(im, n, "Add")), None)
    if inner_name is None or not _constant_is(im, _other(scaled[1], inner_name) or "", math.sqrt(2 / math.pi)):
        return None
    inner = _producer(im, inner_name, "Add")
    assert inner is not None
    for x in inner[1].input:
        term_name = _other(inner[1], x)
        term = None if term_name is None else _producer(im, term_name, "Mul")
        if term is None or not isinstance(im.values.get(x), Tensor):
            continue
        cube_name = next((n for n in term[1].input if _constant_is(im, _other(term[1], n) or "", 0.044715)), None)
        cube = None if cube_name is None else _cube(im, cube_name, x)
        if cube is None:
            continue
        add = _only_user(im, tanh.output[0], "Add")
        if add is None or not _constant_is(im, _other(add[1], tanh.output[0]) or "", 1.0):
            return None
        tail = _times_x_half(im, add[1].output[0], x)
        if tail is None:
            return None
        return "gelu", {"approximate": "tanh"}, [*cube, term[0], inner[0], scaled[0], k, add[0], *tail], x
    return None


def _gated(kind: str, chain: tuple[str, ...]) -> Any:
    """``x·f(x)`` where f is the anchor followed by ``chain`` (silu: sigmoid; mish: softplus, tanh;
    hardswish: PyTorch's hardsigmoid)."""

    def match(im: _Importer, k: int) -> tuple[str, dict[str, Any], list[int], str] | None:
        anchor = im.graph.node[k]
        x = anchor.input[0] if anchor.input else ""
        if not isinstance(im.values.get(x), Tensor):
            return None
        if anchor.op_type == "HardSigmoid" and _single(im, anchor, im.attrs(anchor)) != {"type": "hardsigmoid"}:
            return None
        nodes = [k]
        value = anchor.output[0]
        for op in chain:
            step = _only_user(im, value, op)
            if step is None:
                return None
            nodes.append(step[0])
            value = step[1].output[0]
        gate = _only_user(im, value, "Mul")
        if gate is None or _other(gate[1], value) != x:
            return None
        return kind, {}, [*nodes, gate[0]], x

    return match


def _tanh(im: _Importer, k: int) -> tuple[str, dict[str, Any], list[int], str] | None:
    return _gelu_tanh(im, k)


ANCHORS = {"Erf": _gelu_erf, "Tanh": _tanh, "Sigmoid": _gated("silu", ()), "Softplus": _gated("mish", ("Tanh",)),
           "HardSigmoid": _gated("hardswish", ())}


def fuse_activation(im: _Importer, node: Any) -> tuple[str, list[int]] | None:
    """The activation cnncalc's exporter wrote as ``<layer>/<kind>`` right after the layer's node."""
    users = im.consumers.get(node.output[0], [])
    if not users or node.output[0] in im.outputs:
        return None
    match = match_activation(im, min(users), im.graph.node[min(users)], fused=True)
    if match is None or match[1] or not set(users) <= set(match[2]) or match[3] != node.output[0]:
        return None
    kind, _, nodes, _ = match
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
