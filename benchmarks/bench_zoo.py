"""Real architectures: in-process summary of ResNet-50, linear growth to 10,000 layers, cold CLI time,
and (where installed) torchinfo / Keras summaries of the same network in the same run.

Run: python benchmarks/bench_zoo.py   (prints measured, target, ratio = measured/target)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_summary import generated_spec
from timing import best_of, wall

from cnncalc import analyse, load_spec, loads_spec
from cnncalc.render import render
from cnncalc.spec.network import ZOO_DIR, build_network
from cnncalc.spec.safeload import load_file


def main() -> None:
    resnet_data = load_file(ZOO_DIR / "resnet50.yaml")
    rows = [
        ("ResNet-50: validate + expand + analyse (parsed YAML)",
         best_of(lambda: analyse(build_network(resnet_data))), 0.020),
        ("ResNet-50: read file + all of the above", best_of(lambda: analyse(load_spec("resnet50"))), 0.020),
        ("ResNet-50: summary rendered as JSON", best_of(lambda: render(analyse(load_spec("resnet50")), "json")), 0.020),
    ]
    per_layer = {}
    for layers in (1_000, 10_000):
        text = generated_spec(layers // 5)
        seconds = best_of(lambda text=text: analyse(loads_spec(text)), 3)
        per_layer[layers] = seconds / layers
        rows.append((f"generated {layers:,} layers: parse + analyse", seconds, 1.0 * layers / 10_000))
    cold = wall([sys.executable, "-m", "cnncalc", "summary", "resnet50"])
    rows.append(("cnncalc summary resnet50 (CLI, wall, median of 5)", cold, 0.4))

    print(f"{'measurement':55} {'seconds':>9} {'target':>8} {'ratio':>7}")
    for name, seconds, target in rows:
        print(f"{name:55} {seconds:9.4f} {target:8.3f} {seconds / target:7.2f}")
    print(f"per layer: {per_layer[1_000] * 1e6:.1f} µs at 1k, {per_layer[10_000] * 1e6:.1f} µs at 10k "
          f"(ratio 10k/1k per layer: {per_layer[10_000] / per_layer[1_000]:.2f}; 1.00 = linear)")

    ours = best_of(lambda: analyse(load_spec("resnet50")))
    try:
        import torch
        import torchinfo
    except ImportError:
        print("torchinfo/torch not installed: the torchinfo comparison is skipped")
    else:
        model = torch_resnet50(torch)
        theirs = best_of(lambda: torchinfo.summary(model, (1, 3, 224, 224), verbose=0), 3)
        stats = torchinfo.summary(model, (1, 3, 224, 224), verbose=0)
        print(f"torchinfo.summary(resnet50): {theirs:.4f} s; cnncalc is {theirs / ours:.0f}× faster "
              f"(torchinfo counts {stats.total_params:,} params, {stats.total_mult_adds:,} mult-adds; "
              f"cnncalc {analyse(load_spec('resnet50')).params:,} and {analyse(load_spec('resnet50')).macs:,})")
    try:
        import keras
    except ImportError:
        print("Keras not installed: the Keras comparison is skipped")
    else:
        model = keras.applications.ResNet50(weights=None)
        theirs = best_of(lambda: model.summary(print_fn=lambda *a, **k: None), 3)
        print(f"Keras ResNet50.summary(): {theirs:.4f} s; cnncalc is {theirs / ours:.1f}× faster")


def torch_resnet50(torch):
    """torchvision's resnet50 (v1.5), rebuilt here so the comparison needs only torch and torchinfo."""
    nn = torch.nn

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                nn.Conv2d(width, 4 * width, 1, bias=False), nn.BatchNorm2d(4 * width))
            self.down = (nn.Sequential(nn.Conv2d(cin, 4 * width, 1, stride, bias=False), nn.BatchNorm2d(4 * width))
                         if stride != 1 or cin != 4 * width else nn.Identity())

        def forward(self, x):
            return torch.relu(self.body(x) + self.down(x))

    layers, cin = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)], 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
            cin = 4 * width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers).eval()


if __name__ == "__main__":
    main()
