"""An ONNX model as a spec v2 mapping and cnncalc's weights, read as data.

The file is read under a size cap and decoded by :mod:`.onnx_proto`, which counts dims, attribute values
and declared elements before it decodes any (its caps); refused if it references external data, declares a
tensor larger than :data:`MAX_TENSOR_ELEMENTS` or has more than :data:`MAX_NODES` nodes; then checked with
``onnx.checker`` (protobuf's own recursion limit bounds nesting; a cycle is named). Then one walk in node
order, one handler per operator type, each pass over the graph linear in its nodes (indexes, not scans).
Initializers are read when a node first uses them.

Layout: ONNX's spatial tensors are channels-first. Each ONNX value is held as a cnncalc layer output and a
permutation ``perm`` (sample axes, no batch): ONNX axis ``j`` is cnncalc axis ``perm[j]``. A ``Conv`` wants
its input channels-first relative to the cnncalc tensor, ``Flatten``/``Reshape``/``MatMul`` want the ONNX
order itself; a ``permute`` layer is added only where a value is not already held as needed, and an ONNX
``Transpose`` only changes ``perm`` (so the NCHW↔NHWC pair around a channels-last model costs nothing).
Constant subgraphs (``Shape → Gather → Concat → Reshape`` as ``torch.onnx`` writes them) are folded.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CnnCalcError, SpecError
from . import onnx_proto as proto  # its caps are read when used (tests lower them)
from .onnx_proto import (
    DTYPES,
    EXTERNAL,
    FUNCTION_DOMAIN,
    GRAPH,
    GRAPHS,
    SPARSE_TENSOR,
    SPARSE_TENSORS,
    TENSOR,
    TENSORS,
    Model,
    TensorData,
    decode_model,
    describe_count,
    element_count,
)

if TYPE_CHECKING:
    import numpy as np
else:
    class _Numpy:
        """numpy, imported on first use: a summary of a plain CNN reads no constant's values and never needs it
        (importing numpy costs a third of a whole YAML summary)."""

        def __getattr__(self, name: str) -> Any:
            import numpy

            return getattr(numpy, name)

    np = _Numpy()

MAX_ONNX_BYTES = 1024**3  # VGG-16 in float32 is 553 MB
MAX_TENSOR_ELEMENTS = 2**28  # one initializer: 1 GiB of float32 (VGG-16's largest has 102,760,448)
MAX_NODES = 100_000
#: without weights (a summary), initializers up to this many elements are still read: shapes, pads, scales
SMALL_TENSOR = 4096
#: bytes of the parts cnncalc's reader skips (subgraphs, function bodies, value_info, doc strings) that
#: onnx.checker's protobuf parse would still build: protobuf holds a 1-byte packed number in 8 bytes, so
#: 1 GB of them took 8 GB before the checker said a word (cnncalc's own functions take a few KB)
MAX_UNREAD_BYTES = 64 * 2**20
#: values of a constant read as a list (a Reshape's shape, a Slice's starts, pads, sizes): two per dim a
#: tensor may have, and never the 2^28 Python ints a hostile ``starts`` would make
SHAPE_VALUES = 128
BATCH = -(2**40)
DEFAULTS = {"stride": 1, "dilation": 1, "padding": 0, "bias": True, "multiplier": 1, "output_padding": 0,
            "count_include_pad": False}  # the batch size inside a folded shape computation


@dataclass
class Tensor:
    layer: str  # cnncalc layer name (or "input")
    perm: tuple[int, ...]  # ONNX sample axis j is cnncalc axis perm[j]
    origin: str | None = None  # the Transpose node that made this view (names a permute made from it)


@dataclass
class Imported:
    spec: dict[str, Any]
    weights: dict[str, np.ndarray]
    flagged: list[str] = field(default_factory=list)  # pass-through layers made by --lenient


def _cf(rank: int) -> tuple[int, ...]:
    """Channels first: ONNX [C, H, W] of a cnncalc [H, W, C]."""
    return (rank - 1, *range(rank - 1)) if rank >= 2 else tuple(range(rank))


def _identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def _sanitise(name: str) -> str:
    name = name.strip().strip("/").replace("/", ".")
    name = "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in name)
    return name[:150]


def f32(value: Any) -> float:
    """A float32 attribute as the decimal it was written as (1e-05, not 9.999999747378752e-06): the shortest
    decimal that reads back as the same float32.

    >>> f32(9.999999747378752e-06), f32(0.10000000149011612), f32(1.0), f32(float("inf"))
    (1e-05, 0.1, 1.0, inf)
    """
    value = float(value)
    if not math.isfinite(value):
        return value
    single = struct.unpack("<f", struct.pack("<f", value))[0]
    for digits in range(1, 10):
        text = float(f"{single:.{digits}g}")
        if struct.unpack("<f", struct.pack("<f", text))[0] == single:
            return text
    return single


def _is_const(value: Any) -> bool:
    """A constant (an array, or an initializer not read yet), not a value computed from the input."""
    return value is not None and not isinstance(value, Tensor)


class Lazy:
    """An initializer of a summary import: its shape now, its values (numpy) only when a handler needs them,
    and never for a large one (its bytes were left on disk)."""

    __slots__ = ("readable", "shape", "tensor")

    def __init__(self, tensor: TensorData, readable: bool) -> None:
        self.tensor, self.shape, self.readable = tensor, tuple(tensor.dims), readable

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class _Values(dict):  # type: ignore[type-arg]
    """ONNX value name → value, remembering which names each layer holds: a rename re-points those names
    without a scan of every value (a scan per dense layer made a chain of them quadratic)."""

    def __init__(self) -> None:
        super().__init__()
        self.holders: dict[str, list[str]] = {}

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, value)
        if isinstance(value, Tensor):
            self.holders.setdefault(value.layer, []).append(name)


def check_tensor(tensor: Any, what: str, source: str, max_elements: int) -> None:
    """Refuse external data and more than ``max_elements`` declared elements (a TensorProto or TensorData)."""
    if tensor.data_location == EXTERNAL or tensor.external_data:
        raise CnnCalcError(f"{what} '{tensor.name}' references external data, which is not read",
                           file=source, hint="save the model with its weights inside (onnx.save with "
                           "save_as_external_data=False)")
    if any(d < 0 for d in tensor.dims):
        raise CnnCalcError(f"{what} '{tensor.name}' declares a negative dimension", file=source)
    count = element_count(tensor.dims)
    if count is None or count > max_elements:
        raise CnnCalcError(f"{what} '{tensor.name}' declares {describe_count(count)} elements (at most "
                           f"{max_elements:,})", file=source)


def _cycle(nodes: list[Any], producers: dict[str, int], consumers: dict[str, list[int]]) -> list[int]:
    """The positions of the nodes on one cycle, in the order data flows, from the earliest node; [] if there
    is none. Kahn's algorithm, then a walk back along unfinished inputs: linear in nodes and edges.

    >>> from types import SimpleNamespace as N
    >>> nodes = [N(input=["x", "b"], output=["a"]), N(input=["a"], output=["b"]), N(input=["a"], output=["y"])]
    >>> _cycle(nodes, {"a": 0, "b": 1, "y": 2}, {"x": [0], "b": [0], "a": [1, 2]})
    [0, 1]
    """
    waiting = [sum(1 for name in node.input if name in producers) for node in nodes]
    ready = [k for k, count in enumerate(waiting) if count == 0]
    while ready:
        k = ready.pop()
        for name in dict.fromkeys(nodes[k].output):
            if producers.get(name) == k:
                for user in consumers.get(name, []):
                    waiting[user] -= 1
                    if waiting[user] == 0:
                        ready.append(user)
    stuck = next((k for k, count in enumerate(waiting) if count), None)
    if stuck is None:
        return []
    # a node left waiting waits on a producer left waiting, so walking back from one comes round
    seen: dict[int, int] = {}
    walk: list[int] = []
    k = stuck
    while k not in seen:
        seen[k] = len(walk)
        walk.append(k)
        k = next(producers[name] for name in nodes[k].input if name in producers and waiting[producers[name]])
    cycle = walk[seen[k]:][::-1]
    first = cycle.index(min(cycle))
    return cycle[first:] + cycle[:first]


def _symbol(name: str, position: int) -> str:
    text = re.sub(r"[^A-Za-z0-9_]", "_", name)[:31]
    if not text or not (text[0].isalpha() or text[0] == "_"):
        text = f"d{position}"
    import keyword

    return f"{text}_" if keyword.iskeyword(text) else text


class _Importer:
    def __init__(self, model: Model, source: str, lenient: bool, max_elements: int, with_weights: bool = True) -> None:
        self.with_weights = with_weights
        self.model = model
        self.graph = model.graph
        self.source = source
        self.lenient = lenient
        self.max_elements = max_elements
        self.values: _Values = _Values()  # name → Tensor | np.ndarray | Lazy
        self.layers: list[dict[str, Any]] = []
        self.entries: dict[str, dict[str, Any]] = {}  # layer name → its entry in ``layers``
        self.shapes: dict[str, tuple] = {}
        self.weights: dict[str, np.ndarray] = {}
        self.newest_weights: list[str] = []  # keys kept since the newest layer was made (what a rename moves)
        self.names: set[str] = {"input"}
        self.suffixes: dict[str, int] = {}  # base name → the last suffix ``fresh`` gave it
        self.permuted: dict[tuple[str, tuple[int, ...]], str] = {}
        self.consumers: dict[str, list[int]] = {}
        self.producers: dict[str, int] = {}  # value name → the first node that outputs it
        self.outputs = {o.name for o in self.graph.output}
        self.indexed = False
        self.done: set[int] = set()
        self.flagged: list[str] = []
        self.pending_bias: dict[str, str] = {}  # dense layer without bias → its ONNX output
        self.node: Any = None
        self.position = 0  # the node being handled
        self.counter = 0
        self.fusing = False
        self.batch = BATCH  # the input's batch size when the model fixes it

    # ------------------------------------------------------------ errors and names

    def fail(self, message: str, **kw: Any) -> CnnCalcError:
        node = self.node
        if node is not None:
            where = f"node '{node.name or '?'}' ({node.op_type}, inputs {list(node.input)})"
            message = f"{where}: {message}"
        return CnnCalcError(message, file=self.source, **kw)

    def fresh(self, base: str) -> str:
        """``base``, or ``base_2``, ``base_3``... if taken. Each base resumes from the last suffix it got:
        searching from 2 each time made 30,000 nodes of one name take a minute."""
        base = _sanitise(base) or "layer"
        if base == "input":
            base = "input_"
        name = base
        if name in self.names:
            k = self.suffixes.get(base, 1)
            while name in self.names:
                k += 1
                name = f"{base}_{k}"
            self.suffixes[base] = k
        self.names.add(name)
        return name

    def node_name(self, node: Any, suffix: str = "") -> str:
        if node.name:
            return node.name + suffix
        self.counter += 1
        return f"{node.op_type.lower()}{self.counter}{suffix}"

    # ------------------------------------------------------------ values

    def const(self, name: str, what: str = "input") -> np.ndarray | Lazy:
        """A constant: an import's initializer is read here, when a node first uses it (one no node uses costs
        nothing); a summary's stays :class:`Lazy`, for its shape."""
        value = self.values.get(name)
        if not _is_const(value):
            raise self.fail(f"{what} '{name}' must be a constant (an initializer or a folded constant)")
        if self.with_weights and isinstance(value, Lazy):
            value = self.values[name] = self.array(value.tensor, "initializer")
        return value  # type: ignore[return-value]

    def value(self, name: str, what: str = "input") -> np.ndarray:
        """A constant's values (an initializer is read here, once)."""
        value = self.const(name, what)
        if isinstance(value, Lazy):
            if not value.readable:
                raise self.fail(f"{what} '{name}' has {value.size:,} values, which a summary does not read",
                                hint="cnncalc import reads every value")
            value = self.values[name] = self.array(value.tensor, what)
        return value

    def numbers(self, name: str, what: str, most: int | None = None) -> list[Any]:
        """A small constant's values as Python numbers (a shape, pads, axes, sizes), refused past ``most``
        (default :data:`SHAPE_VALUES`) before a value is read."""
        most = SHAPE_VALUES if most is None else most
        value = self.values.get(name)
        if _is_const(value) and value.size > most:
            raise self.fail(f"{what} '{name}' has {value.size:,} values", expected=f"at most {most:,}")
        return self.value(name, what).reshape(-1).tolist()

    def keep(self, key: str, make: Any) -> None:
        """Store weight ``key`` as ``make()`` (a summary keeps no weights, and computes none)."""
        if self.with_weights:
            self.weights[key] = make()
            self.newest_weights.append(key)

    def tensor(self, name: str) -> Tensor:
        value = self.values.get(name)
        if isinstance(value, Tensor):
            return value
        if value is not None:
            raise self.fail(f"input '{name}' must be a tensor computed from the network input, not a constant")
        producer = self.producers.get(name)
        if producer is None:
            raise self.fail(f"input '{name}' is never computed: no node, initializer or graph input has that name")
        node = self.graph.node[producer]
        if producer < self.position:
            raise self.fail(f"input '{name}' is an output of node '{node.name or '?'}' ({node.op_type}) that cnncalc "
                            "does not map")
        # the graph has no cycle (checked first): the node computing it merely comes later in the file
        raise self.fail(f"input '{name}' must be a tensor computed from the network input before this node, but "
                        f"node '{node.name or '?'}' ({node.op_type}) computes it later",
                        expected="nodes in topological order (each after the nodes computing its inputs)")

    def rank(self, t: Tensor) -> int:
        return len(t.perm)

    def cshape(self, t: Tensor) -> tuple:
        return self.shapes[t.layer]

    def onnx_shape(self, t: Tensor) -> list[Any]:
        shape = self.cshape(t)
        return [shape[p] for p in t.perm]

    def as_perm(self, t: Tensor, want: tuple[int, ...]) -> str:
        """A layer holding ``t`` so that ONNX axis j is its axis ``want[j]`` (a permute layer if needed)."""
        if t.perm == want:
            return t.layer
        key = (t.layer, want)
        if key not in self.permuted:
            axes = [0] * len(want)
            for j, w in enumerate(want):
                axes[w] = t.perm[j]
            self.permuted[key] = self.emit("permute", t.origin or f"{t.layer}.permute", [t.layer], axes=axes)
        return self.permuted[key]

    def cf_input(self, name: str) -> str:
        t = self.tensor(name)
        return self.as_perm(t, _cf(self.rank(t)))

    def same_input(self, name: str) -> str:
        t = self.tensor(name)
        return self.as_perm(t, _identity(self.rank(t)))

    def emit(self, type_name: str, base: str, inputs: list[str], **fields: Any) -> str:
        """Add a layer, working out its output shape (a bad layer is reported on its node)."""
        from ..layers import LAYER_TYPES

        name = self.fresh(base)
        raw = {"type": type_name, "name": name, **fields}
        cls = LAYER_TYPES[type_name]
        try:
            options = cls.parse_fields(type_name, raw)
            layer = cls(type_name, name, len(self.layers) + 1, inputs, options)
            info = layer.inference([self.shapes[s] for s in inputs])
        except CnnCalcError as error:
            detail = error.message + (f" (got {error.got}, expected {error.expected})" if error.expected else "")
            raise self.fail(f"maps to {type_name} layer '{name}', which is invalid: {detail}") from None
        self.shapes[name] = tuple(info.shape)
        entry: dict[str, Any] = {"type": type_name, "name": name}
        self.entries[name] = entry
        self.newest_weights = []
        previous = self.layers[-1]["name"] if self.layers else "input"
        if inputs != [previous]:
            entry["inputs"] = inputs[0] if len(inputs) == 1 else list(inputs)
        entry.update((key, value) for key, value in fields.items() if not self.is_default(type_name, key, value, fields))
        self.layers.append(entry)
        return name

    @staticmethod
    def is_default(type_name: str, key: str, value: Any, fields: dict[str, Any]) -> bool:
        """Fields left out of the spec because they say what the default says (readable specs)."""
        if type_name in ("maxpool", "avgpool") and key == "stride":
            return value == fields.get("kernel")
        if key == "count_stats":
            return value is True
        return DEFAULTS.get(key, object()) == value and value is not False

    def rename(self, old: str, base: str) -> str:
        """Give the newest layer ``old`` a better name (only before anything refers to it)."""
        entry = self.layers[-1]
        if entry["name"] != old:
            return old
        new = self.fresh(base)
        self.names.discard(old)
        entry["name"] = new
        self.entries[new] = self.entries.pop(old)
        self.shapes[new] = self.shapes.pop(old)
        moved = []
        for key in self.newest_weights:  # the newest layer's weights were all kept since it was made
            if key.startswith(f"{old}.") and key in self.weights:
                self.weights[new + key[len(old):]] = self.weights.pop(key)
                key = new + key[len(old):]
            moved.append(key)
        self.newest_weights = moved
        for name in self.values.holders.pop(old, []):
            value = self.values.get(name)
            if isinstance(value, Tensor) and value.layer == old:
                self.values[name] = Tensor(new, value.perm, value.origin)
        return new

    def out(self, index: int, layer: str, perm: tuple[int, ...]) -> None:
        self.values[self.node.output[index]] = Tensor(layer, perm)

    # ------------------------------------------------------------ reading

    def attrs(self, node: Any) -> dict[str, Any]:
        """Attribute values as ``onnx.helper.get_attribute_value`` gives them, a tensor as a numpy array."""
        result: dict[str, Any] = {}
        for attribute in node.attribute:
            if attribute.ref_attr_name:
                raise self.fail(f"attribute '{attribute.name}' refers to a function's attribute outside a function")
            if attribute.type in (GRAPH, GRAPHS):
                raise self.fail("subgraphs are not supported")
            if attribute.type in (SPARSE_TENSOR, SPARSE_TENSORS):
                raise self.fail("sparse tensors are not supported")
            if attribute.type == TENSOR:
                result[attribute.name] = self.array(attribute.t, f"attribute '{attribute.name}'")
            elif attribute.type == TENSORS:
                result[attribute.name] = [self.array(t, f"attribute '{attribute.name}'") for t in attribute.tensors]
            else:
                result[attribute.name] = attribute.value()
        return result

    def check_tensor(self, tensor: Any, what: str) -> None:
        check_tensor(tensor, what, self.source, self.max_elements)

    def initializer(self, tensor: TensorData) -> Lazy:
        """An initializer's shape; its values are read when a node first needs them (a summary reads none
        over :data:`SMALL_TENSOR` elements: their bytes were left on disk)."""
        if tensor.data_type not in DTYPES:
            raise CnnCalcError(f"initializer '{tensor.name}' has an unknown or unsupported data type "
                               f"{tensor.data_type}", file=self.source)
        return Lazy(tensor, readable=self.with_weights or tensor.count <= SMALL_TENSOR)

    def array(self, tensor: TensorData | None, what: str) -> np.ndarray:
        if tensor is None:
            raise self.fail(f"{what} has no tensor")
        self.check_tensor(tensor, what)
        try:
            return tensor.to_numpy()
        except (ValueError, TypeError) as error:
            raise CnnCalcError(f"{what} '{tensor.name}' is unreadable: {str(error)[:200]}", file=self.source) from None

    # ------------------------------------------------------------ the walk

    def check_sizes(self) -> None:
        """The node count and each initializer's declared size: before onnx.checker, which would read them all."""
        graph = self.graph
        if len(graph.node) > MAX_NODES:
            raise CnnCalcError(f"too many nodes ({len(graph.node):,}, at most {MAX_NODES:,})", file=self.source)
        for tensor in graph.initializer:
            self.check_tensor(tensor, "initializer")

    def cycle(self) -> str | None:
        """A cycle of nodes, described (None if there is none); indexes the nodes' inputs and outputs once."""
        graph = self.graph
        if not self.indexed:
            self.indexed = True
            for position, node in enumerate(graph.node):
                for name in node.input:
                    self.consumers.setdefault(name, []).append(position)
                for name in node.output:
                    if name:
                        self.producers.setdefault(name, position)
        cycle = _cycle(graph.node, self.producers, self.consumers)
        if not cycle:
            return None
        first = graph.node[cycle[0]]
        back = next(name for name in first.input if self.producers.get(name) == cycle[-1])
        shown = [f"'{graph.node[k].name or '?'}' ({graph.node[k].op_type})" for k in cycle[:8]]
        path = " → ".join(shown + (["…"] if len(cycle) > 8 else []) + [shown[0]])
        return (f"node {shown[0]}: input '{back}' must be a tensor computed from the network input, but it comes "
                f"round a cycle: {path} (each node computes an input of the next, so the nodes cannot be "
                "topologically sorted)")

    def run(self) -> Imported:
        graph = self.graph
        self.check_sizes()
        cycle = self.cycle()
        if cycle:
            raise CnnCalcError(cycle, file=self.source)
        if graph.sparse_initializer:
            raise CnnCalcError("sparse initializers are not supported", file=self.source)
        for tensor in graph.initializer:
            self.values[tensor.name] = self.initializer(tensor)
        inputs = [v for v in graph.input if v.name not in self.values]
        if len(inputs) != 1:
            raise CnnCalcError(f"the model has {len(inputs)} inputs", file=self.source, got=[v.name for v in inputs][:5],
                               expected="exactly one input (cnncalc networks have one)")
        input_shape = self.read_input(inputs[0])
        for position, node in enumerate(graph.node):
            if position in self.done:
                continue
            self.node, self.position = node, position
            self.done.add(position)
            self.checked(position, node)
        self.node = None
        for output in graph.output:
            if not isinstance(self.values.get(output.name), Tensor):
                raise CnnCalcError(f"output '{output.name}' is a constant or is never computed", file=self.source)
        if not self.layers:
            raise CnnCalcError("the model has no layers cnncalc can show (only constants or identities)",
                               file=self.source)
        name = " ".join(self.graph.name.split())[:150] if self.graph.name.isprintable() else ""
        name = name or Path(self.source).stem
        spec = {"name": name or "model", "input": input_shape, "layers": self.layers}
        return Imported(spec, self.weights, self.flagged)

    def read_input(self, value: Any) -> list[Any]:
        if not value.tensor or not value.has_shape:
            raise CnnCalcError(f"input '{value.name}' has no tensor shape", file=self.source)
        dims = value.dims
        if not 2 <= len(dims) <= 5:
            raise CnnCalcError(f"input '{value.name}' has {len(dims)} axes", file=self.source,
                               expected="2 to 5 (batch, then [D], [C, L], [C, H, W] or [C, D, H, W])")
        onnx_dims: list[Any] = []
        for position, (dim_value, dim_param) in enumerate(dims[1:], start=1):
            if dim_value is not None and dim_value > 0:
                onnx_dims.append(int(dim_value))
            else:
                onnx_dims.append(_symbol(dim_param, position))
        rank = len(onnx_dims)
        perm = _cf(rank) if self.channels_first(value.name, rank) else _identity(rank)
        cnncalc_dims: list[Any] = [None] * rank
        for j, p in enumerate(perm):
            cnncalc_dims[p] = onnx_dims[j]
        self.values[value.name] = Tensor("input", perm)
        self.shapes["input"] = tuple(self.dim_value(d) for d in cnncalc_dims)
        if dims[0][0] is not None and dims[0][0] > 0:
            self.batch = dims[0][0]  # a fixed batch size: a Reshape may name it
        return cnncalc_dims

    def dim_value(self, dim: Any) -> Any:
        if isinstance(dim, int):
            return dim
        import sympy

        return sympy.Symbol(dim, integer=True, positive=True)

    def channels_first(self, name: str, rank: int) -> bool:
        """Whether the input is laid out [N, C, ...]: it feeds a spatial operator, or it is an image or a
        volume that is not transposed first (a model that transposes its input is channels-last)."""
        if rank < 2 or self.model.producer_name == "cnncalc":  # cnncalc writes its input channels last
            return False
        spatial = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                   "BatchNormalization", "Pad", "Resize", "Upsample", "LRN", "InstanceNormalization"}
        readers = [self.graph.node[k] for k in sorted(set(self.consumers.get(name, [])))]
        users = [node.op_type for node in readers if node.domain != FUNCTION_DOMAIN]
        if any(op in spatial for op in users):
            return True
        functions = [node.op_type for node in readers if node.domain == FUNCTION_DOMAIN]
        if functions:  # cnncalc's functions: pools and normalize take channels first, the others channels last
            return any(op.startswith("Adaptive") or op == "Normalize" for op in functions)
        return rank >= 3 and "Transpose" not in users

    def single_consumer(self, output: str) -> tuple[int, Any] | None:
        users = self.consumers.get(output, [])
        if len(users) != 1 or output in self.outputs:
            return None
        return users[0], self.graph.node[users[0]]

    # ------------------------------------------------------------ dispatch

    def checked(self, position: int, node: Any) -> None:
        """Handle one node, after the checks ``onnx.checker`` would make of what the handlers read (a summary
        does without the checker); a node malformed in a way no check names is still one error line."""
        if node.domain in ("", "ai.onnx"):
            needed = MIN_INPUTS.get(node.op_type, 1 if node.op_type != "Constant" else 0)
            if len(node.input) < needed or any(not node.input[k] for k in range(needed)):
                raise self.fail(f"{node.op_type} takes at least {needed} input{'s' if needed != 1 else ''}")
            if not node.output or not node.output[0]:
                raise self.fail(f"{node.op_type} has no output")
            for attribute in node.attribute:
                want = ATTRIBUTE_TYPES.get(attribute.name)
                if want is not None and attribute.type != want:
                    raise self.fail(f"attribute '{attribute.name}' must be {TYPE_NAMES[want]}",
                                    got=TYPE_NAMES.get(attribute.type, f"type {attribute.type}"))
        try:
            self.handle(position, node)
        except (TypeError, ValueError, IndexError, KeyError, AttributeError, ZeroDivisionError, OverflowError) as error:
            raise self.fail(f"malformed node ({type(error).__name__}: {str(error)[:150]})") from None

    def handle(self, position: int, node: Any) -> None:
        if node.domain == FUNCTION_DOMAIN and node.op_type in FUNCTION_HANDLERS:
            FUNCTION_HANDLERS[node.op_type](self, position, node, self.attrs(node))
            return
        if node.domain not in ("", "ai.onnx"):
            self.unknown(node)
            return
        inputs = [n for n in node.input if n]
        if node.op_type in FOLDABLE and inputs and all(_is_const(self.values.get(n)) for n in inputs):
            self.fold(node)
            return
        if node.op_type == "Shape":
            self.shape_of(node)
            return
        if node.op_type == "Constant":
            self.fold(node)
            return
        activation = self.match_activation(position, node)
        if activation is not None:
            kind, alpha, nodes = activation
            self.done.update(nodes)
            last = self.graph.node[nodes[-1]]
            t = self.tensor(node.input[0])
            fields = {"alpha": alpha} if alpha is not None else {}
            layer = self.emit(kind, self.node_name(last), [t.layer], **fields)
            self.values[last.output[0]] = Tensor(layer, t.perm)
            return
        handler = HANDLERS.get(node.op_type)
        if handler is None:
            self.unknown(node)
            return
        handler(self, position, node, self.attrs(node))

    def unknown(self, node: Any) -> None:
        if not self.lenient:
            raise self.fail("operator has no cnncalc equivalent", hint="--lenient passes it through as a "
                            "flagged layer that keeps its input's shape")
        tensors = [n for n in node.input if isinstance(self.values.get(n), Tensor)]
        if not tensors:
            raise self.fail("operator has no cnncalc equivalent, and no tensor input to pass through")
        t = self.tensor(tensors[0])
        label = f"UNSUPPORTED-{node.op_type}-{self.node_name(node)}"
        layer = self.emit("dropout", label, [t.layer], rate=0.0)
        self.flagged.append(layer)
        for output in node.output:
            if output:
                self.values[output] = Tensor(layer, t.perm)

    # ------------------------------------------------------------ constants

    def fold(self, node: Any) -> None:
        attrs = self.attrs(node)
        args = [self.value(n) if n else None for n in node.input]
        dims = _folded_dims(node.op_type, args, attrs)
        if dims is not None:  # numpy would allocate first, and a machine could swap before it refuses
            count = element_count(dims)
            if count is None or count > self.max_elements:
                raise self.fail(f"a folded constant would have {describe_count(count)} elements (at most "
                                f"{self.max_elements:,})", got=dims[:8])
        try:
            results = FOLDABLE[node.op_type](args, attrs)
        except CnnCalcError:
            raise
        except Exception as error:  # noqa: BLE001 - numpy's errors on bad constants vary
            raise self.fail(f"cannot fold constant: {str(error)[:200]}") from None
        for name, value in zip(node.output, results):
            if name:
                value = np.asarray(value)
                if value.size > self.max_elements:
                    raise self.fail(f"a folded constant has {value.size:,} elements (at most {self.max_elements:,})")
                self.values[name] = value

    def shape_of(self, node: Any) -> None:
        t = self.tensor(node.input[0])
        dims = self.onnx_shape(t)
        if not all(isinstance(d, int) for d in dims):
            raise self.fail("a shape computation over a symbolic size cannot be folded",
                            hint="export the model with fixed spatial sizes")
        shape = np.array([BATCH, *dims], dtype=np.int64)
        attrs = self.attrs(node)
        start, end = attrs.get("start", 0), attrs.get("end", None)
        self.values[node.output[0]] = shape[start:end]

    # ------------------------------------------------------------ activations

    def match_activation(self, position: int, node: Any) -> tuple[str, float | None, list[int]] | None:
        op = node.op_type
        simple = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish", "Mish": "mish",
                  "Softplus": "softplus"}
        if op == "Sigmoid":  # x · sigmoid(x) is silu
            nxt = self.single_consumer(node.output[0])
            if nxt and nxt[1].op_type == "Mul" and set(nxt[1].input) == {node.input[0], node.output[0]}:
                return "silu", None, [position, nxt[0]]
        if op == "Div" or op == "Mul":
            gelu = self.match_gelu(position, node)
            if gelu:
                return "gelu", None, gelu
        if op in simple:
            return simple[op], None, [position]
        if op == "Softmax" and self.fusing:
            return "softmax", None, [position]
        attrs = self.attrs(node) if op in ("LeakyRelu", "Elu", "HardSigmoid", "Gelu", "Clip") else {}
        if op == "LeakyRelu":
            return "leaky_relu", f32(attrs.get("alpha", 0.01)), [position]
        if op == "Elu" and math.isclose(attrs.get("alpha", 1.0), 1.0):
            return "elu", None, [position]
        if op == "HardSigmoid" and math.isclose(attrs.get("alpha", 0.2), 1 / 6, rel_tol=1e-5) and \
                math.isclose(attrs.get("beta", 0.5), 0.5):
            return "hardsigmoid", None, [position]
        if op == "Gelu" and attrs.get("approximate", b"none") in (b"none", "none"):
            return "gelu", None, [position]
        if op == "Clip":
            low, high = self.clip_bounds(node, attrs)
            if low == 0 and high == 6:
                return "relu6", None, [position]
            if low == 0 and high is None:
                return "relu", None, [position]
        return None

    def clip_bounds(self, node: Any, attrs: dict[str, Any]) -> tuple[float | None, float | None]:
        def bound(index: int, key: str) -> float | None:
            if len(node.input) > index and node.input[index]:
                scalar = self.scalar(node.input[index])
                return math.nan if scalar is None else scalar
            return attrs.get(key)

        return bound(1, "min"), bound(2, "max")

    def scalar(self, name: str) -> float | None:
        value = self.values.get(name)
        if _is_const(value) and value.size == 1 and getattr(value, "readable", True):
            return float(self.value(name).reshape(-1)[0])
        return None

    def match_gelu(self, position: int, node: Any) -> list[int] | None:
        """x·0.5·(1 + erf(x/√2)), as torch.onnx writes the exact gelu before opset 20."""
        if len(node.input) != 2 or not isinstance(self.values.get(node.input[0]), Tensor):
            return None
        c = self.scalar(node.input[1])
        if c is None or not (node.op_type == "Div" and math.isclose(c, math.sqrt(2), rel_tol=1e-4)
                             or node.op_type == "Mul" and math.isclose(c, 1 / math.sqrt(2), rel_tol=1e-4)):
            return None
        x = node.input[0]
        chain = [position]
        step = self.single_consumer(node.output[0])
        if not step or step[1].op_type != "Erf":
            return None
        chain.append(step[0])
        step = self.single_consumer(step[1].output[0])
        if not step or step[1].op_type != "Add" or not any(self.scalar(i) == 1.0 for i in step[1].input):
            return None
        chain.append(step[0])
        step = self.single_consumer(step[1].output[0])
        if not step or step[1].op_type != "Mul" or x not in step[1].input:
            return None
        chain.append(step[0])
        step = self.single_consumer(step[1].output[0])
        if not step or step[1].op_type != "Mul" or not any(self.scalar(i) == 0.5 for i in step[1].input):
            return None
        chain.append(step[0])
        return chain

    def fuse_activation(self, node: Any, layer_name: str) -> tuple[str, list[int]] | None:
        """The activation cnncalc's exporter wrote as ``<layer>/<kind>`` right after the layer's node."""
        users = self.consumers.get(node.output[0], [])
        if not users or node.output[0] in self.outputs:
            return None
        self.fusing = True
        try:
            match = self.match_activation(min(users), self.graph.node[min(users)])
        finally:
            self.fusing = False
        if match is None or match[1] is not None or not set(users) <= set(match[2]):
            return None
        kind, _, nodes = match
        last = self.graph.node[nodes[-1]]
        if last.op_type == "Softmax" and kind == "softmax" and \
                int(self.attrs(last).get("axis", -1)) not in (-1, len(self.tensor(node.output[0]).perm)):
            return None
        if last.name != f"{node.name}/{kind}":
            return None
        return kind, nodes

    def finish(self, node: Any, layer: str, perm: tuple[int, ...], fusable: bool = False) -> None:
        """Map the node's output to ``layer``; fold a following ``<node>/<activation>`` into it."""
        self.values[node.output[0]] = Tensor(layer, perm)
        if not fusable or not node.name:
            return
        fused = self.fuse_activation(node, layer)
        if fused is None:
            return
        kind, nodes = fused
        self.done.update(nodes)
        self.entries[layer]["activation"] = kind
        self.values[self.graph.node[nodes[-1]].output[0]] = Tensor(layer, perm)


# ---------------------------------------------------------------- what onnx.checker would check

#: inputs a node of the standard domain must have (the handlers read them by position)
MIN_INPUTS = {"Conv": 2, "ConvTranspose": 2, "BatchNormalization": 5, "Gemm": 2, "MatMul": 2, "Reshape": 2,
              "Slice": 3, "PRelu": 2, "Gather": 2, "LayerNormalization": 2, "Expand": 2, "Where": 3, "Equal": 2,
              "Sub": 2, "Div": 2, "Pad": 1, "ConstantOfShape": 1, "Constant": 0}
TYPE_NAMES = {1: "FLOAT", 2: "INT", 3: "STRING", 4: "TENSOR", 6: "FLOATS", 7: "INTS", 8: "STRINGS"}
#: the type of every attribute a handler reads, as the ONNX operators define them
ATTRIBUTE_TYPES = {
    **dict.fromkeys(("kernel_shape", "strides", "pads", "dilations", "output_padding", "output_shape", "perm",
                     "axes", "split"), 7),
    **dict.fromkeys(("group", "axis", "ceil_mode", "count_include_pad", "transA", "transB", "keepdims", "size",
                     "start", "end", "to", "value_int"), 2),
    **dict.fromkeys(("alpha", "beta", "epsilon", "bias", "ratio", "min", "max", "value_float"), 1),
    **dict.fromkeys(("auto_pad", "mode", "coordinate_transformation_mode", "nearest_mode", "approximate"), 3),
    "value": 4, "value_ints": 7, "value_floats": 6, "scales": 6,
}


# ---------------------------------------------------------------- constant folding


def _constant(attrs: dict[str, Any]) -> Any:
    """A Constant node's one attribute: value (a tensor), value_float(s) or value_int(s)."""
    if len(attrs) != 1:
        raise CnnCalcError(f"a Constant node has one attribute, not {len(attrs)}")
    (key, value), = attrs.items()
    if key == "value":
        return value
    if key in ("value_float", "value_floats"):
        return np.array(value, dtype=np.float32)
    if key in ("value_int", "value_ints"):
        return np.array(value, dtype=np.int64)
    raise CnnCalcError(f"a Constant with {key} is not supported", expected="value, value_float(s) or value_int(s)")


def _fold_gather(args: list[Any], attrs: dict[str, Any]) -> list[Any]:
    return [np.take(args[0], args[1].astype(np.int64), axis=attrs.get("axis", 0))]


def _fold_unsqueeze(args: list[Any], attrs: dict[str, Any]) -> list[Any]:
    axes = args[1] if len(args) > 1 and args[1] is not None else attrs["axes"]
    value = args[0]
    rank = value.ndim + len(axes)
    for axis in sorted(int(a) % rank for a in np.asarray(axes).reshape(-1)):
        value = np.expand_dims(value, axis)
    return [value]


def _fold_squeeze(args: list[Any], attrs: dict[str, Any]) -> list[Any]:
    axes = args[1] if len(args) > 1 and args[1] is not None else attrs.get("axes")
    if axes is None:
        return [np.squeeze(args[0])]
    return [np.squeeze(args[0], axis=tuple(int(a) for a in np.asarray(axes).reshape(-1)))]


def _fold_slice(args: list[Any], attrs: dict[str, Any]) -> list[Any]:
    data, starts, ends = args[0], args[1], args[2]
    axes = args[3] if len(args) > 3 and args[3] is not None else range(len(starts))
    steps = args[4] if len(args) > 4 and args[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[int(a)] = slice(int(s), int(min(max(e, -(2**62)), 2**62)), int(st))
    return [data[tuple(index)]]


def _fold_reshape(args: list[Any], attrs: dict[str, Any]) -> list[Any]:
    target = [int(d) if d != 0 else args[0].shape[i] for i, d in enumerate(args[1])]
    return [args[0].reshape(target)]


def _folded_dims(op: str, args: list[Any], attrs: dict[str, Any]) -> list[int] | None:
    """The shape a fold that can grow its inputs will make (broadcasting, ConstantOfShape, Expand, Gather),
    worked out without numpy allocating it; None for the other folds, and for arguments the fold itself
    will refuse."""
    try:
        if op in ("ConstantOfShape", "Expand"):
            target = args[0] if op == "ConstantOfShape" else args[1]
            if target.size > proto.MAX_DIMS:
                return [2**62] * 3  # no shape has that many dims: refused as too large
            dims = [int(d) for d in target.reshape(-1)]
            if op == "Expand":
                dims = list(np.broadcast_shapes(args[0].shape, tuple(dims)))
        elif op in ("Add", "Sub", "Mul", "Div", "Equal", "Where"):
            dims = list(np.broadcast_shapes(*(a.shape for a in args if a is not None)))
        elif op == "Gather":
            data, axis = args[0], int(attrs.get("axis", 0)) % max(args[0].ndim, 1)
            dims = [*data.shape[:axis], *args[1].shape, *data.shape[axis + 1:]]
        else:
            return None
    except (ValueError, TypeError, IndexError, OverflowError, AttributeError):
        return None
    return None if any(d < 0 for d in dims) else dims


FOLDABLE: dict[str, Any] = {
    "Constant": lambda args, attrs: [_constant(attrs)],
    "Identity": lambda args, attrs: [args[0]],
    "Cast": lambda args, attrs: [args[0]],
    "Gather": _fold_gather,
    "Unsqueeze": _fold_unsqueeze,
    "Squeeze": _fold_squeeze,
    "Concat": lambda args, attrs: [np.concatenate([np.atleast_1d(a) for a in args], axis=attrs.get("axis", 0))],
    "Slice": _fold_slice,
    "Reshape": _fold_reshape,
    "Add": lambda args, attrs: [args[0] + args[1]],
    "Sub": lambda args, attrs: [args[0] - args[1]],
    "Mul": lambda args, attrs: [args[0] * args[1]],
    "Div": lambda args, attrs: [args[0] // args[1] if args[0].dtype.kind in "iu" else args[0] / args[1]],
    "Sqrt": lambda args, attrs: [np.sqrt(args[0])],
    "Transpose": lambda args, attrs: [np.transpose(args[0], attrs.get("perm"))],
    "ReduceProd": lambda args, attrs: [np.prod(args[0], keepdims=bool(attrs.get("keepdims", 1)))],
    "ConstantOfShape": lambda args, attrs: [np.full([int(d) for d in args[0]], attrs["value"].reshape(-1)[0]
                                                    if "value" in attrs else 0.0)],
    "Equal": lambda args, attrs: [args[0] == args[1]],
    "Where": lambda args, attrs: [np.where(args[0], args[1], args[2])],
    "Expand": lambda args, attrs: [args[0] * np.ones([int(d) for d in args[1]], dtype=args[0].dtype)],
}


# ---------------------------------------------------------------- operator handlers


def _pads(attrs: dict[str, Any], rank: int, im: _Importer) -> Any:
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto == "VALID":
        return 0
    if auto == "SAME_UPPER":
        return "same"
    if auto not in ("NOTSET", ""):
        raise im.fail(f"auto_pad {auto} is not supported", expected="NOTSET, VALID or SAME_UPPER")
    pads = [int(p) for p in attrs.get("pads", [0] * (2 * rank))]
    pairs = [[pads[i], pads[i + rank]] for i in range(rank)]
    if all(b == a for b, a in pairs):
        firsts = [b for b, _ in pairs]
        return firsts[0] if len(set(firsts)) == 1 else firsts
    return pairs


def _sizes(values: Any) -> Any:
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def _axis(im: _Importer, attrs: dict[str, Any], key: str, default: int, rank: int) -> int:
    """Attribute ``key``, an axis of a rank-``rank`` ONNX tensor (batch included), from 0: ONNX allows -rank
    to rank - 1, and taking any other number modulo the rank would import a model that is not the file's."""
    axis = int(attrs.get(key, default))
    if not -rank <= axis < rank:
        raise im.fail(f"attribute '{key}' is not an axis of the rank-{rank} input", got=axis,
                      expected=f"{-rank} to {rank - 1}")
    return axis % rank


def _groups(im: _Importer, attrs: dict[str, Any], channels: Any, filters: int) -> int:
    """Attribute 'group', checked against the channels and filters it splits (group=0 imported as an
    ungrouped conv)."""
    groups = int(attrs.get("group", 1))
    known = isinstance(channels, int)
    if groups < 1 or known and (channels % groups or filters % groups):
        raise im.fail("attribute 'group' must divide the input channels and the filters", got=groups,
                      expected=f"a positive divisor of both {channels} and {filters}" if known
                      else "a positive integer")
    return groups


def _weight_channels(im: _Importer, weight: Any, axis: int, channels: Any) -> None:
    """The weight's input channels (axis 1 of a Conv's, per group; axis 0 of a ConvTranspose's) against the
    input's: a mismatch imported a layer whose weights cannot run."""
    if isinstance(channels, int) and int(weight.shape[axis]) != channels:
        raise im.fail(f"the weight {list(weight.shape)} does not fit the input's channels: axis {axis} holds "
                      f"{int(weight.shape[axis])}", got=int(weight.shape[axis]), expected=channels)


def _conv(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x = im.cf_input(node.input[0])
    weight = im.const(node.input[1], "weight")
    if weight.ndim < 3:
        raise im.fail("conv weight must have a kernel", got=list(weight.shape))
    rank = weight.ndim - 2
    channels = im.shapes[x][-1]
    groups = _groups(im, attrs, channels, int(weight.shape[0]))
    _weight_channels(im, weight, 1, channels // groups if isinstance(channels, int) else channels)
    fields: dict[str, Any] = {"kernel": _sizes(weight.shape[2:]), "stride": _sizes(attrs.get("strides", [1] * rank)),
                              "padding": _pads(attrs, rank, im),
                              "dilation": _sizes(attrs.get("dilations", [1] * rank))}
    bias = im.const(node.input[2], "bias") if len(node.input) > 2 and node.input[2] else None
    filters = weight.shape[0]
    if groups > 1 and groups == channels and filters % channels == 0 and bias is None and \
            _separable(im, node, x, weight, fields, channels):
        return
    if groups > 1 and groups == channels and filters % channels == 0:
        m = filters // channels
        fields["multiplier"] = m
        layer = im.emit("depthwise_conv", im.node_name(node), [x], **fields, bias=bias is not None)
        im.keep(f"{layer}.weight", lambda: _moved(weight, rank).reshape(*weight.shape[2:], channels, m))
    else:
        if groups > 1:
            fields["groups"] = groups
        layer = im.emit("conv", im.node_name(node), [x], filters=int(filters), **fields, bias=bias is not None)
        im.keep(f"{layer}.weight", lambda: _moved(weight, rank))
    if bias is not None:
        im.keep(f"{layer}.bias", lambda: bias)
    im.finish(node, layer, _cf(rank + 1), fusable=True)


def _moved(weight: np.ndarray, rank: int) -> np.ndarray:
    """A Conv weight [F, C/g, k...] as cnncalc's [k..., C/g, F]."""
    return weight.transpose(*range(2, 2 + rank), 1, 0)


def _separable(im: _Importer, node: Any, x: str, weight: Any, fields: dict[str, Any], channels: int) -> bool:
    """cnncalc's exporter writes separable_conv as ``<layer>/depthwise`` then a 1×1 ``<layer>``."""
    if not node.name.endswith("/depthwise"):
        return False
    nxt = im.single_consumer(node.output[0])
    if not nxt or nxt[1].op_type != "Conv" or nxt[1].name != node.name[: -len("/depthwise")]:
        return False
    point = im.values.get(nxt[1].input[1])
    attrs = im.attrs(nxt[1])
    if not _is_const(point) or point.ndim != weight.ndim or any(k != 1 for k in point.shape[2:]) \
            or attrs.get("group", 1) != 1 or any(s != 1 for s in attrs.get("strides", [])) \
            or any(p for p in attrs.get("pads", [])):
        return False
    rank = weight.ndim - 2
    bias = im.values.get(nxt[1].input[2]) if len(nxt[1].input) > 2 and nxt[1].input[2] else None
    if bias is not None and not _is_const(bias):
        return False
    point = im.const(nxt[1].input[1], "weight")  # an import reads the values now
    bias = None if bias is None else im.const(nxt[1].input[2], "bias")
    m = weight.shape[0] // channels
    im.done.add(nxt[0])
    im.node = nxt[1]
    layer = im.emit("separable_conv", im.node_name(nxt[1]), [x], filters=int(point.shape[0]), **fields,
                    multiplier=m, bias=bias is not None)
    im.keep(f"{layer}.weight", lambda: _moved(weight, rank).reshape(*weight.shape[2:], channels, m))
    im.keep(f"{layer}.pointwise_weight", lambda: point.reshape(point.shape[0], point.shape[1]).T.copy())
    if bias is not None:
        im.keep(f"{layer}.bias", lambda: bias)
    im.finish(nxt[1], layer, _cf(rank + 1), fusable=True)
    return True


def _conv_transpose(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x = im.cf_input(node.input[0])
    weight = im.const(node.input[1], "weight")  # [C_in, F/g, k...]
    if weight.ndim < 3:
        raise im.fail("conv weight must have a kernel", got=list(weight.shape))
    rank = weight.ndim - 2
    channels = im.shapes[x][-1]
    groups = _groups(im, attrs, channels, int(weight.shape[1]) * max(int(attrs.get("group", 1)), 1))
    _weight_channels(im, weight, 0, channels)
    if "output_shape" in attrs:
        raise im.fail("ConvTranspose with output_shape is not supported", hint="use pads and output_padding")
    padding = _pads(attrs, rank, im)
    if padding == "same":
        raise im.fail("ConvTranspose with auto_pad is not supported", expected="explicit pads")
    fields: dict[str, Any] = {"filters": int(weight.shape[1] * groups), "kernel": _sizes(weight.shape[2:]),
                              "stride": _sizes(attrs.get("strides", [1] * rank)), "padding": padding,
                              "dilation": _sizes(attrs.get("dilations", [1] * rank)),
                              "output_padding": _sizes(attrs.get("output_padding", [0] * rank))}
    if groups > 1:
        fields["groups"] = groups
    bias = im.const(node.input[2], "bias") if len(node.input) > 2 and node.input[2] else None
    layer = im.emit("conv_transpose", im.node_name(node), [x], **fields, bias=bias is not None)
    im.keep(f"{layer}.weight", lambda: weight.transpose(*range(2, 2 + rank), 0, 1))
    if bias is not None:
        im.keep(f"{layer}.bias", lambda: bias)
    im.finish(node, layer, _cf(rank + 1), fusable=True)


def _pool(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if len(node.output) > 1 and node.output[1]:
        raise im.fail("MaxPool's indices output is not supported")
    x = im.cf_input(node.input[0])
    kernel = attrs.get("kernel_shape")
    if not kernel:
        raise im.fail("pooling without kernel_shape")
    rank = len(kernel)
    fields: dict[str, Any] = {"kernel": _sizes(kernel), "stride": _sizes(attrs.get("strides", [1] * rank)),
                              "padding": _pads(attrs, rank, im)}
    if attrs.get("ceil_mode", 0):
        fields["ceil_mode"] = True
    if any(d != 1 for d in attrs.get("dilations", [1] * rank)):
        fields["dilation"] = _sizes(attrs["dilations"])
    if node.op_type == "AveragePool":
        fields["count_include_pad"] = bool(attrs.get("count_include_pad", 0))
        kind = "avgpool"
    else:
        kind = "maxpool"
    im.finish(node, im.emit(kind, im.node_name(node), [x], **fields), _cf(rank + 1))


def _global_pool(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x = im.cf_input(node.input[0])
    kind = "global_avgpool" if node.op_type == "GlobalAveragePool" else "global_maxpool"
    rank = len(im.shapes[x])
    nxt = im.single_consumer(node.output[0])
    if nxt and nxt[1].op_type == "Flatten" and im.attrs(nxt[1]).get("axis", 1) == 1:
        im.done.add(nxt[0])
        # cnncalc's exporter writes a global pool without keepdims as <layer>/pool, then Flatten <layer>
        base = nxt[1].name if node.name and node.name == f"{nxt[1].name}/pool" else im.node_name(node)
        layer = im.emit(kind, base, [x])
        im.values[nxt[1].output[0]] = Tensor(layer, (0,))
        return
    layer = im.emit(kind, im.node_name(node), [x], keepdims=True)
    im.finish(node, layer, _cf(rank))


def _batchnorm(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if len([o for o in node.output if o]) > 1:
        raise im.fail("BatchNormalization in training mode is not supported")
    x = im.cf_input(node.input[0])
    gamma, beta, mean, var = (im.const(n, what) for n, what in zip(node.input[1:5], ("scale", "bias", "mean", "var")))
    # PyTorch (where most ONNX files come from) keeps the moving statistics out of its parameter count;
    # cnncalc's exporter says in the node's doc_string which count the spec used
    counts = "count_stats: true" in node.doc_string
    layer = im.emit("batchnorm", im.node_name(node), [x], epsilon=f32(attrs.get("epsilon", 1e-5)),
                    count_stats=counts)
    for key, value in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var)):
        im.keep(f"{layer}.{key}", lambda value=value: value)
    im.finish(node, layer, _cf(len(im.shapes[x])))


def _dense_weight(im: _Importer, node: Any, x: str, shape: tuple[int, ...], weight: Any, bias: Any) -> None:
    """A dense layer of weight ``shape`` ([inputs, units]); ``weight()`` and ``bias()`` make the arrays."""
    if len(shape) != 2 or shape[0] != im.shapes[x][-1]:
        raise im.fail("dense weight does not fit the input", got=list(shape), expected=f"[{im.shapes[x][-1]}, units]")
    layer = im.emit("dense", im.node_name(node), [x], units=int(shape[1]), bias=bias is not None)
    im.keep(f"{layer}.weight", weight)
    if bias is not None:
        im.keep(f"{layer}.bias", lambda: np.broadcast_to(bias(), (shape[1],)).copy())
    else:
        im.pending_bias[layer] = node.output[0]
    im.finish(node, layer, _identity(len(im.shapes[layer])), fusable=True)


def _gemm(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if attrs.get("transA", 0):
        raise im.fail("Gemm with transA is not supported")
    x = im.same_input(node.input[0])
    stored = im.const(node.input[1], "weight")
    alpha, beta, flip = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0)), bool(attrs.get("transB", 0))
    shape = tuple(reversed(stored.shape)) if flip else tuple(stored.shape)
    bias = None
    if len(node.input) > 2 and node.input[2]:
        stored_bias = im.const(node.input[2], "bias")
        if stored_bias.size not in (1, shape[-1] if shape else 0):
            raise im.fail("Gemm bias must be one value per unit", got=list(stored_bias.shape))

        def bias() -> np.ndarray:
            return (stored_bias * beta).reshape(-1)

    def weight() -> np.ndarray:
        scaled = stored * alpha
        return scaled.T if flip else scaled

    _dense_weight(im, node, x, shape, weight, bias)


def _matmul(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if _is_const(im.values.get(node.input[0])):
        raise im.fail("MatMul with a constant on the left is not supported")
    if not _is_const(im.values.get(node.input[1])):
        raise im.fail("MatMul of two computed tensors (attention) is not supported")
    weight = im.const(node.input[1], "weight")
    _dense_weight(im, node, im.same_input(node.input[0]), tuple(weight.shape), lambda: weight, None)


MERGES = {"Add": "add", "Sum": "add", "Mul": "multiply", "Sub": "subtract", "Max": "maximum", "Min": "minimum",
          "Mean": "average"}


def _merge(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    names = [n for n in node.input if n]
    constants = [n for n in names if _is_const(im.values.get(n))]
    if constants:
        _with_constant(im, node, names, constants)
        return
    tensors = [im.tensor(n) for n in names]
    ranks = {im.rank(t) for t in tensors}
    if len(ranks) == 1:
        perm = tensors[0].perm
        layers = [im.as_perm(t, perm) for t in tensors]
    else:
        perm = _identity(max(ranks))
        layers = [im.as_perm(t, _identity(im.rank(t))) for t in tensors]
    if len(layers) == 1:
        im.values[node.output[0]] = Tensor(layers[0], tensors[0].perm)
        return
    im.finish(node, im.emit(MERGES[node.op_type], im.node_name(node), layers), perm)


def _with_constant(im: _Importer, node: Any, names: list[str], constants: list[str]) -> None:
    tensors = [n for n in names if n not in constants]
    if len(tensors) != 1 or len(names) != 2 or node.op_type not in ("Add", "Mul"):
        raise im.fail(f"{node.op_type} with a constant operand is not supported here")
    t = im.tensor(tensors[0])
    value = im.const(constants[0])
    shape = im.cshape(t)
    rank = im.rank(t)
    channels = shape[-1] if shape else None
    if node.op_type == "Add" and t.layer in im.pending_bias and im.pending_bias[t.layer] == tensors[0] \
            and value.size == channels and im.single_consumer(tensors[0]) is not None:
        im.entries[t.layer]["bias"] = True
        im.keep(f"{t.layer}.bias", lambda: value.reshape(-1))
        del im.pending_bias[t.layer]
        layer = t.layer
        if node.name and f"{node.name}/matmul" == _producer_name(im, tensors[0]):
            layer = im.rename(t.layer, node.name)  # cnncalc's exporter: <layer>/matmul, then the Add <layer>
        im.finish(node, layer, t.perm, fusable=True)
        return
    onnx_shape = im.onnx_shape(t)
    squeezed = tuple(value.shape[1:] if value.ndim == rank + 1 and value.shape[0] == 1 else value.shape)
    if node.op_type == "Mul" and channels is not None and value.size == channels:
        # one factor per channel, along the axis that is cnncalc's channels
        channel_axis = t.perm.index(rank - 1)
        expected = [channels if j == channel_axis else 1 for j in range(rank)]
        if value.size == 1 or list(squeezed)[-rank:] == expected[-len(squeezed):] or value.ndim == 1 \
                and channel_axis == rank - 1:
            layer = im.emit("layer_scale", im.node_name(node), [t.layer])
            im.keep(f"{layer}.weight", lambda: value.reshape(-1))
            im.finish(node, layer, t.perm)
            return
    if node.op_type == "Add" and list(squeezed) == [int(d) if isinstance(d, int) else -1 for d in onnx_shape]:
        layer = im.emit("position_embedding", im.node_name(node), [t.layer])
        im.keep(f"{layer}.weight", lambda: np.transpose(value.reshape(squeezed), np.argsort(t.perm)))
        im.finish(node, layer, t.perm)
        return
    raise im.fail(f"{node.op_type} with a constant of shape {list(value.shape)} has no cnncalc layer",
                  expected="a dense bias, one factor per channel (layer_scale) or a full-shape table "
                  "(position_embedding)")


def _producer_name(im: _Importer, output: str) -> str | None:
    producer = im.producers.get(output)
    return None if producer is None else im.graph.node[producer].name


def _elementwise(kind: str) -> Any:
    def handle(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
        t = im.tensor(node.input[0])
        fields: dict[str, Any] = {}
        if kind == "dropout":
            ratio = attrs.get("ratio", 0.5)
            if len(node.input) > 1 and node.input[1]:
                ratio = float(im.value(node.input[1], "ratio").reshape(-1)[0])
            fields["rate"] = f32(ratio)
        layer = im.emit(kind, im.node_name(node), [t.layer], **fields)
        im.values[node.output[0]] = Tensor(layer, t.perm)

    return handle


def _alias(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    im.values[node.output[0]] = im.tensor(node.input[0])


def _softmax(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    axis = _axis(im, attrs, "axis", -1, rank + 1)
    if axis == 0:
        raise im.fail("softmax over the batch axis is not supported")
    cn_axis = t.perm[axis - 1]
    layer = im.emit("softmax", im.node_name(node), [t.layer], axis=-1 if cn_axis == rank - 1 else cn_axis)
    im.finish(node, layer, t.perm)


def _prelu(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    slope = im.const(node.input[1], "slope")
    layer = im.emit("prelu", im.node_name(node), [t.layer], alpha="single" if slope.size == 1 else "channel")
    im.keep(f"{layer}.weight", lambda: slope.reshape(-1))
    im.finish(node, layer, t.perm)


def _lrn(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x = im.cf_input(node.input[0])
    layer = im.emit("lrn", im.node_name(node), [x], size=int(attrs["size"]), alpha=f32(attrs.get("alpha", 1e-4)),
                    beta=f32(attrs.get("beta", 0.75)), k=f32(attrs.get("bias", 1.0)))
    im.finish(node, layer, _cf(len(im.shapes[x])))


def _flatten(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if int(attrs.get("axis", 1)) != 1:
        raise im.fail("Flatten with an axis other than 1 is not supported")
    x = im.same_input(node.input[0])
    im.finish(node, im.emit("flatten", im.node_name(node), [x]), (0,))


def _reshape(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if _channel_shuffle(im, position, node):
        return
    t = im.tensor(node.input[0])
    target = [int(d) for d in im.numbers(node.input[1], "shape")]
    if not target or not (target[0] in (BATCH, 0, im.batch) or target[0] == -1 and -1 not in target[1:]):
        raise im.fail("Reshape must keep the batch axis first", got=target[:6],
                      expected="[N or 0 or -1, ...] with the batch size first"
                      + (f" (the input's batch size is {im.batch})" if im.batch > 0 else ""))
    dims = im.onnx_shape(t)
    sample = [dims[i] if d == 0 and i < len(dims) else d for i, d in enumerate(target[1:])]
    if any(not isinstance(d, int) or (d < 1 and d != -1) for d in sample):
        raise im.fail("Reshape target must be numbers", got=target[:6])
    x = im.same_input(node.input[0])
    if len(sample) == 1:
        layer = im.emit("flatten", im.node_name(node), [x])
    else:
        layer = im.emit("reshape", im.node_name(node), [x], shape=sample)
    im.finish(node, layer, _identity(len(im.shapes[layer])))


def _channel_shuffle(im: _Importer, position: int, node: Any) -> bool:
    """Reshape [N, g, C/g, ...] → Transpose(0, 2, 1, ...) → Reshape [N, C, ...] on a channels-first value."""
    t = im.values.get(node.input[0])
    target = im.values.get(node.input[1])
    if not isinstance(t, Tensor) or not _is_const(target) or t.perm != _cf(im.rank(t)) \
            or not getattr(target, "readable", True):
        return False
    dims = im.onnx_shape(t)
    target = [int(d) for d in im.numbers(node.input[1], "shape")]
    if len(target) != len(dims) + 2 or not all(isinstance(d, int) for d in dims):
        return False
    channels = dims[0]
    groups = target[1]
    if groups < 1 or target[2] * groups != channels or target[3:] != dims[1:]:
        return False
    swap = im.single_consumer(node.output[0])
    if not swap or swap[1].op_type != "Transpose":
        return False
    perm = list(im.attrs(swap[1]).get("perm", []))
    if perm != [0, 2, 1, *range(3, len(target))]:
        return False
    merge = im.single_consumer(swap[1].output[0])
    if not merge or merge[1].op_type != "Reshape" or not _is_const(im.values.get(merge[1].input[1])) \
            or not getattr(im.values[merge[1].input[1]], "readable", True):
        return False
    back = [int(d) for d in im.numbers(merge[1].input[1], "shape")]
    if back[1:] != dims:
        return False
    im.done.update((swap[0], merge[0]))
    layer = im.emit("channel_shuffle", im.node_name(merge[1]), [t.layer], groups=groups)
    im.values[merge[1].output[0]] = Tensor(layer, t.perm)
    return True


def _transpose(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    perm = list(attrs.get("perm", range(rank, -1, -1)))
    if sorted(perm) != list(range(rank + 1)):
        raise im.fail(f"attribute 'perm' is not a permutation of the rank-{rank + 1} input's axes", got=perm,
                      expected=f"each of 0 to {rank} once")
    if perm[0] != 0:
        raise im.fail("Transpose must keep the batch axis first", got=perm)
    im.values[node.output[0]] = Tensor(t.layer, tuple(t.perm[p - 1] for p in perm[1:]), im.node_name(node))


def _concat(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    tensors = [im.tensor(n) for n in node.input if n]
    rank = im.rank(tensors[0])
    axis = _axis(im, attrs, "axis", 1, rank + 1)
    if axis == 0:
        raise im.fail("Concat along the batch axis is not supported")
    perm = tensors[0].perm
    layers = [im.as_perm(t, perm) for t in tensors]
    cn_axis = perm[axis - 1]
    if len(layers) == 1:
        im.values[node.output[0]] = Tensor(layers[0], perm)
        return
    layer = im.emit("concat", im.node_name(node), layers, axis=-1 if cn_axis == rank - 1 else cn_axis)
    im.finish(node, layer, perm)


def _slice_layer(im: _Importer, base: str, t: Tensor, onnx_axis: int, start: int, stop: int | None,
                 step: int) -> str:
    rank = im.rank(t)
    if onnx_axis == 0:
        raise im.fail("Slice along the batch axis is not supported")
    if step < 1:
        raise im.fail("Slice with a negative step is not supported", got=step)
    cn_axis = t.perm[onnx_axis - 1]
    fields: dict[str, Any] = {"axis": -1 if cn_axis == rank - 1 else cn_axis, "start": start}
    if stop is not None:
        fields["stop"] = stop
    if step != 1:
        fields["step"] = step
    return im.emit("slice", base, [t.layer], **fields)


def _slice(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    starts = [int(v) for v in im.numbers(node.input[1], "starts")]
    ends = [int(v) for v in im.numbers(node.input[2], "ends")]
    axes = ([int(v) for v in im.numbers(node.input[3], "axes")] if len(node.input) > 3 and node.input[3]
            else list(range(len(starts))))
    steps = ([int(v) for v in im.numbers(node.input[4], "steps")] if len(node.input) > 4 and node.input[4]
             else [1] * len(starts))
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise im.fail("Slice's starts, ends, axes and steps must have one value per axis sliced",
                      got=[len(starts), len(ends), len(axes), len(steps)], expected="four equal lengths")
    full = rank + 1
    if any(not -full <= a < full for a in axes):
        raise im.fail(f"input 'axes' holds a number that is not an axis of the rank-{full} input", got=axes,
                      expected=f"{-full} to {full - 1}")
    if _crop(im, node, t, starts, ends, axes, steps):
        return
    current = t
    for k, (s, e, a, st) in enumerate(zip(starts, ends, axes, steps)):
        a %= rank + 1
        if a == 0:
            if s == 0 and e >= 2**31:
                continue
            raise im.fail("Slice along the batch axis is not supported")
        stop = None if e >= 2**31 else e
        base = im.node_name(node) if k == len(starts) - 1 else im.node_name(node, f".{k}")
        layer = _slice_layer(im, base, current, a, s, stop, st)
        current = Tensor(layer, current.perm)
    im.values[node.output[0]] = current


def _crop(im: _Importer, node: Any, t: Tensor, starts: list[int], ends: list[int], axes: list[int],
          steps: list[int]) -> bool:
    """A Slice of spatial axes only, step 1, on a channels-first value: a crop."""
    rank = im.rank(t)
    dims = im.onnx_shape(t)
    full = rank + 1
    axes = [a % full for a in axes]
    if rank < 2 or t.perm != _cf(rank) or any(a < 2 for a in axes) or any(st != 1 for st in steps) \
            or not all(isinstance(d, int) for d in dims):
        return False
    cropping = [[0, 0] for _ in range(rank - 1)]
    for s, e, a in zip(starts, ends, axes):
        n = dims[a - 1]
        begin = min(max(s + n if s < 0 else s, 0), n)
        end = min(max(e + n if e < 0 else e, 0), n)
        if end <= begin:
            return False
        cropping[a - 2] = [begin, n - end]
    layer = im.emit("crop", im.node_name(node), [t.layer], cropping=cropping)
    im.finish(node, layer, t.perm)
    return True


def _split(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    axis = _axis(im, attrs, "axis", 0, rank + 1)
    if len(node.input) > 1 and node.input[1]:
        parts = [int(v) for v in im.numbers(node.input[1], "split", len(node.output))]
    elif "split" in attrs:
        parts = [int(v) for v in attrs["split"]]
    else:
        total = im.onnx_shape(t)[axis - 1] if axis else None
        if not isinstance(total, int):
            raise im.fail("Split of a symbolic axis needs explicit sizes")
        count = len(node.output)
        size = -(-total // count)
        parts = [min(size, total - size * k) for k in range(count)]
    start = 0
    for k, (output, size) in enumerate(zip(node.output, parts)):
        if output:
            layer = _slice_layer(im, im.node_name(node, f".{k}"), t, axis, start, start + size, 1)
            im.values[output] = Tensor(layer, t.perm)
        start += size


def _pad(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    mode = attrs.get("mode", b"constant")
    if mode not in (b"constant", "constant"):
        raise im.fail(f"Pad mode {mode!r} is not supported", expected="constant (zeros)")
    pads = ([int(v) for v in im.numbers(node.input[1], "pads")] if len(node.input) > 1 and node.input[1]
            else [int(v) for v in attrs.get("pads", [])])
    if len(node.input) > 2 and node.input[2] and float(im.value(node.input[2]).reshape(-1)[0]) != 0.0:
        raise im.fail("Pad with a value other than 0 is not supported")
    if len(node.input) > 3 and node.input[3]:
        raise im.fail("Pad with axes is not supported")
    t = im.tensor(node.input[0])
    full = im.rank(t) + 1
    if len(pads) != 2 * full or pads[0] or pads[1] or pads[full] or pads[full + 1] or min(pads) < 0:
        raise im.fail("Pad must pad only the spatial axes, by non-negative amounts", got=pads)
    x = im.cf_input(node.input[0])
    pairs = [[pads[i], pads[i + full]] for i in range(2, full)]
    layer = im.emit("zero_pad", im.node_name(node), [x], padding=pairs)
    im.finish(node, layer, _cf(full - 1))


def _resize(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    mode = attrs.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    transform = attrs.get("coordinate_transformation_mode", b"half_pixel")
    transform = transform.decode() if isinstance(transform, bytes) else transform
    nearest_mode = attrs.get("nearest_mode", b"round_prefer_floor")
    nearest_mode = nearest_mode.decode() if isinstance(nearest_mode, bytes) else nearest_mode
    if mode == "nearest" and (node.op_type == "Upsample" or transform == "asymmetric" and nearest_mode == "floor"):
        kind = "nearest"
    elif mode in ("linear", "bilinear") and transform in ("half_pixel", "pytorch_half_pixel"):
        kind = "linear"
    else:
        raise im.fail(f"Resize mode {mode} with {transform} coordinates is not supported",
                      expected="nearest (asymmetric, floor) or linear (half_pixel)")
    if "axes" in attrs and list(attrs["axes"]) != list(range(1, rank + 1)) and \
            list(attrs["axes"]) != list(range(2, rank + 1)):
        raise im.fail("Resize over other axes than channels and spatial ones is not supported")
    dims = im.onnx_shape(t)
    sizes = scales = None
    inputs = list(node.input)
    if node.op_type == "Upsample":
        scales = im.numbers(inputs[1], "scales") if len(inputs) > 1 else list(attrs["scales"])
    else:
        if len(inputs) > 3 and inputs[3]:
            sizes = im.numbers(inputs[3], "sizes")
        elif len(inputs) > 2 and inputs[2]:
            scales = im.numbers(inputs[2], "scales")
    fields: dict[str, Any] = {"mode": kind}
    if sizes is not None:
        sizes = [int(v) for v in sizes][-rank:]
        if sizes[0] != dims[0]:
            raise im.fail("Resize may not change the channel count")
        fields["size"] = _sizes(sizes[1:])
    elif scales is not None:
        scales = [float(v) for v in scales][-rank:]
        if scales[0] != 1 or any(s != int(s) or s < 1 for s in scales[1:]):
            raise im.fail("Resize scales must be whole numbers (and 1 on the channels)", got=scales)
        fields["scale"] = _sizes(scales[1:])
    else:
        raise im.fail("Resize needs scales or sizes")
    x = im.cf_input(node.input[0])
    im.finish(node, im.emit("upsample", im.node_name(node), [x], **fields), _cf(rank))


def _layernorm(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    t = im.tensor(node.input[0])
    rank = im.rank(t)
    axis = _axis(im, attrs, "axis", -1, rank + 1)
    if axis == 0:
        raise im.fail("LayerNormalization over the batch axis is not supported")
    x = im.same_input(node.input[0])
    axes = list(range(axis - 1, rank))
    fields: dict[str, Any] = {"axis": -1 if axes == [rank - 1] else axes, "epsilon": f32(attrs.get("epsilon", 1e-5))}
    has_beta = len(node.input) > 2 and bool(node.input[2])
    if not has_beta:
        fields["center"] = False
    layer = im.emit("layernorm", im.node_name(node), [x], **fields)
    dims = tuple(int(d) for d in im.shapes[x][axis - 1:])
    for index, key, what in [(1, "gamma", "scale")] + ([(2, "beta", "bias")] if has_beta else []):
        value = im.const(node.input[index], what)
        if not _broadcasts(tuple(value.shape), dims):
            raise im.fail(f"{what} has shape {list(value.shape)}", expected=f"{list(dims)} or a shape that broadcasts to it")
        im.keep(f"{layer}.{key}", lambda value=value: np.broadcast_to(value, dims).copy())
    im.finish(node, layer, _identity(rank))


def _gather(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    """Rows of a constant table picked by computed ids: an embedding."""
    table = im.values.get(node.input[0])
    if not _is_const(table) or table.ndim != 2 or int(attrs.get("axis", 0)) != 0:
        raise im.fail("Gather is supported as an embedding: a constant [vocab, dim] table, axis 0, computed ids")
    x = im.same_input(node.input[1])
    table = im.const(node.input[0], "table")  # an import reads the values now
    layer = im.emit("embedding", im.node_name(node), [x], vocab=int(table.shape[0]), dim=int(table.shape[1]))
    im.keep(f"{layer}.weight", lambda: table)
    im.finish(node, layer, _identity(len(im.shapes[layer])))


# ---------------------------------------------------------------- cnncalc's model-local functions


def _arguments(im: _Importer, node: Any, names: tuple[str, ...]) -> list[str]:
    if len(node.input) != len(names) or not all(node.input):
        raise im.fail(f"{node.op_type} takes {len(names)} inputs ({', '.join(names)})")
    return list(node.input)


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether numpy broadcasts ``shape`` to ``target`` (exactly, without changing ``target``)."""
    return len(shape) <= len(target) and all(s in (1, t) for s, t in zip(reversed(shape), reversed(target)))


def _weight(im: _Importer, name: str, what: str, shape: tuple[int, ...]) -> Any:
    value = im.const(name, what)
    if tuple(value.shape) != tuple(shape):
        raise im.fail(f"{what} has shape {list(value.shape)}", expected=list(shape))
    return value


def _int_attr(im: _Importer, attrs: dict[str, Any], key: str, default: int | None = None) -> int:
    value = attrs.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise im.fail(f"attribute '{key}' must be an integer", got=value)
    return value


def _fn_attention(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    parts = ("query", "key", "value", "output")
    q_in, v_in, k_in, *rest = _arguments(im, node, ("query", "value", "key", *(f"{p}.weight" for p in parts),
                                                    *(f"{p}.bias" for p in parts)))
    roles = [im.tensor(n) for n in (q_in, v_in, k_in)]
    if any(im.rank(t) != 2 for t in roles):
        raise im.fail("Attention takes [N, T, d] inputs (tokens, features)")
    names = [im.same_input(n) for n in (q_in, v_in, k_in)]
    inputs = names[:1] if names[0] == names[1] == names[2] else names[:2] if names[1] == names[2] else names
    wq, wk, wv, wo = (im.const(n, f"{p}.weight") for n, p in zip(rest[:4], parts))
    if wq.ndim != 3 or wk.ndim != 3 or wv.ndim != 3 or wo.ndim != 3:
        raise im.fail("attention weights are [d, heads, dim] (query, key, value) and [heads, dim, out] (output)")
    d_q = im.shapes[names[0]][-1]
    heads, key_dim, value_dim, out = int(wq.shape[1]), int(wq.shape[2]), int(wv.shape[2]), int(wo.shape[2])
    if _int_attr(im, attrs, "heads", heads) != heads:
        raise im.fail(f"attribute heads={attrs['heads']} but the query weight has {heads} heads")
    bias = bool(_int_attr(im, attrs, "bias", 1))
    fields: dict[str, Any] = {"heads": heads}
    if not (isinstance(d_q, int) and d_q == heads * key_dim):
        fields["key_dim"] = key_dim
    if value_dim != key_dim:
        fields["value_dim"] = value_dim
    if out != d_q:
        fields["output_dim"] = out
    if not bias:
        fields["bias"] = False
    layer = im.emit("attention", im.node_name(node), inputs, **fields)
    from ..layers import LAYER_TYPES

    cls = LAYER_TYPES["attention"]
    expected = cls("attention", layer, 1, inputs, cls.parse_fields("attention", {"type": "attention", **fields,
                   "bias": True})).weight_shapes([im.shapes[n] for n in inputs])
    for n, p in zip(rest, (*(f"{p}.weight" for p in parts), *(f"{p}.bias" for p in parts))):
        value = _weight(im, n, p, expected[p])
        if bias or p.endswith(".weight"):
            im.keep(f"{layer}.{p}", lambda value=value: value)
    im.finish(node, layer, (0, 1))


def _fn_class_token(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x_in, token = _arguments(im, node, ("x", "token"))
    if im.rank(im.tensor(x_in)) != 2:
        raise im.fail("ClassToken takes [N, T, d] tokens")
    x = im.same_input(x_in)
    layer = im.emit("class_token", im.node_name(node), [x])
    value = _weight(im, token, "token", (im.shapes[x][-1],))
    im.keep(f"{layer}.weight", lambda: value)
    im.finish(node, layer, (0, 1))


def _fn_group_norm(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x_in, gamma, beta = _arguments(im, node, ("x", "gamma", "beta"))
    x = im.same_input(x_in)
    epsilon = attrs.get("epsilon", 1e-5)
    if not isinstance(epsilon, float):
        raise im.fail("attribute 'epsilon' must be a number", got=epsilon)
    center, scale = bool(_int_attr(im, attrs, "center", 1)), bool(_int_attr(im, attrs, "scale", 1))
    fields: dict[str, Any] = {"groups": _int_attr(im, attrs, "groups"), "epsilon": f32(epsilon)}
    fields.update({key: False for key, on in (("center", center), ("scale", scale)) if not on})
    layer = im.emit("groupnorm", im.node_name(node), [x], **fields)
    channels = (im.shapes[x][-1],)
    for key, name, on in (("gamma", gamma, scale), ("beta", beta, center)):
        value = _weight(im, name, key, channels)
        if on:
            im.keep(f"{layer}.{key}", lambda value=value: value)
    im.finish(node, layer, _identity(len(im.shapes[x])))


def _fn_normalize(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x_in, flat = _arguments(im, node, ("x", "flat_shape"))
    t = im.tensor(x_in)
    rank = im.rank(t)
    x = im.cf_input(x_in) if rank >= 2 else im.same_input(x_in)
    channels = im.shapes[x][-1] if rank >= 2 else 1
    if [int(v) for v in im.numbers(flat, "flat_shape")] != [0, channels, -1]:
        raise im.fail("Normalize's flat_shape must be [0, C, -1] (channels first), or [0, 1, -1] for one axis",
                      expected=[0, str(channels), -1])
    layer = im.emit("normalize", im.node_name(node), [x])
    im.finish(node, layer, _cf(rank) if rank >= 2 else _identity(rank))


def _fn_adaptive(kind: str, rank: int) -> Any:
    def handle(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
        from ..layers.pool import adaptive_bounds

        names = _arguments(im, node, ("x", *(f"{'matrix' if kind == 'avg' else 'windows'}{k}" for k in range(rank))))
        if im.rank(im.tensor(names[0])) != rank + 1:
            raise im.fail(f"{node.op_type} takes [N, C] and {rank} spatial axes")
        x = im.cf_input(names[0])
        dims = im.shapes[x][:-1]
        size = []
        for axis, (n, name) in enumerate(zip(dims, names[1:])):
            value = im.const(name, f"axis {axis}'s {'matrix' if kind == 'avg' else 'windows'}")
            out = int(value.shape[1] if kind == "avg" else value.shape[0]) if value.ndim == 2 else 0
            if not isinstance(n, int) or out < 1 or out > n:
                raise im.fail(f"{node.op_type} needs numeric sizes and, per axis, a 2-D table for 1 to n windows")
            starts, ends = (np.array(v) for v in adaptive_bounds(n, out))
            if kind == "avg":
                cells = np.arange(n)
                want = ((cells[:, None] >= starts) & (cells[:, None] < ends)) / (ends - starts)
            else:
                want = np.minimum(starts[:, None] + np.arange(int((ends - starts).max())), ends[:, None] - 1)
            if tuple(value.shape) != want.shape or getattr(value, "readable", True) \
                    and not np.allclose(im.value(name), want, atol=1e-6):
                raise im.fail(f"axis {axis}'s table is not adaptive pooling's windows for {n} → {out}")
            size.append(out)
        layer = im.emit(f"adaptive_{kind}pool", im.node_name(node), [x], size=size[0] if len(set(size)) == 1 else size)
        im.finish(node, layer, _cf(rank + 1))
    return handle


FUNCTION_HANDLERS: dict[str, Any] = {
    "Attention": _fn_attention, "ClassToken": _fn_class_token, "GroupNorm": _fn_group_norm,
    "Normalize": _fn_normalize,
    **{f"AdaptiveAvgPool{r}d": _fn_adaptive("avg", r) for r in (1, 2, 3)},
    **{f"AdaptiveMaxPool{r}d": _fn_adaptive("max", r) for r in (1, 2, 3)},
}


HANDLERS: dict[str, Any] = {
    "Conv": _conv, "ConvTranspose": _conv_transpose, "MaxPool": _pool, "AveragePool": _pool,
    "GlobalAveragePool": _global_pool, "GlobalMaxPool": _global_pool, "BatchNormalization": _batchnorm,
    "Gemm": _gemm, "MatMul": _matmul, **{op: _merge for op in MERGES},
    "Dropout": _elementwise("dropout"), "Identity": _alias, "Cast": _alias, "Softmax": _softmax,
    "PRelu": _prelu, "LRN": _lrn, "Flatten": _flatten, "Reshape": _reshape, "Transpose": _transpose,
    "Concat": _concat, "Slice": _slice, "Split": _split, "Pad": _pad, "Resize": _resize, "Upsample": _resize,
    "LayerNormalization": _layernorm, "Gather": _gather,
}


# ---------------------------------------------------------------- entry points


# ---------------------------------------------------------------- reading without the weights

#: tensor payload fields (float_data, int32_data, string_data, int64_data, raw_data, double_data, uint64_data)
_PAYLOADS = {4, 5, 6, 7, 9, 10, 11}


#: protobuf fields walked by :func:`read_light` (ResNet-50 has about 1,300; a model at the node cap, a few
#: hundred thousand)
MAX_WIRE_FIELDS = 1_000_000


class _Wire:
    """Protobuf's wire format read from a file with ``pread``: tags and lengths through a 64 KiB window,
    payloads only when asked for."""

    WINDOW = 65_536

    def __init__(self, fd: int, size: int, source: str) -> None:
        import os

        self.fd, self.size, self.source, self.pread = fd, size, source, os.pread
        self.window_start, self.window = 0, b""
        self.walked = 0

    def bad(self, what: str) -> CnnCalcError:
        return CnnCalcError(f"not a readable ONNX model (truncated, corrupt or nested too deeply): {what}",
                            file=self.source)

    def copy(self, start: int, end: int) -> bytes:
        data = self.pread(self.fd, end - start, start)
        if len(data) != end - start:
            raise self.bad("the file ends inside a field")
        return data

    def varint(self, offset: int, end: int) -> tuple[int, int]:
        local = offset - self.window_start
        if local < 0 or local + 10 > len(self.window) and self.window_start + len(self.window) < self.size:
            self.window_start, self.window = offset, self.pread(self.fd, self.WINDOW, offset)
            local = 0
        value = 0
        for k in range(min(10, end - offset)):
            if local + k >= len(self.window):
                break
            byte = self.window[local + k]
            value |= (byte & 0x7F) << (7 * k)
            if byte < 0x80:
                return value, offset + k + 1
        raise self.bad("a malformed varint")

    def fields(self, start: int, end: int) -> Any:
        """(field number, wire type, field start, payload start, payload end) of each field in [start, end)."""
        offset = start
        while offset < end:
            self.walked += 1
            if self.walked > MAX_WIRE_FIELDS:
                raise CnnCalcError(f"too many protobuf fields (more than {MAX_WIRE_FIELDS:,})", file=self.source)
            tag, after = self.varint(offset, end)
            number, kind = tag >> 3, tag & 7
            if number == 0:
                raise self.bad("field number 0")
            if kind == 0:
                _, stop = self.varint(after, end)
                body = after
            elif kind == 1:
                body, stop = after, after + 8
            elif kind == 5:
                body, stop = after, after + 4
            elif kind == 2:
                length, body = self.varint(after, end)
                stop = body + length
            else:
                raise self.bad(f"wire type {kind}")
            if stop > end:
                raise self.bad("a field runs past its message")
            yield number, kind, offset, body, stop
            offset = stop


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class _Ranges:
    """Byte ranges of the file to keep, merged when adjacent (one ``pread`` for a run of nodes)."""

    def __init__(self, wire: _Wire) -> None:
        self.wire, self.parts, self.start, self.end = wire, [], -1, -1

    def keep(self, start: int, end: int) -> None:
        if start == self.end:
            self.end = end
            return
        self.flush()
        self.start, self.end = start, end

    def add(self, data: bytes) -> None:
        self.flush()
        self.parts.append(data)

    def flush(self) -> None:
        if self.end > self.start >= 0:
            self.parts.append(self.wire.copy(self.start, self.end))
        self.start = self.end = -1

    def bytes(self) -> bytes:
        self.flush()
        return b"".join(self.parts)


def _light_tensor(wire: _Wire, body: int, stop: int) -> bytes:
    """An initializer (graph field 5) without its values when it has more than :data:`SMALL_TENSOR`
    elements (counted from its dims, as the importer counts them: it reads only those tensors' shapes).
    More than :data:`~.onnx_proto.MAX_DIMS` dims are refused as they are met: 200,000 dims of 2^62
    multiplied here hung the summary."""
    fields = list(wire.fields(body, stop))
    name = next((wire.copy(b, min(e, b + 200)).decode("utf-8", "replace") for n, k, _, b, e in fields
                 if n == 8 and k == 2), "")
    dims: list[int] = []
    for number, kind, _, field_body, end in fields:
        if number != 1:
            continue
        fewest = 1 if kind == 0 else -(-(end - field_body) // 10)
        if len(dims) + fewest > proto.MAX_DIMS:  # a packed field's length alone tells: it is never read
            raise CnnCalcError(f"initializer '{name}' has at least {len(dims) + fewest:,} dims (at most "
                               f"{proto.MAX_DIMS})", file=wire.source)
        offset = field_body
        while offset < end:
            value, offset = wire.varint(offset, end)
            dims.append(value)
        if len(dims) > proto.MAX_DIMS:
            raise CnnCalcError(f"initializer '{name}' has {len(dims):,} dims (at most {proto.MAX_DIMS})",
                               file=wire.source)
    count = element_count(d if d < 2**63 else 0 for d in dims)  # a negative dim is the decoder's to refuse
    ranges = _Ranges(wire)
    for number, _, start, _, end in fields:
        if not (number in _PAYLOADS and (count is None or count > SMALL_TENSOR)):
            ranges.keep(start, end)
    content = ranges.bytes()
    return b"\x2a" + _varint_bytes(len(content)) + content


def _check_light_node(wire: _Wire, body: int, stop: int) -> None:
    """Refuse a node with an attribute that holds more numbers than the decoder takes, as far as a packed
    field's length tells, before its bytes are read: a 1 GB ``strides`` was read whole, then decoded one
    number at a time. (The decoder counts exactly; this bounds what is read for it.)"""
    name = op_type = "?"
    for number, kind, _, field_body, end in wire.fields(body, stop):
        if number in (3, 4) and kind == 2:
            text = wire.copy(field_body, min(end, field_body + 200)).decode("utf-8", "replace")
            name, op_type = (text, op_type) if number == 3 else (name, text)
        if number != 5 or kind != 2:
            continue
        attribute = "?"
        for a_number, a_kind, _, a_body, a_end in wire.fields(field_body, end):
            if a_number == 1 and a_kind == 2:
                attribute = wire.copy(a_body, min(a_end, a_body + 200)).decode("utf-8", "replace")
            if a_kind != 2 or a_number not in (7, 8):  # packed floats, packed ints
                continue
            fewest = (a_end - a_body) // 4 if a_number == 7 else -(-(a_end - a_body) // 10)
            if fewest > proto.MAX_ATTRIBUTE_VALUES:
                raise CnnCalcError(f"node '{name}' ({op_type}): attribute '{attribute}' has at least {fewest:,} "
                                   f"values (at most {proto.MAX_ATTRIBUTE_VALUES:,} in one attribute)",
                                   file=wire.source)


def read_light(path: str | Path, cap: int = MAX_ONNX_BYTES) -> bytes:
    """The model's bytes without large tensor payloads (the initializers' values), read through ``pread``
    instead of the whole file: a summary needs every node and every shape, not the weights. Same refusals
    as :func:`~cnncalc.spec.safeload.read_limited` (regular files only, never waiting on a FIFO, at most
    ``cap`` bytes)."""
    import os

    from ..spec.safeload import open_regular

    source = str(path)
    fd, size = open_regular(path, cap, "model")
    try:
        wire = _Wire(fd, size, source)
        model = _Ranges(wire)
        for number, kind, start, body, stop in wire.fields(0, size):
            if number != 7 or kind != 2:  # everything but the graph, as it is
                model.keep(start, stop)
                continue
            graph = _Ranges(wire)
            for g_number, g_kind, g_start, g_body, g_stop in wire.fields(body, stop):
                if g_number == 5 and g_kind == 2:  # an initializer: its header, and its payload when small
                    graph.add(_light_tensor(wire, g_body, g_stop))
                    continue
                if g_number == 1 and g_kind == 2 and g_stop - g_body > 4 * proto.MAX_ATTRIBUTE_VALUES:
                    _check_light_node(wire, g_body, g_stop)  # only a node this long can hold so many values
                graph.keep(g_start, g_stop)
            content = graph.bytes()
            model.add(b"\x3a" + _varint_bytes(len(content)) + content)
        return model.bytes()
    except OSError as error:
        raise CnnCalcError(f"cannot read the model: {error.strerror}", file=source) from None
    finally:
        os.close(fd)


def read_whole(path: str | Path, cap: int = MAX_ONNX_BYTES) -> memoryview:
    """The model's bytes in one buffer of the file's size, with :func:`read_light`'s refusals: reading in
    chunks and joining them held a 1 GB file twice."""
    import os

    from ..spec.safeload import open_regular

    source = str(path)
    fd, size = open_regular(path, cap, "model")
    try:
        buffer = memoryview(bytearray(size + 1))  # one byte more: a file that grew since fstat shows it
        filled = 0
        while filled < len(buffer):
            count = os.readv(fd, [buffer[filled:]])
            if not count:
                break
            filled += count
    except OSError as error:
        raise CnnCalcError(f"cannot read the model: {error.strerror}", file=source) from None
    finally:
        os.close(fd)
    if filled != size:
        raise CnnCalcError(f"the model changed while it was read ({size:,} bytes, then {filled:,})", file=source)
    return buffer[:filled]


def parse_model(raw: bytes, source: str) -> Any:
    from .onnx_export import require_onnx

    onnx = require_onnx()
    model = onnx.ModelProto()
    try:
        model.ParseFromString(raw)
    except Exception as error:  # noqa: BLE001 - DecodeError, or RecursionError past protobuf's depth limit
        detail = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise CnnCalcError(f"not a readable ONNX model (truncated, corrupt or nested too deeply): {detail}",
                           file=source) from None
    if not model.HasField("graph") or not model.graph.node:
        raise CnnCalcError("not an ONNX model: no graph with nodes", file=source)
    return model


def check_model(onnx: Any, model: Any, source: str, max_elements: int) -> None:
    """Refuse external data and huge declared tensors (from their dims), then run onnx.checker."""
    stack = [model.graph]
    graphs = 0
    while stack:
        graph = stack.pop()
        graphs += 1
        if graphs > 1000:
            raise CnnCalcError("too many nested graphs (at most 1,000)", file=source)
        for tensor in graph.initializer:
            check_tensor(tensor, "initializer", source, max_elements)
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


def import_model(model: Any, source: str = "<model>", lenient: bool = False,
                 max_elements: int = MAX_TENSOR_ELEMENTS, weights: bool = True) -> Imported:
    """An ``onnx.ModelProto`` as a spec mapping, weights and the flagged layers (checked with onnx.checker)."""
    from .onnx_export import require_onnx

    importer = _Importer(decode_model(model.SerializeToString(), source), source, lenient, max_elements, weights)
    importer.check_sizes()
    _checked(importer, lambda: check_model(require_onnx(), model, source, max_elements))
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
    raw = read_whole(path, cap) if weights else read_light(path, cap)
    # cnncalc's own reader first: it counts before it decodes, where protobuf would build whatever the file
    # declares
    importer = _Importer(decode_model(raw, source), source, lenient, max_elements, weights)
    importer.check_sizes()
    if check:
        from .onnx_export import require_onnx

        # the checker leaves the weights out anyway: parse the file without them (half the memory for VGG)
        light = read_light(path, cap) if weights else raw
        _checked(importer, lambda: check_model(require_onnx(), parse_model(light, source), source, max_elements))
    return importer.run()


def _checked(importer: _Importer, check: Any) -> None:
    """Run ``check`` (onnx.checker) unless the model holds more than :data:`MAX_UNREAD_BYTES` the checker
    alone would read; when it fails on a graph with a cycle, name the cycle too (the checker says only that
    one node's input is not computed before it)."""
    unread = importer.model.unread
    if unread > MAX_UNREAD_BYTES:
        raise CnnCalcError(f"the model holds {unread:,} bytes cnncalc does not read (subgraphs, function bodies, "
                           f"value_info, doc strings), more than onnx.checker is given (at most "
                           f"{MAX_UNREAD_BYTES:,})", file=importer.source)
    try:
        check()
    except CnnCalcError as error:
        cycle = importer.cycle()
        if cycle is None:
            raise
        raise CnnCalcError(f"{error.message}; {cycle}", file=importer.source) from None


def network_of(imported: Imported, source: str) -> Any:
    """The validated :class:`Network` of an import."""
    from ..spec.network import build_network

    try:
        return build_network(imported.spec, source)
    except SpecError as error:
        raise error.with_context(file=source) from None
