"""The driver the PyTorch and Keras code exporters share: walk the network in order, give each layer a
Python name, let the target's rule write the layer's line, and gather every layer no rule can write into
one error that names each of them and why.

A target brings its :class:`~.export_rules.Rules` and a :class:`CodeWriter` subclass, which holds what its
file needs besides the lines (modules, weights, helpers) and lays the file out (``source``). Rules are
called ``rule(writer, layer, x, name, shape)`` (``layer`` rules: the one input's variable and sample
shape) or ``rule(writer, layer, xs, name, shapes)`` (``merge`` rules: every input's), and return the
expression the layer's variable is set to (an ``  # note`` after it goes to the end of the line).

Names are given twice: the code is written once with every layer's name held out, to read the names it
uses itself (:func:`.identifiers.vocabulary`), then again with each layer named clear of those.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from ..calc.analysis import analyse
from ..errors import CnnCalcError
from ..maths import arith
from ..spec.network import INPUT, Network
from .export_rules import Rules
from .identifiers import HeldOut, comment_text, identifier, vocabulary

__all__ = ["CodeWriter", "LayerRule", "MergeRule", "Unsupported", "export_code", "size_text", "whole"]


class Unsupported(Exception):
    pass


def size_text(values: tuple[int, ...]) -> str:
    if len(set(values)) == 1:
        return str(values[0])
    return "(" + ", ".join(str(v) for v in values) + ")"


def whole(value: Any, what: str) -> int:
    if not arith.is_int(value):
        raise Unsupported(f"{what} must be a number, not a symbol ({value})")
    return int(value)


class CodeWriter:
    """The lines written so far and what the rules read: each value's sample shape and variable."""

    def __init__(self, network: Network, summary: Any, name: Callable[[str], str]) -> None:
        self.network = network
        self.shapes: dict[str, tuple] = {INPUT: tuple(network.input_shape)}
        for record in summary.records:
            self.shapes[record.name] = tuple(record.output_shape)
        self.identifier = name  # every name the code gets from a layer's or the network's comes from here
        self.var: dict[str, str] = {INPUT: "x"}
        self.lines: list[str] = []  # the statements computing the layers, in order

    def source(self) -> str:
        """The whole file."""
        raise NotImplementedError


W = TypeVar("W", bound=CodeWriter)
# A rule is given the layers of the types it is registered under and names their class (``layer: Conv``),
# which the table cannot tie to a type name: its layer is Any here, and Rules checks each rule's class
# against its type names when the rule is registered.
LayerRule = Callable[[W, Any, str, str, tuple], str]
MergeRule = Callable[[W, Any, list[str], str, list[tuple]], str]


def export_code(network: Network, weights: dict[str, Any] | None, rules: Rules[LayerRule[W], MergeRule[W]],
                writer: Callable[[Network, Any, Callable[[str], str]], W], reserved: Collection[str] = ()) -> str:
    """The source ``writer`` lays out for ``network``; ``weights`` (cnncalc's arrays by key), when given,
    are checked against the network first. ``reserved``: names no layer may take besides those the code
    uses (attributes a base class has)."""
    summary = analyse(network)
    if weights is not None:
        from ..run.executor import gather_weights

        gather_weights(summary, weights, seed=0, dtype="float64")
    # the names the code uses itself, read from the code written once with the layers' names held out
    held_out = HeldOut()
    used, scope = vocabulary(_write(network, summary, rules, writer, held_out), held_out)
    taken = dict.fromkeys(used | scope | set(reserved), 2)
    return _write(network, summary, rules, writer, functools.partial(identifier, taken=taken, scope=scope))


def _write(network: Network, summary: Any, rules: Rules[LayerRule[W], MergeRule[W]],
           writer_of: Callable[[Network, Any, Callable[[str], str]], W], name: Callable[[str], str]) -> str:
    writer = writer_of(network, summary, name)
    problems: list[str] = []
    for position in network.order:
        layer = network.layers[position]
        attr = writer.identifier(layer.name)
        xs = [writer.var[s] for s in layer.inputs]
        shapes = [writer.shapes[s] for s in layer.inputs]
        try:
            if (merge := rules.merge_rule(layer.type)) is not None:
                expression = merge(writer, layer, xs, attr, shapes)
            elif (rule := rules.layer_rule(layer.type)) is not None:
                expression = rule(writer, layer, xs[0], attr, shapes[0])
            else:
                raise Unsupported(rules.why_not(layer.type))
        except Unsupported as why:
            problems.append(f"layer {layer.index} '{layer.name}' ({layer.type}): {why}")
            writer.var[layer.name] = attr  # (so that the layers after it are still checked)
            continue
        writer.var[layer.name] = attr
        expression, _, note = expression.partition("  # ")
        notes = [note] if note else []
        if layer.name != attr:
            notes.append(comment_text(layer.name))
        writer.lines.append(f"{attr} = {expression}" + (f"  # {'; '.join(notes)}" if notes else ""))
    if problems:
        raise CnnCalcError(f"cannot export to {rules.target}: {len(problems)} layer(s) have no equivalent: "
                           + "; ".join(problems[:10]) + (" …" if len(problems) > 10 else ""))
    return writer.source()
