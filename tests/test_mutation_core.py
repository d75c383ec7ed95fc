"""Details of maths, layers, spec, calc and run that the broader tests pass over (survivors of a mutation
sample): the time budget's alarm and its spent edge, the layer catalogue's lazy lookup, a layer class
checked against its fields, a choice's refusals, layer norm's receptive field, 'same' transposed convs,
pixel shuffle's dcr text, the --input length cap, the zoo's encoding of dropped keys, solve's stride-2
'same' text and the image refusals that name the file."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import ClassVar

import numpy as np
import pytest

from cnncalc import CnnCalcError, loads_spec
from cnncalc.layers import LAYER_TYPES


def make(type_name: str, n_inputs: int = 1, **fields):
    cls = LAYER_TYPES[type_name]
    return cls(type_name, type_name + "1", 1, [f"in{i}" for i in range(n_inputs)],
               cls.parse_fields(type_name, dict(fields)))


# ---------------------------------------------------------------- maths


def test_the_alarm_stops_work_that_never_checks_the_budget():
    import threading

    from cnncalc.maths import budget

    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        # as the budget itself: no interval timer, or a thread other than the main one (a test runner's
        # worker) has no SIGALRM; the budget is then a deadline checked by our own loops
        pytest.skip("no SIGALRM here: the budget is then a deadline checked by our own loops")
    if "MUTANT_UNDER_TEST" in os.environ:  # mutmut calls __enter__ through a wrapper: the frame that opened
        pytest.skip("the budget is then the wrapper's, not this test's: no alarm ever falls inside the work")
    started = time.monotonic()
    too_long = r"^expression too complex: a busy loop took longer than the time budget of 0\.05 s"
    with pytest.raises(CnnCalcError, match=too_long), budget.time_budget("a busy loop", 0.05):
        while time.monotonic() - started < 3:  # pure Python, no budget.check(): only the alarm ends it
            pass
    assert time.monotonic() - started < 2


def test_a_shared_budget_spent_to_the_last_second_refuses_the_next_part(monkeypatch):
    from cnncalc.maths import budget

    clock = iter([100.0, 101.5])
    monkeypatch.setattr(budget, "_now", lambda: next(clock, 101.5))
    with budget.shared_budget():
        with budget.time_budget("the first part", 1.5):
            pass  # spends exactly 1.5 s by the clock above
        nothing_left = (r"^expression too complex: the second part took longer than the time budget of 1\.5 s "
                        r"\(1\.5 s of it spent by the work before\)")
        with pytest.raises(CnnCalcError, match=nothing_left), budget.time_budget("the second part", 1.5):
            pass


# ---------------------------------------------------------------- layers


def test_a_layer_type_not_yet_loaded_is_imported_on_lookup(monkeypatch):
    import cnncalc.layers
    from cnncalc.layers import base

    names = [name for name, module in cnncalc.layers.MODULES.items() if module == "tokens"]
    LAYER_TYPES["embedding"]  # loaded now, so that monkeypatch puts back these very classes
    for name in names:
        monkeypatch.setitem(base.LAYER_TYPES, name, base.LAYER_TYPES[name])
        monkeypatch.delitem(base.LAYER_TYPES, name)
    monkeypatch.setattr(cnncalc.layers, "tokens", cnncalc.layers.tokens)
    monkeypatch.delitem(sys.modules, "cnncalc.layers.tokens")
    found = LAYER_TYPES["embedding"]  # as in a fresh process: the family module is imported by the lookup
    assert found.__name__ == "Embedding" and found.__module__ == "cnncalc.layers.tokens"
    assert set(names) <= set(base.LAYER_TYPES)
    with pytest.raises(KeyError):
        LAYER_TYPES["no_such_layer"]


def test_a_layer_class_is_checked_against_its_fields_when_made():
    from cnncalc.layers.base import Field, Layer, positive_int

    class Sized(Layer):  # no type name: made here only, never registered
        fields: ClassVar = {"size": Field(positive_int, 1)}
        note: ClassVar[str] = "a class variable is not a field"
        size: int

    assert Sized.fields["size"].default == 1
    with pytest.raises(TypeError, match=r"^layer class Stray: declared but not in fields: stray$"):
        class Stray(Layer):
            stray: int


def test_a_choice_refuses_what_is_not_one_of_its_words():
    from cnncalc.layers.base import FieldValueError, choice

    parse = choice("crd", "dcr")  # made here, as a layer module makes its parsers
    assert parse("dcr") == "dcr"
    for bad, message in [("drc", "one of crd, dcr; did you mean 'dcr'?"), (1, "one of crd, dcr"),
                         (None, "one of crd, dcr")]:
        with pytest.raises(FieldValueError) as error:
            parse(bad)
        assert str(error.value) == message


def test_layer_norm_over_channels_keeps_the_receptive_field():
    from cnncalc import analyse

    net = loads_spec("input: [16, 16, 4]\nlayers:\n  - {type: conv, filters: 4, kernel: 3}\n  - {type: layernorm}\n"
                     "  - {type: conv, filters: 4, kernel: 3}\n")
    # (size, jump, start) per axis: a 3 × 3 conv reads 3 pixels, the norm over channels reads that pixel's own
    # channels only, and the next 3 × 3 conv reads 3 + (3 − 1)·1 = 5
    fields = [record.receptive_field for record in analyse(net).records]
    assert fields == [[(3, 1, 1.0)] * 2, [(3, 1, 1.0)] * 2, [(5, 1, 2.0)] * 2]


def test_same_transposed_conv_names_the_dilated_span(tmp_path, cli):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [4, 4, 1]\nlayers:\n"
                    "  - {type: conv_transpose, filters: 1, kernel: 2, dilation: 2, stride: 4, padding: same}\n")
    code, _, err = cli("summary", str(spec))
    # the span of a dilated kernel is d·(k − 1) + 1 = 2·1 + 1 = 3, less than the stride 4
    assert (code, err) == (2, (f"error: {spec}:3: layer 1 'conv_transpose1': field 'padding': 'same' needs a "
                               "kernel span of at least the stride (got 3, expected at least 4)\n"))


def test_pixel_shuffle_dcr_explains_the_channel_order():
    info = make("pixel_shuffle", factor=2, mode="dcr").infer([(4, 4, 8)])
    assert info.shape == (8, 8, 2)
    # TensorFlow's depth_to_space: output channel c at offset (i, j) is input channel (i·2 + j)·2 + c
    assert ("channels: 8/2² = 2; channel (i·2 + j)·2 + c of the deep map is channel c at offset (i, j)"
            in info.explain)


# ---------------------------------------------------------------- spec


def test_the_input_option_length_cap_is_exact():
    from cnncalc.spec.network import MAX_INPUT_OPTION, parse_input_option

    shape = "28,28,3"
    assert parse_input_option(" " * (MAX_INPUT_OPTION - len(shape)) + shape) == {None: [28, 28, 3]}
    with pytest.raises(CnnCalcError, match=r"^bad --input \(got '  "):
        parse_input_option(" " * (MAX_INPUT_OPTION - len(shape) + 1) + shape)


def test_the_zoo_encoding_keeps_the_lines_of_dropped_keys():
    from cnncalc.spec import safeload
    from cnncalc.spec.zoo import decode, encode

    block = safeload.loads("type: conv\nwhen: true\nfilters: 8\n", "x.yaml")
    del block["when"]  # as expanding a block drops `when`: an error about it still names its line
    encoded = encode(block)
    assert encoded == ("d", block.line, (("type", 1, "conv"), ("filters", 3, 8)), (("when", 2),))
    again = decode(encoded)
    assert again == {"type": "conv", "filters": 8} and again.line_of("when") == 2 and again.line_of("filters") == 3


# ---------------------------------------------------------------- calc


def test_solve_same_padding_with_a_stride_shows_the_split_only():
    from cnncalc.calc.service import solution_text, solve

    text = solution_text(solve("p", {"n": "8", "f": "3", "s": "2"}, same=True))
    assert text == ("same (stride > 1, TensorFlow): out = ⌈n/s⌉\n"
                    "total pad = max((out − 1)·s + d·(f − 1) + 1 − n, 0)\n"
                    "out = ⌈8/2⌉ = 4\n"
                    "total = max((4 − 1)·2 + 2 + 1 − 8, 0) = 1\n"
                    "split: 0 before (top/left), 1 after (bottom/right)\n"
                    "pads (before, after) = (0, 1)\n"
                    "note: the padding is asymmetric: (0, 1)\n")


# ---------------------------------------------------------------- run


def test_an_input_image_pillow_cannot_read_is_named(tmp_path, cli):
    pytest.importorskip("PIL")
    picture = tmp_path / "x.png"
    picture.write_text("not a picture")
    code, _, err = cli("run", "lenet5", "-i", str(picture))
    assert (code, err) == (2, (f"error: {picture}: cannot read the image: not a picture format Pillow knows "
                               "(expected PNG, JPEG, BMP, GIF, TIFF or WebP)\n"))


def test_feature_maps_without_a_file_type_are_refused(tmp_path):
    pytest.importorskip("PIL")
    from cnncalc.run.images import save_maps

    path = tmp_path / "maps"
    with pytest.raises(CnnCalcError) as error:
        save_maps(np.zeros((2, 2, 1)), path)
    assert str(error.value) == (f"{path}: cannot write the feature maps: unknown image type (got '(none)', "
                                "expected .png or .jpg)")
    assert not path.exists()