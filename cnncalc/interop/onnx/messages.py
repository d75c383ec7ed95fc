"""ONNX's messages as plain records: the fields of each that the importer reads, and nothing else (the decoder
in :mod:`.proto` fills them; :class:`~.proto.TensorData` keeps a tensor's values in the file's bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .proto import TensorData

# AttributeProto.AttributeType
UNDEFINED, FLOAT, INT, STRING, TENSOR, GRAPH, FLOATS, INTS, STRINGS, TENSORS, GRAPHS = range(11)
SPARSE_TENSOR, SPARSE_TENSORS, TYPE_PROTO, TYPE_PROTOS = 11, 12, 13, 14


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
    g: Graph | None = None  # a subgraph of a node of the model's graph (one level, not a subgraph's own)

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
    #: bytes of the parts this reader skips (subgraphs, function bodies, value_info, doc strings...): what
    #: only onnx.checker's protobuf parse reads, uncounted by any cap here
    unread: int = 0
