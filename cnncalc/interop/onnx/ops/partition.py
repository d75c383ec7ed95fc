"""MaxViT's partition attention as torch.onnx writes torchvision's ``PartitionAttentionLayer`` (both
exporters) → spec v2's ``window_attention`` with ``partition: window`` or ``grid`` on the map itself.

torchvision partitions the ``[B, C, H, W]`` map into ``[B, groups, tokens, C]`` (Reshape, Transpose, Reshape,
and for the grid a Transpose swapping groups and tokens), computes ``x + attention(LN(x))`` and
``x + MLP(LN(x))`` there, and departitions back. A partition only moves pixels, and every node between the
partition and the departition but the attention acts on each token alone; so the importer holds such a value as
a *partition view*: the map's layer and the index, into that layer's output, of each element of the ONNX value
(:attr:`.values.Tensor.where`). Reshape and Transpose move the index; a token-wise node (LayerNormalization over
the channels, a MatMul by a ``[C, C']`` constant, an element-wise node with constants along the channels only
or with views of the same tokens, GELU, Dropout) is imported by its usual rule on the map and its output is a
view of the same tokens; the attention (found from its Softmax before the walk, :func:`plan_partitions`) is
collected as :mod:`.window` collects Swin's, run beside a ``window_attention`` on the map with the partition the
view's tokens are (``window``: squares of neighbours, ``grid``: pixels H/window apart) and must agree; a view
whose index is the map again (the departition) is the map's layer held in a permutation. Any other node reading a
view is refused by name: its result would depend on which pixel is which token.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..graph import _identity
from ..values import Tensor, _is_const, np
from . import window as win

if TYPE_CHECKING:
    from ....errors import CnnCalcError
    from ..importer import _Importer

#: nodes that act on each token alone (their other inputs: constants along the channels, or views of the tokens)
ELEMENTWISE = frozenset({"Add", "Sub", "Mul", "Div", "Erf", "Gelu", "Tanh", "Sigmoid", "Relu", "Pow", "Sqrt",
                         "Dropout", "Identity", "Cast"})
TOKENWISE = ELEMENTWISE | {"LayerNormalization", "MatMul"}
MAX_PARTITION = 2**24  # elements of a partitioned map (the index is held as an int64 array)


def plan_partitions(im: _Importer) -> None:
    """Before the walk: each Softmax over scores computed from one ``[C, 3C]`` projection of a
    LayerNormalization of a partition (Reshape and Transpose of a computed value); the value partitioned is
    remembered (``im.partition_entries``), the Softmax claimed (``im.partition_softmaxes``)."""
    for position in im.order:
        node = im.graph.node[position]
        if node.op_type != "Softmax" or node.domain not in ("", "ai.onnx"):
            continue
        projections: set[int] = set()
        todo, seen = [node.input[0]], set[str]()
        while todo and len(seen) < 200:
            value = todo.pop()
            step = win._producer(im, value)
            if value in seen or step is None or win._const(im, value):
                continue
            seen.add(value)
            if step.op_type not in win.INSIDE or step.op_type == "Shape" or step.domain not in ("", "ai.onnx"):
                continue
            if step.op_type == "MatMul" and len(step.input) == 2 and win._const(im, step.input[1]):
                shape = tuple(im.values.get(step.input[1]).shape)
                if len(shape) == 2 and shape[1] == 3 * shape[0]:
                    projections.add(im.producers[step.output[0]])
                    continue
            todo.extend(n for n in step.input if n)
        if len(projections) != 1:
            continue
        norm = win._producer(im, im.graph.node[projections.pop()].input[0])
        if norm is None or norm.op_type != "LayerNormalization":
            continue
        value, moves, passed = norm.input[0], set(), []
        for _ in range(12):  # the chain may go on through the previous layer's departition: each value of it
            step = win._producer(im, value)  # may be the map partitioned (the walk starts at a plain one)
            if step is None or step.op_type not in ("Reshape", "Transpose"):
                break
            moves.add(step.op_type)
            value = step.input[0]
            passed.append(value)
        if moves == {"Reshape", "Transpose"}:
            im.partition_entries.update(passed)
            im.partition_softmaxes.add(position)


def _view(im: _Importer, name: str) -> Tensor | None:
    value = im.values.get(name)
    return value if isinstance(value, Tensor) and value.where is not None else None


def handle_view(im: _Importer, position: int, node: Any) -> bool:
    """The node, when it starts a partition or reads a partition view (else False: the usual rules)."""
    views = [n for n in node.input if n and _view(im, n) is not None]
    if node.domain not in ("", "ai.onnx"):  # its handler (a cnncalc function, --lenient's pass) would read the map
        if views:
            raise _refusal(im, node)
        return False
    if not views:
        if node.op_type == "Reshape" and node.input[0] in im.partition_entries:
            t = im.values.get(node.input[0])
            shape = im.shapes.get(t.layer) if isinstance(t, Tensor) else None
            if shape is not None and len(shape) == 3 and all(isinstance(d, int) for d in shape) \
                    and math.prod(shape) <= MAX_PARTITION:
                where = np.arange(math.prod(shape)).reshape(shape).transpose(t.perm)
                _move(im, node, Tensor(t.layer, t.perm, where=where))
                return True
        return False
    if node.op_type in ("Reshape", "Transpose"):
        if node.input[0] not in views:
            raise im.fail("a partition view is this node's shape, not its data: cnncalc imports MaxViT's "
                          "partitions only")
        moved = _view(im, node.input[0])
        assert moved is not None
        _move(im, node, moved)
        return True
    if node.op_type == "Shape":
        view = _view(im, node.input[0])
        assert view is not None
        start, end = im.attrs(node).get("start", 0), im.attrs(node).get("end")
        im.values[node.output[0]] = np.array([im.batch, *view.where.shape], dtype=np.int64)[start:end]
        return True
    if node.op_type == "MatMul" and _attention(im, position, node):
        return True
    if node.op_type in TOKENWISE:
        _tokenwise(im, position, node, views)
        return True
    raise _refusal(im, node)


def _refusal(im: _Importer, node: Any) -> CnnCalcError:
    return im.fail(f"{node.op_type} reads a partition of a map into groups of tokens (MaxViT's), which cnncalc "
                   "imports only through token-wise nodes (LayerNormalization, MatMul by a weight, element-wise "
                   "nodes, GELU) and the partition attention")


def _move(im: _Importer, node: Any, view: Tensor) -> None:
    """A Reshape or Transpose of a view: the index moves; where it is the map's again, the map in a permutation."""
    where = view.where
    if node.op_type == "Transpose":
        perm = [int(p) for p in im.attrs(node).get("perm", range(where.ndim, -1, -1))]
        if len(perm) != where.ndim + 1 or perm[0] != 0:
            raise im.fail("a Transpose of a partition view that moves the batch axis", got=perm)
        where = where.transpose([p - 1 for p in perm[1:]])
    else:
        dims = [int(d) for d in im.numbers(node.input[1], "shape")]
        full = [im.batch, *where.shape]
        dims = [full[k] if d == 0 and k < len(full) else d for k, d in enumerate(dims)]
        rest = dims[1:]
        if dims and dims[0] == -1 and -1 not in rest and math.prod(rest) == where.size:  # else: batch × more
            dims[0] = im.batch
        if not dims or dims[0] != im.batch or rest.count(-1) > 1:
            raise im.fail("a Reshape of a partition view that does not keep the batch axis", got=dims)
        where = where.reshape(rest)  # numpy checks the size (a malformed node's ValueError is named by the walk)
    layer_shape = im.shapes[view.layer]
    if where.ndim == len(layer_shape):  # the map again, in some permutation (the departition)?
        base = np.arange(where.size).reshape(layer_shape)
        for axes in _perms(where.ndim):
            if tuple(layer_shape[p] for p in axes) == where.shape and np.array_equal(base.transpose(axes), where):
                im.values[node.output[0]] = Tensor(view.layer, axes)
                return
    im.values[node.output[0]] = Tensor(view.layer, view.perm, where=where)


def _perms(rank: int) -> list[tuple[int, ...]]:
    from itertools import permutations

    return list(permutations(range(rank)))


def _tokens(im: _Importer, view: Tensor) -> Any:
    """``[groups, tokens]``: the map's pixel of each token of a view of ONNX shape ``[G, T, C]`` whose last axis
    is the map's channels in order; a clear error where it is not."""
    where, shape = view.where, im.shapes[view.layer]
    c = shape[-1]
    if where.ndim != 3 or len(shape) != 3 or where.shape[-1] != c \
            or not np.array_equal(where - where[..., :1], np.broadcast_to(np.arange(c), where.shape)) \
            or (where[..., 0] % c).any():
        raise im.fail("a token-wise node on a partition view whose last axis is not the map's channels")
    return where[..., 0] // c


def _tokenwise(im: _Importer, position: int, node: Any, views: list[str]) -> None:
    """The node by its usual rule on the maps the views are of, its outputs views of the same tokens."""
    tokens = [_tokens(im, _view(im, name)) for name in views]  # type: ignore[arg-type]
    if any(not np.array_equal(t, tokens[0]) for t in tokens[1:]):
        raise im.fail("a node combining two partitions of different tokens")
    for name in node.input:
        value = im.values.get(name) if name else None
        if not name or name in views or not _is_const(value):
            if name and name not in views and isinstance(value, Tensor):
                raise im.fail("a node combining a partition view with a value that is not one")
            continue
        shape = tuple(value.shape)
        if node.op_type == "MatMul":
            if name != node.input[1] or len(shape) != 2:
                raise im.fail("a MatMul of a partition view by a constant that is not a [C, C'] weight")
        elif node.op_type == "LayerNormalization":
            continue  # its scale and bias: over the channels (the axis is checked below)
        elif any(d != 1 for d in shape[:-1]):
            raise im.fail(f"a constant of shape {list(shape)} with a partition view: not along the channels only")
    if node.op_type == "LayerNormalization" and int(im.attrs(node).get("axis", -1)) not in (-1, 3):
        raise im.fail("a LayerNormalization of a partition view over more than its channels")
    saved = {name: im.values[name] for name in views}
    done = set(im.done)
    for name in views:
        im.values[name] = Tensor(saved[name].layer, _identity(3))  # the map, [H, W, C]
    try:
        im.handle(position, node, views=False)
    finally:
        for name, value in saved.items():
            im.values[name] = value
    for k in {position} | (im.done - done):
        for name in im.graph.node[k].output:
            out = im.values.get(name) if name else None
            if out is None or name in saved:
                continue
            held = im.shapes.get(out.layer) if isinstance(out, Tensor) else None
            if not isinstance(out, Tensor) or out.where is not None or out.perm != _identity(3) or held is None \
                    or len(held) != 3:
                raise im.fail("a token-wise node on a partition view that cnncalc does not import as one layer "
                              "on the map")
            c = held[-1]
            where = tokens[0][..., None] * c + np.arange(c)
            im.values[name] = Tensor(out.layer, out.perm, where=where)


def _attention(im: _Importer, position: int, node: Any) -> bool:
    """MaxViT's attention from its ``[C, 3C]`` projection (a MatMul of a view): ``window_attention`` on the map."""
    view = _view(im, node.input[0])
    weight = im.values.get(node.input[1])
    if view is None or not _is_const(weight) or len(weight.shape) != 2 or weight.shape[1] != 3 * weight.shape[0]:
        return False
    found = win._collect(im, node.input[0], position)
    if found is None or found.softmax is None or im.producers[found.softmax.output[0]] not in im.partition_softmaxes:
        return False
    tokens = _tokens(im, view)
    shape = im.shapes[view.layer]
    height, width, c = shape
    describe = f"the partition attention from node '{node.name or '?'}' ({node.op_type}) to its softmax " \
        f"'{found.softmax.name or '?'}'"
    size = math.isqrt(tokens.shape[1])
    partition = _partition(tokens, height, width, size)
    if partition is None:
        raise im.fail(f"{describe} attends within groups of pixels that are neither {size}×{size} windows nor a "
                      f"{size}×{size} grid of the {height}×{width} map (MaxViT's block and grid partitions)")
    batch = im.batch if im.batch > 0 else 2
    rng = np.random.default_rng(0)
    m = rng.standard_normal([batch, height, width, c])
    x = m.reshape(batch, -1)[:, view.where]
    values = win._run(im, found, x, None if win._unread(im, found) else {})
    scores = values[found.softmax.input[0]].shape
    got = values.get(found.exit)
    if len(scores) < 3 or scores[-1] != scores[-2] or scores[-1] != size * size or c % scores[-3] \
            or got is None or got.shape != x.shape:
        raise im.fail(f"{describe} has scores of shape {list(scores)}, not [N, groups, heads, T, T] with its "
                      f"groups' {size * size} tokens, or an output not shaped as its input")
    heads = scores[-3]
    trial: dict[str, Any] = {}
    if win._unread(im, found):  # a summary: random weights of the file's shapes (as .window)
        trial = win._trial(im, found, heads, size, size * size, rng, None)
        got = win._run(im, found, x, trial)[found.exit]
    weights = win._weights(im, found, heads, size, size * size, c, describe, trial)
    from ....layers.attention import WindowAttention

    scale = max(float(np.abs(got).max()), 1.0)
    for kind in ("channels", "key_dim"):
        layer = WindowAttention("window_attention", "check", 1, ["input"], WindowAttention.parse_fields(
            "window_attention", {"heads": heads, "window": size, "partition": partition, "scale": kind,
                                 "bias": "qkv.bias" in weights}))
        want = layer.forward([m], weights, tuple(shape)).reshape(batch, -1)[:, view.where]
        if np.abs(got - want).max() <= win.TOLERANCE * scale:
            break
    else:
        raise im.fail(f"{describe} does not compute spec v2's window_attention (MaxViT's: scale 1/√C or "
                      f"1/√(C/heads), a relative position bias) on the {partition} partition")
    im.done.update(found.positions)
    im.node = im.graph.node[im.producers[found.exit]]
    # the legacy exporter names nodes after their module (/blocks.0/…/attn_layer.1/to_qkv/MatMul): the layer is
    # named after the attention module, the one that holds the to_qkv Linear
    path = found.qkv.name.strip("/").split("/")[:-1] if "/" in found.qkv.name else []
    module = "/".join(path[:-1] if path and path[-1] == "to_qkv" else path)
    name = im.emit("window_attention", module or im.node_name(found.qkv, ".window_attention"), [view.layer],
                   heads=heads, window=size, partition=partition, scale=kind,
                   **({} if "qkv.bias" in weights else {"bias": False}))
    for key, value in weights.items():  # keep stores none in a summary (whose weights are random: ``_trial``)
        im.keep(f"{name}.{key}", lambda value=value: np.ascontiguousarray(value, dtype=np.float32))
    im.values[found.exit] = Tensor(name, view.perm, where=view.where)
    return True


def _partition(tokens: Any, height: int, width: int, size: int) -> str | None:
    """``window`` or ``grid``: the partition whose groups (in any order, each token in its place) ``tokens``
    holds; None for another."""
    if size * size != tokens.shape[1] or height % size or width % size:
        return None
    from ....layers.attention import WindowAttention

    pixels = np.arange(height * width, dtype=np.float64).reshape(1, height, width, 1)
    found = {tuple(row) for row in tokens.tolist()}
    for partition in ("window", "grid"):
        layer = WindowAttention("window_attention", "check", 1, ["input"], WindowAttention.parse_fields(
            "window_attention", {"heads": 1, "window": size, "partition": partition}))
        groups = layer.groups(pixels).reshape(-1, size * size).astype(np.int64)
        if {tuple(row) for row in groups.tolist()} == found and len(found) == len(tokens):
            return partition
    return None
