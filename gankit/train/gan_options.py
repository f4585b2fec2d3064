"""The "gan" objective's options (GANParams: which remedies are on, with what settings) and
the divergence advice they give.  gankit/train/gan.py builds the objective from them;
gankit/train/gan_checks.py checks their combinations while it declares its parts.
"""
from __future__ import annotations

from dataclasses import dataclass

from gankit.config import ConfigError, opt


def gan_nan_hint(p) -> str:
    """The divergence advice for the run's own settings: a penalty it has is named with its
    weight (its weight may be the cause), one it lacks is suggested."""
    tries = ["a lower learning rate (--set optim_d.lr=... --set optim_g.lr=...)"]
    if p.gp > 0:
        tries.append(f"a lower gradient-penalty weight (--set objective.gp=..., now {p.gp:g})")
    if p.r1 > 0:
        tries.append(f"a lower R1 weight (--set objective.r1=..., now {p.r1:g})")
    if not (p.gp > 0 or p.r1 > 0):
        tries.append("a gradient penalty")
    return f"Try {', '.join(tries)} or a bounded loss."


@dataclass
class GANParams:
    reuse_fake: bool = opt(True, "reuse the D step's G(z) for the G step when k = 1 (one G forward "
                                 "per iteration instead of two)")
    # Lipschitz constraints and penalties on D
    clip: float = opt(0.0, "WGAN weight clipping: clamp D's weights to [-clip, clip] after each D "
                           "step (WGAN: 0.01; 0 = off)", ge=0.0)
    gp: float = opt(0.0, "gradient penalty lambda on interpolates of real and fake (WGAN-GP: 10; "
                         "0 = off)", ge=0.0)
    gp_center: float = opt(1.0, "target gradient norm of the penalty (1: WGAN-GP; 0: zero-centred)",
                           ge=0.0)
    r1: float = opt(0.0, "R1 penalty gamma: gamma/2 E ||grad D(x_real)||^2 (0 = off)", ge=0.0)
    spectral_norm: bool = opt(False, "spectral normalisation of every linear/conv layer of D")
    # D's inputs
    instance_noise: float = opt(0.0, "std of Gaussian noise added to D's inputs, real and fake "
                                     "(0 = off)", ge=0.0)
    instance_noise_anneal: int = opt(0, "steps over which the instance noise decays to 0 (0: "
                                        "constant)", ge=0)
    instance_noise_schedule: str = opt("linear", "decay of the instance noise: linear sigma0 (1 - t/T); "
                                                 "exponential sigma0 0.01^(t/T)",
                                       choices=["linear", "exponential"])
    pack: int = opt(1, "PacGAN: D judges this many samples concatenated (2, 4; 1 = off); "
                       "train.batch_size must be a multiple", ge=1)
    minibatch: str = opt("none", "batch-level features for D's last layer: std (minibatch standard "
                                 "deviation) or discrimination (Salimans et al.)",
                         choices=["none", "std", "discrimination"])
    minibatch_group: int = opt(4, "minibatch std: group size, 2 or more (0 = the whole batch: each process's own "
                                 "with several)", ge=0)
    minibatch_kernels: int = opt(16, "minibatch discrimination: number of kernels B", ge=1)
    minibatch_kernel_dim: int = opt(8, "minibatch discrimination: dimension C of each kernel", ge=1)
    # G
    feature_matching: float = opt(0.0, "weight of ||E f(x) - E f(G(z))||^2 on D's last hidden layer "
                                        "f, added to G's loss (0 = off)", ge=0.0)
    historical_averaging: float = opt(0.0, "weight of ||theta - mean of past theta||^2 for D and G "
                                            "(0 = off)", ge=0.0)
    ema: float = opt(0.0, "decay beta of an exponential moving average of G's weights, used for "
                          "samples and metrics (e.g. 0.999; 0 = off)", ge=0.0, le=1.0)
    ema_start: int = opt(0, "EMA: copy G's weights until this step, average after", ge=0)
    # schedules
    lr_decay_final: float = opt(1.0, "decay both learning rates linearly to this fraction of their "
                                     "value, reached at the end of training (1 = no decay)", gt=0.0, le=1.0)
    lr_decay_start: float = opt(0.5, "fraction of train.steps after which the learning-rate decay "
                                      "starts", ge=0.0, le=1.0)
    # sampling
    drs: bool = opt(False, "discriminator rejection sampling (Azadi et al. 2019): samples from G are "
                           "accepted with probability exp(D's logit - M), after D is fine-tuned on "
                           "the final G")
    drs_steps: int = opt(1000, "DRS: steps of D's fine-tuning with G frozen", ge=0)
    drs_lr: float = opt(1e-4, "DRS: Adam learning rate of the fine-tuning", gt=0.0)
    drs_quantile: float = opt(0.99, "DRS: M is this quantile of the fitted D's logits on G's samples "
                                    "(1 = the maximum: exact rejection sampling)", gt=0.0, le=1.0)
    unroll: int = opt(0, "Unrolled GAN (Metz et al. 2017): G's loss against D after this many "
                         "look-ahead steps, differentiated through (0 = off; the paper: 5-10)", ge=0)
    unroll_lr: float = opt(0.0, "learning rate of the look-ahead steps (0: D's own, Adam's update "
                                "continued from its moments)", ge=0.0)
    critic_boost: int = opt(0, "D steps at boosted iterations (WGAN: 100; 0 = always train.d_steps)",
                            ge=0)
    critic_boost_first: int = opt(25, "boost the first this many G iterations (WGAN: 25)", ge=0)
    critic_boost_every: int = opt(500, "and every this many G iterations (WGAN: 500; 0 = never)", ge=0)

    def check(self, where):
        if self.ema >= 1.0:
            raise ConfigError(f"{where}.ema: must be < 1 (0 switches it off), got {self.ema}")
