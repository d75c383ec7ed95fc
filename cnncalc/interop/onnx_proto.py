"""ONNX's protobuf messages read in pure Python: the reader lives in :mod:`cnncalc.interop.onnx.proto` (the
records in ``.messages``, the wire format in ``.wire``); this module keeps its public names where they have
always been. A cap lowered here changes nothing: lower it on :mod:`cnncalc.interop.onnx.proto`, which reads it.
"""

from __future__ import annotations

from .onnx.messages import (
    FLOAT,
    FLOATS,
    GRAPH,
    GRAPHS,
    INT,
    INTS,
    SPARSE_TENSOR,
    SPARSE_TENSORS,
    STRING,
    STRINGS,
    TENSOR,
    TENSORS,
    TYPE_PROTO,
    TYPE_PROTOS,
    UNDEFINED,
    Attribute,
    Graph,
    Model,
    Node,
    ValueInfo,
)
from .onnx.proto import (
    COUNT_LIMIT,
    DTYPES,
    EXTERNAL,
    FUNCTION_DOMAIN,
    MAX_ATTRIBUTE_TOTAL,
    MAX_ATTRIBUTE_VALUES,
    MAX_DIMS,
    MAX_FIELDS,
    MAX_MODEL_ELEMENTS,
    VARINT_CHUNK,
    TensorData,
    decode_model,
    describe_count,
    element_count,
)
from .onnx.wire import ProtoError, count_varints, varint_bounds

__all__ = [
    "COUNT_LIMIT", "DTYPES", "EXTERNAL", "FLOAT", "FLOATS", "FUNCTION_DOMAIN", "GRAPH", "GRAPHS", "INT", "INTS",
    "MAX_ATTRIBUTE_TOTAL", "MAX_ATTRIBUTE_VALUES", "MAX_DIMS", "MAX_FIELDS", "MAX_MODEL_ELEMENTS", "SPARSE_TENSOR",
    "SPARSE_TENSORS", "STRING", "STRINGS", "TENSOR", "TENSORS", "TYPE_PROTO", "TYPE_PROTOS", "UNDEFINED",
    "VARINT_CHUNK", "Attribute", "Graph", "Model", "Node", "ProtoError", "TensorData", "ValueInfo", "count_varints",
    "decode_model", "describe_count", "element_count", "varint_bounds",
]
