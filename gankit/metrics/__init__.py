"""Metrics: features -> numbers.  Each metric asks the dataset for what it needs.

A registered metric (gankit/metrics/base.py) is ``fn(ctx) -> dict`` over an
``EvalContext``; ``evaluate(ctx)`` runs every metric that applies (or the ones named).
Importing this package registers nothing; ``gankit.builtins.load_builtins()`` does.
"""
from __future__ import annotations


def evaluate(ctx, names: list[str] | None = None) -> dict:
    from gankit.config import ConfigError
    from gankit.registry import METRICS
    metrics = [METRICS.build(n, where="eval.metrics") for n in (names or METRICS.names())]
    if not names:
        metrics = [m for m in metrics if m.default]
    from gankit.metrics.progress import Progress
    todo = []
    for m in metrics:
        if not m.applies(ctx.dataset):
            if names:
                why = f": it needs {m.needs}" if m.needs else f" ({m.help})"
                raise ConfigError(f"metric {m.name!r} does not apply to this data "
                                  f"({type(ctx.dataset).__name__}){why}")
            continue
        todo.append(m)
    import warnings
    from gankit.metrics.base import TooFewSamples
    out = {}
    with Progress(len(todo), f"evaluating step {ctx.step}") as bar:
        for m in todo:
            bar.step(m.name)
            try:
                out.update(m(ctx))
            except TooFewSamples as e:
                warnings.warn(f"metric {m.name} skipped: {e} (eval.n_samples = {ctx.settings.n_samples}, "
                              f"or the data's size; more samples: --set eval.n_samples=500)", stacklevel=2)
            bar.advance()
    return out
