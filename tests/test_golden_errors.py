"""Error messages as users read them, pinned whole: the line, the file and line number, the layer, the field,
what was given and what was expected.

Each case writes its files into an empty folder, runs one command there and compares the single line on
standard error with tests/golden/errors.txt (`id<TAB>message`). After an intended change, regenerate with
``CNNCALC_REGEN=1 pytest tests/test_golden_errors.py`` and read the diff: every line is a message someone
will get.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden" / "errors.txt"
WORKSHEET = str(Path(__file__).resolve().parent.parent / "problems" / "cnn-layers-worksheet.yaml")


def _spec(layers: str, shape: str = "[8, 8, 4]") -> dict[str, str]:
    return {"s.yaml": f"input: {shape}\nlayers:\n{layers}"}


SUMMARY = ["summary", "s.yaml"]
ANSWERS = {"answers/alice.json": json.dumps({"student": "alice", "answers": {"d.padding": 3}})}

CASES: dict[str, tuple[dict[str, str], list[str]]] = {
    # attention
    "attention-four-inputs": (_spec("  - {type: dense, name: a, units: 4}\n"
                                    "  - {type: attention, name: att, heads: 2, inputs: [a, a, a, a]}\n",
                                    "[5, 8]"), SUMMARY),
    "attention-one-axis": (_spec("  - {type: attention, name: att, heads: 2}\n", "[8]"), SUMMARY),
    "attention-key-value-tokens": (_spec("  - {type: slice, name: few, axis: 0, stop: 3}\n"
                                         "  - {type: attention, name: att, heads: 2, inputs: [input, input, few]}\n",
                                         "[5, 8]"), SUMMARY),
    "attention-heads-divide": (_spec("  - {type: attention, name: att, heads: 3}\n", "[5, 8]"), SUMMARY),
    # field parsers
    "layernorm-axis-text": (_spec("  - {type: layernorm, name: ln, axis: last}\n"), SUMMARY),
    "layernorm-axis-repeated": (_spec("  - {type: layernorm, name: ln, axis: [0, 0]}\n"), SUMMARY),
    "prelu-alpha-choice": (_spec("  - {type: prelu, name: p, alpha: every}\n"), SUMMARY),
    "upsample-size-four-axes": (_spec("  - {type: upsample, name: up, size: [2, 2, 2, 2]}\n"), SUMMARY),
    "upsample-scale-and-size": (_spec("  - {type: upsample, name: up, scale: 2, size: [16, 16]}\n"), SUMMARY),
    "conv-kernel-zero": (_spec("  - {type: conv, name: c, filters: 2, kernel: [3, 0]}\n"), SUMMARY),
    # shapes
    "transpose-same-short-kernel": (_spec("  - {type: conv_transpose, name: up, filters: 2, kernel: 1, stride: 2, "
                                          "padding: same}\n"), SUMMARY),
    "transpose-output-padding": (_spec("  - {type: conv_transpose, name: up, filters: 2, kernel: 3, stride: 2, "
                                       "output_padding: 2}\n"), SUMMARY),
    "slice-start-out-of-range": (_spec("  - {type: slice, name: s, axis: 0, start: 9}\n"), SUMMARY),
    "slice-stop-out-of-range": (_spec("  - {type: slice, name: s, axis: 1, start: 0, stop: -10}\n"), SUMMARY),
    "permute-out-of-range": (_spec("  - {type: permute, name: p, axes: [0, 1, 3]}\n"), SUMMARY),
    "permute-repeated": (_spec("  - {type: permute, name: p, axes: [0, -3, 2]}\n"), SUMMARY),
    "crop-too-much": (_spec("  - {type: crop, name: c, cropping: [[4, 4], [0, 0]]}\n"), SUMMARY),
    "crop-bad-form": (_spec("  - {type: crop, name: c, cropping: [[1, 2, 3], [0, 0]]}\n"), SUMMARY),
    "crop-axes-count": (_spec("  - {type: crop, name: c, cropping: [[1, 1], [1, 1], [1, 1]]}\n"), SUMMARY),
    "subtract-three-inputs": (_spec("  - {type: relu, name: r}\n  - {type: subtract, name: d, inputs: [input, r, r]}\n"),
                              SUMMARY),
    "class-token-rank": (_spec("  - {type: class_token, name: cls}\n"), SUMMARY),
    "conv1d-on-an-image": (_spec("  - {type: conv1d, name: c, filters: 2, kernel: 3}\n"), SUMMARY),
    "pool-on-a-vector": (_spec("  - {type: maxpool, name: p, kernel: 2}\n", "[8]"), SUMMARY),
    "groupnorm-groups": (_spec("  - {type: groupnorm, name: g, groups: 3}\n"), SUMMARY),
    "channel-shuffle-groups": (_spec("  - {type: channel_shuffle, name: s, groups: 3}\n"), SUMMARY),
    "merge-shapes": (_spec("  - {type: conv, name: c, filters: 2, kernel: 3}\n"
                           "  - {type: add, name: a, inputs: [c, input]}\n"), SUMMARY),
    # YAML
    "merge-key-scalar": ({"s.yaml": "input: [8, 8, 4]\nlayers:\n  - <<: 3\n    type: relu\n"}, SUMMARY),
    "too-many-values": ({"s.yaml": "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, "
                                   "*a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, "
                                   "*c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, "
                                   "*e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"}, SUMMARY),
    "unknown-alias": ({"s.yaml": "input: [8, 8, 4]\nlayers:\n  - *nowhere\n"}, SUMMARY),
    "tag": ({"s.yaml": "input: !!python/tuple [8, 8, 4]\nlayers: []\n"}, SUMMARY),
    # run
    "embedding-ids": ({**_spec("  - {type: embedding, name: e, vocab: 5, dim: 2}\n", "[3]"),
                       "x.json": "[1, 2.5, 3]"}, ["run", "s.yaml", "--input", "x.json", "--seed", "0"]),
    "embedding-ids-range": ({**_spec("  - {type: embedding, name: e, vocab: 5, dim: 2}\n", "[3]"),
                             "x.json": "[1, 5, 3]"}, ["run", "s.yaml", "--input", "x.json", "--seed", "0"]),
    # grading outputs
    "feedback-dir-is-a-file": ({**ANSWERS, "fb": "x"}, ["grade", WORKSHEET, "answers", "--feedback-dir", "fb"]),
    "feedback-dir-under-a-file": ({**ANSWERS, "fb": "x"}, ["grade", WORKSHEET, "answers", "--feedback-dir",
                                                            "fb/sub"]),
    "gradebook-under-a-file": ({**ANSWERS, "fb": "x"}, ["grade", WORKSHEET, "answers", "--gradebook", "fb/g.csv"]),
    "override-out-of-range": ({**ANSWERS, "o.yaml": "overrides:\n  - {student: alice, question: d.padding, "
                                                    "score: 0.5}\n"},
                              ["grade", WORKSHEET, "answers", "--overrides", "o.yaml"]),
    "override-student-number": ({**ANSWERS, "o.yaml": "overrides:\n  - {student: 0012345, question: d.padding, "
                                                      "score: 0}\n"},
                                ["grade", WORKSHEET, "answers", "--overrides", "o.yaml"]),
    "generate-into-a-file": ({"out": "x"}, ["generate", WORKSHEET, "--out", "out", "--seed", "1"]),
}


def _golden() -> dict[str, str]:
    if not GOLDEN.exists():
        return {}
    lines = GOLDEN.read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in lines if line and not line.startswith("#"))


def _run(cli, tmp_path: Path, monkeypatch, case: str) -> str:
    files, args = CASES[case]
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*args)
    assert code == 2, (case, code, err)
    assert err.endswith("\n") and err.count("\n") == 1, (case, err)
    return err.rstrip("\n")


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_message(cli, tmp_path, monkeypatch, case):
    message = _run(cli, tmp_path, monkeypatch, case)
    if os.environ.get("CNNCALC_REGEN"):
        pytest.skip("regenerating")
    golden = _golden()
    assert case in golden, f"no golden message for {case}; run with CNNCALC_REGEN=1"
    assert message == golden[case]


def test_regenerate_golden_messages(cli, tmp_path_factory, monkeypatch):
    if not os.environ.get("CNNCALC_REGEN"):
        assert sorted(_golden()) == sorted(CASES), "tests/golden/errors.txt and CASES differ: regenerate"
        return
    lines = ["# id<TAB>the one line on standard error (exit code 2); see tests/test_golden_errors.py"]
    for case in sorted(CASES):
        with monkeypatch.context() as patch:
            lines.append(f"{case}\t{_run(cli, tmp_path_factory.mktemp(case), patch, case)}")
    GOLDEN.write_text("\n".join(lines) + "\n", encoding="utf-8")
