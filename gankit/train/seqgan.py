"""Sequence GANs as phases for the one training loop.

Sampling a token is not differentiable, so D's score gives G no gradient
(SPEC section 5).  The ``seqgan`` objective trains G in three stages, each a
phase gated by the iteration number (phases as data, no second loop):

    steps [0, P)            "mle": maximum likelihood on real sequences (teacher forcing)
    steps [P, P + Pd)       "d":   D learns real vs G's samples (G frozen)
    steps [P + Pd, ...)     "d" x k, then "g": the adversarial game

The G phase has four estimators (``estimator``):
- ``rollout`` (SeqGAN, Yu et al. 2017): REINFORCE with Q(x_<t, x_t) = mean over K
  Monte-Carlo completions of the prefix of D(completion); at t = L, D(x).
      grad J = E sum_t (Q_t - b_t) grad log G(x_t | x_<t)
- ``dense`` (ScratchGAN-style, de Masson d'Autume et al. 2019): a per-step D gives
  a reward every step, r_t = 2 D(x_<=t) - 1; the return R_t = sum_{s>=t} gamma^(s-t) r_s;
  the baseline b_t is a moving average of R_t (per position); no rollouts, so large
  batches are affordable.  (A sequence-level D rewards only the last valid step.)
- ``maligan`` (Che et al. 2017): REINFORCE with D's sequence score turned into normalised
  importance weights: r_i = D(x_i) / (1 - D(x_i)) = exp(logit_i) estimates p_data / p_G, so
  w_i = softmax(logits)_i over the batch, and every token of x_i gets the advantage
  m w_i - 1 (mean zero: the normalisation is its own baseline).  With an optimal D the
  weighted gradient E_G[(p_data / p_G) grad log G(x)] is the maximum-likelihood gradient
  E_data[grad log G(x)], estimated from G's own samples.
- ``gumbel``: no REINFORCE.  G emits straight-through Gumbel-softmax one-hots,
  D reads them as rows @ embedding, and the adversarial G loss backpropagates
  through the relaxation; the temperature anneals tau_i = max(tau_min, tau_0 exp(-rate i)).
  With ``gumbel_hard = false`` D reads the relaxed rows themselves, in its own steps too, as
  RelGAN does: D can tell their softness from real one-hots, which pushes G towards peaked
  distributions (lower entropy) as tau falls.

The game is played at temperature 1 (D's fakes and G's step alike): ``generator.temperature``
sets how samples are drawn for sampling and evaluation only.

The baseline (a moving average) is the only state beyond the nets and optimizers;
it travels in the checkpoint (extra_state), so a resumed run continues exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from gankit.config import ConfigError, opt
from gankit.data.text import check_vocabulary
from gankit.data.text_dataset import valid_mask
from gankit.nets.mlp import SEQUENCE_NETS, MLPDiscriminator
from gankit.registry import OBJECTIVES
from gankit.train.distributed import ratios_over_ranks, rows_of_all, shares_of_all, sum_over_ranks
from gankit.train.loop import Phase, StepContext
from gankit.train.objective import Objective, ObjectiveContext, OptimizerSpec, WarnAtTrainStart
from gankit.train.policy_gradient import (discounted_returns, last_valid, maligan_advantage, reinforce_loss,
                                          uniforms)


class SeqGANObjective(Objective):
    sets_own_lr = True      # its phases set G's rate (MLE vs adversarial): no lr schedule
    def __init__(self, ctx: ObjectiveContext, estimator, pretrain_steps, d_pretrain_steps, rollouts,
                 discount, baseline_decay, g_lr, mle_weight, tau, tau_min, tau_decay, d_embedding,
                 gumbel_hard=True):
        super().__init__()
        cfg = ctx.cfg
        self.G, self.D = ctx.build_nets()
        self.modules = {"G": self.G, "D": self.D}
        self.optimizers = {"d": OptimizerSpec(["D"], cfg.optim_d), "g": OptimizerSpec(["G"], cfg.optim_g)}
        self.loss = ctx.loss
        self.sample_real = lambda n: ctx.sample_batch(n).x
        self.sample_z = ctx.sample_z
        self.noise_dist = cfg.noise.dist
        self.m = cfg.train.batch_size
        self.d_steps = cfg.train.d_steps
        self.mle_lr, self.g_lr = cfg.optim_g.lr, (g_lr or cfg.optim_g.lr)
        self.end_id = ctx.dataset.end_id
        self.vocab = list(ctx.dataset.vocab)
        self.estimator, self.rollouts, self.gamma = estimator, rollouts, discount
        self.P, self.Pd = pretrain_steps, d_pretrain_steps
        self.baseline_decay, self.mle_weight = baseline_decay, mle_weight
        self.tau, self.tau_min, self.tau_decay = tau, tau_min, tau_decay
        self.gumbel_hard = gumbel_hard
        short = _short_run(cfg.train.steps, pretrain_steps, d_pretrain_steps)
        if short:
            self.callbacks.append(_WarnIfStepsLeft(short))
        # the adversarial phase trains G at objective.g_lr where it is set (optim_g.lr is MLE's)
        g_rate = (f"objective.g_lr=... (now {g_lr:g}; optim_g.lr is the MLE pretraining's)" if g_lr
                  else "optim_g.lr=...")
        self.nan_hint = (f"Try a lower learning rate (--set optim_d.lr=... --set {g_rate})" +
                         (f" or a higher Gumbel-softmax temperature floor (--set objective.tau_min=..., now "
                          f"{tau_min:g})" if estimator == "gumbel" else "") + ".")
        if not gumbel_hard and estimator != "gumbel":
            raise ConfigError(f"objective.gumbel_hard = false: D reads G's relaxed rows, which only "
                              f"estimator 'gumbel' makes; with estimator {estimator!r} leave it true")
        if self.loss.relativistic and (estimator != "gumbel" or cfg.discriminator.name == "lstm_step"):
            raise ConfigError(f"loss {self.loss.name}: pairs one real and one fake logit per sequence in "
                              f"G's own loss, so it needs estimator 'gumbel' and a sequence-level D "
                              f"(discriminator.name = 'cnn'); the REINFORCE estimators reward D's "
                              f"probabilities: use loss.name='nonsaturating' with them")
        if estimator == "maligan" and not self.loss.probabilistic:
            raise ConfigError(f"objective.estimator = 'maligan' reads D's logit as log D/(1-D), which "
                              f"needs D trained as a classifier: loss.name = 'nonsaturating' or "
                              f"'minimax', not {self.loss.name!r}")
        if not hasattr(self.G, "sample") or not hasattr(self.G, "token_logp"):
            raise ConfigError("objective 'seqgan': needs a sequence generator (generator.name = 'seq')")
        # gankit's own mlp reads token ids as numbers (a dtype error after MLE pretraining); a user's
        # subclass may embed them first, so only the class itself is refused
        if type(self.D) is MLPDiscriminator:
            raise ConfigError(f"objective 'seqgan': discriminator 'mlp' reads points or images, not token "
                              f"sequences; use a sequence discriminator: {SEQUENCE_NETS['discriminator']}")
        L = ctx.dataset.seq_len
        self.baseline = torch.zeros(L, device=ctx.device)
        self.baseline_set = torch.zeros(L, dtype=torch.bool, device=ctx.device)   # per position
        self.d_embedding = d_embedding
        if d_embedding != "own":
            ge, de = self.G.embed.weight, getattr(self.D, "embed", None)
            if de is None or de.weight.shape != ge.shape:
                raise ConfigError(f"objective.d_embedding = {d_embedding!r}: D's embedding must have "
                                  f"G's shape {tuple(ge.shape)}; set discriminator.embed_dim = "
                                  f"generator.embed_dim")
            if d_embedding == "from_g_frozen":
                de.weight.requires_grad_(False)
            if self.P == 0:
                self._copy_embedding(-1)

    # ---------------------------------------------------------------- helpers
    def _u(self, n: int) -> Tensor:
        return uniforms(self.sample_z(n), self.noise_dist)

    def generate(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return self.G.sample(uniforms(z, self.noise_dist))

    def d_score(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self._sequence_logit(x)

    def _copy_embedding(self, step: int):
        if step == self.P - 1 or step < 0:
            with torch.no_grad():
                self.D.embed.weight.copy_(self.G.embed.weight)

    def _set_lr(self, lr: float):
        for g in self.opt_g.param_groups:
            g["lr"] = lr

    def _sequence_logit(self, x: Tensor) -> Tensor:
        """D's logit of whole sequences: a per-step D's logit at the last valid step."""
        out = self.D(x)
        if out.dim() == 1:
            return out
        idx = last_valid(valid_mask(x, self.end_id))
        return out.gather(1, idx[:, None])[:, 0]

    def _d_logits(self, x: Tensor) -> Tensor:
        """The logits D's loss is taken over: (n,), each representation's of a multi-representation
        D (n * reps, paired by index), or the valid steps of a per-step D's (n, L)."""
        return self._logits_for_loss(x, lambda: x)

    def _logits_for_loss(self, x: Tensor, tokens) -> Tensor:
        if hasattr(self.D, "rep_logits"):
            return self.D.rep_logits(x).reshape(-1)
        out = self.D(x)
        return out if out.dim() == 1 else out[valid_mask(tokens(), self.end_id)]

    def state_dict(self) -> dict:
        # the vocabulary: a run reopened later rebuilds it from the data file, which may have changed
        return {"baseline": self.baseline.clone(), "baseline_set": self.baseline_set.clone(),
                "vocab": list(self.vocab)}

    def load_state_dict(self, state: dict):
        if "baseline" in state:
            self.baseline.copy_(state["baseline"])
            self.baseline_set.copy_(state["baseline_set"])   # an older scalar flag broadcasts
        check_vocabulary(state.get("vocab"), self.vocab)

    def tau_at(self, step: int) -> float:
        i = max(0, step - self.P - self.Pd)
        return max(self.tau_min, self.tau * math.exp(-self.tau_decay * i))

    # ---------------------------------------------------------------- phases
    def mle_phase(self, ctx: StepContext):
        self._set_lr(self.mle_lr)
        x = self.sample_real(self.m)
        return self._nll(x), {}

    def _nll(self, x: Tensor) -> Tensor:
        """G's NLL per valid token (over all ranks' tokens on several processes)."""
        mask = valid_mask(x, self.end_id).float()
        n = mask.sum()
        share, = shares_of_all(n)
        return -(self.G.token_logp(x) * mask).sum() / n * share

    def _relaxed_logits(self, y: Tensor) -> Tensor:
        """D's logits of relaxed rows (n, L, V), as ``_d_logits``."""
        return self._logits_for_loss(y, lambda: y.argmax(-1))

    def _relaxed(self, step: int, hard: bool) -> Tensor:
        u = torch.rand(self.m, self.G.seq_len, self.G.vocab, device=self.baseline.device)
        return self.G.sample_relaxed(self.m, self.tau_at(step), u, hard)

    def d_phase(self, ctx: StepContext):
        real = self.sample_real(self.m)
        lr_ = self._d_logits(real)
        if self.gumbel_hard:
            with torch.no_grad():   # the policy's own samples (T = 1), as G's step draws them
                fake = self.G.sample(self._u(self.m), temperature=1.0)
            lf_ = self._d_logits(fake)
        else:   # RelGAN: D sees the relaxed rows G's loss will be computed on
            with torch.no_grad():
                fake = self._relaxed(ctx.step, hard=False)
            lf_ = self._relaxed_logits(fake)
        loss = self._d_loss(lr_, lf_)
        logs = {}
        if ctx.logging:
            with torch.no_grad():
                if self.loss.relativistic:   # D's odds that the real one of a pair is the real one
                    logs = {"d_real_over_fake": torch.sigmoid(lr_ - lf_).mean(), "d_acc": (lr_ > lf_).float().mean()}
                else:   # a per-step D's logits are the valid steps, as many as a rank's sequences have
                    lr, lf = lr_.float(), lf_.float()
                    nr, nf = lr.new_tensor(lr.numel()), lf.new_tensor(lf.numel())
                    if self.loss.probabilistic:
                        b, pairs = 0.0, {"d_real": (torch.sigmoid(lr).sum(), nr),
                                         "d_fake": (torch.sigmoid(lf).sum(), nf)}
                    else:               # a critic's scores are no probabilities: their means
                        b, pairs = self.loss.boundary, {"critic_real": (lr.sum(), nr),
                                                        "critic_fake": (lf.sum(), nf)}
                    if b is not None:
                        pairs |= {"acc_real": ((lr > b).sum(), nr), "acc_fake": ((lf < b).sum(), nf)}
                    logs = ratios_over_ranks(pairs)
                    if b is not None:
                        logs["d_acc"] = 0.5 * (logs.pop("acc_real") + logs.pop("acc_fake"))
        return loss, logs

    def _d_loss(self, lr: Tensor, lf: Tensor) -> Tensor:
        """D's loss; on several processes each half a mean over all ranks' logits: a per-step D
        scores the valid steps, as many as each rank's sequences have.  (A relativistic loss
        pairs real and fake logits by index, so a rank holds as many of each.)"""
        loss = self.loss.d_loss(lr, lf)
        wr, wf = shares_of_all(lr.new_tensor(lr.numel()), lf.new_tensor(lf.numel()))
        if self.loss.relativistic or (wr == 1.0 and wf == 1.0):
            return loss
        fake = self.loss.d_loss_fake(lf)
        return (loss - fake) * wr + fake * wf

    @torch.no_grad()
    def rollout_rewards(self, x: Tensor) -> Tensor:
        """Q_t for t = 0..L-1: D's mean probability over K completions of x[:, :t+1];
        the last step is scored on x itself."""
        was = self.D.training
        self.D.eval()
        n, L = x.shape
        K = self.rollouts
        xk = x.repeat(K, 1)
        states = self.G.states(xk)
        q = torch.empty(n, L, device=x.device)
        for t in range(L):
            # Q for x_t: keep x_0..x_t, complete from the state that has read start, x_0..x_{t-1}
            if t + 1 < L:
                u = torch.rand(K * n, L, device=x.device)
                y = self.G.complete(xk, t + 1, states[t], u)
                q[:, t] = torch.sigmoid(self._sequence_logit(y)).view(K, n).mean(0)
            else:
                q[:, t] = torch.sigmoid(self._sequence_logit(x))
        self.D.train(was)
        return q

    @torch.no_grad()
    def dense_rewards(self, x: Tensor, mask: Tensor) -> Tensor:
        was = self.D.training
        self.D.eval()
        out = self.D(x)
        self.D.train(was)
        if out.dim() == 1:     # a sequence-level D: one reward, at the last valid step
            r = torch.zeros(x.shape, device=x.device)
            r.scatter_(1, last_valid(mask)[:, None], (2 * torch.sigmoid(out) - 1)[:, None])
        else:
            r = 2 * torch.sigmoid(out) - 1      # r_t = 2 D(x_<=t) - 1 in [-1, 1]
        return discounted_returns(r, mask, self.gamma)

    @torch.no_grad()
    def _maligan(self, x: Tensor) -> tuple[Tensor, Tensor]:
        was = self.D.training
        self.D.eval()
        logits = self._sequence_logit(x)
        self.D.train(was)
        everyone, mine = rows_of_all(logits)    # the weights are normalised over the global batch
        adv, ess = maligan_advantage(everyone)
        return adv[mine, None].expand(x.shape), ess

    def _advantage(self, q: Tensor, mask: Tensor) -> Tensor:
        """Q - b with b a moving average of Q per position (updated after use).  A position no
        sequence of the batch reaches keeps its average: it saw no reward, not a reward of 0."""
        if self.baseline_decay <= 0:
            return q
        m = mask.float()
        # sums over all ranks' sequences: every rank keeps the same baseline, one process's
        total, count = sum_over_ranks(torch.stack([(q * m).sum(0), m.sum(0)])).unbind()
        seen = count > 0
        batch_mean = total / count.clamp_min(1.0)
        b = torch.where(self.baseline_set, self.baseline, batch_mean)
        a = q - b
        self.baseline.copy_(torch.where(seen, self.baseline_decay * b + (1 - self.baseline_decay) * batch_mean,
                                        self.baseline))
        self.baseline_set |= seen
        return a

    def g_phase(self, ctx: StepContext):
        self._set_lr(self.g_lr)
        logs = {}
        if self.estimator == "gumbel":
            tau = self.tau_at(ctx.step)
            lf = self._relaxed_logits(self._relaxed(ctx.step, self.gumbel_hard))
            if self.loss.relativistic:
                loss = self.loss.g_loss(lf, self._d_logits(self.sample_real(self.m)))
            else:   # a per-step D's valid steps: a mean over all ranks' (``shares_of_all``)
                share, = shares_of_all(lf.new_tensor(lf.numel()))
                loss = self.loss.g_loss(lf) * share
            if ctx.logging:
                p = torch.sigmoid(lf.detach().float())      # a per-step D: as many as the rank's valid steps
                logs = {"tau": torch.tensor(tau), **ratios_over_ranks({"g_d_fake": (p.sum(), p.new_tensor(p.numel()))})}
        else:
            with torch.no_grad():
                x = self.G.sample(self._u(self.m), temperature=1.0)
            mask = valid_mask(x, self.end_id)
            if self.estimator == "maligan":
                adv, ess = self._maligan(x)
            else:
                q = self.rollout_rewards(x) if self.estimator == "rollout" else self.dense_rewards(x, mask)
                adv = self._advantage(q, mask)
            logp = self.G.token_logp(x)
            loss = reinforce_loss(logp, adv, mask)
            if ctx.logging:
                m = mask.float()
                pairs = {"g_sample_nll": (-(logp.detach() * m).sum(), m.sum())}
                if self.estimator != "maligan":
                    pairs["reward_mean"] = ((q * m).sum(), m.sum())
                logs = ratios_over_ranks(pairs)
                if self.estimator == "maligan":   # the global batch's, the same on every rank
                    logs["weights_ess"] = ess
        if self.mle_weight > 0:
            loss = loss + self.mle_weight * self._nll(self.sample_real(self.m))
        return loss, logs

    def setup(self, optimizers):
        self.opt_d, self.opt_g = optimizers["d"], optimizers["g"]
        self.phases = self.make_phases()

    def make_phases(self) -> list[Phase]:
        P, Pa = self.P, self.P + self.Pd
        k = self.d_steps
        g_params = list(self.G.parameters())
        return [
            Phase("mle", self.opt_g, self.mle_phase, lambda s: 1 if s < P else 0,
                  [self._copy_embedding] if self.d_embedding != "own" else [], g_params),
            Phase("d", self.opt_d, self.d_phase, lambda s: (k if s >= P else 0),
                  [], list(self.D.parameters())),
            Phase("g", self.opt_g, self.g_phase, lambda s: 1 if s >= Pa else 0, [], g_params),
        ]


def _short_run(steps: int, P: int, Pd: int) -> str:
    """Why a run of ``steps`` never reaches G's adversarial step ("" if it does): the phases are
    gated on the step (MLE below P, D alone below P + Pd), so it would silently train less.  A run
    of exactly P steps is an MLE baseline on purpose (docs/sequence.md), not told."""
    if steps == P:
        return ""
    if steps < P:
        return (f"objective seqgan: train.steps = {steps} < objective.pretrain_steps = {P}: MLE "
                f"pre-training only, no adversarial step (lower objective.pretrain_steps or raise train.steps)")
    if steps <= P + Pd:
        return (f"objective seqgan: train.steps = {steps} <= objective.pretrain_steps + d_pretrain_steps = "
                f"{P} + {Pd}: {'MLE and ' if P else ''}D pre-training only, no adversarial G step (lower "
                f"objective.pretrain_steps or d_pretrain_steps, or raise train.steps)")
    return ""


class _WarnIfStepsLeft(WarnAtTrainStart):
    """Said at each start with steps left (a finished run resumed trains nothing): train.steps,
    not the segment, decides, and a resume past P has train.steps > P, so never hears "MLE only"."""

    def on_train_start(self, trainer):
        if trainer.step < trainer.steps:
            super().on_train_start(trainer)


@dataclass
class SeqGANParams:
    estimator: str = opt("rollout", "G's gradient: rollout (SeqGAN REINFORCE with Monte-Carlo "
                         "rollouts), dense (ScratchGAN-style per-step rewards), maligan (REINFORCE "
                         "with D/(1-D) normalised over the batch, Che et al. 2017), gumbel "
                         "(straight-through Gumbel-softmax)",
                         choices=["rollout", "dense", "maligan", "gumbel"])
    pretrain_steps: int = opt(1000, "maximum-likelihood steps of G before the game (P)", ge=0)
    d_pretrain_steps: int = opt(200, "D-only steps after MLE, before G's adversarial steps", ge=0)
    rollouts: int = opt(16, "Monte-Carlo completions per prefix (rollout; SeqGAN: 16)", ge=1)
    discount: float = opt(0.95, "gamma of the discounted per-step returns (dense)", ge=0.0, le=1.0)
    baseline_decay: float = opt(0.9, "moving-average baseline b_t <- d b_t + (1-d) mean R_t, per "
                                "position t (0: no baseline; rollout and dense: maligan's weights are their own "
                                "baseline)", ge=0.0, le=0.9999)
    g_lr: float = opt(0.0, "G's learning rate in the adversarial phase (0: optim_g.lr)", ge=0.0)
    mle_weight: float = opt(0.0, "weight of an MLE term added to G's adversarial loss", ge=0.0)
    tau: float = opt(1.0, "initial Gumbel-softmax temperature (gumbel)", gt=0.0)
    tau_min: float = opt(0.1, "floor of the annealed temperature (gumbel)", gt=0.0)
    tau_decay: float = opt(0.005, "tau_i = max(tau_min, tau exp(-tau_decay i)), i = adversarial step",
                           ge=0.0)
    gumbel_hard: bool = opt(True, "gumbel: D reads straight-through one-hots (true) or, as RelGAN, the "
                            "relaxed softmax rows themselves, in D's steps too (false)")
    d_embedding: str = opt("own", "D's token embedding: its own, or copied from G's MLE-pretrained "
                           "embedding at the end of pretraining (and optionally frozen)",
                           choices=["own", "from_g", "from_g_frozen"])


@OBJECTIVES.register("seqgan", SeqGANParams, "sequence GAN: MLE pretraining, then REINFORCE "
                     "(rollouts or dense rewards) or Gumbel-softmax")
def seqgan_objective(ctx: ObjectiveContext, **kw):
    if ctx.dataset.kind != "text":
        raise ConfigError("objective 'seqgan': needs text data (data.name = oracle, words or textfile)")
    return SeqGANObjective(ctx, **kw)
