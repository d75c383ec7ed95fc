"""The README's shown sessions stay true: every `$ cnncalc ...` block whose files exist is run, and each
line it shows must appear in the real output, in order (lines with … are elisions)."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def sessions():
    """The `$ cnncalc` commands inside fenced blocks, each with the lines shown after it."""
    inside, current = False, None
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
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


def runnable(session):
    """Sessions whose input files are in the repository (answers/ folders and the like are illustrations);
    what a command writes (after -o, --out, --gradebook, ...) need not exist."""
    args = shlex.split(session[0])[2:]
    for previous, arg in zip([None, *args], args):
        if previous in OUTPUTS:
            continue
        looks_like_path = "/" in arg or arg.endswith((".yaml", ".yml", ".npy", ".csv", ".json"))
        if looks_like_path and not (ROOT / arg).exists():
            return False
    return True


CASES = [s for s in sessions() if runnable(s)]


def test_the_readme_shows_sessions():
    assert len(CASES) >= 4


@pytest.mark.parametrize("session", CASES, ids=[s[0] for s in CASES])
def test_readme_session(session, cli, monkeypatch, tmp_path):
    # run where the README's relative paths work, but write nothing into the repository
    for folder in ("problems", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNNCALC_SECRET", SECRET)
    args = shlex.split(session[0])[2:]  # after "$ cnncalc"
    code, out, err = cli(*args)
    assert code == 0, err
    produced = [line.rstrip() for line in out.splitlines()]
    shown_lines = [line.rstrip() for line in session[1:]]
    if not any("…" in line or "..." in line for line in shown_lines):  # nothing elided: every line, exactly
        while shown_lines and not shown_lines[-1]:
            shown_lines.pop()
        while produced and not produced[-1]:
            produced.pop()
        assert produced == shown_lines, "the README must show exactly what the command prints"
    position = 0
    for shown in session[1:]:
        if "…" in shown or "..." in shown or not shown.strip():
            continue
        while position < len(produced) and produced[position] != shown.rstrip():
            position += 1
        assert position < len(produced), f"README line not in the output: {shown!r}"
        position += 1
