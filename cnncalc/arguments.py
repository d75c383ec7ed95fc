"""Arguments of the library functions that take several names or paths."""

from __future__ import annotations

import os
from collections.abc import Iterable


def one_or_many(value: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None) -> list[str]:
    """A lone name or path is one item, never its characters: ``grade(problem, "answers/")`` grades that
    folder, as ``grade(problem, ["answers/"])`` does.

    >>> one_or_many("answers/"), one_or_many(["a.yaml", "b.yaml"]), one_or_many(None)
    (['answers/'], ['a.yaml', 'b.yaml'], [])
    """
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    return [os.fspath(item) for item in value]
