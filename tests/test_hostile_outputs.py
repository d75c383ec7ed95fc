"""Hostile output paths and output streams: every file cnncalc writes goes through cnncalc.outputs.

The rules under test (README "Safety and limits"): an output is written whole or not at all, through a
symbolic link to its target, keeping an existing file's mode; a folder, a FIFO, a device, a socket, a loop
of links, a name that is not UTF-8 and any of the command's own inputs are refused in one line with exit
code 2, the node left as it was; standard output that fails (a full disk, a closed pipe) ends in one line
or quietly, exit 2, never "internal error"; one `generate` at a time per folder, and a failed one removes
what it created. Every hostile path is made here, at test time.
"""

from __future__ import annotations

import csv
import fcntl
import importlib.util
import io
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnncalc import CnnCalcError
from cnncalc.exercises.generated import LOCK, MANIFEST
from cnncalc.outputs import check_output, write_output

ROOT = Path(__file__).parent.parent
WORKSHEET = ROOT / "problems" / "cnn-layers-worksheet.yaml"
SPEC = "input: [8, 8, 1]\nlayers: [{type: conv, filters: 2, kernel: 3}]\n"
ALL_RIGHT = {"a.shape": [4, 4], "a.col4_row4": 9, "a.col3_row2": -3, "a.col2_row4": 22,
             "b.relu": [[35, 20, 20, 3], [1, 0, 21, 0], [21, 7, 15, 22], [0, 22, 22, 29]],
             "b.pool": [[35, 21, 21], [21, 21, 22], [22, 22, 29]], "c.total_params": 348, "d.padding": 3,
             "d.params": 1184}


def one_error_line(code: int, err: str) -> str:
    """The one line a refused command prints (exit 2, no traceback, no internal error)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert "internal error" not in err and "Traceback" not in err
    return lines[0]


def spec_file(tmp_path: Path, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(SPEC)
    return path


def answer(tmp_path: Path, student: str = "alice") -> Path:
    path = tmp_path / f"{student}.json"
    path.write_text(json.dumps({"student": student, "answers": ALL_RIGHT}))
    return path


def run_inputs(tmp_path: Path) -> tuple[Path, Path]:
    spec = spec_file(tmp_path)
    x = tmp_path / "x.npy"
    np.save(x, np.arange(64, dtype=float).reshape(8, 8, 1))
    return spec, x


def run_args(tmp_path: Path) -> list[str]:
    spec, x = run_inputs(tmp_path)
    return [str(spec), "-i", str(x), "--seed", "1"]


# Each writer of the CLI, as (arguments with OUT for the output path, the suffix it needs). The stdout of
# the in-process runner is not a file: these all write to a named file.
WRITERS = {
    "summary": (lambda tmp, out: ["summary", str(spec_file(tmp)), "-o", out], ".txt"),
    "export-pytorch": (lambda tmp, out: ["export", str(spec_file(tmp)), "--to", "pytorch", "-o", out], ".py"),
    "draw": (lambda tmp, out: ["draw", str(spec_file(tmp)), "-o", out], ".svg"),
    "draw-conv": (lambda tmp, out: ["draw-conv", "-o", out, "--n", "5", "--f", "3"], ".svg"),
    "run": (lambda tmp, out: ["run", *run_args(tmp), "-o", out], ".npy"),
    "run-json": (lambda tmp, out: ["run", *run_args(tmp), "-o", out], ".json"),
    "grade": (lambda tmp, out: ["grade", str(WORKSHEET), str(answer(tmp)), "--gradebook", out], ".csv"),
}


@pytest.fixture(params=sorted(WRITERS))
def writer(request):
    return WRITERS[request.param]


# ---------------------------------------------------------------- links, modes, whole files


def test_every_writer_writes_through_a_link_and_keeps_the_mode(tmp_path, cli, writer):
    make, suffix = writer
    course = tmp_path / "course"
    course.mkdir()
    real = course / f"real{suffix}"
    real.write_text("stale")
    os.chmod(real, 0o644)
    link = tmp_path / f"link{suffix}"
    link.symlink_to(real)
    code, _, err = cli(*make(tmp_path, str(link)))
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real), "the link stays a link"
    assert real.read_bytes() != b"stale", "the link's target holds the new output"
    assert stat.S_IMODE(real.stat().st_mode) == 0o644
    assert sorted(p.name for p in course.iterdir()) == [real.name], "no temporary file left"


def test_a_new_file_gets_the_umask_and_an_old_one_keeps_its_mode(tmp_path, cli, writer):
    make, suffix = writer
    fresh = tmp_path / f"fresh{suffix}"
    old = os.umask(0o027)
    try:
        assert cli(*make(tmp_path, str(fresh)))[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    os.chmod(fresh, 0o604)
    assert cli(*make(tmp_path, str(fresh)))[0] == 0
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o604


def test_a_chain_of_links_and_a_dangling_link_are_written_through(tmp_path, cli):
    real = tmp_path / "deep" / "real.txt"
    real.parent.mkdir()
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    second.symlink_to(real)  # dangling: the target is made, as `>` in a shell would
    first.symlink_to(second)
    code, _, err = cli("summary", str(spec_file(tmp_path)), "-o", str(first))
    assert code == 0, err
    assert first.is_symlink() and second.is_symlink() and "Total params" in real.read_text()


@pytest.fixture()
def onnx_model(tmp_path, cli):
    pytest.importorskip("onnx")
    model = tmp_path / "model.onnx"
    code, _, err = cli("export", str(spec_file(tmp_path)), "--to", "onnx", "-o", str(model))
    assert code == 0, err
    return model


def test_onnx_export_and_weights_out_write_through_links_and_keep_the_mode(tmp_path, cli, onnx_model):
    real_onnx, real_npz = tmp_path / "store" / "real.onnx", tmp_path / "store" / "real.npz"
    real_onnx.parent.mkdir()
    for real in (real_onnx, real_npz):
        real.write_bytes(b"stale")
        os.chmod(real, 0o644)
    (tmp_path / "link.onnx").symlink_to(real_onnx)
    (tmp_path / "link.npz").symlink_to(real_npz)
    code, _, err = cli("export", str(spec_file(tmp_path)), "--to", "onnx", "-o", str(tmp_path / "link.onnx"))
    assert code == 0, err
    assert real_onnx.read_bytes() == onnx_model.read_bytes(), "the target is the fresh model, not the stale one"
    code, _, err = cli("import", str(onnx_model), "--weights-out", str(tmp_path / "link.npz"),
                       "-o", str(tmp_path / "spec.yaml"))
    assert code == 0, err
    with np.load(real_npz) as weights:
        assert any(name.endswith(".weight") for name in weights.files)
    for real in (real_onnx, real_npz):
        assert stat.S_IMODE(real.stat().st_mode) == 0o644, f"{real.name} keeps 0644 (it was left 0600)"
    assert (tmp_path / "link.onnx").is_symlink() and (tmp_path / "link.npz").is_symlink()
    assert sorted(p.name for p in real_onnx.parent.iterdir()) == ["real.npz", "real.onnx"]


# ---------------------------------------------------------------- nodes that are not regular files


def hostile_nodes(tmp_path: Path, suffix: str) -> dict[str, tuple[Path, str]]:
    """Output paths that must be refused, each with a phrase of its message."""
    nodes = tmp_path / "nodes"
    nodes.mkdir(exist_ok=True)
    fifo = nodes / f"fifo{suffix}"
    os.mkfifo(fifo)
    to_fifo = nodes / f"to-fifo{suffix}"
    to_fifo.symlink_to(fifo)
    folder = nodes / f"folder{suffix}"
    folder.mkdir()
    loop_a, loop_b = nodes / f"loop{suffix}", nodes / f"loop-b{suffix}"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    to_null = nodes / f"null{suffix}"
    to_null.symlink_to("/dev/null")
    return {"fifo": (fifo, "a FIFO"), "link to a fifo": (to_fifo, "a FIFO"), "folder": (folder, "folder"),
            "link loop": (loop_a, "loop of symbolic links"), "link to /dev/null": (to_null, "a device")}


def test_every_writer_refuses_fifos_devices_folders_and_link_loops(tmp_path, cli, writer):
    make, suffix = writer
    null_before = os.stat("/dev/null")
    for kind, (path, phrase) in hostile_nodes(tmp_path, suffix).items():
        code, _, err = cli(*make(tmp_path, str(path)))
        line = one_error_line(code, err)
        assert phrase in line, (kind, line)
        if kind.startswith("link to"):
            assert path.is_symlink(), f"{kind}: the link stays"
    assert stat.S_ISFIFO(os.stat(tmp_path / "nodes" / f"fifo{suffix}").st_mode), "the FIFO is still a FIFO"
    null_after = os.stat("/dev/null")
    assert stat.S_ISCHR(null_after.st_mode) and null_after.st_ino == null_before.st_ino, "/dev/null untouched"
    assert not list((tmp_path / "nodes").glob(".*.tmp")), "no temporary file left"


def test_onnx_export_refuses_a_link_to_a_fifo_and_to_a_device(tmp_path, cli):
    pytest.importorskip("onnx")
    nodes = hostile_nodes(tmp_path, ".onnx")
    for kind in ("link to a fifo", "link to /dev/null", "link loop"):
        path, phrase = nodes[kind]
        code, _, err = cli("export", str(spec_file(tmp_path)), "--to", "onnx", "-o", str(path))
        assert phrase in one_error_line(code, err), kind
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert stat.S_ISFIFO(os.lstat(nodes["fifo"][0]).st_mode)


def test_a_socket_is_refused(tmp_path):
    short = Path(os.environ.get("TMPDIR", "/tmp")) / f"cnncalc-sock-{os.getpid()}.txt"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(short))
    except OSError:
        pytest.skip("cannot make a socket here")
    try:
        with pytest.raises(CnnCalcError, match="a socket, not a regular file"):
            write_output(short, "x")
        assert stat.S_ISSOCK(os.lstat(short).st_mode)
    finally:
        server.close()
        short.unlink()


def test_the_link_loop_refusal_reaches_the_user_as_one_line_from_a_process(tmp_path, cli_process):
    pytest.importorskip("onnx")
    loop = tmp_path / "loop.onnx"
    loop.symlink_to(loop)
    code, _, err = cli_process("export", str(spec_file(tmp_path)), "--to", "onnx", "-o", str(loop))
    assert "loop of symbolic links" in one_error_line(code, err)


# ---------------------------------------------------------------- never over one of the command's inputs


def test_a_gradebook_never_overwrites_an_answer_file_or_the_problem(tmp_path, cli):
    alice = answer(tmp_path, "alice")
    bob = answer(tmp_path, "bob")
    problem = tmp_path / "problem.yaml"
    problem.write_bytes(WORKSHEET.read_bytes())
    link = tmp_path / "book-link.csv"
    link.symlink_to(bob)
    before = {p: p.read_bytes() for p in (alice, bob, problem)}
    for target in (alice, problem, link, tmp_path / "." / "bob.json"):
        code, out, err = cli("grade", str(problem), str(tmp_path), "--gradebook", str(target))
        assert "one of the command's inputs" in one_error_line(code, err), target
        assert out == "", "refused before any grading: no report"
    assert {p: p.read_bytes() for p in before} == before
    hard = tmp_path / "grades.csv"
    os.link(alice, hard)  # another name of the same file is the same file
    code, _, err = cli("grade", str(problem), str(alice), "--gradebook", str(hard))
    assert "one of the command's inputs" in one_error_line(code, err)
    assert alice.read_bytes() == before[alice]


def test_summary_never_replaces_its_own_spec(tmp_path, cli):
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps({"input": [8, 8, 1], "layers": [{"type": "conv", "filters": 2, "kernel": 3}]}))
    before = spec.read_bytes()
    code, _, err = cli("summary", str(spec), "-f", "json", "-o", str(spec))
    assert "one of the command's inputs" in one_error_line(code, err)
    assert spec.read_bytes() == before


def test_a_spec_redirected_into_standard_input_is_an_input_too(tmp_path):
    spec = tmp_path / "net.txt"
    spec.write_text(SPEC)
    with open(spec, "rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "cnncalc", "summary", "-", "-o", str(spec)], stdin=stdin,
                              capture_output=True, text=True, timeout=60, check=False)
    assert "one of the command's inputs" in one_error_line(done.returncode, done.stderr)
    assert spec.read_text() == SPEC


def test_run_never_replaces_its_input_array(tmp_path, cli):
    spec, x = run_inputs(tmp_path)
    before = x.read_bytes()
    code, _, err = cli("run", str(spec), "-i", str(x), "-o", str(x))
    assert "one of the command's inputs" in one_error_line(code, err)
    assert x.read_bytes() == before


def test_generate_never_writes_over_its_problem_or_roster(tmp_path, cli):
    out = tmp_path / "out"
    assert cli("generate", str(WORKSHEET), "--seed", "1", "--out", str(out))[0] == 0
    sheet = out / "sheets" / "variant-1-0.md"
    problem = tmp_path / "problem.yaml"
    os.link(sheet, problem)  # the problem file is now one of generate's own files, by another name
    problem.write_bytes(WORKSHEET.read_bytes())  # the sheet is edited now: --force is needed, and not enough
    code, _, err = cli("generate", str(problem), "--seed", "1", "--out", str(out), "--force")
    assert "one of the command's inputs" in one_error_line(code, err)
    assert problem.read_bytes() == WORKSHEET.read_bytes()


# ---------------------------------------------------------------- the function itself


def test_write_output_is_whole_or_nothing(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def half_then_fail(handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_output(target, half_then_fail)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    assert write_output(target, b"new", durable=True) == 3 and target.read_bytes() == b"new"


def test_write_output_without_following_links_replaces_the_link_itself(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    link = tmp_path / "inside.txt"
    link.symlink_to(outside)
    write_output(link, "mine", follow_links=False)
    assert not link.is_symlink() and link.read_text() == "mine" and outside.read_text() == "keep me"
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)
    write_output(loop, "mine", follow_links=False)  # a link is the file here: replaced, loop or not
    assert loop.read_text() == "mine"


def test_check_output_names_the_file_it_would_replace(tmp_path):
    real = tmp_path / "real.csv"
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert check_output(link) == real.resolve()
    with pytest.raises(CnnCalcError, match="the folder does not exist"):
        check_output(tmp_path / "missing" / "x.csv")
    assert check_output(tmp_path / "missing" / "x.csv", create_folders=True) == tmp_path.resolve() / "missing" / "x.csv"


def test_a_name_that_is_not_utf8_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(CnnCalcError, match=r"\\xff\.csv: refused: the name is not valid UTF-8"):
        write_output(tmp_path / "\udcff.csv", "x")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- names that are not UTF-8, as processes


def test_export_and_generate_refuse_a_name_that_is_not_utf8(tmp_path, cli_process):
    strict = {"PYTHONIOENCODING": "utf-8"}  # a strict stream, as a UTF-8 terminal has
    spec = spec_file(tmp_path)
    code, _, err = cli_process("export", str(spec), "--to", "pytorch", "-o", str(tmp_path / "\udcff.py"), env=strict)
    assert "\\xff.py: refused: the name is not valid UTF-8" in one_error_line(code, err)
    if importlib.util.find_spec("onnx") is not None:
        code, _, err = cli_process("export", str(spec), "--to", "onnx", "-o", str(tmp_path / "\udcff.onnx"),
                                   env=strict)
        assert "not valid UTF-8" in one_error_line(code, err)
    out = tmp_path / "sheets-\udcff"
    code, _, err = cli_process("generate", str(WORKSHEET), "--seed", "1", "--count", "2", "--format", "html",
                               "--out", str(out), env=strict)
    assert "not valid UTF-8" in one_error_line(code, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.yaml"], "no manifest, no empty sheets/ left"


def test_an_input_name_that_is_not_utf8_is_printed_escaped(tmp_path, cli_process):
    spec = tmp_path / "n\udcffet.yaml"
    spec.write_text(SPEC)
    code, out, err = cli_process("validate", str(spec), env={"PYTHONIOENCODING": "utf-8"})
    assert code == 0 and "n\\udcffet.yaml" in out, (out, err)


# ---------------------------------------------------------------- standard output that fails


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("unbuffered", ["1", ""])
@pytest.mark.parametrize("args", [["summary", "lenet5"], ["export", "lenet5", "--to", "pytorch"],
                                  ["grade", str(WORKSHEET), "ALICE"]], ids=["summary", "export", "grade"])
def test_a_full_standard_output_is_one_line(tmp_path, args, unbuffered):
    args = [str(answer(tmp_path)) if a == "ALICE" else a for a in args]
    book = tmp_path / "grades.csv"
    if args[0] == "grade":
        args += ["--gradebook", str(book)]
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "cnncalc", *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60, env=env, check=False)
    line = one_error_line(done.returncode, done.stderr)
    assert line == "error: cannot write to standard output: No space left on device"
    assert not book.exists(), "the command stopped: no gradebook after a report that was not delivered"


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_a_closed_pipe_ends_quietly(unbuffered):
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    # about 87 KB: more than a pipe holds, so the writer is still writing when the reader leaves
    process = subprocess.Popen([sys.executable, "-m", "cnncalc", "summary", "densenet121", "--explain"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdout.read(1)
    process.stdout.close()
    err = process.stderr.read().decode()
    code = process.wait(timeout=60)
    assert err == "" and code == 2, (code, err)


def test_a_complete_output_to_a_pipe_is_not_cut(cli_process):
    code, out, err = cli_process("summary", "densenet121", "--explain", env={"PYTHONUNBUFFERED": "1"})
    assert code == 0 and len(out.encode()) > 65536 and out.rstrip().splitlines()[-1].strip(), err


# ---------------------------------------------------------------- generate: one run per folder


def sheets_agree_with_the_index(out: Path) -> list[str]:
    rows = list(csv.DictReader(io.StringIO((out / "keys" / "index.csv").read_text())))
    sheets = sorted(str(p.relative_to(out)) for p in (out / "sheets").iterdir())
    keys = sorted(str(p.relative_to(out)) for p in (out / "keys").iterdir() if p.name != "index.csv")
    assert sorted(row["sheet"] for row in rows) == sheets and sorted(row["key"] for row in rows) == keys
    manifest = json.loads((out / MANIFEST).read_text())["files"]
    assert sorted(manifest) == sorted([*sheets, *keys, "keys/index.csv"])
    assert not (out / LOCK).exists()
    return [row["student"] for row in rows]


def test_a_held_lock_refuses_a_second_run_at_once(tmp_path, cli_process):
    out = tmp_path / "out"
    out.mkdir()
    with open(out / LOCK, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        started = time.monotonic()
        code, _, err = cli_process("generate", str(WORKSHEET), "--seed", "1", "--out", str(out))
        line = one_error_line(code, err)
        assert line == (f"error: {out}: another cnncalc generate is writing into this folder; wait for it to "
                        "finish, or give another --out")
        assert time.monotonic() - started < 20, "refused at once, never waiting"  # 0.9 s quiet, a process's start
    assert sorted(p.name for p in out.iterdir()) == [LOCK], "the refused run wrote nothing and removed nothing"


# The second run, started first: a generate of one sheet elsewhere does every import it needs, then it waits
# for a line on its standard input and runs its own command. Let go once the first run holds the lock, it
# reaches the lock at once, well within the first run's 100 sheets (started cold, it needed 300 to be sure).
WARM_THEN_RUN = """
import sys
from typer.testing import CliRunner
from cnncalc.cli import app, main
warm = CliRunner().invoke(app, ["generate", sys.argv[3], "--out", sys.argv[1], "--count", "1", "--seed", "1"])
assert warm.exit_code == 0, warm.output
print("warm", flush=True)
sys.stdin.readline()
sys.argv = ["cnncalc", *sys.argv[2:]]
main()
"""


def test_two_concurrent_runs_into_one_folder(tmp_path):
    out = tmp_path / "out"
    args = ["generate", str(WORKSHEET), "--out", str(out), "--count"]
    second = subprocess.Popen([sys.executable, "-c", WARM_THEN_RUN, str(tmp_path / "warm"), *args, "40", "--seed",
                               "2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert second.stdout.readline().strip() == "warm", second.stderr.read()
    first = subprocess.Popen([sys.executable, "-m", "cnncalc", *args, "100", "--seed", "1"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / LOCK).exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    _, second_err = second.communicate("go\n", timeout=120)
    overlapped = first.poll() is None
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    if overlapped:
        assert "another cnncalc generate is writing into this folder" in one_error_line(second.returncode,
                                                                                        second_err)
        students = sheets_agree_with_the_index(out)
        assert students == [f"variant-1-{i}" for i in range(100)], "the first run's sheets are all there"
    else:  # the first run ended before the second began: the second ran after it, alone
        assert second.returncode == 0, second_err
        sheets_agree_with_the_index(out)


# ---------------------------------------------------------------- generate: a failed run cleans up


def makers_failing_at(number: int, failure: BaseException):
    from cnncalc.exercises.variants import seed_variant
    from cnncalc.spec import safeload

    raw = safeload.load_file(str(WORKSHEET))

    def make(i: int):
        if i == number:
            raise failure
        return seed_variant(raw, str(WORKSHEET), 7, i)

    return [lambda i=i: make(i) for i in range(5)]


@pytest.mark.parametrize("failure", [CnnCalcError("no variant met the constraints"), KeyboardInterrupt()],
                         ids=["error", "interrupt"])
def test_a_failed_run_into_a_new_folder_leaves_nothing(tmp_path, failure):
    from cnncalc.exercises.sheets import write_variants

    out = tmp_path / "new" / "out"
    with pytest.raises(type(failure)):
        write_variants(out, [f"s{i}" for i in range(5)], makers_failing_at(3, failure), "markdown")
    assert list(tmp_path.iterdir()) == [], "the folders this run made are gone"


def test_a_failed_run_keeps_what_was_there_before(tmp_path, cli):
    from cnncalc.exercises.sheets import write_variants

    out = tmp_path / "out"
    assert cli("generate", str(WORKSHEET), "--seed", "7", "--count", "2", "--out", str(out))[0] == 0
    (out / "notes.txt").write_text("mine")
    before = {p.name for p in (out / "sheets").iterdir()}
    with pytest.raises(CnnCalcError):
        write_variants(out, [f"variant-7-{i}" for i in range(5)], makers_failing_at(3, CnnCalcError("x")),
                       "markdown")
    assert {p.name for p in (out / "sheets").iterdir()} == before, "new sheets removed, earlier ones kept"
    assert (out / "notes.txt").read_text() == "mine" and not (out / LOCK).exists()
    manifest = json.loads((out / MANIFEST).read_text())["files"]
    assert {name for name in manifest if name.startswith("sheets/")} == {f"sheets/{name}" for name in before}
    code, _, err = cli("generate", str(WORKSHEET), "--seed", "7", "--count", "2", "--out", str(out))
    assert code == 0, f"the next run is not refused: {err}"
