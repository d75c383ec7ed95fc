"""Regenerate the Keras architecture fixtures of this folder (data for tests/test_keras_import.py).

Run once, with Keras 3 installed in a separate environment (no weights are downloaded)::

    python3 -m venv .venv-keras && .venv-keras/bin/pip install keras jax jaxlib
    KERAS_BACKEND=jax .venv-keras/bin/python tests/data/keras/make.py [stem ...]

(stems, e.g. ``convnexttiny``, remake only those models and their entries of ``counts.json``.)

Each ``<name>.json.gz`` is ``model.to_json()`` of ``keras.applications.<Name>(weights=None)``, gzipped;
``counts.json`` holds each model's ``count_params()`` as Keras reports it, next to the published figure
(``null`` where Keras's own count is the reference: the models whose custom layers or operations cnncalc
reads, made with Keras 3.15).
``tiny.keras`` is a small saved model (a nested Sequential, separable, transposed and depthwise convolutions)
and ``tiny.json`` Keras's own figures for it: each top-level layer's parameters and output shape.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).parent
MODELS = {
    "resnet50": ("ResNet50", 25_636_712),
    "mobilenetv2": ("MobileNetV2", 3_538_984),
    "densenet121": ("DenseNet121", 8_062_504),
    "inceptionv3": ("InceptionV3", 23_851_784),
    "xception": ("Xception", 22_910_480),
    "vgg19": ("VGG19", 143_667_240),
    "efficientnetb0": ("EfficientNetB0", 5_330_571),
    # operations of keras.src.ops (x + 3.0, x·(1/6)) and the layers keras.applications defines itself
    "mobilenetv3small": ("MobileNetV3Small", None),
    "mobilenetv3large": ("MobileNetV3Large", None),
    "convnexttiny": ("ConvNeXtTiny", None),
    "inceptionresnetv2": ("InceptionResNetV2", None),
    "efficientnetv2b0": ("EfficientNetV2B0", None),
    "nasnetmobile": ("NASNetMobile", None),
    "resnet50v2": ("ResNet50V2", None),
    "mobilenet": ("MobileNet", None),
}


def main(stems: list[str]) -> None:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras  # only here: test collection imports this file without Keras

    counts = json.loads((HERE / "counts.json").read_text()) if stems else {}
    for stem, (class_name, published) in MODELS.items():
        if stems and stem not in stems:
            continue
        model = getattr(keras.applications, class_name)(weights=None)
        text = model.to_json()
        # mtime=0: the same model gives the same bytes, so a rerun leaves git clean
        with gzip.GzipFile(HERE / f"{stem}.json.gz", "wb", mtime=0) as out:
            out.write(text.encode())
        trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
        counts[stem] = {"class": class_name, "params": model.count_params(), "trainable": trainable,
                        "published": published}
        print(stem, counts[stem])
    (HERE / "counts.json").write_text(json.dumps(counts, indent=1) + "\n")
    print("keras", keras.__version__, "backend", keras.backend.backend())


def tiny() -> None:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras
    from keras import layers

    inner = keras.Sequential([keras.Input((8, 8, 4)), layers.Conv2D(4, 3, padding="same", name="ic"),
                              layers.BatchNormalization(name="ibn")], name="inner")
    x = keras.Input((16, 16, 3), name="img")
    y = layers.SeparableConv2D(4, 3, strides=2, padding="same", name="sep")(x)
    y = inner(y)
    y = layers.Conv2DTranspose(3, 3, strides=2, padding="same", name="tr")(y)
    y = layers.DepthwiseConv2D(3, name="dw")(y)
    y = layers.GlobalAveragePooling2D(name="gap")(y)
    y = layers.Dense(5, activation="softmax", name="fc")(y)
    model = keras.Model(x, y, name="tiny")
    model.save(HERE / "tiny.keras")
    figures = {"params": model.count_params(),
               "layers": {layer.name: {"params": layer.count_params(), "shape": list(layer.output.shape[1:])}
                          for layer in model.layers[1:]}}
    (HERE / "tiny.json").write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
    if not sys.argv[1:]:
        tiny()
