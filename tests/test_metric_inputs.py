"""What the pure metric functions take and refuse: sample floors of IS and the class scores,
the directions of density and diversity_ratio, repeated real rows in prdc, and inputs of any
float type, tensors that need grad, arrays, NaN and rows that are not probabilities."""
import json
import warnings

import numpy as np
import pytest
import torch
from scipy.special import softmax

from gankit import config as C
from gankit.cli import main
from gankit.metrics import classifier_scores as S
from gankit.metrics import distances as D
from gankit.metrics import image_measures as M
from gankit.metrics.base import TooFewSamples, output_info
from gankit.metrics.modes import mode_metrics
from gankit.report import compare as CMP
from gankit.report import metricinfo as MI
from gankit.runfolder import RunFolder


def _confident(n: int, k: int = 10, seed: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return softmax(8 * np.eye(k)[np.arange(n) % k] + rng.normal(size=(n, k)), 1)


# ------------------------------------------------------------------ sample floors


def test_inception_score_needs_two_samples_a_split():
    """One sample a split is its own p(y): IS 1.000 whatever G (it read 1.000 at n = 10)."""
    p = _confident(1000)
    for n in (10, 19):
        with pytest.raises(TooFewSamples, match="each split needs 2 or more"):
            M.inception_score(p[:n])
    assert M.inception_score(p[:20])[0] == pytest.approx(1.9784292476786967, rel=1e-12)
    assert M.inception_score(p)[0] == pytest.approx(9.462069325583164, rel=1e-12)


def test_m_is_and_mode_score_refuse_what_one_sample_cannot_score():
    p = _confident(1000)
    with pytest.raises(TooFewSamples, match="no predicted class holds 2"):
        S.m_is(p[:10])                                       # ten classes, one sample each: it read 1.0
    with pytest.raises(TooFewSamples, match="no predicted class holds 2"):
        S.m_is(p[:1])
    with pytest.raises(TooFewSamples, match="need 2 or more samples"):
        S.mode_score(p[:1], np.ones(10))                     # exp(KL - KL) of one row: it read 1.0
    assert S.m_is(p[:11]) > 1 and S.mode_score(p[:2], np.ones(10)) > 1


def test_class_scores_skip_one_sample_and_leave_out_m_is_without_a_class_of_two(tmp_path, digits, monkeypatch):
    """`gankit eval RUN --metrics class_scores --set eval.n_samples=1` recorded m_is and
    mode_score 1.0 while every other image metric was skipped."""
    from gankit.train.run import Run
    run = Run.create(C.load("mnist-dcgan", digits + ["eval.n_samples=1"]), tmp_path / "r")
    with pytest.warns(UserWarning, match=r"'class_scores' skipped: mode_score: need 2 or more samples"):
        out = run.evaluate(["class_scores"])
    assert "m_is" not in out and "mode_score" not in out
    # a class of 2 is missing, not 2 samples: the other two scores stand
    monkeypatch.setattr(S, "_probs", lambda ctx: torch.as_tensor(_confident(10)))
    monkeypatch.setattr(S, "_prior", lambda ds, n: np.ones(n))
    with pytest.warns(UserWarning, match="m_is left out: m_is: no predicted class holds 2"):
        out = S._class_scores(type("Ctx", (), {"dataset": None})())
    assert set(out) == {"mode_score", "am_score"}


# ------------------------------------------------------------------ directions


def _fake_run(path, **numbers):
    f = RunFolder(path)
    f.path.mkdir(parents=True)
    f.write_config('seed = 0\n[train]\nsteps = 100\n')
    f.append({"step": 100, "kind": "train", "loss_d": 1.3, "loss_g": 0.7, "time": 10.0})
    f.append({"step": 100, "kind": "eval", **numbers})
    return f.path


def test_density_and_diversity_ratio_are_described_not_ranked(tmp_path, capsys):
    """A G piled on the modes reads density 1.28 against the data's 1.04, and noise a diversity
    ratio above 1: "higher is better" marked both best in the report and `gankit compare`."""
    assert output_info("density").better is None and output_info("diversity_ratio").better is None
    assert output_info("precision").better == "higher" and output_info("coverage").better == "higher"
    piled = _fake_run(tmp_path / "piled", precision=0.99, density=1.28, coverage=0.60, diversity_ratio=1.6)
    true = _fake_run(tmp_path / "true", precision=0.97, density=1.04, coverage=0.95, diversity_ratio=1.0)
    by = {m["key"]: m for m in CMP.compare_data([piled, true])["metrics"]}
    assert by["density"]["best"] == [] and by["diversity_ratio"]["best"] == []
    assert by["precision"]["best"] == [0] and by["coverage"]["best"] == [1]
    assert main(["compare", str(piled), str(true), "--text"]) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("density"))
    assert "*" not in row and "better" not in row
    assert main(["compare", str(piled), str(true), "--json"]) == 0
    assert {m["key"]: m["best"] for m in json.loads(capsys.readouterr().out)["metrics"]}["density"] == []
    assert main(["compare", str(piled), str(true), "--out", str(tmp_path / "c.html")]) == 0
    assert main(["report", str(piled)]) == 0
    rows = {r["key"]: r for g in MI.groups({"density": 1.28, "diversity_ratio": 1.6}, None, MI.key_infos())
            for r in g["rows"]}
    assert rows["density"]["direction"] == "descriptive" == rows["diversity_ratio"]["direction"]
    assert "Traceback" not in capsys.readouterr().err


# ------------------------------------------------------------------ repeated real rows in prdc


def test_prdc_counts_a_repeated_real_point_once_in_recall_and_coverage():
    """30 real points G misses, repeated 10x: recall read 0.784 (0.920 distinct) and coverage 0.40
    (0.67); density and precision already counted the copies once."""
    rng = np.random.default_rng(19)
    x = rng.normal(size=(300, 2))
    f = rng.normal(size=(300, 2)) + [1.5, 0]
    left = np.argsort(x[:, 0])[:30]
    distinct = M.prdc(x, f)
    repeated = M.prdc(np.concatenate([x, np.repeat(x[left], 9, 0)]), f)
    assert distinct == {"precision": 0.9633333333333334, "recall": 0.92, "density": 0.9013333333333333,
                        "coverage": 0.67}                  # the numbers before, no row repeated
    assert repeated == distinct


# ------------------------------------------------------------------ inputs


def _sets(probs: bool = False):
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(120, 5)), rng.normal(size=(100, 5)) * 1.2 + 0.3
    return (a, b, softmax(3 * rng.normal(size=(200, 6)), 1)) if probs else (a, b)


def test_numbers_on_float32_and_float64_inputs_are_unchanged():
    """Values of the code before the shared input helpers, on the same inputs."""
    a, b, p = _sets(probs=True)
    a32, b32 = torch.tensor(a.astype(np.float32)), torch.tensor(b.astype(np.float32))
    prior = np.arange(1, 7.0)
    assert M.fid_from_features(a, b) == 1.2762725977519924
    assert M.fid_from_features(a32, b32) == 1.2762725947241407
    assert M.kid(a, b, 10, 50) == (0.9889515151091267, 0.23726764514146922)
    assert M.inception_score(p) == (2.703724771963551, 0.2541867089696398)
    assert M.inception_score(p.astype(np.float32)) == (2.70372477227994, 0.2541867057733511)
    assert S.m_is(p) == 2.5478470899501025 and S.m_is(p.astype(np.float32)) == 2.5478470906318296
    assert S.mode_score(p, prior) == 2.851929613416642
    assert S.am_score(p, prior) == 0.9016951506641897
    assert S.am_score(p.astype(np.float32), prior) == 0.9016951503996274
    assert M.prdc(a32, b32) == {"precision": 0.8, "recall": 0.95, "density": 0.638,
                                "coverage": 0.7916666666666666}
    assert D.energy_distance(a, b) == 0.27181061411273166
    assert D.mmd2(a32, b32) == (0.04714451050751056, 3.249780807750213)
    assert D.ndb(a, b, k=10) == {"ndb": 2, "ndb_k": 10, "ndb_frac": 0.2, "ndb_js": 0.05062067444007727}
    assert M.parzen_protocol(a32, b32[:50], b32[50:])["parzen_ll"] == -8.254475403265856
    assert M.parzen_protocol(torch.tensor(a), torch.tensor(b[:50]), torch.tensor(b[50:]))["parzen_ll"] \
        == -8.254475384536304
    out = mode_metrics(b32, a32[:4], 1.0)
    assert out["hq_fraction"] == 0.81 and out["reverse_kl"] == 0.08134088022696104


def test_tensors_that_need_grad_bfloat16_and_arrays_are_taken():
    """requires_grad crashed fid, kid, mmd2 and parzen_protocol ("Can't call numpy()"); bfloat16
    crashed fid and kid (TypeError); arrays crashed mode_metrics and parzen_protocol."""
    a, b = _sets()
    grad = [torch.tensor(s, requires_grad=True) for s in (a, b)]
    assert M.fid_from_features(*grad) == M.fid_from_features(a, b)
    assert M.kid(*grad, 10, 50) == M.kid(a, b, 10, 50)
    assert D.mmd2(*grad) == D.mmd2(a, b)
    ta, tb = torch.tensor(a), torch.tensor(b)
    want = M.parzen_protocol(ta, tb[:50], tb[50:])
    assert M.parzen_protocol(grad[0], grad[1][:50], grad[1][50:]) == want
    assert M.parzen_protocol(a, b[:50], b[50:]) == want                   # numpy
    assert mode_metrics(b, a[:4], 1.0) == mode_metrics(tb, ta[:4], 1.0) == mode_metrics(b.tolist(), ta[:4], 1.0)
    bf = [torch.tensor(s).bfloat16() for s in (a, b)]
    exact = [s.double().numpy() for s in bf]                             # bfloat16 widens exactly
    assert M.fid_from_features(*bf) == M.fid_from_features(*exact)
    assert M.kid(*bf, 10, 50) == M.kid(*exact, 10, 50)
    p = _confident(100)
    assert M.inception_score(torch.tensor(p, requires_grad=True)) == M.inception_score(p)
    assert S.m_is(torch.tensor(p, requires_grad=True)) == S.m_is(p)


def test_non_finite_features_give_nan_and_one_point_data_is_refused():
    """fid raised LinAlgError "Eigenvalues did not converge", ndb sklearn's multi-line ValueError;
    ndb of real points all at one point read 0 bins different."""
    a, b = _sets()
    for bad in (np.nan, np.inf):
        x = a.copy()
        x[0, 0] = bad
        with warnings.catch_warnings():
            warnings.simplefilter("error")                  # NaN quietly, as prdc and c2st give it
            assert np.isnan(M.fid_from_features(x, b)) and np.isnan(M.fid_from_features(b, x))
            out = D.ndb(x, b)
            assert np.isnan(out["ndb"]) and np.isnan(out["ndb_js"])
            assert np.isnan(D.ndb(b, x)["ndb_frac"])
    with pytest.raises(TooFewSamples, match="the real points are all one point"):
        D.ndb(np.ones((50, 5)), b)


@pytest.mark.parametrize("score", [lambda p: M.inception_score(p), S.m_is,
                                   lambda p: S.mode_score(p, np.ones(p.shape[1])),
                                   lambda p: S.am_score(p, np.ones(p.shape[1]))])
def test_rows_that_are_not_probabilities_are_refused_in_one_line(score):
    """Raw logits read IS 4.5e70; rows summing to 2 gave a number too."""
    rng = np.random.default_rng(20)
    logits = rng.normal(size=(100, 6))
    for bad in (logits, 2 * softmax(logits, 1)):
        with pytest.raises(ValueError, match=r"rows are not probabilities .*pass softmax\(logits\)") as e:
            score(bad)
        assert "\n" not in str(e.value)
    # NaN rows (a diverged net): softmax would not mend them, so the advice is not given
    with pytest.raises(ValueError, match=r"100 of 100 rows hold NaN or infinite values \(row 0\)") as e:
        score(np.where(np.eye(6)[np.arange(100) % 6] > 0, np.nan, 0.0))
    assert "softmax" not in str(e.value) and "\n" not in str(e.value)
    p = softmax(logits, 1)
    for ok in (p, p.astype(np.float16), torch.tensor(p).bfloat16()):      # rounding is not refused
        assert np.isfinite(score(ok)).all()
