"""Small image folders and classes of few images (audit F119): the reference row says why no image
is held out, gankit train labels its final numbers with their step, and within_class leaves out a
class of fewer than 3 distinct images instead of asking for more samples."""
import types
import warnings

import pytest
import torch

from gankit.data.conditional import ConditionalData
from gankit.data.images import ImageDataset


def _pixels(n: int, seed: int, side: int = 8) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, side, side), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.uint8)


# ------------------------------------------------------------------ the reference row's source

def test_a_folder_too_small_to_hold_any_out_says_so_not_data_holdout_0():
    """12 images with data.holdout = 0.1 read "no held-out split (data.holdout = 0)" in the report."""
    from gankit.metrics.reference import _pool
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = ImageDataset(_pixels(12, 0), holdout=0.1)
    pool, said = _pool(ds)
    assert pool is None and ds.cut == (12, 0)
    assert "12 images are too few to hold any out (data.holdout needs 20 or more)" in said, said
    assert "data.holdout = 0" not in said, said
    _, one = _pool(ImageDataset(_pixels(1, 0), holdout=0.1))
    assert "1 image is too few to hold any out" in one, one
    # data.holdout = 0 itself is still named as the reason
    _, zero = _pool(ImageDataset(_pixels(30, 0), holdout=0))
    assert "no held-out split (data.holdout = 0)" in zero and "too few" not in zero, zero


def test_a_split_whose_every_image_went_back_to_training_says_why():
    """20 classes of one image each: the two images held out were their classes' only ones and went back."""
    from gankit.metrics.reference import _pool
    with pytest.warns(UserWarning, match="so no image is held out"):
        ds = ImageDataset(_pixels(20, 0), torch.arange(20), class_names=[f"c{k}" for k in range(20)], holdout=0.1)
    assert ds.cut == (20, 0)
    said = _pool(ds)[1]
    assert "only images of their classes" in said and "data.holdout = 0" not in said and "too few" not in said, said


# ------------------------------------------------------------------ gankit train's last lines

def test_gankit_train_labels_its_final_numbers_with_the_step(tmp_path, monkeypatch, capsys):
    """They were printed bare under "the same metrics on real data for the report's reference row (...)"
    and read as the real-data row; gankit eval prints "step N: ..."."""
    from gankit import api, cli
    from gankit.runfolder import RunFolder
    folder = RunFolder(tmp_path / "run")
    final = {"modes_covered": 7, "modes_total": 8, "hq_fraction": 0.9, "reverse_kl": 0.123}
    run = types.SimpleNamespace(is_main=True, final_result=final, folder=folder, dir=folder.path, step=200)
    monkeypatch.setattr(api, "train", lambda *a, **k: run)
    assert cli.main(["train", "--resume", "--out", str(folder.path)]) in (0, None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "step 200: modes covered 7/8, high quality 90.0%, reverse KL 0.123", lines
    assert lines[1].startswith("run folder: ") and len(lines) == 3, lines


# ------------------------------------------------------------------ within_class

def _labelled(counts: dict[str, int], copies: dict[str, int] | None = None):
    """4x4 images of classes named by ``counts`` (that many images each), of which a class in ``copies`` holds
    only that many distinct ones (the rest repeat them); the features are the pixels (no classifier)."""
    xs, ys = [], []
    for k, (name, n) in enumerate(counts.items()):
        x = _pixels(n, k + 1, side=4)
        m = (copies or {}).get(name)
        if m:
            x = x[torch.arange(n) % m]
        xs.append(x)
        ys += [k] * n
    base = ImageDataset(torch.cat(xs), torch.tensor(ys), class_names=list(counts), holdout=0)
    return ConditionalData(base, "label")


def _ctx(ds, n, monkeypatch):
    from gankit.metrics import conditional as M
    from gankit.metrics.context import EvalContext
    monkeypatch.setattr(M, "_features_and_predictions", lambda ctx, x, real=False: (x.flatten(1).double(), None))
    noise = torch.Generator().manual_seed(5)

    def sample(n, seed=None, y=None, c=None):
        return torch.rand(n, 1, 4, 4, generator=noise) * 2 - 1, None
    return EvalContext(dataset=ds, settings=types.SimpleNamespace(n_samples=n), seed=0, device=torch.device("cpu"),
                       step=0, sample=sample)


@pytest.fixture
def fd_calls(monkeypatch):
    """The classes' Frechet distances within_class measured (one per class in its mean)."""
    from gankit.metrics import image_measures
    calls, fd = [], image_measures.frechet_distance

    def counted(*a):
        calls.append(fd(*a))
        return calls[-1]
    monkeypatch.setattr(image_measures, "frechet_distance", counted)
    return calls


def test_within_class_leaves_out_a_class_of_one_image_and_asks_for_images_not_samples(monkeypatch, fd_calls):
    """A class folder of one image: at enough samples its 3+ draws (copies of it) entered the mean, a Frechet
    distance against a point mass; at fewer the warning asked for --set eval.n_samples=... ."""
    ds = _labelled({"a": 40, "b": 40, "c": 40, "one": 1})
    for n in (1400, 200):
        fd_calls.clear()
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            out = _within_class(_ctx(ds, n, monkeypatch))
        text = [str(w.message) for w in said]
        assert len(fd_calls) == 3 and out["fd_within_class"] == pytest.approx(sum(fd_calls) / 3), (n, fd_calls)
        assert out["diversity_classes"] == 3, out
        assert any("1 of 4 classes (one) hold fewer than 3 distinct images" in t and "add images" in t
                   for t in text), text
        assert not any("eval.n_samples" in t for t in text), text


def test_within_class_counts_distinct_images_and_says_more_samples_do_not_help(monkeypatch):
    """Two classes of 30 images that are copies of 2: no class measurable, whatever eval.n_samples."""
    from gankit.metrics.base import TooFewSamples
    ds = _labelled({"x": 30, "y": 30}, copies={"x": 2, "y": 2})
    with pytest.raises(TooFewSamples, match=r"every class holds fewer than 3 distinct images \(x, y\); add images") as e:
        _within_class(_ctx(ds, 400, monkeypatch))
    assert e.value.more_helps is False


def test_the_hint_for_more_samples_leaves_out_a_class_of_too_few_images():
    """The rarest class with 3+ distinct images sets the eval.n_samples asked for, not the one-image class."""
    from gankit.metrics.conditional import _enough_for_every_class, _few_distinct
    ds = _labelled({"a": 40, "b": 20, "one": 1}, copies={})
    few = _few_distinct(ds)
    assert few == [2]
    # 12 real draws expected in b (20 of 61 images): n * 20 / 61 >= 12
    assert _enough_for_every_class(ds, 12, few) == 39
    assert _enough_for_every_class(ds, 12) > 600       # the one image's share set it before


def _within_class(ctx):
    from gankit.metrics.conditional import _within_class as within
    return within(ctx)
