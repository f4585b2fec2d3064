"""gankit.theory's inputs: log-densities where densities underflow, the grid's order, the clip on D."""
import math
import warnings

import numpy as np
import pytest
import torch

from gankit.registry import DATASETS
from gankit.theory import (jsd_by_integration, kl_by_integration, nonsaturating_terms, optimal_d,
                           value_by_integration)


def _normal(x, mean, std):
    """log N(x; mean, std^2) in float64."""
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std * math.sqrt(2 * math.pi))


def _narrow_and_wide():
    """p_data = N(0, 0.3^2), p_g = N(0, 1) as Dataset.log_prob gives them (float32) on [-8, 8]:
    exp of p_data's log underflows past |x| = 4.3, where p_g still has mass."""
    p_data = DATASETS.build("mixture1d", {"means": [0.0], "stds": [0.3]})
    p_g = DATASETS.build("mixture1d", {"means": [0.0], "stds": [1.0]})
    x = torch.linspace(-8, 8, 3201)[:, None]
    return x, p_data.log_prob(x), p_g.log_prob(x)


TRUE_KL = math.log(0.3) + 1 / (2 * 0.09) - 0.5          # KL(N(0, 1) || N(0, 0.3^2)) = 3.8516


def test_float32_log_densities_give_the_finite_kl_and_nonsaturating_terms():
    x, log_data, log_g = _narrow_and_wide()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # no overflow warning escapes either
        kl = kl_by_integration(log_g, log_data, x, log=True)
        t = nonsaturating_terms(log_data, log_g, x, log=True)
    assert kl == pytest.approx(TRUE_KL, abs=1e-4)
    assert t["kl_g_data"] == kl and abs(t["residual"]) < 1e-9
    assert math.isfinite(t["ns_loss"]) and t["ns_loss"] > kl


def test_underflowed_densities_say_so_and_name_log_true():
    """The same densities exponentiated in float32: q is 0 where p is not, so the KL is inf;
    a warning (and only it: no overflow warning) says the 0s may be underflow and how to avoid it."""
    x, log_data, log_g = _narrow_and_wide()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kl = kl_by_integration(log_g.exp(), log_data.exp(), x)
        t = nonsaturating_terms(log_data.exp(), log_g.exp(), x)
    assert kl == math.inf and t["kl_g_data"] == math.inf
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2, messages
    assert "KL(P || Q) is inf: q is 0 at" in messages[0] and "log=True" in messages[0]
    assert "KL(p_g || p_data) is inf: p_data is 0 at" in messages[1] and "underflowed" in messages[1]
    assert all(w.filename == __file__ for w in caught)   # they point at the caller's line


def test_float64_tails_far_apart_give_kl_800_from_log_densities():
    """N(10, 0.5^2) against N(-10, 0.5^2): KL = 20^2 / (2 0.25) = 800, though exp of either log
    is 0 in float64 where the other has its mass."""
    x = np.linspace(-20, 20, 40001)
    log_data, log_g = _normal(x, -10, 0.5), _normal(x, 10, 0.5)
    assert kl_by_integration(log_g, log_data, x, log=True) == pytest.approx(800.0, rel=1e-9)
    t = nonsaturating_terms(log_data, log_g, x, log=True)
    assert t["kl_g_data"] == pytest.approx(800.0, rel=1e-9) and abs(t["residual"]) < 1e-9
    assert t["ns_loss"] == pytest.approx(800.0, rel=1e-6)
    assert jsd_by_integration(log_data, log_g, x, log=True) == pytest.approx(math.log(2), abs=1e-12)
    with pytest.warns(RuntimeWarning, match="underflowed"):
        assert kl_by_integration(np.exp(log_g), np.exp(log_data), x) == math.inf


def test_true_disjoint_supports_stay_inf_and_log_2():
    """-inf log-densities are real zeros: the KL and the loss are inf with no warning, the JSD log 2."""
    x = np.linspace(-1, 4, 5001)
    log_p = np.where((x >= 0) & (x <= 1), 0.0, -np.inf)
    log_q = np.where((x >= 2) & (x <= 3), 0.0, -np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kl_by_integration(log_p, log_q, x, log=True) == math.inf
        t = nonsaturating_terms(log_p, log_q, x, log=True)
    assert t["kl_g_data"] == math.inf and t["ns_loss"] == math.inf
    assert jsd_by_integration(log_p, log_q, x, log=True) == pytest.approx(math.log(2), abs=1e-3)
    assert jsd_by_integration(np.exp(log_p), np.exp(log_q), x) == pytest.approx(math.log(2), abs=1e-3)


def test_log_densities_and_densities_give_the_same_numbers_where_nothing_underflows():
    x = np.linspace(-12, 12, 24001)
    log_data = np.logaddexp(math.log(0.3) + _normal(x, -2, 0.4), math.log(0.7) + _normal(x, 1, 1))
    log_g = _normal(x, 0, 1.5)
    d = optimal_d(torch.from_numpy(log_data), torch.from_numpy(log_g)).numpy()
    for f, args in ((kl_by_integration, (log_g, log_data)), (jsd_by_integration, (log_data, log_g))):
        assert f(*args, x, log=True) == pytest.approx(f(*map(np.exp, args), x), abs=1e-12)
    assert value_by_integration(d, log_data, log_g, x, log=True) == pytest.approx(
        value_by_integration(d, np.exp(log_data), np.exp(log_g), x), abs=1e-12)
    from_logs = nonsaturating_terms(log_data, log_g, x, log=True)
    assert from_logs == pytest.approx(nonsaturating_terms(np.exp(log_data), np.exp(log_g), x), abs=1e-12)


@pytest.mark.parametrize("order", ["descending", "unsorted", "repeated"])
def test_a_grid_that_is_not_strictly_increasing_is_refused(order):
    """Integrating right to left flips every sign (JSD -0.128, V(D = 1/2) +1.386): refused."""
    x = np.linspace(-12, 12, 2001)
    x = {"descending": x[::-1], "unsorted": np.r_[x[:10], x[11], x[10], x[12:]],
         "repeated": np.r_[x[:10], x[10], x[10:-1]]}[order]
    p, q = np.exp(_normal(x, 0, 1)), np.exp(_normal(x, 1, 2))
    for call in (lambda: jsd_by_integration(p, q, x), lambda: kl_by_integration(q, p, x, log=True),
                 lambda: value_by_integration(0.5, p, q, x), lambda: nonsaturating_terms(p, q, x)):
        with pytest.raises(ValueError, match="needs a strictly increasing grid x, but x\\[.*sort x"):
            call()


def test_d_is_clipped_to_1e_12_and_the_docstring_says_so():
    """A D that is 0 on all of p_data costs log(1e-12) = -27.6 per unit of mass, not -inf: the clip
    keeps a sigmoid's D, rounded to 0 or 1 where the other density is negligible, finite."""
    x = np.linspace(-8, 8, 4001)
    p, q = np.exp(_normal(x, 0, 1)), np.exp(_normal(x, 1, 1))
    assert value_by_integration(0.0, p, q, x) == pytest.approx(math.log(1e-12), rel=1e-6)
    assert "clipped to [1e-12, 1 - 1e-12]" in value_by_integration.__doc__
    # D* of two Gaussians 20 apart is exactly 1 in float64 where p_g is still positive (~1e-300)
    x = np.linspace(-20, 20, 40001)
    log_data, log_g = _normal(x, -10, 0.5), _normal(x, 10, 0.5)
    d = optimal_d(torch.from_numpy(log_data), torch.from_numpy(log_g)).numpy()
    assert ((d == 1.0) & (np.exp(log_g) > 0)).any()
    assert abs(value_by_integration(d, log_data, log_g, x, log=True)) < 1e-9     # C(G) = 2 log 2 - log 4


# ---------------------------------------------------------------- what no density can be (audit F85)

def test_a_grid_short_of_the_mass_or_unnormalised_densities_are_warned_about():
    """A KL of -0.012 (N(3, 1) against N(0, 1) on [-2, 2]) and a JSD of 5.27 (densities times 10)
    came back without a word; now each density off its mass is named with its integral."""
    x = np.linspace(-2, 2, 4001)
    p, q = np.exp(_normal(x, 0, 1)), np.exp(_normal(x, 3, 1))
    with pytest.warns(RuntimeWarning) as said:
        kl_by_integration(q, p, x)
    messages = [str(w.message) for w in said]
    assert messages[0].startswith("p integrates to 0.1587 on the grid [-2, 2], not 1")
    assert messages[1].startswith("q integrates to 0.9545") and "widen the grid" in messages[1]
    assert all(w.filename == __file__ for w in said)      # they point at the caller's line
    x = np.linspace(-8, 8, 2001)
    p, q = np.exp(_normal(x, 0, 1)), np.exp(_normal(x, 3, 1))
    for call in (lambda: jsd_by_integration(10 * p, 10 * q, x),
                 lambda: jsd_by_integration(np.log(10 * p), np.log(10 * q), x, log=True),
                 lambda: value_by_integration(0.5, 10 * p, q, x), lambda: nonsaturating_terms(10 * p, q, x)):
        with pytest.warns(RuntimeWarning, match=r"integrates to 10 on the grid \[-8, 8\], not 1.*normalise"):
            call()


def test_a_jsd_past_log_2_from_the_trapezoid_at_jumps_is_log_2():
    """Disjoint uniforms on a grid whose points fall on their edges: the trapezoid's masses are
    1.00125 and the JSD read 0.6940 > log 2.  That mass is within the tolerance: no warning."""
    x = np.linspace(-1, 4, 4001)
    u = ((x >= 0) & (x <= 1)).astype(float)
    v = ((x >= 2) & (x <= 3)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert jsd_by_integration(u, v, x) == math.log(2)
        assert nonsaturating_terms(u, u, x)["jsd"] == 0.0


@pytest.mark.parametrize("bad", [-1e-3, math.nan])
def test_a_negative_or_nan_density_is_refused_with_its_index(bad):
    """It gave NaN with only numpy's 'invalid value' warning."""
    x = np.linspace(-8, 8, 2001)
    p, q = np.exp(_normal(x, 0, 1)), np.exp(_normal(x, 1, 1))
    q[5] = bad
    for call in (lambda: jsd_by_integration(p, q, x), lambda: kl_by_integration(p, q, x),
                 lambda: nonsaturating_terms(p, q, x), lambda: value_by_integration(0.5, p, q, x)):
        with pytest.raises(ValueError, match=r"\[5\] = (-0.001|nan) \(at x = -7.96\), but a density is a number, 0 or more"):
            call()
    with np.errstate(invalid="ignore"):
        log_q = np.log(q)                                # NaN at 5 either way
    with pytest.raises(ValueError, match=r"p\[5\] = nan .*but a log-density is a number or -inf"):
        jsd_by_integration(log_q, np.log(p), x, log=True)


@pytest.mark.parametrize("d", [1.5, -0.2, math.nan])
def test_a_d_outside_0_1_is_refused_and_0_and_1_are_still_clipped(d):
    """A D of 1.5 read V = -27.63 (clipped to 1 - 1e-12 without a word); a NaN D gave NaN."""
    x = np.linspace(-8, 8, 2001)
    p, q = np.exp(_normal(x, 0, 1)), np.exp(_normal(x, 1, 1))
    dd = np.full_like(x, 0.5)
    dd[7] = d
    with pytest.raises(ValueError, match=r"d\[7\] = .* \(at x = -7.944\), but D is a probability, in \[0, 1\]"):
        value_by_integration(dd, p, q, x)
    with pytest.raises(ValueError, match=r"d\[0\] = "):
        value_by_integration(d, p, q, x)
    assert value_by_integration(1.0, p, q, x) == pytest.approx(math.log(1e-12), rel=1e-6)


@pytest.mark.filterwarnings("ignore:data.name=gmm")      # ring's modes not carried over: meant
def test_the_jsd_metric_the_refusals_point_to_says_1_d_and_2_d_data_only(tmp_path):
    """gankit.theory sends data of more dimensions to the jsd metric, which refused 3-D data with
    "'jsd' cannot measure this data (GaussianMixture)" and no reason."""
    from gankit import config as C
    from gankit.metrics import not_applying
    from gankit.registry import METRICS
    from gankit.train.run import Run
    with pytest.raises(ValueError, match=r"use the jsd metric \(.*1-D and 2-D data only\)"):
        jsd_by_integration(np.ones((50, 3)), np.ones((50, 3)), np.linspace(0, 1, 50))
    cfg = C.load("ring", ['data.name="gmm"', "data.dim=3", 'eval.metrics=["jsd"]'])
    with pytest.raises(C.ConfigError, match=r"'jsd' cannot measure this data \(GaussianMixture\): 'jsd' needs "
                                            r"data with a known density, 1-D and 2-D data only"):
        Run.create(cfg, tmp_path / "r")
    ds = DATASETS.build("gmm", {"dim": 3})
    assert "it needs data with a known density, 1-D and 2-D data only" in str(not_applying(METRICS.build("jsd"), ds))
