"""Weights of a .keras archive: `cnncalc import --weights-out` then `cnncalc run` gives Keras's outputs.

The fixtures (tests/data/keras/w_*.keras, made by make_weights.py) hold seeded random values in every
variable and Keras's own output for a fixed input, so these tests need h5py but not Keras.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnncalc.errors import CnnCalcError

DATA = Path(__file__).parent / "data" / "keras"
FIXTURES = ["conv2d", "conv1d", "conv3d", "tokens", "ops"]


def _h5py():
    return pytest.importorskip("h5py")


def _run(spec: dict, weights: dict, x: np.ndarray) -> np.ndarray:
    from cnncalc.run.executor import run
    from cnncalc.spec.network import build_network

    return run(build_network(spec, "<test>"), x, weights).output


@pytest.mark.parametrize("stem", FIXTURES)
def test_weights_reproduce_keras_outputs(stem: str) -> None:
    _h5py()
    from cnncalc.interop.keras_import import import_keras

    spec, weights = import_keras(str(DATA / f"w_{stem}.keras"), weights=True)
    data = np.load(DATA / f"w_{stem}.npz")
    y = _run(spec, weights, data["x"])
    assert y.shape == data["y"].shape
    assert np.abs(y - data["y"]).max() < 1e-5
    # a weight read into the wrong place would change the output: every weight is used and not all zero
    assert all(np.abs(v).max() > 0 for v in weights.values())


def test_weight_layouts() -> None:
    """Each Keras variable lands under the spec key and shape of DESIGN.md's run-time layout."""
    _h5py()
    from cnncalc.interop.keras_import import import_keras

    _, w = import_keras(str(DATA / "w_conv2d.keras"), weights=True)
    shapes = {k: v.shape for k, v in w.items()}
    assert shapes == {
        "conv.weight": (3, 3, 3, 6), "conv.bias": (6,),
        "bn.gamma": (6,), "bn.beta": (6,), "bn.mean": (6,), "bn.var": (6,),
        "dw.weight": (3, 3, 6, 2), "dw.bias": (12,),
        "sep.weight": (3, 3, 12, 2), "sep.pointwise_weight": (24, 4), "sep.bias": (4,),
        "tr.weight": (3, 3, 4, 6), "tr.bias": (6,),  # Keras keeps [k, k, filters, C_in]
        "gn.gamma": (6,), "gn.beta": (6,), "prelu.weight": (6,),
        "block/pw.weight": (1, 1, 6, 5), "block/ln.gamma": (5,), "block/ln.beta": (5,),
        "block/bn2.gamma": (5,), "block/bn2.mean": (5,), "block/bn2.var": (5,),  # center=False: no beta
        "head.weight": (5, 3), "head.bias": (3,)}
    _, w = import_keras(str(DATA / "w_tokens.keras"), weights=True)
    assert {k: v.shape for k, v in w.items() if k.startswith("mha.")} == {
        "mha.query.weight": (8, 2, 3), "mha.query.bias": (2, 3), "mha.key.weight": (8, 2, 3),
        "mha.key.bias": (2, 3), "mha.value.weight": (8, 2, 3), "mha.value.bias": (2, 3),
        "mha.output.weight": (2, 3, 8), "mha.output.bias": (8,)}
    assert w["emb.weight"].shape == (11, 8)
    _, w = import_keras(str(DATA / "w_conv1d.keras"), weights=True)
    assert set(w) >= {"norm.mean", "norm.var"} and not any("count" in k for k in w)


def test_transposed_kernel_is_swapped_not_reshaped() -> None:
    h5py = _h5py()
    from cnncalc.interop.keras_import import import_keras

    path = DATA / "w_conv2d.keras"
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
        kernels = [h5[f"layers/{key}/vars/0"][()] for key in h5["layers"]
                   if h5[f"layers/{key}/vars"].attrs.get("name") == "tr"]
    _, w = import_keras(str(path), weights=True)
    assert len(kernels) == 1
    assert np.array_equal(w["tr.weight"], np.swapaxes(kernels[0], 2, 3))


def test_cli_import_weights_then_run(cli, tmp_path: Path) -> None:
    _h5py()
    data = np.load(DATA / "w_conv2d.npz")
    np.save(tmp_path / "x.npy", data["x"])
    code, _, err = cli("import", str(DATA / "w_conv2d.keras"), "-o", str(tmp_path / "m.yaml"),
                       "--weights-out", str(tmp_path / "w.npz"))
    assert code == 0, err
    code, _, err = cli("run", str(tmp_path / "m.yaml"), "--input", str(tmp_path / "x.npy"),
                       "--weights", str(tmp_path / "w.npz"), "--output", str(tmp_path / "y.npy"))
    assert code == 0, err
    assert np.abs(np.load(tmp_path / "y.npy") - data["y"]).max() < 1e-5


def test_run_reads_a_model_file_with_its_own_weights(cli, tmp_path: Path) -> None:
    _h5py()
    data = np.load(DATA / "w_ops.npz")
    np.save(tmp_path / "x.npy", data["x"])
    model = str(DATA / "w_ops.keras")
    code, _, err = cli("run", model, "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"))
    assert code == 0, err
    assert np.abs(np.load(tmp_path / "y.npy") - data["y"]).max() < 1e-5
    # --weights wins over the model's own: the same weights with the layer scale doubled double that branch
    from cnncalc.interop.keras_import import import_keras

    _, weights = import_keras(model, weights=True)
    np.savez(tmp_path / "w.npz", **dict(weights, **{"scale.weight": 2 * weights["scale.weight"]}))
    code, _, err = cli("run", model, "--input", str(tmp_path / "x.npy"), "--weights", str(tmp_path / "w.npz"),
                       "--output", str(tmp_path / "y2.npy"), "--lenient")
    assert code == 0, err
    assert np.abs(np.load(tmp_path / "y2.npy") - data["y"]).max() > 1e-3
    # a bad output path is refused before the model is read
    code, _, err = cli("run", model, "--input", str(tmp_path / "x.npy"), "--output", model)
    assert code == 2 and "--output must end in .npy or .json" in err


def test_lenient_is_accepted_by_every_command_that_reads_a_model(cli, tmp_path: Path) -> None:
    model = str(DATA / "w_ops.keras")
    for args in (["summary", model], ["validate", model], ["draw", model, "-o", str(tmp_path / "m.svg")],
                 ["export", model, "--to", "pytorch"], ["summary", "lenet5"]):
        code, _, err = cli(*args, "--lenient")
        assert code == 0, (args, err)
        assert "warning" not in err  # nothing passed through
    assert "layer_scale" in cli("summary", model, "--lenient")[1]


# ---------------------------------------------------------------- without h5py


def test_summary_needs_no_h5py(cli, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "h5py", None)  # as if not installed
    code, out, err = cli("summary", str(DATA / "w_conv2d.keras"))
    assert code == 0, err
    assert "head" in out


def test_weights_out_without_h5py_is_one_line(cli, monkeypatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "h5py", None)
    code, _, err = cli("import", str(DATA / "w_conv2d.keras"), "-o", str(tmp_path / "m.yaml"),
                       "--weights-out", str(tmp_path / "w.npz"))
    assert code == 2
    assert "needs h5py" in err and "pip install" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "w.npz").exists()


# ---------------------------------------------------------------- hostile files


def _rewrite(tmp_path: Path, stem: str, edit) -> str:
    """A copy of a fixture whose model.weights.h5 went through edit(h5 file)."""
    h5py = _h5py()
    with zipfile.ZipFile(DATA / f"w_{stem}.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as h5:
        edit(h5)
    members["model.weights.h5"] = buffer.getvalue()
    out = tmp_path / f"{stem}.keras"
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(out)


def _group(h5, layer: str):
    for key in h5["layers"]:
        if h5[f"layers/{key}/vars"].attrs.get("name") == layer:
            return h5[f"layers/{key}"]
    raise AssertionError(layer)


def _error(path: str) -> str:
    from cnncalc.interop.keras_import import import_keras

    with pytest.raises(CnnCalcError) as info:
        import_keras(path, weights=True)
    return str(info.value)


def test_extra_variable_is_an_error_naming_the_layer(tmp_path: Path) -> None:
    path = _rewrite(tmp_path, "conv2d", lambda h5: _group(h5, "head")["vars"].create_dataset("2", data=[1.0]))
    message = _error(path)
    assert "head" in message and "3 variables" in message and "kernel, bias" in message


def test_missing_variable_is_an_error(tmp_path: Path) -> None:
    path = _rewrite(tmp_path, "conv2d", lambda h5: h5.__delitem__(_group(h5, "bn")["vars"].name + "/3"))
    message = _error(path)
    assert "'bn'" in message and "moving_variance" in message


def test_unknown_attention_sublayer_is_an_error(tmp_path: Path) -> None:
    def edit(h5) -> None:
        group = _group(h5, "mha")
        group.create_group("extra_dense/vars").create_dataset("0", data=np.ones((2, 2)))

    message = _error(_rewrite(tmp_path, "tokens", edit))
    assert "mha" in message and "extra_dense" in message


def test_external_and_soft_links_are_refused(tmp_path: Path) -> None:
    h5py = _h5py()

    def external(h5) -> None:
        group = _group(h5, "head")["vars"]
        del group["0"]
        group["0"] = h5py.ExternalLink("/etc/passwd", "/x")

    assert "link" in _error(_rewrite(tmp_path, "conv2d", external))

    def soft(h5) -> None:
        group = _group(h5, "head")["vars"]
        del group["1"]
        group["1"] = h5py.SoftLink(group.name + "/0")

    assert "link" in _error(_rewrite(tmp_path, "conv2d", soft))


def test_non_numeric_dataset_is_refused(tmp_path: Path) -> None:
    h5py = _h5py()

    def edit(h5) -> None:
        group = _group(h5, "head")["vars"]
        del group["1"]
        group.create_dataset("1", data=["a", "b", "c"], dtype=h5py.string_dtype())

    assert "not numeric" in _error(_rewrite(tmp_path, "conv2d", edit))


def test_corrupted_h5_is_one_error(tmp_path: Path) -> None:
    _h5py()
    with zipfile.ZipFile(DATA / "w_conv2d.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    raw = members["model.weights.h5"]
    members["model.weights.h5"] = raw[: len(raw) // 2]
    out = tmp_path / "cut.keras"
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert "model.weights.h5" in _error(str(out))


def test_no_h5_member(tmp_path: Path) -> None:
    _h5py()
    out = tmp_path / "none.keras"
    with zipfile.ZipFile(DATA / "w_conv2d.keras") as source, zipfile.ZipFile(out, "w") as archive:
        archive.writestr("config.json", source.read("config.json"))
    assert "no model.weights.h5" in _error(str(out))


def _array_bytes(stem: str) -> int:
    h5py = _h5py()
    total = 0
    with zipfile.ZipFile(DATA / f"w_{stem}.keras") as archive, \
            h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
        def add(_: str, node) -> None:
            nonlocal total
            if isinstance(node, h5py.Dataset):
                total += node.size * node.dtype.itemsize

        h5.visititems(add)
    return total


def test_declared_array_bytes_cap(monkeypatch) -> None:
    from cnncalc.interop import keras_import

    total = _array_bytes("conv1d")
    monkeypatch.setattr(keras_import, "MAX_WEIGHTS_BYTES", total)
    keras_import.import_keras(str(DATA / "w_conv1d.keras"), weights=True)  # just inside
    monkeypatch.setattr(keras_import, "MAX_WEIGHTS_BYTES", total - 1)
    assert "declares more than" in _error(str(DATA / "w_conv1d.keras"))


def test_h5_member_size_cap(monkeypatch) -> None:
    _h5py()
    from cnncalc.interop import keras_import

    with zipfile.ZipFile(DATA / "w_conv1d.keras") as archive:
        size = archive.getinfo("model.weights.h5").file_size
    monkeypatch.setattr(keras_import, "MAX_H5_BYTES", size)
    keras_import.import_keras(str(DATA / "w_conv1d.keras"), weights=True)
    monkeypatch.setattr(keras_import, "MAX_H5_BYTES", size - 1)
    assert "too large once decompressed" in _error(str(DATA / "w_conv1d.keras"))


def test_fixture_copy_outside_data_dir(tmp_path: Path) -> None:
    """The reader takes any path: nothing depends on the fixture's folder."""
    _h5py()
    from cnncalc.interop.keras_import import import_keras

    shutil.copy(DATA / "w_conv3d.keras", tmp_path / "m.keras")
    _, w = import_keras(str(tmp_path / "m.keras"), weights=True)
    assert w["t3.weight"].shape == (2, 2, 2, 3, 2)
