"""Execution on real numbers: the NumPy reference executor (executor) and image input/output (images).

The package is also the library's `run` function (``from cnncalc import run; run(network, x)``, the
executor's :func:`~cnncalc.run.executor.run`): calling the package calls it, and NumPy is imported only then.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _RunPackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .executor import run

        return run(*args, **kwargs)


sys.modules[__name__].__class__ = _RunPackage
