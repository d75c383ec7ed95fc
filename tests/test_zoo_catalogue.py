"""The tables made in advance for a fast start: the parsed and expanded zoo (cnncalc/spec/zoo_made/, one
module per spec) and the module of each layer type (cnncalc.layers.MODULES). Each is checked against what it
stands for."""

from __future__ import annotations

import importlib
import subprocess
import sys

from cnncalc.layers import FAMILIES, LAYER_TYPES, MODULES, Layer
from cnncalc.layers import base as layer_base
from cnncalc.spec import safeload, zoo
from cnncalc.spec.blocks import expand_layers
from cnncalc.spec.network import load_spec, zoo_names


def lines_of(value):
    """The value with every line number the loader recorded, for comparison."""
    if isinstance(value, dict):
        return (type(value).__name__, getattr(value, "line", None), dict(getattr(value, "key_lines", {})),
                {k: lines_of(v) for k, v in value.items()})
    if isinstance(value, list):
        return (type(value).__name__, getattr(value, "line", None), [lines_of(v) for v in value])
    return (type(value).__name__, value)


def test_the_made_zoo_modules_are_made_from_the_zoo_as_it_is():
    folder = zoo.ZOO_DIR.parent / "spec" / "zoo_made"
    made = {path.name: path.read_text(encoding="utf-8") for path in folder.glob("*.py") if path.name != "__init__.py"}
    expected = zoo.made_sources()
    assert sorted(made) == sorted(expected) == sorted(f"{zoo.module_name(name)}.py" for name in zoo_names())
    for name, text in expected.items():
        assert made[name] == text, \
            "the zoo changed: run `python -m cnncalc.spec.zoo` to make cnncalc/spec/zoo_made/ again"


def test_each_built_in_spec_decodes_as_the_yaml_loader_reads_it():
    names = zoo_names()
    assert len(names) >= 20
    for name in names:
        from_yaml = safeload.load_file(zoo.ZOO_DIR / f"{name}.yaml")
        from_catalogue = zoo.parsed(name)
        assert type(from_catalogue) is safeload.LineDict
        assert lines_of(from_catalogue) == lines_of(from_yaml), name


def flat_of(items):
    return [(lines_of(item.raw), item.default_name, item.group, lines_of(item.template)) for item in items]


def test_each_built_in_spec_comes_expanded_as_its_blocks_expand():
    expanded = 0
    for name in zoo_names():
        from_yaml = safeload.load_file(zoo.ZOO_DIR / f"{name}.yaml")
        skipped = []
        flat = expand_layers(from_yaml["layers"], from_yaml.get("blocks"), from_yaml.key_lines.get("blocks"), skipped)
        data, made = zoo.built_in(name)
        assert lines_of(data) == lines_of(from_yaml), name
        if made is None:  # nothing to expand: every layer is written out
            assert all(item.raw is raw for item, raw in zip(flat, from_yaml["layers"], strict=True)), name
            assert skipped == []
            continue
        expanded += 1
        assert flat_of(made[0]) == flat_of(flat), name
        assert flat_of(made[1]) == flat_of(skipped), name
    assert expanded >= 14
    data, (flat, skipped) = zoo.built_in("resnet50")
    assert len(flat) == 174 and flat[4].default_name == "layer1.0.conv1" and flat[4].group == ("layer1", "layer1.0")
    assert flat[4].raw == {"type": "conv", "name": "layer1.0.conv1", "filters": 64, "kernel": 1, "bias": False,
                           "inputs": ["maxpool"]}


def test_a_built_in_spec_edited_after_its_module_was_made_is_read_from_its_yaml(tmp_path, monkeypatch):
    (tmp_path / "lenet5.yaml").write_text((zoo.ZOO_DIR / "lenet5.yaml").read_text().replace("units: 10", "units: 7"))
    monkeypatch.setattr(zoo, "ZOO_FOLDER", str(tmp_path))
    assert zoo.parsed("lenet5") is None and zoo.built_in("lenet5") is None
    assert zoo.parsed("no-such-spec") is None and zoo.built_in("no.such") is None
    network = load_spec(tmp_path / "lenet5.yaml")
    assert network.layers[-1].options["units"] == 7


def test_a_built_in_spec_loads_without_pyyaml():
    code = ("import sys; from cnncalc import load_spec; net = load_spec('resnet50'); "
            "print(len(net.layers), net.source, 'yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["174", "resnet50", "(built-in)", "False"]
    assert len(load_spec("resnet50").layers) == 174


def test_the_layer_catalogue_names_the_module_that_registers_each_type():
    for family in FAMILIES:
        importlib.import_module(f"cnncalc.layers.{family}")
    registered = {name: cls.__module__.rsplit(".", 1)[1] for name, cls in layer_base.LAYER_TYPES.items()
                  if cls.__module__.startswith("cnncalc.layers.")}
    assert registered == MODULES
    assert set(MODULES.values()) == set(FAMILIES)
    assert list(LAYER_TYPES) == list(MODULES)  # every family's types, in the order they register
    assert len(LAYER_TYPES) == len(MODULES) == 69
    assert all(issubclass(LAYER_TYPES[name], Layer) for name in MODULES)


def test_a_lookup_imports_only_the_module_of_the_type():
    code = ("import sys; from cnncalc.layers import LAYER_TYPES; cls = LAYER_TYPES['batchnorm']; "
            "print(cls.__name__, 'nonesuch' in LAYER_TYPES, LAYER_TYPES.get('x'), "
            "sorted(m for m in sys.modules if m.startswith('cnncalc.layers.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "BatchNorm False None ['cnncalc.layers.base', 'cnncalc.layers.dense']"
