"""Every question of every shipped problem through the HTML answer form, in headless Chromium (one
browser for the whole module, one page per problem):

- the key typed in the forms a student writes it (``62x62x8``, ``1,234``, ``12–40``, a map as rows of
  text, ``p = (f - 1)/2``…) → the file the page saves gets full marks from ``cnncalc grade``;
- a wrong answer to every question → no question is correct and the file is short of full marks;
- no placeholder, label or example of the form shows the key (an example typed in is not correct);
- nothing on the page is cut or overlaps: every element's content fits its box, no text is ellipsised,
  no figure's text leaves its figure or covers another, the page's blocks do not overlap, headings read
  ``a) (0.5 p)`` or ``same (1 p)``; no console error and no network request;
- the form's reader reads the table of texts of tests/test_answer_kinds.py as the grader does.

Skipped where no Chromium is installed (see tests/test_answer_form.py for the DevTools pipe)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from test_answer_form import BROWSER, SECRET, SHELL, Browser, _evaluate, _wait_for_file
from test_answer_kinds import INVALID, TEXT_FORMS
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.exercises import answers
from cnncalc.exercises.problem import load_problem

ROOT = Path(__file__).parent.parent
PROBLEMS = sorted((ROOT / "problems").glob("*.yaml"))
STUDENT = "ada"
WIDTH = 1000  # px of the window: the sheet's column is 60em of it


@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    if BROWSER is None or SHELL is None:
        pytest.skip("no Chromium (or no bash to start it with the DevTools pipe) installed")
    browser = Browser(tmp_path_factory.mktemp("chrome") / "profile")
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """One student's HTML sheet and key of every shipped problem: {problem stem: folder}, and the secret."""
    folder = tmp_path_factory.mktemp("generated")
    secret = folder / "course.key"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    roster = folder / "roster.csv"
    roster.write_text(f"student\n{STUDENT}\n")
    runner = CliRunner()
    out = {}
    for path in PROBLEMS:
        out[path.stem] = folder / path.stem
        result = runner.invoke(app, ["generate", str(path), "--roster", str(roster), "--secret-file", str(secret),
                                     "--out", str(out[path.stem]), "--format", "html"])
        assert result.exit_code == 0, result.output
    return out, secret


class Page:
    """One sheet open in its own tab, with its console and network watched."""

    def __init__(self, browser: Browser, sheet: Path) -> None:
        self.browser = browser
        self.url = sheet.as_uri()
        self.target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": self.target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=self.session)
        browser.send("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": 900, "deviceScaleFactor": 1,
                                                            "mobile": False}, session=self.session)
        browser.events.clear()
        browser.send("Page.navigate", {"url": self.url}, session=self.session)
        while browser.wait_event("Page.loadEventFired").get("sessionId") != self.session:
            pass

    def run(self, expression: str):
        return _evaluate(self.browser, self.session, expression)

    def save(self, texts: dict[str, str], folder: Path, fmt: str) -> Path:
        """Type the texts into the answer fields, save, and return the file the page made."""
        folder.mkdir()
        self.browser.send("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
        self.run(TYPE % json.dumps(texts))
        self.run(f"document.querySelector('input[name=format][value={fmt}]').click()")
        self.run("document.getElementById('save').click()")
        errors = self.run("Array.from(document.querySelectorAll('#form-errors li')).map(li => li.textContent)")
        assert errors == [], f"the form refused: {errors}"
        return _wait_for_file(folder)

    def complaints(self) -> list[str]:
        """Console errors, exceptions and requests for anything but the page itself (and its saved file)."""
        self.run("0")  # a round trip: every event sent before it has arrived
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                found.append(f"console {params['type']}: {[a.get('value') for a in params.get('args', [])]}")
            elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
                found.append(f"log: {params['entry'].get('text')}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if url != self.url and not url.startswith("blob:"):
                    found.append(f"request: {url}")
        return found

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})


TYPE = """
(function (texts) {
  document.querySelectorAll('.answer[data-qid]').forEach(function (block) {
    var box = block.querySelector('input, textarea');
    box.value = texts[block.dataset.qid] === undefined ? '' : texts[block.dataset.qid];
  });
})(%s)
"""

# What on the page could be cut or overlap, as a list of complaints (empty when all is well).
LAYOUT = r"""
(function () {
  var bad = [];
  function said(el) {
    var text = (el.textContent || el.getAttribute("placeholder") || "").trim().replace(/\s+/g, " ").slice(0, 50);
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " “" + text + "”";
  }
  function overlap(a, b) {
    return Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
           Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  }
  var root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) { bad.push("the page scrolls sideways: " + root.scrollWidth + " px"); }
  document.querySelectorAll("body *").forEach(function (el) {
    if (el.closest("svg") || el.closest("[hidden]") || el.closest("details:not([open]) > :not(summary)")) { return; }
    var style = getComputedStyle(el);
    if (style.display === "none" || style.display === "inline") { return; }
    if (style.textOverflow === "ellipsis") { bad.push("ellipsis: " + said(el)); }
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      bad.push("cut: " + said(el) + " needs " + el.scrollWidth + " px of " + el.clientWidth);
    }
  });
  var pen = document.createElement("canvas").getContext("2d");
  document.querySelectorAll("input[placeholder], textarea[placeholder]").forEach(function (box) {
    var style = getComputedStyle(box);
    pen.font = style.font;
    var room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    var lines = box.tagName === "TEXTAREA" ? +box.getAttribute("rows") : 1;
    if (pen.measureText(box.placeholder).width > room * lines) { bad.push("placeholder cut: " + said(box)); }
  });
  document.querySelectorAll("svg").forEach(function (svg, k) {
    var frame = svg.getBoundingClientRect(), texts = Array.from(svg.querySelectorAll("text"));
    var boxes = texts.map(function (t) { return t.getBoundingClientRect(); });
    boxes.forEach(function (r, i) {
      if (r.left < frame.left - 0.5 || r.right > frame.right + 0.5 || r.top < frame.top - 0.5 || r.bottom > frame.bottom + 0.5) {
        bad.push("figure " + (k + 1) + ": text cut: “" + texts[i].textContent + "”");
      }
      for (var j = 0; j < i; j++) {
        if (overlap(r, boxes[j])) {
          bad.push("figure " + (k + 1) + ": “" + texts[i].textContent + "” covers “" + texts[j].textContent + "”");
        }
      }
    });
  });
  var blocks = Array.from(document.querySelectorAll("body > *, #answer-form > *, .answer > *")).filter(function (el) {
    var r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && el.tagName !== "SCRIPT" && el.tagName !== "STYLE";
  });
  blocks.forEach(function (a, i) {
    blocks.slice(0, i).forEach(function (b) {
      if (a.parentNode === b.parentNode && overlap(a.getBoundingClientRect(), b.getBoundingClientRect())) {
        bad.push("overlap: " + said(a) + " and " + said(b));
      }
    });
  });
  document.querySelectorAll("h2").forEach(function (h) {
    var text = h.textContent.trim();
    if (text !== "Hand in" && !/^([A-Za-z0-9]{1,2}\)|[A-Za-z0-9_.-]{3,}) \(\d+(\.\d+)? p\)$/.test(text)) {
      bad.push("heading: " + text);
    }
  });
  return bad;
})()
"""

# What the form shows around each field, by question id.
SHOWN = """
(function () {
  var out = {};
  document.querySelectorAll('.answer[data-qid]').forEach(function (block) {
    var box = block.querySelector('input, textarea');
    out[block.dataset.qid] = {placeholder: box.placeholder, label: box.getAttribute('aria-label'),
                              example: block.dataset.example, text: block.textContent};
  });
  return out;
})()
"""


def _number_text(value, turn: int) -> str:
    """A number as a student may type it: 1,234 grouped, −3 with a true minus, 4,75 with a decimal comma."""
    value = float(value)
    if value.is_integer():
        text = f"{int(value):,}" if turn % 2 else str(int(value))
    else:
        text = repr(value)
        if turn % 2 and len(text.split(".")[1]) != 3 and "e" not in text:
            text = text.replace(".", ",")  # 4,75 (a comma before three digits could be thousands)
    return text.replace("-", "−") if turn % 3 == 2 else text


def typed(kind: str, value, turn: int) -> str:
    """The key of a question as text in one of the forms a student writes, chosen by ``turn``."""
    if kind in ("shape", "pair"):
        items = [str(int(v)) for v in value]
        forms = ["x".join(items), f"({', '.join(items)})", f"[{', '.join(items)}]", "×".join(items), ", ".join(items)]
        return forms[turn % (len(forms) if kind == "shape" else 2) + (0 if kind == "shape" else 1)]
    if kind == "sizes":
        return answers.size_text(list(value)) if turn % 2 else ", ".join(map(str, value))
    if kind == "matrix":
        rows = np.atleast_2d(np.asarray(value, dtype=float))
        return "\n".join((" " if turn % 2 else ", ").join(_number_text(v, turn + j) for j, v in enumerate(row))
                         for row in rows)
    if kind == "expression":
        return f"p = {value}" if turn % 2 else value
    return _number_text(value, turn)


def wrong(kind: str, value) -> str:
    """An answer to the question that is not its key (a map off in one cell)."""
    if kind in ("shape", "pair"):
        return ", ".join(str(int(v) + (k == 0)) for k, v in enumerate(value))
    if kind == "sizes":
        return ", ".join(map(str, [*value, max(value) + 1]))
    if kind == "matrix":
        rows = np.atleast_2d(np.asarray(value, dtype=float)).copy()
        rows[0, 0] += 1
        return "\n".join(" ".join(repr(float(v)) for v in row) for row in rows)
    if kind == "expression":
        return f"{value} + 1"
    return repr(float(value) + 1)


def _key_texts(kind: str, value) -> list[str]:
    """The key as text the form must not show."""
    if kind in ("shape", "pair"):
        items = [str(int(v)) for v in value]
        return [", ".join(items), "x".join(items), "×".join(items), ",".join(items)]
    if kind == "sizes":
        return [", ".join(map(str, value)), answers.size_text(list(value))]
    if kind == "matrix":
        rows, cols = np.atleast_2d(np.asarray(value)).shape
        return [f"{rows}×{cols}", f"{rows}x{cols}", f"{rows} × {cols}"]
    if kind == "expression":
        return [value, value.replace(" ", "")]
    return []


def _grade(cli, problem: Path, saved: Path, secret: Path) -> dict:
    code, out, err = cli("grade", str(problem), str(saved), "--secret-file", str(secret), "--format", "json")
    assert code == 0, err
    return json.loads(out)["results"][0]


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_every_question_through_the_form(path, chrome, generated, cli, tmp_path):
    folders, secret = generated
    problem = load_problem(path)
    document = json.loads((folders[path.stem] / "keys" / f"{STUDENT}.json").read_text())
    key = document["answers"]
    kinds = {q.id: q.kind for q in problem.questions}
    asked = [q.id for q in problem.questions if q.kind != "manual"]
    page = Page(chrome, folders[path.stem] / "sheets" / f"{STUDENT}.html")
    try:
        assert page.run("document.querySelectorAll('.answer[data-qid]').length") == len(asked)
        assert page.run(LAYOUT) == [], f"{path.stem}: cut or overlapping"

        shown = page.run(SHOWN)
        examples: dict[str, list[str]] = {}
        for qid in asked:
            words = " | ".join(str(v) for v in shown[qid].values()).replace(qid, "")
            for text in _key_texts(kinds[qid], key[qid]):
                assert text not in words, f"{path.stem} {qid}: the form shows the key ({text!r}): {words!r}"
            if kinds[qid] in ("count", "number", "value"):
                assert not re.search(rf"(?<![\d.]){re.escape(_number_text(key[qid], 0))}(?![\d.])", words), (
                    f"{path.stem} {qid}: the form shows the key {key[qid]}: {words!r}")
            placeholder = shown[qid]["placeholder"]
            examples[qid] = [placeholder.split("e.g. ", 1)[1]] if "e.g. " in placeholder else []
            if kinds[qid] in ("count", "number", "value"):
                examples[qid] += shown[qid]["example"].split(" or ")
        for turn in range(max(map(len, examples.values()))):
            tried = {qid: shown[turn] for qid, shown in examples.items() if len(shown) > turn}
            answered = tmp_path / f"examples-{turn}.json"
            answered.write_text(json.dumps({"student": STUDENT, "variant": document["variant"], "answers": tried}))
            result = _grade(cli, path, answered, secret)
            right = [(q["id"], tried[q["id"]]) for q in result["questions"] if q["status"] == "correct"]
            assert right == [], f"{path.stem}: an example the form shows is the answer: {right}"

        texts = {qid: typed(kinds[qid], key[qid], turn) for turn, qid in enumerate(asked)}
        fmt = "json" if PROBLEMS.index(path) % 2 else "yaml"
        result = _grade(cli, path, page.save(texts, tmp_path / "key", fmt), secret)
        assert result["student"] == STUDENT and not result.get("warnings"), result.get("warnings")
        shortfall = {q["id"]: (texts[q["id"]], q["feedback"]) for q in result["questions"] if q["score"] < q["max"]}
        assert result["score"] == result["max"] and not shortfall, f"{path.stem}: the key typed in: {shortfall}"

        texts = {qid: wrong(kinds[qid], key[qid]) for qid in asked}
        result = _grade(cli, path, page.save(texts, tmp_path / "wrong", fmt), secret)
        right = [q["id"] for q in result["questions"] if q["status"] == "correct"]
        assert right == [] and result["score"] < result["max"], f"{path.stem}: wrong answers marked right: {right}"

        assert page.complaints() == [], path.stem
    finally:
        page.close()


def test_the_form_reads_every_text_as_the_grader_does(chrome, generated):
    folders, _ = generated
    page = Page(chrome, folders[PROBLEMS[0].stem] / "sheets" / f"{STUDENT}.html")
    try:
        cases = [[kind, text] for kind, text, _ in TEXT_FORMS]
        read = page.run(f"{json.dumps(cases)}.map(function (c) {{ return window.cnncalcForm.parse(c[0], c[1], 'e.g.'); }})")
        assert page.complaints() == []
    finally:
        page.close()
    for (kind, text, reads), got in zip(TEXT_FORMS, read):
        if reads == INVALID:
            assert "error" in got, f"the form reads {text!r} ({kind}) as {got}; the grader refuses it"
            continue
        assert "error" not in got, f"the form refuses {text!r} ({kind}): {got['error']}"
        value = answers.sizes(got["value"]) if kind == "sizes" else got["value"]
        assert value == reads, f"{text!r} ({kind}): the form reads {value}, the grader {reads}"


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_a_slip_typed_in_the_form_is_named_by_its_rule(path, chrome, generated, cli, tmp_path):
    """For every question a slip of the catalogue applies to, its answer typed in the form: the saved
    file's question is diagnosed with that slip's rule (or another slip giving the same answer)."""
    slips = pytest.importorskip("cnncalc.exercises.slips")
    from cnncalc.exercises.variants import student_variant

    folders, secret = generated
    problem = load_problem(path)
    document = json.loads((folders[path.stem] / "keys" / f"{STUDENT}.json").read_text())
    variant = student_variant(problem.raw, str(path), SECRET, STUDENT)
    assert variant.fingerprint == document["variant"], "the sheet's variant, drawn again"
    texts, rules = {}, {}
    for turn, q in enumerate(variant.problem.questions):
        if q.kind == "manual":
            continue
        found = slips.candidates(variant.key, q)
        if not found:
            texts[q.id] = typed(q.kind, document["answers"][q.id], turn)
            continue
        texts[q.id] = typed(q.kind, found[0].value, turn)
        same = answers.read(q.kind, texts[q.id])
        rules[q.id] = {c.rule for c in found if _same(answers.read(q.kind, typed(q.kind, c.value, turn)), same)}
    if not rules:
        pytest.skip(f"no slip of the catalogue applies to {path.stem}")
    page = Page(chrome, folders[path.stem] / "sheets" / f"{STUDENT}.html")
    try:
        result = _grade(cli, path, page.save(texts, tmp_path / "slips", "yaml"), secret)
        assert page.complaints() == []
    finally:
        page.close()
    named = {q["id"]: (q.get("diagnosis") or {}).get("rule") for q in result["questions"]}
    wrong = {qid: (texts[qid], named[qid], sorted(allowed)) for qid, allowed in rules.items() if named[qid] not in allowed}
    assert wrong == {}, f"{path.stem}: slips typed in the form and the rule the grade named: {wrong}"


def _same(a, b) -> bool:
    return bool(np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object))) if not isinstance(a, str) \
        else a == b
