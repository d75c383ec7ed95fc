"""`cnncalc check PROBLEM`: structure and semantics checked, the key printed with its working, and a warning
for every setting a question uses that the sheet does not show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = sorted((ROOT / "problems").glob("*.yaml"))

# the exercise: a 5×5×2 input, two 2×2 filters, stride 1, padding 1, ReLU, max pool — with prompts
# that say nothing of the bias, the stride, the padding or the pooling window
SILENT = """id: two-filters
data:
  x: {channels: [[[1, 0, 2, 1, 0], [0, 1, 1, 0, 2], [2, 0, 1, 1, 0], [1, 1, 0, 2, 1], [0, 2, 1, 0, 1]],
                 [[0, 1, 0, 1, 1], [1, 0, 2, 0, 0], [0, 1, 1, 2, 1], [2, 0, 0, 1, 0], [1, 1, 0, 0, 2]]]}
  w: {filters: [[[[1, 0], [0, -1]], [[0, 1], [1, 0]]], [[[2, 0], [0, 0]], [[-1, 1], [0, 1]]]]}
  b1: 3
networks:
  net:
    input: [5, 5, 2]
    layers:
      - {type: conv, name: conv, filters: 2, kernel: 2, stride: 1, padding: 1, weight: $w, bias: [$b1, -1]}
      - {type: relu, name: relu}
      - {type: maxpool, name: pool, kernel: 2, stride: 2}
parts:
  - id: a
    prompt: PROMPT
    questions:
      - {id: a.shape, prompt: "Shape of the convolution's output.", compute: {shape: net, layer: conv}}
      - {id: a.cell, prompt: "Its value at row 1, column 1, filter 1.", compute: {cell: net, input: x, layer: conv, at: [0, 0, 0]}}
      - {id: a.pool, prompt: "Shape after the pooling layer.", compute: {shape: net, layer: pool}}
"""

TAIL = "which the sheet does not show: not in the instructions, the part's prompt or the question's, nor in a data table"
WARNINGS = [f"question '{q}' uses the {what} of layer '{layer}' (network 'net', {setting}), {TAIL}" for q, what, layer, setting in [
    ("a.shape", "stride", "conv", "stride: 1"),
    ("a.shape", "padding", "conv", "padding: 1"),
    ("a.cell", "stride", "conv", "stride: 1"),
    ("a.cell", "padding", "conv", "padding: 1"),
    ("a.cell", "bias", "conv", "bias: [3, -1]"),
    ("a.pool", "stride", "conv", "stride: 1"),
    ("a.pool", "padding", "conv", "padding: 1"),
    ("a.pool", "pooling size", "pool", "kernel: 2"),
    ("a.pool", "pooling stride", "pool", "stride: 2"),
]]


def write(tmp_path: Path, prompt: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(SILENT.replace("PROMPT", json.dumps(prompt)))
    return path


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_every_shipped_problem_checks_clean_even_strictly(path, cli):
    code, out, err = cli("check", str(path), "--strict")
    assert code == 0, err
    assert out.rstrip().endswith("ok, no warnings") and "warning:" not in err


def test_a_silent_sheet_gets_every_warning_and_exit_0(cli, tmp_path):
    path = write(tmp_path, "Two filters slide over the input (tables above).")
    code, out, err = cli("check", str(path))
    assert code == 0
    assert [line[len("warning: "):] for line in err.splitlines()] == WARNINGS
    assert out.rstrip().endswith("ok, 9 warning(s)")


def test_strict_makes_warnings_exit_2(cli, tmp_path):
    path = write(tmp_path, "Two filters slide over the input (tables above).")
    code, _, err = cli("check", str(path), "--strict")
    assert code == 2 and err.count("warning: ") == 9


def test_a_sheet_that_says_everything_checks_clean(cli, tmp_path):
    path = write(tmp_path, "Two 2 × 2 filters, stride s = 1, padding p = 1, biases b = ${b1} and -1; then ReLU and "
                           "max pooling with a 2 × 2 window and stride 2.")
    code, out, err = cli("check", str(path), "--strict")
    assert code == 0, err
    assert "ok, no warnings" in out


def test_a_value_that_differs_from_the_prompt_is_a_warning(cli, tmp_path):
    # the prompt says stride 2 where the convolution strides by 1 (a 1 elsewhere in the text does not count)
    path = write(tmp_path, "Two 2 × 2 filters, stride s = 2, padding p = 1, biases b = ${b1} and -1; then ReLU and "
                           "max pooling with a 2 × 2 window and stride 2.")
    code, out, _ = cli("check", str(path), "--format", "json")
    assert code == 0
    assert json.loads(out)["warnings"] == [w for w in WARNINGS if "the stride of layer 'conv'" in w]
    assert len(json.loads(out)["warnings"]) == 3


def test_check_prints_the_key_with_its_working(cli, tmp_path):
    path = write(tmp_path, "Two filters.")
    code, out, _ = cli("check", str(path), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["answers"]["a.shape"] == [6, 6, 2]      # ⌊(5 + 2 − 2)/1⌋ + 1 = 6
    assert data["answers"]["a.pool"] == [3, 3, 2]
    # row 1, column 1 reads the padded corner: only x[0, 0] under w[1, 1]: 1·(−1) + 0·0 + 3 = 2
    assert data["answers"]["a.cell"] == 2
    assert data["questions"] == 3 and data["varies"] is False
    code, text, _ = cli("check", str(path))
    assert "a.shape: [6, 6, 2]\n    H: ⌊(5 + 2·1 − 2)/1⌋ + 1 = 6" in text


def test_a_broken_file_is_an_error(cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SILENT.replace("PROMPT", "x").replace("layer: pool}", "layer: pool2}"))
    code, _, err = cli("check", str(path))
    assert code == 2
    assert "network 'net' has no layer 'pool2'" in err and "did you mean 'pool'" in err
    path.write_text(SILENT.replace("PROMPT", "x").replace("compute: {shape: net, layer: conv}",
                                                          "compute: {shap: net, layer: conv}"))
    code, _, err = cli("check", str(path))
    assert code == 2 and "unknown compute 'shap'" in err


def test_constraints_that_cannot_be_met_are_an_error(cli, tmp_path):
    path = tmp_path / "never.yaml"
    path.write_text(SILENT.replace("PROMPT", "x") + """vary:
  values:
    x: {integers: [5, 5], shape: [5, 5, 2]}
  constraints:
    - {integer: {solve: {f: 4, same: true}, for: p}}
  tries: 3
""")
    code, _, err = cli("check", str(path))
    assert code == 2 and "no variant met the constraints in 3 tries" in err


def test_the_problem_format_page_is_generated_from_the_schema():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "docs" / "make_problem_format.py"), "--check"],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_key_of_the_format_has_a_type_a_default_and_an_example_on_the_page():
    from cnncalc.exercises.problem import DATA_LAYOUTS, KINDS, example_of, reference_sections

    page = (ROOT / "docs" / "problem-format.md").read_text(encoding="utf-8")
    for section in reference_sections():
        assert f"### {section.title}" in page
        for key in section.keys:
            example = example_of(section, key)
            assert example, (section.title, key.name)
            assert f"| `{key.name}` | {key.type.expected.replace('|', chr(92) + '|')} |" in page
    for layout in DATA_LAYOUTS:
        assert f"| `{layout}` |" in page
    for kind in KINDS:
        assert f"| `{kind}` |" in page


@pytest.mark.parametrize("content", ["id: [unclosed\n", "- a list\n", "id: x\nparts: []\n", "!!python/object:os.system x\n"])
def test_bad_files_end_in_one_line_and_exit_2(cli, tmp_path, content):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    code, out, err = cli("check", str(path))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_a_missing_file_and_a_folder_are_refused(cli, tmp_path):
    for target in (tmp_path / "nope.yaml", tmp_path):
        code, _, err = cli("check", str(target))
        assert code == 2 and err.startswith("error: ")
