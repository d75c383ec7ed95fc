"""Malformed problem files, `vary:` sections at and past their caps, and the folder `generate` writes.

Every hostile file is made at test time from the worksheet's text by one edit; each must end with exit
2 and one line that names the file, the line and what to fix, through `grade`, `generate` and `key`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncalc import CnnCalcError
from cnncalc.exercises import problem as problem_format
from cnncalc.exercises.generated import MANIFEST
from cnncalc.exercises.variants import MAX_VARIANTS, seed_variant
from cnncalc.spec import safeload

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
TEXT = WORKSHEET.read_text()
ANSWER = {"student": "s1", "answers": {"a.shape": [4, 4]}}

# (name, text to replace, replacement, fragments of the message, the line's anchor in the edited text)
# The anchor is a regular expression; the message must name the line of its first match.
CASES = [
    ("parts-not-a-list", re.compile(r"\nparts:\n.*", re.DOTALL), "\nparts: 5\n",
     ["bad value for 'parts'", "got 5", "a non-empty list of parts"], r"^parts: 5"),
    ("at-text", "layer: conv, at: [3, 3, 0]", 'layer: conv, at: "abc"',
     ["question 'a.col4_row4'", "bad value for 'at'", "non-negative integers"], r'at: "abc"'),
    ("at-out-of-range", "layer: conv, at: [3, 3, 0]", "layer: conv, at: [9, 9, 9]",
     ["question 'a.col4_row4'", "[9, 9, 9] is outside the output of layer 'conv' (shape [4, 4, 1])"],
     r"- id: a.col4_row4"),
    ("at-negative", "layer: conv, at: [3, 3, 0]", "layer: conv, at: [-1, 0, 0]",
     ["bad value for 'at'", "non-negative"], r"at: \[-1"),
    ("at-too-short", "layer: conv, at: [3, 3, 0]", "layer: conv, at: [3]",
     ["[3] is outside the output of layer 'conv' (shape [4, 4, 1])"], r"- id: a.col4_row4"),
    ("layer-misspelt", "input: x, layer: conv, at: [1, 2, 0]", "input: x, lyer: conv, at: [1, 2, 0]",
     ["question 'a.col3_row2'", "unknown key 'lyer'", "did you mean 'layer'"], r"lyer: conv"),
    ("layer-unknown", "compute: {map: part_b, input: feature_map, layer: relu}",
     "compute: {map: part_b, input: feature_map, layer: rleu}",
     ["question 'b.relu'", "network 'part_b' has no layer 'rleu'", "did you mean 'relu'"], r"- id: b.relu"),
    ("rtol-text", "compute: {params: part_c}", "compute: {params: part_c}\n        rtol: abc",
     ["question 'c.total_params'", "bad value for 'rtol'", "got 'abc'"], r"rtol: abc"),
    ("tries-inf", "  constraints:\n", "  tries: .inf\n  constraints:\n",
     ["vary: bad value for 'tries'", "an integer from 1 to 1,000"], r"tries: \.inf"),
    ("vary-wrong-shape", "x: {integers: [0, 7], shape: [6, 6, 3]}", "x: {integers: [0, 7], shape: [6, 6]}",
     ["vary: 'x'", "shape of data 'x'", "shape: [6, 6, 3]"], r"x: \{integers"),
    ("points-negative", "    points: 0.5\n    prompt: >\n      For the Convolution",
     "    points: -1\n    prompt: >\n      For the Convolution",
     ["part 'a': bad value for 'points'", "got -1", "non-negative number"], r"points: -1"),
    ("points-nan", "        kind: manual\n        points: 0", "        kind: manual\n        points: .nan",
     ["question 'b.plot'", "bad value for 'points'", "non-negative number"], r"points: \.nan"),
    ("question-without-id", "      - id: a.shape\n        prompt:", "      - prompt:",
     ["part 'a', question 1: missing 'id'"], r"- prompt: Determine the shape"),
    ("question-id-misspelt", "      - id: a.shape\n", "      - idd: a.shape\n",
     ["unknown key 'idd'", "did you mean 'id'"], r"idd: a.shape"),
    ("duplicate-question-id", "- id: a.col3_row2", "- id: a.col4_row4",
     ["duplicate question id 'a.col4_row4' (first on line 78)"], r"- id: a.col4_row4\n        prompt: Compute the feature-map value at the 3rd"),
    ("compute-two-kinds", "compute: {params: part_c}", "compute: {params: part_c, shape: part_c}",
     ["question 'c.total_params'", "compute has more than one kind: params, shape",
                                                    "got ['params', 'shape']"], r"compute: \{params: part_c, s"),
    ("compute-no-kind", "compute: {params: part_c}", "compute: {layer: fc}",
     ["question 'c.total_params'", "compute names no kind"], r"compute: \{layer: fc"),
    ("compute-unknown-kind", "compute: {params: part_c}", "compute: {parms: part_c}",
     ["unknown compute 'parms'", "did you mean 'params'"], r"compute: \{parms"),
    ("compute-missing", "        compute: {params: part_c}\n", "",
     ["question 'c.total_params' needs 'compute'"], r"- id: c.total_params"),
    ("data-ref-missing", "bias: [$b]", "bias: [$bb]",
     ["network 'part_a': unknown data '$bb'", "did you mean 'b'"], r"\{type: conv, name: conv, filters: 1, kernel: 3, s"),
    ("network-not-a-spec", re.compile(r"  part_b:\n    input: \[4, 4, 1\]\n    layers:\n.*?\n.*?\n", re.DOTALL),
     "  part_b: [relu, pool]\n", ["network 'part_b' must be a spec", "a mapping with input and layers"],
     r"part_b: \[relu"),
    ("network-does-not-build", "kernel: 3, stride: 1, padding: 0, weight: $w",
     "kernel: 9, stride: 1, padding: 0, weight: $w", ["network 'part_a'", "layer 1 'conv'", "kernel"],
     r"kernel: 9"),
    ("network-input-symbolic", "  part_a:\n    input: [6, 6, 3]", "  part_a:\n    input: [6, n, 3]",
     ["network 'part_a': its input has symbol names (n); a key needs numbers"], r"input: \[6, n, 3\]"),
    ("shape-missing-network", "compute: {shape: part_a, layer: conv, axes: [0, 1]}",
     "compute: {shape: prt_a, layer: conv, axes: [0, 1]}",
     ["question 'a.shape'", "'shape' names no network 'prt_a'", "did you mean 'part_a'"], r"shape: prt_a"),
    ("axes-out-of-range", "layer: conv, axes: [0, 1]}", "layer: conv, axes: [5]}",
     ["question 'a.shape'", "axes [5] outside the output of layer 'conv' (shape [4, 4, 1])"], r"- id: a.shape"),
    ("cell-without-input", "{cell: part_a, input: x, layer: conv, at: [3, 3, 0]}",
     "{cell: part_a, layer: conv, at: [3, 3, 0]}", ["question 'a.col4_row4'", "missing 'input'"],
     r"\{cell: part_a, layer"),
    ("input-unknown-data", "{cell: part_a, input: x, layer: conv, at: [3, 3, 0]}",
     "{cell: part_a, input: xx, layer: conv, at: [3, 3, 0]}", ["'input' names no data 'xx'", "did you mean 'x'"],
     r"input: xx"),
    ("integers-reversed", "b: {integers: [1, 9]}", "b: {integers: [7, 0]}",
     ["vary: 'b': bad value for 'integers'", "low ≤ high"], r"b: \{integers: \[7"),
    ("choice-empty", "fc_units: {choice: [10, 16, 32, 64]}", "fc_units: {choice: []}",
     ["vary: 'fc_units': bad value for 'choice'", "a non-empty list"], r"fc_units: \{choice"),
    ("choice-array-for-number", "fc_units: {choice: [10, 16, 32, 64]}", "fc_units: {choice: [10, [1, 2]]}",
     ["vary: 'fc_units': a choice does not have the shape of data 'fc_units'"], r"fc_units: \{choice"),
    ("expr-undefined", "b: {integers: [1, 9]}", 'b: {expr: "2 * nope + 1"}',
     ["vary: 'b': 'expr' uses 'nope', which is not a number in data"], r"b: \{expr"),
    ("expr-bad-syntax", "b: {integers: [1, 9]}", 'b: {expr: "2 * (fc_units"}', ["vary: 'b'"], r"b: \{expr"),
    ("constraint-unknown", "- {valid: [part_a", "- {vaild: [part_a",
     ["vary: constraint 1: unknown constraint 'vaild'", "did you mean 'valid'"], r"- \{vaild"),
    ("constraint-names-no-network", "- {valid: [part_a, part_b, part_c, part_d]}", "- {valid: [part_a, part_q]}",
     ["vary: constraint 1: 'valid' names no network 'part_q'"], r"- \{valid: \[part_a, part_q"),
    ("vary-name-not-in-data", "    b: {integers: [1, 9]}", "    bb: {integers: [1, 9]}",
     ["vary: 'bb' is not in data", "did you mean 'b'"], r"bb: \{integers"),
    ("vary-rule-unknown", "    b: {integers: [1, 9]}", "    b: {integer: [1, 9]}",
     ["vary: 'b': unknown rule 'integer'", "did you mean 'integers'"], r"b: \{integer:"),
    ("top-key-misspelt", "\ndisplay:", "\ndispaly:", ["unknown key 'dispaly'", "did you mean 'display'"],
     r"^dispaly:"),
    ("kind-unknown", "kind: manual", "kind: manul", ["question 'b.plot'", "bad value for 'kind'"], r"kind: manul"),
    ("data-ragged", "- [[1, 2, 0, 2, 1, 2], [3, 2, 6, 0, 3, 0]", "- [[1, 2, 0, 2, 1], [3, 2, 6, 0, 3, 0]",
     ["data 'x' is not a rectangular array of numbers"], r"^  x:"),
    ("data-layout-misspelt", "    matrix: [[35", "    matrx: [[35", ["data 'feature_map': unknown layout 'matrx'",
                                                                    "did you mean 'matrix'"], r"^  feature_map:"),
    ("display-unknown-data", "  feature_map: Feature map", "  featuremap: Feature map",
     ["display: 'featuremap' is not in data", "did you mean 'feature_map'"], r"^  featuremap: Feature"),
    ("points-exceed-part", "      - id: a.shape\n", "      - id: a.shape\n        points: 1\n",
     ["part 'a': its questions' own points (1) exceed the part's (0.5)"], r"^  - id: a$"),
    ("solve-unknown-value", "compute: {solve: {f: $d_filter, same: true}, for: p}",
     "compute: {solve: {f: $d_filter, sam: true}, for: p}",
     ["question 'd.padding': 'solve': unknown key 'sam'", "did you mean 'same'"], r"compute: \{solve: \{f: \$d_filter, sam"),
    ("solve-for-unknown", "same: true}, for: p}\n      - id: d.params", "same: true}, for: q}\n      - id: d.params",
     ["question 'd.padding': bad value for 'for'", "one of n, f, p, s, d, out"], r"for: q\}"),
]


def edited(case) -> tuple[str, int]:
    name, old, new, _, anchor = case
    if isinstance(old, re.Pattern):
        text, n = old.subn(new.replace("\\", "\\\\"), TEXT, count=1)
    else:
        n = TEXT.count(old)
        text = TEXT.replace(old, new, 1)
    assert n >= 1, f"{name}: the edit does not apply to the worksheet"
    match = re.search(anchor, text, re.MULTILINE)
    assert match, f"{name}: anchor {anchor!r} not found"
    return text, text.count("\n", 0, match.start()) + 1


def write(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_the_cases_are_many_and_distinct():
    assert len(CASES) >= 24 and len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case[0])
def test_malformed_problem_is_refused_by_every_command(case, tmp_path, cli):
    name, _, _, fragments, _ = case
    text, line = edited(case)
    path = write(tmp_path, name, text)
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "s1.json").write_text(json.dumps(ANSWER))
    out = tmp_path / "out"
    for args in (["grade", str(path), str(answers)], ["generate", str(path), "--seed", "1", "--out", str(out)],
                 ["key", str(path)]):
        code, stdout, err = cli(*args)
        assert code == 2, (args[0], stdout, err)
        assert err.startswith(f"error: {path}:{line}: "), (args[0], line, err)
        assert err.count("\n") == 1, err
        for fragment in fragments:
            assert fragment in err, (args[0], fragment, err)
    assert not out.exists()  # nothing written for a bad file


def test_the_worksheet_itself_passes():
    problem = problem_format.load_problem(WORKSHEET)
    assert [q.id for q in problem.questions][:3] == ["a.shape", "a.col4_row4", "a.col3_row2"]
    assert problem.question("a.col4_row4").line == 78 and TEXT.splitlines()[77].strip() == "- id: a.col4_row4"


def test_every_problem_file_is_valid(cli):
    for path in sorted((ROOT / "problems").glob("*.yaml")):
        code, _, err = cli("key", str(path))
        assert code == 0, (path, err)


def test_the_reference_covers_every_key():
    text = problem_format.reference_markdown()
    for section in (problem_format.PROBLEM, problem_format.PART, problem_format.QUESTION,
                    *problem_format.COMPUTE.values(), problem_format.VARY, *problem_format.RULES.values(),
                    *problem_format.CONSTRAINTS.values()):
        for key in section.keys:
            assert f"| `{key.name}` | {key.type.expected} |" in text
    assert "| `tries` | an integer from 1 to 1,000 | `200` |" in text


# ---------------------------------------------------------------- caps of vary:, each from both sides


def varied(tmp_path, **changes) -> Path:
    raw = yaml.safe_load(TEXT)
    for dotted, value in changes.items():
        target = raw
        *path, last = dotted.split("__")
        for part in path:
            target = target[part]
        target[last] = value
    path = tmp_path / "varied.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def raw_of(path):
    return safeload.load_file(path)


@pytest.mark.parametrize(("tries", "ok"), [(problem_format.MAX_TRIES, True), (problem_format.MAX_TRIES + 1, False),
                                           (1, True), (0, False), (-3, False), (2.5, False)])
def test_tries_cap(tmp_path, tries, ok):
    path = varied(tmp_path, vary__tries=tries)
    if ok:  # accepted: a variant, or (one try) a draw that misses the constraints
        try:
            assert seed_variant(raw_of(path), str(path), 3).key["a.shape"].value == [4, 4]
        except CnnCalcError as error:
            assert tries == 1 and "no variant met the constraints in 1 try;" in str(error)
    else:
        with pytest.raises(CnnCalcError, match=r"bad value for 'tries'.*an integer from 1 to 1,000"):
            seed_variant(raw_of(path), str(path), 3)


@pytest.mark.parametrize(("bounds", "ok"), [([-10**9, 10**9], True), ([0, 10**9 + 1], False),
                                            ([-10**9 - 1, 0], False), ([5, 5], True), ([6, 5], False)])
def test_integer_range_cap(tmp_path, bounds, ok):
    path = varied(tmp_path, vary__values__d_filters={"integers": bounds})
    raw = raw_of(path)
    raw["vary"]["constraints"] = []  # a huge number of filters still computes: only the range is at stake
    if ok:
        value = seed_variant(raw, str(path), 3).problem.data["d_filters"]
        assert bounds[0] <= value <= bounds[1]
    else:
        with pytest.raises(CnnCalcError, match="bad value for 'integers'"):
            seed_variant(raw, str(path), 3)


def test_drawn_array_caps(tmp_path):
    """A drawn array may hold 10,000 values (accepted), not 10,001; a variant 100,000, not 100,001."""
    def problem(sizes):
        data = {f"m{i}": {"array": [0] * n} for i, n in enumerate(sizes)}
        values = {f"m{i}": {"integers": [0, 9], "shape": [n]} for i, n in enumerate(sizes)}
        raw = {"id": "caps", "data": {**data, "k": 3}, "vary": {"values": values},
               "parts": [{"id": "a", "questions": [{"id": "q", "compute": {"solve": {"f": "$k", "same": True},
                                                                          "for": "p"}}]}]}
        path = tmp_path / "caps.json"  # JSON is YAML, and quick to write
        path.write_text(json.dumps(raw))
        return raw_of(path), str(path)

    raw, source = problem([problem_format.MAX_ARRAY_VALUES])
    assert len(seed_variant(raw, source, 1).problem.data["m0"]) == 10_000
    with pytest.raises(CnnCalcError, match=r"too many values in one array \(10,001, at most 10,000\)"):
        seed_variant(*problem([problem_format.MAX_ARRAY_VALUES + 1]), 1)
    raw, source = problem([10_000] * 10)
    assert sum(len(v) for v in seed_variant(raw, source, 1).problem.data.values() if hasattr(v, "__len__")) == 100_000
    with pytest.raises(CnnCalcError, match=r"too many values drawn per variant \(100,001, at most 100,000\)"):
        seed_variant(*problem([10_000] * 10 + [1]), 1)


def test_expr_values_are_capped_and_fail_cleanly(tmp_path):
    """A derived value may reach ±10**9 (accepted), not beyond; a draw that cannot compute fails clearly."""
    path = varied(tmp_path, vary__values__d_filters={"expr": "d_size * 1000000"})  # d_size is drawn before
    raw = raw_of(path)
    raw["vary"]["constraints"] = []
    raw["vary"]["values"]["d_size"] = {"choice": [1000]}
    assert seed_variant(raw, str(path), 1).problem.data["d_filters"] == 10**9
    raw["vary"]["values"]["d_size"] = {"choice": [1001]}
    raw["vary"]["tries"] = 5
    with pytest.raises(CnnCalcError, match=r"no variant met the constraints in 5 tries.*gives 1\.001e\+09, outside"):
        seed_variant(raw, str(path), 1)
    raw["vary"]["values"]["d_filters"] = {"expr": "d_size ** 64 ** 64"}
    with pytest.raises(CnnCalcError, match="exponent|too complex|too large"):
        seed_variant(raw, str(path), 1)
    raw["vary"]["values"]["d_filters"] = {"expr": "(((d_size ** 64) ** 64) ** 64) ** 64"}  # 10**(3·64**4)
    started = time.monotonic()
    with pytest.raises(CnnCalcError, match="expression too complex: its values could reach 318,767,104 digits"):
        seed_variant(raw, str(path), 1)
    assert time.monotonic() - started < 2  # refused from its size, never computed: 0.001 s quiet
    raw["vary"]["values"]["d_filters"] = {"expr": "1 / (d_size - 1001)"}
    with pytest.raises(CnnCalcError, match="division by zero"):
        seed_variant(raw, str(path), 1)


def test_unsatisfiable_constraint_is_named_with_its_line(tmp_path, cli):
    text = TEXT.replace("feature_map: {integers: [-5, 40]", "feature_map: {integers: [1, 9]").replace(
        "  constraints:\n", "  tries: 30\n  constraints:\n")
    path = write(tmp_path, "never", text)
    line = text.splitlines().index("    - {some_but_not_all: {map: part_b, input: feature_map, layer: relu, equal: 0}}") + 1
    started = time.monotonic()
    code, _, err = cli("generate", str(path), "--seed", "1", "--out", str(tmp_path / "out"))
    assert code == 2 and re.match(rf"error: {re.escape(str(path))}:{line}: no variant met the constraints in 30 "
                                  r"tries; some_but_not_all failed in 2\d of them, last: 0 of 16 cells equal 0", err)
    assert time.monotonic() - started < 10  # a hang guard: 0.5 s quiet
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- generate: the folder it owns


def files_of(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def generate(cli, out, *extra, count=2):
    return cli("generate", str(WORKSHEET), "--seed", "4", "--count", str(count), "--out", str(out), *extra)


def test_generate_writes_a_manifest_of_what_it_wrote(tmp_path, cli):
    out = tmp_path / "out"
    code, _, err = generate(cli, out)
    assert code == 0, err
    manifest = json.loads((out / MANIFEST).read_text())
    written = files_of(out)
    assert sorted(manifest["files"]) == sorted(k for k in written if k != MANIFEST) == [
        "keys/index.csv", "keys/variant-4-0.json", "keys/variant-4-1.json",
        "sheets/variant-4-0.md", "sheets/variant-4-1.md"]
    for name, sha in manifest["files"].items():
        assert hashlib.sha256(written[name]).hexdigest() == sha
    # the key names the variant as index.csv does
    index = (out / "keys" / "index.csv").read_text().splitlines()
    key = json.loads((out / "keys" / "variant-4-1.json").read_text())
    assert index[2].split(",")[:2] == [key["student"], key["variant"]] == ["variant-4-1", key["variant"]]
    # the same run again is allowed, and changes nothing
    assert generate(cli, out)[0] == 0 and files_of(out) == written


def test_generate_refuses_a_folder_it_did_not_make(tmp_path, cli):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("lecture notes")
    code, _, err = generate(cli, out)
    assert code == 2 and f"error: {out}: the output folder is not empty and was not written by cnncalc generate" in err
    assert "--force" in err and files_of(out) == {"notes.txt": b"lecture notes"}
    code, _, err = generate(cli, out, "--force")
    assert code == 0, err
    assert (out / "notes.txt").read_text() == "lecture notes" and (out / "sheets" / "variant-4-1.md").exists()
    # with the manifest in place, the other files stay untouched by later runs
    assert generate(cli, out, count=1)[0] == 0 and (out / "notes.txt").read_text() == "lecture notes"


def test_generate_into_an_empty_or_new_folder(tmp_path, cli):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert generate(cli, empty)[0] == 0
    assert generate(cli, tmp_path / "new" / "deeper")[0] == 0


def test_generate_refuses_to_overwrite_an_edited_file(tmp_path, cli):
    out = tmp_path / "out"
    assert generate(cli, out)[0] == 0
    key = out / "keys" / "variant-4-0.json"
    key.write_text(key.read_text().replace('"answers"', '"answers_fixed_by_hand"'))
    before = files_of(out)
    code, _, err = generate(cli, out)
    assert code == 2 and "keys/variant-4-0.json (edited since generate wrote it)" in err and "--force" in err
    assert files_of(out) == before
    code, _, err = generate(cli, out, "--force")
    assert code == 0 and '"answers_fixed_by_hand"' not in key.read_text()


def test_generate_refuses_to_overwrite_a_file_it_never_wrote(tmp_path, cli):
    out = tmp_path / "out"
    assert generate(cli, out, count=1)[0] == 0
    planted = out / "sheets" / "variant-4-1.md"
    planted.write_text("my own sheet")
    code, _, err = generate(cli, out)
    assert code == 2 and "sheets/variant-4-1.md (not written by generate)" in err
    assert planted.read_text() == "my own sheet"


def test_generate_removes_stale_files_of_an_earlier_larger_run(tmp_path, cli):
    out = tmp_path / "out"
    assert generate(cli, out, count=3)[0] == 0
    (out / "keys" / "extra-notes.txt").write_text("mine")
    code, text, err = generate(cli, out, count=1)
    assert code == 0, err
    assert "removed 4 file(s) of an earlier run" in text
    assert sorted(files_of(out)) == [MANIFEST, "keys/extra-notes.txt", "keys/index.csv", "keys/variant-4-0.json",
                                     "sheets/variant-4-0.md"]
    assert len((out / "keys" / "index.csv").read_text().splitlines()) == 2


def test_a_stale_file_edited_since_is_never_removed(tmp_path, cli):
    out = tmp_path / "out"
    assert generate(cli, out, count=2)[0] == 0
    (out / "sheets" / "variant-4-1.md").write_text("annotated by hand")
    code, _, err = generate(cli, out, count=1)
    assert code == 2 and "sheets/variant-4-1.md (edited since; it would be removed as stale)" in err
    assert generate(cli, out, "--force", count=1)[0] == 0
    assert (out / "sheets" / "variant-4-1.md").read_text() == "annotated by hand"


def test_a_damaged_manifest_removes_nothing(tmp_path, cli):
    out = tmp_path / "out"
    assert generate(cli, out)[0] == 0
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    manifest = out / MANIFEST
    manifest.write_text(json.dumps({"files": {"../precious.txt": None, "sheets/../../precious.txt": None}}))
    code, _, err = generate(cli, out, count=1)
    assert code == 2 and "is damaged" in err
    assert generate(cli, out, "--force", count=1)[0] == 0
    assert outside.read_text() == "keep me" and (out / "sheets" / "variant-4-1.md").exists()  # unknown: kept


def test_generate_never_writes_through_a_link(tmp_path, cli):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "keys").symlink_to(elsewhere)
    code, _, err = generate(cli, out, "--force")
    assert code == 2 and "'keys' in the output folder is not a plain folder" in err
    assert list(elsewhere.iterdir()) == []


def test_out_that_is_a_file(tmp_path, cli):
    out = tmp_path / "out.txt"
    out.write_text("x")
    code, _, err = generate(cli, out)
    assert code == 2 and f"error: {out}: --out is a file, not a folder" in err and out.read_text() == "x"


def test_count_without_vary(tmp_path, cli):
    raw = yaml.safe_load(TEXT)
    del raw["vary"]
    path = tmp_path / "fixed.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    code, _, err = cli("generate", str(path), "--seed", "1", "--count", "2", "--out", str(tmp_path / "o"))
    assert code == 2 and "no 'vary:' section: all 2 variants would be the same" in err
    assert not (tmp_path / "o").exists()
    code, _, err = cli("generate", str(path), "--seed", "1", "--count", "1", "--out", str(tmp_path / "o"))
    assert code == 0, err
    code, _, err = cli("key", str(path), "--seed", "1")
    assert code == 2 and "no 'vary:' section: it has one variant, its own data" in err


def test_key_index_and_seed_bounds(cli, tmp_path, monkeypatch):
    assert MAX_VARIANTS == 100_000
    from cnncalc import cli as cli_module

    assert cli_module.MAX_VARIANTS == MAX_VARIANTS
    code, out, err = cli("key", str(WORKSHEET), "--seed", "1", "--index", str(MAX_VARIANTS - 1), "--format", "json")
    assert code == 0 and json.loads(out)["student"] == f"variant-1-{MAX_VARIANTS - 1}"
    code, _, err = cli("key", str(WORKSHEET), "--seed", "1", "--index", str(MAX_VARIANTS))
    assert code == 2 and "--index" in err
    code, _, err = cli("key", str(WORKSHEET), "--seed", str(2**63))
    assert code == 2 and "bad seed" in err
    code, _, err = cli("generate", str(WORKSHEET), "--seed", "1", "--count", str(MAX_VARIANTS + 1), "--out",
                       str(tmp_path / "o"))
    assert code == 2 and "--count" in err
    # a student in no roster is fine: a variant is derived from the secret and the id alone
    monkeypatch.setenv("CNNCALC_SECRET", "a course secret of more than sixteen bytes")
    code, out, err = cli("key", str(WORKSHEET), "--student", "nobody-in-any-roster", "--format", "json")
    assert code == 0 and json.loads(out)["student"] == "nobody-in-any-roster"


# ---------------------------------------------------------------- fuzz: mutate the worksheet


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["$b", "$x", "$nope", "part_a", "conv", "relu", "p"]))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(st.text(max_size=6), SCALARS, max_size=3))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:4]):
            yield from _paths(v, (*prefix, i))


BASE = yaml.safe_load(TEXT)
PATHS = [p for p in _paths(BASE) if p]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(["drop", "rename", "replace"]), VALUES),
                min_size=1, max_size=3), st.booleans())
def test_fuzz_mutated_worksheet(tmp_path, cli, edits, with_seed):
    import copy

    raw = copy.deepcopy(BASE)
    for path, action, value in edits:
        parent = raw
        try:
            for part in path[:-1]:
                parent = parent[part]
            last = path[-1]
            parent[last]
        except (KeyError, IndexError, TypeError):
            continue
        if action == "drop":
            del parent[last]
        elif action == "rename" and isinstance(parent, dict):
            parent[f"{last}x"] = parent.pop(last)
        else:
            parent[last] = value
    try:
        text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:
        return
    problem = tmp_path / "fuzz.yaml"
    problem.write_text(text)
    before = files_of(tmp_path)
    started = time.monotonic()
    args = ["key", str(problem)] + (["--seed", "2"] if with_seed else [])
    code, _, err = cli(*args)
    assert code in (0, 2), err
    assert "internal error" not in err and "Traceback" not in err
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err
    assert time.monotonic() - started < 20  # a hang guard: at most 0.4 s an example quiet
    assert files_of(tmp_path) == before
    os.remove(problem)


def test_a_link_in_place_of_a_sheet_is_replaced_not_followed(tmp_path, cli):
    out, target = tmp_path / "out", tmp_path / "target.txt"
    assert generate(cli, out)[0] == 0
    target.write_text("outside")
    sheet = out / "sheets" / "variant-4-0.md"
    sheet.unlink()
    sheet.symlink_to(target)
    code, _, err = generate(cli, out)
    assert code == 2 and "sheets/variant-4-0.md (edited since generate wrote it)" in err
    assert generate(cli, out, "--force")[0] == 0
    assert target.read_text() == "outside" and not sheet.is_symlink() and "Variant" in sheet.read_text()


def test_an_interrupted_run_can_be_run_again(tmp_path, cli):
    """The manifest is written before the first sheet, listing what the run will write: a run cut short
    leaves files that the next run may overwrite or remove without --force."""
    out = tmp_path / "out"
    assert generate(cli, out, count=3)[0] == 0
    manifest = out / MANIFEST
    document = json.loads(manifest.read_text())
    document["files"] = {name: None for name in document["files"]}  # as a run cut short leaves it
    manifest.write_text(json.dumps(document))
    (out / "sheets" / "variant-4-0.md").write_text("half written")
    code, _, err = generate(cli, out, count=2)
    assert code == 0, err
    assert "Variant" in (out / "sheets" / "variant-4-0.md").read_text()
    assert not (out / "sheets" / "variant-4-2.md").exists()
    assert all(json.loads(manifest.read_text())["files"].values())


def test_index_and_axes_length_cap():
    """`at` and `axes` hold at most 8 entries: 8 pass the format (and meet the shape), 9 do not."""
    raw = yaml.safe_load(TEXT)
    question = raw["parts"][0]["questions"][1]
    question["compute"]["at"] = [0] * problem_format.MAX_RANK
    with pytest.raises(CnnCalcError, match=r"'at' \[0, 0, 0, 0, 0, 0, 0, 0\] is outside the output"):
        seed_variant(raw, "w.yaml", 1)
    question["compute"]["at"] = [0] * (problem_format.MAX_RANK + 1)
    with pytest.raises(CnnCalcError, match="bad value for 'at'"):
        seed_variant(raw, "w.yaml", 1)


def test_integer_size_cap():
    """Numbers in a problem file are floats too: integers up to 10**18 are read, larger ones refused."""
    raw = yaml.safe_load(TEXT)
    raw["parts"][1]["questions"][0]["rtol"] = 10**18
    assert problem_format.build_problem(raw, "w.yaml").question("b.plot").rtol == 10**18
    raw["parts"][1]["questions"][0]["rtol"] = 10**18 + 1
    with pytest.raises(CnnCalcError, match="bad value for 'rtol'"):
        problem_format.build_problem(raw, "w.yaml")


def test_manifest_size_cap(tmp_path, cli):
    from cnncalc.exercises.generated import MAX_MANIFEST_BYTES

    out = tmp_path / "out"
    assert generate(cli, out)[0] == 0
    manifest = out / MANIFEST
    document = json.loads(manifest.read_text())
    text = json.dumps({**document, "note": ""})
    manifest.write_text(json.dumps({**document, "note": "x" * (MAX_MANIFEST_BYTES - len(text))}))
    assert manifest.stat().st_size == MAX_MANIFEST_BYTES
    assert generate(cli, out)[0] == 0
    manifest.write_text(json.dumps({**document, "note": "x" * (MAX_MANIFEST_BYTES + 1 - len(text))}))
    code, _, err = generate(cli, out)
    assert code == 2 and "is damaged" in err


def test_expression_size_cap():
    """An `expr` whose values could reach 4,000 digits is evaluated; 4,001 is refused before evaluating.

    The bound: a name stands for up to 19 digits, a power multiplies them, a product or a sum adds the
    digits of both sides plus one: a**64 → 1,216; three of them → 3,650; · a**18 → 3,993; + 100000 → 4,000."""
    from cnncalc.maths import expr

    raw = yaml.safe_load(TEXT)
    raw["vary"]["constraints"] = []
    raw["data"]["a"] = 1
    for tail, ok in (("100000", True), ("1000000", False)):
        text = f"a**64 * a**64 * a**64 * a**18 + {tail}"
        assert problem_format.expression_digits(expr.parse(text)) == (4000 if ok else 4001)
        raw["vary"]["values"]["d_filters"] = {"expr": text}
        if ok:
            assert seed_variant(raw, "w.yaml", 1).problem.data["d_filters"] == 100_001
        else:
            with pytest.raises(CnnCalcError, match="expression too complex: its values could reach 4,001 digits"):
                seed_variant(raw, "w.yaml", 1)
