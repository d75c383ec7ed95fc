"""Symbolic summaries: SqueezeNet 1.1 and ResNet-50 on `input: [n, n, 3]` (target under 2 s each for
parse + analyse + table), with the numeric analysis of the same spec at 224 × 224 as the baseline, and
the whole `cnncalc summary` command as a process.

Run: python benchmarks/bench_symbolic.py   (prints measured, target, ratio = measured/target, and how many
times slower than the numeric baseline each symbolic run is)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from timing import best_of, wall

ROOT = Path(__file__).parent.parent
SPECS = {"SqueezeNet 1.1": ROOT / "tests" / "data" / "squeezenet1_1.yaml",
         "ResNet-50": ROOT / "cnncalc" / "zoo" / "resnet50.yaml"}
THREE_SAME = """input: [n, n, 3]
layers:
  - {type: conv, filters: 4, kernel: 3, stride: 2, padding: same}
  - {type: conv, filters: 4, kernel: 3, stride: 2, padding: same}
  - {type: conv, filters: 4, kernel: 3, stride: 2, padding: same}
"""


def with_symbolic_input(text: str) -> str:
    return "\n".join("input: [n, n, 3]" if line.startswith("input:") else line for line in text.splitlines())


def cpu_seconds(command: list[str], repeat: int = 3) -> float:
    """Median CPU time (user + system) of a whole command: on a shared machine wall time mostly measures
    the other processes."""
    import resource
    import statistics
    import subprocess

    times = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def main() -> None:
    from sympy.core.cache import clear_cache

    from cnncalc import analyse, loads_spec
    from cnncalc.render import render

    def summary(text: str) -> None:
        clear_cache()  # as cold as the first run in a fresh process (sympy imported)
        render(analyse(loads_spec(text)), "table", False, None, None, 1)

    print(f"{'measurement (best of 5, in process, cold sympy cache)':52} {'seconds':>9} {'target':>8} {'ratio':>7} {'× numeric':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for name, path in SPECS.items():
            numeric_text = path.read_text()
            symbolic_text = with_symbolic_input(numeric_text)
            summary(symbolic_text)  # sympy imported and warmed, as in one CLI run after its import
            numeric = best_of(lambda text=numeric_text: summary(text))
            symbolic = best_of(lambda text=symbolic_text: summary(text))
            print(f"{name + ' [n, n, 3]: parse + analyse + table':52} {symbolic:9.3f} {2.0:8.3f} "
                  f"{symbolic / 2.0:7.2f} {symbolic / numeric:10.1f}")
            print(f"{name + ' [224, 224, 3] (numeric baseline)':52} {numeric:9.3f}")
            spec = Path(folder) / f"{path.stem}-n.yaml"
            spec.write_text(symbolic_text)
            command = [sys.executable, "-m", "cnncalc", "summary", str(spec)]
            seconds = wall(command, repeat=3)
            print(f"{'  cnncalc summary, process wall time':52} {seconds:9.3f} {2.0:8.3f} {seconds / 2.0:7.2f}")
            seconds = cpu_seconds(command)
            print(f"{'  cnncalc summary, process CPU time':52} {seconds:9.3f} {2.0:8.3f} {seconds / 2.0:7.2f}")
        three = best_of(lambda: summary(THREE_SAME))
        print(f"{'three stride-2 same convs [n, n, 3]':52} {three:9.3f} {2.0:8.3f} {three / 2.0:7.2f}")


if __name__ == "__main__":
    main()
