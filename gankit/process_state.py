"""What a gankit computation holds of the process while it runs.

torch's global random generator and its default dtype belong to the whole process, not to a
thread.  gankit keeps a run's randomness its own (``torch.random.fork_rng`` around the
initialisation, the training and each evaluation: the generator's state is saved, set to the
run's, and put back) and builds its nets and noise in float32.  Two gankit computations at
once, in two threads, would overwrite each other's generator state (each run's weights then
depend on the other's timing), and a caller's ``torch.set_default_dtype(torch.float64)``
would build float64 nets and draw other noise.

``held`` makes each gankit computation (building or opening a Run, training, evaluating,
sampling) the process's only one while it runs: another thread's waits, and says so once;
the same thread may nest them.  Inside, the default dtype is float32, the caller's put back
after.  What gankit cannot guard: a thread that draws from torch's generator itself while a
gankit computation runs in another (docs/reliability.md).
"""
from __future__ import annotations

import functools
import sys
import threading
from contextlib import contextmanager

import torch

_LOCK = threading.RLock()

WAITING = ("gankit: waiting for the gankit computation in another thread to end (torch's random "
           "generator and default dtype are shared by the whole process: two at once would change "
           "each other's results)")


@contextmanager
def held():
    if not _LOCK.acquire(blocking=False):
        try:
            print(WAITING, file=sys.stderr, flush=True)
        except (OSError, ValueError, AttributeError):    # no stderr to say it on: wait all the same
            pass
        _LOCK.acquire()
    try:
        before = torch.get_default_dtype()
        if before is not torch.float32:
            torch.set_default_dtype(torch.float32)
        try:
            yield
        finally:
            if before is not torch.float32:
                torch.set_default_dtype(before)
    finally:
        _LOCK.release()


def holding(fn):
    """``fn`` runs ``held``."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        with held():
            return fn(*args, **kwargs)
    return inner


def trainable(fn):
    """``fn`` runs ``held``, with gradients on even when the caller turned them off
    (``torch.no_grad``, ``torch.inference_mode``: serving code often runs under one), so the
    nets it builds are ordinary tensors and training can differentiate."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        with held(), torch.inference_mode(False), torch.enable_grad():
            return fn(*args, **kwargs)
    return inner
