"""A course: a folder holding ``course.yaml`` (where the roster came from, the path of the course secret)
and ``gradebook.sqlite`` (the roster's students and every recorded grade).

The secret itself is never copied into the folder or the database: only its path is kept, and the file
is checked as ``generate`` checks it (readable by its owner only) both at ``course init`` and whenever
the secret is read.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import CnnCalcError, did_you_mean
from ..spec.safeload import load_file
from .ids import now, student_id
from .roster import RosterStudent, read_course_roster
from .store import create_gradebook, open_gradebook, sqlite_errors, write_transaction

COURSE_FILE = "course.yaml"
GRADEBOOK_FILE = "gradebook.sqlite"
COURSE_FORMAT = 1
COURSE_KEYS = ("format", "created", "roster", "roster_sha256", "secret_file")
MAX_COURSE_FILE_BYTES = 64 * 1024


@dataclass
class Course:
    """An open course: its folder, its settings and a connection to its gradebook (close it, or use
    ``with``)."""

    folder: Path
    settings: dict[str, Any]
    db: sqlite3.Connection = field(repr=False)

    @property
    def gradebook(self) -> Path:
        return self.folder / GRADEBOOK_FILE

    @property
    def secret_file(self) -> Path | None:
        """The course secret's file (relative paths are relative to the course folder), or None."""
        value = self.settings.get("secret_file")
        if not value:
            return None
        path = Path(value)
        return path if path.is_absolute() else self.folder / path

    def secret(self) -> bytes:
        """The course secret, read now and checked as ``generate`` checks it (owner-only file)."""
        from ..exercises.variants import read_secret

        path = self.secret_file
        if path is None and not os.environ.get("CNNCALC_SECRET"):
            raise CnnCalcError("this course has no secret file (give --secret-file to cnncalc course init, or set "
                               "CNNCALC_SECRET)", file=str(self.folder / COURSE_FILE))
        return read_secret(path)

    def students(self, listed_only: bool = True) -> list[RosterStudent]:
        """The roster, in its order (with ``listed_only=False`` also students recorded with
        ``--allow-unlisted``)."""
        with sqlite_errors(self.gradebook):
            rows = self.db.execute("SELECT id, name, email, section FROM students"
                                   + (" WHERE listed = 1" if listed_only else "") + " ORDER BY position").fetchall()
        return [RosterStudent(*row) for row in rows]

    def roster_ids(self) -> list[str]:
        return [s.id for s in self.students()]

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Course:  # noqa: PYI034 - typing.Self needs Python 3.11; Course is not subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class CourseInit:
    """What ``course init`` made."""

    folder: Path
    course_file: Path
    gradebook: Path
    students: int
    secret_file: Path | None
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "course_file": str(self.course_file), "gradebook": str(self.gradebook),
                "students": self.students, "secret_file": str(self.secret_file) if self.secret_file else None,
                "warnings": self.warnings}


def init_course(folder: str | Path, roster_csv: str | Path, secret_file: str | Path | None = None) -> CourseInit:
    """Make a course in ``folder`` (created if missing, mode 0700): ``course.yaml`` and ``gradebook.sqlite``
    (mode 0600) holding the roster's students. Everything is checked before anything is written (the
    roster; the secret file: readable by its owner only, of a usable length); an existing course is
    refused, and a failure half-way leaves no course behind."""
    folder = Path(folder)
    students, warnings = read_course_roster(roster_csv)
    secret_path = None
    if secret_file is not None:
        from ..exercises.variants import read_secret

        read_secret(secret_file)  # refuses a file others can read; the secret itself is not kept
        secret_path = Path(os.path.abspath(secret_file))
    if folder.exists() and not folder.is_dir():
        raise CnnCalcError("the course folder is a file", file=str(folder), expected="a folder (made if missing)")
    course_file, gradebook = folder / COURSE_FILE, folder / GRADEBOOK_FILE
    for existing in (course_file, gradebook, Path(f"{gradebook}-wal")):
        if os.path.lexists(existing):
            raise CnnCalcError("a course already exists here; refused (its grades would be lost)", file=str(existing),
                               hint="choose another folder, or open this course with --course")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise CnnCalcError(f"cannot make the course folder: {error.strerror}", file=str(folder)) from None
    roster_bytes = Path(roster_csv).read_bytes()
    settings = {"format": COURSE_FORMAT, "created": now(), "roster": os.path.abspath(roster_csv),
                "roster_sha256": hashlib.sha256(roster_bytes).hexdigest(),
                "secret_file": str(secret_path) if secret_path else None}
    temporary = folder / f".{GRADEBOOK_FILE}.{secrets.token_hex(6)}.init"
    try:
        with sqlite_errors(temporary):
            db = create_gradebook(temporary)
            try:
                from .. import __version__

                with write_transaction(db):
                    db.executemany("INSERT INTO course_info (key, value) VALUES (?, ?)",
                                   [("created", settings["created"]), ("created_by", f"cnncalc {__version__}"),
                                    ("roster", settings["roster"]), ("roster_sha256", settings["roster_sha256"])])
                    db.executemany("INSERT INTO students (id, name, email, section, listed, position) "
                                   "VALUES (?, ?, ?, ?, 1, ?)",
                                   [(s.id, s.name, s.email, s.section, position)
                                    for position, s in enumerate(students)])
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                db.close()
        os.link(temporary, gradebook)  # fails if a gradebook appeared meanwhile: never replaces one
        _write_new(course_file, _course_yaml(settings))
    except OSError as error:
        _remove_new(gradebook, temporary)
        raise CnnCalcError(f"cannot write the course: {error.strerror}", file=str(error.filename or folder)) from None
    except BaseException:
        _remove_new(gradebook, temporary)
        raise
    finally:
        for leftover in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
            if os.path.lexists(leftover):
                os.unlink(leftover)
    return CourseInit(folder, course_file, gradebook, len(students), secret_path, warnings)


def _remove_new(gradebook: Path, temporary: Path) -> None:
    """Undo a half-made course: the gradebook this run linked into place (never another one)."""
    if os.path.lexists(gradebook) and os.path.lexists(temporary) and os.path.samefile(gradebook, temporary):
        os.unlink(gradebook)


def _course_yaml(settings: dict[str, Any]) -> str:
    head = ("# A cnncalc course (cnncalc course init). The students and every grade are in gradebook.sqlite;\n"
            "# the course secret stays in its own file: only its path is kept here.\n")
    return head + yaml.safe_dump(settings, sort_keys=False, allow_unicode=True)


def _write_new(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def find_course(start: str | Path | None = None) -> Path:
    """The course folder holding ``start`` (default: the current folder): the nearest folder at or above it
    with a ``course.yaml``."""
    here = Path(start if start is not None else os.getcwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / COURSE_FILE).is_file():
            return folder
    raise CnnCalcError("not inside a course folder (no course.yaml here or above); give --course DIR, or make "
                       "one with cnncalc course init DIR --roster roster.csv", file=str(here))


def open_course(folder: str | Path | None = None) -> Course:
    """Open the course in ``folder`` (default: the course the current folder is in)."""
    folder = Path(folder) if folder is not None else find_course()
    course_file = folder / COURSE_FILE
    if not course_file.is_file():
        if folder.is_dir() and not os.path.lexists(course_file):
            raise CnnCalcError("not a course folder (no course.yaml); make one with cnncalc course init",
                               file=str(folder))
        raise CnnCalcError("cannot open the course file", file=str(course_file))
    settings = read_course_file(course_file)
    db = open_gradebook(folder / GRADEBOOK_FILE)
    return Course(folder, settings, db)


def read_course_file(path: Path) -> dict[str, Any]:
    data = load_file(path, MAX_COURSE_FILE_BYTES, "course file")
    if not isinstance(data, dict):
        raise CnnCalcError("a course file is a mapping (format, roster, secret_file)", file=str(path))
    version = data.get("format")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CnnCalcError("the course file has no valid 'format'", file=str(path), got=version, expected="1")
    if version > COURSE_FORMAT:
        raise CnnCalcError(f"the course file was written by a newer cnncalc (format {version}, this cnncalc reads "
                           f"{COURSE_FORMAT}); upgrade cnncalc", file=str(path))
    for key in data:
        if key not in COURSE_KEYS:
            raise CnnCalcError("unknown key in the course file", file=str(path), field=str(key)[:80],
                               hint=did_you_mean(str(key)[:80], COURSE_KEYS))
    secret = data.get("secret_file")
    if secret is not None and not isinstance(secret, str):
        raise CnnCalcError("secret_file must be a path", file=str(path), got=secret, expected="a path or null")
    return dict(data)


def lookup_student(course: Course, text: str) -> str:
    """A student id given on the command line, normalised and checked against the gradebook."""
    student = student_id(text)
    with sqlite_errors(course.gradebook):
        found = course.db.execute("SELECT 1 FROM students WHERE id = ?", (student,)).fetchone()
    if found is None:
        hint = did_you_mean(student, [s.id for s in course.students(listed_only=False)])
        raise CnnCalcError("no such student in this course", got=student, hint=hint)
    return student
