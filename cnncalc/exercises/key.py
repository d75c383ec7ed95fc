"""Answer keys, computed from a problem's data by the calculator, the executor and the solver, each
with the worked solution a teacher would write."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..calc.analysis import Summary, analyse, whole_size
from ..errors import CnnCalcError, ExerciseError, did_you_mean
from ..layers import Layer
from ..layers.conv import Conv
from ..layers.pool import AvgPool, MaxPool
from ..maths import arith
from ..maths.budget import shared_budget
from ..maths.ranges import ranges
from ..run.executor import RunResult, run
from ..spec.network import INPUT, Network, build_network
from .problem import MAX_SIZES, Problem, ProblemFileError, Question, check_compute, line_of, resolve_refs


@dataclass
class Expected:
    value: Any  # int, float, list (shape), np.ndarray (matrix), str (expression), None (manual)
    solution: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)  # what feedback needs (windows for a map, ...)


class AnswerKey(dict[str, Expected]):
    """A problem's key: question id → :class:`Expected`, and the builder that computed it, so that marking
    can recompute an answer the way the key was made — with a student's own earlier answers put in
    (follow-through) or with a known slip made (:mod:`.slips`). What marking recomputes is remembered
    here, once per key: every student of a class shares one key, and a variant's key is its student's."""

    def __init__(self, items: dict[str, Expected], builder: KeyBuilder) -> None:
        super().__init__(items)
        self.builder = builder
        self.memo: dict[Any, Any] = {}  # marking's recomputations, by (what, question, ...)

    @property
    def problem(self) -> Problem:
        return self.builder.problem


def num(value: Any) -> str:
    """Numbers as a teacher writes them: 12, −8, 0.25 (negatives in parentheses inside products)."""
    value = float(value)
    text = f"{int(value)}" if value.is_integer() else f"{value:.6g}"
    return text.replace("-", "−")


def spec_key(value: Any) -> str | None:
    """A spec (data put in: plain lists, numbers, text) as a key that tells apart what a builder would tell
    apart — the type of each number (``False``, ``0``, ``0.0``), the order of a mapping's keys — or None
    where the text may not be the whole value (numpy abbreviates a large array with ``...``)."""
    text = repr(value)
    return None if "..." in text else text


def data_spec_key(spec: Any, data: dict[str, Any]) -> str | None:
    """:func:`spec_key` of ``resolve_refs(spec, data)`` without putting the data in (which builds the whole
    spec again): the spec as written and the value of each ``$name`` it uses; None where a name is unknown
    (resolving reports it) or a value's text may not be whole."""
    from .problem import _refs

    values: list[tuple[Any, ...]] = []
    for name in sorted({name for name, _ in _refs(spec)}):
        if name not in data:
            return None
        value = data[name]
        if isinstance(value, np.ndarray):  # put in as value.tolist(): shape, type and bytes say the same
            values.append((name, "array", value.shape, value.dtype.str, value.tobytes()))
        else:
            values.append((name, type(value).__name__, repr(value)))
    return spec_key([spec, values])


#: a layer's fields that hold values, not sizes (``numeric_array`` fields and a bias list): a figure shows
#: a layer's kernel, stride, padding and filters, never these, and no count or shape depends on them
_VALUE_FIELDS = ("weight", "pointwise_weight", "bias", "gamma", "beta", "mean", "var")


def sizes_spec_key(spec: Any, data: dict[str, Any]) -> str | None:
    """The spec as :func:`data_spec_key` keys it, with each layer's value fields as their shape only (for
    what reads a network's sizes alone, once its weights are known to fit it); None where the spec is not a
    flat list of layers or a value field is not a list of numbers."""
    items = spec.get("layers") if isinstance(spec, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return None
    layers = []
    for item in items:
        shown = dict(item)
        for value_field in _VALUE_FIELDS:
            if value_field in shown and not isinstance(shown[value_field], bool):
                try:
                    resolved = resolve_refs(shown[value_field], data)
                    values = np.asarray(resolved, dtype=float)
                except (CnnCalcError, TypeError, ValueError):
                    return None
                if not isinstance(resolved, list):
                    return None
                shown[value_field] = ("values", values.shape)
        layers.append(shown)
    return data_spec_key({**spec, "layers": layers}, data)


def _factor(value: Any) -> str:
    text = num(value)
    return f"({text})" if text.startswith("−") else text


class KeyBuilder:
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.networks: dict[str, Network] = {}
        self.summaries: dict[str, Summary] = {}
        self.runs: dict[tuple[str, str], RunResult] = {}
        self._built: dict[str, Any] = {}  # a network's place in _BUILT
        self.worked = True  # write the worked solution of a map or cell (False: the value alone)

    def network(self, name: Any) -> Network:
        if name not in self.networks:
            spec = self.problem.networks.get(name) if isinstance(name, str) else None
            if spec is None:
                raise ProblemFileError(f"unknown network '{name}'", got=name,
                                       expected="one of " + ", ".join(self.problem.networks))
            try:
                text = data_spec_key(spec, self.problem.data)
                memo = None if text is None else (self.problem.source, text)
                if memo is None:
                    network = build_network(resolve_refs(spec, self.problem.data), self.problem.source)
                else:
                    if memo not in _BUILT:
                        built = build_network(resolve_refs(spec, self.problem.data), self.problem.source)
                        if len(_BUILT) >= MAX_BUILT:
                            _BUILT.clear()
                        _BUILT[memo] = (built, [])
                    network = _BUILT[memo][0]
                    self._built[name] = memo
            except CnnCalcError as error:
                raise within(error, f"network '{name}'", self.problem.source) from None
            if network.is_symbolic:  # a key is made of numbers
                raise ProblemFileError(f"network '{name}': its input has symbol names ("
                                       + ", ".join(network.symbols) + "); a key needs numbers",
                                       got=list(spec.get("input", [])) if isinstance(spec, dict) else None,
                                       expected="sizes as numbers or $name of a number in data",
                                       file=self.problem.source, line=line_of(spec, "input"))
            self.networks[name] = network
        return self.networks[name]

    def summary(self, name: str) -> Summary:
        if name not in self.summaries:
            network = self.network(name)
            analysed = _BUILT.get(self._built.get(name))  # type: ignore[arg-type]
            if analysed is not None and analysed[0] is network and analysed[1]:
                self.summaries[name] = analysed[1][0]
                return self.summaries[name]
            try:
                self.summaries[name] = analyse(network)
            except CnnCalcError as error:
                raise within(error, f"network '{name}'", self.problem.source) from None
            if analysed is not None and analysed[0] is network:
                analysed[1].append(self.summaries[name])
        return self.summaries[name]

    def run(self, name: str, data_name: str) -> RunResult:
        key = (name, data_name)
        if key not in self.runs:
            if data_name not in self.problem.data:
                raise ProblemFileError(f"unknown data '{data_name}'", hint=did_you_mean(data_name, self.problem.data))
            value = self.problem.data[data_name]
            if not isinstance(value, np.ndarray):
                raise ExerciseError(f"data '{data_name}' is a number; network '{name}' needs an array as input",
                                    got=value)
            network = self.network(name)
            try:
                self.runs[key] = run(network, value, summary=self.summaries.get(name))
            except CnnCalcError as error:
                raise within(error, f"network '{name}' on data '{data_name}'", self.problem.source) from None
        return self.runs[key]

    def spec(self, name: str) -> Any:
        """A network's spec with its data put in, as a copy to change (a slip is a changed spec)."""
        return copy.deepcopy(resolve_refs(self.problem.networks[name], self.problem.data))

    def changed(self, networks: dict[str, Any]) -> KeyBuilder:
        """A builder for the same problem with some networks' specs replaced (specs with data put in)."""
        problem = dataclasses.replace(self.problem, networks={**self.problem.networks, **networks})
        builder = KeyBuilder(problem)
        builder.worked = False  # a slip's answer is its value: no worked solution is shown for it
        return builder

    # ------------------------------------------------------------ recomputing with something changed

    def recalculate(self, q: Question, given: dict[str, tuple[Any, ...]] | None = None,
                    step: Callable[[Any, list[Any], Any], Any] | None = None) -> Any:
        """A shape, size, parameter or MAC question's answer from the calculator's walk, layer by layer,
        with the output shape of some layers ``given`` (a student's own earlier answers: follow-through),
        or one step changed: ``step(layer, input shapes, inference)`` returns None to keep the step, or
        (shape or None, (params, MACs) or None) (a slip). None when the walk fails (a layer no longer
        fits) or the question is of another kind."""
        c = resolve_refs(q.compute or {}, self.problem.data)
        head = next((h for h in ("shape", "size", "params", "macs") if h in c), None)
        if head is None:
            return None
        network = self.network(c[head])
        shapes: dict[str, tuple[Any, ...]] = {INPUT: tuple(network.input_shape)}
        counts: dict[str, tuple[Any, Any]] = {}
        try:
            for position in network.order:
                layer = network.layers[position]
                inputs = [shapes[source] for source in layer.inputs]
                info = layer.inference(inputs)
                shape, count = tuple(info.shape), (info.trainable + info.non_trainable, info.macs)
                changed = step(layer, inputs, info) if step is not None else None
                if changed is not None:
                    if changed[0] is not None and changed[1] is None and len(shape) > 1:
                        # a step that changes the output changes its MACs too: as many per output pixel
                        before, after = (int(np.prod([int(d) for d in s[:-1]])) for s in (shape, changed[0]))
                        count = (count[0], int(count[1]) // before * after if before else count[1])
                    shape = tuple(changed[0]) if changed[0] is not None else shape
                    count = changed[1] if changed[1] is not None else count
                if given is not None and layer.name in given:
                    shape = tuple(given[layer.name])
                if not all(arith.is_int(d) and d > 0 for d in shape):
                    return None
                shapes[layer.name], counts[layer.name] = shape, count
            last = network.layers[network.order[-1]].name  # (a network has at least one layer)
            if head in ("shape", "size"):
                shape = shapes[c.get("layer") or last]
                if head == "size":
                    return int(np.prod([int(d) for d in shape]))
                axes = c.get("axes")
                return [int(shape[a % len(shape)]) for a in axes] if axes is not None else [int(d) for d in shape]
            names = c.get("layers") or ([c["layer"]] if "layer" in c else [layer.name for layer in network.layers])
            return int(sum(int(counts[name][0 if head == "params" else 1]) for name in names))
        except (CnnCalcError, ArithmeticError, ValueError, TypeError, IndexError, KeyError):
            return None

    def rerun(self, q: Question, given: dict[str, np.ndarray]) -> Any:
        """A map or cell question's answer from the executor's kernels, with the output of some layers
        ``given`` (a student's own earlier maps): the layers after them run again, the others keep the
        key's values. None where the layers cannot run on it."""
        c = resolve_refs(q.compute or {}, self.problem.data)
        head = next((h for h in ("map", "cell", "value") if h in c), None)
        if head is None:
            return None
        return self.read_answer(c, self.outputs_with(c[head], c["input"], given=given))

    def outputs_with(self, net: str, data_name: str, *, given: dict[str, np.ndarray] | None = None,
                     replaced: dict[str, Layer] | None = None) -> dict[str, np.ndarray] | None:
        """Every layer's output on some data (batched) as the key's run made it, but with the output of some
        layers ``given``, or some layers ``replaced`` by others of the same name that keep their output shape
        and take no weight the key's layer has not (a slip's changed layer): only the layers from there on
        run again, on the key's values. None where the layers cannot run so."""
        result = self.run(net, data_name)
        network = result.summary.network
        weights = self._weights(net, data_name)
        values = dict(result.outputs)
        changed = set()
        for name, array in (given or {}).items():
            values[name] = np.asarray(array, dtype=float)[None]
            changed.add(name)
        replaced = replaced or {}
        try:
            for position in network.order:
                layer = network.layers[position]
                if layer.name in changed or (layer.name not in replaced
                                             and not any(source in changed for source in layer.inputs)):
                    continue
                inputs = [values[source] for source in layer.inputs]
                shapes = [tuple(x.shape[1:]) for x in inputs]
                own = weights[layer.name]
                if layer.name in replaced:
                    layer, before = replaced[layer.name], layer
                    # it runs on the key's arrays: only those it wants, of the shapes it wants, the same values
                    # it holds inline (so they are checked already, as the key's layer's were)
                    wanted = layer.weight_shapes(shapes)
                    if any(key not in own or own[key].shape != tuple(shape)
                           or layer.options.get(key) != before.options.get(key) for key, shape in wanted.items()):
                        return None
                    own = {key: own[key] for key in wanted}
                    shape = layer.infer(shapes).shape
                    if tuple(shape) != values[layer.name].shape[1:]:
                        return None
                else:
                    shape = layer.inference(shapes).shape
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    # contiguous, as the executor keeps every output: the next kernels then add in its order
                    values[layer.name] = np.ascontiguousarray(layer.forward(inputs, own, tuple(int(d) for d in shape)),
                                                              dtype=float)
                changed.add(layer.name)
        except (CnnCalcError, ArithmeticError, ValueError, TypeError, IndexError, KeyError):
            return None
        return values

    @staticmethod
    def read_answer(c: dict[str, Any], values: dict[str, np.ndarray] | None) -> Any:
        """A map or cell question's answer (``c``: its compute, data put in) read from every layer's output
        (:meth:`outputs_with`); None where it is not there."""
        if values is None:
            return None
        try:
            output = values[c["layer"]][0]
            if "map" in c:
                channel = int(c.get("channel", 0))
                return np.asarray(output[:, :, channel] if output.ndim == 3 else output, dtype=float)
            return float(output[tuple(int(i) for i in c["at"])])
        except (ArithmeticError, ValueError, TypeError, IndexError, KeyError):
            return None

    def _weights(self, net: str, data_name: str) -> dict[str, Any]:
        return self.run(net, data_name).weights  # the arrays the key's run used, by layer and key

    def output(self, net: str, data_name: str, layer: str) -> np.ndarray:
        """One layer's output on some data (the layer checked first, so that a typo gets its name)."""
        self._record(net, layer)
        return self.run(net, data_name).layer_output(layer)

    # ------------------------------------------------------------ one question

    def expected(self, q: Question) -> Expected:
        if q.kind == "manual":
            return Expected(None, q.solution or ["graded by the instructor"])
        try:
            c = resolve_refs(q.compute or {}, self.problem.data)
            head = check_compute(self.problem, q, c)
            return getattr(self, "_" + head)(c)
        except CnnCalcError as error:
            raise within(error, f"question '{q.id}'", self.problem.source, q.line) from None

    def _record(self, net: str, layer: str | None) -> Any:
        summary = self.summary(net)
        if layer is None:
            return summary.records[-1]
        names = [record.name for record in summary.records]
        if layer not in names:
            raise ProblemFileError(f"network '{net}' has no layer '{layer}'",
                                   hint=did_you_mean(str(layer), names) or "its layers: " + ", ".join(names))
        return summary.record(layer)

    def _shape(self, c: dict[str, Any]) -> Expected:
        record = self._record(c["shape"], c.get("layer"))
        shape = [int(d) for d in record.output_shape]
        axes = c.get("axes")
        if axes is not None:
            if any(not -len(shape) <= a < len(shape) for a in axes):
                raise ExerciseError(f"axes {list(axes)} outside the output of layer '{record.name}' (shape {shape})",
                                    got=list(axes), expected=f"axes from {-len(shape)} to {len(shape) - 1}")
            axes = [a % len(shape) for a in axes]
        value = [shape[a] for a in axes] if axes is not None else shape
        # asked for some axes, the full shape is right too when the others are 1 ([4, 4] or [4, 4, 1])
        accept = [shape] if axes is not None and all(shape[i] == 1 for i in range(len(shape)) if i not in axes) else []
        return Expected(value, [line for line in record.explain if line[:2] in ("H:", "W:")] +
                        [f"shape: {value}"], {"accept": accept})

    def _size(self, c: dict[str, Any]) -> Expected:
        record = self._record(c["size"], c.get("layer"))
        dims = "·".join(str(d) for d in record.output_shape)
        return Expected(int(record.size), [f"size: {dims} = {int(record.size):,}"])

    def _params(self, c: dict[str, Any]) -> Expected:
        summary = self.summary(c["params"])
        if "layer" in c and "layers" in c:
            raise ProblemFileError("give 'layer' or 'layers', not both")
        names = c.get("layers") or ([c["layer"]] if "layer" in c else [r.name for r in summary.records])
        records = [self._record(c["params"], name) for name in names]
        lines = [f"{r.name}: " + next((line[len("params: "):] for line in r.explain if line.startswith("params:")),
                                      "0 (no weights)") for r in records]
        total = int(sum(r.params for r in records))
        if len(records) > 1:
            lines.append(" + ".join(f"{int(r.params):,}" for r in records) + f" = {total:,}")
        return Expected(total, lines)

    def _cell(self, c: dict[str, Any]) -> Expected:
        output = self.output(c["cell"], c["input"], c["layer"])
        result = self.run(c["cell"], c["input"])
        at = [int(i) for i in c["at"]]
        shape = list(output.shape)
        if len(at) != len(shape) or any(i >= n for i, n in zip(at, shape)):
            raise ExerciseError(f"'at' {at} is outside the output of layer '{c['layer']}' (shape {shape})", got=at,
                                expected=f"{len(shape)} indices, each below the size of its axis")
        value = float(output[tuple(at)])
        lines = self._conv_working(result, c["layer"], at, value) if self.worked else []
        return Expected(value, lines, {"at": at})

    def _conv_working(self, result: RunResult, layer_name: str, at: list[int], value: float) -> list[str]:
        network = result.summary.network
        layer = network.layer(layer_name)
        if (not isinstance(layer, Conv) or layer.type != "conv" or layer.groups != 1 or layer.dilation != (1, 1)
                or len(at) != 3):
            return [f"{layer_name}[{', '.join(map(str, at))}] = {num(value)} (computed by the executor)"]
        source = layer.inputs[0]
        x = result.layer_output(source)
        pads = layer.pads_for(x[None] if x.ndim == 3 else x)
        (top, _), (left, _) = pads
        kh, kw = layer.kernel
        r0, c0 = at[0] * layer.stride[0] - top, at[1] * layer.stride[1] - left
        weights = np.asarray(layer.weight, dtype=float) if layer.weight is not None else None
        if weights is None:
            return [f"{layer_name}[{', '.join(map(str, at))}] = {num(value)}"]
        filt = at[2]
        groups, sums = [], []
        for ch in range(x.shape[2]):
            terms, total = [], 0.0
            for i in range(kh):
                for j in range(kw):
                    r, q = r0 + i, c0 + j
                    pixel = x[r, q, ch] if 0 <= r < x.shape[0] and 0 <= q < x.shape[1] else 0.0
                    w = weights[kh - 1 - i, kw - 1 - j, ch, filt] if layer.flip else weights[i, j, ch, filt]
                    terms.append(f"{_factor(pixel)}·{_factor(w)}")
                    total += pixel * w
            groups.append("(" + " + ".join(terms) + ")")
            sums.append(total)
        kernel = "flipped filter (true convolution)" if layer.flip else "filter"
        lines = [f"channel {ch + 1}: window rows {r0 + 1}–{r0 + kh}, columns {c0 + 1}–{c0 + kw} · {kernel} = "
                 f"{num(total)}" for ch, total in enumerate(sums)]
        bias = layer.bias if isinstance(layer.bias, list) else None
        bias_value = float(bias[filt]) if bias else 0.0
        tail = f" + {_factor(bias_value)}" if bias else ""
        lines.append(" + ".join(groups) + tail + f" = {num(value)}")
        lines.append(" + ".join(_factor(s) for s in sums) + tail + f" = {num(value)}")
        return lines

    def _map(self, c: dict[str, Any]) -> Expected:
        output = self.output(c["map"], c["input"], c["layer"])
        result = self.run(c["map"], c["input"])
        channel = int(c.get("channel", 0))
        shape = list(output.shape)
        if output.ndim > 3 or channel >= (shape[2] if output.ndim == 3 else 1):
            raise ExerciseError(f"layer '{c['layer']}' has no map for channel {channel} (its output has shape {shape})",
                                got=channel, expected="a channel of a 1-, 2- or 3-axis output")
        matrix = output[:, :, channel] if output.ndim == 3 else output
        layer = result.summary.network.layer(c["layer"])
        detail: dict[str, Any] = {"type": layer.type}
        lines = [f"{c['layer']} ({layer.type}) output, channel {channel + 1}:"]
        if self.worked:
            lines += ["  " + "  ".join(num(v) for v in row) for row in np.atleast_2d(matrix)]
        if layer.type in ("maxpool", "avgpool", "relu"):
            source = layer.inputs[0]
            x = result.layer_output(source)
            detail["input"] = x[:, :, channel] if x.ndim == 3 else x
            if isinstance(layer, (MaxPool, AvgPool)):
                detail["kernel"], detail["stride"] = layer.kernel, layer.stride
        if self.worked:
            lines += self._worked_cell(result, c["layer"], detail, output, channel)
        return Expected(np.asarray(matrix, dtype=float), lines, detail)

    def _worked_cell(self, result: RunResult, layer_name: str, detail: dict[str, Any], output: np.ndarray,
                     channel: int) -> list[str]:
        """One cell of a map worked out, as a teacher shows the first one: the window and its sum for a
        convolution, the window and its maximum or mean for a pooling, max(0, x) for a ReLU."""
        if output.ndim != 3 or not output.size:
            return []
        layer = result.summary.network.layer(layer_name)
        at = [0, 0, channel]
        if layer.type == "conv":
            working = self._conv_working(result, layer_name, at, float(output[tuple(at)]))
            return ["row 1, column 1 worked out:", *["  " + line for line in working]] if len(working) > 1 else []
        source = detail.get("input")
        if source is None or source.ndim != 2:
            return []
        if layer.type == "relu":
            negative = np.argwhere(source < 0)
            i, j = (int(v) for v in negative[0]) if len(negative) else (0, 0)
            return [f"row {i + 1}, column {j + 1}: max(0, {num(source[i, j])}) = {num(output[i, j, channel])}"]
        kh, kw = detail["kernel"]
        window = source[:kh, :kw]
        reduce = "max" if layer.type == "maxpool" else "mean"
        values = ", ".join(num(v) for v in window.ravel())
        worked = f"row 1, column 1: {reduce} of rows 1–{kh}, columns 1–{kw} = {reduce}({values})"
        return [f"{worked} = {num(output[0, 0, channel])}"]

    def _macs(self, c: dict[str, Any]) -> Expected:
        summary = self.summary(c["macs"])
        if "layer" in c and "layers" in c:
            raise ProblemFileError("give 'layer' or 'layers', not both")
        names = c.get("layers") or ([c["layer"]] if "layer" in c else [r.name for r in summary.records])
        records = [self._record(c["macs"], name) for name in names]
        lines = [f"{r.name}: " + next((line[len("MACs: "):] for line in r.explain if line.startswith("MACs:")),
                                      "0 (no multiply-accumulates)") for r in records]
        total = int(sum(int(r.macs) for r in records))
        if len(records) > 1:
            lines.append(" + ".join(f"{int(r.macs):,}" for r in records) + f" = {total:,}")
        lines.append("(one MAC is one multiply and one add: FLOPs ≈ 2·MACs)")
        return Expected(total, lines)

    def _receptive_field(self, c: dict[str, Any]) -> Expected:
        net = c["receptive_field"]
        summary = self.summary(net)
        target = self._record(net, c.get("layer"))
        axis = int(c.get("axis", 0))
        if target.receptive_field is None or not 0 <= axis < len(target.receptive_field):
            raise ExerciseError(f"layer '{target.name}' has no receptive field along axis {axis} (its output has "
                                "no spatial layout there)", got=axis)
        size = int(whole_size(target.receptive_field[axis][0]))
        lines = ["r = r_below + (k_eff − 1)·j_below, j = j_below·s (r and j start at 1; k_eff = d·(k − 1) + 1)"]
        r_prev, j_prev = 1, 1
        for record in summary.records:
            if record.receptive_field is None:
                break
            r, j = record.receptive_field[axis][0], record.receptive_field[axis][1]
            span = (r - r_prev) / j_prev + 1 if j_prev else 1
            if float(span) != 1 or float(j) != float(j_prev):
                lines.append(f"{record.name}: r = {num(r_prev)} + ({num(span)} − 1)·{num(j_prev)} = {num(r)}, "
                             f"j = {num(j)}")
            r_prev, j_prev = r, j
            if record.name == target.name:
                break
        lines.append(f"receptive field of {target.name}: {size}×{size}" if len(target.receptive_field) == 2
                     and whole_size(target.receptive_field[1 - axis][0]) == size else
                     f"receptive field of {target.name} along axis {axis}: {size}")
        return Expected(size, lines)

    def _pads(self, c: dict[str, Any]) -> Expected:
        values = dict(c["pads"])
        if not values.get("same"):
            raise ProblemFileError("a 'pads' question asks for 'same' padding: give same: true")
        result = _solution(values, "p")
        if result.pads is None or not all(isinstance(v, int) for v in result.pads):
            raise ExerciseError("this 'same' padding has no numeric [before, after] pair", got=result.notes)
        before, after = (int(v) for v in result.pads)
        return Expected([before, after], [*result.steps, f"[before, after] = [{before}, {after}]"])

    def _transpose(self, c: dict[str, Any]) -> Expected:
        from ..calc.symbolic import solve_transpose

        values = dict(c["transpose"])
        same = bool(values.pop("same", False))
        unknown = c.get("for", "out")
        result = _solved(solve_transpose, unknown, {k: str(v) for k, v in values.items()}, same)
        if len(result.solutions) != 1 or not isinstance(result.solutions[0], int):
            raise ExerciseError("a 'transpose' question needs exactly one integer answer", got=result.solutions)
        answer = int(result.solutions[0])
        known = {k: v for k, v in values.items() if isinstance(v, int)}
        if unknown == "out" and {"n", "f"} <= set(known):
            n, f = known["n"], known["f"]
            p, s, d, op = known.get("p", 0), known.get("s", 1), known.get("d", 1), known.get("output_padding", 0)
            result.steps.insert(1, f"out = ({n} − 1)·{s} − 2·{p} + {d}·({f} − 1) + {op} + 1 = {answer}")
        return Expected(answer, result.steps)

    def _sizes(self, c: dict[str, Any]) -> Expected:
        from ..calc.symbolic import search_sizes

        net = c["sizes"]
        spec = self.problem.networks.get(net)
        try:
            network = build_network(resolve_refs(spec, self.problem.data), self.problem.source)
        except CnnCalcError as error:
            raise within(error, f"network '{net}'", self.problem.source) from None
        name = c.get("for") or (network.symbols[0] if len(network.symbols) == 1 else None)
        if name is None or name not in network.symbols:
            raise ProblemFileError(f"network '{net}': a 'sizes' question needs an input symbol to vary",
                                   got=list(network.symbols), expected="an input such as [n, n, 3], and for: n")
        low, high, exact = int(c.get("min", 1)), int(c.get("max", 64)), bool(c.get("exact", False))
        if not low <= high or high - low + 1 > MAX_SIZES:
            raise ProblemFileError(f"a 'sizes' question tries min … max: at most {MAX_SIZES:,} sizes, min ≤ max",
                                   got=[low, high], expected=f"max − min + 1 ≤ {MAX_SIZES:,}")
        # one pass over the sizes answers both readings (valid, exact): the other one names a mistake; a
        # network that does not vary between variants is searched once per process
        memo = (json.dumps(resolve_refs(spec, self.problem.data), sort_keys=True, default=str), name, low, high)
        if memo not in _SIZES:
            if len(_SIZES) >= 64:
                _SIZES.clear()
            _SIZES[memo] = search_sizes(network, name, low, high,
                                        hint="try fewer sizes (the question's min and max) or a smaller network")
        search = _SIZES[memo]
        result = search.solution(exact)
        result.notes = [note for note in result.notes if note.startswith("e.g.")]
        found = [int(v) for v in (search.exact if exact else search.valid)]
        if not found:
            raise ExerciseError(f"network '{net}' is valid for no {name} from {low} to {high}", got=result.notes)
        result.steps[-1] = f"⇒ {name} ∈ {{{ranges(found)}}}"
        text = f"{name} ∈ {{{ranges(found)}}}"
        other = [int(v) for v in (search.valid if exact else search.exact)]
        return Expected(found, [*result.steps, *result.notes[:3]], {"text": text, "other_reading": other})

    def _valid(self, c: dict[str, Any]) -> Expected:
        """yes when the calculator accepts the network; no, with the layer and its reason, when a layer's
        sizes do not fit (a fault of the spec itself, a misspelt field, stays the file's error)."""
        from ..errors import ShapeError

        net = c["valid"]
        network = self.network(net)
        try:
            summary = analyse(network)
        except ShapeError as error:
            reason = copy.copy(error)
            reason.file = reason.line = None  # the worked line is about the network, not the file
            return Expected("no", [f"{reason} ⇒ no"])
        last = summary.records[-1]
        shape = "×".join(str(d) for d in last.output_shape)
        return Expected("yes", [f"every layer fits its input; {last.name} gives {shape} ⇒ yes"])

    def _value(self, c: dict[str, Any]) -> Expected:
        return self._cell({**c, "cell": c["value"]})

    def _solve(self, c: dict[str, Any]) -> Expected:
        result = _solution(c["solve"], c["for"])
        if len(result.solutions) != 1 or not isinstance(result.solutions[0], int):
            raise ExerciseError("a 'solve' question needs exactly one integer answer", got=result.solutions)
        return Expected(result.solutions[0], result.steps)

    def _expression(self, c: dict[str, Any]) -> Expected:
        result = _solution(c["expression"], c["for"])
        if result.expression is None:
            raise ExerciseError("an 'expression' question needs a symbolic answer", got=result.solutions)
        return Expected(result.expression, result.steps)


_SIZES: dict[tuple[Any, ...], Any] = {}

#: networks built and analysed, by their spec (data put in) and file: the variants of a problem, and the
#: slips of one variant, build the same network again and again (a network and its analysis are read, never
#: changed, so every builder may share them)
_BUILT: dict[Any, tuple[Network, list[Summary]]] = {}
MAX_BUILT = 1024

def within(error: CnnCalcError, where: str, source: str, line: int | None = None) -> CnnCalcError:
    """The error as one line of the problem file: ``file:line: where: what``; its class is kept (a fault of
    the file stays one)."""
    inner = copy.copy(error)
    inner.file = inner.line = None
    text = str(inner)
    kind = type(error) if isinstance(error, ExerciseError) else ExerciseError
    return kind(text if text.startswith(where) else f"{where}: {text}", file=source, line=error.line or line)


def key_answers(problem: Problem, key: dict[str, Expected]) -> dict[str, Any]:
    """The key as an answer file's ``answers`` (full marks when graded)."""
    answers: dict[str, Any] = {}
    for q in problem.questions:
        value = key[q.id].value
        if value is None:
            continue
        if isinstance(value, np.ndarray):
            value = [[_plain(v) for v in row] for row in np.atleast_2d(value)]
        elif isinstance(value, float):
            value = _plain(value)
        answers[q.id] = value
    return answers


def _plain(value: Any) -> Any:
    value = float(value)
    return int(value) if value.is_integer() else value


def _solution(values: dict[str, Any], unknown: str) -> Any:
    from ..calc.symbolic import solve_conv

    values = dict(values)
    same = bool(values.pop("same", False))
    return _solved(solve_conv, unknown, {k: str(v) for k, v in values.items()}, same)


_SOLVED: dict[tuple[Any, ...], Any] = {}


def _solved(solver: Any, unknown: str, values: dict[str, str], same: bool) -> Any:
    """A solver's answer, remembered: the variants of a class repeat the same values often, and every call
    spends from the command's one time budget (sympy takes milliseconds per equation). A copy each time,
    since the key adds its own steps: new lists, of the same values (text, numbers and sympy expressions,
    none of which changes)."""
    memo = (solver.__name__, unknown, tuple(sorted(values.items())), same)
    if memo not in _SOLVED:
        if len(_SOLVED) >= 4096:
            _SOLVED.clear()
        _SOLVED[memo] = solver(unknown, values, same)
    found = _SOLVED[memo]
    return dataclasses.replace(found, solutions=list(found.solutions), steps=list(found.steps),
                               notes=list(found.notes))


def compute_key(problem: Problem, builder: KeyBuilder | None = None) -> AnswerKey:
    """Every question's expected answer; the questions share one symbolic time budget (the command's, when
    a command has opened one: see :class:`cnncalc.maths.budget.shared_budget`). ``builder``: one of this
    problem that has already built or run some networks (a variant's constraints), reused."""
    builder = builder or KeyBuilder(problem)
    with shared_budget():
        return AnswerKey({q.id: builder.expected(q) for q in problem.questions}, builder)
