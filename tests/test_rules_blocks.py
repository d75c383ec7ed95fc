"""Blocks and repeat (README, "Blocks and repeat"): names, `first:`, `$index`, `when:`, `output:`,
arguments, expressions and their errors, each checked on the expanded network."""

from __future__ import annotations

import pytest

from cnncalc import CnnCalcError, analyse, loads_spec


def layers_of(spec: str) -> dict[str, object]:
    network = loads_spec(spec)
    return {layer.name: layer for layer in network.layers}


def shapes_of(spec: str) -> dict[str, tuple]:
    return {r.name: tuple(int(d) for d in r.output_shape) for r in analyse(loads_spec(spec)).records}


# ---------------------------------------------------------------- repeat, first, $index


def test_first_overrides_copy_zero_of_a_repeated_plain_layer():
    spec = """
input: [16, 16, 3]
layers:
  - {type: conv, name: c, repeat: 3, filters: 4, kernel: 3, padding: 1, first: {stride: 2, filters: 8}}
"""
    shapes = shapes_of(spec)
    assert shapes == {"c.0": (8, 8, 8), "c.1": (8, 8, 4), "c.2": (8, 8, 4)}, (
        f"first: {{stride: 2, filters: 8}} applies to copy 0 only of a repeated plain layer; got {shapes}")


def test_index_counts_the_copies_of_a_repeated_block():
    spec = """
input: [8, 8, 1]
blocks:
  grow:
    params: {base: 2}
    layers:
      - {type: conv, name: c, filters: "${base + 3 * index}", kernel: 1}
layers:
  - {block: grow, name: g, repeat: 3}
"""
    shapes = shapes_of(spec)
    assert [shapes[f"g.{i}.c"][-1] for i in range(3)] == [2, 5, 8], (
        f"$index is the copy's number (0, 1, 2) inside a repeated block; filters = 2 + 3·index, got {shapes}")


def test_index_in_a_repeated_plain_layer():
    spec = """
input: [8, 8, 1]
layers:
  - {type: zero_pad, name: z, repeat: 3, padding: $index}
"""
    shapes = shapes_of(spec)
    assert shapes == {"z.0": (8, 8, 1), "z.1": (10, 10, 1), "z.2": (14, 14, 1)}, (
        f"$index counts plain-layer copies too: padding 0, 1, 2 → 8, 10, 14; got {shapes}")


def test_first_in_a_block_sees_index_zero_and_its_arguments():
    spec = """
input: [8, 8, 1]
blocks:
  unit:
    params: {filters: null, stride: 1}
    layers:
      - {type: conv, name: c, filters: $filters, kernel: 1, stride: $stride}
layers:
  - {block: unit, name: u, repeat: 3, filters: 2, first: {filters: 6, stride: 2}}
"""
    shapes = shapes_of(spec)
    assert shapes == {"u.0.c": (4, 4, 6), "u.1.c": (4, 4, 2), "u.2.c": (4, 4, 2)}, shapes


def test_repeat_chains_the_copies_and_names_them():
    spec = """
input: [8, 8, 1]
layers:
  - {type: conv, name: c, repeat: 2, filters: 2, kernel: 3}
  - {type: relu, name: r}
"""
    network = loads_spec(spec)
    layers = {layer.name: layer for layer in network.layers}
    assert list(layers) == ["c.0", "c.1", "r"]
    assert layers["c.0"].inputs == ["input"] and layers["c.1"].inputs == ["c.0"] and layers["r"].inputs == ["c.1"]
    assert shapes_of(spec)["r"] == (4, 4, 2)


def test_a_repeat_of_one_keeps_the_plain_name():
    assert list(layers_of("input: [4, 4, 1]\nlayers: [{type: relu, name: r, repeat: 1}]")) == ["r"]


@pytest.mark.parametrize(("repeat", "ok"), [(1, True), (10_000, True), (0, False), (10_001, False), (True, False),
                                            (2.0, False)])
def test_repeat_range(repeat, ok):
    spec = f"input: [4]\nlayers: [{{type: relu, name: r, repeat: {str(repeat).lower()}}}]"
    if ok:
        assert len(loads_spec(spec).layers) == repeat
    else:
        with pytest.raises(CnnCalcError, match="'repeat' must be a positive integer"):
            loads_spec(spec)


# ---------------------------------------------------------------- scoping, output, when


RESNET_LIKE = """
input: [16, 16, 4]
blocks:
  basic:
    params: {filters: null, stride: 1, downsample: false}
    layers:
      - {type: conv, name: conv1, filters: $filters, kernel: 3, stride: $stride, padding: 1, bias: false}
      - {type: relu, name: relu1}
      - {type: conv, name: down, filters: $filters, kernel: 1, stride: $stride, inputs: input, when: $downsample}
      - {type: add, name: add, inputs: [relu1, down]}
layers:
  - {block: basic, name: l1, filters: 4}
  - {block: basic, name: l2, repeat: 2, filters: 8, first: {stride: 2, downsample: true}}
  - {type: relu, name: out, inputs: l2}
"""


def test_when_false_passes_the_input_on_and_names_are_scoped():
    layers = layers_of(RESNET_LIKE)
    assert "l1.down" not in layers and "l2.1.down" not in layers and "l2.0.down" in layers
    assert layers["l1.add"].inputs == ["l1.relu1", "input"], "a skipped shortcut is the block's input"
    assert layers["l2.0.down"].inputs == ["l1.add"], "'input' inside a block is the block's input"
    assert layers["l2.0.add"].inputs == ["l2.0.relu1", "l2.0.down"]
    assert layers["l2.1.add"].inputs == ["l2.1.relu1", "l2.0.add"]
    assert layers["out"].inputs == ["l2.1.add"], "an instance name refers to its last layer"
    assert shapes_of(RESNET_LIKE)["out"] == (8, 8, 8)


def test_block_output_names_the_instance_output():
    spec = """
input: [8, 8, 2]
blocks:
  two:
    params: {}
    output: first
    layers:
      - {type: conv, name: first, filters: 3, kernel: 1}
      - {type: conv, name: second, filters: 5, kernel: 1}
layers:
  - {block: two, name: t}
  - {type: relu, name: r, inputs: t}
"""
    assert layers_of(spec)["r"].inputs == ["t.first"]
    bad = spec.replace("output: first", "output: third")
    with pytest.raises(CnnCalcError, match="names no layer"):
        loads_spec(bad)


def test_expressions_and_text_substitution():
    spec = """
input: [8, 8, 2]
blocks:
  b:
    params: {w: 4}
    layers:
      - {type: conv, name: "c${w // 2}", filters: "${w * 2 + 1}", kernel: 1}
      - {type: avgpool, name: p, kernel: "${w / 2}"}
layers:
  - {block: b, name: x, w: 6}
"""
    shapes = shapes_of(spec)
    assert shapes == {"x.c3": (8, 8, 13), "x.p": (2, 2, 13)}, shapes


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(("body", "message"), [
    ("layers: [{block: nope, name: a}]", "unknown block"),
    ("blocks: {b: {params: {f: null}, layers: [{type: relu}]}}\nlayers: [{block: b}]", "missing argument"),
    ("blocks: {b: {params: {f: 1}, layers: [{type: relu}]}}\nlayers: [{block: b, g: 2}]", "unknown argument"),
    ("blocks: {b: {params: {}, layers: [{type: conv, filters: $f, kernel: 1}]}}\nlayers: [{block: b}]",
     "unknown parameter '$f'"),
    ("blocks: {b: {params: {}, layers: []}}\nlayers: [{block: b}]", "non-empty 'layers'"),
    ("blocks: {b: {params: {}, layers: [{type: relu}], extra: 1}}\nlayers: [{block: b}]", "unknown key in block"),
    ("blocks: [1]\nlayers: [{type: relu}]", "'blocks' must be a mapping"),
    ("blocks: {b: {params: {}, layers: [{block: b}]}}\nlayers: [{block: b}]", "nested deeper than 16"),
    ("blocks: {b: {params: {}, layers: [{type: relu, when: 1}]}}\nlayers: [{block: b}]", "'when' must be true or false"),
    ("layers: [{type: relu, repeat: 2, first: [1]}]", "'first' must be a mapping"),
    ("blocks: {b: {params: {}, layers: [{type: relu, inputs: zz}]}}\nlayers: [{block: b}]", "unknown layer in 'inputs'"),
    ("blocks: {b: {params: {f: 1}, layers: [{type: conv, filters: '${f +}', kernel: 1}]}}\nlayers: [{block: b}]",
     "in '${f +}'"),
])
def test_block_errors(body, message):
    with pytest.raises(CnnCalcError) as caught:
        loads_spec("input: [4, 4, 1]\n" + body)
    assert message in str(caught.value), f"expected {message!r} in: {caught.value}"


def test_nesting_depth_boundary():
    def nested(levels: int) -> str:
        blocks = "".join(f"  b{i}: {{params: {{}}, layers: [{{block: b{i + 1}}}]}}\n" for i in range(levels - 1))
        blocks += f"  b{levels - 1}: {{params: {{}}, layers: [{{type: relu}}]}}\n"
        return f"input: [4]\nblocks:\n{blocks}layers: [{{block: b0}}]\n"

    assert len(loads_spec(nested(16)).layers) == 1, "16 nested blocks are allowed"
    with pytest.raises(CnnCalcError, match="deeper than 16"):
        loads_spec(nested(17))


# ---------------------------------------------------------------- reading specs safely (spec/safeload): every cap at its edge


def test_size_cap_of_spec_text():
    from cnncalc.spec import safeload

    assert safeload.MAX_BYTES == 8 * 1024 * 1024
    text = "a: 1\n#" + "x" * (safeload.MAX_BYTES - 7) + "\n"
    assert len(text) == safeload.MAX_BYTES and safeload.loads(text) == {"a": 1}, "exactly 8 MiB is read"
    with pytest.raises(CnnCalcError, match="file too large"):
        safeload.loads(text + " ")


def test_read_limited_cap_boundary(tmp_path):
    from cnncalc.spec import safeload

    path = tmp_path / "f.yaml"
    path.write_bytes(b"x" * 100)
    assert safeload.read_limited(path, 100) == b"x" * 100, "a file of exactly the cap is read"
    with pytest.raises(CnnCalcError, match="too large"):
        safeload.read_limited(path, 99)
    with pytest.raises(CnnCalcError, match="a folder"):
        safeload.read_limited(tmp_path, 100)
    with pytest.raises(CnnCalcError, match="cannot read the answers"):
        safeload.read_limited(tmp_path / "missing", 100, "answers")
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(CnnCalcError, match=r"f.yaml: not a UTF-8 text file \(the spec\)"):
        safeload.load_file(path, what="spec")


def test_depth_cap_boundary():
    from cnncalc.spec import safeload

    assert safeload.MAX_DEPTH == 64
    inside = "[" * 64 + "1" + "]" * 64
    value = safeload.loads(inside)
    for _ in range(64):
        value = value[0]
    assert value == 1, "a value 64 levels deep is read"
    with pytest.raises(CnnCalcError, match="nesting deeper than 64 levels"):
        safeload.loads("[" * 65 + "1" + "]" * 65)
    # through an alias: the anchored list is 60 deep, used 4 and 5 levels further down
    anchored = "a: &x " + "[" * 60 + "1" + "]" * 60 + "\n"
    assert safeload.loads(anchored + "b: [[[*x]]]\n")["b"][0][0][0] == safeload.loads(anchored)["a"]
    with pytest.raises(CnnCalcError, match="nesting deeper than 64 levels"):
        safeload.loads(anchored + "b: [[[[*x]]]]\n")


def test_values_cap_boundary_after_alias_expansion():
    from cnncalc.spec import safeload

    assert safeload.MAX_VALUES == 2_000_000
    # x: 999 numbers + the list = 1,000 values; each alias counts 1,000 more; keys a, b, the outer list and
    # the mapping count 4: 1,000 + 1,998·1,000 + extra + 4 = 2,000,000 with 996 extra numbers
    base = "a: &x [" + ", ".join(["1"] * 999) + "]\n"

    def doc(extra: int) -> str:
        return base + "b: [" + ", ".join(["*x"] * 1998 + ["2"] * extra) + "]\n"

    assert len(safeload.loads(doc(996))["b"]) == 1998 + 996, "exactly 2,000,000 values are read"
    with pytest.raises(CnnCalcError, match="too many values"):
        safeload.loads(doc(997))


def test_integer_length_cap():
    from cnncalc.spec import safeload

    assert safeload.loads("n: " + "9" * 4000)["n"] == int("9" * 4000)
    with pytest.raises(CnnCalcError, match="integer too long"):
        safeload.loads("n: " + "9" * 4001)
    assert safeload.loads("n: -" + "9" * 3999)["n"] == -int("9" * 3999), "the cap counts the sign: 4,000 characters"


@pytest.mark.parametrize(("text", "message"), [
    ("!!python/object:os.system {}", "tag not allowed"), ("a: !!set {1: null}", "tag not allowed"),
    ("a: 1\na: 2\n", "duplicate key 'a' (first on line 1)"), ("? [1, 2]\n: 3\n", "a mapping key must be a plain value"),
    ("a: &x [*x]\n", "recursive alias"), ("a: [1,\n", "YAML syntax error"), ("a: !!binary x\n", "s.yaml:1: bad binary value (got 'x', expected a YAML binary"),
])
def test_unsafe_or_broken_yaml_is_refused(text, message):
    from cnncalc.spec import safeload

    with pytest.raises(CnnCalcError) as caught:
        safeload.loads(text, "s.yaml")
    assert message in str(caught.value) and "s.yaml" in str(caught.value), str(caught.value)


def test_line_numbers_are_kept():
    from cnncalc.spec import safeload

    data = safeload.loads("name: x\nlayers:\n  - {type: conv}\n  - type: relu\n    name: r\n")
    assert data.line == 1 and data.line_of("layers") == 2 and data.line_of("missing") == 1
    assert data["layers"].line == 3 and data["layers"][0].line == 3 and data["layers"][1].line == 4
    assert data["layers"][1].line_of("name") == 5
    assert safeload.loads("") is None and safeload.loads("[1.5, yes, null]") == [1.5, True, None]


def test_expression_caps_in_block_arguments():
    from cnncalc.maths import expr

    assert expr.MAX_LENGTH == 200 and expr.MAX_DIGITS == 30
    text = "1" + " + 1" * 49 + " " * 3  # 200 characters
    assert len(text) == 200 and expr.evaluate(expr.parse(text), {}) == 50
    with pytest.raises(CnnCalcError, match="expression too long"):
        expr.parse(text + " ")
    assert expr.evaluate(expr.parse("9" * 30 + " - " + "9" * 30), {}) == 0
    with pytest.raises(CnnCalcError, match="number too long"):
        expr.parse("9" * 31)


def test_default_names_count_per_type_inside_a_block():
    spec = """
input: [8, 8, 1]
blocks:
  b:
    params: {}
    layers:
      - {type: conv, filters: 2, kernel: 1}
      - {type: relu}
      - {type: conv, filters: 3, kernel: 1}
layers:
  - {block: b, name: x}
  - {block: b}
"""
    assert list(layers_of(spec)) == ["x.conv1", "x.relu1", "x.conv2", "b1.conv1", "b1.relu1", "b1.conv2"]


def test_text_with_several_expressions_and_arguments_of_any_type():
    spec = """
input: [8, 8, 2]
blocks:
  b:
    params: {k: 1, act: relu, pads: [0, 1]}
    layers:
      - {type: conv, name: "c${k}x${k + 1}", filters: 2, kernel: [$k, "${k + 1}"], padding: $pads, activation: $act}
layers:
  - {block: b, name: u, k: 2, act: tanh, pads: [1, 0]}
"""
    layer = layers_of(spec)["u.c2x3"]
    assert layer.kernel == (2, 3) and layer.activation == "tanh"
    assert shapes_of(spec)["u.c2x3"] == (9, 6, 2), "H: 8 + 2 − 2 + 1 = 9, W: 8 − 3 + 1 = 6"


def test_a_skipped_layer_named_by_others_passes_its_input():
    spec = """
input: [8, 8, 2]
blocks:
  b:
    params: {use: false}
    layers:
      - {type: conv, name: a, filters: 2, kernel: 1}
      - {type: conv, name: opt, filters: 2, kernel: 1, when: $use}
      - {type: add, name: s, inputs: [a, opt]}
layers:
  - {block: b, name: skip}
  - {block: b, name: keep, use: true}
"""
    layers = layers_of(spec)
    assert layers["skip.s"].inputs == ["skip.a", "skip.a"], "a skipped layer stands for its input (here: a)"
    assert layers["keep.s"].inputs == ["keep.a", "keep.opt"]


@pytest.mark.parametrize(("blocks", "message"), [
    ("{b: {params: [1], layers: [{type: relu}]}}", "'params' of block 'b' must map parameter names to defaults"),
    ("{b: {params: {}, layers: [{type: relu}], output: [1]}}", "'output' of block 'b' must be a layer name"),
    ("{b: 3}", "a block is a name with a mapping of 'params' and 'layers'"),
])
def test_block_definition_errors(blocks, message):
    with pytest.raises(CnnCalcError) as caught:
        loads_spec(f"input: [4]\nblocks: {blocks}\nlayers: [{{block: b}}]")
    assert message in str(caught.value), str(caught.value)


def test_block_instance_takes_one_input_and_names_must_be_text():
    base = "input: [4, 4, 1]\nblocks: {b: {params: {}, layers: [{type: relu}]}}\nlayers:\n  - {type: relu, name: r}\n"
    with pytest.raises(CnnCalcError, match="a block instance takes one input"):
        loads_spec(base + "  - {block: b, inputs: [r, input]}\n")
    with pytest.raises(CnnCalcError, match=r"field 'name': bad block instance name \(got '', expected a non-empty string\)"):
        loads_spec(base + "  - {block: b, name: ''}\n")
    assert layers_of(base + "  - {block: b, name: x, inputs: input}\n")["x.relu1"].inputs == ["input"]


@pytest.mark.parametrize(("spec", "message"), [
    ("input: [4]\nlayers:\n  - {type: relu, name: r,\n     repeat: 0}",
     "s.yaml:4: field 'repeat': 'repeat' must be a positive integer (got 0, expected an integer from 1 to 10,000)"),
    ("input: [4]\nlayers: [{type: relu, name: r, inputs: [1]}]",
     "s.yaml:2: layer 1 'r': field 'inputs': bad 'inputs' (got [1], expected a layer name or a list of names)"),
    ("input: [4]\nblocks: {b: {params: {}, layers: [{type: relu, inputs: zz}]}}\nlayers: [{block: b}]",
     ("s.yaml:2: field 'inputs': unknown layer in 'inputs' inside block 'b' (got 'zz', expected 'input' (the "
     "block's input) or a layer of the block)")),
    ("input: [4]\nblocks: {b: {params: {f: 1}, layers: [{type: relu}]}}\nlayers:\n  - {block: b,\n     g: 2}",
     "s.yaml:5: field 'g': unknown argument for block 'b'; its parameters: f"),
    ("input: [4, 4, 1]\nlayers: [{type: conv, name: c, filters: 1, kernel: 1, bias: 3}]",
     "s.yaml:2: layer 1 'c': field 'bias': bad value (got 3, expected true, false, or a list of bias values)"),
    ("input: [4, 4, 1]\nlayers: [{type: maxpool, name: p, kernel: 2, ceil_mode: 2}]",
     "s.yaml:2: layer 1 'p': field 'ceil_mode': bad value (got 2, expected true or false)"),
])
def test_spec_error_lines(spec, message):
    with pytest.raises(CnnCalcError) as caught:
        analyse(loads_spec(spec, "s.yaml"))
    assert str(caught.value) == message


def test_errors_in_a_block_instance_name_its_line():
    spec = ("input: [4]\nblocks:\n  b:\n    params: {f: null}\n    layers: [{type: relu}]\nlayers:\n"
            "  - {type: relu}\n  - {block: b,\n     name: x}\n")
    with pytest.raises(CnnCalcError) as caught:
        loads_spec(spec, "s.yaml")
    assert str(caught.value).startswith("s.yaml:8: field 'f': missing argument for block 'b'"), str(caught.value)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    import os
    import threading

    from cnncalc.spec import safeload

    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    outcome: list[str] = []

    def read() -> None:
        try:
            safeload.read_limited(fifo, 100, "spec")
        except CnnCalcError as error:
            outcome.append(str(error))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # unblock the reader so the test run can go on
        with open(fifo, "wb"):
            pass
        reader.join(5)
        pytest.fail("reading a FIFO with no writer blocked")
    assert outcome == [f"{fifo}: cannot read the spec: not a regular file"]


@pytest.mark.parametrize(("spec", "message"), [
    ("input: [4, 4, 3]\nlayers: [{type: conv, name: c, filters: 3, kernel: 1, groups: 2}]",
     ("s.yaml:2: layer 1 'c': field 'groups': filters must be divisible by groups (got 2, expected a divisor of "
     "filters=3)")),
    ("input: [4]\nlayers: [{type: conv, name: c, filters: 3, kernel: 1}]",
     ("s.yaml:2: layer 1 'c': a conv layer needs an input of shape [H, W, C] (or [L, C], [D, H, W, C]) (got [4], "
      "expected 2 to 4 axes, channels last)")),
    ("input: [4]\nblocks: [1]\nlayers: [{type: relu}]",
     ("s.yaml:2: field 'blocks': 'blocks' must be a mapping of block names to definitions (got 'LineList', expected "
     "a mapping)")),
    ("input: [4]\nblocks:\n  b:\n    params: {}\n    layers: [{type: relu}]\n    extra: 1\nlayers: [{block: b}]",
     "s.yaml:6: field 'extra': unknown key in block 'b'; expected params, layers, output"),
    ("input: [4]\nblocks:\n  b:\n    params: [1]\n    layers: [{type: relu}]\nlayers: [{block: b}]",
     "s.yaml:4: field 'params': 'params' of block 'b' must map parameter names to defaults (got [1])"),
    ("input: [4]\nlayers: [{type: relu, name: r, repeat: 2, inputs: 5}]",
     "s.yaml:2: field 'inputs': bad 'inputs' (got 5, expected a layer name or a list of names)"),
])
def test_more_spec_error_lines(spec, message):
    with pytest.raises(CnnCalcError) as caught:
        analyse(loads_spec(spec, "s.yaml"))
    assert str(caught.value) == message


def test_reader_error_lines(tmp_path):
    from cnncalc.run.executor import load_weights_file
    from cnncalc.spec import safeload

    with pytest.raises(CnnCalcError) as caught:
        safeload.loads("a: &x [*x]", "s.yaml")
    assert str(caught.value) == "s.yaml:1: recursive alias"
    missing = tmp_path / "x.yaml"
    with pytest.raises(CnnCalcError) as caught:
        safeload.read_limited(missing, 10, "spec")
    assert str(caught.value) == f"{missing}: cannot read the spec: No such file or directory"
    with pytest.raises(CnnCalcError) as caught:
        load_weights_file(tmp_path / "w.npz")
    assert str(caught.value) == f"{tmp_path / 'w.npz'}: cannot read the weights file: No such file or directory"


def test_pool_stride_null_means_the_kernel_and_transpose_macs_line():
    pool = analyse(loads_spec("input: [4, 4, 1]\nlayers: [{type: maxpool, kernel: 2, stride: null}]")).records[0]
    assert pool.output_shape == (2, 2, 1)
    up = analyse(loads_spec("input: [3, 3, 1]\nlayers: [{type: conv_transpose, filters: 1, kernel: 2, stride: 2}]"))
    assert up.records[0].explain[-2:] == ["MACs: 3·3·1·2·2·1 = 36 (input-side count)",
                                          "RF: r = r_prev + (⌈k_eff/s⌉ − 1)·j_prev = 1 + (1 − 1)·1 = 1, j = j_prev/s = 1/2 = 0.5"]


def test_error_lines_show_got_and_expected_each_when_given():
    assert str(CnnCalcError("bad", got=5)) == "bad (got 5)", "a value without an expectation is still shown"
    assert str(CnnCalcError("bad", expected="an int")) == "bad (expected an int)", "no 'got None' when nothing was got"
    assert str(CnnCalcError("bad", got=None, expected="an int")) == "bad (got None, expected an int)", "a null value"
    assert str(CnnCalcError("bad", got="x", expected="y", hint="h")) == "bad (got 'x', expected y); h"
    assert str(CnnCalcError("bad")) == "bad"


@pytest.mark.parametrize(("spec", "message"), [
    (("input: [4]\nblocks: {b: {params: {f: 1}, layers: [{type: relu}]}}\nlayers:\n  - {block: b, when: false,\n"
     "     g: 2}"), ("s.yaml:5: field 'g': unknown argument for block 'b' (in a use switched off by 'when'); its "
     "parameters: f")),
    ("input: [4]\nblocks: {b: {params: {}, layers: [{type: relu}]}}\nlayers:\n  - {block: b,\n     trainable: 2}",
     "s.yaml:5: field 'trainable': bad value (got 2, expected true or false)"),
    ("input: [4]\nlayers:\n  - {type: relu}\n  - {type: subtract, name: d, inputs: [input, relu1, relu1]}",
     ("s.yaml:4: layer 2 'd': field 'inputs': subtract takes exactly two inputs (the first minus the second) "
     "(got ['input', 'relu1', 'relu1'], expected two layer names)")),
])
def test_block_use_error_lines(spec, message):
    with pytest.raises(CnnCalcError) as caught:
        analyse(loads_spec(spec, "s.yaml"))
    assert str(caught.value) == message


def test_the_layer_cap_names_the_block_it_was_expanding(monkeypatch):
    from cnncalc.spec import blocks

    monkeypatch.setattr(blocks, "MAX_LAYERS", 5)
    spec = ("input: [4]\nblocks:\n  b:\n    params: {}\n    layers:\n" + "      - {type: relu, when: false}\n" * 6
            + "layers:\n  - {block: b, name: outer}\n")
    with pytest.raises(CnnCalcError) as caught:
        loads_spec(spec, "s.yaml")
    assert str(caught.value).startswith("s.yaml:11: expanding block 'b' in 'outer': more than 5 layers"), str(
        caught.value)


def test_index_in_a_plain_layer_repeated_twice():
    spec = "input: [8, 8, 1]\nlayers:\n  - {type: zero_pad, name: z, repeat: 2, padding: $index}\n"
    assert shapes_of(spec) == {"z.0": (8, 8, 1), "z.1": (10, 10, 1)}


def test_a_layer_of_a_block_may_name_a_later_layer_of_the_block():
    spec = """
input: [6, 6, 2]
blocks:
  b:
    params: {}
    layers:
      - {type: add, name: total, inputs: [left, right]}
      - {type: conv, name: left, inputs: input, filters: 2, kernel: 1}
      - {type: conv, name: right, inputs: input, filters: 2, kernel: 3, padding: 1}
    output: total
layers:
  - {block: b, name: x}
"""
    network = loads_spec(spec)
    inputs = {layer.name: layer.inputs for layer in network.layers}
    assert inputs["x.total"] == ("x.left", "x.right") or list(inputs["x.total"]) == ["x.left", "x.right"]
    assert shapes_of(spec)["x.total"] == (6, 6, 2)


def test_each_alias_of_a_scalar_counts_one_value(monkeypatch):
    from cnncalc.spec import safeload

    # the mapping, 'a', 1, 'b', the list and n aliases: 5 + n values
    monkeypatch.setattr(safeload, "MAX_VALUES", 20)
    safeload.loads("a: &x 1\nb: [" + ", ".join(["*x"] * 15) + "]\n")
    with pytest.raises(CnnCalcError, match="too many values"):
        safeload.loads("a: &x 1\nb: [" + ", ".join(["*x"] * 16) + "]\n")


def test_reading_the_head_of_a_file_reads_exactly_that_much(tmp_path):
    from cnncalc.spec import safeload

    path = tmp_path / "long.json"
    path.write_bytes(b"0123456789")
    assert safeload.read_limited(path, 4, "spec", head=True) == b"0123"
    assert safeload.read_limited(path, 10, "spec") == b"0123456789"
    with pytest.raises(CnnCalcError, match="too large"):
        safeload.read_limited(path, 9, "spec")
