"""The warning of a run whose part's metric (a VAE's elbo) the data leave out for want of a held-out
split: its cause and fix as the data's own cut tells them, and said once for a too-small set."""
import types
import warnings

import numpy as np
import pytest

from gankit.data.images import MIN_HOLDOUT_IMAGES, ImageDataset
from gankit.metrics.run_parts import heldout_left_out

# a VAE's parts: an encoder (codes) and an ELBO, no classifier
VAE = types.SimpleNamespace(classify=None, codes=object(), elbo=object())


def _images(n, holdout):
    x = np.random.default_rng(0).integers(0, 255, (n, 1, 8, 8), dtype=np.uint8)
    return ImageDataset(x, name="tiny", holdout=holdout)


def test_too_few_images_leave_the_warning_to_the_datas_own_note():
    ds = _images(10, 0.1)
    assert ds.cut == (10, 0) and any("too few to hold any out" in n for n in ds.creation_notes)
    assert heldout_left_out(ds, VAE) is None


@pytest.mark.parametrize("n, few", [(30, False), (10, True)])
def test_holdout_zero_suggests_a_split(n, few):
    said = heldout_left_out(_images(n, 0.0), VAE)
    assert said is not None and "data.holdout = 0" in said and "code_nn, elbo" in said
    assert "--set data.holdout=0.1" in said or 'overrides=["data.holdout=0.1"]' in said
    assert (f"{MIN_HOLDOUT_IMAGES} or more images" in said) == few


def test_a_too_small_folder_warns_once_when_the_run_is_made(tmp_path):
    from PIL import Image

    from gankit import api
    folder = tmp_path / "tiny10"
    folder.mkdir()
    for i in range(10):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (8, 8), dtype=np.uint8)).save(folder / f"{i}.png")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        api.train("mnist-vae", out=str(tmp_path / "run"), evaluate=False, report=False, log=None,
                  overrides=["data.name=image-folder", f"data.path={folder}", "train.steps=1", "train.batch_size=4",
                             "generator.width=8", "discriminator.width=8"])
    held = [str(w.message) for w in seen if "hold" in str(w.message) or "held-out" in str(w.message)]
    assert len(held) == 1 and "10 image(s) are too few to hold any out" in held[0], held
