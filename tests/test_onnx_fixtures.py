"""ONNX files written by torch.onnx (tests/data/onnx/, made once by make_fixtures.py there, both exporters,
several opsets): each imported by cnncalc and run with its imported weights gives torch's own output
(saved beside it) within 1e-5 relative, with torch's parameter count; or it is refused with the attribute
and value cnncalc does not compute exactly. No framework is needed: the files and torch's numbers are
committed (tests/test_onnx_semantics.py runs the same files in onnxruntime)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnncalc import CnnCalcError, analyse
from cnncalc.interop.onnx_import import import_onnx, network_of
from cnncalc.run.executor import run

HERE = Path(__file__).parent / "data" / "onnx"
FIXTURES = json.loads((HERE / "fixtures.json").read_text())


def _layout(array: np.ndarray, rank: int, channels_first: bool) -> np.ndarray:
    """An NCHW (or NCL) array as cnncalc holds it, channels last, when the model reads its input channels first;
    an imported model's output comes out channels last when it has the input's rank (``rank``), else in
    ONNX's order."""
    return np.moveaxis(array, 1, -1) if channels_first and array.ndim == rank else array


def imported_run(name: str, lenient: bool = False) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(cnncalc's output, torch's, cnncalc's parameter count, torch's) of a fixture, in cnncalc's layout."""
    path = str(HERE / f"{name}.onnx")
    saved = np.load(HERE / f"{name}.npz")
    imported = import_onnx(path, lenient=lenient)
    network = network_of(imported, path)
    x = saved["x"]
    first = list(imported.spec["input"]) != list(x.shape[1:])  # read channels first
    out = run(network, _layout(x.astype(np.float64), x.ndim, first), imported.weights).output
    return out, _layout(saved["y"], x.ndim, first), analyse(network).params, int(saved["params"])


def test_the_fixtures_cover_both_exporters_and_stay_small():
    assert {entry["exporter"] for entry in FIXTURES.values()} == {"dynamo", "legacy"}
    assert sum(path.stat().st_size for path in HERE.iterdir()) < 1_000_000
    assert all((HERE / f"{name}.onnx").is_file() for name in FIXTURES)


@pytest.mark.parametrize("name", sorted(n for n, entry in FIXTURES.items() if entry["expected"] == "exact"))
def test_a_torch_export_imports_to_torch_numbers(name):
    out, expected, params, torch_params = imported_run(name)
    assert out.shape == expected.shape
    assert np.allclose(out, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    assert params == torch_params


@pytest.mark.parametrize("name", sorted(n for n, entry in FIXTURES.items() if entry["expected"] != "exact"))
def test_a_torch_export_cnncalc_cannot_compute_exactly_is_refused(name, cli, tmp_path):
    code, _, err = cli("summary", str(HERE / f"{name}.onnx"))
    assert code == 2
    for word in FIXTURES[name]["expected"]:
        assert word in err, (word, err)
    spec = tmp_path / "flagged.yaml"
    code, _, err = cli("import", str(HERE / f"{name}.onnx"), "--lenient", "-o", str(spec))
    if name in FLAGGED:  # an attribute cnncalc does not compute exactly: a flagged layer
        assert code == 0 and FLAGGED[name] in spec.read_text() and "--lenient" in err, err
    else:  # a pattern with no spec v2 layer (a biased attention, attention across the batch): refused still
        assert code == 2 and all(word in err for word in FIXTURES[name]["expected"]), err
        assert len(err.strip().splitlines()) == 1


#: refused fixtures that --lenient imports, with the flagged layer it makes
FLAGGED = {"antialias_dynamo": "UNSUPPORTED-Resize"}


def test_the_summary_reads_external_data_beside_the_model(cli):
    code, out, err = cli("summary", str(HERE / "mean_dynamo.onnx"))
    assert code == 0, err
    assert "Total params: 112" in out  # Conv2d(3, 4, 3): 4·3·3·3 + 4, its weights in mean_dynamo.onnx.data


@pytest.mark.parametrize(("name", "windows"), [("swin_blocks_dynamo20", [(2, 1), (2, 1), (4, 0)]),
                                               ("swin_attention_legacy17", [(2, 1)])])
def test_a_summary_checks_swin_window_attention_without_its_weights(monkeypatch, name, windows):
    # a summary leaves every constant over SMALL_TENSOR on disk: at 30 values, these fixtures' projections and
    # position biases are too, as swin_t's are at 4096 (the check runs on random weights of their shapes)
    from cnncalc.interop.onnx import importer

    monkeypatch.setattr(importer, "SMALL_TENSOR", 30)
    path = str(HERE / f"{name}.onnx")
    summary = network_of(import_onnx(path, weights=False, check=False), path)
    assert [(layer.window, layer.shift) for layer in summary.layers if layer.type == "window_attention"] == windows
    full = analyse(network_of(import_onnx(path), path))
    assert (analyse(summary).params, analyse(summary).macs) == (full.params, full.macs)
    assert full.params == int(np.load(HERE / f"{name}.npz")["params"])


def test_maxvit_partition_attention_imports_on_the_map(monkeypatch):
    # one MaxViT block's attention layers (14 × 14 × 8, partition 7): the partitions, LayerNorms, MLPs and
    # residual Adds in partition space are layers on the map; torch's numbers are checked by the exact test above
    from cnncalc.interop.onnx import importer

    path = str(HERE / "maxvit_blocks_dynamo20.onnx")
    full = network_of(import_onnx(path), path)
    assert [layer.type for layer in full.layers] == ["layernorm", "window_attention", "add", "layernorm", "dense",
                                                      "gelu", "dense", "add"] * 2
    assert [(layer.partition, layer.window, layer.heads, layer.scale) for layer in full.layers
            if layer.type == "window_attention"] == [("window", 7, 2, "channels"), ("grid", 7, 2, "channels")]
    assert {tuple(record.output_shape) for record in analyse(full).records} == {(14, 14, 8), (14, 14, 32)}
    # per layer: 2 LayerNorms 2·16, qkv 8·24 + 24, merge 8·8 + 8, table 13²·2, MLP 8·32 + 32 + 32·8 + 8
    assert analyse(full).params == 2 * (32 + 216 + 72 + 338 + 288 + 264) \
        == int(np.load(HERE / "maxvit_blocks_dynamo20.npz")["params"])
    monkeypatch.setattr(importer, "SMALL_TENSOR", 30)  # a summary: the weights on disk, the check on random ones
    summary = analyse(network_of(import_onnx(path, weights=False, check=False), path))
    assert (summary.params, summary.macs) == (analyse(full).params, analyse(full).macs)


def test_swin_v2_blocks_import_as_window_attention_v2_and_a_summary_checks_them(monkeypatch):
    """The dynamo exporter folds each MLP's first product over the offsets into a constant: W₁ is read back
    from it; a summary (every constant over 100 values left on disk: the projections, the folded product, W₂)
    checks each block on random weights of those shapes and gives the import's parameters and MACs."""
    from cnncalc.interop.onnx import importer

    path = str(HERE / "swin_v2_blocks_dynamo20.onnx")
    full = network_of(import_onnx(path), path)
    windows = [(layer.window, layer.shift, layer.hidden) for layer in full.layers if layer.type == "window_attention_v2"]
    assert windows == [(3, 0, 336), (3, 1, 336)]
    monkeypatch.setattr(importer, "SMALL_TENSOR", 100)
    summary = network_of(import_onnx(path, weights=False, check=False), path)
    assert (analyse(summary).params, analyse(summary).macs) == (analyse(full).params, analyse(full).macs)
    # per block: qkv and proj 4·8² + 4·8, logit_scale 2, the MLP 2·336 + 336 + 336·2; two layernorms 2·2·8 and
    # the MLP 8·8 + 8 twice; the MACs of one attention on the padded 6 × 6 map: 36·4·8² + 36·9·2·8 + 25·336·4
    assert analyse(full).params == 2 * (4 * 64 + 32 + 2 + 3 * 336 + 672 + 2 * 16 + 2 * 72) == 4_292
    assert [record.macs for record in analyse(full).records if record.type == "window_attention_v2"] == \
        [36 * 4 * 64 + 36 * 9 * 2 * 8 + 25 * 336 * 4] * 2


# ---------------------------------------------------------------- external data, hostile


def _external_model(tmp_path, location, offset=None, length=None, data=None):
    """A Mul by an external [1, 3, 1, 1] constant, its bytes in ``location`` (written when ``data`` is given)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    tensor = helper.make_tensor("w", TensorProto.FLOAT, [1, 3, 1, 1], vals=[1.0, 2.0, 3.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = tensor.external_data.add()
            entry.key, entry.value = key, str(value)
    if data is not None:
        (tmp_path / location).write_bytes(data)
    graph = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["y"], name="m")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 2, 2])], [tensor])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "ext.onnx"
    path.write_bytes(model.SerializeToString())
    return str(path), onnx


def test_external_data_beside_the_model_is_read(tmp_path):
    values = np.array([7.0, 8.0, 9.0], dtype="<f4")
    path, _ = _external_model(tmp_path, "w.bin", offset=4, length=12, data=b"pad!" + values.tobytes())
    imported = import_onnx(path)
    assert imported.weights["m.weight"].tolist() == [7.0, 8.0, 9.0]


@pytest.mark.parametrize(("location", "options", "words"), [
    ("/etc/passwd", {}, "outside the model's folder"),
    ("../w.bin", {}, "outside the model's folder"),
    ("sub/../../w.bin", {}, "outside the model's folder"),
    ("missing.bin", {}, "cannot read the external data"),
    ("w.bin", {"offset": 8, "data": b"\0" * 12}, "ends past the end of w.bin"),
    ("w.bin", {"length": 8, "data": b"\0" * 12}, "declares 8 bytes of external data for 12"),
    ("w.bin", {"offset": -4, "data": b"\0" * 12}, "external-data offset '-4'"),
    ("", {}, "outside the model's folder"),
])
def test_external_data_that_is_not_beside_the_model_is_refused(tmp_path, cli, location, options, words):
    path, _ = _external_model(tmp_path, location, **options)
    code, _, err = cli("import", path, "-o", str(tmp_path / "m.yaml"), "--weights-out", str(tmp_path / "m.npz"))
    assert code == 2 and words in err, err
    assert len(err.strip().splitlines()) == 1


def test_external_data_through_a_link_out_of_the_folder_is_refused(tmp_path, cli):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.bin").write_bytes(np.ones(3, dtype="<f4").tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w.bin").symlink_to(outside / "w.bin")
    path, _ = _external_model(folder, "w.bin")
    code, _, err = cli("summary", path)
    assert code == 2 and "outside the model's folder" in err, err


@pytest.mark.parametrize("name", ["mean_legacy", "gelu_dynamo"])
def test_an_onnx_export_of_a_model_file_keeps_its_weights(name, cli, tmp_path):
    """`export model.onnx --to onnx` writes the model's own weights (not seeded ones): onnxruntime gives the
    same numbers for both files."""
    ort = pytest.importorskip("onnxruntime")
    source = HERE / f"{name}.onnx"
    target = tmp_path / "again.onnx"
    code, _, err = cli("export", str(source), "--to", "onnx", "-o", str(target))
    assert code == 0, err
    x = np.load(HERE / f"{name}.npz")["x"].astype(np.float32)

    def output(path: Path) -> np.ndarray:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        wanted = session.get_inputs()[0].shape
        feed = x if list(x.shape[1:]) == list(wanted[1:]) else np.moveaxis(x, 1, -1)  # cnncalc's channels last
        return session.run(None, {session.get_inputs()[0].name: feed})[0]

    original, again = output(source), output(target)
    assert original.shape == again.shape
    np.testing.assert_allclose(again, original, rtol=1e-5, atol=1e-6)


def _twice(model):
    """The model's graph applied twice in a row (every name of the second copy prefixed, its weights their own):
    two attentions of one structure, as every block of a transformer is."""
    import copy

    onnx = pytest.importorskip("onnx")
    graph = model.graph
    first_in, first_out = graph.input[0].name, graph.output[0].name
    twice = copy.deepcopy(model)
    g = twice.graph
    inner = {i.name for i in graph.initializer} | {o for n in graph.node for o in n.output}

    def renamed(name):
        return first_out if name == first_in else ("b/" + name if name in inner else name)

    for node in graph.node:
        new = copy.deepcopy(node)
        new.name = "b/" + node.name
        new.input[:] = [renamed(n) if n else n for n in node.input]
        new.output[:] = ["b/" + o for o in node.output]
        g.node.append(new)
    for tensor in graph.initializer:
        new = copy.deepcopy(tensor)
        new.name = "b/" + tensor.name
        array = onnx.numpy_helper.to_array(tensor)
        weight = array.dtype.kind == "f"  # the projections' weights and biases: other values than the first's
        new.CopyFrom(onnx.numpy_helper.from_array((array * 0.5 + 0.25).astype(array.dtype) if weight else array,
                                                  "b/" + tensor.name))
        g.initializer.append(new)
    g.output[0].name = "b/" + first_out
    return twice


def test_a_second_attention_of_the_same_structure_is_not_run_again(monkeypatch, tmp_path):
    """Each block of a transformer has one structure: the first attention is checked by running its subgraph,
    the others reuse that verdict (vit_l_16's 24 took 300 s of CPU to check one by one) — and still import
    their own weights, to onnxruntime's numbers."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from cnncalc.interop.onnx.ops import attention

    model = _twice(onnx.load(str(HERE / "mha_legacy17.onnx")))
    path = tmp_path / "twice.onnx"
    path.write_bytes(model.SerializeToString())
    runs = []
    original = attention._evaluate
    monkeypatch.setattr(attention, "_evaluate", lambda *a, **k: runs.append(k.get("probe", False)) or original(*a, **k))
    imported = import_onnx(str(path))
    network = network_of(imported, str(path))
    assert [layer.type for layer in network.layers] == ["attention", "attention"]
    assert analyse(network).params == 2 * 288
    assert runs.count(False) == 1  # one check with random weights, for the first attention only
    x = np.random.default_rng(1).normal(size=(1, 5, 8)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = session.run(None, {session.get_inputs()[0].name: x})[0]
    got = run(network, x.astype(np.float64), imported.weights).output
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_an_attention_whose_constants_differ_is_checked_on_its_own(tmp_path):
    """The verdict is reused only for the same constants: the second copy's scale made 2/√k instead of 1/√k is
    run again, and refused."""
    onnx = pytest.importorskip("onnx")
    model = _twice(onnx.load(str(HERE / "mha_legacy17.onnx")))
    constant = next(n for n in model.graph.node if n.name == "b//attention/Constant_21")
    old = onnx.numpy_helper.to_array(constant.attribute[0].t)
    constant.attribute[0].t.CopyFrom(onnx.numpy_helper.from_array((old * 2).astype(old.dtype)))  # same shape
    path = tmp_path / "twice.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(CnnCalcError, match="does not compute spec v2's multi-head attention"):
        import_onnx(str(path))


def test_a_zero_output_bias_the_dynamo_exporter_left_out_is_read_as_zeros():
    # nn.MultiheadAttention's out_proj.bias starts at zero, and torch's dynamo exporter then writes the output
    # Gemm with no C: the input bias says bias=True (spec v2's default), so the output bias is read as zeros
    path = str(HERE / "mha_zero_out_bias_dynamo20.onnx")
    imported = import_onnx(path)
    (layer,) = [entry for entry in imported.spec["layers"] if entry.get("type") == "attention"]
    assert layer.get("bias", True) is True
    bias = np.asarray(imported.weights[f"{layer['name']}.output.bias"])
    assert bias.shape == (8,) and not bias.any()
    assert np.asarray(imported.weights[f"{layer['name']}.query.bias"]).any()  # the input bias is read, not zeros


def _two_attentions(numerator: float) -> object:
    """mha_legacy17 twice in a row, the second's scale 1/√key_dim written with ``numerator`` over the root."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    model = onnx.load(str(HERE / "mha_legacy17.onnx"))
    graph = model.graph
    shared = {tensor.name for tensor in graph.initializer}
    first_out = graph.output[0].name

    def renamed(name: str) -> str:
        return name if not name or name in shared else first_out if name == "x" else f"{name}_2"

    for node in list(graph.node):
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = f"{node.name}_2"
        copy.input[:] = [renamed(n) for n in node.input]
        copy.output[:] = [renamed(n) for n in node.output]
        if node.op_type == "Constant" and node.output[0] == "/attention/Constant_21_output_0":  # the 1 of 1/√k
            copy.attribute[0].t.CopyFrom(numpy_helper.from_array(np.array([numerator], dtype=np.float32)))
        graph.node.append(copy)
    graph.output[0].name = f"{first_out}_2"
    return model


def test_each_attention_is_checked_unless_it_is_the_same_subgraph_as_one_checked(tmp_path, monkeypatch):
    # the numerical check runs once per distinct subgraph (a ViT's twelve blocks: once); a second attention
    # differing only in a constant (its scale) is checked on its own, and refused
    from cnncalc.errors import CnnCalcError
    from cnncalc.interop.onnx.ops import attention

    calls = []
    check = attention._check
    monkeypatch.setattr(attention, "_check", lambda *args: calls.append(1) or check(*args))
    same = tmp_path / "same.onnx"
    same.write_bytes(_two_attentions(1.0).SerializeToString())
    imported = import_onnx(str(same))
    assert [entry["type"] for entry in imported.spec["layers"]].count("attention") == 2 and len(calls) == 1
    saved = np.load(HERE / "mha_legacy17.npz")
    x = saved["x"].astype(np.float64)
    twice = run(network_of(imported, str(same)), x, imported.weights).output
    once_imported = import_onnx(str(HERE / "mha_legacy17.onnx"))
    once = run(network_of(once_imported, "m"), x, once_imported.weights).output
    again = run(network_of(once_imported, "m"), once, once_imported.weights).output
    assert np.allclose(twice, again, rtol=1e-9, atol=1e-12)
    scaled = tmp_path / "scaled.onnx"
    scaled.write_bytes(_two_attentions(2.0).SerializeToString())
    with pytest.raises(CnnCalcError, match="does not compute spec v2's multi-head attention"):
        import_onnx(str(scaled))


def test_swin_v2_folded_mlp_product_that_is_no_product_of_the_offsets_is_refused():
    """W₁ is solved from the constant the dynamo exporter folds (offsets · W₁): one changed value there is
    no such product, refused naming it rather than imported approximately."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    from cnncalc.interop.onnx_import import import_model

    model = onnx.load(str(HERE / "swin_v2_blocks_dynamo20.onnx"))
    folded = next(t for t in model.graph.initializer if list(t.dims) == [1, 5, 5, 336])
    values = numpy_helper.to_array(folded).copy()
    values[0, 2, 2, 0] += 1.0  # the offset (0, 0): a product of the offsets is zero there
    folded.CopyFrom(numpy_helper.from_array(values, folded.name))
    with pytest.raises(CnnCalcError, match=f"'{folded.name}'.*no product of Swin V2's offsets"):
        import_model(model, "m")


@pytest.mark.parametrize("name", ["swin_blocks_dynamo20", "swin_attention_legacy17", "maxvit_blocks_dynamo20",
                                  "swin_v2_blocks_dynamo20"])
def test_a_summary_leaving_the_biases_and_the_index_on_disk_checks_the_window_attention(monkeypatch, name):
    # at 20 values the qkv biases (3·8) are left on disk too, and Swin V2's index of its 3 × 3 windows' pairs
    # (81 values, as a window of 8's 4,096 is at SMALL_TENSOR): random biases, the layer's own index in their place
    from cnncalc.interop.onnx import importer

    monkeypatch.setattr(importer, "SMALL_TENSOR", 20)
    path = str(HERE / f"{name}.onnx")
    summary = analyse(network_of(import_onnx(path, weights=False, check=False), path))
    full = analyse(network_of(import_onnx(path), path))
    assert (summary.params, summary.macs) == (full.params, full.macs) != (0, 0)
