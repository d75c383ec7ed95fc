"""Graph utilities apart from the operators: the layouts a value is held in, the order of the nodes (a cycle
found and named) and constant folding (``Shape → Gather → Concat → Reshape`` as ``torch.onnx`` writes it).
"""

from __future__ import annotations

from typing import Any

from ...errors import CnnCalcError
from . import proto  # its caps are read when used (tests lower them)
from .values import np

BATCH = -(2**40)


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
    """The shape a fold that can grow its inputs will make (broadcasting, ConstantOfShape, Expand, Gather),
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
    "Transpose": lambda args, attrs: [np.transpose(args[0], attrs.get("perm"))],
    "ReduceProd": lambda args, attrs: [np.prod(args[0], keepdims=bool(attrs.get("keepdims", 1)))],
    "ConstantOfShape": lambda args, attrs: [np.full([int(d) for d in args[0]], attrs["value"].reshape(-1)[0]
                                                    if "value" in attrs else 0.0)],
    "Equal": lambda args, attrs: [args[0] == args[1]],
    "Where": lambda args, attrs: [np.where(args[0], args[1], args[2])],
    "Expand": lambda args, attrs: [args[0] * np.ones([int(d) for d in args[1]], dtype=args[0].dtype)],
}
