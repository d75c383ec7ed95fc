"""Regenerate the figures README.md shows: `python docs/images/make.py` (tests check they are current)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURES = {
    "lenet5.svg": ["draw", "lenet5"],
    "conv-n5-f3-p1-s2.svg": ["draw-conv", "--n", "5", "--f", "3", "--p", "1", "--s", "2"],
}

if __name__ == "__main__":
    for name, args in FIGURES.items():
        subprocess.run([sys.executable, "-m", "cnncalc", *args, "-o", str(HERE / name)], check=True)
