"""Hostile inputs to `grade` and `generate` (answer files, ids, rosters, secrets, overrides, paths, output
formats) and the data promises: no grade lost, none misattributed, no gradebook damaged.

Every hostile input is generated here, at test time. Exit-code policy under test: 0 every file graded,
1 some answer files invalid, 2 usage error or nothing gradable.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnncalc import CnnCalcError
from cnncalc.exercises import compute_key, grade_batch, load_problem
from cnncalc.exercises.files import MAX_ROSTER_BYTES, read_roster
from cnncalc.exercises.grading import MAX_ECHO_CHARS, MAX_ID_CHARS, read_answers
from cnncalc.exercises.variants import MAX_SECRET_BYTES, MIN_SECRET_BYTES, read_secret, student_variant
from cnncalc.spec import safeload

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
SECRET = b"a course secret of more than sixteen bytes"
ALL_RIGHT = {"a.shape": [4, 4], "a.col4_row4": 9, "a.col3_row2": -3, "a.col2_row4": 22,
             "b.relu": [[35, 20, 20, 3], [1, 0, 21, 0], [21, 7, 15, 22], [0, 22, 22, 29]],
             "b.pool": [[35, 21, 21], [21, 21, 22], [22, 22, 29]], "c.total_params": 348, "d.padding": 3,
             "d.params": 1184}
HOSTILE_IDS = ["0012345", "yes", "NO", "#hash", "a: b", "Łukasz", "名前", 'q"uo\\te', "null", "~", "1e3",
               "0x1F", "2024-01-01", "- item", "[x]", "{y}", "*star", "&anchor", "!tag", "%p", "@at", "`tick`",
               "'single'", "end\\end{verbatim}", "<b>html</b>", "a  b", "x" * MAX_ID_CHARS]


@pytest.fixture(scope="module")
def worksheet():
    problem = load_problem(WORKSHEET)
    return problem, compute_key(problem)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def good(folder: Path, student: str = "good", name: str | None = None) -> Path:
    return write(folder, name or f"{student}.json", json.dumps({"student": student, "answers": ALL_RIGHT}))


def strict_json(text: str):
    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


# ---------------------------------------------------------------- root cause 7: one file never stops the batch

ONE_ANSWER = [  # (answer text in YAML, status of c.total_params, message fragment)
    ("1" + "0" * 399, "invalid", "number too large"),
    ("-" + "9" * 400, "invalid", "number too large"),
    ("0x" + "f" * 300, "invalid", "number too large"),
    ("1e999", "invalid", "finite"),
    (".nan", "invalid", "finite"),
    ("2024-01-01", "invalid", "expected a number, got date"),
    ("2024-01-01 10:00:00", "invalid", "expected a number, got datetime"),
    ("!!binary aGVsbG8=", "invalid", "expected a number, got binary data"),
    ("{a: [1, {b: [2, {c: 3}]}]}", "invalid", "expected a number, got mapping"),
    ("[1, [2, [3]]]", "invalid", "expected a number"),
    ("'" + "x" * 5000 + "'", "invalid", "characters)"),
    ("{? 0x" + "f" * 300 + " : 1}", "invalid", "expected a number, got mapping"),
    ("[0x" + "f" * 300 + "]", "invalid", "expected a number, got list"),
]


@pytest.mark.parametrize("answer, status, fragment", ONE_ANSWER, ids=lambda v: str(v)[:20])
def test_an_odd_answer_is_invalid_and_strict_json_reports_it(tmp_path, cli, answer, status, fragment):
    write(tmp_path, "odd.yaml", f"student: odd\nanswers:\n  c.total_params: {answer}\n  d.padding: 3\n")
    good(tmp_path)
    code, out, err = cli("grade", str(WORKSHEET), str(tmp_path), "--format", "json")
    assert code == 0, err  # the file itself was read: graded, with one invalid answer
    data = strict_json(out)
    results = {r["student"]: r for r in data["results"]}
    assert results["good"]["score"] == 2
    question = {q["id"]: q for q in results["odd"]["questions"]}
    assert question["c.total_params"]["status"] == status
    assert fragment in question["c.total_params"]["feedback"]
    assert len(question["c.total_params"]["feedback"]) < 200
    assert question["d.padding"]["status"] == "correct"
    assert len(json.dumps(question["c.total_params"]["got"])) <= MAX_ECHO_CHARS + 40


@pytest.mark.parametrize("content, fragment", [
    ("student: s\nanswers: !!set {a: null}\n", "tag not allowed"),
    ("student: s\nanswers: !!omap [{a: 1}]\n", "tag not allowed"),
    ("student: s\nanswers: {a: !!python/name:os.system ''}\n", "tag not allowed"),
    ("[" * 70 + "]" * 70, "nesting deeper"),
    ("student: s\nanswers: " + "{a: " * 12 + "1" + "}" * 12 + "\n", "nested deeper than 8"),
    ("student: s\nanswers: {a: &x [1, 2]}\nmore: [*x, *x]\n", None),  # aliases are fine
    ("- just\n- a list\n", "mapping"),
    ("", "mapping"),
    ("student: s\n", "'answers' must map"),
    ("\ufeffstudent: s\nanswers: {d.padding: 3}\n", None),  # a BOM
], ids=range(10))
def test_a_bad_file_is_invalid_and_the_others_are_graded(tmp_path, cli, content, fragment):
    write(tmp_path, "bad.yaml", content)
    good(tmp_path)
    code, out, err = cli("grade", str(WORKSHEET), str(tmp_path), "--format", "json")
    data = strict_json(out)
    assert [r["file"].endswith(n) for r, n in zip(data["results"], ("bad.yaml", "good.json"))] == [True, True]
    assert data["results"][1]["score"] == 2
    if fragment is None:
        assert code == 0 and "error" not in data["results"][0]
    else:
        assert code == 1 and fragment in data["results"][0]["error"]
        assert "1 of 2 answer file(s) invalid" in err
        assert data["summary"] == {"files": 2, "graded": 1, "invalid": 1}


def test_expression_answers_that_are_too_complex_are_invalid_fast():
    problem = load_problem(ROOT / "problems" / "padding-stride.yaml")
    key = compute_key(problem)
    from cnncalc.exercises.grading import grade_answers

    cases = {"(a+b+c+d+e)**64": "too complex", "((9**64)**64)**2": "too complex", "f**n": "whole number",
             "(f-1)/2 + 0*(a+b)**16": "correct", "(f-1)/2 + 0*(a+b)**17": "too complex",
             "(f**2 - 1)/(2*(f+1))": "correct", "floor((f-1)/2)": "correct", "f//2": "correct",
             "(f-1)/2 + 1/(f-f)": "incorrect"}
    for answer, expected in cases.items():
        start = time.perf_counter()
        result = grade_answers(problem, key, "s", {"same.formula": answer})
        question = {q.id: q for q in result.questions}["same.formula"]
        assert time.perf_counter() - start < 2, answer  # a hang guard: at most 0.006 s an answer quiet
        shown = question.feedback if question.status == "invalid" else question.status
        assert expected in shown, (answer, question.status, question.feedback)


def test_a_file_that_vanishes_or_is_a_fifo_is_invalid(tmp_path, worksheet, cli_process):
    problem, key = worksheet
    gone = tmp_path / "gone.yaml"
    results, _ = grade_batch(problem, [gone, good(tmp_path)], key)
    assert "cannot read the answer file: No such file" in results[0].error and results[1].score == 2
    os.mkfifo(tmp_path / "pipe.yaml")
    code, out, err = cli_process("grade", str(WORKSHEET), str(tmp_path), "--format", "json", timeout=60)
    assert code == 1, err
    data = strict_json(out)
    errors = {Path(r["file"]).name: r.get("error") for r in data["results"]}
    assert "not a regular file" in errors["pipe.yaml"] and errors["good.json"] is None


def test_an_unexpected_failure_in_one_file_is_contained(tmp_path, worksheet, monkeypatch):
    from cnncalc.exercises import grading

    problem, key = worksheet
    real = grading.grade_answers

    def breaks_for_mallory(problem, key, student, answers, file=""):
        if student == "mallory":
            raise KeyError("boom")
        return real(problem, key, student, answers, file)

    monkeypatch.setattr(grading, "grade_answers", breaks_for_mallory)
    results, _ = grade_batch(problem, [good(tmp_path, "alice"), good(tmp_path, "mallory"), good(tmp_path, "bob")],
                             key)
    assert [r.score for r in results] == [2, 0, 2]
    assert "unexpected KeyError" in results[1].error and "please report" in results[1].error


# ---------------------------------------------------------------- root cause 8: student identity


@pytest.mark.parametrize("line, student", [
    ("student: 0012345", "0012345"), ("student: yes", "yes"), ("student: NO", "NO"), ("student: 1.50", "1.50"),
    ("student: 2024-01-01", "2024-01-01"), ("student: 0x1F", "0x1F"), ("student: '#hash'", "#hash"),
    ('student: "a: b"', "a: b"), ("student: Łukasz", "Łukasz"), ("student: 名前", "名前"),
    ("student: '  padded  '", "padded"), ('{"student": 12, "answers": {}}', "12"),
])
def test_the_student_id_is_read_as_written(tmp_path, line, student):
    text = line if line.startswith("{") else line + "\nanswers: {}\n"
    got, _, _ = read_answers(write(tmp_path, "a.yaml", text))
    assert got == student and isinstance(got, str)


@pytest.mark.parametrize("text, fragment", [
    ("answers: {}\n", "no 'student:' field"),
    ("student: [a, b]\nanswers: {}\n", "not a list or a mapping"),
    ("student: {a: b}\nanswers: {}\n", "not a list or a mapping"),
    ("student:\nanswers: {}\n", "student: field is empty"),
    ("student: null\nanswers: {}\n", "student: field is empty"),
    ("student: '   '\nanswers: {}\n", "student: field is empty"),
    ('student: "a\\nb"\nanswers: {}\n', "control character"),
    ('student: "\\e[31mred"\nanswers: {}\n', "control character"),
    ("student: " + "x" * (MAX_ID_CHARS + 1) + "\nanswers: {}\n", "student id too long"),
])
def test_a_bad_student_field_is_refused_clearly(tmp_path, text, fragment):
    with pytest.raises(CnnCalcError, match=re.escape(fragment)):
        read_answers(write(tmp_path, "a.yaml", text))


def test_template_round_trip_with_hostile_ids(tmp_path, cli):
    """generate for a roster of awkward ids, fill each template with that student's key answers, grade:
    each student is graded against their own variant, with full marks."""
    secret = write(tmp_path, "course.key", SECRET)
    os.chmod(secret, 0o600)
    ids = HOSTILE_IDS[:7] + ['q"uo\\te', "end\\end{verbatim}", "<b>html</b>"]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["student"], *[[i] for i in ids]])
    roster = write(tmp_path, "roster.csv", buffer.getvalue())
    out = tmp_path / "out"
    code, _, err = cli("generate", str(WORKSHEET), "--roster", str(roster), "--secret-file", str(secret),
                       "--out", str(out))
    assert code == 0, err
    index = list(csv.DictReader(io.StringIO((out / "keys" / "index.csv").read_text())))
    assert [row["student"].lstrip("'") for row in index] == ids
    answers = tmp_path / "answers"
    answers.mkdir()
    for k, row in enumerate(index):
        sheet = (out / row["sheet"]).read_text()
        template = sheet.split("```yaml\n", 1)[1].split("```", 1)[0]
        key = json.loads((out / row["key"]).read_text())
        filled = template
        for qid, value in key["answers"].items():
            filled = filled.replace(f"  {qid}:\n", f"  {qid}: {json.dumps(value)}\n")
        parsed = safeload.loads(filled)
        assert parsed["student"] == ids[k] and parsed["variant"] == key["variant"]
        write(answers, f"{k}.yaml", filled)
    book = tmp_path / "grades.csv"
    code, text, err = cli("grade", str(WORKSHEET), str(answers), "--secret-file", str(secret), "--format", "json",
                          "--gradebook", str(book))
    assert code == 0, err
    results = strict_json(text)["results"]
    assert [r["student"] for r in results] == ids
    for result in results:
        assert result["score"] == result["max"] == 2, result["student"]
        assert not any("not this student's variant" in w for w in result.get("warnings", []))
    expected = {i: student_variant(safeload.load_file(WORKSHEET), str(WORKSHEET), SECRET, i).fingerprint
                for i in ids}
    assert {r["student"]: r["variant"] for r in results} == expected
    assert len(set(expected.values())) == len(ids)


def test_templates_escape_per_format(tmp_path, cli):
    secret = write(tmp_path, "course.key", SECRET)
    os.chmod(secret, 0o600)
    ids = ["end\\end{verbatim}\\input{/etc/passwd}", "</pre><script>alert(1)</script>", "*bold* [x](y)"]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["student"], *[[i] for i in ids]])
    roster = write(tmp_path, "roster.csv", buffer.getvalue())
    texts = {}
    for fmt in ("latex", "html", "markdown"):
        code, _, err = cli("generate", str(WORKSHEET), "--roster", str(roster), "--secret-file", str(secret),
                           "--out", str(tmp_path / fmt), "--format", fmt)
        assert code == 0, err
        texts[fmt] = "".join(p.read_text() for p in sorted((tmp_path / fmt / "sheets").iterdir()))
    assert texts["latex"].count(r"\end{verbatim}") == texts["latex"].count(r"\begin{verbatim}") == 3
    assert "\\input{/etc/passwd}" not in texts["latex"] and "\\u005cinput{/etc/passwd}" in texts["latex"]
    assert "<script>" not in texts["html"] and "&lt;/pre&gt;&lt;script&gt;" in texts["html"]
    assert "\\*bold\\* \\[x\\](y)" in texts["markdown"]


def test_per_student_variants_survive_bad_files(tmp_path, cli):
    secret = write(tmp_path, "course.key", SECRET)
    os.chmod(secret, 0o600)
    raw = safeload.load_file(WORKSHEET)
    from cnncalc.exercises.key import key_answers

    variant = student_variant(raw, str(WORKSHEET), SECRET, "0012345")
    answers = tmp_path / "answers"
    answers.mkdir()
    write(answers, "a.yaml", "student: 0012345\nanswers: " + json.dumps(key_answers(variant.problem, variant.key)))
    write(answers, "b.yaml", "student: s\nanswers: {c.total_params: 1" + "0" * 400 + ", d.padding: 2024-01-01}\n")
    write(answers, "c.yaml", "student: [\n")
    book = tmp_path / "g.csv"
    code, out, err = cli("grade", str(WORKSHEET), str(answers), "--secret-file", str(secret), "--format", "json",
                         "--gradebook", str(book))
    assert code == 1, err
    results = strict_json(out)["results"]
    assert [r["student"] for r in results] == ["0012345", "s", "c"]
    assert results[0]["score"] == 2 and results[0]["variant"] == variant.fingerprint
    assert {q["id"]: q["status"] for q in results[1]["questions"]}["c.total_params"] == "invalid"
    assert "YAML syntax error" in results[2]["error"]
    before = book.read_bytes()
    for name in ("a.yaml", "b.yaml"):
        (answers / name).unlink()
    code, _, err = cli("grade", str(WORKSHEET), str(answers), "--secret-file", str(secret), "--gradebook", str(book))
    assert code == 2 and book.read_bytes() == before


# ---------------------------------------------------------------- root cause 9: exit codes and the gradebook


def test_exit_codes(tmp_path, cli):
    folder = tmp_path / "answers"
    folder.mkdir()
    good(folder, "alice")
    assert cli("grade", str(WORKSHEET), str(folder))[0] == 0
    write(folder, "broken.yaml", "student: [\n")
    code, out, err = cli("grade", str(WORKSHEET), str(folder))
    assert code == 1 and "1 of 2 answer file(s) invalid" in err
    assert "broken: 0 / 2  (" in out and "INVALID" in out and "YAML syntax error" in out
    (folder / "alice.json").unlink()
    code, out, err = cli("grade", str(WORKSHEET), str(folder))
    assert code == 2 and "none of the 1 answer file(s) could be graded" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("grade", str(WORKSHEET), str(empty))
    assert code == 2 and "no answer files found" in err


def test_an_all_invalid_batch_leaves_the_gradebook_byte_for_byte(tmp_path, cli):
    folder = tmp_path / "answers"
    folder.mkdir()
    good(folder, "alice")
    book = tmp_path / "grades.csv"
    feedback = tmp_path / "feedback"
    assert cli("grade", str(WORKSHEET), str(folder), "--gradebook", str(book), "--feedback-dir", str(feedback))[0] == 0
    before = book.read_bytes()
    assert b"alice,0.125" in before
    (folder / "alice.json").write_text("student: [\n")
    write(folder, "bob.yaml", b"\xff\xfe")
    code, _, err = cli("grade", str(WORKSHEET), str(folder), "--gradebook", str(book), "--feedback-dir", str(feedback))
    assert code == 2 and "the gradebook was not written" in err
    assert book.read_bytes() == before
    assert sorted(p.name for p in feedback.iterdir()) == ["alice.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers", "feedback", "grades.csv"]


def test_invalid_files_stay_out_of_the_gradebook(tmp_path, cli):
    good(tmp_path, "alice")
    write(tmp_path, "carol.yaml", "student: [\n")
    book = tmp_path / "out" / "grades.csv"
    code, _, _ = cli("grade", str(WORKSHEET), str(tmp_path), "--gradebook", str(book))
    assert code == 1
    rows = list(csv.reader(io.StringIO(book.read_text())))
    assert [row[0] for row in rows] == ["student", "alice"]


def test_gradebook_keeps_its_mode_and_writes_through_a_link(tmp_path, cli):
    good(tmp_path, "alice")
    course = tmp_path / "course"
    course.mkdir()
    real = course / "grades.csv"
    real.write_text("old\n")
    os.chmod(real, 0o640)
    link = tmp_path / "grades-link.csv"
    link.symlink_to(real)
    code, _, err = cli("grade", str(WORKSHEET), str(tmp_path / "alice.json"), "--gradebook", str(link))
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith("student,") and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in course.iterdir()) == ["grades.csv"]  # no temporary file left
    fresh = tmp_path / "new.csv"
    old = os.umask(0o027)
    try:
        cli("grade", str(WORKSHEET), str(tmp_path / "alice.json"), "--gradebook", str(fresh))
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640


def test_a_failed_rename_leaves_the_gradebook_and_no_temporary_file(tmp_path, cli, monkeypatch):
    good(tmp_path, "alice")
    book = tmp_path / "books" / "grades.csv"
    book.parent.mkdir()
    book.write_text("old\n")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    code, _, err = cli("grade", str(WORKSHEET), str(tmp_path / "alice.json"), "--gradebook", str(book))
    assert code == 2 and "cannot write: No space left on device" in err
    assert book.read_text() == "old\n" and sorted(p.name for p in book.parent.iterdir()) == ["grades.csv"]


def test_sigkill_during_a_big_grade_leaves_the_old_gradebook_whole(tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    for i in range(2000):
        write(folder, f"s{i:04d}.json", json.dumps({"student": f"s{i:04d}", "answers": ALL_RIGHT}))
    book = tmp_path / "grades.csv"
    old = "student,total\nold,1\n" * 1000
    book.write_text(old)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "cnncalc", "grade", str(WORKSHEET), str(folder), "--gradebook", str(book)]
    # kill at several moments: while loading, while grading, around the write
    finished = 0
    for delay in (0.5, 1.0, 1.5, 2.0, 3.0, None):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        if delay is None:  # the moment the temporary gradebook appears: in the middle of writing it
            deadline = time.monotonic() + 60
            while process.poll() is None and time.monotonic() < deadline \
                    and not any(tmp_path.glob(".grades.csv.*.tmp")):
                time.sleep(0.0005)
        else:
            time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        code = process.wait()
        content = book.read_text()
        finished += code == 0
        assert content == old or (content.startswith("student,a.shape") and content.count("\n") == 2001), delay
        for stale in tmp_path.glob(".grades.csv.*.tmp"):  # a killed writer may leave its temporary file
            stale.unlink()
        if content != old:
            book.write_text(old)
    assert finished < 6, "every run finished before the kill: the test proves nothing"


# ---------------------------------------------------------------- rosters


def roster_error(tmp_path, content: bytes | str) -> str:
    path = write(tmp_path, "roster.csv", content)
    with pytest.raises(CnnCalcError) as info:
        read_roster(str(path))
    return str(info.value)


def test_roster_size_cap(tmp_path):
    row = "s" + "x" * 98 + "\n"
    count = (MAX_ROSTER_BYTES - len("student\n")) // len(row) - 1
    body = "".join(f"{i:08d}{row[8:]}" for i in range(count))
    last = "z" * (MAX_ROSTER_BYTES - len("student\n") - len(body) - 1) + "\n"  # 100 to 199 bytes
    inside = "student\n" + body + last
    assert len(inside) == MAX_ROSTER_BYTES
    assert len(read_roster(str(write(tmp_path, "in.csv", inside)))) == count + 1
    assert "roster too large" in roster_error(tmp_path, inside + "z")


@pytest.mark.parametrize("content, fragment", [
    ('student\nalice\n"bob\ncarol\n', "roster.csv:3: the roster is not valid CSV"),
    ("student\n", "roster.csv:1: the roster has a header but no students"),
    ("student,name\n,Ann\n", "roster.csv:2: empty student id"),
    ('student\nalice\n"bo\x07b"\n', "roster.csv:3: student id with a control character"),
    ('student\nalice\n"bo\nb"\n', "roster.csv:3: student id with a control character"),
    ("student\nalice\nbob\nalice\n", "roster.csv:4: duplicate student id in the roster (first on line 2)"),
    (b"student\nalice\n\xff\n", "roster.csv:3: the roster is not UTF-8"),
    ("student\n" + "x" * 201 + "\n", "roster.csv:2: student id too long"),
    ("\n\n", "the roster is empty"),
])
def test_bad_rosters_are_refused_with_the_line(tmp_path, content, fragment):
    assert fragment in roster_error(tmp_path, content)


def test_roster_details_and_cli(tmp_path, cli):
    assert read_roster(str(write(tmp_path, "a.csv", "\ufeffstudent\n 名前 \nŁukasz\n\n"))) == ["名前", "Łukasz"]
    assert read_roster(str(write(tmp_path, "b.csv", "x" * 200 + "\n"))) == ["x" * 200]
    os.mkfifo(tmp_path / "fifo.csv")
    with pytest.raises(CnnCalcError, match="not a regular file"):
        read_roster(str(tmp_path / "fifo.csv"))
    secret = write(tmp_path, "course.key", SECRET)
    os.chmod(secret, 0o600)
    code, _, err = cli("generate", str(WORKSHEET), "--roster", str(write(tmp_path, "r.csv", "student\na\na\n")),
                       "--secret-file", str(secret), "--out", str(tmp_path / "out"))
    assert code == 2 and "r.csv:3: duplicate student id" in err and not (tmp_path / "out").exists()


# ---------------------------------------------------------------- root cause 10: paths


def test_a_link_leaving_the_submissions_folder_is_refused(tmp_path, cli):
    keys = tmp_path / "keys"
    keys.mkdir()
    stolen = write(keys, "alice.json", json.dumps({"student": "mallory", "answers": ALL_RIGHT}))
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "mallory.json").symlink_to(stolen)
    (folder / "inside.json").symlink_to(good(folder, "bob", "bob.json"))  # stays inside: followed
    code, out, err = cli("grade", str(WORKSHEET), str(folder), "--format", "json")
    assert code == 1, err
    results = {Path(r["file"]).name: r for r in strict_json(out)["results"]}
    assert results["mallory.json"]["score"] == 0 and "leads outside its folder" in results["mallory.json"]["error"]
    assert results["bob.json"]["score"] == 2 and "inside.json" not in results  # a link inside: one submission
    assert any("inside.json is a link to " in w and "bob.json: graded once" in w for w in strict_json(out)["warnings"])
    code, out, _ = cli("grade", str(WORKSHEET), str(folder / "mallory.json"), "--format", "json")
    assert code == 0 and strict_json(out)["results"][0]["score"] == 2  # named on the command line: followed
    code, out, _ = cli("grade", str(WORKSHEET), str(folder / "*.json"), "--format", "json")
    assert code == 1 and "leads outside" in out


def test_feedback_dir_that_is_a_file_and_unique_names(tmp_path, cli):
    answers = tmp_path / "answers"
    answers.mkdir()
    for k, student in enumerate(["Alice", "alice", "a/l/i/c/e", "..", "CON", "名前", "=x"]):
        good(answers, student, f"{k}.json")
    blocker = write(tmp_path, "fb", "x")
    code, _, err = cli("grade", str(WORKSHEET), str(answers), "--feedback-dir", str(blocker))
    assert code == 2 and "--feedback-dir is not a folder" in err and blocker.read_text() == "x"
    code, _, err = cli("grade", str(WORKSHEET), str(answers), "--feedback-dir", str(blocker / "sub"),
                       "--gradebook", str(tmp_path / "g.csv"))
    assert code == 2 and "--feedback-dir cannot be written: this is a file, not a folder" in err
    assert not (tmp_path / "g.csv").exists()  # checked before anything is written
    code, _, err = cli("grade", str(WORKSHEET), str(answers), "--feedback-dir", str(tmp_path / "fb2"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "fb2").iterdir()) == sorted(
        ["Alice.md", "alice-2.md", "a_l_i_c_e.md", "student.md", "_CON.md", "名前.md", "x.md"])


# ---------------------------------------------------------------- root cause 11: output integrity


def test_nothing_a_student_writes_forges_report_lines(tmp_path, cli):
    write(tmp_path, "forger.yaml", json.dumps({"student": "forger", "answers": {
        "d.padding": "\x1b[2J3\nalice: 2 / 2  (answers/alice.yaml)", "x\nalice: 2 / 2": 1,
        "\u202eevil": 1}}))
    weird = write(tmp_path, "name\nalice: 2 \u2044 2.json", json.dumps({"student": "weird", "answers": {}}))
    code, out, err = cli("grade", str(WORKSHEET), str(tmp_path / "forger.yaml"), str(weird))
    assert code == 0, err
    assert not any(line.startswith("alice") for line in out.splitlines())
    assert "\x1b" not in out and "\u202e" not in out and "\\x1b[2J" in out and "\\u202e" in out
    code, out, _ = cli("grade", str(WORKSHEET), str(tmp_path / "forger.yaml"), "--feedback-dir", str(tmp_path / "fb"))
    feedback = (tmp_path / "fb" / "forger.md").read_text()
    assert "\x1b" not in feedback and not any(line.startswith("alice") for line in feedback.splitlines())


@pytest.mark.parametrize("student", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", " =1", "  +1", "＝1",
                                     "=HYPERLINK(\"http://x\")"])
def test_csv_cells_are_defused(tmp_path, cli, student):
    write(tmp_path, "a.json", json.dumps({"student": student.replace("\t", " ").replace("\r", " "),
                                          "answers": {}}))
    book = tmp_path / "g.csv"
    assert cli("grade", str(WORKSHEET), str(tmp_path / "a.json"), "--gradebook", str(book))[0] == 0
    cell = list(csv.reader(io.StringIO(book.read_text())))[1][0]
    assert cell.startswith("'") and cell[1:].lstrip()[:1] in "=+-@＝"


def test_echoed_values_are_cut(tmp_path, cli):
    huge = "9" * 100_000
    write(tmp_path, "a.yaml", json.dumps({"student": "s", "answers": {"d.padding": huge, "q" * 1000: 1,
                                                                        "a.shape": list(range(10_000))}}))
    code, out, _ = cli("grade", str(WORKSHEET), str(tmp_path / "a.yaml"))
    assert code == 0 and max(len(line) for line in out.splitlines()) < 600
    code, out, _ = cli("grade", str(WORKSHEET), str(tmp_path / "a.yaml"), "--format", "json")
    assert len(out) < 20_000
    overrides = write(tmp_path, "o.yaml", json.dumps({"overrides": [{"student": "s", "question": "x" * 100_000,
                                                                     "score": 1}]}))
    code, _, err = cli("grade", str(WORKSHEET), str(tmp_path / "a.yaml"), "--overrides", str(overrides))
    assert code == 2 and "unknown question" in err and len(err) < 500


# ---------------------------------------------------------------- secrets


def secret_file(tmp_path, content: bytes, mode: int = 0o600) -> Path:
    path = write(tmp_path, "course.key", content)
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("content, mode, fragment", [
    (b"x", 0o600, "too short (1 bytes, at least 16)"),
    (b"x" * (MIN_SECRET_BYTES - 1) + b"\n", 0o600, "too short (15 bytes"),
    (b"x" * (MAX_SECRET_BYTES + 1), 0o600, "secret file too large"),
    (b"\xff" * 32, 0o600, "not UTF-8"),
    (SECRET, 0o640, "readable by others"),
    (SECRET, 0o604, "readable by others"),
])
def test_bad_secret_files(tmp_path, cli, content, mode, fragment):
    path = secret_file(tmp_path, content, mode)
    code, _, err = cli("key", str(WORKSHEET), "--student", "alice", "--secret-file", str(path))
    assert code == 2 and fragment in err


def test_secret_length_limits_and_fifo(tmp_path, cli_process, monkeypatch):
    assert read_secret(secret_file(tmp_path, b"k" * MIN_SECRET_BYTES + b"\n")) == b"k" * MIN_SECRET_BYTES
    assert read_secret(secret_file(tmp_path, b"k" * MAX_SECRET_BYTES)) == b"k" * MAX_SECRET_BYTES
    monkeypatch.setenv("CNNCALC_SECRET", "k" * MIN_SECRET_BYTES)
    assert read_secret(None) == b"k" * MIN_SECRET_BYTES
    for value, fragment in (("k" * (MIN_SECRET_BYTES - 1), "too short"), ("k" * (MAX_SECRET_BYTES + 1), "too long"),
                            ("x", "too short")):
        monkeypatch.setenv("CNNCALC_SECRET", value)
        with pytest.raises(CnnCalcError, match=fragment):
            read_secret(None)
    monkeypatch.setenv("CNNCALC_SECRET", os.fsdecode(b"\xff" * 20))
    with pytest.raises(CnnCalcError, match="not UTF-8"):
        read_secret(None)
    fifo = tmp_path / "fifo.key"
    os.mkfifo(fifo)
    os.chmod(fifo, 0o600)
    code, _, err = cli_process("key", str(WORKSHEET), "--student", "a", "--secret-file", str(fifo), timeout=30)
    assert code == 2 and "not a regular file" in err


def fingerprint(secret: bytes, student: str = "alice", raw=None) -> str:
    raw = raw if raw is not None else safeload.load_file(WORKSHEET)
    return student_variant(raw, "w", secret, student).fingerprint


def test_the_whole_secret_enters_the_variant():
    base = b"k" * 40 + b"the rest of a long course secret"
    reference = fingerprint(base)
    changed = []
    for position in (0, len(base) // 2, len(base) - 1):  # first, middle, last byte
        altered = bytearray(base)
        altered[position] ^= 1
        changed.append(fingerprint(bytes(altered)))
    changed += [fingerprint(base + b"!"), fingerprint(base[:-1]), fingerprint(base + base)]  # only the length
    assert reference not in changed and len(set(changed)) == len(changed)
    prefix = b"p" * 64  # secrets sharing a long prefix
    assert len({fingerprint(prefix + suffix) for suffix in (b"a", b"b", b"ab")}) == 3


def test_a_variant_depends_on_its_student_only(tmp_path, cli):
    secret = secret_file(tmp_path, SECRET)
    keys = {}
    for name, ids in (("one", ["alice", "bob", "carol"]), ("two", ["carol", "alice"]), ("three", ["bob"])):
        roster = write(tmp_path, f"{name}.csv", "student\n" + "\n".join(ids) + "\n")
        code, _, err = cli("generate", str(WORKSHEET), "--roster", str(roster), "--secret-file", str(secret),
                           "--out", str(tmp_path / name))
        assert code == 0, err
        keys[name] = {i: (tmp_path / name / "keys" / f"{i}.json").read_text() for i in ids}
    assert keys["two"]["alice"] == keys["one"]["alice"] and keys["two"]["carol"] == keys["one"]["carol"]
    assert keys["three"]["bob"] == keys["one"]["bob"]
    assert len({keys["one"][i] for i in ("alice", "bob", "carol")}) == 3


def test_problem_id_and_version_enter_the_seed():
    raw = safeload.load_file(WORKSHEET)
    reference = fingerprint(SECRET, raw=raw)
    data = student_variant(raw, "w", SECRET, "alice").problem.data["x"].tolist()
    for change in ({"version": 2}, {"id": "cnn-layers-worksheet-2"}):
        variant = student_variant({**raw, **change}, "w", SECRET, "alice")
        assert variant.problem.data["x"].tolist() != data, change
    assert fingerprint(SECRET, "alice", raw) == reference


# ---------------------------------------------------------------- overrides


@pytest.mark.parametrize("items, fragment", [
    ([{"student": "alcie", "question": "b.plot", "score": 0}], "student 'alcie' is not in this batch (no answer file graded under that id); did you mean 'alice'?"),
    ([{"student": "alice", "question": "b.plott", "score": 0}], "unknown question (got 'b.plott', expected a question id"),
    ([{"student": "alice", "question": "d.padding", "score": 0.26}], "score out of range (got 0.26, expected a number from 0 to 0.25)"),
    ([{"student": "alice", "question": "d.padding", "score": -0.1}], "score is negative"),
    ([{"student": "alice", "question": "d.padding", "score": float("nan")}], "score must be a number"),
    ([{"student": "alice", "question": "d.padding", "score": 1, "max": 1}], "max can be set for a manual question only"),
    ([{"student": "alice", "question": "b.plot", "score": 0.1, "max": 0.1},
      {"student": "bob", "question": "b.plot", "score": 0.1, "max": 0.2}], "differs from max 0.1"),
    ([{"student": "alice", "question": "b.plot", "score": 0.3},
      {"student": "bob", "question": "b.plot", "score": 0.1, "max": 0.2}], "override 1: score out of range"),
    ([{"student": "alice", "question": "b.plot", "score": 0}] * 2, "override 2 repeats override 1"),
    ([{"student": 12, "question": "b.plot", "score": 0}], "must be text, written in quotes"),
    ([{"student": "alice", "question": "b.plot", "score": 0, "comentt": "x"}], "did you mean 'comment'?"),
    ([{"student": "alice", "question": "b.plot"}], "needs student, question and score"),
])
def test_bad_overrides_exit_2_and_write_nothing(tmp_path, cli, items, fragment):
    answers = tmp_path / "answers"
    answers.mkdir()
    good(answers, "alice")
    good(answers, "bob")
    over = write(tmp_path, "o.json", json.dumps({"overrides": items}).replace("NaN", ".nan"))
    book = tmp_path / "g.csv"
    code, _, err = cli("grade", str(WORKSHEET), str(answers), "--overrides", str(over), "--gradebook", str(book))
    assert code == 2 and fragment in err, err
    assert not book.exists()


def test_a_manual_max_applies_to_the_whole_class(tmp_path, cli_json):
    answers = tmp_path / "answers"
    answers.mkdir()
    good(answers, "alice")
    good(answers, "bob")
    over = write(tmp_path, "o.yaml", "overrides:\n  - {student: alice, question: b.plot, score: 0.5, max: 0.5}\n"
                                     "  - {student: bob, question: d.padding, score: 0, comment: copied}\n")
    data = cli_json("grade", str(WORKSHEET), str(answers), "--overrides", str(over))
    results = {r["student"]: r for r in data["results"]}
    assert (results["alice"]["score"], results["alice"]["max"]) == (2.5, 2.5)
    assert (results["bob"]["score"], results["bob"]["max"]) == (1.75, 2.5)
    bob = {q["id"]: q for q in results["bob"]["questions"]}
    assert bob["d.padding"]["feedback"] == "instructor: copied" and bob["b.plot"]["max"] == 0.5


def test_overrides_size_cap(tmp_path, cli):
    from cnncalc.exercises.overrides import MAX_OVERRIDES_BYTES

    good(tmp_path, "alice")
    head = "overrides:\n  - {student: alice, question: b.plot, score: 0}\n"
    for extra, code in ((MAX_OVERRIDES_BYTES - len(head), 0), (MAX_OVERRIDES_BYTES - len(head) + 1, 2)):
        over = write(tmp_path / "..", "o.yaml", head + "#" * (extra - 1) + "\n")
        result, _, err = cli("grade", str(WORKSHEET), str(tmp_path / "alice.json"), "--overrides", str(over))
        assert result == code, err
        assert code == 0 or "overrides file too large" in err


# ---------------------------------------------------------------- fuzz: answer files and overrides

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
QIDS = list(ALL_RIGHT) + ["b.plot"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**300, max_value=10**320),
                    st.floats(), st.text(max_size=30), st.sampled_from(["(f-1)/2", "2024-01-01", "0012345", "yes"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=20)
DOCUMENTS = st.one_of(
    st.fixed_dictionaries({"student": st.one_of(st.text(max_size=20), SCALARS, VALUES),
                           "answers": st.one_of(st.dictionaries(st.one_of(st.sampled_from(QIDS), st.text(max_size=10)),
                                                                VALUES, max_size=8), VALUES)},
                          optional={"variant": SCALARS}),
    VALUES)
FILES = st.one_of(
    st.tuples(st.just("yaml"), DOCUMENTS), st.tuples(st.just("json"), DOCUMENTS),
    st.tuples(st.just("raw"), st.binary(max_size=200)),
    st.tuples(st.just("yaml-text"), st.sampled_from(["!!binary aGk=", "student: !!set {a}", "{a: [", "&a [*a]",
                                                     "student: s\nanswers: {d.padding: 0x" + "f" * 3000 + "}",
                                                     "student: 2001-12-14t21:59:43.10-05:00\nanswers: {}"])))
OVERRIDES = st.lists(st.fixed_dictionaries({"student": st.one_of(st.sampled_from(["good", "s"]), SCALARS),
                                            "question": st.one_of(st.sampled_from(QIDS), SCALARS),
                                            "score": st.one_of(st.floats(-1, 3), SCALARS)},
                                           optional={"max": st.floats(0, 3), "comment": SCALARS}), max_size=3)


def _dump(kind: str, content) -> bytes:
    import yaml

    if kind == "raw":
        return content
    if kind == "yaml-text":
        return content.encode()
    if kind == "json":
        return json.dumps(content).encode()
    return yaml.safe_dump(content, allow_unicode=True).encode("utf-8", "surrogatepass")


@hypothesis.settings(max_examples=60, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(files=st.lists(FILES, min_size=1, max_size=4), overrides=st.one_of(st.none(), OVERRIDES))
def test_fuzz_answer_files_and_overrides(cli, files, overrides):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        answers = root / "answers"
        answers.mkdir()
        good(answers, "good")
        for k, (kind, content) in enumerate(files):
            write(answers, f"f{k}.{'json' if kind == 'json' else 'yaml'}", _dump(kind, content))
        args = ["grade", str(WORKSHEET), str(answers), "--format", "json", "--gradebook", str(root / "g.csv")]
        if overrides is not None:
            write(root, "o.yaml", _dump("yaml", {"overrides": overrides}))
            args += ["--overrides", str(root / "o.yaml")]
        start = time.perf_counter()
        code, out, err = cli(*args)
        assert time.perf_counter() - start < 20  # a hang guard: at most 0.45 s an example quiet
        assert code in (0, 1, 2) and "internal error" not in err
        if code == 2:  # a bad override file, or an answer file claiming a generated variant with no secret given
            assert overrides is not None or "carry the fingerprint of a generated variant" in err
            assert err.startswith("error: ") and not (root / "g.csv").exists()
            return
        data = strict_json(out)
        assert len(data["results"]) == len(files) + 1  # every file accounted for
        invalid = [r for r in data["results"] if "error" in r]
        assert code == (1 if invalid else 0)
        rows = list(csv.reader(io.StringIO((root / "g.csv").read_text())))
        assert len(rows) == 1 + len(data["results"]) - len(invalid)
        assert sorted(p.name for p in root.iterdir()) == sorted(["answers", "g.csv"] + (["o.yaml"] if overrides
                                                                                        is not None else []))


# ---------------------------------------------------------------- every cap: just inside and just outside


def test_answer_file_caps(tmp_path):
    from cnncalc.exercises.grading import MAX_ANSWER_BYTES

    head = "student: s\nanswers: {x: '"
    inside = head + "y" * (MAX_ANSWER_BYTES - len(head) - 3) + "'}\n"
    assert len(inside) == MAX_ANSWER_BYTES
    assert read_answers(write(tmp_path, "in.yaml", inside))[0] == "s"
    with pytest.raises(CnnCalcError, match="answer file too large"):
        read_answers(write(tmp_path, "out.yaml", inside + " "))
    # depth: the file is level 0, answers 1, a value 2: six nested lists (the number at level 8) are read
    assert read_answers(write(tmp_path, "d.yaml", "student: s\nanswers: {q: " + "[" * 6 + "1" + "]" * 6 + "}"))
    with pytest.raises(CnnCalcError, match="nested deeper than 8"):
        read_answers(write(tmp_path, "d.yaml", "student: s\nanswers: {q: " + "[" * 7 + "1" + "]" * 7 + "}"))
    assert read_answers(write(tmp_path, "i.yaml", "student: " + "x" * MAX_ID_CHARS + "\nanswers: {}"))[0] == \
        "x" * MAX_ID_CHARS


def test_echo_and_unknown_id_caps(worksheet):
    from cnncalc.exercises.grading import MAX_UNKNOWN_IDS, _echo, grade_answers

    assert _echo("e" * MAX_ECHO_CHARS) == "e" * MAX_ECHO_CHARS
    assert _echo("e" * (MAX_ECHO_CHARS + 1)).startswith("e" * MAX_ECHO_CHARS + "… (301 characters)")
    problem, key = worksheet
    for count, listed, more in ((MAX_UNKNOWN_IDS, MAX_UNKNOWN_IDS, None), (MAX_UNKNOWN_IDS + 5, MAX_UNKNOWN_IDS, 5)):
        result = grade_answers(problem, key, "s", {f"zz{i}": 1 for i in range(count)})
        assert sum(q.id.startswith("zz") for q in result.questions) == listed
        assert any(f"… and {more} more unknown question ids" in w for w in result.warnings) == (more is not None)


def test_expression_caps():
    from cnncalc.exercises.grading import MAX_EXPRESSION_BITS, MAX_EXPRESSION_DEGREE, grade_answers

    problem = load_problem(ROOT / "problems" / "padding-stride.yaml")
    key = compute_key(problem)

    def status(answer):
        question = {q.id: q for q in grade_answers(problem, key, "s", {"same.formula": answer}).questions}
        return question["same.formula"].status, question["same.formula"].feedback

    from cnncalc.maths import expr

    assert MAX_EXPRESSION_DEGREE == 16 and MAX_EXPRESSION_BITS == expr.MAX_BITS == 256
    assert status("(f-1)/2 + 0*f**16")[0] == "correct"
    assert "too complex" in status("(f-1)/2 + 0*f**17")[1]
    assert status("(f-1)/2 + 0*(2**8)**10")[0] == "correct"  # 3 bits · 8 · 10 = 240
    assert "too complex" in status("(f-1)/2 + 0*(2**8)**11")[1]  # 264 bits


def test_undecodable_file_names_are_reported(tmp_path, cli):
    good(tmp_path, "alice")
    with open(os.path.join(os.fsencode(tmp_path), b"\xff\x1b[2J.json"), "wb") as handle:
        handle.write(json.dumps({"student": "bob", "answers": ALL_RIGHT}).encode())
    with open(os.path.join(os.fsencode(tmp_path), b"\xfe.yaml"), "wb") as handle:
        handle.write(b"student: [\n")
    code, out, err = cli("grade", str(WORKSHEET), str(tmp_path), "--format", "json")
    assert code == 1, err
    files = sorted(Path(r["file"]).name for r in strict_json(out)["results"])
    assert files == ["\\xfe.yaml", "\\xff\\x1b[2J.json", "alice.json"]
    code, out, _ = cli("grade", str(WORKSHEET), str(tmp_path))
    assert "\x1b" not in out and "\\xff\\x1b[2J.json" in out


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(student=st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s and s))
@hypothesis.example(student="x\\end{verbatim}\\\\end{verbatim}")
@hypothesis.example(student="\u3000名前\u00a0'\"")
def test_fuzz_any_id_reads_back_from_its_template(student):
    from cnncalc.exercises.grading import CONTROL_CHARS
    from cnncalc.exercises.sheets import _yaml_template

    hypothesis.assume(not CONTROL_CHARS.search(student))
    for latex in (False, True):
        text = _yaml_template({"student": student, "variant": "0123456789", "answers": {"a.shape": None}}, latex)
        data = safeload.loads(text)
        assert data["student"] == student and data["variant"] == "0123456789" and list(data["answers"]) == ["a.shape"]
        assert text.count("\n") == 3 and not (latex and "\\end{verbatim}" in text)


@hypothesis.settings(max_examples=100, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                                    st.lists(st.lists(st.text(max_size=8), max_size=3), max_size=6).map(
                                        lambda rows: "\n".join(",".join(r) for r in rows).encode())))
def test_fuzz_rosters(content):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), "roster.csv", content)
        try:
            students = read_roster(str(path))
        except CnnCalcError as error:
            assert str(error).startswith(str(path))
            return
    from cnncalc.exercises.grading import CONTROL_CHARS

    assert students and len(set(students)) == len(students)
    assert all(s == s.strip() and s and len(s) <= 200 and not CONTROL_CHARS.search(s) for s in students)
