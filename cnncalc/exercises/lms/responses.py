"""Back from the LMS: a Moodle quiz's Responses report (download as CSV) graded with cnncalc's whole marking.

The report has a row per attempt: the user's identity columns (``ID number``, ``Email address`` or
``Username``, as the site shows them), ``State``, …, then per question slot ``Question N`` (the question
text as plain text, which carries the variant's tag ``[cnncalc FINGERPRINT LABEL]``) and ``Response N``
(a Cloze response as ``part 1: 4; part 2: 4; …``, one part per blank in the order of the export). Each
attempt is matched to its variant by the tag, rebuilt (``variant-SEED-N`` from its seed, ``lms-N`` from the
course secret), and its answers graded as an answer file with them would be.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from ...errors import CnnCalcError
from .common import TAG, answers_from_blanks, quiz_variant

MAX_RESPONSES_BYTES = 64 * 1024 * 1024
ID_COLUMNS = ("ID number", "Email address", "Username")
_PART = re.compile(r"(?:^|;\s*)part (\d+): ")


def read_moodle(path: str) -> list[tuple[str, int, str, str, str]]:
    """(student, row, fingerprint, label, response) for every attempt of every cnncalc question."""
    from ...spec.safeload import read_limited

    raw = read_limited(path, MAX_RESPONSES_BYTES, "responses file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CnnCalcError("the responses file is not UTF-8 text", file=path) from None
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as error:
        raise CnnCalcError(f"the responses file is not CSV: {error}", file=path) from None
    if not rows:
        raise CnnCalcError("the responses file has no attempts", file=path)
    columns = rows[0].keys()
    id_column = next((c for c in ID_COLUMNS if c in columns), None)
    slots = sorted(int(c.split()[1]) for c in columns if c is not None and re.fullmatch(r"Response \d+", c))
    if id_column is None or not slots:
        raise CnnCalcError("not a Moodle Responses report: it needs an identity column and 'Response N' columns",
                           file=path, got=list(columns)[:8], expected=f"one of {', '.join(ID_COLUMNS)}; Response 1")
    found = []
    for number, row in enumerate(rows, 2):
        student = (row.get(id_column) or "").strip()
        for slot in slots:
            match = TAG.search(row.get(f"Question {slot}") or "")
            if student and match:
                found.append((student, number, match.group(1), match.group(2), row.get(f"Response {slot}") or ""))
    if not found:
        raise CnnCalcError("no response in the file answers a question cnncalc exported (no [cnncalc …] tag in a "
                           "'Question N' column: download the report with 'Question text' shown)", file=path)
    return found


def parts(response: str) -> dict[int, str]:
    """``part 1: 4; part 2: ; part 3: 9`` → {1: "4", 2: "", 3: "9"}."""
    marks = list(_PART.finditer(response))
    return {int(m.group(1)): response[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(response)].strip()
            for i, m in enumerate(marks)}


def grade_moodle(raw: dict[str, Any], source: str, path: str, secret: bytes | None) -> list[Any]:
    """Every attempt graded against its own variant with cnncalc's marking (slips, credit, follow-through)."""
    from ..grading import grade_answers, invalid_result, normalise_id
    from ..problem import build_problem
    from .export import rebuild

    base = build_problem(raw, source)
    results = []
    variants: dict[str, Any] = {}
    for student, row, fingerprint, label, response in read_moodle(path):
        where = f"{Path(path).name}:{row}"
        try:
            student = normalise_id(student)
            if label not in variants:
                variants[label] = (rebuild(raw, source, label, secret), None)
            variant, quiz = variants[label]
            if variant.fingerprint != fingerprint:
                raise CnnCalcError(f"the tag names variant {label} with fingerprint {fingerprint}, but under this "
                                   f"secret it is {variant.fingerprint}: check the secret")
            if quiz is None:
                quiz = quiz_variant(variant)
                variants[label] = (variant, quiz)
            given = parts(response)
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
