"""Grading answer files against a computed key: per-question scores, statuses and worked feedback.

Untrusted input: answer files are read with the safe loader under a size cap (regular files only); the
student id is taken as written; every value is checked for type before it is compared; every value
echoed in a report is cut and converted to plain JSON types; one bad file never stops a batch.
"""

from __future__ import annotations

import datetime
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from ..errors import CnnCalcError, did_you_mean
from ..spec import safeload
from .answers import (  # noqa: F401 - the expression caps are part of this module's interface
    MAX_EXPRESSION_BITS,
    MAX_EXPRESSION_DEGREE,
    WHOLE_KINDS,
    Invalid,
)
from .answers import compare_expression as _compare_expression
from .answers import integers as _integers
from .answers import integral as _integral  # noqa: F401 - kept for callers of the old name
from .answers import matrix as _matrix
from .answers import number as _number
from .answers import sizes as _sizes
from .answers import yes_or_no as _yes_or_no
from .key import AnswerKey, Expected, KeyBuilder, compute_key, num, ranges
from .problem import Problem, Question

if TYPE_CHECKING:
    from .slips import Candidate

MAX_ANSWER_BYTES = 256 * 1024
MAX_ANSWER_DEPTH = 8
MAX_ID_CHARS = 200
MAX_ECHO_CHARS = 300  # values echoed in reports and messages are cut to this many characters
MAX_UNKNOWN_IDS = 20  # unknown question ids listed per file; the rest are counted
DEFAULT_RTOL = 1e-6
MAX_REMEMBERED = 200_000  # marking's remembered recomputations and matches per key


@dataclass(frozen=True)
class Diagnosis:
    """The slip an answer is exactly what of (:mod:`.slips`): its rule id and one line with the numbers."""

    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


@dataclass
class QuestionResult:
    id: str
    score: float
    max: float
    status: str  # correct, partial, incorrect, missing, invalid, manual
    expected: Any
    got: Any
    feedback: str
    solution: list[str] = field(default_factory=list)
    diagnosis: Diagnosis | None = None  # the slip that gives exactly this answer
    follow_through: bool = False  # the answer follows from the student's own wrong earlier answers

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "score": round(self.score, 6), "max": round(self.max, 6), "status": self.status,
                "expected": json_value(_plain(self.expected)), "got": _echo(self.got), "feedback": self.feedback,
                "diagnosis": self.diagnosis.as_dict() if self.diagnosis is not None else None,
                "follow_through": self.follow_through}


@dataclass
class StudentResult:
    student: str
    file: str
    questions: list[QuestionResult]
    warnings: list[str] = field(default_factory=list)
    variant: str | None = None
    error: str | None = None  # the whole file could not be used
    written: str | None = None  # the id as the file wrote it, when normalise_id changed it

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def max(self) -> float:
        return sum(q.max for q in self.questions)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"student": json_value(self.student), "score": round(self.score, 6), "max": round(self.max, 6),
                "questions": [q.as_dict() for q in self.questions], "file": self.file}
        if self.warnings:
            data["warnings"] = self.warnings
        if self.variant is not None:
            data["variant"] = self.variant
        if self.error:
            data["error"] = self.error
        if self.written is not None:
            data["student_as_written"] = json_value(self.written)
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [[_plain_number(v) for v in row] for row in np.atleast_2d(value)]
    if isinstance(value, float):
        return _plain_number(value)
    return value


def _plain_number(value: Any) -> Any:
    value = float(value)
    return int(value) if value.is_integer() else value


# ---------------------------------------------------------------- echoing untrusted values

_SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL_CHARS = re.compile("[\ud800-\udfff\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """Student-provided text made safe to print on one line: control characters, line separators, ANSI
    escapes and bidi overrides become visible escapes (``\\n``, ``\\x1b``), and the text is cut."""
    text = CONTROL_CHARS.sub(_escape_char, text)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def short(value: Any, limit: int = 80) -> str:
    """A value as it appears inside a message: repr, one line, at most ``limit`` characters."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print, or a list holding one
        text = (f"an integer of {value.bit_length():,} bits" if isinstance(value, int)
                else f"a {kind_of(value)} holding an integer too long to print")
    return clean_text(text, limit)


def kind_of(value: Any) -> str:
    """What a student's value is, in a user's words."""
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    return type(value).__name__


def json_value(value: Any, depth: int = 0) -> Any:
    """Any value a safe loader can produce, as strict JSON types (no NaN, no dates, no bytes, no huge ints)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if _SURROGATE.search(value):  # a lone surrogate (from a "\\ud800" escape) cannot be printed
            value = _SURROGATE.sub("\ufffd", value)
        return value if len(value) <= MAX_ECHO_CHARS else clean_text(value)
    if isinstance(value, (int, np.integer)):
        value = int(value)
        return value if value.bit_length() <= 63 else short(value, MAX_ECHO_CHARS)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, np.ndarray):
        return json_value(_plain(value), depth)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return f"<binary data, {len(value):,} bytes>"
    if depth > 32:
        return "…"
    if isinstance(value, dict):
        return {(clean_text(k) if isinstance(k, str) else short(k, MAX_ECHO_CHARS)): json_value(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_value(v, depth + 1) for v in value), key=repr)
    return short(value, MAX_ECHO_CHARS)


def _echo(value: Any) -> Any:
    """An answer as the report shows it: JSON types, and a preview string when it is large."""
    plain = json_value(value)
    if isinstance(plain, (list, dict)):
        text = json.dumps(plain, ensure_ascii=False)
        if len(text) > MAX_ECHO_CHARS:
            return text[:MAX_ECHO_CHARS] + f"… ({len(text):,} characters)"
    return plain



def display_path(path: str | Path) -> str:
    """A file name as reports show it: undecodable bytes as escapes, control characters made visible."""
    text = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return clean_text(text, 1000)


# ---------------------------------------------------------------- student ids

#: removed from every id: a byte-order mark and the zero-width characters (ZWSP, ZWNJ, ZWJ, WORD JOINER,
#: SOFT HYPHEN) — editors, spreadsheets and web forms slip them in, and they cannot be seen
ID_STRIPPED = "\ufeff\u200b\u200c\u200d\u2060\u00ad"
_STRIP = dict.fromkeys(map(ord, ID_STRIPPED))
# invisible characters outside the control and format categories: the combining grapheme joiner, Hangul
# and Khmer fillers, Mongolian variation selectors, the blank Braille pattern (variation selectors below)
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})  # Zs: any space but U+0020


def _invisible(char: str) -> bool:
    code = ord(char)
    return char != " " and (unicodedata.category(char) in _REFUSED_CATEGORIES or char in _INVISIBLE
                            or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF)


def char_name(char: str) -> str:
    """``U+00A0 NO-BREAK SPACE``: a character as a message names it."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed')}"


def normalise_id(text: str) -> str:
    """The one spelling of a student id, used for roster ids, answer-file ids and override ids alike (and
    so for variant seeds, duplicates and feedback file names):

    1. a byte-order mark and the zero-width characters of ID_STRIPPED are removed;
    2. the text is put in Unicode NFC, so an accent typed as a separate mark is one character;
    3. white space around it is dropped;
    4. any other control, format or invisible character (a no-break space, a bidi control, a variation
       selector, a filler) is refused with a CnnCalcError naming it.

    Two ids that print alike but are different text after this (Latin ``ada`` and Cyrillic ``аda``, ``ada``
    and full-width ``ａｄａ``) stay different students; :func:`id_skeleton` finds them for a warning.

    >>> normalise_id("\\ufeffada") == normalise_id("a\\u200bda\\u00ad") == "ada"
    True
    >>> normalise_id("Jose\\u0301") == "Jos\\u00e9"
    True
    >>> normalise_id(" ada lovelace ")
    'ada lovelace'
    """
    student = unicodedata.normalize("NFC", text.translate(_STRIP)).strip()
    hidden = [char for char in student if _invisible(char)]
    if hidden:
        raise CnnCalcError(f"the student id '{visible_id(student)}' contains an invisible or format character, "
                           f"{char_name(hidden[0])}", expected="letters, digits, punctuation and plain spaces",
                           hint="type the id again without it")
    return student


def visible_id(student: str, limit: int = 80) -> str:
    """An id as messages show it: every character that cannot be seen (and every control character)
    written as an escape, so that two ids that print alike are told apart."""
    shown = "".join(f"\\u{ord(c):04x}" if c in ID_STRIPPED or _invisible(c) else c for c in student)
    return clean_text(shown, limit)


# Letters of Cyrillic and Greek that look like Latin ones (lower case, as id_skeleton folds case first),
# after Unicode's confusables list (UTS #39); enough to catch an id typed on another keyboard layout.
_LOOKALIKES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "ë", "һ": "h", "і": "i", "ї": "ï", "ј": "j", "к": "k", "м": "m", "н": "h",
    "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l",
    "ү": "y", "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "h", "ι": "i", "κ": "k", "μ": "m", "ν": "n", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "y", "χ": "x", "ı": "i",
})


def id_skeleton(student: str) -> str:
    """What an id looks like: NFKC (full-width and other compatibility forms become plain), case folded,
    Cyrillic and Greek look-alikes of Latin letters made Latin. Different ids with one skeleton print
    (nearly) alike.

    >>> id_skeleton("\\u0430da") == id_skeleton("\\uff21\\uff24\\uff21") == id_skeleton("Ada") == "ada"
    True
    """
    return unicodedata.normalize("NFKC", student).casefold().translate(_LOOKALIKES)


def lookalike_warnings(named: list[tuple[str, str]], outcome: str = "each is graded under its own id"
                       ) -> list[tuple[str, list[int]]]:
    """For each set of different ids that look alike (one :func:`id_skeleton`), a warning naming each
    with where it came from, and the positions in ``named`` (pairs of id and source) it concerns."""
    groups: dict[str, dict[str, list[int]]] = {}
    for position, (student, _) in enumerate(named):
        groups.setdefault(id_skeleton(student), {}).setdefault(student, []).append(position)
    warnings = []
    for spellings in groups.values():
        if len(spellings) < 2:
            continue
        shown = [(f"'{visible_id(student)}'{_foreign(student)} ({', '.join(named[p][1] for p in places[:3])}"
                  + (", …)" if len(places) > 3 else ")")) for student, places in spellings.items()]
        message = (f"student ids that look alike: {_listed(shown, 'ids')} — different students, or one id typed in "
                   f"two ways? ({outcome})")
        warnings.append((message, [p for places in spellings.values() for p in places]))
    return warnings


def _foreign(student: str) -> str:
    """The letters of an id that are not plain ASCII, named: how two look-alikes differ."""
    letters = sorted({c for c in student if ord(c) > 0x7F}, key=student.index)
    if not letters:
        return ""
    return " with " + ", ".join(char_name(c) for c in letters[:3]) + (" …" if len(letters) > 3 else "")


def _listed(items: list[str], what: str, most: int = 5) -> str:
    """``a, b and c``; past ``most`` items, the rest counted (a message goes to every student it names:
    a class that left the template's id unchanged must not get a message of the whole class each)."""
    if len(items) > most:
        items = [*items[:most - 1], f"{len(items) - most + 1:,} more {what}"]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------- reading answer files

_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_answers(path: str | Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(student id, answers, other top-level fields) from an answer file; raises CnnCalcError if unusable.
    The id is normalised (:func:`normalise_id`)."""
    student, _, answers, extra = read_answer_file(path)
    return student, answers, extra


def read_answer_file(path: str | Path) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """(student id, the id as written, answers, other top-level fields): :func:`read_answers` with the
    written spelling of the id kept, for the reports."""
    name = display_path(path)
    raw = safeload.read_limited(path, MAX_ANSWER_BYTES, "answer file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CnnCalcError("not a UTF-8 text answer file", file=name) from None
    data = safeload.loads(text, name)
    _check_depth(data, 0, name)
    if not isinstance(data, dict):
        raise CnnCalcError("an answer file is a mapping {student: ID, answers: {...}}", file=name,
                           got=type(data).__name__, expected="a mapping")
    student, written = _student_id(data, text, name)
    answers = data.get("answers")
    if not isinstance(answers, dict):
        raise CnnCalcError("'answers' must map question ids to answers", file=name, got=type(answers).__name__,
                           expected="a mapping")
    extra = {k: v for k, v in data.items() if k not in ("student", "answers")}
    return student, written, answers, extra


def _student_id(data: dict[str, Any], text: str, source: str) -> tuple[str, str]:
    """The id as text, normalised (:func:`normalise_id`), and as written: ``student: 0012345`` is the
    text "0012345", never the number 12345."""
    line = data.line_of("student") if isinstance(data, safeload.LineDict) else None
    if "student" not in data:
        raise CnnCalcError("no 'student:' field: an answer file must say whose answers it holds", file=source,
                           line=line, hint='add a line student: "YOUR ID" at the top of the file')
    value = data["student"]
    if isinstance(value, (list, dict)):
        raise CnnCalcError("student: must be one id, not a list or a mapping", file=source, line=line,
                           got=type(value).__name__, expected='one id, e.g. student: "s12345"')
    if not isinstance(value, str):
        written = _written_text(text, "student")
        if written is None:
            raise CnnCalcError("the student id must be written as text; put it in quotes", file=source, line=line,
                               got=value, expected='student: "YOUR ID"')
        value = written
    if CONTROL_CHARS.search(value.strip()):
        raise CnnCalcError("the student id contains a control character or line break", file=source, line=line,
                           got=value.strip(), expected="an id as the roster has it")
    try:
        student = normalise_id(value)
    except CnnCalcError as error:
        raise error.with_context(file=source, line=line) from None
    if not student:
        raise CnnCalcError("the student: field is empty", file=source, line=line, hint='write student: "YOUR ID"')
    if len(student) > MAX_ID_CHARS:
        raise CnnCalcError(f"student id too long ({len(student):,} characters, at most {MAX_ID_CHARS})",
                           file=source, line=line)
    return student, value.strip()


def _written_text(text: str, key: str) -> str | None:
    """The source text of a top-level plain scalar (an empty string for a null), or None if not found.
    Only called for the rare id that did not load as a string, so the second composition costs nothing
    on ordinary files; the document already passed the loader's caps."""
    node = yaml.compose(text, Loader=_COMPOSER)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key \
                    and isinstance(value_node, yaml.ScalarNode):
                return "" if value_node.tag.endswith(":null") else value_node.value
    return None


def _check_depth(node: Any, depth: int, source: str) -> None:
    if depth > MAX_ANSWER_DEPTH:
        raise CnnCalcError(f"answers nested deeper than {MAX_ANSWER_DEPTH} levels", file=source)
    if isinstance(node, dict):
        for value in node.values():
            _check_depth(value, depth + 1, source)
    elif isinstance(node, list):
        for value in node:
            _check_depth(value, depth + 1, source)


# ---------------------------------------------------------------- comparing one answer


def close(got: float, expected: float, q: Question) -> bool:
    if _exact(expected, q):
        return got == expected
    return abs(got - expected) <= _tolerance(expected, q)


def _exact(expected: float, q: Question) -> bool:
    """Integer keys without a tolerance of their own are compared exactly (a count is never 22.4)."""
    return float(expected).is_integer() and q.rtol is None and q.atol is None


def _tolerance(expected: float, q: Question) -> float:
    rtol = DEFAULT_RTOL if q.rtol is None else q.rtol
    atol = 0.0 if q.atol is None else q.atol
    return atol + rtol * abs(expected)


def shown(got: float, expected: float) -> tuple[str, str]:
    """Both numbers with the digits that tell them apart: 22.0000001 never reads as "22" next to 22.

    >>> shown(22.0000001, 22)
    ('22.0000001', '22')
    >>> shown(9.5, 9)
    ('9.5', '9')
    """
    for digits in (6, 9, 12, 15, 17):
        a, b = _digits(got, digits), _digits(expected, digits)
        if a != b or float(got) == float(expected):
            return a, b
    return repr(float(got)).replace("-", "−"), repr(float(expected)).replace("-", "−")


def _digits(value: float, digits: int) -> str:
    value = float(value)
    text = f"{int(value)}" if value.is_integer() and abs(value) < 1e16 else f"{value:.{digits}g}"
    return text.replace("-", "−")


def _why_not_close(number: float, expected: float, q: Question) -> str:
    """The rule that refused a near miss (an exact integer, or the tolerance), said once it matters."""
    if _exact(expected, q):
        return " (an integer answer must be exact)" if 0 < abs(number - expected) < 0.5 else ""
    tolerance = _tolerance(expected, q)
    if abs(number - expected) <= 1000 * tolerance:
        return f" (accepted within ±{tolerance:.2g})"
    return ""


def _shape_hint(got: list[int], value: list[int]) -> str:
    """A shape with the right numbers in an order no slip names (channels first and rows and columns
    swapped are rules of :mod:`.slips`)."""
    if len(got) != len(value) or sorted(got) != sorted(value) or got == value:
        return ""
    if (len(value) >= 3 and got == [value[-1], *value[:-1]]) or (len(value) >= 2 and got == [value[1], value[0],
                                                                                              *value[2:]]):
        return ""
    return " (the right numbers in the wrong order?)"


def grade_one(q: Question, expected: Expected, answers: dict[str, Any]) -> QuestionResult:
    solution = expected.solution
    if q.kind == "manual":
        return QuestionResult(q.id, 0.0, q.points, "manual", None, answers.get(q.id),
                              "graded by the instructor", solution)
    if q.id not in answers:
        return QuestionResult(q.id, 0.0, q.points, "missing", expected.value, None,
                              "no answer given", solution)
    got = answers[q.id]
    try:
        score, status, feedback = _compare(q, expected, got)
    except Invalid as error:
        return QuestionResult(q.id, 0.0, q.points, "invalid", expected.value, got, str(error), solution)
    except (ArithmeticError, ValueError, TypeError, RecursionError) as error:
        # an odd value (a number beyond float range, a ragged or mixed list) spoils this answer only
        reason = f"this answer cannot be compared ({type(error).__name__}: {short(str(error), 120)})"
        return QuestionResult(q.id, 0.0, q.points, "invalid", expected.value, got, reason, solution)
    return QuestionResult(q.id, score * q.points, q.points, status, expected.value, got, feedback, solution)


def _compare(q: Question, expected: Expected, got: Any, score_only: bool = False) -> tuple[float, str, str]:
    """(score, status, feedback); ``score_only``: the feedback of a wrong answer left out (marking asks
    whether each slip's answer matches the key, for every candidate of every question)."""
    kind, value = q.kind, expected.value
    if kind in ("shape", "pair"):
        integers = _integers(got, value, kind)
        if integers == value:
            return 1.0, "correct", "correct"
        if integers in expected.detail.get("accept", []):
            return 1.0, "correct", f"correct ({integers} is the full shape of {value})"
        hint = _shape_hint(integers, value) if kind == "shape" else ""  # a slip is named by marking (slips.py)
        return 0.0, "incorrect", f"expected {value}, got {short(integers, MAX_ECHO_CHARS)}{hint}"
    if kind == "sizes":
        return _compare_sizes(expected, got)
    if kind in WHOLE_KINDS:
        number = _number(got, whole=True)
        if number == value:
            return 1.0, "correct", "correct"
        if score_only:
            return 0.0, "incorrect", ""
        text, want = shown(number, value)
        if not number.is_integer():
            return 0.0, "incorrect", f"{text} is not a whole number; expected {want}"
        return 0.0, "incorrect", f"expected {value:,}, got {int(number):,}"
    if kind == "value":
        number = _number(got)
        if close(number, float(value), q):
            return 1.0, "correct", "correct"
        if score_only:
            return 0.0, "incorrect", ""
        text, want = shown(number, value)
        return 0.0, "incorrect", f"expected {want}, got {text}{_why_not_close(number, float(value), q)}"
    if kind == "matrix":
        matrix = _matrix(got, value)
        target = np.atleast_2d(value)
        if np.ndim(value) == 1 and matrix.shape[1] == 1:  # a vector (a flattened map) written as a column
            matrix = matrix.T
        if matrix.shape != target.shape:
            return 0.0, "incorrect", (f"the matrix should be {target.shape[0]}×{target.shape[1]}, got "
                                      f"{matrix.shape[0]}×{matrix.shape[1]}")
        good = np.vectorize(lambda a, b: close(a, b, q))(matrix, target)
        right = int(good.sum())
        if right == good.size:
            return 1.0, "correct", "correct"
        if score_only:
            return right / good.size, "partial" if right else "incorrect", ""
        wrong = [(int(i), int(j)) for i, j in zip(*np.nonzero(~good))]
        lines = [f"{right} of {good.size} cells correct; wrong:"]
        for i, j in wrong[:12]:
            text, cell = shown(matrix[i, j], target[i, j])
            lines.append(f"row {i + 1}, column {j + 1}: expected {cell}, got {text}"
                         + _cell_working(expected, i, j))
        if len(wrong) > 12:
            lines.append(f"… and {len(wrong) - 12} more")
        return right / good.size, "partial" if right else "incorrect", "\n".join(lines)
    if kind == "expression":
        return _compare_expression(str(value), got)
    if kind == "yesno":
        answer = _yes_or_no(got)
        return (1.0, "correct", "correct") if answer == value else (0.0, "incorrect", f"expected {value}, got {answer}")
    raise Invalid(f"unknown question kind {kind!r}")


def _compare_sizes(expected: Expected, got: Any) -> tuple[float, str, str]:
    """A set of sizes, in any form :func:`.answers.sizes` reads (a list, a range, text)."""
    given = set(_sizes(got, expected.value))
    want = set(expected.value)
    if given == want:
        return 1.0, "correct", "correct"
    answer = tuple(sorted(given))
    hint = _mistake(expected, answer)
    missing, extra = sorted(want - given), sorted(given - want)
    parts = [f"expected {expected.detail.get('text', sorted(want))}"]
    if missing:
        parts.append("missing " + ranges(missing))
    if extra:
        parts.append("not valid: " + ranges(extra))
    return 0.0, "incorrect", "; ".join(parts) + hint


def _mistake(expected: Expected, answer: Any) -> str:
    """A known wrong turn that produces exactly this answer (the bias left out, rows and columns swapped…)."""
    given = tuple(answer) if isinstance(answer, (list, tuple)) else float(answer)
    for wrong, hint in expected.detail.get("mistakes", {}).items():
        if (tuple(wrong) if isinstance(wrong, (list, tuple)) else float(wrong)) == given:
            return f" — {hint}"
    return ""


def _cell_working(expected: Expected, i: int, j: int) -> str:
    detail = expected.detail
    source = detail.get("input")
    if source is None:
        return ""
    if detail.get("type") == "relu":
        return f" = max(0, {num(source[i, j])})"
    (kh, kw), (sh, sw) = detail["kernel"], detail["stride"]
    window = source[i * sh: i * sh + kh, j * sw: j * sw + kw]
    reduce = "max" if detail["type"] == "maxpool" else "mean"
    return f" = {reduce}({', '.join(num(v) for v in window.ravel())})"


# ---------------------------------------------------------------- a whole file


# ---------------------------------------------------------------- marking: slips and follow-through


def plain_answer(value: Any) -> Any:
    """A key's value (or a slip's) as an answer file writes it: lists, ints for whole numbers."""
    if isinstance(value, np.ndarray):
        return _plain(value)
    if isinstance(value, tuple):
        return [plain_answer(v) for v in value]
    if isinstance(value, list):
        return [plain_answer(v) for v in value]
    if isinstance(value, (float, np.floating, np.integer)) and not isinstance(value, bool):
        return _plain_number(value)
    return value


def matches(q: Question, expected: Expected, got: Any) -> bool:
    """Whether ``got`` earns full marks against ``expected`` as the key's own comparison judges it (the
    same reading, the same tolerance)."""
    try:
        return _compare(q, expected, got, score_only=True)[0] >= 1.0
    except (Invalid, ArithmeticError, ValueError, TypeError, RecursionError):
        return False


def read_answer(q: Question, got: Any) -> Any:
    """An answer read as its kind compares it (:func:`.answers.read`), or None where it cannot be."""
    return _read(q.kind, got)


def _read(kind: str, got: Any) -> Any:
    from .answers import read

    try:
        return read(kind, got)
    except (Invalid, ArithmeticError, ValueError, TypeError, RecursionError):
        return None


def answer_form(kind: str, got: Any) -> str | None:
    """The one form an answer groups by: read as its kind reads it (``22x22x6``, ``(22, 22, 6)`` and
    ``[22, 22, 6]`` are one answer), then canonical (:func:`.copies.canonical`); what its kind cannot read,
    by what was written; None for no answer.

    >>> answer_form("shape", "22x22x6") == answer_form("shape", [22, 22, 6]) == "[22.0, 22.0, 6.0]"
    True
    """
    from .copies import canonical

    if got is None:
        return None
    value = _read(kind, got) if kind != "manual" else None
    return canonical(got) if value is None else canonical(value)


class AnswerForms:
    """:func:`answer_form`, remembered by the answer's text: most of a class gives the same few answers
    (a batch, its class statistics and its gradebook rows each read every answer once)."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self.known: dict[tuple[str, type, Any], str | None] = {}

    def __call__(self, kind: str, value: Any) -> str | None:
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float, str, list)):
            return answer_form(kind, value)
        try:
            key = (kind, type(value) if type(value) in (int, float, str) else list, repr(value))
        except (ValueError, RecursionError):  # an integer too long to print
            return answer_form(kind, value)
        found = self.known.get(key, self)
        if found is self:
            if len(self.known) >= self.LIMIT:
                self.known.clear()
            found = self.known[key] = answer_form(kind, value)
        return found  # type: ignore[return-value]


def shape_answer(got: Any) -> list[int] | None:
    """A shape answer as a list of ints, or None."""
    from .answers import read

    try:
        return read("shape", got)  # type: ignore[no-any-return]
    except (Invalid, ArithmeticError, ValueError, TypeError, RecursionError):
        return None


def matrix_answer(got: Any) -> np.ndarray | None:
    """A map answer as a 2-D array, or None."""
    from .answers import read

    try:
        value = np.atleast_2d(read("matrix", got))
    except (Invalid, ArithmeticError, ValueError, TypeError, RecursionError):
        return None
    return value if value.ndim == 2 and np.isfinite(value).all() else None


def _as_key(problem: Problem, key: dict[str, Expected]) -> AnswerKey:
    if isinstance(key, AnswerKey) and key.problem is problem:
        return key
    return AnswerKey(key, KeyBuilder(problem))


def diagnose(key: AnswerKey, q: Question, got: Any, earlier: Sequence[str] = ()) -> Candidate | None:
    """The slip whose answer ``got`` is: of the slips that give it, one already named in the student's
    ``earlier`` answers (the student who dropped the + 1 at conv1 dropped it at conv2 too, though forgetting
    conv2's padding gives the same shape), else the first in the catalogue's order."""
    from .copies import canonical
    from .slips import candidates

    found = candidates(key, q)
    if not found:
        return None
    form = canonical(got)
    memo = ("match", q.id, form)
    if form is not None and memo in key.memo:
        matched = key.memo[memo]
    else:
        matched = [c for c in found if matches(q, Expected(c.value), got)]
        if form is not None:
            if len(key.memo) > MAX_REMEMBERED:  # a class of ever-different answers: forget the matches
                key.memo = {k: v for k, v in key.memo.items() if k[0] != "match"}
            key.memo[memo] = matched
    return next((c for c in matched if c.rule in earlier), matched[0] if matched else None)


def mark(problem: Problem, key: dict[str, Expected], answers: dict[str, Any], results: list[QuestionResult]
         ) -> None:
    """Name the slip of every wrong answer and give the credit the problem allows: the share of a slip
    (``credit:``) or a follow-through (``follow_through:``), whichever is more, never less than the
    answer's own score."""
    from .followthrough import follow_through, points_text

    key = _as_key(problem, key)
    by_id = {r.id: r for r in results}
    named: list[str] = []  # the slips named in this student's answers so far
    for q, result in zip(problem.questions, results):
        if result.status not in ("partial", "incorrect"):
            continue
        got = answers[q.id]
        candidate = diagnose(key, q, got, named)
        follow = follow_through(key, q, answers, by_id) if q.follow_through else None
        best = result.score
        if candidate is not None:
            result.diagnosis = Diagnosis(candidate.rule, candidate.message)
            named.append(candidate.rule)
            best = max(best, q.credit.get(candidate.rule, 0.0) * q.points)
        if follow is not None:
            result.follow_through = True
            best = max(best, follow.share * q.points)
        credit = f": {points_text(best, q.points)}" if best > result.score else ""
        tag = f" [{candidate.rule}]" if candidate is not None else ""
        if follow is not None:  # the slip, if any, was made upstream: the answer follows from it
            result.feedback = _noted(result.feedback, follow.note() + tag + credit)
        elif candidate is not None:
            result.feedback = _noted(result.feedback, candidate.message + tag + credit)
        if best > result.score:
            result.score = best
            result.status = "correct" if best >= result.max else "partial"


def _noted(feedback: str, note: str) -> str:
    """The feedback with a note on its first line (before a matrix's list of wrong cells)."""
    lines = feedback.split("\n")
    head, tail = lines[0], lines[1:]
    text = f" — {note}"
    if head.endswith("; wrong:"):
        head = head[:-len("; wrong:")] + text + "; wrong:"
    else:
        head += text
    return "\n".join([head, *tail])


def grade_answers(problem: Problem, key: dict[str, Expected], student: str, answers: dict[str, Any],
                  file: str = "", marking: bool = True) -> StudentResult:
    """One student's answers graded; with ``marking`` (the default) every wrong answer's slip named and
    credited, and follow-through given (see :func:`mark`)."""
    results = [grade_one(q, key[q.id], answers) for q in problem.questions]
    if marking:
        mark(problem, key, answers, results)
    known = {q.id for q in problem.questions}
    warnings = []
    unknown = [qid for qid in answers if qid not in known]
    for qid in unknown[:MAX_UNKNOWN_IDS]:
        name = clean_text(str(qid) if isinstance(qid, str) else short(qid), 80)
        hint = did_you_mean(name, known)
        results.append(QuestionResult(name, 0.0, 0.0, "invalid", None, answers[qid],
                                      "unknown question id" + (f"; {hint}" if hint else "")))
        warnings.append(f"unknown question id '{name}'" + (f" ({hint})" if hint else ""))
    if len(unknown) > MAX_UNKNOWN_IDS:
        warnings.append(f"… and {len(unknown) - MAX_UNKNOWN_IDS:,} more unknown question ids")
    return StudentResult(student, file, results, warnings)


def invalid_result(problem: Problem, key: dict[str, Expected] | None, path: str | Path, reason: str
                   ) -> StudentResult:
    """A file that cannot be used: every question invalid, the reason kept; named after the file."""
    why = "not graded: " + clean_text(reason, 200)
    questions = [QuestionResult(q.id, 0.0, q.points, "invalid", key[q.id].value if key else None, None,
                                why, key[q.id].solution if key else [])
                 for q in problem.questions]
    from .files import NOT_AN_ANSWER_FILE

    student = display_path(Path(path).name if reason == NOT_AN_ANSWER_FILE else Path(path).stem)
    return StudentResult(student, display_path(path), questions, [reason], error=reason)


def unexpected(error: BaseException) -> str:
    """The reason given for a file whose grading failed in a way no check foresaw."""
    return (f"could not be graded: unexpected {type(error).__name__}: {short(str(error), 200)} "
            "(the other files are not affected; please report this)")


def variant_label(value: Any) -> str | None:
    if value is None:
        return None
    return clean_text(value, 64) if isinstance(value, str) else short(value, 64)


def grade_file(problem: Problem, key: dict[str, Expected], path: str | Path, marking: bool = True
               ) -> StudentResult:
    """Grade one file; a file that cannot be used gives a result with every question invalid."""
    try:
        student, written, answers, extra = read_answer_file(path)
        result = (grade_answers(problem, key, student, answers, display_path(path)) if marking else
                  grade_answers(problem, key, student, answers, display_path(path), marking=False))
        result.variant = variant_label(extra.get("variant"))
        result.written = written if written != student else None
    except CnnCalcError as error:
        return invalid_result(problem, key, path, str(error))
    except Exception as error:  # noqa: BLE001 - the last net: one file never stops the batch
        return invalid_result(problem, key, path, unexpected(error))
    return result


_UNSAFE = re.compile(r"[^\w-]+")  # letters of any script stay; dots go too: no "..", no hidden files
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def file_stem(student: str) -> str:
    """A student id as a file name, before it is made unique: letters of any script, digits, ``_`` and
    ``-`` kept (after :func:`normalise_id`'s NFC and removals); anything else — separators, dots — ``_``;
    at most 64 characters; never empty or a reserved Windows device name."""
    stem = _UNSAFE.sub("_", unicodedata.normalize("NFC", student.translate(_STRIP))).strip("_-")[:64] or "student"
    return "_" + stem if stem.lower() in _RESERVED else stem


def distinct_file_stems(students: list[str], first: list[bool] | None = None) -> list[str]:
    """One file name per entry, none shared (ignoring case, as some file systems do): each id takes its
    :func:`file_stem` unless an entry ranked before it took that stem — the entries marked ``first``
    (graded students) go before the others (unreadable files), and then an id that is its own file name
    before one that had characters replaced (``a_b`` before ``a/b``), in order; an entry that finds its
    stem taken (the same id twice, ``ada`` after ``Ada``, ``a/b``) gets ``STEM-2``, ``STEM-3`` …,
    skipping every stem another entry's id gives — so no file ever takes the name that belongs to
    another id.

    >>> distinct_file_stems(["ada", "ada-2", "ada", "a/b", "a_b"])
    ['ada', 'ada-2', 'ada-3', 'a_b-2', 'a_b']
    """
    stems = [file_stem(student) for student in students]
    natural = {stem.casefold() for stem in stems}
    ranked = sorted(range(len(students)), key=lambda p: (not (first[p] if first is not None else True),
                                                         stems[p] != students[p]))
    taken: set[str] = set()
    chosen = [""] * len(students)
    clashes: list[int] = []
    for position in ranked:
        if stems[position].casefold() in taken:
            clashes.append(position)
        else:
            taken.add(stems[position].casefold())
            chosen[position] = stems[position]
    blocked = taken | natural
    for position in clashes:
        k = 2
        while f"{stems[position]}-{k}".casefold() in blocked:
            k += 1
        chosen[position] = f"{stems[position]}-{k}"
        blocked.add(chosen[position].casefold())
    return chosen


def safe_file_stem(student: str, used: set[str]) -> str:
    """A student id as a file name: no path separators, no leading dots, unique in the batch (ignoring case);
    for names given one at a time (see :func:`distinct_file_stems` for a whole batch)."""
    stem = file_stem(student)
    candidate, k = stem, 2
    while candidate.lower() in used:
        candidate = f"{stem}-{k}"
        k += 1
    used.add(candidate.lower())
    return candidate


def grade_batch(problem: Problem, paths: list[Path], key: dict[str, Expected] | None = None,
                refused: dict[Path, str] | None = None, marking: bool = True
                ) -> tuple[list[StudentResult], list[str]]:
    """Grade every file; ``refused`` files (a link leaving its folder…) are invalid with their reason.
    ``marking`` names slips and gives follow-through (:func:`mark`)."""
    key = _as_key(problem, key if key is not None else compute_key(problem))
    refused = refused or {}
    results = [invalid_result(problem, key, path, refused[path]) if path in refused
               else grade_file(problem, key, path, marking) for path in paths]
    return results, identity_warnings(results)


def duplicate_warnings(results: list[StudentResult]) -> list[str]:
    """One warning for each id that more than one graded file gives (after :func:`normalise_id`, so a
    byte-order mark or an accent typed apart makes no second student), naming every file and how each
    wrote the id when that differs; the warning goes to each of those students, so every row, feedback
    file and report line of theirs carries it."""
    files: dict[str, list[StudentResult]] = {}
    for result in results:
        if result.error is None:
            files.setdefault(result.student, []).append(result)
    warnings = []
    for student, claims in files.items():
        if len(claims) < 2:
            continue
        message = f"duplicate student id {clean_text(student, 80)!r} in {_listed([r.file for r in claims], 'files')}"
        spellings = [f"'{visible_id(r.written)}' in {Path(r.file).name}" for r in claims if r.written is not None]
        if spellings:
            message += f" (written {_listed(spellings, 'files')})"
        warnings.append(message)
        for result in claims:
            result.warnings.append(message)
    return warnings


def identity_warnings(results: list[StudentResult]) -> list[str]:
    """Duplicate ids and ids that look alike among the graded files; each warning also goes to the
    students it names."""
    warnings = duplicate_warnings(results)
    graded = [r for r in results if r.error is None]
    for message, positions in lookalike_warnings([(r.student, r.file) for r in graded]):
        warnings.append(message)
        for position in positions:
            graded[position].warnings.append(message)
    return warnings
