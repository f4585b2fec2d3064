"""Adversarial losses as pure functions of D's logits, in stable softplus forms.

With D(x) = sigmoid(l):  -log D(x) = softplus(-l)  and  -log(1 - D(x)) = softplus(l).
Each loss is a pair: ``d_loss(real_logits, fake_logits)`` (D minimises it) and
``g_loss(fake_logits)`` (G minimises it), both means over the batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from gankit.components import LOSSES


def d_loss_bce(real: Tensor, fake: Tensor) -> Tensor:
    """-V(D, G) = -[mean log D(x) + mean log(1 - D(G(z)))]."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


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


@dataclass
class LossPair:
    """A named pair of losses; ``probabilistic`` says sigmoid(logit) is D's probability."""
    name: str
    d: callable
    g: callable
    probabilistic: bool = True

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return self.d(real, fake)

    def g_loss(self, fake: Tensor) -> Tensor:
        return self.g(fake)


@LOSSES.register("minimax", None, "the paper's saturating loss: G minimises log(1 - D(G(z)))")
def minimax():
    return LossPair("minimax", d_loss_bce, g_loss_minimax)


@LOSSES.register("nonsaturating", None, "non-saturating: G maximises log D(G(z)) (default)")
def nonsaturating():
    return LossPair("nonsaturating", d_loss_bce, g_loss_nonsaturating)
