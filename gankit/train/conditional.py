"""Conditional GANs: wrap G and D, bind each batch's condition, add the D/G terms.

- The matching-aware D (Reed et al. 2016): real x with a *wrong* condition is
  scored as fake, weight ``condition.mismatch_weight``, so G cannot ignore c.
- AC-GAN (Odena et al. 2017): D also classifies; D learns the class of real x and
  of G(z, c) (weight ``condition.aux_weight``), G is rewarded for being classified as c.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.config import ConfigError
from gankit.nets.conditional import CondDiscriminator, CondGenerator, ConditionEncoder, Conditioner


def noise_dim_for(cfg) -> int:
    """G's input size: z, plus e(c) when G conditions by concatenation."""
    c = cfg.condition
    return cfg.noise.dim + (c.embed_dim if c.kind != "none" and c.g_mode == "concat" else 0)


def wrap_nets(cfg, data, G, D):
    """Conditional wrappers around the plain nets (unchanged when unconditional)."""
    c = cfg.condition
    if c.kind == "none":
        return G, D, None
    cond = Conditioner()
    enc = lambda: ConditionEncoder(c.kind, data.n_conditions, c.embed_dim, c.text_encoder)  # noqa: E731
    feature_dim = getattr(D, "feature_dim", None)
    if feature_dim is None:
        raise ConfigError(f"condition: the discriminator {type(D).__name__} exposes no feature_dim")
    if c.d_mode == "acgan" and c.kind != "label":
        raise ConfigError("condition.d_mode = 'acgan' classifies labels: use condition.kind = 'label'")
    try:
        Gc = CondGenerator(G, enc(), cond, c.g_mode)
        Dc = CondDiscriminator(D, enc(), cond, c.d_mode, data.n_classes, feature_dim)
    except ValueError as e:
        raise ConfigError(f"condition: {e}") from None
    return Gc, Dc, cond


def attach_terms(run, objective):
    """Adds the matching-aware and AC-GAN terms to a GAN objective's penalty lists."""
    c = run.cfg.condition
    if c.kind == "none":
        return
    if getattr(objective, "pack", 1) > 1:
        raise ConfigError("objective.pack > 1 cannot be combined with a condition (a packed D "
                          "scores several samples with different conditions); set one of them off")
    loss = run.loss

    def fake_half(logits):
        # the D loss's term for "judged fake": d_loss(ref, l) has the fake half's gradient in l
        # when ref is a constant (every loss here is a sum of a real and a fake term)
        return loss.d_loss(torch.zeros_like(logits), logits)

    # mismatched pairs only mean something to a D whose realism score sees c
    if c.mismatch_weight > 0 and c.d_mode in ("concat", "projection"):
        def mismatch(D, real, fake, step):
            wrong = run.dataset.mismatched(run.cond_y, run.cond_gen).to(real.device)
            return c.mismatch_weight * fake_half(D(real, wrong))
        mismatch.log_as = "mismatch"
        objective.d_penalties.append(mismatch)
    if c.d_mode == "acgan":
        def aux_d(D, real, fake, step):
            y = run.cond_y.to(real.device)
            return c.aux_weight * (F.cross_entropy(D.class_logits(real), y)
                                   + F.cross_entropy(D.class_logits(fake), y))

        def aux_g(D, real, fake, step):
            return c.aux_weight * F.cross_entropy(D.class_logits(fake), run.cond_y.to(fake.device))
        aux_d.log_as, aux_g.log_as = "aux_d", "aux_g"
        objective.d_penalties.append(aux_d)
        objective.g_penalties.append(aux_g)
