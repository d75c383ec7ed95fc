"""Keras models read as data: ``model.to_json()`` files (also gzipped) and ``.keras`` archives.

Nothing here imports Keras or calls code by name: the model's config is plain JSON (``class_name``,
``config``, ``inbound_nodes``), and each known ``class_name`` has one rule that turns its config into
spec v2 layers. An unknown class, a ``Lambda`` (arbitrary code) or a custom object is refused with the
layer's name. Keras 2 (``tf.keras``) and Keras 3 serialisations are both read; nested models are
flattened with scoped names (``outer/inner``).

Layers without a spec equivalent of their own:

- ``Rescaling`` (``x·scale + offset``, no parameters) becomes a ``batchnorm`` with no learned or counted
  arrays (``center``/``scale``/``count_stats`` false, ``epsilon`` 0) whose inline ``mean``/``var`` give the
  same affine map: ``mean = −offset/scale``, ``var = 1/scale²``.
- ``Normalization`` (``(x − mean)/√var``, non-trainable mean and variance) becomes a ``batchnorm`` with
  ``center``/``scale`` false, ``epsilon`` 0 and ``count_samples`` true: its ``2·C + 1`` non-trainable
  parameters are the mean, the variance and the sample count Keras keeps (unused by the forward pass).
- ``Identity`` becomes ``dropout`` with ``rate: 0``.
- Operations (``x + 3.0``, ``ops.mean``: entries of module ``keras.src.ops.*``) have their own rules,
  ``KERAS_OPERATIONS``: a tensor and one number become a constant ``batchnorm`` as ``Rescaling`` does, and
  ``relu6(x + 3)·(1/6)`` (MobileNetV3's hard_sigmoid) one ``hardsigmoid``.
- The layers ``keras.applications`` defines itself (ConvNeXt's ``LayerScale``, InceptionResNetV2's
  ``CustomScaleLayer``) are read when their module is that of the application (``APPLICATION_CLASSES``).

>>> spec, weights = import_keras_text('{"class_name": "Sequential", "config": {"name": "tiny", "layers": ['
...     '{"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 3]}},'
...     '{"class_name": "Conv2D", "config": {"name": "c", "filters": 4, "kernel_size": [3, 3]}}]}}')
>>> spec["input"], spec["layers"][0]["type"], spec["layers"][0]["filters"], weights
([8, 8, 3], 'conv', 4, {})
"""

from __future__ import annotations

import gzip
import io
import json
import math
import mmap
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import CnnCalcError, SpecError
from ..spec.safeload import open_regular

__all__ = ["APPLICATION_CLASSES", "KERAS_CLASSES", "KERAS_OPERATIONS", "UNSUPPORTED", "import_keras",
           "import_keras_text"]

#: bytes of a Keras JSON file, and of a config once decompressed (ResNet-152's JSON is about 1 MB)
MAX_JSON_BYTES = 64 * 1024**2
#: bytes of a ``.keras`` archive (ConvNeXtXLarge with its weights is about 1.4 GB). The archive is mapped, not
#: read: only the members asked for are decompressed, each under its own cap (config.json: MAX_JSON_BYTES,
#: model.weights.h5: MAX_H5_BYTES), so memory stays bounded by those whatever the file's size
MAX_ARCHIVE_BYTES = 8 * 1024**3
#: bytes of a gzipped Keras JSON file (its text, once decompressed, is capped by MAX_JSON_BYTES)
MAX_JSON_FILE_BYTES = 1024**3
#: members of a ``.keras`` archive (a real one has three), as its end-of-central-directory record declares
MAX_ARCHIVE_MEMBERS = 1000
#: bytes of a ``.keras`` archive's central directory: zipfile parses all of it, whatever the member count says
MAX_CENTRAL_DIRECTORY_BYTES = 1024**2
#: layers of one model after flattening nested models (the spec's own cap is 100,000)
MAX_KERAS_LAYERS = 100_000
#: models nested inside models
MAX_NESTING = 32
#: bytes of ``model.weights.h5`` once decompressed from the archive
MAX_H5_BYTES = 2 * 1024**3
#: bytes of all the arrays of ``model.weights.h5`` together as stored, as their shapes and types declare them
MAX_WEIGHTS_BYTES = 2 * 1024**3
#: numbers in all the arrays of ``model.weights.h5`` together: each becomes a float64, so this caps what
#: reading them holds in memory (4 GiB), whatever the stored type (a uint8 array grows eightfold);
#: ConvNeXtXLarge has 350,196,968 (2.8 GB in float64)
MAX_WEIGHTS_ELEMENTS = 2**29
#: groups and arrays of ``model.weights.h5`` entered (each once), for each layer of the config (Keras writes
#: at most 18: MultiHeadAttention's group and vars and its four sublayers' with a kernel and a bias each)...
H5_OBJECTS_PER_LAYER = 32
#: ...and in all: h5py takes 0.1–0.25 ms to enter one, so this many take 10–25 s
MAX_H5_OBJECTS = 100_000
#: links from the root of ``model.weights.h5`` to an array: two for each nested model (``layers/<name>``),
#: a few more for a layer's sublayers and ``vars/<i>``
MAX_H5_DEPTH = 2 * MAX_NESTING + 8


class KerasImportError(SpecError):
    """A Keras file that cannot be read or has no spec equivalent."""


# ---------------------------------------------------------------- reading the file


def import_keras(path: str, weights: bool = False) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A spec v2 mapping (as :func:`cnncalc.build_network` accepts) and the model's weights.

    ``path`` is a ``model.to_json()`` file (``.json``, or gzipped ``.json.gz``) or a ``.keras`` archive.
    The weights are empty unless ``weights`` is true and ``path`` is a ``.keras`` archive: then its
    ``model.weights.h5`` is read (with h5py) into cnncalc's ``<layer>.<part>`` layout.
    """
    try:
        with _mapped(path) as data:
            if data[:4] == b"PK\x03\x04":
                text = _archive_config(data)
                if not weights:
                    return import_keras_text(text, str(path))
                spec, importer = _import_text(text, str(path))
                return spec, _archive_weights(data, importer)
            gzipped = data[:2] == b"\x1f\x8b"
            if len(data) > MAX_JSON_BYTES and not gzipped:
                raise KerasImportError(f"Keras JSON too large ({len(data):,} bytes, at most {MAX_JSON_BYTES:,})")
            if len(data) > MAX_JSON_FILE_BYTES:
                raise KerasImportError(f"gzipped Keras JSON too large ({len(data):,} bytes, at most "
                                       f"{MAX_JSON_FILE_BYTES:,})")
            text = _decode(_gunzip(bytes(data)) if gzipped else bytes(data))
        return import_keras_text(text, str(path))
    except CnnCalcError as error:
        raise error.with_context(file=str(path)) from None


class _mapped:  # used as a function: `with _mapped(path) as data:`
    """The file, mapped read-only (a ``bytes``-like object that zipfile can seek in), after the checks
    :func:`open_regular` makes (a regular file, at most MAX_ARCHIVE_BYTES); an empty file gives ``b""``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.map: mmap.mmap | None = None

    def __enter__(self) -> Any:
        fd, size = open_regular(self.path, MAX_ARCHIVE_BYTES, "Keras model")
        try:
            if size == 0:
                return b""
            self.map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            return self.map
        except (OSError, ValueError) as error:
            raise KerasImportError(f"cannot read the Keras model: {error}") from None
        finally:
            os.close(fd)  # the map keeps its own reference to the file

    def __exit__(self, *exc: object) -> None:
        if self.map is not None:
            self.map.close()


class _MapFile:
    """A mapped file as the file object zipfile reads (``mmap`` has ``read``, ``seek`` and ``tell``, and
    ``seekable`` only from Python 3.13 on); each one keeps its own position."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.position = 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self.position, len(self.data))[whence]
        self.position = max(base + offset, 0)
        return self.position

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size is None or size < 0 else min(self.position + size, len(self.data))
        chunk = self.data[self.position:end]
        self.position = max(end, self.position)
        return chunk


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise KerasImportError("the Keras model is not UTF-8 text", got=f"byte {error.start}",
                               expected="a model.to_json() file or a .keras archive") from None


def _gunzip(data: bytes) -> bytes:
    """Decompress at most MAX_JSON_BYTES + 1 bytes: a gzip bomb stops there."""
    try:
        stream = gzip.GzipFile(fileobj=io.BytesIO(data))
        out = stream.read(MAX_JSON_BYTES + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise KerasImportError(f"bad gzip data: {error}") from None
    if len(out) > MAX_JSON_BYTES:
        raise KerasImportError(f"gzipped Keras JSON too large once decompressed (more than {MAX_JSON_BYTES:,} bytes)")
    return out


def _archive_member(data: bytes, name: str, cap: int) -> bytes:
    """Member ``name`` of a ``.keras`` zip, decompressed to at most ``cap`` bytes (the declared size may
    lie: the read stops past the cap whatever the header says)."""
    _check_directory(data)
    try:
        archive = zipfile.ZipFile(_MapFile(data) if isinstance(data, mmap.mmap) else io.BytesIO(data))
        members = archive.infolist()
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise KerasImportError(f"the .keras archive has too many members ({len(members):,}, "
                                   f"at most {MAX_ARCHIVE_MEMBERS:,})")
        names = [m.filename for m in members]
        if name not in names:
            raise KerasImportError(f"the .keras archive has no {name}", got=names[:5],
                                   expected="an archive written by model.save('model.keras')")
        with archive.open(name) as member:
            out = member.read(cap + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error,
            NotImplementedError, RuntimeError) as error:
        raise KerasImportError(f"bad .keras archive: {error}") from None
    if len(out) > cap:
        raise KerasImportError(f"{name} of the .keras archive too large once decompressed (more than {cap:,} bytes)")
    return out


_END_RECORD = struct.Struct("<4s4H2LH")  # signature, disk, disk of directory, entries here, entries, size, offset, comment
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # signature, disk of the zip64 record, its offset, disks
_ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")  # ..., entries here, entries, size, offset


def _check_directory(data: bytes) -> None:
    """Refuse an archive whose end-of-central-directory record declares too many members or too large a
    directory, before zipfile builds an object for each of them (10 M members took 81 s and 4.4 GB).

    The record is found as zipfile finds it. A zip64 record replaces its figures; Python versions look for
    that record in two places (before its locator, or where the locator says), so the figures of each record
    found count, and those of the plain record too unless a zip64 record stands in both places.
    """
    end = len(data) - _END_RECORD.size
    if end < 0:
        return  # zipfile refuses it itself
    if not (data[end:end + 4] == b"PK\x05\x06" and data[-2:] == b"\x00\x00"):
        end = data.rfind(b"PK\x05\x06", max(len(data) - (1 << 16) - _END_RECORD.size, 0))
        if end < 0 or len(data) - end < _END_RECORD.size:
            return
    fields = _END_RECORD.unpack_from(data, end)
    figures: list[tuple[int, int, int]] = []  # (entries here, entries, directory bytes)
    places: set[int] = set()
    locator = end - _ZIP64_LOCATOR.size
    if locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        places = {locator - _ZIP64_END_RECORD.size, _ZIP64_LOCATOR.unpack_from(data, locator)[2]}
        for start in places:
            if 0 <= start <= len(data) - _ZIP64_END_RECORD.size and data[start:start + 4] == b"PK\x06\x06":
                figures.append(_ZIP64_END_RECORD.unpack_from(data, start)[6:9])
    if not places or len(figures) < len(places):
        figures.append(fields[3:6])
    members = max(max(here, total) for here, total, _ in figures)
    size = max(size for _, _, size in figures)
    if members > MAX_ARCHIVE_MEMBERS:
        raise KerasImportError(f"the .keras archive has too many members ({members:,}, "
                               f"at most {MAX_ARCHIVE_MEMBERS:,})")
    if size > MAX_CENTRAL_DIRECTORY_BYTES:
        raise KerasImportError(f"the .keras archive's central directory is too large ({size:,} bytes, "
                               f"at most {MAX_CENTRAL_DIRECTORY_BYTES:,})")


def _archive_config(data: bytes) -> str:
    """``config.json`` of a ``.keras`` zip, read with a cap on what it decompresses to."""
    return _decode(_archive_member(data, "config.json", MAX_JSON_BYTES))


def import_keras_text(text: str, source: str = "<keras>") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """:func:`import_keras` on the text of a Keras JSON config."""
    return _import_text(text, source)[0], {}


def _import_text(text: str, source: str) -> tuple[dict[str, Any], _Importer]:
    try:
        model = json.loads(text)
    except RecursionError:
        raise KerasImportError("the Keras JSON is nested too deeply") from None
    except ValueError as error:
        raise KerasImportError(f"the Keras JSON cannot be parsed: {error}") from None
    if not isinstance(model, dict):
        raise KerasImportError("the Keras JSON must be a model object", got=type(model).__name__,
                               expected="a mapping with 'class_name' and 'config'")
    importer = _Importer(model, source)
    return importer.run(), importer


# ---------------------------------------------------------------- the graph


def _get(mapping: Any, key: str, kind: type | tuple[type, ...], what: str, default: Any = ...) -> Any:
    if not isinstance(mapping, dict):
        raise KerasImportError(f"{what} must be a mapping", got=type(mapping).__name__, expected="a JSON object")
    if key not in mapping:
        if default is ...:
            raise KerasImportError(f"{what} has no '{key}'", field=key)
        return default
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in (
            kind if isinstance(kind, tuple) else (kind,)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise KerasImportError(f"{what}: bad '{key}'", field=key, got=value, expected=names)
    return value


_MODEL_CLASSES = ("Functional", "Model", "Sequential")


class _Importer:
    def __init__(self, model: dict[str, Any], source: str) -> None:
        self.model = model
        self.source = source
        self.layers: list[dict[str, Any]] = []
        self.input_shape: list[Any] | None = None
        self.names: set[str] = set()
        self.keras2 = str(model.get("keras_version", "3")).startswith("2")
        #: scoped Keras layer name → (class name, config, spec layers made): where its variables go
        self.made: dict[str, tuple[str, dict[str, Any], list[dict[str, Any]]]] = {}
        #: a nested model's output, by (id of its config, tensor): outer layers may read it many times
        self.outputs: dict[tuple[int, int], str] = {}
        #: a nested functional model's output references and the models among its layers, by id of its config
        self.indexes: dict[int, tuple[list[tuple[str, int, int]], dict[str, dict[str, Any]]]] = {}
        #: (spec layer, its source, field → a constant repeated per channel): filled in by `per_channel`
        self.per_channel_constants: list[tuple[dict[str, Any], str, dict[str, float]]] = []
        #: entries of the layer lists of the model and its nested models, input layers included
        self.keras_layers = 0
        #: spec layers made of an operation on a tensor and a number: name → (operation, number)
        self.arithmetic: dict[str, tuple[str, float]] = {}

    def run(self) -> dict[str, Any]:
        class_name = _get(self.model, "class_name", str, "the Keras model")
        if class_name not in _MODEL_CLASSES:
            raise KerasImportError("not a Keras model", field="class_name", got=class_name,
                                   expected="Functional, Model or Sequential (a model.to_json() file)")
        config = _get(self.model, "config", dict, "the Keras model")
        name = config.get("name")
        outputs = self.model_layers(class_name, config, "", None, True, 0)
        if not self.layers:
            raise KerasImportError("the Keras model has no layers besides its input")
        if self.layers[-1]["name"] not in outputs:  # the spec's output is its last layer
            raise KerasImportError("the model's output is not its last layer", got=outputs,
                                   expected=f"'{self.layers[-1]['name']}'")
        assert self.input_shape is not None
        spec: dict[str, Any] = {"input": self.input_shape, "layers": self.layers}
        if isinstance(name, str) and name.strip() and name.isprintable() and len(name) <= 200:
            spec = {"name": name, **spec}
        self.fuse_hard_sigmoids()
        self.per_channel(spec)
        self.check(spec)
        return spec

    def fuse_hard_sigmoids(self) -> None:
        """``relu6(x + 3)·(1/6)`` written with operations (MobileNetV3's hard_sigmoid) becomes one
        ``hardsigmoid`` under the name of the multiplication; the same numbers, and the layer the lecture
        names."""
        if not self.arithmetic:
            return
        by_name = {layer["name"]: layer for layer in self.layers}
        uses: dict[str, int] = {}
        for layer in self.layers:
            for source in _as_list(layer["inputs"]):
                uses[source] = uses.get(source, 0) + 1
        removed: set[int] = set()
        fused: set[int] = set()
        for layer in self.layers:
            if self.arithmetic.get(layer["name"]) != ("multiply", 1 / 6):
                continue
            relu6 = by_name.get(layer["inputs"]) if isinstance(layer["inputs"], str) else None
            if relu6 is None or relu6["type"] != "relu6" or not isinstance(relu6["inputs"], str):
                continue
            shift = by_name.get(relu6["inputs"])
            if shift is None or self.arithmetic.get(shift["name"]) != ("add", 3.0):
                continue
            if uses.get(shift["name"]) != 1 or uses.get(relu6["name"]) != 1:
                continue  # an intermediate value read elsewhere too: kept as it is
            removed.update((id(shift), id(relu6)))
            fused.add(id(layer))
            name, inputs = layer["name"], shift["inputs"]
            layer.clear()
            layer.update({"type": "hardsigmoid", "name": name, "inputs": inputs})
        if removed:
            self.layers[:] = [layer for layer in self.layers if id(layer) not in removed]  # spec["layers"] too
            self.per_channel_constants = [entry for entry in self.per_channel_constants
                                          if id(entry[0]) not in removed | fused]

    def per_channel(self, spec: dict[str, Any]) -> None:
        """Repeat each per-channel constant (Rescaling, a scalar Normalization) over its input's channels,
        all from one analysis of the model: one analysis per such layer took 26 s for 1,000 of them."""
        if not self.per_channel_constants:
            return
        from ..calc.analysis import analyse
        from ..spec.blocks import MAX_EXPANDED_VALUES
        from ..spec.network import build_network

        records = {r.name: r for r in analyse(build_network(spec, self.source)).records}
        assert self.input_shape is not None
        values = 0
        for layer, source, constants in self.per_channel_constants:
            record = records.get(source)
            channels = self.input_shape[-1] if source == "input" or record is None else record.output_shape[-1]
            if not isinstance(channels, int) or not 0 < channels <= 1_000_000:
                raise KerasImportError("the channel count before this layer is not a number", layer=layer["name"],
                                       got=str(channels), expected="an integer of at most 1,000,000")
            # the spec stops at this many values too, but only once the lists are built
            values += channels * len(constants)
            if values > MAX_EXPANDED_VALUES:
                raise KerasImportError(f"per-channel constants of Rescaling and Normalization layers: more than "
                                       f"{MAX_EXPANDED_VALUES:,} values", layer=layer["name"])
            for field, value in constants.items():
                layer[field] = [value] * channels

    def check(self, spec: dict[str, Any]) -> None:
        """Validate the spec now, so that a bad model fails at import with the Keras layer named."""
        from ..spec.network import build_network

        build_network(spec, self.source)

    # -- models

    def model_layers(self, class_name: str, config: dict[str, Any], scope: str, inbound: list[str] | None,
                     trainable: bool, depth: int) -> list[str]:
        """Add a (possibly nested) model's layers; returns the spec names of its outputs."""
        if depth > MAX_NESTING:
            raise KerasImportError(f"models nested more than {MAX_NESTING} deep")
        raw_layers = _get(config, "layers", list, f"model '{scope or 'top'}'")
        self.keras_layers += len(raw_layers)
        trainable = trainable and config.get("trainable", True) is not False
        if class_name == "Sequential":
            return self.sequential(raw_layers, config, scope, inbound, trainable, depth)
        return self.functional(raw_layers, config, scope, inbound, trainable, depth)

    def sequential(self, raw_layers: list[Any], config: dict[str, Any], scope: str, inbound: list[str] | None,
                   trainable: bool, depth: int) -> list[str]:
        previous: list[str] | None = inbound
        for position, raw in enumerate(raw_layers):
            class_name = _get(raw, "class_name", str, f"layer {position + 1}")
            layer_config = _get(raw, "config", dict, f"layer {position + 1}")
            if class_name == "InputLayer":
                if previous is None:
                    previous = self.network_input(layer_config)
                continue
            if previous is None:  # Keras 2: the first layer carries the input shape
                shape = layer_config.get("batch_input_shape") or config.get("build_input_shape")
                if shape is None:
                    raise KerasImportError("the Sequential model declares no input shape",
                                           hint="build the model (model.build or an Input) before to_json()")
                previous = self.network_input({"batch_shape": shape})
            name = self.scoped(scope, raw, layer_config, position)
            previous = self.add(class_name, layer_config, name, previous, trainable, depth, raw)
        if previous is None:
            raise KerasImportError("the Sequential model has no layers")
        return previous

    def functional(self, raw_layers: list[Any], config: dict[str, Any], scope: str, inbound: list[str] | None,
                   trainable: bool, depth: int) -> list[str]:
        if len(raw_layers) > MAX_KERAS_LAYERS:
            raise KerasImportError(f"too many layers ({len(raw_layers):,}, at most {MAX_KERAS_LAYERS:,})")
        by_name: dict[str, dict[str, Any]] = {}
        for position, raw in enumerate(raw_layers):
            layer_name = _get(raw, "name", str, f"layer {position + 1}", None) or _get(
                _get(raw, "config", dict, f"layer {position + 1}"), "name", str, f"layer {position + 1}")
            if layer_name in by_name:
                raise KerasImportError("duplicate layer name in the Keras model", layer=layer_name)
            by_name[layer_name] = raw
        # where each tensor of this scope comes from, as spec names (a nested model's inputs are the outer
        # tensors it was called on)
        aliases: dict[str, str] = {}
        input_refs = _refs(_get(config, "input_layers", list, "the functional model"))
        if inbound is None:
            if len(input_refs) != 1:
                raise KerasImportError("the model has several inputs; a spec has one", got=len(input_refs),
                                       expected="1 input")
            raw = by_name.get(input_refs[0][0])
            if raw is None:
                raise KerasImportError("unknown input layer", got=input_refs[0][0], expected="a layer of the model")
            aliases[input_refs[0][0]] = self.network_input(_get(raw, "config", dict, "the input layer"))[0]
        else:
            if len(input_refs) != len(inbound):
                raise KerasImportError(f"nested model '{scope}' called on {len(inbound)} tensors but has "
                                       f"{len(input_refs)} inputs")
            for ref, source in zip(input_refs, inbound):
                aliases[ref[0]] = source

        def resolve(ref: tuple[str, int, int]) -> str:
            layer_name, _node, tensor = ref
            if layer_name in aliases:
                return aliases[layer_name]
            raw = by_name.get(layer_name)
            if raw is None:
                raise KerasImportError("inbound node names an unknown layer", got=layer_name,
                                       expected="a layer of the same model")
            if raw.get("class_name") in _MODEL_CLASSES:
                return self.nested_output(raw, _join(scope, layer_name), tensor, 0)
            return _join(scope, layer_name)

        for position, raw in enumerate(raw_layers):
            class_name = _get(raw, "class_name", str, f"layer {position + 1}")
            layer_config = _get(raw, "config", dict, f"layer {position + 1}")
            if class_name == "InputLayer":
                continue
            layer_name = _get(raw, "name", str, f"layer {position + 1}", None) or layer_config.get("name")
            nodes = _inbound_nodes(raw, layer_name)
            if len(nodes) == 0:
                continue  # a layer never called (Keras keeps it in the config): nothing to compute
            if len(nodes) > 1:
                raise KerasImportError("a layer called more than once (shared weights) has no spec equivalent",
                                       layer=_join(scope, layer_name), got=f"{len(nodes)} calls", expected="1")
            sources = [resolve(ref) for ref in nodes[0]]
            self.add(class_name, layer_config, _join(scope, layer_name), sources, trainable, depth, raw)
        return [resolve(r) for r in _output_refs(config)]

    def nested_output(self, raw: dict[str, Any], scope: str, tensor: int, depth: int) -> str:
        """The spec name of output ``tensor`` of a nested model (without adding anything).

        Found once per model and tensor: 40,000 outer layers reading a nested model of 40,000 layers looked
        through its layers 40,000 times.
        """
        if depth > MAX_NESTING:
            raise KerasImportError(f"models nested more than {MAX_NESTING} deep")
        key = (id(raw), 0 if raw.get("class_name") == "Sequential" else tensor)
        if key not in self.outputs:
            self.outputs[key] = self.find_output(raw, scope, tensor, depth)
        return self.outputs[key]

    def find_output(self, raw: dict[str, Any], scope: str, tensor: int, depth: int) -> str:
        config = _get(raw, "config", dict, f"nested model '{scope}'")
        if raw.get("class_name") == "Sequential":
            last = next((r for r in reversed(_get(config, "layers", list, "the model"))
                         if isinstance(r, dict) and r.get("class_name") != "InputLayer"), None)
            if last is None:
                raise KerasImportError("empty nested Sequential model", layer=scope)
            last_name = last.get("name") or _get(last, "config", dict, "layer").get("name")
            if last.get("class_name") in _MODEL_CLASSES:
                return self.nested_output(last, _join(scope, str(last_name)), 0, depth + 1)
            return _join(scope, str(last_name))
        if id(raw) not in self.indexes:
            models: dict[str, dict[str, Any]] = {}
            for candidate in _get(config, "layers", list, "the model"):
                # read before the model's own layers are checked (a model never called is not): any name
                name = _layer_name(candidate) if isinstance(candidate, dict) else None
                if isinstance(name, str) and candidate.get("class_name") in _MODEL_CLASSES:
                    models.setdefault(name, candidate)
            self.indexes[id(raw)] = (_output_refs(config), models)
        refs, models = self.indexes[id(raw)]
        if not 0 <= tensor < len(refs):
            raise KerasImportError("reference to a missing output of a nested model", layer=scope, got=tensor,
                                   expected=f"0 to {len(refs) - 1}")
        layer_name, _node, inner = refs[tensor]
        if layer_name in models:
            return self.nested_output(models[layer_name], _join(scope, layer_name), inner, depth + 1)
        return _join(scope, layer_name)

    def network_input(self, config: dict[str, Any]) -> list[str]:
        if self.input_shape is not None:
            raise KerasImportError("the model has several inputs; a spec has one")
        shape = config.get("batch_shape", config.get("batch_input_shape"))
        if not isinstance(shape, list) or not 2 <= len(shape) <= 5:
            raise KerasImportError("bad input shape", field="batch_shape", got=shape,
                                   expected="[null, H, W, C] (or [null, D], [null, L, C], [null, D, H, W, C])")
        dims: list[Any] = []
        symbols = ["n", "m", "k", "q"]
        for position, dim in enumerate(shape[1:]):
            if dim is None:
                dims.append(symbols[position])
            else:
                dims.append(dim)  # checked by build_network (positive, at most 10**18)
        self.input_shape = dims
        return ["input"]

    def scoped(self, scope: str, raw: dict[str, Any], config: dict[str, Any], position: int) -> str:
        name = raw.get("name") or config.get("name") or f"layer{position + 1}"
        return _join(scope, str(name))

    # -- one layer

    def add(self, class_name: str, config: dict[str, Any], name: str, sources: list[str], trainable: bool,
            depth: int, raw: dict[str, Any]) -> list[str]:
        """Add the spec layers for one Keras layer; returns [its output's spec name]."""
        if len(self.layers) > MAX_KERAS_LAYERS:
            raise KerasImportError(f"too many layers (more than {MAX_KERAS_LAYERS:,})")
        trainable = trainable and config.get("trainable", True) is not False
        if class_name in _MODEL_CLASSES:
            outputs = self.model_layers(class_name, config, name, sources, trainable, depth + 1)
            if not outputs:  # the next layer of a Sequential would have no input
                raise KerasImportError("the nested model has no output", layer=name, field="output_layers",
                                       got=[], expected="one output")
            return outputs[-1:]
        if config.get("data_format", "channels_last") != "channels_last":
            raise KerasImportError("channels_first layers are not supported (the spec is channels-last)",
                                   layer=name, field="data_format", got=config.get("data_format"),
                                   expected="channels_last")
        operation = _is_operation(raw)
        rule = KERAS_OPERATIONS.get(class_name) if operation else KERAS_CLASSES.get(class_name)
        module = raw.get("module")
        if rule is not None and class_name in APPLICATION_CLASSES and module is not None and (
                module not in APPLICATION_CLASSES[class_name]):
            raise KerasImportError(f"a custom {class_name} layer (module {module}) is not the one of "
                                   "keras.applications, whose rule cnncalc knows", layer=name, field="module",
                                   got=module, expected=" or ".join(APPLICATION_CLASSES[class_name]))
        if rule is None and operation:
            raise KerasImportError(f"the operation {module}.{class_name} has no spec equivalent", layer=name,
                                   field="class_name", got=class_name,
                                   expected="one of the operations " + ", ".join(sorted(KERAS_OPERATIONS)))
        if rule is None:
            if class_name in ("Lambda", "TFOpLambda", "SlicingOpLambda"):
                raise KerasImportError(f"a {class_name} layer runs arbitrary Python code, which cnncalc does not "
                                       "read", layer=name, field="class_name", got=class_name,
                                       expected="a built-in Keras layer",
                                       hint="replace it by built-in layers before saving the model")
            from ..errors import did_you_mean

            hint = did_you_mean(class_name, KERAS_CLASSES)
            raise KerasImportError("unknown Keras layer class", layer=name, field="class_name", got=class_name,
                                   expected="a built-in layer of keras.layers",
                                   hint=hint or "supported: " + ", ".join(sorted(KERAS_CLASSES)))
        try:
            call = _Call(self, config, name, sources)
            if operation:
                call.constants, call.rank = _constants(raw), _operation_rank(raw)
            made = rule(call)
        except CnnCalcError as error:
            raise error.with_context(layer=name) from None
        for layer in made:
            if not trainable:
                layer["trainable"] = False
            if layer["name"] in self.names:
                raise KerasImportError("two layers get the same spec name", layer=layer["name"])
            self.names.add(layer["name"])
            self.layers.append(layer)
        if not operation:  # an operation has no variables: model.weights.h5 holds none for it
            self.made[name] = (class_name, config, made)
        return [made[-1]["name"]]


def _layer_name(raw: dict[str, Any]) -> Any:
    config = raw.get("config")
    return raw.get("name") or (config.get("name") if isinstance(config, dict) else None)


def _as_list(inputs: Any) -> list[Any]:
    return inputs if isinstance(inputs, list) else [inputs]


def _join(scope: str, name: str) -> str:
    return f"{scope}/{name}" if scope else name


def _ref(value: Any) -> tuple[str, int, int]:
    if isinstance(value, list) and len(value) >= 3 and isinstance(value[0], str):
        node, tensor = value[1], value[2]
        if isinstance(node, int) and isinstance(tensor, int) and not isinstance(node, bool):
            return (value[0], node, tensor)
    raise KerasImportError("bad tensor reference", got=value, expected="[layer name, node index, tensor index]")


def _output_refs(config: dict[str, Any]) -> list[tuple[str, int, int]]:
    return _refs(_get(config, "output_layers", list, "the functional model"))


def _refs(value: list[Any]) -> list[tuple[str, int, int]]:
    """A list of tensor references; Keras 3 writes a single one flat (``["name", 0, 0]``)."""
    if value and isinstance(value[0], str):
        return [_ref(value)]
    return [_ref(r) for r in value]


def _inbound_nodes(raw: dict[str, Any], layer_name: str) -> list[list[tuple[str, int, int]]]:
    """Each call of the layer as its input tensors (Keras 2 lists and Keras 3 ``args``/``kwargs``)."""
    nodes = raw.get("inbound_nodes", [])
    if not isinstance(nodes, list):
        raise KerasImportError("bad inbound_nodes", layer=layer_name, got=nodes, expected="a list")
    calls = []
    for node in nodes:
        refs: list[tuple[str, int, int]] = []
        if isinstance(node, dict):  # Keras 3
            _tensors(node.get("args", []), refs, 0)
            kwargs = node.get("kwargs", {})
            if isinstance(kwargs, dict):
                for key in ("query", "value", "key"):
                    if key in kwargs:
                        _tensors(kwargs[key], refs, 0)
        elif isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
            for entry in node:
                refs.append(_ref(entry))
        else:
            raise KerasImportError("bad inbound node", layer=layer_name, got=node, expected="a list or a mapping")
        if not refs:
            raise KerasImportError("a layer call with no input tensor", layer=layer_name)
        calls.append(refs)
    return calls


def _tensors(value: Any, out: list[tuple[str, int, int]], depth: int) -> None:
    if depth > 8:
        raise KerasImportError("inbound node arguments nested too deeply")
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = value.get("config", {}).get("keras_history") if isinstance(value.get("config"), dict) else None
            out.append(_ref(history))
    elif isinstance(value, list):
        for item in value:
            _tensors(item, out, depth + 1)


# ---------------------------------------------------------------- one rule per Keras class


def _is_operation(raw: dict[str, Any]) -> bool:
    """Whether a functional model's entry is an operation (``x + 3.0``, ``ops.mean``: Keras 3 keeps each as
    an entry of module ``keras.src.ops.*``) rather than a layer; ``Add`` names both."""
    module = raw.get("module")
    return isinstance(module, str) and module.startswith(("keras.src.ops", "keras.ops"))


def _constants(raw: dict[str, Any]) -> list[tuple[int, Any]]:
    """An operation's arguments that are not tensors, with their positions (``x + 3.0``: ``[(1, 3.0)]``);
    keyword arguments are refused, as no rule reads them."""
    args = _operation_args(raw)
    return [(position, value) for position, value in enumerate(args) if not _is_tensor(value)]


def _operation_args(raw: dict[str, Any]) -> list[Any]:
    nodes = raw.get("inbound_nodes")
    node = nodes[0] if isinstance(nodes, list) and nodes else {}
    if not isinstance(node, dict):
        return []
    kwargs = node.get("kwargs") or {}
    if kwargs:
        raise KerasImportError("an operation called with keyword arguments has no spec equivalent",
                               got=sorted(kwargs)[:5] if isinstance(kwargs, dict) else kwargs,
                               expected="positional arguments only")
    args = node.get("args", [])
    return args if isinstance(args, list) else []


def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _operation_rank(raw: dict[str, Any]) -> int | None:
    """The rank (batch axis included) of an operation's first tensor argument, as its config records it."""
    for value in _operation_args(raw):
        if _is_tensor(value):
            config = value.get("config")
            shape = config.get("shape") if isinstance(config, dict) else None
            return len(shape) if isinstance(shape, list) else None
    return None


class _Call:
    """What a rule sees: the layer's config, its spec name and its input names; an operation's constant
    arguments too, with their positions among its arguments."""

    def __init__(self, importer: _Importer, config: dict[str, Any], name: str, sources: list[str]) -> None:
        self.importer = importer
        self.config = config
        self.name = name
        self.sources = sources
        self.constants: list[tuple[int, Any]] = []
        self.rank: int | None = None  # an operation's input rank, batch axis included, when recorded

    def layer(self, type_name: str, suffix: str = "", **fields: Any) -> dict[str, Any]:
        made: dict[str, Any] = {"type": type_name, "name": self.name + suffix,
                                "inputs": self.sources if len(self.sources) > 1 else self.sources[0]}
        made.update({k: v for k, v in fields.items() if v is not None})
        return made

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def sizes(self, key: str, default: Any = None) -> Any:
        value = self.config.get(key, default)
        if isinstance(value, list) and value and all(v == value[0] for v in value) and len(value) > 1:
            return value[0]
        return value

    def padding(self) -> Any:
        value = self.config.get("padding", "valid")
        if value not in ("valid", "same"):
            raise KerasImportError("padding has no spec equivalent", field="padding", got=value,
                                   expected="valid or same")
        return value


# Keras activation names → spec (inline on a conv/dense where the spec's rule is the same).
_ACTIVATIONS = {
    "linear": "none", "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid", "tanh": "tanh",
    "softmax": "softmax", "swish": "silu", "silu": "silu", "gelu": "gelu", "elu": "elu", "mish": "mish",
    "softplus": "softplus", "hard_swish": "hardswish", "hard_silu": "hardswish", "hard_sigmoid": "hardsigmoid",
}


def _activation(call: _Call, value: Any) -> str:
    if isinstance(value, dict):  # Keras 2/3 may serialise an activation as {"class_name": ..., "config": ...}
        value = value.get("config", {}).get("name") if isinstance(value.get("config"), dict) else None
        value = value or "unknown"
    if value == "hard_sigmoid" and call.importer.keras2:
        raise KerasImportError("Keras 2's hard_sigmoid (0.2x + 0.5) has no spec equivalent", field="activation",
                               got=value, expected="Keras 3's hard_sigmoid, relu6(x + 3)/6")
    if value == "leaky_relu":
        return "leaky_relu"
    if not isinstance(value, str) or value not in _ACTIVATIONS:  # a list or a mapping is no key
        raise KerasImportError("unknown activation", field="activation", got=value,
                               expected="one of " + ", ".join(sorted(_ACTIVATIONS)))
    return _ACTIVATIONS[value]


def _with_activation(call: _Call, made: dict[str, Any]) -> list[dict[str, Any]]:
    name = _activation(call, call.get("activation", "linear"))
    if name == "leaky_relu":  # Keras's default slope is 0.2, the spec's 0.01: a layer of its own
        return [made, {"type": "leaky_relu", "name": f"{call.name}/leaky_relu", "inputs": call.name, "alpha": 0.2}]
    if name != "none":
        made["activation"] = name
    return [made]


def _conv(call: _Call) -> list[dict[str, Any]]:
    return _with_activation(call, call.layer(
        "conv", filters=call.get("filters"), kernel=call.sizes("kernel_size"), stride=call.sizes("strides", 1),
        padding=call.padding(), dilation=call.sizes("dilation_rate", 1), groups=call.get("groups", 1),
        bias=call.get("use_bias", True)))


def _depthwise(call: _Call) -> list[dict[str, Any]]:
    return _with_activation(call, call.layer(
        "depthwise_conv", kernel=call.sizes("kernel_size"), multiplier=call.get("depth_multiplier", 1),
        stride=call.sizes("strides", 1), padding=call.padding(), dilation=call.sizes("dilation_rate", 1),
        bias=call.get("use_bias", True)))


def _separable(call: _Call) -> list[dict[str, Any]]:
    return _with_activation(call, call.layer(
        "separable_conv", filters=call.get("filters"), kernel=call.sizes("kernel_size"),
        multiplier=call.get("depth_multiplier", 1), stride=call.sizes("strides", 1), padding=call.padding(),
        dilation=call.sizes("dilation_rate", 1), bias=call.get("use_bias", True)))


def _transpose(call: _Call) -> list[dict[str, Any]]:
    return _with_activation(call, call.layer(
        "conv_transpose", filters=call.get("filters"), kernel=call.sizes("kernel_size"),
        stride=call.sizes("strides", 1), padding=call.padding(), dilation=call.sizes("dilation_rate", 1),
        output_padding=call.sizes("output_padding") or None, bias=call.get("use_bias", True)))


def _dense(call: _Call) -> list[dict[str, Any]]:
    return _with_activation(call, call.layer("dense", units=call.get("units"), bias=call.get("use_bias", True)))


def _last_axis(call: _Call, value: Any) -> None:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if value != -1 and not (isinstance(value, int) and value > 0):
        raise KerasImportError("only the last (channel) axis is supported", field="axis", got=value,
                               expected="-1 (channels last)")


def _batchnorm(call: _Call) -> list[dict[str, Any]]:
    _last_axis(call, call.get("axis", -1))
    return [call.layer("batchnorm", center=call.get("center", True), scale=call.get("scale", True),
                       epsilon=call.get("epsilon", 1e-3))]


def _axis_no_batch(value: Any) -> Any:
    """A Keras axis (counting the batch axis) as a spec axis (not counting it)."""
    if isinstance(value, list):
        return [_axis_no_batch(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        if value == 0:
            raise KerasImportError("an operation along the batch axis has no spec equivalent", field="axis",
                                   got=value, expected="a non-batch axis")
        return value - 1 if value > 0 else value
    raise KerasImportError("bad axis", field="axis", got=value, expected="an integer")


def _layernorm(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("layernorm", axis=_axis_no_batch(call.get("axis", -1)), center=call.get("center", True),
                       scale=call.get("scale", True), epsilon=call.get("epsilon", 1e-3))]


def _groupnorm(call: _Call) -> list[dict[str, Any]]:
    _last_axis(call, call.get("axis", -1))
    return [call.layer("groupnorm", groups=call.get("groups", 32), center=call.get("center", True),
                       scale=call.get("scale", True), epsilon=call.get("epsilon", 1e-3))]


def _activation_layer(call: _Call) -> list[dict[str, Any]]:
    name = _activation(call, call.get("activation"))
    if name == "none":
        return [call.layer("dropout", rate=0.0)]
    if name == "leaky_relu":
        return [call.layer("leaky_relu", alpha=0.2)]
    return [call.layer(name)]


def _relu(call: _Call) -> list[dict[str, Any]]:
    max_value = call.get("max_value")
    slope = call.get("negative_slope", 0.0) or 0.0
    threshold = call.get("threshold", 0.0) or 0.0
    if threshold != 0:
        raise KerasImportError("ReLU with a threshold has no spec equivalent", field="threshold", got=threshold,
                               expected="0")
    if max_value is None and slope == 0:
        return [call.layer("relu")]
    if max_value == 6 and slope == 0:
        return [call.layer("relu6")]
    if max_value is None:
        return [call.layer("leaky_relu", alpha=slope)]
    raise KerasImportError("ReLU with this max_value has no spec equivalent", field="max_value", got=max_value,
                           expected="none or 6")


def _leaky_relu(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("leaky_relu", alpha=call.get("negative_slope", call.get("alpha", 0.3)))]


def _softmax(call: _Call) -> list[dict[str, Any]]:
    axis = call.get("axis", -1)
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    return [call.layer("softmax", axis=_axis_no_batch(axis))]


def _elu(call: _Call) -> list[dict[str, Any]]:
    if call.get("alpha", 1.0) != 1.0:
        raise KerasImportError("ELU with alpha other than 1 has no spec equivalent", field="alpha",
                               got=call.get("alpha"), expected="1.0")
    return [call.layer("elu")]


def _prelu(call: _Call) -> list[dict[str, Any]]:
    shared = call.get("shared_axes")
    if not isinstance(shared, list) or not shared:
        raise KerasImportError("PReLU without shared_axes learns one slope per activation, which the spec's prelu "
                               "does not", field="shared_axes", got=shared,
                               expected="the spatial axes, e.g. [1, 2] (one slope per channel)")
    return [call.layer("prelu", alpha="channel")]


def _pool(type_name: str) -> Callable[[_Call], list[dict[str, Any]]]:
    def rule(call: _Call) -> list[dict[str, Any]]:
        kernel = call.sizes("pool_size", 2)
        stride = call.sizes("strides") or kernel
        return [call.layer(type_name, kernel=kernel, stride=stride, padding=call.padding())]

    return rule


def _global(type_name: str) -> Callable[[_Call], list[dict[str, Any]]]:
    def rule(call: _Call) -> list[dict[str, Any]]:
        return [call.layer(type_name, keepdims=bool(call.get("keepdims", False)))]

    return rule


def _pairs(value: Any, field: str) -> Any:
    """Keras padding/cropping: an int, one int per axis, or a (before, after) pair per axis."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list) and value:
        if all(isinstance(v, list) for v in value):
            return [list(v) for v in value]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [[v, v] for v in value]
    raise KerasImportError(f"bad {field}", field=field, got=value, expected="an int, one per axis, or pairs")


def _pairs_1d(call: _Call, value: Any, field: str) -> Any:
    # ZeroPadding1D/Cropping1D write one (before, after) pair, not one int per axis
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [list(value)]
    return _pairs(value, field)


def _zero_pad(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("zero_pad", padding=_pairs(call.get("padding", 1), "padding"))]


def _zero_pad_1d(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("zero_pad", padding=_pairs_1d(call, call.get("padding", 1), "padding"))]


def _crop(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("crop", cropping=_pairs(call.get("cropping", 0), "cropping"))]


def _crop_1d(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("crop", cropping=_pairs_1d(call, call.get("cropping", [1, 1]), "cropping"))]


def _upsample(call: _Call) -> list[dict[str, Any]]:
    interpolation = call.get("interpolation", "nearest")
    modes = {"nearest": "nearest", "bilinear": "linear", "linear": "linear", "trilinear": "linear"}
    if not isinstance(interpolation, str) or interpolation not in modes:
        raise KerasImportError("interpolation has no spec equivalent", field="interpolation", got=interpolation,
                               expected="nearest or bilinear")
    return [call.layer("upsample", scale=call.sizes("size", 2), mode=modes[interpolation])]


def _merge(type_name: str) -> Callable[[_Call], list[dict[str, Any]]]:
    def rule(call: _Call) -> list[dict[str, Any]]:
        if len(call.sources) < 2:
            raise KerasImportError(f"a {type_name} needs two or more inputs", got=len(call.sources), expected="2+")
        return [call.layer(type_name)]

    return rule


def _concat(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("concat", axis=_axis_no_batch(call.get("axis", -1)))]


def _flatten(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("flatten")]


def _reshape(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("reshape", shape=call.get("target_shape"))]


def _permute(call: _Call) -> list[dict[str, Any]]:
    dims = call.get("dims")
    if not isinstance(dims, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise KerasImportError("bad dims", field="dims", got=dims, expected="a permutation of 1..rank")
    return [call.layer("permute", axes=[d - 1 for d in dims])]


def _dropout(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("dropout", rate=call.get("rate", 0.0))]


def _identity(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("dropout", rate=0.0)]


def _rescaling(call: _Call) -> list[dict[str, Any]]:
    scale, offset = (v[0] if isinstance(v, list) and len(v) == 1 else v
                     for v in (call.get("scale", 1.0), call.get("offset", 0.0)))
    if all(_scalar(v) for v in (scale, offset)):
        return [_affine(call, _finite(scale, "scale"), _finite(offset, "offset"), "Rescaling")]
    # one factor per channel (EfficientNet with ImageNet weights divides by the standard deviation of each)
    scales, offsets = (v if isinstance(v, list) else [v] for v in (scale, offset))
    count = max(len(scales), len(offsets))
    if not 0 < count <= 1_000_000 or not all(len(v) in (1, count) and all(_scalar(n) for n in v)
                                             for v in (scales, offsets)):
        raise KerasImportError("bad Rescaling", field="scale", got=str(scale)[:80],
                               expected="one number, or one per channel (offset the same)")
    statistics = [_statistics(_finite(scales[k % len(scales)], "scale"), _finite(offsets[k % len(offsets)], "offset"),
                              "Rescaling") for k in range(count)]
    return [call.layer("batchnorm", center=False, scale=False, count_stats=False, epsilon=0.0,
                       mean=[mean for mean, _ in statistics], var=[var for _, var in statistics])]


def _statistics(scale: float, offset: float, what: str) -> tuple[float, float]:
    """The constant mean and variance that make batchnorm's ``(x − mean)/√var`` compute ``x·scale + offset``."""
    if not scale > 0:
        raise KerasImportError(f"{what} by {scale:g} has no spec equivalent (a batchnorm with constant statistics "
                               "scales by a positive factor only)", field="scale", got=scale, expected="> 0")
    try:
        mean, var = -offset / scale + 0.0, 1.0 / scale**2  # + 0.0: no -0.0 in the spec
    except (OverflowError, ZeroDivisionError):  # scale² beyond the float64 range either way
        mean, var = math.inf, 0.0
    if not (math.isfinite(mean) and 0 < var < math.inf):
        raise KerasImportError(f"this {what} has no float64 batchnorm equivalent", field="scale", got=scale,
                               expected="offset/scale and 1/scale² within the float64 range")
    return mean, var


def _affine(call: _Call, scale: float, offset: float, what: str, suffix: str = "",
            source: str | None = None) -> dict[str, Any]:
    """``x·scale + offset`` on ``source`` (default: the call's input) as a batchnorm whose statistics are
    constants, neither learned nor counted: the spec has no scale-and-shift layer. batchnorm computes
    ``(x − mean)/√var``, so ``mean = −offset/scale`` and ``var = 1/scale²``; as √var is positive, only a
    positive scale has this form."""
    mean, var = _statistics(scale, offset, what)
    layer = call.layer("batchnorm", suffix, center=False, scale=False, count_stats=False, epsilon=0.0)
    if source is not None:
        layer["inputs"] = source
    return _per_channel(call, layer, source, mean=mean, var=var)


def _normalization(call: _Call) -> list[dict[str, Any]]:
    _last_axis(call, call.get("axis", -1))
    if call.get("invert", False):
        raise KerasImportError("an inverted Normalization has no spec equivalent", field="invert", got=True,
                               expected="false")
    mean, variance = call.get("mean"), call.get("variance")
    if mean is not None or variance is not None:  # constants given in the config: no weights, nothing counted
        layer = call.layer("batchnorm", center=False, scale=False, count_stats=False, epsilon=0.0,
                           mean=None if _scalar(mean) else mean, var=None if _scalar(variance) else variance)
        scalars = {field: _finite(value, field) for field, value in (("mean", mean), ("var", variance))
                   if _scalar(value)}
        return [_per_channel(call, layer, None, **scalars)]
    return [call.layer("batchnorm", center=False, scale=False, epsilon=0.0, count_samples=True)]


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: Any, field: str) -> float:
    """A config number as a float64 (an integer of 400 digits does not convert)."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise KerasImportError(f"'{field}' is not a finite float64", field=field, got=value,
                               expected="a number within ±1.8e308")
    return number


def _per_channel(call: _Call, layer: dict[str, Any], source: str | None = None, **constants: float
                 ) -> dict[str, Any]:
    """``layer`` whose ``constants`` become one value per channel of its input (``source``, default the
    call's), once the whole model is read."""
    if constants:
        call.importer.per_channel_constants.append((layer, source or call.sources[0], constants))
    return layer


def _embedding(call: _Call) -> list[dict[str, Any]]:
    return [call.layer("embedding", vocab=call.get("input_dim"), dim=call.get("output_dim"))]


def _attention(call: _Call) -> list[dict[str, Any]]:
    output_shape = call.get("output_shape")
    if isinstance(output_shape, list):
        if len(output_shape) != 1:
            raise KerasImportError("only a one-axis output_shape is supported", field="output_shape",
                                   got=output_shape, expected="[d] or null")
        output_shape = output_shape[0]
    if call.get("attention_axes") not in (None, [1], -2):
        raise KerasImportError("attention_axes other than the token axis are not supported",
                               field="attention_axes", got=call.get("attention_axes"), expected="null")
    return [call.layer("attention", heads=call.get("num_heads"), key_dim=call.get("key_dim"),
                       value_dim=call.get("value_dim"), output_dim=output_shape, bias=call.get("use_bias", True))]


# -- operations (``keras.src.ops``) a functional model records as entries of their own

def _arithmetic(kind: str) -> Callable[[_Call], list[dict[str, Any]]]:
    """``x1 ∘ x2`` on two tensors is the merge; on a tensor and one number, a scale-and-shift."""
    article = "an" if kind == "add" else "a"

    def rule(call: _Call) -> list[dict[str, Any]]:
        if not call.constants:
            if kind == "divide":
                raise KerasImportError("a division of two tensors has no spec equivalent", got=len(call.sources),
                                       expected="a tensor divided by a number")
            return _merge(kind)(call)
        if len(call.constants) != 1 or len(call.sources) != 1:
            raise KerasImportError(f"{article} {kind} needs two tensors or a tensor and a number",
                                   got=f"{len(call.sources)} tensor(s), {len(call.constants)} constant(s)",
                                   expected="2 tensors, or 1 tensor and 1 number")
        position, value = call.constants[0]
        if not _scalar(value):
            raise KerasImportError(f"{article} {kind} by a constant that is not one number has no spec equivalent",
                                   got=str(value)[:60], expected="one number")
        number = _finite(value, "constant")
        first = position == 0  # the number comes first: c − x and c / x
        call.importer.arithmetic[call.name] = (kind, number)
        if kind == "add":
            return [_affine(call, 1.0, number, "x + c")]
        if kind == "multiply":
            return [_affine(call, number, 0.0, "x · c")]
        if first:
            raise KerasImportError(f"{'c − x' if kind == 'subtract' else 'c / x'} has no spec equivalent",
                                   got=f"{value} {'−' if kind == 'subtract' else '/'} x",
                                   expected="x − c or x / c")
        if kind == "subtract":
            return [_affine(call, 1.0, -number, "x − c")]
        if number == 0:
            raise KerasImportError("division by 0", got=value, expected="≠ 0")
        return [_affine(call, 1.0 / number, 0.0, "x / c")]

    return rule


def _spatial_axes(call: _Call, what: str) -> bool:
    """Whether an operation's ``axis`` (and its input rank) make it a reduction over every spatial axis."""
    axis = call.get("axis")
    axes = [axis] if isinstance(axis, int) and not isinstance(axis, bool) else axis
    rank = call.rank
    if rank is None or not isinstance(axes, list) or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        raise KerasImportError(f"a {what} whose axes or input rank are not recorded has no spec equivalent",
                               field="axis", got=axis, expected="the spatial axes, e.g. [1, 2]")
    return rank >= 3 and sorted(a % rank for a in axes) == list(range(1, rank - 1))


def _reduce(type_name: str, what: str) -> Callable[[_Call], list[dict[str, Any]]]:
    def rule(call: _Call) -> list[dict[str, Any]]:
        if not _spatial_axes(call, what):
            raise KerasImportError(f"a {what} over other axes than the spatial ones has no spec equivalent",
                                   field="axis", got=call.get("axis"),
                                   expected="every spatial axis, e.g. [1, 2] (a global pool)")
        return [call.layer(type_name, keepdims=bool(call.get("keepdims", False)))]

    return rule


def _reshape_operation(call: _Call) -> list[dict[str, Any]]:
    shape = call.get("newshape")
    if not isinstance(shape, list) or not shape or shape[0] not in (-1, None):
        raise KerasImportError("a reshape that does not keep the batch axis first has no spec equivalent",
                               field="newshape", got=shape, expected="[-1, ...] (the batch axis, then the sample's)")
    return [call.layer("reshape", shape=shape[1:])]


def _transpose_operation(call: _Call) -> list[dict[str, Any]]:
    axes = call.get("axes")
    if not isinstance(axes, list) or not axes or axes[0] != 0 or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in axes):
        raise KerasImportError("a transpose that moves the batch axis has no spec equivalent", field="axes",
                               got=axes, expected="[0, ...] (the batch axis stays first)")
    return [call.layer("permute", axes=[a - 1 for a in axes[1:]])]


def _operation_activation(type_name: str) -> Callable[[_Call], list[dict[str, Any]]]:
    def rule(call: _Call) -> list[dict[str, Any]]:
        if call.constants:
            raise KerasImportError(f"{type_name} with arguments besides its input has no spec equivalent",
                                   got=str(call.constants)[:60], expected="one tensor")
        return [call.layer(type_name)]

    return rule


#: ``keras.src.ops`` operation class name → rule (the merge classes of keras.layers share their names)
KERAS_OPERATIONS: dict[str, Callable[[_Call], list[dict[str, Any]]]] = {
    "Add": _arithmetic("add"), "Subtract": _arithmetic("subtract"), "Multiply": _arithmetic("multiply"),
    "Divide": _arithmetic("divide"), "TrueDivide": _arithmetic("divide"),
    "Maximum": _merge("maximum"), "Minimum": _merge("minimum"),
    "Mean": _reduce("global_avgpool", "mean"), "Max": _reduce("global_maxpool", "max"),
    "Reshape": _reshape_operation, "Transpose": _transpose_operation,
    "Relu": _operation_activation("relu"), "Relu6": _operation_activation("relu6"),
    "Sigmoid": _operation_activation("sigmoid"), "Tanh": _operation_activation("tanh"),
    "Silu": _operation_activation("silu"), "Gelu": _operation_activation("gelu"),
    "HardSigmoid": _operation_activation("hardsigmoid"), "HardSilu": _operation_activation("hardswish"),
}


# -- the layers keras.applications defines for itself (known by their module: a custom class of the same
# name may compute anything)

def _layer_scale(call: _Call) -> list[dict[str, Any]]:
    init = call.get("init_values", 1e-6)
    return [call.layer("layer_scale", init=_finite(init, "init_values") if _scalar(init) else None)]


def _custom_scale(call: _Call) -> list[dict[str, Any]]:
    """InceptionResNetV2's ``inputs[0] + inputs[1]·scale``: the residual scaled, then the add."""
    if len(call.sources) != 2:
        raise KerasImportError("CustomScaleLayer needs two inputs", got=len(call.sources), expected="2")
    scale = call.get("scale")
    if not _scalar(scale):
        raise KerasImportError("bad scale", field="scale", got=scale, expected="one number")
    scaled = _affine(call, _finite(scale, "scale"), 0.0, "CustomScaleLayer", "/scale", call.sources[1])
    return [scaled, {**call.layer("add"), "inputs": [call.sources[0], scaled["name"]]}]


#: class name → the modules of keras.applications that define it (Keras 2 wrote no module: accepted)
APPLICATION_CLASSES: dict[str, tuple[str, ...]] = {
    "LayerScale": ("keras.src.applications.convnext", "keras.applications.convnext"),
    "StochasticDepth": ("keras.src.applications.convnext", "keras.applications.convnext"),
    "CustomScaleLayer": ("keras.src.applications.inception_resnet_v2", "keras.applications.inception_resnet_v2"),
}


def _ranked(base: str, rule: Callable[[_Call], list[dict[str, Any]]], ranks: str = "123"
            ) -> dict[str, Callable[[_Call], list[dict[str, Any]]]]:
    return {f"{base}{r}D": rule for r in ranks}


#: Keras class name → rule. A class not listed here is refused with its name.
KERAS_CLASSES: dict[str, Callable[[_Call], list[dict[str, Any]]]] = {
    **_ranked("Conv", _conv), **_ranked("Convolution", _conv),
    **_ranked("DepthwiseConv", _depthwise, "12"),
    **_ranked("SeparableConv", _separable, "12"), **_ranked("SeparableConvolution", _separable, "12"),
    **{f"Conv{r}DTranspose": _transpose for r in "123"}, **{f"Convolution{r}DTranspose": _transpose for r in "23"},
    "Dense": _dense,
    "BatchNormalization": _batchnorm, "LayerNormalization": _layernorm, "GroupNormalization": _groupnorm,
    "Activation": _activation_layer, "ReLU": _relu, "LeakyReLU": _leaky_relu, "Softmax": _softmax,
    "ELU": _elu, "PReLU": _prelu,
    **_ranked("MaxPooling", _pool("maxpool")), **_ranked("AveragePooling", _pool("avgpool")),
    **_ranked("MaxPool", _pool("maxpool")), **_ranked("AvgPool", _pool("avgpool")),
    **_ranked("GlobalAveragePooling", _global("global_avgpool")),
    **_ranked("GlobalMaxPooling", _global("global_maxpool")),
    **_ranked("GlobalAvgPool", _global("global_avgpool")), **_ranked("GlobalMaxPool", _global("global_maxpool")),
    "ZeroPadding1D": _zero_pad_1d, "ZeroPadding2D": _zero_pad, "ZeroPadding3D": _zero_pad,
    "Cropping1D": _crop_1d, "Cropping2D": _crop, "Cropping3D": _crop,
    **_ranked("UpSampling", _upsample),
    "Add": _merge("add"), "Multiply": _merge("multiply"), "Subtract": _merge("subtract"),
    "Maximum": _merge("maximum"), "Minimum": _merge("minimum"), "Average": _merge("average"),
    "Concatenate": _concat, "Flatten": _flatten, "Reshape": _reshape, "Permute": _permute,
    "Dropout": _dropout, **_ranked("SpatialDropout", _dropout), "GaussianDropout": _dropout,
    "AlphaDropout": _dropout, "GaussianNoise": _identity, "ActivityRegularization": _identity,
    "Identity": _identity, "Rescaling": _rescaling, "Normalization": _normalization,
    "Embedding": _embedding, "MultiHeadAttention": _attention,
    "LayerScale": _layer_scale, "StochasticDepth": _identity, "CustomScaleLayer": _custom_scale,
}

#: spec layer types no Keras class above becomes, and why (tests/test_interop_coverage.py checks that every
#: other type is made by one of them)
UNSUPPORTED: dict[str, str] = {
    "adaptive_avgpool": "not read yet: Keras 3's AdaptiveAveragePooling1D-3D (recent releases) have no rule here",
    "adaptive_maxpool": "not read yet: Keras 3's AdaptiveMaxPooling1D-3D (recent releases) have no rule here",
    "clip": "not read yet: Keras has no clip layer, and ReLU(max_value=…) other than 6 has no rule here",
    "channel_shuffle": "Keras has no channel-shuffle layer (ShuffleNet writes it as Reshape, Permute, Reshape)",
    "class_token": "Keras has no class-token layer (a ViT defines its own: a custom object, refused)",
    "lrn": "Keras has no local response normalisation layer",
    "normalize": "Keras has no min-max normalisation layer (UnitNormalization divides by the L2 norm)",
    "window_attention": "Keras has no window-attention layer (Swin in Keras is custom layers: refused)",
    "window_attention_v2": "Keras has no window-attention layer (Swin V2 in Keras is custom layers: refused)",
    "pixel_shuffle": "Keras has no pixel-shuffle layer (tf.nn.depth_to_space in a Lambda is code, refused)",
    "pixel_unshuffle": "Keras has no pixel-unshuffle layer (tf.nn.space_to_depth in a Lambda is code, refused)",
    "position_embedding": "Keras has no position-embedding layer (KerasHub's is a custom object, refused)",
    "selu": "not read yet: Keras's \"selu\" activation has no rule here",
    "slice": "Keras has no slice layer: a slice is tensor indexing (an operation, not a layer class) or a Lambda",
}


# ---------------------------------------------------------------- weights


def _archive_weights(data: bytes, importer: _Importer) -> dict[str, np.ndarray]:
    """The variables of ``model.weights.h5`` under the spec names of the layers they belong to."""
    try:
        import h5py  # type: ignore[import-untyped,import-not-found]  # an optional extra, untyped
    except ImportError:
        raise KerasImportError("reading the weights of a .keras archive needs h5py",
                               hint="pip install 'cnncalc[keras]' (or pip install h5py)") from None
    raw = _archive_member(data, "model.weights.h5", MAX_H5_BYTES)
    reader = _H5Reader(h5py, min(MAX_H5_OBJECTS, H5_OBJECTS_PER_LAYER * (importer.keras_layers + 1)))
    try:
        with h5py.File(io.BytesIO(raw), "r") as h5:
            found: dict[str, list[np.ndarray]] = {}
            reader.layers(h5, "", found, 0)
    except CnnCalcError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError) as error:
        # what h5py raises on a cut or corrupted file
        where = f" (at {reader.where})" if reader.where else ""
        detail = " ".join(str(error).split())[:300]  # one line, whatever the HDF5 library wrote
        raise KerasImportError(f"bad model.weights.h5{where}: {detail}") from None
    out: dict[str, np.ndarray] = {}
    for name, (class_name, config, made) in importer.made.items():
        arrays = found.pop(name, [])
        try:
            out.update(_layer_weights(class_name, config, made, arrays))
        except CnnCalcError as error:
            raise error.with_context(layer=name) from None
    if found:
        name = next(iter(found))
        raise KerasImportError("model.weights.h5 holds variables of a layer the config does not have",
                               layer=name, expected=", ".join(sorted(importer.made))[:200])
    return out


class _H5Reader:
    """Walks ``layers/<group>/vars`` (a group's ``vars`` names its layer), nested models below.

    Keras writes a tree. Hard links can make a few groups look like a tree of 2^depth paths (20 levels of
    groups each linking twice to the next hung the import), so each group and array is entered once, known
    by its address in the file, and a second way to the same object is refused.
    """

    def __init__(self, h5py: Any, limit: int) -> None:
        self.h5py = h5py
        self.limit = limit  # groups and arrays entered
        self.total = 0
        self.elements = 0
        self.where = ""
        self.seen: set[int] = set()

    def child(self, group: Any, key: str, depth: int) -> Any:
        """``group[key]``, ``depth`` links below the root."""
        link = group.get(key, getlink=True)
        if not isinstance(link, self.h5py.HardLink):  # soft and external links would read elsewhere
            raise KerasImportError(f"model.weights.h5 has a link at '{group.name}/{key}'",
                                   expected="plain groups and datasets as Keras writes them")
        if depth > MAX_H5_DEPTH:
            raise KerasImportError(f"model.weights.h5 nested more than {MAX_H5_DEPTH} groups deep")
        node = group[key]
        self.enter(node, f"{group.name.rstrip('/')}/{key}")
        return node

    def enter(self, node: Any, path: str) -> None:
        address = self.h5py.h5o.get_info(node.id).addr
        if address in self.seen:
            raise KerasImportError(f"model.weights.h5 reaches one object twice (again at '{path}')",
                                   expected="a tree of groups and datasets as Keras writes it")
        self.seen.add(address)
        if len(self.seen) > self.limit:
            raise self.too_many()

    def keys(self, group: Any, entered: int = 0) -> list[str]:
        """The names in ``group``, each to be entered but ``entered`` of them: counted before they are listed,
        as a group may hold millions of links that cost a few bytes each."""
        if len(group) - entered > self.limit - len(self.seen):
            raise self.too_many(got=f"{len(group):,} in '{group.name}'")
        return list(group)

    def too_many(self, **got: Any) -> KerasImportError:
        return KerasImportError(f"model.weights.h5 has more than {self.limit:,} groups and arrays", **got,
                                expected=f"at most {H5_OBJECTS_PER_LAYER} for each layer of the config and "
                                         f"{MAX_H5_OBJECTS:,} in all")

    def layers(self, group: Any, scope: str, found: dict[str, list[np.ndarray]], depth: int) -> None:
        """The layers below ``group``, itself ``depth`` links below the root."""
        if depth == 0:
            self.enter(group, "/")
        if "layers" not in group:
            return
        layers = self.child(group, "layers", depth + 1)
        if len(layers) > MAX_KERAS_LAYERS:
            raise KerasImportError(f"model.weights.h5 has too many layers ({len(layers):,})")
        for key in self.keys(layers):
            node = self.child(layers, key, depth + 2)
            if not isinstance(node, self.h5py.Group):
                raise KerasImportError(f"model.weights.h5: '{node.name}' is not a group")
            own = self.child(node, "vars", depth + 3) if "vars" in node else None
            scoped = _join(scope, self.name(own, key))
            if "layers" in node:  # a nested model
                self.layers(node, scoped, found, depth + 2)
                continue
            arrays: list[np.ndarray] = []
            self.variables(node, own, arrays, depth + 2)
            if arrays:
                found[scoped] = arrays

    @staticmethod
    def name(own: Any, key: str) -> str:
        if own is None:
            return key
        name = own.attrs.get("name", key)
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        return str(name)

    def variables(self, node: Any, own: Any, out: list[np.ndarray], depth: int) -> None:
        """The layer's own ``vars/0..n`` (``own``), then its sublayers' (MultiHeadAttention's EinsumDense) by
        group name; ``node`` is ``depth`` links below the root."""
        if own is not None:
            keys = sorted(self.keys(own), key=lambda k: int(k) if k.isdigit() else -1)
            for key in keys:
                if not key.isdigit():
                    raise KerasImportError(f"model.weights.h5: unexpected variable '{own.name}/{key}'")
                out.append(self.array(self.child(own, key, depth + 2)))
        for key in self.keys(node, entered=own is not None):
            if key != "vars":
                sub = self.child(node, key, depth + 1)
                if isinstance(sub, self.h5py.Group):
                    mark = len(out)
                    sub_own = self.child(sub, "vars", depth + 2) if "vars" in sub else None
                    self.variables(sub, sub_own, out, depth + 1)
                    for i in range(mark, len(out)):  # remember which sublayer each variable came from
                        out[i] = _Tagged.tag(out[i], key)

    def array(self, dataset: Any) -> np.ndarray:
        self.where = dataset.name
        if not isinstance(dataset, self.h5py.Dataset) or dataset.shape is None:
            raise KerasImportError(f"model.weights.h5: '{dataset.name}' is not an array")
        if dataset.dtype.kind not in "fiub" or dataset.dtype.itemsize > 16:
            raise KerasImportError(f"model.weights.h5: '{dataset.name}' is not numeric", got=str(dataset.dtype))
        if dataset.is_virtual or dataset.id.get_create_plist().get_external_count():
            raise KerasImportError(f"model.weights.h5: '{dataset.name}' reads data outside the file")
        elements = int(np.prod(dataset.shape, dtype=object))  # Python ints: a declared shape may overflow int64
        self.total += elements * dataset.dtype.itemsize
        self.elements += elements
        if self.total > MAX_WEIGHTS_BYTES:
            raise KerasImportError(f"model.weights.h5 declares more than {MAX_WEIGHTS_BYTES:,} bytes of arrays",
                                   got=f"'{dataset.name}' of shape {tuple(dataset.shape)}")
        if self.elements > MAX_WEIGHTS_ELEMENTS:
            raise KerasImportError(f"model.weights.h5 declares more than {MAX_WEIGHTS_ELEMENTS:,} numbers "
                                   f"({MAX_WEIGHTS_ELEMENTS * 8:,} bytes once read as float64)",
                                   got=f"'{dataset.name}' of shape {tuple(dataset.shape)}, {dataset.dtype}")
        return np.asarray(dataset[()], dtype=np.float64)


class _Tagged(np.ndarray):
    """An array that remembers the sublayer group it was read from."""

    group = ""

    @staticmethod
    def tag(array: np.ndarray, group: str) -> np.ndarray:
        if isinstance(array, _Tagged) and array.group:
            return array
        out = array.view(_Tagged)
        out.group = group
        return out


def _expect(arrays: list[np.ndarray], names: list[str], layer: str) -> list[np.ndarray]:
    if len(arrays) != len(names):
        raise KerasImportError(f"{layer}: the layer has {len(arrays)} variables in model.weights.h5",
                               expected=f"{len(names)} ({', '.join(names) or 'none'})")
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _layer_weights(class_name: str, config: dict[str, Any], made: list[dict[str, Any]],
                   arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Keras variables of one layer → ``<spec layer>.<part>``; a variable the rule does not know is an error."""
    target = made[0]
    name, kind = target["name"], target["type"]
    bias = ["bias"] if target.get("bias", True) else []
    center = ["beta"] if config.get("center", True) else []
    scale = ["gamma"] if config.get("scale", True) else []
    if kind == "embedding":
        return {f"{name}.weight": _expect(arrays, ["embeddings"], class_name)[0]}
    if kind == "layer_scale":
        return {f"{name}.weight": _expect(arrays, ["gamma"], class_name)[0].reshape(-1)}
    if kind == "prelu":
        return {f"{name}.weight": _expect(arrays, ["alpha"], class_name)[0].reshape(-1)}
    if kind in ("conv", "depthwise_conv", "dense"):
        got = _expect(arrays, ["kernel"] + bias, class_name)
        out = {f"{name}.weight": got[0]}
        if bias:
            out[f"{name}.bias"] = got[1]
        return out
    if kind == "separable_conv":
        got = _expect(arrays, ["depthwise_kernel", "pointwise_kernel"] + bias, class_name)
        out = {f"{name}.weight": got[0], f"{name}.pointwise_weight": got[1].reshape(got[1].shape[-2:])}
        if bias:
            out[f"{name}.bias"] = got[2]
        return out
    if kind == "conv_transpose":
        # Keras keeps [k..., filters, C_in]; the spec [k..., C_in, filters]
        got = _expect(arrays, ["kernel"] + bias, class_name)
        out = {f"{name}.weight": np.swapaxes(got[0], -1, -2)}
        if bias:
            out[f"{name}.bias"] = got[1]
        return out
    if kind == "batchnorm":
        if class_name in ("Rescaling", "CustomScaleLayer") or (class_name == "Normalization" and "mean" in target):
            return dict(zip([], _expect(arrays, [], class_name)))
        if class_name == "Normalization":
            mean, var, _count = _expect(arrays, ["mean", "variance", "count"], class_name)
            return {f"{name}.mean": mean.reshape(-1), f"{name}.var": var.reshape(-1)}
        parts = scale + center + ["moving_mean", "moving_variance"]
        keys = {"gamma": "gamma", "beta": "beta", "moving_mean": "mean", "moving_variance": "var"}
        return {f"{name}.{keys[p]}": a for p, a in zip(parts, _expect(arrays, parts, class_name))}
    if kind in ("layernorm", "groupnorm"):
        parts = scale + center
        return {f"{name}.{p}": a for p, a in zip(parts, _expect(arrays, parts, class_name))}
    if kind == "attention":
        groups = {"query_dense": "query", "key_dense": "key", "value_dense": "value", "output_dense": "output"}
        out = {}
        for array in arrays:
            group = getattr(array, "group", "")
            if group not in groups:
                raise KerasImportError(f"{class_name}: unknown variable group '{group or 'vars'}' in "
                                       "model.weights.h5", expected=", ".join(groups))
            part = "weight" if array.ndim == 3 else "bias"
            key = f"{name}.{groups[group]}.{part}"
            if key in out:
                raise KerasImportError(f"{class_name}: more variables than kernel and bias in '{group}'")
            out[key] = np.asarray(array, dtype=np.float64)
        return out
    return dict(zip([], _expect(arrays, [], class_name)))
