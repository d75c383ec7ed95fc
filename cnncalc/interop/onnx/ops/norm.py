"""Normalisation: BatchNormalization, LRN, LayerNormalization, InstanceNormalization (a groupnorm of one
channel per group) and GroupNorm as torch.onnx writes it (Reshape to [N, groups, -1], InstanceNormalization,
Reshape back, Mul by gamma, Add beta).

Which constants are parameters: a per-channel tensor is a learned parameter whatever its values, a scalar 1
(Mul) or 0 (Add) is no parameter. InstanceNormalization's scale of ones and bias of zeros count as no
parameters when they are what torch.onnx writes for ``affine=False`` (PyTorch's default, which counts none): a
``Constant`` node or an initializer named by the exporter (``onnx::…``, ``val_<n>``); an initializer named as
a module's parameter (``norm.weight``) counts, whatever its values."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..graph import BATCH, _cf, _identity
from ..registry import handles, matches
from ..values import Tensor, _is_const, np
from .common import _axis, _broadcasts, f32

if TYPE_CHECKING:
    from ..importer import _Importer


@handles("BatchNormalization", makes=("batchnorm",))
def _batchnorm(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if len([o for o in node.output if o]) > 1:
        raise im.fail("BatchNormalization in training mode is not supported")
    x = im.cf_input(node.input[0])
    gamma, beta, mean, var = (im.const(n, what) for n, what in zip(node.input[1:5], ("scale", "bias", "mean", "var")))
    # PyTorch (where most ONNX files come from) keeps the moving statistics out of its parameter count;
    # cnncalc's exporter says in the node's doc_string which count the spec used
    counts = "count_stats: true" in node.doc_string
    layer = im.emit("batchnorm", im.node_name(node), [x], epsilon=f32(attrs.get("epsilon", 1e-5)),
                    count_stats=counts)
    for key, value in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var)):
        im.keep(f"{layer}.{key}", lambda value=value: value)
    im.finish(node, layer, _cf(len(im.shapes[x])))


@handles("LRN", makes=("lrn",))
def _lrn(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x = im.cf_input(node.input[0])
    layer = im.emit("lrn", im.node_name(node), [x], size=int(attrs["size"]), alpha=f32(attrs.get("alpha", 1e-4)),
                    beta=f32(attrs.get("beta", 0.75)), k=f32(attrs.get("bias", 1.0)))
    im.finish(node, layer, _cf(len(im.shapes[x])))


def _next(im: _Importer, output: str, op: str) -> tuple[int, Any] | None:
    found = im.single_consumer(output)
    return found if found is not None and found[1].op_type == op else None


def _scalar_operand(im: _Importer, node: Any, output: str) -> float | None:
    """The constant scalar ``node`` combines ``output`` with (either operand), or None."""
    names = list(node.input)
    if len(names) != 2 or output not in names:
        return None
    other = names[1 - names.index(output)]
    value = im.values.get(other)
    if not _is_const(value) or value.size != 1 or not getattr(value, "readable", True):
        return None
    return float(im.value(other).reshape(-1)[0])


@matches("Mul", absorbs=("Pow",), makes=("lrn",))
def _lrn_pattern(im: _Importer, position: int, node: Any) -> bool:
    """torch.onnx's dynamo exporter's LocalResponseNorm (size n): x·x → Reshape [N, 1, C, H, W] → Pad the
    channel axis by ⌊n/2⌋ before and ⌊(n−1)/2⌋ after → AveragePool [n, 1, 1] → Squeeze axis 1 → Mul α →
    Add k → Pow β → Div x by it. The legacy exporter squeezes with an ``If`` (:func:`_legacy_squeeze`)."""
    x = node.input[0]
    t = im.values.get(x)
    if len(node.input) != 2 or node.input[1] != x or not isinstance(t, Tensor) or im.rank(t) < 2 \
            or t.perm != _cf(im.rank(t)):
        return False
    dims = im.onnx_shape(t)
    rank = len(dims)
    chain: list[int] = [position]
    step = _next(im, node.output[0], "Reshape")
    if step is None or not _is_const(im.values.get(step[1].input[1])):
        return False
    target = [int(v) for v in im.numbers(step[1].input[1], "shape")]
    if len(target) != rank + 2 or target[1] != 1 or target[0] not in (0, im.batch, BATCH) \
            or [d for d in target[2:] if d != -1] != [d for d, want in zip(dims, target[2:]) if want != -1]:
        return False
    chain.append(step[0])
    pad = _next(im, step[1].output[0], "Pad")
    if pad is None or im.attrs(pad[1]).get("mode", b"constant") not in (b"constant", "constant") \
            or len(pad[1].input) < 2 or not _is_const(im.values.get(pad[1].input[1])) \
            or len(pad[1].input) > 2 and pad[1].input[2] and _scalar_operand(im, pad[1], pad[1].input[0]) != 0.0:
        return False
    pads = [int(v) for v in im.numbers(pad[1].input[1], "pads")]
    full = rank + 2
    if len(pads) != 2 * full or any(v for i, v in enumerate(pads) if i not in (2, full + 2)):
        return False
    before, after = pads[2], pads[full + 2]
    size = before + after + 1
    if before != size // 2 or after != (size - 1) // 2:
        return False
    chain.append(pad[0])
    pool = _next(im, pad[1].output[0], "AveragePool")
    if pool is None:
        return False
    attrs = im.attrs(pool[1])
    if list(attrs.get("kernel_shape", [])) != [size] + [1] * (rank - 1) or any(attrs.get("pads", [])) \
            or any(v != 1 for v in attrs.get("strides", [])) or attrs.get("ceil_mode", 0) \
            or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return False
    chain.append(pool[0])
    squeeze = _next(im, pool[1].output[0], "Squeeze")
    if squeeze is not None:
        if len(squeeze[1].input) < 2 or not _is_const(im.values.get(squeeze[1].input[1])) \
                or [int(v) for v in im.numbers(squeeze[1].input[1], "axes")] not in ([1], [-rank - 2]):
            return False
        chain.append(squeeze[0])
        out = squeeze[1].output[0]
    else:
        legacy = _legacy_squeeze(im, pool[1].output[0], [max(0, im.batch), *dims])
        if legacy is None:
            return False
        chain.extend(legacy[0])
        out = legacy[1]
    values: dict[str, float] = {}
    for op, key in (("Mul", "alpha"), ("Add", "k"), ("Pow", "beta")):
        found = _next(im, out, op)
        number = None if found is None else _scalar_operand(im, found[1], out)
        if found is None or number is None or op == "Pow" and found[1].input[0] != out:
            return False
        values[key] = number
        chain.append(found[0])
        out = found[1].output[0]
    div = _next(im, out, "Div")
    if div is None or list(div[1].input) != [x, out]:
        return False
    chain.append(div[0])
    im.done.update(chain)
    im.node = div[1]
    layer = im.emit("lrn", im.node_name(div[1]), [t.layer], size=size, alpha=f32(values["alpha"]),
                    beta=f32(values["beta"]), k=f32(values["k"]))
    im.finish(div[1], layer, t.perm)
    return True


def _legacy_squeeze(im: _Importer, pooled: str, shape: list[Any]) -> tuple[list[int], str] | None:
    """torch.onnx's legacy LRN drops the pooled axis 1 at run time: ``If(Shape(p)[1] == 1)`` whose then-branch
    is ``Squeeze(p, [1])`` and else-branch ``Identity(p)``, then a Reshape to the input's shape (``shape``),
    which makes either branch the same. The nodes (Shape, Gather, Equal, If, Reshape) and the output, or None."""
    found = _next(im, pooled, "Shape")  # the If reads the pooled value inside its branches, not as an input
    gather = found and _next(im, found[1].output[0], "Gather")
    equal = gather and _next(im, gather[1].output[0], "Equal")
    decision = equal and _next(im, equal[1].output[0], "If")
    if not found or not gather or not equal or not decision:
        return None
    shape_node, branch = found[1], decision[1]
    if list(branch.input) != [equal[1].output[0]] or len(branch.output) != 1 \
            or shape_node.attribute or any(a.name not in ("axis",) for a in gather[1].attribute) \
            or int(im.attrs(gather[1]).get("axis", 0)) != 0 or gather[1].input[0] != shape_node.output[0]:
        return None
    if [int(v) for v in im.numbers(gather[1].input[1], "indices", 1)] != [1] \
            or _scalar_operand(im, equal[1], gather[1].output[0]) != 1.0:
        return None
    branches = {a.name: a.g for a in branch.attribute if a.g is not None}
    if set(branches) != {"then_branch", "else_branch"} or len(branch.attribute) != 2:
        return None
    then, other = branches["then_branch"], branches["else_branch"]
    ops = [n for n in then.node if n.op_type != "Constant"]
    constants = {n.output[0]: n for n in then.node if n.op_type == "Constant"}
    if len(ops) != 1 or ops[0].op_type != "Squeeze" or list(ops[0].input)[:1] != [pooled] \
            or [o.name for o in then.output] != list(ops[0].output) or then.initializer:
        return None
    axes = ops[0].input[1] if len(ops[0].input) > 1 else ""
    made = constants.get(axes)
    value = made.attribute[0].t if made is not None and len(made.attribute) == 1 else None
    if value is None or [int(v) for v in value.to_numpy().reshape(-1)] != [1]:
        return None
    if len(other.node) != 1 or other.node[0].op_type != "Identity" or list(other.node[0].input) != [pooled] \
            or [o.name for o in other.output] != list(other.node[0].output) or other.initializer:
        return None
    back = _next(im, branch.output[0], "Reshape")
    if back is None or not _is_const(im.values.get(back[1].input[1])):
        return None
    target = [int(v) for v in im.numbers(back[1].input[1], "shape")]
    if target[1:] != shape[1:] or target[0] not in (0, im.batch, BATCH):
        return None
    return [found[0], gather[0], equal[0], decision[0], back[0]], back[1].output[0]


@handles("LayerNormalization", makes=("layernorm",))
def _layernorm(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    axis = _axis(im, attrs, "axis", -1, rank + 1)
    if axis == 0:
        raise im.fail("LayerNormalization over the batch axis is not supported")
    x = im.same_input(node.input[0])
    axes = list(range(axis - 1, rank))
    fields: dict[str, Any] = {"axis": -1 if axes == [rank - 1] else axes, "epsilon": f32(attrs.get("epsilon", 1e-5))}
    # a scale of ones or a bias of zeros that is not a parameter is no parameter (:meth:`_Importer.fixed`)
    has_gamma = not im.fixed(node.input[1], 1.0)
    has_beta = len(node.input) > 2 and bool(node.input[2]) and not im.fixed(node.input[2], 0.0)
    if not has_beta:
        fields["center"] = False
    if not has_gamma:
        fields["scale"] = False
    layer = im.emit("layernorm", im.node_name(node), [x], **fields)
    dims = tuple(int(d) for d in im.shapes[x][axis - 1:])
    for index, key, what in [(1, "gamma", "scale")] * has_gamma + [(2, "beta", "bias")] * has_beta:
        value = im.const(node.input[index], what)
        if not _broadcasts(tuple(value.shape), dims):
            raise im.fail(f"{what} has shape {list(value.shape)}", expected=f"{list(dims)} or a shape that broadcasts to it")
        im.keep(f"{layer}.{key}", lambda value=value: np.broadcast_to(value, dims).copy())
    im.finish(node, layer, _identity(rank))


#: initializer names torch.onnx makes up for constants it writes (not a module's parameters)
EXPORTER_NAMES = re.compile(r"onnx::.*|val_\d+|/.*Constant.*")


def _written_by_exporter(im: _Importer, name: str) -> bool:
    producer = im.producers.get(name)
    if producer is not None:
        return im.graph.node[producer].op_type == "Constant"
    return bool(EXPORTER_NAMES.fullmatch(name))


def _identity_affine(im: _Importer, scale: str, bias: str) -> bool:
    """Whether InstanceNormalization's scale and bias are the ones and zeros torch.onnx writes for
    ``affine=False`` (see the module's rule)."""
    if not (_written_by_exporter(im, scale) and _written_by_exporter(im, bias)):
        return False
    gamma, beta = im.values.get(scale), im.values.get(bias)
    if not (_is_const(gamma) and _is_const(beta)) or not getattr(gamma, "readable", True) \
            or not getattr(beta, "readable", True):
        return False
    return bool(np.all(im.value(scale) == 1) and np.all(im.value(bias) == 0))


@handles("InstanceNormalization", makes=("groupnorm",))
def _instance_norm(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if len(node.input) < 3 or not node.input[1] or not node.input[2]:
        raise im.fail("InstanceNormalization takes 3 inputs (x, scale, bias)")
    x = im.cf_input(node.input[0])
    channels = im.shapes[x][-1]
    scale, bias = (im.const(n, what) for n, what in zip(node.input[1:3], ("scale", "bias")))
    for value, what in ((scale, "scale"), (bias, "bias")):
        if tuple(value.shape) != (channels,):
            raise im.fail(f"{what} has shape {list(value.shape)}", expected=[channels])
    fields: dict[str, Any] = {"groups": channels, "epsilon": f32(attrs.get("epsilon", 1e-5))}
    affine = not _identity_affine(im, node.input[1], node.input[2])
    if not affine:
        fields.update(center=False, scale=False)
    layer = im.emit("groupnorm", im.node_name(node), [x], **fields)
    if affine:
        im.keep(f"{layer}.gamma", lambda: im.loaded(scale).reshape(-1))
        im.keep(f"{layer}.beta", lambda: im.loaded(bias).reshape(-1))
    im.finish(node, layer, _cf(len(im.shapes[x])))


@matches("Reshape", absorbs=("InstanceNormalization",), makes=("groupnorm",))
def _group_norm(im: _Importer, position: int, node: Any) -> bool:
    """torch.onnx's GroupNorm: Reshape [0, groups, -1] → InstanceNormalization (ones, zeros) → Reshape back to
    the input's shape → Mul gamma → Add beta (each per channel, or the scalar 1 and 0 of ``affine=False``)."""
    t = im.values.get(node.input[0])
    target = im.values.get(node.input[1])
    if not isinstance(t, Tensor) or not _is_const(target) or target.size != 3 or im.rank(t) < 2 \
            or t.perm != _cf(im.rank(t)) or not getattr(target, "readable", True):
        return False
    dims = im.onnx_shape(t)
    channels = dims[0]
    zero, groups, rest = (int(v) for v in im.numbers(node.input[1], "shape"))
    if zero not in (0, im.batch) or rest != -1 or not isinstance(channels, int) or groups < 1 or channels % groups:
        return False
    norm = im.single_consumer(node.output[0])
    if norm is None or norm[1].op_type != "InstanceNormalization" or len(norm[1].input) < 3:
        return False
    scale, bias = norm[1].input[1:3]
    ones, zeros = im.values.get(scale), im.values.get(bias)
    if not (_is_const(ones) and _is_const(zeros)) or tuple(ones.shape) != (groups,) \
            or tuple(zeros.shape) != (groups,) or not np.all(im.value(scale) == 1) or not np.all(im.value(bias) == 0):
        return False
    back = im.single_consumer(norm[1].output[0])
    if back is None or back[1].op_type != "Reshape" or not _is_const(im.values.get(back[1].input[1])):
        return False
    shape = [int(v) for v in im.numbers(back[1].input[1], "shape")]
    if shape[1:] != [int(d) if isinstance(d, int) else -2 for d in dims] or shape[0] not in (0, im.batch, BATCH):
        return False
    nodes = [position, norm[0], back[0]]
    out = back[1].output[0]
    fields: dict[str, Any] = {"groups": groups, "epsilon": f32(im.attrs(norm[1]).get("epsilon", 1e-5))}
    kept: dict[str, Any] = {}
    for op, key, identity in (("Mul", "gamma", 1.0), ("Add", "beta", 0.0)):
        step = im.single_consumer(out)
        other = None if step is None or step[1].op_type != op or len(step[1].input) != 2 else \
            step[1].input[1] if step[1].input[0] == out else step[1].input[0]
        value = None if other is None else im.values.get(other)
        if other is None or not _is_const(value) or not getattr(value, "readable", True) and value.size == 1:
            fields["scale" if key == "gamma" else "center"] = False
            continue
        if value.size == 1 and float(im.value(other).reshape(-1)[0]) == identity:
            fields["scale" if key == "gamma" else "center"] = False
        elif value.size == channels and tuple(value.shape) in ((channels,) + (1,) * (len(dims) - 1),
                                                              (1, channels) + (1,) * (len(dims) - 1)):
            kept[key] = im.const(other, key)
        else:
            fields["scale" if key == "gamma" else "center"] = False
            break
        assert step is not None
        nodes.append(step[0])
        out = step[1].output[0]
    if "gamma" not in kept and "beta" in kept:
        return False  # an Add of beta with no Mul before it: not how torch writes GroupNorm
    im.done.update(nodes)
    x = im.cf_input(node.input[0])
    im.node = im.graph.node[nodes[-1]]
    layer = im.emit("groupnorm", im.node_name(im.node), [x], **fields)
    for key, value in kept.items():
        im.keep(f"{layer}.{key}", lambda value=value: im.loaded(value).reshape(-1))
    im.values[out] = Tensor(layer, _cf(len(im.shapes[x])))
    return True
