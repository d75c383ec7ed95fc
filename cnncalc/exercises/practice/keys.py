"""A practice question's key, computed when it is drawn, by the calculator's own rules: each layer's class
infers its output, parameters, MACs and receptive-field step (:func:`walk`, the rule
:func:`cnncalc.calc.analysis.analyse` applies layer by layer), the executor's kernels run a small map
(:func:`forward`), :mod:`cnncalc.maths.arith` gives 'same' paddings and transposed sizes, and a size search
applies each layer's window rule (:func:`cnncalc.layers.base.window_output`) to whole numbers.

This is what :func:`.key.compute_key` would read from the built problem, without building it: building
(validating the problem, the network, analysing it with its worked lines, sympy for a size search) costs
milliseconds a question, and a question's solution is only needed when it is shown. The tests hold the
two equal on every template.

>>> key_of({"compute": {"shape": "net", "layer": "c"}, "networks": {"net": {"input": [32, 32, 3], "layers": [
...     {"type": "conv", "name": "c", "filters": 8, "kernel": 3, "stride": 2, "padding": 1}]}}})
[16, 16, 8]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...calc.analysis import _rf_step, whole_size
from ...errors import CnnCalcError, ShapeError
from ...layers import LAYER_TYPES, Inference, Layer
from ...layers.base import padding_pairs, window_output
from ...maths import arith
from ..problem import to_array

INPUT = "input"


def layers_of(spec: dict[str, Any]) -> list[Layer]:
    """The spec's layers, each parsed and checked by its own class (a chain: each reads the one before)."""
    layers = []
    for index, raw in enumerate(spec["layers"]):
        cls = LAYER_TYPES[raw["type"]]
        inputs = [spec["layers"][index - 1]["name"] if index else INPUT]
        layers.append(cls(raw["type"], raw["name"], index, inputs, cls.parse_fields(raw["type"], raw)))
    return layers


_STEPS: dict[tuple[str, tuple[int, ...]], tuple[Layer, Inference] | CnnCalcError] = {}
MAX_STEPS = 50_000  # remembered layer inferences (a few hundred bytes each)


def step(raw: dict[str, Any], shape: tuple[int, ...]) -> tuple[Layer, Inference]:
    """One layer parsed by its class and inferred on an input of this shape, remembered: drawn layers
    repeat (a few kernels, strides, paddings and sizes), and parsing and inferring a layer costs more than
    the rest of a question."""
    memo = (repr(sorted((key, value) for key, value in raw.items() if key != "name")), shape)
    found = _STEPS.get(memo)
    if found is None:
        cls = LAYER_TYPES[raw["type"]]
        try:
            layer = cls(raw["type"], raw["name"], 0, [INPUT], cls.parse_fields(raw["type"], raw))
            found = (layer, layer.inference([shape]))
        except CnnCalcError as error:
            found = error
        if len(_STEPS) >= MAX_STEPS:
            _STEPS.clear()
        _STEPS[memo] = found
    if isinstance(found, CnnCalcError):
        raise found
    return found


def walk(spec: dict[str, Any]) -> list[tuple[str, Layer, Inference]]:
    """Each layer's name, the layer and what the calculator infers for it, in order; a
    :class:`CnnCalcError` where the calculator refuses the network (a window that does not fit, groups
    that do not divide)."""
    shape = tuple(spec["input"])
    walked = []
    for raw in spec["layers"]:
        layer, info = step(raw, shape)
        walked.append((raw["name"], layer, info))
        shape = tuple(info.shape)
    return walked


def forward(spec: dict[str, Any], data: dict[str, Any], input_name: str, layer_name: str) -> np.ndarray:
    """A layer's output for one input, by each layer's executor kernel (``Layer.forward``); a layer's
    ``weight`` and ``bias`` are ``$name`` of data (its layout read by the problem format's
    :func:`.problem.to_array`), as the executor takes them from a weights file."""
    array = np.asarray(to_array(input_name, data[input_name]), dtype=float)[None]
    shape = tuple(spec["input"])
    for raw in spec["layers"]:
        given = {key: raw[key] for key in ("weight", "bias") if isinstance(raw.get(key), (str, list))}
        layer, info = step({key: value for key, value in raw.items() if key not in given}, shape)
        needed = layer.weight_shapes([shape])
        arrays = {key: np.asarray(_resolved(value, data), dtype=float) for key, value in given.items()}
        array = layer.forward([array], {key: arrays[key].reshape(needed[key]) for key in needed},
                              tuple(int(d) for d in info.shape))
        shape = tuple(info.shape)
        if raw["name"] == layer_name:
            break
    return np.asarray(array[0])


def _resolved(value: Any, data: dict[str, Any]) -> Any:
    """``$name`` → the data entry as an array (lists of them: each)."""
    if isinstance(value, str):
        return to_array(value[1:], data[value[1:]])
    return [_resolved(v, data) for v in value]


def sizes(spec: dict[str, Any], low: int, high: int, exact: bool) -> list[int]:
    """The input sizes n in [low, high] (the input n×n) for which every layer is valid — and, with
    ``exact``, no window drops pixels — by each layer's window rule on whole numbers, as the solver's size
    search decides for each size."""
    layers = layers_of(spec)
    found = []
    for n in range(low, high + 1):
        size: Any = n
        lossless = True
        try:
            for layer in layers:
                kernel, stride, dilation = layer.geometry(1)  # type: ignore[attr-defined]
                pads, _ = padding_pairs(layer.padding, (size,), kernel, stride, dilation)  # type: ignore[attr-defined]
                size, _, dropped = window_output(layer, "H", size, kernel[0], stride[0], pads[0], dilation[0])
                lossless = lossless and dropped == 0
        except CnnCalcError:
            continue
        if lossless or not exact:
            found.append(n)
    return found


def expression(values: dict[str, Any]) -> str:
    """A conv layer's output size for an input size that is a symbol, by the size formula (arith's
    canonical floor), written as the solver writes it."""
    memo = tuple(sorted(values.items()))
    if memo not in _EXPRESSIONS:
        from ...calc.symbolic import show, symbol  # sympy: imported when a question has a symbol

        sizes = {name: symbol(value) if isinstance(value, str) else value for name, value in values.items()}
        p = sizes.get("p", 0)
        _EXPRESSIONS[memo] = show(arith.conv_output(sizes["n"], sizes["f"], sizes.get("s", 1), p, p, sizes.get("d", 1)))
    return _EXPRESSIONS[memo]


_EXPRESSIONS: dict[tuple[Any, ...], str] = {}


def key_of(made: dict[str, Any]) -> Any:
    """The key of a drawn question (``made``: its networks, data and compute), as an answer file writes
    it; a :class:`CnnCalcError` where the calculator refuses it."""
    compute = made["compute"]
    head = next(iter(compute))
    networks = made.get("networks") or {}
    if head in ("shape", "params", "macs", "receptive_field"):
        walked = walk(networks[compute[head]])
        chosen = [info for name, _, info in walked if compute.get("layer") in (None, name)]
        if head == "shape":
            return [int(d) for d in chosen[-1].shape]
        if head == "params":
            return int(sum(info.trainable + info.non_trainable for info in chosen))
        if head == "macs":
            return int(sum(int(info.macs) for info in chosen))
        rf: Any = [(1, 1, 0.0)] * (len(networks[compute[head]]["input"]) - 1)
        for name, _, info in walked:
            rf = _rf_step(rf, info.rf)
            if name == compute["layer"]:
                break
        return int(whole_size(rf[int(compute.get("axis", 0))][0]))
    if head in ("cell", "map"):
        output = forward(networks[compute[head]], made["data"], compute["input"], compute["layer"])
        if head == "cell":
            return _plain(output[tuple(compute["at"])])
        return [[_plain(v) for v in row] for row in output[:, :, int(compute.get("channel", 0))]]
    if head == "pads":
        values = compute["pads"]
        # with stride 1 the total is d·(f − 1) whatever the input, which the question then leaves out
        _, before, after = arith.same_padding(values.get("n", 1), values["f"], values.get("s", 1), values.get("d", 1))
        return [int(before), int(after)]
    if head == "transpose":
        v = compute["transpose"]
        p = v.get("p", 0)
        out = arith.transpose_output(v["n"], v["f"], v["s"], p, p, v.get("output_padding", 0), v.get("d", 1))
        if out < 1:
            raise CnnCalcError("the transposed output is empty", got=out)
        return out
    if head == "valid":
        try:
            walk(networks[compute["valid"]])
        except ShapeError:  # a size that does not fit: the answer, not a bad draw
            return "no"
        return "yes"
    if head == "expression":
        return expression(compute["expression"])
    if head == "sizes":
        return sizes(networks[compute["sizes"]], int(compute.get("min", 1)), int(compute.get("max", 64)),
                     bool(compute.get("exact", False)))
    raise NotImplementedError(head)  # a template asks only what is above


def _plain(value: Any) -> Any:
    value = float(value)
    return int(value) if value.is_integer() else value
