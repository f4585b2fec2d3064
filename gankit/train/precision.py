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
from typing import Callable, ContextManager

import torch
from torch import Tensor, nn

from gankit.config import ConfigError

PRECISIONS = ["fp32", "bf16"]


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
        # sequence GANs call their nets' own methods (sampling, log-probabilities), which
        # the float32 output hook does not see; their small recurrent nets gain little
        raise ConfigError(f"train.precision = bf16 is for objectives whose nets run plain forward "
                          f"passes (gan: image and MLP nets); "
                          f"objective {objective!r} trains in float32: --set train.precision=fp32")
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("train.precision = bf16: this GPU has no bfloat16 support; "
                          "use --set train.precision=fp32")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"train.precision = bf16: autocast is set up for cpu and cuda, "
                          f"not {device.type}; use --set train.precision=fp32")
    for net in nets:
        net.register_forward_hook(_fp32_output)
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
