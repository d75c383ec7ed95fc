"""10,000 practice questions, each with its key, hint and worked solution computed (target: under 5 s),
2,000 at each level; also the time per topic, where the differences are.

Run: python benchmarks/bench_practice.py [--count N]
"""

from __future__ import annotations

import sys
import time

from cnncalc.exercises.practice import LEVELS, TEMPLATES, generate

TARGET = 5.0


def main() -> None:
    count = int(sys.argv[sys.argv.index("--count") + 1]) if "--count" in sys.argv else 10_000
    generate(count=8, level=5, seed=0)  # imports (sympy, numpy) out of the timing
    start = time.perf_counter()
    made = sum(len(generate(count=count // len(LEVELS), level=level, seed=1)) for level in LEVELS)
    elapsed = time.perf_counter() - start
    print(f"{made:,} questions in {elapsed:.2f} s ({elapsed / made * 1000:.3f} ms each; target under {TARGET} s "
          f"for 10,000): {'ok' if elapsed * 10_000 / made < TARGET else 'SLOWER THAN THE TARGET'}")
    for topic in TEMPLATES:
        start = time.perf_counter()
        generate(count=200, level=5, topic=[topic], seed=2)
        print(f"  {topic:10} {(time.perf_counter() - start) / 200 * 1000:.3f} ms each (level 5)")


if __name__ == "__main__":
    main()
