"""Multilayer perceptrons for G and D (the paper's networks are MLPs)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor, nn

from gankit.registry import DISCRIMINATORS, GENERATORS
from gankit.config import ConfigError, opt

ACTIVATIONS = ["relu", "leakyrelu", "tanh", "sigmoid", "elu", "maxout"]
NORMS = ["none", "batch", "layer"]
OUTPUTS = ["none", "tanh", "sigmoid"]


class Maxout(nn.Module):
    """max over k affine pieces: h_j = max_i (W_ij x + b_ij)."""

    def __init__(self, d_in: int, d_out: int, pieces: int):
        super().__init__()
        self.d_out, self.pieces = d_out, pieces
        self.linear = nn.Linear(d_in, d_out * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).view(*x.shape[:-1], self.d_out, self.pieces).amax(-1)


def _activation(name: str, slope: float) -> nn.Module:
    return {"relu": nn.ReLU(), "leakyrelu": nn.LeakyReLU(slope), "tanh": nn.Tanh(),
            "sigmoid": nn.Sigmoid(), "elu": nn.ELU()}[name]


def mlp_body(d_in: int, hidden: list[int], activation: str, pieces: int, dropout: float,
             norm: str, slope: float, input_dropout: float = 0.0) -> tuple[nn.Sequential, int]:
    """Hidden layers of an MLP; returns the module and its output width."""
    layers: list[nn.Module] = []
    if input_dropout > 0:
        layers.append(nn.Dropout(input_dropout))
    d = d_in
    for width in hidden:
        if activation == "maxout":
            layers.append(Maxout(d, width, pieces))
        else:
            layers.append(nn.Linear(d, width))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(width))
        elif norm == "layer":
            layers.append(nn.LayerNorm(width))
        if activation != "maxout":
            layers.append(_activation(activation, slope))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        d = width
    return nn.Sequential(*layers), d


@dataclass
class MLPParams:
    hidden: list[int] = opt([128, 128, 128], "widths of the hidden layers ([] = one linear layer)")
    activation: str = opt("relu", "hidden activation", choices=ACTIVATIONS)
    pieces: int = opt(2, "pieces per maxout unit (activation = maxout)", ge=2)
    slope: float = opt(0.2, "negative slope of leakyrelu", ge=0)
    dropout: float = opt(0.0, "dropout after each hidden layer", ge=0, le=0.95)
    norm: str = opt("none", "normalisation after each hidden linear layer", choices=NORMS)

    def check(self, where):
        if any(w < 1 for w in self.hidden):
            raise ConfigError(f"{where}.hidden: every width must be >= 1, got {self.hidden}")


@dataclass
class MLPGParams(MLPParams):
    output: str = opt("none", "activation of G's output layer: tanh bounds samples to [-1, 1] (images), "
                      "sigmoid to [0, 1]; none leaves them unbounded (points)", choices=OUTPUTS)


@dataclass
class MLPDParams(MLPParams):
    input_dropout: float = opt(0.0, "dropout on D's input (the paper's maxout D used it)", ge=0, le=0.95)
    softmax2: bool = opt(False, "two outputs + softmax (seed 001); the logit is their difference")


class MLPGenerator(nn.Module):
    """z (n, noise_dim) -> x (n, out_dim)."""

    def __init__(self, in_dim, out_dim, hidden, activation, pieces, slope, dropout, norm, output,
                 out_shape=None):
        super().__init__()
        self.body, d = mlp_body(in_dim, hidden, activation, pieces, dropout, norm, slope)
        self.out = nn.Linear(d, out_dim)
        self.output_act = {"none": nn.Identity(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[output]
        self.in_dim, self.out_dim = in_dim, out_dim
        self.out_shape = out_shape or (out_dim,)

    def forward(self, z: Tensor) -> Tensor:
        return self.output_act(self.out(self.body(z))).view(len(z), *self.out_shape)


class MLPDiscriminator(nn.Module):
    """x (n, in_dim) -> logit (n,): D(x) = sigmoid(logit)."""

    def __init__(self, in_dim, hidden, activation, pieces, slope, dropout, norm,
                 input_dropout, softmax2):
        super().__init__()
        self.body, d = mlp_body(in_dim, hidden, activation, pieces, dropout, norm, slope, input_dropout)
        self.softmax2 = softmax2
        self.head = nn.Linear(d, 2 if softmax2 else 1)
        self.in_dim, self.feature_dim = in_dim, d

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer (used by feature matching and diagnostics)."""
        return self.body(x.reshape(len(x), -1))

    def forward(self, x: Tensor) -> Tensor:
        out = self.head(self.features(x))
        if self.softmax2:  # softmax over 2 units: p(real) = sigmoid(a_real - a_fake)
            return out[:, 1] - out[:, 0]
        return out[:, 0]


# what reads and writes token sequences in their place (gankit list: the "(text data)" nets).
# The mlp nets do not refuse text themselves: the memory estimate builds the nets before the
# objective, whose own refusal of text (objective.no_text) says more; seqgan refuses them.
SEQUENCE_NETS = {"generator": "--set generator.name=seq",
                 "discriminator": "--set discriminator.name=cnn (SeqGAN) or lstm_step (ScratchGAN)"}


@GENERATORS.register("mlp", MLPGParams, "MLP generator: widths, activation, dropout, norm")
def mlp_generator(noise_dim, data, **kw):
    return MLPGenerator(noise_dim, math.prod(data.shape), out_shape=tuple(data.shape), **kw)


@DISCRIMINATORS.register("mlp", MLPDParams, "MLP discriminator (maxout, dropout, 2-way softmax)")
def mlp_discriminator(data, **kw):
    return MLPDiscriminator(math.prod(data.shape), **kw)
