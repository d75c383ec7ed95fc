"""A network spec as an ONNX model, built with ``onnx.helper`` and checked with ``onnx.checker``.

Layout: the model's input and outputs are channels-last, as cnncalc's (``[N, H, W, C]``), so the same
array feeds ``cnncalc run`` and the ONNX model. Inside, spatial operators run channels-first (ONNX's
``Conv``, pools, ``BatchNormalization`` and ``Resize`` know only ``[N, C, H, W]``): a ``Transpose`` is
inserted where a value changes layout, once per value, and axes of ``concat``, ``slice`` and ``softmax``
are mapped to the layout a value is in. Weights are cnncalc's (``--weights``, inline, or seeded as ``run``
seeds them), converted to ONNX's layouts (conv ``[F, C/g, k...]``, transposed conv ``[C, F/g, k...]``).

A fused activation (``conv`` with ``activation: relu``) becomes a node named ``<layer>/<activation>``
right after the layer's node; :mod:`.onnx_import` folds such a node back into its layer.

Layers with no single ONNX operator (``attention``, ``class_token``, ``groupnorm``, ``normalize``, the
adaptive pools) become one node each of a model-local function in the ``cnncalc`` domain
(:data:`FUNCTION_DOMAIN`): its body is made of standard operators, so every runtime that inlines
functions (onnxruntime does) runs it, and the graph keeps one node per layer, which the importer maps back.
The node's attributes carry the layer's fields; its inputs are the value and the weights.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import CnnCalcError
from ..layers.activation import Activation, Dropout, LayerScale, PReLU, Softmax
from ..layers.attention import Attention
from ..layers.conv import Conv, ConvTranspose, DepthwiseConv, SeparableConv
from ..layers.dense import BatchNorm, Dense
from ..layers.merge import Concat, Merge
from ..layers.norm import GroupNorm, LayerNorm
from ..layers.pool import AdaptivePool, AvgPool, GlobalPool, MaxPool
from ..layers.reshape import Flatten, Reshape, ZeroPad
from ..layers.shape_ops import ChannelShuffle, Permute, PixelShuffle, PixelUnshuffle, Slice
from ..layers.spatial import Crop, LocalResponseNorm, Upsample
from ..layers.tokens import ClassToken, Embedding, PositionEmbedding
from ..spec.network import INPUT, Network
from .export_rules import Biased, Rules
from .onnx_proto import FUNCTION_DOMAIN

if TYPE_CHECKING:
    from onnx import AttributeProto

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
        self.functions: dict[str, Any] = {}  # model-local functions used, by name

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

    def custom(self, op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        """A node calling the model-local function ``op`` of the ``cnncalc`` domain (defined on first use)."""
        if op not in self.functions:
            self.functions[op] = FUNCTIONS[op](self.helper)
        out = self.node(op, inputs, name, **attrs)
        self.nodes[-1].domain = FUNCTION_DOMAIN
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


# ---------------------------------------------------------------- model-local functions


class _Body:
    """Nodes of a function body, each output named after its step."""

    def __init__(self, helper: Any) -> None:
        self.helper = helper
        self.nodes: list[Any] = []

    def __call__(self, op: str, inputs: list[str], output: str,
                 refs: dict[str, tuple[str, AttributeProto.AttributeType]] | None = None, **attrs: Any) -> str:
        node = self.helper.make_node(op, inputs, [output], **attrs)
        for key, (parent, kind) in (refs or {}).items():  # an attribute taking the calling node's attribute
            from onnx import AttributeProto

            node.attribute.append(AttributeProto(name=key, type=kind, ref_attr_name=parent))
        self.nodes.append(node)
        return output

    def ints(self, output: str, values: list[int]) -> str:
        return self("Constant", [], output, value_ints=values)

    def function(self, name: str, inputs: list[str], outputs: list[str], attributes: list[str],
                 doc: str) -> Any:
        return self.helper.make_function(FUNCTION_DOMAIN, name, inputs, outputs, self.nodes,
                                         [self.helper.make_opsetid("", OPSET)], attributes=attributes, doc_string=doc)


def _attention_function(helper: Any) -> Any:
    b = _Body(helper)
    for part, dim in (("q", "k"), ("k", "k"), ("v", "v")):  # [N, T, d]·[d, h, dim] + [h, dim] → [N, T, h, dim]
        b("Einsum", [f"{part}_in", f"w{part}"], f"{part}_raw", equation=f"ntd,dh{dim}->nth{dim}")
        b("Add", [f"{part}_raw", f"b{part}"], part)
    b("Shape", ["wq"], "key_dim", start=2, end=3)
    b("CastLike", ["key_dim", "q"], "key_dim_f")
    b("Sqrt", ["key_dim_f"], "root")
    b("Div", ["q", "root"], "q_scaled")
    b("Einsum", ["q_scaled", "k"], "scores", equation="nqhk,nthk->nhqt")
    b("Softmax", ["scores"], "weights", axis=-1)
    b("Einsum", ["weights", "v"], "context", equation="nhqt,nthv->nqhv")
    b("Einsum", ["context", "wo"], "y_raw", equation="nqhv,hvo->nqo")
    b("Add", ["y_raw", "bo"], "y")
    return b.function("Attention", ["q_in", "v_in", "k_in", "wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo"], ["y"],
                      ["heads", "bias"], "cnncalc attention: Keras MultiHeadAttention, weights [d, heads, dim]; "
                      "scores (Q/sqrt(key_dim))·Kᵀ, softmax over the keys. bias=0: the biases are zeros")


def _class_token_function(helper: Any) -> Any:
    b = _Body(helper)
    b("Shape", ["x"], "batch", start=0, end=1)
    b.ints("one", [1])
    b("Shape", ["token"], "features")
    b("Concat", ["batch", "one", "features"], "target", axis=0)
    b("Expand", ["token", "target"], "tokens")
    b("Concat", ["tokens", "x"], "y", axis=1)
    return b.function("ClassToken", ["x", "token"], ["y"], [], "cnncalc class_token: [N, T, d] → [N, T+1, d], "
                      "the learned token first")


def _group_norm_function(helper: Any) -> Any:
    from onnx import AttributeProto

    b = _Body(helper)
    b("Shape", ["x"], "shape")
    b("Shape", ["x"], "channels", start=-1)
    b("Constant", [], "groups_scalar", refs={"value_int": ("groups", AttributeProto.INT)})
    b.ints("vector", [1])
    b("Reshape", ["groups_scalar", "vector"], "groups")
    b("Div", ["channels", "groups"], "per_group")
    b.ints("keep", [0, -1])
    b("Concat", ["keep", "groups", "per_group"], "grouped_shape", axis=0)
    b("Reshape", ["x", "grouped_shape"], "grouped")  # [N, positions, G, C/G]
    b.ints("axes", [1, 3])
    b("ReduceMean", ["grouped", "axes"], "mean", keepdims=1)
    b("Sub", ["grouped", "mean"], "centred")
    b("Mul", ["centred", "centred"], "squares")
    b("ReduceMean", ["squares", "axes"], "var", keepdims=1)
    b("Constant", [], "epsilon", refs={"value_float": ("epsilon", AttributeProto.FLOAT)})
    b("CastLike", ["epsilon", "x"], "epsilon_like")
    b("Add", ["var", "epsilon_like"], "var_eps")
    b("Sqrt", ["var_eps"], "std")
    b("Div", ["centred", "std"], "normalised")
    b("Reshape", ["normalised", "shape"], "back")
    b("Mul", ["back", "gamma"], "scaled")
    b("Add", ["scaled", "beta"], "y")
    return b.function("GroupNorm", ["x", "gamma", "beta"], ["y"], ["groups", "epsilon", "center", "scale"],
                      "cnncalc groupnorm, channels last: groups of contiguous channels, each normalised over its "
                      "channels and every position; center=0 / scale=0: beta / gamma are zeros / ones")


def _normalize_function(helper: Any) -> Any:
    b = _Body(helper)
    b("Shape", ["x"], "shape")
    b("Reshape", ["x", "flat_shape"], "flat")  # [N, C, positions]
    b.ints("axis", [2])
    b("ReduceMin", ["flat", "axis"], "low", keepdims=1)
    b("ReduceMax", ["flat", "axis"], "high", keepdims=1)
    b("Sub", ["high", "low"], "span")
    b("Constant", [], "zero_f", value_float=0.0)
    b("CastLike", ["zero_f", "x"], "zero")
    b("Constant", [], "one_f", value_float=1.0)
    b("CastLike", ["one_f", "x"], "one")
    b("Greater", ["span", "zero"], "spread")
    b("Where", ["spread", "span", "one"], "divisor")
    b("Sub", ["flat", "low"], "shifted")
    b("Div", ["shifted", "divisor"], "scaled")
    b("Where", ["spread", "scaled", "zero"], "y_flat")
    b("Reshape", ["y_flat", "shape"], "y")
    return b.function("Normalize", ["x", "flat_shape"], ["y"], [], "cnncalc normalize: min-max per sample and "
                      "channel over the positions (flat_shape [0, C, -1], channels first); a flat channel gives 0")


_LETTERS = "xyz"  # spatial axes (n and c are batch and channels)


def _adaptive_avg_function(rank: int, helper: Any) -> Any:
    b = _Body(helper)
    axes = list(_LETTERS[:rank])
    current = "x"
    for k in range(rank):  # [N, C, a, b, c] · [n_k, out_k] on axis k: an Einsum per axis
        after = axes.copy()
        after[k] = after[k].upper()
        output = "y" if k == rank - 1 else f"step{k}"
        b("Einsum", [current, f"m{k}"], output,
          equation=f"nc{''.join(axes)},{axes[k]}{after[k]}->nc{''.join(after)}")
        current, axes = output, after
    return b.function(f"AdaptiveAvgPool{rank}d", ["x", *(f"m{k}" for k in range(rank))], ["y"], [],
                      "cnncalc adaptive_avgpool, channels first: per axis, a product with the matrix [n, out] "
                      "that averages each window")


def _adaptive_max_function(rank: int, helper: Any) -> Any:
    b = _Body(helper)
    current = "x"
    for k in range(rank):  # gather [out, longest] windows on axis 2+k, then the largest of each
        b("Gather", [current, f"i{k}"], f"windows{k}", axis=2 + k)
        b.ints(f"axis{k}", [3 + k])
        output = "y" if k == rank - 1 else f"step{k}"
        b("ReduceMax", [f"windows{k}", f"axis{k}"], output, keepdims=0)
        current = output
    return b.function(f"AdaptiveMaxPool{rank}d", ["x", *(f"i{k}" for k in range(rank))], ["y"], [],
                      "cnncalc adaptive_maxpool, channels first: per axis, the windows' indices [out, longest] "
                      "(a short window repeats its last index), and the largest value of each")


# each body is built when a model first calls its function (the rank bound here, not a closure made at import):
# the code that builds it then runs under the mutation tests' switch, as every other function does
FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "Attention": _attention_function, "ClassToken": _class_token_function, "GroupNorm": _group_norm_function,
    "Normalize": _normalize_function,
    **{f"AdaptiveAvgPool{r}d": functools.partial(_adaptive_avg_function, r) for r in (1, 2, 3)},
    **{f"AdaptiveMaxPool{r}d": functools.partial(_adaptive_max_function, r) for r in (1, 2, 3)},
}


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


def _fused(g: _Graph, layer: Biased, value: _Value) -> _Value:
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


# A layer rule takes the layer's input value, a merge rule all of them; each returns the layer's value. The
# layer is Any here: each rule names its class (``layer: Dense``), which Rules checks against its type names.
LayerExporter = Callable[[_Context, Any, _Value, tuple], _Value]
MergeExporter = Callable[[_Context, Any, list[_Value], tuple], _Value]
#: why a layer type is not exported (every type is, today; settings a type cannot take are named by its rule)
UNSUPPORTED: dict[str, str] = {
    # the import reads Swin's window attention back from torch's graphs; an export needs a model-local
    # function of the whole partition, mask and bias (not written)
    "window_attention": "not exported yet: ONNX has no window-attention operator and no model-local function "
                        "for it is written here",
    "window_attention_v2": "not exported yet: ONNX has no window-attention operator and no model-local "
                           "function for it is written here",
}
rules: Rules[LayerExporter, MergeExporter] = Rules("ONNX", UNSUPPORTED)


def _ints(values: Any) -> list[int]:
    return [int(v) for v in values]


def _onnx_pads(pairs: list[tuple[Any, Any]]) -> list[int]:
    return [int(b) for b, _ in pairs] + [int(a) for _, a in pairs]


def _conv_weight(weight: np.ndarray) -> np.ndarray:
    """``[k..., C/g, F]`` → ``[F, C/g, k...]``."""
    r = weight.ndim - 2
    return np.ascontiguousarray(weight.transpose(r + 1, r, *range(r)))


@rules.layer("conv", "depthwise_conv", "separable_conv")
def _conv(c: _Context, layer: Conv | DepthwiseConv | SeparableConv, x: _Value, out_shape: tuple) -> _Value:
    from ..layers.base import padding_pairs

    g = c.g
    x = g.layout(x, CF)
    dims, channels = x.shape[:-1], x.shape[-1]
    rank = len(dims)
    kernel, stride, dilation = layer.geometry(rank)
    pairs, _ = padding_pairs(layer.padding, dims, kernel, stride, dilation)
    w = c.weights[layer.name]
    if isinstance(layer, Conv) and layer.padding_mode != "zeros":  # as torch.onnx writes it: Pad, then Conv
        x = _Value(_mode_pad(g, layer, x, pairs, f"{layer.name}/pad"), CF, x.shape)
        pairs = [(0, 0)] * rank
    attrs: dict[str, Any] = {"kernel_shape": _ints(kernel), "strides": _ints(stride), "dilations": _ints(dilation),
                             "pads": _onnx_pads(pairs)}
    if isinstance(layer, Conv):
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
        if isinstance(layer, DepthwiseConv):
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


@rules.layer("conv_transpose")
def _conv_transpose(c: _Context, layer: ConvTranspose, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CF)
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


@rules.layer("maxpool", "avgpool")
def _pool(c: _Context, layer: MaxPool | AvgPool, x: _Value, out_shape: tuple) -> _Value:
    from ..layers.base import padding_pairs

    g = c.g
    x = g.layout(x, CF)
    dims = x.shape[:-1]
    kernel, stride, dilation = layer.geometry(len(dims))
    pairs, _ = padding_pairs(layer.padding, dims, kernel, stride, dilation)
    attrs: dict[str, Any] = {"kernel_shape": _ints(kernel), "strides": _ints(stride), "pads": _onnx_pads(pairs),
                             "ceil_mode": int(layer.ceil_mode)}
    if any(d != 1 for d in dilation):
        attrs["dilations"] = _ints(dilation)
    if isinstance(layer, MaxPool):
        out = g.node("MaxPool", [x.name], layer.name, **attrs)
    else:
        out = g.node("AveragePool", [x.name], layer.name, count_include_pad=int(layer.count_include_pad), **attrs)
    return _Value(out, CF, out_shape)


@rules.layer("global_maxpool", "global_avgpool")
def _global_pool(c: _Context, layer: GlobalPool, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CF)
    op = "GlobalMaxPool" if layer.type == "global_maxpool" else "GlobalAveragePool"
    if layer.keepdims:
        return _Value(g.node(op, [x.name], layer.name), CF, out_shape)
    pooled = g.node(op, [x.name], f"{layer.name}/pool")
    return _Value(g.node("Flatten", [pooled], layer.name, axis=1), CL, out_shape)


@rules.layer("adaptive_avgpool", "adaptive_maxpool")
def _adaptive(c: _Context, layer: AdaptivePool, x: _Value, out_shape: tuple) -> _Value:
    """Per axis, the averaging matrix ``[n, out]`` or the windows' indices ``[out, longest]`` (as the executor
    computes them), given to the ``AdaptiveAvgPool<r>d`` / ``AdaptiveMaxPool<r>d`` function."""
    from ..layers.pool import adaptive_bounds

    g = c.g
    x = g.layout(x, CF)
    rank = x.rank - 1
    extra = []
    for axis in range(rank):
        n, out = int(x.shape[axis]), int(out_shape[axis])
        starts, ends = (np.array(v) for v in adaptive_bounds(n, out))
        if layer.type == "adaptive_avgpool":
            cells = np.arange(n)
            matrix = ((cells[:, None] >= starts) & (cells[:, None] < ends)) / (ends - starts)  # [n, out]
            extra.append(g.const(f"{layer.name}/matrix{axis}", matrix))
        else:
            longest = int((ends - starts).max())
            index = np.minimum(starts[:, None] + np.arange(longest), ends[:, None] - 1)  # [out, longest]
            extra.append(g.ints(f"{layer.name}/windows{axis}", index))
    kind = "AdaptiveAvgPool" if layer.type == "adaptive_avgpool" else "AdaptiveMaxPool"
    return _Value(g.custom(f"{kind}{rank}d", [x.name, *extra], layer.name), CF, out_shape)


@rules.layer("zero_pad")
def _zero_pad(c: _Context, layer: ZeroPad, x: _Value, out_shape: tuple) -> _Value:
    from ..layers.base import explicit_pairs

    g = c.g
    x = g.layout(x, CF)
    pairs = explicit_pairs(layer.padding, x.rank - 1)
    return _Value(_mode_pad(g, layer, x, pairs, layer.name), CF, out_shape)


#: ONNX Pad's mode of each padding_mode; circular is Pad's "wrap", new in opset 19
ONNX_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}


def _mode_pad(g: _Graph, layer: Conv | ZeroPad, x: _Value, pairs: list[tuple[Any, Any]], name: str) -> str:
    """A Pad node of the layer's padding mode on the channels-first ``x``."""
    if layer.padding_mode not in ONNX_PAD_MODES:
        raise CnnCalcError(f"padding_mode {layer.padding_mode} has no ONNX export at opset {OPSET} (Pad's wrap "
                           "mode is in opset 19)", layer=layer.name, index=layer.index, field="padding_mode",
                           got=layer.padding_mode, expected="zeros, reflect or replicate")
    pads = [0, 0, *(int(b) for b, _ in pairs), 0, 0, *(int(a) for _, a in pairs)]
    mode = ONNX_PAD_MODES[layer.padding_mode]
    return g.node("Pad", [x.name, g.ints(f"{name}/pads", pads)], name, **({"mode": mode} if mode != "constant" else {}))


@rules.layer("crop")
def _crop(c: _Context, layer: Crop, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CF)
    dims = x.shape[:-1]
    pairs = layer.amounts(dims)
    starts = [int(b) for b, _ in pairs]
    ends = [int(n) - int(a) for n, (_, a) in zip(dims, pairs)]
    axes = list(range(2, 2 + len(dims)))
    out = g.node("Slice", [x.name, g.ints(f"{layer.name}/starts", starts), g.ints(f"{layer.name}/ends", ends),
                           g.ints(f"{layer.name}/axes", axes)], layer.name)
    return _Value(out, CF, out_shape)


@rules.layer("upsample")
def _upsample(c: _Context, layer: Upsample, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CF)
    sizes = [int(x.shape[-1]), *(int(d) for d in out_shape[:-1])]
    attrs: dict[str, Any] = ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                              "nearest_mode": "floor"} if layer.mode == "nearest" else
                             {"mode": "linear", "coordinate_transformation_mode": "half_pixel"})
    axes = list(range(1, x.rank + 1))
    out = g.node("Resize", [x.name, "", "", g.ints(f"{layer.name}/sizes", sizes)], layer.name, axes=axes, **attrs)
    return _Value(out, CF, out_shape)


@rules.layer("flatten")
def _flatten(c: _Context, layer: Flatten, x: _Value, out_shape: tuple) -> _Value:
    x = c.g.layout(x, CL)
    return _Value(c.g.node("Flatten", [x.name], layer.name, axis=1), CL, out_shape)


@rules.layer("reshape")
def _reshape(c: _Context, layer: Reshape, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CL)
    target = g.ints(f"{layer.name}/shape", [0, *(int(d) for d in layer.shape)])
    return _Value(g.node("Reshape", [x.name, target], layer.name), CL, out_shape)


@rules.layer("permute")
def _permute(c: _Context, layer: Permute, x: _Value, out_shape: tuple) -> _Value:
    x = c.g.layout(x, CL)
    perm = [0, *(int(a) % x.rank + 1 for a in layer.axes)]
    return _Value(c.g.node("Transpose", [x.name], layer.name, perm=perm), CL, out_shape)


@rules.layer("dense")
def _dense(c: _Context, layer: Dense, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CL)
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


@rules.layer("batchnorm")
def _batchnorm(c: _Context, layer: BatchNorm, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CF)
    w = c.weights[layer.name]
    channels = int(x.shape[-1])
    gamma = w.get("gamma", np.ones(channels))
    beta = w.get("beta", np.zeros(channels))
    parts = [g.const(f"{layer.name}.{key}", value) for key, value in
             (("gamma", gamma), ("beta", beta), ("mean", w["mean"]), ("var", w["var"]))]
    out = g.node("BatchNormalization", [x.name, *parts], layer.name, epsilon=float(layer.epsilon),
                 doc_string=f"cnncalc batchnorm, count_stats: {'true' if layer.count_stats else 'false'}")
    return _Value(out, CF, out_shape)


@rules.layer("layernorm")
def _layernorm(c: _Context, layer: LayerNorm, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CL)
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


@rules.layer("dropout")
def _dropout(c: _Context, layer: Dropout, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    ratio = g.const(f"{layer.name}/ratio", float(layer.rate))
    return _Value(g.node("Dropout", [x.name, ratio], layer.name), x.layout, out_shape)


@rules.layer("relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid",
             "mish", "softplus", "selu", "clip")
def _activation_layer(c: _Context, layer: Activation, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    options = layer.options
    if layer.type == "elu":
        out = g.node("Elu", [x.name], layer.name, alpha=float(options["alpha"]))
    elif layer.type == "hardsigmoid":
        out = g.node("HardSigmoid", [x.name], layer.name, alpha=float(options["alpha"]), beta=float(options["beta"]))
    elif layer.type == "selu":  # ONNX's default alpha and gamma are SELU's constants
        out = g.node("Selu", [x.name], layer.name)
    elif layer.type == "clip":
        out = g.node("Clip", [x.name, g.const(f"{layer.name}/min", options["min"]),
                              g.const(f"{layer.name}/max", options["max"])], layer.name)
    elif layer.type == "gelu" and options["approximate"] == "tanh":
        out = _gelu_tanh(g, x.name, layer.name)
    else:
        out = _activation(g, layer.type, x.name, layer.name, getattr(layer, "alpha", None))
    return _Value(out, x.layout, out_shape)


def _gelu_tanh(g: _Graph, x: str, name: str) -> str:
    """``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``, as torch.onnx writes it before opset 20 (``Gelu`` is 20's)."""
    square = g.node("Mul", [x, x], f"{name}/square")
    cube = g.node("Mul", [square, x], f"{name}/cube")
    term = g.node("Mul", [cube, g.const(f"{name}/c", 0.044715)], f"{name}/term")
    inner = g.node("Add", [x, term], f"{name}/inner")
    scaled = g.node("Mul", [inner, g.const(f"{name}/k", math.sqrt(2.0 / math.pi))], f"{name}/scaled")
    shifted = g.node("Add", [g.node("Tanh", [scaled], f"{name}/tanh"), g.const(f"{name}/one", 1.0)], f"{name}/add")
    product = g.node("Mul", [x, shifted], f"{name}/mul")
    return g.node("Mul", [product, g.const(f"{name}/half", 0.5)], name)


@rules.layer("softmax")
def _softmax(c: _Context, layer: Softmax, x: _Value, out_shape: tuple) -> _Value:
    axis = onnx_axis(layer.axis, x.rank, x.layout) if x.rank else 1
    return _Value(c.g.node("Softmax", [x.name], layer.name, axis=axis), x.layout, out_shape)


@rules.layer("prelu")
def _prelu(c: _Context, layer: PReLU, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    slope = c.weights[layer.name]["weight"]
    if x.layout == CF and x.rank >= 2:
        slope = slope.reshape(-1, *([1] * (x.rank - 1)))
    return _Value(g.node("PRelu", [x.name, g.const(f"{layer.name}.weight", slope)], layer.name), x.layout, out_shape)


@rules.layer("layer_scale")
def _layer_scale(c: _Context, layer: LayerScale, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    factor = c.weights[layer.name]["weight"]
    if x.layout == CF and x.rank >= 2:
        factor = factor.reshape(-1, *([1] * (x.rank - 1)))
    return _Value(g.node("Mul", [x.name, g.const(f"{layer.name}.weight", factor)], layer.name), x.layout,
                  out_shape)


@rules.layer("position_embedding")
def _position_embedding(c: _Context, layer: PositionEmbedding, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CL)
    table = g.const(f"{layer.name}.weight", c.weights[layer.name]["weight"])
    return _Value(g.node("Add", [x.name, table], layer.name), CL, out_shape)


@rules.merge("attention")
def _attention(c: _Context, layer: Attention, inputs: list[_Value], out_shape: tuple) -> _Value:
    """Tokens flattened to ``[N, T, d]`` (as the layer does), the ``Attention`` function, then the query's
    token axes back."""
    g = c.g
    w = c.weights[layer.name]
    roles = [g.layout(v, CL) for v in inputs]
    flat = []
    for k, role in enumerate(roles):
        if role.rank == 2:
            flat.append(role.name)
        else:
            target = g.ints(f"{layer.name}/tokens{k}", [0, -1, int(role.shape[-1])])
            flat.append(g.node("Reshape", [role.name, target], f"{layer.name}/flatten{k}"))
    query = flat[0]
    value = flat[1] if len(flat) > 1 else query
    key = flat[2] if len(flat) > 2 else value
    weights = [g.const(f"{layer.name}.{part}.weight", w[f"{part}.weight"]) for part in ("query", "key", "value",
                                                                                         "output")]
    zeros = {"query": w["query.weight"].shape[1:], "key": w["key.weight"].shape[1:],
             "value": w["value.weight"].shape[1:], "output": w["output.weight"].shape[-1:]}
    biases = [g.const(f"{layer.name}.{part}.bias", w.get(f"{part}.bias", np.zeros(zeros[part])))
              for part in ("query", "key", "value", "output")]
    final = layer.name if roles[0].rank == 2 else f"{layer.name}/attention"
    out = g.custom("Attention", [query, value, key, *weights, *biases], final, heads=int(layer.heads),
                   bias=int(bool(layer.bias)))
    if roles[0].rank != 2:
        out = g.node("Reshape", [out, g.ints(f"{layer.name}/shape", [0, *(int(d) for d in out_shape)])], layer.name)
    return _Value(out, CL, out_shape)


@rules.layer("class_token")
def _class_token(c: _Context, layer: ClassToken, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CL)
    token = g.const(f"{layer.name}.weight", c.weights[layer.name]["weight"])
    return _Value(g.custom("ClassToken", [x.name, token], layer.name), CL, out_shape)


@rules.layer("embedding")
def _embedding(c: _Context, layer: Embedding, x: _Value, out_shape: tuple) -> _Value:
    """The ids (floats, as every cnncalc input) cast to integers, then rows of the table."""
    g = c.g
    x = g.layout(x, CL)
    from onnx import TensorProto

    ids = g.node("Cast", [x.name], f"{layer.name}/ids", to=TensorProto.INT64)
    table = g.const(f"{layer.name}.weight", c.weights[layer.name]["weight"])
    return _Value(g.node("Gather", [table, ids], layer.name, axis=0), CL, out_shape)


@rules.layer("groupnorm")
def _groupnorm(c: _Context, layer: GroupNorm, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CL)
    w = c.weights[layer.name]
    channels = int(x.shape[-1])
    gamma = g.const(f"{layer.name}.gamma", w.get("gamma", np.ones(channels)))
    beta = g.const(f"{layer.name}.beta", w.get("beta", np.zeros(channels)))
    out = g.custom("GroupNorm", [x.name, gamma, beta], layer.name, groups=int(layer.groups),
                   epsilon=float(layer.epsilon), center=int(bool(layer.center)), scale=int(bool(layer.scale)))
    return _Value(out, CL, out_shape)


@rules.layer("normalize")
def _normalize(c: _Context, layer: Activation, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CF)
    flat = [0, int(x.shape[-1]), -1] if x.rank >= 2 else [0, 1, -1]  # one sample axis: min-max over it
    return _Value(g.custom("Normalize", [x.name, g.ints(f"{layer.name}/flat_shape", flat)], layer.name), x.layout,
                  out_shape)


@rules.layer("lrn")
def _lrn(c: _Context, layer: LocalResponseNorm, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CF)
    out = g.node("LRN", [x.name], layer.name, size=int(layer.size), alpha=float(layer.alpha),
                 beta=float(layer.beta), bias=float(layer.k))
    return _Value(out, CF, out_shape)


@rules.layer("channel_shuffle")
def _channel_shuffle(c: _Context, layer: ChannelShuffle, x: _Value, out_shape: tuple) -> _Value:
    """As torchvision writes it: view [N, g, C/g, ...], swap the two, view back."""
    g = c.g
    x = g.layout(x, CF)
    channels, groups = int(x.shape[-1]), int(layer.groups)
    spatial = [int(d) for d in x.shape[:-1]]
    split = g.node("Reshape", [x.name, g.ints(f"{layer.name}/split", [0, groups, channels // groups, *spatial])],
                   f"{layer.name}/split")
    perm = [0, 2, 1, *range(3, 3 + len(spatial))]
    swapped = g.node("Transpose", [split], f"{layer.name}/swap", perm=perm)
    out = g.node("Reshape", [swapped, g.ints(f"{layer.name}/merge", [0, channels, *spatial])], layer.name)
    return _Value(out, CF, out_shape)


@rules.layer("pixel_shuffle")
def _pixel_shuffle(c: _Context, layer: PixelShuffle, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
    x = g.layout(x, CF)
    out = g.node("DepthToSpace", [x.name], layer.name, blocksize=int(layer.factor), mode=layer.mode.upper())
    return _Value(out, CF, out_shape)


@rules.layer("pixel_unshuffle")
def _pixel_unshuffle(c: _Context, layer: PixelUnshuffle, x: _Value, out_shape: tuple) -> _Value:
    """dcr is ONNX's SpaceToDepth; crd as torch.onnx writes PixelUnshuffle: view [N, C, H, r, W, r], move the
    two offsets after the channel, view back."""
    g = c.g
    x = g.layout(x, CF)
    r = int(layer.factor)
    if layer.mode == "dcr":
        return _Value(g.node("SpaceToDepth", [x.name], layer.name, blocksize=r), CF, out_shape)
    channels, h, w = int(x.shape[-1]), int(out_shape[0]), int(out_shape[1])
    split = g.node("Reshape", [x.name, g.ints(f"{layer.name}/split", [0, channels, h, r, w, r])],
                   f"{layer.name}/split")
    moved = g.node("Transpose", [split], f"{layer.name}/move", perm=[0, 1, 3, 5, 2, 4])
    out = g.node("Reshape", [moved, g.ints(f"{layer.name}/merge", [0, channels * r * r, h, w])], layer.name)
    return _Value(out, CF, out_shape)


@rules.layer("slice")
def _slice(c: _Context, layer: Slice, x: _Value, out_shape: tuple) -> _Value:
    g = c.g
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


@rules.merge("add", "multiply", "subtract", "maximum", "minimum", "average")
def _merge(c: _Context, layer: Merge, inputs: list[_Value], out_shape: tuple) -> _Value:
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


@rules.merge("concat")
def _concat(c: _Context, layer: Concat, inputs: list[_Value], out_shape: tuple) -> _Value:
    g = c.g
    xs = _same_layout(g, inputs)
    layout = xs[0].layout
    out = g.node("Concat", [x.name for x in xs], layer.name, axis=onnx_axis(layer.axis, xs[0].rank, layout))
    return _Value(out, layout, out_shape)


# ---------------------------------------------------------------- the model


def unexportable(network: Network) -> list[str]:
    """'layer 3 'n1' (normalize): why' for every layer with no ONNX export."""
    return [f"layer {layer.index} '{layer.name}' ({layer.type}): {rules.why_not(layer.type)}"
            for layer in network.layers if layer.type not in rules]


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
        inputs = [values[s] for s in layer.inputs]
        try:
            if (merge := rules.merge_rule(layer.type)) is not None:
                values[layer.name] = merge(context, layer, inputs, shapes[layer.name])
            else:
                rule = rules.layer_rule(layer.type)
                assert rule is not None  # (unexportable() found none missing)
                values[layer.name] = rule(context, layer, inputs[0], shapes[layer.name])
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
    opsets = [helper.make_opsetid("", OPSET)]
    if g.functions:
        opsets.append(helper.make_opsetid(FUNCTION_DOMAIN, 1))
    model = helper.make_model(graph, producer_name="cnncalc", opset_imports=opsets,
                              functions=[g.functions[name] for name in sorted(g.functions)])
    model.ir_version = min(model.ir_version, 8)  # readable by onnxruntime releases back to 1.14
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:  # noqa: BLE001 - the checker's own exception types vary across releases
        raise CnnCalcError(f"the exported model fails onnx.checker: {str(error).splitlines()[0][:300]}") from None
    return model


def _graph_name(name: str) -> str:
    return name if name.isprintable() else "cnncalc"


def save_onnx(model: Any, path: str, inputs: tuple[str | None, ...] = ()) -> int:
    """Write by the rules of :func:`cnncalc.outputs.write_output`; returns the number of bytes."""
    from ..outputs import write_output

    return write_output(path, model.SerializeToString(), inputs=inputs)
