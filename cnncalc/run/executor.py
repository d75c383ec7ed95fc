"""Runs a network on real numbers with each layer type's NumPy kernel.

>>> import numpy as np
>>> from cnncalc import loads_spec
>>> net = loads_spec("input: [4, 4, 1]\\nlayers: [{type: maxpool, kernel: 2}]")
>>> run(net, np.arange(16.0).reshape(4, 4, 1)).output[..., 0]
array([[ 5.,  7.],
       [13., 15.]])
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..calc.analysis import LayerRecord, Summary, analyse
from ..errors import CnnCalcError, ExecutionError, did_you_mean
from ..layers.base import wrap_layer_error
from ..maths import arith
from ..spec.network import INPUT, Network

DEFAULT_MAX_MEMORY = 2 * 1024**3
MAX_INPUT_BYTES = 512 * 1024**2


@dataclass
class RunResult:
    summary: Summary
    outputs: dict[str, np.ndarray]  # every layer's output (and "input"), batched [N, ...]
    batched: bool  # whether the input had a batch axis

    @property
    def output(self) -> np.ndarray:
        """The last layer's output (without the batch axis if the input had none)."""
        last = self.outputs[self.summary.records[-1].name]
        return last if self.batched else last[0]

    def layer_output(self, name: str) -> np.ndarray:
        value = self.outputs[name]
        return value if self.batched else value[0]


# ---------------------------------------------------------------- weights


def load_weights_file(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays from an ``.npz`` file (``<layer>.weight``, ``<layer>.bias``, ...), never unpickled."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ExecutionError("weights must be an .npz archive of named arrays", file=str(path))
            return {key: np.asarray(data[key]) for key in data.files}
    except CnnCalcError:
        raise
    except (OSError, ValueError, EOFError) as error:
        raise ExecutionError(f"cannot read weights: {error}", file=str(path)) from None


def _layer_rng(seed: int, name: str) -> np.random.Generator:
    # per-layer stream: adding or renaming one layer leaves the others' weights unchanged
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _random_array(rng: np.random.Generator, key: str, shape: tuple[int, ...]) -> np.ndarray:
    if key in ("weight", "pointwise_weight"):
        fan_in = int(np.prod(shape[:-1])) or 1
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)  # He initialisation
    if key == "var":
        return rng.uniform(0.5, 1.5, size=shape)
    if key == "gamma":
        return 1.0 + 0.1 * rng.normal(size=shape)
    return 0.1 * rng.normal(size=shape)  # bias, beta, mean


def gather_weights(summary: Summary, weights: dict[str, np.ndarray] | None, seed: int | None,
                   dtype: Any) -> dict[str, dict[str, np.ndarray]]:
    """Every layer's arrays, from the file, inline in the spec, or seeded random; shapes checked."""
    network = summary.network
    weights = dict(weights or {})
    shapes = _input_shapes(summary)
    expected_keys = set()
    result: dict[str, dict[str, np.ndarray]] = {}
    for layer in network.layers:
        needed = layer.weight_shapes(shapes[layer.name])
        arrays: dict[str, np.ndarray] = {}
        for key, shape in needed.items():
            full_key = f"{layer.name}.{key}"
            expected_keys.add(full_key)
            inline = getattr(layer, key, None)
            if full_key in weights:
                value, origin = weights[full_key], "weights file"
            elif isinstance(inline, list):
                value, origin = np.asarray(inline, dtype=float), "spec"
            elif seed is not None:
                value, origin = _random_array(_layer_rng(seed, layer.name), key, shape), "seed"
            else:
                raise ExecutionError(f"no value for '{full_key}', expected an array of shape {list(shape)}",
                                     layer=layer.name, index=layer.index, field=key,
                                     hint="give --weights FILE.npz, put it inline in the spec, or pass --seed N")
            if value.dtype.kind not in "biuf":
                raise ExecutionError(f"'{full_key}' must be numeric", layer=layer.name, index=layer.index,
                                     field=key, got=str(value.dtype), expected="numbers")
            if tuple(value.shape) != tuple(shape):
                raise ExecutionError(f"'{full_key}' from the {origin} has the wrong shape", layer=layer.name,
                                     index=layer.index, field=key, got=list(value.shape), expected=str(list(shape)))
            value = value.astype(dtype)
            if not np.all(np.isfinite(value)):
                raise ExecutionError(f"'{full_key}' holds NaN or infinite values", layer=layer.name,
                                     index=layer.index, field=key)
            if key == "var" and np.any(value < 0):
                raise ExecutionError(f"'{full_key}' has a negative variance", layer=layer.name, index=layer.index,
                                     field=key)
            arrays[key] = value
        result[layer.name] = arrays
    unused = sorted(set(weights) - expected_keys)
    if unused:
        raise ExecutionError(f"weights file has an array no layer uses: '{unused[0]}'",
                             hint=did_you_mean(unused[0], expected_keys) or "keys are '<layer>.weight', '<layer>.bias', …")
    return result


def _input_shapes(summary: Summary) -> dict[str, list[tuple]]:
    shapes: dict[str, tuple] = {INPUT: summary.input_shape}
    for record in summary.records:
        shapes[record.name] = record.output_shape
    return {r.name: [shapes[s] for s in r.inputs] for r in summary.records}


# ---------------------------------------------------------------- input


def prepare_input(network: Network, x: Any, dtype: Any = np.float64) -> tuple[Network, np.ndarray, bool]:
    """Check the input against the spec (binding symbolic sizes); returns a batched array."""
    try:
        array = np.asarray(x)
    except (ValueError, TypeError):
        raise ExecutionError("the input is not a rectangular array of numbers") from None
    if array.dtype.kind not in "biuf":
        raise ExecutionError("the input must hold numbers", got=str(array.dtype), expected="an integer or float array")
    if array.nbytes > MAX_INPUT_BYTES:
        raise ExecutionError(f"the input is too large ({array.nbytes:,} bytes, at most {MAX_INPUT_BYTES:,})")
    spec_shape = network.input_shape
    if array.ndim == len(spec_shape):
        batched, array = False, array[None]
    elif array.ndim == len(spec_shape) + 1:
        batched = True
    else:
        raise ExecutionError("the input has the wrong number of axes", got=list(array.shape),
                             expected=f"{_shape_text(spec_shape)} or [N, ...] with a batch axis")
    bound: dict[str, int] = {}
    for want, have in zip(spec_shape, array.shape[1:]):
        if arith.is_int(want):
            ok = want == have
        else:
            name = str(want)
            ok = bound.setdefault(name, have) == have if getattr(want, "is_Symbol", False) else False
        if not ok:
            raise ExecutionError("the input shape does not match the spec", got=list(array.shape[1:]),
                                 expected=_shape_text(spec_shape))
    if not np.all(np.isfinite(array)):
        raise ExecutionError("the input holds NaN or infinite values")
    if network.is_symbolic:
        network = dataclasses.replace(network, input_shape=tuple(int(d) for d in array.shape[1:]), symbols=())
    return network, array.astype(dtype, copy=False), batched


def _shape_text(shape: tuple) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


# ---------------------------------------------------------------- memory guard


def largest_intermediate(summary: Summary, batch: int, itemsize: int) -> tuple[int, str]:
    """Bytes of the largest array a layer allocates: its output, or the window copy a conv makes."""
    network = summary.network
    worst, where = batch * int(arith.product(summary.input_shape)) * itemsize, INPUT
    shapes = _input_shapes(summary)
    for record in summary.records:
        layer = network.layers[record.index - 1]
        size = max(int(record.size), layer.scratch_size(shapes[record.name], record.output_shape))
        if size * batch * itemsize > worst:
            worst, where = size * batch * itemsize, record.name
    return worst, where


# ---------------------------------------------------------------- the forward pass


def run(network: Network, x: Any, weights: dict[str, np.ndarray] | None = None, seed: int | None = None,
        max_memory: int = DEFAULT_MAX_MEMORY, dtype: Any = np.float64) -> RunResult:
    """Forward pass of the whole network; every layer's output is kept (for --trace and grading)."""
    network, array, batched = prepare_input(network, x, dtype)
    summary = analyse(network)
    itemsize = np.dtype(dtype).itemsize
    need, where = largest_intermediate(summary, array.shape[0], itemsize)
    if need > max_memory:
        raise ExecutionError(f"layer '{where}' would allocate about {need / 1024**2:,.0f} MiB",
                             expected=f"at most --max-memory = {max_memory / 1024**2:,.0f} MiB",
                             got=f"{need / 1024**2:,.0f} MiB", hint="use a smaller batch or raise --max-memory")
    arrays = gather_weights(summary, weights, seed, dtype)
    values: dict[str, np.ndarray] = {INPUT: array}
    records: dict[str, LayerRecord] = {r.name: r for r in summary.records}
    for position in network.order:
        layer = network.layers[position]
        record = records[layer.name]
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                out = layer.forward([values[s] for s in layer.inputs], arrays[layer.name],
                                    tuple(int(d) for d in record.output_shape))
        except CnnCalcError as error:
            raise wrap_layer_error(error, layer) from None
        expected = (array.shape[0], *(int(d) for d in record.output_shape))
        if out.shape != expected:  # the calculator and the kernel must agree; this is a bug if not
            raise ExecutionError(f"internal shape mismatch: kernel gave {list(out.shape)}",
                                 layer=layer.name, index=layer.index, expected=str(list(expected)),
                                 got=list(out.shape))
        values[layer.name] = np.ascontiguousarray(out, dtype=dtype)
    return RunResult(summary, values, batched)  # values["input"] is the (batched) input itself


# ---------------------------------------------------------------- files


def load_input_file(path: str | Path) -> np.ndarray:
    """An input array from ``.npy`` (never unpickled), YAML/JSON nested lists, or an image (Pillow)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            raise ExecutionError(f"cannot read the input array: {error}", file=str(path)) from None
    if suffix in (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"):
        from .images import read_image

        return read_image(path)
    from ..spec import safeload

    data = safeload.load_file(path)
    if isinstance(data, dict) and "input" in data:
        data = data["input"]
    return _nested_numbers(data, str(path))


def _nested_numbers(data: Any, source: str) -> np.ndarray:
    def check(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                check(item)
        elif isinstance(node, bool) or not isinstance(node, (int, float)):
            raise ExecutionError("the input must be nested lists of numbers", file=source, got=node,
                                 expected="a number")

    check(data)
    try:
        array = np.array(data, dtype=float)
    except ValueError:
        raise ExecutionError("the input lists are not rectangular", file=source) from None
    if array.ndim == 0:
        raise ExecutionError("the input must be nested lists of numbers", file=source, got=data,
                             expected="[H, W, C] nested lists")
    return array


def compact(array: np.ndarray, limit: int = 64) -> str:
    """A small array in full (2-D maps channel by channel), a large one as shape and statistics."""
    if array.size <= limit or (array.ndim == 3 and array.shape[0] * array.shape[1] <= limit):
        if array.ndim == 3:
            parts = []
            for c in range(array.shape[2]):
                parts.append(f"[:, :, {c}]\n" + _grid(array[:, :, c]))
            return "\n".join(parts)
        return _grid(array)
    return (f"shape {list(array.shape)}, min {array.min():.6g}, max {array.max():.6g}, "
            f"mean {array.mean():.6g}")


def _grid(array: np.ndarray) -> str:
    with np.printoptions(precision=6, suppress=True, linewidth=120):
        text = np.array2string(np.where(array == 0, 0.0, array))  # no "-0."
    return text
