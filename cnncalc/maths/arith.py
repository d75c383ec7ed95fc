"""The size formulas, written once for plain ints and for sympy expressions.

A dimension is an ``int`` or (for symbolic input sizes) a sympy expression; sympy is only
imported when a symbolic value actually appears.

Symbolic floors are kept in one canonical form, ``⌊(Σ cᵢ·tᵢ + r)/q⌋ + k`` with integer coefficients,
``0 ≤ r < q`` and integer-valued terms ``tᵢ``, built here and never handed to sympy's own ``floor``
evaluation or ``simplify`` (which evaluate numerically and, on chains of floors, take minutes or end in
``PrecisionExhausted``). Three identities keep chains of any length in that form:

- ``⌊(⌊y⌋ + m)/b⌋ = ⌊(y + m)/b⌋`` for real y, integer m and integer b > 0, so a pool after a conv after
  a pool is one floor: ``⌊(⌊(n − 1)/2⌋ − 2)/2⌋ = ⌊(n − 5)/4⌋``;
- ``−⌊P/q⌋ = ⌊(−P + q − 1)/q⌋`` and ``⌈P/q⌉ = ⌊(P + q − 1)/q⌋`` for integer-valued P, so ceilings and
  negated floors (the 'same' padding total) take the same road;
- ``⌊y⌋ = y − θ`` with ``0 ≤ θ ≤ 1 − 1/q``: a difference of two such floors whose symbols cancel lies in a
  known integer interval, which decides ``max``/``min`` (the 'same' padding total, PyTorch's ceil_mode
  rule) without a ``Max``/``Piecewise`` in the result.

>>> conv_output(32, 5, 1, 0, 0)
28
>>> same_padding(224, 3, 2)
(112, 0, 1)
"""

from __future__ import annotations

import math
import sys

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from fractions import Fraction
    from typing import Any, TypeAlias, TypeGuard

Dim: TypeAlias = "Any"  # int, or a sympy expression


def is_int(value: Any) -> TypeGuard[int]:
    return type(value) is int  # bool excluded on purpose


def is_fraction(value: Any) -> TypeGuard[Fraction]:
    """``isinstance(value, Fraction)`` without importing fractions (with re, decimal and enum, a fifth of
    `cnncalc summary`'s start-up): a Fraction exists only once its module is loaded; numeric work on ints
    and floats never loads it."""
    fractions = sys.modules.get("fractions")
    return fractions is not None and isinstance(value, fractions.Fraction)


def _sympy() -> Any:  # the sympy module (untyped)
    import sympy

    return sympy


# ---------------------------------------------------------------- canonical floors


def _affine(expr: Any) -> tuple[dict[Any, Fraction], Fraction] | None:
    """``expr`` as ``Σ cᵢ·tᵢ + c₀`` with rational cᵢ and integer-valued terms tᵢ, or None."""
    from fractions import Fraction  # (symbolic work only: see is_fraction)

    coefficients: dict[Any, Fraction] = {}
    constant = Fraction(0)
    stack: list[tuple[Any, Fraction]] = [(expr, Fraction(1))]
    while stack:
        item, factor = stack.pop()
        if is_int(item):
            constant += factor * item
            continue
        if item.is_Add:
            stack.extend((term, factor) for term in item.args)
            continue
        coefficient, rest = item.as_coeff_Mul()
        if not coefficient.is_Rational:
            return None
        factor = factor * Fraction(int(coefficient.p), int(coefficient.q))
        if rest.is_Number:  # as_coeff_Mul leaves S.One for a plain number
            if not rest.is_Rational:
                return None
            constant += factor * Fraction(int(rest.p), int(rest.q))
            continue
        if rest.is_Add:
            stack.append((rest, factor))
            continue
        if rest.is_integer is not True:
            return None
        coefficients[rest] = coefficients.get(rest, Fraction(0)) + factor
    return {term: c for term, c in coefficients.items() if c}, constant


def _integral(coefficients: dict[Any, Fraction], constant: Fraction) -> tuple[dict[Any, int], int, int]:
    """Scale to integers: ``Σ cᵢ·tᵢ + c₀ = (Σ Cᵢ·tᵢ + C₀)/D``; returns (Cᵢ, C₀, D)."""
    scale = math.lcm(constant.denominator, *(c.denominator for c in coefficients.values()))
    return ({term: int(c * scale) for term, c in coefficients.items()}, int(constant * scale), scale)


def _build(terms: dict[Any, int], constant: int = 0) -> Dim:
    sp = _sympy()
    result = sp.Add(*(c * term for term, c in terms.items()), constant)
    return int(result) if result.is_Integer else result


_FLOOR_CLASS: list[Any] = []


def _floor_class() -> Any:
    """sympy's floor, printed as ``floor((n + 3)/4)`` (one fraction, as the course writes it) and from a
    cache: summaries print each shape several times and sympy's printer costs about a millisecond per floor.
    Its argument is plain sympy (``n/4 + 3/4``), so copies and pickles rebuild it unchanged."""
    if not _FLOOR_CLASS:
        import sympy

        class Floor(sympy.floor):  # type: ignore[misc]  # sympy is untyped: a subclass of Any
            def _sympystr(self, printer: Any) -> str:
                text = self.__dict__.get("_text")
                if text is None:
                    text = self.__dict__["_text"] = _floor_text(self, printer)
                return text

        Floor.__name__ = "floor"  # printers and factor_text look the class up by this name
        Floor.__qualname__ = "CanonicalFloor"  # pickle finds it through the module __getattr__ below
        Floor.__module__ = __name__
        _FLOOR_CLASS.append(Floor)
    return _FLOOR_CLASS[0]


def __getattr__(name: str) -> Any:
    if name == "CanonicalFloor":
        return _floor_class()
    raise AttributeError(name)


def _floor_text(atom: Any, printer: Any) -> str:
    affine = _affine(atom.args[0])
    if affine is None:
        return f"floor({printer._print(atom.args[0])})"
    terms, constant, divisor = _integral(*affine)
    numerator = _sympy().Add(*(c * term for term, c in terms.items()), constant)
    text = printer._print(numerator)
    return f"floor(({text})/{divisor})" if numerator.is_Add else f"floor({text}/{divisor})"


def _floor_atom(terms: dict[Any, int], remainder: int, divisor: int) -> Any:
    """``⌊(Σ cᵢ·tᵢ + r)/q⌋`` left unevaluated: sympy's floor would try to evaluate it numerically."""
    sp = _sympy()
    argument = sp.Add(*(sp.Rational(c, divisor) * term for term, c in terms.items()), sp.Rational(remainder, divisor))
    return _floor_class()(argument, evaluate=False)


def _floor_integral(terms: dict[Any, int], constant: int, divisor: int, depth: int = 0) -> Dim:
    """``⌊(Σ Cᵢ·tᵢ + C₀)/q⌋`` for integer-valued tᵢ and integers Cᵢ, C₀, q > 0, in canonical form."""
    sp = _sympy()
    whole = {t: c // divisor for t, c in terms.items() if c % divisor == 0}
    rest = {t: c for t, c in terms.items() if c % divisor}
    common = math.gcd(divisor, *rest.values())
    if common > 1:  # ⌊(g·A + K)/(g·q)⌋ = ⌊(A + ⌊K/g⌋)/q⌋ for integer-valued A
        rest = {t: c // common for t, c in rest.items()}
        constant, divisor = constant // common, divisor // common
    if divisor == 1:
        return _build({**whole, **rest}, constant)
    if not rest:
        return _add(_build(whole), constant // divisor)
    floors = [t for t in rest if isinstance(t, sp.floor) and rest[t] in (1, -1)]
    if len(floors) == 1 and depth < 64:
        inner = _floor_argument(floors[0], negate=rest[floors[0]] == -1)
        if inner is not None:
            # ⌊(⌊y⌋ + m)/q⌋ = ⌊(y + m)/q⌋: fold the inner floor into this one
            inner_terms, inner_constant, inner_divisor = inner
            merged = {t: c * inner_divisor for t, c in rest.items() if t is not floors[0]}
            for t, c in inner_terms.items():
                merged[t] = merged.get(t, 0) + c
            merged = {t: c for t, c in merged.items() if c}
            return _add(_build(whole), _floor_integral(merged, constant * inner_divisor + inner_constant,
                                                       divisor * inner_divisor, depth + 1))
    for term in rest:
        if isinstance(term, (sp.Max, sp.Min)) and rest[term] == 1 and depth < 64:
            # ⌊(max(A, B) + m)/q⌋ = max(⌊(A + m)/q⌋, ⌊(B + m)/q⌋): the floor is monotone
            others = _build({t: c for t, c in rest.items() if t is not term}, constant)
            parts = [floor_div(_add(arg, others), divisor) for arg in term.args]
            pick = maximum if isinstance(term, sp.Max) else minimum
            result = parts[0]
            for part in parts[1:]:
                result = pick(result, part)
            return _add(_build(whole), result)
    quotient, remainder = divmod(constant, divisor)
    return _add(_build(whole), _add(_floor_atom(rest, remainder, divisor), quotient))


def _floor_argument(atom: Any, negate: bool) -> tuple[dict[Any, int], int, int] | None:
    """⌊P/q⌋ → (P's terms, P's constant, q); with ``negate``, the same for −⌊P/q⌋ = ⌊(−P + q − 1)/q⌋."""
    affine = _affine(atom.args[0])
    if affine is None:
        return None
    terms, constant, divisor = _integral(*affine)
    if negate:
        return {t: -c for t, c in terms.items()}, -constant + divisor - 1, divisor
    return terms, constant, divisor


def _add(a: Dim, b: Dim) -> Dim:
    result = a + b
    return int(result) if getattr(result, "is_Integer", False) else result


def _floor_symbolic(a: Dim, b: int) -> Dim | None:
    affine = _affine(a)
    if affine is None:
        return None
    terms, constant, scale = _integral(*affine)
    return _floor_integral(terms, constant, b * scale)


def _relax(expr: Any, depth: int = 0) -> tuple[dict[Any, Fraction], Fraction, Fraction] | None:
    """``expr = Σ cᵢ·tᵢ + v`` with v in [low, high], every floor replaced by its argument minus θ in
    [0, 1 − 1/q]; returns ({tᵢ: cᵢ}, low, high) or None."""
    from fractions import Fraction

    sp = _sympy()
    affine = _affine(expr)
    if affine is None or depth > 64:
        return None
    coefficients, constant = affine
    result: dict[Any, Fraction] = {}
    low = high = constant
    for term, c in coefficients.items():
        if not isinstance(term, sp.floor):
            result[term] = result.get(term, Fraction(0)) + c
            continue
        inner = _relax(term.args[0], depth + 1)
        argument = _affine(term.args[0])
        if inner is None or argument is None:
            result[term] = result.get(term, Fraction(0)) + c
            continue
        theta = 1 - Fraction(1, _integral(*argument)[2])
        for t, ci in inner[0].items():
            result[t] = result.get(t, Fraction(0)) + c * ci
        if c > 0:
            low, high = low + c * inner[1] - c * theta, high + c * inner[2]
        else:
            low, high = low + c * inner[2], high + c * inner[1] - c * theta
    return {t: c for t, c in result.items() if c}, low, high


def difference_range(a: Dim, b: Dim) -> tuple[Any, Any] | None:
    """Bounds on ``a − b`` when the symbols cancel (else None): integers when the difference is
    integer-valued (integer coefficients on integer-valued terms), else exact fractions.

    >>> import sympy
    >>> n = sympy.Symbol("n", integer=True, positive=True)
    >>> difference_range(ceil_div(n, 2), floor_div(n, 2))
    (0, 1)
    """
    difference = a - b
    if is_int(difference) or getattr(difference, "is_Integer", False):
        return int(difference), int(difference)
    relaxed = _relax(difference)
    if relaxed is None or relaxed[0]:
        return None
    affine = _affine(difference)
    integral = affine is not None and affine[1].denominator == 1 and all(
        c.denominator == 1 for c in affine[0].values())
    if integral:
        return math.ceil(relaxed[1]), math.floor(relaxed[2])
    return relaxed[1], relaxed[2]


# ---------------------------------------------------------------- the size formulas


def floor_div(a: Dim, b: Dim) -> Dim:
    if is_int(a) and is_int(b):
        return a // b
    if is_int(b) and b > 0:
        if is_int(a):
            return a // b
        result = _floor_symbolic(a, b)
        if result is not None:
            return result
    sp = _sympy()
    return sp.floor(sp.Rational(1, 1) * a / b)


def ceil_div(a: Dim, b: Dim) -> Dim:
    if is_int(a) and is_int(b):
        return -((-a) // b)
    if is_int(b) and b > 0:
        affine = _affine(a)
        if affine is not None:
            terms, constant, scale = _integral(*affine)
            # ⌈P/q⌉ = ⌊(P + q − 1)/q⌋ for integer-valued P
            return _floor_integral(terms, constant + b * scale - 1, b * scale)
    sp = _sympy()
    return sp.ceiling(sp.Rational(1, 1) * a / b)


def maximum(a: Dim, b: Dim) -> Dim:
    if is_int(a) and is_int(b):
        return max(a, b)
    bounds = difference_range(a, b)
    if bounds is not None and bounds[0] >= 0:
        return a
    if bounds is not None and bounds[1] <= 0:
        return b
    return _sympy().Max(a, b, evaluate=False)


def minimum(a: Dim, b: Dim) -> Dim:
    if is_int(a) and is_int(b):
        return min(a, b)
    bounds = difference_range(a, b)
    if bounds is not None and bounds[0] >= 0:
        return b
    if bounds is not None and bounds[1] <= 0:
        return a
    return _sympy().Min(a, b, evaluate=False)


def effective_kernel(k: int, d: int) -> int:
    """Span of a dilated kernel: ``d·(k−1) + 1``."""
    return d * (k - 1) + 1


def conv_output(n: Dim, k: int, s: int, p_before: Dim, p_after: Dim, d: int = 1) -> Dim:
    """``⌊(n + p_before + p_after − d·(k−1) − 1)/s⌋ + 1``."""
    return _add(floor_div(n + p_before + p_after - d * (k - 1) - 1, s), 1)


def same_padding(n: Dim, k: int, s: int, d: int = 1) -> tuple[Dim, Dim, Dim]:
    """TensorFlow 'same': ``out = ⌈n/s⌉``; total pad ``max((out−1)·s + d·(k−1) + 1 − n, 0)``.

    Returns (out, pad_before, pad_after); the odd pixel goes after (bottom/right).
    """
    out = ceil_div(n, s)
    if s == 1:  # total is exactly d·(k−1): keeps symbolic results free of Max()
        total: Dim = d * (k - 1)
    else:
        total = maximum(_add((out - 1) * s + d * (k - 1) + 1, -n), 0)
    before = floor_div(total, 2)
    return out, before, _add(total, -before)


def pool_output_ceil(n: Dim, k: int, s: int, p_before: Dim, p_after: Dim, d: int = 1) -> Dim:
    """PyTorch ``ceil_mode``: ceil, then drop a last window that would start in the right padding."""
    out = _add(ceil_div(n + p_before + p_after - d * (k - 1) - 1, s), 1)
    if is_int(out) and is_int(n) and is_int(p_before):
        if (out - 1) * s >= n + p_before:
            out -= 1
        return out
    # with t = out − 1 and F = ⌊(n + p_before − 1)/s⌋ (the last start inside the input):
    # PyTorch's out − [t > F] is min(t + 1, max(t, F + 1)), which the floor rules decide without a Piecewise
    last_start = _add(floor_div(n + p_before - 1, s), 1)
    return minimum(out, maximum(_add(out, -1), last_start))


def transpose_output(n: Dim, k: int, s: int, p_before: Dim, p_after: Dim, output_padding: int, d: int = 1) -> Dim:
    """``(n−1)·s − p_before − p_after + d·(k−1) + output_padding + 1``."""
    return (n - 1) * s - p_before - p_after + d * (k - 1) + output_padding + 1


def product(values: Any) -> Dim:
    result: Dim = 1
    for value in values:
        result = result * value
    return result


def simplify(value: Dim) -> Dim:
    """Ints stay ints; a sympy integer becomes an int; an expression whose symbols cancel becomes its
    value. No ``sympy.simplify``: it is slow on floors and would undo their canonical form."""
    if is_int(value):
        return value
    if getattr(value, "is_Integer", False):
        return int(value)
    if getattr(value, "is_Add", False):  # only a sum can collapse (a product of dims cannot)
        bounds = difference_range(value, 0)
        if bounds is not None and bounds[0] == bounds[1] and is_int(bounds[0]):
            return bounds[0]
    return value


def known_positive(value: Dim) -> bool | None:
    """True/False for ints; for expressions, what sympy can decide (None if it cannot)."""
    if is_int(value):
        return value > 0
    return getattr(value, "is_positive", None)


def show(value: Dim) -> str:
    return str(value)


def factor_text(value: Dim) -> str:
    """A value as a factor in a written product: compound expressions get parentheses."""
    func: Any = getattr(value, "func", None)  # a sympy expression's class
    if is_int(value) or getattr(value, "is_Atom", False) or func.__name__ in ("floor", "ceiling"):
        return str(value)
    return f"({value})"
