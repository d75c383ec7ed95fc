"""Variants: reproducible from a seed or from (course secret, student), each with its own computed key;
sheets like the worksheet; grading each student against their own variant; copy detection."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from cnncalc import CnnCalcError
from cnncalc.exercises.grading import grade_answers
from cnncalc.exercises.key import key_answers
from cnncalc.exercises.sheets import render_sheet
from cnncalc.exercises.variants import make_variant, read_secret, seed_variant, student_variant
from cnncalc.spec import safeload

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
VARIED = sorted(p for p in (ROOT / "problems").glob("*.yaml") if "vary" in safeload.load_file(p))
SECRET = b"a course secret of more than sixteen bytes"


def raw_of(path):
    return safeload.load_file(path)


def test_there_are_varied_problems():
    assert WORKSHEET in VARIED and len(VARIED) >= 2


@pytest.mark.parametrize("path", VARIED, ids=lambda p: p.stem)
def test_200_variants_round_trip(path):
    raw = raw_of(path)
    fingerprints = set()
    for i in range(200):
        variant = seed_variant(raw, str(path), 7, i)
        fingerprints.add(variant.fingerprint)
        problem, key = variant.problem, variant.key
        answers = key_answers(problem, key)
        full = grade_answers(problem, key, "s", answers)
        assert full.score == pytest.approx(full.max)
        if i % 20 == 0:  # change one answer: exactly that question's points are lost
            for q in problem.questions:
                if q.kind == "manual" or q.points == 0:
                    continue
                changed = dict(answers)
                value = changed[q.id]
                changed[q.id] = _spoil(value)
                result = grade_answers(problem, key, "s", changed)
                lost = full.score - result.score
                assert lost == pytest.approx(q.points) or (q.kind == "matrix" and 0 < lost <= q.points)
    assert len(fingerprints) >= 195  # 200 draws, essentially all distinct


def _spoil(value):
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [[v + 1000 for v in row] for row in value]  # every cell wrong: the whole matrix's points
    if isinstance(value, list):
        return [v + 1 for v in value]
    if isinstance(value, str):
        return f"({value}) + 1"
    return value + 1


def test_same_seed_or_same_student_same_variant():
    raw = raw_of(WORKSHEET)
    assert seed_variant(raw, "w", 5, 3).fingerprint == seed_variant(raw, "w", 5, 3).fingerprint
    assert seed_variant(raw, "w", 5, 3).fingerprint != seed_variant(raw, "w", 5, 4).fingerprint
    one = student_variant(raw, "w", SECRET, "alice")
    two = student_variant(raw, "w", SECRET, "alice")
    assert one.fingerprint == two.fingerprint
    np.testing.assert_array_equal(one.problem.data["x"], two.problem.data["x"])


def test_students_get_different_variants_and_the_secret_is_needed():
    raw = raw_of(WORKSHEET)
    students = [f"s{i:03d}" for i in range(100)]
    real = {s: student_variant(raw, "w", SECRET, s).fingerprint for s in students}
    assert len(set(real.values())) >= 98
    # without the secret (another secret, an empty-ish guess, or the id as seed) nobody rebuilds a key: 20
    # students are enough to see it (a guess that worked would work for all, the secret being ignored)
    for guess in (b"another secret of sixteen+ bytes", b"0" * 16, b"alice" * 4):
        assert all(student_variant(raw, "w", guess, s).fingerprint != real[s] for s in students[:20])
    for s in students[:20]:
        seeded = {seed_variant(raw, "w", int(s[1:]), 0).fingerprint}
        assert real[s] not in seeded


def test_secret_file_rules(tmp_path, monkeypatch):
    path = tmp_path / "course.key"
    path.write_bytes(SECRET)
    os.chmod(path, 0o644)
    with pytest.raises(CnnCalcError, match="readable by others"):
        read_secret(path)
    os.chmod(path, 0o600)
    assert read_secret(path) == SECRET
    short = tmp_path / "short.key"
    short.write_bytes(b"abc")
    os.chmod(short, 0o600)
    with pytest.raises(CnnCalcError, match="too short"):
        read_secret(short)
    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    with pytest.raises(CnnCalcError, match="no course secret"):
        read_secret(None)
    monkeypatch.setenv("CNNCALC_SECRET", SECRET.decode())
    assert read_secret(None) == SECRET


WORKSHEET_TABLES = {
    "Input channel 1": [[1, 2, 0, 2, 1, 2], [3, 2, 6, 0, 3, 0], [0, 0, 0, 1, 0, 1], [1, 3, 4, 2, 2, 0],
                        [0, 2, 2, 0, 3, 1], [5, 3, 6, 1, 2, 0]],
    "Input channel 2": [[1, 2, 4, 3, 0, 1], [0, 4, 3, 2, 1, 5], [2, 0, 5, 2, 0, 2], [7, 2, 0, 1, 3, 3],
                        [2, 0, 4, 0, 2, 0], [1, 6, 3, 0, 5, 3]],
    "Input channel 3": [[1, 0, 2, 3, 0, 1], [0, 4, 5, 2, 3, 2], [2, 0, 6, 0, 0, 2], [0, 2, 4, 1, 2, 4],
                        [2, 6, 2, 0, 2, 3], [2, 0, 3, 0, 0, 0]],
    "Convolution filter, for input channel 1": [[0, 0, 1], [3, 4, 0], [0, 0, -1]],
    "Convolution filter, for input channel 2": [[-1, -2, 0], [0, 2, 0], [2, -1, 0]],
    "Convolution filter, for input channel 3": [[0, -2, 0], [-1, 1, 0], [0, -1, 0]],
    "Feature map after the convolution (part b)": [[35, 20, 20, 3], [1, -1, 21, -3], [21, 7, 15, 22],
                                                   [-2, 22, 22, 29]],
}


def parse_markdown_tables(text):
    tables, lines = {}, text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("**") and i + 3 < len(lines) and lines[i + 2].startswith("| "):
            rows, j = [], i + 4
            while j < len(lines) and lines[j].startswith("| "):
                rows.append([int(c.strip().replace("−", "-")) for c in lines[j].strip("| ").split("|")])
                j += 1
            tables[line.strip("*")] = rows
    return tables


def test_sheet_of_the_original_reads_like_the_worksheet():
    raw = {k: v for k, v in raw_of(WORKSHEET).items() if k != "vary"}
    variant = make_variant(raw, "w", None, "original")
    sheet = render_sheet(variant)
    assert parse_markdown_tables(sheet) == WORKSHEET_TABLES  # side by side with the slide's tables
    assert "The bias is b = 7; use no padding (p = 0) and stride s = 1." in " ".join(sheet.split())
    assert "FC layer with 32 neurons" in sheet and "256 × 256 × 3" in sheet and "7 × 7 filters" in sheet
    for qid in ("a.shape", "a.col4_row4", "a.col3_row2", "a.col2_row4", "b.relu", "b.pool", "c.total_params",
                "d.padding", "d.params"):
        assert f"[{qid}]" in sheet and f"  {qid}:" in sheet
    assert re.search(r"^## a\) \(0\.5 p\)", sheet, re.MULTILINE)


def test_variant_sheet_matches_its_key():
    raw = raw_of(WORKSHEET)
    variant = student_variant(raw, "w", SECRET, "bob")
    tables = parse_markdown_tables(render_sheet(variant))
    x = np.stack([tables[f"Input channel {c}"] for c in (1, 2, 3)], axis=-1)
    w = np.stack([tables[f"Convolution filter, for input channel {c}"] for c in (1, 2, 3)], axis=-1)
    bias = variant.problem.data["b"]
    # the 4th-row, 4th-column cell from the printed tables, by hand: window · filter, summed, plus b
    assert np.sum(x[3:6, 3:6, :] * w) + bias == variant.key["a.col4_row4"].value
    # the constraints hold: ReLU zeroes some but not all cells; the 'same' padding is an integer
    fm = np.asarray(tables["Feature map after the convolution (part b)"])
    assert 0 < (fm <= 0).sum() < fm.size
    assert isinstance(variant.key["d.padding"].value, int)


def test_unsatisfiable_constraints_fail_clearly(tmp_path):
    raw = raw_of(WORKSHEET)
    raw["vary"]["values"]["feature_map"] = {"integers": [1, 9], "shape": [4, 4, 1]}  # ReLU never zeroes
    raw["vary"]["tries"] = 20
    with pytest.raises(CnnCalcError, match="no variant met the constraints in 20 tries.*some_but_not_all"):
        seed_variant(raw, "w", 1)


def write_answers(folder, student, answers, variant=None):
    data = {"student": student, "answers": answers}
    if variant:
        data["variant"] = variant
    (folder / f"{student}.json").write_text(json.dumps(data))


def test_generate_key_and_grade_with_the_secret(tmp_path, cli):
    secret = tmp_path / "course.key"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name\nalice,Alice\nbob,Bob\ncarol,Carol\n")
    out = tmp_path / "out"
    code, text, err = cli("generate", str(WORKSHEET), "--roster", str(roster), "--secret-file", str(secret),
                          "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in (out / "sheets").iterdir()) == ["alice.md", "bob.md", "carol.md"]
    assert sorted(p.name for p in (out / "keys").iterdir()) == ["alice.json", "bob.json", "carol.json", "index.csv"]
    keys = {s: json.loads((out / "keys" / f"{s}.json").read_text()) for s in ("alice", "bob", "carol")}
    for s in keys:  # no key in any sheet; the secret nowhere
        sheet = (out / "sheets" / f"{s}.md").read_text()
        assert keys[s]["variant"] in sheet and "solutions" not in sheet
    everything = "".join(p.read_text() for p in out.rglob("*") if p.is_file()) + text + err
    assert SECRET.decode() not in everything
    code, shown, _ = cli("key", str(WORKSHEET), "--student", "bob", "--secret-file", str(secret), "--format", "json")
    assert code == 0 and json.loads(shown)["answers"] == keys["bob"]["answers"] and SECRET.decode() not in shown
    answers = tmp_path / "answers"
    answers.mkdir()
    write_answers(answers, "alice", keys["alice"]["answers"], keys["alice"]["variant"])
    write_answers(answers, "bob", keys["bob"]["answers"], keys["alice"]["variant"])       # wrong fingerprint
    write_answers(answers, "carol", keys["alice"]["answers"], keys["carol"]["variant"])   # copied alice's
    code, text, err = cli("grade", str(WORKSHEET), str(answers), "--secret-file", str(secret), "--format", "json")
    assert code == 1, err  # bob's file is not graded: it answers alice's sheet
    data = json.loads(text)
    results = {r["student"]: r for r in data["results"]}
    assert results["alice"]["score"] == results["alice"]["max"] == 2
    assert results["bob"]["error"] == (f"fingerprint {keys['alice']['variant']} is not this student's variant under "
                                       f"this secret ({keys['bob']['variant']}; it is alice's): not graded — check the "
                                       "secret, or the sheet the student answered")
    assert results["carol"]["score"] < 1
    assert any("possible copy: carol's answers match alice's variant" in w for w in data["warnings"])
    assert not any("possible copy: alice" in w for w in data["warnings"])


def test_generate_with_seed_and_formats(tmp_path, cli):
    for fmt, marker in (("markdown", "| 3 |"), ("latex", r"\begin{tabular}"), ("html", "<table>")):
        out = tmp_path / fmt
        code, _, err = cli("generate", str(WORKSHEET), "--seed", "4", "--count", "2", "--out", str(out),
                           "--format", fmt)
        assert code == 0, err
        sheets = sorted((out / "sheets").iterdir())
        assert len(sheets) == 2 and any(marker in p.read_text() for p in sheets) or fmt == "markdown"
    first = (tmp_path / "markdown" / "sheets" / "variant-4-0.md").read_text()
    again = tmp_path / "again"
    cli("generate", str(WORKSHEET), "--seed", "4", "--count", "1", "--out", str(again))
    assert (again / "sheets" / "variant-4-0.md").read_text() == first
    code, _, err = cli("generate", str(WORKSHEET), "--out", str(tmp_path / "x"))
    assert code == 2 and "--seed N or --roster" in err


def test_rosters(tmp_path):
    from cnncalc.exercises.files import read_roster

    headed = tmp_path / "a.csv"
    headed.write_text("name,student\nAnn,s1\nBo,s2\n\n")
    assert read_roster(str(headed)) == ["s1", "s2"]
    bare = tmp_path / "b.csv"
    bare.write_text("s1\ns2\ns3\n")
    assert read_roster(str(bare)) == ["s1", "s2", "s3"]
    twice = tmp_path / "c.csv"
    twice.write_text("student\ns1\ns1\n")
    with pytest.raises(CnnCalcError, match="duplicate student id in the roster"):
        read_roster(str(twice))
    empty = tmp_path / "d.csv"
    empty.write_text("\n")
    with pytest.raises(CnnCalcError, match="empty"):
        read_roster(str(empty))


def test_variant_grading_keeps_a_refused_file_as_invalid_with_its_reason(tmp_path, cli):
    secret = tmp_path / "course.key"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    answers = tmp_path / "answers"
    answers.mkdir()
    write_answers(answers, "alice", {"d.padding": 3})
    outside = tmp_path / "elsewhere.json"
    outside.write_text(json.dumps({"student": "mallory", "answers": {}}))
    (answers / "mallory.json").symlink_to(outside)
    code, text, err = cli("grade", str(WORKSHEET), str(answers), "--secret-file", str(secret), "--format", "json")
    assert code == 1, err  # one file could not be used
    results = {r["student"]: r for r in json.loads(text)["results"]}
    assert results["mallory"]["score"] == 0 and "leads outside its folder" in results["mallory"]["error"]
    assert all(q["status"] == "invalid" for q in results["mallory"]["questions"])
    assert "error" not in results["alice"] and not any(q["status"] == "invalid" for q in results["alice"]["questions"])
