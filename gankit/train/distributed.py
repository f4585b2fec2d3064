"""Data-parallel training: one process per rank, launched by torchrun.

    torchrun --nproc-per-node 2 -m gankit train ring          # or: gankit train ring --nproc 2

Every rank builds the same run (same seed: same initial weights, checked by a broadcast
from rank 0), draws its own share of each global batch (``train.batch_size`` is the
global batch; each rank draws batch_size / world_size) from streams derived from
(seed, rank) (gankit.seeds.rank_seed: rank 0 keeps the run's own streams), and after each
phase's backward the gradients of that phase's parameters are averaged across ranks, so
every rank takes the same optimizer step.  Only rank 0 writes the run folder.

Gradient averaging: the approach of stylegan2-ada-pytorch (training/training_loop.py),
not DistributedDataParallel.  After a phase's backward the gradients of the parameters
its optimizer updates are flattened into one tensor, all-reduced once and divided by the
world size (``GradSync``), before the optimizer steps.  Why:
- penalties that need double backward (R1, gradient penalty: autograd.grad with
  create_graph) work unchanged: nothing hooks into autograd;
- the G step backpropagates through D; only G's gradients are synced there, D's (which
  the next D step zeroes) never cross the wire.  With DDP both nets would be wrapped and
  the G step would all-reduce D's gradients too, unless the objective opened
  ``D.no_sync()`` around it: the objective would have to know;
- modules stay plain nn.Modules: no ``module.`` prefix in checkpoints, no wrapper between
  the objective and its nets (declare, then wrap), and the loop calls one hook.
DDP overlaps its bucketed all-reduces with the backward, which this does not; on the
nets gankit trains the one flat all-reduce is a small part of the step (measured in
docs/scaling.md, benchmarks/scaling.py --sync).

Batch norm: the Run converts the declared modules' batch norms to SyncBatchNorm
(gankit.train.syncbn) when the world has more than one process, so statistics are those
of the global batch, as in one process.  Other batch-level statistics (minibatch std /
discrimination features, packing) are taken over each rank's own batch, as stylegan2-ada
does for its minibatch std.

The NCCL path (CUDA, one GPU per process chosen by LOCAL_RANK) follows torch's documented
use but has not been run here: no GPU was available when it was written.
"""
from __future__ import annotations

import atexit
import dataclasses
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from gankit.config import ConfigError
from gankit import rank_errors
from gankit.rank_errors import launched

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class DistributedError(ConfigError):
    """A data-parallel launch gankit cannot run; the message says how to launch it."""


@dataclass(frozen=True)
class World:
    size: int = 1
    rank: int = 0
    local_rank: int = 0
    local_size: int = 1                 # processes on this machine (threads are shared among them)
    backend: str | None = None          # None: one process, no process group
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """The one process that writes the run folder (nanoGPT's master_process)."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1


_WORLD: World | None = None
_HOSTED = None      # the store this process met the others in, where torchrun's agent hosts none


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except ValueError:
        raise DistributedError(f"environment variable {name}={os.environ[name]!r} is not an integer; "
                               "launch with torchrun (or gankit train ... --nproc N)") from None


def setup(device: torch.device) -> World:
    """This process's place in the run, joining the process group torchrun describes.

    No torchrun variables, or WORLD_SIZE=1: one process, no process group.  Several: gloo
    on the CPU, NCCL on CUDA (each process on the GPU of its LOCAL_RANK).  Idempotent.
    """
    global _WORLD
    if _WORLD is not None and _WORLD.parallel:
        if _WORLD.device.type != device.type:
            raise DistributedError(f"this process joined the run's process group on {_WORLD.device}; "
                                   f"it cannot also train on {device}")
        return _WORLD
    if not launched() and not (dist.is_available() and dist.is_initialized()):
        return World(device=device)
    missing = [k for k in TORCHRUN_ENV if k not in os.environ]
    if dist.is_available() and dist.is_initialized():   # a caller's script joined the group itself
        size, rank = dist.get_world_size(), dist.get_rank()
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
    else:
        if missing:
            raise DistributedError(
                f"this process looks launched by torchrun but lacks {', '.join(missing)}; launch "
                "with `torchrun --nproc-per-node N -m gankit train ...` (or `gankit train ... "
                "--nproc N`), or unset RANK / WORLD_SIZE / LOCAL_RANK for a one-process run")
        size, rank, local_rank = _env_int("WORLD_SIZE"), _env_int("RANK"), _env_int("LOCAL_RANK")
        if size == 1:
            return World(device=device)
        if not 0 <= rank < size:
            raise DistributedError(f"RANK={rank} is outside WORLD_SIZE={size}")
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", size))
    if device.type == "cuda":
        if device.index is not None and size > 1:
            raise DistributedError(f"train.device={device}: with {size} processes each takes the GPU of "
                                   "its LOCAL_RANK; set train.device=cuda (or auto)")
        if local_rank >= torch.cuda.device_count():
            raise DistributedError(f"LOCAL_RANK={local_rank} but this machine has "
                                   f"{torch.cuda.device_count()} GPU(s); start at most that many "
                                   "processes per node (--nproc-per-node)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        if not dist.is_available():
            raise DistributedError("this torch build has no torch.distributed; run one process")
        # torch.distributed.nn.functional binds group.WORLD as its functions' default argument
        # when it is imported.  Imported after the group exists (a first meta-device kernel or
        # torch._dynamo import it), it keeps the group alive past destroy_process_group, and
        # gloo's threads still running at exit aborted a finished process now and then
        # (SIGABRT, "terminate called without an active exception").  Imported now it binds None.
        import torch.distributed.nn.functional  # noqa: F401
        _wait_for_peers(rank, size)
        try:
            dist.init_process_group(backend, rank=rank, world_size=size)
        except Exception as e:   # unreachable master, port taken, NCCL missing: say what to fix
            raise DistributedError(
                f"could not join the process group (backend {backend}, rank {rank} of {size}, "
                f"MASTER_ADDR={os.environ.get('MASTER_ADDR')} MASTER_PORT={os.environ.get('MASTER_PORT')}): "
                f"{type(e).__name__}: {e}. Launch every process with torchrun and the same "
                "--rdzv-endpoint (see docs/scaling.md)") from None
        atexit.register(_teardown)
        rank_errors.mark_alive()
    backend = dist.get_backend()
    if device.type == "cuda" and backend != "nccl" or device.type == "cpu" and backend != "gloo":
        raise DistributedError(f"the process group uses {backend}, which cannot train on {device.type}; "
                               "gankit uses gloo on the CPU and nccl on CUDA")
    _WORLD = World(size, rank, local_rank, local_size, backend, device)
    return _WORLD


def _launch_store(rank: int, size: int):
    """The store the ranks meet in before joining the group: torchrun's agent's, else the one
    init_process_group then uses, hosted by rank 0 from here on (multi-tenant: torch's own
    rendezvous reuses its server); None where there is none to meet in."""
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        return rank_errors._error_store()
    global _HOSTED
    where = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
    try:
        # kept: rank 0's server would end with its last reference, under the other ranks' feet
        _HOSTED = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world_size=size,
                                is_master=rank == 0, timeout=timedelta(seconds=rank_errors.JOIN_WAIT),
                                wait_for_workers=False, multi_tenant=True)
        return _HOSTED
    except Exception as e:
        if rank == 0:       # its port taken: init_process_group says so as it always did
            return None
        raise DistributedError(f"rank 0's store at {where} did not answer within {rank_errors.JOIN_WAIT:.0f} s "
                               f"({type(e).__name__}: {' '.join(str(e).split())[:160]}): rank 0 failed before "
                               "joining (its output says why) "
                               "or was not started; launch every process with the same MASTER_ADDR and "
                               "MASTER_PORT") from None


def _wait_for_peers(rank: int, size: int):
    """Refuses to join the process group when another rank failed before joining it (its error
    said here, as it may be on another machine's screen) or has not come within JOIN_WAIT
    seconds: torch's join would wait for it half an hour without a word."""
    store = _launch_store(rank, size)
    if store is None:
        return
    try:
        failed = rank_errors.wait_for_peers(store)
    except Exception as e:    # the store's host ended (its torchrun, as a rank there failed)
        raise DistributedError(
            f"lost the launch's store at {os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')} while "
            f"waiting for the other processes ({type(e).__name__}: {' '.join(str(e).split())[:160]}); the "
            "torchrun that hosted it ended, as a rank on its machine failed: that machine's output says why") from None
    told = {r: m for r, m in failed.items() if m is not None}
    if told:
        first = min(told)
        if first == 0 and rank and rank_errors.seen_here(0):
            raise DistributedError(told[0])     # rank 0's own error, on this screen already: said once
        raise DistributedError(f"rank {first} failed before joining the run: {told[first]}")
    if failed:
        late = sorted(failed)
        who = f"rank {late[0]}" if len(late) == 1 else "ranks " + ", ".join(map(str, late))
        raise DistributedError(f"{who} did not reach the process group within {rank_errors.JOIN_WAIT:.0f} s and "
                               "reported no error (killed, or stuck before it: its machine's output says which); "
                               "start the run again on every machine")


def _teardown():
    global _HOSTED
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _HOSTED = None      # rank 0's store server and its thread end with the group


def local_config(cfg, world: World):
    """The config an objective sees on this rank: ``train.batch_size`` is the rank's share
    of the global batch (which must divide)."""
    m = cfg.train.batch_size
    if not world.parallel:
        return cfg
    if m % world.size:
        raise ConfigError(f"train.batch_size = {m} is the global batch, split evenly over the "
                          f"{world.size} processes; {m} does not divide by {world.size}: use a "
                          f"multiple such as {max(1, m // world.size) * world.size}")
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, batch_size=m // world.size))


def gather(world: World, obj: Any) -> list:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    if not world.parallel:
        return [obj]
    out: list = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def agree(world: World, obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (e.g. a default run folder named by the clock)."""
    if not world.parallel:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def check_same(world: World, what: str, value: Any, hint: str):
    """Refuses to train when the ranks disagree on ``value`` (a config hash, a version)."""
    values = gather(world, value)
    if any(v != values[0] for v in values):
        by_rank = ", ".join(f"rank {r}: {v}" for r, v in enumerate(values))
        raise DistributedError(f"the processes disagree on {what} ({by_rank}); {hint}")


def broadcast_modules(world: World, modules) -> None:
    """Rank 0's parameters and buffers on every rank."""
    if not world.parallel:
        return
    with torch.no_grad():
        for m in modules:
            for t in m.state_dict().values():
                dist.broadcast(t, src=0)


class GradSync:
    """The loop's ``grad_sync(phase)``: averages the gradients of the parameters the phase's
    optimizer updates, as one flat all-reduce (stylegan2-ada's per-phase sync)."""

    def __init__(self, world: World):
        self.world = world
        self._params: dict[int, list[torch.nn.Parameter]] = {}

    def __call__(self, phase) -> None:
        params = self._params.get(id(phase.optimizer))
        if params is None:
            params = [p for g in phase.optimizer.param_groups for p in g["params"]]
            self._params[id(phase.optimizer)] = params
        # a parameter without a gradient is skipped by the optimizer; which ones have none
        # follows from the nets and the phase, so it is the same on every rank
        live = [p for p in params if p.grad is not None]
        if not live:
            return
        flat = torch.cat([p.grad.reshape(-1) for p in live])
        dist.all_reduce(flat)
        flat /= self.world.size
        for p, g in zip(live, flat.split([p.numel() for p in live])):
            p.grad.copy_(g.view_as(p.grad))


def mean_over_ranks(world: World):
    """The loop's ``reduce_logs``: averages a vector of logged means across ranks, so a
    record is the mean over the global batch, as one process would log it."""
    def reduce(values: torch.Tensor) -> torch.Tensor:
        x = values.to(world.device)
        dist.all_reduce(x)
        return (x / world.size).cpu()
    return reduce


def ratios_over_ranks(pairs: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Each name's sum / count over the global batch, for a logged mean whose count differs by
    rank (SeqGAN's valid tokens: sequences end at different steps).  The loop averages a logged
    number over the ranks (``mean_over_ranks``), a mean of their ratios; summed here (one
    all-reduce; none in one process), every rank logs the ratio of all tokens and the loop's
    mean of equal numbers keeps it."""
    t = sum_over_ranks(torch.stack([torch.stack([num.detach().float(), den.detach().float()])
                                    for num, den in pairs.values()]))
    return dict(zip(pairs, t[:, 0] / t[:, 1]))


def shares_of_all(*counts: torch.Tensor) -> list[torch.Tensor | float]:
    """For each count n of items a loss on this rank is a mean over: n / (the ranks' mean of n).

    The loop averages gradients over the ranks (``GradSync``), a mean of the ranks' means; each
    rank's mean times its share makes that average the mean over all ranks' items, the loss one
    process takes over the global batch (SeqGAN's valid tokens: sequences end at different steps,
    so ranks hold different numbers of them).  1.0 each in one process, without a collective."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return [1.0] * len(counts)
    n = torch.stack([c.detach().to(torch.float64).reshape(()) for c in counts])   # on the run's device
    total = sum_over_ranks(n)
    return list((n * dist.get_world_size() / total.clamp_min(1.0)).to(torch.float32).unbind())


def rows_of_all(x: torch.Tensor) -> tuple[torch.Tensor, slice]:
    """Every rank's ``x`` (the same shape on each) stacked along dim 0 in rank order, and the
    slice that is this rank's: a quantity normalised over the global batch (MaliGAN's weights)
    computed on it as one process would.  ``x`` and all of it in one process."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return x, slice(None)
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    n, r = x.shape[0], dist.get_rank()
    return torch.cat(parts), slice(r * n, (r + 1) * n)


def max_over_ranks(world: World):
    """The loop's ``agree_stop``: the largest of the ranks' integers (their stop signals)."""
    def agree(code: int) -> int:
        x = torch.tensor([code], dtype=torch.int64, device=world.device)
        dist.all_reduce(x, op=dist.ReduceOp.MAX)
        return int(x.item())
    return agree


def sum_over_ranks(x: torch.Tensor) -> torch.Tensor:
    """The sum of ``x`` over the ranks of a data-parallel run (``x`` itself in one process);
    differentiable: the gradient of every rank's copy is the sum of the ranks' gradients."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return x
    return _AllReduceSum.apply(x)


class _AllReduceSum(torch.autograd.Function):
    # torch.distributed.nn.functional.all_reduce does this too (its backward applies itself, as
    # here), but warns (deprecated) on every rank; its suggested replacement,
    # _functional_collectives.all_reduce, is differentiable only in recent torch releases (its
    # autograd is registered with torch.library.register_autograd, new in 2.4; gankit takes 2.2)
    @staticmethod
    def forward(ctx, x):
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, g):
        # the gradient of a sum over ranks is the sum over ranks of the gradients: this same
        # Function, so that under create_graph (R1, the gradient penalty: autograd.grad through
        # SyncBatchNorm's shared statistics) the backward is itself differentiable.  A bare
        # in-place dist.all_reduce here is opaque to autograd ("c10d::allreduce_: an autograd
        # kernel was not registered"): the double backward dropped the other ranks' share and
        # R1's parameter gradients came out 7% off one process's
        return _AllReduceSum.apply(g)
