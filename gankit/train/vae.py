"""Generator-only models: the variational auto-encoder and the plain auto-encoder.

VAE (Kingma & Welling 2014): an encoder q(z|x) = N(mu(x), diag exp(logvar(x))), the
configured generator as the decoder p(x|z), the prior p(z) = N(0, I); one phase maximises

    ELBO(x) = E_q log p(x|z) - KL(q(z|x) || p(z))   <= log p(x)

with z = mu + exp(logvar / 2) eps (reparameterisation, eps ~ N(0, I)) and the KL in
closed form.  The decoder is Gaussian, p(x|z) = N(G(z), sigma^2 I) with sigma learned
(one scalar) or fixed, or Bernoulli on pixels mapped to [0, 1] (G's output = logits; the
sample shown is the mean, 2 sigmoid(G(z)) - 1 in the data's [-1, 1]).  The ELBO (nats per
sample, in the data's units) and its two terms are logged.

AE: a deterministic encoder and the squared error.  It has no prior to sample from, so
it keeps the running mean and covariance of its codes and samples by decoding draws of
that Gaussian (the usual AE baseline in GAN comparisons).

The encoder is the configured discriminator's trunk with a linear read-out (MLP or DCGAN
shaped, like the decoder); ``optim_g`` trains encoder and decoder together.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import ConfigError, opt
from gankit.registry import GENERATORS, OBJECTIVES
from gankit.train.loop import Phase
from gankit.train.objective import Objective, ObjectiveContext, OptimizerSpec, no_d_steps, no_text, warn_unread
from gankit.train.parts import FeatureHead, GaussianCodes, feature_body

LOG_2PI = math.log(2 * math.pi)


# ------------------------------------------------------------------ the bound, as functions

def kl_to_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)) = 1/2 sum(mu^2 + e^logvar - 1 - logvar), per row."""
    return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)


def gaussian_log_lik(x: Tensor, mean: Tensor, log_sigma: Tensor) -> Tensor:
    """log N(x; mean, diag(sigma^2)) per sample (nats); ``log_sigma`` one scalar, or one per
    coordinate of a sample (a fixed sigma in data units, seen by standardised points)."""
    d = x[0].numel()
    r = ((x - mean) * torch.exp(-log_sigma)).flatten(1)
    total = d * log_sigma if log_sigma.ndim == 0 else log_sigma.expand(x.shape[1:]).sum()
    return -0.5 * (r ** 2).sum(1) - total - 0.5 * d * LOG_2PI


def bernoulli_log_lik(x: Tensor, logits: Tensor) -> Tensor:
    """log Bernoulli((x + 1) / 2; sigmoid(logits)) per sample: grey levels as soft targets."""
    t = (x + 1) / 2
    return -F.binary_cross_entropy_with_logits(logits, t, reduction="none").flatten(1).sum(1)


def elbo(x: Tensor, mu: Tensor, logvar: Tensor, decode: Callable[[Tensor], Tensor],
         log_lik: Callable[[Tensor, Tensor], Tensor], eps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(ELBO, E_q log p(x|z), KL) per sample, one reparameterised draw z = mu + sigma eps."""
    z = mu + torch.exp(0.5 * logvar) * eps
    rec = log_lik(x, decode(z))
    kl = kl_to_standard_normal(mu, logvar)
    return rec - kl, rec, kl


# ------------------------------------------------------------------ the objectives

SIGMA_SWITCHED = ("objective.sigma cannot switch between learned (0) and fixed (> 0) on --resume: drop it, "
                  "or train a new run (--out NEW)")


class LogSigma(nn.Module):
    """The Gaussian decoder's log sigma: one learned scalar, or a fixed one that the config
    gives (not the checkpoint: objective.sigma changed on --resume holds)."""

    def __init__(self, sigma: float):
        super().__init__()
        if sigma > 0:
            self.register_buffer("value", torch.tensor(math.log(sigma)), persistent=False)
        else:
            self.value = nn.Parameter(torch.zeros(()))

    def _load_from_state_dict(self, state_dict, prefix, *args):
        if not isinstance(self.value, nn.Parameter):    # checkpoints before it was left out hold it
            state_dict = {k: v for k, v in state_dict.items() if k != prefix + "value"}
        elif prefix + "value" not in state_dict:
            # a fixed sigma's checkpoint (it holds none): torch's words would be a missing key.  The
            # other way (learned -> fixed) is not told apart from an older fixed checkpoint here; the
            # optimizer's state refuses it, naming objective.sigma among the options changed
            raise ConfigError(SIGMA_SWITCHED)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def forward(self) -> Tensor:
        return self.value


def refuse_decoder_data(cfg, dataset, decoder: str | None = None):
    """The Bernoulli decoder's needs: pixels, and G's output as logits.  On points the image-only
    nets (dcgan) refuse too, so the one message names every fix (the objective's own check; also
    fit to run before any net is built, ``vae_objective.refuse_data``).  ``decoder``: the config's
    objective.decoder where not given."""
    if (decoder or (cfg.objective.params or {}).get("decoder", "gaussian")) != "bernoulli":
        return
    if getattr(dataset, "kind", None) != "image":
        sets = ["--set objective.decoder=gaussian"] + [
            f"--set {part}.name=mlp" for part in ("generator", "discriminator") if getattr(cfg, part).name == "dcgan"]
        nets = (" (and the dcgan nets take images)", " and the mlp nets") if len(sets) > 1 else ("", "")
        raise ConfigError(f"objective.decoder=bernoulli models pixels{nets[0]}; use gaussian{nets[1]} for "
                          f"{getattr(dataset, 'kind', 'these')} data: {' '.join(sets)}")
    out = GENERATORS.params_of(cfg.generator.name, cfg.generator.params, "generator")
    if getattr(out, "output", "none") != "none":
        raise ConfigError("objective.decoder=bernoulli: G's output must be logits; set generator.output=none")


def _unconditional_normal(cfg, who: str):
    if cfg.condition.kind != "none":
        raise ConfigError(f"objective {who}: conditional runs are not supported; set condition.kind=none")
    if cfg.noise.dist != "normal":
        raise ConfigError(f"objective {who}: the prior is N(0, I); set noise.dist=normal")


class AutoEncoderObjective(Objective):
    nan_hint = ("Try a lower learning rate (--set optim_g.lr=...) or a larger fixed sigma of the Gaussian "
                "decoder (--set objective.sigma=...; 0 learns it).")

    def __init__(self, ctx: ObjectiveContext, variational: bool, decoder: str, sigma: float,
                 beta: float, code_decay: float):
        super().__init__()
        cfg = ctx.cfg
        who = "vae" if variational else "ae"
        if not (variational and decoder == "gaussian"):     # only that decoder has a sigma to set
            self.nan_hint = "Try a lower learning rate (--set optim_g.lr=...)."
        no_text(ctx.dataset, who)
        _unconditional_normal(cfg, who)
        no_d_steps(cfg, who)
        warn_unread(self, cfg, who, auto_encoder_unread(cfg))
        self.ctx, self.variational, self.decoder, self.beta = ctx, variational, decoder, beta
        self.m, k = cfg.train.batch_size, cfg.noise.dim
        if variational:
            refuse_decoder_data(cfg, ctx.dataset, decoder)
        self.G = ctx.build_net("generators", cfg.generator, noise_dim=k)
        self.E = FeatureHead(feature_body(ctx), 2 * k if variational else k)
        self.modules = {"G": self.G, "E": self.E}
        names = ["G", "E"]
        if variational and decoder == "gaussian":
            self.S = self.modules["S"] = LogSigma(sigma)
            names.append("S")
        if not variational:
            self.codes = self.modules["codes"] = GaussianCodes(k, code_decay)
            self.heldout_elbo = None      # no posterior, no prior: no bound for the elbo metric to read
        self.optimizers = {"g": OptimizerSpec(names, cfg.optim_g)}

    def _log_lik(self, x: Tensor, out: Tensor) -> Tensor:
        if self.decoder == "bernoulli":
            return bernoulli_log_lik(x, out)
        return gaussian_log_lik(x, out, self._log_sigma())

    def _log_sigma(self) -> Tensor:
        """The decoder's log sigma as the nets see the data: a fixed ``objective.sigma`` is in the
        data's units, so standardised points see log sigma - log scale (per coordinate); a learned
        one is learned where the nets are."""
        s = self.S()
        scale = self.ctx.data_scale() if not isinstance(self.S.value, nn.Parameter) else None
        return s if scale is None else s - scale.to(s).log()

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.E(x).chunk(2, 1)
        return mu, logvar.clamp(-12.0, 8.0)      # keeps exp(logvar) finite early in training

    def code(self, x: Tensor) -> Tensor:
        """The code of x: the posterior mean (VAE) or the encoder's output (AE)."""
        return self.posterior(x)[0] if self.variational else self.E(x)

    def encode(self, x: Tensor) -> Tensor:
        """The noise z with generate(z) ~ x (inversion's start): the code, mapped back through
        the AE's fitted Gaussian."""
        return self.code(x) if self.variational else self.codes.inverse(self.E(x))

    @torch.no_grad()
    def measured_codes(self, x: Tensor) -> Tensor:
        """``code`` of samples x (data units) on the CPU, in eval mode: the code_nn metric's features."""
        from gankit.train.inversion import eval_mode
        with eval_mode(self.modules):
            return self.code(self.ctx.to_model(x.to(self.ctx.device))).float().cpu()

    @torch.no_grad()
    def heldout_elbo(self, x: Tensor, generator: torch.Generator, draws: int = 1) -> tuple[Tensor, Tensor, Tensor]:
        """Per sample of x (data units): (ELBO, E_q log p(x|z), KL), nats in the data's units as
        training logs them (with beta = 1: the bound itself), in eval mode; E_q is the mean over
        ``draws`` reparameterised draws of eps from ``generator`` (CPU: the same numbers on any
        device).  On the CPU."""
        from gankit.train.inversion import eval_mode
        with eval_mode(self.modules):
            xm = self.ctx.to_model(x.to(self.ctx.device))
            mu, logvar = self.posterior(xm)
            rec = sum(self._log_lik(xm, self.G(mu + torch.exp(0.5 * logvar) * torch.randn(
                mu.shape, generator=generator).to(mu))) for _ in range(draws)) / draws
            kl = kl_to_standard_normal(mu, logvar)
        ls = self.ctx.data_log_scale()
        return (rec - kl - ls).double().cpu(), (rec - ls).double().cpu(), kl.double().cpu()

    def setup(self, optimizers):
        def vae_step(c):
            x = self.ctx.sample_batch(self.m).x
            mu, logvar = self.posterior(x)
            bound, rec, kl = elbo(x, mu, logvar, self.G, self._log_lik, torch.randn_like(mu))
            loss = -(rec - self.beta * kl).mean() / x[0].numel()    # per dimension: lr-friendly
            logs = {}
            if c.logging:   # in the data's units: densities of standardised points differ by the scale
                ls = self.ctx.data_log_scale()
                logs = {"elbo": bound.mean().detach() - ls, "recon_ll": rec.mean().detach() - ls,
                        "kl": kl.mean().detach()}
                if self.decoder == "gaussian":   # per_dim scales: their geometric mean
                    logs["sigma"] = (self._log_sigma().mean() + ls / x[0].numel()).exp().detach()
            return loss, logs

        def ae_step(c):
            x = self.ctx.sample_batch(self.m).x
            code = self.E(x)
            self.codes.update(code)
            err = self.G(code) - x
            mse = (err ** 2).flatten(1).sum(1).mean()
            logs = {}
            if c.logging:   # in the data's units, as the VAE's numbers
                scale = self.ctx.data_scale()
                logs = {"recon_sq_error": mse.detach() if scale is None else
                        ((err.detach() * scale.to(err)) ** 2).flatten(1).sum(1).mean()}
            return mse / x[0].numel(), logs
        self.phases = [Phase("g", optimizers["g"], vae_step if self.variational else ae_step)]

    def generate(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """Decoded prior draws: the decoder's mean (VAE); decoded draws of the codes' Gaussian (AE)."""
        if not self.variational:
            z = self.codes.transform(z)
        out = self.G(z)
        return torch.tanh(out / 2) if self.decoder == "bernoulli" else out  # 2 sigmoid(l) - 1


@dataclass
class VAEParams:
    decoder: str = opt("gaussian", "p(x|z): gaussian N(G(z), sigma^2 I), or bernoulli on pixels in "
                                   "[0, 1] (G's output = logits: generator.output=none)",
                       choices=["gaussian", "bernoulli"])
    sigma: float = opt(0.0, "the Gaussian decoder's fixed std, in the data's units (0: learned, one scalar)",
                       ge=0.0)
    beta: float = opt(1.0, "weight of the KL term (1: the ELBO; beta-VAE otherwise)", ge=0.0)


@dataclass
class AEParams:
    code_decay: float = opt(0.99, "decay of the running mean/covariance of the codes that samples "
                                  "are drawn from", ge=0.0, le=0.999)


def auto_encoder_unread(cfg) -> dict[str, str]:
    """The config sections the auto-encoders never read, and what they do instead (the training
    start's warning, the report's facts: ``objective.unread``)."""
    return {"loss": "it has no D: it trains by its reconstruction loss",
            "optim_d": "its encoder and decoder train with optim_g"}


@OBJECTIVES.register("vae", VAEParams, "variational auto-encoder: encoder q(z|x), decoder G, ELBO")
def vae_objective(ctx: ObjectiveContext, **kw) -> AutoEncoderObjective:
    return AutoEncoderObjective(ctx, True, kw["decoder"], kw["sigma"], kw["beta"], 0.99)


vae_objective.refuse_data = refuse_decoder_data   # (cfg, dataset): its refusals of the data, before nets exist
vae_objective.unread = auto_encoder_unread


@OBJECTIVES.register("ae", AEParams, "auto-encoder; samples decode a Gaussian fitted to the codes")
def ae_objective(ctx: ObjectiveContext, **kw) -> AutoEncoderObjective:
    return AutoEncoderObjective(ctx, False, "gaussian", 1.0, 0.0, kw["code_decay"])


ae_objective.unread = auto_encoder_unread
