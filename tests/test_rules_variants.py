"""Variant rules, each at its boundary: seeds and fingerprints from (secret, problem id, version, student),
distinct (seed, index) streams, integer ranges inclusive at both ends, the constraint checks, copy
detection's thresholds and the secret file's rules (README, "generate")."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
from pathlib import Path

import numpy as np
import pytest

from cnncalc import CnnCalcError
from cnncalc.exercises.key import key_answers
from cnncalc.exercises.variants import (
    data_fingerprint,
    draw_data,
    grade_variants,
    make_variant,
    read_secret,
    seed_variant,
    student_seed,
    student_variant,
)

SECRET = b"sixteen byte key of this course"


def sizes_problem(values: dict, constraints: list | None = None, version: int = 1) -> dict:
    """Three count questions whose keys are the drawn numbers n1, n2, n3 (the size of an [n, 1, 1] input)."""
    networks = {f"net{i}": {"input": [f"$n{i}", 1, 1], "layers": [{"type": "relu", "name": "r"}]} for i in (1, 2, 3)}
    return {"id": "sizes", "version": version, "data": {"n1": 5, "n2": 6, "n3": 7}, "networks": networks,
            "parts": [{"id": "p", "points": 3, "questions": [
                {"id": f"q{i}", "compute": {"size": f"net{i}"}} for i in (1, 2, 3)]}],
            "vary": {"values": values, **({"constraints": constraints} if constraints else {})}}


WIDE = {"n1": {"integers": [10, 10**9]}, "n2": {"integers": [10, 10**9]}, "n3": {"integers": [10, 10**9]}}


# ---------------------------------------------------------------- seeds and fingerprints


def test_student_seed_is_the_documented_hmac():
    expected = int.from_bytes(hmac.new(SECRET, b"sizes|3|alice", hashlib.sha256).digest(), "big")
    assert student_seed(SECRET, "sizes", 3, "alice") == expected, (
        "the seed is HMAC-SHA256(secret, 'problem id|version|student id') as README says")


def test_seed_depends_on_every_input():
    base = student_seed(SECRET, "sizes", 1, "alice")
    assert student_seed(SECRET, "sizes", 2, "alice") != base, "a new version of the problem must change the seed"
    assert student_seed(SECRET, "other", 1, "alice") != base, "another problem must change the seed"
    assert student_seed(SECRET, "sizes", 1, "bob") != base, "another student must change the seed"
    assert student_seed(SECRET + b"!", "sizes", 1, "alice") != base, "another secret must change the seed"


def test_a_problem_without_a_version_is_version_1():
    unversioned = sizes_problem(WIDE)
    del unversioned["version"]
    one = student_variant(sizes_problem(WIDE, version=1), "s.yaml", SECRET, "alice")
    same = student_variant(unversioned, "s.yaml", SECRET, "alice")
    assert (same.fingerprint, same.key["q1"].value) == (one.fingerprint, one.key["q1"].value), (
        "no version means version 1: the same variant, seed and fingerprint")


def test_a_new_version_gives_new_variants_and_fingerprints():
    one = student_variant(sizes_problem(WIDE, version=1), "s.yaml", SECRET, "alice")
    two = student_variant(sizes_problem(WIDE, version=2), "s.yaml", SECRET, "alice")
    assert one.fingerprint != two.fingerprint, "the problem's version must enter the variant (seed and fingerprint)"
    assert one.key["q1"].value != two.key["q1"].value, "version 2 draws new data for the same student"


def test_fingerprint_depends_on_id_version_and_data():
    data = {"n1": 5, "x": np.arange(4).reshape(2, 2)}
    base = data_fingerprint("sizes", 1, data)
    assert len(base) == 10 and int(base, 16) >= 0, "a fingerprint is 10 hex digits"
    assert data_fingerprint("sizes", 1, {"n1": 5, "x": np.arange(4).reshape(2, 2)}) == base, "reproducible"
    assert data_fingerprint("sizes", 2, data) != base, "the version enters the fingerprint"
    assert data_fingerprint("other", 1, data) != base, "the problem id enters the fingerprint"
    assert data_fingerprint("sizes", 1, {**data, "n1": 6}) != base, "the data enter the fingerprint"
    canonical = json.dumps({"id": "sizes", "version": 1, "data": {"n1": 5, "x": [[0, 1], [2, 3]]}}, sort_keys=True,
                           separators=(",", ":"))
    assert base == hashlib.sha256(canonical.encode()).hexdigest()[:10], "sha256 of the canonical JSON of the data"


def test_fixed_problems_fingerprint_their_own_data():
    raw = sizes_problem(WIDE)
    del raw["vary"]
    variant = make_variant(raw, "s.yaml", np.random.default_rng(0), "x")
    assert variant.fingerprint == data_fingerprint("sizes", 1, {"n1": 5, "n2": 6, "n3": 7})
    assert [variant.key[q].value for q in ("q1", "q2", "q3")] == [5, 6, 7]


def test_seed_index_pairs_do_not_collide():
    raw = sizes_problem(WIDE)
    seen: dict[str, tuple[int, int]] = {}
    for seed in range(4):
        for index in range(4):
            fingerprint = seed_variant(raw, "s.yaml", seed, index).fingerprint
            assert fingerprint not in seen, f"(seed, index) {(seed, index)} gives the same variant as {seen[fingerprint]}"
            seen[fingerprint] = (seed, index)
    again = seed_variant(raw, "s.yaml", 2, 3)
    assert seen[again.fingerprint] == (2, 3), "the same (seed, index) gives the same variant"


# ---------------------------------------------------------------- drawing


def test_integer_draws_reach_both_ends_and_never_leave_the_range():
    raw = {"data": {"a": 0, "m": 0}, "vary": {"values": {"a": {"integers": [3, 4]},
                                                         "m": {"integers": [-1, 1], "shape": [8, 8]}}}}
    singles = set()
    for seed in range(40):
        drawn = draw_data(raw, np.random.default_rng(seed))
        singles.add(drawn["a"])
        cells = np.asarray(drawn["m"]["array"])
        assert cells.shape == (8, 8), "the array has the asked shape"
        assert set(np.unique(cells)) == {-1, 0, 1}, "an 8×8 array over [-1, 1] holds both ends and the middle"
    assert singles == {3, 4}, f"integers: [3, 4] must draw both 3 and 4 (the upper bound is inclusive), got {singles}"


def test_choice_draws_every_option_and_expr_uses_earlier_draws():
    raw = {"data": {"f": 0, "g": 0}, "vary": {"values": {"f": {"choice": [3, 5, 7]}, "g": {"expr": "2 * f + 1"}}}}
    seen = set()
    for seed in range(40):
        drawn = draw_data(raw, np.random.default_rng(seed))
        assert drawn["g"] == 2 * drawn["f"] + 1, "expr sees the value drawn before it"
        seen.add(drawn["f"])
    assert seen == {3, 5, 7}


def vary_problem(values, **vary) -> dict:
    """A problem whose file is checked (rules, names, constraints, tries) when it is built."""
    return {"id": "v", "data": {"a": 0, "n1": 5},
            "networks": {"net": {"input": ["$n1", 1, 1], "layers": [{"type": "relu", "name": "r"}]}},
            "parts": [{"id": "p", "questions": [{"id": "q", "compute": {"size": "net"}}]}],
            "vary": {"values": values, **vary}}


BAD_INTEGERS = ("bad value for 'integers' (got {}, expected [low, high]: two integers with low ≤ high, each within "
                "±1,000,000,000)")


@pytest.mark.parametrize(("rule", "message"), [
    ({"integers": [5, 4]}, BAD_INTEGERS.format("[5, 4]")),
    ({"integers": [1.5, 4]}, BAD_INTEGERS.format("[1.5, 4]")),
    ({"integers": [0, 10**9 + 1]}, BAD_INTEGERS.format("[0, 1000000001]")),
    ({"choice": []}, "bad value for 'choice' (got [], expected a non-empty list of values)"),
    ({"pick": [1]}, "unknown rule 'pick'"),
    ({"integers": [1, 2], "shape": [2], "extra": 1}, "unknown key 'extra'; expected one of integers, shape"),
])
def test_bad_vary_rules_are_refused(rule, message):
    from cnncalc.exercises.problem import build_problem

    with pytest.raises(CnnCalcError) as caught:
        build_problem(vary_problem({"a": rule}), "v.yaml")
    assert str(caught.value) == "v.yaml: vary: 'a': " + message


def test_vary_ranges_at_the_cap_are_accepted():
    from cnncalc.exercises.problem import build_problem

    build_problem(vary_problem({"a": {"integers": [-10**9, 10**9]}}), "v.yaml")
    build_problem(vary_problem({"a": {"integers": [4, 4]}}), "v.yaml")  # low = high: one value


def test_vary_of_unknown_data_is_refused():
    from cnncalc.exercises.problem import build_problem

    with pytest.raises(CnnCalcError) as caught:
        build_problem(vary_problem({"b": {"integers": [1, 2]}}), "v.yaml")
    assert str(caught.value) == ("v.yaml: vary: 'b' is not in data (a rule replaces a data entry); the data names "
                                 "are: a, n1")


# ---------------------------------------------------------------- constraints


def map_problem(matrices: list, constraint: dict, tries: int = 3) -> dict:
    return {"id": "maps", "data": {"fm": {"matrix": matrices[0]}},
            "networks": {"net": {"input": [2, 2, 1], "layers": [{"type": "relu", "name": "relu"}]}},
            "parts": [{"id": "p", "questions": [{"id": "q", "compute": {"map": "net", "input": "fm", "layer": "relu"}}]}],
            "vary": {"values": {"fm": {"choice": [{"matrix": m} for m in matrices]}}, "constraints": [constraint],
                     "tries": tries}}


def holds(matrix: list, constraint: dict) -> bool:
    try:
        make_variant(map_problem([matrix], constraint), "maps.yaml", np.random.default_rng(0), "x")
    except CnnCalcError as error:
        assert "no variant met the constraints in 3 tries" in str(error)
        return False
    return True


SOME_ZERO = {"some_but_not_all": {"map": "net", "input": "fm", "layer": "relu", "equal": 0}}
DISTINCT = {"distinct": {"map": "net", "input": "fm", "layer": "relu"}}


@pytest.mark.parametrize(("matrix", "expected"), [
    ([[1, 2], [3, 4]], False),      # no cell zeroed
    ([[-1, 2], [3, 4]], True),      # exactly one of four
    ([[-1, -2], [-3, 4]], True),    # all but one
    ([[-1, -2], [-3, 0]], False),   # all four
])
def test_some_but_not_all(matrix, expected):
    assert holds(matrix, SOME_ZERO) is expected, (
        f"some_but_not_all (equal 0) on ReLU({matrix}) must {'hold' if expected else 'fail'}: 0 < count < size")


def test_some_but_not_all_with_another_value():
    constraint = {"some_but_not_all": {"map": "net", "input": "fm", "layer": "relu", "equal": 3}}
    assert holds([[3, 1], [1, 1]], constraint) and not holds([[3, 3], [3, 3]], constraint)
    assert not holds([[1, 1], [1, 1]], constraint)


@pytest.mark.parametrize(("matrix", "expected"), [
    ([[2, 2], [2, 2]], False), ([[2, 2], [2, 3]], True), ([[-1, -2], [-3, -4]], False), ([[-1, -2], [-3, 4]], True),
])
def test_distinct(matrix, expected):
    assert holds(matrix, DISTINCT) is expected, (
        f"distinct on ReLU({matrix}) must {'hold' if expected else 'fail'}: more than one distinct value")


def test_constraints_pick_the_variant_that_meets_them():
    raw = map_problem([[[1, 2], [3, 4]], [[-1, 2], [3, 4]]], SOME_ZERO, tries=50)
    for seed in range(5):
        variant = make_variant(raw, "maps.yaml", np.random.default_rng(seed), "x")
        np.testing.assert_array_equal(variant.key["q"].value, [[0, 2], [3, 4]])


def test_valid_and_integer_constraints():
    raw = {"id": "v", "data": {"n": 5, "f": 3},
           "networks": {"net": {"input": ["$n", "$n", 1], "layers": [{"type": "conv", "filters": 1, "kernel": 3}]}},
           "parts": [{"id": "p", "questions": [{"id": "q", "compute": {"solve": {"f": "$f", "same": True}, "for": "p"}}]}],
           "vary": {"values": {"n": {"choice": [2]}, "f": {"choice": [3]}}, "constraints": [{"valid": ["net"]}],
                    "tries": 2}}
    with pytest.raises(CnnCalcError, match="no variant met the constraints in 2 tries"):
        make_variant(raw, "v.yaml", np.random.default_rng(0), "x")  # a 3×3 kernel on a 2×2 input
    raw["vary"]["values"]["n"] = {"choice": [3]}
    assert make_variant(raw, "v.yaml", np.random.default_rng(0), "x").key["q"].value == 1
    raw["vary"]["constraints"] = [{"integer": {"solve": {"f": "$f", "same": True}, "for": "p"}}]
    raw["vary"]["values"]["f"] = {"choice": [4]}
    with pytest.raises(CnnCalcError, match="integer"):
        make_variant(raw, "v.yaml", np.random.default_rng(0), "x")  # p = 3/2


def test_unknown_constraint_is_refused():
    raw = map_problem([[[1, 2], [3, 4]]], {"distinctive": {"map": "net"}})
    with pytest.raises(CnnCalcError, match="unknown constraint"):
        make_variant(raw, "maps.yaml", np.random.default_rng(0), "x")


# ---------------------------------------------------------------- copy detection


def answer_file(folder: Path, student: str, answers: dict, variant: str | None = None) -> Path:
    path = folder / f"{student}.json"
    body = {"student": student, "answers": answers, **({"variant": variant} if variant else {})}
    path.write_text(json.dumps(body))
    return path


def test_copy_check_flags_a_whole_copy_and_not_two_of_three_in_a_class_of_two(tmp_path):
    raw = sizes_problem(WIDE)
    a, b = (student_variant(raw, "s.yaml", SECRET, s) for s in ("ann", "bob"))
    key_a, key_b = key_answers(a.problem, a.key), key_answers(b.problem, b.key)
    assert all(key_a[q] != key_b[q] for q in key_a), "the test needs two variants with no common answer"
    # ann hands in bob's three answers under her own fingerprint: a whole copy, always flagged
    files = [answer_file(tmp_path, "ann", key_b, a.fingerprint), answer_file(tmp_path, "bob", key_b, b.fingerprint)]
    results, warnings, _ = grade_variants(raw, "s.yaml", files, SECRET)
    flags = [w for w in warnings if "possible copy" in w]
    assert flags == [("possible copy: ann's answers match bob's variant on 3 question(s): q1, q2, q3; similarity "
                     "100%, evidence 0.0 bits — whole copy")], warnings
    assert results[0].score == 0 and results[1].score == 3
    # two of three from bob in a class of two is not enough evidence (and not a whole copy)
    files = [answer_file(tmp_path, "ann", {"q1": key_b["q1"], "q2": key_b["q2"], "q3": key_a["q3"]}, a.fingerprint),
             answer_file(tmp_path, "bob", key_b, b.fingerprint)]
    results, warnings, _ = grade_variants(raw, "s.yaml", files, SECRET)
    assert not [w for w in warnings if "possible copy" in w], warnings
    assert results[0].score == 1 and results[1].score == 3


def test_copy_check_does_not_flag_a_tie(tmp_path):
    raw = sizes_problem(WIDE)
    a, b = (student_variant(raw, "s.yaml", SECRET, s) for s in ("ann", "bob"))
    key_a, key_b = key_answers(a.problem, a.key), key_answers(b.problem, b.key)
    files = [answer_file(tmp_path, "ann", {"q1": key_b["q1"], "q2": key_a["q2"], "q3": -1}, a.fingerprint),
             answer_file(tmp_path, "bob", key_b, b.fingerprint)]
    _, warnings, _ = grade_variants(raw, "s.yaml", files, SECRET)
    assert not [w for w in warnings if "possible copy" in w], "one match with bob and one with her own is no evidence"


def test_copy_check_ignores_values_many_variants_share(tmp_path):
    # q1 and q2 take one of two values: each is shared by about half the class, which says nothing
    raw = sizes_problem({"n1": {"choice": [11, 12]}, "n2": {"choice": [21, 22]}, "n3": {"integers": [10, 10**9]}})
    students = [f"s{i}" for i in range(12)]  # crowd = max(2, 12 // 4) = 3 holders at most count
    variants = {s: student_variant(raw, "s.yaml", SECRET, s) for s in students}
    keys = {s: key_answers(v.problem, v.key) for s, v in variants.items()}
    other = next(s for s in students[1:] if keys[s]["q1"] != keys["s0"]["q1"] and keys[s]["q2"] != keys["s0"]["q2"])
    holders = sum(keys[s]["q1"] == keys[other]["q1"] for s in students)
    assert holders > 3, "the test needs a value held by more than a quarter of the class"
    files = [answer_file(tmp_path, s, keys[s], variants[s].fingerprint) for s in students if s != "s0"]
    files.append(answer_file(tmp_path, "s0", {"q1": keys[other]["q1"], "q2": keys[other]["q2"], "q3": keys["s0"]["q3"]},
                             variants["s0"].fingerprint))
    _, warnings, _ = grade_variants(raw, "s.yaml", files, SECRET)
    assert not [w for w in warnings if "possible copy" in w], (
        "answers that a crowd of variants share must not count as copying: " + "; ".join(warnings))


def test_a_fingerprint_of_another_variant_is_not_graded(tmp_path):
    """No grade from a key the file was not made for: the file is listed with whose variant it answers (the
    wrong secret makes every file so, and then nothing is graded)."""
    raw = sizes_problem(WIDE)
    a, b = (student_variant(raw, "s.yaml", SECRET, s) for s in ("ann", "bob"))
    files = [answer_file(tmp_path, "ann", key_answers(a.problem, a.key), b.fingerprint),
             answer_file(tmp_path, "bob", key_answers(b.problem, b.key)),
             answer_file(tmp_path, "cy", {}, "0123456789")]
    results, _, _ = grade_variants(raw, "s.yaml", files, SECRET)
    assert results[0].variant == a.fingerprint
    assert results[0].error == (f"fingerprint {b.fingerprint} is not this student's variant under this secret "
                                f"({a.fingerprint}; it is bob's): not graded — check the secret, or the sheet the "
                                "student answered")
    assert results[1].error is None and any("no variant fingerprint" in w for w in results[1].warnings)
    assert results[2].error.startswith("fingerprint 0123456789 is not this student's variant") and \
        "no student of this batch has it" in results[2].error


# ---------------------------------------------------------------- the secret


def secret_file(tmp_path: Path, content: bytes, mode: int) -> Path:
    path = tmp_path / "course.key"
    path.write_bytes(content)
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o644])
def test_a_secret_file_others_can_use_is_refused(tmp_path, mode):
    with pytest.raises(CnnCalcError, match="chmod 600"):
        read_secret(secret_file(tmp_path, b"x" * 32, mode))


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_a_secret_file_only_its_owner_can_read_is_accepted(tmp_path, mode):
    assert read_secret(secret_file(tmp_path, b"x" * 32 + b"\n", mode)) == b"x" * 32, "read, trailing newline removed"


def test_secret_length_boundary(tmp_path):
    assert read_secret(secret_file(tmp_path, b"k" * 16, 0o600)) == b"k" * 16, "16 bytes is long enough"
    with pytest.raises(CnnCalcError, match=r"the secret in the secret file is too short \(15 bytes, at least 16\)"):
        read_secret(secret_file(tmp_path, b"k" * 15, 0o600))


def test_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("CNNCALC_SECRET", "from the environment")
    assert read_secret(None) == b"from the environment"
    monkeypatch.delenv("CNNCALC_SECRET")
    with pytest.raises(CnnCalcError, match="no course secret"):
        read_secret(None)


def test_variants_do_not_share_mutable_choices():
    options = [[1, 2], [3, 4]]
    raw = {"data": {"a": 0}, "vary": {"values": {"a": {"choice": copy.deepcopy(options)}}}}
    drawn = draw_data(raw, np.random.default_rng(0))
    drawn["a"].append(99)
    assert raw["vary"]["values"]["a"]["choice"] == options, "a drawn choice is a copy"


def test_copy_evidence_threshold_grows_with_the_pairs():
    import math

    from cnncalc.exercises.copies import MARGIN_BITS, WHOLE_MIN, threshold_bits

    assert MARGIN_BITS == 6 and WHOLE_MIN == 3
    assert threshold_bits(2) == 6 and threshold_bits(1) == 6
    assert threshold_bits(200) == pytest.approx(math.log2(200 * 199 / 2) + 6)
    assert threshold_bits(1000) > threshold_bits(999)


# ---------------------------------------------------------------- more of the documented rules


def test_labels_and_reproducibility_of_seeded_and_student_variants():
    raw = sizes_problem(WIDE)
    seeded = seed_variant(raw, "s.yaml", 3, 2)
    assert seeded.label == "variant-3-2" and seed_variant(raw, "s.yaml", 3, 2).fingerprint == seeded.fingerprint
    assert seed_variant(raw, "s.yaml", 3).fingerprint == seed_variant(raw, "s.yaml", 3, 0).fingerprint, "index 0"
    student = student_variant(raw, "s.yaml", SECRET, "ann")
    assert student.label == "ann"
    drawn = np.random.default_rng(student_seed(SECRET, "sizes", 1, "ann"))
    assert [student.key[q].value for q in ("q1", "q2", "q3")] == [int(drawn.integers(10, 10**9 + 1)) for _ in range(3)], (
        "a student's variant draws its values in order from the generator seeded with the HMAC seed")
    assert student.fingerprint == data_fingerprint("sizes", 1, {f"n{i}": student.key[f"q{i}"].value for i in (1, 2, 3)})


def test_expr_draws_keep_fractions():
    raw = {"data": {"f": 0, "h": 0, "q": 0}, "vary": {"values": {
        "f": {"choice": [3]}, "h": {"expr": "f / 2"}, "q": {"expr": "f // 2"}}}}
    drawn = draw_data(raw, np.random.default_rng(0))
    assert drawn == {"f": 3, "h": 1.5, "q": 1} and isinstance(drawn["q"], int) and isinstance(drawn["h"], float)


def test_expr_draws_see_fixed_data_numbers():
    raw = {"data": {"k": 4, "g": 0}, "vary": {"values": {"g": {"expr": "k * 2"}}}}
    assert draw_data(raw, np.random.default_rng(0)) == {"g": 8}


def test_bad_vary_sections():
    from cnncalc.exercises.problem import build_problem

    with pytest.raises(CnnCalcError) as caught:
        build_problem(vary_problem([1]), "v.yaml")
    assert str(caught.value) == "v.yaml: vary: bad value for 'values' (got [1], expected a mapping)"
    raw = map_problem([[[1, 2], [3, 4]]], SOME_ZERO)
    raw["vary"]["constraints"] = [{"valid": ["net"], "distinct": {}}]
    with pytest.raises(CnnCalcError, match="vary: constraint 1 must be a one-key mapping"):
        make_variant(raw, "maps.yaml", np.random.default_rng(0), "x")


def test_tries_are_counted_and_the_last_failure_named():
    raw = map_problem([[[1, 2], [3, 4]]], SOME_ZERO, tries=7)
    with pytest.raises(CnnCalcError) as caught:
        make_variant(raw, "maps.yaml", np.random.default_rng(0), "x")
    assert str(caught.value) == (
        "maps.yaml: no variant met the constraints in 7 tries; some_but_not_all failed in 7 of them, last: 0 of 4 "
        "cells equal 0; loosen the constraint or widen the ranges in vary: values"), str(caught.value)
    raw["vary"]["tries"] = 1
    with pytest.raises(CnnCalcError, match="in 1 try; some_but_not_all failed in 1 of them"):
        make_variant(raw, "maps.yaml", np.random.default_rng(0), "x")
    for tries in (0, 1001):
        raw["vary"]["tries"] = tries
        with pytest.raises(CnnCalcError) as caught:
            make_variant(raw, "maps.yaml", np.random.default_rng(0), "x")
        assert f"vary: bad value for 'tries' (got {tries}, expected an integer from 1 to 1,000)" in str(caught.value)


def test_canonical_answers_for_copy_detection():
    from cnncalc.exercises.copies import canonical as _canonical

    assert _canonical(3) == _canonical(3.0000000001) == "3.0"
    assert _canonical([[1, 2]]) == _canonical(np.array([[1.0, 2.0]])) == "[[1.0, 2.0]]"
    assert _canonical("(f - 1)/2") == _canonical("(f-1)/2") == '"(f-1)/2"'
    assert _canonical(True) is None and _canonical(None) is None and _canonical({"a": 1}) is None
    assert _canonical(3.25) != _canonical(3.2500011)


def test_unreadable_and_duplicate_answer_files_in_a_variant_batch(tmp_path):
    raw = sizes_problem(WIDE)
    a = student_variant(raw, "s.yaml", SECRET, "ann")
    bad = tmp_path / "broken.yaml"
    bad.write_text("student: [\n")
    first = answer_file(tmp_path, "ann", key_answers(a.problem, a.key), a.fingerprint)
    second = tmp_path / "ann-again.json"
    second.write_text(first.read_text())
    results, warnings, _ = grade_variants(raw, "s.yaml", [bad, first, second], SECRET)
    assert results[0].student == "broken" and results[0].error and [q.status for q in results[0].questions] == [
        "invalid"] * 3
    assert results[1].score == 3 and results[2].score == 3
    assert any("duplicate student id 'ann'" in w for w in warnings), warnings
    assert not any("possible copy" in w for w in warnings), "a student matching their own key is no copy"


