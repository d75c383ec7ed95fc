"""Writing what a renderer made: whole or not at all, to the kind of file asked for."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import CnnCalcError


def write_text(path: str, text: str, suffixes: tuple[str, ...], inputs: Iterable[str | None] = ()) -> None:
    """Write `text` to `path` by the rules of :func:`cnncalc.outputs.write_output` (whole or not at all,
    through a link, never over a device or one of the command's `inputs`).

    The suffix must be one of `suffixes`; a folder, or a folder that does not exist, is a clear error.
    """
    from pathlib import Path  # (neither is loaded by a summary printed to the terminal)

    from ..outputs import write_output

    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise CnnCalcError("unknown file type", file=path, got=target.suffix or "(none)",
                           expected=" or ".join(suffixes))
    write_output(path, text, inputs=inputs)
