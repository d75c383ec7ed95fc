"""Spec v2, the non-spatial families: trainable, broadcasting merges, shape ops, norms, activations,
attention and tokens. Shapes and parameters are checked against literal rules written here, kernels
against naive loops."""

from __future__ import annotations

import pytest

from cnncalc import analyse, load_spec, loads_spec
from cnncalc.spec.network import ZOO_DIR


def _summary(text: str):
    return analyse(loads_spec(text))


# ---------------------------------------------------------------- trainable

FROZEN_SPEC = """
input: [8, 8, 3]
blocks:
  b:
    params: {f: 4}
    layers:
      - {type: conv, name: c, filters: $f, kernel: 3, padding: 1}
      - {type: batchnorm, name: bn}
layers:
  - {block: b, name: s1, repeat: 2, trainable: false, first: {f: 3}}
  - {block: b, name: s2}
  - {type: dense, name: fc, units: 2, trainable: false}
  - {type: dense, name: fc2, units: 2, repeat: 2, trainable: false}
"""


def test_trainable_false_moves_params_to_non_trainable():
    summary = _summary(FROZEN_SPEC)
    by_name = {r.name: r for r in summary.records}
    # conv 3→3: 3·3·3·3 + 3 = 84; bn 3: 6 + 6 stats; conv 3→4: 3·3·3·4 + 4 = 112; bn 4: 8 + 8
    assert (by_name["s1.0.c"].trainable, by_name["s1.0.c"].non_trainable) == (0, 84)
    assert (by_name["s1.0.bn"].trainable, by_name["s1.0.bn"].non_trainable) == (0, 12)
    assert (by_name["s1.1.c"].trainable, by_name["s1.1.c"].non_trainable) == (0, 112)
    assert (by_name["s2.c"].trainable, by_name["s2.c"].non_trainable) == (148, 0)
    assert (by_name["s2.bn"].trainable, by_name["s2.bn"].non_trainable) == (8, 8)
    assert (by_name["fc"].trainable, by_name["fc"].non_trainable) == (0, 10)
    assert all((by_name[f"fc2.{i}"].trainable, by_name[f"fc2.{i}"].non_trainable) == (0, 6) for i in (0, 1))
    assert summary.params == 84 + 12 + 112 + 16 + 148 + 16 + 10 + 12
    assert summary.trainable == 148 + 8


def test_trainable_on_block_overrides_and_first_can_freeze_copy_zero():
    text = FROZEN_SPEC.replace("repeat: 2, trainable: false, first: {f: 3}", "repeat: 2, first: {f: 3, trainable: false}")
    by_name = {r.name: r for r in _summary(text).records}
    assert by_name["s1.0.c"].trainable == 0 and by_name["s1.1.c"].trainable == 112


@pytest.mark.parametrize("text, fragment", [
    ("input: [4]\nlayers:\n  - {type: dense, units: 2, trainable: 0}\n", "field 'trainable'"),
    (("input: [4]\nblocks:\n  b:\n    params: {trainable: true}\n    layers: [{type: dense, units: 2}]\n"
      "layers:\n  - {block: b}\n"), "reserved parameter"),
    ("input: [4]\nblocks:\n  b:\n    layers: [{type: dense, units: 2}]\nlayers:\n  - {block: b, trainable: 3}\n",
     "field 'trainable'"),
])
def test_trainable_errors(cli, tmp_path, text, fragment):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    code, _out, err = cli("summary", str(path))
    assert code == 2 and fragment in err, err
    assert "spec.yaml:" in err


# ---------------------------------------------------------------- zoo: published parameter counts

# (zoo name, torchvision's parameter count, torchvision's documented GFLOPS, which count MACs)
V2_ZOO = [
    ("vit_b_16", 86_567_656, 17.56),
    ("convnext_tiny", 28_589_128, 4.46),
    ("efficientnet_b0", 5_288_548, 0.39),
    ("mobilenet_v3_large", 5_483_032, 0.22),
    ("shufflenet_v2_x1_0", 2_278_604, 0.14),
]


@pytest.mark.parametrize("name, params, gmacs", V2_ZOO, ids=[z[0] for z in V2_ZOO])
def test_v2_zoo_published_counts(name, params, gmacs):
    summary = analyse(load_spec(name))
    assert (summary.params, summary.trainable, summary.non_trainable) == (params, params, 0)
    assert round(summary.macs / 1e9, 2) == gmacs
    assert list(summary.records[-1].output_shape) == [1000]


def test_frozen_backbone_counts_as_non_trainable(tmp_path):
    # fine-tuning the head only: every encoder block frozen, the count moves, the total stays
    text = (ZOO_DIR / "vit_b_16.yaml").read_text().replace(
        "{block: encoder, name: encoder, repeat: 12}", "{block: encoder, name: encoder, repeat: 12, trainable: false}")
    summary = analyse(loads_spec(text))
    per_block = 2 * 768 + (4 * 768 * 768 + 4 * 768) + 2 * 768 + (768 * 3072 + 3072) + (3072 * 768 + 768)
    assert summary.non_trainable == 12 * per_block
    assert summary.params == 86_567_656
