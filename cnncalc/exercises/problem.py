"""Exercise files: data, networks and questions whose answers are *computed*, never typed in.

A problem file (YAML)::

    id: cnn-layers-worksheet
    version: 1
    title: ...
    data:                                  # arrays and numbers the sheet gives
      x: {channels: [[...6×6...], [...], [...]]}      # C matrices → an [H, W, C] array
      w: {filters_per_channel: [[...3×3...], ...]}    # one filter given per input channel → [k, k, C, 1]
      given: {matrix: [[35, 20], [1, -1]]}            # a 2-D map → [H, W, 1]
      b: 7
    networks:                              # specs (v1); `$name` puts data in (weights, bias, sizes)
      conv: {input: [6, 6, 3], layers: [{type: conv, name: conv, filters: 1, kernel: 3, weight: $w, bias: [$b]}]}
    parts:
      - id: a
        points: 0.5
        prompt: ...
        questions:
          - {id: a.shape, prompt: ..., compute: {shape: conv, layer: conv, axes: [0, 1]}}
          - {id: a.cell, compute: {cell: conv, input: x, layer: conv, at: [3, 3, 0]}}
          - {id: b.relu, compute: {map: net_b, input: given, layer: relu}}
          - {id: c.total, compute: {params: net_c}}          # or layer: NAME / layers: [...]
          - {id: d.padding, compute: {solve: {f: 7, same: true}, for: p}}
          - {id: e.expr, compute: {expression: {f: f, same: true}, for: p}}
          - {id: b.plot, kind: manual, points: 0}

The format itself is data: the tables below (``PROBLEM``, ``PART``, ``QUESTION``, ``COMPUTE``, ``VARY``,
``RULES``, ``CONSTRAINTS``) list every key with its type, default and meaning. One checker walks a file
against them, so every message names file, line and key, and :func:`reference_markdown` prints the same
tables as the format's reference.

A file is checked in two steps. *Structurally*, when it is read (:func:`build_problem`): every key
known, every value of its type, every network and data name that a question, a constraint or a `$name`
refers to defined, question ids unique. *Semantically*, when its key is computed (``key.KeyBuilder``):
the networks build, the layers a question names exist, and indices and axes lie inside the shapes.
"""


from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ..errors import NOT_GIVEN, CnnCalcError, ExerciseError, did_you_mean
from ..maths import expr
from ..spec import safeload

DEFAULT_TRIES = 200
MAX_TRIES = 1000             # draws per variant before giving up (a few ms each)
MAX_DRAWN = 10**9            # |low| and |high| of an `integers` rule, and any derived `expr` value
MAX_ARRAY_VALUES = 10_000    # values in one drawn array
MAX_VARY_VALUES = 100_000    # values drawn per variant, all arrays together
MAX_RANK = 8                 # entries of `at` and `axes`
MAX_SIZES = 1024             # sizes a `sizes` question tries (max − min + 1)
MAX_EXPR_DIGITS = 4000       # the digits an `expr` rule's values could reach, bounded before it is evaluated

_REF = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
SOLVE_NAMES = ("n", "f", "p", "s", "d", "out")


class ProblemFileError(ExerciseError):
    """A fault of the problem file itself (a key, a type, a reference): no other draw of a variant fixes it."""


# ---------------------------------------------------------------- the format, as data


@dataclass(frozen=True)
class ValueType:
    """What a value must be: the words messages and the reference use, and the test."""

    expected: str
    accepts: Callable[[Any], bool]
    section: Section | None = None  # a mapping whose keys are checked in turn


@dataclass(frozen=True)
class Key:
    name: str
    type: ValueType
    required: bool = False
    default: Any = None
    ref: str | None = None  # "network", "data" or "layer": a name that must exist
    doc: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    keys: tuple[Key, ...]
    doc: str = ""

    @property
    def names(self) -> list[str]:
        return [key.name for key in self.keys]


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    # integers stay below 10**18: every number here must also convert to a float
    return (_integer(v) and abs(v) <= 10**18) or (isinstance(v, float) and math.isfinite(v))


def _name(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


def _list_of(test: Callable[[Any], bool], low: int = 1, high: int = 1 << 30) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and low <= len(v) <= high and all(test(x) for x in v)


def _range(v: Any) -> bool:
    return (_list_of(_integer, 2, 2)(v) and v[0] <= v[1]
            and all(abs(x) <= MAX_DRAWN for x in v))


TEXT = ValueType("text", lambda v: isinstance(v, str) or _number(v))
ID = ValueType("a name or a number", lambda v: _name(v) or _integer(v))
QUESTION_ID = ValueType("text (a question id such as a.shape)", _name)
POINTS = ValueType("a non-negative number", lambda v: _number(v) and v >= 0)
TOLERANCE = ValueType("a non-negative number", lambda v: _number(v) and v >= 0)
NUMBER = ValueType("a number", _number)
INDEX = ValueType("a non-negative integer", lambda v: _integer(v) and v >= 0)
INDICES = ValueType("a list of non-negative integers, one per axis of the output ([row, column, channel])",
                    _list_of(lambda v: _integer(v) and v >= 0, 1, MAX_RANK))
AXES = ValueType("a list of distinct axis numbers (0 rows, 1 columns, -1 channels)",
                 lambda v: _list_of(_integer, 1, MAX_RANK)(v) and len(set(v)) == len(v))
BOOL = ValueType("true or false", lambda v: isinstance(v, bool))
MAPPING = ValueType("a mapping", lambda v: isinstance(v, dict))
OPTIONAL_MAPPING = ValueType("a mapping", lambda v: v is None or isinstance(v, dict))
PARTS = ValueType("a non-empty list of parts", _list_of(lambda v: True))
QUESTIONS = ValueType("a non-empty list of questions", _list_of(lambda v: True))
SOLUTION = ValueType("text, or a list of lines", lambda v: isinstance(v, str) or _list_of(lambda x: isinstance(x, str))(v))
UNKNOWN = ValueType("one of " + ", ".join(SOLVE_NAMES), lambda v: isinstance(v, str) and v in SOLVE_NAMES)
SOLVE_VALUE = ValueType("a number or a symbol name", lambda v: _number(v) or _name(v))
TRIES = ValueType(f"an integer from 1 to {MAX_TRIES:,}", lambda v: _integer(v) and 1 <= v <= MAX_TRIES)
RANGE = ValueType(f"[low, high]: two integers with low ≤ high, each within ±{MAX_DRAWN:,}", _range)
SHAPE = ValueType("a list of 1 to 4 positive integers", _list_of(lambda v: _integer(v) and v > 0, 1, 4))
CHOICES = ValueType("a non-empty list of values", _list_of(lambda v: True))
EXPRESSION = ValueType('arithmetic text such as "2 * f + 1"', lambda v: isinstance(v, str))
LIST = ValueType("a list", lambda v: v is None or isinstance(v, list))
SHARE = ValueType("a share of the points, from 0 to 1", lambda v: _number(v) and 0 <= v <= 1)
CREDIT = ValueType("a mapping of rule ids (docs/marking.md) to shares of the points, from 0 to 1",
                   lambda v: isinstance(v, dict) and all(_name(k) and SHARE.accepts(x) for k, x in v.items()))

# what a question's answer is, by the kind of computation
COMPUTE_KINDS = {"shape": "shape", "cell": "value", "map": "matrix", "params": "count", "solve": "number",
                 "expression": "expression", "size": "count", "value": "value", "macs": "count",
                 "receptive_field": "count", "pads": "pair", "transpose": "number", "sizes": "sizes",
                 "valid": "yesno"}
KINDS = ("manual", *sorted(set(COMPUTE_KINDS.values())))
KIND = ValueType("one of " + ", ".join(KINDS), lambda v: isinstance(v, str) and v in KINDS)

PROBLEM = Section("problem file", (
    Key("id", ID, required=True, doc="the problem's id; part of every student's seed"),
    Key("version", ValueType("a number or text", TEXT.accepts), default=1,
        doc="change it to give every student a new variant"),
    Key("title", TEXT, doc="the sheet's title (default: the id)"),
    Key("source", TEXT, doc="where the exercise comes from"),
    Key("instructions", TEXT, doc="text under the title; `${name}` puts a data value in"),
    Key("data", OPTIONAL_MAPPING, default={}, doc="named numbers and arrays the sheet gives (layouts below)"),
    Key("display", OPTIONAL_MAPPING, default={}, doc="captions of the data tables: `name: caption`, or false to hide"),
    Key("networks", OPTIONAL_MAPPING, default={}, doc="named network specs; `$name` puts data in"),
    Key("parts", PARTS, required=True, doc="the parts, each with its questions"),
    Key("vary", OPTIONAL_MAPPING, doc="how variants are drawn (below)"),
    Key("follow_through", SHARE, default=0,
        doc="the share of its points a wrong answer earns when it follows correctly from the student's own "
            "earlier (wrong) answers (docs/marking.md); 0: off"),
    Key("credit", CREDIT, default={}, doc="partial credit for an answer that a named slip gives: `rule: share`"),
), "the top level of a problem file")

PART = Section("part", (
    Key("id", ID, required=True, doc="the part's label (a, b, ...)"),
    Key("points", POINTS, default=1, doc="shared equally by its questions that give no points of their own"),
    Key("prompt", TEXT, default="", doc="the part's text; `${name}` puts a data value in"),
    Key("questions", QUESTIONS, required=True, doc="its questions"),
), "one entry of `parts`")

QUESTION = Section("question", (
    Key("id", QUESTION_ID, required=True, doc="unique in the file; the key in answer files"),
    Key("prompt", TEXT, default="", doc="the question's text; `${name}` puts a data value in"),
    Key("compute", MAPPING, doc="how its answer is computed (exactly one kind, below); needed unless kind: manual"),
    Key("kind", KIND, doc="`manual` for items the instructor grades; otherwise it follows from `compute`"),
    Key("points", POINTS, doc="default: an equal share of what the part's other questions leave"),
    Key("rtol", TOLERANCE, doc="relative tolerance for numbers (default 1e-6; integers are exact)"),
    Key("atol", TOLERANCE, doc="absolute tolerance for numbers (default 0)"),
    Key("solution", SOLUTION, doc="for manual items: the model answer the instructor grades against"),
    Key("follow_through", SHARE, doc="as the problem's, for this question (default: the problem's)"),
    Key("credit", CREDIT, doc="as the problem's, for this question (added to the problem's, and winning)"),
), "one entry of a part's `questions`")

SOLVE_VALUES = Section("solve values", tuple(
    Key(name, SOLVE_VALUE, doc="known value, or a symbol name") for name in SOLVE_NAMES
) + (Key("same", BOOL, default=False, doc="'same' convolution: out = n"),), "the values of a `solve` or `expression`")
SOLVE = ValueType("a mapping of " + ", ".join(SOLVE_NAMES) + " and same", MAPPING.accepts, SOLVE_VALUES)

TRANSPOSE_NAMES = (*SOLVE_NAMES, "output_padding")
TRANSPOSE_VALUES = Section("transpose values", tuple(
    Key(name, SOLVE_VALUE, doc=f"known value{' (default 0)' if name in ('p', 'output_padding') else ''}"
        f"{' (default 1)' if name in ('s', 'd') else ''}") for name in TRANSPOSE_NAMES
) + (Key("same", BOOL, default=False, doc="'same' transposed convolution: out = n·s"),),
    "the values of a `transpose` question")
TRANSPOSE = ValueType("a mapping of " + ", ".join(TRANSPOSE_NAMES) + " and same", MAPPING.accepts, TRANSPOSE_VALUES)
TRANSPOSE_UNKNOWN = ValueType("one of " + ", ".join(TRANSPOSE_NAMES),
                              lambda v: isinstance(v, str) and v in TRANSPOSE_NAMES)
SIZE_BOUND = ValueType(f"a positive integer (at most {MAX_SIZES:,} sizes are tried)",
                       lambda v: _integer(v) and 1 <= v <= 10**6)
SYMBOL = ValueType("a symbol name of the network's input", _name)

NETWORK_NAME = ValueType("a network name (a key of `networks`)", _name)
DATA_NAME = ValueType("a data name (a key of `data`)", _name)
LAYER_NAME = ValueType("a layer name of that network", _name)
LAYER_NAMES = ValueType("a non-empty list of layer names", _list_of(_name))
_LAYER = Key("layer", LAYER_NAME, ref="layer", doc="the layer (default: the last)")
_INPUT = Key("input", DATA_NAME, required=True, ref="data", doc="the data fed to the network")
_LAYER_NEEDED = Key("layer", LAYER_NAME, required=True, ref="layer", doc="the layer whose output is read")


def _network(head: str, doc: str = "the network") -> Key:
    return Key(head, NETWORK_NAME, True, ref="network", doc=doc)


COMPUTE: dict[str, Section] = {
    "shape": Section("compute: shape", (_network("shape"), _LAYER,
                                        Key("axes", AXES, doc="only these axes of the shape")),
                     "a layer's output shape, from the calculator (answer: a list)"),
    "size": Section("compute: size", (_network("size"), _LAYER),
                    "the number of values in a layer's output (answer: a count)"),
    "params": Section("compute: params", (_network("params"),
                                          Key("layer", LAYER_NAME, ref="layer", doc="one layer (default: all)"),
                                          Key("layers", LAYER_NAMES, ref="layer", doc="these layers")),
                      "trainable and non-trainable parameters, summed (answer: a count)"),
    "cell": Section("compute: cell", (_network("cell"), _INPUT, _LAYER_NEEDED,
                                      Key("at", INDICES, required=True, doc="the cell, 0-based: [row, column, channel]")),
                    "one value of a layer's output, from the executor, with the working (answer: a number)"),
    "value": Section("compute: value", (_network("value"), _INPUT, _LAYER_NEEDED,
                                        Key("at", INDICES, required=True, doc="as for cell")), "as cell"),
    "map": Section("compute: map", (_network("map"), _INPUT, _LAYER_NEEDED,
                                    Key("channel", INDEX, default=0, doc="the channel shown (0-based)")),
                   "one channel of a layer's output, from the executor (answer: a matrix)"),
    "solve": Section("compute: solve", (Key("solve", SOLVE, True, doc="the known values"),
                                        Key("for", UNKNOWN, True, doc="the unknown")),
                     "conv arithmetic solved for one unknown (answer: a single integer)"),
    "macs": Section("compute: macs", (_network("macs"),
                                      Key("layer", LAYER_NAME, ref="layer", doc="one layer (default: all)"),
                                      Key("layers", LAYER_NAMES, ref="layer", doc="these layers")),
                    "multiply-accumulates, summed (answer: a count; FLOPs ≈ 2·MACs is diagnosed)"),
    "receptive_field": Section("compute: receptive_field", (
        _network("receptive_field"), _LAYER,
        Key("axis", INDEX, default=0, doc="the spatial axis (0 rows, 1 columns)")),
        "the receptive field of one output pixel of a layer, in input pixels, along one axis (answer: a count)"),
    "pads": Section("compute: pads", (Key("pads", SOLVE, True, doc="f (and s, d, n for a stride above 1), same: true"),),
                    "'same' padding as a [before, after] pair: TensorFlow's split, the odd pixel after "
                    "(answer: a list of two integers)"),
    "transpose": Section("compute: transpose", (Key("transpose", TRANSPOSE, True, doc="the known values"),
                                                Key("for", TRANSPOSE_UNKNOWN, default="out", doc="the unknown")),
                         "transposed-convolution arithmetic, out = (n − 1)·s − 2p + d·(f − 1) + output_padding + 1 "
                         "(answer: a single integer)"),
    "sizes": Section("compute: sizes", (
        _network("sizes", "a network whose input has a symbol, e.g. input: [n, n, 3]"),
        Key("for", SYMBOL, doc="the symbol (default: the input's only one)"),
        Key("min", SIZE_BOUND, default=1, doc="the smallest size tried"),
        Key("max", SIZE_BOUND, default=64, doc="the largest size tried"),
        Key("exact", BOOL, default=False, doc="also ask that no layer drops pixels (every division exact)")),
        "the input sizes, from min to max, for which every layer is valid (answer: a list of sizes, or "
        "{min: a, max: b} for a range)"),
    "valid": Section("compute: valid", (_network("valid"),),
                     "whether the calculator accepts the network: every layer's window fits its (padded) input "
                     "and every output size is positive (answer: yes or no; the worked solution names the "
                     "layer that fails)"),
    "expression": Section("compute: expression", (Key("expression", SOLVE, True, doc="the values and symbols"),
                                                  Key("for", UNKNOWN, True, doc="the unknown")),
                          "conv arithmetic solved symbolically (answer: an expression)"),
}

VARY = Section("vary", (
    Key("values", MAPPING, required=True, doc="data name → rule (below), drawn in order"),
    Key("constraints", LIST, default=[], doc="what every variant must meet (below)"),
    Key("tries", TRIES, default=DEFAULT_TRIES, doc="draws before giving up with the constraint that failed"),
), "how `generate` draws variants")

RULES: dict[str, Section] = {
    "integers": Section("rule: integers", (
        Key("integers", RANGE, True, doc="random integers from low to high"),
        Key("shape", SHAPE, doc=f"an array of this shape (that of the data entry; at most {MAX_ARRAY_VALUES:,} values)"),
    )),
    "choice": Section("rule: choice", (Key("choice", CHOICES, True, doc="one of these values"),)),
    "expr": Section("rule: expr", (Key("expr", EXPRESSION, True, doc="safe arithmetic on numbers of data"),)),
}

SOME_BUT_NOT_ALL = Section("some_but_not_all", COMPUTE["map"].keys + (
    Key("equal", NUMBER, default=0, doc="the value some cells, but not all, must have"),))

CONSTRAINTS: dict[str, Section] = {
    "valid": Section("constraint: valid", (Key("valid", ValueType("a non-empty list of network names", _list_of(_name)),
                                               True, ref="network",
                                               doc="these networks build: every shape valid"),)),
    "integer": Section("constraint: integer", (Key("integer", ValueType("{solve: {...}, for: p}", MAPPING.accepts,
                                                                        COMPUTE["solve"]), True,
                                                   doc="this solve has exactly one integer answer"),)),
    "some_but_not_all": Section("constraint: some_but_not_all", (
        Key("some_but_not_all", ValueType("{map: NET, input: DATA, layer: NAME, equal: 0}", MAPPING.accepts,
                                          SOME_BUT_NOT_ALL), True,
            doc="some cells of this map equal `equal`, not all"),)),
    "distinct": Section("constraint: distinct", (
        Key("distinct", ValueType("{map: NET, input: DATA, layer: NAME}", MAPPING.accepts, COMPUTE["map"]), True,
            doc="the cells of this map are not all equal"),)),
}

DATA_LAYOUTS = {
    "channels": "C matrices H×W → an [H, W, C] array",
    "filters_per_channel": "one k×k filter per input channel → [k, k, C, 1]",
    "filters": "F filters, each C matrices k×k (one per input channel) → [k, k, C, F]; the sheet titles its "
               "tables \"filter f, channel c\"",
    "matrix": "a 2-D map → [H, W, 1]",
    "array": "nested lists as they are",
}
_LAYOUT_RANK = {"channels": 3, "filters_per_channel": 3, "matrix": 2, "filters": 4}


# one example per key, as YAML (by section title and key, or by key alone where the key means one thing)
EXAMPLES: dict[tuple[str, str] | str, str] = {
    ("problem file", "id"): "cnn-layers-worksheet", "version": "1", "title": '"Convolution over volume"',
    "source": '"lecture, slide Convolution over volume"', "instructions": '"Use p = 0 and s = 1. The bias is b = ${b}."',
    "data": "{x: {channels: [[[1, 2], [3, 4]], [[0, 1], [1, 0]]]}, b: 7}", "display": '{x: "Input channel {c}", w: false}',
    "networks": "{net: {input: [6, 6, 3], layers: [{type: conv, name: conv, filters: 1, kernel: 3, weight: $w}]}}",
    "parts": "[{id: a, points: 0.5, questions: [...]}]", "vary": "{values: {b: {integers: [1, 9]}}}",
    ("part", "id"): "a", ("part", "points"): "0.5", ("part", "prompt"): '"The bias is b = ${b}; stride s = 1."',
    "questions": "[{id: a.shape, compute: {shape: net, layer: conv}}]",
    ("question", "id"): "a.shape", ("question", "prompt"): '"Shape of the feature map, as [rows, columns]."',
    "compute": "{shape: net, layer: conv, axes: [0, 1]}", "kind": "manual", ("question", "points"): "0.25",
    "rtol": "1.0e-3", "atol": "0.01", "solution": '"y = max(0, x)"', "follow_through": "0.5",
    "credit": "{forgot_bias: 0.5, forgot_padding: 0.25}",
    "shape": "net", "size": "net", "params": "net", "cell": "net", "value": "net", "map": "net", "macs": "net",
    "receptive_field": "net", "sizes": "net", "layer": "conv", "layers": "[conv1, fc]", "axes": "[0, 1]",
    "input": "x", "at": "[3, 3, 0]", "channel": "1", "axis": "0",
    "solve": "{f: 7, same: true}", ("compute: solve", "for"): "p", "expression": "{f: f, same: true}",
    ("compute: expression", "for"): "p", "pads": "{f: 4, same: true}",
    "transpose": "{n: 7, f: 3, s: 2, p: 1, output_padding: 1}", ("compute: transpose", "for"): "out",
    ("compute: sizes", "for"): "n", ("compute: valid", "valid"): "net", "min": "1", "max": "64", "exact": "true",
    "n": "224", "f": "$d_filter", "p": "0", "s": "2", "d": "2", "out": "112", "output_padding": "1", "same": "true",
    "values": "{x: {integers: [0, 7], shape: [6, 6, 3]}}",
    "constraints": "[{valid: [net]}]", "tries": "500", "integers": "[0, 7]", ("rule: integers", "shape"): "[6, 6, 3]",
    "choice": "[3, 5, 7]", "expr": '"2 * f + 1"', "valid": "[part_a, part_b]",
    "integer": "{solve: {f: $d_filter, same: true}, for: p}",
    "some_but_not_all": "{map: net, input: fm, layer: relu, equal: 0}",
    "distinct": "{map: pool2, input: x, layer: max}",
}


def example_of(section: Section, key: Key) -> str:
    return EXAMPLES.get((section.title, key.name)) or EXAMPLES.get(key.name, "")


def reference_sections() -> tuple[Section, ...]:
    return (PROBLEM, PART, QUESTION, *COMPUTE.values(), SOLVE_VALUES, TRANSPOSE_VALUES, VARY, *RULES.values(),
            *CONSTRAINTS.values())


def reference_markdown() -> str:
    """The problem format as Markdown tables, from the tables above (one source for checker and docs)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    def table(section: Section) -> list[str]:
        lines = [f"### {section.title}", ""] + ([section.doc[0].upper() + section.doc[1:] + ".", ""]
                                                 if section.doc else [])
        lines += ["| key | value | required / default | example | meaning |", "|---|---|---|---|---|"]
        for key in section.keys:
            need = "required" if key.required else ("—" if key.default is None else f"`{_yaml(key.default)}`")
            lines.append(f"| `{key.name}` | {cell(key.type.expected)} | {need} | `{cell(example_of(section, key))}` | "
                         f"{cell(key.doc)} |")
        return lines + [""]

    out: list[str] = []
    for section in reference_sections():
        out += table(section)
    out += ["### data layouts", "", "| layout | meaning |", "|---|---|"]
    out += [f"| `{name}` | {cell(doc)} |" for name, doc in DATA_LAYOUTS.items()]
    out += ["", "### answers, by kind of question", "", "| kind | the student answers | compared |", "|---|---|---|"]
    out += [f"| `{kind}` | {cell(answer)} | {cell(rule)} |" for kind, (answer, rule) in ANSWER_KINDS.items()]
    return "\n".join(out) + "\n"


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == {}:
        return "{}"
    if value == []:
        return "[]"
    return str(value)


ANSWER_KINDS = {
    "shape": (("whole numbers as a list `[22, 22, 6]` (`4.0` is 4) or as text: `22x22x6`, `22×22×6`, "
               "`(22, 22, 6)`, `[22, 22, 6]`, `22, 22, 6`"),
              "exactly; diagnoses channels first (`[2, 6, 6]` for `[6, 6, 2]`) and rows and columns swapped"),
    "count": ("a whole number: `348`, or text: `1,234`, `1 234`, `1_234`, `2468/2`",
              "exactly; diagnoses the biases left out, FLOPs for MACs, the channels left out"),
    "value": ("a number: `-8`, `4.75`, or text: `4,75`, `19/4`, `1,234.5` (`1,234` alone could be 1.234: refused)",
              ("an integer key exactly (`22.0000001` is not 22); otherwise within atol + rtol·|key| (rtol 1e-6 by "
               "default); feedback shows the digits that tell the two apart")),
    "matrix": (("nested lists, one per row: `[[1, 2], [3, 4]]`; or text, one row per line or between `;`: "
                "`1 2; 3 4`, `1, 2; 3, 4` (a vector's key takes a row or a column)"),
               "cell by cell, partial credit; diagnoses max for average pooling and a flipped kernel"),
    "number": ("a whole number: `16`, or text as for `count`: `1,024`, `32/2`", "exactly"),
    "pair": ("`[before, after]`: `[1, 2]`, `1, 2`, `(1, 2)`, `{before: 1, after: 2}`; one number `1` is `[1, 1]`",
             "exactly; diagnoses before and after swapped, f/2 on both sides"),
    "sizes": (("a list `[12, 16, 20]`, a range `{min: 12, max: 40}`, or text: `12, 16, 20`, `12–40`, "
               "`12-14, 20`, `12..40`, `n ∈ {12–14, 20}`"),
              "as sets; lists what is missing and what is not valid"),
    "expression": ('text: `"(f - 1)/2"`; `2p` is `2*p`, `p = …` is `…`, `−`, `×`, `·`, `÷`, `⌊…⌋`, `²` are read',
                   ("equal at many integer points where the key is a whole number (the sizes it stands for are): "
                    "`(f - 1)//2` and `f//2` are `(f - 1)/2` for odd f; no symbolic algebra on answers")),
    "yesno": ("`yes` or `no`; also `y`, `n`, `true`, `false`, `valid`, `invalid` (any case)", "exactly"),
    "manual": ("anything (or nothing)", "graded by the instructor (`grade --overrides`)"),
}


# ---------------------------------------------------------------- the problem as objects


@dataclass
class Question:
    id: str
    part: str
    kind: str  # shape, value, matrix, count, number, expression, manual
    points: float
    prompt: str
    compute: dict[str, Any] | None
    rtol: float | None = None
    atol: float | None = None
    solution: list[str] | None = None  # manual items: the model answer the instructor grades against
    line: int | None = None  # of the question in the problem file
    follow_through: float = 0.0  # share of the points for an answer that follows from wrong earlier ones
    credit: dict[str, float] = field(default_factory=dict)  # rule id → share of the points for that slip


@dataclass
class Part:
    id: str
    points: float
    prompt: str
    questions: list[Question]


@dataclass
class Problem:
    id: str
    version: Any
    title: str
    data: dict[str, Any]
    networks: dict[str, Any]
    parts: list[Part]
    source: str
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def questions(self) -> list[Question]:
        return [q for part in self.parts for q in part.questions]

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise ExerciseError(f"no question '{qid}'", file=self.source,
                            hint=did_you_mean(qid, [q.id for q in self.questions]))

    @property
    def max_points(self) -> float:
        return sum(q.points for q in self.questions)


# ---------------------------------------------------------------- checking


def line_of(node: Any, key: Any = None) -> int | None:
    """The line of a parsed node, or of one of its keys (None for values built in memory)."""
    if key is not None and isinstance(node, safeload.LineDict):
        return node.line_of(key)
    return getattr(node, "line", None)


def _refs(value: Any) -> Iterator[tuple[str, Any]]:
    """Every ``$name`` inside a value, with the node that holds it (for its line)."""
    stack = [(value, value)]
    while stack:
        item, holder = stack.pop()
        if isinstance(item, str):
            match = _REF.match(item)
            if match:
                yield match.group(1), holder
        elif isinstance(item, list):
            stack.extend((v, item) for v in item)
        elif isinstance(item, dict):
            stack.extend((v, item) for v in item.values())


class Checker:
    """Checks parsed values against the tables above; every failure names file, line, key and value."""

    def __init__(self, source: str, data: Collection[str] = frozenset(), networks: Collection[str] = frozenset(),
                 error: type[ExerciseError] = ProblemFileError) -> None:
        self.source = source
        self.data = set(data)
        self.networks = set(networks)
        self.error = error

    def fail(self, message: str, line: int | None, **details: Any) -> NoReturn:
        raise self.error(message, file=self.source, line=line, **details)

    def section(self, section: Section, value: Any, where: str, line: int | None, refs: bool = False) -> None:
        """``refs``: a value may be ``$name`` (data put in): the name must exist; its type is checked once
        the value is put in."""
        if not isinstance(value, dict):
            self.fail(f"{where} must be a mapping", line, got=value, expected=f"a {section.title} with "
                      + ", ".join(section.names))
        line = line_of(value) or line
        names = section.names
        for key in value:
            if key not in names:
                self.fail(f"{where}: unknown key '{key}'", line_of(value, key) or line,
                          hint=did_you_mean(str(key), names) or "expected one of " + ", ".join(names))
        for key in section.keys:
            if key.name in value:
                self.value(key, value[key.name], where, line_of(value, key.name) or line, refs)
            elif key.required:
                self.fail(f"{where}: missing '{key.name}' ({key.doc})", line)

    def value(self, key: Key, value: Any, where: str, line: int | None, refs: bool) -> None:
        if key.type.section is not None and isinstance(value, dict):
            self.section(key.type.section, value, f"{where}: '{key.name}'", line, refs)
            return
        if refs:
            found = False
            for name, holder in _refs(value):
                found = True
                if name not in self.data:
                    self.fail(f"{where}: unknown data '${name}'", line_of(holder) or line,
                              hint=did_you_mean(name, self.data) or self._known("data"))
            if found:
                return
        if not key.type.accepts(value):
            self.fail(f"{where}: bad value for '{key.name}'", line, got=value, expected=key.type.expected)
        if key.ref in ("network", "data"):
            known = self.networks if key.ref == "network" else self.data
            for name in value if isinstance(value, list) else [value]:
                if name not in known:
                    self.fail(f"{where}: '{key.name}' names no {key.ref} '{name}'", line,
                              hint=did_you_mean(name, known) or self._known(key.ref))

    def _known(self, what: str) -> str:
        names = sorted(self.networks if what == "network" else self.data)
        return f"the {what} names are: " + ", ".join(names) if names else f"the file defines no {what}"

    def compute(self, compute: Any, where: str, line: int | None, refs: bool = False,
                kinds: dict[str, Section] = COMPUTE) -> str:
        """Check a `compute` mapping (one kind and its keys); returns the kind."""
        expected = "a mapping with exactly one of " + ", ".join(kinds)
        if not isinstance(compute, dict) or not compute:
            self.fail(f"{where}: bad value for 'compute'", line, got=compute, expected=expected)
        line = line_of(compute) or line
        heads = [key for key in compute if key in kinds]
        if not heads:
            fields = {name for section in kinds.values() for name in section.names}
            stray = next((key for key in compute if key not in fields), None)
            if stray is None:
                self.fail(f"{where}: compute names no kind", line, got=list(compute), expected=expected)
            self.fail(f"{where}: unknown compute '{stray}'", line_of(compute, stray) or line,
                      hint=did_you_mean(str(stray), kinds) or expected)
        if len(heads) > 1:
            self.fail(f"{where}: compute has more than one kind: " + ", ".join(map(str, heads)), line,
                      got=list(compute), expected="exactly one of " + ", ".join(kinds))
        self.section(kinds[heads[0]], compute, where, line, refs)
        return str(heads[0])


def check_compute(problem: Problem, q: Question, compute: dict[str, Any]) -> str:
    """Check a question's `compute` once `$name`s are put in (types may change with a variant's data)."""
    return Checker(problem.source, problem.data, problem.networks, ExerciseError).compute(
        compute, f"question '{q.id}'", q.line)


def to_array(name: str, value: Any, line: int | None = None, source: str | None = None) -> Any:
    """A data entry as a NumPy array (or a plain number)."""
    def fail(message: str, **details: Any) -> NoReturn:
        raise ProblemFileError(message, file=source, line=line, **details)

    expected = "a number, nested lists, or {layout: lists} with layout " + ", ".join(DATA_LAYOUTS)
    if _number(value):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (layout, content), = value.items()
        if layout not in DATA_LAYOUTS:
            fail(f"data '{name}': unknown layout '{layout}'", hint=did_you_mean(str(layout), DATA_LAYOUTS)
                 or "expected one of " + ", ".join(DATA_LAYOUTS))
    elif isinstance(value, list):
        layout, content = "array", value
    else:
        fail(f"bad data '{name}'", got=value, expected=expected)
    try:
        array = np.asarray(content, dtype=float)
    except (ValueError, TypeError, OverflowError):
        fail(f"data '{name}' is not a rectangular array of numbers", got=content)
    if isinstance(content, (bool, str)) or array.ndim == 0 or array.size == 0:
        fail(f"data '{name}' is not a rectangular array of numbers", got=content)
    if any(isinstance(v, bool) for v in _leaves(content)):
        fail(f"data '{name}' holds true/false where numbers belong", got=content)
    if not np.isfinite(array).all():
        fail(f"data '{name}' holds a value that is not finite (nan or inf)")
    rank = _LAYOUT_RANK.get(layout)
    if rank is not None and array.ndim != rank:
        fail(f"data '{name}': layout '{layout}' needs {rank}-level nested lists", got=list(array.shape),
             expected=DATA_LAYOUTS[layout])
    if layout == "channels":  # C matrices H×W → [H, W, C]
        return np.moveaxis(array, 0, -1)
    if layout == "filters_per_channel":  # one filter, given per input channel → [k, k, C, 1]
        return np.moveaxis(array, 0, -1)[..., None]
    if layout == "filters":  # [F][C][k][k] → [k, k, C, F]
        return np.transpose(array, (2, 3, 1, 0))
    if layout == "matrix":
        return array[..., None]
    return array


def _leaves(value: Any) -> Iterator[Any]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        else:
            yield item


_PLAIN = (int, float, bool)  # exact types: a subclass (or numpy scalar) takes the general path


def resolve_refs(value: Any, data: dict[str, Any]) -> Any:
    """``$name`` → the data value (arrays as nested lists, as a spec wants them); lines are kept."""
    if isinstance(value, str):
        match = _REF.match(value)
        if match:
            name = match.group(1)
            if name not in data:
                raise ProblemFileError(f"unknown data '${name}'", hint=did_you_mean(name, data))
            item = data[name]
            return item.tolist() if isinstance(item, np.ndarray) else item
        return value
    if isinstance(value, list):
        if all(type(v) in _PLAIN for v in value):  # a row of numbers (weights): nothing to put in
            items = safeload.LineList(value)
        else:
            items = safeload.LineList(resolve_refs(v, data) for v in value)
        items.line = getattr(value, "line", None)
        return items
    if isinstance(value, dict):
        mapping = safeload.LineDict((k, resolve_refs(v, data)) for k, v in value.items())
        mapping.line = getattr(value, "line", None)
        mapping.key_lines = dict(getattr(value, "key_lines", {}))
        return mapping
    return value


def expression_digits(tree: Any) -> int:
    """An upper bound on the digits (of numerator and denominator) any step of an `expr` can reach, with
    every name at most 10**18: exact arithmetic on such numbers stays quick, whatever the text.

    >>> expression_digits(expr.parse("2 * f + 1"))  # (1 + 19 + 1) + 1 + 1
    23
    """
    kind = tree[0]
    if kind == "num":
        number = tree[1]
        return max(len(str(abs(number.numerator))), len(str(number.denominator)))
    if kind == "name":
        return 19
    if kind == "neg":
        return expression_digits(tree[1])
    if kind == "call":
        return max(expression_digits(arg) for arg in tree[2]) + 1
    if kind == "**":
        exponent = tree[2]
        power = min(abs(exponent[1]), 64) if exponent[0] == "num" else 64
        return max(expression_digits(tree[1]) * int(power), 1)
    return sum(expression_digits(part) for part in tree[1:] if isinstance(part, tuple)) + 1


def _check_vary(check: Checker, vary: Any, data: dict[str, Any]) -> None:
    line = line_of(vary)
    check.section(VARY, vary, "vary", line)
    values = vary["values"]
    drawn = 0
    numbers = {name for name, value in data.items() if _number(value)}
    for name, rule in values.items():
        where = f"vary: '{name}'"
        rule_line = line_of(values, name) or line
        if name not in data:
            check.fail(f"{where} is not in data (a rule replaces a data entry)", rule_line,
                       hint=did_you_mean(str(name), data) or check._known("data"))
        if not isinstance(rule, dict):
            check.fail(f"{where}: bad rule", rule_line, got=rule,
                       expected="{integers: [low, high], shape: [...]}, {choice: [...]} or {expr: '...'}")
        heads = [key for key in rule if key in RULES]
        if len(heads) != 1:
            stray = next((key for key in rule if key not in ("integers", "shape", "choice", "expr")), None)
            check.fail(f"{where}: " + (f"unknown rule '{stray}'" if stray is not None and not heads else
                                       "a rule needs exactly one of integers, choice, expr"),
                       rule_line, hint=did_you_mean(str(stray), RULES) if stray is not None else None)
        head = heads[0]
        check.section(RULES[head], rule, where, rule_line)
        original = data[name]
        shape = list(original.shape) if isinstance(original, np.ndarray) else None
        if head == "integers":
            given = rule.get("shape")
            if given != shape:
                check.fail(f"{where}: the drawn values must have the shape of data '{name}'", line_of(rule) or rule_line,
                           got=given, expected="no shape (a number)" if shape is None else f"shape: {shape}")
            if shape:
                size = math.prod(shape)
                if size > MAX_ARRAY_VALUES:
                    check.fail(f"{where}: too many values in one array ({size:,}, at most {MAX_ARRAY_VALUES:,})",
                               rule_line)
                drawn += size
        elif head == "choice":
            for option in rule["choice"]:
                value = to_array(name, option, line_of(rule, "choice"), check.source)
                got = list(value.shape) if isinstance(value, np.ndarray) else None
                if got != shape:
                    check.fail(f"{where}: a choice does not have the shape of data '{name}'",
                               line_of(rule, "choice") or rule_line, got=option,
                               expected="a number" if shape is None else f"an array of shape {shape}")
        else:
            if shape is not None:
                check.fail(f"{where}: 'expr' gives a number, but data '{name}' is an array of shape {shape}",
                           rule_line)
            try:
                tree = expr.parse(rule["expr"])
            except CnnCalcError as error:
                check.fail(f"{where}: {error.message}", line_of(rule, "expr") or rule_line,
                           got=error.got if error.got_given else NOT_GIVEN, expected=error.expected)
            digits = expression_digits(tree)
            if digits > MAX_EXPR_DIGITS:
                check.fail(f"{where}: expression too complex: its values could reach {digits:,} digits "
                           f"(at most {MAX_EXPR_DIGITS:,})", line_of(rule, "expr") or rule_line, got=rule["expr"])
            for used in sorted(expr.names(tree)):
                if used not in numbers:
                    check.fail(f"{where}: 'expr' uses '{used}', which is not a number in data",
                               line_of(rule, "expr") or rule_line,
                               hint=did_you_mean(used, numbers) or "numbers in data: " + (", ".join(sorted(numbers))
                                                                                      or "none"))
    if drawn > MAX_VARY_VALUES:
        check.fail(f"vary: too many values drawn per variant ({drawn:,}, at most {MAX_VARY_VALUES:,})", line)
    constraints = vary.get("constraints") or []
    for i, constraint in enumerate(constraints, 1):
        where = f"vary: constraint {i}"
        c_line = line_of(constraint) or line_of(constraints) or line
        if not isinstance(constraint, dict) or len(constraint) != 1:
            check.fail(f"{where} must be a one-key mapping", c_line, got=constraint,
                       expected="one of " + ", ".join(CONSTRAINTS))
        kind = next(iter(constraint))
        if kind not in CONSTRAINTS:
            check.fail(f"{where}: unknown constraint '{kind}'", c_line,
                       hint=did_you_mean(str(kind), CONSTRAINTS) or "expected one of " + ", ".join(CONSTRAINTS))
        check.section(CONSTRAINTS[kind], constraint, where, c_line, refs=True)


# ---------------------------------------------------------------- building


def build_problem(raw: Any, source: str, data_override: dict[str, Any] | None = None) -> Problem:
    """Check a parsed problem file and build it. ``data_override`` replaces data entries (a variant's
    draw: the file itself, with its `vary:` section, is checked when it is read without one)."""
    if not isinstance(raw, dict):
        raise ProblemFileError("a problem file must be a mapping", file=source, line=line_of(raw), got=raw,
                               expected="id, parts, and optionally data, networks, vary ...")
    check = Checker(source)
    check.section(PROBLEM, raw, "top level", line_of(raw) or 1)
    data_raw = raw.get("data") or {}
    networks = raw.get("networks") or {}
    data: dict[str, Any] = {}
    for name, value in {**data_raw, **(data_override or {})}.items():
        if not _name(name):
            check.fail("a data name must be text", line_of(data_raw, name), got=name)
        line = line_of(data_raw, name) if name not in (data_override or {}) else None
        data[name] = to_array(name, value, line, source)
    for name, spec in networks.items():
        where, line = f"network '{name}'", line_of(networks, name)
        if not _name(name):
            check.fail("a network name must be text", line, got=name)
        if not isinstance(spec, dict):
            check.fail(f"{where} must be a spec", line, got=spec, expected="a mapping with input and layers")
        for ref, holder in _refs(spec):
            if ref not in data:
                check.fail(f"{where}: unknown data '${ref}'", line_of(holder) or line,
                           hint=did_you_mean(ref, data) or check._known("data"))
    check.data, check.networks = set(data), set(networks)
    display = raw.get("display") or {}
    for name, caption in display.items():
        if name not in data:
            check.fail(f"display: '{name}' is not in data", line_of(display, name),
                       hint=did_you_mean(str(name), data) or check._known("data"))
        if not (isinstance(caption, str) or caption is False):
            check.fail(f"display: bad caption for '{name}'", line_of(display, name), got=caption,
                       expected="text, or false to hide the table")
    defaults = (float(raw.get("follow_through", 0)), _credit(check, raw.get("credit"), line_of(raw, "credit")))
    parts = _parts(check, raw["parts"], defaults)
    if raw.get("vary") and data_override is None:
        _check_vary(check, raw["vary"], data)
    return Problem(str(raw["id"]), raw.get("version", 1), str(raw.get("title", raw["id"])), data, networks, parts,
                   source, raw)


def with_data(problem: Problem, data_override: dict[str, Any]) -> Problem:
    """What ``build_problem(problem.raw, problem.source, data_override)`` builds, for a ``problem`` built from
    its file's own data (a variant's draw), without checking the file again: of the data, those checks read
    only the names, and a draw keeps every name; its values are converted and checked as there."""
    data = dict(problem.data)
    for name, value in data_override.items():
        if not _name(name):
            raise ProblemFileError("a data name must be text", file=problem.source, got=name)
        data[name] = to_array(name, value, None, problem.source)
    return replace(problem, data=data)


def _credit(check: Checker, credit: Any, line: int | None) -> dict[str, float]:
    """A `credit:` mapping, its rule ids checked against the catalogue."""
    from .slips import SLIPS

    for rule in credit or {}:
        if rule not in SLIPS:
            check.fail(f"credit: unknown rule '{rule}'", line_of(credit, rule) or line,
                       hint=did_you_mean(str(rule), SLIPS) or "the rules are listed in docs/marking.md")
    return {str(rule): float(share) for rule, share in (credit or {}).items()}


def _parts(check: Checker, parts_raw: list[Any], defaults: tuple[float, dict[str, float]] = (0.0, {})
           ) -> list[Part]:
    parts: list[Part] = []
    part_lines: dict[str, int | None] = {}
    question_lines: dict[str, int | None] = {}
    for i, part_raw in enumerate(parts_raw, 1):
        line = line_of(part_raw) or line_of(parts_raw)
        label = part_raw.get("id") if isinstance(part_raw, dict) else None
        check.section(PART, part_raw, f"part '{label}'" if ID.accepts(label) else f"part {i}", line)
        pid = str(part_raw["id"])
        if pid in part_lines:
            check.fail(f"duplicate part id '{pid}' (first on line {part_lines[pid]})", line)
        part_lines[pid] = line
        part_points = float(part_raw.get("points", 1))
        questions_raw = part_raw["questions"]
        for j, q in enumerate(questions_raw, 1):
            q_line = line_of(q) or line_of(questions_raw)
            where = f"question '{q['id']}'" if isinstance(q, dict) and _name(q.get("id")) else \
                f"part '{pid}', question {j}"
            check.section(QUESTION, q, where, q_line)
            if q["id"] in question_lines:
                first = question_lines[q["id"]]
                check.fail(f"duplicate question id '{q['id']}'" + (f" (first on line {first})" if first else ""), q_line)
            question_lines[q["id"]] = q_line
        explicit = sum(float(q["points"]) for q in questions_raw if "points" in q)
        implicit = [q for q in questions_raw if "points" not in q]
        share = (part_points - explicit) / len(implicit) if implicit else 0.0
        if share < 0:
            check.fail(f"part '{pid}': its questions' own points ({explicit:g}) exceed the part's ({part_points:g}), "
                       "leaving nothing for the others", line)
        questions = [_question(check, q, pid, share, defaults) for q in questions_raw]
        parts.append(Part(pid, part_points, str(part_raw.get("prompt", "")), questions))
    return parts


def _question(check: Checker, q: dict[str, Any], part: str, share: float,
              defaults: tuple[float, dict[str, float]] = (0.0, {})) -> Question:
    where, line = f"question '{q['id']}'", line_of(q)
    compute, kind = q.get("compute"), q.get("kind")
    if compute is not None or kind != "manual":
        if compute is None:
            check.fail(f"{where} needs 'compute' (how its answer is computed) or kind: manual", line)
        head = check.compute(compute, where, line_of(q, "compute") or line, refs=True)
        if kind not in (None, "manual", COMPUTE_KINDS[head]):
            check.fail(f"{where}: kind '{kind}' does not match compute '{head}'", line_of(q, "kind") or line,
                       expected=f"{COMPUTE_KINDS[head]} (or leave kind out)", got=kind)
        kind = kind or COMPUTE_KINDS[head]
    solution = q.get("solution")
    if isinstance(solution, str):
        solution = solution.rstrip("\n").splitlines()
    follow = float(q.get("follow_through", defaults[0]))
    credit = {**defaults[1], **_credit(check, q.get("credit"), line_of(q, "credit") or line)}
    return Question(q["id"], part, kind, float(q.get("points", share)), str(q.get("prompt", "")),
                    compute if kind != "manual" else None, q.get("rtol"), q.get("atol"), solution, line,
                    follow, credit)


def load_problem(path: str | Path) -> Problem:
    """Read and check a problem file (structurally: its key is computed, and checked, apart)."""
    path = Path(path)
    try:
        raw = safeload.load_file(path)
        return build_problem(raw, str(path))
    except CnnCalcError as error:
        raise error.with_context(file=str(path)) from None
