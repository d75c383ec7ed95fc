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
