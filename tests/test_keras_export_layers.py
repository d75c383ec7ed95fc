"""Keras export of the layers Keras has no class for (normalize, lrn, adaptive pools, class_token,
position_embedding): small keras.ops layers written into the generated source. The source is always parsed
and checked; where keras is installed it runs and must give `cnncalc run`'s output with the same weights."""

from __future__ import annotations

import ast
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_code_export import literal_weights, weight_keys  # the same checks as the other exports

from cnncalc import analyse, load_spec, loads_spec
from cnncalc.interop.identifiers import base_type as _base_type
from cnncalc.interop.keras_export import export_keras
from cnncalc.layers import LAYER_TYPES
from cnncalc.run.executor import gather_weights, run

# every new layer type in an awkward setting: adaptive windows that do not divide the input (1-D, 2-D and
# 3-D, overlapping and of unequal lengths), an even lrn window (one more channel before than after),
# normalize on samples of rank 1, 2 and 3, and the token layers on a [T, d] sequence; all branches end in
# the output so that every layer is compared
CUSTOM = """
name: custom keras layers
input: [7, 6, 5, 4]
layers:
  - {type: adaptive_avgpool, name: a3, size: [3, 4, 2]}
  - {type: flatten, name: fa3}
  - {type: adaptive_maxpool, name: m3, size: [4, 5, 3], inputs: input}
  - {type: lrn, name: lrn3, size: 4, alpha: 0.3, beta: 0.7, k: 1.25}
  - {type: flatten, name: fm3}
  - {type: normalize, name: n3, inputs: input}
  - {type: lrn, name: lrn1, size: 3}
  - {type: flatten, name: fn3}
  - {type: reshape, name: r2, shape: [14, 15, 4], inputs: input}
  - {type: adaptive_avgpool, name: a2, size: [5, 4]}
  - {type: flatten, name: fa2}
  - {type: adaptive_maxpool, name: m2, size: [3, 7], inputs: r2}
  - {type: flatten, name: fm2}
  - {type: reshape, name: r1, shape: [210, 4], inputs: input}
  - {type: normalize, name: n2}
  - {type: flatten, name: fn2}
  - {type: adaptive_maxpool, name: m1, size: 11, inputs: r1}
  - {type: flatten, name: fm1}
  - {type: adaptive_avgpool, name: a1, size: 9, inputs: r1}
  - {type: dense, name: embed, units: 6}
  - {type: class_token, name: cls}
  - {type: position_embedding, name: pos}
  - {type: flatten, name: ft}
  - {type: flatten, name: flat, inputs: input}
  - {type: normalize, name: n1}
  - {type: concat, name: out, inputs: [fa3, fm3, fn3, fa2, fm2, fn2, fm1, ft, n1]}
"""

NEW_TYPES = ("normalize", "lrn", "adaptive_avgpool", "adaptive_maxpool", "class_token", "position_embedding")
CLASSES = {"Normalize", "LocalResponseNorm", "AdaptivePooling", "ClassToken", "PositionEmbedding"}


def classes_of(tree: ast.Module) -> dict[str, ast.ClassDef]:
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def build_lines(source: str) -> list[str]:
    tree = ast.parse(source)
    build = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "build_model")
    return [ast.unparse(node) for node in build.body]


def test_the_new_layer_types_are_layer_types() -> None:
    # every layer type has a rule or a reason: tests/test_interop_coverage.py
    assert set(NEW_TYPES) <= {_base_type(name) for name in LAYER_TYPES}


def test_custom_layers_are_written_only_when_used() -> None:
    tree = ast.parse(export_keras(loads_spec(CUSTOM, "custom.yaml")))
    classes = classes_of(tree)
    assert set(classes) == {"LayerScale", *CLASSES}
    for node in classes.values():
        assert [ast.unparse(base) for base in node.bases] == ["layers.Layer"]
    plain = ast.parse(export_keras(load_spec("lenet5")))
    assert set(classes_of(plain)) == {"LayerScale"}
    one = ast.parse(export_keras(loads_spec("input: [5, 3]\nlayers: [{type: normalize}]")))
    assert set(classes_of(one)) == {"LayerScale", "Normalize"}
    only_max = export_keras(loads_spec("input: [9, 2]\nlayers: [{type: adaptive_maxpool, size: 4}]"))
    assert set(classes_of(ast.parse(only_max))) == {"LayerScale", "AdaptivePooling"}
    assert "def adaptive_bounds" in only_max


def test_custom_layers_use_keras_ops_only() -> None:
    source = export_keras(loads_spec(CUSTOM, "custom.yaml"))
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    assert imported == {"annotations", "numpy", "keras", "layers"}  # no backend (jax, torch, tensorflow)
    for name in CLASSES:
        call = next(node for node in classes_of(tree)[name].body
                    if isinstance(node, ast.FunctionDef) and node.name == "call")
        # tensors go through keras.ops; numpy only builds the constant windows of the adaptive pools
        for node in ast.walk(call):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "np":
                assert name == "AdaptivePooling" and node.attr in ("arange", "minimum"), ast.unparse(node)
    weighted = {name for name in CLASSES
                if any(isinstance(node, ast.FunctionDef) and node.name == "build" for node in classes_of(tree)[name].body)}
    assert weighted == {"ClassToken", "PositionEmbedding"}


def test_custom_layer_calls_carry_the_spec_settings() -> None:
    lines = build_lines(export_keras(loads_spec(CUSTOM, "custom.yaml")))
    for line in ("a3 = AdaptivePooling('average', (3, 4, 2), name='a3')(x)",
                 "m3 = AdaptivePooling('max', (4, 5, 3), name='m3')(x)",
                 "lrn3 = LocalResponseNorm(4, alpha=0.3, beta=0.7, k=1.25, name='lrn3')(m3)",
                 "lrn1 = LocalResponseNorm(3, alpha=0.0001, beta=0.75, k=1.0, name='lrn1')(n3)",
                 "n3 = Normalize(name='n3')(x)", "a2 = AdaptivePooling('average', (5, 4), name='a2')(r2)",
                 "m1 = AdaptivePooling('max', (11,), name='m1')(r1)",
                 "cls = ClassToken(name='cls')(embed)", "pos = PositionEmbedding(name='pos')(cls)"):
        assert line in lines, line


def test_token_weights_are_in_the_loader_table() -> None:
    network = loads_spec(CUSTOM, "custom.yaml")
    table = literal_weights(ast.parse(export_keras(network)))
    assert ("cls", [("cls.weight", "copy")]) in table and ("pos", [("pos.weight", "copy")]) in table
    assert sorted(key for _, parts in table for key, _ in parts) == sorted(weight_keys(network))


def test_vit_b_16_source_structure() -> None:
    network = load_spec("vit_b_16")
    source = export_keras(network)
    tree = ast.parse(source)
    assert set(classes_of(tree)) == {"LayerScale", "ClassToken", "PositionEmbedding"}
    lines = build_lines(source)
    assert "class_token = ClassToken(name='class_token')(patches)" in lines
    assert "pos_embedding = PositionEmbedding(name='pos_embedding')(class_token)" in lines
    assert sum("layers.MultiHeadAttention(num_heads=12, key_dim=64" in line for line in lines) == 12
    table = literal_weights(tree)
    assert sorted(key for _, parts in table for key, _ in parts) == sorted(weight_keys(network))


# layers named like the generated file's modules and helper classes
MODULE_NAMES = """input: [6, 3]
layers:
  - {type: normalize, name: Normalize}
  - {type: class_token, name: ClassToken}
  - {type: dense, name: layers, units: 2}
  - {type: relu, name: keras}
"""


def test_layer_names_never_hide_the_module_names() -> None:
    spec = MODULE_NAMES
    lines = build_lines(export_keras(loads_spec(spec)))
    targets = [line.split(" = ")[0] for line in lines if " = " in line]
    assert not {"Normalize", "ClassToken", "layers", "keras"} & set(targets)
    assert "Normalize_2 = Normalize(name='Normalize_2')(x)" in lines


# ---------------------------------------------------------------- executed where installed

def _run_exported(network: Any, x: np.ndarray, tmp_path: Path) -> tuple[np.ndarray, Any, Any]:
    """(Keras's output, cnncalc's run, the Keras model) in float64 with the same seeded weights."""
    keras = pytest.importorskip("keras")
    if keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    keras.config.set_floatx("float64")
    try:
        arrays = gather_weights(analyse(network), None, 7, np.float64)
        flat = {f"{layer}.{key}": value for layer, parts in arrays.items() for key, value in parts.items()}
        np.savez(tmp_path / "w.npz", **flat)
        module = types.ModuleType("exported_keras")
        exec(compile(export_keras(network), "<exported_keras>", "exec"), module.__dict__)  # noqa: S102
        model = module.build_model()
        module.load_cnncalc_weights(model, str(tmp_path / "w.npz"))
        reference = run(network, x, flat)
        got = np.asarray(model(x, training=False))
    finally:
        keras.config.set_floatx("float32")
    return got, reference, model


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    assert got.shape == want.shape
    return float(np.max(np.abs(got - want)) / max(1.0, float(np.max(np.abs(want)))))


def test_custom_layers_run_like_cnncalc(tmp_path: Path) -> None:
    network = loads_spec(CUSTOM, "custom.yaml")
    x = np.random.default_rng(1).standard_normal((2, 7, 6, 5, 4))
    x[1, ..., 2] = 0.5  # a flat channel: normalize gives 0 there
    got, reference, _ = _run_exported(network, x, tmp_path)
    assert reference.output.shape == (2, 3124)
    # the custom layers use no Keras kernel that rounds to float32: float64 exact up to summation order
    assert _relative(got, reference.output) <= 1e-12
    assert np.all(reference.outputs["n3"][1, ..., 2] == 0)


def test_layer_names_like_module_names_run(tmp_path: Path) -> None:
    spec = MODULE_NAMES
    network = loads_spec(spec)
    got, reference, _ = _run_exported(network, np.random.default_rng(2).standard_normal((3, 6, 3)), tmp_path)
    assert _relative(got, reference.output) <= 1e-12


def test_vit_b_16_runs_like_cnncalc(tmp_path: Path) -> None:
    network = load_spec("vit_b_16")
    got, reference, model = _run_exported(network, np.random.default_rng(1).standard_normal((1, 224, 224, 3)),
                                          tmp_path)
    assert got.shape == (1, 1000)
    # Keras 3 on jax rounds two kernels to float32 even in float64: LayerNormalization (its dtype promotion
    # turns float64 into float32) and MultiHeadAttention's softmax (jax.nn.dot_product_attention). Each such
    # layer, given cnncalc's input, agrees within 1e-6; every other layer to float64 rounding; through 12
    # blocks the float32 roundings grow to about 1.5e-4 of the output (1.7e-12 with both kept in float64).
    assert _relative(got, reference.output) <= 1e-3
    keras = pytest.importorskip("keras")
    keras.config.set_floatx("float64")
    try:
        for layer in network.layers:
            if layer.type not in ("conv", "class_token", "position_embedding", "layernorm", "attention", "dense"):
                continue
            given = reference.outputs[layer.inputs[0]]
            keras_layer = model.get_layer(layer.name.replace(".", "_"))
            out = keras_layer(given, given) if layer.type == "attention" else keras_layer(given)
            tolerance = 1e-6 if layer.type in ("layernorm", "attention") else 1e-12
            assert _relative(np.asarray(out), reference.outputs[layer.name]) <= tolerance, layer.name
    finally:
        keras.config.set_floatx("float32")


SYMBOLIC = """
name: any size
input: [h, w, 3]
layers:
  - {type: conv, name: c, filters: 4, kernel: 3}
  - {type: normalize, name: nm}
  - {type: lrn, name: lrn, size: 2, alpha: 0.5}
  - {type: adaptive_maxpool, name: am, size: [3, 2]}
  - {type: adaptive_avgpool, name: aa, size: [3, 2], inputs: lrn}
  - {type: subtract, name: out, inputs: [am, aa]}
"""


def test_symbolic_sizes_give_one_model_for_every_size(tmp_path: Path) -> None:
    source = export_keras(loads_spec(SYMBOLIC))
    assert 'x = keras.Input(shape=(None, None, 3,), name="input")' in source
    keras = pytest.importorskip("keras")
    if keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    keras.config.set_floatx("float64")
    try:
        module = types.ModuleType("exported_keras")
        exec(compile(source, "<exported_keras>", "exec"), module.__dict__)  # noqa: S102
        model = module.build_model()
        for h, w in ((10, 7), (13, 5)):  # 8×5 and 11×3 after the convolution: no axis divides evenly
            network = loads_spec(SYMBOLIC.replace("[h, w, 3]", f"[{h}, {w}, 3]"))
            arrays = gather_weights(analyse(network), None, 7, np.float64)
            flat = {f"{layer}.{key}": value for layer, parts in arrays.items() for key, value in parts.items()}
            np.savez(tmp_path / "w.npz", **flat)
            module.load_cnncalc_weights(model, str(tmp_path / "w.npz"))
            x = np.random.default_rng(h).standard_normal((2, h, w, 3))
            got = np.asarray(model(x, training=False))
            want = run(network, x, flat).output
            assert want.shape == (2, 3, 2, 4)
            assert _relative(got, want) <= 1e-12
    finally:
        keras.config.set_floatx("float32")
