"""Activations that are layers of their own with settings: Softmax (over an axis) and PRelu (learned slopes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import _axis

if TYPE_CHECKING:
    from ..importer import _Importer


def _softmax(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    axis = _axis(im, attrs, "axis", -1, rank + 1)
    if axis == 0:
        raise im.fail("softmax over the batch axis is not supported")
    cn_axis = t.perm[axis - 1]
    layer = im.emit("softmax", im.node_name(node), [t.layer], axis=-1 if cn_axis == rank - 1 else cn_axis)
    im.finish(node, layer, t.perm)


def _prelu(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    slope = im.const(node.input[1], "slope")
    layer = im.emit("prelu", im.node_name(node), [t.layer], alpha="single" if slope.size == 1 else "channel")
    im.keep(f"{layer}.weight", lambda: slope.reshape(-1))
    im.finish(node, layer, t.perm)
