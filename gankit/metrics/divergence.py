"""Jensen-Shannon divergence between a known density and G, on a grid (1-D, 2-D).

p_data is integrated exactly over each cell (its density at the cell centre times
the cell volume, renormalised on the grid); p_g is the histogram of G's samples
on the same cells.  JSD(P || Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q)/2,
in nats, so 0 <= JSD <= log 2.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def jsd_discrete(p: np.ndarray, q: np.ndarray) -> float:
    p = np.asarray(p, dtype=np.float64).ravel()
    q = np.asarray(q, dtype=np.float64).ravel()
    p, q = p / p.sum(), q / q.sum()
    p[p < 1e-300] = 0.0  # denormals: 0.5 * 5e-324 rounds to 0 and would give log(a / 0)
    q[q < 1e-300] = 0.0
    m = 0.5 * (p + q)

    def kl(a, b):
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / b[nz])))
    return min(max(0.5 * kl(p, m) + 0.5 * kl(q, m), 0.0), math.log(2))


def grid_cells(lo, hi, bins: int):
    """Edges and centres of a regular grid over the box [lo, hi]."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    edges = [np.linspace(lo[i], hi[i], bins + 1) for i in range(len(lo))]
    centres = [0.5 * (e[1:] + e[:-1]) for e in edges]
    mesh = np.meshgrid(*centres, indexing="ij")
    return edges, np.stack([m.ravel() for m in mesh], 1)


def jsd_on_grid(log_prob, samples: np.ndarray, lo, hi, bins: int) -> float:
    """JSD(p_data || p_g) with p_data = exp(log_prob) and p_g the histogram of ``samples``.

    Samples outside the box count as mass p_data does not have (one extra cell).
    """
    samples = np.asarray(samples, np.float64)
    edges, centres = grid_cells(lo, hi, bins)
    with torch.no_grad():
        lp = log_prob(torch.as_tensor(centres, dtype=torch.float32)).double().numpy()
    p = np.exp(lp - lp.max())
    q, _ = np.histogramdd(samples, bins=edges)
    outside = len(samples) - q.sum()
    return jsd_discrete(np.append(p / p.sum(), 0.0), np.append(q.ravel(), outside))
