"""The ONNX importer's registry (cnncalc/interop/onnx/registry.py): every operator cnncalc's exporter writes has
a rule; every layer type is made by some rule or listed in NOT_IMPORTED with its reason; each rule makes only
the layer types it declares, and makes each of them somewhere; and each family of rules (a module of
cnncalc/interop/onnx/ops/) is reached by a round trip whose summary totals are the original's."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper

from cnncalc import analyse, load_spec, loads_spec
from cnncalc.interop.onnx import ops, registry
from cnncalc.interop.onnx.registry import NOT_IMPORTED, RULES, WALK_MAKES, handled, made_layer_types
from cnncalc.interop.onnx_export import export_onnx
from cnncalc.interop.onnx_import import import_model, network_of
from cnncalc.layers import LAYER_TYPES
from cnncalc.layers.base import ACTIVATIONS

#: the specs that use every layer type (tests/test_golden.py keeps them so)
EVERY_TYPE = sorted((Path(__file__).parent / "data" / "layers").glob("*.yaml"))
#: every fused activation, each written after its layer's node as ``<layer>/<kind>``
FUSED = "input: [6]\nlayers:\n" + "".join(f"  - {{type: dense, name: d_{kind}, units: 3, activation: {kind}}}\n"
                                           for kind in ACTIVATIONS)


def _exportable(path: Path) -> Any:
    """The spec with the layers of the types the ONNX export refuses (each a leaf of its spec) left out."""
    from cnncalc.interop.onnx_export import UNSUPPORTED

    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not any(f"type: {kind}," in line for kind in UNSUPPORTED)]
    network = loads_spec("\n".join(kept))
    assert len(network.layers) == len(load_spec(str(path)).layers) - (len(lines) - len(kept))
    return network


def _exported() -> list[Any]:
    return [export_onnx(_exportable(path), seed=0) for path in EVERY_TYPE] + [export_onnx(loads_spec(FUSED), seed=0)]


# ---------------------------------------------------------------- (a) every operator the exporter writes


def test_every_operator_cnncalc_exports_has_a_rule():
    written = {(node.domain, node.op_type) for model in _exported() for node in model.graph.node}
    assert len(written) > 40  # the every-type specs write most of ONNX's operators cnncalc uses
    assert sorted(op for op in written if not handled(op[1], op[0])) == []


def test_an_operator_without_a_rule_is_named_as_before(cli, tmp_path):
    """The registry's gap is the same refusal as ever: the node, its operator and inputs, then the hint."""
    assert "Acos" not in registry.HANDLERS and "Acos" not in registry.PATTERNS
    node = helper.make_node("Acos", ["x"], ["y"], name="e")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "acos.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    code, _, err = cli("summary", str(path))
    assert code == 2
    assert err.strip() == (f"error: {path}: node 'e' (Acos, inputs ['x']): operator has no cnncalc equivalent; "
                           "--lenient passes it through as a flagged layer that keeps its input's shape")


# ---------------------------------------------------------------- (b) every layer type has an import path


def _gaps(layer_types: dict[str, Any], made: set[str], not_imported: dict[str, str]) -> list[str]:
    """Layer types no rule makes and NOT_IMPORTED does not list. A ranked spelling (conv2d) is made when its
    unranked type is: ONNX has one operator for every rank, imported as the unranked type."""
    def covered(kind: str) -> bool:
        cls = layer_types[kind]
        if kind in getattr(cls, "rank_of_type", {}):
            return any(other in made for other, c in layer_types.items() if c is cls and other not in cls.rank_of_type)
        return kind in made

    return sorted(kind for kind in layer_types if not covered(kind) and kind not in not_imported)


def test_every_layer_type_imports_or_is_listed_with_its_reason():
    gaps = _gaps(LAYER_TYPES, made_layer_types(), NOT_IMPORTED)
    assert gaps == [], (f"no ONNX import makes {', '.join(gaps)}: register a handler that makes it "
                        "(cnncalc/interop/onnx/ops/) or say why not in NOT_IMPORTED (cnncalc/interop/onnx/registry.py)")
    assert all(reason.strip() for reason in NOT_IMPORTED.values())
    assert sorted(set(NOT_IMPORTED) - set(LAYER_TYPES)) == []  # no stale entry
    assert sorted(set(NOT_IMPORTED) & made_layer_types()) == []  # and none a rule makes


def test_the_gap_check_names_a_type_without_an_import():
    class Wobble:
        rank_of_type: dict[str, int] = {}

    class Conv:
        rank_of_type = {"conv2d": 2}

    types = {"relu": Wobble, "wobble": Wobble, "conv": Conv, "conv2d": Conv}
    assert _gaps(types, {"relu", "conv"}, {}) == ["wobble"]
    assert _gaps(types, {"relu"}, {"wobble": "no ONNX operator"}) == ["conv", "conv2d"]
    assert _gaps(types, {"relu", "conv"}, {"wobble": "no ONNX operator"}) == []


# ---------------------------------------------------------------- rules as they run


@pytest.fixture()
def reached(monkeypatch):
    """Each rule's function → the layer types it made while it ran (patterns: only when they matched)."""
    made: dict[Any, set[str]] = defaultdict(set)

    def recording(function: Any, pattern: bool) -> Any:
        def run(im: Any, *args: Any) -> Any:
            before = len(im.layers)
            result = function(im, *args)
            if result or not pattern:
                made[function].update(entry["type"] for entry in im.layers[before:])
            return result

        return run

    for table in (registry.HANDLERS, registry.FUNCTION_HANDLERS):
        for op, function in list(table.items()):
            monkeypatch.setitem(table, op, recording(function, False))
    for op, patterns in list(registry.PATTERNS.items()):
        monkeypatch.setitem(registry.PATTERNS, op, [recording(function, True) for function in patterns])
    return made


def _totals(network: Any) -> tuple[Any, ...]:
    summary = analyse(network)
    return summary.trainable, summary.non_trainable, summary.macs, summary.records[-1].output_shape


def _model(nodes: list[Any], shape: list[int], out_shape: list[int], initializers: list[Any], opset: int = 17) -> Any:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, out_shape)],
                              initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _legacy_model() -> Any:
    """Opset 9: Pad and Slice with attributes, a Softmax flattening from axis 1 (torch.onnx's older forms)."""
    nodes = [helper.make_node("Pad", ["x"], ["p"], name="pad", pads=[0, 0, 1, 1, 0, 0, 1, 1], value=0.0),
             helper.make_node("Slice", ["p"], ["s"], name="sl", starts=[1], ends=[3], axes=[1]),
             helper.make_node("Slice", ["s"], ["c"], name="crop", starts=[1, 1], ends=[7, 7], axes=[2, 3]),
             helper.make_node("Softmax", ["c"], ["y"], name="sm", axis=1)]
    return _model(nodes, [1, 4, 6, 6], [1, 2, 6, 6], [], opset=9)


def _reduce_model() -> Any:
    """Reductions with axes as an attribute (opset 17): one spatial axis kept, then both, then without keepdims."""
    nodes = [helper.make_node("ReduceMax", ["x"], ["a"], name="rows", axes=[2], keepdims=1),
             helper.make_node("ReduceMean", ["a"], ["b"], name="gap", axes=[2, 3]),
             helper.make_node("ReduceMax", ["b"], ["y"], name="gmp", axes=[-1, -2], keepdims=0)]
    return _model(nodes, [1, 4, 6, 6], [1, 4], [])


def _reduce_axes_input_model() -> Any:
    """ReduceMean with axes as an input (opset 18), over one spatial axis, without keepdims."""
    axes = numpy_helper.from_array(np.array([3], dtype=np.int64), "axes")
    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["y"], name="rm", keepdims=0)]
    return _model(nodes, [1, 4, 6, 6], [1, 4, 6], [axes], opset=18)


def _dynamo_model() -> Any:
    """torch.onnx's dynamo forms: a chunk as SplitToSequence and SequenceAt, the exact gelu with its half first."""
    def scalar(name: str, value: float) -> Any:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(value, np.float32)))

    nodes = [scalar("root2", 2 ** 0.5), scalar("one", 1.0), scalar("half", 0.5),
             helper.make_node("Constant", [], ["two"], value=numpy_helper.from_array(np.array(2, np.int64))),
             helper.make_node("Constant", [], ["first"], value=numpy_helper.from_array(np.array(0, np.int64))),
             helper.make_node("Constant", [], ["second"], value=numpy_helper.from_array(np.array(-1, np.int64))),
             helper.make_node("SplitToSequence", ["x", "two"], ["parts"], name="split", axis=1),
             helper.make_node("SequenceAt", ["parts", "first"], ["a"], name="a"),
             helper.make_node("SequenceAt", ["parts", "second"], ["b"], name="b"),
             helper.make_node("Concat", ["b", "a"], ["c"], name="swap", axis=1),
             helper.make_node("Div", ["c", "root2"], ["d"], name="scaled"),
             helper.make_node("Erf", ["d"], ["e"], name="erf"),
             helper.make_node("Add", ["e", "one"], ["f"], name="plus"),
             helper.make_node("Mul", ["half", "f"], ["g"], name="halved"),
             helper.make_node("Mul", ["c", "g"], ["y"], name="gelu")]
    return _model(nodes, [1, 4, 3, 3], [1, 4, 3, 3], [], opset=18)


def _as_strided_model() -> Any:
    """torch's as_strided of a batch-1 tensor: a Reshape to one axis, then a Gather of every index in order."""
    flat = numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat")
    indices = numpy_helper.from_array(np.arange(4, dtype=np.int64).reshape(1, 2, 2), "indices")
    nodes = [helper.make_node("Reshape", ["x", "flat"], ["f"], name="flatten_all"),
             helper.make_node("Gather", ["f", "indices"], ["y"], name="strided", axis=0)]
    return _model(nodes, [1, 4, 1, 1], [1, 2, 2], [flat, indices])


def _resize_model() -> Any:
    """Resize as torch.onnx writes nearest (scales) and bilinear (sizes) upsampling."""
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    sizes = numpy_helper.from_array(np.array([1, 3, 20, 12], dtype=np.int64), "sizes")
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["a"], name="near", mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
             helper.make_node("Resize", ["a", "", "", "sizes"], ["y"], name="lin", mode="linear",
                              coordinate_transformation_mode="pytorch_half_pixel")]
    return _model(nodes, [1, 3, 5, 5], [1, 3, 20, 12], [scales, sizes])


def _split_model() -> Any:
    """Split as torch.onnx writes it (cnncalc's exporter never does): the channels in two halves, concatenated
    the other way round, then a Reshape to [N, -1] (a flatten of the ONNX order, after a permute)."""
    sizes = numpy_helper.from_array(np.array([2, 2], dtype=np.int64), "sizes")
    flat = numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "flat")
    nodes = [helper.make_node("Split", ["x", "sizes"], ["a", "b"], name="split", axis=1),
             helper.make_node("Concat", ["b", "a"], ["c"], name="swap", axis=1),
             helper.make_node("Reshape", ["c", "flat"], ["y"], name="flat")]
    return _model(nodes, [1, 4, 3, 5], [1, 60], [sizes, flat])


def _alias_model() -> Any:
    """Identity and Cast (the same tensor), then a Dropout of the default rate."""
    nodes = [helper.make_node("Identity", ["x"], ["a"], name="same"),
             helper.make_node("Cast", ["a"], ["b"], name="cast", to=TensorProto.FLOAT),
             helper.make_node("Dropout", ["b"], ["y"], name="drop")]
    return _model(nodes, [1, 4], [1, 4], [])


def _fixed_affine_model() -> Any:
    """A scalar factor, then an offset per feature, on [N, 3, 4] (numbers in PyTorch code: no parameters; an
    offset of the tensor's whole shape is a position_embedding)."""
    nodes = [helper.make_node("Mul", ["x", "half"], ["a"], name="scale"),
             helper.make_node("Add", ["a", "shift"], ["y"], name="shift")]
    return _model(nodes, [1, 3, 4], [1, 3, 4], [numpy_helper.from_array(np.array(0.5, dtype=np.float32), "half"),
                                          numpy_helper.from_array(np.arange(4, dtype=np.float32), "shift")])


def _lrn_model() -> Any:
    """LocalResponseNorm(4, alpha=0.01, beta=0.5, k=2) as torch.onnx's dynamo exporter writes it."""
    def ints(name: str, values: list[int]) -> Any:
        return numpy_helper.from_array(np.array(values, dtype=np.int64), name)

    def scalar(name: str, value: float) -> Any:
        return numpy_helper.from_array(np.array(value, dtype=np.float32), name)

    nodes = [helper.make_node("Mul", ["x", "x"], ["sq"], name="sq"),
             helper.make_node("Reshape", ["sq", "five"], ["view"], name="view"),
             helper.make_node("Pad", ["view", "pads"], ["pad"], name="pad"),
             helper.make_node("AveragePool", ["pad"], ["avg"], name="avg", kernel_shape=[4, 1, 1]),
             helper.make_node("Squeeze", ["avg", "one"], ["sum"], name="squeeze"),
             helper.make_node("Mul", ["sum", "alpha"], ["scaled"], name="scaled"),
             helper.make_node("Add", ["k", "scaled"], ["base"], name="base"),
             helper.make_node("Pow", ["base", "beta"], ["den"], name="den"),
             helper.make_node("Div", ["x", "den"], ["y"], name="lrn")]
    return _model(nodes, [1, 5, 3, 2], [1, 5, 3, 2],
                  [ints("five", [1, 1, 5, 3, 2]), ints("pads", [0, 0, 2, 0, 0, 0, 0, 1, 0, 0]), ints("one", [1]),
                   scalar("alpha", 0.01), scalar("k", 2.0), scalar("beta", 0.5)])


def _norm_model() -> Any:
    """InstanceNormalization as torch.onnx writes InstanceNorm2d (its ones and zeros Constant nodes, the legacy
    exporter's), then GroupNorm(2, 4) as it writes that (its Constants after the Reshape): Reshape [0, 2, -1],
    InstanceNormalization, Reshape to the input's Shape, Mul gamma, Add beta."""
    def constant(name: str, value: Any) -> Any:
        return helper.make_node("Constant", [], [name], name=f"/{name}", value=numpy_helper.from_array(value, name))

    ones, zeros = np.ones(4, dtype=np.float32), np.zeros(4, dtype=np.float32)
    nodes = [constant("one4", ones), constant("zero4", zeros),
             helper.make_node("InstanceNormalization", ["x", "one4", "zero4"], ["i"], name="inorm", epsilon=1e-5),
             constant("groups", np.array([0, 2, -1], dtype=np.int64)),
             helper.make_node("Reshape", ["i", "groups"], ["r"], name="gn/reshape"),
             constant("one2", ones[:2]), constant("zero2", zeros[:2]),
             helper.make_node("InstanceNormalization", ["r", "one2", "zero2"], ["n"], name="gn/norm", epsilon=1e-5),
             helper.make_node("Shape", ["i"], ["shape"], name="gn/shape"),
             helper.make_node("Reshape", ["n", "shape"], ["b"], name="gn/back"),
             helper.make_node("Mul", ["b", "gamma"], ["m"], name="gn/mul"),
             helper.make_node("Add", ["m", "beta"], ["y"], name="gn")]
    gamma = numpy_helper.from_array(np.arange(1, 5, dtype=np.float32).reshape(4, 1, 1), "gamma")
    beta = numpy_helper.from_array(np.arange(4, dtype=np.float32).reshape(4, 1, 1), "beta")
    return _model(nodes, [1, 4, 3, 5], [1, 4, 3, 5], [gamma, beta])


def _class_token_model() -> Any:
    """ViT's class token and position embedding as torch.onnx writes them: Concat(token, x) on [N, T, d], the
    token's Expand over the batch folded to a [1, 1, d] constant, then Add of a [1, T + 1, d] table."""
    token = numpy_helper.from_array(np.arange(8, dtype=np.float32).reshape(1, 1, 8), "token")
    table = numpy_helper.from_array(np.ones((1, 5, 8), dtype=np.float32), "table")
    nodes = [helper.make_node("Concat", ["token", "x"], ["c"], name="cls", axis=1),
             helper.make_node("Add", ["c", "table"], ["y"], name="pos")]
    return _model(nodes, [1, 4, 8], [1, 5, 8], [token, table])


def _gather_model() -> Any:
    """One entry of an axis (ViT's ``x[:, 0]``), twice: Gather of a scalar index, a slice and the axis dropped (a
    reshape, then a flatten); the input is read channels first, so the first is of its last axis."""
    first, second = (numpy_helper.from_array(np.array(k, dtype=np.int64), f"i{k}") for k in (0, 2))
    nodes = [helper.make_node("Gather", ["x", "i0"], ["t"], name="token", axis=1),
             helper.make_node("Gather", ["t", "i2"], ["y"], name="feature", axis=2)]
    return _model(nodes, [1, 5, 4, 3], [1, 4], [first, second])


def _attention_model() -> Any:
    """nn.MultiheadAttention(8, 2, batch_first=True) as torch.onnx's legacy exporter writes it (a fixture)."""
    return onnx.load(str(Path(__file__).parent / "data" / "onnx" / "mha_legacy17.onnx"))


def _window_model() -> Any:
    """torchvision's ShiftedWindowAttention(8, [2, 2], [1, 1], 2) as the legacy exporter writes it (a fixture)."""
    return onnx.load(str(Path(__file__).parent / "data" / "onnx" / "swin_attention_legacy17.onnx"))


def _window_v2_model() -> Any:
    """Two of torchvision's SwinTransformerBlockV2 (not shifted, shifted) as the dynamo exporter writes them."""
    return onnx.load(str(Path(__file__).parent / "data" / "onnx" / "swin_v2_blocks_dynamo20.onnx"))


#: Swin V2's post-norm block on the file's NHWC input, read as NCHW: x + norm(attn(x)), then x + norm(mlp(x))
_V2_BLOCK = """
  - {{type: window_attention_v2, name: w{k}, heads: 2, window: 3, {shift}hidden: 336}}
  - {{type: layernorm, name: n{k}}}
  - {{type: permute, name: n{k}p, axes: [1, 2, 0]}}
  - {{type: add, name: a{k}, inputs: [{before}, n{k}p]}}
  - {{type: permute, name: a{k}p, axes: [2, 0, 1]}}
  - {{type: dense, name: d{k}, units: 8}}
  - {{type: gelu, name: g{k}}}
  - {{type: dense, name: e{k}, units: 8}}
  - {{type: layernorm, name: m{k}}}
  - {{type: permute, name: m{k}p, axes: [1, 2, 0]}}
  - {{type: add, name: b{k}, inputs: [a{k}, m{k}p]}}"""
_V2_SPEC = ("input: [5, 8, 5]\nlayers:\n  - {type: permute, name: p, axes: [2, 0, 1]}"
            + _V2_BLOCK.format(k=0, shift="", before="input")
            + "\n  - {type: permute, name: q, axes: [2, 0, 1]}" + _V2_BLOCK.format(k=1, shift="shift: 1, ", before="b0"))


#: per family (module of cnncalc/interop/onnx/ops/), specs that reach each of its rules through cnncalc's
#: exporter, and ONNX forms the exporter never writes with the spec each imports as
FAMILIES: dict[str, list[Any]] = {
    "attention": [(_attention_model, "input: [5, 8]\nlayers: [{type: attention, name: attention, heads: 2}]")],
    # the file's [1, 4, 4, 8] input is NHWC, which the import reads as NCHW: permuted for the layer and back
    "window": [(_window_model, ("input: [4, 8, 4]\nlayers: [{type: permute, axes: [2, 0, 1]}, {type: window_attention, "
                                "name: w, heads: 2, window: 2, shift: 1}, {type: permute, axes: [1, 2, 0]}]")),
               (_window_v2_model, _V2_SPEC)],
    "activation": ["""
input: [6, 6, 3]
layers:
  - {type: relu, name: r}
  - {type: gelu, name: g}
  - {type: silu, name: s}
  - {type: relu6, name: r6}
  - {type: prelu, name: p}
  - {type: softmax, name: sm, axis: 0}
"""],
    "conv": ["""
input: [9, 9, 4]
layers:
  - {type: conv, name: c, filters: 6, kernel: 3, stride: 2, activation: relu}
  - {type: depthwise_conv, name: dw, kernel: 3, multiplier: 2, padding: same}
  - {type: separable_conv, name: sep, filters: 5, kernel: 3}
  - {type: conv_transpose, name: up, filters: 3, kernel: 2, stride: 2}
"""],
    "dense": ["""
input: [5, 4]
layers:
  - {type: dense, name: tokens, units: 3}
  - {type: flatten, name: f}
  - {type: dense, name: out, units: 2, activation: softmax}
"""],
    "elementwise": ["""
input: [4, 4, 3]
layers:
  - {type: layer_scale, name: ls}
  - {type: position_embedding, name: pos}
  - {type: dropout, name: d, rate: 0.25}
  - {type: add, name: a, inputs: [ls, d]}
  - {type: multiply, name: m, inputs: [a, pos]}
  - {type: subtract, name: s, inputs: [m, a]}
  - {type: maximum, name: mx, inputs: [s, m]}
  - {type: minimum, name: mn, inputs: [mx, s]}
  - {type: average, name: av, inputs: [mn, mx, a]}
""", (_alias_model, "input: [4]\nlayers: [{type: dropout, name: drop, rate: 0.5}]"), (_fixed_affine_model, """
input: [3, 4]
layers:
  - {type: batchnorm, name: scale, center: false, scale: false, count_stats: false, epsilon: 0}
  - {type: batchnorm, name: shift, center: false, scale: false, count_stats: false, epsilon: 0}
""")],
    "functions": ["""
input: [6, 7, 8]
layers:
  - {type: groupnorm, name: gn, groups: 4}
  - {type: normalize, name: nz}
  - {type: adaptive_avgpool, name: aa, size: [4, 3]}
  - {type: adaptive_maxpool, name: am, size: [3, 2]}
  - {type: reshape, name: tok, shape: [6, 8]}
  - {type: class_token, name: ct}
  - {type: attention, name: at, heads: 2}
"""],
    "dynamo": [(_dynamo_model, """
input: [3, 3, 4]
layers:
  - {type: slice, name: a, axis: -1, start: 0, stop: 2}
  - {type: slice, name: b, inputs: input, axis: -1, start: 2, stop: 4}
  - {type: concat, name: swap, inputs: [b, a]}
  - {type: gelu, name: gelu}
"""), (_as_strided_model, """
input: [1, 1, 4]
layers:
  - {type: permute, name: nchw, axes: [2, 0, 1]}
  - {type: reshape, name: strided, shape: [2, 2]}
""")],
    "legacy": [(_legacy_model, """
input: [6, 6, 4]
layers:
  - {type: zero_pad, name: pad, padding: 1}
  - {type: slice, name: sl, axis: -1, start: 1, stop: 3}
  - {type: crop, name: crop, cropping: 1}
  - {type: permute, name: nchw, axes: [2, 0, 1]}
  - {type: flatten, name: flat}
  - {type: softmax, name: sm}
  - {type: reshape, name: back, shape: [2, 6, 6]}
  - {type: permute, name: nhwc, axes: [1, 2, 0]}
""")],
    "reduce": [(_reduce_model, """
input: [6, 6, 4]
layers:
  - {type: maxpool, name: rows, kernel: [6, 1], stride: 1}
  - {type: global_avgpool, name: gap, keepdims: true}
  - {type: global_maxpool, name: gmp}
"""), (_reduce_axes_input_model, """
input: [6, 6, 4]
layers:
  - {type: avgpool, name: rm.pool, kernel: [1, 6], stride: 1}
  - {type: permute, name: nchw, axes: [2, 0, 1]}
  - {type: reshape, name: rm, shape: [4, 6]}
""")],
    "resize": [(_resize_model, """
input: [5, 5, 3]
layers:
  - {type: upsample, name: near, scale: 2}
  - {type: upsample, name: lin, size: [20, 12], mode: linear}
""")],
    "norm": ["""
input: [6, 6, 4]
layers:
  - {type: batchnorm, name: bn}
  - {type: lrn, name: lrn, size: 3}
  - {type: layernorm, name: ln}
""", (_lrn_model, """
input: [3, 2, 5]
layers:
  - {type: lrn, name: lrn, size: 4, alpha: 0.01, beta: 0.5, k: 2}
"""), (_norm_model, """
input: [3, 5, 4]
layers:
  - {type: groupnorm, name: inorm, groups: 4, center: false, scale: false}
  - {type: groupnorm, name: gn, groups: 2}
""")],
    "pool": ["""
input: [8, 8, 3]
layers:
  - {type: maxpool, name: mp, kernel: 2}
  - {type: avgpool, name: ap, kernel: 3, stride: 1, padding: 1}
  - {type: global_avgpool, name: gap, keepdims: true}
  - {type: global_maxpool, name: gmp, inputs: ap}
"""],
    "shape": [(_class_token_model, """
input: [4, 8]
layers:
  - {type: class_token, name: cls}
  - {type: position_embedding, name: pos}
"""), """
input: [8, 8, 4]
layers:
  - {type: zero_pad, name: pad, padding: 1}
  - {type: crop, name: crop, cropping: [[1, 0], [0, 1]]}
  - {type: upsample, name: up, scale: 2}
  - {type: channel_shuffle, name: cs, groups: 2}
  - {type: pixel_unshuffle, name: pu, factor: 2}
  - {type: pixel_shuffle, name: ps, factor: 2, mode: dcr}
  - {type: slice, name: sl, axis: -1, start: 1, stop: 3}
  - {type: concat, name: cat, inputs: [sl, ps]}
  - {type: permute, name: pe, axes: [2, 0, 1]}
  - {type: reshape, name: rs, shape: [6, -1]}
  - {type: flatten, name: fl}
""", "input: [9]\nlayers: [{type: embedding, name: words, vocab: 20, dim: 6}]", (_gather_model, """
input: [4, 3, 5]
layers:
  - {type: slice, name: token.slice, axis: -1, start: 0, stop: 1}
  - {type: permute, name: back, axes: [2, 0, 1]}
  - {type: reshape, name: token, shape: [4, 3]}
  - {type: slice, name: feature.slice, axis: -1, start: 2, stop: 3}
  - {type: flatten, name: feature}
"""), (_split_model, """
input: [3, 5, 4]
layers:
  - {type: slice, name: a, axis: -1, start: 0, stop: 2}
  - {type: slice, name: b, inputs: input, axis: -1, start: 2, stop: 4}
  - {type: concat, name: swap, inputs: [b, a]}
  - {type: permute, name: nchw, axes: [2, 0, 1]}
  - {type: flatten, name: flat}
""")],
}


def _imports(case: Any) -> tuple[Any, Any]:
    """(the model, the network it must import as) of a case: a spec, or a model and its spec."""
    if isinstance(case, str):
        network = loads_spec(case)
        return export_onnx(network, seed=0), network
    build, spec = case
    return build(), loads_spec(spec)


def _family_rules(module: Any) -> list[Any]:
    return [rule for rule in RULES if rule.function.__module__ == module.__name__]


def test_every_family_has_a_spec_and_every_rule_a_family():
    assert sorted(FAMILIES) == sorted(module.__name__.rsplit(".", 1)[-1] for module in ops.FAMILIES)
    assert sorted(rule.function.__name__ for rule in RULES if rule.function.__module__ not in
                  {module.__name__ for module in ops.FAMILIES}) == []


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_round_trips_through_its_rules(family, reached):
    module = next(m for m in ops.FAMILIES if m.__name__.endswith(f".{family}"))
    for case in FAMILIES[family]:
        model, network = _imports(case)
        imported = import_model(model, "m")
        assert _totals(network_of(imported, "m")) == _totals(network)
        if not isinstance(case, str):  # the layers themselves, as the spec names them
            assert [layer["type"] for layer in imported.spec["layers"]] == [layer.type for layer in network.layers]
    missed = sorted(rule.function.__name__ for rule in _family_rules(module) if rule.function not in reached)
    assert missed == [], f"no round trip of the {family} family reaches {', '.join(missed)}"


def test_each_rule_makes_what_it_declares_and_all_of_it(reached):
    """Every rule's layers, over every round trip here, against its ``makes``: none undeclared (a permute is
    the walk's), and each declared one made somewhere."""
    models = [*_exported(), *(_imports(case)[0] for cases in FAMILIES.values() for case in cases)]
    for model in models:
        import_model(model, "m")
    undeclared = {rule.function.__name__: sorted(reached[rule.function] - set(rule.makes) - set(WALK_MAKES))
                  for rule in RULES}
    assert {name: kinds for name, kinds in undeclared.items() if kinds} == {}
    never = {rule.function.__name__: sorted(set(rule.makes) - reached[rule.function]) for rule in RULES}
    assert {name: kinds for name, kinds in never.items() if kinds} == {}
    assert set(WALK_MAKES) <= {kind for kinds in reached.values() for kind in kinds}
