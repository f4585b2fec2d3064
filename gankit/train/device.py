"""The torch device a run trains on, from its config's ``train.device``."""
from __future__ import annotations

import torch

from gankit import config as C


def resolve_device(name: str) -> torch.device:
    """The torch device of `train.device`; "auto" is the first GPU when there is one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise C.ConfigError(f"train.device: {name!r} is not a torch device; use cpu, cuda, cuda:1 "
                            "or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise C.ConfigError("train.device: CUDA is not available on this machine; "
                            "use --set train.device=cpu (or auto)")
    available = {"cpu": lambda: True, "cuda": lambda: True,
                 "mps": lambda: torch.backends.mps.is_available(),
                 "xpu": lambda: hasattr(torch, "xpu") and torch.xpu.is_available()}
    if device.type not in available:
        raise C.ConfigError(f"train.device: gankit trains on cpu, cuda (or mps, xpu where present), not "
                            f"{device.type!r}; use --set train.device=cpu (or auto)")
    if not available[device.type]():
        raise C.ConfigError(f"train.device: {device.type} is not available on this machine; "
                            "use --set train.device=cpu (or auto)")
    return device
