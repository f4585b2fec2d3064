"""InfoGAN (Chen et al. 2016): a GAN whose G input holds codes it must keep readable.

G's input of noise.dim numbers is [z, one-hot c_cat (K), c_cont (C)]; the codes are read
off the run's noise, so samples stay a function of z: c_cat = argmax of K noise
coordinates (uniform over the K classes), c_cont = C noise coordinates.  A head Q on D's
features predicts the codes; the mutual-information term is its variational lower bound

    L_I = CE(Q_cat(G(z, c)), c_cat) + w_cont * 1/2 ||Q_cont(G(z, c)) - c_cont||^2

(a unit-variance Gaussian for the continuous codes, constants dropped), added with
weight lambda to D's loss (training D's trunk and Q, on detached fakes) and to G's.
``classify`` gives Q's categorical logits on real images: the ``classify`` metric's
``cluster_accuracy`` is the code's accuracy against the true class after the best
matching of codes to classes (``cluster_purity``, many-to-one, where the counts differ).
"""
from __future__ import annotations


from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import ConfigError, opt
from gankit.registry import OBJECTIVES
from gankit.train.loop import Phase
from gankit.train.objective import (Objective, ObjectiveContext, OptimizerSpec, WarnAtTrainStart, absolute_loss,
                                    d_repeat, no_text, warn_unconstrained_critic)


class InfoGANObjective(Objective):
    supports_bf16 = True

    def __init__(self, ctx: ObjectiveContext, p: "InfoGANParams"):
        super().__init__()
        cfg = ctx.cfg
        no_text(ctx.dataset, "infogan")
        if cfg.condition.kind != "none":
            raise ConfigError("objective infogan: the codes replace a condition; set condition.kind=none")
        self.n_free = cfg.noise.dim - p.categories - p.continuous
        if self.n_free < 1:
            raise ConfigError(f"objective infogan: noise.dim={cfg.noise.dim} must exceed categories + "
                              f"continuous = {p.categories + p.continuous} (the rest is the free noise): "
                              f"set noise.dim={p.categories + p.continuous + 1} or more, or fewer codes")
        self.ctx, self.p, self.loss, self.m = ctx, p, absolute_loss(ctx.loss, "infogan"), cfg.train.batch_size
        classes = getattr(ctx.dataset, "n_classes", None)
        if classes and classes != p.categories:
            self.callbacks.append(WarnAtTrainStart(
                f"objective infogan: the categorical code has {p.categories} values (objective.categories) "
                f"but the data has {classes} classes, so the code cannot match them one to one: classify "
                f"reports cluster_purity (each value read as the class it holds most of), not "
                f"cluster_accuracy; set objective.categories={classes} to give each class a value"))
        warn_unconstrained_critic(self, self.loss, "infogan")
        self.G, self.D = ctx.build_nets()
        if not hasattr(self.D, "features") or not hasattr(self.D, "feature_dim"):
            raise ConfigError(f"objective infogan: Q reads D's features; {type(self.D).__name__} has none")
        self.Q = nn.Sequential(nn.Linear(self.D.feature_dim, p.q_hidden),
                               *([nn.BatchNorm1d(p.q_hidden)] if p.q_batchnorm else []), nn.LeakyReLU(0.2),
                               nn.Linear(p.q_hidden, p.categories + p.continuous))
        self.modules = {"G": self.G, "D": self.D, "Q": self.Q}
        self.batchnorm_off = {"Q": "objective.q_batchnorm=false"}   # Run's batch-of-one message
        self.optimizers = {"d": OptimizerSpec(["D", "Q"], cfg.optim_d), "g": OptimizerSpec(["G"], cfg.optim_g)}

    # ---------------------------------------------------------------- codes
    def codes(self, z: Tensor) -> tuple[Tensor, Tensor]:
        k = self.p.categories
        return z[:, self.n_free:self.n_free + k].argmax(1), z[:, self.n_free + k:]

    def latent(self, z: Tensor) -> Tensor:
        cat, cont = self.codes(z)
        return torch.cat([z[:, :self.n_free], F.one_hot(cat, self.p.categories).to(z.dtype), cont], 1)

    def info_loss(self, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """(L_I, accuracy of Q's categorical guess) for images x generated from noise z."""
        cat, cont = self.codes(z)
        q = self.Q(self.D.features(x))
        k = self.p.categories
        loss = F.cross_entropy(q[:, :k], cat)
        if self.p.continuous:
            loss = loss + self.p.continuous_weight * 0.5 * ((q[:, k:] - cont) ** 2).sum(1).mean()
        return loss, (q[:, :k].argmax(1) == cat).float().mean()

    def generate(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return self.G(self.latent(z))

    def inversion_starts(self, z0: Tensor) -> list[tuple[Tensor, Tensor | None]]:
        """The category is an argmax: no gradient reaches it, so inversion tries each value
        with it held (K times the work) and keeps the best."""
        k, at = self.p.categories, self.n_free
        free = torch.ones_like(z0[:1])
        free[:, at:at + k] = 0
        starts = []
        for c in range(k):
            z = z0.clone()
            z[:, at:at + k] = 0
            z[:, at + c] = 1
            starts.append((z, free))
        return starts

    classes_named = False       # the code's index is not a class: only cluster accuracy means something

    def classify(self, x: Tensor) -> Tensor:
        return self.Q(self.D.features(x))[:, :self.p.categories]

    def d_score(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self.D(x)

    # ---------------------------------------------------------------- phases
    def setup(self, optimizers):
        lam = self.p.info_weight

        def d_step(c):
            real, z = self.ctx.sample_batch(self.m).x, self.ctx.sample_z(self.m)
            with torch.no_grad():
                fake = self.G(self.latent(z))
            lr, lf = self.D(real), self.D(fake)
            info, acc = self.info_loss(fake, z)
            logs = {}
            if c.logging:
                logs = {"info_loss": info.detach(), "code_acc_fake": acc.detach()}
                if self.loss.probabilistic:
                    logs.update(d_real=torch.sigmoid(lr).mean().detach(), d_fake=torch.sigmoid(lf).mean().detach())
            return self.loss.d_loss(lr, lf) + lam * info, logs

        def g_step(c):
            z = self.ctx.sample_z(self.m)
            fake = self.G(self.latent(z))
            info, _ = self.info_loss(fake, z)
            return self.loss.g_loss(self.D(fake)) + lam * info, {}
        self.phases = [Phase("d", optimizers["d"], d_step, d_repeat(self.ctx.cfg)), Phase("g", optimizers["g"], g_step)]


@dataclass
class InfoGANParams:
    categories: int = opt(10, "K: values of the categorical code", ge=2)
    continuous: int = opt(2, "C: continuous codes", ge=0)
    info_weight: float = opt(1.0, "lambda: weight of the mutual-information term", ge=0.0)
    continuous_weight: float = opt(0.1, "weight of the continuous codes within the term", ge=0.0)
    q_hidden: int = opt(128, "hidden units of the Q head on D's features", ge=1)
    q_batchnorm: bool = opt(False, "batch norm on Q's hidden layer (Chen et al.'s MNIST Q: fc 128, batch norm, "
                                   "leaky ReLU)")


@OBJECTIVES.register("infogan", InfoGANParams, "InfoGAN: categorical + continuous codes, Q head on D")
def infogan_objective(ctx: ObjectiveContext, **kw) -> InfoGANObjective:
    return InfoGANObjective(ctx, InfoGANParams(**kw))
