"""ONNX interop: importing a 500-node graph in-process (target < 1 s), and `summary model.onnx` for ResNet-50
against `summary resnet50` from YAML (target: at most 1.5 times as long, both as whole commands).

Run: python benchmarks/bench_interop.py   (needs the 'onnx' extra; prints measured, target, ratio)

Wall and CPU time both: on a shared machine the wall ratio swings, the CPU ratio much less. The ONNX
summary reads the model with cnncalc's own protobuf reader (cnncalc.interop.onnx_proto), leaves the large
tensors on disk and imports neither onnx nor numpy; the last row shows what `import onnx` alone would cost.
"""

from __future__ import annotations

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


if __name__ == "__main__":
    main()
