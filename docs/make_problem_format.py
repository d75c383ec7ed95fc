"""Write docs/problem-format.md: a hand-written introduction and worked example (below), the reference
tables generated from the schema in cnncalc/exercises/problem.py, and the example's key as `cnncalc check`
prints it. Run `python docs/make_problem_format.py` after changing the schema; `--check` exits 1 when the
committed page differs from what would be written (tests/test_check.py runs it)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "problem-format.md"
EXAMPLE = "problems/filter-bank.yaml"

INTRODUCTION = """\
# Problem files: the format

A problem file is a YAML file that describes an exercise: the numbers the sheet gives (`data`), the networks
that turn them into answers (`networks`, in the network-spec format of `cnncalc summary`), and the questions,
grouped in parts, each with a `compute:` that says how its answer is *computed*. No answer is typed in:
`cnncalc` computes every key, with the working a teacher would write, from the file's own data and from
every variant drawn by its `vary:` section.

The instructor's workflow:

1. **write** `problems/my-exercise.yaml` (start from a file in `problems/`, or from the example below);
2. **check** it: `cnncalc check problems/my-exercise.yaml` validates the file (every key, type and name,
   then the networks, the layers and cells the questions name, and a first variant), prints the key with
   the worked solutions, and warns about every bias, stride, padding, dilation, pooling window or filter
   count a question uses that the sheet does not show (`--strict` makes warnings an error, exit 2);
3. **generate** the sheets and keys: `cnncalc generate problems/my-exercise.yaml --roster students.csv
   --secret-file course.key --out week3/` (keep `week3/keys/` away from students);
4. **grade** the answer files: `cnncalc grade problems/my-exercise.yaml answers/ --secret-file course.key
   --gradebook grades.csv --feedback-dir feedback/`.

## What the sheet shows

A sheet prints the title, the `instructions`, every array in `data` as tables (one table per channel, or
per filter and channel; captions from `display`, and `display: {name: false}` hides one), then each part's
`prompt` and each question's `prompt`. Numbers in `data` are not printed on their own: put them in a prompt
with `${name}` (`The bias is b = ${b}`), so that every variant's sheet reads right. Network settings
(stride, padding, …) are never printed by themselves: say them in a prompt; `cnncalc check` warns when a
question depends on one that the prompts it is read with (the instructions, its part's and its own) do
not mention.

## How answers are compared

Each question's kind follows from its `compute:` (the last table below says what a student writes for
each kind and how it is compared). Integers are exact; other numbers are equal within
`atol + rtol·|key|` (`rtol` 1e-6 by default; set `rtol`/`atol` per question). Feedback always shows the
digits that tell the answer from the key (`expected 22, got 22.0000001 (an integer answer must be exact)`),
and names the usual wrong turn when the answer is exactly what that turn gives: the bias left out, rows
and columns swapped, channels first, the kernel flipped (or not), max for average pooling, FLOPs for MACs,
the jumps or the dilation left out of a receptive field, `[after, before]` for a 'same' padding, the
direct-convolution formula for a transposed one.

## A complete example

`@EXAMPLE@` — the notebook's 3 × 3 × 3 × 2 filter bank on a small image, then average pooling. The
filters use the `filters` layout (filter, then channel, then rows), which the sheet prints as tables
"Filter f, channel c"; `vary:` gives every student another image and bias.

```yaml
@SOURCE@```

`cnncalc check @EXAMPLE@` prints the key with its working (and no warnings):

```
@CHECK@```

# Reference

Every key, generated from the schema the checker uses (`cnncalc/exercises/problem.py`). A value written
`$name` takes the data entry `name` (in networks, in `compute:` and in constraints); `${name}` in text puts
a number in.

"""


def page() -> str:
    sys.path.insert(0, str(ROOT))
    from typer.testing import CliRunner

    from cnncalc.cli import app
    from cnncalc.exercises.problem import reference_markdown

    result = CliRunner().invoke(app, ["check", str(ROOT / EXAMPLE)])
    if result.exit_code != 0:
        raise SystemExit(f"cnncalc check {EXAMPLE} failed: {result.output}")
    source = (ROOT / EXAMPLE).read_text(encoding="utf-8")
    text = INTRODUCTION.replace("@EXAMPLE@", EXAMPLE).replace("@SOURCE@", source).replace("@CHECK@", result.stdout)
    return text + reference_markdown()


def main(argv: list[str]) -> int:
    text = page()
    if "--check" in argv:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run python docs/make_problem_format.py")
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
