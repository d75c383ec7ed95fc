"""What grading produces: the JSON document, the terminal report, the gradebook CSV (atomic) and one
Markdown feedback file per student."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import CnnCalcError
from .grading import StudentResult, safe_file_stem
from .key import num
from .problem import Problem


def results_document(results: list[StudentResult], warnings: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {"results": [r.as_dict() for r in results]}
    if warnings:
        data["warnings"] = warnings
    return data


def text_report(problem: Problem, results: list[StudentResult], warnings: list[str]) -> str:
    lines = [f"{problem.title} ({problem.id}, version {problem.version}): {len(results)} answer file(s)"]
    for result in results:
        lines.append("")
        lines.append(f"{result.student}: {_points(result.score)} / {_points(result.max)}  ({result.file})")
        for q in result.questions:
            mark = {"correct": "✓", "partial": "~", "incorrect": "✗", "missing": "·", "invalid": "!",
                    "manual": "?"}[q.status]
            first = q.feedback.splitlines()[0] if q.feedback else ""
            lines.append(f"  {mark} {q.id:18} {_points(q.score):>6} / {_points(q.max):<6} {q.status:9} {first}")
        for warning in result.warnings:
            lines.append(f"  warning: {warning}")
    for warning in warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"


def _points(value: float) -> str:
    return f"{round(value, 4):g}"


def _cell(text: str) -> str:
    """Spreadsheets evaluate cells that begin with = + - @ (and tab/CR): make them plain text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_line(cells: list[str]) -> str:
    """One CSV row, each cell defused against spreadsheet formulas."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_cell(str(cell)) for cell in cells])
    return buffer.getvalue()


def gradebook_csv(problem: Problem, results: list[StudentResult]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    qids = [q.id for q in problem.questions]
    writer.writerow(["student", *qids, "total", "max", "file", "notes"])
    for result in results:
        scores = {q.id: q for q in result.questions}
        row = [result.student] + [_points(scores[qid].score) if qid in scores else "" for qid in qids]
        row += [_points(result.score), _points(result.max), result.file, "; ".join(result.warnings)]
        writer.writerow([_cell(str(cell)) for cell in row])
    return buffer.getvalue()


def write_atomic(path: str | Path, text: str) -> None:
    """Write whole or not at all: a temporary file in the same folder, then a rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
    except OSError as error:
        raise CnnCalcError(f"cannot write: {error.strerror}", file=str(path)) from None


def feedback_markdown(problem: Problem, result: StudentResult) -> str:
    score = f"Score: **{_points(result.score)} / {_points(result.max)}**"
    lines = [f"# {problem.title}", "", f"Student: {result.student}  ", score, ""]
    if result.error:
        lines += [f"Your answer file could not be read: {result.error}", ""]
    questions = {q.id: q for q in problem.questions}
    for q in result.questions:
        prompt = questions[q.id].prompt if q.id in questions else ""
        lines.append(f"## {q.id} — {q.status} ({_points(q.score)} / {_points(q.max)})")
        if prompt:
            lines += ["", f"> {prompt}"]
        lines += ["", f"- your answer: `{_show(q.got)}`", f"- expected: `{_show(q.expected)}`"]
        if q.feedback and q.feedback != "correct":
            lines += ["", *[f"{line}  " for line in q.feedback.splitlines()]]
        if q.solution:
            lines += ["", "Worked solution:", "", "```", *q.solution, "```"]
        lines.append("")
    for warning in result.warnings:
        lines.append(f"Note: {warning}")
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    from .grading import _plain

    if value is None:
        return "—"
    plain = _plain(value)
    if isinstance(plain, float):
        return num(plain)
    return str(plain).replace("`", "'")[:500]


def write_feedback(problem: Problem, results: list[StudentResult], folder: str | Path) -> list[Path]:
    folder = Path(folder)
    used: set[str] = set()
    written = []
    for result in results:
        path = folder / f"{safe_file_stem(result.student, used)}.md"
        write_atomic(path, feedback_markdown(problem, result))
        written.append(path)
    return written
