"""Adversarial losses as pure functions of D's logits, in stable softplus forms.

With D(x) = sigmoid(l):  -log D(x) = softplus(-l)  and  -log(1 - D(x)) = softplus(l).
Each loss is a pair: ``d_loss(real_logits, fake_logits)`` (D minimises it) and
``g_loss(fake_logits)`` (G minimises it), both means over the batch.  A relativistic
loss also gives G's loss the real logits, ``g_loss(fake_logits, real_logits)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from gankit.config import ConfigError, opt
from torch import Tensor

from gankit.registry import LOSSES


def d_loss_bce(real: Tensor, fake: Tensor) -> Tensor:
    """-V(D, G) = -[mean log D(x) + mean log(1 - D(G(z)))]."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def d_loss_bce_fake(fake: Tensor) -> Tensor:
    """The fake half of the BCE D loss, -mean log(1 - D(G(z))) = mean softplus(l) (label smoothing
    is one-sided: the fake targets stay 0)."""
    return F.softplus(fake).mean()


def d_loss_bce_smoothed(real: Tensor, fake: Tensor, smoothing: float) -> Tensor:
    """One-sided label smoothing (Salimans et al. 2016): real targets 1 - s, fake targets 0.

    -[(1 - s) log D(x) + s log(1 - D(x))] - log(1 - D(G(z)))
      = (1 - s) softplus(-l_real) + s softplus(l_real) + softplus(l_fake).
    """
    return ((1 - smoothing) * F.softplus(-real) + smoothing * F.softplus(real)).mean() \
        + F.softplus(fake).mean()


def g_loss_minimax(fake: Tensor) -> Tensor:
    """The paper's saturating G loss: minimise mean log(1 - D(G(z))) = -mean softplus(l).

    d/dl log(1 - sigmoid(l)) = -sigmoid(l) -> 0 when D rejects the fakes (l -> -inf):
    the gradient vanishes early in training (seed 001).
    """
    return -F.softplus(fake).mean()


def g_loss_nonsaturating(fake: Tensor) -> Tensor:
    """Maximise mean log D(G(z)): minimise mean softplus(-l) = -mean log sigmoid(l).

    d/dl = -(1 - sigmoid(l)) -> -1 when D rejects the fakes: the gradient stays alive.
    """
    return F.softplus(-fake).mean()


# ------------------------------------------------------------ critic losses (no sigmoid)

def d_loss_wgan(real: Tensor, fake: Tensor) -> Tensor:
    """WGAN critic: maximise J_D = E f(x) - E f(G(z)), i.e. minimise E f(G(z)) - E f(x).

    With a 1-Lipschitz f, sup_f J_D is the earth-mover distance W(p_data, p_g)
    (Kantorovich-Rubinstein duality); -loss is the critic's estimate of it.
    """
    return fake.mean() - real.mean()


def d_loss_wgan_fake(fake: Tensor) -> Tensor:
    """The fake half of the critic's loss: E f(G(z))."""
    return fake.mean()


def g_loss_wgan(fake: Tensor) -> Tensor:
    """J_G = -E f(G(z)) (also the hinge loss's G loss)."""
    return -fake.mean()


def d_loss_hinge(real: Tensor, fake: Tensor) -> Tensor:
    """Hinge (Lim & Ye 2017; SAGAN, BigGAN): E max(0, 1 - f(x)) + E max(0, 1 + f(G(z)))."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def d_loss_hinge_fake(fake: Tensor) -> Tensor:
    """The fake half of the hinge D loss: E max(0, 1 + f(G(z)))."""
    return F.relu(1 + fake).mean()


def d_loss_lsgan(real: Tensor, fake: Tensor) -> Tensor:
    """Least squares (Mao et al. 2017, a=0, b=1): 1/2 E (D(x) - 1)^2 + 1/2 E D(G(z))^2."""
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean()


def d_loss_lsgan_fake(fake: Tensor) -> Tensor:
    """The fake half of the LSGAN D loss: 1/2 E D(G(z))^2."""
    return 0.5 * (fake ** 2).mean()


def g_loss_lsgan(fake: Tensor) -> Tensor:
    """Least squares G (c=1): 1/2 E (D(G(z)) - 1)^2."""
    return 0.5 * ((fake - 1) ** 2).mean()


def g_loss_lsgan_swapped(real: Tensor) -> Tensor:
    """LSGAN's G loss with the labels swapped (pull toward the fake label 0): 1/2 E D(x)^2.
    Negating the output is no swap here: the labels 0 / 1 are not symmetric about 0."""
    return 0.5 * (real ** 2).mean()


def d_loss_rsgan(real: Tensor, fake: Tensor) -> Tensor:
    """Relativistic standard GAN (Jolicoeur-Martineau 2019; RelGAN's loss): D's output is the
    log-odds that the real sample is more realistic than the fake one it is paired with,
    -E log sigmoid(C(x_i) - C(G(z_i))) = E softplus(C(G(z_i)) - C(x_i)); pairs by index."""
    if real.shape != fake.shape:
        raise ConfigError(f"loss rsgan pairs real and fake logits by index, but got shapes "
                          f"{tuple(real.shape)} and {tuple(fake.shape)}; use equal real and fake batches")
    return F.softplus(fake - real).mean()


def g_loss_rsgan(fake: Tensor, real: Tensor) -> Tensor:
    """The roles swapped: E softplus(C(x_i) - C(G(z_i))) (real logits carry no gradient to G)."""
    return d_loss_rsgan(fake, real.detach())


@dataclass
class LossPair:
    """A named pair of losses.

    ``probabilistic``: sigmoid(output) is D's probability that x is real.
    ``boundary``: D says "real" when its output is above this (for D's accuracy);
    None where the output is not a classifier's (the WGAN critic).
    ``wasserstein``: -d_loss estimates the earth-mover distance (WGAN critics).
    ``relativistic``: G's loss compares its fakes with real logits: ``g_loss(fake, real)``.
    ``g_swapped``: G's loss with the labels swapped (outputs a generator wants scored fake, e.g.
    BiGAN's encoder pairs); None: ``g(-x)``, the swap for losses symmetric about 0.
    ``fake_half``: the fake half of ``d`` alone, ``fake_half(fake)`` (outputs D must score as fake
    that are not G's, e.g. the matching-aware D's mismatched pairs); None: ``d(0, fake)``,
    which carries the real half at output 0 as a constant.
    """
    name: str
    d: callable
    g: callable
    probabilistic: bool = True
    boundary: float | None = 0.0
    wasserstein: bool = False
    relativistic: bool = False
    g_swapped: callable = None
    fake_half: callable = None

    def d_loss_fake(self, fake: Tensor) -> Tensor:
        """D's loss on outputs it should score as fake, without a real half."""
        if self.fake_half is not None:
            return self.fake_half(fake)
        return self.d(fake.new_zeros(fake.shape), fake)

    def g_loss_swapped(self, x: Tensor) -> Tensor:
        """The generator's loss for outputs it wants D to score as fake."""
        return self.g_swapped(x) if self.g_swapped is not None else self.g(-x)

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return self.d(real, fake)

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        if not self.relativistic:
            return self.g(fake)
        if real is None:
            raise ConfigError(f"loss {self.name}: G's loss needs D's logits on real data, which this "
                              f"objective's G step does not compute; use loss.name='nonsaturating'")
        return self.g(fake, real)


@dataclass
class BCEParams:
    label_smoothing: float = opt(0.0, "one-sided label smoothing: D's target for real data is 1 - this "
                                      "(Salimans et al. 2016 use 0.1); fakes keep target 0", ge=0.0, le=0.5)


def _bce_d(label_smoothing: float):
    if label_smoothing == 0:
        return d_loss_bce
    return lambda real, fake: d_loss_bce_smoothed(real, fake, label_smoothing)


@LOSSES.register("minimax", BCEParams, "the paper's saturating loss: G minimises log(1 - D(G(z)))")
def minimax(label_smoothing=0.0):
    return LossPair("minimax", _bce_d(label_smoothing), g_loss_minimax, fake_half=d_loss_bce_fake)


@LOSSES.register("nonsaturating", BCEParams, "non-saturating: G maximises log D(G(z)) (default)")
def nonsaturating(label_smoothing=0.0):
    return LossPair("nonsaturating", _bce_d(label_smoothing), g_loss_nonsaturating, fake_half=d_loss_bce_fake)


@LOSSES.register("wgan", None, "Wasserstein: critic f without sigmoid, J_D = E f(x) - E f(G(z)); "
                 "needs a Lipschitz constraint (objective clip, gp or spectral_norm)")
def wgan():
    return LossPair("wgan", d_loss_wgan, g_loss_wgan, probabilistic=False, boundary=None,
                    wasserstein=True, fake_half=d_loss_wgan_fake)


@LOSSES.register("hinge", None, "hinge: D minimises E relu(1 - f(x)) + E relu(1 + f(G(z))); G: -E f(G(z))")
def hinge():
    return LossPair("hinge", d_loss_hinge, g_loss_wgan, probabilistic=False, boundary=0.0,
                    fake_half=d_loss_hinge_fake)


@LOSSES.register("lsgan", None, "least squares (LSGAN): D regresses real to 1, fake to 0; G pulls fakes to 1")
def lsgan():
    return LossPair("lsgan", d_loss_lsgan, g_loss_lsgan, probabilistic=False, boundary=0.5,
                    g_swapped=g_loss_lsgan_swapped, fake_half=d_loss_lsgan_fake)


@LOSSES.register("rsgan", None, "relativistic standard GAN (RelGAN): D: -E log sigmoid(D(x) - D(G(z))), "
                 "real and fake paired by index; G: the roles swapped")
def rsgan():
    # no boundary: a logit alone says nothing, only its difference with the paired one
    # no fake half of its own: D's loss compares pairs; a lone fake output is scored against a
    # real one of 0, softplus(C(y) - 0), which has no real half to subtract
    return LossPair("rsgan", d_loss_rsgan, g_loss_rsgan, probabilistic=False, boundary=None,
                    relativistic=True, fake_half=d_loss_bce_fake)
