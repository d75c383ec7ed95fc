"""Exercise files: data, networks and questions whose answers are *computed*, never typed in.

A problem file (YAML)::

    id: cnn-layers-worksheet
    version: 1
    title: ...
    data:                                  # arrays and numbers the sheet gives
      x: {channels: [[...6×6...], [...], [...]]}      # C matrices → an [H, W, C] array
      w: {filters_per_channel: [[...3×3...], ...]}    # one filter given per input channel → [k, k, C, 1]
      given: {matrix: [[35, 20], [1, -1]]}            # a 2-D map → [H, W, 1]
      b: 7
    networks:                              # specs (v1); `$name` puts data in (weights, bias, sizes)
      conv: {input: [6, 6, 3], layers: [{type: conv, name: conv, filters: 1, kernel: 3, weight: $w, bias: [$b]}]}
    parts:
      - id: a
        points: 0.5
        prompt: ...
        questions:
          - {id: a.shape, prompt: ..., compute: {shape: conv, layer: conv, axes: [0, 1]}}
          - {id: a.cell, compute: {cell: conv, input: x, layer: conv, at: [3, 3, 0]}}
          - {id: b.relu, compute: {map: net_b, input: given, layer: relu}}
          - {id: c.total, compute: {params: net_c}}          # or layer: NAME / layers: [...]
          - {id: d.padding, compute: {solve: {f: 7, same: true}, for: p}}
          - {id: e.expr, compute: {expression: {f: f, same: true}, for: p}}
          - {id: b.plot, kind: manual, points: 0}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CnnCalcError, ExerciseError, did_you_mean
from ..spec import safeload

TOP_KEYS = ("id", "version", "title", "source", "instructions", "data", "display", "networks", "parts", "vary")
COMPUTE_KINDS = {"shape": "shape", "cell": "value", "map": "matrix", "params": "count", "solve": "number",
                 "expression": "expression", "size": "count", "value": "value"}
_REF = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass
class Question:
    id: str
    part: str
    kind: str  # shape, value, matrix, count, number, expression, manual
    points: float
    prompt: str
    compute: dict[str, Any] | None
    rtol: float | None = None
    atol: float | None = None
    solution: list[str] | None = None  # manual items: the model answer the instructor grades against


@dataclass
class Part:
    id: str
    points: float
    prompt: str
    questions: list[Question]


@dataclass
class Problem:
    id: str
    version: Any
    title: str
    data: dict[str, Any]
    networks: dict[str, Any]
    parts: list[Part]
    source: str
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def questions(self) -> list[Question]:
        return [q for part in self.parts for q in part.questions]

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)

    @property
    def max_points(self) -> float:
        return sum(q.points for q in self.questions)


def to_array(name: str, value: Any) -> Any:
    """A data entry as a NumPy array (or a plain number)."""
    if isinstance(value, bool):
        raise ExerciseError(f"data '{name}' must be numbers", got=value)
    if isinstance(value, (int, float)):
        return value
    try:
        if isinstance(value, dict) and len(value) == 1:
            (layout, content), = value.items()
            array = np.asarray(content, dtype=float)
            if layout == "channels":  # C matrices H×W → [H, W, C]
                return np.moveaxis(array, 0, -1)
            if layout == "filters_per_channel":  # one filter, given per input channel → [k, k, C, 1]
                return np.moveaxis(array, 0, -1)[..., None]
            if layout == "matrix":
                return array[..., None]
            if layout == "array":
                return array
            raise ExerciseError(f"unknown layout for data '{name}'", got=layout,
                                expected="channels, filters_per_channel, matrix or array")
        if isinstance(value, list):
            return np.asarray(value, dtype=float)
    except (ValueError, TypeError):
        raise ExerciseError(f"data '{name}' is not a rectangular array of numbers") from None
    raise ExerciseError(f"bad data '{name}'", got=value, expected="a number, nested lists, or {layout: lists}")


def resolve_refs(value: Any, data: dict[str, Any]) -> Any:
    """``$name`` → the data value (arrays as nested lists, as a spec wants them)."""
    if isinstance(value, str):
        match = _REF.match(value)
        if match:
            name = match.group(1)
            if name not in data:
                raise ExerciseError(f"unknown data '${name}'", hint=did_you_mean(name, data))
            item = data[name]
            return item.tolist() if isinstance(item, np.ndarray) else item
        return value
    if isinstance(value, list):
        return [resolve_refs(v, data) for v in value]
    if isinstance(value, dict):
        return {k: resolve_refs(v, data) for k, v in value.items()}
    return value


def _points(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise ExerciseError(f"bad points for {where}", got=value, expected="a non-negative number")
    return float(value)


def build_problem(raw: Any, source: str, data_override: dict[str, Any] | None = None) -> Problem:
    """Validate a parsed problem file. ``data_override`` replaces data entries (for variants)."""
    if not isinstance(raw, dict):
        raise ExerciseError("a problem file must be a mapping", file=source)
    for key in raw:
        if key not in TOP_KEYS:
            raise ExerciseError("unknown top-level key", file=source, field=str(key),
                                hint=did_you_mean(str(key), TOP_KEYS))
    for key in ("id", "parts"):
        if key not in raw:
            raise ExerciseError(f"missing '{key}'", file=source)
    data_raw = {**(raw.get("data") or {}), **(data_override or {})}
    data = {name: to_array(name, value) for name, value in data_raw.items()}
    networks = raw.get("networks") or {}
    if not isinstance(networks, dict):
        raise ExerciseError("'networks' must map names to specs", file=source)
    parts, seen = [], set()
    for part_raw in raw["parts"]:
        if not isinstance(part_raw, dict) or "id" not in part_raw or "questions" not in part_raw:
            raise ExerciseError("a part needs 'id' and 'questions'", file=source, got=part_raw)
        part_points = _points(part_raw.get("points", 1), f"part {part_raw['id']}")
        questions_raw = part_raw["questions"]
        explicit = sum(_points(q["points"], q.get("id", "?")) for q in questions_raw
                       if isinstance(q, dict) and "points" in q)
        implicit = [q for q in questions_raw if isinstance(q, dict) and "points" not in q]
        share = (part_points - explicit) / len(implicit) if implicit else 0.0
        questions = []
        for q in questions_raw:
            if not isinstance(q, dict) or not isinstance(q.get("id"), str):
                raise ExerciseError("a question needs an 'id'", file=source, got=q)
            if q["id"] in seen:
                raise ExerciseError("duplicate question id", file=source, got=q["id"])
            seen.add(q["id"])
            compute = q.get("compute")
            kind = q.get("kind")
            if kind != "manual":
                if not isinstance(compute, dict) or not compute:
                    raise ExerciseError(f"question '{q['id']}' needs 'compute' (how its answer is computed) or "
                                        "kind: manual", file=source)
                head = next(iter(compute))
                if head not in COMPUTE_KINDS:
                    raise ExerciseError(f"question '{q['id']}': unknown compute '{head}'", file=source,
                                        hint=did_you_mean(str(head), COMPUTE_KINDS))
                kind = kind or COMPUTE_KINDS[head]
            solution = q.get("solution")
            if solution is not None and not (isinstance(solution, str) or
                                             (isinstance(solution, list) and all(isinstance(x, str) for x in solution))):
                raise ExerciseError(f"question '{q['id']}': 'solution' must be text", file=source)
            if isinstance(solution, str):
                solution = solution.rstrip("\n").splitlines()
            questions.append(Question(q["id"], str(part_raw["id"]), kind, float(q.get("points", share)),
                                      str(q.get("prompt", "")), compute, q.get("rtol"), q.get("atol"), solution))
        parts.append(Part(str(part_raw["id"]), part_points, str(part_raw.get("prompt", "")), questions))
    return Problem(str(raw["id"]), raw.get("version", 1), str(raw.get("title", raw["id"])), data, networks, parts,
                   source, raw)


def load_problem(path: str | Path) -> Problem:
    path = Path(path)
    try:
        raw = safeload.load_file(path)
        return build_problem(raw, str(path))
    except CnnCalcError as error:
        raise error.with_context(file=str(path)) from None
