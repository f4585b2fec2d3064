"""Low-dimensional data with known structure: mixtures, a swiss roll, user points."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gankit.registry import DATASETS
from gankit.config import ConfigError, opt
from gankit.data.base import Dataset
from gankit.data.points import PointsFile


class GaussianMixture(Dataset):
    """Isotropic Gaussian mixture: means (K, d), one std (scalar or per mode), weights."""

    def __init__(self, means, std, weights=None):
        self.means = torch.as_tensor(means, dtype=torch.float32)
        if self.means.ndim != 2:
            raise ValueError(f"means must have shape (n_modes, dim), got {tuple(self.means.shape)}")
        k, self.dim = self.means.shape
        std_in = std
        std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        self.stds = std.expand(k).clone() if std.numel() == 1 else std
        if self.stds.numel() != k or (self.stds <= 0).any():
            raise ValueError("std must be positive, one value or one per mode")
        w = torch.ones(k) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        if w.numel() != k or (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be non-negative, one per mode, not all zero")
        self.weights = w / w.sum()
        self.modes = self.means
        # one float when every mode has the same std (PacGAN's presets), else one per mode:
        # the largest for all would call samples far out of a narrow mode high quality
        if isinstance(std_in, (int, float)):
            self.mode_std = float(std_in)
        elif (self.stds == self.stds[0]).all():
            self.mode_std = float(self.stds[0])
        else:
            self.mode_std = self.stds.clone()
        # for the reverse KL of the mode histogram; None: equal weights (KL to uniform)
        self.mode_weights = None if (self.weights == self.weights[0]).all() else self.weights.clone()

    def sample_with_labels(self, n, generator):
        """(samples, index of the mode each was drawn from)."""
        idx = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator)
        return self.means[idx] + eps * self.stds[idx, None], idx

    def sample(self, n, generator):
        return self.sample_with_labels(n, generator)[0]

    @property
    def has_density(self):
        return True

    def log_prob(self, x):
        x = torch.as_tensor(x, dtype=torch.float32)
        d2 = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)            # (n, K)
        var = self.stds[None] ** 2
        log_comp = -0.5 * d2 / var - 0.5 * self.dim * torch.log(2 * math.pi * var)
        return torch.logsumexp(log_comp + torch.log(self.weights)[None], dim=1)

    def cell_probs(self, edges) -> np.ndarray:
        """Exact mass of each cell of the grid with per-axis ``edges`` (ij order): each
        component is a product over axes of normal-CDF differences."""
        from scipy.special import ndtr
        means, stds = self.means.double().numpy(), self.stds.double().numpy()
        total = 0.0
        for mu, s, w in zip(means, stds, self.weights.double().numpy()):
            out = np.array(float(w))
            for ax, e in enumerate(edges):
                out = np.multiply.outer(out, np.diff(ndtr((np.asarray(e) - mu[ax]) / s)))
            total = total + out
        return total

    def bounds(self):
        # the floor of the spread is in the data's own units (2 stds), so the JSD grid scales with
        # the data: a floor of 1.0 put a ring of radius 1e-6 into one or two cells
        spread = (self.means.max(0).values - self.means.min(0).values).clamp_min(2 * float(self.stds.max()))
        pad = 4 * self.stds.max() + 0.1 * spread
        return self.means.min(0).values - pad, self.means.max(0).values + pad


class LinearGaussian(Dataset):
    """Seed 001's example: X = N(0, I) @ A + b, a Gaussian with mean b and cov A^T A.

    With rank(A) < d (dependent rows or columns, or fewer rows than columns) the Gaussian
    lives on a subspace: it samples as any other, but has no density, so the density
    metrics (JSD) and plots leave it out."""

    def __init__(self, A, b):
        self.A = torch.as_tensor(A, dtype=torch.float32)
        self.b = torch.as_tensor(b, dtype=torch.float32)
        self.dim = self.A.shape[1]
        self.rank = int(torch.linalg.matrix_rank(self.A))     # at float32's tolerance, as A is held
        self._mvn = None
        if self.rank == self.dim:
            # the factor in float64: float32's Cholesky fails on ill-conditioned but full-rank A^T A
            L, info = torch.linalg.cholesky_ex(self.A.double().T @ self.A.double())
            if int(info) == 0 and bool((L.diagonal().float() > 0).all()):
                self._mvn = torch.distributions.MultivariateNormal(self.b, scale_tril=L.float())
        self.modes = self.b[None]
        self.mode_std = None  # anisotropic: no single std, so no PacGAN mode metrics

    def sample(self, n, generator):
        return torch.randn(n, self.A.shape[0], generator=generator) @ self.A + self.b

    @property
    def has_density(self):
        return self._mvn is not None

    def log_prob(self, x):
        if self._mvn is None:
            raise ValueError(f"data.A has rank {self.rank} < {self.dim}: the Gaussian lies on a subspace "
                             "and has no density")
        return self._mvn.log_prob(torch.as_tensor(x, dtype=torch.float32))


class SwissRoll(Dataset):
    """2-D swiss roll: t ~ U(1.5 pi, 4.5 pi), x = t (cos t, sin t) / scale + noise."""

    def __init__(self, noise, scale):
        self.noise, self.scale, self.dim = noise, scale, 2

    def sample(self, n, generator):
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
        x = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / self.scale
        return x + self.noise * torch.randn(n, 2, generator=generator)


# ----------------------------------------------------------- registrations

@dataclass
class ScaleParams:
    standardize: str = opt("none", "what G and D see: the data as it is (none), centred and divided by "
                           "one overall std (global: a recipe then works at any scale), or by each "
                           "coordinate's std (per_dim); samples and metrics stay in data space",
                           choices=["none", "global", "per_dim"])


def _scaled(ds: Dataset, standardize: str) -> Dataset:
    ds.standardize = standardize     # read by the Run (gankit/data/scaling.py)
    return ds

@dataclass
class RingParams(ScaleParams):
    n_modes: int = opt(8, "number of Gaussians on the circle", ge=1)
    radius: float = opt(1.0, "circle radius", gt=0)
    std: float = opt(0.01, "std of each Gaussian (PacGAN: 0.01)", gt=0)


@DATASETS.register("ring", RingParams, "n Gaussians evenly on a circle (PacGAN ring: 8, radius 1, std 0.01)")
def ring(n_modes, radius, std, standardize):
    a = 2 * math.pi * torch.arange(n_modes) / n_modes
    return _scaled(GaussianMixture(radius * torch.stack([torch.cos(a), torch.sin(a)], 1), std),
                   standardize)


@dataclass
class GridParams(ScaleParams):
    n: int = opt(5, "modes per side (n x n modes)", ge=1)
    spacing: float = opt(2.0, "distance between neighbouring modes", gt=0)
    std: float = opt(0.05, "std of each Gaussian (PacGAN: 0.05)", gt=0)


@DATASETS.register("grid", GridParams, "n x n Gaussians on a square grid centred at 0 (PacGAN: 5x5, {-4..4})")
def grid(n, spacing, std, standardize):
    c = (torch.arange(n, dtype=torch.float32) - (n - 1) / 2) * spacing
    gx, gy = torch.meshgrid(c, c, indexing="ij")
    return _scaled(GaussianMixture(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1), std), standardize)


@dataclass
class GMMParams(ScaleParams):
    dim: int = opt(2, "dimension of the space", ge=1)
    n_modes: int = opt(10, "number of Gaussians", ge=1)
    spread: float = opt(5.0, "means drawn uniformly in [-spread, spread]^dim", gt=0)
    std: float = opt(0.1, "std of each Gaussian", gt=0)
    means_seed: int = opt(0, "seed of the random means (not the run seed: the data stays fixed)")


@DATASETS.register("gmm", GMMParams, "n Gaussians with random means in any dimension")
def gmm(dim, n_modes, spread, std, means_seed, standardize):
    g = torch.Generator().manual_seed(means_seed)
    means = (2 * torch.rand(n_modes, dim, generator=g) - 1) * spread
    return _scaled(GaussianMixture(means, std), standardize)


@dataclass
class Mixture1DParams(ScaleParams):
    means: list[float] = opt([-2.0, 2.0], "means of the 1-D Gaussians")
    stds: list[float] = opt([0.5, 0.5], "their stds (one per mean)")
    weights: list[float] = opt([], "their weights (empty: equal)")

    def check(self, where):
        if not self.means or len(self.stds) != len(self.means):
            raise ConfigError(f"{where}: means and stds need the same, non-zero length")
        if self.weights and len(self.weights) != len(self.means):
            raise ConfigError(f"{where}.weights: need one weight per mean or none")
        if any(s <= 0 for s in self.stds):
            raise ConfigError(f"{where}.stds: every std must be > 0")
        if self.weights and (any(not w >= 0 for w in self.weights) or sum(self.weights) <= 0):
            raise ConfigError(f"{where}.weights: {self.weights} must be >= 0 and not all 0 "
                              f"(relative weights, e.g. [1, 2]; empty: equal)")


@DATASETS.register("mixture1d", Mixture1DParams, "a 1-D mixture of Gaussians (the paper's Figure 1)")
def mixture1d(means, stds, weights, standardize):
    mix = GaussianMixture(torch.tensor(means)[:, None], torch.tensor(stds), weights or None)
    return _scaled(mix, standardize)


@dataclass
class LinearParams(ScaleParams):
    A: list[list[float]] = opt([[1.0, 2.0], [-0.1, 0.5]], "matrix A in X = N(0, I) A + b")
    b: list[float] = opt([1.0, 2.0], "offset b")

    def check(self, where):
        if not self.A or any(len(r) != len(self.A[0]) for r in self.A) or len(self.b) != len(self.A[0]):
            raise ConfigError(f"{where}: A must be a rectangular (k, d) matrix and b have d entries")


@DATASETS.register("linear", LinearParams, "seed 001's Gaussian X = N(0, I) A + b")
def linear(A, b, standardize):
    return _scaled(LinearGaussian(A, b), standardize)


@dataclass
class SwissRollParams(ScaleParams):
    noise: float = opt(0.25, "std of the Gaussian noise added to each point", ge=0)
    scale: float = opt(7.5, "divide coordinates by this", gt=0)


@DATASETS.register("swissroll", SwissRollParams, "2-D swiss roll (no modes)")
def swissroll(noise, scale, standardize):
    return _scaled(SwissRoll(noise, scale), standardize)


@dataclass
class PointsParams(ScaleParams):
    # global, unlike the mixtures above: a file comes at any scale (points near 1e4, spread 1e3,
    # trained as they are: G centred near 4.7e3 after 1,000 steps) and the recipes were tuned near
    # unit scale
    standardize: str = opt("global", "what G and D see: centred and divided by one overall std (global, "
                           "the default for a file: the presets' learning rates, noise and initial "
                           "outputs were tuned near unit scale, and a file may be at any scale), by "
                           "each coordinate's std (per_dim), or the data as they are (none); samples "
                           "and metrics stay in the data's units",
                           choices=["none", "global", "per_dim"])
    path: str = opt("", "a .npy or .csv file of points, one per row")

    def check(self, where):
        if not self.path:
            raise ConfigError(f"{where}.path: give the file of points, e.g. --set data.path=points.npy")


@DATASETS.register("points", PointsParams, "your own points from a .npy or .csv file")
def points(path, standardize):
    return _scaled(PointsFile(path), standardize)
