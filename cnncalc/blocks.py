"""Block expansion: turns the spec's layer list into a flat list of raw layer mappings."""

from __future__ import annotations

from typing import Any

from .errors import SpecError


def expand_layers(raw_layers: list[Any], blocks: Any, blocks_line: int | None) -> list[tuple[Any, str | None]]:
    """Flat list of (raw layer mapping, default name)."""
    if blocks is not None:
        raise SpecError("'blocks' is not supported yet", field="blocks", line=blocks_line)
    return [(raw, None) for raw in raw_layers]
