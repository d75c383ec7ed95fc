"""The default terminal table: plain text, aligned columns, a rule under the header.

Written by hand rather than with rich: a 200-layer network renders in milliseconds, and the explanation
lines run under their layer without widening the table.
"""

from __future__ import annotations

from ..calc.analysis import Summary
from .common import DEFAULT_VIEW, HEADERS, View, rows, totals_lines

RIGHT = (0, 3, 4, 5)  # columns aligned right: #, Size, Params, MACs
NAME = 1


def render_table(summary: Summary, view: View = DEFAULT_VIEW, width: int | None = None) -> str:
    body = rows(summary, view)
    cells = [list(HEADERS)] + [list(row) for row, _ in body]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]
    natural = 1 + sum(w + 3 for w in widths)
    if width is not None and natural > width:  # fit by shortening layer names (the widest free text)
        widths[NAME] = max(len(HEADERS[NAME]), widths[NAME] - (natural - width))
    offset = 2 + sum(w + 3 for w in widths[:NAME])  # where the layer column starts

    def line(row: list[str]) -> str:
        parts = []
        for i, (cell, w) in enumerate(zip(row, widths)):
            if len(cell) > w:
                cell = cell[: w - 1] + "…"
            parts.append(cell.rjust(w) if i in RIGHT else cell.ljust(w))
        return (" " + " ".join(f" {part} " for part in parts)).rstrip()

    out = [summary.name, "", line(list(HEADERS)), " " + "─" * (sum(w + 3 for w in widths) - 1)]
    for row, explain in body:
        out.append(line(list(row)))
        out.extend(" " * (offset + 2) + text for text in explain)
    out.append("")
    out.extend(totals_lines(summary, view))
    return "\n".join(out) + "\n"
