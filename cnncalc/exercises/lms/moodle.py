"""Moodle XML for the question bank: each variant one Cloze ("Embedded answers") question in a category
named after the problem and its version, so a quiz's "random question from category" gives each student
one variant.

Each blank is a subquestion, ``{WEIGHT:NUMERICAL:=KEY:TOLERANCE#correct~%CREDIT%SLIP:TOLERANCE#MESSAGE…}``
(a text blank: ``SHORTANSWER``): the key with the problem's tolerance, then for each named slip its answer
with the author's partial credit and its one-line feedback. Weights are whole numbers in the ratio of the
points. The worked solution is the general feedback; figures are SVG files inside the question text
(``@@PLUGINFILE@@``, base64). Author text reaches Moodle only as character references for every
character of HTML and of the Cloze syntax (``{}#~=:\\``), so no prompt or id can open a subquestion or
close an element. The XML is written as text, element by element, exactly as ElementTree writes it indented
(``ET.indent(space=" ")``; tests/test_lms.py holds the two to the same bytes): every text escaped for XML
(no CDATA section to end with ``]]>``).
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Iterable
from fractions import Fraction

from .common import (
    Blank,
    QuizVariant,
    body_html,
    category_name,
    figures,
    html_text,
    number_text,
    solution_html,
    xml_text,
)

MAX_WEIGHT_SCALE = 10_000


def weights(blanks: list[Blank]) -> dict[str, int]:
    """Whole-number weights in the ratio of the blanks' points (Moodle reads ``{N:`` as a whole number):
    the smallest common scale where it exists within MAX_WEIGHT_SCALE, else points in thousandths."""
    scaled = _weights(tuple(b.points for b in blanks))
    return {b.label: weight for b, weight in zip(blanks, scaled)}


@functools.lru_cache(maxsize=256)
def _weights(points: tuple[float, ...]) -> tuple[int, ...]:
    # once per set of points: every variant of a problem has the same blanks and points
    fractions = [Fraction(p).limit_denominator(MAX_WEIGHT_SCALE) for p in points]
    scale = 1
    for fraction in fractions:
        scale = scale * fraction.denominator // math.gcd(scale, fraction.denominator)
        if scale > MAX_WEIGHT_SCALE:
            return tuple(max(1, round(p * 1000)) for p in points)
    return tuple(max(1, int(f * scale)) for f in fractions)


def _percent(credit: float) -> str:
    text = f"{credit * 100:.7g}"
    return text


def cloze(blank: Blank, weight: int) -> str:
    """One subquestion: the key first, then each slip's answer with its credit and message."""
    if blank.numeric:
        answers = [f"={number_text(blank.value)}:{number_text(blank.tolerance)}#correct"]
        answers += [f"%{_percent(s.credit)}%{number_text(s.value)}:{number_text(s.tolerance)}#{html_text(s.message)}"
                    for s in blank.slips]
        return f"{{{weight}:NUMERICAL:{'~'.join(answers)}}}"
    answers = [f"={html_text(blank.value)}#correct"]
    answers += [f"%{_percent(s.credit)}%{html_text(str(s.value))}#{html_text(s.message)}" for s in blank.slips]
    return f"{{{weight}:SHORTANSWER:{'~'.join(answers)}}}"


def _escape(text: str) -> str:
    """Character data as ElementTree escapes it: ``&``, ``<`` and ``>`` only."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text(tag: str, text: str, indent: str, attributes: str = "", files: str = "") -> str:
    """``<tag ATTRIBUTES><text>TEXT</text>FILES</tag>`` indented as ET.indent does; an empty text is
    ``<text />``, as ElementTree writes an element without text or children."""
    inner = indent + " "
    text = xml_text(text)
    body = f"<text>{_escape(text)}</text>" if text else "<text />"
    return f"{indent}<{tag}{attributes}>{inner}{body}{files}{indent}</{tag}>"


def category(name: str) -> str:
    # Moodle reads "/" in a category path as a level; "//" is a slash inside one name
    return ('\n <question type="category">'
            + _text("category", "$course$/top/cnncalc/" + name.replace("/", "//"), "\n  ")
            + _text("info", f"Variants of {name} written by cnncalc: draw one at random per student.", "\n  ",
                    ' format="html"')
            + "\n </question>")


def _attribute(text: str) -> str:
    return (_escape(text).replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
            .replace("\t", "&#09;"))


def question(variant: QuizVariant, drawn: list[tuple[str, str]]) -> str:
    blanks = variant.blanks
    weight = weights(blanks)
    names = [name for name, _ in drawn]
    text = body_html(variant, lambda b: cloze(b, weight[b.label]), lambda name: f"@@PLUGINFILE@@/{name}", names)
    files = "".join(f'\n   <file name="{_attribute(name)}" path="/" encoding="base64">'
                    f'{base64.b64encode(svg.encode("utf-8")).decode("ascii")}</file>' for name, svg in drawn)
    return ('\n <question type="cloze">'
            + _text("name", variant.name, "\n  ")
            + _text("questiontext", text, "\n  ", ' format="html"', files)
            + _text("generalfeedback", solution_html(variant), "\n  ", ' format="html"')
            + "\n  <penalty>0</penalty>\n  <hidden>0</hidden>\n </question>")


def moodle_xml(variants: Iterable[QuizVariant]) -> bytes:
    """The question bank: one category, one Cloze question per variant (each variant read once, in turn)."""
    out = ["<?xml version='1.0' encoding='utf-8'?>\n<quiz>"]
    for variant in variants:
        if len(out) == 1:
            out.append(category(category_name(variant.variant)))
        out.append(question(variant, figures(variant.variant)))
    if len(out) == 1:
        return b"<?xml version='1.0' encoding='utf-8'?>\n<quiz />\n"
    out.append("\n</quiz>\n")
    return "".join(out).encode("utf-8")
