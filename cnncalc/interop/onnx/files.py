"""An ``.onnx`` file read under a size cap: whole (one buffer), or light, without the large tensor payloads,
walked through ``pread`` so that a summary never reads the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import CnnCalcError
from . import proto  # its caps are read when used (tests lower them)
from .proto import element_count

MAX_ONNX_BYTES = 1024**3  # VGG-16 in float32 is 553 MB


#: without weights (a summary), initializers up to this many elements are still read: shapes, pads, scales
SMALL_TENSOR = 4096


# ---------------------------------------------------------------- reading without the weights

#: tensor payload fields (float_data, int32_data, string_data, int64_data, raw_data, double_data, uint64_data)
_PAYLOADS = {4, 5, 6, 7, 9, 10, 11}


#: protobuf fields walked by :func:`read_light` (ResNet-50 has about 1,300; a model at the node cap, a few
#: hundred thousand)
MAX_WIRE_FIELDS = 1_000_000


class _Wire:
    """Protobuf's wire format read from a file with ``pread``: tags and lengths through a 64 KiB window,
    payloads only when asked for."""

    WINDOW = 65_536

    def __init__(self, fd: int, size: int, source: str) -> None:
        import os

        self.fd, self.size, self.source, self.pread = fd, size, source, os.pread
        self.window_start, self.window = 0, b""
        self.walked = 0

    def bad(self, what: str) -> CnnCalcError:
        return CnnCalcError(f"not a readable ONNX model (truncated, corrupt or nested too deeply): {what}",
                            file=self.source)

    def copy(self, start: int, end: int) -> bytes:
        data = self.pread(self.fd, end - start, start)
        if len(data) != end - start:
            raise self.bad("the file ends inside a field")
        return data

    def varint(self, offset: int, end: int) -> tuple[int, int]:
        local = offset - self.window_start
        if local < 0 or local + 10 > len(self.window) and self.window_start + len(self.window) < self.size:
            self.window_start, self.window = offset, self.pread(self.fd, self.WINDOW, offset)
            local = 0
        value = 0
        for k in range(min(10, end - offset)):
            if local + k >= len(self.window):
                break
            byte = self.window[local + k]
            value |= (byte & 0x7F) << (7 * k)
            if byte < 0x80:
                return value, offset + k + 1
        raise self.bad("a malformed varint")

    def fields(self, start: int, end: int) -> Any:
        """(field number, wire type, field start, payload start, payload end) of each field in [start, end)."""
        offset = start
        while offset < end:
            self.walked += 1
            if self.walked > MAX_WIRE_FIELDS:
                raise CnnCalcError(f"too many protobuf fields (more than {MAX_WIRE_FIELDS:,})", file=self.source)
            tag, after = self.varint(offset, end)
            number, kind = tag >> 3, tag & 7
            if number == 0:
                raise self.bad("field number 0")
            if kind == 0:
                _, stop = self.varint(after, end)
                body = after
            elif kind == 1:
                body, stop = after, after + 8
            elif kind == 5:
                body, stop = after, after + 4
            elif kind == 2:
                length, body = self.varint(after, end)
                stop = body + length
            else:
                raise self.bad(f"wire type {kind}")
            if stop > end:
                raise self.bad("a field runs past its message")
            yield number, kind, offset, body, stop
            offset = stop


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class _Ranges:
    """Byte ranges of the file to keep, merged when adjacent (one ``pread`` for a run of nodes)."""

    def __init__(self, wire: _Wire) -> None:
        self.wire, self.parts, self.start, self.end = wire, [], -1, -1

    def keep(self, start: int, end: int) -> None:
        if start == self.end:
            self.end = end
            return
        self.flush()
        self.start, self.end = start, end

    def add(self, data: bytes) -> None:
        self.flush()
        self.parts.append(data)

    def flush(self) -> None:
        if self.end > self.start >= 0:
            self.parts.append(self.wire.copy(self.start, self.end))
        self.start = self.end = -1

    def bytes(self) -> bytes:
        self.flush()
        return b"".join(self.parts)


def _light_tensor(wire: _Wire, body: int, stop: int) -> bytes:
    """An initializer (graph field 5) without its values when it has more than :data:`SMALL_TENSOR`
    elements (counted from its dims, as the importer counts them: it reads only those tensors' shapes).
    More than :data:`~.onnx_proto.MAX_DIMS` dims are refused as they are met: 200,000 dims of 2^62
    multiplied here hung the summary."""
    fields = list(wire.fields(body, stop))
    name = next((wire.copy(b, min(e, b + 200)).decode("utf-8", "replace") for n, k, _, b, e in fields
                 if n == 8 and k == 2), "")
    dims: list[int] = []
    for number, kind, _, field_body, end in fields:
        if number != 1:
            continue
        fewest = 1 if kind == 0 else -(-(end - field_body) // 10)
        if len(dims) + fewest > proto.MAX_DIMS:  # a packed field's length alone tells: it is never read
            raise CnnCalcError(f"initializer '{name}' has at least {len(dims) + fewest:,} dims (at most "
                               f"{proto.MAX_DIMS})", file=wire.source)
        offset = field_body
        while offset < end:
            value, offset = wire.varint(offset, end)
            dims.append(value)
        if len(dims) > proto.MAX_DIMS:
            raise CnnCalcError(f"initializer '{name}' has {len(dims):,} dims (at most {proto.MAX_DIMS})",
                               file=wire.source)
    count = element_count(d if d < 2**63 else 0 for d in dims)  # a negative dim is the decoder's to refuse
    ranges = _Ranges(wire)
    for number, _, start, _, end in fields:
        if not (number in _PAYLOADS and (count is None or count > SMALL_TENSOR)):
            ranges.keep(start, end)
    content = ranges.bytes()
    return b"\x2a" + _varint_bytes(len(content)) + content


def _check_light_node(wire: _Wire, body: int, stop: int) -> None:
    """Refuse a node with an attribute that holds more numbers than the decoder takes, as far as a packed
    field's length tells, before its bytes are read: a 1 GB ``strides`` was read whole, then decoded one
    number at a time. (The decoder counts exactly; this bounds what is read for it.)"""
    name = op_type = "?"
    for number, kind, _, field_body, end in wire.fields(body, stop):
        if number in (3, 4) and kind == 2:
            text = wire.copy(field_body, min(end, field_body + 200)).decode("utf-8", "replace")
            name, op_type = (text, op_type) if number == 3 else (name, text)
        if number != 5 or kind != 2:
            continue
        attribute = "?"
        for a_number, a_kind, _, a_body, a_end in wire.fields(field_body, end):
            if a_number == 1 and a_kind == 2:
                attribute = wire.copy(a_body, min(a_end, a_body + 200)).decode("utf-8", "replace")
            if a_kind != 2 or a_number not in (7, 8):  # packed floats, packed ints
                continue
            fewest = (a_end - a_body) // 4 if a_number == 7 else -(-(a_end - a_body) // 10)
            if fewest > proto.MAX_ATTRIBUTE_VALUES:
                raise CnnCalcError(f"node '{name}' ({op_type}): attribute '{attribute}' has at least {fewest:,} "
                                   f"values (at most {proto.MAX_ATTRIBUTE_VALUES:,} in one attribute)",
                                   file=wire.source)


def read_light(path: str | Path, cap: int = MAX_ONNX_BYTES) -> bytes:
    """The model's bytes without large tensor payloads (the initializers' values), read through ``pread``
    instead of the whole file: a summary needs every node and every shape, not the weights. Same refusals
    as :func:`~cnncalc.spec.safeload.read_limited` (regular files only, never waiting on a FIFO, at most
    ``cap`` bytes)."""
    import os

    from ...spec.safeload import open_regular

    source = str(path)
    fd, size = open_regular(path, cap, "model")
    try:
        wire = _Wire(fd, size, source)
        model = _Ranges(wire)
        for number, kind, start, body, stop in wire.fields(0, size):
            if number != 7 or kind != 2:  # everything but the graph, as it is
                model.keep(start, stop)
                continue
            graph = _Ranges(wire)
            for g_number, g_kind, g_start, g_body, g_stop in wire.fields(body, stop):
                if g_number == 5 and g_kind == 2:  # an initializer: its header, and its payload when small
                    graph.add(_light_tensor(wire, g_body, g_stop))
                    continue
                if g_number == 1 and g_kind == 2 and g_stop - g_body > 4 * proto.MAX_ATTRIBUTE_VALUES:
                    _check_light_node(wire, g_body, g_stop)  # only a node this long can hold so many values
                graph.keep(g_start, g_stop)
            content = graph.bytes()
            model.add(b"\x3a" + _varint_bytes(len(content)) + content)
        return model.bytes()
    except OSError as error:
        raise CnnCalcError(f"cannot read the model: {error.strerror}", file=source) from None
    finally:
        os.close(fd)


def read_whole(path: str | Path, cap: int = MAX_ONNX_BYTES) -> memoryview:
    """The model's bytes in one buffer of the file's size, with :func:`read_light`'s refusals: reading in
    chunks and joining them held a 1 GB file twice."""
    import os

    from ...spec.safeload import open_regular

    source = str(path)
    fd, size = open_regular(path, cap, "model")
    try:
        buffer = memoryview(bytearray(size + 1))  # one byte more: a file that grew since fstat shows it
        filled = 0
        while filled < len(buffer):
            count = os.readv(fd, [buffer[filled:]])
            if not count:
                break
            filled += count
    except OSError as error:
        raise CnnCalcError(f"cannot read the model: {error.strerror}", file=source) from None
    finally:
        os.close(fd)
    if filled != size:
        raise CnnCalcError(f"the model changed while it was read ({size:,} bytes, then {filled:,})", file=source)
    return buffer[:filled]
