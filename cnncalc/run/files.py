"""Untrusted array files for `run`: ``.npy`` inputs, ``.npz`` weights, images, YAML/JSON lists.

Every file is read with :func:`cnncalc.spec.safeload.read_limited` (regular files only, never blocking on a
FIFO, at most cap + 1 bytes), and what a file *declares* is checked before anything is allocated for it:
an ``.npy`` header's shape and dtype, an ``.npz`` archive's member sizes (and the bytes actually inflated),
an image's pixel count. A file cannot hold more than it declares, so the checks bound memory, not just
bytes on disk. Nothing is ever unpickled.

The caps follow ``--max-memory`` (the memory budget of the whole run): a file larger than the budget could
not be run anyway, and a tighter budget reads less. Fixed caps: :data:`MAX_IMAGE_PIXELS` and
:data:`MAX_NPZ_MEMBERS`.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CnnCalcError, ExecutionError
from ..spec import safeload

DEFAULT_MAX_MEMORY = 2 * 1024**3
MAX_IMAGE_PIXELS = 8192 * 8192  # a 67-megapixel photo; far beyond any network input, far below a bomb
MAX_NPZ_MEMBERS = 4096  # DenseNet-201 or ResNet-152 need under 1,000 arrays
MAX_NPY_HEADER = 10_000  # numpy's own default limit for an .npy header
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
FLOAT_BYTES = 8  # arrays become float64 (the reference dtype) unless the run asks for less


def human_bytes(count: float) -> str:
    """``74.5 GiB``, ``512 MiB``, ``100 B``.

    >>> human_bytes(100000 * 100000 * 8)
    '74.5 GiB'
    """
    if count >= 1024**6:
        from decimal import Decimal

        return f"{Decimal(int(count)):.3e} B"
    for unit, size in (("PiB", 1024**5), ("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{int(count):,} B"


# ---------------------------------------------------------------- .npy


def parse_npy(raw: bytes | memoryview, source: str, budget: int, what: str = "array",
              itemsize: int = FLOAT_BYTES) -> np.ndarray:
    """An array from the bytes of an ``.npy`` file; header checked before the data is touched.

    ``budget`` bounds the declared array once converted to ``itemsize``-byte floats.
    """
    stream = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream, max_header_size=MAX_NPY_HEADER)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream, max_header_size=MAX_NPY_HEADER)
        else:
            raise ExecutionError(f"the {what} is an .npy of version {version[0]}.{version[1]}", file=source,
                                 got=f"{version[0]}.{version[1]}", expected="version 1.0 or 2.0 (numpy.save)")
    except CnnCalcError:
        raise
    except (ValueError, EOFError, SyntaxError, TypeError, OverflowError) as error:
        raise ExecutionError(f"the {what} is not a readable .npy array: {str(error)[:200]}", file=source) from None
    if dtype.hasobject or dtype.kind not in "iuf" or dtype.itemsize == 0:
        raise ExecutionError(f"the {what} must hold numbers", file=source, got=str(dtype),
                             expected="an integer or float array (no objects, strings, booleans or records)")
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise ExecutionError(f"the {what} is not a readable .npy array: bad shape {str(shape)[:100]}", file=source)
    count = math.prod(shape)
    longest = max(shape, default=0)
    if longest * max(itemsize, dtype.itemsize) > budget:  # even when another axis is 0: no such array is useful
        count = max(count, longest)
    if count * max(itemsize, dtype.itemsize) > budget:
        raise ExecutionError(f"the {what} declares shape {list(shape)}, about "
                             f"{human_bytes(count * max(itemsize, dtype.itemsize))} in memory", file=source,
                             got=human_bytes(count * max(itemsize, dtype.itemsize)),
                             expected=f"at most --max-memory = {human_bytes(budget)}")
    count = math.prod(shape)
    start, nbytes = stream.tell(), count * dtype.itemsize
    held = len(raw) - start
    if held != nbytes:
        raise ExecutionError(f"the {what} holds {held:,} bytes of data, but its header declares shape "
                             f"{list(shape)} of {dtype} ({nbytes:,} bytes)", file=source,
                             hint="the file is truncated or has trailing bytes")
    if count == 0:
        return np.zeros(shape, dtype=dtype)
    flat = np.frombuffer(raw, dtype=dtype, count=count, offset=start)
    return flat.reshape(shape, order="F" if fortran_order else "C")


# ---------------------------------------------------------------- .npz


def load_weights_file(path: str | Path, max_bytes: int = DEFAULT_MAX_MEMORY) -> dict[str, np.ndarray]:
    """Arrays from an ``.npz`` archive (``<layer>.weight``, ``<layer>.bias``, ...), never unpickled.

    The file, the sizes its members declare, the bytes they inflate to and the arrays they declare are
    all bounded by ``max_bytes`` (``--max-memory``).
    """
    source = str(path)
    raw = safeload.read_limited(path, max_bytes, "weights file")
    if not raw.startswith(b"PK"):
        raise ExecutionError("the weights file is not an .npz archive", file=source,
                             got=_magic_text(raw), expected="a zip of .npy arrays, as numpy.savez writes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError) as error:
        raise ExecutionError(f"the weights file is not a readable .npz archive: {str(error)[:200]}",
                             file=source) from None
    if len(members) > MAX_NPZ_MEMBERS:
        raise ExecutionError(f"the weights file has {len(members):,} members", file=source,
                             got=len(members), expected=f"at most {MAX_NPZ_MEMBERS:,} arrays")
    declared = sum(member.file_size for member in members)
    if declared > max_bytes:
        largest = max(members, key=lambda member: member.file_size)
        raise ExecutionError(f"the weights file declares {human_bytes(declared)} of arrays (member "
                             f"'{largest.filename[:100]}': {human_bytes(largest.file_size)})", file=source,
                             got=human_bytes(declared), expected=f"at most --max-memory = {human_bytes(max_bytes)}")
    arrays: dict[str, np.ndarray] = {}
    budget = max_bytes
    for member in members:
        name = member.filename
        shown = name[:100]
        if member.is_dir() or not name.endswith(".npy") or len(name) <= 4:
            raise ExecutionError(f"the weights file has a member that is not an .npy array: '{shown}'",
                                 file=source, hint="an .npz holds only <layer>.<part>.npy arrays (numpy.savez)")
        if member.flag_bits & 0x1:
            raise ExecutionError(f"the weights file member '{shown}' is encrypted", file=source)
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ExecutionError(f"the weights file member '{shown}' uses an unsupported compression",
                                 file=source, got=member.compress_type, expected="stored or deflated (numpy.savez)")
        key = name[:-4]
        if key in arrays:
            raise ExecutionError(f"the weights file has '{shown}' twice", file=source)
        data = _inflate(archive, member, source)
        array = parse_npy(data, source, budget, what=f"weights array '{key[:100]}'")
        budget -= array.size * FLOAT_BYTES
        arrays[key] = array
    return arrays


def _inflate(archive: zipfile.ZipFile, member: zipfile.ZipInfo, source: str) -> bytes:
    """A member's bytes, never more than it declares (a lying size or a bomb stops at the declared size)."""
    limit = member.file_size
    chunks: list[bytes] = []
    total = 0
    try:
        with archive.open(member) as stream:
            while True:
                chunk = stream.read(min(1 << 20, limit + 1 - total))
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise ExecutionError(f"the weights file member '{member.filename[:100]}' inflates past the "
                                         f"{limit:,} bytes it declares", file=source)
                chunks.append(chunk)
                if total == limit:
                    # read on to the end of the stream: the CRC check runs there and catches a lie
                    if stream.read(1):
                        raise ExecutionError(f"the weights file member '{member.filename[:100]}' inflates "
                                             f"past the {limit:,} bytes it declares", file=source)
                    break
    except CnnCalcError:
        raise
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, NotImplementedError,
            RuntimeError) as error:
        raise ExecutionError(f"the weights file member '{member.filename[:100]}' is damaged: {str(error)[:200]}",
                             file=source) from None
    return b"".join(chunks)


def _magic_text(raw: bytes) -> str:
    if not raw:
        return "an empty file"
    if raw.startswith(b"\x93NUMPY"):
        return "a single .npy array"
    return f"a file starting with {raw[:8]!r}"


# ---------------------------------------------------------------- input files


def load_input_file(path: str | Path, max_bytes: int = DEFAULT_MAX_MEMORY) -> np.ndarray:
    """An input array from ``.npy`` (never unpickled), YAML/JSON nested lists, or an image (Pillow)."""
    if not str(path):  # Path("") is ".", the current folder
        raise ExecutionError("the input file name is empty", got="",
                             expected="a .npy, YAML or JSON file, or an image")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        raw = safeload.read_limited(path, max_bytes, "input file")
        return parse_npy(raw, str(path), max_bytes, what="input array")
    if suffix in IMAGE_SUFFIXES:
        from .images import read_image

        return read_image(path, max_bytes)
    data = safeload.load_file(path, what="input file")
    if isinstance(data, dict) and "input" in data:
        data = data["input"]
    return nested_numbers(data, str(path))


def nested_numbers(data: Any, source: str) -> np.ndarray:
    """Nested lists of numbers as a float array: booleans, strings, ragged lists refused."""
    def check(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                check(item)
        elif isinstance(node, bool) or not isinstance(node, (int, float)):
            raise ExecutionError("the input must be nested lists of numbers", file=source, got=node,
                                 expected="a number")

    check(data)
    try:
        array = np.array(data, dtype=float)
    except OverflowError:
        raise ExecutionError("the input holds an integer too large for a float", file=source,
                             expected="numbers below 1.8e308", got="a larger integer") from None
    except ValueError:
        raise ExecutionError("the input lists are not rectangular", file=source,
                             hint="every row needs the same length, every pixel the same channels") from None
    if array.ndim == 0:
        raise ExecutionError("the input must be nested lists of numbers", file=source, got=data,
                             expected="[H, W, C] nested lists")
    return array
