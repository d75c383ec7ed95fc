"""The default terminal table (rich)."""

from __future__ import annotations

import io

from ..analysis import Summary
from .common import DEFAULT_VIEW, HEADERS, View, rows, totals_lines


def render_table(summary: Summary, view: View = DEFAULT_VIEW, width: int | None = None) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=summary.name, box=box.SIMPLE_HEAD, title_justify="left")
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="right" if i in (0, 3, 4, 5) else "left", no_wrap=True)
    for row, explain in rows(summary, view):
        table.add_row(*row)
        for line in explain:
            table.add_row("", f"  [dim]{_escape(line)}[/dim]", "", "", "", "", "")
    buffer = io.StringIO()
    # no width given: the table's natural width, so nothing is cut (a terminal may wrap long lines)
    console = Console(file=buffer, width=width or 1000, color_system=None, force_terminal=False,
                      legacy_windows=False, soft_wrap=False)
    console.print(table)
    for line in totals_lines(summary, view):
        console.print(line, highlight=False, markup=False)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def _escape(text: str) -> str:
    return text.replace("[", r"\[")
