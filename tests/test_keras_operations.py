"""Keras 3 operations (``x + 3.0``, ``keras.ops.mean``, …) and the layers keras.applications defines itself,
built with Keras here, saved as ``.keras``, imported with their weights and run by cnncalc: the same numbers
as ``model.predict``. The fixtures of tests/data/keras cover the same without Keras; this module checks
that the Keras installed still writes what the import reads (framework tier: it needs keras and h5py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnncalc import analyse
from cnncalc.errors import CnnCalcError
from cnncalc.interop.service import import_model, run_model


def _keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("h5py")
    return pytest.importorskip("keras")


def _seeded(model: Any, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.5, size=w.shape).astype(w.dtype) for w in model.weights])
    return model


def _compare(keras: Any, model: Any, tmp_path: Path, shape: tuple[int, ...]) -> dict[str, Any]:
    """Save, import with weights, run; returns the imported spec after checking params and outputs."""
    path = tmp_path / "model.keras"
    model.save(path)
    imported = import_model(str(path), weights_out=str(tmp_path / "w.npz"))
    assert analyse(imported.network).params == model.count_params()
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = np.asarray(model.predict(x[None], verbose=0))[0]
    got = run_model(str(path), str(tmp_path / "x.npy")).output
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()
    return imported.spec


def test_arithmetic_operations_and_hard_sigmoid(tmp_path: Path) -> None:
    keras = _keras()
    layers = keras.layers
    i = keras.Input((5, 5, 3))
    x = layers.Conv2D(4, 3, padding="same", name="conv")(i)
    gate = layers.ReLU(6.0, name="relu6")(x + 3.0) * (1.0 / 6.0)
    x = layers.Multiply(name="gated")([x, gate])
    x = 2.0 * ((x - 0.25) / 3.0) + 1.0
    x = x + layers.Conv2D(4, 1, name="side")(x)
    spec = _compare(keras, _seeded(keras.Model(i, x), 0), tmp_path, (5, 5, 3))
    types = [layer["type"] for layer in spec["layers"]]
    assert types == ["conv", "hardsigmoid", "multiply", "batchnorm", "batchnorm", "batchnorm", "batchnorm", "conv",
                     "add"]


def test_reductions_reshapes_and_transposes(tmp_path: Path) -> None:
    keras = _keras()
    ops = keras.ops
    i = keras.Input((4, 6, 3))
    x = keras.layers.Conv2D(8, 3, name="conv")(i)
    pooled = ops.mean(x, axis=[1, 2], keepdims=True)
    x = x * keras.layers.Activation("sigmoid")(pooled)
    x = ops.max(x, axis=(1, 2))
    x = ops.transpose(ops.reshape(x, (-1, 2, 4)), (0, 2, 1))
    spec = _compare(keras, _seeded(keras.Model(i, x), 1), tmp_path, (4, 6, 3))
    assert [layer["type"] for layer in spec["layers"]] == [
        "conv", "global_avgpool", "sigmoid", "multiply", "global_maxpool", "reshape", "permute"]


def test_application_layers(tmp_path: Path) -> None:
    keras = _keras()
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    i = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(5, 1, name="conv")(i)
    y = LayerScale(0.5, 5, name="ls")(keras.layers.Conv2D(5, 3, padding="same", name="branch")(x))
    x = CustomScaleLayer(0.3, name="res")([x, y])
    spec = _compare(keras, _seeded(keras.Model(i, x), 2), tmp_path, (4, 4, 3))
    assert [layer["type"] for layer in spec["layers"]] == ["conv", "conv", "layer_scale", "batchnorm", "add"]


def test_an_operation_without_a_spec_equivalent_is_named(tmp_path: Path) -> None:
    keras = _keras()
    i = keras.Input((4, 4, 3))
    x = keras.ops.sin(keras.layers.Conv2D(2, 1, name="conv")(i))
    keras.Model(i, x).save(tmp_path / "m.keras")
    with pytest.raises(CnnCalcError, match=r"the operation keras\.src\.ops\.numpy\.Sin has no spec equivalent"):
        import_model(str(tmp_path / "m.keras"))
