"""ONNX interop: importing a 500-node graph in-process (target < 1 s), and `summary model.onnx` for ResNet-50
against `summary resnet50` from YAML (target: at most 1.5 times as long, both as whole commands).

Run: python benchmarks/bench_interop.py   (needs the 'onnx' extra; prints measured, target, ratio)

     python benchmarks/bench_interop.py --large [MODEL.onnx]
         a large model: torchvision's vit_l_16 (1.2 GB, exported here by torch's legacy exporter when no file
         is given; needs torch and torchvision), read and summarised in-process by a fresh interpreter
         (targets: under 3 s of CPU, at most 2× `onnx.load` of the same file in another fresh interpreter, and
         a peak resident memory under 1.5× the file's size).

Wall and CPU time both: on a shared machine the wall ratio swings, the CPU ratio much less. The ONNX
summary reads the model with cnncalc's own protobuf reader (cnncalc.interop.onnx_proto), leaves the large
tensors on disk and imports neither onnx nor numpy; the last row shows what `import onnx` alone would cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from timing import best_of, cpu, wall

from cnncalc import loads_spec
from cnncalc.interop.onnx_export import export_onnx, save_onnx
from cnncalc.interop.onnx_import import import_model, network_of


def chain_spec(blocks: int) -> str:
    """conv → batchnorm → relu → add (residual) → ..., 4 layers per block, 5 ONNX nodes with the input's."""
    lines = ["input: [16, 16, 8]", "layers:", "  - {type: conv, name: stem, filters: 8, kernel: 3, padding: 1}"]
    previous = "stem"
    for k in range(blocks):
        lines += [f"  - {{type: conv, name: c{k}, inputs: {previous}, filters: 8, kernel: 3, padding: 1}}",
                  f"  - {{type: batchnorm, name: b{k}}}", f"  - {{type: relu, name: r{k}}}",
                  f"  - {{type: add, name: a{k}, inputs: [r{k}, {previous}]}}"]
        previous = f"a{k}"
    return "\n".join(lines) + "\n"


def main() -> None:
    from cnncalc.calc.analysis import analyse

    model = export_onnx(loads_spec(chain_spec(125)), seed=0)
    nodes = len(model.graph.node)
    rows = [(f"import a {nodes}-node ONNX graph (+ analyse)",
             best_of(lambda: analyse(network_of(import_model(model), "m")), 5), 1.0)]
    with tempfile.TemporaryDirectory() as folder:
        from cnncalc.spec.network import load_spec

        path = str(Path(folder) / "resnet50.onnx")
        save_onnx(export_onnx(load_spec("resnet50"), seed=0), path)
        yaml_time = wall([sys.executable, "-m", "cnncalc", "summary", "resnet50"])
        onnx_time = wall([sys.executable, "-m", "cnncalc", "summary", path])
        rows.append(("cnncalc summary resnet50 (YAML, wall, median of 5)", yaml_time, yaml_time))
        rows.append(("cnncalc summary resnet50.onnx (wall, median of 5)", onnx_time, 1.5 * yaml_time))
        yaml_cpu = cpu([sys.executable, "-m", "cnncalc", "summary", "resnet50"])
        onnx_cpu = cpu([sys.executable, "-m", "cnncalc", "summary", path])
        numpy_onnx = cpu([sys.executable, "-c", "import onnx"])  # numpy comes with it
        rows.append(("cnncalc summary resnet50 (YAML, CPU, least of 5)", yaml_cpu, yaml_cpu))
        rows.append(("cnncalc summary resnet50.onnx (CPU, least of 5)", onnx_cpu, 1.5 * yaml_cpu))
        rows.append(("python -c 'import onnx' (CPU; neither summary imports it)", numpy_onnx, 0.5 * yaml_cpu))
    print(f"{'measurement':55} {'seconds':>9} {'target':>8} {'ratio':>7}")
    for name, seconds, target in rows:
        print(f"{name:55} {seconds:9.4f} {target:8.3f} {seconds / target:7.2f}")


# Each measurement runs in a fresh interpreter, so that its peak resident memory (ru_maxrss) is its own.
_SUMMARY = """
import json, resource, sys, time
from cnncalc import read_network, summarise
start = time.process_time()
report = summarise(read_network(sys.argv[1]), format="table")
seconds = time.process_time() - start
print(json.dumps({"seconds": seconds, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "params": report.summary.params, "layers": len(report.summary.records)}))
"""
_ONNX_LOAD = """
import json, resource, sys, time
import onnx
start = time.process_time()
model = onnx.load(sys.argv[1])
seconds = time.process_time() - start
print(json.dumps({"seconds": seconds, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def _measure(code: str, path: str) -> dict[str, float]:
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", code, path], check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _export_vit_l_16(folder: str) -> str:
    import torch
    import torchvision

    model = torchvision.models.vit_l_16(weights=None).eval()
    path = str(Path(folder) / "vit_l_16.onnx")
    # (not under no_grad: there nn.MultiheadAttention takes its fused fast path, which has no ONNX export)
    torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), path, dynamo=False, opset_version=17)
    return path


def large(path: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        if path is None:
            path = _export_vit_l_16(folder)
        size = os.path.getsize(path)
        ours = min((_measure(_SUMMARY, path) for _ in range(3)), key=lambda r: r["seconds"])
        theirs = min((_measure(_ONNX_LOAD, path) for _ in range(3)), key=lambda r: r["seconds"])
    print(f"{Path(path).name}: {size / 2**30:.2f} GiB; cnncalc reads {ours['layers']} layers, {ours['params']:,} params")
    print(f"{'measurement (least CPU of 3 fresh interpreters)':55} {'value':>9} {'target':>8} {'ratio':>7}")
    rows = [("summary in-process, CPU seconds", ours["seconds"], 3.0),
            ("summary against onnx.load, CPU seconds", ours["seconds"], 2 * theirs["seconds"]),
            ("onnx.load alone, CPU seconds", theirs["seconds"], theirs["seconds"]),
            ("summary peak resident memory, GiB", ours["peak"] / 2**30, 1.5 * size / 2**30),
            ("onnx.load peak resident memory, GiB", theirs["peak"] / 2**30, theirs["peak"] / 2**30)]
    for name, value, target in rows:
        print(f"{name:55} {value:9.3f} {target:8.3f} {value / target:7.2f}")


if __name__ == "__main__":
    if "--large" in sys.argv:
        rest = sys.argv[sys.argv.index("--large") + 1:]
        large(rest[0] if rest else None)
    else:
        main()
