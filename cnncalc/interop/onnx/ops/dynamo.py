"""Forms torch.onnx's default (dynamo) exporter writes that the legacy exporter did not:

- ``torch.chunk`` / ``split`` as ``SplitToSequence`` then one ``SequenceAt`` per part: a slice per part;
- the exact gelu as ``x · (0.5 · (1 + erf(x/√2)))``, the half multiplied before ``x`` (the legacy exporter
  multiplies by ``x`` first: :func:`.activation._match_gelu`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..registry import handles, matches
from ..values import Tensor
from .activation import _scalar
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


@matches("Div", "Mul", absorbs=("Erf",), makes=("gelu",))
def _gelu_half_first(im: _Importer, position: int, node: Any) -> bool:
    """x/√2 (or x·(1/√2)) → Erf → + 1 → · 0.5 → · x, each step the only reader of the one before."""
    if len(node.input) != 2 or not isinstance(im.values.get(node.input[0]), Tensor):
        return False
    c = _scalar(im, node.input[1])
    if c is None or not (node.op_type == "Div" and math.isclose(c, math.sqrt(2), rel_tol=1e-4)
                         or node.op_type == "Mul" and math.isclose(c, 1 / math.sqrt(2), rel_tol=1e-4)):
        return False
    x = node.input[0]
    chain = [position]
    steps = [("Erf", None), ("Add", 1.0), ("Mul", 0.5), ("Mul", x)]
    current = node
    for op, other in steps:
        step = im.single_consumer(current.output[0])
        if not step or step[1].op_type != op:
            return False
        inputs = [name for name in step[1].input if name != current.output[0]]
        if isinstance(other, str):
            if inputs != [other]:
                return False
        elif other is not None and (len(inputs) != 1 or _scalar(im, inputs[0]) != other):
            return False
        chain.append(step[0])
        current = step[1]
    im.done.update(chain)
    t = im.tensor(x)
    layer = im.emit("gelu", im.node_name(current), [t.layer])
    im.values[current.output[0]] = Tensor(layer, t.perm)
    return True
