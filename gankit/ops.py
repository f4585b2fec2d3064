"""Small tensor operations shared by several layers (data, nets, train): no gankit imports.

- ``sample_noise``: G's input noise prior p_z;
- ``inverse_cdf_sample``: a categorical draw from explicit uniforms;
- ``PAD`` / ``UNK``: the token ids every vocabulary reserves.
"""
from __future__ import annotations

import torch
from torch import Tensor

PAD, UNK = 0, 1     # reserved token ids: padding, the unknown word


def sample_noise(n: int, dim: int, dist: str, generator: torch.Generator,
                 device: str | torch.device = "cpu") -> torch.Tensor:
    """z ~ N(0, I) or U(-1, 1)^dim in float32 (whatever torch's default dtype), drawn from an
    explicit generator."""
    if dist == "normal":
        z = torch.randn(n, dim, generator=generator, device=generator.device, dtype=torch.float32)
    elif dist == "uniform":
        z = 2 * torch.rand(n, dim, generator=generator, device=generator.device, dtype=torch.float32) - 1
    else:
        raise ValueError(f"noise.dist: unknown prior {dist!r}; valid choices: normal, uniform")
    return z.to(device)


def inverse_cdf_sample(logits: Tensor, u: Tensor) -> Tensor:
    """The token whose CDF interval under softmax(logits) holds u: a categorical draw given
    u ~ U[0, 1) (several times faster than torch.multinomial on CPU, and explicit randomness)."""
    cdf = torch.softmax(logits.float(), -1).cumsum(-1)
    tok = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(-1).contiguous()).squeeze(-1)
    return tok.clamp_max(logits.shape[-1] - 1)
