"""The files a command reads as a network: a spec (a path, a built-in name, or standard input) or a model
file (ONNX, Keras)."""

from __future__ import annotations

import sys
from typing import Any

from ..errors import CnnCalcError


def _read_spec(spec: str) -> Any:
    from ..spec.network import load_spec, loads_spec

    if spec != "-":
        kind = _model_kind(spec)
        if kind is not None:
            return _import_model(spec, kind, lenient=False, weights=False, check=False)[0]
        return load_spec(spec)
    from ..spec.safeload import MAX_BYTES

    raw = sys.stdin.buffer.read(MAX_BYTES + 1) if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    if len(raw) > MAX_BYTES:
        raise CnnCalcError(f"spec too large (more than {MAX_BYTES:,} bytes)", file="<stdin>")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CnnCalcError("not a UTF-8 text file", file="<stdin>") from None
    return loads_spec(text, "<stdin>")


def _model_kind(path: str) -> str | None:
    """'onnx' or 'keras' for a model file (by extension; a .json only with a Keras model config in it)."""
    lower = path.lower()
    if lower.endswith(".onnx"):
        return "onnx"
    if lower.endswith((".keras", ".json.gz")):
        return "keras"
    if lower.endswith(".json"):
        from ..spec.safeload import read_limited

        try:  # the head only, read as every untrusted file is (a FIFO or a folder is not waited on)
            head = read_limited(path, 4096, "spec", head=True)
        except CnnCalcError:
            return None
        if b'"class_name"' in head:
            return "keras"
    return None


def _import_model(path: str, kind: str, lenient: bool, weights: bool = True,
                  check: bool = True) -> tuple[Any, dict[str, Any], list[str], dict[str, Any]]:
    """(network, weights, flagged layer names, spec mapping) of a model file (``check``: run onnx.checker
    on an ONNX model; a summary does without)."""
    from ..spec.network import build_network
    from . import interop_module

    if kind == "onnx":
        onnx_import = interop_module("onnx_import", "ONNX import")
        imported = onnx_import.import_onnx(path, lenient=lenient, weights=weights, check=check)
        spec, weights, flagged = imported.spec, imported.weights, imported.flagged
    else:
        keras_import = interop_module("keras_import", "Keras import")
        spec, weights = keras_import.import_keras(path, weights=weights)
        flagged = []
    return build_network(spec, path), weights, flagged, spec
