"""Optional image input/output (the `images` extra: Pillow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExecutionError


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ExecutionError("reading or writing images needs Pillow",
                             hint="install the extra: pip install 'cnncalc[images]'") from None
    return Image


def read_image(path: str | Path) -> np.ndarray:
    """H×W×C array of 0–255 values (grey images get one channel)."""
    image_module = _pillow()
    try:
        with image_module.open(path) as image:
            image.load()
            if image.mode not in ("L", "RGB"):
                image = image.convert("RGBA" if "A" in image.getbands() else "RGB").convert("RGB")
            array = np.asarray(image, dtype=float)
    except (OSError, ValueError) as error:
        raise ExecutionError(f"cannot read the image: {error}", file=str(path)) from None
    return array[:, :, None] if array.ndim == 2 else array


def save_maps(maps: np.ndarray, path: str | Path, columns: int | None = None, gap: int = 2) -> tuple[int, int]:
    """Write the channels of an ``[H, W, C]`` map as a grid of grey tiles, each scaled to 0–255.

    Returns (rows, columns) of the grid.
    """
    image_module = _pillow()
    if maps.ndim != 3:
        raise ExecutionError("feature maps need a layer with an [H, W, C] output", got=list(maps.shape),
                             expected="3 axes")
    height, width, channels = maps.shape
    columns = columns or int(np.ceil(np.sqrt(channels)))
    rows = int(np.ceil(channels / columns))
    canvas = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), 255, dtype=np.uint8)
    for c in range(channels):
        tile = maps[:, :, c].astype(float)
        low, high = tile.min(), tile.max()
        tile = (tile - low) / (high - low) * 255.0 if high > low else np.zeros_like(tile)
        r, q = divmod(c, columns)
        canvas[r * (height + gap): r * (height + gap) + height, q * (width + gap): q * (width + gap) + width] = (
            np.round(tile).astype(np.uint8))
    image_module.fromarray(canvas, mode="L").save(path)
    return rows, columns
