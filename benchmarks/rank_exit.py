"""How often a finished rank of a 2-process run dies at exit (SIGABRT from gloo threads still
running when C++ static destructors run).  Each round spawns 2 ranks that train a tiny DCGAN
(the meta-device memory estimate runs inside, after the process group exists) and leave the way
a user's own torchrun script does: no explicit teardown, gankit's atexit handler only.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/rank_exit.py --rounds 40

2026-12-05 10:14-10:16 UTC, this 2-core machine, nothing else running: 0 of 10 rounds at
c097d6a; 3 of 30 with the import of torch.distributed.nn.functional ahead of the process group
(gankit/train/distributed.py, 39b9efb) taken out.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile

import torch
import torch.multiprocessing as mp

TINY = ["train.steps=3", "train.batch_size=16", "train.log_every=1", "train.sample_every=100",
        "train.checkpoint_every=3", "train.n_fixed=16", "train.progress=false", "generator.width=8",
        "discriminator.width=8", "noise.dim=8", "data.name=digits8x8", "objective.name=gan",
        "train.parallel_draws=global", "eval.n_samples=64"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, folder: str):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from gankit import config as C
    from gankit.train.run import Run
    Run.create(C.load("mnist-dcgan", TINY), folder).train().close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=20, help="2-process runs to start (each ~3 s here)")
    a = p.parse_args(argv)
    aborted = 0
    for i in range(a.rounds):
        with tempfile.TemporaryDirectory() as d:
            try:
                mp.spawn(_rank, args=(2, _port(), os.path.join(d, "run")), nprocs=2, join=True)
            except mp.ProcessExitedException as e:
                aborted += 1
                print(f"round {i}: {e}", file=sys.stderr)
    print(f"{aborted} of {a.rounds} rounds had a rank die at exit")
    return 1 if aborted else 0


if __name__ == "__main__":
    sys.exit(main())
