"""Hostile inputs to `cnncalc run`: every one ends in exit 2 with the fragment a user needs, in bounded time and
memory. Files are built at test time and stay tiny on disk: headers that lie, bombs that would inflate, images
that only declare their size.

Caps owned here (each pinned by a test just inside and one just outside):
- every file `run` reads (input .npy or image, weights .npz) is at most --max-memory bytes;
- an array a file declares, converted to float64, fits in --max-memory;
- an .npz declares at most --max-memory bytes of members, each inflates to no more than it declares,
  at most MAX_NPZ_MEMBERS (4,096) members;
- an image has at most MAX_IMAGE_PIXELS (8192×8192) pixels, and its float array fits in --max-memory;
- the run's arrays (input, weights, every layer's output, the largest working copy) fit in --max-memory;
- --max-memory is from 1 byte to 1 PiB; --seed from 0 to 2**63 − 1.
"""

from __future__ import annotations

import io
import os
import struct
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from cnncalc import CnnCalcError, loads_spec
from cnncalc.run import files
from cnncalc.run.executor import run

DENSE3 = "input: [3]\nlayers: [{type: dense, name: d, units: 2}]\n"


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def npy_bytes(header: dict | str, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    """An .npy file with any header, padded as numpy pads it; the data need not match."""
    text = header if isinstance(header, str) else repr(header)
    body = text.encode("latin1") + b" "
    prefix_len = 10 if version == (1, 0) else 12
    body += b" " * ((-(prefix_len + len(body) + 1)) % 64) + b"\n"
    size = struct.pack("<H", len(body)) if version == (1, 0) else struct.pack("<I", len(body))
    return b"\x93NUMPY" + bytes(version) + size + body + data


def npz_bytes(members: dict[str, bytes], compress: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def set_declared_size(raw: bytes, size: int) -> bytes:
    """Make every zip header (local and central) claim ``size`` uncompressed bytes."""
    data = bytearray(raw)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(signature, start)) >= 0:
            data[at + offset: at + offset + 4] = struct.pack("<I", size)
            start = at + 4
    return bytes(data)


def png_header_only(width: int, height: int, colour_type: int = 0) -> bytes:
    """A PNG that declares width × height but holds no pixel data (Pillow reads the size, fails on load)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.fixture()
def small(tmp_path):
    """A 3-input dense spec and a good input for it."""
    spec = write(tmp_path / "d.yaml", DENSE3)
    x = tmp_path / "x.npy"
    np.save(x, np.array([1.0, 2.0, 3.0]))
    return spec, str(x)


def refused(result, *fragments: str) -> None:
    code, out, err = result
    assert code == 2, (code, out, err)
    assert "internal error" not in err and "Traceback" not in err
    assert err.count("\n") == 1, err  # one line
    for fragment in fragments:
        assert fragment in err, (fragment, err)


# ------------------------------------------------------------------ root cause 6: the memory guard


def test_seeded_dense_of_ten_billion_weights_is_refused_before_allocating(tmp_path, cli):
    spec = write(tmp_path / "big.yaml", "input: [100000]\nlayers: [{type: dense, name: huge, units: 100000}]\n")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros(100000, dtype=np.uint8))  # 100 KB on disk
    start = time.perf_counter()
    refused(cli("run", spec, "--input", str(x), "--seed", "0"),
            "would allocate about 74.5 GiB", "layer 1 'huge' weight [100000, 100000]", "--max-memory = 2.0 GiB")
    assert time.perf_counter() - start < 5  # refused before allocating: 0.04 s quiet


def test_npy_header_claiming_ten_trillion_elements(tmp_path, cli, small):
    spec, _ = small
    path = tmp_path / "liar.npy"
    path.write_bytes(npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (10**13,)}))
    refused(cli("run", spec, "--input", str(path)), "declares shape [10000000000000]", "--max-memory")


def test_npy_header_claiming_a_small_array_but_truncated(tmp_path, cli, small):
    spec, _ = small
    path = tmp_path / "short.npy"
    path.write_bytes(npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (3,)}, b"\0" * 16))
    refused(cli("run", spec, "--input", str(path)), "holds 16 bytes of data", "declares shape [3]")


def test_npz_whose_zip_header_lies_about_a_huge_member(tmp_path, cli, small):
    spec, x = small
    good = io.BytesIO()
    np.save(good, np.ones((3, 2)))
    raw = set_declared_size(npz_bytes({"d.weight.npy": good.getvalue()}), 0xFFFFFFFF)
    path = tmp_path / "liar.npz"
    path.write_bytes(raw)
    refused(cli("run", spec, "--input", x, "--weights", str(path), "--seed", "0"),
            "declares 4.0 GiB of arrays", "d.weight.npy", "--max-memory = 2.0 GiB")


def test_npz_bomb_with_an_honest_header_is_refused_by_its_declared_size(tmp_path, cli, small):
    spec, x = small
    member = io.BytesIO()
    np.save(member, np.zeros(1 << 20))  # 8 MiB of zeros, about 8 KB deflated
    path = tmp_path / "bomb.npz"
    path.write_bytes(npz_bytes({"d.weight.npy": member.getvalue()}))
    assert path.stat().st_size < 20_000
    refused(cli("run", spec, "--input", x, "--weights", str(path), "--seed", "0", "--max-memory", "1MB"),
            "declares 8.0 MiB of arrays", "--max-memory = 1.0 MiB")


def test_npz_bomb_that_hides_behind_a_small_declared_size_stops_at_that_size(tmp_path, cli, small):
    spec, x = small
    member = io.BytesIO()
    np.save(member, np.zeros(1 << 20))
    raw = set_declared_size(npz_bytes({"d.weight.npy": member.getvalue()}), 1000)
    path = tmp_path / "bomb.npz"
    path.write_bytes(raw)
    refused(cli("run", spec, "--input", x, "--weights", str(path), "--seed", "0"), "d.weight.npy")
    # inflating stops at the declared 1,000 bytes: the member is refused as damaged, never inflated in full
    with pytest.raises(CnnCalcError, match="inflates past|damaged|Bad CRC"):
        files.load_weights_file(path)


@pytest.mark.parametrize("members, fragment", [
    ({"sub/": b""}, "not an .npy array: 'sub/'"),
    ({"inner.npz": b"PK\x03\x04"}, "not an .npy array: 'inner.npz'"),
    ({"d.weight.npy": b"PK\x05\x06" + b"\0" * 18}, "not a readable .npy array"),
    ({".npy": b""}, "not an .npy array"),
])
def test_npz_odd_members(tmp_path, cli, small, members, fragment):
    spec, x = small
    path = tmp_path / "odd.npz"
    path.write_bytes(npz_bytes(members))
    refused(cli("run", spec, "--input", x, "--weights", str(path), "--seed", "0"), fragment)


def test_npz_member_twice(tmp_path, cli, small):
    spec, x = small
    buffer = io.BytesIO()
    member = io.BytesIO()
    np.save(member, np.ones(2))
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("d.bias.npy", member.getvalue())
        with pytest.warns(UserWarning):
            archive.writestr("d.bias.npy", member.getvalue())
    path = tmp_path / "twice.npz"
    path.write_bytes(buffer.getvalue())
    refused(cli("run", spec, "--input", x, "--weights", str(path), "--seed", "0"), "'d.bias.npy' twice")


@pytest.mark.parametrize("arrays, fragment", [
    ({"d.weight": np.full((3, 2), np.nan)}, "'d.weight' holds NaN or infinite values"),
    ({"d.bias": np.array([np.inf, 0.0])}, "'d.bias' holds NaN or infinite values"),
    ({"d.weight": np.ones((2, 3))}, "'d.weight' from the weights file has the wrong shape"),
    ({"d.weight": np.ones((3, 2), dtype=bool)}, "must hold numbers"),
    ({"d.wieght": np.ones((3, 2))}, "no layer uses: 'd.wieght'; did you mean 'd.weight'?"),
])
def test_bad_weight_values(tmp_path, cli, small, arrays, fragment):
    spec, x = small
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    refused(cli("run", spec, "--input", x, "--weights", str(path), "--seed", "0"), fragment)


def test_negative_variance_in_the_weights_file(tmp_path, cli):
    spec = write(tmp_path / "bn.yaml", "input: [2]\nlayers: [{type: batchnorm, name: bn}]\n")
    path = tmp_path / "w.npz"
    np.savez(path, **{"bn.var": np.array([1.0, -1.0])})
    refused(cli("run", spec, "--input", write(tmp_path / "x.yaml", "[1, 2]\n"), "--weights", str(path), "--seed", "0"),
            "'bn.var' has a negative variance")


def test_npz_member_with_object_dtype_is_never_unpickled(tmp_path, cli, small):
    spec, x = small
    path = tmp_path / "pickle.npz"
    np.savez(path, **{"d.weight": np.array([{"a": 1}], dtype=object)})
    refused(cli("run", spec, "--input", x, "--weights", str(path), "--seed", "0"), "must hold numbers", "object")


def test_png_of_20000_by_20000_pixels(tmp_path, cli, small):
    pytest.importorskip("PIL.Image")
    spec, _ = small
    path = tmp_path / "huge.png"
    path.write_bytes(png_header_only(20000, 20000))
    assert path.stat().st_size < 100
    refused(cli("run", spec, "--input", str(path)), "image is too large", "got '400,000,000 pixels'",
            "at most 67,108,864 pixels")


def test_image_pixel_cap_just_inside_and_just_outside(tmp_path):
    pytest.importorskip("PIL.Image")
    inside, outside = tmp_path / "in.png", tmp_path / "out.png"
    inside.write_bytes(png_header_only(8192, 8192))
    outside.write_bytes(png_header_only(8192, 8193))
    with pytest.raises(CnnCalcError, match="8192×8193 = 67,117,056 pixels"):
        files.load_input_file(outside)
    # inside the cap, the size check passes and decoding starts (then fails: there are no pixels)
    with pytest.raises(CnnCalcError) as info:
        files.load_input_file(inside)
    assert "cannot read the image" in str(info.value) and "too large" not in str(info.value)


def test_image_memory_cap_just_inside_and_just_outside(tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    path = tmp_path / "grey.png"
    image_module.fromarray(np.arange(16 * 16, dtype=np.uint8).reshape(16, 16)).save(path)
    budget = 16 * 16 * 8  # the float64 array of a 16×16 grey image, exactly
    array = files.load_input_file(path, budget)
    np.testing.assert_array_equal(array[:, :, 0], np.arange(256).reshape(16, 16))
    with pytest.raises(CnnCalcError, match="16×16 pixels needs about 2.0 KiB"):
        files.load_input_file(path, budget - 1)


# ------------------------------------------------------------------ the caps, just inside and just outside


def test_input_file_byte_cap_is_max_memory(tmp_path):
    array = np.arange(496, dtype=np.float64)
    path = tmp_path / "x.npy"
    np.save(path, array)
    size = path.stat().st_size
    assert size == 128 + 496 * 8 == 4096
    np.testing.assert_array_equal(files.load_input_file(path, 4096), array)
    with pytest.raises(CnnCalcError, match="input file too large"):
        files.load_input_file(path, 4095)


def test_declared_array_cap_counts_float64_bytes(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros(100, dtype=np.uint8))  # 100 bytes on disk, 800 as float64
    assert files.load_input_file(path, 800).shape == (100,)
    with pytest.raises(CnnCalcError, match="declares shape \\[100\\], about 800 B"):
        files.load_input_file(path, 799)


def test_weights_file_byte_cap_is_max_memory(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, **{"d.weight": np.ones((3, 2)), "d.bias": np.zeros(2)})  # stored: the file is the largest
    size = path.stat().st_size
    assert size > sum(info.file_size for info in zipfile.ZipFile(path).infolist())
    np.testing.assert_array_equal(files.load_weights_file(path, size)["d.weight"], np.ones((3, 2)))
    with pytest.raises(CnnCalcError, match=f"weights file too large \\({size:,} bytes, at most {size - 1:,}\\)"):
        files.load_weights_file(path, size - 1)


def test_weights_declared_size_cap_is_max_memory(tmp_path):
    member = io.BytesIO()
    np.save(member, np.zeros(1000))  # 8,128 bytes, deflated to a few dozen
    path = tmp_path / "w.npz"
    path.write_bytes(npz_bytes({"d.bias.npy": member.getvalue()}))
    declared = len(member.getvalue())
    assert path.stat().st_size < declared == 8128
    assert files.load_weights_file(path, declared)["d.bias"].shape == (1000,)
    with pytest.raises(CnnCalcError, match="declares 7.9 KiB of arrays"):
        files.load_weights_file(path, declared - 1)


def test_image_byte_cap_is_max_memory(tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    path = tmp_path / "noise.png"
    image_module.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)).save(path)
    size = path.stat().st_size
    assert size < 16 * 16 * 8  # the float array, not the file, is usually the binding cap
    noisy = tmp_path / "padded.png"
    noisy.write_bytes(path.read_bytes() + b"\0" * (3000 - size))  # bytes after IEND are ignored by readers
    assert files.load_input_file(noisy, 3000).shape == (16, 16, 1)
    with pytest.raises(CnnCalcError, match="image too large \\(3,000 bytes, at most 2,999\\)"):
        files.load_input_file(noisy, 2999)


def test_npz_member_count_cap(tmp_path):
    assert files.MAX_NPZ_MEMBERS == 4096
    empty = io.BytesIO()
    np.save(empty, np.zeros(0))
    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for i in range(files.MAX_NPZ_MEMBERS):
            archive.writestr(f"l{i}.bias.npy", empty.getvalue())
    assert len(files.load_weights_file(path)) == files.MAX_NPZ_MEMBERS
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr("one.more.npy", empty.getvalue())
    with pytest.raises(CnnCalcError, match="4,097 members"):
        files.load_weights_file(path)


def test_run_memory_guard_just_inside_and_just_outside():
    spec = loads_spec(DENSE3)
    x = np.array([1.0, 2.0, 3.0])
    # input 3 + output 2 + weight 3·2 + bias 2 = 13 values of 8 bytes
    weights = {"d.weight": np.ones((3, 2)), "d.bias": np.zeros(2)}
    np.testing.assert_array_equal(run(spec, x, weights, max_memory=13 * 8).output, [6, 6])
    with pytest.raises(CnnCalcError, match="would allocate about 104 B"):
        run(spec, x, weights, max_memory=13 * 8 - 1)
    # float32 halves it
    assert run(spec, x, weights, max_memory=13 * 4, dtype=np.float32).output.dtype == np.float32


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("1024TB", 1024**5), ("1PB", 1024**5), ("1PiB", 1024**5), ("2GB", 2 * 1024**3), ("512MiB", 512 * 1024**2), ("1e9", 10**9),
    ("0.5KB", 512), (" 3 k ", 3072),
])
def test_max_memory_accepted(text, value):
    from cnncalc.cli import parse_bytes

    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "0", "0.5", "1e400", "2XB", "1025TB", "1.001PB", "", "1_000",
                                  "infinity", "1e-9", "0x10"])
def test_max_memory_refused(tmp_path, cli, small, text):
    spec, x = small
    refused(cli("run", spec, "--input", x, "--seed", "0", "--max-memory", text), "bad --max-memory")


# ------------------------------------------------------------------ root cause 2: unbounded reads


@pytest.mark.parametrize("option", ["--input", "--weights"])
def test_fifo_as_input_or_weights_does_not_hang(tmp_path, cli_process, small, option):
    spec, x = small
    fifo = tmp_path / ("pipe.npy" if option == "--input" else "pipe.npz")
    os.mkfifo(fifo)
    args = {"--input": x, "--weights": None, option: str(fifo)}
    command = ["run", spec, "--seed", "0"] + [a for key, value in args.items() if value for a in (key, value)]
    code, _, err = cli_process(*command, timeout=20)
    assert code == 2 and "not a regular file" in err


@pytest.mark.parametrize("option", ["--input", "--weights"])
@pytest.mark.parametrize("target", ["/dev/zero", "folder"])
def test_device_or_folder_as_input_or_weights(tmp_path, cli, small, option, target):
    spec, x = small
    if target == "folder":
        path = tmp_path / ("dir.npy" if option == "--input" else "dir.npz")
        path.mkdir()
        fragment = "a folder"
    else:
        if not os.path.exists("/dev/zero"):
            pytest.skip("no /dev/zero")
        path = tmp_path / ("zero.npy" if option == "--input" else "zero.npz")
        path.symlink_to("/dev/zero")
        fragment = "not a regular file"
    args = ["run", spec, "--seed", "0", "--input", str(path) if option == "--input" else x]
    if option == "--weights":
        args += ["--weights", str(path)]
    refused(cli(*args), fragment)


def test_yaml_input_from_dev_zero(tmp_path, cli, small):
    spec, _ = small
    path = tmp_path / "zero.yaml"
    path.symlink_to("/dev/zero")
    refused(cli("run", spec, "--input", str(path)), "not a regular file")


# ------------------------------------------------------------------ root cause 12: validation gaps


@pytest.mark.parametrize("seed, ok", [("0", True), (str(2**63 - 1), True), (str(2**63), False), ("-1", False),
                                      ("1e5", False), ("9" * 5000, False), ("", False), ("٣", False)])
def test_seed_range(cli, small, seed, ok):
    spec, x = small
    result = cli("run", spec, "--input", x, "--seed", seed)
    if ok:
        assert result[0] == 0, result
    else:
        refused(result, "bad --seed", "2**63 − 1")
        assert len(result[2]) < 200


def test_seed_range_in_the_library():
    with pytest.raises(CnnCalcError, match="bad --seed"):
        run(loads_spec(DENSE3), np.ones(3), seed=-1)


@pytest.mark.parametrize("name, fragment", [
    ("maps", "--save-maps must end in .png or .jpg or .jpeg"),
    ("maps.txt", "--save-maps must end in"),
    ("folder.png", "--save-maps names a folder"),
    ("missing/maps.png", "the folder does not exist"),
])
def test_save_maps_path(tmp_path, cli, small, name, fragment):
    spec, x = small
    (tmp_path / "folder.png").mkdir()
    refused(cli("run", spec, "--input", x, "--seed", "0", "--save-maps", str(tmp_path / name)), fragment)


@pytest.mark.parametrize("name, fragment", [
    ("out.csv", "--output must end in .npy or .json"),
    ("out", "--output must end in"),
    ("folder.npy", "--output names a folder"),
    ("missing/out.npy", "the folder does not exist"),
])
def test_output_path(tmp_path, cli, small, name, fragment):
    spec, x = small
    (tmp_path / "folder.npy").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    refused(cli("run", spec, "--input", x, "--seed", "0", "--output", str(tmp_path / name)), fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_output_npy_is_written_exactly_where_asked(tmp_path, cli, small):
    spec, x = small
    out = tmp_path / "OUT.NPY"
    code, _, err = cli("run", spec, "--input", x, "--seed", "0", "--output", str(out))
    assert code == 0, err
    assert np.load(out).shape == (2,) and not (tmp_path / "OUT.NPY.npy").exists()


@pytest.mark.parametrize("content", [b"hello, not a zip", b"", b"\x93NUMPY"])
def test_weights_that_are_not_a_zip(tmp_path, cli, small, content):
    spec, x = small
    path = tmp_path / "w.npz"
    path.write_bytes(content)
    refused(cli("run", spec, "--input", x, "--weights", str(path)), "is not an .npz archive")


def test_weights_that_are_a_single_npy(tmp_path, cli, small):
    spec, x = small
    path = tmp_path / "w.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.ones((3, 2)))
    refused(cli("run", spec, "--input", x, "--weights", str(path)), "got 'a single .npy array'")


def test_maps_layer_on_a_non_image_layer(tmp_path, cli):
    pytest.importorskip("PIL.Image")
    spec = write(tmp_path / "s.yaml", "input: [4, 4, 1]\nlayers:\n  - {type: conv, name: c, filters: 2, kernel: 3}\n"
                                      "  - {type: flatten, name: f}\n")
    x = tmp_path / "x.npy"
    np.save(x, np.ones((4, 4, 1)))
    refused(cli("run", spec, "--input", str(x), "--seed", "0", "--save-maps", str(tmp_path / "m.png"),
                "--maps-layer", "f"), "--maps-layer must name a layer with an [H, W, C] output", "one of c")
    refused(cli("run", spec, "--input", str(x), "--seed", "0", "--save-maps", str(tmp_path / "m.png"),
                "--maps-layer", "cc"), "names no layer", "did you mean 'c'?")
    assert not (tmp_path / "m.png").exists()


def test_batchnorm_negative_epsilon(tmp_path, cli):
    spec = write(tmp_path / "bn.yaml", "input: [2]\nlayers: [{type: batchnorm, epsilon: -10}]\n")
    refused(cli("summary", spec), "field 'epsilon'", "got -10", "a finite number ≥ 0")
    x = write(tmp_path / "x.yaml", "[1, 2]\n")
    refused(cli("run", spec, "--input", x, "--seed", "0"), "field 'epsilon'")
    for bad in (".inf", ".nan", "abc"):
        refused(cli("summary", write(tmp_path / "b.yaml", f"input: [2]\nlayers: [{{type: batchnorm, epsilon: {bad}}}]\n")),
                "field 'epsilon'")


def test_batchnorm_zero_epsilon_needs_a_positive_variance():
    spec = loads_spec("input: [2]\nlayers: [{type: batchnorm, name: bn, epsilon: 0}]")
    weights = {"bn.gamma": np.ones(2), "bn.beta": np.zeros(2), "bn.mean": np.zeros(2), "bn.var": np.array([4.0, 0.0])}
    with pytest.raises(CnnCalcError, match="var \\+ epsilon is 0 for channel 1"):
        run(spec, np.ones(2), weights)
    weights["bn.var"] = np.array([4.0, 1.0])
    np.testing.assert_array_equal(run(spec, np.array([2.0, 3.0]), weights).output, [1.0, 3.0])


@pytest.mark.parametrize("axis, ok", [(2, True), (-3, True), (3, False), (-4, False), (7, False)])
def test_softmax_axis_is_checked_against_the_input_rank(tmp_path, cli, axis, ok):
    spec = write(tmp_path / "s.yaml", f"input: [2, 2, 3]\nlayers: [{{type: softmax, axis: {axis}}}]\n")
    if ok:
        assert cli("summary", spec)[0] == 0
        x = np.arange(12.0).reshape(2, 2, 3)
        out = run(loads_spec(Path(spec).read_text()), x).output
        expected = np.exp(x) / np.exp(x).sum(axis=axis, keepdims=True)
        np.testing.assert_allclose(out, expected, rtol=1e-12)
    else:
        refused(cli("summary", spec), "field 'axis'", f"got {axis}", "-3", "2")


# ------------------------------------------------------------------ inputs


@pytest.mark.parametrize("text, fragment", [
    ("[1, .nan, 3]", "NaN or infinite"),
    ("[1, .inf, 3]", "NaN or infinite"),
    ("[1, -.inf, 3]", "NaN or infinite"),
    ("[1, '2', 3]", "nested lists of numbers"),
    ("[1, true, 3]", "nested lists of numbers"),
    ("[1, null, 3]", "nested lists of numbers"),
    ("[1, {a: 1}, 3]", "nested lists of numbers"),
    ("[[1, 2], [3]]", "not rectangular"),
    ("[[1, 2, 3], 4]", "not rectangular"),
    ("[[1, 2], [3, 4]]", "input shape does not match"),
    ("[[[1, 2, 3]]]", "wrong number of axes"),
    ("5", "nested lists of numbers"),
    ("[]", "input shape does not match"),
    ("[[]]", "input shape does not match"),
    ("[1, 2, " + "9" * 400 + "]", "integer too large"),
    ("hello", "nested lists of numbers"),
    ("{inputs: [1, 2, 3]}", "nested lists of numbers"),
])
def test_bad_yaml_inputs(tmp_path, cli, small, text, fragment):
    spec, _ = small
    refused(cli("run", spec, "--input", write(tmp_path / "x.yaml", text + "\n"), "--seed", "0"), fragment)


def test_empty_batch(tmp_path, cli, small):
    spec, _ = small
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((0, 3)))
    refused(cli("run", spec, "--input", str(path), "--seed", "0"), "the input batch is empty")
    with pytest.raises(CnnCalcError, match="batch is empty"):
        run(loads_spec(DENSE3), np.zeros((0, 3)), seed=0)


@pytest.mark.parametrize("array, fragment", [
    (np.array([1.0, np.nan, 3.0]), "NaN or infinite"),
    (np.array([np.inf, 1.0, 3.0], dtype=np.float32), "NaN or infinite"),
    (np.array([True, False, True]), "must hold numbers"),
    (np.array(["a", "b", "c"]), "must hold numbers"),
    (np.array([1 + 2j, 0, 0]), "must hold numbers"),
    (np.zeros(3, dtype=[("a", "<f8")]), "must hold numbers"),
    (np.zeros((3, 1)), "input shape does not match"),
    (np.zeros((2, 2, 3)), "wrong number of axes"),
    (np.float64(1.0), "wrong number of axes"),
])
def test_bad_npy_inputs(tmp_path, cli, small, array, fragment):
    spec, _ = small
    path = tmp_path / "x.npy"
    np.save(path, array)
    refused(cli("run", spec, "--input", str(path), "--seed", "0"), fragment)


@pytest.mark.parametrize("header, fragment", [
    ("{'descr': '|O', 'fortran_order': False, 'shape': (3,)}", "must hold numbers"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (-3,)}", "not a readable .npy"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'extra': 1}", "not a readable .npy"),
    ("{'descr': 'nonsense', 'fortran_order': False, 'shape': (3,)}", "not a readable .npy"),
    ("__import__('os')", "not a readable .npy"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (" + "9" * 400 + ",)}", "declares shape"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 9223372036854775808)}", "declares shape [0, 9223372036854775808]"),
])
def test_npy_headers_that_lie_or_attack(tmp_path, cli, small, header, fragment):
    spec, _ = small
    path = tmp_path / "x.npy"
    path.write_bytes(npy_bytes(header, b"\0" * 24))
    refused(cli("run", spec, "--input", str(path), "--seed", "0"), fragment)


def test_npy_version_3_and_big_endian(tmp_path, cli, small):
    spec, _ = small
    path = tmp_path / "x.npy"
    path.write_bytes(npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (3,)}, b"\0" * 24, version=(3, 0)))
    refused(cli("run", spec, "--input", str(path), "--seed", "0"), "version 3.0")
    np.save(path, np.array([1.0, 2.0, 3.0], dtype=">f8"))  # big-endian is fine
    weights = tmp_path / "w.npz"
    np.savez(weights, **{"d.weight": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), "d.bias": np.zeros(2)})
    code, out, err = cli("run", spec, "--input", str(path), "--weights", str(weights), "--format", "json")
    assert code == 0, err
    assert '"output": [4.0, 5.0]' in out


def test_float32_overflow_of_inputs_and_weights(tmp_path, cli, small):
    spec, _ = small
    x = tmp_path / "x.npy"
    np.save(x, np.array([1e300, 0.0, 1.0]))
    refused(cli("run", spec, "--input", str(x), "--seed", "0", "--dtype", "float32"),
            "the input holds values too large for float32", "--dtype float64")
    assert cli("run", spec, "--input", str(x), "--seed", "0")[0] == 0
    np.save(x, np.ones(3))
    weights = tmp_path / "w.npz"
    np.savez(weights, **{"d.weight": np.full((3, 2), 1e39), "d.bias": np.zeros(2)})
    refused(cli("run", spec, "--input", str(x), "--weights", str(weights), "--dtype", "float32"),
            "'d.weight' holds values too large for float32")


def test_fortran_order_npy_is_read_in_its_order(tmp_path):
    array = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    path = tmp_path / "f.npy"
    np.save(path, array)
    np.testing.assert_array_equal(files.load_input_file(path), np.arange(6.0).reshape(2, 3))


def test_json_output_is_strict_when_a_layer_overflows(tmp_path, cli):
    import json

    spec = write(tmp_path / "s.yaml", "input: [1]\nlayers: [{type: dense, units: 1, weight: [[1.0e+300]], bias: [0]}]\n")
    x = write(tmp_path / "x.yaml", "[1.0e+300]\n")
    out_path = tmp_path / "o.json"
    code, out, err = cli("run", spec, "--input", x, "--format", "json", "--output", str(out_path))
    assert code == 0, err
    assert json.loads(out)["output"] == [None]  # inf has no JSON spelling
    assert "Infinity" not in out and json.loads(out_path.read_text()) == [None]


# ------------------------------------------------------------------ fuzz: random inputs, weights and options

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc.cli import app

SPECS = {"dense": DENSE3, "conv": "input: [4, 4, 1]\nlayers:\n  - {type: conv, name: c, filters: 2, kernel: 3}\n"
                                 "  - {type: batchnorm, name: bn}\n  - {type: softmax}\n"}
DESCRS = ["<f8", "<f4", ">f8", "<i4", "|u1", "<u8", "|b1", "<U3", "|O", "<c16", "|V8", "<M8[s]", "<f2", "nonsense"]

def _cast(array: np.ndarray, dtype: str) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return array.astype(dtype)


dims = st.one_of(st.integers(0, 5), st.integers(-3, 10**14), st.just(2**63))
npy_headers = st.builds(
    lambda descr, shape, fortran, data, version: npy_bytes(
        {"descr": descr, "fortran_order": fortran, "shape": tuple(shape)}, data, version),
    st.sampled_from(DESCRS), st.lists(dims, max_size=4), st.booleans(), st.binary(max_size=96),
    st.sampled_from([(1, 0), (2, 0), (3, 0)]))
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30))
real_arrays = st.builds(
    lambda shape, values, dtype: _cast(np.resize(np.asarray(values if values else [0.0]), shape), dtype),
    st.lists(st.integers(0, 4), max_size=4).map(tuple), st.lists(st.floats(-1e6, 1e6) | st.just(float("nan")), max_size=8),
    st.sampled_from(["f8", "f4", "i2", "u1", "?"]))
yaml_values = st.recursive(st.one_of(numbers, st.booleans(), st.text(max_size=3), st.none()),
                           lambda inner: st.lists(inner, max_size=4), max_leaves=24)


def _array_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


inputs = st.one_of(
    st.tuples(st.just("x.npy"), st.binary(max_size=200)),
    st.tuples(st.just("x.npy"), npy_headers),
    st.tuples(st.just("x.npy"), real_arrays.map(_array_bytes)),
    st.tuples(st.just("x.yaml"), yaml_values.map(lambda value: repr(value).replace("None", "null").encode())),
    st.tuples(st.just("x.png"), st.builds(png_header_only, st.integers(1, 30000), st.integers(1, 30000),
                                          st.sampled_from([0, 2, 4, 6]))),
    st.tuples(st.just("x.png"), st.binary(max_size=100)),
)
member_names = st.sampled_from(["d.weight.npy", "d.bias.npy", "c.weight.npy", "c.bias.npy", "bn.var.npy",
                                "d.weight", "dir/", "x.npz", "d.wieght.npy"])
member_bodies = st.one_of(real_arrays.map(_array_bytes), npy_headers, st.binary(max_size=64))
weights = st.one_of(
    st.none(),
    st.binary(max_size=200),
    st.builds(lambda members, compress, lie: set_declared_size(npz_bytes(members, compress), lie) if lie is not None
              else npz_bytes(members, compress),
              st.dictionaries(member_names, member_bodies, max_size=4), st.booleans(),
              st.none() | st.integers(0, 2**32 - 1)),
)
GOOD_INPUTS = {"dense": np.array([1.0, -2.0, 3.0]), "conv": np.arange(16.0).reshape(4, 4, 1)}
GOOD_WEIGHTS = {"dense": {"d.weight.npy": np.ones((3, 2)), "d.bias.npy": np.zeros(2)},
                "conv": {"c.weight.npy": np.ones((3, 3, 1, 2)), "bn.var.npy": np.full(2, 2.0)}}
options = st.fixed_dictionaries({
    "--max-memory": st.one_of(st.sampled_from(["2GB"] * 6 + ["1KB", "64", "nan", "-1", "1e400", "1PB", "0"]),
                              st.text(max_size=8)),
    "--seed": st.one_of(st.sampled_from(["0", "7", None]), st.integers(-5, 2**64).map(str), st.text(max_size=6)),
    "--output": st.one_of(st.none(), st.sampled_from(["out.npy", "out.json", "out.csv", "out", "sub/out.npy",
                                                      "folder", "OUT.NPY"])),
    "--save-maps": st.one_of(st.none(), st.sampled_from(["maps.png", "maps.jpg", "maps.txt", "folder"])),
    "--dtype": st.sampled_from(["float64", "float32", "float16", "", "FLOAT32"]),
    "--format": st.sampled_from(["text", "json"]),
})
valid_options = st.fixed_dictionaries({
    "--max-memory": st.sampled_from(["2GB", "64MB", "1e9"]),
    "--seed": st.one_of(st.none(), st.integers(0, 2**63 - 1).map(str)),
    "--output": st.sampled_from([None, "out.npy", "out.json", "OUT.NPY"]),
    "--save-maps": st.sampled_from([None, "maps.png", "maps.jpg"]),
    "--dtype": st.sampled_from(["float64", "float32"]),
    "--format": st.sampled_from(["text", "json"]),
})
RUNNER = CliRunner()


def half_good(good: st.SearchStrategy, hostile: st.SearchStrategy) -> st.SearchStrategy:
    """Half the cases good, so the paths after a successful run (writing outputs) are fuzzed too."""
    return st.booleans().flatmap(lambda is_good: good if is_good else hostile)


@settings(max_examples=int(os.environ.get("CNNCALC_FUZZ_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=st.sampled_from(sorted(SPECS)), given_input=half_good(st.none(), inputs),
       given_weights=half_good(st.just(b"good"), weights), given_options=half_good(valid_options, options),
       trace=st.booleans())
def test_fuzz_run_ends_in_0_or_2_and_writes_only_its_output(spec, given_input, given_weights, given_options, trace):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "folder").mkdir()
        (root / "spec.yaml").write_text(SPECS[spec])
        name, content = given_input if given_input is not None else ("x.npy", _array_bytes(GOOD_INPUTS[spec]))
        if given_weights == b"good":
            given_weights = npz_bytes({key: _array_bytes(value) for key, value in GOOD_WEIGHTS[spec].items()})
        (root / name).write_bytes(content)
        args = ["run", str(root / "spec.yaml"), "--input", str(root / name)]
        if given_weights is not None:
            (root / "w.npz").write_bytes(given_weights)
            args += ["--weights", str(root / "w.npz")]
        for option, value in given_options.items():
            if value is not None:
                args += [option, str(root / value) if option in ("--output", "--save-maps") else value]
        if trace:
            args.append("--trace")
        before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
        start = time.perf_counter()
        result = RUNNER.invoke(app, args)
        elapsed = time.perf_counter() - start
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code in (0, 2), (result.exit_code, result.stderr)
        assert "internal error" not in result.stderr
        assert elapsed < 10, f"{elapsed:.1f} s"  # a hang guard: at most 0.11 s an example quiet
        if result.exit_code == 2:
            assert result.stderr.startswith("error: ") or "Usage:" in result.stderr, result.stderr
        written = [given_options["--output"], given_options["--save-maps"]]
        allowed = {root / name for name in written if name} if result.exit_code == 0 else set()
        after = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
        changed = {p for p in after if before.get(p) != after[p]}
        assert changed <= allowed, (changed, result.stderr)
        if os.environ.get("CNNCALC_FUZZ_LOG"):
            with open(os.environ["CNNCALC_FUZZ_LOG"], "a") as log:
                log.write(f"{result.exit_code} {result.stderr[:150]!r}\n")


def test_the_memory_guard_counts_attention_scores(cli, tmp_path):
    """Self-attention over 1,000 tokens with 8 heads holds two 8 × 1,000 × 1,000 score matrices (float64):
    2·8·10⁶ + 8·(1,000·1 + 1,000·(1 + 1)) = 16,024,000 values, 122.3 MiB, besides the small input."""
    spec = tmp_path / "att.yaml"
    spec.write_text("input: [1000, 8]\nlayers:\n  - {type: attention, name: att, heads: 8}\n")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1000, 8)))
    code, _, err = cli("run", str(spec), "--input", str(x), "--seed", "0", "--max-memory", "122MB")
    assert code == 2 and "layer 1 'att' working copy: 122.3 MiB" in err, err
    code, _, err = cli("run", str(spec), "--input", str(x), "--seed", "0", "--max-memory", "123MiB")
    assert code == 0, err
