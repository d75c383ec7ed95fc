"""A Canvas quiz package (IMS QTI 1.2, as Canvas's "QTI .zip file" import reads it): one assessment with one
question group per problem, holding every variant as one item, so each student draws one variant. A
variant with one blank is a ``numerical_question`` (the key with the problem's tolerance); one with several
is a ``fill_in_multiple_blanks_question`` (``[b1]`` … in the text, the key's text per blank). Each named
slip's answer is one more answer whose condition adds the author's partial credit and shows its one-line
feedback; the worked solution is the general feedback. Figures travel in the package
(``$IMS-CC-FILEBASE$``). Author text goes through :func:`.common.html_text`: no prompt can make a blank
(``[`` and ``]`` are character references) or an element."""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
import zipfile

from .common import Blank, QuizVariant, body_html, category_name, figures, number_text, solution_html, xml_text

QTI = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
CP = "http://www.imsglobal.org/xsd/imscp_v1p1"
FILES = "web_resources/cnncalc"


def ident(*parts: str) -> str:
    """An XML ``ident`` made from any text: ``g`` + a hash (QTI idents are NMTOKEN-like; ids are not)."""
    return "g" + hashlib.sha256("|".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _field(parent: ET.Element, label: str, entry: str) -> None:
    field = ET.SubElement(parent, "qtimetadatafield")
    ET.SubElement(field, "fieldlabel").text = label
    ET.SubElement(field, "fieldentry").text = xml_text(entry)


def _material(parent: ET.Element, text: str, html: bool = True) -> None:
    material = ET.SubElement(parent, "material")
    mattext = ET.SubElement(material, "mattext", {"texttype": "text/html" if html else "text/plain"})
    mattext.text = xml_text(text)


def _answers(blank: Blank) -> list[tuple[str, str, float, str]]:
    """(answer id, text, credit, feedback) for the key and each slip."""
    key = number_text(blank.value) if blank.numeric else str(blank.value)
    items = [(ident(blank.label, "key"), key, 1.0, "correct")]
    for k, slip in enumerate(blank.slips):
        text = number_text(slip.value) if blank.numeric else str(slip.value)
        items.append((ident(blank.label, "slip", str(k)), text, slip.credit, f"{slip.message} [{slip.rule}]"))
    return items


def _condition(parent: ET.Element, respident: str, blank: Blank, value: str, tolerance: float, answer: str,
               numeric_item: bool) -> ET.Element:
    condition = ET.SubElement(parent, "conditionvar")
    if not numeric_item:
        ET.SubElement(condition, "varequal", {"respident": respident}).text = xml_text(answer)
    elif tolerance == 0:
        ET.SubElement(condition, "varequal", {"respident": respident}).text = value
    else:
        both = ET.SubElement(condition, "and")
        low, high = float(value) - tolerance, float(value) + tolerance
        ET.SubElement(both, "vargte", {"respident": respident}).text = number_text(low)
        ET.SubElement(both, "varlte", {"respident": respident}).text = number_text(high)
    return condition


def item(section: ET.Element, quiz: QuizVariant, files: dict[str, str]) -> None:
    blanks = quiz.blanks
    numeric_item = len(blanks) == 1 and blanks[0].numeric
    total = sum(b.points for b in blanks) or 1.0
    element = ET.SubElement(section, "item", {"ident": ident(quiz.name), "title": xml_text(quiz.name)})
    metadata = ET.SubElement(ET.SubElement(element, "itemmetadata"), "qtimetadata")
    _field(metadata, "question_type", "numerical_question" if numeric_item else "fill_in_multiple_blanks_question")
    _field(metadata, "points_possible", number_text(total))
    names = {}
    for name, svg in figures(quiz.variant):
        stored = f"{quiz.variant.fingerprint}-{name}"
        files[stored] = svg
        names[name] = stored
    ids = {b.label: f"b{i}" for i, b in enumerate(blanks, 1)}
    text = body_html(quiz, lambda b: "" if numeric_item else f"[{ids[b.label]}]",
                     lambda name: f"$IMS-CC-FILEBASE$/cnncalc/{names[name]}", list(names))
    presentation = ET.SubElement(element, "presentation")
    _material(presentation, text)
    if numeric_item:
        response = ET.SubElement(presentation, "response_str", {"ident": "response1", "rcardinality": "Single"})
        ET.SubElement(ET.SubElement(response, "render_fib", {"fibtype": "Decimal"}), "response_label",
                      {"ident": "answer1"})
    else:
        for blank in blanks:
            response = ET.SubElement(presentation, "response_lid", {"ident": f"response_{ids[blank.label]}"})
            _material(response, ids[blank.label], html=False)
            choices = ET.SubElement(response, "render_choice")
            for answer, shown, _, _ in _answers(blank):
                label = ET.SubElement(choices, "response_label", {"ident": answer})
                _material(label, shown, html=False)
    processing = ET.SubElement(element, "resprocessing")
    ET.SubElement(ET.SubElement(processing, "outcomes"), "decvar",
                  {"maxvalue": "100", "minvalue": "0", "varname": "SCORE", "vartype": "Decimal"})
    feedback: list[tuple[str, str]] = []
    for blank in blanks:
        respident = "response1" if numeric_item else f"response_{ids[blank.label]}"
        share = 100 * blank.points / total
        tolerances = [blank.tolerance, *(s.tolerance for s in blank.slips)]
        for (answer, shown, credit, message), tolerance in zip(_answers(blank), tolerances):
            condition = ET.SubElement(processing, "respcondition", {"continue": "Yes"})
            _condition(condition, respident, blank, shown, tolerance, answer, numeric_item)
            ET.SubElement(condition, "setvar", {"action": "Add", "varname": "SCORE"}).text = f"{share * credit:.7g}"
            if credit < 1:
                fid = f"fb_{answer}"
                ET.SubElement(condition, "displayfeedback", {"feedbacktype": "Response", "linkrefid": fid})
                feedback.append((fid, message))
    general = ET.SubElement(element, "itemfeedback", {"ident": "general_fb"})
    _material(ET.SubElement(general, "flow_mat"), solution_html(quiz))
    for fid, message in feedback:
        _material(ET.SubElement(ET.SubElement(element, "itemfeedback", {"ident": fid}), "flow_mat"), message,
                  html=False)


def assessment_xml(variants: list[QuizVariant], files: dict[str, str]) -> tuple[str, bytes]:
    ET.register_namespace("", QTI)
    name = category_name(variants[0].variant)
    aid = ident("assessment", name)
    root = ET.Element("questestinterop")
    assessment = ET.SubElement(root, "assessment", {"ident": aid, "title": xml_text(name)})
    metadata = ET.SubElement(assessment, "qtimetadata")
    _field(metadata, "cc_maxattempts", "1")
    root_section = ET.SubElement(assessment, "section", {"ident": "root_section"})
    group = ET.SubElement(root_section, "section", {"ident": ident("group", name), "title": xml_text(name)})
    selection = ET.SubElement(ET.SubElement(group, "selection_ordering"), "selection")
    ET.SubElement(selection, "selection_number").text = "1"
    extension = ET.SubElement(selection, "selection_extension")
    ET.SubElement(extension, "points_per_item").text = number_text(variants[0].variant.problem.max_points)
    for quiz in variants:
        item(group, quiz, files)
    for element in root.iter():
        element.tag = f"{{{QTI}}}{element.tag}"
    ET.indent(root, space=" ")
    return aid, ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def manifest_xml(aid: str, files: list[str]) -> bytes:
    ET.register_namespace("", CP)
    root = ET.Element(f"{{{CP}}}manifest", {"identifier": ident("manifest", aid)})
    ET.SubElement(root, f"{{{CP}}}organizations")
    resources = ET.SubElement(root, f"{{{CP}}}resources")
    resource = ET.SubElement(resources, f"{{{CP}}}resource", {"identifier": aid, "type": "imsqti_xmlv1p2",
                                                              "href": f"{aid}/{aid}.xml"})
    ET.SubElement(resource, f"{{{CP}}}file", {"href": f"{aid}/{aid}.xml"})
    for name in files:
        web = ET.SubElement(resources, f"{{{CP}}}resource", {"identifier": ident("file", name), "type": "webcontent",
                                                             "href": f"{FILES}/{name}"})
        ET.SubElement(web, f"{{{CP}}}file", {"href": f"{FILES}/{name}"})
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def canvas_zip(variants: list[QuizVariant]) -> bytes:
    files: dict[str, str] = {}
    aid, assessment = assessment_xml(variants, files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("imsmanifest.xml", manifest_xml(aid, sorted(files)))
        archive.writestr(f"{aid}/{aid}.xml", assessment)
        for name, svg in sorted(files.items()):
            archive.writestr(f"{FILES}/{name}", svg)
    return buffer.getvalue()
