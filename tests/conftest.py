from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app


@pytest.fixture()
def cli():
    """Run the CLI in-process: returns (exit_code, stdout, stderr)."""
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.fixture()
def cli_json(cli):
    def run(*args: str):
        code, out, err = cli(*args, "--format", "json")
        assert code == 0, err
        return json.loads(out)

    return run
