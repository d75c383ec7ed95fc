"""The framework tier of .ci/run runs the modules listed in .ci/framework-tests.txt with PyTorch, torchvision,
Keras and onnxruntime installed; a module that compares with one of them but is missing from the list would
skip in every tier, so its claims would rest on nothing CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK = re.compile(r"""importorskip\(\s*["'](torch|torchvision|keras|jax|onnxruntime)["']|^\s*import (torch|keras)\b""",
                       re.MULTILINE)


def listed() -> set[str]:
    lines = (ROOT / ".ci" / "framework-tests.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_every_module_that_compares_with_a_framework_runs_in_the_framework_tier():
    comparing = {f"tests/{path.name}" for path in sorted((ROOT / "tests").glob("test_*.py"))
                 if FRAMEWORK.search(path.read_text(encoding="utf-8"))}
    assert comparing, "the pattern finds nothing: it no longer matches how the tests import frameworks"
    assert comparing - listed() == set(), "add these to .ci/framework-tests.txt"


def test_every_listed_module_exists():
    assert {name for name in listed() if not (ROOT / name).is_file()} == set()


def test_the_ci_script_runs_the_tiers_with_the_backend_set():
    script = (ROOT / ".ci" / "run").read_text()
    assert "CNNCALC_FRAMEWORK_TIER=1 KERAS_BACKEND=jax" in script
    assert "-c .ci/lower-bounds.txt" in script
    project = (ROOT / "pyproject.toml").read_text()
    pins = dict(line.split("==") for line in (ROOT / ".ci" / "lower-bounds.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert len(pins) >= 10

    def padded(version: str) -> tuple[int, ...]:
        parts = [int(part) for part in version.split(".")]
        return tuple(parts + [0] * (4 - len(parts)))

    for name, version in pins.items():  # each pin is exactly the bound pyproject.toml states
        bound = re.search(rf'"{re.escape(name)}>=([0-9.]+)', project, re.IGNORECASE)
        assert bound, f"{name} has no lower bound in pyproject.toml"
        assert padded(bound.group(1)) == padded(version), (name, bound.group(1), version)
