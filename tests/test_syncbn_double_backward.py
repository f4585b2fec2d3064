"""R1 and the gradient penalty through SyncBatchNorm on 2 CPU ranks (gloo), against one process.

The penalties differentiate D's input gradient (autograd.grad with create_graph), so the
backward of SyncBatchNorm's all-reduce of statistics is itself differentiated.  It was a bare
in-place all-reduce, opaque to autograd: torch warned "c10d::allreduce_: an autograd kernel
was not registered" and R1's parameter gradients came out 7% off one process's.
"""
from __future__ import annotations

import socket
import warnings

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from gankit.losses.penalties import gradient_penalty, r1_penalty
from gankit.train.syncbn import convert_sync_batchnorm


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _critic() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1))


def _batch() -> torch.Tensor:
    return torch.randn(16, 3, generator=torch.Generator().manual_seed(1))


def _penalty_grads(D: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each penalty's gradient on D's parameters, flattened."""
    out = {}
    for name, term in (("r1", lambda: r1_penalty(D, x, 2.0)),
                       # real == fake: the interpolates are x whatever eps each process draws
                       ("gp", lambda: gradient_penalty(D, x, x, 1.0))):
        D.zero_grad()
        term().backward()
        # the last bias moves no input gradient: no gradient at all
        out[name] = torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).reshape(-1)
                               for p in D.parameters()])
    return out


def _worker(rank: int, world: int, port: int, out: str):
    from conftest import join_gloo
    join_gloo(rank, world, port)
    try:
        D = _critic()
        replaced = convert_sync_batchnorm(D, torch.device("cpu"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            grads = _penalty_grads(D, _batch().chunk(world)[rank])
        for g in grads.values():          # each rank's penalty is a mean over its half: average
            dist.all_reduce(g)
            g /= world
        torch.save({"grads": grads, "replaced": replaced, "warnings": [str(w.message) for w in caught]},
                   f"{out}.rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_penalties_through_sync_batchnorm_on_2_ranks_match_one_process(tmp_path):
    torch.set_num_threads(1)
    want = _penalty_grads(_critic(), _batch())
    out = str(tmp_path / "pen")
    mp.spawn(_worker, args=(2, free_port(), out), nprocs=2, join=True)
    for rank in (0, 1):
        got = torch.load(f"{out}.rank{rank}.pt", weights_only=True)
        assert got["replaced"] == 1                       # the batch norm really was synced
        assert not [w for w in got["warnings"] if "autograd kernel was not registered" in w], got["warnings"]
        for name in ("r1", "gp"):
            ref = want[name]
            assert float(ref.norm()) > 1e-3, name         # a gradient worth comparing
            rel = float((got["grads"][name] - ref).norm() / ref.norm())
            assert rel < 1e-5, (name, rank, rel)
