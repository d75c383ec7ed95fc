"""How long `generate --format moodle` takes for 1,000 variants of cnn-layers-worksheet (the issue's target:
under 10 s). Run: python benchmarks/bench_lms.py [COUNT]; prints the wall and CPU seconds and PASS or FAIL
(the target scaled to COUNT). On a shared machine the CPU time is the steadier figure: the wall time also
counts the time other processes hold the cores."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from cnncalc.exercises.service import export_quiz

PROBLEM = Path(__file__).resolve().parents[1] / "problems" / "cnn-layers-worksheet.yaml"
TARGET_SECONDS_PER_1000 = 10.0


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as folder:
        start, cpu = time.perf_counter(), time.process_time()
        export_quiz(str(PROBLEM), str(Path(folder) / "bank.xml"), "moodle", seed=1, count=count)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        size = (Path(folder) / "bank.xml").stat().st_size
    target = TARGET_SECONDS_PER_1000 * count / 1000
    verdict = "PASS" if seconds < target else "FAIL"
    print(f"{count} Moodle variants of cnn-layers-worksheet: {seconds:.1f} s wall, {cpu:.1f} s CPU "
          f"({size / 1e6:.1f} MB); target < {target:.1f} s: {verdict}")
    if verdict == "FAIL":
        sys.exit(1)


if __name__ == "__main__":
    main()
