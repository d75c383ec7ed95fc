"""Regenerate the weighted Keras fixtures of this folder (data for tests/test_keras_weights.py).

Run once, with Keras 3 and h5py installed in a separate environment::

    KERAS_BACKEND=jax .venv-keras/bin/python tests/data/keras/make_weights.py [stem ...]

Each ``w_<name>.keras`` is a small saved model whose every variable is set to seeded random values (so that
a weight read into the wrong place changes the output), and ``w_<name>.npz`` holds a fixed input ``x``
(one sample, no batch axis) and Keras's output ``y`` for it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def models(keras):
    layers = keras.layers
    out = {}

    i = keras.Input((10, 10, 3))
    x = layers.Rescaling(0.5, offset=-0.25, name="rescale")(i)
    x = layers.Conv2D(6, 3, activation="relu", name="conv")(x)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(x)
    x = layers.SeparableConv2D(4, 3, depth_multiplier=2, name="sep")(x)
    x = layers.Conv2DTranspose(6, 3, strides=2, name="tr")(x)
    x = layers.GroupNormalization(groups=2, name="gn")(x)
    x = layers.PReLU(shared_axes=[1, 2], name="prelu")(x)
    inner = keras.Sequential([layers.Conv2D(5, 1, use_bias=False, name="pw"),
                              layers.LayerNormalization(name="ln"),
                              layers.BatchNormalization(center=False, name="bn2")], name="block")
    x = inner(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(3, name="head")(x)
    out["conv2d"] = (keras.Model(i, x, name="conv2d"), (10, 10, 3), False)

    i = keras.Input((9, 3))
    norm = layers.Normalization(name="norm")
    norm.adapt(np.random.default_rng(1).normal(2.0, 3.0, size=(32, 9, 3)).astype("float32"))
    x = norm(i)
    x = layers.Conv1D(4, 3, strides=2, name="c1")(x)
    x = layers.Conv1DTranspose(3, 2, strides=2, name="t1")(x)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dense(2, activation="tanh", name="out")(x)
    out["conv1d"] = (keras.Model(i, x, name="conv1d"), (9, 3), False)

    i = keras.Input((5, 5, 5, 2))
    x = layers.Conv3D(3, 2, name="c3")(i)
    x = layers.Conv3DTranspose(2, 2, strides=2, name="t3")(x)
    x = layers.BatchNormalization(scale=False, name="bn3")(x)
    out["conv3d"] = (keras.Model(i, x, name="conv3d"), (5, 5, 5, 2), False)

    i = keras.Input((6,))
    x = layers.Embedding(11, 8, name="emb")(i)
    x = layers.MultiHeadAttention(2, 3, name="mha")(x, x)
    x = layers.LayerNormalization(name="ln")(x)
    x = layers.Dense(5, name="proj")(x)
    out["tokens"] = (keras.Model(i, x, name="tokens"), (6,), True)

    # operations of keras.src.ops written as Python arithmetic, and the layers keras.applications defines
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    i = keras.Input((6, 6, 3))
    x = layers.Conv2D(4, 3, padding="same", name="conv")(i)
    gate = layers.ReLU(6.0, name="gate_relu6")(x + 3.0) * (1.0 / 6.0)  # MobileNetV3's hard_sigmoid
    x = layers.Multiply(name="gated")([x, gate])
    x = (x - 0.5) / 4.0 * 2.5
    y = LayerScale(0.1, 4, name="scale")(layers.Conv2D(4, 1, name="branch")(x))
    x = CustomScaleLayer(0.17, name="residual")([x, y])
    x = keras.ops.mean(x, axis=[1, 2], keepdims=True)
    x = keras.ops.reshape(x, (-1, 4))
    out["ops"] = (keras.Model(i, x, name="ops"), (6, 6, 3), False)
    return out


def main(stems: list[str]) -> None:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras  # only here: test collection imports this file without Keras
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    custom = {"LayerScale": LayerScale, "CustomScaleLayer": CustomScaleLayer}
    rng = np.random.default_rng(0)
    for stem, (model, shape, ids) in models(keras).items():
        weights = []
        for w in model.weights:
            value = rng.normal(0.0, 0.5, size=w.shape)
            if "variance" in w.path or w.path.endswith("count"):
                value = np.abs(value) + 0.5 if "variance" in w.path else np.asarray(w.numpy())
            weights.append(value.astype(w.dtype))
        model.set_weights(weights)
        x = rng.integers(0, 11, size=shape).astype("float32") if ids else rng.normal(size=shape).astype("float32")
        if stems and stem not in stems:  # drawn all the same, so that the models asked for get the same values
            continue
        model.save(HERE / f"w_{stem}.keras")
        # the reloaded model: Normalization derives its constants from its variables only when loading
        y = np.asarray(keras.models.load_model(HERE / f"w_{stem}.keras", custom_objects=custom)(x[None]))[0]
        np.savez(HERE / f"w_{stem}.npz", x=x, y=y)
        print(stem, y.shape, (HERE / f"w_{stem}.keras").stat().st_size)
    print("keras", keras.__version__, "backend", keras.backend.backend())


if __name__ == "__main__":
    main(sys.argv[1:])  # stems (e.g. ops): remake only those
