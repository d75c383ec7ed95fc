"""`cnncalc memory`'s figures as one library function, :func:`memory`, and `cnncalc solve` as another: :func:`solve` takes what the command line takes (the unknown,
the given values, ``same``, ``transpose``, or a symbolic ``spec`` whose valid input sizes are wanted) and
returns the :class:`~cnncalc.calc.symbolic.Solution`; :func:`solution_text` is the command's text report.

>>> result = solve("out", {"n": "32", "f": "5"})
>>> result.solutions
[28]
>>> print(solution_text(result), end="")
out = ⌊(n + 2p − f)/s⌋ + 1
out = ⌊(32 + 2·0 − 5)/1⌋ + 1
= ⌊27/1⌋ + 1 = 28
out = 28
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..arguments import one_or_many
from ..errors import CnnCalcError
from ..spec.network import Network, load_spec, with_input
from . import memory as memory_rules
from . import symbolic
from .memory import MemoryReport
from .symbolic import Solution

#: the values a convolution (and a transposed one) is solved from; the unknown is one of them
VALUES = ("n", "f", "p", "s", "d", "out")


def solve(unknown: str, values: Mapping[str, str | int | None] | None = None, same: bool = False, *,
          transpose: bool = False, spec: str | Network | None = None, exact: bool = False,
          low: int | None = None, high: int | None = None, where: str | Sequence[str] | None = None,
          input: str | Sequence[str] | None = None) -> Solution:
    """Solve ``out = ⌊(n + 2p − d·(f−1) − 1)/s⌋ + 1`` for ``unknown``, as `cnncalc solve --for UNKNOWN`.

    ``values`` gives the others (``n``, ``f``, ``p``, ``s``, ``d``, ``out``; numbers or symbol names, and
    ``output_padding`` with ``transpose``); ``same`` asks for 'same' padding (out = n, ⌈n/s⌉ for a stride).
    With ``spec`` (a symbolic spec, or its path or built-in name) the answer is instead the sizes of the
    input symbol ``unknown`` in ``[low, high]`` (1 … 1024 by default) for which every layer is valid
    (``exact``: and no pixel is dropped by a floor), the spec's other symbols fixed by ``where``
    (``["m=32"]``) and its input shape replaced by ``input`` (``"n,n,3"``, as `--input`).

    >>> solve("p", {"f": 7}, same=True).solutions
    [3]
    >>> solve("out", {"n": 3, "f": 3, "s": 2}, transpose=True).solutions
    [7]
    """
    given = {name: None if value is None else str(value) for name, value in (values or {}).items()}
    _padding_words(given.get("p"), same)
    conv = {name: given.get(name) for name in VALUES}
    if spec is not None:
        named = [f"--{name}" for name, value in conv.items() if value is not None] + (["--same"] if same else [])
        if named or transpose:
            raise CnnCalcError("--spec takes only --for, --min, --max, --exact and --where",
                               got=named or "--transpose", expected="no layer values (they come from the spec)")
        network = with_input(spec if isinstance(spec, Network) else load_spec(spec), one_or_many(input))
        return symbolic.valid_sizes(network, unknown, 1 if low is None else low, 1024 if high is None else high,
                                    exact, symbolic.parse_assignments(one_or_many(where)))
    used = [name for name, option in (("--where", where), ("--exact", exact), ("--min", low), ("--max", high))
            if option]
    used += ["--input"] if input else []
    if used:
        raise CnnCalcError(f"{used[0]} needs --spec (it is about the input sizes of a symbolic spec)",
                           got=used[0], expected="--spec SPEC, or leave it out")
    if transpose:
        return symbolic.solve_transpose(unknown, {**conv, "output_padding": given.get("output_padding")}, same)
    if given.get("output_padding") is not None:
        raise CnnCalcError("--output-padding is for --transpose", got=given["output_padding"],
                           expected="--transpose")
    return symbolic.solve_conv(unknown, conv, same)


def _padding_words(p: str | None, same: bool) -> None:
    """`--p same` (and `valid`, `full`): padding named as in a spec, not a value; say what to give."""
    word = (p or "").strip().lower()
    if word == "same":
        raise CnnCalcError("'same' padding is --same, not --p same", got="--p same",
                           expected="--same (out = n; add --for p to get the padding)" if not same else "--same alone")
    if word == "valid":
        raise CnnCalcError("'valid' padding is --p 0", got="--p valid", expected="--p 0")
    if word == "full":
        raise CnnCalcError("'full' padding is p = d·(f − 1): give it as a number", got="--p full",
                           expected="--p with the number d·(f − 1), e.g. --p 2 for f = 3")


def solution_text(solution: Solution) -> str:
    """The text `cnncalc solve` prints: the steps, the answer (one value, a set, a range, an expression,
    or none), the 'same' padding's split and the notes.

    >>> print(solution_text(solve("p", {"n": "8", "f": "4"}, same=True)).splitlines()[-2])
    pads (before, after) = (1, 2)
    """
    lines = list(solution.steps)
    listed = len(solution.solutions)
    count = solution.count if solution.count is not None else listed
    if solution.solutions:
        shown = ", ".join(str(value) for value in solution.as_dict()["solutions"])
        if count > listed:  # a long range: say that the list stops, and where
            lines.append(f"{solution.unknown} ∈ {{{shown}, …}}: the first {listed} of {count} values")
        else:
            lines.append(f"{solution.unknown} = {shown}" if listed == 1 else f"{solution.unknown} ∈ {{{shown}}}")
    elif solution.range is not None and solution.range[1] is None:
        lines.append(f"{solution.unknown} ≥ {solution.range[0]}")
    elif solution.expression and solution.pads is not None and all(isinstance(v, int) for v in solution.pads):
        total = solution.pads[0] + solution.pads[1]  # the even filter's 'same': (f − 1)/2 with f put in
        lines.append(f"{solution.unknown} = {solution.expression} = {total}/2, not an integer")
    elif solution.expression:
        lines.append(f"{solution.unknown} = {solution.expression}")
    elif solution.pads is None:
        lines.append(f"no solution for {solution.unknown}")
    if solution.pads is not None:
        lines.append(f"pads (before, after) = ({solution.pads[0]}, {solution.pads[1]})")
    lines += [f"note: {note}" for note in solution.notes]
    return "".join(f"{line}\n" for line in lines)


def memory(spec: str | Network, *, batch: int = 1, dtype: str = "float32", optimizer: str = "none",
           framework: str = "pytorch") -> MemoryReport:
    """The bytes of training ``spec`` (a network, or its path or built-in name) for one step of ``batch``
    samples in ``dtype`` (float32, float16, bfloat16, or mixed: float16 with float32 master weights) with
    ``optimizer`` (none, sgd, momentum, adam, adamw): weights, gradients, optimizer states and the tensors
    ``framework``'s autograd keeps for the backward pass (pytorch's rules, or keras's); and the peak of an
    inference pass, in the spec's order and in the best order of a DAG.

    >>> report = memory("lenet5", optimizer="adam", dtype="mixed")
    >>> report.weights, report.gradients, report.optimizer_states   # 62,958 params: 2 B, 2 B, 4 + 2·4 B
    (125916, 125916, 755496)
    """
    network = spec if isinstance(spec, Network) else load_spec(spec)
    return memory_rules.estimate(network, batch=batch, dtype=dtype, optimizer=optimizer, framework=framework)
