"""Image metrics for any folder: random features, the feature cache, the classifier trained on
labelled images, classifier scores, tolerant memorisation, the Inception route."""
import math
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gankit import config as C
from gankit.metrics import classifier_scores as S
from gankit.metrics import feature_nets as FN
from gankit.metrics.memorisation import memorisation


def test_random_features_are_fixed_by_the_seed():
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    a, b = FN.RandomConvFeatures(0), FN.RandomConvFeatures(0)
    assert FN.module_hash(a) == FN.module_hash(b) != FN.module_hash(FN.RandomConvFeatures(1))
    assert torch.equal(a.features(x), b.features(x)) and a.features(x).shape == (4, 1024)


def test_feature_cache_recomputes_damaged_files(tmp_path, monkeypatch):
    monkeypatch.setenv(FN.CACHE_ENV, str(tmp_path))
    calls = []

    def make():
        calls.append(1)
        return {"features": np.ones((3, 2)), "probs": np.zeros((3, 0))}
    FN.feature_cache(["k"], make)
    out = FN.feature_cache(["k"], make)
    assert len(calls) == 1 and out["features"].shape == (3, 2)
    (f,) = list((tmp_path / "features").glob("*.npz"))
    f.write_bytes(b"not a zip file")                  # damaged: recomputed, not trusted
    with pytest.warns(UserWarning, match="damaged"):
        FN.feature_cache(["k"], make)
    np.savez(f, features=np.array([object()], dtype=object), probs=np.zeros((1, 0)))   # a pickle
    with pytest.warns(UserWarning, match="damaged"):
        out = FN.feature_cache(["k"], make)
    assert len(calls) == 3 and out["features"].dtype == np.float32


def test_classifier_scores_known_answers():
    k = 4
    onehot = np.eye(k)[np.arange(400) % k]
    prior = np.ones(k)
    assert S.mode_score(onehot, prior) == pytest.approx(k)
    assert S.am_score(onehot, prior) == pytest.approx(0, abs=1e-9)
    assert S.m_is(onehot) == pytest.approx(1.0)           # identical samples within each class
    dropped = np.eye(k)[np.arange(400) % (k - 1)]          # one class never generated
    assert S.mode_score(dropped, prior) < k - 0.5 and S.am_score(dropped, prior) > 0.1
    rng = np.random.default_rng(0)
    diverse = rng.dirichlet(np.ones(k) * 0.5, size=400)
    assert S.m_is(diverse) > 1.5


@pytest.mark.parametrize("spread", [3.0, 20.0, 30.0])
def test_m_is_is_its_definition_for_a_confident_classifier(spread):
    """A floor of 1e-12 under the logs cut the tails (1e-46 at spread 20) that dominate
    KL(p_i || p_j): m-IS fell as predictions sharpened (3.0 against 5.4)."""
    from scipy.special import log_softmax
    logits = np.random.default_rng(1).normal(0, spread, (300, 10))
    logp = log_softmax(logits, 1)
    p = np.exp(logp)
    pred, per_class = p.argmax(1), []
    for k in np.unique(pred):
        lp = logp[pred == k]
        if len(lp) > 1:
            kl = (np.exp(lp)[:, None, :] * (lp[:, None, :] - lp[None, :, :])).sum(-1)   # KL(p_i || p_j)
            per_class.append(kl.sum() / (len(lp) * (len(lp) - 1)))
    assert S.m_is(p) == pytest.approx(math.exp(np.mean(per_class)), rel=1e-9)


def test_classifier_scores_refuse_a_prior_of_other_classes_than_the_probabilities():
    p = np.eye(10)[np.arange(40) % 4]
    for score in (S.mode_score, S.am_score):
        with pytest.raises(ValueError, match="prior has 4 classes, the probabilities 10"):
            score(p, np.ones(4))
    # over the classifier's 10 classes, 0 for the 6 the data lacks: a perfect G of digits 0-3
    assert S.am_score(p, np.r_[np.ones(4), np.zeros(6)]) == pytest.approx(0, abs=1e-9)
    assert S.am_score(p, np.r_[1.0, np.zeros(9)]) == pytest.approx(math.log(4))   # one-class data


def test_class_scores_do_not_apply_to_labels_the_shipped_classifier_cannot_name():
    from gankit.data.images import ImageDataset
    x = np.zeros((40, 28, 28), np.uint8)
    assert S._scorable(ImageDataset(x, np.arange(40) % 10, classifier="mnist"))
    assert not S._scorable(ImageDataset(x, np.arange(40) % 12, classifier="mnist"))   # 12 classes as MNIST


def _idx_folder(path, labels):
    """MNIST-format files of random 28x28 images with these labels."""
    import struct
    path.mkdir()
    x = np.random.default_rng(0).integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
    for name, a in (("train-images-idx3-ubyte", x), ("train-labels-idx1-ubyte", np.asarray(labels, np.uint8))):
        (path / name).write_bytes(bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes())
    return path


@pytest.mark.parametrize("labels,condition", [(np.arange(80) % 4, False), (np.arange(80) % 4, True),
                                              (np.zeros(60, dtype=int), False)])
def test_idx_data_of_fewer_digits_is_scored_over_the_shipped_classifiers_ten(tmp_path, tiny_img, labels,
                                                                            condition):
    """A user's MNIST-format folder of digits 0-3 (or one digit) under the shipped 10-digit classifier."""
    from gankit.metrics.image_measures import class_histogram
    from gankit.train.run import Run
    root = _idx_folder(tmp_path / "idx", labels)
    sets = tiny_img + ["data.name=mnist", f'data.root="{root}"']
    sets += ["condition.kind=label"] if condition else []
    run = Run.create(C.load("mnist-dcgan", sets), tmp_path / "run")
    run.train(progress=False)
    names = ["class_scores", "class_hist"] + (["cond_accuracy"] if condition else [])
    out = run.evaluate(names)
    ds = run.dataset
    assert ds.n_classes == len(np.unique(labels))          # a condition takes the data's own classes
    assert sum(out["class_counts"]) == run.cfg.eval.n_samples
    produced = np.flatnonzero(out["class_counts"])
    assert (out["class_kl"] == math.inf) == bool((produced >= ds.n_classes).any())
    # the same numbers from the generated images' probabilities over all 10 digits
    ctx = run.eval_context(True)
    p = S._probs(ctx).numpy()
    prior = np.bincount(ds.split_labels("train").numpy(), minlength=10)
    assert p.shape[1] == 10 and out["am_score"] == pytest.approx(S.am_score(p, prior))
    assert out["class_kl"] == class_histogram(p.argmax(1), 10, prior)["class_kl"]
    assert len(out["class_counts"]) == 10                  # the classifier's classes, every one shown
    if condition:
        assert 0 <= out["cond_accuracy"] <= 1


def test_memorisation_flags_perturbed_copies_not_heldout():
    from sklearn.datasets import load_digits
    x = torch.tensor(load_digits().images, dtype=torch.float32)[:, None] / 8 - 1
    train, held = x[:1500], x[1500:]
    g = torch.Generator().manual_seed(0)
    src = train[:300]
    assert memorisation(held, train, held)["copy_frac"] == 0.0
    for copy in ((src + 0.05 * torch.randn(src.shape, generator=g)).clamp(-1, 1), torch.roll(src, 1, -1),
                 src.flip(-2), src * 0.9):
        r = memorisation(copy, train, held)
        assert r["copy_frac"] > 0.98 and r["nn_ratio"] < 0.3, r
    # unseen images against another held-out half: tau from 147 images is noisy, and 8x8 digits have
    # near-twins across splits, so a few percent may be flagged (0 with the full held-out set above)
    new = memorisation(held[:150], train, held[150:])
    assert new["copy_frac"] < 0.05 and 0.7 < new["nn_ratio"] < 1.4


def test_memorisation_keeps_its_threshold_when_held_out_images_repeat_training_ones():
    """2% of the held-out images are training images (a split of data holding duplicates): the
    1% quantile of their copy distances, and the threshold, were 0, and noisy copies read 0."""
    from sklearn.datasets import load_digits
    x = torch.tensor(load_digits().images, dtype=torch.float32)[:, None] / 8 - 1
    train, held = x[:1500], x[1500:].clone()
    g = torch.Generator().manual_seed(0)
    copies = (train[:300] + 0.05 * torch.randn(300, 1, 8, 8, generator=g)).clamp(-1, 1)
    clean = memorisation(copies, train, held)
    held[:6] = torch.roll(train[600:606], 1, -1)              # 6 of 297: shifted training images
    with pytest.warns(UserWarning, match="6 of 297 held-out images are copies of training images"):
        r = memorisation(copies, train, held)
    assert r["copy_tau"] == pytest.approx(clean["copy_tau"], rel=0.05) and r["copy_frac"] > 0.98, r
    assert r["heldout_flagged"] == pytest.approx(6 / 297)


def test_inception_weights_from_the_config_count(tmp_path, monkeypatch):
    from gankit.metrics.images import feature_kind
    monkeypatch.delenv("GANKIT_INCEPTION", raising=False)
    ds = SimpleNamespace(classifier=None, shape=(3, 8, 8), kind="image")
    ctx = SimpleNamespace(dataset=ds, settings=SimpleNamespace(features="classifier", inception_weights=""))
    assert feature_kind(ctx) == "random"
    ctx.settings.inception_weights = str(tmp_path / "inception.pt")
    assert feature_kind(ctx) == "inception"


def _folder(tmp_path):
    from PIL import Image
    from sklearn.datasets import load_digits
    d = load_digits()
    for i, (im, y) in enumerate(zip(d.images[:300], d.target[:300])):
        (tmp_path / "data" / str(y)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((im * 255 / 16).astype(np.uint8)).save(tmp_path / "data" / str(y) / f"{i}.png")
    return tmp_path / "data"


def test_labelled_folder_conditional_run_trains_and_evaluates(tmp_path, tiny_img, monkeypatch):
    from gankit.metrics import own_classifier
    from gankit.train.run import Run
    monkeypatch.setattr(own_classifier, "STEPS", 30)
    folder = _folder(tmp_path)
    cfg = C.load("mnist-dcgan", tiny_img + ["data.name=image-folder", f'data.path="{folder}"',
                                            "condition.kind=label"])
    run = Run.create(cfg, tmp_path / "run")
    run.train(progress=False)
    out = run.evaluate()
    assert out["features"] == "random" and np.isfinite(out["frd"]) and np.isfinite(out["krd"])
    for key in ("cond_accuracy", "m_is", "mode_score", "am_score", "cas", "gan_test", "real_acc", "copy_frac"):
        assert key in out, key
    # the trained classifier is cached on disk: a second evaluation does not retrain
    cached = list((FN.cache_dir().parent / "classifiers").glob("*.safetensors"))
    assert cached
    monkeypatch.setattr(own_classifier, "train_classifier", None)     # would fail if called for ds
    from gankit.metrics.own_classifier import dataset_classifier
    assert dataset_classifier(run.dataset) is not None


def test_image_statistics_known_answers():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(200, 1, 16, 16, generator=g) * 2 - 1
    same = S.image_statistics(real, real)
    assert same["pixel_js"] == 0 and same["spectrum_dist"] == 0 and same["sharpness_ratio"] == 1
    k = torch.ones(1, 1, 3, 3) / 9
    blurred = torch.nn.functional.conv2d(real, k, padding=1)
    b = S.image_statistics(real, blurred)
    assert b["sharpness_ratio"] < 0.6 and b["spectrum_dist"] > 0.5 and b["pixel_js"] > 0.05


def test_a_conditional_run_on_digits_the_data_skip_conditions_only_on_those_it_has(tmp_path, tiny_img):
    """MNIST-format files of digits 3, 5 and 7: conditioning, --label and the conditional metrics
    covered the digits 0-7, so a perfect G scored 3/8 and --label 0 drew a digit never seen."""
    from gankit import api
    from gankit.config import ConfigError
    from gankit.metrics import conditional as MC
    from gankit.train.run import Run
    root = _idx_folder(tmp_path / "idx", np.array([3, 5, 7] * 20))
    run = Run.create(C.load("mnist-dcgan", tiny_img + ["data.name=mnist", f'data.root="{root}"',
                                                       "condition.kind=label"]), tmp_path / "run")
    run.train(progress=False)
    assert run.dataset.classes.tolist() == [3, 5, 7]
    ctx = run.eval_context(True)
    assert set(MC._classes(ctx, 30).tolist()) == {3, 5, 7}
    _, y = run.conditions(12)
    assert set(y.tolist()) == {3, 5, 7}
    assert api.sample(run, 2, label=5).shape[0] == 2
    with pytest.raises(ConfigError, match="the classes with data are 3, 5, 7"):
        api.sample(run, 2, label=0)
    run.close()


def test_mismatched_conditions_are_other_classes_with_data():
    """The matching-aware D's wrong conditions: another class with data, never the sample's own
    (a shift over 0 .. max label landed on digits the data lack)."""
    from gankit.data.conditional import ConditionalData

    class Digits357:
        kind, labels, n_classes = "image", torch.tensor([3, 5, 7] * 10), 8
    ds = ConditionalData(Digits357(), "label")
    y = torch.tensor([3, 5, 7] * 50)
    wrong = ds.mismatched(y, torch.Generator().manual_seed(0))
    assert set(wrong.tolist()) == {3, 5, 7} and not (wrong == y).any()
    full = ConditionalData(type("All", (), {"kind": "image", "labels": torch.arange(8), "n_classes": 8})(), "label")
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    y = torch.arange(8).repeat(4)
    shift = torch.randint(1, 8, (len(y),), generator=g2)
    assert torch.equal(full.mismatched(y, g1), (y + shift) % 8)     # all classes: the draws as before


def test_m_is_of_float32_probabilities_that_underflowed_stays_near_its_float64_value():
    """A float32 probability that underflowed to 0 read as float64's smallest normal (log -708
    instead of about -104): two samples 110 logits apart read m-IS 3e61 instead of ~3e9."""
    from scipy.special import softmax
    logits = np.array([[0.0, -1.0], [110.0, 0.0]])            # both predict class 0
    exact = S.m_is(softmax(logits, 1))                         # float64: nothing underflows
    got = S.m_is(softmax(logits, 1).astype(np.float32))       # exp(-110) = 1.7e-48 underflows
    assert 0.1 < math.log(got) / math.log(exact) < 1.1


def test_the_inception_score_on_random_features_says_why_it_measures_nothing(tmp_path, digits):
    """Named, `is` ended in "nothing measured on this data"; listed, it was dropped without a word."""
    from gankit import config as C
    from gankit.config import ConfigError
    from gankit.train.run import Run
    from PIL import Image
    (tmp_path / "pics").mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):                      # unlabelled pictures: no classifier, random conv features
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tmp_path / "pics" / f"{i}.png")
    sets = digits + ["train.steps=1", "eval.n_samples=50", "data.name='image-folder'",
                     f"data.path='{tmp_path / 'pics'}'", "train.batch_size=8"]
    run = Run.create(C.load("mnist-dcgan", sets), tmp_path / "r").train()
    with pytest.raises(ConfigError, match="metric 'is': the features of this data are the random conv net's"):
        run.evaluate(["is"])
    with pytest.warns(UserWarning, match="metric 'is': the features of this data are the random conv net's"):
        out = run.evaluate(["is", "image_stats"], named=False)
    assert "cs" not in out and "is" not in out
    run.close()
