"""Import and export details that the mutation sample of interop/ found untested: each test fails for the
changed line it is named after (the change made by hand, the test seen failing). Models are built with
onnx.helper; the expected values are ONNX's rules and the messages a user reads."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper

from cnncalc import CnnCalcError
from cnncalc.interop.export_rules import Rules
from cnncalc.interop.onnx_import import import_model
from cnncalc.layers.dense import Dense


def _split_model(split: list[int], outputs: int) -> Any:
    """x [1, 4, 6] split along axis 2 into ``outputs`` parts of the sizes ``split`` (an input, opset 13+)."""
    names = [f"y{k}" for k in range(outputs)]
    graph = helper.make_graph(
        [helper.make_node("Split", ["x", "s"], names, name="cut", axis=2)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, []) for name in names],
        [numpy_helper.from_array(np.array(split, dtype=np.int64), "s")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_split_with_more_sizes_than_outputs_is_refused_before_it_is_read():
    """ONNX's Split wants one size per output; three sizes for two outputs is a broken model, refused with
    the node and the count, not imported as the first two parts (importer.numbers' ``most``)."""
    with pytest.raises(CnnCalcError) as caught:
        import_model(_split_model([2, 2, 2], 2), "m")
    assert str(caught.value) == ("m: node 'cut' (Split, inputs ['x', 's']): split 's' has 3 values "
                                 "(expected at most 2)")
    # one size per output: the slices [0, 2) and [2, 6) of ONNX's axis 2, the last (cnncalc's axis -1)
    layers = import_model(_split_model([2, 4], 2), "m").spec["layers"]
    parts = [(layer["type"], layer["axis"], layer["start"], layer["stop"]) for layer in layers]
    assert parts == [("slice", -1, 0, 2), ("slice", -1, 2, 6)]


class _NamelessRule:
    """A rule that is not a function (no ``__name__``) and takes a dense layer."""

    # set by hand: the class itself, not the string "Dense" an annotation makes here, for typing.get_type_hints
    __annotations__ = {"layer": Dense}

    def __call__(self, layer: Any) -> str:
        return str(layer)


def test_a_rule_without_a_name_for_the_wrong_layer_class_is_named_by_its_repr():
    rules: Rules[Any, Any] = Rules("Demo", {})
    rule = _NamelessRule()
    with pytest.raises(ValueError) as caught:
        rules.layer("relu")(rule)
    assert str(caught.value) == (f"Demo: the rule {rule!r} is registered for relu, whose layers are Activation, "
                                 "but takes Dense")


def test_a_summary_folds_a_reshape_of_a_weight_it_leaves_on_disk(tmp_path, monkeypatch):
    """A Linear's weight reshaped in the graph (torch's dynamo exporter reshapes Swin's gathered position bias
    so): a summary leaves the weight unread and folds the Reshape on its shape alone; the parameters are the
    import's. Without the shape-only fold the summary refuses the weight it does not read."""
    from cnncalc import analyse
    from cnncalc.interop.onnx import importer
    from cnncalc.interop.onnx_import import import_onnx, network_of

    weight = np.arange(256, dtype=np.float32).reshape(2, 8, 16) / 256
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["w", "shape"], ["w2"], name="view"),
         helper.make_node("MatMul", ["x", "w2"], ["y"], name="fc")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.array([16, 16], dtype=np.int64), "shape")])
    path = tmp_path / "m.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    monkeypatch.setattr(importer, "SMALL_TENSOR", 30)  # the 256 values of w are left on disk by a summary
    summary = analyse(network_of(import_onnx(str(path), weights=False, check=False), str(path)))
    full = import_onnx(str(path))
    assert summary.params == analyse(network_of(full, str(path))).params == 16 * 16
    assert np.array_equal(next(iter(full.weights.values())), weight.reshape(16, 16).astype(np.float64))
