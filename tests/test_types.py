"""The core packages (layers, maths, calc) type-check under ``mypy --strict``; a layer's fields and their
declared types are kept together."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from cnncalc.layers.base import Field, Layer, positive_int

ROOT = Path(__file__).resolve().parents[1]
STRICT_PACKAGES = ["cnncalc/layers", "cnncalc/maths", "cnncalc/calc"]


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (the dev extra)")
def test_the_core_packages_pass_mypy_strict(tmp_path: Path) -> None:
    # its cache in the test's own folder (nothing written to the tree; about 4 s of CPU cold). What they import
    # from other packages (errors, spec) is read for its types only: those modules are checked with the
    # project's settings (`mypy`), not with --strict.
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           f"--cache-dir={tmp_path}", *STRICT_PACKAGES],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Success: no issues found"), done.stdout


def test_a_field_without_a_declared_type_is_refused() -> None:
    with pytest.raises(TypeError, match="fields without a declared type: units$"):
        class Undeclared(Layer):
            fields = {"units": Field(positive_int), "groups": Field(positive_int, 1)}
            groups: int


def test_a_declared_attribute_that_is_not_a_field_is_refused() -> None:
    with pytest.raises(TypeError, match="declared but not in fields: unit$"):
        class Misspelt(Layer):
            fields = {"units": Field(positive_int)}
            units: int
            unit: int


def test_fields_may_be_declared_in_a_base_class() -> None:
    class Windowed(Layer):
        fields = {"kernel": Field(positive_int)}
        kernel: int

    class Pool(Windowed):
        fields = {**Windowed.fields, "ceil_mode": Field(positive_int, 1)}
        ceil_mode: int

    layer = Pool("pool", "p", 1, ["input"], Pool.parse_fields("pool", {"kernel": 3}))
    assert (layer.kernel, layer.ceil_mode) == (3, 1)
