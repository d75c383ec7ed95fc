"""Plain-text formats: markdown, csv, latex."""

from __future__ import annotations

import csv
import io
import re

from ..calc.analysis import Summary
from ..maths import arith
from .common import DEFAULT_VIEW, Style, View, number, percent, rows, totals_lines


def _markdown_text(text: str) -> str:
    """Names are the user's: characters Markdown would read as markup are escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\g<0>", text)


_MARKDOWN_SPECIAL = re.compile(r"[\\`*_\[\]<>|~]")


def _markdown_explain(line: str) -> str:
    """A worked line in Markdown: sympy's `**` and `*` as ^ and ·, the rest escaped."""
    return _markdown_text(line.replace("**", "^").replace("*", "·"))


def _markdown_dim(value: object) -> str:
    return str(value) if arith.is_int(value) else f"${_sympy_latex(value)}$"


def _markdown_value(value: object) -> str:
    return number(value) if arith.is_int(value) else f"${_sympy_latex(value)}$"


MARKDOWN = Style(text=_markdown_text, value=_markdown_value, dim=_markdown_dim, explain=_markdown_explain)


def render_markdown(summary: Summary, view: View = DEFAULT_VIEW) -> str:
    headers, right = view.headers(), view.right()
    out = [f"### {_markdown_text(summary.name)}", "", "| " + " | ".join(_markdown_text(h) for h in headers) + " |",
           "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"]
    under = view.columns.index("layer") if "layer" in view.columns else len(headers) - 1
    for row, explain in rows(summary, view, MARKDOWN):
        cells = list(row)
        if explain:
            cells[under] += "<br>" + "<br>".join(explain)
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.extend(f"- {line}" for line in totals_lines(summary, view, MARKDOWN))
    return "\n".join(out) + "\n"


#: the CSV fields of each `--columns` name (the default: every field but the percentages)
CSV_FIELDS = {"#": ("index",), "layer": ("name", "type", "inputs"), "shape": ("output_shape",), "size": ("size",),
              "params": ("params", "trainable_params", "non_trainable_params"), "macs": ("macs",),
              "rf": ("rf_size", "rf_jump"), "params%": ("params_percent",), "macs%": ("macs_percent",)}


def render_csv(summary: Summary, view: View = DEFAULT_VIEW) -> str:
    """One row per layer (blocks are a grouping for the eye; a CSV keeps every layer), after a row for the
    input (index 0) and before a `total` row (sizes, parameters and MACs summed over the layers). A shape is
    one cell, its dimensions joined by 'x', a symbolic dimension in parentheses: `28x28x8`, `(n - 2)x(n - 2)x8`;
    a receptive field that covers the whole input is `global`."""
    explain, n = view.explain, view.batch
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = [name for column in view.columns for name in CSV_FIELDS[column]]
    if explain:
        header.append("explain")
    writer.writerow(header)
    params, macs = summary.params, summary.macs
    spatial = len(summary.input_shape) - 1
    ones = "x".join(["1"] * spatial) if spatial >= 1 else "1"
    table = [{"index": 0, "name": "input", "type": "input", "inputs": "",
              "output_shape": "x".join(_csv_dim(d) for d in summary.input_shape),
              "size": arith.simplify(summary.input_size * n), "params": 0, "trainable_params": 0,
              "non_trainable_params": 0, "macs": 0, "rf_size": ones, "rf_jump": ones, "params_percent": "",
              "macs_percent": "", "explain": ""}]
    for r in summary.records:
        rf = r.receptive_field
        table.append({"index": r.index, "name": r.name, "type": r.type, "inputs": " ".join(r.inputs),
                      "output_shape": "x".join(_csv_dim(d) for d in r.output_shape),
                      "size": arith.simplify(r.size * n), "params": r.params, "trainable_params": r.trainable,
                      "non_trainable_params": r.non_trainable, "macs": arith.simplify(r.macs * n),
                      "rf_size": "global" if rf is None else "x".join(_num(a[0]) for a in rf),
                      "rf_jump": "global" if rf is None else "x".join(_num(a[1]) for a in rf),
                      "params_percent": percent(r.params, params).rstrip("%").replace("-", ""),
                      "macs_percent": percent(r.macs, macs).rstrip("%").replace("-", ""),
                      "explain": "; ".join(r.explain)})
    sizes = arith.simplify(sum(r.size for r in summary.records))
    table.append({"index": "", "name": "total", "type": "", "inputs": "", "output_shape": "",
                  "size": arith.simplify(sizes * n), "params": params, "trainable_params": summary.trainable,
                  "non_trainable_params": summary.non_trainable, "macs": arith.simplify(macs * n), "rf_size": "",
                  "rf_jump": "", "params_percent": "100.00" if params else "",
                  "macs_percent": "100.00" if arith.is_int(macs) and macs else "", "explain": ""})
    for row in table:
        writer.writerow([_safe_cell(str(row[name])) for name in header])
    return buffer.getvalue()


def _csv_dim(value: object) -> str:
    return str(value) if arith.is_int(value) else f"({value})"


def _num(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except TypeError:
        return str(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def _safe_cell(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ (also after tabs, CR or spaces): quote them;
    negative numbers stay numbers."""
    first = text.lstrip(" \t\r\n")[:1]
    if text[:1] in ("\t", "\r") or first in ("=", "+", "@") or (first == "-" and not _is_number(text)):
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
                  "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"\textquotedbl{}",
                  "×": r"$\times$", "·": r"$\cdot$", "≈": r"$\approx$", "−": r"$-$", "⌊": r"$\lfloor$",
                  "⌋": r"$\rfloor$", "⌈": r"$\lceil$", "⌉": r"$\rceil$", "→": r"$\rightarrow$",
                  "≤": r"$\le$", "≥": r"$\ge$", "≠": r"$\ne$", "∈": r"$\in$", "⇒": r"$\Rightarrow$",
                  "⇔": r"$\Leftrightarrow$", "√": r"$\surd$", "…": r"\ldots{}", "–": "--", "—": "---",
                  "\n": " ", "\r": " ", "\t": " "}


def latex_escape(text: str) -> str:
    """Text mode LaTeX for any string: specials escaped, the formula signs as math, and characters
    outside what pdflatex's default fonts have written as their code point (never a compile error)."""
    return "".join(_LATEX_SPECIAL.get(ch) or (ch if ch.isascii() and ch.isprintable() or ch in _LATIN1
                                               else f"[U+{ord(ch):04X}]") for ch in text)


# Characters pdflatex reads with its default UTF-8 input and T1 fonts.
_LATIN1 = {chr(c) for c in range(0xA0, 0x180)} - {"\xa0", "\xad", "×"}


def latex_explain(line: str) -> str:
    """A worked line as LaTeX: `floor(x)` as ⌊x⌋, `**k` as a superscript, `*` as a dot, the rest escaped."""
    out: list[str] = []
    closers: list[str] = []
    i = 0
    while i < len(line):
        for name, opening, closing in (("floor(", r"$\lfloor$", r"$\rfloor$"), ("ceiling(", r"$\lceil$", r"$\rceil$"),
                                        ("ceil(", r"$\lceil$", r"$\rceil$")):
            if line.startswith(name, i) and (i == 0 or not line[i - 1].isalnum()):
                out.append(opening)
                closers.append(closing)
                i += len(name)
                break
        else:
            ch = line[i]
            if ch == "(":
                closers.append(")")
                out.append("(")
            elif ch == ")" and closers:
                out.append(closers.pop())
            elif line.startswith("**", i):
                match = re.match(r"\*\*(\d+)", line[i:])
                if match:
                    out.append(f"$^{{{match.group(1)}}}$")
                    i += len(match.group(0))
                    continue
                out.append(latex_escape("^"))
                i += 1
            elif ch == "*":
                out.append(r"$\cdot$")
            else:
                out.append(latex_escape(ch))
            i += 1
    return "".join(out)


def _latex_value(value: object) -> str:
    return number(value) if arith.is_int(value) else f"${_sympy_latex(value)}$"


def _latex_dim(value: object) -> str:
    return str(value) if arith.is_int(value) else f"${_sympy_latex(value)}$"


def _sympy_latex(value: object) -> str:
    import sympy

    return sympy.latex(value)


LATEX = Style(text=latex_escape, value=_latex_value, dim=_latex_dim, explain=latex_explain)


def render_latex(summary: Summary, view: View = DEFAULT_VIEW) -> str:
    """The network's name and a `tabular`, to \\input into a document (symbolic sizes with several cases
    need the amsmath package)."""
    headers, right = view.headers(), view.right()
    align = " ".join("r" if i in right else "l" for i in range(len(headers)))
    out = [r"\noindent\textbf{" + latex_escape(summary.name) + r"}\par\smallskip", "",
           r"\noindent\begin{tabular}{" + align + "}", r"\hline",
           " & ".join(latex_escape(h) for h in headers) + r" \\", r"\hline"]
    for row, explain in rows(summary, view, LATEX):
        out.append(" & ".join(row) + r" \\")
        for line in explain:
            out.append(r"\multicolumn{" + str(len(headers)) + r"}{l}{\quad\small " + line + r"} \\")
    out += [r"\hline", r"\end{tabular}", "", r"\noindent"]
    out.extend(line + r"\\" for line in totals_lines(summary, view, LATEX))
    return "\n".join(out) + "\n"
