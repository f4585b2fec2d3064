"""Metrics: features -> numbers.  Each metric asks the dataset for what it needs.

A registered metric is ``metric(run) -> dict``, built with ``applies(dataset)``;
``evaluate(run)`` runs every metric that applies (or the ones named).
"""
from __future__ import annotations

from gankit.components import METRICS
from gankit.config import ConfigError
from gankit.metrics.base import Metric  # noqa: F401  (re-exported)
from gankit.metrics.divergence import jsd_on_grid
from gankit.metrics.modes import mode_metrics
from gankit.metrics import images as _images  # noqa: F401,E402  (registers image metrics)


def _modes(run):
    ds, ec = run.dataset, run.cfg.eval
    x = run.generate(ec.n_samples, seed=run.cfg.seed + 7)
    return mode_metrics(x, ds.modes, ds.mode_std, ec.hq_std)


def _jsd(run):
    ds, ec = run.dataset, run.cfg.eval
    x = run.generate(ec.jsd_samples, seed=run.cfg.seed + 11).numpy()
    lo, hi = ds.bounds()
    return {"jsd": jsd_on_grid(ds.log_prob, x, lo.numpy(), hi.numpy(), ec.jsd_bins)}


METRICS.register("modes", None, "modes covered, % high-quality samples, reverse KL (known modes)")(
    lambda: Metric("modes", _modes, lambda ds: ds.modes is not None and ds.mode_std is not None,
                   "mode coverage"))
METRICS.register("jsd", None, "JSD(p_data || p_g) on a grid (1-D/2-D data with a known density)")(
    lambda: Metric("jsd", _jsd, lambda ds: ds.has_density and ds.dim <= 2, "grid JSD"))


def evaluate(run, names: list[str] | None = None) -> dict:
    metrics = [METRICS.build(n) for n in (names or METRICS.names())]
    out = {}
    for m in metrics:
        if not m.applies(run.dataset):
            if names:
                raise ConfigError(f"metric {m.name!r} does not apply to dataset {run.cfg.data.name!r}")
            continue
        out.update(m(run))
    return out
