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


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))  # this checkout's cnncalc
    for name, args in FIGURES.items():
        subprocess.run([sys.executable, "-m", "cnncalc", *args, "-o", str(HERE / name)], check=True)
    (HERE / "practice.svg").write_text(practice_svg(), encoding="utf-8")
