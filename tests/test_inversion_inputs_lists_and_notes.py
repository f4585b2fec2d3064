"""--images lists that hold an input given alone (a .npy file, heldout[:N]), and what reading
image files changes for the run said aloud: grey files into an RGB run, other sizes (audit F145)."""
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import ConfigError
from gankit.data.images import ImageDataset
from gankit.train.inversion_inputs import load_images


def _ds(channels: int, side: int = 8) -> ImageDataset:
    x = torch.as_tensor(np.random.default_rng(0).integers(0, 256, (30, channels, side, side), dtype=np.uint8))
    return ImageDataset(x, holdout=0.2)         # 30 images: 6 held out


def _pngs(folder, n: int, shape, mode: str) -> list[str]:
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for i in range(n):
        paths.append(str(folder / f"m{i}.png"))
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(paths[-1])
    return paths


def test_a_npy_or_heldout_in_a_list_is_refused_as_given_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ds = _ds(1)
    pngs = _pngs(tmp_path / "imgs", 2, (8, 8), "L")
    for name in ("a.npy", "b.npy"):
        np.save(tmp_path / name, np.zeros((2, 8, 8), np.uint8))
    assert len(load_images("a.npy", ds)) == 2 and len(load_images("heldout:2", ds)) == 2   # each alone: read
    for spec, alone in ((["a.npy", "b.npy"], "a.npy"), (["heldout:2", pngs[0]], "heldout:2"),
                        ([*pngs, "b.npy"], "b.npy"), (["heldout", pngs[1]], "heldout")):
        with pytest.raises(ConfigError) as e:
            load_images(spec, ds)
        msg = str(e.value)
        assert f"{alone} is given alone, not in a list: --images {alone}" in msg, msg
        assert "non-image" not in msg and "no such file" not in msg, msg
    with pytest.raises(ConfigError, match=r"a.npy is given alone, not in a list: images='a.npy'"):
        load_images(["a.npy", pngs[0]], ds, said="images")                     # the API's words
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_images(pngs, ds)) == 2                                # image files alone: read


def test_grey_files_into_an_rgb_run_and_other_sizes_are_said(tmp_path):
    rgb = _ds(3)
    grey = _pngs(tmp_path / "grey", 3, (8, 8), "L")
    colour = _pngs(tmp_path / "colour", 2, (8, 8, 3), "RGB")
    with pytest.warns(UserWarning) as got:
        x = load_images([*grey, *colour], rgb)
    said = [str(w.message) for w in got]
    assert x.shape == (5, 3, 8, 8) and torch.equal(x[:3, 0], x[:3, 2])
    assert any("3 of 5 image(s) are grey; they are copied to 3 channels" in m for m in said), said
    assert not any("resized" in m for m in said), said
    small = _pngs(tmp_path / "small", 2, (4, 4), "L")
    wide = _pngs(tmp_path / "wide", 1, (4, 6, 3), "RGB")
    with pytest.warns(UserWarning) as got:
        assert load_images(tmp_path / "small", rgb).shape == (2, 3, 8, 8)
    said = [str(w.message) for w in got]
    assert any("2 of 2 image(s) are grey" in m for m in said), said
    assert any("2 of 2 image(s) are resized from 4x4 to the run's 8x8" in m for m in said), said
    with pytest.warns(UserWarning, match=r"1 of 1 image\(s\) are resized from 6x4 to the run's 8x8; "
                                         r"1 of them not square: stretched"):
        load_images(wide[0], rgb)
    with pytest.warns(UserWarning) as got:
        load_images([small[0], *colour], rgb)
    said = [str(w.message) for w in got]
    assert any("1 of 3 image(s) are grey" in m for m in said) and any("1 of 3 image(s) are resized" in m for m in said)
    with warnings.catch_warnings():                  # the run's own size and channels: nothing to say
        warnings.simplefilter("error")
        assert load_images(colour, rgb).shape == (2, 3, 8, 8)
        assert load_images(grey, _ds(1)).shape == (3, 1, 8, 8)
