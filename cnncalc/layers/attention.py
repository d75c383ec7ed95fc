"""Multi-head attention as Keras ``MultiHeadAttention`` (weights ``[d, heads, key_dim]``), scores
``(Q/√key_dim)·Kᵀ``, softmax over the keys; no mask, no dropout. Acts on ``[T, d]`` (any leading token
axes are flattened into one, as Keras's default attention axes)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ShapeError
from ..maths import arith
from .base import Field, Inference, Layer, Saved, Shape, boolean, fmt, positive_int
from .merge import same_dim

TYPE_CHECKING = False  # typing is left unimported at run time (start-up time: see launch.py)
if TYPE_CHECKING:
    from typing import Any


def _optional_positive(value: Any) -> int | None:
    return None if value is None else positive_int(value)


class Attention(Layer):
    type_name = "attention"
    arity = 3  # one (self-attention), or [query, value] or [query, value, key]; checked in infer
    fields = {
        "heads": Field(positive_int, doc="the number of heads, a positive integer"),
        "key_dim": Field(_optional_positive, None),
        "value_dim": Field(_optional_positive, None),
        "output_dim": Field(_optional_positive, None),
        "bias": Field(boolean, True),
    }
    heads: int
    key_dim: int | None
    value_dim: int | None
    output_dim: int | None
    bias: bool

    def dims(self, inputs: Sequence[Shape]) -> dict[str, Any]:
        """Token counts and feature sizes of query, key, value and output, checked."""
        if not 1 <= len(inputs) <= 3:
            raise ShapeError("attention takes one input (self-attention) or [query, value] or [query, value, key]",
                             field="inputs", got=list(self.inputs), expected="one to three layer names")
        names = ("query", "value", "key")
        shapes = {"query": inputs[0], "value": inputs[1] if len(inputs) > 1 else inputs[0]}
        shapes["key"] = inputs[2] if len(inputs) > 2 else shapes["value"]
        for role in names:
            if len(shapes[role]) < 2:
                raise ShapeError(f"attention needs [T, d] inputs (tokens, features); the {role} has one axis",
                                 field="inputs", got=[str(d) for d in shapes[role]], expected="[T, d]")
            self.numeric_channels(shapes[role][-1])
        key, value = shapes["key"], shapes["value"]
        if len(key) != len(value) or not all(same_dim(a, b) for a, b in zip(key[:-1], value[:-1])):
            raise ShapeError("key and value must have the same tokens", field="inputs",
                             got=[str(d) for d in key], expected=f"tokens {[str(d) for d in value[:-1]]}")
        d_q = shapes["query"][-1]
        heads = self.heads
        if self.key_dim is None:
            if d_q % heads:
                raise ShapeError(f"heads must divide the query's {d_q} features (key_dim = d/heads)", field="heads",
                                 got=heads, expected=f"a divisor of {d_q}, or an explicit key_dim")
            key_dim = d_q // heads
        else:
            key_dim = self.key_dim
        value_dim = key_dim if self.value_dim is None else self.value_dim
        output_dim = d_q if self.output_dim is None else self.output_dim
        return {
            "d_q": d_q, "d_k": key[-1], "d_v": value[-1], "h": heads, "k": key_dim, "v": value_dim,
            "out": output_dim, "t_q": arith.simplify(arith.product(shapes["query"][:-1])),
            "t_k": arith.simplify(arith.product(key[:-1])), "query_tokens": tuple(shapes["query"][:-1]),
        }

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        g = self.dims(inputs)
        d_q, d_k, d_v, h, k, v, out, t_q, t_k = (g[x] for x in ("d_q", "d_k", "d_v", "h", "k", "v", "out", "t_q", "t_k"))
        weights = d_q * h * k + d_k * h * k + d_v * h * v + h * v * out
        biases = (2 * h * k + h * v + out) if self.bias else 0
        params = weights + biases
        projections = arith.simplify(t_q * d_q * h * k + t_k * d_k * h * k + t_k * d_v * h * v + t_q * h * v * out)
        mixing = arith.simplify(h * t_q * t_k * (k + v))
        macs = arith.simplify(projections + mixing)
        lines = [
            f"heads {h}, key_dim {k}, value_dim {v}, output_dim {out}; {t_q} query and {t_k} key tokens",
            f"params: {d_q}·{h}·{k} + {d_k}·{h}·{k} + {d_v}·{h}·{v} + {h}·{v}·{out}"
            + (f" + (2·{h}·{k} + {h}·{v} + {out})" if self.bias else "") + f" = {fmt(params)}",
            (f"MACs: projections {t_q}·{d_q}·{h}·{k} + {t_k}·{d_k}·{h}·{k} + {t_k}·{d_v}·{h}·{v} + {t_q}·{h}·{v}·{out}"
            f" = {fmt(projections)}; scores and weighted sum {h}·{t_q}·{t_k}·({k} + {v}) = {fmt(mixing)};"
            f" total {fmt(macs)}"),
        ]
        return Inference(g["query_tokens"] + (out,), params, 0, macs, lines, rf=None)

    def bias_count(self, out_shape: Shape) -> int:
        return 0  # the exercises' "forgotten bias" feedback covers conv and dense only

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        g = self.dims(inputs)
        shapes: dict[str, tuple[int, ...]] = {"query.weight": (g["d_q"], g["h"], g["k"]), "key.weight": (g["d_k"], g["h"], g["k"]),
                  "value.weight": (g["d_v"], g["h"], g["v"]), "output.weight": (g["h"], g["v"], g["out"])}
        if self.bias:
            shapes.update({"query.bias": (g["h"], g["k"]), "key.bias": (g["h"], g["k"]),
                           "value.bias": (g["h"], g["v"]), "output.bias": (g["out"],)})
        return shapes

    def scratch_size(self, inputs: Sequence[Shape], out_shape: Shape) -> int:
        g = self.dims(inputs)
        # the score matrix (twice: scores and their softmax) besides the projected Q, K, V
        return int(2 * g["h"] * g["t_q"] * g["t_k"] + g["h"] * (g["t_q"] * g["k"] + g["t_k"] * (g["k"] + g["v"])))

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        g = self.dims(inputs)
        h, k, v, t_q, t_k = (g[x] for x in ("h", "k", "v", "t_q", "t_k"))
        # each einsum is a bmm that keeps both operands: the projections their inputs (the weights are
        # parameters), the scores Q/√k and K, the weighted sum softmax(scores) and V, the output projection
        # the heads' context; softmax keeps its result (shared with the bmm after it)
        return [*(Saved("input", "the projections keep their inputs (self)", index) for index in range(len(inputs))),
                Saved("own", "scores keep Q/√key_dim (self)", elements=t_q * h * k),
                Saved("own", "scores keep K (mat2)", elements=t_k * h * k),
                Saved("own", "softmax keeps its result (and the weighted sum reads it)", elements=h * t_q * t_k),
                Saved("own", "the weighted sum keeps V (mat2)", elements=t_k * h * v),
                Saved("own", "the output projection keeps the heads' context (self)", elements=t_q * h * v)]

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        query = inputs[0]
        value = inputs[1] if len(inputs) > 1 else query
        key = inputs[2] if len(inputs) > 2 else value
        n = query.shape[0]

        def project(x: Any, part: str) -> Any:
            """[N, ..., d] → [N, heads, T, dim] with one matrix product."""
            w = weights[f"{part}.weight"]
            d, heads, dim = w.shape
            y = x.reshape(n, -1, d) @ w.reshape(d, heads * dim)
            if f"{part}.bias" in weights:
                y = y + weights[f"{part}.bias"].reshape(heads * dim)
            return y.reshape(n, -1, heads, dim).transpose(0, 2, 1, 3)

        q = project(query, "query")
        k = project(key, "key")
        v = project(value, "value")
        q *= 1.0 / np.sqrt(q.shape[-1])  # q is a fresh array: scaled in place
        scores = q @ k.transpose(0, 1, 3, 2)  # [N, heads, T_q, T_k]
        # softmax over the keys, in place (the score matrix is the largest array here)
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = scores @ v  # [N, heads, T_q, value_dim]
        w_out = weights["output.weight"]
        heads, value_dim, out_dim = w_out.shape
        y = context.transpose(0, 2, 1, 3).reshape(n, -1, heads * value_dim) @ w_out.reshape(heads * value_dim, out_dim)
        if "output.bias" in weights:
            y = y + weights["output.bias"]
        return y.reshape((n, *out_shape))
