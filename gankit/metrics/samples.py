"""Metrics for any point data: two-sample measures that need no known modes or density.

Each compares ``eval.n_samples`` draws from G with as many real points (stream
"real_subset"), in data space, so a swiss roll or a user's CSV is measured as well as
a mixture.  The pure functions are in gankit/metrics/distances.py.
"""
from __future__ import annotations

import warnings

import torch

from gankit.metrics.base import PRDC_OUTPUTS, Output, TooFewSamples, register_metric
from gankit.metrics import distances as Dm
from gankit.metrics.image_measures import centred64, prdc, pairwise_sq_dists

PAIRWISE_MAX = 2500    # energy distance, MMD and PRDC hold n x n distance matrices
SAMPLES = ("n_samples",)    # the eval settings these metrics read: how many points they compare


def _points(ds) -> bool:
    return getattr(ds, "kind", None) == "points"


def pair(ctx, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(real, generated) points, (n, dim) each, shared by the metrics of one evaluation.  A finite
    dataset (a user's file) gives distinct rows, so n is at most its number of rows."""
    n = n or ctx.settings.n_samples
    rows = ctx.dataset.rows() if callable(getattr(ctx.dataset, "rows", None)) else None
    if rows is not None and len(rows) < n:
        ctx.cached(("points_capped", n), lambda: warnings.warn(
            f"the data hold {len(rows)} points: the point metrics compare them with as many of G's "
            f"samples (eval.n_samples = {n})", stacklevel=3))
        n = len(rows)

    def make():
        fake = ctx.generate(n, "samples").double().reshape(n, -1)
        g = torch.Generator().manual_seed(ctx.stream("real_subset"))
        real = (rows[torch.randperm(len(rows), generator=g)[:n]] if rows is not None
                else ctx.dataset.sample(n, g))
        return real.double().reshape(n, -1), fake
    return ctx.cached(("point_pair", n), make)


def _small(ctx):
    real, fake = pair(ctx)
    return real[:PAIRWISE_MAX], fake[:PAIRWISE_MAX]


@register_metric("sliced_wasserstein", _points, "sliced Wasserstein-2 distance to the data (256 directions)",
                 {"swd": Output("sliced Wasserstein-2 distance", "lower", ".4g")}, reads=SAMPLES)
def _swd(ctx):
    real, fake = pair(ctx)
    return {"swd": Dm.sliced_wasserstein(real, fake, seed=ctx.seed)}


@register_metric("energy", _points, "energy distance to the data (Szekely & Rizzo)",
                 {"energy": Output("energy distance", "lower", ".4g")}, reads=SAMPLES)
def _energy(ctx):
    return {"energy": Dm.energy_distance(*_small(ctx))}


@register_metric("mmd", _points, "unbiased MMD^2, Gaussian kernel, bandwidth = median pairwise distance",
                 {"mmd2": Output("MMD^2 (Gaussian, median bandwidth)", "lower", ".4g"),
                  "mmd_bandwidth": Output("MMD kernel bandwidth", None, ".3g")}, reads=SAMPLES)
def _mmd(ctx):
    v, h = Dm.mmd2(*_small(ctx))
    return {"mmd2": v, "mmd_bandwidth": h}


# c2st_acc is no score: below 0.5 the classifier was misled by points found in both sets (a G
# repeating data points), not beaten by a better G; c2st_gap = |acc - 0.5| is ranked instead
@register_metric("c2st", _points, "classifier two-sample test: held-out accuracy telling real from G "
                 "(c2st_gap = |accuracy - 0.5|, 0 best)",
                 {"c2st_acc": Output("C2ST accuracy (0.5 = indistinguishable; below 0.5: G repeats data "
                                     "points, not a better G)", None, ".3f"),
                  "c2st_gap": Output("C2ST |accuracy - 0.5| (0 = indistinguishable)", "lower", ".3f"),
                  "c2st_p": Output("C2ST p-value (small: G is told apart)", None, ".2g")}, reads=SAMPLES)
def _c2st(ctx):
    real, fake = pair(ctx)
    return Dm.c2st(real, fake, seed=ctx.seed)


@register_metric("ndb", _points, "number of statistically different bins (k-means on data, z-tests)",
                 {"ndb": Output("NDB (bins that differ)", "lower", "d"),
                  "ndb_k": Output("NDB bins", None, "d"),
                  "ndb_frac": Output("NDB / K", "lower", ".3f"),
                  "ndb_js": Output("JS of the bin histograms", "lower", ".4f")}, reads=SAMPLES)
def _ndb(ctx):
    real, fake = pair(ctx)
    if min(len(real), len(fake)) < 4:     # before the distinct points: one sample is one point too
        raise TooFewSamples(f"ndb: need 4 or more points in each set, got {len(real)} and {len(fake)}")
    # no more bins than distinct points: a file's repeated rows leave k-means fewer clusters than
    # asked, and the bins it cannot fill would hold no real point to compare with
    distinct = len(torch.unique(real, dim=0))
    if distinct < 2:
        warnings.warn("ndb skipped: the data's points are all one point, so there are no bins to "
                      "compare", stacklevel=2)
        return {}
    return Dm.ndb(real.numpy(), fake.numpy(), k=min(50, distinct), seed=ctx.seed)


def duplicate_radius(real: torch.Tensor, q: float = 0.01) -> float:
    """tau of the birthday test: the 1% quantile of the data's own nearest-neighbour distances,
    between distinct points (a file's repeated rows would make it 0: only exact copies collide)."""
    if len(real) < 10:
        raise TooFewSamples(f"birthday: need 10 or more points, got {len(real)}")
    # each distinct point once: through ||a||^2 + ||b||^2 - 2 a.b a row's exact copy lies a rounding
    # error away (~1e-8), not 0, and would set tau there
    real, = centred64(torch.unique(real, dim=0))
    if len(real) < 2:
        return 0.0
    d = pairwise_sq_dists(real, real)
    d.fill_diagonal_(float("inf"))
    nn = d.min(1).values.clamp_min(0).sqrt().double()
    nn = nn[nn > 0]
    return float(torch.quantile(nn, q)) if len(nn) else 0.0


@register_metric("birthday", _points, "birthday-paradox support size of G vs of the data (Arora & Zhang)",
                 # descriptive: a large support or ratio is as often noise off the data as diversity
                 # (noisy copies of the data score 21x its ratio), and a support without a
                 # duplicate found is only a lower bound (birthday_capped)
                 {"birthday_support": Output("support estimate of G", None, ".4g"),
                  "birthday_support_real": Output("support estimate of the data", None, ".4g"),
                  "birthday_ratio": Output("support of G / of the data (1: as the data)", None, ".3f"),
                  "birthday_batch": Output("birthday batch: samples drawn at the first duplicate", None, "d"),
                  "birthday_capped": Output("1: no duplicate in the whole sample, support is a lower bound",
                                            None, "d")}, reads=SAMPLES)
def _birthday(ctx):
    real, fake = _small(ctx)
    tau = duplicate_radius(real)
    if tau == 0:
        warnings.warn("birthday skipped: the data's points are all one point, so there is no radius "
                      "at which to call two samples copies", stacklevel=2)
        return {}
    g = Dm.birthday_support(fake, tau, seed=ctx.seed)
    r = Dm.birthday_support(real, tau, seed=ctx.seed)
    return {**g, "birthday_support_real": r["birthday_support"],
            "birthday_ratio": g["birthday_support"] / r["birthday_support"]}


@register_metric("prdc_points", _points, "k-NN precision/recall (k = eval.pr_k) and density/coverage "
                 "(k = eval.dc_k) of the points themselves",
                 PRDC_OUTPUTS, reads=("n_samples", "pr_k", "dc_k"))
def _prdc_points(ctx):
    real, fake = _small(ctx)
    return prdc(real, fake, k=ctx.settings.pr_k, k_dc=ctx.settings.dc_k)
