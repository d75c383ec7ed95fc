"""`cnncalc practice`: generated questions are valid, keyed by the engine, calibrated by level and
reproducible; the terminal session is driven through standard input; sheets are written in every format."""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc.exercises.key import compute_key, key_answers
from cnncalc.exercises.practice import FEATURE_LEVEL, LEVELS, TEMPLATES, generate, level_of
from cnncalc.exercises.problem import build_problem
from cnncalc.exercises.service import practice


def answer_text(kind: str, value) -> str:
    """A key typed as a student types it."""
    if kind == "matrix":
        return "; ".join(" ".join(str(v) for v in row) for row in value)
    if kind == "shape":
        return "x".join(str(v) for v in value)
    if kind in ("pair", "sizes"):
        return ", ".join(str(v) for v in value)
    if kind in ("expression", "yesno"):
        return value
    return f"{value:,}"


@pytest.fixture(scope="module")
def level5():
    return generate(count=1000, level=5, seed=2024)


# ---------------------------------------------------------------- calibration


def test_level_one_never_uses_stride_padding_or_dilation():
    questions = generate(count=1000, level=1, seed=99)
    for q in questions:
        assert q.level == 1 and q.features == frozenset()
        for spec in q.problem.get("networks", {}).values():  # read from the spec itself, not from features_of
            for layer in spec["layers"]:
                assert layer["type"] == "conv"
                assert layer.get("stride", 1) == 1 and layer.get("padding", 0) == 0 and layer.get("dilation", 1) == 1
    assert {q.topic for q in questions} == {"shape", "params", "cells"}


def test_level_five_uses_every_feature_and_no_question_is_above_its_level(level5):
    used = set().union(*(q.features for q in level5))
    assert used == set(FEATURE_LEVEL)
    assert all(q.level == level_of(q.features) <= 5 for q in level5)
    assert sum(q.level == 5 for q in level5) > 300  # the level is reached, not merely allowed
    assert {q.topic for q in level5} == set(TEMPLATES)
    assert {q.key for q in level5 if q.topic == "valid"} == {"yes", "no"}  # a size that does not fit is asked too
    # the spec really holds what the features say: a stride, a padding and a dilation somewhere
    layers = [layer for q in level5 for spec in q.problem.get("networks", {}).values() for layer in spec["layers"]]
    assert any(layer.get("stride", 1) > 1 for layer in layers) and any(layer.get("dilation", 1) > 1 for layer in layers)
    assert any(layer.get("padding") == "same" for layer in layers)
    for q in level5:  # every dilated, strided or padded conv is seen as such, and the level follows
        for spec in q.problem.get("networks", {}).values():
            convs = [layer for layer in spec["layers"] if layer["type"] == "conv"]
            if any(layer.get("dilation", 1) > 1 for layer in convs):
                assert "dilation" in q.features and q.level >= 4, q.export()
            if any(layer.get("stride", 1) > 1 for layer in convs):
                assert "stride" in q.features, q.export()
            if any(layer.get("padding", 0) not in (0, "same") for layer in convs):
                assert "padding" in q.features, q.export()


def test_levels_in_between_stay_within_their_level():
    for level in (2, 3, 4):
        questions = generate(count=120, level=level, seed=level)
        assert max(q.level for q in questions) == level
        assert all(FEATURE_LEVEL[f] <= level for q in questions for f in q.features)


# ---------------------------------------------------------------- validity and keys


def _floor_size(n, layer):
    """An independent size rule (the course's formula, written again here)."""
    k, s, d = layer["kernel"], layer.get("stride", layer["kernel"] if "pool" in layer["type"] else 1), \
        layer.get("dilation", 1)
    p = layer.get("padding", 0)
    if layer["type"] == "conv_transpose":
        return (n - 1) * s - 2 * p + d * (k - 1) + layer.get("output_padding", 0) + 1
    if p == "same":
        return math.ceil(n / s)
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def test_keys_against_independent_rules(level5):
    checked = {"shape": 0, "params": 0, "cells": 0, "transpose": 0}
    for q in level5:
        networks = q.problem.get("networks", {})
        compute = q.problem["parts"][0]["questions"][0]["compute"]
        if q.topic == "shape":
            spec = networks["net"]
            n, channels = spec["input"][0], spec["input"][2]
            for layer in spec["layers"]:
                n = _floor_size(n, layer)
                channels = layer.get("filters", channels)
            assert q.key == [n, n, channels], q.export()
            checked["shape"] += 1
        elif q.topic == "params" and "layer" in compute:
            spec = networks["net"]
            channels = spec["input"][2]
            for layer in spec["layers"]:
                if layer["name"] == compute["layer"] and layer["type"] in ("conv", "conv_transpose"):
                    k, f = layer["kernel"], layer["filters"]
                    bias = 0 if layer.get("bias") is False else f
                    assert q.key == k * k * channels // layer.get("groups", 1) * f + bias, q.export()
                    checked["params"] += 1
                channels = layer.get("filters", channels)
        elif q.topic == "cells" and "dilation" not in networks["net"]["layers"][0]:
            data = q.problem["data"]
            x, w, b = np.array(data["x"]["matrix"]), np.array(data["w"]["filters_per_channel"][0]), data["b"]
            conv = networks["net"]["layers"][0]
            p, s, k = conv.get("padding", 0), conv.get("stride", 1), len(w)
            x = np.pad(x, p)
            out = [[sum(x[i * s + a, j * s + c] * w[a, c] for a in range(k) for c in range(k)) + b
                    for j in range((len(x) - k) // s + 1)] for i in range((len(x) - k) // s + 1)]
            if "cell" in compute:
                row, col, _ = compute["at"]
                assert q.key == out[row][col], q.export()
            elif compute["layer"] == "pool":  # ReLU, then 2×2 max pooling of stride 1
                relu = np.maximum(np.array(out), 0)
                assert q.key == [[int(relu[i:i + 2, j:j + 2].max()) for j in range(len(out) - 1)]
                                 for i in range(len(out) - 1)], q.export()
            else:
                assert q.key == out, q.export()
            checked["cells"] += 1
        elif q.topic == "transpose":
            v = compute["transpose"]
            layer = {"type": "conv_transpose", "kernel": v["f"], "stride": v["s"], "padding": v.get("p", 0),
                     "dilation": v.get("d", 1), "output_padding": v.get("output_padding", 0)}
            assert q.key == _floor_size(v["n"], layer)
            checked["transpose"] += 1
    assert all(count > 10 for count in checked.values()), checked


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**9), level=st.integers(1, 5), pick=st.integers(0, 100))
def test_every_question_is_valid_and_recomputes_from_its_exported_text(seed, level, pick):
    topics = [topic for topic, template in TEMPLATES.items() if template.level <= level]
    q = generate(count=1, level=level, topic=[topics[pick % len(topics)]], seed=seed)[0]
    problem = build_problem(yaml.safe_load(q.export()), "<exported>")  # every network validates
    assert key_answers(problem, compute_key(problem))["q"] == q.key
    if q.kind == "yesno":  # the one template whose answer is not a number: is it valid?
        assert q.topic == "valid" and q.key in ("yes", "no")
    elif q.kind == "expression":  # a size as an expression of the input size n
        assert q.topic == "formula" and "n" in q.key
    else:
        flat = np.asarray(q.key, dtype=object).ravel().tolist() if isinstance(q.key, list) else [q.key]
        assert flat and all(isinstance(v, int) and not isinstance(v, bool) for v in flat)  # whole, never empty
    assert q.grade(answer_text(q.kind, q.key)).status == "correct"
    assert q.level == level_of(q.features) <= level and q.hint and q.solution and q.prompt
    assert "= " not in q.hint.rsplit("; ", 1)[-1][-6:]  # the hint leaves its result to work out


def test_every_key_is_the_engines_on_200_questions_a_level():
    """The key computed when a question is drawn is the one compute_key reads from its problem, on every
    template and level (the property test above also goes through the exported YAML)."""
    topics = set()
    for level in LEVELS:
        for q in generate(count=200, level=level, seed=1000 + level):
            problem = build_problem(q.problem, "<practice>")
            assert key_answers(problem, compute_key(problem))["q"] == q.key, q.export()
            topics.add(q.topic)
    assert topics == set(TEMPLATES)


def test_the_same_seed_gives_the_same_questions():
    first = [q.as_dict() for q in generate(count=6, level=4, seed=31)]
    assert first == [q.as_dict() for q in generate(count=6, level=4, seed=31)]
    assert first[:3] == [q.as_dict() for q in generate(count=3, level=4, seed=31)]  # question i whatever the count
    assert first != [q.as_dict() for q in generate(count=6, level=4, seed=32)]


def test_a_slip_is_named_with_its_numbers():
    q = generate(count=1, level=2, topic=["shape"], seed=7)[0]
    assert q.setting == ["input: 64×64×1 (H×W×C)", "  conv1: conv, 6 filters 3×3, stride 1, padding 3"]
    assert q.key == [68, 68, 6] and q.level == 2 and q.features == {"padding"}  # ⌊(64 + 6 − 3)/1⌋ + 1
    assert q.hint.endswith("H: ⌊(64 + 2·3 − 3)/1⌋ + 1")
    result = q.grade("62x62x6")
    assert result.diagnosis.rule == "forgot_padding" and "⌊(64 − 3)/1⌋ + 1 = 62" in result.feedback
    assert q.grade("(68, 68, 6)").status == "correct" and q.grade("68 by 68").status == "invalid"


# ---------------------------------------------------------------- the terminal, through standard input


def _session(answers):
    return "".join(f"{a}\n" for a in answers)


def test_right_answers_piped_in_get_full_marks(cli_process):
    """The one session through a real pipe; the others run the library function the command calls."""
    questions = generate(count=6, level=5, seed=8)
    answers = [answer_text(q.kind, q.key) for q in questions]
    code, out, err = cli_process("practice", "--level", "5", "--seed", "8", "--count", "6", stdin=_session(answers))
    assert code == 0, err
    assert out.count("✓ right") == 6 and out.rstrip().endswith("score: 6 / 6")
    assert "practice: 6 question(s), level 5, seed 8" in out
    assert out == _practise(answers, count=6, level=5, seed=8)[0]  # what the in-process sessions show


def _practise(answers, **options):
    """A terminal session in-process, answers as if piped in: the text written and the score."""
    output = io.StringIO()
    score = practice(input=io.StringIO(_session(answers)), output=output, echo=True, **options)
    return output.getvalue(), score


def test_a_slip_bad_input_hint_and_the_end_of_input():
    questions = generate(count=3, level=2, topic=["shape"], seed=5)
    slip = next(c for c in questions[0].slips() if c.rule == "forgot_padding")
    typed = ["six", "", "?", answer_text("shape", slip.value), answer_text("shape", questions[1].key)]
    out, score = _practise(typed, count=3, level=2, topic=["shape"], seed=5)
    assert "cannot read that:" in out and "write it as [7, 7, 5], 7x7x5 or (7, 7, 5)" in out
    assert "hint: out = ⌊(n + 2p − d·(k − 1) − 1)/s⌋ + 1" in out
    assert "[forgot_padding]" in out and "worked solution:" in out
    assert out.rstrip().endswith("score: 1 / 2 (stopped after 2 of 3 questions)\nslips named: forgot_padding ×1")
    assert (score.asked, score.right, score.stopped) == (2, 1, True)
    out, score = _practise(["q"], seed=1)
    assert "score: 0 / 0 (stopped after 0 of 5 questions)" in out and score.asked == 0


def test_skip_shows_the_key_and_the_worked_solution():
    q = generate(count=1, level=4, topic=["transpose"], seed=3)[0]
    out, score = _practise(["skip"], count=1, level=4, topic=["transpose"], seed=3)
    assert f"skipped: the answer is {q.key}" in out and all(line in out for line in q.solution)
    assert out.rstrip().endswith("score: 0 / 1") and score.asked == 1


def test_usage_errors_are_one_line(cli):
    for args, said in ((["--topic", "rf"], "topic 'rf' starts at level 4"),
                       (["--topic", "shap"], "did you mean 'shape'"),
                       (["--sheet", "3"], "--sheet needs --output FILE"),
                       (["--sheet", "3", "-o", "x.pdf"], "unknown file type"),
                       (["-o", "x.html"], "--output goes with --sheet N")):
        code, _, err = cli("practice", *args)
        assert code == 2 and said in err and len(err.strip().splitlines()) == 1, (args, err)


# ---------------------------------------------------------------- sheets


def test_sheets_in_every_format(cli, tmp_path):
    questions = generate(count=4, level=3, seed=12)
    for fmt, name in (("markdown", "p.md"), ("latex", "p.tex"), ("html", "p.html")):
        code, out, err = cli("practice", "--sheet", "4", "--level", "3", "--seed", "12", "-f", fmt,
                             "-o", str(tmp_path / name))
        assert code == 0 and out == f"wrote {tmp_path / name}: 4 question(s), {fmt}\n", err
    md = (tmp_path / "p.md").read_text()
    assert md.index("## Answers") > md.index(questions[-1].prompt)
    assert all(line in md for q in questions for line in q.solution)
    tex = (tmp_path / "p.tex").read_text()
    assert tex.startswith(r"\documentclass{article}") and tex.rstrip().endswith(r"\end{document}")
    page = (tmp_path / "p.html").read_text()
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page).group(1)
    assert policy.replace("&#x27;", "'") == "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
    assert not re.search(r"<[a-z]+\s[^>]*\b(src|href|action)=", page) and "http" not in page.replace(
        'http-equiv', "")
    data = json.loads(re.search(r'<script type="application/json" id="practice-data">(.*?)</script>', page,
                                re.DOTALL).group(1))
    assert [data[q.id]["key"] for q in questions] == [q.key for q in questions]
    assert all({c["rule"] for c in data[q.id]["slips"]} == {c.rule for c in q.slips()} for q in questions)


def test_the_readme_screenshot_is_current():
    """README.md shows docs/images/practice.svg; regenerate it with `python docs/images/make.py`."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).parent.parent
    spec = importlib.util.spec_from_file_location("make_images", root / "docs" / "images" / "make.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    committed = root / "docs" / "images" / "practice.svg"
    assert make.practice_svg() == committed.read_text(encoding="utf-8"), "run python docs/images/make.py"
    assert "docs/images/practice.svg" in (root / "README.md").read_text(encoding="utf-8")
    assert "[forgot_padding]" in committed.read_text(encoding="utf-8")
