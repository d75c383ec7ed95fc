"""Summary speed: in-process time for a generated 2,000-layer spec, and CLI start-up.

Run: python benchmarks/bench_summary.py   (prints a table: measured, target, ratio = measured/target)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from timing import best_of, wall


def generated_spec(blocks: int) -> str:
    """A residual chain: conv → batchnorm → relu → conv → add, repeated; 5 layers a block."""
    lines = ["name: generated", "input: [64, 64, 32]", "layers:"]
    previous = "input"
    for b in range(blocks):
        lines += [
            f"  - {{type: conv, name: c{b}a, filters: 32, kernel: 3, padding: same, inputs: {previous}}}",
            f"  - {{type: batchnorm, name: bn{b}}}",
            f"  - {{type: relu, name: r{b}}}",
            f"  - {{type: conv, name: c{b}b, filters: 32, kernel: 3, padding: 1}}",
            f"  - {{type: add, name: add{b}, inputs: [c{b}b, {previous}]}}",
        ]
        previous = f"add{b}"
    return "\n".join(lines) + "\n"


def main() -> None:
    from cnncalc import analyse, loads_spec
    from cnncalc.render import render

    text = generated_spec(400)  # 2,000 layers
    network = loads_spec(text)
    assert len(network.layers) == 2000
    rows = [
        ("parse + validate + analyse, 2,000 layers", best_of(lambda: analyse(loads_spec(text))), 0.100),
        ("analyse only, 2,000 layers", best_of(lambda: analyse(network)), 0.100),
        ("summary to JSON, 2,000 layers", best_of(lambda: render(analyse(loads_spec(text)), "json")), 0.100),
        ("CLI start-up: cnncalc --help", wall([sys.executable, "-m", "cnncalc", "--help"]), 0.400),
        ("CLI: cnncalc summary lenet5", wall([sys.executable, "-m", "cnncalc", "summary", "lenet5"]), 0.400),
    ]
    python_alone = wall([sys.executable, "-c", "pass"])
    print(f"{'measurement':45} {'seconds':>9} {'target':>8} {'ratio':>7}")
    for name, seconds, target in rows:
        print(f"{name:45} {seconds:9.4f} {target:8.3f} {seconds / target:7.2f}")
    print(f"{'(python -c pass, for scale)':45} {python_alone:9.4f}")



if __name__ == "__main__":
    main()
