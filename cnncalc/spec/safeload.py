"""Safe reading of untrusted YAML/JSON: no Python tags, size, depth and alias caps, line numbers kept.

Mappings come back as :class:`LineDict` (a dict that remembers the line of each key) and
sequences as :class:`LineList`, so later validation can point at the offending line.

>>> loads("a: [1, 2]")["a"]
[1, 2]
>>> loads("layers:\\n  - {type: conv}\\n")["layers"][0].line
2
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from ..errors import CnnCalcError

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 2_000_000  # values after alias expansion: stops "billion laughs" documents

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"


class LineDict(dict):
    """A mapping that knows the (1-based) line of itself and of each of its keys."""

    __slots__ = ("key_lines", "line")

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
    """SafeLoader (libyaml-backed when present); used to compose nodes, which we then build ourselves."""

    _resolved: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        # Implicit tags depend only on the text of a plain scalar; specs repeat the same few words
        # and numbers thousands of times, so remember them (bounded).
        if kind is yaml.ScalarNode and implicit[0]:
            tag = self._resolved.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._resolved) < 10_000:
                    self._resolved[value] = tag
            return tag
        return super().resolve(kind, value, implicit)


class _Builder:
    """Turns composed YAML nodes into plain Python values with line numbers.

    Faster than PyYAML's generic constructor for the plain ints and strings specs are made of; any
    other scalar tag goes through SafeConstructor's own method, and a tag it does not know is refused.
    """

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.done: dict[int, tuple[Any, int, int]] = {}  # id → (value, values inside, height)
        self.active: set[int] = set()
        self.values = 0
        self.height = 0  # height of the value built last

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        key = id(node)
        if key in self.done:
            value, size, height = self.done[key]
            if depth + height > MAX_DEPTH:
                raise CnnCalcError(f"nesting deeper than {MAX_DEPTH} levels", line=node.start_mark.line + 1)
            self._count(size, node)
            self.height = height
            return value
        if depth > MAX_DEPTH:
            raise CnnCalcError(f"nesting deeper than {MAX_DEPTH} levels", line=node.start_mark.line + 1)
        before = self.values
        height = 0
        if isinstance(node, yaml.ScalarNode):
            value = self._scalar(node)
            self._count(1, node)
        elif key in self.active:
            raise CnnCalcError("recursive alias", line=node.start_mark.line + 1)
        else:
            self.active.add(key)
            if isinstance(node, yaml.SequenceNode):
                if node.tag != "tag:yaml.org,2002:seq":
                    raise _bad_tag(node)
                value = LineList()
                for child in node.value:
                    value.append(self.build(child, depth + 1))
                    height = max(height, self.height + 1)
                value.line = node.start_mark.line + 1
            else:
                if node.tag != "tag:yaml.org,2002:map":
                    raise _bad_tag(node)
                value, height = self._mapping(node, depth)
            self._count(1, node)
            self.active.discard(key)
        self.done[key] = (value, self.values - before, height)
        self.height = height
        return value

    def _count(self, size: int, node: yaml.Node) -> None:
        self.values += size
        if self.values > MAX_VALUES:
            raise CnnCalcError(f"too many values (more than {MAX_VALUES:,} after expanding aliases)",
                               line=node.start_mark.line + 1)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if tag == _STR:
            return text
        if tag == _INT and (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())):
            if len(text) > 4000:
                raise CnnCalcError("integer too long", line=node.start_mark.line + 1)
            return int(text)
        constructor = yaml.SafeLoader.yaml_constructors.get(tag)
        if constructor is None or tag.endswith((":seq", ":map", ":omap", ":pairs", ":set")):
            raise _bad_tag(node)
        return constructor(self.loader, node)

    def _mapping(self, node: yaml.MappingNode, depth: int) -> tuple[LineDict, int]:
        self.loader.flatten_mapping(node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        height = 0
        for key_node, value_node in node.value:
            key = self.build(key_node, depth + 1)
            line = key_node.start_mark.line + 1
            try:
                hash(key)
            except TypeError:
                raise CnnCalcError("a mapping key must be a plain value", line=line) from None
            if key in result:
                raise CnnCalcError(f"duplicate key {key!r} (first on line {result.key_lines[key]})", line=line)
            result[key] = self.build(value_node, depth + 1)
            height = max(height, self.height + 1)
            result.key_lines[key] = line
        return result, height


def _bad_tag(node: yaml.Node) -> CnnCalcError:
    return CnnCalcError(f"tag not allowed: {node.tag}; only plain YAML values are read",
                        line=node.start_mark.line + 1)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Building tens of thousands of small objects makes the cyclic collector rescan a growing heap
    (quadratic in effect); nothing built here forms a cycle, so pause it while building.
    Used by the loader, the spec builder and the analysis."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def loads(text: str, source: str = "<string>") -> Any:
    """Parse YAML (or JSON, which is YAML) text safely."""
    if len(text) > MAX_BYTES:
        raise CnnCalcError(f"file too large ({len(text)} bytes, at most {MAX_BYTES})", file=source)
    try:
        loader = _Loader(text)
        try:
            with collector_paused():
                node = loader.get_single_node()
                data = None if node is None else _Builder(loader).build(node)
        finally:
            loader.dispose()
    except CnnCalcError as error:
        raise error.with_context(file=source) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise CnnCalcError(f"YAML syntax error: {problem}", file=source, line=line) from None
    except (RecursionError, ValueError) as error:
        what = f"nesting deeper than {MAX_DEPTH} levels" if isinstance(error, RecursionError) else f"bad value: {error}"
        raise CnnCalcError(what, file=source) from None
    return data


def read_limited(path: str | Path, cap: int = MAX_BYTES, what: str = "file") -> bytes:
    """Read at most ``cap`` bytes of a regular file, refusing FIFOs, devices and folders.

    The size is checked on what is read, not on ``stat()`` alone (``/dev/zero`` reports 0 bytes), and the
    file is opened without blocking, so a FIFO with no writer cannot hang the command.
    """
    import os
    import stat

    name = str(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise CnnCalcError(f"cannot read the {what}: {error.strerror}", file=name) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise CnnCalcError(f"cannot read the {what}: {kind}", file=name)
        if info.st_size > cap:
            raise CnnCalcError(f"{what} too large ({info.st_size:,} bytes, at most {cap:,})", file=name)
        chunks = []
        left = cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as error:
        raise CnnCalcError(f"cannot read the {what}: {error.strerror}", file=name) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > cap:
        raise CnnCalcError(f"{what} too large (more than {cap:,} bytes)", file=name)
    return data


def load_file(path: str | Path, cap: int = MAX_BYTES, what: str = "file") -> Any:
    raw = read_limited(path, cap, what)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CnnCalcError(f"not a UTF-8 text {what}", file=str(path)) from None
    return loads(text, str(path))
