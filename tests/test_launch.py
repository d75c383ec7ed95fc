"""The `cnncalc` entry point's fast path for `summary SPEC`: the same bytes as the Typer command, for every
built-in spec in every format, and everything else handed to the Typer command."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cnncalc import launch
from cnncalc.cli import app
from cnncalc.spec.network import zoo_names

FORMATS = ["table", "json", "markdown", "csv", "latex", "html"]


def fast(args: list[str], tmp_path) -> str | None:
    """What the fast path prints for ``args`` (None: it leaves them to Typer)."""
    request = launch.summary_request(args)
    if request is None:
        return None
    target = tmp_path / "out.txt"
    saved = sys.stdout
    with open(target, "w", encoding="utf-8") as stream:  # a text layer over a buffered file, as a terminal
        sys.stdout = stream
        try:
            ran = launch._summary(*request)
        finally:
            sys.stdout = saved
    return target.read_bytes().decode("utf-8") if ran else None


#: built-in specs shown in every format (between them: 1-D, 2-D, 3-D, tokens, blocks, a DAG)
EVERY_FORMAT = ["lenet5", "resnet50", "unet", "vit_b_16", "r3d_18", "m5"]


@pytest.mark.parametrize("name", zoo_names())
def test_every_built_in_spec_prints_the_same_bytes(name, tmp_path):
    formats = FORMATS if name in EVERY_FORMAT else ["table", "json"]
    every = [["summary", name, "--format", format_] for format_ in formats]
    for args in [*every, ["summary", "-e", "--format=markdown", name]]:
        typer_run = CliRunner().invoke(app, args)
        assert typer_run.exit_code == 0
        assert fast(args, tmp_path) == typer_run.stdout, args


def test_a_spec_file_prints_the_same_bytes(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [n, n, 3]\nlayers: [{type: conv, filters: 8, kernel: 3}, {type: gelu}]\n")
    args = ["summary", str(spec), "-e"]
    assert fast(args, tmp_path) == CliRunner().invoke(app, args).stdout
    assert "floor" not in (fast(args, tmp_path) or "") and "n - 2" in (fast(args, tmp_path) or "")


@pytest.mark.parametrize("args", [
    ["summary", "lenet5", "--depth", "1"],  # an option the fast path does not know
    ["summary", "lenet5", "--format", "yaml"],  # a bad value: Typer's message
    ["summary", "lenet5", "-f", "json", "-f", "csv"],
    ["summary", "-", "-f", "json"],  # standard input can be read once only
    ["summary", "lenet5", "resnet50"],
    ["summary", "lenet5", "--format"],
    ["summary", "-fjson", "lenet5"],
    ["summary", "--", "lenet5"],
    ["summary"],
    ["--version"],
    ["zoo"],
    ["summary", "lenet5", "--help"],
])
def test_anything_else_goes_to_typer(args):
    assert launch.summary_request(args) is None


def test_errors_are_the_typer_commands(tmp_path):
    assert fast(["summary", "lenet55"], tmp_path) is None  # not printed here: Typer prints the error
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [8, 8, 3]\nlayers: [{type: conv, filters: 2, kernel: 9}]\n")
    assert fast(["summary", str(bad)], tmp_path) is None


def test_the_command_line_through_the_fast_path_and_through_typer():
    run = [sys.executable, "-m", "cnncalc", "summary", "lenet5", "-f", "csv"]
    done = subprocess.run(run, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith("index,name,type,inputs,output_shape")
    assert done.stdout == CliRunner().invoke(app, run[3:]).stdout
    done = subprocess.run([*run[:4], "lenet55"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: lenet55: no such file or built-in spec; did you mean 'lenet5'?\n"
    done = subprocess.run([*run[:5], "--depth", "1"], capture_output=True, text=True, check=False)  # through Typer
    assert done.returncode == 0 and "CONV1 (conv)" in done.stdout


def test_the_typer_command_runs_with_the_collector_on_after_the_fast_path_gives_way(monkeypatch):
    """The fast path pauses the cyclic garbage collector; when it leaves the command to Typer (here an error),
    Typer runs with it on again."""
    import gc

    import cnncalc.cli

    seen = []
    monkeypatch.setattr(sys, "argv", ["cnncalc", "summary", "lenet55"])
    monkeypatch.setattr(cnncalc.cli, "main", lambda: seen.append(gc.isenabled()))
    was = gc.isenabled()
    try:
        gc.enable()
        launch.main()
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [True]
