from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from cnncalc.spec.network import zoo_names


def test_formats(cli):
    code, out, _ = cli("summary", "lenet5", "--format", "markdown")
    assert code == 0 and "| 1 | CONV1 (conv) | (28, 28, 8) | 6,272 | 608 |" in out
    code, out, _ = cli("summary", "lenet5", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["name"] == "input" and rows[-1]["name"] == "total" and len(rows) == 10
    assert rows[1]["params"] == "608" and rows[-2]["name"] == "FC5"
    code, out, _ = cli("summary", "lenet5", "--format", "latex")
    assert code == 0 and r"\begin{tabular}" in out and "62,958" in out
    code, out, _ = cli("summary", "lenet5", "--format", "json", "--explain")
    assert json.loads(out)["layers"][0]["explain"][0] == "H: ⌊(32 + 2·0 − 5)/1⌋ + 1 = 28"
    code, out, _ = cli("summary", "lenet5", "--format", "yaml")
    assert code == 2


def test_table(cli):
    code, out, _ = cli("summary", "lenet5")
    assert code == 0
    assert "Total params: 62,958" in out and "FLOPs ≈ 2·MACs" in out
    assert "CONV1 (conv)" in out and "(28, 28, 8)" in out


def test_validate_and_zoo(cli):
    code, out, _ = cli("validate", "lenet5")
    assert code == 0 and "ok" in out and "8 layers" in out
    code, out, _ = cli("zoo")
    assert code == 0
    for name in ("lenet5", "conv-chain64", "fashion-mnist"):
        assert name in zoo_names() and name in out


def test_spec_path_works(tmp_path, cli):
    path = tmp_path / "net.yaml"
    path.write_text("input: [8, 8, 1]\nlayers: [{type: conv, filters: 2, kernel: 3}]\n")
    code, out, _ = cli("summary", str(path), "--format", "json")
    assert code == 0 and json.loads(out)["name"] == "net"


def test_python_dash_m_and_console_script():
    result = subprocess.run([sys.executable, "-m", "cnncalc", "summary", "lenet5", "--format", "json"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert json.loads(result.stdout)["totals"]["params"] == 62958
    bad = subprocess.run([sys.executable, "-m", "cnncalc", "summary", "nope.yaml"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.startswith("error: ")


@pytest.mark.parametrize("args, fragment", [
    (["summary", "lenet5", "--depth", "-1"], "Invalid value for '--depth'"),
    (["summary", "lenet5", "--formt", "json"], "--formt"),  # the wording is click's
    (["summary"], "Missing argument"),
    (["nosuch"], "No such command 'nosuch'"),
])
def test_usage_errors_are_one_line_with_exit_2(cli_process, args, fragment):
    code, out, err = cli_process(*args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and fragment in err and err.count("\n") == 1, err


def test_a_closed_pipe_is_not_an_error():
    reader = subprocess.run(f"{sys.executable} -m cnncalc summary densenet121 --explain | head -1",
                            shell=True, check=False, capture_output=True, text=True, timeout=60)
    assert reader.stdout.startswith("DenseNet") and "Error" not in reader.stderr, reader.stderr
