"""`summary --format json`, exactly the contract of DESIGN.md plus a few extra keys."""

from __future__ import annotations

import json
from typing import Any

from ..calc.analysis import Summary, block_records
from ..maths import arith
from .common import DEFAULT_VIEW, View, json_dim, json_float, json_rf_size, memory_estimate


def summary_dict(summary: Summary, view: View = DEFAULT_VIEW) -> dict[str, Any]:
    explain, n = view.explain, view.batch
    layers = []
    for record in summary.records:
        rf = record.receptive_field
        entry: dict[str, Any] = {
            "index": record.index,
            "name": record.name,
            "type": record.type,
            "inputs": record.inputs,
            "output_shape": [json_dim(d) for d in record.output_shape],
            "size": json_dim(arith.simplify(record.size * n)),
            "params": record.params,
            "trainable_params": record.trainable,
            "non_trainable_params": record.non_trainable,
            "macs": json_dim(arith.simplify(record.macs * n)),
            "receptive_field": None if rf is None else {
                "size": [json_rf_size(axis[0]) for axis in rf],
                "jump": [json_rf_size(axis[1]) for axis in rf],
                "start": [json_float(axis[2]) for axis in rf],
            },
        }
        if explain:
            entry["explain"] = record.explain
        group = summary.network.layers[record.index - 1].group
        if group:
            entry["block"] = group[-1]
        layers.append(entry)
    result: dict[str, Any] = {
        "name": summary.name,
        "input": [json_dim(d) for d in summary.input_shape],
        "layers": layers,
        "totals": {
            "params": summary.params,
            "trainable_params": summary.trainable,
            "non_trainable_params": summary.non_trainable,
            "macs": json_dim(arith.simplify(summary.macs * n)),
            "flops": json_dim(arith.simplify(2 * summary.macs * n)),
            "input_size": json_dim(arith.simplify(summary.input_size * n)),
            "outputs": [r.name for r in summary.outputs],
        },
    }
    if n != 1:
        result["batch"] = n
    memory = memory_estimate(summary, n)
    if memory is not None:
        result["totals"]["memory_mb"] = {key[:-3]: round(value, 4) for key, value in memory.items()}
    blocks = block_records(summary)
    if blocks:
        result["blocks"] = [{
            "name": b.name, "depth": b.depth, "layers": [b.first_index, b.last_index],
            "input_shape": [json_dim(d) for d in b.input_shape], "output_shape": [json_dim(d) for d in b.output_shape],
            "params": b.params, "trainable_params": b.trainable, "non_trainable_params": b.non_trainable,
            "macs": json_dim(arith.simplify(b.macs * n))} for b in blocks]
    return result


def render_json(summary: Summary, view: View = DEFAULT_VIEW) -> str:
    """Pretty enough to read (one layer a line) and fast for thousands of layers (the C encoder)."""
    data = summary_dict(summary, view)

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    layers = ",\n    ".join(dump(layer) for layer in data["layers"])
    extra = "".join(f',\n "{key}": {dump(data[key])}' for key in ("batch", "blocks") if key in data)
    return (f'{{"name": {dump(data["name"])},\n "input": {dump(data["input"])},\n'
            f' "layers": [\n    {layers}\n ],\n "totals": {dump(data["totals"])}{extra}}}\n')
