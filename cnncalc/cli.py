"""The `cnncalc` command line: parse the arguments, call the one library function of the command, print
the result object it returns. No arithmetic here.

The library is imported when a command runs, through :func:`_lazy`, never when this module is: `cnncalc
--help` loads no command's code (NumPy, sympy, the importers).
"""

from __future__ import annotations

import errno
import functools
import importlib
import io
import os
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from . import __version__, errors
from .calc.analysis import analyse
from .errors import CnnCalcError
from .maths.budget import BudgetExceeded, shared_budget

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Convolutional-network calculator: shapes, parameters, MACs and receptive fields, explained.",
)

F = TypeVar("F", bound=Callable[..., Any])


def _lazy(module: str) -> Any:
    """A module imported on first use (``.render.service`` is cnncalc's, ``json`` the standard library's):
    the CLI's one lazy import, so that starting it costs only what every command needs."""
    return importlib.import_module(module, __package__)


def one_line(text: str) -> str:
    """An error as one line: control characters a file put in a name (a newline, a terminal escape) shown
    as escapes, never acted on.

    >>> one_line("node 'a\\nb\\x1b[31m': bad")
    "node 'a\\\\nb\\\\x1b[31m': bad"
    """
    return errors.one_line(text.strip())


def user_errors(command: F) -> F:
    """Turn a CnnCalcError into one line on stderr and exit code 2; give the command one symbolic time budget."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with shared_budget(), warnings.catch_warnings():  # one symbolic time budget per command
                warnings.simplefilter("always", errors.CnnCalcWarning)
                warnings.showwarning = _show_warnings(warnings.showwarning)
                return command(*args, **kwargs)
        except CnnCalcError as error:
            typer.echo(f"error: {one_line(str(error))}", err=True)
            raise typer.Exit(code=2) from None
        except BudgetExceeded:  # the budget's own conversion is the rule; this line is the safety net
            typer.echo("error: expression too complex: the symbolic work took longer than the time budget",
                       err=True)
            raise typer.Exit(code=2) from None
        except OSError as error:  # caught here: click would turn a closed pipe into a silent exit code 1
            if not _printing(error):
                raise
            _output_lost(error)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def _show_warnings(previous: Callable[..., None]) -> Callable[..., None]:
    """cnncalc's own warnings as one `warning:` line on standard error; others as Python shows them."""

    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, errors.CnnCalcWarning):
            typer.echo(f"warning: {one_line(str(message))}", err=True)
        else:
            previous(message, category, *args, **kwargs)

    return show


class TextOrJson(str, Enum):
    text = "text"
    json = "json"


class SummaryFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"
    latex = "latex"
    html = "html"


SpecArg = Annotated[str, typer.Argument(metavar="SPEC", help="A spec file (YAML), the name of a built-in spec "
                                        "(see `cnncalc zoo`), - for standard input, or a model file (.onnx, "
                                        ".keras, a Keras .json).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cnncalc {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Convolutional-network calculator: shapes, parameters, MACs and receptive fields, explained."""


def _load(spec: str, where: list[str] | None = None, input: list[str] | None = None, lenient: bool = False) -> Any:
    """The network a SPEC argument names: a spec by path or built-in name, a model file, or standard input
    for `-`; with `input` (`160,160,3`) another input shape, with `where` (`n=64`), symbolic input sizes
    get those values; `lenient` warns of each layer it passed through."""
    opened = _lazy(".interop.service").open_network(spec, where, input, lenient=lenient)
    for warning in opened.warnings:
        typer.echo(f"warning: {warning}", err=True)
    return opened.network


InputShapeOption = Annotated[list[str] | None, typer.Option(
    "--input", metavar="SHAPE", help="Use this input shape instead of the spec's: 160,160,3 (H, W, C; symbol "
    "names allowed), or input=160,160,3.")]

LenientOption = Annotated[bool, typer.Option("--lenient", help="A model file: pass unsupported ONNX operators "
                                             "through as flagged layers instead of stopping.")]


def _terminal_width() -> int | None:
    """The terminal's width for a table printed on one (at least 60); None when the output is a pipe or a
    file, so that what a script reads never depends on who ran it."""
    if not sys.stdout.isatty():
        return None
    return min(max(shutil.get_terminal_size().columns, 60), 1000)


def _inputs(spec: str) -> list[str | None]:
    """The files a SPEC argument reads, for the outputs to be checked against."""
    return [_lazy(".interop.service").input_path(spec)]


class RunDtype(str, Enum):
    float64 = "float64"
    float32 = "float32"


class ExportTarget(str, Enum):
    onnx = "onnx"
    pytorch = "pytorch"
    keras = "keras"


@app.command("import")
@user_errors
def import_(
    model: Annotated[str, typer.Argument(help="An ONNX model (.onnx), or a Keras model (.keras archive or "
                                         "model.to_json() file).")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the spec here (.yaml, .yml); "
                                               "default: standard output.")] = None,
    weights_out: Annotated[str | None, typer.Option("--weights-out", help="Write the model's weights as a "
                                                    "cnncalc .npz (for `cnncalc run --weights`).")] = None,
    lenient: Annotated[bool, typer.Option("--lenient", help="Pass unsupported operators through as flagged "
                                          "layers instead of stopping.")] = False,
) -> None:
    """Turn an ONNX or Keras model into a spec v2 YAML file (and its weights into an .npz)."""
    imported = _lazy(".interop.service").import_model(model, output=output, weights_out=weights_out,
                                                       lenient=lenient)
    if imported.output is None:
        typer.echo(imported.text, nl=False)
    for warning in imported.warnings():
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(imported.note(), err=True)


@app.command()
@user_errors
def export(
    spec: SpecArg,
    to: Annotated[ExportTarget, typer.Option("--to", help="onnx (a model file), pytorch or keras (Python source).")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="The file to write (.onnx for onnx; .py "
                                               "for code, default standard output).")] = None,
    weights: Annotated[str | None, typer.Option(help="Weights .npz in cnncalc's layout (default: inline in the "
                                                "spec, else seeded).")] = None,
    seed: Annotated[str | None, typer.Option(help="Seed for weights neither in --weights nor the spec (as "
                                             "`cnncalc run --seed`; default 0).")] = None,
    dtype: Annotated[RunDtype, typer.Option("--dtype", help="ONNX tensor type.")] = None,  # type: ignore[assignment]
    where: Annotated[list[str] | None, typer.Option("--where", "-w", help="Give a symbolic input size a value: "
                                                    "n=224 (repeatable).")] = None,
    input: InputShapeOption = None,
    lenient: LenientOption = False,
) -> None:
    """Write a spec as an ONNX model, or as PyTorch or Keras source code."""
    exported = _lazy(".interop.service").export_model(
        spec, to.value, output=output, weights=weights, seed=seed, dtype=None if dtype is None else dtype.value,
        where=where, input=input, lenient=lenient)
    for warning in exported.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if exported.code is not None and exported.output is None:
        typer.echo(exported.code, nl=False)
    note = exported.note()
    if note is not None:
        typer.echo(note, err=True)


@app.command()
@user_errors
def summary(
    spec: SpecArg,
    format: Annotated[SummaryFormat | None, typer.Option("--format", "-f", help="Output format (default: the one "
                                                         "-o's extension names, else table).")] = None,
    explain: Annotated[bool, typer.Option("--explain", "-e", help="Show each layer's formulas worked out.")] = False,
    width: Annotated[int | None, typer.Option(help="Fit the table into this many characters (default: the "
                                                   "terminal's width; in a pipe or file its natural width).",
                                              min=60, max=1000)] = None,
    depth: Annotated[int | None, typer.Option(help="Show blocks nested deeper than this as one row each "
                                                   "(1: top-level blocks collapsed).", min=1, max=16)] = None,
    batch: Annotated[int, typer.Option(help="Batch size for activation sizes, MACs and memory.", min=1,
                                       max=1_000_000)] = 1,
    where: Annotated[list[str] | None, typer.Option("--where", "-w", help="Give a symbolic input size a value: "
                                                    "n=64 (repeatable).")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write to this file instead of the "
                                               "terminal (its extension must suit the format).")] = None,
    input: InputShapeOption = None,
    lenient: LenientOption = False,
    columns: Annotated[str | None, typer.Option(metavar="LIST", help="The columns, a comma list of: #, layer, "
                                                "shape, size, params, macs, rf, params%, macs% (default: the "
                                                "first seven).")] = None,
) -> None:
    """Per-layer output shape, size, parameters, MACs and receptive field, with totals."""
    report = _lazy(".render.service").summarise(
        _load(spec, where, input, lenient), format=None if format is None else format.value, explain=explain,
        width=width if width is not None or output is not None else _terminal_width(), depth=depth, batch=batch,
        output=output, inputs=_inputs(spec), columns=columns)
    if report.written is None:
        typer.echo(report.text, nl=False)
    else:
        typer.echo(f"wrote {report.written}", err=True)


class MemoryDtype(str, Enum):
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"
    mixed = "mixed"


class Optimizer(str, Enum):
    none = "none"
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"
    adamw = "adamw"


class Framework(str, Enum):
    pytorch = "pytorch"
    keras = "keras"


class MemoryFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
@user_errors
def memory(
    spec: SpecArg,
    batch: Annotated[int, typer.Option(help="Samples per step.", min=1, max=1_000_000)] = 1,
    dtype: Annotated[MemoryDtype, typer.Option("--dtype", help="float32, float16, bfloat16, or mixed (float16 "
                                               "with float32 master weights).")] = MemoryDtype.float32,
    optimizer: Annotated[Optimizer, typer.Option("--optimizer", help="Its state per trainable parameter: sgd "
                                                 "none, momentum 1, adam and adamw 2.")] = Optimizer.none,
    framework: Annotated[Framework, typer.Option("--framework", help="Whose autograd rules decide what the "
                                                 "backward pass keeps.")] = Framework.pytorch,
    format: Annotated[MemoryFormat, typer.Option("--format", "-f", help="Output format.")] = MemoryFormat.table,
    explain: Annotated[bool, typer.Option("--explain", "-e", help="Show each layer's rules with the "
                                          "numbers.")] = False,
    width: Annotated[int | None, typer.Option(help="Fit the table into this many characters.", min=60,
                                              max=1000)] = None,
    where: Annotated[list[str] | None, typer.Option("--where", "-w", help="Give a symbolic input size a value: "
                                                    "n=224 (repeatable).")] = None,
    input: InputShapeOption = None,
    lenient: LenientOption = False,
) -> None:
    """Training memory (weights, gradients, optimizer states, tensors kept for backward) and the inference
    peak, per layer and in total, from the spec alone."""
    result = _lazy(".render.service").memory_summary(
        _load(spec, where, input, lenient), format=format.value, explain=explain,
        width=width if width is not None else _terminal_width(), batch=batch, dtype=dtype.value,
        optimizer=optimizer.value, framework=framework.value)
    typer.echo(result.text, nl=False)


@app.command()
@user_errors
def validate(spec: SpecArg, input: InputShapeOption = None, lenient: LenientOption = False) -> None:
    """Check a spec (fields, names, inputs, shapes) without printing the summary."""
    network = _load(spec, None, input, lenient)
    analyse(network)
    typer.echo(f"ok: {network.source}: {len(network.layers)} layers, valid")


@app.command()
@user_errors
def zoo(format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text) -> None:
    """List the built-in network specs (with --format json: name, title, input, parameters, MACs)."""
    listing = _lazy(".render.service").zoo_listing(details=format is TextOrJson.json)
    typer.echo(listing.json() if format is TextOrJson.json else listing.text(), nl=format is TextOrJson.json)


@app.command()
@user_errors
def draw(
    spec: SpecArg,
    output: Annotated[str, typer.Option("--output", "-o", help="The SVG file to write.")],
    depth: Annotated[int | None, typer.Option(help="Draw blocks nested deeper than this as one box each.",
                                              min=1, max=16)] = None,
    where: Annotated[list[str] | None, typer.Option("--where", "-w", help="Give a symbolic input size a value: "
                                                    "n=64 (repeatable).")] = None,
    input: InputShapeOption = None,
    lenient: LenientOption = False,
) -> None:
    """Draw the network as the lecture does: a volume per activation, the operation under each."""
    drawing = _lazy(".render.service").draw(_load(spec, where, input, lenient), output, depth=depth,
                                            inputs=_inputs(spec))
    typer.echo(drawing.note(), err=True)


@app.command("draw-conv")
@user_errors
def draw_conv(
    output: Annotated[str, typer.Option("--output", "-o", help="The SVG file to write.")],
    n: Annotated[int, typer.Option("--n", help="Input size.")],
    f: Annotated[int, typer.Option("--f", help="Kernel size.")],
    p: Annotated[str, typer.Option("--p", help="Padding on each side: a number, or same (TensorFlow's rule), "
                                   "valid or full.")] = "0",
    s: Annotated[int, typer.Option("--s", help="Stride.")] = 1,
    d: Annotated[int, typer.Option("--d", help="Dilation.")] = 1,
    transpose: Annotated[bool, typer.Option("--transpose", help="A transposed convolution.")] = False,
    output_padding: Annotated[int, typer.Option("--output-padding", help="With --transpose.")] = 0,
    position: Annotated[list[str] | None, typer.Option(help="Output cell(s) to show, ROW,COLUMN (repeatable; "
                                                       "default every one, up to 16).")] = None,
    animate: Annotated[bool, typer.Option("--animate", help="One panel stepping through every position.")] = False,
) -> None:
    """Draw a convolution as the conv_arithmetic figures do: padded input, kernel, output."""
    drawing = _lazy(".render.service").draw_conv(n, f, p, s, d, transpose=transpose, output_padding=output_padding,
                                                 positions=position, animate=animate, output=output)
    typer.echo(drawing.note(), err=True)


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
    min_: Annotated[int | None, typer.Option("--min", help="With --spec: smallest size tried (default 1).",
                                             min=1)] = None,
    max_: Annotated[int | None, typer.Option("--max", help="With --spec: largest size tried (default 1024).",
                                             min=1)] = None,
    where: Annotated[list[str] | None, typer.Option("--where", help="With --spec: fix other symbols, m=32.")] = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
    draw: Annotated[str | None, typer.Option("--draw", help="Also draw the case solved, as `draw-conv` does "
                                             "(an SVG file).")] = None,
    input: Annotated[list[str] | None, typer.Option("--input", metavar="SHAPE", help="With --spec: use this "
                                                    "input shape instead of the spec's (n,n,3).")] = None,
) -> None:
    """Solve out = ⌊(n + 2p − d·(f−1) − 1)/s⌋ + 1 for one unknown, showing the steps."""
    values = {"n": n, "f": f, "p": p, "s": s, "d": d, "out": out}
    calc = _lazy(".calc.service")
    result = calc.solve(for_, {**values, "output_padding": output_padding}, same, transpose=transpose, spec=spec,
                        exact=exact, low=min_, high=max_, where=where, input=input)
    if draw is not None:
        if spec is not None:
            raise CnnCalcError("--draw draws one convolution, not a spec", got="--spec", expected="no --spec")
        drawing = _lazy(".render.service").draw_solution(result, values, draw, transpose=transpose,
                                                         output_padding=output_padding)
        typer.echo(drawing.note(), err=True)
    if format is TextOrJson.json:
        typer.echo(_lazy("json").dumps(result.as_dict(), ensure_ascii=False))
    else:
        typer.echo(calc.solution_text(result), nl=False)


class GradebookFormat(str, Enum):
    csv = "csv"
    canvas = "canvas"
    moodle = "moodle"


@app.command()
@user_errors
def grade(
    problem: Annotated[str, typer.Argument(help="A problem file (problems/*.yaml).")],
    answers: Annotated[list[str] | None, typer.Argument(help="Answer files, folders or globs.")] = None,
    gradebook: Annotated[str | None, typer.Option(help="Write one CSV row per student (atomically).")] = None,
    feedback_dir: Annotated[str | None, typer.Option(help="Write one Markdown feedback file per student.")] = None,
    overrides: Annotated[str | None, typer.Option(help="Instructor scores that always win (YAML/JSON).")] = None,
    secret_file: Annotated[str | None, typer.Option(help="Course secret: grade each student against their own "
                                                    "variant (or set CNNCALC_SECRET).")] = None,
    variants: Annotated[bool, typer.Option("--variants", help="Per-student variants with the secret from "
                                           "CNNCALC_SECRET (implied by --secret-file).")] = False,
    gradebook_format: Annotated[GradebookFormat, typer.Option(
        help="Layout of --gradebook: csv (per question), canvas or moodle (their import layouts).")
    ] = GradebookFormat.csv,
    lms_id_column: Annotated[str | None, typer.Option(
        help="The LMS column that holds the student id: canvas sis-user-id (default), sis-login-id or id; "
             "moodle id-number (default), email, username or user-id.")] = None,
    assignment: Annotated[str | None, typer.Option(
        help="The LMS assignment column (Canvas: \"Name (id)\" to match an existing assignment; default: the "
             "problem's title).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="One line per student.")] = False,
    stats: Annotated[bool, typer.Option("--stats", help="The class view: score histogram and per question "
                                        "mean, share correct and the most common wrong answers.")] = False,
    latest: Annotated[bool, typer.Option("--latest", help="Several files of one student: grade the one submitted "
                                         "last (by modification time), not none of them.")] = False,
    course: Annotated[str | None, typer.Option(help="Record the grades in this course's gradebook, with its "
                                               "roster and secret (default: the course folder you are in).")] = None,
    allow_unlisted: Annotated[bool, typer.Option("--allow-unlisted", help="With a course: record students who "
                                                 "are not on its roster (as unlisted) instead of refusing them.")
                              ] = False,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
    from_lms: Annotated[str | None, typer.Option("--from", help="An exported quiz's responses: Moodle's Responses "
                                                 "report or Canvas's Student Analysis (CSV); each attempt is graded "
                                                 "against its variant.")] = None,
    attempts: Annotated[str | None, typer.Option("--attempts", help="With --from, several attempts of one "
                                                 "student: grade the last finished one (default), the best or "
                                                 "the first; unfinished attempts are left out, named.")] = None,
) -> None:
    """Grade student answer files against the problem's computed key.

    Exit code 0: every file graded. 1: some answer files invalid (listed in the report; the gradebook and
    feedback are written for the others). 2: a usage error (bad problem, overrides, secret or output path)
    or no file could be graded; then nothing is written and an existing gradebook stays as it was.
    """
    if quiet and format is TextOrJson.json:
        raise CnnCalcError("--quiet is for the text report; --format json is already one document")

    def print_report(run: Any) -> None:
        if format is TextOrJson.json:
            typer.echo(_lazy("json").dumps(run.document(), ensure_ascii=False, allow_nan=False))
        else:
            typer.echo(run.text(quiet), nl=False)

    options: dict[str, Any] = {
        "gradebook": gradebook, "gradebook_format": gradebook_format.value, "lms_id_column": lms_id_column,
        "assignment": assignment, "feedback_dir": feedback_dir, "overrides": overrides, "secret_file": secret_file,
        "variants": variants, "stats": stats, "latest": latest, "report": print_report}
    if (from_lms is None) == (not answers):
        raise CnnCalcError("give answer files, or --from RESPONSES.csv (not both)")
    if from_lms is not None:
        options["from_lms"] = from_lms
    if attempts is not None:
        options["attempts"] = attempts
    folder = course if course is not None else _course_here()
    if allow_unlisted and folder is None:
        raise CnnCalcError("--allow-unlisted goes with a course (--course DIR): without one there is no roster")
    exercises = _lazy(".exercises.service")
    try:
        if folder is not None:
            run = _lazy(".course.grading").grade_in_course(folder, problem, answers or [],
                                                           allow_unlisted=allow_unlisted, **options)
        else:
            run = exercises.grade(problem, answers or [], **options)
    except exercises.NothingGraded as failure:  # after its report, which print_report has shown
        typer.echo(f"error: {failure}", err=True)
        raise typer.Exit(code=2) from None
    if run.invalid:
        typer.echo(f"warning: {run.invalid} of {len(run.results)} answer file(s) invalid (see the report; not in "
                   "the gradebook)", err=True)
    if run.exit_code:
        raise typer.Exit(code=run.exit_code)


def _course_here() -> str | None:
    """The course folder the current folder is in (a course.yaml with its gradebook), or None."""
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "course.yaml").is_file() and (folder / "gradebook.sqlite").exists():
            return str(folder)
    return None


MAX_VARIANTS = 100_000  # as cnncalc.exercises.variants.MAX_VARIANTS (not imported here: it loads numpy)


class SheetFormat(str, Enum):
    markdown = "markdown"
    latex = "latex"
    html = "html"
    moodle = "moodle"  # the LMS quiz exports: -o is the file (moodle, canvas) or folder (prairielearn)
    canvas = "canvas"
    prairielearn = "prairielearn"


@app.command()
@user_errors
def generate(
    problem: Annotated[str, typer.Argument(help="A problem file with a `vary:` section.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Folder for sheets/ and keys/.")],
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible variants (no secret needed).")] = None,
    count: Annotated[int, typer.Option(help="With --seed, or for an LMS export: how many variants.", min=1,
                                       max=MAX_VARIANTS)] = 1,
    roster: Annotated[str | None, typer.Option(help="CSV of student ids: one variant per student.")] = None,
    secret_file: Annotated[str | None, typer.Option(help="Course secret (or set CNNCALC_SECRET).")] = None,
    format: Annotated[SheetFormat, typer.Option("--format", "-f")] = SheetFormat.markdown,
    force: Annotated[bool, typer.Option("--force", help="Write into a folder generate did not make, and overwrite "
                                        "files edited since it wrote them.")] = False,
    course: Annotated[str | None, typer.Option(help="One sheet per student of this course's roster, with its "
                                               "secret.")] = None,
) -> None:
    """Write one sheet per variant, and the answer keys apart from the sheets; or, with --format moodle, canvas
    or prairielearn, a quiz of --count variants (or as many as --roster has students) for that LMS."""
    if format.value in ("moodle", "canvas", "prairielearn"):
        if course is not None:
            raise CnnCalcError("--course is for sheets; an LMS export takes --count N (or --roster CSV) and the secret")
        typer.echo(_lazy(".exercises.service").export_quiz(
            problem, out, format.value, count=count if roster is None else None, seed=seed, roster=roster,
            secret_file=secret_file, force=force).text(), nl=False)
        return
    if course is not None:
        if roster is not None or seed is not None:
            raise CnnCalcError("--course gives the roster and the secret: leave out --roster and --seed")
        run = _lazy(".course.generating").generate_for_course(course, problem, out, secret_file=secret_file,
                                                              format=format.value, force=force)
    else:
        run = _lazy(".exercises.service").generate(problem, out, seed=seed, count=count, roster=roster,
                                                   secret_file=secret_file, format=format.value, force=force)
    for warning in run.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(run.text(), nl=False)


@app.command()
@user_errors
def key(
    problem: Annotated[str, typer.Argument(help="A problem file.")],
    student: Annotated[str | None, typer.Option(help="The student whose variant to show (needs the secret).")] = None,
    secret_file: Annotated[str | None, typer.Option(help="Course secret (or set CNNCALC_SECRET).")] = None,
    seed: Annotated[int | None, typer.Option(help="Or the variant made with --seed N …")] = None,
    index: Annotated[int, typer.Option(help="… and its number (0 for the first).", min=0,
                                       max=MAX_VARIANTS - 1)] = 0,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """Show one variant's key and worked solutions (the file's own data when neither is given)."""
    key = _lazy(".exercises.service").problem_key(problem, student=student, secret_file=secret_file, seed=seed,
                                                  index=index)
    typer.echo(key.json() if format is TextOrJson.json else key.text(), nl=format is TextOrJson.json)


@app.command()
@user_errors
def check(
    problem: Annotated[str, typer.Argument(help="A problem file (problems/*.yaml).")],
    strict: Annotated[bool, typer.Option("--strict", help="Exit with code 2 when there are warnings.")] = False,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """Check a problem file: its structure, its key (printed with the worked solutions), a first variant
    when it has `vary:`, and what a student needs that the sheet does not show (warnings).

    Exit code 0: the file is usable (warnings are printed). 2: an error in the file, or warnings with
    --strict.
    """
    checked = _lazy(".exercises.service").check_problem(problem)
    if format is TextOrJson.json:
        typer.echo(checked.json())
    else:
        typer.echo(checked.text(), nl=False)
        for warning in checked.warnings:
            typer.echo(f"warning: {warning}", err=True)
        typer.echo(checked.verdict())
    if checked.warnings and strict:
        raise typer.Exit(code=2)


class _Echo:
    """Standard output for a library function that writes as it goes (click's echo: a closed pipe ends
    quietly, as every command's output does)."""

    def write(self, text: str) -> None:
        typer.echo(text, nl=False)


@app.command()
@user_errors
def practice(
    level: Annotated[int, typer.Option(help="1: one conv, no stride or padding … 5: dilation, groups, transposed "
                                       "convs, 'same' padding, receptive fields, symbolic sizes.", min=1, max=5)] = 1,
    topic: Annotated[list[str] | None, typer.Option(help="shape, params, cells, valid, macs, same, rf, transpose, sizes "
                                                    "or formula (again for several; default: every topic of the "
                                                    "level).")] = None,
    seed: Annotated[int | None, typer.Option(help="The same seed asks the same questions (default: a new one).")] = None,
    count: Annotated[int, typer.Option(help="How many questions to ask.", min=1, max=10_000)] = 5,
    sheet: Annotated[int | None, typer.Option(help="Write a sheet of N questions instead of asking.", min=1,
                                              max=10_000)] = None,
    format: Annotated[SheetFormat, typer.Option("--format", "-f", help="The sheet's format.")] = SheetFormat.html,
    output: Annotated[str | None, typer.Option("--output", "-o", help="The sheet's file.")] = None,
) -> None:
    """Practise on new questions: asked one at a time (answers from standard input, piped or typed), or
    as a sheet that checks itself in the browser (--sheet N --format html -o FILE)."""
    service = _lazy(".exercises.service")
    if sheet is not None:
        if output is None:
            raise CnnCalcError("--sheet needs --output FILE (-o)")
        written = service.practice_sheet(sheet, output, level=level, topic=topic, seed=seed, format=format.value)
        typer.echo(written.text(), nl=False)
        return
    if output is not None:
        raise CnnCalcError("--output goes with --sheet N")
    stdin = sys.stdin
    service.practice(count, level=level, topic=topic, seed=seed, input=stdin, output=_Echo(),
                     echo=not (hasattr(stdin, "isatty") and stdin.isatty()))


MAX_MEMORY_LIMIT = 1024**5  # 1 PiB: beyond any machine, so a typo such as 1e400 is caught


course_app = typer.Typer(help="A course: roster, secret and a SQLite gradebook that remembers every grade.",
                          no_args_is_help=True)
gradebook_app = typer.Typer(help="The course gradebook: the class table, who is missing, a student's history, "
                            "copy flags, overrides, LMS exports and backups.", no_args_is_help=True)
app.add_typer(course_app, name="course")
app.add_typer(gradebook_app, name="gradebook")
CourseOption = Annotated[str | None, typer.Option("--course", help="The course folder (default: the course folder "
                                                   "you are in).")]


class ExportFormat(str, Enum):
    csv = "csv"
    canvas = "canvas"
    moodle = "moodle"


def _echo_result(result: Any, format: TextOrJson) -> None:
    if format is TextOrJson.json:
        typer.echo(_lazy("json").dumps(result.as_dict(), ensure_ascii=False, allow_nan=False))
    else:
        typer.echo(result.text(), nl=False)


@course_app.command("init")
@user_errors
def course_init(
    folder: Annotated[str, typer.Argument(help="The new course folder.")],
    roster: Annotated[str, typer.Option(help="Roster CSV: id (required), name, email, section.")],
    secret_file: Annotated[str | None, typer.Option(help="The course secret (an owner-only file; its path is "
                                                    "kept, never the secret).")] = None,
) -> None:
    """Make a course folder: course.yaml and gradebook.sqlite (owner-only)."""
    made = _lazy(".course").init_course(folder, roster, secret_file)
    for warning in made.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"made course {made.folder} ({made.students} students): {made.course_file.name}, "
               f"{made.gradebook.name}")


@gradebook_app.command("show")
@user_errors
def gradebook_show(course: CourseOption = None,
                   format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text) -> None:
    """The class table: students × assignments, current grades (overrides applied), totals."""
    courses = _lazy(".course")
    with courses.open_course(course) as opened:
        _echo_result(courses.show(opened), format)


@gradebook_app.command("missing")
@user_errors
def gradebook_missing(course: CourseOption = None,
                      assignment: Annotated[str | None, typer.Option(help="One assignment (problem or "
                                                                     "problem@version).")] = None,
                      format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text) -> None:
    """Roster students without a submission, per assignment."""
    courses = _lazy(".course")
    with courses.open_course(course) as opened:
        _echo_result(courses.missing(opened, assignment), format)


@gradebook_app.command("history")
@user_errors
def gradebook_history(student: Annotated[str, typer.Argument(help="A student id.")], course: CourseOption = None,
                      format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text) -> None:
    """One student's submissions, grades, overrides and copy flags over time."""
    courses = _lazy(".course")
    with courses.open_course(course) as opened:
        _echo_result(courses.history(opened, student), format)


@gradebook_app.command("flags")
@user_errors
def gradebook_flags(course: CourseOption = None,
                    dismiss: Annotated[int | None, typer.Option(help="Dismiss this flag (needs --reason).")] = None,
                    confirm: Annotated[int | None, typer.Option(help="Confirm this flag.")] = None,
                    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
                    status: Annotated[str | None, typer.Option(help="Only flags that are open, dismissed or "
                                                               "confirmed.")] = None,
                    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text) -> None:
    """Copy flags, and the instructor's decision on one."""
    courses = _lazy(".course")
    with courses.open_course(course) as opened:
        _echo_result(courses.flags(opened, dismiss=dismiss, confirm=confirm, reason=reason, status=status), format)


@gradebook_app.command("override")
@user_errors
def gradebook_override(
    student: Annotated[str, typer.Argument(help="A student id.")],
    question: Annotated[str, typer.Argument(help="A question id.")],
    score: Annotated[str | None, typer.Argument(help="A number, a fraction (2/3) or the figure the report "
                                                "prints (0.6667).")] = None,
    reason: Annotated[str, typer.Option(help="Why (kept with the author and the time).")] = "",
    clear: Annotated[bool, typer.Option("--clear", help="Remove the override in force.")] = False,
    assignment: Annotated[str | None, typer.Option(help="problem or problem@version, where the question id is "
                                                   "in several.")] = None,
    max: Annotated[float | None, typer.Option("--max", help="A manual question's points.")] = None,
    course: CourseOption = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """Set a student's score for a question; it survives every regrade (--clear removes it)."""
    courses = _lazy(".course")
    if (score is None) != clear:
        raise CnnCalcError("give a SCORE, or --clear to remove the override in force")
    if not clear and not reason.strip():
        raise CnnCalcError("an override needs --reason TEXT (it is kept with who set it and when)")
    with courses.open_course(course) as opened:
        result = courses.override(opened, student, question, score, reason, clear, assignment=assignment, max=max)
    _print_override(result, format)


@gradebook_app.command("override-group")
@user_errors
def gradebook_override_group(
    question: Annotated[str, typer.Argument(help="A question id.")],
    answer: Annotated[str, typer.Argument(help="The answer, as in an answer file (YAML: 12, [14, 14, 32]).")],
    score: Annotated[str, typer.Argument(help="The score for every student who gave that answer.")],
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    assignment: Annotated[str | None, typer.Option(help="problem or problem@version.")] = None,
    course: CourseOption = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
) -> None:
    """Score an answer group: every student whose answer to QUESTION is ANSWER, now and in later runs."""
    courses = _lazy(".course")
    if not reason.strip():
        raise CnnCalcError("an override needs --reason TEXT (it is kept with who set it and when)")
    value = _lazy(".spec.safeload").loads(answer, "ANSWER")
    with courses.open_course(course) as opened:
        result = courses.override(opened, None, question, score, reason, assignment=assignment, answer=value)
    _print_override(result, format)


def _print_override(result: Any, format: TextOrJson) -> None:
    if format is TextOrJson.json:
        typer.echo(_lazy("json").dumps(result.as_dict(), ensure_ascii=False, allow_nan=False))
        return
    who = result.student if result.student is not None else f"answer {result.answer}"
    if result.score is None:
        typer.echo(f"cleared {result.cleared} override(s) of {result.question} for {who} ({result.assignment})")
    else:
        was = f" (was {result.previous:g})" if result.previous is not None else ""
        typer.echo(f"{result.question} for {who}: {result.score:g} of {result.points:g}{was} ({result.assignment})")


@gradebook_app.command("export")
@user_errors
def gradebook_export(
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv, or Canvas's or Moodle's import "
                                                 "layout.")],
    output: Annotated[str, typer.Option("--output", "-o", help="The file to write (whole or not at all).")],
    missing_as_zero: Annotated[bool, typer.Option("--missing-as-zero", help="0 for no submission (default: an "
                                                  "empty cell).")] = False,
    lms_id_column: Annotated[str | None, typer.Option(help="The LMS column that identifies students.")] = None,
    assignment: Annotated[list[str] | None, typer.Option(help="Only these assignments.")] = None,
    course: CourseOption = None,
) -> None:
    """The class's current grades, from the database, with the roster's names, sections and emails."""
    courses = _lazy(".course")
    with courses.open_course(course) as opened:
        text = courses.export(opened, format.value, missing_as_zero, id_column=lms_id_column, only=assignment)
        inputs = [str(opened.gradebook), str(opened.folder / "course.yaml")]
    _lazy(".outputs").write_output(output, text, inputs=inputs)
    typer.echo(f"wrote {output}")


@gradebook_app.command("backup")
@user_errors
def gradebook_backup(target: Annotated[str, typer.Argument(help="The backup file.")], course: CourseOption = None,
                     format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text) -> None:
    """A consistent copy of the gradebook (SQLite's online backup; grading may go on meanwhile)."""
    courses = _lazy(".course")
    with courses.open_course(course) as opened:
        _echo_result(courses.backup(opened, target), format)


def parse_bytes(text: str) -> int:
    """'2GB', '512MB', '1e9' → bytes (K, M, G, T, P are powers of 1024; 'KiB' and 'KB' mean the same)."""
    units = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
    match = re.fullmatch(r"\s*((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?)\s*([kKmMgGtTpP]?)(?:i?[bB])?\s*", text)
    if not match:
        raise CnnCalcError("bad --max-memory", got=text, expected="a size such as 2GB, 512MB or 1e9")
    value = float(match.group(1)) * units[match.group(2).upper()]
    if not value >= 1 or value > MAX_MEMORY_LIMIT:  # also false for NaN
        raise CnnCalcError("bad --max-memory", got=text, expected="a size from 1 byte to 1 PiB")
    return int(value)




class RunProgress:
    """A progress line on stderr once a run has lasted ``after`` seconds (short runs print nothing).

    On a terminal the line is rewritten in place and erased at the end; elsewhere (a log file, a pipe) a
    plain line is written at most once a second, so a long run leaves a readable trail.
    """

    def __init__(self, clock: Callable[[], float] | None = None, after: float = 1.0, tty: bool | None = None) -> None:
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


@app.command()
@user_errors
def run(
    spec: SpecArg,
    input: Annotated[str, typer.Option("--input", "-i", help="Input: .npy, YAML/JSON nested lists [H, W, C] or "
                                       "[N, H, W, C], or an image (needs the 'images' extra).")],
    weights: Annotated[str | None, typer.Option(help="Weights .npz: <layer>.weight, <layer>.bias, "
                                                "<layer>.gamma/.beta/.mean/.var (default for a model file: its own).")] = None,
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
    input_shape: Annotated[list[str] | None, typer.Option("--input-shape", metavar="SHAPE", help="Use this input "
                                                          "shape instead of the spec's: 160,160,3 (--input is "
                                                          "the data).")] = None,
    save_weights: Annotated[str | None, typer.Option(metavar="W.npz", help="Write every weight array the run "
                                                     "used (seeded ones too) as an .npz for --weights.")] = None,
    lenient: LenientOption = False,
) -> None:
    """Run a spec, or a model file with its own weights, on real numbers with the NumPy reference executor."""
    progress = RunProgress()  # counts from here: loading large files is part of the wait
    budget = parse_bytes(max_memory)
    seed_value = None if seed is None else _lazy(".run.service").parse_seed(seed)
    try:
        report = _lazy(".interop.service").run_model(spec, input, weights=weights, seed=seed_value, output=output,
                                                     max_memory=budget, dtype=dtype.value, save_maps=save_maps,
                                                     maps_layer=maps_layer, progress=progress, lenient=lenient,
                                                     input_shape=input_shape, save_weights=save_weights)
    finally:
        progress.finish()
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if report.maps is not None:
        typer.echo(report.maps.note(), err=True)
    typer.echo(report.json(trace) if format is TextOrJson.json else report.text(trace),
               nl=format is TextOrJson.json)


def main() -> None:
    # Typer vendors click in recent releases and depends on it in older ones: take its classes from Typer.
    # (Any: an exception class of whichever click this is, found among the bases of one of its classes)
    click_error: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    no_args = getattr(sys.modules[click_error.__module__], "NoArgsIsHelpError", ())
    _printable_streams()
    try:
        code = _command()(standalone_mode=False)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not in the interpreter's last flush
    except no_args as shown:  # `cnncalc` alone: the help, as a usage error
        typer.echo(shown.ctx.get_help() if shown.ctx else str(shown), err=True)
        sys.exit(2)
    except click_error as error:  # a bad option or argument: one line, as for every other error
        where = f" (see '{error.ctx.command_path} --help')" if getattr(error, "ctx", None) else ""
        typer.echo(f"error: {_one_line(error.format_message())}{where}", err=True)
        sys.exit(2)
    except typer.Abort:
        sys.exit(130)
    except CnnCalcError as error:  # raised outside a command (should not happen, kept as a net)
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as error:
        if not _printing(error):
            _internal_error(error)
        _output_lost(error)
        sys.exit(2)
    except Exception as error:  # noqa: BLE001 - no traceback ever reaches the user
        _internal_error(error)
    sys.exit(code if isinstance(code, int) else 0)


def _internal_error(error: Exception) -> NoReturn:
    typer.echo(f"internal error: {type(error).__name__}: {_one_line(str(error))} (please report this)", err=True)
    sys.exit(1)


def _printable_streams() -> None:
    """Text a stream cannot encode (a file name with a byte that is not UTF-8, kept by Python as a lone
    surrogate) is printed escaped, never an error in the middle of a report. Under `python -u` standard
    output is a raw file whose short writes (a pipe closed by its reader) the text layer silently drops:
    a buffered layer in between writes everything or raises."""
    stdout = sys.stdout
    if isinstance(stdout, io.TextIOWrapper) and isinstance(stdout.buffer, io.RawIOBase):
        # the old wrapper stays referenced by sys.__stdout__, so it never closes the file under us
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(stdout.buffer), encoding=stdout.encoding,
                                      errors=stdout.errors, line_buffering=True)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")


def _printing(error: OSError) -> bool:
    """Whether ``error`` came from printing (click's echo, or main's last flush of standard output)."""
    trace = error.__traceback__
    while trace is not None:
        frame = trace.tb_frame
        if (frame.f_code.co_name == "echo" and "click" in frame.f_globals.get("__name__", "")) or (
                frame.f_code is main.__code__ and trace.tb_next is None):
            return True
        trace = trace.tb_next
    return False


def _output_lost(error: OSError) -> None:
    """Standard output (or error) failed: a closed pipe (`| head`) ends quietly, a full disk or an I/O
    error in one line; the caller exits with 2, the command did not finish. What is still buffered goes to
    /dev/null, so the interpreter's last flush cannot fail again."""
    try:
        sink = os.open(os.devnull, os.O_WRONLY)
        os.dup2(sink, sys.stdout.fileno())
        os.close(sink)
    except (OSError, ValueError, AttributeError):
        pass
    if error.errno != errno.EPIPE:
        try:
            typer.echo(f"error: cannot write to standard output: {error.strerror or error}", err=True)
        except OSError:
            pass


def _command() -> Any:
    """The click command behind `app`, with help that names each value: `--input INPUT`, `SPEC`, not the
    `<str>` and `{spec}` placeholders Typer writes by default."""
    command = typer.main.get_command(app)
    for sub in getattr(command, "commands", {}).values():
        for param in sub.params:
            if hasattr(param, "type"):
                type_name = getattr(param.type, "name", "")
            else:  # Typer 0.29 and later write help themselves: an argument's name alone, a list by its item
                type_name = param.bare_type().removeprefix("list[").removesuffix("]")
                if param.param_type_name == "argument":
                    param.display_type_rich = _no_type
            if param.metavar is None and (type_name in ("str", "float") or type_name.startswith("int")):
                param.metavar = "N" if type_name.startswith("int") else (param.name or "value").upper()
        sub.collect_usage_pieces = _plain_usage(sub.collect_usage_pieces)
    return command


def _no_type(ctx: Any) -> None:
    return None


def _plain_usage(collect: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
    return lambda ctx: [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
                        for piece in collect(ctx)]


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
