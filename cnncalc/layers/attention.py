"""Multi-head attention as Keras ``MultiHeadAttention`` (weights ``[d, heads, key_dim]``), scores
``(Q/√key_dim)·Kᵀ``, softmax over the keys; no mask, no dropout. Acts on ``[T, d]`` (any leading token
axes are flattened into one, as Keras's default attention axes).

Window attention as the Swin Transformer (V1) computes it, torchvision's ``shifted_window_attention``: on an
``[H, W, C]`` map, self-attention inside each ``window × window`` square (the map zero-padded to whole
windows, cyclically shifted by ``shift`` first), with a learned relative position bias on the scores and,
where shifted, the mask that keeps the wrapped-around regions apart. MaxViT's block and grid attention
(torchvision's ``PartitionAttentionLayer``) are the same layer unshifted: ``partition: grid`` groups the
``window × window`` pixels spaced ``H/window`` (``W/window``) apart instead of a square of neighbours, and
``scale: channels`` scales the scores by 1/√C as torchvision's ``RelativePositionalMultiHeadAttention`` does
(``feat_dim ** -0.5``) instead of Swin's 1/√(C/heads). And as Swin V2 computes it (torchvision's
``ShiftedWindowAttentionV2``): cosine scores times a learned per-head scale, and a continuous position bias
(a small MLP of each pair's log-spaced offset) in place of the bias table."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ShapeError
from ..maths import arith
from .base import Field, Inference, Layer, Saved, Shape, boolean, choice, fmt, nonneg_int, positive_int
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


def relative_position_index(window: int) -> Any:
    """``[T, T]`` (T = window²): the row of the bias table for each (query, key) pair of a window, as
    torchvision's ``define_relative_position_index`` numbers the (2·window − 1)² offsets."""
    import numpy as np

    rows, cols = np.divmod(np.arange(window * window), window)
    dr = rows[:, None] - rows[None, :] + window - 1
    dc = cols[:, None] - cols[None, :] + window - 1
    return dr * (2 * window - 1) + dc


def padded(n: Any, window: int) -> Any:
    """An axis of ``n`` padded to whole windows."""
    return arith.simplify(arith.ceil_div(n, window) * window)


def effective_shift(window: int, shift: int, n_padded: Any) -> int:
    """The shift along an axis: none where one window covers the padded axis (torchvision's rule)."""
    return 0 if arith.is_int(n_padded) and window >= n_padded else shift


def shift_mask(window: int, shifts: tuple[int, int], hp: int, wp: int) -> Any:
    """``[windows, T, T]``: 0 between tokens of one region of the shifted map, −100 between regions
    (torchvision's attention mask, built the same way)."""
    import numpy as np

    regions = np.zeros((hp, wp))
    count = 0
    for h in ((0, -window), (-window, -shifts[0]), (-shifts[0], None)):
        for w in ((0, -window), (-window, -shifts[1]), (-shifts[1], None)):
            regions[h[0]:h[1], w[0]:w[1]] = count
            count += 1
    flat = regions.reshape(hp // window, window, wp // window, window).transpose(0, 2, 1, 3).reshape(-1, window * window)
    return np.where(flat[:, None, :] != flat[:, :, None], -100.0, 0.0)


class WindowAttention(Layer):
    """Swin's (shifted) window multi-head self-attention on ``[H, W, C]``: weights ``qkv.weight`` ``[C, 3C]``
    (query, key, value thirds, heads consecutive), ``output.weight`` ``[C, C]``, their biases, and the
    relative position bias table ``position_bias`` ``[(2·window − 1)², heads]``."""

    type_name = "window_attention"
    fields = {
        "heads": Field(positive_int, doc="the number of heads, a divisor of the channel count"),
        "window": Field(positive_int, doc="the window's side in pixels, a positive integer"),
        "shift": Field(nonneg_int, 0, doc="the cyclic shift before partitioning (Swin's shifted windows), below window"),
        "bias": Field(boolean, True),
        "partition": Field(choice("window", "grid"), "window",
                           doc="window: squares of window × window neighbours (Swin, MaxViT's block attention); "
                               "grid: window × window pixels spaced H/window apart (MaxViT's grid attention)"),
        "scale": Field(choice("key_dim", "channels"), "key_dim",
                       doc="the scores' scale: 1/√key_dim (Swin) or 1/√channels (torchvision's MaxViT)"),
    }
    heads: int
    window: int
    shift: int
    bias: bool
    partition: str
    scale: str

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        shift, window = options.get("shift", 0), options.get("window")
        if isinstance(window, int) and shift >= window:
            raise ShapeError("shift must be smaller than the window", field="shift", got=shift,
                             expected=f"an integer in [0, {window - 1}]")
        if shift and options.get("partition") == "grid":
            raise ShapeError("a grid partition is not shifted (MaxViT's grid attention has no shift)", field="shift",
                             got=shift, expected="0 with partition: grid")

    def dims(self, inputs: Sequence[Shape]) -> dict[str, Any]:
        shape = inputs[0]
        if len(shape) != 3:
            raise ShapeError("window_attention needs an input of shape [H, W, C]", got=[str(d) for d in shape],
                             expected="3 axes")
        c = self.numeric_channels(shape[-1])
        if c % self.heads:
            raise ShapeError(f"heads must divide the {c} channels", field="heads", got=self.heads,
                             expected=f"a divisor of {c}")
        if self.partition == "grid":
            for axis, n in zip("HW", shape[:2]):
                if not arith.is_int(n) or n % self.window:
                    raise ShapeError(f"a grid partition needs the map's {axis} to be a multiple of the window "
                                     f"({self.window}): the grid's pixels are {axis}/window apart", field="window",
                                     got=str(n), expected=f"{axis} a multiple of {self.window}")
        hp, wp = padded(shape[0], self.window), padded(shape[1], self.window)
        return {"c": c, "hp": hp, "wp": wp, "t": self.window * self.window,
                "shifts": (effective_shift(self.window, self.shift, hp), effective_shift(self.window, self.shift, wp))}

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        g = self.dims(inputs)
        c, hp, wp, t = g["c"], g["hp"], g["wp"], g["t"]
        w, h = self.window, self.heads
        table = (2 * w - 1) ** 2 * h
        biases = 4 * c if self.bias else 0
        params = 3 * c * c + c * c + biases + table
        tokens = arith.simplify(hp * wp)
        projections = arith.simplify(tokens * 4 * c * c)
        mixing = arith.simplify(tokens * t * 2 * c)
        macs = arith.simplify(projections + mixing)
        shape = inputs[0]
        scale = f"1/√{c}" if self.scale == "channels" else f"1/√{c // h}"
        where = (f"windows of {w}×{w} = {t} tokens on the map padded to {hp}×{wp}" if self.partition == "window" else
                 f"grid of {w}×{w} = {t} tokens spaced {hp // w}×{wp // w} apart on the {hp}×{wp} map")
        lines = [
            (f"{where}; heads {h}, key_dim {c // h}, scores scaled by {scale}; "
             f"shift {g['shifts'][0]}×{g['shifts'][1]}"),
            f"params: qkv {c}·3·{c}, output {c}·{c}" + (f", biases 4·{c}" if self.bias else "")
            + f", position bias table (2·{w} − 1)²·{h} = {table}; total {fmt(params)}",
            (f"MACs: projections {hp}·{wp}·4·{c}² = {fmt(projections)}; scores and weighted sum "
             f"{hp}·{wp}·{t}·2·{c} = {fmt(mixing)}; total {fmt(macs)}"),
        ]
        # output pixel i reads the pixels of its window (of its region of it, where shifted: the mask's
        # −100 leaves the other regions' weights below float64's resolution)
        rf: list[tuple[Any, ...]] = [("window", w, s, n) for s, n in zip(g["shifts"], shape[:2])]
        if self.partition == "grid":  # the window × window pixels n/window apart: (window − 1)·n/window + 1 wide
            rf = [("grid", w, n) for n in shape[:2]]
        return Inference(tuple(shape), params, 0, macs, lines, rf=rf)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        c = self.dims(inputs)["c"]
        shapes: dict[str, tuple[int, ...]] = {"qkv.weight": (c, 3 * c), "output.weight": (c, c),
                                              "position_bias": ((2 * self.window - 1) ** 2, self.heads)}
        if self.bias:
            shapes.update({"qkv.bias": (3 * c,), "output.bias": (c,)})
        return shapes

    def scratch_size(self, inputs: Sequence[Shape], out_shape: Shape) -> int:
        g = self.dims(inputs)
        # the padded map and its windows, Q, K, V, the scores twice (scores, softmax), the heads' context
        return int(g["hp"] * g["wp"] * (6 * g["c"] + 2 * self.heads * g["t"]))

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        g = self.dims(inputs)
        tokens = g["hp"] * g["wp"]
        c = g["c"]
        # as attention's, over the padded map's windows: the qkv linear keeps its input (the windows, a
        # copy), the scores q·scale and k, softmax its result, the weighted sum v, the output linear its input
        return [Saved("own", "the qkv projection keeps the windows (a copy of the padded, shifted map)",
                      elements=tokens * c),
                Saved("own", "scores keep Q·scale (self)", elements=tokens * c),
                Saved("own", "scores keep K (mat2)", elements=tokens * c),
                Saved("own", "softmax keeps its result (and the weighted sum reads it)",
                      elements=self.heads * tokens * g["t"]),
                Saved("own", "the weighted sum keeps V (mat2)", elements=tokens * c),
                Saved("own", "the output projection keeps the heads' context (self)", elements=tokens * c)]

    def groups(self, x: Any) -> Any:
        """``[N, groups, T, C]``: the tokens each attends within, of a padded (and rolled) ``[N, H, W, C]`` map.
        window: pixel (a·w + i, b·w + j) is token i·w + j of window (a, b); grid: pixel (i·H/w + a, j·W/w + b)
        is token i·w + j of group (a, b)."""
        n, hp, wp, c = x.shape
        w = self.window
        order = (0, 1, 3, 2, 4, 5) if self.partition == "window" else (0, 2, 4, 1, 3, 5)
        split = (n, hp // w, w, wp // w, w, c) if self.partition == "window" else (n, w, hp // w, w, wp // w, c)
        return x.reshape(split).transpose(order).reshape(n, -1, w * w, c)

    def qkv_bias(self, bias: Any) -> Any:
        """The bias the qkv projection adds (V2 zeroes its key third)."""
        return bias

    def scores(self, q: Any, k: Any, weights: dict[str, Any]) -> Any:
        """``[N·windows, heads, T, T]``: ``(Q/√key_dim)·Kᵀ`` (``scale: channels``: Q/√C) plus the relative
        position bias."""
        scale = (q.shape[1] * q.shape[-1]) ** -0.5 if self.scale == "channels" else q.shape[-1] ** -0.5
        scores = (q * scale) @ k.transpose(0, 1, 3, 2)
        scores += weights["position_bias"][relative_position_index(self.window)].transpose(2, 0, 1)
        return scores

    def forward(self, inputs: Sequence[Any], weights: dict[str, Any], out_shape: Shape) -> Any:
        import numpy as np

        x = inputs[0]
        n, height, width, c = x.shape
        w, heads = self.window, self.heads
        hp, wp = -(-height // w) * w, -(-width // w) * w
        shifts = (effective_shift(w, self.shift, hp), effective_shift(w, self.shift, wp))
        if (hp, wp) != (height, width):
            x = np.pad(x, ((0, 0), (0, hp - height), (0, wp - width), (0, 0)))
        if any(shifts):
            x = np.roll(x, (-shifts[0], -shifts[1]), axis=(1, 2))
        t, windows = w * w, (hp // w) * (wp // w)
        tokens = self.groups(x).reshape(n * windows, t, c)
        qkv = tokens @ weights["qkv.weight"]
        if "qkv.bias" in weights:
            qkv = qkv + self.qkv_bias(weights["qkv.bias"])
        qkv = qkv.reshape(n * windows, t, 3, heads, c // heads).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = self.scores(q, k, weights)  # [N·windows, heads, T, T], the position bias added
        if any(shifts):
            scores = scores.reshape(n, windows, heads, t, t)
            scores += shift_mask(w, shifts, hp, wp)[None, :, None]
            scores = scores.reshape(n * windows, heads, t, t)
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(n * windows, t, c)
        y = context @ weights["output.weight"]
        if "output.bias" in weights:
            y = y + weights["output.bias"]
        back = (0, 1, 3, 2, 4, 5) if self.partition == "window" else (0, 3, 1, 4, 2, 5)  # inverse of ``order``
        y = y.reshape(n, hp // w, wp // w, w, w, c).transpose(back).reshape(n, hp, wp, c)
        if any(shifts):
            y = np.roll(y, shifts, axis=(1, 2))
        return np.ascontiguousarray(y[:, :height, :width])


def coords_table(window: int) -> Any:
    """``[(2·window − 1)², 2]``: Swin V2's log-spaced offsets, row by row as :func:`relative_position_index`
    numbers them: each offset divided by ``window − 1``, times 8, then ``sign·log2(1 + |·|)/3`` (torchvision's
    ``relative_coords_table``, which it computes in float32; here in float64)."""
    import numpy as np

    offsets = np.arange(-(window - 1), window, dtype=np.float64) / (window - 1) * 8
    rows, cols = np.meshgrid(offsets, offsets, indexing="ij")
    table = np.stack([rows, cols], axis=-1).reshape(-1, 2)
    return np.sign(table) * np.log2(np.abs(table) + 1.0) / 3.0


class WindowAttentionV2(WindowAttention):
    """Swin V2's (shifted) window attention on ``[H, W, C]`` (torchvision's ``ShiftedWindowAttentionV2``): as
    :class:`WindowAttention` (padding, shift, mask, windows) but scores ``normalize(Q)·normalize(K)ᵀ`` (L2 over
    each head's channels, eps 1e-12) times ``exp(min(logit_scale, ln 100))`` per head, plus ``16·sigmoid`` of
    a continuous position bias: ``relu(offsets·W₁ + b₁)·W₂`` over :func:`coords_table`, gathered by each pair's
    offset. Weights ``qkv.weight`` ``[C, 3C]``, ``qkv.bias`` ``[3C]`` (its key third is not used: torchvision
    zeroes it in ``forward``, the parameter keeps its 3C elements), ``output.weight`` ``[C, C]``,
    ``output.bias`` ``[C]``, ``logit_scale`` ``[heads]``, ``cpb_mlp.0.weight`` ``[2, hidden]``,
    ``cpb_mlp.0.bias`` ``[hidden]`` and ``cpb_mlp.2.weight`` ``[hidden, heads]``."""

    type_name = "window_attention_v2"
    fields = {  # V1's but the partition and the scale (its windows are squares, its scores cosines)
        "heads": WindowAttention.fields["heads"],
        "window": Field(positive_int, doc="the window's side in pixels, an integer of at least 2"),
        "shift": WindowAttention.fields["shift"],
        "bias": WindowAttention.fields["bias"],
        "hidden": Field(positive_int, 512, doc="the hidden width of the position bias's MLP (torchvision's 512)"),
    }
    hidden: int
    partition = "window"  # Swin V2's windows are squares of neighbours (no grid field)
    scale = "key_dim"  # (unused: its scores are cosines times the logit scale)

    @classmethod
    def check_fields(cls, options: dict[str, Any]) -> None:
        super().check_fields(options)
        if options.get("window") == 1:
            # torchvision divides the offsets by window − 1: its table (and the model's output) is NaN
            raise ShapeError("window_attention_v2 needs a window of at least 2 (Swin V2 divides each offset by "
                             "window − 1)", field="window", got=1, expected="an integer of at least 2")

    def infer(self, inputs: Sequence[Shape]) -> Inference:
        g = self.dims(inputs)
        c, hp, wp, t = g["c"], g["hp"], g["wp"], g["t"]
        w, h, hidden = self.window, self.heads, self.hidden
        offsets = (2 * w - 1) ** 2
        mlp = 2 * hidden + hidden + hidden * h
        biases = 4 * c if self.bias else 0
        params = 3 * c * c + c * c + biases + h + mlp
        tokens = arith.simplify(hp * wp)
        projections = arith.simplify(tokens * 4 * c * c)
        mixing = arith.simplify(tokens * t * 2 * c)
        table = offsets * hidden * (2 + h)  # the MLP, once per layer (not per window or sample)
        macs = arith.simplify(projections + mixing + table)
        shape = inputs[0]
        lines = [
            (f"windows of {w}×{w} = {t} tokens on the map padded to {hp}×{wp}; heads {h}, key_dim {c // h}; "
             f"shift {g['shifts'][0]}×{g['shifts'][1]}; cosine scores times exp(logit_scale)"),
            f"params: qkv {c}·3·{c}, output {c}·{c}" + (f", biases 4·{c}" if self.bias else "")
            + f", logit_scale {h}, position bias MLP 2·{hidden} + {hidden} + {hidden}·{h} = {mlp}; "
              f"total {fmt(params)}",
            (f"MACs: projections {hp}·{wp}·4·{c}² = {fmt(projections)}; scores and weighted sum "
             f"{hp}·{wp}·{t}·2·{c} = {fmt(mixing)}; position bias MLP (2·{w} − 1)²·{hidden}·(2 + {h}) = "
             f"{fmt(table)}, once; total {fmt(macs)} (the normalisation of Q and K not counted)"),
        ]
        rf = [("window", w, s, n) for s, n in zip(g["shifts"], shape[:2])]
        return Inference(tuple(shape), params, 0, macs, lines, rf=rf)

    def weight_shapes(self, inputs: Sequence[Shape]) -> dict[str, tuple[int, ...]]:
        shapes = super().weight_shapes(inputs)
        del shapes["position_bias"]
        shapes.update({"logit_scale": (self.heads,), "cpb_mlp.0.weight": (2, self.hidden),
                       "cpb_mlp.0.bias": (self.hidden,), "cpb_mlp.2.weight": (self.hidden, self.heads)})
        return shapes

    def scratch_size(self, inputs: Sequence[Shape], out_shape: Shape) -> int:
        # V1's, and the MLP's hidden activations over the offsets
        return super().scratch_size(inputs, out_shape) + (2 * self.window - 1) ** 2 * (self.hidden + self.heads)

    def saved_for_backward(self, inputs: Sequence[Shape], output: Shape, framework: str) -> list[Saved]:
        if framework != "pytorch":
            return super().saved_for_backward(inputs, output, framework)
        g = self.dims(inputs)
        tokens, c, h = g["hp"] * g["wp"], g["c"], self.heads
        offsets = (2 * self.window - 1) ** 2
        # as torchvision's ShiftedWindowAttentionV2 keeps them (tests/test_memory_torch.py measures it): the qkv
        # product whole (normalize reads Q and K from it), each norm and its clamped, expanded copy, the
        # quotients, the cosine scores (the logit scale's product keeps them), the softmax, V and the context;
        # the position bias MLP runs once a forward, not per sample: its hidden activations (the second Linear
        # and the ReLU keep them), the sigmoid's result and exp(logit_scale)
        return [Saved("own", "the qkv projection keeps the windows (a copy of the padded, shifted map)",
                      elements=tokens * c),
                Saved("own", "normalize keeps the qkv product (Q and K are views of it)", elements=3 * tokens * c),
                Saved("own", "normalize keeps Q's and K's norms and their clamped copies", elements=4 * tokens * h),
                Saved("own", "the scores keep normalize(Q) and normalize(K)", elements=2 * tokens * c),
                Saved("own", "the logit scale keeps the cosine scores", elements=h * tokens * g["t"]),
                Saved("own", "softmax keeps its result (and the weighted sum reads it)",
                      elements=h * tokens * g["t"]),
                Saved("own", "the weighted sum keeps V (mat2)", elements=tokens * c),
                Saved("own", "the output projection keeps the heads' context (self)", elements=tokens * c),
                Saved("own", "the position bias MLP keeps its hidden activations, the sigmoid its result and the "
                      "scale exp(logit_scale), once a forward", elements=offsets * self.hidden + h * g["t"] ** 2 + h,
                      batched=False)]

    def position_bias(self, weights: dict[str, Any]) -> Any:
        """``[heads, T, T]``: ``16·sigmoid`` of the MLP over the offsets, gathered for each pair of a window."""
        import numpy as np

        hidden = np.maximum(coords_table(self.window) @ weights["cpb_mlp.0.weight"] + weights["cpb_mlp.0.bias"], 0)
        table = hidden @ weights["cpb_mlp.2.weight"]  # [(2w − 1)², heads]
        return 16.0 / (1.0 + np.exp(-table[relative_position_index(self.window)].transpose(2, 0, 1)))

    def qkv_bias(self, bias: Any) -> Any:
        import numpy as np

        bias = np.array(bias)
        c = bias.shape[0] // 3
        bias[c:2 * c] = 0.0  # torchvision zeroes the key's bias in forward
        return bias

    def scores(self, q: Any, k: Any, weights: dict[str, Any]) -> Any:
        """``normalize(Q)·normalize(K)ᵀ·exp(min(logit_scale, ln 100))`` plus ``16·sigmoid`` of the MLP's bias."""
        import numpy as np

        q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)  # F.normalize
        k = k / np.maximum(np.linalg.norm(k, axis=-1, keepdims=True), 1e-12)
        scale = np.exp(np.minimum(np.asarray(weights["logit_scale"]).reshape(self.heads), np.log(100.0)))
        scores = (q @ k.transpose(0, 1, 3, 2)) * scale[:, None, None]
        scores += self.position_bias(weights)
        return scores
