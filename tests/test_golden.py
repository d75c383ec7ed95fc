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


@pytest.mark.parametrize("name, fmt, explain, depth", CASES)
def test_golden_output(name, fmt, explain, depth):
    text = render(analyse(load_spec(name)), fmt, explain, depth=depth)
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
