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

F32_MAX, F32_TINY = float(np.finfo(np.float32).max), float(np.finfo(np.float32).tiny)    # the data are float32


class GaussianMixture(Dataset):
    """Isotropic Gaussian mixture: means (K, d), one std (scalar or per mode), weights."""

    def __init__(self, means, std, weights=None):
        self.means = torch.as_tensor(means, dtype=torch.float32)
        if self.means.ndim != 2:
            raise ValueError(f"means must have shape (n_modes, dim), got {tuple(self.means.shape)}")
        if not self.means.isfinite().all():
            raise ValueError("means must be finite in float32 (|mean| <= 3.4e38); rescale the data")
        k, self.dim = self.means.shape
        std_in = std
        std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        self.stds = std.expand(k).clone() if std.numel() == 1 else std
        # float32 turns a std below 1.2e-38 into 0 (or a subnormal) and one above 3.4e38 into inf
        if self.stds.numel() != k or not ((self.stds >= F32_TINY) & self.stds.isfinite()).all():
            raise ValueError("std must be positive and within float32's normal range (1.2e-38 to 3.4e38), "
                             "one value or one per mode")
        # normalised in float64, largest first: relative weights such as [1e39, 1] overflow float32
        # (and [1e308, 1e308] float64) when summed as they are
        w = torch.ones(k, dtype=torch.float64) if weights is None else \
            torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
        if w.numel() != k or not (w >= 0).all() or not w.isfinite().all() or w.sum() <= 0:
            raise ValueError("weights must be finite and non-negative, one per mode, not all zero")
        w = w / w.max()
        self.weights = (w / w.sum()).float()
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
        # in float64: a std float32 holds (down to 1.2e-38) squares to 0 in float32 below ~1e-19
        x = torch.as_tensor(x, dtype=torch.float64)
        means, var = self.means.double(), self.stds.double()[None] ** 2
        d2 = ((x[:, None, :] - means[None]) ** 2).sum(-1)            # (n, K)
        log_comp = -0.5 * d2 / var - 0.5 * self.dim * torch.log(2 * math.pi * var)
        return torch.logsumexp(log_comp + torch.log(self.weights.double())[None], dim=1).float()

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


def _float32_holds(key: str, value: float, scale: bool = True) -> None:
    """Refuse an option float32 cannot hold (the data are float32): past 3.4e38 it becomes inf,
    and a nonzero ``scale`` (a std, a radius) below 1.2e-38 becomes 0 or a subnormal."""
    if abs(value) > F32_MAX:
        raise ConfigError(f"{key}: {value:g} is beyond float32's range (3.4e38); the data are float32: "
                          "give a smaller value (rescale the data)")
    if scale and 0 < abs(value) < F32_TINY:
        raise ConfigError(f"{key}: {value:g} is below float32's smallest normal number (1.2e-38); the data "
                          "are float32: give a larger value (rescale the data)")


def _span_fits(where: str, parts: dict[str, float], formula: str) -> None:
    """Refuse options whose data overflow float32 together: ``parts`` (key -> its share, in
    float64, of the largest |coordinate| the data reach, ``formula``); samples lie within it, and
    plots and the JSD grid take differences across twice it. The key with the largest share is named."""
    reach = sum(parts.values())
    if 2 * reach > F32_MAX:
        key = max(parts, key=parts.get)
        raise ConfigError(f"{where}.{key}: the data would reach {reach:.3g} ({formula}), and their span "
                          f"{2 * reach:.3g} is beyond float32's range (3.4e38); the data are float32: give "
                          f"a smaller {key} (rescale the data)")

@dataclass
class RingParams(ScaleParams):
    n_modes: int = opt(8, "number of Gaussians on the circle", ge=1)
    radius: float = opt(1.0, "circle radius", gt=0)
    std: float = opt(0.01, "std of each Gaussian (PacGAN: 0.01)", gt=0)

    def check(self, where):
        _float32_holds(f"{where}.radius", self.radius)
        _float32_holds(f"{where}.std", self.std)
        _span_fits(where, {"radius": self.radius, "std": 10 * self.std}, "radius + 10 std")


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

    def check(self, where):
        _float32_holds(f"{where}.spacing", self.spacing)
        _float32_holds(f"{where}.std", self.std)
        _span_fits(where, {"spacing": (self.n - 1) / 2 * self.spacing, "std": 10 * self.std},
                   "(n - 1) / 2 spacing + 10 std")


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

    def check(self, where):
        _float32_holds(f"{where}.spread", self.spread)
        _float32_holds(f"{where}.std", self.std)
        _span_fits(where, {"spread": self.spread, "std": 10 * self.std}, "spread + 10 std")


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
        if self.weights and (any(not w >= 0 for w in self.weights) or not any(w > 0 for w in self.weights)):
            raise ConfigError(f"{where}.weights: {self.weights} must be >= 0 and not all 0 "
                              f"(relative weights, e.g. [1, 2]; empty: equal)")
        # the weights are relative, normalised in float64 (GaussianMixture): any finite ones do
        for i, m in enumerate(self.means):
            _float32_holds(f"{where}.means[{i}]", m, scale=False)
        for i, s in enumerate(self.stds):
            _float32_holds(f"{where}.stds[{i}]", s)
        _span_fits(where, {"means": max(abs(m) for m in self.means), "stds": 10 * max(self.stds)},
                   "the largest |mean| + 10 x the largest std")


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
        for i, row in enumerate(self.A):
            for j, a in enumerate(row):
                _float32_holds(f"{where}.A[{i}][{j}]", a)
        for j, b in enumerate(self.b):
            _float32_holds(f"{where}.b[{j}]", b, scale=False)
        # coordinate j of N(0, I) A + b: mean b_j, std the norm of A's column j
        A = np.asarray(self.A, np.float64)
        reach = np.abs(self.b) + 10 * np.sqrt((A ** 2).sum(0))
        j = int(reach.argmax())
        _span_fits(where, {"b": abs(self.b[j]), "A": float(reach[j] - abs(self.b[j]))},
                   f"|b[{j}]| + 10 x the norm of A's column {j}")


@DATASETS.register("linear", LinearParams, "seed 001's Gaussian X = N(0, I) A + b")
def linear(A, b, standardize):
    return _scaled(LinearGaussian(A, b), standardize)


@dataclass
class SwissRollParams(ScaleParams):
    noise: float = opt(0.25, "std of the Gaussian noise added to each point", ge=0)
    scale: float = opt(7.5, "divide coordinates by this", gt=0)

    def check(self, where):
        _float32_holds(f"{where}.noise", self.noise)
        _float32_holds(f"{where}.scale", self.scale)
        _span_fits(where, {"scale": 4.5 * math.pi / self.scale, "noise": 10 * self.noise},
                   "4.5 pi / scale + 10 noise")


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
