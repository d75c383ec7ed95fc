"""Python names for the code the exporters write: a layer's name as an identifier Python reads back as
the same name, distinct from every other name in that code.

Python reads identifiers in NFKC form (PEP 3131): ``ﬁlter`` is ``filter``, ``ｘ`` is ``x`` and ``x²`` is
no identifier at all. So a name is normalised first, and made distinct only afterwards: two layers whose
names Python would read as one get two variables. The names the generated code uses itself are read from
that code (``vocabulary``), written once with every layer's name held out (``HeldOut``), so that no list
of them can fall behind the templates and the rules.

>>> taken = dict.fromkeys(["x", "torch", "forward"], 2)
>>> [identifier(name, taken, scope={"x"}) for name in
...  ["conv1", "ﬁlter", "filter", "ｘ", "x²", "class", "2nd", "torch", "ｆｏｒｗａｒｄ", "a/b"]]
['conv1', 'filter', 'filter_2', 'layer_x', 'x2', 'layer_class', 'layer_2nd', 'torch_2', 'forward_2', 'a_b']
"""

from __future__ import annotations

import ast
import keyword
import re
import symtable
import unicodedata
from collections.abc import Collection

__all__ = ["HeldOut", "base_type", "class_name", "comment_text", "docstring_text", "identifier", "vocabulary"]

# Words no variable takes besides the keywords: the soft keywords of every Python cnncalc runs on (``type``
# since 3.12, so that the code does not depend on the Python that wrote it) and the instance of a method
WORDS = frozenset(keyword.softkwlist) | {"_", "case", "match", "type", "self"}


def identifier(name: str, taken: dict[str, int], scope: Collection[str] = frozenset()) -> str:
    """A Python identifier for ``name`` that is in ``taken`` neither before nor, as Python reads it, after
    NFKC; ``taken`` records it.

    ``taken`` maps every name in use (the generated code's own, then each one given) to the next number to
    try after it. The name is NFKC-normalised; characters an identifier cannot hold become ``_`` (outer
    ones dropped); a name that still cannot be a variable (a leading digit, a keyword or soft keyword,
    ``self``, a variable of ``scope``: the function the layers live in) gets ``layer_`` in front; a name
    in use gets the first free ``_2``, ``_3``, … (each number tried once per name: linear time in all).

    >>> taken = {"layers": 2}
    >>> [identifier(name, taken) for name in ["ｌａｙｅｒｓ", "layers_2", "layers", "𝐥𝐚𝐲𝐞𝐫𝐬", "", "__init__"]]
    ['layers_2', 'layers_2_2', 'layers_3', 'layers_4', 'layer', 'init']
    """
    text = unicodedata.normalize("NFKC", name)
    base = "".join(c if ("_" + c).isidentifier() else "_" for c in text).strip("_") or "layer"
    if not base.isidentifier() or keyword.iskeyword(base) or base in WORDS or base in scope:
        base = f"layer_{base}"
    if base not in taken:
        taken[base] = 2
        return base
    number = taken[base]
    while f"{base}_{number}" in taken:
        number += 1
    taken[base] = number + 1
    chosen = f"{base}_{number}"
    taken[chosen] = 2
    return chosen


class HeldOut:
    """Stand-in names for writing the code once without the layers' names, to read its vocabulary.

    Each is the letter ǂ and a number: what the exporters write is ASCII, so no name of theirs starts so.
    """

    MARK = "ǂ"

    def __init__(self) -> None:
        self.names: set[str] = set()

    def __call__(self, name: str) -> str:
        stand_in = f"{self.MARK}{len(self.names)}"
        self.names.add(stand_in)
        return stand_in


def vocabulary(source: str, held_out: HeldOut) -> tuple[frozenset[str], frozenset[str]]:
    """(every name ``source`` uses, the variables of the functions the held-out names live in).

    The names used are those of the module (imports, functions, classes, globals), of every class body
    (methods such as ``forward``) and the globals and builtins any function reads; the variables are the
    parameters and locals of the functions holding held-out names (``self``, ``x``) and the ``name=``
    strings there (Keras's ``"input"``). Locals of the other functions are no one else's business.
    """
    used: set[str] = set()
    scope: set[str] = set()
    tables = [symtable.symtable(source, "<generated>", "exec")]
    while tables:
        table = tables.pop()
        tables += table.get_children()
        if table.get_type() != "function":
            used.update(table.get_identifiers())
            continue
        holds_layers = not held_out.names.isdisjoint(table.get_identifiers())
        for symbol in table.get_symbols():
            if symbol.is_global():
                used.add(symbol.get_name())
            elif holds_layers:
                scope.add(symbol.get_name())
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                isinstance(name, ast.Name) and name.id in held_out.names for name in ast.walk(node)):
            scope.update(_name_arguments(node))
    # a name built from a layer's without identifier() (a variable, an attribute, a Keras name) could meet
    # another layer's: every one must be a stand-in itself
    written = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    written |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    stray = sorted(name for name in written | set(_name_arguments(tree))
                   if name.startswith(HeldOut.MARK) and name not in held_out.names)
    if stray:
        raise AssertionError(f"generated names not made by identifier(): {stray[:5]}")
    return frozenset(used - held_out.names), frozenset(scope - held_out.names)


def _name_arguments(tree: ast.AST) -> list[str]:
    """The strings given as ``name=`` in ``tree``."""
    return [node.value.value for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == "name"
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)]


def base_type(type_name: str) -> str:
    """A layer type without its rank (``conv2d`` → ``conv``)."""
    return re.sub(r"[123]d$", "", type_name)


def class_name(name: str) -> str:
    """A network's name in CapWords, ASCII letters and digits only (``every layer`` → ``EveryLayer``).

    >>> class_name("resnet-18 (Keras)"), class_name("2 layers"), class_name("ｎｅｔ")
    ('Resnet18Keras', 'Net2Layers', 'Net')
    """
    words = re.findall(r"[A-Za-z0-9]+", name)
    text = "".join(w[:1].upper() + w[1:] for w in words) or "Net"
    return text if text[0].isalpha() else f"Net{text}"


def docstring_text(text: str) -> str:
    """A name inside a docstring: no quote or backslash that could end it, nothing unprintable.

    >>> docstring_text('a "b" \\\\ c\\td')
    'a _b_ _ c_d'
    """
    return "".join("_" if c in '"\\' or not c.isprintable() else c for c in text)[:200]


def comment_text(name: str) -> str:
    """A name after ``#``: as written, with what could end the line or hide in it escaped.

    >>> comment_text("ﬁlter/1"), comment_text("a\\nb\\u2028c\\\\d")
    ('ﬁlter/1', 'a\\\\nb\\\\u2028c\\\\\\\\d')
    """
    return "".join(c if c.isprintable() and c != "\\" else c.encode("unicode_escape").decode("ascii")
                   for c in name)
