"""What the gradebook shows: the class table, who has not submitted, one student's history, copy flags,
and backups. Each function returns a result object with ``as_dict()`` (JSON) and ``text()`` (a plain
report); only the CLI prints them."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CnnCalcError
from ..exercises.grading import clean_text
from .course import Course, lookup_student
from .grades import Grade, Override, active_overrides, current_grades, effective_questions
from .ids import author, now
from .overrides import find_assignment, printed
from .store import FLAG_STATUSES, backup_to, read_snapshot, sqlite_errors, write_transaction


@dataclass
class Assignment:
    id: int
    problem: str
    version: str
    title: str
    max: float

    @property
    def label(self) -> str:
        return f"{self.problem}@{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return {"assignment": self.label, "problem": self.problem, "version": self.version, "title": self.title,
                "max": self.max}


def assignments(db: sqlite3.Connection) -> list[Assignment]:
    return [Assignment(*row) for row in
            db.execute("SELECT id, problem, version, title, max FROM assignments ORDER BY created, id")]


# ---------------------------------------------------------------- show


@dataclass
class ClassRow:
    student: str
    name: str
    email: str
    section: str
    listed: bool
    grades: list[Grade | None]  # one per assignment of the table, None: no submission

    @property
    def total(self) -> float:
        return sum(g.score for g in self.grades if g is not None)


@dataclass
class ClassTable:
    assignments: list[Assignment]
    rows: list[ClassRow]

    @property
    def max(self) -> float:
        return sum(a.max for a in self.assignments)

    def as_dict(self) -> dict[str, Any]:
        return {"assignments": [a.as_dict() for a in self.assignments], "max": self.max,
                "students": [{"student": r.student, "name": r.name, "email": r.email, "section": r.section,
                              "listed": r.listed, "total": round(r.total, 6),
                              "grades": {a.label: (None if g is None else
                                                   {"score": round(g.score, 6), "max": round(g.max, 6),
                                                    "auto_score": round(g.auto_score, 6),
                                                    "overridden": g.overridden})
                                         for a, g in zip(self.assignments, r.grades)}}
                             for r in self.rows]}

    def text(self) -> str:
        headers = ["student", "name", "section", *(a.label for a in self.assignments), "total"]
        body = []
        for row in self.rows:
            cells = [clean_text(row.student, 40) + ("" if row.listed else " (unlisted)"), clean_text(row.name, 40),
                     clean_text(row.section, 20)]
            cells += ["—" if g is None else printed(g.score) + ("*" if g.overridden else "") for g in row.grades]
            body.append(cells + [printed(row.total)])
        body.append(["max", "", "", *(printed(a.max) for a in self.assignments), printed(self.max)])
        lines = _table(headers, body)
        if any(g is not None and g.overridden for r in self.rows for g in r.grades):
            lines.append("* an instructor override counts in this grade (gradebook history STUDENT)")
        return "\n".join(lines) + "\n"


def show(course: Course) -> ClassTable:
    """The class table: every roster student (and any unlisted student with a submission) × every recorded
    assignment, current grades with overrides applied, and totals."""
    with sqlite_errors(course.gradebook), read_snapshot(course.db) as db:
        return _class_table(db)


def _class_table(db: sqlite3.Connection, only: list[Assignment] | None = None) -> ClassTable:
    chosen = only if only is not None else assignments(db)
    grades = current_grades(db) if only is None or len(only) != 1 else current_grades(db, assignment_id=only[0].id)
    rows = []
    for student, name, email, section, listed in db.execute(
            "SELECT id, name, email, section, listed FROM students ORDER BY listed DESC, position"):
        mine = [grades.get((student, a.id)) for a in chosen]
        if not listed and all(g is None for g in mine):
            continue
        rows.append(ClassRow(student, name, email, section, bool(listed), mine))
    return ClassTable(chosen, rows)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()
    return [line, *("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)]


# ---------------------------------------------------------------- missing


@dataclass
class MissingResult:
    missing: dict[str, list[str]]  # assignment label → roster students without a submission
    names: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"missing": [{"assignment": label, "students": [{"student": s, "name": self.names.get(s, "")}
                                                               for s in students]}
                            for label, students in self.missing.items()]}

    def text(self) -> str:
        if not self.missing:
            return "no assignment has been graded in this course yet\n"
        lines = []
        for label, students in self.missing.items():
            lines.append(f"{label}: {len(students)} student(s) without a submission")
            lines += [f"  {clean_text(s, 80)}" + (f"  {clean_text(self.names[s], 80)}" if self.names.get(s) else "")
                      for s in students]
        return "\n".join(lines) + "\n"


def missing(course: Course, assignment: str | None = None) -> MissingResult:
    """Roster students without any submission, per recorded assignment (or for the one named)."""
    with sqlite_errors(course.gradebook), read_snapshot(course.db) as db:
        chosen = assignments(db)
        if assignment is not None:
            aid, _ = find_assignment(course, assignment)
            chosen = [a for a in chosen if a.id == aid]
        names = dict(db.execute("SELECT id, name FROM students WHERE listed = 1"))
        result = MissingResult({}, names)
        for item in chosen:
            rows = db.execute("SELECT id FROM students WHERE listed = 1 AND id NOT IN "
                              "(SELECT student_id FROM submissions WHERE assignment_id = ?) ORDER BY position",
                              (item.id,))
            result.missing[item.label] = [s for (s,) in rows]
    return result


# ---------------------------------------------------------------- history


@dataclass
class Submission:
    id: int
    assignment: str
    file: str
    sha256: str
    submitted: str
    graded: str
    cnncalc_version: str
    variant: str | None
    auto_score: float
    max: float
    warnings: list[str]
    current: bool
    questions: list[dict[str, Any]]  # as they count now (overrides applied), for the current one

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class StudentHistory:
    student: str
    name: str
    email: str
    section: str
    listed: bool
    submissions: list[Submission]
    grades: dict[str, Grade]  # assignment label → current grade
    overrides: list[tuple[str, Override]]  # (assignment label, override), oldest first, cleared ones too
    flags: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"student": self.student, "name": self.name, "email": self.email, "section": self.section,
                "listed": self.listed, "submissions": [s.as_dict() for s in self.submissions],
                "grades": {label: {"score": g.score, "max": g.max, "auto_score": g.auto_score,
                                   "overridden": g.overridden, "submission": g.submission_id}
                           for label, g in self.grades.items()},
                "overrides": [dict(o.as_dict(), assignment=label) for label, o in self.overrides],
                "flags": self.flags}

    def text(self) -> str:
        head = clean_text(self.student, 80) + (f" ({clean_text(self.name, 80)})" if self.name else "")
        lines = [head + ("" if self.listed else " — not on the roster")]
        if not self.submissions:
            lines.append("  no submissions")
        for s in self.submissions:
            grade = self.grades.get(s.assignment)
            now_counts = f"current: {printed(grade.score)} / {printed(grade.max)}" if s.current and grade else "superseded"
            lines.append(f"  {s.assignment}  submitted {s.submitted}  graded {s.graded}  auto {printed(s.auto_score)} / "
                         f"{printed(s.max)}  {now_counts}  {clean_text(s.file, 200)}  sha256 {s.sha256[:12]}")
            lines += [f"    {clean_text(q['id'], 80)}: {printed(q['auto_score'])} → {printed(q['score'])} "
                      f"(override {q['override']})" for q in s.questions if "override" in q]
        for label, o in self.overrides:
            state = f"cleared by {clean_text(o.cleared_by or '', 40)} {o.cleared_at}" if o.cleared else "in force"
            target = "" if o.student is not None else f" (answer group {clean_text(o.answer or '', 60)})"
            lines.append(f"  override {o.id}: {label} {o.question}{target} = {printed(o.score)} by "
                         f"{clean_text(o.author, 40)} {o.created} — {clean_text(o.reason, 200)} [{state}]")
        for flag in self.flags:
            lines.append(f"  copy flag {flag['id']} ({flag['assignment']}, {flag['status']}): "
                         f"{clean_text(flag['message'], 300)}")
        return "\n".join(lines) + "\n"


def history(course: Course, student: str) -> StudentHistory:
    """One student's submissions (oldest first, the current one marked), grades, overrides (with author,
    time, reason; cleared ones too) and copy flags."""
    with sqlite_errors(course.gradebook), read_snapshot(course.db) as db:
        student = lookup_student(course, student)
        name, email, section, listed = db.execute("SELECT name, email, section, listed FROM students WHERE id = ?",
                                                  (student,)).fetchone()
        labels = {a.id: a.label for a in assignments(db)}
        grades = current_grades(db, student)
        current_ids = {g.submission_id for g in grades.values()}
        active = active_overrides(db)
        submissions = []
        for row in db.execute("SELECT id, assignment_id, file, sha256, submitted, graded, cnncalc_version, variant, "
                              "score, max, warnings FROM submissions WHERE student_id = ? "
                              "ORDER BY submitted, file_name, id", (student,)).fetchall():
            sid, aid = row[0], row[1]
            current = sid in current_ids
            questions = (effective_questions(db, sid, student, aid, active) if current else
                         effective_questions(db, sid, student, aid, type(active)()))
            submissions.append(Submission(sid, labels[aid], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                                          row[9], json.loads(row[10]), current, questions))
        # the student's own overrides, cleared ones too, and the answer-group overrides that count for them
        groups = sorted({q["override"] for s in submissions for q in s.questions if "override" in q})
        rows = db.execute(f"SELECT {Override.COLUMNS} FROM overrides WHERE student_id = ?", (student,)).fetchall()
        rows += [db.execute(f"SELECT {Override.COLUMNS} FROM overrides WHERE id = ? AND student_id IS NULL",
                            (ident,)).fetchone() for ident in groups]
        overrides = sorted(((labels[o.assignment_id], o) for o in map(Override.from_row, filter(None, rows))),
                           key=lambda pair: pair[1].id)
        flags = [f.as_dict() for f in _flags(db, labels, student)]
    return StudentHistory(student, name, email, section, bool(listed), submissions,
                          {labels[aid]: g for (_, aid), g in grades.items()}, overrides, flags)


# ---------------------------------------------------------------- copy flags


@dataclass
class Flag:
    id: int
    assignment: str
    student: str
    other: str
    bits: float
    evidence: dict[str, Any]
    status: str
    reason: str | None
    decided_by: str | None
    decided_at: str | None
    first_seen: str
    last_seen: str

    @property
    def message(self) -> str:
        return str(self.evidence.get("message", ""))

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self), message=self.message)


@dataclass
class FlagsResult:
    flags: list[Flag]
    changed: Flag | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"flags": [f.as_dict() for f in self.flags],
                "changed": self.changed.as_dict() if self.changed else None}

    def text(self) -> str:
        lines = []
        if self.changed:
            lines.append(f"flag {self.changed.id} is now {self.changed.status}")
        if not self.flags:
            lines.append("no copy flags")
        for f in self.flags:
            decided = (f" — {f.status} by {clean_text(f.decided_by or '', 40)}: {clean_text(f.reason or '', 200)}"
                       if f.status != "open" else "")
            lines.append(f"{f.id}  {f.assignment}  {clean_text(f.student, 60)} ~ {clean_text(f.other, 60)}  "
                         f"[{f.status}]  {clean_text(f.message, 300)}{decided}")
        return "\n".join(lines) + "\n"


def flags(course: Course, dismiss: int | None = None, confirm: int | None = None, reason: str | None = None,
          status: str | None = None) -> FlagsResult:
    """The copy flags (all, or those of one ``status``); ``dismiss`` or ``confirm`` decides one by id
    (dismissing needs a ``reason``). A pair flagged again by a later run keeps the decision."""
    if dismiss is not None and confirm is not None:
        raise CnnCalcError("give --dismiss or --confirm, not both")
    if status is not None and status not in FLAG_STATUSES:
        raise CnnCalcError("unknown flag status", got=status, expected=", ".join(FLAG_STATUSES))
    changed = None
    with sqlite_errors(course.gradebook):
        labels = {a.id: a.label for a in assignments(course.db)}
        target = dismiss if dismiss is not None else confirm
        if target is not None:
            decision = "dismissed" if dismiss is not None else "confirmed"
            text = (reason or "").strip()
            if decision == "dismissed" and not text:
                raise CnnCalcError("dismissing a copy flag needs a reason (--reason TEXT)")
            with write_transaction(course.db) as db:
                done = db.execute("UPDATE copy_flags SET status = ?, reason = ?, decided_by = ?, decided_at = ? "
                                  "WHERE id = ?", (decision, text or None, author(), now(), int(target))).rowcount
                if not done:
                    known = [str(i) for (i,) in db.execute("SELECT id FROM copy_flags ORDER BY id")]
                    raise CnnCalcError("no copy flag with this id", got=target,
                                       expected=", ".join(known[:20]) or "a flag id (there are no flags)")
            changed = next(f for f in _flags(course.db, labels) if f.id == int(target))
        listed = [f for f in _flags(course.db, labels) if status is None or f.status == status]
    return FlagsResult(listed, changed)


def _flags(db: sqlite3.Connection, labels: dict[int, str], student: str | None = None) -> list[Flag]:
    rows = db.execute("SELECT id, assignment_id, student_id, other_id, bits, evidence, status, reason, decided_by, "
                      "decided_at, first_seen, last_seen FROM copy_flags WHERE ?1 IS NULL OR student_id = ?1 "
                      "OR other_id = ?1 ORDER BY id", (student,))
    return [Flag(r[0], labels.get(r[1], "?"), r[2], r[3], r[4], json.loads(r[5]), *r[6:]) for r in rows]


# ---------------------------------------------------------------- backup


@dataclass
class BackupResult:
    path: Path
    bytes: int
    students: int
    submissions: int

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "bytes": self.bytes, "students": self.students,
                "submissions": self.submissions}

    def text(self) -> str:
        return (f"backed up the gradebook ({self.students} students, {self.submissions} submissions, "
                f"{self.bytes:,} bytes) to {self.path}\n")


def backup(course: Course, target: str | Path) -> BackupResult:
    """A consistent copy of the gradebook at ``target`` through SQLite's online backup API (other processes
    may keep grading meanwhile): one self-contained file, mode 0600, whole or not at all. An existing
    regular file is replaced; a folder, link, FIFO or the gradebook itself is refused."""
    target = Path(target)
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    if info is not None:
        import stat

        if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
            raise CnnCalcError("the backup target exists and is not a regular file; refused", file=str(target))
        if os.path.samefile(target, course.gradebook):
            raise CnnCalcError("the backup target is the gradebook itself", file=str(target))
    if not target.parent.is_dir():
        raise CnnCalcError("the backup's folder does not exist", file=str(target.parent))
    with sqlite_errors(course.gradebook):
        try:
            backup_to(course.db, target)
        except OSError as error:
            raise CnnCalcError(f"cannot write the backup: {error.strerror}", file=str(target)) from None
        students = course.db.execute("SELECT count(*) FROM students").fetchone()[0]
        count = course.db.execute("SELECT count(*) FROM submissions").fetchone()[0]
    return BackupResult(target, target.stat().st_size, students, count)
