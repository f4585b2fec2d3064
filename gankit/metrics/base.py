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


class NotForThisRun(ValueError):
    """The metric applies to the data but not to this run's model (an objective without a
    classifier, samples without a latent code): named, it is an error saying so; in an
    evaluation of every metric that applies it is left out quietly."""


@dataclass(frozen=True)
class Output:
    label: str
    better: str | None = None     # "higher", "lower", or None (a description, not a score)
    fmt: str = ".4g"
    headline: bool = False        # one of the numbers the report shows first (a key result)

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
    needs: str | Callable = ""    # what data it applies to (or dataset -> that), for the message when it does not
    # the eval settings (eval.* names, and protocols such as text_protocol) that change its
    # numbers: the report and compare weigh only these for them.  None (a plug-in that declares
    # nothing): every setting may, as gankit cannot tell
    reads: tuple[str, ...] | None = None

    def __call__(self, ctx) -> dict:
        return self.fn(ctx)


# keys an eval or reference record, or the report, reads as its own (gankit/report/metricinfo.py
# META_KEYS; mode_counts is the modes metric's histogram): a user's metric may not return them
RESERVED_KEYS = frozenset({"step", "kind", "source", "settings", "metrics", "skipped", "time", "n", "mode_counts", "user_code"})


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


# recorded beside the eval settings where the data has them (gankit/eval_records.py protocols)
PROTOCOLS = ("text_protocol",)
# the settings that are numbers of samples drawn from G (the eval message says those asked for)
DRAWS = ("n_samples", "jsd_samples", "parzen_centres")


def register_metric(name: str, applies: Callable[[object], bool], help: str,
                    outputs: dict[str, Output] | None = None, default: bool = True, needs: str | Callable = "",
                    reads: tuple[str, ...] | None = None):
    """Decorator: register ``fn(ctx) -> dict`` as metric ``name``; ``default=False`` leaves it
    out of "every metric that applies" (it runs when named).  ``reads``: the eval settings that
    change its numbers (e.g. ``("n_samples", "pr_k")``; ``()``: none); left out, every one does."""
    def deco(fn):
        module = getattr(fn, "__module__", "") or ""
        user = not is_gankit(module)
        metric = Metric(name, fn, _UserApplies(name, module, applies) if user else applies, help,
                        _outputs(name, module, outputs), default, needs, _reads(name, module, reads))
        if user:
            # the built-ins first, whatever the import order (a script registers before gankit
            # loads its own); while they load, a plug-in's call returns at once, after gankit's
            from gankit.builtins import load_builtins
            load_builtins()
            _check_keys(metric, module)
        METRICS.register(name, None, help)(_factory(metric, fn))
        return fn
    return deco


def _outputs(name: str, module: str, outputs) -> dict[str, Output]:
    """``outputs`` as a dict of str -> Output whose fmt formats a number (or, "s", a text): a
    tuple in place of an Output, or fmt="zz", was accepted here and then failed in the report,
    compare and the end of training (AttributeError, ValueError)."""
    from collections.abc import Mapping

    from gankit.config import ConfigError
    if outputs is None:
        return {}
    who = f"metric {name!r} ({module})"
    if not isinstance(outputs, Mapping):
        raise ConfigError(f"{who}: outputs= takes a dict of {{key: Output(label, better, fmt)}}, "
                          f"got a {type(outputs).__name__}")
    for key, o in outputs.items():
        if not isinstance(key, str):
            raise ConfigError(f"{who}: outputs= key {key!r} is a {type(key).__name__}; name each output "
                              "by the str key the metric returns")
        if not isinstance(o, Output):
            raise ConfigError(f"{who}: outputs[{key!r}] is a {type(o).__name__} ({o!r}), not an Output; "
                              f"write Output(label, better, fmt), e.g. Output({key!r}, \"lower\")")
        if not _formats(o.fmt):
            raise ConfigError(f"{who}: outputs[{key!r}] has fmt={o.fmt!r}, which formats no number; use a "
                              "format spec such as \".4g\", \".3f\", \"d\" (or \"s\" for a text)")
    return dict(outputs)


def _formats(fmt) -> bool:
    """Whether format spec ``fmt`` formats a float, an int ("d") or a text ("s")."""
    if not isinstance(fmt, str):
        return False
    for v in (1.0, 1, "x"):
        try:
            format(v, fmt)
            return True
        except (ValueError, TypeError):
            pass
    return False


def _reads(name: str, module: str, reads) -> tuple[str, ...] | None:
    """``reads`` as a tuple of known setting names (one name alone is taken as such): a misspelt
    one would let a change of the setting it meant pass unnoticed in report and compare."""
    if reads is None:
        return None
    from gankit.config import ConfigError
    names = (reads,) if isinstance(reads, str) else reads
    if not isinstance(names, (tuple, list, set, frozenset)) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"metric {name!r} ({module}): reads= takes eval setting names, e.g. "
                          f"reads=(\"n_samples\",); got {reads!r}")
    from dataclasses import fields

    from gankit.config.schema import EvalConfig
    known = [f.name for f in fields(EvalConfig)] + list(PROTOCOLS)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"metric {name!r} ({module}): reads= names {unknown}, not eval settings; "
                          f"valid: {', '.join(known)}")
    return tuple(dict.fromkeys(names))


def declared_settings() -> frozenset[str]:
    """Every setting some registered metric declares it reads: a recorded setting outside these
    (a newer gankit's) counts for every number."""
    out: set[str] = set()
    for entry in METRICS.entries():
        out.update(getattr(entry.factory(), "reads", None) or ())
    return frozenset(out)


def reads_of_key(key: str) -> frozenset[str] | None:
    """The settings that change recorded number ``key``: those of every metric that declares it
    (prdc and prdc_points share keys); None when one of them declares nothing or none declares
    ``key``."""
    out: set[str] = set()
    found = False
    for entry in METRICS.entries():
        m = entry.factory()
        if key in getattr(m, "outputs", {}):
            found = True
            reads = getattr(m, "reads", None)
            if reads is None:
                return None
            out.update(reads)
    return frozenset(out) if found else None


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
            from gankit.registry import is_gankit
            # a notebook cell renamed and run again: the earlier name is the user's to drop
            drop = "" if is_gankit(other.module) else \
                f", or drop the earlier one: gankit.api.unregister('metric', {other.name!r})"
            raise ConfigError(f"metric {metric.name!r} ({module}) declares output(s) {sorted(mine)} that metric "
                              f"{other.name!r} ({other.module}) declares; give the one(s) in {module} other names{drop}")


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


# the four numbers of k-NN precision/recall and density/coverage (on any features or points).
# density is described, not ranked: the data read ~1, and a G piled on the data's dense parts
# reads above it (docs/metrics.md, prdc), so "higher is better" marked it the best; the
# direction system has no "closest to 1"
PRDC_OUTPUTS = {"precision": Output("precision (k-NN)", "higher", ".3f"),
                "recall": Output("recall (k-NN)", "higher", ".3f"),
                "density": Output("density (data ~1; above 1: piled on dense regions, not a better G)",
                                  None, ".3f"),
                "coverage": Output("coverage", "higher", ".3f")}
