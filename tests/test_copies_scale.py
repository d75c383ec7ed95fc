"""Copy detection at scale: the pairs judged in a large class are a superset of the flagged pairs, so the
verdicts are exactly those of judging every pair — checked against a literal, one-pair-at-a-time
implementation of the rule on random classes built to be awkward (few variants, common wrong answers,
missing answers, copies of answers and of keys, borrowed fingerprints), and against the every-pair judge
on a class past DENSE_LIMIT. Then a large class with the wrong answers in 16 groups per question (the
case that took 28 s and 1.6 GB for 8,000 students) must finish, in bounded memory, finding its copies.
Every class is generated here, at test time.
"""

from __future__ import annotations

import math
import time
import tracemalloc

import numpy as np
import pytest

from cnncalc.exercises import copies
from cnncalc.exercises.copies import WHOLE_MIN, find_copies, threshold_bits


def random_class(seed: int, n: int, nq: int) -> tuple[list[list], list[list], list | None, list | None]:
    """Answers, keys and fingerprints (given, own) of a random class; the kind of class varies by seed."""
    rng = np.random.default_rng(seed)
    variants = [1, 3, 12, None][seed % 4]  # one key, a few variants, many, or a key per student
    if variants is None:
        keys = rng.integers(0, 10**6, size=(n, nq))
    else:
        table = rng.integers(0, 40, size=(variants, nq))
        table[:, rng.random(nq) < 0.3] = 7  # questions whose key does not vary
        keys = table[rng.integers(0, variants, size=n)]
    groups = [2, 4, 16, 64][seed // 4 % 4]  # how many common wrong answers each question has
    wrong_rate = [0.1, 0.4, 0.9][seed % 3]
    answers: list[list] = []
    for i in range(n):
        row: list = []
        for q in range(nq):
            roll = rng.random()
            if roll < 0.05:
                row.append(None)
            elif roll < 0.05 + wrong_rate:  # a common wrong answer, or a slip of one's own
                row.append(int(100 + rng.integers(groups)) if rng.random() < 0.7 else int(rng.integers(0, 60)))
            else:
                row.append(int(keys[i, q]))
        answers.append(row)
    for _ in range(int(rng.integers(2, 9))):
        i, j = (int(x) for x in rng.choice(n, size=2, replace=False))
        how = rng.integers(3)
        if how == 0:
            answers[i] = list(answers[j])  # a whole copy of the answers
        elif how == 1:
            answers[i] = [int(v) for v in keys[j]]  # j's key, right or wrong for i
        else:
            answers[i] = [answers[j][q] if rng.random() < 0.6 else answers[i][q] for q in range(nq)]
    given = own = None
    if seed % 5 == 0:
        own = [f"f{i % 40}" for i in range(n)]
        given = [own[i] if rng.random() < 0.95 else f"f{rng.integers(40)}" for i in range(n)]
    return answers, keys.tolist(), given, own


def literal_copies(answers, keys, given=None, own=None) -> dict[frozenset, tuple[float, list[int], bool, bool]]:
    """The rule, one pair at a time (the README's words, no vectorising, no candidates): for each
    flagged pair, its evidence in bits, the questions that are evidence, whole copy, fingerprint."""
    n, nq = len(answers), len(answers[0])
    limit = math.log2(n * (n - 1) // 2) + 6
    count = [{} for _ in range(nq)]
    key_count = [{} for _ in range(nq)]
    pair_count = [{} for _ in range(nq)]
    for i in range(n):
        for q in range(nq):
            a, k = answers[i][q], keys[i][q]
            count[q][a] = count[q].get(a, 0) + 1
            key_count[q][k] = key_count[q].get(k, 0) + 1
            pair_count[q][(k, a)] = pair_count[q].get((k, a), 0) + 1
    flagged = {}
    for i in range(n):
        for j in range(i + 1, n):
            bits, hits = 0.0, []
            from_other, differ_answered, differ_total = [0, 0], [0, 0], 0
            for q in range(nq):
                ai, aj, ki, kj = answers[i][q], answers[j][q], keys[i][q], keys[j][q]
                wrong_i, wrong_j = ai is not None and ai != ki, aj is not None and aj != kj
                same = ai is not None and ai == aj
                if ki != kj:
                    differ_total += 1
                    differ_answered[0] += ai is not None
                    differ_answered[1] += aj is not None
                    from_j = wrong_i and (same or ai == kj)  # i holds j's key or answer, not their own
                    from_i = wrong_j and (same or aj == ki)
                    from_other[0] += from_j
                    from_other[1] += from_i
                    if from_j or from_i:
                        hits.append(q)
                        bits += max(math.log2(n / count[q][ai]) if from_j else 0.0,
                                    math.log2(n / count[q][aj]) if from_i else 0.0)
                elif same and wrong_i:  # the same wrong answer to the same key
                    hits.append(q)
                    bits += math.log2(key_count[q][ki] / pair_count[q][(ki, ai)])
            whole = any(from_other[s] == differ_answered[s] and from_other[s] >= min(WHOLE_MIN, differ_total)
                        and from_other[s] > 0 for s in (0, 1))
            fingerprint = own is not None and any(
                given[x] == own[y] and own[x] != given[x] and bool(own[y]) for x, y in ((i, j), (j, i)))
            if bits >= limit or whole or fingerprint:
                flagged[frozenset((i, j))] = (bits, hits, whole, fingerprint)
    return flagged


@pytest.mark.parametrize("seed", range(16))
def test_the_pairs_judged_in_a_large_class_give_the_verdicts_of_a_literal_pair_loop(seed, monkeypatch):
    rng = np.random.default_rng(1000 + seed)
    n, nq = int(rng.integers(40, 160)), int(rng.integers(1, 11))
    answers, keys, given, own = random_class(seed, n, nq)
    expected = literal_copies(answers, keys, given, own)
    names, qids = [f"s{i}" for i in range(n)], [f"q{q}" for q in range(nq)]
    dense = find_copies(names, qids, answers, keys, given, own)
    monkeypatch.setattr(copies, "DENSE_LIMIT", 0)  # the large-class path, for a class of any size
    monkeypatch.setattr(copies, "RARE_MIN", int(rng.choice([1, 2, 4])))  # so that values count as common
    sparse = find_copies(names, qids, answers, keys, given, own)
    for found in (dense, sparse):
        got = {frozenset(p.positions): p for p in found}
        assert set(got) == set(expected), (seed, len(got), len(expected))
        for pair, (bits, hits, whole, fingerprint) in expected.items():
            assert got[pair].bits == pytest.approx(bits, abs=1e-9)
            assert got[pair].questions == [qids[q] for q in hits]
            assert got[pair].whole == whole
            assert (got[pair].fingerprint or fingerprint) == fingerprint
    assert [p.as_dict() for p in sparse] == [p.as_dict() for p in dense]


def test_past_the_dense_limit_the_verdicts_are_those_of_judging_every_pair(monkeypatch):
    """1,500 students (past DENSE_LIMIT), a few variants, common wrong answers: every pair judged (the
    limit raised) against the candidates."""
    answers, keys, given, own = random_class(5, 1500, 9)
    names, qids = [f"s{i}" for i in range(1500)], [f"q{q}" for q in range(9)]
    for copier, source in ((10, 20), (30, 40)):
        answers[copier] = [int(v) + 1000 for v in keys[source]]  # the same distinctive wrong answers
        answers[source] = list(answers[copier])
    sparse = find_copies(names, qids, answers, keys, given, own)
    monkeypatch.setattr(copies, "DENSE_LIMIT", 10**6)
    dense = find_copies(names, qids, answers, keys, given, own)
    assert [p.as_dict() for p in sparse] == [p.as_dict() for p in dense]
    assert {frozenset((p.student, p.other)) for p in dense} >= {frozenset(("s10", "s20")), frozenset(("s30", "s40"))}


def sixteen_groups(n: int, nq: int = 9, variants: bool = False, seed: int = 0):
    """The reported case: every student wrong on about half the questions, the wrong answers in 16 groups
    per question; ten planted pairs share six wrong answers nobody else gave."""
    rng = np.random.default_rng(seed)
    keys = rng.integers(1000, 10**6, size=(n, nq)) if variants else np.tile(np.arange(nq) + 100, (n, 1))
    answers = np.where(rng.random((n, nq)) < 0.5, rng.integers(0, 16, size=(n, nq)), keys).tolist()
    planted = set()
    for k in range(10):
        copier, source = 2 * k, 2 * k + 1
        for q in range(6):
            answers[copier][q] = answers[source][q] = 10**7 + 100 * k + q
        planted.add(frozenset((f"s{copier}", f"s{source}")))
    return answers, keys.tolist(), planted


@pytest.mark.parametrize("variants", [False, True], ids=["one key", "a variant each"])
def test_a_large_class_with_common_wrong_answers_finishes_in_bounded_memory(variants):
    """10,000 students take under a second (1.0 s of CPU with allocations traced, measured) and allocate
    under 10 MB at their peak on a quiet machine; the bounds here are more than ten times that, so they fail
    only when the work grows as it did (every pair within each group: tens of seconds, a gigabyte). The
    speed itself: benchmarks/bench_copies.py."""
    n = 10_000
    answers, keys, planted = sixteen_groups(n, variants=variants)
    names, qids = [f"s{i}" for i in range(n)], [f"q{q}" for q in range(9)]
    tracemalloc.start()
    start = time.perf_counter()
    try:
        pairs = find_copies(names, qids, answers, keys)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert {frozenset((p.student, p.other)) for p in pairs} == planted
    assert all(p.bits >= threshold_bits(n) and p.questions[:6] == qids[:6] for p in pairs)
    assert seconds < 30, f"{seconds:.1f} s"
    assert peak < 200_000_000, f"{peak / 1e6:.0f} MB"
