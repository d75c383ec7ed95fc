"""Copy detection: every pair of students compared on the evidence that an honest pair rarely shares.

For a pair (i, j) and a question q where both answered:

- their keys differ on q (per-student variants) and i's answer is j's key (or j's answer), or the
  other way round: an answer that belongs to the other variant;
- or their keys agree and both gave the same *wrong* answer.

Correct answers to the same key are never evidence. Each piece of evidence weighs as much as the
shared value is rare: ``log2(n / c)`` bits when c of the n students gave that answer to q, and for a
shared wrong answer ``log2(m / c)`` when c of the m students with the same key gave it — so a wrong
turn many students take (p = f/2, a shape read off the input) weighs little. A pair is
flagged when its evidence exceeds ``log2(number of pairs) + MARGIN_BITS`` (a chance coincidence that
strong is expected in well under one pair of the class), and always when it is a *whole copy* (every
answer of one that differs from the other's variant is the other's key or answer, on at least
WHOLE_MIN questions) or when one student's file carries another student's variant fingerprint.

Vectorised: answers and keys are canonicalised per question into integer codes (one ``np.unique``
per question), then each question adds one n×n comparison; 1,000 students take well under a second.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MARGIN_BITS = 6.0
WHOLE_MIN = 3  # questions that differ between the variants, all taken from the other student
MAX_LISTED = 50  # flagged pairs listed per batch (sorted by evidence); the rest are counted


@dataclass
class CopyPair:
    student: str  # the one whose answers match the other's variant (when that can be told)
    other: str
    bits: float  # strength of the evidence
    similarity: float  # share of the comparable questions that are evidence
    questions: list[str]  # the evidence, by question id
    matches_variant: int  # questions where `student` gave `other`'s key and not their own
    shared_wrong: int  # questions where both gave the same wrong answer to the same key
    whole: bool = False
    fingerprint: bool = False  # `student`'s file carries `other`'s variant fingerprint
    positions: tuple[int, int] = (0, 0)
    reasons: list[str] = field(default_factory=list)

    def message(self) -> str:
        what = "variant" if self.matches_variant else "answers"
        head = f"possible copy: {self.student}'s answers match {self.other}'s {what}"
        if self.fingerprint and not self.questions:
            return (f"possible copy: {self.student}'s answer file carries {self.other}'s variant fingerprint "
                    f"(whole copy)")
        shown = ", ".join(self.questions[:12]) + (f", … ({len(self.questions)})" if len(self.questions) > 12 else "")
        tags = [t for t, on in (("whole copy", self.whole), (f"and carries {self.other}'s fingerprint",
                                                              self.fingerprint)) if on]
        extra = f" — {'; '.join(tags)}" if tags else ""
        return (f"{head} on {len(self.questions)} question(s): {shown}; similarity {self.similarity:.0%}, "
                f"evidence {self.bits:.1f} bits{extra}")

    def as_dict(self) -> dict[str, Any]:
        return {"student": self.student, "other": self.other, "bits": round(self.bits, 2),
                "similarity": round(self.similarity, 4), "questions": self.questions,
                "matches_variant": self.matches_variant, "shared_wrong": self.shared_wrong, "whole": self.whole,
                "fingerprint": self.fingerprint}


def canonical(value: Any) -> str | None:
    """Answers and keys in one comparable form (numbers rounded as floats, matrices as nested lists,
    expressions without spaces); None for what cannot match anything."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()

    def normal(v: Any, depth: int = 0) -> Any:
        if depth > 8:
            raise TypeError
        if isinstance(v, list):
            return [normal(x, depth + 1) for x in v]
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            number = round(float(v), 6)
            return 0.0 if number == 0 else number  # -0.0 is 0
        if isinstance(v, str):
            return v.replace(" ", "").replace("−", "-")
        raise TypeError

    try:
        return json.dumps(normal(value))
    except (TypeError, ValueError, ArithmeticError, RecursionError, OverflowError):
        return None


def threshold_bits(students: int) -> float:
    pairs = max(1, students * (students - 1) // 2)
    return math.log2(pairs) + MARGIN_BITS


def _codes(answers: list[str | None], keys: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes shared by answers and keys of one question; -1 (answers) and -2 (keys) for none."""
    table: dict[str, int] = {}
    a = np.array([table.setdefault(v, len(table)) if v is not None else -1 for v in answers], dtype=np.int64)
    k = np.array([table.setdefault(v, len(table)) if v is not None else -2 for v in keys], dtype=np.int64)
    return a, k


def find_copies(students: list[str], qids: list[str], answers: list[list[Any]], keys: list[list[Any]],
                given: list[str | None] | None = None, own: list[str | None] | None = None) -> list[CopyPair]:
    """Flagged pairs, strongest first. ``answers[i][q]`` and ``keys[i][q]`` are student i's answer and own
    key for question ``qids[q]`` (None when missing or manual); ``given``/``own`` the fingerprint in
    student i's file and of their own variant (per-student variants only)."""
    n, nq = len(students), len(qids)
    if n < 2:
        return []
    codes_a = np.full((n, nq), -1, dtype=np.int64)
    codes_k = np.full((n, nq), -2, dtype=np.int64)
    bits = np.zeros((n, nq))
    bits_same_key = np.zeros((n, nq))
    for q in range(nq):
        a, k = _codes([canonical(row[q]) for row in answers], [canonical(row[q]) for row in keys])
        codes_a[:, q], codes_k[:, q] = a, k
        _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
        bits[:, q] = np.log2(n / counts[inverse])  # rarity of each student's answer to q in the class
        # … and among the students who had the same key: a wrong turn common for that key weighs little
        _, key_inverse, key_counts = np.unique(k, return_inverse=True, return_counts=True)
        _, pair_inverse, pair_counts = np.unique(k * (int(a.max()) + 2) + a, return_inverse=True,
                                                 return_counts=True)
        bits_same_key[:, q] = np.log2(key_counts[key_inverse] / pair_counts[pair_inverse])
    present = codes_a >= 0
    wrong = present & (codes_a != codes_k)
    finger: dict[tuple[int, int], bool] = {}
    if given is not None and own is not None:
        owner: dict[str, list[int]] = {}
        for j, fingerprint in enumerate(own):
            if fingerprint:
                owner.setdefault(fingerprint, []).append(j)
        for i, fingerprint in enumerate(given):
            for j in owner.get(fingerprint or "", []):
                if j != i and own[i] != fingerprint:
                    finger[(i, j)] = True
    first, second = _candidates(codes_a, codes_k, wrong, finger)
    return _judge(students, qids, first, second, codes_a, codes_k, present, wrong, bits, bits_same_key, finger)


DENSE_LIMIT = 1000  # up to this many students every pair is judged; above, the pairs that share a rare value
RARE_SHARE = 16  # … where rare means held by at most max(64, n / RARE_SHARE) students (≥ 4 bits each)


def _candidates(codes_a: np.ndarray, codes_k: np.ndarray, wrong: np.ndarray,
                finger: dict[tuple[int, int], bool]) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (i < j) to judge. Evidence needs a wrong answer of one that equals the other's answer or
    key; in a large class only pairs sharing such a value that is rare can reach the threshold (or be a
    whole copy of distinctive answers), so only they are judged."""
    n = codes_a.shape[0]
    if n <= DENSE_LIMIT:
        first, second = np.triu_indices(n, 1)
        return first, second
    limit = max(64, n // RARE_SHARE)
    found: list[np.ndarray] = [np.array([i * n + j if i < j else j * n + i for i, j in finger], dtype=np.int64)]
    for q in range(codes_a.shape[1]):
        holders: dict[int, list[int]] = {}
        for i in np.nonzero(wrong[:, q])[0]:
            holders.setdefault(int(codes_a[i, q]), []).append(int(i))
        if not holders:
            continue
        combined = np.concatenate([codes_a[:, q], codes_k[:, q]])  # answers, then keys
        order = np.argsort(combined, kind="stable")
        values, starts, counts = np.unique(combined[order], return_index=True, return_counts=True)
        lookup = {int(v): k for k, v in enumerate(values)}
        for value, wrong_holders in holders.items():
            k = lookup[value]
            everyone = np.unique(order[starts[k]:starts[k] + counts[k]] % n)  # its answer or key is the value
            if everyone.size > limit:
                continue
            left = np.repeat(np.array(wrong_holders), everyone.size)
            right = np.tile(everyone, len(wrong_holders))
            keep = left != right
            low, high = np.minimum(left[keep], right[keep]), np.maximum(left[keep], right[keep])
            found.append(low.astype(np.int64) * n + high)
    pairs = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    return pairs // n, pairs % n


def _judge(students: list[str], qids: list[str], first: np.ndarray, second: np.ndarray, codes_a: np.ndarray,
           codes_k: np.ndarray, present: np.ndarray, wrong: np.ndarray, bits: np.ndarray,
           bits_same_key: np.ndarray, finger: dict[tuple[int, int], bool]) -> list[CopyPair]:
    """The evidence of each candidate pair (i = first, j = second), all pairs at once per question."""
    n, nq = codes_a.shape
    size = first.size
    evidence = np.zeros(size)
    counted = np.zeros(size, dtype=np.int32)  # comparable questions
    took = np.zeros((2, size), dtype=np.int32)  # i gave j's key (not their own); j gave i's
    from_other = np.zeros((2, size), dtype=np.int32)  # … or j's / i's answer, wrong for them
    differ_answered = np.zeros((2, size), dtype=np.int32)  # keys differ and i / j answered
    differ_total = np.zeros(size, dtype=np.int32)
    wrong_shared = np.zeros(size, dtype=np.int32)
    hits = np.zeros((size, nq), dtype=bool)
    for q in range(nq):
        ai, aj, ki, kj = codes_a[first, q], codes_a[second, q], codes_k[first, q], codes_k[second, q]
        pi, pj, wi, wj = present[first, q], present[second, q], wrong[first, q], wrong[second, q]
        keys_differ = ki != kj
        same = (ai == aj) & pi & pj
        i_took, j_took = keys_differ & pi & (ai == kj), keys_differ & pj & (aj == ki)
        from_j = keys_differ & wi & (same | i_took)  # i holds j's key or answer, not their own
        from_i = keys_differ & wj & (same | j_took)
        shared = same & ~keys_differ & wi & wj
        hit = from_j | from_i | shared
        weight = np.maximum(np.where(from_j, bits[first, q], 0.0), np.where(from_i, bits[second, q], 0.0))
        evidence += np.where(shared, bits_same_key[first, q], weight)
        counted += (keys_differ & (pi | pj)) | shared
        took[0] += i_took
        took[1] += j_took
        from_other[0] += from_j
        from_other[1] += from_i
        differ_answered[0] += keys_differ & pi
        differ_answered[1] += keys_differ & pj
        differ_total += keys_differ
        wrong_shared += shared
        hits[:, q] = hit
    limit = threshold_bits(n)
    whole = (from_other == differ_answered) & (from_other >= np.minimum(WHOLE_MIN, differ_total)) & (from_other > 0)
    fingered = np.zeros((2, size), dtype=bool)
    if finger:
        index = {int(i) * n + int(j): p for p, (i, j) in enumerate(zip(first, second))}
        for i, j in finger:
            if i < j:
                fingered[0, index[i * n + j]] = True
            else:
                fingered[1, index[j * n + i]] = True
    flagged = (evidence >= limit) | whole[0] | whole[1] | fingered[0] | fingered[1]
    pairs = []
    for p in np.nonzero(flagged)[0]:
        i, j, side = int(first[p]), int(second[p]), 0
        # name first the one who holds the other's variant (or fingerprint)
        if (fingered[1, p] and not fingered[0, p]) or (not fingered[0, p] and (
                took[1, p] > took[0, p] or (took[1, p] == took[0, p] and whole[1, p] and not whole[0, p]))):
            i, j, side = j, i, 1
        questions = [qids[q] for q in range(nq) if hits[p, q]]
        similarity = len(questions) / counted[p] if counted[p] else (1.0 if questions else 0.0)
        pairs.append(CopyPair(students[i], students[j], float(evidence[p]), float(similarity), questions,
                              int(took[side, p]), int(wrong_shared[p]), bool(whole[0, p] or whole[1, p]),
                              bool(fingered[side, p]), (i, j)))
    pairs.sort(key=lambda pair: (not pair.whole and not pair.fingerprint, -pair.bits, pair.student, pair.other))
    return pairs


def copy_check(results: list[Any], qids: list[str], answers_of: dict[int, dict[str, Any]],
               keys_of: dict[int, dict[str, Any]], given_of: dict[int, str | None] | None = None,
               own_of: dict[int, str | None] | None = None) -> tuple[list[CopyPair], list[str]]:
    """Run :func:`find_copies` over the graded results (positions in ``results``); each flagged pair's
    message goes to both students' warnings; returns the pairs and the batch warnings."""
    positions = sorted(answers_of)
    students = [results[p].student for p in positions]
    answers = [[_answer(answers_of[p], qid) for qid in qids] for p in positions]
    keys = [[keys_of[p].get(qid) for qid in qids] for p in positions]
    given = [given_of.get(p) for p in positions] if given_of is not None else None
    own = [own_of.get(p) for p in positions] if own_of is not None else None
    pairs = find_copies(students, qids, answers, keys, given, own)
    warnings = []
    for pair in pairs:
        message = pair.message()
        a, b = (positions[pair.positions[0]], positions[pair.positions[1]])
        results[a].warnings.append(message)
        results[b].warnings.append(message)
        if len(warnings) < MAX_LISTED:
            warnings.append(message)
    if len(pairs) > MAX_LISTED:
        warnings.append(f"… and {len(pairs) - MAX_LISTED:,} more possible copies (see each student's warnings)")
    return pairs, warnings


def _answer(answers: dict[str, Any], qid: str) -> Any:
    return answers.get(qid)


def copy_check_results(problem: Any, results: list[Any]) -> tuple[list[CopyPair], list[str]]:
    """The copy check of a batch graded against one key (no variants): the evidence is then the wrong
    answers students share, weighed by how rare they are."""
    qids = [q.id for q in problem.questions if q.kind != "manual"]
    answers_of: dict[int, dict[str, Any]] = {}
    keys_of: dict[int, dict[str, Any]] = {}
    for position, result in enumerate(results):
        if result.error is not None:
            continue
        answers_of[position] = {q.id: q.got for q in result.questions if q.status != "missing"}
        keys_of[position] = {q.id: q.expected for q in result.questions}
    return copy_check(results, qids, answers_of, keys_of)
