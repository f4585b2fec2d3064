"""Batch norm over the global batch of a data-parallel run, on any device.

torch.nn.SyncBatchNorm refuses CPU tensors (it is written for CUDA kernels), and gankit
trains on CPUs with gloo.  This module computes the same thing with plain ops: each rank's
per-channel mean, variance and count are summed across ranks with a differentiable
all-reduce, and combined as

    mean = sum_r n_r mean_r / N,    var = sum_r n_r (var_r + (mean_r - mean)^2) / N

(the exact variance of the union, without the cancellation of E[x^2] - mean^2).  The
backward of an all-reduce of sums is an all-reduce of the gradients, so every rank's input
gets the gradient of the sum of all ranks' losses through the shared statistics: with
the loop's gradient averaging this is the gradient one process gets on the whole batch.

Outside training, or in a one-process run, it is a plain batch norm; its state_dict has
BatchNorm's keys, so checkpoints load into either.  ``revert_sync_batchnorm`` turns them back
into plain batch norms, for a copy every rank trains alike on the same batches (the DRS fit):
syncing it would all-reduce identical statistics and count each sample once per rank.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class SyncBatchNorm(_BatchNorm):
    def _check_input_dim(self, x: Tensor):
        if x.dim() < 2:
            raise ValueError(f"SyncBatchNorm expects (N, C, ...) input, got shape {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        world = _world()
        if not (self.training and world > 1):
            return super().forward(x)
        from gankit.train.distributed import sum_over_ranks   # differentiable
        self._check_input_dim(x)
        C = x.shape[1]
        dims = [0, *range(2, x.dim())]
        xf = x.float()
        count = torch.full((1,), x.numel() / C, dtype=torch.float32, device=x.device)
        mean_r = xf.mean(dims)
        var_r = xf.var(dims, unbiased=False)
        # every rank's row in a zero table; the all-reduce sum is an all-gather that autograd knows
        table = torch.zeros(world, 2 * C + 1, dtype=torch.float32, device=x.device)
        table = table.index_copy(0, torch.tensor([dist.get_rank()], device=x.device),
                                 torch.cat([mean_r, var_r, count])[None])
        table = sum_over_ranks(table)
        means, variances, counts = table[:, :C], table[:, C:2 * C], table[:, 2 * C:]
        n = counts.sum()
        mean = (counts * means).sum(0) / n
        var = (counts * (variances + (means - mean) ** 2)).sum(0) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                          else self.momentum)
                unbiased = var * (n / (n - 1).clamp(min=1))
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
        shape = (1, C) + (1,) * (x.dim() - 2)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> int:
    """Replaces, in place, every batch norm below ``module`` by one that syncs its statistics
    across ranks (torch's SyncBatchNorm on CUDA, gankit's elsewhere), keeping parameters,
    buffers and mode.  Returns how many were replaced."""
    if isinstance(module, _BatchNorm):
        raise ValueError("a declared module that is itself a batch norm cannot be converted in "
                         "place; wrap it in a module")
    cls = torch.nn.SyncBatchNorm if device.type == "cuda" else SyncBatchNorm
    replaced = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, _BatchNorm) and not isinstance(child, (SyncBatchNorm, torch.nn.SyncBatchNorm)):
                new = cls(child.num_features, child.eps, child.momentum, child.affine,
                          child.track_running_stats)
                if child.affine:
                    new.weight, new.bias = child.weight, child.bias      # the same Parameters
                if child.track_running_stats:
                    new.running_mean, new.running_var = child.running_mean, child.running_var
                    new.num_batches_tracked = child.num_batches_tracked
                new.train(child.training)
                new.plain_class = type(child)         # what revert_sync_batchnorm restores
                setattr(parent, name, new.to(device))
                replaced += 1
    return replaced


class BatchNorm(_BatchNorm):
    """A plain batch norm of any (N, C, ...) input: what a synced one not made by
    convert_sync_batchnorm (declared so by a net) reverts to, its input rank unknown."""

    def _check_input_dim(self, x: Tensor):
        if x.dim() < 2:
            raise ValueError(f"BatchNorm expects (N, C, ...) input, got shape {tuple(x.shape)}")


_PLAIN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replaces, in place, every synced batch norm below ``module`` (gankit's or torch's) by a
    plain one, the torch.nn.BatchNorm1d/2d/3d convert_sync_batchnorm replaced where known,
    keeping parameters, buffers and mode (the state_dict keys are the same).  Returns
    ``module``, or its replacement when it is itself a synced batch norm."""
    def plain(bn: _BatchNorm) -> _BatchNorm:
        cls = getattr(bn, "plain_class", None)
        new = (cls if cls in _PLAIN else BatchNorm)(bn.num_features, bn.eps, bn.momentum, bn.affine,
                                                   bn.track_running_stats)
        if bn.affine:
            new.weight, new.bias = bn.weight, bn.bias
        if bn.track_running_stats:
            new.running_mean, new.running_var = bn.running_mean, bn.running_var
            new.num_batches_tracked = bn.num_batches_tracked
        new.train(bn.training)
        return new

    synced = (SyncBatchNorm, torch.nn.SyncBatchNorm)
    if isinstance(module, synced):
        return plain(module)
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, synced):
                setattr(parent, name, plain(child))
    return module
