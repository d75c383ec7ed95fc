"""The layer catalogue: importing this package registers every layer type."""

from . import (  # noqa: F401  (registration)
    activation,
    attention,
    conv,
    dense,
    merge,
    norm,
    pool,
    reshape,
    shape_ops,
    spatial,
    tokens,
)
from .base import LAYER_TYPES, Inference, Layer

__all__ = ["LAYER_TYPES", "Inference", "Layer"]
