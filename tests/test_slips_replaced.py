"""A slip that keeps its layer's output shape (the bias left out, the kernel flipped, the other pooling) is
computed by running the changed layer, and those after it, on the key's outputs: its answers are those of
the changed network built and run whole, to the bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc.errors import CnnCalcError
from cnncalc.exercises import compute_key, load_problem
from cnncalc.exercises.problem import build_problem, with_data
from cnncalc.exercises.slips import Context, _candidates
from cnncalc.exercises.variants import check_original, draw_data, seed_variant
from cnncalc.layers.base import _nested_shape
from cnncalc.spec import safeload
from cnncalc.spec.network import remade_layer

PROBLEMS = sorted((Path(__file__).resolve().parents[1] / "problems").glob("*.yaml"))
WORKSHEET = Path(__file__).resolve().parents[1] / "problems" / "cnn-layers-worksheet.yaml"


def _same(left: list, right: list) -> bool:
    return len(left) == len(right) and all(
        a.rule == b.rule and a.message == b.message
        and np.array_equal(np.asarray(a.value, dtype=object), np.asarray(b.value, dtype=object))
        for a, b in zip(left, right))


def _keys() -> list:
    keys = [compute_key(load_problem(path)) for path in PROBLEMS]
    raw = safeload.load_file(WORKSHEET)
    return keys + [seed_variant(raw, str(WORKSHEET), 7, index).key for index in range(3)]


def test_a_slip_run_on_the_key_outputs_gives_what_the_whole_changed_network_gives(monkeypatch):
    replaced = []
    for key in _keys():
        fast = {q.id: _candidates(key, q) for q in key.problem.questions}
        replaced += [c.rule for found in fast.values() for c in found if c.rule in ("forgot_bias", "flip",
                                                                                   "avg_for_max", "max_for_avg")]
        key.memo.clear()
        with monkeypatch.context() as patch:  # every changed network built and run whole, as before
            patch.setattr(Context, "_replaced_outputs", lambda self, memo, group: None)
            whole = {q.id: _candidates(key, q) for q in key.problem.questions}
        for qid, found in fast.items():
            assert _same(found, whole[qid]), (key.problem.id, qid)
    assert {"forgot_bias", "flip", "avg_for_max", "max_for_avg"} <= set(replaced)


def test_the_worksheet_cell_without_the_bias_and_with_the_kernel_flipped():
    key = compute_key(load_problem(WORKSHEET))
    data = key.problem.data
    x, w, b = data["x"], data["w"][..., 0], float(data["b"])
    row, col = 3, 3  # a.col4_row4
    window = x[row:row + 3, col:col + 3, :]
    correlated = sum(window[i, j, c] * w[i, j, c] for i in range(3) for j in range(3) for c in range(3))
    flipped = sum(window[i, j, c] * w[2 - i, 2 - j, c] for i in range(3) for j in range(3) for c in range(3))
    found = {c.rule: c.value for c in _candidates(key, key.problem.question("a.col4_row4"))}
    assert key["a.col4_row4"].value == correlated + b
    assert found["forgot_bias"] == correlated
    assert found["flip"] == flipped + b


def test_a_layer_made_again_keeps_its_place_and_refuses_another_kind():
    key = compute_key(load_problem(WORKSHEET))
    network = key.builder.network("part_b")
    pool = network.layer("pool")
    spec = {"type": "avgpool", "name": "pool", "kernel": 2, "stride": 1}
    made = remade_layer(pool, spec)
    assert (made.type, made.name, made.index, made.inputs) == ("avgpool", "pool", pool.index, pool.inputs)
    with pytest.raises(CnnCalcError, match="another kind"):
        remade_layer(pool, {"type": "add"})
    with pytest.raises(CnnCalcError, match="another kind"):
        remade_layer(pool, {"type": "no_such_layer"})
    with pytest.raises(CnnCalcError):
        remade_layer(pool, {"type": "avgpool", "kernel": 0})
    # run on the key's outputs: the same shape and weights, or not at all (the network is then built whole)
    outputs = key.builder.outputs_with("part_b", "feature_map", replaced={"pool": made})
    source = outputs["relu"][0, :, :, 0]
    means = [[source[i:i + 2, j:j + 2].mean() for j in range(3)] for i in range(3)]
    assert np.array_equal(outputs["pool"][0, :, :, 0], means)
    conv = key.builder.network("part_a").layer("conv")
    item = {"type": "conv", "name": "conv", "filters": 1, "kernel": 3, "weight": conv.weight, "bias": conv.bias}
    assert key.builder.outputs_with("part_a", "x", replaced={"conv": remade_layer(conv, item)}) is not None
    other = [[[[-v for v in cell] for cell in row] for row in plane] for plane in conv.weight]
    assert key.builder.outputs_with("part_a", "x", replaced={
        "conv": remade_layer(conv, {**item, "weight": other})}) is None, "other weights than the key's"
    assert key.builder.outputs_with("part_a", "x", replaced={
        "conv": remade_layer(conv, {**item, "padding": 1})}) is None, "another output shape"


def test_a_draw_put_into_the_original_is_the_problem_built_with_it():
    raw = safeload.load_file(WORKSHEET)
    original = check_original(raw, str(WORKSHEET)).problem
    data = draw_data(raw, np.random.default_rng(3))
    built, put = build_problem(raw, str(WORKSHEET), data), with_data(original, data)
    assert list(put.data) == list(built.data)
    assert all(np.array_equal(put.data[name], built.data[name]) for name in built.data)
    assert put.parts == built.parts and put.networks == built.networks and put.id == built.id
    with pytest.raises(CnnCalcError, match="not a rectangular array"):
        with_data(original, {"x": [[1, 2], [3]]})


def _shape(value):  # the plain recursive reading
    if not isinstance(value, list):
        return ()
    inner = [_shape(item) for item in value]
    if not inner:
        return (0,)
    return None if any(s is None or s != inner[0] for s in inner) else (len(value), *inner[0])


nested = st.recursive(st.integers(-3, 3), lambda inner: st.lists(inner, max_size=3), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(nested)
def test_the_shape_of_nested_lists(value):
    assert _nested_shape(value) == _shape(value)
    assert _nested_shape([value, value]) == _shape([value, value])
