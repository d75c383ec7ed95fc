"""What every layer type shares: field parsing, the inference record, the registry.

A layer type is one subclass of :class:`Layer` that declares its ``fields`` and implements
``infer`` (shape, parameters, MACs, receptive-field step, worked formulas) and ``forward``
(the NumPy kernel). Registering is by the class attribute ``type_name``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ..errors import CnnCalcError, ShapeError, SpecError, did_you_mean
from ..maths import arith
from ..records import FrozenRecord, Record

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeAlias

Shape: TypeAlias = "tuple[Any, ...]"  # of dims (int or sympy expression)
#: a size field parsed: one entry per spatial axis, or a :class:`Uniform` for all of them
Sizes: TypeAlias = "tuple[int, ...]"
#: a padding field parsed (see :func:`padding`): a kind, then its amounts
Padding: TypeAlias = "tuple[Any, ...]"
#: inline weights as written in the spec: nested lists of numbers
InlineArray: TypeAlias = "list[Any]"
REQUIRED = object()
#: largest integer a field or an input dimension takes: products of a few such sizes stay exact and
#: printable (a 4000-digit filter count would overflow float conversions and str() of the totals)
MAX_INT = 10**18

LAYER_TYPES: dict[str, type[Layer]] = {}


class FieldValueError(Exception):
    """Raised by a field parser: carries what was expected."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


class Field(FrozenRecord):
    _fields = ("parse", "default", "doc")
    parse: Callable[[Any], Any]
    default: Any
    doc: str

    def __init__(self, parse: Callable[[Any], Any], default: Any = REQUIRED, doc: str = "") -> None:
        self._set(parse=parse, default=default, doc=doc)


# ---------------------------------------------------------------- field parsers


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():  # also NaN and ±inf
            return None
        value = int(value)
    if not isinstance(value, int):
        return None
    if abs(value) > MAX_INT:
        raise FieldValueError(f"an integer of at most {MAX_INT:,} in size")
    return value


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


class Uniform(tuple[int, ...]):
    """A size given as one int: it stands for every spatial axis, whatever the input's rank.

    It looks like the 2-D pair ``(k, k)`` so that code written for [H, W, C] reads it as before;
    :func:`per_axis` widens or narrows it to the actual rank.
    """

    value: int

    def __new__(cls, value: int) -> Uniform:  # noqa: PYI034
        made = super().__new__(cls, (value, value))
        made.value = value
        return made


MAX_SPATIAL_RANK = 3
AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def sizes_of(parse_one: Callable[[Any], int], what: str) -> Callable[[Any], tuple[int, ...]]:
    """One int for every spatial axis, or a list with one entry per axis (checked against the rank later)."""

    def parse(value: Any) -> tuple[int, ...]:
        expected = f"{what}, or a list of 1 to {MAX_SPATIAL_RANK} of them (one per spatial axis)"
        try:
            if isinstance(value, list):
                if not 1 <= len(value) <= MAX_SPATIAL_RANK:
                    raise FieldValueError("")
                return tuple(parse_one(v) for v in value)
            return Uniform(parse_one(value))
        except FieldValueError:
            raise FieldValueError(expected) from None

    return parse


size2 = sizes_of(positive_int, "a positive integer")
sizes = size2


def per_axis(value: Sizes, rank: int, field_name: str) -> tuple[int, ...]:
    """A parsed size for an input of ``rank`` spatial axes: one entry per axis."""
    if isinstance(value, Uniform):
        return (value.value,) * rank
    if len(value) != rank:
        names = ", ".join(AXIS_NAMES[rank])
        raise ShapeError(f"'{field_name}' needs one entry per spatial axis ({names})", field=field_name,
                         got=list(value), expected=f"one int or a list of {rank}")
    return tuple(value)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldValueError("true or false")
    return value


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldValueError("a number")
    try:
        result = float(value)
    except OverflowError:  # an int beyond float range
        result = math.inf
    if not math.isfinite(result):
        raise FieldValueError("a finite number")
    return result


def probability(value: Any) -> float:
    rate = number(value)
    if not 0.0 <= rate < 1.0:
        raise FieldValueError("a number in [0, 1)")
    return rate


def choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            hint = did_you_mean(str(value), options) if isinstance(value, str) else None
            raise FieldValueError("one of " + ", ".join(options) + (f"; {hint}" if hint else ""))
        return value

    return parse


def padding(value: Any) -> Padding:
    """Padding as ``("same",)``, ``("full",)``, ``("each", p)`` (one int for every axis) or
    ``("explicit", (before, after), ...)`` with one pair per spatial axis."""
    expected = ("an int, a list with one int per spatial axis, [[before, after], ...] per axis, "
                "'valid', 'same' or 'full'")
    if isinstance(value, str):
        if value == "valid":
            return ("each", 0)
        if value in ("same", "full"):
            return (value,)
        hint = did_you_mean(value, ["valid", "same", "full"])
        raise FieldValueError(expected + (f"; {hint}" if hint else ""))
    try:
        if isinstance(value, list):
            if not 1 <= len(value) <= MAX_SPATIAL_RANK:
                raise FieldValueError(expected)
            if all(isinstance(v, list) for v in value):
                pairs = []
                for pair in value:
                    if len(pair) != 2:
                        raise FieldValueError(expected)
                    pairs.append((nonneg_int(pair[0]), nonneg_int(pair[1])))
                return ("explicit", *pairs)
            if any(isinstance(v, list) for v in value):
                raise FieldValueError(expected)
            return ("explicit", *((p, p) for p in (nonneg_int(v) for v in value)))
        return ("each", nonneg_int(value))
    except FieldValueError:
        raise FieldValueError(expected) from None


#: how a padded border is filled, as PyTorch's ``padding_mode`` names it: zeros, the mirror image without the
#: edge pixel (reflect), the edge pixel repeated (replicate), the other side of the axis (circular)
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def check_padding_mode(mode: str, pads: Sequence[tuple[Any, Any]], dims: Sequence[Any],
                       field_name: str = "padding") -> list[str]:
    """Refuse pads a non-zero mode cannot fill (as PyTorch and ONNX refuse them): reflect mirrors at most
    ``n − 1`` pixels, circular wraps at most ``n``. Returns the explain line of a non-zero mode."""
    if mode == "zeros":
        return []
    for axis, n, pair in zip(AXIS_NAMES[len(dims)], dims, pads):
        most = n - 1 if mode == "reflect" else n if mode == "circular" else None
        if most is None or not arith.is_int(n) or not all(arith.is_int(p) for p in pair):
            continue
        if max(pair) > most:
            raise ShapeError(f"{mode} padding of {max(pair)} along {axis} needs more than the {n} pixels there",
                             field=field_name, got=max(pair), expected=f"at most {most} on each side")
    what = {"reflect": "mirrored without repeating the edge pixel", "replicate": "the edge pixel repeated",
            "circular": "the other side of the axis (wrapped)"}[mode]
    return [f"padding_mode {mode}: the border is {what}; parameters and MACs as with zeros"]


def explicit_pairs(pad: Padding, rank: int, field_name: str = "padding") -> list[tuple[Any, Any]]:
    """The (before, after) pairs of an ``each``/``explicit`` padding for ``rank`` spatial axes."""
    if pad[0] == "each":
        return [(pad[1], pad[1])] * rank
    pairs = list(pad[1:])
    if len(pairs) != rank:
        names = ", ".join(AXIS_NAMES[rank])
        shown = [list(p) if p[0] != p[1] else p[0] for p in pairs]
        hint = (f"before/after pairs are always nested: [[{pairs[0][0]}, {pairs[1][0]}]] pads the one axis"
                if rank == 1 and len(pairs) == 2 and all(p[0] == p[1] for p in pairs) else None)
        raise ShapeError(f"'{field_name}' needs one entry per spatial axis ({names})", field=field_name,
                         got=shown, expected=f"an int or a list of {rank}", hint=hint)
    return pairs


def numeric_array(value: Any) -> InlineArray:
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
    try:
        check(value, 0)
    except OverflowError:  # math.isfinite of an int beyond float range
        raise FieldValueError("nested lists of finite numbers") from None
    return value


def _nested_shape(value: Any) -> tuple[int, ...] | None:
    """The shape of nested lists of numbers, or None when they are ragged.

    >>> _nested_shape([[1, 2], [3, 4], [5, 6]]), _nested_shape([[1, 2], [3]]), _nested_shape([])
    ((3, 2), None, (0,))
    """
    if not isinstance(value, list):
        return ()
    shape = []  # read down the first items, then checked level by level (no call per list: weights are many)
    node: Any = value
    while isinstance(node, list):
        shape.append(len(node))
        if not node:
            break
        node = node[0]
    level = [value]
    for size in shape:
        below: list[Any] = []
        for node in level:
            if not isinstance(node, list) or len(node) != size:
                return None
            below.extend(node)
        level = below
    return None if any(isinstance(node, list) for node in level) else tuple(shape)


def bias_field(value: Any) -> bool | InlineArray:
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


class Inference(Record):
    """What the calculator knows about one layer once its input shapes are known."""

    _fields = ("shape", "trainable", "non_trainable", "macs", "explain", "rf", "dropped")
    shape: Shape
    trainable: Any
    non_trainable: Any
    macs: Any
    explain: list[str]
    # Receptive-field step: "keep" (per-pixel op), None (no spatial axes any more: global),
    # or one step per spatial axis: (effective kernel, stride, pad_before) for a sliding window, or
    # (kind, pixels read below, stride or scale, pad_before) for "transpose"/"upsample" (jump / stride).
    rf: Any
    # pixels the floor drops at the bottom/right, per sliding axis (0 when the division is exact)
    dropped: list[Any]

    def __init__(self, shape: Shape, trainable: Any = 0, non_trainable: Any = 0, macs: Any = 0,
                 explain: list[str] | None = None, rf: Any = "keep", dropped: list[Any] | None = None) -> None:
        self.shape = shape
        self.trainable = trainable
        self.non_trainable = non_trainable
        self.macs = macs
        self.explain = [] if explain is None else explain
        self.rf = rf
        self.dropped = [] if dropped is None else dropped


# ---------------------------------------------------------------- memory: what backward keeps

#: the frameworks whose saved-for-backward rules the layer types know (`cnncalc memory --framework`)
FRAMEWORKS = ("pytorch", "keras")

#: what PyTorch's autograd keeps for each element-wise activation (tools/autograd/derivatives.yaml): its
#: ``result`` (the output) or ``self`` (the input); softplus is written ``logaddexp(x, zeros)``, which keeps
#: both of its operands
ACTIVATION_SAVES = {
    "none": (), "linear": (),
    "relu": ("output",), "sigmoid": ("output",), "tanh": ("output",), "softmax": ("output",),
    "relu6": ("input",), "leaky_relu": ("input",), "elu": ("input",), "gelu": ("input",), "silu": ("input",),
    "swish": ("input",), "hardswish": ("input",), "hardsigmoid": ("input",), "mish": ("input",),
    "normalize": ("input",), "softplus": ("input", "zeros"),
}


class Saved(FrozenRecord):
    """One tensor a layer's backward pass needs, kept from the forward pass.

    ``what`` is ``"input"`` (the layer's input ``index``, the very tensor the layer below made: counted once
    however many layers keep it), ``"output"`` (this layer's output, likewise shared with the layers that
    read it) or ``"own"`` (a tensor only this layer holds: ``elements`` values of ``dtype``, per sample
    unless ``batched`` is false). ``dtype`` ``"compute"`` is the run's dtype (float32, bfloat16, …).
    ``why`` is the rule, as `--explain` prints it.
    """

    _fields = ("what", "why", "index", "elements", "dtype", "batched")
    what: str
    why: str
    index: int
    elements: Any
    dtype: str
    batched: bool

    def __init__(self, what: str, why: str, index: int = 0, elements: Any = 0, dtype: str = "compute",
                 batched: bool = True) -> None:
        self._set(what=what, why=why, index=index, elements=elements, dtype=dtype, batched=batched)


def count(shape: Shape) -> Any:
    """The number of values of a per-sample shape."""
    return arith.product(shape)


def activation_saved(name: str, shape: Shape, fused: bool) -> list[Saved]:
    """What an activation keeps in PyTorch; ``fused`` (``activation:`` on a conv or dense layer): its input
    is the layer's own pre-activation tensor, not a tensor of the network."""
    saved = []
    for part in ACTIVATION_SAVES[name]:
        if part == "output":
            saved.append(Saved("output", f"{name} keeps its output (result)"))
        elif part == "zeros":
            saved.append(Saved("own", f"{name} = logaddexp(x, zeros) keeps the zeros too", elements=count(shape)))
        elif fused:
            saved.append(Saved("own", f"{name} keeps its input (self): the pre-activation", elements=count(shape)))
        else:
            saved.append(Saved("input", f"{name} keeps its input (self)"))
    return saved


def saved_window_input(layer: Any, shape: Shape,
                       in_kernel: Callable[[list[tuple[Any, Any]], tuple[int, ...]], bool]) -> Saved:
    """What a sliding-window layer keeps of its input in PyTorch: the input itself, or, where the padding
    is a separate ``F.pad`` ('same', or pads ``in_kernel(pads, kernel)`` says the kernel cannot take), the
    padded copy that constant_pad_nd makes."""
    dims, channels = layer.spatial_input(shape)
    kernel, stride, dilation = layer.geometry(len(dims))
    pads, _ = padding_pairs(layer.padding, dims, kernel, stride, dilation)
    if layer.padding[0] != "same" and in_kernel(pads, kernel):
        return Saved("input", f"{layer.type} keeps its input (self)")
    padded = (*(n + before + after for n, (before, after) in zip(dims, pads)), channels)
    return Saved("own", f"{layer.type} keeps its padded input {list(padded)} (F.pad makes a new tensor)",
                 elements=count(padded))


# ---------------------------------------------------------------- the base class

COMMON_FIELDS = ("type", "name", "inputs", "trainable")


class Layer:
    """One layer of a network spec: validated fields plus the rules of its type.

    A layer type lists its fields in ``fields`` (parser, default, description) and declares each one with
    its type in the class body, as a dataclass does (``kernel: Sizes``): the parsed values are the
    instance's attributes (``layer.kernel``), and the declarations tell type checkers so. Both are checked
    against each other when the class is made.
    """

    type_name: ClassVar[str] = ""
    #: the type names a class registers, when it is more than ``type_name`` (read from the class itself,
    #: never inherited)
    type_names: ClassVar[tuple[str, ...]] = ()
    fields: ClassVar[dict[str, Field]] = {}
    #: number of inputs: 1, or None for "two or more" (merge layers)
    arity: ClassVar[int | None] = 1
    #: a field of every type, set like the others: ``trainable: false`` freezes the layer's parameters
    trainable: bool

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_declared(cls)
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
                raise SpecError(f"unknown field for {a_layer(type_name)}", field=str(key),
                                hint=hint or f"fields of {type_name}: {allowed}")
            try:
                options[key] = spec.parse(value)
            except FieldValueError as error:
                raise SpecError("bad value", field=key, got=value, expected=error.expected) from None
        for key, spec in cls.fields.items():
            if key not in options:
                if spec.default is REQUIRED:
                    raise SpecError(f"missing required field for {a_layer(type_name)}", field=key,
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
        if any(isinstance(value, list) for value in self.options.values()):
            self._check_inline_arrays(inputs)
        if self.options.get("trainable", True) is False and not (arith.is_int(info.trainable)
                                                                  and info.trainable == 0):
            frozen = info.trainable
            info.non_trainable = arith.simplify(info.non_trainable + frozen)
            info.trainable = 0
            info.explain.append(f"frozen (trainable: false): {fmt(frozen)} parameters counted as non-trainable")
        return info

    def _check_inline_arrays(self, inputs: Sequence[Shape]) -> None:
        """Weights written in the spec (``bias: [..]``, ``mean: [..]``) have the shape the layer needs, checked
        where the summary is made and not only when the network runs (numeric shapes only)."""
        for key, shape in self.weight_shapes(inputs).items():
            value = self.options.get(key)
            if not isinstance(value, list) or not all(arith.is_int(d) for d in shape):
                continue
            found = _nested_shape(value)
            if found != tuple(int(d) for d in shape):
                raise ShapeError(f"the inline '{key}' array does not fit the layer", field=key,
                                 got="ragged nested lists" if found is None else list(found),
                                 expected=f"an array of shape {[int(d) for d in shape]}")

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

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        """The tensors ``framework``'s training step keeps from this layer's forward pass for its backward
        pass (parameters aside: they are kept anyway). PyTorch: its autograd formulas
        (``derivatives.yaml``); by default nothing, as for a view, a copy, a sum or a concatenation, whose
        gradients need only sizes. Keras on JAX keeps, as this default, each layer's inputs."""
        if framework == "keras":
            return [Saved("input", "Keras (JAX): the layer's input is kept for the backward pass", index)
                    for index in range(len(inputs))]
        return []

    def shares_input(self) -> bool:
        """Whether the output is a view of input 0 (same storage: what keeps one alive keeps both)."""
        return False

    # -- helpers for subclasses

    #: spatial rank the type name demands (``conv1d`` → 1); None: any
    rank_of_type: ClassVar[dict[str, int]] = {}

    def spatial_input(self, shape: Shape) -> tuple[tuple[Any, ...], Any]:
        """(spatial dims, channels) of a channels-last input with 1 to 3 spatial axes."""
        want = self.rank_of_type.get(self.type)
        if want is not None and len(shape) != want + 1:
            layout = "[" + ", ".join((*AXIS_NAMES[want], "C")) + "]"
            raise ShapeError(f"{a_layer(self.type)} needs an input of shape {layout}", field="type",
                             got=_shape_list(shape), expected=f"{want + 1} axes")
        if not 2 <= len(shape) <= MAX_SPATIAL_RANK + 1:
            raise ShapeError(f"{a_layer(self.type)} needs an input of shape [H, W, C] (or [L, C], [D, H, W, C])",
                             got=_shape_list(shape), expected="2 to 4 axes, channels last")
        return tuple(shape[:-1]), shape[-1]

    def axes(self, field_name: str, rank: int) -> tuple[int, ...]:
        """A per-axis field (``kernel``, ``stride``, ...) for ``rank`` spatial axes."""
        return per_axis(getattr(self, field_name), rank, field_name)

    def numeric_channels(self, channels: Any) -> int:
        if not arith.is_int(channels):
            raise ShapeError("the channel count must be a number, not a symbol", got=str(channels),
                             expected="an integer")
        return channels


def _check_declared(cls: type[Layer]) -> None:
    """Each field in ``cls.fields`` is declared with its type in the class or a base (``kernel: Sizes``),
    and each attribute the class itself declares is one of its fields, so the table and the declarations
    cannot drift apart. (``Layer``'s own attributes and class variables are not fields.)"""
    common = set(_annotations(Layer))

    def declared(klass: type) -> set[str]:
        return {name for name, hint in _annotations(klass).items()
                if name not in common and not str(hint).startswith("ClassVar")}

    everywhere = set().union(*(declared(klass) for klass in cls.__mro__ if klass is not Layer))
    missing = [name for name in cls.fields if name not in everywhere]
    extra = sorted(declared(cls) - set(cls.fields))
    problems = ([f"fields without a declared type: {', '.join(missing)}"] if missing else []) + (
        [f"declared but not in fields: {', '.join(extra)}"] if extra else [])
    if problems:
        raise TypeError(f"layer class {cls.__name__}: " + "; ".join(problems))


def _annotations(klass: type) -> dict[str, Any]:
    """The annotations ``klass`` itself declares (as inspect.get_annotations, without loading inspect)."""
    return dict(klass.__dict__.get("__annotations__", {}))  # noqa: RUF063 - inspect: see the docstring


def a_layer(type_name: str) -> str:
    """'a conv layer', 'an avgpool layer' (by the first letter: every type name reads that way).

    >>> a_layer("avgpool"), a_layer("upsample"), a_layer("maxpool")
    ('an avgpool layer', 'an upsample layer', 'a maxpool layer')
    """
    vowel = type_name[:1].lower() in "aeiou" or type_name in ("lrn",)  # "an L-R-N layer"
    return f"{'an' if vowel else 'a'} {type_name} layer"


def _shape_list(shape: Shape) -> list[Any]:
    return [d if arith.is_int(d) else str(d) for d in shape]


def fmt(value: Any) -> str:
    """Numbers as people write them: thousands separators for ints."""
    if arith.is_int(value):
        return f"{value:,}"
    return str(value)


def padding_pairs(pad: Padding, shape_hw: tuple[Any, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...]) -> tuple[list[tuple[Any, Any]], list[Any] | None]:
    """Resolve a parsed padding to per-axis (before, after); for 'same' also the outputs.

    ``kernel``, ``stride`` and ``dilation`` already have one entry per spatial axis of ``shape_hw``.
    """
    if pad[0] in ("each", "explicit"):
        return explicit_pairs(pad, len(shape_hw)), None
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


def same_text(pads: list[tuple[Any, Any]], names: tuple[str, ...]) -> str:
    """The 'same' padding's worked line: v1's (top, bottom)/(left, right) wording in 2-D."""
    if len(pads) == 2:
        return f"(top, bottom) = {tuple(pads[0])}, (left, right) = {tuple(pads[1])}"
    return ", ".join(f"{axis} (before, after) = {tuple(pair)}" for axis, pair in zip(names, pads))


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
    pad_text = f" + 2·{arith.factor_text(before)}" if before == after else f" + {before} + {after}"
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
