"""What every layer type shares: field parsing, the inference record, the registry.

A layer type is one subclass of :class:`Layer` that declares its ``fields`` and implements
``infer`` (shape, parameters, MACs, receptive-field step, worked formulas) and ``forward``
(the NumPy kernel). Registering is by the class attribute ``type_name``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import CnnCalcError, ShapeError, SpecError, did_you_mean
from ..maths import arith

Shape = tuple  # of dims (int or sympy expression)
REQUIRED = object()

LAYER_TYPES: dict[str, type[Layer]] = {}


class FieldValueError(Exception):
    """Raised by a field parser: carries what was expected."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


@dataclass(frozen=True)
class Field:
    parse: Callable[[Any], Any]
    default: Any = REQUIRED
    doc: str = ""


# ---------------------------------------------------------------- field parsers


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def positive_int(value: Any) -> int:
    number = _int(value)
    if number is None or number < 1:
        raise FieldValueError("a positive integer")
    return number


def nonneg_int(value: Any) -> int:
    number = _int(value)
    if number is None or number < 0:
        raise FieldValueError("a non-negative integer")
    return number


def any_int(value: Any) -> int:
    number = _int(value)
    if number is None:
        raise FieldValueError("an integer")
    return number


def pair_of(parse_one: Callable[[Any], int], what: str) -> Callable[[Any], tuple[int, int]]:
    def parse(value: Any) -> tuple[int, int]:
        try:
            if isinstance(value, list):
                if len(value) != 2:
                    raise FieldValueError("")
                return (parse_one(value[0]), parse_one(value[1]))
            one = parse_one(value)
            return (one, one)
        except FieldValueError:
            raise FieldValueError(f"{what}, or a pair [h, w] of them") from None

    return parse


size2 = pair_of(positive_int, "a positive integer")


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldValueError("true or false")
    return value


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise FieldValueError("a number")
    return float(value)


def probability(value: Any) -> float:
    rate = number(value)
    if not 0.0 <= rate < 1.0:
        raise FieldValueError("a number in [0, 1)")
    return rate


def choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in options:
            hint = did_you_mean(str(value), options) if isinstance(value, str) else None
            raise FieldValueError("one of " + ", ".join(options) + (f"; {hint}" if hint else ""))
        return value

    return parse


def padding(value: Any) -> tuple:
    """Padding as ``("same",)``, ``("full",)`` or ``("explicit", (top, bottom), (left, right))``."""
    expected = "an int, [ph, pw], [[top, bottom], [left, right]], 'valid', 'same' or 'full'"
    if isinstance(value, str):
        if value == "valid":
            return ("explicit", (0, 0), (0, 0))
        if value in ("same", "full"):
            return (value,)
        hint = did_you_mean(value, ["valid", "same", "full"])
        raise FieldValueError(expected + (f"; {hint}" if hint else ""))
    try:
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, list) for v in value):
            (top, bottom), (left, right) = ([nonneg_int(x) for x in pair] for pair in value)  # type: ignore[misc]
            return ("explicit", (top, bottom), (left, right))
        ph, pw = pair_of(nonneg_int, "a non-negative integer")(value)
        return ("explicit", (ph, ph), (pw, pw))
    except (FieldValueError, ValueError):
        raise FieldValueError(expected) from None


def numeric_array(value: Any) -> Any:
    """Inline weights: nested lists of numbers (checked for shape later, at run time)."""

    def check(node: Any, depth: int) -> None:
        if depth > 8:
            raise FieldValueError("nested lists of numbers")
        if isinstance(node, list):
            for item in node:
                check(item, depth + 1)
        elif isinstance(node, bool) or not isinstance(node, (int, float)) or not math.isfinite(node):
            raise FieldValueError("nested lists of finite numbers")

    if not isinstance(value, list):
        raise FieldValueError("nested lists of numbers")
    check(value, 0)
    return value


def bias_field(value: Any) -> Any:
    """``bias`` is a flag (true/false) or, for inline weights, a list of numbers (implies true)."""
    if isinstance(value, bool):
        return value
    try:
        return numeric_array(value)
    except FieldValueError:
        raise FieldValueError("true, false, or a list of bias values") from None


ACTIVATIONS = (
    "none", "linear", "relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "swish",
    "sigmoid", "tanh", "softmax", "hardswish", "hardsigmoid", "mish", "softplus",
)
activation_name = choice(*ACTIVATIONS)

# ---------------------------------------------------------------- inference record


@dataclass
class Inference:
    """What the calculator knows about one layer once its input shapes are known."""

    shape: Shape
    trainable: Any = 0
    non_trainable: Any = 0
    macs: Any = 0
    explain: list[str] = field(default_factory=list)
    # Receptive-field step: "keep" (per-pixel op), None (no spatial axes any more: global),
    # or one (effective kernel, stride, pad_before) per spatial axis (H, W).
    rf: Any = "keep"
    # pixels the floor drops at the bottom/right, per sliding axis (0 when the division is exact)
    dropped: list[Any] = field(default_factory=list)


# ---------------------------------------------------------------- the base class

COMMON_FIELDS = ("type", "name", "inputs", "trainable")


class Layer:
    """One layer of a network spec: validated fields plus the rules of its type."""

    type_name: ClassVar[str] = ""
    fields: ClassVar[dict[str, Field]] = {}
    #: number of inputs: 1, or None for "two or more" (merge layers)
    arity: ClassVar[int | None] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = cls.__dict__.get("type_names") or ((cls.type_name,) if cls.type_name else ())
        for name in names:
            LAYER_TYPES[name] = cls

    def __init__(self, type_name: str, name: str, index: int, inputs: list[str], options: dict[str, Any],
                 line: int | None = None) -> None:
        self.type = type_name
        self.name = name
        self.index = index
        self.inputs = inputs
        self.options = options
        self.line = line
        self.group: tuple[str, ...] = ()  # enclosing block instances, outermost first
        # fields read as attributes (layer.kernel, layer.stride); names never clash with the above
        self.__dict__.update({key: value for key, value in options.items() if key not in self.__dict__})

    @classmethod
    def parse_fields(cls, type_name: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Validate the layer's own fields; unknown or bad fields raise with the field named."""
        options: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "trainable":
                if not isinstance(value, bool):
                    raise SpecError("bad value", field=key, got=value, expected="true or false")
                options[key] = value
                continue
            if key in COMMON_FIELDS:
                continue
            spec = cls.fields.get(key)
            if spec is None:
                hint = did_you_mean(str(key), list(cls.fields) + list(COMMON_FIELDS))
                allowed = ", ".join(sorted(cls.fields)) or "none besides type, name, inputs, trainable"
                raise SpecError(f"unknown field for a {type_name} layer", field=str(key),
                                hint=hint or f"fields of {type_name}: {allowed}")
            try:
                options[key] = spec.parse(value)
            except FieldValueError as error:
                raise SpecError("bad value", field=key, got=value, expected=error.expected) from None
        for key, spec in cls.fields.items():
            if key not in options:
                if spec.default is REQUIRED:
                    raise SpecError(f"missing required field for a {type_name} layer", field=key,
                                    hint=f"expected {spec.doc}" if spec.doc else None)
                options[key] = spec.default
        options.setdefault("trainable", True)
        cls.check_fields(options)
        return options

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        """Cross-field checks that need no input shape (override where needed)."""

    def inference(self, inputs: Sequence[Shape]) -> Inference:
        """:meth:`infer`, with a frozen layer's (``trainable: false``) parameters counted as non-trainable."""
        info = self.infer(inputs)
        if self.options.get("trainable", True) is False and not (arith.is_int(info.trainable)
                                                                  and info.trainable == 0):
            frozen = info.trainable
            info.non_trainable = arith.simplify(info.non_trainable + frozen)
            info.trainable = 0
            info.explain.append(f"frozen (trainable: false): {fmt(frozen)} parameters counted as non-trainable")
        return info

    # -- rules, overridden per type

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        raise NotImplementedError

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        """The NumPy kernel: batched ``[N, ...]`` arrays in, one array out (``out_shape`` per sample)."""
        raise NotImplementedError

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        """Arrays this layer needs at run time, by key (``weight``, ``bias``, ...)."""
        return {}

    def scratch_size(self, inputs: Sequence[Shape], out_shape: Shape) -> int:
        """Values the kernel allocates besides its output (for the executor's memory guard)."""
        return 0

    def bias_count(self, out_shape: Shape) -> int:
        """How many of this layer's parameters are biases (feedback names a forgotten bias)."""
        return 0

    # -- helpers for subclasses

    def require_spatial(self, shape: Shape) -> tuple[Any, Any, Any]:
        if len(shape) != 3:
            raise ShapeError(f"a {self.type} layer needs an input of shape [H, W, C]",
                             got=list(shape), expected="3 axes")
        return shape[0], shape[1], shape[2]

    def numeric_channels(self, channels: Any) -> int:
        if not arith.is_int(channels):
            raise ShapeError("the channel count must be a number, not a symbol", got=str(channels),
                             expected="an integer")
        return channels


def fmt(value: Any) -> str:
    """Numbers as people write them: thousands separators for ints."""
    if arith.is_int(value):
        return f"{value:,}"
    return str(value)


def padding_pairs(pad: tuple, shape_hw: tuple[Any, Any], kernel: tuple[int, int], stride: tuple[int, int],
                  dilation: tuple[int, int]) -> tuple[list[tuple[Any, Any]], list[Any] | None]:
    """Resolve a parsed padding to per-axis (before, after); for 'same' also the outputs."""
    if pad[0] == "explicit":
        return [pad[1], pad[2]], None
    if pad[0] == "full":
        pairs = []
        for k, d in zip(kernel, dilation):
            span = d * (k - 1)
            pairs.append((span, span))
        return pairs, None
    pairs, outs = [], []
    for n, k, s, d in zip(shape_hw, kernel, stride, dilation):
        out, before, after = arith.same_padding(n, k, s, d)
        pairs.append((before, after))
        outs.append(out)
    return pairs, outs


def window_output(layer: Layer, axis: str, n: Any, k: int, s: int, pads: tuple[Any, Any], d: int,
                  ceil_mode: bool = False) -> tuple[Any, str, Any]:
    """Output length of a sliding window along one axis, checked, with its worked formula and the
    number of pixels the floor leaves out (0 when the division is exact, always 0 in ceil mode)."""
    before, after = pads
    span = d * (k - 1) + 1
    # (ceil mode, as PyTorch, lets a window run past the right edge: only the output size must be positive)
    if not ceil_mode and arith.is_int(n) and arith.is_int(before) and n + before + after < span:
        what = f"kernel {k}" + (f" (span {span} with dilation {d})" if d > 1 else "")
        raise ShapeError(f"{what} is larger than the padded input along {axis}",
                         got=n + before + after, expected=f"at least {span}",
                         field="kernel")
    if ceil_mode:
        out = arith.pool_output_ceil(n, k, s, before, after, d)
        bracket = ("⌈", "⌉")
    else:
        out = arith.conv_output(n, k, s, before, after, d)
        bracket = ("⌊", "⌋")
    out = arith.simplify(out)
    pad_text = f" + 2·{before}" if before == after else f" + {before} + {after}"
    kernel_text = f" − {k}" if d == 1 else f" − {d}·({k}−1) − 1"
    text = f"{axis}: {bracket[0]}({n}{pad_text}{kernel_text})/{s}{bracket[1]} + 1 = {out}"
    if ceil_mode:
        text += " (ceil mode)"
    if arith.known_positive(out) is False:
        raise ShapeError(f"output size along {axis} is not positive", got=out, expected="at least 1")
    if ceil_mode:
        dropped: Any = 0
    elif arith.is_int(n) and arith.is_int(before) and arith.is_int(after):
        dropped = (n + before + after - span) % s
    else:
        import sympy

        dropped = sympy.Mod(n + before + after - span, s)
    return out, text, dropped


def wrap_layer_error(error: CnnCalcError, layer: Layer) -> CnnCalcError:
    return error.with_context(layer=layer.name, index=layer.index, line=layer.line)
