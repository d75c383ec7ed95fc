"""A course: roster, secret path and a SQLite gradebook that remembers every grade.

It sits above :mod:`cnncalc.exercises` (which grades one batch, statelessly) and records what a batch
gave: one function per command, each returning a result object (``as_dict()`` for JSON, ``text()`` for
a report); only the CLI prints.

=============================================  ==================================================
``cnncalc course init DIR --roster R``         :func:`init_course`
``--course DIR`` / inside a course folder      :func:`open_course`, :func:`find_course`
``grade ... --course DIR``                     :func:`record_grades` (and :func:`record_override_file`)
``gradebook override S Q SCORE --reason T``    :func:`override`
``gradebook show|missing|history|flags``       :func:`show`, :func:`missing`, :func:`history`, :func:`flags`
``gradebook export --format F``                :func:`export`
``gradebook backup FILE``                      :func:`backup`
=============================================  ==================================================

The schema is documented in ``docs/gradebook.md``.
"""

from .course import COURSE_FILE, GRADEBOOK_FILE, Course, CourseInit, find_course, init_course, open_course
from .export import FORMATS, export
from .overrides import OverrideResult, override, parse_score, record_override_file
from .record import RecordResult, record_grades
from .roster import RosterStudent, read_course_roster
from .store import SCHEMA_VERSION
from .views import (
    BackupResult,
    ClassTable,
    FlagsResult,
    MissingResult,
    StudentHistory,
    backup,
    flags,
    history,
    missing,
    show,
)

__all__ = [
    "COURSE_FILE", "FORMATS", "GRADEBOOK_FILE", "SCHEMA_VERSION", "BackupResult", "ClassTable", "Course",
    "CourseInit", "FlagsResult", "MissingResult", "OverrideResult", "RecordResult", "RosterStudent",
    "StudentHistory", "backup", "export", "find_course", "flags", "history", "init_course", "missing",
    "open_course", "override", "parse_score", "read_course_roster", "record_grades", "record_override_file",
    "show",
]
