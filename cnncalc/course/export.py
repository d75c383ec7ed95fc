"""The gradebook exported for a spreadsheet or a learning-management system, from the database.

- ``csv``: one row per student — id, name, email, section, one column per assignment, total, max;
- ``canvas``: Canvas's import layout (``Student, ID, SIS User ID, SIS Login ID, Section``, one column
  per assignment, a ``Points Possible`` row); the roster's name goes in ``Student``, its section in
  ``Section``, the id in ``SIS User ID`` (or the column ``id_column`` names);
- ``moodle``: ``ID number, Full name, Email address``, one column per assignment: Moodle's import can
  identify users by the ID number or by the email address, which holds the roster's email.

A student with no submission for an assignment gets an empty cell (the LMS leaves the grade alone),
not 0, unless ``missing_as_zero``. Every cell is defused against spreadsheet formulas.
"""

from __future__ import annotations

import io
from typing import Any

from ..errors import CnnCalcError
from ..exercises.report import CANVAS_COLUMNS, LMS_ID_COLUMNS, csv_line
from .course import Course
from .overrides import find_assignment, printed
from .store import read_snapshot, sqlite_errors
from .views import Assignment, _class_table, assignments

FORMATS = ("csv", "canvas", "moodle")
MOODLE_COLUMNS = ["ID number", "Full name", "Email address"]


def export(course: Course, fmt: str = "csv", missing_as_zero: bool = False, *, id_column: str | None = None,
           only: list[str] | None = None) -> str:
    """The class's current grades (overrides applied) as ``fmt`` text; ``only`` names the assignments to
    export (``problem`` or ``problem@version``; default: all)."""
    if fmt not in FORMATS:
        raise CnnCalcError("unknown export format", got=fmt, expected=" | ".join(FORMATS))
    if id_column is not None and fmt != "canvas":
        raise CnnCalcError("--lms-id-column goes with --format canvas", got=id_column)
    with sqlite_errors(course.gradebook), read_snapshot(course.db) as db:
        chosen = assignments(db)
        if only:
            ids = [find_assignment(course, name)[0] for name in only]
            chosen = [a for a in chosen if a.id in ids]
        table = _class_table(db, chosen)
    if not table.assignments:
        raise CnnCalcError("nothing to export: no assignment has been graded in this course yet")
    titles = _column_titles(table.assignments)
    out = io.StringIO()

    def cell(grade: Any, listed: bool) -> str:
        if grade is not None:
            return printed(grade.score)
        return "0" if missing_as_zero and listed else ""

    if fmt == "csv":
        out.write(csv_line(["student", "name", "email", "section", *(a.label for a in table.assignments), "total",
                            "max"]))
        for row in table.rows:
            out.write(csv_line([row.student, row.name, row.email, row.section,
                                *(cell(g, row.listed) for g in row.grades), printed(row.total), printed(table.max)]))
    elif fmt == "canvas":
        columns = LMS_ID_COLUMNS["canvas"]
        header = columns.get(id_column or "sis-user-id")
        if header is None:
            raise CnnCalcError("--lms-id-column: canvas has no such identifier column", got=id_column,
                               expected=", ".join(columns))
        out.write(csv_line([*CANVAS_COLUMNS, *titles]))
        out.write(csv_line(["    Points Possible", "", "", "", "", *(printed(a.max) for a in table.assignments)]))
        for row in table.rows:
            cells = [row.name or row.student, "", "", "", row.section]
            cells[CANVAS_COLUMNS.index(header)] = row.student
            out.write(csv_line([*cells, *(cell(g, row.listed) for g in row.grades)]))
    else:
        out.write(csv_line([*MOODLE_COLUMNS, *titles]))
        for row in table.rows:
            out.write(csv_line([row.student, row.name, row.email, *(cell(g, row.listed) for g in row.grades)]))
    return out.getvalue()


def _column_titles(chosen: list[Assignment]) -> list[str]:
    """Each assignment's column in an LMS file: its title (the problem id when it has none), with the
    version added when two columns would share a name."""
    titles = [(a.title or a.problem).strip() or a.problem for a in chosen]
    return [f"{t} v{a.version}" if titles.count(t) > 1 else t for t, a in zip(titles, chosen)]
