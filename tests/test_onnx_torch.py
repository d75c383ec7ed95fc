"""docs/interop.md's PyTorch recipe, run verbatim with torch's default exporter (dynamo, weights in a .data
file beside the model; its optimiser folds batchnorm into the conv before it) and with the legacy exporter's
flags (which keep batchnorm): the import counts the parameters of the graph torch wrote and reproduces torch's
output."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")  # the dynamo exporter's dependency

from torch import nn

from cnncalc import analyse
from cnncalc.interop.onnx_import import import_onnx, network_of
from cnncalc.run.executor import run

DOCS = Path(__file__).resolve().parent.parent / "docs" / "interop.md"


def recipes() -> list[str]:
    """The python blocks of the "From PyTorch" paragraph: the default exporter's, then the legacy one's."""
    text = DOCS.read_text()
    section = text[text.index("**From PyTorch**"):text.index("**What is imported exactly.**")]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 7, stride=4), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2),
                         nn.BatchNorm2d(6), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5))


@pytest.mark.parametrize("which", ["dynamo", "legacy"])
def test_the_pytorch_recipe_runs_verbatim(tmp_path, monkeypatch, which):
    blocks = recipes()
    assert len(blocks) == 2 and "dynamo=False" in blocks[1] and "dynamo" not in blocks[0]
    model = small_cnn()
    with torch.no_grad():  # batchnorm statistics other than the initial ones, so that folding them would show
        for module in model:
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
    monkeypatch.chdir(tmp_path)
    exec(blocks[0 if which == "dynamo" else 1], {"torch": torch, "model": model})  # noqa: S102 - the docs' own code
    if which == "dynamo":
        assert (tmp_path / "model.onnx.data").is_file()  # torch's default: the weights beside the model
    imported = import_onnx(tmp_path / "model.onnx")
    network = network_of(imported, "model.onnx")
    params = sum(p.numel() for p in model.parameters())
    if which == "dynamo":  # each batchnorm folded into its conv (which has a bias already): γ and β gone
        assert analyse(network).params == params - 2 * (4 + 6)
        assert "batchnorm" not in [layer.type for layer in network.layers]
    else:
        assert analyse(network).params == params
        assert [layer.type for layer in network.layers].count("batchnorm") == 2
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    got = run(network, np.moveaxis(x.numpy().astype(np.float64), 1, -1), imported.weights).output
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def small_swin() -> nn.Module:
    """torchvision's Swin (V1) at a small size: a 10 × 10 map padded to windows of 4, shifted by 2, then
    merged to 5 × 5 (padded to 8), with random biases and position bias tables."""
    from torchvision.models.swin_transformer import SwinTransformer

    torch.manual_seed(0)
    model = SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4],
                            num_classes=5).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.uniform_(-0.1, 0.1)
    return model


@pytest.mark.parametrize(("exporter", "opset"), [("legacy", 17), ("dynamo", 20)])
def test_swin_v2_imports_as_window_attention_v2_from_both_exporters(tmp_path, exporter, opset):
    """torchvision's Swin V2 (post-norm blocks, PatchMergingV2) at a small size, as small_swin: the legacy
    exporter keeps each position bias's MLP, the dynamo one folds its first product over the offsets."""
    from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformer, SwinTransformerBlockV2

    torch.manual_seed(0)
    model = SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4],
                            num_classes=5, block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.uniform_(-0.1, 0.1)
    x = torch.randn(1, 3, 40, 40)
    path = tmp_path / "swin_v2.onnx"
    torch.onnx.export(model, (x,), str(path), input_names=["x"], opset_version=opset, dynamo=exporter == "dynamo")
    imported = import_onnx(path)
    network = network_of(imported, "swin_v2.onnx")
    windows = [layer for layer in network.layers if layer.type == "window_attention_v2"]
    assert [(layer.heads, layer.window, layer.shift, layer.hidden) for layer in windows] == [
        (2, 4, 0, 512), (2, 4, 2, 512), (4, 4, 0, 512), (4, 4, 2, 512)]
    assert analyse(network).params == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        expected = model(x).numpy()
    got = run(network, np.moveaxis(x.numpy().astype(np.float64), 1, -1), imported.weights).output
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_swin_imports_as_window_attention_from_the_legacy_exporter(tmp_path):
    model = small_swin()
    x = torch.randn(1, 3, 40, 40)
    path = tmp_path / "swin.onnx"
    torch.onnx.export(model, (x,), str(path), input_names=["x"], opset_version=17, dynamo=False)
    imported = import_onnx(path)
    network = network_of(imported, "swin.onnx")
    windows = [layer for layer in network.layers if layer.type == "window_attention"]
    assert [(layer.heads, layer.window, layer.shift) for layer in windows] == [(2, 4, 0), (2, 4, 2), (4, 4, 0),
                                                                               (4, 4, 2)]
    summary = analyse(network)
    assert summary.params == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        expected = model(x).numpy()
    got = run(network, np.moveaxis(x.numpy().astype(np.float64), 1, -1), imported.weights).output
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()
