"""Values and rows shared by every renderer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..calc.analysis import LayerRecord, Summary, block_records
from ..maths import arith

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
    return _rf(record.receptive_field)


def params_text(record: LayerRecord) -> str:
    if record.non_trainable:
        return f"{number(record.params)} ({number(record.non_trainable)} non-train.)"
    return number(record.params) if record.params else "-"


@dataclass(frozen=True)
class View:
    """What the user asked to see: worked formulas, block depth (None: every layer), batch size."""

    explain: bool = False
    depth: int | None = None
    batch: int = 1


DEFAULT_VIEW = View()


def rows(summary: Summary, view: View = DEFAULT_VIEW) -> list[tuple[tuple[str, ...], list[str]]]:
    """Table rows, each with the explanation lines that go under it."""
    n = view.batch
    table: list[tuple[tuple[str, ...], list[str]]] = [
        (("", "input", shape_text(summary.input_shape), number(arith.simplify(summary.input_size * n)), "-", "-",
          "1"), [])]
    blocks = {b.name: b for b in block_records(summary)} if view.depth is not None else {}
    shown: set[str] = set()
    for record in summary.records:
        group = summary.network.layers[record.index - 1].group
        if view.depth is not None and len(group) >= view.depth:
            block = blocks[group[view.depth - 1]]
            if block.name in shown:
                continue
            shown.add(block.name)
            index = f"{block.first_index}–{block.last_index}"
            params = number(block.params) + (f" ({number(block.non_trainable)} non-train.)"
                                             if block.non_trainable else "")
            shapes = f"{shape_text(block.input_shape)} → {shape_text(block.output_shape)}"
            table.append(((index, f"{block.name} (block)", shapes, number(arith.simplify(block.size * n)),
                           params if block.params else "-", number(arith.simplify(block.macs * n)) if block.macs else "-",
                           _rf(block.receptive_field)), []))
            continue
        table.append(((
            str(record.index),
            f"{record.name} ({record.type})",
            shape_text(record.output_shape),
            number(arith.simplify(record.size * n)),
            params_text(record),
            number(arith.simplify(record.macs * n)) if record.macs else "-",
            rf_text(record),
        ), record.explain if view.explain else []))
    return table


def totals_lines(summary: Summary, view: View = DEFAULT_VIEW) -> list[str]:
    n = view.batch
    macs = arith.simplify(summary.macs * n)
    flops = arith.simplify(2 * macs)
    per = f" for a batch of {n}" if n > 1 else ""
    lines = [
        f"Total params: {number(summary.params)}",
        f"Trainable params: {number(summary.trainable)}",
        f"Non-trainable params: {number(summary.non_trainable)}",
        f"MACs{per}: {number(macs)} (FLOPs ≈ 2·MACs = {number(flops)})",
    ]
    memory = memory_estimate(summary, n)
    if memory is not None:
        lines += [f"Input size (MB): {memory['input_mb']:,.2f}",
                  f"Forward/backward pass size (MB): {memory['forward_backward_mb']:,.2f}",
                  f"Params size (MB): {memory['params_mb']:,.2f}",
                  f"Estimated total size (MB): {memory['total_mb']:,.2f}  (float32; every layer's output kept for the backward pass)"]
    return lines


def memory_estimate(summary: Summary, batch: int = 1) -> dict[str, float] | None:
    """torchinfo-style figures: float32; every layer's output kept for the backward pass (×2)."""
    activations = sum(r.size for r in summary.records)
    if not arith.is_int(activations) or not arith.is_int(summary.input_size):
        return None
    input_mb = summary.input_size * batch * 4 / 1e6
    forward_backward_mb = activations * batch * 4 * 2 / 1e6
    params_mb = summary.params * 4 / 1e6
    return {"input_mb": input_mb, "forward_backward_mb": forward_backward_mb, "params_mb": params_mb,
            "total_mb": input_mb + forward_backward_mb + params_mb}


def _rf(rf: Any) -> str:
    if rf is None:
        return "global"
    sizes = [json_rf_size(axis[0]) for axis in rf]
    # fractional jumps (upsampling, transposed convs) to 4 significant digits: 0.5, 0.3333
    jumps = [f"{j:.4g}" if isinstance(j, float) else j for j in (json_rf_size(axis[1]) for axis in rf)]
    size = f"{sizes[0]}" if len(set(map(str, sizes))) == 1 else "×".join(map(str, sizes))
    jump = f"{jumps[0]}" if len(set(map(str, jumps))) == 1 else "×".join(map(str, jumps))
    return f"{size} (jump {jump})"
