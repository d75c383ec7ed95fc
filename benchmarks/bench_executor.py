"""Executor speed, each figure against a baseline measured in the same run.

Run: python benchmarks/bench_executor.py [--quick] [--kernels]   (--kernels: parts 5 to 7 only)
NumPy's BLAS runs on one thread here, as torch does (torch.set_num_threads(1)): the ratios compare one
core with one core, and the machine's other work disturbs them less. Parts 5 to 7 time CPU seconds.
  1. conv forward on the notebook's case (512×512×3 image, 3×3×3×2 filters, padding 1) against the
     notebook's own loop code (target: at least 100× faster);
  2. a batch of 2,000 16×16×1 images through LeNet-1 (built-in `lenet1`) (target: under 0.5 s);
  3. where PyTorch is installed, the same conv against torch.nn.functional.conv2d on one thread
     (target: within 2×);
  4. `run vgg16 --seed 0` on a 224×224×3 image: making the 138 M seeded weights against the forward pass
     itself, in float64 and float32 (target: seeded weights cost little more than the forward pass), and
     against the former way of making them (normal() then astype(), each array one stream) in this same run;
  5. a 3×3 float64 conv (16×64×64×32 → 64, padding 1) against one float64 matrix product with the same
     multiply-accumulates (target: at most 1.3×);
  6. where PyTorch is installed, every distinct conv of ResNet-50 and VGG16 (batch 1, 224×224) against
     torch.nn.functional.conv2d in float64 on one thread (target: at least as fast in total);
  7. where PyTorch is installed, gelu (1 M values) and linear upsampling by 2 (1-D, 2-D, 3-D) against torch
     in float64 on one thread (target: at most 1.5×).
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # before NumPy loads its BLAS

import sys
import time
from functools import partial
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
    if "--kernels" in sys.argv:
        kernel_rows()
        return
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
    print()
    kernel_rows()


def cpu_best(func, repeat: int = 5) -> float:
    return best_of(func, repeat, clock=time.process_time)


def conv_layer(spec: str):
    """A one-layer network's layer and its input shape (NHWC without the batch axis)."""
    network = loads_spec(spec)
    return network.layers[0], network.input_shape


def conv_against_gemm() -> tuple[float, float, float]:
    """(conv seconds, GEMM seconds, ratio) for the 16×64×64×32 → 64 3×3 conv, padding 1."""
    rng = np.random.default_rng(0)
    layer, _ = conv_layer("input: [64, 64, 32]\nlayers: [{type: conv, filters: 64, kernel: 3, padding: 1, "
                          "bias: false}]")
    x = rng.standard_normal((16, 64, 64, 32))
    weights = {"weight": rng.standard_normal((3, 3, 32, 64))}
    a = rng.standard_normal((16 * 64 * 64, 3 * 3 * 32))
    b = rng.standard_normal((3 * 3 * 32, 64))
    t_conv, t_gemm = [], []
    for _ in range(3):  # alternated, so that a busy moment of the machine hits both
        t_conv.append(cpu_best(lambda: layer.forward([x], weights, (64, 64, 64)), 3))
        t_gemm.append(cpu_best(lambda: a @ b, 3))
    return min(t_conv), min(t_gemm), min(t_conv) / min(t_gemm)


def zoo_convs(names: tuple[str, ...] = ("resnet50", "vgg16")) -> dict[tuple, int]:
    """Every distinct 2-D conv of the named networks (input shape, kernel, stride, padding, filters,
    groups) with how often it occurs."""
    found: dict[tuple, int] = {}
    for name in names:
        summary = analyse(load_spec(name))
        shapes = {r.name: r.output_shape for r in summary.records}
        shapes["input"] = summary.input_shape
        for layer in summary.network.layers:
            if layer.type != "conv":
                continue
            key = (tuple(int(d) for d in shapes[layer.inputs[0]]), tuple(layer.axes("kernel", 2)),
                   tuple(layer.axes("stride", 2)), layer.padding, layer.filters, layer.groups)
            found[key] = found.get(key, 0) + 1
    return found


def torch_conv_rows(torch) -> tuple[list[tuple[str, float, float, int]], float, float]:
    """Per distinct conv: (description, cnncalc seconds, torch seconds, count); and the totals."""
    import torch.nn.functional as tf

    rng = np.random.default_rng(0)
    rows = []
    for (shape, kernel, stride, padding, filters, groups), count in zoo_convs().items():
        h, w, c = shape
        spec = (f"input: [{h}, {w}, {c}]\nlayers: [{{type: conv, filters: {filters}, kernel: {list(kernel)}, "
                f"stride: {list(stride)}, padding: {padding_text(padding)}, groups: {groups}, bias: false}}]")
        network = loads_spec(spec)
        layer = network.layers[0]
        out_shape = tuple(int(d) for d in analyse(network).records[0].output_shape)
        x = rng.standard_normal((1, h, w, c))
        weight = rng.standard_normal((*kernel, c // groups, filters))
        pads = layer.pads_for(x)
        x_t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        w_t = torch.from_numpy(np.ascontiguousarray(weight.transpose(3, 2, 0, 1)))
        padded_t = tf.pad(x_t, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
        ours = layer.forward([x], {"weight": weight}, out_shape)
        theirs = tf.conv2d(padded_t, w_t, stride=stride, groups=groups).numpy().transpose(0, 2, 3, 1)
        assert np.allclose(ours, theirs, rtol=1e-10, atol=1e-9), "outputs differ"
        repeat = 3 if h * w * c * filters > 10**8 else 5
        sides = (pads[1][0], pads[1][1], pads[0][0], pads[0][1])
        t_ours = cpu_best(partial(layer.forward, [x], {"weight": weight}, out_shape), repeat)
        t_torch = cpu_best(partial(torch_conv, tf, x_t, w_t, sides, stride, groups), repeat)
        rows.append((f"{h}×{w}×{c} k{kernel[0]}×{kernel[1]} s{stride[0]} → {filters}", t_ours, t_torch, count))
    ours_total = sum(t * n for _, t, _, n in rows)
    torch_total = sum(t * n for _, _, t, n in rows)
    return rows, ours_total, torch_total


def torch_conv(tf, x_t, w_t, sides: tuple[int, ...], stride: tuple[int, ...], groups: int):
    """torch's conv with the padding done as cnncalc's layer does it (the padded copy timed too)."""
    return tf.conv2d(tf.pad(x_t, sides), w_t, stride=stride, groups=groups)


def padding_text(padding: tuple) -> str:
    """A parsed padding field (``("each", 1)``, ``("same",)``, ``("explicit", pairs)``) back as spec text."""
    if padding[0] == "same":
        return "same"
    if padding[0] == "each":
        return str(list(padding[1])) if isinstance(padding[1], tuple) else str(padding[1])
    return str([list(pair) for pair in padding[1]])


def elementwise_rows(torch) -> list[tuple[str, float, float]]:
    """gelu and linear upsampling: (description, cnncalc seconds, torch seconds)."""
    import torch.nn.functional as tf

    from cnncalc.maths import kernels

    rng = np.random.default_rng(0)
    rows = []
    x = rng.standard_normal((16, 64, 64, 16))
    x_t = torch.from_numpy(x)
    assert np.allclose(kernels.gelu(x), tf.gelu(x_t).numpy(), rtol=1e-13, atol=1e-15)
    rows.append(("gelu, 1 M values from N(0, 1)", cpu_best(lambda: kernels.gelu(x), 7),
                 cpu_best(lambda: tf.gelu(x_t), 7)))
    for shape, mode in (((4, 1024, 64), "linear"), ((4, 64, 64, 32), "bilinear"), ((1, 128, 128, 16), "bilinear"),
                        ((8, 32, 32, 64), "bilinear"), ((2, 16, 16, 16, 16), "trilinear")):
        rank = len(shape) - 2
        spec = f"input: {list(shape[1:])}\nlayers: [{{type: upsample, scale: 2, mode: linear}}]"
        layer, _ = conv_layer(spec)
        out_shape = (*(d * 2 for d in shape[1:-1]), shape[-1])
        x = rng.standard_normal(shape)
        x_t = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
        ours = layer.forward([x], {}, out_shape)
        theirs = tf.interpolate(x_t, scale_factor=2, mode=mode, align_corners=False).numpy()
        assert np.allclose(ours, np.moveaxis(theirs, 1, -1), rtol=1e-12, atol=1e-12)
        rows.append((f"upsample linear ×2, {'×'.join(map(str, shape))} ({rank}-D)",
                     cpu_best(partial(layer.forward, [x], {}, out_shape), 7),
                     cpu_best(partial(tf.interpolate, x_t, scale_factor=2, mode=mode, align_corners=False), 7)))
    return rows


def kernel_rows() -> None:
    t_conv, t_gemm, ratio = conv_against_gemm()
    print(f"{'conv 16×64×64×32 → 64, 3×3, p=1, float64 (CPU s)':60} {t_conv:9.4f}")
    print(f"{'one GEMM, same MACs (65,536×288 @ 288×64)':60} {t_gemm:9.4f}")
    print(f"conv / GEMM: {ratio:.2f}× (target ≤ 1.3×) {'PASS' if ratio <= 1.3 else 'FAIL'}")
    try:
        import torch
    except ImportError:
        print("PyTorch not installed: the conv, gelu and upsampling comparisons with torch are skipped")
        return
    torch.set_num_threads(1)
    rows, ours_total, torch_total = torch_conv_rows(torch)
    print()
    print(f"{'ResNet-50 and VGG16 convs, batch 1 (CPU s)':44} {'count':>5} {'cnncalc':>9} {'torch':>9} {'ratio':>6}")
    for name, t_ours, t_torch, count in rows:
        print(f"{name:44} {count:5} {t_ours:9.4f} {t_torch:9.4f} {t_ours / t_torch:6.2f}")
    total = ours_total / torch_total
    print(f"all convs of both networks, weighted by count: cnncalc {ours_total:.3f} s, torch {torch_total:.3f} s: "
          f"{total:.2f}× (target ≤ 1×) {'PASS' if total <= 1 else 'FAIL'}")
    print()
    print(f"{'elementwise kernels, float64 (CPU s)':44} {'cnncalc':>9} {'torch':>9} {'ratio':>6}")
    for name, t_ours, t_torch in elementwise_rows(torch):
        print(f"{name:44} {t_ours:9.4f} {t_torch:9.4f} {t_ours / t_torch:6.2f} "
              f"{'PASS' if t_ours / t_torch <= 1.5 else 'FAIL'} (target ≤ 1.5×)")


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
