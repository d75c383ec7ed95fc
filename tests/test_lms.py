"""Quiz exports for Moodle, Canvas and PrairieLearn, each read back by a reader of its own (not the writer):
Moodle's Cloze syntax by a strict checker written from Moodle's documented grammar (no maintained Python
parser of Moodle XML exists on PyPI: moodle-xml-parser 0.3.1 finds subquestions with the regex ``\\{.*?}``,
which an escaped ``}`` already defeats), PrairieLearn's info.json by its published JSON schema, its
server.py by running it as PrairieLearn does; round trips check every answer and credit against cnncalc's
key and slip catalogue."""

from __future__ import annotations

import csv
import html
import importlib.util
import io
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


def test_canvas_quiz_round_trips_every_answer_and_credit(tmp_path):
    """Each blank of each item read back from the QTI file: the key's answer and each slip's, and the score
    each adds (the blank's share of the points times the author's credit), against cnncalc's key and rules."""
    problem = _worksheet_with_credit(tmp_path)
    out = tmp_path / "quiz.zip"
    assert export_quiz(str(problem), str(out), "canvas", seed=5, count=2).variants == 2
    root = ET.fromstring(_canvas_assessment(out)[1])
    raw = safeload.load_file(str(problem))
    items = root.findall(f"{QTI}assessment/{QTI}section/{QTI}section/{QTI}item")
    assert len(items) == 2
    credits_seen = set()
    for item in items:
        fingerprint, label = re.search(r"\[cnncalc ([0-9a-f]{10}) (\S+)\]", item.get("title")).groups()
        variant = rebuild(raw, str(problem), label, None)
        assert variant.fingerprint == fingerprint
        expected = _expected_blanks(variant)
        per_question = {q.id: sum(1 for p, _, _ in expected if p.id == q.id) for q, _, _ in expected}
        total = sum(q.points for q in variant.problem.questions)
        fields = {f.findtext(f"{QTI}fieldlabel"): f.findtext(f"{QTI}fieldentry")
                  for f in item.iter(f"{QTI}qtimetadatafield")}
        assert fields == {"question_type": "fill_in_multiple_blanks_question", "points_possible": "2"}
        adds = {}
        for condition in item.iter(f"{QTI}respcondition"):
            equal = condition.find(f"{QTI}conditionvar/{QTI}varequal")
            adds[(equal.get("respident"), equal.text)] = float(condition.findtext(f"{QTI}setvar"))
        lids = item.findall(f"{QTI}presentation/{QTI}response_lid")
        assert len(lids) == len(expected) == 33
        for lid, (q, key, slips) in zip(lids, expected):
            (key_id, key_text), *rest = [(label.get("ident"), label.findtext(f"{QTI}material/{QTI}mattext"))
                                         for label in lid.iter(f"{QTI}response_label")]
            assert float(key_text) == key
            assert [float(text) for _, text in rest] == [value for value, _, _ in slips]
            share = 100 * q.points / per_question[q.id] / total
            respident = lid.get("ident")
            assert adds[(respident, key_id)] == pytest.approx(share, rel=1e-6)
            assert [adds[(respident, i)] for i, _ in rest] == pytest.approx(
                [share * credit / 100 for _, credit, _ in slips], rel=1e-6)
            credits_seen |= {credit for _, credit, _ in slips}
        solution = item.find(f"{QTI}itemfeedback[@ident='general_fb']/{QTI}flow_mat/{QTI}material/{QTI}mattext").text
        assert html.unescape(variant.key["c.total_params"].solution[-1]) in html.unescape(solution)
    assert {50.0, 25.0, 0.0} <= credits_seen


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


FIXTURE_LABELS = ("variant-4-0", "variant-4-1", "variant-4-2")  # the variants of s0, s1, s2 in the fixtures


def intended_answers(variant, n: int) -> dict:
    """What student ``s{n}`` of tests/data/lms/*.csv answered: s0 every key, s1 the bias left out of one cell
    (a named slip) and a wrong parameter count, s2 no answer to d.params (an empty blank)."""
    answers = {q.id: plain_answer(variant.key[q.id].value) for q in variant.problem.questions if q.kind != "manual"}
    if n == 1:
        bias = next(c for c in candidates(variant.key, variant.problem.question("a.col3_row2"))
                    if c.rule == "forgot_bias")
        answers["a.col3_row2"] = plain_answer(bias.value)
        answers["c.total_params"] += 1
    if n == 2:
        answers.pop("d.params")
    return answers


def blank_texts(variant, answers: dict) -> list[str]:
    """The answers as the export's blanks, in order (a map cell by cell, a shape axis by axis)."""
    from cnncalc.exercises.lms.common import quiz_variant

    texts = []
    for blank in quiz_variant(variant).blanks:
        value = answers.get(blank.qid)
        for i in blank.position:
            value = value[i]
        texts.append("" if value is None else str(value))
    return texts


def fixture_problem(tmp_path: Path) -> Path:
    """The problem tests/data/lms/*.csv were answered on (its variants' fingerprints are in them)."""
    return _worksheet_with_credit(tmp_path, follow_through=0.5)


def _fixture_variants(problem: Path) -> list:
    raw = safeload.load_file(str(problem))
    return [rebuild(raw, str(problem), label, None) for label in FIXTURE_LABELS]


@pytest.mark.parametrize("report", ["moodle-responses.csv", "canvas-student-analysis.csv"])
def test_lms_responses_are_graded_as_the_same_answers_in_answer_files(tmp_path, report):
    from cnncalc.exercises.grading import grade_file
    from cnncalc.exercises.service import grade

    problem = fixture_problem(tmp_path)
    variants = _fixture_variants(problem)
    run = grade(str(problem), [], from_lms=str(DATA / report))
    assert [r.student for r in run.results] == ["s0", "s1", "s2"] and run.exit_code == 0
    assert [r.variant for r in run.results] == [v.fingerprint for v in variants]
    for n, (variant, result) in enumerate(zip(variants, run.results)):
        path = tmp_path / f"s{n}.yaml"
        path.write_text(yaml.safe_dump({"student": f"s{n}", "answers": intended_answers(variant, n)}))
        alone = grade_file(variant.problem, variant.key, path)
        got = [(q.id, q.score, q.status, q.feedback, q.diagnosis) for q in result.questions]
        assert got == [(q.id, q.score, q.status, q.feedback, q.diagnosis) for q in alone.questions]
    assert run.results[0].score == run.results[0].max == 2
    slipped = {q.id: q for q in run.results[1].questions}
    assert slipped["a.col3_row2"].score == 0.0625 and slipped["a.col3_row2"].diagnosis.rule == "forgot_bias"
    assert slipped["c.total_params"].status == "incorrect"
    assert {q.id: q for q in run.results[2].questions}["d.params"].status == "missing"


def test_canvas_blanks_split_at_unescaped_commas_and_a_lost_blank_is_refused():
    from cnncalc.errors import CnnCalcError
    from cnncalc.exercises.lms.responses import canvas_parts, moodle_parts

    assert canvas_parts("4,,-3.5", 3) == {1: "4", 2: "", 3: "-3.5"}
    assert canvas_parts("1\\,5,2", 2) == {1: "1,5", 2: "2"}  # Canvas writes a comma inside as \,
    assert canvas_parts("", 3) == {1: "", 2: "", 3: ""} and canvas_parts("7, 8", 1) == {1: "7, 8"}
    with pytest.raises(CnnCalcError, match="2 blank"):
        canvas_parts("4,5", 3)
    assert moodle_parts("part 1: 4; part 2: ; part 3: 9") == {1: "4", 2: "", 3: "9"}


def test_grade_from_records_in_the_course_with_overrides_feedback_and_stats(tmp_path, monkeypatch):
    from cnncalc.course.course import init_course, open_course
    from cnncalc.course.grading import grade_in_course

    problem = fixture_problem(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email,section\ns0,Ada,a@x.org,A\ns1,Bo,b@x.org,A\ns2,Cy,c@x.org,B\n")
    init_course(tmp_path / "course", roster)
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("overrides:\n  - {student: s1, question: c.total_params, score: 0.5, comment: typo}\n")
    report = DATA / "canvas-student-analysis.csv"
    run = grade_in_course(tmp_path / "course", str(problem), [], from_lms=str(report), overrides=str(overrides),
                          feedback_dir=str(tmp_path / "fb"), stats=True)
    assert run.exit_code == 0 and len(run.recorded.recorded) == 3
    assert {q.id: q for q in run.results[1].questions}["c.total_params"].score == 0.5
    assert run.stats is not None and sorted(p.name for p in (tmp_path / "fb").iterdir()) == [
        "s0.md", "s1.md", "s2.md"]
    with open_course(tmp_path / "course") as course:
        rows = course.db.execute("SELECT student_id, file_name, score FROM submissions ORDER BY student_id").fetchall()
    assert [(r[0], r[1]) for r in rows] == [(f"s{n}", report.name) for n in range(3)]
    assert rows[0][2] == 2 and rows[1][2] == run.results[1].score


def test_hostile_or_foreign_reports_are_refused_in_one_line(tmp_path):
    from cnncalc.errors import CnnCalcError
    from cnncalc.exercises.service import grade

    cases = {"not-csv.csv": b"\xff\xfe\x00garbage", "other.csv": b"a,b,c\n1,2,3\n",
             "untagged.csv": b"name,id,section,section_id,submitted,1: plain question,1.0,n correct,n incorrect,score\n"
                             b"Ada,7,A,1,2026,5,1,1,0,1\n"}
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(CnnCalcError) as error:
            grade(str(WORKSHEET), [], from_lms=str(path))
        assert "\n" not in str(error.value)
    # an answer that lost a blank is its attempt's error (invalid, named by row), not the batch's
    text = (DATA / "canvas-student-analysis.csv").read_text()
    rows = list(csv.reader(io.StringIO(text)))
    rows[1][8] = "4,4"  # s0's answer to variant-4-0 with 2 of its 33 blanks
    path = tmp_path / "lost.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    run = grade(str(fixture_problem(tmp_path)), [], from_lms=str(path))
    assert run.exit_code == 1 and run.results[0].error and "2 blank(s) for the variant's 33" in run.results[0].error
    assert run.results[0].file == "lost.csv:2" and [r.error for r in run.results[1:]] == [None, None]


def test_moodle_responses_of_secret_variants_need_the_secret(tmp_path, monkeypatch):
    from cnncalc.errors import CnnCalcError
    from cnncalc.exercises.service import grade

    monkeypatch.delenv("CNNCALC_SECRET", raising=False)
    header = (DATA / "moodle-responses.csv").read_text().splitlines()[0]
    path = tmp_path / "r.csv"
    path.write_text(header + '\nL,A,a@x,s1,Finished,x,y,1 min,0,"[cnncalc 0123456789 lms-0001]","part 1: 4"\n')
    with pytest.raises(CnnCalcError, match="drawn from the course secret"):
        grade(str(WORKSHEET), [], from_lms=str(path))


def _moodle_by_elementtree(variants) -> bytes:
    """The bank as ElementTree writes it (the writer before it was text joins): the same bytes are asked of
    moodle_xml, so its own escaping and indentation stay ElementTree's."""
    import base64

    from cnncalc.exercises.lms.common import body_html, category_name, figures, solution_html, xml_text
    from cnncalc.exercises.lms.moodle import cloze, weights

    def text(parent, tag, value, **attributes):
        element = ET.SubElement(parent, tag, attributes)
        ET.SubElement(element, "text").text = xml_text(value)
        return element

    quiz = ET.Element("quiz")
    name = category_name(variants[0].variant)
    category = ET.SubElement(quiz, "question", {"type": "category"})
    text(category, "category", "$course$/top/cnncalc/" + name.replace("/", "//"))
    text(category, "info", f"Variants of {name} written by cnncalc: draw one at random per student.", format="html")
    for variant in variants:
        drawn = figures(variant.variant)
        weight = weights(variant.blanks)
        element = ET.SubElement(quiz, "question", {"type": "cloze"})
        text(element, "name", variant.name)
        body = body_html(variant, lambda b, weight=weight: cloze(b, weight[b.label]), lambda n: f"@@PLUGINFILE@@/{n}",
                         [n for n, _ in drawn])
        questiontext = text(element, "questiontext", body, format="html")
        for file_name, svg in drawn:
            ET.SubElement(questiontext, "file", {"name": file_name, "path": "/", "encoding": "base64"}).text = \
                base64.b64encode(svg.encode("utf-8")).decode("ascii")
        text(element, "generalfeedback", solution_html(variant), format="html")
        ET.SubElement(element, "penalty").text = "0"
        ET.SubElement(element, "hidden").text = "0"
    ET.indent(quiz, space=" ")
    return ET.tostring(quiz, encoding="utf-8", xml_declaration=True) + b"\n"


def test_moodle_bank_is_the_bytes_elementtree_writes(tmp_path):
    from cnncalc.exercises.lms.common import quiz_variant
    from cnncalc.exercises.lms.export import draw_variants
    from cnncalc.exercises.lms.moodle import moodle_xml

    for problem in (WORKSHEET, _hostile(tmp_path)):
        raw = safeload.load_file(str(problem))
        if problem != WORKSHEET:  # line ends and a tab, which ElementTree writes as they are in text
            raw["title"] += " \r\n\tend\r"
        variants = [quiz_variant(v) for v in draw_variants(raw, str(problem), 3, seed=5)]
        assert moodle_xml(variants) == _moodle_by_elementtree(variants)
    assert moodle_xml([]) == b"<?xml version='1.0' encoding='utf-8'?>\n<quiz />\n"
