"""Copies of training images, tolerant to noise, 1-pixel shifts, flips and contrast.

Embedding e(x): a 3x3 binomial blur (averages pixel noise away), then each image centred
and scaled to unit norm (contrast and brightness drop out).  A sample's copy distance
is the smallest ||e(shift(x)) - e(t(train_j))|| over the 9 shifts of the sample by
(-1, 0, 1) pixels in each axis and the training images t in 3 orientations (as they
are, mirrored left-right, flipped upside down).

Calibration: the same distance for held-out real images (which are no copies) sets
tau = 0.7 x their 1% quantile; a sample closer than tau is a copy.  Held-out images within
TWIN_DISTANCE of a training image are that image again (a split of data holding duplicates)
and are left out of the calibration, with a warning: 1% of them put the quantile, and tau,
at 0, and only bit-exact copies were flagged.  Measured on
mnist5k and sklearn's digits (docs/metrics.md): copies with N(0, 0.05) noise stay
below 0.052, 1-pixel shifts, flips and x0.9 contrast below 0.002, while tau is 0.10
(mnist5k) and 0.060 (digits) and held-out images start at 0.12 and 0.085 (0.1% quantile).

nn_ratio = median copy distance of the samples / that of the held-out images: about 1
for a generator whose samples are as new as unseen data, near 0 for a copier.
"""
from __future__ import annotations

import hashlib
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.metrics.image_measures import nn_sq_dist
from gankit.metrics.nn_index import NNIndex

TAU_FACTOR = 0.7
# noisy copies that set copy_noise_floor: the first NOISE_COPIES training images + N(0, NOISE_STD)
# (seeded), its 90% quantile; the noise tolerance above was measured at 28x28 and fails on small
# images (below ~12 px the blur averages too few pixels), so memorisation warns when it exceeds tau
NOISE_COPIES, NOISE_STD = 256, 0.05
TAU_QUANTILE = 0.01
# shifted, flipped or re-contrasted copies of an image lie below 0.002 in the unit-norm
# embedding, N(0, 0.05) noise below 0.052; unseen digits start at 0.085-0.12
TWIN_DISTANCE = 0.01
# the unshifted image first: its nearest row, usually the nearest over all shifts, is found
# first and bounds the search for the other eight (NNIndex.query's groups)
SHIFTS = [(0, 0)] + [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def embed(x: Tensor, chunk: int = 8192) -> Tensor:
    """The 3x3 binomial blur ([1 2 1] / 4 along each axis, edges replicated), then each
    image centred and scaled to unit norm.  The blur is two shifted sums: a grouped
    conv2d took 12-22x the time on 60,000 images (`benchmarks/eval_speed.py parts --parts
    blur`, docs/speed.md)."""
    x = x.float()
    out = []
    for i in range(0, len(x), chunk):
        p = F.pad(x[i:i + chunk], (1, 1, 1, 1), mode="replicate")
        h = p[..., :, :-2] + 2 * p[..., :, 1:-1] + p[..., :, 2:]
        b = (h[..., :-2, :] + 2 * h[..., 1:-1, :] + h[..., 2:, :]).reshape(len(h), -1) / 16
        b = b - b.mean(1, keepdim=True)
        out.append(b / b.norm(dim=1, keepdim=True).clamp_min(1e-6))
    return torch.cat(out) if out else x.flatten(1)


def flip_perms(shape) -> list[Tensor]:
    """The column orders that turn a flattened (C, H, W) image into itself, its mirror image
    (left-right) and its upside-down flip."""
    idx = torch.arange(math.prod(shape)).reshape(tuple(shape))
    return [idx.flatten(), idx.flip(-1).flatten(), idx.flip(-2).flatten()]


def train_bank(train: Tensor) -> tuple[Tensor, int]:
    """Embeddings of the training images in 3 orientations, and how many images there are:
    the bank, built (the full scan's reference; the search builds only the embeddings).

    The blur kernel is symmetric and the normalisation ignores pixel order, so the
    embedding of a flipped image is the flipped embedding (to float rounding): one
    embedding pass, not three."""
    e = embed(train).reshape(train.shape)
    return torch.cat([e, e.flip(-1), e.flip(-2)]).reshape(3 * len(train), -1), len(train)


def train_index(train: Tensor) -> NNIndex:
    """The bank of train_bank as an NNIndex over the embeddings and the 3 orientations' column
    orders (row o n + r: image r in orientation o), a third of the memory."""
    return NNIndex(embed(train), perms=flip_perms(train.shape[1:]))


# (key, index) of the last bank: an evaluation and its reference row share it.  Keyed by content,
# as each ds.split("train") is a new tensor; one bank at a time, so a new training set replaces it
_LAST: list = []


def _content_key(t: Tensor) -> tuple:
    """Shape, dtype and sha1 of the values: 0.2 s on Fashion-MNIST's training images, against
    seconds to build their index."""
    a = np.ascontiguousarray(t.detach().cpu().numpy())
    return a.shape, str(a.dtype), hashlib.sha1(a.reshape(-1).view(np.uint8)).hexdigest()


def bank_index(train: Tensor) -> NNIndex:
    """train_index(train), kept for the next call with the same images."""
    key = _content_key(train)
    if _LAST and _LAST[0] == key:
        return _LAST[1]
    _LAST.clear()                  # the old index goes before the new one is built
    index = train_index(train)
    _LAST[:] = [key, index]
    return index


QUERY_NUMBERS = 9 * 4096 * 784     # numbers of the shifted copies searched at once: 115 MB of float32


def copy_distance(x: Tensor, index: NNIndex) -> tuple[Tensor, Tensor]:
    """(distance to the nearest training image over shifts and orientations, its orientation 0/1/2),
    ``index`` from train_index.

    The 9 shifted copies of a batch of x are searched at once (batches of at most
    QUERY_NUMBERS numbers: 9 copies of 2,500 128x128 RGB images would be 4.4 GB); among equal
    distances the first shift in SHIFTS and the lowest bank row win, as in a scan shift by shift."""
    per = max(1, QUERY_NUMBERS // (len(SHIFTS) * max(1, x[0].numel() if len(x) else 1)))
    dist, orient = [], []
    for i in range(0, max(len(x), 1), per):
        b = x[i:i + per]
        q = torch.cat([embed(torch.roll(b, (dy, dx), (-2, -1))) for dy, dx in SHIFTS])
        best, j = index.query(q, groups=np.tile(np.arange(len(b)), len(SHIFTS)))
        dist.append(best.sqrt())
        orient.append(j // index.n)
    return torch.cat(dist), torch.cat(orient)


def copy_distance_scan(x: Tensor, bank: tuple[Tensor, int]) -> tuple[Tensor, Tensor]:
    """copy_distance by a full scan of the bank, shift by shift (the reference it is tested against)."""
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


def heldout_distance(train: Tensor, heldout: Tensor) -> Tensor:
    """Copy distances of the held-out images (the calibration: they depend on the data alone)."""
    return copy_distance(heldout, bank_index(train))[0]


def noise_floor(train: Tensor, index: NNIndex) -> float:
    """90% quantile of the copy distances of the first NOISE_COPIES training images with
    N(0, NOISE_STD) noise (seeded): a property of the training images alone, kept with their
    index (bank_index's), so an evaluation and its reference row, or the next evaluation of the
    same data, pay for it once (it tripled the time of a 200-sample memorisation on 8x8 digits)."""
    floor = getattr(index, "noise_floor", None)
    if floor is None:
        t = train[:NOISE_COPIES].float()
        noisy = t + NOISE_STD * torch.randn(t.shape, generator=torch.Generator().manual_seed(0))
        floor = index.noise_floor = float(torch.quantile(copy_distance(noisy, index)[0].double(), 0.9))
    return floor


def memorisation(samples: Tensor, train: Tensor, heldout: Tensor, dh: Tensor | None = None) -> dict:
    """``dh``: heldout_distance(train, heldout) when the caller has it (cached on disk)."""
    index = bank_index(train)
    ds, orient = copy_distance(samples, index)
    if dh is None:
        dh, _ = copy_distance(heldout, index)
    twins = dh < TWIN_DISTANCE
    calibration = dh[~twins] if bool((~twins).any()) else dh
    # said where they would have moved the quantile (Fashion-MNIST's test set holds 3 in 10,000)
    if int(twins.sum()) >= max(1.0, 0.1 * TAU_QUANTILE * len(dh)):
        warnings.warn(f"memorisation: {int(twins.sum())} of {len(dh)} held-out images are copies of training "
                      "images (the same image, maybe shifted, flipped or re-contrasted); the copy threshold is "
                      f"set by the other {int((~twins).sum())}" + ("" if bool((~twins).any()) else
                                                                   " (none: only exact copies are flagged)")
                      + ". Remove the duplicates from the data for an honest held-out split", stacklevel=2)
    tau = TAU_FACTOR * float(torch.quantile(calibration.double(), TAU_QUANTILE))
    copy = ds <= tau
    floor = noise_floor(train, index)
    if floor > tau:
        warnings.warn(f"memorisation: copies with N(0, {NOISE_STD}) noise lie at up to {floor:.3f} (90%), beyond "
                      f"the copy threshold {tau:.3f} at {tuple(train.shape[-2:])} pixels, so copy_frac only "
                      "catches near-exact copies here; nn_ratio still compares samples with held-out images",
                      stacklevel=2)
    # the midpoint median: torch's median is the lower middle value, so half the samples copied
    # read nn_train 0 (a pure copier)
    mt, mh = (float(torch.quantile(d.double(), 0.5)) for d in (ds, dh))
    return {"copy_frac": float(copy.float().mean()),
            "flip_copy_frac": float((copy & (orient > 0)).float().mean()),
            "heldout_flagged": float((dh <= tau).float().mean()),
            "nn_train": mt, "nn_heldout": mh,
            "nn_ratio": mt / mh if mh > 0 else float("nan"), "copy_tau": tau, "copy_noise_floor": floor}
