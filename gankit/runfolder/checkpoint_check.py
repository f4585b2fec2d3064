"""Is a loaded file shaped like a gankit checkpoint?  torch.load(weights_only=True) runs no
code, but a file with valid CRCs may still hold a list where the weights were, a string for
the step or a random state of three bytes; each of those failed later with a traceback, deep in
a load or mid-training.  ``checkpoint_fault`` names the first such part, so the file is skipped
as damaged (an older checkpoint taken instead) and the reason printed in one line."""
from __future__ import annotations

import numbers
from collections.abc import Mapping

import torch


def _number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _tensor_table(x) -> bool:
    return isinstance(x, Mapping) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in x.items())


def _generator_state(x, length: int | None) -> bool:
    return isinstance(x, torch.Tensor) and x.dtype == torch.uint8 and x.dim() == 1 and \
        (length is None or x.numel() == length)


def _rng_fault(rng, where: str) -> str | None:
    if not isinstance(rng, Mapping):
        return f"{where} is {type(rng).__name__}, not a table of random states"
    cpu = torch.get_rng_state().numel()
    if not _generator_state(rng.get("torch"), cpu):
        return f"{where}.torch is not a random state of {cpu} bytes"
    for k in ("data", "cond"):
        if k in rng and not _generator_state(rng[k], cpu):
            return f"{where}.{k} is not a random state of {cpu} bytes"
    if "noise" in rng and not _generator_state(rng["noise"], cpu if rng.get("noise_device", "cpu") == "cpu" else None):
        return f"{where}.noise is not a random state"
    losses = rng.get("losses")
    if losses is not None and not (isinstance(losses, Mapping) and isinstance(losses.get("sums") or {}, Mapping)
                                   and _number(losses.get("count") or 0)):
        return f"{where}.losses is not a table of sums and a count"
    return None


def checkpoint_fault(state) -> str | None:
    """What in ``state`` (a loaded checkpoint) is not what gankit writes, or None."""
    if not isinstance(state, Mapping) or "models" not in state:
        return "not a gankit checkpoint"
    step = state.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        return f"its step is {step!r}, not a whole number"
    models = state["models"]
    if not isinstance(models, Mapping) or not models:
        return "models is not a table of networks"
    for k, v in models.items():
        if not _tensor_table(v):
            return f"models.{k} is {type(v).__name__}, not a table of tensors"
    optimizers = state.get("optimizers", {})
    if not isinstance(optimizers, Mapping) or not all(isinstance(v, Mapping) for v in optimizers.values()):
        return "optimizers is not a table of states"
    if not isinstance(state.get("objective", {}), Mapping):     # its parts' own layout (an objective's choice)
        return "objective is not a table"
    if not isinstance(state.get("config", {}), Mapping):
        return "config is not a table"
    span = state.get("schedule_span")
    if span is not None and not (isinstance(span, (list, tuple)) and len(span) == 2 and all(map(_number, span))):
        return f"schedule_span is {span!r}, not two numbers"
    if not isinstance(state.get("schedule") or {}, Mapping):
        return "schedule is not a table"
    if not _number(state.get("train_time", 0.0)):
        return f"train_time is {state.get('train_time')!r}, not a number"
    fault = _rng_fault(state.get("rng"), "rng")
    if fault:
        return fault
    for i, own in enumerate(state.get("rng_ranks") or []):
        if own is not None and (fault := _rng_fault(own, f"rng_ranks[{i}]")):
            return fault
    for part in ("models", "optimizers", "objective"):
        if (where := _nonfinite(state.get(part), part)) is not None:
            return f"{where} holds NaN or inf (gankit never saves such a state)"
    return None


def _nonfinite(x, path: str) -> str | None:
    """The path of the first floating tensor in nested tables and lists that is not finite: a
    file gankit did not write (training refuses to save one), which would load and train or
    sample NaN."""
    if isinstance(x, torch.Tensor):
        return path if (x.is_floating_point() or x.is_complex()) and not bool(torch.isfinite(x).all()) else None
    items = x.items() if isinstance(x, Mapping) else enumerate(x) if isinstance(x, (list, tuple)) else ()
    for k, v in items:
        if (found := _nonfinite(v, f"{path}.{k}")) is not None:
            return found
    return None
