"""cnncalc: convolutional-network calculator, solver, NumPy executor and exercise grader.

Each command is one function here that returns a result object and prints nothing:

==========================  ====================================================================
``cnncalc summary``         :func:`summarise` (of a network from :func:`load_spec` or
                            :func:`read_network`); :func:`analyse` for the records alone
``cnncalc solve``           :func:`solve`
``cnncalc memory``          :func:`memory` (the figures; ``memory_summary`` renders them)
``cnncalc run``             :func:`run_files`; :func:`run` on arrays already in memory
``cnncalc draw``            :func:`draw`, ``cnncalc draw-conv``: :func:`draw_conv`
``cnncalc zoo``             :func:`zoo_listing`
``cnncalc import/export``   :func:`import_model`, :func:`export_model`
``cnncalc check/key``       :func:`check_problem`, :func:`problem_key`
``cnncalc grade/generate``  :func:`grade`, :func:`generate`
==========================  ====================================================================

>>> import cnncalc
>>> cnncalc.summarise(cnncalc.load_spec("lenet5")).summary.params
62958
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)

__version__ = "0.1.0"

#: every name imported on first use: `import cnncalc` costs next to nothing (no numpy, no sympy, no layer
#: class, no YAML parser), which is what `cnncalc summary` starts with; `run` is the package cnncalc.run,
#: which calls the executor when called
_COMMANDS = {
    "LayerRecord": ("cnncalc.calc.analysis", "LayerRecord"),
    "Summary": ("cnncalc.calc.analysis", "Summary"),
    "analyse": ("cnncalc.calc.analysis", "analyse"),
    "CnnCalcError": ("cnncalc.errors", "CnnCalcError"),
    "ExecutionError": ("cnncalc.errors", "ExecutionError"),
    "ExerciseError": ("cnncalc.errors", "ExerciseError"),
    "ShapeError": ("cnncalc.errors", "ShapeError"),
    "SolveError": ("cnncalc.errors", "SolveError"),
    "SpecError": ("cnncalc.errors", "SpecError"),
    "Network": ("cnncalc.spec.network", "Network"),
    "build_network": ("cnncalc.spec.network", "build_network"),
    "load_spec": ("cnncalc.spec.network", "load_spec"),
    "loads_spec": ("cnncalc.spec.network", "loads_spec"),
    "summarise": ("cnncalc.render.service", "summarise"),
    "draw": ("cnncalc.render.service", "draw"),
    "draw_conv": ("cnncalc.render.service", "draw_conv"),
    "zoo_listing": ("cnncalc.render.service", "zoo_listing"),
    "solve": ("cnncalc.calc.service", "solve"),
    "memory": ("cnncalc.calc.service", "memory"),
    "solve_transpose": ("cnncalc.calc.symbolic", "solve_transpose"),
    "run_files": ("cnncalc.run.service", "run_files"),
    "read_network": ("cnncalc.interop.service", "read_network"),
    "import_model": ("cnncalc.interop.service", "import_model"),
    "export_model": ("cnncalc.interop.service", "export_model"),
    "check_problem": ("cnncalc.exercises.service", "check_problem"),
    "problem_key": ("cnncalc.exercises.service", "problem_key"),
    "grade": ("cnncalc.exercises.service", "grade"),
    "generate": ("cnncalc.exercises.service", "generate"),
}

if TYPE_CHECKING:  # the real signatures for type checkers; at run time __getattr__ imports them
    from typing import Any

    from .calc.analysis import LayerRecord, Summary, analyse
    from .calc.service import memory, solve
    from .calc.symbolic import solve_transpose
    from .errors import CnnCalcError, ExecutionError, ExerciseError, ShapeError, SolveError, SpecError
    from .exercises.service import check_problem, generate, grade, problem_key
    from .interop.service import export_model, import_model, read_network
    from .render.service import draw, draw_conv, summarise, zoo_listing
    from .run.service import run_files
    from .spec.network import Network, build_network, load_spec, loads_spec

__all__ = [
    "CnnCalcError", "ExecutionError", "ExerciseError", "LayerRecord", "Network", "ShapeError", "SolveError",
    "SpecError", "Summary", "analyse", "build_network", "check_problem", "draw", "draw_conv", "export_model",
    "generate", "grade", "import_model", "load_spec", "loads_spec", "memory", "problem_key", "read_network", "run",
    "run_files", "solve", "solve_transpose", "summarise", "zoo_listing",
]


def __getattr__(name: str) -> Any:
    if name in _COMMANDS:
        module, attribute = _COMMANDS[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cnncalc' has no attribute {name!r}")
