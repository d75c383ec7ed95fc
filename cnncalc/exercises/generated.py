"""The folder `generate` writes into, and the manifest that tells its own files from anyone else's.

`generate` writes ``DIR/sheets/*`` and ``DIR/keys/*`` and records every file it wrote, with its SHA-256,
in ``DIR/.cnncalc-generate.json``. The next run into ``DIR`` may then overwrite those files (unless
someone edited one since) and removes the ones it no longer writes (a stale sheet or key from an earlier,
larger run). It refuses a folder it did not make, and any file it would overwrite that it did not write,
unless ``force``; it never touches a path outside ``DIR/sheets`` and ``DIR/keys``.

One run at a time: a run holds an exclusive lock on ``DIR/.cnncalc-generate.lock`` from its checks to its
manifest, and a second run into the same folder refuses at once. A run that fails (an error, an interrupt)
removes what it created: the files that were not there before, the folders it made, its manifest if there
was none; a file it replaced stays replaced and recorded, as it would after a finished run.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import CnnCalcError, ExerciseError
from ..outputs import check_name, write_output
from ..spec import safeload

MANIFEST = ".cnncalc-generate.json"
LOCK = ".cnncalc-generate.lock"
SUBFOLDERS = ("sheets", "keys")
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
_ENTRY = re.compile(r"^(sheets|keys)/[^/\\]+$")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_digest(path: Path) -> str | None:
    """The SHA-256 of a regular file (None if it is gone); links and other kinds are not ours."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ExerciseError(f"cannot read: {error.strerror}", file=str(path)) from None
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    return hashlib.sha256(safeload.read_limited(path, MAX_MANIFEST_BYTES * 4, "file")).hexdigest()


def _refuse(message: str, folder: Path) -> ExerciseError:
    return ExerciseError(message, file=str(folder), hint="give --force to write into it anyway")


class OutputFolder:
    """Plan, write and tidy one run of `generate` into ``folder``.

    >>> import tempfile
    >>> out = OutputFolder(Path(tempfile.mkdtemp()) / "out")
    >>> out.plan(["sheets/a.md", "keys/a.json"])
    >>> out.write("sheets/a.md", "sheet"); out.write("keys/a.json", "{}")
    >>> out.finish()
    []
    >>> sorted(json.loads((out.folder / MANIFEST).read_text())["files"])
    ['keys/a.json', 'sheets/a.md']

    ``plan`` and ``finish`` clean up after their own failures; after a failure between them, call ``abort``.
    """

    def __init__(self, folder: str | Path, force: bool = False, inputs: Iterable[str | Path | None] = ()) -> None:
        self.folder = Path(folder)
        self.force = force
        self.inputs = list(inputs)  # the files the command read: never overwritten, even with force
        self.old: dict[str, str | None] = {}  # what the previous run wrote (from its manifest)
        self.written: dict[str, str] = {}
        self.targets: list[str] = []
        self._lock: int | None = None  # the descriptor holding the folder's lock
        self._made: list[Path] = []  # folders this run created, outermost first
        self._new: set[str] = set()  # targets that did not exist before this run
        self._had_manifest = True
        self._manifest_written = False
        self._failed = False

    def abort(self) -> None:
        """After a failure between ``plan`` and ``finish`` (in the caller's own work): remove what this run
        created and release the folder."""
        if self._lock is not None:
            self._clean_up()
            self._unlock()

    # ------------------------------------------------------------ one run at a time

    def _lock_folder(self) -> None:
        """Make the folder (recording what was made) and take its lock, or refuse at once: another run
        holds it. The lock file is removed by the run that holds it; a run that finds its lock file gone
        or replaced once it holds the lock (the other run just finished) takes a fresh one."""
        import fcntl

        for _ in range(5):
            self._make_folder(self.folder)
            path = self.folder / LOCK
            try:
                handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
            except OSError as error:
                reason = "it is a link" if error.errno == errno.ELOOP else error.strerror
                raise ExerciseError(f"cannot take the output folder's lock ({LOCK}): {reason}",
                                    file=str(self.folder)) from None
            try:
                if not stat.S_ISREG(os.fstat(handle).st_mode):
                    raise ExerciseError(f"cannot take the output folder's lock: {LOCK} is not a regular file",
                                        file=str(self.folder))
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(handle)
                raise ExerciseError("another cnncalc generate is writing into this folder; wait for it to finish, "
                                    "or give another --out", file=str(self.folder)) from None
            except BaseException:
                os.close(handle)
                raise
            try:
                same = os.path.samestat(os.fstat(handle), os.lstat(path))
            except FileNotFoundError:
                same = False
            if same:
                self._lock = handle
                return
            os.close(handle)  # the lock file of a run that has just ended: take a fresh one
        raise ExerciseError("the output folder's lock keeps changing hands; try again", file=str(self.folder))

    def _make_folder(self, folder: Path) -> None:
        missing = []
        while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                continue  # made by someone else just now: not ours to remove
            except OSError as error:
                raise ExerciseError(f"cannot make the output folder: {error.strerror}", file=str(path)) from None
            self._made.append(path)

    def _unlock(self) -> None:
        if self._lock is None:
            return
        try:
            os.unlink(self.folder / LOCK)  # while still held: see _lock_folder
        except OSError:
            pass
        for folder in reversed(self._made if self._failed else []):
            try:
                folder.rmdir()  # only when empty: a run that failed leaves no folder of its own behind
            except OSError:
                pass
        os.close(self._lock)
        self._lock = None

    def _clean_up(self) -> None:
        """After a failure: remove the files this run created (unchanged since), keep the ones it replaced,
        and leave a manifest that records them (or none, if there was none)."""
        for target in sorted(self._new):
            path = self.folder / target
            if target in self.written and _file_digest(path) == self.written[target]:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        kept = {target: sha for target, sha in self.written.items() if target not in self._new}
        try:
            if self._manifest_written and (self._had_manifest or kept):
                self._write_manifest({**self.old, **kept})
            elif self._manifest_written:
                os.unlink(self.folder / MANIFEST)
        except (OSError, CnnCalcError):
            pass  # the failure being reported matters more; the manifest still claims the run's files
        self._failed = True

    # ------------------------------------------------------------ before anything is written

    def plan(self, targets: list[str]) -> None:
        """Refuse (ExerciseError) unless every target may be written; then record the run as started."""
        folder = self.folder
        check_name(folder)
        if folder.exists() and not folder.is_dir():
            raise ExerciseError("--out is a file, not a folder; give a folder for sheets/ and keys/", file=str(folder))
        self._lock_folder()
        try:
            self._plan(targets)
        except BaseException:
            self._clean_up()
            self._unlock()
            raise

    def _plan(self, targets: list[str]) -> None:
        folder = self.folder
        for name in SUBFOLDERS:
            sub = folder / name
            if sub.is_symlink() or (sub.exists() and not sub.is_dir()):
                raise ExerciseError(f"'{name}' in the output folder is not a plain folder (a link or a file); "
                                    "generate writes only inside the folder it is given", file=str(sub))
        self.targets = list(targets)
        manifest = folder / MANIFEST
        self._had_manifest = manifest.exists() or manifest.is_symlink()
        if self._had_manifest:
            self.old = self._read_manifest(manifest)
        elif any(entry.name != LOCK for entry in folder.iterdir()) and not self.force:
            raise _refuse("the output folder is not empty and was not written by cnncalc generate "
                          f"(no {MANIFEST})", folder)
        edited = []
        for target in self.targets:
            current = _file_digest(folder / target)
            if current is None:
                self._new.add(target)
                continue
            if target not in self.old:
                edited.append(f"{target} (not written by generate)")
            elif self.old[target] is not None and current != self.old[target]:
                edited.append(f"{target} (edited since generate wrote it)")
        for entry, recorded in self.old.items():
            if entry not in self.targets and recorded is not None:
                current = _file_digest(folder / entry)
                if current is not None and current != recorded:
                    edited.append(f"{entry} (edited since; it would be removed as stale)")
        if edited and not self.force:
            shown = "; ".join(edited[:3]) + (f"; and {len(edited) - 3} more" if len(edited) > 3 else "")
            raise _refuse(f"would overwrite or remove files generate did not write: {shown}", folder)
        for name in SUBFOLDERS:
            if any(target.startswith(f"{name}/") for target in self.targets):
                self._make_folder(folder / name)
        # Written before any sheet: a run killed on the way leaves a manifest that still claims its files
        # (None: being written), so the next run may overwrite them without --force.
        self._write_manifest({**self.old, **{target: None for target in self.targets}})

    def _read_manifest(self, path: Path) -> dict[str, str | None]:
        damaged = _refuse(f"{MANIFEST} is damaged or not generate's", self.folder)
        try:
            document: Any = json.loads(safeload.read_limited(path, MAX_MANIFEST_BYTES, "manifest"))
        except (CnnCalcError, ValueError):
            if self.force:
                return {}
            raise damaged from None
        files = document.get("files") if isinstance(document, dict) else None
        if not isinstance(files, dict) or not all(
                isinstance(k, str) and _ENTRY.match(k) and k.split("/", 1)[1] not in (".", "..")
                and (v is None or isinstance(v, str)) for k, v in files.items()):
            if self.force:
                return {}  # nothing in it is trusted: nothing is removed
            raise damaged
        return files

    # ------------------------------------------------------------ writing

    def write(self, target: str, text: str) -> None:
        if target not in self.targets:
            raise ValueError(f"{target} was not planned")
        # a link planted in sheets/ or keys/ is replaced, never followed out of the folder
        write_output(self.folder / target, text, inputs=self.inputs, follow_links=False)
        self.written[target] = digest(text)

    def finish(self) -> list[str]:
        """Remove the files of the earlier run that this run did not write (unedited ones only), record
        this run's files; returns the removed ones."""
        try:
            return self._finish()
        except BaseException:
            self._clean_up()
            raise
        finally:
            self._unlock()

    def _finish(self) -> list[str]:
        removed = []
        for entry, recorded in self.old.items():
            if entry in self.written:
                continue
            path = self.folder / entry
            current = _file_digest(path)
            if current is not None and (recorded is None or current == recorded) and current != "not a regular file":
                try:
                    os.unlink(path)
                    removed.append(entry)
                except OSError as error:
                    raise ExerciseError(f"cannot remove a stale file: {error.strerror}", file=str(path)) from None
        self._write_manifest(dict(sorted(self.written.items())))
        return removed

    def _write_manifest(self, files: dict[str, str | None]) -> None:
        document = {"generator": "cnncalc generate", "format": 1,
                    "note": "files written by cnncalc generate, with their SHA-256; the next run overwrites "
                            "and removes only these (unless edited)", "files": files}
        write_output(self.folder / MANIFEST, json.dumps(document, indent=1) + "\n", inputs=self.inputs,
                     follow_links=False)
        self._manifest_written = True
