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
        lo, hi = x.min(0).values, x.max(0).values
        pad = 0.15 * (hi - lo).clamp_min(1e-3)
        return lo - pad, hi + pad
