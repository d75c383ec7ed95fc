"""Convolution arithmetic with sympy: `solve` for any one unknown, 'same' padding, transposed conv,
and the input sizes for which a symbolic spec is valid.

Values arrive as text and go through :mod:`cnncalc.maths.expr` (a whitelist parser); sympy only ever sees
objects built from it, never a string to ``sympify``.

>>> solve_conv("p", {"f": "7"}, same=True).solutions
[3]
>>> solve_conv("n", {"f": "3", "p": "0", "s": "2", "out": "2"}).solutions
[5, 6]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy

from ..errors import CnnCalcError, SolveError
from ..maths import arith, expr
from ..maths.budget import check as check_budget
from ..maths.budget import time_budget
from ..maths.ranges import ranges

VARIABLES = ("n", "f", "p", "s", "d", "out")
MINIMUM = {"n": 1, "f": 1, "p": 0, "s": 1, "d": 1, "out": 1, "output_padding": 0}
DEFAULTS = {"p": "0", "s": "1", "d": "1"}
LIST_LIMIT = 64
MAX_SIZES_TRIED = 10_000  # `solve --spec`: sizes analysed one by one (--max − --min + 1)
# names sympy prints as its own constants: a symbol called `oo` or `E` would read as infinity or e
RESERVED = frozenset({"zoo", "oo", "nan", "I", "E", "pi", "S", "N", "O", "Q", "EulerGamma", "GoldenRatio",
                      "Catalan", "TribonacciConstant", "inf", "infinity", "Infinity", "NaN", "ComplexInfinity",
                      "true", "false", "True", "False", "None", *expr.FUNCTIONS})
WHAT = {"n": "input size", "f": "filter size", "p": "padding", "s": "stride", "d": "dilation", "out": "output size",
        "output_padding": "output padding"}


@dataclass
class Solution:
    unknown: str
    solutions: list[Any]
    expression: str | None = None
    steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    range: tuple[int, int | None] | None = None  # closed range of integer solutions (None: unbounded)
    pads: tuple[Any, Any] | None = None  # 'same': (before, after)
    count: int | None = None  # how many solutions there are, where `solutions` lists only the first ones

    def __post_init__(self) -> None:
        if self.count is None and self.range is not None and self.range[1] is not None:
            self.count = self.range[1] - self.range[0] + 1

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"unknown": self.unknown, "solutions": [_json(v) for v in self.solutions],
                                "expression": self.expression, "steps": self.steps, "notes": self.notes}
        if self.range is not None:
            data["range"] = list(self.range)
        if self.pads is not None:
            data["pads"] = [_json(v) for v in self.pads]
        if self.count is not None and self.count > len(self.solutions):
            data["count"] = self.count
        return data


def _json(value: Any) -> Any:
    if isinstance(value, int):
        return value
    if isinstance(value, sympy.Integer):
        return int(value)
    return show(value)


def show(value: Any) -> str:
    """Expressions as a person writes them: ``(f - 1)/2`` rather than ``f/2 - 1/2``."""
    if isinstance(value, sympy.Basic):
        return str(sympy.together(value)) if value.free_symbols else str(value)
    return str(value)


def symbol(name: str) -> sympy.Symbol:
    if name == "p" or name == "output_padding":
        return sympy.Symbol(name, integer=True, nonnegative=True)
    return sympy.Symbol(name, integer=True, positive=True)


def parse_quantity(text: str, name: str) -> Any:
    """A value typed by the user: a number, a symbol name, or safe arithmetic of them."""
    option = f"--{name.replace('_', '-')}"
    try:
        tree = expr.parse(str(text))
        names = expr.names(tree)
        reserved = sorted(names & RESERVED)
        if reserved:
            raise SolveError(f"bad value for {option}: '{reserved[0]}' is not a symbol name here (sympy prints "
                             "its constants and functions so)", got=text,
                             expected="a number or another symbol name, e.g. k")
        value = expr.evaluate(tree, {n: symbol(n) for n in names}, symbolic=True)
    except SolveError:
        raise
    except expr.ExpressionError as error:
        raise SolveError(f"bad value for {option}: {error.message}", got=text,
                         expected="a number, a symbol name or arithmetic such as 2*k+1") from None
    if not isinstance(value, sympy.Basic) or not (value.is_finite or value.free_symbols):
        raise SolveError(f"bad value for {option}: not a finite number", got=text, expected="an integer")
    return _in_range(value, name, text)


def _in_range(value: Any, name: str, text: str, how: str = "") -> Any:
    """A value checked against its quantity's minimum; a number comes back as an int. A symbolic value
    that expands to a constant (``(k+1)**2 - k**2 - 2*k - 1`` is 0) is that constant: a stride that is 0
    whatever k is refused as 0 is, never divided by. `how` says where the value came from."""
    option = f"--{name.replace('_', '-')}"
    minimum = MINIMUM.get(name, 0)
    if value.free_symbols:
        expanded = sympy.expand(value)  # small: expr's caps bound the degree and the terms
        if not expanded.free_symbols:
            how = how or f"'{text}' is {expanded} whatever " + ", ".join(sorted(map(str, value.free_symbols)))
            value = expanded
    where = f": {how}" if how else ""
    if not value.free_symbols:
        if not value.is_finite:
            raise SolveError(f"bad value for {option}: not a finite number{where}", got=text, expected="an integer")
        if not value.is_integer:
            raise SolveError(f"{option} must be an integer{where}", got=text, expected="an integer")
        number = int(value)
        if number < minimum:
            raise SolveError(f"{option} is out of range{where}", got=number,
                             expected=f"at least {minimum} ({WHAT.get(name, name)})")
        return number
    # a symbolic value that can never reach the minimum (−k for a stride, say) is refused as a number would be
    if (value.is_positive is False and minimum >= 1) or value.is_nonnegative is False or \
            value.is_integer is False:
        raise SolveError(f"{option} is out of range{where}", got=text,
                         expected=f"an integer, at least {minimum} ({WHAT.get(name, name)})")
    return value


def _known(values: dict[str, str | None], unknown: str, names: tuple[str, ...],
           optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """The given values (and defaults) parsed, each with the others put in: in ``--s 'f-2' --f 3`` the f of
    the stride is the filter size, so s is 1 (a name of the formula means that quantity throughout)."""
    known = {}
    for name in names:
        if name == unknown:
            continue
        given = values.get(name)
        if given is None:
            if name in DEFAULTS:
                known[name] = parse_quantity(DEFAULTS[name], name)
                continue
            if name in optional:
                continue
            raise SolveError(f"--{name.replace('_', '-')} is needed ({WHAT[name]})",
                             hint=f"give a number or a symbol name, or ask --for {name}")
        known[name] = parse_quantity(given, name)
    known = _put_in(known, {name: str(values.get(name) or DEFAULTS.get(name)) for name in known})
    for name, value in known.items():
        if isinstance(value, sympy.Basic) and symbol(unknown) in value.free_symbols:
            raise SolveError(f"--{name.replace('_', '-')} uses the unknown '{unknown}'", got=values.get(name),
                             expected=f"values without {unknown} (it is what --for asks)")
    return known


def _put_in(known: dict[str, Any], texts: dict[str, str]) -> dict[str, Any]:
    """Each value with the other given values substituted for their names, those resolved first (a chain
    s → p → f); a value's own name stays its symbol (``--n 2*n``: the input is twice a free n). A value that
    becomes a number is checked again: ``--s 'f-3' --f 3`` is a stride of 0, refused with what made it so."""
    given = [name for name, value in known.items() if value != symbol(name)]
    resolved: dict[str, Any] = {}

    def resolve(name: str, path: tuple[str, ...]) -> Any:
        if name in resolved:
            return resolved[name]
        if name in path:
            circle = path[path.index(name):]
            raise SolveError("values name each other in a circle: " + " → ".join(
                f"--{step.replace('_', '-')} '{texts[step]}'" for step in (*circle, name)),
                expected="a number or a symbol for one of them")
        value = known[name]
        if isinstance(value, sympy.Basic):
            uses = sorted(other for other in given if other != name and symbol(other) in value.free_symbols)
            if uses:
                value = value.subs({symbol(other): resolve(other, (*path, name)) for other in uses},
                                   simultaneous=True)
                how = f"'{texts[name]}' with " + ", ".join(f"{other} = {show(resolved[other])}" for other in uses)
                value = _in_range(value, name, texts[name], f"{how} is {show(value)}")
        resolved[name] = value
        return value

    for name in known:
        resolve(name, ())
    return resolved


def _span_text(f: Any, d: Any) -> str:
    return f"{f}" if d == 1 else f"{d}·({f} − 1) + 1"


# ---------------------------------------------------------------- convolution


def solve_conv(unknown: str, values: dict[str, str | None], same: bool = False) -> Solution:
    """Solve ``out = ⌊(n + 2p − d·(f−1) − 1)/s⌋ + 1`` (or 'same') for one unknown."""
    with time_budget(f"solving for {unknown}"):
        return _solve_conv(unknown, values, same)


def _solve_conv(unknown: str, values: dict[str, str | None], same: bool) -> Solution:
    if unknown not in VARIABLES:
        raise SolveError("--for must name one of n, f, p, s, d, out", got=unknown, expected="n, f, p, s, d or out")
    if values.get(unknown) is not None:
        raise SolveError(f"--{unknown} is given and also asked for", field=unknown, got=values[unknown],
                         expected="the unknown left out")
    if same:
        if values.get("out") is not None:
            raise SolveError("--same and --out both fix the output", expected="one of them")
        return _solve_same(unknown, values)
    if unknown != "out" and values.get("out") is None:
        raise SolveError("--out (or --same) is needed", hint="say what output size you want")
    known = _known(values, unknown, VARIABLES)
    if all(isinstance(v, int) for v in known.values()):
        return _solve_numeric(unknown, known)
    return _solve_symbolic(unknown, known)


def _formula(d: Any) -> str:
    if d == 1:
        return "out = ⌊(n + 2p − f)/s⌋ + 1"
    return "out = ⌊(n + 2p − d·(f − 1) − 1)/s⌋ + 1"


def _term(value: Any) -> str:
    """A value as one term of a formula: ``(k + 1)``, not ``k + 1``, after a division or a product."""
    if isinstance(value, sympy.Basic) and not value.is_Atom:
        return f"({show(value)})"
    return str(value)


def _substituted(known: dict[str, Any], unknown: str) -> str:
    v = {name: _term(known.get(name, name)) for name in VARIABLES}
    inner = f"{v['n']} + 2·{v['p']} − " + (f"{v['f']}" if known.get("d", "d") == 1 else f"{v['d']}·({v['f']} − 1) − 1")
    return f"{show(known.get('out', 'out'))} = ⌊({inner})/{v['s']}⌋ + 1"


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _solve_numeric(unknown: str, k: dict[str, int]) -> Solution:
    steps = [_formula(k.get("d", "d")), _substituted(k, unknown)]
    notes: list[str] = []
    if unknown == "out":
        a = k["n"] + 2 * k["p"] - k["d"] * (k["f"] - 1) - 1
        if a < 0:
            return Solution("out", [], None, steps, [(f"the filter span {k['d'] * (k['f'] - 1) + 1} is larger than "
                                                     f"the padded input {k['n'] + 2 * k['p']}: no output")])
        out = a // k["s"] + 1
        steps.append(f"= ⌊{a}/{k['s']}⌋ + 1 = {out}")
        if a % k["s"]:
            notes.append(f"the floor drops {a % k['s']} pixel(s) at the bottom/right edge")
        return Solution("out", [out], None, steps, notes)
    # ⌊A/s⌋ = out − 1  ⇔  (out − 1)·s ≤ A ≤ (out − 1)·s + s − 1
    if unknown != "s":
        low, high = (k["out"] - 1) * k["s"], (k["out"] - 1) * k["s"] + k["s"] - 1
        steps.append(f"⌊x⌋ = {k['out'] - 1} ⇔ {k['out'] - 1} ≤ x < {k['out']}, so {low} ≤ "
                     + _a_text(k, unknown) + f" ≤ {high}")
    lo: int | None
    hi: int | None
    if unknown == "n":
        rest = 2 * k["p"] - k["d"] * (k["f"] - 1) - 1
        lo, hi = low - rest, high - rest
    elif unknown == "p":
        rest = k["n"] - k["d"] * (k["f"] - 1) - 1
        lo, hi = _ceil_div(low - rest, 2), (high - rest) // 2
        steps.append(f"⇒ {low - rest} ≤ 2p ≤ {high - rest}")
    elif unknown == "f":
        rest = k["n"] + 2 * k["p"] - 1
        lo_span, hi_span = rest - high, rest - low  # d·(f − 1) in this range
        lo, hi = _ceil_div(lo_span, k["d"]) + 1, hi_span // k["d"] + 1
        steps.append(f"⇒ {lo_span} ≤ {k['d']}·(f − 1) ≤ {hi_span}" if k["d"] != 1 else
                     f"⇒ {lo_span} ≤ f − 1 ≤ {hi_span}")
    elif unknown == "d":
        rest = k["n"] + 2 * k["p"] - 1
        lo_span, hi_span = rest - high, rest - low
        if k["f"] == 1:
            lo, hi = (1, None) if lo_span <= 0 <= hi_span else (1, 0)
            notes.append("a 1×1 filter spans one pixel whatever the dilation")
        else:
            lo, hi = _ceil_div(lo_span, k["f"] - 1), hi_span // (k["f"] - 1)
            steps.append(f"⇒ {lo_span} ≤ d·{k['f'] - 1} ≤ {hi_span}")
    else:  # s
        a = k["n"] + 2 * k["p"] - k["d"] * (k["f"] - 1) - 1
        steps.append(f"with A = n + 2p − d·(f − 1) − 1 = {a}: (out − 1)·s ≤ A ≤ out·s − 1")
        if a < 0:
            lo, hi = 1, 0
            notes.append("the filter is larger than the padded input: no stride gives an output")
        elif k["out"] == 1:
            lo, hi = a + 1, None
            steps.append(f"out = 1 ⇒ s ≥ A + 1 = {a + 1}")
        else:
            lo, hi = _ceil_div(a + 1, k["out"]), a // (k["out"] - 1)
            steps.append(f"⇒ {_ceil_div(a + 1, k['out'])} ≤ s ≤ {a // (k['out'] - 1)}")
    lo = max(lo, MINIMUM[unknown])
    return _range_result(unknown, lo, hi, steps, notes)


def _a_text(k: dict[str, int], unknown: str) -> str:
    """``n + 2p − f`` with the known values put in (the unknown left as its letter)."""
    v = {name: k.get(name, name) for name in VARIABLES}
    pad = "2p" if unknown == "p" else f"2·{v['p']}"
    span = f"{v['f']}" if v["d"] == 1 else f"{v['d']}·({v['f']} − 1) − 1"
    return f"{v['n']} + {pad} − {span}"


def _range_result(unknown: str, lo: int, hi: int | None, steps: list[str], notes: list[str]) -> Solution:
    if hi is not None and hi < lo:
        notes.append(f"no integer {WHAT[unknown]} gives this output")
        steps.append(f"⇒ no integer {unknown}")
        return Solution(unknown, [], None, steps, notes)
    if hi is None:
        steps.append(f"⇒ {unknown} ≥ {lo}")
        notes.append(f"every {unknown} ≥ {lo} works (unbounded)")
        return Solution(unknown, [], None, steps, notes, (lo, None))
    count = hi - lo + 1
    values = list(range(lo, min(hi, lo + LIST_LIMIT - 1) + 1))  # never the whole of a huge range
    steps.append(f"⇒ {unknown} = {lo}" if lo == hi else f"⇒ {lo} ≤ {unknown} ≤ {hi}")
    if count > 1:
        notes.append(f"the floor makes {count} values of {unknown} give the same output")
    if count > LIST_LIMIT:
        notes.append(f"listing the first {LIST_LIMIT}; the range is complete")
    return Solution(unknown, values, None, steps, notes, (lo, hi) if lo != hi else None)


def _solve_symbolic(unknown: str, k: dict[str, Any]) -> Solution:
    syms = {name: k.get(name, symbol(name)) for name in VARIABLES}
    n, f, p, s, d, out = (syms[name] for name in VARIABLES)
    steps = [_formula(d), _substituted(k, unknown)]
    if unknown == "out":
        if isinstance(s, int):  # one canonical floor, as summaries write it (no sympy simplify needed)
            value = arith.conv_output(n, f, s, p, p, d)
        else:
            value = _finite(sympy.simplify(sympy.floor((n + 2 * p - d * (f - 1) - 1) / s) + 1), k)
        steps.append(f"out = {show(value)}")
        return Solution("out", [show(value)], show(value), steps, [])
    # without the floor: (out − 1)·s = n + 2p − d·(f − 1) − 1
    # unevaluated: sympy would turn an equation it can decide (n - 2 = n + 2p - 3, p an integer) into False
    equation = sympy.Eq((out - 1) * s, n + 2 * p - d * (f - 1) - 1, evaluate=False)
    steps.append(f"taking the division as exact: {show(equation.lhs)} = {show(equation.rhs)}")
    roots = sympy.solve(equation, symbol(unknown))
    notes = []
    if s != 1:
        notes.append("the floor also accepts values up to s − 1 more in n + 2p − d·(f − 1) − 1; this is "
                     "the value for which the division is exact")
    if not roots and _holds_always(equation):
        return _every(unknown, steps, notes)
    if not roots:
        return Solution(unknown, [], None, steps, notes + ["no solution"])
    value = _finite(sympy.simplify(roots[0]), k)
    steps.append(f"⇒ {unknown} = {show(value)}")
    return Solution(unknown, [show(value)], show(value), steps, notes)


def _holds_always(equation: Any) -> bool:
    """Whether an equation sympy found no root for holds for every value (``2n = 2n``) rather than none."""
    return bool(sympy.expand(equation.lhs - equation.rhs) == 0)


def _every(unknown: str, steps: list[str], notes: list[str]) -> Solution:
    low = MINIMUM[unknown]
    steps.append(f"the equation holds whatever {unknown} is")
    return Solution(unknown, [], None, steps, [*notes, f"every {unknown} ≥ {low} works (unbounded)"], (low, None))


def _finite(value: Any, known: dict[str, Any]) -> Any:
    """The net behind the zero-divisor checks of the values: an answer sympy found infinite or undefined
    (``zoo``, ``nan``) is an error naming the values, never an answer."""
    if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        given = ", ".join(f"{name} = {show(v)}" for name, v in known.items())
        raise SolveError(f"no finite answer: a divisor is zero for the values given ({given})", got=show(value),
                         expected="values for which s, and every divisor inside a value, is not 0")
    return value


def _solve_same(unknown: str, values: dict[str, str | None]) -> Solution:
    """'same' padding: out = n for stride 1, out = ⌈n/s⌉ (TensorFlow) for larger strides."""
    if unknown != "p":
        raise SolveError("with --same, ask --for p", got=unknown, expected="p",
                         hint="or give --out and ask for another unknown")
    known = _known(values, "p", ("f", "s", "d", "n"), optional=("n",))
    f, s, d = known["f"], known["s"], known["d"]
    if s == 1:
        steps = ["same: out = n", "n + 2p − f + 1 = n ⇒ p = (f − 1)/2" if d == 1 else
                 "n + 2p − d·(f − 1) = n ⇒ p = d·(f − 1)/2"]
        value = sympy.Rational(1, 2) * d * (f - 1) if not isinstance(f, int) or not isinstance(d, int) else None
        if value is not None:
            return Solution("p", [show(value)], show(value), steps,
                            ["an integer only when d·(f − 1) is even (odd f for d = 1)"])
        total = d * (f - 1)
        expression = "(f - 1)/2" if d == 1 else "d*(f - 1)/2"
        if total % 2 == 0:
            steps[-1] += f" = {total // 2}"
            return Solution("p", [total // 2], expression, steps, [], pads=(total // 2, total // 2))
        before, after = total // 2, total - total // 2
        steps[-1] += f" = {total}/2, not an integer"
        steps.append(f"TensorFlow's 'same' pads {total} in total: {before} before (top/left), {after} after "
                     "(bottom/right)")
        return Solution("p", [], expression, steps,
                        [(f"no symmetric integer padding for an even filter (f = {f}); the asymmetric split is "
                         f"({before}, {after})")], pads=(before, after))
    if values.get("n") is None:
        raise SolveError("with a stride above 1, 'same' padding depends on n: give --n",
                         hint="TensorFlow's rule: out = ⌈n/s⌉, total pad = max((out − 1)·s + d·(f − 1) + 1 − n, 0)")
    n = known["n"]
    steps = ["same (stride > 1, TensorFlow): out = ⌈n/s⌉", "total pad = max((out − 1)·s + d·(f − 1) + 1 − n, 0)"]
    if all(isinstance(v, int) for v in (n, f, s, d)):
        out = -((-n) // s)
        total = max((out - 1) * s + d * (f - 1) + 1 - n, 0)
        before, after = total // 2, total - total // 2
        steps += [f"out = ⌈{n}/{s}⌉ = {out}",
                  f"total = max(({out} − 1)·{s} + {d * (f - 1)} + 1 − {n}, 0) = {total}",
                  f"split: {before} before (top/left), {after} after (bottom/right)"]
        if before == after:
            return Solution("p", [before], None, steps, [], pads=(before, after))
        return Solution("p", [], None, steps, [f"the padding is asymmetric: ({before}, {after})"],
                        pads=(before, after))
    if all(isinstance(v, int) for v in (f, s, d)):
        # the floor rules of arith decide the max where they can (d·(f − 1) + 1 ≥ s: never 0)
        out, before, after = arith.same_padding(n, f, s, d)
        total = arith.simplify(before + after)
        steps += [f"out = {show(out)}", f"total = {show(total)}",
                  f"split: {show(before)} before (top/left), {show(after)} after (bottom/right)"]
        return Solution("p", [], show(total), steps, [], pads=(before, after))
    out = sympy.ceiling(n / s)
    total = sympy.Max((out - 1) * s + d * (f - 1) + 1 - n, 0)
    steps.append(f"total = {show(total)}")
    return Solution("p", [], show(total), steps, ["before = ⌊total/2⌋, after = total − before"])


# ---------------------------------------------------------------- transposed convolution


def solve_transpose(unknown: str, values: dict[str, str | None], same: bool = False) -> Solution:
    """Solve ``out = (n − 1)·s − 2p + d·(f − 1) + output_padding + 1`` (``same``: out = n·s)."""
    with time_budget(f"solving for {unknown}"):
        return _solve_transpose(unknown, values, same)


def _solve_transpose(unknown: str, values: dict[str, str | None], same: bool) -> Solution:
    names = (*VARIABLES, "output_padding")
    if unknown not in names:
        raise SolveError("--for must name one of n, f, p, s, d, out, output_padding", got=unknown,
                         expected="one of them")
    if values.get(unknown) is not None:
        raise SolveError(f"--{unknown} is given and also asked for", got=values[unknown], expected="the unknown left out")
    values = {**values}
    values.setdefault("output_padding", None)
    if values.get("output_padding") is None and unknown != "output_padding":
        values["output_padding"] = "0"
    if same:
        if values.get("out") is not None:
            raise SolveError("--same and --out both fix the output", expected="one of them")
        if unknown == "out":
            raise SolveError("with --same the output is n·s; ask for another unknown")
        values["out"] = None
    elif unknown != "out" and values.get("out") is None:
        raise SolveError("--out (or --same) is needed", hint="say what output size you want")
    known = _known({k: v for k, v in values.items() if k != "out"} | ({} if same else {"out": values.get("out")}),
                   unknown, tuple(x for x in names if not (same and x == "out")))
    if same:  # s is the unknown's own symbol when --for s
        known["out"] = known.get("n", symbol("n")) * known.get("s", symbol("s"))
    syms = {name: known.get(name, symbol(name)) for name in names}
    n, f, p, s, d, out, op = (syms[name] for name in names)
    rhs = (n - 1) * s - 2 * p + d * (f - 1) + op + 1
    steps = ["out = (n − 1)·s − 2p + d·(f − 1) + output_padding + 1"]
    if same:
        steps.append("same (transposed): out = n·s")
    if unknown == "out":
        value = sympy.simplify(rhs)
        steps.append(f"out = {show(value)}")
        result = int(value) if value.is_Integer else show(value)
        if isinstance(result, int) and result < 1:
            return Solution("out", [], None, steps, ["the output would not be positive"])
        return Solution("out", [result], None if isinstance(result, int) else show(value), steps, [])
    roots = sympy.solve(sympy.Eq(out, rhs, evaluate=False), symbol(unknown))
    steps.append(f"{show(out)} = {show(rhs)}")
    if not roots and _holds_always(sympy.Eq(out, rhs, evaluate=False)):
        return _every(unknown, steps, [])
    if not roots:
        return Solution(unknown, [], None, steps, ["no solution"])
    value = sympy.simplify(roots[0])
    steps.append(f"⇒ {unknown} = {show(value)}")
    if value.free_symbols:
        return Solution(unknown, [show(value)], show(value), steps, [])
    if not value.is_integer or value < MINIMUM[unknown]:
        return Solution(unknown, [], None, steps, [f"{unknown} = {show(value)} is not a valid {WHAT[unknown]}"])
    return Solution(unknown, [int(value)], None, steps, [])


# ---------------------------------------------------------------- symbolic specs


MAX_WHERE_DIGITS = 12  # a --where size has at most this many digits


def parse_assignments(items: list[str]) -> dict[str, int]:
    """``["n=64", "m=32,k=3"]`` → ``{"n": 64, "m": 32, "k": 3}``; values are plain positive integers."""
    import re

    result: dict[str, int] = {}
    for item in items:
        for part in item.split(","):
            name, sep, value = part.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name) or \
                    not re.fullmatch(r"-?[0-9]+", value):
                raise SolveError("bad --where", got=part[:80], expected="NAME=INTEGER, e.g. n=64")
            if len(value.lstrip("-")) > MAX_WHERE_DIGITS:
                raise SolveError("bad --where: size too large", got=part[:80],
                                 expected=f"at most {MAX_WHERE_DIGITS} digits")
            if int(value) < 1:
                raise SolveError("bad --where", got=part[:80], expected="a positive size")
            if name in result and result[name] != int(value):
                raise SolveError(f"--where gives '{name}' two values", got=part[:80], expected="one value a name")
            result[name] = int(value)
    return result


def substitute(network: Any, values: dict[str, int]) -> Any:
    """The network with some input symbols replaced by numbers."""
    unknown = sorted(set(values) - set(network.symbols))
    if unknown:
        from ..errors import did_you_mean

        raise SolveError(f"--where names a symbol the spec does not have: '{unknown[0]}'",
                         got=unknown[0], expected="one of: " + (", ".join(network.symbols) or "none (numeric spec)"),
                         hint=did_you_mean(unknown[0], network.symbols))
    mapping = {symbol_of(network, name): value for name, value in values.items()}
    shape = []
    for dim in network.input_shape:
        if isinstance(dim, int):
            shape.append(dim)
        else:
            new = dim.subs(mapping)
            shape.append(int(new) if new.is_Integer else new)
    remaining = tuple(name for name in network.symbols if name not in values)
    return network.replace(input_shape=tuple(shape), symbols=remaining)


def symbol_of(network: Any, name: str) -> sympy.Symbol:
    for dim in network.input_shape:
        if isinstance(dim, sympy.Basic):
            for sym in dim.free_symbols:
                if sym.name == name:
                    return sym
    raise SolveError(f"the spec has no symbol '{name}'")


@dataclass
class SizeSearch:
    """Every size of one input symbol in [low, high], analysed once: which are valid, which also exact."""

    name: str
    low: int
    high: int
    valid: list[int] = field(default_factory=list)  # every layer valid
    exact: list[int] = field(default_factory=list)  # valid, and no sliding window drops pixels
    invalid: dict[str, int] = field(default_factory=dict)  # reason → the first size that fails for it
    lossy: dict[str, int] = field(default_factory=dict)  # reason → the first valid size that drops pixels

    def solution(self, exact: bool = False) -> Solution:
        found = self.exact if exact else self.valid
        failures = dict(sorted({**self.invalid, **(self.lossy if exact else {})}.items(), key=lambda kv: kv[1]))
        condition = "every layer is valid" + (" and every division is exact" if exact else "")
        steps = [f"tried {self.name} = {self.low} … {self.high}: {condition}"]
        notes = [f"{len(found)} of {self.high - self.low + 1} values work"]
        if found:
            notes.append(f"as ranges: {ranges(found, most=12)}")
            steps.append(f"⇒ {self.name} ∈ {{{ranges(found, most=12)}}}")
        for reason, value in list(failures.items())[:4]:
            notes.append(f"e.g. {self.name} = {value}: {reason}")
        return Solution(self.name, found[: LIST_LIMIT * 4], None, steps, notes,  # a copy: a search is remembered
                        count=len(found))


def valid_sizes(network: Any, name: str, low: int = 1, high: int = 1024, exact: bool = False,
                where: dict[str, int] | None = None) -> Solution:
    """The values of one input symbol, in [low, high], for which every layer is valid (and, with
    ``exact``, no sliding window leaves pixels out through the floor)."""
    return search_sizes(network, name, low, high, where).solution(exact)


def search_sizes(network: Any, name: str, low: int = 1, high: int = 1024, where: dict[str, int] | None = None,
                 hint: str = "try fewer sizes (--min, --max)") -> SizeSearch:
    """Analyse the network once for each size of `name` in [low, high]; one pass answers both questions
    (valid, exact), under the time budget."""
    if name not in network.symbols:
        raise SolveError(f"the spec has no input symbol '{name}'", got=name,
                         expected="one of: " + (", ".join(network.symbols) or "none (the input is numeric)"))
    others = [s for s in network.symbols if s != name and s not in (where or {})]
    if others:
        raise SolveError(f"fix the other input symbols with --where: {', '.join(others)}",
                         hint=f"e.g. --where {others[0]}=32")
    if where and name in where:
        raise SolveError(f"--where gives '{name}' a value, but --for asks for it", got=f"{name}={where[name]}",
                         expected="--where for the other symbols only")
    if not 1 <= low <= high or high - low + 1 > MAX_SIZES_TRIED:
        raise SolveError("bad range", got=[low, high],
                         expected=f"1 ≤ --min ≤ --max, at most {MAX_SIZES_TRIED:,} sizes")
    base = substitute(network, where or {})
    search = SizeSearch(name, low, high)
    with time_budget(f"trying {high - low + 1:,} sizes of {name}", hint=hint):
        for value in range(low, high + 1):
            check_budget()
            try:
                lossy = _first_lossy_layer(substitute(base, {name: value}))
            except CnnCalcError as error:
                search.invalid.setdefault(_reason(error), value)
                continue
            search.valid.append(value)
            if lossy is None:
                search.exact.append(value)
            else:
                search.lossy.setdefault(f"layer {lossy.index} '{lossy.name}' drops pixels", value)
    return search


def _first_lossy_layer(network: Any) -> Any:
    """The shapes alone, layer by layer (each layer's own rule decides whether its input is valid, raising
    as the analysis does): the first layer whose window drops pixels, or None. The full analysis (receptive
    fields, MACs, explanations) costs several times more, and a size search runs once per size."""
    from ..layers.base import wrap_layer_error
    from ..spec.network import INPUT

    shapes = {INPUT: network.input_shape}
    lossy = None
    for position in network.order:  # the budget is checked per size, by the caller
        layer = network.layers[position]
        try:
            info = layer.inference([shapes[source] for source in layer.inputs])
        except CnnCalcError as error:
            raise wrap_layer_error(error, layer).with_context(file=network.source) from None
        shapes[layer.name] = info.shape
        if lossy is None and info.dropped and any(d != 0 for d in info.dropped):
            lossy = layer
    return lossy


def _reason(error: Exception) -> str:
    text = str(error)
    return text.split(": ", 1)[-1] if "layer" not in text else text[text.find("layer"):]
