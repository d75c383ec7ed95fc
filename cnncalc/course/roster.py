"""The course roster: a CSV with an ``id`` column (required) and optional ``name``, ``email``, ``section``.

Validated whole before anything is written: one clear error naming file and line for an empty, overlong,
repeated or invisible-character id, a cell with a line break or control character, an email without
``@``; warnings for ids that look alike (Latin and Cyrillic letters, full-width forms, case), repeated
emails and columns that are not used. Ids are kept as their exact text after :func:`.ids.student_id`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CnnCalcError, did_you_mean
from ..exercises.files import MAX_ROSTER_BYTES, MAX_ROSTER_ID_CHARS
from ..exercises.grading import CONTROL_CHARS
from ..spec.safeload import read_limited
from .ids import lookalike_warnings, student_id, visible_id

ROSTER_COLUMNS = ("id", "name", "email", "section")
#: other spellings of the id column accepted, as `generate --roster` accepts them
ID_ALIASES = ("student_id", "student")
MAX_FIELD_CHARS = 200
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@dataclass(frozen=True)
class RosterStudent:
    id: str
    name: str = ""
    email: str = ""
    section: str = ""


def read_course_roster(path: str | Path) -> tuple[list[RosterStudent], list[str]]:
    """The students of a roster CSV, in file order, and the warnings about it."""
    name = str(path)
    raw = read_limited(path, MAX_ROSTER_BYTES, "roster")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CnnCalcError("the roster is not UTF-8 text", file=name, line=raw[:error.start].count(b"\n") + 1
                           ) from None
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as error:
        raise CnnCalcError(f"the roster is not valid CSV ({error}); is a quote left open?", file=name,
                           line=start) from None
    if not rows:
        raise CnnCalcError("the roster is empty", file=name, expected="a header line: id,name,email,section")
    header_line, header = rows[0]
    columns = _columns(header, name, header_line)
    warnings = []
    unused = [cell.strip() for position, cell in enumerate(header) if position not in columns.values() and cell.strip()]
    if unused:
        warnings.append(f"{name}: roster columns not used: {', '.join(repr(c[:40]) for c in unused[:8])}"
                        + (" …" if len(unused) > 8 else "") + f" (the course keeps {', '.join(ROSTER_COLUMNS)})")
    if len(rows) == 1:
        raise CnnCalcError("the roster has a header but no students", file=name, line=header_line)
    students: list[RosterStudent] = []
    first_line: dict[str, int] = {}
    written: dict[str, str] = {}
    emails: dict[str, int] = {}
    for line, row in rows[1:]:
        if len(row) > len(header):
            raise CnnCalcError(f"more cells ({len(row)}) than the header has columns ({len(header)})", file=name,
                               line=line, hint="quote a cell that holds a comma")
        cells = {column: (row[position].strip() if position < len(row) else "")
                 for column, position in columns.items()}
        as_written = cells["id"]
        student = _id(as_written, name, line)
        if student in first_line:
            how = "" if as_written == written[student] else (
                f"; written '{visible_id(written[student])}' there and '{visible_id(as_written)}' here, the same "
                "id once invisible characters are removed and accents composed")
            raise CnnCalcError(f"duplicate student id in the roster (first on line {first_line[student]}{how})",
                               file=name, line=line, got=student[:80], expected="each id once")
        first_line[student], written[student] = line, as_written
        for column in ("name", "email", "section"):
            value = cells.get(column, "")
            if len(value) > MAX_FIELD_CHARS:
                raise CnnCalcError(f"{column} too long ({len(value):,} characters, at most {MAX_FIELD_CHARS})",
                                   file=name, line=line)
            if CONTROL_CHARS.search(value):
                raise CnnCalcError(f"{column} with a control character or line break", file=name, line=line,
                                   got=value[:80], expected="text on one line")
        email = cells.get("email", "")
        if email:
            if not _EMAIL.fullmatch(email):
                raise CnnCalcError("not an email address", file=name, line=line, field="email", got=email[:80],
                                   expected="name@example.org (an LMS matches students by it)")
            if email.casefold() in emails:
                warnings.append(f"{name} line {line}: email {email!r} is also on line {emails[email.casefold()]} "
                                "(an LMS matching by email would give both grades to one person)")
            emails.setdefault(email.casefold(), line)
        students.append(RosterStudent(student, cells.get("name", ""), email, cells.get("section", "")))
    warnings += [message for message, _ in
                 lookalike_warnings([(s.id, f"{name} line {first_line[s.id]}") for s in students],
                                    "each is a student of their own")]
    return students, warnings


def _columns(header: list[str], source: str, line: int) -> dict[str, int]:
    """Column name → position; the id column is required."""
    names = [cell.strip().lower() for cell in header]
    positions: dict[str, int] = {}
    for position, cell in enumerate(names):
        if cell in ROSTER_COLUMNS:
            if cell in positions:
                raise CnnCalcError(f"the roster's header names the column '{cell}' twice", file=source, line=line)
            positions[cell] = position
    if "id" not in positions:
        alias = next((a for a in ID_ALIASES if a in names), None)
        if alias is None:
            raise CnnCalcError("the roster has no 'id' column", file=source, line=line,
                               got=",".join(header)[:120], expected="a header line: id,name,email,section",
                               hint=did_you_mean(names[0] if names else "", ROSTER_COLUMNS) or None)
        positions["id"] = names.index(alias)
    return positions


def _id(text: str, source: str, line: int) -> str:
    if not text:
        raise CnnCalcError("empty student id in the roster", file=source, line=line)
    if len(text) > MAX_ROSTER_ID_CHARS:
        raise CnnCalcError(f"student id too long ({len(text):,} characters, at most {MAX_ROSTER_ID_CHARS})",
                           file=source, line=line)
    if CONTROL_CHARS.search(text):
        raise CnnCalcError("student id with a control character or line break in the roster", file=source,
                           line=line, got=text[:80], expected="an id on one line")
    try:
        student = student_id(text)
    except CnnCalcError as error:
        raise error.with_context(file=source, line=line) from None
    if not student:
        raise CnnCalcError("empty student id in the roster (once invisible characters are removed)", file=source,
                           line=line)
    return student
