"""Hostile specs and YAML: one test per root cause, plus a test just inside and just outside every cap.

Every input is generated here, at test time. Each refusal must be exit 2 with the fragment of the message
a user needs; crashes (a signal), hangs and tracebacks are caught by the ``cli_process`` fixture.
"""

from __future__ import annotations

import os
import sys
import time

import pytest

from cnncalc import CnnCalcError, loads_spec
from cnncalc.errors import MAX_SHOWN, clip, show
from cnncalc.layers.base import MAX_INT
from cnncalc.spec import blocks, safeload
from cnncalc.spec.blocks import MAX_EXPANDED_VALUES, MAX_LAYERS, MAX_NAME, MAX_REPEAT, expand_layers
from cnncalc.spec.safeload import MAX_BYTES, MAX_DEPTH, MAX_INT_DIGITS, MAX_NUMBER_TEXT, MAX_VALUES

HEAD = "input: [8, 8, 3]\nlayers:\n"


def refused(text: str, fragment: str) -> str:
    with pytest.raises(CnnCalcError) as info:
        loads_spec(text)
    message = str(info.value)
    assert fragment in message, message
    return message


def cli_refuses(cli, tmp_path, text: str, *fragments: str, command: str = "summary") -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    code, _, err = cli(command, str(path))
    assert code == 2, err
    for fragment in fragments:
        assert fragment in err, err
    assert err.count("\n") == 1, err  # one line: nothing the input holds can forge another
    assert len(err) < 6 * MAX_SHOWN, err[:300]
    return err


# ---------------------------------------------------------------- root cause 1: nesting before composing

DEEP = 60_000
DEEP_DOCUMENTS = {
    "flow-lists": "[" * DEEP + "]" * DEEP,
    "flow-mappings": "{a: " * DEEP + "1" + "}" * DEEP,
    "block-sequences": "- " * DEEP + "x\n",
    "json-objects": '{"a": ' * DEEP + "1" + "}" * DEEP,
}


@pytest.mark.parametrize("kind", sorted(DEEP_DOCUMENTS))
def test_deep_nesting_is_refused_in_process(kind):
    with pytest.raises(CnnCalcError, match=f"nesting deeper than {MAX_DEPTH} levels"):
        safeload.loads(DEEP_DOCUMENTS[kind])


@pytest.mark.parametrize("kind", ["flow-lists", "flow-mappings", "block-sequences"])
def test_deep_nesting_spec_does_not_crash_the_process(tmp_path, cli_process, kind):
    text = HEAD + "  - {type: conv, filters: 8, kernel: " + DEEP_DOCUMENTS[kind].strip() + "}\n" \
        if kind == "flow-lists" else DEEP_DOCUMENTS[kind]
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    assert len(text) >= 100_000
    for command in ("summary", "validate"):
        code, _, err = cli_process(command, str(path), timeout=60)
        assert code == 2 and "nesting deeper than 64 levels" in err, err


def test_deep_block_mappings_by_indentation():
    # indentation costs bytes, so 8 MB holds only ~2,900 levels: still far past the cap
    text = "".join(" " * i + "a:\n" for i in range(300)) + " " * 300 + "1\n"
    with pytest.raises(CnnCalcError, match="nesting deeper"):
        safeload.loads(text)


def test_deep_nesting_through_every_reader(tmp_path):
    # load_file is what problems, answers, overrides and run inputs go through
    path = tmp_path / "answers.yaml"
    path.write_text("answers: " + "[" * DEEP + "]" * DEEP + "\n")
    with pytest.raises(CnnCalcError, match="nesting deeper") as info:
        safeload.load_file(path)
    assert info.value.file == str(path)


def nested_lists(levels: int) -> str:
    return "[" * levels + "]" * levels  # the outer list is level 0


def test_depth_cap_boundary():
    data = safeload.loads(nested_lists(MAX_DEPTH + 1))
    depth = 0
    while data:
        data, depth = data[0], depth + 1
    assert depth == MAX_DEPTH  # innermost list at depth 64 counted from 0
    with pytest.raises(CnnCalcError, match="nesting deeper than 64"):
        safeload.loads(nested_lists(MAX_DEPTH + 2))
    # a scalar one level below the deepest list
    assert safeload.loads("[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH)
    with pytest.raises(CnnCalcError, match="nesting deeper"):
        safeload.loads("[" * (MAX_DEPTH + 1) + "1" + "]" * (MAX_DEPTH + 1))


def test_depth_cap_counts_through_aliases():
    inner = 30
    text = f"a: &x {nested_lists(inner)}\n"
    # 'b' is at depth 1, so x's innermost list lands at depth k + inner below k brackets
    ok = text + "b: " + "[" * (MAX_DEPTH - inner) + "*x" + "]" * (MAX_DEPTH - inner) + "\n"
    assert safeload.loads(ok)["b"]
    deep = text + "b: " + "[" * (MAX_DEPTH - inner + 1) + "*x" + "]" * (MAX_DEPTH - inner + 1) + "\n"
    with pytest.raises(CnnCalcError, match="nesting deeper"):
        safeload.loads(deep)


def test_deep_nesting_is_fast():
    start = time.perf_counter()
    with pytest.raises(CnnCalcError):
        safeload.loads("[" * 2_000_000 + "]" * 2_000_000)
    assert time.perf_counter() - start < 10  # refused at level 65, not after reading everything: 0.01 s quiet


# ---------------------------------------------------------------- size caps: bytes and values


def test_bytes_cap_boundary():
    assert safeload.loads("#" * MAX_BYTES) is None
    with pytest.raises(CnnCalcError, match="too large"):
        safeload.loads("#" * (MAX_BYTES + 1))


def test_bytes_cap_on_files(tmp_path, cli):
    # sparse files (NUL bytes, nothing on disk): read whole and refused by the YAML reader, or refused by size
    inside = tmp_path / "inside.yaml"
    with open(inside, "wb") as handle:
        handle.truncate(MAX_BYTES)
    code, _, err = cli("summary", str(inside))
    assert code == 2 and "YAML syntax error" in err and "too large" not in err, err
    outside = tmp_path / "outside.yaml"
    with open(outside, "wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    code, _, err = cli("summary", str(outside))
    assert code == 2 and "spec too large" in err and f"{MAX_BYTES:,}" in err, err


def values_document(total: int) -> str:
    """A list whose values after alias expansion number exactly ``total`` (root list included)."""
    block = 1000  # an anchored list of 999 scalars: 1,000 values
    copies, rest = divmod(total - 1, block)
    lines = ["- &a [" + ", ".join(["0"] * (block - 1)) + "]"]
    lines += ["- *a"] * (copies - 1)
    lines += ["- 0"] * rest
    return "\n".join(lines) + "\n"


def test_values_cap_boundary():
    assert len(safeload.loads(values_document(MAX_VALUES))) == (MAX_VALUES - 1) // 1000 + (MAX_VALUES - 1) % 1000
    with pytest.raises(CnnCalcError, match="too many values"):
        safeload.loads(values_document(MAX_VALUES + 1))


# ---------------------------------------------------------------- root cause 3: numbers in every form

INT_FORMS = {
    "decimal": str,
    "underscores": lambda n: f"{n:_}",
    "hex": hex,
    "binary": bin,
    "sexagesimal": lambda n: ":".join(str(d) for d in sexagesimal_digits(n)),
}


def sexagesimal_digits(n: int) -> list[int]:
    digits = []
    while n:
        n, d = divmod(n, 60)
        digits.append(d)
    return digits[::-1]


@pytest.mark.parametrize("form", sorted(INT_FORMS))
def test_integer_cap_in_every_form(form):
    largest = 10**MAX_INT_DIGITS - 1
    write = INT_FORMS[form]
    assert safeload.loads(f"x: {write(largest)}")["x"] == largest  # exact, not a float
    assert safeload.loads(f"x: -{write(largest)}")["x"] == -largest
    with pytest.raises(CnnCalcError, match="integer too long"):
        safeload.loads(f"x: {write(largest + 1)}")


def test_integer_cap_with_leading_zeros():
    # YAML 1.1 makes 0[0-7]+ an integer (read here as decimal); the zeros do not count as digits
    assert safeload.loads("x: 00" + "7" * MAX_INT_DIGITS)["x"] == int("7" * MAX_INT_DIGITS)
    with pytest.raises(CnnCalcError, match="integer too long"):
        safeload.loads("x: 00" + "7" * (MAX_INT_DIGITS + 1))


def test_integer_forms_read_as_yaml_1_1():
    text = "a: 0x1F\nb: 017\nc: 0b101\nd: 1:30:00\ne: 1_000_000\nf: -0x10\ng: +12\nh: 0\ni: 0_17\nj: 0o17"
    data = safeload.loads(text)
    # leading zeros are decimal (YAML 1.2, and what people mean); 0o is not a YAML 1.1 integer
    assert data == {"a": 31, "b": 17, "c": 5, "d": 5400, "e": 1_000_000, "f": -16, "g": 12, "h": 0, "i": 17,
                    "j": "0o17"}


def test_huge_integer_text_is_refused_fast():
    start = time.perf_counter()
    for text in ("1" + ":59" * 1_000_000, "0x" + "f" * 2_000_000, "1" + "_0" * 2_000_000, "9" * 3_000_000):
        with pytest.raises(CnnCalcError, match="integer too long"):
            safeload.loads(text)
    assert time.perf_counter() - start < 20  # a hang guard: 0.55 s quiet


def test_float_text_cap_boundary():
    inside = "0." + "1" * (MAX_NUMBER_TEXT - 2)
    assert safeload.loads(inside) == pytest.approx(0.1111111)
    with pytest.raises(CnnCalcError, match="number too long"):
        safeload.loads(inside + "1")


@pytest.mark.parametrize(("value", "fragment"), [
    (".inf", "finite number"), ("-.inf", "finite number"), (".nan", "finite number"),
    ("1.0e+400", "finite number"), ("1" + "0" * 400, "finite number"), ("true", "a number"),
])
def test_float_fields_refuse_nan_inf_bool(tmp_path, cli, value, fragment):
    err = cli_refuses(cli, tmp_path, HEAD + f"  - {{type: batchnorm, epsilon: {value}}}\n", "field 'epsilon'",
                      fragment)
    assert "internal error" not in err


@pytest.mark.parametrize("value", [".inf", ".nan", "1.0e+400", "true", "2.5"])
def test_int_fields_refuse_nan_inf_bool_fractions(tmp_path, cli, value):
    cli_refuses(cli, tmp_path, HEAD + f"  - {{type: conv, filters: {value}, kernel: 3}}\n", "field 'filters'",
                "positive integer")


def test_int_field_cap_boundary(tmp_path, cli_json, cli):
    dense = "input: [8]\nlayers:\n  - {type: dense, units: %s}\n"
    data = cli_json("summary", str(write(tmp_path, dense % MAX_INT)))
    assert data["totals"]["params"] == 9 * MAX_INT  # 8 weights and a bias per unit, exact
    for value in (MAX_INT + 1, hex(MAX_INT + 1), 10**MAX_INT_DIGITS - 1):
        cli_refuses(cli, tmp_path, dense % value, "field 'units'", f"at most {MAX_INT:,}")
    assert loads_spec(f"input: [{MAX_INT}]\nlayers: [{{type: relu}}]\n").input_shape == (MAX_INT,)
    refused(f"input: [{MAX_INT + 1}]\nlayers: [{{type: relu}}]\n", "bad input shape")


def write(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------- root cause 5: expansion


def test_nested_repeat_stops_at_the_layer_cap(tmp_path, cli_process):
    text = ("input: [8, 8, 3]\nblocks:\n  b:\n    layers:\n      - {type: relu, repeat: 10000}\n"
            "layers:\n  - {block: b, name: big, repeat: 10000}\n")
    code, _, err = cli_process("validate", str(write(tmp_path, text)), timeout=60)
    assert code == 2 and f"more than {MAX_LAYERS:,} layers" in err and "'big.10." in err, err


def test_skipped_layers_count_towards_the_layer_cap():
    text = ("input: [8, 8, 3]\nblocks:\n  b:\n    params: {use: false}\n    layers:\n"
            "      - {type: relu, when: $use}\n  c:\n    layers:\n      - {block: b, repeat: 10000}\n"
            "layers:\n  - {block: c, repeat: 10000}\n")
    start = time.perf_counter()
    refused(text, f"more than {MAX_LAYERS:,} layers")
    assert time.perf_counter() - start < 20  # a hang guard: 0.5 s quiet


def test_layer_cap_boundary(monkeypatch):
    layers = [{"type": "relu", "repeat": MAX_REPEAT}] * (MAX_LAYERS // MAX_REPEAT)
    assert len(expand_layers(layers, None, None)) == MAX_LAYERS
    # one more is refused: the same count against a cap of 100 (the real cap's 100,001 layers took 1 s more;
    # the real cap refusing is test_nested_repeat_stops_at_the_layer_cap's)
    monkeypatch.setattr(blocks, "MAX_LAYERS", 100)
    layers = [{"type": "relu", "repeat": 10}] * 10
    assert len(expand_layers(layers, None, None)) == 100
    with pytest.raises(CnnCalcError, match="more than 100 layers"):
        expand_layers([*layers, {"type": "relu"}], None, None)


def test_repeat_cap_boundary():
    assert len(expand_layers([{"type": "relu", "repeat": MAX_REPEAT}], None, None)) == MAX_REPEAT
    refused(HEAD + f"  - {{type: relu, repeat: {MAX_REPEAT + 1}}}\n", f"an integer from 1 to {MAX_REPEAT:,}")


def test_repeated_inline_weights_stop_at_the_values_cap():
    # each copy counts n + 13 values: n weights and their list, 5 keys, 5 values, 1 input name, itself
    inside = [0.5] * 1_333_000
    flat = expand_layers([{"type": "dense", "units": 1, "weights": inside, "repeat": 3}], None, None)
    assert len(flat) == 3 and all(item.raw["weights"] is inside for item in flat)
    start = time.perf_counter()
    with pytest.raises(CnnCalcError, match=f"more than {MAX_EXPANDED_VALUES:,} values") as info:
        expand_layers([{"type": "dense", "units": 1, "weights": [0.5] * 1_333_334, "repeat": 3}], None, None)
    assert "layer 'dense1.2'" in str(info.value)
    # a million values repeated 10,000 times: refused after a few copies, not after 10^10 steps
    with pytest.raises(CnnCalcError, match="values"):
        expand_layers([{"type": "dense", "units": 1, "weights": [0.5] * 1_000_000, "repeat": 10_000}],
                      None, None)
    assert time.perf_counter() - start < 30  # a hang guard: 0.6 s quiet


def test_values_cap_counts_parameters_substituted_into_blocks():
    defined = {"b": {"params": {"w": None}, "layers": [{"type": "dense", "units": 1, "weights": "$w"}]}}
    weights = [0.5] * 1_000_000
    with pytest.raises(CnnCalcError, match="values") as info:
        expand_layers([{"block": "b", "w": weights, "repeat": 10_000}], defined, None)
    assert "'b1." in str(info.value)


def test_block_nesting_cap_boundary():
    def chain(levels: int) -> dict:
        defined = {"b0": {"layers": [{"type": "relu"}]}}
        for i in range(1, levels):
            defined[f"b{i}"] = {"layers": [{"block": f"b{i - 1}"}]}
        return defined

    levels = blocks.MAX_DEPTH  # block b{k} holds k + 1 levels of blocks
    assert len(expand_layers([{"block": f"b{levels - 1}"}], chain(levels), None)) == 1
    with pytest.raises(CnnCalcError, match="nested deeper than 16"):
        expand_layers([{"block": f"b{levels}"}], chain(levels + 1), None)


# ---------------------------------------------------------------- root cause 12: valid YAML, skipped layers


def test_merge_keys_with_overrides(tmp_path, cli_json):
    text = ("input: [16, 16, 3]\nlayers:\n  - &c3 {type: conv, name: a, filters: 8, kernel: 3}\n"
            "  - {<<: *c3, name: b, kernel: 5}\n  - {<<: [*c3], name: c, filters: 4}\n")
    data = cli_json("summary", str(write(tmp_path, text)))
    shapes = [layer["output_shape"] for layer in data["layers"]]
    assert shapes == [[14, 14, 8], [10, 10, 8], [8, 8, 4]]


def test_merge_keys_follow_yaml_1_1_precedence():
    data = safeload.loads("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nm: {<<: [*a, *b], z: 3}\n")
    assert data["m"] == {"x": 1, "y": 1, "z": 3}  # own keys first, then earlier merged mappings
    with pytest.raises(CnnCalcError, match="duplicate key 'k'"):
        safeload.loads("a: &a {x: 1}\nm: {<<: *a, k: 1, k: 2}\n")
    with pytest.raises(CnnCalcError, match="merge key"):
        safeload.loads("m: {<<: 3}\n")
    assert safeload.loads("a: =\nb: [<<, x]\n") == {"a": "=", "b": ["<<", "x"]}  # only a key '<<' merges


SKIPPING = ("input: [8, 8, 3]\nblocks:\n  b:\n    params: {use: false, f: 0}\n    layers:\n"
            "      - {type: relu}\n      - {{LAYER}, when: $use}\nlayers:\n  - {block: b}\n")


@pytest.mark.parametrize(("layer", "fragments"), [
    ("type: conv, filters: 8, kernal: 3", ["field 'kernal'", "did you mean 'kernel'", "switched off"]),
    ("type: conv, filters: eight, kernel: 3", ["field 'filters'", "got 'eight'", "switched off"]),
    ("type: convolution, filters: 8, kernel: 3", ["unknown layer type", "switched off"]),
])
def test_layers_switched_off_are_still_checked(tmp_path, cli, layer, fragments):
    cli_refuses(cli, tmp_path, SKIPPING.replace("{LAYER}", layer), *fragments, command="validate")


def test_switched_off_layer_may_hold_parameter_placeholders():
    network = loads_spec(SKIPPING.replace("{LAYER}", "type: conv, filters: $f, kernel: 3"))
    assert [layer.type for layer in network.layers] == ["relu"]


@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x1b", "\x00", "\u2028", "\u202e"])
@pytest.mark.parametrize("where", ["layer", "block", "instance", "network"])
def test_names_with_control_characters_are_refused(tmp_path, cli, char, where):
    bad = '"a' + char.encode("unicode_escape").decode() + 'b"'  # a YAML escape: \n, \x1b, \u2028 ...
    texts = {
        "layer": HEAD + f"  - {{type: relu, name: {bad}}}\n",
        "block": f"input: [8, 8, 3]\nblocks:\n  {bad}:\n    layers: [{{type: relu}}]\nlayers:\n  - {{block: {bad}}}\n",
        "instance": "input: [8, 8, 3]\nblocks:\n  b:\n    layers: [{type: relu}]\n"
                    f"layers:\n  - {{block: b, name: {bad}}}\n",
        "network": f"name: {bad}\ninput: [8, 8, 3]\nlayers: [{{type: relu}}]\n",
    }
    cli_refuses(cli, tmp_path, texts[where], "control character")


@pytest.mark.parametrize("where", ["layer", "block", "instance", "network"])
def test_name_length_boundary(where):
    def text(name: str) -> str:
        return {
            "layer": HEAD + f"  - {{type: relu, name: {name}}}\n",
            "block": f"input: [8, 8, 3]\nblocks:\n  {name}:\n    layers: [{{type: relu}}]\nlayers:\n  - {{block: {name}}}\n",
            "instance": f"input: [8, 8, 3]\nblocks:\n  b:\n    layers: [{{type: relu}}]\nlayers:\n  - {{block: b, name: {name}}}\n",
            "network": f"name: {name}\ninput: [8, 8, 3]\nlayers: [{{type: relu}}]\n",
        }[where]

    assert loads_spec(text("n" * MAX_NAME))
    refused(text("n" * (MAX_NAME + 1)), f"at most {MAX_NAME} characters")


# ---------------------------------------------------------------- echoed values are cut


@pytest.mark.parametrize("layer", [
    "{type: conv, filters: 8, kernel: 'HUGE'}",
    "{type: HUGE}",
    "{type: conv, filters: 8, kernel: 3, HUGE: 1}",
    "{type: relu, name: HUGE}",
    "{type: relu, inputs: HUGE}",
    "{type: dense, units: [HUGE]}",
])
def test_error_messages_do_not_echo_huge_values(tmp_path, cli, layer):
    huge = "x" * 100_000
    err = cli_refuses(cli, tmp_path, HEAD + "  - " + layer.replace("HUGE", huge) + "\n")
    assert huge[:5000] not in err


def test_clip_and_show():
    assert clip("a\nb\x1b") == "a\\nb\\x1b"
    assert clip("y" * 1000, 10) == "y" * 10 + "… (1,000 characters)"
    assert show("eight") == "'eight'" and show([4, 4]) == "[4, 4]" and show(True) == "True"
    assert len(show(list(range(1_000_000)))) < 100
    assert len(show(10**4000)) <= MAX_SHOWN + 40
    assert len(show({"k": "v" * 10_000})) <= MAX_SHOWN + 40


# ---------------------------------------------------------------- spec files that are not regular files


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_spec_fifo_does_not_hang(tmp_path, cli_process):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    code, _, err = cli_process("summary", str(fifo), timeout=20)
    assert code == 2 and "cannot read the spec" in err and "not a regular file" in err


@pytest.mark.skipif(not os.path.exists("/dev/zero") or sys.platform == "win32", reason="needs /dev/zero")
def test_spec_device_and_folder(tmp_path, cli):
    code, _, err = cli("summary", "/dev/zero")
    assert code == 2 and "not a regular file" in err
    code, _, err = cli("validate", str(tmp_path))
    assert code == 2 and "cannot read the spec: a folder" in err


def test_spec_path_too_long_for_the_system(cli):
    code, _, err = cli("summary", "x" * 5000)
    assert code == 2 and "no such file" in err and len(err) < 1000


@pytest.mark.parametrize(("text", "fragment"), [
    ("!!bool maybe", "bad bool value"), ('!!int "12abc"', "bad integer"), ("!!int ''", "bad integer"),
    ("!!float nope", "bad float value"), ("!!binary 'a'", "bad binary value"),
    ("!!timestamp nope", "bad timestamp value"), ("!!set {a}", "tag not allowed"), ("!foo x", "tag not allowed"),
    ("!!python/object:os.system x", "tag not allowed"), ("*nowhere", "unknown alias"),
    ("&a [*a]", "recursive alias"), ("a\n---\nb", "single document"),
])
def test_explicit_tags_and_aliases_are_clean_errors(text, fragment):
    with pytest.raises(CnnCalcError, match=fragment):
        safeload.loads(text)
