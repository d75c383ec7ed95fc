"""`cnncalc grade --from` with several attempts per student: one finished attempt graded per student
(`--attempts last|best|first`), unfinished ones left out by name, the same attempt twice refused, and never
a grade from another attempt or another student.

The reports are made from the committed fixtures (tests/data/lms): each fixture row is one student's
answers to one variant, graded alone first (a one-attempt report, the path tests/test_lms.py checks
against answer files); a report of several students × several attempts, rows shuffled, must give each
student exactly the score of the row its rule chooses."""

from __future__ import annotations

import csv
import io
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cnncalc.errors import CnnCalcError
from cnncalc.exercises.service import grade

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "lms"

# student → [(attempt number, fixture row it answers with, submitted?)]: gaps in the numbers (A has no 2,
# B no 3), a tie (D: two full marks), an unsubmitted last attempt (E), one attempt only (C)
PLAN = {
    "A": [(1, 0, True), (3, 1, True)],
    "B": [(4, 2, True), (1, 1, True), (2, 0, True)],
    "C": [(1, 2, True)],
    "D": [(2, 0, True), (1, 0, True)],
    "E": [(1, 1, True), (2, 0, False)],
}
# what each rule grades: (attempt number, fixture row)
CHOSEN = {
    "last": {"A": (3, 1), "B": (4, 2), "C": (1, 2), "D": (2, 0), "E": (1, 1)},
    "first": {"A": (1, 0), "B": (1, 1), "C": (1, 2), "D": (1, 0), "E": (1, 1)},
    "best": {"A": (1, 0), "B": (2, 0), "C": (1, 2), "D": (1, 0), "E": (1, 1)},
}


def _problem(tmp_path: Path) -> Path:
    raw = yaml.safe_load((ROOT / "problems" / "cnn-layers-worksheet.yaml").read_text())
    raw["credit"] = {"forgot_bias": 0.5, "flip": 0.25, "dropped_plus_one": 0.75}
    raw["follow_through"] = 0.5
    path = tmp_path / "worksheet.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def _rows(name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO((DATA / name).read_text(encoding="utf-8"), newline="")))


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _alone_scores(problem: Path) -> list[float]:
    """Each fixture row's score in the committed one-attempt report."""
    run = grade(str(problem), [], from_lms=str(DATA / "canvas-student-analysis.csv"))
    assert [r.student for r in run.results] == ["s0", "s1", "s2"] and run.warnings == []
    scores = [r.score for r in run.results]
    assert scores[0] == 2 and scores[1] < 2 and scores[2] < 2 and scores[1] != scores[2]
    return scores


def _canvas_report(tmp_path: Path, seed: int) -> tuple[Path, dict[tuple[str, int], int]]:
    """The PLAN as a Canvas Student Analysis, rows shuffled; returns the file row of each attempt."""
    header, *templates = _rows("canvas-student-analysis.csv")
    rows = []
    for student, attempts in PLAN.items():
        for number, template, submitted in attempts:
            row = list(templates[template])
            row[1], row[2], row[7] = f"9{ord(student)}", student, str(number)
            if not submitted:
                row[6] = ""
            rows.append((student, number, row))
    random.Random(seed).shuffle(rows)
    where = {(student, number): line for line, (student, number, _) in enumerate(rows, 2)}
    return _write(tmp_path / f"attempts-{seed}.csv", [header] + [row for *_, row in rows]), where


@pytest.mark.parametrize("how", ["last", "first", "best"])
def test_each_student_gets_the_score_of_the_attempt_the_rule_chooses(tmp_path, how):
    problem = _problem(tmp_path)
    alone = _alone_scores(problem)
    for seed in (1, 2):
        report, where = _canvas_report(tmp_path, seed)
        run = grade(str(problem), [], from_lms=str(report), attempts=how)
        assert sorted(r.student for r in run.results) == sorted(PLAN) and run.exit_code == 0
        for result in run.results:
            number, template = CHOSEN[how][result.student]
            assert result.score == alone[template], (how, result.student)
            assert result.file == f"{report.name}:{where[(result.student, number)]}"
            finished = [n for n, _, submitted in PLAN[result.student] if submitted]
            if len(finished) > 1:
                assert re.match(rf"graded attempt {number} \((the {how}|the best)", result.warnings[-1])
                assert f"of {len(finished)}, --attempts {how}" in result.warnings[-1]
                assert f"{result.student}: {result.warnings[-1]}" in run.warnings
            else:
                assert not any(w.startswith("graded attempt") for w in result.warnings)
        assert any(w.startswith("E: attempt 2 (") and "not submitted: not graded" in w for w in run.warnings)
        assert not any(w.startswith(("C:", "E: graded")) for w in run.warnings)
    tie = next(w for w in run.warnings if w.startswith("D: "))
    assert tie.endswith("); not attempt 1" if how == "last" else "); not attempt 2")
    assert ("--attempts best; tied with attempt 2: the earlier kept)" in tie) == (how == "best")


def test_the_same_attempt_twice_is_refused_naming_it(tmp_path):
    problem = _problem(tmp_path)
    header, *templates = _rows("canvas-student-analysis.csv")
    twice = [list(templates[0]), list(templates[1]), list(templates[0])]
    for row, number in zip(twice, ("2", "1", "2")):
        row[2], row[7] = "s0", number
    report = _write(tmp_path / "twice.csv", [header, *twice])
    with pytest.raises(CnnCalcError, match=r"attempt 2 of student 's0' is in the report twice \(rows 2, 4\)"):
        grade(str(problem), [], from_lms=str(report))
    twice[2][7] = "two"
    _write(report, [header, *twice])
    with pytest.raises(CnnCalcError, match="row 4: the attempt number is not a whole number"):
        grade(str(problem), [], from_lms=str(report))
    result = subprocess.run([sys.executable, "-m", "cnncalc", "grade", str(problem), "--from", str(report),
                             "--attempts", "best"], check=False, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_moodle_attempts_ordered_by_start_time_and_in_progress_left_out(tmp_path):
    problem = _problem(tmp_path)
    alone = _alone_scores(problem)
    header, *templates = _rows("moodle-responses.csv")
    s0 = [list(templates[1]), list(templates[0]), list(templates[2])]  # started 9:00, 8:00, 10:00 (in progress)
    for row, started, state in zip(s0, ("9:00 AM", "8:00 AM", "10:00 AM"), ("Finished", "Finished", "In progress")):
        row[3], row[5], row[4] = "s0", f"7 December 2026  {started}", state
    report = _write(tmp_path / "moodle.csv", [header, *s0, templates[1]])
    run = grade(str(problem), [], from_lms=str(report))
    by = {r.student: r for r in run.results}
    assert sorted(by) == ["s0", "s1"] and by["s0"].score == alone[1] and by["s1"].score == alone[1]
    assert by["s0"].file == "moodle.csv:2" and "the last finished of 2" in by["s0"].warnings[-1]
    assert any(w.startswith("s0: the attempt of row 4 (moodle.csv:4) is in progress") for w in run.warnings)
    first = grade(str(problem), [], from_lms=str(report), attempts="first")
    assert {r.student: r.score for r in first.results} == {"s0": alone[0], "s1": alone[1]}
    # with an Attempt column the numbers decide, not the times
    numbered = [header[:4] + ["Attempt"] + header[4:]] + [row[:4] + [n] + row[4:] for row, n in zip(
        [*s0, templates[1]], ("1", "2", "3", "1"))]
    run = grade(str(problem), [], from_lms=str(_write(tmp_path / "numbered.csv", numbered)))
    assert {r.student: r.score for r in run.results} == {"s0": alone[0], "s1": alone[1]}
    # two attempts of one student that nothing orders: both invalid, named (no grade from either)
    for row in s0:
        row[5] = "sometime"
    run = grade(str(problem), [], from_lms=str(_write(tmp_path / "unordered.csv", [header, *s0[:2], templates[1]])))
    assert [r.error is not None for r in run.results] == [True, True, False] and run.exit_code == 1
    assert "2 attempts of student 's0'" in run.results[0].error and "no attempt number or start" in run.results[1].error


def test_attempts_option_is_checked_in_one_line(tmp_path):
    problem = _problem(tmp_path)
    with pytest.raises(CnnCalcError, match="unknown --attempts choice"):
        grade(str(problem), [], from_lms=str(DATA / "canvas-student-analysis.csv"), attempts="worst")
    with pytest.raises(CnnCalcError, match="--attempts goes with --from"):
        grade(str(problem), [str(tmp_path)], attempts="best")


def test_the_screenshots_make_py_draws_are_committed_and_shown():
    """docs/images/make.py's browser screenshots (a practice sheet, a Moodle question) are committed PNGs of
    a readable size and shown by README.md, docs/exercises.md or docs/lms.md; PNG bytes depend on the fonts, so they are
    checked by their header and size, not compared."""
    import importlib.util
    import struct

    spec = importlib.util.spec_from_file_location("make_images", ROOT / "docs" / "images" / "make.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    assert set(make.SCREENSHOTS) == {"practice-sheet.png", "moodle-question.png"}
    pages = "".join((ROOT / page).read_text(encoding="utf-8") for page in ("README.md", "docs/exercises.md",
                                                                          "docs/lms.md"))
    for name in make.SCREENSHOTS:
        data = (ROOT / "docs" / "images" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
        width, height = struct.unpack(">II", data[16:24])
        assert width == 1000 and 400 <= height <= 1400 and len(data) > 20_000, (name, width, height)
        assert f"images/{name}" in pages, f"no page (README.md, docs/exercises.md, docs/lms.md) shows {name}"
