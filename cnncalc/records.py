"""Plain data classes without the dataclasses module, for the classes `cnncalc summary` loads.

Importing :mod:`dataclasses` brings :mod:`inspect` (and with it ``ast``, ``dis``, ``tokenize``, ``enum``), and
each decorated class is compiled from generated source when its module loads: together more than the rest of
a summary's start-up. A :class:`Record` writes its ``__init__`` by hand and lists its ``_fields``; equality,
``repr`` and :meth:`Record.replace` then behave as a dataclass's ``==``, ``repr`` and
``dataclasses.replace``, and a :class:`FrozenRecord` refuses assignment and hashes as a frozen dataclass.

>>> class Point(FrozenRecord):
...     _fields = ("x", "y")
...     def __init__(self, x: int, y: int = 0) -> None:
...         self._set(x=x, y=y)
>>> Point(1), Point(1) == Point(1, 0), Point(1) == Point(2), Point(1).replace(y=2), hash(Point(1)) == hash(Point(1, 0))
(Point(x=1, y=0), True, False, Point(x=1, y=2), True)
>>> Point(1).x = 2
Traceback (most recent call last):
...
AttributeError: cannot assign to field 'x'
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any, ClassVar

    from typing_extensions import Self  # (typing.Self from Python 3.11)


class Record:
    """A data class: ``_fields`` in ``__init__``'s order, each one an attribute."""

    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()  # type: ignore[attr-defined]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value, as a dataclass

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({shown})"

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (as ``dataclasses.replace``)."""
        unknown = sorted(set(changes) - set(self._fields))
        if unknown:
            raise TypeError(f"{type(self).__qualname__} has no field {unknown[0]!r}")
        return type(self)(**{name: changes.get(name, getattr(self, name)) for name in self._fields})


class FrozenRecord(Record):
    """A :class:`Record` whose fields are set once, by ``__init__`` through :meth:`_set`; hashable."""

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]  # frozen: hashable, as a frozen dataclass
        return hash(self._values())
