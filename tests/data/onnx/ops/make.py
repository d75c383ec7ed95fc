"""Make the ONNX fixtures of tests/test_onnx_ops.py: small PyTorch models written by torch.onnx's two exporters
(the legacy TorchScript one, ``dynamo=False``, and the dynamo one, which needs onnxscript) at the opsets where
each writes an operator as several nodes, and ``expected.json`` beside them with PyTorch's own numbers
(parameters, output shape). Run with PyTorch installed (the framework venv):

    python tests/data/onnx/ops/make.py

Each model is a conv (so that the file holds weights to import) and the operator under test; a few KB each.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

HERE = Path(__file__).parent


class ClassToken(nn.Module):
    """ViT's class token and position embedding (torchvision's VisionTransformer writes them so)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(6, 8)
        self.cls = nn.Parameter(torch.randn(1, 1, 8))
        self.pos = nn.Parameter(torch.randn(1, 5, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        token = self.cls.expand(x.shape[0], -1, -1)
        return torch.cat([token, x], dim=1) + self.pos


def conv_then(layer: nn.Module) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), layer)


def randomised(model: nn.Module) -> nn.Module:
    """Every parameter random (a norm's untrained ones and zeros would not show which values were read)."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter))
    return model.eval()


#: name → (model, input shape, [(exporter, opset)])
LEGACY, DYNAMO = "legacy", "dynamo"
CASES = {
    "gelu": (conv_then(nn.GELU()), (1, 3, 7, 7), [(LEGACY, 13), (DYNAMO, 18), (DYNAMO, 20)]),
    "gelu_tanh": (conv_then(nn.GELU(approximate="tanh")), (1, 3, 7, 7), [(LEGACY, 13), (DYNAMO, 18)]),
    "hardswish": (conv_then(nn.Hardswish()), (1, 3, 7, 7), [(LEGACY, 13), (DYNAMO, 18)]),
    "hardsigmoid": (conv_then(nn.Hardsigmoid()), (1, 3, 7, 7), [(LEGACY, 13)]),
    "mish": (conv_then(nn.Mish()), (1, 3, 7, 7), [(LEGACY, 13), (DYNAMO, 18)]),
    "silu": (conv_then(nn.SiLU()), (1, 3, 7, 7), [(LEGACY, 11)]),
    "elu": (conv_then(nn.ELU(0.5)), (1, 3, 7, 7), [(LEGACY, 13)]),
    "selu": (conv_then(nn.SELU()), (1, 3, 7, 7), [(LEGACY, 13)]),
    "hardtanh": (conv_then(nn.Hardtanh(0.0, 4.0)), (1, 3, 7, 7), [(LEGACY, 11), (LEGACY, 13)]),
    "instance_norm": (conv_then(nn.InstanceNorm2d(4)), (1, 3, 7, 7), [(LEGACY, 13), (DYNAMO, 18)]),
    "instance_norm_affine": (conv_then(nn.InstanceNorm2d(4, affine=True)), (1, 3, 7, 7), [(LEGACY, 13), (DYNAMO, 18)]),
    "group_norm": (conv_then(nn.GroupNorm(2, 4)), (1, 3, 7, 7), [(LEGACY, 11), (LEGACY, 17), (DYNAMO, 18)]),
    "group_norm_plain": (conv_then(nn.GroupNorm(2, 4, affine=False)), (1, 3, 7, 7), [(LEGACY, 13)]),
    "class_token": (ClassToken(), (1, 4, 6), [(LEGACY, 17), (DYNAMO, 18)]),
    "pixel_shuffle": (conv_then(nn.PixelShuffle(2)), (1, 3, 7, 7), [(LEGACY, 13), (DYNAMO, 18)]),
    "pixel_unshuffle": (conv_then(nn.PixelUnshuffle(2)), (1, 3, 8, 8), [(LEGACY, 13), (DYNAMO, 18)]),
    "conv_reflect": (conv_then(nn.Conv2d(4, 2, 3, padding=(1, 2), padding_mode="reflect")), (1, 3, 7, 7),
                     [(LEGACY, 13), (DYNAMO, 18)]),
    "conv_replicate": (conv_then(nn.Conv2d(4, 2, 3, padding=2, padding_mode="replicate")), (1, 3, 7, 7),
                       [(LEGACY, 13), (DYNAMO, 18)]),
    "conv_circular": (conv_then(nn.Conv2d(4, 2, 3, padding=1, padding_mode="circular")), (1, 3, 7, 7),
                      [(LEGACY, 13), (DYNAMO, 18)]),
    "lrn": (conv_then(nn.LocalResponseNorm(3, alpha=0.01, beta=0.5, k=2.0)), (1, 3, 7, 7), [(LEGACY, 17), (DYNAMO, 18)]),
    "lrn_even": (conv_then(nn.LocalResponseNorm(2)), (1, 3, 7, 7), [(DYNAMO, 18)]),
}


def export(model: nn.Module, shape: tuple[int, ...], exporter: str, opset: int) -> bytes:
    x = torch.randn(*shape)
    if exporter == DYNAMO:
        with contextlib.redirect_stdout(io.StringIO()):
            program = torch.onnx.export(model, (x,), dynamo=True, opset_version=opset)
        return program.model_proto.SerializeToString()
    buffer = io.BytesIO()
    torch.onnx.export(model, (x,), buffer, dynamo=False, opset_version=opset)
    return buffer.getvalue()


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    expected = {}
    for name, (model, shape, forms) in CASES.items():
        model = randomised(model)
        with torch.no_grad():
            out = model(torch.randn(*shape))
        for exporter, opset in forms:
            stem = f"{name}-{exporter}{opset}"
            data = export(model, shape, exporter, opset)
            written = onnx.load_from_string(data)
            (HERE / f"{stem}.onnx").write_bytes(data)
            expected[stem] = {
                "params": sum(p.numel() for p in model.parameters()),
                "output_shape": list(out.shape[1:]),
                "opset": next(o.version for o in written.opset_import if o.domain in ("", "ai.onnx")),
                "operators": sorted({n.op_type for n in written.graph.node} - {"Constant"}),
            }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
