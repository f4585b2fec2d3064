"""Proposition 1 and Theorem 1 of the paper, checked with numbers."""
import math

import numpy as np
import torch

from gankit.registry import DATASETS, DISCRIMINATORS
from gankit.theory import (c_of_g, fit_discriminator, jsd_by_integration, optimal_d,
                           value_by_integration)


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
