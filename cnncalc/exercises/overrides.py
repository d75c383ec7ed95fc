"""Instructor overrides of automatic scores: read from an ``--overrides FILE``, checked against the problem
and the graded batch, then applied (an instructor's score always wins).

An entry scores one question of one student (``{student: ID, question: QID, score: X}``), or an answer
group: ``{question: QID, answer: VALUE, score: X}`` (``q:`` for ``question:`` too) scores every student
whose answer to the question is that value — read as the question's kind reads it, so ``14x14x32`` and
``[14, 14, 32]`` are one group (:func:`.grading.answer_form`) — and was not graded correct. A student's own
override wins over their group's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import CnnCalcError, did_you_mean
from ..spec import safeload
from .grading import AnswerForms, StudentResult, answer_form, clean_text, display_path, normalise_id
from .problem import Problem

MAX_OVERRIDES_BYTES = 1024 * 1024
OVERRIDE_FIELDS = ("student", "question", "q", "answer", "score", "max", "comment")


@dataclass
class Overrides:
    """Instructor scores, checked against the problem; ``maxes`` are class-wide maxima of manual items."""
    items: list[dict[str, Any]]
    maxes: dict[str, float]
    source: str
    kinds: dict[str, str] = field(default_factory=dict)  # question id → kind, to read a group's answers


def read_overrides(path: str | Path, problem: Problem) -> Overrides:
    source = display_path(path)
    data = safeload.load_file(path, MAX_OVERRIDES_BYTES, "overrides file")
    items = data.get("overrides") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise CnnCalcError("an overrides file is {overrides: [{student, question, score}, ...]}", file=source)
    known = {q.id: q for q in problem.questions}
    result: list[dict[str, Any]] = []
    maxes: dict[str, float] = {}
    seen: dict[tuple[str, str], int] = {}
    seen_groups: dict[tuple[str, str], int] = {}
    for position, item in enumerate(items, start=1):
        line = getattr(item, "line", None) or getattr(items, "line", None)
        where = f"override {position}"
        if isinstance(item, dict) and "q" in item and "question" not in item:
            item = {("question" if name == "q" else name): value for name, value in item.items()}
        group = isinstance(item, dict) and "answer" in item and "student" not in item
        if not isinstance(item, dict) or not ({"question", "score"} <= set(item)
                                              and ("student" in item or group)):
            raise CnnCalcError(f"{where} needs student, question and score (or, for an answer group, question, "
                               "answer and score)", file=source, line=line, got=item,
                               expected="{student: ID, question: QID, score: N} or {question: QID, answer: VALUE, "
                                        "score: N}")
        for name in item:
            if name not in OVERRIDE_FIELDS:
                raise CnnCalcError(f"{where}: unknown field", file=source, line=line, field=clean_text(str(name), 80),
                                   hint=did_you_mean(str(name)[:80], OVERRIDE_FIELDS))
        if "student" in item and "answer" in item:
            raise CnnCalcError(f"{where}: an override scores a student or an answer group, not both", file=source,
                               line=line, expected="student or answer")
        student, qid = item.get("student"), item["question"]
        if group:
            result.append(_group_item(item, position, line, where, known, source, seen_groups))
            continue
        if not isinstance(student, str) or not student.strip():
            raise CnnCalcError(f"{where}: the student id must be text, written in quotes so that it is read "
                               "exactly (student: \"0012345\")", file=source, line=line, got=student,
                               expected="a quoted id")
        if not isinstance(qid, str) or qid not in known:
            raise CnnCalcError(f"{where}: unknown question", file=source, line=line,
                               got=clean_text(qid, 80) if isinstance(qid, str) else qid,
                               expected="a question id of " + problem.id, hint=did_you_mean(str(qid)[:80], known))
        question = known[qid]
        limit = question.points
        if "max" in item:
            given = _finite(item["max"], f"{where}: max", source, line)
            if question.kind != "manual" and given != question.points:
                raise CnnCalcError(f"{where}: max can be set for a manual question only; '{qid}' is graded "
                                   f"automatically and is worth {question.points:g} (change its points in the "
                                   "problem file)", file=source, line=line, got=item["max"],
                                   expected=f"{question.points:g} or no max")
            if qid in maxes and maxes[qid] != given:
                raise CnnCalcError(f"{where}: max {given:g} differs from max {maxes[qid]:g} given earlier for "
                                   f"'{qid}' (a max applies to the whole class)", file=source, line=line)
            maxes[qid] = limit = given
        score = override_score(item["score"], limit, f"{where}: score", source, line)
        if not 0 <= score <= limit:
            raise CnnCalcError(f"{where}: score out of range", file=source, line=line, got=item["score"],
                               expected=f"a number from 0 to {limit:g}")
        comment = item.get("comment", "score set by the instructor")
        if not isinstance(comment, str):
            raise CnnCalcError(f"{where}: comment must be text", file=source, line=line, got=comment,
                               expected="text")
        try:
            student = normalise_id(student)
        except CnnCalcError as error:
            raise CnnCalcError(f"{where}: {error.message}", file=source, line=line, expected=error.expected,
                               hint=error.hint) from None
        pair = (student, qid)
        if pair in seen:
            raise CnnCalcError(f"{where} repeats override {seen[pair]} (student {pair[0]!r}, question '{qid}')",
                               file=source, line=line)
        seen[pair] = position
        result.append({"student": pair[0], "question": qid, "score": score, "comment": comment,
                       "position": position, "line": line})
    # a max given once applies to every override of that question, whatever their order
    for item in result:
        limit = maxes.get(item["question"], known[item["question"]].points)
        if item["score"] > limit:
            raise CnnCalcError(f"override {item['position']}: score out of range", file=source, line=item["line"],
                               got=item["score"], expected=f"a number from 0 to {limit:g}")
    return Overrides(result, maxes, source, {q.id: q.kind for q in problem.questions})


def _group_item(item: dict[str, Any], position: int, line: int | None, where: str, known: dict[str, Any],
                source: str, seen: dict[tuple[str, str], int]) -> dict[str, Any]:
    """An answer group's entry: its question, its answer in the one form groups match on, its score."""
    qid = item["question"]
    if not isinstance(qid, str) or qid not in known:
        raise CnnCalcError(f"{where}: unknown question", file=source, line=line,
                           got=clean_text(qid, 80) if isinstance(qid, str) else qid,
                           expected="a question id", hint=did_you_mean(str(qid)[:80], known))
    question = known[qid]
    if question.kind == "manual":
        raise CnnCalcError(f"{where}: '{qid}' is graded by the instructor: it has no answer groups; score each "
                           "student", file=source, line=line)
    if "max" in item:
        raise CnnCalcError(f"{where}: max goes with a student's override of a manual question", file=source,
                           line=line)
    form = answer_form(question.kind, item["answer"])
    if form is None:
        raise CnnCalcError(f"{where}: this answer cannot form a group", file=source, line=line,
                           got=item["answer"], expected=f"an answer to '{qid}' as students write it")
    score = override_score(item["score"], question.points, f"{where}: score", source, line)
    if not 0 <= score <= question.points:
        raise CnnCalcError(f"{where}: score out of range", file=source, line=line, got=item["score"],
                           expected=f"a number from 0 to {question.points:g}")
    comment = item.get("comment", "score set by the instructor for this answer")
    if not isinstance(comment, str):
        raise CnnCalcError(f"{where}: comment must be text", file=source, line=line, got=comment,
                           expected="text")
    if (qid, form) in seen:
        raise CnnCalcError(f"{where} repeats override {seen[(qid, form)]} (question '{qid}', answer "
                           f"{clean_text(form, 80)})", file=source, line=line)
    seen[(qid, form)] = position
    return {"student": None, "question": qid, "answer": item["answer"], "form": form, "score": score,
            "comment": comment, "position": position, "line": line}


#: a score typed as the report prints it (4 decimals: 0.6667 for 2/3) is taken as the value it rounds
SCORE_TOLERANCE = 1e-4
_FRACTION = re.compile(r"\s*(\d{1,12}(?:\.\d{1,12})?)\s*(?:/\s*(\d{1,12}(?:\.\d{1,12})?)\s*)?")


def override_score(value: Any, limit: float, what: str, source: str | None = None, line: int | None = None
                   ) -> float:
    """An instructor's score: a number, or a fraction written as text (``"2/3"``). A number within
    SCORE_TOLERANCE of the question's points or of a simple fraction of them (k/q of the points, q up to
    12) is that value, so the figure the report prints is accepted as the score it stands for.

    >>> override_score(0.6667, 1.0, "score"), override_score("2/3", 2.0, "score")
    (0.6666666666666666, 0.6666666666666666)
    >>> override_score(0.25, 0.5, "score"), override_score(0.5001, 0.5, "score")
    (0.25, 0.5)
    """
    if isinstance(value, str):
        match = _FRACTION.fullmatch(value)
        if not match or (match.group(2) is not None and float(match.group(2)) == 0):
            raise CnnCalcError(f"{what} must be a number or a fraction such as 2/3", file=source, line=line,
                               got=value, expected="a number from 0 to the question's points, or N/D")
        return float(Fraction(match.group(1)) / Fraction(match.group(2) or 1))
    score = _finite(value, what, source or "", line)
    if limit > 0 and score > 0:
        nearest = min((limit * k / q for q in range(1, 13) for k in range(q + 1)),
                      key=lambda exact: abs(exact - score))
        if abs(nearest - score) <= SCORE_TOLERANCE:
            return nearest
    return score


def _float_finite(value: float) -> bool:
    """A finite float, or an integer within a float's range (10^309 is no score)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _finite(value: Any, what: str, source: str, line: int | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _float_finite(value):
        raise CnnCalcError(f"{what} must be a number", file=source, line=line, got=value,
                           expected="a finite number")
    if value < 0:
        raise CnnCalcError(f"{what} is negative", file=source, line=line, got=value, expected="0 or more")
    return float(value)


def check_overrides(results: list[StudentResult], overrides: Overrides) -> None:
    """Every override names a student graded in this batch (a typo would silently be lost)."""
    graded = {r.student for r in results if r.error is None}
    for item in overrides.items:
        if item["student"] is not None and item["student"] not in graded:
            hint = did_you_mean(item["student"], graded)
            raise CnnCalcError(f"override {item['position']}: student {clean_text(item['student'], 80)!r} is not "
                               "in this batch (no answer file graded under that id)", file=overrides.source,
                               line=item["line"], hint=hint)


def apply_overrides(results: list[StudentResult], overrides: Overrides) -> None:
    """Instructor scores always win (manual items, regrades); a manual item's max applies to everyone; an
    answer group's score goes to every student who gave that answer and was not graded correct for it, and
    a student's own override wins over their group's."""
    for result in results:
        if result.error is not None:
            continue
        for q in result.questions:
            if q.id in overrides.maxes:
                q.max = overrides.maxes[q.id]
    groups = {(item["question"], item["form"]): item for item in overrides.items if item["student"] is None}
    if groups:
        forms = AnswerForms()
        questions = {qid for qid, _ in groups}
        for result in results:
            if result.error is not None:
                continue
            for q in result.questions:
                if q.id in questions and q.status != "correct" and q.got is not None:
                    item = groups.get((q.id, forms(overrides.kinds.get(q.id, ""), q.got)))
                    if item is not None:
                        _set(q, item, "instructor (answer group): ")
    for item in overrides.items:
        if item["student"] is None:
            continue
        for result in results:
            if result.error is None and result.student == item["student"]:
                _override(result, item)


def _override(result: StudentResult, item: dict[str, Any]) -> None:
    for q in result.questions:
        if q.id == item["question"]:
            _set(q, item, "instructor: ")
            return


def _set(q: Any, item: dict[str, Any], prefix: str) -> None:
    q.score = float(item["score"])
    q.status = "correct" if q.score >= q.max > 0 else ("partial" if q.score > 0 else "incorrect")
    q.feedback = prefix + item["comment"]
