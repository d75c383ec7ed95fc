"""Grading answer files against a computed key: per-question scores, statuses and worked feedback.

Untrusted input: answer files are read with the safe loader under a size cap; every value is checked
for type before it is compared; one bad file never stops a batch.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CnnCalcError, did_you_mean
from ..spec import safeload
from .key import Expected, compute_key, num
from .problem import Problem, Question

MAX_ANSWER_BYTES = 256 * 1024
MAX_ANSWER_DEPTH = 8
DEFAULT_RTOL = 1e-6


@dataclass
class QuestionResult:
    id: str
    score: float
    max: float
    status: str  # correct, partial, incorrect, missing, invalid, manual
    expected: Any
    got: Any
    feedback: str
    solution: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "score": round(self.score, 6), "max": round(self.max, 6), "status": self.status,
                "expected": _plain(self.expected), "got": _plain(self.got), "feedback": self.feedback}


@dataclass
class StudentResult:
    student: str
    file: str
    questions: list[QuestionResult]
    warnings: list[str] = field(default_factory=list)
    variant: str | None = None
    error: str | None = None  # the whole file could not be used

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def max(self) -> float:
        return sum(q.max for q in self.questions)

    def as_dict(self) -> dict[str, Any]:
        data = {"student": self.student, "score": round(self.score, 6), "max": round(self.max, 6),
                "questions": [q.as_dict() for q in self.questions], "file": self.file}
        if self.warnings:
            data["warnings"] = self.warnings
        if self.variant is not None:
            data["variant"] = self.variant
        if self.error:
            data["error"] = self.error
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [[_plain_number(v) for v in row] for row in np.atleast_2d(value)]
    if isinstance(value, float):
        return _plain_number(value)
    return value


def _plain_number(value: Any) -> Any:
    value = float(value)
    return int(value) if value.is_integer() else value


# ---------------------------------------------------------------- reading answer files


def read_answers(path: str | Path) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """(student id, answers, other top-level fields) from an answer file; raises CnnCalcError if unusable."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise CnnCalcError(f"cannot read: {error.strerror}", file=str(path)) from None
    if size > MAX_ANSWER_BYTES:
        raise CnnCalcError(f"answer file too large ({size:,} bytes, at most {MAX_ANSWER_BYTES:,})", file=str(path))
    data = safeload.load_file(path)
    _check_depth(data, 0, str(path))
    if not isinstance(data, dict):
        raise CnnCalcError("an answer file is a mapping {student: ID, answers: {...}}", file=str(path))
    student = data.get("student")
    if isinstance(student, (int, float)) and not isinstance(student, bool):
        student = str(student)
    if not isinstance(student, str) or not student.strip() or len(student) > 200:
        raise CnnCalcError("missing or bad 'student' id", file=str(path), got=student, expected="a short string")
    answers = data.get("answers")
    if not isinstance(answers, dict):
        raise CnnCalcError("'answers' must map question ids to answers", file=str(path), got=type(answers).__name__,
                           expected="a mapping")
    extra = {k: v for k, v in data.items() if k not in ("student", "answers")}
    return student.strip(), answers, extra


def _check_depth(node: Any, depth: int, source: str) -> None:
    if depth > MAX_ANSWER_DEPTH:
        raise CnnCalcError(f"answers nested deeper than {MAX_ANSWER_DEPTH} levels", file=source)
    if isinstance(node, dict):
        for value in node.values():
            _check_depth(value, depth + 1, source)
    elif isinstance(node, list):
        for value in node:
            _check_depth(value, depth + 1, source)


# ---------------------------------------------------------------- comparing one answer


class Invalid(Exception):
    pass


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value.strip().replace("−", "-"))
            except ValueError:
                raise Invalid(f"expected a number, got {value!r}") from None
        else:
            raise Invalid(f"expected a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise Invalid(f"expected a finite number, got {value!r}")
    return float(value)


def _matrix(value: Any) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise Invalid("expected a matrix as nested lists, e.g. [[1, 2], [3, 4]]")
    rows = value if isinstance(value[0], list) else [value]
    width = len(rows[0])
    if not all(isinstance(r, list) and len(r) == width for r in rows):
        raise Invalid("the rows of the matrix have different lengths")
    return np.array([[_number(v) for v in row] for row in rows])


def close(got: float, expected: float, q: Question) -> bool:
    exact_ints = float(expected).is_integer() and q.rtol is None and q.atol is None
    if exact_ints:
        return got == expected
    rtol = DEFAULT_RTOL if q.rtol is None else q.rtol
    atol = 0.0 if q.atol is None else q.atol
    return abs(got - expected) <= atol + rtol * abs(expected)


def grade_one(q: Question, expected: Expected, answers: dict[str, Any]) -> QuestionResult:
    solution = expected.solution
    if q.kind == "manual":
        return QuestionResult(q.id, 0.0, q.points, "manual", None, answers.get(q.id),
                              "graded by the instructor", solution)
    if q.id not in answers:
        return QuestionResult(q.id, 0.0, q.points, "missing", expected.value, None,
                              "no answer given", solution)
    got = answers[q.id]
    try:
        score, status, feedback = _compare(q, expected, got)
    except Invalid as error:
        return QuestionResult(q.id, 0.0, q.points, "invalid", expected.value, got, str(error), solution)
    return QuestionResult(q.id, score * q.points, q.points, status, expected.value, got, feedback, solution)


def _compare(q: Question, expected: Expected, got: Any) -> tuple[float, str, str]:
    kind, value = q.kind, expected.value
    if kind == "shape":
        if not isinstance(got, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in got):
            raise Invalid(f"expected a shape as a list of integers, e.g. {value}")
        if got == value:
            return 1.0, "correct", "correct"
        if got in expected.detail.get("accept", []):
            return 1.0, "correct", f"correct ({got} is the full shape of {value})"
        hint = " (rows and columns swapped?)" if sorted(got) == sorted(value) and got != value else ""
        return 0.0, "incorrect", f"expected {value}, got {got}{hint}"
    if kind in ("count", "number"):
        number = _number(got)
        if number == value:
            return 1.0, "correct", "correct"
        hint = _mistake(expected, number)
        if not number.is_integer():
            return 0.0, "incorrect", f"{num(number)} is not a whole number; expected {value}{hint}"
        return 0.0, "incorrect", f"expected {value:,}, got {num(number)}{hint}"
    if kind == "value":
        number = _number(got)
        if close(number, float(value), q):
            return 1.0, "correct", "correct"
        return 0.0, "incorrect", f"expected {num(value)}, got {num(number)}{_mistake(expected, number)}"
    if kind == "matrix":
        matrix = _matrix(got)
        want = np.atleast_2d(value)
        if matrix.shape != want.shape:
            return 0.0, "incorrect", (f"the matrix should be {want.shape[0]}×{want.shape[1]}, got "
                                      f"{matrix.shape[0]}×{matrix.shape[1]}")
        good = np.vectorize(lambda a, b: close(a, b, q))(matrix, want)
        right = int(good.sum())
        if right == good.size:
            return 1.0, "correct", "correct"
        wrong = [(int(i), int(j)) for i, j in zip(*np.nonzero(~good))]
        lines = [f"{right} of {good.size} cells correct; wrong:"]
        for i, j in wrong[:12]:
            lines.append(f"row {i + 1}, column {j + 1}: expected {num(want[i, j])}, got {num(matrix[i, j])}"
                         + _cell_working(expected, i, j))
        if len(wrong) > 12:
            lines.append(f"… and {len(wrong) - 12} more")
        return right / good.size, "partial" if right else "incorrect", "\n".join(lines)
    if kind == "expression":
        return _compare_expression(str(value), got)
    raise Invalid(f"unknown question kind {kind!r}")


def _mistake(expected: Expected, number: float) -> str:
    """A known wrong turn that produces exactly this answer (the bias left out, rows and columns swapped…)."""
    for wrong, hint in expected.detail.get("mistakes", {}).items():
        if float(wrong) == number:
            return f" — {hint}"
    return ""


def _cell_working(expected: Expected, i: int, j: int) -> str:
    detail = expected.detail
    source = detail.get("input")
    if source is None:
        return ""
    if detail.get("type") == "relu":
        return f" = max(0, {num(source[i, j])})"
    (kh, kw), (sh, sw) = detail["kernel"], detail["stride"]
    window = source[i * sh: i * sh + kh, j * sw: j * sw + kw]
    reduce = "max" if detail["type"] == "maxpool" else "mean"
    return f" = {reduce}({', '.join(num(v) for v in window.ravel())})"


def _compare_expression(expected: str, got: Any) -> tuple[float, str, str]:
    import sympy

    from ..maths import expr

    if isinstance(got, bool) or not isinstance(got, (str, int, float)):
        raise Invalid("expected an expression such as (f - 1)/2")
    text = str(got).replace("−", "-").replace("·", "*")
    try:
        tree_got, tree_want = expr.parse(text), expr.parse(expected)
        names = expr.names(tree_got) | expr.names(tree_want)
        symbols = {name: sympy.Symbol(name) for name in names}
        difference = sympy.simplify(expr.evaluate(tree_got, symbols, True) - expr.evaluate(tree_want, symbols, True))
    except CnnCalcError as error:
        raise Invalid(f"not a readable expression: {error.message}") from None
    if difference == 0:
        return 1.0, "correct", "correct (equivalent to " + expected + ")"
    return 0.0, "incorrect", f"expected {expected} (or an equivalent form), got {got}"


# ---------------------------------------------------------------- a whole file


def grade_answers(problem: Problem, key: dict[str, Expected], student: str, answers: dict[str, Any],
                  file: str = "") -> StudentResult:
    results = [grade_one(q, key[q.id], answers) for q in problem.questions]
    known = {q.id for q in problem.questions}
    warnings = []
    for qid, value in answers.items():
        if qid not in known:
            hint = did_you_mean(str(qid), known)
            results.append(QuestionResult(str(qid), 0.0, 0.0, "invalid", None, value,
                                          "unknown question id" + (f"; {hint}" if hint else "")))
            warnings.append(f"unknown question id {qid!r}" + (f" ({hint})" if hint else ""))
    return StudentResult(student, file, results, warnings)


def grade_file(problem: Problem, key: dict[str, Expected], path: str | Path) -> StudentResult:
    """Grade one file; a file that cannot be used gives a result with every question invalid."""
    try:
        student, answers, extra = read_answers(path)
    except CnnCalcError as error:
        student = Path(path).stem
        invalid = [QuestionResult(q.id, 0.0, q.points, "invalid", key[q.id].value, None,
                                  "the answer file could not be read", key[q.id].solution)
                   for q in problem.questions]
        return StudentResult(student, str(path), invalid, [str(error)], error=str(error))
    result = grade_answers(problem, key, student, answers, str(path))
    if "variant" in extra:
        result.variant = str(extra["variant"])
    return result


def apply_overrides(results: list[StudentResult], overrides: list[dict[str, Any]]) -> None:
    """Instructor scores always win (manual items, regrades)."""
    for item in overrides:
        for result in results:
            if result.student == item["student"]:
                _override(result, item)


def _override(result: StudentResult, item: dict[str, Any]) -> None:
    for q in result.questions:
        if q.id == item["question"]:
            if "max" in item:
                q.max = float(item["max"])
            q.score = float(item["score"])
            q.status = "correct" if q.score >= q.max > 0 else ("partial" if q.score > 0 else "incorrect")
            q.feedback = "instructor: " + str(item.get("comment", "score set by the instructor"))
            return


def read_overrides(path: str | Path, problem: Problem) -> list[dict[str, Any]]:
    data = safeload.load_file(path)
    items = data.get("overrides") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise CnnCalcError("an overrides file is {overrides: [{student, question, score}, ...]}", file=str(path))
    known = {q.id: q for q in problem.questions}
    result = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not {"student", "question", "score"} <= set(item):
            raise CnnCalcError(f"override {position} needs student, question and score", file=str(path), got=item)
        if item["question"] not in known:
            raise CnnCalcError(f"override {position}: unknown question", file=str(path), got=item["question"],
                               hint=did_you_mean(str(item["question"]), known))
        score = item["score"]
        limit = item.get("max", known[item["question"]].points)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= limit:
            raise CnnCalcError(f"override {position}: bad score", file=str(path), got=score,
                               expected=f"a number from 0 to {limit}")
        result.append({**item, "student": str(item["student"])})
    return result


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")  # dots too: no "..", no hidden files


def safe_file_stem(student: str, used: set[str]) -> str:
    """A student id as a file name: no path separators, no leading dots, unique in the batch."""
    stem = _UNSAFE.sub("_", student).strip("_-")[:64] or "student"
    candidate, k = stem, 2
    while candidate.lower() in used:
        candidate = f"{stem}-{k}"
        k += 1
    used.add(candidate.lower())
    return candidate


def grade_batch(problem: Problem, paths: list[Path], key: dict[str, Expected] | None = None
                ) -> tuple[list[StudentResult], list[str]]:
    key = key if key is not None else compute_key(problem)
    results = [grade_file(problem, key, path) for path in paths]
    warnings = []
    seen: dict[str, str] = {}
    for result in results:
        if result.error is None and result.student in seen:
            message = f"duplicate student id {result.student!r} in {seen[result.student]} and {result.file}"
            warnings.append(message)
            result.warnings.append(message)
        seen.setdefault(result.student, result.file)
    return results, warnings
