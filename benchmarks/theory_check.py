"""The paper's Proposition 1 and Theorem 1 with numbers, seed 001's vanishing gradient, and
seed 002's account of the non-saturating loss.

Trains D alone against a fixed p_g (1-D mixtures with known densities), then prints
max |D - D*| where p_data + p_g > 0.05, V(G, D) by integration, and C(G) = -log 4 + 2 JSD.
Then, with D* held at p_g's current value, the slopes of G's two losses along p_g's mean and
std against those of 2 JSD and KL(p_g || p_data) - 2 JSD, and what the non-saturating loss
charges a G that drops a mode against one that puts mass where p_data has none.

    .venv/bin/python benchmarks/theory_check.py [--steps 2500] [--seeds 3]
"""
from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from gankit.registry import DATASETS, DISCRIMINATORS
from gankit.losses.adversarial import g_loss_minimax, g_loss_nonsaturating
from gankit.theory import (c_of_g, fit_discriminator, jsd_by_integration, nonsaturating_terms, optimal_d,
                           value_by_integration)
import _cli   # benchmarks/_cli.py: this folder is on sys.path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args(argv)
    _cli.at_least(ap, a, steps=1, seeds=1)     # gankit.theory's learning-rate decay divides by the steps
    torch.set_num_threads(1)
    p_data = DATASETS.build("mixture1d", {"means": [-1.0, 1.5], "stds": [0.6, 0.5]})

    def grid(*mixtures):
        """Where both densities have mass: 8 stds past every component (a wide p_g included)."""
        lo = min(m - 8 * s for mix in mixtures for m, s in zip(*mix))
        hi = max(m + 8 * s for mix in mixtures for m, s in zip(*mix))
        return torch.linspace(lo, hi, max(2001, int(200 * (hi - lo))))[:, None]
    print("p_data = 0.5 N(-1, 0.6^2) + 0.5 N(1.5, 0.5^2)")
    print("| p_g | seed | max abs(D - D*) | V(G, D) | C(G) = -log4 + 2 JSD | JSD |")
    print("|---|---|---|---|---|---|")
    for means, stds in (([0.5], [1.0]), ([-1.0, 1.5], [0.6, 0.5]), ([3.0], [0.3])):
        p_g = DATASETS.build("mixture1d", {"means": means, "stds": stds})
        x = grid(([-1.0, 1.5], [0.6, 0.5]), (means, stds))
        lp, lg = p_data.log_prob(x), p_g.log_prob(x)
        xs, pd, pg = x[:, 0].numpy(), lp.exp().numpy(), lg.exp().numpy()
        jsd = jsd_by_integration(pd, pg, xs)
        for seed in range(a.seeds):
            torch.manual_seed(seed)
            gr, gf = torch.Generator().manual_seed(seed + 1), torch.Generator().manual_seed(seed + 2)
            D = DISCRIMINATORS.build("mlp", {"hidden": [64, 64], "activation": "tanh"}, data=p_data)
            fit_discriminator(D, lambda n: p_data.sample(n, gr), lambda n: p_g.sample(n, gf),
                              steps=a.steps, batch=512, lr=3e-3)
            with torch.no_grad():
                d = torch.sigmoid(D(x))
            where = (lp.exp() + lg.exp()) > 0.05
            err = float((d - optimal_d(lp, lg)).abs()[where].max())
            v = value_by_integration(d.numpy(), pd, pg, xs)
            print(f"| N({means}, {stds}) | {seed} | {err:.4f} | {v:.4f} | {c_of_g(jsd):.4f} | {jsd:.4f} |")
    print(f"\n-log 4 = {-math.log(4):.4f} (C(G) at p_g = p_data)\n")
    print("| D(G(z)) | dL/dlogit, minimax log(1 - D) | dL/dlogit, non-saturating -log D |")
    print("|---|---|---|")
    for p in (0.5, 1e-1, 1e-2, 1e-3, 1e-4):
        l1 = torch.tensor([math.log(p / (1 - p))], requires_grad=True)
        l2 = torch.tensor([math.log(p / (1 - p))], requires_grad=True)
        g_loss_minimax(l1).backward()
        g_loss_nonsaturating(l2).backward()
        print(f"| {p:g} | {float(l1.grad):.2e} | {float(l2.grad):.4f} |")
    nonsaturating_tables()


def _log_mixture(x: torch.Tensor, means, stds, weights=None) -> torch.Tensor:
    """log of sum_k w_k N(x; m_k, s_k^2), in log space: wide grids reach far tails."""
    weights = weights or [1.0 / len(means)] * len(means)
    f64 = dict(dtype=torch.float64)        # float32 parameters would round the differences' h away
    return torch.logsumexp(torch.stack([
        math.log(w) + torch.distributions.Normal(torch.tensor(m, **f64), torch.tensor(s, **f64)).log_prob(x)
        for w, m, s in zip(weights, means, stds)]), 0)


def nonsaturating_tables():
    from torch.nn.functional import logsigmoid
    x = torch.linspace(-15, 15, 60001, dtype=torch.float64)
    xs = x.numpy()
    lp_data = _log_mixture(x, [-1.0, 2.0], [0.5, 0.8], [0.7, 0.3])
    p_data = lp_data.exp().numpy()
    print("\np_data = 0.7 N(-1, 0.5^2) + 0.3 N(2, 0.8^2); p_g = N(mu, sigma^2); D* of p_g held fixed;")
    print("slopes by central differences (h = 1e-4)\n")
    print("| at (mu, sigma) | along | minimax E_pg[log(1 - D*)] | 2 JSD | non-saturating E_pg[-log D*] "
          "| KL(p_g, p_data) - 2 JSD | KL alone |")
    print("|---|---|---|---|---|---|---|")
    h = 1e-4
    for mu, sigma in ((0.3, 1.2), (-1.0, 0.5), (3.0, 0.3)):
        lp_g0 = _log_mixture(x, [mu], [sigma])
        log_1m_d0 = logsigmoid(lp_g0 - lp_data).numpy()     # log(1 - D*) = log p_g - log(p_data + p_g)
        log_d0 = logsigmoid(lp_data - lp_g0).numpy()
        for along in ("mu", "sigma"):
            def p_g(t):
                return (_log_mixture(x, [t], [sigma]) if along == "mu" else _log_mixture(x, [mu], [t])).exp().numpy()
            t0 = mu if along == "mu" else sigma

            def slope(f):
                return (f(t0 + h) - f(t0 - h)) / (2 * h)

            def kl(t):
                return nonsaturating_terms(p_data, p_g(t), xs)["kl_g_data"]
            terms = [
                slope(lambda t: np.trapezoid(p_g(t) * log_1m_d0, xs)),
                slope(lambda t: 2 * jsd_by_integration(p_data, p_g(t), xs)),
                slope(lambda t: np.trapezoid(-p_g(t) * log_d0, xs)),
                slope(lambda t: kl(t) - 2 * jsd_by_integration(p_data, p_g(t), xs)),
                slope(kl),
            ]
            print(f"| ({mu:g}, {sigma:g}) | {along} | " + " | ".join(f"{v:.6f}" for v in terms) + " |")
    lp_data = _log_mixture(x, [-2.0, 2.0], [0.5, 0.5])
    print("\np_data = 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2)\n")
    print("| p_g | KL(p_g, p_data) | JSD | E_pg[-log D*] (non-saturating) | E_pg[log(1 - D*)] (minimax) |")
    print("|---|---|---|---|---|")
    for name, lp_g in (("p_data itself", lp_data),
                       ("one mode dropped: N(2, 0.5^2)", _log_mixture(x, [2.0], [0.5])),
                       ("both modes, 10% of the mass at 8", _log_mixture(x, [-2.0, 2.0, 8.0], [0.5] * 3, [0.45, 0.45, 0.1])),
                       ("both modes, 1% of the mass at 8", _log_mixture(x, [-2.0, 2.0, 8.0], [0.5] * 3, [0.495, 0.495, 0.01]))):
        t = nonsaturating_terms(lp_data.exp().numpy(), lp_g.exp().numpy(), xs)
        minimax = np.trapezoid(lp_g.exp().numpy() * logsigmoid(lp_g - lp_data).numpy(), xs)
        print(f"| {name} | {t['kl_g_data']:.4f} | {t['jsd']:.4f} | {t['ns_loss']:.4f} | {minimax:.4f} |")


if __name__ == "__main__":
    _cli.run_main(main)
