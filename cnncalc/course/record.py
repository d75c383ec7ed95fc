"""Recording a grading run in the gradebook: one submission per answer file, in one transaction.

A submission is one answer file as graded: its student, the assignment (problem id and version), the
file's path, SHA-256 and modification time (the submission time), when and by which cnncalc it was
graded, its total and one row per question (score, points, status, the answer in the one form answer
groups match on — read as the question's kind reads it, then canonical —, feedback, diagnosis).
Grading the same file again (same student, path and content) updates that submission in place; a
changed file is a new submission, and the old one stays in the history. Nothing of any other student
is touched, and overrides are never changed by a run.

Refused, each with its reason and without stopping the others (the caller reports them, exit 1): a
file that could not be graded, a student not on the roster (unless ``allow_unlisted``, which records the
student as unlisted), and two files of one student in one run (both named; with ``latest`` both are
recorded and the later one, by submission time, counts).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CnnCalcError, did_you_mean
from ..exercises.grading import AnswerForms, StudentResult, clean_text, display_path, json_value
from ..exercises.problem import Problem
from .course import Course
from .ids import author, file_time, now, student_id
from .store import STATUSES, sqlite_errors, write_transaction

MAX_HASHED_BYTES = 64 * 1024 * 1024


@dataclass
class RecordedFile:
    file: str
    student: str
    submission_id: int
    regraded: bool  # the same file was recorded before: its submission was updated


@dataclass
class RecordResult:
    assignment: str
    run_id: int | None
    recorded: list[RecordedFile] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    warnings: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)  # students added with allow_unlisted
    flags: int = 0  # copy flags recorded or refreshed

    def as_dict(self) -> dict[str, Any]:
        return {"assignment": self.assignment, "run": self.run_id,
                "recorded": [{"file": r.file, "student": r.student, "submission": r.submission_id,
                              "regraded": r.regraded} for r in self.recorded],
                "refused": [{"file": f, "reason": r} for f, r in self.refused], "warnings": self.warnings,
                "unlisted": self.unlisted, "flags": self.flags}


@dataclass
class _Entry:
    result: StudentResult
    path: Path
    student: str
    sha256: str
    submitted: str
    name: str
    questions: list[tuple[Any, ...]]  # question rows without their submission id, ready to insert
    warnings: str
    file: str  # the absolute path, as stored
    shown: str  # the path as reports show it


def assignment_label(problem: str, version: str) -> str:
    """How messages and options name an assignment: ``problem@version``."""
    return f"{problem}@{version}"


def record_grades(course: Course, problem: Problem, results: Sequence[StudentResult],
                  files: Sequence[str | Path] | None = None, *, copies: Iterable[Any] = (), latest: bool = False,
                  allow_unlisted: bool = False) -> RecordResult:
    """Record a grading run of ``problem``: ``results[i]`` is the grade of the answer file ``files[i]``
    (default: each result's ``file``). ``copies`` are the copy-check's flagged pairs
    (:class:`cnncalc.exercises.copies.CopyPair`). One transaction: all of it lands, or none."""
    paths = [Path(f) for f in files] if files is not None else [Path(r.file) for r in results]
    if len(paths) != len(results):
        raise CnnCalcError(f"record_grades: {len(results)} results but {len(paths)} files")
    version = str(problem.version)
    label = assignment_label(problem.id, version)
    outcome = RecordResult(label, None)
    entries: list[_Entry] = []
    forms = AnswerForms()
    kinds = {q.id: q.kind for q in problem.questions}
    for result, path in zip(results, paths):
        shown = _shown(path)
        if result.error is not None:
            outcome.refused.append((shown, f"not recorded: {clean_text(result.error, 300)}"))
            continue
        try:
            student = student_id(result.student)
            sha, submitted = _fingerprint(path)
        except CnnCalcError as error:
            outcome.refused.append((shown, f"not recorded: {error}"))
            continue
        warnings = json.dumps([clean_text(w, 1000) for w in result.warnings], ensure_ascii=False)
        entries.append(_Entry(result, path, student, sha, submitted, _stored_path(path.name),
                              _question_rows(result, forms, kinds), warnings,
                              _stored_path(Path(os.path.abspath(path))), shown))
    entries = _one_per_student(entries, latest, outcome)
    from .. import __version__

    graded = now()
    with sqlite_errors(course.gradebook), write_transaction(course.db) as db:
        assignment_id = _assignment(db, problem, version, graded)
        kept = _on_roster(db, entries, allow_unlisted, outcome)
        run_id = db.execute("INSERT INTO runs (assignment_id, started, author, cnncalc_version, files, recorded) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            (assignment_id, graded, author(), __version__, len(results), len(kept))).lastrowid
        outcome.run_id = run_id
        existing = {(student, file, sha): sid for sid, student, file, sha in db.execute(
            "SELECT id, student_id, file, sha256 FROM submissions WHERE assignment_id = ?", (assignment_id,))}
        # new submissions get their ids here (the write lock is held), so that each table takes one executemany
        next_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM submissions").fetchone()[0]
        added: list[tuple[Any, ...]] = []
        updated: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        this_run: set[int] = set()
        for entry in kept:
            result = entry.result
            key = (entry.student, entry.file, entry.sha256)
            found = existing.get(key)
            if found in this_run:  # the same file reached twice in one run (through a link): once is enough
                continue
            values = (run_id, entry.submitted, graded, __version__, result.variant, result.score, result.max,
                      entry.warnings)
            if found is not None:
                sid = found
                updated.append((*values, sid))
            else:
                sid, next_id = next_id, next_id + 1
                existing[key] = sid
                added.append((sid, *values, entry.student, assignment_id, entry.file, entry.name, entry.sha256))
            this_run.add(sid)
            outcome.recorded.append(RecordedFile(entry.shown, entry.student, sid, found is not None))
            rows += [(sid, *row) for row in entry.questions]
        db.executemany("UPDATE submissions SET run_id = ?, submitted = ?, graded = ?, cnncalc_version = ?, variant = ?, "
                       "score = ?, max = ?, warnings = ? WHERE id = ?", updated)
        db.executemany("DELETE FROM question_results WHERE submission_id = ?", [(item[-1],) for item in updated])
        db.executemany("INSERT INTO submissions (id, run_id, submitted, graded, cnncalc_version, variant, score, max, "
                       "warnings, student_id, assignment_id, file, file_name, sha256) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", added)
        db.executemany("INSERT INTO question_results (submission_id, question, position, score, points, status, "
                       "answer, feedback, diagnosis) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        outcome.flags = _record_flags(db, assignment_id, copies, graded)
    return outcome


def _on_roster(db: Any, entries: list[_Entry], allow_unlisted: bool, outcome: RecordResult) -> list[_Entry]:
    """The entries whose student is in the course; students not on the roster are refused, or recorded as
    unlisted with ``allow_unlisted``."""
    known = dict(db.execute("SELECT id, listed FROM students"))
    position = db.execute("SELECT coalesce(max(position), -1) + 1 FROM students").fetchone()[0]
    kept: list[_Entry] = []
    for entry in entries:
        if entry.student not in known:
            if not allow_unlisted:
                hint = did_you_mean(entry.student, [s for s, listed in known.items() if listed])
                outcome.refused.append((entry.shown, f"not recorded: student {clean_text(entry.student, 80)!r} is not "
                                        "on the course roster" + (f" ({hint})" if hint else "")
                                        + " (--allow-unlisted records them)"))
                continue
            db.execute("INSERT INTO students (id, listed, position) VALUES (?, 0, ?)", (entry.student, position))
            known[entry.student] = 0
            position += 1
            outcome.unlisted.append(entry.student)
        kept.append(entry)
    return kept


def _shown(path: Path) -> str:
    text = str(path)
    return text if text.isprintable() else display_path(path)


def _stored_path(path: str | Path) -> str:
    """A path as stored: the file system's bytes as UTF-8 text, bytes that are not UTF-8 written as ``\\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _fingerprint(path: Path) -> tuple[str, str]:
    """(SHA-256, modification time) of an answer file, read as a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise CnnCalcError(f"cannot read the file: {error.strerror}", file=display_path(path)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CnnCalcError("not a regular file", file=display_path(path))
        if info.st_size > MAX_HASHED_BYTES:
            raise CnnCalcError("file too large to record", file=display_path(path))
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest(), file_time(info.st_mtime_ns)


def _one_per_student(entries: list[_Entry], latest: bool, outcome: RecordResult) -> list[_Entry]:
    by_student: dict[str, list[_Entry]] = {}
    for entry in entries:
        by_student.setdefault(entry.student, []).append(entry)
    kept = []
    for entry in entries:
        claims = by_student[entry.student]
        if len(claims) == 1:
            kept.append(entry)
            continue
        names = ", ".join(c.shown for c in claims[:5]) + (" …" if len(claims) > 5 else "")
        if latest:
            kept.append(entry)
            if entry is claims[0]:
                newest = max(claims, key=lambda c: (c.submitted, c.name))
                outcome.warnings.append(f"student {clean_text(entry.student, 80)!r} has {len(claims)} files in this "
                                        f"run ({names}); the latest, {newest.shown}, is the current "
                                        "grade")
        else:
            reason = (f"not recorded: {len(claims)} files of student {clean_text(entry.student, 80)!r} in one run "
                      f"({names}); remove all but one, or give --latest to let the latest count")
            outcome.refused.append((entry.shown, reason))
    return kept


def _assignment(db: Any, problem: Problem, version: str, when: str) -> int:
    """The assignment's id (made on its first run); its title, points and questions follow the problem file."""
    total = sum(q.points for q in problem.questions)
    row = db.execute("SELECT id FROM assignments WHERE problem = ? AND version = ?", (problem.id, version)).fetchone()
    if row is None:
        assignment_id = db.execute("INSERT INTO assignments (problem, version, title, max, created) "
                                   "VALUES (?, ?, ?, ?, ?)", (problem.id, version, problem.title or "", total,
                                                              when)).lastrowid
    else:
        assignment_id = row[0]
        db.execute("UPDATE assignments SET title = ?, max = ? WHERE id = ?", (problem.title or "", total, assignment_id))
    db.executemany("INSERT INTO questions (assignment_id, id, position, kind, points) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT (assignment_id, id) DO UPDATE SET position = excluded.position, kind = excluded.kind, "
                   "points = excluded.points",
                   [(assignment_id, q.id, position, q.kind, q.points) for position, q in enumerate(problem.questions)])
    return assignment_id


def _question_rows(result: StudentResult, forms: AnswerForms, kinds: dict[str, str]) -> list[tuple[Any, ...]]:
    rows = [(q.id, position, float(q.score), float(q.max), q.status if q.status in STATUSES else "invalid",
             forms(kinds.get(q.id, ""), q.got), q.feedback or "", _diagnosis(q))
            for position, q in enumerate(result.questions)]
    if len({row[0] for row in rows}) < len(rows):  # an unknown id listed twice by the grader: the first stands
        first: dict[str, tuple[Any, ...]] = {}
        for row in rows:
            first.setdefault(row[0], row)
        rows = list(first.values())
    return rows


def _diagnosis(q: Any) -> str | None:
    """What marking found of a wrong answer, as JSON: the slip's rule and message (or nulls) and whether
    the answer follows from the student's own earlier ones; NULL when it found nothing."""
    value = getattr(q, "diagnosis", None)
    follows = bool(getattr(q, "follow_through", False))
    if value is None and not follows:
        return None
    if value is None:
        value = {"rule": None, "message": None}
    elif hasattr(value, "as_dict"):
        value = value.as_dict()
    elif not isinstance(value, (dict, list, str)):
        value = {key: getattr(value, key) for key in ("rule", "message") if hasattr(value, key)} or str(value)
    if isinstance(value, dict):
        value = {**value, "follow_through": follows}
    return json.dumps(json_value(value), ensure_ascii=False)


def _record_flags(db: Any, assignment_id: int, copies: Iterable[Any], when: str) -> int:
    """Store each flagged pair once per assignment (the pair in id order; the evidence says who matches whom).
    A pair flagged again gets its evidence refreshed; its status (dismissed, confirmed) stays the
    instructor's."""
    count = 0
    copies = list(copies)
    students = {s for (s,) in db.execute("SELECT id FROM students")} if copies else set()
    for pair in copies:
        one, other = student_id(pair.student), student_id(pair.other)
        if one == other or one not in students or other not in students:
            continue
        low, high = sorted((one, other))
        evidence = dict(json_value(pair.as_dict()), message=pair.message())
        db.execute("INSERT INTO copy_flags (assignment_id, student_id, other_id, bits, evidence, first_seen, last_seen) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (assignment_id, student_id, other_id) DO UPDATE SET "
                   "bits = excluded.bits, evidence = excluded.evidence, last_seen = excluded.last_seen",
                   (assignment_id, low, high, float(pair.bits), json.dumps(evidence, ensure_ascii=False), when, when))
        count += 1
    return count
