"""Proposition 1 and Theorem 1 of the paper, checked with numbers."""
import math

import numpy as np
import pytest
import torch

from gankit.registry import DATASETS, DISCRIMINATORS
from gankit.theory import (c_of_g, fit_discriminator, jsd_by_integration, kl_by_integration,
                           nonsaturating_terms, optimal_d, value_by_integration)


def _densities():
    p_data = DATASETS.build("mixture1d", {"means": [-1.0, 1.5], "stds": [0.6, 0.5]})
    p_g = DATASETS.build("mixture1d", {"means": [0.5], "stds": [1.0]})
    return p_data, p_g


def test_trained_d_is_the_optimal_d_and_v_is_c_of_g():
    torch.manual_seed(0)
    p_data, p_g = _densities()
    gr, gf = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    D = DISCRIMINATORS.build("mlp", {"hidden": [64, 64], "activation": "tanh"}, data=p_data)
    fit_discriminator(D, lambda n: p_data.sample(n, gr), lambda n: p_g.sample(n, gf),
                      steps=2500, batch=512, lr=3e-3)
    x = torch.linspace(-5, 5, 2001)[:, None]
    lp, lg = p_data.log_prob(x), p_g.log_prob(x)
    d_star = optimal_d(lp, lg)
    with torch.no_grad():
        d = torch.sigmoid(D(x))
    mass = lp.exp() + lg.exp()
    where = mass > 0.05                      # where p_data + p_g is not negligible
    err = (d - d_star).abs()[where].max()
    assert err < 0.05, f"max |D - D*| = {err:.3f}"

    xs, pd, pg = x[:, 0].numpy(), lp.exp().numpy(), lg.exp().numpy()
    jsd = jsd_by_integration(pd, pg, xs)
    assert 0 < jsd < math.log(2)
    v = value_by_integration(d.numpy(), pd, pg, xs)
    assert abs(v - c_of_g(jsd)) < 0.02, (v, c_of_g(jsd))
    # and D* itself attains C(G) up to integration error
    assert abs(value_by_integration(d_star.numpy(), pd, pg, xs) - c_of_g(jsd)) < 1e-4


def test_c_of_g_minimum_is_minus_log4_when_distributions_match():
    x = np.linspace(-6, 6, 4001)
    p = np.exp(-0.5 * x ** 2) / math.sqrt(2 * math.pi)
    assert abs(jsd_by_integration(p, p, x)) < 1e-12
    d = optimal_d(torch.zeros(1), torch.zeros(1))
    assert float(d) == 0.5
    assert abs(value_by_integration(np.full_like(x, 0.5), p, p, x) + math.log(4)) < 1e-6


def test_disjoint_supports_give_jsd_log2():
    """Seed 001: with non-overlapping supports JSD is stuck at log 2."""
    x = np.linspace(-10, 10, 20001)
    p = np.exp(-0.5 * (x + 5) ** 2 / 0.1 ** 2)
    q = np.exp(-0.5 * (x - 5) ** 2 / 0.1 ** 2)
    p, q = p / np.trapezoid(p, x), q / np.trapezoid(q, x)
    assert abs(jsd_by_integration(p, q, x) - math.log(2)) < 1e-6


def test_jsd_of_float32_densities_far_apart_is_log_2_not_inf():
    """float32 densities: where one is the smallest subnormal and the other 0, the mixture
    rounded to 0 and the JSD read inf."""
    x = np.linspace(-10, 30, 8001)
    p = (np.exp(-0.5 * x ** 2) / math.sqrt(2 * math.pi)).astype(np.float32)
    q = (np.exp(-0.5 * ((x - 20) / 0.3) ** 2) / (0.3 * math.sqrt(2 * math.pi))).astype(np.float32)
    assert abs(jsd_by_integration(p, q, x) - math.log(2)) < 1e-3


# ---------------------------------------------------------------- the non-saturating loss with D*

def _mixture(x, means, stds, weights=None):
    weights = weights or [1.0 / len(means)] * len(means)
    return sum(w * np.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
               for w, m, s in zip(weights, means, stds))


def _d_star(p_data, p_g):
    with np.errstate(divide="ignore"):
        return optimal_d(torch.from_numpy(np.log(p_data)), torch.from_numpy(np.log(p_g))).numpy()


@pytest.mark.parametrize("which", ["mean", "std"])
def test_g_losses_against_a_fixed_d_star_descend_2jsd_and_kl_minus_2jsd(which):
    """Seed 002 / Arjovsky & Bottou: with D* held at p_g's current value, G's minimax loss has the
    gradient of 2 JSD and the non-saturating loss that of KL(p_g || p_data) - 2 JSD.  Checked by
    central differences along p_g's mean or std, against an unequal two-mode p_data."""
    x = np.linspace(-12, 12, 48001)
    p_data = _mixture(x, [-1.0, 2.0], [0.5, 0.8], [0.7, 0.3])
    theta0, h = {"mean": (0.3, 1e-4), "std": (1.2, 1e-4)}[which]

    def p_g(t):
        return _mixture(x, [t], [1.2]) if which == "mean" else _mixture(x, [0.3], [t])

    d0 = _d_star(p_data, p_g(theta0))               # D* of the current G, then held fixed

    def slope(f):
        return (f(theta0 + h) - f(theta0 - h)) / (2 * h)
    ns = slope(lambda t: np.trapezoid(-p_g(t) * np.log(d0), x))
    mm = slope(lambda t: np.trapezoid(p_g(t) * np.log1p(-d0), x))
    kl_minus = slope(lambda t: nonsaturating_terms(p_data, p_g(t), x)["kl_g_data"]
                     - 2 * jsd_by_integration(p_data, p_g(t), x))
    two_jsd = slope(lambda t: 2 * jsd_by_integration(p_data, p_g(t), x))
    kl = slope(lambda t: nonsaturating_terms(p_data, p_g(t), x)["kl_g_data"])
    assert abs(ns - kl_minus) < 1e-5 * max(1.0, abs(ns)), (ns, kl_minus)
    assert abs(mm - two_jsd) < 1e-5 * max(1.0, abs(mm)), (mm, two_jsd)
    assert abs(ns - kl) > 0.05 and abs(mm) > 0.05     # the JSD term matters; the slopes are not ~0


def test_nonsaturating_terms_add_up_and_weigh_precision_over_diversity():
    x = np.linspace(-15, 15, 60001)
    p_data = _mixture(x, [-2.0, 2.0], [0.5, 0.5])
    t = nonsaturating_terms(p_data, _mixture(x, [0.5], [1.5]), x)
    assert abs(t["residual"]) < 1e-9
    # by hand: E_pg[-log D*] with D* = p_data / (p_data + p_g)
    pg = _mixture(x, [0.5], [1.5])
    assert abs(t["ns_loss"] - np.trapezoid(pg * np.log((p_data + pg) / p_data), x)) < 1e-6
    # a G that drops a mode pays KL = log 2; one with a tenth of its mass where p_data has
    # little pays far more, though it covers both modes
    dropped = nonsaturating_terms(p_data, _mixture(x, [2.0], [0.5]), x)
    imprecise = nonsaturating_terms(p_data, _mixture(x, [-2.0, 2.0, 8.0], [0.5, 0.5, 0.5],
                                                        [0.45, 0.45, 0.1]), x)
    assert abs(dropped["kl_g_data"] - math.log(2)) < 1e-3      # the modes overlap a little
    assert imprecise["kl_g_data"] > 5 * dropped["kl_g_data"]
    assert imprecise["jsd"] < dropped["jsd"]


def test_the_grid_may_be_the_column_log_prob_takes_and_other_shapes_are_refused():
    p_data, p_g = _densities()
    x = torch.linspace(-6, 6, 2001)[:, None]
    pd, pg = p_data.log_prob(x).exp().numpy(), p_g.log_prob(x).exp().numpy()
    assert jsd_by_integration(pd, pg, x.numpy()) == jsd_by_integration(pd, pg, x[:, 0].numpy())
    assert value_by_integration(np.full(len(x), 0.5), pd, pg, x.numpy()) == pytest.approx(-math.log(4), abs=1e-6)
    grid = np.ones((50, 50)) / 2500
    with pytest.raises(ValueError, match="1-D densities on a 1-D grid.*shapes \\(50,\\), \\(50, 50\\)"):
        jsd_by_integration(grid, grid, np.linspace(0, 1, 50))
    with pytest.raises(ValueError, match="one value per grid point"):
        kl_by_integration(np.ones(10), np.ones(9), np.arange(10.0))


def test_disjoint_supports_with_zero_densities_give_v_of_d_star_equal_c_of_g():
    """Log densities of -inf far from both modes (a user's scipy densities): D* is 1/2 where
    neither has mass, and V(G, D*) = C(G) = -log 4 + 2 log 2 = 0, not NaN."""
    x = np.linspace(-5, 60, 100001)
    p = _mixture(x, [0.0], [0.1])
    q = _mixture(x, [50.0], [0.1])
    d = _d_star(p, q)
    assert not np.isnan(d).any() and d[np.searchsorted(x, 25.0)] == 0.5
    assert abs(value_by_integration(d, p, q, x) - c_of_g(jsd_by_integration(p, q, x))) < 1e-9
    assert abs(c_of_g(jsd_by_integration(p, q, x))) < 1e-9


def test_a_constant_d_is_one_number():
    x = np.linspace(-6, 6, 4001)
    p = np.exp(-0.5 * x ** 2) / math.sqrt(2 * math.pi)
    assert value_by_integration(0.5, p, p, x) == pytest.approx(-math.log(4), abs=1e-6)
