"""ONNX operators whose meaning depends on the opset or on one attribute value: each imported exactly (the
imported spec and weights run by `cnncalc run` give onnxruntime's numbers) or refused with exit 2 naming the
node, the attribute and its value. Small models are built with ``onnx.helper``; onnxruntime is the reference.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper

from cnncalc import analyse
from cnncalc.errors import CnnCalcError
from cnncalc.interop.onnx_import import import_onnx, network_of
from cnncalc.run.executor import run


def _model(nodes, inputs, outputs, initializers=(), opset=18):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _save(model, tmp_path, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return str(path)


def _onnxruntime(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _channels_last(array):
    return np.moveaxis(array, 1, -1) if array.ndim >= 3 else array


def _cnncalc(model, tmp_path, x, lenient=False):
    """The model imported, and its spec run on ``x`` (channels-first as ONNX takes it) with its weights; the
    output in ONNX's layout."""
    path = _save(model, tmp_path)
    imported = import_onnx(path, lenient=lenient)
    network = network_of(imported, path)
    out = run(network, _channels_last(x.astype(np.float64)), imported.weights).output
    return np.moveaxis(out, -1, 1) if out.ndim >= 3 and out.ndim == x.ndim else out  # an output of the input's
    # rank comes out channels last, any other in ONNX's order


def _refused(model, tmp_path, *words):
    with pytest.raises(CnnCalcError) as error:
        import_onnx(_save(model, tmp_path))
    for word in words:
        assert word in str(error.value), (word, str(error.value))
    return str(error.value)


def _value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


# ---------------------------------------------------------------- Softmax before opset 13


def _softmax(opset, axis, shape=(1, 2, 1, 2)):
    node = helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=axis)
    return _model([node], [_value("x", list(shape))], [_value("y", list(shape))], opset=opset)


def test_softmax_before_opset_13_flattens_from_its_axis(tmp_path):
    x = np.array([[[[0, 1]], [[2, 3]]]], dtype=np.float32)
    model = _softmax(11, 1)
    expected = _onnxruntime(model, x)
    assert np.allclose(expected.reshape(-1), [0.032, 0.087, 0.237, 0.644], atol=1e-3)  # the numbers
    got = _cnncalc(model, tmp_path, x)
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("opset", "axis"), [(11, 2), (11, -1), (11, 3), (12, 1), (13, 1), (13, 2), (18, -1)])
def test_softmax_in_each_opset_matches_onnxruntime(tmp_path, opset, axis):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    model = _softmax(opset, axis, (2, 3, 4, 5))
    assert np.allclose(_cnncalc(model, tmp_path, x), _onnxruntime(model, x), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- Resize


def _resize(attributes, sizes, shape=(1, 1, 4, 4), opset=18):
    size = numpy_helper.from_array(np.array(sizes, dtype=np.int64), "sizes")
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="rs", **attributes)
    return _model([node], [_value("x", list(shape))], [_value("y", list(sizes))], [size], opset=opset)


def test_resize_with_antialias_downscaling_is_refused(tmp_path):
    model = _resize({"mode": "linear", "antialias": 1}, [1, 1, 2, 2])
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    # the plain resize (what the layer computes) reads [2.5, 4.5, 10.5, 12.5]; the antialiasing filter does not
    assert np.allclose(_onnxruntime(model, x).reshape(-1), [3.125, 4.875, 10.125, 11.875])
    _refused(model, tmp_path, "'rs'", "antialias", "1")


def test_resize_with_antialias_upscaling_is_the_plain_resize(tmp_path):
    model = _resize({"mode": "linear", "antialias": 1}, [1, 1, 8, 6])
    x = np.random.default_rng(1).standard_normal((1, 1, 4, 4)).astype(np.float32)
    assert np.allclose(_cnncalc(model, tmp_path, x), _onnxruntime(model, x), rtol=1e-5, atol=1e-6)


def test_resize_pytorch_half_pixel_to_size_one_is_refused(tmp_path):
    model = _resize({"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}, [1, 1, 1, 1])
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    assert float(_onnxruntime(model, x).reshape(-1)[0]) == 0.0
    _refused(model, tmp_path, "'rs'", "coordinate_transformation_mode", "pytorch_half_pixel")


EXACT_RESIZES = [
    ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}, [1, 2, 8, 12]),
    ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}, [1, 2, 3, 5]),
    ({"mode": "nearest"}, [1, 2, 8, 12]),  # half_pixel, round_prefer_floor: floor(i/s) for a whole scale s
    ({"mode": "nearest", "coordinate_transformation_mode": "pytorch_half_pixel",
      "nearest_mode": "round_prefer_ceil"}, [1, 2, 12, 8]),
    ({"mode": "linear"}, [1, 2, 8, 12]),
    ({"mode": "linear"}, [1, 2, 3, 5]),
    ({"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}, [1, 2, 7, 2]),
]


@pytest.mark.parametrize(("attributes", "sizes"), EXACT_RESIZES)
def test_resize_modes_imported_match_onnxruntime(tmp_path, attributes, sizes):
    model = _resize(attributes, sizes, (1, 2, 4, 4))
    x = np.random.default_rng(2).standard_normal((1, 2, 4, 4)).astype(np.float32)
    assert np.allclose(_cnncalc(model, tmp_path, x), _onnxruntime(model, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("attributes", "sizes", "words"), [
    ({"mode": "cubic"}, [1, 1, 8, 8], ("mode", "cubic")),
    ({"mode": "linear", "coordinate_transformation_mode": "align_corners"}, [1, 1, 8, 8],
     ("coordinate_transformation_mode", "align_corners")),
    ({"mode": "linear", "coordinate_transformation_mode": "asymmetric"}, [1, 1, 8, 8],
     ("coordinate_transformation_mode", "asymmetric")),
    ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "round_prefer_floor"},
     [1, 1, 16, 16], ("nearest_mode", "round_prefer_floor")),  # round(i/4): 3/4 reads pixel 1, not 0
    ({"mode": "nearest"}, [1, 1, 3, 3], ("coordinate_transformation_mode", "half_pixel")),
    ({"mode": "nearest", "coordinate_transformation_mode": "tf_half_pixel_for_nn"}, [1, 1, 8, 8],
     ("coordinate_transformation_mode", "tf_half_pixel_for_nn")),
    ({"mode": "linear", "keep_aspect_ratio_policy": "not_larger"}, [1, 1, 8, 6],
     ("keep_aspect_ratio_policy", "not_larger")),
])
def test_resize_settings_cnncalc_does_not_compute_are_refused(tmp_path, attributes, sizes, words):
    model = _resize(attributes, sizes)
    _refused(model, tmp_path, "'rs'", *words)
    imported = import_onnx(_save(model, tmp_path), lenient=True)  # --lenient: a flagged layer
    assert imported.flagged and imported.flagged[0].startswith("UNSUPPORTED-Resize")


def test_resize_with_scales_and_axes(tmp_path):
    scales = numpy_helper.from_array(np.array([2.0, 3.0], dtype=np.float32), "scales")
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="rs", mode="nearest", axes=[2, 3],
                            coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    model = _model([node], [_value("x", [1, 2, 3, 4])], [_value("y", [1, 2, 6, 12])], [scales])
    x = np.random.default_rng(3).standard_normal((1, 2, 3, 4)).astype(np.float32)
    assert np.allclose(_cnncalc(model, tmp_path, x), _onnxruntime(model, x), rtol=1e-6)


def test_upsample_linear_is_asymmetric_and_refused(tmp_path):
    scales = numpy_helper.from_array(np.array([1.0, 1.0, 2.0, 2.0], dtype=np.float32), "scales")
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], name="up", mode="linear")
    model = _model([node], [_value("x", [1, 1, 4, 4])], [_value("y", [1, 1, 8, 8])], [scales], opset=9)
    _refused(model, tmp_path, "'up'", "mode", "linear")


# ---------------------------------------------------------------- LayerNormalization's constant scale and bias


def _layernorm(scale, bias, scale_name, bias_name, constants):
    weight = numpy_helper.from_array(np.random.default_rng(4).standard_normal((4, 8)).astype(np.float32), "0.weight")
    gemm_bias = numpy_helper.from_array(np.zeros(8, dtype=np.float32), "0.bias")
    nodes = [helper.make_node("Gemm", ["x", "0.weight", "0.bias"], ["h"], name="fc", transA=0, transB=0)]
    initializers = [weight, gemm_bias]
    ln_inputs = ["h", scale_name] + ([bias_name] if bias is not None else [])
    for name, value in ((scale_name, scale), (bias_name, bias)):
        if value is None:
            continue
        tensor = numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)
        if constants:
            nodes.insert(0, helper.make_node("Constant", [], [name], value=tensor))
        else:
            initializers.append(tensor)
    nodes.append(helper.make_node("LayerNormalization", ln_inputs, ["y"], name="ln", axis=-1))
    return _model(nodes, [_value("x", [1, 4])], [_value("y", [1, 8])], initializers)


def _params(model, tmp_path):
    path = _save(model, tmp_path)
    return analyse(network_of(import_onnx(path), path)).params


def test_layernorm_without_affine_counts_no_parameters(tmp_path):
    # nn.LayerNorm(8, elementwise_affine=False) after nn.Linear(4, 8): torch counts 40 parameters.
    # The legacy exporter writes its scale and bias as Constant nodes, the dynamo exporter a scale of ones
    # in an initializer it names val_<n> and no bias.
    legacy = _layernorm(np.ones(8), np.zeros(8), "c_scale", "c_bias", constants=True)
    assert _params(legacy, tmp_path) == 40
    dynamo = _layernorm(np.ones(8), None, "val_2", "", constants=False)
    assert _params(dynamo, tmp_path) == 40
    x = np.random.default_rng(5).standard_normal((1, 4)).astype(np.float32)
    for model in (legacy, dynamo):
        assert np.allclose(_cnncalc(model, tmp_path, x), _onnxruntime(model, x), rtol=1e-5, atol=1e-6)


def test_layernorm_parameters_of_ones_and_zeros_still_count(tmp_path):
    # an untrained nn.LayerNorm(8) has a weight of ones and a bias of zeros, and torch counts all 16
    model = _layernorm(np.ones(8), np.zeros(8), "1.weight", "1.bias", constants=False)
    assert _params(model, tmp_path) == 56
    trained = _layernorm(np.full(8, 2.0), np.full(8, 0.5), "c_scale", "c_bias", constants=True)
    assert _params(trained, tmp_path) == 56  # constants other than ones and zeros are the layer's weights


# ---------------------------------------------------------------- torch's files (tests/data/onnx/) in onnxruntime

FIXTURES_DIR = Path(__file__).parent / "data" / "onnx"
FIXTURES = json.loads((FIXTURES_DIR / "fixtures.json").read_text())


@pytest.mark.parametrize("name", sorted(n for n, entry in FIXTURES.items() if entry["expected"] == "exact"))
def test_each_torch_fixture_imports_to_onnxruntime_numbers(name):
    path = str(FIXTURES_DIR / f"{name}.onnx")
    x = np.load(FIXTURES_DIR / f"{name}.npz")["x"]
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])  # reads the .data file beside it
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    imported = import_onnx(path)
    network = network_of(imported, path)
    first = list(imported.spec["input"]) != list(x.shape[1:])  # read channels first
    layout = (lambda a: np.moveaxis(a, 1, -1)) if first else (lambda a: a)
    out = run(network, layout(x.astype(np.float64)), imported.weights).output
    if expected.ndim == x.ndim:  # an output of the input's rank comes out channels last
        expected = layout(expected)
    assert out.shape == expected.shape
    assert np.abs(out - expected).max() <= 1e-5 * np.abs(expected).max()


# ---------------------------------------------------------------- reductions in every opset form


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceMax"])
@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("axes", [[2, 3], [-2, -1], [2], [3]])
@pytest.mark.parametrize("keepdims", [0, 1, None])
def test_a_spatial_reduction_is_pooling(tmp_path, op, opset, axes, keepdims):
    initializers, inputs, attributes = [], ["x"], {} if keepdims is None else {"keepdims": keepdims}
    keepdims = 1 if keepdims is None else keepdims  # ONNX's default
    if opset >= 18:  # the axes are an input from opset 18
        initializers.append(numpy_helper.from_array(np.array(axes, dtype=np.int64), "axes"))
        inputs.append("axes")
    else:
        attributes["axes"] = axes
    node = helper.make_node(op, inputs, ["y"], name="r", **attributes)
    x = np.random.default_rng(6).standard_normal((2, 3, 4, 5)).astype(np.float32)
    shape = list(np.mean(x, axis=tuple(axes), keepdims=bool(keepdims)).shape)
    model = _model([node], [_value("x", [2, 3, 4, 5])], [_value("y", shape)], initializers, opset=opset)
    got, expected = _cnncalc(model, tmp_path, x), _onnxruntime(model, x)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_reductions_cnncalc_has_no_layer_for_are_refused(tmp_path):
    axes = numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes")
    node = helper.make_node("ReduceSum", ["x", "axes"], ["y"], name="total")
    _refused(_model([node], [_value("x", [1, 3, 4, 4])], [_value("y", [])], [axes]), tmp_path, "'total'",
             "ReduceSum", "no cnncalc layer")
    node = helper.make_node("ReduceMean", ["x"], ["y"], name="channels", axes=[1])
    _refused(_model([node], [_value("x", [1, 3, 4, 4])], [_value("y", [])], opset=13), tmp_path, "'channels'",
             "reduces the channels")
    node = helper.make_node("ReduceMax", ["x"], ["y"], name="everything")  # no axes: every axis, the batch too
    _refused(_model([node], [_value("x", [1, 3, 4, 4])], [_value("y", [])], opset=13), tmp_path, "'everything'",
             "batch axis")
    # an attribute at opset 18: onnx.checker refuses it, and a summary (which runs without it) as well
    node = helper.make_node("ReduceMean", ["x"], ["y"], name="old", axes=[2, 3])
    graph = helper.make_graph([node], "g", [_value("x", [1, 3, 4, 4])], [_value("y", [])])
    path = _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), tmp_path)
    with pytest.raises(CnnCalcError, match="'old'.*attribute 'axes' is an input of ReduceMean from opset 18"):
        import_onnx(path, weights=False, check=False)


def test_a_reduction_with_empty_axes_and_noop_is_the_identity(tmp_path):
    axes = numpy_helper.from_array(np.array([], dtype=np.int64), "axes")
    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["m"], name="noop", noop_with_empty_axes=1),
             helper.make_node("Relu", ["m"], ["y"], name="r")]
    model = _model(nodes, [_value("x", [1, 3, 4, 4])], [_value("y", [1, 3, 4, 4])], [axes])
    x = np.random.default_rng(7).standard_normal((1, 3, 4, 4)).astype(np.float32)
    assert np.allclose(_cnncalc(model, tmp_path, x), _onnxruntime(model, x))


# ---------------------------------------------------------------- Slice and Pad before opsets 10 and 11


def test_slice_and_pad_with_attributes_match_onnxruntime(tmp_path):
    nodes = [helper.make_node("Pad", ["x"], ["p"], name="pad", pads=[0, 0, 1, 2, 0, 0, 2, 1]),
             helper.make_node("Slice", ["p"], ["s"], name="sl", starts=[1], ends=[3], axes=[1]),
             helper.make_node("Slice", ["s"], ["y"], name="crop", starts=[1, 0], ends=[-1, 6], axes=[2, 3])]
    model = _model(nodes, [_value("x", [1, 4, 5, 5])], [_value("y", [])], opset=9)
    x = np.random.default_rng(8).standard_normal((1, 4, 5, 5)).astype(np.float32)
    assert np.allclose(_cnncalc(model, tmp_path, x), _onnxruntime(model, x))


def test_pad_before_opset_11_with_a_value_is_refused(tmp_path):
    node = helper.make_node("Pad", ["x"], ["y"], name="pad", pads=[0, 0, 1, 1, 0, 0, 1, 1], value=2.5)
    _refused(_model([node], [_value("x", [1, 4, 5, 5])], [_value("y", [])], opset=9), tmp_path, "'pad'",
             "value=2.5")


# ---------------------------------------------------------------- node order


def test_patterns_do_not_depend_on_where_the_file_puts_a_node(tmp_path):
    """The exact gelu with its constants made by Constant nodes listed last, and its nodes in reverse: a
    topological walk after folding reads it as one gelu layer."""
    def scalar(name, value):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(value, np.float32)))

    nodes = [helper.make_node("Div", ["x", "root2"], ["d"], name="scaled"),
             helper.make_node("Erf", ["d"], ["e"], name="erf"),
             helper.make_node("Add", ["e", "one"], ["f"], name="plus"),
             helper.make_node("Mul", ["x", "f"], ["g"], name="times"),
             helper.make_node("Mul", ["g", "half"], ["y"], name="gelu"),
             scalar("root2", 2 ** 0.5), scalar("one", 1.0), scalar("half", 0.5)]
    # the pattern's nodes last to first, the constants after them all: Div is ready before the Constant
    # nodes of 1 and 0.5, so only folding every constant first lets the pattern see them
    graph = helper.make_graph(nodes[4::-1] + nodes[5:], "g", [_value("x", [1, 6])], [_value("y", [1, 6])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])  # not sorted: no checker
    path = _save(model, tmp_path)
    imported = import_onnx(path, weights=False, check=False)
    assert [layer["type"] for layer in imported.spec["layers"]] == ["gelu"]
    x = np.random.default_rng(9).standard_normal((1, 6))
    assert np.allclose(run(network_of(imported, path), x).output, 0.5 * x * (1 + np.vectorize(math.erf)(x / 2 ** 0.5)))


def test_an_output_held_channels_first_comes_out_channels_last(tmp_path):
    """A LayerNormalization over the last axis (W) of an NCHW tensor, and a MatMul there: the spec ends
    with a permute, so that its output is [H, W, C] as every spatial output of cnncalc."""
    rng = np.random.default_rng(10)
    weights = [numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "ln.weight"),
               numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "ln.bias"),
               numpy_helper.from_array(rng.standard_normal((5, 5)).astype(np.float32), "w")]
    nodes = [helper.make_node("LayerNormalization", ["x", "ln.weight", "ln.bias"], ["n"], name="ln", axis=-1),
             helper.make_node("MatMul", ["n", "w"], ["y"], name="mm")]
    model = _model(nodes, [_value("x", [1, 3, 4, 5])], [_value("y", [1, 3, 4, 5])], weights)
    path = _save(model, tmp_path)
    imported = import_onnx(path)
    network = network_of(imported, path)
    assert network.layers[-1].type == "permute"
    assert tuple(analyse(network).records[-1].output_shape) == (4, 5, 3)
    x = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
    assert np.allclose(_cnncalc(model, tmp_path, x), _onnxruntime(model, x), rtol=1e-5, atol=1e-5)


def _as_strided(indices):
    flat = numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat")
    index = numpy_helper.from_array(indices.astype(np.int64), "indices")
    nodes = [helper.make_node("Reshape", ["x", "flat"], ["f"], name="flatten_all"),
             helper.make_node("Gather", ["f", "indices"], ["y"], name="strided", axis=0)]
    return _model(nodes, [_value("x", [1, 4, 3, 3])], [_value("y", list(indices.shape))], [flat, index])


def test_as_strided_reading_every_value_in_order_is_a_reshape(tmp_path):
    model = _as_strided(np.arange(36).reshape(1, 6, 6))  # as torch's dynamo exporter writes ConvNeXt's
    x = np.random.default_rng(11).standard_normal((1, 4, 3, 3)).astype(np.float32)
    assert np.allclose(_cnncalc(model, tmp_path, x), _onnxruntime(model, x))
    _refused(_as_strided(np.arange(36)[::-1].reshape(1, 36)), tmp_path, "'flatten_all'", "batch axis first")


@pytest.mark.parametrize(("op", "opset"), [("Upsample", 9), ("Resize", 10)])
def test_nearest_upscaling_before_opset_11_matches_onnxruntime(tmp_path, op, opset):
    scales = numpy_helper.from_array(np.array([1.0, 1.0, 2.0, 3.0], dtype=np.float32), "scales")
    node = helper.make_node(op, ["x", "scales"], ["y"], name="up", mode="nearest")
    model = _model([node], [_value("x", [1, 2, 3, 4])], [_value("y", [1, 2, 6, 12])], [scales], opset=opset)
    x = np.random.default_rng(12).standard_normal((1, 2, 3, 4)).astype(np.float32)
    assert np.allclose(_cnncalc(model, tmp_path, x), _onnxruntime(model, x))


def test_resize_of_the_batch_is_refused(tmp_path):
    _refused(_resize({"mode": "nearest"}, [2, 1, 8, 8]), tmp_path, "'rs'", "batch size")
