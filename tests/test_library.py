"""The library is the command line without the printing: `from cnncalc import grade, generate, run, solve`,
each the function its command calls, returning a result object."""

from __future__ import annotations

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
