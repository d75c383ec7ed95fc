"""One handler per ONNX operator type, by family; each ``def _op(im, position, node, attrs)`` adds spec layers
and weights through the importer ``im``."""

from __future__ import annotations

from typing import Any

from .activation import _prelu, _softmax
from .conv import _conv, _conv_transpose
from .dense import _gemm, _matmul
from .elementwise import MERGES, _alias, _elementwise, _merge
from .functions import FUNCTION_HANDLERS
from .norm import _batchnorm, _layernorm, _lrn
from .pool import _global_pool, _pool
from .shape import _concat, _flatten, _gather, _pad, _reshape, _resize, _slice, _split, _transpose

__all__ = ["FUNCTION_HANDLERS", "HANDLERS"]


HANDLERS: dict[str, Any] = {
    "Conv": _conv, "ConvTranspose": _conv_transpose, "MaxPool": _pool, "AveragePool": _pool,
    "GlobalAveragePool": _global_pool, "GlobalMaxPool": _global_pool, "BatchNormalization": _batchnorm,
    "Gemm": _gemm, "MatMul": _matmul, **{op: _merge for op in MERGES},
    "Dropout": _elementwise("dropout"), "Identity": _alias, "Cast": _alias, "Softmax": _softmax,
    "PRelu": _prelu, "LRN": _lrn, "Flatten": _flatten, "Reshape": _reshape, "Transpose": _transpose,
    "Concat": _concat, "Slice": _slice, "Split": _split, "Pad": _pad, "Resize": _resize, "Upsample": _resize,
    "LayerNormalization": _layernorm, "Gather": _gather,
}
