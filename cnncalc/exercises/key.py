"""Answer keys, computed from a problem's data by the calculator, the executor and the solver, each
with the worked solution a teacher would write."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..calc.analysis import Summary, analyse, whole_size
from ..errors import CnnCalcError, ExerciseError, did_you_mean
from ..maths.budget import shared_budget
from ..run.executor import RunResult, run
from ..spec.network import Network, build_network
from .problem import MAX_SIZES, Problem, ProblemFileError, Question, check_compute, line_of, resolve_refs


@dataclass
class Expected:
    value: Any  # int, float, list (shape), np.ndarray (matrix), str (expression), None (manual)
    solution: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)  # what feedback needs (windows for a map, ...)


def num(value: Any) -> str:
    """Numbers as a teacher writes them: 12, −8, 0.25 (negatives in parentheses inside products)."""
    value = float(value)
    text = f"{int(value)}" if value.is_integer() else f"{value:.6g}"
    return text.replace("-", "−")


def _factor(value: Any) -> str:
    text = num(value)
    return f"({text})" if text.startswith("−") else text


class KeyBuilder:
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.networks: dict[str, Network] = {}
        self.summaries: dict[str, Summary] = {}
        self.runs: dict[tuple[str, str], RunResult] = {}

    def network(self, name: Any) -> Network:
        if name not in self.networks:
            spec = self.problem.networks.get(name) if isinstance(name, str) else None
            if spec is None:
                raise ProblemFileError(f"unknown network '{name}'", got=name,
                                       expected="one of " + ", ".join(self.problem.networks))
            try:
                network = build_network(resolve_refs(spec, self.problem.data), self.problem.source)
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
            try:
                self.summaries[name] = analyse(network)
            except CnnCalcError as error:
                raise within(error, f"network '{name}'", self.problem.source) from None
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
                self.runs[key] = run(network, value)
            except CnnCalcError as error:
                raise within(error, f"network '{name}' on data '{data_name}'", self.problem.source) from None
        return self.runs[key]

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
        network = self.network(c["params"])
        per_layer = [(r, network.layer(r.name).bias_count(r.output_shape)) for r in records]
        biases = sum(count for _, count in per_layer)
        mistakes: dict[float, str] = {}
        if biases:
            mistakes[float(total - biases)] = "the biases are not counted (one per filter or unit)"
        for record, count in per_layer:
            if count and count != biases:
                mistakes.setdefault(float(total - count), f"the {count} biases of {record.name} are not counted")
        if len(records) > 1:
            for record in records:
                if record.params:
                    mistakes.setdefault(float(record.params), f"only {record.name} is counted")
        mistakes.pop(float(total), None)
        return Expected(total, lines, {"mistakes": mistakes})

    def _cell(self, c: dict[str, Any]) -> Expected:
        output = self.output(c["cell"], c["input"], c["layer"])
        result = self.run(c["cell"], c["input"])
        at = [int(i) for i in c["at"]]
        shape = list(output.shape)
        if len(at) != len(shape) or any(i >= n for i, n in zip(at, shape)):
            raise ExerciseError(f"'at' {at} is outside the output of layer '{c['layer']}' (shape {shape})", got=at,
                                expected=f"{len(shape)} indices, each below the size of its axis")
        value = float(output[tuple(at)])
        lines = self._conv_working(result, c["layer"], at, value)
        mistakes = {}
        layer = result.summary.network.layer(c["layer"])
        if isinstance(getattr(layer, "bias", None), list) and len(at) == 3:
            bias = float(layer.bias[at[2]])
            if bias:
                mistakes[value - bias] = f"it looks like the bias ({num(bias)}) was left out"
        if len(at) >= 2 and at[0] != at[1] and at[1] < output.shape[0] and at[0] < output.shape[1]:
            swapped = [at[1], at[0], *at[2:]]
            mistakes.setdefault(float(output[tuple(swapped)]),
                                f"that is the value at row {at[1] + 1}, column {at[0] + 1}: rows and columns swapped?")
        if layer.type == "conv":
            other = self._variant_output(c["cell"], c["input"], c["layer"], {"flip": not layer.flip})
            if other is not None:
                mistakes.setdefault(float(other[tuple(at)]), _FLIP_HINT[bool(layer.flip)])
        mistakes.pop(value, None)
        return Expected(value, lines, {"at": at, "mistakes": mistakes})

    def _variant_output(self, net: str, data_name: str, layer_name: str, change: dict[str, Any]
                        ) -> np.ndarray | None:
        """The layer's output had one of its fields been different: the answer a known wrong turn gives
        (the kernel not flipped, max pooling for average). None where the network cannot say."""
        spec = copy.deepcopy(resolve_refs(self.problem.networks[net], self.problem.data))
        layers = spec.get("layers") if isinstance(spec, dict) else None
        target = next((layer for layer in layers or [] if isinstance(layer, dict) and layer.get("name") == layer_name),
                      None)
        if target is None:
            return None
        target.update(change)
        try:
            return run(build_network(spec, self.problem.source), self.problem.data[data_name]).layer_output(layer_name)
        except CnnCalcError:
            return None

    def _conv_working(self, result: RunResult, layer_name: str, at: list[int], value: float) -> list[str]:
        network = result.summary.network
        layer = network.layer(layer_name)
        if layer.type != "conv" or layer.groups != 1 or layer.dilation != (1, 1) or len(at) != 3:
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
        lines += ["  " + "  ".join(num(v) for v in row) for row in np.atleast_2d(matrix)]
        swaps = {"maxpool": ({"type": "avgpool"}, "that is average pooling; this layer takes the maximum"),
                 "avgpool": ({"type": "maxpool"}, "that is max pooling; this layer takes the mean of each window"),
                 "conv": ({"flip": not getattr(layer, "flip", False)}, _FLIP_HINT[bool(getattr(layer, "flip", False))])}
        if layer.type in swaps:
            change, hint = swaps[layer.type]
            other = self._variant_output(c["map"], c["input"], c["layer"], change)
            if other is not None and other.ndim == output.ndim:
                other = other[:, :, channel] if other.ndim == 3 else other
                if not np.allclose(other, matrix):
                    detail["matrix_mistakes"] = [(np.asarray(other, dtype=float), hint)]
        if layer.type in ("maxpool", "avgpool", "relu"):
            source = layer.inputs[0]
            x = result.layer_output(source)
            detail["input"] = x[:, :, channel] if x.ndim == 3 else x
            if layer.type != "relu":
                detail["kernel"], detail["stride"] = layer.kernel, layer.stride
        return Expected(np.asarray(matrix, dtype=float), lines, detail)

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
        mistakes: dict[Any, str] = {float(2 * total): "that is FLOPs (2·MACs); a MAC counts a multiply and its add "
                                                      "once"}
        network = self.network(c["macs"])
        shapes = {"input": network.input_shape, **{r.name: r.output_shape for r in summary.records}}
        without_channels, input_sized = 0, 0
        for r in records:
            layer = network.layer(r.name)
            if layer.type != "conv" or not r.macs:
                without_channels += int(r.macs)
                input_sized += int(r.macs)
                continue
            source = shapes[layer.inputs[0]]
            per_group = int(source[-1]) // layer.groups
            without_channels += int(r.macs) // per_group
            spatial_in = int(np.prod([int(d) for d in source[:-1]]))
            spatial_out = int(np.prod([int(d) for d in r.output_shape[:-1]]))
            input_sized += int(r.macs) // spatial_out * spatial_in
        if without_channels != total:
            mistakes.setdefault(float(without_channels), "the input channels are left out: each output value "
                                                         "sums over k·k·C inputs")
        if input_sized != total:
            mistakes.setdefault(float(input_sized), "that counts a window at every input pixel; count one per "
                                                    "output pixel")
        mistakes.pop(float(total), None)
        return Expected(total, lines, {"mistakes": mistakes})

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
        r_prev, j_prev, no_jump = 1, 1, 1
        for record in summary.records:
            if record.receptive_field is None:
                break
            r, j = record.receptive_field[axis][0], record.receptive_field[axis][1]
            span = (r - r_prev) / j_prev + 1 if j_prev else 1
            if float(span) != 1 or float(j) != float(j_prev):
                lines.append(f"{record.name}: r = {num(r_prev)} + ({num(span)} − 1)·{num(j_prev)} = {num(r)}, "
                             f"j = {num(j)}")
            no_jump += int(span) - 1 if float(span).is_integer() else 0
            r_prev, j_prev = r, j
            if record.name == target.name:
                break
        lines.append(f"receptive field of {target.name}: {size}×{size}" if len(target.receptive_field) == 2
                     and whole_size(target.receptive_field[1 - axis][0]) == size else
                     f"receptive field of {target.name} along axis {axis}: {size}")
        mistakes: dict[Any, str] = {}
        if no_jump != size:
            mistakes[float(no_jump)] = ("the jumps are left out: each layer adds (k − 1) times the product of the "
                                        "strides below it")
        undilated = self._undilated_field(net, target.name, axis)
        if undilated is not None and undilated != size:
            mistakes.setdefault(float(undilated), "the dilation is left out: a dilated kernel spans d·(k − 1) + 1 "
                                                  "pixels")
        return Expected(size, lines, {"mistakes": mistakes})

    def _undilated_field(self, net: str, layer_name: str, axis: int) -> int | None:
        """The receptive field had every dilation been 1 (the usual slip with dilated kernels)."""
        spec = copy.deepcopy(resolve_refs(self.problem.networks[net], self.problem.data))
        layers = [layer for layer in spec.get("layers") or [] if isinstance(layer, dict)]
        if not any("dilation" in layer for layer in layers):
            return None
        for layer in layers:
            layer.pop("dilation", None)
        try:
            record = analyse(build_network(spec, self.problem.source)).record(layer_name)
        except CnnCalcError:
            return None
        return int(whole_size(record.receptive_field[axis][0])) if record.receptive_field else None

    def _pads(self, c: dict[str, Any]) -> Expected:
        values = dict(c["pads"])
        if not values.get("same"):
            raise ProblemFileError("a 'pads' question asks for 'same' padding: give same: true")
        result = _solution(values, "p")
        if result.pads is None or not all(isinstance(v, int) for v in result.pads):
            raise ExerciseError("this 'same' padding has no numeric [before, after] pair", got=result.notes)
        before, after = (int(v) for v in result.pads)
        mistakes: dict[Any, str] = {}
        if before != after:
            mistakes[(after, before)] = ("before and after swapped: the odd pixel goes after (bottom/right), as "
                                         "TensorFlow pads")
        f = values.get("f")
        if isinstance(f, int) and f % 2 == 0:
            mistakes.setdefault((f // 2, f // 2), f"p = f/2 = {f // 2} on both sides pads one pixel too many")
        total = before + after
        if total % 2 == 0 and before != after:
            mistakes.setdefault((total // 2, total // 2), "the total is right but split evenly; TensorFlow puts the "
                                "extra pixel after")
        mistakes.pop((before, after), None)
        return Expected([before, after], [*result.steps, f"[before, after] = [{before}, {after}]"],
                        {"mistakes": mistakes})

    def _transpose(self, c: dict[str, Any]) -> Expected:
        from ..calc.symbolic import solve_transpose

        values = dict(c["transpose"])
        same = bool(values.pop("same", False))
        unknown = c.get("for", "out")
        result = _solved(solve_transpose, unknown, {k: str(v) for k, v in values.items()}, same)
        if len(result.solutions) != 1 or not isinstance(result.solutions[0], int):
            raise ExerciseError("a 'transpose' question needs exactly one integer answer", got=result.solutions)
        answer = int(result.solutions[0])
        mistakes: dict[Any, str] = {}
        known = {k: v for k, v in values.items() if isinstance(v, int)}
        if unknown == "out" and {"n", "f"} <= set(known):
            n, f = known["n"], known["f"]
            p, s, d, op = known.get("p", 0), known.get("s", 1), known.get("d", 1), known.get("output_padding", 0)
            result.steps.insert(1, f"out = ({n} − 1)·{s} − 2·{p} + {d}·({f} − 1) + {op} + 1 = {answer}")
            direct = (n + 2 * p - d * (f - 1) - 1) // s + 1
            mistakes[float(direct)] = "that is the output of a direct convolution; a transposed one grows the input"
            if p:
                mistakes.setdefault(float(answer + 4 * p), "the padding is added; a transposed convolution "
                                                           "removes 2p")
            mistakes.setdefault(float(n * s), "n·s is the size for 'same' padding only; use "
                                              "(n − 1)·s − 2p + d·(f − 1) + output_padding + 1")
            if op:
                mistakes.setdefault(float(answer - op), "the output_padding is left out")
        mistakes.pop(float(answer), None)
        return Expected(answer, result.steps, {"mistakes": mistakes})

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
        mistakes: dict[Any, str] = {}
        alternative = tuple(search.valid if exact else search.exact)
        if alternative and list(alternative) != found:
            mistakes[alternative] = ("those are the sizes where every division is exact; the question asks where "
                                     "every layer is valid (the floor may drop pixels)" if not exact else
                                     "those are the sizes where every layer is valid; the question also asks that "
                                     "no layer drops pixels (every division exact)")
        return Expected(found, [*result.steps, *result.notes[:3]], {"mistakes": mistakes, "text": text})

    def _value(self, c: dict[str, Any]) -> Expected:
        return self._cell({**c, "cell": c["value"]})

    def _solve(self, c: dict[str, Any]) -> Expected:
        result = _solution(c["solve"], c["for"])
        if len(result.solutions) != 1 or not isinstance(result.solutions[0], int):
            raise ExerciseError("a 'solve' question needs exactly one integer answer", got=result.solutions)
        mistakes = {}
        f = c["solve"].get("f")
        if c["solve"].get("same") and isinstance(f, int):
            mistakes[f / 2] = "p = f/2 is off by one half: from n + 2p − f + 1 = n, p = (f − 1)/2"
        return Expected(result.solutions[0], result.steps, {"mistakes": mistakes})

    def _expression(self, c: dict[str, Any]) -> Expected:
        result = _solution(c["expression"], c["for"])
        if result.expression is None:
            raise ExerciseError("an 'expression' question needs a symbolic answer", got=result.solutions)
        return Expected(result.expression, result.steps)


_SIZES: dict[tuple[Any, ...], Any] = {}

_FLIP_HINT = {
    False: "that is a true convolution (kernel flipped); here the kernel is used as it is (cross-correlation, "
           "the deep-learning convention)",
    True: "that is cross-correlation (the kernel as given); a true convolution flips the kernel vertically and "
          "horizontally first",
}


def within(error: CnnCalcError, where: str, source: str, line: int | None = None) -> CnnCalcError:
    """The error as one line of the problem file: ``file:line: where: what``; its class is kept (a fault of
    the file stays one)."""
    inner = copy.copy(error)
    inner.file = inner.line = None
    text = str(inner)
    kind = type(error) if isinstance(error, ExerciseError) else ExerciseError
    return kind(text if text.startswith(where) else f"{where}: {text}", file=source, line=error.line or line)


def ranges(values: list[int]) -> str:
    """Sorted sizes as runs: [12, 13, 14, 20] → "12–14, 20".

    >>> ranges([12, 13, 14, 20])
    '12–14, 20'
    """
    runs: list[str] = []
    start = prev = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        runs.append(f"{start}" if start == prev else f"{start}–{prev}")
        if value is not None:
            start = prev = value
    return ", ".join(runs)


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
    since the key adds its own steps."""
    memo = (solver.__name__, unknown, tuple(sorted(values.items())), same)
    if memo not in _SOLVED:
        if len(_SOLVED) >= 4096:
            _SOLVED.clear()
        _SOLVED[memo] = solver(unknown, values, same)
    return copy.deepcopy(_SOLVED[memo])


def compute_key(problem: Problem) -> dict[str, Expected]:
    """Every question's expected answer; the questions share one symbolic time budget (the command's, when
    a command has opened one: see :class:`cnncalc.maths.budget.shared_budget`)."""
    builder = KeyBuilder(problem)
    with shared_budget():
        return {q.id: builder.expected(q) for q in problem.questions}
