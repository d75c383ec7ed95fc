"""The documentation's shown sessions stay true: every `$ cnncalc ...` block in README.md and docs/*.md whose
files exist is run, and each line it shows must appear in the real output, in order (lines with … are
elisions). A session may read a file an earlier session of the same page wrote (`export ... -o m.onnx`, then
`import m.onnx`): that earlier session is run first. The pages' relative links and README's Python example
are checked too."""

from __future__ import annotations

import doctest
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = ["README.md", *sorted(f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md"))]

#: the fewest runnable sessions each page shows: a page that loses its examples fails here
LEAST_SESSIONS = {"README.md": 9, "docs/cli.md": 4, "docs/exercises.md": 4, "docs/interop.md": 5}


def sessions(page: str):
    """The `$ cnncalc` commands inside fenced blocks of one page, each with the lines shown after it."""
    inside, current = False, None
    for line in (ROOT / page).read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if inside and current:
                yield current
            inside, current = not inside, None
        elif inside and line.startswith("$ cnncalc "):
            if current:
                yield current
            current = [line]
        elif inside and current is not None:
            current.append(line)


OUTPUTS = ("-o", "--output", "--out", "--gradebook", "--feedback-dir", "--draw", "--weights-out")
SECRET = "readme example secret, not a real course's"  # the README's `export CNNCALC_SECRET=...`
FILE_ENDINGS = (".yaml", ".yml", ".npy", ".npz", ".csv", ".json", ".onnx", ".keras", ".gz")


def _arguments(session) -> list[str]:
    return shlex.split(session[0])[2:]  # after "$ cnncalc"


def _files(session) -> tuple[list[str], list[str]]:
    """(files the command reads, files it writes): what follows -o, --out, --gradebook, ... is written."""
    args = _arguments(session)
    read, written = [], []
    if args[:2] == ["course", "init"] and len(args) > 2:
        written.append(args[2])
    for previous, arg in zip([None, *args], args):
        if previous in OUTPUTS:
            written.append(arg)
        elif previous == "--course":  # a course is read and changed: a later session needs this one first
            read.append(arg)
            written.append(arg)
        elif "/" in arg or arg.endswith(FILE_ENDINGS):
            read.append(arg)
    return read, written


@dataclass
class Case:
    page: str
    session: list[str]
    before: list[list[str]]  # earlier sessions of the page that write the files this one reads

    @property
    def id(self) -> str:
        return f"{self.page} {self.session[0]}"


def cases(page: str) -> list[Case]:
    """Sessions whose input files are in the repository or written by an earlier session of the page
    (answers/ folders and the like are illustrations and are left out)."""
    found: list[Case] = []
    writers: dict[str, Case] = {}
    for session in sessions(page):
        read, written = _files(session)
        before: list[list[str]] = []
        for name in read:
            if (ROOT / name).exists():
                continue
            writer = writers.get(name)
            if writer is None:
                break
            before += [s for s in (*writer.before, writer.session) if s not in before]
        else:
            case = Case(page, session, before)
            found.append(case)
            writers.update(dict.fromkeys(written, case))
    return found


CASES = [case for page in PAGES for case in cases(page)]


@pytest.mark.parametrize("page", sorted(LEAST_SESSIONS))
def test_the_page_shows_sessions(page):
    assert page in PAGES, f"{page} is gone"
    shown = [case for case in CASES if case.page == page]
    assert len(shown) >= LEAST_SESSIONS[page], f"{page} shows {len(shown)} runnable sessions"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_readme_session(case, cli, monkeypatch, tmp_path):
    # run where the pages' relative paths work, but write nothing into the repository
    for folder in ("problems", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNNCALC_SECRET", SECRET)
    for earlier in case.before:
        code, _, err = cli(*_arguments(earlier))
        assert code == 0, f"{earlier[0]} (run first, for the files it writes): {err}"
    code, out, err = cli(*_arguments(case.session))
    assert code == 0, err
    # what a terminal shows: the output, then the messages on stderr ("wrote lenet5.onnx: ...")
    produced = [line.rstrip() for line in (out + err).splitlines()]
    shown_lines = [line.rstrip() for line in case.session[1:]]
    if not any("…" in line or "..." in line for line in shown_lines):  # nothing elided: every line, exactly
        while shown_lines and not shown_lines[-1]:
            shown_lines.pop()
        while produced and not produced[-1]:
            produced.pop()
        assert produced == shown_lines, f"{case.page} must show exactly what the command prints"
    position = 0
    for shown in case.session[1:]:
        if "…" in shown or "..." in shown or not shown.strip():
            continue
        while position < len(produced) and produced[position] != shown.rstrip():
            position += 1
        assert position < len(produced), f"{case.page} line not in the output: {shown!r}"
        position += 1


# ---------------------------------------------------------------- links and the Python example

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    found, inside = set(), False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = not inside
        elif not inside and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_lead_somewhere(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # code blocks hold no links
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = ((ROOT / page).parent / path).resolve() if path else ROOT / page
        assert linked.exists(), f"{page} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{page} links to {target}: no such heading"


def test_the_readme_links_every_docs_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in PAGES[1:]:
        assert f"]({page})" in readme, f"README.md does not link {page}"


def test_the_readme_python_example_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```pycon\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "README.md shows no Python example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for number, block in enumerate(blocks):
        runner.run(doctest.DocTestParser().get_doctest(block, {}, f"README.md example {number}", "README.md", 0))
    assert runner.summarize(verbose=False).failed == 0


def test_the_readme_is_an_overview_not_a_manual():
    """README.md stays at most 250 lines: what cnncalc is, the two set-up commands, one example per command
    group and links; the reference lives in docs/ (linked from it)."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 250, f"README.md has {lines} lines (at most 250): move the detail to a page in docs/"
