"""The layer catalogue: every type name and the module whose class owns it.

A type's module is imported the first time the type is looked up (``LAYER_TYPES["conv"]``), so a summary
builds only the classes its spec uses; going through the whole catalogue (``sorted(LAYER_TYPES)``, "did you
mean") imports every module. Each class registers itself when its module runs (``Layer.__init_subclass__``);
``MODULES`` says where each type lives, and tests/test_layer_catalogue.py fails when it drifts from what the
modules register.

>>> LAYER_TYPES["conv"].__name__, "conv" in LAYER_TYPES, "convolution" in LAYER_TYPES
('Conv', True, False)
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from .base import LAYER_TYPES as REGISTERED
from .base import Inference, Layer

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any

#: the module of each type, in the order the modules register them (importing every module in
#: ``FAMILIES`` order, as this package once did, gives the registry this order)
MODULES = {
    "relu": "activation", "relu6": "activation", "elu": "activation", "gelu": "activation", "silu": "activation",
    "sigmoid": "activation", "tanh": "activation", "normalize": "activation", "hardswish": "activation",
    "hardsigmoid": "activation", "mish": "activation", "softplus": "activation", "selu": "activation",
    "clip": "activation", "leaky_relu": "activation",
    "softmax": "activation", "dropout": "activation", "prelu": "activation", "layer_scale": "activation",
    "add": "merge", "multiply": "merge", "subtract": "merge", "maximum": "merge", "minimum": "merge",
    "average": "merge", "concat": "merge", "attention": "attention", "window_attention": "attention",
    "window_attention_v2": "attention",
    "conv": "conv", "conv1d": "conv",
    "conv2d": "conv", "conv3d": "conv", "depthwise_conv": "conv", "separable_conv": "conv", "conv_transpose": "conv",
    "conv_transpose1d": "conv", "conv_transpose2d": "conv", "conv_transpose3d": "conv", "dense": "dense",
    "batchnorm": "dense", "layernorm": "norm", "groupnorm": "norm", "maxpool": "pool", "maxpool1d": "pool",
    "maxpool2d": "pool", "maxpool3d": "pool", "avgpool": "pool", "avgpool1d": "pool", "avgpool2d": "pool",
    "avgpool3d": "pool", "global_maxpool": "pool", "global_avgpool": "pool", "adaptive_avgpool": "pool",
    "adaptive_maxpool": "pool", "flatten": "reshape", "reshape": "reshape", "zero_pad": "reshape",
    "slice": "shape_ops", "channel_shuffle": "shape_ops", "permute": "shape_ops",
    "pixel_shuffle": "shape_ops", "pixel_unshuffle": "shape_ops", "upsample": "spatial",
    "crop": "spatial", "lrn": "spatial", "class_token": "tokens", "position_embedding": "tokens",
    "embedding": "tokens",
}
#: the family modules, in import order
FAMILIES = ("activation", "attention", "conv", "dense", "merge", "norm", "pool", "reshape", "shape_ops", "spatial",
            "tokens")


class Catalogue(Mapping[str, type[Layer]]):
    """The registry seen through the table: a lookup imports the one module that defines the type."""

    def __getitem__(self, name: str) -> type[Layer]:
        found = REGISTERED.get(name)
        if found is None:
            module = MODULES.get(name)
            if module is None:
                raise KeyError(name)
            importlib.import_module(f"{__name__}.{module}")
            found = REGISTERED[name]
        return found

    def __iter__(self) -> Iterator[str]:
        load_all()
        yield from MODULES
        yield from (name for name in REGISTERED if name not in MODULES)  # a class made outside the families

    def __len__(self) -> int:
        load_all()
        return len(MODULES.keys() | REGISTERED.keys())

    def __repr__(self) -> str:
        return f"Catalogue({dict(self)!r})"


def load_all() -> None:
    """Import every family module (registering every layer type)."""
    for module in FAMILIES:
        importlib.import_module(f"{__name__}.{module}")


LAYER_TYPES = Catalogue()


def __getattr__(name: str) -> Any:  # `cnncalc.layers.conv` as before, when the module was imported eagerly
    if name in FAMILIES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LAYER_TYPES", "MODULES", "Catalogue", "Inference", "Layer", "load_all"]
