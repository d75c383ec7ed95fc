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
    width: Annotated[int, typer.Option(help="Table width in characters.", min=60, max=400)] = 120,
) -> None:
    """Per-layer output shape, size, parameters, MACs and receptive field, with totals."""
    from .analysis import analyse
    from .render import render
    from .spec import load_spec

    result = analyse(load_spec(spec))
    typer.echo(render(result, format.value, explain, width), nl=False)


@app.command()
@user_errors
def validate(spec: SpecArg) -> None:
    """Check a spec (fields, names, inputs, shapes) without printing the summary."""
    from .analysis import analyse
    from .spec import load_spec

    network = load_spec(spec)
    analyse(network)
    typer.echo(f"ok: {network.source}: {len(network.layers)} layers, valid")


@app.command()
@user_errors
def zoo() -> None:
    """List the built-in network specs."""
    from .spec import load_spec, zoo_names

    for name in zoo_names():
        network = load_spec(name)
        typer.echo(f"{name:24} {network.name}")


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
