"""Mode coverage for data with known modes (PacGAN / VEEGAN protocol).

A sample is high quality (HQ) when it lies within ``hq_std`` standard deviations
of its nearest mode centre; a mode is covered when it holds at least one HQ
sample; reverse KL = KL(histogram of HQ samples over modes || uniform).
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


def mode_metrics(samples: Tensor, modes: Tensor, std: float, hq_std: float = 3.0) -> dict:
    if samples.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(f"samples must have shape (n, {modes.shape[1]}), got {tuple(samples.shape)}")
    k = len(modes)
    idx, dist = nearest_mode(samples, modes)
    hq = dist <= hq_std * std
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
