"""Every model of keras.applications through cnncalc: built with ``weights=None``, saved as ``model.to_json()``
and as ``.keras``, imported, and compared with Keras itself — ``count_params()`` and the trainable count,
each layer's output shape, and ``cnncalc run model.keras`` (its own weights, imported in memory, float64)
against ``model.predict`` (float32) within 1e-5 of the output's scale; where a model is so ill-conditioned
with random weights that float32 arithmetic is off by more, against the same model and weights computed by
Keras in float64 (JAX with x64 enabled): the note says how far Keras's and cnncalc's float32 runs were.
Keras on JAX computes some layers in float32 even under a float64 dtype policy (its ``result_type`` turns
float64 into float32 on every backend but TensorFlow: ``BatchNormalization``, ``GlobalAveragePooling2D``,
``LayerNormalization`` ...), so the float64 model is built and run with that demotion lifted, and used only
if its traced computation holds no float32 value. The models are built with ``classifier_activation=None``,
so that the run compares logits; the input is uniform in [0, 255].

Run (needs Keras 3 with JAX, and h5py)::

    KERAS_BACKEND=jax python benchmarks/bench_keras_import.py              # the small and medium models
    KERAS_BACKEND=jax python benchmarks/bench_keras_import.py --all        # every model (hours on 2 cores)
    KERAS_BACKEND=jax python benchmarks/bench_keras_import.py ConvNeXtTiny MobileNetV3Small
    KERAS_BACKEND=jax python benchmarks/bench_keras_import.py --all --no-run   # imports, counts, shapes

One row per model: parameters (Keras, cnncalc), layers whose shapes agree, the JSON and .keras imports, the
run's largest difference over the output's largest value, seconds, and for a failure the layer and reason.
When the outputs differ, the first layer (in the model's order) whose output differs is named.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_ENABLE_X64", "1")  # Keras computes in float64 when asked (floatx stays float32)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cnncalc.calc.analysis import analyse
from cnncalc.errors import CnnCalcError
from cnncalc.interop.service import import_model, run_model

#: the models, smallest first (parameters, then input size); the default run stops at SMALL
MODELS = [
    "MobileNetV3Small", "MobileNet", "MobileNetV2", "MobileNetV3Large", "NASNetMobile", "EfficientNetB0",
    "EfficientNetV2B0", "DenseNet121", "EfficientNetV2B1", "EfficientNetB1", "EfficientNetV2B2", "DenseNet169",
    "EfficientNetB2", "DenseNet201", "EfficientNetV2B3", "EfficientNetB3", "Xception", "InceptionV3",
    "ResNet50", "ResNet50V2", "ConvNeXtTiny", "EfficientNetV2S", "ResNet101", "ResNet101V2", "EfficientNetB4",
    "ConvNeXtSmall", "ResNet152", "ResNet152V2", "InceptionResNetV2", "EfficientNetB5", "EfficientNetV2M",
    "ConvNeXtBase", "NASNetLarge", "EfficientNetB6", "VGG16", "VGG19", "EfficientNetB7", "EfficientNetV2L",
    "ConvNeXtLarge", "ConvNeXtXLarge",
]
SMALL = MODELS.index("ConvNeXtTiny") + 1
TOLERANCE = 1e-5


def check(keras: Any, class_name: str, folder: Path, rng: np.random.Generator, execute: bool = True
          ) -> dict[str, Any]:
    row: dict[str, Any] = {"model": class_name}
    start = time.time()
    keras.utils.set_random_seed(0)  # the same weights on every run of the benchmark
    # the classifier's softmax left off: a softmax saturated by random weights (NASNet's outputs were one-hot)
    # would hide any difference before it; counts and shapes are the same either way
    model = getattr(keras.applications, class_name)(weights=None, classifier_activation=None)
    row["keras"] = model.count_params()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    json_path, keras_path = folder / f"{class_name}.json", folder / f"{class_name}.keras"
    json_path.write_text(model.to_json())
    model.save(keras_path)
    shape = [224 if d is None else d for d in model.input_shape[1:]]
    where = [f"{symbol}={size}" for symbol, size in zip("nm", shape) if None in model.input_shape[1:]]
    try:
        imported = import_model(str(json_path))
        summary = analyse(imported.network)
        row["cnncalc"] = summary.params
        if (summary.params, summary.trainable) != (row["keras"], trainable):
            row["reason"] = f"trainable {summary.trainable:,} against Keras's {trainable:,}"
        from cnncalc.interop.service import read_network

        records = {r.name: r for r in analyse(read_network(str(json_path), where or None)).records}
        compared = wrong = 0
        for layer in model.layers[1:]:
            record = records.get(layer.name)
            if record is None or isinstance(layer, keras.Model):
                continue  # fused (hard_sigmoid) or a nested model (its layers are compared by scoped name)
            # Keras leaves a size it does not know (an input of [None, None, 3]) as None: those are not compared
            expected = tuple(layer.output.shape[1:])
            got = tuple(record.output_shape)
            compared += 1
            if len(got) != len(expected) or any(e is not None and g != e for g, e in zip(got, expected)):
                wrong += 1
                row.setdefault("reason", f"layer '{layer.name}': shape {got} against {expected}")
        row["shapes"] = f"{compared - wrong}/{compared}"
        row["json"] = "ok"
    except CnnCalcError as error:
        row["json"] = "FAIL"
        row["reason"] = str(error)
    try:
        import_model(str(keras_path), weights_out=str(folder / "w.npz") if execute else None)
        row["keras_file"] = "ok"
    except CnnCalcError as error:
        row["keras_file"] = "FAIL"
        row.setdefault("reason", str(error))
    if row.get("keras_file") == "ok" and execute:
        x = rng.uniform(0.0, 255.0, size=shape).astype(np.float32)
        np.save(folder / "x.npy", x)
        expected_y = np.asarray(model.predict(x[None], verbose=0))[0].astype(np.float64)
        report = run_model(str(keras_path), str(folder / "x.npy"), max_memory=12 * 1024**3)
        scale = float(np.abs(expected_y).max())
        row["error"] = float(np.abs(report.output - expected_y).max()) / scale
        if not row["error"] <= TOLERANCE:
            # a deep network with random weights can be chaotic: float32 rounding grows through it to the
            # output's scale (EfficientNetV2M: Keras's float32 output is off by 1.1 of it, cnncalc's by 0.67), and
            # the fair comparison is with Keras itself computing in float64, on the same weights
            single = run_model(str(keras_path), str(folder / "x.npy"), max_memory=12 * 1024**3, dtype="float32")
            spread = float(np.abs(single.output - report.output).max()) / scale
            with keras_in_float64(keras):
                twin = float64_twin(keras, model, class_name)
                double = None
                if twin is not None:
                    theirs = np.asarray(twin.predict(x[None].astype(np.float64), verbose=0))[0]
                    double = float(np.abs(report.output - theirs).max()) / float(np.abs(theirs).max())
                if double is not None and double <= TOLERANCE:
                    row["note"] = (f"against Keras in float64 (its float32 is off by {row['error']:.1e}; "
                                   f"cnncalc's float32 by {spread:.1e})")
                    row["error"] = double
                else:
                    where = first_difference(keras, model if twin is None else twin, report, x)
                    row.setdefault("reason", f"{where}; against Keras in float64: "
                                             + ("not computed (not float64 throughout)" if double is None else f"{double:.1e}")
                                             + f" (cnncalc's float32 and float64 differ by {spread:.1e})")
    row["seconds"] = time.time() - start
    return row


@contextlib.contextmanager
def keras_in_float64(keras: Any) -> Iterator[None]:
    """Keras building and computing in float64 while inside: floatx, the global dtype policy, and its type
    promotion, which on JAX turns float64 into float32 (``BIT64_TO_BIT32_DTYPE``, "aligned with JAX's default"
    even with x64 enabled). With the demotion, ``BatchNormalization`` (``result_type(inputs.dtype, "float32")``)
    and ``GlobalAveragePooling2D``'s mean ran in float32 under a float64 policy: EfficientNetV2M's ``stem_bn``
    was 1.0e-7 from cnncalc's float64 output and the model's output 0.58 of its scale; without it, 1.4e-16
    and 6.8e-9."""
    from keras.src.backend.common import dtypes  # private, but the only switch for it

    demoted = dtypes.BIT64_TO_BIT32_DTYPE.get("float64")
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")  # the global policy, once read, no longer follows floatx
    dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
    try:
        yield
    finally:
        if demoted is not None:
            dtypes.BIT64_TO_BIT32_DTYPE["float64"] = demoted
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")


def float64_twin(keras: Any, model: Any, class_name: str) -> Any | None:
    """The same model with the same weights built by Keras in float64 (inside :func:`keras_in_float64`); None
    where any value of its computation is not float64 (JAX without x64, or a layer Keras still computes in
    float32), checked on the traced computation, so that the reference is never silently float32."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    twin = getattr(keras.applications, class_name)(weights=None, classifier_activation=None)
    twin.set_weights([np.asarray(w, dtype=np.float64) for w in model.get_weights()])
    shape = (1, *(224 if d is None else d for d in twin.input_shape[1:]))
    traced = str(jax.make_jaxpr(lambda v: twin(v, training=False))(jax.ShapeDtypeStruct(shape, np.float64)))
    return twin if "f64[" in traced and not any(f"{kind}[" in traced for kind in ("f32", "f16", "bf16")) else None


def first_difference(keras: Any, model: Any, report: Any, x: np.ndarray) -> str:
    """The first layer, in the model's order, whose output differs from Keras's by more than the tolerance
    (``model`` in float32 or, inside :func:`keras_in_float64`, its float64 twin)."""
    names = {r.name for r in report.result.summary.records}
    layers = [layer for layer in model.layers[1:] if layer.name in names and not isinstance(layer, keras.Model)]
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    dtype = np.dtype(model.inputs[0].dtype)  # float32, or float64 for the twin
    for layer, value in zip(layers, probe.predict(x[None].astype(dtype), verbose=0)):
        ours, theirs = report.result.layer_output(layer.name), np.asarray(value, dtype=np.float64)[0]
        ours = ours[0] if ours.ndim == theirs.ndim + 1 else ours
        scale = max(float(np.abs(theirs).max()), 1e-30)
        if ours.shape != theirs.shape or float(np.abs(ours - theirs).max()) / scale > TOLERANCE:
            return f"layer '{layer.name}' ({type(layer).__name__}) differs first"
    return "the output differs, no layer before it"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="keras.applications class names (default: the small ones)")
    parser.add_argument("--all", action="store_true", help="every model")
    parser.add_argument("--no-run", action="store_true", help="imports, counts and shapes only (no run)")
    options = parser.parse_args()
    import keras

    chosen = options.models or (MODELS if options.all else MODELS[:SMALL])
    unknown = sorted(set(chosen) - set(MODELS))
    if unknown:
        parser.error(f"not in the list: {', '.join(unknown)}")
    rng = np.random.default_rng(0)
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}; tolerance {TOLERANCE:g} of the "
          "output's largest value")
    header = f"{'model':18} {'Keras params':>13} {'cnncalc':>13} {'shapes':>9} {'json':>5} {'.keras':>6} " \
             f"{'run error':>10} {'s':>6}  failing layer / reason"
    print(header)
    print("-" * len(header))
    failures = 0
    for class_name in chosen:
        with tempfile.TemporaryDirectory() as folder:
            try:
                row = check(keras, class_name, Path(folder), rng, not options.no_run)
            except Exception as error:  # noqa: BLE001 - a row per model, whatever happens
                traceback.print_exc()
                row = {"model": class_name, "reason": f"{type(error).__name__}: {error}"}
        ok = "reason" not in row
        failures += not ok
        error = row.get("error")
        print(f"{row['model']:18} {row.get('keras', 0):>13,} {row.get('cnncalc', 0):>13,} "
              f"{row.get('shapes', '-'):>9} {row.get('json', '-'):>5} {row.get('keras_file', '-'):>6} "
              f"{'-' if error is None else f'{error:.1e}':>10} {row.get('seconds', 0):>6.0f}  "
              f"{row.get('note', '') if ok else row['reason'][:200]}", flush=True)
    print(f"{len(chosen) - failures} of {len(chosen)} models pass")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
