"""The walk: an ONNX graph read node by node, each node handed to the handler of its operator type
(:mod:`.ops`), the layers and weights it makes gathered into a spec v2 mapping. Also the entry points.

The file is read under a size cap and decoded by :mod:`.proto`, which counts dims, attribute values and
declared elements before it decodes any (its caps); refused if it references external data, declares a
tensor larger than :data:`MAX_TENSOR_ELEMENTS` or has more than :data:`MAX_NODES` nodes; then checked with
``onnx.checker`` (protobuf's own recursion limit bounds nesting; a cycle is named). Then one walk in node
order, one handler per operator type, each pass over the graph linear in its nodes (indexes, not scans).
Initializers are read when a node first uses them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import CnnCalcError, SpecError
from .checks import ATTRIBUTE_TYPES, MIN_INPUTS, TYPE_NAMES, check_model, check_tensor, parse_model
from .files import MAX_ONNX_BYTES, SMALL_TENSOR, read_light, read_whole
from .graph import BATCH, FOLDABLE, _cf, _cycle, _folded_dims, _identity
from .messages import GRAPH, GRAPHS, SPARSE_TENSOR, SPARSE_TENSORS, TENSOR, TENSORS, Model
from .ops import FUNCTION_HANDLERS, HANDLERS
from .ops.common import f32
from .proto import DTYPES, FUNCTION_DOMAIN, TensorData, decode_model, describe_count, element_count
from .values import Lazy, Tensor, _is_const, _Values, np
from .wire import _Wire  # noqa: F401 - the summary's file reader, reached from here by the tests that count its reads

MAX_TENSOR_ELEMENTS = 2**28  # one initializer: 1 GiB of float32 (VGG-16's largest has 102,760,448)
MAX_NODES = 100_000


#: bytes of the parts cnncalc's reader skips (subgraphs, function bodies, value_info, doc strings) that
#: onnx.checker's protobuf parse would still build: protobuf holds a 1-byte packed number in 8 bytes, so
#: 1 GB of them took 8 GB before the checker said a word (cnncalc's own functions take a few KB)
MAX_UNREAD_BYTES = 64 * 2**20
#: values of a constant read as a list (a Reshape's shape, a Slice's starts, pads, sizes): two per dim a
#: tensor may have, and never the 2^28 Python ints a hostile ``starts`` would make
SHAPE_VALUES = 128


DEFAULTS = {"stride": 1, "dilation": 1, "padding": 0, "bias": True, "multiplier": 1, "output_padding": 0,
            "count_include_pad": False}  # the batch size inside a folded shape computation


@dataclass
class Imported:
    spec: dict[str, Any]
    weights: dict[str, np.ndarray]
    flagged: list[str] = field(default_factory=list)  # pass-through layers made by --lenient


def _sanitise(name: str) -> str:
    name = name.strip().strip("/").replace("/", ".")
    name = "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in name)
    return name[:150]


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


def import_model(model: Any, source: str = "<model>", lenient: bool = False,
                 max_elements: int = MAX_TENSOR_ELEMENTS, weights: bool = True) -> Imported:
    """An ``onnx.ModelProto`` as a spec mapping, weights and the flagged layers (checked with onnx.checker)."""
    from ..onnx_export import require_onnx

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
        from ..onnx_export import require_onnx

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
    from ...spec.network import build_network

    try:
        return build_network(imported.spec, source)
    except SpecError as error:
        raise error.with_context(file=source) from None
