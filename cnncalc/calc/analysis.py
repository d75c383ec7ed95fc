"""Walks a network's DAG once: one record per layer (shape, size, params, MACs, receptive field) and totals."""

from __future__ import annotations

import math

from ..errors import CnnCalcError
from ..layers.base import AXIS_NAMES, Shape, wrap_layer_error
from ..maths import arith, budget
from ..records import Record
from ..spec.network import INPUT, Network
from ..spec.safeload import collector_paused

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any, TypeAlias

# Receptive field along one axis: (size, jump, start) in input pixels; None once spatial layout is gone.
AxisRF: TypeAlias = "tuple[Any, Any, Any]"


class LayerRecord(Record):
    _fields = ("index", "name", "type", "inputs", "output_shape", "size", "trainable", "non_trainable", "macs",
               "receptive_field", "explain", "dropped")
    index: int
    name: str
    type: str
    inputs: list[str]
    output_shape: Shape
    size: Any
    trainable: Any
    non_trainable: Any
    macs: Any
    receptive_field: list[AxisRF] | None
    explain: list[str]
    dropped: list[Any]  # pixels the floor leaves out, per sliding axis

    def __init__(self, index: int, name: str, type: str, inputs: list[str], output_shape: Shape, size: Any,
                 trainable: Any, non_trainable: Any, macs: Any, receptive_field: list[AxisRF] | None,
                 explain: list[str] | None = None, dropped: list[Any] | None = None) -> None:
        self.index = index
        self.name = name
        self.type = type
        self.inputs = inputs
        self.output_shape = output_shape
        self.size = size
        self.trainable = trainable
        self.non_trainable = non_trainable
        self.macs = macs
        self.receptive_field = receptive_field
        self.explain = [] if explain is None else explain
        self.dropped = [] if dropped is None else dropped

    @property
    def params(self) -> Any:
        return self.trainable + self.non_trainable


class Summary(Record):
    _fields = ("network", "records")
    network: Network
    records: list[LayerRecord]

    def __init__(self, network: Network, records: list[LayerRecord]) -> None:
        self.network = network
        self.records = records

    @property
    def name(self) -> str:
        return self.network.name

    @property
    def input_shape(self) -> Shape:
        return self.network.input_shape

    @property
    def input_size(self) -> Any:
        return arith.simplify(arith.product(self.network.input_shape))

    @property
    def trainable(self) -> Any:
        return sum(r.trainable for r in self.records)

    @property
    def non_trainable(self) -> Any:
        return sum(r.non_trainable for r in self.records)

    @property
    def params(self) -> Any:
        return self.trainable + self.non_trainable

    @property
    def macs(self) -> Any:
        return arith.simplify(sum(r.macs for r in self.records))

    @property
    def outputs(self) -> list[LayerRecord]:
        used = {source for r in self.records for source in r.inputs}
        return [r for r in self.records if r.name not in used]

    def record(self, name: str) -> LayerRecord:
        for record in self.records:
            if record.name == name:
                return record
        raise KeyError(name)


def _divide(jump: Any, by: Any) -> Any:
    """``jump / by`` kept exact: an int where it divides, a Fraction otherwise (0.5, 1/3 without drift)."""
    if arith.is_int(by) and (isinstance(jump, int) or arith.is_fraction(jump)):
        from fractions import Fraction  # (loaded by the first layer that resamples: see arith.is_fraction)

        quotient = Fraction(jump) / by
        return int(quotient) if quotient.denominator == 1 else quotient
    return jump / by


def _rf_step(state: list[AxisRF] | None, step: Any) -> list[AxisRF] | None:
    """One layer's step of the receptive-field recurrence, axis by axis.

    The size grows by (pixels read below − 1)·(jump below): a sliding window reads its span; a
    transposed conv reads ⌈k_eff/s⌉ (see ``transpose_reach``), nearest upsampling 1, linear 2. Where
    jumps fall below 1 the recurrence's size can be fractional; :func:`whole_size` rounds it up.
    """
    if step is None or state is None:
        return None
    if step == "keep":
        return state
    result = []
    for (size, jump, start), axis_step in zip(state, step):
        kind = axis_step[0]
        if kind == "transpose":
            _, reach, span, stride, pad_before = axis_step[:5]
            new_jump = _divide(jump, stride)
            result.append((size + (reach - 1) * jump, new_jump, start + (pad_before - (span - 1) / 2) * new_jump))
        elif kind == "upsample":  # (kind, reach, in, out, offset of output 0 in source pixels)
            _, reach, n_in, n_out, offset = axis_step[:5]
            result.append((size + (reach - 1) * jump, _divide(jump * n_in, n_out), start + offset * jump))
        elif kind == "window":  # (kind, window, shift, n): the pixels of each output's window (region)
            _, window, shift, n = axis_step
            reach = min(window, n) if arith.is_int(n) else window
            centre = (min(shift, n) - 1) / 2 if shift else (reach - 1) / 2  # output 0's window (region)
            result.append((size + (reach - 1) * jump, jump, start + centre * jump))
        elif kind == "grid":  # (kind, window, n): window pixels n/window apart, as a kernel of window dilated so
            _, window, n = axis_step
            reach = (window - 1) * (n // window) + 1
            result.append((size + (reach - 1) * jump, jump, start + (reach - 1) / 2 * jump))  # output 0's group
        elif kind == "adaptive":  # (kind, longest window, in, out, first window): mean stride in/out
            _, longest, n_in, n_out, first = axis_step
            result.append((size + (longest - 1) * jump, _divide(jump * n_in, n_out),
                           start + (first - 1) / 2 * jump))
        else:
            span, stride, pad_before = axis_step[:3]
            result.append((size + (span - 1) * jump, jump * stride, start + ((span - 1) / 2 - pad_before) * jump))
    return result


def _rf_value(value: Any) -> str:
    """A receptive-field number as the working writes it: exact fractions as decimals (0.5, 0.3333), a sum
    or a difference in parentheses (it is a factor)."""
    if arith.is_fraction(value):
        value = float(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return arith.factor_text(value)


def rf_working(state: list[AxisRF] | None, step: Any, result: list[AxisRF] | None, axes: tuple[str, ...],
               merged: bool = False) -> list[str]:
    """The receptive-field recurrence worked out with the numbers, one line per axis (one for all axes
    when they agree): ``RF: r = r_prev + (k − 1)·j_prev = 1 + (5 − 1)·1 = 5, j = j_prev·s = 1·1 = 1``.
    Nothing for a layer that leaves the field as it is."""
    if state is None:
        return []
    if result is None:
        return ["RF: global (every output value depends on the whole input)"]
    if step == "keep" or step is None:
        if merged:
            sizes = "×".join(_rf_value(whole_size(size)) for size, _, _ in result)
            return [f"RF: the union of the inputs' fields = {sizes}"]
        return []
    lines: list[tuple[str, str]] = []
    names = axes if len(axes) == len(result) else tuple(f"axis {i}" for i in range(len(result)))
    for axis, (size, jump, _), axis_step, (new_size, new_jump, _) in zip(names, state, step, result):
        kind = axis_step[0]
        r, j = _rf_value(size), _rf_value(jump)
        if kind == "transpose":
            reach, stride = axis_step[1], axis_step[3]
            text = (f"r = r_prev + (⌈k_eff/s⌉ − 1)·j_prev = {r} + ({reach} − 1)·{j} = {_rf_value(new_size)}, "
                    f"j = j_prev/s = {j}/{stride} = {_rf_value(new_jump)}")
        elif kind == "window":
            reach = min(axis_step[1], axis_step[3]) if arith.is_int(axis_step[3]) else axis_step[1]
            text = (f"r = r_prev + (window − 1)·j_prev = {r} + ({reach} − 1)·{j} = {_rf_value(new_size)}, "
                    f"j = j_prev = {j}")
        elif kind == "grid":
            window, n = axis_step[1], axis_step[2]
            text = (f"r = r_prev + (window − 1)·(n/window)·j_prev = {r} + ({window} − 1)·({n}/{window})·{j} = "
                    f"{_rf_value(new_size)}, j = j_prev = {j}")
        elif kind in ("upsample", "adaptive"):
            reach, n_in, n_out = axis_step[1], axis_step[2], axis_step[3]
            reads = "pixels read" if kind == "upsample" else "longest window"
            text = (f"r = r_prev + ({reads} − 1)·j_prev = {r} + ({reach} − 1)·{j} = {_rf_value(new_size)}, "
                    f"j = j_prev·in/out = {j}·{_rf_value(n_in)}/{_rf_value(n_out)} = {_rf_value(new_jump)}")
        else:
            span, stride = axis_step[0], axis_step[1]
            if span == 1 and stride == 1:
                continue
            k = "k_eff" if len(axis_step) > 3 and axis_step[3] != 1 else "k"
            text = (f"r = r_prev + ({k} − 1)·j_prev = {r} + ({span} − 1)·{j} = {_rf_value(new_size)}, "
                    f"j = j_prev·s = {j}·{stride} = {_rf_value(new_jump)}")
        lines.append((axis, text))
    if len(lines) == len(result) and len({text for _, text in lines}) == 1:
        return [f"RF: {lines[0][1]}"]  # every axis alike: one line
    return [f"RF {axis}: {text}" for axis, text in lines]


def whole_size(size: Any) -> Any:
    """A receptive-field size as a count of input pixels: rounded up, never below 1."""
    if arith.is_int(size):
        return max(size, 1)
    if isinstance(size, float) or arith.is_fraction(size):
        return max(math.ceil(size), 1)
    import sympy

    return sympy.Max(sympy.ceiling(size), 1)


def _shown(state: list[AxisRF] | None) -> list[AxisRF] | None:
    if state is None:
        return None
    return [(whole_size(size), float(jump) if arith.is_fraction(jump) else jump, start)
            for size, jump, start in state]


def _rf_merge(states: list[list[AxisRF] | None]) -> list[AxisRF] | None:
    """Through a merge, each axis takes the union of its input paths' fields.

    Where the paths step alike (equal jumps) the union of output pixel o's fields is one interval for
    every o: from the lowest first pixel to the highest last one (U-Net's cropped skips sit off-centre
    of the upsampled path). Otherwise the path with the largest field.
    """
    present = [state for state in states if state is not None]
    if len(present) != len(states) or len({len(state) for state in present}) > 1:
        return None
    merged = []
    for axis in range(len(present[0])):
        candidates = [state[axis] for state in present]
        jumps = {rf[1] for rf in candidates}
        numeric = all(isinstance(value, (int, float)) or arith.is_fraction(value) for rf in candidates for value in rf)
        if len(jumps) == 1 and numeric:
            low = min(start - (size - 1) / 2 for size, _, start in candidates)
            high = max(start + (size - 1) / 2 for size, _, start in candidates)
            size = high - low + 1
            merged.append((int(size) if float(size).is_integer() else size, candidates[0][1], (low + high) / 2))
        else:
            merged.append(max(candidates, key=lambda rf: (_sortable(rf[0]), _sortable(rf[1]))))
    return merged


def _sortable(value: Any) -> float:
    try:
        return float(value)
    except TypeError:
        return float("inf")


def analyse(network: Network) -> Summary:
    """Infer every layer once, in topological order; records come back in spec order."""
    if not network.symbols:
        with collector_paused():
            return _analyse(network)
    with collector_paused(), budget.time_budget("the symbolic analysis",
                                                hint="give the input symbols values with --where n=64"):
        return _analyse(network)


def _analyse(network: Network) -> Summary:
    shapes: dict[str, Shape] = {INPUT: network.input_shape}
    rfs: dict[str, list[AxisRF] | None] = {
        INPUT: [(1, 1, 0.0)] * (len(network.input_shape) - 1) if len(network.input_shape) >= 2 else None
    }
    fields = _Fields(shapes, rfs)
    records: list[LayerRecord | None] = [None] * len(network.layers)
    for position in network.order:
        budget.check()
        layer = network.layers[position]
        in_shapes = [shapes[source] for source in layer.inputs]
        try:
            info = layer.inference(in_shapes)
        except CnnCalcError as error:
            raise wrap_layer_error(error, layer).with_context(file=network.source) from None
        in_rf = rfs[layer.inputs[0]] if len(layer.inputs) == 1 else _rf_merge([rfs[s] for s in layer.inputs])
        rf = _rf_step(in_rf, info.rf)
        if rf is not None and len(rf) != len(info.shape) - 1:
            rf = None
        shapes[layer.name] = info.shape
        rfs[layer.name] = rf
        shown = _shown(rf)
        exact = fields.step(layer.name, layer.inputs, info.rf, info.shape, rf)
        if exact is not None and shown is not None:
            shown = [(whole, jump, start) if whole is not None else (size, jump, start)
                     for whole, (size, jump, start) in zip(exact, shown)]
        working = rf_working(in_rf, info.rf, rf, AXIS_NAMES.get(len(rf or ()), ()), len(layer.inputs) > 1)
        if working and shown is not None and rf is not None and any(
                exact_size != whole_size(size) for (exact_size, _, _), (size, _, _) in zip(shown, rf)):
            working.append("RF: the exact field, pixel by pixel: " + "×".join(_rf_value(s) for s, _, _ in shown))
        size = arith.simplify(arith.product(info.shape))
        records[position] = LayerRecord(layer.index, layer.name, layer.type, list(layer.inputs), info.shape,
                                        size, info.trainable, info.non_trainable, info.macs, shown,
                                        [*info.explain, *working], info.dropped)
    return Summary(network, [r for r in records if r is not None])


_EMPTY = 2**62  # "reads no pixel" as a first index (and minus it as a last one)


class _Fields:
    """Exact receptive fields where the (size, jump, start) recurrence is not enough.

    After a transposed convolution, an upsampling or an adaptive pool, neighbouring output pixels read
    different numbers of pixels below, and the largest field of a chain is no longer the sum of each
    layer's largest step. From the first such layer on, and for numeric shapes only, each layer keeps
    per axis the first and last input pixel of every output pixel's field (``lo[o]``, ``hi[o]``), composed
    layer by layer; the field size is ``max(hi − lo + 1)``. Sliding-window chains never need this (their
    fields all have the recurrence's size), so their cost stays linear and small.
    """

    def __init__(self, shapes: dict[str, Shape], rfs: dict[str, list[AxisRF] | None]) -> None:
        self.shapes = shapes
        self.rfs = rfs
        self.bounds: dict[str, list[tuple[Any, Any]]] = {}
        self.stored = 0

    def _of(self, name: str) -> list[tuple[Any, Any]] | None:
        """Bounds of a layer's output, made from its recurrence where it never needed them."""
        if name in self.bounds:
            return self.bounds[name]
        import numpy as np

        rf, shape = self.rfs[name], self.shapes[name]
        if rf is None or not all(arith.is_int(d) and d <= EXACT_AXIS for d in shape[:-1]):
            return None
        result = []
        for (size, jump, start), n in zip(rf, shape[:-1]):
            if not all(isinstance(v, (int, float)) or arith.is_fraction(v) for v in (size, jump, start)):
                return None
            centre = start + np.arange(n) * float(jump)
            result.append((centre - (float(size) - 1) / 2, centre + (float(size) - 1) / 2))
        return result

    def step(self, name: str, inputs: list[str], step: Any, shape: Shape,
             rf: list[AxisRF] | None) -> list[Any] | None:
        """Compose this layer's bounds when it or an input needs them; return exact sizes (or None)."""
        if rf is None or step is None:
            return None
        special = step != "keep" and any(isinstance(axis[0], str) for axis in step)
        if not special and not any(source in self.bounds for source in inputs):
            return None
        if not all(arith.is_int(d) and d <= EXACT_AXIS for d in shape[:-1]):
            return None
        self.stored += sum(int(d) for d in shape[:-1])
        if self.stored > EXACT_TOTAL:
            return None
        import numpy as np

        found = [self._of(source) for source in inputs]
        below_all = [b for b in found if b is not None and len(b) == len(rf)]
        if len(below_all) != len(found):
            return None
        if len(below_all) == 1:
            below = below_all[0]
        else:  # a merge: the hull of every input's field, axis by axis (broadcast where an axis is 1)
            below = []
            for axis in range(len(rf)):
                try:
                    lo = np.minimum.reduce(np.broadcast_arrays(*(b[axis][0] for b in below_all)))
                    hi = np.maximum.reduce(np.broadcast_arrays(*(b[axis][1] for b in below_all)))
                except ValueError:
                    return None
                below.append((lo, hi))
        below_rf = self.rfs[inputs[0]] if len(inputs) == 1 else rf
        result, sizes = [], []
        for axis, (lo_b, hi_b) in enumerate(below):
            n_out = int(shape[axis])
            axis_step = "keep" if step == "keep" else step[axis]
            jump_below = float(below_rf[axis][1]) if below_rf is not None else 1.0
            composed = _compose(lo_b, hi_b, jump_below, axis_step, n_out)
            if composed is None:
                return None
            lo, hi = composed
            result.append((lo, hi))
            real = lo < _EMPTY / 2
            # no output pixel reads any pixel (a transposed conv's missed taps, then a stride that keeps only
            # those): 1, as for every field smaller than a pixel, not the recurrence's size
            sizes.append(max(math.ceil((hi - lo)[real].max() - 1e-9) + 1, 1) if real.any() else 1)
        self.bounds[name] = result
        return sizes


#: exact fields only where every spatial axis is at most this long and a transposed conv's
#: (outputs × taps) table at most EXACT_TAPS entries; beyond, the recurrence (memory stays small)
EXACT_AXIS = 1 << 20
EXACT_TAPS = 1 << 21
#: and while all the layers' kept bounds hold at most this many entries (then the recurrence)
EXACT_TOTAL = 1 << 23


def _range_hull(lo_b: Any, hi_b: Any, jump: float, first: Any, last: Any) -> tuple[Any, Any]:
    """Hull of the fields of the pixels ``first … last`` below (inclusive), per output.

    Padding pixels (indices outside the layer) continue the edge pixels' fields by whole input pixels
    (rounded towards the layer: where the jump is below 1 a padding pixel may sit inside the edge
    pixel's field); pixels that read nothing (after a transposed conv whose taps miss) add nothing.
    """
    import numpy as np

    n = len(lo_b)
    valid = lo_b < _EMPTY / 2
    longest = int((last - first).max()) + 1 if len(first) else 1
    if len(first) * longest <= EXACT_TAPS:
        index = first[:, None] + np.arange(longest)[None, :]
        taken = index <= last[:, None]
        safe = np.clip(index, 0, n - 1)
        real = taken & valid[safe]
        shift_lo = np.where(index < 0, np.ceil(index * jump), np.where(index > n - 1,
                                                                        np.floor((index - n + 1) * jump), 0))
        lo = np.where(real, lo_b[safe] + shift_lo, _EMPTY).min(axis=1)
        hi = np.where(real, hi_b[safe] + shift_lo, -_EMPTY).max(axis=1)
        return lo, hi
    # long windows: fields below are ordered (a later pixel's never starts or ends earlier) except
    # for empty pixels and dilated transposed convs; the first and last non-empty pixel bound the hull
    index = np.arange(n)
    next_valid = np.minimum.accumulate(np.where(valid, index, n)[::-1])[::-1]
    prev_valid = np.maximum.accumulate(np.where(valid, index, -1))
    a, b = np.clip(first, 0, n - 1), np.clip(last, 0, n - 1)
    j, k = next_valid[a], prev_valid[b]
    real = (j <= b) & (k >= a) & (j < n) & (k >= 0)
    lo = np.where(real, lo_b[np.minimum(j, n - 1)], _EMPTY).astype(float)
    hi = np.where(real, hi_b[np.maximum(k, 0)], -_EMPTY).astype(float)
    before = np.ceil(first * jump)
    after = np.floor((first - (n - 1)) * jump), np.floor((last - (n - 1)) * jump)
    lo = np.where((first < 0) & valid[0], lo_b[0] + before, lo)
    lo = np.where((first > n - 1) & valid[n - 1], lo_b[n - 1] + after[0], lo)
    hi = np.where((last > n - 1) & valid[n - 1], hi_b[n - 1] + after[1], hi)
    hi = np.where((last < 0) & valid[0], hi_b[0] + np.ceil(last * jump), hi)
    return lo, hi


def window_bounds(window: int, shift: int, n: int) -> tuple[Any, Any]:
    """The first and last input pixel each of ``n`` outputs of a (shifted) window attention reads: its window
    of the map padded to whole windows and rolled by −shift, cut where the mask parts the last window
    (torchvision's regions), mapped back and clipped to the input (padding reads no pixel)."""
    import numpy as np

    n_pad = -(-n // window) * window
    o = np.arange(n)
    rolled = (o - shift) % n_pad
    lo = rolled // window * window
    hi = lo + window - 1
    if shift:
        cut = n_pad - shift  # the last window's two regions: [n_pad − window, cut) and [cut, n_pad)
        last = lo == n_pad - window
        lo = np.where(last & (rolled >= cut), cut, lo)
        hi = np.where(last & (rolled < cut), cut - 1, hi)
    lo, hi = (lo + shift) % n_pad, (hi + shift) % n_pad
    return lo, np.minimum(hi, n - 1)


def _compose(lo_b: Any, hi_b: Any, jump: float, step: Any, n_out: int) -> tuple[Any, Any] | None:
    """Bounds of each output pixel's field from the bounds of the pixels below it reads."""
    import numpy as np

    n_in = len(lo_b)
    o = np.arange(n_out)
    if step == "keep":
        return lo_b, hi_b
    kind = step[0]
    if kind == "transpose":  # (kind, reach, span, stride, pad_before, k, d): o + p = i·s + t·d
        _, _, span, stride, pad, k, d = step
        if n_out * k > EXACT_TAPS:
            return None
        pos = o[:, None] + pad - np.arange(k)[None, :] * d
        index = pos // stride
        valid = (pos % stride == 0) & (index >= 0) & (index < n_in)
        safe = np.clip(index, 0, n_in - 1)
        lo = np.where(valid, lo_b[safe], _EMPTY).min(axis=1)
        hi = np.where(valid, hi_b[safe], -_EMPTY).max(axis=1)
        return lo, hi
    if kind == "upsample":  # (kind, reach, in, out, offset, mode)
        mode = step[5]
        if mode == "nearest":
            index = o * n_in // n_out
            return lo_b[index], hi_b[index]
        source = np.maximum((o + 0.5) * n_in / n_out - 0.5, 0.0)
        low = np.floor(source).astype(int)
        high = np.where(source > low, np.minimum(low + 1, n_in - 1), low)
        return _range_hull(lo_b, hi_b, jump, low, high)
    if kind == "window":  # (kind, window, shift, n): each output reads its window's region
        first, last = window_bounds(step[1], step[2], n_out)
        return _range_hull(lo_b, hi_b, jump, first, last)
    if kind == "grid":  # (kind, window, n): output o reads o mod (n/window) + k·n/window, k < window
        spacing = n_out // step[1]
        lo = hi = None
        for tap in range(step[1]):
            tap_lo, tap_hi = _range_hull(lo_b, hi_b, jump, o % spacing + tap * spacing, o % spacing + tap * spacing)
            lo = tap_lo if lo is None else np.minimum(lo, tap_lo)
            hi = tap_hi if hi is None else np.maximum(hi, tap_hi)
        return lo, hi
    if kind == "adaptive":  # (kind, longest, in, out, first): PyTorch's windows
        return _range_hull(lo_b, hi_b, jump, o * n_in // n_out, -(-(o + 1) * n_in // n_out) - 1)
    span, stride, pad = step[:3]  # a sliding window (or zero_pad / crop: span 1); dilation 4th, if any
    first = o * stride - pad
    dilation = int(step[3]) if len(step) > 3 else 1
    if dilation == 1:
        return _range_hull(lo_b, hi_b, jump, first, first + span - 1)
    # a dilated window reads its taps only: the pixels between them (which, after a transposed conv, can
    # read other pixels below) are not part of the field
    lo = hi = None
    for tap in range(0, span, dilation):
        tap_lo, tap_hi = _range_hull(lo_b, hi_b, jump, first + tap, first + tap)
        lo = tap_lo if lo is None else np.minimum(lo, tap_lo)
        hi = tap_hi if hi is None else np.maximum(hi, tap_hi)
    return lo, hi


class BlockRecord(Record):
    """One block instance: its layers' totals, and the shapes entering and leaving it."""

    _fields = ("name", "depth", "first_index", "last_index", "input_shape", "output_shape", "size", "trainable",
               "non_trainable", "macs", "receptive_field")
    name: str
    depth: int  # 1 for a top-level instance
    first_index: int
    last_index: int
    input_shape: Shape
    output_shape: Shape
    size: Any
    trainable: Any
    non_trainable: Any
    macs: Any
    receptive_field: list[AxisRF] | None

    def __init__(self, name: str, depth: int, first_index: int, last_index: int, input_shape: Shape,
                 output_shape: Shape, size: Any, trainable: Any, non_trainable: Any, macs: Any,
                 receptive_field: list[AxisRF] | None) -> None:
        self.name = name
        self.depth = depth
        self.first_index = first_index
        self.last_index = last_index
        self.input_shape = input_shape
        self.output_shape = output_shape
        self.size = size
        self.trainable = trainable
        self.non_trainable = non_trainable
        self.macs = macs
        self.receptive_field = receptive_field

    @property
    def params(self) -> Any:
        return self.trainable + self.non_trainable


def block_records(summary: Summary) -> list[BlockRecord]:
    """Every block instance in order of first appearance (outer before inner)."""
    shapes: dict[str, Shape] = {INPUT: summary.input_shape}
    members: dict[str, list[LayerRecord]] = {}
    order: list[tuple[str, int]] = []
    for record in summary.records:
        shapes[record.name] = record.output_shape
        group = summary.network.layers[record.index - 1].group
        for depth, name in enumerate(group, start=1):
            if name not in members:
                members[name] = []
                order.append((name, depth))
            members[name].append(record)
    result = []
    for name, depth in order:
        records = members[name]
        first, last = records[0], records[-1]
        result.append(BlockRecord(
            name, depth, first.index, last.index, shapes[first.inputs[0]], last.output_shape, last.size,
            sum(r.trainable for r in records), sum(r.non_trainable for r in records),
            arith.simplify(sum(r.macs for r in records)), last.receptive_field))
    return result
