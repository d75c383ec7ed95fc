"""A small, safe arithmetic language for block arguments, `solve` values and expression answers.

Whitelisted tokens only (numbers, names, + - * / // % ^ **, parentheses, commas and the functions
floor, ceil, max, min); parsed by recursive descent into a tuple tree, then evaluated with plain ints
or with sympy. Nothing reaches Python's ``eval`` or sympy's ``sympify``/``parse_expr``.

Every input is untrusted, so everything is bounded *before* the work it would cost: the text (length,
tokens, nesting, digits of a number), every numeric value (bit length, estimated before a power is
computed: Python's big-int arithmetic runs in C and cannot be interrupted) and, for symbolic work, the
size of the polynomial sympy would be handed (degree, number of expanded terms, coefficient size),
estimated from the tree alone. What passes is small enough for sympy to finish quickly; the time
budget of :mod:`cnncalc.maths.budget` is the net behind these caps.

>>> evaluate(parse("4 * filters"), {"filters": 64})
256
>>> evaluate(parse("(n + 2*p - f) // s + 1"), {"n": 5, "p": 0, "f": 3, "s": 2})
2
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction

from ..errors import CnnCalcError

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any

MAX_LENGTH = 200  # characters of one expression
MAX_TOKENS = 100  # numbers, names and operators of one expression
MAX_DEPTH = 20  # nested parentheses, calls, signs and exponents
MAX_DIGITS = 30  # digits of one number literal (sizes are small)
MAX_BITS = 256  # bit length of any value met while evaluating (numerator and denominator), about 77 digits
MAX_EXPONENT = 64  # |k| in x**k
MAX_DEGREE = 16  # symbolic: total degree of the polynomial an expression can expand to
MAX_TERMS = 64  # symbolic: number of monomials it can expand to (sympy's simplify grows fast beyond)
FUNCTIONS = ("floor", "ceil", "max", "min")
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\*\*|//|[-+*/%^(),]))")


class ExpressionError(CnnCalcError):
    pass


def _too_complex(what: str) -> ExpressionError:
    return ExpressionError(f"expression too complex: {what}")


def tokenize(text: str) -> list[tuple[str, str]]:
    if not isinstance(text, str):
        raise ExpressionError("an expression must be text", got=text, expected="e.g. 4 * filters")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression too long ({len(text)} characters, at most {MAX_LENGTH})")
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise ExpressionError(f"unexpected character {text[position]!r} at position {position + 1} in {text!r}",
                                  expected="numbers, names, + - * / // % ^ ( ) and floor/ceil/max/min")
        number, name, op = match.groups()
        if number and len(number.replace(".", "")) > MAX_DIGITS:
            raise ExpressionError(f"number too long in {text!r}", expected=f"at most {MAX_DIGITS} digits")
        tokens.append(("num", number) if number else ("name", name) if name else ("op", op))
        if len(tokens) > MAX_TOKENS:
            raise _too_complex(f"more than {MAX_TOKENS} tokens (numbers, names, operators)")
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def peek_text(self) -> str | None:
        token = self.peek()
        return None if token is None else token[1]

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            found = "the end" if token is None else repr(token[1])
            raise ExpressionError(f"in {self.text!r}: expected {value or 'a value'!r}, found {found}")
        self.i += 1
        return token

    def nested(self, parse: Any) -> Any:
        """One level deeper (parentheses, a call, a sign, an exponent): bounded, so that no input can
        exhaust the recursion of this parser or of the evaluation after it."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _too_complex(f"nested more than {MAX_DEPTH} levels deep")
        try:
            return parse()
        finally:
            self.depth -= 1

    def parse(self) -> Any:
        if not self.tokens:
            raise ExpressionError("empty expression")
        tree = self.sum()
        if self.peek() is not None:
            raise ExpressionError(f"in {self.text!r}: unexpected {self.peek_text()!r}")
        return tree

    def sum(self) -> Any:
        tree = self.product()
        while self.peek_text() in ("+", "-"):
            op = self.take()[1]
            tree = (op, tree, self.product())
        return tree

    def product(self) -> Any:
        tree = self.unary()
        while self.peek_text() in ("*", "/", "//", "%"):
            op = self.take()[1]
            tree = (op, tree, self.unary())
        return tree

    def unary(self) -> Any:
        if self.peek_text() in ("-", "+"):
            op = self.take()[1]
            operand = self.nested(self.unary)
            return ("neg", operand) if op == "-" else operand
        return self.power()

    def power(self) -> Any:
        base = self.atom()
        if self.peek_text() in ("**", "^"):
            self.take()
            return ("**", base, self.nested(self.unary))
        return base

    def atom(self) -> Any:
        kind, value = self.take()
        if kind == "num":
            return ("num", Fraction(value))
        if kind == "name":
            if value in FUNCTIONS and self.peek() == ("op", "("):
                self.take("(")
                args = [self.nested(self.sum)]
                while self.peek() == ("op", ","):
                    self.take(",")
                    args.append(self.nested(self.sum))
                self.take(")")
                if value in ("floor", "ceil") and len(args) != 1:
                    raise ExpressionError(f"{value}() takes one argument")
                return ("call", value, args)
            return ("name", value)
        if value == "(":
            tree = self.nested(self.sum)
            self.take(")")
            return tree
        raise ExpressionError(f"in {self.text!r}: unexpected {value!r}")


def parse(text: str) -> Any:
    return _Parser(text).parse()


def names(tree: Any) -> set[str]:
    if tree[0] == "name":
        return {tree[1]}
    if tree[0] == "num":
        return set()
    if tree[0] == "call":
        return set().union(*(names(arg) for arg in tree[2]))
    return set().union(*(names(part) for part in tree[1:]))


# ---------------------------------------------------------------- size estimates


def _bits(value: Any) -> int:
    """Bit length of an exact number (the larger of numerator and denominator); 0 for anything else."""
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return value.bit_length()
    if isinstance(value, Fraction):
        return max(value.numerator.bit_length(), value.denominator.bit_length())
    if getattr(value, "is_Rational", False):
        return max(int(value.p).bit_length(), int(value.q).bit_length())
    return 0


def _check_value(value: Any) -> Any:
    if _bits(value) > MAX_BITS:
        raise _too_complex(f"a value larger than 2^{MAX_BITS} (about {int(MAX_BITS * 0.30103)} digits)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("the value is not a finite number", got=str(value))
    return value


def _exponent(tree: Any, values: Mapping[str, Any]) -> int:
    """The exponent of a power, which must be a constant integer in [−MAX_EXPONENT, MAX_EXPONENT]."""
    value: Any = evaluate(tree, values) if not (names(tree) - set(values)) else None
    integral = isinstance(value, int) and not isinstance(value, bool)
    if not integral and getattr(value, "is_Integer", False):
        value, integral = int(value), True
    if not integral or abs(value) > MAX_EXPONENT:
        raise ExpressionError(f"the exponent must be an integer from -{MAX_EXPONENT} to {MAX_EXPONENT}",
                              got=str(value) if value is not None else "a symbol")
    return int(value)  # already an int: says so to the type checker


def _power_bits(base: Any, exponent: int) -> None:
    """Refuse base**exponent before computing it when its bit length would pass MAX_BITS."""
    bits = _bits(base)
    if bits > 1 and (bits - 1) * abs(exponent) >= MAX_BITS:  # |base| ≥ 2^(bits−1)
        raise _too_complex(f"a power larger than 2^{MAX_BITS} (about {int(MAX_BITS * 0.30103)} digits)")


def complexity(tree: Any) -> tuple[int, int, int]:
    """Upper bounds on (degree, monomials, coefficient bits) of the polynomial a tree expands to, with
    every name a symbol; a quotient counts as the product of its parts (what bringing it to a common
    denominator can cost). Computed from the tree alone, before sympy sees anything.

    >>> complexity(parse("(a + b)**2"))
    (2, 3, 4)
    """
    kind = tree[0]
    if not names(tree):  # a constant: its exact size, computed under the numeric caps
        return 0, 1, max(_bits(evaluate(tree, {})), 1)
    if kind == "name":
        return 1, 1, 1
    if kind == "neg":
        return complexity(tree[1])
    if kind == "call":
        parts = [complexity(arg) for arg in tree[2]]
        return max(p[0] for p in parts), _cap(sum(p[1] for p in parts)), max(p[2] for p in parts) + len(parts)
    if kind == "**":
        degree, terms, bits = complexity(tree[1])
        if names(tree[2]):
            return degree * MAX_EXPONENT + 1, _cap(terms ** 2 + 1), MAX_BITS + 1  # refused by the caps
        k = abs(_exponent(tree[2], {}))
        monomials = 1 if terms == 1 else _cap(math.comb(terms + k - 1, k))
        return degree * k, monomials, bits * max(k, 1)
    (d1, t1, b1), (d2, t2, b2) = complexity(tree[1]), complexity(tree[2])
    if kind in ("+", "-"):
        return max(d1, d2), _cap(t1 + t2), max(b1, b2) + 1
    return d1 + d2, _cap(t1 * t2), b1 + b2  # * / // %


def _cap(count: int) -> int:
    return min(count, 10 * MAX_TERMS)  # keeps the estimate itself cheap


def check_symbolic(tree: Any) -> None:
    """Refuse a tree whose expansion would be too large for sympy (degree, monomials, coefficients)."""
    degree, terms, bits = complexity(tree)
    if degree > MAX_DEGREE:
        raise _too_complex(f"degree {degree} in its symbols (at most {MAX_DEGREE})")
    if terms > MAX_TERMS:
        raise _too_complex(f"it expands to {terms if terms < 10 * MAX_TERMS else 'over ' + str(terms)} terms "
                           f"(at most {MAX_TERMS})")
    if bits > MAX_BITS:
        raise _too_complex(f"its coefficients can reach 2^{bits} (at most 2^{MAX_BITS})")


# ---------------------------------------------------------------- evaluation


def evaluate(tree: Any, values: Mapping[str, Any], symbolic: bool = False) -> Any:
    """Evaluate with ints/Fractions (exact), or with sympy objects when ``symbolic``."""
    if symbolic:
        check_symbolic(tree)
    try:
        return _evaluate(tree, values, symbolic)
    except (OverflowError, MemoryError, RecursionError):
        raise _too_complex("a value too large to compute") from None


def _evaluate(tree: Any, values: Mapping[str, Any], symbolic: bool) -> Any:
    kind = tree[0]
    if kind == "num":
        number = tree[1]
        if symbolic:
            import sympy

            return sympy.Rational(number.numerator, number.denominator)
        return int(number) if number.denominator == 1 else number
    if kind == "name":
        if tree[1] not in values:
            raise ExpressionError(f"unknown name '{tree[1]}'", got=tree[1],
                                  expected="one of " + (", ".join(sorted(values)) or "no names here"))
        value = values[tree[1]]
        if isinstance(value, bool) or not (isinstance(value, (int, float, Fraction)) or hasattr(value, "free_symbols")):
            raise ExpressionError(f"'{tree[1]}' is not a number", got=value, expected="a number")
        return _check_value(value)
    if kind == "neg":
        return -_evaluate(tree[1], values, symbolic)
    if kind == "call":
        args = [_evaluate(arg, values, symbolic) for arg in tree[2]]
        return _check_value(_call(tree[1], args, symbolic))
    if kind == "**":
        left = _evaluate(tree[1], values, symbolic)
        exponent = _exponent(tree[2], values)
        _power_bits(left, exponent)
        if exponent < 0 and _is_zero(left):
            raise ExpressionError("division by zero")
        if isinstance(left, Fraction) or (isinstance(left, int) and exponent < 0):
            return _check_value(Fraction(left) ** exponent)
        return _check_value(left ** exponent)
    left, right = _evaluate(tree[1], values, symbolic), _evaluate(tree[2], values, symbolic)
    if kind == "+":
        return _check_value(left + right)
    if kind == "-":
        return _check_value(left - right)
    if kind == "*":
        return _check_value(left * right)
    if _is_zero(right):
        raise ExpressionError("division by zero")
    if kind == "/":
        if symbolic:
            return _check_value(left / right)
        result = Fraction(left) / Fraction(right)  # exact, floats included (callers test the denominator)
        return _check_value(int(result) if result.denominator == 1 else result)
    if kind == "//":
        if symbolic:
            return _check_value(_call("floor", [left / right], symbolic))
        return _check_value(_call("floor", [Fraction(left) / Fraction(right)], symbolic))
    return _check_value(left % right)


def _is_zero(value: Any) -> bool:
    """Zero, also a symbolic value that is zero once expanded (``(k+1)**2 - k**2 - 2*k - 1``), which sympy
    does not simplify on its own and would divide by, giving ``zoo``. The caps keep the expansion small."""
    if getattr(value, "free_symbols", None):
        import sympy

        return bool(sympy.expand(value) == 0)
    return bool(value == 0)


def _call(name: str, args: list[Any], symbolic: bool) -> Any:
    if symbolic:
        import sympy

        fn = {"floor": sympy.floor, "ceil": sympy.ceiling, "max": sympy.Max, "min": sympy.Min}[name]
        return fn(*args)
    if name == "floor":
        return math.floor(args[0])
    if name == "ceil":
        return math.ceil(args[0])
    return max(args) if name == "max" else min(args)
