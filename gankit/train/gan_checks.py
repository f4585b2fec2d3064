"""Build-time checks of the "gan" objective's options (GANParams): combinations refused
before anything is built, sub-options set while their remedy is off, the nets' required
attributes, and divisibility refusals named in the config's terms (the global batch);
with them D's minibatch head, whose group size they check.

Nothing here trains; gankit/train/gan.py calls these while declaring its parts.
"""
from __future__ import annotations

import warnings
from dataclasses import fields
from typing import TYPE_CHECKING

from torch import nn

from gankit.config import ConfigError
from gankit.train import remedies as R

if TYPE_CHECKING:
    from gankit.train.gan_options import GANParams


def _spectral_normed(D: nn.Module) -> bool:
    """Whether a layer of D is spectrally normalised (objective.spectral_norm, or D's own)."""
    for m in D.modules():
        if hasattr(m, "weight_orig") and hasattr(m, "weight_u"):   # torch.nn.utils.spectral_norm
            return True
        if any("SpectralNorm" in type(f).__name__
               for fs in getattr(m, "parametrizations", {}).values() for f in fs):
            return True
    return False


def _gradient_checks(cfg, p: "GANParams", loss, D: nn.Module) -> list:
    """Train-start callbacks (runs trained before these checks still open to evaluate):
    a refusal of the matching-aware term under a Wasserstein critic, and warnings for the
    gradient penalty on a batch-norm D or one with minibatch features."""
    from gankit.train.objective import RefuseAtTrainStart, WarnAtTrainStart
    from gankit.train.parts import _BATCHNORM_OFF
    out = []
    c = cfg.condition
    if (loss.wasserstein and c.kind != "none" and c.mismatch_weight > 0
            and c.d_mode in ("concat", "projection") and p.clip == 0):
        out.append(RefuseAtTrainStart(
            f"condition.mismatch_weight={c.mismatch_weight:g} with loss.name={loss.name}: the matching-aware "
            f"term E f(x, wrong c) has no lower bound for a Wasserstein critic (objective.gp, r1 and "
            f"spectral_norm bound f's slope in x, not how far the condition's embedding moves it), so "
            f"the critic diverges; set condition.mismatch_weight=0 (the critic still reads c), or "
            f"loss.name=hinge, or objective.clip=0.01 (clipping bounds every weight)"))
    # the gradient penalty's target, a 1-Lipschitz critic, is a statement about each sample's
    # gradient; R1 is left alone (stacked-mnist-r1 reaches its goal with a batch-norm D)
    norms = [m for m in D.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if p.gp > 0 and norms:
        fixes = [fix for m in D.modules() if (fix := _BATCHNORM_OFF.get(type(m).__name__))
                 and any(isinstance(b, nn.modules.batchnorm._BatchNorm) for b in m.modules())]
        fix = " or ".join(dict.fromkeys(fixes)) or "a D without batch norm"
        out.append(WarnAtTrainStart(
            f"objective.gp on a D with batch norm: {_coupled('batch norm couples')} (Gulrajani et "
            f"al.'s critic has no batch norm); set {fix}"))
    # minibatch features couple the samples the same way; discrimination with gp is refused
    # (_refuse_combinations), std only warned: Karras et al.'s Progressive GAN trains it with WGAN-GP
    if p.gp > 0 and R.reads_batch(D):
        # p.minibatch is "none" for a user's D with minibatch layers of its own
        what, fix = ((f"with objective.minibatch={p.minibatch}", "objective.minibatch=none")
                     if p.minibatch != "none" else ("on a D with minibatch features", "a D without them"))
        out.append(WarnAtTrainStart(
            f"objective.gp {what}: {_coupled('the minibatch features couple')}; set {fix} for the "
            f"per-sample penalty of Gulrajani et al., or keep both if a penalty on the coupled gradient "
            f"is meant (Karras et al.'s Progressive GAN trains so)"))
    return out


def _coupled(what: str) -> str:
    """Why the gradient penalty misses its target on a D whose outputs share batch statistics."""
    return (f"the penalty takes each sample's input gradient of D's batch sum, which {what} through "
            f"the batch statistics, so it does not constrain each sample's gradient")


def _minibatch_head(D: nn.Module, batch_size: int, p: "GANParams", world: int) -> tuple[nn.Module, str | None]:
    """D's head with the read-out of minibatch std or discrimination features (objective.minibatch);
    ``batch_size`` is this process's share of the batch."""
    from gankit.nets.conditional import CondDiscriminator
    if isinstance(D, CondDiscriminator) and D.mode == "concat":
        # a conditional D of d_mode concat reads [h, e(c)] with an MLP: there is no linear head
        # on h alone to add the statistics' read-out to (projection, acgan and none have one)
        raise ConfigError(f"objective.minibatch={p.minibatch} with condition.d_mode=concat: that D scores "
                          "[features, condition] with an MLP, not a head on the features; use "
                          "condition.d_mode=projection (or acgan, none), or objective.minibatch=none")
    _need(D, "head", "minibatch")
    rows = batch_size // p.pack
    # refused when training starts, not here: runs trained so before these checks existed must
    # still open to sample and evaluate (G does not read the statistics)
    refusal = None
    if rows < 2:
        # the statistics would be one constant for every input: the remedy silently off
        why = ("one sample has no spread" if p.minibatch == "std"
               else "one sample has no other sample to compare with")
        step = p.pack * world
        refusal = (f"objective.minibatch={p.minibatch} with {_batch_named(batch_size, world, p.pack)}: "
                   f"batch statistics need 2 or more samples, and {why}; set train.batch_size to "
                   f"{2 * step} or more{f' (a multiple of {step})' * (step > 1)}, or "
                   f"objective.minibatch=none")
    if p.minibatch == "std":
        # D's training batches must split into whole groups (a group at least the batch
        # is the whole batch, as in Karras et al.); the forward's one-group fallback is
        # for the other sizes D scores at evaluation (grids, samples)
        g = p.minibatch_group
        if g == 1:
            refusal = ("objective.minibatch_group=1: a group of one sample has no spread, so D "
                       "reads the same constant for every input; set objective.minibatch_group "
                       "to 2 or more (Karras et al.: 4), or 0 for the whole batch")
        if 0 < g < rows and rows % g:
            seen = _batch_named(batch_size, world, p.pack)
            raise ConfigError(f"objective.minibatch_group: {seen} is not a multiple of {g}; set "
                              f"objective.minibatch_group to a divisor of {rows} (0: the whole "
                              f"batch) or {_batch_fix(batch_size, world, g * p.pack)}")
        stats = R.MinibatchStd(p.minibatch_group)
    else:
        _need(D, "feature_dim", "minibatch")
        stats = R.MinibatchDiscrimination(D.feature_dim, p.minibatch_kernels, p.minibatch_kernel_dim)
    # spectrally normalised, the read-out of the statistics is one layer with D's head
    if p.spectral_norm and not isinstance(D.head, nn.Linear):
        raise ConfigError(f"objective.minibatch with objective.spectral_norm=true: D's head "
                          f"({type(D.head).__name__}) must be one linear layer, normalised with the "
                          f"read-out of the batch statistics; set one of the two options off")
    return R.MinibatchHead(D.head, stats, joint=p.spectral_norm), refusal


def _refuse_combinations(cfg, p: "GANParams"):
    """Options that cannot work together, refused before anything is built."""
    # R1, the gradient penalty and the unrolled look-ahead differentiate D's gradient
    double = [k for k in ("r1", "gp", "unroll") if getattr(p, k) > 0]
    names = " and ".join(f"objective.{k}" for k in double)
    off = " and ".join(f"objective.{k}=0" for k in double)
    if cfg.train.compile and double:
        raise ConfigError(f"train.compile: {names} differentiate{'s' * (len(double) == 1)} D's gradient "
                          f"(double backward), which torch.compile does not support; set "
                          f"train.compile=false, or {off}")
    if p.minibatch == "discrimination" and double:
        raise ConfigError(f"objective.minibatch=discrimination: its L1 distances (gankit.l1kernel) have no "
                          f"second derivative, which {names} need{'s' * (len(double) == 1)}; set {off}, "
                          f"or use objective.minibatch=std")
    if p.clip > 0 and p.spectral_norm:
        raise ConfigError("objective.clip with objective.spectral_norm=true: D uses W / sigma(W), which "
                          "does not change when W is scaled, so clipping W bounds nothing D computes; choose "
                          "one Lipschitz constraint: objective.clip=0 or objective.spectral_norm=false")
    if p.clip > 0 and p.gp > 0:
        warnings.warn(f"objective.clip={p.clip:g} with objective.gp={p.gp:g}: the gradient penalty replaces "
                      "weight clipping (Gulrajani et al.), and clipping keeps the critic from reaching the "
                      "gradient norm the penalty asks for; keep one: objective.clip=0 or objective.gp=0",
                      stacklevel=3)


# sub-options that do nothing while their remedy is off: (switch, is it on, a value that
# switches it on, its sub-options)
SUB_OPTIONS = (
    ("ema", lambda p: p.ema > 0, "0.999", ("ema_start",)),
    ("instance_noise", lambda p: p.instance_noise > 0, "0.1",
     ("instance_noise_anneal", "instance_noise_schedule")),
    ("gp", lambda p: p.gp > 0, "10", ("gp_center",)),
    ("minibatch", lambda p: p.minibatch == "std", "std", ("minibatch_group",)),
    ("minibatch", lambda p: p.minibatch == "discrimination", "discrimination",
     ("minibatch_kernels", "minibatch_kernel_dim")),
    ("lr_decay_final", lambda p: p.lr_decay_final < 1.0, "0.1", ("lr_decay_start",)),
    ("drs", lambda p: p.drs, "true", ("drs_steps", "drs_lr", "drs_quantile")),
    ("unroll", lambda p: p.unroll > 0, "5", ("unroll_lr",)),
    ("critic_boost", lambda p: p.critic_boost > 0, "100", ("critic_boost_first", "critic_boost_every")),
)


def _warn_idle_sub_options(p: "GANParams"):
    """A warning, not a refusal: presets and sweeps may set a sub-option for every run."""
    defaults = {f.name: f.default for f in fields(p)}
    for switch, on, example, subs in SUB_OPTIONS:
        if on(p):
            continue
        for k in subs:
            v = getattr(p, k)
            if v != defaults[k]:
                warnings.warn(f"objective.{k}={_show(v)} has no effect: objective.{switch} is "
                              f"{_show(getattr(p, switch))}; switch it on with --set "
                              f"objective.{switch}={example}", stacklevel=3)


def _show(v) -> str:
    return str(v).lower() if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)


def _batch_named(rows: int, world: int, pack: int = 1) -> str:
    """The batch a divisibility refusal is about, in the config's terms: ``rows`` is this
    process's share of train.batch_size, the global batch."""
    parts = [f"train.batch_size {rows * world}" + (" global" if world > 1 else "")]
    parts += [f"{world} processes"] * (world > 1) + [f"objective.pack {pack}"] * (pack > 1)
    if len(parts) == 1:
        return parts[0]
    what = "D's batch" if pack > 1 else "each process's batch"
    return f"{what} of {rows // pack}{' per process' * (world > 1 and pack > 1)} ({' / '.join(parts)})"


def _batch_fix(rows: int, world: int, multiple: int) -> str:
    """How to set train.batch_size so that every process's share is a multiple of ``multiple``."""
    step = multiple * world
    return f"set train.batch_size to a multiple of {step} (e.g. {-(-rows * world // step) * step})"


def _need(D, attr: str, what: str):
    if not hasattr(D, attr):
        raise ConfigError(f"objective.{what}: the discriminator {type(D).__name__} has no "
                          f"{attr!r} (D must expose features(x) and head for this option)")
