"""Network spec v1: safe loading, validation and block expansion into a :class:`Network`.

>>> net = loads_spec("input: [32, 32, 3]\\nlayers:\\n  - {type: conv, filters: 8, kernel: 5}\\n")
>>> [layer.name for layer in net.layers]
['conv1']
"""

from __future__ import annotations

import keyword
import os

from ..errors import CnnCalcError, CnnCalcWarning, SpecError, did_you_mean
from ..layers import LAYER_TYPES, Layer
from ..layers.base import COMMON_FIELDS, MAX_INT, FieldValueError, Shape, a_layer
from ..records import FrozenRecord
from . import safeload, zoo
from .blocks import MAX_LAYERS, MAX_NAME, FlatLayer, check_name, expand_layers, has_parameter

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

TOP_LEVEL_KEYS = ("name", "description", "input", "layers", "blocks")
INPUT = "input"
# Names other tools use, so a newcomer's first guess gets a "did you mean".
TYPE_ALIASES = {
    "conv2d": "conv", "convolution": "conv", "convolution2d": "conv", "linear": "dense", "fc": "dense",
    "fully_connected": "dense", "maxpooling2d": "maxpool", "max_pool": "maxpool", "maxpool2d": "maxpool",
    "pool": "maxpool", "avg_pool": "avgpool", "averagepooling2d": "avgpool", "avgpool2d": "avgpool",
    "batchnormalization": "batchnorm", "batch_norm": "batchnorm", "batchnorm2d": "batchnorm", "bn": "batchnorm",
    "conv2dtranspose": "conv_transpose", "convtranspose2d": "conv_transpose", "deconv": "conv_transpose",
    "depthwiseconv2d": "depthwise_conv", "separableconv2d": "separable_conv",
    "globalaveragepooling2d": "global_avgpool", "adaptiveavgpool2d": "global_avgpool",
    "globalmaxpooling2d": "global_maxpool", "concatenate": "concat", "cat": "concat", "sum": "add",
    "zeropadding2d": "zero_pad", "leakyrelu": "leaky_relu", "swish": "silu",
}
_SYMBOL = r"^[A-Za-z_][A-Za-z0-9_]{0,31}$"  # (re is loaded by a symbolic spec only)


class Network(FrozenRecord):
    """A validated network: input shape and layers in spec order, with their inputs resolved."""

    _fields = ("name", "input_shape", "layers", "source", "order", "symbols")
    name: str
    input_shape: Shape
    layers: tuple[Layer, ...]
    source: str
    order: tuple[int, ...]  # indices into layers, each after all of its inputs
    symbols: tuple[str, ...]

    def __init__(self, name: str, input_shape: Shape, layers: tuple[Layer, ...], source: str, order: tuple[int, ...],
                 symbols: tuple[str, ...] = ()) -> None:
        self._set(name=name, input_shape=input_shape, layers=layers, source=source, order=order, symbols=symbols)

    @property
    def is_symbolic(self) -> bool:
        return bool(self.symbols)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def upstream(self, names: list[str]) -> set[str]:
        """Every layer the named layers depend on, not themselves unless one feeds another ("input" aside).

        >>> net = build_network({"input": [4], "layers": [{"type": "dense", "units": 3, "name": "a"},
        ...                      {"type": "relu", "name": "b"}, {"type": "dense", "units": 2, "name": "c"}]})
        >>> sorted(net.upstream(["c"])), sorted(net.upstream(["a"]))
        (['a', 'b'], [])
        """
        seen: set[str] = set()
        stack = [source for name in names for source in self.layer(name).inputs]
        while stack:
            name = stack.pop()
            if name in seen or name == "input":
                continue
            seen.add(name)
            stack.extend(self.layer(name).inputs)
        return seen


def _symbol(text: str) -> bool:
    import re

    return re.match(_SYMBOL, text) is not None


def _input_shape(value: Any, line: int | None) -> tuple[Shape, tuple[str, ...]]:
    expected = "[H, W, C], [D], [L, C] or [D, H, W, C]: positive integers or symbol names"
    if not isinstance(value, list) or len(value) not in (1, 2, 3, 4):
        raise SpecError("bad input shape", field="input", line=line, got=value, expected=expected)
    dims: list[Any] = []
    symbols: list[str] = []
    for entry in value:
        if isinstance(entry, int) and not isinstance(entry, bool) and 0 < entry <= MAX_INT:
            dims.append(entry)
        elif isinstance(entry, str) and _symbol(entry) and not keyword.iskeyword(entry):
            import sympy  # only symbolic specs pay for sympy

            dims.append(sympy.Symbol(entry, integer=True, positive=True))
            if entry not in symbols:
                symbols.append(entry)
        else:
            raise SpecError("bad input shape", field="input", line=line, got=value, expected=expected)
    return tuple(dims), tuple(symbols)


def build_network(data: Any, source: str = "<spec>",
                  expanded: tuple[list[FlatLayer], list[FlatLayer]] | None = None) -> Network:
    """Validate parsed YAML data and build the network; every problem raises SpecError. ``expanded``: the
    spec's layers and the layers switched off by `when`, as expand_layers makes them (made in advance for a
    built-in spec: see spec.zoo)."""
    try:
        with safeload.collector_paused():
            return _build(data, source, expanded)
    except CnnCalcError as error:
        raise error.with_context(file=source) from None


def _build(data: Any, source: str, expanded: tuple[list[FlatLayer], list[FlatLayer]] | None = None) -> Network:
    if data is None:
        raise SpecError("the spec is empty", hint="expected a mapping with 'input' and 'layers'")
    if not isinstance(data, dict):
        raise SpecError("the spec must be a mapping with 'input' and 'layers'", got=type(data).__name__,
                        expected="a mapping", line=getattr(data, "line", None))
    lines = data.key_lines if isinstance(data, safeload.LineDict) else {}
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise SpecError("unknown top-level key", field=str(key), line=lines.get(key),
                            hint=did_you_mean(str(key), TOP_LEVEL_KEYS)
                            or "expected one of " + ", ".join(TOP_LEVEL_KEYS))
    for key in ("input", "layers"):
        if key not in data:
            raise SpecError(f"missing '{key}'", hint="expected a mapping with 'input' and 'layers'")
    name = data["name"] if "name" in data else _file_stem(source)
    if not isinstance(name, str):
        raise SpecError("bad network name", field="name", got=name, expected="a string",
                        line=lines.get("name"))
    if "name" in data:
        check_name(name, "network name", lines.get("name"))
    input_shape, symbols = _input_shape(data["input"], lines.get("input"))
    raw_layers = data["layers"]
    if not isinstance(raw_layers, list) or not raw_layers:
        raise SpecError("'layers' must be a non-empty list", field="layers", line=lines.get("layers"),
                        got=raw_layers if not isinstance(raw_layers, list) else [], expected="a list of layers")
    skipped: list[FlatLayer] = []
    if expanded is not None:
        flat, skipped = expanded
    else:
        flat = expand_layers(raw_layers, data.get("blocks"), lines.get("blocks"), skipped)
    if not flat:  # a network is at least one layer, as `layers: []` is refused
        raise SpecError("no layer is left: every layer (or block use) is switched off by 'when'", field="layers",
                        line=lines.get("layers"), expected="at least one layer that runs")
    if len(flat) > MAX_LAYERS:
        raise SpecError(f"too many layers ({len(flat):,}, at most {MAX_LAYERS:,})", field="layers",
                        line=lines.get("layers"))
    layers = _make_layers(flat)
    for item in skipped:
        _check_skipped(item)
    order = _topological_order(layers)
    return Network(name, input_shape, tuple(layers), source, order, symbols)


def _make_layers(flat: list[FlatLayer]) -> list[Layer]:
    """Turn raw layer mappings into Layer objects: type, name, inputs and fields validated."""
    layers: list[Layer] = []
    seen: dict[str, int] = {}
    counters: dict[str, int] = {}
    previous = INPUT
    for index, item in enumerate(flat, start=1):
        raw, default_name = item.raw, item.default_name
        line = getattr(raw, "line", None)
        key_lines = raw.key_lines if isinstance(raw, safeload.LineDict) else {}
        if not isinstance(raw, dict):
            raise SpecError("a layer must be a mapping with a 'type'", index=index, got=raw,
                            expected="e.g. {type: conv, filters: 8, kernel: 3}", line=line)
        name_value = raw.get("name")
        try:
            type_name = raw.get("type")
            if type_name is None:
                raise SpecError("missing 'type'", field="type",
                                hint="known types: " + ", ".join(sorted(LAYER_TYPES)))
            if not isinstance(type_name, str) or type_name not in LAYER_TYPES:
                alias = TYPE_ALIASES.get(str(type_name).lower())
                hint = (f"did you mean '{alias}'?" if alias else did_you_mean(str(type_name), LAYER_TYPES)) or "known types: " + ", ".join(sorted(LAYER_TYPES))
                raise SpecError("unknown layer type", field="type", got=type_name, expected="a known type",
                                hint=hint, line=key_lines.get("type"))
            counters[type_name] = counters.get(type_name, 0) + 1
            if name_value is None:
                name = default_name or f"{type_name}{counters[type_name]}"
            elif isinstance(name_value, str) and name_value.strip() and name_value.isprintable() and (
                    default_name or len(name_value) <= MAX_NAME):
                name = name_value  # (a scoped name is checked part by part, when blocks are expanded)
            else:
                check_name(name_value, line=key_lines.get("name"))
                name = name_value
            if name == INPUT:
                raise SpecError("'input' is reserved for the network input", field="name", got=name,
                                expected="another name", line=key_lines.get("name"))
            if name in seen:
                raise SpecError(f"duplicate layer name (also layer {seen[name]})", field="name", got=name,
                                expected="a unique name", line=key_lines.get("name"))
            inputs = _inputs(raw.get("inputs", previous), key_lines.get("inputs"))
            cls = LAYER_TYPES[type_name]
            if cls.arity == 1 and len(inputs) != 1:
                raise SpecError(f"{a_layer(type_name)} takes one input", field="inputs", got=inputs,
                                expected="one layer name", line=key_lines.get("inputs"))
            if cls.arity is None and len(inputs) < 2:
                raise SpecError(f"{a_layer(type_name)} takes two or more inputs", field="inputs", got=inputs,
                                expected="a list of at least two layer names", line=key_lines.get("inputs"))
            try:
                options = cls.parse_fields(type_name, raw)
            except CnnCalcError as error:
                raise error.with_context(line=key_lines.get(error.field, line)) from None
        except CnnCalcError as error:
            shown = name_value if isinstance(name_value, str) and len(name_value) <= MAX_NAME else None
            raise error.with_context(index=index, layer=shown, line=line) from None
        layer = cls(type_name, name, index, inputs, options, line)
        layer.group = item.group
        layers.append(layer)
        seen[name] = index
        previous = name
    known = set(seen) | {INPUT}
    for layer in layers:
        for source in layer.inputs:
            if source not in known:
                raise SpecError("unknown layer in 'inputs'", field="inputs", got=source,
                                expected="'input' or the name of a layer",
                                hint=did_you_mean(source, known), layer=layer.name, index=layer.index,
                                line=layer.line)
    return layers


def remade_layer(layer: Layer, raw: dict[str, Any]) -> Layer:
    """``layer`` made again from ``raw``, a changed spec of it (another type or other field values), in its
    own place: its name, index, inputs and block are kept, so that it can run in its network instead of
    ``layer`` (a slip's changed layer, see :mod:`cnncalc.exercises.slips`)."""
    type_name = raw.get("type")
    if (not isinstance(type_name, str) or type_name not in LAYER_TYPES
            or LAYER_TYPES[type_name].arity != type(layer).arity):
        raise SpecError("a layer is made again as a layer of another kind", layer=layer.name, field="type",
                        got=type_name, expected=f"a type that takes the inputs of {layer.type}")
    cls = LAYER_TYPES[type_name]
    made = cls(type_name, layer.name, layer.index, layer.inputs, cls.parse_fields(type_name, raw), layer.line)
    made.group = layer.group
    return made


def _check_skipped(item: FlatLayer) -> None:
    """A layer switched off by `when` is not built, but a typo in it is still a typo: its type, its field
    names and the values written literally in it are checked. Values that come from block parameters
    are not, since a parameter may hold a placeholder for exactly the case where the layer is off."""
    raw, template = item.raw, item.template
    key_lines = raw.key_lines if isinstance(raw, safeload.LineDict) else {}
    line = getattr(raw, "line", None)
    try:
        type_name = raw.get("type")
        if type_name is None:
            raise SpecError("missing 'type'", field="type", hint="known types: " + ", ".join(sorted(LAYER_TYPES)))
        if not isinstance(type_name, str) or type_name not in LAYER_TYPES:
            if has_parameter(template.get("type")):
                return
            raise SpecError("unknown layer type", field="type", got=type_name, expected="a known type",
                            hint=did_you_mean(str(type_name), LAYER_TYPES), line=key_lines.get("type"))
        cls = LAYER_TYPES[type_name]
        for key, value in raw.items():
            if key in COMMON_FIELDS or key in ("when", "repeat", "first"):
                continue
            spec = cls.fields.get(key)
            if spec is None:
                hint = did_you_mean(str(key), list(cls.fields) + list(COMMON_FIELDS))
                raise SpecError(f"unknown field for a {type_name} layer", field=str(key), line=key_lines.get(key),
                                hint=hint or "fields of {}: {}".format(type_name, ", ".join(sorted(cls.fields))))
            if has_parameter(template.get(key)):
                continue
            try:
                spec.parse(value)
            except FieldValueError as error:
                raise SpecError("bad value", field=str(key), got=value, expected=error.expected,
                                line=key_lines.get(key)) from None
    except CnnCalcError as error:
        error.message += " (in a layer switched off by 'when')"
        raise error.with_context(layer=item.default_name or None, line=line) from None


def _inputs(value: Any, line: int | None) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise SpecError("bad 'inputs'", field="inputs", got=value, expected="a layer name or a list of names",
                    line=line)


def _topological_order(layers: list[Layer]) -> tuple[int, ...]:
    """Kahn's algorithm in spec order; a cycle is reported with the layers on it."""
    position = {layer.name: i for i, layer in enumerate(layers)}
    waiting = [0] * len(layers)
    consumers: list[list[int]] = [[] for _ in layers]
    for i, layer in enumerate(layers):
        for source in set(layer.inputs):
            if source != INPUT:
                waiting[i] += 1
                consumers[position[source]].append(i)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    ready.reverse()
    order: list[int] = []
    while ready:
        i = ready.pop()
        order.append(i)
        for j in consumers[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    if len(order) < len(layers):
        stuck = [layers[i] for i, count in enumerate(waiting) if count]
        names = ", ".join(f"'{layer.name}'" for layer in stuck[:6])
        first = stuck[0]
        raise SpecError(f"cycle in 'inputs' among layers {names}", field="inputs", layer=first.name,
                        index=first.index, line=first.line, got=first.inputs,
                        expected="inputs that lead back to 'input' without a loop")
    return tuple(order)


def loads_spec(text: str, source: str = "<string>") -> Network:
    return build_network(safeload.loads(text, source), source)


def __getattr__(name: str) -> Any:
    if name == "ZOO_DIR":  # the built-in specs' folder, as a Path (pathlib is not loaded by `summary`)
        return zoo.__getattr__(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _file_stem(source: str) -> str:
    from pathlib import Path

    return Path(source).stem


def zoo_names() -> list[str]:
    return sorted(name[:-5] for name in os.listdir(zoo.ZOO_FOLDER) if name.endswith(".yaml") and name != ".yaml")


def resolve_spec_path(spec: str) -> Path:
    """A path to a file, or the name of a built-in spec.

    Anything that exists under the given path is the user's file, whatever its kind: reading it
    (``safeload.read_limited``) refuses folders, FIFOs and devices with a clear message."""
    from pathlib import Path

    builtin = _builtin_name(spec)
    return Path(zoo.ZOO_FOLDER, f"{builtin}.yaml") if builtin is not None else _user_path(spec)


def _builtin_name(spec: str) -> str | None:
    """``spec`` when it names a built-in spec and no file: found without pathlib (a plain name is a path
    pathlib leaves as it is), as `summary resnet50` starts."""
    if spec and "/" not in spec and spec not in (".", "..") and not os.path.lexists(spec) and spec in zoo_names():
        return spec
    return None


def _user_path(spec: str) -> Path:
    from pathlib import Path

    if not spec:  # Path("") is ".", the current folder
        raise SpecError("the spec name is empty", got="",
                        expected="a spec file, the name of a built-in spec (`cnncalc zoo`) or - for standard input")
    path = Path(spec)
    try:
        exists = path.is_file() or path.exists() or path.is_symlink()
    except (OSError, ValueError):  # a name too long for the system, or with a NUL byte
        exists = False
    if exists:
        return path
    if "/" not in spec and spec in zoo_names():
        return Path(zoo.ZOO_FOLDER, f"{spec}.yaml")
    hint = did_you_mean(spec, zoo_names())
    raise SpecError("no such file or built-in spec", file=spec,
                    hint=hint or "`cnncalc zoo` lists the built-in specs")


def load_spec(spec: str | Path) -> Network:
    builtin = _builtin_name(str(spec))
    stem: str | None
    if builtin is not None:
        source, stem, path = f"{builtin} (built-in)", builtin, os.path.join(zoo.ZOO_FOLDER, f"{builtin}.yaml")
    else:
        user_path = _user_path(str(spec))
        in_zoo = str(user_path.parent) == zoo.ZOO_FOLDER  # the built-in folder named in full
        source, stem, path = (f"{user_path.stem} (built-in)" if in_zoo else str(user_path),
                              user_path.stem if in_zoo else None, str(user_path))
    try:
        made = None if stem is None else zoo.built_in(stem)  # built in: parsed and expanded in advance
        data, expanded = made if made is not None else (safeload.load_file(path, what="spec"), None)
    except CnnCalcError as error:
        raise error.with_context(file=source) from None
    return warn_layout(build_network(data, source, expanded))


def channels_first_fix(shape: Shape) -> list[int] | None:
    """The channels-last shape a channels-first-looking input was probably meant as, or None.

    Looks channels-first: 2-D or 3-D, 1 or 3 in front (grey, RGB), square spatial axes of 8 or more behind
    (``[3, 32, 32]``, ``[1, 28, 28]``, ``[3, 16, 112, 112]``) — read channels-last, that is an image 3
    pixels high with 32 channels, which no one means.

    >>> channels_first_fix((3, 32, 32)), channels_first_fix((32, 32, 3)), channels_first_fix((4, 4, 16))
    ([32, 32, 3], None, None)
    """
    if len(shape) not in (3, 4) or not all(isinstance(d, int) for d in shape):
        return None
    first, rest = shape[0], list(shape[1:])
    if first in (1, 3) and all(d >= 8 for d in rest) and rest[-1] == rest[-2]:
        return [*rest, first]
    return None


def warn_layout(network: Network, option: bool = False) -> Network:
    """Warn (a :class:`~cnncalc.errors.CnnCalcWarning`, the network unchanged) when the input looks
    channels-first; ``option``: the shape came from `--input`."""
    fix = channels_first_fix(network.input_shape)
    if fix is not None:
        import warnings

        shown = list(network.input_shape)
        where = f"--input {','.join(map(str, fix))}" if option else f"input: {fix}"
        warnings.warn(CnnCalcWarning(
            f"{network.source}: the input {shown} looks channels-first (C, H, W); cnncalc reads [H, W, C], so this "
            f"is {' × '.join(map(str, shown[:-1]))} pixels with {shown[-1]} channels; for {shown[0]} channels "
            f"write {where}"), stacklevel=2)
    return network


#: the longest `--input` text read (a shape is a few numbers; anything longer is refused unread)
MAX_INPUT_OPTION = 200
_INPUT_OPTION = r"^\s*(?:([A-Za-z_][A-Za-z0-9_]{0,63})\s*=)?\s*\[?\s*([^\[\]=]*?)\s*\]?\s*$"


def parse_input_option(values: str | list[str] | tuple[str, ...]) -> dict[str | None, list[Any]]:
    """What `--input` gives, by input name (None: the first input): ``"160,160,3"``, ``"[n, n, 3]"``,
    ``"160x160x3"`` or ``"input=160,160,3"``; each entry a positive integer or a symbol name.

    >>> parse_input_option(["160,160,3"]), parse_input_option("input=[n, n, 3]")
    ({None: [160, 160, 3]}, {'input': ['n', 'n', 3]})
    """
    import re

    given: dict[str | None, list[Any]] = {}
    for text in [values] if isinstance(values, str) else list(values):
        expected = "a shape such as 160,160,3 (H, W, C), or NAME=SHAPE for a named input"
        match = re.match(_INPUT_OPTION, text) if len(text) <= MAX_INPUT_OPTION else None
        body = match.group(2) if match else ""
        parts = re.split(r"\s*,\s*" if "," in body else r"\s*[x×]\s*", body) if body else []
        if not match or not parts or not all(re.fullmatch(r"[0-9]{1,19}|[A-Za-z_][A-Za-z0-9_]{0,31}", p)
                                             for p in parts):
            raise CnnCalcError("bad --input", got=text[:80], expected=expected)
        name = match.group(1)
        if name in given or (name is None and given) or (name is not None and None in given):
            raise CnnCalcError("--input gives the same input twice", got=text[:80], expected="one shape per input")
        given[name] = [int(p) if p.isdigit() else p for p in parts]
    return given


def with_input(network: Network, values: str | list[str] | tuple[str, ...] | None) -> Network:
    """The network with the input shape `--input` gives (see :func:`parse_input_option`), checked as the
    spec's own `input:` is; ``None`` or an empty list leaves it as it is.

    >>> with_input(load_spec("lenet5"), ["28,28,3"]).input_shape
    (28, 28, 3)
    """
    if not values:
        return network
    given = parse_input_option(values)
    unknown = [name for name in given if name not in (None, INPUT)]
    if unknown:
        raise CnnCalcError(f"--input names an input the spec does not have: '{unknown[0]}'", got=unknown[0],
                           expected=f"'{INPUT}' (a spec has one input), or the shape alone")
    shape = next(iter(given.values()))
    try:
        input_shape, symbols = _input_shape(shape, None)
    except CnnCalcError as error:
        raise CnnCalcError("bad --input", got=",".join(map(str, shape))[:80],
                           expected=error.expected) from None
    return warn_layout(network.replace(input_shape=input_shape, symbols=symbols), option=True)
