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
    evidence = np.zeros((n, n))
    counted = np.zeros((n, n), dtype=np.int32)  # comparable questions per pair
    took = np.zeros((n, n), dtype=np.int32)  # [i, j]: questions where i gave j's key, not their own
    wrong_shared = np.zeros((n, n), dtype=np.int32)
    differ_answered = np.zeros((n, n), dtype=np.int32)  # [i, j]: keys differ and i answered
    from_other = np.zeros((n, n), dtype=np.int32)  # [i, j]: … and i's answer is j's key or answer, not i's
    differ_total = np.zeros((n, n), dtype=np.int32)  # questions whose keys differ
    hit_masks: list[np.ndarray] = []
    for q in range(nq):
        a, k = _codes([canonical(row[q]) for row in answers], [canonical(row[q]) for row in keys])
        present = a >= 0
        if present.sum() < 2:
            hit_masks.append(np.zeros((n, n), dtype=bool))
            continue
        _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
        bits = np.log2(n / counts[inverse])  # rarity of each student's answer to q in the class
        # … and among the students who had the same key: a wrong turn common for that key weighs little
        _, key_inverse, key_counts = np.unique(k, return_inverse=True, return_counts=True)
        _, pair_inverse, pair_counts = np.unique(k * (int(a.max()) + 2) + a, return_inverse=True,
                                                 return_counts=True)
        bits_same_key = np.log2(key_counts[key_inverse] / pair_counts[pair_inverse])
        bits[~present] = 0.0
        both = present[:, None] & present[None, :]
        np.fill_diagonal(both, False)
        keys_differ = k[:, None] != k[None, :]
        i_answered = keys_differ & present[:, None]
        same = (a[:, None] == a[None, :]) & both
        wrong = present & (a != k)
        i_took = i_answered & (a[:, None] == k[None, :])  # i gave j's key (so not their own)
        from_j = i_answered & wrong[:, None] & (same | i_took)
        shared_wrong = same & ~keys_differ & wrong[:, None] & wrong[None, :]
        hit = from_j | from_j.T | shared_wrong
        weight = np.maximum(np.where(from_j, bits[:, None], 0.0), np.where(from_j.T, bits[None, :], 0.0))
        evidence += np.where(shared_wrong, bits_same_key[:, None], weight)
        counted += (i_answered | i_answered.T | shared_wrong)
        took += i_took
        wrong_shared += shared_wrong
        differ_answered += i_answered
        differ_total += keys_differ
        from_other += from_j
        hit_masks.append(hit)
    limit = threshold_bits(n)
    whole = (from_other == differ_answered) & (from_other >= np.minimum(WHOLE_MIN, differ_total)) & (from_other > 0)
    flagged = (evidence >= limit) | whole | whole.T
    finger = np.zeros((n, n), dtype=bool)
    if given is not None and own is not None:
        owner: dict[str, list[int]] = {}
        for j, fingerprint in enumerate(own):
            if fingerprint:
                owner.setdefault(fingerprint, []).append(j)
        for i, fingerprint in enumerate(given):
            for j in owner.get(fingerprint or "", []):
                if j != i and own[i] != fingerprint:
                    finger[i, j] = True
        flagged |= finger | finger.T
    pairs = []
    for i, j in zip(*np.nonzero(np.triu(flagged, 1))):
        i, j = int(i), int(j)
        # name first the one who holds the other's variant (or fingerprint)
        if finger[j, i] and not finger[i, j] or (not finger[i, j] and took[j, i] > took[i, j]) or (
                not finger[i, j] and took[j, i] == took[i, j] and whole[j, i] and not whole[i, j]):
            i, j = j, i
        questions = [qids[q] for q in range(nq) if hit_masks[q][i, j]]
        similarity = len(questions) / counted[i, j] if counted[i, j] else (1.0 if questions else 0.0)
        pairs.append(CopyPair(students[i], students[j], float(evidence[i, j]), float(similarity), questions,
                              int(took[i, j]), int(wrong_shared[i, j]), bool(whole[i, j] or whole[j, i]),
                              bool(finger[i, j]), (i, j)))
    pairs.sort(key=lambda p: (not p.whole and not p.fingerprint, -p.bits, p.student, p.other))
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
