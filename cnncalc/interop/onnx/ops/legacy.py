"""Operators whose meaning or form changed with the opset, read as the model's opset defines them (each a
pattern tried before the operator's own handler, which reads the newest form):

- Softmax before opset 13 flattens the input from ``axis`` on into one axis and normalises over all of it; over
  more than the last axis that is a reshape, a softmax over the last axis and a reshape back;
- Slice before opset 10 takes ``starts``, ``ends`` and ``axes`` as attributes, not inputs;
- Pad before opset 11 takes ``pads`` and ``value`` as attributes: a value other than 0 is refused.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..graph import _identity
from ..registry import matches
from ..values import np
from .common import _axis

if TYPE_CHECKING:
    from ..importer import _Importer


@matches("Softmax", makes=("softmax", "reshape", "flatten"))
def _flattening_softmax(im: _Importer, position: int, node: Any) -> bool:
    if im.opset >= 13:
        return False
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    axis = _axis(im, im.attrs(node), "axis", 1, rank + 1)
    if axis == rank:  # over the last axis alone: the softmax of every opset
        return False
    if axis == 0:
        raise im.fail("Softmax before opset 13 with axis 0 normalises over the batch, which has no cnncalc layer")
    dims = im.onnx_shape(t)
    if not all(isinstance(d, int) for d in dims[axis - 1:]):
        raise im.fail(f"Softmax before opset 13 (axis {axis}) over axes of a symbolic size is not supported")
    x = im.as_perm(t, _identity(rank))
    flat = [*dims[:axis - 1], math.prod(dims[axis - 1:])]
    base = im.node_name(node)
    flattened = im.emit("reshape", f"{base}.flatten", [x], shape=flat) if len(flat) > 1 else \
        im.emit("flatten", f"{base}.flatten", [x])
    normalised = im.emit("softmax", base, [flattened], axis=-1)
    back = im.emit("reshape", f"{base}.unflatten", [normalised], shape=list(dims))
    im.finish(node, back, _identity(rank))
    return True


@matches("Slice", makes=("slice", "crop"))
def _slice_attributes(im: _Importer, position: int, node: Any) -> bool:
    """Slice-1's attributes as the inputs of Slice-10, then the Slice handler."""
    if im.opset >= 10:
        return False
    from .shape import _slice

    attrs = im.attrs(node)
    if "starts" not in attrs or "ends" not in attrs:
        raise im.fail("Slice before opset 10 needs attributes 'starts' and 'ends'")
    names = []
    for key in ("starts", "ends", "axes"):
        if key in attrs:
            name = f"{node.output[0]}::{key}"
            im.values[name] = np.array([int(v) for v in attrs[key]], dtype=np.int64)
            names.append(name)
    _slice(im, position, replace(node, input=[node.input[0], *names]), {})
    return True


@matches("Pad", makes=("zero_pad",))
def _pad_attributes(im: _Importer, position: int, node: Any) -> bool:
    """Pad-2's ``pads`` and ``value`` attributes (inputs from opset 11 on), then the Pad handler."""
    if im.opset >= 11:
        return False
    from .shape import _pad

    attrs = im.attrs(node)
    if float(attrs.get("value", 0.0)) != 0.0:
        raise im.fail(f"attribute value={attrs['value']}: Pad with a value other than 0 is not supported")
    _pad(im, position, replace(node, input=node.input[:1]), {k: v for k, v in attrs.items() if k != "value"})
    return True
