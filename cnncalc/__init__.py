"""cnncalc: convolutional-network calculator, solver, NumPy executor and exercise grader."""

from __future__ import annotations

from .calc.analysis import LayerRecord, Summary, analyse
from .errors import CnnCalcError, ExecutionError, ExerciseError, ShapeError, SolveError, SpecError
from .spec.network import Network, build_network, load_spec, loads_spec

__version__ = "0.1.0"

__all__ = [
    "CnnCalcError", "ExecutionError", "ExerciseError", "LayerRecord", "Network", "ShapeError", "SolveError",
    "SpecError", "Summary", "analyse", "build_network", "load_spec", "loads_spec",
]
