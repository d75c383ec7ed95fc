"""Spec v2 kernels against PyTorch in float64 (layer_norm, group_norm, multi_head_attention_forward,
channel_shuffle, pixel_shuffle, the new activations, prelu), channels-last against channels-first. Skipped without torch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc.layers import LAYER_TYPES

torch = pytest.importorskip("torch")
F = torch.nn.functional


def make(type_name, n_inputs=1, **fields):
    cls = LAYER_TYPES[type_name]
    return cls(type_name, "l", 1, [f"in{i}" for i in range(n_inputs)], cls.parse_fields(type_name, dict(fields)))


def forward(layer, *xs, weights=None):
    shape = layer.infer([x.shape[1:] for x in xs]).shape
    out = layer.forward(list(xs), weights or {}, tuple(int(d) for d in shape))
    assert out.shape == (xs[0].shape[0], *shape)
    return out


def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def channels_first(x):
    """[N, ..., C] → [N, C, ...] as torch lays images out."""
    return np.moveaxis(x, -1, 1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.data(), st.integers(0, 99))
def test_layer_norm(shape, data, seed):
    k = data.draw(st.integers(1, len(shape)))  # torch normalises the last k axes
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, *shape)) * 3 + 1
    gamma, beta = rng.normal(size=shape[-k:]), rng.normal(size=shape[-k:])
    axes = list(range(len(shape) - k, len(shape)))
    got = forward(make("layernorm", axis=axes), x, weights={"gamma": gamma, "beta": beta})
    want = F.layer_norm(t(x), tuple(shape[-k:]), t(gamma), t(beta), eps=1e-5).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_layer_norm_over_channels_of_an_image_is_convnext_layernorm2d():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 6, 8))
    gamma, beta = rng.normal(size=8), rng.normal(size=8)
    got = forward(make("layernorm", epsilon=1e-6), x, weights={"gamma": gamma, "beta": beta})
    want = F.layer_norm(t(x), (8,), t(gamma), t(beta), eps=1e-6).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=0, max_size=3), st.integers(1, 4), st.integers(1, 3), st.integers(0, 99))
def test_group_norm(spatial, groups, per, seed):
    channels = groups * per
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, *spatial, channels)) * 2 - 0.5
    gamma, beta = rng.normal(size=channels), rng.normal(size=channels)
    if not spatial and per == 1:
        return  # one value per group: torch and we both give beta, but torch warns
    got = forward(make("groupnorm", groups=groups), x, weights={"gamma": gamma, "beta": beta})
    want = F.group_norm(t(channels_first(x)), groups, t(gamma), t(beta), eps=1e-5).numpy()
    np.testing.assert_allclose(channels_first(got), want, rtol=1e-11, atol=1e-11)


def test_instance_norm_is_groupnorm_with_one_channel_per_group():
    x = np.random.default_rng(2).normal(size=(2, 4, 5, 6))
    got = forward(make("groupnorm", groups=6, center=False, scale=False), x)
    np.testing.assert_allclose(channels_first(got), F.instance_norm(t(channels_first(x)), eps=1e-5).numpy(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("groups, channels", [(2, 8), (3, 6), (4, 4), (1, 5)])
def test_channel_shuffle(groups, channels):
    x = np.random.default_rng(3).normal(size=(2, 3, 4, channels))
    got = forward(make("channel_shuffle", groups=groups), x)
    want = F.channel_shuffle(t(channels_first(x)), groups).numpy()
    np.testing.assert_array_equal(channels_first(got), want)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_conv_padding_modes(mode, rank):
    rng = np.random.default_rng(rank)
    x = rng.normal(size=(2, *[5, 4, 3][:rank], 3))
    weight, bias = rng.normal(size=(*[3, 2, 3][:rank], 3, 4)), rng.normal(size=4)
    padding = [2, 1, 1][:rank]
    got = forward(make("conv", filters=4, kernel=[3, 2, 3][:rank], padding=padding, stride=2, padding_mode=mode), x,
                  weights={"weight": weight, "bias": bias})
    conv = getattr(torch.nn, f"Conv{rank}d")(3, 4, [3, 2, 3][:rank], stride=2, padding=padding,
                                             padding_mode=mode).double()
    with torch.no_grad():
        conv.weight.copy_(t(np.moveaxis(weight, [-1, -2], [0, 1])))
        conv.bias.copy_(t(bias))
        want = conv(t(channels_first(x))).numpy()
    np.testing.assert_allclose(channels_first(got), want, rtol=1e-12, atol=1e-12)
    # uneven pads, as F.pad takes them (last axis first)
    pairs = [[2, 0], [1, 3], [0, 2]][:rank]
    got = forward(make("zero_pad", padding=pairs, padding_mode=mode), x)
    flat = [v for pair in reversed(pairs) for v in pair]
    np.testing.assert_array_equal(channels_first(got), F.pad(t(channels_first(x)), flat, mode=mode).numpy())


@pytest.mark.parametrize("r, channels", [(2, 12), (3, 9), (1, 2)])
def test_pixel_shuffle_and_unshuffle(r, channels):
    x = np.random.default_rng(4).normal(size=(2, 3, 4, channels))
    got = forward(make("pixel_shuffle", factor=r), x)
    np.testing.assert_array_equal(channels_first(got), F.pixel_shuffle(t(channels_first(x)), r).numpy())
    y = np.random.default_rng(5).normal(size=(2, 3 * r, 2 * r, channels))
    got = forward(make("pixel_unshuffle", factor=r), y)
    np.testing.assert_array_equal(channels_first(got), F.pixel_unshuffle(t(channels_first(y)), r).numpy())


@pytest.mark.parametrize("name, fn", [("hardswish", F.hardswish), ("hardsigmoid", F.hardsigmoid), ("mish", F.mish),
                                      ("softplus", F.softplus)])
def test_activations(name, fn):
    x = np.concatenate([np.linspace(-40, 40, 8001), [-1000.0, -3.0, 3.0, 19.999, 20.0, 20.001, 1000.0]])
    got = forward(make(name), x.reshape(1, -1))[0]
    np.testing.assert_allclose(got, fn(t(x)).numpy(), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name, fields, fn", [
    ("elu", {"alpha": 0.5}, lambda x: F.elu(x, 0.5)),
    ("elu", {}, F.elu),
    ("selu", {}, F.selu),
    ("gelu", {"approximate": "tanh"}, lambda x: F.gelu(x, approximate="tanh")),
    ("gelu", {}, F.gelu),
    ("clip", {"min": -1.5, "max": 4}, lambda x: torch.clamp(x, -1.5, 4.0)),
    ("hardsigmoid", {"alpha": 0.2, "beta": 0.5}, lambda x: torch.clamp(0.2 * x + 0.5, 0.0, 1.0)),
])
def test_activations_with_settings(name, fields, fn):
    x = np.concatenate([np.linspace(-12, 12, 2401), [-1000.0, -3.0, -2.5, 2.5, 3.0, 1000.0]])
    got = forward(make(name, **fields), x.reshape(1, -1))[0]
    np.testing.assert_allclose(got, fn(t(x)).numpy(), rtol=1e-13, atol=1e-15)  # 1 + tanh(...) cancels far left


@pytest.mark.parametrize("alpha", ["channel", "single"])
def test_prelu(alpha):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 4, 5, 6))
    w = rng.normal(size=6 if alpha == "channel" else 1)
    got = forward(make("prelu", alpha=alpha), x, weights={"weight": w})
    np.testing.assert_array_equal(channels_first(got), F.prelu(t(channels_first(x)), t(w)).numpy())


def keras_layout(mha, d_q, d_k, d_v, heads):
    """torch.nn.MultiheadAttention's weights as Keras MultiHeadAttention's ([d, heads, key_dim], ...)."""
    key_dim = d_q // heads
    if mha._qkv_same_embed_dim:
        w_q, w_k, w_v = mha.in_proj_weight.detach().numpy().reshape(3, d_q, d_q)
    else:
        w_q, w_k, w_v = (p.detach().numpy() for p in (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight))
    b_q, b_k, b_v = mha.in_proj_bias.detach().numpy().reshape(3, d_q)
    return {
        "query.weight": w_q.T.reshape(d_q, heads, key_dim), "query.bias": b_q.reshape(heads, key_dim),
        "key.weight": w_k.T.reshape(d_k, heads, key_dim), "key.bias": b_k.reshape(heads, key_dim),
        "value.weight": w_v.T.reshape(d_v, heads, key_dim), "value.bias": b_v.reshape(heads, key_dim),
        "output.weight": mha.out_proj.weight.detach().numpy().T.reshape(heads, key_dim, d_q),
        "output.bias": mha.out_proj.bias.detach().numpy(),
    }


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), st.integers(0, 99),
       st.sampled_from(["self", "cross", "cross3"]))
def test_multi_head_attention(heads, per_head, t_q, t_k, seed, mode):
    torch.manual_seed(seed)
    d = heads * per_head
    d_k, d_v = (d, d) if mode != "cross3" else (d + 1, d + 2)
    mha = torch.nn.MultiheadAttention(d, heads, batch_first=True, kdim=d_k, vdim=d_v, dtype=torch.float64)
    with torch.no_grad():  # non-zero biases, so that a misplaced bias shows
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(2, t_q, d))
    if mode == "self":
        value = key = query
        inputs = [query]
    else:
        value, key = rng.normal(size=(2, t_k, d_v)), rng.normal(size=(2, t_k, d_k))
        inputs = [query, value, key] if mode == "cross3" else [query, value]
        if mode == "cross":
            key = value
    layer = make("attention", len(inputs), heads=heads)
    weights = keras_layout(mha, d, d_k, d_v, heads)
    got = forward(layer, *inputs, weights=weights)
    with torch.no_grad():
        want, _ = mha(t(query), t(key), t(value), need_weights=False)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-11, atol=1e-12)
    # and the parameter count
    assert layer.infer([x.shape[1:] for x in inputs]).trainable == sum(p.numel() for p in mha.parameters())


def test_multi_head_attention_forward_functional():
    # the functional form named by the issue, self-attention on ViT-like sizes
    torch.manual_seed(0)
    d, heads, tokens = 48, 6, 17
    mha = torch.nn.MultiheadAttention(d, heads, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    x = np.random.default_rng(0).normal(size=(1, tokens, d))
    seq = t(x[0][:, None, :])  # [T, N, d] for the functional API
    want, _ = F.multi_head_attention_forward(seq, seq, seq, d, heads, mha.in_proj_weight, mha.in_proj_bias, None,
                                             None, False, 0.0, mha.out_proj.weight, mha.out_proj.bias,
                                             training=False, need_weights=False)
    got = forward(make("attention", heads=heads), x, weights=keras_layout(mha, d, d, d, heads))
    np.testing.assert_allclose(got[0], want[:, 0].detach().numpy(), rtol=1e-11, atol=1e-12)


def test_vit_encoder_block_against_transformer_encoder_layer():
    """A pre-norm encoder block written in spec layers equals torch's TransformerEncoderLayer (GELU)."""
    from cnncalc import build_network
    from cnncalc.run.executor import run

    d, heads, mlp, tokens = 32, 4, 64, 9
    torch.manual_seed(1)
    block = torch.nn.TransformerEncoderLayer(d, heads, mlp, dropout=0.0, activation="gelu", layer_norm_eps=1e-6,
                                             batch_first=True, norm_first=True, dtype=torch.float64).eval()
    with torch.no_grad():
        for p in block.parameters():
            if p.ndim == 1:
                p.normal_()
    spec = {"input": [tokens * d], "layers": [
        {"type": "reshape", "name": "x", "shape": [tokens, d]},
        {"type": "layernorm", "name": "ln_1", "epsilon": 1e-6},
        {"type": "attention", "name": "attn", "heads": heads},
        {"type": "add", "name": "add_1", "inputs": ["x", "attn"]},
        {"type": "layernorm", "name": "ln_2", "epsilon": 1e-6},
        {"type": "dense", "name": "mlp_1", "units": mlp, "activation": "gelu"},
        {"type": "dense", "name": "mlp_2", "units": d},
        {"type": "add", "name": "add_2", "inputs": ["add_1", "mlp_2"]}]}
    weights = {f"attn.{k}": v for k, v in keras_layout(block.self_attn, d, d, d, heads).items()}
    for ours, theirs in (("ln_1", block.norm1), ("ln_2", block.norm2)):
        weights[f"{ours}.gamma"] = theirs.weight.detach().numpy()
        weights[f"{ours}.beta"] = theirs.bias.detach().numpy()
    for ours, theirs in (("mlp_1", block.linear1), ("mlp_2", block.linear2)):
        weights[f"{ours}.weight"] = theirs.weight.detach().numpy().T
        weights[f"{ours}.bias"] = theirs.bias.detach().numpy()
    x = np.random.default_rng(1).normal(size=(tokens, d))
    got = run(build_network(spec), x.reshape(-1), weights).output
    with torch.no_grad():
        want = block(t(x[None]))[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize(("size", "dim", "heads", "window", "shift"), [
    ((14, 14), 8, 2, 7, 3), ((14, 14), 8, 2, 7, 0), ((9, 11), 6, 3, 4, 2), ((5, 5), 4, 1, 7, 3), ((12, 8), 4, 2, 4, 1)])
def test_window_attention_is_torchvision_shifted_window_attention(size, dim, heads, window, shift):
    """torchvision's Swin (V1) block attention, float64, padding and shift included."""
    swin = pytest.importorskip("torchvision.models.swin_transformer")
    torch.manual_seed(window + shift)
    module = swin.ShiftedWindowAttention(dim, [window, window], [shift, shift], heads).double().eval()
    with torch.no_grad():
        module.qkv.bias.normal_()
        module.proj.bias.normal_()
    x = np.random.default_rng(3).normal(size=(2, *size, dim))
    layer = make("window_attention", heads=heads, window=window, shift=shift)
    weights = {"qkv.weight": module.qkv.weight.detach().numpy().T, "qkv.bias": module.qkv.bias.detach().numpy(),
               "output.weight": module.proj.weight.detach().numpy().T, "output.bias": module.proj.bias.detach().numpy(),
               "position_bias": module.relative_position_bias_table.detach().numpy()}
    got = forward(layer, x, weights=weights)
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
    assert layer.infer([x.shape[1:]]).trainable == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("partition", "size", "dim", "heads", "window"),
                         [("window", 14, 8, 2, 7), ("grid", 14, 8, 2, 7), ("grid", 6, 6, 3, 3), ("grid", 7, 4, 1, 7)])
def test_window_attention_is_torchvision_maxvit_partition_attention(partition, size, dim, heads, window):
    """torchvision's MaxViT attention (block or grid partition, scores scaled by 1/√C), float64: its
    ``RelativePositionalMultiHeadAttention`` between its ``WindowPartition``/``SwapAxes`` and their inverses."""
    maxvit = pytest.importorskip("torchvision.models.maxvit")
    torch.manual_seed(size + window)
    attention = maxvit.RelativePositionalMultiHeadAttention(dim, dim // heads, window * window).double().eval()
    with torch.no_grad():
        for p in attention.parameters():
            p.normal_(0, 0.5)
    p = window if partition == "window" else size // window  # torchvision's partition argument
    x = np.random.default_rng(5).normal(size=(2, size, size, dim))
    with torch.no_grad():
        parts = maxvit.WindowPartition()(torch.from_numpy(x).permute(0, 3, 1, 2), p)
        if partition == "grid":
            parts = parts.swapaxes(-2, -3)
        out = attention(parts)
        if partition == "grid":
            out = out.swapaxes(-2, -3)
        want = maxvit.WindowDepartition()(out, p, size // p, size // p).permute(0, 2, 3, 1).numpy()
    layer = make("window_attention", heads=heads, window=window, partition=partition, scale="channels")
    weights = {"qkv.weight": attention.to_qkv.weight.detach().numpy().T, "qkv.bias": attention.to_qkv.bias.detach().numpy(),
               "output.weight": attention.merge.weight.detach().numpy().T,
               "output.bias": attention.merge.bias.detach().numpy(),
               "position_bias": attention.relative_position_bias_table.detach().numpy()}
    np.testing.assert_allclose(forward(layer, x, weights=weights), want, rtol=1e-11, atol=1e-12)
    assert layer.infer([x.shape[1:]]).trainable == sum(p.numel() for p in attention.parameters())


@pytest.mark.parametrize(("size", "dim", "heads", "window", "shift"), [
    ((14, 14), 8, 2, 7, 3), ((9, 11), 6, 3, 4, 2), ((5, 5), 4, 1, 7, 3), ((12, 8), 4, 2, 4, 0), ((6, 6), 4, 2, 2, 1)])
def test_window_attention_v2_is_torchvision_shifted_window_attention_v2(size, dim, heads, window, shift):
    """torchvision's Swin V2 block attention in float64 (its offset table computed in float64 too: torchvision
    computes it in float32), padding, shift, the key's zeroed bias and the clamped logit scale included."""
    swin = pytest.importorskip("torchvision.models.swin_transformer")
    from cnncalc.layers.attention import coords_table

    torch.manual_seed(window + shift)
    module = swin.ShiftedWindowAttentionV2(dim, [window, window], [shift, shift], heads).double().eval()
    side = 2 * window - 1
    # torchvision's float32 table, within float32's rounding of the float64 one
    np.testing.assert_allclose(module.relative_coords_table.reshape(-1, 2).numpy(), coords_table(window),
                               rtol=0, atol=2e-7)
    with torch.no_grad():
        module.relative_coords_table.copy_(torch.from_numpy(coords_table(window).reshape(1, side, side, 2)))
        module.qkv.bias.normal_()  # the key third too: forward must zero it
        module.proj.bias.normal_()
        module.cpb_mlp[0].bias.normal_()
        module.logit_scale.copy_(torch.linspace(1.0, 5.0, heads, dtype=torch.float64).reshape(heads, 1, 1))  # 5 > ln 100
    x = np.random.default_rng(3).normal(size=(2, *size, dim))
    layer = make("window_attention_v2", heads=heads, window=window, shift=shift)
    weights = {"qkv.weight": module.qkv.weight.detach().numpy().T, "qkv.bias": module.qkv.bias.detach().numpy(),
               "output.weight": module.proj.weight.detach().numpy().T, "output.bias": module.proj.bias.detach().numpy(),
               "logit_scale": module.logit_scale.detach().numpy().reshape(-1),
               "cpb_mlp.0.weight": module.cpb_mlp[0].weight.detach().numpy().T,
               "cpb_mlp.0.bias": module.cpb_mlp[0].bias.detach().numpy(),
               "cpb_mlp.2.weight": module.cpb_mlp[2].weight.detach().numpy().T}
    assert {key: value.shape for key, value in weights.items()} == layer.weight_shapes([(*size, dim)])
    got = forward(layer, x, weights=weights)
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
    assert layer.infer([(*size, dim)]).trainable == sum(p.numel() for p in module.parameters())
