"""What a gankit computation holds of the process while it runs.

torch's global random generator and its default dtype belong to the whole process, not to a
thread.  gankit keeps a run's randomness its own (gankit.train.rng_state around the
initialisation and the training, ``torch.random.fork_rng`` around each evaluation: the CPU
generator's state, and on a GPU that GPU's, is saved, set to the run's, and put back) and builds its nets and noise in float32.  Two gankit computations at
once, in two threads, would overwrite each other's generator state (each run's weights then
depend on the other's timing), and a caller's ``torch.set_default_dtype(torch.float64)``
would build float64 nets and draw other noise.

``held`` makes each gankit computation (building or opening a Run, training, evaluating,
an API call) the process's only one while it runs: another thread's waits, and says so once;
the same thread may nest them.  Inside, the default dtype is float32 and a caller's
``torch.autocast`` is off (``autocast_off``: train.precision alone decides the arithmetic; a
caller's bf16 autocast would give bfloat16 samples and record the numbers of a c2st trained in
bfloat16), the caller's put back after.  Run.sample is not held (it draws from explicit
generators, in float32): a user's metric may sample from its own threads during an evaluation.
A child forked meanwhile starts with a lock of its own.  What gankit cannot guard: a thread that
draws from torch's generator itself while a gankit computation runs in another
(docs/reliability.md).
"""
from __future__ import annotations

import functools
import os
import sys
import threading
from contextlib import ExitStack, contextmanager

import torch

_LOCK = threading.RLock()


def _fresh_lock():
    """A child forked while a thread held the lock has no such thread: it starts with its own."""
    global _LOCK
    _LOCK = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_lock)

WAITING = ("gankit: waiting for the gankit computation in another thread to end (torch's random "
           "generator and default dtype are shared by the whole process: two at once would change "
           "each other's results)")


def _autocasting() -> list[str]:
    """The device types (of gankit's: cpu, cuda) whose autocast the calling thread switched on."""
    try:
        return [d for d in ("cpu", "cuda") if torch.is_autocast_enabled(d)]
    except TypeError:     # torch < 2.4: no device argument
        return [d for d, on in (("cpu", torch.is_autocast_cpu_enabled()), ("cuda", torch.is_autocast_enabled()))
                if on]


@contextmanager
def autocast_off():
    """The calling thread's autocast off (it is the thread's own), the caller's back on leaving; a
    nested ``torch.autocast`` (train.precision = bf16) switches it on again for its block alone."""
    with ExitStack() as off:
        for device in _autocasting():
            off.enter_context(torch.autocast(device, enabled=False))
        yield


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
            with autocast_off():
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


@contextmanager
def gradients_on():
    """Gradients on even when the caller turned them off (``torch.no_grad``,
    ``torch.inference_mode``: serving code often runs under one): what gankit builds or loads here
    is an ordinary tensor, and what it trains can differentiate."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def trainable(fn):
    """``fn`` runs ``held``, with ``gradients_on``."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        with held(), gradients_on():
            return fn(*args, **kwargs)
    return inner
