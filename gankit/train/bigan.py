"""Learned inference: BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017).

Three modules: the generator G (z -> x), an encoder E (x -> z) and a discriminator D on
pairs.  D separates (x, E(x)) from (G(z), z); G and E, trained together, try to make
the two joint distributions equal, at whose optimum E inverts G:

    D:     loss.d_loss(D(x, E(x)), D(G(z), z))
    G, E:  loss.g_loss(D(G(z), z)) + loss.g_loss_swapped(D(x, E(x)))   (the labels swapped:
           g_loss(-D) for losses symmetric about 0, LSGAN's toward its fake label 0)

E is the configured discriminator's trunk with a linear read-out to noise.dim numbers
(deterministic, as in BiGAN); D's x branch is another such trunk, its z branch an MLP.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gankit.config import ConfigError, opt
from gankit.registry import OBJECTIVES
from gankit.train.loop import Phase
from gankit.train.objective import (Objective, ObjectiveContext, OptimizerSpec, absolute_loss, d_repeat,
                                    no_text, warn_unconstrained_critic)
from gankit.train.parts import FeatureHead, JointD, feature_body


class BiGANObjective(Objective):
    supports_bf16 = True

    def __init__(self, ctx: ObjectiveContext, z_hidden: list[int], dropout: float):
        super().__init__()
        cfg = ctx.cfg
        no_text(ctx.dataset, "bigan")
        if cfg.condition.kind != "none":
            raise ConfigError("objective bigan: conditional runs are not supported; set condition.kind=none")
        if not z_hidden:
            raise ConfigError("objective.z_hidden: give D's z branch at least one layer")
        self.ctx, self.loss, self.m = ctx, absolute_loss(ctx.loss, "bigan"), cfg.train.batch_size
        warn_unconstrained_critic(self, self.loss, "bigan")
        self.G = ctx.build_net("generators", cfg.generator, noise_dim=cfg.noise.dim)
        self.E = FeatureHead(feature_body(ctx), cfg.noise.dim)
        self.D = JointD(feature_body(ctx), cfg.noise.dim, list(z_hidden), dropout)
        self.modules = {"G": self.G, "E": self.E, "D": self.D}
        self.optimizers = {"d": OptimizerSpec(["D"], cfg.optim_d), "g": OptimizerSpec(["G", "E"], cfg.optim_g)}

    def encode(self, x: Tensor) -> Tensor:
        return self.E(x)

    @torch.no_grad()
    def measured_codes(self, x: Tensor) -> Tensor:
        """E(x) of samples x (data units) on the CPU, in eval mode: the code_nn metric's features."""
        from gankit.train.inversion import eval_mode
        with eval_mode(self.modules):
            return self.E(self.ctx.to_model(x.to(self.ctx.device))).float().cpu()

    def setup(self, optimizers):
        def d_step(c):
            x, z = self.ctx.sample_batch(self.m).x, self.ctx.sample_z(self.m)
            with torch.no_grad():
                gz, ex = self.G(z), self.E(x)
            real, fake = self.D(x, ex), self.D(gz, z)
            logs = {}
            if c.logging and self.loss.probabilistic:
                logs = {"d_real": torch.sigmoid(real).mean().detach(),
                        "d_fake": torch.sigmoid(fake).mean().detach()}
            return self.loss.d_loss(real, fake), logs

        def ge_step(c):
            x, z = self.ctx.sample_batch(self.m).x, self.ctx.sample_z(self.m)
            return self.loss.g_loss(self.D(self.G(z), z)) + self.loss.g_loss_swapped(self.D(x, self.E(x))), {}
        self.phases = [Phase("d", optimizers["d"], d_step, d_repeat(self.ctx.cfg)), Phase("g", optimizers["g"], ge_step)]


@dataclass
class BiGANParams:
    z_hidden: list[int] = opt([256], "widths of D's z branch (and of its joint layer: the last width)")
    dropout: float = opt(0.2, "dropout in D's z branch and joint layers", ge=0.0, le=0.9)


@OBJECTIVES.register("bigan", BiGANParams, "BiGAN/ALI: G, an encoder E, D on (x, z) pairs")
def bigan_objective(ctx: ObjectiveContext, **kw) -> BiGANObjective:
    return BiGANObjective(ctx, **kw)
