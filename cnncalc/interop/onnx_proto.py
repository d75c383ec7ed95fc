"""ONNX's protobuf messages read in pure Python: the fields the importer uses, and nothing else.

Why not the ``onnx`` package: a summary of an ``.onnx`` file should cost about what a summary of a YAML spec
costs, and ``import onnx`` alone (protobuf and numpy) costs more than that whole command. This reader needs
neither; numpy is imported only when a constant's values are needed (weights for ``import``, a shape
tensor for a ``Reshape``). ``cnncalc import`` still runs ``onnx.checker`` on the model.

Untrusted input: every length is checked against its message, every field counted (at most
:data:`MAX_FIELDS` per model), strings must be UTF-8, and nothing recurses on the file's own nesting:
subgraphs (``GRAPH`` attributes), sparse tensors and non-tensor types are recorded as present, never
decoded. The field numbers are ``onnx.proto3``'s.

>>> model = decode_model(bytes.fromhex("3a080a060a0178120179"), "m.onnx")  # one node: x → y
>>> [(n.input, n.output) for n in model.graph.node]
[(['x'], ['y'])]
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from typing import Any

from ..errors import CnnCalcError

FUNCTION_DOMAIN = "cnncalc"  # the domain of cnncalc's model-local functions
MAX_FIELDS = 1_000_000  # protobuf fields decoded per model (ResNet-50 without weights: 4,311)

# AttributeProto.AttributeType
UNDEFINED, FLOAT, INT, STRING, TENSOR, GRAPH, FLOATS, INTS, STRINGS, TENSORS, GRAPHS = range(11)
SPARSE_TENSOR, SPARSE_TENSORS, TYPE_PROTO, TYPE_PROTOS = 11, 12, 13, 14
EXTERNAL = 1  # TensorProto.DataLocation

#: TensorProto.DataType → (numpy dtype of the stored values, the payload field used without raw_data)
DTYPES: dict[int, tuple[str, str]] = {
    1: ("<f4", "float_data"), 2: ("u1", "int32_data"), 3: ("i1", "int32_data"), 4: ("<u2", "int32_data"),
    5: ("<i2", "int32_data"), 6: ("<i4", "int32_data"), 7: ("<i8", "int64_data"), 9: ("?", "int32_data"),
    10: ("<f2", "int32_data"), 11: ("<f8", "double_data"), 12: ("<u4", "uint64_data"), 13: ("<u8", "uint64_data"),
    16: ("bfloat16", "int32_data"),
}
_PAYLOAD_FIELDS = {4: "float_data", 5: "int32_data", 7: "int64_data", 10: "double_data", 11: "uint64_data"}
_LITTLE = sys.byteorder == "little"


class ProtoError(CnnCalcError):
    pass


@dataclass
class TensorData:
    """A TensorProto: its shape, type and where its values are (decoded only by :meth:`to_numpy`)."""

    name: str = ""
    dims: list[int] = field(default_factory=list)
    data_type: int = 0
    data_location: int = 0
    external_data: list[str] = field(default_factory=list)
    payloads: dict[str, list[Any]] = field(default_factory=dict)  # field name → [(kind, bytes view)]
    raw_data: memoryview | None = None
    strings: bool = False
    segment: bool = False

    @property
    def count(self) -> int:
        total = 1
        for d in self.dims:
            total *= d
        return total

    def to_numpy(self) -> Any:
        """The values as a numpy array of shape ``dims`` (a copy, never a view of the file's bytes)."""
        import numpy as np

        if self.strings or self.segment:
            raise ValueError("string and segmented tensors are not supported")
        if self.data_type not in DTYPES:
            raise ValueError(f"data type {self.data_type} is not supported")
        stored, payload = DTYPES[self.data_type]
        bfloat = stored == "bfloat16"
        dtype = np.dtype("<u2" if bfloat else stored)
        count = self.count
        if self.raw_data is not None:
            if len(self.raw_data) != count * dtype.itemsize:
                raise ValueError(f"raw_data has {len(self.raw_data)} bytes for {count} values of {dtype.itemsize}")
            values = np.frombuffer(self.raw_data, dtype=dtype).copy()
        else:
            try:
                values = _payload(np, self.payloads.get(payload, []), payload, count, dtype)
            except ProtoError as error:
                raise ValueError(f"{payload}: {error.message}") from None
        if bfloat:
            values = (values.astype("<u4") << 16).view("<f4")
        return values.astype(values.dtype.newbyteorder("="), copy=False).reshape(self.dims)


def _payload(np: Any, parts: list[Any], payload: str, count: int, dtype: Any) -> Any:
    if payload in ("float_data", "double_data"):
        width = 4 if payload == "float_data" else 8
        data = b"".join(bytes(view) for _, view in parts)
        if len(data) != count * width:
            raise ValueError(f"{payload} holds {len(data) // width} values for {count}")
        return np.frombuffer(data, dtype="<f4" if width == 4 else "<f8").astype(dtype)
    numbers: list[int] = []
    for kind, view in parts:
        if kind == 0:
            numbers.append(view)
        else:
            numbers.extend(_varints(view))
    if len(numbers) != count:
        raise ValueError(f"{payload} holds {len(numbers)} values for {count}")
    if payload == "int64_data":
        return np.array([_signed64(v) for v in numbers], dtype="<i8").astype(dtype)
    if payload == "uint64_data":
        return np.array([v & (2**64 - 1) for v in numbers], dtype="<u8").astype(dtype)
    # int32_data holds the smaller types, float16's and bfloat16's bits included
    signed = [_signed64(v) for v in numbers]
    if np.dtype(dtype).kind == "b":
        return np.array(signed, dtype="<i8").astype(dtype)
    if np.dtype(dtype).kind == "f":  # float16's bits
        return np.array([v & 0xFFFF for v in signed], dtype="<u2").view(dtype)
    info = np.iinfo(dtype)
    if any(v < info.min or v > info.max for v in signed):
        raise ValueError(f"int32_data holds a value outside {np.dtype(dtype).name}")
    return np.array(signed, dtype=dtype)


def _signed64(value: int) -> int:
    value &= 2**64 - 1
    return value - 2**64 if value >= 2**63 else value


def _varints(view: memoryview) -> list[int]:
    out, pos, end = [], 0, len(view)
    while pos < end:
        value, pos = _varint(view, pos, end)
        out.append(value)
    return out


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


@dataclass
class Attribute:
    name: str = ""
    type: int = UNDEFINED
    ref_attr_name: str = ""
    f: float = 0.0
    i: int = 0
    s: bytes = b""
    t: TensorData | None = None
    floats: list[float] = field(default_factory=list)
    ints: list[int] = field(default_factory=list)
    strings: list[bytes] = field(default_factory=list)
    tensors: list[TensorData] = field(default_factory=list)

    def value(self) -> Any:
        """As ``onnx.helper.get_attribute_value`` gives it (a tensor as :class:`TensorData`)."""
        return {FLOAT: self.f, INT: self.i, STRING: self.s, TENSOR: self.t, FLOATS: self.floats, INTS: self.ints,
                STRINGS: self.strings, TENSORS: self.tensors}.get(self.type)


@dataclass
class Node:
    input: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    name: str = ""
    op_type: str = ""
    domain: str = ""
    attribute: list[Attribute] = field(default_factory=list)
    doc_string: str = ""


@dataclass
class ValueInfo:
    name: str = ""
    tensor: bool = False  # a tensor type (not a sequence, map, optional or sparse tensor)
    has_shape: bool = False
    dims: list[tuple[int | None, str]] = field(default_factory=list)  # (dim_value or None, dim_param)


@dataclass
class Graph:
    name: str = ""
    node: list[Node] = field(default_factory=list)
    initializer: list[TensorData] = field(default_factory=list)
    input: list[ValueInfo] = field(default_factory=list)
    output: list[ValueInfo] = field(default_factory=list)
    sparse_initializer: int = 0


@dataclass
class Model:
    ir_version: int = 0
    producer_name: str = ""
    graph: Graph | None = None
    opset_import: list[tuple[str, int]] = field(default_factory=list)
    functions: list[tuple[str, str]] = field(default_factory=list)  # (domain, name)


class _Reader:
    def __init__(self, data: bytes | memoryview, source: str) -> None:
        self.data = memoryview(data).cast("B") if not isinstance(data, memoryview) else data.cast("B")
        self.source = source
        self.walked = 0

    def fields(self, start: int, end: int) -> Any:
        """(number, wire type, value): an int for varints, a (start, stop) span for everything else."""
        data, pos = self.data, start
        while pos < end:
            self.walked += 1
            if self.walked > MAX_FIELDS:
                raise CnnCalcError(f"too many protobuf fields (more than {MAX_FIELDS:,})", file=self.source)
            tag, pos = _varint(data, pos, end)
            number, kind = tag >> 3, tag & 7
            if number == 0:
                raise ProtoError("field number 0")
            if kind == 0:
                value, pos = _varint(data, pos, end)
                yield number, 0, value
                continue
            if kind == 2:
                length, pos = _varint(data, pos, end)
                stop = pos + length
            elif kind == 5:
                stop = pos + 4
            elif kind == 1:
                stop = pos + 8
            else:
                raise ProtoError(f"wire type {kind}")
            if stop > end:
                raise ProtoError("a field runs past its message")
            yield number, kind, (pos, stop)
            pos = stop

    def text(self, span: Any) -> str:
        if not isinstance(span, tuple):
            raise ProtoError("a string field of the wrong wire type")
        try:
            return str(self.data[span[0]:span[1]], "utf-8")
        except UnicodeDecodeError:
            raise ProtoError("a string that is not UTF-8") from None

    def blob(self, span: Any) -> bytes:
        if not isinstance(span, tuple):
            raise ProtoError("a bytes field of the wrong wire type")
        return bytes(self.data[span[0]:span[1]])

    def span(self, span: Any) -> tuple[int, int]:
        if not isinstance(span, tuple):
            raise ProtoError("a message field of the wrong wire type")
        return span

    def ints(self, kind: int, value: Any) -> list[int]:
        if kind == 0:
            return [value]
        if kind != 2:
            raise ProtoError("an integer field of the wrong wire type")
        return _varints(self.data[value[0]:value[1]])

    def model(self) -> Model:
        model = Model()
        for number, kind, value in self.fields(0, len(self.data)):
            if number == 1 and kind == 0:
                model.ir_version = value
            elif number == 2:
                model.producer_name = self.text(value)
            elif number == 7:
                model.graph = self.graph(*self.span(value))
            elif number == 8:
                domain, version = "", 0
                for n, k, v in self.fields(*self.span(value)):
                    if n == 1:
                        domain = self.text(v)
                    elif n == 2 and k == 0:
                        version = v
                model.opset_import.append((domain, version))
            elif number == 25:
                name = domain = ""
                for n, _, v in self.fields(*self.span(value)):
                    if n == 1:
                        name = self.text(v)
                    elif n == 10:
                        domain = self.text(v)
                model.functions.append((domain, name))
        return model

    def graph(self, start: int, end: int) -> Graph:
        graph = Graph()
        for number, _, value in self.fields(start, end):
            if number == 1:
                graph.node.append(self.node(*self.span(value)))
            elif number == 2:
                graph.name = self.text(value)
            elif number == 5:
                graph.initializer.append(self.tensor(*self.span(value)))
            elif number == 11:
                graph.input.append(self.value_info(*self.span(value)))
            elif number == 12:
                graph.output.append(self.value_info(*self.span(value)))
            elif number == 15:
                graph.sparse_initializer += 1
        return graph

    def node(self, start: int, end: int) -> Node:
        node = Node()
        for number, _, value in self.fields(start, end):
            if number == 1:
                node.input.append(self.text(value))
            elif number == 2:
                node.output.append(self.text(value))
            elif number == 3:
                node.name = self.text(value)
            elif number == 4:
                node.op_type = self.text(value)
            elif number == 7:
                node.domain = self.text(value)
            elif number == 5:
                node.attribute.append(self.attribute(*self.span(value)))
            elif number == 6:
                node.doc_string = self.text(value)
        return node

    def attribute(self, start: int, end: int) -> Attribute:
        a = Attribute()
        for number, kind, value in self.fields(start, end):
            if number == 1:
                a.name = self.text(value)
            elif number == 20 and kind == 0:
                a.type = value
            elif number == 21:
                a.ref_attr_name = self.text(value)
            elif number == 2 and kind == 5:
                a.f = struct.unpack_from("<f", self.data, value[0])[0]
            elif number == 3:
                numbers = self.ints(kind, value)
                a.i = _signed64(numbers[-1]) if numbers else 0  # the last one counts, as in protobuf
            elif number == 4:
                a.s = self.blob(value)
            elif number == 5:
                a.t = self.tensor(*self.span(value))
            elif number == 7:
                a.floats.extend(self.floats(kind, value))
            elif number == 8:
                a.ints.extend(_signed64(v) for v in self.ints(kind, value))
            elif number == 9:
                a.strings.append(self.blob(value))
            elif number == 10:
                a.tensors.append(self.tensor(*self.span(value)))
        return a

    def floats(self, kind: int, value: Any) -> list[float]:
        if kind not in (2, 5):  # a varint's value is a number, not a span
            raise ProtoError("a float field of the wrong wire type")
        start, stop = value
        if (stop - start) % 4:
            raise ProtoError("a float field of the wrong wire type")
        return list(struct.unpack_from(f"<{(stop - start) // 4}f", self.data, start))

    def tensor(self, start: int, end: int) -> TensorData:
        t = TensorData()
        for number, kind, value in self.fields(start, end):
            if number == 1:
                t.dims.extend(_signed64(v) for v in self.ints(kind, value))
            elif number == 2 and kind == 0:
                t.data_type = value
            elif number == 8:
                t.name = self.text(value)
            elif number == 9:
                t.raw_data = self.data[slice(*self.span(value))]
            elif number in _PAYLOAD_FIELDS:
                view = value if kind == 0 else self.data[value[0]:value[1]]
                t.payloads.setdefault(_PAYLOAD_FIELDS[number], []).append((kind if kind == 0 else 2, view))
            elif number == 6:
                t.strings = True
            elif number == 3:
                t.segment = True
            elif number == 13:
                t.external_data.append("entry")
            elif number == 14 and kind == 0:
                t.data_location = value
        return t

    def value_info(self, start: int, end: int) -> ValueInfo:
        info = ValueInfo()
        for number, _, value in self.fields(start, end):
            if number == 1:
                info.name = self.text(value)
            elif number == 2:  # TypeProto: only tensor_type (1) is read
                for n, _, v in self.fields(*self.span(value)):
                    if n == 1:
                        info.tensor = True
                        self.tensor_type(info, *self.span(v))
        return info

    def tensor_type(self, info: ValueInfo, start: int, end: int) -> None:
        for number, _, value in self.fields(start, end):
            if number != 2:
                continue
            info.has_shape = True
            for n, _, v in self.fields(*self.span(value)):
                if n != 1:
                    continue
                dim_value: int | None = None
                dim_param = ""
                for dn, dk, dv in self.fields(*self.span(v)):
                    if dn == 1 and dk == 0:
                        dim_value = _signed64(dv)
                    elif dn == 2:
                        dim_param = self.text(dv)
                info.dims.append((dim_value, dim_param))


def decode_model(data: bytes | memoryview, source: str) -> Model:
    """A ModelProto's bytes as a :class:`Model`; a malformed file is one error line."""
    try:
        model = _Reader(data, source).model()
    except ProtoError as error:
        raise CnnCalcError(f"not a readable ONNX model (truncated, corrupt or nested too deeply): {error.message}",
                           file=source) from None
    if model.graph is None or not model.graph.node:
        raise CnnCalcError("not an ONNX model: no graph with nodes", file=source)
    return model
