"""Training and inference memory of a network, from its spec: weights, gradients, optimizer states, the
tensors the framework's autograd keeps for the backward pass (each layer type's rule,
:meth:`~cnncalc.layers.base.Layer.saved_for_backward`), and the peak of a forward pass that frees every
activation after its last use.

>>> from cnncalc.spec.network import load_spec
>>> report = estimate(load_spec("lenet5"), optimizer="adam")
>>> report.weights, report.gradients, report.optimizer_states   # 62,958 parameters · 4 bytes, ·4, ·2·4
(251832, 251832, 503664)
>>> report.saved, report.inference_peak   # CONV1 keeps the input, POOL1 CONV1's output and its indices, …
(68248, 37376)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import CnnCalcError, did_you_mean
from ..layers.base import FRAMEWORKS, Saved
from ..maths import arith
from ..spec.network import INPUT, Network
from .analysis import LayerRecord, Summary, analyse

#: bytes per value of each --dtype: activations, weights and gradients ("mixed": float16 compute, as
#: torch.autocast on a GPU; its float32 master weights are counted with the optimizer states)
DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2, "mixed": 2}
#: bytes of the tensors whose dtype does not follow the run's
FIXED_DTYPES = {"int64": 8, "float64": 8}
#: state tensors each optimizer keeps per trainable parameter (torch.optim: SGD's momentum_buffer, Adam's and
#: AdamW's exp_avg and exp_avg_sq)
OPTIMIZERS = {"none": 0, "sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
#: bytes of a float32 master weight, and of each optimizer state in mixed precision (DeepSpeed's estimators:
#: 2 + 2 + 12 bytes per parameter with Adam)
MASTER_BYTES = 4
#: the best order of a DAG is searched exactly while it has at most this many partial orders to compare
#: (sets of layers done); beyond, a greedy order (each step the ready layer that leaves least memory live)
MAX_STATES = 200_000


@dataclass
class LayerMemory:
    """One layer's share: bytes of its weights, gradients and optimizer states, the bytes it adds to what
    backward keeps (a tensor another layer already keeps counts there), and the bytes live in an inference
    pass while it runs (its inputs and output included)."""

    index: int
    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    trainable: int
    weights: int
    gradients: int
    optimizer: int
    saved: int
    live: int
    rules: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "type": self.type, "output_shape": list(self.output_shape),
                "params": self.params, "weights": self.weights, "gradients": self.gradients,
                "optimizer": self.optimizer, "saved_for_backward": self.saved, "inference_live": self.live,
                "rules": list(self.rules)}


@dataclass
class MemoryReport:
    """Every figure of `cnncalc memory`, in bytes. ``inference_order`` is the best order found for a DAG
    when it needs less memory than the spec's (``inference_best``; ``best_is_exact`` false when the greedy
    search stood in for the exact one)."""

    name: str
    batch: int
    dtype: str
    optimizer: str
    framework: str
    layers: list[LayerMemory]
    input_shape: tuple[int, ...]
    input_bytes: int
    weights: int
    gradients: int
    optimizer_states: int
    master_weights: int
    saved: int
    input_saved: int
    inference_peak: int
    inference_peak_layer: str
    inference_best: int
    inference_order: list[str] | None
    best_is_exact: bool

    @property
    def training_total(self) -> int:
        return self.weights + self.gradients + self.optimizer_states + self.saved

    def totals(self) -> dict[str, Any]:
        return {"weights": self.weights, "gradients": self.gradients, "optimizer": self.optimizer_states,
                "master_weights": self.master_weights, "saved_for_backward": self.saved,
                "saved_input": self.input_saved, "training": self.training_total,
                "inference_peak": self.inference_peak, "inference_peak_layer": self.inference_peak_layer,
                "inference_peak_best_order": self.inference_best}

    def document(self) -> dict[str, Any]:
        return {"name": self.name, "batch": self.batch, "dtype": self.dtype, "optimizer": self.optimizer,
                "framework": self.framework, "input": list(self.input_shape), "input_bytes": self.input_bytes,
                "layers": [layer.document() for layer in self.layers], "totals": self.totals(),
                "best_order": self.inference_order, "best_order_exact": self.best_is_exact}


def _choice(value: str, options: Any, what: str) -> str:
    if not isinstance(value, str) or value not in options:
        hint = did_you_mean(str(value), list(options))
        raise CnnCalcError(f"unknown {what}", got=value, expected=", ".join(options), hint=hint)
    return value


def _numeric(summary: Summary) -> None:
    for record in summary.records:
        values = (*record.output_shape, record.trainable, record.non_trainable)
        if not all(arith.is_int(value) for value in values):
            raise CnnCalcError("memory needs numeric sizes: the spec's input has symbols", got=[
                str(d) for d in summary.input_shape], expected="numbers",
                hint="give each symbol a value with --where n=224").with_context(layer=record.name,
                                                                                 index=record.index)


def estimate(network: Network, *, batch: int = 1, dtype: str = "float32", optimizer: str = "none",
             framework: str = "pytorch") -> MemoryReport:
    """The memory of training ``network`` with ``optimizer`` in ``dtype`` at ``batch`` samples a step, by
    ``framework``'s autograd rules, and of running it for inference; see the module's docstring."""
    _choice(dtype, DTYPES, "dtype")
    _choice(optimizer, OPTIMIZERS, "optimizer")
    _choice(framework, FRAMEWORKS, "framework")
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 10**9:
        raise CnnCalcError("bad batch size", got=batch, expected="an integer from 1 to 1,000,000,000")
    summary = analyse(network)
    _numeric(summary)
    if not all(arith.is_int(d) for d in summary.input_shape):
        raise CnnCalcError("memory needs numeric sizes: the spec's input has symbols",
                           got=[str(d) for d in summary.input_shape], expected="numbers",
                           hint="give each symbol a value with --where n=224")
    size = DTYPES[dtype]
    mixed = dtype == "mixed"
    states = OPTIMIZERS[optimizer]
    state_bytes = MASTER_BYTES if mixed else size
    shapes: dict[str, tuple[int, ...]] = {INPUT: tuple(int(d) for d in summary.input_shape)}
    for record in summary.records:
        shapes[record.name] = tuple(int(d) for d in record.output_shape)

    def tensor_bytes(name: str) -> int:
        return batch * int(arith.product(shapes[name])) * size

    saved_total, input_saved, counted = _saved(summary, network, shapes, batch, size, framework)
    live, peak, peak_layer = simulate(summary, [tensor_bytes(r.name) for r in summary.records], tensor_bytes(INPUT))
    best, order, exact = best_order(summary, [tensor_bytes(r.name) for r in summary.records], tensor_bytes(INPUT))
    layers = []
    for record in summary.records:
        params, trainable = int(record.params), int(record.trainable)
        rules = [f"weights: {params:,} params · {size} B = {params * size:,} B"] if params else []
        if trainable:
            rules.append(f"gradients: {trainable:,} trainable · {size} B = {trainable * size:,} B")
            if states or mixed:
                parts = ([f"{MASTER_BYTES} B float32 master"] if mixed else []) + (
                    [f"{states}·{state_bytes} B {optimizer} state{'s' if states > 1 else ''}"] if states else [])
                rules.append(f"optimizer: {trainable:,} · ({' + '.join(parts)}) = "
                             f"{trainable * ((MASTER_BYTES if mixed else 0) + states * state_bytes):,} B")
        saved_bytes, saved_rules = counted.get(record.name, (0, []))
        layers.append(LayerMemory(
            record.index, record.name, record.type, shapes[record.name], params, trainable, params * size,
            trainable * size, trainable * ((MASTER_BYTES if mixed else 0) + states * state_bytes), saved_bytes,
            live[record.index - 1], rules + saved_rules))
    trainable_total = sum(layer.trainable for layer in layers)
    master = trainable_total * MASTER_BYTES if mixed else 0
    return MemoryReport(
        summary.name, batch, dtype, optimizer, framework, layers, shapes[INPUT], tensor_bytes(INPUT),
        sum(layer.weights for layer in layers), sum(layer.gradients for layer in layers),
        sum(layer.optimizer for layer in layers), master, saved_total, input_saved, peak, peak_layer,
        best if order is not None else peak, order, exact)


def _saved(summary: Summary, network: Network, shapes: dict[str, tuple[int, ...]], batch: int, size: int,
           framework: str) -> tuple[int, int, dict[str, tuple[int, list[str]]]]:
    """(bytes backward keeps, of which the network input, and per layer: its bytes and worked rules).

    A layer saves only where autograd records it: when one of its inputs needs a gradient or it has trainable
    parameters (the network input needs none). A tensor is counted once, at the first layer that keeps it:
    the output of a layer read by several, or a view (slice, crop) and the tensor it views, are one storage.
    """
    layers = {layer.name: layer for layer in network.layers}
    needs_grad: dict[str, bool] = {INPUT: False}
    storage: dict[str, str] = {INPUT: INPUT}
    owner: dict[str, str] = {}  # storage → the layer that counted it
    total = input_saved = 0
    counted: dict[str, tuple[int, list[str]]] = {}

    def storage_bytes(name: str) -> int:
        return batch * int(arith.product(shapes[name])) * size

    for record in summary.records:
        layer = layers[record.name]
        needs_grad[record.name] = bool(record.trainable) or any(needs_grad[source] for source in record.inputs)
        storage[record.name] = storage[record.inputs[0]] if layer.shares_input() else record.name
        if not needs_grad[record.name]:
            continue
        in_shapes = [shapes[source] for source in record.inputs]
        bytes_here, lines = 0, []
        for number, item in enumerate(layer.saved_for_backward(in_shapes, shapes[record.name], framework)):
            key, amount, shape_text = _saved_tensor(item, record, number, storage, shapes, batch, size)
            if key in owner:
                lines.append(f"{item.why}: {shape_text}, counted at {owner[key]}")
                continue
            owner[key] = record.name
            bytes_here += amount
            if key == INPUT:
                input_saved = amount
            lines.append(f"{item.why}: {shape_text} = {amount:,} B")
        total += bytes_here
        counted[record.name] = (bytes_here, lines)
    return total, input_saved, counted


def _saved_tensor(item: Saved, record: LayerRecord, number: int, storage: dict[str, str],
                  shapes: dict[str, tuple[int, ...]], batch: int, size: int) -> tuple[str, int, str]:
    """(storage key, bytes, shape as --explain shows it) of one saved tensor."""
    if item.what == "own":
        unit = FIXED_DTYPES.get(item.dtype, size)
        count = int(item.elements) * (batch if item.batched else 1)
        shown = (f"{batch}·{int(item.elements):,}" if item.batched else f"{int(item.elements):,}") + f" · {unit} B"
        return f"{record.name}#{number}", count * unit, shown
    tensor = record.inputs[item.index] if item.what == "input" else record.name
    key = storage[tensor]
    amount = batch * int(arith.product(shapes[key])) * size
    shape = "×".join(str(d) for d in (batch, *shapes[key]))
    view = f" (a view of {key})" if key != tensor else ""
    return key, amount, f"{tensor} {shape}{view} · {size} B"


def _graph(summary: Summary) -> tuple[list[list[int]], list[int], list[bool]]:
    """Per layer (spec order): the positions of the layers it reads (-1: the network input), how many
    layers read each tensor (the input last), and which layers are outputs of the network."""
    position = {record.name: k for k, record in enumerate(summary.records)}
    reads = [sorted({position.get(source, -1) for source in record.inputs}) for record in summary.records]
    readers = [0] * (len(summary.records) + 1)
    for sources in reads:
        for source in sources:
            readers[source] += 1
    outputs = [readers[k] == 0 for k in range(len(summary.records))]
    return reads, readers, outputs


def _execution(summary: Summary) -> list[int]:
    """The spec's order: the layers as listed, or, where one reads a layer listed after it, the order the
    analysis ran them in (each after everything it reads)."""
    position = {record.name: k for k, record in enumerate(summary.records)}
    if all(position.get(source, -1) < k for k, record in enumerate(summary.records) for source in record.inputs):
        return list(range(len(summary.records)))
    return [position[summary.network.layers[k].name] for k in summary.network.order]


def simulate(summary: Summary, sizes: list[int], input_size: int,
             order: list[int] | None = None) -> tuple[list[int], int, str]:
    """An inference pass in ``order`` (default the spec's): each layer allocates its output while its
    inputs are live, then every tensor no later layer reads is freed (the network's outputs stay).
    Returns the bytes live while each layer runs (spec order), the peak, and the layer where it is."""
    reads, readers, outputs = _graph(summary)
    left = list(readers)
    live_now = input_size
    live = [0] * len(sizes)
    peak, peak_layer = input_size, "input"
    for k in order if order is not None else _execution(summary):
        live_now += sizes[k]
        live[k] = live_now
        if live_now > peak:
            peak, peak_layer = live_now, summary.records[k].name
        for source in reads[k]:
            left[source] -= 1
            if left[source] == 0:
                live_now -= input_size if source == -1 else sizes[source]
        if outputs[k] is False and left[k] == 0:  # (read by nobody: only an output is; kept)
            live_now -= sizes[k]
    return live, peak, peak_layer


def best_order(summary: Summary, sizes: list[int], input_size: int) -> tuple[int, list[str] | None, bool]:
    """The least peak over every order a DAG can run in, and one order that reaches it (None when no order
    beats the spec's); exact by dynamic programming over the sets of layers done while there are at most
    MAX_STATES of them, else greedy (third value false)."""
    reads, readers, outputs = _graph(summary)
    n = len(sizes)
    _, spec_peak, _ = simulate(summary, sizes, input_size)
    if all(len(sources) <= 1 for sources in reads) and all(count <= 1 for count in readers):
        return spec_peak, None, True  # a chain runs in one order only
    needs = [sum(1 << s for s in sources if s >= 0) for sources in reads]
    readers_of: list[list[int]] = [[] for _ in range(n + 1)]
    for k, sources in enumerate(reads):
        for source in sources:
            readers_of[source].append(k)
    reader_mask = [sum(1 << r for r in readers_of[t]) for t in range(n)] + [sum(1 << r for r in readers_of[-1])]

    def step(done: int, live_now: int, k: int) -> tuple[int, int]:
        """(bytes live while layer k runs after the layers in ``done``, bytes live after it)."""
        during = live_now + sizes[k]
        after = during
        now = done | (1 << k)
        for source in reads[k]:
            if reader_mask[source] & ~now == 0:
                after -= input_size if source == -1 else sizes[source]
        if not outputs[k] and reader_mask[k] & ~now == 0:
            after -= sizes[k]
        return during, after

    level: dict[int, tuple[int, int, int, int]] = {0: (input_size, input_size, -1, -1)}  # done → peak, live, …
    history: list[dict[int, tuple[int, int, int, int]]] = []
    states = 0
    exact = True
    for _ in range(n):
        following: dict[int, tuple[int, int, int, int]] = {}
        for done, (peak, live_now, _parent, _k) in level.items():
            for k in range(n):
                if done >> k & 1 or needs[k] & ~done:
                    continue
                during, after = step(done, live_now, k)
                candidate = (max(peak, during), after, done, k)
                key = done | (1 << k)
                if key not in following or candidate[0] < following[key][0]:
                    following[key] = candidate
        states += len(following)
        if states > MAX_STATES:
            exact = False
            break
        history.append(level)
        level = following
    if not exact:
        return _greedy(summary, sizes, input_size, reads, needs, step, spec_peak)
    (best, _live, _parent, _k), = level.values()
    if best >= spec_peak:
        return spec_peak, None, True
    order = _walk_back(level, history, n)
    return best, [summary.records[k].name for k in order], True


def _walk_back(last: dict[int, tuple[int, int, int, int]], history: list[dict[int, tuple[int, int, int, int]]],
               n: int) -> list[int]:
    order: list[int] = []
    done = (1 << n) - 1
    levels = [*history[1:], last]
    for level in reversed(levels):
        _peak, _live, parent, k = level[done]
        order.append(k)
        done = parent
    return order[::-1]


def _greedy(summary: Summary, sizes: list[int], input_size: int, reads: list[list[int]], needs: list[int],
            step: Any, spec_peak: int) -> tuple[int, list[str] | None, bool]:
    n = len(sizes)
    done, live_now, peak, order = 0, input_size, input_size, []
    for _ in range(n):
        ready = [k for k in range(n) if not done >> k & 1 and not needs[k] & ~done]
        k = min(ready, key=lambda r: (step(done, live_now, r)[0], step(done, live_now, r)[1], r))
        during, live_now = step(done, live_now, k)
        peak = max(peak, during)
        done |= 1 << k
        order.append(k)
    if peak >= spec_peak:
        return spec_peak, None, False
    return peak, [summary.records[k].name for k in order], False
