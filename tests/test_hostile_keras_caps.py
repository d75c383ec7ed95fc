"""Hostile Keras files against the caps of keras_import: each cap just inside and just outside, the hostile
files built here in tmp_path (a few KB each), and a fuzz test that builds random Keras 3 configs.

Where a real cap is huge (a million h5 objects, 2^29 numbers) the test lowers it to the figures of a fixture
and checks both sides of it; the hostile file itself is still refused at the real cap.
"""

from __future__ import annotations

import io
import itertools
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncalc import CnnCalcError, analyse, build_network
from cnncalc.interop import keras_import
from cnncalc.interop.keras_import import import_keras, import_keras_text

DATA = Path(__file__).parent / "data" / "keras"

DENSE = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [None, 4]}},
    {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}


def _h5py():
    return pytest.importorskip("h5py")


def _error(path: Path | str, weights: bool = False) -> str:
    with pytest.raises(CnnCalcError) as caught:
        import_keras(str(path), weights=weights)
    message = str(caught.value)
    assert "\n" not in message
    return message


def _archive(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _with_members(path: Path, count: int) -> Path:
    """A .keras archive of DENSE's config and count - 1 empty members."""
    members = {"config.json": json.dumps(DENSE).encode()}
    members.update({f"{i:04d}": b"" for i in range(count - 1)})
    return _archive(path, members)


_END = struct.Struct("<4s4H2LH")


def _declare(path: Path, members: int | None = None, directory: int | None = None, zip64: int | None = None) -> Path:
    """Rewrite the end-of-central-directory record of an archive written by zipfile (no comment, no zip64
    record): the member count and directory size it declares, or a zip64 record declaring ``zip64`` members."""
    data = path.read_bytes()
    end = len(data) - _END.size
    fields = list(_END.unpack_from(data, end))
    if members is not None:
        fields[3] = fields[4] = members
    if directory is not None:
        fields[5] = directory
    tail = b""
    if zip64 is not None:
        record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, zip64, zip64, fields[5], fields[6])
        locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
        tail = record + locator
        fields[3] = fields[4] = 0xFFFF
    path.write_bytes(data[:end] + tail + _END.pack(*fields))
    return path


def _zipfile_must_not_parse(monkeypatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("zipfile parsed a directory that its end record already refuses")

    monkeypatch.setattr(zipfile, "ZipFile", refuse)


# ---------------------------------------------------------------- the archive's members


def test_member_cap_just_inside_and_outside(tmp_path: Path, monkeypatch) -> None:
    cap = keras_import.MAX_ARCHIVE_MEMBERS
    inside = _with_members(tmp_path / "inside.keras", cap)
    assert import_keras(str(inside))[0]["layers"][0]["units"] == 2
    outside = _with_members(tmp_path / "outside.keras", cap + 1)
    _zipfile_must_not_parse(monkeypatch)
    assert f"too many members (1,001, at most {cap:,})" in _error(outside)


def test_member_count_is_read_from_the_end_record(tmp_path: Path, monkeypatch) -> None:
    """A few KB declaring ten million members (zip64) or 65,535 (the 16-bit field) are refused before zipfile
    builds anything: the same count listed for real took 81.5 s and 4.4 GB before it was refused."""
    zip64 = _declare(_with_members(tmp_path / "zip64.keras", 3), zip64=10_000_000)
    wide = _declare(_with_members(tmp_path / "wide.keras", 3), members=0xFFFF)
    assert zip64.stat().st_size < 1024
    _zipfile_must_not_parse(monkeypatch)
    assert "too many members (10,000,000," in _error(zip64)
    assert "too many members (65,535," in _error(wide)


def test_a_record_understating_the_count_still_stops(tmp_path: Path, monkeypatch) -> None:
    """A record claiming 3 members in front of 1,001: zipfile parses at most the directory's declared bytes
    (capped), then the members it found are counted again."""
    lying = _declare(_with_members(tmp_path / "lying.keras", 1001), members=3)
    assert "too many members (1,001, at most 1,000)" in _error(lying)
    # the directory's size bounds what zipfile parses whatever the count says
    monkeypatch.setattr(keras_import, "MAX_CENTRAL_DIRECTORY_BYTES", 1000)
    _zipfile_must_not_parse(monkeypatch)
    assert "central directory is too large" in _error(lying)


def test_directory_size_cap_just_inside_and_outside(tmp_path: Path, monkeypatch) -> None:
    path = _with_members(tmp_path / "m.keras", 3)
    directory = _END.unpack_from(path.read_bytes(), len(path.read_bytes()) - _END.size)[5]
    assert directory == 3 * 46 + len("config.json") + 2 * 4  # one 46-byte header and the name per member
    monkeypatch.setattr(keras_import, "MAX_CENTRAL_DIRECTORY_BYTES", directory)
    assert import_keras(str(path))[0]["input"] == [4]
    monkeypatch.setattr(keras_import, "MAX_CENTRAL_DIRECTORY_BYTES", directory - 1)
    assert f"central directory is too large ({directory:,} bytes, at most {directory - 1:,})" in _error(path)


def test_directory_declared_in_the_zip64_record_counts(tmp_path: Path, monkeypatch) -> None:
    path = _declare(_with_members(tmp_path / "m.keras", 3), zip64=3)
    directory = 3 * 46 + len("config.json") + 2 * 4
    assert import_keras(str(path))[0]["input"] == [4]  # zipfile reads the zip64 record as well
    monkeypatch.setattr(keras_import, "MAX_CENTRAL_DIRECTORY_BYTES", directory - 1)
    assert "central directory is too large" in _error(path)


# ---------------------------------------------------------------- model.weights.h5


def _with_h5(path: Path, build, config: dict[str, Any] = DENSE) -> Path:
    h5py = _h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        build(h5)
    return _archive(path, {"config.json": json.dumps(config).encode(), "model.weights.h5": buffer.getvalue()})


def _dense_vars(h5, path: str = "layers/dense") -> Any:
    own = h5.create_group(f"{path}/vars")
    own.attrs["name"] = "d"
    own.create_dataset("0", data=10 * np.arange(4)[:, None] + np.arange(2))  # 10·row + column
    own.create_dataset("1", data=np.array([0.5, -0.5]))
    return own


def test_a_plain_tree_reads_its_values(tmp_path: Path) -> None:
    _, weights = import_keras(str(_with_h5(tmp_path / "m.keras", _dense_vars)), weights=True)
    assert weights["d.weight"].tolist() == [[0, 1], [10, 11], [20, 21], [30, 31]]
    assert weights["d.bias"].tolist() == [0.5, -0.5]


def _doubled_models(levels: int):
    """Each models' group links twice to the next: 2^levels paths through levels + 1 groups."""
    def build(h5) -> None:
        groups = [h5.create_group(f"g{i}") for i in range(levels + 1)]
        top = h5.create_group("layers")
        top["a"], top["b"] = groups[0], groups[0]
        for upper, lower in itertools.pairwise(groups):
            links = upper.create_group("layers")
            links["a"], links["b"] = lower, lower

    return build


def _doubled_sublayers(levels: int):
    def build(h5) -> None:
        groups = [h5.create_group(f"g{i}") for i in range(levels + 1)]
        h5.create_group("layers")["dense"] = groups[0]
        for upper, lower in itertools.pairwise(groups):
            upper["x"], upper["y"] = lower, lower

    return build


@pytest.mark.parametrize("build", [_doubled_models(20), _doubled_sublayers(20)], ids=["models", "sublayers"])
def test_doubled_hard_links_stop_at_the_second_visit(tmp_path: Path, build, cli_process) -> None:
    """2.5 KB of doubled hard links hung `import --weights-out`: each object is entered once."""
    path = _with_h5(tmp_path / "links.keras", build)
    assert path.stat().st_size < 4096
    assert "reaches one object twice" in _error(path, weights=True)
    code, _, err = cli_process("import", str(path), "--weights-out", str(tmp_path / "w.npz"), timeout=30)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "reaches one object twice" in err


def test_a_link_back_to_the_root_is_a_second_visit(tmp_path: Path) -> None:
    def build(h5) -> None:
        _dense_vars(h5)
        h5["layers/dense/loop"] = h5

    assert "reaches one object twice (again at '/layers/dense/loop')" in _error(
        _with_h5(tmp_path / "loop.keras", build), weights=True)


def _objects_and_depth(stem: str) -> tuple[int, int]:
    """What the reader enters in a fixture: the root and everything under /layers; the links to its deepest."""
    h5py = _h5py()
    names: list[str] = []
    with zipfile.ZipFile(DATA / f"w_{stem}.keras") as archive, \
            h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
        h5["layers"].visit(names.append)
    return 2 + len(names), 1 + max(name.count("/") + 1 for name in names)


def test_object_cap_just_inside_and_outside(monkeypatch) -> None:
    objects, _ = _objects_and_depth("conv2d")
    assert objects == 57  # the root, /layers, 16 groups of layers (and a nested model's), 15 vars, 24 arrays
    monkeypatch.setattr(keras_import, "MAX_H5_OBJECTS", objects)
    _, weights = import_keras(str(DATA / "w_conv2d.keras"), weights=True)
    assert weights["head.weight"].shape == (5, 3)
    monkeypatch.setattr(keras_import, "MAX_H5_OBJECTS", objects - 1)
    assert f"more than {objects - 1:,} groups and arrays" in _error(DATA / "w_conv2d.keras", weights=True)


def _dense_and_empty_groups(count: int):
    def build(h5) -> None:
        _dense_vars(h5)
        for i in range(count):
            h5.create_group(f"layers/dense/empty{i}")  # a sublayer without variables: read, nothing kept

    return build


def test_object_cap_per_config_layer_just_inside_and_outside(tmp_path: Path) -> None:
    """DENSE has 2 layers (input and dense): 32 × (2 + 1) = 96 objects, of which the root, /layers, the
    dense group, its vars and two arrays are 6."""
    per_layer = keras_import.H5_OBJECTS_PER_LAYER
    assert per_layer * 3 == 96
    inside = _with_h5(tmp_path / "inside.keras", _dense_and_empty_groups(90))
    assert import_keras(str(inside), weights=True)[1]["d.weight"][2, 1] == 21
    outside = _with_h5(tmp_path / "outside.keras", _dense_and_empty_groups(91))
    assert "more than 96 groups and arrays (got \"92 in '/layers/dense'\"" in _error(outside, weights=True)


def test_a_wide_group_is_counted_before_it_is_listed(tmp_path: Path, monkeypatch) -> None:
    def build(h5) -> None:
        own = _dense_vars(h5)
        for i in range(2, 40):
            own[str(i)] = own["1"]  # links cost a few bytes each: counted before the names are read

    monkeypatch.setattr(keras_import, "MAX_H5_OBJECTS", 30)
    assert "40 in '/layers/dense/vars'" in _error(_with_h5(tmp_path / "wide.keras", build), weights=True)


def test_depth_cap_just_inside_and_outside(monkeypatch) -> None:
    _, depth = _objects_and_depth("conv2d")
    assert depth == 6  # layers/sequential/layers/conv2d/vars/0
    monkeypatch.setattr(keras_import, "MAX_H5_DEPTH", depth)
    assert "block/pw.weight" in import_keras(str(DATA / "w_conv2d.keras"), weights=True)[1]
    monkeypatch.setattr(keras_import, "MAX_H5_DEPTH", depth - 1)
    assert f"nested more than {depth - 1} groups deep" in _error(DATA / "w_conv2d.keras", weights=True)


def test_real_depth_cap_on_a_chain_of_single_links(tmp_path: Path) -> None:
    """No object twice, but deeper than any Keras file: each level is one more model."""
    cap = keras_import.MAX_H5_DEPTH
    assert cap == 72

    def build(h5) -> None:
        group = h5
        for _ in range(cap // 2 + 1):
            group = group.create_group("layers/m")

    assert f"nested more than {cap} groups deep" in _error(_with_h5(tmp_path / "deep.keras", build), weights=True)


def _uint8(elements: int):
    def build(h5) -> None:
        own = h5.create_group("layers/dense/vars")
        own.attrs["name"] = "d"
        own.create_dataset("0", shape=(elements,), dtype="u1", chunks=(1024,))  # nothing written: a few KB
        own.create_dataset("1", data=np.zeros(2))

    return build


def test_uint8_array_is_capped_as_the_float64_it_becomes(tmp_path: Path, cli_process) -> None:
    """Just under 2 GiB of uint8 passed a cap on stored bytes and asked for 16 GiB once converted."""
    elements = 2 * 1024**3 - 1024
    assert elements < keras_import.MAX_WEIGHTS_BYTES  # as stored, within the cap on stored bytes
    path = _with_h5(tmp_path / "u8.keras", _uint8(elements))
    assert path.stat().st_size < 4096
    message = _error(path, weights=True)
    assert "more than 536,870,912 numbers (4,294,967,296 bytes once read as float64)" in message
    assert "(2147482624,), uint8" in message
    code, _, err = cli_process("import", str(path), "--weights-out", str(tmp_path / "w.npz"), timeout=30)
    assert code == 2 and "internal error" not in err and len(err.strip().splitlines()) == 1


def test_numbers_cap_just_inside_and_outside(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(keras_import, "MAX_WEIGHTS_ELEMENTS", 4 * 2 + 2)  # the kernel and the bias
    _, weights = import_keras(str(_with_h5(tmp_path / "m.keras", _dense_vars)), weights=True)
    assert weights["d.weight"].dtype == np.float64 and weights["d.weight"][3, 1] == 31
    monkeypatch.setattr(keras_import, "MAX_WEIGHTS_ELEMENTS", 4 * 2 + 1)
    assert "more than 9 numbers (72 bytes once read as float64)" in _error(tmp_path / "m.keras", weights=True)


def test_numbers_cap_counts_every_stored_type_alike(monkeypatch) -> None:
    """w_conv1d holds float32 and int32 arrays: each element counts once, whatever its width."""
    h5py = _h5py()
    with zipfile.ZipFile(DATA / "w_conv1d.keras") as archive, \
            h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
        sizes: list[int] = []
        h5["layers"].visititems(lambda _, node: sizes.append(node.size) if isinstance(node, h5py.Dataset) else None)
    monkeypatch.setattr(keras_import, "MAX_WEIGHTS_ELEMENTS", sum(sizes))
    import_keras(str(DATA / "w_conv1d.keras"), weights=True)
    monkeypatch.setattr(keras_import, "MAX_WEIGHTS_ELEMENTS", sum(sizes) - 1)
    assert "numbers" in _error(DATA / "w_conv1d.keras", weights=True)


# ---------------------------------------------------------------- passes over the layers


def _tensor(source: str) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__", "config": {"shape": [None], "keras_history": [source, 0, 0]}}


def _layer(name: str, class_name: str, config: dict[str, Any], *sources: str) -> dict[str, Any]:
    args: Any = [_tensor(sources[0])] if len(sources) == 1 else [[_tensor(s) for s in sources]]
    return {"class_name": class_name, "name": name, "config": {"name": name, **config},
            "inbound_nodes": [{"args": args, "kwargs": {}}] if sources else []}


def _functional(name: str, layers: list[dict[str, Any]], first: str, last: str) -> dict[str, Any]:
    return {"class_name": "Functional", "name": name, "config": {
        "name": name, "layers": layers, "input_layers": [first, 0, 0], "output_layers": [last, 0, 0]}}


def _fan(inner_layers: int, readers: int) -> dict[str, Any]:
    """A nested model of ``inner_layers`` ReLUs whose output ``readers`` outer Add layers read."""
    inner = [_layer("x", "InputLayer", {"batch_shape": [None, 4]})]
    for i in range(inner_layers):
        inner.append(_layer(f"r{i}", "ReLU", {}, inner[-1]["name"]))
    nested = _functional("inner", inner, "x", inner[-1]["name"])
    nested["inbound_nodes"] = [{"args": [_tensor("image")], "kwargs": {}}]
    outer = [_layer("image", "InputLayer", {"batch_shape": [None, 4]}), nested]
    previous = "inner"
    for i in range(readers):
        outer.append(_layer(f"a{i}", "Add", {}, "inner", previous))
        previous = f"a{i}"
    return _functional("outer", outer, "image", previous)


def test_a_nested_model_is_resolved_once_however_often_it_is_read(monkeypatch) -> None:
    """40,000 readers of a 40,000-layer nested model took 60–100 s: its layers were searched per reader."""
    calls: list[str] = []
    find = keras_import._Importer.find_output

    def counted(self, raw, scope, tensor, depth):
        calls.append(scope)
        return find(self, raw, scope, tensor, depth)

    monkeypatch.setattr(keras_import._Importer, "find_output", counted)
    spec, _ = import_keras_text(json.dumps(_fan(300, 300)))
    assert calls == ["inner"]
    assert len(spec["layers"]) == 600
    assert spec["layers"][300] == {"type": "add", "name": "a0", "inputs": ["inner/r299", "inner/r299"]}
    assert spec["layers"][301]["inputs"] == ["inner/r299", "a0"]


def test_nested_outputs_through_two_levels_are_found_once() -> None:
    """A functional model whose output is a nested Sequential's output, read by several layers."""
    deep = {"class_name": "Sequential", "name": "deep", "config": {"name": "deep", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 4]}},
        {"class_name": "Dense", "config": {"name": "fc", "units": 3}}]},
        "inbound_nodes": [{"args": [_tensor("x")], "kwargs": {}}]}
    middle = _functional("middle", [_layer("x", "InputLayer", {"batch_shape": [None, 4]}), deep], "x", "deep")
    middle["inbound_nodes"] = [{"args": [_tensor("image")], "kwargs": {}}]
    model = _functional("outer", [
        _layer("image", "InputLayer", {"batch_shape": [None, 4]}), middle,
        _layer("r", "ReLU", {}, "middle"), _layer("s", "Add", {}, "middle", "r")], "image", "s")
    spec, _ = import_keras_text(json.dumps(model))
    assert [(layer["name"], layer["inputs"]) for layer in spec["layers"]] == [
        ("middle/deep/fc", "input"), ("r", "middle/deep/fc"), ("s", ["middle/deep/fc", "r"])]


def test_a_model_never_called_is_searched_with_names_of_any_type() -> None:
    """A nested model with no call is not imported, so its layers' names are unchecked when a layer reads its
    output: a list as a name must not break the index of its models."""
    odd = {"class_name": "Functional", "name": ["odd"], "config": {"name": ["odd"], "layers": []}}
    inner = _functional("inner", [_layer("x", "InputLayer", {"batch_shape": [None, 4]}), odd,
                                  _layer("r", "ReLU", {}, "x")], "x", "r")
    model = _functional("outer", [_layer("image", "InputLayer", {"batch_shape": [None, 4]}), inner,
                                  _layer("after", "ReLU", {}, "inner")], "image", "after")
    with pytest.raises(CnnCalcError, match="layer 1 'after': field 'inputs': unknown layer in 'inputs' "
                                           r"\(got 'inner/r'"):
        import_keras_text(json.dumps(model))


def test_per_channel_constants_come_from_one_analysis(monkeypatch) -> None:
    """One analysis per Rescaling layer made 1,000 of them take 26 s; now one for the model."""
    built: list[int] = []
    from cnncalc.spec import network

    real = network.build_network

    def counted(spec, source="<spec>"):
        built.append(len(spec["layers"]))
        return real(spec, source)

    monkeypatch.setattr(network, "build_network", counted)
    layers = [_layer("x", "InputLayer", {"batch_shape": [None, 5, 3]})]
    for i in range(200):
        layers.append(_layer(f"s{i}", "Rescaling", {"scale": 0.5, "offset": 0.25}, layers[-1]["name"]))
    layers.append(_layer("norm", "Normalization", {"mean": 2, "variance": [1.0, 4.0, 9.0]}, "s199"))
    spec, _ = import_keras_text(json.dumps(_functional("m", layers, "x", "norm")))
    assert built == [201, 201]  # the channel counts, then the check of the finished spec
    assert spec["layers"][0]["mean"] == [-0.5] * 3 and spec["layers"][0]["var"] == [4.0] * 3
    assert spec["layers"][-1]["mean"] == [2.0] * 3 and spec["layers"][-1]["var"] == [1.0, 4.0, 9.0]
    x = 10 * np.arange(5)[None, :, None] + np.arange(3)  # 10·position + channel
    from cnncalc.run.executor import run

    y = run(real(spec), x.astype(float), {}).output
    expected = x.astype(float)
    for _ in range(200):
        expected = expected * 0.5 + 0.25
    assert np.allclose(y, (expected - 2) / np.sqrt([1.0, 4.0, 9.0]))


def test_per_channel_values_stop_at_the_spec_cap(monkeypatch) -> None:
    from cnncalc.spec import blocks

    layers = [_layer("x", "InputLayer", {"batch_shape": [None, 10]}),
              _layer("s", "Rescaling", {"scale": 2.0}, "x"), _layer("t", "Rescaling", {"scale": 2.0}, "s")]
    monkeypatch.setattr(blocks, "MAX_EXPANDED_VALUES", 40)  # 2 layers × mean and var × 10 channels
    assert import_keras_text(json.dumps(_functional("m", layers, "x", "t")))[0]["layers"][1]["var"] == [0.25] * 10
    monkeypatch.setattr(blocks, "MAX_EXPANDED_VALUES", 39)
    with pytest.raises(CnnCalcError, match="more than 39 values"):
        import_keras_text(json.dumps(_functional("m", layers, "x", "t")))


@pytest.mark.parametrize(("scale", "offset", "refused"), [
    (1e150, 1.0, False), (1e155, 1.0, True),  # scale² overflows past ~1.3e154
    (1e-150, 0.0, False), (1e-155, 0.0, True),  # 1/scale² overflows
    (1e-300, 1e300, True),  # −offset/scale overflows
    (10**400, 0.0, True),  # not a float64 at all
])
def test_rescaling_constants_stay_within_float64(scale: float, offset: float, refused: bool) -> None:
    layers = [_layer("x", "InputLayer", {"batch_shape": [None, 2]}),
              _layer("s", "Rescaling", {"scale": scale, "offset": offset}, "x")]
    text = json.dumps(_functional("m", layers, "x", "s"))
    if refused:
        with pytest.raises(CnnCalcError) as caught:
            import_keras_text(text)
        assert "layer 's'" in str(caught.value) and "float64" in str(caught.value)
    else:
        var = import_keras_text(text)[0]["layers"][0]["var"]
        assert var == [1.0 / float(scale) ** 2] * 2 and 0 < var[0] < float("inf")


def test_normalization_constant_beyond_float64(tmp_path: Path) -> None:
    layers = [_layer("x", "InputLayer", {"batch_shape": [None, 2]}),
              _layer("n", "Normalization", {"mean": 10**400, "variance": 1.0}, "x")]
    with pytest.raises(CnnCalcError, match="'mean' is not a finite float64"):
        import_keras_text(json.dumps(_functional("m", layers, "x", "n")))


def test_a_nested_model_without_outputs_in_a_sequential() -> None:
    """Found by the fuzz test: the next layer had no input (IndexError)."""
    nested = _functional("inner", [_layer("x", "InputLayer", {"batch_shape": [None, 4]}),
                                   _layer("r", "ReLU", {}, "x")], "x", "r")
    nested["config"]["output_layers"] = []
    model = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 4]}}, nested,
        {"class_name": "ReLU", "config": {"name": "after"}}]}}
    with pytest.raises(CnnCalcError, match="layer 'inner': field 'output_layers': the nested model has no output"):
        import_keras_text(json.dumps(model))


@pytest.mark.parametrize(("class_name", "config", "field"), [
    ("UpSampling2D", {"interpolation": [1, 4]}, "interpolation"),  # found by the fuzz test (TypeError)
    ("Dense", {"units": 2, "activation": ["relu"]}, "activation"),
    ("Activation", {"activation": {"class_name": "ReLU", "config": {"name": ["relu"]}}}, "activation"),
])
def test_a_list_where_a_name_belongs(class_name: str, config: dict[str, Any], field: str) -> None:
    layers = [_layer("x", "InputLayer", {"batch_shape": [None, 4, 4, 2]}), _layer("u", class_name, config, "x")]
    with pytest.raises(CnnCalcError, match=f"layer 'u': field '{field}'"):
        import_keras_text(json.dumps(_functional("m", layers, "x", "u")))


# ---------------------------------------------------------------- fuzz: random Keras 3 configs

_SMALL = st.integers(1, 4)
_SIZES = st.one_of(_SMALL, st.lists(_SMALL, min_size=1, max_size=3))
_FIELDS: dict[str, Any] = {
    "filters": _SMALL, "units": _SMALL, "kernel_size": _SIZES, "strides": _SIZES, "pool_size": _SIZES,
    "padding": st.sampled_from(["valid", "same"] * 4 + ["causal", 1, [1, 1], [[1, 0], [0, 1]]]),
    "dilation_rate": _SIZES, "groups": _SMALL, "depth_multiplier": _SMALL, "use_bias": st.booleans(),
    "activation": st.sampled_from(["relu", "linear", "softmax", "gelu", "leaky_relu", "hard_sigmoid", "nope",
                                   {"class_name": "ReLU", "config": {"name": "relu"}}]),
    "axis": st.one_of(st.just(-1), st.integers(-3, 3), st.lists(st.integers(-2, 3), max_size=2)),
    "center": st.booleans(), "scale": st.one_of(st.floats(-4, 4), st.booleans(), st.sampled_from([1e200, 0])),
    "offset": st.floats(-4, 4), "epsilon": st.floats(0, 1), "rate": st.floats(0, 1),
    "mean": st.one_of(st.floats(-2, 2), st.lists(st.floats(-2, 2), max_size=4)),
    "variance": st.one_of(st.floats(0.1, 2), st.lists(st.floats(0.1, 2), max_size=4)),
    "target_shape": st.lists(st.integers(-1, 8), min_size=1, max_size=3),
    "dims": st.one_of(st.permutations([1, 2, 3]), st.permutations([1, 2])),
    "cropping": st.one_of(_SMALL, st.just([[1, 0], [0, 1]]), st.just([1, 1])), "size": _SIZES,
    "interpolation": st.sampled_from(["nearest", "bilinear", "bicubic"]), "keepdims": st.booleans(),
    "max_value": st.sampled_from([None, 6, 3.5]), "negative_slope": st.floats(0, 1), "threshold": st.just(0.5),
    "alpha": st.floats(0, 2), "shared_axes": st.sampled_from([[1, 2], [1], [1, 2, 3], None]), "input_dim": _SMALL,
    "output_dim": _SMALL, "num_heads": _SMALL, "key_dim": _SMALL, "value_dim": _SMALL,
    "output_shape": st.sampled_from([None, [4], [2, 2]]), "invert": st.booleans(),
    "data_format": st.sampled_from(["channels_last"] * 5 + ["channels_first"]), "trainable": st.booleans(),
}
_CONV = ["kernel_size", "strides", "padding", "dilation_rate", "use_bias", "activation", "data_format"]
# Keras class → (fields it needs, fields it may have)
_CLASSES: dict[str, tuple[list[str], list[str]]] = {
    "Conv1D": (["filters", "kernel_size"], [*_CONV, "groups"]), "Conv2D": (["filters", "kernel_size"], _CONV),
    "Conv3D": (["filters", "kernel_size"], _CONV), "DepthwiseConv2D": (["kernel_size"], [*_CONV, "depth_multiplier"]),
    "SeparableConv2D": (["filters", "kernel_size"], [*_CONV, "depth_multiplier"]),
    "Conv2DTranspose": (["filters", "kernel_size"], _CONV), "Dense": (["units"], ["activation", "use_bias"]),
    "BatchNormalization": ([], ["axis", "center", "scale", "epsilon"]),
    "LayerNormalization": ([], ["axis", "center", "scale", "epsilon"]),
    "GroupNormalization": ([], ["groups", "axis", "center", "scale"]), "Activation": (["activation"], []),
    "ReLU": ([], ["max_value", "negative_slope"]), "LeakyReLU": ([], ["negative_slope", "alpha"]),
    "Softmax": ([], ["axis"]), "ELU": ([], []), "PReLU": (["shared_axes"], []),
    "MaxPooling2D": ([], ["pool_size", "strides", "padding"]), "AveragePooling1D": ([], ["pool_size", "padding"]),
    "GlobalAveragePooling2D": ([], ["keepdims"]), "GlobalMaxPooling1D": ([], ["keepdims", "data_format"]),
    "ZeroPadding1D": ([], ["padding"]), "ZeroPadding2D": ([], ["padding"]), "Cropping2D": ([], ["cropping"]),
    "Cropping1D": ([], ["cropping"]), "UpSampling2D": ([], ["size", "interpolation"]), "Add": ([], []),
    "Multiply": ([], []), "Concatenate": ([], ["axis"]), "Flatten": ([], []), "Reshape": (["target_shape"], []),
    "Permute": (["dims"], []), "Dropout": (["rate"], []), "Identity": ([], []),
    "Rescaling": (["scale"], ["offset"]), "Normalization": ([], ["mean", "variance", "axis", "invert"]),
    "Embedding": (["input_dim", "output_dim"], []),
    "MultiHeadAttention": (["num_heads", "key_dim"], ["value_dim", "output_shape", "use_bias"]),
    "InputLayer": ([], []), "Lambda": ([], []), "NoSuchLayer": ([], []),
}
_MERGES = ("Add", "Multiply", "Concatenate", "MultiHeadAttention")

_WEIRD = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([10**30, -(10**30), 2**63]),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4),
                   st.lists(st.integers(-2, 4), max_size=4), st.just({}), st.just([[1, 2], [0, 1]]))


def _rarely(draw, often: Any, rarely: Any, odds: int = 10) -> Any:
    """``often``'s value, one time in ``odds`` ``rarely``'s."""
    return draw(rarely) if draw(st.integers(1, odds)) == 1 else draw(often)


@st.composite
def _layer_config(draw, class_name: str, name: str) -> dict[str, Any]:
    needed, optional = _CLASSES[class_name]
    keys = [k for k in needed if draw(st.integers(1, 20)) > 1]  # a needed field now and then missing
    keys += draw(st.lists(st.sampled_from(optional), max_size=3, unique=True)) if optional else []
    keys += draw(st.lists(st.sampled_from(sorted(_FIELDS)), max_size=1))  # a field of another class
    config: dict[str, Any] = {"name": name}
    for key in keys:
        config[key] = _rarely(draw, _FIELDS[key], _WEIRD)
    return config


def _tensor_ref(source: str, tensor: int) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__", "config": {"shape": [None], "keras_history": [source, 0, tensor]}}


@st.composite
def _keras_model(draw, depth: int = 0) -> dict[str, Any]:
    """A Keras 3 Sequential or Functional config of random layers, each reading the layer before it (now and
    then others, or a name that is not there) and now and then a nested model."""
    # even sizes from 2 to 12, one in 21 unknown (a symbol)
    shape = draw(st.lists(st.integers(0, 20).map(lambda v: 2 * (v % 6 + 1) if v else None), min_size=1, max_size=3))
    layers: list[dict[str, Any]] = [{"class_name": "InputLayer", "name": "in",
                                     "config": {"name": "in", "batch_shape": [None, *shape]}, "inbound_nodes": []}]
    for i in range(draw(st.integers(1, 6))):
        name = _rarely(draw, st.just(f"l{i}"), st.sampled_from(["in", f"l{i - 1}"]), 100)
        if depth < 2 and draw(st.integers(1, 12)) == 1:
            layer = draw(_keras_model(depth + 1))
            layer["name"] = layer["config"]["name"] = name
        else:
            class_name = draw(st.sampled_from(sorted(_CLASSES)))
            layer = {"class_name": class_name, "name": name, "config": draw(_layer_config(class_name, name))}
        previous = layers[-1]["name"]
        sources = [previous]
        if layer["class_name"] in _MERGES or draw(st.integers(1, 10)) == 1:
            sources += draw(st.lists(st.sampled_from([entry["name"] for entry in layers] + ["ghost"]),
                                     min_size=1, max_size=2))
        tensor = _rarely(draw, st.just(0), st.just(1), 30)
        refs = [_tensor_ref(source, tensor) for source in sources]
        args: list[Any] = refs if len(refs) == 1 else [refs]
        layer["inbound_nodes"] = _rarely(draw, st.just([{"args": args, "kwargs": {}}]), st.sampled_from([
            [], [[[source, 0, 0, {}] for source in sources]], [{"args": args}, {"args": args}], [{"args": []}],
            [{"args": [refs[0]], "kwargs": {"value": refs[-1]}}], "x"]), 15)
        layers.append(layer)
    last = layers[-1]["name"]
    if draw(st.booleans()):
        return {"class_name": "Sequential", "config": {"name": f"seq{depth}", "layers": layers}}
    outputs = _rarely(draw, st.just([last, 0, 0]), st.sampled_from([[[last, 0, 0]], [], [last, 0, 1], ["in", 0, 0]]))
    return {"class_name": "Functional", "config": {"name": f"fun{depth}", "layers": layers,
                                                   "input_layers": ["in", 0, 0], "output_layers": outputs}}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(model=_keras_model(), as_archive=st.booleans())
def test_fuzz_random_keras_configs(tmp_path_factory, model: dict[str, Any], as_archive: bool) -> None:
    """Import and analysis either succeed or stop with one CnnCalcError line; nothing else escapes."""
    text = json.dumps(model)
    try:
        if as_archive:
            path = tmp_path_factory.mktemp("fuzz") / "m.keras"
            _archive(path, {"metadata.json": b"{}", "config.json": text.encode()})
            spec, _ = import_keras(str(path))
        else:
            spec, _ = import_keras_text(text)
        summary = analyse(build_network(spec))
    except CnnCalcError as error:
        assert "\n" not in str(error) and str(error).strip()
        return
    assert summary.records and summary.records[-1].name == spec["layers"][-1]["name"]
    assert summary.params == sum(record.params for record in summary.records)


def test_a_summary_of_a_large_archive_reads_its_config_only(tmp_path: Path, monkeypatch) -> None:
    """The archive is mapped, not read: a model's weights (here 64 MB stored) never enter memory for a
    summary, and an archive past the old 1 GiB cap is not refused for its size (the cap is lowered here to
    check both sides of it without writing gigabytes)."""
    import tracemalloc

    path = tmp_path / "big.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("config.json", json.dumps(DENSE))
        archive.writestr("model.weights.h5", b"\0" * (64 << 20))
    tracemalloc.start()
    try:
        spec, weights = import_keras(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [layer["type"] for layer in spec["layers"]] == ["dense"] and weights == {}
    assert peak < 8 << 20, f"{peak:,} bytes allocated to read the config"
    size = path.stat().st_size
    monkeypatch.setattr(keras_import, "MAX_ARCHIVE_BYTES", size)
    import_keras(str(path))
    monkeypatch.setattr(keras_import, "MAX_ARCHIVE_BYTES", size - 1)
    assert f"Keras model too large ({size:,} bytes, at most {size - 1:,})" in _error(path)


def test_an_empty_file_and_a_gzip_too_large_are_refused(tmp_path: Path, monkeypatch) -> None:
    empty = tmp_path / "empty.keras"
    empty.write_bytes(b"")
    assert "the Keras JSON cannot be parsed" in _error(empty)
    import gzip

    packed = tmp_path / "model.json.gz"
    packed.write_bytes(gzip.compress(json.dumps(DENSE).encode()))
    assert [layer["type"] for layer in import_keras(str(packed))[0]["layers"]] == ["dense"]
    monkeypatch.setattr(keras_import, "MAX_JSON_FILE_BYTES", packed.stat().st_size - 1)
    assert "gzipped Keras JSON too large" in _error(packed)
