"""The layer catalogue: importing this package registers every layer type."""

from . import activation, conv, dense, merge, pool, reshape, spatial  # noqa: F401  (registration)
from .base import LAYER_TYPES, Inference, Layer

__all__ = ["LAYER_TYPES", "Inference", "Layer"]
