"""The executor on the course's worked numbers; then against naive loops and scipy on random cases."""

from __future__ import annotations

import numpy as np
import pytest

from cnncalc import CnnCalcError, loads_spec
from cnncalc.run.executor import run


def net(text: str):
    return loads_spec(text)


def single(x, layer: str, **weights):
    x = np.asarray(x, dtype=float)
    spec = net(f"input: {list(x.shape)}\nlayers: [{layer}]")
    return run(spec, x, {f"{spec.layers[0].name}.{k}": np.asarray(v, dtype=float) for k, v in weights.items()}).output


# ------------------------------------------------------------------ the course's numbers

CS231N_X = np.stack([
    [[2, 1, 1, 1, 0], [2, 1, 1, 2, 2], [2, 1, 1, 0, 0], [1, 2, 0, 2, 2], [0, 2, 0, 1, 0]],
    [[0, 0, 1, 1, 2], [1, 2, 1, 1, 0], [0, 0, 2, 0, 2], [2, 0, 0, 0, 2], [0, 2, 2, 1, 1]],
    [[0, 2, 0, 2, 1], [0, 0, 2, 1, 2], [0, 0, 1, 0, 2], [1, 2, 2, 0, 2], [2, 0, 1, 1, 1]]], axis=-1)
CS231N_W0 = np.stack([[[1, -1, -1], [-1, -1, -1], [1, -1, 1]], [[-1, 1, -1], [0, 1, 1], [1, -1, 1]],
                      [[1, 0, 0], [-1, 1, 0], [-1, 0, 0]]], axis=-1)
CS231N_W1 = np.stack([[[1, 0, -1], [1, 1, 0], [-1, 0, 1]], [[1, -1, 1], [-1, 0, 1], [0, -1, 0]],
                      [[0, 0, 0], [-1, 1, -1], [-1, 0, 1]]], axis=-1)


def test_cs231n_volume_example():
    out = single(CS231N_X, "{type: conv, filters: 2, kernel: 3, padding: 1, stride: 2}",
                 weight=np.stack([CS231N_W0, CS231N_W1], axis=-1), bias=[1, 0])
    np.testing.assert_array_equal(out[:, :, 0], [[-2, 2, 1], [-7, 0, 3], [2, 4, 3]])
    np.testing.assert_array_equal(out[:, :, 1], [[0, 0, -4], [4, 2, 1], [0, 1, 0]])


SHARPEN_IMAGE = [[105, 102, 100, 97, 96], [103, 99, 103, 101, 102], [101, 98, 104, 102, 100],
                 [99, 101, 106, 104, 99], [104, 104, 104, 100, 98]]
SHARPEN = [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]


def test_sharpen_kernel_numbers():
    x = np.asarray(SHARPEN_IMAGE)[:, :, None]
    valid = single(x, "{type: conv, filters: 1, kernel: 3, bias: false}", weight=np.asarray(SHARPEN)[:, :, None, None])
    # 99·5 − 102 − 103 − 103 − 98 = 89;  103·5 − 100 − 99 − 101 − 104 = 111
    assert valid[0, 0, 0] == 89 and valid[0, 1, 0] == 111
    padded = single(x, "{type: conv, filters: 1, kernel: 3, padding: 1, bias: false}",
                    weight=np.asarray(SHARPEN)[:, :, None, None])
    # with one pixel of zero padding: 103·5 − 105 − 99 − 101 = 210 (row 1, col 0); 105·5 − 102 − 103 = 320
    assert padded[1, 0, 0] == 210 and padded[0, 0, 0] == 320
    assert padded[1, 1, 0] == 89 and padded[1, 2, 0] == 111


def test_vertical_and_horizontal_edges_270():
    image = np.tile([10] * 4 + [100] * 4, (8, 1))[:, :, None]
    vertical = single(image, "{type: conv, filters: 1, kernel: 3, bias: false}",
                      weight=np.asarray([[-1, 0, 1]] * 3)[:, :, None, None])
    np.testing.assert_array_equal(vertical[:, :, 0], np.tile([0, 0, 270, 270, 0, 0], (6, 1)))
    horizontal = single(image.transpose(1, 0, 2), "{type: conv, filters: 1, kernel: 3, bias: false}",
                        weight=np.asarray([[-1, -1, -1], [0, 0, 0], [1, 1, 1]])[:, :, None, None])
    np.testing.assert_array_equal(horizontal[:, :, 0], np.tile([[0], [0], [270], [270], [0], [0]], (1, 6)))


def test_convolution_versus_cross_correlation():
    f = np.asarray([[1, 0, 0], [0, 2, 0], [1, 2, 0]])[:, :, None]
    g = np.arange(1, 10).reshape(3, 3)[:, :, None, None]
    # cross-correlation: 1·1 + 5·2 + 7·1 + 8·2 = 34; convolution flips g: 9·1 + 5·2 + 3·1 + 2·2 = 26
    assert single(f, "{type: conv, filters: 1, kernel: 3, bias: false}", weight=g)[0, 0, 0] == 34
    assert single(f, "{type: conv, filters: 1, kernel: 3, bias: false, flip: true}", weight=g)[0, 0, 0] == 26


def test_pooling_examples():
    rectified = np.asarray([[0, 0, 14, 82], [149, 32, 0, 0], [28, 53, 64, 44], [39, 120, 133, 99]])[:, :, None]
    np.testing.assert_array_equal(single(rectified, "{type: maxpool, kernel: 2}")[:, :, 0], [[149, 82], [120, 133]])
    five = np.asarray([[0, 0, 25, 14, 82], [149, 32, 31, 0, 0], [111, 200, 20, 135, 10],
                       [28, 53, 20, 64, 44], [39, 120, 210, 13, 99]])[:, :, None]
    np.testing.assert_array_equal(single(five, "{type: maxpool, kernel: 3, stride: 1}")[:, :, 0],
                                  [[200, 200, 135], [200, 200, 135], [210, 210, 210]])
    # average of the first 2×2 window: (0 + 0 + 149 + 32)/4 = 45.25
    assert single(rectified, "{type: avgpool, kernel: 2}")[0, 0, 0] == 45.25


def test_softmax_of_the_lecture():
    out = single([5.0, 6.0, 1.0, 2.0], "{type: softmax}")
    np.testing.assert_array_equal(np.round(out, 4), [0.2641, 0.7179, 0.0048, 0.0131])
    assert abs(out.sum() - 1) < 1e-12
    # numerically stable: huge logits do not overflow
    assert np.all(np.isfinite(single([1000.0, 1001.0], "{type: softmax}")))


def test_flatten_order_of_the_lecture():
    x = np.asarray([[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]])
    np.testing.assert_array_equal(single(x, "{type: flatten}"), np.arange(1, 13))


WORKSHEET_CHANNELS = [
    [[1, 2, 0, 2, 1, 2], [3, 2, 6, 0, 3, 0], [0, 0, 0, 1, 0, 1], [1, 3, 4, 2, 2, 0], [0, 2, 2, 0, 3, 1],
     [5, 3, 6, 1, 2, 0]],
    [[1, 2, 4, 3, 0, 1], [0, 4, 3, 2, 1, 5], [2, 0, 5, 2, 0, 2], [7, 2, 0, 1, 3, 3], [2, 0, 4, 0, 2, 0],
     [1, 6, 3, 0, 5, 3]],
    [[1, 0, 2, 3, 0, 1], [0, 4, 5, 2, 3, 2], [2, 0, 6, 0, 0, 2], [0, 2, 4, 1, 2, 4], [2, 6, 2, 0, 2, 3],
     [2, 0, 3, 0, 0, 0]],
]
WORKSHEET_FILTERS = [[[0, 0, 1], [3, 4, 0], [0, 0, -1]], [[-1, -2, 0], [0, 2, 0], [2, -1, 0]],
                     [[0, -2, 0], [-1, 1, 0], [0, -1, 0]]]


def test_worksheet_part_a_feature_map():
    x = np.stack(WORKSHEET_CHANNELS, axis=-1)
    w = np.stack(WORKSHEET_FILTERS, axis=-1)[:, :, :, None]
    out = single(x, "{type: conv, filters: 1, kernel: 3}", weight=w, bias=[7])[:, :, 0]
    assert out.shape == (4, 4)
    # 4th column, 4th row (window rows 4–6, cols 4–6):
    #   channel 1: [2 2 0; 0 3 1; 1 2 0]·f1 = 3·0 + 4·3 + ... = 12; channel 2: [1 3 3; 0 2 0; 0 5 3]·f2 = −1 −6 +4 −5 = −8;
    #   channel 3: [1 2 4; 0 2 3; 0 0 0]·f3 = −4 + 2 = −2; total 12 − 8 − 2 + 7 = 9
    assert out[3, 3] == 9
    # 3rd column, 2nd row: 5 − 4 − 11 + 7 = −3;  2nd column, 4th row: 15 + 15 − 15 + 7 = 22
    assert out[1, 2] == -3
    assert out[3, 1] == 22
    np.testing.assert_array_equal(out, [[35, 20, 19, 24], [1, 1, -3, -3], [22, 7, 22, 22], [-2, 22, 13, 9]])


def test_relu_and_pool_of_worksheet_part_b():
    given = np.asarray([[35, 20, 20, 3], [1, -1, 21, -3], [21, 7, 15, 22], [-2, 22, 22, 29]])[:, :, None]
    spec = net("input: [4, 4, 1]\nlayers:\n  - {type: relu, name: relu}\n  - {type: maxpool, name: pool, kernel: 2, stride: 1}\n")
    result = run(spec, given)
    np.testing.assert_array_equal(result.layer_output("relu")[:, :, 0],
                                  [[35, 20, 20, 3], [1, 0, 21, 0], [21, 7, 15, 22], [0, 22, 22, 29]])
    np.testing.assert_array_equal(result.output[:, :, 0], [[35, 21, 21], [21, 21, 22], [22, 22, 29]])


def test_activations_and_batchnorm():
    x = np.asarray([-2.0, -0.5, 0.0, 0.5, 7.0])
    np.testing.assert_allclose(single(x, "{type: relu6}"), [0, 0, 0, 0.5, 6])
    np.testing.assert_allclose(single(x, "{type: leaky_relu, alpha: 0.1}"), [-0.2, -0.05, 0, 0.5, 7])
    np.testing.assert_allclose(single(x, "{type: sigmoid}"), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(single(x, "{type: tanh}"), np.tanh(x))
    np.testing.assert_allclose(single(x, "{type: elu}"), np.where(x > 0, x, np.exp(x) - 1))
    np.testing.assert_allclose(single(x, "{type: silu}"), x / (1 + np.exp(-x)))
    from math import erf, sqrt
    np.testing.assert_allclose(single(x, "{type: gelu}"), [v * 0.5 * (1 + erf(v / sqrt(2))) for v in x])
    row = x[None, :, None]  # a 1×5 map with one channel
    out = single(row, "{type: batchnorm, epsilon: 0.0}", gamma=[2.0], beta=[1.0], mean=[0.5], var=[4.0])
    np.testing.assert_allclose(out[0, :, 0], 2 * (x - 0.5) / 2 + 1)
    np.testing.assert_array_equal(single(x, "{type: dropout, rate: 0.5}"), x)


def test_normalize_min_max_per_channel():
    x = np.stack([np.arange(9.0).reshape(3, 3), np.full((3, 3), 4.0)], axis=-1)
    out = single(x, "{type: normalize}")
    np.testing.assert_allclose(out[:, :, 0], np.arange(9.0).reshape(3, 3) / 8)
    np.testing.assert_array_equal(out[:, :, 1], np.zeros((3, 3)))  # a flat channel becomes 0, not NaN


def test_dense_global_pools_merges_reshape():
    x = np.arange(12.0).reshape(2, 2, 3)
    w = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(single(x, "{type: dense, units: 2}", weight=w, bias=[1, -1]), x @ w + [1, -1])
    np.testing.assert_allclose(single(x, "{type: global_avgpool}"), x.mean(axis=(0, 1)))
    np.testing.assert_allclose(single(x, "{type: global_maxpool, keepdims: true}"), x.max(axis=(0, 1), keepdims=True))
    np.testing.assert_allclose(single(x, "{type: reshape, shape: [-1, 4]}"), x.reshape(3, 4))
    np.testing.assert_allclose(single(x, "{type: zero_pad, padding: [[1, 0], [0, 2]]}")[:, :, 0],
                               np.pad(x[:, :, 0], ((1, 0), (0, 2))))
    spec = net("""
input: [2, 2, 3]
layers:
  - {type: relu, name: r}
  - {type: add, name: s, inputs: [r, input]}
  - {type: concat, name: c, inputs: [s, input]}
  - {type: concat, name: h, inputs: [c, c], axis: 0}
""")
    result = run(spec, -x)
    np.testing.assert_allclose(result.layer_output("s"), -x)
    assert result.layer_output("c").shape == (2, 2, 6) and result.output.shape == (4, 2, 6)


def test_batch_input_and_symbolic_spec():
    spec = net("input: [n, n, 1]\nlayers: [{type: maxpool, kernel: 2}]")
    x = np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4, 1)
    result = run(spec, x)
    assert result.output.shape == (2, 2, 2, 1)
    np.testing.assert_array_equal(result.output[1, :, :, 0], [[21, 23], [29, 31]])


def test_seeded_weights_are_reproducible_and_per_layer():
    text = "input: [8, 8, 3]\nlayers:\n  - {type: conv, name: a, filters: 4, kernel: 3}\n  - {type: flatten}\n  - {type: dense, name: d, units: 5}\n"
    x = np.ones((8, 8, 3))
    one = run(net(text), x, seed=3).output
    np.testing.assert_array_equal(one, run(net(text), x, seed=3).output)
    assert not np.allclose(one, run(net(text), x, seed=4).output)
    renamed = text.replace("name: d,", "name: e,")
    np.testing.assert_array_equal(run(net(text), x, seed=3).layer_output("a"),
                                  run(net(renamed), x, seed=3).layer_output("a"))


def test_inline_weights_in_the_spec():
    spec = net("input: [2, 2, 1]\nlayers:\n  - {type: conv, filters: 1, kernel: 1, weight: [[[[2]]]], bias: [1]}\n")
    np.testing.assert_array_equal(run(spec, np.ones((2, 2, 1))).output[:, :, 0], [[3, 3], [3, 3]])


@pytest.mark.parametrize("case, message", [
    ("missing", "no value for 'c.weight'"),
    ("wrong-shape", "has the wrong shape"),
    ("unused", "no layer uses: 'c.wieght'"),
    ("bad-input", "the input shape does not match"),
    ("nan", "NaN"),
    ("memory", "would allocate about"),
])
def test_run_errors(case, message):
    spec = net("input: [4, 4, 1]\nlayers: [{type: conv, name: c, filters: 2, kernel: 3}]")
    x = np.ones((4, 4, 1))
    good = {"c.weight": np.ones((3, 3, 1, 2)), "c.bias": np.zeros(2)}
    kwargs = {
        "missing": {"weights": {}},
        "wrong-shape": {"weights": {**good, "c.weight": np.ones((3, 3, 2, 1))}},
        "unused": {"weights": {**good, "c.wieght": np.ones(1)}},
        "bad-input": {"x": np.ones((5, 4, 1)), "weights": good},
        "nan": {"x": np.full((4, 4, 1), np.nan), "weights": good},
        "memory": {"weights": good, "max_memory": 100},
    }[case]
    with pytest.raises(CnnCalcError, match=message) as info:
        run(spec, kwargs.pop("x", x), kwargs.pop("weights"), **kwargs)
    if case == "missing":
        assert "expected an array of shape [3, 3, 1, 2]" in str(info.value) and "layer 1 'c'" in str(info.value)


# ------------------------------------------------------------------ CLI


def test_run_cli(tmp_path, cli):
    x = tmp_path / "x.yaml"
    x.write_text("input: " + str(np.stack(WORKSHEET_CHANNELS, axis=-1).tolist()) + "\n")
    spec = tmp_path / "ws.yaml"
    w = np.stack(WORKSHEET_FILTERS, axis=-1)[:, :, :, None].tolist()
    spec.write_text(f"input: [6, 6, 3]\nlayers:\n  - {{type: conv, name: conv, filters: 1, kernel: 3, weight: {w}, bias: [7]}}\n"
                    "  - {type: relu}\n  - {type: maxpool, kernel: 2, stride: 1}\n")
    code, out, err = cli("run", str(spec), "--input", str(x), "--trace")
    assert code == 0, err
    assert "conv (conv) → [4, 4, 1]" in out and "[35. 20. 19. 24.]" in out
    out_path = tmp_path / "o.npy"
    code, out, err = cli("run", str(spec), "--input", str(x), "--format", "json", "--output", str(out_path))
    import json
    data = json.loads(out)
    assert data["output_shape"] == [3, 3, 1]
    np.testing.assert_array_equal(np.load(out_path), np.asarray(data["output"]))
    code, _, err = cli("run", "lenet5", "--input", str(x))
    assert code == 2 and "does not match" in err
    np.save(tmp_path / "img.npy", np.ones((32, 32, 3)))
    code, _, err = cli("run", "lenet5", "--input", str(tmp_path / "img.npy"))
    assert code == 2 and "no value for 'CONV1.weight'" in err and "--seed" in err
    code, out, err = cli("run", "lenet5", "--input", str(tmp_path / "img.npy"), "--seed", "1")
    assert code == 0 and out.startswith("output [10]")
    code, _, err = cli("run", "lenet5", "--input", str(tmp_path / "img.npy"), "--seed", "1", "--max-memory", "30KB")
    assert code == 2 and "would allocate" in err


def test_run_cli_refuses_pickles(tmp_path, cli):
    path = tmp_path / "evil.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, _, err = cli("run", "lenet5", "--input", str(path), "--seed", "1")
    assert code == 2 and "must hold numbers" in err and "object" in err


def test_examples_folder_reproduces_worksheet(cli):
    from pathlib import Path

    root = Path(__file__).parent.parent / "examples"
    code, out, err = cli("run", str(root / "worksheet-conv.yaml"), "--input", str(root / "worksheet-input.yaml"),
                         "--format", "json", "--trace")
    assert code == 0, err
    import json
    trace = {layer["name"]: np.asarray(layer["output"]) for layer in json.loads(out)["trace"]}
    x = np.stack(WORKSHEET_CHANNELS, axis=-1)
    w = np.stack(WORKSHEET_FILTERS, axis=-1)[:, :, :, None]
    np.testing.assert_array_equal(trace["conv"], single(x, "{type: conv, filters: 1, kernel: 3}", weight=w, bias=[7]))
    np.testing.assert_array_equal(trace["pool"][:, :, 0], [[35, 20, 24], [22, 22, 22], [22, 22, 22]])


# ------------------------------------------------------------------ seeded weights, dtype, progress


def test_seeded_weights_stream_is_pinned():
    """The documented rule: stream [seed, crc32(layer), crc32(array), chunk], He-normal weights."""
    import zlib

    from cnncalc.run.executor import SEED_CHUNK, seeded_array

    def stream(layer, key, chunk=0):
        return np.random.default_rng([0, zlib.crc32(layer.encode()), zlib.crc32(key.encode()), chunk])

    weight = seeded_array(0, "a", "weight", (2, 3))
    np.testing.assert_array_equal(weight, stream("a", "weight").standard_normal(6).reshape(2, 3) * np.sqrt(2 / 2))
    assert weight[0, 0] == 1.039894249187694  # a change of stream must be deliberate (and documented)
    np.testing.assert_array_equal(seeded_array(0, "a", "bias", (3,)), 0.1 * stream("a", "bias").standard_normal(3))
    np.testing.assert_array_equal(seeded_array(0, "a", "var", (2,)), stream("a", "var").random(2) + 0.5)
    np.testing.assert_array_equal(seeded_array(0, "a", "gamma", (2,)),
                                  1.0 + 0.1 * stream("a", "gamma").standard_normal(2))
    # a large array: one stream per chunk of SEED_CHUNK values, whatever the thread count
    big = seeded_array(0, "b", "weight", (SEED_CHUNK + 5, 1))
    np.testing.assert_array_equal(big[SEED_CHUNK:, 0], stream("b", "weight", 1).standard_normal(5) * np.sqrt(2 / (SEED_CHUNK + 5)))


def test_seeded_weights_do_not_depend_on_threads_and_float32_rounds_float64():
    from cnncalc.run.executor import SEED_CHUNK, seeded_weights

    wanted = [("c", "weight", (3, 3, 64, 2 * SEED_CHUNK // 576 + 1)), ("c", "bias", (7,)), ("d", "var", (5,))]
    one = seeded_weights(5, wanted, threads=1)
    two = seeded_weights(5, wanted, threads=3)
    low = seeded_weights(5, wanted, np.float32, threads=2)
    for key in one:
        np.testing.assert_array_equal(one[key], two[key])
        assert low[key].dtype == np.float32
        np.testing.assert_array_equal(low[key], one[key].astype(np.float32))


def test_seeded_weights_statistics_he_normal_and_independent_arrays():
    from cnncalc.run.executor import seeded_array

    weight = seeded_array(1, "c", "weight", (3, 3, 32, 256))
    assert abs(weight.std() - np.sqrt(2 / (3 * 3 * 32))) < 0.01 * np.sqrt(2 / (3 * 3 * 32))
    assert abs(weight.mean()) < 0.005
    bias = seeded_array(1, "c", "bias", (256,))
    # each array has its own stream: the bias is not a rescaled copy of the first weights
    assert abs(np.corrcoef(bias, weight.reshape(-1)[:256])[0, 1]) < 0.3
    var = seeded_array(1, "bn", "var", (10000,))
    assert var.min() >= 0.5 and var.max() < 1.5


def test_float32_run_matches_float64_closely(tmp_path, cli):
    spec = net("input: [8, 8, 3]\nlayers:\n  - {type: conv, name: a, filters: 4, kernel: 3}\n  - {type: batchnorm, name: b}\n"
               "  - {type: relu}\n  - {type: flatten}\n  - {type: dense, name: d, units: 5}\n  - {type: softmax}\n")
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3))
    high = run(spec, x, seed=3)
    low = run(spec, x, seed=3, dtype=np.float32)
    assert low.output.dtype == np.float32 and high.output.dtype == np.float64
    assert all(value.dtype == np.float32 for value in low.outputs.values())
    np.testing.assert_allclose(low.output, high.output, rtol=1e-4, atol=1e-6)
    assert not np.array_equal(low.output, high.output)
    path = tmp_path / "x.npy"
    np.save(path, x)
    out = tmp_path / "o.npy"
    code, _, err = cli("run", str(_write(tmp_path / "s.yaml", "input: [8, 8, 3]\nlayers: [{type: conv, name: a, filters: 4, kernel: 3}]\n")),
                       "--input", str(path), "--seed", "3", "--dtype", "float32", "--output", str(out))
    assert code == 0, err
    assert np.load(out).dtype == np.float32
    code, _, err = cli("run", str(tmp_path / "s.yaml"), "--input", str(path), "--seed", "3", "--dtype", "float16")
    assert code == 2


def _write(path, text):
    path.write_text(text)
    return path


def test_progress_line_only_after_a_second():
    from cnncalc.cli import RunProgress

    now = [0.0]
    shown: list[str] = []

    class Clock:
        def __call__(self):
            return now[0]

    import typer

    original = typer.echo
    try:
        typer.echo = lambda text, err=False, nl=True: shown.append(text + ("\n" if nl else ""))
        plain = RunProgress(clock=Clock(), tty=False)
        for step, at in enumerate([0.2, 0.9, 1.1, 1.5, 2.2, 2.3], 1):
            now[0] = at
            plain(step, 6, f"layer{step}")
        plain.finish()
        assert shown == ["run: layer 3/6 'layer3' (1 s)\n", "run: layer 5/6 'layer5' (2 s)\n"]
        shown.clear()
        now[0] = 0.0
        terminal = RunProgress(clock=Clock(), tty=True)
        for step, at in enumerate([0.5, 1.2, 1.3], 1):
            now[0] = at
            terminal(step, 3, "c\nforged")
        terminal.finish()
        assert shown == ["\rrun: layer 2/3 'c?forged' (1 s)\x1b[K", "\rrun: layer 3/3 'c?forged' (1 s)\x1b[K", "\r\x1b[K"]
        shown.clear()
        quick = RunProgress(clock=Clock(), tty=True)
        quick(1, 1, "a")
        quick.finish()
        assert shown == []
    finally:
        typer.echo = original


def test_short_runs_print_nothing_on_stderr(tmp_path, cli):
    x = tmp_path / "x.npy"
    np.save(x, np.ones((32, 32, 3)))
    code, out, err = cli("run", "lenet5", "--input", str(x), "--seed", "0")
    assert code == 0 and out.startswith("output [10]") and err == ""
