"""Write docs/marking.md: how a wrong answer is marked (slips named by rule, partial credit per rule,
follow-through, answer groups), with the table of rules generated from the catalogue in
cnncalc/exercises/slips.py — each rule's example is computed by the rule itself. Run
`python docs/make_marking.py` after changing the catalogue; `--check` exits 1 when the committed page
differs from what would be written (tests/test_slips.py runs it)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "marking.md"

INTRODUCTION = """\
# Marking: slips named by rule, follow-through, answer groups

`cnncalc grade` computes every key (see [problem-format.md](problem-format.md)); a wrong answer is then
looked at twice more, with the same calculator, executor and solver that made the key.

1. **Which slip gives exactly this answer?** Each rule of the catalogue below recomputes the question's
   answer with one slip made — the bias left out, the padding forgotten, the "+ 1" of the size formula
   dropped, a kernel flipped… — and a wrong answer equal to one of those is named: feedback, the text
   report, `--format json` (`"diagnosis": {"rule": …, "message": …}`), the feedback files, `--stats`
   (wrong answers grouped by rule) and the course gradebook all carry the rule id and a one-line
   explanation with the numbers:

   ```
   expected 9, got 2 — it looks like the bias (7) was left out [forgot_bias]
   ```

   No wrong answer is typed in by anyone. A rule applies to a question when the slip can be made in
   what the question is computed from; a network with several layers the slip applies to is tried
   with the slip made at all of them (the student who always forgets the padding) and at each alone.
   The first rule of the table whose answer matches names the slip; a slip's answer equal to the key
   is never one.

2. **Does it follow from the student's own earlier answers?** With `follow_through: SHARE` in the
   problem file (or on one question), an answer that is wrong against the key but exactly what the key's
   own computation gives from the student's earlier answers earns that share of its points:

   ```
   expected 7,200, got 6,272 — follows correctly from your conv2 output (14, 14, 32), which was wrong
   [forgot_padding]: 0.5 of 1 point
   ```

   The author never lists the dependencies: they come from the networks and the `compute:` of the
   questions. An earlier question is an *anchor* of a later one when it asks for something the later
   one is computed from — the output shape of a layer (a `shape` question, or the `size` of a vector)
   for the shape, size, parameters or MACs of a layer after it; one channel of a layer's output (a `map`
   question) for a map or cell of a layer after it on the same input. The later answer is recomputed
   with the student's anchors put in (a pooled map from their conv map, a flatten size from their shape,
   FC parameters from their flatten size, the next shape from their previous one); anchors the student
   got right stand as they are. `"follow_through": true` marks such an answer in `--format json`. It
   works the same with per-student variants (each against the student's own key) and in a course.

3. **Partial credit per rule.** `credit: {forgot_bias: 0.5}` (problem-wide, or on a question, where it
   is added to the problem's and wins) gives that share of the points to an answer a named slip gives.

An answer gets the most of its own score (cells of a map right), its rule's credit and its
follow-through share — never less than it had, and a correct answer always has full marks.

```yaml
follow_through: 0.5                          # half the points for an answer that follows from wrong ones
credit: {forgot_bias: 0.5, dropped_plus_one: 0.25}
parts:
  - id: a
    questions:
      - {id: a.map, compute: {map: net, input: x, layer: conv}, credit: {flip: 0.25}}
      - {id: a.pool, compute: {map: net, input: x, layer: pool}, follow_through: 0.75}
```

## The rules

Every rule of the catalogue (`cnncalc/exercises/slips.py`), in the order they are tried, with an example
that the rule itself computes on a small problem (`cnncalc/exercises/slips.py`, `EXAMPLES`).

"""

CLOSING = """
## Answer groups

`cnncalc grade … --stats` lists, per question, the answers given — read as the question's kind reads
them and put in one form, so `22x22x6`, `(22, 22, 6)` and `[22, 22, 6]` are one group — most common
first, with how many students gave each, its score and the slip that names it:

```
question               mean    max  correct  partial   wrong  missing  discr.
shapes.conv2         0.1429      1      14%       0%     86%       0%       —
        4 × [14, 14, 32] — the padding of conv2 (p = 1) is left out: ⌊(30 − 3)/2⌋ + 1 = 14 [forgot_padding] · 0/1
        1 × [15, 15, 32] (correct) · 1/1
        1 × [17, 17, 32] · 0/1
        1 × [32, 15, 15] — channels first? the course writes [rows, columns, channels] [channels_first] · 0/1
```

(seven students: `[14, 14, 32]`, `14x14x32`, `(14, 14, 32)` and `14×14×32` are one group;
`tests/test_answer_groups.py` grades this class.)

`--format json` has them as `stats.questions[].groups` (`answer`, `count`, `score` — the group's mean —,
`rule`), and the slips named as `stats.questions[].rules` (`rule`, `count`, `message`). With per-student
variants, where one value means different things, the most common wrong answers are grouped by their
slip instead.

An instructor scores a whole group at once in the overrides file:

```yaml
overrides:
  - {question: shapes.conv2, answer: [14, 14, 32], score: 0.5, comment: "padding forgotten: half"}
  - {student: "s123", question: a.plot, score: 0.5}
```

The group's score goes to every student who gave that answer, in any of its forms, and was not graded
correct for it; a student's own override wins over a group's. With a course, the overrides of the file
are stored in the gradebook and apply to later runs too; `cnncalc gradebook override-group QUESTION
ANSWER SCORE --reason TEXT` stores one directly (see [gradebook.md](gradebook.md)).
"""


def page() -> str:
    sys.path.insert(0, str(ROOT))
    from cnncalc.exercises.slips import marking_markdown

    return INTRODUCTION + marking_markdown() + CLOSING


def main(argv: list[str]) -> int:
    text = page()
    if "--check" in argv:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run python docs/make_marking.py")
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
