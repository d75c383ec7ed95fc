"""`cnncalc run` as one library function: :func:`run_files` reads the spec, the input and the weights,
runs the reference executor, writes what was asked for (the output, a grid of feature maps) and returns a
:class:`RunReport` that the CLI only prints. (``cnncalc.run(network, x)`` is the executor itself, on
arrays already in memory.)

>>> import os, tempfile
>>> x = os.path.join(tempfile.mkdtemp(), "x.npy")
>>> np.save(x, np.ones((32, 32, 3)))
>>> report = run_files("lenet5", x, seed=0)
>>> report.output.shape
(10,)
>>> print(report.text().splitlines()[0])
output [10]
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..arguments import one_or_many
from ..errors import CnnCalcError, did_you_mean
from ..outputs import check_output, write_output
from ..spec.network import Network, load_spec, with_input
from .executor import MAX_SEED, RunResult, check_seed, compact
from .executor import run as execute
from .files import DEFAULT_MAX_MEMORY, load_input_file, load_weights_file
from .images import save_maps

OUTPUT_SUFFIXES = (".npy", ".json")
MAPS_SUFFIXES = (".png", ".jpg", ".jpeg")
WEIGHTS_SUFFIXES = (".npz",)


@dataclass
class SavedMaps:
    """A grid of one layer's feature maps, written as an image."""

    layer: str
    count: int
    rows: int
    columns: int
    path: str

    def note(self) -> str:
        return f"saved {self.count} maps of '{self.layer}' as a {self.rows}×{self.columns} grid: {self.path}"


@dataclass
class RunReport:
    """What one `run` computed (``result``: every layer's output) and wrote."""

    result: RunResult
    input_shape: tuple[int, ...]
    maps: SavedMaps | None = None
    written: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the layers --lenient passed through

    @property
    def output(self) -> np.ndarray:
        return self.result.output

    def document(self, trace: bool = False) -> dict[str, Any]:
        """The `--format json` document (with ``trace``, every layer's output too)."""
        final = self.result.output
        data: dict[str, Any] = {"output_shape": list(final.shape), "output": json_values(final)}
        if trace:
            data["trace"] = [{"index": r.index, "name": r.name, "type": r.type,
                              "output_shape": list(self.result.layer_output(r.name).shape),
                              "output": json_values(self.result.layer_output(r.name))}
                             for r in self.result.summary.records]
        return data

    def json(self, trace: bool = False) -> str:
        return json.dumps(self.document(trace), allow_nan=False)

    def text(self, trace: bool = False) -> str:
        """The output's shape and values (with ``trace``, every layer's), as `cnncalc run` prints them."""
        if not trace:
            final = self.result.output
            return f"output {list(final.shape)}\n{compact(final)}\n"
        lines = [f"input {list(self.input_shape)}"]
        for record in self.result.summary.records:
            value = self.result.layer_output(record.name)
            lines.append(f"{record.index:>3} {record.name} ({record.type}) → {list(value.shape)}")
            lines.append("    " + compact(value).replace("\n", "\n    "))
        return "".join(f"{line}\n" for line in lines)


def run_files(spec: str | Network, input: str, *, weights: str | None = None, seed: int | None = None,
              output: str | None = None, max_memory: int = DEFAULT_MAX_MEMORY, dtype: str = "float64",
              save_maps: str | None = None, maps_layer: str | None = None,
              progress: Callable[[int, int, str], None] | None = None,
              input_shape: str | Sequence[str] | None = None, save_weights: str | None = None,
              arrays: Mapping[str, Any] | None = None, source: str | None = None) -> RunReport:
    """Run a spec (a path, a built-in name or a Network) on an input file, as `cnncalc run`.

    ``input``: ``.npy``, YAML/JSON nested lists, or an image; ``weights``: an ``.npz``; ``seed`` fills
    the weights neither gives; ``max_memory`` (bytes) caps the files read and every layer's output.
    ``output`` (``.npy`` or ``.json``) gets the final output, ``save_maps`` (``.png``, ``.jpg``) a grid
    of ``maps_layer``'s feature maps (default: the last layer with an ``[H, W, C]`` output). Every output
    path is checked before any work; ``progress(step, total, layer)`` is called as layers run.
    ``input_shape`` (``"160,160,3"``, as `--input-shape`) replaces the spec's input shape; ``save_weights``
    (``.npz``) gets every weight array the run used (seeded ones included), in the layout ``weights`` reads.
    ``arrays``: weights already in memory (a model file's own), used when ``weights`` is not given;
    ``source``: the file a Network ``spec`` was read from, never written over.
    """
    inputs: list[str | None] = [spec if isinstance(spec, str) else source, input, weights]
    if output:
        check_output_path(output, OUTPUT_SUFFIXES, "--output", inputs)
    if save_maps:
        check_output_path(save_maps, MAPS_SUFFIXES, "--save-maps", [*inputs, output])
    elif maps_layer is not None:
        raise CnnCalcError("--maps-layer needs --save-maps FILE.png")
    if save_weights:
        check_output_path(save_weights, WEIGHTS_SUFFIXES, "--save-weights", [*inputs, output, save_maps])
    network = with_input(spec if isinstance(spec, Network) else load_spec(spec), one_or_many(input_shape))
    names = [layer.name for layer in network.layers]
    if maps_layer is not None and maps_layer not in names:
        raise CnnCalcError("--maps-layer names no layer of the spec", got=maps_layer,
                           expected="a layer name", hint=did_you_mean(maps_layer, names))
    x = load_input_file(input, max_memory)
    own = load_weights_file(weights, max_memory) if weights else None if arrays is None else dict(arrays)
    result = execute(network, x, own, seed=seed, max_memory=max_memory, dtype=dtype, progress=progress)
    report = RunReport(result, tuple(np.shape(x)))
    if save_maps:
        report.maps = _save_feature_maps(result, save_maps, maps_layer, [*inputs, output])
        report.written.append(save_maps)
    if output:
        _write_output(output, result.output, inputs)
        report.written.append(output)
    if save_weights:
        save_weight_arrays(save_weights, result.weights, inputs)
        report.written.append(save_weights)
    return report


def save_weight_arrays(path: str, weights: dict[str, dict[str, np.ndarray]],
                       inputs: Sequence[str | None] = ()) -> None:
    """The arrays a run used, as an ``.npz`` with keys ``<layer>.<key>``: what ``--weights`` reads back."""
    arrays = {f"{layer}.{key}": value for layer, parts in weights.items() for key, value in parts.items()}
    save: Any = np.savez  # keys are layer names: typed as savez's keyword arguments, they are not
    write_output(path, lambda handle: save(handle, **arrays), inputs=inputs)


def parse_seed(text: str) -> int:
    """A seed given as text (`--seed`): digits only, read as text first, so that a 5,000-digit seed gets one
    short message, not an echo.

    >>> parse_seed(" 42 ")
    42
    """
    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > len(str(MAX_SEED)):
        raise CnnCalcError("bad --seed", got=text[:40] + ("…" if len(text) > 40 else ""),
                           expected=f"an integer from 0 to {MAX_SEED:,} (2**63 − 1)")
    value = int(cleaned)
    check_seed(value)
    return value


def check_output_path(path: str, suffixes: tuple[str, ...], option: str, inputs: Sequence[str | None]) -> None:
    """Refuse an output path before any work: a known extension, not a folder, its folder present, and
    what every output must be (see cnncalc.outputs)."""
    if not path.lower().endswith(suffixes):
        raise CnnCalcError(f"{option} must end in " + " or ".join(suffixes), got=path,
                           expected="a file name such as OUT" + suffixes[0])
    if os.path.isdir(path):
        raise CnnCalcError(f"{option} names a folder", file=path, expected="a file name such as OUT" + suffixes[0],
                           got=path)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise CnnCalcError(f"{option}: the folder does not exist", file=path, got=folder,
                           expected="an existing folder")
    check_output(path, inputs)


def json_values(array: Any) -> Any:
    """Nested lists for JSON; NaN and infinities (overflow in a layer) become null: JSON has no such numbers."""
    if np.all(np.isfinite(array)):
        return array.tolist()
    shown: Any = np.where(np.isfinite(array), array, None)
    return shown.tolist()


def _write_output(path: str, array: Any, inputs: Sequence[str | None]) -> None:
    if path.lower().endswith(".json"):
        write_output(path, json.dumps(json_values(array), allow_nan=False), inputs=inputs)
    else:  # a file object: numpy would append ".npy" to a name
        write_output(path, lambda handle: np.save(handle, array, allow_pickle=False), inputs=inputs)


def _save_feature_maps(result: RunResult, path: str, layer: str | None, inputs: Sequence[str | None]) -> SavedMaps:
    names = [r.name for r in result.summary.records if len(r.output_shape) == 3]
    if layer is None:
        if not names:
            raise CnnCalcError("no layer has an [H, W, C] output to draw")
        layer = names[-1]
    elif layer not in names:
        if not names:
            raise CnnCalcError("--maps-layer: no layer has an [H, W, C] output to draw", got=layer,
                               expected="a layer with an [H, W, C] output")
        raise CnnCalcError("--maps-layer must name a layer with an [H, W, C] output", got=layer,
                           expected="one of " + ", ".join(names[:8]), hint=did_you_mean(layer, names))
    maps = result.layer_output(layer)
    if maps.ndim == 4:
        maps = maps[0]
    rows, columns = save_maps(maps, path, inputs=inputs)
    return SavedMaps(layer, maps.shape[2], rows, columns, path)
