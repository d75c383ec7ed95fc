"""Helpers the operator handlers share: attribute values as cnncalc writes them (float32 decimals, one
number or a list, padding pairs) and checked axes."""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..importer import _Importer


def f32(value: Any) -> float:
    """A float32 attribute as the decimal it was written as (1e-05, not 9.999999747378752e-06): the shortest
    decimal that reads back as the same float32.

    >>> f32(9.999999747378752e-06), f32(0.10000000149011612), f32(1.0), f32(float("inf"))
    (1e-05, 0.1, 1.0, inf)
    """
    value = float(value)
    if not math.isfinite(value):
        return value
    single = struct.unpack("<f", struct.pack("<f", value))[0]
    for digits in range(1, 10):
        text = float(f"{single:.{digits}g}")
        if struct.unpack("<f", struct.pack("<f", text))[0] == single:
            return text
    return single


def _pads(attrs: dict[str, Any], rank: int, im: _Importer, dims: Any = None, kernel: Any = None) -> Any:
    """The padding field of a Conv's or a pool's attributes; SAME_LOWER (the odd pixel before) needs the
    input's spatial ``dims`` and the ``kernel``, and is written as explicit pairs."""
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode(errors="replace") if isinstance(auto, bytes) else auto
    if auto == "VALID":
        return 0
    if auto == "SAME_UPPER":
        return "same"
    if auto == "SAME_LOWER" and dims is not None and kernel is not None:
        return _same_lower(im, attrs, dims, kernel)
    if auto not in ("NOTSET", ""):
        raise im.fail(f"attribute 'auto_pad' = {auto} is not supported", expected="NOTSET, VALID, SAME_UPPER or "
                      "SAME_LOWER")
    pads = [int(p) for p in attrs.get("pads", [0] * (2 * rank))]
    pairs = [[pads[i], pads[i + rank]] for i in range(rank)]
    if all(b == a for b, a in pairs):
        firsts = [b for b, _ in pairs]
        return firsts[0] if len(set(firsts)) == 1 else firsts
    return pairs


def _same_lower(im: _Importer, attrs: dict[str, Any], dims: Any, kernel: Any) -> Any:
    """SAME_LOWER's pads as ONNX (and onnxruntime) define them: the output ⌈n/s⌉, the total padding that needs,
    the odd pixel at the start."""
    rank = len(kernel)
    strides = [int(v) for v in attrs.get("strides", [1] * rank)]
    dilations = [int(v) for v in attrs.get("dilations", [1] * rank)]
    if not all(isinstance(n, int) for n in dims):
        raise im.fail("attribute 'auto_pad' = SAME_LOWER needs numeric spatial sizes", got=[str(n) for n in dims],
                      hint="export the model with fixed spatial sizes")
    pairs = []
    for n, k, s, d in zip(dims, kernel, strides, dilations):
        total = max((-(-n // s) - 1) * s + (int(k) - 1) * d + 1 - n, 0)
        pairs.append([total - total // 2, total // 2])
    return _pads({"pads": [b for b, _ in pairs] + [a for _, a in pairs]}, rank, im)


def _sizes(values: Any) -> Any:
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def _axis(im: _Importer, attrs: dict[str, Any], key: str, default: int, rank: int) -> int:
    """Attribute ``key``, an axis of a rank-``rank`` ONNX tensor (batch included), from 0: ONNX allows -rank
    to rank - 1, and taking any other number modulo the rank would import a model that is not the file's."""
    axis = int(attrs.get(key, default))
    if not -rank <= axis < rank:
        raise im.fail(f"attribute '{key}' is not an axis of the rank-{rank} input", got=axis,
                      expected=f"{-rank} to {rank - 1}")
    return axis % rank


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether numpy broadcasts ``shape`` to ``target`` (exactly, without changing ``target``)."""
    return len(shape) <= len(target) and all(s in (1, t) for s, t in zip(reversed(shape), reversed(target)))
