"""Metrics: features -> numbers.  Each metric asks the dataset for what it needs.

A registered metric (gankit/metrics/base.py) is ``fn(ctx) -> dict`` over an
``EvalContext``; ``evaluate(ctx)`` runs every metric that applies (or the ones named).
Importing this package registers nothing; ``gankit.builtins.load_builtins()`` does.
"""
from __future__ import annotations


def _checked(m, res) -> dict:
    """A metric's result as the record stores it: a dict; 0-d tensors and numpy scalars become
    Python numbers (a user's metric may return torch.tensor(0.5)), larger ones lists (as
    mode_counts is), which JSON can hold."""
    from gankit.config import ConfigError
    if not isinstance(res, dict):
        raise ConfigError(f"metric {m.name!r} ({getattr(m.fn, '__module__', '?')}) returned "
                          f"{type(res).__name__}, not a dict of {{name: number}}")
    out = {}
    for k, v in res.items():
        if hasattr(v, "ndim") and getattr(v, "ndim", None) == 0 and hasattr(v, "item"):
            v = v.item()
        elif isinstance(getattr(v, "ndim", None), int) and hasattr(v, "tolist"):
            v = v.tolist()
        out[str(k)] = v
    return out


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
                out.update(_checked(m, m(ctx)))
            except TooFewSamples as e:
                n, size = ctx.settings.n_samples, getattr(ctx.dataset, "size", None)
                # a metric that knows what it needs says so (within_class: 3 a class, times the classes)
                need = getattr(e, "n_needed", None)
                hint = ("more samples do not help" if not getattr(e, "more_helps", True)
                        else f"eval.n_samples = {n}; more samples: --set eval.n_samples={max(need, n + 1)}" if need
                        else f"the data hold {size} samples, too few for it" if size is not None and size <= n
                        else f"eval.n_samples = {n}; more samples: --set eval.n_samples={max(500, 2 * n)}")
                warnings.warn(f"metric {m.name} skipped: {e} ({hint})", stacklevel=2)
            except ConfigError:
                raise
            except Exception as e:        # a user's metric (--import) that fails: which one, in one line
                module = getattr(m.fn, "__module__", "") or ""
                if module.startswith("gankit."):
                    raise
                raise ConfigError(f"metric {m.name!r} ({module}) failed: {type(e).__name__}: {e}") from e
            bar.advance()
    return out
