"""`summary --format json`, exactly the contract of DESIGN.md plus a few extra keys."""

from __future__ import annotations

import json
from typing import Any

from .. import arith
from ..analysis import Summary
from .common import json_dim, json_float, json_rf_size


def summary_dict(summary: Summary, explain: bool = False) -> dict[str, Any]:
    layers = []
    for record in summary.records:
        rf = record.receptive_field
        entry: dict[str, Any] = {
            "index": record.index,
            "name": record.name,
            "type": record.type,
            "inputs": record.inputs,
            "output_shape": [json_dim(d) for d in record.output_shape],
            "size": json_dim(record.size),
            "params": record.params,
            "trainable_params": record.trainable,
            "non_trainable_params": record.non_trainable,
            "macs": json_dim(record.macs),
            "receptive_field": None if rf is None else {
                "size": [json_rf_size(axis[0]) for axis in rf],
                "jump": [json_rf_size(axis[1]) for axis in rf],
                "start": [json_float(axis[2]) for axis in rf],
            },
        }
        if explain:
            entry["explain"] = record.explain
        layers.append(entry)
    return {
        "name": summary.name,
        "input": [json_dim(d) for d in summary.input_shape],
        "layers": layers,
        "totals": {
            "params": summary.params,
            "trainable_params": summary.trainable,
            "non_trainable_params": summary.non_trainable,
            "macs": json_dim(summary.macs),
            "flops": json_dim(arith.simplify(2 * summary.macs)),
            "input_size": json_dim(summary.input_size),
            "outputs": [r.name for r in summary.outputs],
        },
    }


def render_json(summary: Summary, explain: bool = False) -> str:
    """Pretty enough to read (one layer a line) and fast for thousands of layers (the C encoder)."""
    data = summary_dict(summary, explain)

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    layers = ",\n    ".join(dump(layer) for layer in data["layers"])
    return (f'{{"name": {dump(data["name"])},\n "input": {dump(data["input"])},\n'
            f' "layers": [\n    {layers}\n ],\n "totals": {dump(data["totals"])}}}\n')
