"""Image files given to ``gankit invert`` / ``gankit complete`` (audit a126): a file already at
the run's size is used as it is (it was shrunk to the source data's side and resized back), a
folder's sub-folders are read as well, and what reading changed is said in an invert user's
terms, not in training's (data.channels, class folders)."""
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import config as C
from gankit.data import build_dataset
from gankit.train.inversion_inputs import load_images


def _digits(resolution: int | None):
    sets = ["data.name=digits8x8"] + ([f"data.resolution={resolution}"] if resolution else [])
    return build_dataset(C.load("mnist-vae", sets))


@pytest.mark.parametrize("resolution", [12, 28, None])
def test_a_held_out_image_saved_at_the_runs_size_reads_back_unchanged(tmp_path, resolution):
    """digits8x8 at data.resolution=28: a 28x28 PNG of a held-out image read back with MSE 0.028
    (8x8 first, then 28 again); at the data's own 8x8 it read back unchanged."""
    ds = _digits(resolution)
    side = resolution or 8
    assert tuple(ds.shape) == (1, side, side)
    h = ds.heldout[:2]
    want = h.float() / 127.5 - 1
    Image.fromarray(h[0, 0].numpy(), "L").save(tmp_path / "one.png")
    assert torch.equal(load_images(str(tmp_path / "one.png"), ds), want[:1])
    # in colour (equal channels) it is the same picture once converted to the run's grey
    Image.fromarray(np.repeat(h[1, 0].numpy()[..., None], 3, 2), "RGB").save(tmp_path / "rgb.png")
    assert torch.equal(load_images(str(tmp_path / "rgb.png"), ds), want[1:])
    folder = tmp_path / "f"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(h[i, 0].numpy(), "L").save(folder / f"im{i}.png")
    files: list = []
    assert torch.equal(load_images(str(folder), ds, files), want)
    assert files == ["im0.png", "im1.png"]


def test_a_folder_of_files_at_the_source_side_and_at_the_runs_is_read_both_ways(tmp_path):
    """An 8x8 digit is prepared as the run's own were (28 -> 32 style zero pad, 8 -> 12); a
    12x12 file beside it is used as it is."""
    from gankit.data.image_files import digits_8x8
    ds = _digits(12)
    raw = digits_8x8()[0][0]
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(raw, "L").save(folder / "a_small.png")
    Image.fromarray(ds.heldout[0, 0].numpy(), "L").save(folder / "b_run.png")
    got = load_images(str(folder), ds)
    assert got.shape == (2, 1, 12, 12)
    assert (got[0, 0, :2] == -1).all() and torch.equal(got[0, 0, 2:10, 2:10], torch.as_tensor(raw).float() / 127.5 - 1)
    assert torch.equal(got[1], ds.heldout[0].float() / 127.5 - 1)


def test_a_folder_with_a_sub_folder_reads_every_image_and_names_them(tmp_path):
    """Loose images beside a sub-folder were left out with "sub-folders are the classes; move
    them into a class folder"; invert has no classes."""
    ds = _digits(None)
    folder = tmp_path / "withsub"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("loose.png", "sub/inner.png"):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), "L").save(folder / name)
    files: list = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        x = load_images(str(folder), ds, files)
    assert len(x) == 2 and files == ["loose.png", "sub/inner.png"]
    assert not [str(w.message) for w in seen if "class" in str(w.message)], [str(w.message) for w in seen]


def test_colour_images_for_a_grey_run_are_said_in_inverts_terms(tmp_path):
    """The training warning offered --set data.channels=3, which invert refuses."""
    ds = _digits(None)
    folder = tmp_path / "rgb"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "RGB").save(folder / f"c{i}.png")
    with pytest.warns(UserWarning, match="2 of 2 image.* in colour; they are converted to grey, as the run") as seen:
        load_images(str(folder), ds)
    assert not any("data.channels" in str(w.message) for w in seen)
    with pytest.warns(UserWarning, match="converted to grey"):
        load_images(str(folder / "c0.png"), ds)


def test_integer_zero_one_images_warn_that_they_read_nearly_black(tmp_path):
    ds = _digits(None)
    np.save(tmp_path / "bin.npy", (np.random.default_rng(0).random((2, 8, 8)) > 0.5).astype(np.int64))
    with pytest.warns(UserWarning, match=r"int64 values all in \[0, 1\].*nearly black.*astype\(bool\)"):
        x = load_images(str(tmp_path / "bin.npy"), ds)
    assert x.max() < -0.98                                  # read as asked: 1 of 255
    np.save(tmp_path / "px.npy", np.full((1, 8, 8), 200, np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_images(str(tmp_path / "px.npy"), ds)          # ordinary pixels: no word


def test_images_help_names_image_files():
    from gankit.cli import build_parser
    sub = next(a for a in build_parser()._actions if a.choices and "invert" in a.choices)
    for cmd in ("invert", "complete"):
        images = next(a for a in sub.choices[cmd]._actions if "--images" in a.option_strings)
        assert "image file" in images.help and "folder" in images.help, images.help
