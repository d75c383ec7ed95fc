"""The layer catalogue: importing this package registers every layer type."""

from . import activation, attention, conv, dense, merge, norm, pool, reshape, shape_ops, tokens  # noqa: F401  (registration)
from .base import LAYER_TYPES, Inference, Layer

__all__ = ["LAYER_TYPES", "Inference", "Layer"]
