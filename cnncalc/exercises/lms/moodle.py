"""Moodle XML for the question bank: each variant one Cloze ("Embedded answers") question in a category
named after the problem and its version, so a quiz's "random question from category" gives each student
one variant.

Each blank is a subquestion, ``{WEIGHT:NUMERICAL:=KEY:TOLERANCE#correct~%CREDIT%SLIP:TOLERANCE#MESSAGE…}``
(a text blank: ``SHORTANSWER``): the key with the problem's tolerance, then for each named slip its answer
with the author's partial credit and its one-line feedback. Weights are whole numbers in the ratio of the
points. The worked solution is the general feedback; figures are SVG files inside the question text
(``@@PLUGINFILE@@``, base64). Author text reaches Moodle only as character references for every
character of HTML and of the Cloze syntax (``{}#~=:\\``), so no prompt or id can open a subquestion or
close an element; the XML is written by ElementTree (no CDATA section to end with ``]]>``).
"""

from __future__ import annotations

import base64
import math
import xml.etree.ElementTree as ET
from fractions import Fraction
from typing import Any

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
    fractions = [Fraction(b.points).limit_denominator(MAX_WEIGHT_SCALE) for b in blanks]
    scale = 1
    for fraction in fractions:
        scale = scale * fraction.denominator // math.gcd(scale, fraction.denominator)
        if scale > MAX_WEIGHT_SCALE:
            return {b.label: max(1, round(b.points * 1000)) for b in blanks}
    return {b.label: max(1, int(f * scale)) for b, f in zip(blanks, fractions)}


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


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    ET.SubElement(element, "text").text = xml_text(text)
    return element


def category(quiz: ET.Element, name: str) -> None:
    question = ET.SubElement(quiz, "question", {"type": "category"})
    # Moodle reads "/" in a category path as a level; "//" is a slash inside one name
    _text(question, "category", "$course$/top/cnncalc/" + name.replace("/", "//"))
    _text(question, "info", f"Variants of {name} written by cnncalc: draw one at random per student.",
          format="html")


def question(quiz: ET.Element, variant: QuizVariant, drawn: list[tuple[str, str]]) -> None:
    blanks = variant.blanks
    weight = weights(blanks)
    element = ET.SubElement(quiz, "question", {"type": "cloze"})
    _text(element, "name", variant.name)
    names = [name for name, _ in drawn]
    text = body_html(variant, lambda b: cloze(b, weight[b.label]), lambda name: f"@@PLUGINFILE@@/{name}", names)
    questiontext = _text(element, "questiontext", text, format="html")
    for name, svg in drawn:
        file = ET.SubElement(questiontext, "file", {"name": name, "path": "/", "encoding": "base64"})
        file.text = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    _text(element, "generalfeedback", solution_html(variant), format="html")
    ET.SubElement(element, "penalty").text = "0"
    ET.SubElement(element, "hidden").text = "0"


def moodle_xml(variants: list[QuizVariant], figure_cache: dict[str, Any] | None = None) -> bytes:
    """The question bank: one category, one Cloze question per variant."""
    quiz = ET.Element("quiz")
    if variants:
        category(quiz, category_name(variants[0].variant))
    for variant in variants:
        question(quiz, variant, figures(variant.variant))
    ET.indent(quiz, space=" ")
    return ET.tostring(quiz, encoding="utf-8", xml_declaration=True) + b"\n"
