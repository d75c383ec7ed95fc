"""A small, safe arithmetic language for block arguments and `solve` values.

Whitelisted tokens only (numbers, names, + - * / // % ^ **, parentheses, commas and the functions
floor, ceil, max, min); parsed by recursive descent into a tuple tree, then evaluated with plain ints
or with sympy. Nothing reaches Python's ``eval`` or sympy's ``sympify``/``parse_expr``.

>>> evaluate(parse("4 * filters"), {"filters": 64})
256
>>> evaluate(parse("(n + 2*p - f) // s + 1"), {"n": 5, "p": 0, "f": 3, "s": 2})
2
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from ..errors import CnnCalcError

MAX_LENGTH = 200
MAX_DIGITS = 30  # numbers longer than this are refused (sizes are small)
FUNCTIONS = ("floor", "ceil", "max", "min")
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\*\*|//|[-+*/%^(),]))")


class ExpressionError(CnnCalcError):
    pass


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
        if number and len(number) > MAX_DIGITS:
            raise ExpressionError(f"number too long in {text!r}", expected=f"at most {MAX_DIGITS} digits")
        tokens.append(("num", number) if number else ("name", name) if name else ("op", op))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            found = "the end" if token is None else repr(token[1])
            raise ExpressionError(f"in {self.text!r}: expected {value or 'a value'!r}, found {found}")
        self.i += 1
        return token

    def parse(self) -> Any:
        if not self.tokens:
            raise ExpressionError("empty expression")
        tree = self.sum()
        if self.peek() is not None:
            raise ExpressionError(f"in {self.text!r}: unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return tree

    def sum(self) -> Any:
        tree = self.product()
        while self.peek() and self.peek()[1] in ("+", "-"):  # type: ignore[index]
            op = self.take()[1]
            tree = (op, tree, self.product())
        return tree

    def product(self) -> Any:
        tree = self.unary()
        while self.peek() and self.peek()[1] in ("*", "/", "//", "%"):  # type: ignore[index]
            op = self.take()[1]
            tree = (op, tree, self.unary())
        return tree

    def unary(self) -> Any:
        if self.peek() and self.peek()[1] in ("-", "+"):  # type: ignore[index]
            op = self.take()[1]
            operand = self.unary()
            return ("neg", operand) if op == "-" else operand
        return self.power()

    def power(self) -> Any:
        base = self.atom()
        if self.peek() and self.peek()[1] in ("**", "^"):  # type: ignore[index]
            self.take()
            return ("**", base, self.unary())
        return base

    def atom(self) -> Any:
        kind, value = self.take()
        if kind == "num":
            return ("num", Fraction(value))
        if kind == "name":
            if value in FUNCTIONS and self.peek() == ("op", "("):
                self.take("(")
                args = [self.sum()]
                while self.peek() == ("op", ","):
                    self.take(",")
                    args.append(self.sum())
                self.take(")")
                if value in ("floor", "ceil") and len(args) != 1:
                    raise ExpressionError(f"{value}() takes one argument")
                return ("call", value, args)
            return ("name", value)
        if value == "(":
            tree = self.sum()
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


def evaluate(tree: Any, values: Mapping[str, Any], symbolic: bool = False) -> Any:
    """Evaluate with ints/Fractions (exact), or with sympy objects when ``symbolic``."""
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
        return values[tree[1]]
    if kind == "neg":
        return -evaluate(tree[1], values, symbolic)
    if kind == "call":
        args = [evaluate(arg, values, symbolic) for arg in tree[2]]
        return _call(tree[1], args, symbolic)
    left, right = evaluate(tree[1], values, symbolic), evaluate(tree[2], values, symbolic)
    if kind == "+":
        return left + right
    if kind == "-":
        return left - right
    if kind == "*":
        return left * right
    if kind == "**":
        # a small integer exponent only: 9**9**9 must not hang the program
        if not (getattr(right, "is_Integer", False) or isinstance(right, int)) or abs(int(right)) > 64:
            raise ExpressionError("the exponent must be an integer from -64 to 64", got=str(right))
        return left ** int(right)
    if right == 0:
        raise ExpressionError("division by zero")
    if kind == "/":
        if symbolic:
            return left / right
        result = Fraction(left) / Fraction(right)
        return int(result) if result.denominator == 1 else result
    if kind == "//":
        return _call("floor", [Fraction(left) / Fraction(right) if not symbolic else left / right], symbolic)
    return left % right


def _call(name: str, args: list[Any], symbolic: bool) -> Any:
    if symbolic:
        import sympy

        fn = {"floor": sympy.floor, "ceil": sympy.ceiling, "max": sympy.Max, "min": sympy.Min}[name]
        return fn(*args)
    if name == "floor":
        return int(Fraction(args[0]).__floor__())
    if name == "ceil":
        return int(Fraction(args[0]).__ceil__())
    return max(args) if name == "max" else min(args)
