"""Mode coverage for data with known modes (PacGAN / VEEGAN protocol).

A sample is high quality (HQ) when it lies within ``hq_std`` standard deviations
(its mode's own std) of its nearest mode centre; a mode is covered when it holds at
least one HQ sample; reverse KL = KL(histogram of HQ samples over modes || the data's
mode weights), uniform for equal weights as in PacGAN.

PacGAN's 3 std is a 2-D rule: ||x - mu|| / std of a true sample is chi-distributed with
``dim`` degrees of freedom, so 3 std holds 1 - exp(-9/2) = 98.9% of a 2-D mode but 46.8%
of a 10-D one.  Unless the radius is set (``eval.hq_std``), ``hq_radius_std(dim)`` is
the chi quantile holding that same 98.9% in any dimension (3.0 exactly in 2-D; 3 is
kept in 1-D, where the quantile would be 2.54, so 1-D and 2-D numbers are unchanged).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.metrics.image_measures import as_tensor


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


def assign_modes(samples: Tensor, modes: Tensor, std) -> tuple[Tensor, Tensor]:
    """(mode index, distance) of each sample: the mode it is closest to in that mode's std
    units (one std, or one per mode).  The one rule of every metric that puts a point on a mode."""
    stds = torch.as_tensor(std, dtype=torch.float64).reshape(-1)
    if stds.numel() == 1 or (stds == stds[0]).all():
        return nearest_mode(samples, modes)
    d = torch.cdist(samples.double(), modes.double())
    idx = (d / stds[None]).argmin(1)
    return idx, d.gather(1, idx[:, None])[:, 0]


def mode_metrics(samples: Tensor, modes: Tensor, std, hq_std: float | None = None,
                 weights=None) -> dict:
    """Modes covered, HQ share, reverse KL and the HQ count of each mode.

    ``std``: one std for every mode, or one per mode (a mixture of narrow and wide
    Gaussians): a sample belongs to the mode it is closest to in that mode's std units,
    and is HQ when that distance is within the radius.  ``weights``: the data's mode
    weights; reverse KL = KL(HQ histogram || weights), uniform when None.  With no HQ
    sample there is no histogram: reverse_kl is inf (the worst, never the best; records
    write it "inf").  A mode of weight 0 is not the data's: it is not counted in modes_total,
    and samples near it are not high quality.  Samples and modes: tensors, arrays or lists.
    """
    samples, modes = as_tensor(samples), as_tensor(modes)
    if samples.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(f"samples must have shape (n, {modes.shape[1]}), got {tuple(samples.shape)}")
    k = len(modes)
    stds = torch.as_tensor(std, dtype=torch.float64).reshape(-1)
    if stds.numel() not in (1, k) or not (stds > 0).all():
        raise ValueError(f"std must be positive, one value or one per mode ({k}), got {stds.numel()}")
    w, in_data = None, torch.ones(k, dtype=torch.bool)
    if weights is not None:
        w = torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
        if w.numel() != k or (w < 0).any() or not w.sum() > 0:
            raise ValueError(f"weights must be non-negative, one per mode ({k}), not all zero")
        in_data = w > 0         # a mode of weight 0 is not one of the data's: nothing to cover
        w = None if (w == w[0]).all() else w / w.sum()
    radius = hq_radius_std(modes.shape[1], hq_std)
    idx, dist = assign_modes(samples, modes, stds)
    hq = dist <= (radius * float(stds[0]) if stds.numel() == 1 or (stds == stds[0]).all() else radius * stds[idx])
    hq &= in_data[idx]         # near a mode of weight 0 is where the data have no mass
    counts = torch.bincount(idx[hq], minlength=k).double()
    n_hq = int(hq.sum())
    if n_hq:
        p = counts / n_hq
        nz = p > 0
        # empty modes contribute 0 (0 log 0 = 0); log(p k) when uniform keeps the recorded numbers exact
        ratio = p[nz] * k if w is None else p[nz] / w[nz]
        rkl = float((p[nz] * torch.log(ratio)).sum())
    else:
        rkl = math.inf
    return {"modes_covered": int((counts[in_data] > 0).sum()), "modes_total": int(in_data.sum()),
            "hq_fraction": n_hq / len(samples), "reverse_kl": rkl,
            "mode_counts": counts.long().tolist()}
