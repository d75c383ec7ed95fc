"""Every shipped problem, every slip that applies to it: an answer file per slip, graded with partial credit
for every rule and follow-through on, asserting the rule named, the score and the follow-through credit.

The slipped answers are written out here (scalars and shapes as numbers worked by hand, maps computed by
literal loops over the problem's own data), not taken from the catalogue; a last test checks that the
table covers every candidate the catalogue computes for these problems, so a new rule or problem must
come with its rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnncalc.exercises import grade_batch
from cnncalc.exercises.grading import matches, plain_answer
from cnncalc.exercises.key import Expected, compute_key, key_answers
from cnncalc.exercises.problem import build_problem
from cnncalc.exercises.slips import CATALOGUE, candidates
from cnncalc.spec import safeload

ROOT = Path(__file__).parent.parent
SHARE = 0.5
ORDER = [slip.id for slip in CATALOGUE]


def load(name: str):
    """The shipped problem with every rule credited SHARE and follow-through SHARE."""
    raw = safeload.load_file(ROOT / "problems" / f"{name}.yaml")
    raw["credit"] = dict.fromkeys(ORDER, SHARE)
    raw["follow_through"] = SHARE
    problem = build_problem(raw, str(ROOT / "problems" / f"{name}.yaml"))
    return raw, problem, compute_key(problem)


# ---------------------------------------------------------------- literal layers on the problems' data


def conv2d(x, w, bias, pad=0, stride=1, flip=False):
    """Cross-correlation (or, flipped, true convolution) of x [H, W, C] with w [k, k, C, F], by loops."""
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    if flip:
        w = w[::-1, ::-1]
    x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    k = w.shape[0]
    size = (x.shape[0] - k) // stride + 1
    out = np.zeros((size, size, w.shape[3]))
    for i in range(size):
        for j in range(size):
            for f in range(w.shape[3]):
                out[i, j, f] = (x[i * stride:i * stride + k, j * stride:j * stride + k, :] * w[:, :, :, f]).sum() + bias[f]
    return out


def pool2d(x, k, stride, how):
    x = np.asarray(x, dtype=float)
    size = (x.shape[0] - k) // stride + 1
    reduce = np.max if how == "max" else np.mean
    return np.array([[reduce(x[i * stride:i * stride + k, j * stride:j * stride + k]) for j in range(size)]
                     for i in range(size)])


def channels(raw, name):
    return np.moveaxis(np.array(raw["data"][name]["channels"], dtype=float), 0, -1)


def worksheet_maps(raw):
    relu = np.maximum(np.array(raw["data"]["feature_map"]["matrix"], dtype=float), 0)
    return {"relu_T": relu.T, "pool_T": pool2d(relu, 2, 1, "max").T, "pool_avg": pool2d(relu, 2, 1, "avg")}


def volume_maps(raw):
    x, w = channels(raw, "x"), np.array(raw["data"]["w"]["array"], dtype=float)
    right = conv2d(x, w, [1, 0], pad=1, stride=2)
    found = {}
    for c in (0, 1):
        found[f"{c}_T"] = right[:, :, c].T
        found[f"{c}_bias"] = conv2d(x, w, [0, 0], pad=1, stride=2)[:, :, c]
        found[f"{c}_pad"] = conv2d(x, w, [1, 0], pad=0, stride=2)[:, :, c]
        found[f"{c}_stride"] = conv2d(x, w, [1, 0], pad=1, stride=1)[:, :, c]
        found[f"{c}_flip"] = conv2d(x, w, [1, 0], pad=1, stride=2, flip=True)[:, :, c]
    return found


def bank_maps(raw):
    x = channels(raw, "image")
    w = np.transpose(np.array(raw["data"]["bank"]["filters"], dtype=float), (2, 3, 1, 0))
    bias = [raw["data"]["b1"], raw["data"]["b2"]]
    conv = conv2d(x, w, bias, pad=1)[:, :, 1]
    return {"T": pool2d(conv, 2, 2, "avg").T,
            "bias": pool2d(conv2d(x, w, [0, 0], pad=1)[:, :, 1], 2, 2, "avg"),
            "pad": pool2d(conv2d(x, w, bias, pad=0)[:, :, 1], 2, 2, "avg"),
            "stride": pool2d(conv, 2, 1, "avg"),
            "flip": pool2d(conv2d(x, w, bias, pad=1, flip=True)[:, :, 1], 2, 2, "avg"),
            "max": pool2d(conv, 2, 2, "max")}


def pooling_maps(raw):
    rect = np.array(raw["data"]["rectified"]["matrix"], dtype=float)
    five = np.array(raw["data"]["five"]["matrix"], dtype=float)
    return {"2_T": pool2d(rect, 2, 2, "max").T, "2_stride": pool2d(rect, 2, 1, "max"),
            "2_avg": pool2d(rect, 2, 2, "avg"), "3_T": pool2d(five, 3, 1, "max").T, "3_avg": pool2d(five, 3, 1, "avg")}


# ---------------------------------------------------------------- the table: (question, slipped answer, rule)

# A row's answer is a number, a list, or the name of a map made by the problem's maps function above.
TABLE: dict[str, tuple] = {
    "cnn-layers-worksheet": (worksheet_maps, [
        ("a.shape", [3, 3], "dropped_plus_one"),                   # ⌊(6 − 3)/1⌋
        ("a.col4_row4", 2, "forgot_bias"), ("a.col4_row4", 12, "flip"),
        ("a.col3_row2", -10, "forgot_bias"), ("a.col3_row2", 7, "rows_columns_swapped"), ("a.col3_row2", 4, "flip"),
        ("a.col2_row4", 15, "forgot_bias"), ("a.col2_row4", -3, "rows_columns_swapped"), ("a.col2_row4", 11, "flip"),
        ("b.relu", "relu_T", "rows_columns_swapped"),
        ("b.pool", "pool_T", "rows_columns_swapped"), ("b.pool", "pool_avg", "avg_for_max"),
        ("c.total_params", 27 + 9 * 32, "forgot_bias"), ("c.total_params", 27 + 320, "forgot_bias"),
        ("c.total_params", 28 + 9 * 32, "forgot_bias"),
        ("c.total_params", 28 + 1 * 32 + 32, "dropped_plus_one"),   # 3 × 3 conv, then a 1 × 1 pool: fc on 1 value
        ("c.total_params", 28 + 4 * 32 + 32, "dropped_plus_one"),   # the conv alone: 3 × 3, pooled to 2 × 2
        ("c.total_params", 54 + 576, "bias_per_weight"), ("c.total_params", 54 + 320, "bias_per_weight"),
        ("c.total_params", 28 + 576, "bias_per_weight"),
        ("c.total_params", 3 * 3 * 1 + 1 + 320, "no_input_channels"),
        ("c.total_params", 28, "one_layer_only"), ("c.total_params", 320, "one_layer_only"),
        ("d.padding", 3.5, "dropped_plus_one"),                     # p = f/2
        ("d.params", 7 * 7 * 3 * 8, "forgot_bias"), ("d.params", 2 * 7 * 7 * 3 * 8, "bias_per_weight"),
        ("d.params", 7 * 7 * 8 + 8, "no_input_channels"),
    ]),
    "convolution-vs-correlation": (None, [
        ("flip.convolution", 34, "flip"), ("flip.correlation", 26, "flip"),   # the lecture's 26 and 34
        ("sharpen.shape", [3, 3], "forgot_padding"), ("sharpen.shape", [4, 4], "dropped_plus_one"),
        ("sharpen.r2c2", 111, "forgot_padding"),
        ("sharpen.r2c3", 85, "rows_columns_swapped"), ("sharpen.r2c3", 101, "forgot_padding"),
        ("sharpen.r2c1", 206, "rows_columns_swapped"), ("sharpen.r2c1", 85, "forgot_padding"),
        ("sharpen.r1c1", 89, "forgot_padding"),
    ]),
    "cs231n-volume": (volume_maps, [
        ("out.shape", [2, 3, 3], "channels_first"),
        ("out.shape", [2, 2, 2], "forgot_padding"),                 # ⌊(5 − 3)/2⌋ + 1; also ⌊(5 + 2 − 3)/2⌋
        ("out.shape", [5, 5, 2], "stride_ignored"),
        ("out.channel0", "0_bias", "forgot_bias"), ("out.channel0", "0_T", "rows_columns_swapped"),
        ("out.channel0", "0_pad", "forgot_padding"), ("out.channel0", "0_stride", "stride_ignored"),
        ("out.channel0", "0_flip", "flip"),
        ("out.channel1", "1_T", "rows_columns_swapped"), ("out.channel1", "1_pad", "forgot_padding"),
        ("out.channel1", "1_stride", "stride_ignored"), ("out.channel1", "1_flip", "flip"),
        ("out.o00_1", -8, "forgot_bias"), ("out.o00_1", 2, "rows_columns_swapped"),
        ("out.o00_1", -3, "stride_ignored"), ("out.o00_1", 3, "flip"),
    ]),
    "dilated-separable": (None, [
        ("dilated.shape", [10, 10], "dropped_plus_one"), ("dilated.shape", [13, 13], "dilation_ignored"),
        ("dilated.rf", 3, "dilation_ignored"), ("stack.rf", 5, "dilation_ignored"),
        ("separable.params", 27 + 16, "no_input_channels"),
        ("separable.params", 27, "one_layer_only"), ("separable.params", 48, "one_layer_only"),
        ("standard.params", 3 * 3 * 16, "no_input_channels"),
        ("separable.macs", 8 * 8 * 3 * 9 + 8 * 8 * 3 * 16, "forgot_padding"),  # also pointwise alone: 4,800
        ("separable.macs", 9 * 9 * 3 * 9 + 8 * 8 * 3 * 16, "dropped_plus_one"),
        ("separable.macs", 9 * 9 * 3 * 9 + 9 * 9 * 3 * 16, "dropped_plus_one"),
        ("separable.macs", 2700 + 9 * 9 * 3 * 16, "dropped_plus_one"),
        ("separable.macs", 10 * 10 * 9 * 3 + 10 * 10 * 16, "no_input_channels"),
        ("separable.macs", 15000, "flops_for_macs"), ("separable.macs", 2700, "one_layer_only"),
        ("standard.macs", 8 * 8 * 16 * 27, "forgot_padding"), ("standard.macs", 9 * 9 * 16 * 27, "dropped_plus_one"),
        ("standard.macs", 10 * 10 * 16 * 9, "no_input_channels"), ("standard.macs", 86400, "flops_for_macs"),
    ]),
    "filter-bank": (bank_maps, [
        ("conv.shape", [2, 4, 4], "channels_first"), ("conv.shape", [2, 2, 2], "forgot_padding"),
        ("conv.shape", [3, 3, 2], "dropped_plus_one"),
        ("conv.f1", -7.25, "forgot_padding"),
        ("conv.f2", 10, "forgot_bias"), ("conv.f2", -4, "forgot_padding"), ("conv.f2", -7, "flip"),
        ("conv.params", 54, "forgot_bias"), ("conv.params", 108, "bias_per_weight"),
        ("conv.params", 3 * 3 * 2 + 2, "no_input_channels"),
        ("conv.macs", 2 * 2 * 2 * 27, "forgot_padding"), ("conv.macs", 3 * 3 * 2 * 27, "dropped_plus_one"),
        ("conv.macs", 4 * 4 * 2 * 9, "no_input_channels"), ("conv.macs", 1728, "flops_for_macs"),
        ("pool.map", "bias", "forgot_bias"), ("pool.map", "T", "rows_columns_swapped"),
        ("pool.map", "pad", "forgot_padding"), ("pool.map", "stride", "stride_ignored"),
        ("pool.map", "flip", "flip"), ("pool.map", "max", "max_for_avg"),
    ]),
    "lenet-table": (None, [
        ("CONV1.shape", [8, 28, 28], "channels_first"), ("CONV1.shape", [27, 27, 8], "dropped_plus_one"),
        ("CONV1.size", 27 * 27 * 8, "dropped_plus_one"),
        ("CONV1.params", 600, "forgot_bias"), ("CONV1.params", 1200, "bias_per_weight"),
        ("CONV1.params", 5 * 5 * 8 + 8, "no_input_channels"),
        ("POOL1.shape", [8, 14, 14], "channels_first"), ("POOL1.shape", [12, 12, 8], "dropped_plus_one"),
        ("POOL1.shape", [13, 13, 8], "dropped_plus_one"), ("POOL1.shape", [27, 27, 8], "stride_ignored"),
        ("POOL1.size", 12 * 12 * 8, "dropped_plus_one"), ("POOL1.size", 13 * 13 * 8, "dropped_plus_one"),
        ("POOL1.size", 27 * 27 * 8, "stride_ignored"),
        ("CONV2.shape", [16, 10, 10], "channels_first"), ("CONV2.shape", [7, 7, 16], "dropped_plus_one"),
        ("CONV2.shape", [9, 9, 16], "dropped_plus_one"), ("CONV2.shape", [23, 23, 16], "stride_ignored"),
        ("CONV2.size", 7 * 7 * 16, "dropped_plus_one"), ("CONV2.size", 9 * 9 * 16, "dropped_plus_one"),
        ("CONV2.size", 23 * 23 * 16, "stride_ignored"),
        ("CONV2.params", 3200, "forgot_bias"), ("CONV2.params", 6400, "bias_per_weight"),
        ("CONV2.params", 5 * 5 * 16 + 16, "no_input_channels"),
        ("POOL2.shape", [16, 5, 5], "channels_first"), ("POOL2.shape", [2, 2, 16], "dropped_plus_one"),
        ("POOL2.shape", [4, 4, 16], "dropped_plus_one"), ("POOL2.shape", [22, 22, 16], "stride_ignored"),
        ("POOL2.shape", [11, 11, 16], "stride_ignored"), ("POOL2.shape", [9, 9, 16], "stride_ignored"),
        ("POOL2.size", 64, "dropped_plus_one"), ("POOL2.size", 256, "dropped_plus_one"),
        ("POOL2.size", 22 * 22 * 16, "stride_ignored"), ("POOL2.size", 11 * 11 * 16, "stride_ignored"),
        ("POOL2.size", 9 * 9 * 16, "stride_ignored"),
        ("FC3.params", 48000, "forgot_bias"), ("FC3.params", 64 * 120 + 120, "dropped_plus_one"),
        ("FC3.params", 256 * 120 + 120, "dropped_plus_one"), ("FC3.params", 7744 * 120 + 120, "stride_ignored"),
        ("FC3.params", 1936 * 120 + 120, "stride_ignored"), ("FC3.params", 1296 * 120 + 120, "stride_ignored"),
        ("FC3.params", 96000, "bias_per_weight"),
        ("FC4.params", 10080, "forgot_bias"), ("FC4.params", 20160, "bias_per_weight"),
        ("FC5.params", 840, "forgot_bias"), ("FC5.params", 1680, "bias_per_weight"),
        ("total.params", 62958 - 238, "forgot_bias"), ("total.params", 62958 - 8, "forgot_bias"),
        ("total.params", 62958 - 16, "forgot_bias"), ("total.params", 62958 - 120, "forgot_bias"),
        ("total.params", 62958 - 84, "forgot_bias"), ("total.params", 62958 - 10, "forgot_bias"),
        ("total.params", 608 + 3216 + 7800 + 10164 + 850, "dropped_plus_one"),
        ("total.params", 608 + 3216 + 30840 + 10164 + 850, "dropped_plus_one"),
        ("total.params", 62958 - 48120 + 929400, "stride_ignored"),
        ("total.params", 62958 - 48120 + 232440, "stride_ignored"),
        ("total.params", 62958 - 48120 + 155640, "stride_ignored"),
        ("total.params", 2 * (62958 - 238), "bias_per_weight"), ("total.params", 62958 + 600 - 8, "bias_per_weight"),
        ("total.params", 62958 + 3200 - 16, "bias_per_weight"), ("total.params", 62958 + 48000 - 120, "bias_per_weight"),
        ("total.params", 62958 + 10080 - 84, "bias_per_weight"), ("total.params", 62958 + 840 - 10, "bias_per_weight"),
        ("total.params", 62958 - 400 - 2800, "no_input_channels"), ("total.params", 62958 - 400, "no_input_channels"),
        ("total.params", 62958 - 2800, "no_input_channels"),
        ("total.params", 608, "one_layer_only"), ("total.params", 3216, "one_layer_only"),
        ("total.params", 48120, "one_layer_only"), ("total.params", 10164, "one_layer_only"),
        ("total.params", 850, "one_layer_only"),
    ]),
    "padding-stride": (None, [
        ("same.formula", "f/2", "dropped_plus_one"), ("same.p5", 2.5, "dropped_plus_one"),
        ("stride.out", 1, "dropped_plus_one"), ("stride.out", 3, "stride_ignored"),
        ("stride.s", 1, "dropped_plus_one"),                            # ⌊(5 − 3)/s⌋ = 2
        ("volume.out", 2, "forgot_padding"),                            # also ⌊(5 + 2 − 3)/2⌋ = 2
        ("volume.out", 5, "stride_ignored"),
        ("chain.conv1", [8, 62, 62], "channels_first"), ("chain.conv1", [61, 61, 8], "dropped_plus_one"),
        ("chain.conv2", [16, 29, 29], "channels_first"), ("chain.conv2", [28, 28, 16], "dropped_plus_one"),
        ("chain.conv2", [30, 30, 16], "ceil_for_floor"), ("chain.conv2", [58, 58, 16], "stride_ignored"),
        ("chain.conv3", [32, 12, 12], "channels_first"), ("chain.conv3", [10, 10, 32], "dropped_plus_one"),
        ("chain.conv3", [11, 11, 32], "dropped_plus_one"), ("chain.conv3", [52, 52, 32], "stride_ignored"),
        ("chain.conv3", [26, 26, 32], "stride_ignored"), ("chain.conv3", [23, 23, 32], "stride_ignored"),
        ("layer.params", 432, "forgot_bias"), ("layer.params", 864, "bias_per_weight"),
        ("layer.params", 3 * 3 * 16 + 16, "no_input_channels"),
    ]),
    "pooling-flatten": (pooling_maps, [
        ("max.2x2", "2_T", "rows_columns_swapped"), ("max.2x2", "2_stride", "stride_ignored"),
        ("max.2x2", "2_avg", "avg_for_max"),
        ("max.3x3", "3_T", "rows_columns_swapped"), ("max.3x3", "3_avg", "avg_for_max"),
        ("avg.first", 149, "max_for_avg"),
    ]),
    "same-padding-transpose": (None, [
        ("same.pads", [2, 2], "dropped_plus_one"), ("same.pads", [2, 1], "same_odd_side"),
        ("same.stride2", [1, 1], "dropped_plus_one"), ("same.stride2", [1, 0], "same_odd_side"),
        ("transpose.out", 16, "forgot_padding"), ("transpose.out", 13, "output_padding_ignored"),  # also "+ 1" dropped
        ("transpose.out", 8, "stride_ignored"), ("transpose.out", 4, "transpose_forward"),
        ("transpose.out", 18, "transpose_padding_added"),
        ("transpose.n", 15, "forgot_padding"), ("transpose.n", 31, "stride_ignored"),
        ("sizes.valid", [12, 16, 20, 24, 28, 32, 36, 40], "exact_for_valid"),
        ("sizes.exact", {"min": 12, "max": 40}, "valid_for_exact"),
    ]),
}


def _answer(value, maps):
    if isinstance(value, str) and maps is not None and value in maps:
        return maps[value].tolist()
    return value


@pytest.mark.parametrize("name", sorted(TABLE))
def test_every_slip_of_every_problem_is_named_and_credited(name, tmp_path):
    raw, problem, key = load(name)
    make, rows = TABLE[name]
    maps = make(raw) if make is not None else None
    right = key_answers(problem, key)
    points = {q.id: q.points for q in problem.questions}
    paths = []
    for position, (qid, value, _) in enumerate(rows):
        path = tmp_path / f"s{position:03d}.json"
        path.write_text(json.dumps({"student": f"s{position:03d}", "answers": {**right, qid: _answer(value, maps)}}))
        paths.append(path)
    results, _ = grade_batch(problem, paths, key)
    for (qid, value, rule), result in zip(rows, results):
        graded = {q.id: q for q in result.questions}
        q = graded[qid]
        where = f"{name} {qid} {value!r}"
        assert q.diagnosis is not None and q.diagnosis.rule == rule, (where, q.feedback)
        assert f"[{rule}]" in q.feedback and q.diagnosis.message in q.feedback, where
        # the slip's share, unless the answer's own cells earn more (a map with some cells right)
        own = graded[qid].score
        assert own >= SHARE * points[qid] - 1e-12 and q.status in ("partial", "correct"), where
        assert not q.follow_through, where
        assert all(other.status in ("correct", "manual") for other in result.questions if other.id != qid), where


# Follow-through, on the problems whose questions follow from one another: one wrong answer, and every later
# answer computed right from it (numbers worked by hand).
FOLLOWING = {
    "lenet-table": ("CONV1.shape", [27, 27, 8], {
        "CONV1.size": 27 * 27 * 8, "POOL1.shape": [13, 13, 8], "POOL1.size": 13 * 13 * 8,
        "CONV2.shape": [9, 9, 16], "CONV2.size": 9 * 9 * 16, "POOL2.shape": [4, 4, 16], "POOL2.size": 256,
        "FC3.params": 256 * 120 + 120, "total.params": 608 + 3216 + 30840 + 10164 + 850}),
    "padding-stride": ("chain.conv1", [60, 60, 8], {
        "chain.conv2": [28, 28, 16],        # ⌊(60 − 5)/2⌋ + 1
        "chain.conv3": [11, 11, 32]}),      # ⌊(28 − 7)/2⌋ + 1
    "cnn-layers-worksheet": ("b.relu", "relu+100", {"b.pool": "pool+100"}),
}


@pytest.mark.parametrize("name", sorted(FOLLOWING))
def test_answers_that_follow_from_a_wrong_one_get_the_follow_through_share(name):
    raw, problem, key = load(name)
    qid, wrong, following = FOLLOWING[name]
    answers = key_answers(problem, key)
    if name == "cnn-layers-worksheet":
        relu = np.maximum(np.array(raw["data"]["feature_map"]["matrix"], dtype=float), 0) + 100
        wrong, following = relu.tolist(), {"b.pool": pool2d(relu, 2, 1, "max").tolist()}
    from cnncalc.exercises.grading import grade_answers

    result = grade_answers(problem, key, "s", {**answers, qid: wrong, **following})
    graded = {q.id: q for q in result.questions}
    assert not graded[qid].follow_through and graded[qid].status != "correct"
    for other in following:
        q = graded[other]
        assert q.follow_through, (other, q.feedback)
        assert q.score == pytest.approx(SHARE * q.max), other
        assert "follows correctly from your " in q.feedback and "which was wrong" in q.feedback
    untouched = [q for q in result.questions if q.id not in following and q.id != qid]
    assert all(q.status in ("correct", "manual") for q in untouched)


def test_the_table_covers_every_slip_the_catalogue_finds():
    """Each candidate of each shipped question is a row of the table, or gives the answer of a row whose
    rule comes first in the catalogue (two slips, one answer: the earlier names it)."""
    for name, (make, rows) in TABLE.items():
        raw, problem, key = load(name)
        maps = make(raw) if make is not None else None
        for q in problem.questions:
            mine = [(value, rule) for qid, value, rule in rows if qid == q.id]
            for candidate in candidates(key, q):
                covering = [rule for value, rule in mine
                            if matches(q, Expected(candidate.value), _answer(value, maps))]
                assert covering, f"{name} {q.id}: {candidate.rule} gives {plain_answer(candidate.value)!r}, no row"
                assert candidate.rule in covering or ORDER.index(covering[0]) < ORDER.index(candidate.rule), (
                    name, q.id, candidate.rule, covering)
            for value, rule in mine:
                assert any(c.rule == rule and matches(q, Expected(c.value), _answer(value, maps))
                           for c in candidates(key, q)), f"{name} {q.id}: no {rule} gives {value!r}"
