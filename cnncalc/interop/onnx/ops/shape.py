"""Operators that move values around: Flatten, Reshape (a channel shuffle or pixel unshuffle when it is one),
Transpose, Concat, Slice (a crop when it is one), Split, Pad, DepthToSpace and SpaceToDepth, and Gather (an
embedding); Resize is in :mod:`.resize`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..graph import BATCH, _cf, _identity
from ..registry import handles
from ..values import Tensor, _is_const, np
from .common import _axis, _pads

if TYPE_CHECKING:
    from ..importer import _Importer


@handles("Flatten", makes=("flatten",))
def _flatten(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if int(attrs.get("axis", 1)) != 1:
        raise im.fail("Flatten with an axis other than 1 is not supported")
    x = im.same_input(node.input[0])
    im.finish(node, im.emit("flatten", im.node_name(node), [x]), (0,))


@handles("Reshape", makes=("flatten", "reshape", "channel_shuffle", "pixel_unshuffle"))
def _reshape(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if _channel_shuffle(im, position, node) or _pixel_unshuffle(im, position, node):
        return
    t = im.tensor(node.input[0])
    target = [int(d) for d in im.numbers(node.input[1], "shape")]
    if len(target) < 2 or not (target[0] in (BATCH, 0, im.batch) or target[0] == -1 and -1 not in target[1:]):
        raise im.fail("Reshape must keep the batch axis first", got=target[:6],
                      expected="[N or 0 or -1, ...] with the batch size first"
                      + (f" (the input's batch size is {im.batch})" if im.batch > 0 else ""))
    dims = im.onnx_shape(t)
    sample = [dims[i] if d == 0 and i < len(dims) else d for i, d in enumerate(target[1:])]
    if any(not isinstance(d, int) or (d < 1 and d != -1) for d in sample):
        raise im.fail("Reshape target must be numbers", got=target[:6])
    x = im.same_input(node.input[0])
    if len(sample) == 1:
        layer = im.emit("flatten", im.node_name(node), [x])
    else:
        layer = im.emit("reshape", im.node_name(node), [x], shape=sample)
    im.finish(node, layer, _identity(len(im.shapes[layer])))


def _channel_shuffle(im: _Importer, position: int, node: Any) -> bool:
    """Reshape [N, g, C/g, ...] → Transpose(0, 2, 1, ...) → Reshape [N, C, ...] on a channels-first value."""
    t = im.values.get(node.input[0])
    target = im.values.get(node.input[1])
    if not isinstance(t, Tensor) or not _is_const(target) or t.perm != _cf(im.rank(t)) \
            or not getattr(target, "readable", True):
        return False
    dims = im.onnx_shape(t)
    target = [int(d) for d in im.numbers(node.input[1], "shape")]
    if len(target) != len(dims) + 2 or not all(isinstance(d, int) for d in dims):
        return False
    channels = dims[0]
    groups = target[1]
    if groups < 1 or target[2] * groups != channels or target[3:] != dims[1:]:
        return False
    swap = im.single_consumer(node.output[0])
    if not swap or swap[1].op_type != "Transpose":
        return False
    perm = list(im.attrs(swap[1]).get("perm", []))
    if perm != [0, 2, 1, *range(3, len(target))]:
        return False
    merge = im.single_consumer(swap[1].output[0])
    if not merge or merge[1].op_type != "Reshape" or not _is_const(im.values.get(merge[1].input[1])) \
            or not getattr(im.values[merge[1].input[1]], "readable", True):
        return False
    back = [int(d) for d in im.numbers(merge[1].input[1], "shape")]
    if back[1:] != dims:
        return False
    im.done.update((swap[0], merge[0]))
    layer = im.emit("channel_shuffle", im.node_name(merge[1]), [t.layer], groups=groups)
    im.values[merge[1].output[0]] = Tensor(layer, t.perm)
    return True


#: the Transpose of a pixel unshuffle written as Reshape [N, C, H, r, W, r] → Transpose → Reshape
#: [N, C·r², H, W], by channel order: torch.onnx's PixelUnshuffle (crd), ONNX's SpaceToDepth (dcr)
UNSHUFFLE_PERMS = {(0, 1, 3, 5, 2, 4): "crd", (0, 3, 5, 1, 2, 4): "dcr"}


def _constant_shape(im: _Importer, name: str) -> list[int] | None:
    value = im.values.get(name)
    if not _is_const(value) or not getattr(value, "readable", True):
        return None
    return [int(d) for d in im.numbers(name, "shape")]


def _pixel_unshuffle(im: _Importer, position: int, node: Any) -> bool:
    """Reshape [N, C, H, r, W, r] → Transpose → Reshape [N, C·r², H, W] on a channels-first [N, C, rH, rW]."""
    t = im.values.get(node.input[0])
    if not isinstance(t, Tensor) or im.rank(t) != 3 or t.perm != _cf(3):
        return False
    dims = im.onnx_shape(t)
    target = _constant_shape(im, node.input[1])
    if target is None or len(target) != 6 or target[0] not in (BATCH, 0, -1, im.batch) \
            or not all(isinstance(d, int) for d in dims):
        return False
    channels, height, width = dims
    r = target[3]
    if r < 1 or target[5] != r or target[1:] != [channels, height // r, r, width // r, r] \
            or height % r or width % r:
        return False
    move = im.single_consumer(node.output[0])
    if not move or move[1].op_type != "Transpose":
        return False
    mode = UNSHUFFLE_PERMS.get(tuple(im.attrs(move[1]).get("perm", ())))
    merge = im.single_consumer(move[1].output[0])
    if mode is None or not merge or merge[1].op_type != "Reshape":
        return False
    back = _constant_shape(im, merge[1].input[1])
    if back is None or back[0] not in (BATCH, 0, -1, im.batch) or back[1:] != [channels * r * r, height // r,
                                                                              width // r]:
        return False
    im.done.update((move[0], merge[0]))
    layer = im.emit("pixel_unshuffle", im.node_name(merge[1]), [t.layer], factor=r, mode=mode)
    im.values[merge[1].output[0]] = Tensor(layer, t.perm)
    return True


@handles("DepthToSpace", "SpaceToDepth", makes=("pixel_shuffle", "pixel_unshuffle"))
def _depth_to_space(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    """DepthToSpace (mode DCR, ONNX's default and TensorFlow's order, or CRD, PyTorch's PixelShuffle) and
    SpaceToDepth (DCR only)."""
    t = im.tensor(node.input[0])
    if im.rank(t) != 3:
        raise im.fail(f"{node.op_type} needs a 4-D input [N, C, H, W]", got=im.rank(t) + 1, expected=4)
    if "blocksize" not in attrs:
        raise im.fail("attribute 'blocksize' is required")
    r = int(attrs["blocksize"])
    if r < 1:
        raise im.fail(f"attribute 'blocksize' = {r} is not a positive integer", got=r, expected="at least 1")
    mode = "dcr"
    if node.op_type == "DepthToSpace":
        raw = attrs.get("mode", b"DCR")
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        if text not in ("DCR", "CRD"):
            raise im.fail(f"attribute 'mode' = {text} is not an ONNX DepthToSpace mode", got=text,
                          expected="DCR or CRD")
        mode = text.lower()
    kind = "pixel_shuffle" if node.op_type == "DepthToSpace" else "pixel_unshuffle"
    x = im.cf_input(node.input[0])
    im.finish(node, im.emit(kind, im.node_name(node), [x], factor=r, mode=mode), _cf(3))


# a view of the same layer: the walk makes a permute where a handler needs the value in another layout
@handles("Transpose", makes=())
def _transpose(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    perm = list(attrs.get("perm", range(rank, -1, -1)))
    if sorted(perm) != list(range(rank + 1)):
        raise im.fail(f"attribute 'perm' is not a permutation of the rank-{rank + 1} input's axes", got=perm,
                      expected=f"each of 0 to {rank} once")
    if perm[0] != 0:
        raise im.fail("Transpose must keep the batch axis first", got=perm)
    im.values[node.output[0]] = Tensor(t.layer, tuple(t.perm[p - 1] for p in perm[1:]), im.node_name(node))


@handles("Concat", makes=("concat", "class_token"))
def _concat(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    names = [n for n in node.input if n]
    if len(names) == 2 and _is_const(im.values.get(names[0])) and isinstance(im.values.get(names[1]), Tensor):
        _class_token(im, node, attrs, *names)
        return
    tensors = [im.tensor(n) for n in names]
    rank = im.rank(tensors[0])
    axis = _axis(im, attrs, "axis", 1, rank + 1)
    if axis == 0:
        raise im.fail("Concat along the batch axis is not supported")
    perm = tensors[0].perm
    layers = [im.as_perm(t, perm) for t in tensors]
    cn_axis = perm[axis - 1]
    if len(layers) == 1:
        im.values[node.output[0]] = Tensor(layers[0], perm)
        return
    layer = im.emit("concat", im.node_name(node), layers, axis=-1 if cn_axis == rank - 1 else cn_axis)
    im.finish(node, layer, perm)


def _class_token(im: _Importer, node: Any, attrs: dict[str, Any], token_name: str, x_name: str) -> None:
    """A learned token put before the tokens: Concat([token, x], axis 1) on [N, T, d], the token [1, 1, d] (an
    Expand of it over the batch folded to the batch's copies, as torch.onnx writes ViT's class token)."""
    t = im.tensor(x_name)
    token = im.const(token_name, "token")
    rank = im.rank(t)
    axis = _axis(im, attrs, "axis", 1, rank + 1)
    d = im.onnx_shape(t)[-1] if rank == 2 else None
    batch = {1, im.batch} if im.batch > 0 else {1}
    if rank != 2 or axis != 1 or token.ndim != 3 or int(token.shape[0]) not in batch \
            or int(token.shape[1]) != 1 or int(token.shape[2]) != d:
        raise im.fail(f"Concat of a constant of shape {list(token.shape)} before computed tokens is supported as a "
                      "class token", expected=f"a [1, 1, {d if d is not None else 'd'}] constant before [N, T, d] "
                      "tokens, axis 1")
    if token.shape[0] > 1 and getattr(token, "readable", True) and \
            not np.all(im.value(token_name) == im.value(token_name)[:1]):
        raise im.fail("the class token differs between batch entries", hint="one token shared by every sample")
    # tokens held [d, T] (ViT's patches: a conv's channels, flattened, then transposed) are permuted first
    layer = im.emit("class_token", im.node_name(node), [im.as_perm(t, (0, 1))])
    im.keep(f"{layer}.weight", lambda: im.loaded(token)[0, 0].copy())
    im.finish(node, layer, (0, 1))


def _slice_layer(im: _Importer, base: str, t: Tensor, onnx_axis: int, start: int, stop: int | None,
                 step: int) -> str:
    rank = im.rank(t)
    if onnx_axis == 0:
        raise im.fail("Slice along the batch axis is not supported")
    if step < 1:
        raise im.fail("Slice with a negative step is not supported", got=step)
    cn_axis = t.perm[onnx_axis - 1]
    fields: dict[str, Any] = {"axis": -1 if cn_axis == rank - 1 else cn_axis, "start": start}
    if stop is not None:
        fields["stop"] = stop
    if step != 1:
        fields["step"] = step
    return im.emit("slice", base, [t.layer], **fields)


@handles("Slice", makes=("slice", "crop"))
def _slice(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    starts = [int(v) for v in im.numbers(node.input[1], "starts")]
    ends = [int(v) for v in im.numbers(node.input[2], "ends")]
    axes = ([int(v) for v in im.numbers(node.input[3], "axes")] if len(node.input) > 3 and node.input[3]
            else list(range(len(starts))))
    steps = ([int(v) for v in im.numbers(node.input[4], "steps")] if len(node.input) > 4 and node.input[4]
             else [1] * len(starts))
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise im.fail("Slice's starts, ends, axes and steps must have one value per axis sliced",
                      got=[len(starts), len(ends), len(axes), len(steps)], expected="four equal lengths")
    full = rank + 1
    if any(not -full <= a < full for a in axes):
        raise im.fail(f"input 'axes' holds a number that is not an axis of the rank-{full} input", got=axes,
                      expected=f"{-full} to {full - 1}")
    if _crop(im, node, t, starts, ends, axes, steps):
        return
    current = t
    for k, (s, e, a, st) in enumerate(zip(starts, ends, axes, steps)):
        a %= rank + 1
        if a == 0:
            if s == 0 and e >= 2**31:
                continue
            raise im.fail("Slice along the batch axis is not supported")
        stop = None if e >= 2**31 else e
        base = im.node_name(node) if k == len(starts) - 1 else im.node_name(node, f".{k}")
        layer = _slice_layer(im, base, current, a, s, stop, st)
        current = Tensor(layer, current.perm)
    im.values[node.output[0]] = current


def _crop(im: _Importer, node: Any, t: Tensor, starts: list[int], ends: list[int], axes: list[int],
          steps: list[int]) -> bool:
    """A Slice of spatial axes only, step 1, on a channels-first value: a crop."""
    rank = im.rank(t)
    dims = im.onnx_shape(t)
    full = rank + 1
    axes = [a % full for a in axes]
    if rank < 2 or t.perm != _cf(rank) or any(a < 2 for a in axes) or any(st != 1 for st in steps) \
            or not all(isinstance(d, int) for d in dims):
        return False
    cropping = [[0, 0] for _ in range(rank - 1)]
    for s, e, a in zip(starts, ends, axes):
        n = dims[a - 1]
        begin = min(max(s + n if s < 0 else s, 0), n)
        end = min(max(e + n if e < 0 else e, 0), n)
        if end <= begin:
            return False
        cropping[a - 2] = [begin, n - end]
    layer = im.emit("crop", im.node_name(node), [t.layer], cropping=cropping)
    im.finish(node, layer, t.perm)
    return True


@handles("Split", makes=("slice",))
def _split(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    axis = _axis(im, attrs, "axis", 0, rank + 1)
    if len(node.input) > 1 and node.input[1]:
        parts = [int(v) for v in im.numbers(node.input[1], "split", len(node.output))]
    elif "split" in attrs:
        parts = [int(v) for v in attrs["split"]]
    else:
        total = im.onnx_shape(t)[axis - 1] if axis else None
        if not isinstance(total, int):
            raise im.fail("Split of a symbolic axis needs explicit sizes")
        count = len(node.output)
        size = -(-total // count)
        parts = [min(size, total - size * k) for k in range(count)]
    start = 0
    for k, (output, size) in enumerate(zip(node.output, parts)):
        if output:
            layer = _slice_layer(im, im.node_name(node, f".{k}"), t, axis, start, start + size, 1)
            im.values[output] = Tensor(layer, t.perm)
        start += size


#: ONNX Pad's modes as the padding_mode of zero_pad and conv (PyTorch's names)
PAD_MODES = {"constant": "zeros", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


@handles("Pad", makes=("zero_pad",))
def _pad(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    raw = attrs.get("mode", b"constant")
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    if text not in PAD_MODES:
        raise im.fail(f"attribute 'mode' = {text} has no cnncalc equivalent", got=text,
                      expected="constant, reflect, edge or wrap")
    mode = PAD_MODES[text]
    pads = ([int(v) for v in im.numbers(node.input[1], "pads")] if len(node.input) > 1 and node.input[1]
            else [int(v) for v in attrs.get("pads", [])])
    if mode == "zeros" and len(node.input) > 2 and node.input[2] \
            and float(im.value(node.input[2]).reshape(-1)[0]) != 0.0:
        raise im.fail("Pad with a value other than 0 is not supported")
    if len(node.input) > 3 and node.input[3]:
        raise im.fail("Pad with axes is not supported")
    t = im.tensor(node.input[0])
    full = im.rank(t) + 1
    if len(pads) != 2 * full or pads[0] or pads[1] or pads[full] or pads[full + 1] or min(pads) < 0:
        raise im.fail("Pad must pad only the spatial axes, by non-negative amounts", got=pads)
    pairs = [[pads[i], pads[i + full]] for i in range(2, full)]
    if mode != "zeros" and _conv_takes_pads(im, node, t):
        # as torch.onnx writes Conv2d(padding_mode=...): the conv reads the pads and the mode
        flat = [int(v) for pair in zip(*pairs) for v in pair]  # the Conv attribute's order: befores, afters
        im.pending_pads[node.output[0]] = (_pads({"pads": flat}, len(pairs), im), mode)
        im.values[node.output[0]] = t
        return
    x = im.cf_input(node.input[0])
    layer = im.emit("zero_pad", im.node_name(node), [x], padding=pairs,
                    **({"padding_mode": mode} if mode != "zeros" else {}))
    im.finish(node, layer, _cf(full - 1))


def _conv_takes_pads(im: _Importer, node: Any, t: Tensor) -> bool:
    """Whether the Pad's only reader is a Conv with no padding of its own that imports as a conv layer
    (not a depthwise or separable one, which have no padding mode)."""
    reader = im.single_consumer(node.output[0])
    if not reader or reader[1].op_type != "Conv" or reader[1].input[0] != node.output[0] \
            or node.output[0] in im.outputs:
        return False
    attrs = im.attrs(reader[1])
    auto = attrs.get("auto_pad", b"NOTSET")
    weight = im.values.get(reader[1].input[1]) if len(reader[1].input) > 1 else None
    if auto not in (b"NOTSET", "NOTSET", b"VALID", "VALID") or any(attrs.get("pads", [])) or not _is_const(weight):
        return False
    channels, groups, filters = im.onnx_shape(t)[0], int(attrs.get("group", 1)), int(weight.shape[0])
    return groups == 1 or not (groups == channels and filters % channels == 0)


@handles("Gather", makes=("embedding", "slice", "reshape", "flatten"))
def _gather(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    """Rows of a constant table picked by computed ids: an embedding; or one constant index of a computed
    tensor along a sample axis (ViT's class token, ``x[:, 0]``): a slice, then the axis dropped."""
    table = im.values.get(node.input[0])
    if isinstance(table, Tensor) and _is_const(im.values.get(node.input[1])) and im.values.get(node.input[1]).size == 1:
        _gather_one(im, node, table, attrs)
        return
    if not _is_const(table) or table.ndim != 2 or int(attrs.get("axis", 0)) != 0:
        raise im.fail("Gather is supported as an embedding: a constant [vocab, dim] table, axis 0, computed ids")
    x = im.same_input(node.input[1])
    table = im.const(node.input[0], "table")  # an import reads the values now
    layer = im.emit("embedding", im.node_name(node), [x], vocab=int(table.shape[0]), dim=int(table.shape[1]))
    im.keep(f"{layer}.weight", lambda: table)
    im.finish(node, layer, _identity(len(im.shapes[layer])))


def _gather_one(im: _Importer, node: Any, t: Tensor, attrs: dict[str, Any]) -> None:
    """``Gather(x, i, axis)`` of a constant index: a slice [i, i + 1) of that axis, which a scalar index drops (a
    reshape, or a flatten where one axis is left)."""
    rank = im.rank(t)
    axis = _axis(im, attrs, "axis", 0, rank + 1)
    if axis == 0:
        raise im.fail("Gather along the batch axis is not supported")
    size = im.onnx_shape(t)[axis - 1]
    index = int(im.numbers(node.input[1], "indices", 1)[0])
    if not isinstance(size, int) or not -size <= index < size:
        raise im.fail(f"index {index} is not in the axis of size {size}")
    index %= size
    base = im.node_name(node)
    picked = _slice_layer(im, base if im.value(node.input[1]).ndim else f"{base}.slice", t, axis, index, index + 1, 1)
    if im.value(node.input[1]).ndim:  # a [1] index keeps the axis
        im.values[node.output[0]] = Tensor(picked, t.perm)
        return
    held = im.as_perm(Tensor(picked, t.perm), _identity(rank))
    dims = [d for j, d in enumerate(im.onnx_shape(Tensor(held, _identity(rank)))) if j != axis - 1]
    layer = im.emit("flatten", base, [held]) if len(dims) == 1 else im.emit("reshape", base, [held], shape=dims)
    im.finish(node, layer, _identity(len(dims)))
