"""Spec v2, the non-spatial families: trainable, broadcasting merges, shape ops, norms, activations,
attention and tokens. Shapes and parameters are checked against literal rules written here, kernels
against naive loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc import analyse, load_spec, loads_spec
from cnncalc.errors import ExecutionError, ShapeError
from cnncalc.layers import LAYER_TYPES
from cnncalc.run.executor import run
from cnncalc.spec.network import ZOO_DIR


def _summary(text: str):
    return analyse(loads_spec(text))


# ---------------------------------------------------------------- trainable

FROZEN_SPEC = """
input: [8, 8, 3]
blocks:
  b:
    params: {f: 4}
    layers:
      - {type: conv, name: c, filters: $f, kernel: 3, padding: 1}
      - {type: batchnorm, name: bn}
layers:
  - {block: b, name: s1, repeat: 2, trainable: false, first: {f: 3}}
  - {block: b, name: s2}
  - {type: dense, name: fc, units: 2, trainable: false}
  - {type: dense, name: fc2, units: 2, repeat: 2, trainable: false}
"""


def test_trainable_false_moves_params_to_non_trainable():
    summary = _summary(FROZEN_SPEC)
    by_name = {r.name: r for r in summary.records}
    # conv 3→3: 3·3·3·3 + 3 = 84; bn 3: 6 + 6 stats; conv 3→4: 3·3·3·4 + 4 = 112; bn 4: 8 + 8
    assert (by_name["s1.0.c"].trainable, by_name["s1.0.c"].non_trainable) == (0, 84)
    assert (by_name["s1.0.bn"].trainable, by_name["s1.0.bn"].non_trainable) == (0, 12)
    assert (by_name["s1.1.c"].trainable, by_name["s1.1.c"].non_trainable) == (0, 112)
    assert (by_name["s2.c"].trainable, by_name["s2.c"].non_trainable) == (148, 0)
    assert (by_name["s2.bn"].trainable, by_name["s2.bn"].non_trainable) == (8, 8)
    assert (by_name["fc"].trainable, by_name["fc"].non_trainable) == (0, 10)
    assert all((by_name[f"fc2.{i}"].trainable, by_name[f"fc2.{i}"].non_trainable) == (0, 6) for i in (0, 1))
    assert summary.params == 84 + 12 + 112 + 16 + 148 + 16 + 10 + 12
    assert summary.trainable == 148 + 8


def test_trainable_on_block_overrides_and_first_can_freeze_copy_zero():
    text = FROZEN_SPEC.replace("repeat: 2, trainable: false, first: {f: 3}", "repeat: 2, first: {f: 3, trainable: false}")
    by_name = {r.name: r for r in _summary(text).records}
    assert by_name["s1.0.c"].trainable == 0 and by_name["s1.1.c"].trainable == 112


@pytest.mark.parametrize("text, fragment", [
    ("input: [4]\nlayers:\n  - {type: dense, units: 2, trainable: 0}\n", "field 'trainable'"),
    (("input: [4]\nblocks:\n  b:\n    params: {trainable: true}\n    layers: [{type: dense, units: 2}]\n"
      "layers:\n  - {block: b}\n"), "reserved parameter"),
    ("input: [4]\nblocks:\n  b:\n    layers: [{type: dense, units: 2}]\nlayers:\n  - {block: b, trainable: 3}\n",
     "field 'trainable'"),
])
def test_trainable_errors(cli, tmp_path, text, fragment):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    code, _out, err = cli("summary", str(path))
    assert code == 2 and fragment in err, err
    assert "spec.yaml:" in err


# ---------------------------------------------------------------- zoo: published parameter counts

# (zoo name, torchvision's parameter count, torchvision's documented GFLOPS, which count MACs)
V2_ZOO = [
    ("vit_b_16", 86_567_656, 17.56),
    ("convnext_tiny", 28_589_128, 4.46),
    ("efficientnet_b0", 5_288_548, 0.39),
    ("mobilenet_v3_large", 5_483_032, 0.22),
    ("shufflenet_v2_x1_0", 2_278_604, 0.14),
]


@pytest.mark.parametrize("name, params, gmacs", V2_ZOO, ids=[z[0] for z in V2_ZOO])
def test_v2_zoo_published_counts(name, params, gmacs):
    summary = analyse(load_spec(name))
    assert (summary.params, summary.trainable, summary.non_trainable) == (params, params, 0)
    assert round(summary.macs / 1e9, 2) == gmacs
    assert list(summary.records[-1].output_shape) == [1000]


def test_frozen_backbone_counts_as_non_trainable(tmp_path):
    # fine-tuning the head only: every encoder block frozen, the count moves, the total stays
    text = (ZOO_DIR / "vit_b_16.yaml").read_text().replace(
        "{block: encoder, name: encoder, repeat: 12}", "{block: encoder, name: encoder, repeat: 12, trainable: false}")
    summary = analyse(loads_spec(text))
    per_block = 2 * 768 + (4 * 768 * 768 + 4 * 768) + 2 * 768 + (768 * 3072 + 3072) + (3072 * 768 + 768)
    assert summary.non_trainable == 12 * per_block
    assert summary.params == 86_567_656


# ---------------------------------------------------------------- helpers: one layer, any rank

def make(type_name: str, n_inputs: int = 1, **fields):
    """A layer built directly from its class (any input rank, no network around it)."""
    cls = LAYER_TYPES[type_name]
    options = cls.parse_fields(type_name, dict(fields))
    return cls(type_name, type_name + "1", 1, [f"in{i}" for i in range(n_inputs)], options)


def forward(layer, *xs, weights=None):
    """Runs the kernel on batched inputs; checks the calculator's shape against the kernel's."""
    shape = layer.infer([x.shape[1:] for x in xs]).shape
    out = layer.forward(list(xs), weights or {}, tuple(int(d) for d in shape))
    assert out.shape == (xs[0].shape[0], *shape)
    return out


def positional(shape, rng=None):
    """Values that encode their position (a wrong index is visible), plus noise when rng is given."""
    x = np.arange(int(np.prod(shape)), dtype=float).reshape(shape)
    return x if rng is None else x + rng.normal(size=shape)


shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4)


# ---------------------------------------------------------------- broadcasting merges

def literal_broadcast(a, b):
    """NumPy's rule written out: align from the end; each pair equal, or one of them 1."""
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + tuple(a), (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return tuple(out)


@settings(max_examples=60, deadline=None)
@given(shapes, st.data(), st.sampled_from(["add", "multiply", "subtract", "maximum", "minimum", "average"]))
def test_merge_shapes_follow_the_broadcast_rule(a, data, kind):
    # the second shape: a suffix of a's rank with some axes set to 1 or changed
    b = [data.draw(st.sampled_from([d, 1, d + 1])) for d in a[len(a) - data.draw(st.integers(1, len(a))):]]
    expected = literal_broadcast(a, b)
    layer = make(kind, 2)
    if expected is None:
        with pytest.raises(ShapeError, match="broadcasting"):
            layer.infer([tuple(a), tuple(b)])
        return
    assert tuple(layer.infer([tuple(a), tuple(b)]).shape) == expected
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, *a)), rng.normal(size=(2, *b))
    out = forward(layer, x, y)
    op = {"add": lambda p, q: p + q, "multiply": lambda p, q: p * q, "subtract": lambda p, q: p - q,
          "maximum": max, "minimum": min, "average": lambda p, q: (p + q) / 2}[kind]
    rank = len(expected)
    for n in range(2):
        for index in np.ndindex(*expected):
            ia = tuple(0 if d == 1 else i for i, d in zip(index[rank - len(a):], a))
            ib = tuple(0 if d == 1 else i for i, d in zip(index[rank - len(b):], b))
            assert out[(n, *index)] == pytest.approx(op(x[(n, *ia)], y[(n, *ib)]), abs=1e-15)


def test_squeeze_excitation_multiply_three_inputs_and_average():
    rng = np.random.default_rng(1)
    x, s, t = rng.normal(size=(2, 4, 4, 3)), rng.normal(size=(2, 1, 1, 3)), rng.normal(size=(2, 3))
    out = forward(make("multiply", 3), x, s, t)
    for c in range(3):
        assert np.allclose(out[..., c], x[..., c] * s[:, :, :, c] * t[:, None, None, c])
    assert np.allclose(forward(make("average", 3), x, s, t), (x + s + t[:, None, None, :]) / 3)
    assert np.allclose(forward(make("maximum", 3), x, s, t), np.maximum(np.maximum(x, s), t[:, None, None, :]))


def test_subtract_takes_two_inputs():
    with pytest.raises(ShapeError, match="exactly two"):
        make("subtract", 3).infer([(2,), (2,), (2,)])


# ---------------------------------------------------------------- slice, channel_shuffle, permute

@settings(max_examples=80, deadline=None)
@given(shapes, st.data())
def test_slice_matches_python_slicing(shape, data):
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1))
    n = shape[axis]
    start = data.draw(st.integers(-n - 1, n))
    stop = data.draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
    step = data.draw(st.integers(1, 3))
    layer = make("slice", axis=axis, start=start, stop=stop, step=step)
    # the rule: start an existing index, stop in [-n, n], the slice non-empty
    first = start + n if start < 0 else start
    end = n if stop is None else (stop + n if stop is not None and stop < 0 else stop)
    valid = -n <= start < n and (stop is None or -n <= stop <= n) and end > first
    if not valid:
        with pytest.raises(ShapeError, match="slice"):
            layer.infer([tuple(shape)])
        return
    x = positional((1, *shape))
    nested = x[0].tolist()
    out = forward(layer, x)

    def take(node, depth):  # Python's own slicing on nested lists
        if depth == (axis % rank):
            return node[start:stop:step]
        return [take(item, depth + 1) for item in node]

    assert out[0].tolist() == take(nested, 0)


@settings(max_examples=40, deadline=None)
@given(shapes, st.integers(1, 4), st.integers(1, 4))
def test_channel_shuffle_follows_pytorch_rule(shape, groups, per):
    shape = [*shape[:-1], groups * per]
    x = positional((2, *shape))
    out = forward(make("channel_shuffle", groups=groups), x)
    for j in range(groups * per):
        # output channel j = (j mod groups)-th group, position ⌊j/groups⌋ in it
        assert np.array_equal(out[..., j], x[..., (j % groups) * per + j // groups])


def test_channel_shuffle_groups_must_divide():
    with pytest.raises(ShapeError, match="divide"):
        make("channel_shuffle", groups=3).infer([(4, 4, 8)])


@pytest.mark.parametrize("mode", ["crd", "dcr"])
@pytest.mark.parametrize("r, h, w, c", [(2, 3, 2, 3), (3, 2, 1, 2), (1, 2, 3, 4)])
def test_pixel_shuffle_and_unshuffle_follow_the_channel_order_of_their_mode(mode, r, h, w, c):
    x = positional((2, h, w, c * r * r))
    out = forward(make("pixel_shuffle", factor=r, mode=mode), x)
    assert out.shape == (2, h * r, w * r, c)
    for i in range(h * r):
        for j in range(w * r):
            a, b = i % r, j % r
            for k in range(c):
                # crd: PyTorch's channel k·r² + a·r + b; dcr: TensorFlow's (a·r + b)·C + k
                depth = k * r * r + a * r + b if mode == "crd" else (a * r + b) * c + k
                assert out[1, i, j, k] == x[1, i // r, j // r, depth]
    back = forward(make("pixel_unshuffle", factor=r, mode=mode), out)
    assert np.array_equal(back, x)


def test_padding_modes_keep_params_and_macs_and_refuse_pads_past_the_input():
    plain = make("conv", filters=4, kernel=3, padding=2).infer([(5, 6, 3)])
    for mode in ("reflect", "replicate", "circular"):
        info = make("conv", filters=4, kernel=3, padding=2, padding_mode=mode).infer([(5, 6, 3)])
        assert (info.shape, info.trainable, info.macs) == (plain.shape, plain.trainable, plain.macs)
        assert f"padding_mode {mode}" in info.explain[-3]
    # reflect mirrors at most n − 1 pixels, circular wraps at most n (PyTorch's limits); replicate any
    with pytest.raises(ShapeError, match="reflect padding of 3 along W needs more than the 3 pixels"):
        make("conv", filters=1, kernel=3, padding=[2, 3], padding_mode="reflect").infer([(5, 3, 1)])
    make("zero_pad", padding=[[0, 0], [0, 3]], padding_mode="circular").infer([(5, 3, 1)])
    with pytest.raises(ShapeError, match="circular padding of 4 along L"):
        make("zero_pad", padding=[[4, 0]], padding_mode="circular").infer([(3, 1)])
    make("zero_pad", padding=[[9, 9]], padding_mode="replicate").infer([(1, 1)])
    x = positional((1, 4, 1))
    assert forward(make("zero_pad", padding=[[2, 1]], padding_mode="reflect"), x)[0, :, 0].tolist() == \
        [2, 1, 0, 1, 2, 3, 2]
    assert forward(make("zero_pad", padding=[[2, 1]], padding_mode="circular"), x)[0, :, 0].tolist() == \
        [2, 3, 0, 1, 2, 3, 0]
    assert forward(make("zero_pad", padding=[[2, 1]], padding_mode="replicate"), x)[0, :, 0].tolist() == \
        [0, 0, 0, 1, 2, 3, 3]


def test_pixel_shuffle_shapes_params_and_refusals():
    info = make("pixel_shuffle", factor=3).infer([(7, 5, 18)])
    assert info.shape == (21, 15, 2) and info.trainable == info.macs == 0
    assert make("pixel_unshuffle", factor=2).infer([(8, 6, 3)]).shape == (4, 3, 12)
    with pytest.raises(ShapeError, match="multiple of factor² = 4"):
        make("pixel_shuffle", factor=2).infer([(4, 4, 6)])
    with pytest.raises(ShapeError, match="W = 5 is not a multiple of factor 2"):
        make("pixel_unshuffle", factor=2).infer([(4, 5, 6)])
    with pytest.raises(ShapeError, match=r"\[H, W, C\]"):
        make("pixel_shuffle", factor=2).infer([(4, 4, 4, 8)])


@settings(max_examples=40, deadline=None)
@given(shapes, st.randoms(use_true_random=False))
def test_permute_moves_axes(shape, random):
    order = list(range(len(shape)))
    random.shuffle(order)
    layer = make("permute", axes=order)
    assert tuple(layer.infer([tuple(shape)]).shape) == tuple(shape[a] for a in order)
    x = positional((1, *shape))
    out = forward(layer, x)
    for index in np.ndindex(*shape):
        moved = tuple(index[a] for a in order)
        assert out[(0, *moved)] == x[(0, *index)]


@pytest.mark.parametrize("axes", [[0, 0, 1], [0, 1], [0, 1, 3], [2, 1, 0, 3]])
def test_permute_not_a_permutation(axes):
    with pytest.raises(ShapeError, match="permutation") as error:
        make("permute", axes=axes).infer([(2, 3, 4)])
    assert error.value.field == "axes"


# ---------------------------------------------------------------- norms

@settings(max_examples=40, deadline=None)
@given(shapes, st.data(), st.booleans(), st.booleans())
def test_layernorm_params_and_shape(shape, data, center, scale):
    rank = len(shape)
    axes = data.draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank,
                              unique_by=lambda a: a % rank))
    layer = make("layernorm", axis=axes if len(axes) > 1 else axes[0], center=center, scale=scale)
    info = layer.infer([tuple(shape)])
    assert info.trainable == (center + scale) * int(np.prod([shape[a] for a in axes]))
    assert tuple(info.shape) == tuple(shape) and info.macs == 0


def test_layernorm_kernel_by_hand():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4, 5))
    gamma, beta = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    layer = make("layernorm", axis=[0, -1], epsilon=1e-5)
    out = forward(layer, x, weights={"gamma": gamma, "beta": beta})
    for n in range(2):
        for j in range(4):  # the axis not normalised
            values = [x[n, i, j, c] for i in range(3) for c in range(5)]
            mean = sum(values) / len(values)
            var = sum((v - mean) ** 2 for v in values) / len(values)
            for i in range(3):
                for c in range(5):
                    want = gamma[i, c] * (x[n, i, j, c] - mean) / math.sqrt(var + 1e-5) + beta[i, c]
                    assert out[n, i, j, c] == pytest.approx(want, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(shapes, st.integers(1, 4), st.integers(1, 3), st.booleans(), st.booleans())
def test_groupnorm_params_and_kernel_by_hand(shape, groups, per, center, scale):
    shape = [*shape[:-1], groups * per]
    channels = groups * per
    layer = make("groupnorm", groups=groups, center=center, scale=scale)
    assert layer.infer([tuple(shape)]).trainable == (center + scale) * channels
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, *shape))
    weights = {}
    if scale:
        weights["gamma"] = rng.normal(size=channels)
    if center:
        weights["beta"] = rng.normal(size=channels)
    out = forward(layer, x, weights=weights)
    positions = list(np.ndindex(*shape[:-1]))
    for n in range(2):
        for g in range(groups):
            members = range(g * per, (g + 1) * per)  # contiguous channels
            values = [x[(n, *p, c)] for p in positions for c in members]
            mean = sum(values) / len(values)
            var = sum((v - mean) ** 2 for v in values) / len(values)
            for p in positions:
                for c in members:
                    want = (x[(n, *p, c)] - mean) / math.sqrt(var + 1e-5)
                    want = want * weights.get("gamma", np.ones(channels))[c] + weights.get("beta", np.zeros(channels))[c]
                    assert out[(n, *p, c)] == pytest.approx(want, abs=1e-10)


def test_groupnorm_groups_must_divide():
    with pytest.raises(ShapeError, match="divide") as error:
        make("groupnorm", groups=3).infer([(4, 4, 8)])
    assert error.value.field == "groups"


# ---------------------------------------------------------------- activations, prelu, layer_scale

def _literal(name, v):
    softplus = v if v > 20 else math.log1p(math.exp(v))
    return {"hardsigmoid": min(max(v + 3, 0), 6) / 6, "hardswish": v * min(max(v + 3, 0), 6) / 6,
            "softplus": softplus, "mish": v * math.tanh(softplus)}[name]


@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid", "mish", "softplus"])
def test_new_activations_elementwise(name):
    values = np.array([-1000.0, -50.0, -3.5, -3.0, -1.0, -1e-9, 0.0, 0.5, 2.9, 3.0, 7.0, 19.9, 20.5, 1000.0])
    out = forward(make(name), values.reshape(1, 2, 7))
    assert np.all(np.isfinite(out))
    for v, got in zip(values, out.ravel()):
        assert got == pytest.approx(_literal(name, v), rel=1e-14, abs=1e-300)
    # as an activation field of a dense layer
    net = loads_spec(f"input: [3]\nlayers:\n  - {{type: dense, units: 2, activation: {name}}}\n")
    w, b = np.array([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.25]]), np.array([0.1, -0.2])
    x = np.array([1.5, -2.0, 4.0])
    got = run(net, x, {"dense1.weight": w, "dense1.bias": b}).output
    assert got == pytest.approx([_literal(name, v) for v in x @ w + b], rel=1e-14)


def test_softplus_is_stable():
    x = np.array([[-800.0, 800.0]])
    out = forward(make("softplus"), x)
    assert out[0, 0] == pytest.approx(math.exp(-800.0), rel=1e-12, abs=0) and out[0, 1] == 800.0


@pytest.mark.parametrize("alpha, count", [("channel", 5), ("single", 1)])
def test_prelu_params_and_kernel(alpha, count):
    layer = make("prelu", alpha=alpha)
    assert layer.infer([(3, 4, 5)]).trainable == count
    rng = np.random.default_rng(4)
    x, a = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=count)
    out = forward(layer, x, weights={"weight": a})
    for index in np.ndindex(*x.shape):
        slope = a[index[-1] if count > 1 else 0]
        assert out[index] == (x[index] if x[index] >= 0 else slope * x[index])


def test_layer_scale():
    layer = make("layer_scale")
    assert layer.init == 1e-6 and layer.infer([(7, 7, 96)]).trainable == 96
    x, w = positional((1, 2, 3)), np.array([2.0, -1.0, 0.5])
    assert np.array_equal(forward(layer, x, weights={"weight": w}), x * w)


# ---------------------------------------------------------------- attention

def literal_attention_params(d_q, d_k, d_v, h, k, v, out, bias):
    return d_q * h * k + d_k * h * k + d_v * h * v + h * v * out + ((2 * h * k + h * v + out) if bias else 0)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5), st.integers(1, 3),
       st.booleans(), st.one_of(st.none(), st.integers(1, 4)), st.one_of(st.none(), st.integers(1, 4)),
       st.one_of(st.none(), st.integers(1, 6)), st.sampled_from([1, 2, 3]))
def test_attention_params_macs_shape(t_q, t_k, d_per_head, d_kv, heads, bias, key_dim, value_dim, output_dim, n_in):
    d_q = heads * d_per_head
    layer = make("attention", n_in, heads=heads, key_dim=key_dim, value_dim=value_dim, output_dim=output_dim,
                 bias=bias)
    query, value, key = (t_q, d_q), (t_k, d_kv), (t_k, d_kv + 1)
    inputs = [query, value, key][:n_in]
    if n_in == 1:
        value = key = query
    elif n_in == 2:
        key = value
    info = layer.infer(inputs)
    k = key_dim or d_q // heads
    v = value_dim or k
    out = output_dim or d_q
    assert info.trainable == literal_attention_params(d_q, key[1], value[1], heads, k, v, out, bias)
    tq, tk = query[0], key[0]
    assert info.macs == (tq * d_q * heads * k + tk * key[1] * heads * k + tk * value[1] * heads * v
                         + tq * heads * v * out + heads * tq * tk * (k + v))
    assert tuple(info.shape) == (t_q, out)


def test_attention_torch_parameter_count():
    # 4d² + 4d, as torch.nn.MultiheadAttention(d, heads)
    for d, heads in ((768, 12), (64, 4), (10, 5)):
        assert make("attention", heads=heads).infer([(7, d)]).trainable == 4 * d * d + 4 * d


def test_attention_heads_must_divide():
    with pytest.raises(ShapeError, match="divide") as error:
        make("attention", heads=5).infer([(7, 12)])
    assert error.value.field == "heads" and error.value.got == 5
    assert make("attention", heads=5, key_dim=4).infer([(7, 12)]).shape == (7, 12)  # explicit key_dim


def naive_attention(q_in, v_in, k_in, w, bias):
    """Loops over samples, heads and tokens: the textbook formula, one score at a time."""
    n, t_q, _ = q_in.shape
    t_k = k_in.shape[1]
    heads, key_dim = w["query.weight"].shape[1:]
    value_dim, out_dim = w["output.weight"].shape[1:]
    out = np.zeros((n, t_q, out_dim))
    for b in range(n):
        for i in range(t_q):
            total = w["output.bias"].copy() if bias else np.zeros(out_dim)
            for h in range(heads):
                q = q_in[b, i] @ w["query.weight"][:, h, :] + (w["query.bias"][h] if bias else 0)
                scores = []
                for j in range(t_k):
                    kj = k_in[b, j] @ w["key.weight"][:, h, :] + (w["key.bias"][h] if bias else 0)
                    scores.append(sum(q[c] * kj[c] for c in range(key_dim)) / math.sqrt(key_dim))
                top = max(scores)
                e = [math.exp(s - top) for s in scores]
                context = np.zeros(value_dim)
                for j in range(t_k):
                    vj = v_in[b, j] @ w["value.weight"][:, h, :] + (w["value.bias"][h] if bias else 0)
                    context += e[j] / sum(e) * vj
                total += context @ w["output.weight"][h]
            out[b, i] = total
    return out


@pytest.mark.parametrize("n_in, bias", [(1, True), (2, False), (3, True)])
def test_attention_kernel_against_loops(n_in, bias):
    rng = np.random.default_rng(5)
    layer = make("attention", n_in, heads=3, key_dim=4, value_dim=2, output_dim=5, bias=bias)
    q_in = rng.normal(size=(2, 6, 7))
    v_in = rng.normal(size=(2, 4, 3)) if n_in > 1 else q_in
    k_in = rng.normal(size=(2, 4, 8)) if n_in > 2 else v_in
    xs = [q_in, v_in, k_in][:n_in]
    w = {key: rng.normal(size=shape) for key, shape in layer.weight_shapes([x.shape[1:] for x in xs]).items()}
    assert w["query.weight"].shape == (7, 3, 4) and w["output.weight"].shape == (3, 2, 5)
    assert ("output.bias" in w) == bias
    got = forward(layer, *xs, weights=w)
    assert np.allclose(got, naive_attention(q_in, v_in, k_in, w, bias), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- tokens

def test_class_token_position_embedding_embedding():
    x = positional((2, 3, 4))
    token = np.array([9.0, 8.0, 7.0, 6.0])
    layer = make("class_token")
    info = layer.infer([(3, 4)])
    assert (info.shape, info.trainable) == ((4, 4), 4)
    out = forward(layer, x, weights={"weight": token})
    assert np.array_equal(out[:, 0], [token, token]) and np.array_equal(out[:, 1:], x)  # prepended
    table = positional((3, 4)) * 0.5
    layer = make("position_embedding")
    assert layer.infer([(3, 4)]).trainable == 12
    assert np.array_equal(forward(layer, x, weights={"weight": table}), x + table)
    layer = make("embedding", vocab=5, dim=3)
    info = layer.infer([(4,)])
    assert (info.shape, info.trainable) == ((4, 3), 15)
    table = positional((5, 3))
    ids = np.array([[0.0, 4.0, 2.0, 2.0]])
    out = forward(layer, ids, weights={"weight": table})
    assert np.array_equal(out[0], [table[0], table[4], table[2], table[2]])


@pytest.mark.parametrize("ids, got", [([0.0, 5.0], 5), ([1.5, 0.0], 1.5), ([-1.0, 0.0], -1)])
def test_embedding_ids_out_of_range(ids, got):
    with pytest.raises(ExecutionError, match="integers in the vocabulary") as error:
        make("embedding", vocab=5, dim=3).forward([np.array([ids])], {"weight": np.zeros((5, 3))}, (2, 3))
    assert error.value.got == got and "[0, 4]" in error.value.expected


# ---------------------------------------------------------------- axes

@pytest.mark.parametrize("type_name, fields", [
    ("slice", {"axis": 3}), ("slice", {"axis": -4}), ("softmax", {"axis": 3}), ("layernorm", {"axis": [0, 5]}),
    ("concat", {"axis": -4}),
])
def test_axes_checked_against_the_rank(type_name, fields):
    layer = make(type_name, 2 if type_name == "concat" else 1, **fields)
    with pytest.raises(ShapeError, match="axis out of range") as error:
        layer.infer([(2, 3, 4)] * (2 if type_name == "concat" else 1))
    assert error.value.field == "axis" and "-3 to 2" in error.value.expected


def test_softmax_axis_on_tokens():
    x = np.random.default_rng(6).normal(size=(2, 3, 4))
    out = forward(make("softmax", axis=0), x)
    assert np.allclose(out.sum(axis=1), 1.0)
    assert np.allclose(out[:, :, 2], np.exp(x[:, :, 2]) / np.exp(x[:, :, 2]).sum(axis=1, keepdims=True))


# ---------------------------------------------------------------- errors through the CLI

TOKENS = "input: [96]\nlayers:\n  - {type: reshape, name: tokens, shape: [8, 12]}\n"


@pytest.mark.parametrize("body, fragments", [
    ("  - {type: dense, name: d, units: 5}\n  - {type: add, name: s, inputs: [tokens, d]}\n",
     ["layer 3 's'", "field 'inputs'", "broadcasting", "has 5 where input 1 ('tokens') has 12", "got ['8', '5']",
      "each axis equal or 1"]),
    ("  - {type: multiply, name: m, inputs: [tokens, input]}\n", ["layer 2 'm'", "broadcasting", "expected"]),
    ("  - {type: slice, name: sl, axis: 0, start: 8}\n",
     ["layer 2 'sl'", "field 'start'", "out of range", "got 8", "expected an index in [-8, 7]"]),
    ("  - {type: slice, name: sl, axis: 1, start: 4, stop: 2}\n", ["layer 2 'sl'", "field 'stop'", "empty"]),
    ("  - {type: slice, name: sl, axis: 2}\n", ["field 'axis'", "axis out of range", "got 2", "-2 to 1"]),
    ("  - {type: attention, name: att, heads: 5}\n",
     ["layer 2 'att'", "field 'heads'", "divide", "got 5", "expected a divisor of 12"]),
    ("  - {type: permute, name: p, axes: [0, 0]}\n",
     ["layer 2 'p'", "field 'axes'", "not a permutation", "got [0, 0]", "expected a permutation of [0, 1]"]),
    ("  - {type: layernorm, name: ln, axis: [0, 2]}\n", ["layer 2 'ln'", "field 'axis'", "axis out of range"]),
    ("  - {type: softmax, name: sm, axis: -3}\n", ["layer 2 'sm'", "field 'axis'", "axis out of range"]),
    ("  - {type: concat, name: c, axis: 2, inputs: [tokens, tokens]}\n", ["layer 2 'c'", "axis out of range"]),
    ("  - {type: subtract, name: s, inputs: [tokens, tokens, tokens]}\n", ["layer 2 's'", "exactly two"]),
    ("  - {type: attention, name: att, heads: 2, inputs: [tokens, tokens, tokens, tokens]}\n",
     ["layer 2 'att'", "field 'inputs'", "one to three"]),
    ("  - {type: groupnorm, name: g, groups: 5}\n", ["layer 2 'g'", "field 'groups'", "divisor of 12"]),
    ("  - {type: channel_shuffle, name: cs, groups: 5}\n", ["layer 2 'cs'", "field 'groups'", "divisor of 12"]),
    ("  - {type: prelu, name: p, alpha: chanel}\n", ["field 'alpha'", "did you mean 'channel'"]),
    ("  - {type: layernorm, name: ln, epsilon: 0}\n", ["field 'epsilon'", "a positive number"]),
    ("  - {type: class_token, name: ct, inputs: input}\n", ["layer 2 'ct'", "[T, d]"]),
])
def test_v2_errors_exit_2_with_location(cli, tmp_path, body, fragments):
    path = tmp_path / "net.yaml"
    path.write_text(TOKENS + body)
    code, out, err = cli("summary", str(path))
    assert code == 2, out
    assert "net.yaml:4" in err or "net.yaml:5" in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert "Traceback" not in err and "internal error" not in err


def test_embedding_ids_checked_at_run_time(cli, tmp_path):
    spec = tmp_path / "emb.yaml"
    spec.write_text("input: [3]\nlayers:\n  - {type: embedding, name: emb, vocab: 4, dim: 2}\n")
    ids = tmp_path / "ids.yaml"
    ids.write_text("[1, 3, 4]\n")
    code, _out, err = cli("run", str(spec), "--input", str(ids), "--seed", "0")
    assert code == 2 and "layer 1 'emb'" in err and "got 4" in err and "[0, 3]" in err, err
    ids.write_text("[1, 3, 0]\n")
    code, _out, err = cli("run", str(spec), "--input", str(ids), "--seed", "0", "--format", "json")
    assert code == 0, err


def test_trainable_nested_blocks():
    text = """
input: [6]
blocks:
  inner:
    layers: [{type: dense, name: d, units: 3}]
  outer:
    layers:
      - {block: inner, name: a, trainable: false}
      - {block: inner, name: b}
layers:
  - {block: outer, name: o1}
  - {block: outer, name: o2, trainable: false}
"""
    by_name = {r.name: (r.trainable, r.non_trainable) for r in _summary(text).records}
    assert by_name == {"o1.a.d": (0, 21), "o1.b.d": (12, 0), "o2.a.d": (0, 12), "o2.b.d": (0, 12)}


def test_attention_on_several_token_axes_flattens_them():
    # Keras's default attention axes: every axis but the features; [2, 3, d] attends over 6 tokens
    rng = np.random.default_rng(7)
    layer = make("attention", heads=2)
    x = rng.normal(size=(1, 2, 3, 4))
    w = {key: rng.normal(size=shape) for key, shape in layer.weight_shapes([(2, 3, 4)]).items()}
    info = layer.infer([(2, 3, 4)])
    assert info.shape == (2, 3, 4) and info.macs == make("attention", heads=2).infer([(6, 4)]).macs
    flat = forward(make("attention", heads=2), x.reshape(1, 6, 4), weights=w)
    assert np.allclose(forward(layer, x, weights=w).reshape(1, 6, 4), flat, rtol=1e-13, atol=1e-13)


def test_attention_key_and_value_tokens_must_agree():
    with pytest.raises(ShapeError, match="same tokens"):
        make("attention", 3, heads=2).infer([(5, 4), (3, 4), (2, 4)])


@pytest.mark.parametrize("start, step", [(0, 1), (1, 2), (2, 3), (-3, 1)])
def test_slice_receptive_field_matches_an_impulse(start, step):
    # a 3×3 conv after a spatial slice: the calculator's field and start against the executor's response
    spec = loads_spec(f"input: [12, 12, 1]\nlayers:\n  - {{type: slice, name: s, axis: 0, start: {start}, step: {step}}}\n"
                      "  - {type: conv, name: c, filters: 1, kernel: 3, bias: false}\n")
    record = analyse(spec).record("c")
    (size_h, jump_h, centre_h), (size_w, _jump_w, _centre_w) = record.receptive_field
    weights = {"c.weight": np.ones((3, 3, 1, 1))}
    base = np.zeros((12, 12, 1))
    out0 = run(spec, base, weights).output
    rows = []
    for i in range(12):  # which input rows reach output row 0 (impulse responses)
        x = base.copy()
        x[i, 5, 0] = 1.0
        if np.any(run(spec, x, weights).output[0] != out0[0]):
            rows.append(i)
    # the field spans the rows that reach the output, as a 1×1 conv of stride `step` would
    assert size_h == max(rows) - min(rows) + 1 and len(rows) == 3
    assert jump_h == step and centre_h == pytest.approx((min(rows) + max(rows)) / 2)
    assert size_w == 3


def test_explain_lines_worked_numbers(cli, tmp_path):
    path = tmp_path / "block.yaml"
    path.write_text("""input: [1088]
layers:
  - {type: reshape, name: tokens, shape: [17, 64]}
  - {type: layernorm, name: ln}
  - {type: attention, name: attn, heads: 4}
  - {type: add, name: res, inputs: [tokens, attn]}
  - {type: dense, name: mlp, units: 128}
  - {type: slice, name: cls, axis: 0, stop: 1}
  - {type: multiply, name: gate, inputs: [mlp, cls]}
  - {type: layer_scale, name: ls}
  - {type: prelu, name: act, trainable: false}
""")
    code, out, err = cli("summary", str(path), "--explain")
    assert code == 0, err
    for line in [
        "mean and variance over axis 1: 64 values each",
        "params: (1 + 1)·64 (gamma, beta) = 128",
        "params: 64·4·16 + 64·4·16 + 64·4·16 + 4·16·64 + (2·4·16 + 4·16 + 64) = 16,640",  # 4d² + 4d
        "scores and weighted sum 4·17·17·(16 + 16) = 36,992",
        "total 315,520",
        "MACs: 64·128 at each of 17 positions = 139,264",
        "axis 0: [0:1] keeps 1 − 0 = 1",
        "element-wise product of 2 inputs (broadcast: [17, 128] × [1, 128] → [17, 128])",
        "params: one factor per channel = 128",
        "frozen (trainable: false): 128 parameters counted as non-trainable",
    ]:
        assert line in out, line


# ---------------------------------------------------------------- window attention (Swin)

def literal_window_attention(x, weights, heads, window, shift):
    """One output pixel at a time: the tokens of its window of the padded, rolled map, the mask from each
    token's region of the shifted map (torchvision's three bands per axis), scores with the bias table
    looked up by the pair's offset, a softmax, the weighted sum, the output projection."""
    n, height, width, c = x.shape
    hp, wp = -(-height // window) * window, -(-width // window) * window
    shifts = [0 if window >= size else shift for size in (hp, wp)]
    k = c // heads
    out = np.zeros_like(x)

    def source(i, j):  # the pixel of the input at rolled position (i, j); None for padding
        a, b = (i + shifts[0]) % hp, (j + shifts[1]) % wp
        return (a, b) if a < height and b < width else None

    def band(i, size, s):  # torchvision's regions along one axis of the rolled map
        return 0 if i < size - window else 1 if i < size - s else 2

    for sample in range(n):
        for i in range(hp):
            for j in range(wp):
                where = source(i, j)
                if where is None:
                    continue
                r0, c0 = i // window * window, j // window * window
                keys = [(a, b) for a in range(r0, r0 + window) for b in range(c0, c0 + window)]
                tokens = np.array([x[sample][source(a, b)] if source(a, b) else np.zeros(c) for a, b in keys])
                me = x[sample][where]
                qkv_me = me @ weights["qkv.weight"] + weights["qkv.bias"]
                qkv = tokens @ weights["qkv.weight"] + weights["qkv.bias"]
                context = []
                for h in range(heads):
                    q = qkv_me[h * k:(h + 1) * k] * k ** -0.5
                    scores = []
                    for (a, b), row in zip(keys, qkv):
                        offset = (i - a + window - 1) * (2 * window - 1) + (j - b + window - 1)
                        score = q @ row[c + h * k:c + (h + 1) * k] + weights["position_bias"][offset, h]
                        region = (band(i, hp, shifts[0]) if shifts[0] else 0, band(j, wp, shifts[1]) if shifts[1] else 0)
                        other = (band(a, hp, shifts[0]) if shifts[0] else 0, band(b, wp, shifts[1]) if shifts[1] else 0)
                        scores.append(score - (100.0 if region != other else 0.0))
                    p = np.exp(np.array(scores) - max(scores))
                    p /= p.sum()
                    context.append(p @ qkv[:, 2 * c + h * k:2 * c + (h + 1) * k])
                out[sample][where] = np.concatenate(context) @ weights["output.weight"] + weights["output.bias"]
    return out


@pytest.mark.parametrize(("size", "heads", "window", "shift"), [
    ((6, 6, 4), 2, 3, 0), ((6, 6, 4), 2, 3, 1), ((5, 7, 6), 3, 3, 1), ((4, 4, 2), 1, 2, 1), ((3, 5, 2), 2, 4, 2)])
def test_window_attention_kernel_against_a_literal_loop(size, heads, window, shift):
    layer = make("window_attention", heads=heads, window=window, shift=shift)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, *size))
    weights = {key: rng.normal(size=shape) for key, shape in layer.weight_shapes([size]).items()}
    assert np.allclose(forward(layer, x, weights=weights), literal_window_attention(x, weights, heads, window, shift),
                       rtol=0, atol=1e-12)


def test_window_attention_params_and_macs():
    # torchvision's swin_t first block: C 96, 3 heads, window 7 on 56 × 56 (64 windows of 49 tokens)
    info = make("window_attention", heads=3, window=7, shift=3).infer([(56, 56, 96)])
    assert info.trainable == 96 * 288 + 288 + 96 * 96 + 96 + 13 * 13 * 3  # qkv, proj, the bias table
    assert info.macs == 56 * 56 * 96 * 288 + 56 * 56 * 96 * 96 + 64 * 3 * 49 * 49 * 32 * 2
    assert info.shape == (56, 56, 96)
    # a map of 5 × 9 is padded to 8 × 12 for windows of 4: the MACs count the padded tokens
    info = make("window_attention", heads=2, window=4, bias=False).infer([(5, 9, 8)])
    assert (info.trainable, info.macs) == (4 * 8 * 8 + 49 * 2, 96 * 4 * 64 + 6 * 2 * 16 * 16 * 4 * 2)


def test_window_attention_refusals():
    with pytest.raises(ShapeError, match="divide") as error:
        make("window_attention", heads=5, window=2).infer([(4, 4, 12)])
    assert error.value.field == "heads"
    with pytest.raises(ShapeError, match="smaller than the window") as error:
        make("window_attention", heads=1, window=2, shift=2)
    assert error.value.field == "shift"
    with pytest.raises(ShapeError, match=r"\[H, W, C\]"):
        make("window_attention", heads=1, window=2).infer([(4, 4)])


def test_window_attention_grid_partition_params_macs_and_field():
    # maxvit_t's first grid attention: C 64, 2 heads of 32, 7 × 7 tokens spaced 56/7 = 8 apart on 56 × 56
    info = make("window_attention", heads=2, window=7, partition="grid", scale="channels").infer([(56, 56, 64)])
    assert info.trainable == 64 * 192 + 192 + 64 * 64 + 64 + 13 * 13 * 2  # qkv, merge, the bias table
    assert info.macs == 56 * 56 * 64 * 192 + 56 * 56 * 64 * 64 + 64 * 2 * 49 * 49 * 32 * 2  # 64 groups of 49
    assert info.shape == (56, 56, 64)
    spec = "input: [56, 56, 64]\nlayers: [{type: window_attention, heads: 2, window: 7, partition: grid}]\n"
    # each output reads 7 pixels 8 apart along each axis: (7 − 1)·8 + 1 = 49 wide (window: 7)
    record = analyse(loads_spec(spec)).records[-1]
    assert record.receptive_field[0][:2] == (49, 1)
    assert record.explain[-1].startswith("RF: r = r_prev + (window − 1)·(n/window)·j_prev = 1 + (7 − 1)·(56/7)·1 = 49,")


def test_window_attention_grid_is_window_attention_on_the_regrouped_map():
    # grid pixel (i·s + a, j·s + b) is token (i, j) of group (a, b): moving it to (a·w + i, b·w + j) makes the
    # groups windows, whose attention is the grid's moved the same way
    w, s, c = 3, 2, 4
    layer = make("window_attention", heads=2, window=w, partition="grid")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1, w * s, w * s, c))
    weights = {key: rng.normal(size=shape) for key, shape in layer.weight_shapes([x.shape[1:]]).items()}
    to_windows = np.array([(p % s) * w + p // s for p in range(w * s)])  # grid row p → window row
    moved = np.zeros_like(x)
    moved[:, to_windows[:, None], to_windows[None, :]] = x
    windowed = forward(make("window_attention", heads=2, window=w), moved, weights=weights)
    assert np.allclose(forward(layer, x, weights=weights), windowed[:, to_windows[:, None], to_windows[None, :]],
                       rtol=0, atol=1e-12)


def test_window_attention_partition_refusals(cli, tmp_path):
    with pytest.raises(ShapeError, match="multiple of the window") as error:
        make("window_attention", heads=1, window=7, partition="grid").infer([(14, 15, 4)])
    assert error.value.field == "window"
    with pytest.raises(ShapeError, match="not shifted") as error:
        make("window_attention", heads=1, window=7, shift=3, partition="grid")
    assert error.value.field == "shift"
    for fields, words in (('partition: dilated', ["partition", "window", "grid"]),
                          ('partition: grid', ["multiple of the window", "15"]), ('scale: 2', ["scale", "channels"])):
        spec = tmp_path / "bad.yaml"
        spec.write_text(f"input: [14, 15, 4]\nlayers:\n  - {{type: window_attention, heads: 1, window: 7, {fields}}}\n")
        code, _, err = cli("summary", str(spec))
        assert code == 2 and all(word in err for word in words), err
        assert len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- window attention (Swin V2)

def test_window_attention_v2_params_macs_and_shape():
    # torchvision's swin_v2_t first block at 224 × 224: C 96, 3 heads, windows of 8 on 56 × 56 (49 windows of 64
    # tokens); ShiftedWindowAttentionV2's parameters: qkv and proj Linears, logit_scale [3, 1, 1] and
    # cpb_mlp = Linear(2, 512) (weight and bias), Linear(512, 3, bias=False)
    info = make("window_attention_v2", heads=3, window=8, shift=4).infer([(56, 56, 96)])
    assert info.trainable == (96 * 288 + 288) + (96 * 96 + 96) + 3 + (2 * 512 + 512) + 512 * 3 == 40_323
    tokens = 56 * 56
    # the projections (3C + C outputs a token), Q·Kᵀ and the weighted sum of V (each token with its window's
    # 64 tokens, over the C channels), the MLP once over the 15 × 15 offsets (2 → 512 → 3)
    assert info.macs == tokens * 96 * 384 + 2 * tokens * 64 * 96 + 15 * 15 * (2 * 512 + 512 * 3)
    assert info.shape == (56, 56, 96) and info.non_trainable == 0
    # 57 × 57 is padded to 64 × 64: the MACs count the padded map's tokens
    assert make("window_attention_v2", heads=3, window=8).infer([(57, 57, 96)]).macs == \
        64 * 64 * 96 * 384 + 2 * 64 * 64 * 64 * 96 + 15 * 15 * (2 * 512 + 512 * 3)
    # no biases and a narrower MLP: only the four C² projections, the scale and the MLP's 2·h + h + h·heads
    info = make("window_attention_v2", heads=2, window=3, bias=False, hidden=16).infer([(5, 7, 4)])
    assert (info.trainable, info.macs) == (4 * 16 + 2 + 2 * 16 + 16 + 16 * 2,
                                           6 * 9 * 4 * 16 + 2 * 6 * 9 * 9 * 4 + 5 * 5 * (2 * 16 + 16 * 2))
    shapes = make("window_attention_v2", heads=2, window=3, hidden=16).weight_shapes([(5, 7, 4)])
    assert shapes == {"qkv.weight": (4, 12), "qkv.bias": (12,), "output.weight": (4, 4), "output.bias": (4,),
                      "logit_scale": (2,), "cpb_mlp.0.weight": (2, 16), "cpb_mlp.0.bias": (16,),
                      "cpb_mlp.2.weight": (16, 2)}


def test_window_attention_v2_offsets_table_by_hand():
    from cnncalc.layers.attention import coords_table

    # windows of 2: offsets −1, 0, 1 → ±8 → sign·log2(1 + 8)/3; rows (dh, dw) as the index numbers them
    v = math.log2(9) / 3
    assert np.allclose(coords_table(2), [[-v, -v], [-v, 0], [-v, v], [0, -v], [0, 0], [0, v], [v, -v], [v, 0], [v, v]],
                       rtol=0, atol=1e-15)


@pytest.mark.parametrize(("fields", "words"), [
    ("heads: 2, window: 4, shift: 4", ["shift", "smaller than the window"]),
    ("heads: 5, window: 4", ["heads", "divide the 12 channels"]),
    ("heads: 2, window: 4, hidden: 0", ["hidden", "bad value"]),
    ("heads: 2, window: 4, hidden: wide", ["hidden", "bad value"]),
    ("heads: 2, window: 1", ["window", "at least 2"]),
    ("heads: 2, window: 4, scale: 3", ["scale", "unknown field"]),
])
def test_window_attention_v2_hostile_fields_exit_2(cli, tmp_path, fields, words):
    spec = tmp_path / "v2.yaml"
    spec.write_text(f"input: [8, 8, 12]\nlayers: [{{type: window_attention_v2, {fields}}}]\n")
    code, _, err = cli("summary", str(spec))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert all(word in err for word in words), err
