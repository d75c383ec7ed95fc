"""Convolution-arithmetic figures, as Dumoulin & Visin draw them: the input grid with its padding, the
kernel at a position, and the output cell it makes.

:func:`conv_figure` computes the figure as plain data (which input cells each output cell reads, which
cells are padding or inserted zeros); :func:`svg` draws it — small multiples, one panel per position,
or one panel animated through every position.

A transposed convolution is drawn as the direct convolution it equals: the input with `s − 1` zeros
inserted between neighbouring cells, padded by `d·(k − 1) − p` on each side (plus `output_padding` at the
end), read with stride 1 — the way the conv_arithmetic figures show it.

>>> figure = conv_figure(5, 3, 1, 2)
>>> figure.output_size, figure.grid_size
(3, 7)
>>> figure.reads[(0, 1)][:3]
[(0, 2), (0, 3), (0, 4)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Any

from ..errors import CnnCalcError
from ..maths import arith

CELL = 18  # px per grid cell
TITLE_CHAR = 8.2  # px a character of the 13 px bold title takes, at most (DejaVu Sans, digits and capitals)
CHAR_WIDTH = 6.6  # px a character of the 11 px legend takes
MAX_SIDE = 48  # cells: larger figures are unreadable (and a way to ask for a huge file)


@dataclass
class ConvFigure:
    n: int
    kernel: int
    padding: int
    stride: int
    dilation: int
    transpose: bool
    output_padding: int
    grid_size: int  # the grid the kernel slides over: padded input (stretched, for a transposed conv)
    output_size: int
    kinds: dict[tuple[int, int], str] = field(default_factory=dict)  # grid cell → "input", "pad", "zero"
    padding_name: str | None = None  # how the padding was asked for: "same", "valid", "full"
    reads: dict[tuple[int, int], list[tuple[int, int]]] = field(default_factory=dict)  # output → grid cells

    @property
    def step(self) -> int:
        """How far the kernel moves over the grid between neighbouring output cells."""
        return 1 if self.transpose else self.stride

    @property
    def title(self) -> str:
        what = "transposed convolution" if self.transpose else "convolution"
        extra = f", output_padding = {self.output_padding}" if self.output_padding else ""
        after = self.grid_size - self.n - self.padding
        pad = f"{self.padding}" if self.transpose or after == self.padding else f"({self.padding}, {after})"
        if self.padding_name is not None:
            pad = f"{self.padding_name} {pad if pad.startswith('(') else f'({pad})'}"
        return (f"{what}: n = {self.n}, k = {self.kernel}, p = {pad}, s = {self.stride}, "
                f"d = {self.dilation}{extra} → output {self.output_size}×{self.output_size}")


def conv_figure(n: int, kernel: int, padding: int = 0, stride: int = 1, dilation: int = 1, transpose: bool = False,
                output_padding: int = 0, padding_after: int | None = None) -> ConvFigure:
    """The figure's data; `padding_after` differs from `padding` for TensorFlow's uneven 'same' split."""
    after = padding if padding_after is None else padding_after
    for name, value, least in (("n", n, 1), ("f", kernel, 1), ("p", padding, 0), ("s", stride, 1), ("d", dilation, 1),
                               ("output-padding", output_padding, 0), ("p (after)", after, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise CnnCalcError(f"--{name} must be an integer of at least {least}", got=value,
                               expected=f"an integer ≥ {least}")
    span = arith.effective_kernel(kernel, dilation)
    if transpose:
        if output_padding >= max(stride, dilation):
            raise CnnCalcError("--output-padding must be smaller than the stride or the dilation",
                               got=output_padding, expected=f"< {max(stride, dilation)}")
        edge = span - 1 - padding
        if edge < 0:
            raise CnnCalcError("the padding is larger than the kernel can take back in a transposed convolution",
                               got=padding, expected=f"p ≤ d·(k − 1) = {span - 1}")
        stretched = (n - 1) * stride + 1
        grid = stretched + 2 * edge + output_padding
        if after != padding:
            raise CnnCalcError("a transposed convolution is drawn with the same padding on both sides",
                               got=(padding, after), expected="p before = p after")
        output = arith.transpose_output(n, kernel, stride, padding, padding, output_padding, dilation)
    else:
        edge = padding
        grid = n + padding + after
        if span > grid:
            raise CnnCalcError("the kernel is larger than the padded input", got=span,
                               expected=f"d·(k − 1) + 1 ≤ n + 2p = {grid}")
        output = arith.conv_output(n, kernel, stride, padding, after, dilation)
    if grid > MAX_SIDE or output > MAX_SIDE:
        raise CnnCalcError("the figure would be too large to read", got=max(grid, output),
                           expected=f"at most {MAX_SIDE} cells a side")
    if output < 1:
        raise CnnCalcError("the output would be empty", got=output, expected="at least 1")
    figure = ConvFigure(n, kernel, padding, stride, dilation, transpose, output_padding, grid, output)
    along = [_kind(index, edge, n, stride, transpose) for index in range(grid)]
    for r in range(grid):
        for c in range(grid):
            pair = (along[r], along[c])
            figure.kinds[(r, c)] = "pad" if "pad" in pair else "zero" if "zero" in pair else "input"
    step = figure.step
    for i in range(output):
        for j in range(output):
            figure.reads[(i, j)] = [(i * step + a * dilation, j * step + b * dilation)
                                    for a in range(kernel) for b in range(kernel)]
    return figure


def _kind(index: int, edge: int, n: int, stride: int, transpose: bool) -> str:
    inner = index - edge
    if not transpose:
        return "input" if 0 <= inner < n else "pad"
    stretched = (n - 1) * stride + 1
    if not 0 <= inner < stretched:
        return "pad"
    return "input" if inner % stride == 0 else "zero"


_FILL = {"input": "#a9c8ea", "pad": "#ffffff", "zero": "#f3f3f3"}


def svg(figure: ConvFigure, positions: list[tuple[int, int]] | None = None, animate: bool = False,
        show_output: bool = True) -> str:
    """Panels side by side (every position, or those given); with `animate`, one panel stepping through
    every position (SMIL: no script, plays in any browser). Without `show_output` (exercise sheets) one
    panel shows the padded input and the kernel at its first position only — the output's size would
    give an answer away."""
    every = sorted(figure.reads)
    if not show_output:
        positions, animate = every[:1], False
    if positions is None:
        positions = every if len(every) <= 16 else every[:1]
    for position in positions:
        if position not in figure.reads:
            raise CnnCalcError("no such output position", got=f"{position[0]},{position[1]}",
                               expected=f"row,column with each in 0…{figure.output_size - 1}")
    shown = positions[:1] if animate else positions
    grid_px = figure.grid_size * CELL
    out_px = figure.output_size * CELL if show_output else 0
    panel_w = grid_px + 40 + out_px + 30
    panel_h = max(grid_px, out_px) + 40
    columns = min(len(shown), 4)
    rows = (len(shown) + columns - 1) // columns
    title = figure.title if show_output else figure.title.split(" →")[0]
    legend = ("blue: input · white, dashed: padding" + (" · grey: inserted zeros" if figure.transpose else "")
              + " · dark: the kernel's cells · right: the output, its cell marked")
    # as wide as the panels, the title and the legend (one panel alone is narrower than its title)
    width = max(columns * panel_w + 20, math.ceil(20 + TITLE_CHAR * len(title)), math.ceil(20 + CHAR_WIDTH * len(legend)))
    height = rows * panel_h + 70
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">'),
           f"<title>{escape(title)}</title>", f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="13" font-weight="bold">{escape(title)}</text>',
           f'<text x="10" y="38" fill="#444">{escape(legend, quote=False)}</text>']
    for k, position in enumerate(shown):
        ox = 10 + (k % columns) * panel_w
        oy = 52 + (k // columns) * panel_h
        out.append(f'<g class="panel" transform="translate({ox},{oy})">')
        for (r, c), kind in sorted(figure.kinds.items()):
            dash = ' stroke-dasharray="2 2"' if kind == "pad" else ""
            out.append(f'<rect class="cell {kind}" x="{c * CELL}" y="{r * CELL}" width="{CELL}" height="{CELL}" '
                       f'fill="{_FILL[kind]}" stroke="#678"{dash}/>')
        out.append(_kernel(figure, position, every if animate else None))
        if not show_output:
            out.append(f'<text x="0" y="{grid_px + 16}" fill="#333">the kernel at its first position; it moves '
                       f'{figure.step} cell(s) at a time</text>')
            out.append("</g>")
            continue
        base = grid_px + 40
        out.append(f'<text x="{grid_px + 8}" y="{max(grid_px, out_px) / 2 + 4:g}">→</text>')
        for i in range(figure.output_size):
            for j in range(figure.output_size):
                out.append(f'<rect class="out" x="{base + j * CELL}" y="{i * CELL}" width="{CELL}" height="{CELL}" '
                           'fill="#d7f0ee" stroke="#467"/>')
        i, j = position
        mark = (f'<rect class="made" x="{base + j * CELL}" y="{i * CELL}" width="{CELL}" height="{CELL}" '
                'fill="#2a8f86" stroke="#134"')
        if animate:
            out.append(mark + ">" + _steps([(b * CELL - j * CELL, a * CELL - i * CELL) for a, b in every]) + "</rect>")
        else:
            out.append(mark + "/>")
        out.append(f'<text x="0" y="{max(grid_px, out_px) + 16}" fill="#333">output ({i}, {j})</text>'
                   if not animate else "")
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(line for line in out if line) + "\n"


def _kernel(figure: ConvFigure, position: tuple[int, int], every: list[tuple[int, int]] | None) -> str:
    cells = "".join(f'<rect x="{c * CELL + 2}" y="{r * CELL + 2}" width="{CELL - 4}" height="{CELL - 4}" '
                    'fill="#1f4e8c" fill-opacity="0.75"/>' for r, c in figure.reads[position])
    if every is None:
        return f'<g class="kernel">{cells}</g>'
    step = figure.step * CELL
    i, j = position
    moves = [((b - j) * step, (a - i) * step) for a, b in every]
    return f'<g class="kernel">{cells}{_steps(moves)}</g>'


def _steps(moves: list[tuple[int, int]]) -> str:
    """A discrete SMIL translation through the positions, 0.6 s each, repeated."""
    values = ";".join(f"{x} {y}" for x, y in moves)
    return (f'<animateTransform attributeName="transform" type="translate" values="{values}" calcMode="discrete" '
            f'dur="{0.6 * len(moves):g}s" repeatCount="indefinite"/>')


def figure_for_solution(values: dict[str, str | None], solution: Any, transpose: bool = False,
                        output_padding: str | None = None) -> ConvFigure:
    """The figure of the case `cnncalc solve` answered: the given numbers, the unknown's value (the smallest,
    where the floor allows several), and 'same' padding's (before, after) split."""
    known: dict[str, int] = {}
    for name, text in values.items():
        if text is None:
            continue
        try:
            known[name] = int(str(text).strip())
        except ValueError:
            raise CnnCalcError("--draw needs numbers for every value", got=f"--{name} {text}",
                               expected="whole numbers (a symbolic case has no single figure)") from None
    if solution.solutions and all(arith.is_int(v) or getattr(v, "is_Integer", False) for v in solution.solutions):
        known[solution.unknown] = int(min(solution.solutions))
    pads = solution.pads
    if pads is not None and all(arith.is_int(v) or getattr(v, "is_Integer", False) for v in pads):
        known["p"], after = int(pads[0]), int(pads[1])
    else:
        after = None
    missing = [name for name in ("n", "f") if name not in known]
    if missing:
        raise CnnCalcError("--draw needs the input size and the kernel size as numbers", got=", ".join(missing),
                           expected="--n and --f given, or solved to one number")
    return conv_figure(known["n"], known["f"], known.get("p", 0), known.get("s", 1), known.get("d", 1), transpose,
                       int(output_padding or 0), after)


def tikz(figure: ConvFigure, positions: list[tuple[int, int]] | None = None, show_output: bool = True) -> str:
    """The figure's panels as a TikZ picture (needs `\\usepackage{tikz}`), for LaTeX sheets: one row of
    panels, at most four (the first positions, or those given); without `show_output`, the padded input
    and the kernel at its first position only."""
    every = sorted(figure.reads)
    shown = (positions or every)[:4] if show_output else every[:1]
    size = 0.32  # cm per cell
    out = [r"\begin{tikzpicture}[x=" + f"{size}cm" + ", y=-" + f"{size}cm" + r", font=\sffamily\scriptsize]"]
    offset = 0.0
    for i, j in shown:
        for (r, c), kind in sorted(figure.kinds.items()):
            fill = {"input": "blue!25", "pad": "white", "zero": "gray!10"}[kind]
            dash = ", densely dashed" if kind == "pad" else ""
            out.append(rf"\filldraw[fill={fill}, draw=black!50{dash}] ({offset + c:g},{r:g}) rectangle ++(1,1);")
        for r, c in figure.reads[(i, j)]:
            out.append(rf"\fill[blue!60!black, opacity=0.75] ({offset + c + 0.12:g},{r + 0.12:g}) rectangle ++(0.76,0.76);")
        if not show_output:
            out.append(rf"\node[anchor=north west] at ({offset:g},{figure.grid_size + 0.3:g}) "
                       rf"{{the kernel at its first position; it moves {figure.step} cell(s) at a time}};")
            break
        base = offset + figure.grid_size + 1.5
        for a in range(figure.output_size):
            for b in range(figure.output_size):
                fill = "teal!80!black" if (a, b) == (i, j) else "teal!15"
                out.append(rf"\filldraw[fill={fill}, draw=black!50] ({base + b:g},{a:g}) rectangle ++(1,1);")
        out.append(rf"\node[anchor=north west] at ({offset:g},{max(figure.grid_size, figure.output_size) + 0.3:g}) "
                   rf"{{output ({i}, {j})}};")
        offset = base + figure.output_size + 2
    out.append(r"\end{tikzpicture}")
    return "\n".join(out) + "\n"


def figure_for_network(summary: Any) -> ConvFigure | None:
    """The arithmetic figure of a network that is about one convolution (one conv layer on a square 2-D
    input, square kernel, stride and dilation, the same padding on every side); None otherwise."""
    network = summary.network
    convs = [layer for layer in network.layers if layer.type in ("conv", "conv2d", "depthwise_conv",
                                                                  "conv_transpose", "conv_transpose2d")]
    if len(convs) != 1 or len(network.input_shape) != 3:
        return None
    layer = convs[0]
    record = summary.record(layer.name)
    in_shape = summary.input_shape if layer.inputs == ["input"] else summary.record(layer.inputs[0]).output_shape
    options = layer.options

    def square(value: Any) -> int | None:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        return values[0] if len(set(values)) == 1 and isinstance(values[0], int) else None

    n = square(tuple(in_shape[:2]))
    kernel, stride = square(options.get("kernel")), square(options.get("stride", 1))
    dilation = square(options.get("dilation", 1))
    padding = options.get("padding", ("each", 0))
    pad = square(padding[1]) if isinstance(padding, tuple) and padding[:1] == ("each",) else None
    if (n is None or kernel is None or stride is None or dilation is None or pad is None
            or not isinstance(record.output_shape[0], int)):
        return None
    transpose = layer.type.startswith("conv_transpose")
    out_pad = square(options.get("output_padding", 0)) if transpose else 0
    try:
        return conv_figure(n, kernel, pad, stride, dilation, transpose, out_pad or 0)
    except CnnCalcError:
        return None
