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
import dataclasses
import hashlib
import hmac
import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CnnCalcError, ExerciseError
from ..maths import expr
from .copies import CopyPair, copy_check
from .key import Expected, KeyBuilder, compute_key
from .problem import (
    DEFAULT_TRIES,
    MAX_DRAWN,
    Problem,
    ProblemFileError,
    build_problem,
    line_of,
    resolve_refs,
    with_data,
)

SECRET_ENV = "CNNCALC_SECRET"
MIN_SECRET_BYTES = 16
MAX_SECRET_BYTES = 4096
MAX_VARIANTS = 100_000  # variants per seed (`generate --count`, `key --index`)


@dataclass
class Variant:
    problem: Problem
    key: dict[str, Expected]
    fingerprint: str
    label: str  # the student id, or "variant-SEED-INDEX"
    seeded: bool = False  # made from --seed: no student to name on the sheet


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


def _draw(rule: dict[str, Any], name: str, rng: np.random.Generator, numbers: dict[str, Any]) -> Any:
    """One value by its rule (the rule was checked with the file: see ``problem.RULES``)."""
    if "integers" in rule:
        low, high = rule["integers"]
        shape = rule.get("shape")
        if shape is None:
            return int(rng.integers(low, high + 1))
        return {"array": rng.integers(low, high + 1, size=tuple(shape)).tolist()}
    if "choice" in rule:
        options = rule["choice"]
        return copy.deepcopy(options[int(rng.integers(len(options)))])
    try:
        value = expr.evaluate(expr.parse(str(rule["expr"])), numbers)
        value = int(value) if getattr(value, "denominator", 1) == 1 else float(value)
    except (ArithmeticError, ValueError) as error:  # 0 ** -1, a float too large
        raise ExerciseError(f"vary: '{name}': {rule['expr']!r} cannot be computed ({error})") from None
    if not math.isfinite(value) or abs(value) > MAX_DRAWN:
        raise ExerciseError(f"vary: '{name}': {rule['expr']!r} gives {value:.6g}, outside ±{MAX_DRAWN:,}")
    return value


def draw_data(raw: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One draw of every `vary` value, in order; later rules see earlier draws."""
    values = (raw.get("vary") or {}).get("values") or {}
    numbers = {k: v for k, v in (raw.get("data") or {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    drawn: dict[str, Any] = {}
    for name, rule in values.items():
        drawn[name] = _draw(rule, name, rng, {**numbers, **{k: v for k, v in drawn.items()
                                                           if isinstance(v, (int, float))}})
    return drawn


def _check(problem: Problem, constraint: dict[str, Any], builder: KeyBuilder | None = None) -> str | None:
    """None if the constraint holds, else why not (a fault of the file itself is raised). ``builder``: the
    draw's own, which its key then reuses (the networks the constraints built and ran)."""
    (name, arg), = constraint.items()
    builder = builder or KeyBuilder(problem)
    try:
        if name == "valid":
            for net in arg:
                builder.summary(net)  # raises with the reason
            return None
        spec = resolve_refs(arg, problem.data)
        if name == "integer":
            from .key import _solution

            result = _solution(spec["solve"], spec["for"])
            if len(result.solutions) == 1 and isinstance(result.solutions[0], int):
                return None
            return f"{spec['for']} is not a single integer"
        matrix = builder._map(spec).value
        if name == "distinct":
            return None if np.unique(matrix).size > 1 else "all values equal"
        equal = spec.get("equal", 0)
        hits = matrix == float(equal)
        return None if 0 < hits.sum() < hits.size else f"{int(hits.sum())} of {hits.size} cells equal {equal}"
    except ProblemFileError:
        raise
    except CnnCalcError as error:
        inner = copy.copy(error)
        inner.file = inner.line = None
        return str(inner)


_CHECKED: dict[tuple[str, str], Variant] = {}


def check_original(raw: Any, source: str) -> Variant:
    """The file checked once: structurally, then semantically by computing the key of its own data (the
    worked example `cnncalc key` shows). Any failure here is the file's, and no draw is tried."""
    try:
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    except (TypeError, ValueError):  # keys of mixed types: the checks below refuse them
        digest = None
    cached = _CHECKED.get((source, digest)) if digest else None
    if cached is not None:
        return cached
    problem = build_problem(raw, source)
    original = Variant(problem, compute_key(problem), data_fingerprint(problem.id, problem.version, raw.get("data")),
                       "original")
    if digest:
        if len(_CHECKED) >= 16:
            _CHECKED.clear()
        _CHECKED[(source, digest)] = original
    return original


def make_variant(raw: dict[str, Any], source: str, rng: np.random.Generator | None, label: str,
                 seeded: bool = False, *, original: Variant | None = None) -> Variant:
    """Draw until every constraint holds and every question's key computes (at most `tries` draws).
    ``original``: :func:`check_original` of ``raw``, where the caller draws many variants of it."""
    original = original or check_original(raw, source)
    vary = raw.get("vary")
    if not vary or rng is None:
        return dataclasses.replace(original, label=label, seeded=seeded)
    constraints = vary.get("constraints") or []
    tries = vary.get("tries", DEFAULT_TRIES)
    failures: dict[str, int] = {}
    last: dict[str, tuple[str, int | None]] = {}
    for _ in range(tries):
        try:
            data = draw_data(raw, rng)
            problem = with_data(original.problem, data)
            failed = None
            builder = KeyBuilder(problem)
            for constraint in constraints:
                reason = _check(problem, constraint, builder)
                if reason:
                    failed = (next(iter(constraint)), reason, line_of(constraint))
                    break
            if failed is None:
                key = compute_key(problem, builder)
                full = {**(raw.get("data") or {}), **data}
                return Variant(problem, key, data_fingerprint(problem.id, problem.version, full), label, seeded)
        except ProblemFileError:
            raise
        except CnnCalcError as error:
            inner = copy.copy(error)
            inner.file = None
            failed = ("the key", str(inner), None)
        name, reason, line = failed
        failures[name] = failures.get(name, 0) + 1
        last[name] = (reason, line)
    worst = max(failures, key=lambda name: failures[name])
    reason, line = last[worst]
    raise ExerciseError(f"no variant met the constraints in {tries} {'try' if tries == 1 else 'tries'}; {worst} failed in {failures[worst]} of "
                        f"them, last: {reason}", file=source, line=line,
                        hint="loosen the constraint or widen the ranges in vary: values")


def seed_variant(raw: dict[str, Any], source: str, seed: int, index: int = 0, *,
                 original: Variant | None = None) -> Variant:
    if not _integer_seed(seed):
        raise ExerciseError("bad seed", got=seed, expected="an integer from 0 to 2**63 − 1")
    if not _integer_seed(index) or index >= MAX_VARIANTS:
        raise ExerciseError("bad variant index", got=index, expected=f"an integer from 0 to {MAX_VARIANTS - 1:,}")
    rng = np.random.default_rng([seed, index])
    return make_variant(raw, source, rng, f"variant-{seed}-{index}", seeded=True, original=original)


def _integer_seed(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def student_variant(raw: dict[str, Any], source: str, secret: bytes, student: str, *,
                    original: Variant | None = None) -> Variant:
    """The student's own variant, seeded by :func:`student_seed` with the id normalised
    (:func:`.grading.normalise_id`): an id typed with a decomposed accent or a stray byte-order mark
    gets the same variant as the roster's id."""
    from .grading import normalise_id

    student = normalise_id(student)
    problem_id, version = str(raw.get("id")), raw.get("version", 1)
    rng = np.random.default_rng(student_seed(secret, problem_id, version, student))
    return make_variant(raw, source, rng, student, original=original)


# ---------------------------------------------------------------- grading per-student variants


def grade_variants(raw: dict[str, Any], source: str, paths: list[Path], secret: bytes,
                   refused: dict[Path, str] | None = None) -> tuple[list[Any], list[str], list[CopyPair]]:
    """Grade each file against its student's own variant (rebuilt from the secret); report fingerprint
    mismatches and possible copies (see :mod:`.copies`). Returns the results, the batch's warnings and the
    pairs flagged as possible copies. A file that cannot be read, or whose student's variant cannot be
    built, is invalid; the batch goes on."""
    from .grading import (
        StudentResult,
        display_path,
        grade_answers,
        identity_warnings,
        invalid_result,
        read_answer_file,
        unexpected,
        variant_label,
    )

    base = build_problem(raw, source)
    refused = refused or {}
    results: list[StudentResult] = []
    variants: dict[str, Variant] = {}
    answers_of: dict[int, dict[str, Any]] = {}
    keys_of: dict[int, dict[str, Any]] = {}
    given_of: dict[int, str | None] = {}
    own_of: dict[int, str | None] = {}
    warnings: list[str] = []
    mismatched: list[tuple[int, str]] = []
    for path in paths:
        if path in refused:
            results.append(invalid_result(base, None, path, refused[path]))
            continue
        try:
            student, written, answers, extra = read_answer_file(path)
            variant = variants.get(student) or student_variant(raw, source, secret, student)
            result = grade_answers(variant.problem, variant.key, student, answers, display_path(path))
            result.written = written if written != student else None
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
            # no grade from a key the file was not made for: another student's sheet, a mistyped fingerprint,
            # or (when every file says so) the wrong secret
            mismatched.append((len(results), given))
        position = len(results)
        answers_of[position] = answers
        keys_of[position] = {qid: expected.value for qid, expected in variant.key.items()}
        given_of[position], own_of[position] = given, variant.fingerprint
        results.append(result)
    warnings += identity_warnings(results)
    qids = [q.id for q in base.questions if q.kind != "manual"]
    pairs, flags = copy_check(results, qids, answers_of, keys_of, given_of, own_of)
    warnings += flags
    owners = {v.fingerprint: s for s, v in variants.items()}
    for position, given in mismatched:
        result = results[position]
        whose = f"it is {owners[given]}'s" if given in owners else "no student of this batch has it"
        reason = (f"fingerprint {given} is not this student's variant under this secret ({result.variant}; "
                  f"{whose}): not graded — check the secret, or the sheet the student answered")
        result.error = reason
        result.warnings.append(reason)
    return results, warnings, pairs
