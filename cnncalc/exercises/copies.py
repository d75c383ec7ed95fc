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
per question); up to DENSE_LIMIT students every pair is judged, each question adding one comparison of
all pairs at once. Above, the same verdicts come from judging only the pairs that can be flagged
(:func:`_candidates`): pairs sharing a rare value, pairs that share all their values on a block of
questions when only common values could add up to the threshold (a pigeonhole bound), and pairs that
may be whole copies, looked up by each wrong answer together with a few other conditions. For a fixed
number of distinct wrong answers per question this is linear in the number of students (20,000 in a
few seconds, ``benchmarks/bench_copies.py``), and candidates are judged in chunks, so memory stays flat.
"""

from __future__ import annotations

import itertools
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
    if isinstance(value, (int, float)):  # the common case, without json: the same text json.dumps gives
        try:
            number = round(float(value), 6)
        except (ArithmeticError, ValueError):
            return None
        return float.__repr__(number or 0.0) if math.isfinite(number) else json.dumps(number)
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


@dataclass
class _Class:
    """A class's answers and keys as integer codes (``a``, ``k``: students × questions), with the counts
    behind each piece of evidence's weight."""
    a: np.ndarray  # answer codes, -1 when missing
    k: np.ndarray  # key codes, -2 when none; answers and keys of one question share one table
    present: np.ndarray
    wrong: np.ndarray
    bits: np.ndarray  # log2(n / c): c students gave this student's answer
    bits_same_key: np.ndarray  # log2(m / c): c of the m students with this student's key gave this answer
    key_count: np.ndarray  # m
    pair_count: np.ndarray  # c (same key, same answer)

    @classmethod
    def of(cls, answers: list[list[Any]], keys: list[list[Any]], nq: int) -> _Class:
        n = len(answers)
        codes_a = np.full((n, nq), -1, dtype=np.int64)
        codes_k = np.full((n, nq), -2, dtype=np.int64)
        bits = np.zeros((n, nq))
        key_count = np.zeros((n, nq), dtype=np.int64)
        pair_count = np.zeros((n, nq), dtype=np.int64)
        for q in range(nq):
            a, k = _codes([canonical(row[q]) for row in answers], [canonical(row[q]) for row in keys])
            codes_a[:, q], codes_k[:, q] = a, k
            _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
            bits[:, q] = np.log2(n / counts[inverse])  # rarity of each student's answer to q in the class
            # … and among the students who had the same key: a wrong turn common for that key weighs little
            _, key_inverse, key_counts = np.unique(k, return_inverse=True, return_counts=True)
            _, pair_inverse, pair_counts = np.unique(k * (int(a.max()) + 2) + a, return_inverse=True,
                                                     return_counts=True)
            key_count[:, q], pair_count[:, q] = key_counts[key_inverse], pair_counts[pair_inverse]
        present = codes_a >= 0
        return cls(codes_a, codes_k, present, present & (codes_a != codes_k), bits, np.log2(key_count / pair_count),
                   key_count, pair_count)


def find_copies(students: list[str], qids: list[str], answers: list[list[Any]], keys: list[list[Any]],
                given: list[str | None] | None = None, own: list[str | None] | None = None) -> list[CopyPair]:
    """Flagged pairs, strongest first. ``answers[i][q]`` and ``keys[i][q]`` are student i's answer and own
    key for question ``qids[q]`` (None when missing or manual); ``given``/``own`` the fingerprint in
    student i's file and of their own variant (per-student variants only)."""
    n, nq = len(students), len(qids)
    if n < 2:
        return []
    table = _Class.of(answers, keys, nq)
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
    if n <= DENSE_LIMIT:
        first, second = np.triu_indices(n, 1)
    else:
        first, second = _candidates(table, finger, threshold_bits(n))
    pairs: list[CopyPair] = []
    for start in range(0, first.size, CHUNK_PAIRS):  # bounded memory, whatever the number of candidates
        pairs += _judge(students, qids, first[start:start + CHUNK_PAIRS], second[start:start + CHUNK_PAIRS],
                        table, finger)
    pairs.sort(key=lambda pair: (not pair.whole and not pair.fingerprint, -pair.bits, pair.student, pair.other))
    return pairs


# ---------------------------------------------------------------- which pairs can be flagged

DENSE_LIMIT = 1000  # up to this many students every pair is judged (the quickest way at that size)
RARE_SHARE = 256  # above, a value is *rare* when at most max(RARE_MIN, n / RARE_SHARE) students gave it …
RARE_MIN = 64  # … (8 bits or more of evidence): the pairs holding it are judged one by one
ANCHORS = 3  # conditions looked up with each wrong answer when searching for whole copies
MAX_BLOCK = 6  # questions per block of the pigeonhole search for pairs built of common values
CHUNK_PAIRS = 1 << 19  # candidate pairs judged at once
_TOLERANCE = 1e-7  # bits: bounds are compared with this margin, so float rounding never drops a pair


def _candidates(table: _Class, finger: dict[tuple[int, int], bool], limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j) that can be flagged, without looking at every pair: a superset of the flagged
    pairs, so the verdicts are those of judging every pair.

    - Evidence through a rare value: the pairs of each student who gave it as a wrong answer with each
      student who holds it (as answer or key) — at most RARE_MIN-ish students per value, so linear.
    - Evidence through common values only: each such value weighs under log2(n / rare) bits, so a
      pair reaches the threshold only by sharing values on many questions; by the pigeonhole principle
      it then shares all its values on one block of questions (:func:`_common_value_pairs`), which is
      found by grouping students by their values on that block.
    - Whole copies: :func:`_whole_copy_pairs`; fingerprints: as given.
    """
    n = table.a.shape[0]
    rare = max(RARE_MIN, n // RARE_SHARE)
    found = [np.array([min(i, j) * n + max(i, j) for i, j in finger], dtype=np.int64)]
    found += _rare_value_pairs(table, rare)
    found += _common_value_pairs(table, rare, limit)
    found += _whole_copy_pairs(table)
    pairs = np.unique(np.concatenate(found))
    return pairs // n, pairs % n


def _pair_codes(left: np.ndarray, right: np.ndarray, n: int) -> np.ndarray:
    keep = left != right
    left, right = left[keep], right[keep]
    return np.minimum(left, right) * n + np.maximum(left, right)


def _expand(left: np.ndarray, starts: np.ndarray, lengths: np.ndarray, pool: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (left[e], pool[starts[e] + t]) for every e and t < lengths[e]."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    return np.repeat(left, lengths), pool[offsets]


def _labels(columns: list[np.ndarray]) -> np.ndarray:
    """One integer per row, equal exactly when the rows' tuples are equal (values from -2 up)."""
    label = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        shifted = column.astype(np.int64) + 2
        base = int(shifted.max()) + 1 if shifted.size else 1
        if (int(label.max()) + 1 if label.size else 1) * base >= 2**62:
            label = np.unique(label, return_inverse=True)[1].reshape(-1).astype(np.int64)
        label = label * base + shifted
    return label


def _rare_value_pairs(table: _Class, rare: int) -> list[np.ndarray]:
    """Pairs whose evidence on some question comes through a rare value: a wrong answer that at most
    ``rare`` students gave, with each student holding that value; a wrong answer shared under one key
    by at most rare·m/n of the m students with that key, within that group."""
    n, nq = table.a.shape
    found = []
    for q in range(nq):
        a, k, wrong = table.a[:, q], table.k[:, q], table.wrong[:, q]
        size = int(max(a.max(), k.max(), 0)) + 1
        counts = np.bincount(a[a >= 0], minlength=size)
        rare_wrong = np.zeros(size, dtype=bool)
        rare_wrong[a[wrong]] = True
        rare_wrong &= counts <= rare
        givers = np.nonzero(wrong & rare_wrong[np.maximum(a, 0)])[0]
        if givers.size:
            by_answer = np.nonzero((a >= 0) & rare_wrong[np.maximum(a, 0)])[0]
            by_key = np.nonzero((k >= 0) & rare_wrong[np.maximum(k, 0)] & (k != a))[0]
            holders = np.concatenate([by_answer, by_key])
            values = np.concatenate([a[by_answer], k[by_key]])
            order = np.argsort(values, kind="stable")
            holders, values = holders[order], values[order]
            starts = np.searchsorted(values, a[givers], "left")
            ends = np.searchsorted(values, a[givers], "right")
            left, right = _expand(givers, starts, ends - starts, holders)
            found.append(_pair_codes(left, right, n))
        group = wrong & (table.pair_count[:, q] >= 2) & (
            table.pair_count[:, q] * n <= table.key_count[:, q] * rare)
        members = np.nonzero(group)[0]
        if members.size:
            label = _labels([k[members], a[members]])
            order = np.argsort(label, kind="stable")
            members, label = members[order], label[order]
            ends = np.searchsorted(label, label, "right")
            left, right = _expand(members, np.arange(members.size) + 1, ends - np.arange(members.size) - 1, members)
            found.append(_pair_codes(left, right, n))
    return found


def _common_value_pairs(table: _Class, rare: int, limit: float) -> list[np.ndarray]:
    """Pairs whose evidence comes through common values only (none of them rare) and may reach ``limit``.

    Student i's *light weight* on question q, ``w[i, q]``, is the most that question can add to any such
    pair of theirs (the weight of the heaviest common value i holds there). A pair with evidence E on
    the questions M it shares has E ≤ Σ_{q∈M} w[i, q], so the questions it does not share weigh at most
    ``slack_i = Σ_q w[i, q] − limit`` for i; a student whose light weights sum below the limit is in no
    such pair. Cut the questions into blocks: when the sum over blocks of each block's lightest
    question exceeds slack_i, the unshared questions cannot touch every block, so the pair shares a
    whole block — and is found by grouping the students by their values on that block. Each student
    is searched with the coarsest cut (fewest blocks: most selective) that works for them.
    """
    n, nq = table.a.shape
    weight = np.zeros((n, nq))
    by_answer = np.full((n, nq), -1, dtype=np.int64)  # the common values each student holds
    by_key = np.full((n, nq), -1, dtype=np.int64)
    for q in range(nq):
        a, k, wrong = table.a[:, q], table.k[:, q], table.wrong[:, q]
        size = int(max(a.max(), k.max(), 0)) + 1
        counts = np.bincount(a[a >= 0], minlength=size)
        common = np.zeros(size, dtype=bool)
        common[a[wrong]] = True  # only a value somebody gave as a wrong answer is ever evidence
        common &= counts > rare
        value_bits = np.log2(n / np.maximum(counts, 1))
        answer_ok = (a >= 0) & common[np.maximum(a, 0)]
        key_ok = (k >= 0) & common[np.maximum(k, 0)] & (k != a)
        shared_ok = wrong & (table.pair_count[:, q] >= 2) & (
            table.pair_count[:, q] * n > table.key_count[:, q] * rare)
        weight[:, q] = np.maximum.reduce([np.where(answer_ok, value_bits[np.maximum(a, 0)], 0.0),
                                          np.where(key_ok, value_bits[np.maximum(k, 0)], 0.0),
                                          np.where(shared_ok, table.bits_same_key[:, q], 0.0)])
        by_answer[:, q] = np.where(answer_ok | shared_ok, a, -1)
        by_key[:, q] = np.where(key_ok, k, -1)
    active = np.nonzero(weight.sum(axis=1) >= limit - _TOLERANCE)[0]
    if active.size < 2:
        return []
    order = np.argsort(-weight[active].mean(axis=0), kind="stable")  # heavy questions spread over blocks
    light = weight[active][:, order]
    slack = light.sum(axis=1) - limit + _TOLERANCE
    level = np.zeros(active.size, dtype=np.int64)  # number of blocks of each student's cut
    for blocks in range(-(-nq // MAX_BLOCK), nq + 1):
        floor = sum(light[:, b::blocks].min(axis=1) for b in range(blocks))
        level[(level == 0) & (floor > slack)] = blocks
        if level.all():
            break
    found = []
    for blocks in np.unique(level):
        searched = level == blocks
        for b in range(int(blocks)):
            questions = order[b::int(blocks)]
            found.append(_block_pairs(by_answer[np.ix_(active, questions)], by_key[np.ix_(active, questions)],
                                      active, searched, n))
    return found


def _block_pairs(by_answer: np.ndarray, by_key: np.ndarray, students: np.ndarray, searched: np.ndarray,
                 n: int) -> np.ndarray:
    """Pairs of students (at least one of them ``searched``) holding the same value on every question of
    a block: each student stands for every choice of one held value per question."""
    width = by_answer.shape[1]
    rows, who = [], []
    for choice in range(2**width):
        picks = [(by_key if choice >> c & 1 else by_answer)[:, c] for c in range(width)]
        ok = np.all(np.stack(picks, axis=1) >= 0, axis=1)
        if ok.any():
            rows.append(np.stack([p[ok] for p in picks], axis=1))
            who.append(np.nonzero(ok)[0])
    if not rows:
        return np.zeros(0, dtype=np.int64)
    values, index = np.concatenate(rows), np.concatenate(who)
    label = _labels(list(values.T))
    order = np.argsort(label, kind="stable")
    label, index = label[order], index[order]
    starts, ends = np.searchsorted(label, label, "left"), np.searchsorted(label, label, "right")
    mine = searched[index] & (ends - starts > 1)
    left, right = _expand(index[mine], starts[mine], (ends - starts)[mine], index)
    return _pair_codes(students[left], students[right], n)


def _whole_copy_pairs(table: _Class) -> list[np.ndarray]:
    """Every pair that may be a whole copy (i's answers, wherever the variants differ, taken from j).

    Then i is wrong on some question q where j's key differs and i's answer is j's key or answer; on
    each question i answered correctly j has i's key; on each question i got wrong j has i's key or
    holds i's answer; and when i got fewer than WHOLE_MIN questions wrong, j has i's key on every
    question i did not get wrong. So for each wrong answer of i, the partners are looked up by that
    answer together with ANCHORS more such conditions (on the class's most selective questions), which
    keeps common wrong answers from pairing everyone with everyone.
    """
    nq = table.a.shape[1]
    a, k, wrong, present = table.a, table.k, table.wrong, table.present
    wrong_count = wrong.sum(axis=1)
    available = present | (wrong_count < WHOLE_MIN)[:, None]
    # per question and value (codes shifted by 2): how many students have it as key, as answer
    holders: _Holders = []
    guess = np.zeros(nq)  # how many partners one condition leaves, on average: selective questions first
    for q in range(nq):
        size = int(max(a[:, q].max(), k[:, q].max())) + 3
        keys = np.bincount(k[:, q] + 2, minlength=size)
        answers = np.bincount(a[:, q] + 2, minlength=size)
        mistaken = np.bincount(a[wrong[:, q], q] + 2, minlength=size)
        holders.append((keys, answers, mistaken))
        guess[q] = np.mean(keys[k[:, q] + 2] + np.where(wrong[:, q], keys[a[:, q] + 2] + answers[a[:, q] + 2], 0))
    ranking = np.argsort(guess, kind="stable")
    found = []
    for q in range(nq):
        keys, answers, _ = holders[q]
        by_key = keys[a[:, q] + 2] > 0  # somebody's key at q is this student's wrong answer
        by_answer = answers[a[:, q] + 2] > table.pair_count[:, q]  # … or somebody gave it under another key
        takers = np.nonzero(wrong[:, q] & (by_key | by_answer))[0]
        if takers.size == 0:
            continue
        ranked = available[np.ix_(takers, ranking)] & (ranking != q)
        anchors = np.full((takers.size, ANCHORS), -1, dtype=np.int64)
        for slot in range(ANCHORS):
            has = ranked.any(axis=1)
            first = ranked.argmax(axis=1)
            anchors[has, slot] = ranking[first[has]]
            ranked[np.nonzero(has)[0], first[has]] = False
        anchor_set = _labels(list(anchors.T))
        for code in np.unique(anchor_set):
            mine = anchor_set == code
            chosen = takers[mine]
            found.append(_taken_with_anchors(table, holders, q, [int(x) for x in anchors[mine][0]], chosen,
                                             by_key[chosen], by_answer[chosen]))
    return found


_Conditions = list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (form, value, applies) per student


_Holders = list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # per question and value: as key, answer, wrong answer


def _partner_forms(table: _Class, holders: _Holders, q: int, students: np.ndarray) -> _Conditions:
    """What a partner holds at an anchor question: its key (form 0) and its answer (form 1), each only
    when some taker may ask for it (a key another student shares or gave as a wrong answer; an answer
    another student gave)."""
    count = students.size
    if q < 0:  # no anchor: a condition everyone meets
        return [(np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int64), np.ones(count, dtype=bool))]
    keys, answers, mistaken = holders[q]
    a, k = table.a[students, q], table.k[students, q]
    return [(np.zeros(count, dtype=np.int64), k, (keys[k + 2] > 1) | (mistaken[k + 2] > 0)),
            (np.ones(count, dtype=np.int64), a, (a >= 0) & (answers[a + 2] > 1))]


def _taker_forms(table: _Class, holders: _Holders, q: int,
                 students: np.ndarray) -> _Conditions:
    """What a taker accepts from a partner at an anchor question: the taker's key as the partner's key,
    and when the taker is wrong there, the taker's answer as the partner's key or answer; a condition
    nobody else meets is left out."""
    count = students.size
    if q < 0:
        return [(np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int64), np.ones(count, dtype=bool))]
    keys, answers, _ = holders[q]
    a, k, wrong = table.a[students, q], table.k[students, q], table.wrong[students, q]
    zeros = np.zeros(count, dtype=np.int64)
    return [(zeros, k, keys[k + 2] > 1), (zeros, a, wrong & (keys[a + 2] > 0)),
            (np.ones(count, dtype=np.int64), a, wrong & (answers[a + 2] > 1))]


def _taken_with_anchors(table: _Class, holders: _Holders, q: int, anchors: list[int],
                        takers: np.ndarray, by_key: np.ndarray, by_answer: np.ndarray) -> np.ndarray:
    """Pairs (taker, partner): the taker's wrong answer to q is the partner's key (``by_key``), or the
    partner's answer under another key (``by_answer``); and every anchor condition holds."""

    n = table.a.shape[0]
    everyone = np.arange(n)
    key_q = table.k[:, q]
    span = int(key_q.max()) + 3  # key codes from -2
    # entries: each partner under each form of the anchors, once by key at q (form 0) and once by
    # answer at q (form 1, ordered by key at q so that the taker's own key can be skipped)
    entries, entry_who, secondary = [], [], []
    mistaken = holders[q][2]
    for held in itertools.product(*(_partner_forms(table, holders, anchor, everyone) for anchor in anchors)):
        # a key at q somebody gave as a wrong answer; an answer somebody else gave wrongly
        for form, value, useful in ((0, key_q, mistaken[key_q + 2] > 0), (1, table.a[:, q], mistaken[table.a[:, q] + 2] > 0)):
            ok = np.logical_and.reduce([value >= 0, useful, *(applies for _, _, applies in held)])
            columns = [np.full(n, form), value, *(column for f, v, _ in held for column in (f, v))]
            entries.append(np.stack(columns, axis=1)[ok])
            entry_who.append(everyone[ok])
            secondary.append((key_q + 2)[ok] if form else np.zeros(int(ok.sum()), dtype=np.int64))
    queries, query_who = [], []
    answer = table.a[takers, q]
    for accepted in itertools.product(*(_taker_forms(table, holders, anchor, takers) for anchor in anchors)):
        for form, possible in ((0, by_key), (1, by_answer)):
            ok = np.logical_and.reduce([possible, *(applies for _, _, applies in accepted)])
            columns = [np.full(takers.size, form), answer, *(column for f, v, _ in accepted for column in (f, v))]
            queries.append(np.stack(columns, axis=1)[ok])
            query_who.append(takers[ok])
    rows = np.concatenate(entries + queries)
    split = sum(len(e) for e in entries)
    if split == rows.shape[0]:
        return np.zeros(0, dtype=np.int64)
    label = _labels(list(rows.T))
    composite = label[:split] * span + np.concatenate(secondary)
    order = np.argsort(composite, kind="stable")
    composite, partner = composite[order], np.concatenate(entry_who)[order]
    asked = np.concatenate(query_who)
    base = label[split:] * span
    answered = rows[split:, 0] == 1
    own = table.k[asked, q] + 2
    low = np.searchsorted(composite, base, "left")
    high = np.searchsorted(composite, base + span, "left")
    # by answer: skip the partners with the taker's own key at q (the variants must differ there)
    cut_low = np.where(answered, np.searchsorted(composite, base + own, "left"), high)
    cut_high = np.where(answered, np.searchsorted(composite, base + own + 1, "left"), high)
    left1, right1 = _expand(asked, low, cut_low - low, partner)
    left2, right2 = _expand(asked, cut_high, high - cut_high, partner)
    return _pair_codes(np.concatenate([left1, left2]), np.concatenate([right1, right2]), n)


def _judge(students: list[str], qids: list[str], first: np.ndarray, second: np.ndarray, table: _Class,
           finger: dict[tuple[int, int], bool]) -> list[CopyPair]:
    """The evidence of each candidate pair (i = first, j = second), all pairs at once per question."""
    n, nq = table.a.shape
    codes_a, codes_k, present, wrong = table.a, table.k, table.present, table.wrong
    bits, bits_same_key = table.bits, table.bits_same_key
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
    if finger and size:
        codes = first.astype(np.int64) * n + second  # ascending: the candidates come sorted
        for i, j in finger:
            code = min(i, j) * n + max(i, j)
            at = int(np.searchsorted(codes, code))
            if at < size and codes[at] == code:
                fingered[0 if i < j else 1, at] = True
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
    warnings: list[str] = []
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
