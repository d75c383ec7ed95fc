"""PyTorch and Keras code export: the generated source is always parsed and its structure checked; where
torch or keras is installed it is executed and must give `cnncalc run`'s output with the same weights."""

from __future__ import annotations

import ast
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnncalc import CnnCalcError, analyse, load_spec, loads_spec
from cnncalc.interop.keras_export import export_keras
from cnncalc.interop.pytorch_export import export_pytorch
from cnncalc.run.executor import gather_weights, run
from cnncalc.spec.network import zoo_names

# one network with every layer type both exporters handle, each in an awkward setting: 'same' padding with
# stride 2 (TensorFlow's rule: the odd pixel after), uneven explicit padding, an uneven transposed-conv crop,
# 'same' pools, broadcasting merges, and the layers that act on the last axis of a [T, d] tensor
MIXED = """
name: every layer
input: [13, 11, 4]
layers:
  - {type: conv, name: c1, filters: 6, kernel: 3, stride: 2, padding: same, activation: relu6}
  - {type: conv, name: c2, filters: 6, kernel: [2, 3], padding: [[0, 1], [2, 1]], groups: 2, activation: hardswish}
  - {type: depthwise_conv, name: dw, kernel: 3, multiplier: 2, padding: same, stride: 2}
  - {type: separable_conv, name: sep, filters: 8, kernel: 3, padding: same}
  - {type: batchnorm, name: bn}
  - {type: prelu, name: pr}
  - {type: pixel_unshuffle, name: unsh, factor: 2}
  - {type: pixel_shuffle, name: sh_tf, factor: 2, mode: dcr}
  - {type: pixel_unshuffle, name: unsh_tf, factor: 2, mode: dcr}
  - {type: pixel_shuffle, name: shuf, factor: 2}
  - {type: conv_transpose, name: up, filters: 5, kernel: 3, stride: 2, padding: same}
  - {type: avgpool, name: ap, kernel: 3, stride: 2, padding: same}
  - {type: maxpool, name: mp, kernel: 2, stride: 1, padding: same, inputs: up}
  - {type: maxpool, name: mp1, kernel: 3, stride: 1, padding: 1}
  - {type: upsample, name: us, scale: 2, mode: linear, inputs: ap}
  - {type: add, name: join, inputs: [mp1, us]}
  - {type: crop, name: cr, cropping: [[1, 0], [0, 1]]}
  - {type: concat, name: cat, inputs: [cr, cr]}
  - {type: channel_shuffle, name: sh, groups: 2}
  - {type: groupnorm, name: gn, groups: 5}
  - {type: layer_scale, name: ls, init: 0.5}
  - {type: multiply, name: mul, inputs: [ls, gn]}
  - {type: slice, name: sl, axis: -1, start: 1, stop: 9, step: 2}
  - {type: global_avgpool, name: gap, keepdims: true}
  - {type: multiply, name: se, inputs: [sl, gap]}
  - {type: zero_pad, name: zp, padding: [[1, 0], [0, 2]]}
  - {type: reshape, name: rs, shape: [-1, 4]}
  - {type: layernorm, name: ln}
  - {type: dense, name: d1, units: 6, activation: gelu}
  - {type: permute, name: pm, axes: [1, 0]}
  - {type: softmax, name: smx, axis: 0}
  - {type: flatten, name: fl}
  - {type: dense, name: out, units: 3, activation: softplus}
"""

EXPORTABLE = zoo_names()  # every zoo network exports to both


def network_of(name: str) -> Any:
    return loads_spec(MIXED, "mixed.yaml") if name == "mixed" else load_spec(name)


def weight_keys(network: Any) -> set[str]:
    summary = analyse(network)
    shapes = {"input": summary.input_shape, **{r.name: r.output_shape for r in summary.records}}
    return {f"{layer.name}.{key}" for layer in network.layers
            for key in layer.weight_shapes([shapes[s] for s in layer.inputs])}


def literal_weights(tree: ast.Module) -> Any:
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "WEIGHTS":
            return ast.literal_eval(node.value)
    raise AssertionError("no WEIGHTS table")


@pytest.mark.parametrize("name", ["mixed", *EXPORTABLE])
def test_pytorch_source_structure(name: str) -> None:
    network = network_of(name)
    tree = ast.parse(export_pytorch(network))
    # the network's module last; before it, helper modules the network uses (Attention)
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert [c.name for c in classes[:-1]] == (["Attention"] if any(layer.type == "attention"
                                                                   for layer in network.layers) else [])
    classes = classes[-1:]
    assert ast.unparse(classes[0].bases[0]) == "nn.Module"
    methods = {node.name: node for node in classes[0].body if isinstance(node, ast.FunctionDef)}
    assert set(methods) == {"__init__", "forward"}
    defined = {ast.unparse(node.targets[0]) for node in ast.walk(methods["__init__"]) if isinstance(node, ast.Assign)}
    forward = [node for node in methods["forward"].body if isinstance(node, ast.Assign)]
    assert len(forward) == len(network.layers)  # one line per layer
    attributes = {f"self.{node.attr}" for node in ast.walk(methods["forward"])
                  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"}
    assert attributes == defined  # every module built is used, every module used is built
    # the loader covers every array the network has, once
    table = literal_weights(tree)
    assert sorted(key for key, _, _ in table) == sorted(weight_keys(network))
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert {"load_cnncalc_weights", "same_pads"} <= functions


@pytest.mark.parametrize("name", ["mixed", *EXPORTABLE])
def test_keras_source_structure(name: str) -> None:
    network = network_of(name)
    tree = ast.parse(export_keras(network))
    build = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "build_model"]
    assert len(build) == 1
    assigned = [ast.unparse(node.targets[0]) for node in build[0].body if isinstance(node, ast.Assign)]
    assert len(assigned) >= len(network.layers) + 1 and len(set(assigned)) == len(assigned)
    names = [node.value.value for node in ast.walk(build[0]) if isinstance(node, ast.keyword)
             and node.arg == "name" and isinstance(node.value, ast.Constant)]
    assert len(names) == len(set(names))  # Keras layer names are unique
    table = literal_weights(tree)
    assert sorted(key for _, parts in table for key, _ in parts) == sorted(weight_keys(network))
    assert {name for name, _ in table} <= set(names)


def test_unsupported_layers_are_named_with_the_reason() -> None:
    spec = ("input: [8, 8, 3]\nlayers:\n  - {type: batchnorm, name: half, center: false}\n"
            "  - {type: layernorm, name: rows, axis: 0}\n")
    with pytest.raises(CnnCalcError) as caught:
        export_pytorch(loads_spec(spec))
    message = str(caught.value)
    assert message.startswith("cannot export to PyTorch: 2 layer(s) have no equivalent: ")
    assert "'half' (batchnorm): PyTorch's batch norm learns both gamma and beta or neither" in message
    assert "'rows' (layernorm): only a layernorm over the last axis is exported" in message
    spec = ("input: [8, 8, 3]\nlayers:\n  - {type: conv, name: cd, filters: 2, kernel: 3, stride: 2, dilation: 2}\n"
            "  - {type: maxpool, name: pool, kernel: 2, ceil_mode: true}\n")
    with pytest.raises(CnnCalcError) as caught:
        export_keras(loads_spec(spec))
    message = str(caught.value)
    assert "2 layer(s)" in message and "'pool' (maxpool): Keras pooling has no ceil_mode" in message
    assert "'cd' (conv): Keras convolutions take a stride or a dilation, not both" in message
    spec = ("input: [8, 8, 3]\nlayers:\n  - {type: conv, name: mirror, filters: 2, kernel: 3, padding: 1, "
            "padding_mode: reflect}\n  - {type: zero_pad, name: wrap, padding: 1, padding_mode: circular}\n")
    with pytest.raises(CnnCalcError) as caught:
        export_keras(loads_spec(spec))
    message = str(caught.value)
    assert "'mirror' (conv): Keras convolutions pad with zeros only (padding_mode reflect)" in message
    assert "'wrap' (zero_pad): Keras's ZeroPadding pads with zeros only (padding_mode circular)" in message


def test_weights_are_checked_at_export() -> None:
    network = load_spec("lenet5")
    summary = analyse(network)
    good = {f"{layer}.{key}": value for layer, arrays in gather_weights(summary, None, 3, np.float64).items()
            for key, value in arrays.items()}
    assert export_pytorch(network, good) == export_pytorch(network)
    bad = dict(good)
    bad["CONV1.weight"] = np.zeros((3, 3, 1, 6))
    for export in (export_pytorch, export_keras):
        with pytest.raises(CnnCalcError, match="wrong shape"):
            export(network, bad)


def test_same_padding_is_tensorflow_rule() -> None:
    source = export_pytorch(network_of("mixed"))
    assert "F.pad(x, same_pads(x, (3, 3), (2, 2), (1, 1)))" in source  # not padding='same'
    assert "padding='same'" not in source and "channels-first" in source


# ---------------------------------------------------------------- executed where installed

EXECUTED = ["mixed", "lenet5", "m5", "resnet18", "mobilenetv2-keras", "efficientnet_b0", "shufflenet_v2_x1_0"]


def _seeded(network: Any, path: Path) -> dict[str, np.ndarray]:
    arrays = gather_weights(analyse(network), None, 7, np.float64)
    flat = {f"{layer}.{key}": value for layer, parts in arrays.items() for key, value in parts.items()}
    np.savez(path, **flat)
    return flat


def _module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 (our own generated code)
    return module


@pytest.mark.parametrize("name", EXECUTED)
def test_pytorch_export_runs_like_cnncalc(name: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    network = network_of(name)
    weights = _seeded(network, tmp_path / "w.npz")
    module = _module(export_pytorch(network), "exported_torch")
    cls = next(v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
               and v.__module__ == "exported_torch")
    model = cls().double().eval()
    module.load_cnncalc_weights(model, str(tmp_path / "w.npz"))
    x = np.random.default_rng(1).standard_normal((2, *(int(d) for d in network.input_shape)))
    want = run(network, x, weights).output
    with torch.no_grad():
        got = model(torch.from_numpy(np.moveaxis(x, -1, 1).copy())).numpy()
    got = np.moveaxis(got, 1, -1) if got.ndim > 2 else got
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= 1e-9 * max(1.0, float(np.max(np.abs(want))))


@pytest.mark.parametrize("name", EXECUTED)
def test_keras_export_runs_like_cnncalc(name: str, tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    if keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    keras.config.set_floatx("float64")
    try:
        network = network_of(name)
        weights = _seeded(network, tmp_path / "w.npz")
        module = _module(export_keras(network), "exported_keras")
        model = module.build_model()
        module.load_cnncalc_weights(model, str(tmp_path / "w.npz"))
        x = np.random.default_rng(1).standard_normal((2, *(int(d) for d in network.input_shape)))
        want = run(network, x, weights).output
        got = np.asarray(model(x, training=False))
    finally:
        keras.config.set_floatx("float32")
    assert got.shape == want.shape
    # Keras's backends compute some float64 kernels (convolutions) through float32 paths: 1e-6 relative
    assert np.max(np.abs(got - want)) <= 1e-6 * max(1.0, float(np.max(np.abs(want))))
