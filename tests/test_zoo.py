"""Published architectures, exact to the parameter; blocks and repeat; --depth and --batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnncalc import CnnCalcError, analyse, load_spec, loads_spec
from cnncalc.calc.analysis import block_records
from cnncalc.spec.network import ZOO_DIR

# (zoo name, total, trainable, non-trainable, MACs or None) — sources in each spec's comments
PUBLISHED = [
    ("alexnet", 61_100_840, 61_100_840, 0, None),                    # torchvision alexnet
    ("vgg16", 138_357_544, 138_357_544, 0, None),                    # torchvision vgg16 / Keras VGG16
    ("resnet18", 11_689_512, 11_689_512, 0, None),                   # torchvision resnet18
    ("resnet50", 25_557_032, 25_557_032, 0, 4_089_184_256),          # torchvision resnet50 (v1.5), 4.09 GMACs
    ("resnet50-keras", 25_636_712, 25_583_592, 53_120, 3_857_973_248),  # Keras ResNet50 (v1), paper's 3.8e9
    ("mobilenetv2", 3_504_872, 3_504_872, 0, None),                  # torchvision mobilenet_v2
    ("mobilenetv2-keras", 3_538_984, 3_504_872, 34_112, None),       # Keras MobileNetV2
    ("densenet121", 7_978_856, 7_978_856, 0, None),                  # torchvision densenet121
    ("densenet121-keras", 8_062_504, 7_978_856, 83_648, None),       # Keras DenseNet121
]


@pytest.mark.parametrize("name, total, trainable, non_trainable, macs", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_counts_api(name, total, trainable, non_trainable, macs):
    summary = analyse(load_spec(name))
    assert (summary.params, summary.trainable, summary.non_trainable) == (total, trainable, non_trainable)
    if macs is not None:
        assert summary.macs == macs
    assert list(summary.records[-1].output_shape) == [1000]


@pytest.mark.parametrize("name, total, trainable, non_trainable, macs", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_counts_cli_json(cli_json, name, total, trainable, non_trainable, macs):
    totals = cli_json("summary", name)["totals"]
    assert (totals["params"], totals["trainable_params"], totals["non_trainable_params"]) == (
        total, trainable, non_trainable)
    if macs is not None:
        assert totals["macs"] == macs


def test_other_published_macs():
    # torchvision's documented GFLOPS (which count MACs): resnet18 1.81, mobilenet_v2 0.30, densenet121 2.83
    assert round(analyse(load_spec("resnet18")).macs / 1e9, 2) == 1.81
    assert round(analyse(load_spec("mobilenetv2")).macs / 1e9, 2) == 0.30
    assert round(analyse(load_spec("densenet121")).macs / 1e9, 2) == 2.83


def test_vgg16_receptive_field_at_pool5():
    # Araujo et al., Distill 2019: VGG16 pool5 has receptive field 212 and effective stride 32
    record = analyse(load_spec("vgg16")).record("block5.pool")
    assert [axis[0] for axis in record.receptive_field] == [212, 212]
    assert [axis[1] for axis in record.receptive_field] == [32, 32]
    assert list(record.output_shape) == [7, 7, 512]


def test_resnet_receptive_fields():
    # ResNet-18 before the pooling head: 435 (Araujo et al.'s table); ResNet-50 v1.5: 427
    assert analyse(load_spec("resnet18")).record("layer4.1.relu2").receptive_field[0][0] == 435
    assert analyse(load_spec("resnet50")).record("layer4.2.relu3").receptive_field[0][0] == 427


def test_resnet50_fits_well_under_100_lines():
    for name in ("resnet50", "resnet50-keras"):
        lines = (ZOO_DIR / f"{name}.yaml").read_text().splitlines()
        assert len(lines) < 50


def test_scoped_names_and_block_structure():
    summary = analyse(load_spec("resnet50"))
    names = [r.name for r in summary.records]
    assert "layer3.5.conv2" in names and "layer1.0.downsample" in names
    assert "layer1.1.downsample" not in names  # when: false skipped it; its add takes the block input
    assert summary.record("layer1.1.add").inputs == ["layer1.1.bn3", "layer1.0.relu3"]
    blocks = {b.name: b for b in block_records(summary)}
    assert blocks["layer2"].depth == 1 and blocks["layer2.0"].depth == 2
    assert list(blocks["layer2"].input_shape) == [56, 56, 256] and list(blocks["layer2"].output_shape) == [28, 28, 512]
    assert blocks["layer4"].params == 14_964_736


BLOCK_SPEC = """
input: [8, 8, 4]
blocks:
  pair:
    params: {filters: null, scale: 2}
    layers:
      - {type: conv, name: a, filters: "${filters * scale}", kernel: 3, padding: same}
      - {type: conv, name: b, filters: $filters, kernel: 1}
      - {type: concat, name: cat, inputs: [input, b]}
layers:
  - {block: pair, name: p, filters: 2}
  - {block: pair, repeat: 3, name: q, filters: 1, first: {scale: 5}}
  - {type: conv, name: c, repeat: 2, filters: 3, kernel: 1}
  - {type: add, inputs: [c, c.0]}
"""


def test_blocks_repeat_first_and_scoping():
    summary = analyse(loads_spec(BLOCK_SPEC))
    names = [r.name for r in summary.records]
    assert names[:3] == ["p.a", "p.b", "p.cat"]
    assert "q.0.a" in names and "q.2.cat" in names and names[-3:] == ["c.0", "c.1", "add1"]
    assert summary.record("p.a").output_shape[-1] == 4      # 2 · 2
    assert summary.record("q.0.a").output_shape[-1] == 5    # first: scale 5
    assert summary.record("q.1.a").output_shape[-1] == 2    # default scale 2
    assert summary.record("q.0.a").inputs == ["p.cat"]      # the instance name p means its output
    assert summary.record("p.cat").output_shape[-1] == 6    # 4 + 2
    assert summary.record("q.2.cat").output_shape[-1] == 9  # 6 + 1 + 1 + 1
    assert summary.record("add1").inputs == ["c.1", "c.0"]


@pytest.mark.parametrize("change, phrases", [
    ("{block: pair, name: p, filters: 2}|{block: pairs, name: p, filters: 2}", ["unknown block", "did you mean 'pair'"]),
    ("{block: pair, name: p, filters: 2}|{block: pair, name: p}", ["missing argument for block 'pair'", "'filters'"]),
    ("{block: pair, name: p, filters: 2}|{block: pair, name: p, filter: 2}", ["unknown argument", "did you mean 'filters'"]),
    ("{block: pair, name: p, filters: 2}|{block: pair, name: q.0, filters: 2}", ["duplicate layer name", "q.0.a"]),
    ('"${filters * scale}"|"${filters * scael}"', ["unknown name 'scael'"]),
    ('"${filters * scale}"|"${__import__(\'os\')}"', ["unexpected character"]),
    ("filters: $filters, kernel: 1|filters: $filtres, kernel: 1", ["unknown parameter '$filtres'", "did you mean"]),
    ("inputs: [input, b]|inputs: [input, bb]", ["unknown layer in 'inputs' inside block 'pair'", "did you mean 'b'"]),
    ("repeat: 3|repeat: 0", ["'repeat' must be a positive integer"]),
    ("params: {filters: null, scale: 2}|params: [filters]", ["'params' of block 'pair'"]),
])
def test_bad_block_use(change, phrases, tmp_path, cli):
    old, new = change.split("|")
    assert old in BLOCK_SPEC
    text = BLOCK_SPEC.replace(old, new, 1)
    with pytest.raises(CnnCalcError) as info:
        analyse(loads_spec(text, "net.yaml"))
    for phrase in phrases:
        assert phrase in str(info.value)
    path = tmp_path / "net.yaml"
    path.write_text(text)
    code, _, err = cli("summary", str(path))
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_self_recursive_block_is_refused():
    text = "input: [4, 4, 1]\nblocks:\n  loop:\n    layers:\n      - {block: loop}\nlayers:\n  - {block: loop}\n"
    with pytest.raises(CnnCalcError, match="nested deeper"):
        loads_spec(text)


def test_flat_spec_is_unchanged_by_block_support():
    a = analyse(load_spec("lenet5"))
    assert [r.name for r in a.records][4] == "flatten1"


def test_depth_and_batch_cli(cli, cli_json):
    code, out, _ = cli("summary", "resnet50", "--depth", "1")
    assert code == 0
    assert "layer1 (block)" in out and "(56, 56, 64) → (56, 56, 256)" in out and "layer1.0" not in out
    assert len(out.splitlines()) < 30
    code, out, _ = cli("summary", "resnet50", "--depth", "2")
    assert "layer3.5 (block)" in out
    data = cli_json("summary", "resnet50", "--batch", "8")
    assert data["batch"] == 8 and data["totals"]["macs"] == 8 * 4_089_184_256
    assert data["layers"][0]["size"] == 8 * 112 * 112 * 64
    memory = data["totals"]["memory_mb"]
    assert memory["params"] == round(25_557_032 * 4 / 1e6, 4)
    assert memory["input"] == round(8 * 224 * 224 * 3 * 4 / 1e6, 4)
    blocks = {b["name"]: b for b in data["blocks"]}
    assert blocks["layer4"]["params"] == 14_964_736 and blocks["layer4"]["output_shape"] == [7, 7, 2048]


def test_every_zoo_spec_summarises(cli):
    for path in Path(ZOO_DIR).glob("*.yaml"):
        code, _, err = cli("validate", path.stem)
        assert code == 0, err
        json.dumps(analyse(load_spec(path.stem)).params)
