"""Discriminator only: an energy model trained by contrastive divergence (Du & Mordatch 2019).

The configured discriminator's logit is the negative energy, E(x) = -D(x), of the model
p(x) ~ exp(-E(x)).  Negatives come from short Langevin chains

    x <- clamp(x - a grad_x E(x) + s eta),  eta ~ N(0, I)

(s = sqrt(2 a) is exact Langevin; Du & Mordatch take a large step and a small s, and clip
the gradient), started from a replay buffer of past chains (a fraction restarts from
uniform noise).  D's loss is contrastive divergence plus their energy regulariser:

    L = E E(x+) - E E(x-) + alpha (E E(x+)^2 + E E(x-)^2)

The generator is the sampler: ``generate(z)`` starts chains from the noise z (mapped to a
uniform over the data's box; noise.dim must be the data's dimension) and runs Langevin
for ``sample_steps``.  Each chain's noise is seeded by its own start, so a fixed z gives a fixed
sample, however many are drawn with it.
The replay buffer is objective state and travels in checkpoints: the chains written so far, and
for the rest, still the uniform noise they started as, the state of the generator that drew it.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from gankit.config import ConfigError, opt
from gankit.losses.penalties import apply_spectral_norm
from gankit.process_state import gradients_on
from gankit.registry import OBJECTIVES
from gankit.train.inversion import _ordinary
from gankit.train.loop import Phase
from gankit.train.objective import (Objective, ObjectiveContext, OptimizerSpec, WarnAtTrainStart, no_d_steps, no_text,
                                    warn_unread)

BUFFER_NOTE_BYTES = 200e6     # a replay buffer above this is said at training start


def langevin(energy: Callable[[Tensor], Tensor], x: Tensor, steps: int, step_size: float,
             noise_std: float = 0.0, grad_clamp: float = 0.0, bounds: tuple[Tensor, Tensor] | None = None,
             generator: torch.Generator | None = None, noise: Callable[[], Tensor] | None = None) -> Tensor:
    """``steps`` Langevin updates of x under exp(-energy); noise_std 0 means sqrt(2 a).  Each
    step's standard normal noise comes from ``noise()`` when given, else from ``generator``.
    Gradients flow also under a caller's torch.no_grad or torch.inference_mode (sampling code
    often runs under one); a start made under inference mode is copied out of it."""
    s = noise_std if noise_std > 0 else math.sqrt(2 * step_size)
    with gradients_on():
        x = _ordinary(x)
        for _ in range(steps):
            x = x.detach().requires_grad_(True)
            g, = torch.autograd.grad(energy(x).sum(), x)
            if grad_clamp > 0:
                g = g.clamp(-grad_clamp, grad_clamp)
            eta = noise() if noise is not None else \
                torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            # detached: the clamp must not keep for backward bounds made under inference mode
            x = x.detach() - step_size * g + s * eta
            if bounds is not None:
                x = torch.maximum(torch.minimum(x, bounds[1]), bounds[0])
    return x.detach()


def _global_state(device: torch.device) -> Tensor:
    """The state of the global generator that draws on ``device`` (torch.rand's)."""
    from gankit.seeds import device_state
    state = device_state(device)
    return torch.get_rng_state() if state is None else state


class ReplayBuffer:
    """Past chain ends; ``draw(n)`` restarts a share ``reinit`` from uniform noise.

    The chains start as uniform noise from the device's global generator (the run's stream, as
    ever); a checkpoint keeps that generator's state then, which chains were written since and
    their values, so untouched chains cost nothing there (the whole buffer of 10,000 chains of
    64x64 RGB is 490 MB)."""

    def __init__(self, size: int, lo: Tensor, hi: Tensor, reinit: float):
        self.lo, self.hi, self.reinit = lo, hi, reinit
        # the noise drawn next is the chains' start: its generator's state rebuilds them
        self.start: Tensor | None = _global_state(lo.device)
        self.start_device, self.start_size = lo.device.type, size
        self.x = self.uniform(size)
        self.written = torch.zeros(size, dtype=torch.bool, device=lo.device)
        self.idx: Tensor | None = None
        self.unstarted = 0       # the last chains, added on a --resume that grew the buffer: see draw

    def uniform(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.lo + (self.hi - self.lo) * torch.rand(n, *self.lo.shape, device=self.lo.device,
                                                          generator=generator)

    def draw(self, n: int) -> Tensor:
        if self.unstarted:   # drawn here, from the run's stream: at load it is not restored yet
            self.x[len(self.x) - self.unstarted:] = self.uniform(self.unstarted)
            self.unstarted = 0
        self.idx = torch.randint(0, len(self.x), (n,), device=self.x.device)
        x = self.x[self.idx].clone()
        fresh = torch.rand(n, device=x.device) < self.reinit
        x[fresh] = self.uniform(int(fresh.sum()))
        return x

    def put_back(self, x: Tensor):
        self.x[self.idx] = x.detach()
        self.written[self.idx] = True

    def state_dict(self) -> dict:
        kept = len(self.x) - self.unstarted     # chains not started yet are added again on load
        if self.start is None:       # loaded from a checkpoint that held every chain: so does this one
            return {"x": self.x[:kept].cpu()}
        written = self.written[:kept]
        return {"start": self.start.cpu(), "start_device": self.start_device, "start_size": self.start_size,
                "written": written.cpu(), "x": self.x[:kept][written].cpu()}

    def _started(self, state: dict) -> tuple[Tensor, Tensor]:
        """The chains of a checkpoint that keeps their start: its noise, the written ones over it."""
        self.start, self.start_device = state["start"], state["start_device"]
        self.start_size, written = int(state["start_size"]), state["written"].to(self.lo.device)
        gen = torch.Generator(device=self.lo.device)
        if self.start_device == self.lo.device.type:
            gen.set_state(self.start)
        else:   # another kind of device's generator cannot be replayed here: noise of the same law,
            # from a generator of this device that later checkpoints name as the start
            import hashlib
            gen.manual_seed(int.from_bytes(hashlib.sha1(self.start.numpy().tobytes()).digest()[:7], "little"))
            self.start, self.start_device = gen.get_state(), self.lo.device.type
        x = self.uniform(self.start_size, gen)
        if len(written) > self.start_size:     # chains added when objective.buffer_size grew: all written
            x = torch.cat([x, x.new_zeros((len(written) - self.start_size, *x.shape[1:]))])
        x = x[:len(written)]
        x[written] = state["x"].to(x)
        return x, written

    def load_state_dict(self, state: dict):
        n = len(self.x)
        if "start" in state:
            x, written = self._started(state)
        else:   # a checkpoint from before the start was kept: every chain as it holds them
            x = state["x"].to(self.lo.device)
            written = torch.ones(len(x), dtype=torch.bool, device=x.device)
            self.start = None
        self.unstarted = 0
        if len(x) != n:   # objective.buffer_size changed on --resume: the configured size holds
            import warnings
            warnings.warn(f"objective.buffer_size is {n}, the checkpoint's replay buffer holds {len(x)} "
                          f"chains: keeping {min(n, len(x))} of them"
                          + (f", {n - len(x)} new ones from uniform noise" if n > len(x) else ""), stacklevel=2)
            if len(x) > n:
                x, written = x[:n], written[:n]
            else:   # from the run's stream, at the first draw (the start's generator cannot rebuild them)
                self.unstarted = n - len(x)
                x = torch.cat([x, x.new_zeros((self.unstarted, *x.shape[1:]))])
                written = torch.cat([written, torch.ones(n - len(written), dtype=torch.bool, device=x.device)])
        self.x, self.written = x, written


def _seed_of(z: Tensor) -> int:
    """A seed determined by a chain's start (fixed z -> fixed Langevin noise)."""
    return int.from_bytes(hashlib.sha1(z.detach().cpu().numpy().tobytes()).digest()[:7], "little")


class ChainNoise:
    """Each chain's own Gaussian stream, seeded by its start z: a chain's noise, so its sample,
    does not depend on the chains drawn beside it (how many samples were asked for, in what
    chunks).  Drawn a block of steps at a time, the block fixed by the chain's size alone
    (torch draws a tensor of 16 or more normals another way than a smaller one, so the block
    must not follow the number of chains)."""

    BLOCK_NUMBERS = 4096      # normals a chain draws at once

    def __init__(self, z: Tensor, shape: tuple, dtype: torch.dtype, steps: int):
        self.shape, self.dtype, self.device = shape, dtype, z.device
        self.d = math.prod(shape)
        self.block = max(1, min(steps, self.BLOCK_NUMBERS // self.d))
        self.gens = [torch.Generator().manual_seed(_seed_of(row)) for row in z.detach().cpu()]
        self.buf, self.at = None, 0

    def __call__(self) -> Tensor:
        if self.buf is None or self.at == len(self.buf):
            # one copy to the device a block, not one a step
            self.buf = torch.stack([torch.randn(self.block, self.d, generator=g) for g in self.gens], 1) \
                .to(self.device, self.dtype)
            self.at = 0
        eta = self.buf[self.at].reshape(len(self.gens), *self.shape)
        self.at += 1
        return eta


class EnergyObjective(Objective):
    nan_hint = ("Try a lower learning rate (--set optim_d.lr=...), a smaller Langevin step "
                "(objective.step_size) or a larger energy penalty (objective.alpha).")
    sample_module = "D"
    score_name = "-E(x)"         # a log density up to a constant, whatever loss.name says
    has_latent = False           # samples come from Langevin chains: no code to invert

    def __init__(self, ctx: ObjectiveContext, p: "EBMParams"):
        super().__init__()
        no_text(ctx.dataset, "ebm")
        cfg, ds = ctx.cfg, ctx.dataset
        if cfg.condition.kind != "none":
            raise ConfigError("objective ebm: conditional runs are not supported; set condition.kind=none")
        no_d_steps(cfg, "ebm")
        warn_unread(self, cfg, "ebm", ebm_unread(cfg))
        self.ctx, self.p, self.m = ctx, p, cfg.train.batch_size
        self.shape = tuple(ds.shape)
        if cfg.noise.dim != math.prod(self.shape):
            raise ConfigError(f"objective ebm: Langevin chains start from the noise z, so noise.dim must "
                              f"be the data's dimension: set noise.dim={math.prod(self.shape)}")
        full = p.buffer_size * math.prod(self.shape) * 4
        if full > BUFFER_NOTE_BYTES:
            self.callbacks.append(WarnAtTrainStart(
                f"objective ebm: the replay buffer's {p.buffer_size:,} chains of {'x'.join(map(str, self.shape))} "
                f"(objective.buffer_size) take {full / 1e6:,.0f} MB in memory, and in each checkpoint once "
                f"training has written them (95% after {3 * p.buffer_size // self.m:,} steps); a smaller "
                f"objective.buffer_size shrinks both"))
        self.D = ctx.build_discriminator()
        if p.spectral_norm:
            apply_spectral_norm(self.D)
        self.modules = {"D": self.D}
        self.optimizers = {"d": OptimizerSpec(["D"], cfg.optim_d)}
        lo, hi = (ctx.to_model(b.reshape(1, -1).float()).reshape(self.shape) for b in ds.bounds())
        self._box = (lo, hi)             # in the nets' units (data.standardize), as the chains are
        self.dist = cfg.noise.dist
        self.buffer = None

    def energy(self, x: Tensor) -> Tensor:
        return -self.D(x)

    def _bounds(self, device):
        return tuple(b.to(device) for b in self._box)

    def setup(self, optimizers):
        p = self.p
        lo, hi = self._bounds(self.ctx.device)
        self.buffer = ReplayBuffer(p.buffer_size, lo, hi, p.reinit)
        self.state = {"replay": self.buffer}

        def d_step(c):
            real = self.ctx.sample_batch(self.m).x
            neg = langevin(self.energy, self.buffer.draw(self.m), p.langevin_steps, p.step_size,
                           p.noise_std, p.grad_clamp, (lo, hi))
            self.buffer.put_back(neg)
            e_pos, e_neg = self.energy(real), self.energy(neg)
            loss = e_pos.mean() - e_neg.mean() + p.alpha * ((e_pos ** 2).mean() + (e_neg ** 2).mean())
            logs = {}
            if c.logging:
                logs = {"energy_real": e_pos.mean().detach(), "energy_negative": e_neg.mean().detach()}
            return loss, logs
        self.phases = [Phase("d", optimizers["d"], d_step)]

    def generate(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """Langevin chains from the noise z, mapped onto the data's box."""
        lo, hi = self._bounds(z.device)
        u = 0.5 * (1 + torch.erf(z / math.sqrt(2))) if self.dist == "normal" else (z + 1) / 2
        x0 = lo + (hi - lo) * u.reshape(len(z), *self.shape)
        p = self.p
        noise = ChainNoise(z, self.shape, x0.dtype, p.sample_steps)
        return langevin(self.energy, x0, p.sample_steps, p.step_size, p.noise_std, p.grad_clamp,
                        (lo, hi), noise=noise)

    def d_score(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """-E(x): the log of the unnormalised density (the report's heat map)."""
        return self.D(x)


@dataclass
class EBMParams:
    langevin_steps: int = opt(20, "Langevin steps per training iteration (from the replay buffer)", ge=1)
    sample_steps: int = opt(100, "Langevin steps of a sample drawn from noise", ge=1)
    step_size: float = opt(10.0, "a: the step along -grad E (Du & Mordatch: 10 with clipping)", gt=0.0)
    noise_std: float = opt(0.005, "std of each step's Gaussian noise (0: sqrt(2 a), exact Langevin)",
                           ge=0.0)
    grad_clamp: float = opt(0.01, "clamp each coordinate of grad E to [-c, c] (0 = off)", ge=0.0)
    alpha: float = opt(1.0, "weight of the energy regulariser E(x+)^2 + E(x-)^2", ge=0.0)
    buffer_size: int = opt(10000, "chains kept in the replay buffer", ge=1)
    reinit: float = opt(0.05, "share of chains restarted from uniform noise each iteration", ge=0.0, le=1.0)
    spectral_norm: bool = opt(True, "spectral normalisation of D's layers (smooth energies)")


def ebm_unread(cfg) -> dict[str, str]:
    """The config sections the energy model never reads (``objective.unread``)."""
    return {"loss": "its energy net trains by contrastive divergence",
            "optim_g": "it has no G: Langevin chains sample", "generator": "it has no G: Langevin chains sample"}


@OBJECTIVES.register("ebm", EBMParams, "energy model: contrastive divergence, Langevin, replay buffer")
def ebm_objective(ctx: ObjectiveContext, **kw) -> EnergyObjective:
    return EnergyObjective(ctx, EBMParams(**kw))


ebm_objective.unread = ebm_unread
