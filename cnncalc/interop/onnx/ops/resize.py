"""Resize and Upsample: cnncalc's ``upsample`` layer reads source index ``⌊i·in/out⌋`` (nearest) or
interpolates with half-pixel centres (linear, PyTorch's ``align_corners=False``). Each combination of
``mode``, ``coordinate_transformation_mode``, ``nearest_mode`` and ``antialias`` that computes exactly that is
imported; any other is refused naming the attribute and its value (``--lenient``: a flagged layer).

Which are exact, per resized axis (``in`` → ``out``, scale ``s = out/in``; ONNX's source coordinate ``x``):

- nearest, ``asymmetric`` with ``floor``: ``x = i/s``, floored: cnncalc's rule itself;
- nearest, ``half_pixel`` or ``pytorch_half_pixel`` with ``round_prefer_floor`` or ``round_prefer_ceil``, and
  ``tf_half_pixel_for_nn`` with ``floor``, when ``out`` is a whole multiple ``k·in``: ``x = (i + ½)/k − ½``
  rounded (or ``(i + ½)/k`` floored) is ``⌊i/k⌋`` and never a tie;
- linear, ``half_pixel``: cnncalc's rule itself; ``pytorch_half_pixel`` too unless an axis is resized to 1
  (ONNX then reads ``x = 0``, not the centre);
- ``antialias = 1`` changes nothing when no axis shrinks (the filter is widened only to downscale).

Before opset 11 (Upsample, and Resize at opset 10) coordinates are ``asymmetric``: nearest upscaling floors
them (exact), linear reads ``x = i/s`` (refused).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..graph import BATCH, _cf
from ..registry import handles
from .common import _sizes

if TYPE_CHECKING:
    from ..importer import _Importer

DEFAULTS = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel", "nearest_mode": "round_prefer_floor",
            "keep_aspect_ratio_policy": "stretch"}


def _text(attrs: dict[str, Any], key: str) -> str:
    value = attrs.get(key, DEFAULTS[key])
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _per_axis(im: _Importer, values: list[Any], axes: list[int] | None, full: int, what: str, fill: Any) -> list[Any]:
    """Scales or sizes given for ``axes`` (all of them when None) as one value per ONNX axis."""
    if axes is None:
        if len(values) != full:
            raise im.fail(f"Resize's {what} has {len(values)} values for a rank-{full} input", got=values[:8])
        return list(values)
    if len(values) != len(axes):
        raise im.fail(f"Resize's {what} has {len(values)} values for {len(axes)} axes", got=values[:8])
    result = [fill] * full
    for a, v in zip(axes, values):
        result[a] = v
    return result


def _problems(im: _Importer, node: Any, attrs: dict[str, Any], ins: list[Any], outs: list[Any],
              whole: bool) -> tuple[str, list[str]]:
    """The layer's mode (nearest or linear) and what of the node's settings it does not compute exactly
    (``whole``: the sizes come from whole-number scales, so every axis grows by a whole multiple)."""
    mode = _text(attrs, "mode")
    legacy = node.op_type == "Upsample" or im.opset < 11
    transform = "asymmetric" if legacy else _text(attrs, "coordinate_transformation_mode")
    problems: list[str] = []
    resized = [(n, o) for n, o in zip(ins, outs) if not (isinstance(n, int) and n == o)]

    def multiple(n: Any, o: Any) -> bool:
        return whole or isinstance(n, int) and isinstance(o, int) and o % n == 0

    if mode == "nearest":
        rounding = "floor" if legacy else _text(attrs, "nearest_mode")
        if transform == "asymmetric" and rounding == "floor":
            pass
        elif transform in ("half_pixel", "pytorch_half_pixel") and rounding in ("round_prefer_floor",
                                                                                  "round_prefer_ceil") \
                or transform == "tf_half_pixel_for_nn" and rounding == "floor":
            if not all(multiple(n, o) for n, o in resized):
                problems.append(f"attribute coordinate_transformation_mode={transform} with nearest_mode={rounding} "
                                f"resizes {[n for n, _ in resized]} to {[o for _, o in resized]}, not a whole multiple")
        elif transform == "asymmetric":
            problems.append(f"attribute nearest_mode={rounding} with coordinate_transformation_mode=asymmetric")
        else:
            problems.append(f"attribute coordinate_transformation_mode={transform} with nearest_mode={rounding}")
        return "nearest", problems
    if mode not in ("linear", "bilinear"):
        problems.append(f"attribute mode={mode}")
        return "linear", problems
    if transform == "pytorch_half_pixel":
        if any(o == 1 for _, o in resized):
            problems.append("attribute coordinate_transformation_mode=pytorch_half_pixel resizes an axis to 1 "
                            "(ONNX then reads the first pixel, not the centre)")
    elif transform != "half_pixel":
        problems.append(f"attribute coordinate_transformation_mode={transform}" + (" (the mode before opset 11)"
                                                                                  if legacy else ""))
    if int(attrs.get("antialias", 0)) and not whole and any(not (isinstance(n, int) and isinstance(o, int)
                                                                 and o >= n) for n, o in resized):
        problems.append(f"attribute antialias={int(attrs['antialias'])} while downscaling")
    return "linear", problems


@handles("Resize", "Upsample", makes=("upsample",))
def _resize(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    full = rank + 1
    inputs = list(node.input)
    axes = None
    if "axes" in attrs:
        axes = [int(a) for a in attrs["axes"]]
        if any(not -full <= a < full for a in axes) or len({a % full for a in axes}) != len(axes):
            raise im.fail(f"attribute 'axes' holds axes that are not distinct axes of the rank-{full} input",
                          got=axes[:8])
        axes = [a % full for a in axes]
    dims = [1, *im.onnx_shape(t)]  # the batch is never resized (checked below)
    legacy = node.op_type == "Upsample" or im.opset < 11
    scales = sizes = None
    if legacy:
        scales = im.numbers(inputs[1], "scales") if len(inputs) > 1 and inputs[1] else list(attrs.get("scales", []))
    elif len(inputs) > 3 and inputs[3]:
        sizes = [int(v) for v in im.numbers(inputs[3], "sizes")]
    elif len(inputs) > 2 and inputs[2]:
        scales = im.numbers(inputs[2], "scales")
    if sizes is None and not scales:
        raise im.fail("Resize needs scales or sizes")
    problems: list[str] = []
    if sizes is not None:
        outs = _per_axis(im, sizes, axes, full, "sizes", None)
        if outs[0] is not None and im.batch > 0 and outs[0] not in (im.batch, BATCH):
            raise im.fail("Resize may not change the batch size", got=outs[:8])
        outs = [d if o is None else o for d, o in zip(dims, outs)]
        policy = _text(attrs, "keep_aspect_ratio_policy")
        if policy != "stretch":
            problems.append(f"attribute keep_aspect_ratio_policy={policy}")
        whole = None
    else:
        factors = [float(v) for v in _per_axis(im, list(scales or []), axes, full, "scales", 1.0)]
        if factors[0] != 1:
            raise im.fail("Resize may not change the batch size", got=factors[:8])
        if any(s != int(s) or s < 1 for s in factors[1:]):
            raise im.fail("Resize scales must be whole numbers (and 1 on the channels)", got=factors[:8])
        whole = [int(s) for s in factors]
        outs = [d * s if isinstance(d, int) else None for d, s in zip(dims, whole)]
    if outs[1] != dims[1] or whole is not None and whole[1] != 1:
        raise im.fail("Resize may not change the channel count")
    ins = dims[2:]
    spatial_outs = [o if o is not None else d * k for d, o, k in zip(ins, outs[2:], (whole or [1] * full)[2:])]
    kind, more = _problems(im, node, attrs, ins, spatial_outs, whole is not None)
    flagged = im.inexact(node, problems + more)
    fields: dict[str, Any] = {"mode": kind}
    if whole is not None:
        fields["scale"] = _sizes(whole[2:])
    else:
        fields["size"] = _sizes(outs[2:])
    x = im.cf_input(node.input[0])
    layer = im.emit("upsample", flagged or im.node_name(node), [x], **fields)
    if flagged:
        im.flagged.append(layer)
    im.finish(node, layer, _cf(rank))
