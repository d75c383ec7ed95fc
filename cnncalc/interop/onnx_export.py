"""A network spec as an ONNX model, built with ``onnx.helper`` and checked with ``onnx.checker``.

Layout: the model's input and outputs are channels-last, as cnncalc's (``[N, H, W, C]``), so the same
array feeds ``cnncalc run`` and the ONNX model. Inside, spatial operators run channels-first (ONNX's
``Conv``, pools, ``BatchNormalization`` and ``Resize`` know only ``[N, C, H, W]``): a ``Transpose`` is
inserted where a value changes layout, once per value, and axes of ``concat``, ``slice`` and ``softmax``
are mapped to the layout a value is in. Weights are cnncalc's (``--weights``, inline, or seeded as ``run``
seeds them), converted to ONNX's layouts (conv ``[F, C/g, k...]``, transposed conv ``[C, F/g, k...]``).

A fused activation (``conv`` with ``activation: relu``) becomes a node named ``<layer>/<activation>``
right after the layer's node; :mod:`.onnx_import` folds such a node back into its layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import CnnCalcError
from ..spec.network import INPUT, Network

OPSET = 18
CL, CF = "cl", "cf"  # channels last (cnncalc), channels first (ONNX's spatial operators)
INT64_MAX = 2**63 - 1


def require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise CnnCalcError("ONNX support needs the 'onnx' package",
                           hint="pip install 'cnncalc[onnx]' (or pip install onnx)") from None
    return onnx


class _Value:
    """An ONNX tensor holding one layer's output (batch axis first) in a layout."""

    def __init__(self, name: str, layout: str, shape: tuple[int, ...]) -> None:
        self.name, self.layout, self.shape = name, layout, shape  # shape: cnncalc's sample shape
        self.other: _Value | None = None  # the same value in the other layout, once made

    @property
    def rank(self) -> int:
        return len(self.shape)


def onnx_axis(axis: int, rank: int, layout: str) -> int:
    """The ONNX axis (batch first) of sample axis ``axis`` (cnncalc's, channels last) in ``layout``.

    >>> onnx_axis(-1, 3, "cf"), onnx_axis(0, 3, "cf"), onnx_axis(-1, 3, "cl")
    (1, 2, 3)
    """
    axis = axis % rank
    if layout == CF and rank >= 2:
        return 1 if axis == rank - 1 else axis + 2
    return axis + 1


class _Graph:
    def __init__(self, onnx: Any, dtype: Any) -> None:
        self.onnx = onnx
        self.helper = onnx.helper
        self.dtype = np.dtype(dtype)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: set[str] = set()
        self.node_names: set[str] = set()

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def const(self, base: str, array: Any, dtype: Any = None) -> str:
        from onnx import numpy_helper

        name = self.fresh(base)
        value = np.asarray(array, dtype=self.dtype if dtype is None else dtype)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def ints(self, base: str, values: Any) -> str:
        return self.const(base, np.asarray(values, dtype=np.int64), np.int64)

    def node(self, op: str, inputs: list[str], name: str, output: str | None = None, doc_string: str = "",
             **attrs: Any) -> str:
        out = self.fresh(output or name)
        node_name, k = name, 1
        while node_name in self.node_names:
            k += 1
            node_name = f"{name}_{k}"
        self.node_names.add(node_name)
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=node_name, doc_string=doc_string or None,
                                                **attrs))
        return out

    def layout(self, value: _Value, want: str) -> _Value:
        if value.rank < 2 or value.layout == want:
            return value
        if value.other is None:
            r = value.rank
            perm = [0, r, *range(1, r)] if want == CF else [0, *range(2, r + 1), 1]
            name = self.node("Transpose", [value.name], f"{value.name}/to_{want}", perm=perm)
            value.other = _Value(name, want, value.shape)
            value.other.other = value
        return value.other


# ---------------------------------------------------------------- activations


def _activation(g: _Graph, kind: str, x: str, name: str, alpha: float | None = None) -> str:
    """ONNX nodes for one activation; the last node is named ``name``."""
    if kind in ("none", "linear"):
        return x
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "hardswish": "HardSwish",
              "mish": "Mish", "softplus": "Softplus"}
    if kind in simple:
        return g.node(simple[kind], [x], name)
    if kind == "leaky_relu":
        return g.node("LeakyRelu", [x], name, alpha=float(0.01 if alpha is None else alpha))
    if kind == "elu":
        return g.node("Elu", [x], name, alpha=1.0)
    if kind == "relu6":
        return g.node("Clip", [x, g.const(f"{name}/min", 0.0), g.const(f"{name}/max", 6.0)], name)
    if kind == "hardsigmoid":
        return g.node("HardSigmoid", [x], name, alpha=1.0 / 6.0, beta=0.5)
    if kind in ("silu", "swish"):
        gate = g.node("Sigmoid", [x], f"{name}/sigmoid")
        return g.node("Mul", [x, gate], name)
    if kind == "gelu":  # exact (erf), written as torch.onnx writes it before opset 20
        scaled = g.node("Div", [x, g.const(f"{name}/sqrt2", math.sqrt(2.0))], f"{name}/div")
        erf = g.node("Erf", [scaled], f"{name}/erf")
        shifted = g.node("Add", [erf, g.const(f"{name}/one", 1.0)], f"{name}/add")
        product = g.node("Mul", [x, shifted], f"{name}/mul")
        return g.node("Mul", [product, g.const(f"{name}/half", 0.5)], name)
    if kind == "softmax":  # as a fused activation: the last axis (the caller passes a channels-last value)
        return g.node("Softmax", [x], name, axis=-1)
    raise CnnCalcError(f"activation '{kind}' has no ONNX export")


def _fused(g: _Graph, layer: Any, value: _Value) -> _Value:
    kind = getattr(layer, "activation", "none")
    if kind in ("none", "linear"):
        return value
    if kind == "softmax":
        value = g.layout(value, CL)
    out = _activation(g, kind, value.name, f"{layer.name}/{kind}")
    return _Value(out, value.layout, value.shape)


# ---------------------------------------------------------------- layer exporters


class _Context:
    def __init__(self, g: _Graph, values: dict[str, _Value], shapes: dict[str, tuple], weights: dict[str, dict]):
        self.g, self.values, self.shapes, self.weights = g, values, shapes, weights


Exporter = Callable[[_Context, Any, list[_Value], tuple], _Value]
EXPORTERS: dict[str, Exporter] = {}
NOT_EXPORTED: dict[str, str] = {
    "normalize": "min-max normalisation per channel has no single ONNX operator and no import back",
    "groupnorm": "ONNX GroupNormalization changed meaning between opsets 18 and 21",
    "attention": "multi-head attention would be a dozen MatMul/Reshape nodes with no import back",
    "class_token": "no ONNX operator prepends a learned token without a batch-size subgraph",
    "embedding": "the input would have to be integer ids (cnncalc's inputs are floats)",
    "adaptive_maxpool": "no ONNX operator for uneven adaptive windows",
}


def exporter(*types: str) -> Callable[[Exporter], Exporter]:
    def register(function: Exporter) -> Exporter:
        for name in types:
            EXPORTERS[name] = function
        return function

    return register


def _base_type(type_name: str) -> str:
    for suffix in ("1d", "2d", "3d"):
        if type_name.endswith(suffix) and type_name[:-2] in ("conv", "conv_transpose", "maxpool", "avgpool"):
            return type_name[:-2]
    return type_name


def _ints(values: Any) -> list[int]:
    return [int(v) for v in values]


def _onnx_pads(pairs: list[tuple[Any, Any]]) -> list[int]:
    return [int(b) for b, _ in pairs] + [int(a) for _, a in pairs]


def _conv_weight(weight: np.ndarray) -> np.ndarray:
    """``[k..., C/g, F]`` → ``[F, C/g, k...]``."""
    r = weight.ndim - 2
    return np.ascontiguousarray(weight.transpose(r + 1, r, *range(r)))


@exporter("conv", "depthwise_conv", "separable_conv")
def _conv(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    from ..layers.base import padding_pairs

    g = c.g
    x = g.layout(inputs[0], CF)
    dims, channels = x.shape[:-1], x.shape[-1]
    rank = len(dims)
    kernel, stride, dilation = layer.geometry(rank)
    pairs, _ = padding_pairs(layer.padding, dims, kernel, stride, dilation)
    w = c.weights[layer.name]
    attrs = {"kernel_shape": _ints(kernel), "strides": _ints(stride), "dilations": _ints(dilation),
             "pads": _onnx_pads(pairs)}
    kind = _base_type(layer.type)
    if kind == "conv":
        weight = w["weight"]
        if layer.flip:
            weight = weight[(slice(None, None, -1),) * rank]
        inputs_ = [x.name, g.const(f"{layer.name}.weight", _conv_weight(weight))]
        if "bias" in w:
            inputs_.append(g.const(f"{layer.name}.bias", w["bias"]))
        out = g.node("Conv", inputs_, layer.name, group=int(layer.groups), **attrs)
    else:
        weight = w["weight"]  # [k..., C, m] → a grouped conv, filter c·m + j: [C·m, 1, k...]
        m = weight.shape[-1]
        grouped = weight.reshape(*weight.shape[:-2], 1, channels * m)
        inputs_ = [x.name, g.const(f"{layer.name}.weight", _conv_weight(grouped))]
        if kind == "depthwise_conv":
            if "bias" in w:
                inputs_.append(g.const(f"{layer.name}.bias", w["bias"]))
            out = g.node("Conv", inputs_, layer.name, group=int(channels), **attrs)
        else:
            depth = g.node("Conv", inputs_, f"{layer.name}/depthwise", group=int(channels), **attrs)
            point = w["pointwise_weight"]  # [C·m, F] → [F, C·m, 1...]
            pw = point.T.reshape(point.shape[1], point.shape[0], *([1] * rank))
            more = [depth, g.const(f"{layer.name}.pointwise_weight", pw)]
            if "bias" in w:
                more.append(g.const(f"{layer.name}.bias", w["bias"]))
            out = g.node("Conv", more, layer.name, kernel_shape=[1] * rank)
    return _fused(g, layer, _Value(out, CF, out_shape))


@exporter("conv_transpose")
def _conv_transpose(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(inputs[0], CF)
    rank = x.rank - 1
    kernel, stride, dilation = layer.geometry(rank)
    w = c.weights[layer.name]
    weight = w["weight"]  # [k..., C_in, F/g] → [C_in, F/g, k...]
    onnx_weight = np.ascontiguousarray(weight.transpose(rank, rank + 1, *range(rank)))
    inputs_ = [x.name, g.const(f"{layer.name}.weight", onnx_weight)]
    if "bias" in w:
        inputs_.append(g.const(f"{layer.name}.bias", w["bias"]))
    out = g.node("ConvTranspose", inputs_, layer.name, kernel_shape=_ints(kernel), strides=_ints(stride),
                 dilations=_ints(dilation), pads=_onnx_pads(layer.transpose_pads(rank)),
                 output_padding=_ints(layer.axes("output_padding", rank)), group=int(layer.groups))
    return _fused(g, layer, _Value(out, CF, out_shape))


@exporter("maxpool", "avgpool")
def _pool(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    from ..layers.base import padding_pairs

    g = c.g
    x = g.layout(inputs[0], CF)
    dims = x.shape[:-1]
    kernel, stride, dilation = layer.geometry(len(dims))
    pairs, _ = padding_pairs(layer.padding, dims, kernel, stride, dilation)
    attrs: dict[str, Any] = {"kernel_shape": _ints(kernel), "strides": _ints(stride), "pads": _onnx_pads(pairs),
                             "ceil_mode": int(layer.ceil_mode)}
    if any(d != 1 for d in dilation):
        attrs["dilations"] = _ints(dilation)
    if _base_type(layer.type) == "maxpool":
        out = g.node("MaxPool", [x.name], layer.name, **attrs)
    else:
        out = g.node("AveragePool", [x.name], layer.name, count_include_pad=int(layer.count_include_pad), **attrs)
    return _Value(out, CF, out_shape)


@exporter("global_maxpool", "global_avgpool")
def _global_pool(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(inputs[0], CF)
    op = "GlobalMaxPool" if layer.type == "global_maxpool" else "GlobalAveragePool"
    if layer.keepdims:
        return _Value(g.node(op, [x.name], layer.name), CF, out_shape)
    pooled = g.node(op, [x.name], f"{layer.name}/pool")
    return _Value(g.node("Flatten", [pooled], layer.name, axis=1), CL, out_shape)


@exporter("adaptive_avgpool")
def _adaptive_avg(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    """Axis by axis, a matrix product with the window-averaging matrix (as the executor does)."""
    from ..layers.pool import adaptive_bounds

    g = c.g
    x = g.layout(inputs[0], CF)
    rank = x.rank - 1
    current = x.name
    for axis in range(rank):
        n, out = int(x.shape[axis]), int(out_shape[axis])
        starts, ends = (np.array(v) for v in adaptive_bounds(n, out))
        cells = np.arange(n)
        matrix = ((cells[:, None] >= starts) & (cells[:, None] < ends)) / (ends - starts)  # [n, out]
        onnx_axis_ = axis + 2
        last = rank + 1
        perm = list(range(rank + 2))
        perm[onnx_axis_], perm[last] = perm[last], perm[onnx_axis_]
        final = axis == rank - 1 and onnx_axis_ == last
        moved = current if onnx_axis_ == last else g.node("Transpose", [current], f"{layer.name}/move{axis}",
                                                          perm=perm)
        product = g.node("MatMul", [moved, g.const(f"{layer.name}/matrix{axis}", matrix)],
                         layer.name if final else f"{layer.name}/matmul{axis}")
        current = product if onnx_axis_ == last else g.node("Transpose", [product], f"{layer.name}/back{axis}",
                                                            perm=perm)
    if current != layer.name:
        current = g.node("Identity", [current], layer.name)
    return _Value(current, CF, out_shape)


@exporter("zero_pad")
def _zero_pad(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    from ..layers.base import explicit_pairs

    g = c.g
    x = g.layout(inputs[0], CF)
    pairs = explicit_pairs(layer.padding, x.rank - 1)
    pads = [0, 0, *(int(b) for b, _ in pairs), 0, 0, *(int(a) for _, a in pairs)]
    return _Value(g.node("Pad", [x.name, g.ints(f"{layer.name}/pads", pads)], layer.name), CF, out_shape)


@exporter("crop")
def _crop(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(inputs[0], CF)
    dims = x.shape[:-1]
    pairs = layer.amounts(dims)
    starts = [int(b) for b, _ in pairs]
    ends = [int(n) - int(a) for n, (_, a) in zip(dims, pairs)]
    axes = list(range(2, 2 + len(dims)))
    out = g.node("Slice", [x.name, g.ints(f"{layer.name}/starts", starts), g.ints(f"{layer.name}/ends", ends),
                           g.ints(f"{layer.name}/axes", axes)], layer.name)
    return _Value(out, CF, out_shape)


@exporter("upsample")
def _upsample(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(inputs[0], CF)
    sizes = [int(x.shape[-1]), *(int(d) for d in out_shape[:-1])]
    attrs: dict[str, Any] = ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                              "nearest_mode": "floor"} if layer.mode == "nearest" else
                             {"mode": "linear", "coordinate_transformation_mode": "half_pixel"})
    axes = list(range(1, x.rank + 1))
    out = g.node("Resize", [x.name, "", "", g.ints(f"{layer.name}/sizes", sizes)], layer.name, axes=axes, **attrs)
    return _Value(out, CF, out_shape)


@exporter("flatten")
def _flatten(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    x = c.g.layout(inputs[0], CL)
    return _Value(c.g.node("Flatten", [x.name], layer.name, axis=1), CL, out_shape)


@exporter("reshape")
def _reshape(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(inputs[0], CL)
    target = g.ints(f"{layer.name}/shape", [0, *(int(d) for d in layer.shape)])
    return _Value(g.node("Reshape", [x.name, target], layer.name), CL, out_shape)


@exporter("permute")
def _permute(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    x = c.g.layout(inputs[0], CL)
    perm = [0, *(int(a) % x.rank + 1 for a in layer.axes)]
    return _Value(c.g.node("Transpose", [x.name], layer.name, perm=perm), CL, out_shape)


@exporter("dense")
def _dense(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(inputs[0], CL)
    w = c.weights[layer.name]
    weight = g.const(f"{layer.name}.weight", w["weight"])
    if x.rank == 1:
        more = [g.const(f"{layer.name}.bias", w["bias"])] if "bias" in w else []
        out = g.node("Gemm", [x.name, weight, *more], layer.name)
    elif "bias" in w:
        product = g.node("MatMul", [x.name, weight], f"{layer.name}/matmul")
        out = g.node("Add", [product, g.const(f"{layer.name}.bias", w["bias"])], layer.name)
    else:
        out = g.node("MatMul", [x.name, weight], layer.name)
    return _fused(g, layer, _Value(out, CL, out_shape))


@exporter("batchnorm")
def _batchnorm(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(inputs[0], CF)
    w = c.weights[layer.name]
    channels = int(x.shape[-1])
    gamma = w.get("gamma", np.ones(channels))
    beta = w.get("beta", np.zeros(channels))
    parts = [g.const(f"{layer.name}.{key}", value) for key, value in
             (("gamma", gamma), ("beta", beta), ("mean", w["mean"]), ("var", w["var"]))]
    out = g.node("BatchNormalization", [x.name, *parts], layer.name, epsilon=float(layer.epsilon),
                 doc_string=f"cnncalc batchnorm, count_stats: {'true' if layer.count_stats else 'false'}")
    return _Value(out, CF, out_shape)


@exporter("layernorm")
def _layernorm(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(inputs[0], CL)
    axes = sorted(layer.normalised_axes(out_shape))
    if axes != list(range(axes[0], x.rank)):
        raise CnnCalcError("layernorm over axes that are not the last ones has no ONNX export",
                           layer=layer.name, index=layer.index, field="axis", got=axes,
                           expected="the trailing axes (e.g. -1)")
    w = c.weights[layer.name]
    dims = tuple(int(x.shape[a]) for a in axes)
    gamma = g.const(f"{layer.name}.gamma", w.get("gamma", np.ones(dims)))
    more = [g.const(f"{layer.name}.beta", w["beta"])] if "beta" in w else []
    out = g.node("LayerNormalization", [x.name, gamma, *more], layer.name, axis=axes[0] + 1,
                 epsilon=float(layer.epsilon))
    return _Value(out, CL, out_shape)


@exporter("dropout")
def _dropout(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = inputs[0]
    ratio = g.const(f"{layer.name}/ratio", float(layer.rate))
    return _Value(g.node("Dropout", [x.name, ratio], layer.name), x.layout, out_shape)


@exporter("relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid",
          "mish", "softplus")
def _activation_layer(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    x = inputs[0]
    out = _activation(c.g, layer.type, x.name, layer.name, getattr(layer, "alpha", None))
    return _Value(out, x.layout, out_shape)


@exporter("softmax")
def _softmax(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    x = inputs[0]
    axis = onnx_axis(layer.axis, x.rank, x.layout) if x.rank else 1
    return _Value(c.g.node("Softmax", [x.name], layer.name, axis=axis), x.layout, out_shape)


@exporter("prelu")
def _prelu(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = inputs[0]
    slope = c.weights[layer.name]["weight"]
    if x.layout == CF and x.rank >= 2:
        slope = slope.reshape(-1, *([1] * (x.rank - 1)))
    return _Value(g.node("PRelu", [x.name, g.const(f"{layer.name}.weight", slope)], layer.name), x.layout, out_shape)


@exporter("layer_scale")
def _layer_scale(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = inputs[0]
    factor = c.weights[layer.name]["weight"]
    if x.layout == CF and x.rank >= 2:
        factor = factor.reshape(-1, *([1] * (x.rank - 1)))
    return _Value(g.node("Mul", [x.name, g.const(f"{layer.name}.weight", factor)], layer.name), x.layout,
                  out_shape)


@exporter("position_embedding")
def _position_embedding(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(inputs[0], CL)
    table = g.const(f"{layer.name}.weight", c.weights[layer.name]["weight"])
    return _Value(g.node("Add", [x.name, table], layer.name), CL, out_shape)


@exporter("lrn")
def _lrn(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(inputs[0], CF)
    out = g.node("LRN", [x.name], layer.name, size=int(layer.size), alpha=float(layer.alpha),
                 beta=float(layer.beta), bias=float(layer.k))
    return _Value(out, CF, out_shape)


@exporter("channel_shuffle")
def _channel_shuffle(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    """As torchvision writes it: view [N, g, C/g, ...], swap the two, view back."""
    g = c.g
    x = g.layout(inputs[0], CF)
    channels, groups = int(x.shape[-1]), int(layer.groups)
    spatial = [int(d) for d in x.shape[:-1]]
    split = g.node("Reshape", [x.name, g.ints(f"{layer.name}/split", [0, groups, channels // groups, *spatial])],
                   f"{layer.name}/split")
    perm = [0, 2, 1, *range(3, 3 + len(spatial))]
    swapped = g.node("Transpose", [split], f"{layer.name}/swap", perm=perm)
    out = g.node("Reshape", [swapped, g.ints(f"{layer.name}/merge", [0, channels, *spatial])], layer.name)
    return _Value(out, CF, out_shape)


@exporter("slice")
def _slice(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    x = inputs[0]
    axis = onnx_axis(layer.axis, x.rank, x.layout)
    stop = INT64_MAX if layer.stop is None else int(layer.stop)
    out = g.node("Slice", [x.name, g.ints(f"{layer.name}/starts", [int(layer.start)]),
                           g.ints(f"{layer.name}/ends", [stop]), g.ints(f"{layer.name}/axes", [axis]),
                           g.ints(f"{layer.name}/steps", [int(layer.step)])], layer.name)
    return _Value(out, x.layout, out_shape)


def _same_layout(g: _Graph, inputs: list[_Value]) -> list[_Value]:
    """Merged values share a layout: channels first when every input has the same rank and one already is."""
    ranks = {x.rank for x in inputs}
    if len(ranks) == 1 and any(x.layout == CF for x in inputs):
        return [g.layout(x, CF) for x in inputs]
    return [g.layout(x, CL) for x in inputs]


@exporter("add", "multiply", "subtract", "maximum", "minimum", "average")
def _merge(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    xs = _same_layout(g, inputs)
    names = [x.name for x in xs]
    layout = xs[0].layout if all(x.rank == xs[0].rank for x in xs) else CL
    if layer.type in ("add", "multiply", "subtract"):
        op = {"add": "Add", "multiply": "Mul", "subtract": "Sub"}[layer.type]
        if len(names) > 2 and layer.type == "add":
            out = g.node("Sum", names, layer.name)
        else:
            current = names[0]
            for k, other in enumerate(names[1:], start=1):
                current = g.node(op, [current, other], layer.name if k == len(names) - 1 else f"{layer.name}/{k}")
            out = current
    else:
        op = {"maximum": "Max", "minimum": "Min", "average": "Mean"}[layer.type]
        out = g.node(op, names, layer.name)
    return _Value(out, layout, out_shape)


@exporter("concat")
def _concat(c: _Context, layer: Any, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    xs = _same_layout(g, inputs)
    layout = xs[0].layout
    out = g.node("Concat", [x.name for x in xs], layer.name, axis=onnx_axis(layer.axis, xs[0].rank, layout))
    return _Value(out, layout, out_shape)


# ---------------------------------------------------------------- the model


def unexportable(network: Network) -> list[str]:
    """'layer 3 'n1' (normalize): why' for every layer with no ONNX export."""
    problems = []
    for layer in network.layers:
        kind = _base_type(layer.type)
        if kind not in EXPORTERS:
            why = NOT_EXPORTED.get(kind, "no ONNX mapping")
            problems.append(f"layer {layer.index} '{layer.name}' ({layer.type}): {why}")
    return problems


def export_onnx(network: Network, weights: dict[str, np.ndarray] | None = None, seed: int | None = None,
                dtype: Any = np.float32) -> Any:
    """The ONNX ``ModelProto`` of a numeric network, checked with ``onnx.checker``."""
    onnx = require_onnx()
    from onnx import TensorProto, helper

    from ..calc.analysis import analyse
    from ..layers.base import wrap_layer_error
    from ..run.executor import check_seed, gather_weights

    if network.is_symbolic:
        raise CnnCalcError("export needs numeric input sizes", got=list(map(str, network.input_shape)),
                           expected="numbers", hint="give each symbol a value: --where n=224")
    problems = unexportable(network)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise CnnCalcError(f"cannot export to ONNX: {'; '.join(problems[:3])}{more}", file=network.source)
    check_seed(seed)
    summary = analyse(network)
    arrays = gather_weights(summary, weights, seed, np.float64)
    element = TensorProto.FLOAT if np.dtype(dtype) == np.float32 else TensorProto.DOUBLE
    g = _Graph(onnx, dtype)
    g.names.add(INPUT)
    input_shape = tuple(int(d) for d in network.input_shape)
    values: dict[str, _Value] = {INPUT: _Value(INPUT, CL, input_shape)}
    shapes = {r.name: tuple(int(d) for d in r.output_shape) for r in summary.records}
    context = _Context(g, values, shapes, arrays)
    defined = {INPUT}
    in_spec_order = True
    for layer in network.layers:  # the spec's own order where it is already topological (readable graphs)
        in_spec_order = in_spec_order and all(s in defined for s in layer.inputs)
        defined.add(layer.name)
    for position in (range(len(network.layers)) if in_spec_order else network.order):
        layer = network.layers[position]
        try:
            values[layer.name] = EXPORTERS[_base_type(layer.type)](context, layer, [values[s] for s in layer.inputs],
                                                                    shapes[layer.name])
        except CnnCalcError as error:
            raise wrap_layer_error(error, layer) from None
    outputs = []
    for record in summary.outputs:
        value = g.layout(values[record.name], CL)
        name = value.name
        if name != record.name and record.name not in g.names:
            name = g.node("Identity", [value.name], record.name)
        elif name != record.name:
            name = g.node("Identity", [value.name], f"{record.name}_output")
        outputs.append(helper.make_tensor_value_info(name, element, ["N", *shapes[record.name]]))
    graph = helper.make_graph(g.nodes, _graph_name(network.name),
                              [helper.make_tensor_value_info(INPUT, element, ["N", *input_shape])], outputs,
                              initializer=g.initializers)
    model = helper.make_model(graph, producer_name="cnncalc", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = min(model.ir_version, 8)  # readable by onnxruntime releases back to 1.14
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:  # noqa: BLE001 - the checker's own exception types vary across releases
        raise CnnCalcError(f"the exported model fails onnx.checker: {str(error).splitlines()[0][:300]}") from None
    return model


def _graph_name(name: str) -> str:
    return name if name.isprintable() else "cnncalc"


def save_onnx(model: Any, path: str) -> int:
    """Write atomically; returns the number of bytes."""
    import os
    import tempfile

    data = model.SerializeToString()
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".cnncalc-", suffix=".onnx")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except OSError as error:
        raise CnnCalcError(f"cannot write the model: {error.strerror}", file=path) from None
    return len(data)
