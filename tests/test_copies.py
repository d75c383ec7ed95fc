"""Copy detection, through `cnncalc generate` and `cnncalc grade`: a simulated class of 200 with whole and
partial copies (with and without the copied fingerprint) and honest students who share the usual wrong
turns; every copier is flagged with the student they copied, nobody else is."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import numpy as np
import pytest

from cnncalc.exercises.copies import canonical, find_copies, threshold_bits

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
SECRET = b"a course secret of more than sixteen bytes"


def _write(folder: Path, student: str, answers: dict, variant: str | None) -> None:
    document = {"student": student, "answers": answers}
    if variant is not None:
        document["variant"] = variant
    (folder / f"{student}.json").write_text(json.dumps(document))


def _honest_mistakes(rng: random.Random, key: dict) -> dict:
    """An honest student: their own key with 0–3 slips of their own."""
    answers = json.loads(json.dumps(key))
    for qid in rng.sample(sorted(answers), rng.randint(0, 3)):
        value = answers[qid]
        if isinstance(value, list) and value and isinstance(value[0], list):
            i, j = rng.randrange(len(value)), rng.randrange(len(value[0]))
            value[i][j] += rng.choice([-3, -2, -1, 1, 2, 3])
        elif isinstance(value, list):
            answers[qid] = [v + 1 for v in value]
        elif isinstance(value, (int, float)):
            answers[qid] = value + rng.choice([-2, -1, 1, 2, 10])
    return answers


def _common_wrong_turns(key: dict) -> dict:
    """The usual wrong turns, the same for each of these students: the input size for the output shape,
    p = f/2, the biases not counted (conv 3·3·3 and fc 9·u, without the 1 + u biases), the bias of the
    'same' conv left out."""
    answers = json.loads(json.dumps(key))
    answers["a.shape"] = [6, 6]
    answers["d.padding"] = key["d.padding"] + 0.5
    units = (key["c.total_params"] - 28) // 10
    answers["c.total_params"] = 27 + 9 * units
    f = 2 * key["d.padding"] + 1
    filters = key["d.params"] // (f * f * 3 + 1)
    answers["d.params"] = f * f * 3 * filters
    return answers


@pytest.fixture(scope="module")
def simulated_class(tmp_path_factory):
    """200 students: 170 honest with slips of their own, 20 honest with the same usual wrong turns, and 10
    copiers (of honest students) — whole copies, partial copies, with and without the copied fingerprint."""
    from typer.testing import CliRunner

    from cnncalc.cli import app

    tmp = tmp_path_factory.mktemp("class")
    secret = tmp / "course.key"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    students = [f"s{i:03d}" for i in range(200)]
    roster = tmp / "roster.csv"
    roster.write_text("student\n" + "\n".join(students) + "\n")
    out = tmp / "out"
    runner = CliRunner()
    done = runner.invoke(app, ["generate", str(WORKSHEET), "--roster", str(roster), "--secret-file", str(secret),
                               "--out", str(out)])
    assert done.exit_code == 0, done.output
    keys = {s: json.loads((out / "keys" / f"{s}.json").read_text()) for s in students}
    rng = random.Random(12)
    answers_dir = tmp / "answers"
    answers_dir.mkdir()
    copiers = students[190:]
    common = students[170:190]
    sources = dict(zip(copiers, rng.sample(students[:170], 10)))
    written = {}
    for s in students[:170]:
        written[s] = (_honest_mistakes(rng, keys[s]["answers"]), keys[s]["variant"])
    for s in common:
        written[s] = (_common_wrong_turns(keys[s]["answers"]), keys[s]["variant"])
    part_ab = ["a.shape", "a.col4_row4", "a.col3_row2", "a.col2_row4", "b.relu", "b.pool"]
    for k, s in enumerate(copiers):
        source = sources[s]
        theirs, fingerprint = written[source]
        mine = json.loads(json.dumps(keys[s]["answers"]))
        if k < 4:  # whole copies: two with their own fingerprint, two with the source's
            copied = dict(theirs)
            variant = keys[s]["variant"] if k < 2 else fingerprint
        elif k < 7:  # parts a and b copied, c and d done honestly; one with the source's fingerprint
            copied = {**mine, **{q: theirs[q] for q in part_ab}}
            variant = keys[s]["variant"] if k < 6 else fingerprint
        elif k < 9:  # everything but part d copied, own fingerprint
            copied = {**theirs, **{q: mine[q] for q in ("d.padding", "d.params")}}
            variant = keys[s]["variant"]
        else:  # the two maps and two cells only
            copied = {**mine, **{q: theirs[q] for q in ("b.relu", "b.pool", "a.col4_row4", "a.col2_row4")}}
            variant = keys[s]["variant"]
        written[s] = (copied, variant)
    for s, (answers, variant) in written.items():
        _write(answers_dir, s, answers, variant)
    done = runner.invoke(app, ["grade", str(WORKSHEET), str(answers_dir), "--secret-file", str(secret),
                               "--format", "json"])
    assert done.exit_code == 1, done.output  # the three files that carry their source's fingerprint: not graded
    invalid = {r["student"]: r["error"] for r in json.loads(done.stdout)["results"] if r.get("error")}
    assert set(invalid) == {copiers[2], copiers[3], copiers[6]}
    assert all(f"it is {sources[s]}'s" in reason for s, reason in invalid.items())
    return {"data": json.loads(done.stdout), "sources": sources, "common": common,
            "answers": answers_dir, "secret": secret, "runner": runner, "app": app}


def test_every_copier_is_flagged_with_their_source_and_nobody_else(simulated_class):
    data, sources = simulated_class["data"], simulated_class["sources"]
    flagged = {frozenset((p["student"], p["other"])) for p in data["copies"]}
    assert flagged == {frozenset(pair) for pair in sources.items()}
    by_pair = {frozenset((p["student"], p["other"])): p for p in data["copies"]}
    for copier, source in sources.items():
        pair = by_pair[frozenset((copier, source))]
        assert pair["questions"], pair  # the evidence is named
        assert 0 < pair["similarity"] <= 1
    copier_of = {p["student"]: p for p in data["copies"]}
    # the whole copies are called so; the copied fingerprint is reported for the three who copied it
    for copier in list(sources)[:4]:
        pair = by_pair[frozenset((copier, sources[copier]))]
        assert pair["whole"] or pair["fingerprint"]
    assert sum(p["fingerprint"] for p in data["copies"]) == 3
    # names the holder of the other's variant first when that can be told (here always the copier)
    for copier in sources:
        assert copier in copier_of and copier_of[copier]["other"] == sources[copier]
    results = {r["student"]: r for r in data["results"]}
    for copier, source in sources.items():
        assert any(w.startswith(f"possible copy: {copier}'s") for w in results[copier]["warnings"])
    for student in simulated_class["common"]:
        assert not any("possible copy" in w for w in results[student].get("warnings", []))


def test_honest_students_with_the_same_wrong_turns_share_them_but_are_not_flagged(simulated_class):
    results = {r["student"]: r for r in simulated_class["data"]["results"]}
    common = simulated_class["common"]
    shapes = [next(q for q in results[s]["questions"] if q["id"] == "a.shape") for s in common]
    assert all(q["got"] == [6, 6] and q["status"] == "incorrect" for q in shapes)


def test_the_quiet_report_marks_the_copiers(simulated_class):
    runner, app = simulated_class["runner"], simulated_class["app"]
    done = runner.invoke(app, ["grade", str(WORKSHEET), str(simulated_class["answers"]), "--secret-file",
                               str(simulated_class["secret"]), "--quiet"])
    assert done.exit_code == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 201 and lines[-1].startswith("# 200 file(s), 3 invalid")
    marked = {line.split(":")[0] for line in lines if "COPY?" in line}
    invalid = {line.split(":")[0] for line in lines if ": INVALID  fingerprint " in line}
    sources = simulated_class["sources"]
    assert len(invalid) == 3 and marked | invalid == set(sources) | set(sources.values())


def _literal_pair_evidence(a, k, i, j):
    """The rule, one pair at a time: questions where i (or j) holds the other's key or answer and not
    their own, or where both gave the same wrong answer to the same key."""
    hits = []
    for q in range(len(a[i])):
        ai, aj, ki, kj = a[i][q], a[j][q], k[i][q], k[j][q]
        if ki != kj:
            if (ai is not None and ai != ki and (ai == kj or ai == aj)) or (
                    aj is not None and aj != kj and (aj == ki or aj == ai)):
                hits.append(q)
        elif ai is not None and ai == aj and ai != ki:
            hits.append(q)
    return hits


def test_vectorised_evidence_equals_a_literal_pair_loop():
    rng = np.random.default_rng(3)
    n, nq = 40, 6
    keys = rng.integers(0, 4, size=(n, nq)).tolist()
    answers = [[None if rng.random() < 0.1 else int(v if rng.random() < 0.6 else rng.integers(0, 6))
                for v in row] for row in keys]
    answers[5] = list(answers[9])  # a whole copy
    pairs = find_copies([f"s{i}" for i in range(n)], [f"q{q}" for q in range(nq)], answers, keys)
    for pair in pairs:
        i, j = pair.positions
        assert [f"q{q}" for q in _literal_pair_evidence(answers, keys, i, j)] == pair.questions
    assert any({p.student, p.other} == {"s5", "s9"} for p in pairs)


def test_threshold_and_canonical_forms():
    assert threshold_bits(200) == pytest.approx(np.log2(19900) + 6)
    assert canonical(4) == canonical(4.0) == canonical(" 4 ".strip())[0:0] + canonical(4.0000000001)
    assert canonical([[1, 2]]) == canonical(np.array([[1.0, 2.0]]))
    assert canonical(True) is None and canonical(None) is None and canonical({"a": 1}) is None
    assert canonical("(f - 1)/2") == canonical("(f-1)/2")


def test_copy_detection_of_1000_students_is_fast():
    rng = np.random.default_rng(0)
    n, nq = 1000, 9
    keys = rng.integers(0, 50, size=(n, nq)).tolist()
    answers = [list(row) for row in keys]
    answers[1] = list(keys[0])
    start = time.perf_counter()
    pairs = find_copies([f"s{i}" for i in range(n)], [f"q{q}" for q in range(nq)], answers, keys)
    assert time.perf_counter() - start < 10  # a hang guard: 0.25 s quiet (the speed: benchmarks/bench_copies.py)
    assert [{p.student, p.other} for p in pairs] == [{"s0", "s1"}]


def test_large_classes_judge_only_pairs_sharing_a_rare_value_and_find_the_same_copies(monkeypatch):
    from cnncalc.exercises import copies

    rng = np.random.default_rng(5)
    n, nq = 300, 8
    keys = rng.integers(0, 40, size=(n, nq)).tolist()
    keys = [[row[0] % 3, *row[1:]] for row in keys]  # question 0 has three keys: common values
    answers = [[v if rng.random() < 0.8 else int(rng.integers(0, 60)) for v in row] for row in keys]
    for copier, source in ((10, 20), (30, 40), (50, 60)):
        answers[copier] = list(answers[source])
    answers[70] = [*keys[80][:6], *keys[70][6:]]  # six of eight from 80's key
    names = [f"s{i}" for i in range(n)]
    qids = [f"q{q}" for q in range(nq)]
    dense = copies.find_copies(names, qids, answers, keys)
    monkeypatch.setattr(copies, "DENSE_LIMIT", 50)
    monkeypatch.setattr(copies, "RARE_SHARE", 64)
    sparse = copies.find_copies(names, qids, answers, keys)
    assert [p.as_dict() for p in sparse] == [p.as_dict() for p in dense]
    assert {frozenset((p.student, p.other)) for p in dense} >= {
        frozenset(("s10", "s20")), frozenset(("s30", "s40")), frozenset(("s50", "s60")), frozenset(("s70", "s80"))}
