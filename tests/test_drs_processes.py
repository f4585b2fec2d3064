"""The DRS fit on several processes: every rank fine-tunes its copy of D on the same batches,
so the copy's batch norms are plain ones (a synced one all-reduced identical statistics each
fit step and counted every sample once per rank) and the fit is the one-process fit."""
from __future__ import annotations

import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from gankit.train.rejection import RejectionSampler
from gankit.train.syncbn import BatchNorm, SyncBatchNorm, convert_sync_batchnorm, revert_sync_batchnorm

STEPS, BATCH = 30, 32


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _d(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))


def _fit(D: nn.Module) -> RejectionSampler:
    """A fit whose batches depend on nothing but fixed seeds: the same on every rank."""
    torch.manual_seed(1)
    G = nn.Linear(2, 2)
    data_gen, noise_gen = torch.Generator().manual_seed(2), torch.Generator().manual_seed(3)
    real = lambda n: torch.randn(n, 2, generator=data_gen) * 0.5 + 1.0   # noqa: E731
    noise = lambda n: torch.randn(n, 2, generator=noise_gen)             # noqa: E731
    sampler = RejectionSampler(D, 1, STEPS, 1e-3, 0.95, BATCH)
    sampler.fit(D, G.requires_grad_(False), real, noise, n_quantile=2000)
    return sampler


def _kinds(m: nn.Module) -> list[type]:
    return [type(x) for x in m.modules() if isinstance(x, nn.modules.batchnorm._BatchNorm)]


def test_the_samplers_copy_of_a_synced_d_holds_plain_batch_norms_with_the_same_state():
    D = _d()
    assert convert_sync_batchnorm(D, torch.device("cpu")) == 1
    with torch.no_grad():
        D[1].running_mean.fill_(0.3)
        D[1].weight.fill_(2.0)
    D.train()
    sampler = RejectionSampler(D, 1, 5, 1e-3, 0.95, 8)
    assert _kinds(sampler.D) == [nn.BatchNorm1d]
    assert _kinds(D) == [SyncBatchNorm]            # the trained D itself stays synced
    a, b = D.state_dict(), sampler.D.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not sampler.D.training and not sampler.D[1].training
    sampler.D.load_state_dict(D.state_dict())      # what each fit starts with


def test_revert_restores_each_replaced_class_and_a_declared_sync_norm_to_any_rank():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=None, affine=False),
                        nn.Conv3d(4, 4, 1), nn.BatchNorm3d(4, eps=1e-3), SyncBatchNorm(4))
    convert_sync_batchnorm(net, torch.device("cpu"))
    assert _kinds(net) == [SyncBatchNorm] * 3
    keys = list(net.state_dict())
    assert revert_sync_batchnorm(net) is net
    assert _kinds(net) == [nn.BatchNorm2d, nn.BatchNorm3d, BatchNorm]
    assert list(net.state_dict()) == keys
    assert net[1].momentum is None and not net[1].affine and net[3].eps == 1e-3
    assert net[4](torch.randn(5, 4, 2, 2, 2)).shape == (5, 4, 2, 2, 2)
    assert type(revert_sync_batchnorm(SyncBatchNorm(3))) is BatchNorm


def _fit_worker(rank: int, world: int, port: int, out: str):
    from conftest import join_gloo
    join_gloo(rank, world, port)
    try:
        D = _d()
        convert_sync_batchnorm(D, torch.device("cpu"))   # as the Run does on several processes
        sampler = _fit(D)
        torch.save({"M": sampler.M, "acceptance": sampler.acceptance, "D": sampler.D.state_dict(),
                    "kinds": [k.__name__ for k in _kinds(sampler.D)]}, f"{out}.rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_a_fit_on_two_processes_is_the_one_process_fit_of_the_same_d(tmp_path):
    one = _fit(_d())
    out = str(tmp_path / "fit")
    mp.spawn(_fit_worker, args=(2, _free_port(), out), nprocs=2, join=True)
    for rank in (0, 1):
        got = torch.load(f"{out}.rank{rank}.pt", weights_only=True)
        assert torch.equal(got["M"], one.M), (rank, float(got["M"]), float(one.M))
        assert torch.equal(got["acceptance"], one.acceptance)
        assert got["kinds"] == ["BatchNorm1d"]
        want = one.D.state_dict()
        assert all(torch.equal(got["D"][k], want[k]) for k in want)
