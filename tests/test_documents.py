"""Every document format exactly right: LaTeX that compiles (pdflatex, where installed), Markdown math,
CSV shapes as one cell, tables that fit the width asked for; `--version`, `summary -`, `zoo --format json`,
help without placeholders."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess

import pytest

from cnncalc import analyse, loads_spec
from cnncalc.render import render
from cnncalc.render.text import latex_escape, latex_explain
from cnncalc.spec.network import zoo_names

SYMBOLIC = """name: "Odd & names: 50% of $x_1 #{}~^\\\\ <b> | é 名前"
input: [n, n, 3]
layers:
  - {type: conv, name: "c_1 & #2", filters: 8, kernel: 3}
  - {type: maxpool, kernel: 2}
  - {type: conv, filters: 4, kernel: 3, stride: 2, padding: 1}
  - {type: global_avgpool}
  - {type: dense, units: 10}
"""


def split_shape(cell: str) -> list[str]:
    """The CSV shape cell back into its dimensions: split on 'x' outside parentheses."""
    dims, depth, current = [], 0, ""
    for ch in cell:
        if ch == "x" and depth == 0:
            dims.append(current)
            current = ""
            continue
        depth += (ch == "(") - (ch == ")")
        current += ch
    dims.append(current)
    return [d[1:-1] if d.startswith("(") and d.endswith(")") else d for d in dims]


def test_csv_shape_is_one_unambiguous_cell(cli, cli_json):
    spec = "input: [x, x, 3]\nlayers:\n  - {type: conv, filters: 8, kernel: 3}\n  - {type: maxpool, kernel: 2}\n"
    summary = analyse(loads_spec(spec))
    rows = list(csv.DictReader(io.StringIO(render(summary, "csv", False, None, None, 1))))[1:-1]  # the layers
    assert rows[0]["output_shape"] == "(x - 2)x(x - 2)x8"
    assert rows[1]["output_shape"] == "(floor(x/2) - 1)x(floor(x/2) - 1)x8"
    for row, record in zip(rows, summary.records):
        assert split_shape(row["output_shape"]) == [str(d) for d in record.output_shape]
    numeric = list(csv.DictReader(io.StringIO(render(analyse(loads_spec(spec.replace("x, x", "9, 9"))), "csv",
                                                     False, None, None, 1))))
    assert [r["output_shape"] for r in numeric] == ["9x9x3", "7x7x8", "3x3x8", ""]  # input, layers, total


@pytest.mark.parametrize("text, cell", [("=1+1", "'=1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("+x", "'+x"),
                                        ("-x", "'-x"), ("-3", "-3"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
                                        ("  =1", "'  =1"), ("plain", "plain")])
def test_csv_cells_are_defused(text, cell):
    from cnncalc.render.text import _safe_cell

    assert _safe_cell(text) == cell


def test_markdown_writes_symbolic_values_as_math_and_escapes_names():
    out = render(analyse(loads_spec(SYMBOLIC)), "markdown", True, None, None, 1)
    assert r"| $n - 2$" not in out  # dims are inside a shape
    assert r"($n - 2$, $n - 2$, 8)" in out
    assert r"$8 \left(n - 2\right)^{2}$" in out  # the size, as LaTeX math
    assert r"c\_1 & #2 (conv)" in out and r"\<b\> \| é 名前" in out
    assert "**" not in out.replace("\\*", "")  # sympy's power never turns into bold
    assert "216·(n - 2)^2" in out  # the worked MACs line, readable


def test_latex_escapes_every_user_string_and_writes_math():
    out = render(analyse(loads_spec(SYMBOLIC)), "latex", True, None, None, 1)
    assert r"c\_1 \& \#2 (conv)" in out
    assert r"50\% of \$x\_1 \#\{\}\textasciitilde{}\textasciicircum{}\textbackslash{} \textless{}b\textgreater{}" in out
    assert "floor(" not in out and "≈" not in out and "·" not in out and "−" not in out
    assert r"\left\lfloor{\frac{n}{2}}\right\rfloor" in out or r"\left\lceil{\frac{n}{2}}\right\rceil" in out
    assert "[U+540D][U+524D]" in out  # characters pdflatex's default fonts lack, written as code points
    body = out.replace("\\\\", "")
    assert all(ch.isascii() or ch in "é" for ch in body), {ch for ch in body if not ch.isascii()}


@pytest.mark.parametrize("line, latex", [
    ("H: ⌊(n + 2·0 − 3)/1⌋ + 1 = floor(n/2) - 1", r"H: $\lfloor$(n + 2$\cdot$0 $-$ 3)/1$\rfloor$ + 1 = $\lfloor$n/2$\rfloor$ - 1"),
    ("MACs: 216*(n - 2)**2", r"MACs: 216$\cdot$(n - 2)$^{2}$"),
    ("x = ceil((n - 1)/2)", r"x = $\lceil$(n - 1)/2$\rceil$"),
    ("x = ceiling(n/2)", r"x = $\lceil$n/2$\rceil$"),
    ("100% of a_b", r"100\% of a\_b"),
])
def test_latex_explain_lines(line, latex):
    assert latex_explain(line) == latex


def test_latex_escape_covers_control_characters():
    assert latex_escape("a\nb\tc") == "a b c"


def _pdflatex(tmp_path, body: str) -> None:
    document = ("\\documentclass{article}\\usepackage[utf8]{inputenc}\\usepackage{amsmath}"
                "\\usepackage[landscape,margin=1cm]{geometry}\\begin{document}\\tiny\n" + body + "\n\\end{document}\n")
    (tmp_path / "doc.tex").write_text(document, encoding="utf-8")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("name", ["lenet5", "resnet50-keras", "SYMBOLIC"])
def test_latex_compiles(tmp_path, name):
    spec = loads_spec(SYMBOLIC) if name == "SYMBOLIC" else None
    from cnncalc import load_spec

    summary = analyse(spec or load_spec(name))
    _pdflatex(tmp_path, render(summary, "latex", True, None, 2 if name == "resnet50-keras" else None, 1))
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "30", "-png", "-f", "1", "-l", "1", "doc.pdf", "page"], cwd=tmp_path,
                       check=True, timeout=60)
        page = next(tmp_path.glob("page*.png"))
        assert page.stat().st_size > 2000  # a page with text on it, not a blank one


@pytest.mark.parametrize("name", zoo_names())
@pytest.mark.parametrize("width", [60, 80, 100])
def test_width_is_a_promise(cli, name, width):
    code, natural, _ = cli("summary", name, "--depth", "1", "--explain")
    code, out, _ = cli("summary", name, "--depth", "1", "--explain", "--width", str(width))
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= width
    total = re.search(r"Total params: [\d,]+", natural).group(0)
    assert total in out
    if max(len(line) for line in natural.splitlines()) <= width:
        assert out == natural  # a table that already fits is left as it is


def test_width_keeps_numbers_whole_when_text_can_give_way(cli):
    code, out, _ = cli("summary", "resnet50", "--depth", "1", "--width", "80")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 80
    for figure in ("4,089,184,256", "25,557,032", "1,464,336,384", "7,098,368"):
        assert figure in out


def test_version(cli_process):
    from importlib.metadata import version

    code, out, _ = cli_process("--version")
    assert code == 0 and out == f"cnncalc {version('cnncalc')}\n"


def test_summary_reads_standard_input(cli_process):
    from cnncalc.spec.network import ZOO_DIR

    text = (ZOO_DIR / "lenet5.yaml").read_text()
    code, out, _ = cli_process("summary", "-", "--format", "json", stdin=text)
    assert code == 0 and json.loads(out)["totals"]["params"] == 62958
    code, out, err = cli_process("summary", "-", stdin="input: [8, 8, 3]\nlayers:\n  - {type: conv, kernal: 3}\n")
    assert code == 2 and err.startswith("error: <stdin>:3:") and "did you mean 'kernel'" in err
    code, _, err = cli_process("validate", "-", stdin="")
    assert code == 2 and "<stdin>" in err


def test_zoo_json(cli_json):
    entries = {e["name"]: e for e in cli_json("zoo")["zoo"]}
    assert set(entries) == set(zoo_names())
    assert entries["lenet5"]["params"] == 62958 and entries["lenet5"]["input"] == [32, 32, 3]
    assert entries["resnet50-keras"]["non_trainable_params"] == 53120
    assert entries["resnet50"]["macs"] == 4089184256


@pytest.mark.parametrize("command", ["summary", "run", "solve", "grade", "generate", "key", "validate", "zoo"])
def test_help_names_values_without_placeholders(cli_process, command):
    code, out, _ = cli_process(command, "--help", env={"COLUMNS": "120"})
    assert code == 0
    assert "<str>" not in out and "<int>" not in out and "<list[" not in out and "{" not in out.splitlines()[0], out
