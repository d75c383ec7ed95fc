"""Reading one student answer of each kind, in every form a person writes it, and the expression
equivalence test.

A shape is the list ``[22, 22, 6]`` or the text ``22x22x6``, ``22×22×6``, ``(22, 22, 6)``, ``[22, 22, 6]``;
a padding ``[1, 2]``, ``1, 2`` or ``{before: 1, after: 2}``; valid sizes ``[12, 16, 20]``, ``12, 16, 20``,
``12–40`` or ``{min: 12, max: 40}``; a number ``1234``, ``"1,234"``, ``"1 234"``, ``"4,75"`` or ``"19/4"``;
a map nested lists or rows of text; an expression any equivalent text, ``2p`` for ``2*p`` included. Each
reader turns every form it accepts into one value, so what compares, diagnoses and groups answers never
sees the spelling. What cannot be read raises :class:`Invalid` with one line saying what is expected,
with an example that is never the key (:func:`example`).

Untrusted input: every value is checked for type before it is read; texts are matched by patterns that
run in linear time, with caps on digits and items; an expression is bounded in degree and number size
before it is evaluated, and evaluated at points only (no symbolic algebra on student input).

>>> read("shape", "22×22×6"), read("pair", "1, 2"), read("count", "1,234")
([22, 22, 6], [1, 2], 1234.0)
>>> read("sizes", "n ∈ {12–14, 20}")
[12, 13, 14, 20]
"""

from __future__ import annotations

import functools
import math
import random
import re
import unicodedata
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import CnnCalcError
from ..maths.ranges import ranges

MAX_EXPRESSION_DEGREE = 16
MAX_EXPRESSION_BITS = 256  # as the expression evaluator allows (maths.expr.MAX_BITS)
POINT_BITS = 12  # evaluation points are at most 2**12: degree 16 stays within the bits
EXPRESSION_POINTS = 12
KEY_TRIES = 400  # points tried to find EXPRESSION_POINTS where the key is a whole number
MAX_DIGITS = 30  # of one whole number written as text
MAX_ITEMS = 10_000  # numbers or ranges in one list written as text
MAX_SIZES = 10**6  # sizes one answer of kind `sizes` may name

#: the kinds whose answer is a whole number (a count, a solved size); `value` may be any number
WHOLE_KINDS = ("count", "number")


class Invalid(Exception):
    pass


def _short(value: Any, limit: int = 80) -> str:
    from .grading import short  # the report's echo of a value (grading imports this module)

    return short(value, limit)


def _kind_of(value: Any) -> str:
    from .grading import kind_of

    return kind_of(value)


def _clean_text(text: str, limit: int) -> str:
    from .grading import clean_text

    return clean_text(text, limit)


def read(kind: str, value: Any, key: Any = None) -> Any:
    """An answer of a kind as the grader compares it: a list of ints (shape, pair), the sorted sizes
    (sizes), a float (count, number, value), a 2-D array (matrix) or the expression's text made
    readable (expression). ``key`` only chooses the example of a message."""
    if kind in ("shape", "pair"):
        return integers(value, key, kind)
    if kind == "sizes":
        return sizes(value, key)
    if kind in ("count", "number", "value"):
        return number(value, whole=kind in WHOLE_KINDS)
    if kind == "matrix":
        return matrix(value, key)
    if kind == "expression":
        return expression_text(value, key if isinstance(key, str) else None)
    if kind == "yesno":
        return yes_or_no(value)
    raise Invalid(f"unknown question kind {kind!r}")


YES, NO = ("yes", "y", "true", "valid"), ("no", "n", "false", "invalid")


def yes_or_no(value: Any) -> str:
    """``yes`` or ``no``, from the words a person writes for them (or YAML's true and false).

    >>> yes_or_no("Yes."), yes_or_no(False), yes_or_no(" invalid ")
    ('yes', 'no', 'no')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    word = value.strip().rstrip(".!").lower() if isinstance(value, str) else None
    if word in YES:
        return "yes"
    if word in NO:
        return "no"
    raise Invalid(f"expected yes or no, got {_short(value)}")


# ---------------------------------------------------------------- examples that are never the key


_SHAPES = ([7, 7, 5], [6, 6, 2])
_PAIRS = ([0, 3], [2, 5])
_SIZES = ([3, 5, 10, 11, 12], [4, 6, 20, 21, 22])
_MATRICES = ([[1, 2], [3, 4]], [[5, 6], [7, 8]])
_EXPRESSIONS = ("2*a + 1", "3*b - 2", "u*v + 1")
_NUMBERS = (("12", "-0.5"), ("17", "-2.5"))


def neutral(kind: str, key: Any = None) -> Any:
    """A value of this kind to show as an example, never the key's: a shape, a padding, sizes or a map
    (lists), an expression (text) or a number (text)."""
    if kind == "shape":
        return _other(_SHAPES, key)
    if kind == "pair":
        return _other(_PAIRS, key)
    if kind == "sizes":
        return _other(_SIZES, sorted(key) if isinstance(key, (list, tuple, set)) else key)
    if kind == "matrix":
        return _other(_MATRICES, np.atleast_2d(key).tolist() if key is not None else None)
    if kind == "expression":
        return _expression_example(key)
    if kind == "yesno":  # both answers are the form itself: naming them shows neither as the key
        return "yes or no"
    for pair in _NUMBERS:
        if key is None or all(float(text) != float(key) for text in pair):
            return pair[0] if kind in WHOLE_KINDS else f"{pair[0]} or {pair[1]}"
    return _NUMBERS[-1][0]


def example(kind: str, key: Any = None) -> str:
    """How an answer of this kind is written, with numbers that are not the key's (a message or a
    placeholder must never show the answer).

    >>> example("shape", [7, 7, 5])
    '[6, 6, 2], 6x6x2 or (6, 6, 2)'
    >>> example("expression", "2*a + 1")
    '3*b - 2'
    """
    value = neutral(kind, key)
    if kind == "shape":
        items = ", ".join(map(str, value))
        return f"[{items}], {'x'.join(map(str, value))} or ({items})"
    if kind == "pair":
        return f"[{value[0]}, {value[1]}] or {value[0]}, {value[1]}"
    if kind == "sizes":
        return f"{size_text(value)} or {{min: {value[2]}, max: {value[-1]}}}"
    return str(value)


def size_text(values: list[int]) -> str:
    """Sorted sizes as runs, as feedback writes them: ``3, 5, 10–12``."""
    return ranges(values)


def _other(candidates: Sequence[Any], key: Any) -> Any:
    return next((c for c in candidates if c != key), candidates[-1])


def _expression_example(key: Any) -> str:
    from ..maths import expr

    taken = _names(key) if isinstance(key, str) else frozenset()
    for text in _EXPRESSIONS:
        if not expr.names(expr.parse(text)) & taken:
            return text
    return _EXPRESSIONS[-1]


# ---------------------------------------------------------------- numbers

# The patterns here and the answer form's script (sheets.py) read the same texts: ASCII digits, the
# same separators; tests/test_answer_form_all.py runs one table through both.


_MINUS = str.maketrans({"−": "-", "–": "-", "‐": "-", "‑": "-", "—": "-"})
_PLAIN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
# thousands in groups of three, one separator throughout: 1,234 · 1 234 (any space) · 1_234 · 1'234
_GROUPED = re.compile(r"[+-]?\d{1,3}(?P<sep>[, _'’])\d{3}(?:(?P=sep)\d{3})*(?:\.\d+)?", re.ASCII)
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+", re.ASCII)
_FRACTION = re.compile(r"([+-]?\d{1,30})\s*/\s*(\d{1,30})", re.ASCII)


def number(value: Any, whole: bool = False) -> float:
    """A number from YAML/JSON, or written as text.

    Text may group thousands (``1,234``, ``1 234`` with any space, ``1_234``, ``1'234``), use a decimal
    comma (``4,75``) or be a fraction (``19/4``). ``1,234`` reads as 1234 where a whole number is asked
    (``whole``); elsewhere it could be 1.234 too, and is refused as ambiguous.

    >>> number("1 234"), number("4,75"), number("−19/4"), number("1,234", whole=True)
    (1234.0, 4.75, -4.75, 1234.0)
    """
    if isinstance(value, str):
        return _number_text(value, whole)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"expected a number, got {_kind_of(value)} {_short(value)}")
    try:
        result = float(value)
    except OverflowError:
        raise Invalid("number too large (more than about 1e308)") from None
    if not math.isfinite(result):
        raise Invalid(f"expected a finite number, got {_short(value)}")
    return result


def _number_text(value: str, whole: bool) -> float:
    text = unicodedata.normalize("NFKC", value).translate(_MINUS).strip()
    if _PLAIN.fullmatch(text):
        return _finite(float(text), value)
    if text.lstrip("+-").lower() in ("nan", "inf", "infinity"):
        raise Invalid(f"expected a finite number, got {_short(value)}")
    grouped = _GROUPED.fullmatch(text)
    if grouped:
        sep = grouped["sep"]
        if sep == "," and text.count(",") == 1 and "." not in text and not whole:
            plain = text.replace(",", "")
            raise Invalid(f"{_short(value)} could be {plain} or {text.replace(',', '.')}: write it without the comma")
        return _finite(float(text.replace(sep, "")), value)
    if _DECIMAL_COMMA.fullmatch(text):
        return _finite(float(text.replace(",", ".")), value)
    fraction = _FRACTION.fullmatch(text)
    if fraction:
        if int(fraction[2]) == 0:
            raise Invalid(f"{_short(value)} divides by zero")
        return _finite(float(Fraction(int(fraction[1]), int(fraction[2]))), value)
    raise Invalid(f"expected a number, got {_short(value)}")


def _finite(result: float, value: str) -> float:
    if not math.isfinite(result):
        raise Invalid(f"expected a finite number, got {_short(value)} (more than about 1e308)")
    return result


def integral(value: Any) -> int | None:
    """An int, or a float with an integral value (4.0), as an int; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


_DIGITS = f"\\d{{1,{MAX_DIGITS}}}"  # a whole number of at most MAX_DIGITS digits
_WHOLE = re.compile(rf"[+-]?{_DIGITS}(?:\.0*)?", re.ASCII)


def _whole(value: Any) -> int | None:
    """A whole number from YAML/JSON (4, 4.0) or as text ("4", "4.0"); None for anything else."""
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).translate(_MINUS).strip()
        return int(text.split(".")[0]) if _WHOLE.fullmatch(text) else None
    return integral(value)


# ---------------------------------------------------------------- lists of whole numbers


_LIST_SEPARATOR = re.compile(r"\s*[,;×xX]\s*|\s+", re.ASCII)
_ENCLOSING = {"[": "]", "(": ")", "{": "}"}


def _unwrapped(text: str) -> str:
    """The text inside one pair of brackets that encloses all of it, if any."""
    if len(text) >= 2 and _ENCLOSING.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


def integers(value: Any, key: Any = None, kind: str = "shape") -> list[int]:
    """A shape or a ``[before, after]`` padding as a list of ints.

    A list (``[22, 22, 6]``, ``4.0`` read as 4), or text: ``22x22x6``, ``22×22×6``, ``22 x 22 x 6``,
    ``(22, 22, 6)``, ``[22, 22, 6]``, ``22, 22, 6``, ``22 22 6``. A padding may also be
    ``{before: 1, after: 2}``, or one number p for p on both sides.

    >>> integers("(22, 22, 6)"), integers("[1,2]", kind="pair"), integers(3, kind="pair")
    ([22, 22, 6], [1, 2], [3, 3])
    """
    items: list[Any]
    if isinstance(value, str):
        text = _unwrapped(unicodedata.normalize("NFKC", value).strip())
        items = [part for part in _LIST_SEPARATOR.split(text) if part] if text else []
        if len(items) > MAX_ITEMS:
            items = []
    elif isinstance(value, list):
        items = value
    elif kind == "pair" and isinstance(value, dict) and set(value) == {"before", "after"}:
        items = [value["before"], value["after"]]
    elif _whole(value) is not None:
        items = [value]
    else:
        items = []
    numbers = [_whole(item) for item in items]
    if not numbers or any(n is None for n in numbers):
        if kind == "pair":
            raise Invalid(f"expected [before, after] as whole numbers, e.g. {example('pair', key)}")
        raise Invalid(f"expected whole numbers, e.g. {example('shape', key)}")
    if kind == "pair" and len(numbers) == 1:  # "padding p": p before and p after
        numbers = numbers * 2
    return numbers  # type: ignore[return-value]


# ---------------------------------------------------------------- sets of sizes


_RANGE_SEPARATOR = re.compile(r"(?<=\d)\s*(?:\.\.\.?|[-–—]|to)\s*(?=\d)", re.ASCII)
_MIN_MAX = re.compile(rf"\{{?\s*min\s*[:=]?\s*({_DIGITS})\s*[,;]?\s*max\s*[:=]?\s*({_DIGITS})\s*\}}?",
                      re.IGNORECASE | re.ASCII)
_NAMED = re.compile(r"[A-Za-z_]\w*\s*(?:∈|=|:|\bin\b)\s*(?=\S)", re.ASCII)
_SIZE_ITEM = re.compile(rf"({_DIGITS})(?:‥({_DIGITS}))?", re.ASCII)


def sizes(value: Any, key: Any = None) -> list[int]:
    """A set of sizes, sorted: a list (of numbers, or of texts such as "12-14"), ``{min: a, max: b}`` for
    every size from a to b, one number, or text: ``12, 16, 20``, ``12 16 20``, ``12–40``, ``12-14, 20``,
    ``12..40``, ``12 to 40``, ``{12, 16, 20}``, ``n ∈ {12–14, 20}`` (as feedback writes it) and
    ``{min: 12, max: 40}``.

    >>> sizes("12, 16, 20"), sizes("12..14"), sizes({"min": 3, "max": 5}), sizes(["1-2", 7])
    ([12, 16, 20], [12, 13, 14], [3, 4, 5], [1, 2, 7])
    """
    runs: list[tuple[int, int]] | None
    if isinstance(value, dict) and set(value) == {"min", "max"}:
        low, high = _whole(value["min"]), _whole(value["max"])
        runs = [(low, high)] if low is not None and high is not None else None
    elif isinstance(value, dict) and all(v is None for v in value.values()):  # YAML's set: {12, 16, 20}
        runs = _size_items(list(value))
    elif isinstance(value, list):
        runs = _size_items(value)
    else:
        runs = _size_items([value])
    if not runs or len(runs) > MAX_ITEMS:
        raise Invalid(f"expected sizes as whole numbers, e.g. {example('sizes', key)}")
    if any(high < low for low, high in runs):
        low, high = neutral("sizes", key)[2::2]
        raise Invalid(f"a range goes from the smaller size to the larger, e.g. {low}–{high}")
    if sum(high - low + 1 for low, high in runs) > MAX_SIZES:
        raise Invalid(f"more than {MAX_SIZES:,} sizes")
    return sorted({n for low, high in runs for n in range(low, high + 1)})


def _size_items(items: list[Any]) -> list[tuple[int, int]] | None:
    runs: list[tuple[int, int]] = []
    for item in items[:MAX_ITEMS + 1]:
        size = None if isinstance(item, str) else _whole(item)
        found = _size_text(item) if isinstance(item, str) else None if size is None else [(size, size)]
        if found is None:
            return None
        runs += found
    return runs


def _size_text(value: str) -> list[tuple[int, int]] | None:
    text = unicodedata.normalize("NFKC", value).strip()
    both = _MIN_MAX.fullmatch(text)
    if both:
        return [(int(both[1]), int(both[2]))]
    named = _NAMED.match(text)
    if named:
        text = text[named.end():]
    text = _RANGE_SEPARATOR.sub("‥", _unwrapped(text))
    runs = []
    for item in re.split(r"[\s,;]+", text):
        if not item:
            continue
        match = _SIZE_ITEM.fullmatch(item)
        if match is None:
            return None
        runs.append((int(match[1]), int(match[2] or match[1])))
    return runs


# ---------------------------------------------------------------- maps


def matrix(value: Any, key: Any = None) -> np.ndarray:
    """A map: nested lists, one per row (one list for a single row), cells as numbers or number texts;
    or text, one row per line or between ``;``, cells between spaces, tabs or commas (``[[1, 2], [3, 4]]``
    as text too). A cell with a decimal comma (``4,75``) needs spaces between the cells.

    >>> matrix("1 2\\n3 4").tolist(), matrix("[[1, 2], [3, 4]]").tolist(), matrix("0,5 1; 2 3").tolist()
    ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]], [[0.5, 1.0], [2.0, 3.0]])
    """
    if isinstance(value, str):
        value = _matrix_text(value)
    elif integral(value) is not None or isinstance(value, float):  # a 1 × 1 map as its one number
        value = [[value]]
    if not isinstance(value, list) or not value:
        raise Invalid(f"expected a matrix as nested lists, one per row, e.g. {example('matrix', key)}")
    rows = value if isinstance(value[0], list) else [value]
    width = len(rows[0])
    if not all(isinstance(r, list) and len(r) == width for r in rows):
        lengths = [len(r) if isinstance(r, list) else 1 for r in rows]
        odd = next(i for i, n in enumerate(lengths) if n != width or not isinstance(rows[i], list))
        raise Invalid(f"the rows of the matrix have different lengths (row 1: {width} numbers, row {odd + 1}: "
                      f"{lengths[odd]})")
    return np.array([[number(v) for v in row] for row in rows])


def _matrix_text(value: str) -> list[list[str]] | None:
    text = unicodedata.normalize("NFKC", value).strip()
    inner = text[1:-1].strip() if text.startswith("[") and text.endswith("]") else None
    if inner is not None and inner.startswith("[") and inner.endswith("]"):
        lines = re.split(r"\]\s*[,;]?\s*\[", inner[1:-1])
    elif inner is not None and "[" not in inner and "]" not in inner:
        lines = [inner]
    else:
        lines = re.split(r"\s*[;\n]\s*", text)
    lines = [_unwrapped(line.strip().rstrip(",").strip()) for line in lines if line.strip()]
    if not lines or len(lines) > MAX_ITEMS:
        return None
    rows = []
    for line in lines:
        if re.search(r"\s", line):  # cells between spaces: a comma inside a cell is a decimal comma
            cells = [cell.rstrip(",") for cell in line.split() if cell != ","]
        else:
            cells = line.split(",")
        if any(cell == "" for cell in cells):
            raise Invalid(f"an empty cell in the row {_short(line)}")
        rows.append(cells)
    return rows


# ---------------------------------------------------------------- expressions


# Before NFKC, which would make f² the name "f2"
_SUPERSCRIPTS = str.maketrans({"²": "**2", "³": "**3", "⁴": "**4"})
_OPERATORS = str.maketrans({"−": "-", "–": "-", "—": "-", "×": "*", "·": "*", "⋅": "*", "∙": "*", "÷": "/", "⁄": "/",
                            "⌊": "floor(", "⌋": ")", "⌈": "ceil(", "⌉": ")"})
_ASSIGNED = re.compile(r"\s*([A-Za-z_]\w*)\s*=(?!=)")


def expression_text(value: Any, key: str | None = None) -> str:
    """An expression answer as text the evaluator reads: Unicode operators (− × · ÷ ⌊ ⌋ ⌈ ⌉ ²) made
    ASCII, a leading ``p =`` dropped (when p is not a name of the key), and a product written without
    ``*`` made explicit (``2p``, ``2(f - 1)``, ``(a + 1)(a - 1)``).

    >>> expression_text("p = (f − 1)/2", "(f - 1)/2"), expression_text("n + 2p − f"), expression_text("f²")
    ('(f-1)/2', 'n+2*p-f', 'f**2')
    """
    from ..maths import expr

    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Invalid(f"expected an expression such as {example('expression', key)}")
    text = unicodedata.normalize("NFKC", str(value).translate(_SUPERSCRIPTS)).translate(_OPERATORS).strip()
    assigned = _ASSIGNED.match(text)
    if assigned and assigned[1] not in _names(key):
        text = text[assigned.end():]
    try:
        tokens = expr.tokenize(text)
    except CnnCalcError as error:
        raise Invalid(f"not a readable expression: {_clean_text(error.message, 120)}") from None
    out: list[str] = []
    previous: tuple[str, str] | None = None
    for kind, token in tokens:
        if previous is not None:
            left = previous[0] == "num" or (previous[0] == "name" and previous[1] not in expr.FUNCTIONS) \
                or previous[1] == ")"
            right = kind == "name" or token == "(" or (kind == "num" and previous[1] == ")")
            if left and right and not (previous[0] == "name" and kind == "name"):
                out.append("*")
            elif (previous[1][-1:].isalnum() or previous[1][-1:] in "._") and (token[:1].isalnum() or token[:1] in "._"):
                out.append(" ")  # two names or numbers side by side stay apart (and are refused as such)
        out.append(token)
        previous = (kind, token)
    return "".join(out)


# The solver writes a key as sympy prints it; these are its names of the evaluator's functions.
_SYMPY_NAMES = re.compile(r"\b(Max|Min|ceiling)(?=\()")
_SYMPY_TO_EXPR = {"Max": "max", "Min": "min", "ceiling": "ceil"}


@functools.lru_cache(maxsize=256)
def _key_tree(key: str) -> Any:
    """A key's expression as the evaluator reads it; Invalid (for this question only) if it cannot."""
    from ..maths import expr

    try:
        return expr.parse(_SYMPY_NAMES.sub(lambda m: _SYMPY_TO_EXPR[m.group(1)], key))
    except CnnCalcError as error:
        raise Invalid(f"the key {key} cannot be compared with answers ({_clean_text(error.message, 80)}); "
                      "the instructor grades this question") from None


@functools.lru_cache(maxsize=64)
def _names(key: str | None) -> frozenset[str]:
    from ..maths import expr

    if key is None:
        return frozenset()
    try:
        return frozenset(expr.names(_key_tree(key)))
    except Invalid:
        return frozenset()


def compare_expression(expected: str, got: Any) -> tuple[float, str, str]:
    """Equivalence by exact evaluation at fixed and pseudo-random positive integer points (sizes), after
    a bound on the answer's degree and number size: no symbolic algebra on student input, so no answer
    can make grading slow.

    The key stands for a size, so it only means something where it is a whole number: the points are
    those (``(f - 1)/2`` for 'same' padding is a padding for odd f only, where ``(f - 1)//2`` and
    ``f//2`` equal it). A key that is a whole number at too few points is compared everywhere."""
    from ..maths import expr

    text = expression_text(got, expected)
    try:
        tree_got = expr.parse(text)
    except CnnCalcError as error:
        raise Invalid(f"not a readable expression: {_clean_text(error.message, 120)}") from None
    check_complexity(tree_got)
    _key_tree(expected)  # a key the evaluator cannot read makes this question invalid, not the file
    points, elsewhere = _key_points(expected)
    extra = sorted(expr.names(tree_got) - _names(expected))
    shown = _clean_text(str(got), 200)
    for index, (point, want) in enumerate(points):
        if _value_at(tree_got, point, extra, expected, index) != want:
            return 0.0, "incorrect", f"expected {expected} (or an equivalent form), got {shown}"
    if all(_value_at(tree_got, point, extra, expected, len(points) + index) == want
           for index, (point, want) in enumerate(elsewhere)):
        return 1.0, "correct", "correct (equivalent to " + expected + ")"
    return 1.0, "correct", (f"correct (equal to {expected} wherever that is a whole number, as the size it "
                            "stands for is)")


def _value_at(tree: Any, point: tuple[tuple[str, int], ...], extra: list[str], expected: str, index: int) -> Any:
    from ..maths import expr

    values = {name: Fraction(v) for name, v in point}
    values.update((name, Fraction(_extra_values(expected, name)[index])) for name in extra)
    try:
        return expr.evaluate(tree, values)
    except CnnCalcError:
        return None  # undefined here (a division by zero) where the key is defined: not the same


@functools.lru_cache(maxsize=256)
def _extra_values(expected: str, name: str) -> tuple[int, ...]:
    """Values of a name the answer uses and the key does not (the same for every student)."""
    rng = random.Random(f"{expected}\0{name}")
    return tuple(rng.randint(1, 2**POINT_BITS) for _ in range(2 * EXPRESSION_POINTS))


Point = tuple[tuple[str, int], ...]


@functools.lru_cache(maxsize=256)
def _key_points(expected: str) -> tuple[tuple[tuple[Point, Any], ...], tuple[tuple[Point, Any], ...]]:
    """(the points an answer must agree with the key at, with the key's values there; points outside the
    key's whole-number domain, to tell "equivalent" from "equal where it matters"). Computed once per
    key, the same for every student and every run."""
    from ..maths import expr

    tree = _key_tree(expected)
    names = sorted(expr.names(tree))
    rng = random.Random(expected)
    candidates = [{name: k + i for i, name in enumerate(names)} for k in range(1, 5)]
    candidates += [{name: rng.randint(1, 2**POINT_BITS) for name in names} for _ in range(KEY_TRIES)]
    whole: list[tuple[Point, Any]] = []
    other: list[tuple[Point, Any]] = []
    for candidate in candidates:
        point = tuple(sorted(candidate.items()))
        try:
            want = expr.evaluate(tree, {name: Fraction(v) for name, v in point})
        except CnnCalcError:  # the key is undefined here (a division by zero): try another point
            continue
        (whole if Fraction(want).denominator == 1 else other).append((point, want))
        if len(whole) >= EXPRESSION_POINTS and (len(other) >= EXPRESSION_POINTS or len(whole) >= 4 * EXPRESSION_POINTS):
            break
    if len(whole) >= EXPRESSION_POINTS:
        return tuple(whole[:EXPRESSION_POINTS]), tuple(other[:EXPRESSION_POINTS])
    return tuple((whole + other)[:EXPRESSION_POINTS]), ()


def check_complexity(tree: Any) -> tuple[int, int]:
    """(degree, bits) bounds of an expression tree; refuses what would be slow to evaluate."""
    kind = tree[0]
    if kind == "num":
        size = (0, tree[1].numerator.bit_length() + tree[1].denominator.bit_length())
    elif kind == "name":
        size = (1, POINT_BITS)
    elif kind == "neg":
        size = check_complexity(tree[1])
    elif kind == "call":
        sizes = [check_complexity(arg) for arg in tree[2]]
        size = (max(d for d, _ in sizes), max(b for _, b in sizes))
    else:
        (dl, bl), (dr, br) = check_complexity(tree[1]), check_complexity(tree[2])
        if kind in ("+", "-"):
            size = (max(dl, dr), max(bl, br) + 1)
        elif kind == "**":
            exponent = _constant(tree[2])
            if exponent is None:
                raise Invalid("an exponent must be a whole number, such as f**2")
            size = (dl * abs(exponent), bl * abs(exponent))
        else:
            size = (dl + dr, bl + br)
    if size[0] > MAX_EXPRESSION_DEGREE or size[1] > MAX_EXPRESSION_BITS:
        raise Invalid(f"expression too complex (degree above {MAX_EXPRESSION_DEGREE} or numbers above "
                      f"{MAX_EXPRESSION_BITS} bits)")
    return size


def _constant(tree: Any) -> int | None:
    if tree[0] == "num" and tree[1].denominator == 1:
        return int(tree[1])
    if tree[0] == "neg":
        inner = _constant(tree[1])
        return None if inner is None else -inner
    return None
