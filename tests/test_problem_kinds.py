"""The exercise kinds beyond the worksheet, through the CLI: several filters, 'same' padding pairs, receptive
fields, MACs, average pooling, true convolution vs cross-correlation, valid input sizes and transposed
convolutions — keys computed from the course's numbers, and the diagnoses of the usual wrong turns. Also the
feedback rules: decisive digits, channels first, integral floats, a missing student."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnncalc.spec import safeload

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = sorted((ROOT / "problems").glob("*.yaml"))
NEW = ["convolution-vs-correlation", "filter-bank", "dilated-separable", "same-padding-transpose"]


def key_of(cli, name: str) -> dict:
    code, out, err = cli("key", str(ROOT / "problems" / f"{name}.yaml"), "--format", "json")
    assert code == 0, err
    return json.loads(out)


def grade(cli, tmp_path, problem: str | Path, answers: dict, student: str = "s1") -> dict:
    path = tmp_path / f"{student}.json"
    path.write_text(json.dumps({"student": student, "answers": answers}))
    problem_path = problem if isinstance(problem, Path) else ROOT / "problems" / f"{problem}.yaml"
    code, out, err = cli("grade", str(problem_path), str(path), "--format", "json")
    assert code == 0, err
    return {q["id"]: q for q in json.loads(out)["results"][0]["questions"]}


def test_at_least_four_new_problems_ship():
    names = {p.stem for p in PROBLEMS}
    assert set(NEW) <= names


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_every_problem_key_grades_to_full_marks_through_the_cli(path, cli, tmp_path):
    code, out, err = cli("key", str(path), "--format", "json")
    assert code == 0, err
    answers = json.loads(out)["answers"]
    results = grade(cli, tmp_path, path, answers)
    auto = [q for q in results.values() if q["status"] != "manual"]
    assert auto and all(q["status"] == "correct" for q in auto), [q for q in auto if q["status"] != "correct"]


@pytest.mark.parametrize("path", [p for p in PROBLEMS if "vary" in safeload.load_file(p)], ids=lambda p: p.stem)
def test_every_varied_problem_generates(path, cli, tmp_path):
    code, _, err = cli("generate", str(path), "--seed", "5", "--count", "3", "--out", str(tmp_path / "out"))
    assert code == 0, err
    keys = sorted((tmp_path / "out" / "keys").glob("*.json"))
    assert len(keys) == 3 and len(list((tmp_path / "out" / "sheets").glob("*.md"))) == 3


# ---------------------------------------------------------------- convolution vs cross-correlation


def test_lecture_26_vs_34_and_the_sharpening_numbers(cli):
    answers = key_of(cli, "convolution-vs-correlation")["answers"]
    assert answers["flip.convolution"] == 26 and answers["flip.correlation"] == 34
    assert [answers[k] for k in ("sharpen.r2c2", "sharpen.r2c3", "sharpen.r2c1", "sharpen.r1c1")] == [89, 111, 210, 320]
    assert answers["sharpen.shape"] == [5, 5]


def test_flip_worked_solution_uses_the_flipped_kernel(cli):
    solutions = key_of(cli, "convolution-vs-correlation")["solutions"]["flip.convolution"]
    assert "(1·9 + 0·8 + 0·7 + 0·6 + 2·5 + 0·4 + 1·3 + 2·2 + 0·1) = 26" in solutions
    assert any("flipped filter (true convolution)" in line for line in solutions)


def test_flip_diagnoses(cli, tmp_path):
    results = grade(cli, tmp_path, "convolution-vs-correlation", {"flip.convolution": 34, "flip.correlation": 26})
    assert results["flip.convolution"]["feedback"] == (
        "expected 26, got 34 — that is cross-correlation (the kernel as given); a true convolution flips the kernel "
        "vertically and horizontally first [flip]")
    assert results["flip.correlation"]["feedback"].startswith(
        "expected 34, got 26 — that is a true convolution (kernel flipped)")


# ---------------------------------------------------------------- the notebook's filter bank


def literal_conv(x: np.ndarray, w: np.ndarray, bias: np.ndarray, pad: int) -> np.ndarray:
    """The notebook's batch_convolve, as loops."""
    xp = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    k, _, channels, filters = w.shape
    n = xp.shape[0] - k + 1
    out = np.zeros((n, n, filters))
    for o in range(filters):
        for i in range(n):
            for j in range(n):
                out[i, j, o] = bias[o] + sum(xp[i + a, j + b, c] * w[a, b, c, o]
                                             for a in range(k) for b in range(k) for c in range(channels))
    return out


def test_filter_bank_layout_and_average_pooling_against_a_literal_loop(cli):
    raw = safeload.load_file(ROOT / "problems" / "filter-bank.yaml")
    x = np.moveaxis(np.array(raw["data"]["image"]["channels"], dtype=float), 0, -1)
    bank = np.array(raw["data"]["bank"]["filters"], dtype=float)  # [F][C][k][k]
    w = np.zeros((3, 3, 3, 2))
    for f in range(2):
        for c in range(3):
            w[:, :, c, f] = bank[f][c]
    assert w[1, 1, 1, 0] == 8 and w[0, 0, 0, 1] == -2  # F[:, :, 1, 0] centre, F[:, :, 0, 1] corner
    conv = literal_conv(x, w, np.array([raw["data"]["b1"], raw["data"]["b2"]], dtype=float), 1)
    pooled = conv.reshape(2, 2, 2, 2, 2).mean(axis=(1, 3))
    answers = key_of(cli, "filter-bank")["answers"]
    assert answers["conv.shape"] == [4, 4, 2]
    assert answers["conv.f1"] == pytest.approx(conv[1, 1, 0]) and answers["conv.f1"] == 4.75
    assert answers["conv.f2"] == conv[0, 0, 1] == 11
    assert answers["conv.params"] == 3 * 3 * 3 * 2 + 2 == 56
    assert answers["conv.macs"] == 4 * 4 * 2 * 3 * 3 * 3 == 864
    assert np.allclose(answers["pool.map"], pooled[:, :, 1])


def test_filter_bank_sheet_titles_each_table_filter_and_channel(cli, tmp_path):
    code, _, err = cli("generate", str(ROOT / "problems" / "filter-bank.yaml"), "--seed", "1", "--out", str(tmp_path / "o"))
    assert code == 0, err
    sheet = next((tmp_path / "o" / "sheets").glob("*.md")).read_text()
    titles = [line for line in sheet.splitlines() if line.startswith("**Filter")]
    assert titles == [f"**Filter {f}, channel {c}**" for f in (1, 2) for c in (1, 2, 3)]


def test_average_pooling_diagnoses_max_pooling(cli, tmp_path):
    key = key_of(cli, "filter-bank")["answers"]
    raw = safeload.load_file(ROOT / "problems" / "filter-bank.yaml")
    x = np.moveaxis(np.array(raw["data"]["image"]["channels"], dtype=float), 0, -1)
    bank = np.array(raw["data"]["bank"]["filters"], dtype=float)
    w = np.transpose(bank, (2, 3, 1, 0))
    conv = literal_conv(x, w, np.array([0.0, 1.0]), 1)
    maxed = conv.reshape(2, 2, 2, 2, 2).max(axis=(1, 3))[:, :, 1]
    results = grade(cli, tmp_path, "filter-bank", {**key, "pool.map": maxed.tolist(), "conv.macs": 2 * 864,
                                                     "conv.params": 54})
    assert results["pool.map"]["feedback"].startswith(
        "0 of 4 cells correct — that is max pooling; this layer takes the mean of each window [max_for_avg]; wrong:")
    assert results["conv.macs"]["feedback"] == (
        "expected 864, got 1,728 — that is FLOPs (2·MACs); a MAC counts a multiply and its add once [flops_for_macs]")
    assert "the biases are not counted" in results["conv.params"]["feedback"]


# ---------------------------------------------------------------- dilated and separable


def test_dilated_and_separable_numbers(cli):
    answers = key_of(cli, "dilated-separable")["answers"]
    # slide 12: 15 × 15, 3 × 3 kernel, rate 2: effective kernel 3 + 2·1 = 5, output 15 − 5 + 1
    assert answers["dilated.shape"] == [11, 11]
    assert answers["dilated.rf"] == 5 and answers["stack.rf"] == 3 + 5 - 1
    assert answers["separable.params"] == 3 * 3 * 3 + 3 * 16 == 75
    assert answers["standard.params"] == 3 * 3 * 3 * 16 == 432
    assert answers["separable.macs"] == 10 * 10 * 3 * 9 + 10 * 10 * 3 * 16 == 7500
    assert answers["standard.macs"] == 10 * 10 * 16 * 27 == 43200


def test_receptive_field_and_macs_diagnoses(cli, tmp_path):
    key = key_of(cli, "dilated-separable")["answers"]
    results = grade(cli, tmp_path, "dilated-separable",
                    {**key, "dilated.rf": 3, "standard.macs": 10 * 10 * 16 * 9})
    assert results["dilated.rf"]["feedback"] == (
        "expected 5, got 3 — the dilation is left out: a dilated kernel spans d·(k − 1) + 1 pixels [dilation_ignored]")
    assert results["standard.macs"]["feedback"] == (
        "expected 43,200, got 14,400 — the input channels are left out: each output value sums over k·k·C inputs "
        "[no_input_channels]")


def test_receptive_field_jumps_diagnosis(cli, tmp_path):
    problem = tmp_path / "rf.yaml"
    problem.write_text("""id: rf
networks:
  net: {input: [32, 32, 3], layers: [{type: conv, name: c1, filters: 4, kernel: 3},
        {type: maxpool, name: p1, kernel: 2}, {type: conv, name: c2, filters: 4, kernel: 3}]}
parts:
  - id: a
    questions:
      - {id: rf, prompt: "Receptive field of c2 (conv 3, stride 1; max pool 2, stride 2; conv 3, stride 1)?",
         compute: {receptive_field: net, layer: c2}}
""")
    code, out, err = cli("key", str(problem), "--format", "json")
    assert code == 0, err
    # r: 3, then 3 + 1·1 = 4 (jump 2), then 4 + 2·2 = 8
    assert json.loads(out)["answers"]["rf"] == 8
    results = grade(cli, tmp_path, problem, {"rf": 6})
    assert results["rf"]["feedback"].startswith("expected 8, got 6 — the jumps are left out")


# ---------------------------------------------------------------- 'same' pairs, transposed conv, valid sizes


def test_same_pairs_transpose_and_sizes(cli):
    answers = key_of(cli, "same-padding-transpose")["answers"]
    assert answers["same.pads"] == [1, 2]             # f = 4: 3 in total, the odd pixel after
    assert answers["same.stride2"] == [0, 1]          # n = 224, f = 3, s = 2 (README: 0 and 1)
    assert answers["transpose.out"] == (7 - 1) * 2 - 2 * 1 + (3 - 1) + 1 + 1 == 14
    assert answers["transpose.n"] == 16               # (n − 1)·2 − 2 + 3 + 1 = 32
    assert answers["sizes.valid"] == list(range(12, 41))
    assert answers["sizes.exact"] == [12, 16, 20, 24, 28, 32, 36, 40]


def test_same_pair_transpose_and_sizes_diagnoses(cli, tmp_path):
    key = key_of(cli, "same-padding-transpose")["answers"]
    results = grade(cli, tmp_path, "same-padding-transpose", {
        **key, "same.pads": [2, 1], "transpose.out": 3, "sizes.valid": key["sizes.exact"],
        "sizes.exact": {"min": 12, "max": 40}})
    assert results["same.pads"]["feedback"] == (
        "expected [1, 2], got [2, 1] — before and after swapped: the odd pixel goes after (bottom/right), as "
        "TensorFlow pads [same_odd_side]")
    # ⌊(7 + 2 − 3)/2⌋ + 1 = 4 would be the direct convolution; 3 is nothing known
    assert results["transpose.out"]["feedback"] == "expected 14, got 3"
    assert results["sizes.valid"]["feedback"].startswith("expected n ∈ {12–40}; missing 13–15, 17–19")
    assert "those are the sizes where every division is exact" in results["sizes.valid"]["feedback"]
    assert "those are the sizes where every layer is valid" in results["sizes.exact"]["feedback"]
    again = grade(cli, tmp_path, "same-padding-transpose", {
        **key, "same.pads": [2, 2], "transpose.out": 4, "sizes.valid": {"min": 12, "max": 40}}, "s2")
    assert again["same.pads"]["feedback"] == ("expected [1, 2], got [2, 2] — p = f/2 = 2 on both sides pads one pixel too "
                                              "many [dropped_plus_one]")
    assert again["transpose.out"]["feedback"].startswith("expected 14, got 4 — that is the output of a direct convolution")
    assert again["sizes.valid"]["status"] == "correct"


def test_pairs_and_sizes_accept_integral_floats_and_refuse_fractions(cli, tmp_path):
    key = key_of(cli, "same-padding-transpose")["answers"]
    results = grade(cli, tmp_path, "same-padding-transpose",
                    {**key, "same.pads": [1.0, 2], "sizes.exact": [12.0, 16, 20, 24, 28, 32, 36, 40],
                     "sizes.valid": [12.5]})
    assert results["same.pads"]["status"] == "correct" and results["sizes.exact"]["status"] == "correct"
    assert results["sizes.valid"]["status"] == "invalid"
    assert "whole numbers" in results["sizes.valid"]["feedback"]


def test_a_sizes_question_over_too_many_sizes_is_refused(cli, tmp_path):
    problem = tmp_path / "big.yaml"
    problem.write_text("""id: big
networks:
  net: {input: [n, n, 3], layers: [{type: conv, name: c, filters: 4, kernel: 3}]}
parts:
  - id: a
    questions:
      - {id: s, compute: {sizes: net, min: 1, max: 1025}}
""")
    code, _, err = cli("key", str(problem))
    assert code == 2 and "at most 1,024 sizes" in err
    problem.write_text(problem.read_text().replace("1025", "1024"))
    code, out, err = cli("key", str(problem), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["answers"]["s"] == list(range(3, 1025))


# ---------------------------------------------------------------- feedback rules


WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"


def test_decisive_digits_and_the_exact_integer_rule(cli, tmp_path):
    key = key_of(cli, "cnn-layers-worksheet")["answers"]
    cell = key["a.col4_row4"]
    results = grade(cli, tmp_path, WORKSHEET, {**key, "a.col4_row4": cell + 1e-7, "c.total_params": 348.0000001})
    assert results["a.col4_row4"]["status"] == "incorrect"
    assert results["a.col4_row4"]["feedback"] == (
        f"expected {cell}, got {cell}.0000001 (an integer answer must be exact)")
    assert results["c.total_params"]["feedback"] == "348.0000001 is not a whole number; expected 348"


def test_tolerance_is_shown_for_a_near_miss(cli, tmp_path):
    key = key_of(cli, "pooling-flatten")["answers"]
    results = grade(cli, tmp_path, "pooling-flatten", {**key, "avg.first": key["avg.first"] + 0.1})
    assert results["avg.first"]["feedback"] == "expected 45.25, got 45.35 (accepted within ±0.045)"


def test_channels_first_and_swapped_rows_and_columns(cli, tmp_path):
    key = key_of(cli, "cs231n-volume")["answers"]
    assert key["out.shape"] == [3, 3, 2]
    results = grade(cli, tmp_path, "cs231n-volume", {**key, "out.shape": [2, 3, 3]})
    assert results["out.shape"]["feedback"] == (
        "expected [3, 3, 2], got [2, 3, 3] — channels first? the course writes [rows, columns, channels] "
        "[channels_first]")
    lenet = key_of(cli, "lenet-table")["answers"]
    assert lenet["CONV1.shape"] == [28, 28, 8]
    results = grade(cli, tmp_path, "lenet-table", {**lenet, "CONV1.shape": [8, 28, 28], "POOL1.shape": [14.0, 14, 8.0]})
    assert "channels first?" in results["CONV1.shape"]["feedback"]
    assert results["POOL1.shape"]["status"] == "correct"


def test_integral_floats_are_shapes_and_fractions_are_not(cli, tmp_path):
    key = key_of(cli, "cnn-layers-worksheet")["answers"]
    results = grade(cli, tmp_path, WORKSHEET, {**key, "a.shape": [4.0, 4]})
    assert results["a.shape"]["status"] == "correct"
    results = grade(cli, tmp_path, WORKSHEET, {**key, "a.shape": [4.5, 4]})
    assert results["a.shape"]["status"] == "invalid"
    assert results["a.shape"]["feedback"] == "expected whole numbers, e.g. [7, 7, 5], 7x7x5 or (7, 7, 5)"


def test_a_missing_student_field_says_so(cli, tmp_path):
    path = tmp_path / "anon.yaml"
    path.write_text("answers:\n  a.shape: [4, 4]\n")
    code, out, _ = cli("grade", str(WORKSHEET), str(path), "--format", "json")
    assert code == 2  # the only file could not be graded
    result = json.loads(out)["results"][0]
    assert "no 'student:' field: an answer file must say whose answers it holds" in result["error"]
    assert 'add a line student: "YOUR ID"' in result["error"]
    assert all(q["feedback"].startswith("not graded: ") and "no 'student:' field" in q["feedback"]
               for q in result["questions"])


def test_sizes_found_only_past_the_first_block_of_256(cli, monkeypatch):
    from cnncalc.exercises import key

    monkeypatch.setattr(key, "_SIZES", {})  # searched now, not remembered from an earlier test
    problem = ROOT / "tests" / "data" / "late-sizes.yaml"
    code, out, err = cli("key", str(problem), "--format", "json")
    assert code == 0, err
    # kernel 300, stride 100, exact: n − 300 divisible by 100; nothing in the first block 1 … 256
    assert json.loads(out)["answers"]["s"] == [300, 400, 500, 600]
    monkeypatch.setattr(key, "_SIZES", {})
    code, out, err = cli("key", str(problem))
    assert code == 0, err
    assert "tried n = 1 … 600: every layer is valid and every division is exact" in out
