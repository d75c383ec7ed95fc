"""Regenerate the Keras architecture fixtures of this folder (data for tests/test_keras_import.py).

Run once, with Keras 3 installed in a separate environment (no weights are downloaded)::

    python3 -m venv .venv-keras && .venv-keras/bin/pip install keras jax jaxlib
    KERAS_BACKEND=jax .venv-keras/bin/python tests/data/keras/make.py

Each ``<name>.json.gz`` is ``model.to_json()`` of ``keras.applications.<Name>(weights=None)``, gzipped;
``counts.json`` holds each model's ``count_params()`` as Keras reports it, next to the published figure.
"""

from __future__ import annotations

import gzip
import json
import os
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
}


def main() -> None:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras  # only here: test collection imports this file without Keras

    counts = {}
    for stem, (class_name, published) in MODELS.items():
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


if __name__ == "__main__":
    main()
