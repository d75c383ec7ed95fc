"""One table of rules per export target, filled the same way for ONNX, PyTorch and Keras.

A rule is registered under the layer types it writes, with one of two decorators that differ only in what
the rule is given: ``layer`` rules take the layer's one input, ``merge`` rules all of its inputs (merges,
``concat``, ``attention``). A type with a rank (``conv2d``) is found under its base type (``conv``). A type
a target cannot write at all is named, with the reason, in the target's ``unsupported`` table (its module's
``UNSUPPORTED``); a setting a rule cannot take is refused by the rule itself. ``tests/test_interop_coverage.py``
fails for a layer type of :mod:`cnncalc.layers` that has neither a rule nor a reason in some target.

>>> rules: Rules[Callable[..., str], Callable[..., str]] = Rules("Demo", {"lrn": "no such operator"})
>>> @rules.layer("conv", "dense")
... def _weighted(x: str) -> str:
...     return f"weighted({x})"
>>> @rules.merge("add")
... def _add(xs: list[str]) -> str:
...     return " + ".join(xs)
>>> rules.layer_rule("conv2d")("x"), rules.merge_rule("add")(["a", "b"]), rules.merge_rule("conv")
('weighted(x)', 'a + b', None)
>>> "conv1d" in rules, rules.why_not("lrn"), rules.gap("lrn"), rules.gap("relu")
(True, 'no such operator', None, "Demo export has no rule for relu and no 'not supported because …' entry")

A rule is given the layers of the types it is registered under, and names their class (``layer: Dense``);
the class is checked against those types when the rule is registered:

>>> from cnncalc.layers.dense import Dense
>>> @rules.layer("relu")
... def _wrong(layer: Dense) -> str:
...     return str(layer.units)
Traceback (most recent call last):
ValueError: Demo: the rule _wrong is registered for relu, whose layers are Activation, but takes Dense
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, Generic, TypeAlias, TypeVar

from ..layers import LAYER_TYPES
from ..layers.conv import Conv, ConvTranspose, DepthwiseConv, SeparableConv
from ..layers.dense import Dense
from ..layers.pool import AvgPool, MaxPool
from .identifiers import base_type

__all__ = ["Biased", "Rules", "Windowed"]

#: the layers sliding a window over their input, with ``geometry(rank)`` and ``padding``
Windowed: TypeAlias = Conv | DepthwiseConv | SeparableConv | ConvTranspose | MaxPool | AvgPool
#: the layers with a ``bias`` field (true, false or inline values) and an ``activation``
Biased: TypeAlias = Conv | DepthwiseConv | SeparableConv | ConvTranspose | Dense

L = TypeVar("L", bound=Callable[..., object])  # a target's rule for one input
M = TypeVar("M", bound=Callable[..., object])  # a target's rule for all the inputs


class Rules(Generic[L, M]):
    """The rules of one target (``target`` names it in messages: "ONNX", "PyTorch", "Keras")."""

    def __init__(self, target: str, unsupported: dict[str, str]) -> None:
        self.target = target
        self.layers: dict[str, L] = {}
        self.merges: dict[str, M] = {}
        self.unsupported = unsupported  # layer type: why the target has no rule for it

    def layer(self, *types: str) -> Callable[[L], L]:
        """Register a rule taking the layer's one input for ``types``."""
        def register(rule: L) -> L:
            for name in types:
                self._claim(name, rule)
                self.layers[name] = rule
            return rule

        return register

    def merge(self, *types: str) -> Callable[[M], M]:
        """Register a rule taking every input of the layer, in order, for ``types``."""
        def register(rule: M) -> M:
            for name in types:
                self._claim(name, rule)
                self.merges[name] = rule
            return rule

        return register

    def _claim(self, name: str, rule: Callable[..., object]) -> None:
        # two rules for one type, or a rule for a type said to have none, is a mistake in this package
        if name in self:
            raise ValueError(f"{self.target}: a second rule for {name}")
        if name in self.unsupported:
            raise ValueError(f"{self.target}: a rule for {name}, which UNSUPPORTED says has none")
        self._check_class(name, rule)

    def _check_class(self, name: str, rule: Callable[..., object]) -> None:
        """The tables dispatch by type name and hand a rule its layer as it is: the class the rule names for
        its ``layer`` must be the class of ``name``'s layers or a base of it (``Any`` takes every layer)."""
        if "layer" not in getattr(rule, "__annotations__", {}):
            return
        hint = typing.get_type_hints(rule)["layer"]
        classes = typing.get_args(hint) or (hint,)  # a union (MaxPool | AvgPool) or one class
        made = LAYER_TYPES.get(name)
        if made is None or Any in classes or issubclass(made, classes):
            return  # (a name no layer has is the coverage test's to report)
        names = " | ".join(c.__name__ for c in classes)
        raise ValueError(f"{self.target}: the rule {getattr(rule, '__name__', rule)} is registered for {name}, "
                         f"whose layers are {made.__name__}, but takes {names}")

    def layer_rule(self, type_name: str) -> L | None:
        return self.layers.get(base_type(type_name))

    def merge_rule(self, type_name: str) -> M | None:
        return self.merges.get(base_type(type_name))

    def __contains__(self, type_name: object) -> bool:
        """Whether a rule writes ``type_name``."""
        if not isinstance(type_name, str):
            return False
        base = base_type(type_name)
        return base in self.layers or base in self.merges

    def why_not(self, type_name: str) -> str:
        """Why no rule writes ``type_name`` (the reason given in ``unsupported``)."""
        base = base_type(type_name)
        return self.unsupported.get(base, f"no {self.target} rule for {base}")

    def gap(self, type_name: str) -> str | None:
        """What is missing for ``type_name``: neither a rule nor a reason for having none (else None)."""
        if type_name in self or base_type(type_name) in self.unsupported:
            return None
        return f"{self.target} export has no rule for {type_name} and no 'not supported because …' entry"
