"""Reading one student answer of each kind: what a value must be to be compared with the key, and the
expression equivalence test.

Untrusted input: every value is checked for type before it is read, and an expression is bounded in
degree and number size before it is evaluated. A value that cannot be read raises :class:`Invalid`
with a one-line reason for the student.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import CnnCalcError

MAX_EXPRESSION_DEGREE = 16
MAX_EXPRESSION_BITS = 256  # as the expression evaluator allows (maths.expr.MAX_BITS)
POINT_BITS = 12  # evaluation points are at most 2**12: degree 16 stays within the bits
EXPRESSION_POINTS = 12


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


def number(value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip().replace("−", "-"))
        except ValueError:
            raise Invalid(f"expected a number, got {_short(value)}") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"expected a number, got {_kind_of(value)} {_short(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise Invalid("number too large (more than about 1e308)") from None
    if not math.isfinite(number):
        raise Invalid(f"expected a finite number, got {_short(value)}")
    return number


def matrix(value: Any) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise Invalid("expected a matrix as nested lists, e.g. [[1, 2], [3, 4]]")
    rows = value if isinstance(value[0], list) else [value]
    width = len(rows[0])
    if not all(isinstance(r, list) and len(r) == width for r in rows):
        raise Invalid("the rows of the matrix have different lengths")
    return np.array([[number(v) for v in row] for row in rows])


def integral(value: Any) -> int | None:
    """An int, or a float with an integral value (4.0), as an int; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def compare_expression(expected: str, got: Any) -> tuple[float, str, str]:
    """Equivalence by exact evaluation at fixed and pseudo-random positive integer points (sizes), after
    a bound on the answer's degree and number size: no symbolic algebra on student input, so no answer
    can make grading slow."""
    from ..maths import expr

    if isinstance(got, bool) or not isinstance(got, (str, int, float)):
        raise Invalid("expected an expression such as (f - 1)/2")
    text = str(got).replace("−", "-").replace("·", "*")
    try:
        tree_got = expr.parse(text)
    except CnnCalcError as error:
        raise Invalid(f"not a readable expression: {_clean_text(error.message, 120)}") from None
    check_complexity(tree_got)
    tree_want = expr.parse(expected)
    names = sorted(expr.names(tree_got) | expr.names(tree_want))
    rng = random.Random(expected)  # the same points for every student and every run
    points = [{name: k + i for i, name in enumerate(names)} for k in range(1, 5)]
    points += [{name: rng.randint(1, 2**POINT_BITS) for name in names} for _ in range(4 * EXPRESSION_POINTS)]
    agreed = 0
    for point in points:
        values = {name: Fraction(v) for name, v in point.items()}
        try:
            want = expr.evaluate(tree_want, values)
        except CnnCalcError:  # the key is undefined here (a division by zero): try another point
            continue
        try:
            value = expr.evaluate(tree_got, values)
        except CnnCalcError:
            value = None
        if value != want:
            return 0.0, "incorrect", f"expected {expected} (or an equivalent form), got {_clean_text(text, 200)}"
        agreed += 1
        if agreed == EXPRESSION_POINTS:
            break
    return 1.0, "correct", "correct (equivalent to " + expected + ")"


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
