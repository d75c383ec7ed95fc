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

from ..errors import CnnCalcError, clip

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 2_000_000  # values after alias expansion: stops "billion laughs" documents
MAX_INT_DIGITS = 4000  # an integer, in any YAML form, must be below 10**4000
MAX_NUMBER_TEXT = 14_000  # characters of one number's text (4000 decimal digits are 13,288 binary ones)
_INT_LIMIT = 10**MAX_INT_DIGITS

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


_LOADER: list[type] = []  # the loader class, made on first use: PyYAML is imported only when text is parsed


def _loader_class() -> type:
    """SafeLoader (libyaml-backed when present); used to compose nodes, which we then build ourselves."""
    if _LOADER:
        return _LOADER[0]
    import yaml

    class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        _resolved: dict[str, str] = {}

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            # Implicit tags depend only on the text of a plain scalar; specs repeat the same few words
            # and numbers thousands of times, so remember them (bounded).
            if kind is yaml.ScalarNode and implicit[0]:
                tag = self._resolved.get(value)
                if tag is None:
                    tag = super().resolve(kind, value, implicit)
                    if len(self._resolved) < 10_000 and len(value) <= 64:  # (the cache outlives the document)
                        self._resolved[value] = tag
                return tag
            return super().resolve(kind, value, implicit)

    _LOADER.append(_Loader)
    return _Loader


_NOTHING = object()
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Frame:
    """An open sequence or mapping while its events arrive."""

    __slots__ = ("anchor", "explicit", "height", "is_map", "key", "key_line", "merge", "merges", "start",
                 "value")

    def __init__(self, value: Any, is_map: bool, anchor: str | None, start: int) -> None:
        self.value = value
        self.is_map = is_map
        self.anchor = anchor
        self.start = start  # values counted before it opened
        self.height = 0
        self.key: Any = _NOTHING
        self.key_line = 0
        self.merge = False  # the pending key is '<<'
        self.merges: list[LineDict] = []


class _Builder:
    """Builds plain Python values with line numbers straight from the parser's events.

    Working on events, not on composed nodes, is what bounds nesting: libyaml's composer recurses once
    per level in C, so a document nested 60,000 levels deep crashed the process before any check could
    run. Here the open collections live on an explicit stack, refused past MAX_DEPTH as soon as the
    level opens. Aliases reuse the value built for their anchor and count its size again (so "billion
    laughs" documents hit MAX_VALUES); merge keys ('<<') follow YAML 1.1: the mapping's own keys
    override merged ones, earlier merged mappings override later ones.
    """

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.anchors: dict[str, tuple[Any, int, int]] = {}  # anchor → (value, values inside, height)
        self.open: set[str] = set()
        self.values = 0

    def build(self) -> Any:
        import yaml

        get = self.loader.get_event
        get()  # stream start
        event = get()
        if type(event) is yaml.StreamEndEvent:
            return None
        stack: list[_Frame] = []
        resolve = self.loader.resolve
        anchors = self.anchors
        while True:
            event = get()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                if len(stack) > MAX_DEPTH:
                    raise _too_deep(event)
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolve(yaml.ScalarNode, event.value, event.implicit)
                if tag == _STR:
                    value = event.value
                elif tag == _MERGE and stack and stack[-1].is_map and stack[-1].key is _NOTHING:
                    stack[-1].merge = True
                    value = "<<"
                else:
                    value = self._scalar(tag, event)
                height = 0
                self.values += 1
                if self.values > MAX_VALUES:
                    raise _too_many(event)
                if event.anchor is not None:
                    anchors[event.anchor] = (value, 1, 0)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if len(stack) >= MAX_DEPTH + 1:
                    raise _too_deep(event)
                tag = event.tag
                is_map = kind is yaml.MappingStartEvent
                if tag is not None and tag != "!" and tag != (_MAP if is_map else _SEQ):
                    raise _bad_tag(tag, event)
                container: Any = LineDict() if is_map else LineList()
                container.line = event.start_mark.line + 1
                if event.anchor is not None:
                    self.open.add(event.anchor)
                stack.append(_Frame(container, is_map, event.anchor, self.values))
                continue
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = stack.pop()
                value = frame.value
                if frame.merges:
                    value = _merged(value, frame.merges)
                height = frame.height
                self.values += 1
                if self.values > MAX_VALUES:
                    raise _too_many(event)
                if frame.anchor is not None:
                    self.open.discard(frame.anchor)
                    anchors[frame.anchor] = (value, self.values - frame.start, height)
            elif kind is yaml.AliasEvent:
                name = event.anchor
                if name in self.open:
                    raise CnnCalcError("recursive alias", line=event.start_mark.line + 1)
                if name not in anchors:
                    raise CnnCalcError(f"unknown alias *{clip(name, 60)}", line=event.start_mark.line + 1)
                value, size, height = anchors[name]
                if len(stack) + height > MAX_DEPTH:
                    raise _too_deep(event)
                self.values += size
                if self.values > MAX_VALUES:
                    raise _too_many(event)
            else:  # document end
                break
            if not stack:
                result = value
                continue  # the next event ends the document
            frame = stack[-1]
            frame.height = max(frame.height, height + 1)
            if not frame.is_map:
                frame.value.append(value)
            elif frame.key is _NOTHING:
                try:
                    hash(value)
                except TypeError:
                    raise CnnCalcError("a mapping key must be a plain value",
                                       line=event.start_mark.line + 1) from None
                frame.key = value
                frame.key_line = event.start_mark.line + 1
            else:
                key, frame.key = frame.key, _NOTHING
                if frame.merge:
                    frame.merge = False
                    _add_merge(frame, value, frame.key_line)
                    continue
                mapping = frame.value
                if key in mapping:
                    raise CnnCalcError(f"duplicate key {clip(repr(key), 80)} (first on line "
                                       f"{mapping.key_lines[key]})", line=frame.key_line)
                mapping[key] = value
                mapping.key_lines[key] = frame.key_line
        event = get()
        if type(event) is not yaml.StreamEndEvent:
            raise CnnCalcError("expected a single document, found another one ('---')",
                               line=event.start_mark.line + 1)
        return result

    def _scalar(self, tag: str, event: Any) -> Any:
        import yaml

        text = event.value
        if tag == _INT:
            if text.isdigit() and len(text) <= 18:  # the common case, exact and fast
                return int(text)
            return _integer(text, event.start_mark.line + 1)
        if tag == _NULL:
            return None
        if tag in (_MERGE, _VALUE):  # '<<' not as a key, and '=': YAML 1.1 gives them no value but text
            return text
        if tag == _BOOL:
            value = yaml.SafeLoader.bool_values.get(text.lower())
            if value is None:  # only an explicit !!bool tag gets here with another word
                raise CnnCalcError("bad bool value", line=event.start_mark.line + 1, got=text,
                                   expected="true or false")
            return value
        if tag == _FLOAT and len(text) > MAX_NUMBER_TEXT:
            raise CnnCalcError(f"number too long (more than {MAX_NUMBER_TEXT:,} characters)",
                               line=event.start_mark.line + 1, got=text, expected="a shorter number")
        constructor = yaml.SafeLoader.yaml_constructors.get(tag)
        if constructor is None or tag.endswith((":seq", ":map", ":omap", ":pairs", ":set")):
            raise _bad_tag(tag, event)
        node = yaml.ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)
        try:
            return constructor(self.loader, node)
        except Exception as error:  # noqa: BLE001 - the constructors fail in many ways on odd text
            kind = tag.rsplit(":", 1)[-1]
            raise CnnCalcError(f"bad {kind} value", line=event.start_mark.line + 1, got=text,
                               expected=f"a YAML {kind}; {clip(str(error).splitlines()[0] if str(error) else '', 120)}"
                               ) from None


def _too_deep(event: Any) -> CnnCalcError:
    return CnnCalcError(f"nesting deeper than {MAX_DEPTH} levels", line=event.start_mark.line + 1)


def _too_many(event: Any) -> CnnCalcError:
    return CnnCalcError(f"too many values (more than {MAX_VALUES:,} after expanding aliases)",
                        line=event.start_mark.line + 1)


def _bad_tag(tag: str, event: Any) -> CnnCalcError:
    return CnnCalcError(f"tag not allowed: {clip(tag, 80)}; only plain YAML values are read",
                        line=event.start_mark.line + 1)


def _add_merge(frame: _Frame, value: Any, line: int) -> None:
    sources = value if isinstance(value, list) else [value]
    if not sources or not all(isinstance(source, LineDict) for source in sources):
        raise CnnCalcError("a merge key '<<' takes a mapping or a list of mappings (usually an alias)", line=line)
    frame.merges.extend(sources)


def _merged(own: LineDict, merges: list[LineDict]) -> LineDict:
    result = LineDict()
    result.line = own.line
    for source in merges:  # the first mapping that has a key gives its value
        for key, item in source.items():
            if key not in own and key not in result:
                result[key] = item
                line = source.line_of(key)
                if line is not None:  # (the loader's mappings always know their lines)
                    result.key_lines[key] = line
    result.update(own)
    result.key_lines.update(own.key_lines)
    return result


def _integer(text: str, line: int) -> int:
    """Every YAML 1.1 integer form (decimal, 0x, 0b, sexagesimal, underscores), capped by its size before
    and after conversion, so no form escapes the digit cap. Leading zeros mean decimal, as in YAML 1.2
    and as people mean them (``064`` is 64, not octal 52)."""
    digits = text.replace("_", "")
    sign = 1
    if digits[:1] in ("-", "+"):
        sign = -1 if digits[0] == "-" else 1
        digits = digits[1:]
    if len(digits) > MAX_NUMBER_TEXT:
        raise CnnCalcError(f"integer too long (more than {MAX_INT_DIGITS:,} digits)", line=line,
                           got=text, expected="a smaller integer")
    try:
        if digits.startswith(("0b", "0x")):
            value = int(digits, 0)
        elif ":" in digits:
            value = 0
            for part in digits.split(":"):
                value = value * 60 + int(part)
        else:
            if len(digits.lstrip("0")) > MAX_INT_DIGITS:
                raise CnnCalcError(f"integer too long (more than {MAX_INT_DIGITS:,} digits)", line=line,
                                   got=text, expected="a smaller integer")
            value = int(digits)
    except ValueError:
        raise CnnCalcError("bad integer", line=line, got=text, expected="a YAML integer") from None
    if value >= _INT_LIMIT:
        raise CnnCalcError(f"integer too long (more than {MAX_INT_DIGITS:,} digits)", line=line,
                           got=text, expected="a smaller integer")
    return sign * value


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
    import yaml

    try:
        loader = _loader_class()(text)
        try:
            with collector_paused():
                data = _Builder(loader).build()
        finally:
            loader.dispose()
    except CnnCalcError as error:
        raise error.with_context(file=source) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        if "nesting" in problem:
            # libyaml (PyYAML >= 6.0.4) has a nesting limit of its own, far above ours; its scanner reads
            # ahead through flow collections, so it can trip before the builder sees level MAX_DEPTH + 1
            raise CnnCalcError(f"nesting deeper than {MAX_DEPTH} levels", file=source, line=line) from None
        raise CnnCalcError(f"YAML syntax error: {problem}", file=source, line=line) from None
    except (RecursionError, ValueError) as error:
        what = f"nesting deeper than {MAX_DEPTH} levels" if isinstance(error, RecursionError) else f"bad value: {error}"
        raise CnnCalcError(what, file=source) from None
    return data


def open_regular(path: str | Path, cap: int | None, what: str) -> tuple[int, int]:
    """(file descriptor, size) of a regular file of at most ``cap`` bytes (None: any size), opened without
    blocking (a FIFO with no writer cannot hang the command); the caller closes it."""
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
        if cap is not None and info.st_size > cap:
            raise CnnCalcError(f"{what} too large ({info.st_size:,} bytes, at most {cap:,})", file=name)
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def read_limited(path: str | Path, cap: int = MAX_BYTES, what: str = "file", head: bool = False) -> bytes:
    """Read at most ``cap`` bytes of a regular file, refusing FIFOs, devices and folders.

    The size is checked on what is read, not on ``stat()`` alone (``/dev/zero`` reports 0 bytes), and the
    file is opened without blocking, so a FIFO with no writer cannot hang the command. ``head=True``
    reads the first ``cap`` bytes of a larger file instead of refusing it.
    """
    import os

    name = str(path)
    fd, _ = open_regular(path, None if head else cap, what)
    try:
        chunks = []
        left = cap if head else cap + 1
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
        label = "" if what == "file" else f" (the {what})"
        raise CnnCalcError(f"not a UTF-8 text file{label}", file=str(path)) from None
    return loads(text, str(path))
