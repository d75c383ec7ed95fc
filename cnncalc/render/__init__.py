"""Renderers for a :class:`~cnncalc.calc.analysis.Summary`: table, json, markdown, csv, latex, html."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..calc.analysis import Summary

FORMATS = ("table", "json", "markdown", "csv", "latex", "html")


def render(summary: Summary, fmt: str, explain: bool = False, width: int | None = None, depth: int | None = None,
           batch: int = 1, columns: str | Sequence[str] | None = None) -> str:
    from ..errors import CnnCalcError
    from .common import View, parse_columns

    if columns is not None and fmt in ("json", "html"):
        raise CnnCalcError(f"--columns is for the table, markdown, csv and latex formats, not {fmt}", got=fmt,
                           expected="table, markdown, csv or latex")
    view = View(explain, depth, batch, parse_columns(columns))
    renderers: dict[str, Callable[..., str]]
    if fmt == "json":
        from .jsonfmt import render_json

        return render_json(summary, view)
    if fmt == "html":
        from .html import render_html

        return render_html(summary, view)
    if fmt == "table":
        from .table import render_table

        return render_table(summary, view, width)
    from .text import render_csv, render_latex, render_markdown

    renderers = {"markdown": render_markdown, "csv": render_csv, "latex": render_latex}
    return renderers[fmt](summary, view)
