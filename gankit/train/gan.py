"""The GAN objective as phases for the loop: k D steps, then one G step.

Extension points (each a list of plain callables, empty by default):
- ``d_input``: transforms applied to every batch D sees, real and fake alike
  (instance noise, packing), called as ``t(x, step)``;
- ``d_penalties``: extra D terms ``p(D, real, fake, step) -> Tensor`` (gradient
  penalty, R1);
- ``g_penalties``: extra G terms ``p(D, real, fake, step) -> Tensor`` (feature
  matching).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from gankit.components import OBJECTIVES
from gankit.config import opt
from gankit.train.loop import Phase, StepContext


class GANObjective:
    def __init__(self, G: nn.Module, D: nn.Module, loss, sample_real: Callable[[int], Tensor],
                 sample_noise: Callable[[int], Tensor], batch_size: int, reuse_fake: bool = True):
        self.G, self.D, self.loss = G, D, loss
        self.sample_real, self.sample_noise = sample_real, sample_noise
        self.m = batch_size
        self.reuse_fake = reuse_fake
        self.d_input: list[Callable[[Tensor, int], Tensor]] = []
        self.d_penalties: list[Callable[..., Tensor]] = []
        self.g_penalties: list[Callable[..., Tensor]] = []

    def generate(self, z: Tensor) -> Tensor:
        """Samples for evaluation and snapshots (G in eval mode is set by the caller)."""
        return self.G(z)

    def extra_state(self) -> dict:
        """Objective state beyond G, D and their optimizers (none for the plain GAN)."""
        return {}

    def load_extra_state(self, state: dict):
        pass

    def callbacks(self) -> list:
        return []

    def d_view(self, x: Tensor, step: int) -> Tensor:
        for t in self.d_input:
            x = t(x, step)
        return x

    def _probs(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits) if self.loss.probabilistic else logits

    def d_phase(self, ctx: StepContext):
        real = self.sample_real(self.m)
        z = self.sample_noise(self.m)
        if self.reuse_fake:
            fake_g = self.G(z)            # kept with its graph for the G step
            ctx.scratch["fake"] = fake_g
            fake = fake_g.detach()
        else:
            with torch.no_grad():
                fake = self.G(z)
        real_in, fake_in = self.d_view(real, ctx.step), self.d_view(fake, ctx.step)
        lr, lf = self.D(real_in), self.D(fake_in)
        loss = self.loss.d_loss(lr, lf)
        for pen in self.d_penalties:
            loss = loss + pen(self.D, real_in, fake_in, ctx.step)
        ctx.scratch["real"] = real
        logs = {}
        if ctx.logging:
            with torch.no_grad():
                key = "d_real" if self.loss.probabilistic else "critic_real"
                logs[key] = self._probs(lr).mean()
                logs[key.replace("real", "fake")] = self._probs(lf).mean()
                logs["d_acc_real"] = (lr > 0).float().mean() if self.loss.probabilistic else None
                logs["d_acc_fake"] = (lf < 0).float().mean() if self.loss.probabilistic else None
                if not self.loss.probabilistic:
                    logs["wasserstein_estimate"] = lr.mean() - lf.mean()
            logs = {k: v for k, v in logs.items() if v is not None}
        return loss, logs

    def g_phase(self, ctx: StepContext):
        fake = ctx.scratch.pop("fake", None) if self.reuse_fake else None
        if fake is None:
            fake = self.G(self.sample_noise(self.m))
        lf = self.D(self.d_view(fake, ctx.step))
        loss = self.loss.g_loss(lf)
        for pen in self.g_penalties:
            loss = loss + pen(self.D, ctx.scratch.get("real"), fake, ctx.step)
        return loss, {}

    def build_phases(self) -> list[Phase]:
        """The phases for the run's optimizers and k (set by the factory)."""
        return self.phases(*self.optimizers, self.d_steps)

    def phases(self, opt_d, opt_g, d_steps: Callable[[int], int] | int = 1,
               d_after: list | None = None, g_after: list | None = None) -> list[Phase]:
        k = d_steps if callable(d_steps) else (lambda step, k=d_steps: k)
        # with k > 1 (or a schedule) only the last D step's fake could be reused: draw afresh
        if callable(d_steps) or d_steps > 1:
            self.reuse_fake = False
        return [Phase("d", opt_d, self.d_phase, k, list(d_after or []),
                      [p for p in self.D.parameters()]),
                Phase("g", opt_g, self.g_phase, lambda step: 1, list(g_after or []),
                      [p for p in self.G.parameters()])]


@dataclass
class GANParams:
    reuse_fake: bool = opt(True, "reuse the D step's G(z) for the G step when k = 1 (one G forward "
                                 "per iteration instead of two)")


@OBJECTIVES.register("gan", GANParams, "Algorithm 1: k D steps then one G step on G(z)")
def gan_objective(run, reuse_fake):
    obj = GANObjective(run.G, run.D, run.loss, run.sample_real, run.sample_z,
                       run.cfg.train.batch_size, reuse_fake=reuse_fake)
    obj.optimizers = (run.opt_d, run.opt_g)
    obj.d_steps = run.cfg.train.d_steps
    return obj
