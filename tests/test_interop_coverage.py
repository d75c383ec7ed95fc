"""Every layer type of cnncalc.layers is covered by every interop target: the ONNX, PyTorch and Keras exports
each have a rule for it or say in their ``UNSUPPORTED`` why not, and the Keras import either makes it from
some Keras class it reads or says in its ``UNSUPPORTED`` why no Keras class becomes it.

A new layer type therefore fails here, once per target, with the module to add the rule or the reason to.
The tables are checked against what the code does: export rules are registered under real layer types with
the right kind (a merge rule for a type taking several inputs), and the Keras import's claims come from
importing one small model per Keras class it reads.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from cnncalc.errors import CnnCalcError
from cnncalc.interop import keras_export, keras_import, onnx_export, pytorch_export
from cnncalc.interop.export_rules import Rules
from cnncalc.interop.identifiers import base_type
from cnncalc.layers import LAYER_TYPES

BASE_TYPES = sorted({base_type(name) for name in LAYER_TYPES})
EXPORTS = {"ONNX": onnx_export, "PyTorch": pytorch_export, "Keras": keras_export}


def export_gaps(rules: Rules[Any, Any], module: str) -> list[str]:
    """One line per layer type with neither a rule nor a reason, naming where to add either."""
    return [f"{gap} (add @rules.layer/@rules.merge or UNSUPPORTED[{name!r}] = 'because …' in {module})"
            for name in BASE_TYPES if (gap := rules.gap(name)) is not None]


@pytest.mark.parametrize("target", EXPORTS)
def test_every_layer_type_has_an_export_rule_or_a_reason(target: str) -> None:
    module = EXPORTS[target]
    rules = module.rules
    assert rules.target == target and rules.unsupported is module.UNSUPPORTED
    gaps = export_gaps(rules, module.__name__)
    assert not gaps, "\n".join(gaps)


@pytest.mark.parametrize("target", EXPORTS)
def test_export_tables_name_real_types_with_the_right_kind_of_rule(target: str) -> None:
    rules = EXPORTS[target].rules
    # a rule under a name no layer has (a typo) would never be called
    unknown = (set(rules.layers) | set(rules.merges) | set(rules.unsupported)) - set(BASE_TYPES)
    assert not unknown, f"{target} export names types no layer has: {sorted(unknown)}"
    # a layer rule sees only the first input: every type taking more has a merge rule, and only those
    several = {base_type(name) for name, cls in LAYER_TYPES.items() if cls.arity != 1}
    wrong = set(rules.merges) ^ (several - set(rules.unsupported))
    assert not wrong, (f"{target} export: @rules.merge is for the types taking several inputs, "
                       f"{sorted(several)}: {sorted(wrong)}")
    assert all(isinstance(why, str) and why.strip() for why in rules.unsupported.values())


def test_a_missing_rule_is_named_with_its_target_and_where_to_add_it() -> None:
    # the check above, on a table that lacks one type and gives the reason for another
    rules: Rules[Any, Any] = Rules("ONNX", {"lrn": "no such operator"})
    rules.layer(*(name for name in BASE_TYPES if name not in ("lrn", "crop", "add")))(print)
    rules.merge("add")(print)
    assert export_gaps(rules, "cnncalc.interop.onnx_export") == [
        ("ONNX export has no rule for crop and no 'not supported because …' entry (add @rules.layer/@rules.merge "
         "or UNSUPPORTED['crop'] = 'because …' in cnncalc.interop.onnx_export)")]
    assert rules.why_not("lrn") == "no such operator" and rules.why_not("crop") == "no ONNX rule for crop"
    assert "conv2d" in rules and "crop" not in rules and rules.layer_rule("conv3d") is print
    with pytest.raises(ValueError, match="a second rule for conv"):
        rules.layer("conv")(print)
    with pytest.raises(ValueError, match="UNSUPPORTED says has none"):
        rules.merge("lrn")(print)


# ---------------------------------------------------------------- the Keras import

# One value for every config key the import's rules read, each of a kind the rule takes; the classes that
# read a key another way get their own value below. A new Keras class whose sample fails is named.
SAMPLE = {"filters": 2, "kernel_size": [1, 1], "strides": [1, 1], "padding": "valid", "dilation_rate": [1, 1],
          "units": 2, "pool_size": [1, 1], "size": [2, 2], "cropping": 0, "target_shape": [4], "dims": [1],
          "rate": 0.5, "input_dim": 5, "output_dim": 2, "num_heads": 1, "key_dim": 2, "shared_axes": [1],
          "activation": "linear"}
SAMPLE_FOR = {"ZeroPadding1D": {"padding": 1}, "ZeroPadding2D": {"padding": 1}, "ZeroPadding3D": {"padding": 1},
              "Rescaling": {"scale": 0.5}, "CustomScaleLayer": {"scale": 0.5}}
TWO_INPUTS = {"Add", "Multiply", "Subtract", "Maximum", "Minimum", "Average", "Concatenate", "MultiHeadAttention",
              "CustomScaleLayer"}
# Keras 3's names for the activations of keras.activations (Activation("gelu"), Dense(activation="gelu"))
KERAS_ACTIVATIONS = ["linear", "relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "swish", "sigmoid", "tanh",
                     "softmax", "hard_silu", "hard_swish", "hard_sigmoid", "mish", "softplus"]


def _made_by(class_name: str, config: dict[str, Any]) -> set[str]:
    """The spec types the import makes of a layer ``k`` of ``class_name`` in a small Keras 3 functional model
    (Keras 3's hard_sigmoid is the spec's), its input the model's, or the model's and a ReLU of it."""
    def layer(class_name: str, name: str, config: dict[str, Any], *sources: str) -> dict[str, Any]:
        return {"class_name": class_name, "name": name, "config": {"name": name, **config},
                "inbound_nodes": [[[source, 0, 0, {}] for source in sources]] if sources else []}

    layers = [layer("InputLayer", "a", {"batch_input_shape": [None, 4, 4, 2]}), layer("ReLU", "b", {}, "a")]
    layers.append(layer(class_name, "k", config, *(["a", "b"] if class_name in TWO_INPUTS else ["a"])))
    model = {"class_name": "Functional", "keras_version": "3.3.3", "config": {
        "name": "sample", "layers": layers, "input_layers": [["a", 0, 0]], "output_layers": [["k", 0, 0]]}}
    spec, _ = keras_import.import_keras_text(json.dumps(model))
    return {made["type"] for made in spec["layers"] if made["name"].startswith("k")}


@functools.cache
def _keras_import_makes() -> dict[str, set[str]]:
    """Spec type → the Keras classes the import makes it of, one sample model per class it reads."""
    made: dict[str, set[str]] = {}
    failed = []
    for class_name in keras_import.KERAS_CLASSES:
        configs = [{**SAMPLE, **SAMPLE_FOR.get(class_name, {})}]
        if class_name == "Activation":
            configs = [{"activation": name} for name in KERAS_ACTIVATIONS]
        for config in configs:
            try:
                types = _made_by(class_name, config)
            except CnnCalcError as error:
                failed.append(f"{class_name} {config.get('activation', '')}: {error}")
                continue
            for type_name in types:
                made.setdefault(type_name, set()).add(class_name)
    assert not failed, "give these Keras classes a sample config they read (SAMPLE_FOR):\n" + "\n".join(failed)
    return made


def test_every_layer_type_is_made_by_the_keras_import_or_has_a_reason() -> None:
    made = _keras_import_makes()
    unsupported = keras_import.UNSUPPORTED
    gaps = [f"Keras import makes no {name} of any Keras class it reads and has no 'not supported because …' entry "
            f"(add a rule to KERAS_CLASSES or UNSUPPORTED[{name!r}] = 'because …' in cnncalc.interop.keras_import)"
            for name in BASE_TYPES if name not in made and name not in unsupported]
    assert not gaps, "\n".join(gaps)
    stale = [f"keras_import.UNSUPPORTED says no Keras class becomes {name}, but {sorted(made[name])} do"
             for name in unsupported if name in made]
    assert not stale, "\n".join(stale)
    assert set(unsupported) <= set(BASE_TYPES)
    assert all(isinstance(why, str) and why.strip() for why in unsupported.values())


def test_the_keras_import_samples_make_what_the_class_names_say() -> None:
    # (so that the coverage above rests on the rules, not on samples that happen to parse)
    made = _keras_import_makes()
    assert made["conv"] >= {"Conv1D", "Conv2D", "Conv3D"} and made["conv_transpose"] >= {"Conv2DTranspose"}
    assert made["maxpool"] >= {"MaxPooling2D", "MaxPool1D"} and made["concat"] == {"Concatenate"}
    assert made["batchnorm"] == {"BatchNormalization", "Rescaling", "Normalization", "CustomScaleLayer"}
    assert made["layer_scale"] == {"LayerScale"}
    assert made["attention"] == {"MultiHeadAttention"} and made["embedding"] == {"Embedding"}
    assert made["hardswish"] == {"Activation"} and "leaky_relu" in made and "relu6" in made
