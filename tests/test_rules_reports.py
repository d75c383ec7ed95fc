"""What grading writes: the gradebook (columns, points, defused cells, atomic), feedback files and the
text report, with exact values (README, "grade")."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from cnncalc import CnnCalcError
from cnncalc.exercises import compute_key, load_problem
from cnncalc.exercises.grading import grade_answers, safe_file_stem
from cnncalc.exercises.report import (
    csv_line,
    feedback_markdown,
    gradebook_csv,
    results_document,
    text_report,
    write_atomic,
    write_feedback,
)

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"


@pytest.fixture(scope="module")
def worksheet():
    problem = load_problem(WORKSHEET)
    return problem, compute_key(problem)


def results_for(worksheet):
    problem, key = worksheet
    relu = key["b.relu"].value.tolist()
    relu[0][0] += 1  # 15 of 16 cells: 0.234375 points
    ann = grade_answers(problem, key, "ann", {"a.shape": [4, 4], "b.relu": relu, "d.params": 1184}, "ann.yaml")
    bob = grade_answers(problem, key, "=HYPERLINK(1)", {"a.col4_row4": 2, "c.total_params": 348}, "bob.yaml")
    return [ann, bob]


# ---------------------------------------------------------------- gradebook


def test_gradebook_columns_and_values(worksheet):
    problem, _ = worksheet
    rows = list(csv.reader(io.StringIO(gradebook_csv(problem, results_for(worksheet)))))
    qids = [q.id for q in problem.questions]
    assert rows[0] == ["student", *qids, "total", "max", "file", "notes"], "the gradebook's header, in this order"
    ann = dict(zip(rows[0], rows[1]))
    assert ann["student"] == "ann" and ann["file"] == "ann.yaml"
    assert float(ann["a.shape"]) == 0.125 and float(ann["d.params"]) == 0.25 and float(ann["a.col4_row4"]) == 0
    assert float(ann["b.relu"]) == pytest.approx(0.234375, abs=5e-5), (
        f"15/16 of 0.25 = 0.234375 is kept to 4 decimals (0.2344), got {ann['b.relu']}")
    assert float(ann["total"]) == pytest.approx(0.609375, abs=5e-5), f"total 0.609375, got {ann['total']}"
    assert float(ann["max"]) == 2, "max is the problem's 2 points, in its own column"
    bob = dict(zip(rows[0], rows[2]))
    assert bob["student"] == "'=HYPERLINK(1)", "a student id that is a formula is defused"
    assert float(bob["c.total_params"]) == 0.5 and float(bob["total"]) == 0.5 and float(bob["max"]) == 2
    assert len(rows) == 3 and all(len(r) == len(rows[0]) for r in rows)


def test_gradebook_points_keep_four_decimals():
    from cnncalc.exercises.grading import QuestionResult, StudentResult
    from cnncalc.exercises.problem import Part, Problem, Question

    q = Question("q", "p", "count", 0.0625, "", {"size": "n"})
    problem = Problem("p", 1, "t", {}, {}, [Part("p", 0.0625, "", [q])], "p.yaml")
    result = StudentResult("s", "s.yaml", [QuestionResult("q", 0.0625, 0.0625, "correct", 1, 1, "correct")])
    row = list(csv.reader(io.StringIO(gradebook_csv(problem, [result]))))[1]
    assert row[1:4] == ["0.0625", "0.0625", "0.0625"], f"0.0625 points are written as 0.0625, got {row[1:4]}"


@pytest.mark.parametrize("cell", ["=1+2", "+1", "-1", "@SUM(A1)", " =1", "＝1"])
def test_cells_that_spreadsheets_evaluate_are_defused(cell):
    assert next(csv.reader(io.StringIO(csv_line([cell, "plain"]), newline=""))) == ["'" + cell, "plain"], (
        f"a cell starting with {cell[0]!r} must be quoted with a leading apostrophe")


@pytest.mark.parametrize(("cell", "shown"), [("\tx", "\\tx"), ("\rx", "\\rx"), ("\nx", "\\nx")])
def test_a_leading_control_character_is_made_visible(cell, shown):
    # a tab, carriage return or line feed is written as its escape: no spreadsheet sees it, nothing to defuse
    assert csv_line([cell, "plain"]) == shown + ",plain\n"


def test_a_cell_holding_a_carriage_return_stays_in_its_row():
    rows = list(csv.reader(io.StringIO(csv_line(["a\rb", "c\nd", "z"]), newline="")))
    assert rows == [["a\\rb", "c\\nd", "z"]], "line breaks inside a cell are shown, never split the row"


@pytest.mark.parametrize("cell", ["a=1", "1-2", "x@y", "'q", ""])
def test_other_cells_are_left_alone(cell):
    assert next(csv.reader(io.StringIO(csv_line([cell, "z"])))) == [cell, "z"]


def test_gradebook_notes_are_defused(worksheet):
    problem, key = worksheet
    result = grade_answers(problem, key, "ann", {"@bad": 1}, "ann.yaml")
    assert result.warnings and result.warnings[0].startswith("unknown question id")
    result.warnings.insert(0, "-note")
    row = list(csv.reader(io.StringIO(gradebook_csv(problem, [result]))))[1]
    assert row[-1].startswith("'-note; unknown question id '@bad'"), row[-1]


# ---------------------------------------------------------------- atomic writes


def test_write_atomic_writes_whole(tmp_path):
    target = tmp_path / "sub" / "grades.csv"
    write_atomic(target, "a,b\n1,2\n")
    assert target.read_text() == "a,b\n1,2\n"
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["grades.csv"], "no temporary file is left"


def test_a_failed_rename_leaves_no_temporary_file_and_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "grades.csv"
    target.write_text("old\n")

    def refuse(*_args, **_kwargs):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(CnnCalcError, match="cannot write: Permission denied"):
        write_atomic(target, "new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv"], (
        "when the rename fails the temporary file must be removed: " + ", ".join(p.name for p in tmp_path.iterdir()))
    assert target.read_text() == "old\n", "the old gradebook is untouched"


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "grades.csv"
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "a lone surrogate \ud800 cannot be written as UTF-8")
    assert list(tmp_path.iterdir()) == [], "nothing is left when writing fails"


def test_write_atomic_into_a_file_path_fails_cleanly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CnnCalcError, match="cannot write"):
        write_atomic(blocker / "grades.csv", "x")


# ---------------------------------------------------------------- feedback and report text


def test_feedback_file_content(worksheet, tmp_path):
    problem, key = worksheet
    result = grade_answers(problem, key, "ann/../x", {"a.col4_row4": 2}, "ann.yaml")
    text = feedback_markdown(problem, result)
    assert text.startswith(f"# {problem.title}\n\nStudent: ann/../x  \nScore: **0 / 2**\n")
    assert "## a.col4\\_row4 — incorrect (0 / 0.125)" in text, "Markdown specials of ids are escaped"
    assert "- your answer: `2`\n- expected: `9`" in text
    assert "it looks like the bias (7) was left out" in text
    assert "Worked solution:" in text and "12 + (−8) + (−2) + 7 = 9" in text
    written = write_feedback(problem, [result, result], tmp_path)
    assert [p.name for p in written] == ["ann_x.md", "ann_x-2.md"], "ids become safe, unique file names"
    assert written[0].read_text() == text


def test_safe_file_stems():
    used: set[str] = set()
    assert [safe_file_stem(s, used) for s in ("../a", "A", "a", "", ".hidden", "x" * 80)] == [
        "a", "A-2", "a-3", "student", "hidden", "x" * 64]


def test_text_report_lines(worksheet):
    problem, _ = worksheet
    results = results_for(worksheet)
    text = text_report(problem, results, ["batch warning"])
    lines = text.splitlines()
    assert lines[0] == f"{problem.title} (cnn-layers-worksheet, version 1): 2 answer file(s)"
    assert "ann: 0.6094 / 2  (ann.yaml)" in lines, "scores to 4 decimals in the text report"
    relu = next(line for line in lines if "b.relu" in line and line.startswith("  ~"))
    assert "0.2344 / 0.25" in relu and "partial" in relu and "15 of 16 cells correct" in relu
    assert any(line.startswith("  ✓ a.shape") and "0.125 / 0.125" in line for line in lines)
    assert any(line.startswith("  ✗ a.col4_row4") for line in lines)
    assert any(line.startswith("  · a.col3_row2") and "missing" in line for line in lines)
    assert any(line.startswith("  ? b.plot") and "manual" in line for line in lines)
    assert lines[-1] == "warning: batch warning"


def test_results_document(worksheet):
    doc = results_document(results_for(worksheet), ["w"])
    assert doc["warnings"] == ["w"] and [r["student"] for r in doc["results"]] == ["ann", "=HYPERLINK(1)"]
    ann = doc["results"][0]
    assert ann["score"] == pytest.approx(0.609375, abs=1e-9) and ann["max"] == 2 and ann["file"] == "ann.yaml"
    relu = next(q for q in ann["questions"] if q["id"] == "b.relu")
    assert relu["expected"][1] == [1, 0, 21, 0] and isinstance(relu["expected"][1][0], int), "whole cells as ints"
    assert json.loads(json.dumps(doc)) == doc
    assert "warnings" not in results_document([], [])


def test_feedback_file_for_each_kind_of_answer(worksheet):
    problem, key = worksheet
    relu = key["b.relu"].value.astype(int).tolist()
    relu[1][1] = 5
    result = grade_answers(problem, key, "ann", {"a.shape": [4, 4], "b.relu": relu, "a.col3_row2": "x`y" * 300,
                                                 "d.padding": 2.5}, "ann.yaml")
    result.warnings.append("a note")
    text = feedback_markdown(problem, result)
    shape = text.split("## a.shape — correct (0.125 / 0.125)\n", 1)[1].split("## ", 1)[0]
    assert shape.startswith("\n> Determine the shape (dimension) of the feature map after convolution, as [rows, "
                            "columns].\n\n- your answer: `[4, 4]`\n- expected: `[4, 4]`\n\nWorked solution:\n\n```\n"
                            "H: ⌊(6 + 2·0 − 3)/1⌋ + 1 = 4\n"), shape
    assert "correct  " not in shape, "the feedback 'correct' is not repeated"
    relu_part = text.split("## b.relu — partial (0.2344 / 0.25)\n", 1)[1].split("## ", 1)[0]
    assert "- your answer: `[[35, 20, 20, 3], [1, 5, 21, 0]," in relu_part
    assert "15 of 16 cells correct; wrong:  \nrow 2, column 2: expected 0, got 5 = max(0, −1)  \n" in relu_part
    long = text.split("## a.col3\\_row2 — invalid", 1)[1].split("## ", 1)[0]
    answer = long.split("- your answer: `", 1)[1].split("`\n", 1)[0]
    assert answer == "x'y" * 100 + "… (900 characters)", "a long answer: its first 300 characters, its full length, " \
        "backticks replaced"
    assert "- your answer: `2.5`\n- expected: `3`" in text
    assert "## b.plot — manual (0 / 0)\n" in text and "- your answer: `—`" in text
    assert text.endswith("Note: a note\n")


def test_feedback_for_an_unreadable_file(worksheet, tmp_path):
    from cnncalc.exercises.grading import grade_file

    problem, key = worksheet
    bad = tmp_path / "zed.yaml"
    bad.write_text("student: [\n")
    result = grade_file(problem, key, bad)
    assert result.student == "zed" and result.error and all(q.status == "invalid" for q in result.questions)
    text = feedback_markdown(problem, result)
    shown = result.error.replace("_", "\\_")
    assert f"Your answer file could not be read: {shown}\n" in text, "the reason, as literal Markdown"
    assert result.error.endswith("zed.yaml:2: YAML syntax error: did not find expected node content")
    assert "Score: **0 / 2**" in text


def test_text_report_marks_every_status(worksheet):
    problem, key = worksheet
    result = grade_answers(problem, key, "s", {"a.shape": [4, 4], "a.col4_row4": 2, "a.col3_row2": True,
                                               "b.relu": (key["b.relu"].value + np.eye(4)).tolist()}, "s.yaml")
    lines = text_report(problem, [result], []).splitlines()
    marks = {line.split()[1]: line.split()[0] for line in lines[3:] if line.startswith("  ")}
    assert marks == {"a.shape": "✓", "a.col4_row4": "✗", "a.col3_row2": "!", "a.col2_row4": "·", "b.plot": "?",
                     "b.relu": "~", "b.pool": "·", "c.total_params": "·", "d.padding": "·", "d.params": "·"}
    assert lines[1] == "" and lines[2] == "s: 0.3125 / 2  (s.yaml)"
    assert any(line == "  ✗ a.col4_row4             0 / 0.125  incorrect expected 9, got 2 — it looks like the bias (7) was left out"
               " [forgot_bias]" for line in lines), lines
    assert text_report(problem, [result], []).endswith("\n") and "warning" not in text_report(problem, [result], [])


# ---------------------------------------------------------------- rosters, answer paths and sheets (generate)


def test_roster_columns_and_errors(tmp_path):
    from cnncalc.exercises.files import read_roster

    path = tmp_path / "r.csv"
    for header in ("id", "student_id", "Student", " ID "):
        path.write_text(f"name,{header}\nAnn, a1 \n\nCy,c3\n")
        assert read_roster(str(path)) == ["a1", "c3"], f"column {header!r}: ids stripped, blank lines skipped"
    for body in ("Ann,a1\nBo,\nCy,c3\n", "Ann,a1\nshort\nCy,c3\n"):
        path.write_text("name,student\n" + body)
        with pytest.raises(CnnCalcError) as caught:
            read_roster(str(path))
        assert str(caught.value) == f"{path}:3: empty student id in the roster", "a blank or missing id is refused"
    path.write_text('s1\n"s2,x"\n')
    assert read_roster(str(path)) == ["s1", "s2,x"], "without a known header: the first column, CSV quoting kept"
    path.write_text("student\ns1\ns1\n")
    with pytest.raises(CnnCalcError) as caught:
        read_roster(str(path))
    assert "duplicate student id in the roster" in str(caught.value)
    assert str(path) in str(caught.value), "the error names the roster file"
    path.write_bytes(b"student\n\xff\n")
    with pytest.raises(CnnCalcError) as caught:
        read_roster(str(path))
    assert "the roster is not UTF-8 text" in str(caught.value) and str(path) in str(caught.value)
    with pytest.raises(CnnCalcError) as caught:
        read_roster(str(tmp_path / "none.csv"))
    assert "cannot read the roster: No such file or directory" in str(caught.value)


def test_roster_line_endings(tmp_path):
    from cnncalc.exercises.files import read_roster

    path = tmp_path / "r.csv"
    path.write_bytes(b"student\r\ns1\r\ns2\r\n")
    assert read_roster(str(path)) == ["s1", "s2"], "Windows line endings"
    path.write_bytes(b'student,name\r\n"al\r\nice",A\r\n')  # a line break inside quotes is kept as written
    with pytest.raises(CnnCalcError) as caught:
        read_roster(str(path))
    assert str(caught.value) == (f"{path}:2: student id with a control character or line break in the roster "
                                 "(got 'al\\r\\nice', expected an id on one line)")


def test_answer_paths(tmp_path):
    from cnncalc.exercises.files import answer_paths

    folder = tmp_path / "answers"
    folder.mkdir()
    for name in ("b.yaml", "a.JSON", "c.yml", "notes.txt"):
        (folder / name).write_text("{}")
    found, refused = answer_paths([str(folder), str(folder / "c.yml"), str(folder / "*.yaml")])
    assert refused == {folder / "notes.txt": "not an answer file (answer files end in .yaml, .yml, .json)"}
    assert [p.name for p in found] == ["a.JSON", "b.yaml", "c.yml", "notes.txt"], \
        "a folder's files, sorted, no repeats; one that is not an answer file is listed to be reported"
    with pytest.raises(CnnCalcError) as caught:
        answer_paths([str(tmp_path / "nothing-*.yaml")])
    assert "no answer files match" in str(caught.value) and "nothing-*.yaml" in str(caught.value)


def test_answer_globs_skip_folders(tmp_path):
    from cnncalc.exercises.files import answer_paths

    (tmp_path / "a.yaml").write_text("{}")
    (tmp_path / "sub.yaml").mkdir()
    assert [p.name for p in answer_paths([str(tmp_path / "*.yaml")])[0]] == ["a.yaml"]
    assert [p.name for p in answer_paths([str(tmp_path)])[0]] == ["a.yaml"], "nor a folder inside a given folder"


def test_sheet_meta_line_and_hidden_tables():
    from cnncalc.exercises.sheets import render_sheet, sheet_blocks
    from cnncalc.exercises.variants import seed_variant, student_variant

    raw = {"id": "t", "title": "T", "data": {"x": {"matrix": [[1, 2], [3, 4]]}, "secret": {"matrix": [[9]]}, "n": 3},
           "display": {"secret": False, "x": "Input"},
           "networks": {"net": {"input": [2, 2, 1], "layers": [{"type": "relu", "name": "r"}]}},
           "parts": [{"id": "a", "points": 1, "prompt": "n is ${n}", "questions": [
               {"id": "a.q", "prompt": "ReLU of x?", "compute": {"map": "net", "input": "x", "layer": "r"}}]}]}
    seeded = seed_variant(raw, "t.yaml", 1, 0)
    student = student_variant(raw, "t.yaml", b"sixteen byte key of this course", "ann")
    assert sheet_blocks(seeded)[1] == ("meta", f"Variant {seeded.fingerprint}"), "no label for a seeded variant"
    assert sheet_blocks(student)[1] == ("meta", f"Variant {student.fingerprint} — ann")
    kinds = [kind for kind, _ in sheet_blocks(seeded)]
    assert kinds.count("table") == 1, "display: false hides a data table"
    for fmt, meta in (("markdown", f"*Variant {student.fingerprint} — ann*"),
                      ("latex", r"\textit{Variant " + student.fingerprint + " — ann}"),
                      ("html", f"<p><em>Variant {student.fingerprint} — ann</em></p>")):
        sheet = render_sheet(student, fmt)
        assert meta in sheet, f"{fmt}: the variant line {meta!r}"
        body = sheet.split("<body>")[-1].replace(student.fingerprint, "")
        # the network figures carry coordinates and colours, not data: leave them out of the check
        body = re.sub(r"(?s)<svg.*?</svg>|<script.*?</script>|<style.*?</style>|\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}|\\definecolor\{[^}]*\}"
                      r"\{HTML\}\{[^}]*\}", "", body)
        assert "9" not in body, f"{fmt}: the hidden table's value is not printed"
    markdown = render_sheet(student, "markdown")
    assert "## a) (1 p) n is 3" in markdown and "- **[a.q]** ReLU of x?" in markdown
    assert 'student: "ann"\nvariant: "' + student.fingerprint + '"\nanswers:\n  a.q:' in markdown, (
        "ids and variants quoted: read back as text")
    assert "**Input**" in markdown and "| 1 | 2 |" in markdown


def test_a_roster_over_the_size_cap_is_refused(tmp_path, monkeypatch):
    from cnncalc.exercises import files

    assert files.MAX_ROSTER_BYTES == 8 * 1024 * 1024, "README: rosters 8 MiB"
    monkeypatch.setattr(files, "MAX_ROSTER_BYTES", 32)
    path = tmp_path / "r.csv"
    path.write_text("student\ns01\ns02\ns03\ns04\ns05\ns06\n")  # 32 bytes: at the cap
    assert files.read_roster(str(path)) == [f"s0{i}" for i in range(1, 7)], "a roster of exactly the cap is read whole"
    path.write_text("student\ns01\ns02\ns03\ns04\ns05\ns06\ns07\n")  # 36 bytes
    with pytest.raises(CnnCalcError, match="too large"):
        files.read_roster(str(path))


# ---------------------------------------------------------------- compact cell lists and the quiet report


def test_wrong_cells_fill_each_line_to_at_most_100_characters():
    from types import SimpleNamespace

    from cnncalc.exercises.grading import QuestionResult
    from cnncalc.exercises.report import WRAP, _compact_feedback

    assert WRAP == 100
    question = SimpleNamespace(kind="matrix", rtol=0, atol=0, decimals=None, id="m")
    for width in range(1, 40):  # cell values of every length: some line ends at exactly 100 characters
        want = [[float(10 ** (k % 7) + k) for k in range(width)] for _ in range(3)]
        got = [[v + 1 for v in row] for row in want]
        q = QuestionResult("m", 0, 1, "incorrect", want, got, "wrong")
        lines = _compact_feedback(q, question)
        assert lines[0].startswith(f"0 of {3 * width} cells correct; wrong (row,col expected→got):")
        assert sum(line.count("→") for line in lines) == 3 * width + 1  # every cell, and the head's
        for a, b in itertools.pairwise(lines):
            assert len(a) <= WRAP, a
            first = b.split(" (")[0]
            assert len(a) + 1 + len(first) > WRAP, (a, first)  # the next cell would not have fitted


def test_the_quiet_report_counts_copies_in_singular_and_plural(worksheet):
    from cnncalc.exercises.report import quiet_report

    results = results_for(worksheet)
    one = quiet_report(results, ["possible copy: ann and bob share 5 wrong answers"])
    two = quiet_report(results, ["possible copy: ann and bob", "possible copy: bob and carl"])
    assert one.rstrip().endswith(", 1 possible copy (details in the full report)"), one
    assert two.rstrip().endswith(", 2 possible copies (details in the full report)"), two
    assert "possible cop" not in quiet_report(results, [])
