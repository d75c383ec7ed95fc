"""Quiz exports for Moodle, Canvas and PrairieLearn, each read back by a reader of its own (not the writer):
Moodle's Cloze syntax by a strict checker written from Moodle's documented grammar (no maintained Python
parser of Moodle XML exists on PyPI: moodle-xml-parser 0.3.1 finds subquestions with the regex ``\\{.*?}``,
which an escaped ``}`` already defeats), PrairieLearn's info.json by its published JSON schema, its
server.py by running it as PrairieLearn does; round trips check every answer and credit against cnncalc's
key and slip catalogue."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import yaml

from cnncalc.exercises.grading import plain_answer
from cnncalc.exercises.lms.export import rebuild
from cnncalc.exercises.service import export_quiz
from cnncalc.exercises.slips import candidates
from cnncalc.spec import safeload

ROOT = Path(__file__).resolve().parents[1]
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
DATA = ROOT / "tests" / "data" / "lms"
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"

# ------------------------------------------------------------ Moodle's Cloze grammar, from its documentation
# {WEIGHT:TYPE:ALTERNATIVE~ALTERNATIVE…}; an alternative is (=|%FRACTION%)ANSWER(#FEEDBACK)?; a NUMERICAL
# answer is NUMBER(:TOLERANCE)?; a backslash escapes } # ~ inside; "&" before "#" is an entity, not feedback.
NUMBER = r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
START = re.compile(r"\{(\d*):(NUMERICAL|NM|SHORTANSWER|SA|MW|SHORTANSWER_C|SAC|MWC|MULTICHOICE|MC):")
ALTERNATIVE = re.compile(r"(=|%(-?\d+(?:\.\d*)?)%)((?:[^~#}\\&]|\\.|&#?\w+;)+)(?:#((?:[^~}\\]|\\.)*))?")


def cloze_subquestions(text: str) -> list[tuple[int, str, list[tuple[float, str, str]]]]:
    """Every subquestion of a Cloze text as (weight, type, [(fraction, answer, feedback)]); fails on any
    "{" that is not a well-formed subquestion (Moodle would show it as text or break the question)."""
    found = []
    position = 0
    while True:
        brace = text.find("{", position)
        if brace < 0:
            break
        start = START.match(text, brace)
        assert start, f"a '{{' that opens no subquestion: {text[brace:brace + 60]!r}"
        weight, kind = int(start.group(1) or 1), start.group(2)
        at = start.end()
        alternatives = []
        while True:
            match = ALTERNATIVE.match(text, at)
            assert match, f"bad alternative at {text[at:at + 80]!r}"
            fraction = 100.0 if match.group(1) == "=" else float(match.group(2))
            alternatives.append((fraction, match.group(3), match.group(4) or ""))
            at = match.end()
            if text[at] == "}":
                break
            assert text[at] == "~", text[at:at + 40]
            at += 1
        if kind in ("NUMERICAL", "NM"):
            for _, answer, _ in alternatives:
                assert re.fullmatch(f"{NUMBER}(?::{NUMBER})?", answer), answer
        found.append((weight, kind, alternatives))
        position = at + 1
    return found


def _worksheet_with_credit(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(WORKSHEET.read_text())
    raw["credit"] = {"forgot_bias": 0.5, "flip": 0.25, "dropped_plus_one": 0.75}
    raw.update(changes)
    path = tmp_path / "worksheet.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def _blank_values(kind: str, value: object) -> list[object]:
    value = plain_answer(value)
    if kind == "matrix":
        return [cell for row in value for cell in row]  # type: ignore[union-attr]
    if kind in ("shape", "pair"):
        return list(value)  # type: ignore[call-overload]
    return [value]


def _expected_blanks(variant):  # the key and slips per blank, from cnncalc's key and catalogue
    blanks = []
    for q in variant.problem.questions:
        if q.kind == "manual":
            continue
        keys = _blank_values(q.kind, variant.key[q.id].value)
        slips: list[list[tuple[float, float, str]]] = [[] for _ in keys]
        for c in candidates(variant.key, q):
            values = _blank_values(q.kind, c.value)
            if len(values) != len(keys):
                continue
            for i, (v, k) in enumerate(zip(values, keys)):
                if v != k and all(v != s[0] for s in slips[i]):
                    slips[i].append((float(v), 100 * q.credit.get(c.rule, 0.0), c.message))
        blanks += [(q, float(k), s) for k, s in zip(keys, slips)]
    return blanks


def test_moodle_bank_round_trips_every_answer_and_credit(tmp_path):
    problem = _worksheet_with_credit(tmp_path)
    out = tmp_path / "bank.xml"
    assert export_quiz(str(problem), str(out), "moodle", seed=5, count=3).variants == 3
    root = ET.parse(out).getroot()
    assert root.tag == "quiz"
    category, *questions = root.findall("question")
    assert category.get("type") == "category"
    assert category.findtext("category/text") == "$course$/top/cnncalc/cnn-layers-worksheet v1"
    assert [q.get("type") for q in questions] == ["cloze"] * 3
    raw = safeload.load_file(str(problem))
    credits_seen = set()
    for element in questions:
        name = element.findtext("name/text")
        fingerprint, label = re.search(r"\[cnncalc ([0-9a-f]{10}) (\S+)\]", name).groups()
        variant = rebuild(raw, str(problem), label, None)
        assert variant.fingerprint == fingerprint
        text = element.findtext("questiontext/text")
        subquestions = cloze_subquestions(text)
        expected = _expected_blanks(variant)
        assert len(subquestions) == len(expected) == 2 + 3 + 16 + 9 + 1 + 1 + 1
        for (weight, kind, alternatives), (q, key, slips) in zip(subquestions, expected):
            assert kind == "NUMERICAL"
            (fraction, answer, _feedback), *rest = alternatives
            assert fraction == 100 and float(answer.split(":")[0]) == key
            assert [(float(a.split(":")[0]), f, html.unescape(m)) for f, a, m in rest] == slips
            credits_seen |= {f for f, _, _ in rest}
        # weights in the ratio of the points: a.shape is 0.125 over 2 axes, b.relu 0.25 over 16 cells
        weights = [w for w, _, _ in subquestions]
        assert weights[0] / weights[5] == 4
        assert sum(weights[0:2]) / weights[2] == 1  # a.shape (2 axes) weighs as much as one cell question
        solution = element.findtext("generalfeedback/text")
        assert html.unescape(variant.key["c.total_params"].solution[-1]) in html.unescape(solution)
        files = element.findall("questiontext/file")
        assert files and all(f.get("encoding") == "base64" and f"@@PLUGINFILE@@/{f.get('name')}" in text
                             for f in files)
    assert {50.0, 25.0, 0.0} <= credits_seen  # forgot_bias, flip, and slips without credit


HOSTILE = "x]]>y <b>bold</b> {1:NUMERICAL:=5} #~=:\\ &amp; [b1] ${b} \x01 {{params.tag}}"


def _hostile(tmp_path: Path) -> Path:
    raw = yaml.safe_load(WORKSHEET.read_text())
    raw["id"] = "evil/]]>{1:SA:=x}"
    raw["title"] = HOSTILE
    raw["instructions"] = HOSTILE
    raw["parts"][0]["prompt"] = HOSTILE
    raw["parts"][0]["questions"][0]["prompt"] = HOSTILE
    raw["parts"][0]["questions"][0]["id"] = "a.}{#~"
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def test_hostile_text_cannot_break_any_export(tmp_path):
    problem = _hostile(tmp_path)
    moodle = tmp_path / "bank.xml"
    export_quiz(str(problem), str(moodle), "moodle", seed=1, count=2)
    root = ET.parse(moodle).getroot()  # well-formed despite "]]>", "<b>" and a control character
    for element in root.findall("question[@type='cloze']"):
        text = element.findtext("questiontext/text")
        assert len(cloze_subquestions(text)) == 33  # the prompt's "{1:NUMERICAL:=5}" is text, not a 34th
        assert "&#123;1&#58;NUMERICAL&#58;&#61;5&#125;" in text and "<b>" not in text
    assert root.find("question/category/text").text.startswith("$course$/top/cnncalc/evil//]]>")
    canvas = tmp_path / "quiz.zip"
    export_quiz(str(problem), str(canvas), "canvas", seed=1, count=2)
    with zipfile.ZipFile(canvas) as archive:
        names = archive.namelist()
        assessment = ET.fromstring(archive.read(next(n for n in names if n.endswith(".xml") and "/" in n
                                                     and not n.startswith("web_"))))
    for item in assessment.iter(f"{QTI}item"):
        text = item.find(f"{QTI}presentation/{QTI}material/{QTI}mattext").text
        blanks = re.findall(r"\[(b\d+)\]", text)
        responses = [r.get("ident") for r in item.iter(f"{QTI}response_lid")]
        assert [f"response_{b}" for b in blanks] == responses and len(blanks) == 33
    pl = tmp_path / "pl"
    folder = export_quiz(str(problem), str(pl), "prairielearn", seed=1, count=2).path
    assert folder.parent == pl and re.fullmatch(r"[A-Za-z0-9_-]+", folder.name)
    page = (folder / "question.html").read_text()
    assert page.count("<pl-number-input") == 2 + 3 + 1 + 1 + 1 and page.count("<pl-matrix-input") == 2
    assert "<b>" not in page and "{{params.tag}}" in page and page.count("{{params.tag}}") == 1
    variants = json.loads((folder / "variants.json").read_text())
    assert "{{" not in json.dumps([v["html"] for v in variants])  # no mustache from the author's text


def _canvas_assessment(path: Path) -> tuple[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".xml") and "/" in n and not n.startswith("web_"))
        return name, archive.read(name)


def test_canvas_qti_meets_the_ims_qti_asi_schema(tmp_path):
    """The assessment file of a Canvas package, plain and with hostile author text, against IMS QTI ASI 1.2's
    own XSD (tests/data/lms/ims_qtiasiv1p2.xsd; source in SOURCE.md), read by xmlschema."""
    xmlschema = pytest.importorskip("xmlschema")
    schema = xmlschema.XMLSchema(str(DATA / "ims_qtiasiv1p2.xsd"))
    plain, hostile = tmp_path / "quiz.zip", tmp_path / "hostile.zip"
    export_quiz(str(_worksheet_with_credit(tmp_path)), str(plain), "canvas", seed=3, count=2)
    export_quiz(str(_hostile(tmp_path)), str(hostile), "canvas", seed=1, count=2)
    for path in (plain, hostile):
        _, document = _canvas_assessment(path)
        errors = list(schema.iter_errors(document.decode("utf-8")))
        assert not errors, errors[0]
        root = ET.fromstring(document)
        assert len(root.findall(f"{QTI}assessment/{QTI}section/{QTI}section/{QTI}item")) == 2
    # the schema does refuse a broken file: an item without its required ident
    broken = document.decode("utf-8").replace("<item ident=", "<item label=", 1)
    assert not schema.is_valid(broken)


def test_prairielearn_info_json_meets_the_published_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((DATA / "infoQuestion.json").read_text())
    folder = export_quiz(str(WORKSHEET), str(tmp_path), "prairielearn", seed=2, count=4).path
    info = json.loads((folder / "info.json").read_text())
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(info)
    assert info["type"] == "v3" and info["singleVariant"] is False
    with pytest.raises(jsonschema.ValidationError):  # the schema does refuse a broken file
        jsonschema.Draft7Validator(schema).validate({**info, "uuid": "not-a-uuid"})


def _server(folder: Path):
    spec = importlib.util.spec_from_file_location(f"pl_server_{id(folder)}", folder / "server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data(seed: int) -> dict:
    return {"variant_seed": seed, "params": {}, "correct_answers": {}, "submitted_answers": {}, "score": 0,
            "partial_scores": {}, "feedback": {}}


def test_prairielearn_server_draws_a_variant_and_grades_with_the_slips_credit(tmp_path):
    problem = _worksheet_with_credit(tmp_path)
    folder = export_quiz(str(problem), str(tmp_path / "pl"), "prairielearn", seed=7, count=3).path
    server = _server(folder)
    raw = safeload.load_file(str(problem))
    for seed in (0, 1, 2, 12345):
        data = _data(seed)
        server.generate(data)
        label = re.search(r"\[cnncalc [0-9a-f]{10} (\S+)\]", data["params"]["tag"]).group(1)
        assert label == f"variant-7-{seed % 3}"
        variant = rebuild(raw, str(problem), label, None)
        key = variant.key
        assert [data["correct_answers"]["q0_1"], data["correct_answers"]["q0_2"]] == key["a.shape"].value
        assert data["correct_answers"]["q6"] == key["c.total_params"].value
        assert data["correct_answers"]["q4"] == plain_answer(key["b.relu"].value)
        data["submitted_answers"] = dict(data["correct_answers"])
        server.grade(data)
        assert data["score"] == 1
        bias = next(c for c in candidates(key, variant.problem.question("a.col4_row4")) if c.rule == "forgot_bias")
        data["submitted_answers"]["q1"] = plain_answer(bias.value)
        cells = plain_answer(key["b.pool"].value)
        cells[0][0] += 1000  # one of nine cells wrong: 8/9 of b.pool's points
        data["submitted_answers"]["q5"] = cells
        server.grade(data)
        assert data["partial_scores"]["q1"]["score"] == 0.5 and "bias" in data["partial_scores"]["q1"]["feedback"]
        assert data["partial_scores"]["q5"]["score"] == pytest.approx(8 / 9)
        lost = 0.125 * 0.5 + 0.25 / 9
        assert data["score"] == pytest.approx((2 - lost) / 2)


def test_lms_export_without_the_secret_refuses_in_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cnncalc.cli import app

    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    result = CliRunner().invoke(app, ["generate", str(WORKSHEET), "--format", "moodle", "--count", "2", "-o",
                                      str(tmp_path / "bank.xml")])
    assert result.exit_code == 2 and "no course secret" in result.stderr and not (tmp_path / "bank.xml").exists()
    monkeypatch.setenv("CNNCALC_SECRET", "a test secret of enough bytes")
    result = CliRunner().invoke(app, ["generate", str(WORKSHEET), "--format", "moodle", "--count", "2", "-o",
                                      str(tmp_path / "bank.xml")])
    assert result.exit_code == 0, result.output
    assert "2 variant(s)" in result.stdout
    assert re.findall(r"\[cnncalc [0-9a-f]{10} (lms-\d+)\]", (tmp_path / "bank.xml").read_text()) == [
        "lms-0001", "lms-0002"]


def test_moodle_responses_are_graded_as_the_same_answers_in_answer_files(tmp_path):
    from cnncalc.exercises.grading import grade_file
    from cnncalc.exercises.lms.common import quiz_variant
    from cnncalc.exercises.service import grade

    problem = _worksheet_with_credit(tmp_path, follow_through=0.5)
    raw = safeload.load_file(str(problem))
    variants = [rebuild(raw, str(problem), f"variant-4-{i}", None) for i in range(2)]
    # two attempts in the layout of Moodle's Responses report (tests/data/lms/moodle-responses.csv)
    header = (DATA / "moodle-responses.csv").read_text().splitlines()[0]
    lines = [header]
    answer_sets = []
    for n, variant in enumerate(variants):
        answers = {q.id: plain_answer(variant.key[q.id].value) for q in variant.problem.questions if q.kind != "manual"}
        bias = next(c for c in candidates(variant.key, variant.problem.question("a.col3_row2")) if c.rule == "forgot_bias")
        answers["a.col3_row2"] = plain_answer(bias.value)
        answers["c.total_params"] = answers["c.total_params"] + 1
        answers.pop("d.params")
        answer_sets.append(answers)
        quiz = quiz_variant(variant)
        values = []
        for blank in quiz.blanks:
            value = answers.get(blank.qid)
            for i in blank.position:
                value = value[i]
            values.append("" if value is None else str(value))
        response = "; ".join(f"part {i}: {v}" for i, v in enumerate(values, 1))
        text = f"Exercise … [cnncalc {variant.fingerprint} {variant.label}] …"
        lines.append(f'Lovelace,Ada{n},s{n}@example.org,s{n},Finished,"6 December 2026  10:00 AM",'
                     f'"6 December 2026  10:20 AM",20 mins,1.50,"{text}","{response}"')
    csv_path = tmp_path / "responses.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    run = grade(str(problem), [], from_lms=str(csv_path))
    assert [r.student for r in run.results] == ["s0", "s1"] and run.exit_code == 0
    for n, (variant, result) in enumerate(zip(variants, run.results)):
        path = tmp_path / f"s{n}.yaml"
        path.write_text(yaml.safe_dump({"student": f"s{n}", "answers": answer_sets[n]}))
        alone = grade_file(variant.problem, variant.key, path)
        got = [(q.id, q.score, q.status, q.feedback, q.diagnosis) for q in result.questions]
        assert got == [(q.id, q.score, q.status, q.feedback, q.diagnosis) for q in alone.questions]
        by_id = {q.id: q for q in result.questions}
        assert by_id["a.col3_row2"].score == 0.0625 and by_id["a.col3_row2"].diagnosis.rule == "forgot_bias"
        assert by_id["d.params"].status == "missing"


def test_moodle_responses_of_secret_variants_need_the_secret(tmp_path, monkeypatch):
    from cnncalc.errors import CnnCalcError
    from cnncalc.exercises.service import grade

    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    header = (DATA / "moodle-responses.csv").read_text().splitlines()[0]
    path = tmp_path / "r.csv"
    path.write_text(header + '\nL,A,a@x,s1,Finished,x,y,1 min,0,"[cnncalc 0123456789 lms-0001]","part 1: 4"\n')
    with pytest.raises(CnnCalcError, match="drawn from the course secret"):
        grade(str(WORKSHEET), [], from_lms=str(path))
