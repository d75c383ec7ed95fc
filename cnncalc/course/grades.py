"""A student's current grade: the latest submission, with the instructor's overrides on top.

The latest submission of a student for an assignment is the one with the latest submission time (the
answer file's modification time), ties broken by the file's name (the later name wins), then by the
order recorded. Overrides are rows of their own, never edits of an automatic score, so every regrade
keeps them: for each question the newest active override of that student wins, else the newest active
override of the answer the student gave (an answer group), else the automatic score. A manual question
(points 0 in the problem file) may be given points class-wide by an override's ``max``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class Grade:
    student: str
    assignment_id: int
    submission_id: int
    score: float  # overrides applied
    max: float
    auto_score: float  # as graded
    overridden: list[str] = field(default_factory=list)  # question ids whose score an override sets


@dataclass
class Override:
    id: int
    assignment_id: int
    question: str
    student: str | None
    answer: str | None
    score: float
    max: float | None
    reason: str
    author: str
    created: str
    source: str
    cleared: bool
    cleared_by: str | None
    cleared_at: str | None

    COLUMNS: ClassVar[str] = ("id, assignment_id, question, student_id, answer, score, max, reason, author, created, source, "
               "cleared, cleared_by, cleared_at")

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Override:
        (ident, assignment_id, question, student, answer, score, top, reason, who, created, source, cleared,
         cleared_by, cleared_at) = row
        return cls(ident, assignment_id, question, student, answer, score, top, reason, who, created, source,
                   bool(cleared), cleared_by, cleared_at)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "student": self.student, "answer": self.answer,
                "score": self.score, "max": self.max, "reason": self.reason, "author": self.author,
                "created": self.created, "source": self.source, "cleared": self.cleared,
                "cleared_by": self.cleared_by, "cleared_at": self.cleared_at}


@dataclass
class ActiveOverrides:
    """The overrides in force: the newest uncleared one per target."""

    by_student: dict[tuple[int, str, str], Override] = field(default_factory=dict)  # (assignment, question, student)
    by_answer: dict[tuple[int, str, str], Override] = field(default_factory=dict)  # (assignment, question, answer)
    maxes: dict[tuple[int, str], float] = field(default_factory=dict)  # (assignment, question) → points

    def __bool__(self) -> bool:
        return bool(self.by_student or self.by_answer or self.maxes)

    def score_for(self, assignment_id: int, question: str, student: str, group: str | None) -> Override | None:
        """The override in force for a student's answer: their own, else that of their answer ``group`` (the
        answer, when it was not graded correct: see :data:`GROUP_SQL`)."""
        found = self.by_student.get((assignment_id, question, student))
        if found is None and group is not None:
            found = self.by_answer.get((assignment_id, question, group))
        return found


#: an answer's group: the answer in canonical form when it was not graded correct (a correct answer has its
#: points already), else NULL; the partial index question_results_answer holds exactly these
GROUP_SQL = "CASE WHEN status <> 'correct' THEN answer END"

CURRENT_SQL = """
SELECT id, student_id, assignment_id, score, max FROM (
    SELECT id, student_id, assignment_id, score, max,
           row_number() OVER (PARTITION BY assignment_id, student_id
                              ORDER BY submitted DESC, file_name DESC, id DESC) AS rank
    FROM submissions
    WHERE (?1 IS NULL OR student_id = ?1) AND (?2 IS NULL OR assignment_id = ?2)
) WHERE rank = 1
"""


def current_submissions(db: sqlite3.Connection, student: str | None = None, assignment_id: int | None = None
                        ) -> dict[tuple[str, int], tuple[int, float, float]]:
    """(student, assignment) → (submission id, automatic score, max) of the latest submission."""
    return {(row[1], row[2]): (row[0], row[3], row[4]) for row in db.execute(CURRENT_SQL, (student, assignment_id))}


def active_overrides(db: sqlite3.Connection, assignment_id: int | None = None) -> ActiveOverrides:
    active = ActiveOverrides()
    rows = db.execute(f"SELECT {Override.COLUMNS} FROM overrides WHERE cleared = 0 "
                      "AND (?1 IS NULL OR assignment_id = ?1) ORDER BY id", (assignment_id,))
    for row in rows:
        item = Override.from_row(row)
        if item.student is not None:
            active.by_student[(item.assignment_id, item.question, item.student)] = item
        else:
            active.by_answer[(item.assignment_id, item.question, item.answer or "")] = item
        if item.max is not None:
            active.maxes[(item.assignment_id, item.question)] = item.max
    return active


def current_grades(db: sqlite3.Connection, student: str | None = None, assignment_id: int | None = None
                   ) -> dict[tuple[str, int], Grade]:
    """The current grade of every (student, assignment) with a submission (filtered by the arguments)."""
    current = current_submissions(db, student, assignment_id)
    grades = {pair: Grade(pair[0], pair[1], sid, score, top, score) for pair, (sid, score, top) in current.items()}
    active = active_overrides(db, assignment_id)
    if not active or not grades:
        return grades
    grade_of = {g.submission_id: g for g in grades.values()}
    students_with: dict[tuple[int, str], set[str]] = {}
    for aid, question, who in active.by_student:
        students_with.setdefault((aid, question), set()).add(who)
    answers_with: dict[tuple[int, str], set[str]] = {}
    for aid, question, group in active.by_answer:
        answers_with.setdefault((aid, question), set()).add(group)
    points_of = {(aid, q): p for aid, q, p in db.execute("SELECT assignment_id, id, points FROM questions")}
    by_answer: dict[tuple[str, str], list[tuple[int, float, float]]] = {}  # one query per answer group
    for aid, question in sorted(set(students_with) | set(answers_with) | set(active.maxes)):
        rows = _touched(db, aid, question, grade_of, grades, students_with.get((aid, question), set()),
                        answers_with.get((aid, question), set()), (aid, question) in active.maxes, by_answer)
        new_max = active.maxes.get((aid, question))
        for sid, row in rows.items():
            grade = grade_of[sid]
            score, points, answer = row if row is not None else (0.0, points_of.get((aid, question), 0.0), None)
            item = active.score_for(aid, question, grade.student, answer)
            if item is not None:
                grade.score += item.score - score
                grade.overridden.append(question)
            if new_max is not None and row is not None:
                grade.max += new_max - points
    return grades


Row = tuple[float, float, "str | None"]


def _touched(db: sqlite3.Connection, aid: int, question: str, grade_of: dict[int, Grade],
             grades: dict[tuple[str, int], Grade], students: set[str], answers: set[str], every: bool,
             by_answer: dict[tuple[str, str], list[tuple[int, float, float]]]) -> dict[int, Row | None]:
    """submission id → (score, points, answer group) of ``question`` (None: the submission has no such question),
    for the current submissions an override of this question may change: every one when a class-wide max
    is set (a manual question), else those with one of the group ``answers`` (found through the answer
    index, once per question and answer for all assignments: ``by_answer`` caches them) and those of the
    ``students`` with an override of their own."""
    rows: dict[int, Row | None] = {}

    def keep(sid: int, row: Row) -> None:
        grade = grade_of.get(sid)
        if grade is not None and grade.assignment_id == aid:
            rows[sid] = row

    if every:
        for sid, score, points, answer in db.execute(
                f"SELECT submission_id, score, points, {GROUP_SQL} FROM question_results WHERE question = ?",
                (question,)):
            keep(sid, (score, points, answer))
        return rows
    for answer in answers:
        if (question, answer) not in by_answer:
            by_answer[(question, answer)] = db.execute("SELECT submission_id, score, points FROM question_results "
                                                       "WHERE question = ? AND answer = ? AND status <> 'correct'",
                                                       (question, answer)).fetchall()
        for sid, score, points in by_answer[(question, answer)]:
            keep(sid, (score, points, answer))
    for student in students:
        grade = grades.get((student, aid))
        if grade is None or grade.submission_id in rows:
            continue
        rows[grade.submission_id] = db.execute(f"SELECT score, points, {GROUP_SQL} FROM question_results "
                                               "WHERE submission_id = ? AND question = ?",
                                               (grade.submission_id, question)).fetchone()
    return rows


def question_results(db: sqlite3.Connection, submission_id: int) -> list[dict[str, Any]]:
    rows = db.execute("SELECT question, score, points, status, answer, feedback, diagnosis FROM question_results "
                      "WHERE submission_id = ? ORDER BY position", (submission_id,))
    return [{"id": q, "score": s, "points": p, "status": st, "answer": a, "feedback": f, "diagnosis": d}
            for q, s, p, st, a, f, d in rows]


def effective_questions(db: sqlite3.Connection, submission_id: int, student: str, assignment_id: int,
                        active: ActiveOverrides) -> list[dict[str, Any]]:
    """A submission's question results as they count now: overrides applied, each marked with its source."""
    results = question_results(db, submission_id)
    for item in results:
        item["auto_score"] = item["score"]
        group = item["answer"] if item["status"] != "correct" else None
        found = active.score_for(assignment_id, item["id"], student, group)
        item["points"] = active.maxes.get((assignment_id, item["id"]), item["points"])
        if found is not None:
            item["score"] = found.score
            item["override"] = found.id
    return results
