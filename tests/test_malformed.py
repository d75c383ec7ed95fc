"""Bad specs: each ends with exit code 2 and one clear message naming where and what."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncalc import CnnCalcError, analyse, loads_spec

HEAD = "input: [32, 32, 3]\nlayers:\n"

# (id, spec text, phrases the message must contain)
CASES = [
    ("empty-file", "", ["the spec is empty"]),
    ("only-comment", "# nothing\n", ["the spec is empty"]),
    ("not-a-mapping", "- 1\n- 2\n", ["must be a mapping", "expected a mapping"]),
    ("yaml-syntax", HEAD + "  - {type: conv, filters: 8, kernel: [3, 3}\n", ["YAML syntax error", ":3"]),
    ("bad-indent", "input: [32, 32, 3]\nlayers:\n  - type: conv\n   filters: 8\n", ["YAML syntax error"]),
    ("python-tag", HEAD + "  - !!python/object/apply:os.system ['echo hi']\n", ["tag not allowed", ":3"]),
    ("python-name-tag", "input: !!python/name:os.system\nlayers: []\n", ["tag not allowed"]),
    ("missing-input", "layers:\n  - {type: flatten}\n", ["missing 'input'"]),
    ("missing-layers", "input: [4, 4, 1]\n", ["missing 'layers'"]),
    ("empty-layers", "input: [4, 4, 1]\nlayers: []\n", ["non-empty list"]),
    ("top-level-typo", "input: [4, 4, 1]\nlayer:\n  - {type: flatten}\n", ["unknown top-level key",
                                                                           "did you mean 'layers'"]),
    ("input-five-dims", "input: [4, 4, 4, 4, 1]\nlayers: [{type: flatten}]\n", ["field 'input'", "got [4, 4, 4, 4, 1]"]),
    ("input-zero", "input: [0, 4, 1]\nlayers: [{type: flatten}]\n", ["field 'input'", "positive integers"]),
    ("input-bad-symbol", "input: ['n+1', 4, 1]\nlayers: [{type: flatten}]\n", ["field 'input'"]),
    ("input-python-code", "input: [\"__import__('os')\", 4, 1]\nlayers: [{type: flatten}]\n",
     ["field 'input'"]),
    ("layer-not-mapping", HEAD + "  - conv\n", ["layer 1", "must be a mapping"]),
    ("missing-type", HEAD + "  - {name: c1, filters: 8}\n", ["layer 1 'c1'", "missing 'type'"]),
    ("unknown-type", HEAD + "  - {type: convolution, filters: 8, kernel: 3}\n",
     ["layer 1", "unknown layer type", "did you mean 'conv'"]),
    ("type-typo-pool", HEAD + "  - {type: maxpol, kernel: 2}\n", ["did you mean 'maxpool'"]),
    ("field-typo", HEAD + "  - {type: conv, name: c1, filters: 8, kernal: 3}\n",
     ["layer 1 'c1'", "field 'kernal'", "did you mean 'kernel'", ":3"]),
    ("unknown-field", HEAD + "  - {type: maxpool, kernel: 2, filters: 3}\n",
     ["field 'filters'", "unknown field for a maxpool layer"]),
    ("missing-filters", HEAD + "  - {type: conv, kernel: 3}\n", ["field 'filters'", "missing required"]),
    ("missing-kernel", HEAD + "  - {type: conv, filters: 3}\n", ["field 'kernel'", "missing required"]),
    ("filters-string", HEAD + "  - {type: conv, filters: eight, kernel: 3}\n",
     ["field 'filters'", "got 'eight'", "positive integer"]),
    ("filters-float", HEAD + "  - {type: conv, filters: 2.5, kernel: 3}\n", ["field 'filters'", "got 2.5"]),
    ("filters-bool", HEAD + "  - {type: conv, filters: true, kernel: 3}\n", ["field 'filters'", "got True"]),
    ("kernel-zero", HEAD + "  - {type: conv, filters: 8, kernel: 0}\n", ["field 'kernel'", "got 0"]),
    ("kernel-three", HEAD + "  - {type: conv, filters: 8, kernel: [3, 3, 3]}\n", ["field 'kernel'"]),
    ("stride-negative", HEAD + "  - {type: conv, filters: 8, kernel: 3, stride: -1}\n", ["field 'stride'"]),
    ("padding-word", HEAD + "  - {type: conv, filters: 8, kernel: 3, padding: sme}\n",
     ["field 'padding'", "did you mean 'same'"]),
    ("padding-negative", HEAD + "  - {type: conv, filters: 8, kernel: 3, padding: -1}\n", ["field 'padding'"]),
    ("bias-string", HEAD + "  - {type: conv, filters: 8, kernel: 3, bias: yes please}\n", ["field 'bias'"]),
    ("activation-typo", HEAD + "  - {type: dense, units: 3, activation: rleu}\n",
     ["field 'activation'", "did you mean 'relu'"]),
    ("kernel-too-big", HEAD + "  - {type: conv, name: big, filters: 8, kernel: 33}\n",
     ["layer 1 'big'", "larger than the padded input", "got 32", "at least 33"]),
    ("kernel-too-big-later", HEAD + "  - {type: conv, filters: 8, kernel: 30}\n  - {type: conv, filters: 8, kernel: 5}\n",
     ["layer 2 'conv2'", "larger than the padded input", "bad.yaml:4"]),
    ("dilated-too-big", HEAD + "  - {type: conv, filters: 8, kernel: 3, dilation: 16}\n",
     ["span 33 with dilation 16"]),
    ("pool-too-big", "input: [3, 3, 1]\nlayers: [{type: maxpool, kernel: 4}]\n", ["larger than the padded input"]),
    ("pool-padding-too-big", HEAD + "  - {type: maxpool, kernel: 2, padding: 2}\n",
     ["at most half the window"]),
    ("conv-on-vector", "input: [10]\nlayers: [{type: conv, filters: 1, kernel: 1}]\n",
     ["needs an input of shape [H, W, C]"]),
    ("groups-mismatch", HEAD + "  - {type: conv, filters: 8, kernel: 3, groups: 2}\n",
     ["groups", "divisible"]),
    ("filters-groups", HEAD + "  - {type: conv, filters: 8, kernel: 3, groups: 3}\n",
     ["filters must be divisible by groups"]),
    ("duplicate-name", HEAD + "  - {type: conv, name: a, filters: 8, kernel: 3}\n  - {type: relu, name: a}\n",
     ["layer 2 'a'", "duplicate layer name", ":4"]),
    ("reserved-name", HEAD + "  - {type: relu, name: input}\n", ["reserved"]),
    ("unknown-input", HEAD + "  - {type: conv, name: a, filters: 8, kernel: 3}\n  - {type: relu, inputs: b}\n",
     ["layer 2", "unknown layer in 'inputs'", "got 'b'"]),
    ("input-typo", HEAD + "  - {type: conv, name: conv_a, filters: 8, kernel: 3}\n"
                          "  - {type: relu, inputs: conv_b}\n", ["did you mean 'conv_a'"]),
    ("cycle", HEAD + "  - {type: conv, name: a, filters: 3, kernel: 1, inputs: b}\n"
                     "  - {type: conv, name: b, filters: 3, kernel: 1, inputs: a}\n", ["cycle", "'a'", "'b'"]),
    ("self-loop", HEAD + "  - {type: relu, name: a, inputs: a}\n", ["cycle"]),
    ("add-one-input", HEAD + "  - {type: add, inputs: input}\n", ["two or more inputs"]),
    ("add-mismatch", HEAD + "  - {type: conv, name: a, filters: 8, kernel: 3}\n"
                            "  - {type: add, name: s, inputs: [a, input]}\n",
     ["layer 2 's'", "equal shapes", "'input'"]),
    ("concat-mismatch", HEAD + "  - {type: conv, name: a, filters: 8, kernel: 3}\n"
                               "  - {type: concat, inputs: [a, input]}\n", ["concat", "differs on axis 0"]),
    ("concat-bad-axis", HEAD + "  - {type: concat, inputs: [input, input], axis: 5}\n", ["axis out of range"]),
    ("conv-two-inputs", HEAD + "  - {type: relu, name: r}\n  - {type: conv, filters: 1, kernel: 1, inputs: [r, input]}\n",
     ["takes one input"]),
    ("reshape-bad", HEAD + "  - {type: reshape, shape: [7, 7]}\n", ["cannot reshape 3072 values"]),
    ("reshape-two-minus", HEAD + "  - {type: reshape, shape: [-1, -1]}\n", ["field 'shape'"]),
    ("transpose-output-padding", HEAD + "  - {type: conv_transpose, filters: 2, kernel: 3, output_padding: 1}\n",
     ["output_padding must be smaller"]),
    ("dropout-rate", HEAD + "  - {type: dropout, rate: 1.5}\n", ["field 'rate'", "[0, 1)"]),
    ("duplicate-key", HEAD + "  - {type: conv, filters: 8, filters: 4, kernel: 3}\n", ["duplicate key 'filters'"]),
    ("name-not-string", HEAD + "  - {type: relu, name: [a]}\n", ["field 'name'"]),
    ("inputs-number", HEAD + "  - {type: relu, inputs: 3}\n", ["field 'inputs'"]),
]


@pytest.mark.parametrize("text, phrases", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_spec_api(text, phrases):
    with pytest.raises(CnnCalcError) as info:
        analyse(loads_spec(text, "bad.yaml"))
    message = str(info.value)
    assert message.startswith("bad.yaml")
    for phrase in phrases:
        assert phrase in message, message


@pytest.mark.parametrize("text, phrases", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_spec_cli(tmp_path, cli, text, phrases):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    for command in ("summary", "validate"):
        code, out, err = cli(command, str(path))
        assert code == 2
        assert out == ""
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")
        for phrase in phrases:
            assert phrase in err


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30


def test_missing_file_and_zoo_typo(cli):
    code, _, err = cli("summary", "lenet")
    assert code == 2 and "did you mean 'lenet5'" in err
    code, _, err = cli("summary", "/no/such/file.yaml")
    assert code == 2 and "no such file" in err


def test_binary_file(tmp_path, cli):
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\xff\xfe\x00binary")
    code, _, err = cli("summary", str(path))
    assert code == 2 and "not a UTF-8 text file" in err


def test_alias_bomb_is_capped():
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 80):
        lines.append(f"a{i}: &a{i} [*a{i - 1}]")
    with pytest.raises(CnnCalcError, match="nesting deeper"):
        loads_spec("\n".join(lines) + "\ninput: [1]\nlayers: [{type: flatten}]\n")
    # billion laughs: 9 levels of 9 references each would be 9⁹ values
    laughs = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        laughs.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    with pytest.raises(CnnCalcError, match="too many values"):
        loads_spec("\n".join(laughs) + "\n")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_any_text_is_a_spec_or_a_clean_error(text):
    try:
        analyse(loads_spec(text))
    except CnnCalcError:
        pass


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 40) | st.sampled_from(["same", "valid", "full", "x", "input"]),
    lambda inner: st.lists(inner, max_size=3), max_leaves=6)
_layer = st.dictionaries(
    st.sampled_from(["type", "filters", "kernel", "stride", "padding", "units", "inputs", "name", "dilation",
                     "groups", "ceil_mode", "axis", "shape", "rate", "keepdims"]),
    _values, max_size=5).map(lambda d: {**d, "type": d.get("type")}) | st.fixed_dictionaries(
    {"type": st.sampled_from(["conv", "maxpool", "dense", "add", "concat", "flatten", "reshape", "zero_pad",
                              "conv_transpose", "depthwise_conv", "relu", "global_avgpool"]),
     "kernel": st.integers(0, 9), "filters": st.integers(0, 9), "units": st.integers(1, 9),
     "stride": st.integers(1, 3), "padding": st.sampled_from([0, 1, "same", "full", [1, 0]])})


@settings(max_examples=300, deadline=None)
@given(st.lists(_layer, min_size=1, max_size=5), st.sampled_from([[16, 16, 3], [10], [5, 7, 2]]))
def test_random_structured_specs_never_crash(layers, input_shape):
    from cnncalc import build_network

    try:
        analyse(build_network({"input": input_shape, "layers": layers}))
    except CnnCalcError as error:
        assert str(error)
