"""Layer names as Python names in the PyTorch and Keras exports: Python reads identifiers in NFKC form, so
names are normalised before they are made distinct, and no layer takes a name the generated code uses.

Every generated file is compiled and read back with ``ast`` (which shows the names as Python reads them):
each spec layer has its own variable (and module attribute), wired to its own inputs in the spec's order,
the input is never reassigned, and no name is read before it is bound or hides one the code needs. Where
torch or keras is installed the code also runs and must give ``cnncalc run``'s output.
"""

from __future__ import annotations

import ast
import builtins
import types
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncalc import analyse, build_network
from cnncalc.interop import codegen, keras_export, pytorch_export
from cnncalc.interop.identifiers import comment_text, identifier
from cnncalc.interop.keras_export import export_keras
from cnncalc.interop.pytorch_export import MODULE_ATTRIBUTES, export_pytorch
from cnncalc.run.executor import gather_weights, run

# ---------------------------------------------------------------- the rule, on its own

IDENTIFIERS = [  # (names given in turn, names in use before, variables of the scope, identifiers expected)
    (["ﬁlter", "filter"], [], [], ["filter", "filter_2"]),  # one name for Python: two variables
    (["ｘ", "x"], ["x"], ["x"], ["layer_x", "layer_x_2"]),  # the input: never reassigned
    (["ｌａｙｅｒｓ", "layers"], ["layers"], [], ["layers_2", "layers_3"]),  # an import: never hidden
    (["x²", "x2", "½"], [], [], ["x2", "x2_2", "layer_1_2"]),  # no identifier before NFKC
    (["class", "ｃｌａｓｓ", "match", "type", "_", "None", "ｓｅｌｆ"], [], [],
     ["layer_class", "layer_class_2", "layer_match", "layer_type", "layer", "layer_None", "layer_self"]),
    (["2nd", "١٢", "🙂", "🙂🙂", "", "__init__"], [], [], ["layer_2nd", "layer_١٢", "layer", "layer_2", "layer_3", "init"]),
    (["e\u0301", "é", "\u0301x"], [], [], ["é", "é_2", "layer_\u0301x"]),  # composed by NFKC; a mark cannot start
    (["a_2", "a", "ａ", "a"], [], [], ["a_2", "a", "a_3", "a_4"]),  # the counter skips what is taken
    (["conv2_block1/1_conv", "a.b", "a b"], [], [], ["conv2_block1_1_conv", "a_b", "a_b_2"]),
]


@pytest.mark.parametrize("names, used, scope, expected", IDENTIFIERS)
def test_identifier(names: list[str], used: list[str], scope: list[str], expected: list[str]) -> None:
    taken = dict.fromkeys(used + scope, 2)
    got = [identifier(name, taken, frozenset(scope)) for name in names]
    assert got == expected
    for name in got:
        assert name.isidentifier() and unicodedata.is_normalized("NFKC", name)


class _CountedLookups(dict):
    """Names taken, counting the `in` tests made on them, up to a limit (past it, the test fails at once)."""

    def __init__(self, names: dict[str, int], limit: int) -> None:
        super().__init__(names)
        self.lookups, self.limit = 0, limit

    def __contains__(self, key: object) -> bool:
        self.lookups += 1
        assert self.lookups <= self.limit, "more than the linear number of lookups"
        return super().__contains__(key)


def test_identifier_takes_linear_time() -> None:
    # (a counter per name: the n-th copy of a name does not try the n - 1 numbers before it again), counted
    # in lookups rather than seconds: 2.5 per name here, where trying every number again makes 10^8
    taken = _CountedLookups({f"a_{k}": 2 for k in range(2, 20_000, 2)}, limit=3 * 20_000)
    got = [identifier("ａ" if k % 2 else "a", taken) for k in range(20_000)]
    assert taken.lookups >= 20_000  # each name was looked up: the count is real
    assert len(set(got)) == 20_000 and not {f"a_{k}" for k in range(2, 20_000, 2)} & set(got)


def test_comment_text_keeps_the_name_on_its_line() -> None:
    assert comment_text("ﬁlter 🙂 #1") == "ﬁlter 🙂 #1"
    assert comment_text("a\nb\rc\u2028d\u202ee\\f") == "a\\nb\\rc\\u2028d\\u202ee\\\\f"


def _imported(module: types.ModuleType) -> list[tuple[str | None, str]]:
    tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
    return [(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for alias in node.names]


def test_the_exporters_share_the_helpers_not_each_others() -> None:
    for module in (keras_export, pytorch_export):
        imported = _imported(module)
        assert not [pair for pair in imported if pair[0] and pair[0].endswith("_export")]
        assert ("codegen", "export_code") in imported  # the one driver, which names every layer
    assert ("identifiers", "identifier") in _imported(codegen)


def test_module_attributes_are_nn_modules() -> None:
    torch = pytest.importorskip("torch")
    public = {name for name in dir(torch.nn.Module) if not name.startswith("_")}
    assert public <= MODULE_ATTRIBUTES | {"forward"}


# ---------------------------------------------------------------- reading the generated code back


def _module_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _target(statement: ast.stmt) -> str:
    assert isinstance(statement, ast.Assign) and len(statement.targets) == 1, ast.unparse(statement)
    target = statement.targets[0]
    assert isinstance(target, ast.Name), ast.unparse(statement)
    return target.id


def _check_scope(function: ast.FunctionDef, module_names: set[str]) -> None:
    """Straight-line code: every local is bound before it is read, every other name is the module's or a
    builtin (a layer variable named like a global would make that global local: UnboundLocalError)."""
    params = {a.arg for a in function.args.args}
    bound = {_target(s) for s in function.body if isinstance(s, ast.Assign)}
    assert not bound & params, "a parameter is reassigned"
    seen = set(params)
    for statement in function.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # the docstring
        for name in _loads(statement.value if isinstance(statement, (ast.Assign, ast.Return)) else statement):
            if name in bound or name in params:
                assert name in seen, f"{name} read before it is bound"
            else:
                assert name in module_names or hasattr(builtins, name), f"{name} is not defined"
        if isinstance(statement, ast.Assign):
            seen.add(_target(statement))


def check_pytorch(source: str, network: Any) -> dict[str, str]:
    """The module's layer variables by layer name, after checking the structure."""
    compile(source, "<pytorch>", "exec")
    tree = ast.parse(source)
    cls = [node for node in tree.body if isinstance(node, ast.ClassDef)][-1]
    methods = {node.name: node for node in cls.body if isinstance(node, ast.FunctionDef)}
    assert set(methods) == {"__init__", "forward"}
    built = [ast.unparse(s.targets[0]) for s in methods["__init__"].body if isinstance(s, ast.Assign)]
    assert len(built) == len(set(built)), "a module attribute is assigned twice"
    attributes = {name.removeprefix("self.") for name in built}
    assert not attributes & (MODULE_ATTRIBUTES | set(methods)), "an attribute hidden by nn.Module's own"
    used = {f"self.{node.attr}" for node in ast.walk(methods["forward"]) if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name) and node.value.id == "self"}
    assert used == set(built)
    forward = methods["forward"]
    assert [a.arg for a in forward.args.args] == ["self", "x"]
    _check_scope(forward, _module_names(tree))
    statements = [s for s in forward.body if isinstance(s, ast.Assign)]
    assert len(statements) == len(network.layers)  # one line per layer
    var = {"input": "x"}
    for position, statement in zip(network.order, statements):  # in the spec's order, wired as in the spec
        layer = network.layers[position]
        assert _loads(statement.value) & (set(var.values()) | {"x"}) == {var[s] for s in layer.inputs}, layer.name
        var[layer.name] = _target(statement)
    assert len(set(var.values())) == len(network.layers) + 1
    returned = forward.body[-1]
    assert isinstance(returned, ast.Return) and ast.unparse(returned.value) == var[network.layers[-1].name]
    return var


def check_keras(source: str, network: Any, extras: dict[str, int] | None = None) -> dict[str, str]:
    """As check_pytorch; ``extras``: how many helper lines (padding, the linear part before a LeakyReLU)
    come before a layer's own line."""
    compile(source, "<keras>", "exec")
    tree = ast.parse(source)
    build = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "build_model")
    _check_scope(build, _module_names(tree))
    body = [s for s in build.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    assert ast.unparse(body[0]).startswith("x = keras.Input(")
    targets = [_target(s) for s in body[1:-1]]
    assert len(targets) == len(set(targets)) and "x" not in targets
    keras_names = [node.value.value for s in body[:-1] for node in ast.walk(s)
                   if isinstance(node, ast.keyword) and node.arg == "name"]
    assert len(keras_names) == len(set(keras_names)), "Keras layer names must be unique"
    extras = extras or {}
    assert len(targets) == len(network.layers) + sum(extras.values())
    var, statements = {"input": "x"}, iter(body[1:-1])
    for position in network.order:
        layer = network.layers[position]
        group = [next(statements) for _ in range(extras.get(layer.name, 0) + 1)]
        inside = {_target(s) for s in group[:-1]}
        read = set().union(*(_loads(s.value) for s in group))
        assert read & (set(var.values()) | {"x"}) == {var[s] for s in layer.inputs}, layer.name
        assert inside <= read  # (helper lines feed their own layer only)
        var[layer.name] = _target(group[-1])
    returned = body[-1]
    assert isinstance(returned, ast.Return) and ast.unparse(returned.value.args[1]) == var[network.layers[-1].name]
    return var


# ---------------------------------------------------------------- executed where installed


def _weights(network: Any, path: Path) -> dict[str, np.ndarray]:
    arrays = gather_weights(analyse(network), None, 7, np.float64)
    flat = {f"{layer}.{key}": value for layer, parts in arrays.items() for key, value in parts.items()}
    np.savez(path, **flat)
    return flat


def _exec(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 (our own generated code)
    return module


def run_torch(network: Any, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    flat = _weights(network, tmp_path / "w.npz")
    module = _exec(export_pytorch(network), "exported_torch_names")
    cls = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
           and v.__module__ == "exported_torch_names"][-1]
    model = cls().double().train(False)
    module.load_cnncalc_weights(model, str(tmp_path / "w.npz"))
    x = np.random.default_rng(1).standard_normal((2, *(int(d) for d in network.input_shape)))
    want = run(network, x, flat).output
    with torch.no_grad():
        got = model(torch.from_numpy(np.moveaxis(x, -1, 1).copy())).numpy()
    got = np.moveaxis(got, 1, -1) if got.ndim > 2 else got
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= 1e-9 * max(1.0, float(np.max(np.abs(want))))


def run_keras(network: Any, tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    if keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    keras.config.set_floatx("float64")
    try:
        flat = _weights(network, tmp_path / "w.npz")
        module = _exec(export_keras(network), "exported_keras_names")
        model = module.build_model()
        module.load_cnncalc_weights(model, str(tmp_path / "w.npz"))
        x = np.random.default_rng(1).standard_normal((2, *(int(d) for d in network.input_shape)))
        want = run(network, x, flat).output
        got = np.asarray(model(x, training=False))
    finally:
        keras.config.set_floatx("float32")
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= 1e-6 * max(1.0, float(np.max(np.abs(want))))


# ---------------------------------------------------------------- the reliability issue's examples


def _conv(name: str, filters: int, **more: Any) -> dict[str, Any]:
    return {"type": "conv", "name": name, "filters": filters, "kernel": 3, "padding": "same", **more}


EXAMPLES = {
    # NFKC folds ﬁ into fi: one variable for two layers gave 12 channels where the spec has 10
    "ligature": [_conv("ﬁlter", 4), _conv("filter", 6, inputs=["input"]),
                 {"type": "concat", "name": "both", "inputs": ["ﬁlter", "filter"]}],
    # a fullwidth x is x: the layer overwrote the input, which the next branch reads
    "input": [_conv("ｘ", 4), _conv("second", 2, inputs=["input"]),
              {"type": "concat", "name": "both", "inputs": ["ｘ", "second"]}],
    # a fullwidth layers is Keras's module: UnboundLocalError inside build_model
    "keras module": [_conv("ｌａｙｅｒｓ", 4), {"type": "relu", "name": "keras"}, {"type": "dense", "name": "F", "units": 3}],
    # ² is no identifier character: neither file parsed
    "superscript": [_conv("x²", 4), {"type": "relu", "name": "x2"}],
    # the nn.Module's own names: forward replaced, same_pads shadowed, self reassigned, train hidden
    "module names": [_conv("forward", 4, stride=2), _conv("same_pads", 4, stride=2), {"type": "relu", "name": "ｓｅｌｆ"},
                     {"type": "batchnorm", "name": "train"}, {"type": "relu", "name": "float"},
                     {"type": "maxpool", "name": "torch", "kernel": 2, "padding": [[1, 0], [0, 1]]}],
    # names the exporters derive from a layer's (its separable halves, its linear part) met by another layer's
    "derived": [{"type": "separable_conv", "name": "s", "filters": 4, "kernel": 3, "activation": "leaky_relu"},
                _conv("s_depthwise", 3), _conv("s_linear", 3, inputs=["s"]),
                {"type": "add", "name": "s_pointwise", "inputs": ["s_depthwise", "s_linear"]},
                {"type": "dense", "name": "s_leaky_relu", "units": 2, "activation": "leaky_relu"}],
}
KERAS_EXTRAS = {"module names": {"torch": 1}, "derived": {"s": 1, "s_leaky_relu": 1}}


def example(name: str) -> Any:
    return build_network({"name": f"names: {name}", "input": [6, 5, 3], "layers": EXAMPLES[name]}, "names.yaml")


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_layer_has_its_own_variable(name: str) -> None:
    network = example(name)
    for var in (check_pytorch(export_pytorch(network), network),
                check_keras(export_keras(network), network, KERAS_EXTRAS.get(name))):
        assert len(set(var.values())) == len(network.layers) + 1


def test_the_names_read_well() -> None:
    lines = export_pytorch(example("ligature")).splitlines()
    assert "        filter = self.filter(F.pad(x, same_pads(x, (3, 3), (1, 1), (1, 1))))  # ﬁlter" in lines
    assert "        filter_2 = self.filter_2(F.pad(x, same_pads(x, (3, 3), (1, 1), (1, 1))))  # filter" in lines
    assert "        both = torch.cat([filter, filter_2], dim=1)" in lines
    source = export_pytorch(example("module names"))
    for line in ("forward_2 = self.forward_2(F.pad(x, same_pads(x, (3, 3), (2, 2), (1, 1))))  # forward",
                 "layer_self = F.relu(same_pads_2)  # ｓｅｌｆ", "self.train_2 = nn.BatchNorm2d(4, eps=0.001)",
                 "torch_2 = self.torch_2(F.pad(float_2, [0, 1, 1, 0], value=float('-inf')))  # torch"):
        assert line in source, line
    keras = export_keras(example("keras module"))
    for line in ('layers_2 = layers.Conv2D(4, 3, padding="same", name="layers_2")(x)  # ｌａｙｅｒｓ',
                 'keras_2 = layers.Activation("relu", name="keras_2")(layers_2)  # keras'):
        assert line in keras, line
    derived = export_keras(example("derived"))
    for line in ('s_linear = layers.SeparableConv2D(4, 3, name="s")(x)',
                 's = layers.LeakyReLU(negative_slope=0.01, name="s_leaky_relu")(s_linear)',
                 's_linear_2 = layers.Conv2D(3, 3, padding="same", name="s_linear_2")(s)  # s_linear',
                 's_leaky_relu_2_linear = layers.Dense(2, name="s_leaky_relu_2")(s_pointwise)'):
        assert line in derived, line


@pytest.mark.parametrize("name", EXAMPLES)
def test_pytorch_runs_like_cnncalc(name: str, tmp_path: Path) -> None:
    run_torch(example(name), tmp_path)


@pytest.mark.parametrize("name", EXAMPLES)
def test_keras_runs_like_cnncalc(name: str, tmp_path: Path) -> None:
    run_keras(example(name), tmp_path)


# ---------------------------------------------------------------- any names

AWKWARD = ["ﬁlter", "filter", "ｘ", "x", "ｌａｙｅｒｓ", "layers", "self", "ｓｅｌｆ", "forward", "same_pads", "x²", "x2",
           "class", "ｃｌａｓｓ", "match", "type", "_", "__init__", "2nd", "1", "🙂", "🙂🙂", "e\u0301", "é", "\u0301x",
           "F", "torch", "nn", "np", "keras", "Normalize", "LayerScale", "WEIGHTS", "model", "train", "float",
           "ｉｎｐｕｔ", "layer", "layer_x", "x_2", "a.b", "a/b", "ǂ0", "None", "Ⅸ", "ﬀ", "µ", "K", "ſ", "名前",
           'a"b', "a\\b", "a#b", "'''"]
NAMES = st.one_of(st.sampled_from(AWKWARD), st.text(
    st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")), min_size=1, max_size=6),
).filter(lambda name: name.isprintable() and name.strip() != "" and name != "input")
# the layers of the spec (keras extras: the leaky layers' linear part, the max pool's -inf padding)
SMALL = [("conv", {"filters": 3, "kernel": 3, "padding": "same"}), ("relu", {}),
         ("conv", {"filters": 3, "kernel": 1, "inputs": ["input"]}), ("add", {"inputs": [1, 2]}),
         ("separable_conv", {"filters": 2, "kernel": 3, "activation": "leaky_relu"}),
         ("maxpool", {"kernel": 2, "padding": [[1, 0], [0, 1]]}), ("flatten", {}),
         ("dense", {"units": 4, "activation": "leaky_relu"})]
SMALL_EXTRAS = {4: 1, 5: 1, 7: 1}


def _fullwidth(name: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)


@st.composite
def small_networks(draw: Any) -> Any:
    names = draw(st.lists(NAMES, min_size=len(SMALL), max_size=len(SMALL), unique=True))
    # names that meet after NFKC, and names met by the ones the exporters derive from a layer's
    for k in draw(st.lists(st.integers(1, len(SMALL) - 1), max_size=3, unique=True)):
        twin = draw(st.sampled_from([_fullwidth(names[k - 1]), unicodedata.normalize("NFKC", names[k - 1]),
                                     names[4] + "_depthwise", names[4] + "_linear", names[5] + "_pad",
                                     names[7] + "_leaky_relu", names[0] + "_2"]))
        if twin not in names and twin != "input":
            names[k] = twin
    layers = []
    for name, (kind, settings_) in zip(names, SMALL):
        layer = {"type": kind, "name": name, **settings_}
        if "inputs" in layer:
            layer["inputs"] = [names[i] if isinstance(i, int) else i for i in layer["inputs"]]
        layers.append(layer)
    return build_network({"name": draw(NAMES), "input": [6, 6, 2], "layers": layers}, "any.yaml")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks())
def test_any_names_give_one_variable_per_layer_in_order(network: Any) -> None:
    torch_vars = check_pytorch(export_pytorch(network), network)
    keras_vars = check_keras(export_keras(network), network,
                             {network.layers[k].name: n for k, n in SMALL_EXTRAS.items()})
    for var in (torch_vars, keras_vars):
        assert len(set(var.values())) == len(SMALL) + 1
        assert all(name.isidentifier() and unicodedata.is_normalized("NFKC", name) for name in var.values())
