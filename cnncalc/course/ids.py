"""Student ids, people and times as the course stores them.

Every id that enters the gradebook (roster, answer file, override, command line) passes through
:func:`student_id`: the project's one id rule (:func:`cnncalc.exercises.grading.normalise_id`: NFC,
zero-width characters removed, invisible and control characters refused), so that the roster's text is
the canonical spelling and an answer file that writes the same id with a byte-order mark or a decomposed
accent lands on the same student.
"""

from __future__ import annotations

import datetime
import getpass
import os

# The one call site of the project's id rule: when the rule moves, change this import only.
from ..exercises.grading import id_skeleton, lookalike_warnings, normalise_id, visible_id

__all__ = ["author", "id_skeleton", "lookalike_warnings", "now", "student_id", "visible_id"]


def student_id(text: str) -> str:
    """The canonical spelling of a student id (raises CnnCalcError for an id with an invisible character).

    >>> student_id("\\ufeffada") == student_id("ada ") == "ada"
    True
    """
    return normalise_id(text)


def author() -> str:
    """Who made a change: the operating-system user (as ``getpass`` finds it), else the numeric uid."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def now() -> str:
    """The current time as the gradebook stores every time: UTC, ISO 8601, microseconds, fixed width, so
    that text order is time order."""
    return iso_time(datetime.datetime.now(datetime.timezone.utc))


def iso_time(moment: datetime.datetime) -> str:
    """A time as the gradebook stores it.

    >>> iso_time(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
    '2026-01-02T03:04:05.000000Z'
    """
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def file_time(seconds_ns: int) -> str:
    """A file's modification time (``st_mtime_ns``) as a stored time.

    >>> file_time(1_700_000_000_123_456_789)
    '2023-11-14T22:13:20.123456Z'
    """
    seconds, nanoseconds = divmod(seconds_ns, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return iso_time(moment.replace(microsecond=nanoseconds // 1000))
