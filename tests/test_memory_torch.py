"""`cnncalc memory` against PyTorch's own autograd: for every zoo network, the module `cnncalc export --to
pytorch` writes is run forward in training mode under ``torch.autograd.graph.saved_tensors_hooks``; every
tensor the hooks see is kept once per storage (a view and its base are one), parameters and buffers left out
(they are the weights), and the bytes must be cnncalc's saved-for-backward total, in float32 and bfloat16.

The network input takes no gradient (as a batch of data does): where the first layer keeps it (a conv keeps
its input for its weight's gradient) the hooks see it and so does cnncalc. Run this module as a script for
the table of both figures."""

from __future__ import annotations

import types
from typing import Any

import pytest

from cnncalc.calc.memory import estimate
from cnncalc.interop.pytorch_export import export_pytorch
from cnncalc.spec.network import load_spec, zoo_names

torch = pytest.importorskip("torch")

#: batch 1 keeps the largest (U-Net, 572×572) within a few seconds on a CPU; the batch only scales
BATCH = 1
DTYPES = {"float32": "float32", "bfloat16": "bfloat16"}


def torch_module(name: str, device: str = "cpu") -> Any:
    source = export_pytorch(load_spec(name))
    module = types.ModuleType(f"exported_{name.replace('-', '_')}")
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 (cnncalc's own generated code)
    classes = [value for key, value in vars(module).items() if isinstance(value, type)
               and issubclass(value, torch.nn.Module) and value.__module__ == module.__name__ and key != "Attention"]
    with torch.device("meta"):  # no time spent drawing initial weights: their values change nothing kept
        model = classes[-1]()
    return model.to_empty(device=device)


def torch_saved_bytes(name: str, dtype: str, device: str = "cpu") -> int:
    """Bytes of the distinct storages autograd keeps for backward, parameters and buffers aside.

    On the ``meta`` device nothing is computed, only recorded: the same autograd formulas, in no time. Its
    kernels give batch and layer norm float32 statistics for a bfloat16 input (as CUDA's do), where the CPU
    keeps them in bfloat16, cnncalc's rule; so float32 runs on meta, bfloat16 on the CPU."""
    kind = getattr(torch, dtype)
    model = torch_module(name, device).to(kind).train(True)
    weights = {t.untyped_storage()._cdata for t in (*model.parameters(), *model.buffers())}
    shape = load_spec(name).input_shape
    layout = (shape[-1], *shape[:-1]) if len(shape) > 1 else tuple(shape)
    x = torch.randn(BATCH, *layout, device=device, dtype=kind)
    storages: dict[int, int] = {}

    def pack(tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        if storage._cdata not in weights:  # (one storage, one _cdata; data_ptr is 0 for every meta storage)
            storages[storage._cdata] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = model(x)
        assert output.requires_grad
    return sum(storages.values())


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", zoo_names())
def test_saved_for_backward_is_what_torch_autograd_keeps(name: str, dtype: str) -> None:
    expected = torch_saved_bytes(name, dtype, "meta" if dtype == "float32" else "cpu")
    got = estimate(load_spec(name), batch=BATCH, dtype=dtype).saved
    assert got == pytest.approx(expected, rel=0.01), f"{name} {dtype}: cnncalc {got:,} B, torch {expected:,} B"


@pytest.mark.parametrize("name", ["lenet5", "m5", "alexnet", "resnet18", "shufflenet_v2_x1_0"])
def test_the_meta_device_keeps_what_the_cpu_keeps_in_float32(name: str) -> None:
    assert torch_saved_bytes(name, "float32", "meta") == torch_saved_bytes(name, "float32", "cpu")


def test_an_in_place_relu_keeps_no_second_tensor() -> None:
    """What cnncalc assumes of ReLU (out of place, keeping its result, which the next conv keeps too) and
    torchvision's in-place ReLU (keeping its result in the tensor it overwrote) cost the same: one tensor."""
    nn = torch.nn
    x = torch.randn(2, 3, 16, 16)

    def seen(inplace: bool) -> int:
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=inplace), nn.Conv2d(4, 4, 3))
        weights = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
        storages: dict[int, int] = {}

        def pack(tensor: Any) -> Any:
            if tensor.untyped_storage().data_ptr() not in weights:
                storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            model.train(True)(x)
        return sum(storages.values())

    from cnncalc import loads_spec

    spec = loads_spec("input: [16, 16, 3]\nlayers:\n  - {type: conv, filters: 4, kernel: 3}\n"
                      "  - {type: batchnorm}\n  - {type: relu}\n  - {type: conv, filters: 4, kernel: 3}\n")
    assert seen(True) == seen(False) == estimate(spec, batch=2).saved


def _saved_bytes(module: Any, forward: Any) -> int:
    """The bytes autograd keeps for the backward pass while ``forward()`` runs, each storage once, ``module``'s
    parameters and buffers left out (they are the weights, not activations)."""
    weights = {t.untyped_storage()._cdata for t in (*module.parameters(), *module.buffers())}
    storages: dict[int, int] = {}

    def pack(tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        if storage._cdata not in weights:
            storages[storage._cdata] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward()
    return sum(storages.values())


@pytest.mark.parametrize(("size", "channels", "heads", "window", "shift", "bias", "dtype"), [
    (8, 8, 2, 4, 2, True, "float32"),  # shifted, no padding
    (10, 8, 2, 4, 2, True, "bfloat16"),  # padded to 12 × 12, shifted
    (7, 12, 3, 7, 3, True, "float32"),  # the window covers the map: the shift becomes 0 (swin_t's last stage)
    (8, 8, 2, 4, 0, False, "float32"),  # no biases
])
def test_window_attention_keeps_what_torchvisions_shifted_window_attention_keeps(
        size: int, channels: int, heads: int, window: int, shift: int, bias: bool, dtype: str) -> None:
    """cnncalc's PyTorch exporter does not write window_attention: its rule is measured against the module its
    kernel equals, torchvision's Swin (V1) ShiftedWindowAttention, in training mode (dropout 0)."""
    from torchvision.models.swin_transformer import ShiftedWindowAttention

    from cnncalc import loads_spec

    kind = getattr(torch, dtype)
    model = ShiftedWindowAttention(channels, [window, window], [shift, shift], heads, qkv_bias=bias,
                                   proj_bias=bias).to(kind).train(True)
    saved = _saved_bytes(model, lambda: model(torch.randn(2, size, size, channels, dtype=kind)))
    spec = loads_spec(f"input: [{size}, {size}, {channels}]\nlayers: [{{type: window_attention, heads: {heads}, "
                      f"window: {window}, shift: {shift}, bias: {str(bias).lower()}}}]")
    assert estimate(spec, batch=2, dtype=dtype).saved == saved



@pytest.mark.parametrize(("size", "channels", "heads", "window", "shift", "bias", "batch"), [
    (8, 8, 2, 4, 2, True, 2),  # shifted, no padding
    (10, 8, 2, 4, 2, True, 3),  # padded to 12 × 12, shifted
    (8, 8, 2, 4, 0, False, 1),  # no biases, no shift
])
def test_window_attention_v2_keeps_what_torchvisions_shifted_window_attention_v2_keeps(
        size: int, channels: int, heads: int, window: int, shift: int, bias: bool, batch: int) -> None:
    """Swin V2's window attention against torchvision's ShiftedWindowAttentionV2 in training mode: the position
    bias MLP's activations are kept once a forward, whatever the batch."""
    from torchvision.models.swin_transformer import ShiftedWindowAttentionV2

    from cnncalc import loads_spec

    model = ShiftedWindowAttentionV2(channels, [window, window], [shift, shift], heads, qkv_bias=bias,
                                     proj_bias=bias).train(True)
    saved = _saved_bytes(model, lambda: model(torch.randn(batch, size, size, channels)))
    spec = loads_spec(f"input: [{size}, {size}, {channels}]\nlayers: [{{type: window_attention_v2, heads: {heads}, "
                      f"window: {window}, shift: {shift}, bias: {str(bias).lower()}}}]")
    assert estimate(spec, batch=batch).saved == saved


@pytest.mark.parametrize("partition", ["window", "grid"])
def test_window_attention_keeps_what_torchvisions_maxvit_attention_keeps(partition: str) -> None:
    """MaxViT's block and grid attention (torchvision's RelativePositionalMultiHeadAttention between its partition
    and departition) keep what Swin V1's rule counts."""
    from torchvision.models import maxvit

    from cnncalc import loads_spec

    size, channels, heads, window = 14, 8, 2, 7
    attention = maxvit.RelativePositionalMultiHeadAttention(channels, channels // heads, window * window).train(True)
    p = window if partition == "window" else size // window
    x = torch.randn(2, size, size, channels)

    def forward() -> None:
        parts = maxvit.WindowPartition()(x.permute(0, 3, 1, 2), p)
        attention(parts.swapaxes(-2, -3) if partition == "grid" else parts)

    saved = _saved_bytes(attention, forward)
    spec = loads_spec(f"input: [{size}, {size}, {channels}]\nlayers: [{{type: window_attention, heads: {heads}, "
                      f"window: {window}, partition: {partition}, scale: channels}}]")
    assert estimate(spec, batch=2).saved == saved


if __name__ == "__main__":
    print("| network | dtype | cnncalc (B) | torch (B) | ratio |\n|---|---|---:|---:|---:|")
    for zoo_name in zoo_names():
        for kind in DTYPES:
            ours = estimate(load_spec(zoo_name), batch=BATCH, dtype=kind).saved
            theirs = torch_saved_bytes(zoo_name, kind, "meta" if kind == "float32" else "cpu")
            print(f"| {zoo_name} | {kind} | {ours:,} | {theirs:,} | {ours / theirs:.6f} |")
