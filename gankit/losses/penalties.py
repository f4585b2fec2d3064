"""Regularisers of D, apart from the adversarial losses and composable with any of them.

Penalties return a term to add to D's loss; constraints are after-step hooks.
Every one works for any input shape (points (n, d), images (n, c, h, w), sequence
embeddings (n, t, e)): per-sample norms flatten everything but the batch axis.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn


def _per_sample_norm(g: Tensor) -> Tensor:
    return g.reshape(len(g), -1).norm(2, dim=1)


def input_gradient(D: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """dD(x)/dx per sample, with the graph kept so the penalty itself can be trained."""
    x = x.detach().requires_grad_(True)
    out = D(x)
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return g


def gradient_penalty(D: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, lam: float,
                     center: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): lam * E (||grad_x D(x_hat)|| - center)^2 on
    x_hat = eps x_real + (1 - eps) x_fake, eps ~ U[0, 1] per sample.

    center = 1 pushes D towards 1-Lipschitz along the interpolates; center = 0 is the
    zero-centred variant.  For a linear critic f(x) = w.x the term is lam (|w| - center)^2.
    """
    n = min(len(real), len(fake))
    real, fake = real[:n].detach(), fake[:n].detach()
    eps = torch.rand((n,) + (1,) * (real.ndim - 1), generator=generator, device=real.device,
                     dtype=real.dtype)
    x_hat = eps * real + (1 - eps) * fake
    g = input_gradient(D, x_hat)
    return lam * ((_per_sample_norm(g) - center) ** 2).mean()


def r1_penalty(D: Callable[[Tensor], Tensor], real: Tensor, gamma: float) -> Tensor:
    """R1 (Mescheder et al. 2018): gamma/2 * E_real ||grad_x D(x)||^2 (zero-centred, on data)."""
    g = input_gradient(D, real)
    return 0.5 * gamma * (g.reshape(len(g), -1) ** 2).sum(1).mean()


class WeightClip:
    """After-step hook: clamp every parameter of ``module`` to [-c, c] (the original WGAN)."""

    def __init__(self, module: nn.Module, c: float):
        self.params = [p for p in module.parameters()]
        self.c = c

    @torch.no_grad()
    def __call__(self, step: int):
        for p in self.params:
            p.clamp_(-self.c, self.c)


SN_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Embedding)


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) of every linear/conv layer's weight, in place:
    W -> W / sigma(W), sigma the top singular value from power iteration (one per step).
    Other modules name their weight matrices in ``spectral_norm_params`` (the minibatch
    discrimination tensor T, a bare Parameter).

    The parameter objects are kept (the parametrisation stores the same Parameter as
    ``original``), so an optimizer built before stays valid.
    """
    from torch.nn.utils.parametrizations import spectral_norm
    targets = [(m, "weight") for m in module.modules() if isinstance(m, SN_LAYERS)]
    if not targets:
        raise ValueError(f"spectral norm: {type(module).__name__} has no linear or conv layer")
    targets += [(m, name) for m in module.modules() for name in getattr(m, "spectral_norm_params", ())]
    for m, name in targets:
        # a matrix and its transpose share their singular values: for a 2-D weight the norm
        # of x -> x W and of x -> W x is the same, whichever dim the power iteration uses
        spectral_norm(m, name=name, n_power_iterations=n_power_iterations)
    return module
