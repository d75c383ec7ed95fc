"""Back from the LMS: a quiz's response export graded with cnncalc's whole marking (`cnncalc grade --from`).

Two exports are read, told apart by their header:

- **Moodle**, the quiz's Responses report downloaded as CSV (``mod/quiz/report/responses``): a row per
  attempt, the user's identity columns (``ID number``, ``Email address`` or ``Username``, as the site shows
  them), then per question slot ``Question N`` (the question text as plain text, with "Question text" ticked
  in the report's options), ``Response N`` and, if shown, ``Right answer N``. A Cloze response reads
  ``part 1: 4; part 2: ; part 3: 9`` (qtype_multianswer's summary: one part per subquestion, in order).
- **Canvas** (classic quizzes), the Student Analysis report (``Quizzes::QuizStatistics::StudentAnalysis``):
  ``name``, ``id``, ``sis_id`` (where the account shows SIS ids), ``section``, ``section_id``,
  ``section_sis_id``, ``submitted`` and, with every attempt, ``attempt``; then per question
  ``QUESTION_ID: question text`` (tags stripped) followed by a points column (headed by the question's
  points), and ``n correct``, ``n incorrect``, ``score``. A question group's variants are each a column
  pair: an attempt fills the pair of the variant it drew. A fill-in-multiple-blanks answer lists the blanks
  in order, joined by ``,`` (a comma inside an answer as ``\\,``); a numerical answer is the number.

A report may hold several attempts of one student (Moodle: a row per attempt, numbered by an ``Attempt``
column where the report has one, else ordered by ``Started on``; Canvas: the ``attempt`` column). Attempts
that are not finished (Moodle's ``State`` "In progress", "Overdue", "Never submitted"; Canvas: no
``submitted`` time) are left out with a warning naming the student; of the finished ones, one is graded per
student (:func:`choose_attempts`: the last, as the LMSs grade by default, the first or the best), and its
result names it. The same attempt twice in one report is refused.

Each attempt is matched to its variant by the tag ``[cnncalc FINGERPRINT LABEL]`` in the question text,
rebuilt (``variant-SEED-N`` from its seed, ``lms-N`` from the course secret) and its answers graded as an
answer file with them would be (:func:`..grading.grade_answers`).
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import CnnCalcError
from .common import TAG, answers_from_blanks, quiz_variant

MAX_RESPONSES_BYTES = 64 * 1024 * 1024
MOODLE_ID_COLUMNS = ("ID number", "Email address", "Username")
CANVAS_ID_COLUMNS = ("sis_id", "id")  # the SIS id where the report has it, else Canvas's user id
CANVAS_TRAILER = ("n correct", "n incorrect", "score")
_PART = re.compile(r"(?:^|;\s*)part (\d+): ")
_CANVAS_QUESTION = re.compile(r"\d+: ")
_CANVAS_COMMA = re.compile(r"(?<!\\),")


@dataclass(frozen=True)
class Attempt:
    """One answered cnncalc question of one attempt: who, where in the file, which variant, and the answer
    cell as the LMS wrote it (``kind``: ``moodle`` or ``canvas``)."""

    student: str
    row: int
    fingerprint: str
    label: str
    kind: str
    response: str
    number: int | None = None  # the attempt's number, where the report numbers attempts
    started: Any = None  # Moodle's "Started on", read as a time (orders attempts when there is no number)
    state: str = ""  # why the attempt is not finished ("In progress", "not submitted"); "" when it is


def _table(path: str) -> list[list[str]]:
    from ...spec.safeload import read_limited

    raw = read_limited(path, MAX_RESPONSES_BYTES, "responses file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CnnCalcError("the responses file is not UTF-8 text", file=path) from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise CnnCalcError(f"the responses file is not CSV: {error}", file=path) from None
    if len(rows) < 2:
        raise CnnCalcError("the responses file has no attempts", file=path)
    return rows


def read_responses(path: str) -> list[Attempt]:
    """Every attempt of every cnncalc question in a Moodle Responses report or a Canvas Student Analysis."""
    rows = _table(path)
    header = [column.strip() for column in rows[0]]
    if "submitted" in header and all(column in header for column in CANVAS_TRAILER):
        found = _canvas(header, rows[1:], path)
    elif any(re.fullmatch(r"Response \d+", column) for column in header):
        found = _moodle(header, rows[1:], path)
    else:
        raise CnnCalcError("not a Moodle Responses report nor a Canvas Student Analysis report", file=path,
                           got=header[:8], expected="Moodle: an identity column and 'Response N'; Canvas: "
                           "name, id, …, submitted, QUESTION_ID: text, …, n correct, n incorrect, score")
    if not found:
        raise CnnCalcError("no response in the file answers a question cnncalc exported (no [cnncalc …] tag in "
                           "a question's text; Moodle: download the Responses report with 'Question text' shown)",
                           file=path)
    return found


def _cell(row: list[str], index: int) -> str:
    return row[index] if 0 <= index < len(row) else ""


#: Moodle's states of an attempt that has not been submitted (mod/quiz: quiz_attempt::state_name)
UNFINISHED_STATES = ("in progress", "overdue", "never submitted", "abandoned")
ATTEMPT_CHOICES = ("last", "best", "first")
_STARTED_FORMATS = ("%d %B %Y %I:%M %p", "%d %B %Y, %I:%M %p", "%A, %d %B %Y, %I:%M %p", "%Y-%m-%d %H:%M:%S",
                    "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")


def _column(header: list[str], *names: str) -> int | None:
    lowered = [column.lower() for column in header]
    return next((lowered.index(name.lower()) for name in names if name.lower() in lowered), None)


def _number(text: str, path: str, row: int) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{1,6}", text):
        raise CnnCalcError(f"row {row}: the attempt number is not a whole number", file=path, got=text[:40])
    return int(text)


def _started(text: str) -> Any:
    from datetime import datetime

    text = " ".join(text.split())
    for form in _STARTED_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    return None


def _moodle(header: list[str], rows: list[list[str]], path: str) -> list[Attempt]:
    id_column = next((header.index(c) for c in MOODLE_ID_COLUMNS if c in header), None)
    if id_column is None:
        raise CnnCalcError("a Moodle Responses report needs an identity column", file=path, got=header[:8],
                           expected=" or ".join(MOODLE_ID_COLUMNS))
    slots = {int(c.split()[1]): i for i, c in enumerate(header) if re.fullmatch(r"Response \d+", c)}
    questions = {int(c.split()[1]): i for i, c in enumerate(header) if re.fullmatch(r"Question \d+", c)}
    attempt, state, started = _column(header, "Attempt"), _column(header, "State"), _column(header, "Started on")
    found = []
    for number, row in enumerate(rows, 2):
        student = _cell(row, id_column).strip()
        tagged = [(slot, TAG.search(html.unescape(_cell(row, questions.get(slot, -1))))) for slot in sorted(slots)]
        if not student or not any(match for _, match in tagged):
            continue
        shown = _cell(row, state).strip() if state is not None else ""
        ordinal = _number(_cell(row, attempt), path, number) if attempt is not None else None
        when = _started(_cell(row, started)) if started is not None else None
        unfinished = shown if shown.lower() in UNFINISHED_STATES else ""
        for slot, match in tagged:
            if match:
                found.append(Attempt(student, number, match.group(1), match.group(2), "moodle",
                                     _cell(row, slots[slot]), ordinal, when, unfinished))
    return found


def _canvas(header: list[str], rows: list[list[str]], path: str = "") -> list[Attempt]:
    id_column = next(header.index(c) for c in CANVAS_ID_COLUMNS if c in header) if any(
        c in header for c in CANVAS_ID_COLUMNS) else None
    tagged = []
    for index, column in enumerate(header):
        if _CANVAS_QUESTION.match(column):
            match = TAG.search(html.unescape(column))  # Canvas strips the tags, not every entity
            if match:
                tagged.append((index, match.group(1), match.group(2)))
    attempt, submitted = _column(header, "attempt"), _column(header, "submitted")
    found = []
    for number, row in enumerate(rows, 2):
        student = _cell(row, id_column).strip() if id_column is not None else ""
        for index, fingerprint, label in tagged:
            answer, points = _cell(row, index), _cell(row, index + 1)
            if student and (answer.strip() or points.strip()):  # the variant this attempt drew
                unfinished = submitted is not None and not _cell(row, submitted).strip()
                found.append(Attempt(student, number, fingerprint, label, "canvas", answer,
                                     _number(_cell(row, attempt), path, number) if attempt is not None else None,
                                     state="not submitted" if unfinished else ""))
    return found


def moodle_parts(response: str) -> dict[int, str]:
    """``part 1: 4; part 2: ; part 3: 9`` → {1: "4", 2: "", 3: "9"}."""
    marks = list(_PART.finditer(response))
    return {int(m.group(1)): response[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(response)].strip()
            for i, m in enumerate(marks)}


def canvas_parts(response: str, blanks: int) -> dict[int, str]:
    """A Canvas answer as {blank number: text}: one blank is the whole cell; several are split at the commas
    Canvas does not escape. Canvas leaves out a blank it has no answer for at all, so another count cannot
    be put back in place and is refused."""
    if blanks == 1:
        return {1: response.strip()}
    texts = [part.replace("\\,", ",").strip() for part in _CANVAS_COMMA.split(response)]
    if not response.strip():
        texts = [""] * blanks
    if len(texts) != blanks:
        raise CnnCalcError(f"the answer has {len(texts)} blank(s) for the variant's {blanks}: Canvas left some "
                           "blank out and the others cannot be placed", got=response[:80])
    return dict(enumerate(texts, 1))


def grade_responses(raw: dict[str, Any], source: str, path: str, secret: bytes | None, attempts: str = "last"
                    ) -> tuple[list[Any], list[str]]:
    """Every finished attempt graded against its own variant with cnncalc's marking (slips, credit,
    follow-through), then one per student kept (:func:`choose_attempts`); an attempt that cannot be graded
    is an invalid result naming its row. Returns the results and the report's warnings."""
    from ..grading import grade_answers, invalid_result, normalise_id
    from ..problem import build_problem
    from .export import rebuild

    if attempts not in ATTEMPT_CHOICES:
        raise CnnCalcError("unknown --attempts choice", got=attempts, expected=", ".join(ATTEMPT_CHOICES))
    base = build_problem(raw, source)
    results = []
    graded: list[Attempt] = []
    warnings: list[str] = []
    variants: dict[str, Any] = {}
    found = read_responses(path)
    _refuse_duplicates(found, path)
    for attempt in found:
        where = f"{Path(path).name}:{attempt.row}"
        if attempt.state:
            warnings.append(f"{normalise_id(attempt.student)}: {_named(attempt)} ({where}) is {attempt.state.lower()}: "
                            "not graded (only finished attempts are)")
            continue
        student = attempt.student
        try:
            student = normalise_id(student)
            if attempt.label not in variants:
                variants[attempt.label] = (rebuild(raw, source, attempt.label, secret), None)
            variant, quiz = variants[attempt.label]
            if variant.fingerprint != attempt.fingerprint:
                raise CnnCalcError(f"the tag names variant {attempt.label} with fingerprint {attempt.fingerprint}, "
                                   f"but this problem file (and secret) make it {variant.fingerprint}: grade with "
                                   "the problem file and secret the quiz was exported from")
            if quiz is None:
                quiz = quiz_variant(variant)
                variants[attempt.label] = (variant, quiz)
            given = (moodle_parts(attempt.response) if attempt.kind == "moodle"
                     else canvas_parts(attempt.response, len(quiz.blanks)))
            texts = {blank.label: given.get(i, "") for i, blank in enumerate(quiz.blanks, 1)}
            result = grade_answers(variant.problem, variant.key, student, answers_from_blanks(variant.problem, texts),
                                   where)
            result.variant = variant.fingerprint
        except CnnCalcError as error:
            if "secret" in str(error) and "give --secret-file" in str(error):
                raise
            result = invalid_result(base, None, where, str(error))
            result.student = student
        results.append(result)
        graded.append(attempt)
    kept, chosen = choose_attempts(graded, results, attempts)
    return kept, warnings + chosen


def _named(attempt: Attempt) -> str:
    return f"attempt {attempt.number}" if attempt.number is not None else f"the attempt of row {attempt.row}"


def _refuse_duplicates(found: list[Attempt], path: str) -> None:
    """The same attempt of one student on two rows (a report joined twice, an export edited by hand): which
    one is the grade cannot be told, so nothing is graded."""
    from ..grading import normalise_id

    rows: dict[tuple[str, Any], set[int]] = {}
    for attempt in found:
        order = attempt.number if attempt.number is not None else attempt.started
        if order is not None:
            rows.setdefault((normalise_id(attempt.student), order), set()).add(attempt.row)
    for (student, order), where in rows.items():
        if len(where) > 1:
            what = f"attempt {order}" if isinstance(order, int) else f"the attempt started on {order:%Y-%m-%d %H:%M}"
            raise CnnCalcError(f"{what} of student {student!r} is in the report twice (rows "
                               f"{', '.join(map(str, sorted(where)))}): nothing was graded", file=path,
                               hint="download the report again, or remove the repeated row")


def choose_attempts(attempts: list[Attempt], results: list[Any], how: str) -> tuple[list[Any], list[str]]:
    """One attempt per student: ``last`` (the finished attempt with the highest number, or started last),
    ``first``, or ``best`` (the highest cnncalc score; a tie goes to the earlier attempt). The kept result
    names its attempt in its warnings, and the report says which was graded. A student whose attempts
    cannot be ordered, or whose best cannot be told (an attempt that could not be graded), keeps every
    attempt as invalid, named: never a grade from an attempt the rule did not choose."""
    from ..grading import normalise_id

    by_student: dict[str, list[int]] = {}
    for position, (attempt, result) in enumerate(zip(attempts, results)):
        by_student.setdefault(normalise_id(attempt.student), []).append(position)
    dropped: set[int] = set()
    warnings: list[str] = []
    for student, positions in by_student.items():
        rows = sorted({attempts[p].row for p in positions})
        if len(rows) == 1:
            if len(positions) > 1:  # several cnncalc questions of this problem in one attempt
                _invalid([results[p] for p in positions], f"{len(positions)} questions of this problem in one "
                         f"attempt of student {student!r} ({', '.join(results[p].file for p in positions)})")
            continue
        first_of_row = {attempts[p].row: p for p in reversed(positions)}
        keys = {row: _order(attempts[first_of_row[row]]) for row in rows}
        if any(key is None for key in keys.values()):
            _invalid([results[p] for p in positions],
                     f"{len(rows)} attempts of student {student!r} ({', '.join(results[first_of_row[r]].file for r in rows)}) "
                     "and no attempt number or start time to order them by: download the report with the Attempt "
                     "(or Started on) column")
            continue
        ordered = sorted(rows, key=lambda row: keys[row])  # type: ignore[arg-type,return-value]
        count = len(ordered)
        if how == "best":
            failed = [row for row in ordered if any(results[p].error for p in positions if attempts[p].row == row)]
            if failed:
                _invalid([results[p] for p in positions],
                         f"the best of the {count} attempts of student {student!r} cannot be told: "
                         + ", ".join(_named(attempts[first_of_row[row]]) for row in failed) + " could not be graded")
                continue
            scores = {row: sum(results[p].score for p in positions if attempts[p].row == row) for row in ordered}
            best = max(scores.values())
            chosen = next(row for row in ordered if scores[row] == best)  # the earliest of a tie
            tied = [row for row in ordered if row != chosen and scores[row] == best]
            rule = "the best"
            tie = (f"; tied with {', '.join(_named(attempts[first_of_row[r]]) for r in tied)}: the earlier kept"
                   if tied else "")
        else:
            chosen = ordered[-1] if how == "last" else ordered[0]
            rule, tie = f"the {how} finished", ""
        others = [_named(attempts[first_of_row[row]]) for row in ordered if row != chosen]
        note = (f"graded {_named(attempts[first_of_row[chosen]])} ({rule} of {count}, --attempts {how}{tie}); "
                f"not {', '.join(others)}")
        warnings.append(f"{student}: {note}")
        for p in positions:
            if attempts[p].row == chosen:
                results[p].warnings.append(note)
            else:
                dropped.add(p)
        kept_here = [p for p in positions if p not in dropped]
        if len(kept_here) > 1:
            _invalid([results[p] for p in kept_here], f"{len(kept_here)} questions of this problem in one "
                     f"attempt of student {student!r}")
    return [result for position, result in enumerate(results) if position not in dropped], warnings


def _order(attempt: Attempt) -> Any:
    if attempt.number is not None:
        return (0, attempt.number)
    return None if attempt.started is None else (1, attempt.started)


def _invalid(results: list[Any], reason: str) -> None:
    for result in results:
        if result.error is None:
            result.error = reason
        result.warnings.append(reason)
