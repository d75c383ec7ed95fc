"""Where torchvision is installed: each v2 zoo spec, run by the executor with a randomly initialised
torchvision model's weights (mapped in order, channels last), gives torchvision's logits in float64.
This pins what parameter counts cannot: the order of concatenations, shuffles, splits and gates."""

from __future__ import annotations

import numpy as np
import pytest

from cnncalc import load_spec
from cnncalc.run.executor import run

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")


def ordered_torch_arrays(model):
    """Weights in module order, each already in our layout: (kind, {part: array})."""
    nn = torch.nn
    out = []
    scale_after: tuple[str, np.ndarray] | None = None  # ConvNeXt: the block's scale follows its last Linear
    for name, module in model.named_modules():
        if scale_after and not name.startswith(scale_after[0] + "."):
            out.append(("layer_scale", {"weight": scale_after[1]}))
            scale_after = None
        if name.endswith("out_proj"):
            continue  # part of MultiheadAttention, mapped with it
        if isinstance(module, nn.Conv2d):
            w = module.weight.detach().numpy()
            if module.groups > 1 and module.groups == module.in_channels:  # depthwise: ours [kh, kw, C, m]
                w = np.transpose(w.reshape(module.in_channels, -1, *w.shape[2:]), (2, 3, 0, 1))
            else:
                w = np.transpose(w, (2, 3, 1, 0))
            parts = {"weight": w}
            if module.bias is not None:
                parts["bias"] = module.bias.detach().numpy()
            out.append(("conv", parts))
        elif isinstance(module, nn.Linear):
            out.append(("dense", {"weight": module.weight.detach().numpy().T, "bias": module.bias.detach().numpy()}))
        elif isinstance(module, nn.BatchNorm2d):
            out.append(("batchnorm", {"gamma": module.weight.detach().numpy(), "beta": module.bias.detach().numpy(),
                                      "mean": module.running_mean.numpy(), "var": module.running_var.numpy()}))
        elif isinstance(module, nn.LayerNorm) or type(module).__name__ == "LayerNorm2d":
            out.append(("layernorm", {"gamma": module.weight.detach().numpy(), "beta": module.bias.detach().numpy()}))
        elif type(module).__name__ == "CNBlock":
            scale_after = (name, module.layer_scale.detach().numpy().reshape(-1))
        elif isinstance(module, nn.MultiheadAttention):
            d, heads = module.embed_dim, module.num_heads
            k = d // heads
            w_q, w_k, w_v = module.in_proj_weight.detach().numpy().reshape(3, d, d)
            b_q, b_k, b_v = module.in_proj_bias.detach().numpy().reshape(3, d)
            out.append(("attention", {
                "query.weight": w_q.T.reshape(d, heads, k), "query.bias": b_q.reshape(heads, k),
                "key.weight": w_k.T.reshape(d, heads, k), "key.bias": b_k.reshape(heads, k),
                "value.weight": w_v.T.reshape(d, heads, k), "value.bias": b_v.reshape(heads, k),
                "output.weight": module.out_proj.weight.detach().numpy().T.reshape(heads, k, d),
                "output.bias": module.out_proj.bias.detach().numpy()}))
        elif type(module).__name__ == "VisionTransformer":
            out.append(("class_token", {"weight": module.class_token.detach().numpy().reshape(-1)}))
            out.append(("position_embedding",
                        {"weight": module.encoder.pos_embedding.detach().numpy().reshape(-1, module.hidden_dim)}))
    if scale_after:
        out.append(("layer_scale", {"weight": scale_after[1]}))
    return out


def mapped_weights(network, model):
    from cnncalc.calc.analysis import analyse

    summary = analyse(network)
    shapes = {"input": network.input_shape, **{r.name: r.output_shape for r in summary.records}}
    torch_arrays = ordered_torch_arrays(model)
    ours = [layer for layer in network.layers if layer.weight_shapes([shapes[s] for s in layer.inputs])]
    # ViT: class token and position table are parameters of the model itself; put them where we use them
    if torch_arrays and torch_arrays[0][0] == "class_token":
        head = torch_arrays[:2]
        torch_arrays = torch_arrays[2:3] + head + torch_arrays[3:]  # conv_proj comes first in our spec
    assert len(ours) == len(torch_arrays), (len(ours), len(torch_arrays))
    weights = {}
    for layer, (kind, parts) in zip(ours, torch_arrays):
        kind_ours = {"depthwise_conv": "conv"}.get(layer.type, layer.type)
        assert kind_ours == kind, (layer.name, layer.type, kind)
        needed = layer.weight_shapes([shapes[s] for s in layer.inputs])
        for part, shape in needed.items():
            assert parts[part].shape == tuple(shape), (layer.name, part, parts[part].shape, shape)
            weights[f"{layer.name}.{part}"] = parts[part]
    return weights


@pytest.mark.parametrize("name, size", [("shufflenet_v2_x1_0", 64), ("mobilenet_v3_large", 64),
                                        ("efficientnet_b0", 64), ("convnext_tiny", 32), ("vit_b_16", 224)])
def test_zoo_logits_match_torchvision(name, size):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).double().eval()
    with torch.no_grad():  # non-trivial statistics and scales, so that a misplaced one shows
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
            if type(module).__name__ == "CNBlock":
                module.layer_scale.normal_(0, 0.5)
    network = load_spec(name)
    if size != 224:
        network = network.replace(input_shape=(size, size, 3))
    x = np.random.default_rng(0).normal(size=(size, size, 3))
    weights = mapped_weights(network, model)
    got = run(network, x, weights).output
    with torch.no_grad():
        want = model(torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None])))[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
