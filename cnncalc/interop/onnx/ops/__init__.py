"""The operator handlers, one module per family of operators; importing this package registers them all
(:mod:`..registry`). A handler reads one node (``def _op(im, position, node, attrs)``) and adds the spec layers
and weights it maps to through the importer ``im``."""

from __future__ import annotations

from . import (
    activation,
    attention,
    conv,
    dense,
    dynamo,
    elementwise,
    functions,
    legacy,
    norm,
    pool,
    reduce,
    resize,
    shape,
    window,
)

FAMILIES = (activation, attention, conv, dense, dynamo, elementwise, functions, legacy, norm, pool, reduce, resize, shape,
            window)
