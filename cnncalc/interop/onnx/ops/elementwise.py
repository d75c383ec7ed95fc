"""Element-wise operators: merges of computed tensors (Add, Sum, Mul, Sub, Max, Min, Mean), an Add or Mul by a
constant (a dense bias, layer_scale, position_embedding), Dropout, and Identity/Cast (the same tensor)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..graph import _identity
from ..registry import handles
from ..values import Tensor, _is_const, np
from .common import f32

if TYPE_CHECKING:
    from ..importer import _Importer

MERGES = {"Add": "add", "Sum": "add", "Mul": "multiply", "Sub": "subtract", "Max": "maximum", "Min": "minimum",
          "Mean": "average"}


@handles(*MERGES, makes=(*dict.fromkeys(MERGES.values()), "layer_scale", "position_embedding", "batchnorm"))
def _merge(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    names = [n for n in node.input if n]
    constants = [n for n in names if _is_const(im.values.get(n))]
    if constants:
        _with_constant(im, node, names, constants)
        return
    tensors = [im.tensor(n) for n in names]
    ranks = {im.rank(t) for t in tensors}
    if len(ranks) == 1:
        perm = tensors[0].perm
        layers = [im.as_perm(t, perm) for t in tensors]
    else:
        perm = _identity(max(ranks))
        layers = [im.as_perm(t, _identity(im.rank(t))) for t in tensors]
    if len(layers) == 1:
        im.values[node.output[0]] = Tensor(layers[0], tensors[0].perm)
        return
    im.finish(node, im.emit(MERGES[node.op_type], im.node_name(node), layers), perm)


def _with_constant(im: _Importer, node: Any, names: list[str], constants: list[str]) -> None:
    tensors = [n for n in names if n not in constants]
    if len(tensors) != 1 or len(names) != 2 or node.op_type not in ("Add", "Mul"):
        raise im.fail(f"{node.op_type} with a constant operand is not supported here")
    t = im.tensor(tensors[0])
    value = im.const(constants[0])
    shape = im.cshape(t)
    rank = im.rank(t)
    channels = shape[-1] if shape else None
    if node.op_type == "Add" and t.layer in im.pending_bias and im.pending_bias[t.layer] == tensors[0] \
            and value.size == channels and im.single_consumer(tensors[0]) is not None:
        im.entries[t.layer]["bias"] = True
        im.keep(f"{t.layer}.bias", lambda: im.loaded(value).reshape(-1))
        del im.pending_bias[t.layer]
        layer = t.layer
        if node.name and f"{node.name}/matmul" == _producer_name(im, tensors[0]):
            layer = im.rename(t.layer, node.name)  # cnncalc's exporter: <layer>/matmul, then the Add <layer>
        im.finish(node, layer, t.perm, fusable=True)
        return
    onnx_shape = im.onnx_shape(t)
    squeezed = tuple(value.shape[1:] if value.ndim == rank + 1 and value.shape[0] == 1 else value.shape)
    if node.op_type == "Mul" and channels is not None and value.size == channels:
        # one factor per channel, along the axis that is cnncalc's channels
        channel_axis = t.perm.index(rank - 1)
        expected = [channels if j == channel_axis else 1 for j in range(rank)]
        if value.size == 1 or list(squeezed)[-rank:] == expected[-len(squeezed):] or value.ndim == 1 \
                and channel_axis == rank - 1:
            layer = im.emit("layer_scale", im.node_name(node), [t.layer])
            im.keep(f"{layer}.weight", lambda: im.loaded(value).reshape(-1))
            im.finish(node, layer, t.perm)
            return
    if node.op_type == "Add" and list(squeezed) == [int(d) if isinstance(d, int) else -1 for d in onnx_shape]:
        layer = im.emit("position_embedding", im.node_name(node), [t.layer])
        im.keep(f"{layer}.weight", lambda: np.transpose(im.loaded(value).reshape(squeezed), np.argsort(t.perm)))
        im.finish(node, layer, t.perm)
        return
    if _fixed_affine(im, node, t, constants[0], value, squeezed, channels):
        return
    raise im.fail(f"{node.op_type} with a constant of shape {list(value.shape)} has no cnncalc layer",
                  expected="a dense bias, one factor per channel (layer_scale) or a full-shape table "
                  "(position_embedding)")


def _fixed_affine(im: _Importer, node: Any, t: Tensor, name: str, value: Any, squeezed: tuple,
                  channels: Any) -> bool:
    """A scalar factor, or a scalar or per-channel offset, on the channels axis: a fixed affine map, as a
    number written in PyTorch code is (no parameters). It is a batchnorm with no counted arrays, as Keras's
    Rescaling imports: ``(x − mean)/√var`` with ``mean = −offset`` and ``var = 1`` (exact), or ``mean = 0`` and
    ``var = 1/factor²`` (a positive factor, within float64 rounding)."""
    last = im.rank(t) - 1
    per_channel = node.op_type == "Add" and value.size == channels and squeezed[-1:] == (channels,) \
        and t.perm.index(last) == last  # the offsets run along the ONNX axis that is cnncalc's channels
    if not isinstance(channels, int) or not (value.size == 1 and len(squeezed) <= last + 1 or per_channel):
        return False
    # read now, in a summary too: the factor's sign decides whether there is a layer at all (one value per
    # channel at most, so reading it costs nothing)
    flat = np.broadcast_to(im.value(name).reshape(-1).astype(np.float64), (channels,))
    if node.op_type == "Mul":
        factor = float(flat[0])
        if not (factor > 0 and np.isfinite(1.0 / factor**2)):
            raise im.fail(f"Mul by the constant {factor:g} has no exact cnncalc layer", got=factor,
                          expected="a positive factor (a fixed scale is a batchnorm: (x − 0)/√(1/factor²))")
        mean, var = np.zeros(channels), np.full(channels, 1.0 / factor**2)
    else:
        mean, var = -flat, np.ones(channels)
    layer = im.emit("batchnorm", im.node_name(node), [t.layer], center=False, scale=False, count_stats=False,
                    epsilon=0.0)
    im.keep(f"{layer}.mean", lambda: mean.copy())
    im.keep(f"{layer}.var", lambda: var.copy())
    im.finish(node, layer, t.perm)
    return True


def _producer_name(im: _Importer, output: str) -> str | None:
    producer = im.producers.get(output)
    return None if producer is None else im.graph.node[producer].name


@handles("Dropout", makes=("dropout",))
def _dropout(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    ratio = attrs.get("ratio", 0.5)
    if len(node.input) > 1 and node.input[1]:
        ratio = float(im.value(node.input[1], "ratio").reshape(-1)[0])
    layer = im.emit("dropout", im.node_name(node), [t.layer], rate=f32(ratio))
    im.values[node.output[0]] = Tensor(layer, t.perm)


@handles("Identity", "Cast", "CastLike", makes=())
def _alias(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    im.values[node.output[0]] = im.tensor(node.input[0])
