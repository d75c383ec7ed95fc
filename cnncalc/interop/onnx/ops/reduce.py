"""Reductions over axes: ReduceMean and ReduceMax over every spatial axis are global pooling (how torch writes
``x.mean((2, 3))`` and ``AdaptiveAvgPool2d(1)``), over some of them a pool whose window spans those axes. The
axes are an attribute before opset 18 (ReduceSum: 13) and an input from then on; ``keepdims`` either way.
ReduceSum has no cnncalc layer (no pooling sums) and is refused by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..graph import _identity
from ..registry import handles
from ..values import Tensor

if TYPE_CHECKING:
    from ..importer import _Importer

#: the opset from which each reduction takes its axes as an input instead of an attribute
AXES_INPUT_FROM = {"ReduceMean": 18, "ReduceMax": 18, "ReduceSum": 13}


def reduced_axes(im: _Importer, node: Any, attrs: dict[str, Any], rank: int) -> list[int] | None:
    """The ONNX axes (0 is the batch) a reduction of a rank-``rank`` tensor reduces, in order; None for no
    reduction at all (empty axes with ``noop_with_empty_axes``)."""
    from_input = im.opset >= AXES_INPUT_FROM[node.op_type]
    if from_input and "axes" in attrs:
        raise im.fail(f"attribute 'axes' is an input of {node.op_type} from opset {AXES_INPUT_FROM[node.op_type]}"
                      f" (the model's is {im.opset})")
    if not from_input and len(node.input) > 1 and node.input[1]:
        raise im.fail(f"{node.op_type} takes its axes as an attribute before opset "
                      f"{AXES_INPUT_FROM[node.op_type]} (the model's is {im.opset})")
    if len(node.input) > 1 and node.input[1]:
        axes = [int(a) for a in im.numbers(node.input[1], "axes")]
    else:
        axes = [int(a) for a in attrs.get("axes", [])]
    if not axes:
        if from_input and int(attrs.get("noop_with_empty_axes", 0)):
            return None
        axes = list(range(rank))
    if any(not -rank <= a < rank for a in axes):
        raise im.fail(f"axes {axes[:8]} are not axes of the rank-{rank} input", expected=f"{-rank} to {rank - 1}")
    axes = sorted({a % rank for a in axes})
    if 0 in axes:
        raise im.fail(f"{node.op_type} over the batch axis has no cnncalc layer", got=axes[:8])
    return axes


@handles("ReduceMean", "ReduceMax", "ReduceSum",
         makes=("global_avgpool", "global_maxpool", "avgpool", "maxpool", "reshape"))
def _reduce(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    axes = reduced_axes(im, node, attrs, rank + 1)
    if axes is None:
        im.values[node.output[0]] = t
        return
    keepdims = bool(int(attrs.get("keepdims", 1)))
    dims = im.onnx_shape(t)
    if all(dims[a - 1] == 1 for a in axes) and keepdims:  # a reduction of axes of size 1 changes nothing
        im.values[node.output[0]] = t
        return
    if node.op_type == "ReduceSum":
        raise im.fail(f"ReduceSum over axes {axes} has no cnncalc layer (pooling averages or takes the maximum)")
    kind = "avg" if node.op_type == "ReduceMean" else "max"
    reduced = {t.perm[a - 1] for a in axes}  # cnncalc's axes
    spatial = set(range(rank - 1))  # cnncalc's spatial axes: all but the channels (the last)
    if rank < 2 or not reduced <= spatial:
        raise im.fail(f"{node.op_type} over axes {axes} reduces the channels, which no cnncalc pooling does",
                      expected="axes that are all spatial (or tokens)")
    if reduced == spatial:
        if keepdims:
            layer = im.emit(f"global_{kind}pool", im.node_name(node), [t.layer], keepdims=True)
            im.finish(node, layer, t.perm)
        else:
            layer = im.emit(f"global_{kind}pool", im.node_name(node), [t.layer])
            im.finish(node, layer, (0,))
        return
    shape = im.cshape(t)
    if not all(isinstance(shape[a], int) for a in reduced):
        raise im.fail(f"{node.op_type} over some spatial axes of a symbolic size is not supported")
    kernel = [shape[a] if a in reduced else 1 for a in sorted(spatial)]
    base = im.node_name(node) if keepdims else im.node_name(node, ".pool")
    layer = im.emit(f"{kind}pool", base, [t.layer], kernel=kernel, stride=1)
    if keepdims:
        im.finish(node, layer, t.perm)
        return
    # without keepdims the reduced axes go: a reshape in ONNX's own layout
    held = im.as_perm(Tensor(layer, t.perm), _identity(rank))
    kept = [d for j, d in enumerate(dims) if j + 1 not in axes]
    layer = im.emit("reshape", im.node_name(node), [held], shape=kept)
    im.finish(node, layer, _identity(len(kept)))
