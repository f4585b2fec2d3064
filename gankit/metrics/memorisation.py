"""Copies of training images, tolerant to noise, 1-pixel shifts, flips and contrast.

Embedding e(x): a 3x3 binomial blur (averages pixel noise away), then each image centred
and scaled to unit norm (contrast and brightness drop out).  A sample's copy distance
is the smallest ||e(shift(x)) - e(t(train_j))|| over the 9 shifts of the sample by
(-1, 0, 1) pixels in each axis and the training images t in 3 orientations (as they
are, mirrored left-right, flipped upside down).

Calibration: the same distance for held-out real images (which are no copies) sets
tau = 0.7 x their 1% quantile; a sample closer than tau is a copy.  Measured on
mnist5k and sklearn's digits (docs/metrics.md): copies with N(0, 0.05) noise stay
below 0.052, 1-pixel shifts, flips and x0.9 contrast below 0.002, while tau is 0.10
(mnist5k) and 0.060 (digits) and held-out images start at 0.12 and 0.085 (0.1% quantile).

nn_ratio = median copy distance of the samples / that of the held-out images: about 1
for a generator whose samples are as new as unseen data, near 0 for a copier.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.metrics.image_measures import nn_sq_dist

TAU_FACTOR = 0.7
TAU_QUANTILE = 0.01
SHIFTS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


def embed(x: Tensor) -> Tensor:
    x = x.float()
    k = torch.tensor([1.0, 2.0, 1.0])
    w = ((k[:, None] * k[None]) / 16).expand(x.shape[1], 1, 3, 3)
    b = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), w, groups=x.shape[1]).reshape(len(x), -1)
    b = b - b.mean(1, keepdim=True)
    return b / b.norm(dim=1, keepdim=True).clamp_min(1e-6)


def train_bank(train: Tensor) -> tuple[Tensor, int]:
    """Embeddings of the training images in 3 orientations, and how many images there are."""
    return torch.cat([embed(train), embed(train.flip(-1)), embed(train.flip(-2))]), len(train)


def copy_distance(x: Tensor, bank: tuple[Tensor, int]) -> tuple[Tensor, Tensor]:
    """(distance to the nearest training image over shifts and orientations, its orientation 0/1/2)."""
    e, n = bank
    best, which = None, None
    for dy, dx in SHIFTS:
        d, j = nn_sq_dist(embed(torch.roll(x, (dy, dx), (-2, -1))), e)
        if best is None:
            best, which = d, j
        else:
            better = d < best
            best, which = torch.where(better, d, best), torch.where(better, j, which)
    return best.sqrt(), which // n


def memorisation(samples: Tensor, train: Tensor, heldout: Tensor) -> dict:
    bank = train_bank(train)
    ds, orient = copy_distance(samples, bank)
    dh, _ = copy_distance(heldout, bank)
    tau = TAU_FACTOR * float(torch.quantile(dh.double(), TAU_QUANTILE))
    copy = ds <= tau
    mh = float(dh.median())
    return {"copy_frac": float(copy.float().mean()),
            "flip_copy_frac": float((copy & (orient > 0)).float().mean()),
            "heldout_flagged": float((dh <= tau).float().mean()),
            "nn_train": float(ds.median()), "nn_heldout": mh,
            "nn_ratio": float(ds.median()) / mh if mh > 0 else float("nan"), "copy_tau": tau}
