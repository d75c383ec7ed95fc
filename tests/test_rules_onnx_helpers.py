"""The ONNX importer's small helpers, each against an independent rule: numpy's own broadcasting, and the
ONNX spec's auto_pad and pads layout ([x1_begin, x2_begin, …, x1_end, x2_end, …])."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnncalc.errors import CnnCalcError
from cnncalc.interop.onnx.ops.common import _broadcasts, _pads


def _numpy_broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def test_broadcasts_is_numpys_rule_to_an_unchanged_target():
    sizes = (1, 2, 3)
    shapes = [s for rank in range(4) for s in itertools.product(sizes, repeat=rank)]
    for shape, target in itertools.product(shapes, shapes):
        if target:
            assert _broadcasts(shape, target) == _numpy_broadcasts(shape, target), (shape, target)
    assert not _broadcasts((3,), (2,)) and not _broadcasts((2, 1, 1), (1, 1))


class _Fails:
    def fail(self, message: str, **kw: object) -> CnnCalcError:
        return CnnCalcError(message, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("attrs", "rank", "want"), [
    ({"auto_pad": b"VALID", "pads": [1, 1, 1, 1]}, 2, 0),
    ({"auto_pad": "SAME_UPPER"}, 2, "same"),
    ({"auto_pad": b"NOTSET", "pads": [1, 1, 1, 1]}, 2, 1),
    ({"pads": [1, 2, 1, 2]}, 2, [1, 2]),                 # symmetric, a different size per axis
    ({"pads": [1, 2, 3, 4]}, 2, [[1, 3], [2, 4]]),       # begins first, then ends: pairs per axis
    ({}, 3, 0),
])
def test_pads_follow_the_onnx_layout(attrs, rank, want):
    assert _pads(attrs, rank, _Fails()) == want  # type: ignore[arg-type]


def test_same_lower_needs_the_sizes_and_puts_the_odd_pixel_first():
    with pytest.raises(CnnCalcError, match="'auto_pad' = SAME_LOWER is not supported"):
        _pads({"auto_pad": b"SAME_LOWER"}, 2, _Fails())  # type: ignore[arg-type]
    with pytest.raises(CnnCalcError, match="'auto_pad' = SAME_MIDDLE is not supported"):
        _pads({"auto_pad": b"SAME_MIDDLE"}, 2, _Fails(), [5, 6], [4, 3])  # type: ignore[arg-type]
    # n=5, k=4, s=1: out 5, total 4 + 3 + 1 − 5 = 3, two before; n=6, k=3, s=2: out 3, total 4 + 2 + 1 − 6 = 1
    assert _pads({"auto_pad": b"SAME_LOWER", "strides": [1, 2]}, 2, _Fails(), [5, 6], [4, 3]) == [[2, 1], [1, 0]]  # type: ignore[arg-type]
    # dilation 3, k=2 (k_eff 4), n=4: total 3 + 3 + 1 − 4 = 3 → [2, 1]; SAME_UPPER's would be [1, 2]
    assert _pads({"auto_pad": b"SAME_LOWER", "dilations": [3]}, 1, _Fails(), [4], [2]) == [[2, 1]]  # type: ignore[arg-type]


def test_a_written_spec_keeps_each_layer_on_one_line_and_its_fields_in_order():
    from cnncalc.interop import dump_spec
    from cnncalc.spec.network import loads_spec

    fields = {"type": "conv", "name": "c" * 30, "filters": 4, "kernel": [3, 3], "stride": 1, "padding": [[1, 2], [3, 4]],
              "dilation": [1, 1], "groups": 1, "bias": True}
    text = dump_spec({"input": [16, 16, 3], "layers": [fields, {"type": "relu", "name": "a" * 60}]})
    lines = text.splitlines()
    assert lines[2].startswith("  - {type: conv, name: ccc") and lines[2].endswith("bias: true}")
    assert len(lines) == 4 and len(lines[2]) > 100  # never folded, however long
    assert [key.split(":")[0] for key in lines[2][5:-1].split(", ") if ":" in key][:3] == ["type", "name", "filters"]
    assert loads_spec(text, "w.yaml").layers[0].name == "c" * 30
