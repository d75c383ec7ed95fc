"""What every quiz export shares: one variant's questions as blanks — one numeric or text input each — with
the key's answer, its tolerance, its share of the points and the answers of the named slips
(:mod:`..slips`) with the author's partial credit and the slip's one-line feedback.

A question becomes blanks as an LMS can ask it: a number one blank; a shape or a pair one blank per axis;
a map one blank per cell; an expression or a set of sizes one text blank. The LMS scores each blank on its
own (a preview); ``cnncalc grade --from`` reads its response export back and grades the answers with
cnncalc's whole marking.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..grading import DEFAULT_RTOL
from ..problem import Question
from ..variants import Variant


@dataclass(frozen=True)
class SlipAnswer:
    rule: str
    value: Any  # a number, or text for a text blank
    tolerance: float
    credit: float  # the share of the blank's points the author gives this slip (0 to 1)
    message: str


@dataclass(frozen=True)
class Blank:
    qid: str
    position: tuple[int, ...]  # () for one number, (axis,) for a shape or pair, (row, column) for a map
    numeric: bool
    value: Any
    tolerance: float
    points: float
    slips: tuple[SlipAnswer, ...]

    @property
    def label(self) -> str:
        """``a.shape[2]`` (1-based, as the sheet numbers rows and columns)."""
        return self.qid + ("[" + ",".join(str(i + 1) for i in self.position) + "]" if self.position else "")


@dataclass(frozen=True)
class QuizQuestion:
    q: Question
    prompt: str
    blanks: tuple[Blank, ...]
    solution: tuple[str, ...]


@dataclass(frozen=True)
class QuizVariant:
    variant: Variant
    name: str
    questions: tuple[QuizQuestion, ...]

    @property
    def blanks(self) -> list[Blank]:
        return [blank for question in self.questions for blank in question.blanks]


def variant_name(variant: Variant) -> str:
    """The variant's question name in the LMS: ``cnn-layers-worksheet v1 [cnncalc 3f2a9c01de lms-0003]``;
    the back-import finds the variant by its tag (:data:`TAG`)."""
    problem = variant.problem
    return f"{problem.id} v{problem.version} {tag(variant)}"


def category_name(variant: Variant) -> str:
    return f"{variant.problem.id} v{variant.problem.version}"


def tolerance(q: Question, value: float) -> float:
    """The absolute tolerance cnncalc's own comparison allows around ``value`` (grading.close): none for an
    integer key without rtol/atol of its own, else atol + rtol·|value|."""
    value = float(value)
    if value.is_integer() and q.rtol is None and q.atol is None:
        return 0.0
    rtol = DEFAULT_RTOL if q.rtol is None else q.rtol
    return (0.0 if q.atol is None else q.atol) + rtol * abs(value)


def number_text(value: Any) -> str:
    """A number as an LMS reads it: 28, -3.5, 1.25e-07 (no grouping, ASCII minus)."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _cells(kind: str, value: Any) -> list[tuple[tuple[int, ...], Any]] | None:
    """A value as (position, number) per blank, or None when it is not of the kind's layout."""
    if kind in ("shape", "pair"):
        if not isinstance(value, (list, tuple)):
            return None
        return [((i,), v) for i, v in enumerate(value)]
    if kind == "matrix":
        array = np.atleast_2d(np.asarray(value, dtype=float))
        if array.ndim != 2:
            return None
        return [((i, j), array[i, j]) for i in range(array.shape[0]) for j in range(array.shape[1])]
    if kind in ("count", "number", "value"):
        return [((), value)]
    return None


def text_of(kind: str, value: Any) -> str:
    """A text blank's answer: an expression as written, sizes as a list."""
    if kind == "sizes" and isinstance(value, (list, tuple)):
        return ", ".join(str(int(v)) for v in value)
    return str(value)


def quiz_variant(variant: Variant) -> QuizVariant:
    """The variant's questions as blanks, each with the key's answer and the slips' answers."""
    from ..sheets import fill
    from ..slips import candidates

    problem = variant.problem
    questions = []
    for q in problem.questions:
        expected = variant.key[q.id]
        if q.kind == "manual" or expected.value is None:
            continue
        found = candidates(variant.key, q)  # type: ignore[arg-type]
        cells = _cells(q.kind, expected.value)
        blanks: list[Blank] = []
        if cells is None:  # expression, sizes: one text blank
            key_text = text_of(q.kind, expected.value)
            slips: list[SlipAnswer] = []
            for c in found:
                text = text_of(q.kind, c.value)
                if text != key_text and all(s.value != text for s in slips):
                    slips.append(SlipAnswer(c.rule, text, 0.0, q.credit.get(c.rule, 0.0), c.message))
            blanks.append(Blank(q.id, (), False, key_text, 0.0, q.points, tuple(slips)))
        else:
            share = q.points / len(cells)
            per_cell: dict[tuple[int, ...], list[SlipAnswer]] = {position: [] for position, _ in cells}
            keys = dict(cells)
            for c in found:
                slipped = _cells(q.kind, c.value)
                if slipped is None or len(slipped) != len(cells) or any(
                        a != b for (a, _), (b, _) in zip(slipped, cells)):
                    continue  # a slip of another layout (a shape of another rank): nothing per blank
                for position, value in slipped:
                    value = float(value)
                    if not math.isfinite(value):
                        continue
                    key_value = float(keys[position])
                    if abs(value - key_value) <= tolerance(q, key_value):
                        continue
                    here = per_cell[position]
                    if any(abs(s.value - value) <= s.tolerance for s in here):
                        continue  # the first slip in the catalogue's order names this value
                    here.append(SlipAnswer(c.rule, value, tolerance(q, value), q.credit.get(c.rule, 0.0),
                                           c.message))
            for position, value in cells:
                blanks.append(Blank(q.id, position, True, float(value), tolerance(q, float(value)), share,
                                    tuple(per_cell[position])))
        questions.append(QuizQuestion(q, fill(q.prompt, problem.data), tuple(blanks), tuple(expected.solution)))
    return QuizVariant(variant, variant_name(variant), tuple(questions))


def answers_from_blanks(problem: Any, given: dict[str, str]) -> dict[str, Any]:
    """An answer file's ``answers`` from the text of each blank (by :attr:`Blank.label`), as cnncalc reads
    them: a shape from its axes, a map from its cells (rows by their number), a number as written. A
    question none of whose blanks was answered is left out (missing)."""
    answers: dict[str, Any] = {}
    for q in problem.questions:
        if q.kind == "manual":
            continue
        if q.id in given:
            text = given[q.id].strip()
            if text:
                answers[q.id] = text
            continue
        prefix = q.id + "["
        parts = {label[len(prefix):-1]: text.strip() for label, text in given.items()
                 if label.startswith(prefix) and label.endswith("]")}
        if not any(parts.values()):
            continue
        if q.kind in ("shape", "pair"):
            size = max(int(p) for p in parts if p.isdigit())
            answers[q.id] = [_number_or_text(parts.get(str(i + 1), "")) for i in range(size)]
        elif q.kind == "matrix":
            cells = {tuple(int(x) for x in p.split(",")): v for p, v in parts.items()
                     if re.fullmatch(r"\d+,\d+", p)}
            rows = max(r for r, _ in cells)
            cols = max(c for _, c in cells)
            answers[q.id] = [[_number_or_text(cells.get((r, c), "")) for c in range(1, cols + 1)]
                             for r in range(1, rows + 1)]
    return answers


def _number_or_text(text: str) -> Any:
    """A blank's text as a number where it is one (``28``, ``-3.5``); anything else as written, for the
    kind's own reader to accept or refuse."""
    try:
        value = float(text)
    except ValueError:
        return text if text else None
    if not math.isfinite(value):
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


#: a variant as an export names it: ``[cnncalc 3f2a9c01de lms-0007]`` (fingerprint, then the label the
#: back-import rebuilds it from: ``lms-N`` from the course secret, ``variant-SEED-N`` from a seed)
TAG = re.compile(r"\[cnncalc ([0-9a-f]{10}) (lms-\d{1,6}|variant-\d{1,19}-\d{1,6}|original)\]")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def tag(variant: Variant) -> str:
    return f"[cnncalc {variant.fingerprint} {variant.label}]"


def xml_text(text: str) -> str:
    """Text an XML 1.0 document can hold: a control character or a lone surrogate (which no XML parser
    accepts) becomes U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


#: author text inside an HTML field that an LMS also parses for its own syntax: every character of HTML
#: and of Moodle's Cloze syntax as a character reference, so a prompt can never open a subquestion
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "{": "&#123;",
                       "}": "&#125;", "#": "&#35;", "~": "&#126;", "\\": "&#92;", "=": "&#61;", ":": "&#58;",
                       "%": "&#37;", "[": "&#91;", "]": "&#93;", "$": "&#36;"})


@functools.lru_cache(maxsize=4096)  # a slip's message, a prompt: the same text in many blanks and variants
def html_text(text: str) -> str:
    return xml_text(text).translate(_HTML)


#: each network's figures already drawn, by its spec (data put in) — or, for a network the variant's key has
#: built, by its spec with its weights' values left out: most variants differ in their data tables and
#: weights, not in what the figures show, and a bank of 1,000 variants draws such a network once
_FIGURES: dict[Any, tuple[list[tuple[str, Any, Any]], list[tuple[str, str]]]] = {}
MAX_REMEMBERED_FIGURES = 512


def _network_drawn(problem: Any, name: str, spec: Any, built: bool = False
                   ) -> tuple[list[tuple[str, Any, Any]], list[tuple[str, str]]]:
    """One network's :func:`..sheets.network_figures` entry (none where it does not build) and its SVGs
    (``{}`` for the network's number). ``built``: the variant's key built the network (so its weights fit
    it), and its figures are looked up without their values."""
    import dataclasses

    from ...render import convfig, diagram
    from ..key import data_spec_key, sizes_spec_key
    from ..sheets import network_figures

    memo: tuple[Any, ...] | None
    if built:
        shape_only = sizes_spec_key(spec, problem.data)
        memo = None if shape_only is None else ("built", problem.source, name, shape_only)
    else:
        text = data_spec_key(spec, problem.data)  # None for a spec that does not resolve: drawn as the sheet does
        memo = None if text is None else (problem.source, name, text)
    if memo is not None and memo in _FIGURES:
        return _FIGURES[memo]
    found = network_figures(dataclasses.replace(problem, networks={name: spec}))
    drawn = []
    for _, layout, figure in found:
        drawn.append(("network-{}.svg", diagram.svg(layout)))
        if figure is not None:
            drawn.append(("network-{}-conv.svg", convfig.svg(figure, show_output=False)))
    if memo is not None:
        if len(_FIGURES) >= MAX_REMEMBERED_FIGURES:
            _FIGURES.clear()
        _FIGURES[memo] = (found, drawn)
    return found, drawn


def _drawn(variant: Variant) -> tuple[list[tuple[str, Any, Any]], list[tuple[str, str]]]:
    """The problem's :func:`..sheets.network_figures` and their SVG files (``network-N.svg``,
    ``network-N-conv.svg``, numbered among the networks that build), each network drawn once per spec;
    once per variant (its sheet and its files both ask)."""
    memo: dict[Any, Any] = getattr(variant.key, "memo", {})
    if ("lms-figures",) in memo:
        return memo[("lms-figures",)]  # type: ignore[no-any-return]
    problem = variant.problem
    builder = getattr(variant.key, "builder", None)
    summaries = getattr(builder, "summaries", {})
    found: list[tuple[str, Any, Any]] = []
    drawn: list[tuple[str, str]] = []
    for name, spec in problem.networks.items():
        entries, svgs = _network_drawn(problem, name, spec, name in summaries)
        if entries:
            found += entries
            drawn += [(file.format(len(found)), svg) for file, svg in svgs]
    memo[("lms-figures",)] = (found, drawn)
    return found, drawn


def figures(variant: Variant) -> list[tuple[str, str]]:
    """(file name, SVG) of the figures the HTML sheet draws: each network, and its convolution figure."""
    return list(_drawn(variant)[1])


def blocks(variant: Variant) -> list[tuple[str, Any]]:
    """The variant's :func:`..sheets.sheet_blocks`, with its figures drawn once per set of networks."""
    from ..sheets import sheet_blocks

    return sheet_blocks(variant, _drawn(variant)[0])


def body_html(quiz: QuizVariant, blank: Any, figure_src: Any, figure_names: list[str]) -> str:
    """The variant's sheet as HTML — title, variant tag, data tables, figures, parts and prompts — with each
    question's blanks where its answer goes: ``blank(Blank)`` gives one input's markup, ``figure_src(name)``
    a figure's address. Every piece of author text goes through :func:`html_text`."""
    from ..key import num

    by_id = {question.q.id: question for question in quiz.questions}
    out: list[str] = []
    shown_figures = False
    for kind, content in blocks(quiz.variant):
        if kind == "title":
            out.append(f"<h3>{html_text(content)}</h3>")
        elif kind == "meta":
            out.append(f"<p><em>{html_text(tag(quiz.variant))}</em></p>")
        elif kind == "text":
            out.append(f"<p>{html_text(content)}</p>")
        elif kind == "table":
            caption, table = content
            rows = "".join("<tr>" + "".join(f"<td>{html_text(num(v))}</td>" for v in row) + "</tr>" for row in table)
            out.append(f"<p><strong>{html_text(caption)}</strong></p><table border=\"1\">{rows}</table>")
        elif kind == "figure" and not shown_figures:
            shown_figures = True
            out += [f'<p><img src="{figure_src(name)}" alt="figure {i}"></p>' for i, name in enumerate(figure_names, 1)]
        elif kind == "part":
            label, prompt = content
            out.append(f"<h4>{html_text(label)}</h4>" + (f"<p>{html_text(prompt)}</p>" if prompt else ""))
        elif kind == "question":
            qid, prompt = content
            out.append(f"<p><code>{html_text(qid)}</code> {html_text(prompt)}</p>")
            question = by_id.get(qid)
            if question is not None:
                out.append(_inputs(question, blank))
    return "\n".join(out)


def _inputs(question: QuizQuestion, blank: Any) -> str:
    blanks = question.blanks
    if question.q.kind == "matrix":
        rows = 1 + max(b.position[0] for b in blanks)
        cols = 1 + max(b.position[1] for b in blanks)
        at = {b.position: b for b in blanks}
        cells = "".join("<tr>" + "".join(f"<td>{blank(at[(i, j)])}</td>" for j in range(cols)) + "</tr>"
                        for i in range(rows))
        return f'<table border="1">{cells}</table>'
    if question.q.kind in ("shape", "pair"):
        return "<p>[ " + " , ".join(blank(b) for b in blanks) + " ]</p>"
    return "<p>" + " ".join(blank(b) for b in blanks) + "</p>"


def solution_html(quiz: QuizVariant) -> str:
    """The worked solution of every question (the general feedback)."""
    return "\n".join(f"<p><code>{html_text(question.q.id)}</code></p><pre>"
                     + html_text("\n".join(question.solution)) + "</pre>" for question in quiz.questions)
