"""Executor speed, each figure against a baseline measured in the same run.

Run: python benchmarks/bench_executor.py [--quick]
  1. conv forward on the notebook's case (512×512×3 image, 3×3×3×2 filters, padding 1) against the
     notebook's own loop code (target: at least 100× faster);
  2. a batch of 2,000 16×16×1 images through LeNet-1 (built-in `lenet1`) (target: under 0.5 s);
  3. where PyTorch is installed, the same conv against torch.nn.functional.conv2d on one thread
     (target: within 2×);
  4. `run vgg16 --seed 0` on a 224×224×3 image: making the 138 M seeded weights against the forward pass
     itself, in float64 and float32 (target: seeded weights cost little more than the forward pass), and
     against the former way of making them (normal() then astype(), each array one stream) in this same run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from cnncalc import load_spec, loads_spec
from cnncalc.calc.analysis import analyse
from cnncalc.run.executor import _input_shapes, gather_weights, run

sys.path.insert(0, str(Path(__file__).parent))
from timing import best_of


# ---- the notebook's code, verbatim but for formatting (000_…: "Single Image Convolution", "Batch Convolution")
def convolve(img_in, kernel, S):
    F, _ = kernel.shape
    nr, nc, = img_in.shape
    R = np.arange(0, nr - (F - S), S)
    C = np.arange(0, nc - (F - S), S)
    img_out = np.zeros([len(R), len(C)])
    for i, r in enumerate(R):
        for j, c in enumerate(C):
            img_out[i, j] = np.sum(kernel * img_in[r:r + F, c:c + F])
    return img_out


def batch_convolve(input3d, filter4d, bias1d, P, S=1):
    H, W, I = input3d.shape
    F, _, _, O = filter4d.shape
    input3d = np.pad(input3d, ((P, P), (P, P), (0, 0)), 'constant', constant_values=((0, 0), (0, 0), (0, 0)))
    W2 = np.int32((W - F + 2 * P) / S + 1)
    H2 = np.int32((H - F + 2 * P) / S + 1)
    output3d = np.zeros((W2, H2, O), dtype=np.float32)
    for o in range(O):
        output3d[:, :, o] = output3d[:, :, o] + bias1d[o]
        for i in range(I):
            output3d[:, :, o] = output3d[:, :, o] + convolve(input3d[:, :, i], kernel=filter4d[:, :, i, o], S=S)
    return output3d


def notebook_filters() -> np.ndarray:
    F = np.zeros((3, 3, 3, 2))
    F[:, :, 0, 0] = [[0.0625, 0.125, 0.0625], [0.125, 0.25, 0.125], [0.0625, 0.125, 0.0625]]
    F[:, :, 0, 1] = [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    F[:, :, 1, 0] = [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]
    F[:, :, 1, 1] = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
    F[:, :, 2, 0] = [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]
    F[:, :, 2, 1] = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    return F


def main() -> None:
    quick = "--quick" in sys.argv
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(512, 512, 3)).astype(np.float64)  # stands in for the baboon
    filters = notebook_filters()
    spec = loads_spec("input: [512, 512, 3]\nlayers: [{type: conv, name: c, filters: 2, kernel: 3, padding: 1}]")
    weights = {"c.weight": filters, "c.bias": np.zeros(2)}

    ours = run(spec, image, weights).output
    rows = []
    t_ours = best_of(lambda: run(spec, image, weights), 5)
    if quick:  # the notebook's loops on a 128×128 crop, scaled by pixel count
        crop = image[:128, :128]
        t_loop = best_of(lambda: batch_convolve(crop, filters, np.zeros(2), 1), 1) * 16
    else:
        start = time.perf_counter()
        reference = batch_convolve(image, filters, np.zeros(2), 1)
        t_loop = time.perf_counter() - start
        assert np.allclose(reference, ours, rtol=1e-5, atol=1e-2), "outputs differ"
    rows.append(("conv 512×512×3, 3×3×3×2, p=1: notebook loops", t_loop, None))
    rows.append(("conv 512×512×3, 3×3×3×2, p=1: cnncalc", t_ours, None))
    speedup = t_loop / t_ours

    lenet = load_spec("lenet1")
    digits = rng.uniform(0, 255, size=(2000, 16, 16, 1))
    t_lenet = best_of(lambda: run(lenet, digits, seed=0), 3)
    rows.append(("LeNet-1, batch of 2,000 16×16×1", t_lenet, 0.5))

    torch_ratio = None
    try:
        import torch
        import torch.nn.functional as tf
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(1)
        x_t = torch.from_numpy(image.transpose(2, 0, 1)[None].copy())
        w_t = torch.from_numpy(filters.transpose(3, 2, 0, 1).copy())
        t_torch = best_of(lambda: tf.conv2d(x_t, w_t, padding=1), 5)
        rows.append(("same conv, torch.nn.functional.conv2d (1 thread)", t_torch, None))
        torch_ratio = t_ours / t_torch

    vgg = seeded_vgg16(rng, 1 if quick else 3)
    rows.extend(vgg["rows"])

    print(f"{'measurement':52} {'seconds':>9} {'target':>8}")
    for name, seconds, target in rows:
        print(f"{name:52} {seconds:9.4f} {'' if target is None else f'{target:8.3f}'}")
    print()
    print(f"speed-up over the notebook's loops: {speedup:,.0f}× (target ≥ 100×){' [--quick: loops timed on a crop]' if quick else ''}")
    print(f"LeNet-1 batch of 2,000 / target 0.5 s: ratio {t_lenet / 0.5:.2f}")
    if torch_ratio is None:
        print("PyTorch not installed: the torch comparison is skipped")
    else:
        print(f"cnncalc / torch conv2d (1 thread): {torch_ratio:.2f}× (target ≤ 2×)")
    for dtype in ("float64", "float32"):
        print(f"VGG16 {dtype}: seeded weights / forward pass: {vgg[dtype]:.2f}× (target: close to 1×)")
    print(f"VGG16 float64 seeded weights, former way / now: {vgg['speedup']:.2f}×")


def seeded_vgg16(rng: np.random.Generator, repeat: int) -> dict:
    """Seeded weights of VGG16 (138 M values) against its forward pass, and against the former generator."""
    import zlib

    network = load_spec("vgg16")
    image = rng.uniform(0, 255, size=(224, 224, 3))
    summary = analyse(network)
    shapes = _input_shapes(summary)

    def former() -> None:  # one stream per layer, normal() in float64, then a converted copy and a check
        for layer in network.layers:
            for shape in layer.weight_shapes(shapes[layer.name]).values():
                stream = np.random.default_rng([0, zlib.crc32(layer.name.encode())])
                fan_in = int(np.prod(shape[:-1])) or 1
                value = stream.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float64)
                assert np.all(np.isfinite(value))

    result: dict = {"rows": []}
    for dtype in ("float64", "float32"):
        t_seed = best_of(lambda dtype=dtype: gather_weights(summary, None, 0, np.dtype(dtype)), repeat)
        arrays = gather_weights(summary, None, 0, np.dtype(dtype))
        weights = {f"{name}.{key}": value for name, parts in arrays.items() for key, value in parts.items()}
        t_forward = best_of(lambda weights=weights, dtype=dtype: run(network, image, weights, dtype=dtype), repeat)
        result["rows"] += [(f"VGG16 {dtype}: seeded weights (138 M values)", t_seed, None),
                           (f"VGG16 {dtype}: forward pass, 224×224×3", t_forward, None)]
        result[dtype] = t_seed / t_forward
        if dtype == "float64":
            t_former = best_of(former, repeat)
            result["rows"].append(("VGG16 float64: seeded weights, former way", t_former, None))
            result["speedup"] = t_former / t_seed
        del arrays, weights
    return result


if __name__ == "__main__":
    main()
