"""A time budget for symbolic work (`solve`, `solve --spec`, summaries of symbolic specs, the keys of
`check`, `grade`, `generate` and `key`): past it, the work stops with "expression too complex" (exit 2)
instead of running on.

One budget per command, not per solver call: a command opens a :class:`shared_budget`, and every
:class:`time_budget` inside it spends from the same allowance, so six `sizes` questions of a problem share
10 s rather than getting 10 s each. Only the time inside a ``time_budget`` counts: reading files, running
the executor and writing reports are bounded by their own limits, and an alarm never lands in them.

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
import sys
import time
from _thread import _local  # threading.local itself: `summary` starts without loading threading

from ..errors import CnnCalcError

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any

SECONDS = 10.0  # default budget for one command's symbolic work
MAX_SECONDS = 3600.0
REPEAT = 0.1  # seconds between alarms once the budget is spent, until the work stops
SOON = 0.001  # seconds to the next alarm when one lands in the budget's own entry or exit
ENVIRONMENT = "CNNCALC_SYMBOLIC_SECONDS"


class BudgetExceeded(BaseException):
    """Raised inside the work when the budget is spent; turned into a CnnCalcError at the boundary."""


_state = _local()


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
    # Never inside the budget's own entry and exit: an exception there would escape the `with` before its
    # clean-up is in place (or cut the clean-up short), leaving the repeating timer running after the work.
    # The next alarm, SOON after, finds the work itself.
    if not getattr(_state, "armed", False):
        return
    if _inside_the_work(frame, getattr(_state, "owner", None)):
        raise BudgetExceeded
    import signal  # (imported by time_budget before any alarm: no import machinery runs here)

    signal.setitimer(signal.ITIMER_REAL, SOON, REPEAT)


def _inside_the_work(frame: Any, owner: Any) -> bool:
    """Whether an alarm may raise in `frame`: it runs the budgeted work (the frame that opened the budget
    is on its stack), not the budget's own code, and no import is under way in it (a module cut halfway
    stays half-made in sys.modules for the rest of the process). Anywhere else, the next alarm decides."""
    while frame is not None:
        code = frame.f_code
        if code in _OWN_CODE or code.co_filename.startswith("<frozen importlib"):
            return False
        if frame is owner:
            return True
        frame = frame.f_back
    return owner is None


class shared_budget:  # used as a function: `with shared_budget():`
    """One allowance for every time budget opened in the body (a command's, a key's); nested shared budgets
    leave the outer one in charge. It arms nothing itself: the time budgets inside do, each for what is left.

    >>> with shared_budget():
    ...     with time_budget("a first sum"):
    ...         _ = sum(range(10))
    ...     with time_budget("a second sum"):
    ...         sum(range(5))
    10
    """

    def __init__(self) -> None:
        self.outer = False

    def __enter__(self) -> None:
        if getattr(_state, "spent", None) is not None:
            self.outer = True
            return
        _state.spent = 0.0

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: object) -> None:
        if not self.outer:
            _state.spent = None


def _too_complex(what: str, limit: float, hint: str | None, spent: float) -> CnnCalcError:
    shared = f" ({spent:.1f} s of it spent by the work before)" if spent > 0 else ""
    return CnnCalcError(f"expression too complex: {what} took longer than the time budget of {limit:g} s{shared}",
                        hint=(hint or "give numbers for some symbols, or simplify the expression")
                        + f"; {ENVIRONMENT} sets the budget")


class time_budget:  # used as a function: `with time_budget(...):`
    """Run the body under the budget; nested budgets leave the outer one in charge. Inside a
    :class:`shared_budget`, the body gets what the earlier budgets of that allowance left."""

    def __init__(self, what: str, seconds: float | None = None, hint: str | None = None) -> None:
        self.what, self.seconds, self.hint = what, seconds, hint
        self.limit = 0.0
        self.outer = False
        self.use_signal = False
        self.started = 0.0
        self.previous_handler: Any = None
        self.previous_timer: tuple[float, float] = (0.0, 0.0)
        self.spent_before = 0.0

    def __enter__(self) -> None:
        if getattr(_state, "deadline", None) is not None:
            self.outer = True
            return
        self.limit = budget_seconds() if self.seconds is None else self.seconds
        self.spent_before = getattr(_state, "spent", None) or 0.0
        left = self.limit - self.spent_before
        if left <= 0:  # an earlier part of the command spent it all
            raise _too_complex(self.what, self.limit, self.hint, self.spent_before)
        import signal  # (only symbolic work is timed: a numeric summary never loads it)
        import threading

        import sympy  # noqa: F401 - imported before arming: an import cut halfway would leave sympy half-made

        self.use_signal = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        _state.owner = sys._getframe(1)  # the frame whose `with` body is the work
        self.started = _now()
        _state.deadline = self.started + left
        if self.use_signal:
            self.previous_handler = signal.signal(signal.SIGALRM, _alarm)
            _state.armed = True
            # and again every REPEAT seconds: library code that swallows one exception (a bare `except:`)
            # must not turn the budget off. Set last: from here on, only the work can be interrupted.
            self.previous_timer = signal.setitimer(signal.ITIMER_REAL, left, REPEAT)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: object) -> None:
        if self.outer:
            return
        _state.armed = False
        _state.deadline = None
        _state.owner = None
        if getattr(_state, "spent", None) is not None:
            _state.spent = self.spent_before + (_now() - self.started)
        if self.use_signal:
            import signal  # (already imported by __enter__)

            signal.setitimer(signal.ITIMER_REAL, 0)
            previous = self.previous_handler
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
            if self.previous_timer[0] > 0:  # someone else's timer: give back what is left
                left = max(self.previous_timer[0] - (_now() - self.started), 0.001)
                signal.setitimer(signal.ITIMER_REAL, left, self.previous_timer[1])
        if kind is not None and issubclass(kind, BudgetExceeded):
            raise _too_complex(self.what, self.limit, self.hint, self.spent_before) from None


_OWN_CODE = frozenset({_alarm.__code__, _inside_the_work.__code__, time_budget.__enter__.__code__,
                       time_budget.__exit__.__code__, shared_budget.__enter__.__code__,
                       shared_budget.__exit__.__code__, _now.__code__})
