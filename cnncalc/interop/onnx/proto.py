"""ONNX's protobuf messages read in pure Python: the fields the importer uses, and nothing else.

Why not the ``onnx`` package: a summary of an ``.onnx`` file should cost about what a summary of a YAML spec
costs, and ``import onnx`` alone (protobuf and numpy) costs more than that whole command. This reader needs
neither; numpy is imported only when a constant's values are needed (weights for ``import``, a shape
tensor for a ``Reshape``). ``cnncalc import`` still runs ``onnx.checker`` on the model.

Untrusted input: every length is checked against its message, every field counted (at most
:data:`MAX_FIELDS` per model), strings must be UTF-8, and nothing recurses on the file's own nesting:
subgraphs (``GRAPH`` attributes), sparse tensors and non-tensor types are recorded as present, never
decoded. Repeated numbers are counted before any is decoded (a packed field's length bounds its count), then
decoded in bulk: dims per tensor (:data:`MAX_DIMS`), numbers per attribute and in all attributes
(:data:`MAX_ATTRIBUTE_VALUES`, :data:`MAX_ATTRIBUTE_TOTAL`), and elements declared by all tensors together
(:data:`MAX_MODEL_ELEMENTS`, a product that stops growing once past the cap). A tensor's values stay in the
file's bytes until :meth:`TensorData.to_numpy`. The field numbers are ``onnx.proto3``'s; the wire format is
read by :mod:`.wire` (the summary's file reader in :mod:`.files` reads it the same way).

>>> model = decode_model(bytes.fromhex("3a080a060a0178120179"), "m.onnx")  # one node: x → y
>>> [(n.input, n.output) for n in model.graph.node]
[(['x'], ['y'])]
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...errors import CnnCalcError
from .messages import Attribute, Graph, Model, Node, ValueInfo
from .wire import (
    ProtoError,
    Wire,
    _count_ends,
    _signed64,
    _varint_array,
    _varints,
    count_varints,
    unreadable,
    varint_bounds,
)

FUNCTION_DOMAIN = "cnncalc"  # the domain of cnncalc's model-local functions
MAX_FIELDS = 1_000_000  # protobuf fields decoded per model (ResNet-50 without weights: 4,311)
MAX_DIMS = 64  # dims of one tensor or one graph input (real tensors have at most 8)
#: numbers, strings or tensors in one attribute, and in all of a model's attributes: real attributes hold a
#: few (kernel_shape, pads, perm); big constants are tensors. A multi-byte varint costs ~2 µs in Python, so the
#: total bounds the decoding at a few seconds even if every number is 10 bytes long
MAX_ATTRIBUTE_VALUES = 100_000
MAX_ATTRIBUTE_TOTAL = 2_000_000
#: elements declared by all the initializers and constant tensors together: 2^28 float32 fill the 1 GiB file
#: cap, and int8 or float16 models under it have at most 2^30 bytes of values
MAX_MODEL_ELEMENTS = 2**30
#: the product of dims is exact up to here, and is reported as "more than" beyond (never a huge int)
COUNT_LIMIT = 2**63
#: bytes of packed varints decoded per numpy pass (its working arrays take ~25 bytes per input byte)
VARINT_CHUNK = 1 << 22

EXTERNAL = 1  # TensorProto.DataLocation

#: TensorProto.DataType → (numpy dtype of the stored values, the payload field used without raw_data)
DTYPES: dict[int, tuple[str, str]] = {
    1: ("<f4", "float_data"), 2: ("u1", "int32_data"), 3: ("i1", "int32_data"), 4: ("<u2", "int32_data"),
    5: ("<i2", "int32_data"), 6: ("<i4", "int32_data"), 7: ("<i8", "int64_data"), 9: ("?", "int32_data"),
    10: ("<f2", "int32_data"), 11: ("<f8", "double_data"), 12: ("<u4", "uint64_data"), 13: ("<u8", "uint64_data"),
    16: ("bfloat16", "int32_data"),
}
_PAYLOAD_FIELDS = {4: "float_data", 5: "int32_data", 7: "int64_data", 10: "double_data", 11: "uint64_data"}


#: a subgraph attribute read (an If's branch, which a pattern may look into) is at most this many bytes;
#: a larger one is skipped, as every nested subgraph is
MAX_SUBGRAPH_BYTES = 64 * 1024


@dataclass
class TensorData:
    """A TensorProto: its shape, type and where its values are (decoded only by :meth:`to_numpy`)."""

    name: str = ""
    dims: list[int] = field(default_factory=list)
    data_type: int = 0
    data_location: int = 0
    external_data: list[tuple[str, str]] = field(default_factory=list)  # (key, value): location, offset, length
    payloads: dict[str, list[Any]] = field(default_factory=dict)  # field name → [(kind, bytes view)]
    raw_data: memoryview | None = None
    strings: bool = False
    segment: bool = False

    @property
    def count(self) -> int:
        """Declared elements (``COUNT_LIMIT + 1`` for a product past it, which no check lets through)."""
        count = element_count(self.dims)
        return COUNT_LIMIT + 1 if count is None else count

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
        size = sum(len(view) for _, view in parts)
        if size != count * width:
            raise ValueError(f"{payload} holds {size // width} values for {count}")
        data = b"".join(bytes(view) for _, view in parts)
        return np.frombuffer(data, dtype="<f4" if width == 4 else "<f8").astype(dtype)
    held = sum(1 if kind == 0 else _count_ends(np, view, VARINT_CHUNK) for kind, view in parts)
    if held != count:  # counted before anything is decoded
        raise ValueError(f"{payload} holds {held} values for {count}")
    numbers = _varint_array(np, parts, VARINT_CHUNK)
    if payload == "uint64_data":
        return numbers.astype(dtype)
    signed = numbers.view("<i8")  # protobuf writes a negative int32 or int64 as its 64-bit two's complement
    if payload == "int64_data":
        return signed.astype(dtype)
    # int32_data holds the smaller types, float16's and bfloat16's bits included
    if np.dtype(dtype).kind == "b":
        return signed.astype(dtype)
    if np.dtype(dtype).kind == "f":  # float16's bits
        return (signed & 0xFFFF).astype("<u2").view(dtype)
    info = np.iinfo(dtype)
    if len(signed) and (signed.min() < info.min or signed.max() > info.max):
        raise ValueError(f"int32_data holds a value outside {np.dtype(dtype).name}")
    return signed.astype(dtype)


def element_count(dims: Iterable[int]) -> int | None:
    """The product of ``dims`` (none negative), or None once it passes :data:`COUNT_LIMIT`: 200,000 dims of
    2^62 would otherwise make a 12-million-digit integer.

    >>> element_count([3, 4]), element_count([2**62, 2**62]), element_count([2**62, 2**62, 0])
    (12, None, 0)
    """
    dims = list(dims)
    if 0 in dims:
        return 0
    total = 1
    for d in dims:
        total *= d
        if total > COUNT_LIMIT:
            return None
    return total


def describe_count(count: int | None) -> str:
    return f"more than {COUNT_LIMIT:,}" if count is None else f"{count:,}"


class _Reader(Wire):
    """The decoder: ONNX's messages from the fields :class:`~.wire.Wire` walks, counted against the caps."""

    def __init__(self, data: bytes | memoryview, source: str) -> None:
        super().__init__(data, source, MAX_FIELDS)
        self.attribute_values = 0  # numbers, strings and tensors in all attributes so far
        self.elements = 0  # elements declared by all tensors so far
        self.unread = 0  # bytes of length-delimited fields skipped
        self.where = ""  # the node being read, for messages
        self.nested = False  # reading a subgraph (whose own subgraphs are skipped: nothing recurses)

    def fail(self, message: str) -> CnnCalcError:
        return CnnCalcError(f"{self.where}{message}", file=self.source)

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

    def skip(self, kind: int, value: Any) -> None:
        if kind == 2:
            self.unread += value[1] - value[0]

    def span(self, span: Any) -> tuple[int, int]:
        if not isinstance(span, tuple):
            raise ProtoError("a message field of the wrong wire type")
        return span

    def ints(self, kind: int, value: Any, check: Any) -> list[int]:
        """A field's numbers (one, or a packed run), counted by ``check(count, exact)`` before any is decoded."""
        if kind == 0:
            check(1, True)
            return [value]
        if kind != 2:
            raise ProtoError("an integer field of the wrong wire type")
        start, stop = value
        check(varint_bounds(stop - start), False)  # from the length alone: a 1 GB field is never read
        data = bytes(self.data[start:stop])
        check(count_varints(data), True)
        return _varints(data)

    def attribute_check(self, name: str, held: int) -> Any:
        """A ``check`` for :meth:`ints`: at most :data:`MAX_ATTRIBUTE_VALUES` in the attribute (``held`` so
        far) and :data:`MAX_ATTRIBUTE_TOTAL` in all attributes (counted by the caller once decoded)."""
        def check(count: int, exact: bool) -> None:
            some = "" if exact else "at least "
            if held + count > MAX_ATTRIBUTE_VALUES:
                raise self.fail(f"attribute '{name}' has {some}{held + count:,} values (at most "
                                f"{MAX_ATTRIBUTE_VALUES:,} in one attribute)")
            if self.attribute_values + count > MAX_ATTRIBUTE_TOTAL:
                raise self.fail(f"the model's attributes hold {some}{self.attribute_values + count:,} values "
                                f"(at most {MAX_ATTRIBUTE_TOTAL:,} in all), at attribute '{name}'")
        return check

    def dims_check(self, held: int, what: str) -> Any:
        def check(count: int, exact: bool) -> None:
            if held + count > MAX_DIMS:
                raise self.fail(f"{what} has {'' if exact else 'at least '}{held + count:,} dims (at most "
                                f"{MAX_DIMS})")
        return check

    def model(self) -> Model:
        model = Model()
        for number, kind, value, _, _ in self.fields(0, len(self.data)):
            if number == 1 and kind == 0:
                model.ir_version = value
            elif number == 2:
                model.producer_name = self.text(value)
            elif number == 7:
                model.graph = self.graph(*self.span(value))
            elif number == 8:
                domain, version = "", 0
                for n, k, v, _, _ in self.fields(*self.span(value)):
                    if n == 1:
                        domain = self.text(v)
                    elif n == 2 and k == 0:
                        version = v
                model.opset_import.append((domain, version))
            elif number == 25:
                name = domain = ""
                for n, k, v, _, _ in self.fields(*self.span(value)):
                    if n == 1:
                        name = self.text(v)
                    elif n == 10:
                        domain = self.text(v)
                    else:
                        self.skip(k, v)
                model.functions.append((domain, name))
            else:
                self.skip(kind, value)
        model.unread = self.unread
        return model

    def graph(self, start: int, end: int) -> Graph:
        graph = Graph()
        for number, kind, value, _, _ in self.fields(start, end):
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
            else:
                if number == 15:
                    graph.sparse_initializer += 1
                self.skip(kind, value)
        return graph

    def node(self, start: int, end: int) -> Node:
        node = Node()
        self.where = ""
        for number, kind, value, _, _ in self.fields(start, end):
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
                self.where = f"node '{node.name or '?'}' ({node.op_type or '?'}): "
                node.attribute.append(self.attribute(*self.span(value)))
            elif number == 6:
                node.doc_string = self.text(value)
            else:
                self.skip(kind, value)
        self.where = ""
        return node

    def attribute(self, start: int, end: int) -> Attribute:
        a = Attribute()
        held = 0  # values in this attribute
        for number, kind, value, _, _ in self.fields(start, end):
            if number == 1:
                a.name = self.text(value)
            elif number == 20 and kind == 0:
                a.type = value
            elif number == 21:
                a.ref_attr_name = self.text(value)
            elif number == 2 and kind == 5:
                a.f = struct.unpack_from("<f", self.data, value[0])[0]
            elif number in (3, 8):
                numbers = self.ints(kind, value, self.attribute_check(a.name, held))
                if number == 3:
                    a.i = _signed64(numbers[-1]) if numbers else 0  # the last one counts, as in protobuf
                else:
                    a.ints.extend(_signed64(v) for v in numbers)
                held = self.held(held, len(numbers))
            elif number == 4:
                a.s = self.blob(value)
            elif number == 5:
                a.t = self.tensor(*self.span(value), "constant")
            elif number == 7:
                if kind not in (2, 5) or (value[1] - value[0]) % 4:  # a varint's value is a number, not a span
                    raise ProtoError("a float field of the wrong wire type")
                count = (value[1] - value[0]) // 4
                self.attribute_check(a.name, held)(count, True)  # before a float is made: 600 MB took 7.5 GB
                a.floats.extend(struct.unpack_from(f"<{count}f", self.data, value[0]))
                held = self.held(held, count)
            elif number in (9, 10):
                self.attribute_check(a.name, held)(1, True)
                if number == 9:
                    a.strings.append(self.blob(value))
                else:
                    a.tensors.append(self.tensor(*self.span(value), "constant"))
                held = self.held(held, 1)
            elif number == 6 and kind == 2 and not self.nested and value[1] - value[0] <= MAX_SUBGRAPH_BYTES:
                # a small subgraph (an If's branch) is read, one level deep; its bytes still count as what
                # onnx.checker's parse is given (:data:`..importer.MAX_UNREAD_BYTES`)
                where, unread, self.nested = self.where, self.unread, True
                try:
                    a.g = self.graph(*self.span(value))
                finally:
                    self.where, self.nested = where, False
                self.unread = unread + value[1] - value[0]
            else:  # nested subgraphs, sparse tensors, type protos, the doc string
                self.skip(kind, value)
        return a

    def held(self, held: int, more: int) -> int:
        self.attribute_values += more
        return held + more

    def tensor(self, start: int, end: int, what: str = "initializer") -> TensorData:
        t = TensorData()
        dims = []  # read once the name is known (it comes after them), for the message
        for number, kind, value, _, _ in self.fields(start, end):
            if number == 1:
                dims.append((kind, value))
            elif number == 2 and kind == 0:
                t.data_type = value
            elif number == 8:
                t.name = self.text(value)
            elif number == 9:
                t.raw_data = self.data[slice(*self.span(value))]
            elif number in _PAYLOAD_FIELDS:
                view = value if kind == 0 else self.data[value[0]:value[1]]
                t.payloads.setdefault(_PAYLOAD_FIELDS[number], []).append((kind if kind == 0 else 2, view))
            elif number == 14 and kind == 0:
                t.data_location = value
            else:
                if number == 6:
                    t.strings = True
                elif number == 3:
                    t.segment = True
                elif number == 13:
                    t.external_data.append(self.entry(value))
                    continue
                self.skip(kind, value)
        for kind, value in dims:
            numbers = self.ints(kind, value, self.dims_check(len(t.dims), f"{what} '{t.name}'"))
            t.dims.extend(_signed64(v) for v in numbers)
        self.count_elements(t, what)
        return t

    def entry(self, span: Any) -> tuple[str, str]:
        """A StringStringEntryProto (an external-data key and its value)."""
        key = text = ""
        for number, kind, value, _, _ in self.fields(*self.span(span)):
            if number == 1:
                key = self.text(value)
            elif number == 2:
                text = self.text(value)
            else:
                self.skip(kind, value)
        return key, text

    def count_elements(self, t: TensorData, what: str) -> None:
        """Add a tensor's declared elements to the model's, refusing a negative dim or a total past the cap."""
        negative = next((d for d in t.dims if d < 0), None)
        if negative is not None:
            raise self.fail(f"{what} '{t.name}' declares a negative dimension (got {negative})")
        count = element_count(t.dims)
        if count is None or count > MAX_MODEL_ELEMENTS:
            raise self.fail(f"{what} '{t.name}' declares {describe_count(count)} elements (at most "
                            f"{MAX_MODEL_ELEMENTS:,} in all the model's tensors)")
        self.elements += count
        if self.elements > MAX_MODEL_ELEMENTS:
            raise self.fail(f"the model's tensors declare more than {MAX_MODEL_ELEMENTS:,} elements in all "
                            f"(at {what} '{t.name}')")

    def value_info(self, start: int, end: int) -> ValueInfo:
        info = ValueInfo()
        for number, kind, value, _, _ in self.fields(start, end):
            if number == 1:
                info.name = self.text(value)
            elif number == 2:  # TypeProto: only tensor_type (1) is read
                for n, k, v, _, _ in self.fields(*self.span(value)):
                    if n == 1:
                        info.tensor = True
                        self.tensor_type(info, *self.span(v))
                    else:
                        self.skip(k, v)
            else:
                self.skip(kind, value)
        return info

    def tensor_type(self, info: ValueInfo, start: int, end: int) -> None:
        for number, kind, value, _, _ in self.fields(start, end):
            if number != 2:
                self.skip(kind, value)
                continue
            info.has_shape = True
            for n, k, v, _, _ in self.fields(*self.span(value)):
                if n != 1:
                    self.skip(k, v)
                    continue
                self.dims_check(len(info.dims), f"value '{info.name}'")(1, True)
                dim_value: int | None = None
                dim_param = ""
                for dn, dk, dv, _, _ in self.fields(*self.span(v)):
                    if dn == 1 and dk == 0:
                        dim_value = _signed64(dv)
                    elif dn == 2:
                        dim_param = self.text(dv)
                    else:
                        self.skip(dk, dv)
                info.dims.append((dim_value, dim_param))


def decode_model(data: bytes | memoryview, source: str) -> Model:
    """A ModelProto's bytes as a :class:`Model`; a malformed file is one error line."""
    try:
        model = _Reader(data, source).model()
    except ProtoError as error:
        raise unreadable(error.message, source) from None
    if model.graph is None or not model.graph.node:
        raise CnnCalcError("not an ONNX model: no graph with nodes", file=source)
    return model
