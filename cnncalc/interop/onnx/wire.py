"""Protobuf's wire format, read one way for the whole importer: varints (one at a time, a packed run in bulk,
a tensor's payload in numpy chunks) and the fields of a message, each length checked against its message
and each field counted, over the model's bytes in memory (:class:`Wire`, which the decoder of
:mod:`.proto` extends) or over the file itself, read through ``pread`` (:class:`_Wire`: the summary's
reader, which leaves the weights on disk).

>>> [(number, kind, value) for number, kind, value, _, _ in Wire(bytes.fromhex("0807120161"), "m", 10).fields(0, 5)]
[(1, 0, 7), (2, 2, (4, 5))]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from ...errors import CnnCalcError


class ProtoError(CnnCalcError):
    """A malformed message; :func:`unreadable` names the file."""


def unreadable(detail: str, source: str) -> CnnCalcError:
    return CnnCalcError(f"not a readable ONNX model (truncated, corrupt or nested too deeply): {detail}",
                        file=source)


def _signed64(value: int) -> int:
    value &= 2**64 - 1
    return value - 2**64 if value >= 2**63 else value


_VARINT = re.compile(rb"[\x80-\xff]*[\x00-\x7f]")
_LOW_BITS = bytes(b & 0x7F for b in range(256))
_HIGH_BYTES = bytes(range(0x80, 0x100))


def varint_bounds(size: int) -> int:
    """The fewest varints ``size`` bytes can hold (each is at most 10 bytes): a packed field's count is
    known to be too large from its length alone, before a byte of it is read."""
    return -(-size // 10)


def count_varints(data: bytes) -> int:
    """How many varints ``data`` holds (bytes below 0x80 end one), counted in C."""
    return len(data.translate(None, _HIGH_BYTES))


def _varints(view: memoryview | bytes) -> list[int]:
    """A packed run of varints, decoded in bulk: bytes all below 0x80 are one number each (the common case:
    small attribute values), else the run is split by a regular expression and only long numbers take a
    Python step each."""
    data = bytes(view)
    if data.isascii():
        return list(data)
    if data[-1] >= 0x80:
        raise ProtoError("a malformed varint")
    numbers = []
    for match in _VARINT.findall(data):
        if len(match) == 1:
            numbers.append(match[0])
            continue
        if len(match) > 10:
            raise ProtoError("a malformed varint")
        value = shift = 0
        for byte in match.translate(_LOW_BITS):
            value |= byte << shift
            shift += 7
        numbers.append(value)
    return numbers


def _varint(data: Any, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ProtoError("a malformed varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _count_ends(np: Any, view: Any, chunk: int) -> int:
    """How many varints a packed run holds (bytes below 0x80 end one), ``chunk`` bytes at a time."""
    data = np.frombuffer(view, dtype=np.uint8)
    return sum(int(np.count_nonzero(data[k:k + chunk] < 0x80)) for k in range(0, len(data), chunk))


def _varint_array(np: Any, parts: list[Any], chunk: int) -> Any:
    """The numbers of a typed payload (single varints and packed runs, in order) as one uint64 array, each
    run decoded by numpy ``chunk`` bytes at a time: one Python step per value made a 30 MB initializer take
    20 s."""
    pieces: list[Any] = []
    singles: list[int] = []
    for kind, view in parts:
        if kind == 0:
            singles.append(view & (2**64 - 1))
            continue
        if singles:
            pieces.append(np.array(singles, dtype="<u8"))
            singles = []
        data = np.frombuffer(view, dtype=np.uint8)
        start, size = 0, max(chunk, 10)  # any 10 bytes end a varint
        while start < len(data):
            stop = min(start + size, len(data))
            if stop < len(data):  # end the chunk after a varint's last byte
                ends = np.flatnonzero(data[start:stop] < 0x80)
                if not len(ends):
                    raise ValueError("a malformed varint (more than 10 bytes)")
                stop = start + int(ends[-1]) + 1
            pieces.append(_decode_varints(np, data[start:stop]))
            start = stop
    if singles:
        pieces.append(np.array(singles, dtype="<u8"))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype="<u8")


def _decode_varints(np: Any, data: Any) -> Any:
    """Whole varints (``data``, uint8) as uint64: each byte's 7 bits shifted to its place in its number."""
    last = data < 0x80
    if not last[-1]:
        raise ValueError("a malformed varint (the last one is cut)")
    if last.all():
        return data.astype("<u8")
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > 10:
        raise ValueError("a malformed varint (more than 10 bytes)")
    place = np.arange(len(data)) - np.repeat(starts, lengths)
    bits = (data & 0x7F).astype("<u8") << (7 * place).astype("<u8")  # bits past 64 fall off, as in protobuf
    return np.bitwise_or.reduceat(bits, starts)


def varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


#: a field as :meth:`Wire.fields` gives it: (number, wire type, value, field start, field end), the value a
#: varint's number or the (start, end) span of any other field's payload
Field = tuple[int, int, Any, int, int]


class Wire:
    """The fields of protobuf messages in ``data``, at most ``max_fields`` of them in all."""

    def __init__(self, data: bytes | memoryview, source: str, max_fields: int) -> None:
        self.data = memoryview(data).cast("B") if not isinstance(data, memoryview) else data.cast("B")
        self.source, self.max_fields = source, max_fields
        self.walked = 0
        #: the number at ``pos`` and the position after it (inside ``end``)
        self.varint: Callable[[int, int], tuple[int, int]] = partial(_varint, self.data)

    def copy(self, start: int, end: int) -> bytes:
        return bytes(self.data[start:end])

    def fields(self, start: int, end: int) -> Iterator[Field]:
        """Each field in [start, end), as :data:`Field`."""
        varint, pos = self.varint, start
        while pos < end:
            self.walked += 1
            if self.walked > self.max_fields:
                raise CnnCalcError(f"too many protobuf fields (more than {self.max_fields:,})", file=self.source)
            first = pos
            tag, pos = varint(pos, end)
            number, kind = tag >> 3, tag & 7
            if number == 0:
                raise ProtoError("field number 0")
            if kind == 0:
                value, pos = varint(pos, end)
                yield number, 0, value, first, pos
                continue
            if kind == 2:
                length, pos = varint(pos, end)
                stop = pos + length
            elif kind == 5:
                stop = pos + 4
            elif kind == 1:
                stop = pos + 8
            else:
                raise ProtoError(f"wire type {kind}")
            if stop > end:
                raise ProtoError("a field runs past its message")
            yield number, kind, (pos, stop), first, stop
            pos = stop


class _Wire(Wire):
    """The fields of the file ``fd`` (``size`` bytes): tags and lengths read through a 64 KiB window, a
    payload only when :meth:`copy` asks for it."""

    WINDOW = 65_536

    def __init__(self, fd: int, size: int, source: str, max_fields: int) -> None:
        import os

        self.fd, self.size, self.pread = fd, size, os.pread
        self.source, self.max_fields = source, max_fields
        self.walked = 0
        self.window_start, self.window = 0, b""
        self.varint = self.read_varint

    def copy(self, start: int, end: int) -> bytes:
        data = self.pread(self.fd, end - start, start)
        if len(data) != end - start:
            raise ProtoError("the file ends inside a field")
        return data

    def read_varint(self, offset: int, end: int) -> tuple[int, int]:
        local = offset - self.window_start
        if local < 0 or local + 10 > len(self.window) and self.window_start + len(self.window) < self.size:
            self.window_start, self.window = offset, self.pread(self.fd, self.WINDOW, offset)
            local = 0
        value, after = _varint(self.window, local, min(local + end - offset, len(self.window)))
        return value, offset + after - local
