"""How many CPU threads a process's torch ops use (``train.threads``, ``eval.threads``).

0 means auto:
- OMP_NUM_THREADS when it is set (the user, or torchrun, asked; torchrun sets 1 per
  process when it starts several);
- else 1 for point and text data: their nets are small matmuls where, when another
  program holds a core, a second thread makes every op wait for the descheduled one
  (docs/scaling.md, idle machine: the ring demo ran 4x slower with 2 threads beside one
  busy process and not slower with 1; alone, 2 threads were 17-19% faster: the price of
  this default);
- else (images) the cores this process may use, divided among the processes of this
  machine: threads x processes never exceeds the cores unless a number is given.
"""
from __future__ import annotations

import os

import torch

_INTEROP_SET = False


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. under taskset or a
    cluster scheduler's cgroup), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def auto_threads(data_kind: str, processes: int = 1) -> int:
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if data_kind in ("points", "text"):
        return 1
    return max(1, available_cores() // max(1, processes))


def resolve(threads: int, data_kind: str, processes: int = 1) -> int:
    return threads if threads > 0 else auto_threads(data_kind, processes)


def apply(n: int) -> int:
    """Sets torch's intra-op threads to ``n`` (and, once per process, inter-op threads, which
    torch allows only before its first parallel work); returns the previous intra-op count."""
    global _INTEROP_SET
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    if not _INTEROP_SET:
        _INTEROP_SET = True
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:   # parallel work already ran in this process (a test, a notebook)
            pass
    return before
