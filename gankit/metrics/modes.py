"""Mode coverage for data with known modes (PacGAN / VEEGAN protocol).

A sample is high quality (HQ) when it lies within ``hq_std`` standard deviations
of its nearest mode centre; a mode is covered when it holds at least one HQ
sample; reverse KL = KL(histogram of HQ samples over modes || uniform).

PacGAN's 3 std is a 2-D rule: ||x - mu|| / std of a true sample is chi-distributed with
``dim`` degrees of freedom, so 3 std holds 1 - exp(-9/2) = 98.9% of a 2-D mode but 45.9%
of a 10-D one.  Unless the radius is set (``eval.hq_std``), ``hq_radius_std(dim)`` is
the chi quantile holding that same 98.9% in any dimension (3.0 exactly in 2-D; 3 is
kept in 1-D, where the quantile would be 2.54, so 1-D and 2-D numbers are unchanged).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def nearest_mode(samples: Tensor, modes: Tensor) -> tuple[Tensor, Tensor]:
    """(index of the nearest mode, Euclidean distance to it) for each sample."""
    d = torch.cdist(samples.double(), modes.double())
    dist, idx = d.min(1)
    return idx, dist


HQ_SHARE_2D = 1.0 - math.exp(-4.5)     # P(chi_2 <= 3): the share of true data 3 std holds in 2-D


def hq_radius_std(dim: int, hq_std: float | None = None) -> float:
    """The HQ radius in std: ``hq_std`` when given, else the chi_dim quantile of HQ_SHARE_2D."""
    if hq_std is not None:
        return float(hq_std)
    from scipy.stats import chi2
    # never below PacGAN's 3: 1-D numbers stay as recorded (3 std holds 99.7% there)
    return max(3.0, float(math.sqrt(chi2.ppf(HQ_SHARE_2D, dim))))


def mode_metrics(samples: Tensor, modes: Tensor, std: float, hq_std: float | None = None) -> dict:
    if samples.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(f"samples must have shape (n, {modes.shape[1]}), got {tuple(samples.shape)}")
    k = len(modes)
    idx, dist = nearest_mode(samples, modes)
    hq = dist <= hq_radius_std(modes.shape[1], hq_std) * std
    counts = torch.bincount(idx[hq], minlength=k).double()
    n_hq = int(hq.sum())
    if n_hq:
        p = counts / n_hq
        nz = p > 0
        # KL(p || uniform) = sum p log(p k); empty modes contribute 0 (0 log 0 = 0)
        rkl = float((p[nz] * torch.log(p[nz] * k)).sum())
    else:
        rkl = math.log(k)  # nothing of quality: as far from uniform as one mode
    return {"modes_covered": int((counts > 0).sum()), "modes_total": k,
            "hq_fraction": n_hq / len(samples), "reverse_kl": rkl,
            "mode_counts": counts.long().tolist()}
