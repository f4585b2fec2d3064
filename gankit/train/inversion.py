"""Latent inversion by optimisation, for any trained generator: z* = argmin_z ||m (G(z) - x)||^2.

Used three ways:
- reconstruction: how close G can get to held-out images (Borji's reconstruction error;
  the ``recon_error`` metric and ``gankit invert``);
- completion: p(x_S | x_S') by filling the masked part S of an image from G(z*) fitted
  to the rest (``gankit complete``);
- initialisation from a learned inference net where the objective has one (BiGAN's E,
  the VAE's posterior mean, the AE's encoder), else from draws of the prior fixed by (seed,
  the image's index, the start), so an image's fit does not depend on the images after it
  or the batch size; with ``restarts`` > 1 the best of several starts is kept per image.

G runs in eval mode (batch norm on its running statistics) and only z is optimised (Adam).
The objective is the MAP one of a Gaussian likelihood (each known pixel an observation of
G(z) with noise of variance prior / 2) under z's N(0, I) prior:

    sum over known pixels (G(z) - x)^2 + prior ||z||^2 / 2,

divided by the number of known pixels (the error Adam sees is per pixel, whatever the
size).  Each pixel adds to the data term, so the prior's pull stays small at any image
size: prior = 1e-3 is noise of std 0.022 in [-1, 1] (3 grey levels of 255), and an
identity G reproduces an image to a factor 1 / (1 + 5e-4) at any size (a prior added to
the per-pixel mean would pull harder the more pixels there are: 0.72 x at 16x16 RGB).
Where the run's z is U(-1, 1) (``noise.dist = "uniform"``) the prior is the box itself: z is
kept in [-1, 1] and only the squared error is minimised.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from gankit.config import ConfigError
from gankit.ops import sample_noise
from gankit.process_state import gradients_on


@dataclass
class Inversion:
    z: Tensor            # (n, noise_dim) the fitted codes
    recon: Tensor        # (n, ...) G(z)
    error: Tensor        # (n,) mean squared error per pixel over the known part (data units)


def invert(generate: Callable[[Tensor], Tensor], x: Tensor, z0: Tensor, steps: int = 300,
           lr: float = 0.05, mask: Tensor | None = None, prior: float = 1e-3,
           free: Tensor | None = None, box: bool = False) -> Inversion:
    """Fit z to x (where ``mask`` is 1, everywhere without a mask), starting at z0; ``prior``:
    the weight of ||z||^2 / 2 against the squared error summed over the known pixels (the
    module's docstring); ``free``: 1 where z is optimised (None: everywhere); ``box``: z's
    prior is U(-1, 1), so z stays in [-1, 1] (projected after each step; a G never saw codes
    outside it, and its outputs there would flatter the error) and no Gaussian term is added."""
    m = torch.ones_like(x[:1]) if mask is None else mask.to(x.dtype).expand_as(x[:1])
    known = m.flatten(1).sum().clamp_min(1.0)
    z = z0.detach().clone()
    if box:
        z.clamp_(-1, 1)
        prior = 0.0
    z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            err = (((generate(z) - x) * m) ** 2).flatten(1).sum(1) / known
            loss = err.sum() + prior * 0.5 * (z ** 2).sum() / known
            g, = torch.autograd.grad(loss, z)
            z.grad = g if free is None else g * free
            opt.step()
            if box:
                with torch.no_grad():
                    z.clamp_(-1, 1)
    with torch.no_grad():
        recon = generate(z)
        err = (((recon - x) * m) ** 2).flatten(1).sum(1) / known
    return Inversion(z.detach(), recon.detach(), err.detach())


@contextlib.contextmanager
def eval_mode(modules):
    was = {k: m.training for k, m in modules.items()}
    for m in modules.values():
        m.eval()
    try:
        yield
    finally:
        for k, m in modules.items():
            m.train(was[k])


def invertible(run) -> str | None:
    """Why the run's G cannot be inverted, or None when it can (gankit.metrics.run_parts says it:
    its checks refuse recon_error by the same words when the run is built)."""
    from gankit.metrics.run_parts import inversion_refused
    return inversion_refused(run.cfg.objective.name, getattr(run.objective, "has_latent", True), run.conditional)


def invert_run(run, x: Tensor, steps: int = 300, lr: float = 0.05, mask: Tensor | None = None,
               restarts: int = 1, batch: int = 500, seed: int = 0, use_encoder: bool = True,
               command: str = "invert") -> Inversion:
    """Invert the run's generator on images x (on the CPU, in the data's [-1, 1]); each of the
    ``restarts`` starts is tried in every form the objective gives (``inversion_starts``).
    ``command``: what the user ran, named in the errors (``api.NAME``: a program's call, whose
    advice is NAME's argument, not an option)."""
    def give(name: str, value) -> str:
        return f"{name}={value}" if command.startswith("api.") else f"--{name} {value}"
    why = invertible(run)
    if why:
        raise ConfigError(f"{command}: {why}")
    for name, value, want in (("steps", steps, "a whole number"), ("restarts", restarts, "a whole number"),
                              ("batch", batch, "a whole number"), ("seed", seed, "a whole number"),
                              ("lr", lr, "a number")):
        _check_type(command, give, name, value, want)
    if not 0 <= seed < 2 ** 64:     # torch's generator takes 64 bits; no negative seeds, as in sample
        raise ConfigError(f"{command}: seed={seed}; give a whole number in [0, 2^64 - 1] ({give('seed', 0)})")
    if restarts < 1:
        raise ConfigError(f"{command}: restarts={restarts}; give at least 1 start per image ({give('restarts', 1)})")
    if steps < 0:
        raise ConfigError(f"{command}: steps={steps}; give 0 (the start alone) or more Adam steps "
                          f"({give('steps', 300)})")
    if not 0 < lr < math.inf:
        raise ConfigError(f"{command}: lr={lr}; Adam's learning rate on z must be positive and finite "
                          f"({give('lr', 0.05)})")
    if batch < 1:
        raise ConfigError(f"{command}: batch={batch}; invert at least 1 image at a time")
    if len(x) == 0:
        raise ConfigError(f"{command}: no images given; give at least one")
    obj, dev, k = run.objective, run.device, run.cfg.noise.dim
    box = run.cfg.noise.dist == "uniform"
    encode = getattr(obj, "encode", None) if use_encoder else None
    out = []
    # z is fitted by gradients also under a caller's torch.no_grad or torch.inference_mode (the
    # recon_error metric runs inside an evaluation); images made under inference mode are copied
    # into ordinary tensors, which autograd may save
    with gradients_on(), eval_mode(run.modules):
        for i in range(0, len(x), batch):
            xb = _ordinary(x[i:i + batch].to(dev))
            mb = None if mask is None else _ordinary(mask.to(dev))
            best = None
            for r in range(restarts):
                if encode is not None and r == 0:
                    with torch.no_grad():
                        z0 = encode(xb if mb is None else xb * mb)
                else:
                    z0 = _prior_starts(range(i, i + len(xb)), r, k, run.cfg.noise.dist, int(seed)).to(dev)
                for start, free in obj.inversion_starts(z0):
                    inv = invert(obj.generate, xb, start, steps, lr, mb, free=free, box=box)
                    best = inv if best is None else _better(best, inv)
            out.append(Inversion(best.z.cpu(), best.recon.cpu(), best.error.cpu()))
    return Inversion(*(torch.cat([getattr(o, f) for o in out]) for f in ("z", "recon", "error")))


def _prior_starts(images: range, restart: int, dim: int, dist: str, seed: int) -> Tensor:
    """Start ``restart`` of each image drawn from a stream of its own, (seed, the image's index,
    restart): an image's start, and so its fit, is the same whatever images come after it and
    whatever the batch size (one draw of n rows gave row j other numbers for another n: torch's
    vectorised normal_).  Drawn on the CPU: the same start codes on any device."""
    import hashlib

    def stream(index: int) -> torch.Generator:
        digest = hashlib.sha256(f"gankit-invert/{seed}/{index}/{restart}".encode()).digest()
        return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
    return torch.cat([sample_noise(1, dim, dist, stream(j)) for j in images])


def _check_type(command: str, give, name: str, value, want: str):
    """``value`` a whole number (``want`` "a whole number") or any real number ("a number"); a
    bool is neither (True would be 1 step)."""
    import numbers
    kind = numbers.Integral if want == "a whole number" else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        default = {"steps": 300, "restarts": 1, "batch": 500, "seed": 0, "lr": 0.05}[name]
        raise ConfigError(f"{command}: {name}={value!r}; give {want} ({give(name, default)})")


def _ordinary(t: Tensor) -> Tensor:
    """``t``, or a copy of it outside inference mode where it was made inside (autograd refuses those)."""
    return t.clone() if t.is_inference() else t


def _better(best: Inversion, inv: Inversion) -> Inversion:
    """Per image, the inversion with the lower error (the earlier one on ties)."""
    better = inv.error < best.error
    return Inversion(torch.where(better[:, None], inv.z, best.z),
                     torch.where(better.view(-1, *[1] * (inv.recon.dim() - 1)), inv.recon, best.recon),
                     torch.minimum(inv.error, best.error))


def complete(run, x: Tensor, missing: Tensor, **kw) -> tuple[Tensor, Inversion]:
    """Fill the ``missing`` part (1 = missing, shape of one image or broadcastable) of
    images x from G(z) fitted to the rest; returns (completions, the inversion)."""
    known = 1.0 - missing.float()
    inv = invert_run(run, x, mask=known, **{"command": "complete", **kw})
    return x * known + inv.recon * (1 - known), inv


def run_inverter(run):
    """The EvalContext's ``invert(x) -> reconstructions`` for this run; for a run that cannot
    be inverted, one that says why (recon_error: an error when named, left out otherwise)."""
    why = invertible(run)
    if why:
        from gankit.metrics.base import NotForThisRun

        def refuse(x, **kw):
            raise NotForThisRun(why)
        # read by gankit.metrics' checks (api.evaluate): recon_error is refused before any work,
        # and not listed among the metrics that apply to this run
        refuse.refused = why
        return refuse
    return lambda x, **kw: invert_run(run, x, **kw)
