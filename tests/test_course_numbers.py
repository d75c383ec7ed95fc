"""Every shape and parameter count the course material works out, through the API and the CLI."""

from __future__ import annotations

import pytest

from cnncalc import analyse, load_spec, loads_spec


def summarise(text: str):
    return analyse(loads_spec(text))


# The LeNet-style table of the lecture, row by row: (name, activation shape, activation size, params).
LECTURE_TABLE = [
    ("CONV1", [28, 28, 8], 6272, 608),      # 5·5·3·8 + 8
    ("POOL1", [14, 14, 8], 1568, 0),
    ("CONV2", [10, 10, 16], 1600, 3216),    # 5·5·8·16 + 16
    ("POOL2", [5, 5, 16], 400, 0),
    ("flatten1", [400], 400, 0),
    ("FC3", [120], 120, 48120),             # 120·400 + 120
    ("FC4", [84], 84, 10164),               # 84·120 + 84
    ("FC5", [10], 10, 850),                 # 10·84 + 10
]


def test_lecture_table_row_by_row_api():
    summary = analyse(load_spec("lenet5"))
    assert summary.input_size == 3072  # (32, 32, 3) → 3,072
    got = [(r.name, list(r.output_shape), r.size, r.params) for r in summary.records]
    assert got == LECTURE_TABLE
    assert summary.params == 62958


def test_lecture_table_row_by_row_cli(cli_json):
    data = cli_json("summary", "lenet5")
    got = [(layer["name"], layer["output_shape"], layer["size"], layer["params"]) for layer in data["layers"]]
    assert got == LECTURE_TABLE
    assert data["totals"] == {**data["totals"], "params": 62958, "trainable_params": 62958,
                              "non_trainable_params": 0, "macs": 849320}
    first = data["layers"][0]
    # the contract example of DESIGN.md, key for key
    assert first == {"index": 1, "name": "CONV1", "type": "conv", "inputs": ["input"],
                     "output_shape": [28, 28, 8], "size": 6272, "params": 608, "trainable_params": 608,
                     "non_trainable_params": 0, "macs": 470400,
                     "receptive_field": {"size": [5, 5], "jump": [1, 1], "start": [2.0, 2.0]}}


def test_conv_layer_448_parameters():
    # f = 3, n_c[l-1] = 3, n_c[l] = 16: 3·3·3·16 + 16 = 448, whatever the input size
    for size in (8, 64, 512):
        s = summarise(f"input: [{size}, {size}, 3]\nlayers: [{{type: conv, filters: 16, kernel: 3}}]")
        assert s.params == 448


def test_5x5_filter_on_28x28_shares_26_parameters():
    s = summarise("input: [28, 28, 1]\nlayers: [{type: conv, filters: 1, kernel: 5}]")
    record = s.records[0]
    assert record.output_shape == (24, 24, 1)
    assert record.params == 26  # 25 weights + 1 bias
    # The slide's "conventional" count gives every one of the 24·24 outputs its own 25 weights and bias:
    # 14,400 + 576 = 14,976.
    assert record.size * record.params == 14976


def test_fc_instead_of_conv1_comparison():
    s = summarise("input: [3072]\nlayers: [{type: dense, units: 6272}]")
    # 3,072 inputs to 6,272 units: 3,072·6,272 + 6,272 = 19,273,856.
    assert s.params == 3072 * 6272 + 6272 == 19_273_856
    # The slide prints "6,272 × 3,272 + 6,272 = 20,528,256 ≈ 20.5 M": its 3,272 is a typo for the 3,072
    # inputs it names just above (32×32×3). Its arithmetic is right for the typo, and the exact figure is
    # 19.3 M; either way 608 ≪ it, which is the slide's point.
    assert 6272 * 3272 + 6272 == 20_528_256
    conv = summarise("input: [32, 32, 3]\nlayers: [{type: conv, filters: 8, kernel: 5}]")
    assert conv.params == 608 and conv.records[0].size == 6272


def test_dense_on_a_512x512x3_image():
    s = summarise("input: [512, 512, 3]\nlayers: [{type: flatten}, {type: dense, units: 1000}]")
    assert s.records[0].size == 786432
    assert s.params == 786_432_000 + 1_000


def test_three_conv_chain_64():
    s = analyse(load_spec("conv-chain64"))
    assert [list(r.output_shape) for r in s.records] == [[62, 62, 8], [29, 29, 16], [12, 12, 32]]


def test_fashion_mnist_keras_summary():
    s = analyse(load_spec("fashion-mnist"))
    # Keras model.summary(): (26,26,64) 640, (13,13,64), (11,11,64) 36,928, (5,5,64), 1600, 32,020, 210
    assert [list(r.output_shape) for r in s.records] == [
        [26, 26, 64], [13, 13, 64], [11, 11, 64], [5, 5, 64], [1600], [20], [10]]
    assert [r.params for r in s.records] == [640, 0, 36928, 0, 0, 32020, 210]
    assert s.params == 69798


def test_worksheet_shapes_and_counts():
    # part a: 6×6×3 input, one 3×3×3 filter, p = 0, s = 1 → 4×4; part b: 2×2 max pool, stride 1 → 3×3;
    # part c: FC with 32 neurons on the flattened 3·3 = 9 values.
    s = summarise("""
input: [6, 6, 3]
layers:
  - {type: conv, name: conv, filters: 1, kernel: 3, padding: 0, stride: 1}
  - {type: relu}
  - {type: maxpool, name: pool, kernel: 2, stride: 1}
  - {type: flatten}
  - {type: dense, name: fc, units: 32}
""")
    assert list(s.record("conv").output_shape) == [4, 4, 1]
    assert list(s.record("pool").output_shape) == [3, 3, 1]
    assert [s.record(n).params for n in ("conv", "pool", "fc")] == [28, 0, 320]  # 3·3·3·1+1; 9·32+32
    assert s.params == 348
    # part d: 256×256×3, 7×7 filters, s = 1, 8 filters, 'same' → p = (7−1)/2 = 3, 7·7·3·8 + 8 = 1,184
    d = summarise("input: [256, 256, 3]\nlayers: [{type: conv, filters: 8, kernel: 7, padding: same}]")
    assert list(d.records[0].output_shape) == [256, 256, 8]
    assert d.params == 1184
    assert "pads (top, bottom) = (3, 3)" in " ".join(d.records[0].explain)


def test_cs231n_volume_example_shape():
    # n = 5, f = 3, p = 1, s = 2: ⌊(5 + 2·1 − 3)/2 + 1⌋ = 3, two filters → 3×3×2
    s = summarise("input: [5, 5, 3]\nlayers: [{type: conv, filters: 2, kernel: 3, padding: 1, stride: 2}]")
    assert list(s.records[0].output_shape) == [3, 3, 2]
    assert s.records[0].explain[0] == "H: ⌊(5 + 2·1 − 3)/2⌋ + 1 = 3"


def test_stride_example_5_3_2():
    # the slide's stride example: n = 5, f = 3, p = 0, s = 2 → (2; 2)
    s = summarise("input: [5, 5, 1]\nlayers: [{type: conv, filters: 1, kernel: 3, stride: 2}]")
    assert list(s.records[0].output_shape) == [2, 2, 1]


@pytest.mark.parametrize("n, expected", [(8, 6), (128, 126), (256, 254)])
def test_edge_detection_sizes(n, expected):
    # n − f + 1 for the 3×3 edge kernels on 8×8, 128×128 and 256×256 images
    s = summarise(f"input: [{n}, {n}, 1]\nlayers: [{{type: conv, filters: 1, kernel: 3}}]")
    assert list(s.records[0].output_shape) == [expected, expected, 1]


def test_pooling_examples():
    # 4×4 map, 2×2 max pool stride 2 → 2×2 (4 to 1); 5×5 map, 3×3 stride 1 → 3×3
    s = summarise("input: [4, 4, 1]\nlayers: [{type: maxpool, kernel: 2}]")
    assert list(s.records[0].output_shape) == [2, 2, 1]
    s = summarise("input: [5, 5, 1]\nlayers: [{type: maxpool, kernel: 3, stride: 1}]")
    assert list(s.records[0].output_shape) == [3, 3, 1]


def test_explain_contract_strings(cli):
    code, out, _ = cli("summary", "lenet5", "--explain")
    assert code == 0
    assert "H: ⌊(32 + 2·0 − 5)/1⌋ + 1 = 28" in out
    assert "params: 5·5·3·8 + 8 = 608" in out
    assert "params: 400·120 + 120 = 48,120" in out


# The same worked numbers through the CLI's JSON, from spec files on disk.
CLI_CASES = [
    # (spec, layer index (1-based), output shape, params of that layer, total params)
    ("input: [32, 32, 3]\nlayers: [{type: conv, filters: 16, kernel: 3}]", 1, [30, 30, 16], 448, 448),
    ("input: [28, 28, 1]\nlayers: [{type: conv, filters: 1, kernel: 5}]", 1, [24, 24, 1], 26, 26),
    ("input: [3072]\nlayers: [{type: dense, units: 6272}]", 1, [6272], 19_273_856, 19_273_856),
    ("input: [512, 512, 3]\nlayers: [{type: flatten}, {type: dense, units: 1000}]", 2, [1000], 786_433_000,
     786_433_000),
    (("input: [64, 64, 3]\nlayers:\n  - {type: conv, filters: 8, kernel: 3}\n  - {type: conv, filters: 16, kernel: 5, "
     "stride: 2}\n  - {type: conv, filters: 32, kernel: 7, stride: 2}\n"), 3, [12, 12, 32], 25_120, 28_560),
    (("input: [6, 6, 3]\nlayers:\n  - {type: conv, filters: 1, kernel: 3}\n  - {type: relu}\n  - {type: maxpool, "
     "kernel: 2, stride: 1}\n  - {type: flatten}\n  - {type: dense, units: 32}\n"), 1, [4, 4, 1], 28, 348),
    ("input: [256, 256, 3]\nlayers: [{type: conv, filters: 8, kernel: 7, padding: same}]", 1, [256, 256, 8], 1184,
     1184),
    ("input: [5, 5, 3]\nlayers: [{type: conv, filters: 2, kernel: 3, padding: 1, stride: 2}]", 1, [3, 3, 2], 56, 56),
]


@pytest.mark.parametrize("text, index, shape, layer_params, total", CLI_CASES)
def test_course_numbers_through_the_cli(tmp_path, cli_json, text, index, shape, layer_params, total):
    path = tmp_path / "net.yaml"
    path.write_text(text)
    data = cli_json("summary", str(path))
    layer = data["layers"][index - 1]
    assert layer["output_shape"] == shape and layer["params"] == layer_params
    assert data["totals"]["params"] == total


def test_fashion_mnist_and_chain_through_the_cli(cli_json):
    assert cli_json("summary", "fashion-mnist")["totals"]["params"] == 69798
    chain = cli_json("summary", "conv-chain64")
    assert [layer["output_shape"] for layer in chain["layers"]] == [[62, 62, 8], [29, 29, 16], [12, 12, 32]]


def test_convolution_over_volume_counts():
    # 6×6×3 = 108 pixels in; 4 filters of 3×3×3 → 4×4×4 = 64 numbers; 128 filters → 4×4×128 = 2,048 values
    four = summarise("input: [6, 6, 3]\nlayers: [{type: conv, filters: 4, kernel: 3}]")
    assert four.input_size == 108 and four.records[0].size == 64
    many = summarise("input: [6, 6, 3]\nlayers: [{type: conv, filters: 128, kernel: 3}]")
    assert list(many.records[0].output_shape) == [4, 4, 128] and many.records[0].size == 2048
    # one 3×3×3 filter has 27 weights
    assert summarise("input: [6, 6, 3]\nlayers: [{type: conv, filters: 1, kernel: 3, bias: false}]").params == 27


def test_notebook_shapes():
    # the lesson's manual 4×4 max pooling of a 512×512 image → 128×128
    pooled = summarise("input: [512, 512, 1]\nlayers: [{type: maxpool, kernel: 4}]")
    assert list(pooled.records[0].output_shape) == [128, 128, 1]
    # the notebook: 512×512×3 baboon, 3×3×3×2 filters with padding 1 → 512×512×2, mean pool 2/2 → 256×256×2
    baboon = summarise("input: [512, 512, 3]\nlayers:\n  - {type: conv, filters: 2, kernel: 3, padding: 1}\n"
                       "  - {type: avgpool, kernel: 2, stride: 2}\n  - {type: normalize}\n  - {type: relu}\n")
    assert [list(r.output_shape) for r in baboon.records] == [[512, 512, 2], [256, 256, 2], [256, 256, 2],
                                                              [256, 256, 2]]
    # LeNet-1 on 16×16 USPS digits: C1 (5×5, p 2, 4) → M1 → C2 (5×5, p 2, 12) → M2 → 4·4·12 = 192 features,
    # the notebook's output6.flatten().reshape(1, 192)
    lenet1 = analyse(load_spec("lenet1"))
    assert [list(r.output_shape) for r in lenet1.records][:5] == [[16, 16, 4], [8, 8, 4], [8, 8, 12], [4, 4, 12],
                                                                  [192]]
