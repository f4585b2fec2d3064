"""The policy-gradient pieces of the sequence GANs (gankit/train/seqgan.py): REINFORCE's loss,
discounted returns, MaliGAN's importance weights, and G's noise as uniforms for sampling tokens."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.train.distributed import shares_of_all


def uniforms(z: Tensor, dist: str) -> Tensor:
    """G's noise z -> uniforms in [0, 1) (the probability integral transform of the prior)."""
    u = 0.5 * (1 + torch.erf(z / math.sqrt(2))) if dist == "normal" else (z + 1) / 2
    return u.clamp(0.0, 1.0 - 1e-7)


def reinforce_loss(logp: Tensor, advantage: Tensor, mask: Tensor) -> Tensor:
    """-mean over valid steps of A_t log G(x_t | x_<t); its gradient is the REINFORCE estimate.
    On several processes the mean is over all ranks' valid steps (``shares_of_all``)."""
    m = mask.to(logp.dtype)
    n = m.sum()
    share, = shares_of_all(n)
    return -(advantage.detach() * logp * m).sum() / n.clamp_min(1.0) * share


def discounted_returns(r: Tensor, mask: Tensor, gamma: float) -> Tensor:
    """R_t = sum_{s >= t, valid} gamma^(s - t) r_s, (n, L)."""
    r = r * mask.to(r.dtype)
    out = torch.zeros_like(r)
    acc = torch.zeros_like(r[:, 0])
    for t in range(r.shape[1] - 1, -1, -1):
        acc = r[:, t] + gamma * acc
        out[:, t] = acc
    return out


def maligan_advantage(logits: Tensor) -> tuple[Tensor, Tensor]:
    """MaliGAN's per-sequence advantage m w_i - 1 with w_i = r_i / sum_j r_j, r = D / (1 - D) =
    exp(logit) (a softmax: no overflow at a saturated D), and the weights' effective sample
    size 1 / sum w^2 (m when D scores all alike, 1 when one sequence takes all the weight)."""
    w = torch.softmax(_wide(logits), 0)
    return (logits.shape[0] * w - 1).to(logits.dtype), 1.0 / (w * w).sum()


def _wide(x: Tensor) -> Tensor:
    """x in float64 where its device has it (mps has none: float32 there)."""
    return x.float() if x.device.type == "mps" else x.double()


def last_valid(mask: Tensor) -> Tensor:
    """Index of the last valid step of each row, (n,)."""
    return mask.long().sum(1).clamp_min(1) - 1
