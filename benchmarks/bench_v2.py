"""Spec v2 speed: in-process summaries of vit_b_16 and convnext_tiny (baseline: resnet50 in the same run),
and one ViT-B attention layer through the executor against torch float64, both on one thread.

Run: python benchmarks/bench_v2.py   (prints measured, target, ratio = measured/target; the attention rows
need torch and are skipped without it)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# one thread for NumPy's BLAS as for torch: the comparison is per core (set before numpy loads)
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

sys.path.insert(0, str(Path(__file__).parent))
from timing import best_of


def summary_rows() -> list[tuple[str, float, float | None]]:
    from cnncalc import analyse, load_spec
    from cnncalc.render import render

    def summary(name: str) -> None:
        render(analyse(load_spec(name)), "table", False)

    rows = []
    for name, target in (("resnet50", None), ("vit_b_16", 0.020), ("convnext_tiny", 0.020)):
        summary(name)  # warm: imports and caches
        rows.append((f"summary {name} (load, analyse, render)", best_of(lambda name=name: summary(name), repeat=7), target))
    return rows


def attention_rows(tokens: int = 197, d: int = 768, heads: int = 12) -> list[tuple[str, float, float | None]]:
    try:
        import torch
    except ImportError:
        print("(torch not installed: attention rows skipped)")
        return []
    import numpy as np

    from cnncalc import build_network
    from cnncalc.run.executor import run

    torch.set_num_threads(1)
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(d, heads, batch_first=True, dtype=torch.float64).eval()
    w_q, w_k, w_v = mha.in_proj_weight.detach().numpy().reshape(3, d, d)
    b_q, b_k, b_v = mha.in_proj_bias.detach().numpy().reshape(3, d)
    k = d // heads
    weights = {"attn.query.weight": w_q.T.reshape(d, heads, k), "attn.query.bias": b_q.reshape(heads, k),
               "attn.key.weight": w_k.T.reshape(d, heads, k), "attn.key.bias": b_k.reshape(heads, k),
               "attn.value.weight": w_v.T.reshape(d, heads, k), "attn.value.bias": b_v.reshape(heads, k),
               "attn.output.weight": mha.out_proj.weight.detach().numpy().T.reshape(heads, k, d),
               "attn.output.bias": mha.out_proj.bias.detach().numpy()}
    network = build_network({"input": [tokens * d], "layers": [
        {"type": "reshape", "name": "tokens", "shape": [tokens, d]},
        {"type": "attention", "name": "attn", "heads": heads}]})
    x = np.random.default_rng(0).normal(size=(tokens * d,))
    ours = run(network, x, weights).output
    with torch.no_grad():
        theirs = mha(*(torch.from_numpy(x.reshape(1, tokens, d)),) * 3, need_weights=False)[0][0].numpy()
    assert np.allclose(ours, theirs, rtol=1e-10, atol=1e-11)

    layer = network.layer("attn")
    arrays = {key.split(".", 1)[1]: value for key, value in weights.items()}
    batched = x.reshape(1, tokens, d)

    def torch_forward() -> None:
        with torch.no_grad():
            mha(*(torch.from_numpy(batched),) * 3, need_weights=False)

    torch_seconds = best_of(torch_forward, repeat=7)
    kernel = best_of(lambda: layer.forward([batched], arrays, (tokens, d)), repeat=7)
    executor = best_of(lambda: run(network, x, weights), repeat=7)
    return [
        (f"torch MultiheadAttention [{tokens}, {d}], {heads} heads", torch_seconds, None),
        ("attention kernel (NumPy)", kernel, 1.5 * torch_seconds),
        ("attention through the executor (run)", executor, 1.5 * torch_seconds),
    ]


def main() -> None:
    rows = summary_rows() + attention_rows()
    print(f"{'measurement':55} {'seconds':>9} {'target':>8} {'ratio':>7}")
    for name, seconds, target in rows:
        if target is None:
            print(f"{name:55} {seconds:9.4f} {'-':>8} {'-':>7}")
        else:
            print(f"{name:55} {seconds:9.4f} {target:8.4f} {seconds / target:7.2f}")
    print("(attention targets are 1.5 × torch's time: a ratio ≤ 1 meets the target; summary targets are 20 ms)")


if __name__ == "__main__":
    main()
