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
        found = _canvas(header, rows[1:])
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


def _moodle(header: list[str], rows: list[list[str]], path: str) -> list[Attempt]:
    id_column = next((header.index(c) for c in MOODLE_ID_COLUMNS if c in header), None)
    if id_column is None:
        raise CnnCalcError("a Moodle Responses report needs an identity column", file=path, got=header[:8],
                           expected=" or ".join(MOODLE_ID_COLUMNS))
    slots = {int(c.split()[1]): i for i, c in enumerate(header) if re.fullmatch(r"Response \d+", c)}
    questions = {int(c.split()[1]): i for i, c in enumerate(header) if re.fullmatch(r"Question \d+", c)}
    found = []
    for number, row in enumerate(rows, 2):
        student = _cell(row, id_column).strip()
        for slot in sorted(slots):
            match = TAG.search(html.unescape(_cell(row, questions.get(slot, -1))))
            if student and match:
                found.append(Attempt(student, number, match.group(1), match.group(2), "moodle",
                                     _cell(row, slots[slot])))
    return found


def _canvas(header: list[str], rows: list[list[str]]) -> list[Attempt]:
    id_column = next(header.index(c) for c in CANVAS_ID_COLUMNS if c in header) if any(
        c in header for c in CANVAS_ID_COLUMNS) else None
    tagged = []
    for index, column in enumerate(header):
        if _CANVAS_QUESTION.match(column):
            match = TAG.search(html.unescape(column))  # Canvas strips the tags, not every entity
            if match:
                tagged.append((index, match.group(1), match.group(2)))
    found = []
    for number, row in enumerate(rows, 2):
        student = _cell(row, id_column).strip() if id_column is not None else ""
        for index, fingerprint, label in tagged:
            answer, points = _cell(row, index), _cell(row, index + 1)
            if student and (answer.strip() or points.strip()):  # the variant this attempt drew
                found.append(Attempt(student, number, fingerprint, label, "canvas", answer))
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


def grade_responses(raw: dict[str, Any], source: str, path: str, secret: bytes | None) -> list[Any]:
    """Every attempt graded against its own variant with cnncalc's marking (slips, credit, follow-through);
    an attempt that cannot be graded is an invalid result naming its row."""
    from ..grading import grade_answers, invalid_result, normalise_id
    from ..problem import build_problem
    from .export import rebuild

    base = build_problem(raw, source)
    results = []
    variants: dict[str, Any] = {}
    for attempt in read_responses(path):
        where = f"{Path(path).name}:{attempt.row}"
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
    return results
