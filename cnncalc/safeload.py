"""Safe reading of untrusted YAML/JSON: no Python tags, size and depth caps, line numbers kept.

Mappings come back as :class:`LineDict` (a dict that remembers the line of each key) and
sequences as :class:`LineList`, so later validation can point at the offending line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import CnnCalcError

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict):
    """A mapping that knows the (1-based) line of itself and of each of its keys."""

    __slots__ = ("line", "key_lines")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line: int | None = None
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line)


class LineList(list):
    __slots__ = ("line",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line: int | None = None


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """SafeLoader (libyaml-backed when present) that records line numbers and rejects duplicate keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise CnnCalcError("a mapping key must be a plain value", line=key_node.start_mark.line + 1) from None
        if key in result:
            raise CnnCalcError(
                f"duplicate key {key!r} (first on line {result.key_lines[key]})",
                line=key_node.start_mark.line + 1,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _check_depth(node: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise CnnCalcError(f"nesting deeper than {MAX_DEPTH} levels")
    if isinstance(node, dict):
        for value in node.values():
            _check_depth(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _check_depth(value, depth + 1)


def loads(text: str, source: str = "<string>") -> Any:
    """Parse YAML (or JSON, which is YAML) text safely.

    >>> loads("a: [1, 2]")["a"]
    [1, 2]
    """
    if len(text) > MAX_BYTES:
        raise CnnCalcError(f"file too large ({len(text)} bytes, at most {MAX_BYTES})", file=source)
    try:
        # libyaml resolves aliases itself; a depth check afterwards catches alias bombs that nest.
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader subclass
    except CnnCalcError as error:
        raise error.with_context(file=source) from None
    except yaml.constructor.ConstructorError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        raise CnnCalcError(
            f"tag not allowed: {error.problem}; only plain YAML values are read", file=source, line=line
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise CnnCalcError(f"YAML syntax error: {problem}", file=source, line=line) from None
    except RecursionError:
        raise CnnCalcError(f"nesting deeper than {MAX_DEPTH} levels", file=source) from None
    try:
        _check_depth(data)
    except RecursionError:
        raise CnnCalcError(f"nesting deeper than {MAX_DEPTH} levels", file=source) from None
    except CnnCalcError as error:
        raise error.with_context(file=source) from None
    return data


def load_file(path: str | Path) -> Any:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise CnnCalcError(f"file too large ({size} bytes, at most {MAX_BYTES})", file=str(path))
        raw = path.read_bytes()
    except OSError as error:
        raise CnnCalcError(f"cannot read file: {error.strerror}", file=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CnnCalcError("not a UTF-8 text file", file=str(path)) from None
    return loads(text, str(path))
