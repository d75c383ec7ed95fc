"""Mutation testing: how many small bugs put into the code does the test suite catch?

    nice -n 19 python benchmarks/mutation.py [TARGET ...] [--max-minutes 30] [--children 2] [--resume]

TARGET is a file or folder under cnncalc/ (default: the modules that hold grades and the numbers users
see: exercises/, maths/arith.py, calc/analysis.py, spec/blocks.py, spec/safeload.py, run/executor.py,
maths/kernels.py, layers/). `all` mutates the whole package. Prints, per module, the kill rate
(killed / non-equivalent mutants tried) and every surviving mutant as `file:line: before → after`.

Tool: mutmut 3 (the `dev` extra; installed in its own virtualenv, for example
`python -m venv .venv-mut && .venv-mut/bin/pip install -e '.[dev]'`). Chosen over cosmic-ray because
  - it selects tests by coverage on its own: one traced run of the suite records which tests call each
    function, and each mutant then runs only those tests (cosmic-ray runs one fixed test command per
    mutant, which on two cores is 10-50 times slower here);
  - it forks workers from a process that has already imported numpy, sympy and the tests, so a mutant
    costs a fraction of a second instead of an interpreter start;
  - it is maintained (3.x releases through 2026) and keeps results on disk, so a time-boxed run can be
    resumed (`--resume`).
mutmut's `mutants/` folder and its configuration live in a scratch copy (`.mutation/`, ignored by git);
the project's own files are never changed.

Equivalent mutants (changes that cannot alter behaviour) are listed once, with the reason, in
tests/EQUIVALENT_MUTANTS.md; they are left out of the kill rate and listed apart. A row there names the
file, the function, the line before and the line after, so it survives edits elsewhere in the file.

This is a benchmark-style script, not part of the CI suite: a full run takes tens of minutes on two cores.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / ".mutation"
EQUIVALENTS = ROOT / "tests" / "EQUIVALENT_MUTANTS.md"
DEFAULT_TARGETS = ["cnncalc/exercises/", "cnncalc/maths/arith.py", "cnncalc/calc/analysis.py",
                   "cnncalc/spec/blocks.py", "cnncalc/spec/safeload.py", "cnncalc/run/executor.py",
                   "cnncalc/maths/kernels.py", "cnncalc/layers/"]
COPIED = ["cnncalc", "tests", "problems", "examples", "docs", "benchmarks", ".ci", "README.md", "CONTRIBUTING.md",
          "CHANGELOG.md", "pyproject.toml"]
# Tests of a second or more each (fuzzing, hundreds of variants, subprocesses): a surviving mutant runs every
# test that reaches its function, so these would set the pace; the fast rule tests cover the same rules.
SLOW_TESTS = ["tests/test_variants.py::test_students_get_different_variants_and_the_secret_is_needed",
              "tests/test_variants.py::test_200_variants_round_trip",
              "tests/test_shapes.py::test_summary_does_not_import_sympy_for_numeric_spec",
              "tests/test_malformed.py::test_random_structured_specs_never_crash",
              "tests/test_malformed.py::test_any_text_is_a_spec_or_a_clean_error",
              "tests/test_cli.py::test_python_dash_m_and_console_script",
              "tests/test_zoo.py::test_every_zoo_spec_summarises",
              # wall-clock bounds (20 s, the symbolic time budget) that mutmut's tracing pass overruns on a
              # loaded machine: a failing clean run stops mutmut before any mutant is tried (the last one also
              # finds, at random, a symbolic receptive field after a transposed conv below the exact one)
              "tests/test_hostile_spec.py::test_skipped_layers_count_towards_the_layer_cap",
              "tests/test_hostile_symbolic.py::test_spec_size_search_stops_at_the_budget",
              "tests/test_hostile_symbolic.py::test_summary_where_digit_cap_just_inside",
              "tests/test_symbolic_floors.py::test_random_chains_equal_numeric_analysis",
              # they look at the package from outside, and mutmut's copy of it differs by construction: every
              # module imports mutmut's trampolines (and with them ast, inspect, typing ...), and the generated
              # zoo modules no longer match the mutated tree's sources
              "tests/test_shapes.py::test_summary_of_a_built_in_spec_leaves_the_heavy_standard_modules_unloaded",
              "tests/test_zoo_catalogue.py"]
#: folders of generated modules (the zoo's parsed and expanded specs, `python -m cnncalc.spec.zoo`): their
#: "mutants" are edits of data that the drift test compares with its source, not code
GENERATED = {"zoo_made"}
# mutmut's exit codes (mutmut/stats.py): what each means for the kill rate
KILLED = {1, 3, 36, 24, -24, 152, 255, -11, -9}  # a failing test, a crash or a timeout all catch the bug
SURVIVED = {0}
NO_TESTS = {33, 5}
RERUN = {None, 0, 33, 5}  # not run, survived, untested: worth another run once tests were added


@dataclass
class Mutant:
    key: str
    file: str  # relative to the project root
    function: str
    line: int
    before: str
    after: str
    status: str  # killed, survived, no tests, not run, equivalent, other


def find_mutmut(explicit: str | None) -> str:
    candidates = [explicit] if explicit else [
        str(ROOT / ".venv-mut" / "bin" / "mutmut"), str(Path(sys.executable).parent / "mutmut"),
        shutil.which("mutmut") or ""]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    sys.exit("mutmut not found: install the dev extra into a virtualenv "
             "(python -m venv .venv-mut && .venv-mut/bin/pip install -e '.[dev]') or pass --mutmut PATH")


def module_files(targets: list[str]) -> list[str]:
    """Target files and folders → the .py files they hold, relative to the project root."""
    files: list[str] = []
    for target in targets:
        path = (ROOT / ("cnncalc" if target == "all" else target)).resolve()
        if not path.exists() or ROOT / "cnncalc" not in [path, *path.parents]:
            sys.exit(f"not a file or folder under cnncalc/: {target}")
        found = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        found = [p for p in found if p.parent.name not in GENERATED]  # data written by a script, not code
        files += [str(p.relative_to(ROOT)) for p in found if str(p.relative_to(ROOT)) not in files]
    return files


def prepare(work: Path, files: list[str], tests: list[str], resume: bool, tests_rev: str | None,
            deselect: list[str]) -> None:
    if work.exists() and not resume:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc")
    for name in COPIED:
        source, target = ROOT / name, work / name
        if source.is_dir():
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(source, target, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, target)
    if tests_rev:  # the suite as it was at that commit (a "before" figure), against today's code
        shutil.rmtree(work / "tests")
        archive = subprocess.run(["git", "archive", tests_rev, "tests"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive.stdout, check=True)
    if resume and (work / "mutants").exists():
        # tests may have changed since the last run: give mutmut the new ones, keep its results
        shutil.rmtree(work / "mutants" / "tests", ignore_errors=True)
        shutil.copytree(work / "tests", work / "mutants" / "tests", ignore=ignore)
    config = ["[mutmut]", "source_paths = cnncalc", "only_mutate ="]
    config += [f"    {f}" for f in files]
    config += ["also_copy ="] + [f"    {name}" for name in COPIED if name not in ("cnncalc", "tests")]
    config += ["pytest_add_cli_args_test_selection ="] + [f"    {t}" for t in tests]
    config += [f"    --deselect\n    {test}" for test in deselect]
    config += ["pytest_add_cli_args =", "    -p", "    no:cacheprovider", "    -q"]
    (work / "setup.cfg").write_text("\n".join(config) + "\n")


def sample_names(work: Path, files: list[str], per_file: int, seed: int, resume: bool) -> list[str]:
    """A reproducible random sample of each file's mutants (an unbiased estimate in bounded time)."""
    names: list[str] = []
    for file in files:
        meta = work / "mutants" / (file + ".meta")
        if not meta.exists():
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        chosen = random.Random(f"{seed}:{file}").sample(sorted(codes), min(per_file, len(codes)))
        names += [name for name in chosen if not (resume and codes[name] not in RERUN)]
    return names


def rerun_names(work: Path, files: list[str]) -> list[str]:
    """On --resume: the mutants not run yet, and those that survived (new tests may kill them now)."""
    names: list[str] = []
    for file in files:
        meta = work / "mutants" / (file + ".meta")
        if meta.exists():
            codes = json.loads(meta.read_text())["exit_code_by_key"]
            names += sorted(name for name, code in codes.items() if code in RERUN)
    return names


def run_mutmut(mutmut: str, work: Path, children: int, minutes: float, log: Path,
               names: list[str] | None = None) -> bool:
    """Run mutmut in the scratch copy for at most `minutes`; True if it finished."""
    env = {**os.environ, "PYTHONPATH": "", "PYTHONDONTWRITEBYTECODE": "1"}
    with open(log, "a") as out:
        process = subprocess.Popen([mutmut, "run", "--max-children", str(children), *(names or [])], cwd=work,
                                   stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            process.wait(timeout=minutes * 60)
            return True
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)  # mutmut stops its workers and saves what it has
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            return False


def _function_ranges(source: str) -> dict[str, tuple[int, int]]:
    """mutmut's mangled names (`x_name`, `xǁClassǁmethod`) → line range of the function in the source."""
    ranges: dict[str, tuple[int, int]] = {}
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ranges[f"x_{node.name}"] = (node.lineno, node.end_lineno or node.lineno)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    ranges[f"xǁ{node.name}ǁ{item.name}"] = (item.lineno, item.end_lineno or item.lineno)
    return ranges


def read_mutants(work: Path, files: list[str]) -> list[Mutant]:
    mutants: list[Mutant] = []
    for file in files:
        meta, spans_path = work / "mutants" / (file + ".meta"), work / "mutants" / (file + ".spans")
        if not meta.exists() or not spans_path.exists():
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        spans = json.loads(spans_path.read_text())["spans"]
        mutated = (work / "mutants" / file).read_text().splitlines()
        source = (ROOT / file).read_text()
        source_lines = source.splitlines()
        ranges = _function_ranges(source)
        for key, code in codes.items():
            local = key.rsplit(".", 1)[-1]
            mangled = local.rsplit("__mutmut_", 1)[0]
            before, after, line = _change(mutated, spans, local, mangled)
            start, end = ranges.get(mangled, (1, len(source_lines)))
            found = [n for n in range(start, end + 1) if source_lines[n - 1].strip() == before]
            status = ("killed" if code in KILLED else "survived" if code in SURVIVED else
                      "no tests" if code in NO_TESTS else "not run" if code is None else f"other ({code})")
            mutants.append(Mutant(key, file, _readable(mangled), found[0] if found else start + line, before, after,
                                  status))
    return mutants


def _readable(mangled: str) -> str:
    return mangled[2:] if mangled.startswith("x_") else mangled[2:].replace("ǁ", ".")  # xǁClassǁmethod


def _change(mutated: list[str], spans: dict[str, list[int]], local: str, mangled: str) -> tuple[str, str, int]:
    """The first line that differs between the original function and this mutant (stripped)."""
    def body(name: str) -> list[str]:
        start, end = spans[name]
        return [line.replace(name, "FUNCTION") for line in mutated[start - 1:end]]

    original, changed = body(mangled + "__mutmut_orig"), body(local)
    matcher = difflib.SequenceMatcher(a=original, b=changed, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            before = " ".join(s.strip() for s in original[i1:i2]) or "(nothing)"
            after = " ".join(s.strip() for s in changed[j1:j2]) or "(removed)"
            return before, after, i1
    return "", "", 0


def read_equivalents() -> list[tuple[str, str, str, str]]:
    """Rows of tests/EQUIVALENT_MUTANTS.md: | file | function | before | after | reason |."""
    rows = []
    if not EQUIVALENTS.exists():
        return rows
    for line in EQUIVALENTS.read_text().splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == 5 and cells[0].startswith("cnncalc/"):
            rows.append(tuple(_unquote(c) for c in cells[:4]))  # type: ignore[misc]
    return rows


def _unquote(cell: str) -> str:
    cell = cell.replace("\\|", "|")
    return cell[1:-1] if cell.startswith("`") and cell.endswith("`") else cell


def report(mutants: list[Mutant], files: list[str], show_killed: bool) -> str:
    equivalents = read_equivalents()
    for m in mutants:
        if m.status == "survived" and (m.file, m.function, m.before, m.after) in equivalents:
            m.status = "equivalent"
    lines = [(f"{'module':40} {'mutants':>8} {'killed':>7} {'surv.':>6} {'equiv.':>7} {'untested':>9} "
             f"{'not run':>8} {'kill rate':>10}")]
    totals = {"all": 0, "killed": 0, "survived": 0, "equivalent": 0, "no tests": 0, "not run": 0}
    for file in files:
        mine = [m for m in mutants if m.file == file]
        if not mine:
            continue
        count = {s: sum(m.status == s for m in mine) for s in ("killed", "survived", "equivalent", "no tests",
                                                               "not run")}
        tried = count["killed"] + count["survived"] + count["no tests"]
        rate = f"{100 * count['killed'] / tried:.1f}%" if tried else "—"
        lines.append(f"{file:40} {len(mine):8} {count['killed']:7} {count['survived']:6} {count['equivalent']:7} "
                     f"{count['no tests']:9} {count['not run']:8} {rate:>10}")
        totals["all"] += len(mine)
        for status, value in count.items():
            totals[status] += value
    tried = totals["killed"] + totals["survived"] + totals["no tests"]
    rate = f"{100 * totals['killed'] / tried:.1f}%" if tried else "—"
    lines.append(f"{'total':40} {totals['all']:8} {totals['killed']:7} {totals['survived']:6} "
                 f"{totals['equivalent']:7} {totals['no tests']:9} {totals['not run']:8} {rate:>10}")
    lines.append("kill rate = killed / (killed + survived + untested); equivalent mutants and mutants not run "
                 "within the time box are left out")
    for title, status in (("Surviving mutants", "survived"), ("Mutants no test reaches", "no tests"),
                          ("Equivalent mutants (tests/EQUIVALENT_MUTANTS.md)", "equivalent"),
                          *((("Killed mutants", "killed"),) if show_killed else ())):
        chosen = sorted((m for m in mutants if m.status == status), key=lambda m: (m.file, m.line))
        if chosen:
            lines += ["", f"{title} ({len(chosen)}):"]
            lines += [f"  {m.file}:{m.line}: [{m.function}] {m.before}  →  {m.after}" for m in chosen]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="files or folders under cnncalc/, or 'all' (default: the "
                                                   "modules that hold grades and numbers)")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="time box for the mutation run (30)")
    parser.add_argument("--children", type=int, default=2, help="parallel mutant workers (2, for two cores)")
    parser.add_argument("--tests", nargs="*", default=["tests/"],
                        help="test files whose coverage selects the tests per mutant (default: tests/)")
    parser.add_argument("--all-tests", action="store_true", help="keep the slowest tests too (SLOW_TESTS)")
    parser.add_argument("--tests-rev", help="use the tests/ folder of this git revision (for a 'before' figure)")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="run a reproducible random sample of N mutants per file (an estimate in bounded time)")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the sample (0)")
    parser.add_argument("--resume", action="store_true", help="keep the previous run's kills; run the survivors (with the tests as they are now) and the rest")
    parser.add_argument("--report-only", action="store_true", help="print the last run's results, run nothing")
    parser.add_argument("--show-killed", action="store_true", help="list killed mutants too")
    parser.add_argument("--json", type=Path, help="also write every mutant's result to this JSON file")
    parser.add_argument("--mutmut", help="path of the mutmut executable")
    parser.add_argument("--name", default="work", help="scratch folder under .mutation/ (runs side by side)")
    args = parser.parse_args()

    files = module_files(args.targets or DEFAULT_TARGETS)
    work = SCRATCH / args.name
    started = time.monotonic()
    finished = True
    if not args.report_only:
        mutmut = find_mutmut(args.mutmut)
        prepare(work, files, args.tests, args.resume, args.tests_rev, [] if args.all_tests else SLOW_TESTS)
        print(f"mutating {len(files)} file(s) for at most {args.max_minutes:g} min with {args.children} worker(s); "
              f"log: {work}.log", flush=True)
        log = Path(f"{work}.log")
        log.write_text("")
        deadline = time.monotonic() + args.max_minutes * 60
        if args.sample:
            if not (args.resume and (work / "mutants").exists()):
                # a first pass that matches no mutant: mutmut generates the mutants and collects coverage
                run_mutmut(mutmut, work, args.children, args.max_minutes, log, ["no-such-mutant-*"])
            names = sample_names(work, files, args.sample, args.sample_seed, args.resume)
            minutes = max(0.5, (deadline - time.monotonic()) / 60)
            finished = run_mutmut(mutmut, work, args.children, minutes, log, names) if names else True
        elif args.resume and (work / "mutants").exists():
            names = rerun_names(work, files)
            finished = run_mutmut(mutmut, work, args.children, args.max_minutes, log, names) if names else True
        else:
            finished = run_mutmut(mutmut, work, args.children, args.max_minutes, log)
    mutants = read_mutants(work, files)
    if args.sample:
        chosen = set(sample_names(work, files, args.sample, args.sample_seed, False))
        mutants = [m for m in mutants if m.key in chosen]
    print(report(mutants, files, args.show_killed))
    if args.json:
        args.json.write_text(json.dumps([m.__dict__ for m in mutants], indent=1, ensure_ascii=False))
    if not args.report_only:
        state = "finished" if finished else "stopped at the time box (run again with --resume to go on)"
        print(f"\n{state}; {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
