"""The `cnncalc` command line: parse arguments, call the library, print. No arithmetic here."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer

from .errors import CnnCalcError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Convolutional-network calculator: shapes, parameters, MACs and receptive fields, explained.",
)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(command: F) -> F:
    """Turn a CnnCalcError into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CnnCalcError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


class TextOrJson(str, Enum):
    text = "text"
    json = "json"


class SummaryFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"
    latex = "latex"


SpecArg = Annotated[str, typer.Argument(help="A spec file (YAML) or the name of a built-in spec (see `cnncalc zoo`).")]


@app.command()
@user_errors
def summary(
    spec: SpecArg,
    format: Annotated[SummaryFormat, typer.Option("--format", "-f", help="Output format.")] = SummaryFormat.table,
    explain: Annotated[bool, typer.Option("--explain", "-e", help="Show each layer's formulas worked out.")] = False,
    width: Annotated[int | None, typer.Option(help="Fit the table into this many characters (default: its "
                                                   "natural width).", min=60, max=1000)] = None,
    depth: Annotated[int | None, typer.Option(help="Show blocks nested deeper than this as one row each "
                                                   "(1: top-level blocks collapsed).", min=1, max=16)] = None,
    batch: Annotated[int, typer.Option(help="Batch size for activation sizes, MACs and memory.", min=1,
                                       max=1_000_000)] = 1,
    where: Annotated[list[str] | None, typer.Option("--where", "-w", help="Give a symbolic input size a value: "
                                                    "n=64 (repeatable).")] = None,
) -> None:
    """Per-layer output shape, size, parameters, MACs and receptive field, with totals."""
    from .calc.analysis import analyse
    from .render import render
    from .spec.network import load_spec

    network = load_spec(spec)
    if where:
        from .calc.symbolic import parse_assignments, substitute

        network = substitute(network, parse_assignments(where))
    result = analyse(network)
    typer.echo(render(result, format.value, explain, width, depth, batch), nl=False)


@app.command()
@user_errors
def validate(spec: SpecArg) -> None:
    """Check a spec (fields, names, inputs, shapes) without printing the summary."""
    from .calc.analysis import analyse
    from .spec.network import load_spec

    network = load_spec(spec)
    analyse(network)
    typer.echo(f"ok: {network.source}: {len(network.layers)} layers, valid")


@app.command()
@user_errors
def zoo() -> None:
    """List the built-in network specs."""
    from .spec.network import load_spec, zoo_names

    for name in zoo_names():
        network = load_spec(name)
        typer.echo(f"{name:24} {network.name}")


@app.command()
@user_errors
def solve(
    for_: Annotated[str, typer.Option("--for", help="The unknown: n, f, p, s, d, out (or output_padding).")],
    n: Annotated[str | None, typer.Option("--n", help="Input size: a number or a symbol name.")] = None,
    f: Annotated[str | None, typer.Option("--f", help="Filter (kernel) size.")] = None,
    p: Annotated[str | None, typer.Option("--p", help="Padding on each side (default 0).")] = None,
    s: Annotated[str | None, typer.Option("--s", help="Stride (default 1).")] = None,
    d: Annotated[str | None, typer.Option("--d", help="Dilation (default 1).")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Output size.")] = None,
    same: Annotated[bool, typer.Option("--same", help="'same' padding: out = n (⌈n/s⌉ for stride > 1).")] = False,
    transpose: Annotated[bool, typer.Option("--transpose", help="Transposed convolution.")] = False,
    output_padding: Annotated[str | None, typer.Option("--output-padding", help="Transposed conv only.")] = None,
    spec: Annotated[str | None, typer.Option("--spec", help="A symbolic spec: list the input sizes for which "
                                             "every layer is valid.")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="With --spec: also require every division to be "
                                        "exact (no pixels dropped by the floor).")] = False,
    min_: Annotated[int, typer.Option("--min", help="With --spec: smallest size tried.", min=1)] = 1,
    max_: Annotated[int, typer.Option("--max", help="With --spec: largest size tried.", min=1)] = 1024,
    where: Annotated[list[str] | None, typer.Option("--where", help="With --spec: fix other symbols, m=32.")] = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """Solve out = ⌊(n + 2p − d·(f−1) − 1)/s⌋ + 1 for one unknown, showing the steps."""
    import json

    from .calc import symbolic

    values = {"n": n, "f": f, "p": p, "s": s, "d": d, "out": out}
    if spec is not None:
        from .spec.network import load_spec

        given = [f"--{k}" for k, v in values.items() if v is not None] + (["--same"] if same else [])
        if given or transpose:
            raise CnnCalcError("--spec takes only --for, --min, --max, --exact and --where", got=given or "--transpose",
                               expected="no layer values (they come from the spec)")
        result = symbolic.valid_sizes(load_spec(spec), for_, min_, max_, exact,
                                      symbolic.parse_assignments(where or []))
    elif transpose:
        result = symbolic.solve_transpose(for_, {**values, "output_padding": output_padding}, same)
    else:
        if output_padding is not None:
            raise CnnCalcError("--output-padding is for --transpose", got=output_padding, expected="--transpose")
        result = symbolic.solve_conv(for_, values, same)
    if format is TextOrJson.json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    for step in result.steps:
        typer.echo(step)
    if result.solutions:
        shown = ", ".join(str(v) for v in result.as_dict()["solutions"])
        typer.echo(f"{result.unknown} = {shown}" if len(result.solutions) == 1 else f"{result.unknown} ∈ {{{shown}}}")
    elif result.range is not None and result.range[1] is None:
        typer.echo(f"{result.unknown} ≥ {result.range[0]}")
    elif result.expression:
        typer.echo(f"{result.unknown} = {result.expression}")
    elif result.pads is None:
        typer.echo(f"no solution for {result.unknown}")
    if result.pads is not None:
        typer.echo(f"pads (before, after) = ({result.pads[0]}, {result.pads[1]})")
    for note in result.notes:
        typer.echo(f"note: {note}")


@app.command()
@user_errors
def grade(
    problem: Annotated[str, typer.Argument(help="A problem file (problems/*.yaml).")],
    answers: Annotated[list[str], typer.Argument(help="Answer files, folders or globs.")],
    gradebook: Annotated[str | None, typer.Option(help="Write one CSV row per student (atomically).")] = None,
    feedback_dir: Annotated[str | None, typer.Option(help="Write one Markdown feedback file per student.")] = None,
    overrides: Annotated[str | None, typer.Option(help="Instructor scores that always win (YAML/JSON).")] = None,
    secret_file: Annotated[str | None, typer.Option(help="Course secret: grade each student against their own "
                                                    "variant (or set CNNCALC_SECRET).")] = None,
    variants: Annotated[bool, typer.Option("--variants", help="Per-student variants with the secret from "
                                           "CNNCALC_SECRET (implied by --secret-file).")] = False,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """Grade student answer files against the problem's computed key."""
    import json

    from .exercises import grade_batch, load_problem
    from .exercises.files import answer_paths
    from .exercises.grading import apply_overrides, read_overrides
    from .exercises.report import gradebook_csv, results_document, text_report, write_atomic, write_feedback

    loaded = load_problem(problem)
    paths = answer_paths(answers)
    if secret_file or variants:
        from .exercises.variants import grade_variants, read_secret

        results, warnings = grade_variants(loaded.raw, loaded.source, paths, read_secret(secret_file))
    else:
        results, warnings = grade_batch(loaded, paths)
    if overrides:
        apply_overrides(results, read_overrides(overrides, loaded))
    if gradebook:
        write_atomic(gradebook, gradebook_csv(loaded, results))
    if feedback_dir:
        write_feedback(loaded, results, feedback_dir)
    if format is TextOrJson.json:
        typer.echo(json.dumps(results_document(results, warnings), ensure_ascii=False))
    else:
        typer.echo(text_report(loaded, results, warnings), nl=False)


class SheetFormat(str, Enum):
    markdown = "markdown"
    latex = "latex"
    html = "html"


@app.command()
@user_errors
def generate(
    problem: Annotated[str, typer.Argument(help="A problem file with a `vary:` section.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Folder for sheets/ and keys/.")],
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible variants (no secret needed).")] = None,
    count: Annotated[int, typer.Option(help="With --seed: how many variants.", min=1, max=100_000)] = 1,
    roster: Annotated[str | None, typer.Option(help="CSV of student ids: one variant per student.")] = None,
    secret_file: Annotated[str | None, typer.Option(help="Course secret (or set CNNCALC_SECRET).")] = None,
    format: Annotated[SheetFormat, typer.Option("--format", "-f")] = SheetFormat.markdown,
) -> None:
    """Write one sheet per variant, and the answer keys apart from the sheets."""
    from pathlib import Path

    from .exercises.files import read_roster
    from .exercises.sheets import write_variants
    from .exercises.variants import read_secret, seed_variant, student_variant
    from .spec import safeload

    if (seed is None) == (roster is None):
        raise CnnCalcError("give either --seed N or --roster CSV (with --secret-file)")
    raw = safeload.load_file(problem)
    if not isinstance(raw, dict):
        raise CnnCalcError("a problem file must be a mapping", file=problem)
    folder = Path(out)
    if roster is not None:
        secret = read_secret(secret_file)
        labels = read_roster(roster)
        make = [lambda student=student: student_variant(raw, problem, secret, student) for student in labels]
    else:
        labels = [f"variant-{seed}-{i}" for i in range(count)]
        make = [lambda i=i: seed_variant(raw, problem, seed, i) for i in range(count)]
    write_variants(folder, labels, make, format.value)
    typer.echo(f"wrote {len(labels)} sheet(s) to {folder / 'sheets'} and their keys to {folder / 'keys'} "
               "(keep keys/ away from students)")


@app.command()
@user_errors
def key(
    problem: Annotated[str, typer.Argument(help="A problem file.")],
    student: Annotated[str | None, typer.Option(help="The student whose variant to show (needs the secret).")] = None,
    secret_file: Annotated[str | None, typer.Option(help="Course secret (or set CNNCALC_SECRET).")] = None,
    seed: Annotated[int | None, typer.Option(help="Or the variant made with --seed N …")] = None,
    index: Annotated[int, typer.Option(help="… and its number (0 for the first).", min=0)] = 0,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """Show one variant's key and worked solutions (the file's own data when neither is given)."""
    from .exercises.sheets import key_document, key_json
    from .exercises.variants import make_variant, read_secret, seed_variant, student_variant
    from .spec import safeload

    raw = safeload.load_file(problem)
    if not isinstance(raw, dict):
        raise CnnCalcError("a problem file must be a mapping", file=problem)
    if student is not None and seed is not None:
        raise CnnCalcError("give --student or --seed, not both")
    if student is not None:
        variant = student_variant(raw, problem, read_secret(secret_file), student)
    elif seed is not None:
        variant = seed_variant(raw, problem, seed, index)
    else:
        variant = make_variant({k: v for k, v in raw.items() if k != "vary"}, problem, None, "original")  # type: ignore[arg-type]
    if format is TextOrJson.json:
        typer.echo(key_json(variant))
        return
    document = key_document(variant)
    typer.echo(f"{variant.problem.title} — variant {variant.fingerprint} ({variant.label})")
    for qid, solution in document["solutions"].items():
        answer = document["answers"].get(qid, "(manual)")
        typer.echo(f"\n{qid}: {answer}")
        for line in solution:
            typer.echo(f"    {line}")


MAX_MEMORY_LIMIT = 1024**5  # 1 PiB: beyond any machine, so a typo such as 1e400 is caught


def parse_bytes(text: str) -> int:
    """'2GB', '512MB', '1e9' → bytes (K, M, G, T, P are powers of 1024; 'KiB' and 'KB' mean the same)."""
    import re

    units = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
    match = re.fullmatch(r"\s*((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?)\s*([kKmMgGtTpP]?)(?:i?[bB])?\s*", text)
    if not match:
        raise CnnCalcError("bad --max-memory", got=text, expected="a size such as 2GB, 512MB or 1e9")
    value = float(match.group(1)) * units[match.group(2).upper()]
    if not value >= 1 or value > MAX_MEMORY_LIMIT:  # also false for NaN
        raise CnnCalcError("bad --max-memory", got=text, expected="a size from 1 byte to 1 PiB")
    return int(value)


def _parse_seed(text: str | None) -> int | None:
    """Digits only, read as text first: a 5,000-digit seed gets one short message, not an echo."""
    if text is None:
        return None
    from .run.executor import MAX_SEED, check_seed

    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > len(str(MAX_SEED)):
        raise CnnCalcError("bad --seed", got=text[:40] + ("…" if len(text) > 40 else ""),
                           expected=f"an integer from 0 to {MAX_SEED:,} (2**63 − 1)")
    value = int(cleaned)
    check_seed(value)
    return value


class RunProgress:
    """A progress line on stderr once a run has lasted ``after`` seconds (short runs print nothing).

    On a terminal the line is rewritten in place and erased at the end; elsewhere (a log file, a pipe) a
    plain line is written at most once a second, so a long run leaves a readable trail.
    """

    def __init__(self, clock: Callable[[], float] | None = None, after: float = 1.0, tty: bool | None = None) -> None:
        import time

        self.clock = clock or time.monotonic
        self.start = self.clock()
        self.after = after
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.last: float | None = None
        self.shown = False

    def __call__(self, step: int, total: int, name: str) -> None:
        now = self.clock()
        if now - self.start < self.after or (not self.tty and self.last is not None and now - self.last < 1.0):
            return
        self.last = now
        shown = "".join(c if c.isprintable() else "?" for c in name[:60])
        text = f"run: layer {step}/{total} '{shown}' ({now - self.start:.0f} s)"
        typer.echo("\r" + text + "\x1b[K" if self.tty else text, err=True, nl=not self.tty)
        self.shown = True

    def finish(self) -> None:
        if self.shown and self.tty:
            typer.echo("\r\x1b[K", err=True, nl=False)


class RunDtype(str, Enum):
    float64 = "float64"
    float32 = "float32"


OUTPUT_SUFFIXES = (".npy", ".json")
MAPS_SUFFIXES = (".png", ".jpg", ".jpeg")


def _check_output_path(path: str, suffixes: tuple[str, ...], option: str) -> None:
    """Refuse an output path before any work: a known extension, not a folder, its folder present."""
    import os

    if not path.lower().endswith(suffixes):
        raise CnnCalcError(f"{option} must end in " + " or ".join(suffixes), got=path,
                           expected="a file name such as OUT" + suffixes[0])
    if os.path.isdir(path):
        raise CnnCalcError(f"{option} names a folder", file=path, expected="a file name such as OUT" + suffixes[0],
                           got=path)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise CnnCalcError(f"{option}: the folder does not exist", file=path, got=folder,
                           expected="an existing folder")


@app.command()
@user_errors
def run(
    spec: SpecArg,
    input: Annotated[str, typer.Option("--input", "-i", help="Input: .npy, YAML/JSON nested lists [H, W, C] or "
                                       "[N, H, W, C], or an image (needs the 'images' extra).")],
    weights: Annotated[str | None, typer.Option(help="Weights .npz: <layer>.weight, <layer>.bias, "
                                                "<layer>.gamma/.beta/.mean/.var.")] = None,
    seed: Annotated[str | None, typer.Option(metavar="N", help="Fill missing weights with seeded random values "
                                             "(an integer from 0 to 2**63 − 1).")] = None,
    trace: Annotated[bool, typer.Option("--trace", help="Print every layer's output shape and small arrays.")] = False,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the final output (.npy or .json).")] = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
    max_memory: Annotated[str, typer.Option(metavar="SIZE", help="Refuse to run (or read files) needing more "
                                            "memory than this: input, weights, every layer's output.")] = "2GB",
    dtype: Annotated[RunDtype, typer.Option("--dtype", help="Arithmetic precision: float64 (the reference) "
                                            "or float32 (faster, half the memory).")] = RunDtype.float64,
    save_maps: Annotated[str | None, typer.Option(help="Write a grid of one layer's feature maps, .png or .jpg "
                                                  "(needs the 'images' extra).")] = None,
    maps_layer: Annotated[str | None, typer.Option(help="Layer for --save-maps (default: the last with "
                                                   "[H, W, C] output).")] = None,
) -> None:
    """Run a spec on real numbers with the NumPy reference executor."""
    import json

    import numpy as np

    from .run.executor import compact, load_input_file, load_weights_file
    from .run.executor import run as execute
    from .spec.network import load_spec

    progress = RunProgress()  # counts from here: loading large files is part of the wait
    budget = parse_bytes(max_memory)
    seed_value = _parse_seed(seed)
    if output:
        _check_output_path(output, OUTPUT_SUFFIXES, "--output")
    if save_maps:
        _check_output_path(save_maps, MAPS_SUFFIXES, "--save-maps")
    elif maps_layer is not None:
        raise CnnCalcError("--maps-layer needs --save-maps FILE.png")
    network = load_spec(spec)
    if maps_layer is not None and maps_layer not in {layer.name for layer in network.layers}:
        from .errors import did_you_mean

        raise CnnCalcError("--maps-layer names no layer of the spec", got=maps_layer,
                           expected="a layer name", hint=did_you_mean(maps_layer, [layer.name for layer in network.layers]))
    x = load_input_file(input, budget)
    arrays = load_weights_file(weights, budget) if weights else None
    try:
        result = execute(network, x, arrays, seed=seed_value, max_memory=budget, dtype=dtype.value,
                         progress=progress)
    finally:
        progress.finish()
    final = result.output
    if save_maps:
        _save_feature_maps(result, save_maps, maps_layer)
    if output:
        _write_output(output, final)
    if format is TextOrJson.json:
        data: dict[str, Any] = {"output_shape": list(final.shape), "output": _json_values(final)}
        if trace:
            data["trace"] = [{"index": r.index, "name": r.name, "type": r.type,
                              "output_shape": list(result.layer_output(r.name).shape),
                              "output": _json_values(result.layer_output(r.name))} for r in result.summary.records]
        typer.echo(json.dumps(data, allow_nan=False))
        return
    if trace:
        typer.echo(f"input {list(np.shape(x))}")
        for record in result.summary.records:
            value = result.layer_output(record.name)
            typer.echo(f"{record.index:>3} {record.name} ({record.type}) → {list(value.shape)}")
            typer.echo("    " + compact(value).replace("\n", "\n    "))
    else:
        typer.echo(f"output {list(final.shape)}")
        typer.echo(compact(final))


def _json_values(array: Any) -> Any:
    """Nested lists for JSON; NaN and infinities (overflow in a layer) become null: JSON has no such numbers."""
    import numpy as np

    if np.all(np.isfinite(array)):
        return array.tolist()
    return np.where(np.isfinite(array), array, None).tolist()


def _write_output(path: str, array: Any) -> None:
    import json

    import numpy as np

    try:
        if path.lower().endswith(".json"):
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(_json_values(array), handle, allow_nan=False)
        else:
            with open(path, "wb") as handle:  # a file object: numpy would append ".npy" to a name
                np.save(handle, array, allow_pickle=False)
    except OSError as error:
        raise CnnCalcError(f"cannot write the output: {error.strerror}", file=path) from None


def _save_feature_maps(result: Any, path: str, layer: str | None) -> None:
    from .errors import did_you_mean
    from .run.images import save_maps

    names = [r.name for r in result.summary.records if len(r.output_shape) == 3]
    if layer is None:
        if not names:
            raise CnnCalcError("no layer has an [H, W, C] output to draw")
        layer = names[-1]
    elif layer not in names:
        if not names:
            raise CnnCalcError("--maps-layer: no layer has an [H, W, C] output to draw", got=layer,
                               expected="a layer with an [H, W, C] output")
        raise CnnCalcError("--maps-layer must name a layer with an [H, W, C] output", got=layer,
                           expected="one of " + ", ".join(names[:8]), hint=did_you_mean(layer, names))
    maps = result.layer_output(layer)
    if maps.ndim == 4:
        maps = maps[0]
    rows, columns = save_maps(maps, path)
    typer.echo(f"saved {maps.shape[2]} maps of '{layer}' as a {rows}×{columns} grid: {path}", err=True)


def main() -> None:
    try:
        app()
    except CnnCalcError as error:  # raised outside a command (should not happen, kept as a net)
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - no traceback ever reaches the user
        typer.echo(f"internal error: {type(error).__name__}: {error} (please report this)", err=True)
        sys.exit(1)
