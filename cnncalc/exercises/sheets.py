"""Printable sheets for a variant (Markdown, LaTeX, HTML), laid out like the course worksheet, and
the key files that go apart from them."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CnnCalcError
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


def sheet_blocks(variant: Variant, figures: list[tuple[str, Any, Any]] | None = None) -> list[tuple[str, Any]]:
    """The sheet as a neutral list of blocks: (kind, content); ``figures`` are the problem's
    :func:`network_figures` where the caller has them already."""
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
    blocks.extend(("figure", figure) for figure in (network_figures(problem) if figures is None else figures))
    for part in problem.parts:
        blocks.append(("part", (part_label(part.id, part.points), fill(part.prompt, problem.data).strip())))
        for q in part.questions:
            blocks.append(("question", (q.id, fill(q.prompt, problem.data))))
    template = {"student": variant.label if not variant.seeded else "YOUR ID",
                "variant": variant.fingerprint,
                "answers": {q.id: None for q in problem.questions if q.kind != "manual"}}
    blocks.append(("answers", template))
    return blocks


def part_label(pid: str, points: float) -> str:
    """A part's heading before its prompt: ``a) (0.5 p)`` for a letter or number as the course numbers
    its parts, ``shapes (4 p)`` for a word (``shapes)`` would read as a stray parenthesis)."""
    mark = f"{pid})" if re.fullmatch(r"[A-Za-z0-9]{1,2}", pid) else pid
    return f"{mark} ({num(points)} p)"


def network_figures(problem: Any) -> list[tuple[str, Any, Any]]:
    """(name, diagram layout, conv figure or None) for each network of the exercise that builds: what the
    HTML and LaTeX sheets draw. Shapes past the input are hidden (they are what students work out), and a
    one-convolution network's figure shows the padded input and the kernel, not the output."""
    from ..calc.analysis import analyse
    from ..render.convfig import figure_for_network
    from ..render.diagram import layout
    from ..spec.network import build_network
    from .problem import resolve_refs

    figures = []
    for name, spec in problem.networks.items():
        try:
            summary = analyse(build_network(resolve_refs(spec, problem.data), problem.source))
        except CnnCalcError:
            continue  # the key reports a network that does not build
        figures.append((name, layout(summary, hide_shapes=True), figure_for_network(summary)))
    return figures


def render_sheet(variant: Variant, fmt: str = "markdown") -> str:
    if fmt == "html":
        return _html(sheet_blocks(variant), answer_fields(variant))
    return {"markdown": _markdown, "latex": _latex}[fmt](sheet_blocks(variant))


def answer_fields(variant: Variant) -> dict[str, dict[str, Any]]:
    """What the HTML answer form asks for each question: its kind, a placeholder and an example for its
    messages. Both come from :func:`.answers.example`, which never shows the variant's key; nothing
    else of the key reaches the page (no grid of the map's size: that size is often asked too)."""
    from .answers import example

    fields: dict[str, dict[str, Any]] = {}
    for q in variant.problem.questions:
        key = variant.key[q.id].value
        shown = example(q.kind, key) if q.kind != "manual" else ""
        fields[q.id] = {"kind": q.kind, "example": shown, "placeholder": _placeholder(q.kind, key)}
    return fields


def _placeholder(kind: str, key: Any) -> str:
    from .answers import neutral, size_text

    value = neutral(kind, key)
    if kind == "shape":
        return "whole numbers, e.g. " + "×".join(map(str, value))
    if kind == "pair":
        return f"before, after — e.g. {value[0]}, {value[1]}"
    if kind == "sizes":
        return "sizes, e.g. " + size_text(value)
    if kind == "expression":
        return "an expression, e.g. " + value
    if kind == "yesno":
        return "yes or no"
    if kind == "matrix":
        return "one row per line, numbers between spaces or commas"
    return {"count": "a whole number", "number": "a whole number", "value": "a number"}.get(kind, "your answer")


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
            out += [f"## {' '.join(t for t in content if t)}", ""]
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
        "⌊": r"$\lfloor$", "⌋": r"$\rfloor$", "⌈": r"$\lceil$", "⌉": r"$\rceil$", "→": r"$\rightarrow$",
        "∈": r"$\in$", "≤": r"$\le$", "≥": r"$\ge$", "⋅": r"$\cdot$", "…": r"\ldots{}"}


def _tex(text: str) -> str:
    # a control character or line separator from a roster or prompt must not reach LaTeX as such
    return "".join(_TEX.get(ch, ch if ch.isprintable() or ch == "\n" else " ") for ch in str(text))


def _latex(blocks: list[tuple[str, Any]]) -> str:
    from ..render import convfig, diagram

    figures = any(kind == "figure" for kind, _ in blocks)
    out = [r"\documentclass{article}", r"\usepackage[utf8]{inputenc}"] + ([r"\usepackage{tikz}"] if figures else []) \
        + [r"\begin{document}"]
    for kind, content in blocks:
        if kind == "figure":
            name, drawn, figure = content
            out += [r"\par\medskip\textbf{Network " + _tex(name) + r"}\par\smallskip", diagram.tikz(drawn)]
            if figure is not None:
                out += [r"\par\smallskip", convfig.tikz(figure, show_output=False)]
            continue
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
            label, prompt = content
            out.append(r"\subsection*{" + _tex(label) + "}" + (_tex(prompt) + r"\par" if prompt else ""))
        elif kind == "question":
            qid, prompt = content
            out.append(r"\noindent\texttt{[" + _tex(qid) + "]} " + _tex(prompt) + r"\par")
        elif kind == "answers":
            out += [r"\subsection*{Answer file}", r"\begin{verbatim}", _yaml_template(content, latex=True),
                    r"\end{verbatim}"]
    out.append(r"\end{document}")
    return "\n".join(out) + "\n"


# The answer form works offline in one file: no server, no network (the policy below forbids every
# fetch); the browser builds the answer file and saves it through a Blob link.
CONTENT_POLICY = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"

_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}"
          "table{border-collapse:collapse;margin:.5em 0}td{border:1px solid #999;padding:2px 8px;text-align:right}"
          ".answer{margin:.3em 0 1em 2em}.answer input,.answer textarea{font:inherit;max-width:100%}"
          ".answer textarea{font-family:monospace;vertical-align:top}.bad{outline:2px solid #c00;background:#fee}"
          ".msg{color:#c00;margin-left:.5em}#form-errors{color:#c00}#form-notes{color:#555}"
          "#answer-form{border-top:2px solid #333;margin-top:2em;padding-top:.5em}"
          "pre{background:#f4f4f4;padding:.5em;overflow-x:auto}.figure{overflow-x:auto;margin:.5em 0}"
          ".figure svg{max-width:100%;height:auto}")


def _answer_input(qid: str, field: dict[str, Any]) -> str:
    esc = html.escape
    kind = field["kind"]
    if kind == "manual":
        return '<div class="answer manual"><em>Graded by the instructor (not part of the answer file).</em></div>'
    attrs = (f'class="answer" data-qid="{esc(qid)}" data-kind="{esc(kind)}" '
             f'data-example="{esc(field.get("example", ""))}"')
    placeholder = esc(field.get("placeholder", "your answer"))
    if kind == "matrix":
        box = (f'<textarea rows="4" cols="50" spellcheck="false" placeholder="{placeholder}" '
               f'aria-label="answer to {esc(qid)}: a map, one row per line"></textarea>')
    else:
        mode = ' inputmode="decimal"' if kind in ("count", "number") else ""
        width = max(30, len(field.get("placeholder", "")) + 4)
        box = (f'<input type="text"{mode} size="{width}" spellcheck="false" placeholder="{placeholder}" '
               f'aria-label="answer to {esc(qid)}">')
    return f'<div {attrs}>{box}<span class="msg" role="alert"></span></div>'


def _form(template: dict[str, Any]) -> str:
    esc = html.escape
    seeded = template["student"] == "YOUR ID"
    student = "" if seeded else esc(template["student"])
    return (
        '<section id="answer-form"><h2>Hand in</h2>'
        '<p>Fill in your answers above, check your id, then save the answer file and hand it in. '
        'Nothing leaves this page: the file is made by your browser.</p>'
        f'<p><label>Student id: <input type="text" id="student" value="{student}" size="30"></label> '
        f'<label>Variant: <input type="text" id="variant" value="{esc(template["variant"])}" readonly size="12">'
        '</label></p>'
        '<p>File format: <label><input type="radio" name="format" value="yaml" checked> YAML</label> '
        '<label><input type="radio" name="format" value="json"> JSON</label></p>'
        '<p><button type="button" id="save">Check and save the answer file</button></p>'
        '<ul id="form-errors" role="alert"></ul><p id="form-notes"></p><pre id="preview" hidden></pre></section>')


# The form reads each kind as cnncalc.exercises.answers does (the same forms, the same refusals: the test
# of every shipped problem holds the two to one table) and saves the value the grader compares, so a
# saved file reads the same as a hand-written one; an expression is saved as typed, for the grader to read.
_SCRIPT = r"""
(function () {
  "use strict";
  var MINUS = /[\u2212\u2013\u2010\u2011\u2014]/g;
  var PLAIN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  var GROUPED = /^[+-]?\d{1,3}([, _'\u2019])\d{3}(\1\d{3})*(\.\d+)?$/;
  var DECIMAL_COMMA = /^[+-]?\d+,\d+$/;
  var FRACTION = /^([+-]?\d{1,30})\s*\/\s*(\d{1,30})$/;
  var WHOLE = /^[+-]?\d{1,30}(\.0*)?$/;
  var LIST_SEPARATOR = /\s*[,;\u00d7xX]\s*|\s+/;
  var RANGE_SEPARATOR = /(?<=\d)\s*(?:\.\.\.?|[-\u2013\u2014]|to)\s*(?=\d)/g;
  var MIN_MAX = /^\{?\s*min\s*[:=]?\s*(\d{1,30})\s*[,;]?\s*max\s*[:=]?\s*(\d{1,30})\s*\}?$/i;
  var NAMED = /^[A-Za-z_]\w*\s*(?:\u2208|=|:|\bin\b)\s*(?=\S)/;
  var SIZE_ITEM = /^(\d{1,30})(?:\u2025(\d{1,30}))?$/;
  var ENCLOSING = {"[": "]", "(": ")", "{": "}"};
  var MAX_ITEMS = 10000;
  function nfkc(text) { return text.normalize("NFKC"); }
  function quoted(text) { return "\u201c" + text.slice(0, 40) + "\u201d"; }
  function unwrapped(t) { return t.length >= 2 && ENCLOSING[t[0]] === t[t.length - 1] ? t.slice(1, -1).trim() : t; }
  function finite(v, raw) {
    return isFinite(v) ? {value: v} : {error: "a finite number is expected (got " + quoted(raw) + ")"};
  }
  function number(raw, whole, example) {
    var t = nfkc(raw).replace(MINUS, "-").trim(), m;
    if (PLAIN.test(t)) { return finite(Number(t), raw); }
    if ((m = GROUPED.exec(t))) {
      if (m[1] === "," && t.split(",").length === 2 && t.indexOf(".") < 0 && !whole) {
        return {error: quoted(raw) + " could be " + t.replace(",", "") + " or " + t.replace(",", ".") +
                ": write it without the comma"};
      }
      return finite(Number(t.split(m[1]).join("")), raw);
    }
    if (DECIMAL_COMMA.test(t)) { return finite(Number(t.replace(",", ".")), raw); }
    if ((m = FRACTION.exec(t))) {
      if (Number(m[2]) === 0) { return {error: quoted(raw) + " divides by zero"}; }
      return finite(Number(m[1]) / Number(m[2]), raw);
    }
    return {error: (whole ? "a whole number" : "a number") + " is expected, e.g. " + example + " (got " + quoted(raw) + ")"};
  }
  function whole(item) {
    var t = nfkc(item).replace(MINUS, "-").trim();
    return WHOLE.test(t) ? parseInt(t.split(".")[0], 10) : null;
  }
  function integers(raw, kind, example) {
    var t = unwrapped(nfkc(raw).trim());
    var items = t ? t.split(LIST_SEPARATOR).filter(function (p) { return p !== ""; }) : [];
    var values = items.length > MAX_ITEMS ? [] : items.map(whole);
    if (!values.length || values.some(function (v) { return v === null; })) {
      return {error: (kind === "pair" ? "a padding is [before, after] as whole numbers" : "a shape is whole numbers") +
              ", e.g. " + example};
    }
    if (kind === "pair" && values.length === 1) { values.push(values[0]); }  // padding p: p before and after
    return {value: values};
  }
  function sizeRuns(raw) {
    var t = nfkc(raw).trim(), m = MIN_MAX.exec(t), runs = [];
    if (m) { return [[+m[1], +m[2]]]; }
    var named = NAMED.exec(t);
    if (named) { t = t.slice(named[0].length); }
    var items = unwrapped(t).replace(RANGE_SEPARATOR, "\u2025").split(/[\s,;]+/);
    for (var i = 0; i < items.length; i++) {
      if (items[i] === "") { continue; }
      m = SIZE_ITEM.exec(items[i]);
      if (!m) { return null; }
      runs.push([+m[1], +(m[2] || m[1])]);
    }
    return runs;
  }
  function sizes(raw, example) {
    var runs = sizeRuns(raw), total = 0, seen = {}, list = [], i, n;
    if (!runs || !runs.length || runs.length > MAX_ITEMS) { return {error: "sizes are whole numbers, e.g. " + example}; }
    for (i = 0; i < runs.length; i++) {
      if (runs[i][1] < runs[i][0]) { return {error: "a range goes from the smaller size to the larger"}; }
      total += runs[i][1] - runs[i][0] + 1;
    }
    if (runs.length === 1 && runs[0][1] > runs[0][0]) { return {value: {min: runs[0][0], max: runs[0][1]}}; }
    if (total > MAX_ITEMS) { return {error: "too many sizes to list: give them as one range"}; }
    for (i = 0; i < runs.length; i++) {
      for (n = runs[i][0]; n <= runs[i][1]; n++) { if (!seen[n]) { seen[n] = true; list.push(n); } }
    }
    return {value: list.sort(function (a, b) { return a - b; })};
  }
  function matrix(raw, example) {
    var t = nfkc(raw).trim(), lines, rows = [], i;
    var inner = t[0] === "[" && t[t.length - 1] === "]" ? t.slice(1, -1).trim() : null;
    if (inner !== null && inner[0] === "[" && inner[inner.length - 1] === "]") {
      lines = inner.slice(1, -1).split(/\]\s*[,;]?\s*\[/);
    } else if (inner !== null && inner.indexOf("[") < 0 && inner.indexOf("]") < 0) {
      lines = [inner];
    } else {
      lines = t.split(/\s*[;\n]\s*/);
    }
    lines = lines.filter(function (l) { return l.trim() !== ""; })
                 .map(function (l) { return unwrapped(l.trim().replace(/,+$/, "").trim()); });
    if (!lines.length || lines.length > MAX_ITEMS) { return {error: "a map is expected: one row per line, e.g. " + example}; }
    for (i = 0; i < lines.length; i++) {
      var cells = /\s/.test(lines[i])
        ? lines[i].split(/\s+/).filter(function (c) { return c !== "" && c !== ","; }).map(function (c) { return c.replace(/,+$/, ""); })
        : lines[i].split(",");
      if (cells.some(function (c) { return c === ""; })) { return {error: "row " + (i + 1) + " has an empty cell"}; }
      var row = [];
      for (var j = 0; j < cells.length; j++) {
        var v = number(cells[j], false, "");
        if (v.error) { return {error: "row " + (i + 1) + ", column " + (j + 1) + ": " + quoted(cells[j]) + " is not a number"}; }
        row.push(v.value);
      }
      rows.push(row);
    }
    for (i = 1; i < rows.length; i++) {
      if (rows[i].length !== rows[0].length) {
        return {error: "the rows have different lengths (row 1: " + rows[0].length + " numbers, row " + (i + 1) + ": " +
                rows[i].length + ")"};
      }
    }
    return {value: rows};
  }
  function expression(raw) {
    var depth = 0, i, c;
    if (raw.length > 200) { return {error: "an expression of at most 200 characters is expected"}; }
    for (i = 0; i < raw.length; i++) {
      c = raw[i];
      if ("(\u230a\u2308".indexOf(c) >= 0) { depth++; }
      if (")\u230b\u2309".indexOf(c) >= 0 && --depth < 0) { break; }
    }
    if (depth !== 0) { return {error: "the parentheses do not match"}; }
    return {value: raw};
  }
  function yesno(raw) {  // as answers.yes_or_no reads it
    var word = raw.trim().replace(/[.!]+$/, "").toLowerCase();
    if (["yes", "y", "true", "valid"].indexOf(word) >= 0) { return {value: "yes"}; }
    if (["no", "n", "false", "invalid"].indexOf(word) >= 0) { return {value: "no"}; }
    return {error: "expected yes or no"};
  }
  function parse(kind, raw, example) {
    if (kind === "matrix") { return matrix(raw, example); }
    if (kind === "shape" || kind === "pair") { return integers(raw, kind, example); }
    if (kind === "sizes") { return sizes(raw, example); }
    if (kind === "expression") { return expression(raw); }
    if (kind === "yesno") { return yesno(raw); }
    return number(raw, kind === "count" || kind === "number", example);
  }
  function mark(input, bad) {
    input.classList.toggle("bad", bad);
    if (bad) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
  }
  function read(block) {
    var box = block.querySelector("input, textarea"), raw = box.value.trim();
    mark(box, false);
    if (raw === "") { return {missing: true}; }
    var result = parse(block.dataset.kind, raw, block.dataset.example);
    if (result.error) { mark(box, true); }
    return result;
  }
  function yaml(doc) {
    var lines = ["student: " + JSON.stringify(doc.student), "variant: " + JSON.stringify(doc.variant)];
    var ids = Object.keys(doc.answers);
    if (!ids.length) { lines.push("answers: {}"); }
    else {
      lines.push("answers:");
      ids.forEach(function (id) { lines.push("  " + JSON.stringify(id) + ": " + JSON.stringify(doc.answers[id])); });
    }
    return lines.join("\n") + "\n";
  }
  function save() {
    var errors = [], missing = [], answers = {};
    var blocks = document.querySelectorAll(".answer[data-qid]");
    for (var i = 0; i < blocks.length; i++) {
      var block = blocks[i], id = block.dataset.qid, got = read(block), msg = block.querySelector(".msg");
      msg.textContent = got.error || "";
      if (got.error) { errors.push(id + ": " + got.error); }
      else if (got.missing) { missing.push(id); }
      else { answers[id] = got.value; }
    }
    var studentInput = document.getElementById("student"), student = studentInput.value.trim();
    mark(studentInput, student === "");
    if (student === "") { errors.unshift("student id: write your student id"); }
    var list = document.getElementById("form-errors");
    list.textContent = "";
    errors.forEach(function (e) { var li = document.createElement("li"); li.textContent = e; list.appendChild(li); });
    document.getElementById("form-notes").textContent = missing.length ? "Not answered: " + missing.join(", ") : "";
    var preview = document.getElementById("preview");
    if (errors.length) { preview.hidden = true; return; }
    var doc = {student: student, variant: document.getElementById("variant").value, answers: answers};
    var json = document.querySelector("input[name=format]:checked").value === "json";
    var text = json ? JSON.stringify(doc, null, 1) + "\n" : yaml(doc);
    preview.textContent = text;
    preview.hidden = false;
    var blob = new Blob([text], {type: json ? "application/json" : "application/yaml"});
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = (student.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "") || "answers") + (json ? ".json" : ".yaml");
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }
  // the reader, for a page that checks a text before it is typed in (and for the tests that hold it to
  // the grader's)
  window.cnncalcForm = {parse: parse};
  var saveButton = document.getElementById("save");  // a practice sheet reads answers, saves no file
  if (saveButton) { saveButton.addEventListener("click", save); }
})();
"""


def _html(blocks: list[tuple[str, Any]], fields: dict[str, dict[str, Any]] | None = None) -> str:
    esc = html.escape
    fields = fields or {}
    head = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{esc(CONTENT_POLICY)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">', "<title>sheet</title>",
            f'<style id="sheet-style">{_STYLE}</style></head><body>']
    out: list[str] = []
    template = None
    for kind, content in blocks:
        if kind == "figure":
            from ..render import convfig, diagram

            name, drawn, figure = content
            out.append(f'<p><strong>Network {esc(name)}</strong></p><div class="figure">'
                       f'{_inline(_fit_text(diagram.svg(drawn)))}</div>')
            if figure is not None:
                out.append(f'<div class="figure">{_inline(_fit_text(convfig.svg(figure, show_output=False)))}</div>')
            continue
        if kind == "title":
            head[4] = f"<title>{esc(content)}</title>"
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
            label, prompt = content
            out.append(f"<h2>{esc(label)}</h2>" + (f'<p class="prompt">{esc(prompt)}</p>' if prompt else ""))
        elif kind == "question":
            qid, prompt = content
            out.append(f"<p><code>[{esc(qid)}]</code> {esc(prompt)}</p>")
            if qid in fields:
                out.append(_answer_input(qid, fields[qid]))
        elif kind == "answers":
            template = content
    if template is not None:
        if fields:
            out.append(_form(template))
        out.append("<details><summary>Or write the answer file by hand (YAML)</summary>"
                   f"<pre>{esc(_yaml_template(template))}</pre></details>" if fields else
                   f"<h2>Answer file</h2><pre>{esc(_yaml_template(template))}</pre>")
    if fields:
        out.append(f'<script id="answer-form-code">{_SCRIPT}</script>')
    out.append("</body></html>")
    return "\n".join(head + out) + "\n"


# How wide a character of a figure's text is drawn, in em, with a margin: DejaVu Sans (the figures' first
# font, and the widest of the usual sans fonts) averages about 0.6 em a character, bold about 0.66.
_CHAR_EM = {False: 0.64, True: 0.7}
_TRANSLATE = re.compile(r"translate\(\s*([-\d.]+)[\s,]+([-\d.]+)\s*\)")


def _fit_text(svg: str) -> str:
    """The SVG widened to hold its longest line of text, which a figure sized by its drawing alone cuts
    at its right edge (a caption longer than the kernel grid beneath it)."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(svg)
    width = float(root.get("width", "0"))
    right = width

    def walk(node: Any, dx: float, size: float, bold: bool) -> None:
        nonlocal right
        move = _TRANSLATE.search(node.get("transform", ""))
        dx += float(move.group(1)) if move else 0.0
        size = float(node.get("font-size", size))
        bold = node.get("font-weight", "bold" if bold else "normal") == "bold"
        if node.tag.rsplit("}", 1)[-1] == "text":
            extent = len("".join(node.itertext())) * size * _CHAR_EM[bold]
            start = dx + float(node.get("x", "0"))
            anchor = node.get("text-anchor", "start")
            right = max(right, start + (extent / 2 if anchor == "middle" else 0 if anchor == "end" else extent) + 6)
        for child in node:
            walk(child, dx, size, bold)

    walk(root, 0.0, float(root.get("font-size", "16")), False)
    if right <= width:
        return svg
    old, new = f"{root.get('width')}", f"{right:.0f}"
    head, rest = svg.split(">", 1)
    head = head.replace(f'width="{old}"', f'width="{new}"', 1).replace(f'viewBox="0 0 {old} ', f'viewBox="0 0 {new} ', 1)
    return head + ">" + rest.replace(f'<rect width="{old}"', f'<rect width="{new}"', 1)


def _inline(svg: str) -> str:
    """An SVG document as inline SVG in HTML, which needs no namespace (and so names no address)."""
    return svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)


def key_document(variant: Variant) -> dict[str, Any]:
    problem = variant.problem
    return {"problem": problem.id, "version": problem.version, "variant": variant.fingerprint,
            "student": variant.label, "answers": key_answers(problem, variant.key),
            "solutions": {qid: expected.solution for qid, expected in variant.key.items()}}


def key_json(variant: Variant) -> str:
    return json.dumps(key_document(variant), ensure_ascii=False, indent=1)


def write_variants(folder: Path, labels: list[str], makers: list[Callable[[], Variant]], fmt: str,
                   force: bool = False, inputs: Iterable[str | Path | None] = ()) -> list[str]:
    """Sheets in ``folder/sheets``, keys (and ``index.csv``) apart in ``folder/keys``; each file atomic.

    The folder is checked before anything is written (see :mod:`.generated`: a folder or a file that
    `generate` did not write is refused unless ``force``, and so is a folder another run is writing into);
    files of an earlier run that this one does not write are removed; a run that fails removes what it
    created. ``inputs`` (the problem, roster and secret files) are never overwritten. Returns the removed
    files."""
    from .generated import OutputFolder
    from .grading import safe_file_stem
    from .report import csv_line

    extension = {"markdown": "md", "latex": "tex", "html": "html"}[fmt]
    used: set[str] = set()
    stems = [safe_file_stem(label, used) for label in labels]
    first = makers[0]() if makers else None  # a problem whose constraints never hold leaves no trace
    out = OutputFolder(folder, force, inputs)
    out.plan([name for stem in stems for name in (f"sheets/{stem}.{extension}", f"keys/{stem}.json")]
             + ["keys/index.csv"])
    try:
        index = [csv_line(["student", "variant", "sheet", "key"])]
        for i, (stem, make) in enumerate(zip(stems, makers)):
            variant = first if i == 0 and first is not None else make()
            out.write(f"sheets/{stem}.{extension}", render_sheet(variant, fmt))
            out.write(f"keys/{stem}.json", key_json(variant))
            index.append(csv_line([variant.label, variant.fingerprint, f"sheets/{stem}.{extension}",
                                   f"keys/{stem}.json"]))
        out.write("keys/index.csv", "".join(index))
    except BaseException:
        out.abort()
        raise
    return out.finish()
