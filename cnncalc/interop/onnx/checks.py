"""What ``onnx.checker`` would check of what the handlers read (a summary runs without it), and the checker
itself for an import: external data and declared sizes refused first, the weights left out of its copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import CnnCalcError
from .files import external_place
from .proto import EXTERNAL, describe_count, element_count
from .wire import unreadable


def check_tensor(tensor: Any, what: str, source: str, max_elements: int, folder: Path | None = None) -> None:
    """Refuse external data outside ``folder`` (the model's; None: any external data) and more than
    ``max_elements`` declared elements (a TensorProto or TensorData)."""
    if tensor.data_location == EXTERNAL or tensor.external_data:
        entries = [entry if isinstance(entry, tuple) else (entry.key, entry.value) for entry in tensor.external_data]
        if what != "initializer" or folder is None:
            raise CnnCalcError(f"{what} '{tensor.name}' references external data, which is not read here",
                               file=source, hint="import the .onnx file with its data file beside it, or save "
                               "the model with its weights inside (onnx.save with save_as_external_data=False)")
        external_place(entries, folder, tensor.name, source)
    if any(d < 0 for d in tensor.dims):
        raise CnnCalcError(f"{what} '{tensor.name}' declares a negative dimension", file=source)
    count = element_count(tensor.dims)
    if count is None or count > max_elements:
        raise CnnCalcError(f"{what} '{tensor.name}' declares {describe_count(count)} elements (at most "
                           f"{max_elements:,})", file=source)


# ---------------------------------------------------------------- what onnx.checker would check

#: inputs a node of the standard domain must have (the handlers read them by position)
MIN_INPUTS = {"Conv": 2, "ConvTranspose": 2, "BatchNormalization": 5, "Gemm": 2, "MatMul": 2, "Reshape": 2,
              "Slice": 3, "PRelu": 2, "Gather": 2, "LayerNormalization": 2, "Expand": 2, "Where": 3, "Equal": 2,
              "Sub": 2, "Div": 2, "Pad": 1, "ConstantOfShape": 1, "Constant": 0}
TYPE_NAMES = {1: "FLOAT", 2: "INT", 3: "STRING", 4: "TENSOR", 6: "FLOATS", 7: "INTS", 8: "STRINGS"}
#: the type of every attribute a handler reads, as the ONNX operators define them
ATTRIBUTE_TYPES = {
    **dict.fromkeys(("kernel_shape", "strides", "pads", "dilations", "output_padding", "output_shape", "perm",
                     "axes", "split", "starts", "ends"), 7),
    **dict.fromkeys(("group", "axis", "ceil_mode", "count_include_pad", "transA", "transB", "keepdims", "size",
                     "start", "end", "to", "value_int", "antialias", "noop_with_empty_axes", "exclude_outside",
                     "blocksize"), 2),
    **dict.fromkeys(("alpha", "beta", "epsilon", "bias", "ratio", "min", "max", "value_float"), 1),
    **dict.fromkeys(("auto_pad", "mode", "coordinate_transformation_mode", "nearest_mode", "approximate",
                     "keep_aspect_ratio_policy"), 3),
    "value": 4, "value_ints": 7, "value_floats": 6, "scales": 6,
}


def parse_model(raw: bytes, source: str) -> Any:
    from ..onnx_export import require_onnx

    onnx = require_onnx()
    model = onnx.ModelProto()
    try:
        model.ParseFromString(raw)
    except Exception as error:  # noqa: BLE001 - DecodeError, or RecursionError past protobuf's depth limit
        detail = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise unreadable(detail, source) from None
    if not model.HasField("graph") or not model.graph.node:
        raise CnnCalcError("not an ONNX model: no graph with nodes", file=source)
    return model


def check_model(onnx: Any, model: Any, source: str, max_elements: int, folder: Path | None = None) -> None:
    """Refuse external data and huge declared tensors (from their dims), then run onnx.checker."""
    stack = [model.graph]
    graphs = 0
    while stack:
        graph = stack.pop()
        graphs += 1
        if graphs > 1000:
            raise CnnCalcError("too many nested graphs (at most 1,000)", file=source)
        for tensor in graph.initializer:
            check_tensor(tensor, "initializer", source, max_elements, folder if graphs == 1 else None)
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.HasField("t"):
                    check_tensor(attribute.t, "constant", source, max_elements)
                stack.extend(attribute.graphs)
                if attribute.HasField("g"):
                    stack.append(attribute.g)
    # the checker reads structure, operators and order; the weights (checked above, and when read) are left
    # out of its copy, which keeps it fast on a 100 MB model
    try:
        onnx.checker.check_model(_without_weights(onnx, model))
    except Exception as error:  # noqa: BLE001 - ValidationError, or a C++ error for odd files
        first = str(error).strip().splitlines()
        raise CnnCalcError(f"the model fails onnx.checker: {(first[0] if first else type(error).__name__)[:300]}",
                           file=source) from None


def _without_weights(onnx: Any, model: Any) -> Any:
    """The model with each initializer's data left out (name, type and an empty shape kept)."""
    light = onnx.ModelProto(ir_version=model.ir_version, producer_name=model.producer_name)
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    graph, source = light.graph, model.graph
    graph.name = source.name
    for part in ("node", "input", "output", "value_info", "sparse_initializer"):
        getattr(graph, part).extend(getattr(source, part))
    for tensor in source.initializer:
        graph.initializer.add(name=tensor.name, data_type=tensor.data_type, dims=[0])
    return light
