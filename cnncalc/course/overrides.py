"""Instructor overrides: stored rows, never edits of an automatic score, so they survive every regrade.

An override scores one question of one student (or, with ``answer``, every student who gave that answer
to the question and was not graded correct for it: an answer group), with a reason; its author (the operating-system user) and time are
kept, and clearing one marks it cleared rather than deleting it, so a student's history shows every
change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import CnnCalcError, did_you_mean
from ..exercises.grading import CONTROL_CHARS, answer_form, clean_text, display_path
from ..exercises.problem import Problem
from .course import Course, lookup_student
from .grades import GROUP_SQL, active_overrides, current_submissions
from .ids import author, now, student_id
from .store import sqlite_errors, write_transaction

#: how close a typed decimal must be to the figure a report prints (4 decimals) to stand for it
PRINTED_TOLERANCE = 1e-4
MAX_REASON_CHARS = 2000
_DECIMAL = re.compile(r"\+?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_FRACTION = re.compile(r"\+?(\d+)\s*/\s*(\d+)")


def printed(value: float) -> str:
    """A score as every report prints it (4 decimals at most).

    >>> printed(2 / 3), printed(0.5), printed(3.0)
    ('0.6667', '0.5', '3')
    """
    return f"{round(value, 4):g}"


def parse_score(value: Any, points: float, candidates: Iterable[float] = ()) -> float:
    """A score typed by an instructor, checked against the question's ``points``.

    Accepted: a number (``0.5``), a fraction (``2/3``, kept exact), or a figure as a report prints it:
    a decimal that is the 4-decimal rounding of 0, of the points, of a score already given for this
    question (``candidates``) or of a simple share of the points (k/n, n up to 16) stands for that exact
    value (``0.6667`` of a question worth 2/3 is 2/3), and a decimal within 1e-4 of a bound's printed
    figure is that bound.

    >>> parse_score("2/3", 1) == 2 / 3
    True
    >>> parse_score("0.6667", 2 / 3) == 2 / 3
    True
    >>> parse_score("0.4688", 0.5, [0.46875])
    0.46875
    >>> parse_score(0.3, 1)
    0.3
    >>> parse_score("0.7", 2 / 3)
    Traceback (most recent call last):
    ...
    cnncalc.errors.CnnCalcError: score out of range (got '0.7', expected a score from 0 to 0.6667 (2/3))
    """
    expected = f"a score from 0 to {printed(points)}" + (f" ({_as_fraction(points)})" if _as_fraction(points) else "")
    if isinstance(value, bool) or value is None:
        raise CnnCalcError("the score must be a number", got=value, expected=expected)
    if isinstance(value, str):
        text = value.strip()
        fraction = _FRACTION.fullmatch(text)
        if fraction:
            if int(fraction.group(2)) == 0:
                raise CnnCalcError("the score divides by zero", got=value, expected=expected)
            exact = float(Fraction(int(fraction.group(1)), int(fraction.group(2))))
            if exact > points and math.isclose(exact, points, rel_tol=1e-12, abs_tol=1e-12):
                exact = points
            if not 0 <= exact <= points:
                raise CnnCalcError("score out of range", got=value, expected=expected)
            return exact
        if not _DECIMAL.fullmatch(text):
            raise CnnCalcError("the score must be a number, a fraction such as 2/3, or a figure as the report "
                               "prints it", got=clean_text(text, 80), expected=expected)
        number = float(text)
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        raise CnnCalcError("the score must be a number", got=value, expected=expected)
    if not math.isfinite(number) or number < 0:
        raise CnnCalcError("score out of range", got=value, expected=expected)
    shares = [points * k / n for n in range(2, 17) for k in range(1, n)]
    for exact in (0.0, points, *candidates, *shares):
        if 0 <= exact <= points and abs(number - round(exact, 4)) <= 1e-12:
            return exact
    if number <= points:
        return number
    if abs(number - round(points, 4)) <= PRINTED_TOLERANCE + 1e-12:
        return points
    raise CnnCalcError("score out of range", got=value, expected=expected)


def _as_fraction(value: float) -> str | None:
    """``2/3`` for a value a small fraction gives exactly and 4 decimals do not."""
    fraction = Fraction(value).limit_denominator(64)
    if fraction.denominator == 1 or float(fraction) != value or printed(value) == str(value):
        return None
    return f"{fraction.numerator}/{fraction.denominator}"


@dataclass
class OverrideResult:
    assignment: str
    question: str
    student: str | None
    answer: str | None
    score: float | None  # None when cleared
    points: float
    previous: float | None  # the question's score for the student before (None: no submission, or a group)
    cleared: int  # overrides cleared by this call
    override_id: int | None
    author: str
    time: str

    def as_dict(self) -> dict[str, Any]:
        return {"assignment": self.assignment, "question": self.question, "student": self.student,
                "answer": self.answer, "score": self.score, "points": self.points, "previous": self.previous,
                "cleared": self.cleared, "override": self.override_id, "author": self.author, "time": self.time}


def override(course: Course, student: str | None, question: str, score: Any = None, reason: str = "",
             clear: bool = False, *, assignment: str | None = None, answer: Any = None, max: float | None = None,
             source: str = "command") -> OverrideResult:
    """Set (or with ``clear``, remove) the score of ``question`` for ``student`` — or, with ``student``
    None and ``answer`` given, for every student whose answer to it is ``answer`` (and not graded correct). ``assignment``
    (``problem`` or ``problem@version``) is needed only when several recorded assignments have a
    question of that id. ``max`` gives a manual question its points (class-wide)."""
    with sqlite_errors(course.gradebook), write_transaction(course.db):
        return _override(course, student, question, score, reason, clear, assignment, answer, max, source)


def _override(course: Course, student: str | None, question: str, score: Any, reason: str, clear: bool,
              assignment: str | None, answer: Any, max: float | None, source: str) -> OverrideResult:
    db = course.db
    if (student is None) == (answer is None):
        raise CnnCalcError("an override names a student, or (for an answer group) an answer, not both")
    if student is not None:
        student = lookup_student(course, student)
    aid, label = resolve_assignment(course, question, assignment, student)
    kind, points = db.execute("SELECT kind, points FROM questions WHERE assignment_id = ? AND id = ?",
                              (aid, question)).fetchone()
    group = None
    if answer is not None:
        if kind == "manual":
            raise CnnCalcError(f"'{question}' is graded by the instructor: it has no answer groups; score each "
                               "student")
        group = answer_form(kind, answer)  # as the gradebook stores the answers (record.py)
        if group is None:
            raise CnnCalcError("this answer cannot form a group (no number, list or text)", got=answer)
    target = "student_id = ?" if student is not None else "answer = ?"
    key = (aid, question, student if student is not None else group)
    when, who = now(), author()
    if clear:
        cleared = db.execute(f"UPDATE overrides SET cleared = 1, cleared_by = ?, cleared_at = ? WHERE assignment_id = ? "
                             f"AND question = ? AND {target} AND cleared = 0", (who, when, *key)).rowcount
        if not cleared:
            raise CnnCalcError(f"no override of '{question}' ({label}) to clear for "
                               + (f"student {student!r}" if student is not None else f"the answer {group}"))
        return OverrideResult(label, question, student, group, None, points, None, cleared, None, who, when)
    reason = (reason or "").strip()
    if not reason:
        raise CnnCalcError("an override needs a reason (--reason TEXT): it is shown in the student's history")
    if len(reason) > MAX_REASON_CHARS:
        raise CnnCalcError(f"the reason is too long ({len(reason):,} characters, at most {MAX_REASON_CHARS:,})")
    if max is not None:
        if kind != "manual":
            raise CnnCalcError(f"max can be set for a manual question only; '{question}' is graded automatically and "
                               f"is worth {printed(points)}", got=max, expected="no max")
        if isinstance(max, bool) or not isinstance(max, (int, float)) or not math.isfinite(max) or max < 0:
            raise CnnCalcError("max must be a number of 0 or more", got=max)
        points = float(max)
    else:
        row = db.execute("SELECT max FROM overrides WHERE assignment_id = ? AND question = ? AND cleared = 0 "
                         "AND max IS NOT NULL ORDER BY id DESC LIMIT 1", (aid, question)).fetchone()
        points = row[0] if row else points
    previous = None
    candidates = [v for (v,) in db.execute(
        "SELECT DISTINCT qr.score FROM question_results qr JOIN submissions s ON s.id = qr.submission_id "
        "WHERE s.assignment_id = ? AND qr.question = ? LIMIT 200", (aid, question))]
    if student is not None:
        current = current_submissions(db, student, aid).get((student, aid))
        if current is None:
            raise CnnCalcError(f"student {student!r} has no submission of {label}: an override changes a recorded "
                               "grade (grade the student's file first)")
        row = db.execute(f"SELECT score, {GROUP_SQL} FROM question_results WHERE submission_id = ? AND question = ?",
                         (current[0], question)).fetchone()
        active = active_overrides(db, aid).score_for(aid, question, student, row[1] if row else None)
        previous = active.score if active is not None else (row[0] if row else 0.0)
    value = parse_score(score, points, candidates)
    override_id = db.execute(
        "INSERT INTO overrides (assignment_id, question, student_id, answer, score, max, reason, author, created, "
        "source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (aid, question, student, group, value, max, reason, who, when, source)).lastrowid
    return OverrideResult(label, question, student, group, value, points, previous, 0, override_id, who, when)


def resolve_assignment(course: Course, question: str, assignment: str | None, student: str | None = None
                       ) -> tuple[int, str]:
    """(assignment id, label) of the recorded assignment with ``question``: the one named, else the only
    one that has the question, else the only one of those the student has a submission of."""
    db = course.db
    rows = db.execute("SELECT a.id, a.problem, a.version FROM assignments a JOIN questions q ON q.assignment_id = a.id "
                      "WHERE q.id = ? ORDER BY a.id", (question,)).fetchall()
    if assignment is not None:
        aid, label = find_assignment(course, assignment)
        if not any(r[0] == aid for r in rows):
            known = [q for (q,) in db.execute("SELECT id FROM questions WHERE assignment_id = ?", (aid,))]
            raise CnnCalcError(f"{label} has no question '{clean_text(question, 80)}'", hint=did_you_mean(question, known))
        return aid, label
    if not rows:
        known = sorted({q for (q,) in db.execute("SELECT id FROM questions")})
        raise CnnCalcError(f"no recorded assignment has a question '{clean_text(question, 80)}'"
                           + ("" if known else " (nothing has been graded in this course yet)"),
                           hint=did_you_mean(question, known))
    if len(rows) > 1 and student is not None:
        mine = [r for r in rows if db.execute("SELECT 1 FROM submissions WHERE assignment_id = ? AND student_id = ? "
                                              "LIMIT 1", (r[0], student)).fetchone()]
        rows = mine if len(mine) == 1 else rows
    if len(rows) > 1:
        raise CnnCalcError(f"several assignments have a question '{question}': "
                           + ", ".join(f"{p}@{v}" for _, p, v in rows), hint="name one with --assignment")
    return rows[0][0], f"{rows[0][1]}@{rows[0][2]}"


def find_assignment(course: Course, name: str) -> tuple[int, str]:
    """A recorded assignment by ``problem`` (its only version) or ``problem@version``."""
    problem, _, version = name.partition("@")
    rows = course.db.execute("SELECT id, problem, version FROM assignments WHERE problem = ? "
                             "AND (?2 = '' OR version = ?2) ORDER BY id", (problem, version)).fetchall()
    if not rows:
        known = [f"{p}@{v}" for p, v in course.db.execute("SELECT problem, version FROM assignments")]
        raise CnnCalcError("no such assignment in this course", got=clean_text(name, 80),
                           expected=", ".join(known[:10]) or "a graded assignment (nothing is recorded yet)",
                           hint=did_you_mean(name, known + [k.partition("@")[0] for k in known]))
    if len(rows) > 1:
        raise CnnCalcError(f"assignment {name!r} has several versions: " + ", ".join(f"{p}@{v}" for _, p, v in rows),
                           hint="name one as problem@version")
    return rows[0][0], f"{rows[0][1]}@{rows[0][2]}"


def record_override_file(course: Course, problem: Problem, path: str | Path) -> list[OverrideResult]:
    """The entries of an ``--overrides FILE`` (:func:`cnncalc.exercises.overrides.read_overrides`) stored as
    overrides of ``problem``'s assignment, in one transaction; an entry identical to the override in force
    (same score, max and reason) is not stored again, so passing the file on every run adds nothing."""
    from ..exercises.overrides import read_overrides

    entries = read_overrides(path, problem)
    source = f"file {display_path(path)}"
    label = f"{problem.id}@{problem.version}"
    results = []
    with sqlite_errors(course.gradebook), write_transaction(course.db) as db:
        aid, _ = find_assignment(course, label)
        for item in entries.items:
            # an entry scores a student, or (with `answer` and no student) an answer group
            student = student_id(item["student"]) if item.get("student") is not None else None
            answer = item.get("answer") if student is None else None
            question = str(item.get("question", item.get("q")))
            limit = entries.maxes.get(question)
            reason = str(item.get("comment") or "score set by the instructor")
            if CONTROL_CHARS.search(reason):
                reason = clean_text(reason, MAX_REASON_CHARS)
            target = (student, None) if student is not None else (None, item["form"])
            same = db.execute("SELECT score, max, reason FROM overrides WHERE assignment_id = ? AND question = ? "
                              "AND student_id IS ? AND answer IS ? AND cleared = 0 ORDER BY id DESC LIMIT 1",
                              (aid, question, *target)).fetchone()
            if same is not None and same == (float(item["score"]), limit, reason):
                continue
            results.append(_override(course, student, question, float(item["score"]), reason, False, label, answer,
                                     limit, source))
    return results
