"""Walks a network's DAG once: one record per layer (shape, size, params, MACs, receptive field) and totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import CnnCalcError
from ..layers.base import Shape, wrap_layer_error
from ..maths import arith
from ..spec.network import INPUT, Network
from ..spec.safeload import collector_paused

# Receptive field along one axis: (size, jump, start) in input pixels; None once spatial layout is gone.
AxisRF = tuple[Any, Any, Any]


@dataclass
class LayerRecord:
    index: int
    name: str
    type: str
    inputs: list[str]
    output_shape: Shape
    size: Any
    trainable: Any
    non_trainable: Any
    macs: Any
    receptive_field: list[AxisRF] | None
    explain: list[str] = field(default_factory=list)
    dropped: list[Any] = field(default_factory=list)  # pixels the floor leaves out, per sliding axis

    @property
    def params(self) -> Any:
        return self.trainable + self.non_trainable


@dataclass
class Summary:
    network: Network
    records: list[LayerRecord]

    @property
    def name(self) -> str:
        return self.network.name

    @property
    def input_shape(self) -> Shape:
        return self.network.input_shape

    @property
    def input_size(self) -> Any:
        return arith.simplify(arith.product(self.network.input_shape))

    @property
    def trainable(self) -> Any:
        return sum(r.trainable for r in self.records)

    @property
    def non_trainable(self) -> Any:
        return sum(r.non_trainable for r in self.records)

    @property
    def params(self) -> Any:
        return self.trainable + self.non_trainable

    @property
    def macs(self) -> Any:
        return arith.simplify(sum(r.macs for r in self.records))

    @property
    def outputs(self) -> list[LayerRecord]:
        used = {source for r in self.records for source in r.inputs}
        return [r for r in self.records if r.name not in used]

    def record(self, name: str) -> LayerRecord:
        for record in self.records:
            if record.name == name:
                return record
        raise KeyError(name)


def _rf_step(state: list[AxisRF] | None, step: Any) -> list[AxisRF] | None:
    if step is None or state is None:
        return None
    if step == "keep":
        return state
    result = []
    for (size, jump, start), axis_step in zip(state, step):
        if axis_step[0] == "transpose":
            _, span, stride, pad_before = axis_step
            new_jump = jump / stride
            result.append((size + (span - 1) * new_jump, new_jump, start + (pad_before - (span - 1) / 2) * new_jump))
        else:
            span, stride, pad_before = axis_step
            result.append((size + (span - 1) * jump, jump * stride, start + ((span - 1) / 2 - pad_before) * jump))
    return result


def _rf_merge(states: list[list[AxisRF] | None]) -> list[AxisRF] | None:
    """Through a merge, each axis takes the input path with the largest receptive field."""
    if any(state is None for state in states):
        return None
    merged = []
    for axis in range(len(states[0])):  # type: ignore[arg-type]
        candidates = [state[axis] for state in states]  # type: ignore[index]
        merged.append(max(candidates, key=lambda rf: (_sortable(rf[0]), _sortable(rf[1]))))
    return merged


def _sortable(value: Any) -> float:
    try:
        return float(value)
    except TypeError:
        return float("inf")


def analyse(network: Network) -> Summary:
    """Infer every layer once, in topological order; records come back in spec order."""
    with collector_paused():
        return _analyse(network)


def _analyse(network: Network) -> Summary:
    shapes: dict[str, Shape] = {INPUT: network.input_shape}
    rfs: dict[str, list[AxisRF] | None] = {
        INPUT: [(1, 1, 0.0), (1, 1, 0.0)] if len(network.input_shape) == 3 else None
    }
    records: list[LayerRecord | None] = [None] * len(network.layers)
    for position in network.order:
        layer = network.layers[position]
        in_shapes = [shapes[source] for source in layer.inputs]
        try:
            info = layer.inference(in_shapes)
        except CnnCalcError as error:
            raise wrap_layer_error(error, layer).with_context(file=network.source) from None
        in_rf = rfs[layer.inputs[0]] if len(layer.inputs) == 1 else _rf_merge([rfs[s] for s in layer.inputs])
        rf = _rf_step(in_rf, info.rf)
        if rf is not None and len(info.shape) != 3:
            rf = None
        shapes[layer.name] = info.shape
        rfs[layer.name] = rf
        size = arith.simplify(arith.product(info.shape))
        records[position] = LayerRecord(layer.index, layer.name, layer.type, list(layer.inputs), info.shape,
                                        size, info.trainable, info.non_trainable, info.macs, rf, info.explain,
                                        info.dropped)
    return Summary(network, [r for r in records if r is not None])


@dataclass
class BlockRecord:
    """One block instance: its layers' totals, and the shapes entering and leaving it."""

    name: str
    depth: int  # 1 for a top-level instance
    first_index: int
    last_index: int
    input_shape: Shape
    output_shape: Shape
    size: Any
    trainable: Any
    non_trainable: Any
    macs: Any
    receptive_field: list[AxisRF] | None

    @property
    def params(self) -> Any:
        return self.trainable + self.non_trainable


def block_records(summary: Summary) -> list[BlockRecord]:
    """Every block instance in order of first appearance (outer before inner)."""
    shapes: dict[str, Shape] = {INPUT: summary.input_shape}
    members: dict[str, list[LayerRecord]] = {}
    order: list[tuple[str, int]] = []
    for record in summary.records:
        shapes[record.name] = record.output_shape
        group = summary.network.layers[record.index - 1].group
        for depth, name in enumerate(group, start=1):
            if name not in members:
                members[name] = []
                order.append((name, depth))
            members[name].append(record)
    result = []
    for name, depth in order:
        records = members[name]
        first, last = records[0], records[-1]
        result.append(BlockRecord(
            name, depth, first.index, last.index, shapes[first.inputs[0]], last.output_shape, last.size,
            sum(r.trainable for r in records), sum(r.non_trainable for r in records),
            arith.simplify(sum(r.macs for r in records)), last.receptive_field))
    return result
