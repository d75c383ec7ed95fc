"""Dense layers: Gemm, and MatMul by a constant (its bias, an Add that follows, is joined to it by
:mod:`.elementwise`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..graph import _identity
from ..registry import handles
from ..values import _is_const, np

if TYPE_CHECKING:
    from ..importer import _Importer


def _dense_weight(im: _Importer, node: Any, x: str, shape: tuple[int, ...], weight: Any, bias: Any) -> None:
    """A dense layer of weight ``shape`` ([inputs, units]); ``weight()`` and ``bias()`` make the arrays."""
    if len(shape) != 2 or shape[0] != im.shapes[x][-1]:
        raise im.fail("dense weight does not fit the input", got=list(shape), expected=f"[{im.shapes[x][-1]}, units]")
    layer = im.emit("dense", im.node_name(node), [x], units=int(shape[1]), bias=bias is not None)
    im.keep(f"{layer}.weight", weight)
    if bias is not None:
        im.keep(f"{layer}.bias", lambda: np.broadcast_to(bias(), (shape[1],)).copy())
    else:
        im.pending_bias[layer] = node.output[0]
    im.finish(node, layer, _identity(len(im.shapes[layer])), fusable=True)


@handles("Gemm", makes=("dense",))
def _gemm(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if attrs.get("transA", 0):
        raise im.fail("Gemm with transA is not supported")
    x = im.same_input(node.input[0])
    stored = im.const(node.input[1], "weight")
    alpha, beta, flip = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0)), bool(attrs.get("transB", 0))
    shape = tuple(reversed(stored.shape)) if flip else tuple(stored.shape)
    bias = None
    if len(node.input) > 2 and node.input[2]:
        stored_bias = im.const(node.input[2], "bias")
        if stored_bias.size not in (1, shape[-1] if shape else 0):
            raise im.fail("Gemm bias must be one value per unit", got=list(stored_bias.shape))

        def bias() -> np.ndarray:
            return (im.loaded(stored_bias) * beta).reshape(-1)

    def weight() -> np.ndarray:
        scaled = im.loaded(stored) * alpha
        return scaled.T if flip else scaled

    _dense_weight(im, node, x, shape, weight, bias)


@handles("MatMul", makes=("dense",))
def _matmul(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    if _is_const(im.values.get(node.input[0])):
        raise im.fail("MatMul with a constant on the left is not supported")
    if not _is_const(im.values.get(node.input[1])):
        raise im.fail("MatMul of two computed tensors (attention) is not supported")
    weight = im.const(node.input[1], "weight")
    _dense_weight(im, node, im.same_input(node.input[0]), tuple(weight.shape), lambda: weight, None)
