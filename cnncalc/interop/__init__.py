"""Bringing models in and taking specs out: ONNX import and export (``onnx`` extra), Keras import, PyTorch
and Keras code export. Each module is imported lazily; none is needed for the rest of cnncalc."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import CnnCalcError

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


def interop_module(name: str, what: str) -> Any:
    """``cnncalc.interop.<name>``, or a clear error when this installation does not have it."""
    import importlib.util  # (not loaded by `summary`)

    full = f"{__name__}.{name}"
    if importlib.util.find_spec(full) is None:
        raise CnnCalcError(f"{what} is not available in this version of cnncalc")
    return importlib.import_module(full)


def dump_spec(spec: dict[str, Any], comment: str = "") -> str:
    """A spec mapping as YAML: one flow mapping per layer, as the built-in specs are written.

    >>> print(dump_spec({"name": "t", "input": [8, 8, 3], "layers": [{"type": "conv", "filters": 4, "kernel": 3}]}))
    name: t
    input: [8, 8, 3]
    layers:
      - {type: conv, filters: 4, kernel: 3}
    <BLANKLINE>
    """
    import yaml

    def flow(value: Any) -> str:
        # inside a list, so that a lone scalar gets no document-end marker
        return yaml.safe_dump([value], default_flow_style=True, width=10**9, sort_keys=False).strip()[1:-1]

    lines = [f"# {comment}"] if comment and comment.isprintable() else []
    for key, value in spec.items():
        if key != "layers":
            lines.append(f"{key}: {flow(value)}")
    lines.append("layers:")
    lines.extend(f"  - {flow(layer)}" for layer in spec["layers"])
    return "\n".join(lines) + "\n"


def write_npz(path: str, weights: dict[str, Any], inputs: Iterable[str | None] = ()) -> None:
    """Weights as an uncompressed ``.npz`` (``<layer>.<part>`` keys), written by the rules of
    :func:`cnncalc.outputs.write_output`: whole or not at all, through a link, never over an input."""
    import numpy as np

    from ..outputs import write_output

    def save(handle: Any) -> None:
        # (values Any: the keys are '<layer>.<part>', never savez's own allow_pickle, which mypy cannot tell)
        arrays: dict[str, Any] = {key: np.asarray(value) for key, value in weights.items()}
        np.savez(handle, **arrays)

    write_output(path, save, inputs=inputs)
