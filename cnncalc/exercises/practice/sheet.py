"""Practice sheets: the questions in Markdown or LaTeX with the answers, hints and worked solutions at
the end, or one HTML file that checks each answer in the browser.

The HTML sheet works offline in one file, under the answer form's content policy (``default-src
'none'``: no request of any kind); it reads answers with the answer form's own reader (the same forms
the grader reads, :mod:`.sheets`), compares them with the key and with every slip's answer (both
embedded: it is practice), names the slip an answer is, and shows the hint and the worked solution on
request.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from ..answers import example
from ..key import num
from ..sheets import _SCRIPT, _STYLE, CONTENT_POLICY, _answer_input, _placeholder, _tex
from .questions import LEVEL_TEXT, PracticeQuestion

FORMATS = ("html", "markdown", "latex")
SUFFIXES = {"html": (".html", ".htm"), "markdown": (".md", ".markdown"), "latex": (".tex",)}


def title(questions: Sequence[PracticeQuestion], level: int, seed: int) -> str:
    return f"Practice: {len(questions)} question{'s' if len(questions) != 1 else ''}, level {level} (seed {seed})"


def render(questions: Sequence[PracticeQuestion], fmt: str, level: int, seed: int) -> str:
    return {"html": _html, "markdown": _markdown, "latex": _latex}[fmt](questions, level, seed)


def _shown(q: PracticeQuestion) -> str:
    if q.kind == "matrix":
        return "; ".join(" ".join(str(v) for v in row) for row in q.key)
    if q.kind == "shape":
        return "×".join(str(v) for v in q.key)
    if q.kind == "sizes":
        from ..answers import size_text

        return size_text(q.key)
    if q.kind == "pair":
        return f"{q.key[0]}, {q.key[1]} (before, after)"
    return f"{q.key:,}" if isinstance(q.key, int) else str(q.key)


# ---------------------------------------------------------------- Markdown and LaTeX


def _markdown(questions: Sequence[PracticeQuestion], level: int, seed: int) -> str:
    out = [f"# {title(questions, level, seed)}", "", f"*Level {level}: {LEVEL_TEXT[level]}.*", ""]
    for number, q in enumerate(questions, 1):
        out += [f"## {number}. {q.topic}", ""]
        if q.setting:
            out += ["```", *q.setting, "```", ""]
        for caption, rows in q.tables:
            out += [f"**{caption}**", "", "| " + " | ".join(" " for _ in rows[0]) + " |", "|" + "---:|" * len(rows[0])]
            out += ["| " + " | ".join(num(v) for v in row) + " |" for row in rows]
            out.append("")
        out += [q.prompt, "", f"*Answer as {example(q.kind, q.key)}.*", ""]
    out += ["---", "", "## Answers", ""]
    for number, q in enumerate(questions, 1):
        out += [f"**{number}.** `{_shown(q)}`  ", f"hint: {q.hint}", "", "```", *q.solution, "```", ""]
    return "\n".join(out).rstrip() + "\n"


def _latex(questions: Sequence[PracticeQuestion], level: int, seed: int) -> str:
    out = [r"\documentclass{article}", r"\usepackage[utf8]{inputenc}", r"\begin{document}",
           r"\section*{" + _tex(title(questions, level, seed)) + "}",
           r"\textit{Level " + str(level) + ": " + _tex(LEVEL_TEXT[level]) + r".}\par"]
    for number, q in enumerate(questions, 1):
        out.append(r"\subsection*{" + f"{number}. " + _tex(q.topic) + "}")
        if q.setting:
            out += [r"\begin{verbatim}", *[line.replace("\\", "/") for line in q.setting], r"\end{verbatim}"]
        for caption, rows in q.tables:
            out += [r"\par\textbf{" + _tex(caption) + r"}\par", r"\begin{tabular}{|" + "r|" * len(rows[0]) + r"}\hline"]
            out += [" & ".join(_tex(num(v)) for v in row) + r" \\ \hline" for row in rows]
            out.append(r"\end{tabular}\par")
        out.append(_tex(q.prompt) + r"\par")
    out.append(r"\section*{Answers}")
    for number, q in enumerate(questions, 1):
        out.append(r"\noindent\textbf{" + str(number) + ".} " + _tex(_shown(q)) + r"\\ hint: " + _tex(q.hint) + r"\par")
        out += [r"\begin{itemize}"] + [r"\item " + _tex(line) for line in q.solution] + [r"\end{itemize}"]
    out.append(r"\end{document}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- HTML that checks itself


_PRACTICE_STYLE = (".question{border-top:1px solid #ccc;padding-top:.3em}.setting{margin:.3em 0}"
                   ".answer.right input,.answer.right textarea{outline:2px solid #080;background:#efe}"
                   ".answer.wrong input,.answer.wrong textarea{outline:2px solid #c00;background:#fee}"
                   ".question .answer{margin-bottom:.3em}.verdict{margin:.3em 0;min-height:1.2em}.verdict.right{color:#080}.verdict.wrong{color:#c00}"
                   ".tools{margin-left:2em}.tools details{margin:.2em 0}.tools summary{cursor:pointer;color:#036}"
                   "#score{font-weight:bold;margin:1em 0}button{font:inherit}")

# Reads each answer with the answer form's reader (window.cnncalcForm.parse), then compares as the grader
# does: whole numbers and shapes exactly, other numbers within 1e-6 of the key, sizes as sets; an answer
# that is a slip's is named with the slip's message and rule.
_PRACTICE_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("practice-data").textContent);
  var parse = window.cnncalcForm.parse;
  function close(a, b) {
    if (typeof a !== "number" || typeof b !== "number") { return false; }
    return Number.isInteger(b) ? a === b : Math.abs(a - b) <= 1e-6 * Math.abs(b);
  }
  function expand(value) {
    if (!Array.isArray(value) && value && typeof value === "object") {
      var list = [];
      for (var n = value.min; n <= value.max && list.length <= 100000; n++) { list.push(n); }
      return list;
    }
    return value;
  }
  // an expression is read as the grader reads it (answers.expression_text: − × · ÷ ⌊ ⌋ ⌈ ⌉, "out =",
  // 2n for 2*n) and compared at the grader's points, where the key is a whole number
  function tokens(text) {
    var t = text.replace(/[\u2212\u2013\u2014]/g, "-").replace(/[\u00d7\u00b7\u22c5\u2219]/g, "*")
      .replace(/\u00f7/g, "/").replace(/\u230a/g, "floor(").replace(/\u2308/g, "ceil(")
      .replace(/[\u230b\u2309]/g, ")").replace(/\u00b2/g, "**2").replace(/^\s*[A-Za-z_]\w*\s*=(?!=)/, "");
    var found = t.match(/\d+(?:\.\d+)?|[A-Za-z_]\w*|\*\*|\/\/|[-+*\/^(),]|\S/g) || [];
    var out = [], i;
    for (i = 0; i < found.length; i++) {
      var tok = found[i], prev = out.length ? out[out.length - 1] : null;
      var left = prev !== null && (/^[\d.]+$/.test(prev) || prev === ")" || (/^[A-Za-z_]/.test(prev) &&
        ["floor", "ceil", "max", "min"].indexOf(prev) < 0));
      var right = /^[A-Za-z_(]/.test(tok) || (/^\d/.test(tok) && prev === ")");
      if (left && right) { out.push("*"); }
      out.push(tok);
    }
    return out;
  }
  function evaluate(toks, values) {
    var at = 0;
    function peek() { return toks[at]; }
    function expect(t) { if (toks[at++] !== t) { throw new Error("expected " + t); } }
    function atom() {
      var t = toks[at++];
      if (t === undefined) { throw new Error("end"); }
      if (t === "(") { var v = sum(); expect(")"); return v; }
      if (t === "-") { return -power(); }
      if (t === "+") { return power(); }
      if (/^\d/.test(t)) { return parseFloat(t); }
      if (["floor", "ceil", "max", "min"].indexOf(t) >= 0) {
        expect("(");
        var args = [sum()];
        while (peek() === ",") { at++; args.push(sum()); }
        expect(")");
        return t === "floor" ? Math.floor(args[0]) : t === "ceil" ? Math.ceil(args[0]) : Math[t].apply(null, args);
      }
      if (Object.prototype.hasOwnProperty.call(values, t)) { return values[t]; }
      throw new Error("unknown name " + t);
    }
    function power() {
      var base = atom();
      if (peek() === "**" || peek() === "^") { at++; return Math.pow(base, power()); }
      return base;
    }
    function product() {
      var v = power();
      while (peek() === "*" || peek() === "/" || peek() === "//") {
        var op = toks[at++], r = power();
        v = op === "*" ? v * r : op === "/" ? v / r : Math.floor(v / r);
      }
      return v;
    }
    function sum() {
      var v = product();
      while (peek() === "+" || peek() === "-") { v = toks[at++] === "+" ? v + product() : v - product(); }
      return v;
    }
    var result = sum();
    if (at !== toks.length) { throw new Error("unexpected " + toks[at]); }
    return result;
  }
  function sameExpression(text, points) {
    var toks = tokens(String(text));
    try {
      return points.every(function (p) { return Math.abs(evaluate(toks, p[0]) - p[1]) < 1e-9; });
    } catch (error) {
      return false;
    }
  }
  function same(kind, got, want, q) {
    if (kind === "yesno") { return got === want; }
    if (kind === "expression") { return q && q.points ? sameExpression(got, q.points) : false; }
    if (kind === "sizes") {
      got = expand(got).slice().sort(function (a, b) { return a - b; });
      want = want.slice().sort(function (a, b) { return a - b; });
      return got.length === want.length && got.every(function (v, i) { return v === want[i]; });
    }
    if (kind === "matrix") {
      if (!Array.isArray(want[0])) { want = [want]; }
      return got.length === want.length && got.every(function (row, i) {
        return row.length === want[i].length && row.every(function (v, j) { return close(v, want[i][j]); });
      });
    }
    if (Array.isArray(want)) {
      return Array.isArray(got) && got.length === want.length && got.every(function (v, i) { return v === want[i]; });
    }
    return close(got, want);
  }
  function check(block) {
    var q = data[block.dataset.qid], box = block.querySelector("input, textarea");
    var verdict = block.parentNode.querySelector(".verdict"), raw = box.value.trim();
    block.classList.remove("right", "wrong");
    verdict.classList.remove("right", "wrong");
    if (raw === "") { verdict.textContent = ""; return null; }
    var got = parse(q.kind, raw, q.example);
    if (got.error) {
      verdict.textContent = "cannot read that: " + got.error;
      block.classList.add("wrong");
      verdict.classList.add("wrong");
      return false;
    }
    var right = same(q.kind, got.value, q.key, q);
    block.classList.add(right ? "right" : "wrong");
    verdict.classList.add(right ? "right" : "wrong");
    if (right) { verdict.textContent = "\u2713 right"; return true; }
    var slip = null;
    for (var i = 0; i < q.slips.length && !slip; i++) {
      if (same(q.kind, got.value, q.slips[i].value)) { slip = q.slips[i]; }
    }
    verdict.textContent = "\u2717 not right" + (slip ? ": " + slip.message + " [" + slip.rule + "]" : "") +
      " \u2014 open the hint, or the worked solution";
    return false;
  }
  function checkAll() {
    var blocks = document.querySelectorAll(".answer[data-qid]"), right = 0, answered = 0;
    for (var i = 0; i < blocks.length; i++) {
      var result = check(blocks[i]);
      if (result !== null) { answered++; }
      if (result === true) { right++; }
    }
    document.getElementById("score").textContent = "score: " + right + " / " + blocks.length +
      (answered < blocks.length ? " (" + (blocks.length - answered) + " not answered)" : "");
  }
  document.querySelectorAll(".check").forEach(function (button) {
    button.addEventListener("click", function () { check(button.closest(".question").querySelector(".answer")); });
  });
  document.querySelectorAll(".answer input").forEach(function (box) {
    box.addEventListener("keydown", function (event) { if (event.key === "Enter") { check(box.closest(".answer")); } });
  });
  document.getElementById("check-all").addEventListener("click", checkAll);
})();
"""


def _points(q: PracticeQuestion) -> dict[str, Any]:
    """For an expression, the grader's points (where the key is a whole number) and the key's value at
    each: the page compares an answer there, as the grader does."""
    if q.kind != "expression":
        return {}
    from ..answers import _key_points

    points, _ = _key_points(q.key)
    return {"points": [[dict(point), float(want)] for point, want in points]}


def _embedded(questions: Sequence[PracticeQuestion]) -> str:
    """What the page checks against: per question its kind, key and the slips' answers (with messages)."""
    from ..grading import plain_answer

    data = {q.id: {"kind": q.kind, "key": q.key, "example": example(q.kind, q.key),
                   "slips": [{"rule": c.rule, "message": c.message, "value": plain_answer(c.value)}
                             for c in q.slips()], **_points(q)} for q in questions}
    # inside <script>, "</" could end the element: written as "<\/", which JSON reads the same
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def _html(questions: Sequence[PracticeQuestion], level: int, seed: int) -> str:
    esc = html.escape
    heading = title(questions, level, seed)
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{esc(CONTENT_POLICY)}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{esc(heading)}</title>",
           f'<style id="sheet-style">{_STYLE}{_PRACTICE_STYLE}</style></head><body>',
           f"<h1>{esc(heading)}</h1>", (f"<p><em>Level {level}: {esc(LEVEL_TEXT[level])}. Type an answer and press "
                                        "Enter or Check; the page checks it here, nothing is sent anywhere.</em></p>")]
    for number, q in enumerate(questions, 1):
        field = {"kind": q.kind, "example": example(q.kind, q.key), "placeholder": _placeholder(q.kind, q.key)}
        out.append(f'<section class="question" id="{esc(q.id)}"><h2>{number}. {esc(q.topic)} '
                   f'<small>(level {q.level})</small></h2>')
        if q.setting:
            out.append(f'<pre class="setting">{esc(chr(10).join(q.setting))}</pre>')
        for caption, rows in q.tables:
            cells = "".join("<tr>" + "".join(f"<td>{esc(num(v))}</td>" for v in row) + "</tr>" for row in rows)
            out.append(f"<p><strong>{esc(caption)}</strong></p><table>{cells}</table>")
        out.append(f"<p>{esc(q.prompt)}</p>")
        out.append(_answer_input(q.id, field))
        out.append('<div class="tools"><button type="button" class="check">Check</button>'
                   '<p class="verdict" role="status"></p>'
                   f'<details class="hint"><summary>Hint</summary><p>{esc(q.hint)}</p></details>'
                   '<details class="solution"><summary>Worked solution</summary>'
                   f'<pre>{esc(chr(10).join(q.solution))}</pre></details></div></section>')
    out.append('<p><button type="button" id="check-all">Check all</button></p><p id="score" role="status"></p>')
    out.append(f'<script type="application/json" id="practice-data">{_embedded(questions)}</script>')
    out.append(f'<script id="answer-form-code">{_SCRIPT}</script>')
    out.append(f'<script id="practice-code">{_PRACTICE_SCRIPT}</script>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
