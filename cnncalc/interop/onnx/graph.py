"""Graph utilities apart from the operators: the layouts a value is held in (and the input's), the order of
the nodes (a cycle found and named) and constant folding (``Shape → Gather → Concat → Reshape`` as
``torch.onnx`` writes it).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ...errors import CnnCalcError
from . import proto  # its caps are read when used (tests lower them)
from .proto import FUNCTION_DOMAIN, describe_count, element_count
from .values import Lazy, Tensor, np

if TYPE_CHECKING:
    from .importer import _Importer

BATCH = -(2**40)  # the batch size inside a folded shape computation


def _cf(rank: int) -> tuple[int, ...]:
    """Channels first: ONNX [C, H, W] of a cnncalc [H, W, C]."""
    return (rank - 1, *range(rank - 1)) if rank >= 2 else tuple(range(rank))


def _identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def _cycle(nodes: list[Any], producers: dict[str, int], consumers: dict[str, list[int]]) -> list[int]:
    """The positions of the nodes on one cycle, in the order data flows, from the earliest node; [] if there
    is none. Kahn's algorithm, then a walk back along unfinished inputs: linear in nodes and edges.

    >>> from types import SimpleNamespace as N
    >>> nodes = [N(input=["x", "b"], output=["a"]), N(input=["a"], output=["b"]), N(input=["a"], output=["y"])]
    >>> _cycle(nodes, {"a": 0, "b": 1, "y": 2}, {"x": [0], "b": [0], "a": [1, 2]})
    [0, 1]
    """
    waiting = [sum(1 for name in node.input if name in producers) for node in nodes]
    ready = [k for k, count in enumerate(waiting) if count == 0]
    while ready:
        k = ready.pop()
        for name in dict.fromkeys(nodes[k].output):
            if producers.get(name) == k:
                for user in consumers.get(name, []):
                    waiting[user] -= 1
                    if waiting[user] == 0:
                        ready.append(user)
    stuck = next((k for k, count in enumerate(waiting) if count), None)
    if stuck is None:
        return []
    # a node left waiting waits on a producer left waiting, so walking back from one comes round
    seen: dict[int, int] = {}
    walk: list[int] = []
    k = stuck
    while k not in seen:
        seen[k] = len(walk)
        walk.append(k)
        k = next(producers[name] for name in nodes[k].input if name in producers and waiting[producers[name]])
    cycle = walk[seen[k]:][::-1]
    first = cycle.index(min(cycle))
    return cycle[first:] + cycle[:first]


def topological_order(nodes: list[Any], producers: dict[str, int], consumers: dict[str, list[int]]) -> list[int]:
    """The nodes' positions in an order where each comes after the nodes computing its inputs, the file's
    order kept where it already is one (a graph with a cycle is refused before).

    >>> from types import SimpleNamespace as N
    >>> nodes = [N(input=["a"], output=["y"]), N(input=["x"], output=["a"]), N(input=["x"], output=["b"])]
    >>> topological_order(nodes, {"y": 0, "a": 1, "b": 2}, {"a": [0], "x": [1, 2]})
    [1, 0, 2]
    """
    import heapq

    waiting = [sum(1 for name in node.input if name in producers) for node in nodes]
    ready = [k for k, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        k = heapq.heappop(ready)
        order.append(k)
        for name in dict.fromkeys(nodes[k].output):
            if producers.get(name) == k:
                for user in consumers.get(name, []):
                    waiting[user] -= 1
                    if waiting[user] == 0:
                        heapq.heappush(ready, user)
    return order


# ---------------------------------------------------------------- constant folding


def _constant(attrs: dict[str, Any]) -> Any:
    """A Constant node's one attribute: value (a tensor), value_float(s) or value_int(s)."""
    if len(attrs) != 1:
        raise CnnCalcError(f"a Constant node has one attribute, not {len(attrs)}")
    (key, value), = attrs.items()
    if key == "value":
        return value
    if key in ("value_float", "value_floats"):
        return np.array(value, dtype=np.float32)
    if key in ("value_int", "value_ints"):
        return np.array(value, dtype=np.int64)
    raise CnnCalcError(f"a Constant with {key} is not supported", expected="value, value_float(s) or value_int(s)")


def _fold_gather(args: list[Any], attrs: dict[str, Any]) -> list[Any]:
    return [np.take(args[0], args[1].astype(np.int64), axis=attrs.get("axis", 0))]


def _fold_unsqueeze(args: list[Any], attrs: dict[str, Any]) -> list[Any]:
    axes = args[1] if len(args) > 1 and args[1] is not None else attrs["axes"]
    value = args[0]
    rank = value.ndim + len(axes)
    for axis in sorted(int(a) % rank for a in np.asarray(axes).reshape(-1)):
        value = np.expand_dims(value, axis)
    return [value]


def _fold_squeeze(args: list[Any], attrs: dict[str, Any]) -> list[Any]:
    axes = args[1] if len(args) > 1 and args[1] is not None else attrs.get("axes")
    if axes is None:
        return [np.squeeze(args[0])]
    return [np.squeeze(args[0], axis=tuple(int(a) for a in np.asarray(axes).reshape(-1)))]


def _fold_slice(args: list[Any], attrs: dict[str, Any]) -> list[Any]:
    data, starts, ends = args[0], args[1], args[2]
    axes = args[3] if len(args) > 3 and args[3] is not None else range(len(starts))
    steps = args[4] if len(args) > 4 and args[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[int(a)] = slice(int(s), int(min(max(e, -(2**62)), 2**62)), int(st))
    return [data[tuple(index)]]


def _fold_reshape(args: list[Any], attrs: dict[str, Any]) -> list[Any]:
    target = [int(d) if d != 0 else args[0].shape[i] for i, d in enumerate(args[1])]
    return [args[0].reshape(target)]


def _folded_dims(op: str, args: list[Any], attrs: dict[str, Any]) -> list[int] | None:
    """The shape a fold that can grow its inputs will make (broadcasting, ConstantOfShape, Expand, Tile, Gather),
    worked out without numpy allocating it; None for the other folds, and for arguments the fold itself
    will refuse."""
    try:
        if op in ("ConstantOfShape", "Expand"):
            target = args[0] if op == "ConstantOfShape" else args[1]
            if target.size > proto.MAX_DIMS:
                return [2**62] * 3  # no shape has that many dims: refused as too large
            dims = [int(d) for d in target.reshape(-1)]
            if op == "Expand":
                dims = list(np.broadcast_shapes(args[0].shape, tuple(dims)))
        elif op in ("Add", "Sub", "Mul", "Div", "Equal", "Where"):
            dims = list(np.broadcast_shapes(*(a.shape for a in args if a is not None)))
        elif op == "Tile":
            repeats = [int(r) for r in args[1].reshape(-1)]
            if len(repeats) != args[0].ndim:
                return None
            dims = [d * r for d, r in zip(args[0].shape, repeats)]
        elif op == "Gather":
            data, axis = args[0], int(attrs.get("axis", 0)) % max(args[0].ndim, 1)
            dims = [*data.shape[:axis], *args[1].shape, *data.shape[axis + 1:]]
        else:
            return None
    except (ValueError, TypeError, IndexError, OverflowError, AttributeError):
        return None
    return None if any(d < 0 for d in dims) else dims


FOLDABLE: dict[str, Any] = {
    "Constant": lambda args, attrs: [_constant(attrs)],
    "Identity": lambda args, attrs: [args[0]],
    "Cast": lambda args, attrs: [args[0]],
    "Gather": _fold_gather,
    "Unsqueeze": _fold_unsqueeze,
    "Squeeze": _fold_squeeze,
    "Concat": lambda args, attrs: [np.concatenate([np.atleast_1d(a) for a in args], axis=attrs.get("axis", 0))],
    "Slice": _fold_slice,
    "Reshape": _fold_reshape,
    "Add": lambda args, attrs: [args[0] + args[1]],
    "Sub": lambda args, attrs: [args[0] - args[1]],
    "Mul": lambda args, attrs: [args[0] * args[1]],
    "Div": lambda args, attrs: [args[0] // args[1] if args[0].dtype.kind in "iu" else args[0] / args[1]],
    "Sqrt": lambda args, attrs: [np.sqrt(args[0])],
    # torch's legacy exporter works out nn.MultiheadAttention's head size with a Mod of constants
    "Mod": lambda args, attrs: [np.fmod(args[0], args[1]) if attrs.get("fmod", 0) else np.mod(args[0], args[1])],
    "Transpose": lambda args, attrs: [np.transpose(args[0], attrs.get("perm"))],
    "ReduceProd": lambda args, attrs: [np.prod(args[0], keepdims=bool(attrs.get("keepdims", 1)))],
    "ConstantOfShape": lambda args, attrs: [np.full([int(d) for d in args[0]], attrs["value"].reshape(-1)[0]
                                                    if "value" in attrs else 0.0)],
    "Equal": lambda args, attrs: [args[0] == args[1]],
    "Where": lambda args, attrs: [np.where(args[0], args[1], args[2])],
    "Expand": lambda args, attrs: [args[0] * np.ones([int(d) for d in args[1]], dtype=args[0].dtype)],
    "Tile": lambda args, attrs: [np.tile(args[0], [int(r) for r in args[1].reshape(-1)])],
}


#: folds that move a constant's values without computing new ones: a summary folds them on the shape alone
SHAPE_ONLY = frozenset({"Identity", "Cast", "Transpose", "Unsqueeze", "Squeeze", "Reshape"})


def fold(im: _Importer, node: Any) -> None:
    """A node of constants replaced by its values (:data:`FOLDABLE`), each checked against the size cap before
    numpy makes it."""
    attrs = im.attrs(node)
    first = im.values.get(node.input[0]) if node.input else None
    if node.op_type in SHAPE_ONLY and isinstance(first, Lazy) and not first.readable:
        # a weight a summary leaves on disk (torch's dynamo exporter transposes a Linear's weight in the
        # graph, and reshapes Swin's gathered position bias): the result's shape from a view of one zero
        # (numpy reshapes a view of zero strides without copying), never the values
        rest = [im.value(n) if n else None for n in node.input[1:]]
        view = np.broadcast_to(np.zeros((), dtype=np.float32), first.shape)
        shaped = Lazy(first.tensor, readable=False)
        shaped.shape = tuple(FOLDABLE[node.op_type]([view, *rest], attrs)[0].shape)
        im.values[node.output[0]] = shaped
        return
    args = [im.value(n) if n else None for n in node.input]
    dims = _folded_dims(node.op_type, args, attrs)
    if dims is not None:  # numpy would allocate first, and a machine could swap before it refuses
        count = element_count(dims)
        if count is None or count > im.max_elements:
            raise im.fail(f"a folded constant would have {describe_count(count)} elements (at most "
                          f"{im.max_elements:,})", got=dims[:8])
    try:
        results = FOLDABLE[node.op_type](args, attrs)
    except CnnCalcError:
        raise
    except Exception as error:  # noqa: BLE001 - numpy's errors on bad constants vary
        raise im.fail(f"cannot fold constant: {str(error)[:200]}") from None
    for name, value in zip(node.output, results):
        if name:
            value = np.asarray(value)
            if value.size > im.max_elements:
                raise im.fail(f"a folded constant has {value.size:,} elements (at most {im.max_elements:,})")
            im.values[name] = value


def shape_of(im: _Importer, node: Any) -> None:
    """A Shape node's value, from the tensor's shape (the batch as :data:`BATCH`), or a constant's (its
    values unread)."""
    value = im.values.get(node.input[0])
    if value is not None and not isinstance(value, Tensor):
        shape = np.array(value.shape, dtype=np.int64)
    else:
        t = im.tensor(node.input[0])
        dims = im.onnx_shape(t)
        if not all(isinstance(d, int) for d in dims):
            raise im.fail("a shape computation over a symbolic size cannot be folded",
                          hint="export the model with fixed spatial sizes")
        shape = np.array([BATCH, *dims], dtype=np.int64)
    attrs = im.attrs(node)
    start, end = attrs.get("start", 0), attrs.get("end", None)
    im.values[node.output[0]] = shape[start:end]


def describe_cycle(nodes: list[Any], cycle: list[int], producers: dict[str, int]) -> str:
    """The error naming a cycle (from :func:`_cycle`) at the node that starts it."""
    first = nodes[cycle[0]]
    back = next(name for name in first.input if producers.get(name) == cycle[-1])
    shown = [f"'{nodes[k].name or '?'}' ({nodes[k].op_type})" for k in cycle[:8]]
    path = " → ".join(shown + (["…"] if len(cycle) > 8 else []) + [shown[0]])
    return (f"node {shown[0]}: input '{back}' must be a tensor computed from the network input, but it comes "
            f"round a cycle: {path} (each node computes an input of the next, so the nodes cannot be "
            "topologically sorted)")


def read_input(im: _Importer, value: Any) -> list[Any]:
    """The graph input as a cnncalc input shape (a symbol for a named or unknown size), held channels first
    when :func:`channels_first` says the model reads it so."""
    if not value.tensor or not value.has_shape:
        raise CnnCalcError(f"input '{value.name}' has no tensor shape", file=im.source)
    dims = value.dims
    if not 2 <= len(dims) <= 5:
        raise CnnCalcError(f"input '{value.name}' has {len(dims)} axes", file=im.source,
                           expected="2 to 5 (batch, then [D], [C, L], [C, H, W] or [C, D, H, W])")
    onnx_dims: list[Any] = []
    for position, (dim_value, dim_param) in enumerate(dims[1:], start=1):
        if dim_value is not None and dim_value > 0:
            onnx_dims.append(int(dim_value))
        else:
            onnx_dims.append(_symbol(dim_param, position))
    rank = len(onnx_dims)
    perm = _cf(rank) if channels_first(im, value.name, rank) else _identity(rank)
    cnncalc_dims: list[Any] = [None] * rank
    for j, p in enumerate(perm):
        cnncalc_dims[p] = onnx_dims[j]
    im.values[value.name] = Tensor("input", perm)
    im.shapes["input"] = tuple(_dim_value(d) for d in cnncalc_dims)
    if dims[0][0] is not None and dims[0][0] > 0:
        im.batch = dims[0][0]  # a fixed batch size: a Reshape may name it
    return cnncalc_dims


def _dim_value(dim: Any) -> Any:
    if isinstance(dim, int):
        return dim
    import sympy

    return sympy.Symbol(dim, integer=True, positive=True)


def _symbol(name: str, position: int) -> str:
    text = re.sub(r"[^A-Za-z0-9_]", "_", name)[:31]
    if not text or not (text[0].isalpha() or text[0] == "_"):
        text = f"d{position}"
    import keyword

    return f"{text}_" if keyword.iskeyword(text) else text


def channels_first(im: _Importer, name: str, rank: int) -> bool:
    """Whether the input is laid out [N, C, ...]: it feeds a spatial operator, or it is an image or a
    volume that is not transposed first (a model that transposes its input is channels-last)."""
    if rank < 2 or im.model.producer_name == "cnncalc":  # cnncalc writes its input channels last
        return False
    spatial = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
               "BatchNormalization", "Pad", "Resize", "Upsample", "LRN", "InstanceNormalization"}
    readers = [im.graph.node[k] for k in sorted(set(im.consumers.get(name, [])))]
    users = [node.op_type for node in readers if node.domain != FUNCTION_DOMAIN]
    if any(op in spatial for op in users):
        return True
    functions = [node.op_type for node in readers if node.domain == FUNCTION_DOMAIN]
    if functions:  # cnncalc's functions: pools and normalize take channels first, the others channels last
        return any(op.startswith("Adaptive") or op == "Normalize" for op in functions)
    return rank >= 3 and "Transpose" not in users
