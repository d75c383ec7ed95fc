"""`cnncalc solve` wall time, sympy import included (target under 1 s), against `python -c pass`.

Run: python benchmarks/bench_solve.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from timing import wall


def main() -> None:
    cli = [sys.executable, "-m", "cnncalc", "solve"]
    rows = [
        ("solve --f 7 --same --for p", wall(cli + ["--f", "7", "--same", "--for", "p"]), 1.0),
        ("solve --f 3 --p 0 --s 2 --out 2 --for n", wall(cli + ["--f", "3", "--p", "0", "--s", "2", "--out", "2",
                                                                "--for", "n"]), 1.0),
        ("solve --n n --f f --out n --for p (symbolic)", wall(cli + ["--n", "n", "--f", "f", "--out", "n",
                                                                     "--for", "p"]), 1.0),
    ]
    baseline = wall([sys.executable, "-c", "pass"])
    sympy_import = wall([sys.executable, "-c", "import sympy"])
    print(f"{'measurement (median wall time)':48} {'seconds':>9} {'target':>8} {'ratio':>7}")
    for name, seconds, target in rows:
        print(f"{name:48} {seconds:9.3f} {target:8.3f} {seconds / target:7.2f}")
    print(f"{'(python -c pass)':48} {baseline:9.3f}")
    label = "(python -c 'import sympy')"
    print(f"{label:48} {sympy_import:9.3f}")


if __name__ == "__main__":
    main()
