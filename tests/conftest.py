from __future__ import annotations

import json
import os

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from cnncalc.cli import app

# tests/data holds fixtures and the scripts that made them (several named make.py, some importing torch or
# Keras): none is a test module, and --doctest-modules would import each under one clashing name
collect_ignore_glob = ["data/*"]

# CI runs every property test on the same examples each time (a red CI is then a real failure, and a green
# one cannot hide a seed that fails), and prints how to reproduce a failure. Locally, random examples keep
# finding new cases: `--hypothesis-seed=N` replays one run, `HYPOTHESIS_PROFILE=ci` runs as CI does.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else ""):
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "ci")


def _the_cli_built_once() -> None:
    """Typer builds the click command from `app` on every `CliRunner().invoke(app, ...)`: 30 ms of reading
    every command's annotations, more than most commands take, thousands of times a run. The command is the
    same each time (click makes a new context per call), so build it once for every in-process test."""
    import typer.testing

    build = getattr(typer.testing, "_get_command", None)
    if build is None:  # another Typer: build as it does
        return
    built = build(app)
    typer.testing._get_command = lambda given: built if given is app else build(given)


_the_cli_built_once()


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


@pytest.fixture()
def cli_process():
    """Run the CLI as its own process, as a user would: returns (exit_code, stdout, stderr).

    For what an in-process run cannot show: a hang (killed after `timeout` seconds and reported as a
    test failure), a crash by signal (negative exit code), output written by the interpreter itself.
    """
    import os
    import subprocess
    import sys

    def run(*args: str, timeout: float = 30, stdin: str | None = None, cwd: str | None = None,
            env: dict[str, str] | None = None) -> tuple[int, str, str]:
        full_env = {**os.environ, **(env or {})}
        try:
            done = subprocess.run([sys.executable, "-m", "cnncalc", *args], check=False, capture_output=True, text=True,
                                  timeout=timeout, input=stdin, cwd=cwd, env=full_env)
        except subprocess.TimeoutExpired:
            pytest.fail(f"cnncalc {' '.join(args)[:200]} did not finish within {timeout} s")
        assert done.returncode >= 0, f"cnncalc was killed by signal {-done.returncode}: {done.stderr[-500:]}"
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
        return done.returncode, done.stdout, done.stderr

    return run


@pytest.fixture(autouse=True)
def _symbolic_budget_for_a_loaded_machine(monkeypatch):
    """The symbolic time budget (10 s of wall time by default) measured on a test machine running several
    suites at once can cut off work that takes 1 s alone; tests of the budget set or clear it themselves."""
    import os

    from cnncalc.maths import budget

    if budget.ENVIRONMENT not in os.environ:
        monkeypatch.setenv(budget.ENVIRONMENT, "60")


# ---------------------------------------------------------------- the framework tier

#: set by .ci/run's framework tier: the tests that compare cnncalc with PyTorch, torchvision and Keras must
#: run there, so a missing framework (or a Keras without its backend) fails the tier instead of skipping
FRAMEWORK_TIER = os.environ.get("CNNCALC_FRAMEWORK_TIER") == "1"
FRAMEWORKS = ("torch", "torchvision", "keras", "jax", "onnxruntime")


def pytest_sessionstart(session):
    if not FRAMEWORK_TIER:
        return
    import importlib

    missing = []
    for name in FRAMEWORKS:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - any failure to import is a missing framework here
            missing.append(f"{name} ({type(error).__name__}: {str(error)[:120]})")
    if missing:
        pytest.exit(f"framework tier: cannot import {', '.join(missing)}", returncode=3)


def _skipped_for_a_framework(report) -> str | None:
    if not (FRAMEWORK_TIER and report.skipped):
        return None
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason if any(name in reason for name in (*FRAMEWORKS, "tensorflow")) else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    reason = _skipped_for_a_framework(report)
    if reason:
        report.outcome, report.longrepr = "failed", f"the framework tier must run this test, but it skipped: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    reason = _skipped_for_a_framework(report)
    if reason:
        report.outcome, report.longrepr = "failed", f"the framework tier must run this module, but it skipped: {reason}"
