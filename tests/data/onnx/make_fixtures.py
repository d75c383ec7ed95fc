"""Make the small ONNX fixtures beside this script, once, with PyTorch (torch ≥ 2.9 and onnxscript):

    python tests/data/onnx/make_fixtures.py

Each fixture is a tiny torch module exported by one exporter (``dynamo``: torch's default since 2.9;
``legacy``: ``dynamo=False``) at one opset, written as ``<name>.onnx`` (``dynamo`` files keep their weights
in ``<name>.onnx.data`` beside them, as torch writes them by default), with ``<name>.npz`` holding the input
torch was given (``x``), torch's output (``y``) and its parameter count (``params``, ``sum(p.numel())``).
``fixtures.json`` lists them with what importing each must do: ``exact`` (cnncalc run on the imported spec
and weights gives ``y``) or the words of the refusal.

The tests read these files with cnncalc alone (tests/test_onnx_fixtures.py) and against onnxruntime
(tests/test_onnx_semantics.py); neither needs torch.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent


class Pooled(nn.Module):
    """A conv, then a reduction over the spatial axes (``x.mean((2, 3))``, ``amax``, one axis...)."""

    def __init__(self, reduce: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.reduce = reduce

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(x))
        if self.reduce == "mean":
            return x.mean((2, 3))
        if self.reduce == "mean_keepdim":
            return x.mean((2, 3), keepdim=True)
        if self.reduce == "amax":
            return x.amax((2, 3))
        if self.reduce == "mean_rows":
            return x.mean(2)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class Softmaxed(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.conv(x), self.dim)


class Resized(nn.Module):
    def __init__(self, **options: object) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.options = options

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.conv(x), **self.options)  # type: ignore[arg-type]


class NormedRows(nn.Module):
    """A LayerNorm over the last axis (W) of an NCHW tensor: the output is spatial, held channels first."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.norm = nn.LayerNorm(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class Chunked(nn.Module):
    """``chunk`` then ``cat`` the other way round (the dynamo exporter: SplitToSequence, SequenceAt)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.conv(x).chunk(2, dim=1)
        return torch.cat((b, a), 1)


def gelu_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 3))


def layernorm_without_affine() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8, elementwise_affine=False))


def randomised(model: nn.Module) -> nn.Module:
    """Every parameter random: torch starts some at zero (nn.MultiheadAttention's biases, ViT's head), which
    torch's dynamo exporter then leaves out, and which would not show which values were read."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.5)
    return model


class SelfAttention(nn.Module):
    """``nn.MultiheadAttention(8, 2)`` as self-attention on batch-first tokens: ``batch_first=True``, or
    ``batch_first=False`` between two transposes (``seq_first``); ``on_input``: batch_first=False on the
    model's own [T, N, d] input; ``mask``: a constant float ``attn_mask``; ``zero_out_bias``: batch-first, the
    output projection's bias zeros (as torch starts it) and the input projection's not, which torch's dynamo
    exporter writes with no output bias at all."""

    def __init__(self, form: str) -> None:
        super().__init__()
        self.form = form
        self.attention = nn.MultiheadAttention(8, 2, batch_first=form in ("batch_first", "mask", "zero_out_bias"))
        self.mask = torch.triu(torch.full((5, 5), -1.0), 1) if form == "mask" else None
        randomised(self)
        if form == "zero_out_bias":
            with torch.no_grad():
                self.attention.out_proj.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.form == "seq_first":
            x = x.transpose(0, 1)
        y = self.attention(x, x, x, need_weights=False, attn_mask=self.mask)[0]
        return y.transpose(0, 1) if self.form == "seq_first" else y


class CrossAttention(nn.Module):
    """``nn.MultiheadAttention(8, 2, batch_first=True)`` whose key and value are a projection of the query
    (``cross``), and the same with ``kdim=vdim=6`` (``kdim``): query, key and value projected separately."""

    def __init__(self, form: str) -> None:
        super().__init__()
        width = 6 if form == "kdim" else 8
        self.memory = nn.Linear(8, width)
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True, **({"kdim": 6, "vdim": 6} if form == "kdim"
                                                                              else {}))
        randomised(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        memory = self.memory(x)
        return self.attention(x, memory, memory, need_weights=False)[0]


def tiny_vit() -> nn.Module:
    """torchvision's VisionTransformer (vit_b_16's class) at 8×8 pixels, patches of 4, one encoder block."""
    from torchvision.models import VisionTransformer

    return randomised(VisionTransformer(image_size=8, patch_size=4, num_layers=1, num_heads=2, hidden_dim=8,
                                        mlp_dim=12, num_classes=3))


def swin_attention() -> nn.Module:
    """One shifted-window attention of torchvision's Swin (swin_t's class), windows of 2, shifted by 1."""
    from torchvision.models.swin_transformer import ShiftedWindowAttention

    return randomised(ShiftedWindowAttention(8, [2, 2], [1, 1], 2))


def swin_blocks() -> nn.Module:
    """Three of Swin's blocks (swin_t's class) on a 4 × 4 map: two shifted by 1 in windows of 2 (the dynamo
    exporter computes their mask once, for both), then one whose window of 4 covers the map (its shift of 2
    becomes 0: no padding, no roll, no mask)."""
    from torchvision.models.swin_transformer import SwinTransformerBlock

    return randomised(nn.Sequential(*(SwinTransformerBlock(8, 2, [w, w], [s, s], mlp_ratio=1.0)
                                      for w, s in ((2, 1), (2, 1), (4, 2)))))


def swin_v2_blocks() -> nn.Module:
    """Two of Swin V2's blocks (swin_v2_t's class: post-norm, cosine attention, the MLP's position bias) on a
    5 × 5 map padded to 6 × 6 for windows of 3: one not shifted, one shifted by 1 (the mask). Their position bias
    MLPs are 336 wide, not torchvision's 512, to keep the file small: the narrowest whose first product over the
    25 offsets (folded by the dynamo exporter into a constant) is too large for the exporter to fold further."""
    from torchvision.models.swin_transformer import SwinTransformerBlockV2

    blocks = [SwinTransformerBlockV2(8, 2, [3, 3], [s, s], mlp_ratio=1.0) for s in (0, 1)]
    for block in blocks:
        block.attn.cpb_mlp = nn.Sequential(nn.Linear(2, 336), nn.ReLU(inplace=True), nn.Linear(336, 2, bias=False))
    return randomised(nn.Sequential(*blocks))


def maxvit_attention() -> nn.Module:
    """MaxViT's attention (maxvit_t's class): Q·Kᵀ written as an Einsum, a relative position bias added."""
    from torchvision.models.maxvit import RelativePositionalMultiHeadAttention

    return randomised(RelativePositionalMultiHeadAttention(8, 4, 4))


def maxvit_blocks() -> nn.Module:
    """One MaxViT block's two partition attention layers (maxvit_t's class) on a 14 × 14 map of 8 channels, 2
    heads, partition 7: block attention in 7 × 7 windows, then grid attention over 7 × 7 pixels 2 apart."""
    from functools import partial

    from torchvision.models.maxvit import PartitionAttentionLayer

    return randomised(nn.Sequential(*(PartitionAttentionLayer(8, 4, 7, kind, (14, 14), 4, nn.GELU,
                                                              partial(nn.LayerNorm, eps=1e-5), 0.0, 0.0, 0.0)
                                      for kind in ("window", "grid"))))


#: name → (module, input shape, exporter, opset, expected: "exact" or the refusal's words)
FIXTURES = {
    "mean_dynamo": (lambda: Pooled("mean"), (1, 3, 6, 6), "dynamo", 18, "exact"),
    "mean_legacy": (lambda: Pooled("mean"), (1, 3, 6, 6), "legacy", 17, "exact"),
    "mean_keepdim_dynamo": (lambda: Pooled("mean_keepdim"), (1, 3, 6, 6), "dynamo", 18, "exact"),
    "amax_dynamo": (lambda: Pooled("amax"), (1, 3, 6, 6), "dynamo", 18, "exact"),
    "amax_legacy": (lambda: Pooled("amax"), (1, 3, 6, 6), "legacy", 17, "exact"),
    "mean_rows_dynamo": (lambda: Pooled("mean_rows"), (1, 3, 6, 6), "dynamo", 18, "exact"),
    "adaptive_pool_dynamo": (lambda: Pooled("adaptive"), (1, 3, 6, 6), "dynamo", 20, "exact"),
    "softmax_channels_legacy11": (lambda: Softmaxed(1), (1, 3, 2, 3), "legacy", 11, "exact"),
    "softmax_channels_dynamo": (lambda: Softmaxed(1), (1, 3, 2, 3), "dynamo", 18, "exact"),
    "nearest_dynamo": (lambda: Resized(scale_factor=2, mode="nearest"), (1, 3, 3, 4), "dynamo", 18, "exact"),
    "nearest_legacy": (lambda: Resized(scale_factor=2, mode="nearest"), (1, 3, 3, 4), "legacy", 17, "exact"),
    "bilinear_dynamo": (lambda: Resized(size=(5, 7), mode="bilinear"), (1, 3, 3, 4), "dynamo", 18, "exact"),
    "bilinear_legacy": (lambda: Resized(size=(5, 7), mode="bilinear"), (1, 3, 3, 4), "legacy", 17, "exact"),
    # torch ≥ 2.x writes half_pixel here (older releases wrote pytorch_half_pixel, which reads pixel 0)
    "bilinear_to_one_legacy": (lambda: Resized(size=(1, 1), mode="bilinear"), (1, 3, 4, 4), "legacy", 17, "exact"),
    "antialias_dynamo": (lambda: Resized(size=(2, 2), mode="bilinear", antialias=True), (1, 3, 4, 4), "dynamo", 18,
                         ["antialias", "1"]),
    "layernorm_rows_dynamo": (NormedRows, (1, 3, 6, 6), "dynamo", 18, "exact"),
    "chunk_dynamo": (Chunked, (1, 3, 2, 3), "dynamo", 18, "exact"),
    "gelu_dynamo": (gelu_mlp, (1, 5, 4), "dynamo", 18, "exact"),
    "gelu_legacy": (gelu_mlp, (1, 5, 4), "legacy", 17, "exact"),
    "layernorm_no_affine_dynamo": (layernorm_without_affine, (1, 4), "dynamo", 18, "exact"),
    "layernorm_no_affine_legacy": (layernorm_without_affine, (1, 4), "legacy", 17, "exact"),
    "mha_dynamo17": (lambda: SelfAttention("batch_first"), (1, 5, 8), "dynamo", 17, "exact"),
    "mha_dynamo20": (lambda: SelfAttention("batch_first"), (1, 5, 8), "dynamo", 20, "exact"),
    "mha_legacy17": (lambda: SelfAttention("batch_first"), (1, 5, 8), "legacy", 17, "exact"),
    "mha_legacy20": (lambda: SelfAttention("batch_first"), (1, 5, 8), "legacy", 20, "exact"),
    "mha_seq_first_dynamo20": (lambda: SelfAttention("seq_first"), (1, 5, 8), "dynamo", 20, "exact"),
    "mha_seq_first_legacy17": (lambda: SelfAttention("seq_first"), (1, 5, 8), "legacy", 17, "exact"),
    "mha_on_input_legacy17": (lambda: SelfAttention("on_input"), (5, 1, 8), "legacy", 17,
                              ["batch_first=False", "first (batch) axis"]),
    "mha_zero_out_bias_dynamo20": (lambda: SelfAttention("zero_out_bias"), (1, 5, 8), "dynamo", 20, "exact"),
    "mha_mask_dynamo20": (lambda: SelfAttention("mask"), (1, 5, 8), "dynamo", 20, ["mask", "no spec v2 layer"]),
    "mha_cross_dynamo20": (lambda: CrossAttention("cross"), (1, 5, 8), "dynamo", 20,
                           ["cross-attention", "no spec v2 layer"]),
    "mha_kdim_legacy17": (lambda: CrossAttention("kdim"), (1, 5, 8), "legacy", 17,
                          ["projected separately", "no spec v2 layer"]),
    "vit_dynamo20": (tiny_vit, (1, 3, 8, 8), "dynamo", 20, "exact"),
    "vit_legacy17": (tiny_vit, (1, 3, 8, 8), "legacy", 17, "exact"),
    "swin_attention_dynamo18": (swin_attention, (1, 4, 4, 8), "dynamo", 18, "exact"),
    "maxvit_attention_legacy17": (maxvit_attention, (1, 2, 4, 8), "legacy", 17,
                                  ["Einsum", "relative position bias", "no spec v2 layer"]),
    "swin_attention_legacy17": (swin_attention, (1, 4, 4, 8), "legacy", 17, "exact"),
    "swin_blocks_dynamo20": (swin_blocks, (1, 4, 4, 8), "dynamo", 20, "exact"),
    "maxvit_blocks_dynamo20": (maxvit_blocks, (1, 8, 14, 14), "dynamo", 20, "exact"),
    "swin_v2_blocks_dynamo20": (swin_v2_blocks, (1, 5, 5, 8), "dynamo", 20, "exact"),
}


#: fixtures written without the dynamo exporter's node metadata (its stack traces, nine tenths of the file),
#: which cnncalc does not read, to keep the folder small
STRIPPED = {"swin_blocks_dynamo20", "maxvit_blocks_dynamo20", "swin_v2_blocks_dynamo20"}


def export(name: str) -> dict[str, object]:
    make, shape, exporter, opset, expected = FIXTURES[name]
    torch.manual_seed(len(name))
    model = make().eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        y = model(x)
    path = HERE / f"{name}.onnx"
    for old in (path, HERE / f"{name}.onnx.data"):
        old.unlink(missing_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":  # the default exporter, with its default external data
            torch.onnx.export(model, (x,), str(path), input_names=["x"], opset_version=opset,
                              external_data=True)
        else:
            torch.onnx.export(model, (x,), str(path), input_names=["x"], opset_version=opset, dynamo=False)
    if name in STRIPPED:
        import onnx

        written = onnx.load(str(path), load_external_data=False)  # the weights stay in the data file
        for node in written.graph.node:
            del node.metadata_props[:]
        onnx.save(written, str(path))
    params = sum(p.numel() for p in model.parameters())
    np.savez(HERE / f"{name}.npz", x=x.numpy(), y=y.numpy(), params=np.array(params))
    return {"exporter": exporter, "opset": opset, "expected": expected}


def main() -> None:
    names = sys.argv[1:] or list(FIXTURES)
    table = {name: export(name) for name in names}
    listing = HERE / "fixtures.json"
    if sys.argv[1:] and listing.exists():
        table = {**json.loads(listing.read_text()), **table}
    listing.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"torch {torch.__version__}: wrote {len(names)} fixtures to {HERE}")


if __name__ == "__main__":
    main()
