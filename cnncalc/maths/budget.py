"""A time budget for symbolic work (`solve`, `solve --spec`, summaries of symbolic specs, expression
answers): past it, the work stops with "expression too complex" (exit 2) instead of running on.

Why this mechanism. sympy is pure Python, so a SIGALRM timer (``signal.setitimer``) interrupts it between
two bytecodes wherever it is — deep inside ``solve`` or ``simplify`` — with no checks sprinkled through
code we do not own. Its exception derives from ``BaseException`` so that sympy's own ``except Exception``
blocks cannot swallow it. Signals exist only on POSIX and only in the main thread; elsewhere (a worker
thread, Windows) the same budget becomes a deadline that our own loops check (:func:`check`: per layer of
an analysis, per size tried by ``solve --spec``), coarser but still bounded. Neither can stop a single
C-level operation such as a huge big-int power: the caps of :mod:`cnncalc.maths.expr` refuse those
before they start, so the budget is the net behind the caps, not the first line.

>>> with time_budget("a quick sum"):
...     sum(range(10))
45
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import CnnCalcError

SECONDS = 10.0  # default budget for one command's symbolic work
MAX_SECONDS = 3600.0
REPEAT = 0.1  # seconds between alarms once the budget is spent, until the work stops
ENVIRONMENT = "CNNCALC_SYMBOLIC_SECONDS"


class BudgetExceeded(BaseException):
    """Raised inside the work when the budget is spent; turned into a CnnCalcError at the boundary."""


_state = threading.local()


def _now() -> float:
    return time.monotonic()


def budget_seconds() -> float:
    """The budget: ``CNNCALC_SYMBOLIC_SECONDS`` if set (a number of seconds, up to an hour), else SECONDS."""
    text = os.environ.get(ENVIRONMENT)
    if text is None or not text.strip():
        return SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value <= MAX_SECONDS):  # also refuses nan
        raise CnnCalcError(f"bad {ENVIRONMENT}", got=text[:40], expected=f"seconds, more than 0 and at most "
                           f"{MAX_SECONDS:g}")
    return value


def check() -> None:
    """Cooperative check for loops: raise if the running budget is spent (a no-op outside a budget)."""
    deadline = getattr(_state, "deadline", None)
    if deadline is not None and _now() > deadline:
        raise BudgetExceeded


def _alarm(signum: int, frame: object) -> None:
    if getattr(_state, "armed", False):
        raise BudgetExceeded


@contextmanager
def time_budget(what: str, seconds: float | None = None, hint: str | None = None) -> Iterator[None]:
    """Run the body under the budget; nested budgets leave the outer one in charge."""
    if getattr(_state, "deadline", None) is not None:
        yield
        return
    limit = budget_seconds() if seconds is None else seconds
    import sympy  # noqa: F401 - imported before arming: an import cut halfway would leave sympy half-made

    use_signal = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    started = _now()
    _state.deadline = started + limit
    previous_handler = None
    previous_timer: tuple[float, float] | None = None
    if use_signal:
        previous_handler = signal.signal(signal.SIGALRM, _alarm)
    done = []

    def disarm() -> None:
        _state.armed = False
        _state.deadline = None
        if use_signal and not done:
            done.append(True)
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_handler if previous_handler is not None else signal.SIG_DFL)
            if previous_timer and previous_timer[0] > 0:  # someone else's timer: give back what is left
                left = max(previous_timer[0] - (_now() - started), 0.001)
                signal.setitimer(signal.ITIMER_REAL, left, previous_timer[1])

    try:
        try:
            if use_signal:  # armed inside the `try`: even an alarm that fires at once is caught below
                _state.armed = True
                # and again every REPEAT seconds: library code that swallows one exception (a bare
                # `except:`) must not turn the budget off
                previous_timer = signal.setitimer(signal.ITIMER_REAL, limit, REPEAT)
            yield
        finally:
            disarm()
    except BudgetExceeded:
        disarm()  # the alarm may have cut the first clean-up short
        raise CnnCalcError(f"expression too complex: {what} took longer than the time budget of {limit:g} s",
                           hint=(hint or "give numbers for some symbols, or simplify the expression")
                           + f"; {ENVIRONMENT} sets the budget") from None
