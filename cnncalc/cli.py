"""The `cnncalc` command line: parse arguments, call the library, print. No arithmetic here."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from . import errors
from .errors import CnnCalcError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Convolutional-network calculator: shapes, parameters, MACs and receptive fields, explained.",
)

F = TypeVar("F", bound=Callable[..., Any])


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
        from .maths.budget import BudgetExceeded, shared_budget

        try:
            with shared_budget():  # one symbolic time budget per command, shared by all its questions
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
                                        "(see `cnncalc zoo`), or - for standard input.")]


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"cnncalc {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Convolutional-network calculator: shapes, parameters, MACs and receptive fields, explained."""


def _load(spec: str, where: list[str] | None = None) -> Any:
    """A spec by path or built-in name, a model file, or standard input for `-` (read under the same size
    cap); with `where` (`n=64`), symbolic input sizes get those values."""
    from .interop.service import _read_spec

    network = _read_spec(spec)
    if where:
        from .calc.symbolic import parse_assignments, substitute

        network = substitute(network, parse_assignments(where))
    return network


def _inputs(*paths: str | None) -> list[str | None]:
    """The files a command reads, for the outputs to be checked against (`-` is standard input: a file
    redirected into it counts too)."""
    return ["/dev/stdin" if path == "-" else path for path in paths]


def _check_outputs(outputs: list[str | None], inputs: list[str | None]) -> None:
    """Refuse a bad output path (a device, a FIFO, a folder, a link loop, one of the inputs) before any work."""
    from .outputs import check_output

    for output in outputs:
        if output is not None:
            check_output(output, inputs)


MODEL_SUFFIXES = {"onnx": ".onnx", "pytorch": ".py", "keras": ".py"}


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
    from .calc.analysis import analyse
    from .interop import dump_spec
    from .interop.service import _import_model, _model_kind
    from .render.files import write_text

    kind = _model_kind(model) or ("keras" if model.lower().endswith(".json") else None)
    if kind is None:
        raise CnnCalcError("unknown model type", file=model, got=model.rsplit(".", 1)[-1] if "." in model else "",
                           expected=".onnx, .keras or a Keras .json")
    if weights_out is not None and not weights_out.lower().endswith(".npz"):
        raise CnnCalcError("unknown file type for --weights-out", file=weights_out, expected=".npz")
    _check_outputs([output, weights_out], [model])
    network, weights, flagged, spec = _import_model(model, kind, lenient, weights=weights_out is not None)
    result = analyse(network)
    text = dump_spec(spec, f"imported from {model}")
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_text(output, text, (".yaml", ".yml"), inputs=[model])
    if weights_out is not None:
        from .interop import write_npz

        write_npz(weights_out, weights, inputs=[model, output])
    for name in flagged:
        typer.echo(f"warning: layer '{name}' passes an unsupported operator through (--lenient): its output "
                   "shape and values are not the model's", err=True)
    typer.echo(f"imported {model}: {len(network.layers)} layers, {result.params:,} parameters"
               + (f", wrote {output}" if output else "") + (f", weights in {weights_out}" if weights_out else ""),
               err=True)


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
) -> None:
    """Write a spec as an ONNX model, or as PyTorch or Keras source code."""
    import numpy as np

    from .interop import interop_module

    _check_outputs([output], _inputs(spec, weights))
    network = _load(spec, where)
    arrays = None
    if weights:
        from .run.executor import load_weights_file

        arrays = load_weights_file(weights)
    seed_value = _parse_seed(seed)
    if to is ExportTarget.onnx:
        if output is None or not output.lower().endswith(".onnx"):
            raise CnnCalcError("--to onnx writes a binary model: give -o FILE.onnx", got=output,
                               expected="a path ending in .onnx")
        onnx_export = interop_module("onnx_export", "ONNX export")
        chosen = np.float64 if dtype is not None and dtype.value == "float64" else np.float32
        model = onnx_export.export_onnx(network, arrays, 0 if seed_value is None else seed_value, chosen)
        size = onnx_export.save_onnx(model, output, inputs=tuple(_inputs(spec, weights)))
        typer.echo(f"wrote {output}: {len(model.graph.node)} ONNX nodes, {size:,} bytes (opset "
                   f"{onnx_export.OPSET}; input and outputs channels-last)", err=True)
        return
    if dtype is not None:
        raise CnnCalcError("--dtype is for --to onnx", got=dtype.value, expected="no --dtype")
    if to is ExportTarget.pytorch:
        source = interop_module("pytorch_export", "PyTorch export").export_pytorch(network, arrays)
    else:
        source = interop_module("keras_export", "Keras export").export_keras(network, arrays)
    if output is None:
        typer.echo(source, nl=False)
        return
    from .render.files import write_text

    write_text(output, source, (".py",), inputs=_inputs(spec, weights))
    typer.echo(f"wrote {output}", err=True)


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
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write to this file instead of the "
                                               "terminal (its extension must suit the format).")] = None,
) -> None:
    """Per-layer output shape, size, parameters, MACs and receptive field, with totals."""
    from .calc.analysis import analyse
    from .render import render

    network = _load(spec, where)
    result = analyse(network)
    text = render(result, format.value, explain, width, depth, batch)
    if output is None:
        typer.echo(text, nl=False)
        return
    from .render.files import write_text

    suffixes = {"table": (".txt",), "json": (".json",), "markdown": (".md", ".markdown"), "csv": (".csv",),
                "latex": (".tex",), "html": (".html", ".htm")}[format.value]
    write_text(output, text, suffixes, inputs=_inputs(spec))
    typer.echo(f"wrote {output}", err=True)


@app.command()
@user_errors
def validate(spec: SpecArg) -> None:
    """Check a spec (fields, names, inputs, shapes) without printing the summary."""
    from .calc.analysis import analyse

    network = _load(spec)
    analyse(network)
    typer.echo(f"ok: {network.source}: {len(network.layers)} layers, valid")


@app.command()
@user_errors
def zoo(format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text) -> None:
    """List the built-in network specs (with --format json: name, title, input, parameters, MACs)."""
    from .spec.network import load_spec, zoo_names

    if format is TextOrJson.json:
        import json

        from .calc.analysis import analyse
        from .render.common import json_dim

        entries = []
        for name in zoo_names():
            result = analyse(load_spec(name))
            entries.append({"name": name, "title": result.name, "input": [json_dim(d) for d in result.input_shape],
                            "layers": len(result.records), "params": result.params,
                            "trainable_params": result.trainable, "non_trainable_params": result.non_trainable,
                            "macs": json_dim(result.macs)})
        typer.echo(json.dumps({"zoo": entries}, ensure_ascii=False))
        return
    for name in zoo_names():
        network = load_spec(name)
        typer.echo(f"{name:24} {network.name}")


@app.command()
@user_errors
def draw(
    spec: SpecArg,
    output: Annotated[str, typer.Option("--output", "-o", help="The SVG file to write.")],
    depth: Annotated[int | None, typer.Option(help="Draw blocks nested deeper than this as one box each.",
                                              min=1, max=16)] = None,
    where: Annotated[list[str] | None, typer.Option("--where", "-w", help="Give a symbolic input size a value: "
                                                    "n=64 (repeatable).")] = None,
) -> None:
    """Draw the network as the lecture does: a volume per activation, the operation under each."""
    from .calc.analysis import analyse
    from .render.diagram import layout, svg
    from .render.files import write_text

    network = _load(spec, where)
    drawn = layout(analyse(network), depth)
    write_text(output, svg(drawn), (".svg",), inputs=_inputs(spec))
    typer.echo(f"wrote {output}: {len(drawn.boxes)} boxes, {len(drawn.edges)} edges", err=True)


@app.command("draw-conv")
@user_errors
def draw_conv(
    output: Annotated[str, typer.Option("--output", "-o", help="The SVG file to write.")],
    n: Annotated[int, typer.Option("--n", help="Input size.")],
    f: Annotated[int, typer.Option("--f", help="Kernel size.")],
    p: Annotated[int, typer.Option("--p", help="Padding on each side.")] = 0,
    s: Annotated[int, typer.Option("--s", help="Stride.")] = 1,
    d: Annotated[int, typer.Option("--d", help="Dilation.")] = 1,
    transpose: Annotated[bool, typer.Option("--transpose", help="A transposed convolution.")] = False,
    output_padding: Annotated[int, typer.Option("--output-padding", help="With --transpose.")] = 0,
    position: Annotated[list[str] | None, typer.Option(help="Output cell(s) to show, ROW,COLUMN (repeatable; "
                                                       "default every one, up to 16).")] = None,
    animate: Annotated[bool, typer.Option("--animate", help="One panel stepping through every position.")] = False,
) -> None:
    """Draw a convolution as the conv_arithmetic figures do: padded input, kernel, output."""
    from .render.convfig import conv_figure, svg
    from .render.files import write_text
    from .render.service import _positions

    figure = conv_figure(n, f, p, s, d, transpose, output_padding)
    write_text(output, svg(figure, _positions(position), animate), (".svg",))
    typer.echo(f"wrote {output}: {figure.title}", err=True)


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
        result = symbolic.valid_sizes(load_spec(spec), for_, 1 if min_ is None else min_,
                                      1024 if max_ is None else max_, exact, symbolic.parse_assignments(where or []))
    elif where or exact or min_ is not None or max_ is not None:
        used = [name for name, value in (("--where", where), ("--exact", exact), ("--min", min_), ("--max", max_))
                if value]
        raise CnnCalcError(f"{used[0]} needs --spec (it is about the input sizes of a symbolic spec)",
                           got=used[0], expected="--spec SPEC, or leave it out")
    elif transpose:
        result = symbolic.solve_transpose(for_, {**values, "output_padding": output_padding}, same)
    else:
        if output_padding is not None:
            raise CnnCalcError("--output-padding is for --transpose", got=output_padding, expected="--transpose")
        result = symbolic.solve_conv(for_, values, same)
    if draw is not None:
        if spec is not None:
            raise CnnCalcError("--draw draws one convolution, not a spec", got="--spec", expected="no --spec")
        from .render.convfig import figure_for_solution, svg
        from .render.files import write_text

        figure = figure_for_solution(values, result, transpose, output_padding)
        write_text(draw, svg(figure), (".svg",))
        typer.echo(f"wrote {draw}: {figure.title}", err=True)
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


class GradebookFormat(str, Enum):
    csv = "csv"
    canvas = "canvas"
    moodle = "moodle"


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
) -> None:
    """Grade student answer files against the problem's computed key.

    Exit code 0: every file graded. 1: some answer files invalid (listed in the report; the gradebook and
    feedback are written for the others). 2: a usage error (bad problem, overrides, secret or output path)
    or no file could be graded; then nothing is written and an existing gradebook stays as it was.
    """
    import json

    from .exercises.service import NothingGraded
    from .exercises.service import grade as grade_files

    if quiet and format is TextOrJson.json:
        raise CnnCalcError("--quiet is for the text report; --format json is already one document")
    def print_report(run: Any) -> None:
        if format is TextOrJson.json:
            typer.echo(json.dumps(run.document(), ensure_ascii=False, allow_nan=False))
        else:
            typer.echo(run.text(quiet), nl=False)

    options: dict[str, Any] = {
        "gradebook": gradebook, "gradebook_format": gradebook_format.value, "lms_id_column": lms_id_column,
        "assignment": assignment, "feedback_dir": feedback_dir, "overrides": overrides, "secret_file": secret_file,
        "variants": variants, "stats": stats, "latest": latest, "report": print_report}
    folder = course if course is not None else _course_here()
    if allow_unlisted and folder is None:
        raise CnnCalcError("--allow-unlisted goes with a course (--course DIR): without one there is no roster")
    try:
        if folder is not None:
            from .course.grading import grade_in_course

            run = grade_in_course(folder, problem, answers, allow_unlisted=allow_unlisted, **options)
        else:
            run = grade_files(problem, answers, **options)
    except NothingGraded as error:
        run, failure = error.run, error
    else:
        failure = None
    if failure is not None:
        typer.echo(f"error: {failure}", err=True)
        raise typer.Exit(code=2)
    if run.invalid:
        typer.echo(f"warning: {run.invalid} of {len(run.results)} answer file(s) invalid (see the report; not in "
                   "the gradebook)", err=True)
    if run.exit_code:
        raise typer.Exit(code=run.exit_code)


def _course_here() -> str | None:
    """The course folder the current folder is in (a course.yaml with its gradebook), or None."""
    from pathlib import Path

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


@app.command()
@user_errors
def generate(
    problem: Annotated[str, typer.Argument(help="A problem file with a `vary:` section.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Folder for sheets/ and keys/.")],
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible variants (no secret needed).")] = None,
    count: Annotated[int, typer.Option(help="With --seed: how many variants.", min=1, max=MAX_VARIANTS)] = 1,
    roster: Annotated[str | None, typer.Option(help="CSV of student ids: one variant per student.")] = None,
    secret_file: Annotated[str | None, typer.Option(help="Course secret (or set CNNCALC_SECRET).")] = None,
    format: Annotated[SheetFormat, typer.Option("--format", "-f")] = SheetFormat.markdown,
    force: Annotated[bool, typer.Option("--force", help="Write into a folder generate did not make, and overwrite "
                                        "files edited since it wrote them.")] = False,
    course: Annotated[str | None, typer.Option(help="One sheet per student of this course's roster, with its "
                                               "secret.")] = None,
) -> None:
    """Write one sheet per variant, and the answer keys apart from the sheets."""
    if course is not None:
        if roster is not None or seed is not None:
            raise CnnCalcError("--course gives the roster and the secret: leave out --roster and --seed")
        from .course.generating import generate_for_course

        run = generate_for_course(course, problem, out, secret_file=secret_file, format=format.value, force=force)
    else:
        from .exercises.service import generate as generate_sheets

        run = generate_sheets(problem, out, seed=seed, count=count, roster=roster, secret_file=secret_file,
                              format=format.value, force=force)
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
    from .exercises.sheets import key_document, key_json
    from .exercises.variants import check_original, read_secret, seed_variant, student_variant
    from .spec import safeload

    raw = safeload.load_file(problem)
    if student is not None and seed is not None:
        raise CnnCalcError("give --student or --seed, not both")
    variant = check_original(raw, problem)
    if (student is not None or seed is not None) and not raw.get("vary"):
        raise CnnCalcError("the problem has no 'vary:' section: it has one variant, its own data", file=problem,
                           hint="run without --student and --seed")
    if student is not None:
        variant = student_variant(raw, problem, read_secret(secret_file), student)
    elif seed is not None:
        variant = seed_variant(raw, problem, seed, index)
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
    import json

    from .exercises.check import sheet_warnings
    from .exercises.sheets import key_document
    from .exercises.variants import check_original, seed_variant
    from .spec import safeload

    raw = safeload.load_file(problem)
    variant = check_original(raw, problem)
    if raw.get("vary"):
        seed_variant(raw, problem, 0, 0)  # the constraints can be met
    warnings = sheet_warnings(variant.problem)
    document = key_document(variant)
    loaded = variant.problem
    if format is TextOrJson.json:
        typer.echo(json.dumps({"problem": loaded.id, "version": loaded.version, "title": loaded.title,
                               "questions": len(loaded.questions), "points": loaded.max_points,
                               "varies": bool(raw.get("vary")), "answers": document["answers"],
                               "solutions": document["solutions"], "warnings": warnings}, ensure_ascii=False))
    else:
        typer.echo(f"{loaded.title} ({loaded.id}, version {loaded.version}): {len(loaded.questions)} questions, "
                   f"{loaded.max_points:g} points" + (", varies" if raw.get("vary") else ""))
        for qid, solution in document["solutions"].items():
            answer = document["answers"].get(qid, "(manual)")
            typer.echo(f"\n{qid}: {json.dumps(answer, ensure_ascii=False)}")
            for line in solution:
                typer.echo(f"    {line}")
        typer.echo("")
        for warning in warnings:
            typer.echo(f"warning: {warning}", err=True)
        typer.echo(f"ok, {len(warnings)} warning(s)" if warnings else "ok, no warnings")
    if warnings and strict:
        raise typer.Exit(code=2)


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
    import json

    if format is TextOrJson.json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, allow_nan=False))
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
    from .course import init_course

    made = init_course(folder, roster, secret_file)
    for warning in made.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"made course {made.folder} ({made.students} students): {made.course_file.name}, "
               f"{made.gradebook.name}")


@gradebook_app.command("show")
@user_errors
def gradebook_show(course: CourseOption = None,
                   format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text) -> None:
    """The class table: students × assignments, current grades (overrides applied), totals."""
    from .course import open_course, show

    with open_course(course) as opened:
        _echo_result(show(opened), format)


@gradebook_app.command("missing")
@user_errors
def gradebook_missing(course: CourseOption = None,
                      assignment: Annotated[str | None, typer.Option(help="One assignment (problem or "
                                                                     "problem@version).")] = None,
                      format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text) -> None:
    """Roster students without a submission, per assignment."""
    from .course import missing, open_course

    with open_course(course) as opened:
        _echo_result(missing(opened, assignment), format)


@gradebook_app.command("history")
@user_errors
def gradebook_history(student: Annotated[str, typer.Argument(help="A student id.")], course: CourseOption = None,
                      format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text) -> None:
    """One student's submissions, grades, overrides and copy flags over time."""
    from .course import history, open_course

    with open_course(course) as opened:
        _echo_result(history(opened, student), format)


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
    from .course import flags, open_course

    with open_course(course) as opened:
        _echo_result(flags(opened, dismiss=dismiss, confirm=confirm, reason=reason, status=status), format)


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
    from .course import open_course, override

    if (score is None) != clear:
        raise CnnCalcError("give a SCORE, or --clear to remove the override in force")
    if not clear and not reason.strip():
        raise CnnCalcError("an override needs --reason TEXT (it is kept with who set it and when)")
    with open_course(course) as opened:
        result = override(opened, student, question, score, reason, clear, assignment=assignment, max=max)
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
    from .course import open_course, override
    from .spec import safeload

    if not reason.strip():
        raise CnnCalcError("an override needs --reason TEXT (it is kept with who set it and when)")
    value = safeload.loads(answer, "ANSWER")
    with open_course(course) as opened:
        result = override(opened, None, question, score, reason, assignment=assignment, answer=value)
    _print_override(result, format)


def _print_override(result: Any, format: TextOrJson) -> None:
    import json

    if format is TextOrJson.json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, allow_nan=False))
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
    from .course import export, open_course
    from .outputs import write_output

    with open_course(course) as opened:
        text = export(opened, format.value, missing_as_zero, id_column=lms_id_column, only=assignment)
        inputs = [str(opened.gradebook), str(opened.folder / "course.yaml")]
    write_output(output, text, inputs=inputs)
    typer.echo(f"wrote {output}")


@gradebook_app.command("backup")
@user_errors
def gradebook_backup(target: Annotated[str, typer.Argument(help="The backup file.")], course: CourseOption = None,
                     format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text) -> None:
    """A consistent copy of the gradebook (SQLite's online backup; grading may go on meanwhile)."""
    from .course import backup, open_course

    with open_course(course) as opened:
        _echo_result(backup(opened, target), format)


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
    from .run.service import MAPS_SUFFIXES, OUTPUT_SUFFIXES, _check_output_path, _json_values, _write_output
    from .spec.network import load_spec

    progress = RunProgress()  # counts from here: loading large files is part of the wait
    budget = parse_bytes(max_memory)
    seed_value = _parse_seed(seed)
    inputs = [spec, input, weights]
    if output:
        _check_output_path(output, OUTPUT_SUFFIXES, "--output", inputs)
    if save_maps:
        _check_output_path(save_maps, MAPS_SUFFIXES, "--save-maps", [*inputs, output])
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
        _save_feature_maps(result, save_maps, maps_layer, [*inputs, output])
    if output:
        _write_output(output, final, inputs)
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


def _save_feature_maps(result: Any, path: str, layer: str | None, inputs: list[str | None]) -> None:
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
    rows, columns = save_maps(maps, path, inputs=inputs)
    typer.echo(f"saved {maps.shape[2]} maps of '{layer}' as a {rows}×{columns} grid: {path}", err=True)


def main() -> None:
    # Typer vendors click in recent releases and depends on it in older ones: take its classes from Typer.
    click_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
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
    import io

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
    import errno
    import os

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
            type_name = getattr(param.type, "name", "")
            if param.metavar is None and (type_name in ("str", "float") or type_name.startswith("int")):
                param.metavar = "N" if type_name.startswith("int") else (param.name or "value").upper()
        sub.collect_usage_pieces = _plain_usage(sub.collect_usage_pieces)
    return command


def _plain_usage(collect: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
    return lambda ctx: [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
                        for piece in collect(ctx)]


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
