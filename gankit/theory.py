"""The paper's theory, computable: the optimal D, V(G, D) and C(G) = -log 4 + 2 JSD.

For fixed G the optimal discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x))
(Proposition 1), and V(G, D*) = -log 4 + 2 JSD(p_data || p_g) (Theorem 1).
These functions work on densities known in closed form (1-D here; the
integration is a trapezoid rule on a grid).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from gankit.losses.adversarial import d_loss_bce
from gankit.train.loop import Phase, Trainer


def optimal_d(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """D*(x) = p_data / (p_data + p_g) = sigmoid(log p_data - log p_g)."""
    return torch.sigmoid(log_p_data - log_p_g)


def value_by_integration(d: np.ndarray, p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray) -> float:
    """V(G, D) = integral of p_data log D + p_g log(1 - D) dx on the grid x (1-D)."""
    d = np.clip(d, 1e-12, 1 - 1e-12)
    return float(np.trapezoid(p_data * np.log(d) + p_g * np.log1p(-d), x))


def jsd_by_integration(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """JSD(P || Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q) / 2, in nats (1-D grid)."""
    # float64: in float32, a density of 1e-45 beside 0 gives m = 0 and log(p / m) = inf
    p, q, x = (np.asarray(a, dtype=np.float64) for a in (p, q, x))
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kp = np.where(p > 0, p * np.log(p / m), 0.0)
        kq = np.where(q > 0, q * np.log(q / m), 0.0)
    return float(0.5 * np.trapezoid(kp, x) + 0.5 * np.trapezoid(kq, x))


def c_of_g(jsd: float) -> float:
    """C(G) = max_D V(G, D) = -log 4 + 2 JSD(p_data || p_g)."""
    return -math.log(4.0) + 2.0 * jsd


def fit_discriminator(D: torch.nn.Module, sample_real: Callable[[int], Tensor],
                      sample_fake: Callable[[int], Tensor], steps: int = 2000, batch: int = 512,
                      lr: float = 1e-3) -> torch.nn.Module:
    """Train D alone against a fixed p_g: the inner max of Algorithm 1, run to convergence.

    It is the loop with a single D phase (no G phase): phases are data.
    """
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    # the learning rate decays linearly to 0: the last steps average out minibatch noise
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: max(0.0, 1.0 - i / steps))

    def d_phase(ctx):
        return d_loss_bce(D(sample_real(batch)), D(sample_fake(batch))), {}
    trainer = Trainer([Phase("d", opt, d_phase, after_step=[lambda step: sched.step()])],
                      log_every=steps + 1)
    trainer.fit(steps)
    return D
