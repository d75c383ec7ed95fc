"""Follow-through (error carried forward): an answer that is wrong against the key but exactly right given
the student's own earlier answers earns a share of its points (``follow_through: SHARE`` in the problem
file, problem-wide or per question).

Nothing is guessed and nothing is typed in by the author. Which answers an answer can follow from comes
from the problem's networks and the questions' `compute:`: an earlier question is an *anchor* of a later
one when it asks for something the later one is computed from —

* the output shape of a layer (a `shape` question, or the `size` of a vector) for the shape, size,
  parameters or MACs of a layer after it (a size also follows from its own layer's shape);
* one channel of a layer's output (a `map` question) for a map or cell of a layer after it, on the same
  input data.

The later answer is then recomputed with the student's anchors put in place of the key's — by the
calculator's walk or the executor's kernels that made the key (:meth:`.key.KeyBuilder.recalculate`,
:meth:`.key.KeyBuilder.rerun`) — and compared with the student's answer as the key would be. Anchors the
student got right stand as they are (they mask a wrong answer further up: a size that follows from a
right shape follows from the key); missing and unreadable ones are recomputed. What is recomputed is
remembered per key, question and the anchors' answers: a class that makes one slip computes it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import CnnCalcError
from .copies import canonical
from .key import AnswerKey, Expected
from .problem import COMPUTE, Question, resolve_refs

CALCULATOR = ("shape", "size", "params", "macs")
EXECUTOR = ("map", "cell", "value")
WRONG = ("partial", "incorrect")


@dataclass(frozen=True)
class Anchor:
    """An earlier question whose answer stands for a layer's output."""

    question: str
    net: str
    layer: str
    kind: str  # "shape" (a shape, or the size of a vector) or "map"
    source: str  # the question's kind of compute: shape, size or map
    axes: tuple[int, ...] | None = None
    channel: int = 0
    data: str | None = None  # the input data of a map


@dataclass(frozen=True)
class FollowThrough:
    share: float
    anchors: tuple[str, ...]  # the wrong anchors the answer follows from, as feedback names them

    def note(self) -> str:
        which = " and ".join(self.anchors)
        return f"follows correctly from {which}, which {'was' if len(self.anchors) == 1 else 'were'} wrong"


def points_text(score: float, points: float) -> str:
    """``0.5 of 1 point``, ``0.375 of 0.75 points``."""
    unit = "point" if points == 1 else "points"
    return f"{round(score, 4):g} of {round(points, 4):g} {unit}"


# ---------------------------------------------------------------- which answers follow from which


def _head(compute: dict[str, Any]) -> str:
    return next((h for h in COMPUTE if h in compute), "")


def _reads(key: AnswerKey, q: Question, c: dict[str, Any], head: str) -> list[str]:
    network = key.builder.network(c[head])
    last = network.layers[network.order[-1]].name
    if head in ("params", "macs"):
        return list(c.get("layers") or ([c["layer"]] if "layer" in c else [layer.name for layer in network.layers]))
    return [c.get("layer") or last]


def anchors(key: AnswerKey) -> dict[str, list[Anchor]]:
    """Question id → the earlier questions its answer can follow from (one per layer: the latest that
    asks for it), found from the networks and the computes; once per key."""
    if ("anchors",) not in key.memo:
        key.memo[("anchors",)] = _anchors(key)
    return key.memo[("anchors",)]  # type: ignore[no-any-return]


def _anchors(key: AnswerKey) -> dict[str, list[Anchor]]:
    problem = key.problem
    builder = key.builder
    providers: list[Anchor] = []
    found: dict[str, list[Anchor]] = {}
    for q in problem.questions:
        if q.kind == "manual" or q.compute is None:
            continue
        c = resolve_refs(q.compute, problem.data)
        head = _head(c)
        if head not in CALCULATOR and head not in EXECUTOR:
            continue
        try:
            network = builder.network(c[head])
            reads = _reads(key, q, c, head)
            above = network.upstream(reads)
        except CnnCalcError:
            continue
        mine: dict[str, Anchor] = {}
        for anchor in providers:
            if anchor.net != c[head]:
                continue
            if head in CALCULATOR and anchor.kind == "shape":
                if anchor.layer in above or (head == "size" and anchor.layer in reads):
                    mine[anchor.layer] = anchor
            elif head in EXECUTOR and anchor.kind == "map" and anchor.data == c["input"] and anchor.layer in above:
                mine[anchor.layer] = anchor
        if mine:
            found[q.id] = list(mine.values())
        provided = _provides(key, q, c, head, reads)
        if provided is not None:
            providers.append(provided)
    return found


def _provides(key: AnswerKey, q: Question, c: dict[str, Any], head: str, reads: list[str]) -> Anchor | None:
    net, layer = c[head], reads[0]
    if head == "shape":
        axes = c.get("axes")
        return Anchor(q.id, net, layer, "shape", head, tuple(int(a) for a in axes) if axes is not None else None)
    if head == "size" and len(key.builder.summary(net).record(layer).output_shape) == 1:
        return Anchor(q.id, net, layer, "shape", head)
    if head == "map":
        return Anchor(q.id, net, layer, "map", head, channel=int(c.get("channel", 0)), data=c["input"])
    return None


# ---------------------------------------------------------------- one answer


def follow_through(key: AnswerKey, q: Question, answers: dict[str, Any], results: dict[str, Any]
                   ) -> FollowThrough | None:
    """The follow-through credit of ``q``'s answer (graded wrong), or None: its share when the answer is
    exactly what the key's own computation gives from the student's earlier answers."""
    from .grading import matches

    share = q.follow_through
    found = anchors(key).get(q.id) if share else None
    if not found:
        return None
    given: dict[str, Any] = {}
    wrong: list[tuple[Anchor, Any]] = []
    memo: list[tuple[str, str | None]] = []
    for anchor in found:
        result = results.get(anchor.question)
        if result is None or result.status not in ("correct", *WRONG):
            continue
        # right against the key (full credit for a slip or a follow-through is not)
        if result.status == "correct" and not result.follow_through and result.diagnosis is None:
            given[anchor.layer] = _key_value(key, anchor)
            memo.append((anchor.question, "="))
            continue
        answer = answers.get(anchor.question)
        value = _student_value(key, anchor, answer)
        if value is None:
            continue
        given[anchor.layer] = value
        wrong.append((anchor, answer))
        memo.append((anchor.question, canonical(answer)))
    if not wrong or any(form is None for _, form in memo):
        return None
    expected = _recomputed(key, q, given, tuple(memo))
    if expected is None:
        return None
    got = answers.get(q.id)
    if not matches(q, Expected(expected), got):
        return None
    named = [(anchor, answer) for anchor, answer in wrong
             if len(wrong) == 1 or _matters(key, q, given, anchor, tuple(memo), expected)]
    # several wrong answers, each enough for this one (a shape, then the size from it): the nearest is named
    return FollowThrough(float(share), tuple(_shown(anchor, answer) for anchor, answer in named or wrong[-1:]))


def _matters(key: AnswerKey, q: Question, given: dict[str, Any], anchor: Anchor, memo: tuple[Any, ...],
             expected: Any) -> bool:
    """Whether the answer recomputed without this anchor's answer differs (feedback names only the wrong
    answers the later one follows from)."""
    from .grading import matches, plain_answer

    without = {layer: value for layer, value in given.items() if layer != anchor.layer}
    rest = tuple(item for item in memo if item[0] != anchor.question)
    value = _recomputed(key, q, without, rest, keep_key=True)
    return value is None or not matches(q, Expected(expected), plain_answer(value))


def _compute(key: AnswerKey, q: Question) -> tuple[dict[str, Any], str]:
    c = resolve_refs(q.compute or {}, key.problem.data)
    head = _head(c)
    return c, head


def _recomputed(key: AnswerKey, q: Question, given: dict[str, Any], memo: tuple[Any, ...], keep_key: bool = False
                ) -> Any:
    """The answer recomputed from ``given``, or None when it cannot be, or (unless ``keep_key``) when it is
    the key's own (the wrong anchors do not change it: nothing to follow)."""
    from .grading import MAX_REMEMBERED, matches, plain_answer

    where = ("follow", q.id, memo, keep_key)
    if where not in key.memo:
        _, head = _compute(key, q)
        value = key.builder.recalculate(q, given) if head in CALCULATOR else key.builder.rerun(q, given)
        if not keep_key and value is not None and matches(q, key[q.id], plain_answer(value)):
            value = None
        if len(key.memo) > MAX_REMEMBERED:
            key.memo = {k: v for k, v in key.memo.items() if k[0] != "follow"}
        key.memo[where] = value
    return key.memo[where]


def _key_value(key: AnswerKey, anchor: Anchor) -> Any:
    if anchor.kind == "shape":
        return tuple(int(d) for d in key.builder.summary(anchor.net).record(anchor.layer).output_shape)
    return key.builder.output(anchor.net, anchor.data, anchor.layer)  # type: ignore[arg-type]


def _student_value(key: AnswerKey, anchor: Anchor, answer: Any) -> Any:
    """The student's answer as the layer's output: a full shape, or the key's output array with the
    student's channel in it; None when it cannot stand for it."""
    from .grading import matrix_answer, shape_answer

    if anchor.kind == "shape":
        full = list(_key_value(key, anchor))
        if anchor.source == "size":
            size = _size(answer)
            return (size,) if size is not None and size > 0 else None
        values = shape_answer(answer)
        if values is None or not all(v > 0 for v in values):
            return None
        if anchor.axes is None or len(values) == len(full):
            return tuple(values) if len(values) == len(full) else None
        if len(values) != len(anchor.axes):
            return None
        for axis, value in zip(anchor.axes, values):
            full[axis % len(full)] = value
        return tuple(full)
    matrix = matrix_answer(answer)
    output = np.array(_key_value(key, anchor), dtype=float)
    if matrix is None or output.ndim != 3:
        return None
    if matrix.shape == output.shape[:2]:
        output[:, :, anchor.channel] = matrix
        return output
    return matrix[:, :, None] if output.shape[2] == 1 else None


def _size(answer: Any) -> int | None:
    """A size answer as the count it is (``6272``, ``"6,272"``), or None."""
    from .grading import _read

    value = _read("count", answer)
    return int(value) if isinstance(value, float) and value.is_integer() else None


def _shown(anchor: Anchor, answer: Any) -> str:
    from .grading import clean_text, shape_answer

    if anchor.kind == "map":
        return f"your {anchor.layer} map" + (f" (channel {anchor.channel + 1})" if anchor.channel else "")
    if anchor.source == "size":
        size = _size(answer)
        return f"your {anchor.layer} size ({size:,})" if size is not None else f"your {anchor.layer} size"
    values = shape_answer(answer) or []
    return clean_text(f"your {anchor.layer} output ({', '.join(str(v) for v in values)})", 120)
