"""The practice sheet in headless Chromium: the keys typed as a student types them are all green and score
full marks; a slip's answer is named with its rule; an unreadable answer says why; hints and worked
solutions open on request; no console error and no network request. Skipped where no Chromium is
installed (see tests/test_answer_form.py for the DevTools pipe)."""

from __future__ import annotations

import json

import pytest
from test_answer_form import BROWSER, SHELL, Browser
from test_answer_form_all import Page
from test_practice import answer_text

from cnncalc.exercises.practice import generate
from cnncalc.exercises.service import practice_sheet

TYPE = """
(function (texts) {
  document.querySelectorAll('.answer[data-qid]').forEach(function (block) {
    block.querySelector('input, textarea').value = texts[block.dataset.qid] || '';
  });
  document.getElementById('check-all').click();
})(%s)
"""
VERDICTS = "Array.from(document.querySelectorAll('.verdict')).map(function (p) { return p.textContent; })"


@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    if BROWSER is None or SHELL is None:
        pytest.skip("no Chromium (or no bash to start it with the DevTools pipe) installed")
    browser = Browser(tmp_path_factory.mktemp("chrome") / "profile")
    try:
        yield browser
    finally:
        browser.close()


def test_the_sheet_checks_answers_in_the_browser(chrome, tmp_path):
    sheet = tmp_path / "practice.html"
    written = practice_sheet(10, str(sheet), level=5, seed=77)
    questions = written.questions
    assert [q.as_dict() for q in questions] == [q.as_dict() for q in generate(count=10, level=5, seed=77)]
    assert len({q.kind for q in questions}) >= 4  # shapes, counts, maps or pairs, sizes…
    page = Page(chrome, sheet)
    try:
        page.run(TYPE % json.dumps({q.id: answer_text(q.kind, q.key) for q in questions}))
        assert page.run("document.querySelectorAll('.answer.right').length") == 10
        assert page.run("document.getElementById('score').textContent") == "score: 10 / 10"
        # a slip's answer is named; another wrong answer is only wrong; text that is no answer says why
        slipped = {q.id: q.slips()[0] for q in questions if q.slips()}
        assert len(slipped) >= 5
        texts = {q.id: answer_text(q.kind, slipped[q.id].value) if q.id in slipped else "not a number"
                 for q in questions}
        page.run(TYPE % json.dumps(texts))
        verdicts = page.run(VERDICTS)
        for q, verdict in zip(questions, verdicts):
            if q.id in slipped:
                assert verdict.startswith("✗ not right: ") and f"[{slipped[q.id].rule}]" in verdict, verdict
                assert slipped[q.id].message in verdict
            else:
                assert verdict.startswith("cannot read that: "), verdict
        assert page.run("document.querySelectorAll('.answer.right').length") == 0
        assert page.run("document.getElementById('score').textContent") == "score: 0 / 10"
        # the hint and the worked solution are there on request
        page.run("document.querySelector('#q1 details.solution').open = true")
        shown = page.run("document.querySelector('#q1 details.solution').innerText")
        assert all(line in shown for line in questions[0].solution)
        assert page.complaints() == []
    finally:
        page.close()


def as_written(key: str) -> str:
    """A solver's expression as a student writes it: ``out = ⌊(n + 1)/2⌋ − 1`` for ``floor((n + 1)/2) - 1``."""
    if "floor(" in key:
        start = key.index("floor(")
        depth = 0
        for end in range(start + 5, len(key)):
            depth += {"(": 1, ")": -1}.get(key[end], 0)
            if depth == 0:
                break
        key = key[:start] + "⌊" + key[start + 6:end] + "⌋" + key[end + 1:]
    return "out = " + key.replace(" - ", " − ")


def test_expressions_and_yes_or_no_are_checked_in_the_browser(chrome, tmp_path):
    """An expression is compared at the grader's points, in any form the grader reads (⌊…⌋, −, "out ="); a
    yes/no answer in any of its words; what the grader says of each form, the page says too."""
    sheet = tmp_path / "formulas.html"
    questions = practice_sheet(6, str(sheet), level=5, topic=["formula", "valid"], seed=5).questions
    assert {q.kind for q in questions} == {"expression", "yesno"}
    assert any("floor" in q.key for q in questions if q.kind == "expression")
    page = Page(chrome, sheet)
    try:
        for texts, score in (({q.id: answer_text(q.kind, q.key) for q in questions}, 6),
                             ({q.id: as_written(q.key) if q.kind == "expression" else {"yes": "Valid", "no": "n"}[q.key]
                               for q in questions}, 6),
                             ({q.id: "n + 1" if q.kind == "expression" else {"yes": "no", "no": "yes"}[q.key]
                               for q in questions}, 0)):
            assert [q.grade(texts[q.id]).status == "correct" for q in questions].count(True) == score, texts
            page.run(TYPE % json.dumps(texts))
            assert page.run("document.getElementById('score').textContent") == f"score: {score} / 6", texts
        assert page.complaints() == []
    finally:
        page.close()
