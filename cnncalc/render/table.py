"""The default terminal table (rich)."""

from __future__ import annotations

import io

from ..analysis import Summary
from .common import HEADERS, rows, totals_lines


def render_table(summary: Summary, explain: bool = False, width: int | None = None) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=summary.name, box=box.SIMPLE_HEAD, title_justify="left")
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="right" if i in (0, 3, 4, 5) else "left", no_wrap=i != 1)
    explained = {str(r.index): r.explain for r in summary.records} if explain else {}
    for row in rows(summary):
        table.add_row(*row)
        for line in explained.get(row[0], []):
            table.add_row("", f"  [dim]{_escape(line)}[/dim]", "", "", "", "", "")
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 120, color_system=None, force_terminal=False,
                      legacy_windows=False, soft_wrap=False)
    console.print(table)
    for line in totals_lines(summary):
        console.print(line, highlight=False, markup=False)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def _escape(text: str) -> str:
    return text.replace("[", r"\[")
