"""The optional `images` extra: PNG input and feature-map grids. Skips cleanly without Pillow."""

from __future__ import annotations

import sys

import numpy as np
import pytest


def test_png_input_and_feature_map_grid(tmp_path, cli):
    image_module = pytest.importorskip("PIL.Image")
    photo = np.zeros((8, 8, 3), dtype=np.uint8)
    photo[:, 4:] = 200  # a vertical edge
    image_module.fromarray(photo).save(tmp_path / "photo.png")
    spec = tmp_path / "edges.yaml"
    vertical = [[[[-1, 1]] * 3, [[0, 0]] * 3, [[1, -1]] * 3]] * 3  # [3, 3, 3, 2]: vertical edge and its negative
    spec.write_text(f"input: [8, 8, 3]\nlayers:\n  - {{type: conv, name: edge, filters: 2, kernel: 3, bias: false, "
                    f"weight: {vertical}}}\n  - {{type: relu}}\n")
    maps = tmp_path / "maps.png"
    code, out, err = cli("run", str(spec), "--input", str(tmp_path / "photo.png"), "--save-maps", str(maps),
                         "--maps-layer", "edge", "--format", "json")
    assert code == 0, err
    import json
    result = np.asarray(json.loads(out)["output"])
    # columns 2 and 3 of the 6×6 output straddle the edge: 3 rows · 3 channels · 200 = 1,800
    np.testing.assert_array_equal(result[:, :, 0], np.tile([0, 0, 1800, 1800, 0, 0], (6, 1)))
    grid = np.asarray(image_module.open(maps))
    assert grid.shape == (6, 6 * 2 + 2)  # two 6×6 tiles side by side with a 2-pixel gap
    assert grid[0, 2] == 255 and grid[0, 0] == 0  # each tile scaled to 0–255
    assert "saved 2 maps of 'edge'" in err


def test_without_pillow_a_clear_message(tmp_path, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    (tmp_path / "x.png").write_bytes(b"not really")
    code, _, err = cli("run", "lenet5", "--input", str(tmp_path / "x.png"), "--seed", "0")
    assert code == 2 and "needs Pillow" in err and "cnncalc[images]" in err
