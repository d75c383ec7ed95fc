"""torchvision's classification models through torch.onnx and back into cnncalc: one row per model × exporter ×
opset, with what failed and why.

Run (needs torch, torchvision, onnxscript and onnxruntime; minutes per model on two cores):

    python benchmarks/bench_torchvision_import.py                       # every model, both exporters, opsets 17 and 20
    python benchmarks/bench_torchvision_import.py resnet18 vit_b_16 --opset 17 --exporter dynamo

Each model (random weights, batchnorm statistics and biases drawn as a trained model's: torch's optimiser
leaves out a bias of zeros, as an untrained model's are, and ViT's head weight of zeros would make its output a
constant; ``eval()``) is exported with torch's default exporter (``dynamo``, as it is:
its optimiser folds each batchnorm into the conv before it) and with the legacy one (``dynamo=False``), both
with ``training=torch.onnx.TrainingMode.PRESERVE`` (which keeps the legacy exporter's batchnorm), the dynamo
file with its weights in a ``.data`` file beside it as torch writes it. Then:

- **import**: ``cnncalc import`` of the file (with its weights);
- **params**: cnncalc's count against ``sum(p.numel() for p in model.parameters())``, or, for the dynamo
  export, that less γ and β of each batchnorm the file no longer has (folded into the conv before it), plus
  the biases those convs gained (none where they had one, as VGG's): "folded"; a batchnorm after no conv, as
  DenseNet's, stays;
- **MACs**: cnncalc's against a count made by forward hooks (conv: output elements × in-channels/groups ×
  kernel; linear: output elements × in-features; ``nn.MultiheadAttention``: its four projections, and the
  scores Q·Kᵀ and their weighted sum of V, each tokens² × embed_dim; Swin's ``ShiftedWindowAttention``: its
  qkv and output projections (applied by ``F.linear``, which no Linear hook sees), and its scores and weighted
  sum, each (padded map's tokens) × window² × channels; V2's ``ShiftedWindowAttentionV2`` as V1's, its position
  bias MLP's two Linears by their hooks, once a forward; MaxViT's ``RelativePositionalMultiHeadAttention``:
  its scores and weighted sum, each (groups × tokens) × tokens × channels, its Linears hooked), shown as the
  ratio;
- **run**: ``cnncalc run`` of the imported spec and weights against onnxruntime on the same file and input,
  the largest difference relative to the output's largest magnitude (pass: at most 1e-5).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODELS = [
    "alexnet", "convnext_tiny", "convnext_small", "convnext_base", "convnext_large", "densenet121", "densenet161",
    "densenet169", "densenet201", *(f"efficientnet_b{k}" for k in range(8)), "efficientnet_v2_s", "efficientnet_v2_m",
    "efficientnet_v2_l", "googlenet", "inception_v3", "maxvit_t", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0",
    "mnasnet1_3", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
    *(f"regnet_{kind}_{size}" for kind, sizes in (("x", ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
                                                  ("y", ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf",
                                                         "128gf"))) for size in sizes),
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
    "resnext101_64x4d", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
    "squeezenet1_0", "squeezenet1_1", "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b",
    "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "vit_b_16", "vit_b_32",
    "vit_l_16", "vit_l_32", "vit_h_14", "wide_resnet50_2", "wide_resnet101_2",
]
SIZES = {"inception_v3": 299}  # the input size a model needs (else 224)


def hook_macs(model, x) -> int:
    """Weight multiply-accumulates counted by forward hooks."""
    import torch
    from torch import nn

    total = 0

    def count(module, inputs, output) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            total += output.numel() * (module.in_channels // module.groups) * kernel
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features
        elif isinstance(module, nn.MultiheadAttention):
            query = inputs[0]
            tokens = query.numel() // query.shape[-1]
            total += 4 * tokens * module.embed_dim * module.embed_dim  # q, k, v and out projections
            sequence = query.shape[1] if module.batch_first else query.shape[0]
            total += 2 * tokens * sequence * module.embed_dim  # the scores Q·Kᵀ and their weighted sum of V
        elif type(module).__name__ in ("ShiftedWindowAttention", "ShiftedWindowAttentionV2"):  # Swin V1, V2
            _, height, width, channels = inputs[0].shape
            window = module.window_size
            padded = math.ceil(height / window[0]) * window[0] * math.ceil(width / window[1]) * window[1]
            # its qkv and proj Linears are applied by F.linear (no Linear hook runs): 3C + C outputs per token
            total += 4 * padded * channels * channels
            # the scores Q·Kᵀ and their weighted sum of V: each of the padded map's tokens with its window's
            total += 2 * padded * window[0] * window[1] * channels
            # (V2's position bias MLP is two nn.Linear modules, counted by their own hooks)
        elif type(module).__name__ == "RelativePositionalMultiHeadAttention":  # MaxViT
            # its to_qkv and merge are Linear modules (their hooks count them); the scores Q·Kᵀ and their
            # weighted sum of V: each of the groups' tokens with its group's
            batch, groups, tokens, channels = inputs[0].shape
            total += 2 * batch * groups * tokens * tokens * channels

    handles = [m.register_forward_hook(count) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear, nn.MultiheadAttention))
               or type(m).__name__ in ("ShiftedWindowAttention", "ShiftedWindowAttentionV2",
                                       "RelativePositionalMultiHeadAttention")]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return total


def export(model, x, path: Path, exporter: str, opset: int) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            torch.onnx.export(model, (x,), str(path), input_names=["x"], opset_version=opset,
                              training=torch.onnx.TrainingMode.PRESERVE)
        else:
            torch.onnx.export(model, (x,), str(path), input_names=["x"], opset_version=opset, dynamo=False,
                              training=torch.onnx.TrainingMode.PRESERVE)


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (f"{type(error).__name__}: " + (text[0] if text else ""))[:300]


def check(name: str, exporter: str, opset: int, folder: Path) -> dict[str, object]:
    import onnxruntime as ort
    import torch
    import torchvision

    from cnncalc import analyse
    from cnncalc.errors import CnnCalcError
    from cnncalc.interop.onnx_import import import_onnx, network_of
    from cnncalc.run.executor import run

    row: dict[str, object] = {"model": name, "exporter": exporter, "opset": opset}
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    with torch.no_grad():  # statistics and biases as a trained model has them: torch's optimiser leaves out a
        for module in model.modules():  # bias of zeros, which an untrained model's are
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
        for parameter in model.parameters():  # and every other parameter of zeros: ViT's head weight starts
            if not parameter.any():  # at zero, which would make its output a constant, the run check void
                parameter.uniform_(-0.1, 0.1)
    if name == "inception_v3":  # eval() returns the main logits only: the auxiliary heads are not the model's
        model.aux_logits, model.AuxLogits = False, None
    if name == "googlenet":
        model.aux_logits, model.aux1, model.aux2 = False, None, None
    size = SIZES.get(name, 224)
    x = torch.randn(1, 3, size, size)
    row["torch_params"] = sum(p.numel() for p in model.parameters())
    batchnorm_channels = sum(m.num_features for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    conv_biases = sum(m.bias.numel() for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.bias is not None)
    row["hook_macs"] = hook_macs(model, x)
    path = folder / f"{name}-{exporter}-{opset}.onnx"
    start = time.perf_counter()
    try:
        export(model, x, path, exporter, opset)
    except Exception as error:  # noqa: BLE001 - the exporter's own failure is a row too
        row["failure"] = f"torch.onnx.export: {one_line(error)}"
        return row
    row["export_s"] = time.perf_counter() - start
    import onnx

    # torch's dynamo exporter has no opset below 18: it converts down, and keeps 18 where that fails
    graph = onnx.load(str(path), load_external_data=False)
    written = {o.domain: o.version for o in graph.opset_import}.get("", 0)
    if written != opset:
        row["written_opset"] = written
    # the optimiser folds a batchnorm only into a conv right before it (DenseNet's norm → relu → conv keep
    # theirs): each folded one's channels come off torch's count, the kept ones count γ and β as torch does
    # γ and β of each folded one go; a conv that had no bias gains one (VGG's convs had theirs)
    sizes = {t.name: math.prod(t.dims) for t in graph.graph.initializer}
    kept = sum(sizes.get(n.input[1], 0) for n in graph.graph.node if n.op_type == "BatchNormalization")
    gained = sum(sizes.get(n.input[2], 0) for n in graph.graph.node if n.op_type == "Conv" and len(n.input) > 2
                 and n.input[2]) - conv_biases
    row["folded_params"] = int(row["torch_params"]) - 2 * (batchnorm_channels - kept) + gained  # type: ignore[call-overload]
    start = time.perf_counter()
    try:
        imported = import_onnx(path)
        network = network_of(imported, str(path))
    except CnnCalcError as error:
        row["failure"] = f"import: {error.message if hasattr(error, 'message') else error}"[:300]
        return row
    row["import_s"] = time.perf_counter() - start
    summary = analyse(network)
    row["params"], row["macs"] = summary.params, summary.macs
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    start = time.perf_counter()
    try:
        # the largest models (regnet_y_128gf, vit_h_14) need more than the default cap, as `--max-memory` raises it
        got = run(network, np.moveaxis(x.numpy().astype(np.float64), 1, -1), imported.weights,
                  max_memory=16 * 1024**3).output
    except CnnCalcError as error:
        row["failure"] = f"run: {error}"[:300]
        return row
    row["run_s"] = time.perf_counter() - start
    if got.shape != expected.shape:
        row["failure"] = f"run: output shape {got.shape}, onnxruntime's {expected.shape}"
        return row
    row["error"] = float(np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-30))
    return row


def verdict(row: dict[str, object]) -> str:
    if "failure" in row:
        return "FAIL"
    problems = []
    folded = row["exporter"] == "dynamo" and row["params"] == row["folded_params"]
    if row["params"] != row["torch_params"] and not folded:
        problems.append("params")
    if float(row["error"]) > 1e-5:  # type: ignore[arg-type]
        problems.append("run")
    if not problems:
        return "ok (folded)" if folded and row["params"] != row["torch_params"] else "ok"
    return "DIFF " + ",".join(problems)


def print_table(rows: list[dict[str, object]]) -> None:
    print(f"{'model':<22} {'exporter':<8} {'opset':>5}  {'result':<12} {'params cnncalc/torch':>27}  "
          f"{'MACs ratio':>10}  {'run rel. err':>12}  {'export/import/run s':>19}  failure")
    for row in rows:
        params = f"{row.get('params', '-'):,}/{row['torch_params']:,}" if "params" in row else \
            f"-/{row['torch_params']:,}"
        ratio = f"{int(row['macs']) / int(row['hook_macs']):.4f}" if "macs" in row else "-"  # type: ignore[call-overload]
        error = f"{float(row['error']):.1e}" if "error" in row else "-"  # type: ignore[arg-type]
        times = "/".join(f"{float(row[k]):.0f}" if k in row else "-" for k in ("export_s", "import_s", "run_s"))  # type: ignore[arg-type]
        print(f"{row['model']:<22} {row['exporter']:<8} {row['opset']:>5}  {verdict(row):<12} {params:>27}  "
              f"{ratio:>10}  {error:>12}  {times:>19}  {row.get('failure', '')}", flush=True)


def markdown_row(row: dict[str, object]) -> str:
    """One row of the docs' table: model | exporter | opset | result | params | MACs ratio | run error | failure."""
    params = f"{row['params']:,} / {row['torch_params']:,}" if "params" in row else "-"
    ratio = f"{int(row['macs']) / int(row['hook_macs']):.4f}" if "macs" in row else "-"  # type: ignore[call-overload]
    error = f"{float(row['error']):.1e}" if "error" in row else "-"  # type: ignore[arg-type]
    failure = str(row.get("failure", "")).replace("|", "\\|")
    opset = f"{row['opset']} (wrote {row['written_opset']})" if "written_opset" in row else row["opset"]
    return (f"| {row['model']} | {row['exporter']} | {opset} | {verdict(row)} | {params} | {ratio} | "
            f"{error} | {failure} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="torchvision model names (default: every classification model)")
    parser.add_argument("--opset", type=int, action="append", help="17 and 20 unless given (repeatable)")
    parser.add_argument("--exporter", choices=("dynamo", "legacy"), action="append",
                        help="both unless given (repeatable)")
    parser.add_argument("--out", type=Path, help="append each row to this Markdown file as it is made (a stopped "
                                                 "run keeps its rows)")
    args = parser.parse_args()
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        parser.error(f"not a torchvision classification model: {', '.join(unknown)}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models or MODELS:
            for exporter in args.exporter or ["dynamo", "legacy"]:
                for opset in args.opset or [17, 20]:
                    try:
                        row = check(name, exporter, opset, Path(folder))
                    except Exception as error:  # noqa: BLE001 - one row per case, whatever broke
                        traceback.print_exc()
                        row = {"model": name, "exporter": exporter, "opset": opset, "torch_params": 0,
                               "failure": f"benchmark: {one_line(error)}"}
                    rows.append(row)
                    print_table([row])
                    if args.out is not None:
                        new = not args.out.exists()
                        with args.out.open("a", encoding="utf-8") as out:
                            if new:
                                out.write("| model | exporter | opset | result | params cnncalc / torch | MACs ratio "
                                          "| run rel. error | failure |\n|---|---|---|---|---|---|---|---|\n")
                            out.write(markdown_row(row) + "\n")
                    for path in Path(folder).iterdir():  # a model's files go once it is checked
                        path.unlink()
    print()
    print_table(rows)
    failed = [row for row in rows if not verdict(row).startswith("ok")]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} rows ok")


if __name__ == "__main__":
    main()
