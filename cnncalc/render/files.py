"""Writing what a renderer made: whole or not at all, to the kind of file asked for."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import CnnCalcError


def write_text(path: str, text: str, suffixes: tuple[str, ...]) -> None:
    """Write `text` to `path` through a temporary file and a rename, so a reader never sees half a file.

    The suffix must be one of `suffixes`; a folder, or a folder that does not exist, is a clear error.
    """
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise CnnCalcError("unknown file type", file=path, got=target.suffix or "(none)",
                           expected=" or ".join(suffixes))
    if target.is_dir():
        raise CnnCalcError("is a folder, not a file", file=path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise CnnCalcError("the folder does not exist", file=path)
    if target.is_symlink():  # write through a link to its file, leaving the link in place
        target = target.resolve()
    try:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(text)
            os.chmod(temporary, mode)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise CnnCalcError(f"cannot write the file: {error.strerror}", file=path) from None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
