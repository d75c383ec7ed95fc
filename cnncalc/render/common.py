"""Values and rows shared by every renderer."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..calc.analysis import LayerRecord, Summary, block_records
from ..errors import CnnCalcError, did_you_mean
from ..maths import arith
from ..records import FrozenRecord

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any

HEADERS = ("#", "Layer (type)", "Output shape", "Size", "Params", "MACs", "Receptive field")
#: `--columns` names, each with its header, in the default order; the % columns are shown on request
COLUMNS = {"#": "#", "layer": "Layer (type)", "shape": "Output shape", "size": "Size", "params": "Params",
           "macs": "MACs", "rf": "Receptive field", "params%": "Params %", "macs%": "MACs %"}
DEFAULT_COLUMNS = ("#", "layer", "shape", "size", "params", "macs", "rf")
#: columns of numbers, aligned right
NUMERIC_COLUMNS = frozenset({"#", "size", "params", "macs", "params%", "macs%"})


def number(value: Any) -> str:
    return f"{value:,}" if arith.is_int(value) else str(value)


def shape_text(shape: Any, value: Callable[[Any], str] = str) -> str:
    inner = ", ".join(value(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _same(text: str) -> str:
    return text


class Style(FrozenRecord):
    """How a format writes the three kinds of content in a row: text the user chose (layer and network
    names, which may need escaping), values (counts and dimensions, which may be symbolic expressions)
    and the worked explanation lines."""

    _fields = ("text", "value", "dim", "explain")
    text: Callable[[str], str]
    value: Callable[[Any], str]
    dim: Callable[[Any], str]
    explain: Callable[[str], str]

    def __init__(self, text: Callable[[str], str] = _same, value: Callable[[Any], str] = number,
                 dim: Callable[[Any], str] = str, explain: Callable[[str], str] = _same) -> None:
        self._set(text=text, value=value, dim=dim, explain=explain)


PLAIN = Style()


def json_dim(value: Any) -> Any:
    """Dims as JSON: ints stay ints, symbolic expressions become strings."""
    if arith.is_int(value):
        return value
    if getattr(value, "is_Integer", False):
        return int(value)
    return str(value)


def json_float(value: Any) -> Any:
    try:
        number_value = float(value)
    except TypeError:
        return str(value)
    return number_value


def json_rf_size(value: Any) -> Any:
    if type(value) is int and -_EXACT_FLOAT <= value <= _EXACT_FLOAT:  # (the common case, as below: unchanged)
        return value
    try:
        number_value = float(value)
    except TypeError:
        return str(value)
    return int(number_value) if number_value.is_integer() else number_value


#: ints up to this size pass through a float unchanged
_EXACT_FLOAT = 2**53


def rf_text(record: LayerRecord) -> str:
    return _rf(record.receptive_field)


def params_text(record: LayerRecord, style: Style = PLAIN) -> str:
    if record.non_trainable:
        return f"{style.value(record.params)} ({style.value(record.non_trainable)} non-train.)"
    return style.value(record.params) if record.params else "-"


class View(FrozenRecord):
    """What the user asked to see: worked formulas, block depth (None: every layer), batch size, and the
    columns, by their `--columns` names."""

    _fields = ("explain", "depth", "batch", "columns")
    explain: bool
    depth: int | None
    batch: int
    columns: tuple[str, ...]

    def __init__(self, explain: bool = False, depth: int | None = None, batch: int = 1,
                 columns: tuple[str, ...] = DEFAULT_COLUMNS) -> None:
        self._set(explain=explain, depth=depth, batch=batch, columns=columns)

    def headers(self) -> tuple[str, ...]:
        return tuple(COLUMNS[name] for name in self.columns)

    def right(self) -> frozenset[int]:
        """Positions of the columns aligned right."""
        return frozenset(i for i, name in enumerate(self.columns) if name in NUMERIC_COLUMNS)


def parse_columns(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """`--columns`: a comma list of column names (see :data:`COLUMNS`), each at most once.

    >>> parse_columns("layer, params, params%")
    ('layer', 'params', 'params%')
    """
    if text is None:
        return DEFAULT_COLUMNS
    items = [text] if isinstance(text, str) else list(text)
    names = [part.strip().lower() for item in items for part in item.split(",")]
    valid = ", ".join(COLUMNS)
    if not names or len(",".join(names)) > 500:
        raise CnnCalcError("bad --columns", got=",".join(names)[:80], expected=f"a comma list of: {valid}")
    for name in names:
        if name not in COLUMNS:
            raise CnnCalcError("unknown column in --columns", got=name[:80], expected=f"a comma list of: {valid}",
                               hint=did_you_mean(name, COLUMNS))
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise CnnCalcError("--columns names a column twice", got=twice, expected="each column at most once")
    return tuple(names)


def percent(part: Any, whole: Any) -> str:
    """A share of a total as `12.34%`; `-` where there is nothing to share or the figures are symbolic.

    >>> percent(608, 62958), percent(0, 10), percent(5, 0)
    ('0.97%', '0.00%', '-')
    """
    if not (arith.is_int(part) and arith.is_int(whole)) or whole == 0:
        return "-"
    return f"{100 * part / whole:.2f}%"


DEFAULT_VIEW = View()


def rows(summary: Summary, view: View = DEFAULT_VIEW,
         style: Style = PLAIN) -> list[tuple[tuple[str, ...], list[str]]]:
    """Table rows, each with the explanation lines that go under it, in the view's columns."""
    if view.columns == DEFAULT_COLUMNS:
        return _rows(summary, view, style)
    return [(tuple(row[name] for name in view.columns), explain) for row, explain in _named_rows(summary, view, style)]


def _named_rows(summary: Summary, view: View, style: Style) -> list[tuple[dict[str, str], list[str]]]:
    """Every column of every row, by column name (the % columns too)."""
    params, macs = summary.params, summary.macs
    named = []
    blocks = {f"{b.first_index}–{b.last_index}": b for b in block_records(summary)} if view.depth is not None else {}
    records = {str(r.index): r for r in summary.records}
    for row, explain in _rows(summary, view, style):
        cells = dict(zip(DEFAULT_COLUMNS, row))
        unit: Any = records.get(row[0]) or blocks.get(row[0]) or blocks.get(_plain_index(row[0]))
        cells["params%"] = "-" if unit is None or not unit.params else style.text(percent(unit.params, params))
        cells["macs%"] = "-" if unit is None or not unit.macs else style.text(percent(unit.macs, macs))
        named.append((cells, explain))
    return named


def _plain_index(text: str) -> str:
    """A block's index range as the plain style writes it (a format may have escaped its dash)."""
    return text.replace("--", "–")


def _rows(summary: Summary, view: View, style: Style) -> list[tuple[tuple[str, ...], list[str]]]:
    n = view.batch
    value, text = style.value, style.text
    table: list[tuple[tuple[str, ...], list[str]]] = [
        (("", "input", shape_text(summary.input_shape, style.dim), value(arith.simplify(summary.input_size * n)),
          "-", "-", "1"), [])]
    blocks = {b.name: b for b in block_records(summary)} if view.depth is not None else {}
    shown: set[str] = set()
    for record in summary.records:
        group = summary.network.layers[record.index - 1].group
        if view.depth is not None and len(group) >= view.depth:
            block = blocks[group[view.depth - 1]]
            if block.name in shown:
                continue
            shown.add(block.name)
            index = text(f"{block.first_index}–{block.last_index}")
            params = value(block.params) + (f" ({value(block.non_trainable)} non-train.)"
                                            if block.non_trainable else "")
            shapes = (f"{shape_text(block.input_shape, style.dim)}{text(' → ')}"
                      f"{shape_text(block.output_shape, style.dim)}")
            table.append(((index, text(f"{block.name} (block)"), shapes, value(arith.simplify(block.size * n)),
                           params if block.params else "-", value(arith.simplify(block.macs * n)) if block.macs else "-",
                           text(_rf(block.receptive_field))), []))
            continue
        table.append(((
            str(record.index),
            text(f"{record.name} ({record.type})"),
            shape_text(record.output_shape, style.dim),
            value(arith.simplify(record.size * n)),
            params_text(record, style),
            value(arith.simplify(record.macs * n)) if record.macs else "-",
            text(rf_text(record)),
        ), [style.explain(line) for line in record.explain] if view.explain else []))
    return table


def totals_lines(summary: Summary, view: View = DEFAULT_VIEW, style: Style = PLAIN) -> list[str]:
    n = view.batch
    value, text = style.value, style.text
    macs = arith.simplify(summary.macs * n)
    flops = arith.simplify(2 * macs)
    per = f" for a batch of {n}" if n > 1 else ""
    lines = [
        f"Total params: {value(summary.params)}",
        f"Trainable params: {value(summary.trainable)}",
        f"Non-trainable params: {value(summary.non_trainable)}",
        f"MACs{per}: {value(macs)} {text('(FLOPs ≈ 2·MACs = ')}{value(flops)})",
    ]
    memory = memory_estimate(summary, n)
    if memory is not None:
        lines += [f"Input size (MB): {memory['input_mb']:,.2f}",
                  f"Forward/backward pass size (MB): {memory['forward_backward_mb']:,.2f}",
                  f"Params size (MB): {memory['params_mb']:,.2f}",
                  f"Estimated total size (MB): {memory['total_mb']:,.2f}  "
                  + text("(float32; every layer's output kept for the backward pass)")]
    return lines


def memory_estimate(summary: Summary, batch: int = 1) -> dict[str, float] | None:
    """torchinfo-style figures: float32; every layer's output kept for the backward pass (×2)."""
    activations = sum(r.size for r in summary.records)
    if not arith.is_int(activations) or not arith.is_int(summary.input_size):
        return None
    input_mb = summary.input_size * batch * 4 / 1e6
    forward_backward_mb = activations * batch * 4 * 2 / 1e6
    params_mb = summary.params * 4 / 1e6
    return {"input_mb": input_mb, "forward_backward_mb": forward_backward_mb, "params_mb": params_mb,
            "total_mb": input_mb + forward_backward_mb + params_mb}


def _rf(rf: Any) -> str:
    if rf is None:
        return "global"
    sizes = [str(json_rf_size(axis[0])) for axis in rf]
    # fractional jumps (upsampling, transposed convs) to 4 significant digits: 0.5, 0.3333
    jumps = [f"{j:.4g}" if isinstance(j, float) else str(j) for j in [json_rf_size(axis[1]) for axis in rf]]
    size = sizes[0] if len(set(sizes)) == 1 else "×".join(sizes)
    jump = jumps[0] if len(set(jumps)) == 1 else "×".join(jumps)
    return f"{size} (jump {jump})"
