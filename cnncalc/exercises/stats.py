"""The class view of a graded batch (`grade --stats`): score summary and histogram, and per question an
item analysis — mean score, share correct / partial / wrong / missing, discrimination (how well the
question separates strong from weak students: the correlation of its score with the rest of the total),
the answer groups, the slips named, and the most common wrong answers with their diagnosis.

**Answer groups** (as Gradescope has them): the answers given to a question, read as its kind reads them
and put in one form (``22x22x6`` and ``[22, 22, 6]`` are one group), most common first, each with its
count, mean score and the slip that names it; an instructor scores a group at once with an override
``{question: ID, answer: VALUE, score: X}`` (:mod:`.overrides`). **Slips**: how many answers each rule
of :mod:`.slips` named.

With one key for the class, the most common wrong answers are grouped by value ("[6, 6] × 12 — rows and
columns swapped?"); with per-student variants the values differ from student to student, so they are
grouped by the slip that names them (one group of those no rule names).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .copies import canonical
from .grading import AnswerForms, StudentResult, clean_text, json_value, plain_answer, read_answer
from .key import num
from .problem import Problem

HISTOGRAM_BINS = 10
COMMON_WRONG = 3  # wrong answers (or diagnoses) listed per question
MAX_GROUPS = 20  # answer groups per question in the JSON (the rest counted in groups_left_off)
SHOWN_GROUPS = 5  # answer groups per question in the text
WRONG_STATUSES = ("partial", "incorrect", "invalid")
_NUMBER = re.compile(r"[−-]?\d+(?:[.,]\d+)*(?:e[+−-]?\d+)?")


def diagnosis(feedback: str) -> str | None:
    """The wrong turn named by a feedback line: what follows " — ", or a final "(…?)" hint."""
    first = feedback.splitlines()[0] if feedback else ""
    if " — " in first:
        return first.split(" — ", 1)[1].strip() or None
    match = re.search(r"\(([^()]*\?)\)\s*$", first)
    return match.group(1) if match else None


def class_stats(problem: Problem, results: list[StudentResult]) -> dict[str, Any]:
    graded = [r for r in results if r.error is None]
    data: dict[str, Any] = {"problem": problem.id, "version": problem.version, "files": len(results),
                            "graded": len(graded), "invalid": len(results) - len(graded)}
    if not graded:
        return data
    totals = np.array([r.score for r in graded])
    full = max(r.max for r in graded)
    data["max"] = _round(full)
    data["scores"] = {"mean": _round(totals.mean()), "median": _round(np.median(totals)),
                      "std": _round(totals.std()), "min": _round(totals.min()), "max": _round(totals.max()),
                      "full_marks": int(np.sum(totals >= full - 1e-9))}
    edges = np.linspace(0.0, full, HISTOGRAM_BINS + 1) if full > 0 else np.zeros(HISTOGRAM_BINS + 1)
    counts = np.histogram(totals, bins=edges)[0] if full > 0 else np.zeros(HISTOGRAM_BINS, dtype=int)
    if full <= 0:
        counts[-1] = len(totals)
    data["histogram"] = [{"from": _round(edges[k]), "to": _round(edges[k + 1]), "count": int(counts[k])}
                         for k in range(HISTOGRAM_BINS)]
    by_id = {q.id: q for q in problem.questions}
    forms = AnswerForms()
    per_question = []
    for qid in [q.id for q in problem.questions]:
        rows = [next((q for q in r.questions if q.id == qid), None) for r in graded]
        present = [q for q in rows if q is not None]
        if not present:
            continue
        scores = np.array([q.score if q is not None else 0.0 for q in rows])
        points = max(q.max for q in present)
        statuses = [q.status for q in present]
        item: dict[str, Any] = {"id": qid, "kind": by_id[qid].kind, "max": _round(points),
                                "mean": _round(scores.mean()),
                                "mean_share": _round(scores.mean() / points) if points > 0 else None}
        for status in ("correct", "partial", "incorrect", "missing", "invalid", "manual"):
            item[status] = _round(statuses.count(status) / len(graded))
        item["discrimination"] = _discrimination(scores, totals)
        if by_id[qid].kind != "manual":
            item["common_wrong"] = _common_wrong(present)
            groups = answer_groups(by_id[qid], present, forms)
            item["groups"] = groups[:MAX_GROUPS]
            if len(groups) > MAX_GROUPS:
                item["groups_left_off"] = len(groups) - MAX_GROUPS
            item["rules"] = _rules(present)
        per_question.append(item)
    data["questions"] = per_question
    return data


def _discrimination(scores: np.ndarray, totals: np.ndarray) -> float | None:
    """Correlation of the question's score with the rest of the total (None when either is constant)."""
    rest = totals - scores
    if len(scores) < 3 or scores.std() == 0 or rest.std() == 0:
        return None
    return _round(float(np.corrcoef(scores, rest)[0, 1]))


def answer_groups(question: Any, rows: list[Any], forms: AnswerForms | None = None) -> list[dict[str, Any]]:
    """The question's answers grouped by their one form (:func:`.grading.answer_form`), most common first:
    each with the answer (as read), how many gave it, their mean score and the slip that names it (the
    most common, when students of different variants gave it)."""
    forms = forms or AnswerForms()
    groups: dict[str, dict[str, Any]] = {}
    for q in rows:
        if q.status in ("missing", "manual") or q.got is None:
            continue
        form = forms(question.kind, q.got)
        if form is None:
            form = "unreadable: " + (q.feedback.splitlines() or [""])[0][:80]
        entry = groups.get(form)
        if entry is None:
            entry = groups[form] = {"example": q, "count": 0, "score": 0.0, "rules": {}}
        entry["count"] += 1
        entry["score"] += q.score
        if q.diagnosis is not None:
            entry["rules"][q.diagnosis.rule] = entry["rules"].get(q.diagnosis.rule, 0) + 1
    ranked = sorted(groups.items(), key=lambda item: (-item[1]["count"], item[0]))
    out = []
    for _, entry in ranked:
        example = entry["example"]
        read = read_answer(question, example.got)
        answer = json_value(plain_answer(read) if read is not None else example.got)
        if isinstance(answer, (list, dict)) and len(str(answer)) > 120:
            answer = clean_text(str(answer), 120)
        rule = max(entry["rules"], key=lambda r: (entry["rules"][r], r)) if entry["rules"] else None
        item: dict[str, Any] = {"answer": answer, "count": entry["count"],
                                "score": _round(entry["score"] / entry["count"]), "rule": rule,
                                "status": example.status}
        if rule is not None:
            message = example.diagnosis.message if example.diagnosis is not None else None
            item["message"] = clean_text(message, 300) if message and example.diagnosis.rule == rule else None
        out.append(item)
    return out


def _rules(rows: list[Any]) -> list[dict[str, Any]]:
    """How many answers each slip named (most first), with one of its messages."""
    found: dict[str, dict[str, Any]] = {}
    for q in rows:
        if q.diagnosis is not None:
            entry = found.setdefault(q.diagnosis.rule, {"rule": q.diagnosis.rule, "count": 0,
                                                        "message": clean_text(q.diagnosis.message, 300)})
            entry["count"] += 1
    return sorted(found.values(), key=lambda item: (-item["count"], item["rule"]))


def _common_wrong(rows: list[Any]) -> list[dict[str, Any]]:
    wrong = [q for q in rows if q.status in WRONG_STATUSES]
    if not wrong:
        return []
    keys = {canonical(q.expected) for q in rows}
    one_key = len(keys) == 1
    groups: dict[str, dict[str, Any]] = {}
    for q in wrong:
        named = q.diagnosis.message if getattr(q, "diagnosis", None) is not None else diagnosis(q.feedback)
        if one_key:
            value = canonical(q.got)
            group = value if value is not None else "invalid: " + (q.feedback.splitlines() or [""])[0][:80]
        elif q.diagnosis is not None:  # one slip is one group, whatever its numbers in each variant
            group = "rule " + q.diagnosis.rule
        else:  # every wrong answer no rule names, partial or not: one group
            group = "~ no diagnosis"
        entry = groups.get(group)
        if entry is None:
            entry = groups[group] = {"count": 0, "diagnosis": named, "example": q}
        entry["count"] += 1
    ranked = sorted(groups.items(), key=lambda item: (-item[1]["count"], item[0]))[:COMMON_WRONG]
    out = []
    for group, entry in ranked:
        example = entry["example"]
        item: dict[str, Any] = {"count": entry["count"], "share": _round(entry["count"] / len(rows))}
        if one_key:
            item["answer"] = json_value(example.got) if example.got is not None else None
            if isinstance(item["answer"], (list, dict)) and len(str(item["answer"])) > 120:
                item["answer"] = clean_text(str(item["answer"]), 120)
            item["feedback"] = clean_text((example.feedback.splitlines() or [""])[0], 300)
        named = entry["diagnosis"]
        item["diagnosis"] = named if one_key else (named and _NUMBER.sub("#", named))
        rule = getattr(example, "diagnosis", None)
        item["rule"] = rule.rule if rule is not None else None
        if not one_key and entry["diagnosis"]:
            item["example"] = clean_text(entry["diagnosis"], 300)
        out.append(item)
    return out


def _round(value: Any) -> float:
    return round(float(value), 4)


def stats_text(data: dict[str, Any]) -> str:
    """The class view as text: a histogram of totals, then one block per question."""
    head = (f"Class statistics for {data['problem']} (version {data['version']}): {data['graded']} graded, "
            f"{data['invalid']} invalid")
    lines = [head]
    if not data.get("graded"):
        return "\n".join(lines) + "\n"
    s, full = data["scores"], data["max"]
    lines.append(f"score: mean {num(s['mean'])} / {num(full)}, median {num(s['median'])}, sd {num(s['std'])}, "
                 f"min {num(s['min'])}, max {num(s['max'])}, full marks {s['full_marks']}")
    lines.append("")
    lines.append("histogram of total scores:")
    peak = max(1, max(b["count"] for b in data["histogram"]))
    for k, b in enumerate(data["histogram"]):
        bracket = "]" if k == len(data["histogram"]) - 1 else ")"
        bar = "█" * round(40 * b["count"] / peak)
        lines.append(f"  [{num(b['from']):>6}, {num(b['to']):>6}{bracket} {b['count']:>6} {bar}".rstrip())
    lines.append("")
    lines.append(f"{'question':18} {'mean':>8} {'max':>6} {'correct':>8} {'partial':>8} {'wrong':>7} "
                 f"{'missing':>8} {'discr.':>7}")
    for q in data["questions"]:
        wrong = q["incorrect"] + q["invalid"]
        discrimination = "—" if q["discrimination"] is None else f"{q['discrimination']:.2f}"
        lines.append(f"{clean_text(q['id'], 18):18} {num(round(q['mean'], 4)):>8} {num(q['max']):>6} "
                     f"{q['correct']:>8.0%} {q['partial']:>8.0%} {wrong:>7.0%} {q['missing']:>8.0%} "
                     f"{discrimination:>7}")
        wrong = q.get("common_wrong", [])
        if wrong and "answer" not in wrong[0]:  # per-student variants: the slips, not the values
            for item in wrong:
                label = (f"{item['rule']}: {item.get('example') or ''}" if item.get("rule") else
                         item.get("example") or "no diagnosis")
                lines.append(f"    {item['count']:>5} × {clean_text(label, 160)}")
            continue
        groups = q.get("groups", [])
        for group in groups[:SHOWN_GROUPS]:
            shown = clean_text(str(group["answer"]), 60)
            if group.get("rule"):
                note = f" — {clean_text(group.get('message') or '', 120)} [{group['rule']}]".replace(" —  [", " — [")
            else:
                note = " (correct)" if group["status"] == "correct" else ""
            lines.append(f"    {group['count']:>5} × {shown}{note} · {num(group['score'])}/{num(q['max'])}")
        left = len(groups) - SHOWN_GROUPS + q.get("groups_left_off", 0)
        if left > 0:
            lines.append(f"          … and {left:,} more answer group(s) (--format json lists {MAX_GROUPS})")
    return "\n".join(lines) + "\n"
