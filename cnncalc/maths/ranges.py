"""Sorted integers written as runs (``12–14, 20``), as the solver's size search and the answer keys print
them."""

from __future__ import annotations

from collections.abc import Sequence


def ranges(values: Sequence[int], most: int | None = None) -> str:
    """Sorted integers as runs: [12, 13, 14, 20] → "12–14, 20".

    With ``most``, more runs than that are cut short: a periodic pattern (every 4th size, say) is clearer
    as a step, anything else ends after ``most`` runs with "…".

    >>> ranges([12, 13, 14, 20])
    '12–14, 20'
    >>> ranges([4, 8, 12, 16, 20], most=3)
    '4, 8, … 20 (step 4)'
    >>> ranges([1, 2, 4, 7, 8, 10], most=3)
    '1–2, 4, 7–8, …'
    """
    runs: list[str] = []
    start = prev = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        runs.append(f"{start}" if start == prev else f"{start}–{prev}")
        if value is not None:
            start = prev = value
    if most is not None and len(runs) > most:
        steps = {values[i + 1] - values[i] for i in range(len(values) - 1)}
        if len(steps) == 1:
            return f"{values[0]}, {values[1]}, … {values[-1]} (step {steps.pop()})"
        return ", ".join(runs[:most]) + ", …"
    return ", ".join(runs)
