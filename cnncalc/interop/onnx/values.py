"""What an ONNX value name stands for during the walk: a tensor computed from the network input (a cnncalc
layer's output and the permutation it is held in), or a constant (an array, or an initializer not read yet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeGuard

from .proto import TensorData

if TYPE_CHECKING:
    import numpy as np
else:
    class _Numpy:
        """numpy, imported on first use: a summary of a plain CNN reads no constant's values and never needs it
        (importing numpy costs a third of a whole YAML summary)."""

        def __getattr__(self, name: str) -> Any:
            import numpy

            return getattr(numpy, name)

    np = _Numpy()

__all__ = ["Lazy", "Tensor", "_Values", "_is_const", "np"]


@dataclass
class Tensor:
    layer: str  # cnncalc layer name (or "input")
    perm: tuple[int, ...]  # ONNX sample axis j is cnncalc axis perm[j]
    origin: str | None = None  # the Transpose node that made this view (names a permute made from it)
    #: a partition view (:mod:`.ops.partition`): the ONNX value (sample axes) is the layer's output, flattened,
    #: at these indexes (an int array of the value's shape); None for a value held by ``perm`` alone
    where: Any = field(default=None, compare=False)


def _is_const(value: Any) -> TypeGuard[np.ndarray | Lazy]:
    """A constant (an array, or an initializer not read yet), not a value computed from the input: the values
    hold nothing else (:class:`Tensor`, arrays and :class:`Lazy` initializers)."""
    return value is not None and not isinstance(value, Tensor)


class Lazy:
    """An initializer of a summary import: its shape now, its values (numpy) only when a handler needs them,
    and never for a large one (its bytes were left on disk)."""

    __slots__ = ("readable", "shape", "tensor")

    def __init__(self, tensor: TensorData, readable: bool) -> None:
        self.tensor, self.shape, self.readable = tensor, tuple(tensor.dims), readable

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class _Values(dict):  # type: ignore[type-arg]
    """ONNX value name → value, remembering which names each layer holds: a rename re-points those names
    without a scan of every value (a scan per dense layer made a chain of them quadratic)."""

    def __init__(self) -> None:
        super().__init__()
        self.holders: dict[str, list[str]] = {}
        #: finds a name not known yet by data flow (the importer's ``lookup``: a constant computed later)
        self.resolve: Any = None

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        value = super().get(name)
        if value is None and self.resolve is not None:
            value = self.resolve(name)
        return default if value is None else value

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, value)
        if isinstance(value, Tensor):
            self.holders.setdefault(value.layer, []).append(name)
