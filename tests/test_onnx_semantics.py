"""ONNX operators whose meaning depends on the opset or on one attribute value: each imported exactly (the
imported spec and weights run by `cnncalc run` give onnxruntime's numbers) or refused with exit 2 naming the
node, the attribute and its value. Small models are built with ``onnx.helper``; onnxruntime is the reference.
"""

from __future__ import annotations

import json
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
    return np.moveaxis(out, -1, 1) if out.ndim >= 3 else out


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
