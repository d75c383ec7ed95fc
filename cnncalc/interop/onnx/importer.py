"""The walk: an ONNX graph read node by node, in the file's order, each node handed to the rule registered
for its operator type (:mod:`.registry`, :mod:`.ops`), the layers and weights it makes gathered into a spec v2
mapping (:class:`Imported`).

Before the walk (:mod:`.api` runs ``onnx.checker`` in between): a model with more than :data:`MAX_NODES`
nodes, or an initializer declaring more than ``max_elements`` (:data:`MAX_TENSOR_ELEMENTS`), is refused, and
a cycle is named. Each pass over the graph is linear in its nodes (indexes, not scans). Initializers are read
when a node first uses them, constants read as lists at most :data:`SHAPE_VALUES` at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...errors import CnnCalcError
from . import ops  # noqa: F401 - registers the handlers
from .checks import ATTRIBUTE_TYPES, MIN_INPUTS, TYPE_NAMES, check_tensor
from .files import SMALL_TENSOR, read_external
from .graph import (
    BATCH,
    FOLDABLE,
    SHAPE_ONLY,
    _cf,
    _cycle,
    _identity,
    describe_cycle,
    fold,
    read_input,
    shape_of,
    topological_order,
)
from .messages import FLOAT, GRAPH, GRAPHS, SPARSE_TENSOR, SPARSE_TENSORS, TENSOR, TENSORS, Graph, Model
from .ops.activation import fuse_activation
from .ops.attention import refuse_biased_attention, refuse_cross_attention
from .ops.partition import handle_view, plan_partitions
from .ops.window import plan_window_attention
from .proto import DTYPES, EXTERNAL, FUNCTION_DOMAIN, TensorData
from .registry import FUNCTION_HANDLERS, HANDLERS, PATTERNS
from .values import Lazy, Tensor, _is_const, _Values, np

# the summary's file reader, named here for the tests that lower this module's caps and count its reads
from .wire import _Wire  # noqa: F401

MAX_TENSOR_ELEMENTS = 2**28  # one initializer: 1 GiB of float32 (VGG-16's largest has 102,760,448)
MAX_NODES = 100_000
#: bytes of the parts cnncalc's reader skips (subgraphs, function bodies, value_info, doc strings) that
#: onnx.checker's protobuf parse would still build: protobuf holds a 1-byte packed number in 8 bytes, so
#: 1 GB of them took 8 GB before the checker said a word (cnncalc's own functions take a few KB)
MAX_UNREAD_BYTES = 64 * 2**20
#: values of a constant read as a list (a Reshape's shape, a Slice's starts, pads, sizes): two per dim a
#: tensor may have, and never the 2^28 Python ints a hostile ``starts`` would make
SHAPE_VALUES = 128
#: constant folds whose output is their first input's values (a parameter stays one through them)
PASS_ALONG = frozenset({"Identity", "Cast", "CastLike", "Reshape", "Unsqueeze", "Squeeze", "Transpose", "Flatten"})
NEWEST_OPSET = 23  # the newest opset of ONNX's standard operators this importer knows


DEFAULTS = {"stride": 1, "dilation": 1, "padding": 0, "bias": True, "multiplier": 1, "output_padding": 0,
            "count_include_pad": False}  # fields left out of a spec when they say what the default says


@dataclass
class Imported:
    spec: dict[str, Any]
    weights: dict[str, np.ndarray]
    flagged: list[str] = field(default_factory=list)  # pass-through layers made by --lenient


def _sanitise(name: str) -> str:
    name = name.strip().strip("/").replace("/", ".")
    name = "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in name)
    return name[:150]


class _Importer:
    def __init__(self, model: Model, source: str, lenient: bool, max_elements: int, with_weights: bool = True,
                 folder: Path | None = None) -> None:
        self.with_weights = with_weights
        self.folder = folder  # the model file's folder: where external data may be read (None: nowhere)
        self.model = model
        graph = model.graph
        assert graph is not None  # decode_model, which makes every Model given here, refuses one without a graph
        self.graph: Graph = graph
        self.source = source
        self.lenient = lenient
        self.max_elements = max_elements
        self.values: _Values = _Values()  # name → Tensor | np.ndarray | Lazy
        self.values.resolve = self.lookup
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
        self.parameters: set[str] = set()  # constants that are the model's parameters (:meth:`parameter`)
        self.stored: set[str] = set()  # constants held in initializers, the exporter's own too (:meth:`fixed`)
        #: a SplitToSequence's output → (the tensor, the ONNX axis, each part's (start, stop)): ops.dynamo
        self.sequences: dict[str, tuple[Tensor, int, list[tuple[int, int]]]] = {}
        self.pending_bias: dict[str, str] = {}  # dense layer without bias → its ONNX output
        self.pending_pads: dict[str, tuple[Any, str]] = {}  # a Pad's output → its pairs and padding mode
        self.attention_checks: dict[tuple[Any, ...], tuple[int, int]] = {}  # an attention's subgraph → heads, width
        self.window_entries: dict[str, list[int]] = {}  # a window attention's input → its Softmax's position
        self.window_constants: dict[str, bool] = {}  # a value → whether computed from constants alone (.window)
        self.partition_entries: set[str] = set()  # a map MaxViT partitions for its attention (.partition)
        self.partition_softmaxes: set[int] = set()  # the Softmax of each such attention
        self.node: Any = None
        self.position = 0  # the node being handled
        self.counter = 0
        self.batch = BATCH  # the input's batch size when the model fixes it
        #: the version of ONNX's standard operators the model uses (an operator's meaning can change with it);
        #: a model that names none is read as the newest
        self.opset = max((version for domain, version in model.opset_import if domain in ("", "ai.onnx")),
                         default=NEWEST_OPSET)
        self.order: list[int] = []  # the nodes' positions in topological order (the walk's order)

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

    def lookup(self, name: str, depth: int = 0) -> Any:
        """The value of ``name``; a constant computed by a node later in the file (torch.onnx writes a
        ``Constant`` after the node using it) is folded now, found by data flow, so that no rule depends on
        the order of the nodes. None for a value not known yet."""
        value = dict.get(self.values, name)
        producer = self.producers.get(name)
        if value is not None or producer is None or producer in self.done or depth > 32:
            return value
        node = self.graph.node[producer]
        if node.domain not in ("", "ai.onnx"):
            return None
        if node.op_type == "Shape":
            if not isinstance(self.lookup(node.input[0], depth + 1), Tensor):
                return None
        elif node.op_type not in FOLDABLE or not all(_is_const(self.lookup(n, depth + 1)) for n in node.input if n):
            return None
        elif node.op_type not in SHAPE_ONLY and any(isinstance(v, Lazy) and not v.readable for v in (
                dict.get(self.values, n) for n in node.input if n)):
            return None  # a summary does not read it (as :meth:`fold_constants`)
        current = self.node
        self.node = node
        try:
            shape_of(self, node) if node.op_type == "Shape" else fold(self, node)
        finally:
            self.node = current
        self.done.add(producer)
        return dict.get(self.values, name)

    def const(self, name: str, what: str = "input") -> np.ndarray | Lazy:
        """A constant: an import's initializer is read here, when a node first uses it (one no node uses costs
        nothing); a summary's stays :class:`Lazy`, for its shape."""
        value = self.lookup(name)
        if not _is_const(value):
            raise self.fail(f"{what} '{name}' must be a constant (an initializer or a folded constant)")
        if self.with_weights and isinstance(value, Lazy):
            value = self.values[name] = self.array(value.tensor, "initializer")
        return value

    def value(self, name: str, what: str = "input") -> np.ndarray:
        """A constant's values (an initializer is read here, once)."""
        value = self.const(name, what)
        if isinstance(value, Lazy):
            if not value.readable:
                raise self.fail(f"{what} '{name}' has {value.size:,} values, which a summary does not read",
                                hint="cnncalc import reads every value")
            # a Lazy is an initializer: a summary reads a small one from the data file too (the dynamo
            # exporter stores there every initializer, Swin's index constants and shift mask among them)
            value = self.values[name] = self.array(value.tensor, "initializer")
        return value

    @staticmethod
    def loaded(value: np.ndarray | Lazy) -> np.ndarray:
        """A constant from :meth:`const`, in a maker given to :meth:`keep`: ``keep`` calls its maker only in an
        import (``with_weights``), whose ``const`` has read every initializer it returns."""
        assert not isinstance(value, Lazy)
        return value

    def numbers(self, name: str, what: str, most: int | None = None) -> list[Any]:
        """A small constant's values as Python numbers (a shape, pads, axes, sizes), refused past ``most``
        (default :data:`SHAPE_VALUES`) before a value is read."""
        most = SHAPE_VALUES if most is None else most
        value = self.lookup(name)
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
        # the walk is in topological order: the node computing it has been handled, and mapped it to nothing
        node = self.graph.node[producer]
        raise self.fail(f"input '{name}' is an output of node '{node.name or '?'}' ({node.op_type}) that cnncalc "
                        "does not map")

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
        from ...layers import LAYER_TYPES

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
                self.values[name] = replace(value, layer=new)  # a partition view (.partition) stays one
        return new

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
        check_tensor(tensor, what, self.source, self.max_elements, self.folder)

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
        if tensor.external_data or tensor.data_location == EXTERNAL:
            stored = DTYPES[tensor.data_type][0] if tensor.data_type in DTYPES else "u1"
            size = tensor.count * (2 if stored == "bfloat16" else np.dtype(stored).itemsize)
            data = read_external(tensor.external_data, self.folder, tensor.name, self.source, size)
            tensor = replace(tensor, raw_data=memoryview(data), external_data=[], data_location=0)
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
        return describe_cycle(graph.node, cycle, self.producers) if cycle else None

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
            self.stored.add(tensor.name)
            if not re.fullmatch(r"val_\d+", tensor.name):
                self.parameters.add(tensor.name)
        inputs = [v for v in graph.input if v.name not in self.values]
        if len(inputs) != 1:
            raise CnnCalcError(f"the model has {len(inputs)} inputs", file=self.source, got=[v.name for v in inputs][:5],
                               expected="exactly one input (cnncalc networks have one)")
        input_shape = read_input(self, inputs[0])
        self.order = topological_order(graph.node, self.producers, self.consumers)
        self.fold_constants()
        plan_window_attention(self)
        plan_partitions(self)
        refuse_biased_attention(self)
        refuse_cross_attention(self)
        for position in self.order:
            if position in self.done:
                continue
            node = graph.node[position]
            self.node, self.position = node, position
            self.done.add(position)
            self.checked(position, node)
        self.node = None
        held = self.values[inputs[0].name]
        for output in graph.output:
            if not isinstance(self.values.get(output.name), Tensor):
                raise CnnCalcError(f"output '{output.name}' is a constant or is never computed", file=self.source)
            if self.values[output.name].where is not None:  # the layer's output is not this value (.ops.partition)
                raise CnnCalcError(f"output '{output.name}' is a partition of a map into groups of tokens (MaxViT's), "
                                   "which cnncalc imports only departitioned", file=self.source)
            self.channels_last(output.name, held.perm)
        if not self.layers:
            raise CnnCalcError("the model has no layers cnncalc can show (only constants or identities)",
                               file=self.source)
        name = " ".join(self.graph.name.split())[:150] if self.graph.name.isprintable() else ""
        name = name or Path(self.source).stem
        spec = {"name": name or "model", "input": input_shape, "layers": self.layers}
        return Imported(spec, self.weights, self.flagged)

    def fold_constants(self) -> None:
        """Fold every node computed from constants alone (Constant nodes, Identity, Cast, Unsqueeze, Concat...)
        before any layer is made, so that a pattern looking at the nodes after one sees their constants as
        values wherever the file puts the nodes making them."""
        for position in self.order:
            node = self.graph.node[position]
            if node.domain not in ("", "ai.onnx"):
                continue
            inputs = [n for n in node.input if n]
            if node.op_type not in SHAPE_ONLY and any(isinstance(self.values.get(n), Lazy)
                                                      and not self.values[n].readable for n in inputs):
                continue  # a summary does not read it: left to the walk (Swin V2's MLP: its window's check runs it)
            if node.op_type == "Constant" or node.op_type in (*FOLDABLE, "Shape") and inputs and \
                    all(_is_const(self.values.get(n)) for n in inputs) or \
                    node.op_type == "CastLike" and _is_const(self.values.get(node.input[0])):
                self.node, self.position = node, position
                self.done.add(position)
                self.checked(position, node)
                for held in (self.parameters, self.stored):  # a parameter reshaped is one
                    if node.op_type in PASS_ALONG and node.input[0] in held:
                        held.update(n for n in node.output if n)
        self.node = None

    def channels_last(self, output: str, read: tuple[int, ...]) -> None:
        """An output of the input's rank, when the input was read channels first (``read``), comes out channels
        last, as every spatial output of cnncalc (a LayerNormalization or MatMul over an NCHW tensor leaves it
        held channels first): a permute at the end where it is not."""
        rank = len(read)
        t = self.values[output]
        if read != _identity(rank) and self.rank(t) == rank and t.perm != _cf(rank):
            self.values[output] = Tensor(self.as_perm(t, _cf(rank)), _cf(rank))

    def parameter(self, name: str) -> bool:
        """Whether a constant is one of the model's parameters: an initializer (or a value folded from one),
        unless it holds a constant the exporter made (torch.onnx's dynamo exporter names those ``val_<n>``);
        a Constant node's value is not."""
        return name in self.parameters

    def fixed(self, name: str, fill: float, made: bool = False) -> bool:
        """Whether ``name`` is a constant that is not a parameter (:meth:`parameter`) and holds only ``fill``:
        a scale of ones or a bias of zeros the exporter wrote for a layer that has none (torch's
        ``elementwise_affine=False``). The same values in a parameter count, as torch counts an untrained
        layer's. ``made``: only a value computed from Constant nodes, never one in an initializer (torch's
        optimiser stores the bias of a batchnorm it folds into a conv as ``val_<n>``, zeros when untrained)."""
        value = self.values.get(name)
        if not _is_const(value) or self.parameter(name) or made and name in self.stored \
                or not getattr(value, "readable", True):
            return False
        return bool((self.value(name) == fill).all())

    def inexact(self, node: Any, problems: list[str]) -> str | None:
        """The flagged layer name of a node whose settings cnncalc does not compute exactly (``problems``,
        each naming an attribute and its value), when ``--lenient`` lets it through; else the error. None when
        there is no problem."""
        if not problems:
            return None
        if not self.lenient:
            raise self.fail(f"{'; '.join(problems)}: cnncalc does not compute this exactly",
                            hint="--lenient imports it as a flagged layer whose values are not the model's")
        return f"UNSUPPORTED-{node.op_type}-{self.node_name(node)}"

    def single_consumer(self, output: str) -> tuple[int, Any] | None:
        users = self.consumers.get(output, [])
        if len(users) != 1 or output in self.outputs:
            return None
        return users[0], self.graph.node[users[0]]

    def run_checker(self, check: Any) -> None:
        """Run ``check`` (onnx.checker) unless the model holds more than :data:`MAX_UNREAD_BYTES` the checker
        alone would read; when it fails on a graph with a cycle, name the cycle too (the checker says only that
        one node's input is not computed before it)."""
        unread = self.model.unread
        if unread > MAX_UNREAD_BYTES:
            raise CnnCalcError(f"the model holds {unread:,} bytes cnncalc does not read (subgraphs, function bodies, "
                               f"value_info, doc strings), more than onnx.checker is given (at most "
                               f"{MAX_UNREAD_BYTES:,})", file=self.source)
        try:
            check()
        except CnnCalcError as error:
            cycle = self.cycle()
            if cycle is None:
                raise
            raise CnnCalcError(f"{error.message}; {cycle}", file=self.source) from None

    # ------------------------------------------------------------ dispatch

    def checked(self, position: int, node: Any) -> None:
        """Handle one node, after the checks ``onnx.checker`` would make of what the handlers read (a summary
        does without the checker); a node malformed in a way no check names is still one error line."""
        if node.domain in ("", "ai.onnx"):
            needed = MIN_INPUTS.get(node.op_type, 1 if node.op_type != "Constant" else 0)
            if node.op_type == "Slice" and self.opset < 10:  # its starts and ends are attributes
                needed = 1
            if len(node.input) < needed or any(not node.input[k] for k in range(needed)):
                raise self.fail(f"{node.op_type} takes at least {needed} input{'s' if needed != 1 else ''}")
            if not node.output or not node.output[0]:
                raise self.fail(f"{node.op_type} has no output")
            for attribute in node.attribute:
                want = ATTRIBUTE_TYPES.get(attribute.name)
                if node.op_type == "Pad" and attribute.name == "value":  # Pad-2's padding value is a float
                    want = FLOAT
                if want is not None and attribute.type != want:
                    raise self.fail(f"attribute '{attribute.name}' must be {TYPE_NAMES[want]}",
                                    got=TYPE_NAMES.get(attribute.type, f"type {attribute.type}"))
        try:
            self.handle(position, node)
        except (TypeError, ValueError, IndexError, KeyError, AttributeError, ZeroDivisionError, OverflowError) as error:
            raise self.fail(f"malformed node ({type(error).__name__}: {str(error)[:150]})") from None

    def handle(self, position: int, node: Any, views: bool = True) -> None:
        """Fold a constant node; else the first pattern that matches, or the handler of the node's type
        (``views``: a node starting or reading a partition view is :mod:`.ops.partition`'s first)."""
        if views and handle_view(self, position, node):
            return
        if node.domain == FUNCTION_DOMAIN and node.op_type in FUNCTION_HANDLERS:
            FUNCTION_HANDLERS[node.op_type](self, position, node, self.attrs(node))
            return
        if node.domain not in ("", "ai.onnx"):
            self.unknown(node)
            return
        inputs = [n for n in node.input if n]
        if node.op_type in FOLDABLE and inputs and all(_is_const(self.lookup(n)) for n in inputs):
            fold(self, node)
            return
        if node.op_type == "Shape":
            shape_of(self, node)
            return
        if node.op_type == "CastLike" and _is_const(self.values.get(node.input[0])):
            self.values[node.output[0]] = self.values[node.input[0]]  # cnncalc reads every constant as a number
            return
        if node.op_type == "Constant":
            fold(self, node)
            return
        for pattern in PATTERNS.get(node.op_type, ()):
            if pattern(self, position, node):
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

    def finish(self, node: Any, layer: str, perm: tuple[int, ...], fusable: bool = False) -> None:
        """Map the node's output to ``layer``; fold a following ``<node>/<activation>`` into it."""
        self.values[node.output[0]] = Tensor(layer, perm)
        if not fusable or not node.name:
            return
        fused = fuse_activation(self, node)
        if fused is None:
            return
        kind, nodes = fused
        self.done.update(nodes)
        self.entries[layer]["activation"] = kind
        self.values[self.graph.node[nodes[-1]].output[0]] = Tensor(layer, perm)
