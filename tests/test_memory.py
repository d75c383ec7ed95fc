"""`cnncalc memory`: worked numbers by hand, the inference peak against a literal simulation (every order of a
small DAG for the best one), the command line's exit codes and JSON. What torch's autograd really keeps is
checked in tests/test_memory_torch.py."""

from __future__ import annotations

import itertools
import json

import pytest
from typer.testing import CliRunner

from cnncalc import CnnCalcError, load_spec, loads_spec, memory
from cnncalc.calc.analysis import analyse
from cnncalc.cli import app
from cnncalc.maths import arith

LENET5_PARAMS = 62_958
runner = CliRunner()


@pytest.mark.parametrize(("dtype", "optimizer", "weights", "gradients", "states"), [
    ("float32", "none", 4, 4, 0),
    ("float32", "sgd", 4, 4, 0),
    ("float32", "momentum", 4, 4, 4),
    ("float32", "adam", 4, 4, 8),
    ("bfloat16", "adamw", 2, 2, 4),
    ("float16", "momentum", 2, 2, 2),
    ("mixed", "adam", 2, 2, 4 + 8),  # DeepSpeed's 2 + 2 + 12 bytes a parameter
    ("mixed", "none", 2, 2, 4),      # the float32 master weights, even without optimizer state
])
def test_lenet5_weights_gradients_and_optimizer_states_by_hand(dtype, optimizer, weights, gradients, states):
    report = memory("lenet5", dtype=dtype, optimizer=optimizer)
    assert (report.weights, report.gradients, report.optimizer_states) == (
        LENET5_PARAMS * weights, LENET5_PARAMS * gradients, LENET5_PARAMS * states)
    assert report.master_weights == (LENET5_PARAMS * 4 if dtype == "mixed" else 0)
    assert sum(layer.weights for layer in report.layers) == report.weights


def test_lenet5_saved_for_backward_by_hand():
    saved = (32 * 32 * 3 * 4                      # CONV1 keeps the input
             + 28 * 28 * 8 * 4 + 14 * 14 * 8 * 8  # POOL1: CONV1's output and its int64 indices
             + 14 * 14 * 8 * 4                    # CONV2: POOL1's output
             + 10 * 10 * 16 * 4 + 5 * 5 * 16 * 8  # POOL2: CONV2's output and indices
             + 400 * 4 + 120 * 4 + 84 * 4         # FC3, FC4, FC5: their inputs (flatten is a view of POOL2's)
             + 10 * 4)                            # FC5's softmax: its output
    assert saved == 68_248
    report = memory("lenet5")
    assert report.saved == saved and report.input_saved == 12_288
    assert memory("lenet5", batch=3).saved == 3 * saved  # no per-channel statistics: everything scales
    half = memory("lenet5", dtype="bfloat16").saved
    indices = (14 * 14 * 8 + 5 * 5 * 16) * 8  # int64 whatever the dtype
    assert half == indices + (saved - indices) // 2 == 41_996


def test_window_attention_saved_for_backward_by_hand():
    # a 10 × 10 map padded to 12 × 12 (144 tokens, windows of 16): the windows, Q·scale, K, V and the heads'
    # context 144 × 8 each, the softmax 2 heads × 144 × 16; torch keeps 82,944 B at batch 2
    # (tests/test_memory_torch.py measures torchvision's ShiftedWindowAttention)
    spec = loads_spec("input: [10, 10, 8]\nlayers: [{type: window_attention, heads: 2, window: 4, shift: 2}]")
    per_sample = 5 * 144 * 8 + 2 * 144 * 16
    assert memory(spec, batch=2).saved == 2 * per_sample * 4 == 82_944
    assert memory(spec, batch=2, framework="keras").saved == 2 * 10 * 10 * 8 * 4  # keras's rule: its input



def test_window_attention_v2_saved_for_backward_by_hand():
    # 8 × 8 × 8, windows of 4 (64 tokens, 16 a window), 2 heads: per sample the windows, V and the context 64 × 8
    # each, the qkv product 3·64·8, Q's and K's norms and clamped copies 4·64·2, normalize(Q) and normalize(K)
    # 2·64·8, the cosine scores and the softmax 2 · 2 heads × 64 × 16; once a forward the MLP's hidden activations
    # (2·4 − 1)² × 512, the sigmoid 2 × 16 × 16 and exp(logit_scale) 2: torch keeps 172,040 B at batch 2
    # (tests/test_memory_torch.py measures torchvision's ShiftedWindowAttentionV2)
    spec = loads_spec("input: [8, 8, 8]\nlayers: [{type: window_attention_v2, heads: 2, window: 4, shift: 2}]")
    per_sample = 8 * 64 * 8 + 4 * 64 * 2 + 2 * 2 * 64 * 16
    once = 49 * 512 + 2 * 16 * 16 + 2
    assert memory(spec, batch=2).saved == (2 * per_sample + once) * 4 == 172_040
    assert memory(spec, batch=5).saved == (5 * per_sample + once) * 4
    assert memory(spec, batch=5).layers[0].rules[-1] == (
        "the position bias MLP keeps its hidden activations, the sigmoid its result and the scale exp(logit_scale), "
        "once a forward: 25,602 · 4 B = 102,408 B")  # not times the batch
    from cnncalc.layers import LAYER_TYPES

    layer = LAYER_TYPES["window_attention_v2"]("window_attention_v2", "w", 1, ["input"], LAYER_TYPES[
        "window_attention_v2"].parse_fields("window_attention_v2", {"heads": 2, "window": 4}))
    # V1's scratch (the padded map's windows, Q, K, V, the scores twice, the context) and the MLP's activations
    assert layer.scratch_size([(8, 8, 8)], (8, 8, 8)) == 64 * (6 * 8 + 2 * 2 * 16) + 49 * (512 + 2)

def test_shared_tensors_count_once_and_batchnorm_statistics_do_not_scale():
    spec = loads_spec("input: [4, 4, 2]\nlayers:\n  - {type: conv, name: c, filters: 3, kernel: 1}\n"
                      "  - {type: batchnorm, name: bn}\n  - {type: relu, name: r}\n"
                      "  - {type: conv, name: d, filters: 3, kernel: 1, inputs: r}\n"
                      "  - {type: conv, name: e, filters: 3, kernel: 1, inputs: r}\n"
                      "  - {type: add, inputs: [d, e]}\n")
    for batch in (1, 5):
        per_sample = 16 * 2 + 16 * 3 + 16 * 3  # the input, c's output (bn's input), r's output (r, d, e keep it)
        assert memory(spec, batch=batch).saved == batch * per_sample * 4 + 2 * 3 * 4  # + bn's 2·3 statistics
    rows = {layer.name: layer for layer in memory(spec).layers}
    assert rows["d"].saved == rows["e"].saved == 0 and rows["r"].saved == 16 * 3 * 4
    assert any("counted at r" in rule for rule in rows["e"].rules)


def test_what_needs_no_gradient_keeps_nothing_and_frozen_layers_have_no_gradients():
    spec = loads_spec("input: [8, 8, 2]\nlayers:\n  - {type: relu, name: r}\n"
                      "  - {type: conv, name: c, filters: 2, kernel: 3, padding: same, trainable: false}\n"
                      "  - {type: conv, name: d, filters: 2, kernel: 1}\n")
    rows = {layer.name: layer for layer in memory(spec, optimizer="adam").layers}
    assert rows["r"].saved == 0  # the input needs no gradient: autograd records nothing
    assert rows["c"].saved == 0  # frozen, on an input needing no gradient
    assert (rows["c"].gradients, rows["c"].optimizer, rows["c"].weights) == (0, 0, (9 * 2 * 2 + 2) * 4)
    spec = loads_spec("input: [8, 8, 2]\nlayers:\n  - {type: conv, filters: 2, kernel: 3, padding: same}\n")
    assert memory(spec).saved == 10 * 10 * 2 * 4  # F.pad's copy, not the input itself


def test_keras_keeps_every_layer_input_once():
    expected = (32 * 32 * 3 + 28 * 28 * 8 + 14 * 14 * 8 + 10 * 10 * 16 + 5 * 5 * 16 + 120 + 84) * 4
    assert memory("lenet5", framework="keras").saved == expected


# ---------------------------------------------------------------- the inference peak, literally


def literal_peak(network, order=None):
    """Walk the layers, allocate each output, free each tensor after its last reader; the largest total."""
    summary = analyse(network)
    size = {"input": int(arith.product(summary.input_shape)) * 4}
    size.update({r.name: int(arith.product(r.output_shape)) * 4 for r in summary.records})
    records = {r.name: r for r in summary.records}
    names = order or [r.name for r in summary.records]  # (every spec here lists a layer after its inputs)
    last_use = {}
    for step, name in enumerate(names):
        for source in records[name].inputs:
            last_use[source] = step
    live, peak = {"input"}, size["input"]
    for step, name in enumerate(names):
        live.add(name)
        peak = max(peak, sum(size[t] for t in live))
        live -= {t for t in records[name].inputs if last_use[t] == step}
    return peak


@pytest.mark.parametrize("name", ["lenet5", "vgg16", "resnet18", "unet", "densenet121", "shufflenet_v2_x1_0"])
def test_inference_peak_is_the_literal_simulation(name):
    network = load_spec(name)
    report = memory(network)
    assert report.inference_peak == literal_peak(network)
    assert report.inference_peak == max(layer.live for layer in report.layers)
    if name == "unet":  # cropping each skip as soon as it exists frees the encoder's map sooner
        assert literal_peak(network, report.inference_order) == report.inference_best < report.inference_peak
        assert report.inference_order.index("skip3") < report.inference_order.index("dec3.conv1")
    else:
        assert report.inference_order is None  # no order of these runs in less memory


TWO_BRANCHES = """
input: [8, 8, 1]
layers:
  - {type: conv, name: wide1, filters: 16, kernel: 1}
  - {type: conv, name: wide2, filters: 16, kernel: 1, inputs: input}
  - {type: global_avgpool, name: small1, inputs: wide1}
  - {type: global_avgpool, name: small2, inputs: wide2}
  - {type: add, name: sum, inputs: [small1, small2]}
"""


def test_the_best_order_of_a_dag_is_the_least_of_every_order():
    network = loads_spec(TWO_BRANCHES)
    report = memory(network)
    records = analyse(network).records
    names = [r.name for r in records]
    valid = [order for order in itertools.permutations(names) if all(
        source == "input" or order.index(source) < order.index(r.name) for r in records for source in r.inputs)]
    peaks = {order: literal_peak(network, list(order)) for order in valid}
    assert report.inference_peak == literal_peak(network) == (64 + 1024 + 1024) * 4
    assert report.inference_best == min(peaks.values()) == (64 + 16 + 1024) * 4
    assert report.best_is_exact and peaks[tuple(report.inference_order)] == report.inference_best


def test_the_greedy_order_stands_in_when_the_dag_is_too_wide(monkeypatch):
    from cnncalc.calc import memory as rules

    monkeypatch.setattr(rules, "MAX_STATES", 2)
    report = memory(loads_spec(TWO_BRANCHES))
    assert not report.best_is_exact
    assert report.inference_best == literal_peak(loads_spec(TWO_BRANCHES), report.inference_order) == 1104 * 4


# ---------------------------------------------------------------- the command line


def test_json_has_the_contract_totals_and_a_row_per_layer():
    result = runner.invoke(app, ["memory", "lenet5", "--format", "json", "--optimizer", "adam", "--batch", "2"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    totals = document["totals"]
    assert {"weights", "gradients", "optimizer", "saved_for_backward", "inference_peak"} <= set(totals)
    assert (totals["weights"], totals["optimizer"], totals["saved_for_backward"]) == (
        LENET5_PARAMS * 4, LENET5_PARAMS * 8, 2 * 68_248)
    assert [row["name"] for row in document["layers"]] == ["CONV1", "POOL1", "CONV2", "POOL2", "flatten1", "FC3",
                                                          "FC4", "FC5"]
    assert document["layers"][1]["saved_for_backward"] == 2 * (28 * 28 * 8 * 4 + 14 * 14 * 8 * 8)


def test_table_and_explain():
    result = runner.invoke(app, ["memory", "lenet5", "--explain"])
    assert result.exit_code == 0
    assert "maxpool keeps the int64 indices of its maxima (result1): 1·1,568 · 8 B = 12,544 B" in result.output
    assert "Saved for backward (pytorch rules): 68,248 B" in result.output
    result = runner.invoke(app, ["memory", "-"], input=TWO_BRANCHES)
    assert "Best order found: 4,416 B" in result.output and result.exit_code == 0


@pytest.mark.parametrize(("arguments", "message"), [
    (["memory", "lenet5", "--dtype", "float64"], "float64"),
    (["memory", "lenet5", "--batch", "0"], "batch"),
    (["memory", "lenet5", "--optimizer", "lion"], "lion"),
    (["memory", "lenet5", "--framework", "jax"], "jax"),
    (["memory", "no-such-spec"], "no-such-spec"),
])
def test_bad_options_exit_2(arguments, message):
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_symbolic_sizes_need_values():
    spec = "input: [n, n, 3]\nlayers: [{type: conv, filters: 4, kernel: 3}]\n"
    result = runner.invoke(app, ["memory", "-"], input=spec)
    assert result.exit_code == 2 and "--where" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["memory", "-", "--where", "n=10", "--format", "json"], input=spec)
    assert result.exit_code == 0 and json.loads(result.output)["totals"]["saved_for_backward"] == 10 * 10 * 3 * 4


@pytest.mark.parametrize("options", [{"dtype": "int8"}, {"optimizer": "Adam"}, {"framework": "tensorflow"},
                                     {"batch": 0}, {"batch": True}, {"batch": 2.5}, {"batch": 10**12}])
def test_the_library_refuses_bad_options_with_one_error(options):
    with pytest.raises(CnnCalcError):
        memory("lenet5", **options)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_table_fits_the_width_and_input_replaces_the_spec_input(cli, width):
    code, out, _ = cli("memory", "resnet50", "--width", str(width), "--input", "160,160,3", "--explain")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= width
    code, out, _ = cli("memory", "resnet50", "--input", "160,160,3", "--format", "json")
    document = json.loads(out)
    # ResNet-50 at 160×160: conv1's input kept for backward, float32: 160·160·3·4 bytes
    assert document["layers"][0]["saved_for_backward"] == document["input_bytes"] == 160 * 160 * 3 * 4
