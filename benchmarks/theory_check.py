"""The paper's Proposition 1 and Theorem 1 with numbers, and seed 001's vanishing gradient.

Trains D alone against a fixed p_g (1-D mixtures with known densities), then prints
max |D - D*| where p_data + p_g > 0.05, V(G, D) by integration, and C(G) = -log 4 + 2 JSD.

    .venv/bin/python benchmarks/theory_check.py [--steps 2500] [--seeds 3]
"""
from __future__ import annotations

import argparse
import math

import torch

from gankit.registry import DATASETS, DISCRIMINATORS
from gankit.losses.adversarial import g_loss_minimax, g_loss_nonsaturating
from gankit.theory import c_of_g, fit_discriminator, jsd_by_integration, optimal_d, value_by_integration


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
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


if __name__ == "__main__":
    main()
