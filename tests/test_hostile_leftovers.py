"""Leftovers of the reliability issue: a spec whose every layer is switched off, zero divisors hidden in
`solve` values, 16-bit grey images, an empty spec name. Each ends in one clear line and exit 2, or in the
right answer, never a traceback or a wrong answer with exit 0."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnncalc import CnnCalcError, loads_spec


def refused(result, *fragments: str) -> None:
    code, out, err = result
    assert code == 2, (code, out, err)
    assert "internal error" not in err and "Traceback" not in err
    assert err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


# ---------------------------------------------------------------- every layer switched off by `when`


OFF = {
    "a block's only layer": "blocks:\n  b:\n    params: {}\n    layers:\n      - {type: relu, when: false}\n"
                            "layers:\n  - {block: b}\n",
    "the only block use": "blocks:\n  b:\n    params: {}\n    layers:\n      - {type: relu}\n"
                          "layers:\n  - {block: b, when: false}\n",
    "every use of a repeated block": "blocks:\n  b:\n    params: {use: false}\n    layers:\n"
                                     "      - {type: relu, when: $use}\n      - {type: sigmoid, when: $use}\n"
                                     "layers:\n  - {block: b, repeat: 3}\n",
}


@pytest.mark.parametrize("layers", OFF.values(), ids=OFF.keys())
def test_a_spec_with_every_layer_switched_off_is_refused(tmp_path, cli, layers):
    spec = tmp_path / "off.yaml"
    spec.write_text("input: [4, 4, 1]\n" + layers)
    x = tmp_path / "x.npy"
    np.save(x, np.arange(16.0).reshape(4, 4, 1))
    for command in (["run", str(spec), "--input", str(x)], ["summary", str(spec)]):
        refused(cli(*command), "off.yaml:", "field 'layers'", "no layer is left",
                "switched off by 'when'", "expected at least one layer that runs")


def test_one_layer_left_on_is_enough(tmp_path, cli):
    spec = tmp_path / "one.yaml"
    spec.write_text("input: [4, 4, 1]\nblocks:\n  b:\n    params: {use: false}\n    layers:\n"
                    "      - {type: relu, when: $use}\nlayers:\n  - {block: b}\n  - {block: b, use: true}\n")
    x = tmp_path / "x.npy"
    values = np.arange(16.0).reshape(4, 4, 1) - 8  # −8 … 7: relu keeps 0 … 7
    np.save(x, values)
    code, out, err = cli("run", str(spec), "--input", str(x), "--format", "json")
    assert code == 0, err
    np.testing.assert_array_equal(np.asarray(json.loads(out)["output"]), np.maximum(values, 0))


# ---------------------------------------------------------------- zero divisors in `solve`


@pytest.mark.parametrize("args, fragments", [
    # the value names another quantity of the formula, given as a number: that number is put in
    (["--n", "10", "--f", "3", "--s", "f-3", "--for", "out"],
     ["--s is out of range: 'f-3' with f = 3 is 0", "at least 1 (stride)"]),
    (["--n", "10", "--f", "3", "--s", "d-1", "--out", "4", "--for", "p"],
     ["--s is out of range: 'd-1' with d = 1 is 0"]),  # d left at its default, 1
    (["--n", "10", "--f", "3", "--s", "p-2", "--p", "2", "--for", "out"], ["'p-2' with p = 2 is 0"]),
    # a polynomial that is zero once expanded, which sympy does not see on its own
    (["--n", "10", "--f", "3", "--s", "(k+1)**2-k**2-2*k-1", "--for", "out"],
     ["--s is out of range: '(k+1)**2-k**2-2*k-1' is 0 whatever k"]),
    (["--n", "10", "--f", "3", "--s", "(k+1)*(k+1)-k*k-2*k-1", "--out", "4", "--for", "p"],
     ["'(k+1)*(k+1)-k*k-2*k-1' is 0 whatever k"]),
    (["--n", "n/((k+1)**2-k**2-2*k-1)", "--f", "3", "--for", "out"], ["bad value for --n: division by zero"]),
    (["--n", "n*(k*k-k*k)**-1", "--f", "3", "--for", "out"], ["bad value for --n: division by zero"]),
    (["--transpose", "--n", "4", "--f", "3", "--s", "f-3", "--for", "out"], ["'f-3' with f = 3 is 0"]),
    (["--n", "10", "--s", "f-1", "--out", "4", "--for", "f"], ["--s uses the unknown 'f'"]),
])
def test_a_zero_divisor_is_an_error_naming_the_value(cli, args, fragments):
    code, out, err = cli("solve", *args)
    refused((code, out, err), *fragments)
    assert "zoo" not in out + err and "no solution" not in out


def test_a_value_that_names_another_quantity_means_that_quantity(cli_json):
    # --s 'f-2' with --f 3: a stride of 1, so out = 10 − 3 + 1 = 8 (not floor(7/(f − 2)) + 1)
    assert cli_json("solve", "--n", "10", "--f", "3", "--s", "f-2", "--for", "out")["solutions"] == [8]
    # 'same' padding written as a value: p = (f − 1)/2 keeps the size whatever f is
    result = cli_json("solve", "--n", "n", "--f", "f", "--p", "(f-1)/2", "--for", "out")
    assert result["solutions"] == ["n"]
    # a symbolic stride that is not always zero is a symbol's business: floor(7/(2k)) + 1
    result = cli_json("solve", "--n", "10", "--f", "3", "--s", "2*k", "--for", "out")
    assert result["solutions"] == ["floor(7/(2*k)) + 1"]
    assert result["steps"][1] == "out = ⌊(10 + 2·0 − 3)/(2*k)⌋ + 1"
    # a polynomial that expands to a constant is that constant: (k+1)² − k² − 2k = 1
    assert cli_json("solve", "--n", "10", "--f", "3", "--s", "(k+1)**2-k**2-2*k", "--for", "out")["solutions"] == [8]


def test_an_equation_sympy_decides_alone_is_no_internal_error(cli):
    # n − 2 = n + 2p − 3 has no integer p; sympy turned the equation into False before it was shown
    code, out, err = cli("solve", "--n", "n", "--f", "3", "--out", "n-1", "--for", "p", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["solutions"] == [] and data["notes"] == ["no solution"]
    assert data["steps"][-1] == "taking the division as exact: n - 2 = n + 2*p - 3"


def test_transposed_same_solves_for_the_stride_and_every_n(cli_json):
    # kernel 4, padding 1, stride 2 doubles any size: (n − 1)·2 − 2 + 3 + 1 = 2n
    assert cli_json("solve", "--transpose", "--same", "--n", "8", "--f", "4", "--p", "1",
                    "--for", "s")["solutions"] == [2]
    every = cli_json("solve", "--transpose", "--same", "--s", "2", "--f", "4", "--p", "1", "--for", "n")
    assert every["range"] == [1, None] and every["notes"] == ["every n ≥ 1 works (unbounded)"]


# ---------------------------------------------------------------- 16-bit grey images


GREY_SPEC = "input: [3, 4, 1]\nlayers:\n  - {type: relu}\n"


@pytest.mark.parametrize("dtype, suffix", [(np.uint16, ".png"), (np.int32, ".tif"), (np.float32, ".tif")])
def test_wide_grey_images_are_one_channel_with_their_values(tmp_path, cli, dtype, suffix):
    image_module = pytest.importorskip("PIL.Image")
    values = (np.arange(12).reshape(3, 4) * 5000 + 7).astype(dtype)  # up to 55,007: above 255 and 8 bits
    path = tmp_path / f"grey{suffix}"
    image_module.fromarray(values).save(path)
    spec = tmp_path / "grey.yaml"
    spec.write_text(GREY_SPEC)
    code, out, err = cli("run", str(spec), "--input", str(path), "--format", "json")
    assert code == 0, err
    np.testing.assert_array_equal(np.asarray(json.loads(out)["output"])[:, :, 0], values.astype(float))


@pytest.mark.parametrize("mode, expected", [("1", [0, 255]), ("LA", [0, 200])])
def test_bilevel_and_grey_alpha_images_are_one_channel(tmp_path, cli, mode, expected):
    image_module = pytest.importorskip("PIL.Image")
    grey = np.zeros((3, 4), dtype=np.uint8)
    grey[:, 2:] = 200
    path = tmp_path / "grey.png"
    image = image_module.fromarray(grey)
    # bilevel without dithering: 200 is above the threshold, so white
    (image.convert(mode, dither=image_module.Dither.NONE) if mode == "1" else image.convert(mode)).save(path)
    spec = tmp_path / "grey.yaml"
    spec.write_text(GREY_SPEC)
    code, out, err = cli("run", str(spec), "--input", str(path), "--format", "json")
    assert code == 0, err
    low, high = expected
    np.testing.assert_array_equal(np.asarray(json.loads(out)["output"])[:, :, 0],
                                  np.tile([low, low, high, high], (3, 1)))


def test_a_16_bit_grey_image_for_a_colour_spec_says_one_channel(tmp_path, cli):
    image_module = pytest.importorskip("PIL.Image")
    path = tmp_path / "grey16.png"
    image_module.fromarray(np.full((3, 4), 40000, dtype=np.uint16)).save(path)
    spec = tmp_path / "rgb.yaml"
    spec.write_text("input: [3, 4, 3]\nlayers:\n  - {type: relu}\n")
    refused(cli("run", str(spec), "--input", str(path)), "got [3, 4, 1], expected [3, 4, 3]")


# ---------------------------------------------------------------- an empty name


@pytest.mark.parametrize("command", [["summary", ""], ["run", "", "--input", "x.npy"],
                                     ["solve", "--spec", "", "--for", "n"]])
def test_an_empty_spec_name_says_so(cli, command):
    refused(cli(*command), "the spec name is empty", "a spec file, the name of a built-in spec")


def test_an_empty_input_name_says_so(tmp_path, cli):
    spec = tmp_path / "s.yaml"
    spec.write_text(GREY_SPEC)
    refused(cli("run", str(spec), "--input", ""), "the input file name is empty")


def test_the_library_says_it_too():
    from cnncalc.spec.network import load_spec

    with pytest.raises(CnnCalcError, match="the spec name is empty"):
        load_spec("")
    with pytest.raises(CnnCalcError, match="no layer is left"):
        loads_spec("input: [4]\nblocks: {b: {params: {}, layers: [{type: relu}]}}\nlayers: [{block: b, when: false}]")


def test_values_that_name_each_other(cli, cli_json):
    # a chain is resolved in order: d = 2, p = d − 1 = 1, s = p − 1 = 0
    refused(cli("solve", "--n", "10", "--f", "3", "--s", "p-1", "--p", "d-1", "--d", "2", "--for", "out"),
            "--s is out of range: 'p-1' with p = 1 is 0")
    # s = p = d = 2: ⌊(10 + 2·2 − 2·(3 − 1) − 1)/2⌋ + 1 = ⌊9/2⌋ + 1 = 5
    assert cli_json("solve", "--n", "10", "--f", "3", "--s", "p", "--p", "d", "--d", "2",
                    "--for", "out")["solutions"] == [5]
    # a value's own name is its symbol: an input of 2n gives 2n − 2
    assert cli_json("solve", "--n", "2*n", "--f", "3", "--for", "out")["solutions"] == ["2*(n - 1)"]
    refused(cli("solve", "--n", "10", "--f", "3", "--s", "p+1", "--p", "s+1", "--for", "out"),
            "values name each other in a circle: --p 's+1' → --s 'p+1' → --p 's+1'")
