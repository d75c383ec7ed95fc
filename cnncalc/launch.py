"""The `cnncalc` command (console script and ``python -m cnncalc``).

The everyday ``cnncalc summary SPEC`` (with ``--format``/``-f`` and ``--explain``/``-e``) is run here
directly, calling the same library functions as the Typer command in :mod:`cnncalc.cli` and printing the
same bytes, without loading Typer and click: building the Typer app costs more than the summary itself.
Every other command line, and any run that does not end well (an error message, a closed pipe, text the
terminal cannot take as is), goes to the Typer app, which then does the whole job as it always does: an
option this module does not know (one added to `summary` later included) is never misread, only slower.
"""

from __future__ import annotations

import io
import sys

#: values of `summary --format` (the names of cli.SummaryFormat; click matches them case-sensitively)
FORMATS = ("table", "json", "markdown", "csv", "latex", "html")


def main() -> None:
    request = summary_request(sys.argv[1:])
    if request is not None:
        import gc

        # no cyclic garbage collection while the summary is made: the spec builder and the analysis pause it
        # anyway (nothing they make forms a cycle), and the collections the imports and the rendering would
        # otherwise set off (each rescanning the objects made so far) cost a few per cent of the command
        gc.disable()
        if _summary(*request):
            sys.exit(0)
        gc.enable()
    from .cli import main as typer_main

    typer_main()


def summary_request(args: list[str]) -> tuple[str, str, bool] | None:
    """(spec, format, explain) when ``args`` are a plain `summary` the fast path runs as the Typer command
    would, else None.

    >>> summary_request(["summary", "resnet50", "-f", "json"])
    ('resnet50', 'json', False)
    >>> summary_request(["summary", "--explain", "--format=csv", "lenet5"])
    ('lenet5', 'csv', True)
    >>> summary_request(["summary", "lenet5", "--depth", "1"]) is None  # an option left to Typer
    True
    """
    if len(args) < 2 or args[0] != "summary":
        return None
    spec: str | None = None
    format_: str | None = None
    explain = False
    rest = iter(args[1:])
    for arg in rest:
        if arg in ("--format", "-f"):
            value = next(rest, None)
            if value is None or format_ is not None:
                return None
            format_ = value
        elif arg.startswith("--format="):
            if format_ is not None:
                return None
            format_ = arg.removeprefix("--format=")
        elif arg in ("--explain", "-e"):
            explain = True
        elif arg.startswith("-") or spec is not None:  # `-` (standard input), `--`, any other option
            return None
        else:
            spec = arg
    if spec is None or (format_ is not None and format_ not in FORMATS):
        return None
    return spec, format_ or "table", explain


def _summary(spec: str, format_: str, explain: bool) -> bool:
    """Print the summary as `cnncalc summary` does; False (nothing printed) when the Typer command
    should run instead."""
    stdout = sys.stdout
    if not (isinstance(stdout, io.TextIOWrapper) and isinstance(stdout.buffer, (io.BufferedWriter, io.RawIOBase))
            and stdout.encoding.lower().replace("-", "") == "utf8"):
        return False  # a stream the Typer path would have to handle in its own way
    try:
        from .interop.service import input_path, read_network
        from .maths.budget import shared_budget
        from .render.service import summarise

        with shared_budget():  # as cli.user_errors: a symbolic spec gets the command's time budget
            report = summarise(read_network(spec, None), format=format_, explain=explain, width=None, depth=None,
                               batch=1, output=None, inputs=[input_path(spec)])
        text = report.text
        data = text.encode("utf-8")  # a lone surrogate (from a file name) is printed escaped by the Typer path
    except KeyboardInterrupt:
        sys.exit(130)
    except BaseException:  # noqa: BLE001 - every error is reported by the Typer command, which runs it again
        return False
    if report.written is not None or "\x1b" in text:  # click strips terminal escapes from what it echoes
        return False
    try:
        stdout.flush()
        # the bytes the text layer would write; a raw stream (python -u) gets a buffered layer, as the Typer
        # path gives it, so that a short write to a closed pipe raises instead of losing text
        out = stdout.buffer if isinstance(stdout.buffer, io.BufferedWriter) else io.BufferedWriter(stdout.buffer)
        out.write(data)
        out.flush()
    except OSError as error:  # a closed pipe or a full disk: as the Typer command reports it
        from .cli import _output_lost

        _output_lost(error)
        sys.exit(2)
    return True
