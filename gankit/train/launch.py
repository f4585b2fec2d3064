"""``gankit train ... --nproc N``: starts N local processes through torchrun.

It is exactly

    torchrun --standalone --nproc-per-node N -m gankit [--import M ...] train [PRESET] [options]

(torch.distributed.run, the module behind the torchrun command, run in this process).
Several machines need torchrun itself with a rendezvous endpoint; see docs/scaling.md.
"""
from __future__ import annotations

import os
import signal
import sys

from gankit.config import ConfigError
from gankit.train.signals import STOP_SIGNALS

_STOPS = STOP_SIGNALS    # how torchrun (or a user, or a closed terminal) stops a rank
PEER_LEFT = 3     # a rank's exit code when its collective failed because another rank left
_STOPPED = {128 + s for s in _STOPS} | {PEER_LEFT}    # the exit codes of a rank stopped, not failing


def train_argv(a) -> list[str]:
    """The `gankit` arguments that repeat the parsed `train` command ``a`` without --nproc."""
    argv = [x for m in a.imports for x in ("--import", m)] + ["train"]
    if a.config is not None:
        argv.append(a.config)
    if a.out:
        argv.append(f"--out={a.out}")      # a folder named -x is no option
    for kv in a.set:
        argv += ["--set", kv]
    if a.resume:
        argv.append("--resume")
    return argv


def resume_nproc(given: int = 1) -> int | None:
    """The --nproc a resume command carries: ``given`` (this launcher's own --nproc) above 1; in a
    process torchrun started, its world size where the launch is one machine's (--nproc means
    processes on this machine); None where it spans machines (LOCAL_WORLD_SIZE below WORLD_SIZE:
    the same torchrun command on each machine resumes it); else 1, also for a WORLD_SIZE merely
    left in the shell of a plain command (torchrun sets RANK and LOCAL_WORLD_SIZE beside it)."""
    if given > 1:
        return given
    env = os.environ
    try:
        world, local = int(env["WORLD_SIZE"]), int(env["LOCAL_WORLD_SIZE"])
        int(env["RANK"])
    except (KeyError, ValueError):
        return 1
    if world <= 1:
        return 1
    return world if local == world else None


def resume_words(n: int | None) -> tuple[tuple[str, ...], str]:
    """(the words a resume command on ``n`` processes adds, what follows the command)."""
    if n is None:
        return (), " started on every machine by the torchrun command that launched the run"
    return (("--nproc", str(n)) if n > 1 else ()), ""


def check_cores(nproc: int, on_cpu: bool) -> None:
    """--nproc against the cores this process may use, on a CPU run (a GPU run's processes are
    checked against its GPUs as they start: gankit.train.distributed).  More processes than cores
    is said before they start; over 4 per core is refused: 64 processes on 2 cores took minutes of
    c10d socket time-outs, each a stack trace, before (or instead of) training."""
    if not on_cpu:
        return
    from gankit.train.threads import available_cores
    cores = available_cores()
    if nproc <= cores:
        return
    line = (f"--nproc {nproc} starts {nproc} processes on {cores} usable core{'s' if cores != 1 else ''}: "
            "each runs on a fraction of a core, and starting them can take minutes (docs/scaling.md); "
            f"use --nproc {cores} or fewer")
    if nproc > 4 * cores:
        raise ConfigError(line)
    import warnings
    warnings.warn(line, stacklevel=2)


def launch(nproc: int, gankit_argv: list[str], stop_advice=None) -> int:
    """Runs ``python -m gankit *gankit_argv`` on ``nproc`` local processes; their exit code.
    ``stop_advice()``: what the ranks kept and what to run next, asked when a signal stops them
    (the command line's words, gankit.cli_errors.train_stop_advice: "--resume" added to the
    command given fails for a preset or a folder named by the clock)."""
    from gankit.rank_errors import launched
    if launched():
        raise ConfigError("--nproc: this process was itself started by torchrun; drop --nproc (torchrun "
                          "already starts the processes)")
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun
    try:
        torchrun(["--standalone", "--nproc-per-node", str(nproc), "-m", "gankit", *gankit_argv])
    except SignalException as e:    # SIGTERM/SIGINT to the launcher: torchrun passed it on to the ranks
        advice = stop_advice() if stop_advice else "continue with --resume"
        # before the folder exists there is no step to agree on and no checkpoint to write
        how = (" (each stops after a step all agree on and rank 0 writes a checkpoint)"
               if "keeps what was written" in advice or not stop_advice else "")
        print(f"gankit: {e.sigval.name} received: the {nproc} processes were stopped{how}; {advice}",
              file=sys.stderr)
        return 128 + int(e.sigval)
    except ChildFailedError as e:   # each child printed its own `gankit: error: ...`
        codes = {rank: f.exitcode for rank, f in sorted(e.failures.items())}
        print(failure_report(codes, nproc), file=sys.stderr)
        return failure_exit_code(codes)
    return 0


def _as_exit(code: int) -> int:
    """A process's exit code as a shell gives it: killed by signal n (-n) is 128 + n."""
    return 128 - code if code < 0 else code


def _cause(codes: dict[int, int]) -> int | None:
    """The rank whose own failure stopped the run: an error it reported (exit 1, 2) before a
    death by a signal such as SIGABRT; None when every rank was stopped (SIGTERM/SIGINT, or a
    peer gone)."""
    own = [(code < 0, rank) for rank, code in codes.items() if code and _as_exit(code) not in _STOPPED]
    return min(own)[1] if own else None


def failure_exit_code(codes: dict[int, int]) -> int:
    """The launcher's exit code from its failed ranks' ``{rank: exit code}`` (negative: killed
    by that signal).  When one rank fails, torchrun SIGTERMs the others, which exit 143: the
    failing rank's code is the run's.  143/130 only when SIGTERM/SIGINT stopped every rank."""
    cause = _cause(codes)
    if cause is not None:
        return _as_exit(codes[cause])
    return next((_as_exit(c) for c in codes.values() if c), 1)


def _describe(code: int) -> str:
    if code == PEER_LEFT:
        return f"stopped as another left (exit code {code})"
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def failure_report(codes: dict[int, int], nproc: int) -> str:
    """One line: how each rank ended, and which rank's failure the others' stop follows from
    (when torchrun stopped any: ranks that each failed on their own are not said to be stopped)."""
    ranks = ", ".join(f"rank {r}: {_describe(c)}" for r, c in codes.items())
    signalled = {_as_exit(c) for c in codes.values()}
    if signalled <= {128 + s for s in _STOPS}:
        # stopped by a signal (at a step they agreed on, or in an evaluation): each said so, none failed
        names = "/".join(sorted(signal.Signals(x - 128).name for x in signalled))
        who = f"the {nproc} processes" if len(codes) == nproc else f"{len(codes)} of {nproc} processes"
        return f"gankit: {who} stopped on {names} ({ranks}), as said above"
    line = f"gankit: {len(codes)} of {nproc} processes failed ({ranks})"
    cause = _cause(codes)
    stopped = [r for r, c in codes.items() if r != cause and _as_exit(c) in _STOPPED]
    if cause is None or not stopped:
        return line
    others = "the others" if len(stopped) == len(codes) - 1 else \
        ("rank " if len(stopped) == 1 else "ranks ") + ", ".join(map(str, stopped))
    if all(_as_exit(codes[r]) == 128 + signal.SIGTERM for r in stopped):
        return f"{line}; rank {cause}'s failure ended the run (torchrun then stopped {others} with SIGTERM)"
    return f"{line}; rank {cause}'s failure ended the run ({others} stopped with it)"
