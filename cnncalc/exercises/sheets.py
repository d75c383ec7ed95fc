"""Printable sheets for a variant (Markdown, LaTeX, HTML), laid out like the course worksheet, and
the key files that go apart from them."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .key import key_answers, num
from .variants import Variant

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(text: str, data: dict[str, Any]) -> str:
    """``${b}`` in a prompt → the variant's value of b."""
    def value(match: re.Match[str]) -> str:
        item = data.get(match.group(1))
        return num(item) if isinstance(item, (int, float)) else match.group(0)

    return _PLACEHOLDER.sub(value, text)


def _caption(title: str, channel: int, filt: int | None = None) -> str:
    """``display`` titles may place the numbers: "Input channel {c}", "Filter {f}, channel {c}"."""
    if "{c}" in title or "{f}" in title:
        return title.replace("{c}", str(channel + 1)).replace("{f}", str((filt or 0) + 1))
    return f"{title}, channel {channel + 1}" if filt is None else f"{title}, filter {filt + 1}, channel {channel + 1}"


def _tables(name: str, value: Any) -> list[tuple[str, np.ndarray]]:
    """A data item as the 2-D tables a sheet prints: one per channel (or per filter slice)."""
    if not isinstance(value, np.ndarray):
        return []
    if value.ndim == 3 and value.shape[2] == 1:
        return [(name.replace(" {c}", "").replace("{c}", ""), value[:, :, 0])]
    if value.ndim == 3:
        return [(_caption(name, c), value[:, :, c]) for c in range(value.shape[2])]
    if value.ndim == 4 and value.shape[3] == 1:
        return [(_caption(name, c), value[:, :, c, 0]) for c in range(value.shape[2])]
    if value.ndim == 4:
        return [(_caption(name, c, f), value[:, :, c, f]) for f in range(value.shape[3]) for c in range(value.shape[2])]
    if value.ndim <= 2:
        return [(name, np.atleast_2d(value))]
    return []


def sheet_blocks(variant: Variant) -> list[tuple[str, Any]]:
    """The sheet as a neutral list of blocks: (kind, content)."""
    problem = variant.problem
    raw = problem.raw
    titles = raw.get("display") or {}
    blocks: list[tuple[str, Any]] = [("title", problem.title),
                                     ("meta", f"Variant {variant.fingerprint}" + (
                                         f" — {variant.label}" if not variant.seeded else ""))]
    if raw.get("instructions"):
        blocks.append(("text", fill(str(raw["instructions"]), problem.data)))
    for name, value in problem.data.items():
        title = titles.get(name)
        if title is False:
            continue
        for caption, table in _tables(title or name, value):
            blocks.append(("table", (caption, table)))
    for part in problem.parts:
        blocks.append(("part", f"{part.id}) ({num(part.points)} p) " + fill(part.prompt, problem.data).strip()))
        for q in part.questions:
            blocks.append(("question", (q.id, fill(q.prompt, problem.data))))
    template = {"student": variant.label if not variant.seeded else "YOUR ID",
                "variant": variant.fingerprint,
                "answers": {q.id: None for q in problem.questions if q.kind != "manual"}}
    blocks.append(("answers", template))
    return blocks


def render_sheet(variant: Variant, fmt: str = "markdown") -> str:
    return {"markdown": _markdown, "latex": _latex, "html": _html}[fmt](sheet_blocks(variant))


def _markdown(blocks: list[tuple[str, Any]]) -> str:
    out: list[str] = []
    for kind, content in blocks:
        if kind == "title":
            out += [f"# {content}", ""]
        elif kind == "meta":
            out += [f"*{_md(content)}*", ""]
        elif kind == "text":
            out += [content.strip(), ""]
        elif kind == "table":
            caption, table = content
            out += [f"**{caption}**", "", "| " + " | ".join(" " for _ in range(table.shape[1])) + " |",
                    "|" + "---:|" * table.shape[1]]
            out += ["| " + " | ".join(num(v) for v in row) + " |" for row in table]
            out.append("")
        elif kind == "part":
            if out and out[-1] != "":
                out.append("")
            out += [f"## {content}", ""]
        elif kind == "question":
            qid, prompt = content
            out += [f"- **[{qid}]** {prompt}"]
        elif kind == "answers":
            out += ["", "## Answer file", "", "Copy, fill in and hand in (YAML):", "", "```yaml",
                    _yaml_template(content), "```", ""]
    return "\n".join(out).rstrip() + "\n"


def _md(text: str) -> str:
    """Text from a roster (the student id in the meta line) as literal Markdown on one line."""
    from .report import md

    return md(text, 1000)


def _yaml_template(template: dict[str, Any], latex: bool = False) -> str:
    """The answer-file template. Values are written by the JSON serializer (a JSON string is a YAML
    double-quoted scalar), so every id reads back exactly: ``"0012345"``, ``"yes"``, ``"#hash"``,
    ``"a: b"``. Question ids stay plain where YAML reads them back as the same text."""
    lines = [f"student: {_quoted(template['student'], latex)}", f"variant: {_quoted(template['variant'], latex)}",
             "answers:"]
    lines += [f"  {_key(qid, latex)}:" for qid in template["answers"]]
    return "\n".join(lines)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_NOT_SHOWN = re.compile("[^\\S ]|[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _quoted(text: str, latex: bool = False) -> str:
    """A double-quoted scalar; invisible and line-breaking characters as escapes; in LaTeX no backslash
    of the text survives as one (\\u005c), so nothing can end the verbatim block."""
    quoted = json.dumps(str(text), ensure_ascii=False)
    quoted = _NOT_SHOWN.sub(lambda m: f"\\u{ord(m.group(0)):04x}", quoted)
    return quoted.replace("\\\\", "\\u005c") if latex else quoted


def _key(qid: str, latex: bool) -> str:
    import yaml

    plain = _PLAIN_KEY.fullmatch(qid) and yaml.resolver.Resolver().resolve(
        yaml.ScalarNode, qid, (True, False)) == "tag:yaml.org,2002:str"
    return qid if plain else _quoted(qid, latex)


_TEX = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "×": r"$\times$", "−": "-", "·": r"$\cdot$",
        "⌊": r"$\lfloor$", "⌋": r"$\rfloor$"}


def _tex(text: str) -> str:
    # a control character or line separator from a roster or prompt must not reach LaTeX as such
    return "".join(_TEX.get(ch, ch if ch.isprintable() or ch == "\n" else " ") for ch in str(text))


def _latex(blocks: list[tuple[str, Any]]) -> str:
    out = [r"\documentclass{article}", r"\usepackage[utf8]{inputenc}", r"\begin{document}"]
    for kind, content in blocks:
        if kind == "title":
            out.append(r"\section*{" + _tex(content) + "}")
        elif kind == "meta":
            out.append(r"\textit{" + _tex(content) + r"}\par")
        elif kind == "text":
            out.append(_tex(content) + r"\par")
        elif kind == "table":
            caption, table = content
            out += [r"\par\medskip\textbf{" + _tex(caption) + r"}\par",
                    r"\begin{tabular}{|" + "r|" * table.shape[1] + r"}\hline"]
            out += [" & ".join(_tex(num(v)) for v in row) + r" \\ \hline" for row in table]
            out.append(r"\end{tabular}")
        elif kind == "part":
            out.append(r"\subsection*{" + _tex(content) + "}")
        elif kind == "question":
            qid, prompt = content
            out.append(r"\noindent\texttt{[" + _tex(qid) + "]} " + _tex(prompt) + r"\par")
        elif kind == "answers":
            out += [r"\subsection*{Answer file}", r"\begin{verbatim}", _yaml_template(content, latex=True),
                    r"\end{verbatim}"]
    out.append(r"\end{document}")
    return "\n".join(out) + "\n"


def _html(blocks: list[tuple[str, Any]]) -> str:
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8"><title>sheet</title>',
           ("<style>table{border-collapse:collapse;margin:.5em 0}td{border:1px solid #999;padding:2px 8px;"
           "text-align:right}</style></head><body>")]
    for kind, content in blocks:
        if kind == "title":
            out[1] = f'<html><head><meta charset="utf-8"><title>{esc(content)}</title>'
            out.append(f"<h1>{esc(content)}</h1>")
        elif kind == "meta":
            out.append(f"<p><em>{esc(content)}</em></p>")
        elif kind == "text":
            out.append(f"<p>{esc(content)}</p>")
        elif kind == "table":
            caption, table = content
            rows = "".join("<tr>" + "".join(f"<td>{esc(num(v))}</td>" for v in row) + "</tr>" for row in table)
            out.append(f"<p><strong>{esc(caption)}</strong></p><table>{rows}</table>")
        elif kind == "part":
            out.append(f"<h2>{esc(content)}</h2>")
        elif kind == "question":
            qid, prompt = content
            out.append(f"<p><code>[{esc(qid)}]</code> {esc(prompt)}</p>")
        elif kind == "answers":
            out.append(f"<h2>Answer file</h2><pre>{esc(_yaml_template(content))}</pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def key_document(variant: Variant) -> dict[str, Any]:
    problem = variant.problem
    return {"problem": problem.id, "version": problem.version, "variant": variant.fingerprint,
            "student": variant.label, "answers": key_answers(problem, variant.key),
            "solutions": {qid: expected.solution for qid, expected in variant.key.items()}}


def key_json(variant: Variant) -> str:
    return json.dumps(key_document(variant), ensure_ascii=False, indent=1)


def write_variants(folder: Path, labels: list[str], makers: list[Callable[[], Variant]], fmt: str,
                   force: bool = False) -> list[str]:
    """Sheets in ``folder/sheets``, keys (and ``index.csv``) apart in ``folder/keys``; each file atomic.

    The folder is checked before anything is written (see :mod:`.generated`: a folder or a file that
    `generate` did not write is refused unless ``force``); files of an earlier run that this one does not
    write are removed. Returns the removed files."""
    from .generated import OutputFolder
    from .grading import safe_file_stem
    from .report import csv_line

    extension = {"markdown": "md", "latex": "tex", "html": "html"}[fmt]
    used: set[str] = set()
    stems = [safe_file_stem(label, used) for label in labels]
    out = OutputFolder(folder, force)
    first = makers[0]() if makers else None  # a problem whose constraints never hold leaves no trace
    out.plan([name for stem in stems for name in (f"sheets/{stem}.{extension}", f"keys/{stem}.json")]
             + ["keys/index.csv"])
    index = [csv_line(["student", "variant", "sheet", "key"])]
    for i, (stem, make) in enumerate(zip(stems, makers)):
        variant = first if i == 0 and first is not None else make()
        out.write(f"sheets/{stem}.{extension}", render_sheet(variant, fmt))
        out.write(f"keys/{stem}.json", key_json(variant))
        index.append(csv_line([variant.label, variant.fingerprint, f"sheets/{stem}.{extension}", f"keys/{stem}.json"]))
    out.write("keys/index.csv", "".join(index))
    return out.finish()
