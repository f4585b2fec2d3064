"""How many CPU threads a process's torch ops use (``train.threads``, ``eval.threads``).

0 means auto:
- OMP_NUM_THREADS when it is set (the user, or torchrun, asked; torchrun sets 1 per
  process when it starts several);
- else, when every layer of the run's nets gives the same bits whatever the thread count
  (``thread_invariant``: linear layers, embeddings, LSTM/GRU, elementwise activations; the
  point and text presets), and this machine's math library confirms it for the run's own
  layer shapes and batch (``same_bits``: on some CPUs MKL splits a linear layer's products
  among threads, and the last bits change), the count follows the machine's load while training
  (``LoadFollower``): 1 thread while another program holds a core, else the faster of 1
  and 2 as measured during the run.  On the idle 2-core machine (docs/scaling.md) the ring
  demo ran ~25% faster with 2 threads than with 1 alone, and 5x slower with 2 beside one
  busy process (every op waits for the descheduled thread), while ring-vanilla ran faster
  with 1 even alone: no fixed count is right for all; since the results do not depend on
  the count, following the load and the measured speed costs no reproducibility;
- else 1 for point and text data (small matmuls, see above);
- else (images) the cores this process may use, divided among the processes of this
  machine: threads x processes never exceeds the cores unless a number is given.  Batch
  norm, layer norm and convolutions change their last bits with the thread count
  (measured: BatchNorm1d, LayerNorm, mnist-dcgan's nets), so their count stays fixed.
"""
from __future__ import annotations

import copy
import os
import time

import torch
from torch import nn

from gankit import seeds

_INTEROP_SET = False
# gankit's own process (own_process): a program that only calls gankit (a notebook, a script) keeps
# the inter-op count its own, since torch lets a process set it once and never again
_OWN_PROCESS = False


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


def own_process():
    """Marks this process as gankit's own (gankit.cli: the gankit command and each rank torchrun
    starts for it): apply then also sets the inter-op threads."""
    global _OWN_PROCESS
    _OWN_PROCESS = True


def apply(n: int) -> int:
    """Sets torch's intra-op threads to ``n`` and returns the previous count (the caller puts it
    back).  In gankit's own process (own_process) also, once, the inter-op threads, which torch
    allows only before its first parallel work and never undoes; a library call leaves them to
    the program that called it (api.evaluate in a notebook: its own set_num_interop_threads
    would fail after ours)."""
    global _INTEROP_SET
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    if _OWN_PROCESS and not _INTEROP_SET:
        _INTEROP_SET = True
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:   # parallel work already ran in this process (a test)
            pass
    return before


# leaf layers whose forward and backward gave identical bits with 1 and 2 threads (tests/
# test_threads.py checks each); containers (Sequential, ModuleList, ...) have children and
# are judged by their leaves
_INVARIANT = (nn.Linear, nn.Bilinear, nn.Identity, nn.Embedding, nn.LSTM, nn.GRU, nn.RNN,
              nn.Dropout, nn.Flatten, nn.Unflatten, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid,
              nn.ELU, nn.GELU, nn.SiLU, nn.Softplus, nn.Hardtanh)
# more threads than this are not measured to help the small nets that qualify
ADAPTIVE_MAX = 2


def thread_invariant(modules) -> bool:
    """True when every leaf layer of ``modules`` is one whose results do not depend on
    the thread count."""
    return all(isinstance(m, _INVARIANT)
               for module in modules for m in module.modules() if not list(m.children()))


_AGREED: dict[tuple, bool] = {}    # probe -> verdict, per process (the machine does not change)
_SEQ = 8    # time steps of a recurrent layer's probe


def _probe_input(m: nn.Module, batch: int, g: torch.Generator):
    if isinstance(m, nn.Linear):
        return (torch.randn(batch, m.in_features, generator=g),)
    if isinstance(m, nn.Bilinear):
        return torch.randn(batch, m.in1_features, generator=g), torch.randn(batch, m.in2_features, generator=g)
    if isinstance(m, nn.Embedding):
        return (torch.randint(0, m.num_embeddings, (batch, _SEQ), generator=g),)
    if isinstance(m, nn.RNNBase):
        shape = (batch, _SEQ) if m.batch_first else (_SEQ, batch)
        return (torch.randn(*shape, m.input_size, generator=g),)
    return None      # elementwise: nothing for threads to split differently


def _pass(layer: nn.Module, inputs, n: int):
    """The layer's output and every gradient it gives: its weights' and its input's (the one that
    flows back to the layers before it, and through D into G)."""
    torch.set_num_threads(n)
    layer.zero_grad(set_to_none=True)
    inputs = [x.detach().requires_grad_() if x.is_floating_point() else x for x in inputs]
    with seeds.forked(seeds.CPU):     # a recurrent layer's dropout draws the same
        seeds.seed(seeds.CPU, 0)
        out = layer(*inputs)
    out = out[0] if isinstance(out, tuple) else out
    out.float().pow(2).mean().backward()
    return ([out.detach()] + [p.grad.clone() for p in layer.parameters() if p.grad is not None]
            + [x.grad.clone() for x in inputs if x.grad is not None])


def same_bits(modules, batches) -> bool:
    """Whether each layer with weights of ``modules`` (a copy, at its own shape, in float32 on the
    CPU) gives the same forward and backward bits (output, weight and input gradients) with 1 and
    ADAPTIVE_MAX threads for each batch size of ``batches`` on this machine.  Measured once per
    shape in a process, a few passes (milliseconds for the point and text presets' nets)."""
    before = torch.get_num_threads()
    try:
        for module in modules:
            for m in module.modules():
                for batch in batches:
                    key = (type(m).__name__, repr(m), int(batch))
                    if key not in _AGREED:
                        inputs = _probe_input(m, int(batch), torch.Generator().manual_seed(0))
                        if inputs is None:
                            continue
                        with torch.enable_grad():
                            layer = copy.deepcopy(m).float().cpu().train()
                            a, b = _pass(layer, inputs, 1), _pass(layer, inputs, ADAPTIVE_MAX)
                        _AGREED[key] = len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))
                    if not _AGREED[key]:
                        return False
    finally:
        torch.set_num_threads(before)
    return True


def resumed_count_note(sessions: list[dict], n: int, world_size: int, modules, batch: int) -> str | None:
    """A resume at another thread count than the run's previous session, for nets whose bits
    depend on the count on this machine: the run will not end with the weights it would have
    at one count throughout (the resume's promise), so say so and how to keep the count."""
    last = next((r for r in reversed(sessions) if isinstance(r.get("threads"), int)), None)
    if last is None or last["threads"] == n or last.get("world_size", 1) != world_size \
            or last.get("threads_follow_load"):
        return None
    modules = list(modules)
    if thread_invariant(modules) and same_bits(modules, (batch, 2 * batch)):
        return None
    was = last["threads"]
    return (f"this session trains with {n} thread{'s' * (n != 1)}, the run's previous one with {was}: on this "
            "machine the run's nets give other last bits at another count, so the run will not be "
            f"bit-identical to one trained at {was} throughout (--set train.threads={was} keeps its count)")


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy ticks of all CPUs, busy ticks of this process) from /proc, or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)     # idle + iowait
    busy = sum(fields[:8]) - idle                                  # guest time is inside user
    return busy, int(own[11]) + int(own[12])                       # utime + stime, all threads


class LoadFollower:
    """A training callback that picks 1 or ``max_threads`` threads once a second.

    While another program uses a core, 1 (two threads would wait on the descheduled one).
    While the cores are free, whichever count ran faster: both are measured, the other one
    again for one interval every ``explore_every`` seconds (on this machine 2 threads won
    for the `ring` preset and lost for `ring-vanilla`: docs/scaling.md).  Only for
    thread-invariant nets, so the run's numbers are the same whatever it picks
    (tests/test_threads.py)."""

    def __init__(self, max_threads: int, interval: float = 1.0, explore_every: float = 15.0,
                 reader=None, clock=None):
        self.max, self.interval, self.explore_every = max_threads, interval, explore_every
        self.read, self.clock = reader or _cpu_ticks, clock or time.monotonic
        self.cores = available_cores()
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.last = (self.clock(), self.read())
        self.last_step = None
        self.rates: dict[int, tuple[float, float]] = {}    # threads -> (steps/s, when measured)
        self.switches = 0

    def initial(self) -> int:
        """A first count from the 1-minute load average, until the first look."""
        try:
            load = os.getloadavg()[0]
        except OSError:
            return 1
        return max(1, min(self.max, int(self.cores - load + 0.3)))

    def others(self) -> float | None:
        """Cores used by other processes since the last look."""
        now, ticks = self.clock(), self.read()
        (t0, before), self.last = self.last, (now, ticks)
        if ticks is None or before is None or now <= t0:
            return None
        busy = (ticks[0] - before[0]) - (ticks[1] - before[1])
        return max(0.0, busy / self.hz / (now - t0))

    def choose(self, used: float, current: int, rate: float | None, now: float) -> int:
        # a process spinning on one core reads as ~1.0 (~0.7 while our 2 threads share the
        # cores with it); background noise as < 0.3
        if int(self.cores - used + 0.3) < 2:
            return 1
        if rate is not None:
            self.rates[current] = (rate, now)
        other = 1 if current != 1 else self.max
        known = self.rates.get(other)
        if rate is None or known is None or now - known[1] > self.explore_every:
            return other if rate is not None else current
        return current if rate >= known[0] else other

    def on_step_end(self, trainer):
        t0 = self.last[0]
        if self.clock() - t0 < self.interval:
            return
        step, start = trainer.step, self.last_step
        used = self.others()
        self.last_step = step
        if used is None:
            return
        rate = (step - start) / (self.last[0] - t0) if start is not None else None
        current = torch.get_num_threads()
        want = self.choose(used, current, rate, self.last[0])
        if want != current:
            torch.set_num_threads(want)
            self.switches += 1


def follower(threads: int, modules, processes: int = 1, batch: int = 64) -> LoadFollower | None:
    """The load follower for ``train.threads`` when it applies (auto, no OMP_NUM_THREADS,
    thread-invariant nets, confirmed on this machine at ``batch`` and twice it (D may see real
    and fake together), /proc readable), else None."""
    if threads > 0 or os.environ.get("OMP_NUM_THREADS", "").strip() or _cpu_ticks() is None:
        return None
    top = min(ADAPTIVE_MAX, available_cores() // max(1, processes))
    modules = list(modules)
    if top < 2 or not thread_invariant(modules) or not same_bits(modules, (batch, 2 * batch)):
        return None
    return LoadFollower(top)
