"""cnncalc's model-local functions (domain ``cnncalc``): the layers ONNX has no single operator for, written
by cnncalc's exporter as functions and read back by name, their weights checked against the layer's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..graph import _cf, _identity
from ..proto import FUNCTION_DOMAIN
from ..registry import handles
from ..values import np
from .common import f32

if TYPE_CHECKING:
    from ..importer import _Importer


def _arguments(im: _Importer, node: Any, names: tuple[str, ...]) -> list[str]:
    if len(node.input) != len(names) or not all(node.input):
        raise im.fail(f"{node.op_type} takes {len(names)} inputs ({', '.join(names)})")
    return list(node.input)


def _weight(im: _Importer, name: str, what: str, shape: tuple[int, ...]) -> Any:
    value = im.const(name, what)
    if tuple(value.shape) != tuple(shape):
        raise im.fail(f"{what} has shape {list(value.shape)}", expected=list(shape))
    return value


def _int_attr(im: _Importer, attrs: dict[str, Any], key: str, default: int | None = None) -> int:
    value = attrs.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise im.fail(f"attribute '{key}' must be an integer", got=value)
    return value


@handles("Attention", domain=FUNCTION_DOMAIN, makes=("attention",))
def _fn_attention(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    parts = ("query", "key", "value", "output")
    q_in, v_in, k_in, *rest = _arguments(im, node, ("query", "value", "key", *(f"{p}.weight" for p in parts),
                                                    *(f"{p}.bias" for p in parts)))
    roles = [im.tensor(n) for n in (q_in, v_in, k_in)]
    if any(im.rank(t) != 2 for t in roles):
        raise im.fail("Attention takes [N, T, d] inputs (tokens, features)")
    names = [im.same_input(n) for n in (q_in, v_in, k_in)]
    inputs = names[:1] if names[0] == names[1] == names[2] else names[:2] if names[1] == names[2] else names
    wq, wk, wv, wo = (im.const(n, f"{p}.weight") for n, p in zip(rest[:4], parts))
    if wq.ndim != 3 or wk.ndim != 3 or wv.ndim != 3 or wo.ndim != 3:
        raise im.fail("attention weights are [d, heads, dim] (query, key, value) and [heads, dim, out] (output)")
    d_q = im.shapes[names[0]][-1]
    heads, key_dim, value_dim, out = int(wq.shape[1]), int(wq.shape[2]), int(wv.shape[2]), int(wo.shape[2])
    if _int_attr(im, attrs, "heads", heads) != heads:
        raise im.fail(f"attribute heads={attrs['heads']} but the query weight has {heads} heads")
    bias = bool(_int_attr(im, attrs, "bias", 1))
    fields: dict[str, Any] = {"heads": heads}
    if not (isinstance(d_q, int) and d_q == heads * key_dim):
        fields["key_dim"] = key_dim
    if value_dim != key_dim:
        fields["value_dim"] = value_dim
    if out != d_q:
        fields["output_dim"] = out
    if not bias:
        fields["bias"] = False
    layer = im.emit("attention", im.node_name(node), inputs, **fields)
    from ....layers import LAYER_TYPES

    cls = LAYER_TYPES["attention"]
    expected = cls("attention", layer, 1, inputs, cls.parse_fields("attention", {"type": "attention", **fields,
                   "bias": True})).weight_shapes([im.shapes[n] for n in inputs])
    for n, p in zip(rest, (*(f"{p}.weight" for p in parts), *(f"{p}.bias" for p in parts))):
        value = _weight(im, n, p, expected[p])
        if bias or p.endswith(".weight"):
            im.keep(f"{layer}.{p}", lambda value=value: value)
    im.finish(node, layer, (0, 1))


@handles("ClassToken", domain=FUNCTION_DOMAIN, makes=("class_token",))
def _fn_class_token(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x_in, token = _arguments(im, node, ("x", "token"))
    if im.rank(im.tensor(x_in)) != 2:
        raise im.fail("ClassToken takes [N, T, d] tokens")
    x = im.same_input(x_in)
    layer = im.emit("class_token", im.node_name(node), [x])
    value = _weight(im, token, "token", (im.shapes[x][-1],))
    im.keep(f"{layer}.weight", lambda: value)
    im.finish(node, layer, (0, 1))


@handles("GroupNorm", domain=FUNCTION_DOMAIN, makes=("groupnorm",))
def _fn_group_norm(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x_in, gamma, beta = _arguments(im, node, ("x", "gamma", "beta"))
    x = im.same_input(x_in)
    epsilon = attrs.get("epsilon", 1e-5)
    if not isinstance(epsilon, float):
        raise im.fail("attribute 'epsilon' must be a number", got=epsilon)
    center, scale = bool(_int_attr(im, attrs, "center", 1)), bool(_int_attr(im, attrs, "scale", 1))
    fields: dict[str, Any] = {"groups": _int_attr(im, attrs, "groups"), "epsilon": f32(epsilon)}
    fields.update({key: False for key, on in (("center", center), ("scale", scale)) if not on})
    layer = im.emit("groupnorm", im.node_name(node), [x], **fields)
    channels = (im.shapes[x][-1],)
    for key, name, on in (("gamma", gamma, scale), ("beta", beta, center)):
        value = _weight(im, name, key, channels)
        if on:
            im.keep(f"{layer}.{key}", lambda value=value: value)
    im.finish(node, layer, _identity(len(im.shapes[x])))


@handles("Normalize", domain=FUNCTION_DOMAIN, makes=("normalize",))
def _fn_normalize(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    x_in, flat = _arguments(im, node, ("x", "flat_shape"))
    t = im.tensor(x_in)
    rank = im.rank(t)
    x = im.cf_input(x_in) if rank >= 2 else im.same_input(x_in)
    channels = im.shapes[x][-1] if rank >= 2 else 1
    if [int(v) for v in im.numbers(flat, "flat_shape")] != [0, channels, -1]:
        raise im.fail("Normalize's flat_shape must be [0, C, -1] (channels first), or [0, 1, -1] for one axis",
                      expected=[0, str(channels), -1])
    layer = im.emit("normalize", im.node_name(node), [x])
    im.finish(node, layer, _cf(rank) if rank >= 2 else _identity(rank))


#: cnncalc's adaptive pooling functions: their kind and spatial rank
ADAPTIVE = {f"Adaptive{kind.title()}Pool{rank}d": (kind, rank) for kind in ("avg", "max") for rank in (1, 2, 3)}


@handles(*ADAPTIVE, domain=FUNCTION_DOMAIN, makes=("adaptive_avgpool", "adaptive_maxpool"))
def _fn_adaptive(im: _Importer, position: int, node: Any, attrs: dict[str, Any]) -> None:
    from ....layers.pool import adaptive_bounds

    kind, rank = ADAPTIVE[node.op_type]
    names = _arguments(im, node, ("x", *(f"{'matrix' if kind == 'avg' else 'windows'}{k}" for k in range(rank))))
    if im.rank(im.tensor(names[0])) != rank + 1:
        raise im.fail(f"{node.op_type} takes [N, C] and {rank} spatial axes")
    x = im.cf_input(names[0])
    dims = im.shapes[x][:-1]
    size = []
    for axis, (n, name) in enumerate(zip(dims, names[1:])):
        value = im.const(name, f"axis {axis}'s {'matrix' if kind == 'avg' else 'windows'}")
        out = int(value.shape[1] if kind == "avg" else value.shape[0]) if value.ndim == 2 else 0
        if not isinstance(n, int) or out < 1 or out > n:
            raise im.fail(f"{node.op_type} needs numeric sizes and, per axis, a 2-D table for 1 to n windows")
        starts, ends = (np.array(v) for v in adaptive_bounds(n, out))
        if kind == "avg":
            cells = np.arange(n)
            want = ((cells[:, None] >= starts) & (cells[:, None] < ends)) / (ends - starts)
        else:
            want = np.minimum(starts[:, None] + np.arange(int((ends - starts).max())), ends[:, None] - 1)
        if tuple(value.shape) != want.shape or getattr(value, "readable", True) \
                and not np.allclose(im.value(name), want, atol=1e-6):
            raise im.fail(f"axis {axis}'s table is not adaptive pooling's windows for {n} → {out}")
        size.append(out)
    layer = im.emit(f"adaptive_{kind}pool", im.node_name(node), [x], size=size[0] if len(set(size)) == 1 else size)
    im.finish(node, layer, _cf(rank + 1))
