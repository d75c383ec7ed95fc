"""What the PyTorch and Keras code exporters share."""

from __future__ import annotations

from typing import Any

from ..maths import arith


class Unsupported(Exception):
    pass


def size_text(values: tuple[int, ...]) -> str:
    if len(set(values)) == 1:
        return str(values[0])
    return "(" + ", ".join(str(v) for v in values) + ")"


def whole(value: Any, what: str) -> int:
    if not arith.is_int(value):
        raise Unsupported(f"{what} must be a number, not a symbol ({value})")
    return int(value)
