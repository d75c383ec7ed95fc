"""Answer groups (as Gradescope has them): `grade --stats` groups identical answers per question — read as
the question's kind reads them, so 14x14x32 and [14, 14, 32] are one — most common first, with count,
score and the slip that names them; an instructor scores a whole group at once in the overrides file,
for every student with that answer, now and (with a course) in later runs."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from cnncalc import CnnCalcError
from cnncalc import course as C
from cnncalc.course.grades import current_grades
from cnncalc.exercises import compute_key, grade_batch, load_problem
from cnncalc.exercises.grading import answer_form
from cnncalc.exercises.key import key_answers
from cnncalc.exercises.overrides import apply_overrides, read_overrides
from cnncalc.exercises.stats import class_stats, stats_text

ROOT = Path(__file__).parent.parent
FIXTURE = Path(__file__).parent / "data" / "course"
QUIZ = {"id": "groups-quiz", "networks": {"net": {"input": [32, 32, 3], "layers": [
    {"type": "conv", "name": "conv1", "filters": 16, "kernel": 3},
    {"type": "conv", "name": "conv2", "filters": 32, "kernel": 3, "stride": 2, "padding": 1}]}},
    "parts": [{"id": "shapes", "points": 2, "questions": [
        {"id": "shapes.conv1", "compute": {"shape": "net", "layer": "conv1"}},
        {"id": "shapes.conv2", "compute": {"shape": "net", "layer": "conv2"}}]},
        {"id": "plot", "points": 0, "questions": [{"id": "plot", "kind": "manual", "points": 0}]}]}
RIGHT = {"shapes.conv1": [30, 30, 16], "shapes.conv2": [15, 15, 32]}


def quiz_file(tmp_path: Path) -> Path:
    path = tmp_path / "quiz.yaml"
    path.write_text(yaml.safe_dump(QUIZ, sort_keys=False), encoding="utf-8")
    return path


def class_of(tmp_path: Path, conv2: dict[str, object]) -> list[Path]:
    """One answer file per student, their conv2 answers as given (the rest right)."""
    folder = tmp_path / "answers"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for student, answer in conv2.items():
        path = folder / f"{student}.json"
        path.write_text(json.dumps({"student": student, "answers": {**RIGHT, "shapes.conv2": answer}}))
        paths.append(path)
    return paths


CLASS = {"ann": [14, 14, 32], "ben": "14x14x32", "cat": "(14, 14, 32)", "dan": [15, 15, 32], "eve": [32, 15, 15],
         "fay": "14×14×32", "gus": [17, 17, 32]}


def test_the_one_form_of_an_answer():
    assert answer_form("shape", "22x22x6") == answer_form("shape", "22×22×6") == answer_form("shape", [22, 22, 6])
    assert answer_form("shape", "(22, 22, 6)") == answer_form("shape", [22.0, 22, 6]) == "[22.0, 22.0, 6.0]"
    assert answer_form("pair", "1, 2") == answer_form("pair", [1, 2])
    assert answer_form("count", "1,234") == answer_form("count", 1234)
    assert answer_form("shape", "fourteen") == '"fourteen"', "unreadable: by what was written"
    assert answer_form("shape", None) is None


def test_stats_groups_identical_answers_most_common_first(tmp_path):
    problem = load_problem(quiz_file(tmp_path))
    assert key_answers(problem, compute_key(problem)) == RIGHT
    results, _ = grade_batch(problem, class_of(tmp_path, CLASS))
    stats = class_stats(problem, results)
    conv2 = next(q for q in stats["questions"] if q["id"] == "shapes.conv2")
    assert conv2["groups"] == [
        {"answer": [14, 14, 32], "count": 4, "score": 0, "rule": "forgot_padding", "status": "incorrect",
         "message": "the padding of conv2 (p = 1) is left out: ⌊(30 − 3)/2⌋ + 1 = 14"},
        {"answer": [15, 15, 32], "count": 1, "score": 1, "rule": None, "status": "correct"},
        {"answer": [17, 17, 32], "count": 1, "score": 0, "rule": None, "status": "incorrect"},
        {"answer": [32, 15, 15], "count": 1, "score": 0, "rule": "channels_first", "status": "incorrect",
         "message": "channels first? the course writes [rows, columns, channels]"},
    ]
    assert conv2["rules"] == [
        {"rule": "forgot_padding", "count": 4, "message": "the padding of conv2 (p = 1) is left out: ⌊(30 − 3)/2⌋ + 1 = 14"},
        {"rule": "channels_first", "count": 1, "message": "channels first? the course writes [rows, columns, channels]"}]
    text = stats_text(stats)
    assert ("        4 × [14, 14, 32] — the padding of conv2 (p = 1) is left out: ⌊(30 − 3)/2⌋ + 1 = 14 "
            "[forgot_padding] · 0/1") in text
    assert "        1 × [15, 15, 32] (correct) · 1/1" in text
    plot = next(q for q in stats["questions"] if q["id"] == "plot")
    assert "groups" not in plot, "a manual question has no answer groups"


def test_an_override_scores_a_whole_group_in_every_form_and_a_students_own_wins(tmp_path):
    problem = load_problem(quiz_file(tmp_path))
    results, _ = grade_batch(problem, class_of(tmp_path, CLASS))
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(yaml.safe_dump({"overrides": [
        {"question": "shapes.conv2", "answer": [14, 14, 32], "score": 0.5, "comment": "padding forgotten: half"},
        {"q": "shapes.conv2", "answer": "15x15x32", "score": 0.25},  # the right answer: graded correct, untouched
        {"student": "fay", "question": "shapes.conv2", "score": 0.75}]}))
    apply_overrides(results, read_overrides(overrides, problem))
    scores = {r.student: next(q for q in r.questions if q.id == "shapes.conv2") for r in results}
    assert {s: q.score for s, q in scores.items()} == {"ann": 0.5, "ben": 0.5, "cat": 0.5, "dan": 1, "eve": 0,
                                                       "fay": 0.75, "gus": 0}
    assert scores["ben"].feedback == "instructor (answer group): padding forgotten: half"
    assert scores["ben"].status == "partial" and scores["fay"].feedback == "instructor: score set by the instructor"
    stats = class_stats(problem, results)
    group = next(q for q in stats["questions"] if q["id"] == "shapes.conv2")["groups"][0]
    assert group["count"] == 4 and group["score"] == pytest.approx((0.5 * 3 + 0.75) / 4), "the scores as overridden"


@pytest.mark.parametrize(("entry", "message"), [
    ({"question": "shapes.conv9", "answer": [1], "score": 0}, "unknown question"),
    ({"question": "plot", "answer": "x", "score": 0}, "graded by the instructor"),
    ({"question": "shapes.conv2", "answer": [14], "student": "ann", "score": 0}, "not both"),
    ({"question": "shapes.conv2", "answer": [14, 14, 32], "score": 3}, "score out of range"),
    ({"question": "shapes.conv2", "answer": True, "score": 0}, "cannot form a group"),
    ({"question": "shapes.conv2", "score": 0}, "answer group"),
])
def test_group_overrides_are_checked(tmp_path, entry, message):
    problem = load_problem(quiz_file(tmp_path))
    path = tmp_path / "overrides.yaml"
    path.write_text(yaml.safe_dump({"overrides": [entry]}))
    with pytest.raises(CnnCalcError, match=message):
        read_overrides(path, problem)
    path.write_text(yaml.safe_dump({"overrides": [
        {"question": "shapes.conv2", "answer": [14, 14, 32], "score": 0},
        {"question": "shapes.conv2", "answer": "14x14x32", "score": 1}]}))
    with pytest.raises(CnnCalcError, match="repeats override 1"):
        read_overrides(path, problem)


def test_the_cli_groups_in_stats_json_and_applies_a_group_override(tmp_path, cli):
    problem = quiz_file(tmp_path)
    class_of(tmp_path, CLASS)
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("overrides:\n  - {question: shapes.conv2, answer: [14, 14, 32], score: 0.5}\n")
    code, out, err = cli("grade", str(problem), str(tmp_path / "answers"), "--stats", "--overrides", str(overrides),
                         "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    scores = {r["student"]: r["score"] for r in document["results"]}
    assert scores == {"ann": 1.5, "ben": 1.5, "cat": 1.5, "dan": 2, "eve": 1, "fay": 1.5, "gus": 1}
    conv2 = next(q for q in document["stats"]["questions"] if q["id"] == "shapes.conv2")
    assert [(g["answer"], g["count"], g["score"], g["rule"]) for g in conv2["groups"]][:2] == [
        ([14, 14, 32], 4, 0.5, "forgot_padding"), ([15, 15, 32], 1, 1, None)]


# ---------------------------------------------------------------- the --stats defects of issue 22


def test_stats_with_variants_has_one_line_of_answers_no_rule_names(tmp_path, cli):
    from cnncalc.exercises.variants import student_variant
    from cnncalc.spec import safeload

    worksheet = ROOT / "problems" / "cnn-layers-worksheet.yaml"
    secret = b"a course secret of more than sixteen bytes"
    raw = safeload.load_file(worksheet)
    folder = tmp_path / "answers"
    folder.mkdir()
    for position in range(12):
        name = f"s{position:02d}"
        variant = student_variant(raw, str(worksheet), secret, name)
        answers = key_answers(variant.problem, variant.key)
        relu = [list(row) for row in answers["b.relu"]]
        if position < 10:  # ten maps with one cell wrong (partial), two all wrong (incorrect): no rule names them
            relu[0][0] += 1000
        else:
            relu = [[v + 1000 for v in row] for row in relu]
        answers["b.relu"] = relu
        (folder / f"{name}.json").write_text(json.dumps({"student": name, "variant": variant.fingerprint,
                                                         "answers": answers}))
    key_file = tmp_path / "course.key"
    key_file.write_bytes(secret)
    os.chmod(key_file, 0o600)
    code, out, err = cli("grade", str(worksheet), str(folder), "--secret-file", str(key_file), "--stats", "--quiet")
    assert code == 0, err
    block = out.split("\nb.relu", 1)[1].split("\nb.pool", 1)[0]
    assert block.count("no diagnosis") == 1 and "12 × no diagnosis" in block, block


def test_a_maps_diagnosis_is_whole_in_stats(tmp_path, cli):
    problem = ROOT / "problems" / "convolution-vs-correlation.yaml"
    code, out, _ = cli("key", str(problem), "--format", "json")
    answers = json.loads(out)["answers"]
    folder = tmp_path / "answers"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.json").write_text(json.dumps({"student": name, "answers": {**answers,
                                                                                      "flip.convolution": 34}}))
    code, out, err = cli("grade", str(problem), str(folder), "--stats", "--quiet")
    assert code == 0, err
    assert ("2 × 34 — that is cross-correlation (the kernel as given); a true convolution flips the kernel "
            "vertically and horizontally first [flip]") in out
    assert "; wrong:" not in out


# ---------------------------------------------------------------- the course gradebook


def test_a_group_override_is_stored_in_the_course_and_applies_in_later_runs(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id\n" + "\n".join(CLASS) + "\n", encoding="utf-8")
    C.init_course(tmp_path / "course", roster)
    problem = load_problem(quiz_file(tmp_path))
    first = class_of(tmp_path, {s: a for s, a in CLASS.items() if s != "gus"})
    with C.open_course(tmp_path / "course") as course:
        results, _ = grade_batch(problem, first)
        C.record_grades(course, problem, results, first)
        overrides = tmp_path / "overrides.yaml"
        overrides.write_text("overrides:\n  - {question: shapes.conv2, answer: '14 x 14 x 32', score: 0.5}\n")
        C.record_override_file(course, problem, overrides)
        C.record_override_file(course, problem, overrides)  # the same file again adds nothing
        assert course.db.execute("SELECT count(*) FROM overrides").fetchone() == (1,)
        grades = {g.student: g.score for g in current_grades(course.db).values()}
        assert grades == {"ann": 1.5, "ben": 1.5, "cat": 1.5, "dan": 2, "eve": 1, "fay": 1.5}
        # a later run: a new student with the same slip, in yet another form, is in the group
        later = class_of(tmp_path / "later", {"gus": "[14,14,32]"})
        results, _ = grade_batch(problem, later)
        C.record_grades(course, problem, results, later)
        assert {g.student: g.score for g in current_grades(course.db).values()}["gus"] == 1.5
        # the command's group override, with the answer typed as text
        C.override(course, None, "shapes.conv2", "0.25", "one quarter", answer="14×14×32")
        assert {g.student: g.score for g in current_grades(course.db).values()}["ann"] == 1.25


def test_a_version_1_gradebook_is_upgraded_and_its_answers_read_by_kind(tmp_path):
    folder = tmp_path / "v1"
    shutil.copytree(FIXTURE / "v1", folder)
    for path in folder.iterdir():
        path.chmod(0o600)
    db = sqlite3.connect(folder / "gradebook.sqlite")
    assert db.execute("PRAGMA user_version").fetchone() == (1,)
    # as version 1 stored them: the canonical form of what was written
    (sid,) = db.execute("SELECT qr.submission_id FROM question_results qr WHERE qr.question = 'a.shape' "
                        "LIMIT 1").fetchone()
    db.execute("UPDATE question_results SET answer = ?, status = 'invalid' WHERE submission_id = ? AND "
               "question = 'a.shape'", (json.dumps("4x4"), sid))
    before = dict(db.execute("SELECT id, answer FROM overrides WHERE answer IS NOT NULL"))
    db.commit()
    db.close()
    with C.open_course(folder) as course:
        assert course.db.execute("PRAGMA user_version").fetchone()[0] == 2
        (answer,) = course.db.execute("SELECT answer FROM question_results WHERE submission_id = ? AND "
                                      "question = 'a.shape'", (sid,)).fetchone()
        assert answer == "[4.0, 4.0]", "read as a shape: the group of [4, 4]"
        after = dict(course.db.execute("SELECT id, answer FROM overrides WHERE answer IS NOT NULL"))
        assert after == before == {2: "3.5"}, "the fixture's group (d.padding 3.5) was already in its one form"
    kept = folder / "gradebook-v1.sqlite.bak"
    assert kept.exists(), "the version-1 file is kept beside it"
    old = sqlite3.connect(kept)
    assert old.execute("SELECT answer FROM question_results WHERE submission_id = ? AND question = 'a.shape'",
                       (sid,)).fetchone() == (json.dumps("4x4"),)
    old.close()
