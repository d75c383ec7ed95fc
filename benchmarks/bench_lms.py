"""How long `generate --format moodle` takes for 1,000 variants of cnn-layers-worksheet (the issue's target:
under 10 s). Run: python benchmarks/bench_lms.py [COUNT]."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from cnncalc.exercises.service import export_quiz

PROBLEM = Path(__file__).resolve().parents[1] / "problems" / "cnn-layers-worksheet.yaml"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        export_quiz(str(PROBLEM), str(Path(folder) / "bank.xml"), "moodle", seed=1, count=count)
        seconds = time.perf_counter() - start
        size = (Path(folder) / "bank.xml").stat().st_size
    print(f"{count} Moodle variants of cnn-layers-worksheet: {seconds:.1f} s ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
