"""gankit.metrics.inference: classify and code_nn need two or more classes (audit F75): of one
class every nearest neighbour and every prediction is right, an accuracy of 1 that says nothing."""
from types import SimpleNamespace

import pytest
import torch

from gankit import config as C
from gankit.config import ConfigError
from gankit.data import build_dataset
from gankit.metrics import evaluate
from gankit.metrics.context import EvalContext
from gankit.registry import METRICS

from conftest import class_folders


def _context(ds, **parts):
    ctx = EvalContext(dataset=ds, settings=None, seed=0, device=torch.device("cpu"), step=0,
                      sample=lambda *a, **k: None)
    for k, v in parts.items():
        setattr(ctx, k, v)
    return ctx


def _images(labels_train, labels_held):
    ytr, yte = torch.tensor(labels_train), torch.tensor(labels_held)
    xtr, xte = torch.randn(len(ytr), 1, 3, 3), torch.randn(len(yte), 1, 3, 3)
    splits = {"train": (xtr, ytr), "heldout": (xte, yte)}
    return SimpleNamespace(kind="image", labels=ytr, heldout=xte, heldout_labels=yte,
                           split=lambda w: splits[w][0], split_labels=lambda w: splits[w][1])


@pytest.mark.parametrize("metric, part", [("code_nn", "codes"), ("classify", "classify")])
def test_labelled_images_of_one_class_are_refused(metric, part):
    one = _images([0] * 12, [0] * 4)
    with pytest.raises(ConfigError, match=f"metric '{metric}' does not apply .*two or more classes"):
        evaluate(_context(one, **{part: lambda x: torch.zeros(len(x), 2)}), [metric])
    assert not METRICS.build(metric).applies(one)      # not among every metric that applies either
    # two classes, even where the held-out split holds one of them only
    two = _images([0] * 6 + [1] * 6, [1] * 4)
    assert evaluate(_context(two, codes=lambda x: x.flatten(1)), ["code_nn"])["code_nn_accuracy"] >= 0


def test_an_image_folder_of_one_class_folder_is_refused(tmp_path):
    """It printed and recorded code_nn_accuracy 1; pixel_nn_accuracy 1 as a headline."""
    root = class_folders(tmp_path / "one", ["cats"], per_class=40)
    ds = build_dataset(C.load("mnist-vae", ["data.name=image-folder", f"data.path={root}", "train.batch_size=16"]))
    assert ds.heldout_labels is not None and ds.n_classes == 1
    with pytest.raises(ConfigError, match="metric 'code_nn' does not apply .*two or more class sub-folders"):
        evaluate(_context(ds, codes=lambda x: x.flatten(1)), ["code_nn"])


@pytest.mark.parametrize("metric", ["elbo", "code_nn", "classify", "recon_error"])
def test_points_are_told_they_have_no_held_out_split_not_to_set_data_holdout(tmp_path, metric):
    """A points VAE run's `gankit eval --metrics elbo` said it needs "images with a held-out split
    (data.holdout > 0)": points have no data.holdout to set."""
    import numpy as np
    np.save(tmp_path / "p.npy", np.random.default_rng(0).normal(size=(300, 3)))
    for ds in (build_dataset(C.load("ring-vae", ["data.name=points", f"data.path={tmp_path / 'p.npy'}"])),
               build_dataset(C.load("ring-vae"))):        # a file, a mixture
        with pytest.raises(ConfigError) as e:
            evaluate(_context(ds, elbo=lambda *a: None, codes=lambda x: x, classify=lambda x: x,
                              invert=lambda *a, **k: None), [metric])
        msg = str(e.value)
        assert f"metric '{metric}' does not apply" in msg and "data.holdout" not in msg, msg
        assert "have no held-out split, so elbo, code_nn, classify and recon_error do not apply" in msg, msg
    # images keep their own words: a held-out split is theirs to ask for
    assert METRICS.build(metric).needs(_images([0, 1], [1])).count("data.holdout > 0") == 1
