"""MaxViT's partition attention import (cnncalc.interop.onnx.ops.partition): the committed block (one window then
one grid partition attention layer on a 14 × 14 × 8 map, tests/data/onnx/maxvit_blocks_dynamo20.onnx) imports
with onnx's reference evaluator's numbers, each partition alone too; and each graph the importer refuses is
one clear CnnCalcError naming the node, never a traceback nor a silently wrong network.

The hostile graphs are that block changed in memory: a node inserted on the window partition's residual path
(its input ``_unsafe_view`` is the window view, [1, 4, 49, 8]: 4 windows of 7 × 7 pixels of the map; its output
replaces that view as the residual Add's input), or the partition itself changed.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from cnncalc import CnnCalcError
from cnncalc.interop.onnx_import import import_model, network_of
from cnncalc.run.executor import run

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

BLOCK = Path(__file__).parent / "data" / "onnx" / "maxvit_blocks_dynamo20.onnx"
LAYER = ["layernorm", "window_attention", "add", "layernorm", "dense", "gelu", "dense", "add"]
node = helper.make_node


@functools.cache
def _block_bytes() -> bytes:
    return onnx.load(str(BLOCK)).SerializeToString()  # its external data read in


def _block() -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.ParseFromString(_block_bytes())
    return model


def _ints(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _floats(shape: tuple[int, ...], value: float = 1.0) -> np.ndarray:
    return np.full(shape, value, dtype=np.float32)


def _insert(nodes: list, constants: dict | None = None, before: str = "node_add_1", feed: int | None = 0,
            model: onnx.ModelProto | None = None) -> onnx.ModelProto:
    """The block with ``nodes`` before node ``before``, the last one's output as that node's input ``feed``."""
    model = model or _block()
    names = [n.name for n in model.graph.node]
    at = names.index(before)
    for k, extra in enumerate(nodes):
        model.graph.node.insert(at + k, extra)
    if feed is not None:
        model.graph.node[at + len(nodes)].input[feed] = nodes[-1].output[0]
    for name, value in (constants or {}).items():
        model.graph.initializer.append(numpy_helper.from_array(value, name))
    return model


def _named(model: onnx.ModelProto, name: str):
    return next(n for n in model.graph.node if n.name == name)


def _only(model: onnx.ModelProto, first: str | None, last: str, shape: list[int]) -> onnx.ModelProto:
    """The block from the node after ``first`` (its output replaced by the input x) to the value ``last``."""
    names = [n.name for n in model.graph.node]
    end = next(k for k, n in enumerate(model.graph.node) if last in n.output)
    start = 0 if first is None else names.index(first) + 1
    if first is not None:
        dropped = _named(model, first).output[0]
        for kept in model.graph.node[start:end + 1]:
            for k, name in enumerate(kept.input):
                if name == dropped:
                    kept.input[k] = "x"
    kept = list(model.graph.node[start:end + 1])
    del model.graph.node[:]
    model.graph.node.extend(kept)
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info(last, TensorProto.FLOAT, shape))
    return model


def _window_only() -> onnx.ModelProto:
    # block 0's departition goes on into block 1's grid partition: end it at the map, [1, 8, 14, 14]
    model = _insert([node("Reshape", ["permute_6", "map_shape"], ["map"], name="departition")],
                    {"map_shape": _ints([1, 8, 14, 14])}, before="node_Reshape_181", feed=None)
    return _only(model, None, "map", [1, 8, 14, 14])


def _grid_only() -> onnx.ModelProto:
    # block 1 from its partition's first Reshape, which reads x ([1, 8, 14, 14]) where it read block 0's output
    return _only(_block(), "node_permute_6", "_unsafe_view_5", [1, 8, 14, 14])


def _numbers(model: onnx.ModelProto) -> tuple[np.ndarray, np.ndarray]:
    """(cnncalc's output, onnx's reference evaluator's), channels first, on a random input."""
    x = np.random.default_rng(0).standard_normal((1, 8, 14, 14)).astype(np.float32)
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    imported = import_model(model)
    out = run(network_of(imported, "block"), np.moveaxis(x.astype(np.float64), 1, -1), imported.weights).output
    return np.moveaxis(out, -1, 1), want


def _refused(model: onnx.ModelProto, lenient: bool = False) -> str:
    with pytest.raises(CnnCalcError) as caught:
        import_model(model, lenient=lenient)
    message = str(caught.value)
    assert "\n" not in message and "internal error" not in message and "malformed" not in message, message
    return message


# ---------------------------------------------------------------- what imports


@pytest.mark.parametrize(("model", "partitions"), [(_block, ["window", "grid"]), (_window_only, ["window"]),
                                                   (_grid_only, ["grid"])], ids=["both", "window", "grid"])
def test_a_window_and_a_grid_partition_attention_import_with_the_reference_numbers(model, partitions):
    built = model()
    layers = import_model(built).spec["layers"]
    assert [layer["type"] for layer in layers if layer["type"] not in ("reshape", "permute")] \
        == LAYER * len(partitions)
    assert [(layer["partition"], layer["window"], layer["heads"]) for layer in layers
            if layer["type"] == "window_attention"] == [(p, 7, 2) for p in partitions]
    out, want = _numbers(built)
    assert out.shape == want.shape == (1, 8, 14, 14)
    assert np.abs(out - want).max() < 1e-5 * np.abs(want).max()


VIEW = "_unsafe_view"  # the window view of x, [1, 4, 49, 8]


def _window_of_x(suffix: str, perm: list[int]) -> list:
    """x partitioned again into 4 windows of 7 × 7 ([1, 4, 49, 8]), listed in the order ``perm`` gives."""
    return [node("Reshape", ["x", "val_7"], [f"w1{suffix}"], name=f"w_view{suffix}"),
            node("Transpose", [f"w1{suffix}"], [f"w2{suffix}"], name=f"w_perm{suffix}", perm=perm),
            node("Reshape", [f"w2{suffix}", "val_13"], [f"w3{suffix}"], name=f"w_merge{suffix}")]


#: token-wise nodes on a view that import: each changes the block's numbers (the reference evaluator's)
TOKENWISE = {
    "add a channel constant": ([node("Add", [VIEW, "k"], ["h"], name="mix")],
                               {"k": np.linspace(-1, 1, 8, dtype=np.float32)}),
    "multiply by a [1, 1, 1, C] constant": ([node("Mul", [VIEW, "k"], ["h"], name="mix")],
                                            {"k": np.linspace(0.5, 2, 8, dtype=np.float32).reshape(1, 1, 1, 8)}),
    "LayerNormalization over axis 3": ([node("LayerNormalization", [VIEW, "s", "b"], ["h"], name="mix", axis=3)],
                                       {"s": _floats((8,), 2.0), "b": _floats((8,), 0.5)}),
    "a view of the same windows": (_window_of_x("", [0, 2, 4, 3, 5, 1])
                                   + [node("Mul", [VIEW, "w3"], ["h"], name="mix")], {}),
    "a Reshape that keeps the batch": ([node("Reshape", [VIEW, "s"], ["h1"], name="mix"),
                                        node("Sigmoid", ["h1"], ["h2"], name="sigmoid"),
                                        node("Reshape", ["h2", "val_13"], ["h"], name="back")],
                                       {"s": _ints([0, 0, -1, 8])}),
    "a Reshape with the batch as -1": ([node("Reshape", [VIEW, "s"], ["h1"], name="mix"),
                                        node("Tanh", ["h1"], ["h2"], name="tanh"),
                                        node("Reshape", ["h2", "val_13"], ["h"], name="back")],
                                       {"s": _ints([-1, 4, 49, 8])}),
}


@pytest.mark.parametrize("case", sorted(TOKENWISE))
def test_a_tokenwise_node_on_a_view_imports_on_the_map(case):
    nodes, constants = TOKENWISE[case]
    out, want = _numbers(_insert(nodes, constants))
    plain, _ = _numbers(_block())
    assert np.abs(out - plain).max() > 1e-2  # the node changes the output...
    assert np.abs(out - want).max() < 1e-5 * np.abs(want).max()  # ...as ONNX computes it


# ---------------------------------------------------------------- what is refused


GENERIC = "reads a partition of a map into groups of tokens (MaxViT's), which cnncalc imports only through"

#: hostile graphs: (nodes inserted, constants, the node refused, what its message says)
REFUSED = {
    "a window view added to a grid view of the same map": (
        [node("Reshape", ["x", "g_s1"], ["g1"], name="g_view"),
            node("Transpose", ["g1"], ["g2"], name="g_perm", perm=[0, 2, 4, 3, 5, 1]),
            node("Reshape", ["g2", "g_s2"], ["g3"], name="g_merge"),
            node("Transpose", ["g3"], ["g4"], name="g_swap", perm=[0, 2, 1, 3]),
            node("Add", [VIEW, "g4"], ["h"], name="mix")],
        {"g_s1": _ints([1, 8, 7, 2, 7, 2]), "g_s2": _ints([1, 49, 4, 8])},
        "mix", "a node combining two partitions of different tokens"),
    "the same windows in another order": (
        _window_of_x("", [0, 4, 2, 3, 5, 1]) + [node("Add", ["w3", VIEW], ["h"], name="mix")], {},
        "mix", "a node combining two partitions of different tokens"),
    "a view and a plain value": (
        [node("ReduceMean", ["x", "axes"], ["p1"], name="pool", keepdims=1),
         node("Transpose", ["p1"], ["p2"], name="channels_last", perm=[0, 2, 3, 1]),
         node("Add", [VIEW, "p2"], ["h"], name="mix")], {"axes": _ints([2, 3])},
        "mix", "a node combining a partition view with a value that is not one"),
    "a plain value and a view": (
        [node("Relu", ["x"], ["p1"], name="relu"), node("Reshape", ["p1", "val_13"], ["p2"], name="flat"),
         node("Add", ["p2", VIEW], ["h"], name="mix")], {},
        "mix", "a node combining a partition view with a value that is not one"),
    "a [G, T, 1] constant": ([node("Add", [VIEW, "k"], ["h"], name="mix")], {"k": _floats((4, 49, 1))},
                             "mix", "a constant of shape [4, 49, 1] with a partition view: not along the channels"),
    "a [1, T, C] constant": ([node("Mul", ["k", VIEW], ["h"], name="mix")], {"k": _floats((1, 49, 8))},
                             "mix", "a constant of shape [1, 49, 8] with a partition view: not along the channels"),
    "a MatMul by a 3-D constant": ([node("MatMul", [VIEW, "k"], ["h"], name="mix")], {"k": _floats((4, 8, 8))},
                                   "mix", "a MatMul of a partition view by a constant that is not a [C, C'] weight"),
    "a MatMul of a constant by a view": (
        [node("MatMul", ["k", VIEW], ["h"], name="mix")], {"k": _floats((49, 49))},
        "mix", "a MatMul of a partition view by a constant that is not a [C, C'] weight"),
    "a LayerNormalization over tokens and channels": (
        [node("LayerNormalization", [VIEW, "s", "b"], ["h"], name="mix", axis=-2)],
        {"s": _floats((49, 8)), "b": _floats((49, 8), 0.0)},
        "mix", "a LayerNormalization of a partition view over more than its channels"),
    "a Softmax over tokens": ([node("Softmax", [VIEW], ["h"], name="mix", axis=2)], {}, "mix", f"Softmax {GENERIC}"),
    "a ReduceMean over tokens": ([node("ReduceMean", [VIEW, "axes"], ["h"], name="mix", keepdims=1)],
                                 {"axes": _ints([2])}, "mix", f"ReduceMean {GENERIC}"),
    "a Conv over the view": ([node("Conv", [VIEW, "k"], ["h"], name="mix")], {"k": _floats((4, 4, 1, 1))},
                             "mix", f"Conv {GENERIC}"),
    "a Transpose moving the batch": (
        [node("Transpose", [VIEW], ["h1"], name="mix", perm=[1, 0, 2, 3]),
         node("Transpose", ["h1"], ["h"], name="back", perm=[1, 0, 2, 3])], {},
        "mix", "a Transpose of a partition view that moves the batch axis (got [1, 0, 2, 3])"),
    "a Reshape merging batch and tokens": (
        [node("Reshape", [VIEW, "s"], ["h1"], name="mix"), node("Reshape", ["h1", "val_13"], ["h"], name="back")],
        {"s": _ints([196, 8])}, "mix", "a Reshape of a partition view that does not keep the batch axis (got [196, 8])"),
    "a view as a Reshape's shape": (
        [node("Cast", [VIEW], ["i"], name="to_int", to=TensorProto.INT64),
         node("Reshape", ["k", "i"], ["h"], name="mix")], {"k": _floats((1, 4, 49, 8))},
        "mix", "a partition view is this node's shape, not its data"),
    "a token-wise node on tokens by channels": (
        [node("Transpose", [VIEW], ["t"], name="swap", perm=[0, 1, 3, 2]), node("Relu", ["t"], ["r"], name="mix"),
         node("Transpose", ["r"], ["h"], name="back", perm=[0, 1, 3, 2])], {},
        "mix", "a token-wise node on a partition view whose last axis is not the map's channels"),
    "a token-wise node on half tokens": (
        [node("Reshape", [VIEW, "s"], ["t"], name="halves"), node("Relu", ["t"], ["r"], name="mix"),
         node("Reshape", ["r", "val_13"], ["h"], name="back")], {"s": _ints([1, 4, 98, 4])},
        "mix", "a token-wise node on a partition view whose last axis is not the map's channels"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_node_reading_a_view_other_than_token_wise_is_refused_by_name(case):
    nodes, constants, name, words = REFUSED[case]
    message = _refused(_insert(nodes, constants))
    assert f"node '{name}' (" in message and words in message, message


def _repartitioned(shape: list[int], perm: list[int], merged: list[int] | None = None) -> onnx.ModelProto:
    """The block with its first partition (Reshape, Transpose, Reshape of x) changed."""
    model = _block()
    model.graph.initializer.append(numpy_helper.from_array(_ints(shape), "split_shape"))
    _named(model, "node_view").input[1] = "split_shape"
    transpose = _named(model, "node_permute")
    del transpose.attribute[:]
    transpose.attribute.append(helper.make_attribute("perm", perm))
    if merged is not None:
        model.graph.initializer.append(numpy_helper.from_array(_ints(merged), "merged_shape"))
        _named(model, "node__unsafe_view").input[1] = "merged_shape"
    return model


@pytest.mark.parametrize(("split", "perm", "merged", "groups"), [
    ([1, 8, 196], [0, 2, 1], None, "neither 7×7 windows nor a 7×7 grid of the 14×14 map"),  # runs of 49 pixels
    ([1, 8, 7, 28], [0, 2, 3, 1], [1, 7, 28, 8], "neither 5×5 windows nor a 5×5 grid"),  # pairs of rows
], ids=["runs", "row pairs"])
def test_an_attention_within_groups_neither_windows_nor_a_grid_is_refused(split, perm, merged, groups):
    message = _refused(_repartitioned(split, perm, merged))
    assert "node 'node_MatMul_15' (" in message and "to its softmax 'node_softmax'" in message, message
    assert f"attends within groups of pixels that are {groups}" in message, message


def test_a_refusal_is_one_error_line_from_the_cli(cli, tmp_path):
    nodes, constants, _, words = REFUSED["a window view added to a grid view of the same map"]
    path = tmp_path / "mixed.onnx"
    onnx.save(_insert(nodes, constants), str(path))
    code, out, err = cli("summary", str(path))
    assert code == 2 and out == "", out
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "node 'mix' (Add" in err and words in err, err


def test_a_reshape_putting_the_batch_into_the_groups_is_refused_not_called_malformed():
    # [-1, 49, 8] of [1, 4, 49, 8] is [4, 49, 8]: its -1 is the batch times the groups, not the batch
    message = _refused(_insert([node("Reshape", [VIEW, "s"], ["h1"], name="mix"),
                                node("Reshape", ["h1", "val_13"], ["h"], name="back")], {"s": _ints([-1, 49, 8])}))
    assert "node 'mix' (" in message, message
    assert "a Reshape of a partition view that does not keep the batch axis (got [-1, 49, 8])" in message, message


def test_a_node_of_another_domain_reading_a_view_is_refused():
    # cnncalc's own GroupNorm function held the view as the map: block 1's departition then moved the map's
    # pixels (a network of the wrong output, no error); an unknown operator passed through --lenient did too
    model = _insert([node("GroupNorm", ["add_5", "gamma", "beta"], ["h"], name="mix", domain="cnncalc", groups=1,
                          epsilon=1e-5)], {"gamma": _floats((8,)), "beta": _floats((8,), 0.0)},
                    before="node_transpose_1")
    model.opset_import.append(helper.make_opsetid("cnncalc", 1))
    message = _refused(model)
    assert f"node 'mix' (GroupNorm, inputs ['add_5', 'gamma', 'beta']): GroupNorm {GENERIC}" in message, message
    model = _insert([node("Custom", [VIEW], ["h"], name="mix", domain="custom")])
    model.opset_import.append(helper.make_opsetid("custom", 1))
    assert f"node 'mix' (Custom, inputs ['{VIEW}']): Custom {GENERIC}" in _refused(model, lenient=True)


@pytest.mark.parametrize(("last", "shape"), [("add_2", [1, 4, 49, 8]), ("view_6", [1, 2, 2, 7, 7, 8]),
                                             ("transpose_1", [1, 49, 4, 8])])
def test_a_partition_view_as_the_output_is_refused(last, shape):
    # the network's output was the map (a permute of it) where ONNX's is the partitioned map
    message = _refused(_only(_block(), None, last, shape))
    assert f"output '{last}' is a partition of a map into groups of tokens" in message, message


def test_a_summary_refuses_each_as_the_import_does(monkeypatch, tmp_path):
    # a summary reads no weights (constants over SMALL_TENSOR stay on disk, here all but the smallest) and runs
    # no onnx.checker: the same refusals from the constants' shapes alone
    from cnncalc.interop.onnx import importer
    from cnncalc.interop.onnx_import import import_onnx

    monkeypatch.setattr(importer, "SMALL_TENSOR", 30)
    for case, (nodes, constants, name, words) in REFUSED.items():
        path = tmp_path / "hostile.onnx"
        onnx.save(_insert(nodes, constants), str(path))
        with pytest.raises(CnnCalcError) as caught:
            import_onnx(path, weights=False, check=False)
        assert f"node '{name}' (" in str(caught.value) and words in str(caught.value), (case, str(caught.value))


def test_the_attention_is_named_after_its_module_and_a_summary_reads_no_weights(tmp_path):
    # the legacy exporter's node names: the layer is the attention module (attn_layer.1), not its to_qkv Linear
    model = _block()
    qkv = next(n for n in model.graph.node if n.op_type == "MatMul" and n.input[0] == "layer_norm")
    qkv.name = "/blocks.0/layers.0/layers/window_attention/attn_layer/attn_layer.1/to_qkv/MatMul"
    layers = import_model(model).spec["layers"]
    assert next(layer["name"] for layer in layers if layer["type"] == "window_attention") == \
        "blocks.0.layers.0.layers.window_attention.attn_layer.attn_layer.1"
    # a summary checks the attention on random weights of the file's shapes and keeps none of them
    assert import_model(_block(), weights=False).weights == {}


def test_a_transpose_of_a_view_without_perm_reverses_it_and_moves_the_batch():
    message = _refused(_insert([node("Transpose", [VIEW], ["h"], name="mix")]))
    assert "node 'mix'" in message and "moves the batch axis (got [3, 2, 1, 0])" in message, message


def test_an_attention_without_biases_imports_with_bias_false():
    # block 0's attention with its qkv and merge biases taken out (their Adds made Identities): bias: false
    model = _block()
    for name in ("node_linear", "node_linear_1"):
        add = _named(model, name)
        add.op_type = "Identity"
        del add.input[1:]
    layers = import_model(model).spec["layers"]
    assert [layer.get("bias", True) for layer in layers if layer["type"] == "window_attention"] == [False, True]
    out, want = _numbers(model)
    assert np.abs(out - want).max() < 1e-5 * np.abs(want).max()
