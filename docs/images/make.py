"""Regenerate the figures README.md shows: `python docs/images/make.py` (tests check they are current)."""

from __future__ import annotations

import html
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURES = {
    "lenet5.svg": ["draw", "lenet5"],
    "conv-n5-f3-p1-s2.svg": ["draw-conv", "--n", "5", "--f", "3", "--p", "1", "--s", "2"],
}
# README's practice screenshot: a terminal session with answers piped in (one slip, one right answer)
PRACTICE = ["practice", "--level", "2", "--topic", "shape", "--seed", "7", "--count", "2"]
PRACTICE_ANSWERS = "62x62x6\n2x2x8\n"


def practice_transcript() -> str:
    """What the command prints with these answers piped in, from the library function it calls (which
    echoes each piped answer after its prompt, as the command does when its input is not a terminal;
    tests/test_practice.py holds the command's own output to it)."""
    import io

    from cnncalc.exercises.service import practice

    output = io.StringIO()
    practice(int(PRACTICE[PRACTICE.index("--count") + 1]), level=int(PRACTICE[PRACTICE.index("--level") + 1]),
             topic=[PRACTICE[PRACTICE.index("--topic") + 1]], seed=int(PRACTICE[PRACTICE.index("--seed") + 1]),
             input=io.StringIO(PRACTICE_ANSWERS), output=output, echo=True)
    return output.getvalue()


def terminal_svg(text: str, command: str) -> str:
    """A terminal window as SVG: the command, then what it printed, one line of monospace text each."""
    lines = [f"$ {command}", *text.rstrip("\n").splitlines()]
    size, step, pad = 13, 17, 12
    width = pad * 2 + int(max(len(line) for line in lines) * size * 0.61)
    height = pad * 2 + step * len(lines)
    colours = {"✓": "#7ec97e", "✗": "#f08080", "$": "#9ecbff", "h": "#e6c07b", "s": "#e6c07b"}
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" '
            f'font-size="{size}">'), f'<rect width="{width}" height="{height}" rx="6" fill="#1e1e1e"/>']
    for i, line in enumerate(lines):
        colour = colours.get(line[:1], "#d4d4d4") if line.startswith(("✓", "✗", "$", "hint", "score", "slips")) \
            else "#d4d4d4"
        out.append(f'<text x="{pad}" y="{pad + step * (i + 1) - 4}" fill="{colour}" xml:space="preserve">'
                   f'{html.escape(line)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def practice_svg() -> str:
    shown = " ".join(PRACTICE)
    return terminal_svg(practice_transcript(), f"printf '{PRACTICE_ANSWERS.strip()}' | cnncalc {shown}".replace(
        "\n", "\\n"))


# the screenshots README and docs/exercises.md show, rendered by headless Chromium (the DevTools pipe of
# tests/test_answer_form.py): (file, what it shows)
SCREENSHOTS = {
    "practice-sheet.png": "a practice sheet in the browser: a slip named, the worked solution open",
    "moodle-question.png": "one variant of an exported Moodle question as the quiz shows it to a student",
}
SHEET = {"count": 3, "level": 2, "seed": 2}  # cnncalc practice --sheet 3 --level 2 --seed 2
CLOZE = r"\{\d+:(?:NUMERICAL|SHORTANSWER):[^}]*\}"


def moodle_preview(folder: Path) -> Path:
    """A page of our own making that shows one Moodle question as the quiz does: the question text of the
    exported bank (cnn-layers-worksheet, variant-1-0), each Cloze subquestion an input box, the figures
    from the question's files. Moodle itself is not needed to see what the export asks."""
    import base64
    import re
    import xml.etree.ElementTree as ET

    from cnncalc.exercises.service import export_quiz

    bank = folder / "bank.xml"
    export_quiz(str(HERE.parents[1] / "problems" / "cnn-layers-worksheet.yaml"), str(bank), "moodle", seed=1,
                count=1)
    question = ET.parse(bank).getroot().find("question[@type='cloze']")
    assert question is not None
    text = question.findtext("questiontext/text") or ""
    for file in question.findall("questiontext/file"):
        svg = base64.b64decode(file.text or "").decode("utf-8")
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
        text = text.replace(f"@@PLUGINFILE@@/{file.get('name')}", uri)
    text = re.sub(CLOZE, '<input size="5" style="font:inherit">', text)
    page = folder / "moodle.html"
    page.write_text("<!doctype html><meta charset=utf-8><style>body{font:15px/1.45 sans-serif;margin:0;"
                    "background:#f4f4f4}.que{background:#fff;border:1px solid #ccc;margin:16px;padding:12px 20px;"
                    "max-width:900px}.info{background:#dee2e6;padding:6px 10px;margin:-12px -20px 10px;"
                    "font-size:13px}img{max-width:100%}td{padding:2px 8px;text-align:right}"
                    "table{border-collapse:collapse;margin:4px 0}</style><div class=que>"
                    "<div class=info>Question 1 · Not yet answered · Marked out of 2.00</div>"
                    f"{text}</div>", encoding="utf-8")
    return page


def screenshots() -> None:
    """Write SCREENSHOTS with headless Chromium (tests/test_answer_form.py's Browser and Page)."""
    import base64
    import json
    import tempfile

    sys.path.insert(0, str(HERE.parents[1] / "tests"))
    from test_answer_form import Browser
    from test_answer_form_all import Page
    from test_practice import answer_text

    from cnncalc.exercises.service import practice_sheet

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        browser = Browser(folder / "profile")
        try:
            def shoot(page: Page, file: str, height: int, top: int = 0) -> None:
                shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                               "clip": {"x": 0, "y": top, "width": 1000,
                                                                        "height": height, "scale": 1}},
                                    session=page.session)
                (HERE / file).write_bytes(base64.b64decode(shot["data"]))

            sheet = folder / "practice.html"
            questions = practice_sheet(SHEET["count"], str(sheet), level=SHEET["level"], seed=SHEET["seed"]).questions
            page = Page(browser, sheet)
            # the first question answered with its first slip, the second right; then both checked and the
            # first one's worked solution opened
            slipped = questions[0].slips()[0]
            texts = {questions[0].id: answer_text(questions[0].kind, slipped.value),
                     questions[1].id: answer_text(questions[1].kind, questions[1].key)}
            fill = ("(function (texts) { document.querySelectorAll('.answer[data-qid]').forEach(function (b) {"
                    " b.querySelector('input, textarea').value = texts[b.dataset.qid] || ''; });"
                    " document.getElementById('check-all').click();"
                    " document.querySelector('#q1 details.solution').open = true; })")
            page.run(f"{fill}({json.dumps(texts)})")
            height = page.run("Math.ceil(document.querySelector('#q2').getBoundingClientRect().bottom) + 16")
            shoot(page, "practice-sheet.png", min(int(height), 1400))
            page.close()
            page = Page(browser, moodle_preview(folder))
            # from part a on (the data tables and figures above it are the sheet's): the blanks a student fills
            top = int(page.run("Math.floor(document.querySelector('.que h4').getBoundingClientRect().top) - 12"))
            bottom = int(page.run("Math.ceil(document.querySelector('.que').getBoundingClientRect().bottom) + 16"))
            shoot(page, "moodle-question.png", min(bottom - top, 1400), top)
            page.close()
        finally:
            browser.close()


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))  # this checkout's cnncalc
    for name, args in FIGURES.items():
        subprocess.run([sys.executable, "-m", "cnncalc", *args, "-o", str(HERE / name)], check=True)
    (HERE / "practice.svg").write_text(practice_svg(), encoding="utf-8")
    screenshots()
