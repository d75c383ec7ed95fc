"""Finding answer files and reading rosters (the file handling behind `grade` and `generate`)."""

from __future__ import annotations

import csv
import glob
import io
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import CnnCalcError
from ..spec import safeload
from .grading import CONTROL_CHARS, lookalike_warnings, normalise_id, visible_id

ANSWER_SUFFIXES = (".yaml", ".yml", ".json")
#: the reason given for a file of a submissions folder that is not an answer file (reported by its whole
#: name, with no feedback file: it belongs to no student)
NOT_AN_ANSWER_FILE = f"not an answer file (answer files end in {', '.join(ANSWER_SUFFIXES)})"
MAX_ROSTER_BYTES = 8 * 1024 * 1024
MAX_ROSTER_ID_CHARS = 200


def answer_paths(items: Sequence[str]) -> tuple[list[Path], dict[Path, str]]:
    """Files, folders (their .yaml/.yml/.json entries) and globs, in a stable order, without repeats; and
    the entries refused with their reason.

    A symbolic link found inside a folder (or by a glob) is followed only when it stays inside that folder:
    a link from a submissions folder to ``keys/alice.json`` is refused, not graded. A link given by name on
    the command line is the instructor's own choice and is followed. Entries that are not regular files
    (a FIFO, a socket) are kept so that they are reported as invalid rather than silently skipped.
    """
    paths: list[Path] = []
    refused: dict[Path, str] = {}
    seen: set[Path] = set()
    for item in items:
        path = Path(item)
        if path.is_dir():
            # every file of the folder is accounted for: one that is not an answer file (scan.pdf) is listed
            # with its reason, never skipped silently
            found = sorted(p for p in _entries(path) if not _is_folder(p))
            for entry in found:
                if entry.suffix.lower() not in ANSWER_SUFFIXES:
                    refused[entry] = NOT_AN_ANSWER_FILE
            base: Path | None = path
        elif path.exists() or path.is_symlink():
            found, base = [path], None
        else:
            found = sorted(Path(p) for p in glob.glob(item))
            found = [p for p in found if not _is_folder(p)]
            if not found:
                raise CnnCalcError("no answer files match", file=item)
            base = None
        for entry in found:
            if entry in seen:
                continue
            seen.add(entry)
            paths.append(entry)
            folder = base if base is not None else (entry.parent if entry is not path else None)
            if folder is not None and entry.is_symlink():
                reason = _leaves(entry, folder)
                if reason:
                    refused[entry] = reason
    return paths, refused


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError as error:
        raise CnnCalcError(f"cannot list the folder: {error.strerror}", file=str(folder)) from None


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _leaves(link: Path, folder: Path) -> str | None:
    """Why a link found in ``folder`` must not be graded, or None when it points inside the folder."""
    inside = os.path.realpath(folder)
    target = os.path.realpath(link)
    if os.path.commonpath([inside, target]) == inside and target != inside:
        return None
    return (f"refused: a symbolic link that leads outside its folder ({target}); only links given by name "
            "on the command line are followed")


def read_roster(path: str, warnings: list[str] | None = None) -> list[str]:
    """Student ids from a CSV: the `student` (or `id`, `student_id`) column, or the first column without
    such a header, each normalised (:func:`.grading.normalise_id`: the same id an answer file gives).
    Refused with the line named: over MAX_ROSTER_BYTES, not UTF-8, an unterminated quote, a header
    without students, an empty id, an id with a control character, line break or other invisible
    character, an id longer than MAX_ROSTER_ID_CHARS, a repeated id (also one written differently that
    normalises to an id already listed: both lines are named). Ids that differ but look alike (Latin and
    Cyrillic letters, full-width forms, case) are kept, and a warning naming both lines is added to
    ``warnings``."""
    raw = safeload.read_limited(path, MAX_ROSTER_BYTES, "roster")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise CnnCalcError("the roster is not UTF-8 text", file=path, line=line) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as error:
        raise CnnCalcError(f"the roster is not valid CSV ({error}); is a quote left open?", file=path,
                           line=start) from None
    if not rows:
        raise CnnCalcError("the roster is empty", file=path)
    header = [cell.strip().lower() for cell in rows[0][1]]
    column = next((header.index(name) for name in ("student", "id", "student_id") if name in header), None)
    body = rows[1:] if column is not None else rows
    if not body:
        raise CnnCalcError("the roster has a header but no students", file=path, line=rows[0][0])
    column = column or 0
    students: list[str] = []
    first_line: dict[str, int] = {}
    written: dict[str, str] = {}
    for line, row in body:
        student = row[column].strip() if len(row) > column else ""
        if not student:
            raise CnnCalcError("empty student id in the roster", file=path, line=line)
        if len(student) > MAX_ROSTER_ID_CHARS:
            raise CnnCalcError(f"student id too long ({len(student):,} characters, at most {MAX_ROSTER_ID_CHARS})",
                               file=path, line=line)
        if CONTROL_CHARS.search(student):
            raise CnnCalcError("student id with a control character or line break in the roster", file=path,
                               line=line, got=student[:80], expected="an id on one line")
        as_written = student
        try:
            student = normalise_id(student)
        except CnnCalcError as error:
            raise error.with_context(file=path, line=line) from None
        if not student:
            raise CnnCalcError("empty student id in the roster (once invisible characters are removed)",
                               file=path, line=line)
        if student in first_line:
            how = "" if as_written == written[student] else (
                f"; written '{visible_id(written[student])}' there and '{visible_id(as_written)}' here, the same "
                "id once invisible characters are removed and accents composed")
            raise CnnCalcError(f"duplicate student id in the roster (first on line {first_line[student]}{how})",
                               file=path, line=line, got=student[:80], expected="each id once")
        first_line[student] = line
        written[student] = as_written
        students.append(student)
    if warnings is not None:
        warnings += [message for message, _ in
                     lookalike_warnings([(s, f"{path} line {first_line[s]}") for s in students],
                                        "each gets a sheet and a variant of their own")]
    return students

