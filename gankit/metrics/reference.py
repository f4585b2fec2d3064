"""The real-data reference: each metric measured with real samples in G's place.

It tells what a perfect generator would score under the same protocol (the same sample
sizes, features and seeds), so a run's numbers read against it: FID of real held-out
images against the training statistics is not 0 at n = 2,500, the mode count of real
samples is the ceiling, and so on.

Where the real samples come from: the dataset's held-out split when it has one (image
data: ``split("heldout")``; text: ``test``), else fresh draws from the data
distribution (toy mixtures: ``sample``), drawn with the evaluation stream "reference".
Metrics that generate for given conditions (conditional runs) or need G's likelihood
are left out: they have no real-data counterpart here.  Metrics that themselves compare
against the held-out split (Parzen, memorisation) read optimistic on held-out samples;
their reference says so in its ``source``.
"""
from __future__ import annotations

import warnings

import torch

from gankit.metrics.context import EvalContext


class NoReference(Exception):
    """This metric has no real-data counterpart (conditions, likelihood)."""


def _pool(dataset):
    """Held-out real samples, or None (then the distribution is sampled)."""
    split = getattr(dataset, "split", None)
    if callable(split):
        try:
            return split("heldout"), "held-out split"
        except (ValueError, TypeError, AttributeError):
            pass
    test = getattr(dataset, "test", None)
    if isinstance(test, torch.Tensor):
        return test, "test split"
    return None, "fresh draws from the data distribution"


def reference_context(dataset, settings, seed: int, step: int = 0) -> tuple[EvalContext, str]:
    pool, source = _pool(dataset)

    def sample(n, seed_=None, y=None, c=None):
        if y is not None or c is not None:
            raise NoReference("conditions")
        g = torch.Generator().manual_seed(0 if seed_ is None else int(seed_))
        if pool is None:
            return dataset.sample(n, g), None
        idx = torch.randint(0, len(pool), (n,), generator=g) if n > len(pool) else \
            torch.randperm(len(pool), generator=g)[:n]
        return pool[idx], None

    ctx = EvalContext(dataset=dataset, settings=settings, seed=seed, device=torch.device("cpu"), step=step,
                      sample=sample, likelihood=None)
    return ctx, source


def evaluate_reference(dataset, settings, seed: int, names: list[str] | None = None) -> dict:
    """{key: value} of every applicable metric (or the named ones) on real samples, plus
    ``source``; metrics without a real counterpart are skipped."""
    from gankit.registry import METRICS
    ctx, source = reference_context(dataset, settings, seed)
    out = {}
    skipped = []
    from gankit.metrics.progress import Progress
    metrics = [METRICS.build(name, where="eval.metrics") for name in names or METRICS.names()]
    metrics = [m for m in metrics if m.applies(dataset)]
    with Progress(len(metrics), "reference (real data)") as bar:
        for m in metrics:
            bar.step(m.name)
            _measure(m, ctx, out, skipped)
            bar.advance()
    out["source"] = source
    if skipped:
        out["skipped"] = skipped
    return out


def _measure(m, ctx, out: dict, skipped: list):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = m(ctx)
    except Exception:     # NoReference, or a metric that needs what real data lacks (G's likelihood)
        skipped.append(m.name)
        return
    out.update({k: v for k, v in res.items() if k != "mode_counts"})
