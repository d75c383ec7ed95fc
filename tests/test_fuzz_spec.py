"""Property-based fuzzing of spec files through `summary` and `validate`.

Whatever the text (mutated built-in specs, random nesting, every kind of YAML scalar, random values in
real layer fields), the CLI ends with exit 0 or 2, never an internal error, within a bounded time, and
writes nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.layers import LAYER_TYPES
from cnncalc.spec.network import ZOO_DIR, zoo_names

SECONDS_PER_CASE = 10.0  # a hang guard: at most 0.3 s a case quiet
# CNNCALC_FUZZ_EXAMPLES=2000 for a longer hunt
FUZZ = settings(max_examples=int(os.environ.get("CNNCALC_FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# every kind of YAML scalar, including the ones YAML 1.1 reads as something other than a string
SCALARS = [
    "~", "null", "Null", "true", "yes", "No", "on", "OFF", "y", "0", "-0", "+1", "3", "017", "019", "0x1F", "0b101",
    "1:30", "1:30:00", "-1:00", "1_000", "1__0", "0.5", "1.", ".5", "1.5e+3", "1e3", "1.0e+400", ".inf", "-.Inf",
    ".nan", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "!!binary aGVsbG8=", "!!binary '!!'", '"quoted"',
    "'single'", '"\\x1b[2J"', '"a\\nb"', '"\\u202e"', "!!str 3", '!!int "3"', '!!int "x"', "!!float 1",
    "!!float nope", "!!null ''", "!!bool maybe", "!!timestamp 2001-01-01", "!!timestamp nope", "!!set {a}",
    "!!omap [a: 1]", "!foo x", "!!python/object:os.system x", "*undefined", "=", "<<", "'<<'", "same", "valid",
    "full", "relu", "input", "$x", "${1 + 1}", "${", "[]", "{}", "[[]]", "0x" + "f" * 3500, "9" * 4001,
    "1" + ":59" * 2000, "x" * 3000,
]
scalar = st.sampled_from(SCALARS)


def nest(depth: int, leaf: str, flow: bool) -> str:
    if flow:
        return "[" * depth + leaf + "]" * depth
    return "{a: " * depth + leaf + "}" * depth


values = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]")
    | st.dictionaries(st.sampled_from(["a", "b", "<<", "kernel", "1", "~"]), inner, max_size=3).map(
        lambda items: "{" + ", ".join(f"{k}: {v}" for k, v in items.items()) + "}"),
    max_leaves=8,
) | st.builds(nest, st.integers(60, 70), scalar, st.booleans())

TYPES = sorted(LAYER_TYPES)
FIELDS = sorted({name for cls in LAYER_TYPES.values() for name in cls.fields} | {"name", "inputs", "when",
                                                                                    "repeat", "first", "block"})


@st.composite
def random_layer(draw) -> str:
    kind = draw(st.sampled_from(TYPES))
    own = sorted(LAYER_TYPES[kind].fields)
    names = draw(st.lists(st.sampled_from(own + FIELDS) if own else st.sampled_from(FIELDS), max_size=4,
                          unique=True))
    parts = [f"type: {kind}"] + [f"{name}: {draw(values)}" for name in names]
    return "{" + ", ".join(parts) + "}"


@st.composite
def random_spec(draw) -> str:
    shape = draw(st.sampled_from(["[16, 16, 3]", "[12]", "[n, n, 3]", "[8, 8, 1]"]))
    layers = draw(st.lists(random_layer(), min_size=1, max_size=5))
    text = f"input: {shape}\n"
    if draw(st.booleans()):
        body = draw(st.lists(random_layer(), min_size=1, max_size=3))
        text += "blocks:\n  b:\n    params: {x: 1, use: false}\n    layers:\n"
        text += "".join(f"      - {layer}\n" for layer in body)
        layers.append(f"{{block: b, repeat: {draw(st.sampled_from(['1', '3', '10000', '.inf', 'x']))}}}")
    return text + "layers:\n" + "".join(f"  - {layer}\n" for layer in layers)


ZOO_TEXTS = {name: (ZOO_DIR / f"{name}.yaml").read_text() for name in zoo_names()}
NOISE = ["[", "]", "{", "}", ": ", "- ", "&a ", "*a", "<<: *a", "!!", "'", '"', "\t", "\n", "#", "---\n", "...",
         "%YAML 1.1\n", "? ", "|", ">", "${", "$", "\x00", "\x1b", "\u2028", "\ufeff", "é", "名前"]


@st.composite
def mutated_zoo(draw) -> str:
    text = ZOO_TEXTS[draw(st.sampled_from(sorted(ZOO_TEXTS)))]
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "scalar"]))
        at = draw(st.integers(0, len(text)))
        if operation == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif operation == "insert":
            text = text[:at] + draw(st.sampled_from(NOISE)) + text[at:]
        elif operation == "duplicate":
            lines = text.splitlines(keepends=True)
            line = draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[:line + 1] + [lines[line]] * draw(st.integers(1, 3)) + lines[line + 1:])
        else:  # a token replaced by a random scalar or value
            end = at
            while end < len(text) and text[end] not in " ,:[]{}\n":
                end += 1
            text = text[:at] + draw(values if operation == "scalar" else scalar) + text[end:]
    return text


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def run_spec(workdir: Path, text: str, command: str) -> None:
    """The spec through the CLI: exit 0 or 2, no internal error, in bounded time, nothing written."""
    path = workdir / "spec.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    before = sorted(os.listdir(workdir))
    zoo_before = {p.name: p.stat().st_mtime_ns for p in ZOO_DIR.iterdir()}
    start = time.perf_counter()
    args = [command, str(path)] + (["--format", "json"] if command == "summary" and len(text) % 2 else [])
    result = CliRunner().invoke(app, args)
    elapsed = time.perf_counter() - start
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"internal error on {text[:300]!r}") from result.exception
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr[-500:], text[:300])
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr[:500]
        assert len(result.stderr) < 2000
    assert elapsed < SECONDS_PER_CASE, (elapsed, text[:300])
    assert sorted(os.listdir(workdir)) == before
    assert {p.name: p.stat().st_mtime_ns for p in ZOO_DIR.iterdir()} == zoo_before


@FUZZ
@given(text=mutated_zoo(), command=st.sampled_from(["summary", "validate"]))
def test_mutated_zoo_specs(workdir, text, command):
    run_spec(workdir, text, command)


@FUZZ
@given(text=random_spec(), command=st.sampled_from(["summary", "validate"]))
def test_random_field_values(workdir, text, command):
    run_spec(workdir, text, command)


@FUZZ
@given(document=values, command=st.sampled_from(["summary", "validate"]))
def test_random_documents(workdir, document, command):
    run_spec(workdir, document, command)
    run_spec(workdir, f"input: {document}\nlayers: {document}\n", command)


@settings(max_examples=40, deadline=None)
@given(scalar_text=scalar, field=st.sampled_from(["filters", "kernel", "stride", "padding", "dilation", "groups",
                                                   "bias", "activation", "name", "inputs"]))
def test_every_scalar_in_every_conv_field(workdir, scalar_text, field):
    extra = {"filters": ", kernel: 3", "kernel": ", filters: 4"}.get(field, ", filters: 4, kernel: 3")
    run_spec(workdir, f"input: [16, 16, 3]\nlayers:\n  - {{type: conv, {field}: {scalar_text}{extra}}}\n", "summary")
