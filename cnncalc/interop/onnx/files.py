"""An ``.onnx`` file read under a size cap: whole (one buffer), or light, without the large tensor payloads,
its fields walked in the file itself (:class:`~.wire._Wire`) so that a summary never reads the weights.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import CnnCalcError
from . import proto  # its caps are read when used (tests lower them)
from .proto import element_count
from .wire import ProtoError, _varints, _Wire, unreadable, varint_bounds, varint_bytes

MAX_ONNX_BYTES = 2 * 1024**3  # protobuf's own limit on one message (VGG-16 in float32 is 553 MB, ViT-L/16 1.2 GB)
#: without weights (a summary), initializers up to this many elements are still read: shapes, pads, scales
SMALL_TENSOR = 4096
#: tensor payload fields (float_data, int32_data, string_data, int64_data, raw_data, double_data, uint64_data)
_PAYLOADS = {4, 5, 6, 7, 9, 10, 11}
#: protobuf fields walked by :func:`read_light` (ResNet-50 has about 1,300; a model at the node cap, a few
#: hundred thousand)
MAX_WIRE_FIELDS = 1_000_000


class _Ranges:
    """Byte ranges of the file to keep, merged when adjacent (one ``pread`` for a run of nodes)."""

    def __init__(self, wire: _Wire) -> None:
        self.wire, self.start, self.end = wire, -1, -1
        self.parts: list[bytes] = []

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
    name = next((wire.copy(v[0], min(v[1], v[0] + 200)).decode("utf-8", "replace") for n, k, v, _, _ in fields
                 if n == 8 and k == 2), "")
    dims: list[int] = []
    for number, kind, value, _, _ in fields:
        if number != 1:
            continue
        fewest = 1 if kind == 0 else varint_bounds(value[1] - value[0])
        if len(dims) + fewest > proto.MAX_DIMS:  # a packed field's length alone tells: it is never read
            raise CnnCalcError(f"initializer '{name}' has at least {len(dims) + fewest:,} dims (at most "
                               f"{proto.MAX_DIMS})", file=wire.source)
        dims.extend([value] if kind == 0 else _varints(wire.copy(*value)))
        if len(dims) > proto.MAX_DIMS:
            raise CnnCalcError(f"initializer '{name}' has {len(dims):,} dims (at most {proto.MAX_DIMS})",
                               file=wire.source)
    count = element_count(d if d < 2**63 else 0 for d in dims)  # a negative dim is the decoder's to refuse
    ranges = _Ranges(wire)
    for number, _, _, start, end in fields:
        if not (number in _PAYLOADS and (count is None or count > SMALL_TENSOR)):
            ranges.keep(start, end)
    content = ranges.bytes()
    return b"\x2a" + varint_bytes(len(content)) + content


def _check_light_node(wire: _Wire, body: int, stop: int) -> None:
    """Refuse a node with an attribute that holds more numbers than the decoder takes, as far as a packed
    field's length tells, before its bytes are read: a 1 GB ``strides`` was read whole, then decoded one
    number at a time. (The decoder counts exactly; this bounds what is read for it.)"""
    name = op_type = "?"
    for number, kind, value, _, _ in wire.fields(body, stop):
        if number in (3, 4) and kind == 2:
            text = wire.copy(value[0], min(value[1], value[0] + 200)).decode("utf-8", "replace")
            name, op_type = (text, op_type) if number == 3 else (name, text)
        if number != 5 or kind != 2:
            continue
        attribute = "?"
        for a_number, a_kind, a_value, _, _ in wire.fields(*value):
            if a_kind != 2:  # a varint's value is a number, not a span
                continue
            a_body, a_end = a_value
            if a_number == 1:
                attribute = wire.copy(a_body, min(a_end, a_body + 200)).decode("utf-8", "replace")
            if a_number not in (7, 8):  # packed floats, packed ints
                continue
            fewest = (a_end - a_body) // 4 if a_number == 7 else varint_bounds(a_end - a_body)
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
        wire = _Wire(fd, size, source, MAX_WIRE_FIELDS)
        model = _Ranges(wire)
        for number, kind, value, start, stop in wire.fields(0, size):
            if number != 7 or kind != 2:  # everything but the graph, as it is
                model.keep(start, stop)
                continue
            graph = _Ranges(wire)
            for g_number, g_kind, g_value, g_start, g_stop in wire.fields(*value):
                if g_number == 5 and g_kind == 2:  # an initializer: its header, and its payload when small
                    graph.add(_light_tensor(wire, *g_value))
                    continue
                if g_number == 1 and g_kind == 2 and g_value[1] - g_value[0] > 4 * proto.MAX_ATTRIBUTE_VALUES:
                    _check_light_node(wire, *g_value)  # only a node this long can hold so many values
                graph.keep(g_start, g_stop)
            content = graph.bytes()
            model.add(b"\x3a" + varint_bytes(len(content)) + content)
        return model.bytes()
    except ProtoError as error:
        raise unreadable(error.message, source) from None
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


# ---------------------------------------------------------------- external data

#: the external-data keys a tensor may have (``checksum`` is not checked: the length is)
_EXTERNAL_KEYS = {"location", "offset", "length", "checksum", "basepath"}


def external_place(entries: list[tuple[str, str]], folder: Path | None, name: str, source: str) -> tuple[Path, int, int | None]:
    """(file, offset, length or None) of a tensor's external data, refused unless the file is a relative path
    inside the model's folder (no absolute path, no ``..``, no link leading out of it)."""
    if folder is None:
        raise CnnCalcError(f"initializer '{name}' references external data, which is read only beside a model "
                           "file", file=source, hint="import the .onnx file, with its data file beside it")
    values = dict(entries)
    unknown = sorted(set(values) - _EXTERNAL_KEYS)
    if unknown:
        raise CnnCalcError(f"initializer '{name}' has an unknown external-data key", file=source, got=unknown[0][:50],
                           expected="location, offset, length, checksum")
    location = values.get("location", "")
    relative = Path(location)
    if not location or "\x00" in location or relative.is_absolute() or ".." in relative.parts \
            or location.startswith(("/", "\\")) or "\\" in location:
        raise CnnCalcError(f"initializer '{name}' keeps its data in a file outside the model's folder",
                           file=source, got=location[:200], expected="a file name relative to the model's folder")
    root = folder.resolve()
    path = (root / relative).resolve()
    if path == root or root not in path.parents:  # a link leading out of the folder
        raise CnnCalcError(f"initializer '{name}' keeps its data in a file outside the model's folder",
                           file=source, got=location[:200], expected="a file inside the model's folder")
    numbers = []
    for key in ("offset", "length"):
        text = values.get(key)
        if text is not None and not (text.isascii() and text.isdigit() and len(text) < 19):
            raise CnnCalcError(f"initializer '{name}' has external-data {key} {text[:30]!r}", file=source,
                               expected="a non-negative integer")
        numbers.append(None if text is None else int(text))
    return path, numbers[0] or 0, numbers[1]


def read_external(entries: list[tuple[str, str]], folder: Path | None, name: str, source: str, size: int) -> bytes:
    """The ``size`` bytes of a tensor's external data (its declared length must be that size)."""
    import os

    from ...spec.safeload import open_regular

    path, offset, length = external_place(entries, folder, name, source)
    if length is not None and length != size:
        raise CnnCalcError(f"initializer '{name}' declares {length:,} bytes of external data for {size:,}",
                           file=source)
    fd, total = open_regular(path, None, "external data")
    try:
        if offset + size > total:
            raise CnnCalcError(f"initializer '{name}': its external data ends past the end of {path.name} "
                               f"({offset + size:,} of {total:,} bytes)", file=source)
        data = os.pread(fd, size, offset) if size else b""
    except OSError as error:
        raise CnnCalcError(f"cannot read the external data of initializer '{name}': {error.strerror}",
                           file=source) from None
    finally:
        os.close(fd)
    if len(data) != size:
        raise CnnCalcError(f"initializer '{name}': the data file changed while it was read", file=source)
    return data
