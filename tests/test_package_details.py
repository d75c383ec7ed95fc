"""Details of maths, layers, spec, calc and run that the broader tests pass over: the time budget's state
after it ends, the term cap's edge, a product's saved partial results, group norm's weight names, the YAML
loader without libyaml, the zoo's size label, the receptive-field hull's long-window path, encrypted
weight members and the options named in output-path refusals."""

from __future__ import annotations

import io
import signal
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnncalc import CnnCalcError
from cnncalc.layers import LAYER_TYPES

ROOT = Path(__file__).resolve().parent.parent


def make(type_name: str, n_inputs: int = 1, **fields):
    cls = LAYER_TYPES[type_name]
    return cls(type_name, type_name + "1", 1, [f"in{i}" for i in range(n_inputs)],
               cls.parse_fields(type_name, dict(fields)))


# ---------------------------------------------------------------- maths


def test_a_budget_leaves_no_deadline_and_no_timer_behind():
    from cnncalc.maths import budget

    with budget.time_budget("first", 5):
        assert budget._state.deadline is not None
    assert getattr(budget._state, "deadline", None) is None
    if hasattr(signal, "getitimer"):
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    with budget.time_budget("second", 5):  # a later budget is an outer one again: it arms its own deadline
        inner = budget._state.deadline
        assert inner is not None
        with budget.time_budget("nested", 1):  # nested: the outer deadline stays
            assert budget._state.deadline == inner
        assert budget._state.deadline == inner
    assert getattr(budget._state, "deadline", None) is None


def test_the_term_cap_admits_exactly_max_terms():
    from cnncalc.maths import expr

    assert expr.MAX_TERMS == 64
    square = "(a + b + c + d + e + f + g + h) * (i + j + k + l + m + n + o + p)"
    expr.check_symbolic(expr.parse(square))  # 8 · 8 = 64 monomials: accepted
    with pytest.raises(CnnCalcError, match="expands to 65 terms"):
        expr.check_symbolic(expr.parse(square + " + z"))


# ---------------------------------------------------------------- layers


def test_a_product_of_three_keeps_its_partial_result():
    saved = make("multiply", 3).saved_for_backward([(4, 5), (4, 5), (4, 5)], (4, 5), "pytorch")
    assert [(s.what, s.index) for s in saved[:3]] == [("input", 0), ("input", 1), ("input", 2)]
    assert len(saved) == 4 and saved[3].what == "own" and saved[3].elements == 20
    assert "partial result" in saved[3].why
    assert make("add", 3).saved_for_backward([(4,)] * 3, (4,), "pytorch") == []


def test_group_norm_weights_are_gamma_and_beta_per_channel():
    layer = make("groupnorm", groups=2)
    assert layer.weight_shapes([(3, 3, 4)]) == {"gamma": (4,), "beta": (4,)}
    x = np.random.default_rng(5).normal(size=(1, 3, 3, 4))
    gamma, beta = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, -0.5, 1.5, -1.5])
    got = layer.forward([x], {"gamma": gamma, "beta": beta}, (3, 3, 4))
    want = np.empty_like(x)
    for g in range(2):  # a literal group norm: statistics over the group's channels and every position
        part = x[..., 2 * g:2 * g + 2]
        want[..., 2 * g:2 * g + 2] = (part - part.mean()) / np.sqrt(part.var() + 1e-5)
    np.testing.assert_allclose(got, want * gamma + beta, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- spec


def test_specs_load_without_libyaml(monkeypatch):
    import yaml

    from cnncalc.spec import safeload

    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    monkeypatch.setattr(safeload, "_LOADER", [])  # the loader class is made again, from PyYAML's own
    assert safeload.loads("a: [1, 2]\nb: {c: 3}", "x.yaml") == {"a": [1, 2], "b": {"c": 3}}
    assert safeload._LOADER[0].__mro__[1] is yaml.SafeLoader


def test_a_zoo_file_too_large_names_a_spec(monkeypatch):
    from cnncalc.spec import zoo

    monkeypatch.setattr(zoo, "MAX_BYTES", 10)
    with pytest.raises(CnnCalcError, match=r"resnet50\.yaml: spec too large"):
        zoo.parsed("resnet50")


# ---------------------------------------------------------------- calc


def test_receptive_field_hull_long_windows_agree_with_the_exact_path(monkeypatch):
    from cnncalc.calc import analysis

    empty = analysis._EMPTY
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(3, 12))
        lo = np.sort(rng.integers(0, 40, n)).astype(float)
        hi = lo + rng.integers(0, 5, n)
        hi = np.maximum.accumulate(hi)  # fields below are ordered, as the long path assumes
        holes = rng.random(n) < 0.4  # pixels that read nothing (after a transposed conv's missed taps)
        lo[holes], hi[holes] = empty, -empty
        first = rng.integers(-4, n + 4, 20)
        last = first + rng.integers(0, 6, 20)
        jump = float(rng.choice([0.5, 1.0, 2.0]))
        exact = analysis._range_hull(lo, hi, jump, first, last)
        monkeypatch.setattr(analysis, "EXACT_TAPS", 0)
        long = analysis._range_hull(lo, hi, jump, first, last)
        monkeypatch.undo()
        np.testing.assert_array_equal(long[0], exact[0])
        np.testing.assert_array_equal(long[1], exact[1])


# ---------------------------------------------------------------- run


def _weights_zip(flag_bits: int) -> bytes:
    array = io.BytesIO()
    np.save(array, np.ones(3))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("conv1.w.npy", array.getvalue())
    data = bytearray(buffer.getvalue())
    # the general-purpose flag bits of the local header (offset 6) and the central directory entry (8)
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 6:local + 8] = flag_bits.to_bytes(2, "little")
    data[central + 8:central + 10] = flag_bits.to_bytes(2, "little")
    return bytes(data)


def test_an_encrypted_weights_member_is_refused_and_other_flags_are_not(tmp_path):
    from cnncalc.run.files import load_weights_file as read_weights

    encrypted = tmp_path / "encrypted.npz"
    encrypted.write_bytes(_weights_zip(0x1))
    with pytest.raises(CnnCalcError, match="member 'conv1.w.npy' is encrypted"):
        read_weights(str(encrypted))
    flagged = tmp_path / "flagged.npz"
    flagged.write_bytes(_weights_zip(0x2))  # a compression option bit: nothing to refuse
    np.testing.assert_array_equal(read_weights(str(flagged))["conv1.w"], np.ones(3))


def test_save_maps_refusals_name_the_option(tmp_path, cli):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [8, 8, 1]\nlayers:\n  - {type: conv, f: 3, c: 2}\n")
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((8, 8, 1)))
    code, _, err = cli("run", str(spec), "-i", str(data), "--save-maps", str(tmp_path / "nowhere" / "x.png"))
    assert code == 2 and err == (f"error: {tmp_path / 'nowhere' / 'x.png'}: --save-maps: the folder does not exist "
                                 f"(got '{tmp_path / 'nowhere'}', expected an existing folder)\n")
    code, _, err = cli("run", str(spec), "-i", str(data), "--save-maps", str(tmp_path / "maps.txt"))
    assert code == 2 and err.startswith("error: --save-maps must end in .png or .jpg or .jpeg (got ")


def test_an_output_that_names_a_folder_is_refused_in_words():
    from cnncalc.outputs import check_output

    for name in ("", ".", "..", "out/.."):
        with pytest.raises(CnnCalcError, match="refused: this names a folder, not a file"):
            check_output(name)


def test_run_files_checks_its_own_output_paths(tmp_path):
    # the library function, called without the CLI's model reader in front of it
    from cnncalc.run.service import run_files

    spec = tmp_path / "net.yaml"
    spec.write_text("input: [8, 8, 1]\nlayers:\n  - {type: conv, f: 3, c: 2}\n")
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((8, 8, 1)))
    with pytest.raises(CnnCalcError) as error:
        run_files(str(spec), str(data), seed=1, save_maps=str(tmp_path / "nowhere" / "x.png"))
    assert str(error.value).startswith(f"{tmp_path / 'nowhere' / 'x.png'}: --save-maps: the folder does not exist")
    with pytest.raises(CnnCalcError, match=r"^--output must end in \.npy"):
        run_files(str(spec), str(data), seed=1, output=str(tmp_path / "out.txt"))


@pytest.mark.parametrize(("layer", "message"), [
    ("{type: batchnorm, mean: [1, 2], var: [1, 1, 1], center: false, scale: false}",
     r"field 'mean': the inline 'mean' array does not fit the layer \(got \[2\], expected an array of shape \[3\]\)"),
    ("{type: conv, kernel: 1, filters: 2, bias: [1, 2, 3]}", r"field 'bias': .* \(got \[3\], expected .*\[2\]\)"),
    ("{type: conv, kernel: 1, filters: 2, weight: [[[[1, 2], [3]]]]}", "field 'weight': .*got 'ragged nested lists'"),
    ("{type: conv, kernel: 1, filters: 2, weight: [[[1, 2, 3]]]}", r"got \[1, 1, 3\], expected .*\[1, 1, 3, 2\]"),
])
def test_summary_checks_inline_weights_as_run_does(tmp_path, cli, layer, message):
    import re

    spec = tmp_path / "net.yaml"
    spec.write_text(f"input: [4, 4, 3]\nlayers:\n  - {layer}\n")
    code, _, err = cli("summary", str(spec))
    assert code == 2 and re.search(message, err) and err.count("\n") == 1, err


def test_inline_weights_of_the_right_shape_are_accepted_and_used(tmp_path, cli):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [2, 2, 1]\nlayers:\n"
                    "  - {type: conv, kernel: 1, filters: 2, bias: [1, -1], weight: [[[[2, 3]]]]}\n"
                    "  - {type: batchnorm, mean: [1, 0], var: [4, 1], epsilon: 0, center: false, scale: false}\n")
    assert cli("summary", str(spec))[0] == 0
    data = tmp_path / "x.npy"
    np.save(data, np.arange(4.0).reshape(2, 2, 1))
    out = tmp_path / "y.npy"
    code, _, err = cli("run", str(spec), "-i", str(data), "-o", str(out))
    assert code == 0, err
    x = np.arange(4.0).reshape(2, 2, 1)
    conv = np.concatenate([2 * x + 1, 3 * x - 1], axis=-1)
    np.testing.assert_allclose(np.load(out), (conv - [1, 0]) / np.sqrt([4, 1]))



# ---------------------------------------------------------------- a fresh sample's survivors (seed 13)


def test_the_explained_receptive_field_of_a_dilated_conv_names_the_effective_kernel(tmp_path, cli):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [9, 9, 1]\nlayers:\n  - {type: conv, filters: 1, kernel: 3, dilation: 2}\n")
    code, out, err = cli("summary", str(spec), "--explain")
    assert code == 0, err
    assert "RF: r = r_prev + (k_eff − 1)·j_prev = 1 + (5 − 1)·1 = 5, j = j_prev·s = 1·1 = 1" in out


@pytest.mark.parametrize(("args", "message"), [
    (["solve", "--transpose", "--spec", "lenet5", "--for", "n"],
     ("error: --spec takes only --for, --min, --max, --exact and --where (got '--transpose', expected no layer "
     "values (they come from the spec))\n")),
    (["solve", "--n", "E", "--f", "3", "--for", "out"],
     ("error: bad value for --n: 'E' is not a symbol name here (sympy prints its constants and functions so) "
     "(got 'E', expected a number or another symbol name, e.g. k)\n")),
])
def test_solve_refusals_word_for_word(cli, args, message):
    code, _, err = cli(*args)
    assert (code, err) == (2, message)


def test_run_seed_and_layer_refusals_word_for_word(tmp_path, cli):
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((32, 32, 3)))
    code, _, err = cli("run", "lenet5", "-i", str(data), "--seed", "-1")
    assert (code, err) == (2, ("error: bad --seed (got '-1', expected an integer from 0 to 9,223,372,036,854,775,807 "
                              "(2**63 − 1))\n"))
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [4, 4, 1]\nlayers:\n  - 3\n")
    code, _, err = cli("summary", str(spec))
    assert (code, err) == (2, (f"error: {spec}: layer 1: a layer must be a mapping with a 'type' (got 3, expected "
                              "e.g. {type: conv, filters: 8, kernel: 3})\n"))


def test_an_input_option_past_its_length_cap_is_refused_unread(cli):
    from cnncalc.spec import network

    long = ",".join(["1"] * (network.MAX_INPUT_OPTION // 2 + 1))
    assert len(long) > network.MAX_INPUT_OPTION
    code, _, err = cli("summary", "lenet5", "--input", long)
    assert code == 2 and err.startswith("error: bad --input (got '1,1,1,") and err.count("\n") == 1


def test_ranges_show_a_step_only_when_every_gap_is_that_step():
    from cnncalc.maths.ranges import ranges

    assert ranges([4, 8, 12, 16, 20], most=3) == "4, 8, … 20 (step 4)"
    assert ranges([4, 8, 12, 16, 21], most=3) == "4, 8, 12, …"  # the last gap is 5: no step


def test_the_complexity_of_a_power_counts_its_monomials():
    from cnncalc.maths import expr

    assert expr.complexity(expr.parse("(a + b)**2")) == (2, 3, 4)
    assert expr.complexity(expr.parse("(a + b + c)**3")) == (3, 10, 9)


def test_memory_rows_name_each_layer_type_and_keras_merges_keep_their_inputs():
    from cnncalc import memory

    rows = memory("lenet5").document()["layers"]
    assert [row["type"] for row in rows[:3]] == ["conv", "maxpool", "conv"]
    from cnncalc import loads_spec

    net = loads_spec("input: [4, 4, 2]\nlayers:\n  - {type: conv, name: a, filters: 2, kernel: 1}\n"
                     "  - {type: add, name: s, inputs: [a, input]}\n")
    keras = memory(net, framework="keras").document()["layers"]
    assert keras[1]["type"] == "add" and keras[1]["saved_for_backward"] > 0


def test_every_layer_type_is_listed_once():
    names = list(LAYER_TYPES)
    assert len(names) == len(set(names)) == 69 and "pixel_shuffle" in names and "window_attention" in names
    assert LAYER_TYPES["conv"].__name__ == "Conv" and LAYER_TYPES["attention"].type_name == "attention"


@pytest.mark.parametrize("seed", [-1, 2**63, True, 1.5])
def test_the_executor_refuses_a_bad_seed_saying_what_it_takes(seed):
    from cnncalc import loads_spec
    from cnncalc.run.executor import run

    net = loads_spec("input: [2, 2, 1]\nlayers:\n  - {type: conv, filters: 1, kernel: 1}\n")
    with pytest.raises(CnnCalcError) as error:
        run(net, np.zeros((1, 2, 2, 1)), seed=seed)
    assert str(error.value) == (f"bad --seed (got {seed!r}, expected an integer from 0 to 9,223,372,036,854,775,807 "
                                "(2**63 − 1))")
