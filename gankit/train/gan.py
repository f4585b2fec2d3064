"""The GAN objective as phases for the loop: k D steps, then one G step.

It declares two modules, G and D, and their optimizers d and g.  Options that change
D's architecture (pack, spectral_norm, minibatch) are applied while declaring, before
the Run wraps the modules; the remedies that hold module or optimizer references are
wired in ``setup``, on the wrapped modules.

Extension points (each a list of plain callables, empty by default):
- ``d_input``: transforms applied to every batch D sees, real and fake alike
  (instance noise, packing), called as ``t(x, step)``;
- ``d_penalties``: extra D terms ``p(D, real, fake, ctx) -> Tensor`` (gradient penalty,
  R1, the matching-aware term); D is bound to the batch's condition, ``ctx.step`` is
  the iteration and ``ctx.scratch["batch"]`` the real Batch;
- ``g_penalties``: extra G terms, same signature (feature matching, AC-GAN's class loss);
- ``d_after`` / ``g_after``: after-step hooks ``h(step)`` (weight clipping, EMA);
- ``state``: named objects with state_dict()/load_state_dict() that checkpoints must
  carry (EMA weights, historical averages, the rejection sampler); for a checkpoint
  without one (switched on at resume), ``start_fresh()`` restarts it from the resumed
  weights, or leaves it as built and returns why (Objective.load_state_dict).

The "gan" objective's options (GANParams) switch the remedies on.  The remedies
themselves live in gankit/losses/penalties.py and gankit/train/remedies.py; the options in
gankit/train/gan_options.py, their checks while declaring in gankit/train/gan_checks.py.
"""
from __future__ import annotations

from typing import Callable

import math

import torch
from torch import Tensor, nn

from gankit.config import ConfigError
from gankit.losses.adversarial import d_loss_bce
from gankit.losses.penalties import (WeightClip, apply_spectral_norm, gradient_penalty,
                                     r1_penalty)
from gankit.registry import OBJECTIVES
from gankit.train import remedies as R
from gankit.train.conditional import conditional_terms
# SUB_OPTIONS is re-exported: docs/stabilisers.md and callers look for it beside GANParams
from gankit.train.gan_checks import (SUB_OPTIONS, _batch_fix, _batch_named, _gradient_checks, _minibatch_head,  # noqa: F401
                                     _need, _refuse_combinations, _spectral_normed, _warn_idle_sub_options)
# the options; gan_nan_hint is also imported from here by callers
from gankit.train.gan_options import GANParams, gan_nan_hint  # noqa: F401
from gankit.train.loop import Phase, StepContext
from gankit.train.objective import (Objective, ObjectiveContext, OptimizerSpec, RefuseAtTrainStart, WarnAtTrainStart,
                                    no_text)

LOG4 = math.log(4.0)


class BoundD:
    """D with a batch's condition bound: ``D(x)`` calls ``D(x, c)``; its other attributes
    (features, class_logits, head) pass through, and ``.net`` is the module itself."""

    def __init__(self, D: nn.Module, c: Tensor):
        self.net, self.c = D, c

    def __call__(self, x: Tensor) -> Tensor:
        return self.net(x, self.c)

    def __getattr__(self, name):
        return getattr(self.net, name)


class GANObjective(Objective):
    supports_bf16 = True
    rank0_state = ("drs",)       # only rank 0 samples: its fitted sampler is the run's

    def __init__(self, ctx: ObjectiveContext, p: GANParams):
        super().__init__()
        no_text(ctx.dataset, "gan")        # before the nets: sequence nets fail deep inside otherwise
        cfg = ctx.cfg
        self.ctx, self.p, self.loss = ctx, p, ctx.loss
        self.m = cfg.train.batch_size
        self.conditional = cfg.condition.kind != "none"
        self.reuse_fake = p.reuse_fake
        self.pack = p.pack
        # D sees train.batch_size / pack rows: the Run's batch-norm check counts those
        self.packed = {"D": ("objective.pack", p.pack)} if p.pack > 1 else {}
        self.d_input: list[Callable[[Tensor, int], Tensor]] = []
        self.d_penalties: list[Callable[..., Tensor]] = []
        self.g_penalties: list[Callable[..., Tensor]] = []
        self.d_after: list[Callable[[int], None]] = []
        self.g_after: list[Callable[[int], None]] = []
        self.G_eval: nn.Module | None = None     # e.g. the EMA of G; None: G itself
        self.rejection = None                    # a RejectionSampler (DRS) once configured
        self.g_critic: Callable[..., Tensor] | None = None   # e.g. an unrolled D
        self.G, self.D = self._declare_nets(ctx, p)
        self.reads_batch = R.reads_batch(self.D)    # minibatch features: D scores batches
        self.modules = {"G": self.G, "D": self.D}
        self.optimizers = {"d": OptimizerSpec(["D"], cfg.optim_d), "g": OptimizerSpec(["G"], cfg.optim_g)}

    # ---------------------------------------------------------------- declaring
    def _declare_nets(self, ctx, p):
        cfg = ctx.cfg
        _refuse_combinations(cfg, p)
        _warn_idle_sub_options(p)
        G, D = ctx.build_nets()
        world = ctx.world_size      # ctx.cfg's batch is this process's share of the global one
        if p.pack > 1:
            if cfg.train.batch_size % p.pack:
                raise ConfigError(f"objective.pack: {_batch_named(cfg.train.batch_size, world)} is not a "
                                  f"multiple of {p.pack}; {_batch_fix(cfg.train.batch_size, world, p.pack)}")
            if self.conditional:
                raise ConfigError("objective.pack > 1 cannot be combined with a condition (a packed D "
                                  "scores several samples with different conditions); set one of them off")
            D = ctx.build_discriminator(data=R.PackedData(ctx.dataset, p.pack))
        if p.minibatch != "none":
            D.head, refusal = _minibatch_head(D, cfg.train.batch_size, p, world)
            if refusal:
                self.callbacks.append(RefuseAtTrainStart(refusal))
        if p.spectral_norm:   # after the minibatch layers: they are D's layers too
            apply_spectral_norm(D)
        for refusal in _gradient_checks(cfg, p, ctx.loss, D):
            self.callbacks.append(refusal)
        if p.feature_matching > 0:
            _need(D, "features", "feature_matching")
        if p.drs:
            if self.conditional:
                raise ConfigError("objective.drs: rejection sampling is for unconditional runs; "
                                  "set it to false for a conditional run")
            if p.minibatch != "none":
                raise ConfigError("objective.drs: a D with minibatch features scores batches, not "
                                  "samples; use drs without objective.minibatch")
        return G, D

    # ---------------------------------------------------------------- wiring (after wrapping)
    def setup(self, optimizers):
        p, ctx, cfg = self.p, self.ctx, self.ctx.cfg
        opt_d, opt_g = optimizers["d"], optimizers["g"]
        if p.instance_noise > 0:
            self.d_input.append(R.InstanceNoise(p.instance_noise, p.instance_noise_anneal,
                                                p.instance_noise_schedule))
        if p.pack > 1:
            self.d_input.append(lambda x, step, m=p.pack: R.pack(x, m))
        if p.clip > 0:
            self.d_after.append(WeightClip(self.D, p.clip))
        if p.gp > 0:
            self.d_penalties.append(_penalty(
                lambda D, real, fake, c: gradient_penalty(D, real, fake, p.gp, p.gp_center), "gp"))
        if p.r1 > 0:
            self.d_penalties.append(_penalty(lambda D, real, fake, c: r1_penalty(D, real, p.r1), "r1"))
        self.nan_hint = gan_nan_hint(p)
        if p.feature_matching > 0:
            def matching(D, real, fake, c):
                return p.feature_matching * R.feature_matching(D.features(self.d_view(real, c.step)),
                                                             D.features(self.d_view(fake, c.step)))
            self.g_penalties.append(_penalty(matching, "feature_matching"))
        if self.loss.wasserstein and not (p.clip > 0 or p.gp > 0 or _spectral_normed(self.D)):
            # a warning, not a refusal: an unconstrained critic is the classic demonstration of
            # why WGAN needs one, and a user's D may bound itself in ways not visible here
            self.callbacks.append(WarnAtTrainStart(
                f"loss.name={self.loss.name} with no Lipschitz constraint on the critic: nothing bounds "
                f"E f(x) - E f(G(z)), so the critic diverges and wasserstein_estimate means nothing; set "
                f"objective.gp=10 (WGAN-GP), objective.clip=0.01 (WGAN) or objective.spectral_norm=true "
                f"(objective.r1 penalises D's gradient on real data only, which bounds nothing)"))
        if p.historical_averaging > 0:
            for name, net, pens, after in (("hist_d", self.D, self.d_penalties, self.d_after),
                                           ("hist_g", self.G, self.g_penalties, self.g_after)):
                ha = R.HistoricalAverage(net.parameters(), p.historical_averaging)
                pens.append(_penalty(lambda D, real, fake, c, ha=ha: ha.penalty(), name))
                after.append(ha.update)
                self.state[name] = ha
        if p.ema > 0:
            ema = R.EMA(self.G, p.ema, p.ema_start)
            self.g_after.append(ema.update)
            self.state["ema_g"] = ema
            self.G_eval = ema.shadow
        if p.lr_decay_final < 1.0:   # the Run's LRSchedules applies it to every optimizer
            from gankit.train.schedule import Schedule
            self.lr_schedule = Schedule("linear", 0.0, p.lr_decay_start, p.lr_decay_final)
        if p.drs:
            from gankit.train.rejection import FitAtEnd, RejectionSampler
            self.rejection = RejectionSampler(self.D, p.pack, p.drs_steps, p.drs_lr, p.drs_quantile,
                                              cfg.train.batch_size)
            self.state["drs"] = self.rejection
            self.callbacks.append(FitAtEnd(self, cfg.train.steps, ctx.log))
        if p.unroll > 0 and self.loss.relativistic:
            raise ConfigError(f"objective.unroll: G's loss is taken against an unrolled copy of D, "
                              f"but loss {self.loss.name} pairs it with the current D's real logits; "
                              f"use loss.name='nonsaturating' with unroll")
        if p.unroll > 0:
            from gankit.train.unrolled import UnrolledD
            self.g_critic = UnrolledD(self.D, self.loss.d_loss, p.unroll, opt_d, p.unroll_lr)
        d_terms, g_terms = conditional_terms(cfg.condition, ctx.dataset, self.loss, ctx.cond_gen)
        self.d_penalties += d_terms      # after the remedies' terms, as they were always summed
        self.g_penalties += g_terms
        k = (R.critic_schedule(cfg.train.d_steps, p.critic_boost, p.critic_boost_first,
                               p.critic_boost_every) if p.critic_boost > 0 else cfg.train.d_steps)
        self.phases = self.make_phases(opt_d, opt_g, k, self.d_after, self.g_after)

    def _w_scale(self) -> float:
        """data.standardize's one scale (global), by which the nets' W1 is the data's; 1 with
        no scaling or a scale per coordinate (per_dim: a W1 under another metric, documented)."""
        scale = self.ctx.data_scale()
        if scale is None or scale.numel() == 0 or not bool((scale == scale.flatten()[0]).all()):
            return 1.0
        return float(scale.flatten()[0])

    # ---------------------------------------------------------------- sampling
    def generate(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        G = self.G_eval or self.G
        return G(z) if c is None else G(z, c)

    @property
    def reference_rows(self) -> int:
        """Real samples that d_score's ``reference`` should hold: where D's batch-level features
        compare a sample with its batch, a training batch less the scored sample's own pack;
        0 where D scores each sample alone.  (Unconditional scoring only: the plots of D.)"""
        return self.m - self.pack if self.reads_batch else 0

    def d_score(self, x: Tensor, c: Tensor | None = None, reference: Tensor | None = None) -> Tensor:
        """D's output on single samples x (plots of D over the plane): a packed D sees
        each sample packed with copies of itself.  ``reference`` (reference_rows real samples):
        a D with batch-level features scores each sample as one more of a training batch of
        them, not beside the other samples scored."""
        if self.pack > 1:
            x = R.pack(x.repeat_interleave(self.pack, 0), self.pack)
        if reference is None or c is not None or not self.reads_batch:
            return self.D(x) if c is None else self.D(x, c)
        ref = R.pack(reference, self.pack) if self.pack > 1 else reference
        with R.beside(self.D, len(ref)):
            return self.D(torch.cat([ref.to(x.dtype), x]))[len(ref):]

    def rejection_sampler(self):
        r = self.rejection
        return r if (r is not None and r.ready) else None

    # ---------------------------------------------------------------- phases
    def d_view(self, x: Tensor, step: int) -> Tensor:
        for t in self.d_input:
            x = t(x, step)
        return x

    def _bound(self, c: Tensor | None):
        return self.D if c is None else BoundD(self.D, c)

    def _g(self, z: Tensor, c: Tensor | None) -> Tensor:
        return self.G(z) if c is None else self.G(z, c)

    def _probs(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits) if self.loss.probabilistic else logits

    def d_phase(self, ctx: StepContext):
        batch = self.ctx.sample_batch(self.m)
        real, c = batch.x, batch.c
        ctx.scratch["batch"] = batch
        z = self.ctx.sample_z(self.m)
        if self.reuse_fake:
            fake_g = self._g(z, c)        # kept with its graph for the G step
            ctx.scratch["fake"] = fake_g
            fake = fake_g.detach()
        else:
            with torch.no_grad():
                fake = self._g(z, c)
        D = self._bound(c)
        real_in, fake_in = self.d_view(real, ctx.step), self.d_view(fake, ctx.step)
        lr, lf = D(real_in), D(fake_in)
        loss = self.loss.d_loss(lr, lf)
        logs = {}
        for pen in self.d_penalties:
            term = pen(D, real_in, fake_in, ctx)
            loss = loss + term
            if ctx.logging and getattr(pen, "log_as", None):
                logs[pen.log_as] = term.detach()
        ctx.scratch["real"] = real
        if ctx.logging:
            with torch.no_grad():
                key = "d_real" if self.loss.probabilistic else "critic_real"
                logs[key] = self._probs(lr).mean()
                logs[key.replace("real", "fake")] = self._probs(lf).mean()
                b = self.loss.boundary
                if b is not None:   # D's accuracy: real above its decision boundary, fake below
                    logs["d_acc_real"] = (lr > b).float().mean()
                    logs["d_acc_fake"] = (lf < b).float().mean()
                if self.loss.probabilistic and not self.reads_batch:
                    # V(D, G) = -bce; with D = D*, V = -log 4 + 2 JSD, so JSD >= (log 4 - bce) / 2.
                    # A packed D judges m-tuples: its bound is of JSD(p^m, q^m), which is at least
                    # JSD(p, q) and grows towards log 2 with m, so it is no estimate of JSD(p, q).
                    # A D with minibatch features judges each sample with its whole batch (all real
                    # or all fake), so its bound is of a JSD between batches: 0.42-0.54 where
                    # JSD(p, q) was 0.008 (docs/stabilisers.md); not logged at all
                    key = "jsd_estimate" if self.pack == 1 else "jsd_packed_estimate"
                    logs[key] = 0.5 * (LOG4 - d_loss_bce(lr, lf))
                if self.loss.wasserstein:
                    # E f(x) - E f(G(z)): the critic's estimate of the earth-mover distance, in
                    # the data's units (W1 scales with data.standardize=global's one scale); a
                    # packed critic's is W1 between m-tuples (sqrt(m) times a shift), no estimate
                    # of W1(p_data, p_g), so it has a key of its own
                    key = "wasserstein_estimate" if self.pack == 1 else "wasserstein_packed_estimate"
                    logs[key] = (lr.mean() - lf.mean()) * self._w_scale()
                for t in self.d_input:
                    if hasattr(t, "sigma"):
                        logs["instance_noise"] = torch.tensor(t.sigma(ctx.step))
        return loss, logs

    def g_phase(self, ctx: StepContext):
        batch = ctx.scratch["batch"]        # G generates for the last real batch's conditions
        c = batch.c
        fake = ctx.scratch.pop("fake", None) if self.reuse_fake else None
        if fake is None:
            fake = self._g(self.ctx.sample_z(self.m), c)
        D = self._bound(c)
        fake_in = self.d_view(fake, ctx.step)
        if self.g_critic is None:
            lf = D(fake_in)
        else:   # G's loss against another view of D (unrolled look-ahead), on the same real batch
            lf = self.g_critic(self.d_view(ctx.scratch["real"], ctx.step), fake_in,
                               *(() if c is None else (c,)))
        if self.loss.relativistic:     # G's fakes against the last D step's real batch
            loss = self.loss.g_loss(lf, D(self.d_view(ctx.scratch["real"], ctx.step)))
        else:
            loss = self.loss.g_loss(lf)
        logs = {}
        for pen in self.g_penalties:
            term = pen(D, ctx.scratch.get("real"), fake, ctx)
            loss = loss + term
            if ctx.logging and getattr(pen, "log_as", None):
                logs[pen.log_as] = term.detach()
        return loss, logs

    def make_phases(self, opt_d, opt_g, d_steps: Callable[[int], int] | int = 1,
                    d_after: list | None = None, g_after: list | None = None) -> list[Phase]:
        k = d_steps if callable(d_steps) else (lambda step, k=d_steps: k)
        # with k > 1 (or a schedule) only the last D step's fake could be reused: draw afresh
        if callable(d_steps) or d_steps > 1:
            self.reuse_fake = False
        return [Phase("d", opt_d, self.d_phase, k, list(d_after or []),
                      [p for p in self.D.parameters()]),
                Phase("g", opt_g, self.g_phase, lambda step: 1, list(g_after or []),
                      [p for p in self.G.parameters()])]


def _penalty(fn, log_as: str):
    fn.log_as = log_as
    return fn


@OBJECTIVES.register("gan", GANParams, "Algorithm 1: k D steps then one G step on G(z), plus remedies")
def gan_objective(ctx: ObjectiveContext, **options) -> GANObjective:
    return GANObjective(ctx, GANParams(**options))
