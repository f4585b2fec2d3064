"""Metrics: features -> numbers.  Each metric asks the dataset for what it needs.

A registered metric (gankit/metrics/base.py) is ``fn(ctx) -> dict`` over an
``EvalContext``; ``evaluate(ctx)`` runs every metric that applies (or the ones named).
Importing this package registers nothing; ``gankit.builtins.load_builtins()`` does.
"""
from __future__ import annotations


def _where(m) -> str:
    return getattr(m.fn, "__module__", "") or ""


def _user(m) -> bool:
    from gankit.registry import is_gankit
    return not is_gankit(_where(m))


def _checked(m, res) -> dict:
    """A metric's result as the record stores it: a dict; 0-d tensors and numpy scalars become
    Python numbers (a user's metric may return torch.tensor(0.5)), larger ones lists (as
    mode_counts is), which JSON can hold.  A user's metric may return only the keys it declares
    (none declared: keys no other metric declares), never a record's own keys."""
    from gankit.config import ConfigError
    if not isinstance(res, dict):
        raise ConfigError(f"metric {m.name!r} ({_where(m)}) returned "
                          f"{type(res).__name__}, not a dict of {{name: number}}")
    out = {str(k): _unarray(v) for k, v in res.items()}
    if _user(m):
        for k, v in out.items():
            out[k] = _check_user_key(m, k, v)
    return out


def _unarray(v):     # a numpy scalar, 0-d array or 0-d tensor as a Python number, a larger one as a list
    if not (isinstance(getattr(v, "ndim", None), int) and hasattr(v, "tolist")):
        return v
    return v.item() if v.ndim == 0 and hasattr(v, "item") else v.tolist()


def _plain(v):
    """``v`` as JSON writes it (a Decimal or Fraction as a float, in lists and dicts too); else
    TypeError naming the type JSON cannot hold (complex, set): it lost the whole record."""
    import numbers
    from decimal import Decimal
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k if isinstance(k, (str, int, float, bool)) or k is None else str(k): _plain(x) for k, x in v.items()}
    if _unarray(v) is not v:      # np.bool_ is no numbers.Real; a 0-d tensor inside a list
        return _plain(_unarray(v))
    if isinstance(v, (numbers.Real, Decimal)):      # Decimal is no numbers.Real
        try:
            return int(v) if isinstance(v, numbers.Integral) else float(v)
        except (OverflowError, ValueError, TypeError):
            pass
    raise TypeError(_type_named(v))


def _type_named(v) -> str:    # with its module ("numpy.bool", "torch.Tensor"): numpy 2's np.bool_ is "bool"
    t = type(v)
    return t.__qualname__ if t.__module__ in (None, "builtins") else f"{t.__module__}.{t.__qualname__}"


def _check_user_key(m, key: str, v):
    """Refuses a key that would overwrite another metric's number or the record's own, and a
    value JSON cannot hold; warns about a value the report and compare cannot read as the
    declared number (NaN and None are fine: recorded as null).  Returns the value as recorded
    (a Decimal or Fraction as a float)."""
    import warnings

    from gankit.config import ConfigError
    from gankit.metrics.base import RESERVED_KEYS, declared_by
    who, outputs = f"metric {m.name!r} ({_where(m)})", getattr(m, "outputs", None) or {}
    if key in RESERVED_KEYS:
        raise ConfigError(f"{who} returned key {key!r}, which every record uses for itself; rename it")
    if outputs and key not in outputs:
        raise ConfigError(f"{who} returned key {key!r}, which its outputs do not declare "
                          f"({', '.join(outputs)}); declare it in outputs= or leave it out")
    try:
        v = _plain(v)
    except TypeError as e:
        raise ConfigError(f"{who} returned key {key!r} as a {_type_named(v)}"
                          f"{'' if str(e) == _type_named(v) else f' (holding a {e})'}, which the record "
                          "cannot store; return a float (or a str, list or dict of them)") from None
    if not outputs:
        other = declared_by(key)
        if other is not None and other.name != m.name:
            raise ConfigError(f"{who} returned key {key!r}, which metric {other.name!r} ({_where(other)}) "
                              "declares; give it another name (and declare it in outputs=)")
        return v
    fmt = outputs[key].fmt
    if isinstance(v, (list, tuple, dict)):
        warnings.warn(f"{who}: output {key!r} is a {type(v).__name__} of {len(v)} values, not one number; "
                      "return one number per declared output (e.g. float(x.mean()))", stacklevel=3)
    elif isinstance(v, str) and fmt != "s":
        warnings.warn(f"{who}: output {key!r} is the string {v!r}, not a number; return a float "
                      "(a text output declares Output(..., fmt='s'))", stacklevel=3)
    return v


def not_applying(m, dataset, ctx=None):
    """The ConfigError of a metric named for data it does not apply to.  A metric's ``needs`` may
    be a function of the data (what is missing differs: image data, or their held-out split);
    ``ctx``: the run's EvalContext, when at hand (see ``applying_said``)."""
    from gankit.config import ConfigError
    needs = _needs(m, dataset)
    why = f": it needs {needs}" if needs else f" ({m.help})"
    return ConfigError(f"metric {m.name!r} does not apply to this data "
                       f"({_data_said(dataset)}){why}; {applying_said(dataset, ctx)}")


def _needs(m, dataset) -> str:
    """What metric ``m`` needs of the data, said in its refusals ("" where it says nothing)."""
    return m.needs(dataset) if callable(m.needs) else m.needs


_CONDITIONS = {"label": "labels", "text": "captions"}


def _data_said(dataset) -> str:
    """The data as the refusal names them: a conditional run by its condition (its data's wrapper
    is no name a user knows), other data by their kind's class (GaussianMixture)."""
    kind = getattr(dataset, "condition_kind", None)
    if kind in _CONDITIONS:
        return f"a run conditioned on {_CONDITIONS[kind]}, condition.kind = {kind!r}"
    return type(dataset).__name__


def refuse_not_applying(names, dataset, ctx=None, objective: str | None = None) -> None:
    """gankit's own metrics among ``names`` that do not apply to ``dataset``, or measure a part
    (RUN_PARTS) the run of ``ctx`` lacks, refused before anything is announced or drawn (a
    user's applies is left to evaluate, which handles its errors).  ``objective``: the run's,
    for the message."""
    from gankit.config import ConfigError
    from gankit.registry import METRICS
    for n in names or []:
        m = METRICS.build(n, where="eval.metrics")
        if not _user(m) and not m.applies(dataset):
            raise not_applying(m, dataset, ctx)
        why = _cannot_run(m, ctx)
        if why:
            raise ConfigError(f"metric {n!r}: {why}; {applying_said(dataset, ctx)}")
        if _lacks_part(m, ctx):
            raise ConfigError(f"metric {n!r} {lacking_said([n], objective)}; {applying_said(dataset, ctx)}")


def seed_for_metric(name: str, ctx):
    """Seeds the CPU generator and the device's of ``ctx`` for metric ``name`` from the
    evaluation's seed and the name (a hash, far from gankit.seeds' ``seed + offset`` streams):
    a metric drawing from the global stream (default init, torch.rand, dropout) reads one number
    for one checkpoint.  Called inside gankit.seeds.forked, which puts the caller's back."""
    import hashlib

    import torch

    from gankit import seeds
    device = getattr(ctx, "device", None)      # a context built by hand may name none
    digest = hashlib.sha256(f"gankit-metric/{int(getattr(ctx, 'seed', 0) or 0)}/{name}".encode()).digest()
    seeds.seed(torch.device("cpu" if device is None else device), int.from_bytes(digest[:8], "little") >> 2)


class EvaluationStopped(Exception):
    """``stop()`` turned true between two metrics (a signal during training's evaluation)."""


def evaluate(ctx, names: list[str] | None = None, named: bool | None = None, stop=None) -> dict:
    """{key: value} of every metric that applies (or of ``names``).  ``named`` (default: whether
    ``names`` are given) says someone asked for these metrics: a user's metric that raises (in
    ``applies`` or in its function) or returns keys it may not is then an error; otherwise (a
    training's evaluation, the config's eval.metrics) it is left out with a warning and the
    other metrics are kept.  gankit's own metrics raise either way: that is a bug.  ``stop``: a
    callable looked at before each metric; EvaluationStopped once it is true."""
    import warnings

    from gankit.config import ConfigError
    from gankit.registry import METRICS
    from gankit.wording import callers_words
    named = bool(names) if named is None else named
    metrics = [METRICS.build(n, where="eval.metrics") for n in (names or METRICS.names())]
    if not names:
        metrics = [m for m in metrics if m.default]
    from gankit.metrics.progress import Progress

    def left_out(e: ConfigError):
        warnings.warn(f"{e}; left out of this evaluation, the other metrics are kept", stacklevel=3)
    todo = []
    for m in metrics:
        strict = getattr(m.applies, "strict", None)     # a user's (gankit.metrics.base._UserApplies)
        try:
            ok = (strict or m.applies)(ctx.dataset)
        except ConfigError as e:                  # a user's applies that raised
            if named or strict is None:
                raise
            m.applies.warn(e)
            continue
        if not ok:
            if names:
                raise not_applying(m, ctx.dataset, ctx)
            continue
        todo.append(m)
    from gankit.metrics.base import NotForThisRun, TooFewSamples
    from gankit.metrics.context import NonFiniteSamples
    out: dict = {}
    by: dict[str, object] = {}     # key -> the metric that wrote it
    import torch
    # metrics draw from their own seeds; a net built with default init (a feature net the
    # first time, a user's metric) must not draw from the caller's stream, which is the
    # run's training stream during training: a periodic evaluation changed the training
    # after it and broke the bit-identical resume from a checkpoint written before it; and each
    # metric's global stream is seeded (seed_for_metric), so one checkpoint reads one number
    device = getattr(ctx, "device", None)      # a context built by hand may name none
    from gankit import seeds
    rng = seeds.forked(torch.device("cpu" if device is None else device))
    with rng, Progress(len(todo), f"evaluating step {ctx.step}") as bar:
        for m in todo:
            if stop is not None and stop():
                raise EvaluationStopped(f"stopped before {m.name}")
            bar.step(m.name)
            try:
                seed_for_metric(m.name, ctx)
                res = _checked(m, m(ctx))
                drop = _overwritten(m, res, by, named)
                if drop is not None:      # the user's metric of the two is left out
                    left_out(drop[1])
                    if drop[0] is m:
                        res = {}
                    for k in [k for k, w in by.items() if w is drop[0]]:
                        del out[k], by[k]
                out.update(res)
                by.update(dict.fromkeys(res, m))
            except NotForThisRun as e:
                if named:
                    raise ConfigError(f"metric {m.name!r}: {e}") from None
                if names:             # listed in eval.metrics: say why it is missing
                    left_out(ConfigError(f"metric {m.name!r}: {e}"))
            except TooFewSamples as e:
                n, size = ctx.settings.n_samples, getattr(ctx.dataset, "size", None)
                # a metric that knows what it needs says so (within_class: 3 a class, times the classes)
                need = getattr(e, "n_needed", None)
                hint = ("more samples do not help" if not getattr(e, "more_helps", True)
                        else f"eval.n_samples = {n}; more samples: --set eval.n_samples={max(need, n + 1)}" if need
                        else f"the data hold {size} samples, too few for it" if size is not None and size <= n
                        else f"eval.n_samples = {n}; more samples: --set eval.n_samples={max(500, 2 * n)}")
                # a program calling gankit.api reads overrides=["eval.n_samples=N"], the gankit command --set
                warnings.warn(f"metric {m.name!r} skipped: {e} ({callers_words(hint)})", stacklevel=2)
            except NonFiniteSamples:      # G diverged: no metric's number means anything, a user's neither
                raise
            except Exception as e:        # a user's metric (--import) that fails: which one, in one line
                if not _user(m):
                    raise
                err = e if isinstance(e, ConfigError) else ConfigError(
                    f"metric {m.name!r} ({_where(m)}) failed: {type(e).__name__}: {e}")
                if named:
                    if err is e:
                        raise
                    raise err from e
                left_out(err)
            bar.advance()
    return out


def draws_said(names: list[str] | None, dataset, settings) -> str:
    """How many samples of G the metrics ``names`` (None: every default one that applies to
    ``dataset``) draw, for the eval message: "2500 samples"; "50000 samples (eval.jsd_samples)"
    for jsd alone; "2500 samples; jsd: 50000 (eval.jsd_samples)" for both; "" when none draws.
    A metric that declares no reads (a plug-in) is taken to draw eval.n_samples."""
    from gankit.metrics.base import DRAWS
    from gankit.registry import METRICS, is_gankit
    try:
        metrics = [METRICS.build(n, where="eval.metrics") for n in names or METRICS.names()]
    except Exception:        # an unknown name: the evaluation itself says so
        return ""
    if not names:            # gankit's own applies are cheap; a plug-in's is not called (it may warn)
        metrics = [m for m in metrics if m.default and (not is_gankit(_where(m)) or _applies(m, dataset))]
    by: dict[str, list[str]] = {}
    for m in metrics:
        reads = m.reads if m.reads is not None else ("n_samples",)
        for setting in DRAWS:
            if setting in reads:
                by.setdefault(setting, []).append(m.name)
    said = []
    for setting, who in by.items():
        n = getattr(settings, setting)
        if setting == "n_samples":
            said.insert(0, f"{n} samples")
        elif len(by) == 1:
            said.append(f"{n} samples (eval.{setting})")
        else:
            said.append(f"{', '.join(who)}: {n} (eval.{setting})")
    return "; ".join(said)


# the checks of metrics of a part of the run (RUN_PARTS ...) live in run_parts; named here as before
from gankit.metrics.run_parts import (PART_OWNERS, RUN_PARTS, _cannot_run, _lacks_part,  # noqa: E402,F401
                                      lacking_parts, lacking_said, parts_of)


def applying_said(dataset, ctx=None) -> str:
    """"metrics that apply to this data: a, b, ..." (gankit's own and plug-ins whose check
    passes), for the messages that refuse one that does not.  ``ctx``: the run's EvalContext;
    with it, a metric of RUN_PARTS the run lacks the part for (or recon_error, where its G cannot be
    inverted) is left out (named, it would fail)."""
    from gankit.registry import METRICS
    names = [e.name for e in METRICS.entries() if _applies(e.factory(), dataset) and not _lacks_part(e.factory(), ctx)]
    return "metrics that apply to this data: " + (", ".join(names) if names else "none")


def unmeasurable(names, dataset, ctx, objective: str) -> str | None:
    """Why metrics ``names`` (eval.metrics) cannot measure this run, or None: a metric that does
    not apply to the data, or one of RUN_PARTS the run lacks (``ctx``: its parts, e.g.
    ``classify``; recon_error's inversion: from ``objective`` and the data where ``ctx`` does not
    say).  Said when the run is built or resumed, not when training is over; so is (a warning) a
    default list that leaves out the run's own part for want of a held-out split."""
    import json
    import warnings

    from gankit.metrics.run_parts import heldout_left_out, with_inversion
    from gankit.registry import METRICS
    ctx = with_inversion(ctx, dataset, objective)
    if not names and (note := heldout_left_out(dataset, ctx)):
        warnings.warn(note, stacklevel=3)
    built = [(n, METRICS.build(n, where="eval.metrics")) for n in names]
    off = [n for n, m in built if not _applies(m, dataset)]
    # is on features without classes, recon_error on a G that cannot be inverted: the run's settings
    # (its objective, its condition), not a part PART_OWNERS names, leave it nothing to score
    cannot = {n: w for n, m in built if n not in off and (w := _cannot_run(m, ctx))}
    lacking = [n for n, m in built if n not in off and n not in cannot and _lacks_part(m, ctx)]
    if not off and not lacking and not cannot:
        return None
    kept = [n for n in names if n not in off and n not in lacking and n not in cannot]
    dropped = len(off) + len(lacking) + len(cannot)
    fix = (f"drop {'it' if dropped == 1 else 'them'}: --set 'eval.metrics={json.dumps(kept)}' "
           f"({applying_said(dataset, ctx)})")
    if off:
        needs = [f"{n!r} needs {w}" for n, m in built if n in off and (w := _needs(m, dataset))]
        return (f"eval.metrics: {', '.join(map(repr, off))} cannot measure this data "
                f"({_data_said(dataset)}){': ' * bool(needs)}{', '.join(needs)}; {fix}")
    if cannot:
        return f"eval.metrics: {'; '.join(f'{n!r}: {w}' for n, w in cannot.items())}; {fix}"
    return f"eval.metrics: {', '.join(map(repr, lacking))} {lacking_said(lacking, objective)}; {fix}"


def _applies(m, dataset) -> bool:
    try:
        return bool(m.applies(dataset))
    except Exception:        # the evaluation itself reports it
        return False


def _overwritten(m, res: dict, by: dict, named: bool):
    """Two metrics of one evaluation writing one key: the record would keep one number under
    the other's label.  An error when the metrics were named or both are gankit's; else
    (metric to leave out, the error): the user's one."""
    from gankit.config import ConfigError
    clash = [k for k in res if k in by]
    if not clash:
        return None
    other = by[clash[0]]
    err = ConfigError(f"metrics {other.name!r} ({_where(other)}) and {m.name!r} ({_where(m)}) both return "
                      f"key {clash[0]!r}; give the one in {_where(m if _user(m) else other)} another name")
    culprit = m if _user(m) else other
    if named or not _user(culprit):
        raise err
    return culprit, err
