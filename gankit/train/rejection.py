"""Discriminator rejection sampling (DRS; Azadi et al., ICLR 2019).

For a fixed G, the optimal discriminator D*(x) = p_data / (p_data + p_g) has logit
log p_data(x) - log p_g(x).  So a sample x ~ p_g accepted with probability
exp(logit(x) - M), M >= every logit, is distributed as p_data restricted to G's support:
the classic rejection sampler with the density ratio read off D.

Samples G puts between modes (where p_data ~ 0) get very negative logits and are
dropped; over-full modes are thinned and starved ones kept, which also balances modes.
What rejection cannot do is create a mode G never visits.

At the last training step a copy of the trained D is fine-tuned on real vs G's samples
with G frozen (as in the paper: the training D is tuned to a moving G).  A fresh D was
tried first and did not work: when G is close to the data, the few percent of
samples between modes give a new D too little signal; its logits stayed within 0.1 of
0 everywhere and HQ did not move (2026-11-25, one ring run of the earlier recipe, an
exploratory script not kept).  A packed D (PacGAN, m samples)
scores a single x as m copies of x: at the optimum that logit is m log(p_data/p_g), so
it is divided by m.  Undivided, the rejection over-corrects the mode balance: on ring
seed 8 of the `ring` preset, 99.0 % HQ / reverse KL 0.030 undivided against 99.0 % /
0.002 divided, G alone 98.5 % / 0.017 (`benchmarks/drs_variants.py RUN`, 2026-11-25).
M is a high quantile of the logits on G's
samples rather than the maximum, so one outlier logit does not make the acceptance
rate vanish; samples above it are always accepted.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import warnings
from typing import Callable

import torch
from torch import Tensor, nn

from gankit import seeds
from gankit.losses.adversarial import d_loss_bce
from gankit.ops import sample_noise
from gankit.train import remedies as R
from gankit.train.callbacks import nonfinite_tensors
from gankit.train.syncbn import revert_sync_batchnorm


class RejectionSampler:
    def __init__(self, D: nn.Module, pack: int, steps: int, lr: float, quantile: float,
                 batch_size: int):
        # loaded from the trained D when fitted; eval mode but while fitting: dropout or batch
        # statistics would make a sample's acceptance a draw.  Its batch norms are plain: every
        # rank fits the same batches, which synced ones would all-reduce (several times slower
        # a step) and count once per rank (the running variance's n / (n - 1))
        self.D = revert_sync_batchnorm(copy.deepcopy(D)).eval()
        self.pack, self.steps, self.lr, self.quantile, self.m = pack, steps, lr, quantile, batch_size
        self.M = torch.tensor(float("nan"))        # NaN until fitted
        self.acceptance = torch.tensor(float("nan"))
        # why the fit at the last step left it unfitted: {"fit": "stopped"} (a signal), or
        # {"fit": "failed", "cause": FitFailed.cause, "why": its message}; None: not known
        self.why: dict | None = None

    @property
    def ready(self) -> bool:
        return not bool(torch.isnan(self.M))

    def fit(self, D: nn.Module, generate, sample_real, sample_noise, n_quantile: int = 20000,
            stop: Callable[[], bool] | None = None):
        """Fine-tunes a copy of D on real vs generate(z) (G frozen), then sets M.  Each fit
        starts afresh from D's weights with a new optimizer.  ``stop()`` true (a signal asked
        training to stop) ends it between steps with FitStopped, the sampler left unfitted.
        Non-finite values raise FitFailed naming their source: G's samples and the trained D's
        logits are checked on the first batch, before the fine-tuning can be blamed."""
        self.D.load_state_dict(D.state_dict())
        self.D.train()
        self.forget()          # a refit that fails must not leave an earlier M beside this D
        opt = torch.optim.Adam(self.D.parameters(), lr=self.lr, betas=(0.5, 0.999))
        view = (lambda x: R.pack(x, self.pack)) if self.pack > 1 else (lambda x: x)
        for i in range(self.steps):
            if stop is not None and stop():
                raise FitStopped
            real = sample_real(self.m)
            with torch.no_grad():
                fake = generate(sample_noise(self.m))
            if i == 0 and not bool(torch.isfinite(fake).all()):
                raise FitFailed("g", G_NONFINITE)
            real_logits, fake_logits = self.D(view(real)), self.D(view(fake))
            if i == 0 and not bool(torch.isfinite(real_logits).all() and torch.isfinite(fake_logits).all()):
                raise FitFailed("d", D_NONFINITE)
            loss = d_loss_bce(real_logits, fake_logits)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        self.D.eval()
        with torch.no_grad():
            finite, chunks = [], []
            for _ in range(max(1, n_quantile // (self.m * 4))):
                x = generate(sample_noise(self.m * 4))
                finite.append(torch.isfinite(x).all())      # read once, after the loop: one sync
                chunks.append(self.logit(x))
            logits = torch.cat(chunks).float().cpu()
            if not bool(torch.stack(finite).all()):
                raise FitFailed("g", G_NONFINITE)
            if not bool(torch.isfinite(logits).all()):
                if self.steps == 0:
                    raise FitFailed("d", D_NONFINITE)
                raise FitFailed("lr", f"the fine-tuned D gives non-finite logits at objective.drs_lr = "
                                      f"{self.lr:g} over objective.drs_steps = {self.steps}")
            # finite logits do not make a finite D: a batch norm's running variance can overflow
            # to inf while eval mode's x / sqrt(inf) stays 0, and the checkpoint would hold it
            if bad := nonfinite_tensors(self.D.state_dict()):
                if self.steps == 0:
                    raise FitFailed("d", D_NONFINITE)
                from gankit.streams import listed
                raise FitFailed("lr", f"the fine-tuning diverged: the fine-tuned D holds NaN or inf ({listed(bad, 3)}) "
                                      f"at objective.drs_lr = {self.lr:g} over objective.drs_steps = {self.steps}")
            self.M = torch.quantile(logits, self.quantile)
            self.acceptance = self.accept_prob(logits).mean()

    @torch.no_grad()
    def logit(self, x: Tensor) -> Tensor:
        """log p_data(x)/p_g(x) as D estimates it; a packed D sees m copies of x, whose
        logit at the optimum is m times the single-sample ratio, so it is divided by m."""
        n = len(x)
        if self.pack > 1:
            x = R.pack(x.repeat_interleave(self.pack, 0), self.pack)
        return self.D(x).reshape(n) / self.pack

    @torch.no_grad()
    def accept_prob(self, logits: Tensor) -> Tensor:
        return torch.exp(torch.clamp(logits - self.M.to(logits.device), max=0.0))

    @torch.no_grad()
    def sample(self, n: int, draw, u_gen: torch.Generator, batch: int) -> Tensor:
        """n accepted samples; ``draw(k)`` returns k proposals from G."""
        kept = []
        for x in self.chunks(n, draw, u_gen, batch):
            if not bool(torch.isfinite(x).all()):   # G diverged: no filter mends that, the caller's check names it
                return x[:n] if len(x) >= n else torch.cat([x, draw(n - len(x)).cpu()])
            kept.append(x)
        return torch.cat(kept)

    @torch.no_grad()
    def chunks(self, n: int, draw, u_gen: torch.Generator, batch: int):
        """``sample``'s n accepted samples piece by piece, on the CPU, as they are accepted (a
        file of millions is written without holding them); proposals holding NaN or inf end it,
        yielded whole."""
        if not self.ready:
            raise RuntimeError("rejection sampler used before it was fitted (it is fitted at the "
                               "last training step)")
        have, tries = 0, 0
        rate = float(self.acceptance) if bool(torch.isfinite(self.acceptance)) else 1.0
        while have < n:
            # as many proposals as the fitted acceptance says are still needed (+10 %), at most
            # ``batch`` a round (memory stays bounded): a small request draws no full batch
            k = min(batch, max(64, int((n - have) / max(rate, 1e-4) * 1.1) + 1))
            x = draw(k)
            if not bool(torch.isfinite(x).all()):
                yield x.cpu()
                return
            p = self.accept_prob(self.logit(x))
            ok = torch.rand(len(x), generator=u_gen, device="cpu").to(p.device) < p
            yield x[ok].cpu()[:n - have]
            have += int(ok.sum())
            tries += len(x)
            if tries > 1000 * n + 100000:
                raise RuntimeError(f"rejection sampling accepted {have} of {tries} proposals; the "
                                   "calibration D rejects almost everything G makes (set "
                                   "objective.drs = false to sample G directly)")

    def state_dict(self) -> dict:
        """Until fitted, no second D: only why the last step's fit left it unfitted, if it did."""
        if not self.ready:
            return dict(self.why) if (self.why or {}).get("fit") in ("stopped", "failed") else {}
        return {"D": self.D.state_dict(), "M": self.M, "acceptance": self.acceptance}

    def start_fresh(self) -> str:
        """A checkpoint written while objective.drs was off (switched on at --resume, by hand in
        config.toml, or a `gankit drs` stopped before its checkpoint): the sampler stays unfitted,
        and the warning says so (sample, eval and the report would use G alone without a word)."""
        self.why = {"fit": "none"}       # no fit was made: unfitted_note has nothing to add
        return ("objective.drs is true but the checkpoint holds no rejection sampler (it was written "
                "while drs was off): samples, eval and the report come from G alone until one is fitted "
                "by gankit drs RUN (or at the last training step)")

    def forget(self):
        """Back to unfitted: a sampler fitted on an earlier D judges a G it was not fitted to."""
        self.M = torch.tensor(float("nan"))
        self.acceptance = torch.tensor(float("nan"))
        self.why = None

    def load_state_dict(self, state: dict):
        if "D" not in state:    # unfitted: {} says nothing of why (so do older gankit's checkpoints)
            ok = state.get("fit") in ("stopped", "failed") and all(isinstance(v, str) for v in state.values())
            self.why = dict(state) if ok else None
            return
        self.why = None
        for k in ("M", "acceptance"):
            if not isinstance(state.get(k), torch.Tensor) or state[k].numel() != 1:
                raise ValueError(f"the rejection sampler's {k} is not one number")
        self.D.load_state_dict(state["D"])
        self.D.eval()
        self.M, self.acceptance = state["M"].cpu(), state["acceptance"].cpu()


def unfitted_note(objective, step: int, steps: int, run_dir) -> str | None:
    """What a reader of a run with objective.drs on but no fitted sampler gets (sample, eval):
    G alone, said, as the option asks for the sampler.  Before the last step that is the design
    (the sampler is fitted there); at it, the fit was stopped or failed, as its checkpoint says."""
    rej = getattr(objective, "rejection", None)
    if rej is None or rej.ready:
        return None
    if step < steps:
        return (f"objective.drs is on but the rejection sampler is fitted at the last step ({steps}) and "
                f"this checkpoint is step {step}: samples and eval come from G alone")
    why = rej.why or {}
    if why.get("fit") == "none":        # start_fresh has said it
        return None
    if why.get("fit") == "failed":
        return (f"objective.drs is on but the rejection sampler's fit at the last step failed ({why.get('why')}): "
                f"samples and eval come from G alone{retry_advice(why.get('cause'), run_dir, rej.lr)}")
    cause = ("training stopped during the fit at its last step" if why.get("fit") == "stopped" else
             "its fit at the last step was stopped or failed")
    return (f"objective.drs is on but the rejection sampler was not fitted ({cause}): samples and eval "
            f"come from G alone until gankit drs {run_dir} fits it")


G_NONFINITE = ("G's samples are non-finite (NaN or inf): training diverged, and rejection sampling cannot "
               "mend that; train again with lower learning rates (--set optim_d.lr=... --set optim_g.lr=...), "
               "from the start or from an earlier checkpoint kept in checkpoints/")
D_NONFINITE = ("the trained D gives non-finite logits before any fine-tuning: training diverged, and "
               "rejection sampling cannot mend that; train again with lower learning rates "
               "(--set optim_d.lr=... --set optim_g.lr=...)")


class FitFailed(ValueError):
    """The fit gave no usable sampler.  ``cause``: "g" (G's samples are non-finite), "d" (the
    trained D's logits are) or "lr" (the fine-tuning diverged: a lower objective.drs_lr helps)."""

    def __init__(self, cause: str, message: str):
        super().__init__(message)
        self.cause = cause


def retry_advice(cause: str | None, run_dir, lr: float) -> str:
    """The command that can mend a failed fit (cause "lr": a lower objective.drs_lr), else ""."""
    if cause != "lr":
        return ""
    lower = 1e-4 if lr > 1e-4 else lr / 10      # 1e-4: objective.drs_lr's default
    return (f"; fit it with a lower learning rate: gankit drs {run_dir} --lr {lower:g} "
            f"(or fewer --steps)")


def fit_seed(seed: int) -> int:
    """The base seed of the fit's own streams for a run seeded ``seed``: a hash, far from every
    ``seed + offset`` of gankit.seeds (as seeds.rank_seed's are), so the fit shares no number
    with training or evaluation."""
    digest = hashlib.sha256(f"gankit-drs/{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 2      # < 2**62: room for the offsets


class FitStopped(Exception):
    """A signal asked training to stop while the rejection sampler was being fitted."""


def fit_objective(objective, step: int, log, stop: Callable[[], bool] | None = None) -> RejectionSampler:
    """Fits a GAN objective's rejection sampler on its current (final) G, logs the fit.

    The fit draws real samples, noise and D's dropout from streams of its own: a run's last
    step is not its end when ``--resume`` extends it, and the training streams checkpointed
    after the fit must be the ones a straight run would have continued with."""
    sampler, ctx = objective.rejection, objective.ctx
    s = fit_seed(ctx.cfg.seed)
    data_gen, noise_gen = seeds.generator(s, "data"), seeds.generator(s, "noise", ctx.device)
    real = lambda n: ctx.to_model(ctx.dataset.sample(n, data_gen).to(ctx.device))   # noqa: E731
    noise = lambda n: sample_noise(n, ctx.cfg.noise.dim, ctx.cfg.noise.dist, noise_gen, ctx.device)  # noqa: E731
    G = objective.G_eval or objective.G
    was = G.training
    G.eval()
    try:
        with seeds.forked(ctx.device):
            seeds.seed(ctx.device, s)
            sampler.fit(objective.D, G, real, noise, stop=stop)
    finally:
        G.train(was)
    log({"step": step, "kind": "drs", "drs_acceptance": float(sampler.acceptance),
         "drs_logit_quantile": float(sampler.M)})   # M: the objective.drs_quantile of the logits
    return sampler


def _fit_stop(trainer) -> Callable[[], bool]:
    """The fit's ``stop()``: in one process, whether a signal asked training to stop; with
    several, whether any process was asked, agreed every STOP_EVERY fit steps as the training
    loop does (each process fits the same number of steps, so all call it alike).  Stopping on
    one process alone left the other fitting, or waiting forever in a synced batch norm."""
    from gankit.train.loop import STOP_EVERY
    if trainer.agree_stop is None:
        return lambda: trainer.stop is not None
    calls = [0]

    def stop() -> bool:
        calls[0] += 1
        if calls[0] % STOP_EVERY:
            return False
        agreed = trainer.agree_stop(int(trainer.stop or 0))
        if agreed:
            trainer.stop = trainer.stop or agreed
        return bool(agreed)
    return stop


class FitAtEnd:
    """Callback: fits the rejection sampler at the last training step (before the final
    snapshot, evaluation and checkpoint, which then use it).  The fit is off the Run's
    training clock, like the final evaluation: the last record (written before it) and the
    checkpoint (after it) then hold the same training time, and a resume goes on from it."""

    def __init__(self, objective, last_step: int, log):
        self.objective, self.last_step, self.log = objective, last_step, log

    def on_train_start(self, trainer):
        # a --resume that raises train.steps: the sampler fitted at the old last step belongs to
        # that step's D, so until the new last step refits it, evaluations and snapshots come
        # from G alone, as in an unbroken run
        sampler = getattr(self.objective, "rejection", None)
        if sampler is not None and trainer.step < self.last_step:
            sampler.forget()       # also the reason an old last step's fit failed
        if sampler is not None and not sampler.ready and trainer.step == self.last_step:
            # a --resume of a run whose fit a signal stopped (no step is left to train): fit,
            # and have the Run's checkpointer keep it
            self.on_step_end(trainer)
            self.objective.unsaved_state = sampler.ready

    def on_step_end(self, trainer):
        if trainer.step == self.last_step:
            sampler = self.objective.rejection
            try:
                with self._off_the_clock():
                    fit_objective(self.objective, trainer.step, self.log, stop=_fit_stop(trainer))
            except FitStopped:        # the checkpoint of this step follows, without the sampler
                trainer.keep_stop = True
                sampler.why = {"fit": "stopped"}
                warnings.warn("rejection sampling not fitted: training was asked to stop while it was "
                              "fitted; gankit train --resume (or gankit drs RUN_DIR) fits it")
            except ValueError as e:   # the trained G is kept: its checkpoint (with the reason) follows
                cause = getattr(e, "cause", "")
                sampler.why = {"fit": "failed", "cause": cause, "why": str(e)}
                warnings.warn(f"rejection sampling not fitted ({e}); samples come from G directly"
                              f"{retry_advice(cause, self._run_dir(), sampler.lr)}")

    def _off_the_clock(self):
        """The Run's off_the_clock (``log`` is the Run's own method); no clock to stop elsewhere."""
        return getattr(getattr(self.log, "__self__", None), "off_the_clock", contextlib.nullcontext)()

    def _run_dir(self) -> str:
        """The run folder, for the advice: ``log`` is the Run's own method (RUN_DIR elsewhere)."""
        folder = getattr(getattr(self.log, "__self__", None), "folder", None)
        return str(folder.path) if folder is not None else "RUN_DIR"
