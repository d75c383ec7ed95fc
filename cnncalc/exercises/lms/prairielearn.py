"""A PrairieLearn question folder: ``info.json``, ``question.html`` with one ``pl-number-input`` per number
(a shape or pair: one per axis), a ``pl-matrix-input`` per map and a ``pl-string-input`` per expression,
``server.py`` and ``variants.json`` — the committed list of variants. ``generate()`` draws one by
PrairieLearn's variant seed; ``grade()`` grades by cnncalc's rules (exact integers, the problem's tolerance,
the share of cells of a map) and gives each named slip its partial credit and message. ``server.py`` needs
only the standard library."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CnnCalcError
from ..grading import DEFAULT_RTOL, plain_answer
from .common import QuizVariant, blocks, figures, html_text, solution_html, tag, text_of

SERVER = '''"""PrairieLearn server for a cnncalc problem (written by cnncalc generate --format prairielearn).

generate() draws one variant of variants.json by the variant seed; grade() grades by cnncalc's rules and
gives each named slip of the catalogue the author's partial credit and its one-line feedback."""

import json
import math
import pathlib

VARIANTS = json.loads(pathlib.Path(__file__).with_name("variants.json").read_text(encoding="utf-8"))


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _close(got, key, question):
    if got is None:
        return False
    if float(key).is_integer() and question["exact"]:
        return got == key
    return abs(got - key) <= question["atol"] + question["rtol"] * abs(key)


def _numbers(value):
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    return _number(value)


def _share(question, got, key):
    """The share of the points cnncalc gives: all or nothing, or the share of a map's cells."""
    kind = question["kind"]
    if kind in ("text",):
        return 1.0 if isinstance(got, str) and " ".join(got.split()) == " ".join(str(key).split()) else 0.0
    if kind == "matrix":
        if not isinstance(got, list) or len(got) != len(key) or any(
                not isinstance(row, list) or len(row) != len(want) for row, want in zip(got, key)):
            return 0.0
        cells = [_close(g, k, question) for row, want in zip(got, key) for g, k in zip(row, want)]
        return sum(cells) / len(cells)
    if kind == "list":
        return 1.0 if isinstance(got, list) and len(got) == len(key) and all(
            _close(g, k, question) for g, k in zip(got, key)) else 0.0
    return 1.0 if _close(got, key, question) else 0.0


def generate(data):
    index = int(data["variant_seed"]) % len(VARIANTS)
    variant = VARIANTS[index]
    data["params"]["variant"] = index
    data["params"]["tag"] = variant["tag"]
    data["params"]["figures"] = variant["figures"]
    for name, html in variant["html"].items():
        data["params"][name] = html
    for question in variant["questions"]:
        for name, value in question["answers"].items():
            data["correct_answers"][name] = value


def _submitted(question, submitted):
    names = question["names"]
    if question["kind"] == "list":
        return [_number(submitted.get(name)) for name in names]
    value = submitted.get(names[0])
    if question["kind"] == "matrix":
        return _numbers(value) if isinstance(value, list) else None
    if question["kind"] == "text":
        return value
    return _number(value)


def grade(data):
    variant = VARIANTS[int(data["params"]["variant"])]
    submitted = data["submitted_answers"]
    total = earned = 0.0
    for question in variant["questions"]:
        got = _submitted(question, submitted)
        share = _share(question, got, question["key"])
        feedback = "correct" if share >= 1 else ""
        if share < 1:
            for slip in question["slips"]:
                if _share(question, got, slip["value"]) >= 1:
                    feedback = slip["message"] + " [" + slip["rule"] + "]"
                    share = max(share, slip["credit"])
                    break
        total += question["points"]
        earned += share * question["points"]
        for name in question["names"]:
            data["partial_scores"][name] = {"score": share, "weight": question["points"] / len(question["names"]),
                                            "feedback": feedback}
        data["feedback"][question["id"]] = feedback
    data["score"] = earned / total if total else 1.0
'''


def _names(index: int, count: int) -> list[str]:
    return [f"q{index}"] if count == 1 else [f"q{index}_{i + 1}" for i in range(count)]


def _layout(quiz: QuizVariant) -> list[tuple[str, str, int]]:
    layout = []
    for question in quiz.questions:
        shape = np.shape(quiz.variant.key[question.q.id].value) if question.q.kind == "matrix" else ()
        layout.append((question.q.id, question.q.kind, len(question.blanks) if not shape else -len(question.blanks)))
    return layout


def _kind(kind: str) -> str:
    return {"shape": "list", "pair": "list", "matrix": "matrix", "expression": "text", "sizes": "text"}.get(kind,
                                                                                                         "number")


def variant_document(quiz: QuizVariant, figure_names: list[str]) -> dict[str, Any]:
    """One entry of variants.json: the sheet's pieces as HTML, and per question its answer-names, key,
    tolerance rule, points and slips."""
    from ..key import num
    from ..slips import candidates

    html: dict[str, str] = {"tables": "", "intro": "", "solution": solution_html(quiz)}
    for kind, content in blocks(quiz.variant):
        if kind == "text":
            html["intro"] += f"<p>{html_text(content)}</p>"
        elif kind == "table":
            caption, table = content
            rows = "".join("<tr>" + "".join(f"<td>{html_text(num(v))}</td>" for v in row) + "</tr>" for row in table)
            html["tables"] += f"<p><strong>{html_text(caption)}</strong></p><table class=\"table table-sm\">{rows}</table>"
        elif kind == "part":
            label, prompt = content
            html[f"part_{len([k for k in html if k.startswith('part_')])}"] = (
                f"<h4>{html_text(label)}</h4>" + (f"<p>{html_text(prompt)}</p>" if prompt else ""))
    questions = []
    for index, question in enumerate(quiz.questions):
        q = question.q
        html[f"prompt_{index}"] = html_text(question.prompt)
        kind = _kind(q.kind)
        key = plain_answer(quiz.variant.key[q.id].value)
        names = _names(index, len(question.blanks) if kind == "list" else 1)
        if kind == "list":
            answers = dict(zip(names, key))
        elif kind == "text":
            key = text_of(q.kind, key)
            answers = {names[0]: key}
        else:
            answers = {names[0]: key}
        slips = []
        for c in candidates(quiz.variant.key, q):  # type: ignore[arg-type]
            value = plain_answer(c.value)
            if kind == "text":
                value = text_of(q.kind, value)
            slips.append({"rule": c.rule, "value": value, "credit": q.credit.get(c.rule, 0.0), "message": c.message})
        questions.append({"id": q.id, "kind": kind, "names": names, "key": key, "answers": answers,
                          "points": q.points, "exact": q.rtol is None and q.atol is None,
                          "rtol": DEFAULT_RTOL if q.rtol is None else q.rtol, "atol": q.atol or 0.0, "slips": slips})
    return {"tag": tag(quiz.variant), "html": html, "figures": figure_names, "questions": questions}


def question_html(quiz: QuizVariant) -> str:
    """The question's layout (the same in every variant), its numbers and texts from the drawn variant."""

    out = ["<pl-question-panel>", f"<h3>{html_text(quiz.variant.problem.title)}</h3>",
           "<p><em>{{params.tag}}</em></p>", "{{{params.intro}}}", "{{{params.tables}}}",
           ('{{#params.figures}}<p><img src="{{options.client_files_question_url}}/{{.}}" alt="figure"></p>'
           "{{/params.figures}}")]
    index = parts = 0
    by_id = {question.q.id: question for question in quiz.questions}
    for kind, content in blocks(quiz.variant):
        if kind == "part":
            out.append(f"{{{{{{params.part_{parts}}}}}}}")
            parts += 1
        elif kind == "question" and content[0] in by_id:
            question = by_id[content[0]]
            label = html_text(question.q.id)
            out.append(f"<p><code>{label}</code> {{{{{{params.prompt_{index}}}}}}}</p>")
            kind_ = _kind(question.q.kind)
            names = _names(index, len(question.blanks) if kind_ == "list" else 1)
            if kind_ == "list":
                out += [f'<pl-number-input answers-name="{name}" label="{label}[{i}]" show-score="true"></pl-number-input>'
                        for i, name in enumerate(names, 1)]
            elif kind_ == "matrix":
                out.append(f'<pl-matrix-input answers-name="{names[0]}" label="{label}"></pl-matrix-input>')
            elif kind_ == "text":
                out.append(f'<pl-string-input answers-name="{names[0]}" label="{label}"></pl-string-input>')
            else:
                out.append(f'<pl-number-input answers-name="{names[0]}" label="{label}"></pl-number-input>')
            index += 1
    out += ["</pl-question-panel>", "<pl-answer-panel>{{{params.solution}}}</pl-answer-panel>"]
    return "\n".join(out) + "\n"


def folder_name(problem_id: str) -> str:
    """A question id PrairieLearn accepts as a folder name: letters, digits, ``-`` and ``_``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", problem_id).strip("-")[:64] or "cnncalc-problem"


def write_question(variants: list[QuizVariant], out: Path, *, force: bool = False, inputs: list[Any]) -> Path:
    from ...outputs import write_output

    first = variants[0]
    layout = _layout(first)
    if any(_layout(v) != layout for v in variants[1:]):
        raise CnnCalcError("the variants do not all ask the same questions in the same layout (a map of "
                           "another size?); PrairieLearn's question.html is one for all variants",
                           hint="export fewer variants, or keep the map sizes fixed in vary:")
    problem = first.variant.problem
    folder = out / folder_name(str(problem.id))
    if folder.exists() and not (folder / "info.json").exists() and any(folder.iterdir()) and not force:
        raise CnnCalcError("the question folder exists and is not a PrairieLearn question cnncalc wrote",
                           file=str(folder), hint="give --force to write into it anyway")
    drawn: dict[str, str] = {}
    documents = []
    for quiz in variants:
        names = []
        for name, svg in figures(quiz.variant):
            stored = f"{quiz.variant.fingerprint}-{name}"
            drawn[stored] = svg
            names.append(stored)
        documents.append(variant_document(quiz, names))
    info = {"uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cnncalc:{problem.id}:{problem.version}")),
            "title": str(problem.title), "topic": "CNN arithmetic", "tags": ["cnncalc", str(problem.id)],
            "type": "v3", "partialCredit": True, "singleVariant": len(variants) == 1}
    folder.mkdir(parents=True, exist_ok=True)
    write_output(folder / "info.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n", inputs=inputs)
    write_output(folder / "question.html", question_html(first), inputs=inputs)
    write_output(folder / "server.py", SERVER, inputs=inputs)
    write_output(folder / "variants.json", json.dumps(documents, ensure_ascii=False) + "\n", inputs=inputs)
    if drawn:
        (folder / "clientFilesQuestion").mkdir(exist_ok=True)
        for name, svg in drawn.items():
            write_output(folder / "clientFilesQuestion" / name, svg, inputs=inputs)
    return folder
