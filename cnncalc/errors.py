"""One error family for every user-facing failure.

Each error carries where it happened (file, line, layer index and name, field) and what was
received versus expected; the CLI prints ``str(error)`` and exits with code 2.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any

#: at most this many characters of a user's value appear in a message (a 100 KB name or list is cut)
MAX_SHOWN = 200
#: the default of `got`: no value to show (None is a value a file can hold)
NOT_GIVEN: Any = object()


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
        got: Any = NOT_GIVEN,
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
        # `got` may be None itself (a `null` in the file): a sentinel tells "not given" apart
        self.got_given = got is not NOT_GIVEN
        self.got = got if self.got_given else None
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
            where.append(clip(self.file, 2 * MAX_SHOWN) + (f":{self.line}" if self.line else ""))
        elif self.line:
            where.append(f"line {self.line}")
        if self.index is not None or self.layer:
            label = "layer"
            if self.index is not None:
                label += f" {self.index}"
            if self.layer:
                label += f" '{clip(self.layer, 100)}'"
            where.append(label)
        if self.field:
            where.append(f"field '{clip(self.field, 100)}'")
        message = _cut(self.message, 4 * MAX_SHOWN)
        text = ": ".join(where + [message]) if where else message
        details = ([f"got {_show(self.got)}"] if self.got_given else []) + (
            [f"expected {_cut(str(self.expected), 2 * MAX_SHOWN)}"] if self.expected is not None else [])
        if details:
            text += f" ({', '.join(details)})"
        if self.hint:
            text += f"; {_cut(self.hint, 4 * MAX_SHOWN)}"
        return one_line(text)


def one_line(text: str) -> str:
    """Text as one line: control characters (a newline or a terminal escape a file put in a name) shown as
    escapes, never acted on. Every error prints through this, whoever built its message.

    >>> one_line("node 'a\\nb\\x1b[31m': bad")
    "node 'a\\\\nb\\\\x1b[31m': bad"
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


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


class CnnCalcWarning(UserWarning):
    """Something that works but is probably not what the user meant (a channels-first input); the command
    line prints it as one `warning:` line on standard error and carries on."""


class _ShortRepr(reprlib.Repr):
    """repr() that stops early: a million-element list costs what its first few items cost."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict, self.maxset = 4, 12, 12, 8, 8
        self.maxstring, self.maxother, self.maxlong = MAX_SHOWN, MAX_SHOWN, MAX_SHOWN

    # the loader's line-aware containers print like plain ones
    def repr_LineDict(self, x: dict, level: int) -> str:
        return self.repr_dict(x, level)

    def repr_LineList(self, x: list, level: int) -> str:
        return self.repr_list(x, level)


_short_repr = _ShortRepr()


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def clip(value: Any, limit: int = MAX_SHOWN) -> str:
    """A piece of user text as a message may show it: control characters escaped (a newline in a name
    cannot forge a line of output), at most ``limit`` characters (a 100 KB value is not echoed).

    >>> clip("x" * 500, 10)
    'xxxxxxxxxx… (500 characters)'
    """
    text = value if isinstance(value, str) else str(value)
    size = len(text)
    if size > limit:
        text = text[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if size <= limit else f"{text}… ({size:,} characters)"


def show(value: Any) -> str:
    """A user value for a message, as Python would write it, cut to a few hundred characters."""
    try:
        text = _short_repr.repr(value)
    except Exception:  # a value whose repr fails is still worth one word  # noqa: BLE001
        text = f"<{type(value).__name__}>"
    return _cut(text, MAX_SHOWN + 20)


_show = show


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'kernel'?"`` for a near miss, else None.

    >>> did_you_mean("kernal", ["kernel", "stride"])
    "did you mean 'kernel'?"
    """
    import difflib  # only when a name is wrong: not on the path of a good run

    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
