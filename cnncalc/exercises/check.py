"""`cnncalc check`: what a student needs that the sheet does not show.

A sheet shows the instructions, the part and question prompts (with `${name}` filled in) and the data
tables (every array in `data:` not hidden by `display: false`; see :mod:`.sheets`). A question computed
from a network also depends on that network's settings — a bias, a stride, a padding, a dilation, a pooling
window, a filter count. Each setting a question uses is looked for in the text the student reads for that
question (the instructions, its part's prompt and its own prompt) and in the tables; what cannot be found
is a warning. The search is by words and numbers (`stride 2`, `s = 2`, `3 × 3`, `no padding`), so it is a
reviewer's hint, not a proof: a sheet that says it differently gets a warning to read, not an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .problem import _REF, Problem, Question

# the settings a kind of question depends on, per layer family
_GEOMETRY = ("kernel", "stride", "padding", "dilation")
_NEEDS: dict[str, tuple[str, ...]] = {
    "shape": (*_GEOMETRY, "filters", "units"),
    "size": (*_GEOMETRY, "filters", "units"),
    "params": ("kernel", "filters", "units", "bias"),
    "macs": (*_GEOMETRY, "filters", "units"),
    "cell": (*_GEOMETRY, "bias", "weight"),
    "value": (*_GEOMETRY, "bias", "weight"),
    "map": (*_GEOMETRY, "bias", "weight"),
    "receptive_field": ("kernel", "stride", "dilation"),
    "sizes": _GEOMETRY,
    "valid": _GEOMETRY,
}
_CONVS = ("conv", "conv1d", "conv2d", "conv3d", "depthwise_conv", "separable_conv", "conv_transpose")
_POOLS = ("maxpool", "avgpool", "maxpool1d", "maxpool2d", "maxpool3d", "avgpool1d", "avgpool2d", "avgpool3d")
_DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1}

_WORDS = {
    "stride": r"stride|\bs\s*=|\bS\s*=",
    "padding": r"padd|\bpad\b|\bp\s*=|\bP\s*=|'same'|\bsame\b|\bvalid\b",
    "dilation": r"dilat|\bd\s*=|\brate\b",
    "bias": r"\bbias|\bb\s*=",
}


@dataclass(frozen=True)
class SheetWarning:
    question: str
    network: str
    layer: str
    setting: str
    value: Any
    family: str  # conv, pool or dense

    def __str__(self) -> str:
        what = {"kernel": "kernel size", "filters": "filter count", "units": "unit count",
                "weight": "weights"}.get(self.setting, self.setting)
        if self.family == "pool" and self.setting in ("kernel", "stride"):
            what = "pooling " + ("size" if self.setting == "kernel" else "stride")
        return (f"question '{self.question}' uses the {what} of layer '{self.layer}' (network '{self.network}', "
                f"{self.setting}: {_text(self.value)}), which the sheet does not show: not in the instructions, "
                "the part's prompt or the question's, nor in a data table")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sheet_warnings(problem: Problem) -> list[str]:
    """One line per setting a question uses that its sheet does not show (see the module's docstring)."""
    from .sheets import fill

    raw = problem.raw
    display = raw.get("display") or {}
    tables = {name for name, value in problem.data.items()
              if isinstance(value, np.ndarray) and display.get(name) is not False}
    instructions = fill(str(raw.get("instructions", "")), problem.data)
    warnings: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for part in problem.parts:
        context = instructions + "\n" + fill(part.prompt, problem.data)
        for q in part.questions:
            text = context + "\n" + fill(q.prompt, problem.data)
            for warning in _question_warnings(problem, q, text, tables):
                key = (warning.question, warning.layer, warning.setting)
                if key not in seen:
                    seen.add(key)
                    warnings.append(str(warning))
    return warnings


def _question_warnings(problem: Problem, q: Question, text: str, tables: set[str]) -> list[SheetWarning]:
    compute = q.compute or {}
    head = next((k for k in compute if k in _NEEDS), None)
    if head is None:
        return []
    net = compute[head]
    spec = problem.networks.get(net) if isinstance(net, str) else None
    layers = [layer for layer in (spec or {}).get("layers") or [] if isinstance(layer, dict)]
    chosen = _layers_used(layers, compute, head)
    needs = _NEEDS[head]
    if head == "shape" and compute.get("axes") is not None and all(a in (0, 1) for a in compute["axes"]):
        needs = tuple(n for n in needs if n not in ("filters", "units"))
    found: list[SheetWarning] = []
    last_channels = _last_with(chosen, ("filters", "units"))
    for layer in chosen:
        kind = str(layer.get("type", ""))
        family = "conv" if kind in _CONVS else "pool" if kind in _POOLS else "dense" if kind == "dense" else ""
        if not family:
            continue
        name = str(layer.get("name", kind))
        for setting in needs:
            if setting in ("filters", "units") and layer is not last_channels and head in ("shape", "size"):
                continue
            value = _setting(layer, setting, family)
            if value is _SKIP:
                continue
            if not _shown(setting, value, layer, family, text, tables, problem):
                found.append(SheetWarning(q.id, str(net), name, setting, _resolved(value, problem), family))
    return found


_SKIP = object()


def _setting(layer: dict[str, Any], setting: str, family: str) -> Any:
    """The value of a setting that matters for this layer family, or _SKIP."""
    if family == "dense":
        if setting == "units":
            return layer.get("units", _SKIP)
        if setting in ("bias", "weight"):
            return layer.get(setting, _SKIP)
        return _SKIP
    if family == "pool":
        if setting == "kernel":
            return layer.get("kernel", _SKIP)
        if setting == "stride":
            return layer.get("stride", layer.get("kernel", _SKIP))
        if setting == "padding" and "padding" in layer:
            return layer["padding"]
        return _SKIP
    if setting in ("filters", "kernel", "weight"):
        return layer.get(setting, _SKIP)
    if setting == "bias":
        # biases are there by default, as in every framework; one given in the file must be shown
        return layer.get("bias", _SKIP)
    if setting in _DEFAULTS:
        # a setting left at its default is still one the student must know, once the file says it
        # explicitly or it is not the default
        return layer.get(setting, _SKIP)
    return _SKIP


def _last_with(layers: list[dict[str, Any]], fields: tuple[str, ...]) -> dict[str, Any] | None:
    for layer in reversed(layers):
        if any(f in layer for f in fields):
            return layer
    return None


def _layers_used(layers: list[dict[str, Any]], compute: dict[str, Any], head: str) -> list[dict[str, Any]]:
    """The layers a question depends on: every layer up to the one it names (all of them by default); for
    `params` and `macs` with `layer`/`layers`, those layers only (parameters do not depend on the others)."""
    names = [layer.get("name") for layer in layers]
    if head in ("params", "macs") and ("layer" in compute or "layers" in compute):
        wanted = set(compute.get("layers") or [compute.get("layer")])
        return [layer for layer in layers if layer.get("name") in wanted]
    target = compute.get("layer")
    if target in names:
        return layers[: names.index(target) + 1]
    return layers


def _resolved(value: Any, problem: Problem) -> Any:
    if isinstance(value, str):
        match = _REF.match(value)
        if match and match.group(1) in problem.data:
            item = problem.data[match.group(1)]
            return f"${match.group(1)}" if isinstance(item, np.ndarray) else item
        return value
    if isinstance(value, list):
        return [_resolved(v, problem) for v in value]
    return value


def _refs_in(value: Any) -> list[str]:
    if isinstance(value, str):
        match = _REF.match(value)
        return [match.group(1)] if match else []
    if isinstance(value, list):
        return [name for v in value for name in _refs_in(v)]
    return []


def _numbers(value: Any) -> list[str]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [_text(float(value))]
    if isinstance(value, list):
        return sorted({n for v in value for n in _numbers(v)})
    return []


def _has_number(text: str, number: str) -> bool:
    number = number.replace("-", "[-−]")
    return re.search(rf"(?<![\d.]){number}(?![\d]|\.\d)", text) is not None


def _shown(setting: str, value: Any, layer: dict[str, Any], family: str, text: str, tables: set[str],
           problem: Problem) -> bool:
    refs = _refs_in(value)
    if refs and all(ref in tables for ref in refs):
        return True  # an array the sheet prints as tables (weights, a bias vector)
    value = _resolved(value, problem)
    if setting == "weight":
        return False  # weights given inline or hidden: the student cannot compute the cells
    if setting == "bias":
        if value is False:
            return re.search(r"\bno bias|without (a )?bias|bias(es)? (is|are|=) 0|\bb\s*=\s*0\b", text,
                             re.IGNORECASE) is not None
        if value is True:
            return re.search(_WORDS["bias"], text, re.IGNORECASE) is not None
        words = re.search(_WORDS["bias"], text, re.IGNORECASE) is not None
        return words and all(_has_number(text, n) for n in _numbers(value))
    if setting in ("kernel",):
        sizes = value if isinstance(value, list) else [value]
        if "weight" in layer and all(ref in tables for ref in _refs_in(layer["weight"])) and _refs_in(layer["weight"]):
            return True
        k = [_text(v) for v in sizes]
        if len(set(k)) == 1:
            n = re.escape(k[0])
            pattern = (rf"(?<![\d.]){n}\s*[×x]\s*{n}(?![\d])|\b[fk]\s*=\s*{n}\b"
                       rf"|(kernel|filter|window|pool\w*)( size)?( of)? {n}\b")
            return re.search(pattern, text, re.IGNORECASE) is not None
        return all(_has_number(text, n) for n in k)
    if setting in ("filters", "units"):
        return all(_has_number(text, n) for n in _numbers(value)) or (
            setting == "filters" and "weight" in layer and bool(_refs_in(layer["weight"]))
            and all(ref in tables for ref in _refs_in(layer["weight"])))
    if setting == "padding":
        if value in ("same", "valid", "full"):
            return re.search(rf"\b{value}\b", text, re.IGNORECASE) is not None
        if value in (0, [0, 0]) and re.search(r"no padding|without padding|\bvalid\b|not padded|unpadded", text,
                                              re.IGNORECASE):
            return True
    # the default pooling stride is the window: "non-overlapping" says it too
    if setting == "stride" and family == "pool" and "stride" not in layer and \
            re.search(r"non-overlapping", text, re.IGNORECASE):
        return True
    numbers = _numbers(value)
    return bool(numbers) and all(_near(_WORDS[setting], n, text) for n in numbers)


def _near(words: str, number: str, text: str) -> bool:
    """The number said with its word, in one phrase: "stride 2", "s = 2", "1 pixel of zero padding"."""
    number = number.replace("-", "[-−]")
    phrase = r"[^,;.\n]{0,25}?"
    pattern = rf"(?:{words}){phrase}(?<![\d.]){number}(?![\d]|\.\d)|(?<![\d.]){number}(?![\d]|\.\d){phrase}(?:{words})"
    return re.search(pattern, text, re.IGNORECASE) is not None
