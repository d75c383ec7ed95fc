"""Which rule imports an ONNX node: one handler per operator type, registered where it is written.

A handler, ``@handles("Conv", "ConvTranspose", makes=("conv", ...))``, is called by the walk with the node's
attributes decoded (``def _op(im, position, node, attrs)``) and adds the layers and weights the node maps to
through the importer ``im``; ``domain=FUNCTION_DOMAIN`` registers one of cnncalc's model-local functions.
A pattern, ``@matches("Sigmoid", ...)``, is tried before the handler on a node of its types: when the node
(and the nodes after it that it ``absorbs``) is one layer written as several nodes or with one setting
(x·sigmoid(x) is silu, Clip to [0, 6] is relu6), it makes that layer and returns True; it reads the
attributes it needs itself. A node of a type no rule takes is refused by name (``--lenient`` passes it
through). ``makes`` names the cnncalc layer types a rule can make: ``tests/test_onnx_registry.py`` checks
it against what the rule does, and that every layer type is made by some rule or listed in
:data:`NOT_IMPORTED`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .proto import FUNCTION_DOMAIN

if TYPE_CHECKING:
    from .importer import _Importer

Handler = Callable[["_Importer", int, Any, dict[str, Any]], None]
Pattern = Callable[["_Importer", int, Any], bool]


@dataclass(frozen=True)
class Rule:
    """A registered handler or pattern: the operator types it takes and the layer types it can make."""

    function: Callable[..., Any]
    op_types: tuple[str, ...]
    domain: str
    makes: tuple[str, ...]
    absorbs: tuple[str, ...] = ()
    pattern: bool = False


RULES: list[Rule] = []
HANDLERS: dict[str, Handler] = {}  # op type of the standard domain → its handler
FUNCTION_HANDLERS: dict[str, Handler] = {}  # cnncalc's model-local function → its handler
PATTERNS: dict[str, list[Pattern]] = {}  # op type of the standard domain → the patterns starting there

#: layer types the walk makes for any handler: a permute where a value is not held in the layout the
#: handler needs (an ONNX Transpose only changes how a value is held)
WALK_MAKES = ("permute",)

#: layer types no ONNX model imports as, each with the reason; a ranked spelling (``conv2d``) imports as its
#: type (``conv``: one ONNX operator for every rank). Every layer type imports.
NOT_IMPORTED: dict[str, str] = {}


def handles(*op_types: str, makes: tuple[str, ...], domain: str = "") -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``op_types`` (of ``domain``: "" is ONNX's)."""
    table = FUNCTION_HANDLERS if domain == FUNCTION_DOMAIN else HANDLERS if domain == "" else None
    if table is None:
        raise ValueError(f"handlers are of ONNX's domain or of {FUNCTION_DOMAIN!r}, not {domain!r}")

    def register(function: Handler) -> Handler:
        for op in op_types:
            if op in table:
                raise ValueError(f"{op} has two handlers: {table[op].__name__} and {function.__name__}")
            table[op] = function
        RULES.append(Rule(function, op_types, domain, makes))
        return function

    return register


def matches(*op_types: str, makes: tuple[str, ...], absorbs: tuple[str, ...] = ()) -> Callable[[Pattern], Pattern]:
    """Register the decorated function as a pattern starting at a node of ``op_types`` (ONNX's domain);
    ``absorbs``: the operator types it takes in after that node, never imported alone."""

    def register(function: Pattern) -> Pattern:
        for op in op_types:
            PATTERNS.setdefault(op, []).append(function)
        RULES.append(Rule(function, op_types, "", makes, absorbs, pattern=True))
        return function

    return register


def handled(op_type: str, domain: str = "") -> bool:
    """Whether a rule takes a node of ``op_type`` (as its first node, or inside a pattern)."""
    return any(op_type in rule.op_types + rule.absorbs for rule in RULES if rule.domain == domain)


def made_layer_types() -> set[str]:
    """The layer types an import can make."""
    return {kind for rule in RULES for kind in rule.makes} | set(WALK_MAKES)
