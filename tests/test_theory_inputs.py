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
