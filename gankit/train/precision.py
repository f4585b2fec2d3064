"""Mixed precision for the training step: bfloat16 autocast (``train.precision = "bf16"``).

Under ``torch.autocast`` convolutions and matrix products run in bfloat16 while the
weights, optimizer state, batch-norm statistics and losses stay float32: G's and D's
outputs are cast back to float32 by a forward hook, so losses, penalties, packing and
logging see float32 as before.  Sampling and evaluation run in float32 (they are outside
the training step).  bf16 needs no loss scaling (its exponent range is float32's); fp16
would, and is not offered.

Measured reason to have it (``benchmarks/stacked_cpu_step.py --precisions fp32 bf16``): on CPUs with AMX or
AVX512-BF16 a DCGAN step at width 128 runs about twice as fast as in float32; on a
CPU without bf16 units it is slower, so it is off by default.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, ContextManager

import torch
from torch import Tensor, nn

from gankit.config import ConfigError

PRECISIONS = ["fp32", "bf16"]
BF16_OBJECTIVES = ("gan", "infogan", "bigan")    # gankit's objectives with supports_bf16 (tests/test_precision.py)


def bf16_merge_note(x: Tensor) -> str | None:
    """The warning for point data (rows ``x`` as D sees them) that bfloat16 rounding merges:
    under bf16 autocast D's first layer reads its input with 8 significant bits, so points
    closer than bfloat16's step at their magnitude are one point to D (a mode of std 0.05
    near 100 became one input: the step there is 0.5).  None when rounding keeps 90% apart."""
    flat = x.reshape(len(x), -1).float()
    n = len(torch.unique(flat, dim=0))
    kept = len(torch.unique(flat.bfloat16().float(), dim=0))
    if kept >= 0.9 * n:
        return None
    big = float(flat.abs().max())
    step = 2.0 ** (math.floor(math.log2(big)) - 7) if big > 0 else 0.0
    return (f"train.precision = bf16: D reads its input in bfloat16 (8 significant bits), and {n} distinct "
            f"points drawn from the data become {kept} (near {big:.3g} its step is {step:.3g}), so D cannot "
            f"tell nearby points apart; train point data in float32: --set train.precision=fp32")


def _fp32_output(module: nn.Module, args, output):
    """Forward hook: a half-precision tensor output becomes float32 (other outputs pass)."""
    if isinstance(output, Tensor) and output.dtype in (torch.bfloat16, torch.float16):
        return output.float()
    return None


def autocast_for(precision: str, device: torch.device, nets: list[nn.Module], supported: bool = True,
                 objective: str = "gan") -> Callable[[], ContextManager]:
    """A factory of the context the training step's forward passes run in.  For bf16 it
    also hooks ``nets`` so their outputs come back as float32."""
    if precision == "fp32":
        return contextlib.nullcontext
    if precision != "bf16":
        raise ConfigError(f"train.precision: {precision!r} is not one of {PRECISIONS}")
    if not supported:
        # an objective declares it (Objective.supports_bf16) where its step calls its nets' plain
        # forwards, which the float32 output hook sees: sequence GANs sample and score through
        # their nets' own methods; the others were not measured in bf16
        raise ConfigError(f"train.precision = bf16: objective {objective!r} trains in float32 only (an "
                          f"objective declares bf16 with supports_bf16; of gankit's own, "
                          f"{', '.join(BF16_OBJECTIVES)} do): --set train.precision=fp32")
    # bfloat16 units from Ampere (compute capability 8) on; is_bf16_supported() also says yes where
    # older GPUs emulate it (slower than float32), and asks of the current device, not the run's
    if device.type == "cuda" and torch.cuda.get_device_properties(device).major < 8:
        raise ConfigError(f"train.precision = bf16: {device} has no bfloat16 units (compute capability "
                          f"below 8.0); use --set train.precision=fp32")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"train.precision = bf16: autocast is set up for cpu and cuda, "
                          f"not {device.type}; use --set train.precision=fp32")
    for net in nets:
        net.register_forward_hook(_fp32_output)
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
