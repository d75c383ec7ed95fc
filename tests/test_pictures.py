"""Pictures: network diagrams, convolution-arithmetic figures and the HTML report — as data (nothing
overlaps, every layer drawn, the figure's geometry equals the executor's arithmetic), as files (XML,
golden, deterministic, self-contained) and as a person sees them (headless Chromium, where installed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from cnncalc import analyse, load_spec, loads_spec
from cnncalc.render.common import View
from cnncalc.render.convfig import conv_figure
from cnncalc.render.convfig import svg as conv_svg
from cnncalc.render.diagram import layout, overlaps
from cnncalc.render.html import render_html
from cnncalc.spec.network import zoo_names

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("CNNCALC_REGEN") == "1"

INCEPTION = """name: Inception-style module
input: [28, 28, 192]
layers:
  - {type: conv, name: b1, filters: 64, kernel: 1, inputs: input}
  - {type: conv, name: b2a, filters: 96, kernel: 1, inputs: input}
  - {type: conv, name: b2, filters: 128, kernel: 3, padding: 1}
  - {type: conv, name: b3a, filters: 16, kernel: 1, inputs: input}
  - {type: conv, name: b3, filters: 32, kernel: 5, padding: 2}
  - {type: maxpool, name: b4a, kernel: 3, stride: 1, padding: 1, inputs: input}
  - {type: conv, name: b4, filters: 32, kernel: 1}
  - {type: concat, name: out, inputs: [b1, b2, b3, b4]}
"""


def summaries():
    for name in zoo_names():
        yield name, analyse(load_spec(name))
    yield "unet-small", analyse(load_spec(str(DATA / "unet-small.yaml")))
    yield "inception", analyse(loads_spec(INCEPTION))


@pytest.mark.parametrize("name, summary", list(summaries()), ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("depth", [None, 1])
def test_nothing_overlaps_and_every_layer_is_drawn(name, summary, depth):
    drawn = layout(summary, depth)
    assert overlaps(drawn) == []
    names = {b.name for b in drawn.boxes}
    if depth is None:
        assert names == {"input"} | {r.name for r in summary.records}
        assert len(drawn.edges) == sum(len(dict.fromkeys(r.inputs)) for r in summary.records)
    for box in drawn.boxes:  # everything inside the canvas
        for left, top, right, bottom in (box.bounds, box.text_bounds):
            assert 0 <= left and right <= drawn.width and 0 <= top and bottom <= drawn.height, box.name
    for edge in drawn.edges:
        assert all(0 <= x <= drawn.width and 0 <= y <= drawn.height for x, y in edge.points)


def test_lecture_labels_and_proportions():
    drawn = layout(analyse(load_spec("lenet5")))
    assert [(b.caption, b.label) for b in drawn.boxes] == [
        ("input", "32×32×3"), ("conv 5×5, 8", "28×28×8"), ("maxpool 2×2 /2", "14×14×8"), ("conv 5×5, 16", "10×10×16"),
        ("maxpool 2×2 /2", "5×5×16"), ("flatten", "400"), ("dense, 120", "120"), ("dense, 84", "84"),
        ("dense, 10", "10")]
    boxes = {b.name: b for b in drawn.boxes}
    # heights to scale: 32 → 28 → 14 → 10 → 5
    assert boxes["CONV1"].h / boxes["input"].h == pytest.approx(28 / 32, abs=0.01)
    assert boxes["POOL1"].h / boxes["input"].h == pytest.approx(14 / 32, abs=0.01)
    assert boxes["CONV2"].w > boxes["CONV1"].w > boxes["input"].w  # more channels, thicker
    assert all(boxes[a].x < boxes[b].x for a, b in zip(list(boxes), list(boxes)[1:]))  # a row, left to right
    assert len({round(b.y + b.h / 2) for b in drawn.boxes}) == 1  # on one line


def test_skips_are_arcs_above_and_branches_are_stacked():
    drawn = layout(analyse(load_spec(str(DATA / "unet-small.yaml"))))
    skips = {(e.source, e.target) for e in drawn.edges if e.skip}
    assert skips == {("enc1", "skip1"), ("enc2", "skip2")}
    top = min(b.bounds[1] for b in drawn.boxes)
    lanes = {(e.source, e.target): min(y for _, y in e.points) for e in drawn.edges if e.skip}
    assert all(y < top for y in lanes.values())
    assert lanes[("enc1", "skip1")] < lanes[("enc2", "skip2")]  # the longer span runs higher
    branches = layout(analyse(loads_spec(INCEPTION)))
    column = [b for b in branches.boxes if b.column == 1]
    assert len(column) == 4 and len({b.x + b.w / 2 for b in column}) <= 4
    assert len({round(b.y) for b in column}) == 4  # stacked, not on top of each other


def test_symbolic_sizes_are_drawn_with_their_expressions():
    drawn = layout(analyse(loads_spec("input: [n, n, 3]\nlayers:\n  - {type: conv, filters: 8, kernel: 3}\n"
                                      "  - {type: maxpool, kernel: 2}\n")))
    assert [b.label for b in drawn.boxes] == ["n×n×3", "(n - 2)×(n - 2)×8", "(floor(n/2) - 1)×(floor(n/2) - 1)×8"]
    assert overlaps(drawn) == []


@pytest.mark.parametrize("case, args", [
    ("lenet5", ["lenet5"]),
    ("resnet50-depth1", ["resnet50", "--depth", "1"]),
    ("unet-small", [str(DATA / "unet-small.yaml")]),
])
def test_draw_golden_and_deterministic(cli, tmp_path, case, args):
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    assert cli("draw", *args, "-o", str(first))[0] == 0
    assert cli("draw", *args, "-o", str(second))[0] == 0
    text = first.read_text()
    assert text == second.read_text()
    root = ET.fromstring(text)
    assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}g")) > 3
    golden = GOLDEN / f"draw-{case}.svg"
    if REGEN:
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden.name} differs: regenerate with CNNCALC_REGEN=1 and review"


def literal_reads(n, k, p, s, d):
    out = (n + 2 * p - d * (k - 1) - 1) // s + 1
    return out, {(i, j): [(i * s + a * d, j * s + b * d) for a in range(k) for b in range(k)]
                 for i in range(out) for j in range(out)}


@pytest.mark.parametrize("n, k, p, s, d", [(5, 3, 1, 2, 1), (5, 3, 0, 1, 1), (7, 3, 0, 1, 2), (6, 4, 2, 3, 1)])
def test_conv_figure_geometry(n, k, p, s, d):
    figure = conv_figure(n, k, p, s, d)
    out, reads = literal_reads(n, k, p, s, d)
    assert figure.output_size == out and figure.reads == reads
    assert sum(kind == "input" for kind in figure.kinds.values()) == n * n
    assert sum(kind == "pad" for kind in figure.kinds.values()) == (n + 2 * p) ** 2 - n * n


@pytest.mark.parametrize("n, k, p, s, op", [(3, 3, 0, 2, 0), (4, 3, 1, 2, 1), (2, 2, 0, 2, 0), (3, 4, 1, 3, 2)])
def test_transposed_figure_is_the_executors_transposed_convolution(n, k, p, s, op):
    """The figure's stretched grid, read by the flipped kernel at each drawn position, gives exactly what
    `cnncalc run` computes for the transposed convolution."""
    from cnncalc.run.executor import run

    figure = conv_figure(n, k, p, s, 1, transpose=True, output_padding=op)
    rng = np.random.default_rng(0)
    x = rng.integers(-4, 5, size=(n, n, 1)).astype(float)
    w = rng.integers(-3, 4, size=(k, k, 1, 1)).astype(float)
    spec = (f"input: [{n}, {n}, 1]\nlayers:\n  - {{type: conv_transpose, name: t, filters: 1, kernel: {k}, "
            f"stride: {s}, padding: {p}, output_padding: {op}, bias: false}}\n")
    result = run(loads_spec(spec), x, {"t.weight": w}).output
    assert result.shape[0] == figure.output_size
    edge = k - 1 - p
    grid = np.zeros((figure.grid_size, figure.grid_size))
    grid[edge:edge + (n - 1) * s + 1:s, edge:edge + (n - 1) * s + 1:s] = x[:, :, 0]
    for (r, c), kind in figure.kinds.items():
        assert (kind == "input") == (edge <= r < edge + (n - 1) * s + 1 and (r - edge) % s == 0
                                     and edge <= c < edge + (n - 1) * s + 1 and (c - edge) % s == 0)
    flipped = w[::-1, ::-1, 0, 0].ravel()
    for (i, j), cells in figure.reads.items():
        assert result[i, j, 0] == sum(grid[r, c] * v for (r, c), v in zip(cells, flipped))


def test_conv_figure_svg_and_animation(tmp_path, cli):
    figure = conv_figure(5, 3, 1, 2)
    root = ET.fromstring(conv_svg(figure))
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f".//{ns}g[@class='panel']")) == 9
    assert len(root.findall(f".//{ns}rect[@class='made']")) == 9
    animated = ET.fromstring(conv_svg(figure, animate=True))
    motion = animated.find(f".//{ns}g[@class='kernel']/{ns}animateTransform")
    steps = motion.get("values").split(";")
    assert len(steps) == 9 and steps[0] == "0 0" and steps[1] == f"{2 * 18} 0" and steps[3] == f"0 {2 * 18}"
    code, _, err = cli("draw-conv", "--n", "5", "--f", "3", "--p", "1", "--s", "2", "--position", "1,2",
                       "-o", str(tmp_path / "one.svg"))
    assert code == 0 and "output 3×3" in err
    one = ET.fromstring((tmp_path / "one.svg").read_text())
    made = one.findall(f".//{ns}rect[@class='made']")
    assert len(made) == 1 and made[0].get("x") == str(7 * 18 + 40 + 2 * 18) and made[0].get("y") == str(18)


@pytest.mark.parametrize("args, fragment", [
    (["--n", "5", "--f", "9"], "kernel is larger than the padded input"),
    (["--n", "0", "--f", "1"], "--n must be an integer of at least 1"),
    (["--n", "500", "--f", "3"], "too large to read"),
    (["--n", "5", "--f", "3", "--s", "0"], "--s must be an integer of at least 1"),
    (["--n", "3", "--f", "3", "--s", "2", "--transpose", "--output-padding", "2"], "smaller than the stride"),
    (["--n", "3", "--f", "3", "--p", "5", "--transpose"], "padding is larger than the kernel"),
    (["--n", "5", "--f", "3", "--position", "9,9"], "no such output position"),
    (["--n", "5", "--f", "3", "--position", "a"], "bad --position"),
])
def test_conv_figure_errors(cli, tmp_path, args, fragment):
    code, _, err = cli("draw-conv", *args, "-o", str(tmp_path / "x.svg"))
    assert code == 2 and fragment in err
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.parametrize("output, fragment", [("x.png", "unknown file type"), ("missing/x.svg", "does not exist"),
                                              (".", "unknown file type")])
def test_output_paths(cli, tmp_path, output, fragment):
    code, _, err = cli("draw", "lenet5", "-o", str(tmp_path / output))
    assert code == 2 and fragment in err


def test_writing_keeps_a_link_and_the_mode(cli, tmp_path):
    real = tmp_path / "real.svg"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.svg"
    link.symlink_to(real)
    assert cli("draw", "lenet5", "-o", str(link))[0] == 0
    assert link.is_symlink() and real.read_text().startswith("<svg") and (real.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.svg", "real.svg"]  # no temporary left


def test_html_report_is_self_contained(cli, tmp_path):
    out = tmp_path / "report.html"
    code, _, _ = cli("summary", "densenet121", "--format", "html", "-o", str(out))
    assert code == 0
    text = out.read_text()
    assert out.stat().st_size < 2_000_000
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+", text))
    assert urls <= {"http://www.w3.org"}, urls  # only the SVG namespace name, never fetched
    assert "<link" not in text and " src=" not in text
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.DOTALL).group(1))
    assert data["totals"]["params"] == 7978856 and len(data["layers"]) == len(analyse(load_spec("densenet121")).records)


def test_html_escapes_names():
    spec = "name: '</script><script>alert(1)</script>'\ninput: [8, 8, 1]\nlayers:\n  - {type: conv, filters: 1, kernel: 3}\n"
    text = render_html(analyse(loads_spec(spec)), View())
    assert "<script>alert(1)" not in text and "&lt;/script&gt;" in text


# --- as a person sees them ----------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium installed")


def browser(url: str, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
                               "--enable-logging=stderr", "--v=0", *extra, url],
                              capture_output=True, text=True, timeout=120, check=False)


def ink(png: Path) -> float:
    """The share of pixels that are not (nearly) white."""
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("L"), dtype=float)
    return float((pixels < 235).mean())


@needs_browser
@pytest.mark.parametrize("args", [["lenet5"], ["resnet50", "--depth", "1"], [str(DATA / "unet-small.yaml")]])
def test_diagrams_in_a_browser(cli, tmp_path, args):
    pytest.importorskip("PIL")
    svg_file = tmp_path / "d.svg"
    assert cli("draw", *args, "-o", str(svg_file))[0] == 0
    root = ET.fromstring(svg_file.read_text())
    width, height = int(float(root.get("width"))) + 1, int(float(root.get("height"))) + 1
    png = tmp_path / "d.png"
    browser(svg_file.as_uri(), f"--window-size={width},{height}", f"--screenshot={png}")
    assert png.exists()
    share = ink(png)
    assert 0.03 < share < 0.6, share  # drawn on, not blank, not a solid block


@needs_browser
def test_html_report_in_a_browser(cli, tmp_path):
    pytest.importorskip("PIL")
    report = tmp_path / "r.html"
    assert cli("summary", "lenet5", "--format", "html", "-o", str(report))[0] == 0
    dom = browser(report.as_uri(), "--dump-dom")
    assert 'data-ready="yes"' in dom.stdout, dom.stderr[-2000:]  # the script ran to its end
    assert 'id="rf-field"' in dom.stdout  # the receptive-field view drew the field
    assert "Output pixel (0, 0) of POOL2 sees 16×16 input pixels" in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    png = tmp_path / "r.png"
    browser(report.as_uri(), "--window-size=1200,1600", f"--screenshot={png}")
    assert 0.02 < ink(png) < 0.6


def test_readme_figures_are_up_to_date(tmp_path, cli):
    """README.md and docs/cli.md show docs/images/*.svg; regenerate them with `python docs/images/make.py`."""
    shown = {(page.parent / target).resolve()  # each image link, resolved from the page that shows it
             for page in (ROOT / "README.md", ROOT / "docs" / "cli.md")
             for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text(encoding="utf-8"))}
    for name, args in (("lenet5.svg", ["draw", "lenet5"]),
                       ("conv-n5-f3-p1-s2.svg", ["draw-conv", "--n", "5", "--f", "3", "--p", "1", "--s", "2"])):
        fresh = tmp_path / name
        assert cli(*args, "-o", str(fresh))[0] == 0
        committed = ROOT / "docs" / "images" / name
        assert fresh.read_text() == committed.read_text(), f"{name} is out of date: run python docs/images/make.py"
        assert committed.resolve() in shown, f"neither README.md nor docs/cli.md shows docs/images/{name}"


def test_solve_draws_the_case_it_solved(cli, tmp_path):
    drawn = tmp_path / "s.svg"
    code, out, err = cli("solve", "--n", "5", "--f", "3", "--p", "1", "--out", "3", "--for", "s", "--draw", str(drawn))
    assert code == 0 and "s = 2" in out and "s = 2, d = 1 → output 3×3" in err
    assert drawn.read_text() == conv_svg(conv_figure(5, 3, 1, 2))
    code, out, err = cli("solve", "--n", "7", "--f", "4", "--same", "--for", "p", "--draw", str(drawn))
    assert code == 0 and "p = (1, 2)" in err and "output 7×7" in err  # TensorFlow's uneven split, drawn
    figure = conv_figure(7, 4, 1, 1, padding_after=2)
    assert figure.grid_size == 10 and figure.output_size == 7
    assert [figure.kinds[(0, c)] for c in range(10)] == ["pad"] * 10
    assert [figure.kinds[(1, c)] for c in range(10)] == ["pad"] + ["input"] * 7 + ["pad"] * 2
    code, _, err = cli("solve", "--n", "n", "--f", "3", "--for", "out", "--draw", str(tmp_path / "x.svg"))
    assert code == 2 and "--draw needs numbers" in err


def _has_tikz() -> bool:
    if shutil.which("pdflatex") is None or shutil.which("kpsewhich") is None:
        return False
    found = subprocess.run(["kpsewhich", "tikz.sty"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


@pytest.mark.skipif(not _has_tikz(), reason="pdflatex with TikZ is not installed")
def test_tikz_pictures_compile(tmp_path):
    from cnncalc.render.convfig import tikz as conv_tikz
    from cnncalc.render.diagram import tikz

    body = "\n\n".join([tikz(layout(analyse(load_spec("lenet5")))),
                        tikz(layout(analyse(load_spec(str(DATA / "unet-small.yaml"))))),
                        conv_tikz(conv_figure(5, 3, 1, 2)),
                        conv_tikz(conv_figure(3, 3, 0, 2, transpose=True), [(0, 0), (2, 3)])])
    document = ("\\documentclass{article}\\usepackage[utf8]{inputenc}\\usepackage{tikz}\\begin{document}\n"
                + body + "\n\\end{document}\n")
    (tmp_path / "doc.tex").write_text(document, encoding="utf-8")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-3000:]


def test_tikz_follows_the_layout():
    from cnncalc.render.convfig import tikz as conv_tikz
    from cnncalc.render.diagram import tikz

    drawn = layout(analyse(load_spec("lenet5")))
    text = tikz(drawn)
    assert text.count(r"\node[") == len(drawn.boxes) and text.count(r"\draw[->") == len(drawn.edges)
    assert r"\textbf{conv 5$\times$5, 8}\\28$\times$28$\times$8" in text
    figure = conv_figure(5, 3, 1, 2)
    picture = conv_tikz(figure, [(1, 2)])
    assert picture.count("blue!60!black") == 9 and picture.count("teal!80!black") == 1
    assert picture.count("densely dashed") == 7 * 7 - 5 * 5


def test_sheets_draw_the_networks_without_giving_answers_away(cli, tmp_path):
    code, _, err = cli("generate", str(ROOT / "problems" / "cnn-layers-worksheet.yaml"), "--seed", "3",
                       "--out", str(tmp_path / "html"), "--format", "html")
    assert code == 0, err
    sheet = next((tmp_path / "html" / "sheets").glob("*.html")).read_text()
    diagrams = re.findall(r'<div class="figure">(<svg.*?</svg>)', sheet, re.DOTALL)
    assert len(diagrams) >= 4  # one per network, and part a's convolution
    first = ET.fromstring(diagrams[0])
    labels = [t.text for t in first.iter("text")]
    assert "6×6×3" in labels and "?×?×?" in labels and "4×4×1" not in labels  # a.shape stays to be worked out
    assert "conv 3×3, 1" in labels
    conv = ET.fromstring(diagrams[1])
    assert conv.find(".//rect[@class='out']") is None and conv.find(".//rect[@class='cell input']") is not None
    assert "→ output" not in diagrams[1]


@pytest.mark.skipif(not _has_tikz(), reason="pdflatex with TikZ is not installed")
def test_latex_sheet_with_figures_compiles(cli, tmp_path):
    code, _, err = cli("generate", str(ROOT / "problems" / "cnn-layers-worksheet.yaml"), "--seed", "3",
                       "--out", str(tmp_path / "tex"), "--format", "latex")
    assert code == 0, err
    sheet = next((tmp_path / "tex" / "sheets").glob("*.tex"))
    assert r"\usepackage{tikz}" in sheet.read_text() and r"\begin{tikzpicture}" in sheet.read_text()
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", sheet.name], cwd=sheet.parent,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "30", "-png", "-f", "2", "-l", "2", sheet.with_suffix(".pdf").name, "page"],
                       cwd=sheet.parent, check=True, timeout=60)
        assert ink(next(sheet.parent.glob("page*.png"))) > 0.01
