"""What a registered metric is, and the one way to register one.

A metric is ``fn(ctx: EvalContext) -> dict`` plus metadata: which data it applies to,
a one-line help, and for each number it returns a label, whether higher or lower is
better, and a format.  Reports and comparisons read the metadata; none of them names a
metric.

    @register_metric("modes", applies=lambda ds: ds.modes is not None, help="...",
                     outputs={"modes_covered": Output("modes covered", "higher", "d")})
    def modes(ctx): ...
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from gankit.registry import METRICS


class TooFewSamples(ValueError):
    """The sets a metric compares are too small for it: evaluation skips the metric, with a warning
    that names eval.n_samples, instead of failing the whole evaluation (or the end of training).
    ``n_needed``: an eval.n_samples the metric knows is enough; ``more_helps=False``: no number of
    samples is (the data themselves are too few), so the warning names none."""

    def __init__(self, message: str, n_needed: int | None = None, more_helps: bool = True):
        super().__init__(message)
        self.n_needed, self.more_helps = n_needed, more_helps


@dataclass(frozen=True)
class Output:
    label: str
    better: str | None = None     # "higher", "lower", or None (a description, not a score)
    fmt: str = ".4g"

    def __post_init__(self):
        if self.better not in ("higher", "lower", None):
            raise ValueError(f"Output.better: 'higher', 'lower' or None, got {self.better!r}")


@dataclass
class Metric:
    name: str
    fn: Callable[..., dict]
    applies: Callable[[object], bool]
    help: str
    outputs: dict[str, Output] = field(default_factory=dict)
    default: bool = True          # False: computed only when named (costly measures)
    needs: str = ""               # what data it applies to, for the message when it does not

    def __call__(self, ctx) -> dict:
        return self.fn(ctx)


def register_metric(name: str, applies: Callable[[object], bool], help: str,
                    outputs: dict[str, Output] | None = None, default: bool = True, needs: str = ""):
    """Decorator: register ``fn(ctx) -> dict`` as metric ``name``; ``default=False`` leaves it
    out of "every metric that applies" (it runs when named)."""
    def deco(fn):
        metric = Metric(name, fn, applies, help, dict(outputs or {}), default, needs)
        module = getattr(fn, "__module__", "") or ""
        for other in METRICS._entries.values():   # a user's metric may not redefine a key's label and direction
            mine = set(metric.outputs) & set(other.factory().outputs)
            if mine and other.name != name and other.module != module and not module.startswith("gankit."):
                from gankit.config import ConfigError
                raise ConfigError(f"metric {name!r} ({module}) declares output(s) {sorted(mine)} that metric "
                                  f"{other.name!r} ({other.module}) declares; give them other names")
        METRICS.register(name, None, help)(_factory(metric, fn))
        return fn
    return deco


def _factory(metric: Metric, fn):
    def make():
        return metric
    make.__module__ = fn.__module__    # the registry reports where the metric was defined
    return make


def output_info(key: str) -> Output | None:
    """The metadata of a recorded number, from whichever registered metric declares it."""
    for entry in METRICS.entries():
        out = entry.factory().outputs
        if key in out:
            return out[key]
    return None


# the four numbers of k-NN precision/recall and density/coverage (on any features or points)
PRDC_OUTPUTS = {"precision": Output("precision (k-NN)", "higher", ".3f"),
                "recall": Output("recall (k-NN)", "higher", ".3f"),
                "density": Output("density", "higher", ".3f"),
                "coverage": Output("coverage", "higher", ".3f")}
