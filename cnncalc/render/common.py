"""Values and rows shared by every renderer."""

from __future__ import annotations

from typing import Any

from .. import arith
from ..analysis import LayerRecord, Summary

HEADERS = ("#", "Layer (type)", "Output shape", "Size", "Params", "MACs", "Receptive field")


def number(value: Any) -> str:
    return f"{value:,}" if arith.is_int(value) else str(value)


def shape_text(shape: Any) -> str:
    inner = ", ".join(str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def json_dim(value: Any) -> Any:
    """Dims as JSON: ints stay ints, symbolic expressions become strings."""
    if arith.is_int(value):
        return value
    if getattr(value, "is_Integer", False):
        return int(value)
    return str(value)


def json_float(value: Any) -> Any:
    try:
        number_value = float(value)
    except TypeError:
        return str(value)
    return number_value


def json_rf_size(value: Any) -> Any:
    try:
        number_value = float(value)
    except TypeError:
        return str(value)
    return int(number_value) if number_value.is_integer() else number_value


def rf_text(record: LayerRecord) -> str:
    rf = record.receptive_field
    if rf is None:
        return "global"
    sizes = [json_rf_size(axis[0]) for axis in rf]
    jumps = [json_rf_size(axis[1]) for axis in rf]
    size = f"{sizes[0]}" if sizes[0] == sizes[1] else f"{sizes[0]}×{sizes[1]}"
    jump = f"{jumps[0]}" if jumps[0] == jumps[1] else f"{jumps[0]}×{jumps[1]}"
    return f"{size} (jump {jump})"


def params_text(record: LayerRecord) -> str:
    if record.non_trainable:
        return f"{number(record.params)} ({number(record.non_trainable)} non-train.)"
    return number(record.params) if record.params else "-"


def rows(summary: Summary) -> list[tuple[str, ...]]:
    table = [("", "input", shape_text(summary.input_shape), number(summary.input_size), "-", "-", "1")]
    for record in summary.records:
        table.append((
            str(record.index),
            f"{record.name} ({record.type})",
            shape_text(record.output_shape),
            number(record.size),
            params_text(record),
            number(record.macs) if record.macs else "-",
            rf_text(record),
        ))
    return table


def totals_lines(summary: Summary) -> list[str]:
    macs = summary.macs
    flops = 2 * macs
    return [
        f"Total params: {number(summary.params)}",
        f"Trainable params: {number(summary.trainable)}",
        f"Non-trainable params: {number(summary.non_trainable)}",
        f"MACs: {number(macs)} (FLOPs ≈ 2·MACs = {number(arith.simplify(flops))})",
    ]
