"""Forms torch.onnx's default (dynamo) exporter writes that the legacy exporter did not:

- ``torch.chunk`` / ``split`` as ``SplitToSequence`` then one ``SequenceAt`` per part: a slice per part;
- ``as_strided`` (ConvNeXt's pooled features) as a Reshape of the whole tensor, batch included, to one axis,
  then a Gather of constant indices: when the batch is 1 and the indices read every value in order, a reshape.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..graph import _identity
from ..registry import handles, matches
from ..values import Tensor, _is_const, np
from .common import _axis
from .shape import _slice_layer

if TYPE_CHECKING:
    from ..importer import _Importer


@handles("SplitToSequence", makes=())
def _split_to_sequence(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    """Remember the parts (the slices are made by each SequenceAt that reads one)."""
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    axis = _axis(im, attrs, "axis", 0, rank + 1)
    if axis == 0:
        raise im.fail("SplitToSequence along the batch axis is not supported")
    total = im.onnx_shape(t)[axis - 1]
    if not isinstance(total, int):
        raise im.fail("SplitToSequence of a symbolic axis is not supported")
    if len(node.input) > 1 and node.input[1]:
        split = [int(v) for v in im.numbers(node.input[1], "split", max(total, 1))]
        if im.value(node.input[1]).ndim == 0:  # one size: parts of it, the last one what is left
            size = split[0]
            if size < 1:
                raise im.fail("SplitToSequence's split must be positive", got=size)
            split = [min(size, total - start) for start in range(0, total, size)]
    else:
        if not int(attrs.get("keepdims", 1)):
            raise im.fail("SplitToSequence into single elements without keepdims is not supported")
        split = [1] * total
    if sum(split) != total or min(split, default=0) < 1:
        raise im.fail(f"SplitToSequence's parts {split[:8]} do not add up to the axis ({total})")
    starts = [sum(split[:k]) for k in range(len(split))]
    im.sequences[node.output[0]] = (t, axis, [(s, s + n) for s, n in zip(starts, split)])


@handles("SequenceAt", makes=("slice",))
def _sequence_at(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    held = im.sequences.get(node.input[0])
    if held is None:
        raise im.fail(f"input '{node.input[0]}' must be a sequence made by SplitToSequence")
    t, axis, parts = held
    at = [int(v) for v in im.numbers(node.input[1], "position", 1)]
    if len(at) != 1 or not -len(parts) <= at[0] < len(parts):
        raise im.fail(f"position {at[:2]} is not a part of the {len(parts)}-part sequence")
    start, stop = parts[at[0] % len(parts)]
    layer = _slice_layer(im, im.node_name(node), t, axis, start, stop, 1)
    im.values[node.output[0]] = Tensor(layer, t.perm)


@matches("Reshape", absorbs=("Gather",), makes=("reshape",))
def _as_strided(im: _Importer, position: int, node: Any) -> bool:
    t, target = im.values.get(node.input[0]), im.values.get(node.input[1])
    if not isinstance(t, Tensor) or not _is_const(target) or target.size != 1 or im.batch != 1:
        return False
    dims = im.onnx_shape(t)
    if not all(isinstance(d, int) for d in dims) or int(im.value(node.input[1]).reshape(-1)[0]) not in (-1, math.prod(dims)):
        return False
    step = im.single_consumer(node.output[0])
    if not step or step[1].op_type != "Gather" or step[1].input[0] != node.output[0] \
            or int(im.attrs(step[1]).get("axis", 0)) != 0:
        return False
    indices = im.values.get(step[1].input[1])
    if not _is_const(indices) or not getattr(indices, "readable", True) or indices.size != math.prod(dims) \
            or indices.ndim < 1 or indices.shape[0] != 1:
        return False
    if not np.array_equal(im.value(step[1].input[1]).reshape(-1), np.arange(math.prod(dims))):
        return False  # values in another order: refused as the Reshape of the batch it is
    im.done.add(step[0])
    shape = [int(d) for d in indices.shape[1:]]
    held = im.as_perm(t, _identity(len(dims)))
    if shape == dims:
        im.values[step[1].output[0]] = Tensor(held, _identity(len(dims)))
        return True
    layer = im.emit("reshape", im.node_name(step[1]), [held], shape=shape)
    im.values[step[1].output[0]] = Tensor(layer, _identity(len(shape)))
    return True
