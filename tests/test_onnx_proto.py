"""The pure-Python ONNX reader (cnncalc.interop.onnx_proto) against protobuf and onnx's own helpers: every
zoo network's nodes, attributes, initializers and inputs as onnx reads them; tensors of every stored type
in raw and typed fields; bad bytes as one error line; summaries without the onnx package or numpy."""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncalc import CnnCalcError
from cnncalc.interop.onnx import proto as onnx_proto
from cnncalc.interop.onnx_proto import decode_model
from cnncalc.spec.network import load_spec, zoo_names

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper

from cnncalc.interop.onnx_export import export_onnx


def _same_attribute(ours: onnx_proto.Attribute, theirs: onnx.AttributeProto) -> None:
    assert ours.name == theirs.name and ours.type == theirs.type
    want = helper.get_attribute_value(theirs)
    got = ours.value()
    if theirs.type == theirs.TENSOR:
        np.testing.assert_array_equal(got.to_numpy(), numpy_helper.to_array(want))
    elif theirs.type == theirs.FLOATS:
        assert got == pytest.approx(want, rel=0, abs=0)
    else:
        assert got == want, ours.name


def _same_model(data: bytes) -> int:
    """Decode ``data`` both ways and compare every field the importer reads; the number of fields compared."""
    theirs = onnx.ModelProto()
    theirs.ParseFromString(data)
    ours = decode_model(data, "m.onnx")
    compared = 0
    assert (ours.ir_version, ours.producer_name) == (theirs.ir_version, theirs.producer_name)
    assert ours.opset_import == [(o.domain, o.version) for o in theirs.opset_import]
    assert ours.functions == [(f.domain, f.name) for f in theirs.functions]
    assert ours.graph.name == theirs.graph.name
    assert len(ours.graph.node) == len(theirs.graph.node)
    for a, b in zip(ours.graph.node, theirs.graph.node):
        assert (a.name, a.op_type, a.domain, a.input, a.output, a.doc_string) == \
            (b.name, b.op_type, b.domain, list(b.input), list(b.output), b.doc_string)
        assert len(a.attribute) == len(b.attribute)
        for x, y in zip(a.attribute, b.attribute):
            _same_attribute(x, y)
            compared += 1
    assert [t.name for t in ours.graph.initializer] == [t.name for t in theirs.graph.initializer]
    for a, b in zip(ours.graph.initializer, theirs.graph.initializer):
        assert (a.dims, a.data_type) == (list(b.dims), b.data_type)
        got, want = a.to_numpy(), numpy_helper.to_array(b)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        compared += 1
    for ours_list, theirs_list in ((ours.graph.input, theirs.graph.input), (ours.graph.output, theirs.graph.output)):
        for a, b in zip(ours_list, theirs_list, strict=True):
            dims = [(d.dim_value if d.HasField("dim_value") else None, d.dim_param)
                    for d in b.type.tensor_type.shape.dim]
            assert (a.name, a.tensor, a.has_shape, a.dims) == \
                (b.name, b.type.HasField("tensor_type"), b.type.tensor_type.HasField("shape"), dims)
    return compared


@pytest.mark.parametrize("name", zoo_names())
def test_every_zoo_network_decodes_as_onnx_reads_it(name):
    data = export_onnx(load_spec(name), seed=0).SerializeToString()
    assert _same_model(data) > 0


CASES = [  # (data type, values): each written in raw_data and in its typed field
    (TensorProto.FLOAT, np.array([[1.5, -2.25e-30], [3.4e38, 0.0]], dtype=np.float32)),
    (TensorProto.DOUBLE, np.array([1e-300, -2.5, np.pi], dtype=np.float64)),
    (TensorProto.INT64, np.array([-(2**63), -1, 0, 2**63 - 1], dtype=np.int64)),
    (TensorProto.INT32, np.array([-(2**31), -7, 2**31 - 1], dtype=np.int32)),
    (TensorProto.INT16, np.array([-(2**15), 5, 2**15 - 1], dtype=np.int16)),
    (TensorProto.INT8, np.array([-128, -1, 127], dtype=np.int8)),
    (TensorProto.UINT8, np.array([0, 200, 255], dtype=np.uint8)),
    (TensorProto.UINT16, np.array([0, 40000, 65535], dtype=np.uint16)),
    (TensorProto.UINT32, np.array([0, 2**32 - 1], dtype=np.uint32)),
    (TensorProto.UINT64, np.array([0, 2**64 - 1, 2**63], dtype=np.uint64)),
    (TensorProto.BOOL, np.array([True, False, True])),
    (TensorProto.FLOAT16, np.array([1.0, -0.5, 65504.0, 6e-8], dtype=np.float16)),
]


@pytest.mark.parametrize("raw", [True, False], ids=["raw_data", "typed"])
@pytest.mark.parametrize("data_type, values", CASES, ids=[helper.tensor_dtype_to_string(c[0]) for c in CASES])
def test_tensors_of_every_stored_type(data_type, values, raw):
    if raw:
        tensor = helper.make_tensor("t", data_type, values.shape, values.tobytes(), raw=True)
    else:
        tensor = numpy_helper.from_array(values, "t")
        # from_array writes raw_data; move the values to the typed field as older exporters do
        typed = helper.make_tensor("t", data_type, values.shape, values.reshape(-1).tolist())  # float16: as bits
        tensor = typed if not typed.raw_data else tensor
        assert not tensor.raw_data
    ours = onnx_proto._Reader(tensor.SerializeToString(), "t").tensor(0, tensor.ByteSize())
    got = ours.to_numpy()
    assert got.dtype == values.dtype and got.shape == values.shape
    np.testing.assert_array_equal(got, values)
    np.testing.assert_array_equal(got, numpy_helper.to_array(tensor))


def test_bfloat16_reads_as_float32():
    values = np.array([1.0, -2.5, 3.140625, 2.0**120], dtype=np.float32)
    bits = (values.view(np.uint32) >> 16).astype(np.uint16)
    for tensor in (helper.make_tensor("b", TensorProto.BFLOAT16, [4], bits.tobytes(), raw=True),
                   helper.make_tensor("b", TensorProto.BFLOAT16, [4], values.tolist())):  # converted to bits
        got = onnx_proto._Reader(tensor.SerializeToString(), "b").tensor(0, tensor.ByteSize()).to_numpy()
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, values)  # each value is exact in bfloat16


def _tensor(name: str, data_type: int, dims: list[int], **fields: object) -> TensorProto:
    tensor = TensorProto(name=name, data_type=data_type, dims=dims)
    for key, value in fields.items():
        if key == "raw_data":
            tensor.raw_data = value
        else:
            getattr(tensor, key).extend(value)
    return tensor


@pytest.mark.parametrize("tensor, message", [
    (_tensor("short", TensorProto.FLOAT, [3], raw_data=bytes(8)), "raw_data has 8 bytes for 3 values of 4"),
    (_tensor("few", TensorProto.INT64, [3], int64_data=[1, 2]), "int64_data holds 2 values for 3"),
    (_tensor("fewf", TensorProto.FLOAT, [3], float_data=[1.0]), "float_data holds 1 values for 3"),
    (_tensor("big", TensorProto.INT8, [1], int32_data=[300]), "outside int8"),
    (_tensor("s", TensorProto.STRING, [1], string_data=[b"x"]), "string"),
    (_tensor("c", TensorProto.COMPLEX64, [1], float_data=[1.0, 2.0]), "data type 14 is not supported"),
], ids=["raw", "int64", "float", "int8", "string", "complex"])
def test_unreadable_tensors_say_why(tensor, message):
    ours = onnx_proto._Reader(tensor.SerializeToString(), "t").tensor(0, tensor.ByteSize())
    with pytest.raises(ValueError, match=message):
        ours.to_numpy()


def test_attributes_of_every_kind():
    node = helper.make_node("Foo", ["a", ""], ["b"], name="n", domain="d", doc_string="doc",
                            f=0.1, i=-5, s=b"text", ints=[-1, 0, 2**40], floats=[1.5, -0.1], strings=[b"p", b"q"],
                            t=numpy_helper.from_array(np.arange(6, dtype=np.int64).reshape(2, 3)),
                            big=2**63 - 1)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 3, None])],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, producer_name="me")
    assert _same_model(model.SerializeToString()) == 8
    decoded = decode_model(model.SerializeToString(), "m")
    assert decoded.graph.input[0].dims == [(None, "n"), (3, ""), (None, "")]
    assert decoded.graph.output[0].has_shape is False
    assert {a.name: a.value() for a in decoded.graph.node[0].attribute if a.name != "t"}["f"] == \
        pytest.approx(0.1, rel=1e-7)


def test_varints_past_64_bits_and_fields_past_their_message_are_refused():
    with pytest.raises(CnnCalcError, match="malformed varint"):
        decode_model(b"\x08" + b"\xff" * 10 + b"\x01", "m")
    with pytest.raises(CnnCalcError, match="runs past its message"):
        decode_model(b"\x3a\x05\x0a\x01", "m")
    with pytest.raises(CnnCalcError, match="wire type 3"):
        decode_model(b"\x0b", "m")
    with pytest.raises(CnnCalcError, match="field number 0"):
        decode_model(b"\x00\x00", "m")
    with pytest.raises(CnnCalcError, match="not UTF-8"):
        decode_model(b"\x12\x01\xff", "m")
    with pytest.raises(CnnCalcError, match="no graph with nodes"):
        decode_model(b"\x08\x08", "m")


def _message(number: int, body: bytes) -> bytes:
    assert len(body) < 128
    return bytes([number << 3 | 2, len(body)]) + body


def test_a_float_list_written_as_a_varint_is_a_wire_error():
    """Found by the fuzz test (seed 19): an attribute's `floats` (field 7) as a varint was a TypeError."""
    attribute = _message(1, b"alpha") + b"\x38\x01"  # floats, wire type 0
    node = _message(4, b"Elu") + _message(5, attribute)
    with pytest.raises(CnnCalcError, match="a float field of the wrong wire type"):
        decode_model(_message(7, _message(1, node)), "m")
    for kind_byte in (b"\x3d\x00\x00\x80\x3f", b"\x3a\x04\x00\x00\x80\x3f"):  # fixed32 and packed
        node = _message(4, b"Elu") + _message(5, _message(1, b"alpha") + kind_byte)
        attribute = decode_model(_message(7, _message(1, node)), "m").graph.node[0].attribute[0]
        assert list(attribute.floats) == [1.0]


def test_a_name_with_a_line_break_stays_one_line_in_every_error():
    """Found by the fuzz test (seed 18): a node input named with a line break made a two-line error."""
    error = CnnCalcError("bias '\nONV1.bias' must be a constant", file="m.onnx", layer="a\x1b[31m")
    assert "\n" not in str(error) and "\x1b" not in str(error) and "\\nONV1" in str(error)


def test_field_cap_just_inside_and_outside(monkeypatch):
    data = export_onnx(load_spec("lenet5"), seed=0).SerializeToString()
    reader = onnx_proto._Reader(data, "l.onnx")
    model = reader.model()
    # every node, attribute, value and initializer field is one, and each holds more inside
    assert reader.walked > 3 * (len(model.graph.node) + len(model.graph.initializer))
    monkeypatch.setattr(onnx_proto, "MAX_FIELDS", reader.walked)
    decode_model(data, "l.onnx")
    monkeypatch.setattr(onnx_proto, "MAX_FIELDS", reader.walked - 1)
    with pytest.raises(CnnCalcError, match="too many protobuf fields"):
        decode_model(data, "l.onnx")


LENET = export_onnx(load_spec("lenet5"), seed=0).SerializeToString()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_damage_is_one_error_or_a_model(data):
    raw = bytearray(LENET)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    try:
        model = decode_model(bytes(raw[:cut]), "m.onnx")
    except CnnCalcError as error:
        assert "m.onnx" in str(error)
    else:
        assert model.graph.node


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_a_summary_of_an_onnx_model_needs_neither_onnx_nor_numpy(tmp_path):
    path = tmp_path / "resnet18.onnx"
    path.write_bytes(export_onnx(load_spec("resnet18"), seed=0).SerializeToString())
    out = _run(f"""
import sys
sys.modules["onnx"] = None  # as if the onnx extra were not installed
from typer.testing import CliRunner
from cnncalc.cli import app
result = CliRunner().invoke(app, ["summary", {str(path)!r}, "--format", "json"])
assert result.exit_code == 0, result.output
import json
print(json.loads(result.output)["totals"]["params"], "numpy" in sys.modules, "google.protobuf" in sys.modules)
""")
    assert out.split() == ["11689512", "False", "False"]  # torchvision's resnet18


def test_import_still_runs_onnx_checker(cli, tmp_path):
    model = export_onnx(load_spec("lenet5"), seed=0)
    model.graph.node[1].input[0] = model.graph.node[3].output[0]  # node 1 reads node 3, which depends on it
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    code, _, err = cli("import", str(path))
    assert code == 2 and "onnx.checker" in err and "cycle" in err, err
    code, _, err = cli("summary", str(path))  # without the checker: cnncalc's own sort names the cycle
    assert code == 2 and "comes round a cycle" in err, err


# ---------------------------------------------------------------- Constant nodes (read as arrays)


def _reshaped_by_constant(**constant: object) -> onnx.ModelProto:
    nodes = [helper.make_node("Constant", [], ["s"], name="c", **constant),
             helper.make_node("Reshape", ["x", "s"], ["y"], name="r"),
             helper.make_node("Relu", ["y"], ["z"], name="relu")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 48])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize("constant", [
    {"value": numpy_helper.from_array(np.array([1, -1], dtype=np.int64))},
    {"value_ints": [1, 48]},
], ids=["value", "value_ints"])
@pytest.mark.parametrize("command", ["summary", "import"])
def test_a_constant_node_feeds_a_reshape(cli, tmp_path, constant, command):
    path = tmp_path / "c.onnx"
    path.write_bytes(_reshaped_by_constant(**constant).SerializeToString())
    code, out, err = cli(command, str(path), *(["--format", "json"] if command == "summary" else []))
    assert code == 0, err
    if command == "summary":
        import json

        layers = json.loads(out)["layers"]
        assert [(layer["type"], layer["output_shape"]) for layer in layers] == [("permute", [3, 4, 4]), ("flatten", [48]), ("relu", [48])]
    else:
        assert "type: flatten" in out and "type: relu" in out


def test_constant_of_shape_folds_its_value_tensor(cli, tmp_path):
    nodes = [helper.make_node("Constant", [], ["shape"], value_ints=[2]),
             helper.make_node("ConstantOfShape", ["shape"], ["s"],
                              value=numpy_helper.from_array(np.array([-1], dtype=np.int64))),
             helper.make_node("Mul", ["s", "minus"], ["target"]),  # [1, 1]
             helper.make_node("Concat", ["target", "rest"], ["full"], axis=0),
             helper.make_node("Reshape", ["x", "full"], ["y"], name="r")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 4])],
                              [numpy_helper.from_array(np.array([-1, -1], dtype=np.int64), "minus"),
                               numpy_helper.from_array(np.array([6, 4], dtype=np.int64), "rest")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = tmp_path / "cos.onnx"
    path.write_bytes(model.SerializeToString())
    code, out, err = cli("import", str(path))
    assert code == 0, err
    assert "shape: [1, 6, 4]" in out, out


# ---------------------------------------------------------------- what onnx.checker would have refused


def _summary_of(cli, tmp_path, model: onnx.ModelProto) -> tuple[int, str]:
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    code, _, err = cli("summary", str(path))
    return code, err


def _lenet_with(change) -> onnx.ModelProto:
    model = export_onnx(load_spec("lenet5"), seed=0)
    change(next(n for n in model.graph.node if n.op_type == "Conv"))
    return model


def test_an_attribute_of_the_wrong_type_is_named(cli, tmp_path):
    def kernel_as_int(node):
        attribute = next(a for a in node.attribute if a.name == "kernel_shape")
        attribute.ClearField("ints")
        attribute.type, attribute.i = onnx.AttributeProto.INT, 5

    code, err = _summary_of(cli, tmp_path, _lenet_with(kernel_as_int))
    assert code == 2 and "attribute 'kernel_shape' must be INTS (got 'INT')" in err, err
    assert err.count("\n") == 1 and "node 'CONV1'" in err


def test_a_node_missing_an_input_is_named(cli, tmp_path):
    def no_weight(node):
        del node.input[1:]

    code, err = _summary_of(cli, tmp_path, _lenet_with(no_weight))
    assert code == 2 and "Conv takes at least 2 inputs" in err, err


def test_a_node_malformed_in_another_way_is_still_one_line(cli, tmp_path):
    def one_pad(node):
        pads = next(a for a in node.attribute if a.name == "pads")
        del pads.ints[1:]  # four values for a 2-D kernel, one given

    code, err = _summary_of(cli, tmp_path, _lenet_with(one_pad))
    assert code == 2 and "malformed node (IndexError" in err and "node 'CONV1'" in err, err
    assert err.count("\n") == 1


def _light(name: str, tmp_path_factory) -> bytes:
    from cnncalc.interop.onnx_import import read_light

    path = tmp_path_factory.mktemp("light") / f"{name}.onnx"
    path.write_bytes(export_onnx(load_spec(name), seed=0).SerializeToString())
    return read_light(path)


@pytest.fixture(scope="module")
def light_models(tmp_path_factory):
    return [_light(name, tmp_path_factory) for name in ("lenet5", "shufflenet_v2_x1_0", "vit_b_16")]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_damaged_model_summarises_or_fails_with_one_error(light_models, data):
    """Without onnx.checker, the importer itself must turn every damaged graph into one error line: bytes
    changed anywhere in the graph (weights left out, so the changes land in nodes and attributes)."""
    from cnncalc.calc.analysis import analyse
    from cnncalc.interop.onnx.importer import _Importer
    from cnncalc.interop.onnx_import import network_of

    raw = bytearray(light_models[data.draw(st.integers(0, len(light_models) - 1))])
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        imported = _Importer(decode_model(bytes(raw), "m.onnx"), "m.onnx", False, 2**28, False).run()
        analyse(network_of(imported, "m.onnx"))
    except CnnCalcError as error:
        message = str(error).strip()
        assert message and "\n" not in message, message


def test_control_characters_in_a_name_stay_escaped_in_the_error(cli, tmp_path):
    """A node named with a newline and a terminal escape: the error is still one line, and the escape is
    shown, never sent to the terminal."""
    def renamed(node):
        node.name = "CONV\n1\x1b[31m"
        del node.input[1:]

    code, err = _summary_of(cli, tmp_path, _lenet_with(renamed))
    assert code == 2 and err.count("\n") == 1 and "\x1b" not in err
    assert "node 'CONV\\n1\\x1b[31m' (Conv" in err, err


# ---------------------------------------------------------------- both encodings of repeated numbers


def _varint(value: int) -> bytes:
    value &= 2**64 - 1
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def _key(number: int, kind: int) -> bytes:
    return _varint(number << 3 | kind)


def _packed(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _both_ways(data: bytes, message: type) -> tuple[object, object]:
    theirs = message()
    theirs.ParseFromString(data)
    return onnx_proto._Reader(data, "t"), theirs


def test_packed_and_unpacked_repeated_numbers_read_alike():
    """protobuf accepts repeated numbers packed (one length-delimited field) or one field per value, and
    onnx writes some each way (dims one by one, int64_data packed): every field is read either way, as
    protobuf itself reads it."""
    values = [-3, 0, 7]
    dims_packed = _packed(1, _varint(3))
    int64_unpacked = b"".join(_key(7, 0) + _varint(v) for v in values)
    data = dims_packed + _key(2, 0) + _varint(TensorProto.INT64) + int64_unpacked
    reader, theirs = _both_ways(data, TensorProto)
    ours = reader.tensor(0, len(data))
    assert ours.dims == list(theirs.dims) == [3]
    np.testing.assert_array_equal(ours.to_numpy(), numpy_helper.to_array(theirs))
    np.testing.assert_array_equal(ours.to_numpy(), values)
    floats = [1.5, -2.0]
    data = _key(1, 0) + _varint(2) + _key(2, 0) + _varint(TensorProto.FLOAT) \
        + b"".join(_key(4, 5) + struct.pack("<f", v) for v in floats)  # float_data one by one
    reader, theirs = _both_ways(data, TensorProto)
    np.testing.assert_array_equal(reader.tensor(0, len(data)).to_numpy(), numpy_helper.to_array(theirs))
    np.testing.assert_array_equal(reader.tensor(0, len(data)).to_numpy(), floats)
    # an attribute's ints packed, its floats packed, its int given twice (the last one counts)
    data = _packed(1, b"k") + _key(20, 0) + _varint(7) + _packed(8, b"".join(_varint(v) for v in values)) \
        + _packed(7, struct.pack("<2f", *floats)) + _key(3, 0) + _varint(4) + _key(3, 0) + _varint(-9)
    reader, theirs = _both_ways(data, onnx.AttributeProto)
    ours = reader.attribute(0, len(data))
    assert ours.ints == list(theirs.ints) == values
    assert ours.floats == list(theirs.floats) == floats
    assert ours.i == theirs.i == -9


def test_a_tensor_without_its_values_is_unreadable_and_an_empty_one_is_empty():
    for data_type, field in ((TensorProto.FLOAT, "float_data"), (TensorProto.INT64, "int64_data"),
                             (TensorProto.INT8, "int32_data")):
        tensor = _tensor("t", data_type, [2])
        ours = onnx_proto._Reader(tensor.SerializeToString(), "t").tensor(0, tensor.ByteSize())
        with pytest.raises(ValueError, match=f"{field} holds 0 values for 2"):
            ours.to_numpy()
        empty = _tensor("e", data_type, [0, 3])
        got = onnx_proto._Reader(empty.SerializeToString(), "t").tensor(0, empty.ByteSize()).to_numpy()
        assert got.shape == (0, 3) and got.dtype == numpy_helper.to_array(empty).dtype


# ---------------------------------------------------------------- attribute defaults, as ONNX defines them


def _model(nodes: list, inputs: list, outputs: list, initializers: tuple = ()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    return model


def _layers(cli, tmp_path, model: onnx.ModelProto) -> list[dict]:
    import yaml

    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    code, out, err = cli("import", str(path))
    assert code == 0, err
    return yaml.safe_load(out)["layers"]


def _x(shape: list[int]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)


def _y(shape: list | None = None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)


def _i64(name: str, values: list[int]) -> TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def test_a_shape_computation_with_end_and_a_slice_without_steps_folds(cli, tmp_path):
    """Shape(end=1) → [N]; a Slice of a constant with axes but no steps → [3, 16]; the Reshape target
    [N, 3, 16] is their Concat."""
    nodes = [helper.make_node("Shape", ["x"], ["batch"], end=1),
             helper.make_node("Slice", ["table", "one", "three", "axis0"], ["rest"]),
             helper.make_node("Concat", ["batch", "rest"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"], name="r")]
    model = _model(nodes, [_x([1, 3, 4, 4])], [_y([1, 3, 16])],
                   [_i64("table", [0, 3, 16, 99]), _i64("one", [1]), _i64("three", [3]), _i64("axis0", [0])])
    assert _layers(cli, tmp_path, model) == [{"type": "permute", "name": "input.permute", "axes": [2, 0, 1]},
                                             {"type": "reshape", "name": "r", "shape": [3, 16]}]


def test_conv_transpose_and_lrn_take_onnx_defaults(cli, tmp_path):
    weight = numpy_helper.from_array(np.ones((3, 2, 2, 2), dtype=np.float32), "w")
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["t"], name="up"),  # no strides: 1
             helper.make_node("LRN", ["t"], ["y"], name="lrn", size=3)]  # alpha, beta, bias left out
    layers = _layers(cli, tmp_path, _model(nodes, [_x([1, 3, 4, 4])], [_y([1, 2, 5, 5])], [weight]))
    assert layers == [{"type": "conv_transpose", "name": "up", "filters": 2, "kernel": 2, "bias": False},
                      {"type": "lrn", "name": "lrn", "size": 3, "alpha": 0.0001, "beta": 0.75, "k": 1.0}]


def test_pads_of_the_wrong_length_are_named(cli, tmp_path):
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], name="p")]
    model = _model(nodes, [_x([1, 3, 4, 4])], [_y([1, 3, 4, 4])], [_i64("pads", [0, 0, 1, 1])])
    path = tmp_path / "p.onnx"
    path.write_bytes(model.SerializeToString())
    code, _, err = cli("summary", str(path))
    assert code == 2 and "Pad must pad only the spatial axes, by non-negative amounts (got [0, 0, 1, 1])" in err, err


@pytest.mark.parametrize("kind, table", [("avg", "matrix"), ("max", "windows")])
def test_an_adaptive_pool_table_that_is_not_a_constant_is_named(cli, tmp_path, kind, table):
    network_spec = f"input: [6, 6, 2]\nlayers: [{{type: adaptive_{kind}pool, name: a, size: 2}}]"
    from cnncalc.spec.network import loads_spec

    model = export_onnx(loads_spec(network_spec), seed=0)
    node = next(n for n in model.graph.node if n.op_type.startswith("Adaptive"))
    node.input[1] = node.input[0]  # the table replaced by the (computed) input
    path = tmp_path / "a.onnx"
    path.write_bytes(model.SerializeToString())
    code, _, err = cli("summary", str(path))
    assert code == 2 and f"axis 0's {table} '{node.input[0]}' must be a constant" in err, err
