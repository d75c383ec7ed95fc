"""Details of the HTML report, the convolution figures, the zoo listing and output files that the larger
rendering tests pass over: each checked against the course's numbers or a construction written out here."""

from __future__ import annotations

import html
import json
import re

import pytest

from cnncalc.calc.analysis import analyse
from cnncalc.errors import CnnCalcError
from cnncalc.render import render
from cnncalc.render.convfig import conv_figure
from cnncalc.render.files import write_text
from cnncalc.render.service import zoo_listing
from cnncalc.spec.network import load_spec


def _cells(page: str, tag: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", page, re.DOTALL)]


@pytest.mark.parametrize("explain", [False, True])
def test_html_report_has_the_lecture_columns_and_every_worked_formula(explain):
    page = render(analyse(load_spec("lenet5")), "html", explain=explain)
    assert _cells(page, "th") == ["#", "Layer (type)", "Output shape", "Size", "Params", "MACs", "Receptive field"]
    # the worked formulas are in the page either way (the checkbox shows or hides them); only the page's
    # starting state follows --explain
    explains = [html.unescape(e) for e in re.findall(r'<div class="explain">(.*?)</div>', page, re.DOTALL)]
    assert "H: ⌊(32 + 2·0 − 5)/1⌋ + 1 = 28" in explains[0].splitlines()
    assert "params: 5·5·3·8 + 8 = 608" in explains[0].splitlines()
    assert "MACs: 10·10·16·8·5·5 = 320,000" in explains[2].splitlines()
    body = re.search(r"<body[^>]*>", page)
    assert body is not None and body.group(0) == ("<body class=explaining>" if explain else "<body>")
    assert ('id="show-explain" checked>' in page) is explain


def _transposed_grid(n: int, k: int, s: int, p: int, output_padding: int) -> list[list[str]]:
    """Dumoulin & Visin's picture of a transposed convolution, built cell by cell: s − 1 inserted zeros
    between the inputs, a border of k − 1 − p padding cells, output_padding more on the far side."""
    line = ["input" if i % s == 0 else "zero" for i in range((n - 1) * s + 1)]
    edge = ["pad"] * (k - 1 - p)
    along = edge + line + edge + ["pad"] * output_padding
    return [["pad" if "pad" in (a, b) else "zero" if "zero" in (a, b) else "input" for b in along] for a in along]


@pytest.mark.parametrize(("n", "k", "s", "p", "op"), [(3, 3, 2, 0, 0), (2, 3, 3, 1, 1), (4, 2, 2, 0, 1), (3, 3, 1, 1, 0)])
def test_transposed_figure_is_the_stretched_input_with_its_border(n, k, s, p, op):
    figure = conv_figure(n, k, padding=p, stride=s, transpose=True, output_padding=op)
    want = _transposed_grid(n, k, s, p, op)
    assert figure.grid_size == len(want)
    assert [[figure.kinds[(r, c)] for c in range(len(want))] for r in range(len(want))] == want
    assert figure.output_size == (n - 1) * s - 2 * p + k + op == len(want) - k + 1


def test_zoo_listing_names_every_spec_with_its_title():
    entries = json.loads(zoo_listing().json())["zoo"]
    assert {"name": "lenet5", "title": "LeNet-style table from the lecture"} in entries
    assert all(set(entry) == {"name", "title"} for entry in entries)


def test_an_unknown_output_suffix_names_the_file(tmp_path):
    target = tmp_path / "report.docx"
    with pytest.raises(CnnCalcError) as caught:
        write_text(str(target), "text", (".txt", ".md"))
    assert str(target) in str(caught.value) and ".docx" in str(caught.value)
    assert not target.exists()
