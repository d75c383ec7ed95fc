"""What grading produces: the JSON document, the terminal report, the gradebook CSV (atomic) and one
Markdown feedback file per student.

Everything a student wrote (ids, file names, answers, unknown question ids) is escaped for the format
it lands in: control characters made visible in the text report, Markdown and HTML specials escaped in
feedback, spreadsheet formulas defused in the CSV.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CnnCalcError
from ..outputs import write_output
from .grading import MAX_ECHO_CHARS, QuestionResult, StudentResult, clean_text, distinct_file_stems, json_value
from .key import num
from .problem import Problem, Question


def results_document(results: list[StudentResult], warnings: list[str]) -> dict[str, Any]:
    """The `--format json` document; every value is a plain JSON type (dump with allow_nan=False)."""
    invalid = [r for r in results if r.error is not None]
    data: dict[str, Any] = {"results": [r.as_dict() for r in results],
                            "summary": {"files": len(results), "graded": len(results) - len(invalid),
                                        "invalid": len(invalid)}}
    if warnings:
        data["warnings"] = [json_value(w) for w in warnings]
    return data


def text_report(problem: Problem, results: list[StudentResult], warnings: list[str]) -> str:
    invalid = sum(r.error is not None for r in results)
    head = f"{problem.title} ({problem.id}, version {problem.version}): {len(results)} answer file(s)"
    if invalid:
        head += f", {invalid} invalid"
    lines = [clean_text(head, 1000)]
    for result in results:
        lines.append("")
        state = "  INVALID" if result.error is not None else ""
        lines.append(f"{clean_text(result.student)}: {_points(result.score)} / {_points(result.max)}  "
                     f"({clean_text(result.file, 1000)}){state}")
        if result.error is not None:
            lines.append(f"  invalid: {clean_text(result.error, 1000)}")
            continue
        questions = {q.id: q for q in problem.questions}
        for q in result.questions:
            mark = {"correct": "✓", "partial": "~", "incorrect": "✗", "missing": "·", "invalid": "!",
                    "manual": "?"}[q.status]
            shown = _compact_feedback(q, questions.get(q.id))
            lines.append(f"  {mark} {clean_text(q.id, 80):18} {_points(q.score):>6} / {_points(q.max):<6} "
                         f"{q.status:9} {clean_text(shown[0])}")
            lines += [f"{'':40}{clean_text(line)}" for line in shown[1:]]
        for warning in result.warnings:
            lines.append(f"  warning: {clean_text(warning, 1000)}")
    for warning in warnings:
        lines.append(f"warning: {clean_text(warning, 1000)}")
    return "\n".join(lines) + "\n"


def _points(value: float) -> str:
    return f"{round(value, 4):g}"


WRAP = 100  # characters per line of a compact cell list


def _compact_feedback(q: QuestionResult, question: Question | None) -> list[str]:
    """The feedback as the report's lines: for a matrix with wrong cells, every wrong cell as
    ``(row,col) expected→got`` (1-based), wrapped; otherwise the feedback's own lines."""
    lines = q.feedback.splitlines() if q.feedback else [""]
    cells = _wrong_cells(q, question)
    if cells is None:
        return lines[:1] + [line for line in lines[1:] if line.strip()]
    wrong, total = cells
    head = f"{total - len(wrong)} of {total} cells correct; wrong (row,col expected→got):"
    if lines[0].endswith("; wrong:"):  # the feedback's own head keeps what it names (a slip, a follow-through)
        head = lines[0][:-len("; wrong:")] + "; wrong (row,col expected→got):"
    out = [head]
    for item in wrong:
        if len(out[-1]) + len(item) + 1 > WRAP:
            out.append(item)
        else:
            out[-1] += " " + item
    return out


def _wrong_cells(q: QuestionResult, question: Question | None) -> tuple[list[str], int] | None:
    """Each wrong cell of a same-shape matrix answer, or None when the answer is not such a matrix."""
    from .grading import close

    if question is None or question.kind != "matrix" or q.status not in ("partial", "incorrect") or q.expected is None:
        return None
    want = np.atleast_2d(np.asarray(q.expected, dtype=float)) if isinstance(q.expected, (list, np.ndarray)) else None
    got = q.got
    if want is None or want.ndim != 2 or not isinstance(got, list) or not got:
        return None
    rows = got if isinstance(got[0], list) else [got]
    try:
        matrix = np.array([[float(v) for v in row] for row in rows], dtype=float)
    except (TypeError, ValueError, OverflowError):
        return None
    if matrix.shape != want.shape or not np.isfinite(matrix).all():
        return None
    wrong = [f"({i + 1},{j + 1}) {num(want[i, j])}→{num(matrix[i, j])}"
             for i in range(want.shape[0]) for j in range(want.shape[1])
             if not close(float(matrix[i, j]), float(want[i, j]), question)]
    return wrong, int(want.size)


def quiet_report(results: list[StudentResult], warnings: list[str]) -> str:
    """One line per student: id, score, counts by status, and flags (invalid, copy, fingerprint)."""
    lines = []
    for result in results:
        if result.error is not None:
            lines.append(f"{clean_text(result.student)}: INVALID  {clean_text(result.error, 200)}")
            continue
        counts: dict[str, int] = {}
        for q in result.questions:
            counts[q.status] = counts.get(q.status, 0) + 1
        shown = " ".join(f"{status} {counts[status]}" for status in
                         ("correct", "partial", "incorrect", "missing", "invalid", "manual") if counts.get(status))
        flags = []
        if any(w.startswith("possible copy") for w in result.warnings):
            flags.append("COPY?")
        if any("fingerprint" in w and not w.startswith("possible copy") for w in result.warnings):
            flags.append("FINGERPRINT")
        if any(w.startswith("duplicate student id") for w in result.warnings):
            flags.append("DUPLICATE")
        lines.append(f"{clean_text(result.student)}: {_points(result.score)} / {_points(result.max)}  {shown}"
                     + (f"  [{' '.join(flags)}]" if flags else ""))
    graded = [r for r in results if r.error is None]
    copies = sum(w.startswith("possible copy") for w in warnings)
    tail = f"# {len(results)} file(s), {len(results) - len(graded)} invalid"
    if graded:
        tail += f", mean {_points(sum(r.score for r in graded) / len(graded))} / {_points(max(r.max for r in graded))}"
    if copies:
        tail += f", {copies} possible cop{'y' if copies == 1 else 'ies'} (details in the full report)"
    return "\n".join(lines + [tail]) + "\n"


# Spreadsheets evaluate a cell that begins with one of these (OWASP "CSV injection"); full-width forms
# too, since some spreadsheets fold them; and after leading whitespace, which some of them skip. (OWASP's
# tab and carriage return never start a cell here: clean_text writes control characters as visible text.)
_FORMULA_START = ("=", "+", "-", "@", "＝", "＋", "－", "＠")


def _cell(text: str) -> str:
    """A CSV cell that a spreadsheet shows as text: formula starts prefixed with an apostrophe, control
    characters made visible."""
    text = clean_text(text, 1000)
    if text.startswith(_FORMULA_START) or text.lstrip().startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_line(cells: list[str]) -> str:
    """One CSV row, each cell defused against spreadsheet formulas."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_cell(str(cell)) for cell in cells])
    return buffer.getvalue()


def gradebook_csv(problem: Problem, results: list[StudentResult]) -> str:
    """One row per graded file; files that could not be read are left out (the report lists them), so a
    broken file never enters the gradebook as a zero under a name taken from its file name."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    qids = [q.id for q in problem.questions]
    writer.writerow([_cell(cell) for cell in ["student", *qids, "total", "max", "file", "notes"]])
    for result in results:
        if result.error is not None:
            continue
        scores = {q.id: q for q in result.questions}
        row = [result.student] + [_points(scores[qid].score) if qid in scores else "" for qid in qids]
        row += [_points(result.score), _points(result.max), result.file, "; ".join(result.warnings)]
        writer.writerow([_cell(str(cell)) for cell in row])
    return buffer.getvalue()


# Learning-management systems' documented import layouts. Canvas (Grades → Import): the columns of its
# own export, "Student", "ID", "SIS User ID", "SIS Login ID", "Section", then one column per assignment
# named "Name (id)" to match an existing assignment (a name without "(id)" creates a new assignment); the
# row after the header, "Points Possible", gives each assignment's maximum. Canvas finds each student by
# ID, SIS User ID or SIS Login ID. Moodle (Grades → Import → CSV file): any header; at import the
# instructor maps one column to the user ("Map from"/"Map to": ID number, email address, username or user
# id) and a grade column to a grade item.
LMS_ID_COLUMNS = {
    "canvas": {"sis-user-id": "SIS User ID", "sis-login-id": "SIS Login ID", "id": "ID"},
    "moodle": {"id-number": "ID number", "email": "Email address", "username": "Username", "user-id": "User ID"},
}
LMS_DEFAULT_ID = {"canvas": "sis-user-id", "moodle": "id-number"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def lms_gradebook(problem: Problem, results: list[StudentResult], lms: str, id_column: str | None = None,
                  assignment: str | None = None) -> str:
    """The class's totals as ``lms`` (canvas, moodle) imports them; the student id goes to the column
    ``id_column`` names (see LMS_ID_COLUMNS). Files that could not be read are left out, as in
    :func:`gradebook_csv`."""
    columns = LMS_ID_COLUMNS[lms]
    id_column = id_column or LMS_DEFAULT_ID[lms]
    if id_column not in columns:
        raise CnnCalcError(f"--lms-id-column: {lms} has no such identifier column", got=id_column,
                           expected=", ".join(columns))
    if id_column == "email":  # the column holds the answer files' ids: they must be the emails Moodle matches
        not_emails = [r.student for r in results if r.error is None and not _EMAIL.fullmatch(r.student)]
        if not_emails:
            raise CnnCalcError("--lms-id-column email: the student ids are not email addresses, so Moodle would "
                               "match no one", got=clean_text(not_emails[0], 80),
                               expected="ids such as ada@example.org",
                               hint="use the column that holds these ids (id-number or username)")
    name = assignment if assignment is not None else problem.title
    name = clean_text(name, 200).strip()
    if not name:
        raise CnnCalcError("--assignment is empty", expected="the assignment's name, e.g. \"Worksheet 3 (1234)\"")
    graded = [r for r in results if r.error is None]
    full = max((r.max for r in graded), default=sum(q.points for q in problem.questions))
    header = columns[id_column]
    if lms == "canvas":
        lines = [csv_line([*CANVAS_COLUMNS, name]),
                 csv_line(["    Points Possible", "", "", "", "", _points(full)])]
        for result in graded:
            row = ["", "", "", "", "", _points(result.score)]
            row[CANVAS_COLUMNS.index(header)] = result.student
            lines.append(csv_line(row))
        return "".join(lines)
    lines = [csv_line([header, name])]
    lines += [csv_line([result.student, _points(result.score)]) for result in graded]
    return "".join(lines)


def write_atomic(path: str | Path, text: str, durable: bool = False, through_link: bool = False,
                 inputs: Iterable[str | Path | None] = ()) -> None:
    """Write by the rules of :func:`cnncalc.outputs.write_output`: whole or not at all (a temporary file in
    the same folder, then a rename), an existing file's permission bits kept, missing folders made, never
    over a device, a FIFO or one of ``inputs`` (the files the command read: a gradebook never replaces an
    answer file). With ``through_link`` a path that is a symbolic link is written through (the link's target
    is replaced, the link stays: a gradebook linked into a course folder); otherwise the link itself is
    replaced, so a link planted in a feedback folder leads nowhere. ``durable`` also flushes the data to
    disk before the rename.
    """
    write_output(path, text, inputs=inputs, durable=durable, follow_links=through_link, create_folders=True)


def check_output_folder(folder: str | Path, what: str) -> None:
    """A folder to write into must be a folder (or not exist yet): say so before any grading is done."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise CnnCalcError(f"{what} is not a folder", file=str(path), expected="a folder (created if missing)")
    _check_parents(path, what)


def check_output_file(file: str | Path, what: str) -> None:
    path = Path(file)
    if path.is_dir():
        raise CnnCalcError(f"{what} is a folder", file=str(path), expected="a file name, e.g. grades.csv")
    _check_parents(path, what)


def _check_parents(path: Path, what: str) -> None:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise CnnCalcError(f"{what} cannot be written: this is a file, not a folder", file=str(parent))


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|!~])")


def md(text: str, limit: int = 300) -> str:
    """Student text as literal Markdown: specials escaped, one line, cut."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", clean_text(text, limit))


def feedback_markdown(problem: Problem, result: StudentResult) -> str:
    score = f"Score: **{_points(result.score)} / {_points(result.max)}**"
    lines = [f"# {problem.title}", "", f"Student: {md(result.student)}  ", score, ""]
    if result.error:
        lines += [f"Your answer file could not be read: {md(result.error, 1000)}", ""]
    questions = {q.id: q for q in problem.questions}
    for q in result.questions:
        prompt = questions[q.id].prompt if q.id in questions else ""
        lines.append(f"## {md(q.id, 80)} — {q.status} ({_points(q.score)} / {_points(q.max)})")
        if prompt:
            lines += ["", f"> {prompt}"]
        lines += ["", f"- your answer: `{_show(q.got)}`", f"- expected: `{_show(q.expected)}`"]
        if q.feedback and q.feedback != "correct":
            lines += ["", *[f"{md(line, 1000)}  " for line in q.feedback.splitlines()]]
        if q.solution:
            lines += ["", "Worked solution:", "", "```", *q.solution, "```"]
        lines.append("")
    for warning in result.warnings:
        lines.append(f"Note: {md(warning, 1000)}")
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    """A value inside a Markdown code span: one line, no backticks, cut."""
    from .grading import _echo, _plain

    if value is None:
        return "—"
    plain = _plain(value)
    if isinstance(plain, float):
        return num(plain)
    shown = _echo(plain)
    # _echo has already cut a long answer, naming its full length: a second cut would name the preview's
    return clean_text(shown if isinstance(shown, str) else str(shown), 2 * MAX_ECHO_CHARS).replace("`", "'")


def write_feedback(problem: Problem, results: list[StudentResult], folder: str | Path) -> list[Path]:
    """One ``STEM.md`` per result, named by :func:`distinct_file_stems`: from the (normalised) student id,
    never shared, and never the name another id in the batch gives — graded students are named before
    files that could not be read (those are named after the file), so no file takes a student's name."""
    from .files import NOT_AN_ANSWER_FILE

    folder = Path(folder)
    check_output_folder(folder, "--feedback-dir")
    results = [r for r in results if r.error != NOT_AN_ANSWER_FILE]  # scan.pdf belongs to no student
    stems = distinct_file_stems([r.student for r in results], [r.error is None for r in results])
    written = []
    for result, stem in zip(results, stems):
        path = folder / f"{stem}.md"
        write_atomic(path, feedback_markdown(problem, result))
        written.append(path)
    return written
