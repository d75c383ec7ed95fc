"""Writing an output file: whole or not at all, through a link to its target, never over anything else.

Every file cnncalc writes (`-o`, `--weights-out`, `--gradebook`, feedback, `generate`'s sheets and keys)
goes through :func:`write_output`, so the rules hold for all of them at once:

- the data goes to a temporary file in the target's own folder, which is then renamed over the target:
  a reader, or a crash, sees the old file or the new one, never half of one;
- a symbolic link is written through (its target is replaced, the link stays), unless the caller names
  the file itself (``follow_links=False``: files inside a folder cnncalc owns, where a planted link must
  never lead outside);
- an existing file keeps its permission bits (and, where allowed, its owner); a new one gets the umask's;
- only a regular file is ever replaced: a folder, a FIFO, a device, a socket or a loop of links is
  refused, so ``-o`` through a link to ``/dev/null`` leaves the device alone;
- a path that is one of the command's own inputs is refused: a gradebook never replaces an answer file.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_output(folder / "a.txt", "one\\n")
4
>>> (folder / "a.txt").read_text()
'one\\n'
>>> write_output(folder / "b.txt", "x", inputs=[folder / "a.txt", folder / "b.txt"])
1
>>> write_output(folder / "a.txt", "two", inputs=[folder / "a.txt"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
cnncalc.errors.CnnCalcError: .../a.txt: refused: this is one of the command's inputs (...); choose another output file
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable

from .errors import CnnCalcError

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import IO, TypeAlias

PathLike = str | os.PathLike[str]
#: what to write: text (written as UTF-8), bytes, or a function that writes into a binary file object
Content: TypeAlias = "str | bytes | Callable[[IO[bytes]], object]"

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def shown(path: PathLike) -> str:
    """A path as text for a message: bytes that are not UTF-8 (kept by Python as lone surrogates, which no
    stream can print) shown as ``\\xff``.

    >>> shown("caf\\udcc3.txt")
    'caf\\\\xc3.txt'
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_name(path: PathLike) -> None:
    """Refuse a file or folder name that is not UTF-8 text: it could not be shown in any report or message."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        raise CnnCalcError("refused: the name is not valid UTF-8 text", file=shown(path),
                           expected="a file name in UTF-8") from None


def check_output(path: PathLike, inputs: Iterable[PathLike | None] = (), *, follow_links: bool = True,
                 create_folders: bool = False) -> Path:
    """The file that writing ``path`` would replace (the link's target when ``follow_links``), after every
    check of :func:`write_output` that can be made before the data exists: call it before long work so that
    a bad output path is refused first.
    """
    return _target(path, inputs, follow_links, create_folders)[0]


def write_output(path: PathLike, content: Content, *, inputs: Iterable[PathLike | None] = (), durable: bool = False,
                 follow_links: bool = True, create_folders: bool = False) -> int:
    """Write ``content`` to ``path`` whole or not at all; returns the number of bytes written.

    ``inputs``: the files the command read (None entries are skipped); writing over one is refused.
    ``durable``: flush the data and the rename to the disk before returning (a gradebook).
    ``follow_links``: write through a symbolic link at ``path`` (else the link itself is replaced).
    ``create_folders``: make the missing folders of ``path`` (else a missing folder is an error).
    Any failure is a CnnCalcError naming ``path``; the temporary file is removed on any failure, including
    an interrupt. Text is encoded before anything is created: text that is not UTF-8 leaves no file.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    name = os.fspath(path)
    target, existing = _target(name, inputs, follow_links, create_folders)
    temporary: str | None = None
    try:
        if create_folders:
            target.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # (with random and shutil: not loaded by commands that print only)

        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:64]}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            if isinstance(data, bytes):
                stream.write(data)
            else:
                data(stream)
            size = stream.tell()
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        os.chmod(temporary, stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask())
        if existing is not None and (existing.st_uid, existing.st_gid) != (os.getuid(), os.getgid()):
            try:  # root replacing a user's file gives it back to the user; anyone else keeps what is allowed
                os.chown(temporary, existing.st_uid, existing.st_gid)
            except OSError:
                pass
        _refuse_kind(name, target, _lstat(name, target), follow_links)  # a FIFO put there since: still refused
        os.replace(temporary, target)
        temporary = None
        if durable:
            _sync_folder(target.parent)
    except OSError as error:
        raise CnnCalcError(f"cannot write: {error.strerror or error}", file=shown(name)) from None
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass
    return size


def _target(path: PathLike, inputs: Iterable[PathLike | None], follow_links: bool,
            create_folders: bool) -> tuple[Path, os.stat_result | None]:
    """(the file to replace, its stat or None when there is none yet), or a CnnCalcError saying why not."""
    from pathlib import Path  # (not loaded by a summary printed to the terminal)

    check_name(path)
    name = os.fspath(path)
    if not name or os.path.basename(name) in ("", ".", ".."):
        raise CnnCalcError("refused: this names a folder, not a file", file=shown(name) or "''",
                           expected="a file name")
    if follow_links:
        target = Path(os.path.realpath(name))
    else:  # the folder may be reached through links; the last part is the file itself, link or not
        target = Path(os.path.realpath(os.path.dirname(name) or ".")) / os.path.basename(name)
    info = _lstat(name, target)
    _refuse_kind(name, target, info, follow_links)
    if not create_folders and not target.parent.is_dir():
        raise CnnCalcError("the folder does not exist", file=shown(name), got=shown(target.parent),
                           expected="an existing folder")
    if info is not None and stat.S_ISREG(info.st_mode):
        for source in inputs:
            if source is not None and os.fspath(source) not in ("", "-") and _same(info, source):
                raise CnnCalcError(f"refused: this is one of the command's inputs ({shown(source)}); choose "
                                   "another output file", file=shown(name))
    return target, (info if info is not None and stat.S_ISREG(info.st_mode) else None)


def _lstat(name: str, target: Path) -> os.stat_result | None:
    """The target's own stat (a link left in it only when it is not followed), None if nothing is there."""
    try:
        return os.lstat(target)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _loop(name) from None
        if error.errno == errno.ENOTDIR:
            raise CnnCalcError("cannot write: a part of the path is a file, not a folder", file=shown(name)) from None
        raise CnnCalcError(f"cannot write: {error.strerror or error}", file=shown(name)) from None


def _refuse_kind(name: str, target: Path, info: os.stat_result | None, follow_links: bool) -> None:
    if info is None:
        return
    if stat.S_ISLNK(info.st_mode):
        if follow_links:  # realpath resolves every link but one inside a loop
            raise _loop(name)
        return  # not followed: the link is the file, replaced as one
    for test, kind in _KINDS:
        if test(info.st_mode):
            through = f" (through the link to {shown(target)})" if os.path.islink(name) else ""
            if kind == "a folder":
                raise CnnCalcError(f"is a folder, not a file{through}", file=shown(name), expected="a file name")
            raise CnnCalcError(f"refused: this is {kind}{through}, not a regular file; cnncalc writes only "
                               "regular files", file=shown(name))


def _loop(name: str) -> CnnCalcError:
    return CnnCalcError("refused: a loop of symbolic links (or a chain too long to follow)", file=shown(name),
                        expected="a file, or a link to one")


def _same(info: os.stat_result, source: PathLike) -> bool:
    try:
        other = os.stat(source)
    except (OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) == (other.st_dev, other.st_ino)


def _sync_folder(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # some file systems cannot sync a folder; the file itself is on the disk
    finally:
        os.close(handle)


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
