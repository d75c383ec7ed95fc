"""Networks from files and models to files, one library function per job, each returning what the command
line prints:

- :func:`read_network` — what every command's ``SPEC`` argument names: a spec file, a built-in spec, ``-``
  (standard input) or a model file (ONNX, Keras), with symbolic input sizes given values (``where``);
- :func:`import_model` — `cnncalc import`: a model file as a spec (YAML) and its weights (``.npz``);
- :func:`export_model` — `cnncalc export`: a spec as an ONNX model, or as PyTorch or Keras source code.

>>> read_network("lenet5").name
'LeNet-style table from the lecture'
>>> import pathlib, tempfile
>>> spec = pathlib.Path(tempfile.mkdtemp()) / "net.yaml"
>>> _ = spec.write_text("input: [n, n, 3]\\nlayers: [{type: conv, filters: 8, kernel: 3}]\\n")
>>> read_network(str(spec), where=["n=32"]).input_shape
(32, 32, 3)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..arguments import one_or_many
from ..calc.analysis import analyse
from ..errors import CnnCalcError
from ..records import Record
from ..render.files import write_text
from ..spec.network import Network, build_network, load_spec, loads_spec, warn_layout, with_input
from ..spec.safeload import MAX_BYTES, read_limited
from . import dump_spec, interop_module, write_npz

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any

EXPORT_TARGETS = ("onnx", "pytorch", "keras")
ONNX_DTYPES = ("float32", "float64")


def read_network(source: str, where: str | Sequence[str] | None = None,
                 input: str | Sequence[str] | None = None, *, lenient: bool = False) -> Network:
    """The network ``source`` names: a spec file, a built-in spec (`cnncalc zoo`), ``-`` for a spec on
    standard input (read under the same size cap as a file), or an ONNX or Keras model file (read without
    its weights). ``input`` (``"160,160,3"``, as `--input`) replaces the input shape; ``where``
    (``["n=64"]``) then gives symbolic input sizes values; ``lenient`` passes an ONNX model's unsupported
    operators through as flagged layers (as `cnncalc import --lenient`)."""
    return open_network(source, where, input, lenient=lenient).network


class OpenedNetwork(Record):
    """A network as a command reads it: ``weights``, a model file's own (when asked for and it has some),
    and ``warnings``, one for each layer `--lenient` passed through."""

    _fields = ("network", "weights", "warnings")
    network: Network
    weights: dict[str, Any] | None
    warnings: list[str]

    def __init__(self, network: Network, weights: dict[str, Any] | None = None,
                 warnings: list[str] | None = None) -> None:
        self.network = network
        self.weights = weights
        self.warnings = [] if warnings is None else warnings


def open_network(source: str, where: str | Sequence[str] | None = None, input: str | Sequence[str] | None = None,
                 *, lenient: bool = False, weights: bool = False) -> OpenedNetwork:
    """:func:`read_network` with what else a model file holds: with ``weights``, its weights (an ONNX
    model's initialisers, a ``.keras`` archive's variables) imported in memory; a spec has none."""
    opened = _read(source, lenient, weights)
    opened.network = with_input(opened.network, one_or_many(input))
    if where:
        from ..calc.symbolic import parse_assignments, substitute  # sympy: only for a symbolic spec

        opened.network = substitute(opened.network, parse_assignments(one_or_many(where)))
    return opened


def run_model(spec: str, input: str, *, lenient: bool = False, weights: str | None = None,
              output: str | None = None, save_maps: str | None = None, **options: Any) -> Any:
    """`cnncalc run` on anything :func:`read_network` reads: a model file runs with its own weights
    (imported in memory) unless ``weights`` (an ``.npz``) is given. The other options are
    :func:`cnncalc.run.service.run_files`'s; the report's ``warnings`` name the layers `--lenient` passed
    through."""
    from ..run import service as run_service  # NumPy: reading a network does not need it

    sources = [input_path(spec), input, weights]
    if output:  # before the model is read, as run_files checks them before any work
        run_service.check_output_path(output, run_service.OUTPUT_SUFFIXES, "--output", sources)
    if save_maps:
        run_service.check_output_path(save_maps, run_service.MAPS_SUFFIXES, "--save-maps", [*sources, output])
    opened = open_network(spec, lenient=lenient, weights=weights is None)
    report = run_service.run_files(opened.network, input, weights=weights, arrays=opened.weights,
                                   source=input_path(spec), output=output, save_maps=save_maps, **options)
    report.warnings = opened.warnings
    return report


def _read(source: str, lenient: bool = False, weights: bool = False) -> OpenedNetwork:
    if source != "-":
        kind = model_kind(source)
        if kind is not None:
            imported = _import(source, kind, lenient=lenient, with_weights=weights, check=False)
            return OpenedNetwork(imported.network, imported.weights or None, imported.warnings())
        return OpenedNetwork(load_spec(source))
    raw = sys.stdin.buffer.read(MAX_BYTES + 1) if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    if len(raw) > MAX_BYTES:
        raise CnnCalcError(f"spec too large (more than {MAX_BYTES:,} bytes)", file="<stdin>")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CnnCalcError("not a UTF-8 text file", file="<stdin>") from None
    return OpenedNetwork(warn_layout(loads_spec(text, "<stdin>")))


def model_kind(path: str) -> str | None:
    """'onnx' or 'keras' for a model file (by extension; a .json only with a Keras model config in it).

    >>> model_kind("resnet.onnx"), model_kind("net.keras"), model_kind("net.yaml")
    ('onnx', 'keras', None)
    """
    lower = path.lower()
    if lower.endswith(".onnx"):
        return "onnx"
    if lower.endswith((".keras", ".json.gz")):
        return "keras"
    if lower.endswith(".json"):
        try:  # the head only, read as every untrusted file is (a FIFO or a folder is not waited on)
            head = read_limited(path, 4096, "spec", head=True)
        except CnnCalcError:
            return None
        if b'"class_name"' in head:
            return "keras"
    return None


class ImportedModel(Record):
    """A model file read as cnncalc sees it: the spec mapping (``text``: as YAML), the network built from
    it, its weights by ``<layer>.<part>`` key (empty unless asked for) and the layers ``lenient`` passed
    through unsupported; ``written``: the files written."""

    _fields = ("source", "spec", "network", "weights", "flagged", "text", "params", "output", "weights_out")
    source: str
    spec: dict[str, Any]
    network: Network
    weights: dict[str, Any]
    flagged: list[str]
    text: str
    params: Any
    output: str | None
    weights_out: str | None

    def __init__(self, source: str, spec: dict[str, Any], network: Network, weights: dict[str, Any],
                 flagged: list[str] | None = None, text: str = "", params: Any = 0, output: str | None = None,
                 weights_out: str | None = None) -> None:
        self.source = source
        self.spec = spec
        self.network = network
        self.weights = weights
        self.flagged = [] if flagged is None else flagged
        self.text = text
        self.params = params
        self.output = output
        self.weights_out = weights_out

    @property
    def written(self) -> list[str]:
        return [path for path in (self.output, self.weights_out) if path is not None]

    def warnings(self) -> list[str]:
        return [f"layer '{name}' passes an unsupported operator through (--lenient): its output shape and values "
                "are not the model's" for name in self.flagged]

    def note(self) -> str:
        """The line `cnncalc import` ends with (on standard error)."""
        return (f"imported {self.source}: {len(self.network.layers)} layers, {self.params:,} parameters"
                + (f", wrote {self.output}" if self.output else "")
                + (f", weights in {self.weights_out}" if self.weights_out else ""))


def import_model(model: str, *, output: str | None = None, weights_out: str | None = None,
                 lenient: bool = False) -> ImportedModel:
    """Read an ONNX (``.onnx``) or Keras (``.keras``, or a ``model.to_json()`` file) model as a spec v2, as
    `cnncalc import`: ``output`` (``.yaml``) gets the spec, ``weights_out`` (``.npz``) the weights in
    cnncalc's layout; both paths are checked before the model is read. ``lenient`` passes unsupported
    operators through as flagged layers instead of stopping."""
    kind = model_kind(model) or ("keras" if model.lower().endswith(".json") else None)
    if kind is None:
        raise CnnCalcError("unknown model type", file=model, got=model.rsplit(".", 1)[-1] if "." in model else "",
                           expected=".onnx, .keras or a Keras .json")
    if weights_out is not None and not weights_out.lower().endswith(".npz"):
        raise CnnCalcError("unknown file type for --weights-out", file=weights_out, expected=".npz")
    _check_outputs([output, weights_out], [model])
    imported = _import(model, kind, lenient, with_weights=weights_out is not None)
    imported.params = analyse(imported.network).params
    imported.text = dump_spec(imported.spec, f"imported from {model}")
    if output is not None:
        write_text(output, imported.text, (".yaml", ".yml"), inputs=[model])
        imported.output = output
    if weights_out is not None:
        write_npz(weights_out, imported.weights, inputs=[model, output])
        imported.weights_out = weights_out
    return imported


def _import(path: str, kind: str, lenient: bool, with_weights: bool = True, check: bool = True) -> ImportedModel:
    """A model file through its importer (``check``: run onnx.checker on an ONNX model; a summary does
    without; ``with_weights``: decode the weights too)."""
    flagged: list[str] = []
    if kind == "onnx":
        onnx_import = interop_module("onnx_import", "ONNX import")
        imported = onnx_import.import_onnx(path, lenient=lenient, weights=with_weights, check=check)
        spec, weights, flagged = imported.spec, imported.weights, imported.flagged
    else:
        keras_import = interop_module("keras_import", "Keras import")
        spec, weights = keras_import.import_keras(path, weights=with_weights)
    return ImportedModel(path, spec, build_network(spec, path), weights, flagged)


class ExportedModel(Record):
    """What `cnncalc export` made: ``code`` (PyTorch or Keras source) or ``model`` (an ONNX ModelProto,
    ``size`` bytes written to ``output``)."""

    _fields = ("target", "output", "code", "model", "size", "opset", "warnings")
    target: str
    output: str | None
    code: str | None
    model: Any
    size: int
    opset: int | None
    warnings: list[str]  # the layers --lenient passed through

    def __init__(self, target: str, output: str | None = None, code: str | None = None, model: Any = None,
                 size: int = 0, opset: int | None = None, warnings: list[str] | None = None) -> None:
        self.target = target
        self.output = output
        self.code = code
        self.model = model
        self.size = size
        self.opset = opset
        self.warnings = [] if warnings is None else warnings

    def note(self) -> str | None:
        """The line `cnncalc export` ends with (on standard error), or None when the code went to stdout."""
        if self.model is not None:
            return (f"wrote {self.output}: {len(self.model.graph.node)} ONNX nodes, {self.size:,} bytes (opset "
                    f"{self.opset}; input and outputs channels-last)")
        return f"wrote {self.output}" if self.output is not None else None


def export_model(spec: str | Network, to: str, *, output: str | None = None, weights: str | None = None,
                 seed: int | str | None = None, dtype: str | None = None, where: str | Sequence[str] | None = None,
                 input: str | Sequence[str] | None = None, lenient: bool = False) -> ExportedModel:
    """Write a spec (anything :func:`read_network` reads, or a Network) as an ONNX model (``to="onnx"``,
    ``output`` a ``.onnx`` file, tensors ``dtype`` float32 or float64) or as PyTorch or Keras source code
    (``to="pytorch"``/``"keras"``; written to ``output`` when given, else only returned), as `cnncalc
    export`. Weights come from ``weights`` (an ``.npz``), else the spec (a model file's own, for ONNX), else
    ``seed`` (default 0; as text, it is read as `--seed` is). ``input`` and ``where`` as for :func:`read_network`.

    >>> code = export_model("lenet5", "pytorch").code
    >>> "self.CONV1 = nn.Conv2d(3, 8, kernel_size=5)" in code
    True
    """
    if to not in EXPORT_TARGETS:
        raise CnnCalcError("unknown export target", got=to, expected=", ".join(EXPORT_TARGETS))
    if dtype is not None and dtype not in ONNX_DTYPES:
        raise CnnCalcError("unknown --dtype", got=dtype, expected=", ".join(ONNX_DTYPES))
    inputs = [input_path(spec) if isinstance(spec, str) else None, input_path(weights)]
    _check_outputs([output], inputs)
    if isinstance(spec, Network):
        opened = OpenedNetwork(with_input(spec, one_or_many(input)))
    else:
        # an ONNX export of a model file carries the model's own weights (as `run` uses them), unless --weights
        opened = open_network(spec, where, input, lenient=lenient, weights=to == "onnx" and not weights)
    network, warnings = opened.network, opened.warnings
    arrays = opened.weights
    if weights:
        from ..run.executor import load_weights_file  # NumPy: exports need it, reading a network does not

        arrays = load_weights_file(weights)
    if isinstance(seed, str):
        from ..run.service import parse_seed

        seed = parse_seed(seed)
    if to == "onnx":
        if output is None or not output.lower().endswith(".onnx"):
            raise CnnCalcError("--to onnx writes a binary model: give -o FILE.onnx", got=output,
                               expected="a path ending in .onnx")
        import numpy as np

        onnx_export = interop_module("onnx_export", "ONNX export")
        chosen = np.float64 if dtype == "float64" else np.float32
        model = onnx_export.export_onnx(network, arrays, 0 if seed is None else seed, chosen)
        size = onnx_export.save_onnx(model, output, inputs=tuple(inputs))
        return ExportedModel(to, output, model=model, size=size, opset=onnx_export.OPSET, warnings=warnings)
    if dtype is not None:
        raise CnnCalcError("--dtype is for --to onnx", got=dtype, expected="no --dtype")
    if to == "pytorch":
        code = interop_module("pytorch_export", "PyTorch export").export_pytorch(network, arrays)
    else:
        code = interop_module("keras_export", "Keras export").export_keras(network, arrays)
    if output is not None:
        write_text(output, code, (".py",), inputs=inputs)
    return ExportedModel(to, output, code=code, warnings=warnings)


def input_path(source: str | None) -> str | None:
    """A file a command reads, as its outputs are checked against it (never written over): `-` is
    standard input, and a file redirected into it counts too."""
    return "/dev/stdin" if source == "-" else source


def _check_outputs(outputs: Sequence[str | None], inputs: Sequence[str | None]) -> None:
    """Refuse a bad output path (a device, a FIFO, a folder, a link loop, one of the inputs) before any work."""
    from ..outputs import check_output  # (not loaded by `summary`)

    for output in outputs:
        if output is not None:
            check_output(output, inputs)
