"""``gankit train ... --nproc N``: starts N local processes through torchrun.

It is exactly

    torchrun --standalone --nproc-per-node N -m gankit [--import M ...] train [PRESET] [options]

(torch.distributed.run, the module behind the torchrun command, run in this process).
Several machines need torchrun itself with a rendezvous endpoint; see docs/scaling.md.
"""
from __future__ import annotations

import sys

from gankit.config import ConfigError


def train_argv(a) -> list[str]:
    """The `gankit` arguments that repeat the parsed `train` command ``a`` without --nproc."""
    argv = [x for m in a.imports for x in ("--import", m)] + ["train"]
    if a.config is not None:
        argv.append(a.config)
    if a.out:
        argv += ["--out", a.out]
    for kv in a.set:
        argv += ["--set", kv]
    if a.resume:
        argv.append("--resume")
    return argv


def launch(nproc: int, gankit_argv: list[str]) -> int:
    """Runs ``python -m gankit *gankit_argv`` on ``nproc`` local processes; their exit code."""
    from gankit.train.distributed import launched
    if launched():
        raise ConfigError("--nproc: this process was itself started by torchrun; drop --nproc (torchrun "
                          "already starts the processes)")
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun
    try:
        torchrun(["--standalone", "--nproc-per-node", str(nproc), "-m", "gankit", *gankit_argv])
    except SignalException as e:    # SIGTERM/SIGINT to the launcher: torchrun passed it on to the ranks
        print(f"gankit: {e.sigval.name} received: the {nproc} processes were stopped (each stops after "
              "a step all agree on and rank 0 writes a checkpoint); continue with --resume", file=sys.stderr)
        return 128 + int(e.sigval)
    except ChildFailedError as e:   # each child printed its own `gankit: error: ...`
        codes = [f.exitcode for f in e.failures.values()]
        print(f"gankit: {len(codes)} of {nproc} processes failed (exit codes {codes})", file=sys.stderr)
        return next((c for c in codes if c and c > 0), 1)
    return 0
