"""ONNX import: an ONNX model as a spec v2 mapping and cnncalc's weights, read as data.

The importer lives in :mod:`cnncalc.interop.onnx` (one module per concept, one handler per operator type);
this module keeps its public names where they have always been. A new operator is a handler registered with
``@handles`` (:mod:`cnncalc.interop.onnx.registry`) in the module of its family (:mod:`cnncalc.interop.onnx.ops`).
A cap lowered here changes nothing: lower it on the module that reads it (:mod:`cnncalc.interop.onnx.importer`,
``.files`` or ``.proto``).
"""

from __future__ import annotations

from .onnx.api import import_model, import_onnx, network_of
from .onnx.checks import ATTRIBUTE_TYPES, MIN_INPUTS, check_model, check_tensor, parse_model
from .onnx.files import MAX_ONNX_BYTES, MAX_WIRE_FIELDS, SMALL_TENSOR, read_light, read_whole
from .onnx.graph import BATCH, FOLDABLE
from .onnx.importer import DEFAULTS, MAX_NODES, MAX_TENSOR_ELEMENTS, MAX_UNREAD_BYTES, SHAPE_VALUES, Imported
from .onnx.ops.common import f32
from .onnx.registry import FUNCTION_HANDLERS, HANDLERS, NOT_IMPORTED, PATTERNS, handles, matches
from .onnx.values import Lazy, Tensor

__all__ = [
    "ATTRIBUTE_TYPES", "BATCH", "DEFAULTS", "FOLDABLE", "FUNCTION_HANDLERS", "HANDLERS", "MAX_NODES",
    "MAX_ONNX_BYTES", "MAX_TENSOR_ELEMENTS", "MAX_UNREAD_BYTES", "MAX_WIRE_FIELDS", "MIN_INPUTS", "NOT_IMPORTED",
    "PATTERNS", "SHAPE_VALUES", "SMALL_TENSOR", "Imported", "Lazy", "Tensor", "check_model", "check_tensor", "f32",
    "handles", "import_model", "import_onnx", "matches", "network_of", "parse_model", "read_light", "read_whole",
]
