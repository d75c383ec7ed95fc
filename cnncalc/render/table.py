"""The default terminal table: plain text, aligned columns, a rule under the header.

Written by hand rather than with rich: a 200-layer network renders in milliseconds, and the explanation
lines run under their layer without widening the table.
"""

from __future__ import annotations

from ..calc.analysis import Summary
from .common import DEFAULT_VIEW, View, rows, totals_lines

NARROWEST = 4  # no column gets narrower than this


def render_table(summary: Summary, view: View = DEFAULT_VIEW, width: int | None = None) -> str:
    """The table at its natural width, or, with `width`, fitted into that many characters: the widest
    columns give way first and their cells wrap onto more lines; numbers wrap only if nothing else can."""
    body = rows(summary, view)
    headers, right = view.headers(), view.right()
    cells = [list(headers)] + [list(row) for row, _ in body]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    if width is not None:
        widths = _fit(widths, cells, width, right)
    name = view.columns.index("layer") if "layer" in view.columns else 0
    offset = 2 + sum(w + 3 for w in widths[:name])  # where the layer column starts
    total = sum(w + 3 for w in widths) + 1

    # at the natural width every cell fits its column: one line a row, each cell padded by str.format
    one_line = None if width is not None else " " + " ".join(
        f" {{:{'>' if i in right else '<'}{w}}} " for i, w in enumerate(widths))

    def lines(row: list[str]) -> list[str]:
        if one_line is not None:
            return [one_line.format(*row).rstrip()]
        wrapped = [_wrap(cell, w) for cell, w in zip(row, widths)]
        out = []
        for k in range(max(len(parts) for parts in wrapped)):
            parts = []
            for i, (column, w) in enumerate(zip(wrapped, widths)):
                cell = column[k] if k < len(column) else ""
                parts.append(cell.rjust(w) if i in right else cell.ljust(w))
            out.append((" " + " ".join(f" {part} " for part in parts)).rstrip())
        return out

    out = [*_wrap(summary.name, width or len(summary.name) or 1), "", *lines(list(headers)), " " + "─" * (total - 2)]
    explain_indent = offset + 2 if width is None or width - offset - 2 >= 30 else 4
    for row, explain in body:
        out.extend(lines(list(row)))
        for text in explain:
            out.extend(" " * explain_indent + part
                       for part in _wrap(text, (width - explain_indent) if width else len(text) or 1))
    out.append("")
    for text in totals_lines(summary, view):
        out.extend(_wrap(text, width or len(text) or 1))
    return "\n".join(out) + "\n"


def _fit(widths: list[int], cells: list[list[str]], width: int, right: frozenset[int]) -> list[int]:
    """Column widths that add up to at most `width` characters. Columns give way in three rounds, each
    only if the one before was not enough: down to their longest word (nothing breaks inside a word), then
    text columns down to a few characters (numbers stay whole), then every column."""
    widths = list(widths)
    words = [max(len(word) for row in cells for word in row[i].split() or [""]) for i in range(len(widths))]
    rounds = ([min(words[i], widths[i]) for i in range(len(widths))],
              [min(words[i], widths[i]) if i in right else NARROWEST for i in range(len(widths))],
              [NARROWEST] * len(widths))
    for floor in rounds:
        while sum(w + 3 for w in widths) + 1 > width:
            room = [w - f for w, f in zip(widths, floor)]
            i = max(range(len(widths)), key=lambda k: room[k])
            if room[i] <= 0:
                break
            widths[i] -= 1
    return widths


def _wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    import textwrap  # only for a table given a --width

    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]
