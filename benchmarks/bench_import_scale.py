"""ONNX import at scale: a legitimate chain of 10,000, 50,000 and 100,000 nodes imports in time linear in
its nodes, and the issue's hostile files (tests/test_hostile_onnx_caps.py, ISSUE_CASES) are refused or
imported in seconds, through `summary`, `import` and `import --weights-out`.

Run: python benchmarks/bench_import_scale.py [--big]   (needs the 'onnx' extra)

Tables:
1. the chain (Conv 1×1 then Relu, repeated; [1, 4, 2, 2] tensors): per node, in-process, for `import`
   (onnx.checker, weights read) and for a summary's read (no checker, weights left on disk); the ratio is
   the CPU time per node against the 10,000-node chain's (target 1.5: a quadratic pass makes it 5 and 10).
   Wall and CPU time both, as in bench_interop.py: on a shared machine the wall time swings, the CPU time
   much less;
2. the test module's hostile cases as its tests build them (scale 1), all three commands each: the total
   is the target (well under 30 s);
3. the same cases at the issue's sizes (scale 10: 30 MB attributes and initializers, 30,000 names, 40,000
   outputs), with what the issue measured before;
4. with --big: the issue's 100 MB and 1.04 GB `strides` and 600 MB of floats, each file written to a
   temporary folder and given to `cnncalc summary` and `cnncalc import --weights-out` as processes: wall time
   and peak memory (the whole file is in memory for --weights-out, by design; nothing more).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from timing import best_of

SIZES = (10_000, 50_000, 100_000)


def chain(nodes: int) -> bytes:
    """Conv 1×1 (one shared weight) then Relu, repeated: ``nodes`` nodes in all."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 4, 1, 1), dtype=np.float32), "w")
    graph_nodes, previous = [], "x"
    for k in range(nodes):
        conv = k % 2 == 0
        graph_nodes.append(helper.make_node("Conv" if conv else "Relu", [previous, "w"] if conv else [previous],
                                            [f"v{k}"], name=f"{'conv' if conv else 'relu'}{k}"))
        previous = f"v{k}"
    shape = [1, 4, 2, 2]
    graph = helper.make_graph(graph_nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(previous, TensorProto.FLOAT, shape)], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def chain_rows(folder: Path) -> list[tuple[str, float, float, float, float]]:
    """(what, wall seconds, CPU seconds, CPU µs per node, its ratio to the smallest chain's)."""
    from cnncalc.interop.onnx_import import import_onnx

    rows = []
    per_node: dict[str, float] = {}
    for nodes in SIZES:
        path = folder / f"chain{nodes}.onnx"
        path.write_bytes(chain(nodes))
        for label, options in (("import", {}), ("summary read", {"weights": False, "check": False})):
            imported = import_onnx(path, **options)
            assert len(imported.spec["layers"]) == nodes
            def run(path: Path = path, options: dict = options) -> None:
                import_onnx(path, **options)

            wall, cpu = best_of(run, repeat=3), best_of(run, repeat=3, clock=time.process_time)
            per_node.setdefault(label, cpu / nodes)
            rows.append((f"{label}, {nodes:,}-node chain", wall, cpu, cpu / nodes * 1e6, cpu / nodes / per_node[label]))
    return rows


def run_commands(path: str, weights: str) -> tuple[list[int], float]:
    """Exit codes of summary, import and import --weights-out (in-process), and their total seconds."""
    from typer.testing import CliRunner

    from cnncalc.cli import app

    runner = CliRunner()
    start = time.perf_counter()
    codes = [runner.invoke(app, args).exit_code
             for args in (["summary", path], ["import", path], ["import", path, "--weights-out", weights])]
    return codes, time.perf_counter() - start


def case_rows(folder: Path, scale: int) -> list[tuple[str, str, float, list[int]]]:
    from test_hostile_onnx_caps import ISSUE_CASES

    rows = []
    for name, before, build, fragments in ISSUE_CASES:
        path = folder / f"{name}-{scale}.onnx"
        path.write_bytes(build(scale))
        codes, seconds = run_commands(str(path), str(folder / "w.npz"))
        expected = [0, 0, 0] if fragments is None else [2, 2, 2]
        assert codes == expected, (name, codes)
        rows.append((f"{name} ({path.stat().st_size / 1e6:,.1f} MB)", before, seconds, codes))
        path.unlink()
    return rows


#: a child that runs the CLI and, at exit, writes its own peak memory (VmHWM, in kB) as the last line of
#: stderr: a fork's ru_maxrss starts from the parent's, which here holds the 1 GB file it wrote
PEAK_CHILD = """
import atexit, sys, runpy
def peak():
    status = open("/proc/self/status").read()
    sys.stderr.write(status.split("VmHWM:")[1].split()[0] + "\\n")
atexit.register(peak)
sys.argv = ["cnncalc", *sys.argv[1:]]
runpy.run_module("cnncalc", run_name="__main__")
"""


def big_rows(folder: Path) -> list[tuple[str, str, float, float]]:
    """The issue's largest files, each command a process: (file, command, wall seconds, peak MiB)."""
    from test_hostile_onnx_caps import floats_attribute, ints_attribute, lone_node_model

    files = [("strides 100 MB", lambda: lone_node_model(ints_attribute(100_000_000))),
             ("floats 600 MB", lambda: lone_node_model(floats_attribute(150_000_000))),
             ("strides 1.04 GB", lambda: lone_node_model(ints_attribute(1_040_000_000)))]
    rows = []
    for name, build in files:
        path = folder / "big.onnx"
        path.write_bytes(build())
        for command in (["summary", str(path)], ["import", str(path), "--weights-out", str(folder / "w.npz")]):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", PEAK_CHILD, *command], capture_output=True, text=True,
                                  check=False)
            seconds = time.perf_counter() - start
            error, peak = done.stderr.rsplit("\n", 2)[:2] if done.stderr.count("\n") >= 2 else (done.stderr, "nan")
            assert done.returncode == 2 and error.startswith("error: "), done.stderr
            rows.append((name, " ".join(command[:1] + command[2:3]), seconds, float(peak) / 1024))
        path.unlink()
    return rows


def hostile_modules() -> float:
    """The whole hostile ONNX and Keras set of the tests, as CI runs it: one pytest process, wall time."""
    root = Path(__file__).resolve().parent.parent
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "tests/test_hostile_onnx_caps.py", "tests/test_hostile_keras_caps.py"],
                   cwd=root, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        print(f"{'chain (linear: ratio near 1)':36} {'wall s':>8} {'CPU s':>8} {'CPU µs/node':>12} {'ratio':>6} "
              f"{'target':>7}")
        for label, wall, cpu, per_node, ratio in chain_rows(folder):
            print(f"{label:36} {wall:8.3f} {cpu:8.3f} {per_node:12.1f} {ratio:6.2f} {1.5:7.2f}")
        print()
        for scale, title in ((1, "the test module's hostile cases"), (10, "the issue's sizes (scale 10)")):
            rows = case_rows(folder, scale)
            print(f"{title:32} {'3 commands, s':>14}  exit codes  before (the issue)")
            for label, before, seconds, codes in rows:
                print(f"{label:32} {seconds:14.3f}  {codes!s:10}  {before}")
            total = sum(row[2] for row in rows)
            print(f"{'total':32} {total:14.3f}" + ("  (target: well under 30 s)" if scale == 1 else ""))
            print()
        print(f"{'the hostile test modules (pytest, one process)':48} {'wall s':>8} {'target':>7}")
        seconds = hostile_modules()
        print(f"{'test_hostile_onnx_caps.py + test_hostile_keras_caps.py':48} {seconds:8.2f} {30.0:7.1f}")
        print()
        if "--big" in sys.argv:
            print(f"{'--big (processes)':20} {'command':22} {'seconds':>9} {'peak MiB':>9}")
            for name, command, seconds, peak in big_rows(folder):
                print(f"{name:20} {command:22} {seconds:9.2f} {peak:9.0f}")


if __name__ == "__main__":
    main()
