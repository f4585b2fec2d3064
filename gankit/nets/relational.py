"""Relational memory core (Santoro et al. 2018), the recurrent cell of RelGAN's generator.

The state is a memory of ``slots`` rows of size ``size`` (``heads`` attention heads of
size/heads each).  One step with input x_t:

    M+ = [M; W_in x_t]                                  (slots + 1 rows)
    A  = LayerNorm(M+ + MultiHeadSelfAttention(M+))     (each row attends to memory and input)
    M~ = LayerNorm(A + MLP(A))[:slots]
    i, f = sigmoid(W_i x'_t + U_i tanh M + b_i), sigmoid(W_f x'_t + U_f tanh M + b_f + 1)
    M' = i * tanh(M~) + f * M                           (LSTM-like gates per memory row)

and the output is M' flattened (slots * size).  RelGAN (Nie et al. 2019) replaces the LSTM
of the generator by this cell and trains it with Gumbel-softmax.  The module follows
nn.LSTM's calling convention (batch_first inputs (n, T, E), state in and out), so the
sequence generator's sampling, rollouts and relaxed samples use it unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import ConfigError


class RelationalMemory(nn.Module):
    def __init__(self, input_size: int, slots: int, heads: int, size: int, forget_bias: float = 1.0):
        super().__init__()
        if size % heads:
            raise ConfigError(f"generator: the relational memory's row size (hidden = {size}) must be "
                              f"divisible by its heads ({heads}); e.g. --set generator.hidden={heads * max(1, size // heads)}")
        self.slots, self.heads, self.size = slots, heads, size
        self.hidden_size = slots * size
        self.forget_bias = forget_bias
        self.inp = nn.Linear(input_size, size)
        self.qkv = nn.Linear(size, 3 * size)
        self.mlp = nn.Sequential(nn.Linear(size, size), nn.ReLU(), nn.Linear(size, size))
        self.ln_att, self.ln_mlp = nn.LayerNorm(size), nn.LayerNorm(size)
        self.gate_x = nn.Linear(size, 2 * size)
        self.gate_m = nn.Linear(size, 2 * size, bias=False)

    def initial(self, n: int, like: Tensor) -> Tensor:
        """Santoro et al.'s start: row r is the r-th unit vector (zeros past ``size``)."""
        m = torch.eye(self.slots, self.size, dtype=like.dtype, device=like.device)
        return m.expand(n, -1, -1)

    def step(self, x: Tensor, memory: Tensor) -> Tensor:
        n, s, d = memory.shape
        xi = self.inp(x)[:, None]                                          # (n, 1, d)
        mp = torch.cat([memory, xi], 1)                                    # (n, s + 1, d)
        q, k, v = self.qkv(mp).view(n, s + 1, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, s + 1, d)
        a = self.ln_att(mp + att)
        nxt = self.ln_mlp(a + self.mlp(a))[:, :s]
        ig, fg = (self.gate_x(xi) + self.gate_m(torch.tanh(memory))).chunk(2, -1)
        return torch.sigmoid(ig) * torch.tanh(nxt) + torch.sigmoid(fg + self.forget_bias) * memory

    def forward(self, inputs: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """inputs (n, T, E) -> (outputs (n, T, slots * size), the last memory (n, slots, size))."""
        memory = self.initial(len(inputs), inputs) if state is None else state
        out = []
        for t in range(inputs.shape[1]):
            memory = self.step(inputs[:, t], memory)
            out.append(memory.reshape(len(inputs), -1))
        return torch.stack(out, 1), memory
