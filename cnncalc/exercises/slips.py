"""Mistakes named by rule: a catalogue of the slips students make, each a rule that recomputes the key
with the slip made.

No wrong answer is typed in. A slip is a change to what the key is computed from — a layer's field in
the problem's network spec (the bias left out, the padding forgotten, the stride ignored, the kernel not
flipped, average pooling for max), a step of the calculator's walk (the "+ 1" of the size formula
dropped, the floor rounded up, the input channels left out of a weight count), a value of a `solve` or
`transpose` question (p = 0, s = 1), or the reading of the key itself (channels first, rows and columns
swapped, FLOPs for MACs). Each rule recomputes the question's answer with the calculator, executor or
solver that made its key (:class:`.key.KeyBuilder`), so a slip's answer is exact wherever the key is.

A rule that changes the spec of a network with several layers it applies to is tried with the slip made
at every one of them (the student who always forgets the bias) and at each alone (once). A student's
wrong answer is matched against every rule that applies to its question, in the catalogue's order (the
first match names the slip); a candidate equal to the key is never one. Candidates are computed once per
key and question (:func:`candidates`), not per student.

A problem file may give a slip partial credit: ``credit: {forgot_bias: 0.5}`` (problem-wide or per
question). ``docs/marking.md`` lists the rules with an example each, made by :func:`marking_markdown`.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import CnnCalcError
from ..maths import arith
from .key import AnswerKey, KeyBuilder, num, sizes_spec_key, spec_key
from .problem import COMPUTE, Question, resolve_refs

Say = Callable[["Context", list[Any]], str]


@dataclass(frozen=True)
class Candidate:
    """One wrong answer a slip gives for one question: the value as a key holds it, and the one-line
    explanation (with the numbers) that feedback shows."""

    rule: str
    value: Any
    message: str


@dataclass(frozen=True)
class Slip:
    id: str
    name: str  # a few words: "forgot the bias"
    doc: str  # what the student did, and how the rule recomputes it
    kinds: tuple[str, ...]  # the `compute:` kinds it is tried on
    find: Callable[[Context], Iterator[tuple[Any, str]]]
    example: tuple[str, str, str]  # (example problem, question id, what the example shows) for the docs


# ---------------------------------------------------------------- one question's context


NETWORK_HEADS = ("shape", "size", "params", "macs", "receptive_field", "map", "cell", "value")
CALCULATOR_HEADS = ("shape", "size", "params", "macs")
EXECUTOR_HEADS = ("map", "cell", "value")
_RANK_SUFFIX = re.compile(r"[123]d$")


def base_type(layer: Any) -> str:
    """A layer's type without its rank suffix: ``conv2d`` → ``conv``."""
    return _RANK_SUFFIX.sub("", layer.type)


SLIDING = ("conv", "depthwise_conv", "separable_conv", "conv_transpose", "maxpool", "avgpool")
BIASED = ("conv", "depthwise_conv", "separable_conv", "conv_transpose", "dense")


class Context:
    """What the rules need of one question: its compute (data put in), the layers it reads and the
    builder that made its key."""

    def __init__(self, key: AnswerKey, q: Question) -> None:
        self.key = key
        self.builder: KeyBuilder = key.builder
        self.q = q
        self.expected = key[q.id]
        self.compute: dict[str, Any] = resolve_refs(q.compute or {}, self.builder.problem.data)
        self.head = next((h for h in COMPUTE if h in self.compute), "")
        self.net: str | None = self.compute.get(self.head) if self.head in NETWORK_HEADS else None
        self._upstream: set[str] | None = None
        self._layers: tuple[Any, list[tuple[int, dict[str, Any], Any]]] | None = None

    # -- the network a question reads

    def targets(self) -> list[str]:
        """The layers whose records the question reads."""
        summary = self.builder.summary(self.net)  # type: ignore[arg-type]
        if self.head in ("params", "macs"):
            c = self.compute
            return list(c.get("layers") or ([c["layer"]] if "layer" in c else [r.name for r in summary.records]))
        return [self.compute.get("layer") or summary.records[-1].name]

    def upstream(self) -> set[str]:
        """The targets and every layer they depend on (once per question: every rule asks)."""
        if self._upstream is None:
            targets = self.targets()
            self._upstream = ({name for name in targets if name != "input"}
                              | self.builder.network(self.net).upstream(targets))
        return self._upstream

    def layers(self, spec: Any) -> list[tuple[int, dict[str, Any], Any]]:
        """(position in the spec's `layers`, the layer's spec, its Layer) for every layer the question
        depends on; empty when the spec is not a flat list of layers (blocks: left alone). Read only (the
        key's own spec, asked by every rule, is answered once)."""
        if self._layers is not None and self._layers[0] is spec:
            return self._layers[1]
        network = self.builder.network(self.net)
        items = spec.get("layers") if isinstance(spec, dict) else None
        if not isinstance(items, list) or len(items) != len(network.layers) or not all(
                isinstance(item, dict) and "type" in item for item in items):
            found = []
        else:
            wanted = self.upstream()
            found = [(i, item, layer) for i, (item, layer) in enumerate(zip(items, network.layers))
                     if layer.name in wanted]
        self._layers = (spec, found)
        return found

    def record(self, name: str) -> Any:
        return self.builder.summary(self.net).record(name)  # type: ignore[arg-type]

    def in_shape(self, layer: Any) -> tuple[Any, ...]:
        source = layer.inputs[0]
        network = self.builder.network(self.net)
        return tuple(network.input_shape if source == "input" else self.record(source).output_shape)

    # -- recomputing

    def value(self, builder: KeyBuilder | None = None, compute: dict[str, Any] | None = None) -> Any:
        """The question's answer from another builder (a changed spec) or another compute; None where the
        changed problem has no answer (the slip makes a layer invalid)."""
        q = self.q if compute is None else dataclasses.replace(self.q, compute=compute)
        try:
            return (builder or self.builder).expected(q).value
        except (CnnCalcError, ArithmeticError, ValueError, TypeError, IndexError, KeyError):
            return None

    def spec_slips(self, change: Callable[[Any, dict[str, Any]], dict[str, Any] | None], say: Say
                   ) -> Iterator[tuple[Any, str]]:
        """The slip made at every layer ``change`` applies to, then at each of them alone.

        ``change`` gets a shallow copy of the layer's spec and sets keys of it (never changes a value inside
        it in place: the values are the key's own spec, shared by every slip of the key)."""
        net = self.net
        if net is None:
            return
        spec = self._spec(net)
        found = []
        for position, item, layer in self.layers(spec):
            changed = change(layer, dict(item))
            if changed is not None:
                found.append((position, item, changed, layer))
        def value_of(group: list[Any]) -> Any:
            # one changed network per key: the questions that read it (the cells of one map, a map and its
            # pooling) share its builder, so the executor runs it once; a changed layer is known by the
            # keys the rule set (what it kept is the spec's own value)
            memo = ("slip-builder", net, spec_key([
                (position, [(k, v) for k, v in changed.items() if item.get(k) is not v],
                 [k for k in item if k not in changed]) for position, item, changed, _ in group]))
            if self.head in EXECUTOR_HEADS and memo[2] is not None:
                value = self.builder.read_answer(self.compute, self._replaced_outputs(memo, group))
                if value is not None:
                    return value
            builder = self.key.memo.get(memo) if memo[2] is not None else None
            if builder is None:
                new = copy.copy(spec)  # the builder reads a spec and never changes it: shallow copies do
                new["layers"] = copy.copy(spec["layers"])
                for position, _, changed, _ in group:
                    new["layers"][position] = changed
                builder = self.builder.changed({net: new})
                if memo[2] is not None:
                    self.key.memo[memo] = builder
            return self.value(builder)

        for group, value in self._effective(found, value_of):
            yield value, say(self, [layer for *_, layer in group])

    def _replaced_outputs(self, memo: tuple[Any, ...], group: list[Any]) -> dict[str, np.ndarray] | None:
        """Every layer's output with the changed layers run in place of the key's own, where each keeps its
        output shape and weights (the bias left out, the kernel flipped, the other pooling): the layers before
        them keep the key's outputs, so no network is built or run whole. None where a change does not fit
        so (the changed network is then built and run). Once per key and input."""
        from ..spec.network import remade_layer

        memo = ("slip-outputs", *memo[1:], self.compute["input"])
        if memo not in self.key.memo:
            try:
                replaced = {layer.name: remade_layer(layer, changed) for _, _, changed, layer in group}
            except CnnCalcError:
                replaced = None
            self.key.memo[memo] = None if replaced is None else self.builder.outputs_with(
                self.net, self.compute["input"], replaced=replaced)  # type: ignore[arg-type]
        return self.key.memo[memo]  # type: ignore[no-any-return]

    def _spec(self, net: str) -> Any:
        """The network's spec with its data put in, once per key; read only (a slip changes a copy)."""
        memo = ("slip-spec", net)
        if memo not in self.key.memo:  # (resolve_refs makes new lists and mappings: nothing to copy)
            self.key.memo[memo] = resolve_refs(self.builder.problem.networks[net], self.builder.problem.data)
        return self.key.memo[memo]

    def walk_slips(self, applies: Callable[[Any], bool], hook: Callable[[Any, list[Any], Any], Any], say: Say
                   ) -> Iterator[tuple[Any, str]]:
        """The calculator's walk with a step changed (``hook``) at every layer it applies to, then at each
        alone; shape, size, parameter and MAC questions only."""
        if self.head not in CALCULATOR_HEADS or self.net is None:
            return
        network = self.builder.network(self.net)
        wanted = self.upstream()
        found = [layer for layer in network.layers if layer.name in wanted and applies(layer)]
        def value_of(group: list[Any]) -> Any:
            names = {layer.name for layer in group}

            def step(layer: Any, ins: list[Any], info: Any) -> Any:
                return hook(layer, ins, info) if layer.name in names else None

            return self.builder.recalculate(self.q, step=step)

        for group, value in self._effective(found, value_of):
            yield value, say(self, group)

    def _effective(self, found: list[Any], value_of: Callable[[list[Any]], Any]) -> Iterator[tuple[list[Any], Any]]:
        """The slip made at every layer where it changes the answer (when there are several), then at each
        of those alone: a layer where the slip changes nothing is not named."""
        from .grading import matches, plain_answer

        singles = []
        for item in found:
            value = value_of([item])
            if value is not None and not matches(self.q, self.expected, plain_answer(value)):
                singles.append(([item], value))
        if len(singles) > 1:
            group = [item for (item,), _ in singles]
            value = value_of(group)
            if value is not None:
                yield group, value
        yield from singles

    def solved(self, values: dict[str, Any], unknown: str | None = None) -> Any:
        """A `solve` or `transpose` question's answer for other values (the same solver as its key)."""
        compute = copy.deepcopy(dict(self.compute))
        compute[self.head] = values
        if unknown is not None:
            compute["for"] = unknown
        return self.value(compute=compute)


def _groups(found: list[Any]) -> list[list[Any]]:
    if not found:
        return []
    return [found] + ([[item] for item in found] if len(found) > 1 else [])


def _names(layers: list[Any]) -> str:
    return ", ".join(layer.name for layer in layers)


def _pads(layer: Any, shape: tuple[Any, ...]) -> list[tuple[Any, Any]] | None:
    """A sliding layer's (before, after) padding per spatial axis, for an input of ``shape``."""
    from ..layers.base import padding_pairs

    geometry = getattr(layer, "geometry", None)
    if geometry is None or not hasattr(layer, "padding"):
        return None
    dims = shape[:-1]
    kernel, stride, dilation = geometry(len(dims))
    try:
        return padding_pairs(layer.padding, dims, kernel, stride, dilation)[0]
    except CnnCalcError:
        return None


def _axis0(layer: Any, shape: tuple[Any, ...]) -> tuple[Any, int, int, int, tuple[Any, Any]] | None:
    """(n, k, s, d, pads) of a sliding layer along its first spatial axis."""
    pads = _pads(layer, shape)
    if not pads:
        return None
    kernel, stride, dilation = layer.geometry(len(shape) - 1)
    return shape[0], kernel[0], stride[0], dilation[0], pads[0]


def _span(k: int, d: int) -> str:
    """The pixels a kernel spans, as the size formula subtracts them."""
    return f"{k}" if d == 1 else f"{d * (k - 1) + 1}"


# ---------------------------------------------------------------- the rules


def _forgot_bias(ctx: Context) -> Iterator[tuple[Any, str]]:
    def change(layer: Any, item: dict[str, Any]) -> dict[str, Any] | None:
        if base_type(layer) not in BIASED or getattr(layer, "bias", False) is False:
            return None
        item["bias"] = False
        return item

    if ctx.head in ("params", "map", "cell", "value"):
        yield from ctx.spec_slips(change, _say_bias)


def _say_bias(ctx: Context, layers: list[Any]) -> str:
    if ctx.head == "params":
        network = ctx.builder.network(ctx.net)
        counted = [name for name in ctx.targets() if base_type(network.layer(name)) in BIASED
                   and getattr(network.layer(name), "bias", False) is not False]
        if len(layers) == 1 and len(counted) > 1:
            layer = layers[0]
            count = layer.bias_count(ctx.record(layer.name).output_shape)
            return (f"the bias of {layer.name} is not counted" if count == 1 else
                    f"the {count} biases of {layer.name} are not counted")
        return "the biases are not counted (one per filter or unit)"
    layer = layers[0]
    bias = layer.bias if isinstance(layer.bias, list) else None
    channel = _channel(ctx)
    if len(layers) == 1 and bias is not None and channel is not None and channel < len(bias) \
            and layer.name in ctx.targets():
        shown = num(bias[channel])
        if ctx.head == "map":
            return f"the bias ({shown}) is left out of every cell"
        return f"it looks like the bias ({shown}) was left out"
    return f"computed without the bias of {_names(layers)}"


def _channel(ctx: Context) -> int | None:
    if ctx.head == "map":
        return int(ctx.compute.get("channel", 0))
    at = ctx.compute.get("at")
    return int(at[-1]) if at else None


def _forgot_padding(ctx: Context) -> Iterator[tuple[Any, str]]:
    def change(layer: Any, item: dict[str, Any]) -> dict[str, Any] | None:
        pads = _pads(layer, ctx.in_shape(layer))
        if not pads or not any(before or after for before, after in pads):
            return None
        item["padding"] = 0
        return item

    if ctx.head in ("solve", "transpose"):
        values = dict(ctx.compute[ctx.head])
        if values.get("p") not in (None, 0) and ctx.compute.get("for", "out") != "p" and not values.get("same"):
            yield ctx.solved({**values, "p": 0}), f"the padding (p = {values['p']}) is left out: p = 0 gives that"
        return
    if ctx.head != "receptive_field":
        yield from ctx.spec_slips(change, _say_padding)


def _say_padding(ctx: Context, layers: list[Any]) -> str:
    if len(layers) > 1:
        return f"the padding is left out ({_names(layers)})"
    layer = layers[0]
    shape = ctx.in_shape(layer)
    axis = _axis0(layer, shape)
    if axis is None:
        return f"the padding of {layer.name} is left out"
    n, k, s, d, (before, after) = axis
    shown = f"p = {before}" if before == after else f"pads {before} and {after}"
    out = arith.conv_output(n, k, s, 0, 0, d)
    return f"the padding of {layer.name} ({shown}) is left out: ⌊({n} − {_span(k, d)})/{s}⌋ + 1 = {out}"


def _sliding(layer: Any) -> bool:
    return base_type(layer) in SLIDING


def _dropped_plus_one(ctx: Context) -> Iterator[tuple[Any, str]]:
    def hook(layer: Any, ins: list[Any], info: Any) -> Any:
        return tuple(d - 1 for d in info.shape[:-1]) + (info.shape[-1],), None

    yield from ctx.walk_slips(_sliding, hook, _say_plus_one)
    if ctx.head in ("solve", "transpose"):
        values = dict(ctx.compute[ctx.head])
        unknown = ctx.compute.get("for", "out")
        if ctx.head == "solve" and values.get("same") and unknown == "p":
            f = values.get("f")
            if isinstance(f, int) and values.get("s", 1) == 1:
                yield f / 2, "p = f/2 is off by one half: from n + 2p − f + 1 = n, p = (f − 1)/2"
            return
        if unknown == "out":
            right = ctx.expected.value
            if isinstance(right, int):
                yield right - 1, f"the + 1 of the size formula is dropped: {right} − 1 = {right - 1}"
        elif isinstance(values.get("out"), int) and not values.get("same"):
            yield ctx.solved({**values, "out": values["out"] + 1}), "the + 1 of the size formula is dropped"
    elif ctx.head == "pads":
        values = dict(ctx.compute["pads"])
        f = values.get("f")
        if isinstance(f, int):
            pair = ctx.solved({**values, "f": f + 1})
            if isinstance(pair, list) and len(pair) == 2:
                if pair[0] == pair[1] == (f + 1) // 2 and f % 2 == 0 and values.get("s", 1) == 1:
                    yield pair, f"p = f/2 = {f // 2} on both sides pads one pixel too many"
                else:
                    yield pair, (f"the + 1 of the size formula is dropped: a total padding of {sum(pair)}, "
                                 f"[{pair[0]}, {pair[1]}]")
    elif ctx.head == "expression":
        values = dict(ctx.compute["expression"])
        text = ctx.expected.value
        if values.get("same") and values.get("s", 1) == 1 and isinstance(values.get("f"), str) \
                and isinstance(text, str) and ctx.compute.get("for") == "p":
            name = values["f"]
            yield (re.sub(rf"\b{re.escape(name)}\b", f"({name} + 1)", text),
                   f"p = {name}/2: the + 1 of n + 2p − {name} + 1 = n is dropped")


def _say_plus_one(ctx: Context, layers: list[Any]) -> str:
    if len(layers) > 1:
        return f"the + 1 of out = ⌊(n + 2p − f)/s⌋ + 1 is dropped at every layer ({_names(layers)})"
    layer = layers[0]
    axis = _axis0(layer, ctx.in_shape(layer))
    if axis is None or base_type(layer) == "conv_transpose":
        return f"the + 1 of the size formula is dropped at {layer.name}"
    n, k, s, d, (before, after) = axis
    pad = f" + 2·{before}" if before == after else f" + {before} + {after}"
    out = arith.floor_div(n + before + after - d * (k - 1) - 1, s)
    return f"the + 1 is dropped at {layer.name}: ⌊({n}{pad} − {_span(k, d)})/{s}⌋ = {out}"


def _ceil_for_floor(ctx: Context) -> Iterator[tuple[Any, str]]:
    def rounds(layer: Any) -> bool:
        if not _sliding(layer) or base_type(layer) == "conv_transpose":
            return False
        try:
            info = layer.inference([ctx.in_shape(layer)])
        except CnnCalcError:
            return False
        return any(arith.is_int(lost) and lost for lost in info.dropped)

    def hook(layer: Any, ins: list[Any], info: Any) -> Any:
        shape = tuple(d + (1 if arith.is_int(lost) and lost else 0) for d, lost in zip(info.shape[:-1], info.dropped))
        return shape + (info.shape[-1],), None

    yield from ctx.walk_slips(rounds, hook, _say_ceil)
    if ctx.head == "solve" and ctx.compute.get("for") == "out":
        values = dict(ctx.compute["solve"])
        n, f, p, s, d = (values.get(name) for name in ("n", "f", "p", "s", "d"))
        p, s, d = p or 0, s or 1, d or 1
        if (isinstance(n, int) and isinstance(f, int) and all(isinstance(v, int) for v in (p, s, d))
                and not values.get("same")):
            top = n + 2 * p - d * (f - 1) - 1
            ceil = arith.ceil_div(top, s) + 1
            yield ceil, f"the floor is rounded up: ⌈({n} + 2·{p} − {_span(f, d)})/{s}⌉ + 1 = {ceil}"


def _say_ceil(ctx: Context, layers: list[Any]) -> str:
    if len(layers) > 1:
        return f"the floor of the size formula is rounded up ({_names(layers)})"
    layer = layers[0]
    axis = _axis0(layer, ctx.in_shape(layer))
    if axis is None:
        return f"the floor of the size formula is rounded up at {layer.name}"
    n, k, s, d, (before, after) = axis
    pad = f" + 2·{before}" if before == after else f" + {before} + {after}"
    out = arith.ceil_div(n + before + after - d * (k - 1) - 1, s) + 1
    return f"ceil for floor at {layer.name}: ⌈({n}{pad} − {_span(k, d)})/{s}⌉ + 1 = {out}"


def _stride_ignored(ctx: Context) -> Iterator[tuple[Any, str]]:
    def change(layer: Any, item: dict[str, Any]) -> dict[str, Any] | None:
        stride = getattr(layer, "stride", None)
        if not _sliding(layer) or stride is None or all(v == 1 for v in _values(stride)):
            return None
        item["stride"] = 1
        return item

    if ctx.head in ("solve", "transpose"):
        values = dict(ctx.compute[ctx.head])
        if values.get("s") not in (None, 1) and ctx.compute.get("for", "out") != "s" and not values.get("same"):
            yield ctx.solved({**values, "s": 1}), f"the stride (s = {values['s']}) is ignored: s = 1 gives that"
        return
    if ctx.head != "receptive_field":
        yield from ctx.spec_slips(change, _say_stride)


def _values(sizes: Any) -> list[Any]:
    """The numbers of a per-axis field however the layer keeps it (one int, a tuple, a Uniform)."""
    if isinstance(sizes, (list, tuple)):
        return list(sizes)
    value = getattr(sizes, "value", sizes)
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _say_stride(ctx: Context, layers: list[Any]) -> str:
    if len(layers) > 1:
        return f"the strides are ignored ({_names(layers)})"
    layer = layers[0]
    axis = _axis0(layer, ctx.in_shape(layer))
    if axis is None:
        return f"the stride of {layer.name} is ignored"
    n, k, s, d, (before, after) = axis
    pad = f" + 2·{before}" if before == after else f" + {before} + {after}"
    out = n + before + after - d * (k - 1)
    return f"the stride of {layer.name} (s = {s}) is ignored: ({n}{pad} − {_span(k, d)})/1 + 1 = {out}"


def _dilation_ignored(ctx: Context) -> Iterator[tuple[Any, str]]:
    def change(layer: Any, item: dict[str, Any]) -> dict[str, Any] | None:
        dilation = getattr(layer, "dilation", None)
        if dilation is None or all(v == 1 for v in _values(dilation)):
            return None
        item["dilation"] = 1
        return item

    if ctx.head in ("solve", "transpose"):
        values = dict(ctx.compute[ctx.head])
        if values.get("d") not in (None, 1) and ctx.compute.get("for", "out") != "d":
            yield ctx.solved({**values, "d": 1}), f"the dilation (d = {values['d']}) is left out"
        return
    yield from ctx.spec_slips(change, _say_dilation)


def _say_dilation(ctx: Context, layers: list[Any]) -> str:
    if ctx.head == "receptive_field":
        return "the dilation is left out: a dilated kernel spans d·(k − 1) + 1 pixels"
    if len(layers) > 1:
        return f"the dilation is left out ({_names(layers)})"
    layer = layers[0]
    k, d = _values(layer.kernel)[0], _values(layer.dilation)[0]
    return (f"the dilation of {layer.name} (d = {d}) is left out: the kernel spans {d}·({k} − 1) + 1 = "
            f"{d * (k - 1) + 1} pixels, not {k}")


FLIP_HINT = {
    False: "that is a true convolution (kernel flipped); here the kernel is used as it is (cross-correlation, "
           "the deep-learning convention)",
    True: "that is cross-correlation (the kernel as given); a true convolution flips the kernel vertically and "
          "horizontally first",
}


def _flip(ctx: Context) -> Iterator[tuple[Any, str]]:
    def change(layer: Any, item: dict[str, Any]) -> dict[str, Any] | None:
        if base_type(layer) != "conv":
            return None
        item["flip"] = not layer.flip
        return item

    def say(ctx: Context, layers: list[Any]) -> str:
        if len(layers) == 1:
            return FLIP_HINT[bool(layers[0].flip)]
        return f"the kernels of {_names(layers)} flipped (or not) against the convention"

    yield from ctx.spec_slips(change, say)


def _pool_swap(source: str, target: str, hint: str) -> Callable[[Context], Iterator[tuple[Any, str]]]:
    def find(ctx: Context) -> Iterator[tuple[Any, str]]:
        def change(layer: Any, item: dict[str, Any]) -> dict[str, Any] | None:
            kind = base_type(layer)
            if not kind.endswith(source):
                return None
            item["type"] = layer.type.replace(source, target)
            item.pop("count_include_pad", None)
            return item

        def say(ctx: Context, layers: list[Any]) -> str:
            if len(layers) == 1 and layers[0].name in ctx.targets():
                return hint
            return f"{_names(layers)}: {hint}"

        yield from ctx.spec_slips(change, say)

    return find


def _channels_first(ctx: Context) -> Iterator[tuple[Any, str]]:
    value = ctx.expected.value
    if ctx.head == "shape" and "axes" not in ctx.compute and isinstance(value, list) and len(value) >= 2:
        yield [value[-1], *value[:-1]], "channels first? the course writes [rows, columns, channels]"


def _rows_columns(ctx: Context) -> Iterator[tuple[Any, str]]:
    """Rows and columns of a 2-D map: a [rows, columns] or [rows, columns, channels] shape, a cell at
    [row, column, channel], a map."""
    value = ctx.expected.value
    if ctx.head == "shape" and isinstance(value, list) and len(value) == (2 if "axes" in ctx.compute else 3):
        yield [value[1], value[0], *value[2:]], "rows and columns swapped?"
    elif ctx.head in ("cell", "value"):
        at = [int(i) for i in ctx.compute["at"]]
        output = ctx.builder.output(ctx.net, ctx.compute["input"], ctx.compute["layer"])  # type: ignore[arg-type]
        if len(at) == 3 and at[0] != at[1] and at[1] < output.shape[0] and at[0] < output.shape[1]:
            swapped = (at[1], at[0], *at[2:])
            yield (float(output[swapped]),
                   f"that is the value at row {at[1] + 1}, column {at[0] + 1}: rows and columns swapped?")
    elif ctx.head == "map" and isinstance(value, np.ndarray) and value.ndim == 2:
        yield value.T.copy(), "rows and columns swapped: that is the map transposed"


def _bias_per_weight(ctx: Context) -> Iterator[tuple[Any, str]]:
    if ctx.head != "params":
        return
    records = [ctx.record(name) for name in ctx.targets()]
    network = ctx.builder.network(ctx.net)
    biased = [(r, network.layer(r.name).bias_count(r.output_shape)) for r in records]
    biased = [(r, count) for r, count in biased if count]
    total = int(sum(int(r.params) for r in records))
    for group in _groups(biased):
        extra = sum(int(r.params) - 2 * count for r, count in group)
        if len(group) == 1:
            r, count = group[0]
            weights = int(r.params) - count
            message = (f"one bias per weight: {r.name} counted as {weights:,} + {weights:,} = {2 * weights:,}; it has "
                       f"one bias per filter or unit: {weights:,} + {count:,} = {int(r.params):,}")
        else:
            message = "one bias per weight: each filter or unit has one bias, not one per weight"
        yield total + extra, message


def _no_input_channels(ctx: Context) -> Iterator[tuple[Any, str]]:
    def applies(layer: Any) -> bool:
        if base_type(layer) != "conv" or layer.groups != 1:
            return False
        channels = ctx.in_shape(layer)[-1]
        return arith.is_int(channels) and channels > 1

    def hook(layer: Any, ins: list[Any], info: Any) -> Any:
        alone = layer.infer([tuple(ins[0][:-1]) + (1,)])  # (its inline weights are for its own input)
        return None, (alone.trainable + alone.non_trainable, alone.macs)

    def say(ctx: Context, layers: list[Any]) -> str:
        if ctx.head == "macs":
            return "the input channels are left out: each output value sums over k·k·C inputs"
        if len(layers) > 1:
            return f"the input channels are left out of the weight counts ({_names(layers)})"
        layer = layers[0]
        k = "·".join(str(v) for v in _values(layer.kernel)[:len(ctx.in_shape(layer)) - 1])
        channels = ctx.in_shape(layer)[-1]
        bias = f" + {layer.filters}" if layer.bias is not False else ""
        return (f"the input channels are left out of {layer.name}'s weights: {k}·{layer.filters}{bias}, not "
                f"{k}·{channels}·{layer.filters}{bias}")

    yield from ctx.walk_slips(applies, hook, say)


def _same_odd_side(ctx: Context) -> Iterator[tuple[Any, str]]:
    hint = "before and after swapped: the odd pixel goes after (bottom/right), as TensorFlow pads"
    if ctx.head == "pads":
        value = ctx.expected.value
        if isinstance(value, list) and len(value) == 2 and value[0] != value[1]:
            yield [value[1], value[0]], hint
        return

    def change(layer: Any, item: dict[str, Any]) -> dict[str, Any] | None:
        if getattr(layer, "padding", ("each",))[0] != "same":
            return None
        pads = _pads(layer, ctx.in_shape(layer))
        if not pads or all(before == after for before, after in pads):
            return None
        item["padding"] = [[after, before] for before, after in pads]
        return item

    if ctx.head in EXECUTOR_HEADS:
        yield from ctx.spec_slips(change, lambda ctx, layers: f"{_names(layers)}: {hint}")


def _transpose_forward(ctx: Context) -> Iterator[tuple[Any, str]]:
    if ctx.head == "transpose":
        values = {k: v for k, v in dict(ctx.compute["transpose"]).items() if k != "output_padding"}
        unknown = ctx.compute.get("for", "out")
        if values.get("same"):
            return
        value = ctx.value(compute={"solve": values, "for": unknown})
        if unknown == "out" and all(isinstance(values.get(k, 0), int) for k in ("n", "f", "p")):
            n, f, p, s = values["n"], values["f"], values.get("p", 0), values.get("s", 1)
            yield value, (f"that is the output of a direct convolution; a transposed one grows the input "
                          f"(⌊({n} + 2·{p} − {f})/{s}⌋ + 1 = {value})")
        else:
            yield value, "that is the direct convolution's formula; a transposed one grows the input"
        return

    def change(layer: Any, item: dict[str, Any]) -> dict[str, Any] | None:
        if base_type(layer) != "conv_transpose":
            return None
        item["type"] = layer.type.replace("conv_transpose", "conv")
        item.pop("output_padding", None)
        return item

    yield from ctx.spec_slips(change, lambda ctx, layers: f"the direct convolution's size formula is used for "
                                                          f"{_names(layers)}; a transposed one grows the input")


def _transpose_values(ctx: Context) -> dict[str, Any] | None:
    if ctx.head != "transpose" or ctx.compute.get("for", "out") != "out":
        return None
    values = dict(ctx.compute["transpose"])
    if values.get("same") or not all(isinstance(values.get(k), int) for k in ("n", "f")):
        return None
    return values


def _output_padding_ignored(ctx: Context) -> Iterator[tuple[Any, str]]:
    values = _transpose_values(ctx)
    if values is not None and values.get("output_padding"):
        yield ctx.solved({**values, "output_padding": 0}), (f"the output_padding ({values['output_padding']}) is "
                                                             "left out")


def _transpose_padding_added(ctx: Context) -> Iterator[tuple[Any, str]]:
    values = _transpose_values(ctx)
    if values is not None and values.get("p"):
        n, f, p = values["n"], values["f"], values["p"]
        s, d, op = values.get("s", 1), values.get("d", 1), values.get("output_padding", 0)
        yield (arith.transpose_output(n, f, s, -p, -p, op, d),
               f"the padding is added; a transposed convolution removes 2p = {2 * p}")


def _transpose_same_size(ctx: Context) -> Iterator[tuple[Any, str]]:
    values = _transpose_values(ctx)
    if values is not None:
        n, s = values["n"], values.get("s", 1)
        yield n * s, (f"n·s = {n}·{s} is the size for 'same' padding only; use (n − 1)·s − 2p + d·(f − 1) + "
                      "output_padding + 1")


def _rf_no_jumps(ctx: Context) -> Iterator[tuple[Any, str]]:
    def change(layer: Any, item: dict[str, Any]) -> dict[str, Any] | None:
        stride = getattr(layer, "stride", None)
        if stride is None or all(v == 1 for v in _values(stride)):
            return None
        item["stride"] = 1
        return item

    def say(ctx: Context, layers: list[Any]) -> str:
        return "the jumps are left out: each layer adds (k − 1) times the product of the strides below it"

    if ctx.head != "receptive_field" or ctx.net is None:
        return
    spec = ctx.builder.spec(ctx.net)
    found = [(position, change(layer, copy.deepcopy(dict(item))), layer) for position, item, layer in ctx.layers(spec)]
    found = [item for item in found if item[1] is not None]
    if found:  # the field summed with every jump 1: all strides at once (one stride alone is no known slip)
        new = copy.deepcopy(spec)
        for position, changed, _ in found:
            new["layers"][position] = changed
        value = ctx.value(ctx.builder.changed({ctx.net: new}))
        if value is not None:
            yield value, say(ctx, [layer for _, _, layer in found])


def _flops_for_macs(ctx: Context) -> Iterator[tuple[Any, str]]:
    if ctx.head == "macs":
        yield 2 * ctx.expected.value, "that is FLOPs (2·MACs); a MAC counts a multiply and its add once"


def _macs_per_input_pixel(ctx: Context) -> Iterator[tuple[Any, str]]:
    def applies(layer: Any) -> bool:
        return base_type(layer) == "conv"

    def hook(layer: Any, ins: list[Any], info: Any) -> Any:
        spatial_in = int(np.prod([int(d) for d in ins[0][:-1]]))
        spatial_out = int(np.prod([int(d) for d in info.shape[:-1]]))
        return None, (info.trainable + info.non_trainable, int(info.macs) // spatial_out * spatial_in)

    if ctx.head == "macs":
        yield from ctx.walk_slips(applies, hook, lambda ctx, layers: "that counts a window at every input pixel; "
                                                                     "count one per output pixel")


def _one_layer_only(ctx: Context) -> Iterator[tuple[Any, str]]:
    if ctx.head not in ("params", "macs"):
        return
    records = [ctx.record(name) for name in ctx.targets()]
    if len(records) > 1:
        for record in records:
            count = int(record.params if ctx.head == "params" else record.macs)
            if count:
                yield count, f"only {record.name} is counted"


def _sizes_other_reading(exact: bool, message: str) -> Callable[[Context], Iterator[tuple[Any, str]]]:
    def find(ctx: Context) -> Iterator[tuple[Any, str]]:
        if ctx.head == "sizes" and bool(ctx.compute.get("exact", False)) is exact:
            other = ctx.expected.detail.get("other_reading")
            if other:
                yield list(other), message

    return find


# ---------------------------------------------------------------- the catalogue

SHAPES = ("shape", "size", "params", "macs")
MAPS = ("map", "cell", "value")
CATALOGUE: tuple[Slip, ...] = (
    Slip("forgot_bias", "forgot the bias",
         "The bias left out: of a conv or dense layer's output (maps, cells, and every map computed from it) "
         "or of a parameter count. Recomputed with `bias: false` on the layer(s).",
         ("params", *MAPS), _forgot_bias, ("worksheet", "a.cell", "the bias b = 7 left out of one cell")),
    Slip("channels_first", "channels-first shape",
         "A shape written in PyTorch's order [C, H, W] where the course writes [H, W, C].",
         ("shape",), _channels_first, ("quiz", "conv1.shape", "[C, H, W]")),
    Slip("rows_columns_swapped", "rows and columns swapped",
         "The row and column of a cell (or the axes of a map or shape) swapped: read from the key's output at "
         "the swapped position.",
         ("shape", *MAPS), _rows_columns, ("worksheet", "a.cell", "the value at row 2, column 3")),
    Slip("forgot_padding", "forgot the padding",
         "The padding left out of a layer's size formula (and of everything computed after it). Recomputed "
         "with `padding: 0` on the layer(s), or p = 0 in a `solve`/`transpose`.",
         (*SHAPES, *MAPS, "solve", "transpose"), _forgot_padding, ("quiz", "conv2.shape", "p = 1 of conv2 forgotten")),
    Slip("output_padding_ignored", "output_padding ignored",
         "A transposed convolution's output_padding left out. Recomputed with output_padding = 0.",
         ("transpose",), _output_padding_ignored, ("transpose", "transpose.out", "output_padding 1 left out")),
    Slip("dropped_plus_one", "dropped the “+ 1”",
         "out = ⌊(n + 2p − f)/s⌋ instead of ⌊(n + 2p − f)/s⌋ + 1. Recomputed by the calculator's walk with "
         "every sliding layer one pixel smaller (or the solver with the slipped equation: p = f/2 for 'same').",
         (*SHAPES, "solve", "transpose", "pads", "expression"), _dropped_plus_one,
         ("quiz", "conv1.shape", "⌊(32 − 3)/1⌋ without the + 1")),
    Slip("ceil_for_floor", "ceil for floor",
         "The division of the size formula rounded up where it does not come out even. Recomputed by the "
         "calculator's walk with ⌈·⌉ at the layer(s) whose floor drops pixels.",
         (*SHAPES, "solve"), _ceil_for_floor, ("quiz", "conv2.shape", "⌈(30 + 2 − 3)/2⌉ + 1")),
    Slip("stride_ignored", "stride ignored",
         "A layer's stride taken as 1. Recomputed with `stride: 1` on the layer(s), or s = 1 in a `solve`.",
         (*SHAPES, *MAPS, "solve", "transpose"), _stride_ignored, ("quiz", "conv2.shape", "conv2's stride 2 ignored")),
    Slip("dilation_ignored", "dilation ignored",
         "A dilated kernel taken as a plain one (spanning k pixels, not d·(k − 1) + 1). Recomputed with "
         "`dilation: 1`.",
         (*SHAPES, *MAPS, "receptive_field", "solve", "transpose"), _dilation_ignored,
         ("dilated", "dilated.shape", "the 3 × 3 kernel of rate 2 taken as 3 pixels wide")),
    Slip("flip", "correlation/convolution flip",
         "A true convolution (kernel flipped) where the layer correlates, or the other way round. Recomputed "
         "by the executor with `flip` toggled.",
         MAPS, _flip, ("flip", "corr", "the kernel flipped for a cross-correlation")),
    Slip("avg_for_max", "average for max pooling",
         "The mean of each window where the layer takes the maximum. Recomputed by the executor with "
         "`avgpool` for `maxpool`.",
         MAPS, _pool_swap("maxpool", "avgpool", "that is average pooling; this layer takes the maximum"),
         ("worksheet", "b.pool", "the mean of each 2 × 2 window")),
    Slip("max_for_avg", "max for average pooling",
         "The maximum of each window where the layer takes the mean. Recomputed by the executor with "
         "`maxpool` for `avgpool`.",
         MAPS, _pool_swap("avgpool", "maxpool", "that is max pooling; this layer takes the mean of each window"),
         ("average", "avg.map", "the maximum of each 2 × 2 window")),
    Slip("bias_per_weight", "bias counted per weight",
         "One bias per weight instead of one per filter or unit: the weights counted twice.",
         ("params",), _bias_per_weight, ("quiz", "conv1.params", "3·3·3·16 weights, and as many biases")),
    Slip("no_input_channels", "input channels left out",
         "A conv layer's weights (or MACs) counted as if its input had one channel: k·k·F, not k·k·C·F. "
         "Recomputed by the calculator with a one-channel input to the layer.",
         ("params", "macs"), _no_input_channels, ("quiz", "conv2.params", "3·3·32 + 32 weights")),
    Slip("same_odd_side", "'same' padding's odd pixel on the wrong side",
         "With an odd total, 'same' padding puts the extra pixel after (bottom/right, as TensorFlow); the slip "
         "puts it before. Recomputed with the pair swapped (explicit pads for a map).",
         ("pads", *MAPS), _same_odd_side, ("pads", "same.pads", "[2, 1] for f = 4")),
    Slip("transpose_forward", "transposed-conv formula used forward",
         "The direct convolution's ⌊(n + 2p − f)/s⌋ + 1 for a transposed convolution. Recomputed by the "
         "solver of direct convolutions (or with `conv` for `conv_transpose`).",
         (*SHAPES, "transpose"), _transpose_forward, ("transpose", "transpose.size", "⌊(7 + 2·1 − 3)/2⌋ + 1")),
    Slip("transpose_padding_added", "transposed padding added",
         "A transposed convolution's padding added (+ 2p) instead of removed (− 2p).",
         ("transpose",), _transpose_padding_added, ("transpose", "transpose.size", "+ 2p for − 2p")),
    Slip("transpose_same_size", "n·s for a transposed convolution",
         "n·s, the size of a 'same' transposed convolution, where the padding and kernel are given.",
         ("transpose",), _transpose_same_size, ("transpose", "transpose.size", "7·2")),
    Slip("rf_no_jumps", "receptive field summed without jumps",
         "Each layer's k − 1 added to the receptive field without multiplying by the jump (the product of "
         "the strides below it). Recomputed with every stride 1.",
         ("receptive_field",), _rf_no_jumps, ("rf", "rf", "1 + 2 + 1 + 2, all jumps 1")),
    Slip("flops_for_macs", "FLOPs for MACs",
         "2·MACs (FLOPs) where the question asks for multiply-accumulates.",
         ("macs",), _flops_for_macs, ("quiz", "conv1.macs", "2·MACs")),
    Slip("macs_per_input_pixel", "a window per input pixel",
         "A conv layer's MACs counted with one window per input pixel instead of one per output pixel.",
         ("macs",), _macs_per_input_pixel, ("quiz", "conv1.macs", "32·32 windows for the 30·30 outputs")),
    Slip("one_layer_only", "one layer only",
         "Of a sum over several layers (parameters or MACs), one layer's count alone.",
         ("params", "macs"), _one_layer_only, ("quiz", "total.params", "conv2 alone")),
    Slip("exact_for_valid", "exact sizes for valid ones",
         "For the input sizes where every layer is valid, only those where every division is exact.",
         ("sizes",), _sizes_other_reading(False, "those are the sizes where every division is exact; the question "
                                                "asks where every layer is valid (the floor may drop pixels)"),
         ("sizes", "sizes.valid", "only the exact sizes")),
    Slip("valid_for_exact", "valid sizes for exact ones",
         "For the input sizes where no layer drops pixels, every size where the layers are valid.",
         ("sizes",), _sizes_other_reading(True, "those are the sizes where every layer is valid; the question also "
                                               "asks that no layer drops pixels (every division exact)"),
         ("sizes", "sizes.exact", "every valid size")),
)
SLIPS: dict[str, Slip] = {slip.id: slip for slip in CATALOGUE}


# ---------------------------------------------------------------- one question's candidates


def candidates(key: AnswerKey, q: Question) -> list[Candidate]:
    """Every slip's answer to ``q`` that differs from the key (each answer once per slip), in the
    catalogue's order; computed once per key and question."""
    memo = ("slips", q.id)
    if memo not in key.memo:
        shared = _calculator_memo(key, q)
        if shared is not None and shared in _CALCULATED:
            found = [Candidate(c.rule, copy.deepcopy(c.value), c.message) for c in _CALCULATED[shared]]
        else:
            found = _candidates(key, q)
            if shared is not None:
                if len(_CALCULATED) >= MAX_CALCULATED:
                    _CALCULATED.clear()
                _CALCULATED[shared] = [Candidate(c.rule, copy.deepcopy(c.value), c.message) for c in found]
        key.memo[memo] = found
    return key.memo[memo]  # type: ignore[no-any-return]


#: the candidates of shape, size, parameter and MAC questions, by question and network spec: they read the
#: network's sizes alone (no data goes through it, and no count depends on a weight's values), which the
#: variants of a problem often share
_CALCULATED: dict[tuple[Any, ...], list[Candidate]] = {}
MAX_CALCULATED = 4096


def _calculator_memo(key: AnswerKey, q: Question) -> tuple[Any, ...] | None:
    """What a calculator question's candidates depend on (the question as written, its compute and the
    network's spec, data put in, its weights as their shapes: the key has built it, so they fit), or None
    for a question of another kind."""
    if q.kind == "manual" or q.compute is None:
        return None
    problem = key.builder.problem
    try:
        compute = resolve_refs(q.compute, problem.data)
        head = next((h for h in COMPUTE if h in compute), "")
        spec = problem.networks.get(compute.get(head)) if head in CALCULATOR_HEADS else None
        network = None if spec is None else sizes_spec_key(spec, problem.data)
        text = None if network is None else spec_key([repr(q), compute, network])
    except (CnnCalcError, TypeError):
        return None
    return None if text is None else (problem.source, text)


def _candidates(key: AnswerKey, q: Question) -> list[Candidate]:
    from .grading import matches, plain_answer

    if q.kind == "manual" or q.compute is None:
        return []
    ctx = Context(key, q)
    found: list[Candidate] = []
    for slip in CATALOGUE:
        if ctx.head not in slip.kinds:
            continue
        try:
            pairs = list(slip.find(ctx))
        except (CnnCalcError, ArithmeticError, ValueError, TypeError, IndexError, KeyError):
            continue  # a slip the problem cannot make (a changed layer no longer fits): no candidate
        for value, message in pairs:
            if value is None:
                continue
            answer = plain_answer(value)
            if matches(q, ctx.expected, answer) or any(
                    c.rule == slip.id and matches(q, _as_expected(c.value), answer) for c in found):
                continue  # several slips may give one answer: each is kept (the student's others choose)
            found.append(Candidate(slip.id, value, message))
    return found


def _as_expected(value: Any) -> Any:
    from .key import Expected

    return Expected(value)


# ---------------------------------------------------------------- the documentation


EXAMPLES: dict[str, dict[str, Any]] = {
    "worksheet": {
        "id": "worksheet-example", "data": {
            "x": {"channels": [[[1, 2, 0, 2], [3, 2, 6, 0], [0, 0, 0, 1], [1, 3, 4, 2]],
                               [[1, 2, 4, 3], [0, 4, 3, 2], [2, 0, 5, 2], [7, 2, 0, 1]]]},
            "w": {"filters_per_channel": [[[0, 1], [3, -1]], [[-1, 2], [0, 1]]]}, "b": 7},
        "networks": {"net": {"input": [4, 4, 2], "layers": [
            {"type": "conv", "name": "conv", "filters": 1, "kernel": 2, "weight": "$w", "bias": ["$b"]},
            {"type": "relu", "name": "relu"}, {"type": "maxpool", "name": "pool", "kernel": 2, "stride": 1}]}},
        "parts": [{"id": "a", "questions": [
            {"id": "a.cell", "prompt": "conv output at row 3, column 2",
             "compute": {"cell": "net", "input": "x", "layer": "conv", "at": [2, 1, 0]}},
            {"id": "b.pool", "prompt": "the pooled map", "compute": {"map": "net", "input": "x", "layer": "pool"}}]}]},
    "quiz": {
        "id": "shape-quiz", "networks": {"net": {"input": [32, 32, 3], "layers": [
            {"type": "conv", "name": "conv1", "filters": 16, "kernel": 3},
            {"type": "conv", "name": "conv2", "filters": 32, "kernel": 3, "stride": 2, "padding": 1},
            {"type": "maxpool", "name": "pool", "kernel": 2, "stride": 2},
            {"type": "flatten", "name": "flatten"}, {"type": "dense", "name": "fc", "units": 10}]}},
        "parts": [{"id": "a", "questions": [
            {"id": "conv1.shape", "compute": {"shape": "net", "layer": "conv1"}},
            {"id": "conv2.shape", "compute": {"shape": "net", "layer": "conv2"}},
            {"id": "pool.shape", "compute": {"shape": "net", "layer": "pool"}},
            {"id": "conv1.params", "compute": {"params": "net", "layer": "conv1"}},
            {"id": "conv2.params", "compute": {"params": "net", "layer": "conv2"}},
            {"id": "conv1.macs", "compute": {"macs": "net", "layer": "conv1"}},
            {"id": "conv2.macs", "compute": {"macs": "net", "layer": "conv2"}},
            {"id": "total.params", "compute": {"params": "net", "layers": ["conv2", "fc"]}}]}]},
    "dilated": {
        "id": "dilated-example", "networks": {"net": {"input": [15, 15, 1], "layers": [
            {"type": "conv", "name": "dilated", "filters": 1, "kernel": 3, "dilation": 2}]}},
        "parts": [{"id": "a", "questions": [
            {"id": "dilated.shape", "compute": {"shape": "net", "layer": "dilated", "axes": [0, 1]}}]}]},
    "flip": {
        "id": "flip-example", "data": {"f": {"matrix": [[1, 0, 0], [0, 2, 0], [1, 2, 0]]},
                                       "g": {"filters_per_channel": [[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]}},
        "networks": {"net": {"input": [3, 3, 1], "layers": [
            {"type": "conv", "name": "corr", "filters": 1, "kernel": 3, "weight": "$g", "bias": False}]}},
        "parts": [{"id": "a", "questions": [
            {"id": "corr", "compute": {"cell": "net", "input": "f", "layer": "corr", "at": [0, 0, 0]}}]}]},
    "average": {
        "id": "average-example", "data": {"x": {"matrix": [[0, 0, 14, 82], [149, 32, 0, 0], [28, 53, 64, 44],
                                                           [39, 120, 133, 99]]}},
        "networks": {"net": {"input": [4, 4, 1], "layers": [{"type": "avgpool", "name": "avg", "kernel": 2}]}},
        "parts": [{"id": "a", "questions": [
            {"id": "avg.map", "compute": {"map": "net", "input": "x", "layer": "avg"}}]}]},
    "pads": {
        "id": "pads-example", "parts": [{"id": "a", "questions": [
            {"id": "same.pads", "compute": {"pads": {"f": 4, "same": True}}}]}]},
    "transpose": {
        "id": "transpose-example", "parts": [{"id": "a", "questions": [
            {"id": "transpose.out", "compute": {"transpose": {"n": 7, "f": 3, "s": 2, "p": 1, "output_padding": 1}}},
            {"id": "transpose.size", "compute": {"transpose": {"n": 7, "f": 3, "s": 2, "p": 1}}}]}]},
    "rf": {
        "id": "rf-example", "networks": {"net": {"input": [32, 32, 1], "layers": [
            {"type": "conv", "name": "conv1", "filters": 1, "kernel": 3},
            {"type": "maxpool", "name": "pool", "kernel": 2},
            {"type": "conv", "name": "conv2", "filters": 1, "kernel": 3}]}},
        "parts": [{"id": "a", "questions": [{"id": "rf", "compute": {"receptive_field": "net", "layer": "conv2"}}]}]},
    "sizes": {
        "id": "sizes-example", "networks": {"net": {"input": ["n", "n", 3], "layers": [
            {"type": "conv", "name": "conv1", "filters": 8, "kernel": 3},
            {"type": "maxpool", "name": "pool", "kernel": 2},
            {"type": "conv", "name": "conv2", "filters": 16, "kernel": 5, "stride": 2}]}},
        "parts": [{"id": "a", "questions": [
            {"id": "sizes.valid", "compute": {"sizes": "net", "min": 1, "max": 40}},
            {"id": "sizes.exact", "compute": {"sizes": "net", "min": 1, "max": 40, "exact": True}}]}]},
}


def example(slip: Slip) -> tuple[Question, Any, Candidate]:
    """The slip's documented example: the question, its key and the slip's candidate (computed)."""
    from .key import compute_key
    from .problem import build_problem

    name, qid, _ = slip.example
    problem = build_problem(copy.deepcopy(EXAMPLES[name]), f"<{name} example>")
    key = compute_key(problem)
    q = problem.question(qid)
    found = [c for c in candidates(key, q) if c.rule == slip.id]
    if not found:
        raise ValueError(f"slip {slip.id}: its example {name}/{qid} gives no candidate")
    return q, key[qid].value, found[0]


def marking_markdown() -> str:
    """docs/marking.md's table of rules: each with what it recomputes and an example computed from the
    catalogue itself (`tests/test_slips.py` checks that the page is what this writes)."""
    from .grading import plain_answer

    lines = ["| rule | the slip | applies to | example: key → the slip's answer |", "|---|---|---|---|"]
    for slip in CATALOGUE:
        q, value, candidate = example(slip)
        shown = f"`{_short(plain_answer(value))}` → `{_short(plain_answer(candidate.value))}`"
        prompt = f"{q.id} ({slip.example[2]}): {shown} — “{candidate.message}”".replace("|", "\\|")
        kinds = ", ".join(f"`{kind}`" for kind in slip.kinds)
        lines.append(f"| `{slip.id}` | **{slip.name}.** {slip.doc} | {kinds} | {prompt} |")
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    text = str(value).replace("'", "")
    return text if len(text) <= 60 else text[:57] + "…"
