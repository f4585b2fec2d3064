"""An array of images given as points (audit F82): "data.path: expected a (n_points, dim) array,
got shape (20000, 8, 8)" named neither the file nor a way forward.  Now the message names the
file and gives the Python line that writes the images as PNGs (fitted to the array's layout and
range) for data.name = "image-folder", or the reshape that trains the values as points."""
import re
import subprocess
import sys

import numpy as np
import pytest

from gankit import config as C
from gankit.cli import main
from gankit.data import build_dataset


def _error(capsys, path) -> str:
    assert main(["train", "mnist-dcgan", "--out", str(path.parent / "run"), "--set", "data.name=points",
                 "--set", f"data.path={path}"]) == 2
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.startswith("gankit: error:")]
    return line


@pytest.mark.parametrize("shape, dtype, scale, channels", [
    ((30, 8, 8), np.uint8, 255, 1),            # (N, H, W)
    ((30, 3, 8, 8), np.float32, 1, 3),         # (N, C, H, W) in [0, 1]
    ((30, 8, 8, 1), np.float32, -1, 1),        # (N, H, W, 1) in [-1, 1]
    ((30, 8, 8, 3), np.int64, 255, 3),         # (N, H, W, C) of whole numbers
])
def test_an_image_array_says_how_to_write_its_images_and_the_line_works(tmp_path, capsys, shape, dtype, scale,
                                                                         channels):
    r = np.random.default_rng(0)
    a = r.uniform(-1 if scale == -1 else 0, abs(scale), shape)
    path = tmp_path / "arr.npy"
    np.save(path, a.round().astype(dtype) if dtype != np.float32 else a.astype(dtype))
    line = _error(capsys, path)
    assert f"data.path: '{path}' holds an array of shape {shape}, which looks like 30 images" in line, line
    assert f"--set data.name=image-folder --set data.path={tmp_path / 'arr_images'}" in line, line
    assert ("--set data.channels=3" in line) == (channels == 3), line
    assert f"reshape(30, {int(np.prod(shape[1:]))})" in line, line
    code = re.search(r"write them as PNGs in Python \((.*)\) and train with", line).group(1)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, timeout=60)
    sets = ["data.name=image-folder", f"data.path={tmp_path / 'arr_images'}", f"data.channels={channels}"]
    ds = build_dataset(C.load("mnist-dcgan", sets), check_batch=False)
    assert ds.cut == (30, 3) and ds.shape == (channels, 8, 8)


def test_an_array_of_other_shape_or_range_is_named_with_the_reshape(tmp_path, capsys):
    path = tmp_path / "w.npy"
    np.save(path, np.random.default_rng(0).normal(size=(30, 5, 7, 9)))      # no channel axis of 1, 3 or 4
    line = _error(capsys, path)
    assert f"'{path}' holds an array of shape (30, 5, 7, 9), not (n_points, dim); to train its values as points" in line
    assert "image-folder" not in line
    np.save(path, np.random.default_rng(0).normal(size=(30, 8, 8)) * 1000)    # images of no pixel range
    line = _error(capsys, path)
    assert "are not 0-255 pixels: scale them to 0-255 as uint8 first" in line, line
    np.save(path, np.float32(3))
    assert f"'{path}' holds an array of shape (); save the points as an (n_points, dim) array" in _error(capsys, path)
