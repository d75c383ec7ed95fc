"""Reusable blocks and `repeat`: expands a spec's layer list into a flat list of plain layers.

Syntax (see README, "Blocks and repeat")::

    blocks:
      basic:                              # a block: parameters with defaults (null = required) and layers
        params: {filters: null, stride: 1, downsample: false}
        layers:
          - {type: conv, name: conv1, filters: $filters, kernel: 3, stride: $stride, padding: 1, bias: false}
          - {type: batchnorm, name: bn1}
          - {type: conv, name: down, filters: $filters, kernel: 1, stride: $stride, inputs: input,
             when: $downsample}
          - {type: add, name: add, inputs: [bn1, down]}
    layers:
      - {block: basic, name: layer2, repeat: 2, filters: 128, first: {stride: 2, downsample: true}}

- ``$name`` is a parameter's value; ``${4 * filters}`` is safe arithmetic on parameters (see ``expr``).
- Inside a block, ``input`` is the block's input; names are scoped: ``layer2.0.conv1``.
- ``when: false`` skips a layer: it passes on its first input, both to a layer that names it and to
  the next layer (so an optional shortcut collapses to the identity, and a skipped ``add`` of
  ``[main, input]`` leaves the main path).
- ``repeat: n`` chains n copies (``name.0`` … ``name.{n-1}``); ``first:`` overrides arguments of copy 0.
  ``$index`` is the copy's number. Plain layers take ``repeat`` too.
- A block's output is its last layer (or the layer its ``output:`` names); the instance name refers to it.
- ``trainable: false`` on a block use (or a repeat) freezes every layer inside; ``trainable`` is reserved
  and cannot be a block parameter.
"""

from __future__ import annotations

from ..errors import CnnCalcError, SpecError, clip, did_you_mean
from ..records import Record
from .safeload import LineDict, LineList

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any

BLOCK_KEYS = ("params", "layers", "output", "description")
INSTANCE_KEYS = ("block", "name", "inputs", "repeat", "first", "when", "trainable")
# a block use or a repeat may freeze everything inside it; a block cannot take it as a parameter
RESERVED_PARAMS = ("trainable",)
MAX_DEPTH = 16
MAX_REPEAT = 10_000  # copies of one `repeat`
MAX_LAYERS = 100_000  # layers after expanding blocks and repeat (the largest built-in network has 426)
#: values (keys, scalars, lists) handled while expanding: each copy of a layer counts its inline weights
#: again, so a repeated layer with a million inline values stops here instead of hanging
MAX_EXPANDED_VALUES = 4_000_000
MAX_NAME = 200  # characters of a layer, block or network name
PARAM = r"^\$([A-Za-z_][A-Za-z0-9_]*)$"
EXPRESSION = r"\$\{([^{}]*)\}"


class FlatLayer(Record):
    _fields = ("raw", "default_name", "group", "template")
    raw: dict[str, Any]
    default_name: str
    group: tuple[str, ...]  # names of the block instances it sits in, outermost first
    template: Any  # for a layer skipped by `when`: its text before parameters were substituted

    def __init__(self, raw: dict[str, Any], default_name: str, group: tuple[str, ...], template: Any = None) -> None:
        self.raw = raw
        self.default_name = default_name
        self.group = group
        self.template = template


def check_name(value: Any, what: str = "layer name", line: int | None = None) -> str:
    """A name as written by the user: a non-empty printable string of at most MAX_NAME characters.

    Names end up in tables, reports and messages; a newline or escape sequence in one could forge a
    line of output, and a 100 KB name would flood every message that mentions it."""
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"bad {what}", field="name", got=value, expected="a non-empty string", line=line)
    if len(value) > MAX_NAME:
        raise SpecError(f"{what} too long ({len(value):,} characters)", field="name", got=value,
                        expected=f"at most {MAX_NAME} characters", line=line)
    if not value.isprintable():
        raise SpecError(f"{what} with a control character", field="name", got=value,
                        expected="letters, digits and punctuation (no newline, tab or escape)", line=line)
    return value


def has_parameter(value: Any) -> bool:
    """Whether a (template) value mentions a block parameter anywhere."""
    if isinstance(value, str):
        return "$" in value
    if isinstance(value, list):
        return any(has_parameter(item) for item in value)
    if isinstance(value, dict):
        return any(has_parameter(item) for item in value.values())
    return False


def _size(value: Any, budget: int, known: dict[int, tuple[int, Any]]) -> int:
    """Values in a layer's raw text (1 per scalar, key, list or mapping); stops counting past ``budget``.

    A block's layers are counted once per instance and copies of a repeated layer share their lists of
    inline values, so the size of each long mapping or list is remembered by identity (with a reference
    to it, so that the identity cannot be reused while expanding)."""
    if isinstance(value, dict):
        count = 1 + len(value)
        items: Any = value.values()
    elif isinstance(value, list):
        count = 1
        items = value
    else:
        return 1
    long = len(value) > 16
    if long:
        memo = known.get(id(value))
        if memo is not None:
            return memo[0]
    for item in items:
        if isinstance(item, (dict, list)):
            count += _size(item, budget - count, known)
            if count > budget:
                return count  # partial: not remembered
        else:
            count += 1
    if long:
        known[id(value)] = (count, value)
    return count


class _BlockDef(Record):
    _fields = ("name", "params", "layers", "output", "line")
    name: str
    params: dict[str, Any]
    layers: list[Any]
    output: str | None
    line: int | None

    def __init__(self, name: str, params: dict[str, Any], layers: list[Any], output: str | None,
                 line: int | None) -> None:
        self.name = name
        self.params = params
        self.layers = layers
        self.output = output
        self.line = line


def _line(raw: Any, key: str | None = None) -> int | None:
    if isinstance(raw, LineDict):
        return raw.line_of(key) if key is not None else raw.line
    return getattr(raw, "line", None)


def _parse_blocks(blocks: Any, blocks_line: int | None) -> dict[str, _BlockDef]:
    if blocks is None:
        return {}
    if not isinstance(blocks, dict):
        raise SpecError("'blocks' must be a mapping of block names to definitions", field="blocks",
                        line=blocks_line, got=type(blocks).__name__, expected="a mapping")
    result = {}
    for name, body in blocks.items():
        line = _line(blocks, name)
        if not isinstance(name, str) or not isinstance(body, dict):
            raise SpecError("a block is a name with a mapping of 'params' and 'layers'", field="blocks",
                            line=line, got=name)
        check_name(name, "block name", line)
        for key in body:
            if key not in BLOCK_KEYS:
                raise SpecError(f"unknown key in block '{name}'", field=str(key), line=_line(body, key),
                                hint=did_you_mean(str(key), BLOCK_KEYS) or "expected params, layers, output")
        params = body.get("params", {}) or {}
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            raise SpecError(f"'params' of block '{name}' must map parameter names to defaults", field="params",
                            line=_line(body, "params"), got=params)
        for reserved in RESERVED_PARAMS:
            if reserved in params:
                raise SpecError(f"block '{name}' declares a reserved parameter", field=reserved,
                                line=_line(params, reserved) or _line(body, "params"), got=reserved,
                                expected="another name ('trainable' is given on a block use and applies "
                                         "to every layer inside)")
        layers = body.get("layers")
        if not isinstance(layers, list) or not layers:
            raise SpecError(f"block '{name}' needs a non-empty 'layers' list", field="layers", line=line)
        output = body.get("output")
        if output is not None and not isinstance(output, str):
            raise SpecError(f"'output' of block '{name}' must be a layer name", field="output", got=output)
        result[name] = _BlockDef(name, dict(params), layers, output, line)
    return result


def substitute(value: Any, args: dict[str, Any], line: int | None) -> Any:
    """Replace ``$name`` and ``${expression}`` in a value (recursively in lists and mappings)."""
    if isinstance(value, str):
        if "$" not in value:
            return value
        import re  # (compiled patterns are cached by re; a built-in spec comes expanded: see spec.zoo)

        from ..maths import expr

        whole = re.match(PARAM, value)
        if whole:
            if whole.group(1) not in args:
                raise SpecError(f"unknown parameter '${clip(whole.group(1), 100)}'", line=line,
                                hint=did_you_mean(whole.group(1), args) or
                                "parameters here: " + (", ".join(sorted(args)) or "none"))
            return args[whole.group(1)]
        if "${" not in value:
            return value
        try:
            full = re.fullmatch(EXPRESSION, value.strip())
            if full:
                return _number(expr.evaluate(expr.parse(full.group(1)), args))
            return re.sub(EXPRESSION, lambda m: str(_number(expr.evaluate(expr.parse(m.group(1)), args))), value)
        except CnnCalcError as error:
            raise SpecError(f"in {clip(repr(value))}: {error.message}", line=line, hint=error.hint) from None
    if isinstance(value, list):
        result = LineList(substitute(item, args, line) for item in value)
        result.line = getattr(value, "line", line)
        return result
    if isinstance(value, dict):
        copy = LineDict()
        copy.line = _line(value)
        copy.key_lines = dict(getattr(value, "key_lines", {}))
        for key, item in value.items():
            copy[key] = substitute(item, args, _line(value, key) or line)
        return copy
    return value


def _number(value: Any) -> Any:
    denominator = getattr(value, "denominator", 1)
    if denominator != 1:
        return float(value)
    return int(value)


class _Expander:
    def __init__(self, blocks: dict[str, _BlockDef]) -> None:
        self.blocks = blocks
        self.out: list[FlatLayer] = []
        self.skipped: list[FlatLayer] = []
        self.checked: set[int] = set()  # templates of skipped layers already listed for checking
        self.count = 0  # layers made or switched off so far, against MAX_LAYERS
        self.values = 0  # values handled so far, against MAX_EXPANDED_VALUES
        self.sizes: dict[int, tuple[int, Any]] = {}

    def _charge(self, value: Any, where: str, line: int | None) -> None:
        self.values += _size(value, MAX_EXPANDED_VALUES - self.values, self.sizes)
        if self.values > MAX_EXPANDED_VALUES:
            raise SpecError(f"expanding {where}: more than {MAX_EXPANDED_VALUES:,} values after blocks and "
                            "repeat (each copy of a layer counts its inline values again)", line=line,
                            hint="repeat fewer copies, or give large weights in a weights file")

    def _count(self, where: str, line: int | None) -> None:
        self.count += 1
        if self.count > MAX_LAYERS:
            raise SpecError(f"expanding {where}: more than {MAX_LAYERS:,} layers after blocks and repeat "
                            "(counting those switched off by 'when')", line=line,
                            hint="repeat fewer copies (nested repeats multiply)")

    def _add(self, layer: FlatLayer, where: str | None, line: int | None) -> None:
        """``where`` None: the layer itself is named in a message."""
        self.count += 1
        if self.count > MAX_LAYERS:
            self._count(where or f"layer '{clip(layer.default_name, 100)}'", line)
        raw = layer.raw
        if isinstance(raw, dict):  # the common case, without a call per layer: a mapping of scalars
            size = 1 + 2 * len(raw)
            for key, value in raw.items():
                if isinstance(value, (dict, list)):
                    # 'inputs' holds names only (checked when resolved)
                    size += len(value) if key == "inputs" else _size(value, MAX_EXPANDED_VALUES, self.sizes)
            self.values += size
            if self.values > MAX_EXPANDED_VALUES:
                self._charge(None, where or f"layer '{clip(layer.default_name, 100)}'", line)
        else:
            self._charge(raw, where or "the top-level layers", line)
        self.out.append(layer)

    def expand(self, items: list[Any], prefix: str, block_input: str, args: dict[str, Any] | None,
               group: tuple[str, ...], depth: int, block_name: str | None) -> str:
        """Expand a layer list; returns the global name of its last layer (its output)."""
        if depth > MAX_DEPTH:
            raise SpecError(f"blocks nested deeper than {MAX_DEPTH} (a block that uses itself?)",
                            field="block", got=block_name)
        aliases: dict[str, str] = {"input": block_input}
        counters: dict[str, int] = {}
        previous = block_input
        in_block = args is not None
        # plain named layers of this scope may be referenced before they appear (cycles are reported later)
        for raw in items:
            if (in_block and isinstance(raw, dict) and "block" not in raw and "repeat" not in raw
                    and isinstance(raw.get("name"), str)):
                aliases.setdefault(raw["name"], prefix + raw["name"])
        where = f"block '{block_name}' in '{clip(prefix[:-1], 100)}'" if block_name else "the top-level layers"
        for raw in items:
            line = _line(raw)
            template = raw
            if in_block:
                # charged before substituting: substitution walks the whole item, once per instance (the
                # top-level items are walked once, and the reader already capped their values)
                known = self.sizes.get(id(raw))
                if known is None:
                    before = self.values
                    self._charge(raw, where, line)
                    self.sizes[id(raw)] = (self.values - before, raw)
                else:
                    self.values += known[0]
                    if self.values > MAX_EXPANDED_VALUES:
                        self._charge(None, where, line)
                raw = substitute(raw, args, line)  # type: ignore[arg-type]
            if not isinstance(raw, dict):
                self._add(FlatLayer(raw, "", group), where, line)  # reported by the spec builder with its index
                continue
            local = raw.get("name")
            if local is not None and not (local.__class__ is str and local and len(local) <= MAX_NAME
                                          and local.isprintable() and not local.isspace()):
                check_name(local, "block instance name" if "block" in raw else "layer name", _line(raw, "name"))
            if "when" in raw:
                when = raw["when"]
                if not isinstance(when, bool):
                    raise SpecError("'when' must be true or false", field="when", got=when,
                                    expected="true or false (usually a $parameter)", line=_line(raw, "when"))
                if not when:  # skipped: it passes its input through, for references and for the next layer
                    passed = self._resolve(raw.get("inputs", None), aliases, previous, in_block, raw, block_name)[0]
                    if isinstance(local, str):
                        aliases[local] = passed
                    previous = passed
                    self._count(where, line)
                    self._skip(raw, template, prefix, group, line)
                    continue
            repeat = raw.get("repeat", 1)
            if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
                raise SpecError("'repeat' must be a positive integer", field="repeat", got=repeat,
                                expected=f"an integer from 1 to {MAX_REPEAT:,}", line=_line(raw, "repeat"))
            first = raw.get("first", {}) or {}
            if not isinstance(first, dict):
                raise SpecError("'first' must be a mapping of arguments for copy 0", field="first", got=first,
                                line=_line(raw, "first"))
            kind = raw.get("block") if "block" in raw else raw.get("type")
            if local is None:
                counters[str(kind)] = counters.get(str(kind), 0) + 1
                local = f"{kind}{counters[str(kind)]}"
            inputs = self._resolve(raw.get("inputs", None), aliases, previous, in_block, raw, block_name)
            # a repeated block forms a group of its own (layer1 holds layer1.0, layer1.1, ...)
            outer = group + (prefix + local,) if repeat > 1 else group
            has_index = repeat > 1 and not in_block and "$index" in repr(raw)
            for copy in range(repeat):
                name = prefix + local + (f".{copy}" if repeat > 1 else "")
                overrides = first if copy == 0 else {}
                if "block" in raw:
                    previous = self._instance(raw, overrides, name, inputs, copy, outer, depth, line)
                else:
                    layer = LineDict((k, v) for k, v in raw.items() if k not in ("repeat", "first", "when"))
                    layer.line, layer.key_lines = line, dict(getattr(raw, "key_lines", {}))
                    if overrides:
                        for key, value in overrides.items():
                            layer[key] = substitute(value, {"index": copy, **(args or {})}, line)
                    if has_index:
                        layer = substitute(layer, {"index": copy}, line)
                    layer["name"] = name
                    layer["inputs"] = list(inputs)
                    self._add(FlatLayer(layer, name, outer), None, line)
                    previous = name
                inputs = [previous]
            aliases[local] = previous
        return previous

    def _skip(self, raw: dict[str, Any], template: Any, prefix: str, group: tuple[str, ...],
              line: int | None) -> None:
        """A layer or block use switched off by `when`: what can be checked without running it is."""
        local = raw.get("name")
        name = prefix + local if isinstance(local, str) else ""
        if "block" in raw:
            block_name = raw["block"]
            if not isinstance(block_name, str) or block_name not in self.blocks:
                raise SpecError("unknown block (in a use switched off by 'when')", field="block", got=block_name,
                                line=_line(raw, "block"), expected="a block defined under 'blocks'",
                                hint=did_you_mean(str(block_name), self.blocks))
            params = self.blocks[block_name].params
            for key in raw:
                if key not in INSTANCE_KEYS and key not in params:
                    raise SpecError(f"unknown argument for block '{block_name}' (in a use switched off by 'when')",
                                    field=str(key), line=_line(raw, key) or line,
                                    hint=did_you_mean(str(key), params) or
                                    "its parameters: " + (", ".join(params) or "none"))
            return
        if id(template) not in self.checked:  # what is checked depends on the template only
            self.checked.add(id(template))
            self.skipped.append(FlatLayer(raw, name, group, template if isinstance(template, dict) else raw))

    def _resolve(self, value: Any, aliases: dict[str, str], previous: str, in_block: bool, raw: Any,
                 block_name: str | None) -> list[str]:
        if value is None:
            return [previous]
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise SpecError("bad 'inputs'", field="inputs", got=value, expected="a layer name or a list of names",
                            line=_line(raw, "inputs"))
        resolved = []
        for local in names:
            if local in aliases:
                resolved.append(aliases[local])
            elif in_block:
                raise SpecError(f"unknown layer in 'inputs' inside block '{block_name}'", field="inputs", got=local,
                                expected="'input' (the block's input) or a layer of the block",
                                hint=did_you_mean(local, aliases), line=_line(raw, "inputs"))
            else:
                resolved.append(local)  # top level: checked (with forward references) by the spec builder
        return resolved

    def _instance(self, raw: dict[str, Any], overrides: dict[str, Any], name: str, inputs: list[str], index: int,
                  group: tuple[str, ...], depth: int, line: int | None) -> str:
        block_name = raw["block"]
        if not isinstance(block_name, str) or block_name not in self.blocks:
            raise SpecError("unknown block", field="block", got=block_name, line=_line(raw, "block"),
                            expected="a block defined under 'blocks'",
                            hint=did_you_mean(str(block_name), self.blocks) or
                            "defined blocks: " + (", ".join(sorted(self.blocks)) or "none"))
        block = self.blocks[block_name]
        given = {k: v for k, v in raw.items() if k not in INSTANCE_KEYS}
        given.update(overrides)
        trainable = given.pop("trainable", raw.get("trainable"))
        if trainable is not None and not isinstance(trainable, bool):
            raise SpecError("bad value", field="trainable", got=trainable, expected="true or false",
                            line=_line(raw, "trainable") or line)
        for key in given:
            if key not in block.params:
                raise SpecError(f"unknown argument for block '{block_name}'", field=str(key),
                                line=_line(raw, key) or line,
                                hint=did_you_mean(str(key), block.params) or
                                "its parameters: " + (", ".join(block.params) or "none"))
        args = {"index": index}
        for key, default in block.params.items():
            if key in given:
                args[key] = given[key]
            elif default is None:
                raise SpecError(f"missing argument for block '{block_name}'", field=key, line=line,
                                hint=f"parameters of '{block_name}': " + ", ".join(block.params))
            else:
                args[key] = default
        if len(inputs) != 1:
            raise SpecError("a block instance takes one input", field="inputs", got=inputs, line=line)
        start = len(self.out)
        last = self.expand(block.layers, name + ".", inputs[0], args, group + (name,), depth + 1, block_name)
        if trainable is not None:  # as Keras's `block.trainable = ...`: every layer inside, nested ones too
            for item in self.out[start:]:
                if isinstance(item.raw, dict):
                    item.raw["trainable"] = trainable
        if block.output is not None:
            full = name + "." + block.output
            if not any(item.default_name == full for item in self.out[start:]):
                raise SpecError(f"'output' of block '{block_name}' names no layer of it", field="output",
                                got=block.output, line=block.line)
            return full
        return last


def expand_layers(raw_layers: list[Any], blocks: Any, blocks_line: int | None,
                  skipped: list[FlatLayer] | None = None) -> list[FlatLayer]:
    """Flat list of plain layers with scoped names; a flat spec comes back unchanged but for names.

    Layers switched off by `when` go to ``skipped`` (when given), so that their fields can be checked.
    """
    expander = _Expander(_parse_blocks(blocks, blocks_line))
    has_blocks = blocks is not None or any(isinstance(r, dict) and ("block" in r or "repeat" in r) for r in raw_layers)
    if not has_blocks:  # the flat form of spec v1: nothing to rewrite
        return [FlatLayer(raw, "", ()) for raw in raw_layers]
    expander.expand(raw_layers, "", "input", None, (), 0, None)
    if skipped is not None:
        skipped.extend(expander.skipped)
    return expander.out
