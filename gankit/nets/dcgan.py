"""DCGAN generator and discriminator (Radford et al. 2016), any resolution b * 2^L.

The DCGAN guidelines, as built here:
- no pooling: strided convolutions in D, fractionally-strided (transposed) ones in G;
- batch norm in both nets, but not on G's output layer nor on D's input layer
  (D's norm is an option: WGAN-GP asks for none or layer norm in the critic);
- no fully connected hidden layers: G projects z to a b x b map, D's last map is
  read out by one linear unit (``fc`` > 0 adds one of that many units, after G's input and
  before D's read-out, as in InfoGAN's and Improved GAN's MNIST nets);
- ReLU in G with tanh on the output; LeakyReLU(0.2) in D;
- weights ~ N(0, 0.02).

Resolution and channels come from the dataset (``data.shape``): 28 = 7 * 2^2,
32 = 4 * 2^3, 64 = 4 * 2^4, 8 = 4 * 2, 6 = 3 * 2 ...  ``width`` is the channel count of the
highest-resolution hidden layer; it doubles at each halving of the resolution.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.registry import DISCRIMINATORS, GENERATORS
from gankit.config import ConfigError, opt
from gankit.nets.mlp import SEQUENCE_NETS

D_NORMS = ["batch", "none", "layer", "instance"]


# the mlp nets take data of any shape
MLP_NETS = "--set generator.name=mlp --set discriminator.name=mlp"


def mlp_switch(who: str, images: bool, output: str = "tanh") -> str:
    """The settings that put the mlp nets in place of the DCGAN net that refused.  G is built
    first wherever both are, so D refuses only beside another G or none (the energy model):
    then D alone is switched, as a G setting would be unread there.  G keeps its own output: tanh
    for images in [-1, 1] (the mlp's default is none), none where G gives logits (the VAE's
    Bernoulli decoder), none for points."""
    if who == "discriminator":
        return "the mlp discriminator, which takes any shape: --set discriminator.name=mlp"
    tanh = " --set generator.output=tanh" if images and output == "tanh" else ""
    return f"the mlp nets, which take any shape: {MLP_NETS}{tanh}"


def _split(resolution: int) -> tuple[int, int]:
    """(b, L) halving while b stays even and above 7, and once at least where b is still even and
    its half is 3 or more (6 = 3 * 2); b may then be out of 3..7 (a refusal)."""
    r, levels = resolution, 0
    while r % 2 == 0 and r // 2 >= 3 and (r > 7 or levels == 0):
        r //= 2
        levels += 1
    return r, levels


def _ladder(resolution: int) -> bool:
    r, levels = _split(resolution)
    return levels >= 1 and 3 <= r <= 7


def _nearest(resolution: int) -> list[int]:
    """The nearest sizes DCGAN takes, the one below (if any) first."""
    below = [s for s in range(resolution - 1, 5, -1) if _ladder(s)][:1]
    above = [s for s in range(resolution + 1, 2 * resolution + 8) if _ladder(s)][:1]
    return below + above


def _resize_how(size: int, data=None) -> str:
    hint = getattr(data, "resize_hint", None)
    return (hint(size) if hint else
            f"--set data.resolution={size} where the dataset has that key (mnist, fashion-mnist, "
            f"mnist5k, digits8x8), --set data.size={size} --set data.resize=stretch for an image folder")


def base_and_levels(resolution: int, data=None, mlp: str | None = None) -> tuple[int, int]:
    """(b, L) with resolution = b * 2^L, b in 3..7 and L >= 1; ``mlp``: mlp_switch's words for the
    refusal."""
    r, levels = _split(resolution)
    if levels < 1 or not 3 <= r <= 7:
        near = _nearest(resolution)
        raise ConfigError(f"DCGAN: resolution {resolution} is not b * 2^L with b in 3..7 and L >= 1 "
                          f"(the nearest that are: {' and '.join(map(str, near))}); resize the data: "
                          f"{_resize_how(near[0], data)}; or use "
                          f"{mlp or mlp_switch('generator', True)}")
    return r, levels


def dcgan_init(m: nn.Module):
    """DCGAN's initialisation: conv weights ~ N(0, 0.02); norm scales ~ N(1, 0.02)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm, nn.InstanceNorm2d)) and m.weight is not None:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def _d_norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "layer":
        return nn.GroupNorm(1, ch)              # normalise over (C, H, W) of each sample
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=True)
    return nn.Identity()


def _d_norm_1d(kind: str, n: int) -> nn.Module:
    """D's norm for the fc layer's units; instance norm over one vector has nothing to normalise."""
    return {"batch": nn.BatchNorm1d(n), "layer": nn.LayerNorm(n)}.get(kind, nn.Identity())


class DCGANGenerator(nn.Module):
    """z (n, noise_dim) -> image (n, C, R, R) in [-1, 1] (tanh)."""

    def __init__(self, noise_dim: int, channels: int, resolution: int, width: int = 64,
                 batchnorm: bool = True, output: str = "tanh", fc: int = 0):
        super().__init__()
        b, levels = base_and_levels(resolution)
        ch = width * 2 ** (levels - 1)           # channels at the b x b map
        self.base, self.ch0 = b, ch
        self.fc = nn.Identity()
        if fc:                                   # z -> fc -> (BN) -> ReLU, then the projection
            self.fc = nn.Sequential(nn.Linear(noise_dim, fc, bias=not batchnorm),
                                    nn.BatchNorm1d(fc) if batchnorm else nn.Identity(), nn.ReLU(inplace=True))
        # project and reshape: one linear layer
        self.project = nn.Linear(fc or noise_dim, ch * b * b, bias=not batchnorm)
        self.bn0 = nn.BatchNorm1d(ch * b * b) if batchnorm else nn.Identity()
        layers: list[nn.Module] = []
        for i in range(levels - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=not batchnorm),
                       nn.BatchNorm2d(ch // 2) if batchnorm else nn.Identity(), nn.ReLU(inplace=True)]
            ch //= 2
        layers.append(nn.ConvTranspose2d(ch, channels, 4, 2, 1))   # no norm on the output layer
        self.body = nn.Sequential(*layers)
        self.out = {"tanh": nn.Tanh(), "none": nn.Identity()}[output]
        self.noise_dim, self.out_shape = noise_dim, (channels, resolution, resolution)
        self.apply(dcgan_init)

    def forward(self, z: Tensor) -> Tensor:
        h = torch.relu(self.bn0(self.project(self.fc(z)))).view(len(z), self.ch0, self.base, self.base)
        return self.out(self.body(h))


class DCGANDiscriminator(nn.Module):
    """image (n, C, R, R) -> logit (n,)."""

    def __init__(self, channels: int, resolution: int, width: int = 64, norm: str = "batch",
                 slope: float = 0.2, dropout: float = 0.0, fc: int = 0):
        super().__init__()
        b, levels = base_and_levels(resolution)
        layers: list[nn.Module] = []
        ch_in, ch = channels, width
        for i in range(levels):
            layers.append(nn.Conv2d(ch_in, ch, 4, 2, 1, bias=(i == 0 or norm == "none")))
            if i > 0:                              # no norm on D's input layer
                layers.append(_d_norm(norm, ch))
            layers.append(nn.LeakyReLU(slope, inplace=True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            ch_in, ch = ch, ch * 2
        layers.append(nn.Flatten())
        if fc:                                     # the last map -> fc units, normed like the convs
            fc_norm = _d_norm_1d(norm, fc)
            layers += [nn.Linear(ch_in * b * b, fc, bias=isinstance(fc_norm, nn.Identity)), fc_norm,
                       nn.LeakyReLU(slope, inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*layers)
        self.feature_dim = fc or ch_in * b * b
        self.head = nn.Linear(self.feature_dim, 1)
        self.in_shape = (channels, resolution, resolution)
        self.apply(dcgan_init)

    def features(self, x: Tensor) -> Tensor:
        """The last convolutional map, flattened, or the fc layer's units (feature matching,
        diagnostics, heads on D such as InfoGAN's Q)."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))[:, 0]


def _image_shape(data, who: str, output: str = "tanh") -> tuple[int, int]:
    shape = tuple(data.shape)
    if len(shape) != 3:
        # token ids: the mlp nets take them as numbers and fail in training, so name the sequence nets
        other = (f"text (token sequences) trains with objective.name=seqgan and a sequence {who}: "
                 f"{SEQUENCE_NETS[who]}" if getattr(data, "kind", None) == "text"
                 else f"for points use {mlp_switch(who, False)}")
        raise ConfigError(f"{who}: DCGAN needs square images (C, H, W); dataset gives samples of shape "
                          f"{shape}; {other}")
    mlp = mlp_switch(who, True, output)
    if shape[1] != shape[2]:
        # the long side (or the nearest size DCGAN takes): stretching keeps every row and column
        side = max(shape[1:])
        side = side if _ladder(side) else _nearest(side)[0]
        how = (f"stretch them to a square: {data.resize_hint(side)}; " if getattr(data, "resize_hint", None)
               else "")
        raise ConfigError(f"{who}: DCGAN needs square images (C, H, W); dataset gives samples of shape "
                          f"{shape}; {how}or use {mlp}")
    base_and_levels(shape[1], data, mlp)   # here the error can name the dataset's own resize option
    return shape[0], shape[1]


@dataclass
class DCGANGParams:
    width: int = opt(64, "channels of G's last hidden layer (doubling towards the input)", ge=1)
    batchnorm: bool = opt(True, "batch norm after every G layer but the output")
    output: str = opt("tanh", "activation of G's output (data are in [-1, 1])", choices=["tanh", "none"])
    fc: int = opt(0, "units of a fully connected layer between z and the projection (0: none; InfoGAN: 1024)", ge=0)


@dataclass
class DCGANDParams:
    width: int = opt(64, "channels of D's first layer (doubling at each stride)", ge=1)
    norm: str = opt("batch", "norm after each D conv but the first (WGAN-GP: none or layer)", choices=D_NORMS)
    slope: float = opt(0.2, "negative slope of the LeakyReLUs", ge=0)
    dropout: float = opt(0.0, "dropout after each D layer", ge=0, le=0.95)
    fc: int = opt(0, "units of a fully connected layer before the read-out (0: none; InfoGAN: 1024)", ge=0)


@GENERATORS.register("dcgan", DCGANGParams, "DCGAN generator: transposed convs, BN, ReLU, tanh")
def dcgan_generator(noise_dim, data, **kw):
    c, r = _image_shape(data, "generator", kw.get("output", "tanh"))
    return DCGANGenerator(noise_dim, c, r, **kw)


@DISCRIMINATORS.register("dcgan", DCGANDParams, "DCGAN discriminator: strided convs, LeakyReLU")
def dcgan_discriminator(data, **kw):
    c, r = _image_shape(data, "discriminator")
    return DCGANDiscriminator(c, r, **kw)
