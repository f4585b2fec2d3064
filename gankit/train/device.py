"""The torch device a run trains on, from its config's ``train.device``."""
from __future__ import annotations

import torch

from gankit import config as C

_AVAILABLE = {"cpu": lambda: True, "cuda": lambda: torch.cuda.is_available(),
              "mps": lambda: torch.backends.mps.is_available(),
              "xpu": lambda: hasattr(torch, "xpu") and torch.xpu.is_available()}


def missing(device: torch.device) -> str | None:
    """Why this machine lacks ``device`` ("mps is not available on this machine"), or None when
    it has it.  A device type gankit does not train on is not "missing": resolve_device names it."""
    if device.type not in _AVAILABLE:
        return None
    if not _AVAILABLE[device.type]():
        return ("CUDA is not available on this machine" if device.type == "cuda"
                else f"{device.type} is not available on this machine")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        n = torch.cuda.device_count()
        names = "cuda:0" if n == 1 else f"cuda:0 to cuda:{n - 1}"
        return f"this machine has {n} CUDA device{'s' if n != 1 else ''} ({names}), not {device}"
    return None


def resolve_device(name: str) -> torch.device:
    """The torch device of `train.device`; "auto" is the first GPU when there is one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise C.ConfigError(f"train.device: {name!r} is not a torch device; use cpu, cuda, cuda:1 "
                            "or auto") from None
    if device.type not in _AVAILABLE:
        raise C.ConfigError(f"train.device: gankit trains on cpu, cuda (or mps, xpu where present), not "
                            f"{device.type!r}; use --set train.device=cpu (or auto)")
    why = missing(device)
    if why:
        raise C.ConfigError(f"train.device: {why}; use --set train.device=cpu (or auto)")
    return device
