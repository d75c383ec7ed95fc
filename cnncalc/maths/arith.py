"""The size formulas, written once for plain ints and for sympy expressions.

A dimension is an ``int`` or (for symbolic input sizes) a sympy expression; sympy is only
imported when a symbolic value actually appears.

>>> conv_output(32, 5, 1, 0, 0)
28
>>> same_padding(224, 3, 2)
(112, 0, 1)
"""

from __future__ import annotations

from typing import Any

Dim = Any  # int, or a sympy expression


def is_int(value: Any) -> bool:
    return type(value) is int  # bool excluded on purpose


def _sympy():
    import sympy

    return sympy


def floor_div(a: Dim, b: Dim) -> Dim:
    if is_int(a) and is_int(b):
        return a // b
    sp = _sympy()
    # ⌊(⌊y⌋ + r)/b⌋ = ⌊(y + r)/b⌋ for integer r and b > 0: keeps chains of pools readable
    # (⌊n/4⌋ − 2 rather than ⌊⌊n/2⌋/2⌋ − 2)
    if is_int(b) and b > 0:
        terms = sp.Add.make_args(sp.expand(a))
        floors = [t for t in terms if isinstance(t, sp.floor)]
        rest = sp.Add(*(t for t in terms if not isinstance(t, sp.floor)))
        if len(floors) == 1 and rest.is_integer:
            return sp.floor((floors[0].args[0] + rest) / b)
    return sp.floor(sp.Rational(1, 1) * a / b)


def ceil_div(a: Dim, b: Dim) -> Dim:
    if is_int(a) and is_int(b):
        return -((-a) // b)
    sp = _sympy()
    return sp.ceiling(sp.Rational(1, 1) * a / b)


def maximum(a: Dim, b: Dim) -> Dim:
    if is_int(a) and is_int(b):
        return max(a, b)
    return _sympy().Max(a, b)


def effective_kernel(k: int, d: int) -> int:
    """Span of a dilated kernel: ``d·(k−1) + 1``."""
    return d * (k - 1) + 1


def conv_output(n: Dim, k: int, s: int, p_before: Dim, p_after: Dim, d: int = 1) -> Dim:
    """``⌊(n + p_before + p_after − d·(k−1) − 1)/s⌋ + 1``."""
    return floor_div(n + p_before + p_after - d * (k - 1) - 1, s) + 1


def same_padding(n: Dim, k: int, s: int, d: int = 1) -> tuple[Dim, Dim, Dim]:
    """TensorFlow 'same': ``out = ⌈n/s⌉``; total pad ``max((out−1)·s + d·(k−1) + 1 − n, 0)``.

    Returns (out, pad_before, pad_after); the odd pixel goes after (bottom/right).
    """
    out = ceil_div(n, s)
    if s == 1:  # total is exactly d·(k−1): keeps symbolic results free of Max()
        total: Dim = d * (k - 1)
    else:
        total = maximum((out - 1) * s + d * (k - 1) + 1 - n, 0)
    before = floor_div(total, 2)
    return out, before, total - before


def pool_output_ceil(n: Dim, k: int, s: int, p_before: Dim, p_after: Dim, d: int = 1) -> Dim:
    """PyTorch ``ceil_mode``: ceil, then drop a last window that would start in the right padding."""
    out = ceil_div(n + p_before + p_after - d * (k - 1) - 1, s) + 1
    if is_int(out) and is_int(n) and is_int(p_before):
        if (out - 1) * s >= n + p_before:
            out -= 1
        return out
    sp = _sympy()
    return sp.Piecewise((out - 1, (out - 1) * s >= n + p_before), (out, True))


def transpose_output(n: Dim, k: int, s: int, p_before: Dim, p_after: Dim, output_padding: int, d: int = 1) -> Dim:
    """``(n−1)·s − p_before − p_after + d·(k−1) + output_padding + 1``."""
    return (n - 1) * s - p_before - p_after + d * (k - 1) + output_padding + 1


def product(values: Any) -> Dim:
    result: Dim = 1
    for value in values:
        result = result * value
    return result


def simplify(value: Dim) -> Dim:
    if is_int(value):
        return value
    sp = _sympy()
    if getattr(value, "is_Integer", False):
        return int(value)
    return sp.simplify(value)


def known_positive(value: Dim) -> bool | None:
    """True/False for ints; for expressions, what sympy can decide (None if it cannot)."""
    if is_int(value):
        return value > 0
    return getattr(value, "is_positive", None)


def show(value: Dim) -> str:
    return str(value)


def factor_text(value: Dim) -> str:
    """A value as a factor in a written product: compound expressions get parentheses."""
    if is_int(value) or getattr(value, "is_Atom", False) or getattr(value, "func", None).__name__ in ("floor", "ceiling"):
        return str(value)
    return f"({value})"
