"""Keras import: the keras.applications fixtures (tests/data/keras, made by make.py there) give the published
parameter counts; the three with a Keras-flavoured zoo spec give the same per-layer figures; hand-written
Keras 2 and Keras 3 configs cover Sequential, functional and nested models; hostile files end in CnnCalcError."""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnncalc import CnnCalcError, analyse, build_network, load_spec
from cnncalc.interop import keras_import
from cnncalc.interop.keras_import import import_keras, import_keras_text
from cnncalc.run.executor import run

DATA = Path(__file__).parent / "data" / "keras"

# (fixture, published total, Keras's trainable count as make.py recorded it)
PUBLISHED = [
    ("resnet50", 25_636_712, 25_583_592),
    ("mobilenetv2", 3_538_984, 3_504_872),
    ("densenet121", 8_062_504, 7_978_856),
    ("inceptionv3", 23_851_784, 23_817_352),
    ("xception", 22_910_480, 22_855_952),
    ("vgg19", 143_667_240, 143_667_240),
    ("efficientnetb0", 5_330_571, 5_288_548),
]


def summary_of(spec: dict[str, Any]) -> Any:
    return analyse(build_network(spec, "<keras>"))


@pytest.mark.parametrize(("stem", "total", "trainable"), PUBLISHED)
def test_applications_give_the_published_parameter_counts(stem: str, total: int, trainable: int) -> None:
    spec, weights = import_keras(str(DATA / f"{stem}.json.gz"))
    assert weights == {}
    summary = summary_of(spec)
    assert summary.params == total
    # EfficientNetB0's Normalization: mean and variance of 3 channels and Keras's sample count
    counted = [layer for layer in spec["layers"] if layer.get("count_samples")]
    assert len(counted) == (1 if stem == "efficientnetb0" else 0)
    if counted:
        assert summary.record(counted[0]["name"]).non_trainable == 2 * 3 + 1
    assert summary.trainable == trainable
    recorded = json.loads((DATA / "counts.json").read_text())[stem]
    assert (recorded["params"], recorded["trainable"]) == (total, trainable)


@pytest.mark.parametrize(("stem", "zoo"), [("resnet50", "resnet50-keras"), ("mobilenetv2", "mobilenetv2-keras"),
                                           ("densenet121", "densenet121-keras")])
def test_imported_summaries_match_the_zoo(stem: str, zoo: str) -> None:
    imported = summary_of(import_keras(str(DATA / f"{stem}.json.gz"))[0])
    written = analyse(load_spec(zoo))
    assert (imported.params, imported.trainable, imported.macs) == (written.params, written.trainable, written.macs)

    def signature(summary: Any) -> list[tuple[str, tuple[int, ...], int, int]]:
        return sorted((r.type, tuple(r.output_shape), r.params, r.macs) for r in summary.records if r.params)

    # every layer with parameters, with its shape, parameters and MACs (the zoo may order branches differently)
    assert signature(imported) == signature(written)
    by_name = {r.name: r for r in written.records}
    common = [r for r in imported.records if r.name in by_name]
    for record in common:  # where the zoo kept Keras's names, the very same layer
        other = by_name[record.name]
        assert (record.type, record.output_shape, record.params) == (other.type, other.output_shape, other.params)
    assert imported.records[-1].output_shape == written.records[-1].output_shape == (1000,)
    if stem == "resnet50":
        assert len(common) >= 8  # the stem: conv1_pad … pool1_pool


def test_efficientnet_rescaling_and_normalization_compute_what_keras_does() -> None:
    spec, _ = import_keras(str(DATA / "efficientnetb0.json.gz"))
    layers = {layer["name"]: layer for layer in spec["layers"]}
    assert layers["rescaling"]["type"] == "batchnorm"
    assert layers["normalization"]["count_samples"] is True and "description" not in spec
    # the rescaling layer alone: x / 255
    head = {"input": [2, 2, 3], "layers": [dict(layers["rescaling"], inputs="input")]}
    x = np.arange(12.0).reshape(2, 2, 3) * 10
    assert np.allclose(run(build_network(head), x).output, x / 255.0, rtol=1e-12, atol=0)
    norm = dict(layers["normalization"], inputs="input")
    weights = {"normalization.mean": np.array([1.0, 2.0, 3.0]), "normalization.var": np.array([4.0, 9.0, 16.0])}
    out = run(build_network({"input": [2, 2, 3], "layers": [norm]}), x, weights).output
    assert np.allclose(out, (x - [1, 2, 3]) / np.array([2.0, 3.0, 4.0]), rtol=1e-12, atol=0)


# ---------------------------------------------------------------- hand-written configs, both formats

KERAS2_SEQUENTIAL = {
    "class_name": "Sequential", "keras_version": "2.15.0", "backend": "tensorflow",
    "config": {"name": "lenet", "layers": [
        {"class_name": "Conv2D", "config": {"name": "c1", "batch_input_shape": [None, 28, 28, 1], "filters": 6,
                                            "kernel_size": [5, 5], "strides": [1, 1], "padding": "same",
                                            "activation": "relu", "use_bias": True}},
        {"class_name": "MaxPooling2D", "config": {"name": "p1", "pool_size": [2, 2], "strides": [2, 2],
                                                  "padding": "valid"}},
        {"class_name": "Conv2D", "config": {"name": "c2", "filters": 16, "kernel_size": [5, 5],
                                            "activation": "relu", "trainable": False}},
        {"class_name": "Flatten", "config": {"name": "f"}},
        {"class_name": "Dense", "config": {"name": "d1", "units": 120, "activation": "relu"}},
        {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.5}},
        {"class_name": "Dense", "config": {"name": "out", "units": 10, "activation": "softmax"}},
    ]},
}


def test_keras2_sequential() -> None:
    spec, _ = import_keras_text(json.dumps(KERAS2_SEQUENTIAL))
    summary = summary_of(spec)
    assert spec["input"] == [28, 28, 1]
    assert [r.output_shape for r in summary.records] == [
        (28, 28, 6), (14, 14, 6), (10, 10, 16), (1600,), (120,), (120,), (10,)]
    assert [r.params for r in summary.records] == [156, 0, 2416, 0, 192120, 0, 1210]
    assert summary.records[2].trainable == 0 and summary.records[2].non_trainable == 2416  # trainable: false
    assert spec["layers"][0]["activation"] == "relu" and spec["layers"][-1]["activation"] == "softmax"


def _k2(name: str, class_name: str, config: dict[str, Any], *sources: str) -> dict[str, Any]:
    return {"class_name": class_name, "name": name, "config": {"name": name, **config},
            "inbound_nodes": [[[s, 0, 0, {}] for s in sources]] if sources else []}


def test_keras2_functional_residual() -> None:
    model = {"class_name": "Functional", "keras_version": "2.13.1", "config": {
        "name": "res", "layers": [
            _k2("in", "InputLayer", {"batch_input_shape": [None, 8, 8, 4]}),
            _k2("conv", "Conv2D", {"filters": 4, "kernel_size": [3, 3], "padding": "same", "use_bias": False}, "in"),
            _k2("bn", "BatchNormalization", {"axis": [3], "epsilon": 1.001e-5}, "conv"),
            _k2("add", "Add", {}, "bn", "in"),
            _k2("relu", "ReLU", {"max_value": 6.0}, "add"),
            _k2("cat", "Concatenate", {"axis": 3}, "relu", "in"),
            _k2("gap", "GlobalAveragePooling2D", {"keepdims": True}, "cat"),
        ],
        "input_layers": [["in", 0, 0]], "output_layers": [["gap", 0, 0]]}}
    spec, _ = import_keras_text(json.dumps(model))
    layers = {layer["name"]: layer for layer in spec["layers"]}
    assert layers["add"]["inputs"] == ["bn", "input"]
    assert layers["relu"]["type"] == "relu6" and layers["cat"]["axis"] == 2
    assert layers["bn"]["epsilon"] == 1.001e-5
    summary = summary_of(spec)
    assert [r.output_shape for r in summary.records][-1] == (1, 1, 8)
    assert [r.params for r in summary.records] == [144, 16, 0, 0, 0, 0]


def _k3_tensor(source: str) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__", "config": {"shape": [None], "keras_history": [source, 0, 0]}}


def _k3(name: str, class_name: str, config: dict[str, Any], *sources: str, **extra: Any) -> dict[str, Any]:
    args: Any = [_k3_tensor(sources[0])] if len(sources) == 1 else [[_k3_tensor(s) for s in sources]]
    return {"module": "keras.layers", "class_name": class_name, "name": name, "registered_name": None,
            "config": {"name": name, **config}, **extra,
            "inbound_nodes": [{"args": args, "kwargs": {}}] if sources else []}


def _k3_model(name: str, layers: list[dict[str, Any]], first: str, last: str, **extra: Any) -> dict[str, Any]:
    return {"module": "keras.src.models.functional", "class_name": "Functional", "name": name,
            "config": {"name": name, "trainable": True, "layers": layers,
                       "input_layers": [first, 0, 0], "output_layers": [last, 0, 0]}, **extra}


def test_keras3_nested_models_are_flattened_with_scoped_names() -> None:
    inner = _k3_model("backbone", [
        _k3("x", "InputLayer", {"batch_shape": [None, 16, 16, 3]}),
        _k3("c", "Conv2D", {"filters": 8, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"}, "x"),
        _k3("bn", "BatchNormalization", {"axis": -1}, "c"),
    ], "x", "bn")
    inner["inbound_nodes"] = [{"args": [_k3_tensor("image")], "kwargs": {}}]
    inner["config"]["trainable"] = False
    head = {"module": "keras", "class_name": "Sequential", "name": "head",
            "config": {"name": "head", "layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 8, 8, 8]}},
                {"class_name": "GlobalMaxPooling2D", "config": {"name": "pool"}},
                {"class_name": "Dense", "config": {"name": "fc", "units": 5}}]},
            "inbound_nodes": [{"args": [_k3_tensor("backbone")], "kwargs": {}}]}
    outer = _k3_model("outer", [
        _k3("image", "InputLayer", {"batch_shape": [None, 16, 16, 3]}), inner, head,
        _k3("probs", "Softmax", {"axis": -1}, "head"),
    ], "image", "probs")
    spec, _ = import_keras_text(json.dumps(outer))
    names = [(layer["name"], layer["inputs"]) for layer in spec["layers"]]
    assert names == [("backbone/c", "input"), ("backbone/bn", "backbone/c"), ("head/pool", "backbone/bn"),
                     ("head/fc", "head/pool"), ("probs", "head/fc")]
    assert spec["layers"][0]["trainable"] is False and "trainable" not in spec["layers"][3]
    summary = summary_of(spec)
    assert summary.records[0].output_shape == (8, 8, 8)
    assert (summary.trainable, summary.non_trainable) == (45, 224 + 32)


def test_unknown_spatial_sizes_become_symbols() -> None:
    model = _k3_model("m", [_k3("x", "InputLayer", {"batch_shape": [None, None, None, 3]}),
                            _k3("c", "Conv2D", {"filters": 2, "kernel_size": 3}, "x")], "x", "c")
    spec, _ = import_keras_text(json.dumps(model))
    assert spec["input"] == ["n", "m", 3]
    shape = summary_of(spec).records[0].output_shape
    assert str(shape[0]) == "n - 2" and str(shape[1]) == "m - 2"


def test_gzip_and_keras_archive(tmp_path: Path) -> None:
    text = json.dumps(KERAS2_SEQUENTIAL)
    plain = tmp_path / "m.json"
    plain.write_text(text)
    zipped = tmp_path / "m.json.gz"
    zipped.write_bytes(gzip.compress(text.encode()))
    archive = tmp_path / "m.keras"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("metadata.json", "{}")
        out.writestr("config.json", text)
    results = [import_keras(str(p))[0] for p in (plain, zipped, archive)]
    assert results[0] == results[1] == results[2]


# ---------------------------------------------------------------- hostile and unsupported files


def _error(tmp_path: Path, data: bytes | str, name: str = "m.json") -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    with pytest.raises(CnnCalcError) as caught:
        import_keras(str(path))
    message = str(caught.value)
    assert str(path) in message
    return message


def test_truncated_json(tmp_path: Path) -> None:
    text = json.dumps(KERAS2_SEQUENTIAL)
    assert "cannot be parsed" in _error(tmp_path, text[: len(text) // 2])
    assert "bad gzip" in _error(tmp_path, gzip.compress(text.encode())[:60], "m.json.gz")


def test_deep_nesting(tmp_path: Path) -> None:
    assert "nested too deeply" in _error(tmp_path, "[" * 100_000 + "]" * 100_000)
    # models inside models inside models
    model: dict[str, Any] = {"class_name": "Dense", "config": {"name": "d", "units": 1}}
    for depth in range(40):
        model = {"class_name": "Sequential", "name": f"s{depth}", "config": {"name": f"s{depth}", "layers": [
            *([{"class_name": "InputLayer", "config": {"batch_shape": [None, 4]}}] if depth == 39 else []), model]}}
    assert "nested more than 32 deep" in _error(tmp_path, json.dumps(model))


def test_huge_declared_shapes(tmp_path: Path) -> None:
    model = json.loads(json.dumps(KERAS2_SEQUENTIAL))
    model["config"]["layers"][0]["config"]["batch_input_shape"] = [None, 10**30, 28, 1]
    assert "bad input shape" in _error(tmp_path, json.dumps(model))
    model = json.loads(json.dumps(KERAS2_SEQUENTIAL))
    model["config"]["layers"][4]["config"]["units"] = 10**30
    assert "'units'" in _error(tmp_path, json.dumps(model))


def test_unknown_class_and_lambda(tmp_path: Path) -> None:
    model = json.loads(json.dumps(KERAS2_SEQUENTIAL))
    model["config"]["layers"][3] = {"class_name": "Flaten", "config": {"name": "f"}}
    message = _error(tmp_path, json.dumps(model))
    assert "layer 'f'" in message and "unknown Keras layer class" in message and "Flatten" in message
    model["config"]["layers"][3] = {"class_name": "Lambda", "config": {"name": "f", "function": "x"}}
    assert "runs arbitrary Python code" in _error(tmp_path, json.dumps(model))
    assert "not a Keras model" in _error(tmp_path, '{"class_name": "os.system", "config": {}}')


def test_cycle_in_inbound_nodes(tmp_path: Path) -> None:
    model = {"class_name": "Functional", "config": {"name": "loop", "layers": [
        _k2("in", "InputLayer", {"batch_input_shape": [None, 4]}),
        _k2("a", "Dense", {"units": 4}, "b"),
        _k2("b", "Dense", {"units": 4}, "a"),
    ], "input_layers": [["in", 0, 0]], "output_layers": [["b", 0, 0]]}}
    assert "cycle" in _error(tmp_path, json.dumps(model))
    model["config"]["layers"][1] = _k2("a", "Dense", {"units": 4}, "nowhere")
    assert "unknown layer" in _error(tmp_path, json.dumps(model))


def test_shared_layer_refused(tmp_path: Path) -> None:
    layer = _k2("d", "Dense", {"units": 4}, "in")
    layer["inbound_nodes"] = [[["in", 0, 0, {}]], [["in", 0, 0, {}]]]
    model = {"class_name": "Functional", "config": {"name": "shared", "layers": [
        _k2("in", "InputLayer", {"batch_input_shape": [None, 4]}), layer],
        "input_layers": [["in", 0, 0]], "output_layers": [["d", 1, 0]]}}
    assert "called more than once" in _error(tmp_path, json.dumps(model))


def test_json_size_cap(tmp_path: Path) -> None:
    text = json.dumps(KERAS2_SEQUENTIAL)
    cap = keras_import.MAX_JSON_BYTES
    inside = tmp_path / "inside.json"
    inside.write_bytes(text.encode() + b" " * (cap - len(text)))
    assert import_keras(str(inside))[0]["input"] == [28, 28, 1]
    assert "too large" in _error(tmp_path, text.encode() + b" " * (cap + 1 - len(text)), "outside.json")


def _bomb(size: int, member: str = "config.json") -> bytes:
    text = json.dumps(KERAS2_SEQUENTIAL).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(member, text + b" " * (size - len(text)))
    return buffer.getvalue()


def test_keras_zip_bomb(tmp_path: Path) -> None:
    cap = keras_import.MAX_JSON_BYTES
    inside = tmp_path / "inside.keras"
    inside.write_bytes(_bomb(cap))
    assert inside.stat().st_size < 200_000
    assert import_keras(str(inside))[0]["input"] == [28, 28, 1]
    assert "too large once decompressed" in _error(tmp_path, _bomb(cap + 1), "bomb.keras")
    assert "too large once decompressed" in _error(tmp_path, gzip.compress(b" " * (cap + 1)), "bomb.json.gz")
    assert "no config.json" in _error(tmp_path, _bomb(10, "other.json"), "none.keras")
    assert "bad .keras archive" in _error(tmp_path, _bomb(1000)[:200], "cut.keras")


def test_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(CnnCalcError, match="folder"):
        import_keras(str(tmp_path))


def test_a_saved_keras_archive_matches_keras_own_figures() -> None:
    """tiny.keras was saved by Keras 3 (make.py): a nested Sequential among other layers."""
    spec, weights = import_keras(str(DATA / "tiny.keras"))
    assert weights == {}
    summary = summary_of(spec)
    figures = json.loads((DATA / "tiny.json").read_text())
    assert summary.params == figures["params"] == 368
    for name, want in figures["layers"].items():
        records = [r for r in summary.records if r.name == name or r.name.startswith(f"{name}/")]
        assert sum(r.params for r in records) == want["params"], name
        assert list(records[-1].output_shape) == want["shape"], name
    assert [r.name for r in summary.records][1:3] == ["inner/ic", "inner/ibn"]


def test_count_samples_adds_one_non_trainable_parameter_and_changes_nothing_else() -> None:
    base = {"input": [4, 4, 3], "layers": [{"type": "batchnorm", "name": "bn", "center": False, "scale": False}]}
    counted = {"input": [4, 4, 3], "layers": [dict(base["layers"][0], count_samples=True)]}
    plain, more = analyse(build_network(base)), analyse(build_network(counted))
    assert (plain.non_trainable, more.non_trainable, more.trainable) == (6, 7, 0)
    assert "+ 1 (sample count) = 7" in " ".join(more.records[0].explain)
    pytorch_like = {"input": [4, 4, 3], "layers": [dict(counted["layers"][0], count_stats=False)]}
    assert analyse(build_network(pytorch_like)).non_trainable == 1
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 3))
    w = {"bn.mean": np.array([0.5, -1.0, 2.0]), "bn.var": np.array([1.0, 4.0, 0.25])}
    assert np.array_equal(run(build_network(base), x, w).output, run(build_network(counted), x, w).output)


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("name", ["model.json", "model.json.gz", "model.keras", "model.onnx"])
def test_a_fifo_named_like_a_model_is_refused_at_once(cli_process, tmp_path, name) -> None:
    import os

    os.mkfifo(tmp_path / name)
    code, _, err = cli_process("summary", str(tmp_path / name), timeout=20)
    assert code == 2 and "not a regular file" in err, err


def test_summary_reads_a_gzipped_keras_json(cli) -> None:
    code, out, err = cli("summary", str(DATA / "efficientnetb0.json.gz"), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["totals"]["params"] == 5_330_571


# ---------------------------------------------------------------- operations and keras.applications' own layers

# keras.applications models whose operations (keras.src.ops) and own layers the import reads, made with Keras 3.15
# by make.py; counts.json holds Keras's count_params() and trainable count for each
OPERATIONS = ["mobilenetv3small", "mobilenetv3large", "convnexttiny", "inceptionresnetv2", "efficientnetv2b0",
              "nasnetmobile", "resnet50v2", "mobilenet"]


@pytest.mark.parametrize("stem", OPERATIONS)
def test_applications_with_operations_give_keras_counts(stem: str) -> None:
    recorded = json.loads((DATA / "counts.json").read_text())[stem]
    summary = summary_of(import_keras(str(DATA / f"{stem}.json.gz"))[0])
    assert (summary.params, summary.trainable) == (recorded["params"], recorded["trainable"])


def test_mobilenetv3_hard_sigmoid_operations_become_one_layer() -> None:
    raw = json.loads(gzip.decompress((DATA / "mobilenetv3small.json.gz").read_bytes()))
    operations = [layer for layer in raw["config"]["layers"] if layer["module"] == "keras.src.ops.numpy"]
    assert {layer["class_name"] for layer in operations} == {"Add", "Multiply"} and len(operations) == 18
    spec, _ = import_keras(str(DATA / "mobilenetv3small.json.gz"))
    layers = {layer["name"]: layer for layer in spec["layers"]}
    fused = [layer for layer in spec["layers"] if layer["type"] == "hardsigmoid"]
    # each relu6(x + 3)·(1/6): the add and the ReLU are gone, the multiplication is a hardsigmoid of the add's input
    assert len(fused) == 9 and "add" not in layers and "re_lu_1" not in layers
    assert layers["multiply"] == {"type": "hardsigmoid", "name": "multiply",
                                  "inputs": "expanded_conv_squeeze_excite_conv_1"}
    assert layers["expanded_conv_squeeze_excite_mul"]["inputs"] == ["re_lu", "multiply"]
    # Rescaling(1/127.5, offset=−1): (x − 127.5)/√(127.5²)
    assert spec["input"] == ["n", "m", 3] and layers["rescaling"]["mean"] == [127.5] * 3
    assert np.allclose(layers["rescaling"]["var"], 127.5**2, rtol=1e-15)


def test_convnext_layer_scale_is_the_spec_layer_scale() -> None:
    spec, _ = import_keras(str(DATA / "convnexttiny.json.gz"))
    scales = [layer for layer in spec["layers"] if layer["type"] == "layer_scale"]
    assert len(scales) == 18 and {layer["init"] for layer in scales} == {1e-6}
    summary = summary_of(spec)
    # one factor per channel: 96 in the first stage (3 blocks), 768 in the last (3 blocks)
    assert summary.record("convnext_tiny_stage_0_block_0_layer_scale").params == 96
    assert summary.record("convnext_tiny_stage_3_block_2_layer_scale").params == 768


def test_inception_resnet_custom_scale_is_a_scaled_residual_then_an_add() -> None:
    spec, _ = import_keras(str(DATA / "inceptionresnetv2.json.gz"))
    layers = {layer["name"]: layer for layer in spec["layers"]}
    add, scaled = layers["custom_scale_layer"], layers["custom_scale_layer/scale"]  # block35_1's
    assert add["type"] == "add" and add["inputs"] == ["mixed_5b", "custom_scale_layer/scale"]
    assert layers["block35_1_ac"]["inputs"] == "custom_scale_layer"
    assert scaled["inputs"] == "block35_1_conv" and scaled["type"] == "batchnorm"
    # (x − 0)/√var = 0.17·x, as Keras's inputs[0] + inputs[1]·0.17
    assert np.allclose(1 / np.sqrt(scaled["var"]), 0.17, rtol=1e-15) and scaled["mean"] == [0.0] * 320
    head = {"input": [2, 2, 320], "layers": [dict(scaled, inputs="input")]}
    x = np.arange(4 * 320.0).reshape(2, 2, 320)
    assert np.allclose(run(build_network(head), x).output, 0.17 * x, rtol=1e-14, atol=0)


def _operation(name: str, class_name: str, args: list[Any], config: dict[str, Any] | None = None,
               kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    shaped = [dict(a, config=dict(a["config"], shape=[None, 4, 4, 2])) if isinstance(a, dict) else a for a in args]
    return {"module": "keras.src.ops.numpy", "class_name": class_name, "name": name, "registered_name": class_name,
            "config": {"name": name, **(config or {})}, "inbound_nodes": [{"args": shaped, "kwargs": kwargs or {}}]}


def _with(*entries: dict[str, Any]) -> dict[str, Any]:
    return _k3_model("ops", [_k3("x", "InputLayer", {"batch_shape": [None, 4, 4, 2]}), *entries],
                     "x", entries[-1]["name"])


def _values(model: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    spec, _ = import_keras_text(json.dumps(model))
    x = np.arange(32.0).reshape(4, 4, 2) - 10
    return spec, x, run(build_network(spec), x).output


@pytest.mark.parametrize(("class_name", "args", "expected"), [
    ("Add", ["t", 3.0], lambda x: x + 3), ("Add", [2.5, "t"], lambda x: x + 2.5),
    ("Subtract", ["t", 1.5], lambda x: x - 1.5), ("Multiply", ["t", 0.25], lambda x: x * 0.25),
    ("Multiply", [4.0, "t"], lambda x: 4 * x), ("TrueDivide", ["t", 8.0], lambda x: x / 8),
    ("Divide", ["t", 0.5], lambda x: x / 0.5),
])
def test_arithmetic_with_a_number_computes_what_keras_does(class_name: str, args: list[Any], expected: Any) -> None:
    spec, x, y = _values(_with(_operation("op", class_name, [_k3_tensor("x") if a == "t" else a for a in args])))
    assert [layer["type"] for layer in spec["layers"]] == ["batchnorm"]
    assert summary_of(spec).params == 0
    assert np.allclose(y, expected(x), rtol=1e-14, atol=1e-14)


def test_operations_on_tensors_are_merges_pools_and_reshapes() -> None:
    model = _with(_k3("r", "ReLU", {}, "x"),
                  _operation("sum", "Add", [_k3_tensor("x"), _k3_tensor("r")]),
                  _operation("avg", "Mean", [_k3_tensor("sum")], {"axis": [1, 2], "keepdims": False}),
                  _operation("flat", "Reshape", [_k3_tensor("avg")], {"newshape": [-1, 1, 2]}),
                  _operation("swap", "Transpose", [_k3_tensor("flat")], {"axes": [0, 2, 1]}))
    spec, x, y = _values(model)
    assert [layer["type"] for layer in spec["layers"]] == ["relu", "add", "global_avgpool", "reshape", "permute"]
    assert np.allclose(y, (x + np.maximum(x, 0)).mean(axis=(0, 1)).reshape(2, 1), rtol=1e-14)


@pytest.mark.parametrize(("entry", "message"), [
    (_operation("op", "Subtract", [1.0, _k3_tensor("x")]), "c − x has no spec equivalent"),
    (_operation("op", "Multiply", [_k3_tensor("x"), -2.0]), "x · c by -2 has no spec equivalent"),
    (_operation("op", "Multiply", [_k3_tensor("x"), 0]), "x · c by 0 has no spec equivalent"),
    (_operation("op", "TrueDivide", [_k3_tensor("x"), 0.0]), "division by 0"),
    (_operation("op", "Multiply", [_k3_tensor("x"), [1.0, 2.0]]), "a constant that is not one number"),
    (_operation("op", "Sin", [_k3_tensor("x")]), "the operation keras.src.ops.numpy.Sin has no spec"),
    (_operation("op", "Add", [_k3_tensor("x"), 1.0], kwargs={"dtype": "float32"}), "keyword arguments"),
    (_operation("op", "Mean", [_k3_tensor("x")], {"axis": [3]}), "over other axes than the spatial ones"),
    (_operation("op", "Reshape", [_k3_tensor("x")], {"newshape": [2, 16]}), "does not keep the batch axis"),
    (_operation("op", "Transpose", [_k3_tensor("x")], {"axes": [1, 0, 2, 3]}), "moves the batch axis"),
    (_k3("op", "Rescaling", {"scale": -2.0, "offset": 1.0}, "x"), "Rescaling by -2 has no spec"),
    (_k3("op", "LayerScale", {"init_values": 0.1, "projection_dim": 2}, "x", module="my.layers"),
     "a custom LayerScale layer (module my.layers) is not the one of keras.applications"),
])
def test_operations_without_a_spec_equivalent_are_refused_by_name(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(CnnCalcError, match=re.escape(message)) as caught:
        import_keras_text(json.dumps(_with(entry)))
    assert str(caught.value).startswith("layer 'op': ")


def test_keras_applications_layer_scale_and_custom_scale_are_read() -> None:
    scale = _k3("ls", "LayerScale", {"init_values": 0.5, "projection_dim": 2}, "x",
                module="keras.src.applications.convnext")
    residual = _k3("res", "CustomScaleLayer", {"scale": 0.2}, "x", "ls",
                   module="keras.src.applications.inception_resnet_v2")
    spec, _ = import_keras_text(json.dumps(_with(scale, residual)))
    weights = {"ls.weight": np.array([2.0, -3.0])}
    x = np.arange(32.0).reshape(4, 4, 2)
    y = run(build_network(spec), x, weights).output
    assert np.allclose(y, x + 0.2 * (x * [2.0, -3.0]), rtol=1e-14)
    assert summary_of(spec).params == 2


def test_rescaling_per_channel_computes_what_keras_does() -> None:
    # EfficientNet with ImageNet weights: Rescaling([1/√σ²_R, 1/√σ²_G, 1/√σ²_B])
    factors = [1 / np.sqrt(0.229**2), 1 / np.sqrt(0.224**2), 1 / np.sqrt(0.225**2)]
    model = _k3_model("m", [_k3("x", "InputLayer", {"batch_shape": [None, 2, 2, 3]}),
                            _k3("r", "Rescaling", {"scale": factors, "offset": [0.0, 1.0, -2.0]}, "x")], "x", "r")
    spec, _ = import_keras_text(json.dumps(model))
    x = np.arange(12.0).reshape(2, 2, 3)
    assert np.allclose(run(build_network(spec), x).output, x * factors + [0.0, 1.0, -2.0], rtol=1e-14, atol=1e-14)
    assert summary_of(spec).params == 0
    model["config"]["layers"][1]["config"].update(scale=[0.5], offset=[1.0])  # one entry: one number
    spec, _ = import_keras_text(json.dumps(model))
    assert np.allclose(run(build_network(spec), x).output, x * 0.5 + 1.0, rtol=1e-15)
    for bad in ([1.0, -1.0, 1.0], [1.0, 2.0], ["a"]):
        model["config"]["layers"][1]["config"].update(scale=bad, offset=[0.0, 1.0, -2.0])
        with pytest.raises(CnnCalcError, match="layer 'r'"):
            import_keras_text(json.dumps(model))
