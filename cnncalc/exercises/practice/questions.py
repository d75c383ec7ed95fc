"""Practice questions made from scratch: a random valid network or layer at a chosen level, a question
template, and the key, worked solution and slips from the same engine that grades exercise files.

Each question is a one-question problem (:meth:`PracticeQuestion.export` writes it as a problem file).
**Its key is computed when it is drawn, by the calculator's own rules**: each layer's class infers its
shape, parameters, MACs and receptive-field step (:func:`walk`), the executor's kernels compute a map
(:func:`forward`), and :mod:`cnncalc.maths.arith` gives 'same' paddings and transposed sizes. A size
search goes over the sizes with the layers' own window rule, in whole numbers, where the solver
substitutes each size into a symbolic network. The problem, its worked solution (the key's,
:func:`.key.compute_key`), its hint and its slips are built only when the question is shown, graded or
exported, which is when they are needed; ``compute_key`` on the exported problem gives the same key
(the tests check it).

**Levels are calibrated, not guessed.** A question's *features* are read from what it is built from (a
stride above 1 anywhere, a padding, a dilation, …; :func:`features_of`), and its level is the highest
level of its features (:data:`FEATURE_LEVEL`; none: level 1). Asked for level L, the generator draws
networks that may use every feature of level L or below, and prefers a draw that reaches L.

>>> [q.level <= 2 for q in generate(count=3, level=2, seed=1)]
[True, True, True]
>>> generate(count=1, level=1, topic=["shape"], seed=4)[0].features
frozenset()
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import CnnCalcError, did_you_mean
from ...maths import arith
from ..key import num
from ..problem import COMPUTE_KINDS
from .keys import key_of

#: the level each feature belongs to; a question's level is the highest of its features' (1 with none)
FEATURE_LEVEL: dict[str, int] = {
    "stride": 2, "padding": 2, "pool": 2,
    "layers": 3, "dense": 3, "macs": 3, "same": 3,
    "dilation": 4, "transposed": 4, "rf": 4,
    "groups": 5, "symbolic": 5,
}
FEATURES = tuple(FEATURE_LEVEL)
LEVELS = (1, 2, 3, 4, 5)
LEVEL_TEXT = {1: "one conv, no stride or padding", 2: "stride, padding, pooling",
              3: "several layers, dense layers, MACs, 'same' padding",
              4: "dilation, transposed convolutions, receptive fields",
              5: "groups, symbolic input sizes (valid sizes, output sizes as expressions of n)"}
MAX_COUNT = 10_000  # questions one call makes (a terminal session or a sheet)
MAX_TRIES = 60  # draws of one question before the template is said to fail (never seen: a safety net)


def level_of(features: frozenset[str] | set[str]) -> int:
    """The level of a question that uses these features.

    >>> level_of(frozenset()), level_of({"stride", "padding"}), level_of({"stride", "dilation"})
    (1, 2, 4)
    """
    return max((FEATURE_LEVEL[f] for f in features), default=1)


@dataclass
class PracticeQuestion:
    """One generated question and its key; the problem it is, its worked solution, hint and slips are
    built on first use (showing, grading, exporting)."""

    id: str
    topic: str
    level: int
    features: frozenset[str]
    prompt: str  # what is asked, the network described above it in ``setting``
    tables: list[tuple[str, list[list[int]]]]  # matrices the question gives (map cells): (caption, rows)
    problem: dict[str, Any]  # the one-question problem it is built from (exported as YAML)
    kind: str  # the answer kind (exercises/answers.py reads it)
    key: Any  # the answer as an answer file writes it (a list, an int, nested lists)
    made: dict[str, Any] = field(repr=False)  # the draw (what the hint is written from)
    _built: Any = field(default=None, repr=False)  # (Problem, AnswerKey), for the solution, grading and slips

    QID = "q"

    @property
    def setting(self) -> list[str]:
        """The network the question gives, one line each (nothing for a question of values alone)."""
        return [line for spec in self.made["networks"].values() for line in describe(spec)]

    @property
    def example(self) -> str:
        """How an answer is written, with numbers that are not the key's."""
        from ..answers import example

        return example(self.kind, self.key)

    def built(self) -> tuple[Any, Any]:
        """(Problem, AnswerKey): the question as the grader reads it, keyed by :func:`.key.compute_key`."""
        if self._built is None:
            self._built = _build(self.problem)
        return self._built  # type: ignore[no-any-return]

    @property
    def solution(self) -> list[str]:
        """The worked solution, the key's."""
        _, key = self.built()
        return list(key[self.QID].solution)

    @property
    def hint(self) -> str:
        """The formula with the numbers put in, without its result."""
        _, key = self.built()
        return hint_for(self.topic, self.made, key)

    def slips(self) -> list[Any]:
        """The catalogue's wrong answers to this question (:class:`.slips.Candidate`), each named."""
        from ..slips import candidates

        problem, key = self.built()
        return candidates(key, problem.questions[0])

    def grade(self, answer: Any) -> Any:
        """One answer (text as typed, or a value) graded and marked: a :class:`.grading.QuestionResult`
        with its status (correct, incorrect, partial, invalid) and, when a slip gives it, its diagnosis."""
        from ..grading import grade_one, mark

        problem, key = self.built()
        q = problem.questions[0]
        answers = {q.id: answer}
        result = grade_one(q, key[q.id], answers)
        mark(problem, key, answers, [result])
        return result

    def export(self) -> str:
        """The question as a problem file (YAML): ``cnncalc check`` computes the same key from it."""
        import yaml

        return yaml.safe_dump(self.problem, sort_keys=False, allow_unicode=True, width=120)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "level": self.level, "features": sorted(self.features),
                "prompt": self.prompt, "setting": self.setting, "tables": [list(t) for t in self.tables],
                "kind": self.kind, "key": self.key, "hint": self.hint, "solution": self.solution}


def _build(raw: dict[str, Any]) -> tuple[Any, Any]:
    from ..key import compute_key
    from ..problem import build_problem

    problem = build_problem(raw, "<practice>")  # (it reads the raw problem, never changes it)
    return problem, compute_key(problem)


# ---------------------------------------------------------------- features, read from what a question is built from


def _pairs(value: Any) -> list[int]:
    """Every number of a size or padding field (int, per-axis list, [before, after] pairs)."""
    if type(value) is int:  # the common case first: a question's features are read at every draw
        return [value]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, list):
        return [n for item in value for n in _pairs(item)]
    return []


def features_of(problem: dict[str, Any]) -> frozenset[str]:
    """The features a one-question problem uses, read from its networks and its compute."""
    found: set[str] = set()
    compute = problem["parts"][0]["questions"][0]["compute"]
    for spec in (problem.get("networks") or {}).values():
        layers = spec["layers"]
        if any(not isinstance(d, int) for d in spec["input"]):
            found.add("symbolic")
        if len([layer for layer in layers if layer["type"] in ("conv", "conv_transpose", "dense")]) > 1:
            found.add("layers")
        for layer in layers:
            kind = layer["type"]
            if kind in ("maxpool", "avgpool"):
                found.add("pool")
                if max(_pairs(layer.get("stride", layer.get("kernel")))) > 1:
                    found.add("stride")
            if kind == "dense":
                found.add("dense")
            if kind == "conv_transpose":
                found.add("transposed")
            if max(_pairs(layer.get("stride", 1)), default=1) > 1 and kind not in ("maxpool", "avgpool"):
                found.add("stride")
            padding = layer.get("padding", 0)
            if padding == "same":
                found.add("same")
            elif any(_pairs(padding)) or any(_pairs(layer.get("output_padding", 0))):
                found.add("padding")
            if max(_pairs(layer.get("dilation", 1)), default=1) > 1:
                found.add("dilation")
            if layer.get("groups", 1) > 1:
                found.add("groups")
    head = next(iter(compute))
    found |= {"macs": {"macs"}, "receptive_field": {"rf"}, "sizes": {"symbolic"}, "pads": {"same"},
              "transpose": {"transposed"}, "expression": {"symbolic"}}.get(head, set())
    values = compute.get("pads") or compute.get("transpose") or compute.get("expression") or {}
    if values.get("s", 1) > 1:
        found.add("stride")
    if values.get("p", 0) or values.get("output_padding", 0):
        found.add("padding")
    if values.get("d", 1) > 1:
        found.add("dilation")
    return frozenset(found)


# ---------------------------------------------------------------- drawing networks


class Draw:
    """One draw of a question: the random source and the features it may use."""

    def __init__(self, rng: random.Random, level: int) -> None:
        self.rng = rng
        self.level = level

    def may(self, feature: str, chance: float = 0.5) -> bool:
        """Whether to use a feature: allowed at this level, then with this chance."""
        return FEATURE_LEVEL[feature] <= self.level and self.rng.random() < chance

    def pick(self, items: Sequence[Any]) -> Any:
        return self.rng.choice(items)


def _conv(draw: Draw, n: Any, channels: int, name: str, *, wide: bool = True) -> tuple[dict[str, Any], Any, int]:
    """A conv layer that fits an input of n pixels (n may be a symbol: then any settings): (spec, out, C)."""
    rng = draw.rng
    layer: dict[str, Any] = {"type": "conv", "name": name,
                             "filters": draw.pick((4, 6, 8, 12, 16, 32) if wide else (1, 2, 4)),
                             "kernel": draw.pick((3, 5) if draw.level == 1 else (1, 2, 3, 3, 5, 7))}
    if draw.may("stride", 0.6):
        layer["stride"] = draw.pick((2, 2, 3))
    if draw.may("same", 0.3):
        layer["padding"] = "same"
    elif draw.may("padding", 0.6):
        layer["padding"] = draw.pick((1, 1, 2, 3))
    if draw.may("dilation", 0.4):
        layer["dilation"] = draw.pick((2, 3))
    if draw.may("groups", 0.5):
        options = [g for g in (2, 4) if channels % g == 0 and layer["filters"] % g == 0]
        if options:
            layer["groups"] = draw.pick(options)
    out = _out(layer, n)
    if out is None:
        return _conv(draw, n, channels, name, wide=wide) if rng.random() < 0.9 else _plain(layer, n, channels)
    return layer, out, int(layer["filters"])


def _plain(layer: dict[str, Any], n: Any, channels: int) -> tuple[dict[str, Any], Any, int]:
    """The layer with a 1×1 kernel and no stride: fits any input (the end of a run of bad draws)."""
    layer = {"type": "conv", "name": layer["name"], "filters": layer["filters"], "kernel": 1}
    return layer, n, int(layer["filters"])


def _out(layer: dict[str, Any], n: Any) -> Any:
    """The layer's output size along one axis for input n (None when it does not fit or is not whole)."""
    k, s, d = int(layer.get("kernel", 1)), int(layer.get("stride", layer["kernel"] if "pool" in layer["type"] else 1)), \
        int(layer.get("dilation", 1))
    padding = layer.get("padding", 0)
    if layer["type"] == "conv_transpose":
        out = arith.transpose_output(n, k, s, padding, padding, int(layer.get("output_padding", 0)), d)
    elif padding == "same":
        out = arith.same_padding(n, k, s, d)[0] if arith.is_int(n) else arith.ceil_div(n, s)
    else:
        if arith.is_int(n) and n + 2 * padding < arith.effective_kernel(k, d):
            return None
        out = arith.conv_output(n, k, s, padding, padding, d)
    return out if not arith.is_int(out) or out >= 1 else None


def _pool(draw: Draw, n: Any, name: str) -> tuple[dict[str, Any], Any] | None:
    layer: dict[str, Any] = {"type": "maxpool", "name": name, "kernel": draw.pick((2, 2, 3))}
    if draw.rng.random() < 0.3:
        layer["stride"] = draw.pick((1, 2))
    out = _out(layer, n)
    return None if out is None else (layer, out)


def _transpose_layer(draw: Draw, n: Any, name: str) -> tuple[dict[str, Any], Any, int]:
    stride = draw.pick((1, 2, 2, 3))
    layer: dict[str, Any] = {"type": "conv_transpose", "name": name, "filters": draw.pick((4, 8, 16)),
                             "kernel": draw.pick((2, 3, 4)), "stride": stride}
    if draw.rng.random() < 0.5:
        layer["padding"] = draw.pick((1, 1, 2)) if layer["kernel"] > 2 else 1
    if stride > 1 and draw.rng.random() < 0.4:
        layer["output_padding"] = 1
    out = _out(layer, n)
    if out is None or layer.get("output_padding", 0) >= max(stride, int(layer.get("dilation", 1))):
        layer.pop("output_padding", None)
        layer.pop("padding", None)
        out = _out(layer, n)
    return layer, out, int(layer["filters"])


def chain(draw: Draw, depth: int, *, size: Any = None, channels: int | None = None, pools: bool = True,
          transposed: bool = True) -> tuple[dict[str, Any], Any]:
    """A network of ``depth`` sliding layers (convolutions, pools, a transposed convolution) that all fit:
    (spec, output size)."""
    n = size if size is not None else draw.pick((7, 8, 9, 10, 12, 14, 15, 16, 28, 32, 64) if draw.level > 1
                                                else (5, 6, 7, 8, 10, 12, 28, 32))
    c = channels if channels is not None else draw.pick((1, 3, 3, 4, 8, 16))
    spec: dict[str, Any] = {"input": [n, n, c], "layers": []}
    counts: dict[str, int] = {}

    def name(kind: str) -> str:
        counts[kind] = counts.get(kind, 0) + 1
        return f"{kind}{counts[kind]}"

    for _ in range(depth):
        if transposed and draw.may("transposed", 0.25) and arith.is_int(n) and n <= 16:
            layer, n, c = _transpose_layer(draw, n, name("deconv"))
        else:
            layer, n, c = _conv(draw, n, c, name("conv"))
        spec["layers"].append(layer)
        if pools and draw.may("pool", 0.35):
            pooled = _pool(draw, n, name("pool"))
            if pooled is not None:
                spec["layers"].append(pooled[0])
                n = pooled[1]
    return spec, n


# ---------------------------------------------------------------- describing a network as the course does


def _size(value: Any) -> str:
    return f"{value}×{value}" if not isinstance(value, list) else "×".join(str(v) for v in value)


def describe_layer(layer: dict[str, Any]) -> str:
    """One layer as a sheet writes it: ``conv1: conv, 8 filters 3×3, stride 2, padding 1``."""
    kind = layer["type"]
    parts: list[str] = []
    if kind in ("conv", "conv_transpose"):
        parts.append(("conv" if kind == "conv" else "transposed conv") +
                     f", {layer['filters']} filter{'s' if layer['filters'] != 1 else ''} {_size(layer['kernel'])}")
        parts.append(f"stride {layer.get('stride', 1)}")
        padding = layer.get("padding", 0)
        parts.append("padding 'same'" if padding == "same" else f"padding {padding}" if padding else "no padding")
        if layer.get("output_padding"):
            parts.append(f"output_padding {layer['output_padding']}")
        if layer.get("dilation", 1) != 1:
            parts.append(f"dilation {layer['dilation']}")
        if layer.get("groups", 1) != 1:
            parts.append(f"groups {layer['groups']}")
        if layer.get("bias") is False:
            parts.append("no bias")
    elif kind in ("maxpool", "avgpool"):
        parts.append(("max" if kind == "maxpool" else "average") + f" pooling {_size(layer['kernel'])}")
        parts.append(f"stride {layer.get('stride', layer['kernel'])}")
    elif kind == "dense":
        parts.append(f"dense, {layer['units']} units")
    else:
        parts.append(kind)
    return f"{layer['name']}: " + ", ".join(parts)


def describe(spec: dict[str, Any]) -> list[str]:
    shape = spec["input"]
    return [f"input: {'×'.join(str(d) for d in shape)} (H×W×C)"] + ["  " + describe_layer(layer)
                                                                     for layer in spec["layers"]]


# ---------------------------------------------------------------- templates: one per topic


@dataclass(frozen=True)
class Template:
    topic: str
    level: int  # the lowest level it is asked at (the level of the features it cannot do without)
    reaches: tuple[int, ...]  # the levels its draws can reach (those of the features it may use)
    doc: str
    make: Callable[[Draw], dict[str, Any]]  # → {"networks", "data", "compute", "prompt", "tables"}


def _ask(compute: dict[str, Any], prompt: str, networks: dict[str, Any] | None = None,
         data: dict[str, Any] | None = None, tables: list[Any] | None = None) -> dict[str, Any]:
    return {"compute": compute, "prompt": prompt, "networks": networks or {}, "data": data or {},
            "tables": tables or []}


def _depth(draw: Draw, most: int = 3) -> int:
    return 1 if not draw.may("layers", 0.7) else draw.rng.randint(2, most)


def _with_dense(draw: Draw, spec: dict[str, Any]) -> None:
    if draw.may("dense", 0.3):
        spec["layers"] += [{"type": "flatten", "name": "flatten"},
                           {"type": "dense", "name": "fc", "units": draw.pick((10, 16, 32, 100))}]


def _shape(draw: Draw) -> dict[str, Any]:
    spec, _ = chain(draw, _depth(draw))
    last = spec["layers"][-1]["name"]
    return _ask({"shape": "net", "layer": last}, f"What is the output shape of {last} (H×W×C)?", {"net": spec})


def _params(draw: Draw) -> dict[str, Any]:
    spec, _ = chain(draw, _depth(draw))
    _with_dense(draw, spec)
    weighted = [layer["name"] for layer in spec["layers"] if layer["type"] in ("conv", "conv_transpose", "dense")]
    if len(weighted) > 1 and draw.rng.random() < 0.4:
        return _ask({"params": "net"}, "How many parameters (weights and biases) does the network have in all?",
                    {"net": spec})
    target = weighted[-1]
    layer = next(layer for layer in spec["layers"] if layer["name"] == target)
    if draw.rng.random() < 0.2 and layer["type"] != "dense":
        layer["bias"] = False
    return _ask({"params": "net", "layer": target}, f"How many parameters (weights and biases) does {target} have?",
                {"net": spec})


def _macs(draw: Draw) -> dict[str, Any]:
    spec, _ = chain(draw, _depth(draw), transposed=False)
    weighted = [layer["name"] for layer in spec["layers"] if layer["type"] == "conv"]
    target = weighted[-1]
    return _ask({"macs": "net", "layer": target}, f"How many multiply-accumulates (MACs) does {target} take for one "
                "input?", {"net": spec})


def _receptive_field(draw: Draw) -> dict[str, Any]:
    spec, _ = chain(draw, draw.rng.randint(2, 4), size=draw.pick((32, 64)), transposed=False)
    for layer in spec["layers"]:
        layer.pop("groups", None)
    last = spec["layers"][-1]["name"]
    return _ask({"receptive_field": "net", "layer": last},
                f"How many input pixels wide is the receptive field of one output pixel of {last}?", {"net": spec})


def _same(draw: Draw) -> dict[str, Any]:
    values: dict[str, Any] = {"f": draw.pick((2, 3, 4, 5, 6, 7)), "same": True}
    if draw.may("dilation", 0.4):
        values["d"] = draw.pick((2, 3))
    words = f"a {values['f']}×{values['f']} filter" + (f" with dilation {values['d']}" if "d" in values else "")
    if draw.may("stride", 0.3):
        values["s"], values["n"] = 2, draw.pick((9, 10, 15, 16, 27, 32))
        prompt = (f"A conv layer with {words} and stride 2 on a {values['n']}-pixel-wide input uses 'same' padding "
                  "(TensorFlow's rule: out = ⌈n/s⌉). How many pixels are padded before and after (left, right)?")
    else:
        prompt = (f"A conv layer with {words} and stride 1 uses 'same' padding (the output as wide as the input). "
                  "How many pixels are padded before and after (left, right)?")
    return _ask({"pads": values}, prompt)


def _transpose(draw: Draw) -> dict[str, Any]:
    s = draw.pick((1, 2, 2, 3))
    values: dict[str, Any] = {"n": draw.pick((3, 4, 5, 7, 8, 14, 16)), "f": draw.pick((2, 3, 4, 5)), "s": s}
    if draw.rng.random() < 0.6:
        values["p"] = draw.pick((0, 1, 1, 2)) if values["f"] > 2 else 0
    if draw.may("dilation", 0.2):
        values["d"] = 2
    if s > 1 and draw.rng.random() < 0.4:
        values["output_padding"] = 1
    extra = "".join(f", {word} {values[key]}" for key, word in (("p", "padding"), ("d", "dilation"),
                                                                 ("output_padding", "output_padding")) if key in values)
    prompt = (f"A transposed convolution with a {values['f']}×{values['f']} kernel, stride {s}{extra} takes an input "
              f"{values['n']} pixels wide. How wide is its output?")
    return _ask({"transpose": values}, prompt)


def _valid(draw: Draw) -> dict[str, Any]:
    # drawn to fit one size, then asked about that size or a smaller one (strides and pools make the
    # small ones fail): about as many no as yes
    spec, _ = chain(draw, _depth(draw), transposed=False)
    n = spec["input"][0]
    asked = n if draw.rng.random() < 0.3 else draw.rng.randint(1, max(1, n // 3))
    spec["input"] = [asked, asked, spec["input"][2]]
    return _ask({"valid": "net"}, f"Is this network valid for an input of {asked}×{asked}: does every layer's window "
                "fit its (padded) input, leaving an output of at least 1 pixel? Answer yes or no.", {"net": spec})


def _formula(draw: Draw) -> dict[str, Any]:
    # the output size of one conv layer as an expression of its input size n (the solver's 'out' for a
    # symbolic n); a stride above 1 makes it a floor, as the course writes it
    values: dict[str, Any] = {"n": "n", "f": draw.pick((2, 3, 3, 5, 7))}
    if draw.may("padding", 0.6):
        values["p"] = draw.pick((1, 1, 2, 3))
    if draw.may("stride", 0.7):
        values["s"] = draw.pick((2, 2, 3))
    if draw.may("dilation", 0.3):
        values["d"] = 2
    words = f"stride {values.get('s', 1)}, " + (f"padding {values['p']}" if "p" in values else "no padding") + (
        f", dilation {values['d']}" if "d" in values else "")
    prompt = (f"A conv layer with a {values['f']}×{values['f']} kernel, {words} takes an input n pixels wide. Write "
              "its output width as an expression of n (⌊…⌋ or floor(…) rounds down).")
    return _ask({"expression": values, "for": "out"}, prompt)


def _sizes(draw: Draw) -> dict[str, Any]:
    # drawn on a size that fits (so some n from 1 to 64 is valid), then asked for every size
    spec, _ = chain(draw, draw.rng.randint(2, 3), size=draw.pick((16, 20, 24, 32)), channels=3, transposed=False)
    spec["input"] = ["n", "n", 3]
    exact = draw.rng.random() < 0.4
    compute: dict[str, Any] = {"sizes": "net", "min": 1, "max": 32}  # each size costs a symbolic walk
    if exact:
        compute["exact"] = True
    what = ("for which no layer drops pixels (every division exact)" if exact else
            "for which every layer is valid (its window fits)")
    return _ask(compute, f"The input is n×n×3. Which sizes n from 1 to 32 give a network {what}?", {"net": spec})


def _cells(draw: Draw) -> dict[str, Any]:
    rng = draw.rng
    n, k = draw.pick((4, 5, 6)), draw.pick((2, 3))
    conv: dict[str, Any] = {"type": "conv", "name": "conv", "filters": 1, "kernel": k, "weight": "$w", "bias": ["$b"]}
    if draw.may("stride", 0.4) and n >= k + 2:
        conv["stride"] = 2
    if draw.may("padding", 0.4):
        conv["padding"] = 1
    if draw.may("dilation", 0.4) and n + 2 * conv.get("padding", 0) >= 2 * (k - 1) + 1 + 1:
        conv["dilation"] = 2
    layers = [conv]
    size = _out(conv, n)
    # one draw per matrix (a draw per cell would cost more than the question's key)
    pixels, taps = rng.choices(range(6), k=n * n), rng.choices(range(-2, 3), k=k * k)
    x = [pixels[i * n:(i + 1) * n] for i in range(n)]
    w = [taps[i * k:(i + 1) * k] for i in range(k)]
    b = rng.randint(-3, 3)
    target = "conv"
    if draw.may("pool", 0.4) and size >= 2:
        layers += [{"type": "relu", "name": "relu"}, {"type": "maxpool", "name": "pool", "kernel": 2, "stride": 1}]
        target = "pool"
    spec = {"input": [n, n, 1], "layers": layers}
    data = {"x": {"matrix": x}, "w": {"filters_per_channel": [w]}, "b": b}
    tables = [("input x", x), ("filter w", w)]
    bias = f"; the bias is b = {num(b)}" if b else "; the bias is 0"
    if target == "conv" and rng.random() < 0.5 and size >= 2:
        row, col = rng.randrange(size), rng.randrange(size)
        return _ask({"cell": "net", "input": "x", "layer": "conv", "at": [row, col, 0]},
                    f"The filter w slides over the input x (cross-correlation, as deep learning does){bias}. What is "
                    f"the output at row {row + 1}, column {col + 1}?", {"net": spec}, data, tables)
    then = ", then ReLU and the max pooling" if target == "pool" else ""
    return _ask({"map": "net", "input": "x", "layer": target},
                f"The filter w slides over the input x (cross-correlation){bias}{then}. Write the whole output map "
                "(rows separated by ';').", {"net": spec}, data, tables)


TEMPLATES: dict[str, Template] = {t.topic: t for t in (
    Template("shape", 1, (1, 2, 3, 4, 5), "the output shape of a layer", _shape),
    Template("params", 1, (1, 2, 3, 4, 5), "the parameters of a layer or a network", _params),
    # (a map has no level-3 feature: asked at level 3, it is a level-2 question)
    Template("cells", 1, (1, 2, 4), "cells of an output map, from the numbers (executor)", _cells),
    Template("macs", 3, (3, 4, 5), "the multiply-accumulates of a conv layer", _macs),
    Template("same", 3, (3, 4), "the padding 'same' needs, before and after", _same),
    Template("rf", 4, (4,), "the receptive field of a layer's output pixel", _receptive_field),
    Template("transpose", 4, (4,), "the output size of a transposed convolution", _transpose),
    Template("sizes", 5, (5,), "the input sizes a network accepts (symbolic sizes)", _sizes),
    Template("valid", 2, (2, 3, 4, 5), "whether a network accepts an input size (yes or no)", _valid),
    Template("formula", 5, (5,), "a layer's output size as an expression of its input size n", _formula),
)}
TOPICS = tuple(TEMPLATES)


# ---------------------------------------------------------------- hints: the formula with the numbers


def _unresolved(line: str) -> str:
    """A worked line without its result: ``⌊(32 + 2·1 − 3)/2⌋ + 1 = 16`` → ``⌊(32 + 2·1 − 3)/2⌋ + 1``."""
    head, sep, _ = line.rpartition(" = ")
    return head if sep else line


def hint_for(topic: str, made: dict[str, Any], key: Any) -> str:
    """The formula of the question with its numbers put in, its result left to work out."""
    expected = key[PracticeQuestion.QID]
    solution = expected.solution
    if topic in ("shape", "params", "macs"):
        prefix = {"shape": "H: ", "params": None, "macs": None}[topic]
        builder = key.builder
        summary = builder.summary("net")
        compute = made["compute"]
        if topic == "shape":
            record = summary.record(compute["layer"])
            line = next((x for x in record.explain if x.startswith(prefix or "")), "")
            formula = ("out = (n − 1)·s − 2p + d·(k − 1) + output_padding + 1" if record.type == "conv_transpose"
                       else "out = ⌊(n + 2p − d·(k − 1) − 1)/s⌋ + 1")
            return f"{formula}; at {record.name}, {_unresolved(line)}"
        name = compute.get("layer")
        records = [summary.record(name)] if name else [r for r in summary.records if r.params or r.macs]
        word = "params: " if topic == "params" else "MACs: "
        shown = [f"{r.name}: {_unresolved(line[len(word):])}" for r in records for line in r.explain
                 if line.startswith(word)]
        formula = ("k·k·(C/groups)·F + F for a conv (no bias: without + F), in·units + units for a dense layer"
                   if topic == "params" else "H_out·W_out·F·(C/groups)·k·k for a conv")
        return f"{formula}; " + "; ".join(shown)
    if topic == "transpose":
        return _unresolved(solution[1]) if len(solution) > 1 else solution[0]
    if topic == "same":
        values = made["compute"]["pads"]
        d = values.get("d", 1)
        if "s" in values:
            return (f"out = ⌈{values['n']}/{values['s']}⌉; total = max((out − 1)·{values['s']} + {d}·({values['f']} − 1)"
                    f" + 1 − {values['n']}, 0); before = ⌊total/2⌋, after = total − before")
        return f"total = {d}·({values['f']} − 1); before = ⌊total/2⌋, after = total − before"
    if topic == "rf":
        return solution[0] + "; " + "; ".join(_unresolved(line.split(", j =")[0]) for line in solution[1:-1])
    if topic == "cells":
        worked = [line.strip() for line in solution if "·" in line and "(" in line and "channel" not in line]
        pooled = [line for line in solution if line.startswith("row 1, column 1: max")]
        if pooled:
            return "ReLU: max(0, x) at each cell of the conv output; then " + _unresolved(pooled[0])
        if worked:
            return ("row 1, column 1: " if made["compute"].get("map") else "") + _unresolved(worked[0])
        return "out(i, j) = Σ_a Σ_b x(i·s + d·a − p, j·s + d·b − p)·w(a, b) + b (taps d pixels apart)"
    if topic == "valid":
        return ("walk the size layer by layer: each window needs its padded input at least d·(k − 1) + 1 wide, "
                "then out = ⌊(n + 2p − d·(k − 1) − 1)/s⌋ + 1 (a pool's stride is its window unless given)")
    if topic == "formula":
        return solution[1] + ": simplify, keeping n (a stride above 1 leaves a floor)"
    if topic == "sizes":
        return ("each layer needs its padded input at least d·(k − 1) + 1 wide: ⌊(n + 2p − d·(k − 1) − 1)/s⌋ + 1 ≥ 1"
                + ("; no pixel dropped: n + 2p − d·(k − 1) − 1 divisible by s at every layer"
                   if made["compute"].get("exact") else ""))
    return ""


# ---------------------------------------------------------------- generating


def _usable(value: Any) -> bool:
    """A practice answer is whole numbers or an expression, never empty."""
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list):
        return bool(value) and all(_usable(v) for v in value)
    return isinstance(value, int) and not isinstance(value, bool)


def _keyed(made: dict[str, Any]) -> Any:
    """The key of a draw, or None when the calculator refuses it or it is not a usable answer."""
    try:
        value = key_of(made)
    except CnnCalcError:
        return None  # a draw the calculator refuses (a window that no longer fits): draw again
    return value if _usable(value) else None


def make_question(topic: str, level: int, rng: random.Random, qid: str) -> PracticeQuestion:
    """One question of a topic, drawn to reach ``level`` where the topic can (and never above it)."""
    template = TEMPLATES[topic]
    settle = rng.random() < 0.25  # a quarter of the questions take the first valid draw, whatever its level
    target = max(reached for reached in template.reaches if reached <= level)
    fallback: list[tuple[int, frozenset[str], dict[str, Any], dict[str, Any]]] = []  # draws below the target, in case
    best = None
    for _ in range(MAX_TRIES):
        made = template.make(Draw(rng, level))
        raw = _problem(made, topic, level, qid)
        # the features are read from the draw before its key is computed: a draw of another level costs
        # only the draw
        features = features_of(raw)
        found = level_of(features)
        if found > level:
            continue
        if found != target and not settle:
            if len(fallback) < 4:
                fallback.append((found, features, made, raw))
            continue
        value = _keyed(made)
        if value is not None:
            best = features, made, raw, value
            break
    for found, features, made, raw in sorted(fallback, key=lambda item: -item[0]) if best is None else ():
        value = _keyed(made)
        if value is not None:
            best = features, made, raw, value
            break
    if best is None:
        raise CnnCalcError(f"practice: no valid {topic} question drawn in {MAX_TRIES} tries (please report this)")
    features, made, raw, value = best
    return PracticeQuestion(qid, topic, level_of(features), features, made["prompt"],
                            [(caption, rows) for caption, rows in made["tables"]], raw,
                            COMPUTE_KINDS[next(iter(made["compute"]))], value, made)


def _problem(made: dict[str, Any], topic: str, level: int, qid: str) -> dict[str, Any]:
    """The one-question problem file of a draw."""
    return {"id": f"practice-{qid}", "title": f"practice {qid} ({topic}, level {level})",
            **({"data": made["data"]} if made["data"] else {}),
            **({"networks": made["networks"]} if made["networks"] else {}),
            "parts": [{"id": "q", "questions": [{"id": PracticeQuestion.QID, "prompt": made["prompt"],
                                                 "compute": made["compute"]}]}]}


def check_topics(topics: Sequence[str] | None, level: int) -> list[str]:
    """The topics asked for (all by default) that exist and are asked at this level."""
    if level not in LEVELS:
        raise CnnCalcError("unknown level", got=level, expected="1 to 5 (" + "; ".join(
            f"{n}: {text}" for n, text in LEVEL_TEXT.items()) + ")")
    if not topics:
        return [topic for topic, template in TEMPLATES.items() if template.level <= level]
    chosen = []
    for topic in topics:
        if topic not in TEMPLATES:
            raise CnnCalcError(f"unknown topic '{topic}'", hint=did_you_mean(topic, TEMPLATES),
                               expected=", ".join(TOPICS))
        if TEMPLATES[topic].level > level:
            raise CnnCalcError(f"topic '{topic}' starts at level {TEMPLATES[topic].level}", got=level,
                               hint=f"--level {TEMPLATES[topic].level} or higher")
        if topic not in chosen:
            chosen.append(topic)
    return chosen


def generate(count: int = 5, level: int = 1, topic: Sequence[str] | None = None, seed: int = 0
             ) -> list[PracticeQuestion]:
    """``count`` questions at ``level`` on the topics (all of the level by default); the same seed gives
    the same questions, and question i is the same whatever the count."""
    topics = check_topics(topic, level)
    if not 1 <= count <= MAX_COUNT:
        raise CnnCalcError("the number of questions is out of range", got=count, expected=f"1 to {MAX_COUNT:,}")
    questions = []
    # the valid-sizes questions take the longest to key (a symbolic walk per size): half as often as the others
    weights = [0.5 if topic == "sizes" and len(topics) > 1 else 1.0 for topic in topics]
    for i in range(count):
        rng = random.Random(f"cnncalc practice {seed} {level} {','.join(topics)} {i}")
        questions.append(make_question(rng.choices(topics, weights)[0], level, rng, f"q{i + 1}"))
    return questions
