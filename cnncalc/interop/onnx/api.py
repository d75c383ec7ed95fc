"""The entry points: an ``.onnx`` file or an ``onnx.ModelProto`` in, a spec v2 mapping and cnncalc's weights
out (:class:`~.importer.Imported`), and the validated network of an import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import SpecError
from .checks import check_model, parse_model
from .files import MAX_ONNX_BYTES, read_light, read_whole
from .importer import MAX_TENSOR_ELEMENTS, Imported, _Importer
from .proto import decode_model


def import_model(model: Any, source: str = "<model>", lenient: bool = False,
                 max_elements: int = MAX_TENSOR_ELEMENTS, weights: bool = True) -> Imported:
    """An ``onnx.ModelProto`` as a spec mapping, weights and the flagged layers (checked with onnx.checker)."""
    from ..onnx_export import require_onnx

    importer = _Importer(decode_model(model.SerializeToString(), source), source, lenient, max_elements, weights)
    importer.check_sizes()
    importer.run_checker(lambda: check_model(require_onnx(), model, source, max_elements))
    return importer.run()


def import_onnx(path: str | Path, lenient: bool = False, cap: int = MAX_ONNX_BYTES,
                max_elements: int = MAX_TENSOR_ELEMENTS, weights: bool = True, check: bool = True) -> Imported:
    """Read an ``.onnx`` file (at most ``cap`` bytes) as a spec mapping and weights.

    With ``weights=False`` the file is read without its large tensors (:func:`read_light`): enough for the
    spec, and much faster. With ``check=False`` (a summary) ``onnx.checker`` is not run, so neither the
    ``onnx`` package nor numpy is imported: the nodes are still read in order (a value used before it is
    made is an error) and every layer is checked by cnncalc's own rules.
    """
    source = str(path)
    light = None if weights else read_light(path, cap)  # the file without its large tensors
    raw = read_whole(path, cap) if light is None else light
    # cnncalc's own reader first: it counts before it decodes, where protobuf would build whatever the file
    # declares
    folder = Path(path).parent
    importer = _Importer(decode_model(raw, source), source, lenient, max_elements, weights, folder)
    importer.check_sizes()
    if check:
        from ..onnx_export import require_onnx

        # the checker leaves the weights out anyway: parse the file without them (half the memory for VGG)
        unchecked = read_light(path, cap) if light is None else light
        importer.run_checker(lambda: check_model(require_onnx(), parse_model(unchecked, source), source,
                                                 max_elements, folder))
    return importer.run()



def network_of(imported: Imported, source: str) -> Any:
    """The validated :class:`Network` of an import."""
    from ...spec.network import build_network

    try:
        return build_network(imported.spec, source)
    except SpecError as error:
        raise error.with_context(file=source) from None
