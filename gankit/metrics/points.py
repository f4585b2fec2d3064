"""Metrics of point data with known modes or a known density (PacGAN / VEEGAN protocol)."""
from __future__ import annotations

from gankit.metrics.base import Output, register_metric
from gankit.metrics.divergence import jsd_on_grid
from gankit.metrics.modes import mode_metrics


@register_metric("modes", lambda ds: ds.modes is not None and ds.mode_std is not None,
                 "modes covered, % high-quality samples, reverse KL (known modes)",
                 {"modes_covered": Output("modes covered", "higher", "d", headline=True),
                  "modes_total": Output("modes in the data", None, "d"),
                  "hq_fraction": Output("high-quality samples", "higher", ".1%", headline=True),
                  "reverse_kl": Output("reverse KL of the mode histogram", "lower", ".3f", headline=True)},
                 reads=("n_samples", "hq_std"))
def modes(ctx):
    ds, ec = ctx.dataset, ctx.settings
    x = ctx.generate(ec.n_samples, "modes")
    return mode_metrics(x, ds.modes, ds.mode_std, ec.hq_std, weights=getattr(ds, "mode_weights", None))


@register_metric("jsd", lambda ds: ds.has_density and ds.dim <= 2,
                 "JSD(p_data || p_g) on a grid (1-D/2-D data with a known density; exact cell masses)",
                 {"jsd": Output("Jensen-Shannon divergence (nats)", "lower", ".4f", headline=True)},
                 reads=("jsd_samples", "jsd_bins", "jsd_cells"),
                 # a grid of jsd_bins cells a side: in 3-D and up too many cells for the samples
                 needs="data with a known density, 1-D and 2-D data only (energy, mmd or "
                       "sliced_wasserstein compare samples in more dimensions)")
def jsd(ctx):
    ds, ec = ctx.dataset, ctx.settings
    x = ctx.generate(ec.jsd_samples, "jsd").numpy()
    lo, hi = ds.bounds()
    exact = getattr(ec, "jsd_cells", "exact") == "exact" and hasattr(ds, "cell_probs")
    return {"jsd": jsd_on_grid(ds.log_prob, x, lo.numpy(), hi.numpy(), ec.jsd_bins,
                               ds.cell_probs if exact else None)}
