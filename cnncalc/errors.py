"""One error family for every user-facing failure.

Each error carries where it happened (file, line, layer index and name, field) and what was
received versus expected; the CLI prints ``str(error)`` and exits with code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class CnnCalcError(Exception):
    """A problem with the user's input, reported as one clear line (or a few)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        layer: str | None = None,
        index: int | None = None,
        field: str | None = None,
        got: Any = None,
        expected: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.layer = layer
        self.index = index
        self.field = field
        self.got = got
        self.expected = expected
        self.hint = hint

    def with_context(self, **context: Any) -> CnnCalcError:
        """Fill in context the raiser did not know (file, line, layer...) without overwriting."""
        for key, value in context.items():
            if value is not None and getattr(self, key) is None:
                setattr(self, key, value)
        return self

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file + (f":{self.line}" if self.line else ""))
        elif self.line:
            where.append(f"line {self.line}")
        if self.index is not None or self.layer:
            label = "layer"
            if self.index is not None:
                label += f" {self.index}"
            if self.layer:
                label += f" '{self.layer}'"
            where.append(label)
        if self.field:
            where.append(f"field '{self.field}'")
        text = ": ".join(where + [self.message]) if where else self.message
        if self.expected is not None:
            text += f" (got {_show(self.got)}, expected {self.expected})"
        if self.hint:
            text += f"; {self.hint}"
        return text


class SpecError(CnnCalcError):
    """A network spec that cannot be read or is not valid."""


class ShapeError(SpecError):
    """A layer that cannot be applied to the shape it receives."""


class SolveError(CnnCalcError):
    """A `solve` question that cannot be posed as given."""


class ExecutionError(CnnCalcError):
    """A forward pass that cannot run (missing weights, bad input array, memory)."""


class ExerciseError(CnnCalcError):
    """A problem, answer or secret file that cannot be used."""


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'kernel'?"`` for a near miss, else None.

    >>> did_you_mean("kernal", ["kernel", "stride"])
    "did you mean 'kernel'?"
    """
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
