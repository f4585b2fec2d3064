"""Metrics for any data: two-sample point measures, HQ radius, exact JSD, protocols."""
import math

import numpy as np
import pytest
import torch

from gankit import config as C
from gankit.data import build_dataset
from gankit.metrics import distances as Dm
from gankit.metrics import image_measures as M
from gankit.metrics.divergence import jsd_on_grid
from gankit.metrics.modes import hq_radius_std, mode_metrics


def _ring(n, seed, drop=None):
    ds = build_dataset(C.load("ring"))
    x, idx = ds.sample_with_labels(2 * n, torch.Generator().manual_seed(seed))
    if drop is not None:
        x = x[idx != drop]
    return x[:n].double()


@pytest.fixture(scope="module")
def sets():
    real = _ring(600, 0)
    return {"real": real, "same": _ring(600, 1), "shift": _ring(600, 1) + 0.3,
            "drop": _ring(600, 1, drop=0), "copy": real.clone()}


def test_sliced_wasserstein_known_answers(sets):
    r = sets["real"]
    assert Dm.sliced_wasserstein(r, sets["copy"]) == 0.0
    same = Dm.sliced_wasserstein(r, sets["same"])
    # a shift by s along (1, 1) moves each projection u.x by s (u1 + u2): SW_2 = s sqrt(E (u1+u2)^2) = s
    assert abs(Dm.sliced_wasserstein(r, sets["shift"]) - 0.3) < 0.05
    assert Dm.sliced_wasserstein(r, sets["drop"]) > 1.3 * same   # 600 points: sampling noise is ~0.12


def test_energy_and_mmd_known_answers(sets):
    r = sets["real"]
    for f in (Dm.energy_distance, lambda a, b: Dm.mmd2(a, b)[0]):
        same, drop, shift = f(r, sets["same"]), f(r, sets["drop"]), f(r, sets["shift"])
        assert abs(same) < 0.2 * drop and drop < shift
    # 1-D closed form: energy distance of N(0,1) and N(d,1) -> 2 E|X-Y| - 2 E|X-X'|
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2000, 1, generator=g), torch.randn(2000, 1, generator=g) + 1.0
    e_xy = 2 * math.sqrt(2) * (math.exp(-1 / 4) / math.sqrt(2 * math.pi)) + 1.0 * math.erf(1 / 2)
    assert abs(Dm.energy_distance(a, b) - (2 * e_xy - 2 * 2 / math.sqrt(math.pi))) < 0.05
    assert Dm.mmd2(r, r, bandwidth=0.5)[1] == 0.5


def test_c2st_and_ndb_known_answers(sets):
    r = sets["real"]
    assert abs(Dm.c2st(r, sets["same"])["c2st_acc"] - 0.5) < 0.08
    assert Dm.c2st(r, sets["shift"])["c2st_acc"] > 0.9
    assert Dm.c2st(r, sets["shift"])["c2st_p"] < 1e-6
    assert Dm.ndb(r.numpy(), sets["copy"].numpy(), k=10)["ndb"] == 0
    assert Dm.ndb(r.numpy(), sets["same"].numpy(), k=10)["ndb"] <= 1
    assert Dm.ndb(r.numpy(), sets["drop"].numpy(), k=10)["ndb"] >= 1
    # a run's seed may pass the 32 bits sklearn's random_state takes (it raised)
    assert Dm.ndb(r.numpy(), sets["drop"].numpy(), k=10, seed=2**40 + 3)["ndb"] >= 1


def test_birthday_support_of_a_discrete_generator():
    # G copies K points uniformly: the estimate should be near K
    g = torch.Generator().manual_seed(0)
    for K in (100, 1000):
        pts = torch.randn(K, 2, generator=g) * 10
        x = pts[torch.randint(0, K, (3000,), generator=g)]
        est = Dm.birthday_support(x, tau=1e-6, trials=40)["birthday_support"]
        assert K / 2 < est < 2 * K, (K, est)


def test_prdc_uses_k3_for_precision_recall(sets):
    r, f = sets["real"], sets["same"]
    assert M.prdc(r, f) == M.prdc(r, f, k=3, k_dc=5)
    assert M.prdc(r, sets["copy"])["precision"] == 1.0 and M.prdc(r, sets["copy"])["coverage"] == 1.0
    assert M.prdc(r, f, k=3)["recall"] != M.prdc(r, f, k=5)["recall"]


def test_hq_radius_follows_the_dimension():
    assert hq_radius_std(2) == pytest.approx(3.0)
    assert hq_radius_std(1) == 3.0 and hq_radius_std(1200, 37.0) == 37.0
    for dim in (2, 10):
        ds = build_dataset(C.load({"data": {"name": "gmm", "dim": dim, "n_modes": 5, "std": 0.1}}))
        x = ds.sample(20000, torch.Generator().manual_seed(0))
        hq = mode_metrics(x, ds.modes, ds.mode_std)["hq_fraction"]
        assert abs(hq - (1 - math.exp(-4.5))) < 0.005, (dim, hq)
        if dim == 10:   # the old fixed 3 std: less than half of the true data
            assert mode_metrics(x, ds.modes, ds.mode_std, 3.0)["hq_fraction"] < 0.5


def test_jsd_exact_cells_beat_the_midpoint_rule():
    ds = build_dataset(C.load("ring"))
    x = ds.sample(400000, torch.Generator().manual_seed(0)).numpy()
    lo, hi = (t.numpy() for t in ds.bounds())
    exact = jsd_on_grid(ds.log_prob, x, lo, hi, 200, ds.cell_probs)
    centre = jsd_on_grid(ds.log_prob, x, lo, hi, 200)
    assert exact < 0.0005 < centre
    # the cell masses are exact: they sum to the mass inside the box (almost all of it)
    edges = [np.linspace(lo[i], hi[i], 201) for i in range(2)]
    assert abs(ds.cell_probs(edges).sum() - 1) < 1e-6


def test_inception_score_splits_like_the_original_code():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5) * 0.3, size=25)

    def original(preds, splits):   # Salimans et al.'s inception_score.py loop
        scores = []
        for i in range(splits):
            part = preds[(i * preds.shape[0] // splits):((i + 1) * preds.shape[0] // splits), :]
            kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
            scores.append(np.exp(np.mean(np.sum(kl, 1))))
        return np.mean(scores), np.std(scores)
    got = M.inception_score(p, splits=10)
    assert np.allclose(got, original(p, 10), rtol=1e-9)


def test_point_metrics_apply_to_any_points(tmp_path, tiny):
    from gankit.train.run import Run
    np.savetxt(tmp_path / "pts.csv", np.random.default_rng(0).normal(size=(300, 3)), delimiter=",")
    for data in (["data.name=swissroll"], ["data.name=points", f'data.path="{tmp_path / "pts.csv"}"']):
        run = Run.create(C.load("ring-vanilla", tiny + data + ["train.steps=5"]), tmp_path / data[0][10:])
        run.train(progress=False)
        out = run.evaluate()
        for key in ("swd", "energy", "mmd2", "c2st_acc", "c2st_gap", "ndb", "birthday_support", "precision",
                    "coverage"):
            assert key in out and math.isfinite(out[key]), (data, key)


def _file_ctx(tmp_path, rows: np.ndarray, n_samples: int, draw):
    from gankit.builtins import load_builtins
    from gankit.data.toy import PointsFile
    from gankit.metrics.context import EvalContext
    load_builtins()
    np.save(tmp_path / "pts.npy", rows.astype(np.float32))
    settings = C.load("ring-vanilla", [f"eval.n_samples={n_samples}"]).eval

    def sample(n, seed=None, y=None, c=None):
        return draw(n, torch.Generator().manual_seed(int(seed))), None
    return EvalContext(dataset=PointsFile(tmp_path / "pts.npy"), settings=settings, seed=0,
                       device=torch.device("cpu"), step=0, sample=sample)


def test_a_files_points_are_compared_once_each(tmp_path):
    """A file of 300 N(0, I) points against a perfect generator asked for 1,000 samples: drawn with
    replacement the real set repeated points, their k-NN radii shrank to 0, and precision and
    coverage read ~0.3-0.5; each row once, they read as sklearn-style counts on the file do."""
    from gankit.metrics import evaluate
    rows = np.random.default_rng(0).normal(size=(300, 2))
    ctx = _file_ctx(tmp_path, rows, 1000, lambda n, g: torch.randn(n, 2, generator=g))
    with pytest.warns(UserWarning, match="hold 300 points"):
        out = evaluate(ctx, ["prdc_points", "birthday"])
    assert out["precision"] > 0.9 and out["coverage"] > 0.9 and out["recall"] > 0.9
    real, fake = __import__("gankit.metrics.samples", fromlist=["pair"]).pair(ctx)
    assert len(real) == len(fake) == 300
    assert len(torch.unique(real, dim=0)) == 300
    assert 0.2 < out["birthday_ratio"] < 50     # the data's radius is not 0: a continuous G is not "infinitely" wide


def test_birthday_of_data_with_repeated_rows(tmp_path):
    """A file whose rows repeat: the copy radius comes from distinct points; all one point: skipped."""
    from gankit.metrics import evaluate
    from gankit.metrics.samples import duplicate_radius
    base = np.random.default_rng(1).normal(size=(100, 2))
    twice = torch.tensor(np.concatenate([base, base]))
    assert duplicate_radius(twice) == pytest.approx(duplicate_radius(torch.tensor(base)), rel=1e-9)
    grid = torch.tensor(np.random.default_rng(2).integers(0, 10, size=(400, 3)))   # integer columns repeat
    assert duplicate_radius(grid) == pytest.approx(1.0)
    ctx = _file_ctx(tmp_path, np.ones((40, 2)), 40, lambda n, g: torch.randn(n, 2, generator=g))
    with pytest.warns(UserWarning, match="birthday skipped"):
        assert evaluate(ctx, ["birthday"]) == {}


def test_a_metric_skipped_for_want_of_data_does_not_ask_for_more_samples(tmp_path):
    from gankit.metrics import evaluate
    ctx = _file_ctx(tmp_path, np.random.default_rng(0).normal(size=(4, 2)), 100,
                    lambda n, g: torch.randn(n, 2, generator=g))
    with pytest.warns(UserWarning, match=r"'prdc_points' skipped.*\(the data hold 4 samples, too few for it\)"):
        assert "precision" not in evaluate(ctx, ["prdc_points"])


def test_too_few_samples_skip_a_metric_not_the_evaluation(tmp_path, tiny, capsys):
    """eval.n_samples of 1 or 3: the metrics that need more are skipped with a warning naming
    eval.n_samples; the others are measured, at the end of training as in `gankit eval`."""
    from gankit.cli import main
    out = tmp_path / "run"
    assert main(["train", "ring-vanilla", "--out", str(out)]
                + [a for kv in tiny + ["train.steps=5", "eval.n_samples=3"] for a in ("--set", kv)]) == 0
    err = capsys.readouterr().err
    assert "metric 'prdc_points' skipped" in err and "eval.n_samples = 3; more samples: --set eval.n_samples=500" in err
    assert "Traceback" not in err
    assert main(["eval", str(out), "--no-record", "--set", "eval.n_samples=1"]) == 0
    got = capsys.readouterr()
    assert "swd" in got.out and "'c2st' skipped" in got.err and "'mmd' skipped" in got.err


def _ring_pts(n, seed, radius=3.0, std=0.01, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 8, (n,), generator=g) * (2 * math.pi / 8)
    x = torch.stack([radius * torch.cos(a), radius * torch.sin(a)], 1).double()
    return x + std * torch.randn(n, 2, generator=g, dtype=torch.float64) + shift


def test_prdc_is_the_same_wherever_the_data_lie_and_matches_a_float64_scan():
    from gankit.metrics.image_measures import prdc
    real, fake = _ring_pts(1500, 0), _ring_pts(1500, 1)

    def scan(r, f, k=3, k_dc=5):             # Kynkaanniemi 2019 / Naeem 2020's code by float64 differences
        d = torch.cdist(r, f)
        kth = lambda s, kk: torch.cdist(s, s).kthvalue(kk + 1, 1).values   # noqa: E731
        rr, rf, rdc = kth(r, k), kth(f, k), kth(r, k_dc)
        return {"precision": float((d <= rr[:, None]).any(0).double().mean()),
                "recall": float((d <= rf[None]).any(1).double().mean()),
                "density": float((d < rdc[:, None]).double().sum(0).mean() / k_dc),     # Naeem's open balls
                "coverage": float((d.min(1).values < rdc).double().mean())}
    want = scan(real, fake)
    for shift in (0.0, 1000.0):
        got = prdc((real + shift).numpy(), (fake + shift).numpy())
        assert got == pytest.approx(want, abs=2e-3), shift


def test_birthday_support_is_the_same_wherever_the_data_lie():
    from gankit.metrics.distances import birthday_support
    from gankit.metrics.samples import duplicate_radius
    x = _ring_pts(2500, 0)
    tau = duplicate_radius(x)
    assert duplicate_radius(x + 1000.0) == pytest.approx(tau, rel=1e-6)
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    close = int((d <= tau).sum()) // 2                 # pairs within tau, by float64 differences
    assert close <= 40
    a, b = birthday_support(x, tau), birthday_support(x + 1000.0, tau)
    assert a == b and a["birthday_support"] > 1e5      # not every pair a "copy" once shifted


def test_c2st_of_a_set_with_a_nan_is_nan_not_indistinguishable():
    from gankit.metrics.distances import c2st
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 2, generator=g), torch.randn(200, 2, generator=g) + 4
    assert c2st(x, y)["c2st_acc"] > 0.95
    y[7, 0] = float("nan")
    out = c2st(x, y)
    assert math.isnan(out["c2st_acc"]) and math.isnan(out["c2st_gap"]) and math.isnan(out["c2st_p"])


def test_c2st_ranks_the_distance_from_chance_so_a_copier_is_not_best():
    """A G returning the data's own points read accuracy ~0.34 (each point in the training half
    with one label, the test half with the other); ranked "lower", it beat fresh draws."""
    from gankit.builtins import load_builtins
    from gankit.metrics.base import output_info
    load_builtins()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3))
    copier, fresh = Dm.c2st(x, x[rng.permutation(200)]), Dm.c2st(x, rng.standard_normal((200, 3)))
    assert copier["c2st_acc"] < 0.4 and copier["c2st_gap"] == pytest.approx(0.5 - copier["c2st_acc"])
    assert fresh["c2st_gap"] == pytest.approx(abs(fresh["c2st_acc"] - 0.5))
    assert fresh["c2st_gap"] < copier["c2st_gap"]
    assert output_info("c2st_gap").better == "lower" and output_info("c2st_acc").better is None


def test_energy_and_mmd_are_the_same_far_from_the_origin():
    """Spread 0.01 at offset 1e6: energy read +38% and MMD^2 -26% from uncentred float64 rows."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((300, 2)) * 0.01, (rng.standard_normal((300, 2)) * 1.05 + 0.05) * 0.01
    e0, (m0, h0) = Dm.energy_distance(x, y), Dm.mmd2(x, y)
    e, (m, h) = Dm.energy_distance(x + 1e6, y + 1e6), Dm.mmd2(x + 1e6, y + 1e6)
    assert e == pytest.approx(e0, rel=1e-4) and m == pytest.approx(m0, rel=1e-4) and h == pytest.approx(h0, rel=1e-6)


def test_mmd_median_bandwidth_is_the_midpoint_for_an_even_count_of_pairs():
    from scipy.spatial.distance import pdist
    x, y = np.array([[0.0], [1.0]]), np.array([[3.0], [7.0]])     # 6 pairs: 1 2 3 4 6 7
    assert Dm.median_bandwidth(x, y) == pytest.approx(float(np.median(pdist(np.r_[x, y])))) == 3.5
    assert Dm.mmd2(x, y)[1] == 3.5
    assert Dm.median_bandwidth(x, y[:1]) == 2.0           # 3 pairs: 1 2 3, the middle one


@pytest.mark.parametrize("which", ["real", "fake"])
def test_prdc_of_a_set_with_a_nan_is_nan_not_zero(which):
    """One NaN among 300 generated points read coverage 0; one among the real points, all four 0."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 5))
    sets = {"real": x, "fake": x.copy()}
    sets[which][3, 0] = np.nan
    out = M.prdc(sets["real"], sets["fake"])
    assert sorted(out) == ["coverage", "density", "precision", "recall"]
    assert all(math.isnan(v) for v in out.values()), out


def test_sliced_wasserstein_of_unequal_sets_is_w2_between_the_empirical_measures():
    from gankit.metrics.distances import sliced_wasserstein
    x = torch.tensor([[0.0], [1.0]])
    assert sliced_wasserstein(x, torch.tensor([[0.0], [0.0], [1.0], [1.0]])) == pytest.approx(0, abs=1e-12)
    assert sliced_wasserstein(x, torch.tensor([[0.0], [0.0], [1.0]])) == pytest.approx(math.sqrt(1 / 6))
    z = torch.randn(30, 3, generator=torch.Generator().manual_seed(1))
    assert sliced_wasserstein(z, z.repeat(3, 1)) == pytest.approx(0, abs=1e-12)
    y = torch.randn(30, 3, generator=torch.Generator().manual_seed(2))
    assert sliced_wasserstein(z, y) == pytest.approx(sliced_wasserstein(z, y.repeat(2, 1)), rel=1e-9)


def test_a_file_of_repeated_rows_is_measured_on_its_distinct_points(tmp_path):
    """20 points each 20 times in the file: counted as neighbours, a point's copies gave every
    k-NN ball radius 0 and precision, density and coverage 0 for a G close to the data, and NDB
    asked k-means for 50 bins (sklearn's "distinct clusters" warning).  Copies are one point:
    G and the reference row read ~1, a G collapsed onto one point keeps its low recall."""
    import warnings

    from gankit.metrics import evaluate
    from gankit.metrics.reference import evaluate_reference
    base = np.random.default_rng(0).normal(size=(20, 2))
    near = torch.tensor(base, dtype=torch.float32)
    ctx = _file_ctx(tmp_path, np.repeat(base, 20, axis=0), 400, lambda n, g: (
        near[torch.randint(0, 20, (n,), generator=g)] + 0.01 * torch.randn(n, 2, generator=g)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = evaluate(ctx, ["prdc_points", "ndb"])
    assert min(out["precision"], out["coverage"], out["recall"]) > 0.95 and 0.8 < out["density"] < 1.3, out
    assert out["ndb_k"] == 20 and out["ndb"] <= 1
    ref = evaluate_reference(ctx.dataset, ctx.settings, 0, ["prdc_points", "ndb"])
    assert ref["precision"] == ref["coverage"] == 1.0 and ref["density"] == pytest.approx(1.0) and ref["ndb"] == 0
    rows = torch.tensor(np.repeat(base, 20, axis=0))
    collapsed = M.prdc(rows, rows[:1].repeat(400, 1))
    assert collapsed["recall"] == pytest.approx(0.05) and collapsed["coverage"] == pytest.approx(0.2)


@pytest.mark.parametrize("means,std", [([[1, 0], [0, 1], [-1, 0], [0, -1]], 0.05), ([[-2.0], [2.0]], 0.5),
                                       ([[0.0, 0.0]], 0.3)])
@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1e3])
def test_the_jsd_of_a_mixture_does_not_depend_on_its_units(means, std, scale):
    """The grid's box had a floor of 1.0 in data units: a ring of radius 1e-6 fell into one or two
    cells, and a broad blob scored JSD ~0."""
    from gankit.data.toy import GaussianMixture
    from gankit.metrics.divergence import jsd_on_grid

    def value(s):
        ds = GaussianMixture(torch.tensor(means) * s, std * s)
        x = np.random.default_rng(0).normal(0.0, 1.5, (4000, len(means[0]))) * s    # far from p_data
        lo, hi = ds.bounds()
        return jsd_on_grid(ds.log_prob, x, lo.numpy(), hi.numpy(), 100, ds.cell_probs)
    ref = value(1.0)
    assert ref > 0.1
    assert value(scale) == pytest.approx(ref, rel=1e-3, abs=1e-4)
