"""The options that change what a command reads or shows: `--input` (another input shape), `--columns`
(and the % columns), CSV's input and total rows, the format from `-o`'s extension, `--width`, the
channels-first warning, the receptive field worked out in `--explain`, sums in parentheses wherever a
symbolic size is written in a product, `solve`'s padding words and long lists, `draw-conv --p same` and
`run --save-weights`. Every figure is checked against an independent count: a literal loop, the formula
written out here, or sympy re-reading the printed text."""

from __future__ import annotations

import csv
import io
import re
from fractions import Fraction

import numpy as np
import pytest
import sympy

from cnncalc.calc.analysis import analyse
from cnncalc.interop.service import read_network
from cnncalc.render.diagram import layout
from cnncalc.spec.network import loads_spec

SYMBOLIC = """input: [n, n, 3]
layers:
  - {type: conv, filters: 8, kernel: 5, padding: 2, stride: 8}
  - {type: conv, filters: 8, kernel: 3, stride: 2}
  - {type: maxpool, kernel: 2}
  - {type: conv, filters: 16, kernel: 3, dilation: 2}
  - {type: global_avgpool}
  - {type: dense, units: 10}
"""


def conv_out(n: int, k: int, s: int = 1, p: int = 0) -> int:
    return (n + 2 * p - k) // s + 1


def resnet50_macs(size: int) -> tuple[int, int]:
    """torchvision's ResNet-50 (v1.5: the stride on the 3×3 conv) counted by hand: (MACs, last map side)."""
    macs, n = 0, conv_out(size, 7, 2, 3)
    macs += n * n * 64 * 3 * 7 * 7
    n = conv_out(n, 3, 2, 1)  # max pool
    channels = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            s = stride if b == 0 else 1
            out = conv_out(n, 3, s, 1)
            macs += n * n * width * channels  # 1×1 reduce
            macs += out * out * width * width * 9  # 3×3, strided
            macs += out * out * 4 * width * width  # 1×1 expand
            if b == 0:
                macs += out * out * 4 * width * channels  # the projection shortcut
            channels, n = 4 * width, out
    return macs + 2048 * 1000, n


# ---------------------------------------------------------------- --input


def test_input_changes_the_shape_and_the_macs_of_resnet50(cli_json):
    macs, side = resnet50_macs(160)
    data = cli_json("summary", "resnet50", "--input", "160,160,3")
    assert data["input"] == [160, 160, 3]
    assert data["totals"]["macs"] == macs == 2_087_321_600
    assert data["totals"]["params"] == 25_557_032  # the input size does not change a parameter
    assert next(d for d in data["layers"] if d["type"] == "global_avgpool")["output_shape"] == [2048]
    assert data["layers"][-3]["output_shape"] == [side, side, 2048] == [5, 5, 2048]
    assert resnet50_macs(224)[0] == cli_json("summary", "resnet50")["totals"]["macs"]  # the count itself is right
    named = cli_json("summary", "resnet50", "--input", "input=[160, 160, 3]")
    assert named["totals"]["macs"] == macs


@pytest.mark.parametrize("text, message", [
    ("160,,3", "bad --input"), ("160;160;3", "bad --input"), ("0,5,3", "bad --input"), ("x=160,160,3", "'x'"),
    ("1,2,3,4,5", "bad --input"), ("for,for,3", "bad --input"), ("9" * 300, "bad --input"), ("", "bad --input")])
def test_a_bad_input_shape_is_one_line_and_exit_2(cli, text, message):
    code, out, err = cli("summary", "lenet5", "--input", text)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_input_reaches_every_command_that_reads_a_spec(cli, tmp_path):
    code, _, err = cli("draw", "lenet5", "--input", "28,28,3", "-o", str(tmp_path / "a.svg"))
    assert code == 0 and "(24, 24, 8)" not in err
    assert "24×24×8" in (tmp_path / "a.svg").read_text()  # (28 − 5) + 1
    code, out, _ = cli("validate", "lenet5", "--input", "36,36,3")
    assert code == 0 and out.startswith("ok")
    code, out, _ = cli("export", "lenet5", "--to", "pytorch", "--input", "36,36,3")
    side = conv_out(conv_out(36, 5) // 2, 5) // 2  # 36 → 32 → 16 → 12 → 6
    assert code == 0 and f"nn.Linear({side * side * 16}, 120)" in out and side == 6
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [64, 64, 3]\nlayers: [{type: conv, filters: 4, kernel: 5, stride: 4}]\n")
    code, out, _ = cli("solve", "--spec", str(spec), "--for", "n", "--input", "n,n,3", "--max", "20", "--exact")
    assert code == 0 and f"n ∈ {{{', '.join(str(n) for n in range(1, 21) if n >= 5 and (n - 5) % 4 == 0)}}}" in out
    code, _, err = cli("solve", "--f", "3", "--for", "out", "--n", "5", "--input", "5,5,3")
    assert code == 2 and "--input needs --spec" in err


def test_run_takes_another_input_shape_and_saves_the_weights_it_made(cli, tmp_path):
    x = np.arange(28 * 28 * 3, dtype=float).reshape(28, 28, 3) % 7
    np.save(tmp_path / "x.npy", x)
    code, _, err = cli("run", "lenet5", "--input", str(tmp_path / "x.npy"), "--seed", "5")
    assert code == 2 and "does not match" in err
    first, weights = tmp_path / "a.npy", tmp_path / "w.npz"
    code, _, err = cli("run", "lenet5", "--input", str(tmp_path / "x.npy"), "--input-shape", "28,28,3", "--seed", "5",
                       "--save-weights", str(weights), "-o", str(first))
    assert code == 0, err
    saved = np.load(weights)
    assert saved["FC3.weight"].shape == (4 * 4 * 16, 120)  # 28 → 24 → 12 → 8 → 4
    assert sorted(saved) == sorted(f"{layer}.{part}" for layer in ("CONV1", "CONV2", "FC3", "FC4", "FC5")
                                   for part in ("weight", "bias"))
    again = tmp_path / "b.npy"
    code, _, err = cli("run", "lenet5", "--input", str(tmp_path / "x.npy"), "--input-shape", "28,28,3",
                       "--weights", str(weights), "-o", str(again))
    assert code == 0, err
    assert np.array_equal(np.load(first), np.load(again))
    from cnncalc.run.executor import seeded_array  # what --seed 5 makes, array by array

    assert np.array_equal(saved["CONV1.weight"], seeded_array(5, "CONV1", "weight", (5, 5, 3, 8)))
    code, _, err = cli("run", "lenet5", "--input", str(tmp_path / "x.npy"), "--input-shape", "28,28,3", "--seed", "5",
                       "--save-weights", str(tmp_path / "w.npy"))
    assert code == 2 and "--save-weights must end in .npz" in err


# ---------------------------------------------------------------- columns, CSV, -o, width


def test_columns_choose_and_the_percent_columns_are_shares(cli):
    code, out, _ = cli("summary", "lenet5", "--columns", "layer,params,params%,macs%")
    assert code == 0
    lines = out.splitlines()
    assert lines[2].split() == ["Layer", "(type)", "Params", "Params", "%", "MACs", "%"]
    params = {"CONV1": 608, "CONV2": 3216, "FC3": 48120, "FC4": 10164, "FC5": 850}
    macs = {"CONV1": 28 * 28 * 8 * 3 * 25, "CONV2": 10 * 10 * 16 * 8 * 25, "FC3": 400 * 120, "FC4": 120 * 84,
            "FC5": 84 * 10}
    for line in lines[5:13]:
        name = line.split()[0]
        if name in params:
            assert line.split()[-2:] == [f"{100 * params[name] / sum(params.values()):.2f}%",
                                         f"{100 * macs[name] / sum(macs.values()):.2f}%"]
    code, _, err = cli("summary", "lenet5", "--columns", "layer,flops")
    assert code == 2 and "flops" in err and "params%, macs%" in err
    code, _, err = cli("summary", "lenet5", "--columns", "layer,layer")
    assert code == 2 and "twice" in err
    code, _, err = cli("summary", "lenet5", "--columns", "layer", "--format", "json")
    assert code == 2 and "--columns" in err
    code, out, _ = cli("summary", "lenet5", "--columns", "macs%,layer", "--format", "markdown")
    assert "| MACs % | Layer (type) |" in out and "| 55.39% | CONV1 (conv) |" in out


def test_csv_has_an_input_row_a_total_row_and_global_fields(cli):
    code, out, _ = cli("summary", "resnet18", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    first, layers, total = rows[0], rows[1:-1], rows[-1]
    assert (first["index"], first["name"], first["output_shape"], first["size"]) == ("0", "input", "224x224x3",
                                                                                    str(224 * 224 * 3))
    assert total["name"] == "total"
    for field in ("size", "params", "trainable_params", "non_trainable_params", "macs"):
        assert int(total[field]) == sum(int(row[field]) for row in layers), field
    assert int(total["params"]) == 11_689_512  # torchvision's ResNet-18
    fc = layers[-1]
    assert fc["name"] == "fc" and fc["rf_size"] == "global" and fc["rf_jump"] == "global"
    _, out, _ = cli("summary", "lenet5", "--format", "csv", "--columns", "layer,params%")
    shares = list(csv.DictReader(io.StringIO(out)))
    assert list(shares[0]) == ["name", "type", "inputs", "params_percent"]
    assert sum(float(r["params_percent"] or 0) for r in shares[1:-1]) == pytest.approx(100, abs=0.02)


def test_the_format_comes_from_the_output_file_name(cli, tmp_path):
    code, _, err = cli("summary", "lenet5", "-o", str(tmp_path / "lenet.md"))
    assert code == 0, err
    assert (tmp_path / "lenet.md").read_text() == cli("summary", "lenet5", "--format", "markdown")[1]
    assert cli("summary", "lenet5", "-o", str(tmp_path / "lenet.csv"))[0] == 0
    assert (tmp_path / "lenet.csv").read_text().startswith("index,name,type")
    code, _, err = cli("summary", "lenet5", "-o", str(tmp_path / "lenet.yaml"))
    assert code == 2 and "'.yaml'" in err and ".md" in err
    code, _, err = cli("summary", "lenet5", "--format", "json", "-o", str(tmp_path / "lenet.md"))
    assert code == 2 and "unknown file type" in err  # an explicit format still wants its own extension


@pytest.mark.parametrize("width", [60, 80, 120])
def test_a_symbolic_table_never_overflows_its_width(cli, tmp_path, width):
    spec = tmp_path / "sym.yaml"
    spec.write_text(SYMBOLIC)
    natural = cli("summary", str(spec))[1]
    assert max(map(len, natural.splitlines())) > 150  # the case: ~180 columns unfitted
    for explain in ((), ("--explain",)):
        code, out, _ = cli("summary", str(spec), "--width", str(width), *explain)
        assert code == 0 and max(map(len, out.splitlines())) <= width
        assert "".join(out.split()).count("600*floor((n+7)/8)**2") >= 1  # wrapped, not cut
        rule = next(line for line in out.splitlines() if set(line.strip()) == {"─"})
        assert len(rule) >= width - 4  # the columns give way a character at a time: the table fills the width


def test_the_terminal_width_is_used_on_a_terminal_only(monkeypatch):
    from cnncalc import cli

    monkeypatch.setattr(cli.shutil, "get_terminal_size", lambda: __import__("os").terminal_size((72, 24)))
    monkeypatch.setattr(cli.sys.stdout, "isatty", lambda: True, raising=False)
    assert cli._terminal_width() == 72
    monkeypatch.setattr(cli.sys.stdout, "isatty", lambda: False, raising=False)
    assert cli._terminal_width() is None  # a pipe gets the natural width: scripts see the same text


# ---------------------------------------------------------------- channels-first


def test_a_channels_first_input_is_warned_about_not_refused(cli, tmp_path):
    spec = tmp_path / "cf.yaml"
    spec.write_text("input: [3, 32, 32]\nlayers: [{type: conv, filters: 8, kernel: 3}]\n")
    code, out, err = cli("summary", str(spec))
    assert code == 0 and "(1, 30, 8)" in out  # read as [H, W, C], as the spec says
    assert err.count("warning:") == 1 and "input: [32, 32, 3]" in err and "channels-first" in err
    code, _, err = cli("summary", "lenet5", "--input", "1,28,28")
    assert code == 2 and "--input 28,28,1" in err  # warned, then the shape error itself
    for fine in ("input: [32, 32, 3]", "input: [4, 4, 16]", "input: [3, 8, 16]"):
        spec.write_text(fine + "\nlayers: [{type: relu}]\n")
        assert "warning" not in cli("summary", str(spec))[2]


# ---------------------------------------------------------------- receptive field in --explain

_RF = re.compile(r"RF(?: (\w))?: r = [^=]+= ([\d.]+) \+ \((\d+) − 1\)·([\d.]+) = ([\d.]+), j = [^=]+= "
                 r"([\d.]+)[·/]([\d./]+) = ([\d.]+)")


@pytest.mark.parametrize("name", ["lenet5", "conv-chain64", "resnet18"])
def test_the_receptive_field_working_adds_up_and_ends_at_the_field_shown(name):
    summary = analyse(read_network(name))
    seen = 0
    for record in summary.records:
        for line in record.explain:
            match = _RF.match(line)
            if not line.startswith("RF") or "union" in line or "global" in line:
                continue
            assert match, line
            _, before, k, jump, size, j_before, by, j_after = match.groups()
            assert float(before) + (int(k) - 1) * float(jump) == pytest.approx(float(size))
            factor = Fraction(by) if "·" in line.split("j = ")[1].split("=")[1] else 1 / Fraction(by)
            assert float(j_before) * factor == pytest.approx(float(j_after))
            assert float(size) == record.receptive_field[0][0], (record.name, line)
            seen += 1
    assert seen >= 3


def test_lenet5_fields_by_the_recurrence_written_out():
    fields, r, j = [], 1, 1
    for k, s in ((5, 1), (2, 2), (5, 1), (2, 2)):
        r, j = r + (k - 1) * j, j * s
        fields.append((r, j))
    lines = [line for record in analyse(read_network("lenet5")).records for line in record.explain
             if line.startswith("RF")]
    assert [tuple(int(v) for v in re.findall(r"= (\d+)(?:,|$)", line)) for line in lines[:4]] == fields
    assert lines[0] == "RF: r = r_prev + (k − 1)·j_prev = 1 + (5 − 1)·1 = 5, j = j_prev·s = 1·1 = 1"
    assert lines[4] == "RF: global (every output value depends on the whole input)"


# ---------------------------------------------------------------- parentheses, re-read by sympy


N = sympy.Symbol("n", integer=True, positive=True)  # the spec's symbol, as the loader makes it


def _sympy(text: str) -> sympy.Expr:
    text = text.replace("·", "*").replace("×", "*").replace("−", "-").replace("⌊", "floor(").replace("⌋", ")")
    return sympy.sympify(text, locals={"n": N, "floor": sympy.floor})


def _same(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Equal for every n the spec accepts (sympy leaves floor((n + 31)/32) and floor(n/32 + 31/32) apart)."""
    return all(sympy.sympify(a).subs(N, n) == sympy.sympify(b).subs(N, n) for n in (161, 200, 517, 1024))


def test_every_written_product_reads_back_as_the_value_it_names():
    summary = analyse(loads_spec(SYMBOLIC))
    checked = 0
    for record in summary.records:
        for line in record.explain:
            for head in ("MACs: ", "H: ", "W: "):
                if line.startswith(head) and " = " in line:
                    left, right = line[len(head):].rsplit(" = ", 1)
                    assert _same(_sympy(left), _sympy(right.replace(",", ""))), line
                    checked += 1
            positions = re.match(r"mean over all (.+) positions", line)
            if positions:
                dims = summary.records[record.index - 2].output_shape[:-1]
                assert _same(_sympy(positions.group(1)), dims[0] * dims[1]), line
                checked += 1
    assert checked >= 10
    boxes = layout(summary).boxes
    for box, shape in zip(boxes[1:], (r.output_shape for r in summary.records)):
        assert _same(_sympy(box.label), sympy.Mul(*shape)), box.label


def test_the_latex_and_markdown_products_keep_their_parentheses(cli, tmp_path):
    spec = tmp_path / "sym.yaml"
    spec.write_text(SYMBOLIC)
    latex = cli("summary", str(spec), "--explain", "--format", "latex")[1]
    assert (r"mean over all ($\lfloor$(n + 31)/32$\rfloor$ - 5)$\cdot$($\lfloor$(n + 31)/32$\rfloor$ - 5) positions"
            in latex)
    markdown = cli("summary", str(spec), "--explain", "--format", "markdown")[1]
    assert "(floor((n + 31)/32) - 5)·(floor((n + 31)/32) - 5) positions" in markdown


# ---------------------------------------------------------------- solve and draw-conv


def test_solve_points_padding_words_to_the_options(cli):
    code, _, err = cli("solve", "--p", "same", "--f", "3", "--n", "32", "--for", "out")
    assert code == 2 and "--same" in err
    assert "--p 0" in cli("solve", "--p", "valid", "--f", "3", "--n", "32", "--for", "out")[2]
    code, out, _ = cli("solve", "--f", "4", "--same", "--for", "p")
    assert code == 0 and "p = (f - 1)/2 = 3/2, not an integer" in out and "p = (f - 1)/2\n" not in out


def test_a_long_list_of_sizes_says_how_many_it_shows(cli, cli_json, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [n, 1]\nlayers: [{type: conv1d, filters: 1, kernel: 300, stride: 100}]\n")
    valid = [n for n in range(1, 1025) if n >= 300]  # the window fits: every n ≥ k
    code, out, _ = cli("solve", "--spec", str(spec), "--for", "n")
    assert code == 0 and f"…}}: the first 256 of {len(valid)} values" in out
    data = cli_json("solve", "--spec", str(spec), "--for", "n")
    assert data["solutions"] == valid[:256] and data["count"] == len(valid) == 725
    code, out, _ = cli("solve", "--f", "3", "--out", "2", "--s", "200", "--for", "n")
    assert "…}: the first 64 of 200 values" in out  # 203 ≤ n ≤ 402
    assert "n ∈ {5, 6}\n" in cli("solve", "--f", "3", "--out", "2", "--s", "2", "--for", "n")[1]


def test_draw_conv_same_padding_and_a_title_that_fits(cli, tmp_path):
    target = tmp_path / "c.svg"
    code, _, err = cli("draw-conv", "--n", "6", "--f", "4", "--p", "same", "--position", "0,0", "-o", str(target))
    assert code == 0 and "p = same (1, 2)" in err and "output 6×6" in err  # 'same' keeps n at stride 1
    svg = target.read_text()
    title = re.search(r"<title>(.*?)</title>", svg).group(1)
    width = float(re.search(r'width="(\d+)"', svg).group(1))
    assert width >= 20 + 8 * len(title)  # one panel is 230 px; the title needs more
    code, _, err = cli("draw-conv", "--n", "7", "--f", "3", "--s", "2", "--p", "same", "-o", str(target))
    assert code == 0 and "p = same (1)" in err and "output 4×4" in err  # ⌈7/2⌉ = 4, pads (1, 1)
    code, _, err = cli("draw-conv", "--n", "5", "--f", "3", "--p", "half", "-o", str(target))
    assert code == 2 and "same, valid or full" in err
