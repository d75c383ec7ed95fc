"""`export --to pytorch` of the layers with no torch.nn module of their own: attention (a small module written
into the file, weights in cnncalc's layout), class_token, position_embedding, embedding, normalize, lrn.

Always: the generated source parses and has the expected structure. Where torch is installed: the module,
loaded with cnncalc's weights, gives `cnncalc run`'s output in float64.
"""

from __future__ import annotations

import ast
import types
from pathlib import Path

import numpy as np
import pytest

from cnncalc import analyse, load_spec, loads_spec
from cnncalc.interop.pytorch_export import export_pytorch
from cnncalc.run.executor import gather_weights, run

LAYERS = Path(__file__).parent / "data" / "layers"
NORMS = """
name: norms
input: [6, 5, 8]
layers:
  - {type: lrn, name: lrn3, size: 3}
  - {type: lrn, name: lrn5, size: 5, alpha: 0.01, beta: 0.5, k: 2}
  - {type: normalize, name: image}
  - {type: attention, name: grid, heads: 2}
  - {type: reshape, name: tokens, shape: [30, 8]}
  - {type: normalize, name: per_feature}
  - {type: flatten, name: flat}
  - {type: lrn, name: lrn_flat, size: 3}
  - {type: normalize, name: vector}
"""

# PyTorch's padding modes: in the module where the padding is even, F.pad with the mode where it is not
PADDING = """
name: padding modes
input: [7, 6, 3]
layers:
  - {type: conv, name: mirror, filters: 4, kernel: 3, padding: 2, padding_mode: reflect}
  - {type: conv, name: wrap, filters: 4, kernel: [3, 2], padding: [[1, 2], [0, 1]], padding_mode: circular}
  - {type: conv, name: edge, filters: 3, kernel: 3, stride: 2, padding: same, padding_mode: replicate}
  - {type: zero_pad, name: around, padding: [[1, 0], [2, 1]], padding_mode: reflect}
"""


def _network(name: str):
    if name == "tokens":
        return load_spec(str(LAYERS / "tokens.yaml"))
    if name == "norms":
        return loads_spec(NORMS, "norms.yaml")
    if name == "padding":
        return loads_spec(PADDING, "padding.yaml")
    return load_spec(name)


def test_source_structure_of_the_token_layers():
    source = export_pytorch(_network("tokens"))
    tree = ast.parse(source)
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    assert set(classes) == {"Attention", "EveryTokenLayer"}
    assert "def min_max" not in source  # helpers only when used
    assert "self.words = nn.Embedding(50, 8)" in source
    assert "self.cross = Attention(8, 6, 6, 3, 4, 5, 7, bias=False)" in source
    assert "self.qvk = Attention(7, 3, 6, 7, 1, 1, 7)" in source
    assert "self.pos = nn.Parameter(torch.zeros(13, 8))" in source
    weights = next(node for node in tree.body if isinstance(node, ast.Assign)
                   and getattr(node.targets[0], "id", "") == "WEIGHTS")
    table = {key: (target, rule) for key, target, rule in ast.literal_eval(weights.value)}
    assert table["cross.query.weight"] == ("cross.query_weight", "copy") and "cross.query.bias" not in table
    assert table["layer_self.output.bias" if "layer_self.output.bias" in table else "self.output.bias"] == (
        "layer_self.output_bias", "copy")
    assert table["cls.weight"] == ("cls", "copy") and table["words.weight"] == ("words.weight", "copy")
    norms = export_pytorch(_network("norms"))
    assert "def min_max" in norms and "class Attention" in norms
    assert "self.lrn5 = nn.LocalResponseNorm(5, alpha=0.01, beta=0.5, k=2.0)" in norms
    assert "self.lrn_flat(flat.unsqueeze(-1)).squeeze(-1)" in norms
    padding = export_pytorch(_network("padding"))
    assert "padding=2, padding_mode='reflect')" in padding and "mode='circular')" in padding
    assert "self.edge(F.pad(wrap, same_pads(wrap, (3, 3), (2, 2), (1, 1)), mode='replicate'))" in padding
    assert "F.pad(edge, [2, 1, 1, 0], mode='reflect')" in padding


def _module(source: str) -> types.ModuleType:
    module = types.ModuleType("exported_torch_layers")
    exec(compile(source, "<exported>", "exec"), module.__dict__)  # noqa: S102 (our own generated code)
    return module


@pytest.mark.parametrize("name", ["tokens", "norms", "padding", "vit_b_16"])
def test_the_module_runs_like_cnncalc(name, tmp_path):
    torch = pytest.importorskip("torch")
    network = _network(name)
    arrays = gather_weights(analyse(network), None, 7, np.float64)
    flat = {f"{layer}.{key}": value for layer, parts in arrays.items() for key, value in parts.items()}
    np.savez(tmp_path / "w.npz", **flat)
    module = _module(export_pytorch(network))
    cls = next(v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
               and v.__name__ != "Attention")
    model = cls().double().train(False)
    module.load_cnncalc_weights(model, str(tmp_path / "w.npz"))
    batch = 1 if name == "vit_b_16" else 2
    rng = np.random.default_rng(1)
    shape = (batch, *(int(d) for d in network.input_shape))
    x = rng.integers(0, 50, size=shape).astype(float) if name == "tokens" else rng.standard_normal(shape)
    want = run(network, x, flat).output
    with torch.no_grad():
        got = model(torch.from_numpy(np.moveaxis(x, -1, 1).copy() if x.ndim > 2 else x)).numpy()
    got = np.moveaxis(got, 1, -1) if got.ndim > 2 else got
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= 1e-9 * max(1.0, float(np.max(np.abs(want))))
