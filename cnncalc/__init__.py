"""cnncalc: convolutional-network calculator, solver, NumPy executor and exercise grader."""

from __future__ import annotations

from .calc.analysis import LayerRecord, Summary, analyse
from .errors import CnnCalcError, ExecutionError, ExerciseError, ShapeError, SolveError, SpecError
from .spec.network import Network, build_network, load_spec, loads_spec

__version__ = "0.1.0"

#: one function per command, imported on first use: `import cnncalc` stays light (no numpy, no sympy);
#: `run` is the package cnncalc.run, which calls the executor when called
_COMMANDS = {
    "solve": ("cnncalc.calc.symbolic", "solve_conv"),
    "solve_transpose": ("cnncalc.calc.symbolic", "solve_transpose"),
    "grade": ("cnncalc.exercises.service", "grade"),
    "generate": ("cnncalc.exercises.service", "generate"),
}

__all__ = [
    "CnnCalcError", "ExecutionError", "ExerciseError", "LayerRecord", "Network", "ShapeError", "SolveError",
    "SpecError", "Summary", "analyse", "build_network", "generate", "grade", "load_spec", "loads_spec", "run",
    "solve", "solve_transpose",
]


def __getattr__(name: str) -> object:
    if name in _COMMANDS:
        import importlib

        module, attribute = _COMMANDS[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cnncalc' has no attribute {name!r}")
