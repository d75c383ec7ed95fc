"""The pictures of a network and of a convolution, as the commands draw them."""

from __future__ import annotations

from ..errors import CnnCalcError


def _positions(values: list[str] | None) -> list[tuple[int, int]] | None:
    if not values:
        return None
    positions = []
    for value in values:
        parts = value.split(",")
        if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
            raise CnnCalcError("bad --position", got=value, expected="ROW,COLUMN, e.g. 0,1")
        positions.append((int(parts[0]), int(parts[1])))
    return positions
