"""Randomised variants of a problem: a `vary:` section, per-student seeds from a course secret,
fingerprints, and the checks a variant must pass.

Syntax (see README, "Variants")::

    vary:
      values:                                   # drawn in order; later ones may use earlier ones
        x: {integers: [0, 7], shape: [6, 6, 3]}         # an array of random integers in [low, high]
        b: {choice: [1, 3, 5, 7]}                       # one of these
        f: {integers: [2, 4]}                           # one integer
        f2: {expr: "2 * f + 1"}                         # derived (safe arithmetic on drawn numbers)
      constraints:
        - {valid: [part_a, part_b]}             # these networks' shapes are valid
        - {integer: {solve: {f: $f2, same: true}, for: p}}   # this solve has one integer answer
        - {some_but_not_all: {map: part_b, input: fm, layer: relu, equal: 0}}
        - {distinct: {map: part_b, input: fm, layer: pool}}   # (optional) values not all equal
      tries: 200

Every variant must also have a computable key for every question (the requested cells exist).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CnnCalcError, ExerciseError, did_you_mean
from ..maths import expr
from .key import Expected, KeyBuilder, compute_key
from .problem import Problem, build_problem, resolve_refs

SECRET_ENV = "CNNCALC_SECRET"
MIN_SECRET_BYTES = 16
MAX_SECRET_BYTES = 4096
DEFAULT_TRIES = 200
CONSTRAINTS = ("valid", "integer", "some_but_not_all", "distinct")


@dataclass
class Variant:
    problem: Problem
    key: dict[str, Expected]
    fingerprint: str
    label: str  # student id or "seed N/i"


# ---------------------------------------------------------------- secrets and seeds


def read_secret(path: str | Path | None) -> bytes:
    """The course secret from a file only its owner can read (as ssh insists), or $CNNCALC_SECRET.

    A file is read as a regular file only (a FIFO cannot hang the command), at most MAX_SECRET_BYTES;
    its surrounding whitespace (a final newline) is dropped. Either way the secret must be UTF-8 text of
    MIN_SECRET_BYTES to MAX_SECRET_BYTES bytes.
    """
    from ..spec.safeload import read_limited

    if path is None:
        value = os.environb.get(SECRET_ENV.encode()) if os.supports_bytes_environ else (
            os.environ.get(SECRET_ENV, "").encode("utf-8", "surrogateescape"))
        if not value:
            raise ExerciseError(f"no course secret: give --secret-file or set {SECRET_ENV}")
        return _checked_secret(value, f"${SECRET_ENV}", None)
    name = str(path)
    try:
        info = os.stat(name)
    except OSError as error:
        raise ExerciseError(f"cannot read the secret file: {error.strerror}", file=name) from None
    if stat.S_ISREG(info.st_mode) and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ExerciseError("the secret file is readable by others; run: chmod 600 " + name, file=name)
    try:
        secret = read_limited(name, MAX_SECRET_BYTES, "secret file").strip()
    except CnnCalcError as error:
        raise ExerciseError(error.message, file=name) from None
    return _checked_secret(secret, "the secret file", name)


def _checked_secret(secret: bytes, what: str, file: str | None) -> bytes:
    try:
        secret.decode("utf-8")
    except UnicodeDecodeError:
        raise ExerciseError(f"the secret in {what} is not UTF-8 text", file=file) from None
    if len(secret) < MIN_SECRET_BYTES:
        raise ExerciseError(f"the secret in {what} is too short ({len(secret)} bytes, at least {MIN_SECRET_BYTES})",
                            file=file)
    if len(secret) > MAX_SECRET_BYTES:
        raise ExerciseError(f"the secret in {what} is too long ({len(secret):,} bytes, at most {MAX_SECRET_BYTES:,})",
                            file=file)
    return secret


def student_seed(secret: bytes, problem_id: str, version: Any, student: str) -> int:
    """HMAC-SHA256(secret, problem id | version | student id), as a 256-bit integer."""
    message = f"{problem_id}|{version}|{student}".encode()
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest(), "big")


def data_fingerprint(problem_id: str, version: Any, data: dict[str, Any]) -> str:
    """A short code for a variant's data; students copy it into their answer file."""
    canonical = json.dumps({"id": problem_id, "version": version, "data": data}, sort_keys=True,
                           separators=(",", ":"), default=_plain)
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


# ---------------------------------------------------------------- drawing


def _draw(spec: Any, name: str, rng: np.random.Generator, drawn: dict[str, Any]) -> Any:
    if not isinstance(spec, dict) or len(spec) not in (1, 2):
        raise ExerciseError(f"vary: bad rule for '{name}'", got=spec,
                            expected="{integers: [low, high], shape: [...]}, {choice: [...]} or {expr: '...'}")
    if "integers" in spec:
        low, high = spec["integers"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or low > high:
            raise ExerciseError(f"vary: bad range for '{name}'", got=spec["integers"], expected="[low, high] integers")
        shape = spec.get("shape")
        if shape is None:
            return int(rng.integers(low, high + 1))
        return {"array": rng.integers(low, high + 1, size=tuple(shape)).tolist()}
    if "choice" in spec:
        options = spec["choice"]
        if not isinstance(options, list) or not options:
            raise ExerciseError(f"vary: 'choice' for '{name}' needs a non-empty list", got=options)
        return copy.deepcopy(options[int(rng.integers(len(options)))])
    if "expr" in spec:
        numbers = {k: v for k, v in drawn.items() if isinstance(v, (int, float))}
        value = expr.evaluate(expr.parse(str(spec["expr"])), numbers)
        return int(value) if getattr(value, "denominator", 1) == 1 else float(value)
    raise ExerciseError(f"vary: unknown rule for '{name}'", got=list(spec),
                        hint=did_you_mean(str(next(iter(spec))), ["integers", "choice", "expr"]))


def draw_data(raw: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    vary = raw.get("vary") or {}
    values = vary.get("values") or {}
    if not isinstance(values, dict):
        raise ExerciseError("vary: 'values' must map data names to rules")
    known = set(raw.get("data") or {})
    drawn: dict[str, Any] = {}
    for name, spec in values.items():
        if name not in known:
            raise ExerciseError(f"vary: '{name}' is not in data", hint=did_you_mean(str(name), known))
        drawn[name] = _draw(spec, name, rng, {**{k: v for k, v in (raw.get("data") or {}).items()
                                                 if isinstance(v, (int, float))}, **drawn})
    return drawn


def _check(problem: Problem, constraint: dict[str, Any]) -> str | None:
    """None if the constraint holds, else why not."""
    (name, arg), = constraint.items()
    builder = KeyBuilder(problem)
    if name == "valid":
        for net in arg:
            builder.summary(net)  # raises with the reason
        return None
    if name == "integer":
        from .key import _solution

        spec = resolve_refs(arg, problem.data)
        result = _solution(spec["solve"], spec["for"])
        if len(result.solutions) == 1 and isinstance(result.solutions[0], int):
            return None
        return f"{spec['for']} is not a single integer"
    if name in ("some_but_not_all", "distinct"):
        matrix = builder._map(resolve_refs(arg, problem.data)).value
        if name == "distinct":
            return None if np.unique(matrix).size > 1 else "all values equal"
        hits = matrix == float(arg.get("equal", 0))
        return None if 0 < hits.sum() < hits.size else f"{int(hits.sum())} of {hits.size} cells equal {arg.get('equal', 0)}"
    raise ExerciseError(f"vary: unknown constraint '{name}'", hint=did_you_mean(name, CONSTRAINTS))


def make_variant(raw: dict[str, Any], source: str, rng: np.random.Generator, label: str) -> Variant:
    """Draw until every constraint holds and every question's key computes (bounded tries)."""
    vary = raw.get("vary")
    if not vary:
        problem = build_problem(raw, source)
        return Variant(problem, compute_key(problem), data_fingerprint(problem.id, problem.version, raw.get("data")), label)
    constraints = vary.get("constraints") or []
    tries = int(vary.get("tries", DEFAULT_TRIES))
    last = ""
    for _ in range(max(1, tries)):
        data = draw_data(raw, rng)
        try:
            problem = build_problem(raw, source, data)
            for constraint in constraints:
                if not isinstance(constraint, dict) or len(constraint) != 1:
                    raise ExerciseError("vary: a constraint is a one-key mapping", got=constraint)
                reason = _check(problem, constraint)
                if reason:
                    last = f"{next(iter(constraint))}: {reason}"
                    break
            else:
                key = compute_key(problem)
                full = {**(raw.get("data") or {}), **data}
                return Variant(problem, key, data_fingerprint(problem.id, problem.version, full), label)
        except ExerciseError as error:
            if "vary:" in error.message:
                raise
            last = str(error)
        except CnnCalcError as error:
            last = str(error)
    raise ExerciseError(f"no variant met the constraints in {tries} tries; the last failure: {last}", file=source)


def seed_variant(raw: dict[str, Any], source: str, seed: int, index: int = 0) -> Variant:
    rng = np.random.default_rng([seed, index])
    return make_variant(raw, source, rng, f"seed-{seed}-{index}")


def student_variant(raw: dict[str, Any], source: str, secret: bytes, student: str) -> Variant:
    problem_id, version = str(raw.get("id")), raw.get("version", 1)
    rng = np.random.default_rng(student_seed(secret, problem_id, version, student))
    return make_variant(raw, source, rng, student)


# ---------------------------------------------------------------- grading per-student variants


def _canonical(value: Any) -> str | None:
    """Answers and keys in one comparable form (numbers as floats, matrices as nested lists)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    try:
        def normal(v: Any) -> Any:
            if isinstance(v, list):
                return [normal(x) for x in v]
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return round(float(v), 6)
            if isinstance(v, str):
                return v.replace(" ", "")
            raise TypeError

        return json.dumps(normal(value))
    except (TypeError, ValueError, ArithmeticError, RecursionError):  # odd student values match nothing
        return None


def grade_variants(raw: dict[str, Any], source: str, paths: list[Path], secret: bytes,
                   refused: dict[Path, str] | None = None) -> tuple[list[Any], list[str]]:
    """Grade each file against its student's own variant (rebuilt from the secret); report fingerprint
    mismatches and answers that match another student's variant better than their own. A file that cannot
    be read, or whose student's variant cannot be built, is invalid; the batch goes on."""
    from .grading import (
        StudentResult,
        display_path,
        duplicate_warnings,
        grade_answers,
        invalid_result,
        read_answers,
        unexpected,
        variant_label,
    )

    base = build_problem(raw, source)
    refused = refused or {}
    results: list[StudentResult] = []
    variants: dict[str, Variant] = {}
    answers_of: dict[int, dict[str, Any]] = {}
    warnings: list[str] = []
    for path in paths:
        if path in refused:
            results.append(invalid_result(base, None, path, refused[path]))
            continue
        try:
            student, answers, extra = read_answers(path)
            variant = variants.get(student) or student_variant(raw, source, secret, student)
            result = grade_answers(variant.problem, variant.key, student, answers, display_path(path))
            given = variant_label(extra.get("variant"))
        except CnnCalcError as error:
            results.append(invalid_result(base, None, path, str(error)))
            continue
        except Exception as error:  # noqa: BLE001 - the last net: one file never stops the batch
            results.append(invalid_result(base, None, path, unexpected(error)))
            continue
        variants[student] = variant
        result.variant = variant.fingerprint
        if given is None:
            result.warnings.append(f"no variant fingerprint in the answer file (this student's is {variant.fingerprint})")
        elif given != variant.fingerprint:
            message = (f"fingerprint {given} is not this student's variant ({variant.fingerprint}); graded against "
                       "the student's own variant")
            result.warnings.append(message)
            warnings.append(f"{result.file}: {message}")
        answers_of[len(results)] = answers
        results.append(result)
    warnings += duplicate_warnings(results)
    warnings += _copy_check(results, answers_of, variants)
    return results, warnings


def _copy_check(results: list[Any], answers_of: dict[int, dict[str, Any]], variants: dict[str, Variant]) -> list[str]:
    """Flag answers that agree with another student's key on more questions than with their own."""
    index: dict[tuple[str, str], set[str]] = {}
    for student, variant in variants.items():
        for qid, expected in variant.key.items():
            canonical = _canonical(expected.value)
            if canonical is not None:
                index.setdefault((qid, canonical), set()).add(student)
    crowd = max(2, len(variants) // 4)  # values many variants share (a fixed shape, say) say nothing
    flags = []
    for position, answers in answers_of.items():
        result = results[position]
        own = 0
        others: dict[str, int] = {}
        for qid, value in answers.items():
            if not isinstance(qid, str):
                continue
            holders = index.get((qid, _canonical(value) or ""), set())
            if result.student in holders:
                own += 1
            if len(holders) > crowd:
                continue
            for other in holders:
                if other != result.student:
                    others[other] = others.get(other, 0) + 1
        if others:
            best, count = max(others.items(), key=lambda item: (item[1], item[0]))
            if count > own:
                message = (f"possible copy: {result.student}'s answers match {best}'s variant on {count} questions, "
                           f"their own on {own}")
                result.warnings.append(message)
                flags.append(message)
    return flags
