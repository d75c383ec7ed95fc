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


def _efficientnet_block(keras: Any) -> Any:
    """An EfficientNetV2 MBConv block as keras.applications builds it: rescaling, expansion, depthwise,
    squeeze-and-excitation (global mean, reshape, two 1×1 convolutions), projection, residual."""
    layers = keras.layers
    zeros = {"kernel_initializer": "zeros"}  # the weights are set after; JAX's random ones take seconds
    i = keras.Input((6, 6, 3))
    x = layers.Rescaling(1.0 / 128.0, offset=-1, name="rescale")(i)
    x = layers.Conv2D(8, 3, padding="same", use_bias=False, name="stem", **zeros)(x)
    x = layers.Activation("swish", name="stem_act")(layers.BatchNormalization(name="stem_bn")(x))
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw",
                               depthwise_initializer="zeros")(x)
    y = layers.Activation("swish", name="dw_act")(layers.BatchNormalization(name="dw_bn")(y))
    se = layers.Reshape((1, 1, 8), name="se_reshape")(layers.GlobalAveragePooling2D(name="se_squeeze")(y))
    se = layers.Conv2D(2, 1, activation="swish", name="se_reduce", **zeros)(se)
    se = layers.Conv2D(8, 1, activation="sigmoid", name="se_expand", **zeros)(se)
    y = layers.Multiply(name="se_excite")([y, se])
    y = layers.BatchNormalization(name="project_bn")(layers.Conv2D(8, 1, use_bias=False, name="project", **zeros)(y))
    return keras.Model(i, layers.Add(name="add")([x, y]))


def test_an_efficientnet_block_runs_like_keras_in_float64(tmp_path: Path) -> None:
    """cnncalc's float64 run of an imported model is float64 throughout: against Keras computing in float64
    on the same weights, within 1e-12. Keras on JAX demotes float64 to float32 in its type promotion
    (``BatchNormalization`` and ``GlobalAveragePooling2D`` then ran in float32 under a float64 policy, 1e-7 off;
    enough, through EfficientNetV2M's chaotic random weights, for 0.58 of the output), so the Keras model is
    built with the demotion lifted and its traced computation checked to hold no float32 value."""
    keras = _keras()
    if keras.backend.backend() != "jax":
        pytest.skip("the float64 reference is computed with JAX")
    import jax
    from keras.src.backend.common import dtypes

    model = _seeded(_efficientnet_block(keras), 3)
    for layer in model.layers:  # moving variances > 0, as trained ones are
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_variance.assign(np.abs(layer.moving_variance.numpy()) + 0.1)
    path = tmp_path / "block.keras"
    model.save(path)
    x = np.random.default_rng(4).uniform(0.0, 255.0, size=(6, 6, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    got = run_model(str(path), str(tmp_path / "x.npy")).output
    assert got.dtype == np.float64

    x64_before, demoted = jax.config.jax_enable_x64, dtypes.BIT64_TO_BIT32_DTYPE["float64"]
    jax.config.update("jax_enable_x64", True)
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
    try:
        twin = _efficientnet_block(keras)
        twin.set_weights([np.asarray(w, dtype=np.float64) for w in model.get_weights()])
        traced = str(jax.make_jaxpr(lambda v: twin(v, training=False))(jax.ShapeDtypeStruct((1, 6, 6, 3),
                                                                                           np.float64)))
        assert "f64[" in traced and "f32[" not in traced
        expected = np.asarray(twin(x[None].astype(np.float64), training=False))[0]
    finally:
        dtypes.BIT64_TO_BIT32_DTYPE["float64"] = demoted
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")
        jax.config.update("jax_enable_x64", x64_before)
    assert expected.dtype == np.float64 and got.shape == expected.shape == (6, 6, 8)
    assert np.abs(got - expected).max() <= 1e-12 * np.abs(expected).max()
