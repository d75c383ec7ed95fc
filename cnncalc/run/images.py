"""Optional image input/output (the `images` extra: Pillow)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExecutionError
from ..outputs import write_output


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ExecutionError("reading or writing images needs Pillow",
                             hint="install the extra: pip install 'cnncalc[images]'") from None
    return Image


# Pillow modes of one grey channel: 8-bit (and bilevel, and grey with alpha, the alpha dropped as RGBA's is)
# read as 0–255; 16- and 32-bit integer and 32-bit float grey keep the values the file holds
_GREY_8 = ("L", "1", "LA", "La")
_GREY_WIDE = ("I", "I;16", "I;16L", "I;16B", "I;16N", "F")


def read_image(path: str | Path, max_bytes: int = 2 * 1024**3) -> np.ndarray:
    """H×W×C array: colour images as RGB with values 0–255; grey images as one channel, 0–255 for 8-bit
    grey and the stored values for 16-bit (0–65535), 32-bit integer and float grey.

    The file is read with a byte cap (``max_bytes``, the run's memory budget) and its declared size is
    checked before any pixel is decoded: at most :data:`~cnncalc.run.files.MAX_IMAGE_PIXELS` pixels, and
    the float array must fit in ``max_bytes``.
    """
    import io
    import warnings

    from ..spec.safeload import read_limited
    from .files import MAX_IMAGE_PIXELS, human_bytes

    source = str(path)
    _pillow()
    from PIL import Image as image_module
    from PIL import UnidentifiedImageError

    raw = read_limited(path, max_bytes, "image")
    try:
        with warnings.catch_warnings():
            # our own pixel cap is lower than Pillow's bomb threshold; its warning would only be noise
            warnings.simplefilter("ignore", image_module.DecompressionBombWarning)
            with image_module.open(io.BytesIO(raw)) as image:
                width, height = image.size
                pixels = width * height
                if pixels > MAX_IMAGE_PIXELS:
                    raise _too_many_pixels(source, width, height)
                channels = 1 if image.mode in _GREY_8 + _GREY_WIDE else 3  # every other mode becomes RGB
                if pixels * channels * 8 > max_bytes:
                    raise ExecutionError(f"the image of {width}×{height} pixels needs about "
                                         f"{human_bytes(pixels * channels * 8)} as numbers", file=source,
                                         got=human_bytes(pixels * channels * 8),
                                         expected=f"at most --max-memory = {human_bytes(max_bytes)}")
                image.load()
                picture: image_module.Image = image  # (the file's image, or a converted copy of it)
                if picture.mode in _GREY_8 and picture.mode != "L":
                    picture = picture.convert("L")
                elif picture.mode not in ("L", "RGB", *_GREY_WIDE):
                    picture = picture.convert("RGBA" if "A" in picture.getbands() else "RGB").convert("RGB")
                array = np.asarray(picture).astype(float)  # exact: every stored value fits a float64
    except ExecutionError:
        raise
    except UnidentifiedImageError:
        raise ExecutionError("cannot read the image: not a picture format Pillow knows", file=source,
                             expected="PNG, JPEG, BMP, GIF, TIFF or WebP") from None
    except image_module.DecompressionBombError as error:
        # Pillow refuses before we see the size (its limit is above ours); its message holds the pixel count
        import re

        count = re.search(r"\((\d+) pixels\)", str(error))
        raise _too_many_pixels(source, None, None, int(count.group(1)) if count else None) from None
    except Exception as error:  # noqa: BLE001 - Pillow's decoders raise many types on hostile files
        raise ExecutionError(f"cannot read the image: {str(error)[:200]}", file=source) from None
    return array[:, :, None] if array.ndim == 2 else array


def _too_many_pixels(source: str, width: int | None, height: int | None, count: int | None = None) -> ExecutionError:
    from .files import MAX_IMAGE_PIXELS

    if width is not None and height is not None:
        got = f"{width}×{height} = {width * height:,} pixels"
    else:
        got = f"{count:,} pixels" if count is not None else "more than Pillow's decompression-bomb limit"
    return ExecutionError("the image is too large", file=source, got=got,
                          expected=f"at most {MAX_IMAGE_PIXELS:,} pixels (8192×8192)")


def save_maps(maps: np.ndarray, path: str | Path, columns: int | None = None, gap: int = 2,
              inputs: Iterable[str | Path | None] = ()) -> tuple[int, int]:
    """Write the channels of an ``[H, W, C]`` map as a grid of grey tiles, each scaled to 0–255, by the
    rules of :func:`cnncalc.outputs.write_output` (whole or not at all, never over one of ``inputs``).

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
    kind = image_module.registered_extensions().get(Path(path).suffix.lower())
    if kind is None:
        raise ExecutionError("cannot write the feature maps: unknown image type", file=str(path),
                             got=Path(path).suffix or "(none)", expected=".png or .jpg")
    image = image_module.fromarray(canvas)
    try:
        write_output(path, lambda handle: image.save(handle, format=kind), inputs=inputs)
    except (ValueError, KeyError) as error:
        raise ExecutionError(f"cannot write the feature maps: {str(error)[:200]}", file=str(path)) from None
    return rows, columns
