"""The folder `generate` writes into, and the manifest that tells its own files from anyone else's.

`generate` writes ``DIR/sheets/*`` and ``DIR/keys/*`` and records every file it wrote, with its SHA-256,
in ``DIR/.cnncalc-generate.json``. The next run into ``DIR`` may then overwrite those files (unless
someone edited one since) and removes the ones it no longer writes (a stale sheet or key from an earlier,
larger run). It refuses a folder it did not make, and any file it would overwrite that it did not write,
unless ``force``; it never touches a path outside ``DIR/sheets`` and ``DIR/keys``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from ..errors import CnnCalcError, ExerciseError
from ..spec import safeload

MANIFEST = ".cnncalc-generate.json"
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
    """

    def __init__(self, folder: str | Path, force: bool = False) -> None:
        self.folder = Path(folder)
        self.force = force
        self.old: dict[str, str | None] = {}  # what the previous run wrote (from its manifest)
        self.written: dict[str, str] = {}
        self.targets: list[str] = []

    # ------------------------------------------------------------ before anything is written

    def plan(self, targets: list[str]) -> None:
        """Refuse (ExerciseError) unless every target may be written; then record the run as started."""
        folder = self.folder
        if folder.exists() and not folder.is_dir():
            raise ExerciseError("--out is a file, not a folder; give a folder for sheets/ and keys/", file=str(folder))
        for name in SUBFOLDERS:
            sub = folder / name
            if sub.is_symlink() or (sub.exists() and not sub.is_dir()):
                raise ExerciseError(f"'{name}' in the output folder is not a plain folder (a link or a file); "
                                    "generate writes only inside the folder it is given", file=str(sub))
        self.targets = list(targets)
        manifest = folder / MANIFEST
        if manifest.exists() or manifest.is_symlink():
            self.old = self._read_manifest(manifest)
        elif folder.is_dir() and any(folder.iterdir()) and not self.force:
            raise _refuse("the output folder is not empty and was not written by cnncalc generate "
                          f"(no {MANIFEST})", folder)
        edited = []
        for target in self.targets:
            current = _file_digest(folder / target)
            if current is None:
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
        # Written before any sheet: an interrupted run leaves a manifest that still claims its files
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
        from .report import write_atomic

        if target not in self.targets:
            raise ValueError(f"{target} was not planned")
        write_atomic(self.folder / target, text)
        self.written[target] = digest(text)

    def finish(self) -> list[str]:
        """Remove the files of the earlier run that this run did not write (unedited ones only), record
        this run's files; returns the removed ones."""
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
        from .report import write_atomic

        document = {"generator": "cnncalc generate", "format": 1,
                    "note": "files written by cnncalc generate, with their SHA-256; the next run overwrites "
                            "and removes only these (unless edited)", "files": files}
        write_atomic(self.folder / MANIFEST, json.dumps(document, indent=1) + "\n")
