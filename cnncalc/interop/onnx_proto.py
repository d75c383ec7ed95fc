"""ONNX's protobuf messages read in pure Python: the reader lives in :mod:`cnncalc.interop.onnx.proto`; this
module keeps its public names where they have always been. A cap lowered here changes nothing: lower it on
:mod:`cnncalc.interop.onnx.proto`, which reads it.
"""

from __future__ import annotations

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
    Attribute,
    Graph,
    Model,
    Node,
    ProtoError,
    TensorData,
    ValueInfo,
    count_varints,
    decode_model,
    describe_count,
    element_count,
    varint_bounds,
)

__all__ = [
    "COUNT_LIMIT", "DTYPES", "EXTERNAL", "FUNCTION_DOMAIN", "MAX_ATTRIBUTE_TOTAL", "MAX_ATTRIBUTE_VALUES",
    "MAX_DIMS", "MAX_FIELDS", "MAX_MODEL_ELEMENTS", "VARINT_CHUNK", "Attribute", "Graph", "Model", "Node",
    "ProtoError", "TensorData", "ValueInfo", "count_varints", "decode_model", "describe_count", "element_count",
    "varint_bounds",
]
