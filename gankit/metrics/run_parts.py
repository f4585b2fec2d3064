"""gankit's metrics that measure a part of the run, not its samples (a classifier, an encoder, an
ELBO, G's inversion), and the checks of eval.metrics against the parts a run has: said when the
run is built or resumed, not when training is over.  Importable from gankit.metrics as before."""
from __future__ import annotations

# the EvalContext field each reads, None for a run without that part (classify: an objective
# without a classifier)
RUN_PARTS = {"classify": "classify", "code_nn": "codes", "elbo": "elbo"}
# which of gankit's objectives have each part: a sweep checks its variants by this before any
# trains (a Run checks its built objective's parts: tests/test_metrics_parts.py keeps the two
# the same), and the refusal of a metric that reads a part names them
PART_OWNERS = {"classify": ("ssgan", "infogan"), "codes": ("bigan", "ae", "vae"), "elbo": ("vae",)}
# recon_error reads G through latent inversion (EvalContext.invert): a part of every objective
# with a latent code (not the energy model's Langevin chains), and of no conditional run (G would
# also need the condition).  Kept out of RUN_PARTS: a run's measured_parts holds no inverter, so
# PART_OWNERS' list of owners would not match it; the why comes from gankit.train.inversion.
INVERTED = "recon_error"


def parts_of(objective: str):
    """The parts (RUN_PARTS' fields) gankit's objective ``objective`` has, from its name alone:
    a stand-in context for ``lacking_parts``, True for a part it has, None for one it lacks
    (``invert`` only where it lacks one: every other objective has it); None for a user's
    objective (only its built run can tell)."""
    from types import SimpleNamespace

    from gankit.registry import OBJECTIVES, is_gankit
    if not is_gankit(OBJECTIVES.get(objective, "objective.name").module):
        return None
    parts = {part: True if objective in owners else None for part, owners in PART_OWNERS.items()}
    return SimpleNamespace(**parts, **({} if _has_latent(objective) else {"invert": None}))


def lacking_parts(names, ctx) -> list[str]:
    """The metrics of ``names`` that measure a part (RUN_PARTS, recon_error's inversion) the run of
    ``ctx`` lacks."""
    from gankit.registry import METRICS
    return [n for n in names if (n in RUN_PARTS or n == INVERTED)
            and _lacks_part(METRICS.build(n, where="eval.metrics"), ctx)]


def lacking_said(names, objective: str | None = None, whose: str = "this run's") -> str:
    """"measures a part this run's objective (gan) does not have (codes: the bigan, ae and vae
    objectives)", of ``names``: metrics of RUN_PARTS (or recon_error)."""
    def owners(part):
        who = PART_OWNERS[part]
        return f"the {who[0]} objective" if len(who) == 1 else f"the {', '.join(who[:-1])} and {who[-1]} objectives"
    have = "; ".join("a latent code to invert: every gankit objective but ebm" if n == INVERTED
                     else f"{RUN_PARTS[n]}: {owners(RUN_PARTS[n])}" for n in names)
    return (f"measures a part {whose} objective{f' ({objective})' if objective else ''} does not have "
            f"({have})")


def with_inversion(ctx, dataset, objective: str | None):
    """``ctx`` (a run's parts, gankit.train.run's check of eval.metrics) with the ``invert`` field
    recon_error reads, where it has none: a refusal saying why where the run's G cannot be
    inverted (its objective, ``objective``, has no latent code: known from the name; or it is
    conditional), a stand-in otherwise.  ``ctx`` as it is where it says (an EvalContext) or where there is none."""
    from types import SimpleNamespace
    if ctx is None or hasattr(ctx, "invert") or not isinstance(ctx, SimpleNamespace):
        return ctx
    why = inversion_refused(objective or "", objective is None or _has_latent(objective),
                            getattr(dataset, "condition_kind", None) not in (None, "none"))
    return SimpleNamespace(**vars(ctx), invert=_refusal(why) if why else _can_invert)


def uninvertible_by_config(names, cfg) -> dict[str, str]:
    """{metric: why} for the metrics of ``names`` (recon_error) that runs of config ``cfg`` would
    refuse for a G that cannot be inverted, told from the config before any run is built (a sweep's
    jobs: gankit.sweep_failures) by the checks a built run applies (with_inversion, _cannot_run)."""
    from types import SimpleNamespace

    from gankit.registry import METRICS
    if INVERTED not in names:
        return {}
    # the data's condition as ConditionalData carries it (cfg.condition.kind; "none": unconditional)
    ctx = with_inversion(SimpleNamespace(), SimpleNamespace(condition_kind=cfg.condition.kind), cfg.objective.name)
    why = _cannot_run(METRICS.build(INVERTED, where="eval.metrics"), ctx)
    return {INVERTED: why} if why else {}


def inversion_refused(objective: str, has_latent: bool, conditional: bool) -> str | None:
    """Why a run of ``objective`` cannot be inverted, or None: gankit.train.inversion.invertible's
    answer for a built run, and this module's from the config before the objective is built."""
    if not has_latent:
        return f"the {objective!r} objective has no latent code to invert"
    if conditional:
        return "inversion of conditional runs is not supported (G would also need the condition)"
    return None


def _can_invert(x, **kw):      # with_inversion's stand-in: checked, never called
    raise AssertionError("with_inversion's stand-in inverts nothing")


def _refusal(why: str):
    def refuse(x, **kw):
        from gankit.metrics.base import NotForThisRun
        raise NotForThisRun(why)
    refuse.refused = why    # read by _cannot_run: the run's eval.metrics are refused when it is built
    return refuse


def _has_latent(objective: str) -> bool:
    """Whether the objective registered as ``objective`` has a latent code G can be inverted from,
    read off the class its factory declares it returns (``has_latent``, as inversion.invertible
    reads it off the built objective); True where that cannot be told (the built run says)."""
    import typing

    from gankit.registry import OBJECTIVES
    try:
        cls = typing.get_type_hints(OBJECTIVES.get(objective, "objective.name").factory).get("return")
    except Exception:        # an unknown name (the run says so) or an annotation that does not resolve
        return True
    return bool(getattr(cls, "has_latent", True))


def _lacks_part(m, ctx) -> bool:
    """Whether the run of ``ctx`` lacks the part gankit's metric ``m`` measures (RUN_PARTS), or
    its settings leave the metric nothing to measure (_cannot_run)."""
    from gankit.metrics import _user
    part = RUN_PARTS.get(m.name)
    return (ctx is not None and part is not None and not _user(m) and getattr(ctx, part, None) is None
            or bool(_cannot_run(m, ctx)))


def _cannot_run(m, ctx) -> str | None:
    """Why gankit's metric ``m`` cannot run with the settings of ``ctx`` on data it applies to, or
    None (is: features without classes, the random conv net's; recon_error: a G that cannot be
    inverted, where ``ctx`` says so; a metric of G's samples: a run without a trained G)."""
    from gankit.metrics import _applies, _user
    # a run without a trained G (Objective.no_generator): its context's sampler is a refusal, so
    # every gankit metric of G's samples (all but the run parts') is refused before any work
    no_g = getattr(getattr(ctx, "sample", None), "refused", None)
    if no_g and not _user(m) and m.name not in RUN_PARTS:
        return no_g
    if m.name == INVERTED and not _user(m) and hasattr(ctx, "invert"):
        if ctx.invert is None:
            return "this run's samples cannot be inverted"
        return getattr(ctx.invert, "refused", None)
    if m.name != "is" or _user(m) or getattr(ctx, "settings", None) is None or not _applies(m, ctx.dataset):
        return None
    from gankit.metrics.images import no_classes
    return no_classes(ctx)


def heldout_left_out(dataset, ctx) -> str | None:
    """The warning of a run whose objective has a part (RUN_PARTS) whose default metric the data
    leave out for want of a held-out split: its main number (an SS-GAN's accuracy, a VAE's ELBO)
    would be missing from every evaluation without a word; None otherwise, and None where the
    data's own note (said when the run is made) already names the metrics a set too small to hold
    any out leaves out (a second warning would only repeat it)."""
    from gankit.data.images import MIN_HOLDOUT_IMAGES
    from gankit.metrics import _applies, _user
    from gankit.metrics.reference import _why_no_heldout
    from gankit.registry import METRICS
    from gankit.wording import callers_words
    if ctx is None or getattr(dataset, "kind", None) != "image" or getattr(dataset, "heldout", None) is not None:
        return None
    off = [m.name for m in map(METRICS.build, RUN_PARTS) if m.default and not _user(m)
           and getattr(ctx, RUN_PARTS[m.name], None) is not None and not _applies(m, dataset)]
    if not off:
        return None
    # the cases as _why_no_heldout tells them (ImageDataset.cut): (n, 0) is data.holdout > 0 that
    # held none out, no cut is data.holdout = 0; a larger data.holdout is the fix of the last only
    cut = getattr(dataset, "cut", None)
    if cut and cut[1] == 0 and cut[0] < MIN_HOLDOUT_IMAGES:
        return None          # gankit.data.images' own note for too few images names the metrics left out
    if cut and cut[1] == 0:
        fix = "more images per class keep some held out"
    else:
        few = (getattr(dataset, "size", None) or MIN_HOLDOUT_IMAGES) < MIN_HOLDOUT_IMAGES
        fix = "keep a split: --set data.holdout=0.1" + f" (over {MIN_HOLDOUT_IMAGES} or more images)" * few
    return callers_words(f"{_why_no_heldout(dataset)}, so this run's {', '.join(off)} (measured on held-out "
                         f"images) {'is' if len(off) == 1 else 'are'} left out of every evaluation; {fix}")
