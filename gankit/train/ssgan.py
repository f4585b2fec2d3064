"""Semi-supervised GAN (Salimans et al. 2016, section 5).

D is a K-class classifier with logits l_1..l_K; the class "fake" (K + 1) gets the fixed
logit 0, so p(fake | x) = 1 / (Z + 1) with Z = sum_k exp l_k, and D(x) = Z / (Z + 1) =
sigmoid(logsumexp l).  D's loss on n labelled images per class plus all images unlabelled:

    L_sup   = -E_(x,y) log p(y | x, y <= K)          (cross-entropy on the K logits)
    L_unsup = -E_x log D(x) - E_z log(1 - D(G(z)))   = softplus(-lse l(x)) + softplus(lse l(G(z)))

so without labels the K + 1 loss is exactly the GAN's (tests/test_families.py checks it).
G uses feature matching on D's last hidden layer, ||E f(x) - E f(G(z))||^2.  Salimans et
al.'s D also has Gaussian noise on every layer's input (``input_noise`` on the image,
``hidden_noise`` before every later linear or conv layer and the read-out, only while
training) and weight normalisation with a data-dependent initialisation (``weight_norm``).
With
``adversarial = false`` only L_sup trains D: the same classifier on the labels alone, the
baseline the semi-supervised accuracy is compared with.  ``classify`` gives D's K logits to
the ``classify`` metric (held-out accuracy).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit import seeds
from gankit.config import ConfigError, opt
from gankit.data.base import spread_rows
from gankit.train.remedies import feature_matching
from gankit.registry import OBJECTIVES
from gankit.train.loop import Phase
from gankit.train.objective import (Objective, ObjectiveContext, OptimizerSpec, WarnAtTrainStart, d_repeat,
                                    no_d_steps, no_text, warn_unread)
from gankit.train.parts import (FeatureHead, add_layer_noise, feature_body, need_images_with_labels,
                                weight_norm_init)


def ssgan_d_loss(real: Tensor, fake: Tensor, labelled: Tensor | None = None, labels: Tensor | None = None,
                 unsup_weight: float = 1.0) -> tuple[Tensor, Tensor, Tensor]:
    """(loss, L_sup, L_unsup) from K-class logits of unlabelled real, fake and labelled images."""
    unsup = F.softplus(-torch.logsumexp(real, 1)).mean() + F.softplus(torch.logsumexp(fake, 1)).mean()
    sup = F.cross_entropy(labelled, labels) if labels is not None else torch.zeros((), device=real.device)
    return sup + unsup_weight * unsup, sup, unsup


def labelled_subset(labels: Tensor, per_class: int, seed: int) -> Tensor:
    """Indices of ``per_class`` images of each class (all of a class that has fewer), drawn
    with the run's "labels" stream."""
    g = seeds.generator(seed, "labels")
    perm = torch.randperm(len(labels), generator=g)
    keep = [perm[labels[perm] == k][:per_class] for k in range(int(labels.max()) + 1)]
    return torch.cat(keep).sort().values


def _warn_untrained_classes(ds, counts: Tensor):
    """A class with no training image gets no labelled image: D cannot learn it, while its
    held-out images still count in test_accuracy."""
    empty = [k for k in range(len(counts)) if counts[k] == 0]
    if not empty:
        return
    names = getattr(ds, "class_names", None) or list(range(len(counts)))
    held = ds.split_labels("heldout")
    n_held = 0 if held is None else int(sum((held == k).sum() for k in empty))
    many = len(empty) > 1
    them = "them" if many else "it"
    if n_held:
        what = (f"{n_held} held-out image{'s' * (n_held != 1)} of {them} still count{'s' * (n_held == 1)} in "
                f"test_accuracy as {'almost certain misses' if n_held > 1 else 'an almost certain miss'}")
    else:
        what = f"test_accuracy is not affected (no held-out image of {them} either)"
    warnings.warn(f"objective ssgan: class{'es' * many} {', '.join(repr(names[k]) for k in empty)} "
                  f"{'have' if many else 'has'} no training images, so none is labelled and D never learns "
                  f"{them}; {what}: give every class enough images that some are left "
                  "for training", stacklevel=3)


class SemiSupervisedGAN(Objective):
    def __init__(self, ctx: ObjectiveContext, p: "SSGANParams"):
        super().__init__()
        cfg, ds = ctx.cfg, ctx.dataset
        no_text(ds, "ssgan")
        if cfg.condition.kind != "none":
            raise ConfigError("objective ssgan: the classes are learned, not given to G; set "
                              "condition.kind=none")
        need_images_with_labels(ds, "ssgan")
        if not p.adversarial:
            no_d_steps(cfg, "ssgan with objective.adversarial=false")
        self.ctx, self.p, self.m = ctx, p, cfg.train.batch_size
        warn_unread(self, cfg, "ssgan", ssgan_unread(cfg))
        self.K = ds.n_classes
        if self.K < 2:
            names = getattr(ds, "class_names", None)
            raise ConfigError(f"objective ssgan: the data have {self.K} class{'' if self.K == 1 else 'es'}"
                              f"{f' ({names[0]!r})' if names else ''}; a classifier needs at least 2: give "
                              "the image folder one sub-folder per class (2 or more), or train the "
                              "unlabelled images with the gan objective")
        labels = ds.split_labels("train")
        idx = labelled_subset(labels, p.labels_per_class, cfg.seed)
        counts = torch.bincount(labels, minlength=self.K)
        _warn_untrained_classes(ds, counts)
        smallest = int(counts[counts > 0].min())
        # about training (not said when the run is opened to sample); a labels-only run learns
        # nothing from unlabelled images, so labelling them all takes nothing from it
        if p.adversarial and p.labels_per_class >= smallest:
            where = "every training image is" if len(idx) == len(labels) else \
                "in some classes every training image is"
            self.callbacks.append(WarnAtTrainStart(
                f"objective ssgan: labels_per_class={p.labels_per_class} is not below the smallest class's "
                f"{smallest} training images: {where} labelled and none is left to learn from unlabelled "
                "(semi-supervised learning needs fewer labels per class)"))
        self.x_lab = ds.split("train")[idx].to(ctx.device)
        self.y_lab = ds.split_labels("train")[idx].to(ctx.device)
        self.G = ctx.build_net("generators", cfg.generator, noise_dim=cfg.noise.dim)
        self.D = FeatureHead(feature_body(ctx), self.K)
        if p.hidden_noise > 0:
            add_layer_noise(self.D, p.hidden_noise, skip_first=True)
        if p.weight_norm:
            # deterministic: 500 training images by a fixed permutation, no stream of the run consumed
            weight_norm_init(self.D, spread_rows(ds.split("train"), 500))   # every class, also from a sorted file
        # G is declared whatever p.adversarial is (checkpoints keep the same modules), but without
        # the adversarial phase it keeps its initial weights: nothing may sample it as a model
        self.modules = {"G": self.G, "D": self.D}
        self.optimizers = {"d": OptimizerSpec(["D"], cfg.optim_d), "g": OptimizerSpec(["G"], cfg.optim_g)}
        if not p.adversarial:
            self.no_generator = NO_GENERATOR
            self.callbacks.append(_Training(self))
        self._training = False

    def generate(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """G(z); refused for a labels-only run (gankit sample, invert, complete) except while it
        trains: the run folder's snapshots and the finiteness checks are drawn by the Run
        whatever the objective, so they keep G's initial samples (docs/families.md)."""
        if self.no_generator and not self._training:
            raise ConfigError(self.no_generator)
        return super().generate(z, c)

    def _noisy(self, x: Tensor) -> Tensor:
        return x + self.p.input_noise * torch.randn_like(x) if self.p.input_noise > 0 else x

    def classify(self, x: Tensor) -> Tensor:
        return self.D(x)

    def setup(self, optimizers):
        p = self.p

        def d_step(c):
            i = torch.randint(0, len(self.x_lab), (self.m,), device=self.x_lab.device)
            lab = self.D(self._noisy(self.x_lab[i]))
            if not p.adversarial:
                sup = F.cross_entropy(lab, self.y_lab[i])
                return sup, {"sup": sup.detach()} if c.logging else {}
            real = self.ctx.sample_batch(self.m).x
            with torch.no_grad():
                fake = self.G(self.ctx.sample_z(self.m))
            c.scratch["real"] = real
            lr, lf = self.D(self._noisy(real)), self.D(self._noisy(fake))
            loss, sup, unsup = ssgan_d_loss(lr, lf, lab, self.y_lab[i], p.unsup_weight)
            logs = {}
            if c.logging:
                logs = {"sup": sup.detach(), "unsup": unsup.detach(),
                        "d_real": torch.sigmoid(torch.logsumexp(lr, 1)).mean().detach(),
                        "d_fake": torch.sigmoid(torch.logsumexp(lf, 1)).mean().detach(),
                        "label_acc": (lab.argmax(1) == self.y_lab[i]).float().mean().detach()}
            return loss, logs

        def g_step(c):
            fake = self.G(self.ctx.sample_z(self.m))
            # means over the global batch when several processes share it
            return feature_matching(self.D.features(self._noisy(c.scratch["real"])),
                                    self.D.features(self._noisy(fake))), {}
        self.phases = [Phase("d", optimizers["d"], d_step, d_repeat(self.ctx.cfg))]
        if p.adversarial:
            self.phases.append(Phase("g", optimizers["g"], g_step))


NO_GENERATOR = ("objective.adversarial=false trains D alone as a classifier: there is no trained G to sample, "
                "invert or measure by its samples; its number is test_accuracy (metric classify), or train "
                "with objective.adversarial=true for a generator")


class _Training:
    """Callback: marks the labels-only run's training (on_train_end, or on_train_abort on any
    other way out), while which the Run's own draws of G (snapshots, FiniteSamples) go through."""

    def __init__(self, obj: SemiSupervisedGAN):
        self.obj = obj

    def on_train_start(self, trainer):
        self.obj._training = True

    def on_train_end(self, trainer):
        self.obj._training = False

    on_train_abort = on_train_end


@dataclass
class SSGANParams:
    labels_per_class: int = opt(100, "training images of each class that keep their label", ge=1)
    adversarial: bool = opt(True, "false: D is trained on the labelled images alone (the baseline "
                                  "classifier; G is not trained)")
    unsup_weight: float = opt(1.0, "weight of the unsupervised (real vs fake) part of D's loss", ge=0.0)
    input_noise: float = opt(0.3, "std of Gaussian noise added to D's inputs while training "
                                  "(Salimans et al.: 0.3)", ge=0.0)
    hidden_noise: float = opt(0.0, "std of Gaussian noise added to the input of every later layer of "
                                   "D while training (Salimans et al.: 0.5)", ge=0.0)
    weight_norm: bool = opt(False, "weight normalisation of D's linear and conv layers, initialised "
                                   "from data (unit-variance pre-activations)")


def ssgan_unread(cfg) -> dict[str, str]:
    """The config sections the semi-supervised GAN never reads (``objective.unread``)."""
    unread = {"loss": "D's loss is the K+1-class loss, G's is feature matching"}
    if not getattr(cfg.objective, "params", {}).get("adversarial", True):
        unread["optim_g"] = unread["generator"] = "G is not trained with objective.adversarial=false"
    return unread


@OBJECTIVES.register("ssgan", SSGANParams, "semi-supervised GAN: D a K+1-class classifier, feature matching")
def ssgan_objective(ctx: ObjectiveContext, **kw) -> SemiSupervisedGAN:
    return SemiSupervisedGAN(ctx, SSGANParams(**kw))


ssgan_objective.unread = ssgan_unread
