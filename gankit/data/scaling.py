"""Standardised point data: the nets train on (x - shift) / scale, users see data space.

A recipe tuned on one scale (the PacGAN ring of radius 1: lr, R1 weight, noise size,
initial G output near 0) fails on another (a ring of radius 3 smears along the circle),
because nothing in the MLP or the optimiser is scale-free.  ``data.standardize``:

- ``none``: the nets see the data as it is (the default for the built-in mixtures: the
  presets' recipes and every recorded PacGAN number were measured so; see docs/metrics.md);
- ``global``: subtract the per-coordinate mean, divide by one number, the root mean of
  the per-coordinate variances (shape kept: a ring stays round; the default for a points
  file, which may come at any scale, the recipes having been tuned near unit scale);
- ``per_dim``: subtract the mean and divide each coordinate by its own std.

The statistics come from the dataset itself, deterministically: exact moments for a
Gaussian mixture, every point of a file (at the file's own precision: float32's rounding
of a column with a large offset, timestamps say, would inflate its std), else 20,000 draws
with a fixed seed.  The Run stores them in each checkpoint and inverts them whenever it
hands samples out (``gankit sample``, metrics, snapshots), and applies them to points it
gives D (report grids), so only the nets ever see standardised coordinates.
"""
from __future__ import annotations

import torch
from torch import Tensor

MODES = ["none", "global", "per_dim"]
STATS_DRAWS = 20000
STATS_SEED = 12345


class PointScaler:
    """x_model = (x - shift) / scale; x = x_model * scale + shift (per coordinate)."""

    def __init__(self, shift: Tensor, scale: Tensor, mode: str = "global"):
        self.shift = torch.as_tensor(shift, dtype=torch.float32).reshape(-1)
        self.scale = torch.as_tensor(scale, dtype=torch.float32).reshape(-1)
        if self.shift.shape != self.scale.shape or not bool((self.scale > 0).all()):
            raise ValueError("PointScaler: shift and scale need one entry per coordinate, scale > 0")
        self.mode = mode

    def to_model(self, x: Tensor) -> Tensor:
        return (x - self.shift.to(x.device, x.dtype)) / self.scale.to(x.device, x.dtype)

    def to_data(self, x: Tensor) -> Tensor:
        return x * self.scale.to(x.device, x.dtype) + self.shift.to(x.device, x.dtype)

    def state_dict(self) -> dict:
        return {"mode": self.mode, "shift": self.shift.clone(), "scale": self.scale.clone()}

    @classmethod
    def from_state(cls, state: dict) -> "PointScaler":
        return cls(state["shift"], state["scale"], state.get("mode", "global"))


def _mixture(means, stds, w) -> bool:
    """K modes in d dimensions, one std each (data.toy's mixtures): a user's dataset may name its
    per-coordinate statistics or per-row weights so (they broadcast wrongly, or not at all), and
    weights no mixture has (negative, all 0, NaN) are some other quantity: measured from the data."""
    return (all(isinstance(t, Tensor) for t in (means, stds, w)) and means.ndim == 2 and stds.ndim == 1
            and w.ndim == 1 and len(means) == len(stds) == len(w)
            and bool(w.isfinite().all() and (w >= 0).all() and (w > 0).any()))


def moments(ds) -> tuple[Tensor, Tensor]:
    """Per-coordinate mean and variance of the data, computed without randomness."""
    means, stds, w = (getattr(ds, a, None) for a in ("means", "stds", "weights"))
    if _mixture(means, stds, w):     # a Gaussian mixture of isotropic modes: exact
        # weights are relative (data.*.weights = [1, 3]): normalised in float64, largest first, as
        # GaussianMixture does ([1e39, 1] overflows float32); used as given, [1, 3] put the mean 4x
        # too far out and made the variance negative (clamped: no scaling at all)
        w, means, stds = w.double(), means.double(), stds.double()
        w = w / w.max()
        w = w / w.sum()
        m = (w[:, None] * means).sum(0)
        # sum_k w_k (std_k^2 + (mean_k - m)^2): E[x^2] - m^2 cancels to noise for modes far from 0
        var = (w[:, None] * (stds[:, None] ** 2 + (means - m) ** 2)).sum(0)
        return m, var
    exact = getattr(ds, "exact_moments", None)    # a file's, from its values as saved
    if exact is not None:
        return exact[0].double(), exact[1].double()
    x = getattr(ds, "x", None)
    if not isinstance(x, Tensor) or x.ndim != 2:
        x = ds.sample(STATS_DRAWS, torch.Generator().manual_seed(STATS_SEED))
    x = x.double()
    return x.mean(0), x.var(0, unbiased=False)


def point_scaler(ds, mode: str) -> PointScaler | None:
    """The scaler of ``data.standardize = mode`` for dataset ``ds`` (None: nothing to do)."""
    if mode == "none" or getattr(ds, "kind", "points") != "points":
        return None
    if mode not in MODES:
        raise ValueError(f"data.standardize: one of {MODES}, got {mode!r}")
    mean, var = moments(ds)
    if mode == "global":
        scale = var.mean().sqrt().expand_as(mean)
    else:
        scale = var.sqrt()
    # a constant coordinate stays as is: no spread, or none float32 could hold beside its mean (an
    # absolute floor would leave data of scale 1e-17 unscaled, where standardising is the fix)
    constant = (scale <= 0) | (scale <= 1e-12 * mean.abs())
    scale = torch.where(constant, torch.ones_like(scale), scale)
    return PointScaler(mean.float(), scale.float(), mode)
