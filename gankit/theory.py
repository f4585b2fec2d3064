"""The paper's theory, computable: the optimal D, V(G, D) and C(G) = -log 4 + 2 JSD.

For fixed G the optimal discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x))
(Proposition 1), and V(G, D*) = -log 4 + 2 JSD(p_data || p_g) (Theorem 1).  With D*, the
non-saturating G loss is KL(p_g || p_data) - 2 JSD plus terms G's gradient does not see
(Arjovsky & Bottou 2017; ``nonsaturating_terms``).
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
    """D*(x) = p_data / (p_data + p_g) = sigmoid(log p_data - log p_g); 1/2 where both
    densities are 0 (D* is free there: no sample of either reaches it)."""
    log_p_data, log_p_g = torch.as_tensor(log_p_data), torch.as_tensor(log_p_g)
    neither = torch.isneginf(log_p_data) & torch.isneginf(log_p_g)
    d = torch.sigmoid(log_p_data - log_p_g)
    return torch.where(neither, torch.full_like(d, 0.5), d)


def _on_grid(x, *densities) -> list[np.ndarray]:
    """x and the densities as float64 1-D arrays of one length; an (n, 1) column (the shape
    ``Dataset.log_prob`` takes) is read as its n values.  Anything else is refused: these
    functions integrate along one axis."""
    # float64: in float32, a density of 1e-45 beside 0 gives m = 0 and log(p / m) = inf
    arrays = [np.asarray(a, dtype=np.float64) for a in (x, *densities)]
    arrays = [a[:, 0] if a.ndim == 2 and a.shape[1] == 1 else a for a in arrays]
    if any(a.ndim != 1 or len(a) != len(arrays[0]) for a in arrays) or len(arrays[0]) < 2:
        shapes = ", ".join(str(tuple(np.shape(a))) for a in (x, *densities))
        raise ValueError(f"gankit.theory integrates 1-D densities on a 1-D grid: x and each density need "
                         f"one value per grid point, at least 2 (got shapes {shapes}); for data of more "
                         f"dimensions use the jsd metric (gankit eval RUN --metrics jsd)")
    return arrays


def _expect(p: np.ndarray, f: np.ndarray) -> np.ndarray:
    """p f with 0 where p = 0, whatever f is there (0 log 0 = 0)."""
    with np.errstate(invalid="ignore"):
        return np.where(p > 0, p * f, 0.0)


def value_by_integration(d: np.ndarray, p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray) -> float:
    """V(G, D) = integral of p_data log D + p_g log(1 - D) dx on the grid x (1-D); ``d`` may be
    one number (a constant D, e.g. 1/2)."""
    if np.ndim(d) == 0:
        d = np.full(np.shape(x)[0] if np.ndim(x) else 0, float(d))
    x, d, p_data, p_g = _on_grid(x, d, p_data, p_g)
    d = np.clip(d, 1e-12, 1 - 1e-12)
    return float(np.trapezoid(_expect(p_data, np.log(d)) + _expect(p_g, np.log1p(-d)), x))


def kl_by_integration(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """KL(P || Q) = integral of p log(p / q) dx in nats (1-D grid); inf where P has mass Q lacks."""
    x, p, q = _on_grid(x, p, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.trapezoid(_expect(p, np.log(p / q)), x))


def jsd_by_integration(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """JSD(P || Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q) / 2, in nats (1-D grid)."""
    x, p, q = _on_grid(x, p, q)
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(0.5 * np.trapezoid(_expect(p, np.log(p / m)), x)
                     + 0.5 * np.trapezoid(_expect(q, np.log(q / m)), x))


def nonsaturating_terms(p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """The non-saturating G loss against D*, E_pg[-log D*(x)], and its parts:

        E_pg[-log D*] = KL(p_g || p_data) - 2 JSD(p_data || p_g) + log 4 + E_pdata[log D*]

    (from KL(p_g || p_data) = E_pg[log (1 - D*) / D*] and Theorem 1).  The last two terms hold
    D* fixed, so G's gradient is that of KL(p_g || p_data) - 2 JSD: the KL punishes p_g's mass
    where p_data has none (missing precision) without bound, and missing p_data's modes only
    through the bounded JSD (seed 002's account of mode collapse).  ``residual`` is the
    identity's integration error: NaN where the KL is infinite (p_g has mass where p_data has
    none, so the loss is infinite too)."""
    x, p_data, p_g = _on_grid(x, p_data, p_g)
    with np.errstate(divide="ignore"):
        d = optimal_d(torch.from_numpy(np.log(p_data)), torch.from_numpy(np.log(p_g))).numpy()
    with np.errstate(divide="ignore"):
        loss = float(np.trapezoid(_expect(p_g, -np.log(d)), x))
        data_term = float(np.trapezoid(_expect(p_data, np.log(d)), x))
    kl, jsd = kl_by_integration(p_g, p_data, x), jsd_by_integration(p_data, p_g, x)
    return {"ns_loss": loss, "kl_g_data": kl, "jsd": jsd, "data_term": data_term,
            "residual": loss - (kl - 2 * jsd + math.log(4.0) + data_term)}


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
