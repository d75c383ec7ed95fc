"""Printed summaries of the zoo, pinned. Regenerate after an intended change with
``CNNCALC_REGEN=1 pytest tests/test_golden.py`` and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnncalc import analyse, load_spec
from cnncalc.render import render
from cnncalc.spec.network import zoo_names

GOLDEN = Path(__file__).parent / "golden"
COURSE = ("lenet5", "conv-chain64", "fashion-mnist", "lenet1")
# every format for the course's networks; the big architectures as a depth-1 table and as JSON
CASES = [(name, fmt, explain, None) for name in COURSE for fmt, explain in
         (("table", False), ("table", True), ("markdown", False), ("csv", False), ("latex", False), ("json", False))]
CASES += [(name, fmt, False, 1 if fmt == "table" else None) for name in zoo_names() if name not in COURSE
          for fmt in ("table", "json")]


# every layer type with asymmetric settings: worked lines, receptive fields and totals as users read them
LAYER_SPECS = Path(__file__).parent / "data" / "layers"
CASES += [(f"layers-{stem}", fmt, fmt == "table", None) for stem in ("image", "tokens", "volume")
          for fmt in ("table", "json")]


def _spec(name):
    if name.startswith("layers-"):
        return load_spec(str(LAYER_SPECS / f"{name.removeprefix('layers-')}.yaml"))
    return load_spec(name)


@pytest.mark.parametrize("name, fmt, explain, depth", CASES)
def test_golden_output(name, fmt, explain, depth):
    text = render(analyse(_spec(name)), fmt, explain, depth=depth)
    ext = {"table": "txt", "markdown": "md", "csv": "csv", "latex": "tex", "json": "json"}[fmt]
    path = GOLDEN / f"{name}{'.explain' if explain else ''}{'.depth1' if depth else ''}.{ext}"
    if os.environ.get("CNNCALC_REGEN") or not path.exists():
        if not os.environ.get("CNNCALC_REGEN"):
            pytest.fail(f"no golden file {path.name}; run with CNNCALC_REGEN=1 to create it")
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_every_zoo_spec_has_a_golden_table():
    for name in zoo_names():
        assert (GOLDEN / f"{name}.txt").exists() or (GOLDEN / f"{name}.depth1.txt").exists()


def test_the_layer_specs_use_every_layer_type():
    from cnncalc.layers import LAYER_TYPES

    used = {layer.type for stem in ("image", "tokens", "volume")
            for layer in load_spec(str(LAYER_SPECS / f"{stem}.yaml")).layers}
    assert sorted(set(LAYER_TYPES) - used) == []


@pytest.mark.parametrize("stem", ["image", "tokens", "volume"])
def test_the_layer_specs_run_with_the_shapes_the_summary_prints(stem):
    import numpy as np

    from cnncalc.run.executor import run

    network = load_spec(str(LAYER_SPECS / f"{stem}.yaml"))
    rng = np.random.default_rng(0)
    shape = (2, *network.input_shape)
    x = rng.integers(0, 50, size=shape).astype(float) if stem == "tokens" else rng.standard_normal(shape)
    result = run(network, x, seed=1)
    for record in result.summary.records:
        assert result.outputs[record.name].shape == (2, *record.output_shape), record.name
        assert np.all(np.isfinite(result.outputs[record.name])), record.name
