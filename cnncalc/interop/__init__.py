"""Bringing models in and taking specs out: ONNX import and export (``onnx`` extra), Keras import, PyTorch
and Keras code export. Each module is imported lazily by the CLI; none is needed for the rest of cnncalc."""

from __future__ import annotations
