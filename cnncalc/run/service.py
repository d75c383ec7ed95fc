"""`cnncalc run`'s files: the output paths, checked before any work, and the final output written."""

from __future__ import annotations

from typing import Any

from ..errors import CnnCalcError

OUTPUT_SUFFIXES = (".npy", ".json")
MAPS_SUFFIXES = (".png", ".jpg", ".jpeg")


def _check_output_path(path: str, suffixes: tuple[str, ...], option: str, inputs: list[str | None]) -> None:
    """Refuse an output path before any work: a known extension, not a folder, its folder present, and
    what every output must be (see cnncalc.outputs)."""
    import os

    from ..outputs import check_output

    if not path.lower().endswith(suffixes):
        raise CnnCalcError(f"{option} must end in " + " or ".join(suffixes), got=path,
                           expected="a file name such as OUT" + suffixes[0])
    if os.path.isdir(path):
        raise CnnCalcError(f"{option} names a folder", file=path, expected="a file name such as OUT" + suffixes[0],
                           got=path)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise CnnCalcError(f"{option}: the folder does not exist", file=path, got=folder,
                           expected="an existing folder")
    check_output(path, inputs)


def _json_values(array: Any) -> Any:
    """Nested lists for JSON; NaN and infinities (overflow in a layer) become null: JSON has no such numbers."""
    import numpy as np

    if np.all(np.isfinite(array)):
        return array.tolist()
    return np.where(np.isfinite(array), array, None).tolist()


def _write_output(path: str, array: Any, inputs: list[str | None]) -> None:
    import json

    import numpy as np

    from ..outputs import write_output

    if path.lower().endswith(".json"):
        write_output(path, json.dumps(_json_values(array), allow_nan=False), inputs=inputs)
    else:  # a file object: numpy would append ".npy" to a name
        write_output(path, lambda handle: np.save(handle, array, allow_pickle=False), inputs=inputs)
