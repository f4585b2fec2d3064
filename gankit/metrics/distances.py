"""Two-sample measures for any data: samples (or features) in, floats out.

Each takes real x (n, d) and generated y (m, d) and needs no known modes, density or
classifier, so every point dataset (a swiss roll, a user's CSV) gets them:

- ``sliced_wasserstein``: SW_2, the root mean over random unit directions u of
  W_2(u.x, u.y)^2 (1-D W_2 from sorted projections, quantiles matched when n != m);
- ``energy_distance``: 2 E|x - y| - E|x - x'| - E|y - y'| (Szekely & Rizzo; U-statistics
  within each set, so identical distributions give 0 in expectation);
- ``mmd2``: unbiased MMD^2 with the Gaussian kernel exp(-|a - b|^2 / (2 h^2)), the
  bandwidth h the median pairwise distance of the pooled sample (Gretton et al. 2012's
  median heuristic);
- ``c2st``: classifier two-sample test (Lopez-Paz & Oquab 2017): a small MLP trained on
  half of each set to tell real from generated, accuracy on the other halves (0.5:
  indistinguishable, 1: fully separable), its distance from chance |acc - 0.5| (the
  score: accuracy below 0.5 is no better a G, see ``c2st``) and the one-sided p-value
  of that accuracy under N(1/2, 1/(4 n_test));
- ``ndb``: number of statistically different bins (Richardson & Weiss 2018): k-means on
  real data, then a two-proportion z-test per bin (alpha 0.05) on the shares of real
  and generated samples that fall in it; also the JS divergence of the bin histograms;
- ``birthday_support``: the birthday-paradox support estimate (Arora & Zhang 2017): the
  smallest batch size s whose batches hold a near-duplicate pair at least half the time
  gives support N = s^2 / (2 ln 2) (P(no collision) = exp(-s^2 / 2N) = 1/2); a
  near-duplicate is a pair closer than ``tau``.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from gankit import seeds
from gankit.metrics.base import TooFewSamples
from gankit.seeds import CPU
from gankit.metrics.image_measures import as_tensor, centred64, pairwise_sq_dists


def _t(a) -> Tensor:
    a = as_tensor(a)
    return a.reshape(len(a), -1).double()


def sliced_wasserstein(x, y, n_proj: int = 256, seed: int = 0) -> float:
    x, y = _t(x), _t(y)
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(x.shape[1], n_proj, generator=g, dtype=torch.float64)
    u = u / u.norm(dim=0, keepdim=True)
    px, _ = (x @ u).sort(0)
    py, _ = (y @ u).sort(0)
    n, m = len(px), len(py)
    if n == m:
        return float(((px - py) ** 2).mean().sqrt())
    # W2 between the empirical measures: their quantile functions are steps at i/n and j/m, so
    # integrate over the merged breakpoints (interpolated quantiles read x vs x repeated as apart)
    t = torch.unique(torch.cat([torch.arange(1, n + 1, dtype=torch.float64) / n,
                                torch.arange(1, m + 1, dtype=torch.float64) / m]))
    w = torch.diff(t, prepend=t.new_zeros(1))
    mid = t - w / 2
    ix, iy = (mid * n).long().clamp_max(n - 1), (mid * m).long().clamp_max(m - 1)
    return float((w[:, None] * (px[ix] - py[iy]) ** 2).sum(0).mean().sqrt())


def _mean_dist(a: Tensor, b: Tensor, same: bool) -> float:
    d = pairwise_sq_dists(a, b).sqrt()
    if same:
        n = len(a)
        if n < 2:
            raise TooFewSamples(f"energy: need 2 or more points in each set, got {n}")
        return float((d.sum() - d.diagonal().sum()) / (n * (n - 1)))
    return float(d.mean())


# Both measures are translation-invariant, so they are computed on float64 rows centred on x's
# mean (centred64, as prdc and birthday): ||a||^2 + ||b||^2 - 2 a.b on raw rows loses ~1e-16
# ||x||^2, which 1e6 away from the origin was energy +38% and MMD^2 -26% for a spread of 0.01.


def energy_distance(x, y) -> float:
    x, y = centred64(x, y)
    return 2 * _mean_dist(x, y, False) - _mean_dist(x, x, True) - _mean_dist(y, y, True)


def median_bandwidth(x, y) -> float:
    """The median pairwise distance of the pooled sample: for an even number of pairs the
    midpoint of the two middle ones (torch.median's lower one read 21% low for 2 + 2 points)."""
    z = torch.cat(centred64(x, y))
    d = pairwise_sq_dists(z, z).sqrt()
    iu = torch.triu_indices(len(z), len(z), 1)
    h = float(np.median(d[iu[0], iu[1]].numpy()))
    return h if math.isnan(h) else max(h, 1e-12)


def mmd2(x, y, bandwidth: float | None = None) -> tuple[float, float]:
    """(unbiased MMD^2, the bandwidth h used)."""
    x, y = centred64(x, y)
    m, n = len(x), len(y)
    if min(m, n) < 2:
        raise TooFewSamples(f"mmd: need 2 or more points in each set, got {m} and {n}")
    h = median_bandwidth(x, y) if bandwidth is None else float(bandwidth)

    def k(a, b):
        return torch.exp(-pairwise_sq_dists(a, b) / (2 * h * h))
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    v = ((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
         - 2 * kxy.mean())
    return float(v), h


def c2st(x, y, seed: int = 0, steps: int = 500, hidden: int = 64) -> dict:
    """Classifier two-sample test: held-out accuracy of an MLP told real (0) from generated (1).

    ``c2st_gap`` = |acc - 0.5| is the score (0 best).  Accuracy below 0.5 is not a better G:
    a point found in both sets (a G repeating data points) sits in the training half with
    one label and in the test half with the other, so the memorising MLP misleads itself
    there (a copier of 400 3-D points read 0.36-0.40 where fresh draws read ~0.5)."""
    x, y = _t(x).float(), _t(y).float()
    n = min(len(x), len(y))
    if n < 4:
        raise TooFewSamples(f"c2st: need 4 or more points in each set (half to train on), got {n}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        # a NaN column made every logit NaN, every prediction "real": accuracy 1/2, the best score
        return {"c2st_acc": float("nan"), "c2st_gap": float("nan"), "c2st_p": float("nan")}
    g = torch.Generator().manual_seed(seed)
    x, y = x[torch.randperm(len(x), generator=g)[:n]], y[torch.randperm(len(y), generator=g)[:n]]
    h = n // 2
    xtr = torch.cat([x[:h], y[:h]])
    ytr = torch.cat([torch.zeros(h), torch.ones(h)])
    xte = torch.cat([x[h:], y[h:]])
    yte = torch.cat([torch.zeros(n - h), torch.ones(n - h)])
    mu, sd = xtr.mean(0), xtr.std(0).clamp_min(1e-6)    # scale-free: the same test at any scale
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    from gankit.process_state import gradients_on
    with gradients_on():     # the classifier trains also under a caller's torch.no_grad
        with seeds.forked(CPU):    # the init draws from the seed, not the caller's stream
            seeds.seed(CPU, seed)
            net = torch.nn.Sequential(torch.nn.Linear(xtr.shape[1], hidden), torch.nn.ReLU(),
                                      torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        bs = min(256, len(xtr))
        for _ in range(steps):
            i = torch.randint(0, len(xtr), (bs,), generator=g)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xtr[i]).squeeze(1), ytr[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = float(((net(xte).squeeze(1) > 0).float() == yte).float().mean())
    n_te = len(yte)
    z = (acc - 0.5) / math.sqrt(0.25 / n_te)
    return {"c2st_acc": acc, "c2st_gap": abs(acc - 0.5), "c2st_p": 0.5 * math.erfc(z / math.sqrt(2))}


def ndb(real, fake, k: int = 50, alpha: float = 0.05, seed: int = 0) -> dict:
    """NDB: bins (k-means on real) where the shares of real and fake differ (two-proportion z-test).
    NaN for a set holding a NaN or inf, as prdc and c2st; refused when the real points are all
    one point (no bins: every test would pass, ndb 0)."""
    from sklearn.cluster import KMeans
    real, fake = np.asarray(_t(real)), np.asarray(_t(fake))
    if min(len(real), len(fake)) < 4:
        raise TooFewSamples(f"ndb: need 4 or more points in each set, got {len(real)} and {len(fake)}")
    k = min(k, len(real) // 2)
    if not (np.isfinite(real).all() and np.isfinite(fake).all()):
        return {"ndb": math.nan, "ndb_k": k, "ndb_frac": math.nan, "ndb_js": math.nan}
    if (real == real[0]).all():
        raise TooFewSamples("ndb: the real points are all one point, so there are no bins to compare",
                            more_helps=False)
    km = KMeans(n_clusters=k, n_init=3, random_state=seed % 2**32).fit(real)   # sklearn takes 32 bits
    pr = np.bincount(km.labels_, minlength=k) / len(real)
    pf = np.bincount(km.predict(fake), minlength=k) / len(fake)
    n1, n2 = len(real), len(fake)
    p = (pr * n1 + pf * n2) / (n1 + n2)
    se = np.sqrt(np.clip(p * (1 - p) * (1 / n1 + 1 / n2), 1e-300, None))
    z = np.abs(pr - pf) / se
    from scipy.stats import norm
    different = 2 * norm.sf(z) < alpha
    m = 0.5 * (pr + pf)

    def kl(a, b):
        nz = a > 0
        return float((a[nz] * np.log(a[nz] / b[nz])).sum())
    return {"ndb": int(different.sum()), "ndb_k": k, "ndb_frac": float(different.mean()),
            "ndb_js": 0.5 * kl(pr, m) + 0.5 * kl(pf, m)}


def has_duplicate(x: Tensor, tau: float) -> bool:
    d = pairwise_sq_dists(x, x)
    d.fill_diagonal_(float("inf"))
    return bool(d.min() <= tau * tau)


def birthday_support(samples, tau: float, trials: int = 20, seed: int = 0) -> dict:
    """Support estimate from the smallest batch size with a near-duplicate in >= half the batches.

    Batch sizes are a geometric grid up to len(samples); without a collision even there,
    the estimate is a lower bound (``birthday_capped`` = 1).
    """
    x, = centred64(samples)     # tau^2 (~1e-8 on a ring of std 0.01) is below float32's rounding
    n = len(x)
    g = torch.Generator().manual_seed(seed)
    sizes = sorted({int(round(v)) for v in np.geomspace(2, n, 40)})
    for s in sizes:
        hits = sum(has_duplicate(x[torch.randperm(n, generator=g)[:s]], tau)
                   for _ in range(trials if s < n else 1))
        if hits >= (trials if s < n else 1) / 2:
            return {"birthday_support": s * s / (2 * math.log(2)), "birthday_batch": s, "birthday_capped": 0}
    return {"birthday_support": n * n / (2 * math.log(2)), "birthday_batch": n, "birthday_capped": 1}
