"""`cnncalc memory`'s table: one row per layer (bytes of weights, gradients, optimizer states, the tensors
backward keeps, the bytes live in an inference pass while the layer runs), then the totals; laid out as
`summary`'s table is."""

from __future__ import annotations

from ..calc.memory import MemoryReport
from .common import shape_text
from .table import _fit, _wrap

HEADERS = ("#", "Layer (type)", "Output shape", "Weights", "Gradients", "Optimizer", "Saved (backward)",
           "Live (inference)")
RIGHT = (0, 3, 4, 5, 6, 7)
MIB = 1024 * 1024


def size_text(value: int) -> str:
    """Bytes with separators, and MiB from 0.01 MiB up.

    >>> size_text(251832), size_text(100)
    ('251,832 B (0.24 MiB)', '100 B')
    """
    return f"{value:,} B" + (f" ({value / MIB:,.2f} MiB)" if value >= MIB / 100 else "")


def _cell(value: int) -> str:
    return f"{value:,}" if value else "-"


def totals_lines(report: MemoryReport) -> list[str]:
    mixed = report.dtype == "mixed"
    dtype = "float16 with float32 master weights" if mixed else report.dtype
    lines = [f"Weights: {size_text(report.weights)}",
             f"Gradients: {size_text(report.gradients)}",
             (f"Optimizer states ({report.optimizer}{', float32 master weights' if mixed else ''}): "
             f"{size_text(report.optimizer_states)}"),
             f"Saved for backward ({report.framework} rules): {size_text(report.saved)}"
             + (f", the input's {report.input_saved:,} B included" if report.input_saved else ""),
             f"Training step: {size_text(report.training_total)}  (batch {report.batch}, {dtype})",
             (f"Inference peak: {size_text(report.inference_peak)} at {report.inference_peak_layer} (spec order; "
             "each activation freed after its last use)")]
    if report.inference_order is not None:
        listed = {layer.name: k for k, layer in enumerate(report.layers)}
        moved = [name for k, name in enumerate(report.inference_order) if k < listed[name]]
        shown = ", ".join(moved[:6]) + (", …" if len(moved) > 6 else "")
        how = "found" if report.best_is_exact else "found by a greedy search (the DAG has too many orders to try)"
        lines.append(f"Best order {how}: {size_text(report.inference_best)}, running {shown} earlier "
                     "(--format json lists it)")
    return lines


def render_memory_table(report: MemoryReport, explain: bool = False, width: int | None = None) -> str:
    body = [([str(layer.index), f"{layer.name} ({layer.type})", shape_text(layer.output_shape),
              _cell(layer.weights), _cell(layer.gradients), _cell(layer.optimizer), _cell(layer.saved),
              f"{layer.live:,}"], layer.rules if explain else []) for layer in report.layers]
    cells = [list(HEADERS), ["", "input", shape_text(report.input_shape), "", "", "", _cell(report.input_saved),
                                      f"{report.input_bytes:,}"], *(row for row, _ in body)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]
    if width is not None:
        widths = _fit(widths, cells, width, frozenset(RIGHT))
    total = sum(w + 3 for w in widths) + 1
    indent = 2 + sum(w + 3 for w in widths[:1]) + 2

    def lines(row: list[str]) -> list[str]:
        wrapped = [_wrap(cell, w) for cell, w in zip(row, widths)]
        out = []
        for k in range(max(len(parts) for parts in wrapped)):
            parts = [(column[k] if k < len(column) else "").rjust(w) if i in RIGHT else
                     (column[k] if k < len(column) else "").ljust(w)
                     for i, (column, w) in enumerate(zip(wrapped, widths))]
            out.append((" " + " ".join(f" {part} " for part in parts)).rstrip())
        return out

    out = [*_wrap(report.name, width or len(report.name) or 1), "", *lines(cells[0]), " " + "─" * (total - 2),
           *lines(cells[1])]
    for row, rules in body:
        out.extend(lines(row))
        for text in rules:
            out.extend(" " * indent + part for part in _wrap(text, (width - indent) if width else len(text) or 1))
    out.append("")
    for text in totals_lines(report):
        out.extend(_wrap(text, width or len(text) or 1))
    return "\n".join(out) + "\n"
