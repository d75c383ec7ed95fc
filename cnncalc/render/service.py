"""The commands that show a network or a convolution, one library function each, returning what the
command line prints or writes:

- :func:`summarise` — `cnncalc summary`: the per-layer table (or JSON, Markdown, CSV, LaTeX, HTML), totals;
- :func:`memory_summary` — `cnncalc memory`: training and inference memory per layer (table or JSON);
- :func:`zoo_listing` — `cnncalc zoo`: the built-in specs;
- :func:`draw` — `cnncalc draw`: the network as the lecture draws it (SVG);
- :func:`draw_conv` — `cnncalc draw-conv`, and :func:`draw_solution` — `solve --draw`: one convolution
  as the conv_arithmetic figures draw it (SVG).

>>> from cnncalc.spec.network import load_spec
>>> report = summarise(load_spec("lenet5"), format="csv")
>>> report.summary.params, report.summary.macs
(62958, 849320)
>>> report.text.splitlines()[2].split(",")[:6]
['1', 'CONV1', 'conv', 'input', '28x28x8', '6272']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..calc.analysis import Summary, analyse
from ..errors import CnnCalcError
from ..maths import arith
from ..records import Record
from ..spec.network import Network, load_spec, zoo_names
from . import FORMATS, render
from .common import json_dim
from .files import write_text

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:  # sympy: a summary of a numeric spec never imports it
    from typing import Any

    from ..calc.memory import MemoryReport
    from ..calc.symbolic import Solution
    from .convfig import ConvFigure
    from .diagram import Layout

#: the file endings `summary -o FILE` accepts for each format
SUFFIXES = {"table": (".txt",), "json": (".json",), "markdown": (".md", ".markdown"), "csv": (".csv",),
            "latex": (".tex",), "html": (".html", ".htm")}


class SummaryReport(Record):
    """A network's analysis (``summary``: per-layer records and totals) and ``text``, its rendering in
    ``format``; ``written``: the file it went to, if any."""

    _fields = ("summary", "format", "text", "written")
    summary: Summary
    format: str
    text: str
    written: str | None

    def __init__(self, summary: Summary, format: str, text: str, written: str | None = None) -> None:
        self.summary = summary
        self.format = format
        self.text = text
        self.written = written


def summarise(network: Network, *, format: str | None = None, explain: bool = False, width: int | None = None,
              depth: int | None = None, batch: int = 1, output: str | None = None,
              inputs: Sequence[str | None] = (), columns: str | Sequence[str] | None = None) -> SummaryReport:
    """Analyse ``network`` and render it as `cnncalc summary` does: ``format`` one of table, json,
    markdown, csv, latex, html (default: the one ``output``'s extension names, else table); ``explain``
    adds each layer's worked formulas, ``width`` fits the table, ``depth`` collapses deeper blocks into one
    row, ``batch`` scales sizes and MACs, ``columns`` (``"layer,params,params%"``; see
    :data:`~cnncalc.render.common.COLUMNS`) chooses the columns. With ``output`` the text is also written
    there (its extension must suit the format; never over one of ``inputs``)."""
    if format is None:
        format = "table" if output is None else format_of(output)
    if format not in FORMATS:
        raise CnnCalcError("unknown summary format", got=format, expected=", ".join(FORMATS))
    summary = analyse(network)
    report = SummaryReport(summary, format, render(summary, format, explain, width, depth, batch, columns))
    if output is not None:
        write_text(output, report.text, SUFFIXES[format], inputs=inputs)
        report.written = output
    return report


def format_of(output: str) -> str:
    """The summary format a file name's extension names (`-o unet.md` is Markdown).

    >>> format_of("unet.md"), format_of("report.HTML")
    ('markdown', 'html')
    """
    from pathlib import PurePath  # (not loaded by a summary printed to the terminal)

    suffix = PurePath(output).suffix.lower()
    for name, suffixes in SUFFIXES.items():
        if suffix in suffixes:
            return name
    raise CnnCalcError("unknown file type: cannot tell the format from the extension", file=output,
                       got=suffix or "(none)", expected=" or ".join(s for names in SUFFIXES.values() for s in names),
                       hint="or give --format")


class MemorySummary(Record):
    """`cnncalc memory`'s figures (``report``) and ``text``, as the command prints them."""

    _fields = ("report", "format", "text")
    report: MemoryReport
    format: str
    text: str

    def __init__(self, report: MemoryReport, format: str, text: str) -> None:
        self.report = report
        self.format = format
        self.text = text


def memory_summary(network: Network, *, format: str = "table", explain: bool = False, width: int | None = None,
                   batch: int = 1, dtype: str = "float32", optimizer: str = "none",
                   framework: str = "pytorch") -> MemorySummary:
    """`cnncalc memory`: :func:`~cnncalc.calc.service.memory`'s figures as a table (``explain``: each
    layer's rules worked out) or JSON (per-layer rows and totals, in bytes)."""
    if format not in ("table", "json"):
        raise CnnCalcError("unknown memory format", got=format, expected="table, json")
    from ..calc.service import memory  # (with the solver's module: not loaded by `summary`)

    report = memory(network, batch=batch, dtype=dtype, optimizer=optimizer, framework=framework)
    if format == "json":
        import json

        return MemorySummary(report, format, json.dumps(report.document(), ensure_ascii=False) + "\n")
    from .memory import render_memory_table

    return MemorySummary(report, format, render_memory_table(report, explain, width))


class ZooEntry(Record):
    _fields = ("name", "title", "summary")
    name: str
    title: str
    summary: Summary | None  # with details only

    def __init__(self, name: str, title: str, summary: Summary | None = None) -> None:
        self.name = name
        self.title = title
        self.summary = summary

    def document(self) -> dict[str, Any]:
        result = self.summary
        if result is None:
            return {"name": self.name, "title": self.title}
        return {"name": self.name, "title": self.title, "input": [json_dim(d) for d in result.input_shape],
                "layers": len(result.records), "params": result.params, "trainable_params": result.trainable,
                "non_trainable_params": result.non_trainable, "macs": json_dim(result.macs)}


class ZooListing(Record):
    """The built-in specs, by name, with their titles (and with ``details``, their analyses)."""

    _fields = ("entries",)
    entries: list[ZooEntry]

    def __init__(self, entries: list[ZooEntry] | None = None) -> None:
        self.entries = [] if entries is None else entries

    def text(self) -> str:
        return "".join(f"{entry.name:24} {entry.title}\n" for entry in self.entries)

    def json(self) -> str:
        import json  # (not loaded by `summary`)

        return json.dumps({"zoo": [entry.document() for entry in self.entries]}, ensure_ascii=False)


def zoo_listing(details: bool = False) -> ZooListing:
    """Every built-in spec (`cnncalc summary NAME` reads it by name); ``details`` analyses each, for the
    JSON listing's input, parameters and MACs.

    >>> [entry.name for entry in zoo_listing().entries][:3]
    ['alexnet', 'conv-chain64', 'convnext_tiny']
    """
    entries = []
    for name in zoo_names():
        network = load_spec(name)
        if details:
            summary = analyse(network)
            entries.append(ZooEntry(name, summary.name, summary))
        else:
            entries.append(ZooEntry(name, network.name))
    return ZooListing(entries)


class Drawing(Record):
    """A network drawn: ``layout`` (boxes and edges as plain data), ``svg``, and the file written."""

    _fields = ("layout", "svg", "written")
    layout: Layout
    svg: str
    written: str | None

    def __init__(self, layout: Layout, svg: str, written: str | None = None) -> None:
        self.layout = layout
        self.svg = svg
        self.written = written

    def note(self) -> str:
        return f"wrote {self.written}: {len(self.layout.boxes)} boxes, {len(self.layout.edges)} edges"


def draw(network: Network, output: str | None = None, *, depth: int | None = None,
         inputs: Sequence[str | None] = ()) -> Drawing:
    """The network as the lecture draws it, as `cnncalc draw`: one volume per activation, the operation
    under each; blocks nested deeper than ``depth`` as one box. Written to ``output`` (``.svg``) if given.

    >>> drawing = draw(load_spec("lenet5"))
    >>> len(drawing.layout.boxes), drawing.svg.startswith("<svg")
    (9, True)
    """
    from .diagram import layout  # the pictures' modules load with the command that draws
    from .diagram import svg as layout_svg

    drawn = layout(analyse(network), depth)
    drawing = Drawing(drawn, layout_svg(drawn))
    if output is not None:
        write_text(output, drawing.svg, (".svg",), inputs=inputs)
        drawing.written = output
    return drawing


class ConvDrawing(Record):
    """One convolution drawn: ``figure`` (the grids and which input cells each output cell reads, as
    plain data), ``svg``, and the file written."""

    _fields = ("figure", "svg", "written")
    figure: ConvFigure
    svg: str
    written: str | None

    def __init__(self, figure: ConvFigure, svg: str, written: str | None = None) -> None:
        self.figure = figure
        self.svg = svg
        self.written = written

    def note(self) -> str:
        return f"wrote {self.written}: {self.figure.title}"


def draw_conv(n: int, f: int, p: int | str = 0, s: int = 1, d: int = 1, *, transpose: bool = False,
              output_padding: int = 0, positions: Sequence[str | tuple[int, int]] | None = None,
              animate: bool = False, output: str | None = None) -> ConvDrawing:
    """A convolution as the conv_arithmetic figures draw it, as `cnncalc draw-conv`: the padded input,
    the kernel and the output, one panel per output cell (those in ``positions``: ``(row, column)`` or
    ``"ROW,COLUMN"``; default every one, up to 16), or one panel stepping through them (``animate``).
    ``p``: a number, or ``same`` (TensorFlow's rule, the odd pixel after), ``valid`` (0) or ``full``.

    >>> drawing = draw_conv(5, 3, p=1, s=2)
    >>> drawing.figure.output_size, drawing.figure.title
    (3, 'convolution: n = 5, k = 3, p = 1, s = 2, d = 1 → output 3×3')
    >>> draw_conv(6, 4, p="same").figure.title
    'convolution: n = 6, k = 4, p = same (1, 2), s = 1, d = 1 → output 6×6'
    """
    from .convfig import conv_figure
    from .convfig import svg as conv_svg

    before, after, named = padding_of(p, n, f, s, d, transpose)
    figure = conv_figure(n, f, before, s, d, transpose, output_padding, after)
    figure.padding_name = named
    drawing = ConvDrawing(figure, conv_svg(figure, parse_positions(positions), animate))
    if output is not None:
        write_text(output, drawing.svg, (".svg",))
        drawing.written = output
    return drawing


def padding_of(p: int | str, n: int, f: int, s: int = 1, d: int = 1,
               transpose: bool = False) -> tuple[int, int, str | None]:
    """(before, after, the name given) of a padding as `draw-conv --p` takes it: a number, same, valid, full.

    >>> padding_of("same", 8, 4), padding_of("2", 8, 3), padding_of("full", 8, 3, d=2)
    ((1, 2, 'same'), (2, 2, None), (4, 4, 'full'))
    """
    text = str(p).strip().lower()
    if text.isascii() and text.isdigit() and len(text) <= 6:
        return int(text), int(text), None
    if text not in ("same", "valid", "full"):
        raise CnnCalcError("bad --p", got=str(p)[:40], expected="a number of pixels, same, valid or full")
    if text == "valid":
        return 0, 0, text
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (n, f, s, d)):
        raise CnnCalcError(f"--p {text} needs whole numbers of at least 1 for n, f, s and d",
                           got=[n, f, s, d], expected="integers ≥ 1")
    if text == "full":
        return d * (f - 1), d * (f - 1), text
    if transpose:
        raise CnnCalcError("--p same is for a direct convolution (a transposed one's 'same' crops its output)",
                           got="--p same --transpose", expected="a number for --p")
    _, before, after = arith.same_padding(n, f, s, d)
    return int(before), int(after), text


def draw_solution(solution: Solution, values: Mapping[str, str | int | None], output: str | None = None, *,
                  transpose: bool = False, output_padding: str | int | None = None) -> ConvDrawing:
    """The convolution a :func:`cnncalc.calc.service.solve` answered, drawn (`solve --draw FILE`): the
    given ``values``, the unknown's value and 'same' padding's split; numbers only."""
    given = {name: None if value is None else str(value) for name, value in values.items()}
    from .convfig import figure_for_solution
    from .convfig import svg as conv_svg

    figure = figure_for_solution(given, solution, transpose, None if output_padding is None else str(output_padding))
    drawing = ConvDrawing(figure, conv_svg(figure))
    if output is not None:
        write_text(output, drawing.svg, (".svg",))
        drawing.written = output
    return drawing


def parse_positions(values: Sequence[str | tuple[int, int]] | None) -> list[tuple[int, int]] | None:
    """Output cells as ``(row, column)``, from ``"ROW,COLUMN"`` as `--position` gives them.

    >>> parse_positions(["0,1", (2, 2)])
    [(0, 1), (2, 2)]
    """
    if not values:
        return None
    positions = []
    for value in values:
        if isinstance(value, tuple):
            positions.append(value)
            continue
        parts = value.split(",")
        if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
            raise CnnCalcError("bad --position", got=value, expected="ROW,COLUMN, e.g. 0,1")
        positions.append((int(parts[0]), int(parts[1])))
    return positions
