"""Minibatch discrimination's closeness o_i = sum_{j != i} exp(-||M_i - M_j||_1), per kernel.

Why not torch: measured on this 2-core CPU (n = 256, 16 kernels of dimension 8, one thread),
``exp(-torch.cdist(M, M, p=1)).sum(-1)`` costs ~25-30 ms forward + backward, 8 ms of it
cdist's backward; torch.compile of the same expression compiled for 48 s and ran in 21 ms.
The loops in gankit/l1kernel_numba.py (numba) visit each pair i < j once (distances are
symmetric: half the work and memory of the full n x n matrix), four rows at a time, and turn
the distances into exp(-d) and row sums in the same pass: 0.38 ms forward and 0.45 ms backward
at that size (docs/speed.md).  Results equal cdist's to float rounding (tests/test_l1kernel.py,
gradcheck in float64).

CUDA tensors, machines without numba and batches holding a NaN or inf take the torch
expression (same values; for non-finite input the reference's NaN pattern).
The function has no second derivative; the GAN objective refuses R1 / GP with it.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import torch
from torch import Tensor

from gankit.kernels import load_kernels

# numba costs ~1 s to import: gankit.l1kernel_numba is imported on the first call only
HAVE_NUMBA = importlib.util.find_spec("numba") is not None
_kernels = None


def _nb():
    """The compiled loops, or None (with one warning) where numba cannot load or cache them,
    e.g. no writable cache folder: the torch expression then gives the same values, slower."""
    global _kernels, HAVE_NUMBA
    if _kernels is None:
        _kernels = load_kernels("l1kernel_numba", "minibatch discrimination",
                                "torch.cdist (same values, ~3x slower steps)")
        HAVE_NUMBA = _kernels is not None
    return _kernels


def closeness_torch(M: Tensor) -> Tensor:
    """(B, n, C) -> (B, n): the reference expression."""
    return torch.exp(-torch.cdist(M, M, p=1)).sum(-1) - 1.0


class _Closeness(torch.autograd.Function):
    @staticmethod
    def forward(ctx, Mt: Tensor) -> Tensor:
        Mt = Mt.detach().contiguous()                         # (B, C, n): rows contiguous in j
        B, C, n = Mt.shape
        P = np.empty((B, n * (n - 1) // 2), dtype=Mt.numpy().dtype)
        o = torch.zeros(B, n, dtype=Mt.dtype)       # n = 1: no pair, o = 0
        if n > 1:
            _kernels.closeness_pairs(Mt.numpy(), P, o.numpy())
        P = torch.from_numpy(P)
        ctx.save_for_backward(Mt, P)
        return o

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g: Tensor) -> Tensor:
        Mt, P = ctx.saved_tensors
        if Mt.shape[2] < 2:
            return torch.zeros_like(Mt)
        out = torch.empty_like(Mt)                              # the kernel writes every entry
        _kernels.pairs_grad(Mt.numpy(), P.numpy(), g.detach().to(Mt.dtype).contiguous().numpy(), out.numpy())
        return out


def closeness(M: Tensor) -> Tensor:
    """(B, n, C) -> (B, n): o_bi = sum_{j != i} exp(-sum_c |M_bic - M_bjc|)."""
    if M.dim() != 3:
        raise ValueError(f"closeness: expected (kernels, n, dim), got shape {tuple(M.shape)}")
    return closeness_bcn(M.transpose(1, 2))


def closeness_bcn(Mt: Tensor) -> Tensor:
    """``closeness`` of M given as (B, C, n), the kernels' layout: a projection computed as
    T^T h^T lands in it without a copy (gankit.train.remedies.MinibatchDiscrimination)."""
    if Mt.dim() != 3:
        raise ValueError(f"closeness: expected (kernels, dim, n), got shape {tuple(Mt.shape)}")
    if not HAVE_NUMBA or Mt.device.type != "cpu" or _nb() is None:
        return closeness_torch(Mt.transpose(1, 2))
    x = Mt if Mt.dtype in (torch.float32, torch.float64) else Mt.float()   # bf16/fp16: in float32
    if not np.isfinite(x.detach().numpy()).all():
        # the kernels are compiled with fastmath, which assumes no NaN or inf: one NaN left most
        # rows finite and an inf entry read 0.0.  The torch expression gives the reference's NaN
        # pattern (every row for a NaN; its own row for an inf), and its gradient; a NaN in a
        # batch is rare, so the check (~6 us, 1-2% of a forward at n = 256) is all the kernel pays
        return closeness_torch(x.transpose(1, 2)).to(Mt.dtype)
    return _Closeness.apply(x) if x is Mt else _Closeness.apply(x).to(Mt.dtype)
