"""Swin's (V1) shifted-window attention as torch.onnx writes torchvision's ``shifted_window_attention``
(both exporters) → spec v2's ``window_attention``.

Found by structure, before the walk: a Softmax whose scores (a product of two computed tensors, with values
added) come from one ``[C, 3C]`` input projection, itself reached from the attention's input by data movement
only (Pad, the roll's Slice and Concat, the window partition's Reshape and Transpose). The subgraph is then
every node computed from that input (its shapes, the padding, the roll, the partition, the mask built from
the shapes, the scores and the bias, the output projection, the windows merged, rolled back and cropped) up to
the one value it gives the rest of the graph. It is run here, on a random input with the file's weights, beside
the layer given the same weights (the bias table read back from the gathered ``[heads, T, T]`` bias, which must
be a relative position bias: equal where two pairs have the same offset) and each possible shift: they must
agree to float64 rounding of the file's float32 constants, or the import is refused naming the subgraph. What
is not found so (Swin V2's cosine attention and position-bias MLP, MaxViT) keeps the refusal of
:func:`.attention.refuse_biased_attention`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..graph import _identity
from ..registry import matches
from ..values import Lazy, Tensor, _is_const, np
from .attention import _run_node, _shape_values

if TYPE_CHECKING:
    from ..importer import _Importer

#: operators that move data only, between the attention's input and its input projection
MOVES = frozenset({"Pad", "Slice", "Concat", "Reshape", "Transpose", "Identity", "Squeeze", "Unsqueeze"})
#: operators a window attention's subgraph may hold (each run by :func:`_run`)
INSIDE = MOVES | frozenset({"Shape", "Gather", "Cast", "MatMul", "Add", "Sub", "Mul", "Div", "Mod", "Pow", "Sqrt",
                            "Softmax", "Dropout", "ConstantOfShape", "Range", "Equal", "Not", "Where", "Expand",
                            "ScatterND", "Split", "Einsum",
                            # Swin V2: F.normalize, the clamped logit scale, the position bias's MLP and sigmoid
                            "ReduceL2", "Clip", "Exp", "Relu", "Sigmoid", "GatherND"})
MAX_NODES = 4000  # nodes of one window attention's subgraph (the legacy exporter writes about 700)
TOLERANCE = 1e-6  # as attention's: float64 but for the file's float32 constants


def _producer(im: _Importer, name: str) -> Any:
    k = im.producers.get(name)
    return None if k is None else im.graph.node[k]


def _const(im: _Importer, name: str) -> bool:
    return _is_const(im.values.get(name))


def plan_window_attention(im: _Importer) -> None:
    """Before the walk: each Softmax that is a window attention's, by its entry value (``im.window_entries``)."""
    for position in im.order:
        node = im.graph.node[position]
        if node.op_type != "Softmax" or node.domain not in ("", "ai.onnx"):
            continue
        projections: set[int] = set()
        todo, seen, ok = [node.input[0]], set[str](), True
        constants: list[str] = []  # values computed from constants alone (the mask, Swin V2's position bias)
        while todo and len(seen) < 600:
            value = todo.pop()
            step = _producer(im, value)
            if value in seen or step is None or _const(im, value):
                continue
            seen.add(value)
            if step.op_type == "Shape":  # a size (the mask's, the scale's): not the values
                continue
            if _from_constants(im, value):
                constants.append(value)
                continue
            if step.op_type not in INSIDE or step.domain not in ("", "ai.onnx"):
                ok = False  # MaxViT's Einsum, …: not this layer
                break
            if step.op_type == "MatMul" and len(step.input) == 2 and _const(im, step.input[1]):
                shape = tuple(im.values.get(step.input[1]).shape)
                if len(shape) == 2 and shape[1] == 3 * shape[0]:
                    projections.add(im.producers[step.output[0]])
                    continue
            todo.extend(n for n in step.input if n)
        if not ok or len(projections) != 1:
            continue
        value = im.graph.node[projections.pop()].input[0]
        moves: set[str] = set()
        for _ in range(64):  # back through the partition, the roll and the padding to the attention's input
            step = _producer(im, value)
            if step is None or step.op_type not in MOVES:
                break
            moves.add(step.op_type)
            value = step.input[0]
        if {"Reshape", "Transpose"} <= moves:  # a window partition (not attention over the input's tokens)
            im.window_entries.setdefault(value, []).append(position)
            for constant in constants:
                makers = _makers(im, constant)
                if any(im.graph.node[k].op_type in ("Sigmoid", "Relu") for k in makers):
                    # Swin V2's MLP over the offsets, which no rule of the walk takes alone: the window
                    # attention's subgraph runs it (:func:`_collect` takes the nodes computing a constant)
                    im.done.update(makers)


class _Window:
    """One window attention's subgraph: its nodes (positions), the value it ends at, and its roles."""

    def __init__(self, entry: str) -> None:
        self.entry = entry
        self.positions: list[int] = []
        self.exit = ""
        self.softmax: Any = None
        self.qkv: Any = None
        self.out: Any = None


def _from_constants(im: _Importer, name: str) -> bool:
    """Whether ``name`` is computed from constants alone by operators :func:`_run` runs (remembered in
    ``im.window_constants``): the walk may have reached those nodes (another block of the stage took them)."""
    known = im.window_constants
    todo = [name]
    while todo:
        value = todo[-1]
        if value in known:
            todo.pop()
            continue
        if not value or _const(im, value):
            known[value] = True
            todo.pop()
            continue
        k = im.producers.get(value)
        n = None if k is None else im.graph.node[k]
        if n is None or n.op_type not in INSIDE or n.op_type == "Shape" or n.domain not in ("", "ai.onnx"):
            known[value] = False
            todo.pop()
            continue
        missing = [i for i in n.input if i not in known]
        if missing:
            todo.extend(missing)
            continue
        known[value] = all(known[i] for i in n.input)
        todo.pop()
    return known[name]


def _makers(im: _Importer, name: str) -> list[int]:
    """The nodes computing ``name`` from constants (:func:`_from_constants`)."""
    found: set[int] = set()
    todo = [name]
    while todo:
        k = im.producers.get(todo.pop())
        if k is None or k in found or _const(im, im.graph.node[k].output[0]):
            continue
        found.add(k)
        todo.extend(i for i in im.graph.node[k].input if i)
    return sorted(found)


def _collect(im: _Importer, entry: str, position: int) -> _Window | None:
    """Every node computed from ``entry`` (and constants) alone, found through consumers: independent of the
    file's node order; None where it is not one window attention (more than one value leaves it, …)."""
    window = _Window(entry)
    inside = {entry}
    members: set[int] = set()
    todo = [entry]
    failed: set[str] = set()

    def open_node(k: int) -> bool:
        """Whether node ``k`` is one the walk has not handled (the walk marks the node it is at done)."""
        return k not in im.done or k == position

    def add(k: int) -> None:
        members.add(k)
        outputs = [o for o in im.graph.node[k].output if o]
        inside.update(outputs)
        todo.extend(outputs)

    def ready(name: str, depth: int = 0) -> bool:
        """A value of the subgraph, a constant, one computed from constants alone (the dynamo exporter's
        shift mask: a chain of a hundred nodes, shared by the blocks of a stage), or one computed from those
        by nodes the walk has not reached yet (the sizes the legacy exporter computes from the input's shape)."""
        if not name or name in inside or _const(im, name):
            return True
        if _from_constants(im, name):
            for maker in _makers(im, name):
                if maker not in members:
                    add(maker)
            return True
        k = im.producers.get(name)
        if name in failed or k is None or not open_node(k) or depth > 32:
            return False
        n = im.graph.node[k]
        if n.op_type not in INSIDE or n.domain not in ("", "ai.onnx") \
                or not all(ready(i, depth + 1) for i in n.input):
            failed.add(name)
            return False
        add(k)
        return True

    while todo:
        value = todo.pop()
        for k in im.consumers.get(value, []):
            if k in members or not open_node(k):
                continue
            n = im.graph.node[k]
            if all(_from_constants(im, name) for name in n.input):
                continue  # not computed from the entry: taken by ``ready`` where a node of the subgraph needs it
            if not all(ready(name) for name in n.input):
                continue
            if n.op_type not in INSIDE or n.domain not in ("", "ai.onnx"):
                continue  # a layer after the attention (Swin V2's post-norm): the value leaves the subgraph
            if len(members) >= MAX_NODES:
                return None
            add(k)
    window.positions = [k for k in im.order if k in members]
    # a value computed from constants alone may serve other blocks too (the mask of a stage): not an output
    leaving = sorted({name for k in members for name in im.graph.node[k].output if name and (
        name in im.outputs or any(u not in members for u in im.consumers.get(name, [])))
        and not _from_constants(im, name)})
    if len(leaving) != 1:
        return None
    window.exit = leaving[0]
    nodes = [im.graph.node[k] for k in window.positions]
    softmaxes = [n for n in nodes if n.op_type == "Softmax"]
    # the projections: of a computed value by a constant (not Swin V2's MLP, computed from constants alone)
    products = [n for n in nodes if n.op_type == "MatMul" and _const(im, n.input[1])
                and not _from_constants(im, n.input[0])]
    if len(softmaxes) != 1 or len(products) != 2:
        return None
    window.softmax = softmaxes[0]
    window.qkv, window.out = sorted(products, key=lambda n: -im.values.get(n.input[1]).shape[1])
    return window


def _run(im: _Importer, window: _Window, x: Any, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """The subgraph on ``x`` (float64, the file's constants, or ``given`` ones in their place); with ``given``
    None, a constant a summary does not read is zeros of its shape (a run for the shapes only)."""
    values: dict[str, Any] = {window.entry: x}
    batch = x.shape[0]
    for k in window.positions:
        n = im.graph.node[k]
        args: list[Any] = []
        for name in n.input:
            if not name:
                args.append(None)
            elif name in values:
                args.append(values[name])
            elif given is not None and name in given:
                args.append(given[name])
            elif _unreadable(im, name):
                if given is not None:
                    raise im.fail(f"constant '{name}' of node '{n.name or '?'}' ({n.op_type}) inside a window "
                                  "attention is too large for a summary to read", hint="cnncalc import reads every value")
                args.append(np.zeros(im.values[name].shape))
            else:
                array = _shape_values(im.value(name), batch)
                args.append(np.asarray(array, dtype=np.float64) if array.dtype.kind == "f" else array)
        attrs = im.attrs(n)
        try:
            result = _step(n.op_type, args, attrs, im.opset)
            if n.op_type == "Split":  # several outputs
                values.update((name, np.asarray(part)) for name, part in zip(n.output, result) if name)
                continue
            values[n.output[0]] = np.asarray(result)
        except (ValueError, IndexError, TypeError) as error:
            raise im.fail(f"node '{n.name or '?'}' ({n.op_type}) inside a window attention cannot be run: "
                          f"{str(error)[:120]}") from None
    return values


def _step(op: str, args: list[Any], attrs: dict[str, Any], opset: int) -> Any:
    """One node; the operators attention's subgraphs hold are run by :func:`.attention._run_node`."""
    x = args[0]
    if op == "Pad":
        pads = [int(p) for p in args[1].reshape(-1)]
        value = float(args[2].reshape(-1)[0]) if len(args) > 2 and args[2] is not None else 0.0
        rank = x.ndim
        if str(attrs.get("mode", b"constant")).strip("b'") != "constant" or any(p < 0 for p in pads):
            raise ValueError("a Pad other than constant padding")
        return np.pad(x, [(pads[i], pads[i + rank]) for i in range(rank)], constant_values=value)
    if op == "Mod":
        return np.fmod(x, args[1]) if attrs.get("fmod", 0) else np.mod(x, args[1])
    if op == "Pow":
        return np.power(x, args[1])
    if op == "ConstantOfShape":
        fill = attrs.get("value")
        fill = np.zeros(1) if fill is None else np.asarray(fill).reshape(-1)
        return np.full([int(d) for d in x.reshape(-1)], fill[0], dtype=fill.dtype)
    if op == "Range":
        return np.arange(x.reshape(-1)[0], args[1].reshape(-1)[0], args[2].reshape(-1)[0])
    if op == "Equal":
        return np.equal(x, args[1])
    if op == "Not":
        return np.logical_not(x)
    if op == "Where":
        return np.where(x.astype(bool), args[1], args[2])
    if op == "Expand":
        shape = [int(d) for d in args[1].reshape(-1)]
        return x * np.ones(shape, dtype=x.dtype)
    if op == "ScatterND":
        out = x.copy()
        index = args[1].astype(np.int64)
        out[tuple(np.moveaxis(index, -1, 0))] = args[2]
        return out
    if op == "Split":  # (sizes as an input from opset 13, else an attribute; num_outputs from 18)
        axis = int(attrs.get("axis", 0))
        sizes = args[1] if len(args) > 1 and args[1] is not None else attrs.get("split")
        if sizes is None:
            count = int(attrs["num_outputs"])
            step = -(-x.shape[axis] // count)
            sizes = [min(step, x.shape[axis] - k * step) for k in range(count)]
        return np.split(x, np.cumsum([int(s) for s in np.reshape(sizes, -1)])[:-1], axis=axis)
    if op == "Einsum":  # MaxViT's scores and weighted sum
        equation = attrs["equation"]
        return np.einsum(equation.decode() if isinstance(equation, bytes) else str(equation), *args)
    if op == "ReduceL2":
        axes = args[1] if len(args) > 1 and args[1] is not None else attrs.get("axes")
        over = None if axes is None else tuple(int(a) for a in np.asarray(axes).reshape(-1))
        return np.sqrt(np.sum(x * x, axis=over, keepdims=bool(attrs.get("keepdims", 1))))
    if op == "Clip":
        low = args[1] if len(args) > 1 and args[1] is not None else None
        high = args[2] if len(args) > 2 and args[2] is not None else None
        x = x if low is None else np.maximum(x, low)
        return x if high is None else np.minimum(x, high)
    if op == "Exp":
        return np.exp(x)
    if op == "Relu":
        return np.maximum(x, 0)
    if op == "Sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if op == "GatherND":
        if attrs.get("batch_dims", 0):
            raise ValueError("GatherND with batch_dims")
        index = args[1].astype(np.int64)
        return x[tuple(np.moveaxis(index, -1, 0))]
    return _run_node(op, args, attrs, opset)


@matches("Pad", "Slice", "Reshape", "Transpose", "Concat", "Identity", makes=("window_attention", "window_attention_v2"),
         absorbs=("Softmax", "MatMul", "ScatterND", "ReduceL2", "Sigmoid", "GatherND"))
def _window_attention(im: _Importer, position: int, node: Any) -> bool:
    entry = node.input[0] if node.input else ""
    if entry not in im.window_entries or not isinstance(im.values.get(entry), Tensor):
        return False
    window = _collect(im, entry, position)
    if window is None:
        return False
    t = im.values.get(entry)
    dims = im.onnx_shape(t)
    if len(dims) != 3 or not all(isinstance(d, int) for d in dims):
        return False
    c = dims[-1]
    batch = im.batch if im.batch > 0 else 2
    rng = np.random.default_rng(0)
    x = rng.standard_normal([batch, *dims])
    unread = _unread(im, window)
    values = _run(im, window, x, None if unread else {})
    scores = values[window.softmax.input[0]].shape
    got = values.get(window.exit)
    describe = f"the window attention from node '{node.name or '?'}' ({node.op_type}) to its softmax " \
        f"'{window.softmax.name or '?'}'"
    if len(scores) < 3 or scores[-1] != scores[-2] or math.isqrt(scores[-1]) ** 2 != scores[-1] \
            or c % scores[-3] or got is None or got.shape != x.shape:
        raise im.fail(f"{describe} has scores of shape {list(scores)}, not [N·windows, heads, T, T] with T a "
                      "square, or an output not shaped as its input")
    heads, tokens = scores[-3], scores[-1]
    size = math.isqrt(tokens)
    cpb = _cpb_roles(im, window, heads, describe) if _is_v2(im, window) else None
    trial: dict[str, Any] = {}
    if unread:
        # a summary leaves the weights on disk: the subgraph runs again with random ones of their shapes in their
        # place (a random relative position bias for the file's), which checks all but that the file's bias is
        # relative; the layer's fields, parameters and MACs do not depend on the values
        trial = _trial(im, window, heads, size, tokens, rng, cpb)
        values = _run(im, window, x, trial)
        got = values[window.exit]
    from ....layers.attention import WindowAttention, WindowAttentionV2

    kind: type[WindowAttention] = WindowAttention
    fields: dict[str, Any] = {}
    if cpb is None:
        weights = _weights(im, window, heads, size, tokens, c, describe, trial)
    else:
        weights = _weights_v2(im, window, cpb, heads, size, c, describe, trial, values)
        kind, fields = WindowAttentionV2, {"hidden": weights["cpb_mlp.2.weight"].shape[0]}
    scale = max(float(np.abs(got).max()), 1.0)
    for shift in (0, size // 2, *range(1, size)):
        layer = kind(kind.type_name, "check", 1, ["input"], kind.parse_fields(kind.type_name, {
            "heads": heads, "window": size, "shift": shift, "bias": "qkv.bias" in weights, **fields}))
        want = layer.forward([x], weights, tuple(dims))
        if np.abs(got - want).max() <= TOLERANCE * scale:
            break
    else:
        what = "Swin V1's: scale 1/√(C/heads), a relative position bias" if cpb is None else \
            "Swin V2's: cosine scores, the clamped logit scale, 16·sigmoid of the MLP's position bias"
        raise im.fail(f"{describe} does not compute spec v2's {kind.type_name} ({what}, torchvision's shift "
                      "and mask) for any shift")
    _emit(im, window, t, heads, size, shift, weights, kind.type_name, fields)
    return True


def _unreadable(im: _Importer, name: str) -> bool:
    """Whether a summary leaves the constant ``name`` on disk (a large one)."""
    value = im.values.get(name)
    return not im.with_weights and isinstance(value, Lazy) and not value.readable


def _unread(im: _Importer, window: _Window) -> list[str]:
    """The constants of the subgraph a summary does not read (its weights, the position bias)."""
    names = {name for k in window.positions for name in im.graph.node[k].input if name}
    return sorted(name for name in names if _unreadable(im, name))


def _bias_of(im: _Importer, window: _Window, product: Any) -> str | None:
    """The constant added right after a projection (its bias), or None."""
    users = [u for u in im.consumers.get(product.output[0], []) if u in window.positions]
    node = im.graph.node[users[0]] if len(users) == 1 else None
    others = [n for n in node.input if n != product.output[0]] if node is not None else []
    # a constant, or one computed from constants (the legacy exporter zeroes Swin V2's key bias in the graph)
    return others[0] if node is not None and node.op_type == "Add" and len(others) == 1 \
        and (_const(im, others[0]) or _from_constants(im, others[0])) else None


def _position_bias(im: _Importer, window: _Window, heads: int, tokens: int) -> list[str]:
    """The constants of ``heads·T·T`` values added in the subgraph (the relative position bias: one)."""
    return [name for k in window.positions for n in [im.graph.node[k]] if n.op_type == "Add" and len(n.input) == 2
            for name in n.input if _const(im, name) and im.values.get(name).size == heads * tokens * tokens]


def _trial(im: _Importer, window: _Window, heads: int, size: int, tokens: int, rng: Any,
           cpb: dict[str, str] | None) -> dict[str, Any]:
    """Random values of the file's shapes for a summary's check: the projections (of unit gain), their biases,
    and a relative position bias (a random table gathered by the index), or Swin V2's MLP (its first product
    over the offsets where the exporter folded it)."""
    from ....layers.attention import coords_table, relative_position_index

    trial: dict[str, Any] = {}
    for product in (window.qkv, window.out):
        shape = im.values.get(product.input[1]).shape
        trial[product.input[1]] = rng.standard_normal(shape) / math.sqrt(shape[0])
        bias = _bias_of(im, window, product)
        if bias is not None and _const(im, bias):
            trial[bias] = rng.uniform(-0.1, 0.1, im.values.get(bias).shape)
            if cpb is not None and product is window.qkv:  # Swin V2's key bias is zero (the file's, folded)
                third = trial[bias].shape[-1] // 3
                trial[bias][..., third:2 * third] = 0.0
    if cpb is not None:
        hidden, heads = im.values.get(cpb["w2"]).shape
        trial[cpb["w2"]] = rng.standard_normal((hidden, heads)) / math.sqrt(hidden)
        trial[cpb["b1"]] = rng.uniform(-0.5, 0.5, im.values.get(cpb["b1"]).shape)
        w1 = rng.standard_normal((2, hidden))
        if "w1" in cpb:
            trial[cpb["w1"]] = w1
            if _unreadable(im, cpb["offsets"]):  # the offsets a summary leaves on disk: Swin V2's, unchecked
                trial[cpb["offsets"]] = coords_table(size).reshape(im.values.get(cpb["offsets"]).shape)
        else:
            trial[cpb["folded"]] = (coords_table(size) @ w1).reshape(im.values.get(cpb["folded"]).shape)
        # the index that gathers the MLP's output for each pair of a window, where a summary leaves it on disk
        # (windows of 8 and more): the layer's own, as the offsets above (an import reads and checks the file's)
        index = relative_position_index(size)
        for k in window.positions:
            n = im.graph.node[k]
            if n.op_type in ("Gather", "GatherND") and len(n.input) > 1 and _unreadable(im, n.input[1]) \
                    and math.prod(im.values.get(n.input[1]).shape) == index.size:
                trial[n.input[1]] = index.reshape(im.values.get(n.input[1]).shape)
        return trial
    table = rng.uniform(-0.5, 0.5, ((2 * size - 1) ** 2, heads))
    for name in _position_bias(im, window, heads, tokens):
        trial[name] = table[relative_position_index(size)].transpose(2, 0, 1).reshape(im.values.get(name).shape)
    return trial


def _projections(im: _Importer, window: _Window, c: int, describe: str, read: Any, kind: str) -> dict[str, Any]:
    """The qkv and output projections' weights ``[C, 3C]``, ``[C, C]`` and their biases (both or neither), each
    array by ``read``; a clear error where the file's are otherwise."""
    weights: dict[str, Any] = {"qkv.weight": read(window.qkv.input[1]), "output.weight": read(window.out.input[1])}
    for key, product in (("qkv.bias", window.qkv), ("output.bias", window.out)):
        bias = _bias_of(im, window, product)
        if bias is not None:
            weights[key] = np.broadcast_to(read(bias), (weights[key.replace("bias", "weight")].shape[1],)).copy()
    if ("qkv.bias" in weights) != ("output.bias" in weights):
        raise im.fail(f"{describe} has a bias on one of its projections only, which spec v2's {kind} (both or "
                      "neither) does not compute")
    shapes = (weights["qkv.weight"].shape, weights["output.weight"].shape)
    if shapes != ((c, 3 * c), (c, c)):
        raise im.fail(f"{describe} has projections of shapes {[list(s) for s in shapes]}, not [C, 3C] and [C, C]")
    return weights


def _weights(im: _Importer, window: _Window, heads: int, size: int, tokens: int, c: int, describe: str,
             trial: dict[str, Any]) -> dict:
    """The layer's weights from the file's (or from ``trial``'s in their place): the projections, their biases
    (an Add of a constant right after each), and the bias table read back from the ``[heads, T, T]`` bias added
    to the scores."""
    from ....layers.attention import relative_position_index

    def read(name: str) -> Any:
        return np.asarray(trial[name] if name in trial else im.value(name), dtype=np.float64)

    weights = _projections(im, window, c, describe, read, "window_attention")
    biases = _position_bias(im, window, heads, tokens)
    if len(biases) != 1:
        raise im.fail(f"{describe} has no relative position bias of [{heads}, {tokens}, {tokens}] added to its "
                      "scores", hint="spec v2's window_attention adds one (Swin's)")
    name = biases[0]
    bias = read(name).reshape(heads, tokens, tokens)
    index = relative_position_index(size)
    table = np.zeros(((2 * size - 1) ** 2, heads), dtype=bias.dtype)
    table[index.reshape(-1)] = bias.reshape(heads, -1).T
    if not np.array_equal(table[index].transpose(2, 0, 1), bias):
        raise im.fail(f"{describe} adds a bias to its scores (constant '{name}') that is not a relative position "
                      "bias: two pairs of tokens with the same offset have different values")
    weights["position_bias"] = table.astype(np.float64)
    return weights


def _is_v2(im: _Importer, window: _Window) -> bool:
    """Whether the subgraph is Swin V2's: cosine scores (an L2 norm) or a sigmoid position bias."""
    return any(im.graph.node[k].op_type in ("ReduceL2", "Sigmoid") for k in window.positions)


#: operators between Swin V2's MLP and its sigmoid (the table gathered by the index, reshaped, permuted)
_GATHERS = frozenset({"Reshape", "Transpose", "Unsqueeze", "Squeeze", "Gather", "GatherND", "Identity", "Cast"})


def _cpb_roles(im: _Importer, window: _Window, heads: int, describe: str) -> dict[str, str]:
    """Swin V2's constants by role: ``scale`` (the value the cosine scores are multiplied by), the MLP's ``w2``
    ``[hidden, heads]`` and ``b1`` ``[hidden]``, and its first product: ``w1`` ``[2, hidden]`` with the
    ``offsets`` it multiplies (the legacy exporter), or the product itself, ``folded`` (the dynamo exporter
    folds the offsets times W₁ into one constant). A file that does not hold them so is refused."""
    nodes = [im.graph.node[k] for k in window.positions]
    sigmoids = [n for n in nodes if n.op_type == "Sigmoid"]
    if len(sigmoids) != 1:
        raise im.fail(f"{describe} has cosine scores (Swin V2's) and {len(sigmoids)} sigmoids, not one continuous "
                      "position bias computed in the file: where the exporter folds the whole bias into a "
                      "constant (windows of 2), its MLP's weights are no longer in the file",
                      hint="export with the legacy exporter (dynamo=False), which keeps the MLP")

    def expect(step: Any, ok: bool, what: str) -> None:
        if not ok:
            name = f"'{step.name or '?'}' ({step.op_type})" if step is not None else "a graph input or constant"
            raise im.fail(f"{describe}: {name} in its position bias is not {what} (Swin V2's MLP of the "
                          "offsets: MatMul, Add, Relu, MatMul, then the index's Gather and a sigmoid)")

    def shape(name: str) -> tuple[int, ...]:
        return tuple(im.values.get(name).shape)

    value = sigmoids[0].input[0]
    for _ in range(16):  # back through the gather by the index and the reshapes
        step = _producer(im, value)
        if step is None or step.op_type not in _GATHERS:
            break
        value = step.input[0]
    second = _producer(im, value)
    expect(second, second is not None and second.op_type == "MatMul" and _const(im, second.input[1])
           and len(shape(second.input[1])) == 2 and shape(second.input[1])[1] == heads,
           f"the MLP's second product (a MatMul by a [hidden, {heads}] constant)")
    hidden = shape(second.input[1])[0]
    relu = _producer(im, second.input[0])
    expect(relu, relu is not None and relu.op_type == "Relu", "the MLP's ReLU")
    add = _producer(im, relu.input[0])
    expect(add, add is not None and add.op_type == "Add" and len(add.input) == 2, "the MLP's first bias (an Add)")
    biases = [n for n in add.input if _const(im, n) and shape(n) == (hidden,)]
    expect(add, len(biases) >= 1, f"the MLP's first bias (an Add of a [{hidden}] constant)")
    roles = {"w2": second.input[1], "b1": biases[0]}
    other = add.input[1] if add.input[0] == biases[0] else add.input[0]
    first = _producer(im, other)
    if first is not None and first.op_type == "MatMul":
        expect(first, _const(im, first.input[1]) and shape(first.input[1]) == (2, hidden)
               and _from_constants(im, first.input[0]), f"the MLP's first product (the offsets by a [2, {hidden}] "
                                                          "constant)")
        roles.update(w1=first.input[1], offsets=first.input[0])
    else:
        expect(first, _const(im, other) and shape(other)[-1:] == (hidden,),
               f"the MLP's first product (or its value folded by the exporter: a [..., {hidden}] constant)")
        roles["folded"] = other
    # the scale: a value from constants multiplying the cosine scores (a product of two computed tensors)
    for n in nodes:
        if n.op_type != "Mul" or len(n.input) != 2:
            continue
        for a, b in ((n.input[0], n.input[1]), (n.input[1], n.input[0])):
            product = _producer(im, a)
            if product is not None and product.op_type == "MatMul" and b and _from_constants(im, b) \
                    and not any(_from_constants(im, i) for i in product.input):
                roles["scale"] = b
    if "scale" not in roles:
        raise im.fail(f"{describe} has no logit scale multiplying its cosine scores (Swin V2's)")
    return roles


def _weights_v2(im: _Importer, window: _Window, cpb: dict[str, str], heads: int, size: int, c: int,
                describe: str, trial: dict[str, Any], values: dict[str, Any]) -> dict:
    """Swin V2's weights from the file's constants (or ``trial``'s in their place; ``values``: the subgraph's,
    run on them): the projections and their biases, the logit scale read back as its logarithm (the file may
    hold it clamped and exponentiated), the MLP's weights; W₁ solved from its product with the offsets where the
    exporter folded that (exact but for float32 rounding, checked)."""
    from ....layers.attention import coords_table

    def read(name: str) -> Any:
        if name in trial:
            return np.asarray(trial[name], dtype=np.float64)
        return np.asarray(values[name] if name in values else im.value(name), dtype=np.float64)

    weights = _projections(im, window, c, describe, read, "window_attention_v2")
    scale = read(cpb["scale"])
    if scale.size != heads or not np.all(scale > 0):
        raise im.fail(f"{describe} multiplies its cosine scores by '{cpb['scale']}' of shape {list(scale.shape)}, "
                      f"not a positive scale for each of its {heads} heads")
    weights["logit_scale"] = np.log(scale.reshape(heads))
    w2 = read(cpb["w2"])
    hidden = w2.shape[0]
    table = coords_table(size)
    if "w1" in cpb:
        offsets = read(cpb["offsets"]).reshape(-1, 2)
        if offsets.shape != table.shape or np.abs(offsets - table).max() > 1e-6:
            raise im.fail(f"{describe} runs its position bias's MLP on offsets ('{cpb['offsets']}') that are not "
                          f"Swin V2's log-spaced table for windows of {size}")
        w1 = read(cpb["w1"])
    else:
        product = read(cpb["folded"]).reshape(-1, hidden)
        if product.shape[0] != table.shape[0]:
            raise im.fail(f"{describe} adds '{cpb['folded']}' of {product.shape[0]} rows to its MLP's bias, not "
                          f"the {table.shape[0]} offsets of windows of {size}")
        w1 = np.linalg.lstsq(table, product, rcond=None)[0]
        if np.abs(table @ w1 - product).max() > 1e-5 * max(float(np.abs(product).max()), 1.0):
            raise im.fail(f"{describe} adds '{cpb['folded']}' to its MLP's bias, which is no product of Swin V2's "
                          f"offsets for windows of {size} by a [2, {hidden}] weight")
    weights.update({"cpb_mlp.0.weight": w1, "cpb_mlp.0.bias": read(cpb["b1"]).reshape(hidden),
                    "cpb_mlp.2.weight": w2})
    return weights


def _emit(im: _Importer, window: _Window, t: Tensor, heads: int, size: int, shift: int, weights: dict, kind: str,
          fields: dict[str, Any]) -> None:
    im.done.update(window.positions)
    x_layer = im.as_perm(t, _identity(3))
    im.node = im.graph.node[im.producers[window.exit]]
    # the legacy exporter names nodes after the module (/features/.../attn/MatMul): the module's name
    module = window.qkv.name.rsplit("/", 1)[0].strip("/") if "/" in window.qkv.name else ""
    fields = {key: value for key, value in fields.items() if value != 512}  # the MLP's width, if not torchvision's
    name = im.emit(kind, module or im.node_name(window.qkv, f".{kind}"), [x_layer],
                   heads=heads, window=size, **({"shift": shift} if shift else {}),
                   **({} if "qkv.bias" in weights else {"bias": False}), **fields)
    for key, value in weights.items():  # keep stores none in a summary (whose weights are random: ``_trial``)
        im.keep(f"{name}.{key}", lambda value=value: np.ascontiguousarray(value, dtype=np.float32))
    im.values[window.exit] = Tensor(name, _identity(3))
