"""What an instructor reads after `cnncalc grade`: every wrong cell in the text report, one line per
student with --quiet, the class view with --stats (text and JSON), and gradebooks in the layouts Canvas
and Moodle import."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
SECRET = b"a course secret of more than sixteen bytes"

KEY = {"a.shape": [4, 4], "a.col4_row4": 9, "a.col3_row2": -3, "a.col2_row4": 22,
       "b.relu": [[35, 20, 20, 3], [1, 0, 21, 0], [21, 7, 15, 22], [0, 22, 22, 29]],
       "b.pool": [[35, 21, 21], [21, 21, 22], [22, 22, 29]], "c.total_params": 348, "d.padding": 3,
       "d.params": 1184}


def _class(folder: Path) -> Path:
    """alice: all right; bob: two wrong cells, the shape read off the input, the bias left out; carol and
    dave: the same two wrong turns (shape, p = f/2), dave leaves d.params out; erin: every ReLU cell wrong."""
    folder.mkdir()
    bob = json.loads(json.dumps(KEY))
    bob["b.relu"][1][2], bob["b.relu"][3][0] = -1, 5
    bob["a.shape"], bob["a.col4_row4"] = [6, 6], 2
    carol = {**KEY, "a.shape": [6, 6], "d.padding": 3.5}
    dave = {k: v for k, v in carol.items() if k != "d.params"}
    erin = {**KEY, "b.relu": [[v + 100 for v in row] for row in KEY["b.relu"]]}
    for name, answers in (("alice", KEY), ("bob", bob), ("carol", carol), ("dave", dave), ("erin", erin)):
        (folder / f"{name}.json").write_text(json.dumps({"student": name, "answers": answers}))
    return folder


SCORES = {"alice": 2.0, "bob": 2 - 0.125 - 0.125 - 0.25 * 2 / 16, "carol": 2 - 0.125 - 0.25,
          "dave": 2 - 0.125 - 0.25 - 0.25, "erin": 2 - 0.25}


def test_the_key_used_here_is_the_worksheets(cli_json):
    assert cli_json("key", str(WORKSHEET))["answers"] == KEY


def test_every_wrong_cell_is_in_the_text_report(tmp_path, cli):
    code, out, err = cli("grade", str(WORKSHEET), str(_class(tmp_path / "answers")))
    assert code == 0, err
    bob = out.split("bob:", 1)[1].split("\n\n", 1)[0]
    assert ("~ b.relu             0.2188 / 0.25   partial   14 of 16 cells correct; wrong (row,col expected→got): "
            "(2,3) 21→−1 (4,1) 0→5") in bob
    assert "wrong:\n" not in out and not out.rstrip().endswith("wrong:")
    erin = out.split("erin:", 1)[1]
    relu = erin[erin.index("b.relu"):erin.index("\n  ✓ b.pool")]
    assert relu.count("→") == 1 + 16 and "0 of 16 cells correct" in relu
    for i, row in enumerate(KEY["b.relu"]):
        for j, value in enumerate(row):
            assert f"({i + 1},{j + 1}) {str(value).replace('-', '−')}→{value + 100}" in relu
    lines = relu.rstrip("\n").split("\n")
    assert len(lines) > 1 and all(len(line) <= 40 + 100 + 2 for line in lines[1:])  # wrapped, indented
    assert all(line.startswith(" " * 40) for line in lines[1:])
    # the diagnosis of other kinds stays on its line
    assert "expected 9, got 2 — it looks like the bias (7) was left out" in bob


def test_quiet_prints_one_line_per_student(tmp_path, cli):
    code, out, err = cli("grade", str(WORKSHEET), str(_class(tmp_path / "answers")), "--quiet")
    assert code == 0, err
    lines = out.splitlines()
    assert lines == [
        "alice: 2 / 2  correct 9 manual 1",
        "bob: 1.7188 / 2  correct 6 partial 1 incorrect 2 manual 1",
        "carol: 1.625 / 2  correct 7 incorrect 2 manual 1",
        "dave: 1.375 / 2  correct 6 incorrect 2 missing 1 manual 1",
        "erin: 1.75 / 2  correct 8 incorrect 1 manual 1",
        f"# 5 file(s), 0 invalid, mean {round(sum(SCORES.values()) / 5, 4):g} / 2",
    ]
    code, _, err = cli("grade", str(WORKSHEET), str(tmp_path / "answers"), "--quiet", "--format", "json")
    assert code == 2 and "--quiet is for the text report" in err


def _pearson(xs, ys):
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy)


def test_stats_json_is_the_class_view(tmp_path, cli):
    code, out, err = cli("grade", str(WORKSHEET), str(_class(tmp_path / "answers")), "--stats", "--format", "json")
    assert code == 0, err
    stats = json.loads(out)["stats"]
    totals = [SCORES[s] for s in ("alice", "bob", "carol", "dave", "erin")]
    assert stats["graded"] == 5 and stats["invalid"] == 0 and stats["max"] == 2
    assert stats["scores"]["mean"] == pytest.approx(sum(totals) / 5, abs=1e-4)
    assert stats["scores"]["median"] == pytest.approx(sorted(totals)[2], abs=1e-4)
    assert stats["scores"]["min"] == pytest.approx(1.375) and stats["scores"]["full_marks"] == 1
    histogram = stats["histogram"]
    assert len(histogram) == 10 and [b["from"] for b in histogram] == pytest.approx([k / 5 for k in range(10)])
    counts = [sum(1 for t in totals if b["from"] <= t < b["to"] or (k == 9 and t == b["to"]))
              for k, b in enumerate(histogram)]
    assert [b["count"] for b in histogram] == counts and sum(counts) == 5
    questions = {q["id"]: q for q in stats["questions"]}
    shape = questions["a.shape"]
    assert shape["correct"] == pytest.approx(0.4) and shape["incorrect"] == pytest.approx(0.6)
    assert shape["mean"] == pytest.approx(0.125 * 2 / 5, abs=1e-4)
    assert shape["common_wrong"] == [{"count": 3, "share": 0.6, "answer": [6, 6],
                                      "feedback": shape["common_wrong"][0]["feedback"], "diagnosis": None,
                                      "rule": None}]
    padding = questions["d.padding"]["common_wrong"]
    assert padding[0]["count"] == 2 and padding[0]["answer"] == 3.5 and "p = f/2" in padding[0]["diagnosis"]
    cell = questions["a.col4_row4"]["common_wrong"]
    assert cell[0]["answer"] == 2 and "bias (7) was left out" in cell[0]["diagnosis"]
    assert questions["d.params"]["missing"] == pytest.approx(0.2)
    assert questions["b.relu"]["partial"] == pytest.approx(0.2) and questions["b.relu"]["incorrect"] == pytest.approx(0.2)
    # discrimination: the question's score against the rest of the total, as a literal Pearson correlation
    scores = [0.125, 0, 0, 0, 0.125]
    rest = [t - s for t, s in zip(totals, scores)]
    assert questions["a.shape"]["discrimination"] == pytest.approx(_pearson(scores, rest), abs=1e-4)
    assert questions["a.col3_row2"]["discrimination"] is None  # everyone right: it separates nobody
    assert [q["kind"] for q in stats["questions"]][:2] == ["shape", "value"]
    plot = questions["b.plot"]  # the manual question: every file 'manual', none of the graded statuses
    assert plot["kind"] == "manual" and plot["manual"] == 1 and plot["correct"] == plot["missing"] == 0
    assert "common_wrong" not in plot
    assert sorted(shape) == sorted(["id", "kind", "max", "mean", "mean_share", "correct", "partial", "incorrect",
                                    "missing", "invalid", "manual", "discrimination", "common_wrong", "groups",
                                    "rules"])


def test_stats_text(tmp_path, cli):
    code, out, err = cli("grade", str(WORKSHEET), str(_class(tmp_path / "answers")), "--stats", "--quiet")
    assert code == 0, err
    view = out.split("Class statistics", 1)[1]
    assert "for cnn-layers-worksheet (version 1): 5 graded, 0 invalid" in view
    assert "histogram of total scores:" in view and "  [   1.8,      2]      1 ████" in view
    assert "  [   1.6,    1.8)      3 " + "█" * 40 + "\n" in view and "  [     0,    0.2)      0\n" in view
    assert "        3 × [6, 6]" in view
    assert "        2 × 3.5 — p = f/2 is off by one half" in view
    row = next(line for line in view.splitlines() if line.startswith("a.shape"))
    assert row.split()[1:7] == ["0.05", "0.125", "40%", "0%", "60%", "0%"]


def test_stats_with_variants_group_wrong_answers_by_their_diagnosis(tmp_path, cli):
    from cnncalc.exercises.key import key_answers
    from cnncalc.exercises.slips import candidates
    from cnncalc.exercises.variants import student_variant
    from cnncalc.spec import safeload

    secret = tmp_path / "course.key"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    raw = safeload.load_file(WORKSHEET)
    answers = tmp_path / "answers"
    answers.mkdir()
    wrong = {}
    for name in ("ann", "ben", "cat"):
        variant = student_variant(raw, str(WORKSHEET), SECRET, name)
        mine = key_answers(variant.problem, variant.key)
        if name != "cat":
            found = candidates(variant.key, variant.problem.question("a.col4_row4"))
            value = next(c.value for c in found if c.rule == "forgot_bias")
            mine["a.col4_row4"] = float(value)
            wrong[name] = value
        document = {"student": name, "variant": variant.fingerprint, "answers": mine}
        (answers / f"{name}.json").write_text(json.dumps(document))
    assert len(set(wrong.values())) == 2  # two different values, one wrong turn
    code, out, err = cli("grade", str(WORKSHEET), str(answers), "--secret-file", str(secret), "--stats",
                         "--format", "json")
    assert code == 0, err
    stats = json.loads(out)["stats"]
    cell = next(q for q in stats["questions"] if q["id"] == "a.col4_row4")
    assert cell["incorrect"] == pytest.approx(2 / 3, abs=1e-4)
    assert len(cell["common_wrong"]) == 1 and cell["common_wrong"][0]["count"] == 2
    assert "bias (#) was left out" in cell["common_wrong"][0]["diagnosis"]


def test_canvas_gradebook(tmp_path, cli):
    book = tmp_path / "canvas.csv"
    code, _, err = cli("grade", str(WORKSHEET), str(_class(tmp_path / "answers")), "--gradebook", str(book),
                       "--gradebook-format", "canvas", "--assignment", "Worksheet 3 (1234)")
    assert code == 0, err
    assert book.read_text() == (
        "Student,ID,SIS User ID,SIS Login ID,Section,Worksheet 3 (1234)\n"
        "    Points Possible,,,,,2\n"
        ",,alice,,,2\n,,bob,,,1.7188\n,,carol,,,1.625\n,,dave,,,1.375\n,,erin,,,1.75\n")
    code, _, err = cli("grade", str(WORKSHEET), str(tmp_path / "answers"), "--gradebook", str(book),
                       "--gradebook-format", "canvas", "--lms-id-column", "sis-login-id")
    assert code == 0, err
    lines = book.read_text().splitlines()
    assert lines[0] == ("Student,ID,SIS User ID,SIS Login ID,Section,"
                        "\"Exercise: convolution, ReLU, pooling and FC layers\"")
    assert lines[2] == ",,,alice,,2"


def test_moodle_gradebook(tmp_path, cli):
    book = tmp_path / "moodle.csv"
    code, _, err = cli("grade", str(WORKSHEET), str(_class(tmp_path / "answers")), "--gradebook", str(book),
                       "--gradebook-format", "moodle", "--assignment", "Worksheet 3")
    assert code == 0, err
    assert book.read_text() == ("ID number,Worksheet 3\nalice,2\nbob,1.7188\ncarol,1.625\ndave,1.375\n"
                                "erin,1.75\n")
    before = book.read_text()
    code, _, err = cli("grade", str(WORKSHEET), str(tmp_path / "answers"), "--gradebook", str(book),
                       "--gradebook-format", "moodle", "--lms-id-column", "email", "--assignment", "W3")
    # ids under an "Email address" header would match no one in Moodle: refused, the gradebook as it was
    assert code == 2 and "the student ids are not email addresses" in err and book.read_text() == before


def test_csv_gradebook_is_the_default_per_question_layout(tmp_path, cli):
    book = tmp_path / "grades.csv"
    code, _, err = cli("grade", str(WORKSHEET), str(_class(tmp_path / "answers")), "--gradebook", str(book),
                       "--gradebook-format", "csv")
    assert code == 0, err
    assert book.read_text().splitlines()[0] == ("student,a.shape,a.col4_row4,a.col3_row2,a.col2_row4,b.plot,b.relu,"
                                                "b.pool,c.total_params,d.padding,d.params,total,max,file,notes")


@pytest.mark.parametrize("args, fragment", [
    (["--gradebook-format", "canvas"], "--gradebook-format canvas needs --gradebook FILE"),
    (["--gradebook", "g.csv", "--gradebook-format", "moodle", "--lms-id-column", "sis-user-id"],
     ("--lms-id-column: moodle has no such identifier column (got 'sis-user-id', expected id-number, email, "
     "username, user-id)")),
    (["--gradebook", "g.csv", "--lms-id-column", "email"], "go with --gradebook-format canvas or moodle"),
    (["--gradebook", "g.csv", "--gradebook-format", "canvas", "--assignment", "  "], "--assignment is empty"),
    (["--gradebook", "g.csv", "--gradebook-format", "blackboard"], "blackboard"),
])
def test_gradebook_option_errors(tmp_path, cli, args, fragment):
    answers = _class(tmp_path / "answers")
    args = [str(tmp_path / a) if a == "g.csv" else a for a in args]
    code, _, err = cli("grade", str(WORKSHEET), str(answers), *args)
    assert code == 2 and fragment in err, err
    assert not (tmp_path / "g.csv").exists()


def test_a_sheet_fills_data_into_question_prompts_and_ends_with_one_newline(tmp_path, cli):
    problem = tmp_path / "p.yaml"
    problem.write_text("""id: filled
data: {k: 3, n: 9}
networks:
  net: {input: [$n, $n, 1], layers: [{type: conv, name: c, filters: 1, kernel: $k}]}
parts:
  - id: a
    prompt: A ${k} × ${k} filter on a ${n} × ${n} input, no padding, stride 1.
    questions:
      - {id: a.shape, prompt: "Shape after the ${k} × ${k} filter?", compute: {shape: net, layer: c}}
""")
    code, _, err = cli("generate", str(problem), "--seed", "1", "--out", str(tmp_path / "out"))
    assert code == 0, err
    sheet = next((tmp_path / "out" / "sheets").iterdir()).read_text()
    assert "- **[a.shape]** Shape after the 3 × 3 filter?" in sheet
    assert "a) (1 p) A 3 × 3 filter on a 9 × 9 input" in sheet
    assert sheet.endswith("```\n") and not sheet.endswith("\n\n")
