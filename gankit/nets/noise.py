"""G's input noise prior p_z."""
from __future__ import annotations

import torch


def sample_noise(n: int, dim: int, dist: str, generator: torch.Generator,
                 device: str | torch.device = "cpu") -> torch.Tensor:
    """z ~ N(0, I) or U(-1, 1)^dim, drawn from an explicit generator."""
    if dist == "normal":
        z = torch.randn(n, dim, generator=generator, device=generator.device)
    elif dist == "uniform":
        z = 2 * torch.rand(n, dim, generator=generator, device=generator.device) - 1
    else:
        raise ValueError(f"noise.dist: unknown prior {dist!r}; valid choices: normal, uniform")
    return z.to(device)
