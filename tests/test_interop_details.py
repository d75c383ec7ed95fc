"""Details of import and export that the round-trip tests pass over, each against an independent reading:
onnx's own checker and onnxruntime-free numpy folds, the messages a user reads (naming the node, the file and
what was expected), and the registries' bookkeeping."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper

from cnncalc import CnnCalcError, analyse, load_spec, loads_spec
from cnncalc.interop.export_rules import Rules
from cnncalc.interop.onnx import registry
from cnncalc.interop.onnx_export import export_onnx
from cnncalc.interop.onnx_import import import_model, import_onnx
from cnncalc.layers.conv import Conv
from cnncalc.layers.pool import MaxPool


def _model(nodes: list[Any], shape: list[int], initializers: tuple[Any, ...] = (), name: str = "g",
           out: str = "y", opset: int = 17) -> Any:
    # the output's shape is left for the importer to work out (onnx's checker wants a shape field, of any rank)
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, [])], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _const(name: str, values: Any, dtype: Any = np.int64) -> Any:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


# ---------------------------------------------------------------- what the importer folds and reads


def test_a_reshape_of_a_constant_is_folded_keeping_zero_dims():
    """A bias reshaped with a 0 in the target (copy that dim, ONNX's rule) then added after a MatMul: the importer
    folds the Reshape as numpy does and imports one bias per unit."""
    nodes = [helper.make_node("Reshape", ["b", "t"], ["b4"]),
             helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Add", ["m", "b4"], ["y"])]
    model = _model(nodes, [1, 6], (_const("b", np.arange(4.0).reshape(2, 2), np.float32),
                                   _const("w", np.ones((6, 4)), np.float32), _const("t", [0, 2])))
    imported = import_model(model)
    [layer] = imported.spec["layers"]
    assert (layer["type"], layer["units"], layer["bias"]) == ("dense", 4, True)
    np.testing.assert_array_equal(imported.weights[layer["name"] + ".bias"], np.arange(4.0))


def test_a_folded_comparison_broadcasts_like_numpy():
    """`Where(Equal(a, b), …)` on constants of different shapes folds to numpy's broadcast shape: the result
    scales the channels (1 × 3 from a 3-vector and a 1 × 1)."""
    nodes = [helper.make_node("Equal", ["a", "b"], ["e"]),
             helper.make_node("Where", ["e", "one", "two"], ["k"]),
             helper.make_node("Mul", ["x", "k"], ["y"])]
    model = _model(nodes, [1, 3], (_const("a", [1.0, 2.0, 1.0], np.float32), _const("b", [[1.0]], np.float32),
                                   _const("one", 1.0, np.float32), _const("two", 2.0, np.float32)))
    imported = import_model(model)
    assert [layer["type"] for layer in imported.spec["layers"]] == ["layer_scale"]
    np.testing.assert_array_equal(next(iter(imported.weights.values())), [1.0, 2.0, 1.0])


def test_a_slice_with_a_negative_end_crops_from_the_far_side():
    """Slice ends of −1 count from the end (ONNX's rule, numpy's indexing): 8 wide cropped to [1:7]."""
    nodes = [helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])]
    model = _model(nodes, [1, 2, 8, 8], (_const("s", [1, 1]), _const("e", [-1, -1]), _const("a", [2, 3])))
    imported = import_model(model)
    assert imported.spec["layers"] == [{"type": "crop", "name": imported.spec["layers"][0]["name"],
                                        "cropping": [[1, 1], [1, 1]]}]
    assert analyse(loads_spec(_spec_text(imported))).records[-1].output_shape == (6, 6, 2)
    assert np.zeros((8, 8))[1:-1, 1:-1].shape == (6, 6)


def _spec_text(imported: Any) -> str:
    from cnncalc.interop import dump_spec

    return dump_spec(imported.spec)


def test_the_graph_name_becomes_the_spec_name_printable_only():
    base = [helper.make_node("Relu", ["x"], ["y"])]
    assert import_model(_model(base, [1, 4], name="  my   net ")).spec["name"] == "my net"
    assert import_model(_model(base, [1, 4], name="bad\x07name"), source="dir/file.onnx").spec["name"] == "file"


def test_two_inputs_are_refused_with_their_names():
    graph = helper.make_graph([helper.make_node("Add", ["x", "z"], ["y"])], "g",
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("x", "z")],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    with pytest.raises(CnnCalcError) as caught:
        import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    message = str(caught.value)
    assert "the model has 2 inputs" in message and "'x'" in message and "'z'" in message


def test_a_gemm_weight_that_does_not_fit_says_what_would():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    model = _model(nodes, [1, 6], (_const("w", np.ones((5, 3)), np.float32),))
    with pytest.raises(CnnCalcError) as caught:
        import_model(model)
    assert str(caught.value) == ("<model>: node '?' (MatMul, inputs ['x', 'w']): dense weight does not fit the "
                                 "input (got [5, 3], expected [6, units])")


def test_a_non_integer_attribute_is_named_with_its_value():
    """cnncalc's functions (attention, groupnorm) read their integer attributes through one check that
    names the attribute and what it got."""
    from cnncalc.interop.onnx.ops.functions import _int_attr

    class Fails:
        def fail(self, message: str, **kw: Any) -> CnnCalcError:
            return CnnCalcError(message, **kw)

    assert _int_attr(Fails(), {"heads": 4}, "heads") == 4  # type: ignore[arg-type]
    assert _int_attr(Fails(), {}, "bias", 1) == 1  # type: ignore[arg-type]
    for value in ([1, 2], True, 1.5):
        with pytest.raises(CnnCalcError) as caught:
            _int_attr(Fails(), {"groups": value}, "groups")  # type: ignore[arg-type]
        assert "attribute 'groups' must be an integer" in str(caught.value) and repr(value) in str(caught.value)


def test_a_broken_file_is_named_in_the_message(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x0a\xff\xff\xff\xff\x0f")  # field 1 declares 4 GB
    with pytest.raises(CnnCalcError) as caught:
        import_onnx(path, weights=True, check=False)
    assert str(path) in str(caught.value)


def test_a_folder_given_as_the_model_is_refused_as_a_model(tmp_path):
    with pytest.raises(CnnCalcError) as caught:
        import_onnx(tmp_path, weights=False, check=False)
    assert "cannot read the model" in str(caught.value)


# ---------------------------------------------------------------- the registries' bookkeeping


@pytest.fixture()
def restored_registry():
    handlers, patterns, rules = dict(registry.HANDLERS), {k: list(v) for k, v in registry.PATTERNS.items()}, \
        list(registry.RULES)
    yield
    registry.HANDLERS.clear(), registry.HANDLERS.update(handlers)
    registry.PATTERNS.clear(), registry.PATTERNS.update(patterns)
    registry.RULES[:] = rules


def test_a_handler_and_a_pattern_land_in_their_tables(restored_registry):
    def handler(im: Any, node: Any) -> None: ...

    def pattern(im: Any, node: Any) -> bool:
        return False

    registry.handles("NoSuchOpA", makes=("relu",))(handler)
    registry.matches("NoSuchOpB", makes=("relu",), absorbs=("NoSuchOpC",))(pattern)
    assert registry.HANDLERS["NoSuchOpA"] is handler
    assert registry.PATTERNS["NoSuchOpB"] == [pattern]
    assert registry.RULES[-1].absorbs == ("NoSuchOpC",) and registry.RULES[-1].pattern
    with pytest.raises(ValueError, match="not 'elsewhere'"):
        registry.handles("NoSuchOpD", makes=("relu",), domain="elsewhere")


def test_an_export_rule_for_the_wrong_layer_class_names_the_rule():
    rules: Rules[Any, Any] = Rules("target", {})

    def conv_rule(layer: Conv) -> None: ...

    def untyped_rule(layer):  # type: ignore[no-untyped-def]
        ...

    with pytest.raises(ValueError, match="the rule conv_rule is registered for maxpool, whose layers are MaxPool"):
        rules.layer("maxpool")(conv_rule)
    rules.layer("conv")(conv_rule)
    rules.layer("avgpool")(untyped_rule)  # no annotation: nothing to check
    assert rules.layer_rule("conv") is conv_rule
    assert MaxPool is not Conv


# ---------------------------------------------------------------- what the exporters write


def test_an_exported_adaptive_pool_is_valid_onnx():
    spec = "input: [7, 5, 3]\nlayers: [{type: adaptive_avgpool, size: [3, 2]}, {type: flatten}]\n"
    model = export_onnx(loads_spec(spec), seed=0)
    onnx.checker.check_model(model, full_check=True)
    body = {f.name: [node.op_type for node in f.node] for f in model.functions}
    assert body["AdaptiveAvgPool2d"] == ["Einsum", "Einsum"]  # one product per spatial axis


def test_export_lists_every_layer_it_cannot_write():
    """A Keras export of layers Keras has no equivalent for names each with its reason, at most ten."""
    from cnncalc.interop.keras_export import export_keras

    layers = "".join(f"  - {{type: gelu, name: g{k}, approximate: tanh}}\n" for k in range(12))
    with pytest.raises(CnnCalcError) as caught:
        export_keras(loads_spec("input: [4, 4, 2]\nlayers:\n" + layers))
    message = caught.value.message
    assert message.startswith("cannot export to Keras: 12 layer(s) have no equivalent: layer 1 'g0' (gelu): ")
    assert "'g9'" in message and "'g10'" not in message and message.endswith(" …")


def test_pytorch_code_applies_a_fused_activation_to_the_layer():
    from cnncalc.interop.pytorch_export import export_pytorch

    code = export_pytorch(loads_spec("input: [6]\nlayers: [{type: dense, name: fc, units: 3, activation: sigmoid}]\n"))
    assert "torch.sigmoid(self.fc(x))" in code


def test_keras_code_names_the_padding_layer_after_its_conv():
    from cnncalc.interop.keras_export import export_keras

    code = export_keras(loads_spec("input: [8, 8, 1]\nlayers: [{type: conv, name: c1, filters: 2, kernel: 3, "
                                   "padding: [1, 2]}]\n"))
    assert 'layers.ZeroPadding2D(((1, 1), (2, 2)), name="c1_pad")' in code


def test_keras_groupnorm_keeps_center_and_scale():
    import json

    from cnncalc.interop.keras_import import import_keras_text

    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 4, 4, 8], "name": "in"}},
        {"class_name": "GroupNormalization", "config": {"name": "gn", "groups": 2, "axis": -1, "center": False,
                                                        "scale": True, "epsilon": 0.001}}]}}
    spec, _ = import_keras_text(json.dumps(config))
    layer = spec["layers"][0]
    assert (layer["type"], layer["groups"], layer["center"], layer["scale"]) == ("groupnorm", 2, False, True)
    from cnncalc.interop import dump_spec

    assert analyse(loads_spec(dump_spec(spec))).params == 8  # γ only: 8, no β


def test_the_zoo_round_trips_through_onnx_with_its_totals():
    network = load_spec("lenet5")
    imported = import_model(export_onnx(network, seed=0))
    assert analyse(loads_spec(_spec_text(imported))).params == analyse(network).params == 62_958


def test_a_per_channel_factor_with_a_batch_axis_is_a_layer_scale():
    """Mul by a constant [1, C, 1, 1] (torch's per-channel factor, batch axis kept) on an NCHW tensor."""
    factor = _const("k", np.arange(1.0, 5.0).reshape(1, 4, 1, 1), np.float32)
    imported = import_model(_model([helper.make_node("Mul", ["x", "k"], ["y"])], [1, 4, 3, 3], (factor,)))
    assert [layer["type"] for layer in imported.spec["layers"]] == ["layer_scale"]
    np.testing.assert_array_equal(next(iter(imported.weights.values())), [1.0, 2.0, 3.0, 4.0])


def test_squeeze_and_broadcast_folds_follow_numpy():
    """The constant folds' shapes: Squeeze by its axes input (opset 13) or attribute (before), and the size a
    broadcasting fold will make, worked out before numpy allocates it."""
    from cnncalc.interop.onnx.graph import _fold_squeeze, _folded_dims

    value = np.zeros((1, 3, 1))
    assert _fold_squeeze([value, np.array([2])], {})[0].shape == (1, 3)
    assert _fold_squeeze([value, None], {"axes": [0]})[0].shape == (3, 1)
    assert _fold_squeeze([value], {})[0].shape == (3,)
    a, b = np.zeros((3, 1)), np.zeros((1, 4))
    for op in ("Add", "Sub", "Mul", "Div", "Equal"):
        assert _folded_dims(op, [a, b], {}) == list(np.broadcast_shapes(a.shape, b.shape)) == [3, 4], op
    assert _folded_dims("Where", [np.zeros((2, 1, 1)), a, b], {}) == [2, 3, 4]


def test_a_one_panel_figure_without_its_output_keeps_the_whole_input_title():
    from cnncalc.render.convfig import svg

    figure = conv_figure_for_title()
    drawn = svg(figure, show_output=False)
    assert "convolution: n = 5, k = 3, p = 1, s = 2, d = 1</text>" in drawn
    assert "→ output" not in drawn


def conv_figure_for_title():
    from cnncalc.render.convfig import conv_figure

    return conv_figure(5, 3, padding=1, stride=2)
