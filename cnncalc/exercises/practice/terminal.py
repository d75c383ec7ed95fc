"""Practice in a terminal: one question at a time, the answer read from a stream, right or wrong with
the slip named, the hint and the worked solution, and a score. The streams are given (standard input
and output by the command, strings by the tests): nothing here needs a terminal.

- an answer is read as the grader reads it (``22x22x6``, ``1,234``, ``1 2; 3 4`` for a map, ``5–40``);
  what it cannot read is asked again, with an example of the form (never the key);
- ``?`` or ``hint`` shows the hint and asks again; ``skip`` moves on (counted wrong); ``q`` or ``quit``
  stops; the end of the input stops too, and the score so far is said either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..key import num
from .questions import PracticeQuestion

QUIT = ("q", "quit", "exit")
HINT = ("?", "h", "hint")
SKIP = ("s", "skip")
MAX_ANSWER_CHARS = 10_000  # one line of answer (a map of 100×100 fits)


class Writer(Protocol):
    def write(self, text: str, /) -> Any: ...


class Reader(Protocol):
    def readline(self) -> str: ...


@dataclass
class Score:
    """A session's outcome: how many were asked and right, and the slips named."""

    asked: int = 0
    right: int = 0
    slips: Counter[str] = field(default_factory=Counter)
    stopped: bool = False  # quit or the input ended before the last question

    def text(self, total: int) -> str:
        line = f"score: {self.right} / {self.asked}"
        if self.stopped and self.asked < total:
            line += f" (stopped after {self.asked} of {total} questions)"
        if self.slips:
            line += "\nslips named: " + ", ".join(f"{rule} ×{n}" for rule, n in self.slips.most_common())
        return line + "\n"


def show_question(q: PracticeQuestion, number: int, total: int) -> list[str]:
    """The question as the terminal prints it: a header, the network, the matrices, the prompt."""
    lines = [f"Question {number} of {total} · {q.topic} · level {q.level}", *q.setting]
    for caption, rows in q.tables:
        width = max(len(num(v)) for row in rows for v in row)
        lines.append(f"{caption}:")
        lines += ["  " + "  ".join(num(v).rjust(width) for v in row) for row in rows]
    lines.append(q.prompt)
    return lines


def practise(questions: Sequence[PracticeQuestion], input: Reader, output: Writer, echo: bool = False) -> Score:
    """Ask each question, read answers from ``input`` until one can be read, grade it and say so; ``echo``
    writes each answer read after its prompt (input that is not typed in: a pipe, a file)."""
    score = Score()
    say = output.write
    for number, q in enumerate(questions, 1):
        if number > 1:
            say("\n")
        say("\n".join(show_question(q, number, len(questions))) + "\n")
        while True:
            say(f"answer (e.g. {q.example}; ? for a hint, q to quit): ")
            line = input.readline()
            if line == "":  # the end of the input
                say("\n")
                score.stopped = True
                say(score.text(len(questions)))
                return score
            answer = line.strip()[:MAX_ANSWER_CHARS]
            if echo:
                say(answer + "\n")
            if answer.lower() in QUIT:
                score.stopped = True
                say(score.text(len(questions)))
                return score
            if answer.lower() in HINT:
                say(f"hint: {q.hint}\n")
                continue
            if answer == "":
                continue
            if answer.lower() in SKIP:
                score.asked += 1
                say(f"skipped: the answer is {_shown(q.key)}\n")
                say(_solution(q))
                break
            result = q.grade(answer)
            if result.status == "invalid":
                say(f"cannot read that: {result.feedback}; write it as {q.example}\n")
                continue
            score.asked += 1
            if result.status == "correct":
                score.right += 1
                say("✓ right\n")
            else:
                say(f"✗ not right: {result.feedback}\n")
                if result.diagnosis is not None:
                    score.slips[result.diagnosis.rule] += 1
                say(f"hint: {q.hint}\n")
            say(_solution(q))
            break
    say("\n" + score.text(len(questions)))
    return score


def _shown(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], list):
        return "; ".join(" ".join(str(v) for v in row) for row in value)
    return str(value)


def _solution(q: PracticeQuestion) -> str:
    return "worked solution:\n" + "".join(f"  {line}\n" for line in q.solution)
