"""The HTML sheet's answer form, in a real browser: headless Chromium driven over the DevTools protocol
(through --remote-debugging-pipe, so no driver and no websocket library), fills the form of a generated
sheet with the key's answers, saves the file the page makes, and `cnncalc grade` gives full marks.
Skipped where no Chromium is installed."""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
SECRET = b"a course secret of more than sixteen bytes"
BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
                if shutil.which(name)), None)
SHELL = shutil.which("bash")  # moves the pipe ends onto fds 3 and 4 (dash takes one-digit fds only)


# ---------------------------------------------------------------- the sheet without a browser


def _generate(tmp_path, cli, students=("alice", "bob")):
    secret = tmp_path / "course.key"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    roster = tmp_path / "roster.csv"
    roster.write_text("student\n" + "\n".join(students) + "\n")
    out = tmp_path / "out"
    code, _, err = cli("generate", str(WORKSHEET), "--roster", str(roster), "--secret-file", str(secret),
                       "--out", str(out), "--format", "html")
    assert code == 0, err
    return secret, out


def test_the_html_sheet_is_one_offline_file_with_a_form(tmp_path, cli):
    _, out = _generate(tmp_path, cli)
    page = (out / "sheets" / "alice.html").read_text()
    key = json.loads((out / "keys" / "alice.json").read_text())
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert policy and html.unescape(policy.group(1)) == (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
    # nothing is loaded from anywhere: no src/href attributes, no url(), no network calls in the script
    assert not re.search(r"<[a-z]+\s[^>]*\b(src|href|action)=", page)
    assert not re.search(r"url\((?!#)", page)  # only references inside the page (an SVG arrow head)
    assert page.count("<script") == 1 and "http:" not in page and "https:" not in page
    assert not re.search(r"fetch\(|XMLHttpRequest|WebSocket|sendBeacon|import\(", page)
    # one field per question that is not manual, with the kind; a grid of the key's size per matrix
    blocks = dict(re.findall(r'data-qid="([^"]+)" data-kind="([a-z]+)"', page))
    assert blocks == {"a.shape": "shape", "a.col4_row4": "value", "a.col3_row2": "value", "a.col2_row4": "value",
                      "b.relu": "matrix", "b.pool": "matrix", "c.total_params": "count", "d.padding": "number",
                      "d.params": "count"}
    # a map is typed as rows of text: no grid of the key's size gives the size away (a.shape asks it)
    relu = key["answers"]["b.relu"]
    assert page.count("<textarea") == 2 and "data-rows" not in page and "grid" not in page
    assert f"{len(relu)}×{len(relu[0])}" not in page.split("<h2>a)", 1)[1]
    # the student id and fingerprint filled in; the key is not in the page
    assert 'id="student" value="alice"' in page and f'id="variant" value="{key["variant"]}" readonly' in page
    assert "solutions" not in page and str(key["answers"]["d.params"]) not in page


def test_markdown_and_latex_sheets_have_no_form(tmp_path, cli):
    code, _, err = cli("generate", str(WORKSHEET), "--seed", "1", "--out", str(tmp_path / "md"))
    assert code == 0, err
    text = (tmp_path / "md" / "sheets" / "variant-1-0.md").read_text()
    assert "<script" not in text and "```yaml" in text


# ---------------------------------------------------------------- DevTools protocol over a pipe


class Browser:
    """Headless Chromium with the DevTools protocol on fds 3 (commands in) and 4 (replies out)."""

    def __init__(self, profile: Path) -> None:
        import fcntl

        inbound, self._write = os.pipe()
        self._read, outbound = os.pipe()
        # the child's ends above fd 9, so that bash can move them onto fds 3 and 4 without a clash
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (inbound, outbound)]
        os.close(inbound)
        os.close(outbound)
        wiring = f'exec "$0" "$@" 3<&{high[0]} 4>&{high[1]} {high[0]}<&- {high[1]}>&-'
        self.process = subprocess.Popen(
            [SHELL, "-c", wiring, BROWSER, "--headless=new", "--remote-debugging-pipe", "--no-sandbox",
             "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             f"--user-data-dir={profile}", "about:blank"],
            pass_fds=tuple(high), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in high:
            os.close(fd)
        self._buffer = b""
        self._next = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._receive(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)
        raise TimeoutError(method)

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(method)
            self.events.append(self._receive(deadline))

    def _receive(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("no reply from the browser")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("the browser closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing anyway
            self.send("Browser.close", timeout=5)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._read)
        os.close(self._write)


@pytest.fixture()
def browser(tmp_path):
    if BROWSER is None or SHELL is None:
        pytest.skip("no Chromium (or no bash to start it with the DevTools pipe) installed")
    chrome = Browser(tmp_path / "profile")
    try:
        yield chrome
    finally:
        chrome.close()


def _open(browser: Browser, page: Path, downloads: Path) -> str:
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    browser.send("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    browser.send("Page.enable", session=session)
    browser.send("Runtime.enable", session=session)
    browser.send("Page.navigate", {"url": page.as_uri()}, session=session)
    browser.wait_event("Page.loadEventFired")
    return session


def _evaluate(browser: Browser, session: str, expression: str):
    result = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
    assert "exceptionDetails" not in result, result
    return result["result"].get("value")


FILL = """
(function (answers) {
  document.querySelectorAll('.answer[data-qid]').forEach(function (block) {
    var value = answers[block.dataset.qid];
    if (value === undefined) { return; }
    if (block.dataset.kind === 'matrix') {
      block.querySelector('textarea').value = value.map(function (row) { return row.join(' '); }).join('\\n');
    } else {
      block.querySelector('input').value = Array.isArray(value) ? value.join(', ') : String(value);
    }
  });
})(%s)
"""


def _wait_for_file(folder: Path, timeout: float = 20) -> Path:
    """The downloaded file once the browser has finished writing it: it can appear under its own name
    before its bytes do, so wait until it has some and its size holds still."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if not p.name.endswith((".crdownload", ".tmp"))]
        size = done[0].stat().st_size if done else -1
        if size > 0 and size == last:
            return done[0]
        last = size
        time.sleep(0.1)
    raise AssertionError("no file was saved" if last < 0 else f"the saved file stayed at {last} bytes")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_filling_the_form_with_the_key_gives_full_marks(tmp_path, cli, browser, fmt):
    secret, out = _generate(tmp_path, cli)
    key = json.loads((out / "keys" / "bob.json").read_text())
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    session = _open(browser, out / "sheets" / "bob.html", downloads)
    _evaluate(browser, session, FILL % json.dumps(key["answers"]))
    _evaluate(browser, session, f"document.querySelector('input[name=format][value={fmt}]').click()")
    _evaluate(browser, session, "document.getElementById('save').click()")
    saved = _wait_for_file(downloads)
    assert saved.name == f"bob.{fmt}"
    text = saved.read_text()
    if fmt == "json":
        assert json.loads(text)["answers"]["b.relu"] == key["answers"]["b.relu"]
    assert _evaluate(browser, session, "document.getElementById('form-errors').children.length") == 0
    code, report, err = cli("grade", str(WORKSHEET), str(saved), "--secret-file", str(secret), "--format", "json")
    assert code == 0, err
    result = json.loads(report)["results"][0]
    assert result["student"] == "bob" and result["score"] == result["max"] == 2
    assert result["variant"] == key["variant"] and not result.get("warnings")


def test_the_form_refuses_what_is_not_an_answer_and_says_why(tmp_path, cli, browser):
    _, out = _generate(tmp_path, cli)
    key = json.loads((out / "keys" / "alice.json").read_text())
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    session = _open(browser, out / "sheets" / "alice.html", downloads)
    answers = dict(key["answers"])
    from cnncalc.exercises.answers import example

    answers["a.col4_row4"] = "twelve"
    answers["a.shape"] = "4, four"
    relu = [list(row) for row in answers["b.relu"]]
    relu[1][2] = ""
    answers["b.relu"] = relu
    _evaluate(browser, session, FILL % json.dumps(answers))
    _evaluate(browser, session, "document.getElementById('student').value = ''")
    _evaluate(browser, session, "document.getElementById('save').click()")
    errors = _evaluate(browser, session, "Array.from(document.querySelectorAll('#form-errors li'))"
                                         ".map(function (li) { return li.textContent; })")
    assert errors[0] == "student id: write your student id"
    number = example("value", key["answers"]["a.col4_row4"])
    assert f"a.col4_row4: a number is expected, e.g. {number} (got “twelve”)" in errors
    assert f"a.shape: a shape is whole numbers, e.g. {example('shape', key['answers']['a.shape'])}" in errors
    cols = len(relu[0])
    assert f"b.relu: the rows have different lengths (row 1: {cols} numbers, row 2: {cols - 1})" in errors
    assert len(errors) == 4
    marked = _evaluate(browser, session, "document.querySelectorAll('[aria-invalid=true]').length")
    assert marked == 4  # the id, the number, the shape and the map
    time.sleep(0.5)
    assert list(downloads.iterdir()) == []  # nothing saved
    # fixed: saved, and an unanswered question is named but does not stop the file
    del answers["d.params"]
    answers["a.col4_row4"], answers["a.shape"] = key["answers"]["a.col4_row4"], "[4, 4]"
    answers["b.relu"] = key["answers"]["b.relu"]
    _evaluate(browser, session, FILL % json.dumps(answers))
    _evaluate(browser, session, "document.querySelector('[data-qid=\"d.params\"] input').value = ''")
    _evaluate(browser, session, "document.getElementById('student').value = ' alice '")
    _evaluate(browser, session, "document.getElementById('save').click()")
    saved = _wait_for_file(downloads)
    assert _evaluate(browser, session, "document.getElementById('form-notes').textContent") == "Not answered: d.params"
    from cnncalc.spec import safeload

    document = safeload.loads(saved.read_text())
    assert document["student"] == "alice" and document["variant"] == key["variant"]
    assert "d.params" not in document["answers"] and document["answers"]["a.shape"] == [4, 4]
