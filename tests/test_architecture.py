"""The package tree is the pipeline: each folder imports only those before it (load → validate → analyse /
execute → render → exercises, interop → course → command line), so there is no import against the order and
no cycle between packages. Function-level and type-checking imports count too: they are dependencies all the
same."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnncalc"

#: a module may import from a lower rank, or from its own unit; never from a higher one or a peer
RANK = {"errors": 0, "arguments": 0, "records": 0, "outputs": 1, "maths": 2, "layers": 3, "spec": 4, "calc": 5, "run": 6, "render": 6,
        "exercises": 7, "interop": 7, "course": 8, "cli": 9, "__init__": 10, "launch": 10,
        "__main__": 11}
#: the package's version constant, read from its __init__ by whoever prints or stores it
ANYWHERE = {"__version__"}


def unit_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def imported_units(path: Path, source: str | None = None) -> set[tuple[str, int]]:
    """(unit, line) of every cnncalc unit the module imports, relative or absolute, at any depth."""
    folder = list(path.relative_to(PACKAGE).parts[:-1])
    found: set[tuple[str, int]] = set()
    text = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = folder[: len(folder) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            if target:
                found.add((target[0], node.lineno))
            else:  # `from .. import name`: each name is a unit of the package (or its version)
                found.update((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "cnncalc":
            parts = node.module.split(".")  # type: ignore[union-attr]
            found.add((parts[1] if len(parts) > 1 else "__init__", node.lineno))
        elif isinstance(node, ast.Import):
            found.update((alias.name.split(".")[1], node.lineno) for alias in node.names
                         if alias.name.startswith("cnncalc."))
    return found


def test_every_unit_has_a_place_in_the_pipeline():
    units = {unit_of(path) for path in PACKAGE.rglob("*.py")}
    assert units <= set(RANK), f"give these a rank in RANK: {sorted(units - set(RANK))}"


def test_no_import_goes_against_the_pipeline():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = unit_of(path)
        for target, line in imported_units(path):
            if target == unit or target in ANYWHERE:
                continue
            if target not in RANK or RANK[target] >= RANK[unit]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {unit} imports {target}")
    assert wrong == []


def test_the_check_sees_relative_absolute_and_nested_imports():
    assert {"maths", "errors"} <= {unit for unit, _ in imported_units(PACKAGE / "layers" / "conv.py")}
    source = ("from __future__ import annotations\nfrom . import base\n"
              "def f():\n    from ..render import text\n    import cnncalc.course.store\n"
              "    from cnncalc.exercises import grading\n    from .. import __version__\n")
    assert imported_units(PACKAGE / "layers" / "fake.py", source) == {
        ("layers", 2), ("render", 4), ("course", 5), ("exercises", 6), ("__version__", 7)}
