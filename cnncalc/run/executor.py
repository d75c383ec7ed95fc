"""Runs a network on real numbers with each layer type's NumPy kernel.

>>> import numpy as np
>>> from cnncalc import loads_spec
>>> net = loads_spec("input: [4, 4, 1]\\nlayers: [{type: maxpool, kernel: 2}]")
>>> run(net, np.arange(16.0).reshape(4, 4, 1)).output[..., 0]
array([[ 5.,  7.],
       [13., 15.]])
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..calc.analysis import LayerRecord, Summary, analyse
from ..errors import CnnCalcError, ExecutionError, did_you_mean
from ..layers.base import wrap_layer_error
from ..maths import arith
from ..spec.network import INPUT, Network
from .files import DEFAULT_MAX_MEMORY, human_bytes, load_input_file, load_weights_file

__all__ = ["MAX_SEED", "SEED_CHUNK", "RunResult", "check_memory", "check_seed", "compact", "gather_weights",
           "load_input_file", "load_weights_file", "memory_parts", "prepare_input", "run", "seeded_array",
           "seeded_weights"]

MAX_INPUT_BYTES = 512 * 1024**2


@dataclass
class RunResult:
    summary: Summary
    outputs: dict[str, np.ndarray]  # every layer's output (and "input"), batched [N, ...]
    batched: bool  # whether the input had a batch axis
    #: every layer's weight arrays as the run used them (file, spec or seeded), by layer and key
    weights: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def output(self) -> np.ndarray:
        """The last layer's output (without the batch axis if the input had none)."""
        last = self.outputs[self.summary.records[-1].name]
        return last if self.batched else last[0]

    def layer_output(self, name: str) -> np.ndarray:
        value = self.outputs[name]
        return value if self.batched else value[0]


# ---------------------------------------------------------------- weights


MAX_SEED = 2**63 - 1


def check_seed(seed: int | None) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or not 0 <= seed <= MAX_SEED):
        raise ExecutionError("bad --seed", got=seed, expected=f"an integer from 0 to {MAX_SEED:,} (2**63 − 1)")


# Seeded weights: each (layer, array, chunk) has its own stream, so renaming one layer leaves the others'
# weights alone, and a large array is filled in parallel, chunk by chunk, with values that depend on neither
# the thread count nor the dtype (float32 gets the float64 values rounded).
SEED_CHUNK = 1 << 20


def _stream(seed: int, layer: str, key: str, chunk: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(layer.encode()), zlib.crc32(key.encode()), chunk])


def _distribution(key: str, shape: tuple[int, ...]) -> tuple[str, float, float]:
    """(normal or uniform, scale, shift) of a seeded array."""
    if key in ("weight", "pointwise_weight"):
        fan_in = math.prod(shape[:-1]) or 1
        return "normal", math.sqrt(2.0 / fan_in), 0.0  # He initialisation
    if key == "var":
        return "uniform", 1.0, 0.5  # in [0.5, 1.5)
    if key == "gamma":
        return "normal", 0.1, 1.0
    return "normal", 0.1, 0.0  # bias, beta, mean


def seeded_array(seed: int, layer: str, key: str, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """One seeded array (see :func:`seeded_weights`)."""
    return seeded_weights(seed, [(layer, key, shape)], dtype)[(layer, key)]


def seeded_weights(seed: int, wanted: list[tuple[str, str, tuple[int, ...]]], dtype: Any = np.float64,
                   threads: int | None = None) -> dict[tuple[str, str], np.ndarray]:
    """Seeded random arrays, written straight into arrays of ``dtype`` (no full-size temporaries)."""
    import os

    dtype = np.dtype(dtype)
    arrays: dict[tuple[str, str], np.ndarray] = {}
    tasks: list[tuple[str, str, np.ndarray, int, tuple[str, float, float]]] = []
    for layer, key, shape in wanted:
        array = np.empty(tuple(int(d) for d in shape), dtype=dtype)
        arrays[(layer, key)] = array
        flat = array.reshape(-1)
        rule = _distribution(key, tuple(array.shape))
        for chunk, start in enumerate(range(0, flat.size, SEED_CHUNK)):
            tasks.append((layer, key, flat[start: start + SEED_CHUNK], chunk, rule))

    def fill(task: tuple[str, str, np.ndarray, int, tuple[str, float, float]]) -> None:
        layer, key, part, chunk, (kind, scale, shift) = task
        target = part if part.dtype == np.float64 else np.empty(part.size)
        rng = _stream(seed, layer, key, chunk)
        if kind == "normal":
            rng.standard_normal(out=target)
        else:
            rng.random(out=target)
        if scale != 1.0:
            target *= scale
        if shift:
            target += shift
        if target is not part:
            part[...] = target

    threads = threads or min(8, os.cpu_count() or 1)
    if threads > 1 and len(tasks) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:  # numpy's generators release the GIL while filling
            list(pool.map(fill, tasks))
    else:
        for task in tasks:
            fill(task)
    return arrays


def gather_weights(summary: Summary, weights: dict[str, np.ndarray] | None, seed: int | None,
                   dtype: Any) -> dict[str, dict[str, np.ndarray]]:
    """Every layer's arrays, from the file, inline in the spec, or seeded random; shapes checked."""
    network = summary.network
    weights = dict(weights or {})
    shapes = _input_shapes(summary)
    expected_keys = set()
    result: dict[str, dict[str, np.ndarray]] = {}
    to_seed: list[tuple[str, str, tuple[int, ...]]] = []
    for layer in network.layers:
        needed = layer.weight_shapes(shapes[layer.name])
        arrays: dict[str, np.ndarray] = {}
        for key, shape in needed.items():
            full_key = f"{layer.name}.{key}"
            expected_keys.add(full_key)
            inline = getattr(layer, key, None)
            if full_key in weights:
                value, origin = np.asarray(weights[full_key]), "weights file"
            elif isinstance(inline, list):
                value, origin = np.asarray(inline, dtype=float), "spec"
            elif seed is not None:
                to_seed.append((layer.name, key, tuple(int(d) for d in shape)))  # finite by construction
                continue
            else:
                raise ExecutionError(f"no value for '{full_key}', expected an array of shape {list(shape)}",
                                     layer=layer.name, index=layer.index, field=key,
                                     hint="give --weights FILE.npz, put it inline in the spec, or pass --seed N")
            if value.dtype.kind not in "iuf":
                raise ExecutionError(f"'{full_key}' must be numeric", layer=layer.name, index=layer.index,
                                     field=key, got=str(value.dtype), expected="integers or floats")
            if tuple(value.shape) != tuple(shape):
                raise ExecutionError(f"'{full_key}' from the {origin} has the wrong shape", layer=layer.name,
                                     index=layer.index, field=key, got=list(value.shape), expected=str(list(shape)))
            with np.errstate(over="ignore"):
                converted = value.astype(dtype, copy=False)
            if not np.all(np.isfinite(converted)):
                overflow = value.dtype.kind in "iu" or bool(np.all(np.isfinite(value)))
                raise ExecutionError(f"'{full_key}' holds " + (f"values too large for {np.dtype(dtype).name}"
                                                              if overflow else "NaN or infinite values"),
                                     layer=layer.name, index=layer.index, field=key,
                                     hint="use --dtype float64" if overflow else None)
            value = converted
            if key == "var" and np.any(value < 0):
                raise ExecutionError(f"'{full_key}' has a negative variance", layer=layer.name, index=layer.index,
                                     field=key)
            arrays[key] = value
        result[layer.name] = arrays
    unused = sorted(set(weights) - expected_keys)
    if unused:
        raise ExecutionError(f"weights file has an array no layer uses: '{unused[0][:100]}'",
                             hint=did_you_mean(unused[0], expected_keys) or "keys are '<layer>.weight', '<layer>.bias', …")
    if to_seed:
        assert seed is not None
        for (name, key), value in seeded_weights(seed, to_seed, dtype).items():
            result[name][key] = value
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
    except (ValueError, TypeError, OverflowError):
        raise ExecutionError("the input is not a rectangular array of numbers") from None
    if array.dtype.kind not in "iuf":
        raise ExecutionError("the input must hold numbers", got=str(array.dtype),
                             expected="an integer or float array (no booleans, strings or objects)")
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
    if array.shape[0] == 0:
        raise ExecutionError("the input batch is empty", got=list(array.shape),
                             expected=f"[N, ...] with N ≥ 1, or one sample {_shape_text(spec_shape)}")
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
    if 0 in array.shape:
        raise ExecutionError("the input has an axis of length 0", got=list(array.shape[1:]),
                             expected="every axis at least 1")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ExecutionError("the input holds NaN or infinite values")
    if network.is_symbolic:
        network = network.replace(input_shape=tuple(int(d) for d in array.shape[1:]), symbols=())
    with np.errstate(over="ignore"):
        converted = array.astype(dtype, copy=False)
    if converted is not array and not np.all(np.isfinite(converted)):
        raise ExecutionError(f"the input holds values too large for {np.dtype(dtype).name}",
                             got=f"up to {float(np.max(np.abs(array))):.3g}",
                             expected=f"magnitudes below {float(np.finfo(dtype).max):.3g}", hint="use --dtype float64")
    return network, converted, batched


def _shape_text(shape: tuple) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


# ---------------------------------------------------------------- memory guard


def memory_parts(summary: Summary, batch: int, itemsize: int) -> list[tuple[int, str]]:
    """What a run holds at its peak, in bytes, part by part: the input, every layer's output (all are
    kept, for --trace and grading), every weight array, and the largest working copy one kernel makes."""
    network = summary.network
    parts = [(batch * int(arith.product(summary.input_shape)) * itemsize,
              f"the input {_shape_text(tuple(summary.input_shape))}")]
    shapes = _input_shapes(summary)
    scratch = (0, "")
    for record in summary.records:
        layer = network.layers[record.index - 1]
        where = f"layer {record.index} '{record.name}'"
        parts.append((int(record.size) * batch * itemsize, f"{where} output {_shape_text(record.output_shape)}"))
        extra = layer.scratch_size(shapes[record.name], record.output_shape) * batch * itemsize
        if extra > scratch[0]:
            scratch = (extra, f"{where} working copy")
        for key, shape in layer.weight_shapes(shapes[record.name]).items():
            parts.append((math.prod(int(d) for d in shape) * itemsize, f"{where} {key} {list(shape)}"))
    parts.append(scratch)
    return parts


def check_memory(summary: Summary, batch: int, itemsize: int, max_memory: int) -> None:
    """Refuse, before anything is allocated, a run whose arrays would exceed ``max_memory`` bytes."""
    parts = memory_parts(summary, batch, itemsize)
    need = sum(size for size, _ in parts)
    if need > max_memory:
        size, what = max(parts)
        raise ExecutionError(f"the run would allocate about {human_bytes(need)}; the largest part is {what}: "
                             f"{human_bytes(size)}", got=human_bytes(need),
                             expected=f"at most --max-memory = {human_bytes(max_memory)}",
                             hint="use a smaller input or batch, --dtype float32, or raise --max-memory")


# ---------------------------------------------------------------- the forward pass


def run(network: Network, x: Any, weights: dict[str, np.ndarray] | None = None, seed: int | None = None,
        max_memory: int = DEFAULT_MAX_MEMORY, dtype: Any = np.float64,
        progress: Callable[[int, int, str], None] | None = None, summary: Summary | None = None) -> RunResult:
    """Forward pass of the whole network; every layer's output is kept (for --trace and grading).

    ``progress(i, n, name)`` is called before layer i of n runs. ``summary``: the network's analysis where
    the caller has made it (a network with numbers for sizes has one, whatever the input), not made again.
    """
    check_seed(seed)
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ExecutionError("bad dtype", got=str(dtype), expected="float32 or float64") from None
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ExecutionError("bad dtype", got=str(dtype), expected="float32 or float64")
    network, array, batched = prepare_input(network, x, dtype)
    if summary is None or summary.network is not network:
        summary = analyse(network)
    check_memory(summary, array.shape[0], dtype.itemsize, max_memory)
    arrays = gather_weights(summary, weights, seed, dtype)
    values: dict[str, np.ndarray] = {INPUT: array}
    records: dict[str, LayerRecord] = {r.name: r for r in summary.records}
    total = len(network.order)
    for step, position in enumerate(network.order, 1):
        layer = network.layers[position]
        if progress is not None:
            progress(step, total, layer.name)
        record = records[layer.name]
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                out = layer.forward([values[s] for s in layer.inputs], arrays[layer.name],
                                    tuple(int(d) for d in record.output_shape))
        except CnnCalcError as error:
            raise wrap_layer_error(error, layer).with_context(file=network.source) from None
        expected = (array.shape[0], *(int(d) for d in record.output_shape))
        if out.shape != expected:  # the calculator and the kernel must agree; this is a bug if not
            raise ExecutionError(f"internal shape mismatch: kernel gave {list(out.shape)}",
                                 layer=layer.name, index=layer.index, expected=str(list(expected)),
                                 got=list(out.shape))
        values[layer.name] = np.ascontiguousarray(out, dtype=dtype)
    return RunResult(summary, values, batched, arrays)  # values["input"] is the (batched) input itself


# ---------------------------------------------------------------- printing


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
