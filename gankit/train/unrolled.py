"""Unrolled GAN (Metz et al. 2017): G's loss is taken against D after k look-ahead steps.

In G's step, a functional copy of D's weights takes k more optimisation steps on the
current real batch and on G's fake batch, and G's loss is D_{theta_k}(G(z)).  The steps
are built with ``create_graph=True``, so G's gradient also flows through theta_k: G sees
how D would answer its move and is pushed away from collapsing onto one mode that D
could then reject.  D's own weights and optimizer are untouched (the look-ahead is only
for G's gradient), as in the paper.

The look-ahead uses D's real optimizer when it is Adam: each step continues from its
moment estimates (exp_avg, exp_avg_sq, step count), as Metz et al.'s code does; with SGD
or RMSprop it takes plain gradient steps at optim_d's learning rate (momentum and weight
decay are left out of the look-ahead).  Penalties of D
(gradient penalty, R1) are not part of the look-ahead steps.  Cost: about k + 1 extra D
forward/backward passes per G step, with second-order terms.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call


class UnrolledD:
    def __init__(self, D: nn.Module, d_loss: Callable[[Tensor, Tensor], Tensor], steps: int,
                 optimizer: torch.optim.Optimizer, lr: float = 0.0):
        self.D, self.d_loss, self.k, self.opt = D, d_loss, steps, optimizer
        self.adam = isinstance(optimizer, torch.optim.Adam)
        self.lr_override = lr

    def _lr(self) -> float:
        return self.lr_override or self.opt.param_groups[0]["lr"]   # follows an LR schedule

    def lookahead(self, real_in: Tensor, fake_in: Tensor, *extra: Tensor) -> dict[str, Tensor]:
        """theta_k as a dict of tensors that depend on fake_in (and on D's current weights)."""
        params = dict(self.D.named_parameters())
        buffers = {n: b.clone() for n, b in self.D.named_buffers()}   # batch-norm stats: not advanced
        lr = self._lr()
        group = self.opt.param_groups[0]
        b1, b2 = group.get("betas", (0.9, 0.999))
        eps = group.get("eps", 1e-8)
        moments = {}
        for n, p in params.items():
            st = self.opt.state.get(p, {}) if self.adam else {}
            if "exp_avg" in st:
                moments[n] = (st["exp_avg"], st["exp_avg_sq"], float(st["step"]))
            else:
                moments[n] = (torch.zeros_like(p), torch.zeros_like(p), 0.0)
        for _ in range(self.k):
            out_r = functional_call(self.D, (params, buffers), (real_in, *extra))
            out_f = functional_call(self.D, (params, buffers), (fake_in, *extra))
            loss = self.d_loss(out_r, out_f)
            # a parameter D's forward does not use (a conditional D leaves its base net's head
            # unused) has no gradient: it stays as it is in the look-ahead
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=True,
                                        allow_unused=True)
            new = {}
            for (n, p), g in zip(params.items(), grads):
                if g is None:
                    new[n] = p
                    continue
                if self.adam:
                    m, v, t = moments[n]
                    m, v, t = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g, t + 1
                    moments[n] = (m, v, t)
                    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
                    # 1e-16 under the root: its derivative stays finite where a gradient is 0
                    new[n] = p - lr * m_hat / (torch.sqrt(v_hat + 1e-16) + eps)
                else:
                    new[n] = p - lr * g
            params = new
        return params

    def __call__(self, real_in: Tensor, fake_in: Tensor, *extra: Tensor) -> Tensor:
        """D_{theta_k}(fake_in): D's output after the look-ahead, differentiable w.r.t. fake_in.
        ``extra``: D's further arguments (a conditional D's condition)."""
        params = self.lookahead(real_in, fake_in, *extra)
        buffers = {n: b.clone() for n, b in self.D.named_buffers()}
        return functional_call(self.D, (params, buffers), (fake_in, *extra))
