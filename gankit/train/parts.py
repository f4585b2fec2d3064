"""Parts the model-family objectives share (VAE/AE, energy model, BiGAN, SS-GAN, InfoGAN).

Every net here is built from the run's configured discriminator or generator, so the MLP
and DCGAN building blocks (widths, norms, the resolution ladder) are reused, not copied:

- ``feature_body(ctx)``: the configured D without its one-logit read-out, exposing
  ``features(x)`` and ``feature_dim`` (an encoder's, a classifier's or Q's trunk);
- ``FeatureHead(body, out)``: that trunk plus a linear read-out to ``out`` numbers
  (an encoder x -> z, or a K-class classifier);
- ``JointD``: D on (x, z) pairs for BiGAN/ALI, x through the trunk, z through an MLP;
- ``GaussianCodes``: running mean and covariance of an auto-encoder's codes, so the
  AE samples by decoding draws of that Gaussian (checkpointed as buffers);
- ``add_layer_noise`` / ``weight_norm_init``: Salimans et al. (2016)'s D: Gaussian noise on
  every layer's input while training, weight normalisation initialised from data.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.config import ConfigError
from gankit.nets.mlp import mlp_body


def feature_body(ctx) -> nn.Module:
    """The run's discriminator as a trunk: its ``head`` replaced by nothing (no unused
    parameters), read through ``features``."""
    D = ctx.build_discriminator()
    if not hasattr(D, "features") or not hasattr(D, "feature_dim"):
        raise ConfigError(f"discriminator {type(D).__name__}: this objective reads D's features; "
                          "use an mlp or dcgan discriminator")
    if hasattr(D, "head"):
        D.head = nn.Identity()
    return D


class FeatureHead(nn.Module):
    """x -> Linear(features(x)): (n, out)."""

    def __init__(self, body: nn.Module, out: int):
        super().__init__()
        self.body = body
        self.head = nn.Linear(body.feature_dim, out)
        self.feature_dim = body.feature_dim

    def features(self, x: Tensor) -> Tensor:
        return self.body.features(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class JointD(nn.Module):
    """D(x, z) = w . [f(x), g(z)] + b: the BiGAN/ALI discriminator on (x, z) pairs."""

    def __init__(self, body: nn.Module, z_dim: int, hidden: list[int], dropout: float = 0.2):
        super().__init__()
        self.body = body
        self.z_net, dz = mlp_body(z_dim, hidden, "leakyrelu", 2, dropout, "none", 0.2)
        joint, dj = mlp_body(body.feature_dim + dz, hidden[-1:], "leakyrelu", 2, dropout, "none", 0.2)
        self.joint = nn.Sequential(joint, nn.Linear(dj, 1))

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.joint(torch.cat([self.body.features(x), self.z_net(z)], 1))[:, 0]


class GaussianCodes(nn.Module):
    """Exponential moving mean and covariance of codes; ``transform(eps)`` = mu + L eps
    with L L^T = the covariance: draws of the fitted Gaussian from standard normal eps."""

    def __init__(self, dim: int, decay: float = 0.99):
        super().__init__()
        self.decay = decay
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("second", torch.eye(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self._started: bool | None = None     # count > 0, kept on the host: None: read count once

    @torch.no_grad()
    def update(self, codes: Tensor):
        """One batch of codes; in a data-parallel run, the global batch (every rank's codes)."""
        from gankit.train.distributed import sum_over_ranks
        codes = codes.detach().float()
        d = codes.shape[1]
        sums = sum_over_ranks(torch.cat([codes.sum(0), (codes.T @ codes).flatten(), codes.new_tensor([len(codes)])]))
        m, s = sums[:d] / sums[-1], sums[d:-1].view(d, d) / sums[-1]
        if self._started is None:     # reading a GPU buffer waits for the GPU: once, not every step
            self._started = int(self.count) > 0
        a = self.decay if self._started else 0.0   # the first batch sets the statistics
        self.mean.mul_(a).add_((1 - a) * m)
        self.second.mul_(a).add_((1 - a) * s)
        self.count += 1
        self._started = True

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._started = None       # the loaded count decides, at the next update

    def _chol(self) -> Tensor:
        cov = self.second - torch.outer(self.mean, self.mean)
        cov = (cov + cov.T) / 2
        eye = torch.eye(len(cov), device=cov.device, dtype=cov.dtype)
        # E[cc^T] - mu mu^T loses ~1e-7 of the codes' squared size to float32 rounding, and with
        # fewer codes per batch than dimensions the covariance is singular: the jitter grows
        # (x10 from 1e-5) until the factor exists, instead of failing on codes larger than ~3
        scale = float(self.second.diagonal().abs().mean().clamp_min(1.0))
        jitter = 1e-5
        while True:
            L, info = torch.linalg.cholesky_ex(cov + jitter * eye)
            if int(info) == 0 or jitter > scale:
                break
            jitter *= 10
        if int(info) != 0:     # not finite, or no factor at any jitter: the diagonal alone
            return torch.diag(cov.diagonal().nan_to_num(1.0).clamp_min(1e-5).sqrt())
        return L

    def transform(self, eps: Tensor) -> Tensor:
        return self.mean + eps @ self._chol().T

    def inverse(self, codes: Tensor) -> Tensor:
        """eps with transform(eps) = codes: L^-1 (codes - mu)."""
        return torch.linalg.solve_triangular(self._chol(), (codes - self.mean).T, upper=False).T


def _layers(net: nn.Module) -> list[nn.Module]:
    """The linear and conv layers of a net, in the order they were built (= applied, for the
    sequential MLP and DCGAN trunks and a FeatureHead's read-out after its body)."""
    return [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def add_layer_noise(net: nn.Module, std: float, skip_first: bool = True) -> int:
    """Add N(0, std^2) noise to the input of every linear/conv layer of ``net`` while it is in
    training mode (a pre-hook: no parameters, checkpoints unchanged).  ``skip_first`` leaves
    the image itself to the objective's own input noise.  Returns the number of layers."""
    def hook(mod, inp):
        if mod.training:
            return (inp[0] + std * torch.randn_like(inp[0]),) + tuple(inp[1:])
        return None
    layers = _layers(net)[1 if skip_first else 0:]
    for m in layers:
        m.register_forward_pre_hook(hook)
    return len(layers)


@torch.no_grad()
def weight_norm_init(net: nn.Module, x: Tensor) -> None:
    """Weight-normalise every linear/conv layer (w = g v / ||v||) and set g and the bias so that
    each unit's pre-activation has mean 0 and variance 1 on the batch ``x`` (Salimans & Kingma
    2016's data-dependent initialisation; the net in eval mode, so no noise or dropout).
    ``x`` goes to the net's device: objectives build their nets on the CPU and the Run moves
    them afterwards."""
    from torch.nn.utils.parametrizations import weight_norm
    x = x.to(next(net.parameters()).device)
    layers = _layers(net)
    for m in layers:
        weight_norm(m, dim=0)

    def hook(mod, inp, out):
        dims = [0] + list(range(2, out.dim()))
        mean = out.mean(dims)
        # one value per unit (a linear layer fed one sample) has no spread: centre it, keep its scale
        std = out.std(dims) + 1e-6 if out.numel() > out.shape[1] else torch.ones_like(mean)
        shape = (-1,) + (1,) * (out.dim() - 2)
        g = mod.parametrizations.weight.original0
        g.div_(std.view(g.shape))
        if mod.bias is None:    # no bias to centre with: scale only
            mean = torch.zeros_like(mean)
        else:
            mod.bias.sub_(mean).div_(std)
        return (out - mean.view(shape)) / std.view(shape)
    modes = {m: m.training for m in net.modules()}
    net.eval()
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        net(x)
    finally:
        for h in handles:
            h.remove()
        for m, t in modes.items():
            m.train(t)


# the option that turns off the batch norm of each shipped net (BatchNorm1d: over features)
_BATCHNORM_OFF = {"DCGANGenerator": "generator.batchnorm=false", "MLPGenerator": "generator.norm=none",
                  "DCGANDiscriminator": "discriminator.norm=layer (or none)",
                  "MLPDiscriminator": "discriminator.norm=none"}


def refuse_batch_norm_on_one_sample(modules: dict[str, nn.Module], batch_size: int, who: str,
                                    extra: dict[str, str] | None = None, data_size: int | None = None,
                                    packed: dict[str, tuple[str, int]] | None = None) -> None:
    """Batch norm over features (BatchNorm1d) has no batch statistics for one sample, and torch
    stops mid-step with "Expected more than 1 value per channel"; say so before training.
    ``extra`` maps module names to the option that removes their own batch norm; with
    ``data_size`` 1 a larger batch is no way out, so it is not offered.  ``packed`` maps a
    module that sees ``m`` samples in each row (a PacGAN D) to (the option, m): it sees
    batch_size / m rows."""
    packed = {k: v for k, v in (packed or {}).items() if v[1] > 1}
    rows = {name: batch_size // packed[name][1] if name in packed else batch_size for name in modules}
    fixes, seen, short = [], set(), []
    for name, net in modules.items():
        if rows[name] > 1:
            continue
        found = False
        for sub in net.modules():
            fix = _BATCHNORM_OFF.get(type(sub).__name__)
            bns = [m for m in sub.modules() if isinstance(m, nn.BatchNorm1d)]
            if fix and bns:
                fixes.append(fix)
                seen.update(map(id, bns))
                found = True
        rest = [m for m in net.modules() if isinstance(m, nn.BatchNorm1d) and id(m) not in seen]
        if rest:
            fixes.append((extra or {}).get(name, f"a {name} without batch norm"))
            seen.update(map(id, rest))
            found = True
        if found:
            short.append(name)
    if not fixes:
        return
    off = ", ".join(dict.fromkeys(fixes))
    if all(rows[name] == batch_size for name in short):
        if data_size == 1:
            raise ConfigError(f"objective {who}: the data hold one sample, so batches hold one, but batch "
                              f"norm needs at least 2 samples per batch; turn the batch norm off: {off}")
        raise ConfigError(f"objective {who}: train.batch_size=1, but batch norm needs at least 2 samples "
                          f"per batch; use --set train.batch_size=2 (or more), or turn the batch norm off: {off}")
    name = next(n for n in short if n in packed)
    key, m = packed[name]
    # a packed module's rows hold m samples each: the batch must hold 2 m for 2 rows
    raise ConfigError(f"objective {who}: {name}'s batch of {rows[name]} (train.batch_size {batch_size} / "
                      f"{key} {m}), but batch norm needs at least 2 samples per batch; use --set "
                      f"train.batch_size={2 * m} (or more, a multiple of {m}), or turn the batch norm off: {off}")


def need_images_with_labels(ds, who: str):
    if getattr(ds, "labels", None) is None:
        from gankit.data.conditional import unlabelled     # why, in the user's terms: a 'label' column is a coordinate
        raise ConfigError(f"objective {who}: {unlabelled(ds)}; {who} takes labelled images: use mnist5k, "
                          "fashion-mnist, digits8x8 or an image folder with one sub-folder per class")
