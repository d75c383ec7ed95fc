"""Start-up: `cnncalc summary resnet50` as a whole process against `python -c pass`, in CPU time.

Run: python benchmarks/bench_startup.py [--pairs N] [--python PATH]

Each pair runs `python -c pass` and the command one after the other (in alternating order), and takes the
CPU time (user + system) of each child from os.wait4; the figure is the median over the pairs (at least 20)
of the ratio within a pair, so that a busy moment of the machine weighs on both sides of it. Target: at
most 3× `python -c pass` for a built-in spec. A spec given as a file (the same network, read with PyYAML)
is shown for comparison. The package's bytecode is compiled first, as an installation does (a run with
PYTHONDONTWRITEBYTECODE set would otherwise compile every module each time).

Measure in a fresh virtual environment with a regular install, as users get it (``python3 -m venv /tmp/v &&
/tmp/v/bin/pip install . && python benchmarks/bench_startup.py --python /tmp/v/bin/python``): a development
environment's editable install loads standard modules at start-up (.pth hooks), so its `python -c pass` is
slower and the ratio looks better than it is. The first line of the report names the environment.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnncalc"
TARGET = 3.0


def cpu_seconds(command: list[str]) -> float:
    """CPU time of one run of ``command`` (its output discarded)."""
    pid = os.fork()
    if pid == 0:  # the child: no Python-level work between fork and exec
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        try:
            os.execv(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return usage.ru_utime + usage.ru_stime


def paired(python: str, command: list[str], pairs: int) -> tuple[float, float, float]:
    """(median CPU seconds of `python -c pass`, of the command, median ratio within a pair)."""
    base, ours, ratios = [], [], []
    for i in range(pairs):
        if i % 2:
            b = cpu_seconds([python, "-c", "pass"])
            o = cpu_seconds(command)
        else:
            o = cpu_seconds(command)
            b = cpu_seconds([python, "-c", "pass"])
        base.append(b)
        ours.append(o)
        ratios.append(o / b)
    return statistics.median(base), statistics.median(ours), statistics.median(ratios)


INSTALL_PROBE = """
import importlib.metadata as metadata, json, sys
try:
    text = metadata.distribution("cnncalc").read_text("direct_url.json")
    editable = json.loads(text or "{}").get("dir_info", {}).get("editable", False)
    kind = "an editable install" if editable else "a regular (non-editable) install"
except metadata.PackageNotFoundError:
    kind = "not installed"
print(sys.prefix, kind, sep="|")
"""


def environment(python: str) -> str:
    """Which environment is measured: its prefix, how cnncalc is installed there, and the standard modules
    its `python -c pass` already loads (an editable install's .pth hooks load some: they are then free for
    the command, which makes the ratio look better than a user's fresh environment gives)."""
    probe = subprocess.run([python, "-c", INSTALL_PROBE], capture_output=True, text=True, check=True).stdout
    prefix, kind = probe.strip().split("|")
    probe_modules = "import sys; print(*(m for m in ('re', 'enum', 'typing', 'pathlib', 'dataclasses') if m in sys.modules))"
    loaded = subprocess.run([python, "-c", probe_modules], capture_output=True, text=True, check=True).stdout.split()
    return (f"environment: {prefix}; cnncalc there: {kind} (the code measured is this tree's, first on "
            f"PYTHONPATH); `python -c pass` already loads: {', '.join(loaded) or 'none of re, enum, typing, pathlib'}")


def main() -> None:
    args = sys.argv[1:]
    pairs = int(args[args.index("--pairs") + 1]) if "--pairs" in args else 30
    python = args[args.index("--python") + 1] if "--python" in args else sys.executable
    pairs = max(pairs, 20)
    subprocess.run([python, "-m", "compileall", "-q", str(PACKAGE)], check=True, capture_output=True)
    env_path = str(PACKAGE.parent)
    os.environ["PYTHONPATH"] = env_path + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH")
                                           else "")
    folder = Path(tempfile.mkdtemp())
    try:
        spec_file = folder / "resnet50.yaml"
        shutil.copy(PACKAGE / "zoo" / "resnet50.yaml", spec_file)
        cases = [
            ("cnncalc summary resnet50 (built-in)", [python, "-m", "cnncalc", "summary", "resnet50"], TARGET),
            ("cnncalc summary resnet50.yaml (a file)", [python, "-m", "cnncalc", "summary", str(spec_file)], None),
            ("cnncalc summary resnet50 --depth 1 (Typer)",
             [python, "-m", "cnncalc", "summary", "resnet50", "--depth", "1"], None),
        ]
        print(f"python: {python}; {pairs} pairs each; CPU seconds, medians")
        print(environment(python))
        print(f"{'command':44} {'python -c pass':>14} {'command':>9} {'ratio':>7}")
        for name, command, target in cases:
            base, ours, ratio = paired(python, command, pairs)
            verdict = "" if target is None else (" PASS" if ratio <= target else " FAIL") + f" (target ≤ {target:g}×)"
            print(f"{name:44} {base:14.4f} {ours:9.4f} {ratio:6.2f}×{verdict}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
