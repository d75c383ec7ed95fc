"""ONNX import, one module per concept (the package layout is the importer's architecture):

- :mod:`.wire` reads protobuf's wire format, the one way the package reads it: from the model's bytes in
  memory, or from the file itself; :mod:`.proto` decodes ONNX's messages (:mod:`.messages`) from it, counting
  before it decodes (its caps); :mod:`.files` reads an ``.onnx`` file under a size cap, whole or without its
  large tensor payloads;
- :mod:`.checks`: what ``onnx.checker`` would check of what the handlers read, and the checker itself;
- :mod:`.values`: what a value name stands for during the walk; :mod:`.graph`: layouts, node order (a cycle
  named) and constant folding;
- :mod:`.importer`: the walk, one node at a time; :mod:`.api`: the entry points :func:`import_onnx`,
  :func:`import_model` and :func:`network_of`;
- :mod:`.registry`: which handler takes a node of each operator type; :mod:`.ops`: the handlers, one module
  per family of operators (a new operator is one function there, registered with ``@handles``).

Layout: ONNX's spatial tensors are channels-first. Each ONNX value is held as a cnncalc layer output and a
permutation ``perm`` (sample axes, no batch): ONNX axis ``j`` is cnncalc axis ``perm[j]``. A ``Conv`` wants
its input channels-first relative to the cnncalc tensor, ``Flatten``/``Reshape``/``MatMul`` want the ONNX
order itself; a ``permute`` layer is added only where a value is not already held as needed, and an ONNX
``Transpose`` only changes ``perm`` (so the NCHW↔NHWC pair around a channels-last model costs nothing).
Constant subgraphs (``Shape → Gather → Concat → Reshape`` as ``torch.onnx`` writes them) are folded.
"""

from __future__ import annotations

from .api import import_model, import_onnx, network_of
from .files import MAX_ONNX_BYTES, read_light, read_whole
from .importer import MAX_TENSOR_ELEMENTS, Imported

__all__ = ["MAX_ONNX_BYTES", "MAX_TENSOR_ELEMENTS", "Imported", "import_model", "import_onnx", "network_of",
           "read_light", "read_whole"]
