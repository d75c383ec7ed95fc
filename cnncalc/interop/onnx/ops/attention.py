"""Attention as torch.onnx writes ``nn.MultiheadAttention`` (self-attention, both exporters, any opset from 13):
one input projection ``MatMul`` by a ``[d, 3d]`` constant (and its bias), the heads split off by Reshape,
Transpose, Squeeze and Gather, ``softmax(Q·Kᵀ·scale)·V``, the heads joined, an output projection (``Gemm``, or
``MatMul`` and ``Add``), with the Transposes torch writes around it for ``batch_first``.

The nodes between the projections are not matched one by one (each exporter, and each torch release, writes
them differently): the subgraph is every node computed from the projection alone, up to the first value after
the output projection that is shaped as the input again; it is then run here, on a random input and with
random projection weights, beside spec v2's ``attention`` layer given the same weights read as torch lays them
out (query, key, value the thirds of the input projection; the heads consecutive slices of each). The two must
agree to float64 rounding, or the import is refused naming the subgraph: a mask added to the scores, a scale
other than 1/√key_dim, dropout in training mode, attention across the batch axis, anything else are not the
layer. Only the projection weights' shapes are read for the check, so a summary reads none of their values.

:func:`refuse_biased_attention` runs before the walk: a softmax over scores that have a bias added (Swin's
and MaxViT's relative position bias, Swin's shifted-window mask, an ``attn_mask``) has no spec v2 layer, and is
refused by that name instead of at whichever node of the window partition comes first; and so is attention
whose query, key and value come from projections of their own (cross-attention, ``kdim``/``vdim``, a key or
value other than the query), which spec v2's self-attention layer does not compute.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..graph import BATCH, _identity
from ..registry import matches
from ..values import Tensor, _is_const, np

if TYPE_CHECKING:
    from ..importer import _Importer

#: the operators the subgraph between the projections may hold (each run here by :func:`_evaluate`)
INSIDE = frozenset({"Identity", "Cast", "Shape", "Slice", "Concat", "Gather", "Squeeze", "Unsqueeze", "Reshape",
                    "Transpose", "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Sqrt", "Softmax", "Dropout"})
MAX_NODES = 400  # nodes scanned for one attention's subgraph (torch writes under 80)
#: agreement of the subgraph and the layer, relative to the output's largest value: float64 but for the
#: exporter's float32 constants (the dynamo exporter's scale √(1/√k) squared is 0.49999997 for k = 4); a mask
#: or another scale differs by a fraction of the output
TOLERANCE = 1e-6


class _NotAttention(Exception):
    """The subgraph from this node is not attention: the node is left to its own handler."""


def _shape_values(value: Any, batch: int) -> Any:
    """A folded shape computation as numbers for a batch of ``batch``: the importer folds the batch as
    :data:`BATCH` (and its multiples, the batch times the heads)."""
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        return array
    out = array.astype(np.int64).copy()
    flat = out.reshape(-1)
    for k, v in enumerate(flat):
        if v <= BATCH // 2 and v % BATCH == 0:
            flat[k] = (v // BATCH) * batch
    return out


def _zeros_product(a: Any, b: Any) -> Any:
    """Zeros shaped as ``a @ b`` (matrices or stacks of them), or None where numpy's rules for 1-D operands apply;
    a ValueError where the shapes do not multiply, as ``np.matmul`` gives."""
    if a.ndim < 2 or b.ndim < 2:
        return None
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: {a.shape} by {b.shape}")
    return np.zeros((*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1]))


def _run_node(op: str, args: list[Any], attrs: dict[str, Any], opset: int, shapes_only: bool = False) -> Any:
    """One node of :data:`INSIDE` on numpy arrays (float64 for tensors, int64 for shapes). ``shapes_only``: the
    products (MatMul, Gemm) give zeros of their result's shape, uncomputed (a probe reads only shapes; a
    ViT-B/16's subgraph has three products of 30-350 million multiply-adds)."""
    x = args[0]
    if shapes_only and op in ("MatMul", "Gemm"):
        a = x.T if op == "Gemm" and attrs.get("transA", 0) else x
        b = args[1].T if op == "Gemm" and attrs.get("transB", 0) else args[1]
        zeros = _zeros_product(a, b)
        if zeros is not None:
            if op == "Gemm" and len(args) > 2 and args[2] is not None:
                zeros = np.zeros(np.broadcast_shapes(zeros.shape, np.shape(args[2])))
            return zeros
    if op in ("Identity", "Dropout"):
        return x
    if op == "Cast":
        to = int(attrs.get("to", 1))
        return x.astype(np.int64) if to in (6, 7, 2, 3, 4, 5, 12, 13) else x.astype(bool) if to == 9 else \
            x.astype(np.float64)
    if op == "Shape":
        shape = np.array(x.shape, dtype=np.int64)
        return shape[attrs.get("start", 0):attrs.get("end", None)]
    if op == "Slice":
        starts, ends = args[1], args[2]
        axes = args[3] if len(args) > 3 and args[3] is not None else range(len(starts))
        steps = args[4] if len(args) > 4 and args[4] is not None else [1] * len(starts)
        index = [slice(None)] * x.ndim
        for s, e, a, st in zip(starts, ends, axes, steps):
            index[int(a)] = slice(int(s), int(min(max(e, -(2**62)), 2**62)), int(st))
        return x[tuple(index)]
    if op == "Concat":
        return np.concatenate([np.atleast_1d(a) for a in args], axis=int(attrs.get("axis", 0)))
    if op == "Gather":
        return np.take(x, args[1].astype(np.int64), axis=int(attrs.get("axis", 0)))
    if op in ("Squeeze", "Unsqueeze"):
        axes = args[1] if len(args) > 1 and args[1] is not None else attrs.get("axes")
        if op == "Squeeze":
            return np.squeeze(x) if axes is None else np.squeeze(x, axis=tuple(int(a) % x.ndim for a in
                                                                                 np.asarray(axes).reshape(-1)))
        rank = x.ndim + np.asarray(axes).size
        for axis in sorted(int(a) % rank for a in np.asarray(axes).reshape(-1)):
            x = np.expand_dims(x, axis)
        return x
    if op == "Reshape":
        target = [int(d) for d in args[1].reshape(-1)]
        if not attrs.get("allowzero", 0):
            target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
        return x.reshape(target)
    if op == "Transpose":
        return np.transpose(x, attrs.get("perm"))
    if op == "MatMul":
        # contiguous operands, and a weight's product as one 2-D product of every row: numpy's matmul loops over
        # the leading axes of [T, 1, d] @ [d, 3d] one row at a time (the legacy exporter's seq-first ViT: seconds
        # per projection) and over a transposed view's without BLAS
        a, b = np.ascontiguousarray(x), np.ascontiguousarray(args[1])
        if b.ndim == 2 and a.ndim > 2:
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[1])
        return np.matmul(a, b)
    if op == "Gemm":
        a = x.T if attrs.get("transA", 0) else x
        b = args[1].T if attrs.get("transB", 0) else args[1]
        y = float(attrs.get("alpha", 1.0)) * (a @ b)
        return y + float(attrs.get("beta", 1.0)) * args[2] if len(args) > 2 and args[2] is not None else y
    if op in ("Add", "Sub", "Mul", "Div"):
        a, b = x, args[1]
        if op == "Div" and a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return a // b
        return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a, b)
    if op == "Sqrt":
        return np.sqrt(x)
    assert op == "Softmax"
    if opset < 13:  # flattened from the axis on (:mod:`.legacy`)
        axis = int(attrs.get("axis", 1)) % x.ndim
        flat = x.reshape(*x.shape[:axis], -1)
        flat = np.exp(flat - flat.max(axis=-1, keepdims=True))
        return (flat / flat.sum(axis=-1, keepdims=True)).reshape(x.shape)
    axis = int(attrs.get("axis", -1))
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class _Subgraph:
    """The nodes of one attention, found from its first node (a Transpose or the input projection)."""

    def __init__(self, im: _Importer, position: int, node: Any) -> None:
        self.im = im
        self.first = node
        self.entry = node.input[0]  # the tensor the attention reads (before a batch-moving Transpose)
        self.positions: list[int] = []
        self.exit = ""
        self.projection: Any = None  # the input projection MatMul
        self.in_bias: Any = None  # (node, its constant input) or None
        self.out: Any = None  # the output projection node (Gemm or MatMul)
        self.out_bias: Any = None
        self.softmax: Any = None

    def weight_shape(self, name: str) -> tuple[int, ...]:
        value = self.im.values.get(name)
        return tuple(int(d) for d in value.shape)


def _find(im: _Importer, position: int, node: Any) -> _Subgraph | None:
    """The subgraph of an attention starting at ``node``, or None when there is none."""
    entry = im.values.get(node.input[0]) if node.input else None
    if not isinstance(entry, Tensor):
        return None
    dims = im.onnx_shape(entry)
    if len(dims) < 2 or not all(isinstance(d, int) for d in dims):
        return None
    d = dims[-1]
    if node.op_type == "Transpose":
        perm = list(im.attrs(node).get("perm", []))
        users = im.consumers.get(node.output[0], [])
        if not perm or perm[0] == 0 or len(users) != 1:
            return None
        projection = im.graph.node[users[0]]
        if projection.op_type != "MatMul" or projection.input[0] != node.output[0]:
            return None
    else:
        projection = node
    if len(projection.input) != 2 or not _is_const(im.values.get(projection.input[1])):
        return None
    shape = tuple(int(v) for v in im.values.get(projection.input[1]).shape)
    if shape != (d, 3 * d):
        return None
    sub = _Subgraph(im, position, node)
    sub.projection = projection
    # the nodes computed from the first node alone, in the walk's order, until the output projection's
    # result is shaped as the input again
    inside = {o for o in node.output if o}
    order = im.order
    start = order.index(position) if position in order else 0
    seen_softmax = False
    for k in order[start + 1:start + 1 + MAX_NODES]:
        if k in im.done:
            continue
        n = im.graph.node[k]
        # a value of the subgraph is known by name (looking it up would try to fold its producers each time)
        if not any(name in inside for name in n.input):
            continue
        if any(name and name not in inside and not _is_const(im.values.get(name)) for name in n.input):
            continue
        if n.domain not in ("", "ai.onnx") or n.op_type not in INSIDE:
            if seen_softmax:
                raise im.fail(f"node '{n.name or '?'}' ({n.op_type}) is inside an attention's subgraph, which "
                              "spec v2's attention layer does not compute")
            return None
        sub.positions.append(k)
        inside.update(o for o in n.output if o)
        if n.op_type == "Softmax":
            if seen_softmax:
                return None
            seen_softmax = True
            sub.softmax = n
        if seen_softmax and sub.out is None and n.op_type in ("Gemm", "MatMul") and len(n.input) >= 2 \
                and _is_const(im.values.get(n.input[1])) and sub.softmax is not n:
            sub.out = n
        if sub.out is not None and len(n.output) == 1:
            sub.exit = n.output[0]
            if _exit_shape(im, sub, n, dims):
                break
    else:
        return None
    if not seen_softmax or sub.out is None:
        return None
    return sub


def _exit_shape(im: _Importer, sub: _Subgraph, node: Any, dims: list[int]) -> bool:
    """Whether ``node`` (after the output projection) ends the attention: its result is shaped as its input
    (batch first), worked out by running the subgraph so far on zeros."""
    try:
        values = _evaluate(im, sub, None, im.batch if im.batch > 0 else 2, probe=True)
    except _NotAttention:
        return False
    out = values.get(node.output[0])
    batch = im.batch if im.batch > 0 else 2
    return out is not None and list(out.shape) == [batch, *dims]


def _evaluate(im: _Importer, sub: _Subgraph, weights: dict[str, Any] | None, batch: int, probe: bool = False,
              x: Any = None) -> dict[str, Any]:
    """Run the subgraph on ``x`` (zeros for a ``probe``) with the projection weights ``weights`` (random ones of
    the file's shapes if None)."""
    entry = im.values.get(sub.entry)
    dims = im.onnx_shape(entry)
    values: dict[str, Any] = {sub.entry: np.zeros([batch, *dims]) if x is None else x}
    nodes = [sub.first, *(im.graph.node[k] for k in sub.positions)]
    for n in nodes:
        args: list[Any] = []
        for name in n.input:
            if not name:
                args.append(None)
            elif name in values:
                args.append(values[name])
            elif weights is not None and name in weights:
                args.append(weights[name])
            else:
                value = im.values.get(name)
                if not _is_const(value):
                    raise _NotAttention(name)
                if weights is None and not getattr(value, "readable", True):  # a summary's weight: its shape
                    args.append(np.zeros(value.shape))
                elif not getattr(value, "readable", True):
                    raise im.fail(f"constant '{name}' of node '{n.name or '?'}' ({n.op_type}) inside an attention "
                                  "is too large for a summary to read", hint="cnncalc import reads every value")
                else:
                    args.append(_shape_values(im.value(name), batch))
        if n.op_type == "Dropout" and not probe:
            mode = args[2] if len(args) > 2 else None
            if mode is not None and bool(np.asarray(mode).reshape(-1)[0]):
                raise im.fail(f"node '{n.name or '?'}' (Dropout) is in training mode inside an attention",
                              hint="export the model in inference mode (model.train(False))")
        attrs = im.attrs(n)
        try:
            result = _run_node(n.op_type, [np.asarray(a, dtype=np.float64) if a is not None and a.dtype.kind == "f"
                                           else a for a in args], attrs, im.opset, shapes_only=probe)
        except (ValueError, IndexError, TypeError) as error:
            if probe:
                raise _NotAttention(str(error)) from None
            raise im.fail(f"node '{n.name or '?'}' ({n.op_type}) inside an attention cannot be run: "
                          f"{str(error)[:120]}") from None
        values[n.output[0]] = np.asarray(result)
    return values


def _roles(im: _Importer, sub: _Subgraph) -> None:
    """The biases: an Add of a constant right after the input projection; the output projection's C (Gemm) or
    an Add of a constant right after it (MatMul)."""
    for attr, node in (("in_bias", sub.projection), ("out_bias", sub.out)):
        if attr == "out_bias" and node.op_type == "Gemm":
            if len(node.input) > 2 and node.input[2]:
                sub.out_bias = (node, node.input[2])
            continue
        users = im.consumers.get(node.output[0], [])
        if len(users) == 1 and im.graph.node[users[0]].op_type == "Add":
            add = im.graph.node[users[0]]
            others = [n for n in add.input if n != node.output[0]]
            if len(others) == 1 and _is_const(im.values.get(others[0])):
                setattr(sub, attr, (add, others[0]))


def _layer_weights(im: _Importer, sub: _Subgraph, heads: int, read: Any) -> dict[str, Any]:
    """The attention layer's weights from the projections' (``read(name)`` gives a constant's values): the
    input projection's thirds are Q, K, V, each head a consecutive slice; the output projection as Gemm
    computes it."""
    w_in = read(sub.projection.input[1])
    d = w_in.shape[0]
    k = d // heads
    out: dict[str, Any] = {}
    for index, part in enumerate(("query", "key", "value")):
        out[f"{part}.weight"] = w_in[:, index * d:(index + 1) * d].reshape(d, heads, k)
        if sub.in_bias is not None:
            out[f"{part}.bias"] = np.broadcast_to(read(sub.in_bias[1]), (3 * d,))[index * d:(index + 1) * d] \
                .reshape(heads, k)
    node = sub.out
    w_out = read(node.input[1])
    bias = None
    if node.op_type == "Gemm":
        attrs = im.attrs(node)
        if attrs.get("transA", 0):
            raise _NotAttention("transA")
        w_out = float(attrs.get("alpha", 1.0)) * (w_out.T if attrs.get("transB", 0) else w_out)
        if sub.out_bias is not None:
            bias = float(attrs.get("beta", 1.0)) * read(sub.out_bias[1])
    elif sub.out_bias is not None:
        bias = read(sub.out_bias[1])
    if w_out.ndim != 2 or w_out.shape[0] != d:
        raise _NotAttention("output projection")
    units = w_out.shape[1]
    out["output.weight"] = w_out.reshape(heads, k, units)
    if bias is not None or sub.in_bias is not None:
        out["output.bias"] = np.zeros(units) if bias is None else np.broadcast_to(bias, (units,)).reshape(units)
    return out


def _describe(sub: _Subgraph) -> str:
    first = sub.first
    return f"the attention from node '{first.name or '?'}' ({first.op_type}) to node '{sub.out.name or '?'}'"


@matches("Transpose", "MatMul", makes=("attention",), absorbs=("Softmax", "Gemm", "Gather", "Squeeze", "Unsqueeze"))
def _multihead_attention(im: _Importer, position: int, node: Any) -> bool:
    sub = _find(im, position, node)
    if sub is None:
        return False
    _roles(im, sub)
    # torch's dynamo exporter leaves out a bias of zeros (nn.MultiheadAttention's output bias starts at zero):
    # an input bias without an output bias is torch's bias=True, the output bias zeros
    if sub.in_bias is None and sub.out_bias is not None:
        raise im.fail(f"{_describe(sub)} has a bias on its output projection only, which spec v2's attention "
                      "layer (a bias on all four projections or none) does not compute")
    t = im.values.get(sub.entry)
    dims = im.onnx_shape(t)
    names = [sub.projection.input[1], sub.out.input[1]] + [role[1] for role in (sub.in_bias, sub.out_bias) if role]
    signature = _signature(im, sub, names, dims)
    known = im.attention_checks.get(signature) if signature is not None else None
    if known is None:
        heads, units = _check(im, sub, names, dims)
        if signature is not None:
            im.attention_checks[signature] = (heads, units)
    else:  # the same subgraph as one checked before (a ViT's next encoder block): the same verdict
        heads, units = known
    _emit(im, position, node, sub, dims, heads, units)
    return True


def _signature(im: _Importer, sub: _Subgraph, names: list[str], dims: list[int]) -> tuple[Any, ...] | None:
    """What the check of a subgraph depends on: its nodes' operators and attributes, where each input comes
    from (a value of the subgraph, a projection weight by its role and shape, another constant by its bytes),
    and the input's shape; None where a constant cannot be read (a summary's weight)."""
    made: dict[str, tuple[int, int]] = {sub.entry: (-1, 0)}
    nodes = [sub.first, *(im.graph.node[k] for k in sub.positions)]
    parts: list[Any] = [tuple(dims), im.batch, im.opset]
    for index, n in enumerate(nodes):
        attrs = tuple(sorted((key, repr(np.asarray(v).tolist()) if isinstance(v, np.ndarray) else repr(v))
                             for key, v in im.attrs(n).items()))
        inputs: list[Any] = []
        for name in n.input:
            if not name:
                inputs.append(None)
            elif name in made:
                inputs.append(made[name])
            elif name in names:
                inputs.append(("weight", names.index(name), sub.weight_shape(name)))
            else:
                value = im.values.get(name)
                if not _is_const(value) or not getattr(value, "readable", True):
                    return None
                array = np.asarray(im.value(name))
                inputs.append((array.dtype.str, array.shape, array.tobytes()))
        parts.append((n.op_type, n.domain, attrs, tuple(inputs), n is sub.projection, n is sub.out,
                      n is sub.softmax, n.output[0] == sub.exit))
        made.update({o: (index, k) for k, o in enumerate(n.output) if o})
    return tuple(parts)


def _check(im: _Importer, sub: _Subgraph, names: list[str], dims: list[int]) -> tuple[int, int]:
    """The heads and output width of the attention, after running its subgraph beside spec v2's layer (an
    import error where they differ)."""
    batch = im.batch if im.batch > 0 else 2
    # the heads: the softmax's scores are [N·heads, T, T] or [N, heads, T, T]
    probe = _evaluate(im, sub, None, batch, probe=True)
    scores = probe[sub.softmax.input[0]].shape
    d = dims[-1]
    heads = math.prod(scores[:-2]) // batch if len(scores) >= 3 else 0
    tokens = math.prod(dims[:-1])
    if len(scores) >= 3 and scores[-1] == batch and scores[-1] != tokens:
        raise im.fail(f"{_describe(sub)} attends across the model's first (batch) axis of {batch} (as "
                      "nn.MultiheadAttention(batch_first=False) applied to the model's input does), which no cnncalc "
                      "layer mixes", hint="give the model batch-first input (batch_first=True, or transpose first)")
    if heads < 1 or d % heads:
        raise im.fail(f"{_describe(sub)} has scores of shape {list(scores)}, not [N·heads, T, T]")
    # run the subgraph with random projection weights beside the layer given the same weights
    rng = np.random.default_rng(0)
    # weights of unit gain (scores of order one, where a float32 scale's rounding stays far below TOLERANCE)
    trial = {name: rng.standard_normal(sub.weight_shape(name)) / math.sqrt(d) for name in names}
    x = rng.standard_normal([batch, *dims])
    got = _evaluate(im, sub, trial, batch, x=x)[sub.exit]
    from ....layers.attention import Attention

    try:
        weights = _layer_weights(im, sub, heads, lambda name: trial[name])
    except (_NotAttention, ValueError) as error:
        raise im.fail(f"{_describe(sub)} is not multi-head attention ({error})") from None
    units = weights["output.weight"].shape[-1]
    layer = Attention("attention", "check", 1, ["input"],
                      Attention.parse_fields("attention", {"heads": heads, "bias": sub.in_bias is not None,
                                                          **({"output_dim": units} if units != d else {})}))
    want = layer.forward([x], weights, (*dims[:-1], units))
    if got.shape != want.shape or not np.abs(got - want).max() <= TOLERANCE * max(np.abs(want).max(), 1.0):
        between = [im.graph.node[k] for k in sub.positions]
        extra = [n for n in between if n.op_type in ("Add", "Sub") and n is not (sub.in_bias or (None,))[0]
                 and n is not (sub.out_bias or (None,))[0]]
        named = f" (node '{extra[0].name or '?'}' ({extra[0].op_type}): a mask or bias on the scores?)" if extra else ""
        raise im.fail(f"{_describe(sub)} does not compute spec v2's multi-head attention{named}: cnncalc's attention "
                      "has no mask, no bias on the scores, its scale 1/√key_dim, and no dropout")
    return heads, units


def _emit(im: _Importer, position: int, node: Any, sub: _Subgraph, dims: list[int], heads: int, units: int) -> None:
    """The attention layer in place of its checked subgraph, with the file's weights."""
    t = im.values.get(sub.entry)
    d = dims[-1]
    im.done.update(sub.positions)
    inside = {o for k in sub.positions for o in im.graph.node[k].output} | set(node.output)
    for name in inside - {sub.exit}:
        users = [u for u in im.consumers.get(name, []) if u not in im.done and u != position]
        if users or name in im.outputs:
            user = im.graph.node[users[0]] if users else None
            raise im.fail(f"{_describe(sub)}: its value '{name}' is also used by "
                          + (f"node '{user.name or '?'}' ({user.op_type})" if user else "the model's outputs")
                          + ", which spec v2's attention layer does not give (only its output)")
    x_layer = im.as_perm(t, _identity(len(dims)))
    im.node = im.graph.node[im.producers[sub.exit]]
    fields: dict[str, Any] = {"heads": heads, "bias": sub.in_bias is not None}
    if units != d:
        fields["output_dim"] = units
    # the legacy exporter names nodes after the module (/encoder/.../self_attention/MatMul): the module's name
    module = sub.projection.name.rsplit("/", 1)[0].strip("/") if "/" in sub.projection.name else ""
    name = im.emit("attention", module or im.node_name(sub.projection, ".attention"), [x_layer], **fields)
    if im.with_weights:
        real = _layer_weights(im, sub, heads, lambda name: im.value(name).astype(np.float32))
        for key, value in real.items():
            im.keep(f"{name}.{key}", lambda value=value: np.ascontiguousarray(value))
    im.values[sub.exit] = Tensor(name, _identity(len(dims)))


#: operators between an attention's scores (a MatMul of two computed tensors) and its Softmax
_SCORE_STEPS = frozenset({"Add", "Sub", "Where", "Reshape", "Mul", "Div", "Transpose", "Unsqueeze", "Squeeze",
                          "Cast", "Identity"})


def _producer(im: _Importer, name: str) -> Any:
    k = im.producers.get(name)
    return None if k is None else im.graph.node[k]


def _bias_kind(im: _Importer, name: str) -> str:
    """What a value added to attention scores is, from the nodes computing it (a short walk back)."""
    seen: set[str] = set()
    todo = [name]
    ops: set[str] = set()
    while todo and len(seen) < 64:
        value = todo.pop()
        node = _producer(im, value)
        if value in seen or node is None:
            continue
        seen.add(value)
        ops.add(node.op_type)
        todo.extend(n for n in node.input if n)
    if "Sigmoid" in ops:
        return "a continuous relative position bias (Swin V2's MLP of the offsets)"
    if "Gather" in ops:
        return "a relative position bias (a table gathered by each pair's offset: Swin, MaxViT)"
    return "a bias or mask (Swin's shifted-window mask, an attn_mask)"


def refuse_biased_attention(im: _Importer) -> None:
    """Before the walk: a Softmax over attention scores (a MatMul of two computed tensors) that have a value
    added on the way has no spec v2 layer; refused by that name, not at a node of the window partition
    (torchvision's Swin and MaxViT write their relative position bias so)."""
    planned = {k for positions in im.window_entries.values() for k in positions}  # window attentions (.window)
    planned |= im.partition_softmaxes  # MaxViT's (.partition)
    for position in im.order:
        node = im.graph.node[position]
        if node.op_type != "Softmax" or node.domain not in ("", "ai.onnx") or position in im.done \
                or position in planned:
            continue
        added: list[Any] = []
        todo, seen = [node.input[0]], 0
        while todo and seen < 24:  # breadth first: an Add on the way is met before the scores
            seen += 1
            step = _producer(im, todo.pop(0))
            if step is None or _is_const(im.values.get(step.output[0])):
                continue
            computed = [n for n in step.input if n and not _is_const(im.values.get(n))]
            if step.op_type in ("MatMul", "Einsum") and len(computed) == 2:  # MaxViT writes Q·Kᵀ as an Einsum
                if added:
                    add = added[0]
                    bias = [n for n in add.input if n and _producer(im, n) is not step]
                    kind = "a constant bias or mask (a relative position bias gathered from its table, Swin's " \
                        "shifted-window mask, an attn_mask)" if bias and _is_const(im.values.get(bias[-1])) else \
                        _bias_kind(im, bias[-1]) if bias else "a bias"
                    im.node = node
                    raise im.fail(f"attention whose scores (node '{step.name or '?'}', {step.op_type}) have {kind} added "
                                  f"(node '{add.name or '?'}', {add.op_type}) before this softmax has no spec v2 "
                                  "layer: spec v2's attention adds nothing to its scores (torchvision's Swin and "
                                  "MaxViT are not imported)")
                break
            if step.op_type not in _SCORE_STEPS:
                continue
            if step.op_type in ("Add", "Sub", "Where"):
                added.append(step)
            todo.extend(computed)
    im.node = None


def _from_constants(im: _Importer, name: str, known: dict[str, bool]) -> bool:
    """Whether a value is computed from constants alone (a weight the folding left, as torch's dynamo exporter's
    ``Split`` of ``in_proj_weight`` into separate projections)."""
    todo = [name]
    while todo:
        value = todo[-1]
        if value in known:
            todo.pop()
            continue
        k = im.producers.get(value)
        if _is_const(im.values.get(value)):
            known[value] = True
        elif k is None or len(known) > 256:
            known[value] = False
        else:
            inputs = [n for n in im.graph.node[k].input if n]
            pending = [n for n in inputs if n not in known]
            if pending:
                todo.extend(pending)
                continue
            known[value] = all(known[n] for n in inputs)
        todo.pop()
    return known[name]


def _projections(im: _Importer, name: str, known: dict[str, bool]) -> set[int]:
    """The projections a value of an attention comes from, a short walk back: each ``MatMul`` or ``Gemm`` of
    one computed tensor by a constant met first on each path (none past a product of two computed tensors)."""
    found: set[int] = set()
    todo, seen = [name], set[str]()
    while todo and len(seen) < 64:
        value = todo.pop()
        k = im.producers.get(value)
        if value in seen or k is None or _from_constants(im, value, known):
            continue
        seen.add(value)
        node = im.graph.node[k]
        if node.op_type == "Shape":  # a size (the legacy exporter's scale from the query's): not the values
            continue
        computed = [n for n in node.input if n and not _from_constants(im, n, known)]
        if node.op_type in ("MatMul", "Gemm"):
            if len(computed) == 1 and computed[0] == node.input[0]:
                found.add(k)
            continue
        todo.extend(computed)
    return found


def refuse_cross_attention(im: _Importer) -> None:
    """Before the walk: attention (a Softmax of a MatMul of two computed tensors, then a MatMul by a computed
    tensor) whose query, key and value do not all come from one input projection is not the self-attention
    of spec v2's layer; refused by that name, not at the Transpose torch writes before it."""
    for position in im.order:
        node = im.graph.node[position]
        if node.op_type != "Softmax" or node.domain not in ("", "ai.onnx") or position in im.done:
            continue
        scores = _producer(im, node.input[0])
        users = [im.graph.node[k] for k in im.consumers.get(node.output[0], [])]
        if scores is None or scores.op_type != "MatMul" or len(users) != 1 or users[0].op_type != "MatMul" \
                or users[0].input[0] != node.output[0] \
                or any(not n or _is_const(im.values.get(n)) for n in (*scores.input, users[0].input[1])):
            continue
        known: dict[str, bool] = {}
        sides = [_projections(im, n, known) for n in (*scores.input, users[0].input[1])]
        if not all(sides) or len(set().union(*sides)) == 1:
            continue  # one input projection (or no projection found): left to the attention's own match
        first = [im.graph.node[min(side)] for side in sides]
        sources = [f.input[0] for f in first]
        named = ", ".join(f"{role} by node '{f.name or '?'}' ({f.op_type})" for role, f in
                          zip(("query", "key", "value"), first))
        kind = f"of different tensors (cross-attention: the query from '{sources[0]}', the key from " \
            f"'{sources[1]}', the value from '{sources[2]}')" if len(set(sources)) > 1 else "of the same tensor"
        im.node = node
        raise im.fail(f"attention whose query, key and value are projected separately ({named}), {kind}, has "
                      "no spec v2 layer: cnncalc imports self-attention as nn.MultiheadAttention writes it, one "
                      "[d, 3d] input projection of one tensor (query is key is value, no kdim/vdim)")
    im.node = None
