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

from gankit.registry import METRICS, is_gankit


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


# keys an eval or reference record, or the report, reads as its own (gankit/report/metricinfo.py
# META_KEYS; mode_counts is the modes metric's histogram): a user's metric may not return them
RESERVED_KEYS = frozenset({"step", "kind", "source", "settings", "metrics", "skipped", "time", "n", "mode_counts"})


class _UserApplies:
    """A user's ``applies`` as gankit calls it.  One that raises is "does not apply", with a
    warning naming the metric (once per message): a bug in it must not end a training's final
    evaluation, its reference row or a Run's set-up with a traceback.  ``strict`` raises that
    line as a ConfigError instead, for a metric someone named."""

    def __init__(self, name: str, module: str, fn: Callable[[object], bool]):
        self.name, self.module, self.fn, self.warned = name, module, fn, set()

    def strict(self, dataset) -> bool:
        try:
            return self.fn(dataset)
        except Exception as e:
            from gankit.config import ConfigError
            raise ConfigError(f"metric {self.name!r} ({self.module}): its applies(dataset) failed on "
                              f"{type(dataset).__name__}: {type(e).__name__}: {e}") from e

    def __call__(self, dataset) -> bool:
        from gankit.config import ConfigError
        try:
            return self.strict(dataset)
        except ConfigError as e:
            self.warn(e)
            return False

    def warn(self, error: Exception):
        """The warning for ``error`` from ``strict``, once (an evaluation, then its reference row)."""
        msg = f"{error}; the metric is left out"
        if msg not in self.warned:
            self.warned.add(msg)
            import warnings
            warnings.warn(msg, stacklevel=3)


def register_metric(name: str, applies: Callable[[object], bool], help: str,
                    outputs: dict[str, Output] | None = None, default: bool = True, needs: str = ""):
    """Decorator: register ``fn(ctx) -> dict`` as metric ``name``; ``default=False`` leaves it
    out of "every metric that applies" (it runs when named)."""
    def deco(fn):
        module = getattr(fn, "__module__", "") or ""
        user = not is_gankit(module)
        metric = Metric(name, fn, _UserApplies(name, module, applies) if user else applies, help,
                        dict(outputs or {}), default, needs)
        if user:
            # the built-ins first, whatever the import order (a script registers before gankit
            # loads its own); while they load, a plug-in's call returns at once, after gankit's
            from gankit.builtins import load_builtins
            load_builtins()
            _check_keys(metric, module)
        METRICS.register(name, None, help)(_factory(metric, fn))
        return fn
    return deco


def _check_keys(metric: Metric, module: str):
    """A user's metric may not redefine a key's label and direction: two metrics writing one key
    would overwrite each other's number in the record (built-ins that share keys, as prdc and
    prdc_points, never measure the same data)."""
    from gankit.config import ConfigError
    reserved = sorted(set(metric.outputs) & RESERVED_KEYS)
    if reserved:
        raise ConfigError(f"metric {metric.name!r} ({module}) declares output(s) {reserved}, which every "
                          "record uses for itself; give them other names")
    for other in METRICS._entries.values():
        if other.name == metric.name:
            continue
        mine = set(metric.outputs) & set(getattr(other.factory(), "outputs", {}))
        if mine:
            raise ConfigError(f"metric {metric.name!r} ({module}) declares output(s) {sorted(mine)} that metric "
                              f"{other.name!r} ({other.module}) declares; give the one(s) in {module} other names")


def declared_by(key: str) -> Metric | None:
    """The registered metric whose outputs declare ``key``, if any."""
    for entry in METRICS._entries.values():
        m = entry.factory()
        if key in getattr(m, "outputs", {}):
            return m
    return None


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
