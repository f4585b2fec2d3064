"""torch's global random streams as a Run owns them: the CPU generator and, on a GPU (or
mps, xpu), the generator of the run's own device.

Dropout, penalty interpolation, instance noise and Langevin noise draw from the global
generator of the device their tensors live on, so a run on a GPU owns that device's
generator as it owns the CPU's: seeded from the run's seed (each rank from its own), forked
around the run's work so the caller's is put back, and saved in checkpoints.  Only the run's
device is touched: ``torch.manual_seed`` would seed every GPU of the process.
"""
from __future__ import annotations

import copy

import torch

# the global generators' fork and seed are gankit.seeds' (metrics use them too)
from gankit.seeds import device_state, forked, fresh_device_state, seed, set_device_state  # noqa: F401


def saved(device: torch.device, state: torch.Tensor | None) -> dict:
    """What a checkpoint's streams hold of the device's generator (nothing on the CPU)."""
    return {} if state is None else {"torch_device": state, "torch_device_type": device.type}


def restored(own: dict, device: torch.device, seed: int) -> torch.Tensor | None:
    """The device generator's state to continue from: the saved one where it was saved on
    this kind of device (a CUDA state means nothing to mps), else one seeded with ``seed``
    (a run moved between devices, or a checkpoint written before device streams were saved)."""
    state = own.get("torch_device")
    if (own.get("torch_device_type") == device.type and isinstance(state, torch.Tensor)
            and state.dtype == torch.uint8 and state.dim() == 1):
        return state
    return fresh_device_state(device, seed)


def global_window(state: dict) -> tuple[dict, int]:
    """The loss sums since the last record of a checkpoint written by another number of
    processes, as every rank of this world takes them: the mean of the saved ranks' sums (a
    record is the mean over ranks of each rank's means, so these count the global batch; each
    rank's own window would weigh a rank new to the run, or drop a rank gone from it, and ranks
    holding different keys would all-reduce vectors of different lengths and wait forever)."""
    windows = [(r or {}).get("losses") or {} for r in (state.get("rng_ranks") or [state["rng"]])]
    sums: dict = {}
    for w in windows:
        for k, v in (w.get("sums") or {}).items():
            sums[k] = sums.get(k, 0) + torch.as_tensor(v) / len(windows)
    return sums, max((int(w.get("count") or 0) for w in windows), default=0)


def on_cpu(state):
    """``state`` with every tensor in it copied to the CPU (dicts, lists and tuples rebuilt):
    a pickled CUDA tensor gathered to another rank is rebuilt on its own device index there."""
    if isinstance(state, torch.Tensor):
        return state.cpu().detach()
    if isinstance(state, dict):        # a copy keeps the dict's own kind (an OrderedDict, a Counter)
        out = copy.copy(state)
        out.update((k, on_cpu(v)) for k, v in state.items())
        return out
    if type(state) in (list, tuple):
        return type(state)(on_cpu(v) for v in state)
    return state
