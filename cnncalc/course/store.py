"""The gradebook database: schema, versions and upgrades, opening safely, transactions, backups.

One SQLite file per course (the standard library's ``sqlite3``; nothing to install). The schema is
documented table by table in ``docs/gradebook.md``; its version is ``PRAGMA user_version`` and the file
is marked as a cnncalc gradebook by ``PRAGMA application_id``. Every connection has foreign keys on, WAL
journaling (readers never block the writer) and a busy timeout, and every write is one ``BEGIN
IMMEDIATE`` transaction: two processes grading one course both land, the second waiting for the first.

Opening never creates or changes anything before the file has been checked: a missing file, a symbolic
link, a FIFO or other non-regular file, a file that is not SQLite or not a cnncalc gradebook, a read-only
file or folder, and a gradebook written by a newer cnncalc are each refused with one clear line.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import CnnCalcError

#: the schema this cnncalc writes; a gradebook with a higher version is refused, a lower one upgraded
SCHEMA_VERSION = 2
#: "cnnc": tells a cnncalc gradebook from any other SQLite file
APPLICATION_ID = 0x636E6E63
#: how long a write waits for another process's transaction before giving up, in seconds
BUSY_TIMEOUT = 60.0
SQLITE_HEADER = b"SQLite format 3\x00"
STATUSES = ("correct", "partial", "incorrect", "missing", "invalid", "manual")
FLAG_STATUSES = ("open", "dismissed", "confirmed")

# Version 1. Times are UTC ISO 8601 text of fixed width (text order is time order). Statements are kept
# apart (no executescript, which would commit the transaction the upgrade runs in).
SCHEMA_V1 = (
    """CREATE TABLE course_info (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE students (
        id TEXT PRIMARY KEY NOT NULL CHECK (length(id) > 0),
        name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL DEFAULT '',
        section TEXT NOT NULL DEFAULT '',
        listed INTEGER NOT NULL DEFAULT 1 CHECK (listed IN (0, 1)),
        position INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE assignments (
        id INTEGER PRIMARY KEY,
        problem TEXT NOT NULL,
        version TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        max REAL NOT NULL,
        created TEXT NOT NULL,
        UNIQUE (problem, version)
    )""",
    """CREATE TABLE questions (
        assignment_id INTEGER NOT NULL REFERENCES assignments (id),
        id TEXT NOT NULL,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL,
        points REAL NOT NULL,
        PRIMARY KEY (assignment_id, id)
    ) WITHOUT ROWID""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        assignment_id INTEGER NOT NULL REFERENCES assignments (id),
        started TEXT NOT NULL,
        author TEXT NOT NULL,
        cnncalc_version TEXT NOT NULL,
        files INTEGER NOT NULL,
        recorded INTEGER NOT NULL
    )""",
    """CREATE TABLE submissions (
        id INTEGER PRIMARY KEY,
        student_id TEXT NOT NULL REFERENCES students (id),
        assignment_id INTEGER NOT NULL REFERENCES assignments (id),
        run_id INTEGER NOT NULL REFERENCES runs (id),
        file TEXT NOT NULL,
        file_name TEXT NOT NULL,
        sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
        submitted TEXT NOT NULL,
        graded TEXT NOT NULL,
        cnncalc_version TEXT NOT NULL,
        variant TEXT,
        score REAL NOT NULL,
        max REAL NOT NULL,
        warnings TEXT NOT NULL DEFAULT '[]',
        UNIQUE (assignment_id, student_id, file, sha256)
    )""",
    "CREATE INDEX submissions_latest ON submissions (assignment_id, student_id, submitted, file_name)",
    """CREATE TABLE question_results (
        submission_id INTEGER NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
        question TEXT NOT NULL,
        position INTEGER NOT NULL,
        score REAL NOT NULL,
        points REAL NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('correct', 'partial', 'incorrect', 'missing', 'invalid', 'manual')),
        answer TEXT,
        feedback TEXT NOT NULL DEFAULT '',
        diagnosis TEXT,
        PRIMARY KEY (submission_id, question)
    ) WITHOUT ROWID""",
    # answer groups are answers not graded correct (a correct answer has its points already): only those are
    # indexed, which keeps the index a fraction of the table in a class that does well
    "CREATE INDEX question_results_answer ON question_results (question, answer) WHERE status <> 'correct'",
    """CREATE TABLE overrides (
        id INTEGER PRIMARY KEY,
        assignment_id INTEGER NOT NULL,
        question TEXT NOT NULL,
        student_id TEXT REFERENCES students (id),
        answer TEXT,
        score REAL NOT NULL CHECK (score >= 0),
        max REAL CHECK (max IS NULL OR max >= 0),
        reason TEXT NOT NULL,
        author TEXT NOT NULL,
        created TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'command',
        cleared INTEGER NOT NULL DEFAULT 0 CHECK (cleared IN (0, 1)),
        cleared_by TEXT,
        cleared_at TEXT,
        CHECK ((student_id IS NULL) <> (answer IS NULL)),
        FOREIGN KEY (assignment_id, question) REFERENCES questions (assignment_id, id)
    )""",
    "CREATE INDEX overrides_target ON overrides (assignment_id, question, student_id)",
    """CREATE TABLE copy_flags (
        id INTEGER PRIMARY KEY,
        assignment_id INTEGER NOT NULL REFERENCES assignments (id),
        student_id TEXT NOT NULL REFERENCES students (id),
        other_id TEXT NOT NULL REFERENCES students (id),
        bits REAL NOT NULL,
        evidence TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed', 'confirmed')),
        reason TEXT,
        decided_by TEXT,
        decided_at TEXT,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        CHECK (student_id < other_id),
        UNIQUE (assignment_id, student_id, other_id)
    )""",
)


def _create_v1(db: sqlite3.Connection) -> None:
    for statement in SCHEMA_V1:
        db.execute(statement)


def _answers_read_by_kind(db: sqlite3.Connection) -> None:
    """Version 2: the answers stored for answer groups — of every question result, and of every
    answer-group override — are put in the form groups match on since: read as the question's kind reads
    them (``22x22x6`` is ``[22, 22, 6]``, a pair ``1, 2`` is ``[1, 2]``), then canonical. Version 1 stored
    the canonical form of what was written, so a group set on ``[14, 14, 32]`` missed ``14x14x32``. An
    answer its kind cannot read keeps its form."""
    import json

    from ..exercises.grading import AnswerForms

    forms = AnswerForms()
    kinds = {(aid, qid): kind for aid, qid, kind in db.execute("SELECT assignment_id, id, kind FROM questions")}

    def read_again(aid: int, question: str, stored: str) -> str:
        try:
            value = json.loads(stored)
        except ValueError:
            return stored
        return forms(kinds.get((aid, question), ""), value) or stored

    rows = db.execute("SELECT qr.submission_id, qr.question, qr.answer, s.assignment_id FROM question_results qr "
                      "JOIN submissions s ON s.id = qr.submission_id WHERE qr.answer IS NOT NULL").fetchall()
    db.executemany("UPDATE question_results SET answer = ? WHERE submission_id = ? AND question = ?",
                   [(new, sid, question) for sid, question, old, aid in rows
                    if (new := read_again(aid, question, old)) != old])
    rows = db.execute("SELECT id, assignment_id, question, answer FROM overrides WHERE answer IS NOT NULL").fetchall()
    db.executemany("UPDATE overrides SET answer = ? WHERE id = ?",
                   [(new, ident) for ident, aid, question, old in rows
                    if (new := read_again(aid, question, old)) != old])


#: UPGRADES[v] turns a version-v gradebook into version v + 1, inside the upgrade's one transaction.
#: Version 0 is an empty database. A new version adds its step here and raises SCHEMA_VERSION; the step
#: is tested on tests/data/course/v1/gradebook.sqlite (and on every later fixture).
UPGRADES: dict[int, Callable[[sqlite3.Connection], None]] = {0: _create_v1, 1: _answers_read_by_kind}


# ---------------------------------------------------------------- errors


def gradebook_error(error: sqlite3.Error, path: str | Path) -> CnnCalcError:
    """An SQLite failure as one clear line."""
    text = str(error)
    if isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return CnnCalcError(f"the gradebook is busy: another cnncalc has been writing to it for over "
                            f"{BUSY_TIMEOUT:g} s; try again when it has finished", file=str(path))
    if "readonly" in text or "read-only" in text:
        return CnnCalcError("the gradebook cannot be written (read-only file, folder or disk)", file=str(path))
    if "not a database" in text or "malformed" in text:
        return CnnCalcError(f"the gradebook is damaged or not an SQLite database ({text}); restore a backup "
                            "(cnncalc gradebook backup)", file=str(path))
    return CnnCalcError(f"gradebook error: {text}", file=str(path))


@contextmanager
def sqlite_errors(path: str | Path) -> Iterator[None]:
    """Turn any sqlite3 error raised inside into a CnnCalcError naming the gradebook."""
    try:
        yield
    except sqlite3.Error as error:
        raise gradebook_error(error, path) from None


# ---------------------------------------------------------------- creating and opening


def create_gradebook(path: Path) -> sqlite3.Connection:
    """A new, empty gradebook of the current version at ``path`` (which must not exist), mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    db = _connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    upgrade(db, path, backup_first=False)
    return db


def open_gradebook(path: Path) -> sqlite3.Connection:
    """The course's gradebook, checked before SQLite touches it, upgraded to the current version."""
    check_gradebook_file(path)
    with sqlite_errors(path):
        db = _connect(path)
        try:
            found = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if found != APPLICATION_ID:
                raise CnnCalcError("an SQLite database, but not a cnncalc gradebook", file=str(path),
                                   expected="the gradebook.sqlite that cnncalc course init wrote")
            _check_version(version, path)
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            if version < SCHEMA_VERSION:
                upgrade(db, path)
        except BaseException:
            db.close()
            raise
    return db


def _connect(path: Path) -> sqlite3.Connection:
    # mode=rw: never create a file; nofollow=1: never open through a symbolic link
    uri = f"file:{urllib.parse.quote(os.fspath(path.absolute()))}?mode=rw&nofollow=1"
    db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = FULL")  # a committed grade survives a power cut too
        db.execute("PRAGMA cache_size = -65536")  # 64 MB: a run of 10,000 files is written without spilling
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
    except BaseException:
        db.close()  # a damaged file: closing removes the -wal and -shm files SQLite made beside it
        raise
    return db


def _check_version(version: int, path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise CnnCalcError(f"the gradebook was written by a newer cnncalc (schema version {version}; this cnncalc "
                           f"reads versions up to {SCHEMA_VERSION}); upgrade cnncalc to use this course",
                           file=str(path))


def check_gradebook_file(path: Path) -> None:
    """Refuse, before any connection, what must not be opened as a gradebook (nothing is written)."""
    name = str(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise CnnCalcError("the course has no gradebook (gradebook.sqlite is missing); restore it from a backup "
                           "or make the course again with cnncalc course init", file=name) from None
    except OSError as error:
        raise CnnCalcError(f"cannot read the gradebook: {error.strerror}", file=name) from None
    if stat.S_ISLNK(info.st_mode):
        raise CnnCalcError("the gradebook is a symbolic link; refused (it must be a regular file in the course "
                           "folder)", file=name)
    if not stat.S_ISREG(info.st_mode):
        raise CnnCalcError(f"the gradebook is {_kind(info.st_mode)}, not a regular file", file=name)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise CnnCalcError(f"cannot read the gradebook: {error.strerror}", file=name) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CnnCalcError("the gradebook is not a regular file", file=name)
        head = os.read(fd, 100)
    finally:
        os.close(fd)
    if len(head) < 100 or not head.startswith(SQLITE_HEADER):
        raise CnnCalcError("the gradebook is not an SQLite database" + (" (the file is empty)" if not head else ""),
                           file=name, expected="the gradebook.sqlite that cnncalc course init wrote")
    if int.from_bytes(head[68:72], "big") not in (APPLICATION_ID, 0):
        raise CnnCalcError("an SQLite database, but not a cnncalc gradebook", file=name)
    _check_version(int.from_bytes(head[60:64], "big"), path)
    for suffix in ("-wal", "-shm"):
        companion = Path(name + suffix)
        try:
            mode = os.lstat(companion).st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(mode):
            raise CnnCalcError(f"the gradebook's {suffix[1:]} file is {_kind(mode)}; refused", file=str(companion))
    # the mode bits too: the superuser may write anything, but a gradebook marked read-only stays so
    if not os.access(path, os.R_OK | os.W_OK) or not info.st_mode & stat.S_IWUSR:
        raise CnnCalcError(f"the gradebook is read-only (mode {stat.S_IMODE(info.st_mode):04o}); cnncalc records "
                           f"every command in it: chmod 600 {name}", file=name)
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK) or not os.stat(folder).st_mode & stat.S_IWUSR:
        raise CnnCalcError("the course folder is read-only: SQLite keeps its journal beside the gradebook",
                           file=str(folder))


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


# ---------------------------------------------------------------- versions


def upgrade(db: sqlite3.Connection, path: Path, *, backup_first: bool = True) -> int:
    """Bring the gradebook to SCHEMA_VERSION, one UPGRADES step per version, all in one transaction (a
    failed step leaves the file as it was). Before upgrading a course that holds grades, a copy of the old
    file is kept beside it (``gradebook-v1.sqlite.bak``). Returns the version found."""
    found = db.execute("PRAGMA user_version").fetchone()[0]
    _check_version(found, path)
    if found == SCHEMA_VERSION:
        return found
    if backup_first and found > 0:
        keep = path.with_name(f"{path.stem}-v{found}{path.suffix}.bak")
        if not keep.exists():
            backup_to(db, keep)
    with write_transaction(db):
        version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have upgraded it
        while version < SCHEMA_VERSION:
            UPGRADES[version](db)
            version += 1
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return found


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (``BEGIN IMMEDIATE``: a second writer waits at the start, never
    half-way), committed whole or rolled back whole."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextmanager
def read_snapshot(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A consistent view for a command that reads several tables (a writer may commit meanwhile)."""
    db.execute("BEGIN")
    try:
        yield db
    finally:
        if db.in_transaction:
            db.execute("COMMIT")


def backup_to(db: sqlite3.Connection, target: Path) -> None:
    """A copy of the whole gradebook at ``target`` through SQLite's online backup API (consistent while other
    processes write), mode 0600, written under a temporary name and renamed: whole or not at all."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)  # mode 0600
    os.close(fd)
    temporary = Path(name)
    try:
        copy = sqlite3.connect(os.fspath(temporary), isolation_level=None)
        try:
            db.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            ok = copy.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            copy.close()
        if ok != "ok":
            raise CnnCalcError(f"the backup failed its integrity check ({ok})", file=str(target))
        os.chmod(temporary, 0o600)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        for leftover in (temporary, Path(f"{temporary}-journal")):
            try:
                os.unlink(leftover)
            except OSError:
                pass
        raise
