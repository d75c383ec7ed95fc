"""The library is the command line without the printing: `from cnncalc import summarise, solve, run_files,
import_model, export_model, grade, ...`, each the function its command calls, returning a result object."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnncalc
from cnncalc import CnnCalcError, generate, grade, load_spec, run, solve
from cnncalc.exercises.service import NothingGraded

ROOT = Path(__file__).resolve().parent.parent
SECRET = "readme example secret, not a real course's"


def test_import_cnncalc_loads_neither_numpy_nor_sympy():
    code = "import sys, cnncalc; print('numpy' in sys.modules, 'sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_run_is_the_executor():
    from cnncalc.run.executor import run as executor_run

    network = load_spec("lenet5")
    x = np.arange(32 * 32 * 3, dtype=float).reshape(32, 32, 3) / 3072
    mine, theirs = run(network, x, seed=4), executor_run(network, x, seed=4)
    assert mine.output.shape == (10,) and np.array_equal(mine.output, theirs.output)
    assert cnncalc.run.executor.run is executor_run  # the package still holds its modules


def test_solve_gives_the_same_padding():
    assert solve("p", {"f": "7"}, same=True).solutions == [3]


def test_grade_returns_the_run_and_writes_after_the_report(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNCALC_SECRET", SECRET)
    seen = []
    book = tmp_path / "grades.csv"
    result = grade(str(ROOT / "problems/filter-bank.yaml"), [str(ROOT / "examples/answers")], variants=True,
                   gradebook=str(book), report=lambda run: seen.append(book.exists()))
    assert seen == [False] and book.exists()  # the report comes first, the gradebook after it
    scores = {r.student: (r.score, r.max) for r in result.results}
    assert scores == {"ada": (3, 3), "bo": (pytest.approx(2.6), 3)}
    assert result.exit_code == 0 and result.invalid == 0 and str(book) in result.written
    assert "ada: 3 / 3" in result.text(quiet=True)
    assert {r["student"] for r in result.document()["results"]} == {"ada", "bo"}


def test_a_report_that_fails_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNCALC_SECRET", SECRET)
    book = tmp_path / "grades.csv"

    def broken(run):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        grade(str(ROOT / "problems/filter-bank.yaml"), [str(ROOT / "examples/answers")], variants=True,
              gradebook=str(book), report=broken)
    assert not book.exists()


def test_nothing_graded_carries_the_run_and_writes_nothing(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("not: an answer file\n")
    book = tmp_path / "grades.csv"
    with pytest.raises(NothingGraded) as info:
        grade(str(ROOT / "problems/cnn-layers-worksheet.yaml"), [str(bad)], gradebook=str(book))
    assert len(info.value.run.results) == 1 and info.value.run.invalid == 1 and not book.exists()


def test_generate_writes_one_sheet_per_variant(tmp_path):
    result = generate(str(ROOT / "problems/filter-bank.yaml"), str(tmp_path / "out"), seed=3, count=4)
    assert result.labels == [f"variant-3-{i}" for i in range(4)]
    assert sorted(p.name for p in (tmp_path / "out/sheets").iterdir()) == [f"variant-3-{i}.md" for i in range(4)]
    assert "wrote 4 sheet(s)" in result.text()
    with pytest.raises(CnnCalcError, match="either --seed N or --roster"):
        generate(str(ROOT / "problems/filter-bank.yaml"), str(tmp_path / "other"))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        cnncalc.nosuch  # noqa: B018


# ---------------------------------------------------------------- one function per command, the CLI's numbers

WORKSHEET = ROOT / "problems/cnn-layers-worksheet.yaml"


def test_summarise_gives_the_lecture_lenet_totals(cli, tmp_path):
    from cnncalc import summarise

    report = summarise(load_spec("lenet5"))
    # the lecture's table, layer by layer: weights + biases, and MACs out·out·filters·C·k·k or in·units
    params = {"CONV1": 5 * 5 * 3 * 8 + 8, "CONV2": 5 * 5 * 8 * 16 + 16, "FC3": 400 * 120 + 120,
              "FC4": 120 * 84 + 84, "FC5": 84 * 10 + 10}
    macs = 28 * 28 * 8 * 3 * 5 * 5 + 10 * 10 * 16 * 8 * 5 * 5 + 400 * 120 + 120 * 84 + 84 * 10
    assert {r.name: r.params for r in report.summary.records if r.params} == params
    assert report.summary.params == sum(params.values()) == 62958 and report.summary.macs == macs == 849320
    assert "Total params: 62,958" in report.text and report.written is None
    # the command prints the same text, and -o writes it
    code, out, _ = cli("summary", "lenet5")
    assert code == 0 and out == report.text
    written = summarise(load_spec("lenet5"), format="json", output=str(tmp_path / "l.json"))
    totals = json.loads((tmp_path / "l.json").read_text())["totals"]
    assert written.written == str(tmp_path / "l.json") and (totals["params"], totals["macs"]) == (62958, 849320)
    code, out, _ = cli("summary", "lenet5", "--format", "json")
    assert json.loads(out) == json.loads(written.text)
    with pytest.raises(CnnCalcError, match="unknown summary format"):
        summarise(load_spec("lenet5"), format="yaml")


def test_read_network_reads_what_spec_arguments_name(tmp_path, monkeypatch):
    import io

    from cnncalc import read_network

    path = tmp_path / "net.yaml"
    path.write_text("input: [n, n, 3]\nlayers: [{type: conv, filters: 8, kernel: 3, stride: 2}]\n")
    assert read_network(str(path)).symbols == ("n",)
    fixed = read_network(str(path), where=["n=33"])
    assert fixed.input_shape == (33, 33, 3) and cnncalc.analyse(fixed).records[0].output_shape == (16, 16, 8)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    assert read_network("-", where=["n=9"]).input_shape == (9, 9, 3)


def _valid_sizes_by_hand(low: int, high: int) -> list[int]:
    """conv k=3 s=2, then maxpool 2 (stride 2): both outputs at least 1, with the floor formula in ints."""
    found = []
    for n in range(low, high + 1):
        if n < 3:  # the kernel is larger than the input
            continue
        conv = (n - 3) // 2 + 1
        if conv >= 2 and (conv - 2) // 2 + 1 >= 1:
            found.append(n)
    return found


def test_solve_is_the_whole_command(cli, tmp_path):
    from cnncalc.calc.service import solution_text

    assert solve("p", {"f": 7}, same=True).solutions == [3]  # (f − 1)/2
    even = solve("p", {"n": "8", "f": "4"}, same=True)
    assert even.solutions == [] and even.pads == (1, 2)  # TensorFlow's split: the odd pixel after
    # a transposed convolution: out = (n − 1)·s − 2p + d·(f − 1) + output_padding + 1
    assert solve("out", {"n": 3, "f": 3, "s": 2, "output_padding": 1}, transpose=True).solutions == [2 * 2 + 2 + 1 + 1]
    spec = tmp_path / "sym.yaml"
    spec.write_text("input: [n, n, 3]\nlayers: [{type: conv, filters: 8, kernel: 3, stride: 2}, {type: maxpool, kernel: 2}]\n")
    sizes = solve("n", spec=str(spec), low=1, high=40)
    assert sizes.solutions == _valid_sizes_by_hand(1, 40) and sizes.solutions[0] == 5
    code, out, _ = cli("solve", "--for", "n", "--spec", str(spec), "--max", "40", "--format", "json")
    assert code == 0 and json.loads(out)["solutions"] == sizes.solutions
    code, out, _ = cli("solve", "--for", "p", "--n", "8", "--f", "4", "--same")
    assert code == 0 and out == solution_text(even) and "pads (before, after) = (1, 2)" in out
    with pytest.raises(CnnCalcError, match="--output-padding is for --transpose"):
        solve("out", {"n": 3, "f": 3, "output_padding": 1})
    with pytest.raises(CnnCalcError, match="--spec takes only"):
        solve("n", {"f": 3}, spec=str(spec))


def test_run_files_runs_a_spec_on_files(cli, tmp_path):
    from cnncalc import run_files

    spec = tmp_path / "ones.yaml"
    spec.write_text("input: [3, 3, 1]\nlayers: [{type: conv, name: c, filters: 1, kernel: 2, "
                    "weight: [[[[1]], [[1]]], [[[1]], [[1]]]], bias: [0.5]}]\n")
    x = tmp_path / "x.npy"
    np.save(x, 10 * np.arange(3)[:, None, None] + np.arange(3)[None, :, None])  # value 10·row + column
    report = run_files(str(spec), str(x), output=str(tmp_path / "o.npy"))
    # each output cell: the sum of its 2×2 window plus the bias, by hand
    by_hand = [[sum(10 * (i + a) + (j + b) for a in (0, 1) for b in (0, 1)) + 0.5 for j in (0, 1)] for i in (0, 1)]
    assert report.output[..., 0].tolist() == by_hand == [[22.5, 26.5], [62.5, 66.5]]
    assert np.load(tmp_path / "o.npy").tolist() == report.output.tolist() and report.written == [str(tmp_path / "o.npy")]
    code, out, _ = cli("run", str(spec), "--input", str(x), "--format", "json", "--trace")
    assert code == 0 and out == report.json(trace=True) + "\n"
    assert json.loads(out)["trace"][0]["output"] == [[[22.5], [26.5]], [[62.5], [66.5]]]
    code, out, _ = cli("run", str(spec), "--input", str(x))
    assert code == 0 and out == report.text()
    with pytest.raises(CnnCalcError, match="--maps-layer needs --save-maps"):
        run_files(str(spec), str(x), maps_layer="c")


def test_export_and_import_model_round_trip(cli, tmp_path):
    from cnncalc import export_model, import_model

    exported = export_model("lenet5", "onnx", output=str(tmp_path / "l.onnx"), seed=3)
    assert exported.size == (tmp_path / "l.onnx").stat().st_size and exported.note().startswith(f"wrote {tmp_path}")
    imported = import_model(str(tmp_path / "l.onnx"), output=str(tmp_path / "l.yaml"),
                            weights_out=str(tmp_path / "w.npz"))
    assert imported.params == 62958 and len(imported.network.layers) >= 8
    assert (tmp_path / "l.yaml").read_text() == imported.text and imported.written == [str(tmp_path / "l.yaml"),
                                                                                         str(tmp_path / "w.npz")]
    with np.load(tmp_path / "w.npz") as weights:
        # the seeded weights the ONNX file carried: every array is back, CONV1's kernel [5, 5, 3, 8]
        assert sum(int(np.prod(weights[key].shape)) for key in weights.files) == 62958
    code, out, err = cli("import", str(tmp_path / "l.onnx"))
    assert code == 0 and out == import_model(str(tmp_path / "l.onnx")).text and "62,958 parameters" in err
    code, out, _ = cli("export", "lenet5", "--to", "pytorch")
    assert code == 0 and out == export_model("lenet5", "pytorch").code
    assert "self.CONV1 = nn.Conv2d(3, 8, kernel_size=5)" in out
    with pytest.raises(CnnCalcError, match="--dtype is for --to onnx"):
        export_model(load_spec("lenet5"), "keras", dtype="float64")


def test_draw_and_draw_conv_write_what_the_cli_writes(cli, tmp_path):
    from cnncalc import draw, draw_conv

    drawing = draw(load_spec("lenet5"), str(tmp_path / "mine.svg"))
    assert len(drawing.layout.boxes) == 9  # the input and the 8 layers
    code, _, err = cli("draw", "lenet5", "-o", str(tmp_path / "cli.svg"))
    assert code == 0 and err == f"wrote {tmp_path / 'cli.svg'}: 9 boxes, 8 edges\n"
    assert (tmp_path / "cli.svg").read_text() == (tmp_path / "mine.svg").read_text() == drawing.svg
    conv = draw_conv(5, 3, p=1, s=2, positions=["0,1"])
    assert conv.figure.output_size == (5 + 2 * 1 - 3) // 2 + 1 == 3
    assert conv.figure.reads[(0, 1)][:3] == [(0, 2), (0, 3), (0, 4)]  # window 2 cells right: stride 2
    code, _, _ = cli("draw-conv", "-o", str(tmp_path / "c.svg"), "--n", "5", "--f", "3", "--p", "1", "--s", "2",
                     "--position", "0,1")
    assert code == 0 and (tmp_path / "c.svg").read_text() == conv.svg


def test_zoo_listing(cli):
    from cnncalc import zoo_listing
    from cnncalc.spec.network import zoo_names

    listing = zoo_listing(details=True)
    assert [entry.name for entry in listing.entries] == zoo_names()
    lenet = next(entry.document() for entry in listing.entries if entry.name == "lenet5")
    assert (lenet["params"], lenet["macs"], lenet["input"]) == (62958, 849320, [32, 32, 3])
    code, out, _ = cli("zoo", "--format", "json")
    assert code == 0 and json.loads(out) == json.loads(listing.json())


def test_check_problem_and_problem_key_give_the_worksheet_answers(cli):
    from cnncalc import check_problem, problem_key

    checked = check_problem(str(WORKSHEET))
    answers = checked.document["answers"]
    # c: the worksheet's parameter count; d: 'same' padding of its 7×7 filter, (f − 1)/2, and its parameters
    assert (answers["c.total_params"], answers["d.padding"], answers["d.params"]) == (348, 3, 1184)
    assert checked.warnings == [] and checked.verdict() == "ok, no warnings"
    code, out, _ = cli("check", str(WORKSHEET), "--format", "json")
    assert code == 0 and json.loads(out)["answers"] == answers
    code, out, _ = cli("check", str(WORKSHEET))
    assert code == 0 and out == checked.text() + "ok, no warnings\n"
    key = problem_key(str(WORKSHEET), seed=1, index=2)
    assert key.variant.label == "variant-1-2"
    code, out, _ = cli("key", str(WORKSHEET), "--seed", "1", "--index", "2", "--format", "json")
    assert code == 0 and out == key.json() + "\n" and json.loads(out)["answers"] == key.document["answers"]
    with pytest.raises(CnnCalcError, match="give --student or --seed, not both"):
        problem_key(str(WORKSHEET), student="ada", seed=1)


def test_every_command_function_is_in_the_library():
    for name in ("summarise", "solve", "run_files", "draw", "draw_conv", "zoo_listing", "read_network",
                 "import_model", "export_model", "check_problem", "problem_key", "grade", "generate"):
        assert name in cnncalc.__all__ and callable(getattr(cnncalc, name)), name


def test_a_lone_path_or_name_is_one_item_not_its_characters(tmp_path):
    # grade(problem, "answers/") grades that folder: a str is not taken as a sequence of one-letter paths
    import yaml

    from cnncalc import check_problem, read_network

    folder = tmp_path / "answers"
    folder.mkdir()
    key = check_problem(str(WORKSHEET)).document["answers"]
    (folder / "ann.yaml").write_text(yaml.safe_dump({"student": "ann", "answers": key}, allow_unicode=True))
    one = grade(str(WORKSHEET), str(folder))
    assert [r.student for r in one.results] == ["ann"]
    assert [r.student for r in grade(str(WORKSHEET), [str(folder)]).results] == ["ann"]
    spec = tmp_path / "sym.yaml"
    spec.write_text("input: [n, m, 3]\nlayers: [{type: conv, filters: 8, kernel: 3, stride: 2}]\n")
    assert read_network(str(spec), where="m=9").input_shape[1] == 9
    assert solve("n", spec=str(spec), where="m=9", low=1, high=12).solutions == \
        solve("n", spec=str(spec), where=["m=9"], low=1, high=12).solutions == list(range(3, 13))
