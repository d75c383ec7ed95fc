"""The network as the lecture draws it: one volume per activation, in a row, with the operation between.

Layout and drawing are apart. :func:`layout` turns a :class:`~cnncalc.calc.analysis.Summary` into plain
data — boxes, their label blocks and the edges between them, in pixels — that tests can inspect (nothing
overlaps, every layer is there); :func:`svg` writes that data as SVG text, deterministically.

The layout is a layered drawing written for the DAGs networks are made of (long chains, short branches,
skips): each activation goes in the column of its longest path from the input, nodes sharing a column
are stacked in the order of their inputs, an edge between neighbouring columns is a straight arrow, and
a longer edge (a residual shortcut, a U-Net skip) is an arc above the row, higher for longer spans so
that arcs do not run along each other. General graph-drawing packages either need a separate program
(Graphviz) or are not maintained; this keeps `draw` a pure-Python, dependency-free step.

>>> from cnncalc import analyse, load_spec
>>> drawn = layout(analyse(load_spec("lenet5")))
>>> [box.caption for box in drawn.boxes][:3]
['input', 'conv 5×5, 8', 'maxpool 2×2 /2']
>>> drawn.boxes[1].label
'28×28×8'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Any

from ..calc.analysis import LayerRecord, Summary, block_records
from ..maths import arith

FONT = 11  # px, the label font
CHAR = 6.4  # px, the width a label character is given (labels are short; the font is sans-serif)
LINE = 14  # px between label lines
GAP = 26  # px between columns, beyond their contents
MAX_HEIGHT = 150.0  # px, the tallest front face
MIN_SIDE = 6.0


@dataclass
class Box:
    """One node: an activation volume (or a block's output, or a vector) and the text under it."""

    name: str
    kind: str  # "volume", "vector" or "block"
    column: int
    x: float  # front face, top-left
    y: float
    w: float  # front face: the channel axis, on a compressed scale
    h: float  # front face: the first spatial axis (H), to scale
    depth: float  # the receding axis (W), to scale, drawn at 45°
    caption: str  # the operation that made it: "conv 5×5, 8"
    label: str  # its shape: "28×28×8"
    text_x: float = 0.0  # the label block: centred under the box
    text_y: float = 0.0
    text_w: float = 0.0
    text_h: float = 0.0

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """The drawn volume, back faces included: (left, top, right, bottom)."""
        d = self.depth * 0.5
        return (self.x, self.y - d, self.x + self.w + d, self.y + self.h)

    @property
    def text_bounds(self) -> tuple[float, float, float, float]:
        return (self.text_x - self.text_w / 2, self.text_y, self.text_x + self.text_w / 2, self.text_y + self.text_h)


@dataclass
class Edge:
    source: str
    target: str
    points: list[tuple[float, float]]
    skip: bool = False  # an arc over the columns it passes


@dataclass
class Layout:
    title: str
    width: float
    height: float
    boxes: list[Box] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def box(self, name: str) -> Box:
        return next(b for b in self.boxes if b.name == name)


@dataclass
class _Node:
    name: str
    kind: str
    shape: tuple[Any, ...]
    caption: str
    inputs: list[str]


def layout(summary: Summary, depth: int | None = None, hide_shapes: bool = False) -> Layout:
    """Boxes, label blocks and edges for the network; with `depth`, blocks nested deeper are one box.

    `hide_shapes` is for exercise sheets: every activation but the input is drawn at one size and labelled
    `?`, so the picture shows the operations without giving the answers away."""
    nodes = _nodes(summary, depth)
    if hide_shapes:
        nodes = [n if n.name == "input" else _Node(n.name, n.kind, ("?",) * len(n.shape), n.caption, n.inputs)
                 for n in nodes]
    scale = _scale(nodes)
    columns = _columns(nodes)
    boxes = {n.name: _box(n, scale, columns[n.name]) for n in nodes}

    by_column: dict[int, list[str]] = {}
    for n in nodes:
        by_column.setdefault(columns[n.name], []).append(n.name)
    inputs = {n.name: n.inputs for n in nodes}

    # Each column as wide as its widest box or label. Nodes sharing a column sit in rows as near the rows
    # of their inputs as they can, one row apart at least, the group kept centred on where it wanted to be.
    x = 20.0
    row_height = max(b.h + b.depth * 0.5 + 3 * LINE + 30 for b in boxes.values())
    row: dict[str, float] = {}
    left_of: dict[int, float] = {}
    right_of: dict[int, float] = {}
    for column in sorted(by_column):
        wanted = {name: _barycentre(name, inputs, row) for name in by_column[column]}
        names = sorted(by_column[column], key=lambda name: wanted[name])
        placed: list[float] = []
        for name in names:
            placed.append(wanted[name] if not placed else max(wanted[name], placed[-1] + 1))
        shift = sum(wanted[n] for n in names) / len(names) - sum(placed) / len(placed)
        width = max(max(boxes[name].w + boxes[name].depth * 0.5, boxes[name].text_w) for name in names)
        for name, slot in zip(names, placed):
            row[name] = slot + shift
            box = boxes[name]
            centre = x + width / 2
            box.x = centre - (box.w + box.depth * 0.5) / 2
            box.y = row[name] * row_height - box.h / 2
            box.text_x = centre
            box.text_y = box.y + box.h + 6
        left_of[column], right_of[column] = x, x + width
        x += width + GAP

    # Edges run in the gaps between columns, where nothing is drawn: out of the source to the right, along
    # the gap to the target's height, into the target. An edge that skips columns (a shortcut, a U-Net skip)
    # climbs to a lane above everything, higher for longer spans so that lanes never run along each other.
    top = min(b.bounds[1] for b in boxes.values())
    lanes: list[list[tuple[int, int]]] = []
    lane_of: dict[tuple[str, str], int] = {}
    spans = sorted((columns[t.name] - columns[s], s, t.name) for t in nodes for s in t.inputs)
    for span, s, t in spans:
        if span <= 1:
            continue
        interval = (columns[s], columns[t])
        for k, taken in enumerate(lanes):
            if all(interval[1] <= a or b <= interval[0] for a, b in taken):
                taken.append(interval)
                lane_of[(s, t)] = k
                break
        else:
            lanes.append([interval])
            lane_of[(s, t)] = len(lanes) - 1
    edges: list[Edge] = []
    for n in nodes:
        target = boxes[n.name]
        for s in dict.fromkeys(n.inputs):
            source = boxes[s]
            start = (source.x + source.w, source.y + source.h / 2)
            end = (target.x, target.y + target.h / 2)
            out_x = right_of[columns[s]] + GAP / 2
            in_x = left_of[columns[n.name]] - GAP / 2
            if (s, n.name) in lane_of:
                lane_y = top - 18 - 14 * lane_of[(s, n.name)]
                points = [start, (out_x, start[1]), (out_x, lane_y), (in_x, lane_y), (in_x, end[1]), end]
                edges.append(Edge(s, n.name, points, skip=True))
            elif abs(start[1] - end[1]) < 0.5:
                edges.append(Edge(s, n.name, [start, end]))
            else:
                edges.append(Edge(s, n.name, [start, (out_x, start[1]), (out_x, end[1]), end]))

    all_bounds = [b.bounds for b in boxes.values()] + [b.text_bounds for b in boxes.values()]
    all_bounds += [(p[0], p[1], p[0], p[1]) for e in edges for p in e.points]
    left = min(b[0] for b in all_bounds) - 20
    upper = min(b[1] for b in all_bounds) - 36  # room for the title
    right = max(b[2] for b in all_bounds) + 20
    lower = max(b[3] for b in all_bounds) + 16
    for box in boxes.values():
        box.x -= left
        box.y -= upper
        box.text_x -= left
        box.text_y -= upper
    for edge in edges:
        edge.points = [(px - left, py - upper) for px, py in edge.points]
    result = Layout(summary.name, right - left, lower - upper, [boxes[n.name] for n in nodes], edges)
    _round(result)
    return result


def _round(drawn: Layout) -> None:
    """Two decimals everywhere: the SVG text is the same on every machine."""
    drawn.width, drawn.height = round(drawn.width, 2), round(drawn.height, 2)
    for box in drawn.boxes:
        for name in ("x", "y", "w", "h", "depth", "text_x", "text_y", "text_w", "text_h"):
            setattr(box, name, round(getattr(box, name), 2))
    for edge in drawn.edges:
        edge.points = [(round(px, 2), round(py, 2)) for px, py in edge.points]


def _barycentre(name: str, inputs: dict[str, list[str]], row: dict[str, float]) -> float:
    placed = [row[s] for s in inputs.get(name, []) if s in row]
    return sum(placed) / len(placed) if placed else 0.0


def _nodes(summary: Summary, depth: int | None) -> list[_Node]:
    """The input, then one node per layer, or per block instance nested deeper than `depth`."""
    nodes = [_Node("input", "volume" if len(summary.input_shape) > 1 else "vector", tuple(summary.input_shape),
                   "input", [])]
    owner: dict[str, str] = {}  # layer name → the node that stands for it
    blocks = {b.name: b for b in block_records(summary)} if depth is not None else {}
    for record in summary.records:
        group = summary.network.layers[record.index - 1].group
        if depth is not None and len(group) >= depth:
            block = blocks[group[depth - 1]]
            owner[record.name] = block.name
            if not any(n.name == block.name for n in nodes):
                nodes.append(_Node(block.name, "block", tuple(block.output_shape),
                                   f"{block.name} (layers {block.first_index}–{block.last_index})", []))
            node = next(n for n in nodes if n.name == block.name)
            node.shape = tuple(record.output_shape)  # the block's output is its last layer's
            for source in record.inputs:
                source = owner.get(source, source)
                if source != block.name and source not in node.inputs:
                    node.inputs.append(source)
            continue
        owner[record.name] = record.name
        kind = "vector" if len(record.output_shape) == 1 else "volume"
        nodes.append(_Node(record.name, kind, tuple(record.output_shape), caption(summary, record),
                           [owner.get(s, s) for s in record.inputs]))
    return nodes


def caption(summary: Summary, record: LayerRecord) -> str:
    """What the layer does, as the lecture writes it between two volumes: `conv 5×5, 8`, `maxpool 2×2 /2`."""
    options = summary.network.layers[record.index - 1].options
    parts = [record.type]
    kernel = options.get("kernel")
    if kernel is not None:
        parts.append(_times(kernel))
    stride = options.get("stride")
    if stride is not None and _times(stride) not in ("1", "1×1", "1×1×1"):
        parts.append("/" + (_times(stride) if not isinstance(stride, (list, tuple)) or len(set(map(str, stride))) > 1
                            else str(stride[0])))
    padding = _padding_text(options.get("padding"))
    if padding and kernel is not None:
        parts.append(f"pad {padding}")
    text = " ".join(parts)
    for count in ("filters", "units"):
        if options.get(count) is not None:
            text += f", {options[count]}"
    return text


def _padding_text(padding: Any) -> str:
    """`1`, `same`, `full`, `(1, 2)×(0, 1)`; empty for no padding. Reads the parsed forms of layers/base."""
    if padding is None or padding == 0:
        return ""
    if isinstance(padding, tuple) and padding:
        kind, *rest = padding
        if kind == "each":
            values = rest[0] if isinstance(rest[0], (list, tuple)) else [rest[0]]
            return "" if all(v == 0 for v in values) else _times(rest[0])
        if kind == "explicit":
            return "" if all(a == 0 and b == 0 for a, b in rest) else "×".join(f"({a}, {b})" for a, b in rest)
        return str(kind) if kind != "valid" else ""
    return str(padding) if padding != "valid" else ""


def _times(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "×".join(_times(v) for v in value)
    return str(value)


def shape_label(shape: tuple[Any, ...]) -> str:
    # (n - 2)×(n - 2)×8, never n - 2×n - 2×8 (a hidden size is text: "?")
    return "×".join(arith.factor_text(d) if hasattr(d, "free_symbols") else str(d) for d in shape)


def _number(value: Any, fallback: float) -> float:
    if arith.is_int(value):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return fallback  # a symbolic or hidden size is drawn at a nominal size; its label says what it is


@dataclass
class _Scale:
    spatial: float  # px per pixel of the activation
    nominal: float  # the size a symbolic dimension is drawn at


def _scale(nodes: list[_Node]) -> _Scale:
    sizes = [_number(n.shape[0], 0.0) for n in nodes if len(n.shape) >= 2]
    largest = max(sizes + [1.0])
    nominal = largest if largest > 1 else 64.0
    return _Scale(MAX_HEIGHT / max(largest, nominal), nominal)


def _box(node: _Node, scale: _Scale, column: int) -> Box:
    shape = node.shape
    channels = _number(shape[-1], 64.0)
    if len(shape) == 1:  # a vector: a thin bar, its length on a log scale
        h = min(MAX_HEIGHT, 16 + 12 * math.log2(max(channels, 1.0)))
        w, depth = 8.0, 0.0
    else:
        spatial = [_number(d, scale.nominal) for d in shape[:-1]]
        h = max(MIN_SIDE, spatial[-2] * scale.spatial if len(spatial) >= 2 else spatial[0] * scale.spatial)
        depth = max(MIN_SIDE, spatial[-1] * scale.spatial) if len(spatial) >= 2 else 0.0
        w = min(48.0, 4 + 4 * math.log2(max(channels, 1.0)))
    label = shape_label(shape)
    lines = [node.caption, label]
    text_w = max(len(line) for line in lines) * CHAR
    return Box(node.name, node.kind, column, 0.0, 0.0, w, h, depth, node.caption, label,
               text_w=text_w, text_h=LINE * len(lines))


def _columns(nodes: list[_Node]) -> dict[str, int]:
    """Each node in the column of its longest path from the input (nodes come in topological order)."""
    column: dict[str, int] = {}
    for n in nodes:
        column[n.name] = 1 + max((column[s] for s in n.inputs if s in column), default=-1)
    return column


# --- SVG -------------------------------------------------------------------------------------------------

_STYLE = {"volume": ("#dbe8f6", "#b3cde9", "#8fb3dc"), "block": ("#e4f1dc", "#c6e1b5", "#a4cd8c"),
          "vector": ("#f6e4cf", "#ecc99f", "#e0ad70")}


def svg(drawn: Layout) -> str:
    """The layout as a standalone SVG document (no scripts, fonts or links: it shows the same anywhere)."""
    w, h = drawn.width, drawn.height
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}" height="{h:g}" viewBox="0 0 {w:g} {h:g}" '
           f'font-family="DejaVu Sans, Arial, sans-serif" font-size="{FONT}">'),
           f"<title>{escape(drawn.title)}</title>",
           ('<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>'),
           f'<rect width="{w:g}" height="{h:g}" fill="white"/>',
           f'<text x="20" y="22" font-size="14" font-weight="bold">{escape(drawn.title)}</text>']
    for edge in drawn.edges:
        points = " ".join(f"{x:g},{y:g}" for x, y in edge.points)
        dash = ' stroke-dasharray="4 3"' if edge.skip else ""
        out.append(f'<polyline class="edge" points="{points}" fill="none" stroke="#555" stroke-width="1.2"'
                   f'{dash} marker-end="url(#arrow)"/>')
    for box in drawn.boxes:
        front, top, side = _STYLE[box.kind]
        d = box.depth * 0.5
        x, y, bw, bh = box.x, box.y, box.w, box.h
        out.append(f'<g class="box" data-name="{escape(box.name)}">')
        out.append(f"<title>{escape(box.name)}: {escape(box.caption)} → {escape(box.label)}</title>")
        if d:
            out.append(f'<path d="M{x:g},{y:g} l{d:g},{-d:g} h{bw:g} l{-d:g},{d:g} z" fill="{top}" stroke="#456"'
                       ' stroke-width="0.8"/>')
            out.append(f'<path d="M{x + bw:g},{y:g} l{d:g},{-d:g} v{bh:g} l{-d:g},{d:g} z" fill="{side}"'
                       ' stroke="#456" stroke-width="0.8"/>')
        out.append(f'<rect x="{x:g}" y="{y:g}" width="{bw:g}" height="{bh:g}" fill="{front}" stroke="#456"'
                   ' stroke-width="0.8"/>')
        for k, line in enumerate((box.caption, box.label)):
            weight = ' font-weight="bold"' if k == 0 else ""
            out.append(f'<text x="{box.text_x:g}" y="{box.text_y + LINE * (k + 1) - 3:g}" text-anchor="middle"'
                       f'{weight}>{escape(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def overlaps(drawn: Layout) -> list[tuple[str, str]]:
    """Pairs of things that overlap: a box with a box, a box with a label, a label with a label."""
    items = [(f"box {b.name}", b.bounds) for b in drawn.boxes] + [(f"label {b.name}", b.text_bounds)
                                                                 for b in drawn.boxes]
    found = []
    for i, (a, (l1, t1, r1, b1)) in enumerate(items):
        for c, (l2, t2, r2, b2) in items[i + 1:]:
            if a.split(" ", 1)[1] == c.split(" ", 1)[1]:
                continue  # a box and its own label touch by design
            if l1 < r2 and l2 < r1 and t1 < b2 and t2 < b1:
                found.append((a, c))
    return found


# --- TikZ ------------------------------------------------------------------------------------------------

_TIKZ_COLOURS = {kind: tuple(f"{kind}{part}" for part in ("front", "top", "side")) for kind in _STYLE}


def tikz(drawn: Layout, width: str = r"\linewidth", scale: float = 0.55) -> str:
    """The layout as a TikZ picture (needs `\\usepackage{tikz}`), for LaTeX sheets: `scale` pt per pixel,
    shrunk to `width` when it would be wider than about a page's text."""
    from .text import latex_escape

    fits = drawn.width * scale <= 400
    out = ([] if fits else [r"\resizebox{" + width + r"}{!}{%"]) + [
        rf"\begin{{tikzpicture}}[x={scale:g}pt, y=-{scale:g}pt, font=\sffamily\scriptsize]"]
    for kind, colours in _STYLE.items():
        for name, colour in zip(_TIKZ_COLOURS[kind], colours):
            out.append(r"\definecolor{" + name + "}{HTML}{" + colour[1:].upper() + "}")
    for edge in drawn.edges:
        path = " -- ".join(f"({x:g},{y:g})" for x, y in edge.points)
        style = "->, densely dashed" if edge.skip else "->"
        out.append(rf"\draw[{style}, gray!70!black] {path};")
    for box in drawn.boxes:
        front, top, side = _TIKZ_COLOURS[box.kind]
        x, y, w, h, d = box.x, box.y, box.w, box.h, box.depth * 0.5
        if d:
            out.append(rf"\filldraw[fill={top}, draw=black!60] ({x:g},{y:g}) -- ++({d:g},{-d:g}) -- ++({w:g},0) "
                       rf"-- ++({-d:g},{d:g}) -- cycle;")
            out.append(rf"\filldraw[fill={side}, draw=black!60] ({x + w:g},{y:g}) -- ++({d:g},{-d:g}) -- "
                       rf"++(0,{h:g}) -- ++({-d:g},{d:g}) -- cycle;")
        out.append(rf"\filldraw[fill={front}, draw=black!60] ({x:g},{y:g}) rectangle ++({w:g},{h:g});")
        out.append(rf"\node[anchor=north, align=center] at ({box.text_x:g},{box.text_y:g}) "
                   "{\\textbf{" + latex_escape(box.caption) + r"}\\" + latex_escape(box.label) + "};")
    out += [r"\end{tikzpicture}" + ("" if fits else "}")]
    return "\n".join(out) + "\n"
