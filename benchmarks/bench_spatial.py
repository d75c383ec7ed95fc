"""Spec v2, spatial layers through the executor: a 3-D convolution, a 1-D convolution, a transposed
convolution and a linear upsampling, each against its torch float64 equivalent on one thread (where torch
is installed; target ratio ≤ 1.5), and the U-Net / R3D-18 summaries in-process.

Run: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_spatial.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from timing import best_of

from cnncalc import analyse, build_network, load_spec
from cnncalc.run.executor import run

CASES = [  # (what, input shape, layer, torch call on (x, weight))
    ("conv3d 3×3×3, 8×28×28×32 → 32", (8, 28, 28, 32),
     {"type": "conv3d", "filters": 32, "kernel": 3, "padding": 1, "bias": False},
     lambda F, x, w: F.conv3d(x, w, padding=1)),
    ("conv3d 3×3×3, 16×56×56×16 → 16", (16, 56, 56, 16),
     {"type": "conv3d", "filters": 16, "kernel": 3, "padding": 1, "bias": False},
     lambda F, x, w: F.conv3d(x, w, padding=1)),
    ("conv1d k=80 s=16, 8000×1 → 32 (M5's first layer)", (8000, 1),
     {"type": "conv1d", "filters": 32, "kernel": 80, "stride": 16, "bias": False},
     lambda F, x, w: F.conv1d(x, w, stride=16)),
    ("conv_transpose 2×2 s2, 28×28×1024 → 512 (U-Net's up4)", (28, 28, 1024),
     {"type": "conv_transpose", "filters": 512, "kernel": 2, "stride": 2, "bias": False},
     lambda F, x, w: F.conv_transpose2d(x, w, stride=2)),
    ("upsample linear ×2, 64×64×64", (64, 64, 64), {"type": "upsample", "mode": "linear"},
     lambda F, x, w: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)),
]


def main() -> None:
    try:
        import torch

        torch.set_num_threads(1)
        functional = torch.nn.functional
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    print(f"{'executor (float64)':55} {'cnncalc s':>10} {'torch s':>9} {'ratio':>7}")
    for what, shape, layer, call in CASES:
        net = build_network({"input": list(shape), "layers": [{"name": "l", **layer}]})
        analyse(net)
        x = rng.normal(size=shape)
        rank = len(shape) - 1
        weight_shape = net.layers[0].weight_shapes([shape]).get("weight")
        weights = {"l.weight": rng.normal(size=weight_shape)} if weight_shape else {}
        ours = best_of(lambda net=net, x=x, weights=weights: run(net, x, weights), 3)
        if torch is None:
            print(f"{what:55} {ours:10.4f} {'-':>9} {'-':>7}")
            continue
        tx = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 0)[None]))
        tw = None
        if weight_shape:
            w = weights["l.weight"]
            # conv: [*k, C, F] → [F, C, *k]; transposed: [*k, C_in, F] → [C_in, F, *k]
            order = (rank, rank + 1) if layer["type"].startswith("conv_transpose") else (rank + 1, rank)
            tw = torch.from_numpy(np.ascontiguousarray(w.transpose(*order, *range(rank))))
        theirs = best_of(lambda tx=tx, tw=tw, call=call: call(functional, tx, tw), 3)
        print(f"{what:55} {ours:10.4f} {theirs:9.4f} {ours / theirs:7.2f}")
    for name in ("unet", "r3d_18", "m5"):
        seconds = best_of(lambda name=name: analyse(load_spec(name)))
        print(f"summary {name} in-process: {seconds * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
