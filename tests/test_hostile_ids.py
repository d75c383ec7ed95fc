"""Student ids that print alike but are different text, end to end: `generate --roster`, then `grade` with
the course secret, `--feedback-dir` and a gradebook CSV.

The promise under test: a grade never lands under the wrong name. One normalisation (`normalise_id`: a
byte-order mark and zero-width characters removed, NFC, other invisible characters refused) applies to
roster ids, answer-file ids, override ids and feedback file names; two files that give one id after it
are a duplicate, flagged with both files; different ids that look alike (Cyrillic or Greek letters,
full-width forms) are warned about, naming both; feedback files never shadow each other. Every input is
generated here, at test time.
"""

from __future__ import annotations

import csv
import io
import json
import os
import unicodedata
from pathlib import Path

import pytest

from cnncalc import CnnCalcError
from cnncalc.exercises.files import read_roster
from cnncalc.exercises.grading import distinct_file_stems, id_skeleton, normalise_id

ROOT = Path(__file__).parent.parent
PROBLEM = ROOT / "problems" / "filter-bank.yaml"  # per-student variants, 3 points
SECRET = b"a course secret of more than sixteen bytes"
JOSE = "Jos\u00e9"  # as the roster has it (NFC)
ROSTER = ["ada", JOSE, "bo", "ada-2"]


@pytest.fixture()
def course(tmp_path, cli):
    """A roster, its sheets and keys (generate), and helpers to write answer files and grade them."""
    secret = tmp_path / "course.key"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    roster = tmp_path / "roster.csv"
    roster.write_text("student\n" + "\n".join(ROSTER) + "\n", encoding="utf-8")
    code, _, err = cli("generate", str(PROBLEM), "--roster", str(roster), "--secret-file", str(secret),
                       "--out", str(tmp_path / "out"))
    assert code == 0, err
    keys = {s: json.loads((tmp_path / "out" / "keys" / f"{s}.json").read_text(encoding="utf-8")) for s in ROSTER}
    answers = tmp_path / "answers"
    answers.mkdir()

    class Course:
        folder = answers

        @staticmethod
        def answer(name: str, written: str, of: str | None = None, right: bool = True) -> None:
            """An answer file whose `student:` is ``written`` (raw characters, as an editor saves them),
            with the key answers and fingerprint of roster student ``of`` — or all wrong."""
            key = keys[of or written]
            given = key["answers"] if right else {qid: 1 for qid in key["answers"]}
            document = {"student": written, "variant": key["variant"], "answers": given}
            (answers / name).write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

        @staticmethod
        def quiet() -> str:
            return cli("grade", str(PROBLEM), str(answers), "--secret-file", str(secret), "--quiet")[1]

        @staticmethod
        def grade(*extra: str) -> tuple[int, dict, list[list[str]], dict[str, str], str]:
            """Exit code, the JSON document, the gradebook rows, the feedback files by name, stderr."""
            book, feedback = tmp_path / "grades.csv", tmp_path / "feedback"
            code, out, err = cli("grade", str(PROBLEM), str(answers), "--secret-file", str(secret), "--gradebook",
                                 str(book), "--feedback-dir", str(feedback), "--format", "json", *extra)
            data = json.loads(out) if out else {}
            rows = list(csv.reader(io.StringIO(book.read_text(encoding="utf-8")))) if book.exists() else []
            files = ({p.name: p.read_text(encoding="utf-8") for p in feedback.iterdir()} if feedback.exists()
                     else {})
            return code, data, rows, files, err

    return Course


def by_file(data: dict) -> dict[str, dict]:
    return {Path(r["file"]).name: r for r in data["results"]}


def notes(rows: list[list[str]]) -> dict[str, list[str]]:
    """Gradebook: file name → the notes cell, with the student and total cells first."""
    head = rows[0]
    return {Path(row[head.index("file")]).name: [row[0], row[head.index("total")], row[head.index("notes")]]
            for row in rows[1:]}


# ---------------------------------------------------------------- the same id, written differently


def test_a_byte_order_mark_impostor_is_a_duplicate_flagged_with_both_files(course):
    """The reported case: `\ufeffada` took ada.md with 3/3 and the real ada's 0/3 went to ada-2.md, unflagged.
    Now both files are one student's: neither is graded (no gradebook row, no feedback under ada's name)
    until the instructor chooses, and both are named."""
    course.answer("ada.json", "ada", right=False)
    course.answer("impostor.json", "\ufeffada", of="ada")
    code, data, rows, files, err = course.grade()
    assert code == 2 and "none of the 2 answer file(s) could be graded" in err and rows == []
    results = by_file(data)
    assert results["ada.json"]["student"] == results["impostor.json"]["student"] == "ada"
    assert results["impostor.json"]["student_as_written"] == "\ufeffada"
    assert "student_as_written" not in results["ada.json"]
    reason = (f"2 files for student 'ada' (--latest grades the last): {course.folder / 'ada.json'}, "
              f"{course.folder / 'impostor.json'}")
    assert results["ada.json"]["error"] == results["impostor.json"]["error"] == reason
    assert "ada.md" not in files
    quiet = course.quiet().splitlines()
    assert [line[:60] for line in quiet[:2]] == [f"ada: INVALID  {reason}"[:60]] * 2, quiet


@pytest.mark.parametrize("written", ["a\u200bda", "ad\u200ca", "a\u200dda", "ada\u2060", "a\u00adda", "\ufeffa\u200bda\u00ad"],
                         ids=["ZWSP", "ZWNJ", "ZWJ", "WORD-JOINER", "SOFT-HYPHEN", "all"])
def test_zero_width_characters_make_no_second_student(course, written):
    course.answer("ada.json", "ada", right=False)
    course.answer("twin.json", written, of="ada")
    os.utime(course.folder / "ada.json", ns=(1, 1))  # the twin is the one submitted last
    code, data, rows, files, _ = course.grade("--latest")
    assert code == 0
    results = by_file(data)
    assert list(results) == ["twin.json"]
    assert results["twin.json"]["student"] == "ada" and results["twin.json"]["score"] == 3
    # graded against ada's own variant: the fingerprint matched, so the id was normalised before the seed
    assert not any("not this student's variant" in w for w in results["twin.json"]["warnings"])
    assert any(w.startswith("duplicate student id 'ada'") and "twin.json" in w and "ada.json" in w
               for w in data["warnings"])
    assert any(w.startswith("ada: graded ") and w.endswith("twin.json (submitted last, --latest), not "
                                                          + str(course.folder / "ada.json")) for w in data["warnings"])
    assert [row[0] for row in rows[1:]] == ["ada"]
    assert sorted(files) == ["ada.md"]


def test_alone_a_zero_width_id_is_the_roster_student(course):
    course.answer("ada.json", "\u200bada\u2060", of="ada")
    code, data, rows, files, _ = course.grade()
    assert code == 0 and data["results"][0]["student"] == "ada" and data["results"][0]["score"] == 3
    assert [row[0] for row in rows[1:]] == ["ada"] and sorted(files) == ["ada.md"]
    assert "warnings" not in data


def test_an_accent_typed_as_a_separate_mark_gets_the_students_own_variant(course, tmp_path):
    """José's right answers with his id in NFD scored 1.2/3 ("fingerprint … is not this student's
    variant"): the seed is now computed on the NFC id, the roster's."""
    nfd = unicodedata.normalize("NFD", JOSE)
    assert nfd != JOSE and len(nfd) == len(JOSE) + 1
    course.answer("jose.json", nfd, of=JOSE)
    course.answer("bo.json", "bo")
    overrides = tmp_path / "overrides.yaml"  # override ids are normalised alike
    overrides.write_text(json.dumps({"overrides": [{"student": "\ufeff" + nfd, "question": "conv.macs", "score": 0,
                                                    "comment": "regraded"}]}, ensure_ascii=False), encoding="utf-8")
    code, data, rows, files, _ = course.grade()
    assert code == 0
    jose = by_file(data)["jose.json"]
    assert jose["student"] == JOSE and jose["score"] == 3 and jose["max"] == 3
    assert jose["student_as_written"] == nfd
    assert not any("fingerprint" in w for w in jose.get("warnings", []))
    assert notes(rows)["jose.json"][:2] == [JOSE, "3"]
    assert sorted(files) == sorted(["bo.md", f"{JOSE}.md"])
    macs = next(q for q in jose["questions"] if q["id"] == "conv.macs")
    assert macs["score"] == macs["max"] == pytest.approx(0.4)
    code, data, rows, _, _ = course.grade("--overrides", str(overrides))
    assert code == 0
    regraded = next(q for q in by_file(data)["jose.json"]["questions"] if q["id"] == "conv.macs")
    assert regraded["score"] == 0 and by_file(data)["jose.json"]["score"] == pytest.approx(2.6)
    assert notes(rows)["jose.json"][:2] == [JOSE, "2.6"]


def test_the_key_command_gives_the_same_variant_for_either_form(tmp_path, cli):
    secret = tmp_path / "course.key"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    shown = [cli("key", str(PROBLEM), "--student", form, "--secret-file", str(secret))[1].splitlines()[0]
             for form in (JOSE, unicodedata.normalize("NFD", JOSE), "\ufeff" + JOSE)]
    assert shown[0] == shown[1] == shown[2] and f"({JOSE})" in shown[0]


# ---------------------------------------------------------------- different ids that look alike


LOOKALIKES = {"cyrillic.json": ("\u0430da", "U+0430 CYRILLIC SMALL LETTER A"),
              "greek.json": ("\u03b1da", "U+03B1 GREEK SMALL LETTER ALPHA"),
              "fullwidth.json": ("\uff41\uff44\uff41", "U+FF41 FULLWIDTH LATIN SMALL LETTER A")}


def test_lookalike_ids_are_warned_about_naming_both(course):
    course.answer("ada.json", "ada")
    for name, (student, _) in LOOKALIKES.items():
        course.answer(name, student, of="ada")
    code, data, rows, files, _ = course.grade()
    assert code == 1
    results = by_file(data)
    assert {results[name]["student"] for name in LOOKALIKES} == {s for s, _ in LOOKALIKES.values()}
    assert results["ada.json"]["score"] == 3
    for name in LOOKALIKES:  # each is a different id, whose own variant is not ada's sheet: not graded
        assert "is not this student's variant under this secret" in results[name]["error"]
        assert "it is ada's" in results[name]["error"]
    assert sum(w.startswith("student ids that look alike: 'ada' (") for w in data["warnings"]) == 1
    warned = [w for w in results["ada.json"]["warnings"] if w.startswith("student ids that look alike")]
    assert len(warned) == 1 and warned[0].startswith("student ids that look alike: 'ada' (") and "ada.json)" in warned[0]
    for name, (student, named) in LOOKALIKES.items():
        assert f"'{student}' with {named}" in warned[0] and f"{name})" in warned[0]
        assert warned[0] in results[name]["warnings"]
    assert all("look alike" in note for _, _, note in notes(rows).values())
    # every id has a feedback file of its own; none takes ada.md
    assert sorted(files) == sorted(["ada.md", "\u0430da.md", "\u03b1da.md", "\uff41\uff44\uff41.md"])
    assert "Score: **3 / 3**" in files["ada.md"] and "look alike" in files["ada.md"]


def test_the_skeleton_folds_case_width_and_script():
    assert id_skeleton("ADA") == id_skeleton("\u0430da") == id_skeleton("\uff21da") == "ada"
    assert id_skeleton("\u0440\u043e\u0441") == "poc" and id_skeleton("bob") != id_skeleton("bab")


# ---------------------------------------------------------------- characters that are refused


@pytest.mark.parametrize("written, named", [
    ("ada\u00a0lovelace", "U+00A0 NO-BREAK SPACE"),
    ("a\u2062da", "U+2062 INVISIBLE TIMES"),
    ("ada\ufe0f", "U+FE0F VARIATION SELECTOR-16"),
    ("\u3164ada", "U+3164 HANGUL FILLER"),
    ("ad\u034fa", "U+034F COMBINING GRAPHEME JOINER"),
    ("ada\u2800", "U+2800 BRAILLE PATTERN BLANK"),
    ("ada\U000e0001", "U+E0001 LANGUAGE TAG"),
])
def test_other_invisible_characters_make_the_file_invalid_with_a_clear_reason(course, written, named):
    course.answer("ada.json", "ada")
    course.answer("odd.json", written, of="ada")
    code, data, rows, files, err = course.grade()
    assert code == 1 and "1 of 2 answer file(s) invalid" in err
    odd = by_file(data)["odd.json"]
    assert odd["score"] == 0 and "invisible or format character" in odd["error"] and named in odd["error"]
    assert "\\u" in odd["error"]  # the id is shown with the character made visible
    assert [row[0] for row in rows[1:]] == ["ada"], "never entered in the gradebook"
    assert "ada.md" in files and "Score: **3 / 3**" in files["ada.md"]


def test_the_normalisation_rule():
    assert normalise_id("\ufeff ada \u200b") == "ada"
    assert normalise_id("Jose\u0301") == JOSE and normalise_id("e\u200d\u0301") == "\u00e9"
    with pytest.raises(CnnCalcError, match="U\\+00A0 NO-BREAK SPACE"):
        normalise_id("a\u00a0b")
    with pytest.raises(CnnCalcError, match="U\\+202E RIGHT-TO-LEFT OVERRIDE"):
        normalise_id("a\u202eb")
    assert normalise_id("名前 Łukasz-2") == "名前 Łukasz-2"


# ---------------------------------------------------------------- rosters


def test_a_roster_id_written_two_ways_is_refused_naming_both_lines(tmp_path, cli):
    roster = tmp_path / "roster.csv"
    roster.write_text(f"student\n{JOSE}\nbo\n{unicodedata.normalize('NFD', JOSE)}\n", encoding="utf-8")
    with pytest.raises(CnnCalcError) as caught:
        read_roster(str(roster))
    message = str(caught.value)
    assert "roster.csv:4: duplicate student id in the roster (first on line 2;" in message
    assert "the same id once invisible characters are removed and accents composed" in message
    roster.write_text("student\nada\n\ufeffada\n", encoding="utf-8")
    secret = tmp_path / "course.key"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    code, _, err = cli("generate", str(PROBLEM), "--roster", str(roster), "--secret-file", str(secret),
                       "--out", str(tmp_path / "out"))
    assert code == 2 and "roster.csv:3: duplicate student id in the roster (first on line 2;" in err
    assert "'\\ufeffada' here" in err and not (tmp_path / "out").exists()
    roster.write_text("student\nada\nad\u00a0a\n", encoding="utf-8")
    with pytest.raises(CnnCalcError, match="roster.csv:3: the student id 'ad\\\\u00a0a' contains an invisible"):
        read_roster(str(roster))


def test_roster_ids_are_normalised_and_lookalikes_warned(tmp_path, cli):
    roster = tmp_path / "roster.csv"
    roster.write_text(f"student\n\ufeff{unicodedata.normalize('NFD', JOSE)}\nada\n\u0430da\nbo\n", encoding="utf-8")
    warnings: list[str] = []
    assert read_roster(str(roster), warnings) == [JOSE, "ada", "\u0430da", "bo"]
    assert len(warnings) == 1 and "roster.csv line 3" in warnings[0] and "roster.csv line 4" in warnings[0]
    assert "U+0430 CYRILLIC SMALL LETTER A" in warnings[0]
    secret = tmp_path / "course.key"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    code, out, err = cli("generate", str(PROBLEM), "--roster", str(roster), "--secret-file", str(secret),
                         "--out", str(tmp_path / "out"))
    assert code == 0 and "wrote 4 sheet(s)" in out
    assert err.startswith("warning: student ids that look alike: 'ada'") and "line 4" in err
    assert (tmp_path / "out" / "keys" / f"{JOSE}.json").exists()  # named by the NFC id


# ---------------------------------------------------------------- feedback files never shadow each other


def test_feedback_files_never_take_another_students_name(course):
    """A file that cannot be read (named after its file) never takes a graded student's name, nor does a
    duplicate's suffix land on a name another id gives (a student whose id is `ada-2`)."""
    course.answer("a1.json", "ada")
    course.answer("a2.json", "ada", right=False)
    course.answer("b.json", "ada-2")
    os.utime(course.folder / "a2.json", ns=(1, 1))  # a1 is the one submitted last
    (course.folder / "ada.json").write_text("{not json", encoding="utf-8")
    code, _, rows, files, _ = course.grade("--latest")
    assert code == 1
    assert sorted(files) == ["ada-2.md", "ada-3.md", "ada.md"]
    assert "Student: ada-2" in files["ada-2.md"] and "Score: **3 / 3**" in files["ada-2.md"]
    assert "Score: **3 / 3**" in files["ada.md"]
    assert "could not be read" in files["ada-3.md"]
    assert [row[0] for row in rows[1:]] == ["ada", "ada-2"]


def test_distinct_file_stems():
    assert distinct_file_stems(["Ada", "ada", "ada-2", "a/b", "a_b", "..", "student"]) == [
        "Ada", "ada-3", "ada-2", "a_b-2", "a_b", "student-2", "student"]
    assert distinct_file_stems(["ada", "ada"], [False, True]) == ["ada-2", "ada"]
    stems = distinct_file_stems([f"s{i % 7}" for i in range(50)] + [f"s{i}-2" for i in range(7)])
    assert len({s.casefold() for s in stems}) == 57
