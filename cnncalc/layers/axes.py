"""Axes of a sample (no batch axis), 0-based, negative from the end: shared by slice, concat, layernorm,
softmax and permute.

>>> sample_axis(-1, 3)
2
>>> batch_axis(0)
1
"""

from __future__ import annotations

from ..errors import ShapeError
from .base import FieldValueError

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


def sample_axis(axis: int, rank: int, field: str = "axis", given: Any = None) -> int:
    """``axis`` as a non-negative index into a sample of ``rank`` axes; out of range is a ShapeError."""
    if not -rank <= axis < rank:
        raise ShapeError(f"axis out of range: axis {axis} does not exist in an input of {rank} axes", field=field,
                         got=axis if given is None else given,
                         expected=f"an axis from {-rank} to {rank - 1} (the sample's axes, 0-based, no batch axis)")
    return axis + rank if axis < 0 else axis


def batch_axis(axis: int) -> int:
    """A non-negative sample axis as an axis of the batched array ``[N, ...]``."""
    return axis + 1


def int_or_int_list(value: Any) -> tuple[int, ...]:
    """An axis field that may be one int or a non-empty list of distinct ints."""
    items = value if isinstance(value, list) else [value]
    if not items or any(isinstance(v, bool) or not isinstance(v, int) for v in items):
        raise FieldValueError("an axis (an integer) or a list of axes")
    if len(set(items)) != len(items):
        raise FieldValueError("a list of distinct axes")
    return tuple(items)
