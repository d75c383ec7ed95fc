"""`cnncalc check`'s rule for each setting a question uses: warn when the sheet does not show it, stay quiet
when it does (or when the question does not need it). One network and one prompt per case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TEMPLATE = """id: rules
networks:
  net:
    input: [8, 8, 3]
    layers: LAYERS
parts:
  - id: a
    prompt: PROMPT
    questions:
      - {id: a.q, prompt: "Work it out.", compute: COMPUTE}
"""
TAIL = "which the sheet does not show: not in the instructions, the part's prompt or the question's, nor in a data table"


def warnings(cli, tmp_path: Path, layers: list[dict], prompt: str, compute: dict) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(TEMPLATE.replace("LAYERS", json.dumps(layers)).replace("PROMPT", json.dumps(prompt))
                    .replace("COMPUTE", json.dumps(compute)))
    code, _, err = cli("check", str(path))
    assert code == 0, err
    return [line[len("warning: "):] for line in err.splitlines()]


def warning(what: str, layer: str, setting: str) -> str:
    return f"question 'a.q' uses the {what} of layer '{layer}' (network 'net', {setting}), {TAIL}"


CONV = {"type": "conv", "name": "c", "filters": 4, "kernel": 3}
DENSE = [{"type": "flatten", "name": "f"}, {"type": "dense", "name": "d", "units": 10}]


def test_hidden_filters_are_named_and_shown_filters_are_not(cli, tmp_path):
    compute = {"shape": "net", "layer": "c"}
    assert warnings(cli, tmp_path, [CONV], "A 3 × 3 convolution.", compute) == [
        warning("filter count", "c", "filters: 4")]
    assert warnings(cli, tmp_path, [CONV], "4 filters of 3 × 3.", compute) == []


def test_a_shape_of_rows_and_columns_only_needs_no_filter_count(cli, tmp_path):
    rows = {"shape": "net", "layer": "c", "axes": [0, 1]}
    assert warnings(cli, tmp_path, [CONV], "A 3 × 3 convolution.", rows) == []
    channels = {"shape": "net", "layer": "c", "axes": [0, -1]}
    assert warnings(cli, tmp_path, [CONV], "A 3 × 3 convolution.", channels) == [
        warning("filter count", "c", "filters: 4")]


def test_hidden_units_are_named(cli, tmp_path):
    compute = {"params": "net", "layer": "d"}
    assert warnings(cli, tmp_path, DENSE, "A dense layer on the flattened input.", compute) == [
        warning("unit count", "d", "units: 10")]
    assert warnings(cli, tmp_path, DENSE, "A dense layer of 10 units.", compute) == []


def test_a_bias_given_as_true_needs_the_word_and_a_value_needs_its_number(cli, tmp_path):
    compute = {"params": "net", "layer": "c"}
    with_bias = [dict(CONV, bias=True)]
    assert warnings(cli, tmp_path, with_bias, "4 filters of 3 × 3.", compute) == [warning("bias", "c", "bias: true")]
    assert warnings(cli, tmp_path, with_bias, "4 filters of 3 × 3, each with a bias.", compute) == []
    valued = [dict(CONV, filters=1, bias=[0.5])]
    said = "1 filter of 3 × 3 with a bias"
    assert warnings(cli, tmp_path, valued, said + ".", compute) == [warning("bias", "c", "bias: [0.5]")]
    assert warnings(cli, tmp_path, valued, said + " of 0.5.", compute) == []
    assert warnings(cli, tmp_path, valued, "1 filter of 3 × 3, and 0.5 somewhere.", compute) == [
        warning("bias", "c", "bias: [0.5]")]  # the number alone is not the bias


def test_a_pool_stride_left_to_its_default_is_said_by_non_overlapping(cli, tmp_path):
    pool = [{"type": "maxpool", "name": "p", "kernel": 2}]
    compute = {"shape": "net", "layer": "p"}
    assert warnings(cli, tmp_path, pool, "A 2 × 2 max pool.", compute) == [
        warning("pooling stride", "p", "stride: 2")]
    assert warnings(cli, tmp_path, pool, "A 2 × 2 non-overlapping max pool.", compute) == []
    explicit = [{"type": "maxpool", "name": "p", "kernel": 2, "stride": 2}]
    assert warnings(cli, tmp_path, explicit, "A 2 × 2 non-overlapping max pool.", compute) == [
        warning("pooling stride", "p", "stride: 2")]
    assert warnings(cli, tmp_path, explicit, "A 2 × 2 max pool, stride 2.", compute) == []


@pytest.mark.parametrize("prompt, quiet", [("Padding 'same'.", True), ("Same padding.", True),
                                           ("No padding here.", False)])
def test_padding_words(cli, tmp_path, prompt, quiet):
    layers = [dict(CONV, padding="same")]
    found = warnings(cli, tmp_path, layers, "4 filters of 3 × 3. " + prompt, {"shape": "net", "layer": "c"})
    assert (found == []) is quiet, found
