"""Plain-text formats: markdown, csv, latex."""

from __future__ import annotations

import csv
import io

from ..calc.analysis import Summary
from .common import DEFAULT_VIEW, HEADERS, View, rows, totals_lines


def render_markdown(summary: Summary, view: View = DEFAULT_VIEW) -> str:
    out = [f"### {summary.name}", "", "| " + " | ".join(HEADERS) + " |",
           "|" + "|".join("---:" if i in (0, 3, 4, 5) else "---" for i in range(len(HEADERS))) + "|"]
    for row, explain in rows(summary, view):
        cells = [cell.replace("|", r"\|") for cell in row]
        if explain:
            cells[1] += "<br>" + "<br>".join(line.replace("|", r"\|") for line in explain)
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.extend(f"- {line}" for line in totals_lines(summary, view))
    return "\n".join(out) + "\n"


def render_csv(summary: Summary, view: View = DEFAULT_VIEW) -> str:
    """One row per layer (blocks are a grouping for the eye; a CSV keeps every layer)."""
    explain, n = view.explain, view.batch
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["index", "name", "type", "inputs", "output_shape", "size", "params", "trainable_params",
              "non_trainable_params", "macs", "rf_size", "rf_jump"]
    if explain:
        header.append("explain")
    writer.writerow(header)
    for r in summary.records:
        rf = r.receptive_field
        row = [r.index, r.name, r.type, " ".join(r.inputs), "x".join(str(d) for d in r.output_shape), r.size * n,
               r.params, r.trainable, r.non_trainable, r.macs * n,
               "" if rf is None else "x".join(_num(a[0]) for a in rf),
               "" if rf is None else "x".join(_num(a[1]) for a in rf)]
        if explain:
            row.append("; ".join(r.explain))
        writer.writerow([_safe_cell(str(cell)) for cell in row])
    return buffer.getvalue()


def _num(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except TypeError:
        return str(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def _safe_cell(text: str) -> str:
    """Spreadsheets run cells that start with = + - @; quote them (negative numbers stay numbers)."""
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
                  "×": r"$\times$", "·": r"$\cdot$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def render_latex(summary: Summary, view: View = DEFAULT_VIEW) -> str:
    out = [r"\begin{tabular}{r l l r r r l}", r"\hline",
           " & ".join(latex_escape(h) for h in HEADERS) + r" \\", r"\hline"]
    for row, explain in rows(summary, view):
        out.append(" & ".join(latex_escape(cell) for cell in row) + r" \\")
        for line in explain:
            out.append(r"\multicolumn{7}{l}{\quad\small " + latex_escape(line) + r"} \\")
    out += [r"\hline", r"\end{tabular}", ""]
    out.extend(latex_escape(line) + r"\\" for line in totals_lines(summary, view))
    return "\n".join(out) + "\n"
