"""Pictures: `draw resnet50` as a whole process (target < 0.5 s) and the HTML report for DenseNet-121, a
400-layer DAG (target < 1 s in-process and < 2 MB). Baseline in the same run: `cnncalc summary resnet50`
as a whole process, and the JSON summary of DenseNet-121 in-process."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from timing import best_of, report

from cnncalc import analyse, load_spec
from cnncalc.render import render


def process(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cnncalc", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "r.svg")
        baseline = min(process("summary", "resnet50") for _ in range(3))
        drawn = min(process("draw", "resnet50", "-o", out) for _ in range(3))
    network = load_spec("densenet121")
    json_time = best_of(lambda: render(analyse(network), "json"))
    html_time = best_of(lambda: render(analyse(network), "html"))
    size = len(render(analyse(network), "html").encode())
    report([
        ("draw resnet50 (process)", drawn, 0.5, baseline),
        ("html report densenet121 (in-process)", html_time, 1.0, json_time),
    ])
    print(f"html report densenet121: {size / 1e6:.2f} MB (target < 2 MB)")


if __name__ == "__main__":
    main()
